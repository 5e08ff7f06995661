import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionResult } from "../../schemas/result";
import { execute, BASE } from "../helpers";
import { comparable, openSocket, settledRecord, untilResult } from "./stream-helpers";

describe("GET /execute/ws", () => {
  it("streams the same events as SSE, and the same result as POST /execute", async () => {
    const { socket, next, close } = await openSocket();
    const code = `console.log("a"); await new Promise((r) => setTimeout(r, 50)); console.info("b"); return 42`;
    socket.send(JSON.stringify({ type: "execute", code }));
    const events = await untilResult(next);
    expect(events.map((e) => e.type)).toEqual(["start", "log", "log", "result"]);
    expect(events.map((e) => ("id" in e ? e.id : undefined))).toEqual([1, 2, 3, 4]);
    const result = events[3]?.data as ExecutionResult;
    expect(comparable(result)).toEqual(comparable(await execute({ code })));
    expect(events.slice(1, 3).map((e) => e.data)).toEqual(result.logs);
    close();
  });

  it("cancels the run on { type: cancel }, keeping its logs, and records it as cancelled", async () => {
    const { socket, next, close } = await openSocket();
    const code = `console.log("working"); for (;;) { await new Promise((r) => setTimeout(r, 10)); }`;
    socket.send(JSON.stringify({ type: "execute", code, config: { timeout: 20_000 } }));
    expect((await next()).type).toBe("start");
    expect(await next()).toMatchObject({ type: "log", data: { message: "working" } });
    socket.send(JSON.stringify({ type: "cancel" }));
    const [result] = (await untilResult(next)).map((e) => e.data as ExecutionResult);
    expect(result).toMatchObject({ success: false, status: "cancelled", error: { code: "CANCELLED" } });
    expect(result?.logs.map((l) => l.message)).toEqual(["working"]);
    expect(await settledRecord(result!.executionId)).toMatchObject({ status: "cancelled", logs: result?.logs });
    close();
  });

  it("answers malformed messages with an error event and stays usable", async () => {
    const { socket, next, close } = await openSocket();
    socket.send("{not json");
    expect(await next()).toMatchObject({ type: "error", data: { error: { code: "INVALID_JSON" } } });
    socket.send(JSON.stringify({ type: "launch" }));
    expect(await next()).toMatchObject({ type: "error", data: { error: { code: "VALIDATION_ERROR" } } });
    socket.send(JSON.stringify({ type: "execute", code: "" }));
    expect(await next()).toMatchObject({ type: "error", data: { error: { code: "VALIDATION_ERROR", issues: [{ path: "code" }] } } });
    socket.send(JSON.stringify({ type: "execute", code: "return 1", language: "cobol" }));
    expect(await next()).toMatchObject({ type: "error", data: { error: { code: "UNSUPPORTED_LANGUAGE" } } });
    socket.send(new Uint8Array([1, 2, 3]));
    expect(await next()).toMatchObject({ type: "error", data: { error: { code: "INVALID_JSON" } } });
    socket.send(JSON.stringify({ type: "execute", code: "return 'still here'" }));
    const events = await untilResult(next);
    expect(events.at(-1)?.data).toMatchObject({ success: true, result: "still here" });
    close();
  });

  it("runs several executions in turn and refuses a second one while one runs", async () => {
    const { socket, next, close } = await openSocket();
    socket.send(JSON.stringify({ type: "execute", code: "await new Promise((r) => setTimeout(r, 100)); return 1" }));
    expect((await next()).type).toBe("start");
    socket.send(JSON.stringify({ type: "execute", code: "return 2" }));
    expect(await next()).toMatchObject({ type: "error", data: { error: { code: "VALIDATION_ERROR", message: expect.stringContaining("already running") } } });
    const first = (await untilResult(next)).at(-1)?.data as ExecutionResult;
    expect(first.result).toBe(1);
    socket.send(JSON.stringify({ type: "execute", code: "return 2" }));
    const second = await untilResult(next);
    expect(second.map((e) => e.type)).toEqual(["start", "result"]);
    expect(second[0]).toMatchObject({ id: 1 });
    expect((second[1]?.data as ExecutionResult).result).toBe(2);
    expect((second[1]?.data as ExecutionResult).executionId).not.toBe(first.executionId);
    close();
  });

  it("cancels the run under way when the socket closes", async () => {
    const { socket, next, close } = await openSocket();
    socket.send(JSON.stringify({ type: "execute", code: `console.log("x"); for (;;) { await new Promise((r) => setTimeout(r, 10)); }`, config: { timeout: 20_000 } }));
    const start = await next();
    expect(await next()).toMatchObject({ type: "log" });
    close();
    const record = await settledRecord((start.data as { executionId: string }).executionId);
    expect(record).toMatchObject({ status: "cancelled", errorCode: "CANCELLED" });
  });

  it("answers 426 without an Upgrade header and 405 for other methods", async () => {
    const plain = await exports.default.fetch(`${BASE}/execute/ws`);
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: "UPGRADE_REQUIRED" } });
    expect((await exports.default.fetch(`${BASE}/execute/ws`, { method: "POST" })).status).toBe(405);
  });
});
