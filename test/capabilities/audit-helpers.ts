import { env } from "cloudflare:workers";
import type { CapabilityCall } from "../../schemas/audit";
import { listCapabilityCalls } from "../../worker/history/capability-calls";

/** Audit rows are written after the call answers (waitUntil), so a test polls briefly for them. */
export async function waitForCalls(executionId: string, count: number, timeoutMs = 3_000): Promise<CapabilityCall[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const calls = await listCapabilityCalls(env.EXECUTIONS_DB, executionId);
    if (calls.length >= count || Date.now() > until) return calls;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
