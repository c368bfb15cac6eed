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
    plain = frozenset(p for p, a in zip(params, args) if type(a) is int)
    return _makes_float64(fn, frozenset(), floats, integer_arguments(fn, args), plain)


def integer_arguments(fn, args) -> frozenset:
    """The parameters of `fn` (a plain function) given NumPy integers, scalars or arrays, among the positional
    `args`: NumPy 2 computes them with float32 in float64 (`x * (i / n)` of an np.int64 n: `i / n` is an
    np.float64), where a Python int is weak."""
    fn = getattr(fn, "py_func", fn)
    if not inspect.isfunction(fn):
        return frozenset()
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    return frozenset(p for p, a in zip(params, args)
                     if isinstance(a, (np.integer, np.ndarray)) and _widens_float32(a.dtype))


def _widens_float32(dt) -> bool:
    """An integer dtype that NumPy computes with float32 in float64 (int32, int64, uint32, uint64; not int8, int16:
    `x * counts` of an int16 array is float32)."""
    return dt.kind in "iu" and np.result_type(dt, np.float32) == np.float64


def integer_arguments_make_float64(fn, args) -> bool:
    """Whether `fn`'s parameters given NumPy integer scalars (integer_arguments) meet floats in its arithmetic: the
    Python backend runs such scalars as Python ints (specialisations.run_scalars), so its value of float32 arguments
    is float32 where f's is float64."""
    fn = getattr(fn, "py_func", fn)
    if not inspect.isfunction(fn):
        return False
    params = fn.__code__.co_varnames[:fn.__code__.co_argcount]
    ints = frozenset(p for p, a in zip(params, args) if isinstance(a, np.integer) and _widens_float32(a.dtype))
    plain = frozenset(p for p, a in zip(params, args) if type(a) is int)
    tree = _tree(fn.__code__) if ints else None
    return tree is not None and _integers_meet_floats(tree, ints, own_only=True, plain=plain)


@functools.lru_cache(maxsize=512)
def _tree(code):
    """The parsed def of the function whose code object is `code`, or None where its source cannot be read."""
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(code)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None


def _makes_float64(fn, seen: frozenset, floats: frozenset = frozenset(), ints: frozenset = frozenset(),
                   plain: frozenset = frozenset()) -> bool:
    if fn.__code__ in seen:
        return False
    tree = _tree(fn.__code__)
    if tree is None:
        return False
    names = dict(fn.__globals__)
    for local in _local_names(fn.__code__):     # (a parameter or local named as a module-level array: not it)
        names.pop(local, None)
    if fn.__closure__:
        names.update(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__ if _filled(c))))
    seen = seen | {fn.__code__}
    if _integers_meet_floats_of(fn.__code__, ints, plain):
        return True
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


def _local_names(code) -> set:
    """The names local to `code` and to the functions and comprehensions defined in it (their parameters too)."""
    out = set(code.co_varnames) | set(code.co_cellvars)
    for c in code.co_consts:
        if inspect.iscode(c):
            out |= _local_names(c)
    return out


# NumPy functions whose value is a NumPy integer (scalar or array) whatever their arguments
_INTEGER_CALLS = {"argmax", "argmin", "count_nonzero", "searchsorted", "argsort", "flatnonzero", "digitize",
                  "bincount", "int8", "int16", "int32", "int64", "intp", "int_", "uint8", "uint16", "uint32",
                  "uint64", "uintp", "ravel_multi_index", "argwhere"}
# NumPy reductions whose value is a NumPy integer where their argument holds integers or booleans
_INTEGER_REDUCTIONS = {"sum", "prod", "cumsum", "cumprod", "max", "min", "amax", "amin", "abs", "diff"}
_INTEGER_DTYPES = {"int", "bool", "int8", "int16", "int32", "int64", "intp", "int_", "uint8", "uint16", "uint32",
                   "uint64", "bool_", "i8", "i4"}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv, ast.MatMult)


@functools.lru_cache(maxsize=1024)
def _integers_meet_floats_of(code, ints: frozenset, plain: frozenset) -> bool:
    """_integers_meet_floats of the function whose code is `code` (read from its source once per call types: value_like
    asks at every call of float32 arguments)."""
    tree = _tree(code)
    return tree is not None and _integers_meet_floats(tree, ints, plain=plain)


