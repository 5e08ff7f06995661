import { ExecuteRequestSchema, ValidateRequestSchema } from "../../schemas/execute";
import { MAX_REQUEST_BYTES } from "../../schemas/limits";
import type { ValidateResponse } from "../../schemas/result";
import { executeRequest, type Caller, type PipelineDeps } from "../execution/pipeline";
import { languageRuntime } from "../languages";
import { entryLanguage, programSource } from "../execution/program";
import { parseInput, readJsonBody } from "../parse";

export async function handleExecute(request: Request, deps: PipelineDeps, caller: Caller): Promise<Response> {
  const input = parseInput(ExecuteRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  return Response.json(await executeRequest(deps, input, caller));
}

export async function handleValidate(request: Request, env: Env): Promise<Response> {
  const input = parseInput(ValidateRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  const source = programSource(input);
  const issues = await languageRuntime(entryLanguage(source)).validate(source, env);
  const body: ValidateResponse = { valid: issues.length === 0, errors: issues };
  return Response.json(body);
}
