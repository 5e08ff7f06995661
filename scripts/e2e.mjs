#!/usr/bin/env node
// `npm run test:e2e`: the playground and history dashboard at `/`, driven in a real headless Chromium.
//
// Starts its own `wrangler dev` on a random loopback port with a throwaway --persist-to directory (local D1
// migrations applied there first), drives Debian's /usr/bin/chromium through playwright-core (no browser
// download), and always stops what it started. A second, short server run with API_KEYS set checks that the page
// asks for a key and then uses it. Screenshots land in test-results/ (gitignored). Exits 1 on any failure.
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), E2E_KEEP=1 keeps the temp directories for debugging.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startLocalService } from "./local-service.mjs";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const RESULTS_DIR = path.join(ROOT, "test-results");

const STARTUP_DEADLINE_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
/** A key long enough for the service's minimum (worker/http/auth.ts). */
const E2E_KEY = "e2e-playground-key-0123456789";

const cleanups = [];
const failures = [];

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  if (!process.env.E2E_KEEP) cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Our own throw-away service (scripts/local-service.mjs), stopped at the end whatever happens. */
async function startServer({ vars = {} } = {}) {
  const service = await startLocalService({ label: "e2e", vars, keepState: Boolean(process.env.E2E_KEEP), startupDeadlineMs: STARTUP_DEADLINE_MS });
  cleanups.push(() => service.stop());
  return { origin: service.url, stop: () => service.stop(), output: service.output };
}

async function launchBrowser() {
  const userDataDir = tempDir("code-exec-e2e-chromium-");
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  return context;
}

async function step(name, fn) {
  const started = performance.now();
  try {
    await fn();
    console.log(`  ✓ ${name} (${Math.round(performance.now() - started)} ms)`);
  } catch (error) {
    failures.push(name);
    console.log(`  ✗ ${name}\n    ${String(error?.stack ?? error).split("\n").slice(0, 6).join("\n    ")}`);
  }
}

/** Picks an example in the page, runs it with the Run button or Ctrl+Enter, and waits for a final status. */
async function runExample(page, name, { keyboard = false } = {}) {
  await page.selectOption("#example", { label: name });
  if (keyboard) {
    await page.focus("#code");
    await page.keyboard.press("Control+Enter");
  } else {
    await page.click("#run");
  }
  await page.waitForFunction(() => !["idle", "running"].includes(document.querySelector("#status")?.textContent ?? ""));
  return {
    status: await page.textContent("#status"),
    result: await page.textContent("#result"),
    logs: await page.$$eval("#logs li[data-level]", (items) => items.map((li) => ({ level: li.dataset.level, text: li.textContent, colour: getComputedStyle(li.querySelector(".lvl")).color }))),
  };
}

