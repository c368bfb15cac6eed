"""Errors raised while running generated code, reported as SrcdiffErrors at the user's line.

A transform (api.Transformed, forward_api.ForwardTransformed) runs the generated function inside one
`try`; only on the exception path does `translate_error` read the exception: Numba's typing errors (at the
user's line whose generated statement Numba failed on, by the module's line table, generated.Lines), a
derivative helper's own decline, an internal Numba crash, and the generated code failing on the call's
arguments (a broadcast or matmul shape mismatch, an index out of range: errors.FailedOnArguments, which is
also the exception NumPy raised). Compiled code's exceptions carry no line: such a failure is located by
running the same module as Python on copies of the arguments, within RERUN_SECONDS.
"""
from __future__ import annotations

import ast
import copy
import inspect
import linecache
import os
import re
import sys
import time
import traceback
import warnings

import numpy as np

from . import backends, user_spelling
from .cachedir import is_generated_file, is_generated_module
from .errors import SrcdiffError, runtime_error_type
from .makers import user_function, user_location
from .transforms import aliasing


def translate_error(exc, t, fn=None, args=None):
    """Raise the error to report for `exc`, raised calling `fn` (the generated function behind transform `t`;
    None: t.last's) with `args` (None: unknown): a SrcdiffError at the user's line where srcdiff can name
    it, else `exc` itself."""
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
        _python_fails_too(t, fn, args)
        where, line = _numba_location(msg, t)
        detail = _numba_names_as_the_users(_numba_detail(msg), t) or repr(exc)
        raise SrcdiffError(f"Numba could not compile the generated code for {getattr(t.f, '__name__', t.f)}"
                           f"{' at this line' if line else ''}: {detail}{line}", *where,
                           advice=_scalar_or_array_advice(msg, t) or "run with jit=False to get a Python traceback "
                                  "through the generated source, or see srcdiff.source(...)") from exc
    if (isinstance(exc, ValueError) and len(exc.args) == 2 and "srcdiff differentiates" in str(exc.args[0])
            and _from_runtime(exc)):
        # a derivative helper met what its rule does not cover (a stack of matrices whose rank the compiler
        # could not see, an asymmetric matrix for eigh): declined at the user's function, with the helper's advice
        raise SrcdiffError(f"{getattr(t.f, '__name__', t.f)}: {exc.args[0]}", *user_location(t),
                           advice=str(exc.args[1])) from exc
    if _from_numba_compiler(exc):
        # an internal Numba failure (AttributeError, KeyError, ... from its lowering) on generated code:
        # still srcdiff's error to report, at the user's line that made the statement where Numba can tell it
        _python_fails_too(t, fn, args)
        where, line = _numba_location(msg, t)
        raise SrcdiffError(f"Numba crashed compiling the generated code for {getattr(t.f, '__name__', t.f)}"
                           f"{' at this line' if line else ''} ({type(exc).__name__}: {_numba_detail(msg)}){line}",
                           *where,
                           advice="run with jit=False (the Python backend), and please report this with "
                                  "srcdiff.source(...) of the function") from exc
    failed = runtime_error_type(exc)
    if failed is not None:
        _report_failure(failed, exc, t, fn, args)
    raise exc


def _python_fails_too(t, fn, args):
    """Numba could not compile the generated code for these arguments: where the same module run as Python fails on
    them (as f does: `np.split(v, 2, axis=1)` of a vector, NumPy's IndexError, is a slice of an axis v lacks, which
    Numba cannot type), raise that failure as the Python backend reports it, at the user's line, with NumPy's exception
    type and message, not "Numba could not compile"; else return."""
    if args is None:
        return
    again = _rerun_in_python(t, fn, args)
    failed = runtime_error_type(again) if again is not None else None
    if failed is not None and _generated_line(again.__traceback__) is not None:
        _report_failure(failed, again, t, fn, args)


