import { Router, type IRequest } from "itty-router";
import { ErrorCode, ServiceError, errorResponse } from "../errors";
import type { PipelineDeps } from "../execution/pipeline";
import { createRecorder } from "../history/recorder";
import { handleExecute, handleValidate } from "./execute";
import { handleDocs, handleHealth, handleLanguages } from "./meta";

type Args = [env: Env, ctx: ExecutionContext];

const methodNotAllowed = (allowed: string) => (request: IRequest) => {
  throw new ServiceError(ErrorCode.METHOD_NOT_ALLOWED, `${request.method} is not allowed on ${new URL(request.url).pathname}; use ${allowed}`);
};

const deps = (env: Env, ctx: ExecutionContext): PipelineDeps => ({ env, ctx, recorder: createRecorder(env, ctx) });

export const router = Router<IRequest, Args>({ catch: errorResponse })
  .get("/health", handleHealth)
  .get("/languages", handleLanguages)
  .get("/docs", (request) => handleDocs(request))
  .post("/execute", (request, env, ctx) => handleExecute(request, deps(env, ctx), { kind: "http", identity: "anonymous" }))
  .post("/validate", (request) => handleValidate(request))
  .all("/execute", methodNotAllowed("POST"))
  .all("/validate", methodNotAllowed("POST"))
  .all("*", (request) => {
    throw new ServiceError(ErrorCode.NOT_FOUND, `No route for ${request.method} ${new URL(request.url).pathname}`);
  });
