"""Each rule record's kind law (transforms/kind_laws.py) against NumPy: for a few argument kinds, the kind the law
gives a call is the kind of the value the call computes. A record without a law (or with a wrong one) leaves the
values it computes of unknown kind, and Numba then declines valid programs: a sum over a comprehension of np.diag
terms started from 0.0 ("Cannot unify float64 and array(float64, 1d, C)"), a snapshot list of none.

KIND_CASES: record name -> rows (expression as generated code writes it, argument values). Arguments are named
x, y, w in the expression, given in the order the expression reads them; their kinds are those of the values (a
list: a stack of its last value's kind).
An expected None (DYNAMIC_CASES) is a call whose kind the law declines to give (it depends on run-time values).
Operators are written as the syntax (`x @ y`, `-x`): their records' law is the one kind_exprs applies to it.
"""
import builtins
import math
import re
import warnings

import gast
import numpy as np
import pytest

from srcdiff import runtime as rt
from srcdiff.rules import RULES
from srcdiff.transforms import kinds
from srcdiff.transforms.astutil import dotted_name, parse_expr

RNG = np.random.default_rng(7)
s, n = 0.7, 2
v = np.array([0.3, -0.8, 1.2])
u = np.array([-1.0, 0.25, 2.0])                # (sorted: knots, a searchsorted's array)
M = np.array([[2.0, 0.3, -0.1], [0.3, 1.5, 0.2], [-0.1, 0.2, 1.1]])   # (symmetric positive definite)
T = RNG.normal(size=(2, 3, 3))
iv, im = np.array([0, 2, 1]), np.array([[1, 0], [2, 1]])
bv, bm = np.array([True, False, True]), np.array([[True, False, False], [True, True, False]])
L = np.linalg.cholesky(M)
Z = np.array(-0.4)                             # (a 0-d array: its arithmetic gives numbers, NumPy's and Numba's)
A2, B3 = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])