async function playgroundAndHistory(context, origin) {
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => message.type() === "error" && pageErrors.push(message.text()));

  await step("loads the page with its editor, examples and language picker", async () => {
    const response = await page.goto(`${origin}/`);
    assert.equal(response?.status(), 200);
    assert.match(response.headers()["content-security-policy"] ?? "", /script-src 'sha256-/);
    await page.waitForSelector("#example option", { state: "attached" });
    assert.equal(await page.inputValue("#code"), "return Math.sqrt(16) * 2");
    await page.waitForFunction(() => document.querySelector("#language option[value=typescript]")?.textContent === "TypeScript");
  });

  await step("runs `return Math.sqrt(16) * 2` and shows 8", async () => {
    const run = await runExample(page, "Math");
    assert.equal(run.status, "success");
    assert.equal(run.result, "8");
    assert.match(await page.textContent("#duration"), /\d+ ms/);
  });

  await step("runs the context example with {name: \"World\"} via Ctrl+Enter", async () => {
    const run = await runExample(page, "Context", { keyboard: true });
    assert.deepEqual(JSON.parse(await page.inputValue("#context")), { name: "World" });
    assert.equal(run.status, "success");
    assert.equal(run.result, '"Hello World!"');
  });

  await step("runs the TypeScript interface User example and shows \"John\"", async () => {
    const run = await runExample(page, "TypeScript interface");
    assert.equal(await page.inputValue("#language"), "typescript");
    assert.equal(run.status, "success");
    assert.equal(run.result, '"John"');
  });

  await step("runs the files-and-packages example (three files, zod and lodash-es) and shows the totals", async () => {
    const run = await runExample(page, "Files and packages");
    assert.equal(run.status, "success", JSON.stringify(run));
    assert.deepEqual(JSON.parse(run.result), { ada: 42, bob: 5 });
  });

  await step("runs the Python files example (a package directory and a data file) and shows its summary", async () => {
    const run = await runExample(page, "Python: files");
    assert.equal(run.status, "success", JSON.stringify(run));
    assert.deepEqual(JSON.parse(run.result), { mean: 6, max: 10 });
    assert.equal(run.logs.length, 1);
    assert.match(run.logs[0].text, /scores: \[3, 5, 10\]/);
  });

  await step("shows logs in order, coloured by level", async () => {
    const run = await runExample(page, "Console levels");
    assert.equal(run.status, "success");
    assert.deepEqual(run.logs.map((log) => log.level), ["log", "info", "warn", "error", "debug"]);
    assert.match(run.logs[0].text, /starting \{.*"?step"?: ?1/);
    assert.match(run.logs[3].text, /something failed/);
    const colours = new Set(run.logs.map((log) => log.colour));
    assert.ok(colours.size >= 4, `levels should have distinct colours, got ${[...colours].join(", ")}`);
  });

  await step("shows a runtime error with its line and jumps to it", async () => {
    const run = await runExample(page, "Runtime error");
    assert.equal(run.status, "error");
    const error = await page.textContent("#error");
    assert.match(error, /RUNTIME_ERROR/);
    assert.match(error, /line 3/);
    assert.equal(run.logs.length, 1);
    await page.click("#error button");
    const caretLine = await page.$eval("#code", (el) => el.value.slice(0, el.selectionStart).split("\n").length);
    assert.equal(caretLine, 3);
  });

  await step("stops `while (true) {}` at the 1 s timeout and keeps its logs", async () => {
    const run = await runExample(page, "Timeout");
    assert.equal(await page.inputValue("#timeout"), "1000");
    assert.equal(run.status, "timeout");
    assert.match(await page.textContent("#error"), /TIMEOUT/);
    assert.deepEqual(run.logs.map((log) => log.text), ["loglooping"]);
  });

  await step("streams: a 3-second program logging every 500 ms shows its first log before it ends", async () => {
    await page.selectOption("#example", { label: "Streaming logs" });
    await page.click("#run");
    // The first log is on the page while the status still says running: it came before the result.
    await page.waitForSelector("#logs li[data-level]");
    assert.equal(await page.textContent("#status"), "running");
    assert.equal(await page.textContent("#logs li[data-level]"), "logstep 1 of 6");
    assert.equal(await page.isVisible("#stop"), true);
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "success", undefined, { timeout: 10_000 });
    assert.equal(await page.textContent("#result"), '"done"');
    assert.equal((await page.$$("#logs li[data-level]")).length, 6);
    assert.equal(await page.isVisible("#stop"), false);
  });

  await step("Stop cancels a streaming run: status cancelled, the logs so far kept and recorded", async () => {
    await page.selectOption("#example", { label: "Streaming logs" });
    await page.click("#run");
    await page.waitForFunction(() => document.querySelectorAll("#logs li[data-level]").length >= 2);
    await page.click("#stop");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "cancelled");
    // The record replaces what was streamed once history has it: still cancelled, with the same first logs.
    await page.waitForFunction(() => /CANCELLED/.test(document.querySelector("#error")?.textContent ?? ""), undefined, { timeout: 10_000 });
    const logs = await page.$$eval("#logs li[data-level]", (items) => items.map((li) => li.textContent));
    assert.ok(logs.length >= 2 && logs.length < 6, `expected the logs made before Stop, got ${logs.length}`);
    assert.equal(logs[0], "logstep 1 of 6");
  });

  await step("runs the db() example against the seeded local data", async () => {
    const run = await runExample(page, "db()");
    assert.equal(run.status, "success");
    assert.ok(JSON.parse(run.result).length > 0, "expected rows");
    assert.match(run.logs[0]?.text ?? "", /Found \d+ articles/);
  });

  await step("shows ai() failing clearly when no AI provider is configured", async () => {
    const run = await runExample(page, "ai()");
    assert.equal(run.status, "error");
    assert.match(await page.textContent("#error"), /CapabilityError: ai\(\): no AI provider is configured/);
  });

  await step("indents with Tab and outdents with Shift+Tab in the editor", async () => {
    await page.fill("#code", "if (true) {");
    await page.focus("#code");
    await page.keyboard.press("End");
    await page.keyboard.press("Enter");
    await page.keyboard.type("return 1");
    assert.equal(await page.inputValue("#code"), "if (true) {\n  return 1");
    await page.keyboard.press("Shift+Tab");
    assert.equal(await page.inputValue("#code"), "if (true) {\nreturn 1");
    await page.keyboard.press("Home");
    await page.keyboard.press("Tab");
    assert.equal(await page.inputValue("#code"), "if (true) {\n  return 1");
  });

  await step("reports a request-level error (bad context JSON) without calling the service", async () => {
    await page.selectOption("#example", { label: "Math" });
    await page.fill("#context", "{ not json");
    await page.click("#run");
    assert.match(await page.textContent("#request-error"), /context is not valid JSON/);
  });

  await step("screenshot: playground", async () => {
    await page.selectOption("#example", { label: "Console levels" });
    await page.click("#run");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "success");
    await page.screenshot({ path: path.join(RESULTS_DIR, "playground.png"), fullPage: true });
  });

  await step("lists the executions in the history table, newest first, with charts", async () => {
    await page.click("#tab-history");
    await page.waitForSelector("#history-rows tr[data-id]");
    const rows = await page.$$eval("#history-rows tr[data-id]", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
    assert.ok(rows.length >= 5, `expected at least 5 rows, got ${rows.length}`);
    assert.equal(rows[0][0], "success");
    assert.match(await page.textContent("#page-info"), /^1–\d+ of \d+$/);
    const bars = await page.$$eval("#chart-status rect", (rects) => rects.map((r) => r.querySelector("title")?.textContent));
    assert.ok(bars.some((title) => /^success: [1-9]/.test(title ?? "")), `status chart: ${bars.join(", ")}`);
    assert.ok(bars.some((title) => /^error: [1-9]/.test(title ?? "")), `status chart: ${bars.join(", ")}`);
    assert.ok(bars.some((title) => /^timeout: [1-9]/.test(title ?? "")), `status chart: ${bars.join(", ")}`);
    assert.ok((await page.$$("#chart-duration rect")).length > 0);
  });

  await step("opens a history entry and shows its record", async () => {
    await page.selectOption("#filter-status", "error");
    await page.waitForFunction(() => [...document.querySelectorAll("#history-rows tr[data-id] .status")].every((s) => s.textContent === "error") && document.querySelector("#history-rows tr[data-id]"));
    // Newest first: the Runtime error example ran before ai(), so its row is the last one.
    await page.click("#history-rows tr[data-id]:last-child");
    await page.waitForSelector("#record-body:not([hidden])");
    assert.equal(await page.textContent("#record-status"), "error");
    assert.match(await page.textContent("#record-code"), /n\.missing\.value/);
    assert.match(await page.textContent("#record-error"), /RUNTIME_ERROR/);
    assert.equal(await page.$$eval("#record-logs li[data-level]", (items) => items.length), 1);
    await page.screenshot({ path: path.join(RESULTS_DIR, "history.png"), fullPage: true });
  });

  await step("pages through the history", async () => {
    // The pager still shows the error filter's count until the unfiltered list arrives: wait for the real total.
    const { total } = await page.evaluate(async () => (await fetch("/executions?limit=1")).json());
    await page.selectOption("#filter-status", "");
    await page.waitForFunction((expected) => document.querySelector("#page-info")?.textContent?.endsWith(` of ${expected}`), total);
    if (total > 10) {
      await page.click("#next");
      await page.waitForFunction(() => document.querySelector("#page-info")?.textContent?.startsWith("11–"));
    } else {
      assert.equal(await page.isDisabled("#next"), true);
    }
  });

  await step("GET /docs renders for a browser, linked from the page", async () => {
    await page.click("header a[href='/docs']");
    await page.waitForSelector("#runtime h3");
    assert.match(await page.textContent("#errors"), /RUNTIME_ERROR/);
    await page.screenshot({ path: path.join(RESULTS_DIR, "docs.png"), fullPage: false });
  });

  await step("screenshot: narrow viewport", async () => {
    await page.setViewportSize({ width: 420, height: 900 });
    await page.goto(`${origin}/`);
    await page.selectOption("#example", { label: "Console levels" });
    await page.click("#run");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "success");
    await page.screenshot({ path: path.join(RESULTS_DIR, "playground-narrow.png"), fullPage: true });
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  await step("the page raised no errors in the browser", async () => {
    assert.deepEqual(pageErrors, []);
  });
  await page.close();
}

async function historyMissing(context, origin) {
  const page = await context.newPage();
  await step("says so plainly when the history API answers 404 (a deployment without it)", async () => {
    // The only stand-in in this script: the service always has history, so the 404 is made at the network edge.
    await page.route("**/executions?*", (route) => route.fulfill({ status: 404, contentType: "application/json", body: '{"error":{"code":"NOT_FOUND","message":"No route"}}' }));
    await page.goto(`${origin}/`);
    await page.click("#tab-history");
    await page.waitForSelector("#history-notice:not([hidden])");
    assert.match(await page.textContent("#history-notice"), /History is not available on this deployment/);
    assert.equal(await page.isHidden("#history-body"), true);
    await page.click("#tab-playground");
    await page.click("#run");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "success");
  });
  await page.close();
}

