import * as v from "valibot";
import { ErrorCode } from "../worker/errors";
import { LANGUAGES } from "./execute";

// Response shapes the handlers build themselves (GET /health, GET /languages, request-level error bodies). The
// handlers are typed with these, so the OpenAPI document generated from them cannot drift from what is sent.

export const ErrorBodySchema = v.pipe(
  v.object({
    error: v.object({
      code: v.picklist(Object.values(ErrorCode)),
      message: v.string(),
      issues: v.optional(v.array(v.object({ path: v.string(), message: v.string() }))),
    }),
  }),
  v.description("Request-level failure. Failures of the submitted code are not errors here: they are a 200 with success: false."),
);
export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;

export const HealthResponseSchema = v.object({ status: v.literal("ok"), service: v.string(), time: v.pipe(v.string(), v.isoTimestamp()) });
export type HealthResponse = v.InferOutput<typeof HealthResponseSchema>;

export const LanguagesResponseSchema = v.object({
  languages: v.array(
    v.object({
      id: v.picklist(LANGUAGES),
      name: v.string(),
      status: v.string(),
      notes: v.string(),
      extensions: v.array(v.string()),
    }),
  ),
  default: v.picklist(LANGUAGES),
});
export type LanguagesResponse = v.InferOutput<typeof LanguagesResponseSchema>;

export const PackagesResponseSchema = v.object({
  packages: v.array(
    v.object({
      name: v.pipe(v.string(), v.description("What `import ... from \"<name>\"` names")),
      version: v.pipe(v.string(), v.description("Exact version, installed from npm at build time (package-lock.json)")),
      why: v.string(),
    }),
  ),
  instrumented: v.pipe(v.boolean(), v.description("Whether package code runs under the same timeout guard as the program")),
  configuredIn: v.pipe(v.string(), v.description("Where the operator chooses the set")),
});
export type PackagesResponse = v.InferOutput<typeof PackagesResponseSchema>;
