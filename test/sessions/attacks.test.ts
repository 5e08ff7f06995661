import { describe, expect, it } from "vitest";
import { checkState } from "../../worker/sessions/state-blob";
import { cell, cells, createSession, describeSession } from "./client";

// A session must not become a channel: from one cell's data to the next cell's code, from user code to the
// harness's encoding, or from a child's reply to the parent's storage.

describe("cells attacking the state machinery", () => {
  it("keeps code-looking strings and keys as data", async () => {
    const { sessionId } = await createSession();
    const payload = `"]; globalThis.pwned = 1; //`;
    await cell(sessionId, `const text = ${JSON.stringify(payload)}; const keys = { [${JSON.stringify(payload)}]: 1, ["__proto__"]: { polluted: true }, constructor: "c" };`);
    const check = await cell(sessionId, "return [text, Object.keys(keys), typeof globalThis.pwned, ({}).polluted, Object.getPrototypeOf(keys) === Object.prototype]");
    expect(check.result).toEqual([payload, [payload, "__proto__", "constructor"], "undefined", null, true]);
  });

  it("does not carry prototype pollution or patched globals into the next cell", async () => {
    const { sessionId } = await createSession();
    const patched = await cell(
      sessionId,
      `Object.prototype.polluted = 1; Array.prototype.push = () => { throw new Error("patched push"); };
       JSON.stringify = () => "{}"; Map.prototype.get = () => "patched"; Object.keys = () => [];
       Object.defineProperty(Object.prototype, "c", { set() { throw new Error("setter") } , configurable: true });
       Object.defineProperty(Object.prototype, "s", { get() { return { v: { x: "forged" } } }, configurable: true });
       let x = { real: [1, 2] }; let m = new Map([["k", "v"]]);`,
    );
    expect(patched.success).toBe(true);
    const next = await cell(sessionId, "return [x, m.get('k'), typeof ({}).polluted]");
    expect(next.result).toEqual([{ real: [1, 2] }, "v", "undefined"]);
  });

  it("cannot reach the session hooks or the capture by their reserved names", async () => {
    const { sessionId } = await createSession();
    for (const code of ["__ce_s.c = () => [['x', () => 1]]", "return __ce_v", "let __ce_s = 1"]) {
      const refused = await cell(sessionId, code);
      expect(refused).toMatchObject({ success: false, status: "rejected", error: { code: "POLICY_VIOLATION" } });
    }
  });

  it("cannot break out of the cell's function into the prologue", async () => {
    const { sessionId } = await createSession();
    await cell(sessionId, "let kept = 1;");
    for (const code of ["})(); let escaped = 1; (async function () {", "}; kept = 99; {", "return 1 })(), (async () => {"]) {
      const refused = await cell(sessionId, code);
      expect(refused.success).toBe(false);
      expect(refused.status).toBe("rejected");
    }
    expect((await cell(sessionId, "return kept")).result).toBe(1);
  });

  it("reports throwing getters and Proxies as unpersistable names, keeping the rest", async () => {
    const { sessionId } = await createSession();
    const result = await cell(
      sessionId,
      `let ok = 1;
       let trap = { get boom() { throw new Error("getter"); } };
       let proxy = new Proxy({}, { ownKeys() { throw new Error("trap"); } });
       let thrower = new Proxy({}, { getPrototypeOf() { throw new Proxy({}, {}); } });`,
    );
    expect(result.success).toBe(true);
    const warned = (result.warnings ?? []).join("\n");
    for (const name of ["trap", "proxy", "thrower"]) expect(warned).toContain(`${name} was not kept`);
    expect((await cell(sessionId, "return [ok, typeof trap]")).result).toEqual([1, "undefined"]);
  });

  it("stops a getter that loops while the state is encoded at the timeout, and keeps the state as before", async () => {
    const { sessionId } = await createSession({ config: { timeout: 500 } });
    await cell(sessionId, "let before = 1;");
    const stuck = await cell(sessionId, "before = 2; let slow = { get v() { while (true) {} } };");
    expect(stuck).toMatchObject({ success: false, status: "timeout" });
    expect((await cell(sessionId, "return before")).result).toBe(1);
  });

  it("persists a function only from the source the caller sent, instrumented like any code", async () => {
    const { sessionId } = await createSession({ config: { timeout: 500 } });
    await cell(sessionId, "function spin() { while (true) {} }");
    const stopped = await cell(sessionId, "spin();");
    expect(stopped).toMatchObject({ success: false, status: "timeout" });
    const detail = await describeSession(sessionId);
    expect(detail.state.entries).toMatchObject([{ name: "spin", kind: "function" }]);
  });

  it("keeps state deep to the encoder's depth and reports deeper as unpersistable", async () => {
    const { sessionId } = await createSession();
    const [deep] = await cells(sessionId, "let ok = []; let d = ok; for (let i = 0; i < 200; i++) { d = d[0] = []; } let tooDeep = []; let e = tooDeep; for (let i = 0; i < 400; i++) { e = e[0] = []; }");
    expect(deep?.warnings?.join()).toContain("tooDeep was not kept: holds nested deeper than");
    expect((await cell(sessionId, "let n = 0; for (let d = ok; d.length; d = d[0]) n++; return n;")).result).toBe(200);
  });
});

