"""Array construction and casts (issue 18, items 3, 4 and 7), each once silently wrong:

- a cast to an integer or boolean dtype has no derivative (`x.astype(int)` was differentiated as a copy);
  a cast to a float dtype passes it (runtime/casts.py: rt.cast, rt.astype);
- `np.array` of nested lists, of arrays, and `np.asarray` of a literal (a zero gradient, or a crash);
- a list or tuple literal passed straight to a NumPy function (`np.sum([1, a * a, 2])`: a zero gradient).

Each case is checked against central differences in both backends, with value_and_grad's value
against f(x) and the jvp against the gradient.
"""
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
# away from the jumps of floor / round / int (integers and halves)
X = np.array([0.3, -1.4, 2.2, 0.7])
V = np.array([0.5, 1.0, -0.7, 0.2])


def _check(f, jit, x=X):
    """grad against central differences, value_and_grad's value against f, jvp against the gradient."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = srcdiff.grad(f, jit=jit)(x.copy())
        value, g2 = srcdiff.value_and_grad(f, jit=jit)(x.copy())
        fv, dv = srcdiff.jvp(f, jit=jit)(x.copy(), V[:len(x)])
    np.testing.assert_allclose(g, numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(value, f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fv, f(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dv, g @ V[:len(x)], rtol=1e-10, atol=1e-10)
    return g


# ---- item 3: casts ------------------------------------------------------------------------------------------
def astype_int(x):
    return np.sum(x.astype(int) * x)


@JIT
def test_astype_int_has_no_derivative(jit):
    x = np.array([0.5, -1.5, 2.0, 0.7])
    g = srcdiff.grad(astype_int, jit=jit)(x)
    np.testing.assert_array_equal(g, x.astype(int))      # was [1, -3, 4, 1.4]: differentiated as a copy
    _check(astype_int, jit)


def astype_int_spellings(x):
    return np.sum(x.astype(np.int64) * x) + np.sum(x.astype("int32") * x ** 2) + np.sum(x.astype(dtype=int) * x)


@JIT
def test_astype_int64_and_dtype_strings(jit):
    _check(astype_int_spellings, jit)


def astype_bool(x):
    return np.sum(x.astype(bool) * x) + np.sum((x - 0.5).astype(np.bool_) * x ** 2)


@JIT
def test_astype_bool_has_no_derivative(jit):
    _check(astype_bool, jit)


def astype_float(x):
    return (np.sum(x.astype(float) * x) + np.sum(x.astype(np.float64) ** 3) + np.float64(x[0]) * x[1]
            + float(x[2]) ** 2 + np.sum(x.astype(x.dtype) * x[3]))


@JIT
def test_astype_float_passes_the_derivative(jit):
    _check(astype_float, jit)


def astype_float32(x):
    return np.sum(x.astype(np.float32) * x)


@JIT
def test_astype_float32_keeps_its_precision(jit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, g = srcdiff.value_and_grad(astype_float32, jit=jit)(X.copy())
    assert value == astype_float32(X)      # the product of float32 values, as NumPy computes it
    np.testing.assert_allclose(g, X.astype(np.float32) + X, rtol=1e-12)


def int_of_scalar(x):
    return int(x[2]) * x[0] + np.int64(x[2]) * x[1] ** 2 + round(x[3]) * x[0] + x[1].astype(int) * x[3]


@JIT
def test_int_of_scalar_has_no_derivative(jit):
    _check(int_of_scalar, jit)


def rounding(x):
    return (np.sum(np.floor(x) * x) + np.sum(np.ceil(x) * x ** 2) + np.sum(np.round(x) * x) + np.sum(np.rint(x) * x)
            + np.sum(np.trunc(x) * x) + np.sum(np.fix(x) * x) + np.sum(np.around(x, 1) * x))


@JIT
def test_rounding_functions_have_zero_derivative(jit):
    _check(rounding, jit)


def astype_runtime_dtype(x):
    n = np.arange(3)
    y = (x > 0).astype(x.dtype)
    return np.sum(x[:3].astype(n.dtype) * x[:3]) + np.sum(y * x * x) + np.sum(x.astype(y.dtype) ** 2)


@JIT
def test_astype_dtype_known_at_run_time(jit):
    """x.astype(n.dtype) with n an integer array: the cast's result decides, at run time, that no
    derivative passes (rt.astype_grad)."""
    _check(astype_runtime_dtype, jit)


def dtype_keywords(x):
    a = x[0]
    return (np.sum(np.array(x, dtype=int) * x) + np.sum(np.asarray(x, dtype=np.int64) * x ** 2)
            + np.sum(np.array([a, x[1]], dtype=np.int64) * x[:2]) + np.sum(np.full(3, a, dtype=float) * x[1])
            + np.sum((np.zeros(4, dtype=int) + x) ** 2) + np.sum(np.array(x, dtype=float) ** 3)
            + np.sum(np.array([a * a, x[1]], dtype=float)))


@JIT
def test_dtype_keywords_cast(jit):
    _check(dtype_keywords, jit)


def complex_cast(x):
    return np.sum(np.abs(x.astype(complex)))


def test_cast_to_complex_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_array_literals\.py:\d+: a cast to complex128") as info:
        srcdiff.grad(complex_cast)(X.copy())
    assert info.value.advice


# ---- item 4: np.array of nested lists and of arrays ---------------------------------------------------------
def nested_elements(x):
    return np.sum(np.array([[x[0], x[1]], [x[2], x[0]]]) ** 2)


@JIT
def test_nested_array_of_elements(jit):
    g = _check(nested_elements, jit)
    assert np.any(g != 0)      # was all zeros


def nested_expressions(x):
    a = x[0]
    return np.sum(np.array([[2 * a, a + 1], [a, a]]) @ x[:2])


@JIT
def test_nested_array_of_expressions(jit):
    _check(nested_expressions, jit)


def array_of_vectors(x):
    m = np.array([x, x + 2])
    return np.sum(m ** 2 * np.arange(8.0).reshape(2, 4)) + m.shape[0]


@JIT
def test_array_of_vectors_is_a_matrix(jit):
    _check(array_of_vectors, jit)


def nested_mixed(x):
    rows = np.array([[x[:2], x[2:]], [x[2:] * 2, [1.0, 2.0]]])   # (2, 2, 2)
    consts = np.array([[1.0, x[0]], [x[1] * x[2], 2]])
    return np.sum(rows ** 2 * np.arange(8.0).reshape(2, 2, 2)) + np.sum(consts ** 3)


@JIT
def test_nested_array_mixing_constants_and_arrays(jit):
    _check(nested_mixed, jit)


def asarray_literals(x):
    return np.sum(np.asarray([x[0], x[1] * 2]) ** 2) + np.sum(np.asarray((x[2], x[3])) ** 3)


@JIT
def test_asarray_of_a_literal(jit):
    _check(asarray_literals, jit)


def array_copies(x):
    return np.sum(np.array(x) ** 2) + np.sum(x.copy() ** 3) + np.sum((np.zeros_like(x) + x) * x[0]) \
        + np.sum(np.asarray(x) * x[1])


@JIT
def test_array_of_an_array_is_a_copy(jit):
    _check(array_copies, jit)


def zero_d_of_a_number_written(x):
    c = np.array(0.3)
    c[()] = c * x[0]
    d = np.asarray(0.5)
    d[...] = d + x[1]
    e = np.asarray(2.0, dtype=float)
    e[()] = e * x[3]
    return np.sum(x * c) + d * x[2] + e


def zero_d_of_an_element_written(x):
    c = np.array(x[2])
    c[...] = c * x[0]
    return np.sum(x * c)


def zero_d_of_a_number_written_in_a_loop(x):
    c = np.array(0.3)
    for i in range(3):
        c[()] = c * x[3] + x[i]
    return np.sum(x * c)


def zero_d_of_a_number_bound_again_in_a_loop(x):
    z = np.array(0.5)
    w = np.asarray(0.0, dtype=float)
    for i in range(3):
        z += np.cos(np.tanh(x[3]) * i) * x[i]
        w = w * 0.5 + np.tanh(x[3]) * (i + 1) * x[i]
    return np.tanh(z) + w


@JIT
@pytest.mark.parametrize("f", [zero_d_of_a_number_written, zero_d_of_an_element_written,
                               zero_d_of_a_number_written_in_a_loop, zero_d_of_a_number_bound_again_in_a_loop])
def test_a_0d_array_of_a_number_written_into(f, jit):
    """np.array(0.3) / np.asarray(0.5) / np.array(x[2]), then `c[()] = ...`: a 0-d array of its own. Before (h30c, by
    hand), np.array of a number written into was declined ("rt.array needs a literal tuple or list of arrays"), and
    in a loop or of an element it failed inside (Numba: no `+=` of a 0-d array into a float; np.asarray(0.5) written
    was declined as "a write into the 0-d array argument `d`"). Bound again in a loop (`z += ...`, fuzz seed 1340006
    under Numba: "Cannot unify array(float64, 0d, C) and float64"), it is the number it holds, as np.zeros(()) is
    (zero_d_locals.py)."""
    _check(f, jit)


def stack_of_scalars(x):
    return np.sum(np.stack([x[0], x[1] * x[2]]) ** 2) + np.sum(np.stack((x[:2], x[2:]), axis=1) * x[0])


@JIT
def test_stack_of_scalars(jit):
    _check(stack_of_scalars, jit)


# ---- item 7: list and tuple literals passed straight to NumPy functions -----------------------------------
def sum_of_list(x):
    a = x[0]
    return np.sum([1, a * a, 2])


@JIT
def test_sum_of_list_literal(jit):
    _check(sum_of_list, jit)


def mean_of_list(x):
    return np.mean([x, x + 2]) * x[1] + np.sum(np.mean([x, x * x], axis=0) ** 2)


@JIT
def test_mean_of_list_of_arrays(jit):
    _check(mean_of_list, jit)


def norm_of_tuple(x):
    return np.linalg.norm((x, x + 2)) + np.var([x[0], x[1], x[2]])


@JIT
def test_norm_of_tuple(jit):
    _check(norm_of_tuple, jit)


def builtin_sum_of_list(x):
    y = x * 3
    return np.sum(sum([x, y]) ** 2) + sum((x[0], x[1] * x[2]))


@JIT
def test_builtin_sum_of_list_of_arrays(jit):
    _check(builtin_sum_of_list, jit)


def max_prod_of_literals(x):
    a, b = x[0], x[1]
    return np.max([a, b]) + np.prod((a, b)) + min([x[0], x[1] * 2, x[2]]) + max((x[3], x[0]))


@JIT
def test_max_and_prod_of_literals(jit):
    _check(max_prod_of_literals, jit)


def reductions_of_nested(x):
    m = np.array([[x[0], x[1]], [x[2], x[3]]])
    return np.sum(np.max(m, axis=1)) + np.sum(np.maximum(np.array([[x[0], x[1]], [x[2], x[3]]]), 0.6)) \
        + np.sum(np.min([[x[0], x[1]], [x[2], x[3]]], axis=0))


@JIT
def test_reductions_over_nested_literals(jit):
    _check(reductions_of_nested, jit)


def literals_elsewhere(x):
    return (np.dot([x[0], x[1]], x[2:]) + np.sum(np.where(x[:2] > 0, [x[2], x[3]], 0.0))
            + np.sum(np.exp([x[0], x[1] * 2])) + np.sum(np.concatenate(([x[0], x[1]], x[2:])) ** 2)
            + np.sum(np.vstack(([x[0], x[1]], x[2:])) ** 2 * np.arange(4.0).reshape(2, 2)))


@JIT
def test_literals_passed_to_other_functions(jit):
    _check(literals_elsewhere, jit)


def list_operands(x):
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    return (np.sum(x[:2] * [x[2], x[3]]) + np.sum(m @ [x[0], x[1]]) + np.sum(([x[2], x[3]] - x[:2]) ** 2 / [x[0], 2.0])
            + np.sum(np.exp(x[:2]) + [x[1], x[3]]))


@JIT
def test_list_literal_operands_of_array_arithmetic(jit):
    """x[:2] * [a, b], m @ [a, b], [a, b] - x: the literal is an array (was a partial or zero gradient)."""
    _check(list_operands, jit)


def literals_bound_to_names(x):
    terms = [np.sum(x ** 2), x[0] * x[1]]
    pair = (np.tanh(x[:2]), x[2:] * 3.0)
    s = 0.0
    for v in x[:2]:
        both = (v * x[3], np.sin(v))
        s = s + max(both) + np.sum(both)
    return sum(terms) + np.max(terms) + np.sum(sum(pair) ** 2) + np.mean(pair) + s


@JIT
def test_reductions_of_a_list_or_tuple_bound_to_a_name(jit):
    """`terms = [a, b]` then `sum(terms)`, `np.max(terms)`, `np.sum(pair)`: the front end makes the array of a
    literal passed there, not of a name bound to one, and no rule has an adjoint for a tuple: the gradient
    dropped those terms (zero for `return sum(terms)`: silently wrong) and the jvp raised TypeError. The
    name is the array of its items there now (kind_rewrites.call_arrays)."""
    g = _check(literals_bound_to_names, jit)
    assert np.all(g != 0.0)


def composites_of_names(x):
    scores = [x[0] * x[1], np.sum(x), -x[2]]
    vals = (x[0], x[1] * 3.0, x[2] ** 2)
    parts = [x[:2] * 2.0, np.sin(x)]
    rows = (x, x ** 2)
    return (logsumexp(scores) + np.sum(softmax(scores) * np.arange(3)) + np.var(vals) + np.std(vals)
            + np.sum(np.concatenate(parts) ** 2) + np.sum(np.stack(rows) @ x))


@JIT
def test_composites_and_joins_of_a_list_bound_to_a_name(jit):
    """softmax / np.var of a list bound to a name were declined as list arithmetic (their written-out forms
    subtract a float from the name: `vals - m`, an array there), and the jvp of np.concatenate / np.stack of
    such a name was declined ("needs a literal tuple"), where the gradient worked."""
    _check(composites_of_names, jit)


def matrix_bound_to_a_name(x):
    M = ((x[0], x[1]), (x[1] * 2.0, x[2]))
    return np.sum(M) + np.linalg.det(M) + np.trace(np.exp(M))


@JIT
def test_a_tuple_of_tuples_bound_to_a_name_is_a_matrix(jit):
    """`M = ((a, b), (c, d))` then np.sum(M), np.linalg.det(M): the gradient was zero (silently wrong), the jvp
    not compiled by Numba (rt.array of a tuple of tuples); each row is an array of its own now."""
    _check(matrix_bound_to_a_name, jit, x=X[:3])


def list_repetition(x):
    return np.sum(np.array([x[0]] * 2) ** 2)


def test_list_repetition_of_differentiated_values_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_array_literals\.py:\d+: a list or tuple of differentiated "
                                                   r"values repeated") as info:
        srcdiff.grad(list_repetition)(X.copy())
    assert "np.full" in info.value.advice


def asarray_then_write(x):
    y = np.asarray(x)
    y[0] = 5.0
    return np.sum(x * x)


def test_write_through_asarray_is_declined():
    """np.asarray of an array is the array itself: a write through it changes x (was a silently wrong
    gradient, np.asarray being taken for a copy)."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_array_literals\.py:\d+: `x` shares memory with `y`"):
        srcdiff.grad(asarray_then_write)(X.copy())


