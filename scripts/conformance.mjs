// ECMAScript conformance of the sandbox, measured with tc39/test262: every selected test is assembled with its
// harness includes into ONE program, run through POST /execute of a local service started here, and run the same
// way (the body of a strict async function) in plain Node 22 as the baseline. What counts is how many of the tests
// Node passes the service passes too; the wrapping as a function body changes some tests' meaning for both alike.
//
//   npm run conformance -- /path/to/test262 [--filter <substring>] [--limit <n>] [--concurrency <n>] [--out <file>]
//   TEST262_DIR=/path/to/test262 npm run conformance
//
// test262 is not vendored: fetch it (git clone https://github.com/tc39/test262) and point at the checkout; only
// its test/ and harness/ folders are read.

import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Worker, isMainThread, parentPort } from "node:worker_threads";
import vm from "node:vm";

/** The parts of test262 the issue names: language semantics the wrapping could change, and the builtins it touches. */
const SELECTED_DIRS = [
  "test/language/statements",
  "test/language/expressions",
  "test/language/arguments-object",
  "test/language/function-code",
  "test/built-ins/Function/prototype/toString",
  "test/built-ins/Array/prototype/map",
  "test/built-ins/Array/prototype/forEach",
  "test/built-ins/Array/prototype/sort",
  "test/built-ins/Array/prototype/reduce",
  "test/built-ins/Promise",
];

/** Features the baseline (Node 22, V8 12.4) does not have, or that need a host this comparison does not model. */
const SKIPPED_FEATURES = new Map([
  ["source-phase-imports", "module loading: the sandbox runs no modules of the caller's"],
  ["source-phase-imports-module-source", "module loading: the sandbox runs no modules of the caller's"],
  ["import-defer", "module loading: the sandbox runs no modules of the caller's"],
  ["dynamic-import", "module loading: the sandbox runs no modules of the caller's"],
  ["import-attributes", "module loading: the sandbox runs no modules of the caller's"],
  ["import.meta", "module loading: the sandbox runs no modules of the caller's"],
  ["top-level-await", "module loading: the sandbox runs no modules of the caller's"],
  ["json-modules", "module loading: the sandbox runs no modules of the caller's"],
  ["import-text", "module loading: the sandbox runs no modules of the caller's"],
  ["explicit-resource-management", "a feature Node 22 lacks"],
  ["await-dictionary", "a feature Node 22 lacks"],
  ["decorators", "a feature Node 22 lacks"],
  ["promise-try", "a feature Node 22 lacks"],
  ["tail-call-optimization", "a feature V8 lacks"],
  ["cross-realm", "needs $262 host hooks (realms, agents, GC, detach)"],
  ["IsHTMLDDA", "needs $262 host hooks (realms, agents, GC, detach)"],
  ["host-gc-required", "needs $262 host hooks (realms, agents, GC, detach)"],
]);

const SYNC_PASS = "Test262:Pass";
const ASYNC_PASS = "Test262:AsyncTestComplete";
/** Per test, both sides: long enough for the slowest passing test, short enough that a hung one costs little. */
const TEST_TIMEOUT_MS = 5_000;
/** Keep in sync with schemas/limits.ts (MAX_CODE_BYTES). */
const MAX_CODE_BYTES = 100 * 1024;
const LISTED_PER_CATEGORY = 30;

// ---------------------------------------------------------------------------------------------------------------
// Selection and assembly

function parseArgs(argv) {
  const options = { dir: process.env.TEST262_DIR, filter: undefined, limit: Infinity, concurrency: 3, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--filter") options.filter = argv[++i];
    else if (arg === "--limit") options.limit = Number(argv[++i]);
    else if (arg === "--concurrency") options.concurrency = Number(argv[++i]);
    else if (arg === "--out") options.out = argv[++i];
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
    else options.dir = arg;
  }
  if (!options.dir) throw new Error("usage: npm run conformance -- <test262 dir> [--filter s] [--limit n] [--concurrency n]");
  return options;
}

