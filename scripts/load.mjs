#!/usr/bin/env node
// `npm run load`: a mixed workload against the service on loopback, with checks; `npm run load -- --soak 4000`:
// many fresh-isolate executions while sampling workerd's memory.
//
// Load mode: --clients concurrent clients (default 100) for --duration seconds (default 30), each sending POST
// /execute in a loop with a random kind of program (--kinds to choose): fast-js, typescript, console (200 lines),
// error (a throw), runaway (a loop with a 200-500 ms timeout). One request of each kind warms up first. Every request carries a unique token in its context and every kind echoes it
// back (result, logs or error message), so a response that belongs to another request is caught. Afterwards
// every executionId is read back from GET /executions/:id. Fails (exit 1) on any 5xx, any response without its own
// token, any duplicate id, or any execution without a complete history record.
//
// Soak mode: --soak N fast executions at --soak-clients concurrency (default 8), sampling the RSS of the service's
// workerd processes (/proc, so Linux only) and saying whether it levels off.
//
// --plane runs the service's children in a sandbox plane of --hosts hosts (default: the number of cores), as
// npm run dev does; without it they run in-process, as deployed. --runtime workerd runs the front on plain workerd
// as self-hosted (scripts/self-host.mjs) instead of under wrangler dev, always with a plane. --kinds ...,wedge adds code the guard cannot
// interrupt (a catastrophic regex).
//
// Without --url the script starts its own `wrangler dev` on a random loopback port with a throwaway --persist-to
// directory (local migrations applied there first) and stops it at the end. With --url, pass --key (or
// CODE_EXEC_API_KEY) if the service has API keys, and --workerd-pid to sample memory.

import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { runtimeFlag, startLocalService } from "./local-service.mjs";
import { descendantsOf } from "./processes.mjs";

const STARTUP_DEADLINE_MS = 120_000;
/** Far above any timeout the workload asks for: a request this slow is a failure, not a data point. */
const REQUEST_DEADLINE_MS = 30_000;
const HISTORY_READ_CONCURRENCY = 16;
const RSS_SAMPLE_INTERVAL_MS = 1_000;

const { values: options } = parseArgs({
  options: {
    url: { type: "string" },
    key: { type: "string", default: process.env.CODE_EXEC_API_KEY },
    clients: { type: "string", default: "100" },
    duration: { type: "string", default: "30" },
    soak: { type: "string" },
    "soak-clients": { type: "string", default: "8" },
    "workerd-pid": { type: "string" },
    kinds: { type: "string" },
    "keep-state": { type: "boolean", default: false },
    plane: { type: "boolean", default: false },
    hosts: { type: "string" },
    runtime: { type: "string", default: "wrangler" },
  },
});

