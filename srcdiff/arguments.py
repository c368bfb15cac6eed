"""A call of a transform bound to the user's function: the parameters `wrt` names, a call's arguments in
parameter order (generated functions, and Numba's njit, take positional arguments only), and the checks that
decline arguments srcdiff cannot differentiate before they reach generated code."""
from __future__ import annotations

import inspect
import linecache
from typing import Sequence, Union

import numpy as np

from .errors import SrcdiffError
from .makers import user_function, user_location

Wrt = Union[int, str, Sequence[Union[int, str]]]


# what a transform object takes and gives that the transforms of it would misread: a jvp or vjp takes a tangent
# or cotangent after the function's arguments (a transform of it bound its calls by the function's own parameters:
# "too many positional arguments", or, passed fewer, "missing 1 required positional argument: 'd_x1'"), and a
# value_and_grad gives a (value, gradient) pair (reverse mode's seed failed on it: "setting an array element with a
# sequence"); srcdiff.jvp of a value_and_grad works
_PAIRS = {"jvp": "takes a tangent after the arguments", "vjp": "takes a cotangent after the arguments",
          "value_and_grad": "returns a (value, gradient) pair"}


def decline_transform_of_a_pair(f, outer: str) -> None:
    """A transform `outer` (grad, jvp, hessian, ...) made of `f`, a srcdiff jvp, vjp or value_and_grad function,
    declined with the function to write instead."""
    inner = getattr(f, "made_as", None) or getattr(f, "mode", None)
    if inner not in _PAIRS or (inner == "value_and_grad" and outer == "jvp"):
        return
    name = getattr(user_function(f), "__name__", "f")
    calls = {"jvp": f"srcdiff.jvp({name})(x, v)", "vjp": f"srcdiff.vjp({name})(x, ct)",
             "value_and_grad": f"srcdiff.value_and_grad({name})(x)"}[inner]
    raise SrcdiffError(f"srcdiff.{outer} of srcdiff.{inner}({name}), which {_PAIRS[inner]}, is not supported "
                       "(transforms of a grad are; of a jvp, a vjp or a value_and_grad, srcdiff.jvp of a value_and_grad "
                       "only)", *user_location(f),
                       advice=f"differentiate a function of yours that calls it and returns the part you want: "
                              f"def d(x, v): return {calls}[1] (pass the tangent, cotangent or other values as "
                              f"arguments), then srcdiff.{outer}(d)")


def wrt_names_of(f, wrt: Wrt) -> tuple[list, bool]:
    """Parameter names for `wrt` and whether the user asked for a tuple."""
    f0 = getattr(f, "py_func", f)
    if getattr(type(f0), "generates_on_py_func", False):     # a reverse-mode transform (api.Transformed)
        raise SrcdiffError("nesting srcdiff transforms is not supported yet",
                           advice="differentiate the original function")
    if not callable(f0) or not (inspect.isfunction(f0) or inspect.ismethod(f0)):
        raise SrcdiffError(f"srcdiff differentiates Python functions; got {type(f0).__name__} {f0!r}",
                           advice="differentiate a plain function of arrays and floats; pass an object's "
                                  "arrays to it as arguments")
    code = getattr(getattr(f0, "__func__", f0), "__code__", None)
    where = (code.co_filename, code.co_firstlineno) if code else (None, None)
    try:
        signature = inspect.signature(f0)
    except (TypeError, ValueError):
        raise SrcdiffError(f"cannot read the parameters of {f!r}", *where,
                           advice="pass a function defined with def or lambda") from None
    params = list(signature.parameters)
    check_signature(f0, signature, where)
    many = isinstance(wrt, (tuple, list))
    items = list(wrt) if many else [wrt]
    names = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise SrcdiffError(f"wrt must be a parameter index or name, got {w!r}", *where)
        if isinstance(w, int):
            if not -len(params) <= w < len(params):
                raise SrcdiffError(f"wrt={w} is out of range: {getattr(f0, '__name__', f0)} has parameters {params}",
                                   *where, advice="use a parameter index or name")
            names.append(params[w])
        else:
            if w not in params:
                raise SrcdiffError(f"wrt={w!r} names no parameter of {getattr(f0, '__name__', f0)}{tuple(params)}",
                                   *where, advice="use one of the parameter names or their index")
            names.append(w)
    if len(set(names)) != len(names):
        raise SrcdiffError(f"wrt lists a parameter twice: {names}", *where)
    return names, many


