"""The kind laws and their interpreter: each rule record (srcdiff/rules) names a law, with its parameters, that
gives the kind of a call's result from the kinds of its arguments and the call itself (literal axes, shapes, dtypes).

Why here and not in the records: a law is code (a rank read off a literal axis), a record names one; many records
share a law ("as_float": every elementwise function of one argument). Why apart from the inference
(transforms/kinds.py): the laws see expressions only through the `kind_of` callback they are given (the kind of an
argument expression: a literal sequence's parts, a dtype argument), so they import nothing of the inference, and
adding a law touches this module and the record that names it.

A law takes (args, e, kind_of, *parameters): the argument kinds, the call, the kind of any expression; it gives
the result's kind, None where that depends on run-time values (the "dynamic" law says so for a whole record).
"""
from __future__ import annotations

import gast

from ..rules import RULES
from .astutil import call_argument, is_none, literal_value
from .kind_type import (F, I, Kind, array_of, as_float, broadcast, dtype, element, elements, is_array,
                        is_dtype_value, is_scalar, is_tuple, length, matmul_kind, ndim, with_dtype)


def literal_array_kind(e, kind_of):
    """The kind of np.array of a (nested) tuple of number constants and scalars (desugar writes lists of
    constants so, ANF index lists: x[[i, 0]])."""
    if isinstance(e, gast.Constant) and type(e.value) in (bool, int, float):
        return Kind.scalar({bool: "b", int: "i", float: "f"}[type(e.value)])
    if isinstance(e, gast.Name):
        return _numbers_kind(kind_of(e))
    if not isinstance(e, (gast.Tuple, gast.List)) or not e.elts:
        return None
    return _stacked([literal_array_kind(p, kind_of) for p in e.elts])


def _numbers_kind(k):
    """The kind of np.array of a value of kind k: a number, or a (nested) tuple of numbers, as the code srcdiff
    generates binds `M[i, [[2, 0], [1, 3]]]`'s index (`idx1 = (2, 0)`, `idx = np.array((idx1, idx2))`: its rank
    unknown, the mask compared from that read was a placeholder None a jvp of the gradient could not type,
    nested fuzz seed 1015125)."""
    if is_scalar(k):
        return k if dtype(k) in ("b", "i", "f") else None
    items = elements(k) if is_tuple(k) else None
    return _stacked([_numbers_kind(p) for p in items]) if items else None


def _stacked(parts):
    """The kind of an array whose items have the kinds `parts` (None where they differ in rank or one is unknown)."""
    if None in parts or len({ndim(p) for p in parts}) != 1:
        return None
    dts = {dtype(p) for p in parts}
    return Kind.array(ndim(parts[0]) + 1, "f" if "f" in dts else "i" if "i" in dts else "b")


# ---- kind laws: each rule in the registry (srcdiff/rules) names one, with its parameters ---------------------
# A law takes the argument kinds, the call and `kind_of` (the kind of an expression), and gives the result's kind
# (None: unknown). `call_kind` looks the callee's law up in its rule record; there is no list of names here.

def _law_as_float(args, e, kind_of):          # np.exp(x): x's kind, as floats (a 0-d array's: a number, as NumPy's)
    if args and is_array(args[0]) and ndim(args[0]) == 0:
        return F
    return as_float(args[0]) if args else None


def _law_copy(args, e, kind_of):              # np.copy(x), np.transpose(x): x's rank and dtype (a scalar: a float)
    a0 = args[0] if args else None
    return F if is_scalar(a0) else a0 if is_array(a0) else None


def _law_same(args, e, kind_of):              # rt.copy(x), np.zeros_like(x): x's kind
    return args[0] if args else None


def _law_like_given(args, e, kind_of):        # np.zeros_like(x[, dtype]): x's kind, of the dtype given
    a0 = args[0] if args else None
    given = [kw.value for kw in e.keywords if kw.arg == "dtype"] + list(e.args[1:2])
    if not given or not (is_scalar(a0) or is_array(a0)):
        return a0
    k = kind_of(given[0])
    return with_dtype(a0, dtype(k) if is_dtype_value(k) else None)