function positiveInt(name, raw) {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer, got ${raw}`);
    process.exit(2);
  }
  return value;
}

const RUNTIME = runtimeFlag(options.runtime);
const CLIENTS = positiveInt("clients", options.clients);
const DURATION_MS = positiveInt("duration", options.duration) * 1000;
const SOAK_EXECUTIONS = options.soak === undefined ? undefined : positiveInt("soak", options.soak);
const SOAK_CLIENTS = positiveInt("soak-clients", options["soak-clients"]);

// ---------------------------------------------------------------------------------------------------------------
// The workload. Each kind builds a request around a token and checks that the response is that request's own.

const randomInt = (min, max) => min + Math.floor(Math.random() * (max - min + 1));
const includesToken = (text, token) => typeof text === "string" && text.includes(token);

/** @type {Record<string, { weight: number, optIn?: boolean, request: (token: string) => object, check: (body: any, token: string) => string | undefined }>} */
const KINDS = {
  "fast-js": {
    weight: 30,
    request: (token) => ({ code: "const xs = [1, 2, 3].map((x) => x * 2);\nreturn { token: context.token, sum: xs.reduce((a, b) => a + b, 0) };", context: { token } }),
    check: (body, token) => (body.status !== "success" ? `status ${body.status}${body.error ? ` (${body.error.code}: ${body.error.message.slice(0, 120)})` : ""}` : body.result?.token !== token ? "result carries another token" : undefined),
  },
  typescript: {
    weight: 20,
    request: (token) => ({
      language: "typescript",
      code: `interface Ctx { token: string }\ntype Pair<T> = [T, T];\nconst c = context as Ctx;\nconst p: Pair<number> = [${randomInt(1, 9)}, 2];\nreturn { token: c.token, product: p[0] * p[1] };`,
      context: { token },
    }),
    check: (body, token) => (body.status !== "success" ? `status ${body.status}${body.error ? ` (${body.error.code}: ${body.error.message.slice(0, 120)})` : ""}` : body.result?.token !== token ? "result carries another token" : undefined),
  },
  console: {
    weight: 20,
    request: (token) => ({ code: "for (let i = 0; i < 200; i++) console.log('line', i, context.token, { i });\nreturn context.token;", context: { token } }),
    check: (body, token) => {
      if (body.status !== "success") return `status ${body.status}${body.error ? ` (${body.error.code}: ${body.error.message.slice(0, 120)})` : ""}`;
      if (body.result !== token) return "result carries another token";
      if (body.logs?.length !== 200) return `${body.logs?.length} log entries, expected 200`;
      return body.logs.every((entry) => includesToken(entry.message, token)) ? undefined : "a log entry carries another token";
    },
  },
  error: {
    weight: 15,
    request: (token) => ({ code: "const id = context.token;\nthrow new TypeError(`boom ${id}`);", context: { token } }),
    check: (body, token) =>
      body.status !== "error" || body.error?.code !== "RUNTIME_ERROR"
        ? `status ${body.status}, code ${body.error?.code}`
        : includesToken(body.error.message, token)
          ? undefined
          : "error message carries another token",
  },
  runaway: {
    weight: 15,
    request: (token) => ({ code: "console.log(context.token);\nlet n = 0;\nwhile (true) { n++; }", context: { token }, config: { timeout: randomInt(200, 500) } }),
    check: (body, token) =>
      body.status !== "timeout"
        ? `status ${body.status}${body.error ? ` (${body.error.code}: ${body.error.message.slice(0, 120)})` : ""}`
        : includesToken(body.logs?.[0]?.message, token)
          ? undefined
          : "the log before the timeout carries another token (or is missing)",
  },
  // Not in the default mix (--kinds ...,wedge): code the guard cannot interrupt. A catastrophic regex that holds
  // its thread for about a second: in-process that is every caller's thread, in the sandbox plane one host's,
  // which is killed at the deadline. Either way this caller gets "timeout" (its logs may be lost).
  wedge: {
    weight: 5,
    optIn: true,
    request: (token) => ({ code: `console.log(context.token);\nreturn /(a+)+$/.test("a".repeat(26) + "b");`, context: { token }, config: { timeout: 300 } }),
    check: (body) => (body.status !== "timeout" ? `status ${body.status}${body.error ? ` (${body.error.code}: ${body.error.message.slice(0, 120)})` : ""}` : undefined),
  },
};
const KIND_NAMES = options.kinds ? options.kinds.split(",") : Object.keys(KINDS).filter((name) => !KINDS[name].optIn);
for (const name of KIND_NAMES) {
  if (!KINDS[name]) {
    console.error(`--kinds: unknown kind ${name}; known: ${Object.keys(KINDS).join(", ")}`);
    process.exit(2);
  }
}
const TOTAL_WEIGHT = KIND_NAMES.reduce((sum, name) => sum + KINDS[name].weight, 0);

function pickKind() {
  let roll = Math.random() * TOTAL_WEIGHT;
  for (const name of KIND_NAMES) {
    roll -= KINDS[name].weight;
    if (roll < 0) return name;
  }
  return KIND_NAMES[0];
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP.

let baseUrl;
const authHeaders = () => (options.key ? { authorization: `Bearer ${options.key}` } : {});

let tokenSeq = 0;
/** wrangler's ProxyWorker answers 500 "Network connection lost" when it loses the runtime; see the end of main. */
let sawConnectionLost = false;
const runId = Math.random().toString(36).slice(2, 8);

/** fetch() says only "fetch failed"; the socket-level reason is in its cause. */
function describeError(error) {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.code ?? error.cause.name}: ${error.cause.message})` : "";
  return `${error.message}${cause}`;
}

