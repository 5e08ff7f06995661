import { expect } from "vitest";
import { exports } from "cloudflare:workers";
import type { ExecuteRequestInput } from "../../schemas/execute";
import type { ExecutionRecord } from "../../schemas/history";
import type { ExecutionResult } from "../../schemas/result";
import type { SocketErrorEvent, StreamEvent } from "../../schemas/stream";
import { BASE, post } from "../helpers";

export type AnyEvent = StreamEvent | SocketErrorEvent;

/** One parsed SSE frame: its fields as the wire carried them. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads SSE frames off a response body as they arrive; `next()` resolves with the next one (undefined at the end). */
export function sseReader(body: ReadableStream<Uint8Array>) {
  // Read directly (no pipeThrough), so cancel() reaches the service's stream at once.
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    async next(): Promise<SseFrame | undefined> {
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const frame: SseFrame = {};
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) frame.comment = line.slice(1).trim();
            else {
              const colon = line.indexOf(":");
              const field = line.slice(0, colon) as "id" | "event" | "data";
              frame[field] = line.slice(colon + 1).replace(/^ /, "");
            }
          }
          return frame;
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

export async function postEvents(body: ExecuteRequestInput | string, accept = "text/event-stream"): Promise<Response> {
  return post("/execute", body, { accept });
}

/** All frames of a stream, to its end. */
export async function allFrames(response: Response): Promise<SseFrame[]> {
  if (!response.body) throw new Error("no body");
  const reader = sseReader(response.body);
  const frames: SseFrame[] = [];
  for (let frame = await reader.next(); frame; frame = await reader.next()) frames.push(frame);
  return frames;
}

/** SSE frames as the events they carry (heartbeats left out). */
export function asEvents(frames: SseFrame[]): AnyEvent[] {
  return frames
    .filter((frame) => frame.event !== undefined)
    .map((frame) => ({ type: frame.event, ...(frame.id !== undefined ? { id: Number(frame.id) } : {}), data: JSON.parse(frame.data ?? "null") }) as AnyEvent);
}

/** The stored record once the execution has left "running" (a cancelled run is recorded after its stream ended). */
/**
 * Streams a program that logs `tick 0`, `tick 1`, … until its timeout, and checks what a timed-out stream must
 * keep: the result is a timeout, and its logs are exactly the streamed log events, in order, more than one.
 */
export async function expectTicksKeptOnTimeout(request: ExecuteRequestInput): Promise<void> {
  const events = asEvents(await allFrames(await postEvents(request)));
  const result = events.at(-1)?.data as ExecutionResult;
  expect(result).toMatchObject({ status: "timeout", error: { code: "TIMEOUT" } });
  const logs = events.filter((e) => e.type === "log").map((e) => e.data);
  expect(logs.length).toBeGreaterThan(1);
  expect(result.logs).toEqual(logs);
  expect(result.logs.map((l) => l.message)).toEqual(result.logs.map((_, i) => `tick ${i}`));
}

/**
 * Streams `request`, reads its start and first log, then closes the stream (which cancels the run), and answers
 * what the test checks: the start event's data, that first log frame, and the run's settled record.
 */
export async function hangUpAfterFirstLog(request: ExecuteRequestInput) {
  const reader = sseReader((await postEvents(request)).body!);
  const start = JSON.parse((await reader.next())?.data ?? "{}") as { executionId: string; language: string };
  const log = await reader.next();
  await reader.cancel();
  return { start, log, record: await settledRecord(start.executionId) };
}

export async function settledRecord(executionId: string): Promise<ExecutionRecord> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await exports.default.fetch(`${BASE}/executions/${executionId}`);
    if (response.status === 200) {
      const record = (await response.json()) as ExecutionRecord;
      if (record.status !== "running") return record;
    }
    await scheduler.wait(25);
  }
  throw new Error(`execution ${executionId} never settled`);
}

/** A result without what differs between two runs of the same code. */
export function comparable(result: ExecutionResult) {
  const { executionId: _id, durationMs: _ms, ...rest } = result;
  return { ...rest, logs: rest.logs.map(({ timestamp: _t, ...entry }) => entry) };
}

/** A WebSocket to GET /execute/ws through the real fetch handler, with a queue of the messages it receives. */
export async function openSocket(): Promise<{ socket: WebSocket; next: () => Promise<AnyEvent>; close: () => void }> {
  const response = await exports.default.fetch(`${BASE}/execute/ws`, { headers: { upgrade: "websocket" } });
  const socket = response.webSocket;
  if (response.status !== 101 || !socket) throw new Error(`expected 101, got ${response.status}: ${await response.text()}`);
  socket.accept();
  const queue: AnyEvent[] = [];
  const waiting: ((event: AnyEvent) => void)[] = [];
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data as string) as AnyEvent;
    const waiter = waiting.shift();
    if (waiter) waiter(event);
    else queue.push(event);
  });
  return {
    socket,
    next: () => {
      const queued = queue.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => socket.close(1000, "done"),
  };
}

/** Events until (and including) the result. */
export async function untilResult(next: () => Promise<AnyEvent>): Promise<AnyEvent[]> {
  const events: AnyEvent[] = [];
  for (;;) {
    const event = await next();
    events.push(event);
    if (event.type === "result") return events;
  }
}
