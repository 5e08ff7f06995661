import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionResult } from "../../schemas/result";
import type { StreamEvent } from "../../schemas/stream";
import { rpc } from "../helpers";
import { comparable, settledRecord } from "./stream-helpers";

/** Through examples/caller-worker's POST /stream: a separate Worker reading executeStream() over a service binding. */
async function streamViaCaller(code: string, cancelAfterLogs?: number): Promise<{ events: StreamEvent[] }> {
  const response = await (env as unknown as { CALLER: Fetcher }).CALLER.fetch("http://caller/stream", {
    method: "POST",
    body: JSON.stringify({ code, cancelAfterLogs }),
  });
  if (response.status !== 200) throw new Error(`caller answered ${response.status}: ${await response.text()}`);
  return response.json();
}

describe("RPC executeStream()", () => {
  it("streams start, logs and the result as JSON lines, the result equal to executeCode()'s", async () => {
    const code = `console.log("one"); await new Promise((r) => setTimeout(r, 40)); console.log("two"); return [1, 2]`;
    const { events } = await streamViaCaller(code);
    expect(events.map((e) => e.type)).toEqual(["start", "log", "log", "result"]);
    expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    const result = events[3]?.data as ExecutionResult;
    expect(events[0]?.data).toEqual({ executionId: result.executionId, language: "javascript" });
    const plain = await rpc("executeCode", code, "javascript", {}, { timeout: 20_000 });
    expect(comparable(result)).toEqual(comparable(plain.result!));
  });

  it("cancels the run when the caller calls cancel(), and ends the stream with the cancelled result", async () => {
    const code = `console.log("tick"); for (;;) { await new Promise((r) => setTimeout(r, 10)); }`;
    const { events } = await streamViaCaller(code, 1);
    expect(events.map((e) => e.type)).toEqual(["start", "log", "result"]);
    const result = events[2]?.data as ExecutionResult;
    expect(result).toMatchObject({ status: "cancelled", error: { code: "CANCELLED" }, logs: [{ message: "tick" }] });
    const record = await settledRecord(result.executionId);
    expect(record).toMatchObject({ status: "cancelled", errorCode: "CANCELLED", caller: { kind: "rpc" } });
    expect(record.logs.map((l) => l.message)).toEqual(["tick"]);
  });

  it("throws request errors before any stream, like executeCode()", async () => {
    const answer = await rpc("executeStream", "");
    expect(answer).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^VALIDATION_ERROR: /) } });
  });
});