def _law_same_array(args, e, kind_of):        # np.swapaxes(x, ...): the same rank
    a0 = args[0] if args else None
    return a0 if is_array(a0) else None


def _law_float(args, e, kind_of):             # math.exp(x), rt.seed(...): a float
    return F


def _law_int(args, e, kind_of):               # len(x), np.size(x): an int
    return I


def _law_like(args, e, kind_of, k):           # adjoint helpers: argument k's kind, as floats
    return as_float(args[k]) if len(args) > k else None


def _law_region(args, e, kind_of):            # rt.written(v, idx): the region v[idx] (reverse mode writes idx's
    if len(e.args) < 2:                          # slices as slice(...) calls), as floats
        return None
    idx = e.args[1]
    parts = [_as_slice(p) for p in (idx.elts if isinstance(idx, gast.Tuple) else [idx])]
    at = gast.Tuple(elts=parts, ctx=gast.Load()) if isinstance(idx, gast.Tuple) else parts[0]
    return as_float(kind_of(gast.Subscript(value=e.args[0], slice=at, ctx=gast.Load())))


def _as_slice(p):
    """`slice(a, b, c)` (a call) as the slice a:b:c; any other index as it is."""
    if isinstance(p, gast.Call) and isinstance(p.func, gast.Name) and p.func.id == "slice" and not p.keywords \
            and len(p.args) == 3:
        return gast.Slice(*[None if is_none(b) else b for b in p.args])
    return p


def _law_items(args, e, kind_of):             # rt.stack_zeros(n, item): an array of one more axis than item
    nd = ndim(args[1]) if len(args) > 1 else None
    # (an array whatever the item: of unknown rank where the item's is not known, a 0-d array or a float)
    return Kind.array(None, dtype(args[1]) if len(args) > 1 else None) if nd is None else array_of(nd + 1, dtype(args[1]))


def _law_stacked(args, e, kind_of):           # rt.stack_array(s): an array of one more axis than what s holds
    item = element(args[0]) if args and args[0] is not None else None
    nd = ndim(item) if item is not None else None
    return None if nd is None else array_of(nd + 1, dtype(item))


def _law_unstacked(args, e, kind_of):         # rt.unstack(g): a stack of g's rows
    if not args or args[0] is None or not is_array(args[0]):
        return None
    nd = ndim(args[0])
    return None if nd is None else Kind.stack(F if nd == 1 else array_of(nd - 1, dtype(args[0])))


def _law_broadcast(args, e, kind_of, start=0, dtype="f"):
    """np.hypot(x, y): the broadcast of the arguments (from `start`: np.where's values), of `dtype`."""
    vals = args[start:]
    return broadcast(vals, dtype) if vals and None not in args else None


def _law_promote(args, e, kind_of):           # rt.max2 / rt.min2 (the user's max / min), np.floor_divide: promoted
    if len(args) == 1:                      # (max of an iterable)
        return F
    dts = {dtype(k) for k in args}
    return broadcast(args, "f" if "f" in dts or not dts <= {"i", "b"} else "i" if "i" in dts else "b")


def _law_pick(args, e, kind_of):
    """Builtin max(a, b, ...) / min(...) of scalars, as srcdiff writes them (a tape's `max(n, 0)`, a mean's share
    `g / max(x.size, 1)`): the arguments' dtype where they all have the same. The builtin returns one of its
    arguments unconverted (max(2, 1.0) is the int 2), so mixed dtypes, arrays, an iterable or key=/default= are
    unknown. (The user's max / min are rt.max2 / rt.min2: resolve.py.)"""
    if len(args) < 2 or e.keywords or not all(is_scalar(k) for k in args):
        return None
    dts = {dtype(k) for k in args}
    return args[0] if len(dts) == 1 and None not in dts else None


def _law_reduce(args, e, kind_of):            # np.sum(x), np.linalg.det(x): a float
    return F if len(args) == 1 else None


def _law_reduce_axis(args, e, kind_of):       # rt.sum(x, axis): one axis fewer
    if len(args) == 1:
        return F
    nd = ndim(args[0]) if len(args) == 2 else None
    return None if nd is None else array_of(nd - 1, "f")


