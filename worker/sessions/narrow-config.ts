import type { ExecuteConfig } from "../../schemas/execute";
import type { SessionExecuteRequest } from "../../schemas/session";

/**
 * A cell's config over its session's: each field given may only narrow the session's (a shorter timeout, a
 * subset of the APIs, domains the session's list already allows); fields not given are the session's.
 */
export function narrowConfig(
  session: ExecuteConfig,
  cell: SessionExecuteRequest["config"],
): { ok: true; config: ExecuteConfig } | { ok: false; message: string } {
  if (cell.timeout !== undefined && cell.timeout > session.timeout) {
    return { ok: false, message: `config.timeout may not exceed the session's timeout of ${session.timeout} ms` };
  }
  const extraApi = cell.allowedAPIs?.find((api) => !session.allowedAPIs.includes(api));
  if (extraApi !== undefined) {
    return { ok: false, message: `config.allowedAPIs may not add ${JSON.stringify(extraApi)}: the session allows ${session.allowedAPIs.join(", ") || "none"}` };
  }
  const extraDomain = cell.allowedDomains?.find((domain) => !domainAllowed(domain, session.allowedDomains));
  if (extraDomain !== undefined) {
    return { ok: false, message: `config.allowedDomains may not add ${JSON.stringify(extraDomain)}: it is not within the session's allowedDomains` };
  }
  return {
    ok: true,
    config: {
      timeout: cell.timeout ?? session.timeout,
      allowedAPIs: cell.allowedAPIs ?? session.allowedAPIs,
      allowedDomains: cell.allowedDomains ?? session.allowedDomains,
    },
  };
}

/** An exact entry of the session's, or a host (or narrower wildcard) under one of its `*.` wildcards. */
function domainAllowed(domain: string, allowed: readonly string[]): boolean {
  const bare = domain.replace(/\.$/, "");
  return allowed.some((entry) => {
    const pattern = entry.replace(/\.$/, "");
    if (pattern === bare) return true;
    if (!pattern.startsWith("*.")) return false;
    const host = bare.startsWith("*.") ? bare.slice(2) : bare;
    return host.endsWith(pattern.slice(1));
  });
}
