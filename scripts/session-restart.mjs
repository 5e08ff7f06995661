// Checks that a session survives a restart of the service: one `wrangler dev` creates a session and runs cells,
// it is stopped, a second `wrangler dev` on the same --persist-to directory continues the session. Exits non-zero
// on any difference. Usage: node scripts/session-restart.mjs (or npm run test:session-restart).

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startLocalService } from "./local-service.mjs";

const stateDir = mkdtempSync(path.join(tmpdir(), "code-exec-session-restart-"));

/** @param {string} url @param {string} route @param {unknown} [body] */
async function call(url, route, body) {
  const response = await fetch(`${url}${route}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${route}: ${response.status} ${text}`);
  return JSON.parse(text);
}

let service;
try {
  service = await startLocalService({ label: "session-restart-1", stateDir });
  const { sessionId } = await call(service.url, "/sessions", { ttlSeconds: 600 });
  const first = await call(service.url, `/sessions/${sessionId}/execute`, {
    code: "let count = 1; const seen = new Map([['a', new Set([1, 2])]]); const alias = seen; function inc() { return ++count; } class Box { constructor(v) { this.v = v; } }",
  });
  assert.equal(first.success, true, JSON.stringify(first));
  await call(service.url, `/sessions/${sessionId}/execute`, { code: "inc();" });
  await service.stop();
  console.log(`first run: session ${sessionId.slice(0, 12)}… with 2 cells; restarted on the same state`);

  service = await startLocalService({ label: "session-restart-2", stateDir });
  const after = await call(service.url, `/sessions/${sessionId}/execute`, {
    code: "return [inc(), [...seen.get('a')], alias === seen, new Box(7).v]",
  });
  assert.equal(after.success, true, JSON.stringify(after));
  assert.deepEqual(after.result, [3, [1, 2], true, 7]);
  assert.equal(after.cell, 3);
  const detail = await call(service.url, `/sessions/${sessionId}`);
  assert.deepEqual(detail.cells.map((/** @type {{ cell: number }} */ c) => c.cell), [1, 2, 3]);
  const listed = await call(service.url, "/sessions");
  assert.ok(listed.sessions.some((/** @type {{ sessionId: string }} */ s) => s.sessionId === sessionId), "the session is listed after the restart");
  console.log("second run: state, functions, classes, shared references and the cell count survived the restart");
} finally {
  await service?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
