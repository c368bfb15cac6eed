"""Symbolic array dimensions: which axes of which SSA arrays certainly have the same length.

A gradient is specialised to the pattern of equal lengths among its array arguments' axes
(`label_arguments`): for x (N, D), y (N,), w (D,) the labels are ("n0", "n1"), ("n0",), ("n1",),
whatever N and D are; a length of 1 is the label 1, since it broadcasts. `infer` carries the labels
through elementwise operations (broadcasting), matrix products, reductions over a literal axis, basic
indexing and transposes; anything else is unknown (None). The reverse pass then knows that `y * z`
has y's shape, so `rt.unbroadcast(g, y)` is `g` itself, and the primal `y * z` need not be kept for
its shape, so elementwise statements fuse into one loop (optimize.fuse_elementwise).
"""
from __future__ import annotations

import gast
import numpy as np

from ..rules import names_with
from .astutil import dotted_name, statements_in_order, walk, walk_of
from .kind_type import ndim

_BINDERS = {gast.Assign, gast.For}   # the statements whose targets infer collects
UNSEEN = "unseen"   # a name read before this sweep reached its definition (a loop's back edge)
OTHER = "other"     # a length other than 1, equal to no other label (two labels broadcast, or joined, together)
SETTLE_EARLY = True  # infer stops after a first sweep that settles (tests/test_dims.py: off, the reference)

# the dims laws of the rule records (srcdiff/rules): results that broadcast their arguments (elementwise
# functions), that have the first argument's shape (inv, cholesky; fills such as np.zeros_like and
# np.full_like(x, v), whose v NumPy broadcasts into x's shape, even a v of higher rank with leading axes of
# length 1; tril of a matrix, where tril of a vector of length n is n x n), its
# axes reversed (transpose), all but one axis (x, axis) of it (reductions), one more (expand_dims), a matrix
# product's (np.dot) and the log-domain products' (vecmat: M's columns, matvec: M's rows), and the shape its
# first argument gives (new: np.zeros(W.shape[0]), np.ones((2, len(x))); a literal length k is the label k)
ELEMENTWISE = names_with("elementwise")
SAME = names_with("same") | names_with("fill")
_TRIANGLE = names_with("triangle")
_TRANSPOSE = names_with("transpose")
_REDUCE = names_with("reduce")
_MATMUL = names_with("matmul")
_EXPAND = names_with("expand_dims")
_VECMAT, _MATVEC = names_with("vecmat"), names_with("matvec")
_NEW = names_with("new")


def label_arguments(args) -> tuple:
    """Per argument: a tuple of axis labels (equal lengths share a label; length 1 is 1), or None."""
    seen: dict = {}
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(tuple(1 if d == 1 else seen.setdefault(d, f"n{len(seen)}") for d in a.shape))
        else:
            out.append(None)
    return tuple(out)


def broadcast(ds):
    """Labels of the broadcast of operands with labels `ds` (() for scalars)."""
    if UNSEEN in ds:
        return UNSEEN
    if any(d is None for d in ds):
        return None
    out = []
    for k in range(1, max((len(d) for d in ds), default=0) + 1):
        axis = {d[-k] for d in ds if len(d) >= k} - {1}
        # two lengths not known to be equal: NumPy raises unless they are, so the result's is one of them, not 1
        out.append(OTHER if len(axis) > 1 else axis.pop() if axis else 1)
    return tuple(reversed(out))


def joined(a, b):
    """The labels of a name bound to values labelled `a` and `b` (a loop's carried value, a branch's): per axis,
    the label both have, or OTHER where both are lengths other than 1; None if their ranks differ or either
    is unknown."""
    if a == b:
        return a
    if a is None or b is None or len(a) != len(b):
        return None
    out = tuple(x if x == y else OTHER if 1 not in (x, y) else None for x, y in zip(a, b))
    return None if None in out else out


