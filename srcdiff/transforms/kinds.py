"""Kinds: which SSA values are scalars (and of which dtype) and which are arrays (of which
rank), from the kinds of the arguments a gradient is specialised for. The reverse pass uses them to
drop no-op helpers (unbroadcast of a scalar, copies of scalars) and to give scalar tapes a fixed type.

A kind (`Kind`) is a scalar of a dtype, an array of a rank and dtype, a tuple, ...; None if unknown.
"""
from __future__ import annotations

import gast
import numpy as np

from ..rules import RULES, names_with
from . import annotations as anno
from .astutil import (call_argument, dotted_name, is_none, literal_value, statements_in_order as _in_order,
                      walk_names, walk_statements)

# ---- the Kind type -----------------------------------------------------------------------------------------
# Its fields are stored as a tagged tuple (("a", 2, "f")), which only the functions here read by position.
# Each takes None (a value of unknown kind) and a kind given as a plain tagged tuple too; the properties of
# Kind are these functions.

def is_scalar(k) -> bool:
    return k is not None and k[0] == "s"


def is_array(k) -> bool:
    return k is not None and k[0] == "a"


def is_tuple(k) -> bool:
    return k is not None and k[0] == "t"


def is_exp_table(k) -> bool:
    """A log-domain table of exponentials (a tuple of length 2 or 3: transforms/logdomain.py)."""
    return k is not None and k[0] == "t" and len(k) > 2 and k[2] == "exp"


def is_stack(k) -> bool:
    return k is not None and k[0] == "l"


def is_dtype_value(k) -> bool:
    return k is not None and k[0] == "dtype"


def ndim(k):
    """0 for a scalar, the rank of an array (None if unknown), None for other and unknown kinds."""
    if k is None:
        return None
    return 0 if k[0] == "s" else (k[1] if k[0] == "a" else None)


def dtype(k):
    """The dtype of a scalar or array, or the one a dtype value names ("f", "i", "b" or None)."""
    return k[-1] if k is not None and k[0] in ("s", "a", "dtype") else None


def length(k):
    """A tuple's length (None if unknown or not a tuple)."""
    return k[1] if k is not None and k[0] == "t" and len(k) > 1 else None


def elements(k):
    """The kinds of a tuple's elements, where it was written as a tuple (else None)."""
    return k[2] if k is not None and k[0] == "t" and len(k) > 2 and isinstance(k[2], tuple) else None


def element(k):
    """The kind of what a stack holds (None if unknown or not a stack)."""
    return k[1] if k is not None and k[0] == "l" else None


def with_dtype(k, dt):
    """The same scalar or array, of dtype `dt` (None for other kinds)."""
    return Kind.scalar(dt) if is_scalar(k) else Kind.array(k[1], dt) if is_array(k) else None


def as_float(k):
    """The same scalar or array, of floats (None for other kinds)."""
    return with_dtype(k, "f")


def is_float_array(k, nd=None) -> bool:
    """k is an array of floats of rank `nd` (any rank: nd None; a known rank of at least 1: nd "known")."""
    if not (k is not None and k[0] == "a" and k[2] == "f"):
        return False
    return nd is None or k[1] == nd or (nd == "known" and k[1] is not None and k[1] >= 1)


