#!/usr/bin/env node
// npm run bench:sessions: the per-cell overhead of a session over a plain execution of the same code.
//
// Starts one `wrangler dev` (scripts/local-service.mjs: random loopback port, throw-away state) and measures,
// round-robin so background noise hits all alike, the same code (`return 1 + 1`) posted as:
//   plain        POST /execute
//   cell-small   a cell of a session whose state is one number and one function
//   cell-500kb   a cell of a session whose state is ~500 KB (5 000 records of objects, arrays and a Map)
// Every cell restores the state before and encodes, checks and stores it after, so the 500 KB case pays that
// both ways. Knobs: BENCH_REQUESTS (default 60), BENCH_WARMUP (default 10).

import { startLocalService } from "./local-service.mjs";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 60);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const CODE = "return 1 + 1";

/** @param {string} url @param {string} route @param {unknown} body */
async function post(url, route, body) {
  const response = await fetch(`${url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = await response.json();
  if (!response.ok || json.success === false) throw new Error(`${route}: ${response.status} ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** @param {number[]} values @param {number} q */
const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};

const service = await startLocalService({ label: "bench-sessions" });
try {
  const small = (await post(service.url, "/sessions", {})).sessionId;
  await post(service.url, `/sessions/${small}/execute`, { code: "let n = 1; function f() { return n; }" });
  const large = (await post(service.url, "/sessions", {})).sessionId;
  await post(service.url, `/sessions/${large}/execute`, {
    code: `const records = []; for (let i = 0; i < 5000; i++) records.push({ id: i, name: "record-" + i, tags: ["a", "b"], score: i / 7 });
           const byId = new Map(records.slice(0, 1000).map((r) => [r.id, r]));`,
  });
  const detail = await (await fetch(`${service.url}/sessions/${large}`)).json();
  const stateBytes = detail.state.sizeBytes;

  const workloads = {
    plain: () => post(service.url, "/execute", { code: CODE }),
    "cell-small": () => post(service.url, `/sessions/${small}/execute`, { code: CODE }),
    "cell-500kb": () => post(service.url, `/sessions/${large}/execute`, { code: CODE }),
  };
  /** @type {Record<string, number[]>} */
  const times = Object.fromEntries(Object.keys(workloads).map((name) => [name, []]));
  for (let i = 0; i < WARMUP + REQUESTS; i++) {
    for (const [name, run] of Object.entries(workloads)) {
      const started = performance.now();
      await run();
      if (i >= WARMUP) times[name]?.push(performance.now() - started);
    }
  }
  const plainP50 = quantile(times.plain ?? [], 0.5);
  console.log(`per-cell overhead, ${REQUESTS} requests each after ${WARMUP} warm-up, sequential; the large state is ${stateBytes} bytes`);
  console.log("| workload | p50 ms | p95 ms | p50 over plain |");
  console.log("| --- | --- | --- | --- |");
  for (const [name, values] of Object.entries(times)) {
    const p50 = quantile(values, 0.5);
    console.log(`| ${name} | ${p50.toFixed(1)} | ${quantile(values, 0.95).toFixed(1)} | ${name === "plain" ? "-" : `+${(p50 - plainP50).toFixed(1)} ms`} |`);
  }
} finally {
  await service.stop();
}