def _integers_meet_floats(tree, ints: frozenset, own_only: bool = False, plain: frozenset = frozenset()) -> bool:
    """Whether a NumPy integer (a parameter of `ints`, given one; with not `own_only`, also `np.sum(x > 0)`,
    `np.argmax(x)`, `x.astype(int)` and names bound to them) meets a float in arithmetic: a true division of it
    (`i / n`: an np.float64 even of two ints), or it with a value not known to be an int (`x * n`). NumPy 2 takes
    NumPy integers as of their own type, so float32 with them is float64 (Python ints are weak: `x * 2` stays
    float32); Numba gives float64 there too, and the value was converted to float32."""
    strong = set(ints)
    plain = set(plain)  # names bound to Python ints: parameters given them, range loops' indices, len(...), x.shape[k]
    assigns = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign, ast.For, ast.NamedExpr))]
    grew = True
    while grew:
        grew = False
        for n in assigns:
            value = n.iter if isinstance(n, ast.For) else n.value
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if not isinstance(t, ast.Name) or t.id in strong:
                    continue
                if isinstance(n, ast.For):
                    if _python_int_range(value) and t.id not in plain:
                        plain.add(t.id)
                        grew = True
                elif _numpy_integer(value, strong, plain, own_only):
                    strong.add(t.id)
                    grew = True
                elif isinstance(n, ast.Assign) and _python_int(value, plain) and t.id not in plain:
                    plain.add(t.id)
                    grew = True
    if not strong:
        return False
    for n in ast.walk(tree):
        if isinstance(n, ast.BinOp) and isinstance(n.op, _ARITHMETIC):
            sides = (n.left, n.right)
        elif isinstance(n, ast.AugAssign) and isinstance(n.op, _ARITHMETIC) and isinstance(n.target, ast.Name):
            sides = (ast.Name(id=n.target.id, ctx=ast.Load()), n.value)
        elif _numpy_call(n) and n.func.attr == "where" and len(n.args) == 3:
            sides = tuple(n.args[1:])     # (np.where(c, counts, x): float64 of an int64 array and float32)
        elif _numpy_call(n) and isinstance(getattr(np, n.func.attr, None), np.ufunc) and len(n.args) == 2 \
                and getattr(np, n.func.attr).nin == 2:
            sides = tuple(n.args)         # (np.maximum(x, counts))
        else:
            continue
        hit = [_numpy_integer(m, strong, plain, own_only) for m in sides]
        if not any(hit):
            continue
        if isinstance(getattr(n, "op", None), ast.Div) or not all(h or _python_int(m, plain) for h, m in zip(hit, sides)):
            return True
    return False


def _numpy_call(n) -> bool:
    """`np.f(...)` (or `numpy.f(...)`)."""
    return (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
            and n.func.value.id in ("np", "numpy"))


def _python_int_range(it) -> bool:
    """`range(...)`, `enumerate(...)` (its index; the pair is no Name target): a loop of Python ints."""
    return isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"


def _python_int(n, plain) -> bool:
    """A value known to be a Python int: an int literal, a name bound to one, len(...), int(...), `x.shape[k]`,
    `x.size`, `x.ndim`, arithmetic (not `/`) of them."""
    if isinstance(n, ast.Constant):
        return type(n.value) in (int, bool)
    if isinstance(n, ast.Name):
        return n.id in plain
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
        return n.func.id in ("len", "int", "round") and n.args != [] and not n.keywords
    if isinstance(n, ast.Attribute):
        return n.attr in ("size", "ndim")
    if isinstance(n, ast.Subscript):
        return isinstance(n.value, ast.Attribute) and n.value.attr == "shape"
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        return _python_int(n.operand, plain)
    if isinstance(n, ast.BinOp) and not isinstance(n.op, (ast.Div, ast.Pow)):
        return _python_int(n.left, plain) and _python_int(n.right, plain)
    return False


def _numpy_integer(n, strong, plain, own_only: bool = False) -> bool:
    """A NumPy integer value (scalar or array): a name of `strong`, or (not `own_only`) a call making one
    (_INTEGER_CALLS, a reduction of a comparison or of one, `.astype(int)`), arithmetic (not `/`) of one with
    Python ints, an item of one."""
    if isinstance(n, ast.Name):
        return n.id in strong
    if isinstance(n, ast.Subscript):
        return _numpy_integer(n.value, strong, plain, own_only)
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd, ast.Invert)):
        return _numpy_integer(n.operand, strong, plain, own_only)
    if isinstance(n, ast.BinOp) and not isinstance(n.op, ast.Div):
        sides = (n.left, n.right)
        hit = [_numpy_integer(m, strong, plain, own_only) for m in sides]
        return any(hit) and all(h or _python_int(m, plain) for h, m in zip(hit, sides))
    if own_only or not isinstance(n, ast.Call) or not isinstance(n.func, ast.Attribute):
        return False
    name, base = n.func.attr, n.func.value
    numpy = isinstance(base, ast.Name) and base.id in ("np", "numpy")
    if numpy and name in _INTEGER_CALLS:
        return True
    if name in ("argmax", "argmin", "argsort", "nonzero") and not numpy and not n.args[1:]:
        return True     # (x.argmax())
    if name == "astype" and n.args and _integer_dtype(n.args[0]):
        return True
    if numpy and name in _INTEGER_REDUCTIONS and n.args:
        return _integers_or_booleans(n.args[0], strong, plain)
    if not numpy and name in ("sum", "prod", "cumsum", "max", "min"):
        return _integers_or_booleans(base, strong, plain)
    return False


