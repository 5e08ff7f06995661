import * as v from "valibot";
import { LogEntrySchema, type LogEntry } from "../../schemas/result";
import { MAX_FILE_PATH_CHARS, MAX_LOG_ENTRIES, MAX_LOG_MESSAGE_CHARS, MAX_LOG_TOTAL_CHARS, MAX_RESULT_CHARS } from "../../schemas/limits";

// What the sandbox harness answers from run(). Keep in sync with sandbox-template/harness.js.
// The child is untrusted, so its reply is parsed like any other input, and every cap the harness applies is
// applied again here: a reply that is over a limit is cut, not discarded, so its logs survive.

export interface ChildRunInput {
  contextJson: string;
  timeoutMs: number;
  /** Guard checks per ms the harness allows while the clock stands still (production freezes it in sync code). */
  stepsPerMs: number;
  /** False when config.allowedAPIs leaves out "console": the harness then discards console output. */
  captureLogs: boolean;
  /** A session cell only: the session's state for the prologue (worker/sessions/state-blob.ts, checked). */
  sessionStateJson?: string;
}

// Keep in sync with the constants at the top of sandbox-template/harness.js.
export const MAX_ERROR_NAME_CHARS = 200;
export const MAX_ERROR_CODE_CHARS = 64;
export const MAX_ERROR_MESSAGE_CHARS = 64 * 1024;
export const MAX_ERROR_STACK_CHARS = 64 * 1024;
/** The harness cuts a log message at MAX_LOG_MESSAGE_CHARS and appends a note of at most this many characters. */
const MAX_LOG_NOTE_CHARS = 64;
const MAX_LOG_ENTRY_CHARS = MAX_LOG_MESSAGE_CHARS + MAX_LOG_NOTE_CHARS;
/**
 * The harness stops logging once MAX_LOG_TOTAL_CHARS is reached, so its last entry and its "dropped" notice can
 * end past it by one entry each.
 */
const MAX_LOG_REPLY_CHARS = MAX_LOG_TOTAL_CHARS + 2 * MAX_LOG_ENTRY_CHARS;
/**
 * The encoder counts every character it writes against MAX_RESULT_CHARS except a whole string's two quotes and
 * the "truncated" tags it writes once the budget is spent (one per container still open, at most 64 deep).
 */
export const MAX_RESULT_JSON_CHARS = MAX_RESULT_CHARS + 64 * 1024;

/** `text` cut to `max` characters, ending with a note of how long it was. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… [truncated: ${text.length} characters]`;
  return text.slice(0, max - note.length) + note;
}

const cutTo = (max: number) => v.transform((text: string) => cutText(text, max));

const ChildErrorSchema = v.object({
  name: v.pipe(v.string(), cutTo(MAX_ERROR_NAME_CHARS)),
  /** Set for errors ai()/api()/db() threw: the capability's error code, e.g. CAPABILITY_DENIED. */
  code: v.optional(v.pipe(v.string(), cutTo(MAX_ERROR_CODE_CHARS))),
  message: v.pipe(v.string(), cutTo(MAX_ERROR_MESSAGE_CHARS)),
  stack: v.optional(v.pipe(v.string(), cutTo(MAX_ERROR_STACK_CHARS))),
  /** Set by a child that knows the position in the user's own code (Python: the innermost user frame). */
  line: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  column: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  /**
   * Set by a child that knows which of a multi-file program's files the position is in (Python). Anything but a
   * plausible path is dropped rather than failing the reply; the language still checks that it names one of the
   * request's files (worker/languages/python/index.ts), since the user's code can forge it.
   */
  file: v.optional(v.pipe(v.unknown(), v.transform((file) => (typeof file === "string" && file.length > 0 && file.length <= MAX_FILE_PATH_CHARS ? file : undefined)))),
});

/** The reply's shape; the log entries are checked one by one (capLogs), so one bad entry costs only itself. */
const ChildReplySchema = v.object({
  status: v.picklist(["success", "error", "timeout", "cancelled"]),
  logs: v.array(v.unknown()),
  resultJson: v.optional(v.string()),
  resultTruncated: v.optional(v.literal(true)),
  error: v.optional(ChildErrorSchema),
  /** A successful session cell: its state (sandbox-template/state.js), checked by worker/sessions/state-blob.ts. */
  stateJson: v.optional(v.string()),
  stateProblem: v.optional(v.picklist(["too_large", "failed"])),
});