KIND_CASES = {
    # operators (their records' law, ("operator", op), is the syntax's)
    "+": [("x + y", s, v), ("x + y", v, M), ("x + y", n, iv), ("x + y", iv, s), ("x + y", bv, bm),   # (of boolean
          ("x + y", True, bv), ("x + y", True, False)],   # arrays: booleans, as in Numba; of Python's bools: an int)
    "-": [("x - y", v, M), ("x - y", n, iv), ("x - y", T, M), ("x - y", Z, Z), ("x - y", Z, v)],
    "*": [("x * y", s, M), ("x * y", iv, bv), ("x * y", n, n), ("x * y", bm, bv), ("x * y", bv, n), ("x * y", Z, s),
          ("x * y", n, Z)],
    "/": [("x / y", n, iv), ("x / y", n, n), ("x / y", v, M)],
    "**": [("x ** y", v, s), ("x ** y", s, n), ("x ** y", M, v)],
    "%": [("x % y", v, s), ("x % y", iv, n), ("x % y", n, n)],
    "@": [("x @ y", M, v), ("x @ y", v, v), ("x @ y", T, M), ("x @ y", v, M)],
    "neg": [("-x", v), ("-x", n), ("-x", T)],
    "pos": [("+x", iv), ("+x", s)],
    # rank-dependent functions: the rank read off the arguments' and literal axes
    "rt.diff": [("rt.diff(x, 0)", v), ("rt.diff(x, 1)", M), ("rt.diff(x, -1)", iv), ("rt.diff(x, 0)", bm)],
    "rt.diff_transpose": [("rt.diff_transpose(x, 0)", v), ("rt.diff_transpose(x, 1)", M)],
    "rt.squeeze": [("rt.squeeze(x, 0)", M[:1]), ("rt.squeeze(x, (0, 2))", T[:1, :, :1]),
                   ("rt.squeeze(x, -1)", im[:, :1]),
                   ("rt.squeeze(x, axis=1)", T[:, :1]),
                   ("rt.squeeze(x, y)", M[:1], 0)],   # (an int axis, known at run time: one axis fewer)
    "rt.tensordot": [("rt.tensordot(x, y, 1)", M, v), ("rt.tensordot(x, y, 2)", M, M), ("rt.tensordot(x, y, 1)", T, M),
                     ("rt.tensordot(x, y, 0)", v, v)],
    "np.diag": [("np.diag(x)", v), ("np.diag(x)", M), ("np.diag(x, 1)", M), ("np.diag(x)", iv), ("np.diag(x, -1)", v)],
    "np.linalg.slogdet": [("np.linalg.slogdet(x)", M), ("np.linalg.slogdet(x)", T)],
    "np.linalg.eigh": [("np.linalg.eigh(x)", M), ("np.linalg.eigh(x)", T + np.swapaxes(T, 1, 2))],
    "np.linalg.svd": [("np.linalg.svd(x)", M), ("np.linalg.svd(x, full_matrices=False)", T),
                      ("np.linalg.svd(x, compute_uv=False)", M)],
    "np.eye": [("np.eye(3)", ), ("np.eye(x, 4)", n), ("np.eye(3, dtype=np.int64)", ), ("np.eye(2, 3, 0, np.bool_)", )],
    "np.identity": [("np.identity(3)", ), ("np.identity(x, np.int64)", n)],
    "np.shape": [("np.shape(x)", v), ("np.shape(x)", T), ("np.shape(x)", s)],
    "np.tril_indices": [("np.tril_indices(3)", ), ("np.tril_indices(x, 1)", n)],
    "np.triu_indices": [("np.triu_indices(x)", n), ("np.triu_indices(3, -1, 4)", )],
    "np.searchsorted": [("np.searchsorted(x, y)", u, s), ("np.searchsorted(x, y)", u, v),
                        ("np.searchsorted(x, y, side='right')", u, M)],
    "np.any": [("np.any(x)", bv), ("np.any(x, 0)", bm), ("np.any(x, axis=1)", bm), ("np.any(x > 0.0)", T),
               ("np.any(x, (0, 2))", T)],
    "np.all": [("np.all(x, (0, 1))", bm), ("np.all(x, axis=0, keepdims=True)", bm), ("np.all(x)", iv)],
    "np.count_nonzero": [("np.count_nonzero(x)", bv), ("np.count_nonzero(x, axis=0)", bm),
                         ("np.count_nonzero(x, 1)", T)],
    "bool": [("bool(x)", s), ("bool(x)", n)],
    "math.floor": [("math.floor(x)", s)], "math.ceil": [("math.ceil(x)", s)], "math.trunc": [("math.trunc(x)", s)],
    "math.isqrt": [("math.isqrt(x)", n)], "rt.equal_split": [("rt.equal_split(x, 2)", np.ones(6))],
    "rt.rot90_axis": [("rt.rot90_axis(x, 0, -1)", np.ones((2, 3)))],
    "rt.check_unpack": [("rt.check_unpack(x, 2)", np.ones(2)), ("rt.check_unpack(x, 3)", M[:3])],
    "rt.check_axis": [("rt.check_axis(x, 1, y)", M, n), ("rt.check_axis(x, -1, y)", v, n)],
    "rt.check_rank": [("rt.check_rank(x, 2, y)", M, n), ("rt.check_rank(x, 1, y)", v, n)],
    "rt.numpy_float": [("rt.numpy_float(x, y)", iv, v), ("rt.numpy_float(x, y)", im, 0.5)],
    "math.isnan": [("math.isnan(x)", s)], "math.isinf": [("math.isinf(x)", s)],
    "math.isfinite": [("math.isfinite(x)", s)],
    "np.isclose": [("np.isclose(x, y)", v, u), ("np.isclose(x, y, rtol=1e-3)", M, v), ("np.isclose(x, y)", s, s)],
    "np.allclose": [("np.allclose(x, y)", v, u), ("np.allclose(x, y, atol=1e-3)", M, v)],
    "rt.slogdet_sign": [("rt.slogdet_sign(x)", M)],
    "abs_int": [("abs_int(x)", n)],
    "round": [("round(x)", s), ("round(x, 2)", s), ("round(x, 1)", n)],
    "builtin_sum": [("builtin_sum(x)", v), ("builtin_sum(x)", M), ("builtin_sum(x)", iv), ("builtin_sum(x)", bm)],
    "rt.linspace_weights": [("rt.linspace_weights(5)", ), ("rt.linspace_weights(x, False)", n)],
    "np.bool_": [("np.bool_(x)", s), ("np.bool_(x)", v)],
    "np.int64": [("np.int64(x)", s), ("np.int64(x)", M), ("np.int64()", )],
    "np.int32": [("np.int32(x)", n)], "np.intp": [("np.intp(x)", bv)], "np.uint8": [("np.uint8(x)", iv)],
    # no value of a kind (a range, a slice, None), and stacks (a pop: what the stack holds)
    "range": [("range(x)", n)], "slice": [("slice(0, x)", n)], "print": [("print(end='')", )],
    "rt.fstring": [("rt.fstring('{} = {:.3f}', x, y)", n, s)],
    "rt.stack": [("rt.stack()", )], "rt.push": [("rt.push(x, y)", [v], v)], "rt.pop": [("rt.pop(x)", [v, v])],
    "rt.index_add": [("rt.index_add(x, y, w)", np.zeros(3), iv, v)],
    "rt.add_at": [("rt.add_at(x, y, w)", np.zeros(3), iv, v)],
    # adjoint helpers: usually the kind of a named argument, as floats
    "rt.transpose_grad": [("rt.transpose_grad(x)", M), ("rt.transpose_grad(x, (1, 0, 2))", T)],
    "rt.index_axis": [("rt.index_axis(x, 0, y)", M, n), ("rt.index_axis(x, 0, 1)", v), ("rt.index_axis(x, 2, 1)", T)],
    "rt.slice_axis": [("rt.slice_axis(x, 1, 0, 2)", M), ("rt.slice_axis(x, 0, 1, 3)", iv)],
    "rt.index_axis_put": [("rt.index_axis_put(w, x, 0, 1)", v, M), ("rt.index_axis_put(w, x, 0, 2)", s, v)],
    "rt.slice_axis_put": [("rt.slice_axis_put(w, x, 1, 0, 2)", M[:, :2], M)],
    "rt.take_put": [("rt.take_put(w, x, y)", v, M, iv), ("rt.take_put(w, x, y, 1)", M, M, iv)],
    "rt.trace_grad": [("rt.trace_grad(w, x)", s, M), ("rt.trace_grad(w, x, 1)", s, M)],
    "rt.diag_grad": [("rt.diag_grad(w, x)", v, M), ("rt.diag_grad(w, x)", M, v)],
    "rt.logsumexp_vecmat_grad_M": [("rt.logsumexp_vecmat_grad_M(w, x, y, None, rt.logsumexp_vecmat(x, y, None))",
                                    v, v, M)],
    "rt.logsumexp_vecmat_grad_v": [("rt.logsumexp_vecmat_grad_v(w, x, y, None, rt.logsumexp_vecmat(x, y, None))",
                                    v, v, M)],
    "rt.logsumexp_matvec_grad_M": [("rt.logsumexp_matvec_grad_M(w, y, x, None, rt.logsumexp_matvec(y, x, None))",
                                    v, M, v)],
    "rt.logsumexp_matvec_grad_v": [("rt.logsumexp_matvec_grad_v(w, y, x, None, rt.logsumexp_matvec(y, x, None))",
                                    v, M, v)],
    "rt.tensordot_grad_x": [("rt.tensordot_grad_x(w, x, y, 1)", v, M, v),
                            ("rt.tensordot_grad_x(w, x, y, 1)", T @ M, T, M)],
    "rt.tensordot_grad_y": [("rt.tensordot_grad_y(w, x, y, 1)", v, M, v),
                            ("rt.tensordot_grad_y(w, x, y, 2)", np.ones(2), T, M)],
    "rt.cumprod_grad": [("rt.cumprod_grad(w, x, 0)", M, M), ("rt.cumprod_grad(w, x)", M.ravel(), M)],
    "rt.cumprod_jvp": [("rt.cumprod_jvp(w, x, 1)", M, M), ("rt.cumprod_jvp(w, x)", M, M),
                       ("rt.cumprod_jvp(w, x, None)", v, v)],
    "rt.interp_slope": [("rt.interp_slope(x, y, w)", s, u, v), ("rt.interp_slope(x, y, w)", v, u, v)],
    "rt.interp_slope_transpose": [("rt.interp_slope_transpose(w, x, y, w)", v, v, u)],
    "rt.interp_transpose": [("rt.interp_transpose(w, x, y, w)", v, v, u), ("rt.interp_transpose(w, x, y, y)", s, s, u)],
    "rt.solve_grad_a": [("rt.solve_grad_a(w, x)", v, v), ("rt.solve_grad_a(w, x)", M, M)],
    "rt.solve_triangular_grad_a": [("rt.solve_triangular_grad_a(w, x, 0, True)", v, v),
                                   ("rt.solve_triangular_grad_a(w, x, 1, False)", M, M)],
    "rt.tri_matmul": [("rt.tri_matmul(w, x, 1)", M, v), ("rt.tri_matmul(w, x, 0)", M, M)],
    "rt.tri_mask": [("rt.tri_mask(x, True)", M)], "rt.transpose_if": [("rt.transpose_if(x, 1)", M)],
    "rt.cholesky_grad": [("rt.cholesky_grad(x, y)", L, M)], "rt.logdet_grad": [("rt.logdet_grad(x)", M)],
    "rt.kron_grad_a": [("rt.kron_grad_a(w, x, y)", np.kron(A2, B3), A2, B3),
                       ("rt.kron_grad_a(w, x, y)", np.ones(6), v[:2], v)],
    "rt.kron_grad_b": [("rt.kron_grad_b(w, x, y)", np.kron(A2, B3), A2, B3),
                       ("rt.kron_grad_b(w, x, y)", np.ones(6), v[:2], v)],
}

