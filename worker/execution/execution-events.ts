import * as v from "valibot";
import type { Language } from "../../schemas/execute";
import { MAX_LOG_ENTRIES, MAX_LOG_FLUSHES, MAX_LOG_MESSAGE_CHARS, MAX_LOG_TOTAL_CHARS } from "../../schemas/limits";
import { LogEntrySchema, type ExecutionResult, type LogEntry } from "../../schemas/result";
import type { StreamEvent } from "../../schemas/stream";

/** What a streaming caller (SSE, WebSocket, RPC) hands the pipeline: where events go, and how to cancel. */
export interface ExecutionObserver {
  /** Called in order for every event of the execution, always in the request that runs it. */
  onEvent?: (event: StreamEvent) => void;
  /** Cancelling it ends the execution with status "cancelled" and the logs made so far. */
  cancellation?: Cancellation;
}

/**
 * A plain flag the run polls (worker/execution/sandbox.ts), not an AbortSignal: a cancel can come from another
 * request (a stream cancelled from the reading side, a socket's close), and workerd refuses to let that request
 * abort a signal the running request made (AbortSignal holds I/O: "Cannot perform I/O on behalf of a different
 * request"). Setting a boolean is allowed from anywhere.
 */
export class Cancellation {
  #requested = false;
  cancel(): void {
    this.#requested = true;
  }
  get requested(): boolean {
    return this.#requested;
  }
}

type UnnumberedEvent = { [K in StreamEvent["type"]]: Omit<Extract<StreamEvent, { type: K }>, "id"> }[StreamEvent["type"]];

/** How often the owner delivers the events log batches made (see the constructor); the added latency at most. */
const DELIVERY_EVERY_MS = 10;

/**
 * A batch is at most the whole log as the harness builds it: its text cap, one entry past it, the "dropped" note,
 * and JSON's escaping (at most 6 characters per message character, \uXXXX).
 */
const MAX_BATCH_CHARS = 6 * (MAX_LOG_TOTAL_CHARS + 2 * MAX_LOG_MESSAGE_CHARS) + (MAX_LOG_ENTRIES + 1) * 128;

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
  private batchesTaken = 0;
  private heldChars = 0;
  private droppedEntries = 0;
  private nextEventId = 1;
  private mapMessage: (message: string) => string = (message) => message;
  private finished = false;
  private readonly outbox: StreamEvent[] = [];
  private pumpTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * Made in the request that runs the execution (its "owner"). Log batches arrive in another request (the
   * capability call), and workerd forbids that request to touch the owner's streams and sockets, or even to
   * resolve a promise the owner made ("Cannot perform I/O on behalf of a different request", RefcountedFulfiller).
   * So events made by a batch wait in the outbox, and a timer of the owner delivers them every DELIVERY_EVERY_MS,
   * only while a streamed run is under way.
   */
  constructor(private readonly observer: ExecutionObserver = {}) {
    if (observer.onEvent) this.pumpTimer = setInterval(() => this.deliver(), DELIVERY_EVERY_MS);
  }

  get cancelled(): boolean {
    return this.observer.cancellation?.requested === true;
  }

  /** Log messages carry sandbox stack frames; the pipeline maps them to the caller's source once it has the program. */
  setMessageMapper(map: (message: string) => string): void {
    this.mapMessage = map;
  }

  /** Called by the owner. */
  started(executionId: string, language: Language): void {
    this.emit({ type: "start", data: { executionId, language } });
    this.deliver();
  }

  /**
   * A batch from the log channel: the JSON text of an array of entries. The child sends at most MAX_LOG_FLUSHES
   * batches of at most a log's worth of text; one that sends more (a harness that is not ours) is refused, so it
   * cannot keep the front busy. Answers whether the batch was taken.
   */
  acceptBatch(firstSeq: unknown, entriesJson: unknown): boolean {
    if (this.finished || ++this.batchesTaken > MAX_LOG_FLUSHES) return false;
    if (typeof entriesJson !== "string" || entriesJson.length > MAX_BATCH_CHARS) return false;
    let entries: unknown;
    try {
      entries = JSON.parse(entriesJson);
    } catch {
      return false;
    }
    this.acceptChildLogs(firstSeq, entries);
    return true;
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

  /** The last event, delivered before this returns. Called by the owner; `result.logs` must come from closeLogs(). */
  result(result: ExecutionResult): void {
    this.finished = true;
    this.emit({ type: "result", data: result });
    this.deliver();
    if (this.pumpTimer !== undefined) clearInterval(this.pumpTimer);
  }

  private deliver(): void {
    const onEvent = this.observer.onEvent;
    if (!onEvent) return;
    for (let event = this.outbox.shift(); event; event = this.outbox.shift()) {
      try {
        onEvent(event);
      } catch (error) {
        // A listener that fails (a closed socket) must not cost the execution its result or its record.
        console.error("stream: an event listener failed", error);
      }
    }
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
    if (!this.observer.onEvent) return;
    this.outbox.push({ id: this.nextEventId++, ...event } as StreamEvent);
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
