import { describe, expect, it } from "vitest";
import type { ExecutionRecord } from "../../schemas/history";
import { rpc } from "../helpers";
import { call, keyPair, list, record, run } from "./client";

describe("auth off (no API_KEYS)", () => {
  it("lets anyone execute and read, recorded as anonymous", async () => {
    const result = await run({ code: "return 1" });
    expect(await record(result.executionId)).toMatchObject({ caller: { kind: "http", identity: "anonymous" } });
    expect((await list("?limit=100")).executions.map((e) => e.executionId)).toContain(result.executionId);
  });

  it("treats an empty or blank API_KEYS as no keys", async () => {
    expect((await call("/executions", { env: { API_KEYS: " \n " } })).status).toBe(200);
  });
});

describe("auth on (two keys)", () => {
  const { apiKeys, a, b } = keyPair("auth");
  const env = { API_KEYS: apiKeys };

  it.each(["/", "/health", "/languages", "/docs", "/openapi.json"])("leaves GET %s public", async (path) => {
    expect((await call(path, { env })).status).toBe(200);
  });

  it.each([
    ["POST", "/execute"],
    ["POST", "/validate"],
    ["GET", "/executions"],
    ["GET", "/executions/some-id"],
    ["GET", "/no-such-route"],
  ])("answers %s %s with 401 and WWW-Authenticate without a key", async (method, path) => {
    const response = await call(path, { env, method, ...(method === "POST" ? { body: { code: "return 1" } } : {}) });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="code-exec"');
    expect(await response.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  });

  it("answers 401 for an unknown key, a key of another deployment and a malformed header", async () => {
    expect((await call("/executions", { env, key: "not-a-real-key-0000000000" })).status).toBe(401);
    expect((await call("/executions", { env, key: `${a.key}x` })).status).toBe(401);
    expect((await call("/executions", { env: { API_KEYS: "other:some-other-key-123456" }, key: a.key })).status).toBe(401);
  });

  it("records each caller by key name and hides each one's executions from the other", async () => {
    const ofA = await run({ code: "return 'a'" }, { env, key: a.key });
    const ofB = await run({ code: "return 'b'" }, { env, key: b.key });

    expect(await record(ofA.executionId, { env, key: a.key })).toMatchObject({ caller: { kind: "http", identity: a.name }, result: "a" });
    expect(await record(ofB.executionId, { env, key: b.key })).toMatchObject({ caller: { kind: "http", identity: b.name }, result: "b" });

    const crossRead = await call(`/executions/${ofA.executionId}`, { env, key: b.key });
    expect(crossRead.status).toBe(404);
    expect(await crossRead.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    expect((await call(`/executions/${ofB.executionId}`, { env, key: a.key })).status).toBe(404);

    expect((await list("", { env, key: a.key })).executions.map((e) => e.executionId)).toEqual([ofA.executionId]);
    expect((await list("", { env, key: b.key })).executions.map((e) => e.executionId)).toEqual([ofB.executionId]);

    // Service bindings are trusted operators: they see every caller's rows.
    expect((await rpc<ExecutionRecord>("getExecution", ofA.executionId)).result?.caller.identity).toBe(a.name);
  });

  it("does not show keyed callers the anonymous history of the open mode", async () => {
    const open = await run({ code: "return 'open'" });
    expect((await call(`/executions/${open.executionId}`, { env, key: a.key })).status).toBe(404);
  });

  it("fails closed with a 500 that leaks nothing when API_KEYS is malformed", async () => {
    const broken = { API_KEYS: "shorty:tooShort" };
    const response = await call("/executions", { env: broken, key: "tooShort" });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: "INTERNAL_ERROR", message: "Internal error" } });
    expect((await call("/health", { env: broken })).status).toBe(200);
    const duplicate = { API_KEYS: `${a.name}:${a.key},${a.name}:${b.key}` };
    expect((await call("/executions", { env: duplicate, key: a.key })).status).toBe(500);
  });
});