# calls whose kind depends on run-time values: the law gives None (NumPy computes a value all the same)
DYNAMIC_CASES = [
    ("rt.squeeze", "rt.squeeze(x)", M[:1]),              # (which axes have length 1: known when it runs)
    ("rt.tensordot", "rt.tensordot(x, y, w)", M, v, 1),   # (how many axes are contracted, not a literal)
    ("np.any", "np.any(x, keepdims=y)", bm, True),
]

# the laws added with this table: each record naming one is in KIND_CASES
LAWS_TESTED_HERE = {"operator", "opaque", "scalar", "to_dtype", "like_dtype", "element", "reduce_to", "squeeze",
                    "tensordot", "diag", "eye", "shape", "arrays", "decomposition", "round", "sum_first", "index_axis"}

NAMESPACE = {"np": np, "math": math, "rt": rt, "builtin_sum": builtins.sum, "abs_int": builtins.abs}


def _arg_kind(value):
    if isinstance(value, list):   # a stack
        return kinds.Kind.stack(kinds.kind_of_value(value[-1]) if value else None)
    return kinds.kind_of_value(value)


def _value_kind(value):
    """The kind of a value NumPy computes, tuples with their elements' kinds."""
    if isinstance(value, tuple):
        return kinds.Kind.tuple_of(len(value), [_value_kind(e) for e in value])
    return kinds.kind_of_value(value)


