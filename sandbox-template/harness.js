// @ts-check
// The main module of every sandbox isolate. The front Worker loads it, with encode.js, capabilities.js and the
// user's instrumented code as user.js, into a fresh isolate and calls run() once over RPC.
//
// Protocol (keep in sync with worker/execution/child-protocol.ts):
//   run({ contextJson, timeoutMs, stepsPerMs, captureLogs }) -> { status, resultJson?, resultTruncated?, logs, error? }
//   cancel() -> undefined: the running run() ends with status "cancelled" (see log-channel.js)
// user.js default-exports `(guard) => async (context) => { <user code> }`; the guard is passed in, never put
// on globalThis, so user code cannot reach or replace it.

import { WorkerEntrypoint } from "cloudflare:workers";
import makeMain from "./user.js";
import { encodeJson, formatLogArgs } from "./encode.js";
import { installCapabilities } from "./capabilities.js";
import { createGuard } from "./guard.js";
import { cancelRun, createLogChannel, onCancel } from "./log-channel.js";

// Keep in sync with schemas/limits.ts.
const MAX_LOG_ENTRIES = 1_000;
const MAX_LOG_MESSAGE_CHARS = 8 * 1024;
const MAX_LOG_TOTAL_CHARS = 512 * 1024;
const RESULT_LIMITS = { maxChars: 1024 * 1024, maxDepth: 64, maxNodes: 100_000 };
const LOG_ARG_LIMITS = { maxChars: MAX_LOG_MESSAGE_CHARS, maxDepth: 8, maxNodes: 2_000 };

// Captured at module evaluation, before any user code exists.
const now = Date.now;
const nowIso = () => new Date(now()).toISOString();
const schedule = setTimeout;
// User code runs before the race below is set up and could replace Promise.race to hang or fake its outcome.
const race = Promise.race.bind(Promise);
const unschedule = clearTimeout;

/** @typedef {{ level: "log" | "info" | "warn" | "error" | "debug", message: string, timestamp: string }} LogEntry */

/** @param {ReturnType<typeof createLogChannel>} channel */
function createLogBuffer(channel) {
  /** @type {LogEntry[]} */
  const entries = [];
  let totalChars = 0;
  let dropped = 0;
  return {
    /**
     * @param {LogEntry["level"]} level
     * @param {unknown[]} args
     */
    push(level, args) {
      if (entries.length >= MAX_LOG_ENTRIES || totalChars >= MAX_LOG_TOTAL_CHARS) {
        dropped++;
        return;
      }
      let message = formatLogArgs(args, LOG_ARG_LIMITS);
      if (message.length > MAX_LOG_MESSAGE_CHARS) {
        message = `${message.slice(0, MAX_LOG_MESSAGE_CHARS)}… [message truncated: ${message.length} characters]`;
      }
      totalChars += message.length;
      const entry = { level, message, timestamp: nowIso() };
      entries.push(entry);
      channel.accept(entry);
    },
    /** @returns {LogEntry[]} */
    drain() {
      if (dropped === 0) return entries;
      return [
        ...entries,
        {
          level: "warn",
          message: `[code-exec] ${dropped} more log entries dropped: the limit is ${MAX_LOG_ENTRIES} entries or ${MAX_LOG_TOTAL_CHARS} characters`,
          timestamp: nowIso(),
        },
      ];
    },
  };
}

/**
 * Without the console capability, console calls are accepted and discarded: the code runs unchanged, and nothing
 * it prints reaches the result or the host's own log.
 * @param {ReturnType<typeof createLogBuffer>} buffer
 * @param {boolean} capture
 */
function captureConsole(buffer, capture) {
  /** @type {Record<string, LogEntry["level"]>} */
  const levels = { log: "log", info: "info", warn: "warn", error: "error", debug: "debug", trace: "debug" };
  for (const [method, level] of Object.entries(levels)) {
    /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (console))[method] = capture
      ? (/** @type {unknown[]} */ ...args) => buffer.push(level, args)
      : () => {};
  }
}

/**
 * @param {unknown} thrown
 * @returns {{ name: string, message: string, stack?: string, code?: string }}
 */
function describeThrown(thrown) {
  if (thrown instanceof Error) {
    const code = /** @type {{ code?: unknown }} */ (thrown).code;
    return {
      name: String(thrown.name),
      message: String(thrown.message),
      stack: String(thrown.stack ?? ""),
      ...(thrown.name === "CapabilityError" && typeof code === "string" ? { code } : {}),
    };
  }
  return { name: "Error", message: `Uncaught ${formatLogArgs([thrown], LOG_ARG_LIMITS)}` };
}

export default class Harness extends WorkerEntrypoint {
  /** A second call into this isolate while run() is under way; it takes effect when the code next yields. */
  cancel() {
    cancelRun();
  }

  /**
   * @param {{ contextJson: string, timeoutMs: number, stepsPerMs: number, captureLogs: boolean }} input
   */
  async run(input) {
    const startedAt = now();
    const channel = createLogChannel(/** @type {any} */ (this.env).LOGS, startedAt);
    const logs = createLogBuffer(channel);
    captureConsole(logs, input.captureLogs);
    installCapabilities(/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (this.env)));
    const control = createGuard(startedAt + input.timeoutMs, input.stepsPerMs);

    /** @type {(value: { kind: "timeout" }) => void} */
    let onTimer = () => {};
    const timer = new Promise((resolve) => {
      onTimer = resolve;
    });
    // Catches code that awaits forever; loops are caught by the guard.
    const handle = schedule(() => {
      control.trip();
      onTimer({ kind: "timeout" });
    }, input.timeoutMs);
    /** @type {(value: { kind: "cancelled" }) => void} */
    let onCancelled = () => {};
    const cancelled = new Promise((resolve) => {
      onCancelled = resolve;
    });
    // The guard stops loops at their next check; the race below stops the wait for an await.
    onCancel(() => {
      control.trip();
      onCancelled({ kind: "cancelled" });
    });

    /** @type {Promise<{ kind: "returned", value: unknown } | { kind: "threw", error: unknown }>} */
    const execution = (async () => {
      try {
        const main = makeMain(control.guard);
        const context = JSON.parse(input.contextJson);
        return { kind: "returned", value: await main(context) };
      } catch (error) {
        return { kind: "threw", error };
      }
    })();

    const outcome = await race([execution, timer, cancelled]);
    unschedule(handle);
    channel.close();

    if (outcome.kind === "cancelled") {
      return { status: "cancelled", logs: logs.drain(), error: { name: "CancelledError", message: "The execution was cancelled" } };
    }
    if (control.isTripped() || outcome.kind === "timeout") {
      return {
        status: "timeout",
        logs: logs.drain(),
        error: { name: "TimeoutError", message: `Execution exceeded the timeout of ${input.timeoutMs} ms` },
      };
    }
    if (outcome.kind === "threw") {
      return { status: "error", logs: logs.drain(), error: describeThrown(outcome.error) };
    }
    if (outcome.value === undefined) return { status: "success", logs: logs.drain() };
    const { json, truncated } = encodeJson(outcome.value, RESULT_LIMITS);
    return { status: "success", logs: logs.drain(), resultJson: json, ...(truncated ? { resultTruncated: true } : {}) };
  }
}
