import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_LOG_ENTRIES, MAX_LOG_FLUSHES, MAX_LOG_MESSAGE_CHARS } from "../../schemas/limits";
import type { StreamEvent } from "../../schemas/stream";
import { ExecutionEvents, registerExecution } from "../../worker/execution/execution-events";
import { execute, BASE } from "../helpers";
import { postEvents, sseReader } from "./stream-helpers";

type LogsStub = { append(firstSeq: unknown, entries: unknown): Promise<unknown> };
const logsStub = (executionId: string) =>
  (exports as unknown as { LogsCapability(options: { props: { executionId: string } }): LogsStub }).LogsCapability({ props: { executionId } });
const entry = (message: string) => ({ level: "log", message, timestamp: new Date().toISOString() });
/** A batch as the child sends it: the JSON text of its entries. */
const batch = (...entries: unknown[]) => JSON.stringify(entries);

describe("the log channel", () => {
  it("keeps the harness's own timeout when the code clears every timer id, with the logs made before", async () => {
    // Timer ids are small integers: clearing them all used to cancel the harness's timeout, so a promise that never
    // settles left only the parent's backstop to end the run. The global clear functions now skip that one timer.
    const code = `for (let id = 0; id < 10_000; id++) { clearTimeout(id); clearInterval(id); }
      console.log("before the hang");
      let fired = false;
      clearTimeout(setTimeout(() => { fired = true; }, 10));
      await new Promise((resolve) => setTimeout(resolve, 50));
      console.log("own timers still clear: " + !fired);
      await new Promise(() => {});`;
    const result = await execute({ code, config: { timeout: 300 } });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(result.error?.message).toMatch(/exceeded the timeout of 300 ms$/);
    expect(result.logs.map((l) => l.message)).toEqual(["before the hang", "own timers still clear: true"]);
  });

  it("re-checks what a child sends: shapes, message size, entry count, duplicates and gaps", async () => {
    const executionId = crypto.randomUUID();
    const seen: StreamEvent[] = [];
    const events = new ExecutionEvents({ onEvent: (event) => seen.push(event) });
    const unregister = registerExecution(executionId, events);
    const stub = logsStub(executionId);
    try {
      expect(await stub.append(0, batch(entry("a"), entry("b")))).toBe("held");
      await stub.append(1, batch(entry("b again"), entry("c"))); // overlaps: only "c" is new
      await stub.append(10, batch(entry("after a gap"))); // ignored: the reply fills gaps
      await stub.append(3, batch({ level: "shout", message: "x", timestamp: "now" }, "not an entry", entry("x".repeat(MAX_LOG_MESSAGE_CHARS * 3))));
      await stub.append(-1, batch(entry("negative")));
      await stub.append("0", batch(entry("string seq")));
      expect(await stub.append(6, "[not json")).toBe("refused");
      expect(await stub.append(6, [entry("an array, not text")])).toBe("refused");
      await stub.append(6, JSON.stringify({ not: "an array" }));
      const flood = Array.from({ length: MAX_LOG_ENTRIES + 50 }, (_, i) => entry(`flood ${i}`));
      await stub.append(6, batch(...flood));
    } finally {
      unregister();
    }
    const logs = events.closeLogs();
    expect(logs.slice(0, 3).map((l) => l.message)).toEqual(["a", "b", "c"]);
    expect(logs[3]?.message.length).toBeLessThan(MAX_LOG_MESSAGE_CHARS + 100);
    expect(logs[3]?.message).toContain("[message truncated");
    expect(logs.length).toBe(MAX_LOG_ENTRIES + 2);
    expect(logs.at(-1)).toMatchObject({ level: "warn", message: expect.stringMatching(/^\[code-exec\] \d+ more log entries dropped/) });
    expect(await logsStub(executionId).append(0, batch(entry("late")))).toBe("refused");
  });

  it("refuses batches past MAX_LOG_FLUSHES from a child that is not our harness", async () => {
    const executionId = crypto.randomUUID();
    const events = new ExecutionEvents();
    const unregister = registerExecution(executionId, events);
    const stub = logsStub(executionId);
    try {
      for (let i = 0; i < MAX_LOG_FLUSHES; i++) expect(await stub.append(i, batch(entry(`b${i}`)))).toBe("held");
      expect(await stub.append(MAX_LOG_FLUSHES, batch(entry("one too many")))).toBe("refused");
    } finally {
      unregister();
    }
    expect(events.closeLogs()).toHaveLength(MAX_LOG_FLUSHES);
  });

  it("still streams a log while the run goes on when the code patches the intrinsics the channel uses", async () => {
    // The channel builds no arrays, reaches the timers through primordials.js and receives its answer as a string,
    // so neither patched intrinsics nor an Object.prototype.then that answers "cancelled" reach it.
    // The run never ends by itself, so the log can only come from a batch.
    const code = `
      const wait = setTimeout;
      Array.prototype.splice = function () { return []; };
      Array.prototype.push = function () { return 0; };
      Promise.prototype.then = function () { return this; };
      globalThis.setTimeout = () => 0;
      globalThis.clearTimeout = () => {};
      Object.defineProperty(Object.prototype, "then", { get() { return (resolve) => resolve("cancelled"); }, configurable: true });
      console.log("patched");
      for (;;) await new Promise((resolve) => wait(resolve, 10));`;
    const response = await postEvents({ code, config: { timeout: 20_000 } });
    const reader = sseReader(response.body!);
    expect((await reader.next())?.event).toBe("start");
    const log = await reader.next();
    expect(log?.event).toBe("log");
    expect(JSON.parse(log?.data ?? "{}")).toMatchObject({ message: "patched" });
    await reader.cancel();
  });

  it("refuses a stub without props", async () => {
    const stub = (exports as unknown as { LogsCapability(options: { props: unknown }): LogsStub }).LogsCapability({ props: {} });
    expect(await stub.append(0, batch(entry("x")))).toBe("refused");
  });

  it("gives the same logs, in order, whether entries left in batches or with the reply", async () => {
    const code = `for (let i = 0; i < 30; i++) { console.log("n", i); if (i % 7 === 0) await new Promise((r) => setTimeout(r, 25)); } return "ok"`;
    const result = await execute({ code });
    expect(result.logs.map((l) => l.message)).toEqual(Array.from({ length: 30 }, (_, i) => `n ${i}`));
  });

  it("lists cancelled executions under the status=cancelled filter", async () => {
    const response = await exports.default.fetch(`${BASE}/executions?status=cancelled&limit=100`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { executions: { status: string }[] };
    expect(body.executions.every((e) => e.status === "cancelled")).toBe(true);
  });
});
