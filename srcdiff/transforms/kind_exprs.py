"""The kind of an expression, from the kinds of the names it reads: operators (their broadcast and dtype
promotion), subscripts (integer, slice, mask and index-array indices), attributes, tuples, and calls (the kind
law of the callee's rule record: transforms/kind_laws.py).

Why apart from the inference over statements (transforms/kinds.py): passes ask the kind of one expression
(reverse, unbound, the optimisers) with kinds they hold; this answers from those alone, statement-free.
"""
from __future__ import annotations

import gast

from ..rules import BINOP_RULE
from .astutil import dotted_name, literal_value
from .kind_laws import call_kind, operator_kind
from .kind_type import (B, DTYPE_NAMES, I, Kind, array_of, broadcast, dtype, elements, is_array, is_scalar, is_tuple,
                        kind_of_value, ndim)


def expr_kind(e, kinds: dict):
    """Kind of an expression whose names have the given kinds."""
    if isinstance(e, gast.Constant):
        v = e.value
        return None if v is None or isinstance(v, str) else kind_of_value(v)
    if isinstance(e, gast.Name):
        return kinds.get(e.id)
    if isinstance(e, gast.BinOp):
        return operator_kind(BINOP_RULE.get(type(e.op)), expr_kind(e.left, kinds), expr_kind(e.right, kinds))
    if isinstance(e, gast.UnaryOp):
        k = expr_kind(e.operand, kinds)
        return B if isinstance(e.op, gast.Not) else k
    if isinstance(e, gast.Compare):
        return broadcast([expr_kind(e.left, kinds)] + [expr_kind(c, kinds) for c in e.comparators], "b")
    if isinstance(e, gast.Subscript):
        return _subscript(expr_kind(e.value, kinds), e.slice, kinds)
    if isinstance(e, gast.Attribute):
        if dotted_name(e) in DTYPE_NAMES:   # np.int64 as a value: a dtype argument (ANF names it)
            return Kind.dtype_value(DTYPE_NAMES[dotted_name(e)])
        if e.attr == "shape":
            return Kind.tuple_of()
        if e.attr in ("ndim", "size"):
            return I
        return None
    if isinstance(e, gast.Tuple):
        # the length (np.zeros((2, 3)) has rank 2) and the elements' kinds (t = (a, x); t[0] is a's)
        return Kind.tuple_of(len(e.elts), [expr_kind(x, kinds) for x in e.elts])
    if isinstance(e, gast.Call):
        return call_kind(dotted_name(e.func), [expr_kind(a, kinds) for a in e.args], e,
                         lambda x: expr_kind(x, kinds))
    return None


def _subscript(base, idx, kinds):
    if base is None:
        return None
    if is_tuple(base):
        if isinstance(idx, gast.Slice):
            return Kind.tuple_of()
        parts = elements(base)
        if parts is None:          # a shape, or a tuple whose elements are not known: ints
            return I if isinstance(idx, (gast.Constant, gast.Name)) else Kind.tuple_of()
        at = literal_value(idx)
        if type(at) is int and -len(parts) <= at < len(parts):
            return parts[at]
        first = parts[0] if parts else None
        return first if all(k == first for k in parts) else None
    if not is_array(base) or ndim(base) is None:
        return None
    elts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    nd = ndim(base)
    fancy = []         # ranks of the integer index arrays (a boolean mask: the 1-d array of its True places)
    for el in elts:
        if isinstance(el, gast.Slice) or (isinstance(el, gast.Constant) and el.value is Ellipsis):
            continue       # (x[..., 0]: the ellipsis keeps the axes the other indices leave)
        if isinstance(el, gast.Constant) and el.value is None:  # x[:, None]: a new axis
            nd += 1
            continue
        k = expr_kind(el, kinds)
        if is_scalar(k) and dtype(k) == "i":
            nd -= 1
        elif is_array(k) and ndim(k) is not None and dtype(k) in ("i", "b"):
            nd -= 1 if dtype(k) == "i" else ndim(k)
            fancy.append(ndim(k) if dtype(k) == "i" else 1)
        else:
            return None  # unknown index
    nd += max(fancy, default=0)   # (the index arrays broadcast together)
    return array_of(nd, dtype(base)) if nd >= 0 else None