class Kind(tuple):
    """The kind of a value: a small immutable value with named constructors and fields.

        Kind.scalar(dtype)     a scalar                                 .is_scalar, .dtype; .ndim 0
        Kind.array(nd, dtype)  an array (nd None: its rank is unknown)  .is_array, .ndim, .dtype
        Kind.tuple_of(n, ks)   a tuple (of length n: np.zeros((2, 3)) has rank 2; of elements of kinds
                               ks, where written as a tuple)            .is_tuple, .length, .elements
        Kind.exp_table(n)      a log-domain table of exponentials (transforms/logdomain.py), a tuple of
                               length n                                 .is_exp_table
        Kind.stack(k)          a stack of values of kind k (rt.push)    .is_stack, .element
        Kind.dtype_value(d)    a dtype passed as a value (np.int64)     .is_dtype_value, .dtype

    dtype is "f", "i", "b" or None (unknown). A value of unknown kind has kind None: code holding a kind
    that may be None calls the module's functions of the same names (is_scalar(k), ndim(k), ...). A Kind
    equals, hashes and prints as its tagged tuple, so cache keys (which hold repr of the argument kinds)
    are the ones written before it existed, and kinds given as tuples (module_builder.build_module's arg_kinds)
    read alike (`Kind.of` makes them Kinds)."""
    __slots__ = ()

    def __new__(cls, *fields):
        return tuple.__new__(cls, fields)

    def __getnewargs__(self):   # (pickle and copy rebuild it from its fields)
        return tuple(self)

    @classmethod
    def scalar(cls, dt):
        return cls("s", dt)

    @classmethod
    def array(cls, nd, dt):
        return cls("a", nd, dt)

    @classmethod
    def tuple_of(cls, n=None, elements=None):
        if n is None:
            return cls("t")
        return cls("t", n) if elements is None else cls("t", n, tuple(elements))

    @classmethod
    def exp_table(cls, n):
        return cls("t", n, "exp")

    @classmethod
    def stack(cls, element):
        return cls("l", element)

    @classmethod
    def dtype_value(cls, d):
        return cls("dtype", d)

    @classmethod
    def of(cls, k):
        """`k` (a Kind, a tagged tuple or None) as a Kind, with its elements' kinds (None stays None)."""
        if k is None or type(k) is cls:
            return k
        if k[0] == "l":
            return cls.stack(cls.of(k[1]))
        if elements(k) is not None:
            return cls.tuple_of(k[1], [cls.of(e) for e in k[2]])
        return cls(*k)

    tag = property(lambda self: self[0])
    is_scalar = property(is_scalar)
    is_array = property(is_array)
    is_tuple = property(is_tuple)
    is_exp_table = property(is_exp_table)
    is_stack = property(is_stack)
    is_dtype_value = property(is_dtype_value)
    ndim = property(ndim)
    dtype = property(dtype)
    length = property(length)
    elements = property(elements)
    element = property(element)
    with_dtype = with_dtype
    as_float = as_float


F = Kind.scalar("f")
I = Kind.scalar("i")
B = Kind.scalar("b")


_DTYPE_KIND = {"f": "f", "i": "i", "u": "i", "b": "b"}


def kind_of_value(v):
    t = type(v)
    if t is float:
        return F
    if t is np.ndarray:
        return Kind.array(v.ndim, _DTYPE_KIND.get(v.dtype.kind))
    if isinstance(v, (bool, np.bool_)):
        return B
    if isinstance(v, (int, np.integer)):
        return I
    if isinstance(v, (float, np.floating)):
        return F
    if isinstance(v, np.ndarray):
        return Kind.array(v.ndim, _DTYPE_KIND.get(v.dtype.kind))
    if isinstance(v, tuple):
        return Kind.tuple_of()
    return None


def _array(nd, dt):
    if nd == 0:
        return Kind.scalar(dt or "f")
    return Kind.array(nd, dt)


def _broadcast(ks, dt):
    """The kind the operands' kinds broadcast to: None if one is unknown or a tuple, a scalar if all are,
    else an array of the largest rank (unknown if one's is). One pass over the tags (every operator of
    every statement asks: kinds.infer's commonest question)."""
    scalars, nd = True, 0
    for k in ks:
        if k is None or k[0] == "t":
            return None
        if k[0] != "s":
            scalars = False
            r = k[1] if k[0] == "a" else None
            nd = None if nd is None or r is None else max(nd, r)
    return Kind.scalar(dt) if scalars else Kind.array(nd, dt)