async function withApiKeys(context, origin) {
  const page = await context.newPage();
  await step("with API keys configured, asks for a key and then uses it", async () => {
    await page.goto(`${origin}/`);
    await page.waitForSelector("#example option", { state: "attached" });
    await page.waitForSelector("#auth-notice:not([hidden])");
    assert.match(await page.textContent("#auth-notice"), /requires an API key/);
    await page.click("#run");
    await page.waitForFunction(() => /401 UNAUTHORIZED/.test(document.querySelector("#request-error")?.textContent ?? ""));
    await page.fill("#api-key", E2E_KEY);
    await page.click("#key-form button");
    assert.equal(await page.isHidden("#auth-notice"), true);
    await page.click("#run");
    await page.waitForFunction(() => document.querySelector("#status")?.textContent === "success");
    assert.equal(await page.textContent("#result"), "8");
    await page.click("#tab-history");
    await page.waitForSelector("#history-rows tr[data-id]");
    assert.match(await page.textContent("#history-rows tr[data-id]"), /e2e/);
    await page.screenshot({ path: path.join(RESULTS_DIR, "history-with-key.png"), fullPage: true });
  });
  await page.close();
}

async function main() {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const started = performance.now();
  console.log(`e2e: chromium ${CHROMIUM_PATH}`);
  const context = await launchBrowser();

  const open = await startServer();
  console.log(`e2e: playground on ${open.origin} (no API keys)`);
  await playgroundAndHistory(context, open.origin);
  await historyMissing(context, open.origin);
  await open.stop();

  const keyed = await startServer({ vars: { API_KEYS: `e2e:${E2E_KEY}` } });
  console.log(`e2e: playground on ${keyed.origin} (API_KEYS set)`);
  await withApiKeys(context, keyed.origin);

  console.log(`e2e: ${failures.length ? `${failures.length} failed` : "all passed"} in ${Math.round(performance.now() - started)} ms; screenshots in ${path.relative(ROOT, RESULTS_DIR)}/`);
}

let exitCode = 0;
try {
  await main();
  if (failures.length) exitCode = 1;
} catch (error) {
  console.error(`e2e: ${error?.stack ?? error}`);
  exitCode = 1;
} finally {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {}
  }
}
process.exit(exitCode);
