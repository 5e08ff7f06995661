import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { InProcessSandboxHost } from "../../worker/execution/sandbox";
import { execute } from "../helpers";

// The child isolate failing while it loads: a module that throws at evaluation or does not compile. The validator
// lets neither through from callers (it parses exactly what runs and rejects import/export), so these cases hand
// the real LOADER such a user module directly, the way a validator gap would. The parent must get a clean
// outcome, not a rejection it cannot handle, and the next isolate must load normally.

const loader = (env as unknown as Env).LOADER;
// No capability is allowed, so the child's env is empty whatever the policy says.
const host = new InProcessSandboxHost(loader, () => ({}));
const capabilities = { executionId: "child-load", config: { timeout: 1_000, allowedAPIs: [], allowedDomains: [] }, deadlineAt: Date.now() + 60_000 };
const run = (moduleCode: string) => host.run({ moduleCode, capabilities, contextJson: "{}", timeoutMs: 1_000, captureLogs: true });
const healthy = "export default function (guard) { return async function (context) { return 'loaded'; }; }";

describe("a child isolate failing at load", () => {
  it("reports a module that throws at evaluation as a failed run", async () => {
    const outcome = await run("throw new Error('boom at load');\nexport default () => async () => 1;");
    expect(outcome).toMatchObject({ kind: "failed", message: expect.stringContaining("boom at load") });
    expect(await run(healthy)).toMatchObject({ kind: "reply", reply: { status: "success", resultJson: '"loaded"' } });
  });

  it("reports a module that does not compile as a failed run naming the syntax error", async () => {
    const outcome = await run("export default function (guard) { return async function (context) { return ) }; }");
    // workerd reports the compile failure as a plain Error whose message carries V8's SyntaxError.
    expect(outcome).toMatchObject({ kind: "failed", message: expect.stringMatching(/SyntaxError|Unexpected token/) });
    expect(await run(healthy)).toMatchObject({ kind: "reply" });
  });

  it("reports a module without the expected export as an error reply", async () => {
    const outcome = await run("export default 42;");
    expect(outcome).toMatchObject({ kind: "reply", reply: { status: "error", error: { name: "TypeError" } } });
  });

  it("reports a module whose import is missing as a failed run", async () => {
    const outcome = await run("import missing from './nowhere.js';\nexport default missing;");
    expect(outcome.kind).toBe("failed");
  });
});

describe("user code throwing at its top level", () => {
  it("is a RUNTIME_ERROR with the position and the logs before it", async () => {
    const result = await execute({ code: "console.log('first');\nthrow new RangeError('top-level');" });
    expect(result).toMatchObject({
      success: false,
      status: "error",
      logs: [{ message: "first" }],
      error: { code: "RUNTIME_ERROR", name: "RangeError", message: "top-level", line: 2 },
    });
  });

  it("is a clean error when what is thrown is not an Error and cannot be printed", async () => {
    const result = await execute({ code: "throw { toString() { throw new Error('no') }, get message() { throw new Error('no') } }" });
    expect(result).toMatchObject({ success: false, status: "error", error: { code: "RUNTIME_ERROR" } });
  });
});
