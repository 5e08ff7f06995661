// @ts-nocheck -- Pyodide's module objects are untyped here; the reply is re-checked by the parent anyway.
// The main module of every Python sandbox isolate. The front Worker (worker/languages/python/) loads it into a
// fresh isolate with Pyodide's files, the memory snapshot, runner.py and the user's code as user.py, and calls
// run() once over RPC. scripts/python-snapshot/ loads it the same way without a snapshot and calls makeSnapshot().
//
// Protocol (keep in sync with worker/execution/child-protocol.ts): run(ChildRunInput) resolves with ONE JSON
// string, a serialized ChildReply { status, logs, resultJson?, resultTruncated?, error?: { name, message, stack?,
// code? } }, the same reply the JavaScript harness gives, so one parser serves both.
//
// Workerd forbids compiling wasm and eval at request time in a Loader child, but allows instantiating a module the
// loader compiled: pyodide.asm.wasm arrives as a compiled module and createPyodideModule's instantiateWasm hook
// instantiates it. Pyodide boots from the snapshot (Python's init already done) in ~110 ms instead of ~1.4 s.

import { WorkerEntrypoint } from "cloudflare:workers";
import { loadPyodide } from "./pyodide.mjs";
import createPyodideModule from "./pyodide.asm.mjs";
import wasmModule from "./pyodide.asm.wasm";
import stdlib from "./python_stdlib.zip";
import runnerSource from "./runner.py";
import userSource from "./user.py";
// Empty while the snapshot is being made (scripts/python-snapshot/).
import snapshot from "./snapshot.bin";
import { createGuard } from "./guard.js";
// The JavaScript harness's log channel, as is: print() and logging leave the isolate as they are made, and the
// run's cancellation arrives the same two ways (cancel() below, or a batch's answer).
import { cancelRun, createLogChannel, onCancel } from "./log-channel.js";

// Keep in sync with schemas/limits.ts.
const MAX_LOG_ENTRIES = 1_000;
const MAX_LOG_MESSAGE_CHARS = 8 * 1024;
const MAX_LOG_TOTAL_CHARS = 512 * 1024;
const RESULT_LIMITS = { maxChars: 1024 * 1024, maxDepth: 64, maxNodes: 100_000 };

/** Modules imported while the snapshot is made cost nothing at run time; others compile from source (~10-900 ms). */
const SNAPSHOT_WARM_IMPORTS = [
  "abc", "argparse", "array", "ast", "asyncio", "base64", "binascii", "bisect", "calendar", "cmath", "collections",
  "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum", "errno",
  "fnmatch", "fractions", "functools", "gc", "glob", "gzip", "hashlib", "heapq", "hmac", "html", "inspect", "io",
  "itertools", "json", "locale", "logging", "math", "numbers", "operator", "pathlib", "pprint", "random", "re",
  "secrets", "shlex", "signal", "statistics", "string", "struct", "tempfile", "textwrap", "time", "traceback",
  "types", "typing", "unicodedata", "urllib.parse", "uuid", "weakref", "xml.etree.ElementTree", "zlib",
  "pyodide.code",
];

const BASE_URL = "https://pyodide.invalid/";
// Pyodide's browser path resolves file names against location; emscripten's fallback for setImmediate registers
// a capturing "message" listener, which workerd rejects.
globalThis.location ??= new URL(BASE_URL);
globalThis.setImmediate ??= (fn, ...args) => setTimeout(fn, 0, ...args);
globalThis.clearImmediate ??= (id) => clearTimeout(id);

/** Empty package map: no micropip, no wheels, nothing fetched. Matches node_modules/pyodide/pyodide-lock.json "info". */
const LOCK_FILE = { info: { abi_version: "2026_0", arch: "wasm32", platform: "emscripten_5_0_3", python: "3.14.2" }, packages: {} };

// Captured at module evaluation, before any user code exists.
const now = Date.now;
const nowIso = () => new Date(now()).toISOString();
const schedule = setTimeout;
const unschedule = clearTimeout;
const race = Promise.race.bind(Promise);
const stringify = JSON.stringify;
const parseJson = JSON.parse;

/**
 * @param {Uint8Array | undefined} snapshotBytes the memory snapshot to restore, or undefined to make one
 */
