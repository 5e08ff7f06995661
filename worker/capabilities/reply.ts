import * as v from "valibot";

// The reply protocol every capability method speaks to the sandbox. Keep in sync with
// sandbox-template/capabilities.js, which turns an error reply into a thrown CapabilityError.
// Errors cross as plain data: an Error object thrown across RPC would carry host stack frames and messages.

export const CAPABILITY_ERROR_CODES = [
  /** Arguments the capability cannot accept (wrong type, too many headers, malformed URL). */
  "INVALID_ARGUMENT",
  /** api(): the host is not in config.allowedDomains. */
  "DOMAIN_NOT_ALLOWED",
  /** api(): refused whatever the allowlist says (scheme, IP literal, port, credentials, internal or own host). */
  "URL_NOT_ALLOWED",
  "TOO_MANY_REDIRECTS",
  /** ai(): the model is not in the deployment's allowlist. */
  "MODEL_NOT_ALLOWED",
  "AI_NOT_CONFIGURED",
  /** db(): the query does not compile (unknown table, column or operator; bad value; limits). */
  "INVALID_QUERY",
  /** The per-execution call budget for this capability is spent. */
  "CALL_LIMIT_EXCEEDED",
  /** A request, input or response is larger than the capability allows. */
  "SIZE_LIMIT_EXCEEDED",
  /** The execution's remaining time ran out during the call. */
  "TIMEOUT",
  /** The caller cancelled the execution; no new call starts. */
  "CANCELLED",
  /** The upstream (HTTP host, AI provider, database) failed or answered unusably. */
  "UPSTREAM_ERROR",
  "INTERNAL_ERROR",
] as const;
export type CapabilityErrorCode = (typeof CAPABILITY_ERROR_CODES)[number];

/** Codes that mean "the policy said no" rather than "it was tried and failed"; the audit trail tells them apart. */
export const DENIAL_CODES: ReadonlySet<CapabilityErrorCode> = new Set([
  "DOMAIN_NOT_ALLOWED",
  "URL_NOT_ALLOWED",
  "MODEL_NOT_ALLOWED",
  "CALL_LIMIT_EXCEEDED",
]);

export type Reply<T> = { ok: true; value: T } | { ok: false; error: { code: CapabilityErrorCode; message: string } };

/**
 * Thrown inside a capability (parent side only) to stop with an error reply; the entrypoint catches it and
 * answers with data. It never crosses to the sandbox.
 */
export class CapabilityFailure extends Error {
  override readonly name = "CapabilityFailure";
  constructor(
    readonly code: CapabilityErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Parses a capability argument, failing with the first issue and its path, e.g. `options.headers: ...`. */
export function parseArgument<TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
  name: string,
  code: CapabilityErrorCode = "INVALID_ARGUMENT",
): v.InferOutput<TSchema> {
  const parsed = v.safeParse(schema, value);
  if (parsed.success) return parsed.output;
  const [issue] = parsed.issues;
  const path = issue ? v.getDotPath(issue) : null;
  throw new CapabilityFailure(code, `${path ? `${name}.${path}` : name}: ${issue?.message ?? "invalid"}`);
}
