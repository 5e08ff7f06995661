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
// (comma-separated names, default all; floor and js are always measured, the ratios need them).
// MINIFLARE_WORKERD_V8_FLAGS is passed through to workerd, e.g. "--no-flush-liftoff-code" to compare.

import { join } from "node:path";
import * as esbuild from "esbuild-wasm";
import { ROOT, startLocalService } from "./local-service.mjs";

const SEQUENTIAL_REQUESTS = positiveInt("BENCH_REQUESTS", 60);
const CONCURRENCY = positiveInt("BENCH_CONCURRENCY", 4);
const CONCURRENT_REQUESTS = positiveInt("BENCH_CONCURRENT_REQUESTS", 60);
const WARMUP_REQUESTS = positiveInt("BENCH_WARMUP", 15);
const REQUEST_TIMEOUT_MS = 30_000;

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
];

// ---- Python (worker/languages/python/): its own workloads and targets; keep this section self-contained ----

/** A 50-line Python program, unique per request like the TypeScript one: classes, dataclasses, comprehensions. */
function pythonProgram(seed) {
  return `# order summary #${seed}
from dataclasses import dataclass, field
from collections import defaultdict
import json, math


@dataclass
class LineItem:
    sku: str
    quantity: int
    unit_price_cents: int
    tags: tuple = ()


@dataclass
class Order:
    id: str
    currency: str
    items: list = field(default_factory=list)
    discount_percent: float = 0


class OrderBook:
    def __init__(self):
        self.orders = {}

    def add(self, order):
        self.orders[order.id] = order
        return self

    def totals(self, order_id):
        order = self.orders.get(order_id)
        if order is None:
            return None
        subtotal = sum(item.quantity * item.unit_price_cents for item in order.items)
        discount = round(subtotal * order.discount_percent / 100)
        return {"subtotal_cents": subtotal, "discount_cents": discount, "total_cents": subtotal - discount}


def by_tag(items, tag):
    return [item for item in items if tag in item.tags]


seed = ${seed}
items = [LineItem("A-%d" % i, i % 3 + 1, 250 * (i + 1), ("sale",) if i % 2 else ()) for i in range(10)]
book = OrderBook().add(Order("A-%d" % seed, "EUR", items, 10))
totals = book.totals("A-%d" % seed)
counts = defaultdict(int)
for item in items:
    counts[item.quantity] += 1
print(json.dumps(totals))
{"totals": totals, "on_sale": len(by_tag(items, "sale")), "counts": dict(counts), "root": math.isqrt(seed)}
`;
}

/**
 * api() cannot reach a local fake upstream under wrangler dev (its policy refuses loopback addresses and
 * non-default ports, and wrangler dev has no outbound override), so the capability workloads are db() against the
 * local D1 and an api() call the policy answers (a full capability RPC round trip, no network).
 */
const PYTHON_WORKLOADS = [
  { name: "py", target: "service", body: () => ({ language: "python", code: "1+1" }) },
  { name: "py-50-unique", target: "service", body: () => ({ language: "python", code: pythonProgram(uniqueSeed++) }) },
  {
    name: "py-db",
    target: "service",
    body: () => ({ language: "python", code: "r = await db({'select': {'from': 'things', 'limit': 5}})\nr['rowCount']" }),
  },
  {
    name: "py-api-policy",
    target: "service",
    body: () => ({
      language: "python",
      code: "try:\n    await api('https://api.example.com/x')\nexcept CapabilityError as e:\n    code = e.code\ncode",
    }),
  },
];
ALL_WORKLOADS.push(...PYTHON_WORKLOADS);

/** The first Python request a new front isolate serves: it reads the assets and gunzips the snapshot first. */
async function firstPythonRequestMs(url) {
  return timedRequest(url, { language: "python", code: "1+1" });
}

function reportPython(sequential, concurrent, firstMs) {
  if (!sequential.has("py")) return;
  const p50 = percentile(sequential.get("py"), 50);
  console.log(`python: 1+1 p50 ${round(p50)} ms (target <= 250 ms) ${p50 <= 250 ? "ok" : "MISSED"}`);
  if (firstMs !== undefined) console.log(`python: first request of a new front isolate ${round(firstMs)} ms (target <= 600 ms) ${firstMs <= 600 ? "ok" : "MISSED"}`);
  for (const name of ["py", "py-50-unique", "py-db", "py-api-policy"]) {
    const con = concurrent.get(name);
    if (con) console.log(`python: ${name} throughput c=${CONCURRENCY}: ${round((con.latencies.length / con.elapsedMs) * 1000)} exec/s`);
  }
}

const selected = process.env.BENCH_WORKLOADS?.split(",").map((name) => name.trim());
const WORKLOADS = ALL_WORKLOADS.filter((w) => !selected || ["floor", "js", ...selected].includes(w.name));

const started = [];
let stopping = false;

async function main() {
  const [service, floor] = await Promise.all([
    startWrangler("service", join(ROOT, "wrangler.jsonc"), { path: "/health" }),
    startWrangler("floor", join(ROOT, "scripts", "bench-floor", "wrangler.jsonc"), { path: "/", method: "POST" }),
  ]);
  const urls = { service: `${service.url}/execute`, floor: `${floor.url}/` };
  const send = async (workload) => timedRequest(urls[workload.target], await workload.body());
  const pythonFirstMs = WORKLOADS.some((w) => w.name === "py") ? await firstPythonRequestMs(urls.service) : undefined;

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
  reportPython(sequential, concurrent, pythonFirstMs);
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

async function startWrangler(label, config, ready) {
  // Only the service has databases; the floor is one trivial isolate per request and nothing else.
  const service = await startLocalService({ label: `bench-${label}`, config, migrate: label === "service", ready, args: ["--log-level", "warn"] });
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
