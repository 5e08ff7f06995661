import * as v from "valibot";
import { DEFAULT_TIMEOUT_MS, MAX_CODE_BYTES, MAX_CONTEXT_BYTES, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS } from "./limits";
import { DEFAULT_ENTRY, FilesSchema, entryProblem } from "./files";
import { isPlainObject } from "./plain-object";

export const LANGUAGES = ["javascript", "typescript", "python"] as const;
export const LanguageSchema = v.picklist(LANGUAGES, `language must be one of: ${LANGUAGES.join(", ")}`);
export type Language = v.InferOutput<typeof LanguageSchema>;

export const CAPABILITIES = ["ai", "api", "db", "console"] as const;
export const CapabilitySchema = v.picklist(CAPABILITIES, `allowedAPIs entries must be among: ${CAPABILITIES.join(", ")}`);
export type Capability = v.InferOutput<typeof CapabilitySchema>;

export const CodeSchema = v.pipe(
  v.string("code must be a string"),
  v.nonEmpty("code must not be empty"),
  v.maxBytes(MAX_CODE_BYTES, `code must be at most ${MAX_CODE_BYTES} bytes (UTF-8)`),
  v.description(
    "JavaScript or TypeScript source runs as the body of an async function: top-level `return` and `await` work. Python source runs as a module body: the final expression is the result; top-level `await` works.",
  ),
);

/** A hostname pattern: an exact host or `*.` followed by a domain (matches subdomains at a dot boundary). */
export const DomainPatternSchema = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.maxLength(253),
  v.regex(/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/, "allowedDomains entries must be hostnames or *.domain wildcards"),
);

export const ExecuteConfigSchema = v.strictObject({
  timeout: v.optional(
    v.pipe(
      v.number("config.timeout must be a number of milliseconds"),
      v.integer("config.timeout must be a whole number of milliseconds"),
      v.minValue(MIN_TIMEOUT_MS, `config.timeout must be at least ${MIN_TIMEOUT_MS} ms`),
      v.maxValue(MAX_TIMEOUT_MS, `config.timeout must be at most ${MAX_TIMEOUT_MS} ms`),
      v.description("Wall-clock limit in milliseconds for the whole execution."),
    ),
    DEFAULT_TIMEOUT_MS,
  ),
  allowedAPIs: v.optional(
    v.pipe(v.array(CapabilitySchema), v.maxLength(CAPABILITIES.length * 2), v.description("Runtime APIs the code may use.")),
    () => [...CAPABILITIES],
  ),
  allowedDomains: v.optional(
    v.pipe(v.array(DomainPatternSchema), v.maxLength(100), v.description("Hosts api() may reach; empty denies all.")),
    () => [],
  ),
});
export type ExecuteConfig = v.InferOutput<typeof ExecuteConfigSchema>;

/**
 * `context`'s own type check, which validates the value in place and passes it on unchanged. Not `v.record` or
 * `v.object`: valibot builds their output by assigning each key to a fresh `{}` and skips `__proto__`,
 * `constructor` and `prototype`, so those keys vanished silently (JSON.parse and structured clone keep them as own
 * data properties, and so does the JSON the sandbox receives). `v.record` also took an array (`[1]` became
 * `{ "0": 1 }`). The OpenAPI document describes it as `{ "type": "object" }` (worker/http/openapi.ts).
 */
export const ContextObjectSchema = v.custom<Record<string, unknown>>(isPlainObject, "context must be a JSON object (not an array or null)");

export const ContextSchema = v.pipe(
  ContextObjectSchema,
  v.check(
    (context) => new TextEncoder().encode(JSON.stringify(context)).byteLength <= MAX_CONTEXT_BYTES,
    `context must be at most ${MAX_CONTEXT_BYTES} bytes as JSON`,
  ),
  v.description("Made available to the code as `context` (a deep copy)."),
);

const EntrySchema = v.pipe(
  v.string("entry must be a string"),
  v.description(`The file that runs as the async function body (default: ${Object.values(DEFAULT_ENTRY).join(" / ")} by language). The other files are ES modules it imports.`),
);

interface SourceFields {
  code?: string;
  files?: Record<string, string>;
  entry?: string;
  language: Language;
}

/** `code` or `files` (with `entry`), exactly one of the two; the entry must be among the files. */
const sourceCheck = <T extends SourceFields>() =>
  v.check<T, (issue: v.CheckIssue<T>) => string>(
    (request) => sourceProblem(request) === undefined,
    (issue) => sourceProblem(issue.input) ?? "invalid source",
  );

function sourceProblem(request: SourceFields): string | undefined {
  if (request.code !== undefined && request.files !== undefined) return "give either code or files, not both";
  if (request.code === undefined && request.files === undefined) return "code (or files) is required";
  if (request.code !== undefined && request.entry !== undefined) return "entry goes with files, not with code";
  if (request.files !== undefined && request.language === "python") return "files (a multi-file program) is for JavaScript and TypeScript; send Python as code";
  return request.files ? entryProblem(request.files, request.entry, request.language) : undefined;
}

export const ExecuteRequestSchema = v.pipe(
  v.strictObject({
    code: v.optional(CodeSchema),
    files: v.optional(FilesSchema),
    entry: v.optional(EntrySchema),
    language: v.optional(LanguageSchema, "javascript"),
    context: v.optional(ContextSchema, () => ({})),
    config: v.optional(ExecuteConfigSchema, () => v.parse(ExecuteConfigSchema, {})),
  }),
  sourceCheck(),
);
export type ExecuteRequest = v.InferOutput<typeof ExecuteRequestSchema>;
export type ExecuteRequestInput = v.InferInput<typeof ExecuteRequestSchema>;

export const ValidateRequestSchema = v.pipe(
  v.strictObject({
    code: v.optional(CodeSchema),
    files: v.optional(FilesSchema),
    entry: v.optional(EntrySchema),
    language: v.optional(LanguageSchema, "javascript"),
  }),
  sourceCheck(),
);
export type ValidateRequest = v.InferOutput<typeof ValidateRequestSchema>;
