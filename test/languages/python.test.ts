import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecuteRequestInput } from "../../schemas/execute";
import type { ExecutionResult, ValidateResponse } from "../../schemas/result";
import { BASE, execute, post, rpc } from "../helpers";

// Python end to end: POST /execute (and /validate, RPC, history) through the real LOADER, with the Pyodide files
// and the memory snapshot served from the real Static Assets binding (python-assets/, built by npm's pretest).

type Config = NonNullable<ExecuteRequestInput["config"]>;
const py = (code: string, extra: { context?: Record<string, unknown>; config?: Config } = {}) =>
  execute({ language: "python", code, ...extra });
const messages = (result: ExecutionResult) => result.logs.map((entry) => [entry.level, entry.message]);
const healthy = async () => expect(await py("1+1")).toMatchObject({ success: true, result: 2 });

async function validate(code: string): Promise<ValidateResponse> {
  const response = await post("/validate", { language: "python", code });
  expect(response.status).toBe(200);
  return response.json();
}

describe("python: the code is a module body whose final expression is the result", () => {
  it("answers 1+1", async () => {
    expect(await py("1+1")).toMatchObject({ success: true, status: "success", result: 2, language: "python", logs: [] });
  });

  it("runs the seed examples", async () => {
    expect((await py("import math; math.sqrt(16) * 2")).result).toBe(8);
    expect((await py("f\"Hello {context['name']}!\"", { context: { name: "World" } })).result).toBe("Hello World!");
  });

  it("gives context as a dict and runs as __main__", async () => {
    const result = await py("[type(context).__name__, context['n'] + 1, context['nested']['xs'][1], __name__]", {
      context: { n: 41, nested: { xs: [1, 2] } },
    });
    expect(result.result).toEqual(["dict", 42, 2, "__main__"]);
  });

  it("has no result without a final expression, and a statement list's last expression otherwise", async () => {
    const none = await py("x = 1");
    expect(none).toMatchObject({ success: true });
    expect(none).not.toHaveProperty("result");
    expect((await py("def f(x):\n    return x * 2\n\nf(21)")).result).toBe(42);
  });

  it("supports top-level await", async () => {
    expect((await py("import asyncio\nawait asyncio.sleep(0.01)\nawait asyncio.gather(asyncio.sleep(0), asyncio.sleep(0))\n'done'")).result).toBe("done");
  });

  it("encodes what JSON cannot carry with the same $type tags as JavaScript", async () => {
    const result = await py(`
import dataclasses, datetime
@dataclasses.dataclass
class P:
    x: int
    y: str
loop = [1]
loop.append(loop)
{
  "tuple": (1, 2), "nan": float("nan"), "inf": float("-inf"), "big": 2**64, "set": {3}, "bytes": b"ab",
  "date": datetime.date(2026, 12, 1), "dc": P(1, "a"), "obj": object(), "fn": len, "loop": loop, 1: "int key",
  "exc": ValueError("bad"),
}`);
    expect(result.result).toEqual({
      tuple: [1, 2],
      nan: { $type: "number", value: "NaN" },
      inf: { $type: "number", value: "-Infinity" },
      big: { $type: "bigint", value: "18446744073709551616" },
      set: { $type: "Set", values: [3] },
      bytes: { $type: "bytes", kind: "bytes", byteLength: 2 },
      date: "2026-12-01",
      dc: { x: 1, y: "a" },
      obj: { $type: "object", constructor: "object" },
      fn: { $type: "function", name: "len" },
      loop: [1, { $type: "circular" }],
      "1": "int key",
      exc: { $type: "Error", name: "ValueError", message: "bad" },
    });
  });

  it("encodes the result with json functions bound before the code ran", async () => {
    const result = await py("import json\njson.dumps = lambda *a, **k: 'x' * 10\njson.loads = lambda *a, **k: None\n{'a': [1, 2]}");
    expect(result).toMatchObject({ success: true, result: { a: [1, 2] } });
  });

  it("caps the result like JavaScript's and says so", async () => {
    const result = await py("'x' * (2 * 1024 * 1024)");
    expect(result).toMatchObject({ success: true, resultTruncated: true, result: { $type: "truncated", reason: "string too long" } });
  });

  it("runs the standard library offline", async () => {
    const result = await py(`
import json, re, datetime, collections, itertools, dataclasses, typing, decimal, fractions, statistics, random, csv, io
[json.dumps({"a": 1}), re.findall(r"\\d+", "a1b22"), collections.Counter("aab")["a"], list(itertools.product([1], [2])),
 str(decimal.Decimal("0.1") + decimal.Decimal("0.2")), str(fractions.Fraction(1, 3) * 3), statistics.median([3, 1, 2]),
 next(csv.reader(io.StringIO("a,b")))]`);
    expect(result.result).toEqual(['{"a": 1}', ["1", "22"], 2, [[1, 2]], "0.3", "1", 2, ["a", "b"]]);
  });

  it("says clearly that third-party packages are not available", async () => {
    const result = await py("import numpy");
    expect(result).toMatchObject({ success: false, error: { code: "RUNTIME_ERROR", name: "ModuleNotFoundError", line: 1 } });
    expect(result.error?.message).toMatch(/No module named 'numpy'.*standard library/);
  });
});