function listTests(root, dir, out = []) {
  for (const entry of readdirSync(path.join(root, dir)).sort()) {
    const rel = path.join(dir, entry);
    if (statSync(path.join(root, rel)).isDirectory()) listTests(root, rel, out);
    else if (entry.endsWith(".js") && !entry.includes("_FIXTURE")) out.push(rel);
  }
  return out;
}

/** The frontmatter keys this runner acts on; test262's YAML is regular enough for line-based reading. */
export function parseFrontmatter(source) {
  const match = /\/\*---([\s\S]*?)---\*\//.exec(source);
  const yaml = match ? match[1] : "";
  const list = (key) => {
    const inline = new RegExp(`^${key}:\\s*\\[([^\\]]*)\\]`, "m").exec(yaml);
    if (inline) return inline[1].split(",").map((s) => s.trim()).filter(Boolean);
    const block = new RegExp(`^${key}:\\s*\\n((?:\\s+-\\s*.*\\n?)+)`, "m").exec(yaml);
    if (block) return block[1].split("\n").map((s) => s.replace(/^\s*-\s*/, "").trim()).filter(Boolean);
    return [];
  };
  const negative = /^negative:\s*\n\s+phase:\s*(\S+)\s*\n\s+type:\s*(\S+)/m.exec(yaml) ??
    /^negative:\s*\n\s+type:\s*(\S+)\s*\n\s+phase:\s*(\S+)/m.exec(yaml);
  let neg;
  if (negative) {
    neg = /phase:\s*\S+\s*\n\s+type/.test(negative[0])
      ? { phase: negative[1], type: negative[2] }
      : { phase: negative[2], type: negative[1] };
  }
  return { includes: list("includes"), flags: list("flags"), features: list("features"), negative: neg };
}

function skipReason(meta, source, includesText) {
  if (meta.flags.includes("module")) return "module flag: the code runs as a function body, not a module";
  if (meta.negative?.phase === "resolution") return "module flag: the code runs as a function body, not a module";
  if (meta.flags.includes("noStrict")) return "noStrict: sandboxed code is always strict";
  if (meta.flags.includes("raw")) return "raw: must run unmodified as a script";
  if (meta.flags.includes("CanBlockIsFalse") || meta.flags.includes("CanBlockIsTrue")) return "needs $262 host hooks (realms, agents, GC, detach)";
  for (const feature of meta.features) {
    const reason = SKIPPED_FEATURES.get(feature);
    if (reason) return reason;
  }
  if (/\$262\s*\./.test(source) || /\$262\s*\./.test(includesText)) return "needs $262 host hooks (realms, agents, GC, detach)";
  return undefined;
}

/**
 * One program: a `print` hook for async tests, the harness, the includes, the test, and a final return that says
 * the test reached its end. The first line makes it strict in Node; the service's module code is strict already.
 */
function assemble(root, meta, source, harnessCache) {
  const read = (name) => {
    if (!harnessCache.has(name)) harnessCache.set(name, readFileSync(path.join(root, "harness", name), "utf8"));
    return harnessCache.get(name);
  };
  const async = meta.flags.includes("async");
  const parts = [
    `"use strict";`,
    `const $conformance = {};`,
    `$conformance.finished = new Promise((resolve) => { $conformance.finish = resolve; });`,
    `function print(message) { $conformance.finish(String(message)); }`,
    read("assert.js"),
    read("sta.js"),
    ...(async ? [read("doneprintHandle.js")] : []),
    ...meta.includes.map(read),
    source,
    async ? `;return await $conformance.finished;` : `;return ${JSON.stringify(SYNC_PASS)};`,
  ];
  return { code: parts.join("\n"), async, includesText: meta.includes.map(read).join("\n") };
}

/** What passing means for a test: its end reached, or the error its frontmatter expects, in the phase it expects. */
function verdict(test, outcome) {
  const expected = test.meta.negative;
  if (!expected) {
    return outcome.kind === "returned" && outcome.value === (test.async ? ASYNC_PASS : SYNC_PASS);
  }
  if (expected.phase === "parse") return outcome.kind === "syntax";
  return outcome.kind === "threw" && outcome.name === expected.type;
}

