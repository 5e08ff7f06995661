#!/usr/bin/env node
// npm run bench: latency and throughput of POST /execute against a bare Worker Loader floor, on this machine.
//
// Starts two `wrangler dev` processes on random loopback ports, each with its own throw-away state directory:
// the service (wrangler.jsonc) and the floor (scripts/bench-floor/: one fresh trivial isolate per request and
// nothing else). Both get the same warm-up, then every workload is measured sequentially (requests interleaved
// round-robin across workloads, so background noise hits all of them alike) and then with some concurrency.
// Everything it starts is stopped on exit.
//
// Options (environment): BENCH_REQUESTS (sequential requests per workload, default 60), BENCH_CONCURRENCY
// (default 4), BENCH_CONCURRENT_REQUESTS (per workload, default 60), BENCH_WARMUP (default 15), BENCH_WORKLOADS
// (comma-separated names, default all; floor, js, 1+1 and 1+1 plane are always measured, the ratios need them).
// A third service runs the same Worker with its children in the sandbox plane (BENCH_HOSTS hosts; BENCH_PLANE=0
// leaves it out): "... plane" workloads go there, and `return 1 + 1` is compared in-process vs. plane.
// MINIFLARE_WORKERD_V8_FLAGS is passed through to workerd, e.g. "--no-flush-liftoff-code" to compare.

import { join } from "node:path";
import * as esbuild from "esbuild-wasm";
import { ROOT, startLocalService } from "./local-service.mjs";

const SEQUENTIAL_REQUESTS = positiveInt("BENCH_REQUESTS", 60);
const CONCURRENCY = positiveInt("BENCH_CONCURRENCY", 4);
const CONCURRENT_REQUESTS = positiveInt("BENCH_CONCURRENT_REQUESTS", 60);
const WARMUP_REQUESTS = positiveInt("BENCH_WARMUP", 15);
const REQUEST_TIMEOUT_MS = 30_000;
/** Sandbox hosts of the plane service (BENCH_HOSTS; default: the number of cores, as npm run dev). */
const BENCH_HOSTS = process.env.BENCH_HOSTS ? positiveInt("BENCH_HOSTS", 1) : undefined;

