// @ts-check
// The main module of every sandbox isolate. The front Worker loads it, with primordials.js, encode.js,
// capabilities.js, guard.js and the user's instrumented code as user.js, into a fresh isolate and calls run() once
// over RPC.
//
// Protocol (keep in sync with worker/execution/child-protocol.ts):
//   run({ contextJson, timeoutMs, stepsPerMs, captureLogs, sessionStateJson? }) -> a string: the JSON text of
//   { status, logs, resultJson?, resultTruncated?, error?, stateJson?, stateProblem? }
// (the session members only for a session cell: worker/sessions/cell.ts, sandbox-template/state.js)
//   cancel() -> undefined: the run under way ends with status "cancelled" (see log-channel.js)
// user.js default-exports `(guard, context) => async function () { <user code> }`; the guard is passed in, never put
// on globalThis, so user code cannot reach or replace it.
//
// The harness shares its realm with the user's code and keeps working after that code has changed any global,
// prototype or getter (README "Security model"). So, after user code exists:
// - it reaches intrinsics only through primordials.js (imported first: module evaluation order puts it before
//   user.js);
// - it never awaits and never resolves a promise with an object: resolving with an object looks up `.then` on
//   it, and Object.prototype.then would answer. run() resolves with one string, built by concatenating
//   JSON.stringify of primitives, and observes the user's promise with the captured `then` on a promise whose
//   `constructor` lookup it has detached (primordials.js detachFromUserPromise);
// - it keeps its state in local variables and the log as JSON text, so no array method or setter is involved.
// The parent parses and re-checks the reply anyway (child-protocol.ts parseChildReply).

import {
  DateCtor,
  DateNow,
  DatePrototypeToISOString,
  JSONParse,
  JSONStringify,
  ObjectDefineProperty,
  PromiseCtor,
  PromisePrototypeThen,
  StringPrototypeSlice,
  clearTimeoutSafe,
  detachFromUserPromise,
  setTimeoutSafe,
  protectTimer,
} from "./primordials.js";
import { decodeState, encodeState } from "./state.js";
import { WorkerEntrypoint } from "cloudflare:workers";
import { encodeJson, formatLogArgs, isError, readText } from "./encode.js";
import { installCapabilities, issuedCapabilityCode } from "./capabilities.js";
import { createGuard } from "./guard.js";
import { cancelRun, createLogChannel, onCancel } from "./log-channel.js";
import { installFunctionSource } from "./function-source.js";
import { armModuleGuard } from "./module-guard.js";
// Last: modules evaluate in import order, and a multi-file program's other modules (and its packages) run their
// top level when user.js is evaluated, so every harness module must be evaluated, and capture what it needs, first.
import makeMain from "./user.js";

// Keep in sync with schemas/limits.ts and worker/execution/child-protocol.ts.
const MAX_LOG_ENTRIES = 1_000;
const MAX_LOG_MESSAGE_CHARS = 8 * 1024;
const MAX_LOG_TOTAL_CHARS = 512 * 1024;
const MAX_ERROR_NAME_CHARS = 200;
const MAX_ERROR_MESSAGE_CHARS = 64 * 1024;
const MAX_ERROR_STACK_CHARS = 64 * 1024;
/** Keep in sync with MAX_SESSION_STATE_BYTES in schemas/session.ts. */
const MAX_SESSION_STATE_CHARS = 1024 * 1024;
const RESULT_LIMITS = { __proto__: null, maxChars: 1024 * 1024, maxDepth: 64, maxNodes: 100_000 };
const LOG_ARG_LIMITS = { __proto__: null, maxChars: MAX_LOG_MESSAGE_CHARS, maxDepth: 8, maxNodes: 2_000 };

const LOG_LEVELS = /** @type {const} */ (["log", "info", "warn", "error", "debug"]);
/** @typedef {(typeof LOG_LEVELS)[number]} LogLevel */

// Before any user code exists: Function.prototype.toString shows the caller's source, not the guard calls.
installFunctionSource();

const nowIso = () => DatePrototypeToISOString(new DateCtor(DateNow()));

/**
 * `text` cut to `max` characters, saying how long it was.
 * @param {string} text
 * @param {number} max
 */
function cutText(text, max) {
  if (text.length <= max) return text;
  const note = `… [truncated: ${text.length} characters]`;
  return StringPrototypeSlice(text, 0, max - note.length) + note;
}

/**
 * The log as JSON text of its entries, built as they arrive; each accepted entry also goes to the log channel.
 * @param {ReturnType<typeof createLogChannel>} channel
 */