def _agrees(law, value):
    """The law's kind is the value's; a tuple of a known length and unknown elements: a tuple of ints that long
    (np.shape), of unknown length: any tuple of ints."""
    if value is None:       # (a call made for its effect: print, rt.push; no law, as before None had a kind)
        return law is None or law == kinds.kind_of_value(None)
    got = _value_kind(value)
    if kinds.is_array(got) and kinds.ndim(got) == 0:   # (a 0-d array, np.tensordot's of two matrices: a scalar)
        got = kinds.Kind.scalar(kinds.dtype(got))
    if kinds.is_tuple(law) and kinds.elements(law) is None and kinds.is_tuple(got):
        return (kinds.length(law) in (None, kinds.length(got))
                and all(e == kinds.I for e in kinds.elements(got) or ()))
    return law == got


def _law_kind(name, expr, args):
    """(the kind the record's law gives the call, the call's value)."""
    env = dict(zip(dict.fromkeys(re.findall(r"\b[xyw]\b", expr)), args))   # (named in the order they are read)
    arg_kinds = {k: _arg_kind(a) for k, a in env.items()}
    e = parse_expr(expr)
    if isinstance(e, (gast.BinOp, gast.UnaryOp)):   # an operator: the syntax's kind is its record's law's
        operands = [e.left, e.right] if isinstance(e, gast.BinOp) else [e.operand]
        law = kinds.call_kind(name, [kinds.expr_kind(a, arg_kinds) for a in operands], e,
                              lambda a: kinds.expr_kind(a, arg_kinds))
        assert kinds.expr_kind(e, arg_kinds) == law, expr
    else:
        assert dotted_name(e.func) == name, (expr, name)   # (the row calls this record)
        law = kinds.expr_kind(e, arg_kinds)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        value = eval(expr, dict(NAMESPACE), {k: (list(a) if isinstance(a, list) else a) for k, a in env.items()})
    return law, value


