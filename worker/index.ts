import { env } from "cloudflare:workers";
import { errorResponse } from "./errors";
import { announceAuthMode } from "./http/auth";
import { router } from "./http/router";
import { SANDBOX_CAPABILITY_PATH, handleSandboxCapability } from "./http/sandbox-capability";
import { runRetention } from "./history/retention";
import { endAfterDrain } from "./read-capped";

// ctx.exports only sees classes exported from this module: every entrypoint is re-exported here.
export { CodeExecutor } from "./rpc";
export { AiCapability } from "./capabilities/ai";
export { ApiCapability } from "./capabilities/api";
export { DbCapability } from "./capabilities/db";
export { ExecutionSession } from "./sessions/session-object";
export { LogsCapability } from "./capabilities/logs";

announceAuthMode(env);

export default {
  fetch: async (request, env, ctx) => {
    // Not a public route (not in the router, its docs or its API-key auth): sandbox hosts' capability calls,
    // authenticated by a per-execution token.
    const response = await (new URL(request.url).pathname === SANDBOX_CAPABILITY_PATH
      ? handleSandboxCapability(request, env, ctx).catch(errorResponse)
      : router.fetch(request, env, ctx));
    return endAfterDrain(request, response, ctx);
  },
  scheduled: async (controller, env) => {
    // Typed as epoch ms, but the test pool's Fetcher.scheduled() hands a Date through unchanged.
    await runRetention(env, new Date(controller.scheduledTime).getTime());
  },
} satisfies ExportedHandler<Env>;
