import { toJsonSchema, toJsonSchemaDefs, type ConversionConfig, type JsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import { ContextObjectSchema, ExecuteRequestSchema, ValidateRequestSchema } from "../../schemas/execute";
import { FilesObjectSchema } from "../../schemas/files";
import { ErrorBodySchema, HealthResponseSchema, LanguagesResponseSchema, PackagesResponseSchema } from "../../schemas/meta";
import { ExecutionRecordSchema, ListExecutionsOptionsSchema, ListExecutionsResponseSchema } from "../../schemas/history";
import { ExecutionResultSchema, ValidateResponseSchema } from "../../schemas/result";
import { SocketErrorEventSchema, SocketMessageSchema, StreamEventSchema } from "../../schemas/stream";
import { ErrorCode, HTTP_STATUS } from "../errors";
import {
  CreateSessionRequestSchema,
  SessionDetailSchema,
  SessionExecuteRequestSchema,
  SessionExecutionResultSchema,
  SessionListSchema,
  SessionSchema,
} from "../../schemas/session";
import packageJson from "../../package.json";

// GET /openapi.json: an OpenAPI 3.1 document whose schemas are generated from the same valibot schemas the
// handlers parse with, so the description cannot drift from what is enforced. test/dx/openapi.test.ts checks it
// against the OpenAPI 3.1 meta-schema and checks that every route the router serves is described here.

/** Request bodies convert their input type (defaults make fields optional); responses their output type. */
const REQUEST_SCHEMAS = {
  ExecuteRequest: ExecuteRequestSchema,
  ValidateRequest: ValidateRequestSchema,
  CreateSessionRequest: CreateSessionRequestSchema,
  SessionExecuteRequest: SessionExecuteRequestSchema,
  SocketMessage: SocketMessageSchema,
};
export const RESPONSE_SCHEMAS = {
  ExecutionResult: ExecutionResultSchema,
  ValidateResponse: ValidateResponseSchema,
  HealthResponse: HealthResponseSchema,
  LanguagesResponse: LanguagesResponseSchema,
  PackagesResponse: PackagesResponseSchema,
  ExecutionRecord: ExecutionRecordSchema,
  ListExecutionsResponse: ListExecutionsResponseSchema,
  ErrorBody: ErrorBodySchema,
  Session: SessionSchema,
  SessionDetail: SessionDetailSchema,
  SessionList: SessionListSchema,
  SessionExecutionResult: SessionExecutionResultSchema,
  StreamEvent: StreamEventSchema,
  SocketErrorEvent: SocketErrorEventSchema,
};
type SchemaName = keyof typeof REQUEST_SCHEMAS | keyof typeof RESPONSE_SCHEMAS;

type Method = "get" | "post" | "put" | "patch" | "delete";

interface Operation {
  method: Method;
  /** OpenAPI path template ({id}); the router's `:id` form is converted when comparing. */
  path: string;
  operationId: string;
  tags: string[];
  summary: string;
  description?: string;
  requestBody?: SchemaName;
  /** 200 body: a named JSON schema, or a non-JSON media type such as text/html. */
  ok: SchemaName | { mediaType: string; description: string };
  /** The success status when it is not 200; a 204 has no body; 101 is a WebSocket upgrade. */
  okStatus?: 101 | 201 | 204;
  errors?: ErrorCode[];
  parameters?: Record<string, unknown>[];
  /** Query parameters, from the object schema the handler's parameters must satisfy (as numbers, not strings). */
  query?: v.GenericSchema;
  /** Public even when API keys are configured. */
  public?: boolean;
  /** With `Accept: text/event-stream`, the 200 is a stream of StreamEvent (SSE). */
  streams?: boolean;
}

export const EXAMPLE_EXECUTE = {
  sqrt: { summary: "A value", value: { code: "return Math.sqrt(16) * 2" } },
  context: { summary: "Context", value: { code: "return `Hello ${context.name}!`", context: { name: "World" } } },
  typescript: {
    summary: "TypeScript",
    value: {
      language: "typescript",
      code: "interface User { name: string; age: number }\nconst user: User = { name: 'John', age: 30 };\nreturn user.name;",
    },
  },
  python: {
    summary: "Python",
    value: { language: "python", code: "import math\nprint('computing')\nmath.sqrt(context['n']) * 2", context: { n: 16 } },
  },
  config: {
    summary: "Config",
    value: { code: "const r = await api('https://api.github.com/zen');\nreturn r.body", config: { timeout: 5000, allowedAPIs: ["api", "console"], allowedDomains: ["api.github.com"] } },
  },
};

/** Every operation the service exposes. Add a row here when adding a route to the router. */
export const OPERATIONS: Operation[] = [
  {
    method: "post",
    path: "/execute",
    operationId: "executeCode",
    tags: ["execution"],
    summary: "Run JavaScript or TypeScript in a fresh isolate",
    description:
      "The code is the body of an async function. Failures of the code (syntax, runtime, timeout, policy) are answered with 200 and `success: false`; the same result comes back over RPC from `executeCode`.",
    requestBody: "ExecuteRequest",
    ok: "ExecutionResult",
    streams: true,
    errors: ["INVALID_JSON", "VALIDATION_ERROR", "UNSUPPORTED_LANGUAGE", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "UNAUTHORIZED"],
  },
  {
    method: "get",
    path: "/execute/ws",
    operationId: "executeSocket",
    tags: ["execution"],
    summary: "Run code over a WebSocket: streamed events, cancel at any time",
    description:
      "Upgrades to a WebSocket. Send a SocketMessage: `{ \"type\": \"execute\", ...ExecuteRequest }` or `{ \"type\": \"cancel\" }`. Receive StreamEvent messages (start, log…, result) for each execution, one at a time per socket; a message that cannot be acted on gets a SocketErrorEvent and the socket stays open. Closing the socket cancels the run under way. Browsers cannot send an Authorization header on a WebSocket: with API keys configured, browsers use the SSE form of POST /execute.",
    ok: "StreamEvent",
    okStatus: 101,
    errors: ["UPGRADE_REQUIRED", "UNAUTHORIZED"],
  },
  {
    method: "post",
    path: "/validate",
    operationId: "validateCode",
    tags: ["execution"],
    summary: "Check syntax and policy without running",
    requestBody: "ValidateRequest",
    ok: "ValidateResponse",
    errors: ["INVALID_JSON", "VALIDATION_ERROR", "UNSUPPORTED_LANGUAGE", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "UNAUTHORIZED"],
  },
  {
    method: "get",
    path: "/executions",
    operationId: "listExecutions",
    tags: ["history"],
    summary: "Your executions, newest first",
    description:
      "With API keys configured, only the calling key's executions; without, everyone's. Unknown, repeated or malformed parameters are a 400, never ignored. Over RPC: `listExecutions({ limit, offset, status, language })`.",
    ok: "ListExecutionsResponse",
    errors: ["VALIDATION_ERROR", "UNSUPPORTED_LANGUAGE", "UNAUTHORIZED"],
    query: ListExecutionsOptionsSchema,
  },
  {
    method: "get",
    path: "/executions/{id}",
    operationId: "getExecution",
    tags: ["history"],
    summary: "One execution's full record: code, context, config, result, logs, error, capability calls",
    description: "Another key's execution is a 404, like a missing one. Over RPC: `getExecution(id)`.",
    ok: "ExecutionRecord",
    errors: ["NOT_FOUND", "UNAUTHORIZED"],
    parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
  },
  {
    method: "post",
    path: "/sessions",
    operationId: "createSession",
    tags: ["sessions"],
    summary: "Start a session: a REPL whose top-level declarations persist between cells",
    description:
      "`config` is the default for the session's cells (a cell may narrow it, never widen it). `ttlSeconds` (default 3600, at most 604800) is refreshed by every cell; an expired session is deleted. Over RPC: `createSession({ language, config, ttlSeconds })`.",
    requestBody: "CreateSessionRequest",
    ok: "Session",
    okStatus: 201,
    errors: ["INVALID_JSON", "VALIDATION_ERROR", "UNSUPPORTED_LANGUAGE", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "UNAUTHORIZED"],
  },
  {
    method: "get",
    path: "/sessions",
    operationId: "listSessions",
    tags: ["sessions"],
    summary: "Your live sessions, newest first (at most 100)",
    ok: "SessionList",
    errors: ["UNAUTHORIZED"],
  },
  {
    method: "get",
    path: "/sessions/{id}",
    operationId: "getSession",
    tags: ["sessions"],
    summary: "A session: metadata, its cells (code, status, result preview) and what its state holds (names, kinds, sizes)",
    description: "Another caller's session is a 404, like a missing one.",
    ok: "SessionDetail",
    errors: ["NOT_FOUND", "UNAUTHORIZED"],
    parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
  },
  {
    method: "delete",
    path: "/sessions/{id}",
    operationId: "deleteSession",
    tags: ["sessions"],
    summary: "End a session and delete its state",
    ok: "Session",
    okStatus: 204,
    errors: ["NOT_FOUND", "UNAUTHORIZED"],
    parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
  },
  {
    method: "post",
    path: "/sessions/{id}/execute",
    operationId: "executeInSession",
    tags: ["sessions"],
    summary: "Run one cell in a fresh isolate, with the session's state",
    description:
      "The result of POST /execute plus `sessionId` and `cell`. Runs of a session are serialised: a cell waits for the one before; with 8 waiting, one more is a 409 SESSION_BUSY. A failed cell changes nothing; a cell whose state would pass 1 MB fails with SESSION_STATE_TOO_LARGE.",
    requestBody: "SessionExecuteRequest",
    ok: "SessionExecutionResult",
    errors: ["INVALID_JSON", "VALIDATION_ERROR", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "UNAUTHORIZED", "NOT_FOUND", "SESSION_BUSY", "SESSION_FULL"],
    parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
  },
  { method: "get", path: "/languages", operationId: "listLanguages", tags: ["meta"], summary: "Supported languages", ok: "LanguagesResponse", public: true },
  { method: "get", path: "/packages", operationId: "listPackages", tags: ["meta"], summary: "The npm packages code may import by name, with versions", ok: "PackagesResponse", public: true },
  { method: "get", path: "/health", operationId: "health", tags: ["meta"], summary: "Liveness", ok: "HealthResponse", public: true },
  {
    method: "get",
    path: "/docs",
    operationId: "docs",
    tags: ["meta"],
    summary: "Runtime documentation",
    description: "HTML when the client accepts text/html, JSON otherwise.",
    ok: { mediaType: "text/html", description: "Runtime APIs, limits, config, error codes, HTTP and RPC usage" },
    public: true,
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    tags: ["meta"],
    summary: "This document",
    ok: { mediaType: "application/json", description: "OpenAPI 3.1 document" },
    public: true,
  },
  {
    method: "get",
    path: "/",
    operationId: "playground",
    tags: ["meta"],
    summary: "Playground and execution history dashboard",
    ok: { mediaType: "text/html", description: "A single offline page" },
    public: true,
  },
];

// max_bytes and check have no JSON Schema keyword: a UTF-8 byte cap implies the same cap in characters, and the exact rule
// travels in an extension keyword and the description.
const conversion = (typeMode: "input" | "output"): ConversionConfig => ({
  target: "draft-2020-12",
  typeMode,
  errorMode: "throw",
  overrideRef: (context) => `#/components/schemas/${context.referenceId}`,
  // A custom schema has no JSON Schema of its own; context's is a plain JSON object check.
  overrideSchema: (context) =>
    context.valibotSchema === ContextObjectSchema
      ? { type: "object" }
      : context.valibotSchema === FilesObjectSchema
        ? { type: "object", additionalProperties: { type: "string" } }
        : undefined,
  overrideAction: (context) => {
    if (context.valibotAction.type === "max_bytes") {
      const maxBytes = (context.valibotAction as unknown as { requirement: number }).requirement;
      return { ...context.jsonSchema, maxLength: maxBytes, "x-maxBytes": maxBytes };
    }
    if (context.valibotAction.type === "trim" || context.valibotAction.type === "to_lower_case") return context.jsonSchema;
    // A check (e.g. context's JSON byte size) has no keyword either; its message states the rule.
    if (context.valibotAction.type === "check") {
      return { ...context.jsonSchema, "x-check": String((context.valibotAction as unknown as { message?: unknown }).message) };
    }
    return undefined;
  },
});

function jsonContent(name: SchemaName) {
  return { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } };
}

