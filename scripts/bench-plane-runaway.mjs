#!/usr/bin/env node
// `npm run bench:plane-runaway`: what a runaway costs the other callers on the sandbox plane (README, "Sandbox
// plane"). Starts the front on a plane of --hosts hosts (default 2), then for --rounds rounds: 20 normal callers
// alone (one every 50 ms), then the same callers for --window ms while one catastrophic regex (timeout --timeout
// ms, code the guard cannot interrupt) holds a host until the plane kills it at its deadline and starts a
// replacement. Prints the normal callers' p50/p95 alone and in the mix, and in the mix split by when they were
// sent: while the runaway held its host, and in the 600 ms from the kill (the replacement starting). Rounds
// rotate through the plane's CPU priority variants (scripts/sandbox-plane.mjs HOST_NICE: none, all but "long",
// all), so the noise of a shared machine hits each alike. Figures only, no assertions; exit 1 only if a request
// fails.

import { parseArgs } from "node:util";
import { startLocalService } from "./local-service.mjs";

const { values: options } = parseArgs({
  options: {
    hosts: { type: "string", default: "2" },
    rounds: { type: "string", default: "12" },
    timeout: { type: "string", default: "1000" },
    window: { type: "string", default: "2600" },
  },
});
const ROUNDS = Number(options.rounds);
const TIMEOUT_MS = Number(options.timeout);
const WINDOW_MS = Number(options.window);
const CALLER_EVERY_MS = 50;
const AFTER_KILL_MS = 600;
const REGEX = 'return /(a+)+$/.test("a".repeat(40) + "b");';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((sorted.length * p) / 100) - 1)];
};

let service;
let failures = 0;

async function execute(code, config = {}) {
  const started = performance.now();
  const response = await fetch(`${service.url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code, language: "javascript", config }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { status: response.status, raw: text.slice(0, 200) };
  }
  return { ok: response.status === 200, body, started, ms: performance.now() - started };
}

async function normal() {
  // Never rejects: a request sits unawaited while the next ones are sent.
  const answer = await execute("return 40 + 2;").catch((error) => ({ ok: false, body: { error: String(error) }, started: 0, ms: NaN }));
  if (!answer.ok || answer.body.result !== 42) {
    failures++;
    console.log(`a normal request failed: ${JSON.stringify(answer.body)}`);
  }
  return answer;
}

/** Normal callers, one every CALLER_EVERY_MS for durationMs. */
async function callers(durationMs) {
  const sent = [];
  for (let at = 0; at < durationMs; at += CALLER_EVERY_MS) {
    sent.push(normal());
    await sleep(CALLER_EVERY_MS);
  }
  return Promise.all(sent);
}

async function allHostsUp() {
  for (;;) {
    const health = await (await fetch(`${service.plane.url}/health`)).json();
    if (health.hosts.every((host) => host.state === "ready")) return;
    await sleep(50);
  }
}

const line = (label, values) =>
  `${label.padEnd(34)} n=${String(values.length).padStart(4)}  p50 ${percentile(values, 50).toFixed(0).padStart(4)} ms  p95 ${percentile(values, 95).toFixed(0).padStart(4)} ms`;

try {
  service = await startLocalService({ label: "bench-plane-runaway", plane: { hosts: Number(options.hosts), log: () => {} } });
  if (!(await service.plane.ready())) throw new Error("the sandbox hosts did not come up");
  await callers(500);
  const variants = [[], ["overdue", "starting"], ["long", "overdue", "starting"]].map((stages) => stages.join("+") || "none");
  const figures = new Map(variants.map((name) => [name, { alone: [], mixed: [], held: [], afterKill: [], kills: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    const variant = variants[round % variants.length];
    const f = figures.get(variant);
    service.plane.setPriorities(variant === "none" ? [] : variant.split("+"));
    f.alone.push(...(await callers(1000)).map((a) => a.ms).filter((ms) => !Number.isNaN(ms)));
    const runaway = execute(REGEX, { timeout: TIMEOUT_MS });
    const others = callers(WINDOW_MS);
    const stopped = await runaway;
    const killedAt = stopped.started + stopped.ms;
    f.kills.push(stopped.ms);
    if (stopped.body.status !== "timeout") {
      failures++;
      console.log(`the runaway was not stopped as a timeout: ${JSON.stringify(stopped.body)}`);
    }
    for (const answer of await others) {
      if (Number.isNaN(answer.ms)) continue;
      f.mixed.push(answer.ms);
      if (answer.started < killedAt) f.held.push(answer.ms);
      else if (answer.started < killedAt + AFTER_KILL_MS) f.afterKill.push(answer.ms);
    }
    await allHostsUp();
    await sleep(300);
  }
  for (const [variant, f] of figures) {
    console.log(`\nCPU priority stages ${variant}: ${f.kills.length} rounds; runaway answered after p50 ${percentile(f.kills, 50).toFixed(0)} ms (timeout ${TIMEOUT_MS} ms)`);
    console.log(line("normal callers alone", f.alone));
    console.log(line("normal callers with the runaway", f.mixed));
    console.log(line("  sent while it held its host", f.held));
    console.log(line(`  sent in the ${AFTER_KILL_MS} ms after the kill`, f.afterKill));
    console.log(`p95 delay with the runaway: ${(percentile(f.mixed, 95) - percentile(f.alone, 95)).toFixed(0)} ms (target <= 100 ms)`);
  }
} catch (error) {
  failures++;
  console.log(`FAIL: ${error instanceof Error ? error.stack : error}`);
  console.log(`the front's last output:\n${service?.output().slice(-3000)}`);
} finally {
  await service?.stop();
}
process.exit(failures === 0 ? 0 : 1);