describe("the parent's check of a child's state", () => {
  const names = new Set(["x", "y"]);
  const problem = (json: string) => {
    const checked = checkState(json, names);
    return checked.ok ? "accepted" : checked.problem;
  };

  it("accepts what the encoder writes", () => {
    expect(problem(`{"b":[["x",["o",0,0,[["self",["r",0]]]]],["y",["t",1,"Uint8Array",["ab",2,"AAEC"],1,2]]],"w":[]}`)).toBe("accepted");
  });

  it.each([
    ["a name it did not ask for", `{"b":[["z",1]],"w":[]}`],
    ["a name twice", `{"b":[["x",1],["x",2]],"w":[]}`],
    ["a warning for an unknown name", `{"b":[],"w":[["z","why"]]}`],
    ["a reference forward", `{"b":[["x",["r",0]]],"w":[]}`],
    ["ids out of order", `{"b":[["x",["a",1,[]]]],"w":[]}`],
    ["an unknown tag", `{"b":[["x",["f",0,"return 1"]]],"w":[]}`],
    ["a function tag smuggled as a view type", `{"b":[["x",["t",0,"Function",["ab",1,""],0,0]]],"w":[]}`],
    ["a view outside its buffer", `{"b":[["x",["t",0,"Uint32Array",["ab",1,"AAAA"],0,2]]],"w":[]}`],
    ["a view over something not a buffer", `{"b":[["x",["t",0,"Uint8Array",["a",1,[]],0,0]]],"w":[]}`],
    ["bad base64", `{"b":[["x",["ab",0,"!!!!"]]],"w":[]}`],
    ["a regexp that does not compile", `{"b":[["x",["x",0,"(","g"]]],"w":[]}`],
    ["a non-finite number", `{"b":[["x",1e999]],"w":[]}`],
    ["extra members in a node", `{"b":[["x",["u","extra"]]],"w":[]}`],
    ["not JSON", `{"b":[`],
  ])("refuses %s", (_what, json) => {
    expect(problem(json)).toBe("malformed");
  });

  it("refuses nesting past its depth", () => {
    let node = "1";
    for (let i = 400; i >= 0; i--) node = `["a",${i},[${node}]]`;
    expect(problem(`{"b":[["x",${node}]],"w":[]}`)).toBe("malformed");
  });

  it("measures the size itself", () => {
    expect(problem(`{"b":[["x",${JSON.stringify("a".repeat(2 * 1024 * 1024))}]],"w":[]}`)).toBe("too_large");
  });
});