describe("python: print, logging and tracebacks", () => {
  it("sends stdout as log and stderr as error, one entry per line, in order with logging's levels", async () => {
    const result = await py(`
import logging, sys
print("a", 1)
print("two\\nlines")
print("to stderr", file=sys.stderr)
logging.debug("d")
logging.info("i")
logging.warning("w")
logging.getLogger("app").error("e %s", 5)
print("no newline at the end", end="")`);
    expect(messages(result)).toEqual([
      ["log", "a 1"],
      ["log", "two"],
      ["log", "lines"],
      ["error", "to stderr"],
      ["debug", "d"],
      ["info", "i"],
      ["warn", "w"],
      ["error", "e 5"],
      ["log", "no newline at the end"],
    ]);
  });

  it("discards output without the console capability", async () => {
    const result = await py("print('hidden')\n1", { config: { allowedAPIs: [] } });
    expect(result).toMatchObject({ success: true, result: 1, logs: [] });
  });

  it("caps log entries like JavaScript and says how many were dropped", async () => {
    const result = await py("for i in range(1200):\n    print(i)");
    expect(result.logs).toHaveLength(1001);
    expect(result.logs.at(-1)?.message).toMatch(/200 more log entries dropped/);
  });

  it("reports an exception with its class, message and line in the user's code, harness frames dropped", async () => {
    const result = await py("def f(x):\n    return 1 / x\n\nprint('before')\nf(0)");
    expect(result).toMatchObject({
      success: false,
      status: "error",
      error: { code: "RUNTIME_ERROR", name: "ZeroDivisionError", message: "division by zero", line: 2 },
      logs: [expect.objectContaining({ message: "before" })],
    });
  });

  it("prints a caught traceback to the logs with the user's frames only", async () => {
    const result = await py("import traceback\ntry:\n    {}['k']\nexcept KeyError:\n    traceback.print_exc()");
    const text = result.logs.map((entry) => entry.message).join("\n");
    expect(result.logs.every((entry) => entry.level === "error")).toBe(true);
    expect(text).toMatch(/File "<code>", line 3/);
    expect(text).toMatch(/KeyError: 'k'/);
    expect(text).not.toMatch(/_pyodide|runner|harness/);
  });

  it("treats sys.exit(0) as a normal end and sys.exit(3) as an error", async () => {
    expect(await py("import sys\nprint('x')\nsys.exit(0)")).toMatchObject({ success: true, logs: [expect.objectContaining({ message: "x" })] });
    expect(await py("import sys\nsys.exit(3)")).toMatchObject({ success: false, error: { name: "SystemExit", message: "3" } });
  });
});

