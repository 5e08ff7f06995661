import * as v from "valibot";
import type { Language } from "../../schemas/execute";
import { MAX_LOG_ENTRIES, MAX_LOG_MESSAGE_CHARS, MAX_LOG_TOTAL_CHARS } from "../../schemas/limits";
import { LogEntrySchema, type ExecutionResult, type LogEntry } from "../../schemas/result";
import type { StreamEvent } from "../../schemas/stream";

/** What a streaming caller (SSE, WebSocket, RPC) hands the pipeline: where events go, and how to cancel. */
export interface ExecutionObserver {
  /** Called synchronously, in order, for every event of the execution. */
  onEvent?: (event: StreamEvent) => void;
  /** Aborting it cancels the execution: it ends with status "cancelled" and the logs made so far. */
  signal?: AbortSignal;
}

type UnnumberedEvent = { [K in StreamEvent["type"]]: Omit<Extract<StreamEvent, { type: K }>, "id"> }[StreamEvent["type"]];

/** Room for the child's own truncation suffix ("… [message truncated: N characters]"); the child pads no more. */
const MESSAGE_SUFFIX_CHARS = 64;

/**
 * The front's copy of one execution's logs and the source of its stream events. Log entries reach it as the child
 * makes them (worker/capabilities/logs.ts, fed by sandbox-template/log-channel.js) and, at the end, with the reply.
 *
 * Merging without duplicates: every child entry has a sequence number (its index in the child's buffer). Batches
 * carry the number of their first entry; entries the front already holds are skipped, so the reply (which carries
 * every entry again) only adds what no batch delivered. A batch that would leave a gap (one before it was lost) is
 * ignored: the reply fills it. What the front accepted is never taken back, since it may already have been
 * streamed: if a (hostile) child's reply disagrees with its earlier batches, the batches win.
 *
 * The child is untrusted: every entry is parsed again and the caps of schemas/limits.ts are enforced again here.
 */
export class ExecutionEvents {
  private readonly held: LogEntry[] = [];
  private childEntriesSeen = 0;
  private heldChars = 0;
  private droppedEntries = 0;
  private nextEventId = 1;
  private mapMessage: (message: string) => string = (message) => message;
  private finished = false;

  constructor(private readonly observer: ExecutionObserver = {}) {}

  get signal(): AbortSignal | undefined {
    return this.observer.signal;
  }

  get cancelled(): boolean {
    return this.observer.signal?.aborted === true;
  }

  /** Log messages carry sandbox stack frames; the pipeline maps them to the caller's source once it has the program. */
  setMessageMapper(map: (message: string) => string): void {
    this.mapMessage = map;
  }

  started(executionId: string, language: Language): void {
    this.emit({ type: "start", data: { executionId, language } });
  }

  /** Takes entries `firstSeq`, `firstSeq + 1`, … from the child; see the class comment for duplicates and gaps. */
  acceptChildLogs(firstSeq: unknown, entries: unknown): void {
    if (this.finished || typeof firstSeq !== "number" || !Number.isSafeInteger(firstSeq) || firstSeq < 0) return;
    if (!Array.isArray(entries) || firstSeq > this.childEntriesSeen) return;
    for (let index = this.childEntriesSeen - firstSeq; index < entries.length; index++) {
      this.childEntriesSeen++;
      this.take(entries[index]);
    }
  }

  /** The logs of the result: everything held, plus a marker when the front itself had to drop entries. */
  closeLogs(): LogEntry[] {
    if (!this.finished && this.droppedEntries > 0) {
      this.push({
        level: "warn",
        message: `[code-exec] ${this.droppedEntries} more log entries dropped: the limit is ${MAX_LOG_ENTRIES} entries or ${MAX_LOG_TOTAL_CHARS} characters`,
        timestamp: new Date().toISOString(),
      });
    }
    this.finished = true;
    return [...this.held];
  }

  /** The last event. `result.logs` must come from closeLogs(), so the streamed log events add up to it. */
  result(result: ExecutionResult): void {
    this.finished = true;
    this.emit({ type: "result", data: result });
  }

  private take(raw: unknown): void {
    // One entry past MAX_LOG_ENTRIES is the child's own "N more dropped" marker.
    if (this.held.length > MAX_LOG_ENTRIES || this.heldChars >= MAX_LOG_TOTAL_CHARS + MAX_LOG_MESSAGE_CHARS) {
      this.droppedEntries++;
      return;
    }
    const parsed = v.safeParse(LogEntrySchema, raw);
    if (!parsed.success) {
      this.droppedEntries++;
      return;
    }
    let { message } = parsed.output;
    if (message.length > MAX_LOG_MESSAGE_CHARS + MESSAGE_SUFFIX_CHARS) {
      message = `${message.slice(0, MAX_LOG_MESSAGE_CHARS)}… [message truncated: ${message.length} characters]`;
    }
    this.heldChars += message.length;
    this.push({ level: parsed.output.level, message: this.mapMessage(message), timestamp: parsed.output.timestamp });
  }

  private push(entry: LogEntry): void {
    this.held.push(entry);
    this.emit({ type: "log", data: entry });
  }

  private emit(event: UnnumberedEvent): void {
    const onEvent = this.observer.onEvent;
    if (!onEvent) return;
    const withId = { id: this.nextEventId++, ...event } as StreamEvent;
    try {
      onEvent(withId);
    } catch (error) {
      // A listener that fails (a closed socket) must not cost the execution its result or its record.
      console.error("stream: an event listener failed", error);
    }
  }
}

/**
 * The executions running in this isolate, by id, so the log capability (a fresh entrypoint instance per call,
 * props = { executionId }) finds the one its batch belongs to. The child's loopback calls are served by this
 * Worker (as for worker/capabilities/call-budget.ts); a batch that finds no execution here is answered "stop",
 * and its entries still arrive with the reply.
 */
const live = new Map<string, ExecutionEvents>();

export function registerExecution(executionId: string, events: ExecutionEvents): () => void {
  live.set(executionId, events);
  return () => {
    if (live.get(executionId) === events) live.delete(executionId);
  };
}

export function liveExecution(executionId: string): ExecutionEvents | undefined {
  return live.get(executionId);
}
