#!/usr/bin/env node
// `npm run test:self-host`: the self-hosted service as the README's "Self-hosting on workerd" describes it, against
// real processes: the front built by scripts/self-host.mjs and run on plain `workerd serve` (no wrangler at run
// time), on a plane of two sandbox hosts (scripts/sandbox-plane.mjs), with a throwaway state directory. Checks:
//   - the front answers, and an execution runs on a host (the plane counts it), not in the front;
//   - history is in D1 (miniflare's D1 emulation on plain workerd): the execution is read back;
//   - db() from a remote child reaches DATA_DB through the front's policy (allowed and denied);
//   - a session (a Durable Object on the front's disk storage) keeps its state from one cell to the next;
//   - Python runs (the front reads python-assets/ through its disk service, the hosts through theirs);
//   - a catastrophic regex ends as "timeout" (its host is killed) and the front keeps answering;
//   - the front restarted on the same state still has the execution and the session;
//   - `wrangler dev --persist-to` on the same state directory reads the same history and continues the same
//     session: one directory, either runtime.
// Times are printed, not asserted. Exit 1 on any failure.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { applyLocalMigrations, startLocalService } from "./local-service.mjs";

const REGEX = 'return /(a+)+$/.test("a".repeat(40) + "b");';

const results = [];
const began = performance.now();
const stateDir = mkdtempSync(path.join(tmpdir(), "code-exec-self-host-"));
/** @type {Awaited<ReturnType<typeof startLocalService>> | undefined} */
let service;

async function request(method, urlPath, body) {
  const response = await fetch(`${service.url}${urlPath}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { raw: text };
  }
  return { status: response.status, body: parsed };
}

const execute = (code, config = {}, language = "javascript") => request("POST", "/execute", { code, language, config });

async function planeRuns() {
  return (await (await fetch(`${service.plane.url}/health`)).json()).runs;
}

async function settledRecord(executionId) {
  for (let attempt = 0; attempt < 400; attempt++) {
    const { status, body } = await request("GET", `/executions/${executionId}`);
    if (status === 200 && body.status !== "running") return body;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`execution ${executionId} was not recorded`);
}

async function check(name, body) {
  const started = performance.now();
  try {
    const note = await body();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)${note ? `: ${note}` : ""}`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${error instanceof Error ? error.message : error}`);
  }
}

const startFront = () =>
  startLocalService({ label: "self-host", runtime: "workerd", stateDir, migrate: false, plane: { hosts: 2, log: () => {} } });

let executionId;
let sessionId;
try {
  // As a self-hoster would: migrate the state directory once, then start the front on it (npm run dev does not).
  applyLocalMigrations({ persistTo: stateDir });
  const startedAt = performance.now();
  service = await startFront();
  console.log(`the front on plain workerd is up (${((performance.now() - startedAt) / 1000).toFixed(1)} s: bundle, config, start)`);
  assert.equal(path.basename(service.proc.spawnargs[0] ?? ""), "workerd", "the front is not plain workerd");

  await check("the front on plain workerd runs an execution on a sandbox host and records it in D1", async () => {
    const before = await planeRuns();
    const answer = await execute("return 1 + 1");
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.result, 2, JSON.stringify(answer.body));
    assert.equal(await planeRuns(), before + 1, "the run did not go through the plane");
    executionId = answer.body.executionId;
    const record = await settledRecord(executionId);
    assert.equal(record.status, "success");
    assert.equal(record.code, "return 1 + 1");
  });

  await check("db() from a remote child reaches DATA_DB through the front's policy", async () => {
    const allowed = await execute("return await db({ select: { from: 'things', limit: 1 } });", { allowedAPIs: ["db"] });
    assert.equal(allowed.body.status, "success", JSON.stringify(allowed.body));
    const denied = await execute("return await db({ select: { from: 'things', limit: 1 } });", { allowedAPIs: [] });
    assert.equal(denied.body.error?.code, "CAPABILITY_DENIED", JSON.stringify(denied.body));
  });

  await check("a session keeps its state between cells (a Durable Object on the front's disk)", async () => {
    const created = await request("POST", "/sessions", { ttlSeconds: 600 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    sessionId = created.body.sessionId;
    const first = await request("POST", `/sessions/${sessionId}/execute`, { code: "let count = 0; function inc() { return ++count; }" });
    assert.equal(first.body.success, true, JSON.stringify(first.body));
    const second = await request("POST", `/sessions/${sessionId}/execute`, { code: "inc(); return inc()" });
    assert.equal(second.body.result, 2, JSON.stringify(second.body));
  });

  await check("Python runs (the front and the hosts read python-assets/ from disk)", async () => {
    const answer = await execute("print('from python')\nsum(range(5))", { allowedAPIs: ["console"] }, "python");
    assert.equal(answer.body.status, "success", JSON.stringify(answer.body));
    assert.equal(answer.body.result, 10);
    assert.equal(answer.body.logs?.[0]?.message, "from python");
  });

  await check("a catastrophic regex ends as timeout on its host and the front keeps answering", async () => {
    const started = performance.now();
    const answer = await execute(REGEX, { timeout: 1000 });
    const ms = performance.now() - started;
    assert.equal(answer.body.status, "timeout", JSON.stringify(answer.body));
    const next = await execute("return 40 + 2");
    assert.equal(next.body.result, 42, JSON.stringify(next.body));
    return `timeout after ${ms.toFixed(0)} ms (timeout 1000 ms)`;
  });

  await check("the front restarted on the same state still has the execution and the session", async () => {
    await service.stop();
    service = await startFront();
    const record = await settledRecord(executionId);
    assert.equal(record.status, "success");
    const third = await request("POST", `/sessions/${sessionId}/execute`, { code: "return inc()" });
    assert.equal(third.body.result, 3, JSON.stringify(third.body));
  });

  await check("wrangler dev on the same state directory reads the same history and session", async () => {
    await service.stop();
    service = await startLocalService({ label: "self-host-wrangler", stateDir, migrate: false, args: ["--log-level", "warn"] });
    const record = await settledRecord(executionId);
    assert.equal(record.code, "return 1 + 1");
    const fourth = await request("POST", `/sessions/${sessionId}/execute`, { code: "return inc()" });
    assert.equal(fourth.body.result, 4, JSON.stringify(fourth.body));
  });
} catch (error) {
  results.push({ name: "setup", ok: false });
  console.log(`FAIL setup: ${error instanceof Error ? error.stack : error}`);
} finally {
  await service?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok).length;
console.log(`\n${results.length - failed} passed, ${failed} failed in ${((performance.now() - began) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
