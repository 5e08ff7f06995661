#!/usr/bin/env node
// The sandbox plane: N sandbox-host processes (plain workerd, sandbox-host/workerd.capnp) and the dispatcher in
// front of them. The front Worker posts every run here (worker/execution/remote-sandbox.ts); this process picks a
// host with a free slot, holds the run briefly when there is none, and answers with the outcome.
//
// This process owns the hosts, so it is the one that knows when a host is busy or dead, without probes:
// - a run that outlives its deadline (timeout + grace, sent by the front) means its host's only JavaScript thread
//   is stuck (a catastrophic regex, a builtin-only microtask loop): the host is SIGKILLed at once, that caller
//   gets `unresponsive` (the front reports status "timeout"), and a replacement starts;
// - a host process that exits under its runs (a memory bomb makes V8 abort it at --max-old-space-size) costs
//   those runs only: each gets `out-of-memory` when workerd said so on stderr, else a sandbox error;
// - a host that dies is restarted at once, then with backoff (0.25 s doubling to 10 s) while it keeps dying
//   before coming up; it never gives up, and says so in the console;
// - while no slot is free, runs wait up to the front's queue budget, then get 503 (the front answers 503 with
//   Retry-After); the plane's own socket is always open, so callers never see a TCP refusal;
// - CPU priority follows the work: a host whose run is overdue (past its timeout, x-overdue-ms) or that is
//   starting as a replacement runs at the lowest, so on a small machine the front and the other hosts come first
//   (HOST_NICE; a lower priority for long runs exists, off by default).
// - a caller that closes its request before the answer has cancelled the run (the front aborts its fetch): a
//   queued run is dropped, a running one's host is SIGKILLed at once and replaced, since killing is the only
//   thing that stops code that never yields. With more than one slot per host, its other runs end with it.
//
// Protocol: keep in sync with worker/execution/remote-sandbox.ts (front side) and sandbox-host/host.js.
//
// As a program (self-hosting): node scripts/sandbox-plane.mjs --front 127.0.0.1:8787 [--port 8790] [--hosts N]
// [--slots N]. As a module: startSandboxPlane() (scripts/dev.mjs, scripts/local-service.mjs).

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const ROOT = path.resolve(import.meta.dirname, "..");
export const WORKERD = path.join(ROOT, "node_modules", "@cloudflare", `workerd-${process.platform}-${process.arch === "x64" ? "64" : process.arch}`, "bin", "workerd");
export const HOST_CONFIG = path.join(ROOT, "sandbox-host", "workerd.capnp");
/** The language files every host reads (Python's, by scripts/build-python.mjs): the front's ASSETS directory. */
export const LANGUAGE_ASSETS = path.join(ROOT, "python-assets");

/**
 * Runs one host works on at once. One by default: a host stuck in a runaway (or killed by one) then holds no
 * other caller's run, which is the isolation this plane exists for. More slots overlap waits on capabilities.
 */
export const DEFAULT_SLOTS_PER_HOST = 1;
/** Runs waiting for a slot, at most; past it a run is answered 503 at once. */
const MAX_QUEUED_RUNS = 512;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** A host that stayed up this long before dying restarts without delay and resets the backoff. */
const STABLE_AFTER_MS = 10_000;
const STDERR_KEPT_CHARS = 8_192;
/** How long a dropped connection waits for its host's exit to be reported, to learn why. */
const HANG_UP_EXIT_WAIT_MS = 1_000;
/**
 * A host's niceness, above the plane's own, by what it is doing. On a machine with few cores a runaway holds one
 * core until its deadline and everything else (the front, the other hosts) shares the rest; these keep that share
 * for short runs. Niceness only matters when the CPU is contended: an idle machine runs a long run at full speed.
 * - long: a run whose code ran past LONG_RUN_MS (after the language's startup, x-startup-ms: CPU-heavy code, or
 *   a runaway not yet at its timeout) yields some of its share to short runs;
 * - overdue: a run OVERDUE_MARGIN_MS past its timeout, which its guard should have ended: stuck until the kill;
 * - starting: a replacement while workerd starts (~100 ms of CPU), when another host is up to serve meanwhile.
 * A host gets its priority back when that ends, which needs CAP_SYS_NICE: without it the plane changes no host's
 * priority at all (probePriority).
 */