# ---- tuples written into arrays and passed to NumPy functions ------------------------------------------------
# `traj[i] = (p, v)` and `traj[i] = state` (state a tuple), np.sum(state), np.asarray(state),
# np.linalg.norm(state), np.maximum(state, c): reverse mode gave a zero gradient (the write and the rules had
# no adjoint for a tuple), forward mode raised TypeError inside the composites (a tuple times a float).
def tuple_rows(x):
    traj = np.zeros((3, 2))
    state = (x[0], x[1])
    for i in range(3):
        p, v = state
        v = v - 0.1 * p * x[2]
        state = (p + 0.1 * v, v)
        traj[i] = state
        traj[i, :] += (v * v, 0.5)
    traj[0] = [traj[2, 1], x[3] * x[0]]
    return np.sum(traj ** 2)


def tuple_to_numpy(x):
    st = (x[0] * 2.0, x[1] * x[2])
    return (np.sum(st) + np.prod(st) + np.linalg.norm(st) + np.sum(np.maximum(st, 0.1)) + max(st)
            + np.sum(np.asarray(st) * np.array([1.0, 3.0])))


def rows_of_literal_lists(x):
    feats = np.array([[v, v * v, np.sin(v)] for v in x])
    grid = np.array([[a * b for a in x] for b in x[:2]])
    return np.sum(feats @ np.array([1.0, -2.0, 0.5])) + np.sum(grid ** 2)