function positiveInt(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/**
 * A 50-line TypeScript program, typical of what callers send: interfaces, type aliases, generics, a class with
 * typed members, assertions. `seed` makes the source unique per request, so no cache can answer it. With
 * `withEnum`, Currency is an enum: not erasable, so the service's esbuild tier transpiles it.
 */
function typescriptProgram(seed, { withEnum = false } = {}) {
  const currencyType = withEnum ? `enum Currency { USD = "USD", EUR = "EUR" }` : `type Currency = "USD" | "EUR";`;
  const euro = withEnum ? "Currency.EUR" : `"EUR" as Currency`;
  return `// order summary #${seed}
interface LineItem {
  sku: string;
  quantity: number;
  unitPriceCents: number;
  tags?: readonly string[];
}

${currencyType}

interface Order<TItem extends LineItem = LineItem> {
  id: string;
  currency: Currency;
  items: TItem[];
  discountPercent?: number;
}

type Totals = { subtotalCents: number; discountCents: number; totalCents: number };

class OrderBook<T extends LineItem> {
  private readonly orders: Map<string, Order<T>> = new Map();

  add(order: Order<T>): this {
    this.orders.set(order.id, order);
    return this;
  }

  totals(id: string): Totals | undefined {
    const order = this.orders.get(id);
    if (!order) return undefined;
    const subtotalCents = order.items.reduce((sum: number, item: T) => sum + item.quantity * item.unitPriceCents, 0);
    const discountCents = Math.round((subtotalCents * (order.discountPercent ?? 0)) / 100);
    return { subtotalCents, discountCents, totalCents: subtotalCents - discountCents };
  }
}

function byTag<T extends LineItem>(items: T[], tag: string): T[] {
  return items.filter((item) => item.tags?.includes(tag) ?? false);
}

const seed: number = ${seed};
const items: LineItem[] = [
  { sku: "pen", quantity: 3, unitPriceCents: 150, tags: ["office"] },
  { sku: "lamp", quantity: 1, unitPriceCents: 4_200 },
];
const book = new OrderBook<LineItem>().add({ id: "A-" + seed, currency: ${euro}, items, discountPercent: 10 });
const totals = book.totals("A-" + seed)!;
return { totals, office: byTag(items, "office").length, seed };
`;
}

const JS_PROGRAM = "return 1 + 1";
const REPEATED_TS_PROGRAM = typescriptProgram(0);
const REPEATED_ENUM_PROGRAM = typescriptProgram(0, { withEnum: true });

/** The same program already in JavaScript: ts-unique minus this is what transpiling costs. */
async function javascriptTwin(seed) {
  return (await esbuild.transform(typescriptProgram(seed), { loader: "ts", target: "esnext" })).code;
}

let uniqueSeed = 1;
const ALL_WORKLOADS = [
  { name: "floor", target: "floor", body: () => null },
  { name: "js", target: "service", body: () => ({ code: JS_PROGRAM }) },
  { name: "js-50-unique", target: "service", body: async () => ({ code: await javascriptTwin(uniqueSeed++) }) },
  { name: "ts-unique", target: "service", body: () => ({ code: typescriptProgram(uniqueSeed++), language: "typescript" }) },
  { name: "ts-repeat", target: "service", body: () => ({ code: REPEATED_TS_PROGRAM, language: "typescript" }) },
  {
    name: "ts-enum-unique",
    target: "service",
    body: () => ({ code: typescriptProgram(uniqueSeed++, { withEnum: true }), language: "typescript" }),
  },
  { name: "ts-enum-repeat", target: "service", body: () => ({ code: REPEATED_ENUM_PROGRAM, language: "typescript" }) },
  // The same service with its children in the sandbox plane (README, "Sandbox plane"): what the extra hop costs.
  { name: "1+1", target: "service", body: () => ({ code: "return 1 + 1" }) },
  { name: "1+1 plane", target: "plane", body: () => ({ code: "return 1 + 1" }) },
  { name: "js plane", target: "plane", body: () => ({ code: JS_PROGRAM }) },
];

const selected = process.env.BENCH_WORKLOADS?.split(",").map((name) => name.trim());
const ALWAYS = ["floor", "js", ...(process.env.BENCH_PLANE === "0" ? [] : ["1+1", "1+1 plane"])];
const WORKLOADS = ALL_WORKLOADS.filter(
  (w) => (!selected || [...ALWAYS, ...selected].includes(w.name)) && (w.target !== "plane" || process.env.BENCH_PLANE !== "0"),
);

const started = [];
let stopping = false;

async function main() {
  const usePlane = WORKLOADS.some((w) => w.target === "plane");
  const [service, floor, plane] = await Promise.all([
    startWrangler("service", join(ROOT, "wrangler.jsonc"), { path: "/health" }),
    startWrangler("floor", join(ROOT, "scripts", "bench-floor", "wrangler.jsonc"), { path: "/", method: "POST" }),
    usePlane ? startWrangler("plane", join(ROOT, "wrangler.jsonc"), { path: "/health" }, { hosts: BENCH_HOSTS, log: () => {} }) : undefined,
  ]);
  if (plane && !(await plane.plane.ready())) throw new Error("the sandbox hosts did not come up");
  const urls = { service: `${service.url}/execute`, floor: `${floor.url}/`, plane: plane ? `${plane.url}/execute` : "" };
  const send = async (workload) => timedRequest(urls[workload.target], await workload.body());

  console.log(`warm-up: ${WARMUP_REQUESTS} requests per workload`);
  for (let i = 0; i < WARMUP_REQUESTS; i++) for (const workload of WORKLOADS) await send(workload);

  const sequential = new Map(WORKLOADS.map((w) => [w.name, []]));
  for (let i = 0; i < SEQUENTIAL_REQUESTS; i++) {
    for (const workload of WORKLOADS) sequential.get(workload.name).push(await send(workload));
  }

  const concurrent = new Map();
  for (const workload of WORKLOADS) {
    // Bodies are made up front: making them must not count against the service.
    const bodies = await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, () => workload.body()));
    const before = performance.now();
    const latencies = await runConcurrently(CONCURRENCY, bodies, (body) => timedRequest(urls[workload.target], body));
    concurrent.set(workload.name, { latencies, elapsedMs: performance.now() - before });
  }

  const rows = [];
  for (const workload of WORKLOADS) {
    const seq = sequential.get(workload.name);
    const con = concurrent.get(workload.name);
    rows.push({
      workload: workload.name,
      "seq p50 ms": round(percentile(seq, 50)),
      "seq p95 ms": round(percentile(seq, 95)),
      // One request at a time: throughput is the inverse of the mean latency.
      "seq req/s": round((seq.length / seq.reduce((sum, ms) => sum + ms, 0)) * 1000),
      [`c=${CONCURRENCY} p50 ms`]: round(percentile(con.latencies, 50)),
      [`c=${CONCURRENCY} p95 ms`]: round(percentile(con.latencies, 95)),
      [`c=${CONCURRENCY} req/s`]: round((con.latencies.length / con.elapsedMs) * 1000),
    });
  }
  console.log(
    `\nPOST /execute vs. the Worker Loader floor: ${SEQUENTIAL_REQUESTS} sequential + ${CONCURRENT_REQUESTS} ` +
      `concurrent requests per workload` +
      (process.env.MINIFLARE_WORKERD_V8_FLAGS ? ` (V8 flags: ${process.env.MINIFLARE_WORKERD_V8_FLAGS})` : ""),
  );
  console.table(rows);

  const p50 = (name) => percentile(sequential.get(name), 50);
  const ratio = (a, b, target) => {
    const value = p50(a) / p50(b);
    return `${a} / ${b} p50 = ${value.toFixed(2)}x (target <= ${target}x) ${value <= target ? "ok" : "MISSED"}`;
  };
  console.log(ratio("js", "floor", 1.3));
  for (const workload of WORKLOADS) if (workload.name.startsWith("ts-")) console.log(ratio(workload.name, "js", 1.5));
  if (sequential.has("1+1 plane")) {
    const cost = p50("1+1 plane") - p50("1+1");
    console.log(`return 1 + 1 in the sandbox plane - in-process, p50: ${round(cost)} ms (target <= 1 ms) ${cost <= 1 ? "ok" : "MISSED"}`);
  }
  if (sequential.has("ts-unique") && sequential.has("js-50-unique")) {
    const cost = p50("ts-unique") - p50("js-50-unique");
    console.log(`transpiling the 50-line program (ts-unique - js-50-unique p50): ${round(cost)} ms`);
  }
}

