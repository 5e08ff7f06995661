import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, execute } from "../helpers";
import { waitForCalls } from "./audit-helpers";

describe("capability audit", () => {
  it("lists an execution's ai, api and db calls, in order, under GET /executions/:id", async () => {
    const result = await execute({
      code: `
        await db({ select: { from: 'things', limit: 1 } })
        await api('https://api.example.com/text?key=abc', { headers: { Authorization: 'Bearer top-secret' } })
        try { await api('http://api.example.com/text') } catch {}
        await ai('@cf/meta/llama-3.1-8b-instruct', { prompt: 'Hi' })
        try { await db({ select: { from: 'executions' } }) } catch {}
      `,
      config: { allowedDomains: ["api.example.com"] },
    });
    await waitForCalls(result.executionId, 5);
    const response = await exports.default.fetch(`${BASE}/executions/${result.executionId}`);
    expect(response.status).toBe(200);
    const record = (await response.json()) as { capabilityCalls: Record<string, unknown>[] };
    expect(record.capabilityCalls.map(({ kind, target, outcome, errorCode }) => ({ kind, target, outcome, errorCode }))).toEqual([
      { kind: "db", target: 'SELECT "ns", "type", "id", "data", "created_at", "updated_at" FROM "things" LIMIT ? OFFSET ?', outcome: "ok", errorCode: undefined },
      { kind: "api", target: "https://api.example.com/text", outcome: "ok", errorCode: undefined },
      { kind: "api", target: "http://api.example.com/text", outcome: "denied", errorCode: "URL_NOT_ALLOWED" },
      { kind: "ai", target: "@cf/meta/llama-3.1-8b-instruct", outcome: "ok", errorCode: undefined },
      { kind: "db", target: "(invalid query)", outcome: "error", errorCode: "INVALID_QUERY" },
    ]);
    for (const call of record.capabilityCalls) {
      expect(call.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(record.capabilityCalls[1]).toMatchObject({ responseBytes: "plain hello".length });
    expect(JSON.stringify(record.capabilityCalls)).not.toMatch(/top-secret|key=abc/);
  });
});
