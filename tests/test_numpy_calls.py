"""NumPy calls written as people write them for JAX / autograd (issue 18 item 8): each computes the right
gradient in both backends (checked against central differences) or is declined with a SrcdiffError at the
user's line, never a raw SyntaxError / NameError / TypeError / ValueError / ZeroDivisionError."""
import operator
import warnings

import numpy as np
import pytest
import scipy.special

import srcdiff
from gradcheck import check_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
rng = np.random.default_rng(18)
A34 = rng.normal(size=(3, 4))
B43 = rng.normal(size=(4, 3))
S33 = rng.normal(size=(3, 3))
V3 = rng.normal(size=3)
V4 = rng.normal(size=4)
W44 = rng.normal(size=(4, 4))
A233 = rng.normal(size=(2, 3, 3))
B234 = rng.normal(size=(2, 3, 4))


def line_of(tag: str) -> int:
    with open(__file__) as fh:
        hits = [i for i, l in enumerate(fh, 1) if l.rstrip().endswith(f"# <- {tag}")]
    assert len(hits) == 1, tag
    return hits[0]


def declined(f, args, tag, jit, *words):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(srcdiff.SrcdiffError) as info:
            srcdiff.grad(f, wrt=0, jit=jit)(*args)
    msg = str(info.value)
    assert f"{__file__}:{line_of(tag)}" in msg, msg
    assert "hint:" in msg, msg
    for w in words:
        assert w in msg, msg


# ---- operators called as NumPy / operator-module functions ---------------------------------------------------
def matmul_as_function(x, y):
    return np.sum(np.matmul(x, y) ** 2) + np.sum(operator.matmul(x, y))


def negative_positive(x):
    return np.sum(np.negative(x) * x ** 3) + np.sum(np.positive(x) * x) + np.sum(operator.neg(x) * operator.pos(x))


def arithmetic_functions(x, y):
    return np.sum(np.add(x, y) * np.subtract(x, y) * np.multiply(x, y) * np.true_divide(x, y + 3.0)
                  + np.divide(1.0, y ** 2 + 1.0) + np.floor_divide(x, 0.7) * x + np.mod(x, 0.9)
                  + operator.mul(x, operator.add(x, y)) + operator.truediv(x, 2.0) + operator.pow(x, 2))


@JIT
def test_matmul_as_function(jit):
    check_grad(matmul_as_function, [A34, B43], jit=jit)


@JIT
def test_negative_positive_as_functions(jit):
    check_grad(negative_positive, [V3], jit=jit)


@JIT
def test_arithmetic_ufuncs_as_functions(jit):
    check_grad(arithmetic_functions, [V3, V3 + 0.3], jit=jit)


def matmul_source(x, y):
    return np.sum(np.matmul(x, y))


def test_operator_functions_emit_operators():
    g = srcdiff.grad(negative_positive)
    g(V3)
    src = srcdiff.source(g)
    assert "= neg(" not in src and "= pos(" not in src and "= -x" in src, src
    g = srcdiff.grad(matmul_source)
    g(A34, B43)
    assert " @ " in srcdiff.source(g)


# ---- np.trace(x, offset) / np.diag(x, k) ---------------------------------------------------------------------
def trace_offsets(x):
    return np.trace(x, offset=1) + np.trace(x, -1) * 2.0 + np.trace(x) ** 2 + x.trace(offset=2)


def diag_of_matrix(x):
    return (np.sum(np.diag(x, k=1) ** 2) + np.sum(np.diag(x, -1) ** 3) + np.sum(np.diag(x) ** 2)
            + np.sum(x.diagonal(offset=1)))


def diag_of_vector(x):
    return (np.sum(np.diag(x, k=1) @ np.arange(4.0)) + np.sum(np.diag(x, -2) ** 2)
            + np.sum(np.diag(x) @ np.arange(3.0)))


@JIT
@pytest.mark.parametrize("x", [S33, A34, B43], ids=["square", "wide", "tall"])
def test_trace_offset(jit, x):
    check_grad(trace_offsets, [x], jit=jit)


@JIT
@pytest.mark.parametrize("x", [S33, A34, B43], ids=["square", "wide", "tall"])
def test_diag_k_of_matrix(jit, x):
    check_grad(diag_of_matrix, [x], jit=jit)


@JIT
def test_diag_k_of_vector(jit):
    check_grad(diag_of_vector, [V3], jit=jit)


