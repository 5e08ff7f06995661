import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listCapabilityCalls } from "../../worker/history/capability-calls";
import { fetchAllowed } from "../../worker/capabilities/api";
import { CapabilityFailure } from "../../worker/capabilities/reply";
import { MAX_API_CALLS_PER_EXECUTION, MAX_API_REDIRECTS } from "../../worker/capabilities/limits";
import { execute, rpc } from "../helpers";
import { waitForCalls } from "./audit-helpers";

// api() runs against test/fixtures/fake-upstream.js: the Worker's outbound fetch is routed there, so the policy
// and the redirect handling under test are the real ones.

const GITHUB_EXAMPLE = `
const response = await api('https://api.github.com/repos/cloudflare/workers-sdk', { headers: { 'User-Agent': 'code-exec' } })
console.log(response.status, response.body.name)
return response.body
`;

/** Runs `code` with api() allowed for the given hosts and returns what it returned. */
async function run(code: string, allowedDomains: string[] = ["api.example.com"], timeout?: number) {
  const result = await execute({ code, config: { allowedDomains, ...(timeout ? { timeout } : {}) } });
  return result;
}

/** Wraps a call so the test sees the CapabilityError's code and message as data. */
const attempt = (call: string) => `try { return { ok: true, value: await ${call} } } catch (e) { return { ok: false, name: e.name, code: e.code, message: e.message } }`;

