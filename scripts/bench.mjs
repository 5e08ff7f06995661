#!/usr/bin/env node
// npm run bench: what one execution costs in this service, side by side with a bare Worker Loader floor and with
// Cloudflare's codemode executor, on this machine, in one run.
//
// Starts one process per system on random loopback ports (wrangler dev, or plain workerd for self-hosted), each
// with its own throw-away state directory:
//   floor     scripts/bench-peers/floor/: one fresh trivial isolate per request, called once, nothing else
//   codemode  scripts/bench-peers/codemode/: @cloudflare/codemode's DynamicWorkerExecutor, execute("return 1 + 1")
//   http      the service (wrangler.jsonc), POST /execute
//   rpc       examples/caller-worker in front of the service, calling executeCode over the service binding
//   http-plane   the service with its children in the sandbox plane, as npm run dev runs it
//   self-hosted  the front on plain workerd (scripts/self-host.mjs) on the plane: no wrangler at run time
// Each system also answers a no-op request (floor and codemode GET /noop, the service GET /health, the caller a
// request it answers itself without RPC). Per-execution cost is c1 p50 minus the system's own no-op p50, so the
// HTTP path through wrangler's proxy, which every system pays alike, cancels out. Throughput is measured at
// concurrency BENCH_CONCURRENCY, and the CPU the system's processes used (/proc) is divided by the requests.
// Requests are interleaved round-robin across workloads, so background noise hits all of them alike.
// Everything it starts is stopped on exit.
//
// Options (environment): BENCH_REQUESTS (sequential requests per workload, default 60), BENCH_CONCURRENCY
// (default 4), BENCH_CONCURRENT_REQUESTS (per workload, default 120), BENCH_WARMUP (default 15), BENCH_WORKLOADS
// (comma-separated names of the service workloads below, default all), BENCH_SERVICE_CONFIG (another wrangler
// config for the service, e.g. to compare a setting), BENCH_BASELINE (another checkout, measured alongside).
// MINIFLARE_WORKERD_V8_FLAGS and X_LOCAL_OBSERVABILITY (wrangler's local trace collector) reach wrangler.

import { join } from "node:path";
import * as esbuild from "esbuild-wasm";
import { cpuMsOfGroup } from "./bench-cpu.mjs";
import { ROOT, startLocalService } from "./local-service.mjs";

const SEQUENTIAL_REQUESTS = positiveInt("BENCH_REQUESTS", 60);
const CONCURRENCY = positiveInt("BENCH_CONCURRENCY", 4);
const CONCURRENT_REQUESTS = positiveInt("BENCH_CONCURRENT_REQUESTS", 120);
const WARMUP_REQUESTS = positiveInt("BENCH_WARMUP", 15);
/** Sandbox hosts of the plane system (BENCH_HOSTS; default: the number of cores, as npm run dev). */
const BENCH_HOSTS = process.env.BENCH_HOSTS ? positiveInt("BENCH_HOSTS", 1) : undefined;
const REQUEST_TIMEOUT_MS = 30_000;
const SERVICE_CONFIG = process.env.BENCH_SERVICE_CONFIG ? join(ROOT, process.env.BENCH_SERVICE_CONFIG) : join(ROOT, "wrangler.jsonc");
/**
 * Another checkout of this repository (with node_modules), e.g. `git worktree add /tmp/base main`: its service is
 * measured too, as http-baseline and rpc-baseline, interleaved with this one, so before/after compare in one run.
 */
const BASELINE_DIR = process.env.BENCH_BASELINE;
/** Iterations of the guard workload: every one is one guard check. */
const GUARD_LOOP_ITERATIONS = 2_000_000;
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
const GUARD_PROGRAM = `let n = 0;\nfor (let i = 0; i < ${GUARD_LOOP_ITERATIONS}; i++) n += i;\nreturn n;`;

/** The same program already in JavaScript: ts-unique minus this is what transpiling costs. */
async function javascriptTwin(seed) {
  return (await esbuild.transform(typescriptProgram(seed), { loader: "ts", target: "esnext" })).code;
}

const post = (path, body) => ({ path, method: "POST", body });
const get = (path) => ({ path, method: "GET" });