def without_unit_axes(labels: dict) -> dict:
    """name -> rank, for the arrays whose every axis is known to have a length other than 1: an adjoint
    broadcast from such an array (`rt.unbroadcast(g, y)`, g of y's rank) has its shape, whatever the labels
    of g (reverse.Tidy drops the unbroadcast)."""
    return {n: len(d) for n, d in labels.items() if isinstance(d, tuple) and d and 1 not in d}


def _matmul(a, b, ranks=(None, None)):
    """Labels of a matrix product of operands labelled `a` and `b`; `ranks`: the operands' ranks (from their
    kinds, None where unknown). A matrix times a vector has the matrix's rows whatever the vector's labels
    are (a vector times a matrix, its columns): `W @ h` with h carried by a loop from np.zeros(n)."""
    if UNSEEN in (a, b):
        return UNSEEN
    if a is not None and b is None and ranks[1] == 1 and len(a) == 2:
        return a[:1]
    if a is None and b is not None and ranks[0] == 1 and len(b) == 2:
        return b[1:]
    if a is None or b is None or len(a) > 2 or len(b) > 2:
        return None
    if not a or not b:
        return broadcast([a, b])
    return a[:-1] + b[1:] if len(b) == 2 else a[:-1]


def _subscript(base, idx, kinds):
    if base in (None, UNSEEN):
        return base
    elts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    out, axis = [], 0
    for el in elts:
        if isinstance(el, gast.Constant) and el.value is None:       # x[:, None]: a new axis
            out.append(1)
            continue
        if axis >= len(base):
            return None
        if isinstance(el, gast.Slice) and el.lower is None and el.upper is None and el.step is None:
            out.append(base[axis])
        elif not isinstance(el, gast.Slice) and _int_scalar(el, kinds):
            pass                                                       # an integer index drops the axis
        else:
            return None                                                # a slice of a part, fancy indexing
        axis += 1
    return tuple(out) + tuple(base[axis:])


def _scalar(k) -> bool:
    """Kind `k` (transforms/kinds.py's Kind, None if unknown) is a scalar's."""
    return k is not None and k.is_scalar


def _int_scalar(e, kinds):
    if isinstance(e, gast.Constant):
        return type(e.value) is int
    k = kinds.get(e.id) if isinstance(e, gast.Name) else None
    return _scalar(k) and k.dtype == "i"


def _ranks(operands, kinds) -> tuple:
    """The ranks of the operands that are names of arrays of known rank (else None)."""
    return tuple(ndim(kinds.get(x.id)) if isinstance(x, gast.Name) else None for x in operands)


def _literal_axis(e, nd):
    if isinstance(e, gast.Constant) and type(e.value) is int and -nd <= e.value < nd:
        return e.value % nd
    return None


