# The Python side of the sandbox harness (harness.js runs it in a fresh globals dict before the user's code).
# It defines run(), which harness.js awaits once; the user's code runs in its own globals, with `context`, ai(),
# api(), db() and CapabilityError, and sees none of the names below.
#
# Keep in sync with worker/execution/child-protocol.ts (the reply fields) and sandbox-template/encode.js (the
# result encoding: the same JSON and the same "$type" tags, so a result reads the same from either language).

import ast as _ast
import dataclasses as _dataclasses
import datetime as _datetime
import logging as _logging
import math as _math
import random as _random
import sys as _sys
import time as _time
import traceback as _traceback
import types as _types
# Bound now, before user code exists: code that replaces json.dumps / json.loads changes nothing for the harness.
from json import dumps as _dumps, loads as _loads

USER_FILENAME = "<code>"
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


def _user_frames(tb):
    return [frame for frame in _traceback.extract_tb(tb) if frame.filename == USER_FILENAME]


def _describe(error):
    """An exception -> the reply's error: class name, message, the user's own frames as the stack, its position."""
    name = type(error).__name__
    message = str(error)
    if isinstance(error, ModuleNotFoundError) and error.name and error.name.split(".")[0] not in _sys.stdlib_module_names:
        message = f"No module named '{error.name}': only the Python standard library is available (third-party packages cannot be installed)"
    frames = _user_frames(error.__traceback__)
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines.append(f'  File "{USER_FILENAME}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line.strip()}")
    lines.append(f"{name}: {message}" if message else name)
    described = {"name": name, "message": message, "stack": "\n".join(lines)}
    if frames:
        described["line"] = frames[-1].lineno
        if frames[-1].colno is not None:
            described["column"] = frames[-1].colno + 1
    if isinstance(error, CapabilityError) and isinstance(error.code, str):
        described["code"] = error.code
    elif type(error) is MemoryError:
        # The interpreter's heap is capped (on the sandbox plane: the host's --wasm-max-mem-pages): a resource
        # limit, like the JavaScript heap's, not a bug in the code. (A program raising MemoryError itself says so too.)
        described["code"] = "RESOURCE_LIMIT"
        if not message:
            described["message"] = "Python ran out of memory: the sandbox's memory is limited"
    return described


def _syntax_error(error):
    described = {"name": type(error).__name__, "message": str(error.msg), "code": "SYNTAX_ERROR"}
    if error.lineno:
        described["line"] = error.lineno
    if error.offset:
        described["column"] = error.offset
    return described


def compile_user_code(code):
    """The SyntaxError (or None) that compiling the user's code raises. /validate and /execute use the same check."""
    from pyodide.code import CodeRunner

    try:
        return CodeRunner(code, filename=USER_FILENAME, flags=_ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dedent=False).compile(), None
    except (SyntaxError, ValueError) as error:
        if not isinstance(error, SyntaxError):
            error = SyntaxError(str(error))
        return None, _syntax_error(error)


def check(code):
    _, issue = compile_user_code(code)
    return _dumps(issue)


async def run(code, context_json, bridge, max_chars, max_depth, max_nodes):
    runner, issue = compile_user_code(code)
    if issue is not None:
        return _dumps({"status": "error", "error": issue})

    # The snapshot froze the generator's state: without this every run would draw the same numbers.
    _random.seed()
    # time.sleep busy-waits in libc, outside the signal checks; this one never waits past the deadline (harness.js).
    _time.sleep = bridge.sleep

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
