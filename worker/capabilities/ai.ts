import { WorkerEntrypoint } from "cloudflare:workers";
import * as v from "valibot";
import { handleCall, remainingMs, withinMs, type CallNote, type CapabilityProps } from "./capability-call";
import * as limits from "./limits";
import { readCapped } from "../read-capped";
import { CapabilityFailure, parseArgument, type Reply } from "./reply";

export type AiProps = CapabilityProps;

export interface AiResult {
  response: string;
}

const ModelSchema = v.pipe(v.string("must be a model name"), v.nonEmpty("must be a model name"), v.maxLength(200));

// v.object drops keys it does not know, so only these reach a provider.
const InputSchema = v.pipe(
  v.object({
    messages: v.optional(
      v.pipe(
        v.array(v.object({ role: v.picklist(["system", "user", "assistant"], "role must be system, user or assistant"), content: v.string() })),
        v.nonEmpty(),
        v.maxLength(100),
      ),
    ),
    prompt: v.optional(v.string()),
    max_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096))),
    temperature: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(2))),
  }),
  v.check((input) => (input.messages === undefined) !== (input.prompt === undefined), "give either messages or prompt"),
);
type AiInput = v.InferOutput<typeof InputSchema>;

const ChatCompletionSchema = v.object({
  choices: v.pipe(v.array(v.object({ message: v.object({ content: v.string() }) })), v.nonEmpty()),
});

/**
 * ai(model, input): the Workers AI binding when the deployment has one, else an OpenAI-compatible endpoint from
 * AI_BASE_URL (a local llama.cpp or Ollama server, say), else AI_NOT_CONFIGURED. Models must be in AI_MODELS.
 */
export class AiCapability extends WorkerEntrypoint<Env, AiProps> {
  async run(model: unknown, input: unknown): Promise<Reply<AiResult>> {
    return handleCall({ ctx: this.ctx, env: this.env, kind: "ai", maxCalls: limits.MAX_AI_CALLS_PER_EXECUTION }, (props, note) =>
      runModel(this.env, props, model, input, note),
    );
  }
}

export async function runModel(env: Env, props: AiProps, rawModel: unknown, rawInput: unknown, note: CallNote): Promise<AiResult> {
  const model = parseArgument(ModelSchema, rawModel, "model");
  note.target = model;
  const allowed = (env.AI_MODELS ?? "").split(",").map((m) => m.trim()).filter(Boolean);
  if (!allowed.includes(model)) {
    throw new CapabilityFailure("MODEL_NOT_ALLOWED", `model ${model} is not allowed; allowed: ${allowed.join(", ") || "none"}`);
  }
  const size = new TextEncoder().encode(JSON.stringify(rawInput ?? null)).byteLength;
  note.requestBytes = size;
  if (size > limits.MAX_AI_INPUT_BYTES) {
    throw new CapabilityFailure("SIZE_LIMIT_EXCEEDED", `the input is ${size} bytes; the limit is ${limits.MAX_AI_INPUT_BYTES}`);
  }
  const input = parseArgument(InputSchema, rawInput, "input");
  const timeoutMs = remainingMs(props.deadlineAt, limits.MAX_AI_CALL_MS);

  let result: AiResult;
  if (env.AI) {
    result = await withinMs(runBinding(env.AI, model, input), timeoutMs, "the AI binding");
  } else if (env.AI_BASE_URL) {
    result = await runHttp(env.AI_OUTBOUND, env.AI_BASE_URL, env.AI_API_KEY, model, input, timeoutMs);
  } else {
    throw new CapabilityFailure("AI_NOT_CONFIGURED", "no AI provider is configured (an AI binding, or AI_BASE_URL)");
  }
  note.responseBytes = new TextEncoder().encode(result.response).byteLength;
  return result;
}

async function runBinding(ai: NonNullable<Env["AI"]>, model: string, input: AiInput): Promise<AiResult> {
  let answer: unknown;
  try {
    answer = await ai.run(model, input);
  } catch (error) {
    console.error("ai(): the AI binding failed", { model }, error);
    throw new CapabilityFailure("UPSTREAM_ERROR", `the model ${model} failed`);
  }
  const response = (answer as { response?: unknown } | null)?.response;
  if (typeof response !== "string") throw new CapabilityFailure("UPSTREAM_ERROR", `the model ${model} returned no text response`);
  return { response };
}

/** An OpenAI-compatible chat-completions call, mapped to Workers AI's `{ response }`. */
async function runHttp(
  outbound: Fetcher | undefined,
  baseUrl: string,
  apiKey: string | undefined,
  model: string,
  input: AiInput,
  timeoutMs: number,
): Promise<AiResult> {
  const messages = input.messages ?? [{ role: "user" as const, content: input.prompt ?? "" }];
  const url = `${baseUrl.replace(/\/+$/, "")}/chat/completions`;
  let response: Response;
  try {
    response = await (outbound ? outbound.fetch.bind(outbound) : fetch)(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ model, messages, max_tokens: input.max_tokens, temperature: input.temperature, stream: false }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new CapabilityFailure("TIMEOUT", `the AI provider did not answer within ${timeoutMs} ms`);
    }
    console.error("ai(): the AI provider is unreachable", error);
    throw new CapabilityFailure("UPSTREAM_ERROR", "the AI provider is unreachable");
  }
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (!response.ok || (Number.isFinite(declared) && declared > limits.MAX_AI_RESPONSE_BYTES)) {
    await response.body?.cancel();
    throw new CapabilityFailure("UPSTREAM_ERROR", `the AI provider answered ${response.status} ${response.statusText}`.trim());
  }
  // Read with the cap, not after it: a provider that sends no content-length could otherwise stream without end.
  const tooLarge = () => new CapabilityFailure("UPSTREAM_ERROR", "the AI provider's answer is too large");
  let text: string;
  try {
    text = new TextDecoder().decode(await readCapped(response.body, limits.MAX_AI_RESPONSE_BYTES, tooLarge));
  } catch (error) {
    if (error instanceof CapabilityFailure) throw error;
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new CapabilityFailure("TIMEOUT", `the AI provider did not finish within ${timeoutMs} ms`);
    }
    throw new CapabilityFailure("UPSTREAM_ERROR", "the AI provider's answer broke off");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CapabilityFailure("UPSTREAM_ERROR", "the AI provider answered with something other than JSON");
  }
  const parsed = v.safeParse(ChatCompletionSchema, body);
  if (!parsed.success) throw new CapabilityFailure("UPSTREAM_ERROR", "the AI provider's answer has no choices[0].message.content");
  return { response: parsed.output.choices[0]?.message.content ?? "" };
}