// ---------------------------------------------------------------------------------------------------------------
// Node 22 baseline: each test in a fresh vm context, in a worker thread the supervisor can end when a test hangs.

function runBaselineWorker() {
  let current = () => {};
  // A test's own callbacks can throw outside any frame of ours (a thenable job): that is the test failing.
  process.on("uncaughtException", (error) => current({ kind: "threw", name: errorName(error), message: errorMessage(error) }));
  parentPort.on("message", ({ id, code }) => {
    let settled = false;
    const report = (outcome) => {
      if (settled) return;
      settled = true;
      parentPort.postMessage({ id, outcome });
    };
    current = report;
    const context = vm.createContext({});
    context.$conformanceReport = (kind, value) => {
      if (kind === "returned") report({ kind, value: typeof value === "string" ? value : String(value) });
      else report({ kind: "threw", name: errorName(value), message: errorMessage(value) });
    };
    // The same shape as the service's user.js: the code is the body of an async function. `then` is taken before
    // the test runs, since tests patch Promise.prototype.then.
    const wrapped = `(function (report) { const then = Promise.prototype.then; const p = (async function () {\n${code}\n})();` +
      ` then.call(p, (v) => report("returned", v), (e) => report("threw", e)); })($conformanceReport)`;
    let script;
    try {
      script = new vm.Script(wrapped, { filename: "test.js" });
    } catch (error) {
      report(error instanceof SyntaxError || errorName(error) === "SyntaxError"
        ? { kind: "syntax", message: errorMessage(error) }
        : { kind: "threw", name: errorName(error), message: errorMessage(error) });
      return;
    }
    try {
      script.runInContext(context, { timeout: TEST_TIMEOUT_MS });
    } catch (error) {
      report({ kind: "threw", name: errorName(error), message: errorMessage(error) });
    }
  });
}

function errorName(value) {
  try {
    if (value && typeof value === "object") return String(value.constructor?.name ?? value.name ?? "Object");
    return typeof value;
  } catch {
    return "unknown";
  }
}

function errorMessage(value) {
  try {
    return String(value && typeof value === "object" ? value.message : value).slice(0, 300);
  } catch {
    return "(unprintable)";
  }
}

