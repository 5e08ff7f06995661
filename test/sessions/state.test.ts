import { describe, expect, it } from "vitest";
import { cell, cells, createSession } from "./client";

describe("session state: values", () => {
  it("keeps var, let and const values for later cells", async () => {
    const { sessionId } = await createSession();
    const [first, second] = await cells(sessionId, "var a = 1; let b = 'two'; const c = [3];", "return [a, b, c, typeof a];");
    expect(first).toMatchObject({ success: true, sessionId, cell: 1 });
    expect(second).toMatchObject({ success: true, result: [1, "two", [3], "number"], cell: 2 });
  });
});
