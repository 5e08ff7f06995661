# The Python side of the sandbox harness (harness.js runs it in a fresh globals dict before the user's code).
# It defines run(), which harness.js awaits once; the user's code runs in its own globals, with `context`, ai(),
# api(), db() and CapabilityError, and sees none of the names below.
#
# Keep in sync with worker/execution/child-protocol.ts (the reply fields) and sandbox-template/encode.js (the
# result encoding: the same JSON and the same "$type" tags, so a result reads the same from either language).

import ast as _ast
import dataclasses as _dataclasses
import datetime as _datetime
import linecache as _linecache
import logging as _logging
import math as _math
import os as _os
import random as _random
import sys as _sys
import time as _time
import traceback as _traceback
import types as _types
from importlib.machinery import ModuleSpec as _ModuleSpec, PathFinder as _PathFinder
# Bound now, before user code exists: code that replaces json.dumps / json.loads changes nothing for the harness.
from json import dumps as _dumps, loads as _loads

USER_FILENAME = "<code>"
# A multi-file program's files are written here, and it is the working directory: open("data.json") reads them.
PROGRAM_ROOT = "/program"
_SAFE_INTEGER = 2**53 - 1


class CapabilityError(Exception):
    """Raised by ai(), api() and db() when a call is denied or fails; .code is the capability's error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _encode(value, max_chars, max_depth, max_nodes):
    """Python value -> (JSON text, truncated), like encode.js: JSON where JSON can say it, "$type" tags elsewhere."""
    state = {"budget": max_chars, "nodes": 0, "truncated": False}
    seen = set()

    def cut(why):
        state["truncated"] = True
        return {"$type": "truncated", "reason": why}

    def walk(v, depth):
        state["nodes"] += 1
        if state["nodes"] > max_nodes:
            state["budget"] = 0
            return cut(f"more than {max_nodes} values")
        if state["budget"] <= 0:
            return cut(f"output larger than {max_chars} characters")
        if v is None:
            state["budget"] -= 4
            return None
        if v is True or v is False:
            state["budget"] -= 5
            return v
        if isinstance(v, int):
            state["budget"] -= 24
            # JavaScript's numbers lose integers past 2**53; the same tag as a JavaScript BigInt keeps every digit.
            if -_SAFE_INTEGER <= v <= _SAFE_INTEGER:
                return int(v)
            try:
                return {"$type": "bigint", "value": str(v)}
            except ValueError:
                return cut("integer has too many digits")
        if isinstance(v, float):
            state["budget"] -= 8
            if _math.isfinite(v):
                return 0 if v == 0 else float(v)
            return {"$type": "number", "value": "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")}
        if isinstance(v, str):
            if len(v) > state["budget"]:
                kept = v[: max(0, state["budget"])]
                state["budget"] = 0
                state["truncated"] = True
                return {"$type": "truncated", "reason": "string too long", "length": len(v), "preview": kept}
            state["budget"] -= len(v) + 2
            return str(v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            state["budget"] -= 24
            return {"$type": "bytes", "kind": type(v).__name__, "byteLength": len(v) if not isinstance(v, memoryview) else v.nbytes}
        if isinstance(v, (_types.FunctionType, _types.BuiltinFunctionType, _types.MethodType, type)):
            state["budget"] -= 24
            return {"$type": "function", "name": getattr(v, "__name__", "")}
        if isinstance(v, _datetime.datetime):
            return v.isoformat()
        if isinstance(v, (_datetime.date, _datetime.time)):
            return v.isoformat()
        if id(v) in seen:
            return {"$type": "circular"}
        if depth >= max_depth:
            return cut(f"nested deeper than {max_depth} levels")
        seen.add(id(v))
        try:
            return walk_container(v, depth)
        finally:
            seen.discard(id(v))

    def walk_container(v, depth):
        if isinstance(v, BaseException):
            return {"$type": "Error", "name": type(v).__name__, "message": str(v)}
        if isinstance(v, dict):
            out = {}
            for key, item in v.items():
                if state["budget"] <= 0:
                    out["$truncated"] = cut("object too large")
                    break
                # JSON object keys are strings; json.dumps turns None/bool/number keys into text the same way.
                k = key if isinstance(key, str) else _dumps(key) if isinstance(key, (int, float, bool)) or key is None else str(key)
                state["budget"] -= len(k) + 4
                out[k] = walk(item, depth + 1)
            return out
        if isinstance(v, (list, tuple)):
            out = []
            for item in v:
                if state["budget"] <= 0:
                    out.append(cut(f"array of {len(v)} items cut"))
                    break
                out.append(walk(item, depth + 1))
            state["budget"] -= 2
            return out
        if isinstance(v, (set, frozenset)):
            values = []
            for item in v:
                if state["budget"] <= 0:
                    values.append(cut("set too large"))
                    break
                values.append(walk(item, depth + 1))
            return {"$type": "Set", "values": values}
        if _dataclasses.is_dataclass(v) and not isinstance(v, type):
            return walk({f.name: getattr(v, f.name) for f in _dataclasses.fields(v)}, depth)
        if hasattr(v, "__await__"):
            return {"$type": "Promise"}
        return {"$type": "object", "constructor": type(v).__name__}

    tree = walk(value, 0)
    return _dumps(tree, ensure_ascii=False, allow_nan=False), state["truncated"]


class _LineStream:
    """sys.stdout / sys.stderr: one log entry per line, in order with logging's entries."""

    def __init__(self, bridge, level):
        self._bridge = bridge
        self._level = level
        self._pending = ""

    def write(self, text):
        text = str(text)
        self._pending += text
        if "\n" in self._pending:
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._bridge.log(self._level, line)
        return len(text)

    def flush(self):
        if self._pending:
            line, self._pending = self._pending, ""
            self._bridge.log(self._level, line)

    def isatty(self):
        return False

    def writable(self):
        return True


