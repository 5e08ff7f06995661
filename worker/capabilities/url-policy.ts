import ipaddr from "ipaddr.js";
import { CapabilityFailure } from "./reply";

// Where api() may go. Every decision is made on the WHATWG-parsed URL (`new URL`), never on the raw string: the
// parser has already resolved userinfo, percent-encoded host characters, case, and decimal/octal/hex IPv4
// notations to the host the request would really reach.

export interface UrlPolicy {
  /** Exact hostnames and `*.example.com` wildcards (subdomains at a dot boundary, not the apex). Empty denies all. */
  allowedDomains: readonly string[];
  /** The service's own hostnames (deployment config): never reachable, so sandboxed code cannot call back in. */
  serviceHostnames: readonly string[];
}

/** Names that only ever mean "this machine" or a private network, whatever DNS says. */
const INTERNAL_SUFFIXES = ["localhost", "local", "localdomain", "internal", "intranet", "lan", "home.arpa", "arpa"];

/** The URL api() will fetch (normalised: no trailing dot on the host), or a CapabilityFailure saying why not. */
export function checkUrl(raw: string, policy: UrlPolicy): URL {
  if (!URL.canParse(raw)) throw new CapabilityFailure("INVALID_ARGUMENT", "url must be an absolute URL");
  const url = new URL(raw);
  if (url.protocol !== "https:") throw refused(`scheme ${url.protocol} is not allowed; only https is`);
  // Userinfo is how `https://allowed.com@evil.com` hides the real host; refusing it outright is clearer than
  // relying on everyone reading the parser's answer correctly.
  if (url.username !== "" || url.password !== "") throw refused("URLs with credentials (user:pass@) are not allowed");
  // The parser drops the default port, so any port left is a non-default one.
  if (url.port !== "") throw refused(`port ${url.port} is not allowed; only the default https port is`);

  const host = url.hostname.endsWith(".") ? url.hostname.slice(0, -1) : url.hostname;
  if (host === "") throw refused("the URL has no host");
  const ip = ipLiteral(host);
  if (ip) throw refused(`IP address hosts are not allowed (${ip})`);
  if (!host.includes(".")) throw refused(`single-label host ${host} is not allowed`);
  if (INTERNAL_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`))) {
    throw refused(`internal host ${host} is not allowed`);
  }
  if (policy.serviceHostnames.some((own) => own.toLowerCase() === host)) {
    throw refused(`${host} is this service's own host`);
  }
  if (!policy.allowedDomains.some((pattern) => matchesDomain(host, pattern))) {
    throw new CapabilityFailure("DOMAIN_NOT_ALLOWED", `host ${host} is not in config.allowedDomains`);
  }
  url.hostname = host;
  return url;
}

export function matchesDomain(host: string, pattern: string): boolean {
  const normalized = pattern.toLowerCase().replace(/\.$/, "");
  if (normalized.startsWith("*.")) return host.endsWith(normalized.slice(1));
  return host === normalized;
}

/** Describes the host if it is an IP literal in any form the parser leaves (dotted IPv4, bracketed IPv6). */
function ipLiteral(host: string): string | undefined {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (ipaddr.isValid(bare)) {
    const address = ipaddr.parse(bare);
    return `${bare} is ${address.range()}`;
  }
  // Whatever ipaddr.js does not know as an address but the parser treats as one is refused all the same.
  if (/^[\d.]+$/.test(bare) || bare.includes(":")) return `${bare}`;
  return undefined;
}

function refused(message: string): CapabilityFailure {
  return new CapabilityFailure("URL_NOT_ALLOWED", message);
}

/** For the audit trail and error messages: no query string, fragment or credentials. */
export function describeUrl(raw: string): string {
  if (!URL.canParse(raw)) return "(invalid URL)";
  const url = new URL(raw);
  return `${url.protocol}//${url.host}${url.pathname}`;
}
