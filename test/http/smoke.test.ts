import { describe, expect, it } from "vitest";
import { execute, rpc } from "../helpers";

describe("smoke", () => {
  it("runs JS", async () => {
    const r = await execute({ code: "console.log('hi', {a:1}); return Math.sqrt(16) * 2" });
    console.log(JSON.stringify(r));
    expect(r.result).toBe(8);
  });
  it("runs TS", async () => {
    const r = await execute({ code: "interface U { name: string }\nconst u: U = { name: 'John' };\nreturn u.name", language: "typescript" });
    console.log(JSON.stringify(r));
    expect(r.result).toBe("John");
  });
  it("times out", async () => {
    const t0 = Date.now();
    const r = await execute({ code: "while(true){}", config: { timeout: 500 } });
    console.log(JSON.stringify(r), Date.now() - t0);
    expect(r.status).toBe("timeout");
  });
  it("error position", async () => {
    const r = await execute({ code: "const a = 1;\n  null.x;" });
    console.log(JSON.stringify(r));
  });
  it("rpc", async () => {
    const r = await rpc("executeCode", "return 1+1");
    console.log(JSON.stringify(r));
    expect(r.result?.result).toBe(2);
  });
});