def expr_kind(e, kinds: dict):
    """Kind of an expression whose names have the given kinds."""
    if isinstance(e, gast.Constant):
        v = e.value
        return None if v is None or isinstance(v, str) else kind_of_value(v)
    if isinstance(e, gast.Name):
        return kinds.get(e.id)
    if isinstance(e, gast.BinOp):
        a, b = expr_kind(e.left, kinds), expr_kind(e.right, kinds)
        if a is None or b is None:
            return None
        dts = {dtype(a), dtype(b)}
        if isinstance(e.op, gast.Div) or "f" in dts:
            dt = "f"
        elif isinstance(e.op, gast.Pow):
            dt = None
        else:
            dt = "i" if dts <= {"i", "b"} else None
        if isinstance(e.op, gast.MatMult):
            return _matmul(a, b)
        return _broadcast([a, b], dt)
    if isinstance(e, gast.UnaryOp):
        k = expr_kind(e.operand, kinds)
        return B if isinstance(e.op, gast.Not) else k
    if isinstance(e, gast.Compare):
        return _broadcast([expr_kind(e.left, kinds)] + [expr_kind(c, kinds) for c in e.comparators], "b")
    if isinstance(e, gast.Subscript):
        return _subscript(expr_kind(e.value, kinds), e.slice, kinds)
    if isinstance(e, gast.Attribute):
        if dotted_name(e) in _DTYPE_NAMES:   # np.int64 as a value: a dtype argument (ANF names it)
            return Kind.dtype_value(_DTYPE_NAMES[dotted_name(e)])
        if e.attr == "shape":
            return Kind.tuple_of()
        if e.attr in ("ndim", "size"):
            return I
        return None
    if isinstance(e, gast.Tuple):
        # the length (np.zeros((2, 3)) has rank 2) and the elements' kinds (t = (a, x); t[0] is a's)
        return Kind.tuple_of(len(e.elts), [expr_kind(x, kinds) for x in e.elts])
    if isinstance(e, gast.Call):
        if dotted_name(e.func) == "rt.pop":
            k = expr_kind(e.args[0], kinds) if e.args else None
            return element(k)   # (a stack's element)
        return _call(dotted_name(e.func), [expr_kind(a, kinds) for a in e.args], e, kinds)
    return None


def _literal_array(e, kinds):
    """The kind of np.array of a (nested) tuple of number constants and scalars (desugar writes lists of
    constants so, ANF index lists: x[[i, 0]])."""
    if isinstance(e, gast.Constant) and type(e.value) in (bool, int, float):
        return Kind.scalar({bool: "b", int: "i", float: "f"}[type(e.value)])
    if isinstance(e, gast.Name):
        k = expr_kind(e, kinds)
        return k if is_scalar(k) and dtype(k) in ("b", "i", "f") else None
    if not isinstance(e, (gast.Tuple, gast.List)) or not e.elts:
        return None
    parts = [_literal_array(p, kinds) for p in e.elts]
    if None in parts or len({ndim(p) for p in parts}) != 1:
        return None
    dts = {dtype(p) for p in parts}
    return Kind.array(ndim(parts[0]) + 1, "f" if "f" in dts else "i" if "i" in dts else "b")


def _matmul(a, b):
    na, nb = ndim(a), ndim(b)
    if na is None or nb is None:
        return None
    if na == 0 or nb == 0:
        return _broadcast([a, b], "f")
    return _array(na + nb - 2 if max(na, nb) <= 2 else max(na, nb), "f")


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
    return _array(nd, dtype(base)) if nd >= 0 else None


# ---- kind laws: each rule in the registry (srcdiff/rules) names one, with its parameters ---------------------
# A law takes the argument kinds, the call and the kinds of the names, and gives the result's kind (None:
# unknown). `_call` looks the callee's law up in its rule record; there is no list of names here.

def _law_as_float(args, e, kinds):          # np.exp(x): x's kind, as floats
    return as_float(args[0]) if args else None


def _law_copy(args, e, kinds):              # np.copy(x), np.transpose(x): x's rank and dtype (a scalar: a float)
    a0 = args[0] if args else None
    return F if is_scalar(a0) else a0 if is_array(a0) else None


def _law_same(args, e, kinds):              # rt.copy(x), np.zeros_like(x): x's kind
    return args[0] if args else None


def _law_same_array(args, e, kinds):        # np.swapaxes(x, ...): the same rank
    a0 = args[0] if args else None
    return a0 if is_array(a0) else None


def _law_float(args, e, kinds):             # math.exp(x), rt.seed(...): a float
    return F


def _law_int(args, e, kinds):               # len(x), np.size(x): an int
    return I


def _law_like(args, e, kinds, k):           # adjoint helpers: argument k's kind, as floats
    return as_float(args[k]) if len(args) > k else None


def _law_broadcast(args, e, kinds, start=0, dtype="f"):
    """np.hypot(x, y): the broadcast of the arguments (from `start`: np.where's values), of `dtype`."""
    vals = args[start:]
    return _broadcast(vals, dtype) if vals and None not in args else None


def _law_promote(args, e, kinds):           # builtin max/min, np.floor_divide: of the arguments' dtype
    if len(args) == 1:                      # (max of an iterable)
        return F
    dts = {dtype(k) for k in args}
    return _broadcast(args, "f" if "f" in dts or not dts <= {"i", "b"} else "i" if "i" in dts else "b")


def _law_reduce(args, e, kinds):            # np.sum(x), np.linalg.det(x): a float
    return F if len(args) == 1 else None


