import { WorkerEntrypoint } from "cloudflare:workers";
import { liveExecution } from "../execution/execution-events";
import type { CapabilityProps } from "./capability-call";

// The log channel's front end: the sandbox's LOGS stub (worker/capabilities/child-env.ts), called by
// sandbox-template/log-channel.js with batches of the entries its console accepted. Keep in sync with it.
// A capability stub like AI, API and DB, so it reaches the front the same way wherever the child runs.

export type LogsProps = Pick<CapabilityProps, "executionId">;

/**
 * A string, so that the child receives it without resolving a promise with an object (which would look up
 * Object.prototype.then in its realm). "refused": no execution of that id runs in this isolate (it ended, or the
 * call reached another isolate), or the batch is not acceptable; the child sends no more and its reply carries
 * the entries. "cancelled": taken, and the run is cancelled, so the child ends it.
 */
export type AppendAnswer = "held" | "cancelled" | "refused";

export class LogsCapability extends WorkerEntrypoint<Env, LogsProps> {
  /**
   * Takes entries `firstSeq`, `firstSeq + 1`, … of the child's log, as the JSON text of an array. Both arguments
   * are hostile: the execution's event hub checks the numbers, parses every entry and enforces the log caps again.
   */
  async append(firstSeq: unknown, entriesJson: unknown): Promise<AppendAnswer> {
    // Only buildChildEnv creates this stub, always with props; a stub made any other way gets nothing.
    const executionId = this.ctx.props?.executionId;
    if (typeof executionId !== "string") return "refused";
    const events = liveExecution(executionId);
    if (!events || !events.acceptBatch(firstSeq, entriesJson)) return "refused";
    return events.cancelled ? "cancelled" : "held";
  }
}
