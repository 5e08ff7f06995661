import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { ExecuteRequestInput } from "../../schemas/execute";
import type { ExecutionRecord, ListExecutionsResponse } from "../../schemas/history";
import type { ExecutionResult } from "../../schemas/result";
import worker from "../../worker/index";
import { BASE } from "../helpers";

// Calls the Worker's real fetch handler with a per-test env (API keys, a different database), which the shared
// `exports.default` cannot take.

export const testEnv = env as unknown as Env;

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  env?: Partial<Env>;
}

export async function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  const request = new Request(`${BASE}${path}`, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...testEnv, ...options.env }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function json<T>(response: Response, expectedStatus = 200): Promise<T> {
  const text = await response.text();
  if (response.status !== expectedStatus) throw new Error(`expected ${expectedStatus}, got ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

export async function run(body: ExecuteRequestInput, options: Omit<CallOptions, "body" | "method"> = {}): Promise<ExecutionResult> {
  return json<ExecutionResult>(await call("/execute", { ...options, body }));
}

export async function record(id: string, options: Omit<CallOptions, "body" | "method"> = {}): Promise<ExecutionRecord> {
  return json<ExecutionRecord>(await call(`/executions/${id}`, options));
}

export async function list(query: string, options: Omit<CallOptions, "body" | "method"> = {}): Promise<ListExecutionsResponse> {
  return json<ListExecutionsResponse>(await call(`/executions${query}`, options));
}

/** Two keys whose holders must never see each other's executions; names are unique per test file run. */
export function keyPair(prefix: string): { apiKeys: string; a: { name: string; key: string }; b: { name: string; key: string } } {
  const suffix = crypto.randomUUID().slice(0, 8);
  const a = { name: `${prefix}-a-${suffix}`, key: `key-a-${crypto.randomUUID()}` };
  const b = { name: `${prefix}-b-${suffix}`, key: `key-b-${crypto.randomUUID()}` };
  return { apiKeys: `${a.name}:${a.key},\n${b.name}:${b.key}`, a, b };
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
