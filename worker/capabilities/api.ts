import { WorkerEntrypoint } from "cloudflare:workers";
import * as v from "valibot";
import { handleCall, remainingMs, type CallNote, type CapabilityProps } from "./capability-call";
import * as limits from "./limits";
import { CapabilityFailure, parseArgument, type Reply } from "./reply";
import { checkUrl, describeUrl } from "./url-policy";
import { readCapped } from "../read-capped";

export interface ApiProps extends CapabilityProps {
  allowedDomains: string[];
}

export interface ApiResponse {
  status: number;
  statusText: string;
  ok: boolean;
  /** The final URL after redirects. */
  url: string;
  headers: Record<string, string>;
  /** Parsed JSON when the response says it is JSON and parses; otherwise the text; null for an empty body. */
  body: unknown;
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

const UrlSchema = v.pipe(v.string("must be a string"), v.maxLength(limits.MAX_API_URL_CHARS));

// v.object drops unknown keys: whatever else the sandbox puts in options (say, `allowedDomains`) is ignored.
const OptionsSchema = v.optional(
  v.object({
    method: v.optional(v.pipe(v.string(), v.toUpperCase(), v.picklist(METHODS, `must be one of ${METHODS.join(", ")}`)), "GET"),
    headers: v.optional(
      v.pipe(
        v.record(v.string(), v.pipe(v.string("header values must be strings"), v.maxLength(limits.MAX_API_HEADER_VALUE_CHARS))),
        v.check((headers) => Object.keys(headers).length <= limits.MAX_API_HEADERS, `at most ${limits.MAX_API_HEADERS} headers`),
      ),
      {},
    ),
    /** A string is sent as is; any other JSON value is sent as JSON. */
    body: v.optional(v.unknown()),
  }),
  {},
);

/**
 * Headers that describe one connection rather than the request, or that only the platform may set. Host is
 * dropped so the URL alone decides where the request goes.
 */
const DROPPED_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);
/** Credentials do not follow a redirect to another origin (as browsers do). */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

/** api(url, options): HTTP to hosts in config.allowedDomains only; see url-policy.ts for what is always refused. */
export class ApiCapability extends WorkerEntrypoint<Env, ApiProps> {
  async request(url: unknown, options: unknown): Promise<Reply<ApiResponse>> {
    return handleCall({ ctx: this.ctx, env: this.env, kind: "api", maxCalls: limits.MAX_API_CALLS_PER_EXECUTION }, (props, note) =>
      fetchAllowed(props, serviceHostnames(this.env), url, options, note),
    );
  }
}

function serviceHostnames(env: Env): string[] {
  return (env.SERVICE_HOSTNAMES ?? "")
    .split(",")
    .map((host) => host.trim())
    .filter(Boolean);
}

export async function fetchAllowed(
  props: ApiProps,
  ownHosts: readonly string[],
  rawUrl: unknown,
  rawOptions: unknown,
  note: CallNote,
): Promise<ApiResponse> {
  const urlText = parseArgument(UrlSchema, rawUrl, "url");
  note.target = describeUrl(urlText);
  const options = parseArgument(OptionsSchema, rawOptions, "options");
  const policy = { allowedDomains: props.allowedDomains, serviceHostnames: ownHosts };
  let url = checkUrl(urlText, policy);

  let headers = requestHeaders(options.headers);
  let method: string = options.method;
  let body = requestBody(options.body, method, headers);
  note.requestBytes = body?.byteLength ?? 0;
  const signal = AbortSignal.timeout(remainingMs(props.deadlineAt, limits.MAX_API_CALL_MS));

  for (let hop = 0; ; hop++) {
    const response = await send(url, { method, headers, body, signal, redirect: "manual" });
    const location = response.headers.get("location");
    if (!isRedirect(response.status) || location === null) return readResponse(response, url, signal, note);
    await response.body?.cancel();
    if (hop >= limits.MAX_API_REDIRECTS) {
      throw new CapabilityFailure("TOO_MANY_REDIRECTS", `more than ${limits.MAX_API_REDIRECTS} redirects`);
    }
    const next = URL.canParse(location, url) ? new URL(location, url) : undefined;
    if (!next) throw new CapabilityFailure("UPSTREAM_ERROR", "a redirect had an unusable Location header");
    let target: URL;
    try {
      target = checkUrl(next.href, policy);
    } catch (error) {
      if (error instanceof CapabilityFailure) {
        throw new CapabilityFailure(error.code, `redirect to ${describeUrl(next.href)} refused: ${error.message}`);
      }
      throw error;
    }
    // Fetch's rules: 303 turns anything but HEAD into a GET, and so do 301/302 for a POST.
    if ((response.status === 303 && method !== "HEAD") || ((response.status === 301 || response.status === 302) && method === "POST")) {
      method = "GET";
      body = undefined;
      headers = withoutHeaders(headers, ["content-type"]);
    }
    if (target.origin !== url.origin) headers = withoutHeaders(headers, CREDENTIAL_HEADERS);
    url = target;
  }
}

