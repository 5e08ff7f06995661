import { LANGUAGES } from "../../schemas/execute";
import { runtimeDocs } from "../docs";

export function handleHealth(): Response {
  return Response.json({ status: "ok", service: "code-exec", time: new Date().toISOString() });
}

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
        "Transpiled with esbuild (types are erased, not checked); enums, namespaces and decorators are supported. Errors point at the TypeScript source.",
    },
  };
  return Response.json({
    languages: LANGUAGES.map((id) => ({ id, name: id === "javascript" ? "JavaScript" : "TypeScript", ...notes[id] })),
    default: "javascript",
  });
}

export function handleDocs(request: Request): Response {
  const docs = runtimeDocs();
  const accept = request.headers.get("accept") ?? "";
  if (/text\/html/i.test(accept)) {
    return new Response(renderDocsHtml(docs), { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  return Response.json(docs);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderDocsHtml(docs: ReturnType<typeof runtimeDocs>): string {
  const apis = docs.runtimeApis
    .map(
      (api) =>
        `<section><h3><code>${escapeHtml(api.signature)}</code></h3><p>${escapeHtml(api.description)}</p><pre>${escapeHtml(api.example)}</pre></section>`,
    )
    .join("");
  const limits = Object.entries(docs.limits)
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`)
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>code-exec docs</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f5;padding:.75rem;overflow:auto}td{padding:.2rem .8rem;border-bottom:1px solid #ddd}</style>
</head><body><h1>code-exec</h1><p>${escapeHtml(docs.summary)}</p><h2>Runtime APIs</h2>${apis}<h2>Limits</h2><table>${limits}</table>
<h2>JSON</h2><p>Request this page with <code>Accept: application/json</code> for the machine-readable form.</p></body></html>`;
}