def _law_reduce_axis(args, e, kinds):       # rt.sum(x, axis): one axis fewer
    if len(args) == 1:
        return F
    nd = ndim(args[0]) if len(args) == 2 else None
    return None if nd is None else _array(nd - 1, "f")


def _law_argreduce(args, e, kinds):         # np.argmax(x[, axis])
    axis = call_argument(e, 1, "axis")
    if axis is not None and not is_none(axis):
        nd = ndim(args[0]) if args else None   # along an axis: an int array of one axis fewer (fuzz seed 10604)
        return None if nd is None else I if nd <= 1 else _array(nd - 1, "i")
    return I


def _law_arange(args, e, kinds):            # np.arange(n), np.arange(a, b[, step]): a 1-D int array (of floats
    if not args or e.keywords or any(ndim(k) != 0 for k in args):   # when a bound or the step is a float)
        return None
    dts = {dtype(k) for k in args}
    return None if None in dts else Kind.array(1, "f" if "f" in dts else "i")


def _law_argsort(args, e, kinds):           # np.argsort(x[, axis]): an int array of x's rank (axis=None: flat)
    nd = ndim(args[0]) if args else None
    axis = call_argument(e, 1, "axis")
    return None if not nd else Kind.array(1 if axis is not None and is_none(axis) else nd, "i")


def _law_along_axis(args, e, kinds, pos, flat_default):
    """rt.sort(x, axis), rt.cumsum(x, axis), rt.sort_like(v, x, axis): the first argument's rank and dtype (a running
    sum of booleans counts: ints) along an int axis, 1-d where the axis (argument `pos`) is None (flattened); left
    out, it flattens when `flat_default` (cumsum's None) and not else (sort's -1)."""
    a0 = args[0] if args else None
    if not is_array(a0) or ndim(a0) is None:
        return None
    given = call_argument(e, pos, "axis")   # (also by keyword: rt.cumsum(M, axis=0) is 2-d, fuzz seed 600513)
    axis = None if given is None or is_none(given) else literal_value(given)
    if axis is not None and type(axis) is not int:
        return None           # (an axis not written as a literal)
    flat = flat_default if given is None else axis is None
    return Kind.array(1 if flat else ndim(a0), "i" if dtype(a0) == "b" and flat_default else dtype(a0))


def _law_take(args, e, kinds):              # np.take(x, indices[, axis]): x's dtype; the indices' rank where
    given = [k.value for k in e.keywords if k.arg == "axis"] + e.args[2:3]   # flat, else x's with the axis
    x, ix = (list(args) + [None, None])[:2]                                  # replaced by the indices' axes
    axis = literal_value(given[0]) if given and getattr(given[0], "value", 0) is not None else None   # (None: flat)
    if not is_array(x) or None in (ndim(x), ndim(ix)) or (axis is not None and type(axis) is not int):
        return None           # (unknown kinds, or an axis not written as a literal)
    return _array(ndim(ix) + (0 if axis is None else ndim(x) - 1), dtype(x))


def _law_at_least(args, e, kinds, nd=None):  # rt.atleast_1d(x), rt.atleast_nd(x, n): x's dtype, of rank nd (n) at least
    nd = literal_value(e.args[1]) if nd is None and len(e.args) > 1 else nd
    ok = args and ndim(args[0]) is not None and type(nd) is int
    return Kind.array(max(ndim(args[0]), nd), dtype(args[0])) if ok else None


def _law_trace(args, e, kinds):             # np.trace(x[, offset]) of a matrix
    return F if len(args) == 1 or (len(args) == 2 and ndim(args[0]) == 2) else None


def _law_rank(args, e, kinds, nd, dt="f"):  # np.outer: a float array of rank nd (rt.repeat_index: of ints)
    return Kind.array(nd, dt)


def _law_of_matrix(args, e, kinds, nd):     # eigvalsh, svd_u, ...: of one matrix, a float array of rank nd
    return Kind.array(nd, "f") if args and ndim(args[0]) == 2 else None


def _law_exp_table(args, e, kinds):         # (exp table, column shifts): unbound.placeholder makes one of these
    return Kind.exp_table(3 if args and ndim(args[0]) == 3 else 2)


def _law_expand_dims(args, e, kinds):
    nd = ndim(args[0]) if args else None
    return None if nd is None else Kind.array(nd + 1, dtype(args[0]))


