import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_LOG_ENTRIES, MAX_LOG_FLUSHES, MAX_LOG_MESSAGE_CHARS } from "../../schemas/limits";
import type { StreamEvent } from "../../schemas/stream";
import { ExecutionEvents, registerExecution } from "../../worker/execution/execution-events";
import { runInSandbox } from "../../worker/execution/sandbox";
import { execute, BASE } from "../helpers";
import { postEvents, sseReader } from "./stream-helpers";

const loader = (env as unknown as Env).LOADER;
type LogsStub = { append(firstSeq: unknown, entries: unknown): Promise<unknown> };
const logsStub = (executionId: string) =>
  (exports as unknown as { LogsCapability(options: { props: { executionId: string } }): LogsStub }).LogsCapability({ props: { executionId } });
const entry = (message: string) => ({ level: "log", message, timestamp: new Date().toISOString() });

describe("the log channel", () => {
  it("keeps the logs a child sent before it ended without a reply", async () => {
    const executionId = crypto.randomUUID();
    const events = new ExecutionEvents();
    const unregister = registerExecution(executionId, events);
    // A user module the validator would never let through: its top level runs before the harness's and drops
    // long timers (the harness's timeout among them), so after logging it waits forever and only the parent's
    // backstop ends the wait (locally, workerd sees the hang first and fails the call). The log channel's short
    // timer still runs, so its batch leaves first.
    const moduleCode = `const realSetTimeout = setTimeout;
    globalThis.setTimeout = (fn, ms, ...rest) => (ms >= 100 ? 0 : realSetTimeout(fn, ms, ...rest));
    export default () => async () => {
      console.log("before the hang");
      await new Promise(() => {});
    };`;
    try {
      const outcome = await runInSandbox(loader, { moduleCode, childEnv: { LOGS: logsStub(executionId) }, contextJson: "{}", timeoutMs: 100, captureLogs: true });
      expect(["unresponsive", "failed"]).toContain(outcome.kind);
    } finally {
      unregister();
    }
    expect(events.closeLogs().map((l) => l.message)).toEqual(["before the hang"]);
  });

  it("re-checks what a child sends: shapes, message size, entry count, duplicates and gaps", async () => {
    const executionId = crypto.randomUUID();
    const seen: StreamEvent[] = [];
    const events = new ExecutionEvents({ onEvent: (event) => seen.push(event) });
    const unregister = registerExecution(executionId, events);
    const stub = logsStub(executionId);
    try {
      expect(await stub.append(0, [entry("a"), entry("b")])).toEqual({ ok: true, value: { held: true, cancelled: false } });
      await stub.append(1, [entry("b again"), entry("c")]); // overlaps: only "c" is new
      await stub.append(10, [entry("after a gap")]); // ignored: the reply fills gaps
      await stub.append(3, [{ level: "shout", message: "x", timestamp: "now" }, "not an entry", entry("x".repeat(MAX_LOG_MESSAGE_CHARS * 3))]);
      await stub.append(-1, [entry("negative")]);
      await stub.append("0", [entry("string seq")]);
      await stub.append(6, "not an array");
      const flood = Array.from({ length: MAX_LOG_ENTRIES + 50 }, (_, i) => entry(`flood ${i}`));
      await stub.append(6, flood);
    } finally {
      unregister();
    }
    const logs = events.closeLogs();
    expect(logs.slice(0, 3).map((l) => l.message)).toEqual(["a", "b", "c"]);
    expect(logs[3]?.message.length).toBeLessThan(MAX_LOG_MESSAGE_CHARS + 100);
    expect(logs[3]?.message).toContain("[message truncated");
    expect(logs.length).toBe(MAX_LOG_ENTRIES + 2);
    expect(logs.at(-1)).toMatchObject({ level: "warn", message: expect.stringMatching(/^\[code-exec\] \d+ more log entries dropped/) });
    expect(await logsStub(executionId).append(0, [entry("late")])).toEqual({ ok: true, value: { held: false, cancelled: false } });
  });

  it("refuses batches past MAX_LOG_FLUSHES from a child that is not our harness", async () => {
    const executionId = crypto.randomUUID();
    const events = new ExecutionEvents();
    const unregister = registerExecution(executionId, events);
    const stub = logsStub(executionId);
    try {
      for (let i = 0; i < MAX_LOG_FLUSHES; i++) expect(await stub.append(i, [entry(`b${i}`)])).toMatchObject({ value: { held: true } });
      expect(await stub.append(MAX_LOG_FLUSHES, [entry("one too many")])).toMatchObject({ value: { held: false } });
    } finally {
      unregister();
    }
    expect(events.closeLogs()).toHaveLength(MAX_LOG_FLUSHES);
  });

  it("still streams a log while the run goes on when the code patches the intrinsics the channel uses", async () => {
    // The channel captured splice, the timers and Promise.prototype.then before any user code existed. (push is
    // left alone here: today's encode.js formats messages with it, which the harness's primordials rewrite fixes.)
    // The run never ends by itself, so the log can only come from a batch.
    const code = `
      const wait = setTimeout;
      Array.prototype.splice = function () { return []; };
      Promise.prototype.then = function () { return this; };
      globalThis.setTimeout = () => 0;
      globalThis.clearTimeout = () => {};
      for (const name of ["held", "cancelled"]) {
        Object.defineProperty(Object.prototype, name, { get() { return name === "cancelled"; }, configurable: true });
      }
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

  it("answers a stub without props with an error, not a crash", async () => {
    const stub = (exports as unknown as { LogsCapability(options: { props: unknown }): LogsStub }).LogsCapability({ props: {} });
    expect(await stub.append(0, [entry("x")])).toMatchObject({ ok: false, error: { code: "INTERNAL_ERROR" } });
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
