import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LANGUAGES } from "../../schemas/execute";
import * as limits from "../../schemas/limits";
import { EXECUTION_ERROR_CODES } from "../../schemas/result";
import { ErrorCode } from "../../worker/errors";
import { PUBLIC_PATHS } from "../../worker/http/auth";
import { OPERATIONS } from "../../worker/http/openapi";
import { BASE } from "../helpers";

const get = (path: string, accept?: string) => exports.default.fetch(`${BASE}${path}`, accept ? { headers: { accept } } : {});

async function sha256Base64(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...digest));
}

describe("GET / (playground)", () => {
  it("serves one self-contained HTML page whose only script is allowed by its hash", async () => {
    const response = await get("/", "text/html");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const page = await response.text();
    const scripts = [...page.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain(`script-src 'sha256-${await sha256Base64(scripts[0]![1]!)}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
  });

  it("loads nothing from another origin (works offline)", async () => {
    const page = await (await get("/")).text();
    expect(page).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    expect(page).not.toMatch(/@import|url\(\s*["']?https?:/i);
  });

  it("has the editor, the controls and the history view the dashboard needs", async () => {
    const page = await (await get("/")).text();
    for (const id of ["code", "language", "context", "timeout", "domains", "run", "result", "logs", "error", "history-rows", "chart-status", "chart-duration", "api-key"]) {
      expect(page).toContain(`id="${id}"`);
    }
    for (const language of LANGUAGES) expect(page).toContain(`value="${language}"`);
    expect(page).toContain("return Math.sqrt(16) * 2");
    expect(page).toContain("interface User");
  });
});

describe("GET /docs", () => {
  it("answers HTML to browsers with runtime APIs, examples, limits, config, error codes, HTTP and RPC usage", async () => {
    const response = await get("/docs", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8");
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await response.text();
    for (const signature of ["await ai(model, input)", "await api(url,", "await db(query)", "console.log"]) expect(page).toContain(signature);
    expect(page).toContain("db({ select: { from: &#39;things&#39;");
    for (const code of [...EXECUTION_ERROR_CODES, ...Object.values(ErrorCode)]) expect(page).toContain(`<code>${code}</code>`);
    expect(page).toContain(limits.MAX_CODE_BYTES.toLocaleString("en-US"));
    expect(page).toContain(`${limits.MAX_TIMEOUT_MS.toLocaleString("en-US")} ms`);
    expect(page).toContain(`curl -s ${BASE}/execute`);
    expect(page).toContain("env.CODE_EXEC.executeCode(");
    expect(page).toContain('"entrypoint": "CodeExecutor"');
    for (const op of OPERATIONS) expect(page).toContain(`<code>${op.path}</code>`);
  });

  it("answers JSON otherwise, listing the same routes the OpenAPI document describes", async () => {
    const response = await get("/docs");
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const docs = await response.json<{ endpoints: { method: string; path: string }[]; limits: Record<string, number> }>();
    expect(docs.endpoints.map((e) => `${e.method} ${e.path}`)).toEqual(OPERATIONS.map((op) => `${op.method.toUpperCase()} ${op.path}`));
    expect(docs.limits.maxCodeBytes).toBe(limits.MAX_CODE_BYTES);
    const forced = await get("/docs?format=json", "text/html");
    expect(forced.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("marks as public exactly the paths that need no API key", () => {
    const publicInDocs = new Set(OPERATIONS.filter((op) => op.public).map((op) => op.path));
    expect(publicInDocs).toEqual(new Set(PUBLIC_PATHS));
  });
});