def _law_join(args, e, kinds, extra=0):     # np.concatenate / np.stack (extra=1) of a literal sequence
    if not (e.args and isinstance(e.args[0], (gast.Tuple, gast.List))):
        return None
    parts = [expr_kind(p, kinds) for p in e.args[0].elts]
    nds = {ndim(k) for k in parts}
    if None in nds or len(nds) != 1 or not parts:
        return None
    nd = nds.pop() + extra
    dts = {dtype(k) for k in parts}
    return _array(nd, dts.pop() if len(dts) == 1 else None) if nd else None


def _law_literal_array(args, e, kinds):     # np.array of a literal
    if len(e.args) == 1 and isinstance(e.args[0], (gast.Tuple, gast.List)):
        return _literal_array(e.args[0], kinds)
    return None


def _law_parts_array(args, e, kinds):       # rt.array of parts: one axis more than they have; of an array: a copy
    if not e.args:
        return None
    seq = e.args[0]
    if not isinstance(seq, (gast.Tuple, gast.List)):
        a0 = args[0] if args else None
        return a0 if is_array(a0) else None
    parts = [expr_kind(p, kinds) for p in seq.elts]
    nds = {ndim(k) for k in parts}
    if not parts or None in nds or len(nds) != 1:
        return None
    dts = {dtype(k) for k in parts}
    return Kind.array(nds.pop() + 1, "f" if "f" in dts else dts.pop() if len(dts) == 1 else None)


def _law_cast(args, e, kinds):              # rt.astype(x, dtype): x's rank, the dtype's kind
    if len(args) == 2 and (is_scalar(args[0]) or is_array(args[0])):
        return with_dtype(args[0], dtype(args[1]) if is_dtype_value(args[1]) else None)
    return None


def _law_reshape(args, e, kinds, nd=None):  # np.reshape(x, shape): of the rank of a literal shape (np.ravel: nd=1)
    shape = args[1] if len(args) == 2 else None     # (x.shape, a shape read off an array: its length is unknown)
    nd = nd or (length(shape) if is_tuple(shape) else 1 if is_scalar(shape) and dtype(shape) == "i" else None)
    return Kind.array(nd, dtype(args[0]) if args else None) if nd else None


def _law_kron(args, e, kinds):
    if len(args) == 2 and None not in (ndim(args[0]), ndim(args[1])):
        r = max(ndim(args[0]), ndim(args[1]))   # (with a 0-d operand, the product)
        return Kind.array(r, "f") if r else F
    return None


def _law_matmul(args, e, kinds):            # np.dot, rt.dot
    return _matmul(args[0], args[1]) if len(args) == 2 and None not in args else None


def _law_fill(args, e, kinds, pos):         # np.zeros(shape[, dtype]), np.full(shape, v[, dtype])
    a0 = args[0] if args else None
    if a0 is None:
        return None
    dt = "f"
    given = [kw.value for kw in e.keywords if kw.arg == "dtype"] + list(e.args[pos:pos + 1])
    if given:   # np.empty(n, np.int64) (generated tapes) or dtype=...
        k = expr_kind(given[0], kinds)
        dt = dtype(k) if is_dtype_value(k) else None
    if length(a0) is not None:   # a literal shape: its length is the rank
        return Kind.array(length(a0), dt)
    return Kind.array(1 if is_scalar(a0) else None, dt)


LAWS = {"as_float": _law_as_float, "copy": _law_copy, "same": _law_same, "same_array": _law_same_array,
        "float": _law_float, "int": _law_int, "like": _law_like, "broadcast": _law_broadcast, "promote": _law_promote,
        "reduce": _law_reduce, "reduce_axis": _law_reduce_axis, "argreduce": _law_argreduce, "arange": _law_arange,
        "argsort": _law_argsort, "take": _law_take, "at_least": _law_at_least, "trace": _law_trace, "kron": _law_kron,
        "along_axis": _law_along_axis, "rank": _law_rank, "of_matrix": _law_of_matrix, "exp_table": _law_exp_table,
        "expand_dims": _law_expand_dims, "join": _law_join, "literal_array": _law_literal_array, "fill": _law_fill,
        "parts_array": _law_parts_array, "cast": _law_cast, "reshape": _law_reshape, "matmul": _law_matmul}


