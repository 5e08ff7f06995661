import * as v from "valibot";
import { capabilityStub, type ChildBindingName } from "../capabilities/child-env";
import { ErrorCode, ServiceError } from "../errors";
import { grantFor } from "../execution/sandbox-grants";
import { MAX_API_REQUEST_BYTES } from "../capabilities/limits";
import { readJsonBody } from "../parse";

// Where a remote child's capability calls come back in: the forwarder in its sandbox host (sandbox-host/host.js)
// posts { binding, method, args } with the execution's bearer token, and the front calls its own capability
// entrypoint with the policy it minted for that execution, exactly as the in-process child's stub would. The host
// supplies nothing but the token and the arguments, and the arguments are as hostile here as over RPC.
// Keep in sync with sandbox-host/host.js.

export const SANDBOX_CAPABILITY_PATH = "/internal/sandbox-capability";

/** The one method each binding exposes to the child (sandbox-template/capabilities.js). */
const METHODS: Record<ChildBindingName, string> = { AI: "run", API: "request", DB: "query" };

/** The largest argument is an api() request body; JSON escaping can double it. */
const MAX_CALL_BYTES = 2 * MAX_API_REQUEST_BYTES + 64 * 1024;

const CallSchema = v.object({
  binding: v.picklist(["AI", "API", "DB"] as const),
  method: v.pipe(v.string(), v.maxLength(32)),
  args: v.pipe(v.array(v.unknown()), v.maxLength(2)),
});

export async function handleSandboxCapability(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (!(env.SANDBOX_PLANE_URL as string)) throw new ServiceError(ErrorCode.NOT_FOUND, `No route for POST ${SANDBOX_CAPABILITY_PATH}`);
  const token = /^Bearer ([0-9a-f]{64})$/.exec(request.headers.get("authorization") ?? "")?.[1];
  const grant = token ? grantFor(token, Date.now()) : undefined;
  if (!grant) throw new ServiceError(ErrorCode.UNAUTHORIZED, "no running execution holds this sandbox token");
  const parsed = v.safeParse(CallSchema, await readJsonBody(request, MAX_CALL_BYTES));
  if (!parsed.success) throw new ServiceError(ErrorCode.VALIDATION_ERROR, "malformed capability call");
  const { binding, method, args } = parsed.output;
  if (!grant.capabilities[binding] || METHODS[binding] !== method) {
    // The child only has a forwarder for allowed bindings, so this is a host misbehaving, answered as data.
    return Response.json({ ok: false, error: { code: "CAPABILITY_DENIED", message: `${binding}.${method} is not allowed for this execution` } });
  }
  const stub = capabilityStub(ctx, binding, grant.capabilities) as Record<string, (...args: unknown[]) => Promise<unknown>>;
  return Response.json(await stub[method]!(...args));
}