describe("python: syntax errors", () => {
  it("rejects a syntax error with its line and column from /execute", async () => {
    const result = await py("x = 1\nif x\n    pass");
    expect(result).toMatchObject({ success: false, status: "rejected", error: { code: "SYNTAX_ERROR", name: "SyntaxError", line: 2, column: 5 } });
  });

  it("reports the same from /validate, and valid code as valid", async () => {
    expect(await validate("x = 1\nif x\n    pass")).toMatchObject({ valid: false, errors: [{ code: "SYNTAX_ERROR", line: 2, column: 5 }] });
    expect(await validate("def f():\n  return 1\n\tpass")).toMatchObject({ valid: false, errors: [{ code: "SYNTAX_ERROR", line: 3 }] });
    expect(await validate("return 5")).toMatchObject({ valid: false, errors: [{ code: "SYNTAX_ERROR", line: 1 }] });
    expect(await validate("import asyncio\nawait asyncio.sleep(0)\n1")).toEqual({ valid: true, errors: [] });
  });

  it("keeps a SyntaxError raised while running a runtime error", async () => {
    const result = await py("compile('(', 'x', 'exec')");
    expect(result).toMatchObject({ status: "error", error: { code: "RUNTIME_ERROR", name: "SyntaxError" } });
  });
});

describe("python: capabilities", () => {
  const attempt = (call: string) =>
    `try:\n    r = {"ok": True, "value": await ${call}}\nexcept CapabilityError as e:\n    r = {"ok": False, "code": e.code, "message": str(e)}\nr`;

  it("calls api() through the same policy, dicts in and out", async () => {
    const result = await py(
      "r = await api('https://api.example.com/echo', {'method': 'POST', 'body': 'hi', 'headers': {'x-a': '1'}})\n[r['status'], r['body']['method'], r['body']['body'], r['body']['headers']['x-a']]",
      { config: { allowedDomains: ["api.example.com"] } },
    );
    expect(result).toMatchObject({ success: true, result: [200, "POST", "hi", "1"] });
  });

  it("raises CapabilityError with .code for a host allowedDomains leaves out", async () => {
    const result = await py(attempt("api('https://evil.example.net/')"), { config: { allowedDomains: ["api.example.com"] } });
    expect(result.result).toMatchObject({ ok: false, code: "DOMAIN_NOT_ALLOWED" });
  });

  it("denies api(), ai() and db() outside allowedAPIs, as CAPABILITY_DENIED when uncaught", async () => {
    for (const call of ["api('https://api.example.com/echo')", "ai('@cf/meta/llama-3.1-8b-instruct', {'prompt': 'x'})", "db({'select': {'from': 'things'}})"]) {
      const caught = await py(attempt(call), { config: { allowedAPIs: ["console"], allowedDomains: ["api.example.com"] } });
      expect(caught.result).toMatchObject({ ok: false, code: "CAPABILITY_DENIED" });
    }
    const uncaught = await py("await db({'select': {'from': 'things'}})", { config: { allowedAPIs: [] } });
    expect(uncaught).toMatchObject({ success: false, error: { code: "CAPABILITY_DENIED", name: "CapabilityError", line: 1 } });
  });

  it("calls ai() against the provider", async () => {
    const result = await py("r = await ai('@cf/meta/llama-3.1-8b-instruct', {'messages': [{'role': 'user', 'content': 'Hello!'}]})\nprint(r['response'])\nr");
    expect(result).toMatchObject({ success: true, result: { response: "echo(@cf/meta/llama-3.1-8b-instruct): Hello!" } });
    expect(result.logs.map((entry) => entry.message)).toEqual(["echo(@cf/meta/llama-3.1-8b-instruct): Hello!"]);
    expect((await py(attempt("ai('@cf/some/expensive-model', {'prompt': 'Hi'})"))).result).toMatchObject({ ok: false, code: "MODEL_NOT_ALLOWED" });
  });

  it("calls db() against the seeded table and reports a bad query", async () => {
    const result = await py("r = await db({'select': {'from': 'things', 'where': {'ns': 'wiki', 'type': 'Article'}, 'limit': 10}})\n[r['rowCount'], sorted(row['id'] for row in r['rows'])[:2]]");
    expect(result.result).toEqual([5, ["d1", "durable-objects"]]);
    expect((await py(attempt("db({'select': {'from': 'executions'}})"))).result).toMatchObject({ ok: false, code: "INVALID_QUERY" });
  });

  it("runs over RPC and is listed in history under its language", async () => {
    const reply = await rpc("executeCode", "print('rpc')\n6 * 7", "python");
    expect(reply.result).toMatchObject({ success: true, result: 42, language: "python" });
    const listed = await exports.default.fetch(`${BASE}/executions?language=python&limit=100`);
    const body = await listed.json<{ executions: { executionId: string; language: string }[] }>();
    expect(body.executions.find((row) => row.executionId === reply.result?.executionId)).toMatchObject({ language: "python" });
  });
});

