import { Router, type IRequest } from "itty-router";
import { ErrorCode, ServiceError, errorResponse } from "../errors";
import type { PipelineDeps } from "../execution/pipeline";
import { createRecorder } from "../history/recorder";
import { PUBLIC_PATHS, authenticate, type Authenticated } from "./auth";
import { handleExecute, handleValidate } from "./execute";
import { handleGetExecution, handleListExecutions } from "./executions";
import { answerPreflight, checkCrossOrigin, checkHost, withCorsHeaders } from "./edge-policy";
import { handleDocs, handleHealth, handleLanguages, handlePackages } from "./meta";
import { handleOpenApi } from "./openapi";
import { handlePlayground } from "./playground";
import { handleCreateSession, handleDeleteSession, handleExecuteCell, handleGetSession, handleListSessions } from "./sessions";
import { handleExecuteEvents, handleExecuteSocket, wantsEventStream } from "./stream";

type Args = [env: Env, ctx: ExecutionContext];

const methodNotAllowed = (allowed: string) => (request: IRequest) => {
  throw new ServiceError(ErrorCode.METHOD_NOT_ALLOWED, `${request.method} is not allowed on ${new URL(request.url).pathname}; use ${allowed}`);
};

const deps = (env: Env, ctx: ExecutionContext): PipelineDeps => ({ env, ctx, recorder: createRecorder(env, ctx) });

/** First, for every request: the Host must be ours, cross-origin requests need an allowed origin (edge-policy.ts). */
const withEdgePolicy = (request: IRequest, env: Env) => {
  checkHost(request, env);
  const preflight = answerPreflight(request, env);
  if (preflight) return preflight;
  checkCrossOrigin(request, env);
};

/** Before every route, so no route can forget it: public paths pass, the rest need a key when keys are set. */
const withAuth = async (request: IRequest, env: Env) => {
  if (PUBLIC_PATHS.has(new URL(request.url).pathname)) return;
  request.auth = await authenticate(request, env);
};
const authOf = (request: IRequest): Authenticated => request.auth as Authenticated;

export const router = Router<IRequest, Args>({
  before: [withEdgePolicy, withAuth],
  catch: errorResponse,
  finally: [(response: Response, request: IRequest, env: Env) => withCorsHeaders(response, request, env)],
})
  .get("/health", handleHealth)
  .get("/languages", handleLanguages)
  .get("/packages", handlePackages)
  .get("/docs", (request) => handleDocs(request))
  .get("/openapi.json", (request) => handleOpenApi(request))
  .get("/", handlePlayground)
  .post("/execute", (request, env, ctx) =>
    wantsEventStream(request)
      ? handleExecuteEvents(request, deps(env, ctx), authOf(request).caller)
      : handleExecute(request, deps(env, ctx), authOf(request).caller),
  )
  .get("/execute/ws", (request, env, ctx) => handleExecuteSocket(request, deps(env, ctx), authOf(request).caller))
  .post("/validate", (request, env) => handleValidate(request, env))
  .all("/execute", methodNotAllowed("POST"))
  .all("/validate", methodNotAllowed("POST"))
  .all("/execute/ws", methodNotAllowed("GET"))
  .get("/executions", (request, env) => handleListExecutions(request, env, authOf(request)))
  .get("/executions/:id", (request, env) => handleGetExecution(request.params.id ?? "", env, authOf(request)))
  .all("/executions", methodNotAllowed("GET"))
  .all("/executions/:id", methodNotAllowed("GET"))
  .post("/sessions", (request, env) => handleCreateSession(request, env, authOf(request).caller))
  .get("/sessions", (request, env) => handleListSessions(env, authOf(request).caller))
  .get("/sessions/:id", (request, env) => handleGetSession(request.params.id ?? "", env, authOf(request).caller))
  .delete("/sessions/:id", (request, env) => handleDeleteSession(request.params.id ?? "", env, authOf(request).caller))
  .post("/sessions/:id/execute", (request, env) => handleExecuteCell(request.params.id ?? "", request, env, authOf(request).caller))
  .all("/sessions", methodNotAllowed("GET, POST"))
  .all("/sessions/:id", methodNotAllowed("GET, DELETE"))
  .all("/sessions/:id/execute", methodNotAllowed("POST"))
  .all("*", (request) => {
    throw new ServiceError(ErrorCode.NOT_FOUND, `No route for ${request.method} ${new URL(request.url).pathname}`);
  });