const HOST_NICE = { normal: 0, long: 5, overdue: 19, starting: 19 };
const LONG_RUN_MS = 250;
/** A guard-stopped run answers within milliseconds of its timeout; one still running this much later is stuck. */
const OVERDUE_MARGIN_MS = 100;
/**
 * "long" is not on by default: no benefit could be measured on this shared machine, and under load from other
 * processes it slows legitimate CPU-heavy runs (their timeout is wall-clock time here).
 */
const DEFAULT_PRIORITY_STAGES = ["overdue", "starting"];
/** V8 and workerd's words when the heap limit kills the process. */
const OUT_OF_MEMORY = /out of memory|heap limit|allocation failed/i;

/**
 * @param {{
 *   front: string,
 *   hosts?: number,
 *   slotsPerHost?: number,
 *   port?: number,
 *   log?: (message: string) => void,
 *   priorities?: false,
 * }} options  front: the front Worker's host:port, where hosts send capability calls. priorities: false leaves host
 *   priorities alone (see HOST_NICE).
 */
export async function startSandboxPlane(options) {
  const hostCount = options.hosts ?? os.availableParallelism();
  const slotsPerHost = options.slotsPerHost ?? DEFAULT_SLOTS_PER_HOST;
  const log = options.log ?? ((message) => console.error(`[sandbox-plane] ${message}`));
  /** @type {Map<string, Buffer>} module sets by SHA-256 (hex) of their bytes */
  const moduleSets = new Map();
  /** @type {Array<{ run: (host: any) => void, fail: () => void, timer: NodeJS.Timeout }>} */
  const queue = [];
  let stopping = false;
  const counters = { runs: 0, unresponsive: 0, outOfMemory: 0, rejected: 0, restarts: 0, cancelled: 0 };
  /** Which HOST_NICE stages apply; scripts/bench-plane-runaway.mjs compares subsets. */
  let priorities = new Set(options.priorities === false ? [] : DEFAULT_PRIORITY_STAGES);
  /** The plane's own niceness: what a host runs at once it is up. */
  const runningNice = os.getPriority();
  let priorityWarned = false;

  /** @returns {boolean} whether the kernel let the plane set it (raising a priority back needs CAP_SYS_NICE) */
  function setHostPriority(host, proc, nice) {
    try {
      // Niceness is per thread on Linux, and threads inherit it when created: workerd's V8 worker threads (wasm
      // compilation, GC) started while a host was at LOW nice would stay there. So every thread is set.
      for (const tid of threadsOf(proc.pid)) os.setPriority(tid, nice);
      return true;
    } catch (error) {
      if (!priorityWarned) {
        priorityWarned = true;
        log(`host ${host.id}: could not set its priority to nice ${nice} (${error.code ?? error.message})`);
      }
      return false;
    }
  }
  /** @param {number} pid @returns {number[]} the process's threads (Linux /proc), or just the pid elsewhere */
  function threadsOf(pid) {
    try {
      return readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => Number.isInteger(tid) && tid > 0);
    } catch {
      return [pid];
    }
  }

  /** Whether the plane may give a host its priority back (unknown until the first host starts). */
  /** @type {boolean | undefined} */
  let mayRaisePriority = runningNice >= 19 ? false : undefined;

  /** Lowers the first host's priority one step and raises it back: only a plane allowed to do that lowers any. */
  function probePriority(host, proc) {
    mayRaisePriority = setHostPriority(host, proc, runningNice + 1) && setHostPriority(host, proc, runningNice);
    if (!mayRaisePriority) log("hosts keep the normal CPU priority whatever they run (raising one back needs CAP_SYS_NICE)");
  }

  /** Sets the host's priority from its state and its runs' stages (HOST_NICE), if it changed. */
  function updatePriority(host) {
    const proc = host.proc;
    if (!proc || host.state === "dead" || mayRaisePriority !== true) return;
    let nice = HOST_NICE.normal;
    if (host.state === "starting" && host.startLow && priorities.has("starting")) nice = HOST_NICE.starting;
    for (const run of host.inflight) {
      if (run.overdue && priorities.has("overdue")) nice = Math.max(nice, HOST_NICE.overdue);
      else if (run.long && priorities.has("long")) nice = Math.max(nice, HOST_NICE.long);
    }
    if (nice === host.nice) return;
    if (setHostPriority(host, proc, Math.min(19, runningNice + nice))) host.nice = nice;
  }

  const hosts = Array.from({ length: hostCount }, (_, index) => ({
    id: index + 1,
    /** @type {import("node:child_process").ChildProcess | undefined} */
    proc: undefined,
    state: /** @type {"starting" | "ready" | "dead"} */ ("dead"),
    port: 0,
    /** @type {Set<{ answer: (status: number, body: string | Buffer) => void, killedFor?: string }>} */
    inflight: new Set(),
    /** @type {Set<string>} */
    knownSets: new Set(),
    agent: new http.Agent({ keepAlive: true }),
    stderr: "",
    startedAt: 0,
    /** This process reported its socket: it came up, whatever it is now. */
    cameUp: false,
    backoffMs: 0,
    /** Why this process is being killed, if the plane killed it. */
    killReason: /** @type {string | undefined} */ (undefined),
    /** This process starts at HOST_NICE.starting (another host was up when it was spawned). */
    startLow: false,
    /** The niceness the plane last gave this process, above its own. */
    nice: 0,
  }));

  function spawnHost(host) {
    if (stopping) return;
    host.state = "starting";
    host.stderr = "";
    host.killReason = undefined;
    host.knownSets = new Set();
    host.agent.destroy();
    host.agent = new http.Agent({ keepAlive: true });
    host.startedAt = Date.now();
    host.cameUp = false;
    host.nice = HOST_NICE.normal;
    const proc = spawn(
      WORKERD,
      ["serve", "--experimental", HOST_CONFIG, "-s", "http=127.0.0.1:0", "-e", `front=${options.front}`, "-d", `language-assets=${LANGUAGE_ASSETS}`, "--control-fd=3"],
      // Not detached: a Ctrl-C in the terminal reaches the hosts too. workerd starts no processes of its own.
      { cwd: ROOT, stdio: ["ignore", "ignore", "pipe", "pipe"] },
    );
    host.proc = proc;
    // A dispatcher that exits without stop() (an uncaught error, process.exit) takes its hosts with it: left to
    // init, an idle workerd was seen holding memory, and one whose parent went away spinning on a core.
    const killOnExit = () => proc.kill("SIGKILL");
    process.once("exit", killOnExit);
    proc.once("exit", () => process.removeListener("exit", killOnExit));
    if (mayRaisePriority === undefined && proc.pid !== undefined) probePriority(host, proc);
    // Only while another host serves: when none is up, this start is on every caller's critical path.
    host.startLow = hosts.some((h) => h !== host && h.state === "ready");
    updatePriority(host);
    proc.stderr?.on("data", (chunk) => {
      host.stderr = (host.stderr + chunk.toString()).slice(-STDERR_KEPT_CHARS);
    });
    let control = "";
    /** @type {import("node:stream").Readable} */ (proc.stdio[3]).on("data", (chunk) => {
      control += chunk.toString();
      for (let newline = control.indexOf("\n"); newline >= 0; newline = control.indexOf("\n")) {
        const line = control.slice(0, newline);
        control = control.slice(newline + 1);
        try {
          const event = JSON.parse(line);
          if (event.event === "listen" && event.socket === "http" && host.proc === proc) {
            host.port = event.port;
            host.state = "ready";
            updatePriority(host);
            host.cameUp = true;
            log(`host ${host.id} up on 127.0.0.1:${host.port} (pid ${proc.pid}, ${Date.now() - host.startedAt} ms)`);
            drainQueue();
          }
        } catch {
          // Not a control message.
        }
      }
    });
    proc.on("error", (error) => log(`host ${host.id} could not start: ${error.message}`));
    proc.on("exit", (code, signal) => onHostExit(host, proc, code, signal));
  }

  function onHostExit(host, proc, code, signal) {
    if (host.proc !== proc) return;
    const cameUp = host.cameUp;
    host.state = "dead";
    host.proc = undefined;
    const outOfMemory = OUT_OF_MEMORY.test(host.stderr);
    const why = host.killReason ?? (outOfMemory ? "it ran out of memory" : `it exited (${signal ?? `code ${code}`})`);
    for (const run of host.inflight) {
      if (run.killedFor) continue; // already answered
      if (outOfMemory && !host.killReason) {
        counters.outOfMemory++;
        run.answer(200, JSON.stringify({ kind: "out-of-memory", message: "The sandbox ran out of memory and was stopped; its logs are lost" }));
      } else {
        run.answer(200, JSON.stringify({ kind: "failed", name: "SandboxError", message: `The sandbox process was stopped under this execution because ${why}` }));
      }
    }
    host.inflight.clear();
    if (stopping) return;
    // A host that came up and then died was killed by its code: replace it now. One that keeps dying young (or
    // never comes up: a broken config, a missing binary) is retried with growing delays, forever.
    const lived = Date.now() - host.startedAt;
    if (cameUp && (lived > STABLE_AFTER_MS || host.backoffMs === 0)) host.backoffMs = 0;
    else host.backoffMs = host.backoffMs === 0 ? BACKOFF_FIRST_MS : Math.min(host.backoffMs * 2, BACKOFF_MAX_MS);
    counters.restarts++;
    const lines = host.stderr.trim().split("\n").filter((line) => line && !line.startsWith("stack:"));
    const tail = (lines.find((line) => OUT_OF_MEMORY.test(line)) ?? lines.at(-1) ?? "").slice(0, 300);
    log(`host ${host.id} is gone: ${why}${tail && !host.killReason ? ` (${tail})` : ""}; restarting it in ${(host.backoffMs / 1000).toFixed(2)} s`);
    setTimeout(() => spawnHost(host), host.backoffMs).unref();
    // A replacement takes ~0.2 s; meanwhile queued runs go to the other hosts.
    drainQueue();
  }

  function killHost(host, reason) {
    if (!host.proc || host.killReason) return;
    host.killReason = reason;
    host.state = "dead"; // nothing new is sent to it; the exit handler restarts it
    host.proc.kill("SIGKILL");
  }

  function freeHost() {
    let best;
    for (const host of hosts) {
      if (host.state !== "ready" || host.inflight.size >= slotsPerHost) continue;
      if (!best || host.inflight.size < best.inflight.size) best = host;
    }
    return best;
  }

  function drainQueue() {
    while (queue.length > 0) {
      const host = freeHost();
      if (!host) return;
      const waiting = queue.shift();
      clearTimeout(waiting.timer);
      waiting.run(host);
    }
  }

  /** @returns {Promise<{ status: number, body: Buffer }>} */
  function hostRequest(host, method, urlPath, body) {
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: "127.0.0.1", port: host.port, method, path: urlPath, agent: host.agent, headers: { "content-type": "application/json", "content-length": body.length } },
        (response) => {
          const chunks = [];
          response.on("data", (chunk) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 500, body: Buffer.concat(chunks) }));
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  /**
   * @param {{ gone: boolean, cancel?: () => void }} caller  set by the request handler when the caller hangs up
   */
  async function runOnHost(host, body, hash, deadlineMs, overdueMs, startupMs, respond, caller) {
    if (caller.gone) return drainQueue();
    counters.runs++;
    let answered = false;
    /** @type {NodeJS.Timeout[]} */
    const stageTimers = [];
    const run = {
      answer(status, payload) {
        if (answered) return;
        answered = true;
        for (const timer of stageTimers) clearTimeout(timer);
        host.inflight.delete(run);
        updatePriority(host);
        respond(status, payload);
        drainQueue();
      },
      killedFor: /** @type {string | undefined} */ (undefined),
      long: false,
      overdue: false,
    };
    host.inflight.add(run);
    const stage = (name, afterMs) => {
      if (afterMs > 0 && afterMs < deadlineMs) {
        stageTimers.push(setTimeout(() => {
          run[name] = true;
          updatePriority(host);
        }, afterMs));
      }
    };
    stage("long", startupMs + LONG_RUN_MS);
    stage("overdue", overdueMs + OVERDUE_MARGIN_MS);
    caller.cancel = () => {
      if (answered) return;
      counters.cancelled++;
      log(`host ${host.id}: a run was cancelled: killing it`);
      killHost(host, "a run on it was cancelled (killing is the only way to stop code that does not yield) and it was replaced");
      run.killedFor = "cancelled";
      run.answer(499, JSON.stringify({ error: "cancelled" }));
    };
    const timer = setTimeout(() => {
      counters.unresponsive++;
      log(`host ${host.id} missed a run's deadline (${deadlineMs} ms): killing it`);
      // Killed (so marked dead) before answering: answering frees the slot, and the queue must not refill it.
      killHost(host, "it missed an execution's deadline (code the guard cannot interrupt) and was replaced");
      run.killedFor = "deadline";
      run.answer(200, JSON.stringify({ kind: "unresponsive" }));
    }, deadlineMs);
    try {
      if (!host.knownSets.has(hash)) {
        const upload = await hostRequest(host, "PUT", `/modules/${hash}`, moduleSets.get(hash));
        if (upload.status !== 204) throw new Error(`host refused the module set (${upload.status})`);
        host.knownSets.add(hash);
      }
      const result = await hostRequest(host, "POST", "/run", body);
      if (result.status === 409) host.knownSets.delete(hash);
      run.answer(result.status === 409 ? 503 : result.status, result.body);
    } catch (error) {
      // A dying host closes its connections before its exit is reported, and the exit handler gives the runs the
      // reason (out of memory); this answers only if the host lives on.
      const proc = host.proc;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, HANG_UP_EXIT_WAIT_MS);
          proc.once("exit", () => {
            clearTimeout(timer);
            setImmediate(resolve);
          });
        });
      }
      run.answer(200, JSON.stringify({ kind: "failed", name: "SandboxError", message: `The sandbox host failed: ${error.message}` }));
    } finally {
      clearTimeout(timer);
    }
  }

  function readBody(request) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      request.on("data", (chunk) => chunks.push(chunk));
      request.on("end", () => resolve(Buffer.concat(chunks)));
      request.on("error", reject);
    });
  }

  // workerd refuses to start a host whose directory is missing; empty, it starts and Python runs fail clearly.
  mkdirSync(LANGUAGE_ASSETS, { recursive: true });

  const server = http.createServer(async (request, response) => {
    const respond = (status, payload, headers = {}) => {
      if (response.headersSent || response.destroyed) return;
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(payload);
    };
    try {
      const url = new URL(request.url ?? "/", "http://plane");
      if (request.method === "GET" && url.pathname === "/health") {
        respond(200, JSON.stringify({
          hosts: hosts.map((h) => ({ id: h.id, state: h.state, port: h.port, inflight: h.inflight.size, pid: h.proc?.pid })),
          queued: queue.length,
          slotsPerHost,
          ...counters,
        }));
        return;
      }
      const upload = /^\/modules\/([0-9a-f]{64})$/.exec(url.pathname);
      if (request.method === "PUT" && upload) {
        const body = await readBody(request);
        if (createHash("sha256").update(body).digest("hex") !== upload[1]) return respond(400, JSON.stringify({ error: "hash mismatch" }));
        moduleSets.set(upload[1], body);
        return respond(204, "");
      }
      if (request.method === "POST" && url.pathname === "/run") {
        // The front cancels a run by aborting this request (worker/execution/remote-sandbox.ts).
        /** @type {{ gone: boolean, cancel?: () => void }} */
        const caller = { gone: false };
        response.once("close", () => {
          if (response.writableFinished) return;
          caller.gone = true;
          caller.cancel?.();
        });
        const hash = String(request.headers["x-modules-hash"] ?? "");
        const deadlineMs = Number(request.headers["x-deadline-ms"]);
        const queueMs = Number(request.headers["x-queue-ms"] ?? 0);
        const overdueMs = Number(request.headers["x-overdue-ms"] ?? 0) || 0;
        const startupMs = Number(request.headers["x-startup-ms"] ?? 0) || 0;
        const body = await readBody(request);
        if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) return respond(400, JSON.stringify({ error: "x-deadline-ms is required" }));
        if (!moduleSets.has(hash)) return respond(409, JSON.stringify({ missing: "modules" }));
        const host = queue.length === 0 ? freeHost() : undefined;
        if (host) return void runOnHost(host, body, hash, deadlineMs, overdueMs, startupMs, respond, caller);
        if (queue.length >= MAX_QUEUED_RUNS || queueMs <= 0) {
          counters.rejected++;
          return respond(503, JSON.stringify({ error: "no sandbox host is free" }));
        }
        const waiting = {
          run: (free) => void runOnHost(free, body, hash, deadlineMs, overdueMs, startupMs, respond, caller),
          fail: () => {},
          timer: setTimeout(() => {
            const index = queue.indexOf(waiting);
            if (index >= 0) queue.splice(index, 1);
            counters.rejected++;
            respond(503, JSON.stringify({ error: "no sandbox host became free in time" }));
          }, queueMs),
        };
        queue.push(waiting);
        caller.cancel = () => {
          const index = queue.indexOf(waiting);
          if (index >= 0) queue.splice(index, 1);
          clearTimeout(waiting.timer);
        };
        return;
      }
      respond(404, JSON.stringify({ error: "not found" }));
    } catch (error) {
      log(`request failed: ${error instanceof Error ? error.stack : String(error)}`);
      respond(500, JSON.stringify({ error: "plane error" }));
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  for (const host of hosts) spawnHost(host);
  log(`dispatching to ${hostCount} sandbox host(s), ${slotsPerHost} slot(s) each, on http://127.0.0.1:${address.port}`);

  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    hosts,
    counters,
    /** The HOST_NICE stages that apply from the hosts' next change on (scripts/bench-plane-runaway.mjs). */
    setPriorities(/** @type {string[]} */ stages) {
      priorities = new Set(stages);
    },
    /** Resolves once every host is up (or the deadline passes). */
    async ready(deadlineMs = 30_000) {
      const until = Date.now() + deadlineMs;
      while (Date.now() < until && hosts.some((h) => h.state !== "ready")) await new Promise((r) => setTimeout(r, 50));
      return hosts.every((h) => h.state === "ready");
    },
    async stop() {
      stopping = true;
      for (const waiting of queue.splice(0)) clearTimeout(waiting.timer);
      const exits = [];
      for (const host of hosts) {
        if (!host.proc) continue;
        exits.push(new Promise((resolve) => host.proc.once("exit", resolve)));
        host.proc.kill("SIGKILL");
        host.agent.destroy();
      }
      await Promise.all(exits);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { front: { type: "string" }, port: { type: "string" }, hosts: { type: "string" }, slots: { type: "string" } },
  });
  if (!values.front) {
    console.error("usage: node scripts/sandbox-plane.mjs --front HOST:PORT [--port N] [--hosts N] [--slots N]");
    process.exit(2);
  }
  const plane = await startSandboxPlane({
    front: values.front,
    port: values.port ? Number(values.port) : undefined,
    hosts: values.hosts ? Number(values.hosts) : undefined,
    slotsPerHost: values.slots ? Number(values.slots) : undefined,
  });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void plane.stop().then(() => process.exit(0)));
}