async function boot(snapshotBytes) {
  // The only file Pyodide fetches while booting is the stdlib zip: answer it from the module, nothing leaves.
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url) => new Response(String(url).endsWith("/python_stdlib.zip") ? stdlib : new Uint8Array(0));
  try {
    return await loadPyodide({
      indexURL: BASE_URL,
      packageBaseUrl: BASE_URL,
      lockFileContents: LOCK_FILE,
      checkAPIVersion: true,
      ...(snapshotBytes ? { _loadSnapshot: snapshotBytes } : { _makeSnapshot: true }),
      createPyodideModule: (settings) => {
        settings.instantiateWasm = (imports, done) => {
          // Pyodide's own fallback for jsverror.wasm, which would need a compile at request time.
          const marker = Symbol("error marker");
          imports.env.Jsv_GetError_import = () => marker;
          imports.env.JsvError_Check = (value) => value === marker;
          done(new WebAssembly.Instance(wasmModule, imports), wasmModule);
          return {};
        };
        return createPyodideModule(settings);
      },
    });
  } finally {
    globalThis.fetch = realFetch;
  }
}

/** @param {{ accept(entryJson: string): void } | undefined} channel gets each entry the buffer accepts, in order */
function createLogBuffer(channel) {
  const entries = [];
  let totalChars = 0;
  let dropped = 0;
  return {
    push(level, message) {
      if (entries.length >= MAX_LOG_ENTRIES || totalChars >= MAX_LOG_TOTAL_CHARS) {
        dropped++;
        return;
      }
      let text = String(message);
      if (text.length > MAX_LOG_MESSAGE_CHARS) {
        text = `${text.slice(0, MAX_LOG_MESSAGE_CHARS)}… [message truncated: ${text.length} characters]`;
      }
      totalChars += text.length;
      const entry = { level, message: text, timestamp: nowIso() };
      entries.push(entry);
      // Its index in `entries` is its sequence number on the channel: both count the same accepted entries.
      channel?.accept(stringify(entry));
    },
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

const LOG_LEVELS = new Set(["log", "info", "warn", "error", "debug"]);

/** Capability replies as capabilities.js makes them; a missing stub is a denial, not a crash. */
function capabilityBridge(env) {
  const denied = (name) =>
    stringify({ ok: false, error: { code: "CAPABILITY_DENIED", message: `${name}() is not allowed for this execution (config.allowedAPIs)` } });
  const call = async (name, invoke) => {
    try {
      return stringify(await invoke());
    } catch (error) {
      return stringify({ ok: false, error: { code: "SANDBOX_ERROR", message: `${name}() failed: ${String(error?.message ?? error)}` } });
    }
  };
  return {
    ai: async (model, inputJson) => (env.AI ? call("ai", () => env.AI.run(model, parseJson(inputJson))) : denied("ai")),
    api: async (url, optionsJson) =>
      env.API ? call("api", () => env.API.request(url, optionsJson === undefined ? undefined : parseJson(optionsJson))) : denied("api"),
    db: async (queryJson) => (env.DB ? call("db", () => env.DB.query(parseJson(queryJson))) : denied("db")),
  };
}

/** Spins after which a clock that has not moved is taken as frozen (production freezes it during synchronous code). */
const FROZEN_CLOCK_SPINS = 1_000_000;

/**
 * time.sleep: Pyodide's own busy-waits in libc, outside the signal checks, so it ran seconds past the deadline.
 * This one waits on the clock (workerd forbids Atomics.wait here, and without JSPI it cannot yield), never past
 * the deadline: a sleep that would cross it waits until the deadline and trips the guard, whose next check stops
 * the code where Python cannot catch it. With a frozen clock nothing can happen while a synchronous sleep waits
 * (no I/O runs), so it returns at once.
 */
function sleepUntil(deadlineAt, control, seconds) {
  const ms = Number(seconds) * 1000;
  if (!(ms > 0)) return;
  const startedAt = now();
  const wakeAt = Math.min(startedAt + ms, deadlineAt);
  let spins = 0;
  let clock = startedAt;
  while (clock < wakeAt) {
    const next = now();
    if (next === startedAt && ++spins > FROZEN_CLOCK_SPINS) return;
    clock = next;
  }
  if (startedAt + ms >= deadlineAt) control.trip();
}

export default class PythonHarness extends WorkerEntrypoint {
  /**
   * @param {{ contextJson: string, timeoutMs: number, stepsPerMs: number, captureLogs: boolean }} input
   * @returns {Promise<string>} a serialized ChildReply
   */
  async run(input) {
    const channel = createLogChannel(this.env.LOGS, now());
    const logs = createLogBuffer(channel);
    let py;
    try {
      py = await boot(new Uint8Array(snapshot));
    } catch (error) {
      return stringify({ status: "error", logs: [], error: { name: "SandboxError", message: `Python did not start: ${String(error?.message ?? error)}` } });
    }
    // The deadline counts from here: booting is the service's cost, not the caller's budget.
    const deadlineAt = now() + input.timeoutMs;
    const control = createGuard(deadlineAt, input.stepsPerMs);
    let finished = false;
    const log = (level, message) => {
      if (finished || control.isTripped() || !input.captureLogs) return;
      logs.push(LOG_LEVELS.has(level) ? level : "log", message);
    };
    // Raw writes to fds 1 and 2 (C code; Pyodide's fatal-error report after a guard trip) never reach the reply.
    const discard = { write: (bytes) => bytes.length };
    py.setStdout(discard);
    py.setStderr(discard);

    let timerHandle;
    const timer = new Promise((resolve) => {
      // Catches code that awaits forever; loops are stopped by the guard.
      timerHandle = schedule(() => {
        control.trip();
        resolve({ kind: "timeout" });
      }, input.timeoutMs);
    });

    const execution = (async () => {
      try {
        const scope = py.globals.get("dict")();
        py.runPython(runnerSource, { globals: scope, filename: "<runner>" });
        const runner = scope.get("run");
        scope.destroy();
        // The JS bridge is not a way out: after this, `import js` / `import pyodide_js` fail in user code.
        py.runPython("import sys\nfor _m in ('js', 'pyodide_js'):\n    sys.modules.pop(_m, None)\ndel sys, _m");
        py.unregisterJsModule("js");
        py.unregisterJsModule("pyodide_js");
        const bridge = {
          ...capabilityBridge(this.env),
          log,
          sleep: (seconds) => sleepUntil(deadlineAt, control, seconds),
        };
        // The patched _Py_CheckEmscriptenSignals_Helper calls this every ~50 eval-breaker ticks; its throw
        // unwinds through wasm as a JS error, which no Python `except` can catch.
        py._module.__guard = control.guard;
        py.setInterruptBuffer(new Int32Array(1));
        const replyJson = await runner(String(userSource), input.contextJson, bridge, RESULT_LIMITS.maxChars, RESULT_LIMITS.maxDepth, RESULT_LIMITS.maxNodes);
        return { kind: "returned", replyJson: String(replyJson) };
      } catch (error) {
        return { kind: "threw", error };
      }
    })();

    const cancelled = new Promise((resolve) => {
      onCancel(() => {
        // The guard's next check (Pyodide's signal check) stops the interpreter; the wait ends now.
        control.trip();
        resolve({ kind: "cancelled" });
      });
    });

    const outcome = await race([execution, timer, cancelled]);
    unschedule(timerHandle);
    finished = true;
    // Whatever is still pending goes with the reply.
    channel.close();

    if (outcome.kind === "cancelled") {
      return stringify({ status: "cancelled", logs: logs.drain(), error: { name: "CancelledError", message: "The execution was cancelled" } });
    }

    // A C-level call the signal checks never interrupt (a huge sort) can still finish past the deadline: that run
    // exceeded its timeout, whatever it returned.
    if (control.isTripped() || outcome.kind === "timeout" || now() > deadlineAt) {
      return stringify({
        status: "timeout",
        logs: logs.drain(),
        error: { name: "TimeoutError", message: `Execution exceeded the timeout of ${input.timeoutMs} ms` },
      });
    }
    if (outcome.kind === "threw") {
      const error = outcome.error;
      return stringify({
        status: "error",
        logs: logs.drain(),
        error: { name: "SandboxError", message: `The Python runner failed: ${String(error?.message ?? error).slice(0, 2000)}` },
      });
    }
    // runner.py answers the status-specific fields; logs are the harness's.
    const fields = parseJson(outcome.replyJson);
    return stringify({ ...fields, logs: logs.drain() });
  }

  /** The front cancels the run (worker/execution/sandbox.ts): the same path as the JavaScript harness's cancel(). */
  cancel() {
    cancelRun();
  }

  /**
   * POST /validate: compiles user.py with the same compiler flags run() uses; no user code runs.
   * @returns {Promise<string>} JSON: null, or the SyntaxError { message, line?, column? }
   */
  async check() {
    const py = await boot(new Uint8Array(snapshot));
    const scope = py.globals.get("dict")();
    py.runPython(runnerSource, { globals: scope, filename: "<runner>" });
    return String(scope.get("check")(String(userSource)));
  }

  /** Build time only (scripts/build-python.mjs): boots without a snapshot, warms the imports, returns it gzipped. */
  async makeSnapshot() {
    const py = await boot(undefined);
    py.runPython(SNAPSHOT_WARM_IMPORTS.map((name) => `import ${name}`).join("\n"));
    const raw = py.makeMemorySnapshot();
    const gzipped = new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip")));
    return new Uint8Array(await gzipped.arrayBuffer());
  }
}