def _law_argreduce(args, e, kind_of):         # np.argmax(x[, axis])
    axis = call_argument(e, 1, "axis")
    if axis is not None and not is_none(axis):
        nd = ndim(args[0]) if args else None   # along an axis: an int array of one axis fewer (fuzz seed 10604)
        return None if nd is None else I if nd <= 1 else array_of(nd - 1, "i")
    return I


def _law_arange(args, e, kind_of):            # np.arange(n), np.arange(a, b[, step]): a 1-D int array (of floats
    if not args or e.keywords or any(ndim(k) != 0 for k in args):   # when a bound or the step is a float)
        return None
    dts = {dtype(k) for k in args}
    return None if None in dts else Kind.array(1, "f" if "f" in dts else "i")


def _law_argsort(args, e, kind_of):           # np.argsort(x[, axis]): an int array of x's rank (axis=None: flat)
    nd = ndim(args[0]) if args else None
    axis = call_argument(e, 1, "axis")
    return None if not nd else Kind.array(1 if axis is not None and is_none(axis) else nd, "i")


def _law_along_axis(args, e, kind_of, pos, flat_default):
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


def _law_take(args, e, kind_of):              # np.take(x, indices[, axis]): x's dtype; the indices' rank where
    given = [k.value for k in e.keywords if k.arg == "axis"] + e.args[2:3]   # flat, else x's with the axis
    x, ix = (list(args) + [None, None])[:2]                                  # replaced by the indices' axes
    axis = literal_value(given[0]) if given and getattr(given[0], "value", 0) is not None else None   # (None: flat)
    if not is_array(x) or None in (ndim(x), ndim(ix)) or (axis is not None and type(axis) is not int):
        return None           # (unknown kinds, or an axis not written as a literal)
    return array_of(ndim(ix) + (0 if axis is None else ndim(x) - 1), dtype(x))


def _law_at_least(args, e, kind_of, nd=None):  # rt.atleast_1d(x), rt.atleast_nd(x, n): x's dtype, of rank nd (n) at least
    nd = literal_value(e.args[1]) if nd is None and len(e.args) > 1 else nd
    ok = args and ndim(args[0]) is not None and type(nd) is int
    return Kind.array(max(ndim(args[0]), nd), dtype(args[0])) if ok else None


def _law_trace(args, e, kind_of):             # np.trace(x[, offset]) of a matrix
    return F if len(args) == 1 or (len(args) == 2 and ndim(args[0]) == 2) else None


def _law_rank(args, e, kind_of, nd, dt="f"):  # np.outer: a float array of rank nd (rt.repeat_index: of ints)
    return Kind.array(nd, dt)


def _law_of_matrix(args, e, kind_of, nd):     # eigvalsh, svd_u, ...: of one matrix, a float array of rank nd
    return Kind.array(nd, "f") if args and ndim(args[0]) == 2 else None


def _law_exp_table(args, e, kind_of):         # (exp table, column shifts): unbound.placeholder makes one of these
    return Kind.exp_table(3 if args and ndim(args[0]) == 3 else 2)


def _law_expand_dims(args, e, kind_of):
    nd = ndim(args[0]) if args else None
    return None if nd is None else Kind.array(nd + 1, dtype(args[0]))


def _law_join(args, e, kind_of, extra=0):     # np.concatenate / np.stack (extra=1) of a literal sequence
    if not (e.args and isinstance(e.args[0], (gast.Tuple, gast.List))):
        return None
    parts = [kind_of(p) for p in e.args[0].elts]
    nds = {ndim(k) for k in parts}
    if None in nds or len(nds) != 1 or not parts:
        return None
    nd = nds.pop() + extra
    dts = {dtype(k) for k in parts}
    return array_of(nd, dts.pop() if len(dts) == 1 else None) if nd else None


def _law_literal_array(args, e, kind_of):     # np.array of a literal
    if len(e.args) == 1 and isinstance(e.args[0], (gast.Tuple, gast.List)):
        return literal_array_kind(e.args[0], kind_of)
    return None


