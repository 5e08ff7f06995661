import * as v from "valibot";
import { ErrorCode, ServiceError, type ErrorIssue } from "./errors";
import { readCapped } from "./read-capped";

// Parse-once-at-the-edge helpers shared by HTTP and RPC.

function issuePath(issue: v.BaseIssue<unknown>): string {
  const path = v.getDotPath(issue);
  return path ?? "";
}

/**
 * Maps schema failures to the taxonomy. Two failures get their own code because callers act on them
 * differently: an oversized `code` (413) and an unknown `language` (the list of supported ones is in the message).
 */
export function parseInput<TSchema extends v.GenericSchema>(schema: TSchema, input: unknown): v.InferOutput<TSchema> {
  const parsed = v.safeParse(schema, input);
  if (parsed.success) return parsed.output;
  const issues: ErrorIssue[] = parsed.issues.map((issue) => ({ path: issuePath(issue), message: issue.message }));
  const tooLarge = parsed.issues.find((issue) => issue.type === "max_bytes" && issuePath(issue) === "code");
  if (tooLarge) throw new ServiceError(ErrorCode.PAYLOAD_TOO_LARGE, tooLarge.message, { issues });
  const badLanguage = parsed.issues.find((issue) => issue.type === "picklist" && issuePath(issue) === "language");
  if (badLanguage) throw new ServiceError(ErrorCode.UNSUPPORTED_LANGUAGE, badLanguage.message, { issues });
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  throw new ServiceError(ErrorCode.VALIDATION_ERROR, `Invalid request: ${summary}`, { issues });
}

/** Reads a JSON body with a byte cap, telling malformed JSON apart from schema failures. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  if (contentType && !/^application\/([a-z0-9.+-]*\+)?json\b/i.test(contentType) && !contentType.startsWith("text/plain")) {
    throw new ServiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Expected a JSON body (application/json), got ${contentType}`);
  }
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ServiceError(ErrorCode.PAYLOAD_TOO_LARGE, `Request body is ${declared} bytes; the limit is ${maxBytes} bytes`);
  }
  const bytes = await readCapped(
    request.body,
    maxBytes,
    () => new ServiceError(ErrorCode.PAYLOAD_TOO_LARGE, `Request body exceeds the limit of ${maxBytes} bytes`),
  );
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") throw new ServiceError(ErrorCode.INVALID_JSON, "Request body is empty; expected a JSON object");
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ServiceError(ErrorCode.INVALID_JSON, `Request body is not valid JSON: ${detail}`);
  }
}