function requestHeaders(input: Record<string, string>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(input)) {
    const lower = name.toLowerCase();
    if (DROPPED_HEADERS.has(lower) || lower.startsWith("cf-")) continue;
    try {
      headers.append(name, value);
    } catch {
      throw new CapabilityFailure("INVALID_ARGUMENT", `options.headers: invalid header ${JSON.stringify(name.slice(0, 100))}`);
    }
  }
  return headers;
}

function withoutHeaders(headers: Headers, names: readonly string[]): Headers {
  const copy = new Headers(headers);
  for (const name of names) copy.delete(name);
  return copy;
}

function requestBody(input: unknown, method: string, headers: Headers): Uint8Array | undefined {
  if (input === undefined || input === null) return undefined;
  if (method === "GET" || method === "HEAD") {
    throw new CapabilityFailure("INVALID_ARGUMENT", `options.body: a ${method} request cannot have a body`);
  }
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    const json = safeStringify(input);
    if (json === undefined) throw new CapabilityFailure("INVALID_ARGUMENT", "options.body must be a string or a JSON value");
    text = json;
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength > limits.MAX_API_REQUEST_BYTES) {
    throw new CapabilityFailure("SIZE_LIMIT_EXCEEDED", `the request body is over ${limits.MAX_API_REQUEST_BYTES} bytes`);
  }
  return bytes;
}

function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

async function send(url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw upstreamFailure(error, url);
  }
}

function upstreamFailure(error: unknown, url: URL): CapabilityFailure {
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new CapabilityFailure("TIMEOUT", `${url.host} did not answer within the execution's remaining time`);
  }
  // The platform's message can name internals; the host and the fact are enough for the sandbox.
  return new CapabilityFailure("UPSTREAM_ERROR", `request to ${url.host} failed`);
}

async function readResponse(response: Response, url: URL, signal: AbortSignal, note: CallNote): Promise<ApiResponse> {
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limits.MAX_API_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw new CapabilityFailure("SIZE_LIMIT_EXCEEDED", `the response is ${declared} bytes; the limit is ${limits.MAX_API_RESPONSE_BYTES}`);
  }
  const bytes = await readResponseBody(response, url, signal);
  note.responseBytes = bytes.byteLength;
  const text = new TextDecoder().decode(bytes);
  const contentType = response.headers.get("content-type") ?? "";
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    url: url.href,
    headers: Object.fromEntries(response.headers),
    body: text === "" ? null : /\bjson\b/i.test(contentType) ? parseJsonOr(text) : text,
  };
}

async function readResponseBody(response: Response, url: URL, signal: AbortSignal): Promise<Uint8Array> {
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new CapabilityFailure("TIMEOUT", `${url.host} did not finish within the execution's remaining time`));
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
  // Observed only through the race in readCapped; without this, a deadline after a successful read is an unhandled rejection.
  aborted.catch(() => {});
  const tooLarge = () => new CapabilityFailure("SIZE_LIMIT_EXCEEDED", `the response is over ${limits.MAX_API_RESPONSE_BYTES} bytes`);
  try {
    return await readCapped(response.body, limits.MAX_API_RESPONSE_BYTES, tooLarge, aborted);
  } catch (error) {
    if (error instanceof CapabilityFailure) throw error;
    throw upstreamFailure(error, url);
  }
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
