"""Whether a function of the user's makes float64 values of its own, read off its source: the float type its value has
under NumPy beside float32 arguments, which the Numba backend's results are given (api.value_like).

Why: NumPy 2 computes a float32 array or scalar with a Python float (an argument, a literal `x * 0.7`) in float32, and
Numba in float64 (a Python float is a float64 there). So under jit=True the value of f of float32 arguments came back
float64 (an array: jvp's and vjp's value; a number was converted to float32, api.value_float_type) where f itself and
jit=False give float32. Where f makes float64 values of its own (`np.zeros(3)`, `np.array([1.0, 2.0])`,
`x.astype(float)`, `np.float64(c)`, a module-level float64 array it reads), NumPy promotes to float64 too and Numba's
float64 is f's: a number's value was converted to float32 there all the same (`np.sum(np.zeros(3) + x)` of a float32
x: f's float64, jit=True's float32). The source tells the two apart where the types alone cannot; what it misses
(an integer array's mean, a division of ints, a helper that is no plain function of the user's) keeps Numba's type.
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap

import numpy as np

# NumPy factories whose default dtype is float64 (np.zeros_like and kin take their argument's: not here)
_FACTORIES = {"zeros", "ones", "empty", "full", "eye", "identity", "linspace", "logspace", "geomspace", "arange",
              "tri", "float64", "double", "float_"}
_FLOAT64_NAMES = {"float64", "double", "float_", "f8"}


def makes_float64(fn, args=()) -> bool:
    """Whether `fn` (a function of the user's, or what srcdiff wraps it in) or a function of the user's it calls makes
    float64 values of its own (module docstring), called with the positional arguments `args`: a NumPy function of
    its Python float arguments and constants only (`np.sum(a * a)` of a Python float a) is an np.float64 too, which
    NumPy 2 promotes float32 with. Unknown sources count as none."""
    fn = getattr(fn, "py_func", fn)
    while not inspect.isfunction(fn) and getattr(fn, "f", None) is not None:    # (a transform of a transform)
        fn = getattr(fn.f, "py_func", fn.f)
    if not inspect.isfunction(fn):
        return False
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    floats = frozenset(p for p, a in zip(params, args) if type(a) is float)
    return _makes_float64(fn, frozenset(), floats)


@functools.lru_cache(maxsize=512)
def _tree(code):
    """The parsed def of the function whose code object is `code`, or None where its source cannot be read."""
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(code)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None


def _makes_float64(fn, seen: frozenset, floats: frozenset = frozenset()) -> bool:
    if fn.__code__ in seen:
        return False
    tree = _tree(fn.__code__)
    if tree is None:
        return False
    names = dict(fn.__globals__)
    if fn.__closure__:
        names.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ if _filled(c))))
    seen = seen | {fn.__code__}
    for n in ast.walk(tree):
        if _float64_node(n) or floats and _numpy_of_numbers(n, floats):
            return True
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in names:
            v = names[n.id]
            if isinstance(v, (np.ndarray, np.floating)) and v.dtype == np.float64:
                return True     # (a module-level float64 array or scalar f reads)
            if inspect.isfunction(v) and _is_users(v) and _makes_float64(v, seen):
                return True
    return False


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _is_users(fn) -> bool:
    from .transforms.resolve import is_user_function
    return is_user_function(fn)


def _float64_node(n) -> bool:
    """A node that makes float64 values: a NumPy factory of float64 default (`np.zeros(3)`, not given a dtype other
    than float64), np.array / np.asarray of a literal holding a number, a float64 dtype (`dtype=float`,
    `.astype(np.float64)`), `np.float64` named."""
    if isinstance(n, ast.Attribute) and n.attr in _FLOAT64_NAMES:
        return True
    if isinstance(n, ast.Call):
        name = n.func.attr if isinstance(n.func, ast.Attribute) else None
        dtypes = [k.value for k in n.keywords if k.arg == "dtype"]
        if name == "astype" and n.args:
            dtypes.append(n.args[0])
        if any(_float64_dtype(d) for d in dtypes):
            return True
        if name in _FACTORIES and not dtypes and isinstance(n.func.value, ast.Name):
            return True
        if name in ("array", "asarray") and n.args and isinstance(n.args[0], (ast.List, ast.Tuple)) and not dtypes \
                and any(isinstance(e, ast.Constant) and type(e.value) in (int, float) for e in ast.walk(n.args[0])):
            return True
    return False


def _numpy_of_numbers(n, floats: frozenset) -> bool:
    """`np.f(...)` of the Python floats `floats` (parameters) and constants only, reading one of them: an np.float64."""
    if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
            and n.func.value.id in ("np", "numpy")):
        return False
    read = [m for a in n.args for m in ast.walk(a) if isinstance(m, ast.Name)]
    return bool(read) and all(m.id in floats for m in read)


def _float64_dtype(d) -> bool:
    """`float`, `np.float64`, `"float64"` and kin as a dtype."""
    if isinstance(d, ast.Name):
        return d.id == "float"
    if isinstance(d, ast.Attribute):
        return d.attr in _FLOAT64_NAMES
    return isinstance(d, ast.Constant) and d.value in ("float", "float64", "f8", "d", "double")