def of_expr(e, dims: dict, kinds: dict, assigned: set, sizes: dict | None = None):
    """Labels of expression `e` (None: unknown; UNSEEN: it reads a name not reached yet). `sizes`: the lengths
    the function's integers and shape tuples hold (`sizes_of`), for the shapes of new arrays."""
    if isinstance(e, gast.Constant):
        return () if isinstance(e.value, (int, float, bool)) else None
    if isinstance(e, gast.Name):
        k = kinds.get(e.id)
        if _scalar(k):
            return ()
        if e.id in dims:
            return dims[e.id]
        return UNSEEN if e.id in assigned else None
    if isinstance(e, gast.BinOp):
        parts = [of_expr(x, dims, kinds, assigned) for x in (e.left, e.right)]
        return _matmul(*parts, _ranks((e.left, e.right), kinds)) if isinstance(e.op, gast.MatMult) else broadcast(parts)
    if isinstance(e, gast.UnaryOp):
        return of_expr(e.operand, dims, kinds, assigned)
    if isinstance(e, gast.Compare):
        return broadcast([of_expr(x, dims, kinds, assigned) for x in [e.left] + e.comparators])
    if isinstance(e, gast.Subscript):
        return _subscript(of_expr(e.value, dims, kinds, assigned), e.slice, kinds)
    if not isinstance(e, gast.Call) or e.keywords:
        return None
    name = dotted_name(e.func)
    if name in _NEW and e.args:
        return _new_shape(e.args[0], dims, sizes if sizes is not None else _Sizes(), assigned)
    args = [of_expr(a, dims, kinds, assigned) for a in e.args]
    if name in ELEMENTWISE:
        return broadcast(args)
    if name in _MATMUL and len(args) == 2:
        return _matmul(*args, _ranks(e.args, kinds))
    if not args or args[0] in (None, UNSEEN):
        return args[0] if args else None
    a0 = args[0]
    if name in SAME or name == "rt.pop":     # (a popped value: one of the values pushed onto its stack)
        return a0
    if name in _TRIANGLE:
        return (a0[0], a0[0]) if len(a0) == 1 else a0
    if name in _TRANSPOSE and len(args) == 1:
        return tuple(reversed(a0))
    if name in _REDUCE and len(args) == 2:
        axis = _literal_axis(e.args[1], len(a0))
        return None if axis is None else a0[:axis] + a0[axis + 1:]
    if name in _EXPAND and len(args) == 2:
        axis = _literal_axis(e.args[1], len(a0) + 1)
        return None if axis is None else a0[:axis] + (1,) + a0[axis:]
    if name in _VECMAT and len(args) == 3:      # (v, M, E): M's columns
        return None if args[1] in (None, UNSEEN) or len(args[1]) != 2 else args[1][1:]
    if name in _MATVEC and len(args) == 3:      # (M, v, E): M's rows
        return None if len(a0) != 2 else a0[:1]
    return None


def _new_shape(e, dims: dict, sizes: dict, assigned: set):
    """Labels of the array a shape argument `e` makes (np.zeros(e)): a length, or a tuple of lengths. (A name
    with no size yet that the function binds is one a later sweep may know: `in assigned` notes the read.)"""
    for x in e.elts if isinstance(e, gast.Tuple) else [e]:
        if isinstance(x, gast.Name) and x.id not in sizes and x.id not in sizes.bound and x.id in assigned:
            return None
    if isinstance(e, gast.Tuple):
        out = tuple(_length(x, dims, sizes) for x in e.elts)
        return None if None in out else out
    held = sizes_of(e, dims, sizes)
    if isinstance(held, tuple):
        return held
    return None if held is None else (held,)


def _length(e, dims: dict, sizes: dict):
    """The label of integer `e`'s value as a length (a literal k: the label k), or None."""
    held = sizes_of(e, dims, sizes)
    return held if isinstance(held, (str, int)) else None


def sizes_of(e, dims: dict, sizes: dict):
    """What the value of `e` holds as lengths: a label (an integer: a literal, `len(x)`, `x.shape[k]`), a tuple of
    labels (`x.shape`), or None. An array of labels ("n0", 1) has length 1 on its second axis: x.shape[1] is 1."""
    if isinstance(e, gast.Name):
        return sizes.get(e.id)
    if isinstance(e, gast.Constant):
        return e.value if type(e.value) is int and e.value >= 0 else None
    if isinstance(e, gast.Attribute) and e.attr == "shape" and isinstance(e.value, gast.Name):
        d = dims.get(e.value.id)
        return d if isinstance(d, tuple) else None
    if isinstance(e, gast.Call) and dotted_name(e.func) == "len" and len(e.args) == 1 and not e.keywords:
        d = dims.get(e.args[0].id) if isinstance(e.args[0], gast.Name) else None
        return d[0] if isinstance(d, tuple) and d else None
    if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Constant) and type(e.slice.value) is int:
        whole = sizes_of(e.value, dims, sizes)
        k = e.slice.value
        return whole[k] if isinstance(whole, tuple) and -len(whole) <= k < len(whole) else None
    return None


