"""Indexing with None (np.newaxis) and integer arrays, rule arguments by keyword, lambdas, np.cov, np.take,
sum(...) of arrays and the cross-entropy idiom: each gradient checked against central differences in both
backends, its value against f itself, and forward mode against it (jvp(f)(x, v)[1] == <grad, v>)."""
import inspect

import numpy as np
import pytest
import scipy.special

import srcdiff
from gradcheck import check_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
rng = np.random.default_rng(7)
X1 = rng.normal(size=5)
X2 = rng.normal(size=(3, 4))
IDX = np.array([2, 0, 2])
IDX2 = np.array([[0, 1], [2, 2]])
W3 = np.arange(1.0, 4.0)
W4 = np.arange(1.0, 5.0)


def check_all(f, x, jit, jvp_jit=None):
    """Gradient against central differences, value_and_grad's value against f, jvp against the gradient
    (the jvp with jit=jvp_jit, default jit)."""
    (g,) = check_grad(f, [x.copy()], wrt=0, jit=jit)
    value, g2 = srcdiff.value_and_grad(f, jit=jit)(x.copy())
    np.testing.assert_allclose(value, f(x.copy()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-12)
    v = rng.normal(size=np.shape(x))
    value_f, tangent = srcdiff.jvp(f, jit=jit if jvp_jit is None else jvp_jit)(x.copy(), v)
    np.testing.assert_allclose(value_f, f(x.copy()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, np.vdot(g, v), rtol=1e-9, atol=1e-10)
    return g


def line_of(f, text):
    """The file line of `f`'s source line containing `text`."""
    lines, first = inspect.getsourcelines(f)
    return first + next(k for k, ln in enumerate(lines) if text in ln)


# ---- None (np.newaxis): where the new axis goes, and its adjoint -------------------------------------------
def newaxis_after_ellipsis(x):
    return np.sum(np.sin(x[..., None]) * W3)


def newaxis_after_int_array(x):
    return np.sum(x[IDX, None] * W4)


def newaxis_after_int_array_of_matrix(x):
    return np.sum(np.cos(x[IDX, None]) * W4)


def newaxis_both_sides(x):
    return np.sum(np.exp(x[None, :, None] + x[:, None]))


def newaxis_between_slice_and_int(x):
    return np.sum(x[:, None, 1] ** 2 * W3[:, None])


def newaxis_before_ellipsis_int(x):
    return np.sum(np.sin(x[..., None, 0]) * np.arange(1.0, 3.0))


def newaxis_after_loop_row(m):
    s = 0.0
    for i in range(m.shape[0]):
        s = s + np.sum(m[i, None] * m[:, None, i])
    return s


def newaxis_after_2d_int_array(x):
    return np.sum(np.sin(x[IDX2, None]) * np.arange(1.0, 3.0))


@pytest.mark.parametrize("f, x", [
    (newaxis_after_ellipsis, X2), (newaxis_after_int_array, X1), (newaxis_after_int_array_of_matrix, X2),
    (newaxis_both_sides, X1), (newaxis_between_slice_and_int, X2), (newaxis_before_ellipsis_int, X2),
    (newaxis_after_loop_row, X2[:, :3]), (newaxis_after_2d_int_array, X1)], ids=lambda a: getattr(a, "__name__", ""))
@JIT
def test_newaxis_placement(f, x, jit):
    check_all(f, x, jit)


def ellipsis_alone(x):
    """`x[...]` (x's memory, all of it): under jit=True Numba crashed, 'No definition for lowering <built-in function
    getitem>(Array(float64, 2, ...), ...)', naming the line (found by hand, h25b); now x itself."""
    y = x[...]
    return np.sum(np.sin(y) * x[...]) + np.sum(x[..., 1:] ** 2)


@JIT
def test_ellipsis_alone(jit):
    check_all(ellipsis_alone, X2, jit)


def ellipsis_written(x):
    """`A[...] = v` and `A[...] += v`: reverse mode's save of what the write overwrites, `A_old = rt.copy(A[...])`,
    and its adjoint's read, `d_A1 = rt.copy(d_A[...])`, are reads of an Ellipsis alone, which Numba cannot lower:
    jit=True crashed ('No definition for lowering getitem(Array(float64, 2, ...), ...)'), found by hand (h26a);
    the compiled form reads `A` (transforms/whole_reads.py)."""
    A = x * 1.0
    for k in range(3):
        A[...] = np.sin(A) * x
        A[...] += x[0, 0]
    return np.sum(A ** 2)


@JIT
def test_ellipsis_written(jit):
    check_all(ellipsis_written, X2, jit)


def row_scaled_through_an_ellipsis(x, a):
    e = np.tanh(x * np.ones((2, 3))) * 1.0
    e[1, ...] *= np.tanh(np.max(a))
    return np.sum(e * e)


def penalty_of_a_row_scaled_through_an_ellipsis(x, a):
    g = srcdiff.grad(row_scaled_through_an_ellipsis, wrt=(0, 1))(x, a)
    return g[0] ** 2 + np.sum(g[1] ** 2)


@JIT
def test_a_gradient_through_an_ellipsis_row_is_differentiated_again(jit):
    """`e[1, ...] *= c`: its gradient kept the view `e[1, ...]` it read past the write the backward sweep undoes
    (`e[1, :]`'s is taken again there: an Ellipsis index was not basic), and reverse mode over that gradient declined
    it, 'writes in place into an array that `e` names at another point' (nested fuzz seed 1141001, h26a)."""
    check_grad(penalty_of_a_row_scaled_through_an_ellipsis, [0.4, np.array([0.3, -0.2, 0.5])], wrt=(0, 1), jit=jit)


def float_of_a_0d_buffer(a, b):
    buf = np.zeros(())
    buf[...] = a * b
    return float(buf) + a


def test_float_of_a_0d_array_passes_a_0d_adjoint():
    """`float(buf)` of a 0-d array passed its adjoint on as a number, which the adjoint of `buf[...] = v` then read
    at `[()]`: the Python backend's gradient raised "TypeError: 'float' object is not subscriptable" (h26a)."""
    da, db = check_grad(float_of_a_0d_buffer, [0.7, 1.3], wrt=(0, 1))
    np.testing.assert_allclose((da, db), (2.3, 0.7), rtol=1e-12)


def scaled_by_a_0d_argument(x, a):
    return np.sum(np.sin(x)) * float(a)


@JIT
@pytest.mark.parametrize("a", [np.array(True), np.array(3), np.array(0.5, np.float32), np.array(-1.5)],
                         ids=["bool", "int", "float32", "float64"])
def test_float_of_a_0d_array_argument(a, jit):
    """`float(a)` of a 0-d array argument: under jit=True it runs as the number it holds, and Numba's float takes no
    bool: a 0-d bool array (a flag) was refused with Numba's typing message ('No implementation of function
    Function(<class 'float'>)', h27b); jitted source calls rt.to_float (runtime/casts.py)."""
    g = srcdiff.grad(scaled_by_a_0d_argument, jit=jit)(X1, a)
    np.testing.assert_allclose(g, np.cos(X1) * float(a), rtol=1e-12)
    y, t = srcdiff.jvp(scaled_by_a_0d_argument, jit=jit)(X1, a, W3[:1].repeat(5))
    assert y == pytest.approx(scaled_by_a_0d_argument(X1, a), rel=1e-12) and t == pytest.approx(np.sum(g), rel=1e-12)


def newaxis_between_arrays(x):
    return np.sum(x[IDX, None, IDX])


@JIT
def test_newaxis_between_integer_arrays_declined(jit):
    with pytest.raises(srcdiff.SrcdiffError, match="between two indices") as e:
        srcdiff.grad(newaxis_between_arrays, jit=jit)(X2)
    assert e.value.lineno == line_of(newaxis_between_arrays, "IDX, None")


# ---- rule arguments by keyword, in any order -------------------------------------------------------------
def clip_by_keyword(x):
    return np.sum(np.clip(x, a_min=-0.5, a_max=0.5) ** 2)


def clip_numpy2_keywords(x):
    return np.sum(np.clip(x, min=-0.5, max=0.5) ** 2)


def clip_keywords_reordered(x):
    return np.sum(np.clip(a_max=0.5, a_min=-0.5, a=x) ** 2)


def clip_method_keywords(x):
    return np.sum(x.clip(min=-0.5, max=0.5) ** 2)


def clip_open_side(x):
    return np.sum(np.clip(x, None, a_max=0.5) ** 2)


def clip_lower_bound_only(x):
    """(np.clip(x, min=lo) and x.clip(min=lo), the upper side left out: an internal TypeError, "missing a required
    argument: 'a_max'")"""
    return np.sum(np.clip(x, min=-0.5) ** 2) + np.sum(x.clip(min=0.1) ** 3)


def sum_keepdims_keyword(x):
    return np.sum(np.sum(x, axis=0, keepdims=True) ** 2)


def sum_keywords_reordered(x):
    return np.sum(np.sum(keepdims=True, axis=1, a=x) ** 2)


def sum_positional_defaults(x):
    return np.sum(np.sum(x, 0, None, None, True) ** 2)


def take_keywords(x):
    return np.sum(np.take(indices=IDX, a=x, axis=0) ** 2)


def numpy_defaults_written_out(x):
    return np.sum(np.exp(x, out=None) + np.cumsum(x, axis=0, dtype=None) + np.power(x, 2.0, out=None))


def logsumexp_keywords(x):
    return np.sum(scipy.special.logsumexp(a=x, axis=0, keepdims=True) * W4)


@pytest.mark.parametrize("f, x", [
    (clip_by_keyword, X1), (clip_numpy2_keywords, X1), (clip_keywords_reordered, X1), (clip_method_keywords, X1),
    (clip_open_side, X1), (clip_lower_bound_only, X1), (sum_keepdims_keyword, X2), (sum_keywords_reordered, X2), (sum_positional_defaults, X2),
    (take_keywords, X2), (numpy_defaults_written_out, X1), (logsumexp_keywords, X2)],
    ids=lambda a: getattr(a, "__name__", ""))
@JIT
def test_keyword_arguments(f, x, jit):
    check_all(f, x, jit)


def sum_where(x):
    return np.sum(np.sum(x, where=x > 0))


def sum_dtype(x):
    return np.sum(np.sum(x, dtype=np.float32))


def exp_where(x):
    return np.sum(np.exp(x, where=x > 0))


def clip_out(x):
    buf = np.zeros_like(x)
    return np.sum(np.clip(x, -0.5, 0.5, out=buf))


def power_by_keyword(x):
    return np.sum(np.power(x1=x, x2=2.0))


@pytest.mark.parametrize("f, text, what", [
    (sum_where, "where=", "where="), (sum_dtype, "dtype=", "dtype="), (exp_where, "where=", "where="),
    (clip_out, "out=", "out="), (power_by_keyword, "x1=", "positional only")],
    ids=lambda a: getattr(a, "__name__", "") if callable(a) else "")
@JIT
def test_unknown_arguments_declined(f, text, what, jit):
    with pytest.raises(srcdiff.SrcdiffError, match=what) as e:
        srcdiff.grad(f, jit=jit)(X1.copy())
    assert e.value.lineno == line_of(f, text)


# ---- lambdas ---------------------------------------------------------------------------------------------
def two_lambdas_one_line(x):
    f = lambda y: y * 2; g = lambda y: y + x  # noqa: E702,E731
    return np.sum(f(x) * g(x))


def two_called_lambdas(x):
    return np.sum((lambda y: y * y)(x) + (lambda z: np.sin(z) + 1)(x))


def called_lambda_closing_over(x):
    return np.sum((lambda y: np.sin(y) * x)(x))


def lambda_over_loop_variable(x):
    s = 0.0
    for i in range(3):
        h = lambda y: np.sin(y) * i  # noqa: E731
        s = s + np.sum(h(x) * x)
    return s


def check_all_named(x):   # a global function whose name a lambda below reuses
    return x


def lambda_named_like_a_global(x):
    check_all_named = lambda y: y * y  # noqa: E731,F811
    return np.sum(check_all_named(x) * x)


@pytest.mark.parametrize("f", [two_lambdas_one_line, two_called_lambdas, called_lambda_closing_over,
                               lambda_over_loop_variable, lambda_named_like_a_global],
                         ids=lambda a: a.__name__)
@JIT
def test_lambdas(f, jit):
    check_all(f, X1, jit)


# ---- np.cov, np.take ------------------------------------------------------------------------------------
def cov_one_variable(x):
    return np.cov(x)


def cov_two_variables(x):
    return np.sum(np.cov(x, x ** 2) * np.array([[1.0, 2.0], [3.0, 4.0]]))


def take_2d_index(x):
    return np.sum(np.take(x, IDX2) ** 2 * np.array([1.0, 2.0]))


def take_axis0(x):
    return np.sum(np.take(x, IDX, axis=0) ** 3)


@pytest.mark.parametrize("f, x", [(cov_one_variable, X1), (cov_two_variables, X1), (take_2d_index, X1),
                                  (take_axis0, X2)], ids=lambda a: getattr(a, "__name__", ""))
@JIT
def test_cov_and_take(f, x, jit):
    check_all(f, x, jit)


@JIT
def test_cov_of_one_variable_is_0d(jit):
    value, _ = srcdiff.value_and_grad(cov_one_variable, jit=jit)(X1)
    assert np.ndim(value) == 0
    np.testing.assert_allclose(value, np.cov(X1))


# ---- sum(...) of arrays (Numba: the sum starts from zeros shaped like its first term) ---------------------
def sum_generator_of_arrays(x):
    return np.sum(sum(x * i for i in range(3)) ** 2)


def sum_list_of_arrays(x):
    return np.sum(sum([x, np.sin(x) * x]) ** 2)


def sum_listcomp_of_arrays(x):
    return np.sum(sum([np.cos(x * i) for i in range(1, 4) if i != 2]))


def sum_over_rows(x):
    return np.sum(sum(r * r for r in x))


def sum_of_scalars_from_one(x):
    return sum(x[i] ** 2 for i in range(1, x.shape[0]))


@pytest.mark.parametrize("f, x", [(sum_generator_of_arrays, X1), (sum_list_of_arrays, X1),
                                  (sum_listcomp_of_arrays, X1), (sum_over_rows, X2), (sum_of_scalars_from_one, X1)],
                         ids=lambda a: getattr(a, "__name__", ""))
@JIT
def test_sum_of_arrays(f, x, jit):
    # (forward mode is not specialised to the arguments' kinds: its sums start from 0.0, so a jvp of a sum of
    # arrays still needs jit=False)
    check_all(f, x, jit, jvp_jit=False)


@JIT
def test_jvp_of_sum_of_scalars_over_an_empty_range(jit):
    assert srcdiff.jvp(sum_of_scalars_from_one, jit=jit)(np.array([3.0]), np.array([1.0])) == (0.0, 0.0)


@JIT
def test_sum_of_scalars_over_an_empty_range(jit):
    # the first term (x[1]) does not exist: the sum of scalars starts from 0.0, not from it
    value, g = srcdiff.value_and_grad(sum_of_scalars_from_one, jit=jit)(np.array([3.0]))
    assert value == 0.0 and np.array_equal(g, [0.0])


# ---- integer-array pairs: the cross-entropy idiom ------------------------------------------------------
LABELS = np.array([1, 0, 3])
ROWS = np.array([0, 2, 0, 0])
COLS = np.array([1, 1, 1, 3])


def cross_entropy(logits):
    n = logits.shape[0]
    lse = np.log(np.sum(np.exp(logits), axis=1))
    return np.sum(lse - logits[np.arange(n), LABELS])


def pair_index_repeats(m):
    return np.sum(np.sin(m[ROWS, COLS]) * np.arange(1.0, 5.0))


def pair_index_broadcast_row(m):
    return np.sum(m[ROWS, np.array([2])] ** 2)


@pytest.mark.parametrize("f", [cross_entropy, pair_index_repeats, pair_index_broadcast_row],
                         ids=lambda a: a.__name__)
@JIT
def test_integer_array_pairs(f, jit):
    check_all(f, X2, jit)


# ---- a Numba compile failure names the user's line ------------------------------------------------------
def array_or_float(x):
    if x[0] > 0.0:
        y = x * 2.0
    else:
        y = 1.0
    return np.sum(y * x)


def test_numba_failure_names_the_users_line():
    # y is an array on one path and a float on the other: Python runs it, Numba cannot type it; the error names
    # the line of the statement Numba failed on, not the def line
    x = np.array([-0.3, 0.2])
    check_grad(array_or_float, [x], wrt=0, jit=False)
    with pytest.raises(srcdiff.SrcdiffError, match="Numba could not compile") as e:
        srcdiff.grad(array_or_float, jit=True)(x)
    assert e.value.lineno in (line_of(array_or_float, "y = 1.0"), line_of(array_or_float, "return"))
    assert "Failed in nopython" not in str(e.value)


def scatter_beside_a_slice(x):
    y = np.sin(x)
    z = y[IDX2, 1:]
    return np.sum(z * z)


@JIT
def test_rank2_index_beside_a_slice(jit):
    check_grad(scatter_beside_a_slice, [X2], wrt=0, jit=jit)


def ellipsis_rows(x, z):
    b = x * 1.0
    b[1, ...] = b[0, ...] * z[0]
    b[0, ...] += z[1]
    return np.sum(b * b)


def ellipsis_of_0d(a, x):
    b = a.copy()
    b[...] = b * x[0]
    return np.sum(b) * np.sum(x)


def ellipsis_view_read_after_a_write(x, z):
    b = x * 1.0
    y = b[0, ...]
    b[0] = z[0] * 2.0
    return np.sum(y) * z[1]


def test_an_ellipsis_index_that_removes_every_axis_is_a_0d_view():
    """`b[0, ...]` of a vector and `b[...]` of a 0-d array are in NumPy 0-d arrays sharing b's memory, not the
    numbers `b[0]` gives (the kinds call them numbers, as Numba computes them): reverse mode's save of the value a
    write overwrites (`b_old = b[0, ...]`, left uncopied) and its adjoint's read `d_b6 = d_b[0, ...]` before `d_b[0,
    ...] = 0.0` changed with the writes. The Python backend's gradient of ellipsis_rows was 0 for d/dx [1.126, 0]
    and d/dz [0.294, 1, 0]; of ellipsis_of_0d d/dz[0] 0.336 for 0.63; a second name of one read after a write
    through b (stale before) is declined as views are. kind_rewrites.ellipsis_numbers drops the ellipsis."""
    x, z = np.array([0.7, 0.1]), np.array([0.3, -0.2, 0.5])
    for jit in (False, True):
        check_grad(ellipsis_rows, [x, z], wrt=(0, 1), jit=jit)
    da, dz = srcdiff.grad(ellipsis_of_0d, wrt=(0, 1))(np.array(0.7), z)    # f = a z[0] sum(z)
    np.testing.assert_allclose(da, z[0] * np.sum(z), rtol=1e-12)
    np.testing.assert_allclose(dz, 0.7 * z[0] + 0.7 * np.sum(z) * np.eye(3)[0], rtol=1e-12)
    for f, args in ((ellipsis_rows, (x, z)), (ellipsis_of_0d, (np.array(0.7), z))):
        v = (rng.normal(size=np.shape(args[0])), rng.normal(size=3))
        value, d = srcdiff.jvp(f, wrt=(0, 1))(*args, v)
        g = srcdiff.grad(f, wrt=(0, 1))(*args)
        assert np.isclose(value, f(*(np.copy(a) for a in args)))
        assert np.isclose(d, sum(np.sum(gi * vi) for gi, vi in zip(g, v)))
    with pytest.raises(srcdiff.SrcdiffError, match="`y` shares memory with `b`"):
        srcdiff.grad(ellipsis_view_read_after_a_write, wrt=(0, 1))(x, z)
    # (forward mode follows views, but Numba's b[0, ...] is a number: its jvp read the value from before the write,
    # -0.14 for -0.12)
    for jit in (False, True):
        with pytest.raises(srcdiff.SrcdiffError, match="`y` shares memory with `b`"):
            srcdiff.jvp(ellipsis_view_read_after_a_write, wrt=(0, 1), jit=jit)(x, z, (x, z))


def ellipsis_view_updated(x, a):
    b = x * 1.0
    for i in range(2):
        y = b[i, ...]
        y *= a
    return np.sum(b * b)


@pytest.mark.parametrize("transform", [srcdiff.grad, srcdiff.jvp])
def test_an_update_of_a_0d_view_is_declined_with_the_write_to_make(transform):
    """`y = b[i, ...]` then `y *= a`: NumPy multiplies b[i] (y is a 0-d view of b), where srcdiff took y for a number
    and bound it anew: b unchanged, the value 0.38 for 1.29 and d/da 0 for 2 (of `y += a` in grad and jvp alike).
    Declined at the update, with the write into b to make instead."""
    x = np.array([0.3, -0.2, 0.5])
    with pytest.raises(srcdiff.SrcdiffError, match=r"`y` is a 0-d view of `b`") as err:
        g = transform(ellipsis_view_updated, wrt=1)
        g(x, 0.7) if transform is srcdiff.grad else g(x, 0.7, 1.0)
    assert "write into `b` itself (`b[i] *= v`)" in str(err.value)
    assert f"{__file__}:{inspect.getsourcelines(ellipsis_view_updated)[1] + 4}" in str(err.value)


def doubled_0d_argument(a, x):
    a[()] = 2.0 * a
    return np.sum(x) * a[()]


@JIT
def test_a_write_into_a_0d_array_argument(jit):
    """`a[()] = v` into a 0-d array argument: jit=False writes into it (d/da 6 at a = 2, the caller's a then 4);
    under jit=True the argument runs as the number it holds (specialisations.run_scalars), which Numba cannot
    write into: its setitem typing message (h28a) is now srcdiff's decline at the line, in both modes."""
    x = np.ones(3)
    if not jit:
        a = np.array(2.0)
        ga, gx = srcdiff.grad(doubled_0d_argument, wrt=(0, 1), jit=jit)(a, x)
        assert ga == pytest.approx(6.0) and gx == pytest.approx([4.0, 4.0, 4.0])
        return
    for make in (lambda: srcdiff.grad(doubled_0d_argument, wrt=(0, 1), jit=jit)(np.array(2.0), x),
                 lambda: srcdiff.jvp(doubled_0d_argument, jit=jit)(np.array(2.0), x, np.array(1.0))):
        with pytest.raises(srcdiff.SrcdiffError, match="write into the 0-d array argument `a`") as e:
            make()
        assert e.value.lineno == line_of(doubled_0d_argument, "a[()] = 2.0") and "bind a new name" in str(e.value)
