import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecuteRequestInput } from "../../schemas/execute";
import type { ExecutionRecord } from "../../schemas/history";
import type { ExecutionResult, ValidateResponse } from "../../schemas/result";
import { parseChildReply } from "../../worker/execution/child-protocol";
import { programSource } from "../../worker/execution/program";
import { checkIssues, pythonPosition } from "../../worker/languages/python";
import { BASE, execute, post } from "../helpers";

// Multi-file Python end to end: files + entry through POST /execute and /validate, the real LOADER and the
// Pyodide child (python-assets/, built by npm's pretest). Each case starts at least one Python child, so they are few
// and each checks several rules.

const run = (files: Record<string, string>, extra: Omit<ExecuteRequestInput, "files" | "code"> = {}): Promise<ExecutionResult> =>
  execute({ files, ...extra });

async function validate(files: Record<string, string>): Promise<ValidateResponse> {
  const response = await post("/validate", { files });
  expect(response.status).toBe(200);
  return response.json();
}

async function refused(body: unknown): Promise<string> {
  const response = await post("/execute", body);
  expect(response.status).toBe(400);
  const answer = (await response.json()) as { error: { code: string; message: string } };
  expect(answer.error.code).toBe("VALIDATION_ERROR");
  return answer.error.message;
}

describe("python files: modules, packages and data", () => {
  it("runs main.py as Python without language, importing modules, a package and a namespace directory", async () => {
    const result = await run({
      "main.py": [
        "import util",
        "from lib import x",
        "from lib.x import double",
        "from lib.sub.deep import name",
        "import ns.plain",
        "import random, colorsys",
        "print(util.greet('ada'))",
        "[util.greet('bob'), x.double(4), double(5), name, ns.plain.VALUE, x.__name__, x.__file__, __file__, __name__,",
        " hasattr(random, 'MINE'), getattr(colorsys, 'MINE', False)]",
      ].join("\n"),
      "util.py": "def greet(who):\n    return f'hi {who}'\n",
      "lib/__init__.py": "",
      "lib/x.py": "from . import helper\n\ndef double(n):\n    return helper.times(n, 2)\n",
      "lib/helper.py": "def times(a, b):\n    return a * b\n",
      "lib/sub/__init__.py": "",
      "lib/sub/deep.py": "from ..helper import times\nname = 'deep' * times(1, 1)\n",
      // No __init__.py: a package all the same, as CPython's namespace packages are.
      "ns/plain.py": "VALUE = 7\n",
      // As a script's directory in CPython: a program file shadows a stdlib module not loaded yet (colorsys), but not
      // one the runtime has already imported (random, preloaded in the snapshot).
      "random.py": "MINE = True\n",
      "colorsys.py": "MINE = True\n",
    });
    expect(result).toMatchObject({ success: true, language: "python", logs: [expect.objectContaining({ message: "hi ada" })] });
    expect(result.result).toEqual(["hi bob", 8, 10, "deep", 7, "lib.x", "lib/x.py", "main.py", "__main__", false, true]);
  });

  it("reads the program's data files from the working directory, and the entry sees context and top-level await", async () => {
    const result = await run(
      {
        "app.py": [
          "import asyncio, csv, json, os",
          "from loader import load",
          "await asyncio.sleep(0)",
          "rows = list(csv.DictReader(open('data/people.csv')))",
          "{'config': load('config.json')['name'], 'rows': [r['name'] for r in rows], 'note': open('notes.txt').read().strip(),",
          " 'n': context['n'], 'listing': sorted(os.listdir('.')), 'cwd_is_root': os.path.exists('app.py')}",
        ].join("\n"),
        "loader.py": "import json\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n",
        "config.json": '{"name": "demo"}',
        "notes.txt": "plain text\n",
        "data/people.csv": "name,age\nada,36\nbob,5\n",
      },
      { entry: "app.py", language: "python", context: { n: 3 } },
    );
    expect(result).toMatchObject({ success: true });
    expect(result.result).toEqual({
      config: "demo",
      rows: ["ada", "bob"],
      note: "plain text",
      n: 3,
      listing: ["app.py", "config.json", "data", "loader.py", "notes.txt"],
      cwd_is_root: true,
    });
  });
});

