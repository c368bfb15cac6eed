"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): a read `a[...]` of an array
is `a`.

Numba has no getitem of an Ellipsis alone (`y[...]` of an array fails in its lowering: "No definition for lowering
getitem(array, ...)"). canonicalize.py rewrites the user's own reads, but the sweeps make reads of a write's target
of their own: of `y[...] = v`, reverse mode keeps what it overwrites, `y_old = rt.copy(y[...])`, and reads its
adjoint, `d_v = rt.copy(d_y[...])`, and jit=True crashed there (h26a). `a[...]` is a view of all of `a`, so each read
is `a` itself, and an augmented write, which reads it too, `a[...] += v`, is `a[...] = a + v`. A write `a[...] = v`
Numba compiles, and it stays.
"""
from __future__ import annotations

import gast

from .astutil import Transformer, clone, copy_loc, walk_of

_SUBSCRIPTS = frozenset((gast.Subscript,))


def _whole(node) -> bool:
    """`a[...]`: a subscript by an Ellipsis alone."""
    return (type(node) is gast.Subscript and isinstance(node.slice, gast.Constant)
            and node.slice.value is Ellipsis)


class _Reads(Transformer):
    def visit_Subscript(self, node):
        self.generic_visit(node)
        return node.value if _whole(node) and isinstance(node.ctx, gast.Load) else node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if not _whole(node.target):
            return node
        read = gast.Subscript(value=node.target.value, slice=node.target.slice, ctx=gast.Load())
        value = gast.BinOp(left=self.visit(read), op=node.op, right=node.value)
        return copy_loc(gast.Assign(targets=[node.target], value=value, type_comment=None), node)


def whole_reads(fn: gast.FunctionDef) -> gast.FunctionDef:
    """A copy of `fn` whose reads `a[...]` read `a` (module docstring); `fn` itself where it has none (the source
    shown keeps its statements)."""
    if not any(_whole(n) for n in walk_of(fn, _SUBSCRIPTS)):
        return fn
    return _Reads().visit(clone(fn))
