"""The seed's products folded: `d_result = d_result3 * result1` after `d_result3 = 1.0` (the seed of a grad or
value_and_grad, or a copy of it that copy propagation put in its place) is written `d_result = result1`, where
that is the same value of the same dtype, which the kinds alone do not tell.

Why the kinds do not suffice: they say "f" of float32 and float64 alike. The seed is a float64 under Numba
(the literal 1.0), so `d_result3 * v` of a float32 `v` is float64 there: srcdiff computes float32 values'
adjoints in float64 (README, api._match_dtypes) because every adjoint descends from the seed; `v` alone would
carry float32 down the backward sweep. (Under the Python backend the seed is a Python float, which NumPy 2
does not let widen a float32: the fold would hold there; an int `v` changes dtype under both.) So the fold
needs the call's fact that every float argument is float64 (specialisations.floats64, a specialisation of
its own: compiler.Context.floats64) and that the function makes no narrower float itself
(`floats_stay_float64`: no float32 / float16 named, no dtype string of one, no call of a function that
stays a call, whose body is not looked into). Then every float value is a float64 and `1.0 * v` is `v`
for a float scalar `v`, or for float arithmetic of rank >= 1 (a new array either way: a name or a view of
an array is left multiplied, as the gradient would otherwise share the array's memory, and NumPy's product
of a 0-d array is a scalar).

Done after the late copies (compiler.REVERSE's "seed"): most of these products are written by reverse mode's
rules with an adjoint that the later passes find to be the seed (a sum's adjoint made a scalar by "sum
grads", then copies propagated). The seed holds 1.0 wherever it is read: it is assigned once, by a statement
of the function's body itself, before any read.
"""
from __future__ import annotations

import warnings

import gast
import numpy as np

from .astutil import dotted_name, walk
from .kind_exprs import expr_kind
from .kind_type import dtype, is_array, is_scalar, ndim

_NARROW_NAMES = frozenset({"float32", "float16", "half", "single", "csingle", "complex64"})
_LIBRARIES = ("np.", "math.", "rt.")
_BUILTINS = frozenset({"abs", "bool", "enumerate", "float", "int", "len", "max", "min", "print", "range", "reversed",
                       "round", "sum", "zip"})


def _narrow_dtype_string(text: str) -> bool:
    try:
        with warnings.catch_warnings():     # (NumPy 2 deprecates some codes, np.dtype("a"): a string the user wrote)
            warnings.simplefilter("ignore", DeprecationWarning)
            dt = np.dtype(text)
    except (TypeError, ValueError, SyntaxError):
        return False
    return dt.kind in "fc" and dt.itemsize < (8 if dt.kind == "f" else 16)


def floats_stay_float64(fn) -> bool:
    """Whether the function `fn` (an SSA FunctionDef, its callees inlined) makes no float narrower than float64
    from float64 arguments (the module docstring)."""
    for n in walk(fn):
        if isinstance(n, gast.Name) and n.id in _NARROW_NAMES or isinstance(n, gast.Attribute) and n.attr in _NARROW_NAMES:
            return False
        if isinstance(n, gast.Constant) and isinstance(n.value, str) and _narrow_dtype_string(n.value):
            return False
        if isinstance(n, gast.Call):
            name = dotted_name(n.func) or ""
            if not (name.startswith(_LIBRARIES) or name in _BUILTINS):
                return False
    return True


def fold_seed(fn: gast.FunctionDef, kinds: dict, adjoints: set) -> gast.FunctionDef:
    """`fn` with the products of its seeds (adjoints of `adjoints` bound once, to 1.0, by a statement of its body:
    a user's `c = 1.0` stays as written) folded, and a seed left unread dropped (the module docstring). In place."""
    stores: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + 1
    seeds = {s.targets[0].id: s for s in fn.body if isinstance(s, gast.Assign) and len(s.targets) == 1
             and isinstance(s.targets[0], gast.Name) and s.targets[0].id in adjoints and stores.get(s.targets[0].id) == 1
             and isinstance(s.value, gast.Constant) and type(s.value.value) is float and s.value.value == 1.0}
    if not seeds:
        return fn
    _Fold(set(seeds), kinds).visit(fn)
    read = {n.id for n in walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
    fn.body = [s for s in fn.body if not any(s is seeds[d] for d in seeds if d not in read)]
    return fn


class _Fold(gast.NodeTransformer):
    def __init__(self, seeds: set, kinds: dict):
        self.seeds, self.kinds = seeds, kinds

    def visit_BinOp(self, n):
        self.generic_visit(n)
        return folded(n, self.seeds, self.kinds) or n


def folded(n: gast.BinOp, ones: set, kinds: dict):
    """`v` (or `-v`) for `n`, `one * v` or `v * one` (`-one * v`) where `one` is a name of `ones` (holding 1.0)
    and `v` a float scalar, or float arithmetic (a BinOp or UnaryOp) of rank >= 1; else None."""
    if not isinstance(n.op, gast.Mult):
        return None
    for one, v in ((n.left, n.right), (n.right, n.left)):
        negated = isinstance(one, gast.UnaryOp) and isinstance(one.op, gast.USub)
        name = one.operand if negated else one
        if not (isinstance(name, gast.Name) and name.id in ones):
            continue
        k = expr_kind(v, kinds)
        if dtype(k) == "f" and (is_scalar(k) or is_array(k) and (ndim(k) or 0) >= 1
                                and isinstance(v, (gast.BinOp, gast.UnaryOp))):
            return gast.UnaryOp(op=gast.USub(), operand=v) if negated else v
    return None
