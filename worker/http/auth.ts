import * as v from "valibot";
import { ErrorCode, ServiceError } from "../errors";
import type { Caller } from "../execution/pipeline";
import type { Viewer } from "../history/executions-store";

/** Endpoints anyone may call, keys configured or not: liveness and the self-description of the service. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/", "/health", "/languages", "/packages", "/docs", "/openapi.json"]);

/** Shorter keys are refused at startup: a guessable key is worse than an obviously open service. */
export const MIN_API_KEY_CHARS = 16;

const ApiKeyEntrySchema = v.pipe(
  v.string(),
  v.trim(),
  v.regex(
    new RegExp(`^[A-Za-z0-9_.-]{1,64}:[^\\s,]{${MIN_API_KEY_CHARS},}$`),
    `each API_KEYS entry must be name:key (name of letters, digits, _ . -; key of at least ${MIN_API_KEY_CHARS} characters)`,
  ),
  v.transform((entry) => {
    const colon = entry.indexOf(":");
    return { name: entry.slice(0, colon), key: entry.slice(colon + 1) };
  }),
);

/** API_KEYS: `name:key` pairs separated by commas or newlines. Names must be unique: they are the identity. */
const ApiKeysSchema = v.pipe(
  v.array(ApiKeyEntrySchema),
  v.check((entries) => new Set(entries.map((e) => e.name)).size === entries.length, "API_KEYS names must be unique"),
  v.check((entries) => new Set(entries.map((e) => e.key)).size === entries.length, "API_KEYS keys must be unique"),
);

interface KeyTable {
  names: string[];
  /** SHA-256 of each key: compared in constant time against the hash of the presented token. */
  digests: ArrayBuffer[];
}

export interface Authenticated {
  caller: Caller;
  viewer: Viewer;
}

/** Parsed once per isolate per API_KEYS value; undefined means auth is off. */
let cached: { raw: string; table: Promise<KeyTable | undefined> } | undefined;

function keyTable(raw: string | undefined): Promise<KeyTable | undefined> {
  const value = raw ?? "";
  if (cached?.raw !== value) cached = { raw: value, table: buildKeyTable(value) };
  return cached.table;
}

async function buildKeyTable(raw: string): Promise<KeyTable | undefined> {
  const entries = raw.split(/[,\n]/).filter((entry) => entry.trim() !== "");
  if (entries.length === 0) return undefined;
  const parsed = v.safeParse(ApiKeysSchema, entries);
  if (!parsed.success) {
    // Fail closed and keep the value out of the message: a typo must not open the service or leak a key.
    throw new ServiceError(ErrorCode.INTERNAL_ERROR, `API_KEYS is malformed: ${parsed.issues[0].message}`);
  }
  return {
    names: parsed.output.map((entry) => entry.name),
    digests: await Promise.all(parsed.output.map((entry) => sha256(entry.key))),
  };
}

export function authEnabled(env: Env): boolean {
  return (env.API_KEYS ?? "").trim() !== "";
}

/** Said once per isolate, at startup: an open service should never be a surprise in the logs. */
export function announceAuthMode(env: Env): void {
  if (!authEnabled(env)) {
    console.warn("code-exec: no API_KEYS configured; every endpoint is open and all callers share one history (anonymous)");
  }
}

/**
 * Who is calling over HTTP. With no keys configured everyone is "anonymous" and sees all history; with keys, a
 * valid `Authorization: Bearer <key>` is required and the caller is the key's name and sees only its own rows.
 */
export async function authenticate(request: Request, env: Env): Promise<Authenticated> {
  let table: KeyTable | undefined;
  try {
    table = await keyTable(env.API_KEYS);
  } catch (error) {
    console.error("auth:", error instanceof Error ? error.message : error);
    throw new ServiceError(ErrorCode.INTERNAL_ERROR, "Internal error");
  }
  if (!table) return { caller: { kind: "http", identity: "anonymous" }, viewer: { sees: "all" } };

  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(request.headers.get("authorization") ?? "");
  if (!match?.[1]) throw new ServiceError(ErrorCode.UNAUTHORIZED, "This endpoint needs an Authorization: Bearer <API key> header");
  const presented = await sha256(match[1]);
  let name: string | undefined;
  // Every key is compared, so the time taken does not reveal which (if any) came close.
  table.digests.forEach((digest, index) => {
    if (crypto.subtle.timingSafeEqual(digest, presented)) name = table.names[index];
  });
  if (name === undefined) throw new ServiceError(ErrorCode.UNAUTHORIZED, "The API key is not valid");
  return { caller: { kind: "http", identity: name }, viewer: { sees: "own", identity: name } };
}

function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
