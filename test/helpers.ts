import { env, exports } from "cloudflare:workers";
import type { ExecuteRequestInput } from "../schemas/execute";
import type { ExecutionResult } from "../schemas/result";

export const BASE = "http://code-exec.test";

/** Calls the Worker through its real fetch handler. */
export async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function execute(body: ExecuteRequestInput): Promise<ExecutionResult> {
  const response = await post("/execute", body);
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}: ${await response.text()}`);
  return (await response.json()) as ExecutionResult;
}

/** Calls the RPC entrypoint the way another Worker would: through the caller worker's service binding. */
export async function rpc<T = ExecutionResult>(method: string, ...args: unknown[]): Promise<{ ok: boolean; result?: T; error?: { name: string; message: string } }> {
  const response = await (env as unknown as { CALLER: Fetcher }).CALLER.fetch("http://caller/", {
    method: "POST",
    body: JSON.stringify({ method, args }),
  });
  return response.json();
}