async function timedRequest(url, body) {
  const before = performance.now();
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === null ? "{}" : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  const elapsedMs = performance.now() - before;
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 500)}`);
  const parsed = JSON.parse(text);
  if (body !== null && parsed.success !== true) throw new Error(`${url} did not succeed: ${text.slice(0, 500)}`);
  return elapsedMs;
}

async function runConcurrently(concurrency, bodies, task) {
  const latencies = [];
  let next = 0;
  const lane = async () => {
    while (next < bodies.length) latencies.push(await task(bodies[next++]));
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return latencies;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (ms) => Math.round(ms * 10) / 10;

function watchExit(service) {
  started.push(service);
  service.proc.on("exit", (code) => {
    if (!stopping) {
      console.error(`${service.label} (wrangler dev) exited early with ${code}:\n${service.output().slice(-2000)}`);
      process.exitCode = 1;
    }
  });
  return service;
}

async function startWrangler(label, config, ready, plane) {
  // Only the service has databases; the floor is one trivial isolate per request and nothing else.
  const service = await startLocalService({ label: `bench-${label}`, config, migrate: label !== "floor", ready, plane, args: ["--log-level", "warn"] });
  return watchExit({ ...service, label });
}

async function stopAll() {
  stopping = true;
  await Promise.all(started.map((service) => service.stop()));
}

process.on("SIGINT", () => {
  void stopAll().finally(() => process.exit(130));
});

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await stopAll();
}
