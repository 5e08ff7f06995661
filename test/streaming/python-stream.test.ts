import { describe, expect, it } from "vitest";
import { expectTicksKeptOnTimeout, hangUpAfterFirstLog } from "./stream-helpers";

// Python's print() and logging take the JavaScript harness's log channel (sandbox-template/log-channel.js), so
// its output streams as it is made and a cancel stops it, the same as JavaScript's console.

describe("Python over the stream", () => {
  it("streams a print while the run is still going, and closing the stream cancels it", async () => {
    // Without the cancel this would run to its 20 s timeout: the log arriving first proves it streamed.
    const code = 'import asyncio\nprint("started")\nwhile True:\n    await asyncio.sleep(0.01)';
    const { start, log, record } = await hangUpAfterFirstLog({ code, language: "python", config: { timeout: 20_000 } });
    expect(start.language).toBe("python");
    expect(log).toMatchObject({ event: "log", id: "2" });
    expect(JSON.parse(log?.data ?? "{}")).toMatchObject({ level: "log", message: "started" });
    expect(record).toMatchObject({ status: "cancelled", success: false, errorCode: "CANCELLED", language: "python" });
    expect(record.logs.map((l) => l.message)).toEqual(["started"]);
    expect(record.durationMs).toBeLessThan(20_000);
  });

  it("keeps what it printed when the run times out, and the streamed logs are the result's", async () => {
    const code = 'import asyncio\ni = 0\nwhile True:\n    print("tick", i)\n    i += 1\n    await asyncio.sleep(0.03)';
    await expectTicksKeptOnTimeout({ code, language: "python", config: { timeout: 1_000 } });
  });
});
