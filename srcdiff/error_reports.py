"""Errors raised while running generated code, reported as SrcdiffErrors at the user's line.

A transform (api.Transformed, forward_api.ForwardTransformed) runs the generated function inside one
`try`; only on the exception path does `translate_error` read the exception: Numba's typing errors (at the
user's line whose generated statement Numba failed on, found through the `# line N:` comments of the
generated source the user reads), a derivative helper's own decline, an internal Numba crash.
"""
from __future__ import annotations

import linecache
import os
import re
import traceback

from .errors import SrcdiffError
from .makers import user_location


def translate_error(exc, t, fn=None):
    import numba
    msg = str(exc)
    if isinstance(exc, TypeError) and getattr(t, "jit", False) and re.fullmatch(r"expected .+, got None", msg):
        _decline_untyped_placeholder(msg, t, fn)
    if "needs a scalar output" in msg:
        inner = t.f     # grad(grad(f)): user_location names f, not srcdiff's generated file
        raise SrcdiffError(f"grad of {getattr(t.f, '__name__', t.f)}: the function returned a non-scalar",
                           *user_location(inner),
                           advice="use srcdiff.vjp (with a cotangent) or srcdiff.jacobian for array outputs") from None
    if isinstance(exc, (numba.core.errors.TypingError, numba.core.errors.NotDefinedError)):
        for fn in _rule_functions_in(t):
            if f"CPUDispatcher({fn!r})" in msg:
                code = fn.__code__
                raise SrcdiffError(f"Numba could not compile {fn.__name__}, registered with srcdiff.adjoint: "
                                   "under jit=True the generated code calls it compiled with numba.njit\n"
                                   f"    {_numba_reason(msg)}", code.co_filename,
                                   code.co_firstlineno, advice=f"write {fn.__name__} in code Numba compiles "
                                   "(NumPy arrays and floats), or use jit=False") from exc
        where, line = _numba_location(msg, t)
        raise SrcdiffError(f"Numba could not compile the generated code for {getattr(t.f, '__name__', t.f)}"
                           f"{' at this line' if line else ''}: {_numba_detail(msg) or repr(exc)}{line}", *where,
                           advice="run with jit=False to get a Python traceback through the generated "
                                  "source, or see srcdiff.source(...)") from exc
    if (isinstance(exc, ValueError) and len(exc.args) == 2 and "srcdiff differentiates" in str(exc.args[0])
            and _from_runtime(exc)):
        # a derivative helper met what its rule does not cover (a stack of matrices whose rank the compiler
        # could not see, an asymmetric matrix for eigh): declined at the user's function, with the helper's advice
        raise SrcdiffError(f"{getattr(t.f, '__name__', t.f)}: {exc.args[0]}", *user_location(t),
                           advice=str(exc.args[1])) from exc
    if _from_numba_compiler(exc):
        # an internal Numba failure (AttributeError, KeyError, ... from its lowering) on generated code:
        # still srcdiff's error to report, at the user's line that made the statement where Numba can tell it
        where, line = _numba_location(msg, t)
        raise SrcdiffError(f"Numba crashed compiling the generated code for {getattr(t.f, '__name__', t.f)}"
                           f"{' at this line' if line else ''} ({type(exc).__name__}: {_numba_detail(msg)}){line}",
                           *where,
                           advice="run with jit=False (the Python backend), and please report this with "
                                  "srcdiff.source(...) of the function") from exc
    raise exc