function createLogBuffer(channel) {
  let json = "";
  let count = 0;
  let totalChars = 0;
  let dropped = 0;
  /**
   * @param {LogLevel} level
   * @param {string} message
   */
  const append = (level, message) => {
    const entry = `{"level":"${level}","message":${JSONStringify(message)},"timestamp":${JSONStringify(nowIso())}}`;
    json += count === 0 ? entry : `,${entry}`;
    count++;
    channel.accept(entry);
  };
  return {
    __proto__: null,
    /**
     * @param {LogLevel} level
     * @param {unknown[]} args
     */
    push(level, args) {
      if (count >= MAX_LOG_ENTRIES || totalChars >= MAX_LOG_TOTAL_CHARS) {
        dropped++;
        return;
      }
      let message = formatLogArgs(args, LOG_ARG_LIMITS);
      if (message.length > MAX_LOG_MESSAGE_CHARS) {
        message = `${StringPrototypeSlice(message, 0, MAX_LOG_MESSAGE_CHARS)}… [message truncated: ${message.length} characters]`;
      }
      totalChars += message.length;
      append(level, message);
    },
    /** @returns {string} the JSON array of the entries */
    drain() {
      if (dropped > 0) {
        append(
          "warn",
          `[code-exec] ${dropped} more log entries dropped: the limit is ${MAX_LOG_ENTRIES} entries or ${MAX_LOG_TOTAL_CHARS} characters`,
        );
        dropped = 0;
      }
      return `[${json}]`;
    },
  };
}

/**
 * Without the console capability, console calls are accepted and discarded: the code runs unchanged, and nothing
 * it prints reaches the result or the host's own log. Runs before user code.
 * @param {ReturnType<typeof createLogBuffer>} buffer
 * @param {boolean} capture
 */
function captureConsole(buffer, capture) {
  /** @type {Record<string, LogLevel>} */
  const levels = { log: "log", info: "info", warn: "warn", error: "error", debug: "debug", trace: "debug" };
  for (const [method, level] of Object.entries(levels)) {
    /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (console))[method] = capture
      ? (/** @type {unknown[]} */ ...args) => buffer.push(level, args)
      : () => {};
  }
}

/**
 * The error part of the reply, as JSON text. Every read of the thrown value may run user code (getters, Proxy
 * traps, toString) or give something huge: each is read on its own, turned into text and cut to its limit, and
 * whatever happens the run stays an error.
 * @param {unknown} thrown
 * @returns {string}
 */
function describeThrown(thrown) {
  if (typeof thrown === "object" && thrown !== null && isError(thrown)) {
    const name = cutText(readText(thrown, "name"), MAX_ERROR_NAME_CHARS);
    const message = cutText(readText(thrown, "message"), MAX_ERROR_MESSAGE_CHARS);
    const stack = cutText(readText(thrown, "stack"), MAX_ERROR_STACK_CHARS);
    const code = issuedCapabilityCode(thrown);
    return (
      `{"name":${JSONStringify(name === "" ? "Error" : name)},"message":${JSONStringify(message)},"stack":${JSONStringify(stack)}` +
      `${code === undefined ? "" : `,"code":${JSONStringify(cutText(code, 64))}`}}`
    );
  }
  const message = cutText(`Uncaught ${formatLogArgs([thrown], LOG_ARG_LIMITS)}`, MAX_ERROR_MESSAGE_CHARS);
  return `{"name":"Error","message":${JSONStringify(message)}}`;
}

export default class Harness extends WorkerEntrypoint {
  /** A second call into this isolate while run() is under way; it takes effect when the code next yields. */
  cancel() {
    cancelRun();
  }