def infer(fn: gast.FunctionDef, kinds: dict, arg_dims: dict) -> dict:
    """name -> tuple of axis labels, or None where unknown (sweeps until loop-carried names settle).

    The first sweep settles the labels when no expression read a name not reached yet (UNSEEN) and no name
    was bound twice in it nor is a parameter with labels: every read then saw the labels the next sweep
    would give it, so that sweep would change nothing and is not made (straight-line code takes one sweep,
    not two)."""
    dims = {p: d for p, d in arg_dims.items() if d is not None}
    assigned = _Assigned(t.id for n in walk_of(fn, _BINDERS)    # (a set: walk_of's order is any)
                         for t in walk(n.targets[0] if isinstance(n, gast.Assign) else n.target)
                         if isinstance(t, gast.Name))
    sizes = _Sizes()    # integer or shape-tuple name -> the lengths it holds (sizes_of), None once it holds two
    for sweep in range(20):     # each name goes at most unseen -> labels -> unknown
        changed, bound, again = False, set(dims), False
        sizes.bound = bound
        assigned.read_unreached = False
        for n in statements_in_order(fn.body):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                target = n.targets[0].id
                held, old = sizes_of(n.value, dims, sizes), sizes.get(target, UNSEEN)
                held = held if old in (UNSEEN, held) else None
                if held != old and not (old == UNSEEN and held is None):
                    sizes[target] = held
                    changed = True
                found = [(target, of_expr(n.value, dims, kinds, assigned, sizes))]
            elif isinstance(n, (gast.Assign, gast.For)):     # loop variables, unpacked or subscript targets
                target = n.targets[0] if isinstance(n, gast.Assign) else n.target
                found = [(t.id, () if _scalar(kinds.get(t.id)) else None) for t in walk(target)
                         if isinstance(t, gast.Name) and isinstance(t.ctx, gast.Store)]
            elif _pushed(n) is not None:    # a stack's labels: those its values share (rt.pop's)
                stack, value = _pushed(n)
                found = [(stack, of_expr(value, dims, kinds, assigned, sizes))]
            else:
                continue
            if isinstance(n, gast.Assign) and _made_stack(n.value):
                continue    # (`s = rt.stack()`: its values are what is pushed onto it)
            for name, new in found:
                again = again or name in bound
                bound.add(name)
                if new == UNSEEN:
                    continue
                old = dims.get(name, UNSEEN)
                both = new if old == UNSEEN else joined(old, new)
                if both != old:
                    dims[name] = both
                    changed = True
        if not changed or (sweep == 0 and SETTLE_EARLY and not again and not assigned.read_unreached):
            break
    return dims


def _pushed(n):
    """(stack, value) of `rt.push(stack, value)` (generated code differentiated again, lowered: forward.py), else None."""
    if (isinstance(n, gast.Expr) and isinstance(n.value, gast.Call) and dotted_name(n.value.func) == "rt.push"
            and len(n.value.args) == 2 and isinstance(n.value.args[0], gast.Name)):
        return n.value.args[0].id, n.value.args[1]
    return None


def _made_stack(value) -> bool:
    return isinstance(value, gast.Call) and dotted_name(value.func) == "rt.stack"


class _Sizes(dict):
    """infer's sizes (name -> the lengths it holds), with `bound`: the names the sweep has reached (one of them
    with no size holds none; one not reached yet may hold some in the next sweep)."""
    bound: set = frozenset()


class _Assigned(set):
    """The names a function binds. of_expr asks whether a name is one only where it reads a name that is no
    scalar and has no labels yet: one not reached yet in this sweep, or reached with its labels still UNSEEN
    (`read_unreached` notes either: the next sweep may see more)."""
    read_unreached = False

    def __contains__(self, name):
        found = set.__contains__(self, name)
        if found:
            self.read_unreached = True
        return found
