// Secrets live outside wrangler.jsonc, so `wrangler types` cannot see them.
interface Env {
  /** Optional `name:key` pairs; see worker/http/auth.ts and README.md "Execution history". */
  API_KEYS?: string;
}
declare namespace Cloudflare {
  interface Env {
    API_KEYS?: string;
  }
}