  /**
   * Not async: this returns one promise of the harness's own, resolved with a string. It is detached like the
   * user's promise although workerd's RPC layer was not seen to consult `constructor` on it (measured: the
   * constructor and species attacks in test/execution/integrity.test.ts pass without it; they fail without the
   * detachment of the user's promise): it costs one defineProperty and does not depend on how the runtime
   * observes the promise.
   * @param {{ contextJson: string, timeoutMs: number, stepsPerMs: number, captureLogs: boolean, sessionStateJson?: string }} input
   * @returns {Promise<string>}
   */
  run(input) {
    // Read while the realm is still as the harness built it.
    const contextJson = input.contextJson;
    const timeoutMs = input.timeoutMs;
    const startedAt = DateNow();
    const channel = createLogChannel(/** @type {{ LOGS?: any }} */ (this.env).LOGS, startedAt);
    const logs = createLogBuffer(channel);
    captureConsole(logs, input.captureLogs === true);
    installCapabilities(/** @type {Record<string, unknown>} */ (/** @type {unknown} */ (this.env)));
    const control = createGuard(startedAt + timeoutMs, input.stepsPerMs);
    // The program's other modules and its packages check this guard from now on (module-guard.js).
    armModuleGuard(control);
    // A session cell (worker/sessions/cell.ts): its prologue reads the restored values from the guard's `s` and
    // its first statement leaves a capture function there. The guard is reachable only from generated code.
    /** @type {{ __proto__: null, v: Record<string, unknown>, c: unknown } | undefined} */
    let session;

    /** @type {(json: string) => void} */
    let resolveReply = () => {};
    const reply = /** @type {Promise<string>} */ (
      detachFromUserPromise(
        new PromiseCtor((/** @type {(json: string) => void} */ resolve) => {
          resolveReply = resolve;
        }),
      )
    );
    let settled = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let handle;
    /** @param {string} fields the reply's members after status and logs, as JSON text starting with "," or empty */
    const settle = (/** @type {"success" | "error" | "timeout" | "cancelled"} */ status, fields) => {
      if (settled) return;
      settled = true;
      if (handle !== undefined) clearTimeoutSafe(handle);
      channel.close();
      resolveReply(`{"status":"${status}","logs":${logs.drain()}${fields}}`);
    };
    /**
     * The run is over its time: the guard tripped, or the clock is past the deadline. The second catches one last
     * builtin call (a huge sort, a regex) that passes no guard check and finishes late: that run exceeded its
     * timeout whatever it returned, as a Python run does (worker/languages/python/child/harness.js).
     */
    const overran = () => control.isTripped() || DateNow() > startedAt + timeoutMs;
    const settleTimeout = () =>
      settle(
        "timeout",
        `,"error":{"name":"TimeoutError","message":${JSONStringify(`Execution exceeded the timeout of ${timeoutMs} ms`)}}`,
      );
    /** @param {unknown} error */
    const settleThrown = (error) => {
      // The guard's timeout error may have been caught and rethrown as something else: the clock decides.
      if (overran()) return settleTimeout();
      settle("error", `,"error":${describeThrown(error)}`);
    };
    /**
     * Reaction handlers return nothing: a returned object would be looked up for `.then` when the derived
     * promise resolves with it.
     * @param {unknown} value
     */
    const onReturned = (value) => {
      if (settled) return;
      if (overran()) {
        settleTimeout();
        return;
      }
      if (value === undefined) {
        const fields = sessionFields();
        if (overran()) {
          settleTimeout();
          return;
        }
        settle("success", fields);
        return;
      }
      // Encoding runs the value's getters and toJSON, guarded like the rest of the user's code.
      const { json, truncated } = encodeJson(value, RESULT_LIMITS);
      const stateFields = sessionFields();
      if (overran()) {
        settleTimeout();
        return;
      }
      settle("success", `,"resultJson":${JSONStringify(json)}${truncated ? `,"resultTruncated":true` : ""}${stateFields}`);
    };
    /** The session's state after a successful cell, as reply members (keep in sync with child-protocol.ts). */
    const sessionFields = () => {
      if (session === undefined) return "";
      const capture = session.c;
      if (typeof capture !== "function") return `,"stateProblem":"failed"`;
      const state = encodeState(/** @type {() => unknown} */ (capture), MAX_SESSION_STATE_CHARS);
      if (state.tooLarge) return `,"stateProblem":"too_large"`;
      if (state.json === undefined) return `,"stateProblem":"failed"`;
      return `,"stateJson":${JSONStringify(state.json)}`;
    };
    /** @param {unknown} error */
    const onThrew = (error) => {
      if (!settled) settleThrown(error);
    };

    // A cancel ends the wait at once; the tripped guard stops a loop at its next check.
    onCancel(() => {
      control.trip();
      settle("cancelled", `,"error":{"name":"CancelledError","message":"The execution was cancelled"}`);
    });

    // Catches code that awaits forever; loops are caught by the guard.
    handle = setTimeoutSafe(() => {
      control.trip();
      settleTimeout();
    }, timeoutMs);
    protectTimer(handle);

    let running;
    try {
      if (typeof input.sessionStateJson === "string") {
        session = { __proto__: null, v: decodeState(input.sessionStateJson), c: undefined };
        ObjectDefineProperty(control.guard, "s", /** @type {PropertyDescriptor} */ ({ __proto__: null, value: session }));
      }
      const main = makeMain(control.guard, JSONParse(contextJson));
      running = main();
    } catch (error) {
      settleThrown(error);
      return reply;
    }
    try {
      PromisePrototypeThen(detachFromUserPromise(running), onReturned, onThrew);
    } catch (error) {
      // Only reachable if user.js stopped being an async function; an honest error rather than a hang.
      settle("error", `,"error":{"name":"SandboxError","message":"the program did not return a promise"}`);
    }
    return reply;
  }
}
