import { CAPABILITIES, LANGUAGES } from "../schemas/execute";
import * as limits from "../schemas/limits";
import * as sessionLimits from "../schemas/session";
import { EXECUTION_ERROR_CODES, EXECUTION_STATUSES, type ExecutionErrorCode } from "../schemas/result";
import { ErrorCode, HTTP_STATUS } from "./errors";
import { OPERATIONS } from "./http/openapi";
import * as capabilityLimits from "./capabilities/limits";
import { CAPABILITY_ERROR_CODES } from "./capabilities/reply";
import { STREAM_HEARTBEAT_MS } from "./http/stream";
import { PACKAGE_SET_FILE } from "./execution/package-set";

/** The documentation served at GET /docs, built from the same constants the service enforces. */
export function runtimeDocs() {
  return {
    summary:
      "Runs JavaScript, TypeScript and Python in a fresh, network-less V8 isolate per execution. JavaScript and TypeScript are the body of an async function: use `return` for the result and `await` freely. Python is a module body whose final expression is the result.",
    // The route table the OpenAPI document is built from (schemas: GET /openapi.json).
    endpoints: OPERATIONS.map((op) => ({ method: op.method.toUpperCase(), path: op.path, summary: op.summary, public: op.public ?? false })),
    languages: LANGUAGES,
    runtimeApis: [
      {
        name: "import",
        signature: 'import { z } from "zod" · import { f } from "./lib/f"',
        description: `Packages of the deployment's set by name (GET /packages lists them; the operator chooses them in ${PACKAGE_SET_FILE}), in code or in files; relative imports between the files of a files request (JavaScript, TypeScript, JSON). The entry is the async function body; the other files are ES modules. Only static imports: import() is refused. At most ${limits.MAX_FILES} files, ${limits.MAX_CODE_BYTES} bytes together.`,
        example: '{ "files": { "main.ts": "import { z } from \\"zod\\";\\nimport { total } from \\"./lib/total\\";\\nreturn total(z.array(z.number()).parse([1, 2]))", "lib/total.ts": "export const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);" } }',
      },
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
        description: `A read-only JSON query DSL compiled to one parameterized SQL statement over the \`things\` table (ns, type, id, data (JSON), created_at, updated_at). { select: { from, columns?, where?, orderBy?, limit?, offset? } }; where takes equality, null (IS NULL), $eq/$ne/$gt/$gte/$lt/$lte/$like/$in/$nin, $and/$or, and JSON paths such as 'data.views'; orderBy a column or { column, direction }. limit defaults to ${capabilityLimits.DEFAULT_DB_LIMIT}, at most ${capabilityLimits.MAX_DB_LIMIT}; $in at most ${capabilityLimits.MAX_DB_IN_ITEMS} values; nesting at most ${capabilityLimits.MAX_DB_WHERE_DEPTH} levels; at most ${capabilityLimits.MAX_DB_BOUND_PARAMETERS} bound parameters per query (one per value, $in item and JSON path, plus 2 for limit and offset); $like patterns at most ${capabilityLimits.MAX_DB_LIKE_PATTERN_BYTES} bytes. An empty condition ({} in where or $or) matches every row. Returns \`{ rows, rowCount }\` with data parsed.`,
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
      statuses: EXECUTION_STATUSES,
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
    sessions: {
      summary:
        "POST /sessions starts a REPL: the top-level var, let, const, function and class declarations of each successful cell (POST /sessions/:id/execute) are visible to later cells, while every cell runs in a fresh isolate. Values persist by structured clone (objects, arrays, Map, Set, Date, RegExp, errors, binary data, shared references kept); functions and classes (also `const f = () => ...`) are declared again from their source; anything else (a function inside a value, a symbol, a promise, a WeakMap, a class instance) is named in `warnings`. A failed cell changes nothing. Cells of one session run one at a time: a cell waits for the one before.",
      ttlSeconds: { default: sessionLimits.DEFAULT_SESSION_TTL_SECONDS, min: sessionLimits.MIN_SESSION_TTL_SECONDS, max: sessionLimits.MAX_SESSION_TTL_SECONDS, note: "Refreshed by each cell; an expired session is deleted." },
      maxStateBytes: sessionLimits.MAX_SESSION_STATE_BYTES,
      maxNames: sessionLimits.MAX_SESSION_BINDINGS,
      maxCells: sessionLimits.MAX_SESSION_CELLS,
      maxWaitingCells: sessionLimits.MAX_SESSION_QUEUE,
      errors: "Over the state cap: the cell fails with SESSION_STATE_TOO_LARGE. Over the waiting cells: 409 SESSION_BUSY. Over the cells: 409 SESSION_FULL. Another caller's session: 404, like a missing one.",
    },
    http: `Request bodies must be Content-Type: application/json (optionally charset=utf-8; anything else is 415) and at most ${limits.MAX_REQUEST_BYTES} bytes, chunked or not (413). Only the service's own hostnames (SERVICE_HOSTNAMES) and loopback names are answered (any other Host is 421, a DNS-rebinding defence). Cross-origin browser requests are refused (403) unless their origin is in ALLOWED_ORIGINS, which also gets CORS headers and preflight answers; none by default. RPC calls skip these checks.`,
    python: {
      runtime: "CPython 3.14 (Pyodide 314.0.8, WebAssembly), restored from a memory snapshot in a fresh isolate per execution, offline.",
      rules: [
        "The code is a module body (`__name__ == \"__main__\"`). The value of a final expression is the result; there is no top-level `return`. A final expression that is None gives no result. Top-level `await` works.",
        "`context` is a dict made from the request's JSON.",
        "Results are encoded like JavaScript's: dict -> object, list/tuple -> array, None -> null, int beyond 2**53 -> { $type: bigint }, NaN/Infinity -> { $type: number }, set -> { $type: Set }, bytes -> { $type: bytes }, datetime/date -> ISO string, dataclass -> object, exception -> { $type: Error }, function/class -> { $type: function }, other objects -> { $type: object, constructor }. Same caps.",
        "`print()` goes to logs as log (stdout) or error (stderr), one entry per line, in order; `logging` records keep their level (DEBUG debug, INFO info, WARNING warn, ERROR/CRITICAL error); the root logger is set to DEBUG. Same caps as console.",
        "An uncaught exception is the error: `name` is its class, `message` its text, `line`/`column` the innermost frame in your code. `sys.exit(0)` ends the run successfully.",
        "`await ai(model, input)`, `await api(url, options=None)`, `await db(query)`: the same arguments (dicts) and results (dicts) as JavaScript, through the same policy; a denied or failed call raises `CapabilityError` with `.code`.",
        "The standard library Pyodide ships works (json, re, math, datetime, collections, itertools, dataclasses, typing, decimal, fractions, statistics, random, csv, ...). Third-party packages are not installed and cannot be: importing one raises ModuleNotFoundError saying so.",
        "`import js` and `import pyodide_js` fail: the JavaScript side is not reachable from the code.",
        "Limits: loops, exception-swallowing loops, recursion, regex backtracking and huge integer or sort operations are stopped at config.timeout (status timeout, prints kept). `time.sleep()` never sleeps past the deadline (a longer sleep ends the run as a timeout). `random` is reseeded every run; nothing survives between runs (but `hash()` of str uses one fixed secret).",
        "Syntax errors come back from /validate and /execute as SYNTAX_ERROR with line and column (/validate for Python starts an isolate to compile: ~0.2 s).",
      ],
      example: "import math\nprint('computing')\nmath.sqrt(context['n']) * 2",
    },
    streaming: `POST /execute with \`Accept: text/event-stream\` answers Server-Sent Events instead of one JSON body: \`start\` ({ executionId, language }), a \`log\` per entry as the code makes it (the shape of logs[]), then exactly one \`result\` (the same JSON as the non-streaming answer, logs included), and the stream ends. Every event has an \`id\` (1, 2, 3, …); a comment line every ${STREAM_HEARTBEAT_MS / 1000} s keeps idle proxies open. Request errors are still plain JSON 4xx. Closing the stream cancels the run. GET /execute/ws upgrades to a WebSocket: send \`{ "type": "execute", ...request }\`, receive the same events as JSON messages \`{ type, id, data }\`, send \`{ "type": "cancel" }\` at any time; one run at a time per socket, several in turn; a message the service cannot act on gets \`{ "type": "error", data: { error: { code, message } } }\` and the socket stays open. A cancelled run stops within ${limits.CANCEL_GRACE_MS} ms when it awaits or logs (a loop that never yields is stopped by its timeout, except on a sandbox plane, which kills its host at the cancel) and ends with status \`cancelled\` and the logs made so far. A stream that writes nothing notices a closed connection only at its next heartbeat.`,
    rpc: "Bind the CodeExecutor entrypoint as a service and call `env.CODE_EXEC.executeCode(code, language?, context?, config?)`: the same pipeline and result as POST /execute. `executeStream(code, language?, context?, config?)` answers `{ events, cancel }`: a byte ReadableStream of the same events as newline-delimited JSON (one `{ type, id, data }` per line), and a function that cancels the run. History reads: `getExecution(id)` and `listExecutions({ limit, offset, status, language })`, which see every caller's executions (service bindings are trusted). Sessions: `createSession({ language, config, ttlSeconds })`, `executeInSession(sessionId, code, context?, config?)`, `getSession(sessionId)`, `listSessions()`, `deleteSession(sessionId)`; they belong to the service binding.",
  };
}

/** What each execution error code means to the caller; the compiler checks every code is described. */
const EXECUTION_ERROR_MEANINGS: Record<ExecutionErrorCode, string> = {
  SYNTAX_ERROR: "The code does not parse (or TypeScript does not transpile, or Python does not compile). Nothing ran; status is rejected.",
  POLICY_VIOLATION: "The code uses something the sandbox forbids (e.g. eval, import). Found before running: nothing ran, status is rejected. Code generation refused while running (e.g. `(async function () {}).constructor('…')`): status is error, logs kept.",
  RUNTIME_ERROR: "The code threw or rejected. line and column point at your source (TypeScript too).",
  TIMEOUT: "The code ran past config.timeout and was stopped. Logs written before that are kept.",
  CAPABILITY_DENIED: "The code called ai(), api() or db() without it in config.allowedAPIs, and did not catch the error.",
  SANDBOX_ERROR: "The isolate failed for a reason outside the code (e.g. it stopped answering). Retry; report if it persists.",
  CANCELLED: "The caller cancelled the run (WebSocket cancel, a closed SSE or RPC stream). Logs made before are kept; status is cancelled.",
  RESOURCE_LIMIT: "The code used more memory than the sandbox allows, and the sandbox process was stopped. Logs are lost.",
  SESSION_STATE_TOO_LARGE: "A session cell ran, but its top-level state would exceed the session's cap (1 MB). The cell counts as failed and the state is as before it.",
};

const CSS = `body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;max-width:60rem;margin:0 auto;padding:0 1.25rem 4rem}
header{display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap;border-bottom:1px solid #d0d7de;padding:1rem 0;margin-bottom:1rem}
header h1{margin:0;font-size:1.4rem}nav a{margin-right:.8rem}
nav.toc{columns:3;font-size:.9rem;margin:1rem 0 2rem}nav.toc a{display:block}
h2{border-bottom:1px solid #eaeef2;padding-bottom:.25rem;margin-top:2.2rem}h3{margin:1.4rem 0 .3rem}h3 code{font-size:1rem}
code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
:not(pre)>code{background:#eff1f3;padding:.08rem .3rem;border-radius:4px}
pre{background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;padding:.7rem .9rem;overflow:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;vertical-align:top;padding:.35rem .6rem;border-bottom:1px solid #eaeef2}
th{background:#f6f8fa}.method{font-weight:600;font-family:ui-monospace,Menlo,monospace}.muted{color:#656d76}`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Interpolations are escaped unless they are already-rendered fragments (arrays of them are joined). */
class Html {
  constructor(readonly text: string) {}
}
function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  const render = (value: unknown): string =>
    value instanceof Html ? value.text : Array.isArray(value) ? value.map(render).join("") : escapeHtml(String(value ?? ""));
  return new Html(strings.reduce((out, part, i) => out + part + (i < values.length ? render(values[i]) : ""), ""));
}

