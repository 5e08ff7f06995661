import { MAX_REQUEST_BYTES } from "../../schemas/limits";
import { CreateSessionRequestSchema, SessionExecuteRequestSchema } from "../../schemas/session";
import type { Caller } from "../execution/pipeline";
import { parseInput, readJsonBody } from "../parse";
import { createSession, endSession, executeCell, getSession, listCallerSessions } from "../sessions/service";

export async function handleCreateSession(request: Request, env: Env, caller: Caller): Promise<Response> {
  const input = parseInput(CreateSessionRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  return Response.json(await createSession(env, caller, input), { status: 201 });
}

export async function handleListSessions(env: Env, caller: Caller): Promise<Response> {
  return Response.json(await listCallerSessions(env, caller));
}

export async function handleGetSession(id: string, env: Env, caller: Caller): Promise<Response> {
  return Response.json(await getSession(env, caller, id));
}

export async function handleDeleteSession(id: string, env: Env, caller: Caller): Promise<Response> {
  await endSession(env, caller, id);
  return new Response(null, { status: 204 });
}

export async function handleExecuteCell(id: string, request: Request, env: Env, caller: Caller): Promise<Response> {
  const input = parseInput(SessionExecuteRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  return Response.json(await executeCell(env, caller, id, input));
}