_LEVELS = ((_logging.ERROR, "error"), (_logging.WARNING, "warn"), (_logging.INFO, "info"))


class _LogHandler(_logging.Handler):
    def __init__(self, bridge):
        super().__init__(_logging.DEBUG)
        self._bridge = bridge

    def emit(self, record):
        try:
            level = next((name for threshold, name in _LEVELS if record.levelno >= threshold), "debug")
            self._bridge.log(level, self.format(record))
        except Exception:
            self.handleError(record)


_GUARD_TOOL_ID = 4
_ONE = (0,)


def _watch_calls():
    """Makes every Python function start tick the signal check that runs the guard (harness.js).

    CPython checks it on backward jumps only, so recursion without a loop never reached the guard: an exponential
    `try: f() except RecursionError: f()` ran forever and wedged the local runtime. The loop in _tick is that
    backward jump. Costs a callback per call, nothing per loop iteration. sys.monitoring is then removed from sys;
    code that digs it out and switches this off is still stopped by production's CPU limit (locally it is not).
    """
    monitoring = _sys.monitoring

    def _tick(code, offset):
        for _ in _ONE:
            pass

    monitoring.use_tool_id(_GUARD_TOOL_ID, "code-exec guard")
    monitoring.register_callback(_GUARD_TOOL_ID, monitoring.events.PY_START, _tick)
    monitoring.set_events(_GUARD_TOOL_ID, monitoring.events.PY_START)
    _sys.modules.pop("sys.monitoring", None)
    del _sys.monitoring


# The file names of the user's own frames: <code> for a code request, the program's .py paths for a files request.
_user_files = frozenset((USER_FILENAME,))
_multi_file = False


def _user_frames(tb):
    return [frame for frame in _traceback.extract_tb(tb) if frame.filename in _user_files]


