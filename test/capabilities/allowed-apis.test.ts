import { describe, expect, it } from "vitest";
import { execute, rpc } from "../helpers";

const PROBE = `
const outcome = {}
for (const [name, call] of [['api', () => api('https://api.example.com/text')], ['ai', () => ai('@cf/meta/llama-3.1-8b-instruct', { prompt: 'Hi' })]]) {
  try { await call(); outcome[name] = 'ran' } catch (e) { outcome[name] = [e.name, e.code, e.message] }
}
outcome.db = (await db({ select: { from: 'things', where: { ns: 'shop', type: 'Product' } } })).rowCount
console.log('done')
return outcome
`;

const EXPECTED = {
  api: ["CapabilityError", "CAPABILITY_DENIED", "api() is not allowed for this execution (config.allowedAPIs)"],
  ai: ["CapabilityError", "CAPABILITY_DENIED", "ai() is not allowed for this execution (config.allowedAPIs)"],
  db: 3,
};

describe("config.allowedAPIs", () => {
  it("['console', 'db'] makes api and ai unavailable while db still works (POST /execute)", async () => {
    const result = await execute({ code: PROBE, config: { allowedAPIs: ["console", "db"], allowedDomains: ["api.example.com"] } });
    expect(result.result).toEqual(EXPECTED);
    expect(result.logs.map((l) => l.message)).toEqual(["done"]);
  });

  it("['console', 'db'] makes api and ai unavailable while db still works (RPC)", async () => {
    const reply = await rpc("executeCode", PROBE, "javascript", {}, { allowedAPIs: ["console", "db"], allowedDomains: ["api.example.com"] });
    expect(reply.result?.result).toEqual(EXPECTED);
  });

  it("gives every API by default", async () => {
    const result = await execute({ code: PROBE, config: { allowedDomains: ["api.example.com"] } });
    expect(result.result).toEqual({ api: "ran", ai: "ran", db: 3 });
  });

  it("fails the run with CAPABILITY_DENIED when the denial is not caught", async () => {
    const result = await execute({ code: "console.log('before'); await db({ select: { from: 'things' } })", config: { allowedAPIs: ["console"] } });
    expect(result).toMatchObject({
      success: false,
      status: "error",
      error: { code: "CAPABILITY_DENIED", name: "CapabilityError", message: "db() is not allowed for this execution (config.allowedAPIs)" },
    });
    expect(result.logs.map((l) => l.message)).toEqual(["before"]);
  });

  it("without 'console', runs the code but captures no logs", async () => {
    const result = await execute({ code: "console.log('hidden'); console.error('also hidden'); return 42", config: { allowedAPIs: ["db"] } });
    expect(result).toMatchObject({ success: true, result: 42, logs: [] });
  });

  it("keeps logs ordered around capability calls, up to a throw", async () => {
    const result = await execute({
      code: "console.log('one'); await db({ select: { from: 'things', limit: 1 } }); console.warn('two'); await api('https://api.example.com/text'); console.error('three'); throw new Error('boom')",
      config: { allowedDomains: ["api.example.com"] },
    });
    expect(result.error?.message).toBe("boom");
    expect(result.logs.map((l) => [l.level, l.message])).toEqual([
      ["log", "one"],
      ["warn", "two"],
      ["error", "three"],
    ]);
  });

  it("keeps logs made before a capability call that outlives the timeout", async () => {
    const startedAt = Date.now();
    const result = await execute({
      code: "console.log('before'); await api('https://api.example.com/slow?ms=5000'); console.log('never')",
      config: { allowedDomains: ["api.example.com"], timeout: 500 },
    });
    expect(result.status).toBe("timeout");
    expect(result.logs.map((l) => l.message)).toEqual(["before"]);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it("hands the sandbox no bindings: only the wrapper globals", async () => {
    const result = await execute({
      code: "return [typeof env, typeof API, typeof DB, typeof AI, typeof globalThis.env, typeof api, typeof db, typeof ai]",
    });
    expect(result.result).toEqual(["undefined", "undefined", "undefined", "undefined", "undefined", "function", "function", "function"]);
  });
});
