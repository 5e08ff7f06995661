import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runModel } from "../../worker/capabilities/ai";
import { MAX_AI_INPUT_BYTES } from "../../worker/capabilities/limits";
import { CapabilityFailure } from "../../worker/capabilities/reply";
import { execute, rpc } from "../helpers";
import { waitForCalls } from "./audit-helpers";

// The tests' Worker has no AI binding and AI_BASE_URL pointing at the fake OpenAI-compatible server in
// test/fixtures/fake-upstream.js (vitest.config.ts), which echoes the last message.

const AI_EXAMPLE = `
const result = await ai('@cf/meta/llama-3.1-8b-instruct', { messages: [{ role: 'user', content: 'Hello!' }] })
console.log(result.response)
return result
`;

const attempt = (call: string) => `try { return await ${call} } catch (e) { return { code: e.code, message: e.message } }`;

describe("ai()", () => {
  it("runs the issue's example through POST /execute against an OpenAI-compatible provider", async () => {
    const result = await execute({ code: AI_EXAMPLE });
    expect(result.success).toBe(true);
    expect(result.logs.map((l) => l.message)).toEqual(["echo(@cf/meta/llama-3.1-8b-instruct): Hello!"]);
    expect(result.result).toEqual({ response: "echo(@cf/meta/llama-3.1-8b-instruct): Hello!" });
  });

  it("runs the issue's example through RPC", async () => {
    const reply = await rpc("executeCode", AI_EXAMPLE);
    expect(reply.result?.result).toEqual({ response: "echo(@cf/meta/llama-3.1-8b-instruct): Hello!" });
  });

  it("accepts a prompt instead of messages", async () => {
    const result = await execute({ code: "return (await ai('@cf/meta/llama-3.1-8b-instruct', { prompt: 'Hi' })).response" });
    expect(result.result).toBe("echo(@cf/meta/llama-3.1-8b-instruct): Hi");
  });

  it("refuses models outside the allowlist", async () => {
    const result = await execute({ code: attempt("ai('@cf/some/expensive-model', { prompt: 'Hi' })") });
    expect(result.result).toMatchObject({ code: "MODEL_NOT_ALLOWED" });
  });

  it("caps the input size", async () => {
    const result = await execute({ code: attempt(`ai('@cf/meta/llama-3.1-8b-instruct', { prompt: 'x'.repeat(${MAX_AI_INPUT_BYTES}) })`) });
    expect(result.result).toMatchObject({ code: "SIZE_LIMIT_EXCEEDED" });
  });

  it("rejects malformed input with its path", async () => {
    const result = await execute({ code: attempt("ai('@cf/meta/llama-3.1-8b-instruct', { messages: [{ role: 'root', content: 'x' }] })") });
    expect(result.result).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((result.result as { message: string }).message).toContain("input.messages.0.role");
  });

  it("reports a failing provider as UPSTREAM_ERROR", async () => {
    const result = await execute({ code: attempt("ai('@cf/meta/llama-3.1-8b-instruct', { prompt: 'fail' })") });
    expect(result.result).toMatchObject({ code: "UPSTREAM_ERROR", message: "ai(): the AI provider answered 500 Internal Server Error" });
  });

  it("answers AI_NOT_CONFIGURED at once when there is neither a binding nor an endpoint", async () => {
    const unconfigured = { ...env, AI_BASE_URL: "" } as Env;
    const props = { executionId: crypto.randomUUID(), deadlineAt: Date.now() + 10_000 };
    const note = { target: "", requestBytes: 0, responseBytes: 0 };
    const startedAt = Date.now();
    const failure = await runModel(unconfigured, props, "@cf/meta/llama-3.1-8b-instruct", { prompt: "Hi" }, note).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CapabilityFailure);
    expect((failure as CapabilityFailure).code).toBe("AI_NOT_CONFIGURED");
    expect(Date.now() - startedAt).toBeLessThan(500);
  });

  it("prefers an AI binding when the deployment has one", async () => {
    const calls: unknown[] = [];
    const withBinding = {
      ...env,
      AI: { run: async (model: string, input: unknown) => (calls.push([model, input]), { response: "from the binding" }) },
    } as Env;
    const props = { executionId: crypto.randomUUID(), deadlineAt: Date.now() + 10_000 };
    const note = { target: "", requestBytes: 0, responseBytes: 0 };
    const result = await runModel(withBinding, props, "@cf/meta/llama-3.1-8b-instruct", { prompt: "Hi", extra: "dropped" }, note);
    expect(result).toEqual({ response: "from the binding" });
    expect(calls).toEqual([["@cf/meta/llama-3.1-8b-instruct", { prompt: "Hi" }]]);
  });

  it("records the model, never the API key, in the audit trail", async () => {
    const result = await execute({ code: "await ai('@cf/meta/llama-3.1-8b-instruct', { prompt: 'Hi' })" });
    const calls = await waitForCalls(result.executionId, 1);
    expect(calls).toMatchObject([{ kind: "ai", target: "@cf/meta/llama-3.1-8b-instruct", outcome: "ok" }]);
    expect(JSON.stringify(calls)).not.toContain("test-ai-key");
  });
});
