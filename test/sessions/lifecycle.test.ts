import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_SESSION_QUEUE, MAX_SESSION_STATE_BYTES } from "../../schemas/session";
import type { ExecutionRecord } from "../../schemas/history";
import type { ExecutionSession } from "../../worker/sessions/session-object";
import { EMPTY_STATE_JSON } from "../../worker/sessions/state-blob";
import { call, keyPair, record } from "../history/client";
import { rpc } from "../helpers";
import { cell, cellResponse, cells, createSession, deleteSession, describeSession, listSessions } from "./client";

const sessions = (env as unknown as Env).SESSIONS;
const stubOf = (id: string) => sessions.get(sessions.idFromString(id)) as unknown as DurableObjectStub<ExecutionSession>;

describe("session routes", () => {
  it("creates a session with the documented defaults and answers it in GET /sessions and GET /sessions/:id", async () => {
    const before = Date.now();
    const session = await createSession();
    expect(session).toMatchObject({ language: "javascript", cellCount: 0, config: { timeout: 30_000 } });
    expect(session.sessionId).toMatch(/^[0-9a-f]{64}$/);
    const ttlMs = Date.parse(session.expiresAt) - before;
    expect(ttlMs).toBeGreaterThan(3_500_000);
    expect(ttlMs).toBeLessThanOrEqual(3_600_000 + 1000);
    expect((await listSessions()).sessions.map((s) => s.sessionId)).toContain(session.sessionId);
    expect(await describeSession(session.sessionId)).toMatchObject({ ...session, cells: [], state: { entries: [], sizeBytes: EMPTY_STATE_JSON.length, maxBytes: MAX_SESSION_STATE_BYTES } });
  });

  it("answers each cell with its sessionId and number, and records it in history with the sessionId", async () => {
    const { sessionId } = await createSession();
    const [one, two] = await cells(sessionId, "let a = 1;", "return a + 1;");
    expect([one?.cell, two?.cell]).toEqual([1, 2]);
    const stored: ExecutionRecord = await record(two!.executionId);
    expect(stored).toMatchObject({ sessionId, code: "return a + 1;", status: "success", result: 2 });
    expect((await describeSession(sessionId)).cellCount).toBe(2);
  });

  it("refreshes the lifetime with each cell", async () => {
    const session = await createSession({ ttlSeconds: 100 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await cell(session.sessionId, "return 1");
    expect(Date.parse((await describeSession(session.sessionId)).expiresAt)).toBeGreaterThan(Date.parse(session.expiresAt));
  });

  it.each([
    [{ ttlSeconds: 0 }, "ttlSeconds"],
    [{ ttlSeconds: 7 * 24 * 3600 + 1 }, "ttlSeconds"],
    [{ language: "cobol" }, "language"],
    // Python runs, but its state is not carried: a Python session would silently run its cells as JavaScript.
    [{ language: "python" }, "sessions do not carry Python state"],
    [{ config: { timeout: 5 } }, "config.timeout"],
    [{ extra: true }, "extra"],
  ])("refuses a bad POST /sessions body %j with a 400 naming it", async (body, path) => {
    const response = await call("/sessions", { body });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain(path);
  });

  it.each(["nope", "0".repeat(64), "f".repeat(64), "a".repeat(65)])("answers 404 for session id %s on every route", async (id) => {
    expect((await call(`/sessions/${id}`)).status).toBe(404);
    expect((await cellResponse(id, "return 1")).status).toBe(404);
    expect((await deleteSession(id)).status).toBe(404);
  });

  it("answers 405 for the wrong method and 400 for a bad cell body", async () => {
    const { sessionId } = await createSession();
    expect((await call(`/sessions/${sessionId}`, { method: "PUT" })).status).toBe(405);
    expect((await call(`/sessions/${sessionId}/execute`)).status).toBe(405);
    expect((await cellResponse(sessionId, { code: "" })).status).toBe(400);
    expect((await call(`/sessions/${sessionId}/execute`, { body: { code: "1", language: "typescript" } })).status).toBe(400);
  });
});

describe("session config", () => {
  it("runs cells with the session's config and lets a cell narrow it", async () => {
    const { sessionId } = await createSession({ config: { timeout: 2000, allowedAPIs: ["console", "db"] } });
    const narrowed = await cell(sessionId, { code: "console.log('hidden'); return typeof api", config: { allowedAPIs: ["db"], timeout: 1000 } });
    expect(narrowed).toMatchObject({ success: true, logs: [] });
    const full = await cell(sessionId, "console.log('shown'); return 1");
    expect(full.logs.map((l) => l.message)).toEqual(["shown"]);
  });

  it.each([
    [{ timeout: 3000 }, "timeout"],
    [{ allowedAPIs: ["api"] }, "allowedAPIs"],
    [{ allowedDomains: ["evil.example"] }, "allowedDomains"],
  ])("refuses a cell config %j that widens the session's with a 400", async (config, what) => {
    const { sessionId } = await createSession({ config: { timeout: 2000, allowedAPIs: ["console"], allowedDomains: ["*.example.com"] } });
    const response = await cellResponse(sessionId, { code: "return 1", config: config as never });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain(what);
    expect((await cellResponse(sessionId, { code: "return 1", config: { allowedDomains: ["api.example.com"] } })).status).toBe(200);
  });
});

describe("session lifetime", () => {
  it("ends a session with DELETE: every route then answers 404 and the storage is empty", async () => {
    const { sessionId } = await createSession();
    await cell(sessionId, "let kept = 1;");
    expect((await deleteSession(sessionId)).status).toBe(204);
    expect((await call(`/sessions/${sessionId}`)).status).toBe(404);
    expect((await cellResponse(sessionId, "return kept")).status).toBe(404);
    expect((await deleteSession(sessionId)).status).toBe(404);
    expect((await listSessions()).sessions.map((s) => s.sessionId)).not.toContain(sessionId);
    await runInDurableObject(stubOf(sessionId), (_instance, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM meta").one().n).toBe(0);
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM state").one().n).toBe(0);
    });
  });

  it("deletes a session when its TTL has passed, by its alarm", async () => {
    const session = await createSession({ ttlSeconds: 1 });
    await cell(session.sessionId, "let kept = 1;");
    const expiresAt = Date.parse((await describeSession(session.sessionId)).expiresAt);
    while (Date.now() <= expiresAt) await new Promise((resolve) => setTimeout(resolve, 100));
    // The runtime fires the alarm by itself at expiresAt; this runs it now if it has not yet. Either way only the
    // alarm has touched the object since (runInDurableObject calls none of its methods).
    await runDurableObjectAlarm(stubOf(session.sessionId));
    await runInDurableObject(stubOf(session.sessionId), (_instance, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM meta").one().n).toBe(0);
    });
    expect((await call(`/sessions/${session.sessionId}`)).status).toBe(404);
    expect((await listSessions()).sessions.map((s) => s.sessionId)).not.toContain(session.sessionId);
  });

  it("does not delete a session whose alarm fires before its refreshed TTL", async () => {
    const { sessionId } = await createSession({ ttlSeconds: 60 });
    await runInDurableObject(stubOf(sessionId), (instance) => instance.alarm());
    expect((await cell(sessionId, "return 'alive'")).result).toBe("alive");
  });
});

describe("serialised runs", () => {
  it("runs concurrent cells one after another, each seeing the state of the one before", async () => {
    const { sessionId } = await createSession();
    await cell(sessionId, "var n = 0;");
    const results = await Promise.all(
      Array.from({ length: 5 }, () => cell(sessionId, "const seen = n; await new Promise((r) => setTimeout(r, 20)); n = seen + 1; return n;")),
    );
    expect(results.map((r) => r.result).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const r of results) expect(r.result).toBe(r.cell - 1);
  });

  it(`answers 409 SESSION_BUSY once ${MAX_SESSION_QUEUE} cells wait behind the running one`, async () => {
    const { sessionId } = await createSession();
    const first = cellResponse(sessionId, "await new Promise((r) => setTimeout(r, 1500)); return 'first'");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const rest = await Promise.all(Array.from({ length: MAX_SESSION_QUEUE + 2 }, () => cellResponse(sessionId, "return 'queued'")));
    const statuses = rest.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(MAX_SESSION_QUEUE);
    const refused = rest.filter((r) => r.status === 409);
    expect(refused).toHaveLength(2);
    expect(await refused[0]!.json()).toMatchObject({ error: { code: "SESSION_BUSY" } });
    expect((await first).status).toBe(200);
  });
});

describe("session caps", () => {
  it("fails the cell whose state would exceed the byte cap and keeps the state as it was", async () => {
    const { sessionId } = await createSession();
    await cell(sessionId, "let small = 'x'.repeat(1000);");
    const big = await cell(sessionId, `small = 'y'; let huge = 'z'.repeat(${MAX_SESSION_STATE_BYTES});`);
    expect(big).toMatchObject({ success: false, status: "error", error: { code: "SESSION_STATE_TOO_LARGE" }, cell: 2 });
    expect(big.error?.message).toContain(`${MAX_SESSION_STATE_BYTES} bytes`);
    expect((await cell(sessionId, "return [small.length, typeof huge]")).result).toEqual([1000, "undefined"]);
  });

  it("counts the state in bytes, so multi-byte text reaches the cap first", async () => {
    const { sessionId } = await createSession();
    const big = await cell(sessionId, `let text = 'é'.repeat(${Math.ceil(MAX_SESSION_STATE_BYTES / 2) + 10});`);
    expect(big.error?.code).toBe("SESSION_STATE_TOO_LARGE");
  });

  it("keeps a state just under the cap", async () => {
    const { sessionId } = await createSession();
    const near = await cell(sessionId, `let text = 'a'.repeat(${MAX_SESSION_STATE_BYTES - 100});`);
    expect(near.success).toBe(true);
    expect((await cell(sessionId, "return text.length")).result).toBe(MAX_SESSION_STATE_BYTES - 100);
  });

  it("refuses a cell past the session's cell limit with 409 SESSION_FULL", async () => {
    const { sessionId } = await createSession({}, { env: { SESSION_MAX_CELLS: "2" } as Partial<Env> });
    await cells(sessionId, "return 1", "return 2");
    const third = await cellResponse(sessionId, "return 3");
    expect(third.status).toBe(409);
    expect(await third.json()).toMatchObject({ error: { code: "SESSION_FULL" } });
  });
});

describe("per-caller ownership", () => {
  const { apiKeys, a, b } = keyPair("sessions");
  const keys = { API_KEYS: apiKeys } as Partial<Env>;

  it("answers 404 to another key on every session route, and lists only the caller's sessions", async () => {
    const { sessionId } = await createSession({}, { env: keys, key: a.key });
    await cell(sessionId, "let mine = 'a';", { env: keys, key: a.key });
    expect((await call(`/sessions/${sessionId}`, { env: keys, key: b.key })).status).toBe(404);
    expect((await cellResponse(sessionId, "return mine", { env: keys, key: b.key })).status).toBe(404);
    expect((await deleteSession(sessionId, { env: keys, key: b.key })).status).toBe(404);
    expect((await listSessions({ env: keys, key: b.key })).sessions.map((s) => s.sessionId)).not.toContain(sessionId);
    expect((await listSessions({ env: keys, key: a.key })).sessions.map((s) => s.sessionId)).toContain(sessionId);
    // Still intact for its owner after the other key's attempts.
    expect((await cell(sessionId, "return mine", { env: keys, key: a.key })).result).toBe("a");
    // Without keys configured the caller is "anonymous", a different owner again.
    expect((await call(`/sessions/${sessionId}`)).status).toBe(404);
  });

  it("answers 401 on session routes without a key", async () => {
    expect((await call("/sessions", { env: keys })).status).toBe(401);
    expect((await call("/sessions", { env: keys, body: {} })).status).toBe(401);
  });
});

describe("sessions over RPC", () => {
  it("creates, runs, describes, lists and deletes through the service binding", async () => {
    const created = await rpc<{ sessionId: string }>("createSession", { ttlSeconds: 60 });
    expect(created.ok).toBe(true);
    const id = created.result!.sessionId;
    expect((await rpc("executeInSession", id, "let x = 41;")).ok).toBe(true);
    expect((await rpc("executeInSession", id, "return x + 1")).result).toMatchObject({ success: true, result: 42, cell: 2, sessionId: id });
    expect((await rpc<{ cells: unknown[] }>("getSession", id)).result?.cells).toHaveLength(2);
    expect((await rpc<{ sessions: { sessionId: string }[] }>("listSessions")).result?.sessions.map((s) => s.sessionId)).toContain(id);
    // An HTTP caller is another owner.
    expect((await call(`/sessions/${id}`)).status).toBe(404);
    expect((await rpc("deleteSession", id)).ok).toBe(true);
    expect((await rpc("getSession", id)).error?.message).toMatch(/^NOT_FOUND/);
  });
});

describe("ending a session while a cell runs", () => {
  it("deletes it after the running cell, which cannot write it back", async () => {
    const { sessionId } = await createSession();
    const running = cellResponse(sessionId, "await new Promise((r) => setTimeout(r, 500)); let late = 1; return 'done'");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await deleteSession(sessionId)).status).toBe(204);
    expect((await running).status).toBe(200);
    expect((await call(`/sessions/${sessionId}`)).status).toBe(404);
    await runInDurableObject(stubOf(sessionId), (_instance, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM meta").one().n).toBe(0);
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM cells").one().n).toBe(0);
    });
  });
});
