"""Jitted code only: matrix products are written `rt.dot(a, b)` (runtime/products.py), and calls of a
rule with a faster implementation under Numba, or one Numba compiles for more arguments, call that one instead
(the rule record's `jit_as`: np.tanh is `rt.tanh(x)`, runtime/activations.py; np.reshape is `rt.reshape(x,
shape)`, which takes x.T and Fortran-ordered or strided arrays, runtime/broadcast.py).

Inside Numba, `a @ b`, `np.dot(a, b)` and `np.matmul(a, b)` call SciPy's bundled BLAS, whose
threads can make a memory-bound matrix-vector product 20x slower than one loop on a busy machine.
`rt.dot` picks a loop or BLAS by the operands' ranks, shapes and memory order when Numba types the
call. Numba's np.tanh calls libm's scalar tanh per element (a quarter of an MLP's gradient); rt.tanh
is an inline polynomial of half its cost. The Python backend keeps NumPy's products, tanh and reshape (its
source is unchanged).

    z1 = x @ w             ->  z1 = rt.dot(x, w)
    h = np.dot(a, b)       ->  h = rt.dot(a, b)
    h = np.tanh(h1 + b1)   ->  h = rt.tanh(h1 + b1)
    r = np.reshape(M, 6)   ->  r = rt.reshape(M, 6)
"""
from __future__ import annotations

import gast

from ..rules import RULES, jit_routes
from .astutil import call, dotted_name, rewritten

_CALLS = ("np.dot", "np.matmul", "numpy.dot", "numpy.matmul")
ROUTES = jit_routes()   # rule name -> the rule jitted code calls instead (np.tanh -> rt.tanh)
_CANDIDATES = frozenset({gast.BinOp, gast.Call})   # the node classes _product and _routed can accept


def _routed(n) -> str | None:
    """The rule a call is routed to under jit: a call of a rule with a `jit_as`, its arguments written out
    positionally (no keywords, no *args), one per parameter."""
    if not isinstance(n, gast.Call) or n.keywords:
        return None
    to = ROUTES.get(dotted_name(n.func))
    if to is None or len(n.args) != len(RULES[to].signature.parameters):
        return None
    return None if any(isinstance(a, gast.Starred) for a in n.args) else to


def _product(n) -> bool:
    if isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult):
        return True
    return (isinstance(n, gast.Call) and dotted_name(n.func) in _CALLS and len(n.args) == 2
            and not n.keywords and not any(isinstance(a, gast.Starred) for a in n.args))


def _rewrite(n):
    to = _routed(n)
    if to is not None:
        return gast.copy_location(call(to, *n.args), n)
    if _product(n):
        return gast.copy_location(call("rt.dot", *((n.left, n.right) if isinstance(n, gast.BinOp) else n.args)), n)
    return n


def route_products(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn`, or a copy of it with its matrix products calling rt.dot and its routed calls (np.tanh) their
    jitted rule (rt.tanh), sharing the subtrees without either with `fn`."""
    return rewritten(fn, lambda n: _rewrite(n) if type(n) in _CANDIDATES else n)