def check_signature(f, signature, where):
    """Decline *args / **kwargs at the def line: generated functions need every argument by name."""
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind == p.VAR_POSITIONAL else "**"
            line = linecache.getline(where[0], where[1]).strip() if where[0] and where[1] else ""
            raise SrcdiffError(f"{getattr(f, '__name__', f)} has a {star}{p.name} parameter: srcdiff "
                               f"differentiates functions whose parameters all have names"
                               + (f"\n    {line}" if line else ""), *where,
                               advice="name every parameter (defaults and keyword-only parameters are "
                                      "fine), or pass several arrays as one tuple parameter")


def signature_of(t):
    """The signature of the user's function behind `t` (a transform object), computed once."""
    sig = t.__dict__.get("_signature")
    if sig is None:
        sig = t.__dict__["_signature"] = inspect.signature(user_function(t))
    return sig


def bind_arguments(t, args: tuple, kwargs: dict, trailing: int = 0, last: str = "cotangent") -> tuple:
    """A call's arguments as one positional tuple in the order of the user's parameters, defaults filled
    in: generated functions (and Numba's njit) take positional arguments only. The last `trailing`
    positional arguments (a cotangent, a tangent) stay at the end; the last may also come by its name `last`
    (`tangent=t`), unless the user's function has a parameter of that name."""
    sig = signature_of(t)
    if not kwargs and len(args) == len(sig.parameters) + trailing:
        return tuple(args)
    if trailing == 1 and last in kwargs and last not in sig.parameters:   # jvp(f)(x, tangent=t)
        kwargs = dict(kwargs)
        args = tuple(args) + (kwargs.pop(last),)
    name = getattr(t, "__name__", "f")
    if len(args) < trailing or (trailing and not kwargs and len(args) == len(sig.parameters)
                                and all(p.default is p.empty for p in sig.parameters.values())):
        raise SrcdiffError(f"{name} takes the function's arguments followed by the {last}"
                           + (f": got {len(args)} arguments, the function's only" if args else ""), *user_location(t),
                           advice=f"pass the {last} after the arguments of {user_function(t).__name__}{sig}")
    extra = tuple(args[len(args) - trailing:]) if trailing else ()
    try:
        bound = sig.bind(*args[:len(args) - trailing], **kwargs)
    except TypeError as exc:
        raise SrcdiffError(f"{name}: {exc} (it takes the arguments of {user_function(t).__name__}{sig}"
                           + (f", then the {last})" if trailing else ")"), *user_location(t),
                           advice="call it as you call the function itself") from None
    bound.apply_defaults()
    return tuple(bound.arguments[p] for p in sig.parameters) + extra


def call_positional(fn, args: tuple):
    """Call `fn` (the user's function, or one srcdiff generated) with `args` in parameter order;
    keyword-only parameters get theirs by name."""
    params = inspect.signature(fn).parameters.values()
    names = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    if not names:
        return fn(*args)
    k = len(args) - len(names)
    return fn(*args[:k], **dict(zip(names, args[k:])))


def _is_complex(a) -> bool:
    if isinstance(a, dict):
        return any(_is_complex(x) for x in a.values())
    if isinstance(a, (tuple, list)):
        return any(_is_complex(x) for x in a)
    return isinstance(a, (complex, np.complexfloating)) or (isinstance(a, np.ndarray) and a.dtype.kind == "c")


# the dtypes Numba compiles: booleans, integers and float32/float64 (not float16, longdouble, objects, strings)
NUMBA_DTYPES = frozenset(np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                                 np.uint16, np.uint32, np.uint64, np.float32, np.float64))


def _bad_dtype(a, jit, wrt: bool):
    """The dtype of array or NumPy scalar `a` (or of a leaf of a tuple/list) that the backend cannot run, or
    that a differentiated argument cannot have (not a number); None if all are fine."""
    if isinstance(a, (tuple, list, dict)):
        return next((d for d in (_bad_dtype(x, jit, wrt) for x in (a.values() if isinstance(a, dict) else a))
                     if d is not None), None)
    dtype = getattr(a, "dtype", None) if isinstance(a, (np.ndarray, np.generic)) else None
    if dtype is None:
        return None
    if jit is True and dtype not in NUMBA_DTYPES or wrt and dtype.kind not in "biuf":
        return dtype
    return None


def _bad_key(a):
    """A key of a dict in `a` (through tuples, lists and dicts) that is not a str, else None."""
    if isinstance(a, dict):
        for k, v in a.items():
            if not isinstance(k, str):
                return k
            b = _bad_key(v)
            if b is not None:
                return b
        return None
    if isinstance(a, (tuple, list)):
        return next((b for b in map(_bad_key, a) if b is not None), None)
    return None