ROWS = [(name, row[0], row[1:]) for name, rows in KIND_CASES.items() for row in rows]


@pytest.mark.parametrize("name, expr, args", ROWS, ids=[f"{name}:{expr}" for name, expr, _ in ROWS])
def test_kind_law_gives_the_kind_numpy_computes(name, expr, args):
    law, value = _law_kind(name, expr, args)
    assert _agrees(law, value), (expr, law, _value_kind(value))


@pytest.mark.parametrize("case", DYNAMIC_CASES, ids=[c[1] for c in DYNAMIC_CASES])
def test_kind_law_declines_a_kind_known_at_run_time_only(case):
    name, expr, args = case[0], case[1], case[2:]
    law, value = _law_kind(name, expr, args)
    assert law is None and value is not None, (expr, law)


def test_np_array_of_names_bound_to_tuples_of_numbers():
    """Generated code binds an index `M[i, [[2, 0, 1], [1, 1, 0]]]` as `r1 = (2, 0, 1)`, `r2 = (1, 1, 0)`,
    `idx = np.array((r1, r2))`: its kind (and so the read's, and a mask's compared from it) was unknown, and the
    mask's placeholder None became an Optional Numba could not index with under a jvp of the gradient (nested
    fuzz seed 1015125)."""
    ints = kinds.Kind.tuple_of(3, [kinds.I] * 3)
    mixed = kinds.Kind.tuple_of(2, [kinds.F, kinds.I])
    e = parse_expr("np.array((x, y))")
    for x, y, want in [(ints, ints, np.array([(2, 0, 1), (1, 1, 0)])), (mixed, mixed, np.array([(0.5, 1), (2.0, 3)])),
                       (kinds.F, kinds.I, np.array((0.5, 2)))]:
        assert kinds.expr_kind(e, {"x": x, "y": y}) == kinds.kind_of_value(want), (x, y)
    assert kinds.expr_kind(e, {"x": ints, "y": kinds.Kind.tuple_of(3, None)}) is None    # (items' kinds unknown)


def test_every_record_of_these_laws_is_in_the_table():
    """A record naming one of the laws this table tests has rows in it; every row calls a record that exists."""
    named = {n for n, r in RULES.items() if (r.kind[0] if isinstance(r.kind, tuple) else r.kind) in LAWS_TESTED_HERE}
    assert named <= set(KIND_CASES), sorted(named - set(KIND_CASES))
    assert set(KIND_CASES) <= set(RULES), sorted(set(KIND_CASES) - set(RULES))


# ---- programs Numba declined while these records had no kind law ----------------------------------------------
# Each failed on main before the laws under jit=True, with and without checkpoints=2: a sum over a comprehension
# starts from zeros shaped like its first term where the terms' kind is known, and from 0.0 where it is not, which
# Numba cannot unify with the arrays the loop adds ("Cannot unify float64 and array(float64, 1d, C) for
# 'total_sum7.5'", declined at the user's line). m is a 2x2 matrix, a a vector of 2.

def diag_sum(m, a):
    return np.sum(sum(np.diag(m) * r for r in m) * a)


def diag_sum_zip(m, a):
    return np.sum(sum(np.diag(m) * p * q for p, q in zip(a, a)))


def diag_of_vector_sum(m, a):
    return np.sum(sum(np.diag(a) * r for r in a) * m)


def tensordot_sum(m, a):
    return np.sum(sum(np.tensordot(m, a, axes=1) * r for r in a))


def tensordot_pair_sum(m, a):
    return np.sum(sum(np.tensordot(m, m, axes=([1], [0])) * r for r in a))


def squeeze_sum(m, a):
    return np.sum(sum(np.squeeze(m[:1], axis=0) * r for r in a))


def squeeze_tuple_sum(m, a):
    return np.sum(sum(np.squeeze(m[:1, None, :], axis=(0, 1)) * r for r in a))


def eye_sum(m, a):
    return np.sum(sum(np.eye(2) * r for r in a) * m)


def eye_dtype_sum(m, a):
    return np.sum(sum(np.eye(2, dtype=np.float64) * r for r in a) * m)


def identity_sum(m, a):
    return np.sum(sum(np.identity(2) * r for r in a) * m)


