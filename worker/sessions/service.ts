import * as v from "valibot";
import {
  MAX_SESSION_CELLS,
  SessionIdSchema,
  type CreateSessionRequest,
  type Session,
  type SessionDetail,
  type SessionExecuteRequest,
  type SessionExecutionResult,
  type SessionList,
} from "../../schemas/session";
import { ErrorCode, ServiceError } from "../errors";
import type { Caller } from "../execution/pipeline";
import { listSessions } from "../history/sessions-store";
import type { ExecutionSession, SessionAnswer } from "./session-object";

// What HTTP (worker/http/sessions.ts) and RPC (worker/rpc.ts) both call. Ownership: a session belongs to the
// caller that created it, as "<kind>:<identity>" (an API key's name, "anonymous" without keys, the service
// binding for RPC); for anyone else it does not exist.

const MAX_LISTED_SESSIONS = 100;

export function ownerOf(caller: Caller): string {
  return `${caller.kind}:${caller.identity}`;
}

function stub(env: Env, id: string): DurableObjectStub<ExecutionSession> {
  const missing = new ServiceError(ErrorCode.NOT_FOUND, `No session with id ${JSON.stringify(id.slice(0, 100))}`);
  if (!v.is(SessionIdSchema, id)) throw missing;
  let objectId: DurableObjectId;
  try {
    objectId = env.SESSIONS.idFromString(id);
  } catch {
    throw missing;
  }
  return env.SESSIONS.get(objectId);
}

function unwrap<T>(answer: SessionAnswer<T>, id: string): T {
  if ("ok" in answer) return answer.ok;
  const { code, message } = answer.refused;
  throw new ServiceError(code, code === ErrorCode.NOT_FOUND ? `No session with id ${JSON.stringify(id)}` : message);
}

/** SESSION_MAX_CELLS (optional var) lowers the cap on cells per session, e.g. for tests. */
function maxCells(env: Env): number {
  const configured = Number((env as { SESSION_MAX_CELLS?: string }).SESSION_MAX_CELLS ?? "");
  return Number.isSafeInteger(configured) && configured > 0 && configured < MAX_SESSION_CELLS ? configured : MAX_SESSION_CELLS;
}

export async function createSession(env: Env, caller: Caller, input: CreateSessionRequest): Promise<Session> {
  const objectId = env.SESSIONS.newUniqueId();
  const sessionId = objectId.toString();
  return env.SESSIONS.get(objectId).create({ sessionId, owner: ownerOf(caller), ...input, maxCells: maxCells(env) });
}

export async function getSession(env: Env, caller: Caller, id: string): Promise<SessionDetail> {
  return unwrap(await stub(env, id).describe(ownerOf(caller)), id);
}

export async function endSession(env: Env, caller: Caller, id: string): Promise<void> {
  unwrap(await stub(env, id).end(ownerOf(caller)), id);
}

export async function executeCell(env: Env, caller: Caller, id: string, input: SessionExecuteRequest): Promise<SessionExecutionResult> {
  return unwrap(await stub(env, id).execute(ownerOf(caller), input, caller), id) as SessionExecutionResult;
}

export async function listCallerSessions(env: Env, caller: Caller): Promise<SessionList> {
  return { sessions: await listSessions(env.EXECUTIONS_DB, ownerOf(caller), Date.now(), MAX_LISTED_SESSIONS) };
}
