import * as v from "valibot";
import { ExecuteRequestSchema, LanguageSchema } from "./execute";
import { ErrorBodySchema } from "./meta";
import { ExecutionResultSchema, LogEntrySchema } from "./result";

// The events of a streamed execution, the same over SSE (POST /execute with Accept: text/event-stream), WebSocket
// (GET /execute/ws) and RPC (executeStream). `id` is a sequence number from 1 within one execution, in the order
// the events were made. A stream is: one `start`, a `log` per entry (the shape of result.logs[]), exactly one
// `result` (the same JSON as the non-streaming answer, logs included), then the end. `error` is WebSocket-only: a
// message the service could not act on (malformed, or an execute while one is running); the socket stays usable.

export const StartEventDataSchema = v.object({ executionId: v.string(), language: LanguageSchema });

export const StreamEventSchema = v.variant("type", [
  v.object({ type: v.literal("start"), id: v.number(), data: StartEventDataSchema }),
  v.object({ type: v.literal("log"), id: v.number(), data: LogEntrySchema }),
  v.object({ type: v.literal("result"), id: v.number(), data: ExecutionResultSchema }),
]);
export type StreamEvent = v.InferOutput<typeof StreamEventSchema>;

/** A WebSocket-only event: `data` is the same `{ error: { code, message, issues? } }` body an HTTP 4xx carries. */
export const SocketErrorEventSchema = v.object({ type: v.literal("error"), data: ErrorBodySchema });
export type SocketErrorEvent = v.InferOutput<typeof SocketErrorEventSchema>;

/** What a WebSocket client sends: an execute (the POST /execute body plus `type`), or a cancel of the current run. */
export const SocketMessageSchema = v.variant("type", [
  v.strictObject({ type: v.literal("execute"), ...ExecuteRequestSchema.entries }),
  v.strictObject({ type: v.literal("cancel") }),
], 'type must be "execute" or "cancel"');
export type SocketMessage = v.InferOutput<typeof SocketMessageSchema>;