_SCALAR_OR_ARRAY = re.compile(r"Cannot unify (?:Literal\[\w+\]\([^)]*\)|u?int\d+|float\d+|bool) and "
                              r"array\([^)]*\) for '([A-Za-z_]\w*?)(?:\.\d+)?'"
                              r"|Cannot unify array\([^)]*\) and (?:Literal\[\w+\]\([^)]*\)|u?int\d+|float\d+|bool) "
                              r"for '([A-Za-z_]\w*?)(?:\.\d+)?'")


def _scalar_or_array_advice(msg, t):
    """Advice for Numba's "Cannot unify float64 and array(...) for 'acc.3'": a local name of the user's function
    that is a number on one path and an array on another (`acc = 0` before a loop that adds arrays to it), which
    Python runs and Numba, typing each name once, cannot; None for any other message or name."""
    m = _SCALAR_OR_ARRAY.search(msg)
    if m is None:
        return None
    name = m.group(1) or m.group(2)
    code = getattr(user_function(t), "__code__", None)
    if re.fullmatch(r"(d_)*result(\d+(v\d+)?)?", name) and (code is None or name not in code.co_varnames):
        # srcdiff's name for what a function returns (a helper's, inlined, or a recursive one's, which stays a call),
        # or its tangent's (d_result, forward mode)
        return ("a function of yours returns a number on one path and an array on another (as `return 1.0` where a "
                "recursion ends and `return x * rec(x, n - 1)` elsewhere): Numba gives a function's result one type. "
                "Return arrays on every path (`return np.ones_like(x)`), or use jit=False")
    if code is not None and name not in code.co_varnames:
        name = re.sub(r"\d+$", "", name)     # (a copy the generated code made of it: y2 of y)
    if code is None or name not in code.co_varnames:
        return None
    return (f"`{name}` is a number on one path and an array on another (as `{name} = 0` before a loop that adds "
            f"arrays to it): Numba gives each name one type. Start it as an array of the shape it takes "
            f"(`{name} = np.zeros(n)`, `np.zeros_like(...)`), or use jit=False")


def _report_failure(cls, exc, t, fn, args):
    """Raise `cls` (errors.runtime_error_type's) for `exc`, raised by the generated function: at the user's line
    whose generated statement raised it, read off the traceback through the generated module (the Python
    backend), or, as compiled code's exceptions carry no line, off the traceback of the same module run as
    Python on copies of the arguments (within RERUN_SECONDS); at the user's def line if neither tells."""
    message, where = _own_message(exc), _generated_line(exc.__traceback__)
    if where is None and args is not None:
        again = _rerun_in_python(t, fn, args)
        # (Python's may be narrower: NumPy's AxisError where the compiled code raised a ValueError, its message a
        # constant; it is the one f raises, reported at its line)
        if again is not None and isinstance(again, cls.__bases__[1]):
            where = _generated_line(again.__traceback__)
            if where:
                cls, exc, message = runtime_error_type(again), again, _own_message(again)
    name = getattr(user_function(t), "__name__", "f")
    cited = user_line(*where, t) if where else None
    given = _describe_arguments(t, args)
    if cited is None:
        raise cls(f"{name} failed for these arguments{given}: {type(exc).__name__}: {message}", *user_location(t),
                  advice=("compiled code's errors name no line (and srcdiff could not find it running the code as "
                          f"Python within {RERUN_SECONDS:g} s): run it with jit=False for the line that raised it; "
                          if getattr(t, "jit", False) else "") + "srcdiff.source(...) shows the generated code") from None
    file, line, text, backward = cited
    if backward:
        raise cls(f"{name}: the derivative of this line failed for these arguments{given}: "
                  f"{type(exc).__name__}: {message}\n    {text}", file, line,
                  advice=f"check the arguments against this line; if {name} itself runs with them, please report "
                         "this with srcdiff.source(...) of the gradient") from None
    raise cls(f"{name}: this line fails for these arguments{given}: {type(exc).__name__}: {message}\n    {text}",
              file, line, advice=f"{name} itself fails on them: check the arguments' shapes (and the indices "
                                 "they give) against this line") from None