/** What each system runs, and its own no-op. `ok` checks the answer, so a broken system cannot look fast. */
const SYSTEMS = [
  {
    name: "floor",
    config: { config: join(ROOT, "scripts", "bench-peers", "floor", "wrangler.jsonc"), migrate: false, ready: get("/noop") },
    execute: () => post("/", {}),
    noop: () => get("/noop"),
    ok: (status, body) => status === 200 && body.resultJson === "2",
  },
  {
    name: "codemode",
    config: { config: join(ROOT, "scripts", "bench-peers", "codemode", "wrangler.jsonc"), migrate: false, ready: get("/noop") },
    execute: () => post("/", {}),
    noop: () => get("/noop"),
    ok: (status, body) => status === 200 && body.result === 2,
  },
  {
    name: "http",
    config: { config: SERVICE_CONFIG, ready: get("/health") },
    execute: () => post("/execute", { code: JS_PROGRAM }),
    noop: () => get("/health"),
    ok: (status, body) => status === 200 && body.success === true && body.result === 2 && body.warnings === undefined,
  },
  {
    name: "rpc",
    config: {
      config: SERVICE_CONFIG,
      devConfigs: [join(ROOT, "examples", "caller-worker", "wrangler.jsonc"), SERVICE_CONFIG],
      // The caller answers 404 to anything but GET /hello and POST: a request it serves without calling RPC.
      ready: get("/hello"),
    },
    execute: () => post("/", { method: "executeCode", args: [JS_PROGRAM] }),
    noop: () => get("/noop"),
    noopStatus: 404,
    ok: (status, body) => status === 200 && body.ok === true && body.result.success === true && body.result.result === 2,
  },
];

// The same service with its children in the sandbox plane (README, "Sandbox plane"): what the extra hop costs.
// BENCH_PLANE=0 leaves it and the self-hosted system out; BENCH_HOSTS sets their host count (default: the number
// of cores, as npm run dev).
if (process.env.BENCH_PLANE !== "0") {
  const http = SYSTEMS.find((candidate) => candidate.name === "http");
  SYSTEMS.push({ ...http, name: "http-plane", config: { ...http.config, plane: { hosts: BENCH_HOSTS, log: () => {} } } });
  // Self-hosted (README, "Self-hosting on workerd"): the front on plain workerd, without wrangler's proxy, on a plane.
  SYSTEMS.push({ ...http, name: "self-hosted", config: { ready: http.config.ready, runtime: "workerd", plane: { hosts: BENCH_HOSTS, log: () => {} } } });
}

if (BASELINE_DIR) {
  const baselineConfig = join(BASELINE_DIR, "wrangler.jsonc");
  for (const name of ["http", "rpc"]) {
    const system = SYSTEMS.find((candidate) => candidate.name === name);
    SYSTEMS.push({
      ...system,
      name: `${name}-baseline`,
      config: {
        ...system.config,
        config: baselineConfig,
        ...(system.config.devConfigs ? { devConfigs: [join(BASELINE_DIR, "examples", "caller-worker", "wrangler.jsonc"), baselineConfig] } : {}),
      },
    });
  }
}

const FILES_PROGRAM = {
  "main.ts": 'import { z } from "zod";\nimport { sumBy } from "lodash-es";\nimport { items } from "./lib/items";\nimport rates from "./rates.json";\nconst Item = z.object({ price: z.number() });\nreturn sumBy(z.array(Item).parse(items), "price") * rates.eur',
  "lib/items.ts": "export const items: { price: number }[] = [{ price: 1 }, { price: 2 }];",
  "rates.json": '{ "eur": 0.5 }',
};

let uniqueSeed = 1;
/** More service workloads (over HTTP), compared with `js` = the http system's execution. */
const SERVICE_WORKLOADS = [
  { name: "js-50-unique", body: async () => ({ code: await javascriptTwin(uniqueSeed++) }) },
  { name: "ts-unique", body: () => ({ code: typescriptProgram(uniqueSeed++), language: "typescript" }) },
  { name: "ts-repeat", body: () => ({ code: REPEATED_TS_PROGRAM, language: "typescript" }) },
  { name: "ts-enum-unique", body: () => ({ code: typescriptProgram(uniqueSeed++, { withEnum: true }), language: "typescript" }) },
  { name: "ts-enum-repeat", body: () => ({ code: REPEATED_ENUM_PROGRAM, language: "typescript" }) },
  { name: "guard-loop", body: () => ({ code: GUARD_PROGRAM }) },
  // npm run load's console kind: 200 log lines, each with a small object (the encoder's per-object work).
  { name: "console-200", body: () => ({ code: "for (let i = 0; i < 200; i++) console.log('line', i, context.token, { i });\nreturn context.token;", context: { token: "t" } }) },
  // The same `return 1 + 1` through zod: the isolate gets the zod bundle (742 KiB) to compile and evaluate.
  { name: "zod-import", body: () => ({ code: 'import { z } from "zod";\nreturn z.number().parse(1 + 1)' }) },
  // Three files and two packages, as the playground's example.
  { name: "files-2-packages", body: () => ({ files: FILES_PROGRAM, language: "typescript" }) },
];