def diagonal_of_matrix(x):
    return np.sum(np.diagonal(x) ** 2) + np.sum(np.diagonal(x, 1) * 3.0) + np.sum(np.diagonal(x, offset=-1) ** 3)


@JIT
@pytest.mark.parametrize("x", [S33, A34, B43], ids=["square", "wide", "tall"])
def test_np_diagonal_of_matrix(jit, x):
    """np.diagonal(a, offset) was declined ("call to numpy.diagonal has no differentiation rule"): it is np.diag."""
    check_grad(diagonal_of_matrix, [x], jit=jit)
    _, d = srcdiff.jvp(diagonal_of_matrix, jit=jit)(x, x)
    np.testing.assert_allclose(d, np.sum(srcdiff.grad(diagonal_of_matrix)(x) * x), rtol=1e-10)


def diagonal_of_stack(t):
    return np.sum(np.diagonal(t) ** 2)


def test_np_diagonal_of_a_stack_is_declined():
    """NumPy takes a stack's diagonals along its first two axes, which np.diag does not (it said the function
    itself failed)."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_numpy_calls.py:\d+: np.diagonal of an array of rank 3"):
        srcdiff.grad(diagonal_of_stack)(np.ones((2, 3, 3)))


def test_diag_k_hessian():
    def f(x):
        return np.sum(np.diag(x, 1) ** 3) + np.trace(x, -1) ** 2
    H = srcdiff.hessian(f)(S33)
    g = srcdiff.grad(f)
    eps = 1e-5
    cols = [(g(S33 + eps * e.reshape(3, 3)) - g(S33 - eps * e.reshape(3, 3))) / (2 * eps) for e in np.eye(9)]
    np.testing.assert_allclose(np.reshape(H, (9, 9)), np.reshape(cols, (9, 9)), atol=1e-5)


# ---- kron / inner with a scalar, tile with more reps than axes, stacks ---------------------------------------
def kron_scalar(a, b):
    return np.sum(np.kron(a, b) ** 2) + np.sum(np.kron(b, a) * b) + np.kron(a, a)


def inner_scalar(x, s):
    return np.sum(np.inner(x, s) ** 2) + np.sum(np.inner(s, x) * x) + np.inner(s, s) + np.sum(np.inner(x, x))


def tile_more_reps(x):
    return np.sum(np.tile(x, (2, 2)) ** 2 * np.arange(12.0).reshape(2, 6)) + np.sum(np.tile(x, (2, 1, 2)) ** 3)


def stacked_matmul(x, y):
    return np.sum((x @ y) ** 2) + np.sum((x @ y[0, :, 0]) ** 3) + np.sum((y[0, :, 0] @ x) ** 2)


def stacked_dot_vector(x, y):
    return np.sum(np.dot(x, y) ** 2)


@JIT
def test_kron_with_scalar(jit):
    check_grad(kron_scalar, [1.7, S33], jit=jit)


@JIT
def test_inner_with_scalar(jit):
    check_grad(inner_scalar, [V3, 1.3], jit=jit)


@JIT
def test_tile_more_reps_than_axes(jit):
    check_grad(tile_more_reps, [V3], jit=jit)


def test_stacked_matmul():   # (Numba's @ takes 1-d and 2-d operands only: jit=True is declined by Numba)
    check_grad(stacked_matmul, [A233, B234])
    check_grad(stacked_dot_vector, [A233, V3])


def pinv_stack(x):
    return np.sum(np.linalg.pinv(x) ** 2)  # <- pinv_stack


def svd_stack(x):
    return np.sum(np.linalg.svd(x, compute_uv=False))  # <- svd_stack


def eigh_stack(x):
    return np.sum(np.linalg.eigh(x + np.swapaxes(x, 1, 2))[0] ** 2)  # <- eigh_stack


def kron_rank3(x, y):
    return np.sum(np.kron(x, y))  # <- kron_rank3


def dot_rank3(x, y):
    return np.sum(np.dot(x, y) ** 2)  # <- dot_rank3


@JIT
@pytest.mark.parametrize("f, tag", [(pinv_stack, "pinv_stack"), (svd_stack, "svd_stack"),
                                    (eigh_stack, "eigh_stack")])
def test_stacked_decompositions_declined(jit, f, tag):
    declined(f, [A233], tag, jit, "stack of matrices", "loop over the stack")


@JIT
def test_kron_rank3_declined(jit):
    declined(kron_rank3, [A233, S33], "kron_rank3", jit, "np.kron", "reshape")


@JIT
def test_dot_rank3_second_operand_declined(jit):
    declined(dot_rank3, [V3, A233], "dot_rank3", jit, "np.dot", "tensordot")


# ---- powers at 0, arccos / arcsin at +-1: NumPy's floating semantics ------------------------------------------
def powers_at_zero(x):
    return np.power(x, 0.0) + x ** 0 + x ** 1 + x + np.power(x, 1) + x ** 2.0


def power_base_zero(y):
    return np.power(0.0, y) + 0.0 ** y + y


def power_variable_exponent(x, y):
    return np.sum(x ** y)


@JIT
def test_power_zero_exponent_at_zero(jit):
    g = srcdiff.grad(powers_at_zero, jit=jit)(0.0)
    assert g == 3.0
    check_grad(powers_at_zero, [0.0], jit=jit)
    check_grad(lambda x: np.sum(np.power(x, 0.0) + x ** 1 + x ** 0), [np.array([0.0, 1.0])], jit=jit)


@JIT
def test_power_of_zero_base(jit):
    check_grad(power_base_zero, [1.5], jit=jit)


@JIT
def test_power_variable_exponent_zero(jit):
    # y == 0 where x == 0: x ** y is 1 near there in x, so its x-derivative is 0, not 0 * inf
    gx, _ = srcdiff.grad(power_variable_exponent, wrt=(0, 1), jit=jit)(np.array([0.0, 2.0]), np.array([0.0, 3.0]))
    np.testing.assert_array_equal(gx, [0.0, 12.0])


def arccos_at(x):
    return np.arccos(x)


def arcsin_at(x):
    return np.arcsin(x)


def log_at(x):
    return np.log(x) + 1.0 / x


def sqrt_power_at(x):
    return x ** 0.5


@JIT
def test_inverse_trig_at_endpoints_gives_inf(jit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert srcdiff.grad(arccos_at, jit=jit)(1.0) == -np.inf
        assert srcdiff.grad(arcsin_at, jit=jit)(1.0) == np.inf
        assert srcdiff.grad(arcsin_at, jit=jit)(-1.0) == np.inf
        assert np.isnan(srcdiff.grad(log_at, jit=jit)(0.0))   # inf - inf: NumPy's answer, not ZeroDivisionError
        assert srcdiff.grad(sqrt_power_at, jit=jit)(0.0) == np.inf


# ---- user helpers called with keyword arguments, defaults, keyword-only parameters ----------------------------
def scaled(x, scale=2.0):
    return x * scale


def powered(x, *, power=2):
    return x ** power


def weighted(x, w=np.arange(3.0), *, shift=1.0):
    return x * w + shift


def recursive(x, n=3):
    if n == 0:
        return x
    return recursive(x * 1.5, n=n - 1) + x


def helpers_with_keywords(x):
    return np.sum(scaled(x, scale=3.0) + scaled(x) + scaled(scale=0.5, x=x) + powered(x, power=3) + powered(x)
                  + weighted(x) + weighted(x, shift=2.0))


def helpers_keyword_active(x, s):
    return np.sum(scaled(x, scale=s) * scaled(s, scale=x))


def recursive_keywords(x):
    return recursive(x) + recursive(x, n=1)


def nested_keywords(x, s):
    def inner(a, b):
        return a * b + s
    return np.sum(inner(x, b=s) + inner(b=x, a=2.0))


def keyword_only_twice(x):
    return np.sum(powered(x, power=1) + powered(x, power=3))   # two calls: not inlined, called through powered_vjp


def keyword_twice_active(x):
    return scaled(x, scale=1.0) + scaled(x, scale=x)   # the second call's keyword argument is differentiated


def helper_bad_keyword(x):
    return scaled(x, factor=2.0)  # <- bad_keyword


@JIT
def test_helper_keywords_and_defaults(jit):
    check_grad(helpers_with_keywords, [V3], jit=jit)


@JIT
def test_helper_keyword_differentiated(jit):
    check_grad(helpers_keyword_active, [V3, 1.5], jit=jit)


@JIT
def test_helper_called_twice_by_keyword(jit):
    """A helper called more than once (its vjp is called, not inlined) gets its keyword arguments bound too
    (it lost them: TypeError in the vjp call, and d/dq of `h(x, q=x)` was dropped)."""
    check_grad(keyword_only_twice, [V3], jit=jit)
    check_grad(keyword_twice_active, [1.5], jit=jit)


@JIT
def test_recursive_helper_keywords(jit):
    check_grad(recursive_keywords, [1.3], jit=jit)


@JIT
def test_nested_helper_keywords(jit):
    check_grad(nested_keywords, [V3, 0.7], jit=jit)


def test_helper_unknown_keyword_declined():
    declined(helper_bad_keyword, [V3], "bad_keyword", False, "factor", "signature")


# ---- a table of calls written for JAX / autograd ---------------------------------------------------------------
def _softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return np.sum((e / e.sum(axis=1, keepdims=True)) * np.arange(4.0))


def _xent(x):
    p = scipy.special.expit(x)
    return -np.sum(0.3 * np.log(p) + 0.7 * np.log(1 - p))


def _zeros_fill(x):
    out = np.zeros(4)
    out[1:] = x[:-1]
    return np.sum(out * x)


TABLE = {
    "norm_axis": (lambda x: np.sum(np.linalg.norm(x, axis=1)), [A34]),
    "T_matmul": (lambda x, y: np.sum(x.T @ y), [A34, A34]),
    "dot_method": (lambda x, y: np.sum(x.dot(y) ** 2), [W44, V4]),
    "sum_axis": (lambda x: np.sum(x.sum(axis=1) ** 2), [A34]),
    "mean_positional_axis": (lambda x: np.sum(x.mean(0) ** 2), [A34]),
    "where_relu": (lambda x: np.sum(np.where(x > 0, x, 0.) ** 2), [V4]),
    "reshape_minus_one": (lambda x: np.sum(x.reshape(-1) * np.arange(12.0)), [A34]),
    "max_keepdims": (lambda x: np.sum(x.max(axis=0, keepdims=True) * x), [A34]),
    "sum_last_axis": (lambda x: np.sum(np.sum(x ** 2, axis=-1)), [A34]),
    "step_slice": (lambda x: np.sum(x[::2] ** 2), [V4]),
    "boolean_mask": (lambda x: np.sum(x[x > 0] ** 2), [V4]),
    "abs_sum_method": (lambda x: np.abs(x).sum(), [V4]),
    "einsum_matvec": (lambda a, x: np.sum(np.einsum('ij,j->i', a, x) ** 2), [A34, V4]),
    "logsumexp_by_hand": (lambda x: np.log(np.sum(np.exp(x))), [V4]),
    "logsumexp_axis": (lambda x: np.sum(scipy.special.logsumexp(x, axis=1)), [A34]),
    "softmax_rows": (_softmax_rows, [A34]),
    "tanh_mean": (lambda x: np.mean(np.tanh(x)), [V4]),
    "T_sum": (lambda x: x.T.sum(), [A34]),
    "negative_index": (lambda x: x[-1] * x[0] + x[-2], [V4]),
    "shifted_slices": (lambda x: np.sum(x[:, 1:] * x[:, :-1]), [A34]),
    "column_row": (lambda x: np.sum(x[:, 0] ** 2) + np.sum(x[1] ** 3), [A34]),
    "sqrt_sum_squares": (lambda x: np.sqrt(np.sum(x ** 2)), [V4]),
    "dot_self": (lambda x: x.dot(x), [V4]),
    "matmul_self": (lambda x: x @ x, [V4]),
    "vdot": (lambda x, y: np.vdot(x, y), [V4, V4 + 1.0]),
    "frobenius": (lambda x: np.linalg.norm(x), [A34]),
    "var_std": (lambda x: np.sum(np.var(x, axis=0)) + np.std(x), [A34]),
    "cumsum": (lambda x: np.sum(np.cumsum(x) ** 2), [V4]),
    "clip": (lambda x: np.sum(np.clip(x, -0.5, 0.5) ** 2), [V4]),
    "maximum_relu": (lambda x: np.sum(np.maximum(x, 0.0) ** 2), [V4]),
    "sigmoid_by_hand": (lambda x: np.sum(1.0 / (1.0 + np.exp(-x))), [V4]),
    "softplus_log1p": (lambda x: np.sum(np.log1p(np.exp(x))), [V4]),
    "logaddexp_zero": (lambda x: np.sum(np.logaddexp(0.0, x)), [V4]),
    "stack_rows": (lambda x: np.sum(np.stack([x[0], x[1] * 2.0]) ** 2), [A34]),
    "concatenate_axis1": (lambda x: np.sum(np.concatenate([x, x ** 2], axis=1) ** 2), [A34]),
    "outer": (lambda x: np.sum(np.outer(x, x) ** 2), [V4]),
    "prod": (lambda x: np.prod(x), [V4]),
    "broadcast_none": (lambda x: np.sum(x[:, None, :] * x[None, :, :]), [A34]),
    "newaxis": (lambda x: np.sum(x[:, np.newaxis] * x), [A34]),
    "argmax_gather": (lambda x: np.sum(x[np.arange(3), np.argmax(x, axis=1)]), [A34]),
    "sort": (lambda x: np.sum(np.sort(x) * np.arange(4.0)), [V4]),
    "amax_amin": (lambda x: np.amax(x) + np.amin(x), [A34]),
    "shape_size": (lambda x: np.sum(x) / x.shape[0] + np.sum(x) / x.size, [A34]),
    "builtin_sum": (lambda x: sum(x) + sum(x[i] ** 2 for i in range(4)), [V4]),
    "ravel_flatten": (lambda x: np.sum(np.ravel(x) ** 2) + np.sum(x.flatten() ** 3), [A34]),
    "pairwise_sq_dist": (lambda x: np.sum((x[:, None, :] - x[None, :, :]) ** 2), [A34]),
    "mse": (lambda p, y: np.mean((p - y) ** 2), [V4, V4 + 0.5]),
    "cross_entropy": (_xent, [V4]),
    "log_softmax": (lambda x: np.sum(scipy.special.log_softmax(x, axis=1)[:, 0]), [A34]),
    "ridge": (lambda a, w: 0.5 * np.sum((a @ w - 1.0) ** 2) + 0.1 * np.dot(w, w), [A34, V4]),
    "power_square": (lambda x: np.sum(np.power(x, 2)) + np.sum(np.square(x)), [V4]),
    "trace_gram": (lambda x: np.trace(x @ x.T), [A34]),
    "det": (lambda x: np.linalg.det(x + 4 * np.eye(4)), [W44]),
    "solve": (lambda a, b: np.sum(np.linalg.solve(a + 4 * np.eye(4), b)), [W44, V4]),
    "diff": (lambda x: np.sum(np.diff(x) ** 2), [V4]),
    "reverse_slice": (lambda x: np.sum(x[::-1] * np.arange(4.0)), [V4]),
    "roll": (lambda x: np.sum(np.roll(x, 1) * x), [V4]),
    "sum_tuple_axis": (lambda x: np.sum(x, axis=(0, 1)), [A34]),
    "astype": (lambda x: np.sum(x.astype(np.float64) ** 2), [V4]),
    "slice_write": (_zeros_fill, [V4]),
    "tile_repeat": (lambda x: np.sum(np.tile(x, 2) * np.arange(8.0)) + np.sum(np.repeat(x, 2) * np.arange(8.0)), [V4]),
    "ufunc_divide": (lambda x: np.sum(np.divide(x, 2.0) + np.true_divide(1.0, x ** 2 + 1)), [V4]),
    # (axis=None flattens: the gradient failed, "tuple indices must be integers or slices, not NoneType")
    "concatenate_axis_none": (lambda x: np.sum(np.concatenate(([x[0, 0], x[1, 1]], x, x[0] * 2.0), axis=None) ** 2
                                               * np.arange(18.0)), [A34]),
}


@JIT
@pytest.mark.parametrize("name", list(TABLE))
def test_jax_style_call(jit, name):
    # (argmax_gather under Numba: rt.index_add of a tuple of index arrays, runtime/elementwise.py)
    f, args = TABLE[name]
    check_grad(f, args, jit=jit)


def logsumexp_b(x, b):
    return scipy.special.logsumexp(x, b=b)  # <- logsumexp_b


def test_logsumexp_b_declined():
    declined(logsumexp_b, [V4, V4], "logsumexp_b", False, "b=", "np.log(b)")


def item_and_float(x, a):
    """`x.item()` of a 0-d value (a sum, a dot product) and `float(s)`: the number, derivative passed on."""
    return np.sum(x * x).item() * a + float(a * a) * np.dot(x, x[::-1]).item()


@JIT
def test_item_and_float_pass_the_derivative(jit):
    check_grad(item_and_float, [rng.normal(size=3), 0.7], jit=jit)
    _, t = srcdiff.jvp(item_and_float, wrt=(0, 1), jit=jit)(np.array([0.1, 0.2, 0.3]), 0.7, (np.ones(3), 1.0))
    g = srcdiff.grad(item_and_float, wrt=(0, 1), jit=jit)(np.array([0.1, 0.2, 0.3]), 0.7)
    assert t == pytest.approx(np.sum(g[0]) + g[1])


def item_of_a_matrix(x, a):
    """`x.item()` of a (1, 1) array and of a (1,) one: NumPy's .item() takes an array of one element of any rank."""
    return x.item() * a + (x[0] * a).item() ** 2