function queryParameters(schema: v.GenericSchema): Record<string, unknown>[] {
  const { properties = {}, required = [] } = toJsonSchema(schema, conversion("input")) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(properties).map(([name, property]) => ({ name, in: "query", required: required.includes(name), schema: property }));
}

function operationObject(op: Operation) {
  const parameters = [...(op.parameters ?? []), ...(op.query ? queryParameters(op.query) : [])];
  const responses: Record<string, unknown> = {
    [String(op.okStatus ?? 200)]:
      op.okStatus === 204
        ? { description: "Done" }
        : op.okStatus === 101
          ? { description: "Switching Protocols: the socket then carries StreamEvent and SocketErrorEvent messages as JSON text" }
          : typeof op.ok === "string"
            ? {
                description: op.streams
                  ? "OK. With Accept: text/event-stream, Server-Sent Events instead: each event's `event:` is the StreamEvent's type, `id:` its id, `data:` its data as JSON."
                  : "OK",
                content: {
                  ...jsonContent(op.ok),
                  ...(op.streams ? { "text/event-stream": { schema: { $ref: "#/components/schemas/StreamEvent" } } } : {}),
                },
              }
            : { description: op.ok.description, content: { [op.ok.mediaType]: { schema: { type: "string" } } } },
  };
  // The edge policy (edge-policy.ts) runs before every route.
  const edgeErrors: ErrorCode[] = ["CROSS_ORIGIN_FORBIDDEN", "HOST_NOT_ALLOWED"];
  for (const code of [...(op.errors ?? []), ...edgeErrors]) {
    const status = String(HTTP_STATUS[code]);
    const existing = responses[status] as { description: string } | undefined;
    responses[status] = { description: existing ? `${existing.description}, ${code}` : code, content: jsonContent("ErrorBody") };
  }
  responses.default = { description: "INTERNAL_ERROR (nothing about the cause is disclosed)", content: jsonContent("ErrorBody") };
  return {
    operationId: op.operationId,
    tags: op.tags,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.public ? { security: [] } : {}),
    ...(op.requestBody
      ? {
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: { $ref: `#/components/schemas/${op.requestBody}` },
                ...(op.requestBody === "ExecuteRequest" ? { examples: EXAMPLE_EXECUTE } : {}),
              },
            },
          },
        }
      : {}),
    responses,
  };
}

