import * as v from "valibot";
import { ExecuteRequestSchema, type ExecuteRequest } from "../../schemas/execute";
import { MAX_REQUEST_BYTES } from "../../schemas/limits";
import type { ErrorBody } from "../../schemas/meta";
import { SocketMessageSchema, type SocketErrorEvent, type StreamEvent } from "../../schemas/stream";
import { ErrorCode, ServiceError } from "../errors";
import { Cancellation } from "../execution/execution-events";
import { executeRequest, type Caller, type PipelineDeps } from "../execution/pipeline";
import { parseInput, readJsonBody } from "../parse";

// Streamed executions: Server-Sent Events (POST /execute, Accept: text/event-stream), WebSocket (GET /execute/ws)
// and the newline-delimited JSON stream of RPC executeStream(). All three carry the events of schemas/stream.ts
// as the pipeline emits them (worker/execution/execution-events.ts) and cancel the run when the client goes.

/** A comment line this often keeps proxies from closing an idle SSE stream (a run may log nothing for minutes). */
export const STREAM_HEARTBEAT_MS = 15_000;
/** The shortest interval STREAM_HEARTBEAT_MS may set: shorter, a stream would be mostly comments. */
export const MIN_STREAM_HEARTBEAT_MS = 50;
/** The longest: past a minute, common proxy idle timeouts (60-100 s) close the stream before a heartbeat. */
export const MAX_STREAM_HEARTBEAT_MS = 60_000;

/**
 * The optional STREAM_HEARTBEAT_MS var (integer milliseconds) overrides the interval: tests and local scripts
 * shorten it so a short run shows heartbeats. Unset or invalid means the default, so a typo never breaks streams.
 */
const HeartbeatVarSchema = v.pipe(
  v.string(),
  v.regex(/^\d+$/),
  v.transform(Number),
  v.number(),
  v.minValue(MIN_STREAM_HEARTBEAT_MS),
  v.maxValue(MAX_STREAM_HEARTBEAT_MS),
);

export function streamHeartbeatMs(env: Pick<Env, "STREAM_HEARTBEAT_MS">): number {
  const parsed = v.safeParse(HeartbeatVarSchema, env.STREAM_HEARTBEAT_MS);
  return parsed.success ? parsed.output : STREAM_HEARTBEAT_MS;
}

const INTERNAL_ERROR_BODY: ErrorBody = { error: { code: ErrorCode.INTERNAL_ERROR, message: "Internal error" } };

/** `Accept: text/event-stream` (alone or among others) asks POST /execute for SSE. */
export function wantsEventStream(request: Request): boolean {
  return /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(request.headers.get("accept") ?? "");
}