def _law_parts_array(args, e, kind_of):       # rt.array of parts: one axis more than they have; of an array: a copy
    if not e.args:
        return None
    seq = e.args[0]
    if not isinstance(seq, (gast.Tuple, gast.List)):
        a0 = args[0] if args else None
        if is_scalar(a0):    # np.array(0.3), np.array(b): a 0-d array of the number (a write into it is a 0-d one's)
            return Kind.array(0, dtype(a0))
        if is_array(a0) or elements(a0) is None:
            return a0 if is_array(a0) else None
        parts = list(elements(a0))   # a name of a tuple (forward mode keeps it: sum(st) of st = [c, M[0, 0]])
    else:
        parts = [kind_of(p) for p in seq.elts]
    nds = {ndim(k) for k in parts}
    if not parts or None in nds or len(nds) != 1:
        return None
    dts = {dtype(k) for k in parts}
    return Kind.array(nds.pop() + 1, "f" if "f" in dts else dts.pop() if len(dts) == 1 else None)


def _law_cast(args, e, kind_of):              # rt.astype(x, dtype): x's rank, the dtype's kind
    if len(args) in (2, 3) and (is_scalar(args[0]) or is_array(args[0])):   # (3: copy=False, resolve.py)
        return with_dtype(args[0], dtype(args[1]) if is_dtype_value(args[1]) else None)
    return None


def _law_reshape(args, e, kind_of, nd=None):  # np.reshape(x, shape): of the rank of a literal shape (np.ravel: nd=1)
    shape = args[1] if len(args) == 2 else None     # (x.shape, a shape read off an array: its length is unknown)
    nd = nd or (length(shape) if is_tuple(shape) else 1 if is_scalar(shape) and dtype(shape) == "i" else None)
    return Kind.array(nd, dtype(args[0]) if args else None) if nd else None


def _law_kron(args, e, kind_of):
    if len(args) == 2 and None not in (ndim(args[0]), ndim(args[1])):
        r = max(ndim(args[0]), ndim(args[1]))   # (with a 0-d operand, the product)
        return Kind.array(r, "f") if r else F
    return None


def _law_matmul(args, e, kind_of, arity=2):   # np.dot, rt.dot; rt.tri_matmul(v, x, trans) (arity 3): v @ x, v
    ok = len(args) == arity and None not in args[:2]   # transposed or not (the rank is the same)
    return matmul_kind(args[0], args[1]) if ok else None


def _law_fill(args, e, kind_of, pos):         # np.zeros(shape[, dtype]), np.full(shape, v[, dtype])
    a0 = args[0] if args else None
    if a0 is None:
        return None
    dt = "f"
    if pos == 2:    # np.full(shape, v): v's dtype (np.full(3, 2) holds ints), floats where v's is not known
        fill = ([kw.value for kw in e.keywords if kw.arg == "fill_value"] + list(e.args[1:2]))[:1]
        dt = (dtype(kind_of(fill[0])) if fill else None) or "f"
    given = [kw.value for kw in e.keywords if kw.arg == "dtype"] + list(e.args[pos:pos + 1])
    if given:   # np.empty(n, np.int64) (generated tapes) or dtype=...
        k = kind_of(given[0])
        dt = dtype(k) if is_dtype_value(k) else None
    if length(a0) is not None:   # a literal shape: its length is the rank
        return Kind.array(length(a0), dt)
    return Kind.array(1 if is_scalar(a0) else None, dt)


# ---- the laws of operators, of rank-dependent functions and of the adjoint helpers ---------------------------

def operator_kind(op, a, b):
    """The kind of `a <op> b` (op: the operator's rule name, "+", "/", "**", "@", ...): a true division gives
    floats, a power of ints an unknown dtype (2 ** -1 is a float), a sum or product of boolean arrays booleans,
    any other operator of ints and booleans ints, of floats floats; the operands broadcast (kind_exprs reads the
    syntax's operators through this)."""
    if a is None or b is None:
        return None
    dts = {dtype(a), dtype(b)}
    if op == "/" or "f" in dts:
        dt = "f"
    elif op == "**":
        dt = None
    elif dts == {"b"} and op in ("+", "*") and (is_array(a) or is_array(b)):
        dt = "b"   # (of boolean arrays, NumPy's and Numba's logical or / and; of Python's bools, ints: True + True)
    else:
        dt = "i" if dts <= {"i", "b"} else None
    if op == "@":
        return matmul_kind(a, b)
    k = broadcast([a, b], dt)
    # (of 0-d arrays and numbers, a number, NumPy's and Numba's: `z * 0.5 + np.sin(v)` of a 0-d z was taken for a 0-d
    # array, and its placeholder np.zeros(()) did not unify with the float Numba computes, fuzz 1300065)
    return Kind.scalar(dt) if is_array(k) and ndim(k) == 0 else k