def float_of_a_matrix(x, a):
    return float(x * a) * a  # <- float_of_a_matrix


@JIT
def test_item_of_an_array_of_one_element(jit):
    """Before (h29b), x.item() was written float(x), which NumPy 2 takes of a 0-d array only: of a (1, 1) array
    jit=False raised TypeError, reported as f itself failing, and Numba gave its typing message."""
    x = np.array([[0.4]])
    check_grad(item_of_a_matrix, [x, 0.7], jit=jit)
    gx, ga = srcdiff.grad(item_of_a_matrix, wrt=(0, 1), jit=jit)(x, 0.7)
    assert gx.shape == (1, 1)
    _, t = srcdiff.jvp(item_of_a_matrix, wrt=(0, 1), jit=jit)(x, 0.7, (np.ones((1, 1)), 1.0))
    assert t == pytest.approx(gx[0, 0] + ga)


@JIT
def test_float_of_an_array_of_rank_one_or_more_is_declined(jit):
    """float() of a (1, 1) array: NumPy 2 raises TypeError (f itself fails), so srcdiff declines it at the user's line
    in both modes. Before (h29b), jit=False gave a gradient and Numba its typing message ("No implementation of
    function ... to_float")."""
    with pytest.raises(TypeError):
        float_of_a_matrix(np.ones((1, 1)), 0.5)
    declined(float_of_a_matrix, [np.ones((1, 1)), 0.5], "float_of_a_matrix", jit, "float() of an array of rank 2",
             "float(x[0, 0])", "x.item()")
    with pytest.raises(srcdiff.SrcdiffError, match="float\\(\\) of an array of rank 2") as info:
        srcdiff.jvp(float_of_a_matrix, jit=jit)(np.ones((1, 1)), 0.5, np.ones((1, 1)))
    assert f"{__file__}:{line_of('float_of_a_matrix')}" in str(info.value)


