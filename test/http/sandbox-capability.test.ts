import { describe, expect, it } from "vitest";
import { post } from "../helpers";

// The remote sandbox's capability route exists only when a sandbox plane is configured (SANDBOX_PLANE_URL); as
// deployed, and in this suite, children run in-process and the route must not answer at all. Its remote
// behaviour (tokens, policy) is covered against real processes by npm run test:plane.
describe("POST /internal/sandbox-capability", () => {
  it("answers 404 when no sandbox plane is configured, whatever the token", async () => {
    const body = { binding: "DB", method: "query", args: [{ select: { from: "things" } }] };
    const response = await post("/internal/sandbox-capability", body, { authorization: `Bearer ${"a".repeat(64)}` });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});
