import * as v from "valibot";
import { filesWithinSize } from "../schemas/files";
import { ErrorCode, ServiceError, type ErrorIssue } from "./errors";
import { readCappedRequestBody } from "./read-capped";

// Parse-once-at-the-edge helpers shared by HTTP and RPC.

function issuePath(issue: v.BaseIssue<unknown>): string {
  const path = v.getDotPath(issue);
  return path ?? "";
}

/**
 * Maps schema failures to the taxonomy. Two failures get their own code because callers act on them
 * differently: an oversized `code` or `files` (413) and an unknown `language` (the list of supported ones is in the message).
 */
export function parseInput<TSchema extends v.GenericSchema>(schema: TSchema, input: unknown): v.InferOutput<TSchema> {
  const skipped = skippedKeyIssues(schema, input, "");
  if (skipped.length > 0) {
    throw new ServiceError(ErrorCode.VALIDATION_ERROR, `Invalid request: ${skipped.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues: skipped });
  }
  const parsed = v.safeParse(schema, input);
  if (parsed.success) return parsed.output;
  const issues: ErrorIssue[] = parsed.issues.map((issue) => ({ path: issuePath(issue), message: issue.message }));
  const tooLarge = parsed.issues.find(
    (issue) =>
      (issue.type === "max_bytes" && issuePath(issue) === "code") ||
      (issue.type === "check" && issuePath(issue) === "files" && issue.requirement === filesWithinSize),
  );
  if (tooLarge) throw new ServiceError(ErrorCode.PAYLOAD_TOO_LARGE, tooLarge.message, { issues });
  const badLanguage = parsed.issues.find((issue) => issue.type === "picklist" && issuePath(issue) === "language");
  if (badLanguage) throw new ServiceError(ErrorCode.UNSUPPORTED_LANGUAGE, badLanguage.message, { issues });
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  throw new ServiceError(ErrorCode.VALIDATION_ERROR, `Invalid request: ${summary}`, { issues });
}

/**
 * Bodies must say `application/json`, optionally with `charset=utf-8` (the body is decoded as UTF-8, so another
 * charset would be misread). Besides naming the format, this is a cross-site defence: a page on another origin can
 * make a browser POST `text/plain`, form or multipart bodies without a CORS preflight, but not `application/json`.
 */
export function checkJsonContentType(header: string | null): void {
  if (header === null || header.trim() === "") {
    throw new ServiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "The request body needs Content-Type: application/json");
  }
  const [mediaType = "", ...parameters] = header.split(";");
  if (mediaType.trim().toLowerCase() !== "application/json") {
    throw new ServiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `Expected Content-Type: application/json, got ${JSON.stringify(header.slice(0, 200))}`);
  }
  for (const parameter of parameters) {
    const [name = "", value = ""] = parameter.split("=", 2).map((part) => part.trim().toLowerCase());
    if (name === "" && value === "") continue;
    if (name !== "charset" || value.replace(/^"(.*)"$/, "$1") !== "utf-8") {
      throw new ServiceError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        `Content-Type parameter ${JSON.stringify(parameter.trim().slice(0, 100))} is not supported; application/json bodies are UTF-8 (charset=utf-8 is the only parameter accepted)`,
      );
    }
  }
}

/** Keys valibot's object schemas never look at: they copy entries into a fresh `{}` and skip these. */
const SKIPPED_KEYS = ["__proto__", "constructor", "prototype"];

/**
 * A strict object schema reports unknown keys, except the ones valibot skips, so `{"code":"…","__proto__":{}}`
 * passed with the key silently dropped. JSON.parse and structured clone keep such keys as own properties, so they
 * are looked for here, along the schema's own strict objects (free-form values such as `context` keep theirs).
 */
function skippedKeyIssues(schema: v.GenericSchema, input: unknown, path: string): ErrorIssue[] {
  let node = schema as v.GenericSchema & { wrapped?: v.GenericSchema; entries?: Record<string, v.GenericSchema> };
  while (node.wrapped && (node.type === "optional" || node.type === "nullable" || node.type === "nullish" || node.type === "exact_optional")) {
    node = node.wrapped as typeof node;
  }
  if (node.type !== "strict_object" || !node.entries || typeof input !== "object" || input === null || Array.isArray(input)) return [];
  const entries = node.entries;
  const issues: ErrorIssue[] = [];
  for (const key of SKIPPED_KEYS) {
    if (Object.hasOwn(input, key) && !Object.hasOwn(entries, key)) {
      issues.push({ path: path ? `${path}.${key}` : key, message: `unknown field ${JSON.stringify(key)}${path ? ` in ${path}` : ""}` });
    }
  }
  for (const [key, entry] of Object.entries(entries)) {
    if (Object.hasOwn(input, key)) issues.push(...skippedKeyIssues(entry, (input as Record<string, unknown>)[key], path ? `${path}.${key}` : key));
  }
  return issues;
}

/** Reads a JSON body with a byte cap, telling malformed JSON apart from schema failures. */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  checkJsonContentType(request.headers.get("content-type"));
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ServiceError(ErrorCode.PAYLOAD_TOO_LARGE, `Request body is ${declared} bytes; the limit is ${maxBytes} bytes`);
  }
  // Chunked bodies have no length up front: the cap holds while reading.
  const bytes = await readCappedRequestBody(
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