const formatNumber = (n: number) => n.toLocaleString("en-US");

/** Prose from runtimeDocs() marks code with backticks, as the JSON form reads best that way. */
const prose = (text: string) => new Html(escapeHtml(text).replace(/`([^`]+)`/g, "<code>$1</code>"));

/** GET /docs for browsers: the same facts as the JSON form, laid out to read. */
export function renderDocsHtml(docs: ReturnType<typeof runtimeDocs>, origin: string): string {
  const curl = (body: unknown) =>
    `curl -s ${origin}/execute -H 'content-type: application/json' \\\n  -d '${JSON.stringify(body).replace(/'/g, "'\\''")}'`;
  const sections: [id: string, title: string, body: Html][] = [
    [
      "quick-start",
      "Quick start",
      html`<p>${prose(docs.summary)}</p>
<pre>${curl({ code: "return Math.sqrt(16) * 2" })}
# {"executionId":"…","success":true,"result":8,"logs":[],"status":"success","language":"javascript","durationMs":12}

${curl({ code: "return `Hello ${context.name}!`", context: { name: "World" } })}

${curl({ language: "typescript", code: "interface User { name: string; age: number }\nconst user: User = { name: 'John', age: 30 };\nreturn user.name;" })}</pre>
<p>Failures of the code (syntax, runtime, timeout, policy) are a <code>200</code> with <code>success: false</code> and an <code>error</code>; only a bad request is a 4xx. Try it in the <a href="/">playground</a>.</p>`,
    ],
    [
      "endpoints",
      "HTTP endpoints",
      html`<table><tr><th>Method</th><th>Path</th><th>What</th><th>Auth</th></tr>${docs.endpoints.map(
        (e) => html`<tr><td class="method">${e.method}</td><td><code>${e.path}</code></td><td>${e.summary}</td><td>${e.public ? "public" : "key, when configured"}</td></tr>`,
      )}</table>
<p>Request and response schemas: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1, generated from the schemas the service validates with). When the deployment configures API keys, send <code>Authorization: Bearer &lt;key&gt;</code>; each key sees only its own executions.</p>`,
    ],
    [
      "runtime",
      "Runtime APIs inside the sandbox",
      html`<p>The code is the body of an <code>async</code> function: <code>return</code> the result, <code>await</code> anything. There is no <code>fetch</code>, no bindings and no network except through <code>api()</code>.</p>
${docs.runtimeApis.map((api) => html`<h3><code>${api.signature}</code></h3><p>${prose(api.description)}</p><pre>${api.example}</pre>`)}`,
    ],
    [
      "python",
      "Python",
      html`<p>${prose(docs.python.runtime)}</p><ul>${docs.python.rules.map((rule) => html`<li>${prose(rule)}</li>`)}</ul>
<pre>${curl({ language: "python", code: docs.python.example, context: { n: 16 } })}
# {"executionId":"…","success":true,"result":8,"logs":[{"level":"log","message":"computing",…}],"status":"success","language":"python",…}</pre>`,
    ],
    [
      "config",
      "Configuration (request <code>config</code>)",
      html`<table><tr><th>Field</th><th>Default</th><th>Rule</th></tr>
<tr><td><code>timeout</code></td><td>${formatNumber(docs.config.timeout.default)} ms</td><td>${formatNumber(docs.config.timeout.min)}–${formatNumber(docs.config.timeout.max)} ms, whole milliseconds; wall clock for the whole execution</td></tr>
<tr><td><code>allowedAPIs</code></td><td><code>${JSON.stringify(docs.config.allowedAPIs.default)}</code></td><td>Runtime APIs the code may use; the others are absent from the sandbox and throw CAPABILITY_DENIED</td></tr>
<tr><td><code>allowedDomains</code></td><td><code>[]</code></td><td>${prose(docs.config.allowedDomains.note)}</td></tr></table>
<p>Languages: ${docs.languages.map((l, i) => html`${i ? ", " : ""}<code>${l}</code>`)} (<code>language</code>, default <code>javascript</code>). TypeScript types are erased, not checked. Python: see <a href="#python">Python</a>.</p>`,
    ],
    [
      "limits",
      "Limits",
      html`<table><tr><th>Limit</th><th>Value</th></tr>${Object.entries(docs.limits).map(
        ([name, value]) => html`<tr><td><code>${name}</code></td><td>${formatNumber(value)}${/Bytes$/.test(name) ? " bytes" : /Chars$/.test(name) ? " characters" : ""}</td></tr>`,
      )}</table>`,
    ],
    [
      "result",
      "The result",
      html`<pre>${docs.result.shape}</pre><p><code>status</code> is one of ${docs.result.statuses.map((s, i) => html`${i ? ", " : ""}<code>${s}</code>`)}.</p>
<table>${Object.entries(docs.result.encoding).map(([k, text]) => html`<tr><td><code>${k}</code></td><td>${prose(text)}</td></tr>`)}</table>`,
    ],
    [
      "errors",
      "Error codes",
      html`<h3>Execution errors (in the result, HTTP 200)</h3><table><tr><th>Code</th><th>Meaning</th></tr>${docs.errorCodes.execution.map(
        (code) => html`<tr><td><code>${code}</code></td><td>${EXECUTION_ERROR_MEANINGS[code]}</td></tr>`,
      )}</table>
<h3>Request errors (<code>{ error: { code, message, issues? } }</code>)</h3><table><tr><th>Code</th><th>HTTP</th></tr>${docs.errorCodes.request.map(
        (code) => html`<tr><td><code>${code}</code></td><td>${HTTP_STATUS[code]}</td></tr>`,
      )}</table>
<h3>Capability errors (thrown inside the sandbox, catchable: <code>error.code</code>)</h3><p>${docs.errorCodes.capability.map((c, i) => html`${i ? ", " : ""}<code>${c}</code>`)}</p>`,
    ],
    ["streaming", "Streaming and cancelling", html`<p>${prose(docs.streaming)}</p>
<pre>curl -N ${origin}/execute -H 'accept: text/event-stream' -H 'content-type: application/json' \\
  -d '{"code":"for (let i = 0; i < 3; i++) { console.log(i); await new Promise(r => setTimeout(r, 500)) }"}'</pre>`],
    ["http", "HTTP requests", html`<p>${prose(docs.http)}</p>`],
    [
      "sessions",
      "Sessions",
      html`<p>${prose(docs.sessions.summary)}</p>
<table><tr><th>Limit</th><th>Value</th></tr>
<tr><td><code>ttlSeconds</code></td><td>default ${formatNumber(docs.sessions.ttlSeconds.default)}, ${formatNumber(docs.sessions.ttlSeconds.min)}–${formatNumber(docs.sessions.ttlSeconds.max)} s; ${prose(docs.sessions.ttlSeconds.note)}</td></tr>
<tr><td>state</td><td>${formatNumber(docs.sessions.maxStateBytes)} bytes, ${formatNumber(docs.sessions.maxNames)} names</td></tr>
<tr><td>cells per session</td><td>${formatNumber(docs.sessions.maxCells)}</td></tr>
<tr><td>cells waiting</td><td>${formatNumber(docs.sessions.maxWaitingCells)}</td></tr></table>
<p>${prose(docs.sessions.errors)}</p>`,
    ],
    [
      "rpc",
      "Calling from another Worker (RPC)",
      html`<p>${prose(docs.rpc)}</p>
<pre>// wrangler.jsonc of the calling Worker
"services": [{ "binding": "CODE_EXEC", "service": "code-exec", "entrypoint": "CodeExecutor" }]

// its code: fully typed with the types this package exports
import type { CodeExecBinding } from "code-exec";
interface Env { CODE_EXEC: CodeExecBinding }

const result = await env.CODE_EXEC.executeCode("return Math.sqrt(16) * 2");
// result.result === 8; also getExecution(id) and listExecutions({ limit, offset, status, language })</pre>
<p>Request-level errors are thrown as <code>Error</code>s whose message starts with the error code, e.g. <code>VALIDATION_ERROR: …</code>.</p>`,
    ],
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>code-exec docs</title><link rel="icon" href="data:,"><style>${CSS}</style></head><body>
<header><h1>code-exec</h1><nav><a href="/">Playground</a><a href="/openapi.json">OpenAPI</a><a href="/docs?format=json">JSON</a></nav></header>
<nav class="toc">${sections.map(([id, title]) => `<a href="#${id}">${title}</a>`).join("")}</nav>
${sections.map(([id, title, body]) => `<section id="${id}"><h2>${title}</h2>${body.text}</section>`).join("\n")}
<p class="muted">This page is generated from the constants and schemas the service enforces. Machine-readable: <code>curl -H 'accept: application/json' ${escapeHtml(origin)}/docs</code>.</p>
</body></html>`;
}
