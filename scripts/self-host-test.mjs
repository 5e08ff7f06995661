#!/usr/bin/env node
// `npm run test:self-host`: the self-hosted service as the README's "Self-hosting on workerd" describes it, against
// real processes: the front built by scripts/self-host.mjs and run on plain `workerd serve` (no wrangler at run
// time), on a plane of two sandbox hosts (scripts/sandbox-plane.mjs), with a throwaway state directory. Checks:
//   - the front answers (the playground too), and an execution runs on a host (the plane counts it), not in the
//     front;
//   - history is in D1 (miniflare's D1 emulation on plain workerd): the execution is read back;
//   - db() from a remote child reaches DATA_DB through the front's policy (allowed and denied);
//   - a session (a Durable Object on the front's disk storage) keeps its state from one cell to the next;
//   - Python runs (the front reads python-assets/ through its disk service, the hosts through theirs);
//   - a catastrophic regex ends as "timeout" (its host is killed) and the front keeps answering;
//   - SSE streams a run's logs as they come, and a WebSocket cancel ends a `while (true) {}` on its host;
//   - the front restarted on the same state still has the execution and the session;
//   - `wrangler dev --persist-to` on the same state directory reads the same history and continues the same
//     session: one directory, either runtime;
//   - `npm run dev -- --self-hosted` runs the same under its supervisor: its front, SIGKILLed, is restarted.
// Times are printed, not asserted. Exit 1 on any failure.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createChecks } from "./checks.mjs";
import { descendantsOf } from "./processes.mjs";
import { applyLocalMigrations, CHILD_ENV, freePort, ROOT, startLocalService } from "./local-service.mjs";

const REGEX = 'return /(a+)+$/.test("a".repeat(40) + "b");';

const { check, failSetup, report } = createChecks();
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

/** Polls `condition` until it holds, or fails with `why()` after `deadlineMs`. */
async function until(condition, deadlineMs, why) {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The self-hosted front's workerd (its config is front.capnp) among the descendants of `rootPid`. */
function frontPid(rootPid) {
  return descendantsOf(rootPid).find(({ cmdline }) => cmdline.some((arg) => arg.endsWith("front.capnp")))?.pid;
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
    const playground = await fetch(`${service.url}/`, { headers: { accept: "text/html" } });
    assert.equal(playground.status, 200);
    assert.match(await playground.text(), /<html/i, "the playground is not served");
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

  await check("streams logs over SSE and cancels over a WebSocket (plain workerd's HTTP server)", async () => {
    const response = await fetch(`${service.url}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ code: "console.log('a'); await new Promise((r) => setTimeout(r, 200)); console.log('b'); return 7", config: { allowedAPIs: ["console"] } }),
    });
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const events = [...(await response.text()).matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map(([, name, data]) => ({ name, data: JSON.parse(data) }));
    assert.deepEqual(events.map((event) => event.name), ["start", "log", "log", "result"], JSON.stringify(events));
    assert.equal(events.at(-1).data.result, 7);
    const cancelled = await new Promise((resolve, reject) => {
      const socket = new WebSocket(`${service.url.replace(/^http/, "ws")}/execute/ws`);
      socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "execute", code: "while (true) {}", config: { timeout: 5000 } })));
      socket.addEventListener("message", (message) => {
        const event = JSON.parse(String(message.data));
        if (event.type === "start") setTimeout(() => socket.send(JSON.stringify({ type: "cancel" })), 200);
        else if (event.type === "result") {
          socket.close();
          resolve(event.data);
        } else if (event.type === "error") reject(new Error(JSON.stringify(event.data)));
      });
      socket.addEventListener("error", () => reject(new Error("socket error")));
    });
    assert.equal(cancelled.status, "cancelled", JSON.stringify(cancelled));
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

  await service.stop();
  service = undefined;
  await check("npm run dev -- --self-hosted supervises the front on plain workerd: killed, it is restarted", async () => {
    const port = await freePort();
    const devState = mkdtempSync(path.join(tmpdir(), "code-exec-self-host-dev-"));
    const dev = spawn(process.execPath, [path.join(ROOT, "scripts", "dev.mjs"), "--self-hosted", "--port", String(port), "--persist-to", devState, "--hosts", "1"], {
      cwd: ROOT,
      env: CHILD_ENV,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    for (const stream of [dev.stdout, dev.stderr]) stream.on("data", (chunk) => (output += chunk));
    const base = `http://127.0.0.1:${port}`;
    const run = async () => {
      const response = await fetch(`${base}/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: "return 6 * 7" }) });
      return (await response.json()).result;
    };
    try {
      await until(() => output.includes("supervising"), 90_000, () => `dev did not come up:\n${output.slice(-2000)}`);
      assert.equal(await run(), 42);
      const front = frontPid(dev.pid);
      assert.ok(front, "no workerd front under npm run dev");
      process.kill(front, "SIGKILL");
      const killedAt = performance.now();
      await until(() => /exited unexpectedly/.test(output), 10_000, () => "the supervisor did not notice the front's exit");
      await until(async () => (await run().catch(() => undefined)) === 42, 30_000, () => `the front did not come back:\n${output.slice(-2000)}`);
      assert.ok(frontPid(dev.pid) !== front, "the same front process answered");
      return `answering again ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`;
    } finally {
      try {
        process.kill(-dev.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      await new Promise((resolve) => (dev.exitCode === null ? dev.once("exit", resolve) : resolve()));
      rmSync(devState, { recursive: true, force: true });
    }
  });
} catch (error) {
  failSetup(error);
} finally {
  await service?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
report();
