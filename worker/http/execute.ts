import { ExecuteRequestSchema, ValidateRequestSchema } from "../../schemas/execute";
import { MAX_REQUEST_BYTES } from "../../schemas/limits";
import type { ValidateResponse } from "../../schemas/result";
import { executeRequest, type Caller, type PipelineDeps } from "../execution/pipeline";
import { prepareProgram, programSource } from "../execution/program";
import { parseInput, readJsonBody } from "../parse";

export async function handleExecute(request: Request, deps: PipelineDeps, caller: Caller): Promise<Response> {
  const input = parseInput(ExecuteRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  return Response.json(await executeRequest(deps, input, caller));
}

export async function handleValidate(request: Request): Promise<Response> {
  const input = parseInput(ValidateRequestSchema, await readJsonBody(request, MAX_REQUEST_BYTES));
  const prepared = await prepareProgram(programSource(input));
  const body: ValidateResponse = prepared.ok ? { valid: true, errors: [] } : { valid: false, errors: prepared.issues };
  return Response.json(body);
}
