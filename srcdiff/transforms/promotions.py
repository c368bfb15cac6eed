"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): values take the float type
Python and NumPy compute them in where Numba's differs.

An integer array that meets a float in an operator or a NumPy ufunc of two arguments takes NumPy's float type
through `rt.numpy_float`.

Numba computes a float32 array (or number) with an int32 or int64 array, or a float32 array with an integer number,
in float32 (`x * counts`, `x / counts`, `x ** counts`, `np.maximum(x, counts)`); NumPy 2 in float64. So under
jit=True `np.sum(x * counts)` of a float32 x was 2.25 where f gives 2.249999985098839, `x * np.arange(n)` too, and
their derivatives. `rt.numpy_float(i, other)` is the integers as the float type NumPy computes them in beside
`other` (runtime/casts.py): a float64 copy beside float32, `i` itself wherever Numba's arithmetic is NumPy's
already (beside float64, an int16 array), so no copy is made there:

    result = x * counts          ->  result = x * rt.numpy_float(counts, x)
    d_x = d_result * result1     ->  d_x = d_result * rt.numpy_float(result1, d_result)

Which operands: one whose kind is an array of integers, beside one that is not known to hold integers or booleans
(a float's kind, or an unknown one: the helper decides by the types Numba gives). Kinds are inferred again from the
parameters' (the source passes before change names), and only in a function whose kinds name an integer array.
An integer number beside a float32 array is left: the kinds do not tell a NumPy integer (strong in NumPy 2: float64)
from a Python int (weak: float32, as Numba computes it).

math's functions of a float32 number: Python converts it to a float (a double) and gives one; Numba computes
`math.sqrt` of a float32 in float32 (0.7228416204452515 for f's 0.7228415998974657). Their arguments are passed
through `rt.to_float` (a float64's is itself):

    result1 = math.sqrt(result)  ->  result1 = math.sqrt(rt.to_float(result))
"""
from __future__ import annotations

import gast
import numpy as np

from .astutil import Transformer, call, clone, copy_loc, load
from ..rules import RULES
from .astutil import dotted_name
from .kinds import dtype, expr_kind, infer, is_array

WRAP = "rt.numpy_float"
_OPERATORS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.Mod, gast.FloorDiv)


def _int_array(k) -> bool:
    return is_array(k) and dtype(k) == "i"


def _not_integers(k) -> bool:
    """A kind that may hold floats: of floats, or unknown."""
    return k is None or dtype(k) not in ("i", "b")


def _binary_ufunc(e) -> bool:
    """`np.f(a, b)` of a NumPy ufunc of two arguments (np.maximum, np.arctan2, ...), positional arguments only."""
    if not (type(e) is gast.Call and not e.keywords and len(e.args) == 2 and isinstance(e.func, gast.Attribute)
            and isinstance(e.func.value, gast.Name) and e.func.value.id == "np"):
        return False
    u = getattr(np, e.func.attr, None)
    return isinstance(u, np.ufunc) and u.nin == 2


class _Promote(Transformer):
    def __init__(self, kinds):
        self.kinds = kinds

    def pair(self, a, b):
        """(a, b) with an integer array beside a possible float passed through rt.numpy_float."""
        ka, kb = expr_kind(a, self.kinds), expr_kind(b, self.kinds)
        if _int_array(ka) and _not_integers(kb):
            other = self.typed_by(b)
            a = a if other is None else copy_loc(call(WRAP, a, other), a)
        elif _int_array(kb) and _not_integers(ka):
            other = self.typed_by(a)
            b = b if other is None else copy_loc(call(WRAP, b, other), b)
        return a, b

    def typed_by(self, e):
        """What the helper reads the float type off for `e`, not computing it twice: `e` itself, a name or a constant,
        else a name of floats it reads (its float type is at least that name's: float32 beside the integers is float64
        either way), else None."""
        if type(e) in (gast.Name, gast.Constant):
            return clone(e)
        for n in gast.walk(e):
            if type(n) is gast.Name and isinstance(n.ctx, gast.Load) and dtype(self.kinds.get(n.id)) == "f":
                return load(n.id)
        return None

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, _OPERATORS):
            node.left, node.right = self.pair(node.left, node.right)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if _binary_ufunc(node):
            node.args = list(self.pair(*node.args))
        return node


def _python_float_call(e) -> bool:
    """`math.f(...)` whose value is a Python float (its rule's kind law "float": not math.floor, math.isnan)."""
    name = dotted_name(e.func) if type(e) is gast.Call else None
    rule = RULES.get(name) if name and name.startswith("math.") else None
    return rule is not None and rule.kind == "float"


class _MathFloats(Transformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        if _python_float_call(node):
            node.args = [a if type(a) is gast.Constant or dotted_name(getattr(a, "func", None)) == TO_FLOAT
                         else copy_loc(call(TO_FLOAT, a), a) for a in node.args]
        return node


TO_FLOAT = "rt.to_float"


def promotions(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """A copy of `fn` whose integer arrays beside floats take NumPy's float type and whose math functions take floats
    (module docstring); `fn` itself where nothing changes. `kinds`: those the sweeps found for its names (its
    parameters' at least)."""
    done = fn
    if any(_python_float_call(n) for n in gast.walk(fn)):
        done = _MathFloats().visit(clone(fn))
    if any(_int_array(k) for k in kinds.values()):
        fresh = infer(done, {a.id: kinds[a.id] for a in fn.args.args if kinds.get(a.id) is not None})
        done = _Promote({**{k: v for k, v in kinds.items() if v is not None}, **fresh}).visit(clone(done))
    return done if done is fn or gast.dump(done) != gast.dump(fn) else fn
