import * as v from "valibot";
import { LogEntrySchema } from "../../schemas/result";
import { MAX_LOG_ENTRIES } from "../../schemas/limits";

// What the sandbox harness answers from run(). Keep in sync with sandbox-template/harness.js.
// The child is untrusted, so its reply is parsed like any other input.

export interface ChildRunInput {
  contextJson: string;
  timeoutMs: number;
  /** Guard checks per ms the harness allows while the clock stands still (production freezes it in sync code). */
  stepsPerMs: number;
  /** False when config.allowedAPIs leaves out "console": the harness then discards console output. */
  captureLogs: boolean;
}

export const ChildReplySchema = v.object({
  status: v.picklist(["success", "error", "timeout", "cancelled"]),
  logs: v.pipe(v.array(LogEntrySchema), v.maxLength(MAX_LOG_ENTRIES + 1)),
  resultJson: v.optional(v.string()),
  resultTruncated: v.optional(v.literal(true)),
  error: v.optional(
    v.object({
      name: v.pipe(v.string(), v.maxLength(200)),
      /** Set for CapabilityError: the capability's error code, e.g. CAPABILITY_DENIED. */
      code: v.optional(v.pipe(v.string(), v.maxLength(64))),
      message: v.pipe(v.string(), v.maxLength(64 * 1024)),
      stack: v.optional(v.pipe(v.string(), v.maxLength(64 * 1024))),
    }),
  ),
});
export type ChildReply = v.InferOutput<typeof ChildReplySchema>;

/** The harness entrypoint as the parent sees it over RPC. */
export interface HarnessEntrypoint {
  run(input: ChildRunInput): Promise<unknown>;
  /** Ends the run under way with status "cancelled" (once the code yields; the parent stops waiting regardless). */
  cancel(): Promise<unknown>;
}