def _law_operator(args, e, kind_of, op):     # the records of + - * / ** % @ (binary) and neg, pos (unary)
    if len(args) == 1:
        return args[0]
    return operator_kind(op, args[0], args[1]) if len(args) == 2 else None


def _law_dynamic(args, e, kind_of):         # a result whose kind depends on run-time values: unknown, declared so
    return None


def _law_opaque(args, e, kind_of):          # no value of any kind: a range, a slice, print's None, a stack's
    return None                             # push (kinds.infer reads stacks itself), an in-place scatter's None


def _law_scalar(args, e, kind_of, dt):      # math.floor(x): an int; math.isnan(x), bool(x): a bool
    return Kind.scalar(dt)


def _law_to_dtype(args, e, kind_of, dt):    # np.int64(x), np.bool_(x): x's rank, of dtype dt (no argument: a scalar)
    if not e.args:
        return Kind.scalar(dt)
    return with_dtype(args[0], dt)


def _law_like_dtype(args, e, kind_of, pos, dt):   # np.searchsorted(a, v): v's rank, of dtype dt
    return with_dtype(args[pos], dt) if len(args) > pos else None


def _law_element(args, e, kind_of):         # rt.pop(stack): what the stack holds
    return element(args[0]) if args else None


def _axis_count(e, pos, kind_of):
    """How many axes the axis argument of a call names (at position `pos` or axis=): "all" where it is left out
    or None, 1 for an int, a tuple's length; None where that is not known (only the count matters to the rank)."""
    given = [k.value for k in e.keywords if k.arg == "axis"] + e.args[pos:pos + 1]
    if not given or (isinstance(given[0], gast.Constant) and given[0].value is None):
        return "all"
    k = kind_of(given[0])
    if is_scalar(k) and dtype(k) == "i":
        return 1
    return length(k) if is_tuple(k) else None


def _law_reduce_to(args, e, kind_of, dt):   # np.any(x[, axis]), np.count_nonzero(x[, axis]): of dtype dt, the
    nd = ndim(args[0]) if args else None    # axes given removed (all where none is given; kept with keepdims)
    count = _axis_count(e, 1, kind_of)
    keep = [literal_value(k.value) for k in e.keywords if k.arg == "keepdims"]
    if keep and keep[0] is not False:
        return array_of(nd, dt) if keep[0] is True and nd is not None else None
    if count == "all":
        return Kind.scalar(dt)
    return None if nd is None or count is None else array_of(nd - count, dt)


def _law_squeeze(args, e, kind_of):         # rt.squeeze(x, axis): the axes given removed (axis None: which axes
    nd = ndim(args[0]) if args else None    # have length 1 is known at run time only)
    count = _axis_count(e, 1, kind_of)
    if nd is None or count in (None, "all"):
        return None
    return array_of(nd - count, dtype(args[0]))


def _law_tensordot(args, e, kind_of):       # rt.tensordot(x, y, k): x's last k axes contracted with y's first k
    k = literal_value(e.args[2]) if len(e.args) > 2 else None
    if len(args) < 2 or None in (ndim(args[0]), ndim(args[1])) or type(k) is not int:
        return None
    return array_of(ndim(args[0]) + ndim(args[1]) - 2 * k, "f")


def _law_diag(args, e, kind_of):            # np.diag(v) of a vector: a matrix; np.diag(m) of a matrix: its diagonal
    nd = ndim(args[0]) if args else None
    return Kind.array(3 - nd, dtype(args[0])) if nd in (1, 2) else None


def _law_eye(args, e, kind_of, pos):        # np.eye(n[, m, k, dtype]), np.identity(n[, dtype]): a matrix of floats
    given = [kw.value for kw in e.keywords if kw.arg == "dtype"] + list(e.args[pos:pos + 1])
    k = kind_of(given[0]) if given else None
    return Kind.array(2, (dtype(k) if is_dtype_value(k) else None) if given else "f")


