"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): reads and writes through
a boolean mask of rank 2 or more call runtime helpers.

Numba indexes with a boolean array of rank 1 only; `M[M > 0.5]` of a matrix fails inside Numba's typing with
a bare AssertionError. The Python backend and the source srcdiff shows keep NumPy's indexing; the code Numba
compiles reads and writes the True places in C order, as NumPy does (runtime/indexing.py), and the scatter-add
of the adjoint, `rt.index_add(d_M, m, g)`, loops over them (runtime/elementwise.py):

    y_old = rt.copy(y[m])      ->  y_old = rt.copy(rt.mask_get(y, m))
    y[m] = 0.5                 ->  rt.mask_put(y, m, 0.5)
    y[m] += g                  ->  rt.mask_put(y, m, rt.mask_get(y, m) + g)
"""
from __future__ import annotations

import gast

from .astutil import Transformer, call, clone, copy_loc, rewrite_blocks, walk_of
from .kinds import dtype, expr_kind, infer, is_array, is_stack, is_tuple, ndim


_INDEXES = (gast.Name, gast.Compare, gast.BinOp, gast.UnaryOp, gast.Call)   # what may be a mask (not a slice or a constant)


def _is_mask(k) -> bool:
    return is_array(k) and dtype(k) == "b" and (ndim(k) or 0) > 1


class _Masks:
    """Which subscripts of `fn` index with a boolean array of rank 2 or more: by the kinds the sweeps found (a
    mask popped off a stack in the backward sweep is the forward sweep's), or inferred again from its
    parameters' (an expression too: a primal copy of a helper is not in A-normal form)."""
    def __init__(self, fn: gast.FunctionDef, kinds: dict):
        self.fn, self.kinds, self.inferred = fn, {k: v for k, v in kinds.items() if v is not None}, False

    def kind(self, e):
        """The kind of `e` by the kinds given, else by kinds inferred again (once, only where needed)."""
        k = expr_kind(e, self.kinds)
        if k is None and not self.inferred:
            self.inferred = True
            fn, given = self.fn, self.kinds
            self.kinds = {**infer(fn, {a.id: given[a.id] for a in fn.args.args if a.id in given}), **given}
            k = expr_kind(e, self.kinds)
        return k

    def __call__(self, e) -> bool:
        if type(e) is not gast.Subscript or type(e.slice) not in _INDEXES:
            return False
        k = self.kind(e.slice)
        if k is None:   # (a helper's primal copy, its arguments' kinds unknown, or a value popped off a stack in
            # forward mode over a gradient: it may be a mask of any rank; rt.mask_get indexes natively where it is not)
            of = self.kind(e.value)
            if (is_array(of) and ndim(of) is not None and ndim(of) < 2) or is_tuple(of) or is_stack(of):
                return False    # (of a vector Numba's own indexing takes any index; a tuple's stays a constant)
            return isinstance(e.slice, (gast.Compare, gast.Name))
        return _is_mask(k)


_SUBSCRIPTS = frozenset((gast.Subscript,))


def route_masks(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """`fn`, or a copy of it whose subscripts by a boolean mask of rank 2 or more call rt.mask_get / rt.mask_put
    (module docstring); `kinds`: those of its names (of its parameters at least)."""
    masked = _Masks(fn, kinds)
    if not any(masked(n) for n in walk_of(fn, _SUBSCRIPTS)):   # (one walk; kinds only for candidates)
        return fn
    fn = clone(fn)

    class Reads(Transformer):
        def visit_Subscript(self, n):
            self.generic_visit(n)
            if masked(n) and isinstance(n.ctx, gast.Load):
                return copy_loc(call("rt.mask_get", n.value, n.slice), n)
            return n

    def statement(s):
        target = s.targets[0] if isinstance(s, gast.Assign) and len(s.targets) == 1 else \
            s.target if isinstance(s, gast.AugAssign) else None
        if isinstance(s, (gast.If, gast.While)):    # (their blocks: rewritten already)
            s.test = Reads().visit(s.test)
            return s
        if isinstance(s, gast.For):
            s.iter = Reads().visit(s.iter)
            return s
        if target is None or not masked(target):
            return Reads().visit(s)
        value = Reads().visit(s.value)
        base, mask = Reads().visit(target.value), target.slice
        if isinstance(s, gast.AugAssign):
            value = gast.BinOp(left=call("rt.mask_get", clone(base), clone(mask)), op=s.op, right=value)
        return copy_loc(gast.Expr(value=call("rt.mask_put", base, mask, value)), s)

    fn.body = rewrite_blocks(fn.body, statement)
    return fn