def joined_tuple(x):
    """np.concatenate / np.stack of a name bound to a tuple of arrays: jvp declined it ("needs a literal tuple")."""
    st = (x[:2] * 2.0, np.sin(x[1:3]))
    return np.sum(np.concatenate(st) ** 2) + np.sum(np.stack(st) * x[3])


def joined_tuple_in_a_loop(x):
    """The tuple's second item is loop-carried, rebound to a value whose kind the first sweep does not know: the
    two sweeps' kinds of st (a tuple of two) joined to unknown, and jvp declined np.stack(st) (fuzz 900015)."""
    t = x[:2] * 1.0
    s = 0.0
    for k in range(2):
        st = (x[1:3], t)
        s = s + np.sum(np.stack(st) ** 2) + np.sum(np.concatenate(st))
        t = np.linalg.norm(np.outer(x[:2], x[2:]) + np.array([[0.0], [1.0]]), axis=0)
    return s + np.sum(t)


@JIT
@pytest.mark.parametrize("f", [tuple_rows, tuple_to_numpy, rows_of_literal_lists, joined_tuple,
                               joined_tuple_in_a_loop])
def test_tuples_where_numpy_takes_an_array(f, jit):
    _check(f, jit)


def named_comprehensions(x):
    """A list comprehension bound to a name, then converted (np.array, np.asarray, np.stack along an axis) or
    counted: declined ("a comprehension is differentiated only as the argument of sum(...), or ... that np.array
    ... takes alone"); it is the array of the comprehension, and each conversion a copy of it."""
    v = x * 2.0
    vals = [v[1] * u if u > 0 else -(u * u) for u in x]
    cols = [np.sin(x[:3] * k) for k in range(1, 3)]
    rows = [(u, u * v[0]) for u in x[1:]]
    a = np.array(vals)
    b = np.stack(cols, axis=1)
    a[0] = 3.0 * a[1]
    return np.sum(np.array(vals) ** 2) + np.sum(a) + np.sum(b @ x[:2]) + np.sum(np.asarray(rows) ** 3) + len(cols)