def _call(name, args, e, kinds):
    """The kind of a call of `name`: the kind law its rule record names (srcdiff/rules), None if unknown."""
    rule = RULES.get(name)
    law = rule.kind if rule is not None else None
    if law is None:
        return None
    law, params = (law[0], law[1:]) if isinstance(law, tuple) else (law, ())
    return LAWS[law](args, e, kinds, *params)


_DTYPE_NAMES = {"np.int64": "i", "np.int32": "i", "np.intp": "i", "np.bool_": "b", "bool": "b",
                "np.float64": "f", "float": "f", "np.float32": "f", "np.float16": "f", "np.int16": "i",
                "np.int8": "i", "np.uint8": "i", "np.uint16": "i", "np.uint32": "i", "np.uint64": "i"}


def unify(a, b):
    if a == b:
        return a
    if a is None or b is None:
        return None
    if is_array(a) and is_array(b):
        return Kind.array(ndim(a) if ndim(a) == ndim(b) else None, dtype(a) if dtype(a) == dtype(b) else None)
    return None


def _reads_unreached(e, local: set, kinds: dict) -> bool:
    """Whether `e` reads a local name that has no kind yet (not reached by this sweep). The flat shapes
    ANF leaves (names, constants, operators and calls of them) are looked at directly; anything else
    is walked (the walk is most of a sweep's cost on a long straight-line function)."""
    t = type(e)
    if t is gast.Name:
        return isinstance(e.ctx, gast.Load) and e.id in local and e.id not in kinds
    if t is gast.Constant:
        return False
    if t is gast.BinOp:
        return _reads_unreached(e.left, local, kinds) or _reads_unreached(e.right, local, kinds)
    if t is gast.UnaryOp:
        return _reads_unreached(e.operand, local, kinds)
    if t is gast.Attribute:
        return _reads_unreached(e.value, local, kinds)
    if t is gast.Call:
        return (_reads_unreached(e.func, local, kinds) or any(_reads_unreached(a, local, kinds) for a in e.args)
                or any(_reads_unreached(k.value, local, kinds) for k in e.keywords))
    return any(isinstance(r.ctx, gast.Load) and r.id in local and r.id not in kinds for r in walk_names(e))


def sum_start(s):
    """(zeros assignment, 0.0 assignment, merged name) of a sum's start, `if <its loops run>: t0 = rt.zeros_like(t)
    / else: t1 = 0.0` with both copied to one name (desugar._start, in SSA form), or None. In a gradient srcdiff
    generated and differentiates again the copies are its own, then ssa's: copies of copies to one name in both
    branches are taken. Read by infer (the 0.0 has the kind of the zeros) and kind_rewrites.sum_starts."""
    if not isinstance(s, gast.If):
        return None
    # (element writes `d[i] = 0.0`, as in a gradient's own backward sweep, are no sum's start)
    zeros = [b for b in s.body if isinstance(b, gast.Assign) and isinstance(b.targets[0], gast.Name)
             and isinstance(b.value, gast.Call) and dotted_name(b.value.func) == "rt.zeros_like"
             and len(b.value.args) == 1 and isinstance(b.value.args[0], gast.Name)]
    zero = [b for b in s.orelse if isinstance(b, gast.Assign) and isinstance(b.targets[0], gast.Name)
            and isinstance(b.value, gast.Constant) and b.value.value == 0.0 and type(b.value.value) is float]

    def merges(stmts, source):   # the names `source` is copied to in its branch (through copies of copies)
        copies = {source.targets[0].id}
        for b in stmts:
            if (isinstance(b, gast.Assign) and isinstance(b.value, gast.Name) and isinstance(b.targets[0], gast.Name)
                    and b.value.id in copies):
                copies.add(b.targets[0].id)
        return copies - {source.targets[0].id}
    # (the body may hold an inner sum's own start too, computing the first term: the one merged is this sum's)
    found = [(z, o, m) for z in zeros for o in zero for m in merges(s.body, z) & merges(s.orelse, o)]
    return found[0] if len(found) == 1 else None


def _empty_sum_starts(fn) -> dict:
    """id of each sum start's `total = 0.0` (where its loops do not run) -> the `rt.zeros_like(first term)` it
    stands for: kind_rewrites.sum_starts makes it zeros of the terms' rank (a scalar's 0.0 stays), so it has
    their kind, not a float's (a float's joined with the array of the other branch would be unknown, and with
    it a loop's values computed from the sum: fuzz seed 390060)."""
    out = {}
    for s in walk_statements(fn.body):
        found = sum_start(s) if type(s) is gast.If else None
        if found is not None:
            out[id(found[1])] = found[0].value
    return out