def _describe(error):
    """An exception -> the reply's error: class name, message, the user's own frames as the stack, its position."""
    name = type(error).__name__
    message = str(error)
    if isinstance(error, ModuleNotFoundError) and error.name and error.name.split(".")[0] not in _sys.stdlib_module_names:
        where = "it is not among the program's files, and " if _multi_file else ""
        message = f"No module named '{error.name}': {where}only the Python standard library is available (third-party packages cannot be installed)"
    frames = _user_frames(error.__traceback__)
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    lines.append(f"{name}: {message}" if message else name)
    described = {"name": name, "message": message, "stack": "\n".join(lines)}
    if frames:
        described["line"] = frames[-1].lineno
        if frames[-1].colno is not None:
            described["column"] = frames[-1].colno + 1
        if _multi_file:
            described["file"] = frames[-1].filename
    if isinstance(error, CapabilityError) and isinstance(error.code, str):
        described["code"] = error.code
    elif type(error) is MemoryError:
        # The interpreter's heap is capped (on the sandbox plane: the host's --wasm-max-mem-pages): a resource
        # limit, like the JavaScript heap's, not a bug in the code. (A program raising MemoryError itself says so too.)
        described["code"] = "RESOURCE_LIMIT"
        if not message:
            described["message"] = "Python ran out of memory: the sandbox's memory is limited"
    return described


def _syntax_error(error, file=None):
    described = {"name": type(error).__name__, "message": str(error.msg), "code": "SYNTAX_ERROR"}
    if error.lineno:
        described["line"] = error.lineno
    if error.offset:
        described["column"] = error.offset
    if file is not None:
        described["file"] = file
    return described


def compile_user_code(code, filename=USER_FILENAME):
    """The SyntaxError (or None) that compiling the user's code raises. /validate and /execute use the same check."""
    from pyodide.code import CodeRunner

    try:
        return CodeRunner(code, filename=filename, flags=_ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dedent=False).compile(), None
    except (SyntaxError, ValueError) as error:
        if not isinstance(error, SyntaxError):
            error = SyntaxError(str(error))
        return None, _syntax_error(error, None if filename == USER_FILENAME else filename)


def compile_program(code, program):
    """Compiles the entry as `code` is compiled, and each other .py file of a files request as an ordinary module
    (no top-level await, no flags inherited from here), under the caller's own path, before anything runs: a
    syntax error anywhere rejects the program, as /validate says. -> (runner, {path: code object}, [issues])."""
    if program is None:
        runner, issue = compile_user_code(code)
        return runner, {}, [] if issue is None else [issue]
    entry = program["entry"]
    runner, issue = compile_user_code(code, entry)
    issues = [] if issue is None else [issue]
    codes = {}
    for path, source in program["files"].items():
        if path == entry or not path.endswith(".py"):
            continue
        try:
            codes[path] = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            if not isinstance(error, SyntaxError):
                error = SyntaxError(str(error))
            issues.append(_syntax_error(error, path))
    return runner, codes, issues


class _ProgramImporter:
    """The finder and loader of a files request's modules, on sys.meta_path ahead of the path finder (so, as a
    script's own directory does in CPython, the program's files shadow standard library modules not yet imported).

    Names resolve from the program's root whatever the entry's directory: `util` is util.py, `lib` is
    lib/__init__.py, else lib.py, else the directory lib/ (a package without an __init__.py, as CPython's namespace
    packages are); `lib.x` likewise inside lib/. The entry is found but refuses to load (exec_module). Modules run the code objects compile_program made, whose file
    names are the caller's paths: tracebacks, __file__ and the reply's error name "lib/x.py", never PROGRAM_ROOT.
    """

    def __init__(self, entry, codes, directories):
        self._entry = entry
        self._codes = codes
        self._directories = directories

    def find_spec(self, fullname, path=None, target=None):
        if "/" in fullname:
            return None
        base = fullname.replace(".", "/")
        for origin, is_package in ((base + "/__init__.py", True), (base + ".py", False)):
            if origin in self._codes or origin == self._entry:
                spec = _ModuleSpec(fullname, self, origin=origin, is_package=is_package)
                spec.has_location = True
                if is_package:
                    spec.submodule_search_locations = [base]
                return spec
        if base in self._directories:
            spec = _ModuleSpec(fullname, self, is_package=True)
            spec.submodule_search_locations = [base]
            return spec
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        origin = module.__spec__.origin
        if origin == self._entry:
            # As in a JavaScript program: the entry is the program's body (top-level await, a result), not a module.
            raise ImportError(f"{origin} is the program's entry and cannot be imported; move what other files need into a module of its own", name=module.__name__)
        code = self._codes.get(origin)
        if code is not None:
            exec(code, module.__dict__)


