import { Validator } from "@seriousme/openapi-schema-validator";
import { exports } from "cloudflare:workers";
import * as v from "valibot";
import openApi31Schema from "@seriousme/openapi-schema-validator/schemas/v3.1/schema.json";
import { describe, expect, it, vi } from "vitest";
import { ExecuteRequestSchema } from "../../schemas/execute";
import { MAX_LIST_LIMIT } from "../../schemas/history";
import { EXAMPLE_EXECUTE, RESPONSE_SCHEMAS } from "../../worker/http/openapi";
import { router } from "../../worker/http/router";
import { BASE, post } from "../helpers";

// workerd's node:fs cannot see the host's node_modules, where the validator reads the OpenAPI meta-schema from;
// hand it the same file, bundled by vite. Everything else about the validator is real.
vi.mock("node:fs", async (importOriginal) => ({
  ...(await importOriginal<Record<string, unknown>>()),
  readFileSync: (file: string) => {
    if (String(file).endsWith("schemas/v3.1/schema.json")) return JSON.stringify(openApi31Schema);
    throw new Error(`unexpected read of ${String(file)}`);
  },
}));

type Document = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; servers?: { url: string }[] };

async function fetchDocument(): Promise<Document> {
  const response = await exports.default.fetch(`${BASE}/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/application\/json/);
  return response.json();
}

/** The routes the router really serves, read from itty-router's route table: `:id` becomes OpenAPI's `{id}`. */
function servedRoutes(): { method: string; path: string }[] {
  return router.routes
    .filter(([method, , , path]) => method !== "ALL" && path !== undefined && !path.includes("*"))
    .map(([method, , , path]) => ({ method: method.toLowerCase(), path: ((path as string) || "/").replace(/:([A-Za-z0-9_]+)/g, "{$1}") }));
}

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const document = await fetchDocument();
    expect(document.openapi).toBe("3.1.0");
    const validator = new Validator();
    const outcome = await validator.validate(document as unknown as Parameters<Validator["validate"]>[0]);
    expect(outcome.errors ?? []).toEqual([]);
    expect(outcome.valid).toBe(true);
  });

  it("describes every route the router serves", async () => {
    const document = await fetchDocument();
    const routes = servedRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(7);
    const missing = routes.filter((route) => !document.paths[route.path]?.[route.method]).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it("describes only routes that exist", async () => {
    const document = await fetchDocument();
    const served = new Set(servedRoutes().map((r) => `${r.method} ${r.path}`));
    const described = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    expect(described.filter((route) => !served.has(route))).toEqual([]);
  });

  it("takes its limits from the valibot schemas", async () => {
    const document = (await fetchDocument()) as unknown as { components: { schemas: Record<string, any> } };
    const request = document.components.schemas.ExecuteRequest;
    // code or files (with entry): exactly one, which the schema's check says and JSON Schema does not.
    expect(request.required ?? []).toEqual([]);
    expect(request.properties.files.additionalProperties).toEqual({ type: "string" });
    expect(request.properties.code["x-maxBytes"]).toBe(100 * 1024);
    expect(request.properties.config.properties.timeout).toMatchObject({ type: "integer", minimum: 100, maximum: 120_000, default: 30_000 });
    expect(request.properties.language.enum).toEqual(["javascript", "typescript", "python"]);
    expect(document.components.schemas.ExecutionResult.properties.status.enum).toContain("timeout");
    const list = (document as unknown as { paths: Record<string, any> }).paths["/executions"].get;
    expect(list.parameters.find((p: { name: string }) => p.name === "limit").schema).toMatchObject({ type: "integer", minimum: 1, maximum: MAX_LIST_LIMIT });
  });

  it("describes the bodies the service really answers", async () => {
    const samples: [keyof typeof RESPONSE_SCHEMAS, Response][] = [
      ["HealthResponse", await exports.default.fetch(`${BASE}/health`)],
      ["LanguagesResponse", await exports.default.fetch(`${BASE}/languages`)],
      ["ExecutionResult", await post("/execute", { code: "console.log('hi'); return Math.sqrt(16) * 2" })],
      ["ExecutionResult", await post("/execute", { code: "null.x" })],
      ["ValidateResponse", await post("/validate", { code: "return (" })],
      ["ListExecutionsResponse", await exports.default.fetch(`${BASE}/executions?limit=2`)],
      ["ErrorBody", await post("/execute", "{ not json")],
      ["ErrorBody", await exports.default.fetch(`${BASE}/executions/no-such-id`)],
    ];
    for (const [name, response] of samples) {
      const parsed = v.safeParse(RESPONSE_SCHEMAS[name], await response.json());
      expect(parsed.issues ?? [], `${name} from ${response.url || "a request"}`).toEqual([]);
    }
    const [record] = (await (await exports.default.fetch(`${BASE}/executions?limit=1`)).json<{ executions: { executionId: string }[] }>()).executions;
    const full = await (await exports.default.fetch(`${BASE}/executions/${record!.executionId}`)).json();
    expect(v.safeParse(RESPONSE_SCHEMAS.ExecutionRecord, full).issues ?? []).toEqual([]);
  });

  it("shows request examples the service accepts", () => {
    for (const [name, example] of Object.entries(EXAMPLE_EXECUTE)) {
      const parsed = v.safeParse(ExecuteRequestSchema, example.value);
      expect(parsed.issues ?? [], name).toEqual([]);
    }
  });

  it("names the server it was fetched from", async () => {
    const document = await fetchDocument();
    expect(document.servers).toEqual([{ url: BASE }]);
  });
});