UNSETTLED = Kind("?")   # what callee_kind answers for a call of a function whose kind is being inferred (recursion)


def infer(fn: gast.FunctionDef, arg_kinds: dict, callee_kind=None) -> dict:
    """Kinds of every SSA name of `fn` given its parameters' kinds (sweeps until loop phis settle).
    `callee_kind(name, argument kinds)`: the kind a call of the user function `name` (or of a dotted name:
    `rt.get_row`) returns (None if unknown: its rule's kind law, if any, gives it; UNSETTLED for a
    recursive call: its result is left out, so that the function's kind comes from its other paths, as a
    recursion's base case gives it).

    A sweep settles the kinds when it skipped no statement (an operand not reached yet, an unsettled
    recursive call), met no stack, and every name it assigned again kept the kind it had: each read then
    saw the kind the next sweep would give it, so that sweep would find the same kinds and is not made
    (a non-SSA function without loops, such as a gradient, takes one sweep, not two)."""
    kinds = {name: Kind.of(k) for name, k in arg_kinds.items()}
    for p in fn.args.args:   # a parameter of unknown kind is bound on entry: its reads are reached (kind None),
        kinds.setdefault(p.id, None)   # also where the body assigns it again (a loop's `a = a + ...`)
    empty_sums = _empty_sum_starts(fn)   # (a start srcdiff's own generated code re-parsed: no SUM_EMPTY on it)
    local, empty = set(), set()
    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Store):
            local.add(n.id)
    for _ in range(100):   # kinds only widen (unify is a join), so this settles within a few sweeps
        before, settled = dict(kinds), True
        for n in _in_order(fn.body):
            if (isinstance(n, gast.Expr) and isinstance(n.value, gast.Call)
                    and dotted_name(n.value.func) == "rt.push" and isinstance(n.value.args[0], gast.Name)):
                settled = False
                s, k = n.value.args[0].id, expr_kind(n.value.args[1], kinds)   # stacks: Kind.stack(element kind)
                old = kinds.get(s)
                kinds[s] = Kind.stack(unify(element(old), k) if is_stack(old) else k)
            elif (isinstance(n, gast.Assign) and isinstance(n.value, gast.Call)
                    and dotted_name(n.value.func) == "rt.stack"):
                kinds.setdefault(n.targets[0].id, None)
                settled = False
            elif _empty_sum(n):
                empty.add(n.targets[0].id)     # (tells nothing: the sum's terms give its kind)
            elif (isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)
                  and not (isinstance(n.value, gast.Constant) and n.value.value is None)):
                # `x = None` (a placeholder for a maybe-unbound x) tells nothing, nor does an expression
                # of a name not reached yet (a loop's back edge, a value first bound later in the loop
                # body and read in the next iteration): the next sweep sees it
                if _reads_unreached(n.value, local, kinds):
                    settled = False
                    continue
                name = n.targets[0].id
                if id(n) in empty_sums:
                    k = expr_kind(empty_sums[id(n)], kinds)
                    if _reads_unreached(empty_sums[id(n)], local, kinds):
                        settled = False
                        continue
                    k = k if is_scalar(k) or ndim(k) is not None else F
                elif callee_kind is not None and isinstance(n.value, gast.Call) and dotted_name(n.value.func):
                    k = callee_kind(dotted_name(n.value.func), tuple(expr_kind(a, kinds) for a in n.value.args))
                    if k is UNSETTLED:
                        settled = False
                        continue
                    k = k if k is not None else expr_kind(n.value, kinds)
                else:
                    k = expr_kind(n.value, kinds)
                if name in kinds:
                    k = unify(kinds[name], k)
                    settled = settled and k == kinds[name]
                kinds[name] = k
            elif isinstance(n, gast.For):
                settled = settled and kinds.get(n.target.id, I) == I
                kinds[n.target.id] = I
        if settled or kinds == before:
            break
    for name in empty - set(kinds):     # 0.0 where nothing else tells (sum_starts did not make it zeros)
        kinds[name] = F
    return kinds


def _empty_sum(n) -> bool:
    """`total = 0.0`, a sum's value where its loops run no iteration (annotations.SUM_EMPTY), not yet made zeros
    of its terms' rank."""
    return (isinstance(n, gast.Assign) and anno.get(n, anno.SUM_EMPTY) and isinstance(n.value, gast.Constant)
            and type(n.value.value) is float)