/** One request; never throws. */
async function executeOne(kind) {
  const token = `${runId}-${kind}-${++tokenSeq}-${Math.random().toString(36).slice(2, 10)}`;
  const started = performance.now();
  const sample = { kind, token, latencyMs: 0, httpStatus: 0, executionId: undefined, status: undefined, failure: undefined };
  try {
    const response = await fetch(`${baseUrl}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify(KINDS[kind].request(token)),
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    const text = await response.text();
    sample.latencyMs = performance.now() - started;
    sample.httpStatus = response.status;
    if (response.status !== 200) {
      if (text.includes("Network connection lost")) sawConnectionLost = true;
      sample.failure = `HTTP ${response.status}: ${text.slice(0, 200)}`;
      return sample;
    }
    const body = JSON.parse(text);
    sample.executionId = body.executionId;
    sample.status = body.status;
    sample.failure = KINDS[kind].check(body, token);
  } catch (error) {
    sample.latencyMs = performance.now() - started;
    sample.failure = `no response: ${describeError(error)}`;
  }
  return sample;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting.

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function latencyTable(samples) {
  const rows = [];
  for (const kind of [...KIND_NAMES, "all"]) {
    const mine = samples.filter((s) => kind === "all" || s.kind === kind);
    if (mine.length === 0) continue;
    const sorted = mine.map((s) => s.latencyMs).sort((a, b) => a - b);
    rows.push({
      kind,
      requests: mine.length,
      failed: mine.filter((s) => s.failure).length,
      "p50 ms": Math.round(percentile(sorted, 50)),
      "p95 ms": Math.round(percentile(sorted, 95)),
      "p99 ms": Math.round(percentile(sorted, 99)),
      "max ms": Math.round(sorted.at(-1) ?? NaN),
    });
  }
  console.table(rows);
}

const checks = [];
function check(name, failures) {
  checks.push({ name, failures });
  const mark = failures.length === 0 ? "ok  " : "FAIL";
  console.log(`${mark} ${name}${failures.length ? ` (${failures.length})` : ""}`);
  for (const failure of failures.slice(0, 5)) console.log(`       ${failure}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Load mode.

async function runLoad() {
  // One of each kind first, outside the figures: the first TypeScript request compiles esbuild-wasm and the first
  // writes open the local databases, which 100 clients would otherwise all wait on at once.
  for (const kind of KIND_NAMES) await executeOne(kind);
  console.log(`load: ${CLIENTS} clients for ${DURATION_MS / 1000} s against ${baseUrl}`);
  const samples = [];
  const began = performance.now();
  const deadline = began + DURATION_MS;
  // A dead local service answers every request at once with a refusal; stop instead of counting those.
  const serviceAlive = () => !service || service.proc.exitCode === null;
  const client = async () => {
    while (performance.now() < deadline && serviceAlive()) samples.push(await executeOne(pickKind()));
  };
  const progress = setInterval(() => process.stdout.write(`  ${samples.length} responses…\r`), 5_000);
  await Promise.all(Array.from({ length: CLIENTS }, client));
  clearInterval(progress);
  const elapsedS = (performance.now() - began) / 1000;

  const answered = samples.filter((s) => s.httpStatus !== 0);
  console.log(`\n${samples.length} requests in ${elapsedS.toFixed(1)} s: ${(answered.length / elapsedS).toFixed(1)} answered per second`);
  if (!serviceAlive()) console.log("the local service died during the run: the run stopped early");
  latencyTable(answered);

  check("no 5xx responses", samples.filter((s) => s.httpStatus >= 500).map((s) => `${s.kind}: ${s.failure}`));
  check("every request answered (no network errors or client deadline)", samples.filter((s) => s.httpStatus === 0).map((s) => `${s.kind}: ${s.failure}`));
  check(
    "every response is its own request's (token) and of the expected status",
    samples.filter((s) => s.httpStatus === 200 && s.failure).map((s) => `${s.kind} ${s.executionId}: ${s.failure}`),
  );
  const ids = samples.map((s) => s.executionId).filter(Boolean);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  check("execution ids are unique", [...new Set(duplicates)].map((id) => `duplicate ${id}`));
  await checkHistory(samples.filter((s) => s.executionId));
}

/** Every execution must have a complete record whose status matches what the caller was told. */
async function checkHistory(samples) {
  const failures = [];
  let next = 0;
  const reader = async () => {
    while (next < samples.length) {
      const sample = samples[next++];
      try {
        const response = await fetch(`${baseUrl}/executions/${sample.executionId}`, { headers: authHeaders(), signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
        if (response.status !== 200) {
          failures.push(`${sample.executionId}: GET answered ${response.status} ${(await response.text()).slice(0, 160)}`);
          continue;
        }
        const record = await response.json();
        if (record.status !== sample.status) failures.push(`${sample.executionId}: recorded ${record.status}, answered ${sample.status}`);
        else if (record.finishedAt == null || record.durationMs == null) failures.push(`${sample.executionId}: record has no finishedAt/durationMs`);
      } catch (error) {
        failures.push(`${sample.executionId}: ${describeError(error)}`);
      }
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: HISTORY_READ_CONCURRENCY }, reader));
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  check(`every execution has a complete history record (${samples.length} read back in ${seconds} s)`, failures);
}

// ---------------------------------------------------------------------------------------------------------------
// Soak mode.

/** The workerd processes under the wrangler we started: the proxy in front and the runtime that runs the Worker. */
function workerdProcesses(rootPid) {
  return descendantsOf(rootPid).flatMap(({ pid, cmdline }) => {
    if (!path.basename(cmdline[0] ?? "").startsWith("workerd")) return [];
    // wrangler's runtime instance is the one with an inspector; the other fronts the public port.
    return [{ pid, role: cmdline.some((a) => a.startsWith("--inspector-addr")) ? "runtime" : "proxy" }];
  });
}

/** Resident memory in MB, and the anonymous part of it (heap, as opposed to mapped files such as SQLite's). */
function rssMb(pid, field = "VmRSS") {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function runSoak(processes) {
  const total = SOAK_EXECUTIONS;
  console.log(`soak: ${total} fresh-isolate executions at concurrency ${SOAK_CLIENTS} against ${baseUrl}`);
  if (processes.length === 0) console.log("  (no workerd process to sample: pass --workerd-pid with --url)");
  for (const p of processes) console.log(`  sampling workerd ${p.role} pid ${p.pid}: ${rssMb(p.pid)?.toFixed(0)} MB`);

  const samples = [];
  const rss = [];
  const sampleRss = () => {
    const row = { done: samples.length, atS: (performance.now() - began) / 1000 };
    for (const p of processes) {
      row[p.role] = rssMb(p.pid);
      row[`${p.role} anon`] = rssMb(p.pid, "RssAnon");
    }
    rss.push(row);
  };
  const began = performance.now();
  sampleRss();
  const sampler = setInterval(sampleRss, RSS_SAMPLE_INTERVAL_MS);
  let issued = 0;
  const client = async () => {
    while (issued < total) {
      issued++;
      samples.push(await executeOne(issued % 5 === 0 ? "typescript" : "fast-js"));
    }
  };
  await Promise.all(Array.from({ length: SOAK_CLIENTS }, client));
  const elapsedS = (performance.now() - began) / 1000;
  // Some seconds idle: memory that is merely not yet collected should come back down here.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  sampleRss();
  clearInterval(sampler);

  console.log(`\n${samples.length} executions in ${elapsedS.toFixed(1)} s: ${(samples.length / elapsedS).toFixed(1)} executions/s`);
  latencyTable(samples);

  const roles = processes.flatMap((p) => [p.role, `${p.role} anon`]);
  const rows = [];
  for (let tenth = 0; tenth <= 10; tenth++) {
    const target = Math.round((tenth / 10) * total);
    const row = rss.find((r) => r.done >= target) ?? rss.at(-1);
    rows.push({ executions: row.done, ...Object.fromEntries(roles.map((role) => [`${role} MB`, row[role]?.toFixed(0)])) });
  }
  rows.push({ executions: "after 10 s idle", ...Object.fromEntries(roles.map((role) => [`${role} MB`, rss.at(-1)[role]?.toFixed(0)])) });
  console.table(rows);
  for (const role of roles) describeGrowth(role, rss, total);

  check("no 5xx responses", samples.filter((s) => s.httpStatus >= 500).map((s) => `${s.kind}: ${s.failure}`));
  check("every execution succeeded with its own token", samples.filter((s) => s.failure).map((s) => `${s.kind}: ${s.failure}`));
}

/** Growth per 1000 executions in the second half against the first half: a plateau shows as a much smaller slope. */
function describeGrowth(role, rss, total) {
  const during = rss.filter((r) => r[role] !== undefined && r.done < total);
  const at = (fraction) => {
    const target = fraction * total;
    return during.find((r) => r.done >= target)?.[role];
  };
  const [start, half, end] = [at(0), at(0.5), at(0.99) ?? during.at(-1)?.[role]];
  if (start === undefined || half === undefined || end === undefined) return;
  const perThousand = (mb) => (mb / (total / 2)) * 1000;
  const first = perThousand(half - start);
  const second = perThousand(end - half);
  // A few MB per 1000 is noise from garbage collection timing; a first half that shrank is not a trend to compare to.
  const verdict = second <= Math.max(5, first * 0.25) ? "levels off" : second < first * 0.75 ? "slows but still grows" : "keeps growing";
  console.log(
    `workerd ${role}: ${start.toFixed(0)} -> ${half.toFixed(0)} -> ${end.toFixed(0)} MB; ` +
      `${first.toFixed(1)} MB per 1000 executions in the first half, ${second.toFixed(1)} in the second: ${verdict}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// A service of our own.

/** Our own throw-away service (scripts/local-service.mjs), counting the reloads that would spoil the run. */
async function startService() {
  const counter = { reloads: 0 };
  const service = await startLocalService({
    label: "load",
    keepState: options["keep-state"],
    startupDeadlineMs: STARTUP_DEADLINE_MS,
    runtime: RUNTIME,
    // --plane: children run in sandbox hosts (scripts/sandbox-plane.mjs), as under npm run dev.
    // The self-hosted front always runs its children on a plane.
    plane: options.plane || RUNTIME === "workerd" ? { hosts: options.hosts ? positiveInt("hosts", options.hosts) : undefined, log: () => {} } : undefined,
    // wrangler dev watches the sources and cannot be told not to: an edit during a run restarts the runtime
    // under the load, which drops requests that have nothing to do with the service's reliability.
    onOutput: (chunk) => {
      if (/Reloading local server/.test(chunk)) counter.reloads++;
    },
  });
  return Object.assign(service, {
    get reloads() {
      return counter.reloads;
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------

let service;
async function main() {
  if (options.url) {
    baseUrl = options.url.replace(/\/$/, "");
  } else {
    console.log(`starting a local service (${RUNTIME === "workerd" ? "the self-hosted front on plain workerd" : "wrangler dev"}, throwaway state)…`);
    service = await startService();
    baseUrl = service.url;
    for (const signal of ["SIGINT", "SIGTERM"]) {
      process.once(signal, () => void service.stop().finally(() => process.exit(130)));
    }
  }
  if (SOAK_EXECUTIONS !== undefined) {
    const processes = options["workerd-pid"]
      ? [{ pid: positiveInt("workerd-pid", options["workerd-pid"]), role: "runtime" }]
      : service
        ? workerdProcesses(service.proc.pid)
        : [];
    await runSoak(processes);
  } else {
    await runLoad();
  }
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  checks.push({ name: "script", failures: ["crashed"] });
} finally {
  if (service) {
    if (service.reloads > 0) {
      checks.push({ name: "no reload during the run", failures: ["source files changed"] });
      console.error(`FAIL wrangler dev reloaded ${service.reloads} time(s) during the run because a source file changed; run again without editing`);
    }
    if (service.proc.exitCode !== null) {
      console.error(`wrangler dev exited during the run:\n${service.output().slice(-3000)}`);
      if (sawConnectionLost || /Network connection lost/.test(service.output())) {
        console.error(
          "This is wrangler dev's own failure mode (README, Reliability): its ProxyWorker loses the connection to the " +
            "runtime under many concurrent local D1 writes and wrangler exits (cloudflare/workers-sdk#15451).",
        );
      }
    }
    await service.stop();
  }
}
const failed = checks.filter((c) => c.failures.length > 0);
console.log(failed.length === 0 ? "\nall checks passed" : `\n${failed.length} check(s) failed`);
process.exit(failed.length === 0 ? 0 : 1);
