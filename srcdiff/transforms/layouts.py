"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): a name bound in a loop or
a branch and elsewhere too takes its array values through `rt.any_layout`, so that Numba can unify their types.

Numba types an array with its layout: C, F (Fortran order: what its LAPACK calls return, np.linalg.svd's Vh or
np.linalg.inv's result, and a transpose) or A (any: a view such as `M[:, :2]`). Where a loop or a branch binds
a name again, Numba unifies the types of its bindings, and an F array with a C one gives an A array; an array
expression over that name then fails in Numba's lowering ("Don't know how to allocate array with layout 'A'",
fuzz seed 913000: forward mode's `alpha = (Vh ** 2)[:, 0]` before a loop that binds it to a logsumexp).
`rt.any_layout` is the array itself, typed A where it is F (a view, no copy: runtime/casts.py), and A with C
unifies without that failure:

    alpha15 = alpha15v10[:, 0]          ->  alpha15 = rt.any_layout(alpha15v10[:, 0])
    for i17 in range(2):                    for i17 in range(2):
        ...                                     ...
        alpha15 = alpha15v13                    alpha15 = rt.any_layout(alpha15v13)

A C array or anything else passes as it is (the identity, compiled away). Names bound once, or only in
straight-line code (which Numba's SSA form keeps apart), keep their types.
"""
from __future__ import annotations

import gast

from .astutil import call, clone, copy_loc, nested_blocks, rewrite_blocks
from .kinds import is_array

_WRAP = "rt.any_layout"


def _bindings(stmts, inside: bool, found: dict):
    """name -> [(Assign, whether in a loop's or a branch's block)] of the single-name assignments in `stmts`."""
    for s in stmts:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            found.setdefault(s.targets[0].id, []).append(inside)
        for b in nested_blocks(s):
            _bindings(b, inside or isinstance(s, (gast.For, gast.While, gast.If)), found)
    return found


def _wrapped(value) -> bool:
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr == "any_layout"


def any_layouts(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """`fn` with the bindings of its array names that a loop or a branch binds again, and that are bound more
    than once, passed through rt.any_layout (module docstring); `kinds`: those of its names (a name of unknown
    kind counts as an array: the helper passes anything else through)."""
    found = _bindings(fn.body, False, {})
    names = {n for n, where in found.items() if len(where) > 1 and any(where)
             and (kinds.get(n) is None or is_array(kinds.get(n)))}
    if not names:
        return fn

    fn = clone(fn)

    def statement(s):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id in names and not _wrapped(s.value):
            s.value = copy_loc(call(_WRAP, s.value), s.value)
        return s

    fn.body = rewrite_blocks(fn.body, statement)
    return fn
