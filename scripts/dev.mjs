#!/usr/bin/env node
// `npm run dev`: the front Worker (wrangler dev) and the sandbox plane (scripts/sandbox-plane.mjs: N sandbox-host
// workerd processes and their dispatcher), under one supervisor that never gives up.
//
// User code never runs in the front's process: each execution goes to a sandbox host, so a runaway the guard
// cannot interrupt (a catastrophic regex, a builtin-only microtask loop) or a memory bomb costs only the host it
// ran on, which the plane kills and replaces (README, "Sandbox plane"). The front itself is supervised too: it is
// probed with GET /health and restarted when it stops answering, or when it exits, with backoff (0.25 s doubling
// to 10 s; reset once it has stayed up), forever, saying so in the console.
//
// Flags of this script (the rest goes to `wrangler dev` unchanged: `npm run dev -- --port 8788`):
//   --hosts N      sandbox hosts (default: the number of cores)
//   --slots N      executions per host at once (default 1)
//   --in-process   no plane: children run inside the front, as deployed (one runaway then stops everything)
//   --self-hosted  the front on plain workerd, as self-hosted (scripts/self-host.mjs builds its config once, into
//                  .wrangler/self-host/), instead of wrangler dev: no reload on edit, no wrangler proxy (README,
//                  "Self-hosting on workerd"); of wrangler's flags it takes --port, --ip and --persist-to, and
//                  of .dev.vars the vars that front reads from its environment (API_KEYS, AI_API_KEY, …)
// Before the first start it applies the local D1 migrations (skip with DEV_SKIP_MIGRATIONS=1).
// Tuning (environment): DEV_PROBE_INTERVAL_MS, DEV_PROBE_DEADLINE_MS, DEV_PROBE_MISSES.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { parseEnv, stripVTControlCharacters } from "node:util";
import os from "node:os";
import path from "node:path";
import { CHILD_ENV, LOCAL_VARS, ROOT, WRANGLER, applyLocalMigrations } from "./local-service.mjs";
import { DEFAULT_SLOTS_PER_HOST, startSandboxPlane } from "./sandbox-plane.mjs";
import { buildSelfHostedFront, FROM_ENVIRONMENT, spawnSelfHostedFront } from "./self-host.mjs";

const PROBE_INTERVAL_MS = Number(process.env.DEV_PROBE_INTERVAL_MS ?? 1_000);
const PROBE_DEADLINE_MS = Number(process.env.DEV_PROBE_DEADLINE_MS ?? 2_000);
/** Consecutive missed probes before a restart; one miss can be a file-watch reload. */
const PROBE_MISSES = Number(process.env.DEV_PROBE_MISSES ?? 2);
/** A start slower than this gets a hint in the console. */
const SLOW_START_MS = 30_000;
/** A wedged workerd ignores SIGTERM (its event loop is the stuck thread), so SIGKILL follows quickly. */
const TERM_GRACE_MS = 1_500;
/** Restart delays while the front keeps failing: the first restart is at once, then these, doubling. */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** A front that stayed up this long before failing counts as healthy again: its next restart is immediate. */
const STABLE_AFTER_MS = 30_000;

/**
 * --self-hosted: what wrangler dev would take from .dev.vars (API_KEYS, AI_API_KEY, …), for the vars the
 * self-hosted front reads from its environment; the environment itself wins, as it does for wrangler.
 */