function createBaseline() {
  let worker;
  let pending = new Map();
  let nextId = 0;
  const start = () => {
    worker = new Worker(new URL(import.meta.url));
    worker.unref();
    worker.on("message", ({ id, outcome }) => {
      const entry = pending.get(id);
      if (!entry) return;
      pending.delete(id);
      clearTimeout(entry.timer);
      entry.resolve(outcome);
    });
  };
  start();
  return {
    run(code) {
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          // A test that never settles (or loops in a microtask) takes the worker with it: start a fresh one.
          pending.delete(id);
          const orphans = pending;
          pending = new Map();
          void worker.terminate();
          start();
          for (const entry of orphans.values()) clearTimeout(entry.timer), entry.retry();
          resolve({ kind: "timeout" });
        }, TEST_TIMEOUT_MS + 1_000);
        pending.set(id, { resolve, timer, retry: () => this.run(code).then(resolve) });
        worker.postMessage({ id, code });
      });
    },
    stop: () => worker.terminate(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The service

async function runOnService(url, code) {
  if (Buffer.byteLength(code) > MAX_CODE_BYTES) return { kind: "too-large" };
  let response;
  try {
    response = await fetch(`${url}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code, config: { timeout: TEST_TIMEOUT_MS } }),
      signal: AbortSignal.timeout(TEST_TIMEOUT_MS + 15_000),
    });
  } catch (error) {
    return { kind: "http", message: String(error) };
  }
  if (response.status !== 200) return { kind: "http", message: `${response.status} ${(await response.text()).slice(0, 200)}` };
  const result = await response.json();
  if (result.success) return { kind: "returned", value: typeof result.result === "string" ? result.result : JSON.stringify(result.result) };
  const error = result.error ?? {};
  if (error.code === "SYNTAX_ERROR") return { kind: "syntax", message: error.message };
  if (error.code === "POLICY_VIOLATION") return { kind: "policy", message: error.message };
  if (error.code === "TIMEOUT") return { kind: "timeout", message: error.message };
  if (error.code === "SANDBOX_ERROR") return { kind: "sandbox", name: error.name, message: error.message };
  return { kind: "threw", name: error.name, message: error.message };
}

/** Why the service failed a test Node passed: the list the report groups by. */
function category(outcome) {
  switch (outcome.kind) {
    case "policy":
      return /code generation|eval|Function constructor|function constructor/i.test(outcome.message)
        ? "refused: code generation"
        : `refused: ${outcome.message.replace(/ \(and \d+ more.*$/, "")}`;
    case "syntax":
      return "rejected as a syntax error";
    case "threw":
      return `threw ${outcome.name}`;
    case "returned":
      return "returned something else";
    default:
      return outcome.kind;
  }
}

/** A static refusal for code generation is only right when the program visibly builds code from a string. */
const GENERATES_CODE = /\bnew\s+Function\b|\beval\s*\(|\bFunction\s*\(|\.constructor\s*\(|(?:Async|Generator|AsyncGenerator)Function\s*\(/;

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  if (!process.versions.node.startsWith("22.")) {
    throw new Error(`the baseline must be Node 22 (this is ${process.version}): run it with \`npm run conformance\``);
  }
  const options = parseArgs(process.argv.slice(2));
  const root = path.resolve(options.dir);
  const harnessCache = new Map();

  const skipped = new Map();
  const tests = [];
  for (const dir of SELECTED_DIRS) {
    for (const file of listTests(root, dir)) {
      if (options.filter && !file.includes(options.filter)) continue;
      if (tests.length >= options.limit) break;
      const source = readFileSync(path.join(root, file), "utf8");
      const meta = parseFrontmatter(source);
      const missing = meta.includes.find((name) => {
        try {
          statSync(path.join(root, "harness", name));
          return false;
        } catch {
          return true;
        }
      });
      const { code, async, includesText } = missing ? {} : assemble(root, meta, source, harnessCache);
      const reason = missing ? `missing harness include ${missing}` : skipReason(meta, source, includesText);
      if (reason) skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
      else tests.push({ file, meta, code, async });
    }
  }
  console.log(`test262 at ${root}: ${tests.length} tests selected; skipped:`);
  for (const [reason, count] of [...skipped].sort((a, b) => b[1] - a[1])) console.log(`  ${String(count).padStart(6)}  ${reason}`);

  const startedAt = Date.now();
  const baseline = createBaseline();
  const nodeOutcomes = [];
  for (const test of tests) nodeOutcomes.push(await baseline.run(test.code));
  await baseline.stop();
  const nodeMs = Date.now() - startedAt;
  console.log(`node ${process.version}: ${tests.length} tests in ${(nodeMs / 1000).toFixed(1)} s`);

  const { startLocalService } = await import("./local-service.mjs");
  let service = await startLocalService({ label: "conformance" });
  // A test that wedges local workerd (README, Security model: local has no CPU limit) would fail every test after
  // it: when a request fails and /health does not answer either, the service is restarted and the test retried.
  let restarting;
  let restarts = 0;
  const healthy = async (url) => {
    try {
      return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) })).ok;
    } catch {
      return false;
    }
  };
  const restart = async (failedUrl) => {
    if (service.url !== failedUrl) return;
    restarting ??= (async () => {
      restarts++;
      await service.stop();
      service = await startLocalService({ label: "conformance" });
    })().finally(() => (restarting = undefined));
    await restarting;
  };
  const serviceOutcomes = new Array(tests.length);
  const serviceStartedAt = Date.now();
  try {
    let next = 0;
    let done = 0;
    const lane = async () => {
      while (next < tests.length) {
        const index = next++;
        if (restarting) await restarting;
        let url = service.url;
        let outcome = await runOnService(url, tests[index].code);
        if (outcome.kind === "http" && !(await healthy(url))) {
          console.log(`  service: no answer after ${tests[index].file}; restarting it`);
          await restart(url);
          url = service.url;
          outcome = await runOnService(url, tests[index].code);
          if (outcome.kind === "http" && !(await healthy(url))) await restart(url);
        }
        serviceOutcomes[index] = outcome;
        if (++done % 500 === 0) console.log(`  service: ${done}/${tests.length} (${((Date.now() - serviceStartedAt) / 1000).toFixed(0)} s)`);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, lane));
  } finally {
    await service.stop();
  }
  if (restarts > 0) console.log(`service restarted ${restarts} times after tests that wedged it`);
  const serviceMs = Date.now() - serviceStartedAt;

  let nodePass = 0;
  let servicePass = 0;
  let bothPass = 0;
  let codeGenerationRefusals = 0;
  const failures = new Map();
  const unexplainedRefusals = [];
  const serviceOnly = [];
  for (let i = 0; i < tests.length; i++) {
    const test = tests[i];
    const nodeOk = verdict(test, nodeOutcomes[i]);
    const serviceOk = verdict(test, serviceOutcomes[i]);
    if (nodeOk) nodePass++;
    if (serviceOk) servicePass++;
    if (nodeOk && serviceOk) bothPass++;
    if (!nodeOk && serviceOk) serviceOnly.push(test.file);
    if (nodeOk && !serviceOk) {
      const kind = category(serviceOutcomes[i]);
      if (kind === "refused: code generation") {
        codeGenerationRefusals++;
        // workerd's own refusal at run time is code generation by definition; a static one must show it.
        const atRunTime = /disallowed/.test(serviceOutcomes[i].message);
        if (!atRunTime && !GENERATES_CODE.test(test.code)) unexplainedRefusals.push(test.file);
      }
      const list = failures.get(kind) ?? [];
      list.push({ file: test.file, outcome: serviceOutcomes[i] });
      failures.set(kind, list);
    }
  }

  const percent = (a, b) => (b === 0 ? "n/a" : `${((100 * a) / b).toFixed(2)}%`);
  console.log(`\nservice: ${tests.length} tests in ${(serviceMs / 1000).toFixed(1)} s at concurrency ${options.concurrency}`);
  console.log(`node pass:                     ${nodePass} / ${tests.length}`);
  console.log(`service pass:                  ${servicePass} / ${tests.length}`);
  console.log(`service pass among node pass:  ${bothPass} / ${nodePass} = ${percent(bothPass, nodePass)}`);
  console.log(
    `  not counting refusals of code generation (${codeGenerationRefusals}): ${bothPass} / ${nodePass - codeGenerationRefusals} = ${percent(bothPass, nodePass - codeGenerationRefusals)}`,
  );
  console.log(`code-generation refusals without eval/Function/.constructor( in the program: ${unexplainedRefusals.length}`);
  for (const file of unexplainedRefusals.slice(0, LISTED_PER_CATEGORY)) console.log(`  ${file}`);
  console.log(`service pass where node fails: ${serviceOnly.length}`);
  for (const file of serviceOnly.slice(0, 10)) console.log(`  ${file}`);

  console.log("\nservice failures among node pass, by category:");
  for (const [kind, list] of [...failures].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`\n${kind}: ${list.length}`);
    for (const { file, outcome } of list.slice(0, LISTED_PER_CATEGORY)) {
      console.log(`  ${file}${outcome.message ? `  — ${String(outcome.message).slice(0, 140)}` : ""}`);
    }
  }

  const out = options.out ?? `/tmp/conformance-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(
    out,
    JSON.stringify(
      {
        counts: { selected: tests.length, nodePass, servicePass, bothPass, codeGenerationRefusals },
        skipped: Object.fromEntries(skipped),
        failures: Object.fromEntries([...failures].map(([kind, list]) => [kind, list])),
        nodeFailures: tests.flatMap((test, i) => (verdict(test, nodeOutcomes[i]) ? [] : [{ file: test.file, outcome: nodeOutcomes[i] }])),
        serviceOnly,
      },
      null,
      1,
    ),
  );
  console.log(`\nfull lists: ${out}`);
}

// Last, so every constant above is initialised before either role starts.
if (isMainThread) {
  await main();
} else {
  runBaselineWorker();
}