def named_comprehension_in_a_loop_else(x):
    """A named comprehension in a loop's else block (desugar moves the block after the loop as `if not broke:`)
    and in the body of a loop unrolled over a tuple (a copy per item): each was declined (fuzz seeds 921009,
    921074: 'call to builtins.zip', 'a comprehension is differentiated only ...'), as the rewrite looked for the
    name's binding and reads in a tree that no longer held the block."""
    s = 0.0
    for i in range(2):
        s = s + x[i] * x[i + 1]
        if s > 50.0:
            break
    else:
        vals = [np.sin(u) * s for u, w in zip(x, x[::-1])]
        s = s + np.sum(np.asarray(vals) ** 2) + len(vals)
    for w in (x[:2], x[1:]):
        parts = [np.cos(u) * w[0] for u in w]
        s = s + np.sum(np.array(parts) * 0.5)
    return s


@JIT
def test_a_named_comprehension_in_a_block_desugar_moves(jit):
    _check(named_comprehension_in_a_loop_else, jit)


def named_comprehension_summed(x):
    """sum(terms) of a named comprehension was declined ("a comprehension is differentiated only ..."): Python's
    sum of its items, scalars or rows."""
    terms = [np.sin(u) for u in x if u > -0.5]
    rows = [x * x[i] for i in range(2)]
    return sum(terms) + np.sum(sum(rows) ** 2) * len(rows)


