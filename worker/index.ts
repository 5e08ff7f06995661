import { router } from "./http/router";

// ctx.exports only sees classes exported from this module: every entrypoint is re-exported here.
export { CodeExecutor } from "./rpc";

export default {
  fetch: (request, env, ctx) => router.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
