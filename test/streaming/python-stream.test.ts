import { describe, expect, it } from "vitest";
import type { ExecutionResult } from "../../schemas/result";
import { allFrames, asEvents, hangUpAfterFirstLog, postEvents } from "./stream-helpers";

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
    const events = asEvents(await allFrames(await postEvents({ code, language: "python", config: { timeout: 1_000 } })));
    const result = events.at(-1)?.data as ExecutionResult;
    expect(result).toMatchObject({ status: "timeout", error: { code: "TIMEOUT" } });
    const logs = events.filter((e) => e.type === "log").map((e) => e.data);
    expect(logs.length).toBeGreaterThan(1);
    expect(result.logs).toEqual(logs);
    expect(result.logs.map((l) => l.message)).toEqual(result.logs.map((_, i) => `tick ${i}`));
  });
});