def _integers_or_booleans(n, strong, plain) -> bool:
    """An array (or scalar) of NumPy booleans or integers: a comparison of arrays, `~`, `&`, `|` of them, an
    integer one (_numpy_integer)."""
    if isinstance(n, ast.Compare):
        return True
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Invert):
        return _integers_or_booleans(n.operand, strong, plain)
    if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
        return _integers_or_booleans(n.left, strong, plain) or _integers_or_booleans(n.right, strong, plain)
    return _numpy_integer(n, strong, plain)


def _integer_dtype(d) -> bool:
    """`int`, `bool`, `np.int64`, `"int32"` and kin as a dtype."""
    if isinstance(d, ast.Name):
        return d.id in ("int", "bool")
    if isinstance(d, ast.Attribute):
        return d.attr in _INTEGER_DTYPES
    return isinstance(d, ast.Constant) and d.value in _INTEGER_DTYPES


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


# math's functions whose value is a Python float (math.floor, math.ceil, math.trunc give ints: not here)
_MATH_FLOATS = {"sqrt", "exp", "log", "log1p", "log2", "log10", "expm1", "sin", "cos", "tan", "asin", "acos", "atan",
                "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc", "lgamma", "gamma", "pow",
                "hypot", "fabs", "copysign", "fmod", "degrees", "radians", "cbrt", "exp2"}


def returns_python_float(fn) -> bool:
    """Whether every `return` of `fn` (a function of the user's, or what srcdiff wraps it in) gives a Python float
    whatever its arguments: `math.sqrt(np.sum(x * x))`, `float(np.sum(x)) * 1.5`, arithmetic of such values with
    Python numbers, names bound only to them. Its value is then a Python float (of float64 precision) where float32
    arguments make the rest of f float32: value_like keeps it one (it was given the arguments' np.float32, rounded:
    0.6422616243362427 for f's 0.6422616242930411). Unknown sources, and returns of anything else, count as not."""
    fn = getattr(fn, "py_func", fn)
    while not inspect.isfunction(fn) and getattr(fn, "f", None) is not None:    # (a transform of a transform)
        fn = getattr(fn.f, "py_func", fn.f)
    if not inspect.isfunction(fn):
        return False
    return _returns_python_float_of(fn.__code__)


@functools.lru_cache(maxsize=512)
def _returns_python_float_of(code) -> bool:
    tree = _tree(code)
    if tree is None or not tree.body or not isinstance(tree.body[0], (ast.FunctionDef, ast.Lambda, ast.Expr)):
        return False
    top = tree.body[0]
    if not isinstance(top, ast.FunctionDef):
        return False
    own = [n for n in _own_nodes(top)]
    returns = [n.value for n in own if isinstance(n, ast.Return)]
    if not returns or any(r is None for r in returns):
        return False
    bound: dict = {}
    for n in own:
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                for m in ast.walk(t):
                    if isinstance(m, ast.Name):
                        bound.setdefault(m.id, []).append(n if isinstance(t, ast.Name) else None)
        elif isinstance(n, (ast.For, ast.With, ast.NamedExpr, ast.Global, ast.Nonlocal, ast.Delete)):
            for m in ast.walk(n.target if isinstance(n, (ast.For, ast.NamedExpr)) else n):
                if isinstance(m, ast.Name):
                    bound.setdefault(m.id, []).append(None)
    floats = set()
    grew = True
    while grew:
        grew = False
        for name, binds in bound.items():
            if name in floats or any(b is None for b in binds):
                continue
            # (`s += 2.0` keeps a Python float one where s is bound to one first)
            if any(isinstance(b, ast.Assign) for b in binds) and all(
                    _python_float(b.value, floats) if not isinstance(b, ast.AugAssign) else
                    isinstance(b.op, _ARITHMETIC) and _python_float_or_number(b.value, floats) for b in binds):
                floats.add(name)
                grew = True
    return all(_python_float(r, floats) for r in returns)


def _own_nodes(fn):
    """The nodes of def `fn`'s body, not those of the functions, lambdas and classes defined in it."""
    todo = list(fn.body)
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(n))


def _python_float(n, floats) -> bool:
    """A value that is a Python float whatever the arguments: math's float functions, float(...), a name of `floats`,
    arithmetic of one with Python numbers (literals), a conditional expression of two."""
    if isinstance(n, ast.Name):
        return n.id in floats
    if isinstance(n, ast.Call) and not n.keywords:
        f = n.func
        if isinstance(f, ast.Name) and f.id == "float":
            return True
        return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "math" \
            and f.attr in _MATH_FLOATS
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        return _python_float(n.operand, floats)
    if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
        sides = (n.left, n.right)
        hit = [_python_float(m, floats) for m in sides]
        return any(hit) and all(h or _python_float_or_number(m, floats) for h, m in zip(hit, sides))
    if isinstance(n, ast.IfExp):
        return _python_float(n.body, floats) and _python_float(n.orelse, floats)
    return False


def _python_float_or_number(n, floats) -> bool:
    return isinstance(n, ast.Constant) and type(n.value) in (int, float) or _python_float(n, floats)
