import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_REQUEST_BYTES } from "../../schemas/limits";
import type { ExecutionResult } from "../../schemas/result";
import worker from "../../worker/index";
import { MAX_DRAINED_REQUEST_BYTES } from "../../worker/read-capped";
import { BASE, rpc } from "../helpers";

// The HTTP edge (worker/http/edge-policy.ts, worker/parse.ts): Host, cross-origin requests, CORS, media types and
// body limits, through the Worker's real fetch handler with a per-test env where the deployment's vars matter.

const testEnv = env as unknown as Env;
const KEY = "edge-test-key-0123456789";
const KEYED = { API_KEYS: `edge:${KEY}` };
const APP = "https://app.example";

/** `vars` override the deployment's vars and secrets (typed loosely: wrangler types gives vars their literal value). */
type Vars = Record<string, string>;

async function send(url: string, init: RequestInit = {}, vars: Vars = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(url.startsWith("http") ? url : `${BASE}${url}`, init);
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...testEnv, ...vars } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}, vars: Vars = {}) =>
  send(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) }, vars);

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

/** A token only a run of this exact request could print: proves whether the code ran. */
const marker = () => `ran-${crypto.randomUUID()}`;

async function historyHas(token: string): Promise<boolean> {
  const { results } = await testEnv.EXECUTIONS_DB.prepare("SELECT 1 FROM executions WHERE code LIKE ?").bind(`%${token}%`).all();
  return results.length > 0;
}

describe("cross-site requests", () => {
  it("refuses the issue's simple POST (text/plain, foreign Origin) without running the code", async () => {
    const token = marker();
    const response = await send("/execute", {
      method: "POST",
      headers: { "content-type": "text/plain", origin: "https://evil.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" },
      body: JSON.stringify({ code: `return "${token}"` }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: "CROSS_ORIGIN_FORBIDDEN", message: expect.stringContaining("ALLOWED_ORIGINS") } });
    expect(await historyHas(token)).toBe(false);
  });

  it.each([
    ["a foreign Origin alone (no Sec-Fetch-Site)", { origin: "https://evil.example" }],
    ["Origin null (sandboxed frame, file://)", { origin: "null" }],
    ["a same-site page on another port", { origin: "http://code-exec.test:3000", "sec-fetch-site": "same-site" }],
    ["a subdomain", { origin: "http://sub.code-exec.test" }],
    ["Sec-Fetch-Site cross-site without Origin", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }],
    ["a cross-site form POST (a navigation)", { origin: "https://evil.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" }],
    ["a cross-site Origin with a JSON body", { origin: "https://evil.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }],
  ])("refuses POST /execute from %s with 403", async (_, headers) => {
    const token = marker();
    const response = await postJson("/execute", { code: `return "${token}"` }, headers);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("CROSS_ORIGIN_FORBIDDEN");
    expect(await historyHas(token)).toBe(false);
  });

  it.each([
    ["a foreign Origin (fetch from another page)", { origin: "https://evil.example", "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }],
    ["a cross-site subresource load (<img>, <script>)", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "script" }],
  ])("refuses GET /executions from %s", async (_, headers) => {
    const response = await send("/executions", { headers });
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("CROSS_ORIGIN_FORBIDDEN");
  });

  it("refuses cross-origin requests even when API keys are set, before asking for a key", async () => {
    const response = await postJson("/execute", { code: "return 1" }, { origin: "https://evil.example", authorization: `Bearer ${KEY}` }, KEYED);
    expect(response.status).toBe(403);
  });

  it.each([
    ["no Origin and no Sec-Fetch-* (curl, another server)", {}],
    ["the page's own origin", { origin: BASE, "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" }],
    ["Sec-Fetch-Site same-origin behind a TLS proxy (Origin https, the Worker sees http)", { origin: "https://code-exec.test", "sec-fetch-site": "same-origin" }],
    ["an older browser: Origin of the same host, no Sec-Fetch-Site", { origin: "https://code-exec.test" }],
    ["the user's own action (Sec-Fetch-Site none)", { "sec-fetch-site": "none" }],
  ])("runs POST /execute from %s", async (_, headers) => {
    const response = await postJson("/execute", { code: "return 6 * 7" }, headers);
    expect(response.status).toBe(200);
    expect(((await response.json()) as ExecutionResult).result).toBe(42);
  });

  it("lets a link from another site open the playground and /docs (top-level GET navigation)", async () => {
    const navigation = { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", accept: "text/html" };
    for (const path of ["/", "/docs"]) {
      const response = await send(path, { headers: navigation });
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type"), path).toMatch(/text\/html/);
      expect(response.headers.get("access-control-allow-origin"), path).toBeNull();
    }
  });
});

describe("CORS policy (ALLOWED_ORIGINS)", () => {
  const vars = { ALLOWED_ORIGINS: `${APP}, https://other.example:8443` };

  it("sends no CORS headers and refuses preflights when no origin is configured (the default)", async () => {
    const preflight = await send("/execute", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    expect(await errorCode(preflight)).toBe("CROSS_ORIGIN_FORBIDDEN");
  });

  it("answers an allowed origin's preflight with the methods and headers it may use", async () => {
    const preflight = await send("/execute", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } }, vars);
    expect(preflight.status).toBe(204);
    expect(Object.fromEntries(preflight.headers)).toMatchObject({
      "access-control-allow-origin": APP,
      "access-control-allow-methods": "GET, POST",
      "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
      vary: "Origin",
    });
  });

  it("refuses a preflight from an origin not on the list, and one that differs only by port or scheme", async () => {
    for (const origin of ["https://evil.example", "https://app.example:444", "http://app.example", "https://app.example.evil"]) {
      const preflight = await send("/execute", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } }, vars);
      expect(preflight.status, origin).toBe(403);
    }
  });

  it("lets an allowed origin run code and read the answer, errors included", async () => {
    const headers = { origin: "https://other.example:8443", "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" };
    const ok = await postJson("/execute", { code: "return 1" }, headers, vars);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://other.example:8443");
    expect(ok.headers.get("vary")).toMatch(/Origin/);
    const bad = await postJson("/execute", { code: 1 }, headers, vars);
    expect(bad.status).toBe(400);
    expect(bad.headers.get("access-control-allow-origin")).toBe("https://other.example:8443");
    const unauthorized = await postJson("/execute", { code: "return 1" }, headers, { ...vars, ...KEYED });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get("access-control-allow-origin")).toBe("https://other.example:8443");
  });

  it("routes an OPTIONS request that is not a preflight like any other method", async () => {
    expect((await send("/execute", { method: "OPTIONS" })).status).toBe(405);
  });

  it.each(["*", "https://app.example/path", "app.example", "https://*.example"])("fails closed on a malformed ALLOWED_ORIGINS entry %j", async (entry) => {
    const response = await postJson("/execute", { code: "return 1" }, { origin: APP }, { ALLOWED_ORIGINS: entry });
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { code: "INTERNAL_ERROR", message: "Internal error" } });
  });
});