def _install_program(program, codes):
    """Writes every file of a files request under PROGRAM_ROOT, makes it the working directory (and sys.path[0],
    for modules the code writes itself), gives linecache every source (tracebacks show lines even if the code
    rewrites its files) and puts the program's importer before the path finder."""
    global _user_files, _multi_file
    directories = set()
    for path, source in program["files"].items():
        parts = path.split("/")
        for depth in range(1, len(parts)):
            directories.add("/".join(parts[:depth]))
        full = f"{PROGRAM_ROOT}/{path}"
        _os.makedirs(_os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as handle:
            handle.write(source)
        if path.endswith(".py"):
            _linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    _os.chdir(PROGRAM_ROOT)
    _sys.path.insert(0, PROGRAM_ROOT)
    finders = _sys.meta_path
    at = next((i for i, finder in enumerate(finders) if finder is _PathFinder), len(finders))
    finders.insert(at, _ProgramImporter(program["entry"], codes, directories))
    _user_files = frozenset(path for path in program["files"] if path.endswith(".py"))
    _multi_file = True


def check(code, program_json="null"):
    _, _, issues = compile_program(code, _loads(program_json))
    return _dumps(issues)


async def run(code, context_json, bridge, max_chars, max_depth, max_nodes, program_json="null"):
    program = _loads(program_json)
    runner, codes, issues = compile_program(code, program)
    if issues:
        return _dumps({"status": "error", "error": issues[0]})

    # The snapshot froze the generator's state: without this every run would draw the same numbers.
    _random.seed()
    # time.sleep busy-waits in libc, outside the signal checks; this one never waits past the deadline (harness.js).
    _time.sleep = bridge.sleep

    if program is not None:
        _install_program(program, codes)
    _watch_calls()

    stdout = _LineStream(bridge, "log")
    stderr = _LineStream(bridge, "error")
    _sys.stdout, _sys.stderr = stdout, stderr
    root = _logging.getLogger()
    root.handlers[:] = [_LogHandler(bridge)]
    root.setLevel(_logging.DEBUG)

    async def capability(call, *args):
        reply = _loads(await call(*args))
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            error = (reply.get("error") if isinstance(reply, dict) else None) or {}
            raise CapabilityError(str(error.get("code", "SANDBOX_ERROR")), str(error.get("message", "capability returned a malformed reply")))
        return reply.get("value")

    async def ai(model, input):
        return await capability(bridge.ai, model, _dumps(input))

    async def api(url, options=None):
        # Omitted options stay omitted (JavaScript's api(url)); None would be a null the policy rejects.
        if options is None:
            return await capability(bridge.api, url)
        return await capability(bridge.api, url, _dumps(options))

    async def db(query):
        return await capability(bridge.db, _dumps(query))

    scope = {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "context": _loads(context_json),
        "ai": ai,
        "api": api,
        "db": db,
        "CapabilityError": CapabilityError,
    }
    if program is not None:
        scope["__file__"] = program["entry"]
    try:
        value = await runner.run_async(scope)
    except SystemExit as stop:
        # sys.exit() ends the program: 0/None is success without a result, anything else an error.
        if stop.code is None or stop.code == 0:
            return _dumps({"status": "success"})
        return _dumps({"status": "error", "error": {"name": "SystemExit", "message": str(stop.code)}})
    except BaseException as error:
        return _dumps({"status": "error", "error": _describe(error)})
    finally:
        stdout.flush()
        stderr.flush()
    if value is None:
        return _dumps({"status": "success"})
    result_json, truncated = _encode(value, max_chars, max_depth, max_nodes)
    reply = {"status": "success", "resultJson": result_json}
    if truncated:
        reply["resultTruncated"] = True
    return _dumps(reply)