RERUN_SECONDS = 5.0     # the most a compiled function's failure is rerun as Python to find its line


class _OutOfTime(Exception):
    """The Python rerun of a failed compiled function took longer than RERUN_SECONDS."""


def _rerun_in_python(t, fn, args):
    """The exception the generated module of `t`'s last specialisation raises run as Python on copies of
    `args` (Python floats as np.float64, as the Python backend passes them), or None: it ran, took too long,
    or its Python form is not at hand. Only a failed call pays for it."""
    python = _python_function(t, fn)
    if python is None:
        return None
    args = tuple(np.float64(a) if type(a) is float else a for a in copy.deepcopy(tuple(args)))
    deadline = time.monotonic() + RERUN_SECONDS

    def line(frame, event, arg):
        if time.monotonic() > deadline:
            raise _OutOfTime
        return line

    def call(frame, event, arg):     # time only the generated functions' lines
        return line if is_generated_module(frame.f_globals.get("__name__")) else None

    timed = sys.gettrace() is None    # (under a debugger or coverage: run without a limit)
    if timed:
        sys.settrace(call)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            python(*args)
    except _OutOfTime:
        return None
    except Exception as again:      # noqa: BLE001 -- the caller compares it with the compiled code's
        return again
    finally:
        if timed:
            sys.settrace(None)
    return None


def _python_function(t, fn):
    """The entry function of `t`'s last specialisation loaded as plain Python (the module the user reads: every
    function of it Python), else `fn`'s own Python function (its calls into the module compiled), else None."""
    last = getattr(t, "last", None)
    module, made = getattr(last, "module", None), getattr(last, "generated", None)
    if made is not None and hasattr(module, "bindings") and getattr(module, "entry", None):
        return getattr(backends.load_module(made, module.bindings, module.entry, False), module.entry)
    fn = fn if fn is not None else getattr(last, "function", None)
    return getattr(fn, "py_func", None)