describe("api()", () => {
  it("runs the issue's example through POST /execute", async () => {
    const result = await run(GITHUB_EXAMPLE, ["api.github.com"]);
    expect(result.success).toBe(true);
    expect(result.logs.map((l) => l.message)).toEqual(["200 workers-sdk"]);
    expect(result.result).toMatchObject({ name: "workers-sdk", userAgent: "code-exec" });
  });

  it("runs the issue's example through RPC", async () => {
    const reply = await rpc("executeCode", GITHUB_EXAMPLE, "javascript", {}, { allowedDomains: ["api.github.com"] });
    expect(reply.ok).toBe(true);
    expect(reply.result?.logs.map((l) => l.message)).toEqual(["200 workers-sdk"]);
  });

  it("denies every host by default (allowedDomains unset)", async () => {
    const result = await execute({ code: attempt("api('https://api.github.com/repos/cloudflare/workers-sdk')") });
    expect(result.result).toMatchObject({ ok: false, name: "CapabilityError", code: "DOMAIN_NOT_ALLOWED" });
  });

  it("ignores policy fields smuggled into options", async () => {
    const result = await run(attempt("api('https://evil.com/', { allowedDomains: ['evil.com'], allowHttp: true })"));
    expect(result.result).toMatchObject({ ok: false, code: "DOMAIN_NOT_ALLOWED" });
  });

  it("fails the run with the capability's message when a refusal is not caught", async () => {
    const result = await run("await api('https://169.254.169.254/latest/meta-data/')");
    expect(result.success).toBe(false);
    expect(result.error).toMatchObject({ code: "RUNTIME_ERROR", name: "CapabilityError" });
    expect(result.error?.message).toMatch(/^api\(\): IP address hosts are not allowed \(169\.254\.169\.254 is linkLocal\)/);
  });

  it("passes method, headers and a JSON body; drops Host, hop-by-hop and cf- headers", async () => {
    const result = await run(
      attempt(`api('https://api.example.com/echo', {
        method: 'post',
        headers: { 'X-Custom': 'yes', Host: 'evil.com', Connection: 'close', 'Proxy-Authorization': 'x', 'CF-Connecting-IP': '1.2.3.4' },
        body: { hello: 'world' },
      })`),
    );
    const value = (result.result as { value: { status: number; body: { method: string; headers: Record<string, string>; body: string } } }).value;
    expect(value.status).toBe(200);
    expect(value.body.method).toBe("POST");
    expect(JSON.parse(value.body.body)).toEqual({ hello: "world" });
    expect(value.body.headers["x-custom"]).toBe("yes");
    expect(value.body.headers["content-type"]).toBe("application/json");
    expect(value.body.headers.host).not.toBe("evil.com");
    expect(value.body.headers["proxy-authorization"]).toBeUndefined();
    expect(value.body.headers["cf-connecting-ip"]).not.toBe("1.2.3.4");
  });

  it("accepts URL and Headers objects as fetch() would", async () => {
    const result = await run("const r = await api(new URL('https://api.example.com/echo'), { headers: new Headers({ 'X-From': 'headers' }) }); return r.body.headers['x-from']");
    expect(result.result).toBe("headers");
  });

  it("returns text bodies as text", async () => {
    const result = await run("return (await api('https://api.example.com/text')).body");
    expect(result.result).toBe("plain hello");
  });

  it("follows allowed redirects, re-checking each hop", async () => {
    const result = await run("const r = await api('https://api.example.com/redirect?to=/echo%3Fhop%3D1'); return [r.url, r.body.method]");
    expect(result.result).toEqual(["https://api.example.com/echo?hop=1", "GET"]);
  });

  it.each([
    ["https://evil.com/", "DOMAIN_NOT_ALLOWED"],
    ["https://api.example.com.evil.com/", "DOMAIN_NOT_ALLOWED"],
    ["http://api.example.com/echo", "URL_NOT_ALLOWED"],
    ["https://169.254.169.254/latest/meta-data/", "URL_NOT_ALLOWED"],
    ["https://[::ffff:127.0.0.1]/", "URL_NOT_ALLOWED"],
    ["https://localhost/", "URL_NOT_ALLOWED"],
    ["https://api.example.com:8443/echo", "URL_NOT_ALLOWED"],
  ])("refuses a redirect from an allowed host to %s", async (target, code) => {
    const result = await run(attempt(`api('https://api.example.com/redirect?to=${encodeURIComponent(target)}')`));
    expect(result.result).toMatchObject({ ok: false, code });
    expect((result.result as { message: string }).message).toContain("redirect to");
  });

  it("turns a POST into a GET on 303 and drops credentials when a redirect changes origin", async () => {
    const result = await run(
      "const r = await api('https://api.example.com/redirect?status=303&to=https://eu.api.example.com/echo', { method: 'POST', body: 'x', headers: { Authorization: 'Bearer s3cret', 'X-Keep': 'kept' } }); return r.body",
      ["api.example.com", "*.api.example.com"],
    );
    const echoed = result.result as { method: string; body: string | null; headers: Record<string, string> };
    expect(echoed.method).toBe("GET");
    expect(echoed.body).toBeNull();
    expect(echoed.headers.authorization).toBeUndefined();
    expect(echoed.headers["x-keep"]).toBe("kept");
  });

  it(`stops after ${MAX_API_REDIRECTS} redirects`, async () => {
    const ok = await run(`return (await api('https://api.example.com/chain?n=${MAX_API_REDIRECTS}')).body`);
    expect(ok.result).toEqual({ done: true });
    const tooMany = await run(attempt(`api('https://api.example.com/chain?n=${MAX_API_REDIRECTS + 1}')`));
    expect(tooMany.result).toMatchObject({ ok: false, code: "TOO_MANY_REDIRECTS" });
  });

  it("caps the response size while reading, even without a content-length", async () => {
    const result = await run(attempt("api('https://api.example.com/big?bytes=3000000')"));
    expect(result.result).toMatchObject({ ok: false, code: "SIZE_LIMIT_EXCEEDED" });
    const small = await run("return (await api('https://api.example.com/big?bytes=1000')).body.length");
    expect(small.result).toBe(1000);
  });

  it("caps the request body size", async () => {
    const result = await run(attempt("api('https://api.example.com/echo', { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) })"));
    expect(result.result).toMatchObject({ ok: false, code: "SIZE_LIMIT_EXCEEDED" });
  });

  it("rejects malformed arguments with their path", async () => {
    const bad = await run(attempt("api('https://api.example.com/echo', { headers: { 'X-N': 1 } })"));
    expect(bad.result).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect((bad.result as { message: string }).message).toContain("options.headers.X-N");
    const body = await run(attempt("api('https://api.example.com/echo', { body: 'x' })"));
    expect(body.result).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    const url = await run(attempt("api(42)"));
    expect(url.result).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
  });

  it(`allows at most ${MAX_API_CALLS_PER_EXECUTION} calls per execution, even when made at once`, async () => {
    const result = await run(`
      const settled = await Promise.allSettled(Array.from({ length: ${MAX_API_CALLS_PER_EXECUTION + 10} }, () => api('https://api.example.com/text')))
      return { ok: settled.filter((s) => s.status === 'fulfilled').length, codes: [...new Set(settled.filter((s) => s.status === 'rejected').map((s) => s.reason.code))] }
    `);
    expect(result.result).toEqual({ ok: MAX_API_CALLS_PER_EXECUTION, codes: ["CALL_LIMIT_EXCEEDED"] });
  });

  it("bounds each call by the execution's remaining time", async () => {
    const props = { executionId: crypto.randomUUID(), deadlineAt: Date.now() + 300, allowedDomains: ["api.example.com"] };
    const startedAt = Date.now();
    const failure = await fetchAllowed(props, [], "https://api.example.com/slow?ms=5000", {}, { target: "", requestBytes: 0, responseBytes: 0 }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CapabilityFailure);
    expect((failure as CapabilityFailure).code).toBe("TIMEOUT");
    expect(Date.now() - startedAt).toBeLessThan(2_000);
  });

  it("refuses everything on a stub made without a policy", async () => {
    const reply = await exports.ApiCapability.request("https://api.example.com/text", {});
    expect(reply).toEqual({ ok: false, error: { code: "INTERNAL_ERROR", message: "api(): this capability has no policy" } });
  });

  it("records each call in the audit trail without query strings or secrets", async () => {
    const result = await run(`
      await api('https://api.example.com/echo?token=q-secret', { headers: { Authorization: 'Bearer header-secret' } })
      try { await api('https://evil.com/') } catch {}
    `);
    const calls = await waitForCalls(result.executionId, 2);
    expect(calls.map((c) => [c.kind, c.target, c.outcome, c.errorCode])).toEqual([
      ["api", "https://api.example.com/echo", "ok", undefined],
      ["api", "https://evil.com/", "denied", "DOMAIN_NOT_ALLOWED"],
    ]);
    expect(calls[0]?.responseBytes).toBeGreaterThan(0);
    expect(JSON.stringify(calls)).not.toMatch(/secret/);
    expect(await listCapabilityCalls(env.EXECUTIONS_DB, result.executionId)).toHaveLength(2);
  });
});