const sseFrame = (event: StreamEvent | SocketErrorEvent, id?: number): string =>
  `${id !== undefined ? `id: ${id}\n` : ""}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;

/** POST /execute as SSE. The body is parsed before the stream starts, so request errors stay JSON 4xx. */
export async function handleExecuteEvents(request: Request, deps: PipelineDeps, caller: Caller): Promise<Response> {
  const input = parseInput(ExecuteRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  const body = eventStream(deps, input, caller, new Cancellation(), request.signal, {
    frame: (event) => sseFrame(event, event.id),
    failed: () => sseFrame({ type: "error", data: INTERNAL_ERROR_BODY }),
    heartbeat: { text: ": heartbeat\n\n", everyMs: streamHeartbeatMs(deps.env) },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      // nginx and similar proxies otherwise buffer the stream and deliver it at the end.
      "x-accel-buffering": "no",
    },
  });
}

/**
 * RPC executeStream(): one JSON event per line. `cancel` cancels the run; so does cancelling the stream, but only
 * once a write notices (a run that logs nothing writes nothing until its result).
 */
export function executionNdjsonStream(
  deps: PipelineDeps,
  input: ExecuteRequest,
  caller: Caller,
): { events: ReadableStream<Uint8Array>; cancel: () => void } {
  const cancellation = new Cancellation();
  const events = eventStream(deps, input, caller, cancellation, undefined, {
    frame: (event) => `${JSON.stringify(event)}\n`,
    failed: () => `${JSON.stringify({ type: "error", data: INTERNAL_ERROR_BODY } satisfies SocketErrorEvent)}\n`,
  });
  return { events, cancel: () => cancellation.cancel() };
}

interface Framing {
  frame: (event: StreamEvent) => string;
  /** The pipeline itself failed (a bug): the stream says so and ends, without a result. */
  failed: () => string;
  heartbeat?: { text: string; everyMs: number };
}

/**
 * Runs the execution in waitUntil and streams its events. The stream's cancel (the client went away: an SSE
 * connection closed, an RPC caller's reader.cancel()) aborts the run; the result is still recorded.
 */
function eventStream(
  deps: PipelineDeps,
  input: ExecuteRequest,
  caller: Caller,
  cancellation: Cancellation,
  disconnected: AbortSignal | undefined,
  framing: Framing,
): ReadableStream<Uint8Array> {
  // The stream's cancel() alone is not enough: with nothing to write, nobody notices the client left.
  disconnected?.addEventListener("abort", () => cancellation.cancel(), { once: true });
  const encoder = new TextEncoder();
  let open = true;
  let output: ReadableStreamDefaultController<Uint8Array> | undefined;
  const write = (text: string) => {
    if (!open || !output) return;
    try {
      output.enqueue(encoder.encode(text));
    } catch {
      open = false;
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      output = controller;
    },
    cancel() {
      open = false;
      cancellation.cancel();
    },
  });
  // Also how a silent stream notices its client left: workerd aborts request.signal only before the response
  // starts, and a closed connection shows only when a write fails, so a run that logs nothing is cancelled at
  // the next heartbeat (or its result).
  const beat = framing.heartbeat;
  const heartbeat = beat ? setInterval(() => write(beat.text), beat.everyMs) : undefined;
  const run = executeRequest(deps, input, caller, { cancellation, onEvent: (event) => write(framing.frame(event)) })
    .then(
      () => {},
      (error: unknown) => {
        console.error("stream: the execution failed", error);
        write(framing.failed());
      },
    )
    .finally(() => {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      if (open) {
        open = false;
        output?.close();
      }
    });
  deps.ctx.waitUntil(run);
  return stream;
}

/**
 * GET /execute/ws. One execution at a time per socket, several in turn. A message that cannot be acted on gets an
 * `error` event with the body an HTTP request would have had, and the socket stays open. Closing the socket
 * cancels the run under way.
 */
export function handleExecuteSocket(request: Request, deps: PipelineDeps, caller: Caller): Response {
  if ((request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
    throw new ServiceError(ErrorCode.UPGRADE_REQUIRED, "GET /execute/ws is a WebSocket endpoint: send Upgrade: websocket");
  }
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  let running: Cancellation | undefined;
  const send = (event: StreamEvent | SocketErrorEvent) => {
    try {
      server.send(JSON.stringify(event));
    } catch {
      // The socket closed under a run: the close listener has cancelled it.
    }
  };
  const sendError = (error: unknown) => {
    if (error instanceof ServiceError) return send({ type: "error", data: error.toBody() });
    console.error("ws: unexpected error", error);
    send({ type: "error", data: INTERNAL_ERROR_BODY });
  };

  server.addEventListener("message", (event) => {
    try {
      const message = parseInput(SocketMessageSchema, socketJson(event.data));
      if (message.type === "cancel") {
        // Cancelling when nothing runs (it just ended) is not an error: the client cannot know the timing.
        running?.cancel();
        return;
      }
      if (running) throw new ServiceError(ErrorCode.VALIDATION_ERROR, "An execution is already running on this socket; cancel it or wait for its result");
      const { type: _type, ...request } = message;
      const cancellation = new Cancellation();
      running = cancellation;
      const run = executeRequest(deps, request, caller, { cancellation, onEvent: send })
        .catch(sendError)
        .finally(() => {
          if (running === cancellation) running = undefined;
        });
      deps.ctx.waitUntil(run);
    } catch (error) {
      sendError(error);
    }
  });
  server.addEventListener("close", () => {
    running?.cancel();
    try {
      server.close();
    } catch {
      // Already closed.
    }
  });
  return new Response(null, { status: 101, webSocket: client });
}

/** A socket message is text JSON of at most MAX_REQUEST_BYTES; the same errors as an HTTP body otherwise. */
function socketJson(data: string | ArrayBuffer): unknown {
  if (typeof data !== "string") throw new ServiceError(ErrorCode.INVALID_JSON, "Messages must be text frames of JSON");
  if (data.length > MAX_REQUEST_BYTES) {
    throw new ServiceError(ErrorCode.PAYLOAD_TOO_LARGE, `A message must be at most ${MAX_REQUEST_BYTES} bytes`);
  }
  try {
    return JSON.parse(data);
  } catch (error) {
    throw new ServiceError(ErrorCode.INVALID_JSON, `Message is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