# ---- shape classes: which arrays certainly have the same shape -------------------------------------------
# elementwise functions of one argument keep its shape; of several, the shape they broadcast to (fills such as
# np.zeros_like are left out: expr_shape_class reads them separately)
_ELEMENTWISE = names_with("elementwise")


def shape_classes(fn: gast.FunctionDef, kinds: dict, arg_dims: dict | None = None) -> dict:
    """name -> a representative: two names with the same representative have the same shape.

    With the arguments' axis labels (transforms/dims.py), names whose labels are known share the class
    of the first name (parameters first) with the same labels. Otherwise elementwise results take the
    class of their array operand(s); everything else is its own class."""
    cls: dict = {}
    fixed: set = set()
    if arg_dims:
        from . import dims as _dims
        labels = _dims.infer(fn, kinds, arg_dims)
        order = [a.id for a in fn.args.args] + [n.targets[0].id for n in _in_order(fn.body)
                                                if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)]
        first: dict = {}
        for name in order:
            d = labels.get(name)
            if isinstance(d, tuple) and d and not is_scalar(kinds.get(name)):
                cls[name] = first.setdefault(d, name)
                fixed.add(name)

    def of_atom(a):
        if isinstance(a, gast.Name):
            return cls.get(a.id, a.id) if not is_scalar(kinds.get(a.id)) else "scalar"
        if isinstance(a, gast.Constant):
            return "scalar"
        return None

    def of_value(v, name):
        if isinstance(v, gast.Name):
            return of_atom(v)
        if isinstance(v, gast.BinOp) and not isinstance(v.op, gast.MatMult):
            a, b = of_atom(v.left), of_atom(v.right)
            if a == "scalar":
                return b
            if b == "scalar" or a == b:
                return a
            return None
        if isinstance(v, gast.UnaryOp):
            return of_atom(v.operand)
        if isinstance(v, gast.Call) and dotted_name(v.func) in _ELEMENTWISE and len(v.args) == 1:
            return of_atom(v.args[0])
        if isinstance(v, gast.Call) and dotted_name(v.func) in ("rt.zeros_like", "np.zeros_like", "np.ones_like",
                                                                 "rt.copy", "np.copy") and v.args:
            return of_atom(v.args[0])
        return None

    for _ in range(3):
        changed = False
        for n in _in_order(fn.body):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                name = n.targets[0].id
                if is_scalar(kinds.get(name)) or name in fixed:
                    continue
                c = of_value(n.value, name)
                new = c if c not in (None, "scalar") else name
                if name in cls and cls[name] != new:
                    new = name  # defined twice (loop phi) with different shapes: its own class
                if cls.get(name) != new:
                    cls[name] = new
                    changed = True
        if not changed:
            break
    return cls


def expr_shape_class(e, cls: dict, kinds: dict):
    """Shape class of an adjoint expression (None when unknown, 'scalar' for scalars)."""
    if isinstance(e, gast.Constant):
        return "scalar"
    if isinstance(e, gast.Name):
        return "scalar" if is_scalar(kinds.get(e.id)) else cls.get(e.id, e.id)
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        a, b = expr_shape_class(e.left, cls, kinds), expr_shape_class(e.right, cls, kinds)
        if a == "scalar":
            return b
        if b == "scalar" or a == b:
            return a
        return None
    if isinstance(e, gast.UnaryOp):
        return expr_shape_class(e.operand, cls, kinds)
    name = dotted_name(e.func) if isinstance(e, gast.Call) else None
    if name in _ELEMENTWISE and len(e.args) == 1:
        return expr_shape_class(e.args[0], cls, kinds)
    if name in _ELEMENTWISE and e.args and not e.keywords:    # np.maximum(z, 0.0), rt.max_weight(z, 0.0)
        parts = {expr_shape_class(a, cls, kinds) for a in e.args} - {"scalar"}
        return "scalar" if not parts else parts.pop() if len(parts) == 1 and None not in parts else None
    if name in _GRAD_LIKE_X and len(e.args) > 1:  # reduction adjoints have the input's shape
        return expr_shape_class(e.args[1], cls, kinds)
    return None


_GRAD_LIKE_X = {"rt.sum_grad", "rt.mean_grad", "rt.max_grad", "rt.min_grad", "rt.prod_grad", "rt.logsumexp_grad"}
