import { WorkerEntrypoint } from "cloudflare:workers";
import { liveExecution } from "../execution/execution-events";
import type { CapabilityProps } from "./capability-call";
import type { Reply } from "./reply";

// The log channel's front end: the sandbox's LOGS stub (worker/capabilities/child-env.ts), called by
// sandbox-template/log-channel.js with batches of the entries its console accepted. Keep in sync with it.
// A capability stub like AI, API and DB, so it reaches the front the same way wherever the child runs.

export type LogsProps = Pick<CapabilityProps, "executionId">;

/**
 * `held: false`: no execution of that id runs in this isolate (it ended, or the call reached another isolate), or
 * it has had its MAX_LOG_FLUSHES batches; the child sends no more and its reply carries the entries. `cancelled`: the child ends the run.
 */
export interface AppendAnswer {
  held: boolean;
  cancelled: boolean;
}

export class LogsCapability extends WorkerEntrypoint<Env, LogsProps> {
  /**
   * Takes entries `firstSeq`, `firstSeq + 1`, … of the child's log buffer. Both arguments are hostile: the
   * execution's event hub checks the numbers, parses every entry and enforces the log caps again.
   */
  async append(firstSeq: unknown, entries: unknown): Promise<Reply<AppendAnswer>> {
    const executionId = this.ctx.props?.executionId;
    if (typeof executionId !== "string") return { ok: false, error: { code: "INTERNAL_ERROR", message: "logs: this capability has no policy" } };
    const events = liveExecution(executionId);
    if (!events) return { ok: true, value: { held: false, cancelled: false } };
    return { ok: true, value: { held: events.acceptBatch(firstSeq, entries), cancelled: events.cancelled } };
  }
}