describe("Host check (DNS rebinding)", () => {
  it("refuses the issue's rebinding read: GET /executions for Host rebind.evil.example", async () => {
    const response = await send("http://rebind.evil.example/executions");
    expect(response.status).toBe(421);
    expect(await response.json()).toMatchObject({ error: { code: "HOST_NOT_ALLOWED", message: expect.stringContaining("SERVICE_HOSTNAMES") } });
  });

  it.each([
    "http://rebind.evil.example/execute",
    "http://localhost.evil.example/health",
    "http://code-exec.test.evil.example/health",
    "http://evil-code-exec.test/health",
    "http://127.0.0.1.nip.io/health",
    "http://0.0.0.0/health",
    "http://192.168.1.10/health",
  ])("refuses %s with 421", async (url) => {
    const response = await send(url, url.endsWith("/execute") ? { method: "POST", headers: { "content-type": "application/json" }, body: '{"code":"return 1"}' } : {});
    expect(response.status).toBe(421);
  });

  it.each([
    "http://code-exec.test/health",
    "https://CODE-EXEC.test./health",
    "http://localhost:8787/health",
    "http://127.0.0.1:8787/health",
    "http://127.8.9.10/health",
    "http://[::1]:8787/health",
  ])("answers %s (a service hostname or a loopback name)", async (url) => {
    expect((await send(url)).status).toBe(200);
  });

  it("answers only loopback names when SERVICE_HOSTNAMES is empty (a local service)", async () => {
    expect((await send("http://localhost/health", {}, { SERVICE_HOSTNAMES: "" })).status).toBe(200);
    expect((await send(`${BASE}/health`, {}, { SERVICE_HOSTNAMES: "" })).status).toBe(421);
    expect((await send("https://exec.example.com/health", {}, { SERVICE_HOSTNAMES: "code-exec.test, exec.example.com" })).status).toBe(200);
  });

  it("checks the Host before anything else, keys configured or not", async () => {
    expect((await send("http://rebind.evil.example/executions", {}, KEYED)).status).toBe(421);
    expect((await send("http://rebind.evil.example/execute", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST" } }, { ALLOWED_ORIGINS: APP })).status).toBe(421);
  });

  it("does not apply to RPC: a service binding call has no Host to check", async () => {
    const reply = await rpc("executeCode", "return 'over rpc'");
    expect(reply.result?.result).toBe("over rpc");
  });
});

describe("request media type", () => {
  it.each([
    ["no Content-Type", undefined],
    ["text/plain", "text/plain"],
    ["text/plain;charset=UTF-8", "text/plain;charset=UTF-8"],
    ["a form", "application/x-www-form-urlencoded"],
    ["multipart", "multipart/form-data; boundary=x"],
    ["a +json type", "application/vnd.api+json"],
    ["a lookalike", "application/jsonp"],
    ["a list", "application/json, text/plain"],
    ["another charset", "application/json; charset=iso-8859-1"],
    ["an unknown parameter", "application/json; profile=x"],
  ])("answers %s with 415 naming the expected type", async (_, contentType) => {
    for (const path of ["/execute", "/validate"]) {
      const response = await send(path, { method: "POST", headers: contentType ? { "content-type": contentType } : {}, body: '{"code":"return 1"}' });
      expect(response.status, `${path} ${contentType}`).toBe(415);
      expect(await response.json()).toMatchObject({ error: { code: "UNSUPPORTED_MEDIA_TYPE", message: expect.stringContaining("application/json") } });
    }
  });

  it.each(["application/json", "Application/JSON", "application/json; charset=utf-8", 'application/json;charset="UTF-8"', "application/json ; charset=utf-8 ;"])(
    "accepts %j",
    async (contentType) => {
      const response = await send("/execute", { method: "POST", headers: { "content-type": contentType }, body: '{"code":"return 2"}' });
      expect(response.status).toBe(200);
    },
  );
});

/** A body stream that counts what the Worker pulled and whether it cancelled. */
function countingBody(totalBytes: number, prefix = "") {
  const chunkBytes = 64 * 1024;
  const state = { pulledBytes: 0, cancelled: false };
  const head = new TextEncoder().encode(prefix);
  const filler = new Uint8Array(chunkBytes).fill(0x20);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulledBytes >= totalBytes) return controller.close();
      const chunk = state.pulledBytes === 0 && head.byteLength > 0 ? head : filler.subarray(0, Math.min(chunkBytes, totalBytes - state.pulledBytes));
      state.pulledBytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

/** JSON of exactly `bytes` bytes: a valid request padded with trailing whitespace. */
function paddedJson(bytes: number): string {
  const json = '{"code":"return 3"}';
  return json + " ".repeat(bytes - json.length);
}

describe("request body limit", () => {
  for (const [label, vars, headers] of [
    ["without keys", {}, {}],
    ["with a valid key", KEYED, { authorization: `Bearer ${KEY}` }],
  ] as const) {
    it(`accepts a body of exactly ${MAX_REQUEST_BYTES} bytes, chunked or with Content-Length, ${label}`, async () => {
      const body = paddedJson(MAX_REQUEST_BYTES);
      const sized = await postJson("/execute", body, headers, vars);
      expect(sized.status).toBe(200);
      const chunked = await send("/execute", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: new Blob([body]).stream() }, vars);
      expect(chunked.status).toBe(200);
      expect(((await chunked.json()) as ExecutionResult).result).toBe(3);
    });

    it(`answers 413 one byte over, chunked or with Content-Length, ${label}`, async () => {
      const body = paddedJson(MAX_REQUEST_BYTES + 1);
      const sized = await postJson("/execute", body, headers, vars);
      expect(sized.status).toBe(413);
      expect(await sized.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE", message: expect.stringContaining(String(MAX_REQUEST_BYTES)) } });
      const chunked = await send("/execute", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: new Blob([body]).stream() }, vars);
      expect(chunked.status).toBe(413);
      expect(await errorCode(chunked)).toBe("PAYLOAD_TOO_LARGE");
    });
  }

  it("answers 401 without a key before reading an oversized body, and ends the answer once the body is drained", async () => {
    const totalBytes = 4 * MAX_REQUEST_BYTES;
    const { stream, state } = countingBody(totalBytes);
    const ctx = createExecutionContext();
    const request = new Request(`${BASE}/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...testEnv, ...KEYED } as Env, ctx);
    // Decided before the body: unauthenticated bytes are never parsed.
    expect(response.status).toBe(401);
    expect(state.pulledBytes).toBeLessThan(MAX_REQUEST_BYTES);
    // Drained, not cancelled, before the answer ends: closed with unread bytes, the connection would be reset
    // and a client still writing would lose the 401 (plain workerd does not drain for the Worker).
    expect(await errorCode(response)).toBe("UNAUTHORIZED");
    expect(state.pulledBytes).toBe(totalBytes);
    expect(state.cancelled).toBe(false);
    await waitOnExecutionContext(ctx);
  });

  it("drains an unread body before an answer that can carry none (a 204 preflight)", async () => {
    const totalBytes = 2 * MAX_REQUEST_BYTES;
    const { stream, state } = countingBody(totalBytes);
    const preflight = await send(
      "/execute",
      { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST" }, body: stream },
      { ALLOWED_ORIGINS: APP },
    );
    expect(preflight.status).toBe(204);
    expect(state.pulledBytes).toBe(totalBytes);
    expect(state.cancelled).toBe(false);
  });

  it("reads an oversized chunked body to its end before answering 413, instead of cancelling it", async () => {
    const totalBytes = 3 * MAX_REQUEST_BYTES;
    const { stream, state } = countingBody(totalBytes, '{"code":"return 1","pad":"');
    const response = await send("/execute", { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(response.status).toBe(413);
    expect(state.pulledBytes).toBe(totalBytes);
    expect(state.cancelled).toBe(false);
  });

  it("cancels a body that goes on past the drain bound", async () => {
    const totalBytes = MAX_REQUEST_BYTES + MAX_DRAINED_REQUEST_BYTES + 4 * 64 * 1024;
    const { stream, state } = countingBody(totalBytes);
    const response = await send("/execute", { method: "POST", headers: { "content-type": "application/json" }, body: stream });
    expect(response.status).toBe(413);
    expect(state.cancelled).toBe(true);
    expect(state.pulledBytes).toBeLessThan(totalBytes);
  });
});

describe("context", () => {
  it.each([
    ["an array", "[]"],
    ["an array with items", "[1, 2]"],
    ["null", "null"],
    ["a string", '"x"'],
    ["a number", "1"],
  ])("refuses %s with 400 naming context", async (_, contextJson) => {
    const response = await postJson("/execute", `{"code":"return context","context":${contextJson}}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string; issues: { path: string }[] } };
    expect(body.error.code).toBe("VALIDATION_ERROR");
    expect(body.error.issues[0]?.path).toBe("context");
    expect(body.error.message).toContain("context must be a JSON object");
  });

  it("keeps __proto__, constructor and prototype keys as the context's own data, at the top and nested", async () => {
    const response = await postJson(
      "/execute",
      '{"code":"return { keys: Object.keys(context), proto: context.__proto__, plain: Object.getPrototypeOf(context) === Object.prototype, polluted: ({}).x, nested: Object.keys(context.n) }",' +
        '"context":{"__proto__":{"x":1},"y":2,"constructor":"c","prototype":"p","n":{"__proto__":{"z":3}}}}',
    );
    expect(response.status).toBe(200);
    const { result, executionId } = (await response.json()) as ExecutionResult;
    expect(result).toEqual({ keys: ["__proto__", "y", "constructor", "prototype", "n"], proto: { x: 1 }, plain: true, nested: ["__proto__"] });
    // The history keeps it too.
    const record = await (await send(`/executions/${executionId}`)).text();
    expect(record).toContain('"__proto__":{"x":1}');
  });

  it.each([
    ['{"code":"return 1","__proto__":{"x":1}}', "__proto__"],
    ['{"code":"return 1","constructor":1}', "constructor"],
    ['{"code":"return 1","config":{"timeout":1000,"__proto__":{"allowedAPIs":[]}}}', "config.__proto__"],
    ['{"code":"return 1","config":{"prototype":null}}', "config.prototype"],
  ])("refuses %s as an unknown field (400 naming it), like any other unknown field", async (body, path) => {
    for (const route of ["/execute", "/validate"]) {
      if (route === "/validate" && path.startsWith("config")) continue;
      const response = await postJson(route, body);
      expect(response.status, route).toBe(400);
      const error = ((await response.json()) as { error: { code: string; issues: { path: string; message: string }[] } }).error;
      expect(error.code).toBe("VALIDATION_ERROR");
      expect(error.issues).toContainEqual({ path, message: expect.stringContaining("unknown field") });
    }
  });

  it("keeps a __proto__ key over RPC as well", async () => {
    const context = JSON.parse('{"__proto__":{"x":1},"y":2}') as Record<string, unknown>;
    const reply = await rpc("executeCode", "return Object.keys(context)", "javascript", context);
    expect(reply.result?.result).toEqual(["__proto__", "y"]);
    const array = await rpc("executeCode", "return 1", "javascript", []);
    expect(array.error?.message).toMatch(/^VALIDATION_ERROR: .*context must be a JSON object/);
    const config = await rpc("executeCode", "return 1", "javascript", {}, JSON.parse('{"__proto__":{"timeout":100}}'));
    expect(config.error?.message).toMatch(/^VALIDATION_ERROR: .*config\.__proto__: unknown field/);
  });
});
