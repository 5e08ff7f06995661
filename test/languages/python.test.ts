import { describe, expect, it } from "vitest";
import { execute, post } from "../helpers";

const py = (code: string, extra: Record<string, unknown> = {}) => execute({ language: "python", code, ...extra });

describe("python: results", () => {
  it("returns the value of the final expression", async () => {
    const result = await py("1+1");
    expect(result).toMatchObject({ success: true, status: "success", result: 2, language: "python", logs: [] });
  });
});
