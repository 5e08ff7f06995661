import * as v from "valibot";
import { ErrorCode, ServiceError } from "../errors";

// Who may reach the HTTP API from a browser, checked before routing (router.ts) so no route can forget it. Service
// binding (RPC) calls never come through here: they are not HTTP requests from a browser.
//
// - Host: DNS rebinding points an attacker's name at 127.0.0.1, so a page on that name is "same-origin" with a
//   local service and can read it. Only the service's own names (SERVICE_HOSTNAMES) and loopback names are
//   answered; any other Host gets 421.
// - Cross-origin: a page on another origin can make a browser send "simple" requests without a CORS preflight.
//   They are refused unless the origin is listed in ALLOWED_ORIGINS (empty by default), following the algorithm of
//   Go's net/http CrossOriginProtection: Sec-Fetch-Site when the browser sends it, else Origin against the
//   request's own origin. Top-level GET navigations from elsewhere (a link to the playground or /docs) still work.

/** Names a browser only sends for a page the user opened on this machine; an attacker cannot rebind them. */
const LOOPBACK_HOSTNAME = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** Request headers a cross-origin page on an allowed origin may send (answered in preflights). */
const CORS_ALLOWED_HEADERS = "authorization, content-type";
const CORS_ALLOWED_METHODS = "GET, POST";
const CORS_MAX_AGE_SECONDS = 600;

const OriginSchema = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/, "each ALLOWED_ORIGINS entry must be an origin such as https://app.example.com (scheme, host, optional port; no path, no *)"),
);

/** Hostnames without a trailing dot, lowercase: `Example.com.` and `example.com` are the same name. */
function normalizeHostname(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, "");
}

function serviceHostnames(env: Env): Set<string> {
  return new Set(
    (env.SERVICE_HOSTNAMES ?? "")
      .split(",")
      .map((host) => normalizeHostname(host.trim()))
      .filter(Boolean),
  );
}

let cachedOrigins: { raw: string; origins: Set<string> } | undefined;

/** ALLOWED_ORIGINS, comma-separated. Malformed fails closed with a logged reason, like API_KEYS. */
export function allowedOrigins(env: Env): Set<string> {
  const raw = env.ALLOWED_ORIGINS ?? "";
  if (cachedOrigins?.raw === raw) return cachedOrigins.origins;
  const entries = raw.split(",").filter((entry) => entry.trim() !== "");
  const parsed = v.safeParse(v.array(OriginSchema), entries);
  if (!parsed.success) {
    console.error(`ALLOWED_ORIGINS is malformed: ${parsed.issues[0].message}`);
    throw new ServiceError(ErrorCode.INTERNAL_ERROR, "Internal error");
  }
  cachedOrigins = { raw, origins: new Set(parsed.output) };
  return cachedOrigins.origins;
}

/** 421 unless the request's Host is one of the service's own names or a loopback name. */
export function checkHost(request: Request, env: Env): void {
  const hostname = normalizeHostname(new URL(request.url).hostname);
  if (LOOPBACK_HOSTNAME.test(hostname) || serviceHostnames(env).has(hostname)) return;
  throw new ServiceError(
    ErrorCode.HOST_NOT_ALLOWED,
    `Host ${JSON.stringify(hostname.slice(0, 253))} is not a name of this service; a deployment lists its own hostnames in SERVICE_HOSTNAMES (loopback names are always answered)`,
  );
}

/** The request's Origin when it is on the ALLOWED_ORIGINS list, else undefined. */
function allowedCorsOrigin(request: Request, env: Env): string | undefined {
  const origin = request.headers.get("origin")?.toLowerCase();
  return origin !== undefined && allowedOrigins(env).has(origin) ? origin : undefined;
}

function isCrossOrigin(request: Request): boolean {
  const site = request.headers.get("sec-fetch-site")?.toLowerCase();
  // The browser's own verdict, when it gives one; "none" is the user's own action (typed URL, bookmark).
  if (site !== undefined) return site !== "same-origin" && site !== "none";
  const origin = request.headers.get("origin");
  // Neither header: not a browser, or an old one on a GET without Origin, which cannot read a response anyway.
  if (origin === null) return false;
  // Host against host, not scheme: behind a TLS-terminating proxy the Worker sees http:// for an https:// page.
  return !URL.canParse(origin) || new URL(origin).host !== new URL(request.url).host;
}

/**
 * 403 for a cross-origin request from an origin not on ALLOWED_ORIGINS, whatever its method or content type, so
 * the refusal does not depend on which requests a browser preflights. The one exception is a top-level GET/HEAD
 * navigation (following a link), which shows the page to the user and hands nothing to the linking site.
 */
export function checkCrossOrigin(request: Request, env: Env): void {
  if (!isCrossOrigin(request)) return;
  if (allowedCorsOrigin(request, env) !== undefined) return;
  const navigation = request.headers.get("sec-fetch-mode")?.toLowerCase() === "navigate";
  if (navigation && (request.method === "GET" || request.method === "HEAD")) return;
  const origin = request.headers.get("origin");
  throw new ServiceError(
    ErrorCode.CROSS_ORIGIN_FORBIDDEN,
    `Cross-origin requests${origin ? ` from ${JSON.stringify(origin.slice(0, 200))}` : ""} are refused; a deployment lists the origins it trusts in ALLOWED_ORIGINS`,
  );
}

/**
 * A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method): 204 with the CORS headers for an
 * allowed origin, 403 otherwise. Other OPTIONS requests return undefined and are routed like any method.
 */
export function answerPreflight(request: Request, env: Env): Response | undefined {
  if (request.method !== "OPTIONS" || !request.headers.has("origin") || !request.headers.has("access-control-request-method")) return undefined;
  const origin = allowedCorsOrigin(request, env);
  if (origin === undefined) {
    throw new ServiceError(
      ErrorCode.CROSS_ORIGIN_FORBIDDEN,
      `Origin ${JSON.stringify((request.headers.get("origin") ?? "").slice(0, 200))} is not allowed; a deployment lists the origins it trusts in ALLOWED_ORIGINS`,
    );
  }
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": CORS_ALLOWED_METHODS,
      "access-control-allow-headers": CORS_ALLOWED_HEADERS,
      "access-control-max-age": String(CORS_MAX_AGE_SECONDS),
      vary: "Origin",
    },
  });
}

/** Every answer to an allowed origin, errors included, carries Access-Control-Allow-Origin so its page can read it. */
export function withCorsHeaders(response: Response, request: Request, env: Env): Response {
  let origin: string | undefined;
  try {
    origin = allowedCorsOrigin(request, env);
  } catch {
    // A malformed ALLOWED_ORIGINS already answered 500 before routing.
    return response;
  }
  if (origin === undefined || response.headers.has("access-control-allow-origin")) return response;
  const headers = new Headers(response.headers);
  headers.set("access-control-allow-origin", origin);
  headers.append("vary", "Origin");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
