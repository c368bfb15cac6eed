"""Jitted code only: `x[<slices>] += v` is written `rt.add_into(x[<slices>], v)` (runtime/indexing.py).

Numba runs `x[i, :] += v` as a read of the view, an in-place add into it, and a store of the view
back into x; that store is a slice assignment, whose shape-mismatch error message is compiled with
string formatting code: seconds of the first call of a new gradient that accumulates into a row or a
column of an adjoint (the HMM's `d_log_B[:, y[t]] += ...`), and a copy at run time. `rt.add_into`
adds into the view and stores nothing. The Python backend keeps `+=` (its source is unchanged).

    d_log_B[:, k] += g     ->  rt.add_into(d_log_B[:, k], g)
"""
from __future__ import annotations

import gast

from .astutil import call, clone, rewrite_blocks, walk_statements


def _sliced(s) -> bool:
    """`x[...] += v` whose index takes a slice (so the target is an array view, not an element)."""
    if not (isinstance(s, gast.AugAssign) and isinstance(s.op, gast.Add) and isinstance(s.target, gast.Subscript)
            and isinstance(s.target.value, gast.Name)):
        return False
    index = s.target.slice
    parts = index.elts if isinstance(index, gast.Tuple) else [index]
    return any(isinstance(p, gast.Slice) for p in parts)


def add_into_views(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn`, or a copy of it with its sliced `+=` statements calling rt.add_into."""
    if not any(_sliced(s) for s in walk_statements(fn.body)):
        return fn
    fn = clone(fn)

    def add_into(s):
        if not _sliced(s):
            return s
        view = gast.Subscript(value=s.target.value, slice=s.target.slice, ctx=gast.Load())
        return gast.copy_location(gast.Expr(value=call("rt.add_into", view, s.value)), s)
    fn.body = rewrite_blocks(fn.body, add_into)
    return fn