def named_comprehension_summed_from_a_start(x):
    """sum(terms, start) of a named comprehension (README: sum(...) also with a start; a named comprehension may be
    summed) was declined ("a comprehension is differentiated only ..."), while sum(terms) ran: the start plus the
    sum of the items, a start that depends on x too, rows of arrays, and start= by keyword."""
    terms = [np.exp(0.3 * u) for u in x if u > -1.0]
    rows = [x * x[i] for i in range(2)]
    none = [u for u in x if u > 100.0]           # no items: Python's sum is the start
    return (sum(terms, 0.5) * sum(terms, x[0]) + np.sum(sum(rows, x) ** 2) + sum(rows, start=1.0)[1]
            + sum(none, x[1] * 3.0))


def named_comprehension_indexed(x):
    terms = [np.sin(u) for u in x]
    return terms[0] * 2.0


@JIT
def test_a_named_comprehension_summed(jit):
    _check(named_comprehension_summed, jit)


@JIT
def test_a_named_comprehension_summed_from_a_start(jit):
    _check(named_comprehension_summed_from_a_start, jit)


@JIT
def test_a_list_comprehension_bound_to_a_name_then_converted(jit):
    _check(named_comprehensions, jit)


def test_a_list_comprehension_bound_to_a_name_used_otherwise_is_still_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_array_literals.py:\d+: a comprehension is differentiated only"):
        srcdiff.grad(named_comprehension_indexed)(X.copy())


