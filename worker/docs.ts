import { CAPABILITIES, LANGUAGES } from "../schemas/execute";
import * as limits from "../schemas/limits";
import { EXECUTION_ERROR_CODES } from "../schemas/result";
import { ErrorCode } from "./errors";
import * as capabilityLimits from "./capabilities/limits";
import { CAPABILITY_ERROR_CODES } from "./capabilities/reply";

/** The documentation served at GET /docs, built from the same constants the service enforces. */
export function runtimeDocs() {
  return {
    summary:
      "Runs JavaScript and TypeScript in a fresh, network-less V8 isolate per execution. The code is the body of an async function: use `return` for the result and `await` freely.",
    endpoints: [
      { method: "POST", path: "/execute", body: "{ code, language?, context?, config?: { timeout?, allowedAPIs?, allowedDomains? } }" },
      { method: "POST", path: "/validate", body: "{ code, language? } -> { valid, errors: [{ code, message, line?, column? }] }" },
      { method: "GET", path: "/languages" },
      { method: "GET", path: "/docs" },
      { method: "GET", path: "/health" },
    ],
    languages: LANGUAGES,
    runtimeApis: [
      {
        name: "context",
        signature: "context",
        description: "The request's `context` object, deep-copied into the sandbox; mutating it changes nothing outside.",
        example: "return `Hello ${context.name}!`",
      },
      {
        name: "console",
        signature: "console.log | info | warn | error | debug (...args)",
        description: `Captured in call order into the result's logs, including logs made before a throw or a timeout. Without "console" in config.allowedAPIs, console calls still work but are discarded (logs is empty). At most ${limits.MAX_LOG_ENTRIES} entries, ${limits.MAX_LOG_MESSAGE_CHARS} characters per message and ${limits.MAX_LOG_TOTAL_CHARS} characters in all; past that a final warn entry says how many were dropped.`,
        example: "console.log('hello', { a: 1 }); console.error(new Error('boom'))",
      },
      {
        name: "ai",
        signature: "await ai(model, input)",
        description: `Runs a model through the deployment's AI provider (the Workers AI binding, else the OpenAI-compatible endpoint in AI_BASE_URL; neither: AI_NOT_CONFIGURED); returns \`{ response }\`. input is { messages: [{ role, content }] } or { prompt }, plus max_tokens?, temperature?; at most ${capabilityLimits.MAX_AI_INPUT_BYTES} bytes. Models must be in the deployment's AI_MODELS. At most ${capabilityLimits.MAX_AI_CALLS_PER_EXECUTION} calls per execution.`,
        example: "const result = await ai('@cf/meta/llama-3.1-8b-instruct', { messages: [{ role: 'user', content: 'Hello!' }] })",
      },
      {
        name: "api",
        signature: "await api(url, { method?, headers?, body? })",
        description: `HTTP request to a host in config.allowedDomains (empty by default: every host denied). Always refused: schemes other than https, IP addresses in any notation, localhost and internal names, non-default ports, credentials in the URL, the service's own host. Redirects are followed by hand, each hop re-checked, at most ${capabilityLimits.MAX_API_REDIRECTS}. Only method, headers (minus Host and hop-by-hop) and body (a string, or JSON for any other value) are sent. Returns \`{ status, statusText, ok, url, headers, body }\`, body parsed when the response is JSON, else text. Limits: request body ${capabilityLimits.MAX_API_REQUEST_BYTES} bytes, response ${capabilityLimits.MAX_API_RESPONSE_BYTES} bytes, ${capabilityLimits.MAX_API_CALLS_PER_EXECUTION} calls per execution, each bounded by the execution's remaining time.`,
        example: "const response = await api('https://api.github.com/repos/cloudflare/workers-sdk', { headers: { 'User-Agent': 'code-exec' } })",
      },
      {
        name: "db",
        signature: "await db(query)",
        description: `A read-only JSON query DSL compiled to one parameterized SQL statement over the \`things\` table (ns, type, id, data (JSON), created_at, updated_at). { select: { from, columns?, where?, orderBy?, limit?, offset? } }; where takes equality, null (IS NULL), $eq/$ne/$gt/$gte/$lt/$lte/$like/$in/$nin, $and/$or, and JSON paths such as 'data.views'; orderBy a column or { column, direction }. limit defaults to ${capabilityLimits.DEFAULT_DB_LIMIT}, at most ${capabilityLimits.MAX_DB_LIMIT}; $in at most ${capabilityLimits.MAX_DB_IN_ITEMS} values; nesting at most ${capabilityLimits.MAX_DB_WHERE_DEPTH} levels. Returns \`{ rows, rowCount }\` with data parsed.`,
        example: "const results = await db({ select: { from: 'things', where: { ns: 'wiki', type: 'Article' }, limit: 10 } })",
      },
    ],
    capabilities: CAPABILITIES,
    config: {
      timeout: { default: limits.DEFAULT_TIMEOUT_MS, min: limits.MIN_TIMEOUT_MS, max: limits.MAX_TIMEOUT_MS, unit: "ms" },
      allowedAPIs: { default: CAPABILITIES },
      allowedDomains: { default: [], note: "Exact hostnames or *.example.com wildcards. Empty denies every host." },
    },
    limits: {
      maxCodeBytes: limits.MAX_CODE_BYTES,
      maxRequestBytes: limits.MAX_REQUEST_BYTES,
      maxContextBytes: limits.MAX_CONTEXT_BYTES,
      maxLogEntries: limits.MAX_LOG_ENTRIES,
      maxLogMessageChars: limits.MAX_LOG_MESSAGE_CHARS,
      maxLogTotalChars: limits.MAX_LOG_TOTAL_CHARS,
      maxResultChars: limits.MAX_RESULT_CHARS,
      maxResultDepth: limits.MAX_RESULT_DEPTH,
      maxResultNodes: limits.MAX_RESULT_NODES,
    },
    result: {
      shape: "{ executionId, success, result?, resultTruncated?, logs, error?, status, language, durationMs }",
      statuses: ["success", "error", "timeout", "rejected"],
      encoding: {
        json: "JSON values come back unchanged; `undefined` members are omitted (in arrays: null); a top-level undefined omits `result`.",
        Date: "ISO 8601 string",
        tagged: 'Values JSON cannot hold come back as { "$type": ... }: bigint {value}, symbol {description}, function {name}, number {value: "NaN"|"Infinity"|"-Infinity"}, Map {entries}, Set {values}, Error {name, message, cause?}, RegExp {value}, bytes {kind, byteLength}, circular, Promise.',
        caps: `Past ${limits.MAX_RESULT_CHARS} characters, ${limits.MAX_RESULT_DEPTH} levels or ${limits.MAX_RESULT_NODES} values the rest becomes { "$type": "truncated", reason } and resultTruncated is true.`,
      },
    },
    errorCodes: {
      execution: EXECUTION_ERROR_CODES,
      request: Object.values(ErrorCode),
      /** On the CapabilityError ai()/api()/db() throw inside the sandbox (error.code); catchable by the code. */
      capability: ["CAPABILITY_DENIED", ...CAPABILITY_ERROR_CODES],
    },
    rpc: "Bind this Worker as a service and call env.CODE_EXEC.executeCode(code, language, context, config): same result as POST /execute.",
  };
}