def _decline_untyped_placeholder(msg, t, fn):
    """Numba met a placeholder `v = None` (a value bound on some paths only whose type srcdiff could not
    infer) where it needed a value: a SrcdiffError at the user's line that binds v, not Numba's TypeError."""
    code = getattr(getattr(fn, "py_func", fn), "__code__", None)
    lines = linecache.getlines(code.co_filename) if code else []
    names = sorted({m.group(1) for ln in lines for m in [re.fullmatch(r"\s+(\w+) = None\n?", ln)] if m})
    user_file, def_line = user_location(t)
    where, bound = (user_file, def_line), []
    for v in names:   # the user's name v and the first line of the user's function that assigns it
        hit = next((m for ln in lines for m in [re.search(r"# line (\d+): (.*)", ln)]
                    if m and re.match(rf"\s*(\w+\s*,\s*)*{v}\s*(,\s*\w+\s*)*[-+*/@%]?=(?!=)", m.group(2))), None)
        if hit:
            bound.append(f"{v} (line {hit.group(1)})")
            if where == (user_file, def_line):
                where = (user_file, int(hit.group(1)))
    what = ", ".join(bound) or ", ".join(names) or "a value"
    raise SrcdiffError(f"under jit=True, {getattr(t.f, '__name__', t.f)}: {what} is bound on some paths only and "
                       f"srcdiff could not infer its type, so the compiled code met its placeholder None where it "
                       f"needed a value ({msg})", *where,
                       advice="bind it before the branch or loop with a value of its type (0.0, np.zeros(n)), "
                              "or use jit=False") from None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _numba_detail(msg: str) -> str:
    """The line of a Numba error message that says what failed (a helper's own TypingError when there is
    one, else the first line that is not Numba's pipeline banner)."""
    lines = [ln.strip() for ln in _ANSI.sub("", msg).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("TypingError: ") or ln.startswith("srcdiff: "):
            return ln.split("TypingError: ", 1)[-1]
    for k, ln in enumerate(lines):
        if ln.startswith("No implementation of function") and k + 2 < len(lines):
            return f"{ln} {lines[k + 2].lstrip('>').strip()}"
    rest = [ln for ln in lines if not ln.startswith("Failed in ")]
    return (rest or lines or [""])[0]


def _numba_location(msg: str, t) -> tuple:
    """((file, line), '\n    <its text>') of the user's line whose generated statement Numba failed on: the error
    names a line of the generated module, and the comment above that statement names the user's line
    (`# line K: ...`, or `# name, line K: ...` for a function inlined into it); else the user's def."""
    text = _ANSI.sub("", msg)
    last = getattr(t, "last", None)     # a Transformed's or ForwardTransformed's Specialisation
    source, module = (last.source, last.module) if last else ("", None)
    found = [int(n) for path, n in re.findall(r'File "([^"]+)", line (\d+)', text)
             + re.findall(r"typing of [^\n]* at (\S+) \((\d+)\)", text)
             if os.path.basename(path).startswith(getattr(module, "entry", "?") + "_")] if source else []
    lines = source.splitlines()
    for n in found:
        for k in range(min(n, len(lines)) - 1, -1, -1):
            m = re.match(r"\s*# (?:(\w+), )?line (\d+): (.*)", lines[k])
            if m:
                file = user_location(t)[0]
                for unit in getattr(module, "units", {}).values():
                    if m.group(1) and getattr(unit, "name", None) == m.group(1):
                        file = unit.filename
                return (file, int(m.group(2))), f"\n    {m.group(3).strip()}"
            if re.match(r"def \w+\(", lines[k]):
                break
    return user_location(t), ""


def _from_runtime(exc) -> bool:
    mark = os.path.join("srcdiff", "runtime") + os.sep
    return any(mark in f.filename for f in traceback.extract_tb(exc.__traceback__))


def _numba_reason(msg: str) -> str:
    """The first specific line of a Numba typing error (no colour codes, past 'Failed in ... pipeline')."""
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", msg).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Failed in", "'Failed in"))]
    return lines[0] if lines else msg


def _rule_functions_in(t) -> list:
    """The srcdiff.adjoint functions the generated module behind `t` calls."""
    from .backends import is_user_rule_function
    module = t.last.module if getattr(t, "last", None) else None
    return [obj for obj in getattr(module, "bindings", {}).values() if is_user_rule_function(obj)]


def _from_numba_compiler(exc) -> bool:
    mark = os.path.join("numba", "core", "compiler.py")
    return any(f.filename.endswith(mark) for f in traceback.extract_tb(exc.__traceback__))