function buildDocument() {
  const schemas: Record<string, JsonSchema> = {
    ...toJsonSchemaDefs(REQUEST_SCHEMAS, conversion("input")),
    ...toJsonSchemaDefs(RESPONSE_SCHEMAS, conversion("output")),
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  return {
    openapi: "3.1.0",
    info: {
      title: "code-exec",
      version: packageJson.version,
      description:
        "Runs JavaScript and TypeScript in a fresh, network-less V8 isolate per execution (Cloudflare Worker Loader). Runtime APIs and limits: GET /docs.",
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    tags: [
      { name: "execution", description: "Run and check code" },
      { name: "history", description: "Recorded executions (kept RETENTION_DAYS days)" },
      { name: "sessions", description: "Persistent sessions: state between runs, each run still in a fresh isolate" },
      { name: "meta", description: "Service information and pages" },
    ],
    // Keys are optional: when the deployment configures none, every operation is open.
    security: [{}, { bearerAuth: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", description: "An API key, when the deployment configures keys" } },
    },
  };
}

let cached: ReturnType<typeof buildDocument> | undefined;

export function openApiDocument(origin?: string) {
  cached ??= buildDocument();
  return origin ? { ...cached, servers: [{ url: origin }] } : cached;
}

export function handleOpenApi(request: Request): Response {
  return Response.json(openApiDocument(new URL(request.url).origin));
}