def diff_sum(m, a):
    return np.sum(sum(np.diff(m, axis=0) * r for r in a))


def round_sum(m, a):
    return np.sum(sum(m[round(a[1] * 0.0 + 1.2)] * r for r in a))


def floor_sum(m, a):
    return np.sum(sum(m[math.floor(a[1] * 0.0 + 1.2)] * r for r in a))


def searchsorted_sum(m, a):
    i = np.searchsorted(np.array([0.0, 0.5, 1.0]), a[0])
    return np.sum(sum(m[i % 2] * r for r in a))


def int64_sum(m, a):
    k = np.int64(a[0] * 0.0 + 1.0)
    return np.sum(sum(m[k] * r for r in a))


def count_nonzero_sum(m, a):
    c = np.count_nonzero(m > 0.0, axis=0)
    return np.sum(sum(c * r for r in a) * a)


def shape_zeros_sum(m, a):
    z = np.zeros(np.shape(m))
    return np.sum(sum((z + m) * r for r in a))


def tril_indices_sum(m, a):
    i, j = np.tril_indices(2)
    return np.sum(sum(m[i, j] * r for r in a))


def boolean_product_maybe_bound(m, a):   # (its placeholder was ints, the value booleans: "Cannot unify
    if a[0] > 0.0:                       # array(int64, 2d, C) and array(bool, 2d, C) for 'c.2'")
        c = (m > 0.0) * (m > 1.0)
    t = 0.0
    if a[0] > 0.0:
        t = np.sum(np.where(c, m, 0.0))
    return t + np.sum(a)


DECLINED_BEFORE = [boolean_product_maybe_bound, diag_sum, diag_sum_zip, diag_of_vector_sum, tensordot_sum, tensordot_pair_sum, squeeze_sum,
                   squeeze_tuple_sum, eye_sum, eye_dtype_sum, identity_sum, diff_sum, round_sum, floor_sum,
                   searchsorted_sum, int64_sum, count_nonzero_sum, shape_zeros_sum, tril_indices_sum]


# ---- values of these records bound in a branch, carried by a loop, or a checkpointed loop's state ---------------
# (these ran before too, on the fallbacks for a value of unknown kind: a None placeholder, `[a] * n` snapshots;
# now they take the typed paths, and the snapshots are typed)

def diag_branch(m, a):
    if a[0] > 0.0:
        d = np.diag(m)
    else:
        d = a * 2.0
    return np.sum(d * a)


def tensordot_loop(m, a):
    for i in range(3):
        a = np.tanh(np.tensordot(m, a, axes=1)) + 0.5 * a
    return np.sum(a * a)


def squeeze_branch(m, a):
    if a[0] > 0.0:
        s = np.squeeze(m[:1], axis=0)
    else:
        s = a * 2.0
    return np.sum(s * a)


def eye_loop(m, a):
    e = np.eye(2)
    for i in range(3):
        e = np.tanh(e @ m) + 0.5 * e
    return np.sum(e * e) + np.sum(a)


def diag_state(m, a):
    for i in range(4):
        a = np.tanh(np.diag(np.outer(m @ a, a))) + 0.5 * a
    return np.sum(a * a)


TYPED_NOW = [diag_branch, tensordot_loop, squeeze_branch, eye_loop, diag_state]
ARGS = [np.array([[1.5, 0.2], [-0.3, 1.1]]), np.array([0.3, -0.8])]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", DECLINED_BEFORE + TYPED_NOW, ids=lambda f: f.__name__)
def test_gradient_of_a_value_these_laws_give_a_kind(f, jit):
    """Central differences; under jit, the same gradient as Python's; with checkpoints=2, the same as taped."""
    from gradcheck import check_grad
    import srcdiff
    want = check_grad(f, [a.copy() for a in ARGS], wrt=(0, 1), jit=jit)
    if jit:
        python = srcdiff.grad(f, wrt=(0, 1))(*[a.copy() for a in ARGS])
        for g, p in zip(want, python):
            np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-14)
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit, checkpoints=2)
    for got, w in zip(g(*[a.copy() for a in ARGS]), want):
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-14)
    if f is diag_state:   # (a checkpointed state of a known kind: typed snapshots, not a list of the value's type)
        assert "a_snapshots = " in srcdiff.source(g) and "a_snapshots = [a] *" not in srcdiff.source(g)