describe("python: limits", () => {
  const runaway = async (code: string, timeout = 1_000) => {
    const result = await py(code, { config: { timeout } });
    expect(result).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    await healthy();
    return result;
  };

  it("stops while True: pass and keeps the prints before it", async () => {
    const result = await runaway("print('before')\nwhile True:\n    pass");
    expect(messages(result)).toEqual([["log", "before"]]);
  });

  it("stops a loop that catches BaseException and ignores SIGINT", async () => {
    await runaway("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass");
  });

  it("stops exponential recursion that catches RecursionError (no loop anywhere)", async () => {
    await runaway("def f():\n    try:\n        f()\n    except RecursionError:\n        f()\nf()");
    await runaway("def f():\n    try:\n        f()\n    except BaseException:\n        f()\nf()");
  });

  it("reports plain deep recursion as Python's RecursionError", async () => {
    expect(await py("def f(n):\n    return f(n + 1)\nf(0)")).toMatchObject({ status: "error", error: { name: "RecursionError" } });
    await healthy();
  });

  it("stops catastrophic regex backtracking, a huge integer power and a huge sort", async () => {
    await runaway("import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')");
    await runaway("x = 7 ** 300_000_000");
    await runaway("x = sorted(list(map(str, range(3_000_000))) * 4)");
  });

  it("stops await that never ends", async () => {
    await runaway("import asyncio\nawait asyncio.sleep(60)");
  });

  it("time.sleep sleeps, and one past the deadline ends at the deadline", async () => {
    expect(await py("import time\nt = time.monotonic()\ntime.sleep(0.05)\ntime.monotonic() - t >= 0.04")).toMatchObject({ result: true });
    await runaway("import time\ntime.sleep(30)\nprint('never')");
  });

  it("reseeds random per run and keeps no module or global between runs", async () => {
    const first = await py("import random, builtins, json\nbuiltins.leaked = 1\njson.leaked = 2\nopen('/tmp/leak', 'w').write('x')\nrandom.random()");
    const second = await py("import random, builtins, json, os\n[random.random(), hasattr(builtins, 'leaked'), hasattr(json, 'leaked'), os.path.exists('/tmp/leak')]");
    expect(second.result).toEqual([expect.any(Number), false, false, false]);
    expect((second.result as unknown[])[0]).not.toBe(first.result);
  });
});

describe("python: the JS bridge is closed", () => {
  it("cannot import js, pyodide_js or reach JavaScript through pyodide", async () => {
    const result = await py(`
import importlib
out = {}
for name in ["js", "pyodide_js"]:
    try:
        importlib.import_module(name)
        out[name] = "imported"
    except ImportError as e:
        out[name] = type(e).__name__
try:
    from pyodide.code import run_js
    run_js("globalThis")
    out["run_js"] = "ran"
except Exception as e:
    out["run_js"] = "failed"
import sys
out["monitoring"] = hasattr(sys, "monitoring")
out`);
    expect(result.result).toEqual({ js: "ModuleNotFoundError", pyodide_js: "ModuleNotFoundError", run_js: "failed", monitoring: false });
  });

  it("finds no JavaScript object that leads to the guard, the harness, Pyodide's API or the stubs", async () => {
    const result = await py(`
import gc
found = []
names = ["__guard", "_module", "runPython", "globals", "setInterruptBuffer", "env", "API", "DB", "AI", "LOADER", "Py_EmscriptenSignalBuffer", "pyodide"]
for o in gc.get_objects():
    if type(o).__name__.startswith("Js"):
        for n in names:
            try:
                if getattr(o, n, None) is not None:
                    found.append(n)
            except Exception:
                pass
        try:
            o.constructor("return globalThis")()
            found.append("Function")
        except Exception:
            pass
found`);
    expect(result).toMatchObject({ success: true, result: [] });
  });
});