def _generated_line(tb) -> tuple | None:
    """(file, line) of the innermost statement of a generated module in traceback `tb` (one with a line
    table), None if it passes through none (compiled code)."""
    found = None
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if backends.lines_of(path) is not None:
            found = (path, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _own_message(exc) -> str:
    """`exc`'s message without the location Numba appends (a line of its own compiled kernel)."""
    lines = [ln for ln in str(exc).splitlines() if not re.match(r'\s*File ".*", line \d+', ln)]
    return " ".join(ln.strip() for ln in lines if ln.strip())


def _describe_arguments(t, args) -> str:
    """' (x: float64 (3,), n = 7)': the arguments of a call of the user's function, for a message."""
    if args is None:
        return ""
    try:
        names = list(inspect.signature(user_function(t)).parameters)
    except (TypeError, ValueError):
        names = []
    if len(names) != len(args) - _trailing(t):     # flattened tuples, or not the user's own parameters
        names = [f"#{k}" for k in range(len(args))]
    parts = []
    for name, a in zip(names, args):
        if isinstance(a, np.ndarray):
            parts.append(f"{name}: {a.dtype} {a.shape}")
        elif isinstance(a, (int, np.integer)) and not isinstance(a, bool):
            parts.append(f"{name} = {a}")
        else:
            parts.append(f"{name}: {type(a).__name__}")
    return f" ({', '.join(parts[:8])}{', ...' if len(parts) > 8 else ''})"


def _trailing(t) -> int:
    """How many arguments after the user's function's the generated function takes (a cotangent, tangents)."""
    mode = getattr(t, "mode", "jvp")     # forward_api's transforms have none: (*args, *tangents)
    return 1 if mode == "vjp" else len(t.wrt_names) if mode == "jvp" else 0


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
        if (ln.startswith("TypingError: ") or ln.startswith("srcdiff: ")) and not ln.startswith("TypingError: Failed in "):
            return ln.split("TypingError: ", 1)[-1]
    for k, ln in enumerate(lines):
        if ln.startswith("No implementation of function") and k + 2 < len(lines):
            return f"{ln} {lines[k + 2].lstrip('>').strip()}"
    rest = [ln for ln in lines if not ln.startswith("Failed in ")]
    return (rest or lines or [""])[0]


def _numba_names_as_the_users(detail: str, t) -> str:
    """Numba's `detail` of a typing failure in generated code with its variables spelled as the user's: "Cannot
    unify array(float64, 1d, C) and float64 for 'b2.2', defined at <generated file> (16)" names the generated
    code's version of b (and Numba's own version of that), at a line of a file the user never wrote; it says `b`,
    defined at the user's line that statement was made from (or the generated line is left out)."""
    def place(m):
        cited = user_line(m.group(1), int(m.group(2)), t) if is_generated_file(m.group(1)) else None
        if cited:
            return f", defined at line {cited[1]}"
        return "" if is_generated_file(m.group(1)) else m.group(0)
    detail = re.sub(r", defined at (\S+) \((\d+)\)", place, detail)
    users = _users_names(t)

    def one(m):
        spelled = user_spelling.spelled(m.group(1), users) if users else m.group(1)
        return f"`{spelled}`" if spelled in users else m.group(0)
    return re.sub(r"'([A-Za-z_]\w*?)(?:\.\d+)?'", one, detail)


def _users_names(t) -> set:
    """The names the user's functions that `t` transforms (through transforms of transforms) bind or read, with
    those of the functions they call (user_spelling.user_names)."""
    users: set = set()
    while t is not None:
        f = getattr(t, "f", None)
        if f is not None and not isinstance(f, type(t)):
            users |= user_spelling.user_names(f)
        t = f if f is not None and hasattr(f, "f") else None
    return users

def _numba_location(msg: str, t) -> tuple:
    """((file, line), '\n    <its text>') of the user's line whose generated statement Numba failed on: the error
    names a line of a generated module, whose line table (generated.Lines) says which user's line it was made
    from; else the user's def."""
    text = _ANSI.sub("", msg)
    for path, n in (re.findall(r'File "([^"]+)", line (\d+)', text)
                    + re.findall(r"typing of [^\n]* at (\S+) \((\d+)\)", text)):
        cited = user_line(path, int(n), t)
        if cited:
            return cited[:2], f"\n    {cited[2]}"
    return user_location(t), ""


def at_user_line(exc: SrcdiffError, t) -> SrcdiffError | None:
    """`exc`, which a pass raised at a line of a module srcdiff generated (a gradient differentiated again: its
    statements inlined into the function that calls it), raised at the user's line that generated line was made
    from (user_line), naming the generated line too; None where no line table tells."""
    cited = user_line(exc.filename, exc.lineno, t) if exc.filename and exc.lineno else None
    if cited is None:
        return None
    message, advice = _spelled_as_the_users(exc, t, _written_as(exc.filename, exc.lineno, cited[2]))
    quoted = re.search(rf"\n    line {exc.lineno}: (.*)$", message)
    if quoted:      # (the generated line's text, which a CUDA decline quotes: the user's line first, then that one)
        return SrcdiffError(f"{message[:quoted.start()]}\n    line {cited[1]}: {cited[2]}\n    (in the code srcdiff "
                            f"generated from this line, at {exc.filename}:{exc.lineno}: {quoted.group(1)})",
                            cited[0], cited[1], advice)
    return SrcdiffError(f"{message} (in the code srcdiff generated from this line, at {exc.filename}:"
                        f"{exc.lineno})\n    {cited[2]}", cited[0], cited[1], advice)


def _written_as(path: str, n: int, users_text: str) -> dict:
    """{the array line `n` of the generated module at `path` writes in place: the array the user's line
    (`users_text`) writes}, where both are element or slice writes of a name: after a swap the gradient writes
    through a version of the other name (`buf18v11[j] = ...` of the user's `buf2[j] = ...`), which spelled as the
    user's read "`buf18` shares memory with `buf18`" of a line that writes buf2. {} where either is not."""
    def written(text):
        try:
            st = ast.parse(text.strip()).body[0] if text and text.strip() else None
        except SyntaxError:
            return None
        t = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else getattr(st, "target", None)
        return t.value.id if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) else None
    try:
        with open(path) as fh:
            generated = written(fh.read().splitlines()[n - 1])
    except (OSError, IndexError):
        return {}
    user = written(users_text)
    return {generated: user} if generated and user else {}