def extremes_of_comprehensions(x):
    """max/min of a generator expression or list comprehension: declined ("a comprehension is differentiated only as
    the argument of sum(...)"); the largest (smallest) item of the array of the comprehension."""
    m = max(v ** 2 for v in x) + min([np.sin(v) for v in x if v > -10.0])
    return m * max(x[i] * x[i + 1] for i in range(len(x) - 1))


@JIT
def test_max_and_min_of_a_comprehension(jit):
    _check(extremes_of_comprehensions, jit)


def _index_table_f(x, M):
    s = np.sum(M[np.arange(2)[:, None], np.array([[1, 2, 0], [2, 0, 0]])])
    rows = np.array([x, s])
    return np.sum(rows * rows)


def _index_table_h(x, M):
    v, d = srcdiff.jvp(_index_table_f, wrt=(0, 1))(x, M, (0.5, M * M))
    return np.sin(v) * d + d * d


def test_rt_array_of_rows_of_numbers_compiles_under_numba():
    """rt.array of a tuple of tuples of numbers (an index table `np.array([[1, 2, 0], [2, 0, 0]])` as a jvp's source
    spells it, `s5 = np.array((s3, s4))`, whose constants reverse mode folds in) had no Numba implementation:
    reverse mode over that jvp under jit=True was declined ("No implementation of function array", nested fuzz
    seed 1101010), while the Python backend differentiated it."""
    import numba
    from srcdiff import runtime as rt

    @numba.njit
    def table(x):
        return rt.array(((1, 2, 0), (2, 0, 0))), rt.array(((x, 2.0), (1, x))), rt.array((((1.0,), (x,)),))
    ints, mixed, deep = table(0.5)
    np.testing.assert_array_equal(ints, np.array([[1, 2, 0], [2, 0, 0]]))
    assert ints.dtype.kind == "i"
    np.testing.assert_array_equal(mixed, np.array([[0.5, 2.0], [1.0, 0.5]]))
    np.testing.assert_array_equal(deep, np.array([[[1.0], [0.5]]]))
    x, M = 0.4, np.array([[0.3, 0.2, -0.4], [1.1, 0.5, 0.9]])
    got = srcdiff.grad(_index_table_h, wrt=(0, 1), jit=True)(x, M)
    want = srcdiff.grad(_index_table_h, wrt=(0, 1), jit=False)(x, M)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert want[0] == pytest.approx(numerical_grad(_index_table_h, [x, M], 0), rel=1e-6)
    np.testing.assert_allclose(want[1], numerical_grad(_index_table_h, [x, M], 1), rtol=1e-6, atol=1e-6)
