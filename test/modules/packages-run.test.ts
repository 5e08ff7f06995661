import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { packageBundle, PACKAGE_SET } from "../../worker/execution/package-set";
import { programSource } from "../../worker/execution/program";
import { InProcessSandboxHost } from "../../worker/execution/sandbox";
import { languageRuntime } from "../../worker/languages";

// Each bundle of the default set, loaded into a real sandbox isolate on its own and exercised once, so a package
// that needs something the sandbox lacks (a Node built-in, a global) fails here and not in someone's program.

const host = new InProcessSandboxHost((env as unknown as Env).LOADER, () => ({}));
const capabilities = { executionId: "packages-run", config: { timeout: 5_000, allowedAPIs: [], allowedDomains: [] }, deadlineAt: Date.now() + 60_000 };

const exercise: Record<string, string> = {
  zod: "return p.z.object({ a: p.z.number() }).parse({ a: 1 }).a",
  "lodash-es": "return p.chunk([1, 2, 3], 2).length + p.default.sum([1, 2])",
  "date-fns": "return p.format(p.addDays(new Date(0), 1), 'yyyy-MM-dd')",
  nanoid: "return p.nanoid().length",
  yaml: "return p.parse('a: [1, 2]').a.length + p.stringify({ b: 1 }).length",
  papaparse: "return p.default.parse('a,b\\n1,2', { header: true }).data[0].b",
};

const expected: Record<string, unknown> = { zod: 1, "lodash-es": 5, "date-fns": "1970-01-02", nanoid: 21, yaml: 7, papaparse: "2" };

describe("the default package set in the sandbox", () => {
  it.each(PACKAGE_SET.map((p) => p.name))("%s loads and runs in an isolate without Node built-ins", async (name) => {
    const code = packageBundle(name);
    expect(code).toBeTypeOf("string");
    const source = programSource({ code: `import * as p from "${name}";\n${exercise[name]}`, language: "javascript" });
    const prepared = await languageRuntime("javascript").prepare(source, env as unknown as Env);
    if (!prepared.ok) throw new Error(JSON.stringify(prepared.issues));
    const outcome = await host.run({
      program: prepared.program,
      capabilities,
      contextJson: "{}",
      timeoutMs: 5_000,
      captureLogs: true,
    });
    expect(outcome).toMatchObject({ kind: "reply", reply: { status: "success", resultJson: JSON.stringify(expected[name]) } });
  });
});