def _spelled_as_the_users(exc: SrcdiffError, t, pinned: dict | None = None) -> tuple:
    """(message, advice) of `exc`, raised at a line of generated code, with the generated code's names spelled as
    the user's (user_spelling: `b2v2` -> `b2`), the names of the functions `t` transforms and those they call;
    `pinned`: names whose spelling the user's line says (_written_as)."""
    try:
        with open(exc.filename) as fh:
            generated = set(re.findall(r"\b[A-Za-z_]\w*\b", fh.read()))
    except OSError:
        return exc.message, exc.advice
    users = _users_names(t)
    seen: dict = {}

    def one(m):     # (two generated names of one user's name, a swap's two bindings: said so)
        name = m.group(1)
        user = (pinned or {}).get(name) or (user_spelling.spelled(name, users) if name in generated else name)
        said = user_spelling.record(name, users) if user == name and name in generated else None
        if said:        # (a gradient's stack or tape: `b8_stack`)
            return said
        first = seen.setdefault(user, name)
        return f"`{user}`" + (" (another binding of it)" if first != name else "")
    message, advice = (re.sub(r"`([A-Za-z_]\w*)`", one, text) if text and users else text
                       for text in (exc.message, exc.advice))
    twice = re.match(r"`(\w+)` shares memory with `\1` \(another binding of it\), which this assignment writes "
                     r"in place, and is read afterwards: srcdiff does not follow writes through views$", message or "")
    return aliasing.one_name_twice(twice.group(1)) if twice else (message, advice)


def user_line(path: str, n: int, t) -> tuple | None:
    """(file, line, text, in a backward sweep) of the user's line that line `n` of the generated module at
    `path` was made from, by its line table: through a generated gradient that forward mode differentiated
    (srcdiff.hvp: its lines cite the gradient's, of transform t.f) to the user's own line. None where no table
    tells. The table of `t`'s last specialisation where `path` holds its functions (the same code generated
    from two files is one module), else the one the module was last loaded with."""
    cited = None
    for _ in range(4):
        own = getattr(getattr(getattr(t, "last", None), "generated", None), "lines", None)
        table = own if own is not None and os.path.abspath(path) in _own_paths(t) else backends.lines_of(path)
        t = getattr(t, "f", None)
        if table is None:
            return cited
        at = table.at(n)
        if at is None:
            return cited
        cited = at if cited is None or at[3] or not cited[3] else at[:3] + (True,)
        path, n = at[0], at[1]
    return cited


def _own_paths(t) -> set:
    """The files of the functions `t`'s last specialisation runs: its module's, its compiled form's."""
    fn = t.last.function
    found = [fn, getattr(fn, "py_func", None), getattr(fn, "compiled", None)]
    found.append(getattr(found[2], "py_func", None))
    return {os.path.abspath(f.__code__.co_filename) for f in found if hasattr(f, "__code__")}


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
    module = t.last.module if getattr(t, "last", None) else None
    return [obj for obj in getattr(module, "bindings", {}).values() if backends.is_user_rule_function(obj)]


def _from_numba_compiler(exc) -> bool:
    mark = os.path.join("numba", "core", "compiler.py")
    return any(f.filename.endswith(mark) for f in traceback.extract_tb(exc.__traceback__))