// ---- Python (worker/languages/python/) ----

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
const PYTHON_FILES_PROGRAM = {
  "main.py": "import json\nfrom lib.stats import mean\nfrom util import label\nrows = json.load(open('data.json'))\nlabel(mean([r['n'] for r in rows]))",
  "util.py": "def label(x):\n    return f'mean={x}'\n",
  "lib/__init__.py": "",
  "lib/stats.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
  "data.json": '[{"n": 1}, {"n": 2}, {"n": 6}]',
};

/** Python over HTTP (worker/languages/python/). */
const PYTHON_WORKLOADS = [
  { name: "py", body: () => ({ language: "python", code: "1+1" }) },
  { name: "py-50-unique", body: () => ({ language: "python", code: pythonProgram(uniqueSeed++) }) },
  // A multi-file Python program: a package, a module and a data file (runner.py writes them and installs its importer).
  { name: "py-files", body: () => ({ files: PYTHON_FILES_PROGRAM }) },
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
SERVICE_WORKLOADS.push(...PYTHON_WORKLOADS);

const selected = process.env.BENCH_WORKLOADS?.split(",").map((name) => name.trim());
const EXTRA = SERVICE_WORKLOADS.filter((w) => !selected || selected.includes(w.name));

const started = [];
let stopping = false;

async function main() {
  const running = await Promise.all(SYSTEMS.map((system) => startWrangler(system)));
  const byName = new Map(running.map((service, i) => [SYSTEMS[i].name, { ...SYSTEMS[i], service }]));
  const http = byName.get("http");

  /** Every measured thing is a workload: a system's execution, its no-op, or a service program over HTTP. */
  const workloads = [];
  for (const system of byName.values()) {
    workloads.push({ name: system.name, system, request: system.execute });
    const noopOk = system.noopStatus ?? 200;
    workloads.push({ name: `${system.name}-noop`, system: { ...system, ok: (status) => status === noopOk }, request: system.noop });
  }
  for (const extra of EXTRA) {
    workloads.push({
      name: extra.name,
      system: { ...http, ok: (status, body) => status === 200 && body.success === true },
      request: async () => post("/execute", await extra.body()),
    });
  }
  const send = async (workload, request) => timedRequest(workload.system, request ?? (await workload.request()));

  console.log(`warm-up: ${WARMUP_REQUESTS} requests per workload`);
  for (let i = 0; i < WARMUP_REQUESTS; i++) for (const workload of workloads) await send(workload);

  const sequential = new Map(workloads.map((w) => [w.name, []]));
  for (let i = 0; i < SEQUENTIAL_REQUESTS; i++) {
    for (const workload of workloads) sequential.get(workload.name).push(await send(workload));
  }

  const concurrent = new Map();
  for (const workload of workloads) {
    // Requests are made up front: making them must not count against the system.
    const requests = await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, () => workload.request()));
    const cpuBefore = cpuMsOfGroup(workload.system.service.proc.pid);
    const before = performance.now();
    const latencies = await runConcurrently(CONCURRENCY, requests, (request) => send(workload, request));
    const elapsedMs = performance.now() - before;
    const cpuMs = cpuMsOfGroup(workload.system.service.proc.pid) - cpuBefore;
    concurrent.set(workload.name, { latencies, elapsedMs, cpuMsPerRequest: cpuMs / latencies.length });
  }

  const p50 = (name) => percentile(sequential.get(name), 50);
  const throughput = (name) => (concurrent.get(name).latencies.length / concurrent.get(name).elapsedMs) * 1000;
  const perExecution = (name) => p50(name) - p50(`${name}-noop`);
  const cpuPerExecution = (name) => concurrent.get(name).cpuMsPerRequest - concurrent.get(`${name}-noop`).cpuMsPerRequest;

  console.log(
    `\nOne execution of \`return 1 + 1\`: ${SEQUENTIAL_REQUESTS} sequential + ${CONCURRENT_REQUESTS} requests at ` +
      `c=${CONCURRENCY} per workload` +
      (process.env.MINIFLARE_WORKERD_V8_FLAGS ? ` (V8 flags: ${process.env.MINIFLARE_WORKERD_V8_FLAGS})` : "") +
      (process.env.BENCH_SERVICE_CONFIG ? ` (service config: ${process.env.BENCH_SERVICE_CONFIG})` : ""),
  );
  console.table(
    SYSTEMS.map(({ name }) => ({
      system: name,
      "c1 p50 ms": round(p50(name)),
      "no-op p50 ms": round(p50(`${name}-noop`)),
      "per exec ms": round(perExecution(name)),
      "x floor": ratioText(perExecution(name) / perExecution("floor")),
      [`c${CONCURRENCY} req/s`]: round(throughput(name)),
      [`c${CONCURRENCY} x floor`]: ratioText(throughput(name) / throughput("floor")),
      "CPU ms/exec": round(cpuPerExecution(name)),
    })),
  );
  if (byName.has("http-plane")) {
    const cost = perExecution("http-plane") - perExecution("http");
    console.log(`return 1 + 1 in the sandbox plane - in-process, per execution: ${round(cost)} ms (target <= 1 ms) ${cost <= 1 ? "ok" : "MISSED"}`);
  }
  if (byName.has("self-hosted")) {
    const cost = perExecution("self-hosted") - perExecution("http");
    console.log(`return 1 + 1 self-hosted (plain workerd front, plane) - in-process under wrangler, per execution: ${round(cost)} ms`);
  }
  for (const name of ["http", "rpc", ...(BASELINE_DIR ? ["http-baseline", "rpc-baseline"] : [])]) {
    const cost = perExecution(name) / perExecution("floor");
    const rate = throughput(name) / throughput("floor");
    console.log(
      `${name}: per execution ${cost.toFixed(2)}x floor (target <= 1.3x) ${cost <= 1.3 ? "ok" : "MISSED"}; ` +
        `c${CONCURRENCY} throughput ${rate.toFixed(2)}x floor (target >= 0.9x) ${rate >= 0.9 ? "ok" : "MISSED"}`,
    );
  }

  if (EXTRA.length > 0) {
    console.log(`\nMore programs over HTTP (p50 minus the service's no-op, ms):`);
    console.table(
      EXTRA.map(({ name }) => ({
        workload: name,
        "c1 p50 ms": round(p50(name)),
        "c1 p95 ms": round(percentile(sequential.get(name), 95)),
        "per exec ms": round(p50(name) - p50("http-noop")),
        [`c${CONCURRENCY} req/s`]: round(throughput(name)),
      })),
    );
    for (const { name } of EXTRA) {
      if (!name.startsWith("ts-")) continue;
      const value = p50(name) / p50("http");
      console.log(`${name} / js p50 = ${value.toFixed(2)}x (target <= 1.5x) ${value <= 1.5 ? "ok" : "MISSED"}`);
    }
    if (sequential.has("ts-unique") && sequential.has("js-50-unique")) {
      console.log(`transpiling the 50-line program (ts-unique - js-50-unique p50): ${round(p50("ts-unique") - p50("js-50-unique"))} ms`);
    }
    if (sequential.has("py")) {
      const pyP50 = p50("py") - p50("http-noop");
      console.log(`python: 1+1 per execution ${round(pyP50)} ms (target <= 250 ms) ${pyP50 <= 250 ? "ok" : "MISSED"}`);
    }
    if (sequential.has("guard-loop")) {
      // The loop's own cost beyond `return 1 + 1`, one guard check per iteration.
      const loopMs = p50("guard-loop") - p50("http");
      console.log(`guard: ${GUARD_LOOP_ITERATIONS} checked iterations in ${round(loopMs)} ms = ${Math.round(GUARD_LOOP_ITERATIONS / loopMs)} checks/ms`);
    }
  }
}

const ratioText = (value) => `${value.toFixed(2)}x`;

async function timedRequest(system, request) {
  const url = `${system.service.url}${request.path}`;
  const before = performance.now();
  const response = await fetch(url, {
    method: request.method,
    ...(request.body !== undefined ? { headers: { "content-type": "application/json" }, body: JSON.stringify(request.body) } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  const elapsedMs = performance.now() - before;
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!system.ok(response.status, body ?? {})) {
    throw new Error(`${system.name}: ${request.method} ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  }
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

async function startWrangler(system) {
  const { config, devConfigs, migrate = true, ready, plane, runtime } = system.config;
  const args = runtime === "workerd" ? [] : ["--log-level", "warn"];
  const service = await startLocalService({ label: `bench-${system.name}`, config, devConfigs, migrate, ready, plane, runtime, args });
  if (plane && !(await service.plane.ready())) throw new Error("the sandbox hosts did not come up");
  return watchExit({ ...service, label: system.name });
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
