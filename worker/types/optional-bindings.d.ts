// Bindings a deployment may add that wrangler.jsonc deliberately does not declare, so `wrangler types` cannot
// know them: each is optional and every use checks for it.
interface Env {
  /** Workers AI. Not in wrangler.jsonc: the binding needs a Cloudflare login and breaks offline `wrangler dev`. */
  AI?: { run(model: string, input: Record<string, unknown>): Promise<unknown> };
  /** A deployment's own data service for db(), used instead of the embedded DATA_DB when bound. */
  DB?: import("../capabilities/db").DbService;
  /**
   * The sandbox plane as a service binding (the self-hosted front's config, scripts/self-host.mjs): its requests
   * then leave through this binding instead of the front's own outbound network, which can so allow public
   * addresses only. SANDBOX_PLANE_URL still chooses the plane.
   */
  SANDBOX_PLANE?: Fetcher;
  /**
   * Where ai()'s calls to AI_BASE_URL go when bound (the self-hosted config: a network that also allows private
   * and local addresses, since the operator, not the caller, chose AI_BASE_URL, typically a model server nearby).
   */
  AI_OUTBOUND?: Fetcher;
  /** Secret (`wrangler secret put AI_API_KEY` or .dev.vars): bearer token for the OpenAI-compatible endpoint. */
  AI_API_KEY?: string;
}

interface Env {
  /** Local-only workaround (worker/history/write-slots.ts): the dev scripts pass it with --var; deployments leave it unset. */
  HISTORY_WRITES_IN_FLIGHT?: string;
  /** SSE heartbeat interval in ms (worker/http/stream.ts); unset = 15 s. Tests and local scripts shorten it. */
  STREAM_HEARTBEAT_MS?: string;
}