describe("python files: errors name the caller's file", () => {
  it("reports an exception raised in an imported module with its file and line, and the traceback in the caller's paths", async () => {
    const result = await run({
      "main.py": "from lib.x import boom\nimport traceback\ntry:\n    boom()\nexcept ValueError:\n    traceback.print_exc()\nboom()",
      "lib/__init__.py": "",
      "lib/x.py": "def boom():\n    raise ValueError('bad value')\n",
    });
    expect(result).toMatchObject({
      success: false,
      status: "error",
      error: { code: "RUNTIME_ERROR", name: "ValueError", message: "bad value", file: "lib/x.py", line: 2 },
    });
    const logged = result.logs.map((entry) => entry.message).join("\n");
    expect(logged).toMatch(/File "main.py", line 4/);
    expect(logged).toMatch(/File "lib\/x.py", line 2, in boom/);
    expect(logged).toMatch(/raise ValueError\('bad value'\)/);
    expect(logged).not.toMatch(/\/program|importlib|runner|harness/);
  });

  it("says a missing module is not among the files, and refuses importing the entry", async () => {
    const missing = await run({ "main.py": "import helpers", "helper.py": "" });
    expect(missing).toMatchObject({ success: false, error: { name: "ModuleNotFoundError", file: "main.py", line: 1 } });
    expect(missing.error?.message).toMatch(/No module named 'helpers': it is not among the program's files/);
    const entry = await run({ "main.py": "import util\n1", "util.py": "import main" });
    expect(entry).toMatchObject({ success: false, error: { name: "ImportError", file: "util.py", line: 1 } });
    expect(entry.error?.message).toMatch(/main.py is the program's entry and cannot be imported/);
  });

  it("rejects a syntax error in a module that is never imported, from /execute and /validate, naming its file", async () => {
    const files = { "main.py": "1 + 1", "ok.py": "x = 1\n", "lib/bad.py": "def f(:\n    pass\n", "worse.py": "await x\n" };
    const result = await run(files);
    expect(result).toMatchObject({ success: false, status: "rejected", error: { code: "SYNTAX_ERROR", file: "lib/bad.py", line: 1 } });
    const checked = await validate(files);
    // Every file is compiled; a module is not an async body, so its top-level await is an error (unlike the entry's).
    expect(checked).toMatchObject({
      valid: false,
      errors: [
        { code: "SYNTAX_ERROR", file: "lib/bad.py", line: 1 },
        { code: "SYNTAX_ERROR", file: "worse.py", line: 1 },
      ],
    });
    expect(checked.errors).toHaveLength(2);
    expect(await validate({ "main.py": "import asyncio\nawait asyncio.sleep(0)\n1", "ok.py": "x = 1\n" })).toEqual({ valid: true, errors: [] });
  });
});

describe("python files: the guard covers imported modules", () => {
  it("stops a loop at an imported module's top level and inside one of its functions, and keeps serving", async () => {
    const top = await run({ "main.py": "print('before')\nimport spin", "spin.py": "while True:\n    pass\n" }, { config: { timeout: 1_000 } });
    expect(top).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" }, logs: [expect.objectContaining({ message: "before" })] });
    const inner = await run({ "main.py": "from lib.spin import forever\nforever()", "lib/spin.py": "def forever():\n    while True:\n        pass\n" }, { config: { timeout: 1_000 } });
    expect(inner).toMatchObject({ success: false, status: "timeout", error: { code: "TIMEOUT" } });
    expect(await run({ "main.py": "1 + 1" })).toMatchObject({ success: true, result: 2 });
  });
});

describe("python files: the parent re-checks the file a child names", () => {
  // The user's code shares the interpreter with runner.py: it can find runner's _describe through the gc and make
  // the reply name any file. The parent believes only a .py file of this request.
  const forging = (file: string) =>
    [
      "import gc",
      "for f in gc.get_objects():",
      "    if getattr(f, '__name__', None) == '_describe' and callable(f):",
      `        f.__globals__['_describe'] = lambda e: {'name': 'Forged', 'message': 'forged', 'line': 3, 'file': ${file}}`,
      "raise ValueError('x')",
    ].join("\n");

  it("drops a file that is not one of the request's .py files, too long or not a string, and keeps a real one", async () => {
    const files = (file: string) => ({ "main.py": forging(file), "real.py": "", "data.json": "{}" });
    for (const file of ["'secret/internal.py'", "'/program/main.py'", "'data.json'", "'x' * 5000 + '.py'", "5", "None"]) {
      const result = await run(files(file));
      expect(result, file).toMatchObject({ success: false, status: "error", error: { name: "Forged", line: 3 } });
      expect(result.error, file).not.toHaveProperty("file");
    }
    expect(await run(files("'real.py'"))).toMatchObject({ error: { name: "Forged", file: "real.py", line: 3 } });
    // A code request names no files, so no file is believed at all.
    const code = await execute({ language: "python", code: forging("'<code>'") });
    expect(code).toMatchObject({ error: { name: "Forged", line: 3 } });
    expect(code.error).not.toHaveProperty("file");
  });
});

describe("python files: the parent's parsers believe no file the request lacks", () => {
  const source = programSource({ files: { "main.py": "1", "lib/x.py": "", "data.json": "{}" }, language: "python" });

  it("drops a forged file from a reply's error before the language sees it, and the language drops the rest", () => {
    const reply = (file: unknown) => {
      const received = parseChildReply(JSON.stringify({ status: "error", logs: [], error: { name: "E", message: "m", line: 2, file } }));
      if (received.kind !== "reply" || received.reply.error === undefined) throw new Error(`not a reply: ${JSON.stringify(received)}`);
      return pythonPosition(received.reply.error, source);
    };
    expect(reply("lib/x.py")).toEqual({ file: "lib/x.py", line: 2, column: 1 });
    for (const forged of ["lib/y.py", "data.json", "../main.py", `${"a/".repeat(150)}x.py`, 7, { toString: "main.py" }, ["main.py"], null]) {
      expect(reply(forged), JSON.stringify(forged)).toEqual({ line: 2, column: 1 });
    }
    // A code request has no files to name.
    expect(pythonPosition({ name: "E", message: "m", line: 1, file: "code" }, programSource({ code: "1", language: "python" }))).toEqual({ line: 1, column: 1 });
  });

  it("reads /validate's answer field by field and refuses one that is not a list", () => {
    const raw = JSON.stringify([
      { message: "bad", line: 1, column: 2, file: "lib/x.py" },
      { message: 5, line: "1", file: "/etc/passwd" },
      "not an issue",
      ...Array.from({ length: 100 }, () => ({ message: "more", file: "main.py" })),
    ]);
    const issues = checkIssues(raw, source);
    expect(issues).toHaveLength(50);
    expect(issues.slice(0, 3)).toEqual([
      { code: "SYNTAX_ERROR", message: "bad", file: "lib/x.py", line: 1, column: 2 },
      { code: "SYNTAX_ERROR", message: "invalid syntax" },
      { code: "SYNTAX_ERROR", message: "invalid syntax" },
    ]);
    expect(() => checkIssues(JSON.stringify({ message: "x" }), source)).toThrow(/malformed/);
    expect(() => checkIssues(5, source)).toThrow(/malformed/);
  });
});

describe("python files: one language per program", () => {
  it.each([
    [{ files: { "main.py": "1", "lib.js": "export const a = 1" } }, 'files["lib.js"] cannot be part of a Python program (entry "main.py")'],
    [{ files: { "main.py": "1", "types.ts": "" } }, 'files["types.ts"] cannot be part of a Python program'],
    [{ files: { "main.js": "return 1", "util.py": "x = 1" } }, 'files["util.py"] cannot be part of a JavaScript/TypeScript program (entry "main.js")'],
    [{ files: { "main.ts": "import d from './notes.txt'; return d", "notes.txt": "x" } }, 'files["notes.txt"] cannot be part of a JavaScript/TypeScript program'],
    [{ language: "python", files: { "main.ts": "return 1" } }, 'language is python but the entry "main.ts" is not a .py file'],
    [{ files: { "main.py": "1", "data.json": "{}" }, entry: "data.json" }, "must be a JavaScript, TypeScript or Python file"],
    [{ files: { "main.py": "1", "README.md": "" } }, "needs one of the extensions .js, .mjs, .ts, .mts, .json, .py, .txt, .csv"],
  ])("answers 400 naming the file for %j", async (body, message) => {
    expect(await refused(body)).toContain(message);
  });

  it("refuses them at /validate too", async () => {
    const response = await post("/validate", { files: { "main.js": "import './x.py'", "x.py": "" } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('files["x.py"]');
  });
});

describe("python files: history", () => {
  it("records the files, the entry and the language", async () => {
    const files = { "main.py": "from util import n\nn + 1", "util.py": "n = 41\n", "data.csv": "a\n1\n" };
    const result = await run(files);
    expect(result).toMatchObject({ success: true, result: 42 });
    const record = (await (await exports.default.fetch(`${BASE}/executions/${result.executionId}`)).json()) as ExecutionRecord;
    expect(record).toMatchObject({ files, entry: "main.py", code: "from util import n\nn + 1", language: "python", status: "success" });
  });
});
