import { LANGUAGES } from "../../schemas/execute";
import type { HealthResponse, LanguagesResponse, PackagesResponse } from "../../schemas/meta";
import { PACKAGE_SET, PACKAGE_SET_FILE, PACKAGES_INSTRUMENTED } from "../execution/package-set";
import { renderDocsHtml, runtimeDocs } from "../docs";

export function handleHealth(): Response {
  const body: HealthResponse = { status: "ok", service: "code-exec", time: new Date().toISOString() };
  return Response.json(body);
}

const LANGUAGE_NAMES: Record<(typeof LANGUAGES)[number], string> = { javascript: "JavaScript", typescript: "TypeScript", python: "Python" };

export function handleLanguages(): Response {
  const notes: Record<(typeof LANGUAGES)[number], { status: string; notes: string; extensions: string[] }> = {
    javascript: {
      status: "stable",
      extensions: [".js", ".mjs"],
      notes: "Modern JavaScript (latest ECMAScript) in a strict-mode async function body on V8 (workerd). No transpiling.",
    },
    typescript: {
      status: "stable",
      extensions: [".ts"],
      notes:
        "Types are erased, not checked: erasable syntax is blanked in place (verified against the erased syntax tree), everything else (enums, namespaces, parameter properties) goes through esbuild. Decorators are passed through and rejected, as V8 does not run them yet. Errors point at the TypeScript source.",
    },
    python: {
      status: "beta",
      extensions: [".py"],
      notes:
        "CPython 3.14 (Pyodide 314.0.8, WebAssembly) in the same kind of fresh isolate, started from a memory snapshot. The code is a module body: the value of a final expression is the result (no top-level return); top-level await works. `context` is a dict; ai(), api(), db() are awaitable and raise CapabilityError with .code. print() and logging go to logs. The standard library Pyodide ships works offline; third-party packages are not available.",
    },
  };
  const body: LanguagesResponse = {
    languages: LANGUAGES.map((id) => ({ id, name: LANGUAGE_NAMES[id], ...notes[id] })),
    default: "javascript",
  };
  return Response.json(body);
}

/** The operator's package set: what `import ... from "<name>"` may name. */
export function handlePackages(): Response {
  const body: PackagesResponse = { packages: [...PACKAGE_SET], instrumented: PACKAGES_INSTRUMENTED, configuredIn: PACKAGE_SET_FILE };
  return Response.json(body);
}

export function handleDocs(request: Request): Response {
  const docs = runtimeDocs();
  const accept = request.headers.get("accept") ?? "";
  // ?format=json lets a browser see the JSON form (its Accept header always asks for HTML).
  if (/text\/html/i.test(accept) && new URL(request.url).searchParams.get("format") !== "json") {
    const page = renderDocsHtml(docs, new URL(request.url).origin);
    return new Response(page, { headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:" } });
  }
  return Response.json(docs);
}
