import page from "./playground.html";

// The page at `/`: one self-contained HTML file (wrangler's default Text rule bundles *.html as a string), so the
// playground works offline and needs no build step beyond wrangler's. Its one inline script is allowed by hash,
// so nothing else can run on a page that holds an API key.

const INLINE_SCRIPT = /<script type="module">([\s\S]*?)<\/script>/;

let policy: Promise<string> | undefined;

async function contentSecurityPolicy(): Promise<string> {
  const script = INLINE_SCRIPT.exec(page)?.[1] ?? "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script)));
  const hash = btoa(String.fromCharCode(...digest));
  return [
    "default-src 'none'",
    `script-src 'sha256-${hash}'`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export async function handlePlayground(): Promise<Response> {
  // Computed on first use: crypto.subtle is not available while the module is being loaded.
  policy ??= contentSecurityPolicy();
  return new Response(page, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": await policy,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    },
  });
}
