import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecutionResult } from "../../schemas/result";
import worker from "../../worker/index";
import { STREAM_HEARTBEAT_MS, streamHeartbeatMs } from "../../worker/http/stream";
import { BASE, execute } from "../helpers";
import { allFrames, asEvents, comparable, expectTicksKeptOnTimeout, hangUpAfterFirstLog, postEvents, settledRecord } from "./stream-helpers";

const LOGGING_PROGRAM = `console.log("one"); console.warn("two", { n: 2 }); await new Promise((r) => setTimeout(r, 60)); console.error("three"); return { done: true }`;

describe("POST /execute with Accept: text/event-stream", () => {
  it("streams start, one log per entry and exactly one result, with ids 1, 2, 3, …", async () => {
    const response = await postEvents({ code: LOGGING_PROGRAM });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = asEvents(await allFrames(response));
    expect(events.map((e) => e.type)).toEqual(["start", "log", "log", "log", "result"]);
    expect(events.map((e) => ("id" in e ? e.id : undefined))).toEqual([1, 2, 3, 4, 5]);
    const [start, ...rest] = events;
    const result = rest.at(-1)?.data as ExecutionResult;
    expect(start?.data).toEqual({ executionId: result.executionId, language: "javascript" });
    expect(rest.slice(0, 3).map((e) => e.data)).toEqual(result.logs);
    expect(result).toMatchObject({ success: true, status: "success", result: { done: true } });
  });

  it("ends with the same result as the non-streaming answer", async () => {
    const streamed = asEvents(await allFrames(await postEvents({ code: LOGGING_PROGRAM }))).at(-1)?.data as ExecutionResult;
    const plain = await execute({ code: LOGGING_PROGRAM });
    expect(comparable(streamed)).toEqual(comparable(plain));
    const record = await settledRecord(streamed.executionId);
    expect(record.logs).toEqual(streamed.logs);
  });

  it("streams rejected code as start and result", async () => {
    const events = asEvents(await allFrames(await postEvents({ code: "eval('1')" })));
    expect(events.map((e) => e.type)).toEqual(["start", "result"]);
    expect(events[1]?.data).toMatchObject({ status: "rejected", error: { code: "POLICY_VIOLATION" } });
  });

  it("answers request errors as plain JSON 4xx, not a stream", async () => {
    const response = await postEvents({ code: "" });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: { code: "VALIDATION_ERROR" } });
    expect((await postEvents("{nope")).status).toBe(400);
  });

  it("answers plain JSON when the client does not ask for events", async () => {
    const response = await postEvents({ code: "return 1" }, "application/json");
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("delivers a log while the run is still going, and closing the stream cancels the run", async () => {
    // Without the cancel this would run to its 20 s timeout: the log arriving first proves it streamed.
    const code = `console.log("started"); for (;;) { await new Promise((r) => setTimeout(r, 10)); }`;
    const { log, record } = await hangUpAfterFirstLog({ code, config: { timeout: 20_000 } });
    expect(log).toMatchObject({ event: "log", id: "2" });
    expect(JSON.parse(log?.data ?? "{}")).toMatchObject({ level: "log", message: "started" });
    expect(record).toMatchObject({ status: "cancelled", success: false, errorCode: "CANCELLED" });
    expect(record.logs.map((l) => l.message)).toEqual(["started"]);
    expect(record.durationMs).toBeLessThan(20_000);
  });

  it("keeps the logs it streamed when a run times out", async () => {
    const code = `for (let i = 0; ; i++) { console.log("tick", i); await new Promise((r) => setTimeout(r, 30)); }`;
    await expectTicksKeptOnTimeout({ code, config: { timeout: 300 } });
  });

  describe("heartbeat", () => {
    const IDLE_PROGRAM = "await new Promise((r) => setTimeout(r, 400)); return 1";

    /** POST /execute as SSE through the real fetch handler, with STREAM_HEARTBEAT_MS set for this call only. */
    async function framesWithHeartbeatVar(value: string) {
      const request = new Request(`${BASE}/execute`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ code: IDLE_PROGRAM }),
      });
      const testEnv = { ...(env as unknown as Env), STREAM_HEARTBEAT_MS: value };
      return allFrames(await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, testEnv, createExecutionContext()));
    }

    it("sends `: heartbeat` comments on an idle stream at the STREAM_HEARTBEAT_MS interval, and the events are unchanged", async () => {
      const frames = await framesWithHeartbeatVar("50");
      const heartbeats = frames.filter((frame) => frame.comment === "heartbeat");
      expect(heartbeats.length).toBeGreaterThan(0);
      // A heartbeat is a comment alone: no id, event or data a client would take for an event.
      expect(heartbeats.every((frame) => Object.keys(frame).join() === "comment")).toBe(true);
      expect(frames.at(-1)?.event).toBe("result");
      expect(asEvents(frames).map((e) => e.type)).toEqual(["start", "result"]);
    });

    it("keeps the 15 s default when STREAM_HEARTBEAT_MS is below its minimum", async () => {
      // At 5 ms this 400 ms run would carry dozens of comments.
      const frames = await framesWithHeartbeatVar("5");
      expect(frames.filter((frame) => frame.comment !== undefined)).toEqual([]);
      expect(asEvents(frames).map((e) => e.type)).toEqual(["start", "result"]);
    });

    it("parses STREAM_HEARTBEAT_MS as whole milliseconds between 50 ms and 60 s, else 15 s", () => {
      expect(STREAM_HEARTBEAT_MS).toBe(15_000);
      expect(streamHeartbeatMs({})).toBe(15_000);
      expect(streamHeartbeatMs({ STREAM_HEARTBEAT_MS: "250" })).toBe(250);
      expect(streamHeartbeatMs({ STREAM_HEARTBEAT_MS: "50" })).toBe(50);
      expect(streamHeartbeatMs({ STREAM_HEARTBEAT_MS: "60000" })).toBe(60_000);
      for (const bad of ["", "49", "60001", "1e3", " 100", "100.5", "-100", "0x100", "abc"]) {
        expect(streamHeartbeatMs({ STREAM_HEARTBEAT_MS: bad }), bad).toBe(15_000);
      }
    });
  });
});