function devVars() {
  const file = path.join(ROOT, ".dev.vars");
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, "utf8")) : {};
  return Object.fromEntries(
    FROM_ENVIRONMENT.flatMap((name) => {
      const value = process.env[name] ?? fromFile[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

/** Takes this script's own flags out of argv; the rest is wrangler's. */
function ownFlags(argv) {
  const rest = [];
  const flags = { hosts: os.availableParallelism(), slots: DEFAULT_SLOTS_PER_HOST, inProcess: false, selfHosted: false };
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split("=", 2);
    const value = () => Number(inline ?? argv[++i]);
    if (name === "--hosts") flags.hosts = value();
    else if (name === "--slots") flags.slots = value();
    else if (name === "--in-process") flags.inProcess = true;
    else if (name === "--self-hosted") flags.selfHosted = true;
    else rest.push(argv[i]);
  }
  for (const key of ["hosts", "slots"]) {
    if (!Number.isInteger(flags[key]) || flags[key] < 1) {
      console.error(`--${key} needs a whole number of at least 1`);
      process.exit(2);
    }
  }
  if (flags.selfHosted && flags.inProcess) {
    console.error("--self-hosted runs children on the plane only: it cannot be combined with --in-process");
    process.exit(2);
  }
  if (flags.selfHosted) {
    const unknown = rest.filter((arg, i) => arg.startsWith("--") && !/^--(port|ip|persist-to)(=|$)/.test(arg) && !(i > 0 && /^--(port|ip|persist-to)$/.test(rest[i - 1])));
    if (unknown.length > 0) {
      console.error(`--self-hosted takes only --port, --ip and --persist-to of wrangler's flags, not ${unknown.join(" ")}`);
      process.exit(2);
    }
  }
  return { flags, rest };
}

const { flags, rest: wranglerArgs } = ownFlags(process.argv.slice(2));
// Hosts call the front back on 127.0.0.1: make sure it listens there (wrangler's default, localhost, can be ::1).
const args = flags.inProcess || flagValue(wranglerArgs, "--ip") ? wranglerArgs : [...wranglerArgs, "--ip", "127.0.0.1"];
const tag = process.stdout.isTTY ? "\x1b[1;35m[code-exec dev]\x1b[0m" : "[code-exec dev]";
const say = (message) => console.error(`${tag} ${message}`);

/** Where the runtime answers: the address wrangler prints once ready, else what the arguments say. */
function urlFromArgs(argv) {
  const ip = flagValue(argv, "--ip") ?? "localhost";
  const host = ip === "0.0.0.0" || ip === "::" || ip === "*" ? "127.0.0.1" : ip;
  return `http://${host.includes(":") ? `[${host}]` : host}:${flagValue(argv, "--port") ?? "8787"}`;
}

function flagValue(argv, name) {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes("=") ? argv[i].slice(name.length + 1) : argv[i + 1];
}

/** A fresh checkout (or a fresh --persist-to) has empty local databases; applying is idempotent. */
function applyMigrations() {
  try {
    applyLocalMigrations({ persistTo: flagValue(args, "--persist-to"), config: flagValue(args, "--config") });
  } catch (error) {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}

let child;
let baseUrl = urlFromArgs(args);
let stopping = false;
let restarts = 0;
let backoffMs = 0;
let probeTimer;
let plane;
/** --self-hosted: the built front's config. */
let selfHostedConfig;
const frontName = flags.selfHosted ? "the self-hosted front (workerd)" : "wrangler dev";

function start() {
  const env = { ...CHILD_ENV, ...(process.stdout.isTTY ? { FORCE_COLOR: "1" } : {}) };
  // Own process group, so a restart (and Ctrl-C) can take down wrangler and both of its workerd processes at once.
  // stdin is not passed on: a background process group must not read the terminal, so wrangler's hotkeys are off.
  const planeVars = plane ? ["--var", `SANDBOX_PLANE_URL:${plane.url}`] : [];
  const proc = selfHostedConfig
    ? spawnSelfHostedFront(selfHostedConfig, devVars())
    : spawn(WRANGLER, ["dev", ...LOCAL_VARS, ...planeVars, ...args], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const state = { proc, ready: false, startedAt: Date.now(), misses: 0, exited: false, stopping: false, slowStartReported: false };
  child = state;
  const relay = (stream, sink) => {
    let pending = "";
    stream.on("data", (chunk) => {
      sink.write(chunk);
      pending += chunk.toString("utf8");
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const ready = /Ready on (https?:\/\/\S+)/.exec(stripVTControlCharacters(line));
        if (ready) baseUrl = ready[1].replace("//0.0.0.0", "//127.0.0.1").replace("//[::]", "//127.0.0.1");
      }
    });
  };
  relay(proc.stdout, process.stdout);
  relay(proc.stderr, process.stderr);
  proc.on("exit", (code, signal) => {
    state.exited = true;
    if (stopping || state.stopping || child !== state) return;
    // Before or after it came up: a configuration error is fixed by a human while this keeps trying, a port
    // still held by the old runtime frees itself, and a crash is a crash.
    say(`${frontName} exited ${state.ready ? "unexpectedly" : "before the service came up"} (${signal ?? `exit code ${code}`}); restarting.`);
    void restart();
  });
  return state;
}

async function probe() {
  try {
    const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(PROBE_DEADLINE_MS) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

function killGroup(state, signal) {
  try {
    process.kill(-state.proc.pid, signal);
  } catch {
    // Already gone.
  }
}

async function stopChild(state) {
  if (state.exited) return;
  state.stopping = true;
  const exited = new Promise((resolve) => state.proc.once("exit", resolve));
  killGroup(state, "SIGTERM");
  const timer = setTimeout(() => killGroup(state, "SIGKILL"), TERM_GRACE_MS);
  await exited;
  clearTimeout(timer);
  // wrangler can exit before its workerd children do; make sure nothing of the old group keeps the port.
  killGroup(state, "SIGKILL");
}

/**
 * The orphan sweep (worker/history/orphans.ts) marks a `running` row `aborted` only once its own deadline has
 * passed, so a row the restart interrupted stays `running` for up to this long. Keep in sync with MAX_TIMEOUT_MS
 * + PARENT_GRACE_MS (schemas/limits.ts) + ORPHAN_GRACE_MS (worker/history/orphans.ts).
 */
const ORPHAN_WINDOW_MS = 120_000 + 400 + 30_000;
const SWEEP_INTERVAL_MS = 30_000;
let sweepTimer;

/**
 * Runs the scheduled handler, whose first step is the orphan sweep; wrangler's endpoint needs no API key. Plain
 * workerd has no such endpoint (404): there the sweep runs when the new front records its first execution.
 */
async function triggerSweep() {
  try {
    const response = await fetch(`${baseUrl}/cdn-cgi/local/scheduled`, { signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Sweeps now and then every SWEEP_INTERVAL_MS until every row the restart can have orphaned is past its deadline. */
function sweepOrphansAfterRestart() {
  clearInterval(sweepTimer);
  const until = Date.now() + ORPHAN_WINDOW_MS + SWEEP_INTERVAL_MS;
  void triggerSweep();
  sweepTimer = setInterval(() => {
    if (Date.now() > until) clearInterval(sweepTimer);
    else if (!restarting && child?.ready) void triggerSweep();
  }, SWEEP_INTERVAL_MS);
  sweepTimer.unref();
}

let restarting = false;
let lastRestartAt = 0;
async function restart(reason) {
  if (restarting || stopping) return;
  restarting = true;
  restarts++;
  lastRestartAt = Date.now();
  const lived = Date.now() - child.startedAt;
  backoffMs = child.ready && lived > STABLE_AFTER_MS ? 0 : backoffMs === 0 ? BACKOFF_FIRST_MS : Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  if (reason) say(reason);
  await stopChild(child);
  if (stopping) return;
  if (backoffMs > 0) {
    say(`restarting the front in ${(backoffMs / 1000).toFixed(2)} s (restart ${restarts}; the delay doubles while it keeps failing)…`);
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
    if (stopping) return;
  } else {
    say("restarting the front…");
  }
  start();
  restarting = false;
}

async function tick() {
  const state = child;
  if (restarting || stopping || state.exited) return;
  const healthy = await probe();
  if (child !== state || stopping) return;
  if (healthy) {
    state.misses = 0;
    if (!state.ready) {
      state.ready = true;
      const wasRestart = restarts > 0;
      if (wasRestart) {
        const seconds = ((Date.now() - lastRestartAt) / 1000).toFixed(1);
        say(
          `runtime is back on ${baseUrl} (${seconds} s after the hang was detected). Executions the restart ` +
            "interrupted stay `running` until their own deadline (timeout + 30.4 s) and are then recorded as `aborted`; " +
            "the supervisor runs the orphan sweep every 30 s for the next 3 minutes (GET /executions?status=aborted).",
        );
        sweepOrphansAfterRestart();
      } else {
        say(
          `supervising ${baseUrl}: a front that stops answering GET /health for ~${(PROBE_MISSES * (PROBE_INTERVAL_MS + PROBE_DEADLINE_MS)) / 1000} s is restarted. ` +
            (plane
              ? `User code runs in ${flags.hosts} sandbox host(s) (${plane.url}/health), never in the front.`
              : "--in-process: user code runs inside the front, so one runaway stops the whole service."),
        );
      }
    }
    return;
  }
  if (!state.ready) {
    // wrangler stays up on a build error and rebuilds on the next save, so a slow start is reported, not restarted.
    if (!state.slowStartReported && Date.now() - state.startedAt > SLOW_START_MS) {
      state.slowStartReported = true;
      say(`no answer from ${baseUrl}/health ${SLOW_START_MS / 1000} s after starting; see wrangler's output above (a build error?).`);
    }
    return;
  }
  state.misses++;
  if (state.misses >= PROBE_MISSES) {
    await restart(
      `the runtime stopped answering: ${state.misses} health probes missed their ${PROBE_DEADLINE_MS} ms deadline. ` +
        "Probably code the sandbox cannot interrupt locally (a catastrophic regex, a huge builtin call); " +
        "production's CPU limit stops such code, local workerd has none. The requests in flight are lost.",
    );
  }
}

async function loop() {
  while (!stopping) {
    const began = Date.now();
    await tick();
    await new Promise((resolve) => {
      probeTimer = setTimeout(resolve, Math.max(0, PROBE_INTERVAL_MS - (Date.now() - began)));
    });
  }
}

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  clearTimeout(probeTimer);
  clearInterval(sweepTimer);
  if (child) await stopChild(child);
  await plane?.stop();
  process.exit(code);
}

if (!existsSync(WRANGLER)) {
  say(`${WRANGLER} not found: run npm install first.`);
  process.exit(1);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (signal === "SIGINT") say("stopping…");
    void shutdown(0);
  });
}
if (process.env.DEV_SKIP_MIGRATIONS !== "1") applyMigrations();
if (!flags.inProcess) {
  const frontPort = new URL(urlFromArgs(args)).port || "8787";
  plane = await startSandboxPlane({ front: `127.0.0.1:${frontPort}`, hosts: flags.hosts, slotsPerHost: flags.slots, log: say });
}
if (flags.selfHosted) {
  const address = new URL(urlFromArgs(args));
  say("building the self-hosted front (scripts/self-host.mjs)…");
  ({ config: selfHostedConfig } = await buildSelfHostedFront({
    state: flagValue(args, "--persist-to") ?? path.join(ROOT, ".wrangler", "state"),
    out: path.join(ROOT, ".wrangler", "self-host"),
    ip: flagValue(args, "--ip") ?? "127.0.0.1",
    port: Number(address.port || 8787),
    plane: new URL(plane.url).host,
    migrate: false,
  }));
}
start();
void loop();
