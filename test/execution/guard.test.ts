import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GUARD_STEPS_PER_MS } from "../../schemas/limits";
import { SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "../../worker/execution/sandbox-modules";

// Production freezes Date.now() while synchronous code runs; this loads the real harness into a real isolate with
// a user module that freezes the clock before the harness reads it, to show the step count stops the loop anyway.
function loadWithUserModule(userModule: string) {
  const worker = env.LOADER.load({
    compatibilityDate: "2026-08-01",
    mainModule: SANDBOX_MAIN_MODULE,
    modules: { ...SANDBOX_MODULES, [USER_MODULE_NAME]: userModule },
    env: {},
    globalOutbound: null,
  });
  const entrypoint = worker.getEntrypoint() as unknown as { run(input: unknown): Promise<string> };
  // run() answers the reply as JSON text (worker/execution/child-protocol.ts).
  return { run: async (input: unknown) => JSON.parse(await entrypoint.run(input)) as { status: string } };
}

describe("the guard", () => {
  it("stops a loop by counting checks when the clock is frozen, as in production", async () => {
    // The harness takes its own clock before user.js is evaluated (primordials.js), and Date.now() at module
    // scope is not the time of the run; so the clock freezes at its first call, when the guard is created.
    const harness = loadWithUserModule(`
      const realNow = Date.now;
      let frozen;
      Date.now = () => (frozen ??= realNow());
      export default (guard) => async () => { for (;;) guard(); };
    `);
    const startedAt = Date.now();
    const reply = await harness.run({ contextJson: "{}", timeoutMs: 300, stepsPerMs: GUARD_STEPS_PER_MS });
    expect(reply.status).toBe("timeout");
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it("keeps throwing once tripped, whatever the code catches", async () => {
    const harness = loadWithUserModule(`
      export default (guard) => async () => {
        let caught = 0;
        for (;;) { try { for (;;) guard(); } catch { caught++; if (caught > 5) return "escaped"; } }
      };
    `);
    const reply = await harness.run({ contextJson: "{}", timeoutMs: 200, stepsPerMs: GUARD_STEPS_PER_MS });
    expect(reply.status).toBe("timeout");
  });
});