def unknown_method(x):
    return np.sum(x.nonzero()[0] * x[0]) + x.tolist()[0]


def unknown_method_no_numpy(x):
    return x.tolist()[0] * x[1]


@pytest.mark.parametrize("f, hint", [(unknown_method, r"use the NumPy function np\.nonzero\(x, \.\.\.\) instead"),
                                     (unknown_method_no_numpy, r"compute it with NumPy functions, or register a rule")])
def test_unknown_method_hint(f, hint):
    """The hint names a NumPy function only where NumPy has one (`.item()` was told to use np.item, which is none)."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_numpy_calls\.py:\d+: method \.\w+\(\) is not supported"
                       r"(.|\n)*hint: " + hint):
        srcdiff.grad(f)(np.array([0.5, 1.5, 2.0]))


TAKE = np.array([[0, 2], [1, 1], [2, 2]])


def gather_along_rows(x):
    """np.take_along_axis(x, TAKE, axis=1) written with integer arrays, one of rank 2 (and two of rank 2, a repeated
    entry among them): its gradient did not compile under Numba ("a[idx] += g under Numba takes 1-D integer index
    arrays")."""
    picked = x[np.arange(x.shape[0])[:, None], TAKE]
    pairs = x[np.array([[0, 0], [1, 0]]), np.array([[1, 1], [2, 1]])]
    return np.sum(np.sin(picked) * np.arange(picked.size).reshape(picked.shape)) + np.sum(pairs ** 3)


@JIT
@pytest.mark.parametrize("x", [S33, np.arange(18.0).reshape(3, 3, 2) / 7], ids=["matrix", "rank3"])
def test_gather_with_integer_arrays_of_rank_two(jit, x):
    check_grad(gather_along_rows, [x], jit=jit)
    v = np.cos(np.arange(x.size)).reshape(x.shape)
    g = srcdiff.grad(gather_along_rows)
    np.testing.assert_allclose(srcdiff.hvp(gather_along_rows, jit=jit)(x, v),
                               (g(x + 1e-5 * v) - g(x - 1e-5 * v)) / 2e-5, rtol=1e-5, atol=1e-6)