def _law_shape(args, e, kind_of):           # np.shape(x): a tuple of ints, as long as x's rank where it is known
    nd = ndim(args[0]) if args else None
    return Kind.tuple_of(nd) if nd else Kind.tuple_of()


def _law_arrays(args, e, kind_of, n, nd, dt):   # np.tril_indices(n): a tuple of n arrays of rank nd
    return Kind.tuple_of(n, [Kind.array(nd, dt)] * n)


def _law_decomposition(args, e, kind_of, *ranks):   # slogdet, eigh, svd of a matrix (a stack of them: the leading
    nd = ndim(args[0]) if args else None              # axes kept): a tuple of float values of these ranks, less two
    if nd is None or nd < 2:
        return None
    uv = [k.value for k in e.keywords if k.arg == "compute_uv"] + e.args[2:3]
    if uv and literal_value(uv[0]) is False:          # (svd(a, compute_uv=False): the singular values alone)
        return array_of(nd - 1, "f")
    return Kind.tuple_of(len(ranks), [array_of(nd - 2 + r, "f") for r in ranks])


def _law_round(args, e, kind_of):           # round(x) of a scalar: an int; round(x, n): x's kind (arrays have no
    a0 = args[0] if args else None          # __round__: np.round is their rule)
    return (I if len(args) == 1 else a0) if is_scalar(a0) else None


def _law_sum_first(args, e, kind_of):       # builtin sum(x): the sum over the first axis, from the int 0
    nd = ndim(args[0]) if args else None
    if not nd:
        return None
    return array_of(nd - 1, "f" if dtype(args[0]) == "f" else "i" if dtype(args[0]) in ("i", "b") else None)


def _law_index_axis(args, e, kind_of):      # rt.index_axis(v, axis, k) of an int k: v with the axis dropped
    nd = ndim(args[0]) if args else None
    return None if not nd or not is_scalar(args[2] if len(args) > 2 else None) else array_of(nd - 1, dtype(args[0]))


LAWS = {"as_float": _law_as_float, "copy": _law_copy, "same": _law_same, "like_given": _law_like_given,
        "same_array": _law_same_array, "float": _law_float, "int": _law_int, "like": _law_like, "broadcast": _law_broadcast, "promote": _law_promote,
        "reduce": _law_reduce, "reduce_axis": _law_reduce_axis, "argreduce": _law_argreduce, "arange": _law_arange,
        "argsort": _law_argsort, "take": _law_take, "at_least": _law_at_least, "trace": _law_trace, "kron": _law_kron,
        "along_axis": _law_along_axis, "rank": _law_rank, "of_matrix": _law_of_matrix, "exp_table": _law_exp_table,
        "expand_dims": _law_expand_dims, "join": _law_join, "literal_array": _law_literal_array, "fill": _law_fill,
        "parts_array": _law_parts_array, "cast": _law_cast, "reshape": _law_reshape, "matmul": _law_matmul,
        "operator": _law_operator, "dynamic": _law_dynamic, "opaque": _law_opaque, "scalar": _law_scalar,
        "to_dtype": _law_to_dtype, "like_dtype": _law_like_dtype, "element": _law_element, "reduce_to": _law_reduce_to,
        "squeeze": _law_squeeze, "tensordot": _law_tensordot, "diag": _law_diag, "eye": _law_eye, "shape": _law_shape,
        "arrays": _law_arrays, "decomposition": _law_decomposition, "round": _law_round, "sum_first": _law_sum_first,
        "index_axis": _law_index_axis, "region": _law_region, "items": _law_items, "pick": _law_pick,
        "stacked": _law_stacked, "unstacked": _law_unstacked}


def call_kind(name, args, e, kind_of):
    """The kind of a call of `name`: the kind law its rule record names (srcdiff/rules), None if unknown."""
    rule = RULES.get(name)
    law = rule.kind if rule is not None else None
    if law is None:
        return None
    law, params = (law[0], law[1:]) if isinstance(law, tuple) else (law, ())
    return LAWS[law](args, e, kind_of, *params)

