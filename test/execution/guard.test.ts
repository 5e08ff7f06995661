import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GUARD_STEPS_PER_MS } from "../../schemas/limits";
import { SANDBOX_MAIN_MODULE, SANDBOX_MODULES, USER_MODULE_NAME } from "../../worker/execution/sandbox-modules";

// Production freezes Date.now() while synchronous code runs; this loads the real harness into a real isolate with
// a user module that freezes the clock before the harness reads it, to show the step count stops the loop anyway.
// `guardPrelude` runs just before guard.js captures Date.now: guard.js is evaluated before any user module (a
// multi-file program's modules run at load, so harness.js imports user.js last), so a fake clock goes there. The
// clock reads 0 while the isolate starts (module-guard.js creates its load-time guard then): a fake clock starts
// at the first read that is not.
function loadWithUserModule(userModule: string, guardPrelude = "") {
  const worker = env.LOADER.load({
    compatibilityDate: "2026-08-01",
    mainModule: SANDBOX_MAIN_MODULE,
    modules: { ...SANDBOX_MODULES, "guard.js": guardPrelude + SANDBOX_MODULES["guard.js"], [USER_MODULE_NAME]: userModule },
    env: {},
    globalOutbound: null,
  });
  const entrypoint = worker.getEntrypoint() as unknown as { run(input: unknown): Promise<string> };
  // run() answers the reply as JSON text (worker/execution/child-protocol.ts).
  return {
    run: async (input: unknown) =>
      JSON.parse(await entrypoint.run(input)) as { status: string; logs: { message: string }[]; resultJson?: string },
  };
}

describe("the guard", () => {
  it("stops a loop by counting checks when the clock is frozen, as in production", async () => {
    // The harness takes its own clock first (primordials.js), and Date.now() at module scope is not the time of
    // the run; so the guard's clock freezes at its first call, when the guard is created.
    const harness = loadWithUserModule(
      "export default (guard) => async () => { for (;;) guard(); };",
      "const realNow = Date.now; let frozen; Date.now = () => (frozen ??= realNow() || undefined) ?? 0;\n",
    );
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

  // A fake clock that moves 1 ms per check stands for iterations that each cost a millisecond (a big join, a
  // sort): the guard must notice the deadline within a few checks of it, not at the next multiple of 1 024.
  it("reads the clock at every check while each check costs milliseconds", async () => {
    const harness = loadWithUserModule(
      `
      export default (guard) => async () => {
        let checks = 0;
        try { for (;;) { guard(); checks++; globalThis.advanceClock(1); } } finally { console.log(String(checks)); }
      };
    `,
      // Date.now() at module scope is not the time of the run; the fake clock starts at its first call.
      "const realNow = Date.now; let clock; Date.now = () => (clock ??= realNow() || undefined) ?? 0; globalThis.advanceClock = (ms) => { if (clock !== undefined) clock += ms; };\n",
    );
    const reply = await harness.run({ contextJson: "{}", timeoutMs: 300, stepsPerMs: GUARD_STEPS_PER_MS, captureLogs: true });
    expect(reply.status).toBe("timeout");
    const checks = Number(reply.logs[0]?.message);
    expect(checks).toBeGreaterThanOrEqual(299);
    expect(checks).toBeLessThan(310);
  });

  it("reads the clock only every so many checks while checks are cheap", async () => {
    const harness = loadWithUserModule(
      `
      export default (guard) => async () => {
        const before = globalThis.clockReads;
        for (let i = 0; i < 1e6; i++) guard();
        return globalThis.clockReads - before;
      };
    `,
      "const frozen = Date.now(); globalThis.clockReads = 0; Date.now = () => (globalThis.clockReads++, frozen);\n",
    );
    const reply = await harness.run({ contextJson: "{}", timeoutMs: 10_000, stepsPerMs: GUARD_STEPS_PER_MS, captureLogs: true });
    expect(reply.status).toBe("success");
    expect(Number(reply.resultJson)).toBeGreaterThan(0);
    expect(Number(reply.resultJson)).toBeLessThan(1e6 / 100);
  });
});
