import type { CreateSessionRequestInput, Session, SessionDetail, SessionExecuteRequestInput, SessionExecutionResult, SessionList } from "../../schemas/session";
import { call, type CallOptions } from "../history/client";

// Session routes through the Worker's real fetch handler, with a per-test env where a test needs one (API keys,
// a lower cell cap).

type Options = Omit<CallOptions, "body" | "method">;

async function json<T>(response: Response, expectedStatus: number): Promise<T> {
  const text = await response.text();
  if (response.status !== expectedStatus) throw new Error(`expected ${expectedStatus}, got ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

export async function createSession(body: CreateSessionRequestInput = {}, options: Options = {}): Promise<Session> {
  return json<Session>(await call("/sessions", { ...options, body }), 201);
}

export async function cell(sessionId: string, body: SessionExecuteRequestInput | string, options: Options = {}): Promise<SessionExecutionResult> {
  return json<SessionExecutionResult>(await cellResponse(sessionId, body, options), 200);
}

export function cellResponse(sessionId: string, body: SessionExecuteRequestInput | string, options: Options = {}): Promise<Response> {
  return call(`/sessions/${sessionId}/execute`, { ...options, body: typeof body === "string" ? { code: body } : body });
}

export async function describeSession(sessionId: string, options: Options = {}): Promise<SessionDetail> {
  return json<SessionDetail>(await call(`/sessions/${sessionId}`, options), 200);
}

export async function listSessions(options: Options = {}): Promise<SessionList> {
  return json<SessionList>(await call("/sessions", options), 200);
}

export function deleteSession(sessionId: string, options: Options = {}): Promise<Response> {
  return call(`/sessions/${sessionId}`, { ...options, method: "DELETE" });
}

/** Runs the cells in order and answers their results, failing on any request-level error. */
export async function cells(sessionId: string, ...codes: string[]): Promise<SessionExecutionResult[]> {
  const results: SessionExecutionResult[] = [];
  for (const code of codes) results.push(await cell(sessionId, code));
  return results;
}
