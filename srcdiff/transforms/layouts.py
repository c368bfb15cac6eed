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
straight-line code (which Numba's SSA form keeps apart), keep their types, and so do names whose every binding
is a new C array (`np.zeros(n)`, an array expression `rt.elementwise(...)`, a tape's row) or another such name:
their bindings cannot differ in layout, and each wrapped binding is more for Numba to type (a 50-step Elman
RNN's gradient wrapped 25 bindings, its first call cold 750 -> 905 ms).
"""
from __future__ import annotations

import gast

from .astutil import call, clone, copy_loc, nested_blocks, rewrite_blocks
from .kinds import is_array

_WRAP = "rt.any_layout"


def _bindings(stmts, inside: bool, found: dict):
    """name -> [(its value, whether in a loop's or a branch's block)] of the single-name assignments in `stmts`."""
    for s in stmts:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            found.setdefault(s.targets[0].id, []).append((s.value, inside))
        for b in nested_blocks(s):
            _bindings(b, inside or isinstance(s, (gast.For, gast.While, gast.If)), found)
    return found


# calls whose result is a new C-ordered array (or a number) under Numba, whatever their arguments' layouts
_NEW_C = {"np.zeros", "np.ones", "np.empty", "np.full", "np.arange", "np.linspace", "rt.zeros_like", "rt.row_tape",
          "rt.put_row", "rt.get_row", "rt.elementwise"}


def _new_c(value, c_only: set) -> bool:
    """Whether `value` is a constant, a c_only name or a call making a new C array; an array expression that
    writes into its first operand (`rt.elementwise('a += b', (d_h, e))`) is that operand."""
    if isinstance(value, gast.Constant):
        return True
    if isinstance(value, gast.Name):
        return value.id in c_only
    if _callee(value) not in _NEW_C:
        return False
    if _callee(value) == "rt.elementwise":
        text, operands = (value.args + [None, None])[:2]
        if not (isinstance(text, gast.Constant) and isinstance(text.value, str)):
            return False
        if "=" in text.value.replace("==", "").replace("<=", "").replace(">=", "").replace("!=", ""):
            first = operands.elts[0] if isinstance(operands, gast.Tuple) and operands.elts else None
            return isinstance(first, gast.Name) and first.id in c_only
    return True


def _callee(value) -> str:
    f = value.func if isinstance(value, gast.Call) else None
    return f"{f.value.id}.{f.attr}" if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) else ""


def _c_only(found: dict) -> set:
    """The names every binding of which is a new C array, a constant or another such name (a fixpoint)."""
    c_only = {n for n, where in found.items()
              if all(isinstance(v, (gast.Call, gast.Constant, gast.Name)) for v, _ in where)}
    changed = True
    while changed:
        changed = False
        for n in list(c_only):
            if not all(_new_c(v, c_only) for v, _ in found[n]):
                c_only.discard(n)
                changed = True
    return c_only


def _wrapped(value) -> bool:
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr == "any_layout"


def any_layouts(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """`fn` with the bindings of its array names that a loop or a branch binds again, and that are bound more
    than once, passed through rt.any_layout (module docstring); `kinds`: those of its names (a name of unknown
    kind counts as an array: the helper passes anything else through)."""
    found = _bindings(fn.body, False, {})
    rebound = {n for n, where in found.items() if len(where) > 1 and any(inside for _, inside in where)
               and (kinds.get(n) is None or is_array(kinds.get(n)))}
    names = rebound - _c_only(found) if rebound else rebound    # (no name bound again in a loop or a branch, as
    if not names:                                               # in straight-line code: no fixpoint to find)
        return fn

    fn = clone(fn)

    def statement(s):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id in names and not _wrapped(s.value):
            s.value = copy_loc(call(_WRAP, s.value), s.value)
        return s

    fn.body = rewrite_blocks(fn.body, statement)
    return fn