export type ChildReply = Omit<v.InferOutput<typeof ChildReplySchema>, "logs"> & { logs: LogEntry[] };

/** What the parent makes of whatever run() answered. */
export type ReceivedReply =
  | { kind: "reply"; reply: ChildReply }
  /** Not a reply the parent can believe: the run counts as a sandbox error, with what logs could be kept. */
  | { kind: "malformed"; logs: LogEntry[]; problem: string };

/** Parses, validates and caps run()'s answer. Never throws. */
export function parseChildReply(raw: unknown): ReceivedReply {
  if (typeof raw !== "string") return { kind: "malformed", logs: salvageLogs(raw), problem: "the sandbox's reply is not text" };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { kind: "malformed", logs: [], problem: "the sandbox's reply is not JSON" };
  }
  const parsed = v.safeParse(ChildReplySchema, data);
  if (!parsed.success) {
    const where = v.getDotPath(parsed.issues[0]);
    return { kind: "malformed", logs: salvageLogs(data), problem: `the sandbox's reply is malformed${where ? ` at ${where}` : ""}` };
  }
  const { logs, resultJson, resultTruncated, stateJson, stateProblem, ...rest } = parsed.output;
  const reply: ChildReply = { ...rest, logs: capLogs(logs) };
  if (rest.status === "success") {
    if (stateJson !== undefined) reply.stateJson = stateJson;
    if (stateProblem !== undefined) reply.stateProblem = stateProblem;
  }
  if (resultJson !== undefined && rest.status === "success") {
    if (resultJson.length > MAX_RESULT_JSON_CHARS) {
      reply.resultJson = JSON.stringify({ $type: "truncated", reason: `the sandbox returned more than ${MAX_RESULT_CHARS} characters` });
      reply.resultTruncated = true;
    } else {
      reply.resultJson = resultJson;
      if (resultTruncated) reply.resultTruncated = true;
    }
  }
  return { kind: "reply", reply };
}

function salvageLogs(data: unknown): LogEntry[] {
  if (typeof data !== "object" || data === null) return [];
  const logs = (data as { logs?: unknown }).logs;
  return Array.isArray(logs) ? capLogs(logs) : [];
}

/**
 * The caps of the log, enforced on what arrived: at most MAX_LOG_ENTRIES entries and the harness's own notice,
 * each message cut to its limit, and the total bounded. Entries past a limit, or not log entries at all, are
 * dropped and counted in a notice of their own.
 */
export function capLogs(entries: readonly unknown[]): LogEntry[] {
  const kept: LogEntry[] = [];
  let totalChars = 0;
  let dropped = 0;
  for (const entry of entries) {
    const parsed = v.safeParse(LogEntrySchema, entry);
    if (!parsed.success || kept.length > MAX_LOG_ENTRIES || totalChars >= MAX_LOG_REPLY_CHARS - MAX_LOG_ENTRY_CHARS) {
      dropped++;
      continue;
    }
    const message = cutText(parsed.output.message, MAX_LOG_ENTRY_CHARS);
    totalChars += message.length;
    kept.push({ level: parsed.output.level, message, timestamp: parsed.output.timestamp });
  }
  if (dropped === 0) return kept;
  if (kept.length > MAX_LOG_ENTRIES) dropped += kept.length - MAX_LOG_ENTRIES;
  kept.length = Math.min(kept.length, MAX_LOG_ENTRIES);
  kept.push({
    level: "warn",
    message: `[code-exec] ${dropped} log entries from the sandbox were dropped: over the limits or not log entries`,
    timestamp: new Date().toISOString(),
  });
  return kept;
}

/** The harness entrypoint as the parent sees it over RPC. */
export interface HarnessEntrypoint {
  run(input: ChildRunInput): Promise<unknown>;
  /** Ends the run under way with status "cancelled" (once the code yields; the parent stops waiting regardless). */
  cancel(): Promise<unknown>;
}