def _dataclass_advice(a) -> str | None:
    """For an instance of a dataclass, advice that keeps the user's reads by field: its class as a typing.NamedTuple
    (read by field, its methods too, the gradient a namedtuple of its class). None for anything else."""
    import dataclasses
    if not dataclasses.is_dataclass(a) or isinstance(a, type):
        return None
    cls = type(a).__name__
    fields = ", ".join(f"{f.name}: ..." for f in dataclasses.fields(a))
    return (f"make {cls} a typing.NamedTuple (class {cls}(typing.NamedTuple): {fields}): read by field as the "
            f"dataclass is (its methods too), it is differentiated, and the gradient comes back as a {cls}; or pass "
            f"its arrays as separate arguments")


def _decline_integer_wrt(t, name: str, a) -> None:
    """A differentiated argument that is an int or a bool (Python's or NumPy's, or an array of them) is declined, as
    JAX's grad declines it: its values are discrete (a count, a loop bound, an index), and where it is one the
    derivative srcdiff computed as of a float left out how it is used (`range(n)`): d/dn of `s = s + x[i] * n` over
    `range(n)` gave sum(x[:n]) (h26c). A float of the same value is differentiated as a real number."""
    if isinstance(a, np.ndarray) and a.dtype.kind in "biu":
        held = "booleans" if a.dtype.kind == "b" else "integers"
        raise SrcdiffError(f"argument {name!r} (differentiated) is an array of {held} ({a.dtype}): a derivative with "
                           "respect to discrete values is not defined (srcdiff declines it, as JAX's grad does)",
                           *user_location(t), advice=f"pass it as floats (np.asarray({name}, dtype=float)) to "
                                                     f"differentiate with respect to it, or leave {name!r} out of wrt")
    if isinstance(a, (bool, int, np.integer, np.bool_)):
        kind = "a bool" if isinstance(a, (bool, np.bool_)) else "an int"
        raise SrcdiffError(f"argument {name!r} (differentiated) is {kind} ({a!r}): a derivative with respect to a "
                           "discrete value (a count, a loop bound, an index) is not defined (srcdiff declines it, as "
                           "JAX's grad does)", *user_location(t),
                           advice=f"pass a float ({name}={float(a)!r}) to differentiate with respect to it as a real "
                                  f"number, or leave {name!r} out of wrt")


def check_arguments(t, params: list, args):
    """Decline complex arguments, arguments of dtypes the backend cannot run (under jit=True, Numba's:
    float16, longdouble, objects) and wrt arguments of types srcdiff cannot differentiate (a dict, a str,
    None, an object, an array of objects), before they reach generated code as an internal error (`params`:
    the names of the user's parameters)."""
    wrt = set(t.wrt_names)
    for k, a in enumerate(args):
        name = params[k] if k < len(params) else f"#{k}"
        if _is_complex(a):
            raise SrcdiffError(f"argument {name!r} is complex: srcdiff differentiates real functions only",
                               *user_location(t), advice="pass real and imaginary parts as separate float arrays")
        if name in wrt and not isinstance(a, (float, int, np.number, np.ndarray, tuple, list, dict)):
            record = _dataclass_advice(a)
            raise SrcdiffError(f"argument {name!r} (differentiated) is a {type(a).__name__}"
                               f"{' (a dataclass)' if record else ''}: srcdiff "
                               f"differentiates floats, NumPy arrays, and tuples, lists and dicts of them",
                               *user_location(t), advice=record or "pass its arrays as a namedtuple, a tuple or a dict "
                                                                   "keyed by strings (p.W, p[0] and p[\"W\"] read them; "
                                                                   "the gradient comes back in that structure), or "
                                                                   "leave this argument out of wrt")
        if name in wrt:
            _decline_integer_wrt(t, name, a)
        bad_key = _bad_key(a)
        if bad_key is not None:
            raise SrcdiffError(f"argument {name!r} is a dict with the key {bad_key!r}: srcdiff reads a dict "
                               "argument's items at string keys", *user_location(t),
                               advice="key it by strings ({'W': W, 'b': b}), or pass a tuple or list")
        bad = _bad_dtype(a, getattr(t, "jit", False), name in wrt)
        if bad is not None and getattr(t, "jit", False) is True and bad.kind in "biuf":
            raise SrcdiffError(f"argument {name!r} has dtype {bad}, which Numba (jit=True) does not compile",
                               *user_location(t), advice=f"pass it as float64 or float32 (np.asarray({name}, "
                                                         "dtype=np.float32)), or use jit=False")
        if bad is not None:
            raise SrcdiffError(f"argument {name!r} has dtype {bad}: srcdiff differentiates arrays of numbers"
                               + (" (and Numba, jit=True, compiles booleans, integers, float32 and float64)"
                                  if getattr(t, "jit", False) is True else ""),
                               *user_location(t), advice="pass a float64 array (np.asarray(x, dtype=float))")
