"""Row fusion (srcdiff/transforms/optimize/rowfusion.py): in jitted source, a loss summed over the rows of
x @ w, its adjoint and x.T @ d_z are one loop over the rows of x. Each case checks which source it gets
(fused or not, Python source never), and that the gradient agrees with central differences, with the
Python backend and (value_and_grad) with the function's own value."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad
from scipy.special import expit

RNG = np.random.default_rng(3)
N, D = 57, 6


def logistic(w, b, x, y):
    z = x @ w + b
    return np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + 1e-3 * np.sum(w ** 2)


def least_squares(w, x, y):
    r = np.dot(x, w) - y
    return 0.5 * np.sum(r * r)


def probit_like(w, x, y, s):
    z = s * (x @ w)
    return -np.sum(y * srcdiff_log_expit(z) + (1.0 - y) * srcdiff_log_expit(-z))


def srcdiff_log_expit(z):
    return -np.log1p(np.exp(-z))


def z_read_whole(w, x, y):
    z = x @ w
    return np.sum((z - y) ** 2) + np.max(z)       # np.max needs all of z


def log_of_sum(w, x):
    z = x @ w
    return np.log(np.sum(np.exp(z)))              # d_z needs the whole sum: no single pass


def with_x_gradient(w, x, y):
    z = x @ w
    return np.sum((z - y) ** 2)


def margin(w, b, x, y):
    return np.mean(np.log1p(np.exp(-y * (x @ w + b))))


def poisson(w, x, y):
    return np.sum(np.exp(x @ w) - y * (x @ w))            # x @ w twice: one product after CSE


def squared_expit(w, x, y):
    return np.sum((expit(x @ w) - y) ** 2)


def tanh_score(w, x, y, c):
    return np.sum(np.tanh(x @ w) * y) * c + c ** 2


def two_products(w, v, x, y):
    return np.sum((x @ w - y) ** 2) + np.sum(np.sin(x @ v))


def huber(w, x, y):
    r = x @ w - y
    return np.sum(np.where(np.abs(r) < 1.0, 0.5 * r * r, np.abs(r) - 0.5))


def weights_read_whole(w, x, y):
    t = 2.0 * y + 1.0                             # row-local, but np.max reads it whole: made before the loop
    return np.sum((x @ w) ** 2 * t) + np.max(t)


def normalised(w, x):
    e = np.exp(x @ w)
    return np.sum(e / np.sum(e) * np.log(e))      # each row's term reads the whole sum


def shift_read_again(w, b, x, y):
    z = x @ w + b
    return np.sum(np.tanh(z) * y) + b * b        # d_b = 2 b, then d_b = d_b + np.sum(d_z): a sum onto d_b


def element_of_w_first(w, x, y):
    r = x @ w - y
    return 3.0 * w[1] + np.sum(r * r)            # d_w[1] += 3.0, then d_w += x.T @ d_r: the loop's after it


def element_of_w_last(w, x, y):
    r = x @ w - y
    return np.sum(r * r) + 3.0 * w[1]


def problem(dtype=np.float64):
    x = RNG.normal(size=(N, D)).astype(dtype)
    y = (RNG.random(N) > 0.5).astype(dtype)
    w = (0.3 * RNG.normal(size=D)).astype(dtype)
    return w, x, y


def jitted_source(f, args, wrt):
    g = srcdiff.value_and_grad(f, wrt=wrt, jit=True)
    out = g(*args)
    return srcdiff.source(g), out


def is_fused(src: str) -> bool:
    """`src` holds a row-fused loop: a block of rows at a time (optimize/rowblocks.py) or a row at a time."""
    blocked = "rt.rows_dot(" in src and "rt.rows_add(" in src
    assert blocked or ("rt.row_dot(" in src) == ("rt.add_row(" in src), src
    return blocked or "rt.row_dot(" in src


def agree(f, args, wrt, fused, rtol=1e-7):
    """value_and_grad under jit (fused or not, as expected) against Python, f's value and central
    differences."""
    src, (value, grads) = jitted_source(f, args, wrt)
    if fused is not None:      # None: either (the random losses)
        assert is_fused(src) == fused, src
    py = srcdiff.value_and_grad(f, wrt=wrt, jit=False)
    assert "row_dot" not in srcdiff.source(py)
    pvalue, pgrads = py(*args)
    np.testing.assert_allclose(value, f(*args), rtol=rtol)
    np.testing.assert_allclose(value, pvalue, rtol=rtol)
    params = f.__code__.co_varnames[:f.__code__.co_argcount]
    for name, g, pg in zip(wrt, grads, pgrads):
        k = params.index(name)
        np.testing.assert_allclose(g, pg, rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(g, numerical_grad(f, args, k), rtol=1e-5, atol=1e-7)
        assert np.shape(g) == np.shape(args[k])
    return src


def test_logistic_loss_is_one_loop_over_rows():
    w, x, y = problem()
    src = agree(logistic, (w, 0.05, x, y), ("w", "b"), fused=True)
    # one loop over blocks of rows; the forward product is no longer a whole-matrix product; user's lines stay
    # as comments; the rows' exp and log1p are the runtime's inline ones (the loop over a block vectorises)
    assert src.count("for i0 in range(0, x.shape[0], block):") == 1 and src.count("for k in range(rows):") == 1
    assert "rt.dot(" not in src and "matmul_grad_y" not in src and "rt.row_dot(" not in src
    assert "# line" in src and "y_block = y[i0:i0 + block]" in src and "- y_block[k] * z" in src
    assert "d_z_block[k] = d_z" in src and "d_b += rt.sum_first(d_z_block, rows)" in src
    assert "rt.rows_dot(z1_block, x_block, w)" in src and "rt.rows_add(d_w, x_block, d_z_block)" in src
    code = "\n".join(s for s in src.splitlines() if not s.strip().startswith("#"))
    assert "result3 = rt.exp(-np.abs(z))" in code and "rt.log1p(result3)" in code and "= np.exp(" not in code


def test_least_squares_grad_starts_its_adjoint_at_zero():
    w, x, y = problem()
    src = agree(least_squares, (w, x, y), ("w",), fused=True)
    assert "rt.product_zeros(x, w)" in src


def test_sum_with_scalar_argument_and_log_terms():
    w, x, y = problem()
    agree(probit_like, (w, x, y, 0.7), ("w", "s"), fused=True)


@pytest.mark.parametrize("f, args, wrt, fused", [
    (margin, lambda w, x, y: (w, -0.1, x, 2.0 * y - 1.0), ("w", "b"), True),
    (poisson, lambda w, x, y: (w, x, 3.0 * y), ("w",), True),
    (squared_expit, lambda w, x, y: (w, x, y), ("w",), True),
    (tanh_score, lambda w, x, y: (w, x, y, 1.3), ("w", "c"), True),
    (two_products, lambda w, x, y: (w, 0.5 * w[::-1].copy(), x, y), ("w", "v"), True),   # both in one loop
    (huber, lambda w, x, y: (w, x, 4.0 * y), ("w",), True),         # comparisons, np.where -> rt.select
    (weights_read_whole, lambda w, x, y: (w, x, y), ("w",), True),
    (shift_read_again, lambda w, x, y: (w, 0.3, x, y), ("w", "b"), True),
    (element_of_w_first, lambda w, x, y: (w, x, y), ("w",), True),
    (element_of_w_last, lambda w, x, y: (w, x, y), ("w",), True),
], ids=["margin", "poisson", "expit", "scalar-wrt", "two-products", "where", "weights-whole", "shift-read-again",
        "element-of-w-first", "element-of-w-last"])
def test_losses_agree_fused_or_not(f, args, wrt, fused):
    """Losses of other shapes, each row-local: fused, with the gradient of the Python backend."""
    w, x, y = problem()
    src = agree(f, args(w, x, y), wrt, fused=fused)
    if f is two_products:
        assert src.count("rt.rows_dot(") == 2 and src.count("for i0 in range(") == 1
    if f is weights_read_whole:
        assert src.index("t = 2.0 * y + 1.0") < src.index("for i0 in range(")
    if f is shift_read_again:     # (b's other use stays before the loop, which adds the rows' d_z onto d_b)
        assert src.index("d_b = 2.0 * b") < src.index("for i0 in range(") and "d_b += rt.sum_first(" in src
    if f in (element_of_w_first, element_of_w_last):
        assert src.index("d_w[1] += ") < src.index("for i0 in range(") and "rt.rows_add(d_w, " in src


@pytest.mark.parametrize("f, args", [
    (z_read_whole, lambda w, x, y: (w, x, y)),
    (log_of_sum, lambda w, x, y: (w, x)),
    (normalised, lambda w, x, y: (w, x)),
], ids=["max-of-z", "log-of-sum", "reads-the-sum"])
def test_declined_where_not_row_local(f, args):
    w, x, y = problem()
    agree(f, args(w, x, y), ("w",), fused=False)


def test_declined_for_gradient_wrt_x():
    w, x, y = problem()
    agree(with_x_gradient, (w, x, y), ("w", "x"), fused=False)


def test_declined_when_y_broadcasts_from_length_one():
    w, x, _ = problem()
    agree(least_squares, (w, x, np.array([0.25])), ("w",), fused=False)


def test_float32_keeps_dtypes_of_the_python_backend():
    w, x, y = problem(np.float32)
    g = srcdiff.value_and_grad(least_squares, wrt=("w",), jit=True)
    value, (dw,) = g(w, x, y)
    assert "rt.rows_dot(" in srcdiff.source(g)
    pvalue, (pdw,) = srcdiff.value_and_grad(least_squares, wrt=("w",))(w, x, y)
    assert dw.dtype == pdw.dtype == np.float32
    np.testing.assert_allclose(dw, pdw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(value, pvalue, rtol=1e-5)


def test_fused_source_reads_in_order():
    """The loop over a block's rows holds the rows' forward statements, then their adjoints; what it needs
    comes before the loop over the blocks, what needs its sums after it; the block's products come before
    the rows' loop, its sums and adjoint product after it."""
    w, x, y = problem()
    src, _ = jitted_source(logistic, (w, 0.05, x, y), ("w", "b"))
    lines = [s.strip() for s in src.splitlines()]
    blocks = lines.index("for i0 in range(0, x.shape[0], block):")
    loop = lines.index("for k in range(rows):")
    first = {}
    for k, s in enumerate(lines):
        if " = " in s:
            first.setdefault(s.split(" ")[0], k)
    assert first["d_w"] < blocks and first["result8"] < blocks      # d_w's start, the mean's start
    assert first["block"] < blocks and first["z1_block"] < blocks   # the block's buffers, made once
    assert blocks < lines.index("rt.rows_dot(z1_block, x_block, w)") < loop
    assert "result8 = result8 / x.shape[0]" in lines[loop + 1:]
    row = lines.index("z1 = z1_block[k]")                # first in the loop, under the user's line
    assert all(s.startswith("#") for s in lines[loop + 1:row]) and lines[row - 1].startswith("# line ")
    assert lines[loop + 1:row].count("# forward sweep") == 1 and lines[row:].count("# backward sweep") == 1
    assert loop < lines.index("d_z_block[k] = d_z") < lines.index("rt.rows_add(d_w, x_block, d_z_block)")
    end = lines.index("return (result12, (d_w, d_b))")    # no heading left over the result: its line's adjoint
    assert not lines[end - 1].startswith("#")             # was moved into the loop


def random_loss(seed: int) -> str:
    """Source of a random loss over the rows of x @ w: elementwise terms of z, y and a scalar c, summed or
    averaged, plus a term in w alone."""
    rng = np.random.default_rng(seed)
    unary = ["np.tanh({})", "np.sin({})", "np.log1p(np.exp(-np.abs({})))", "np.maximum({}, 0.0)", "np.abs({})",
             "np.square({})", "np.exp(-({}) ** 2)", "np.where({0} > 0.1, {0}, 0.5 * {0})", "expit({})"]
    binary = ["({} + {})", "({} - {})", "({} * {})"]

    def term(depth):
        if depth == 0 or rng.random() < 0.25:
            return str(rng.choice(["z", "z", "y", "c", "z2"]))
        if rng.random() < 0.5:
            return str(rng.choice(unary)).format(term(depth - 1))
        return str(rng.choice(binary)).format(term(depth - 1), term(depth - 1))

    reduce_ = str(rng.choice(["np.sum", "np.mean"]))
    return (f"def loss(w, c, x, y):\n"
            f"    z = x @ w + c\n"
            f"    z2 = z * y\n"
            f"    return {reduce_}({term(3)} + z * {term(2)}) + c * np.sum(w ** 2)\n")


@pytest.mark.parametrize("seed", [pytest.param(s, marks=pytest.mark.slow) if s >= 3 else s for s in range(20)])
def test_random_row_losses(seed):
    """Random losses over the rows of x @ w, fused or not (an adjoint of c accumulated both outside and
    inside the loop keeps them apart): the gradient w.r.t. (w, c) agrees with the Python backend, the value
    with f, and both with central differences."""
    from gradcheck import source_module
    mod = source_module(f"rowloss{seed}", "import numpy as np\nfrom scipy.special import expit\n\n\n"
                        + random_loss(seed))
    w, x, y = problem()
    agree(mod.loss, (w, 0.2, x, y), ("w", "c"), fused=None, rtol=1e-6)


def test_forward_mode_over_a_row_fused_gradient():
    """jvp (and a Jacobian by columns) of a jitted gradient whose code is row-fused: forward mode reads the
    gradient's Python twin (forward_api.python_twin), not the row blocks' kernels, which have no derivative rules
    (it failed at rt.block_rows' `a.itemsize`: "attribute .itemsize of a local value is not supported")."""
    w, x, y = problem()
    g = srcdiff.grad(logistic, wrt="w", jit=True)
    g(w, 0.05, x, y)
    assert is_fused(srcdiff.source(g))
    v = np.linspace(-1.0, 1.0, D)
    want = srcdiff.hvp(logistic, wrt="w")(w, 0.05, x, y, v)
    for jit in (False, True):
        value, tangent = srcdiff.jvp(g, wrt="w", jit=jit)(w, 0.05, x, y, v)
        np.testing.assert_allclose(value, g(w, 0.05, x, y), rtol=1e-12)
        np.testing.assert_allclose(tangent, want, rtol=1e-9, atol=1e-12)
    jac = srcdiff.jacobian(g, wrt="w", mode="forward")(w, 0.05, x, y)
    np.testing.assert_allclose(jac, srcdiff.hessian(logistic, wrt="w")(w, 0.05, x, y), rtol=1e-9, atol=1e-12)


def list_then_rows(a, M):
    lst = [1.0]
    for i in range(3):
        lst.append(np.sum(a))
    t = np.sum(np.asarray(lst) ** 2)
    z = M @ a
    return t + np.sum(np.sin(z))


def test_statements_popping_one_stack_keep_their_order():
    """The adjoint of `lst = [1.0]` pops the list's adjoint stack after the loop of appends' adjoints pops it; the
    loop reads d_a, which the row loop writes, so it went after the row loop, and the pop, whose `d_lst.pop()` was not
    taken for a write of d_lst, went before it and popped the last append's adjoint: d/da 0.2959 too large in every
    entry under jit=True only (fuzz seed 1043006, --parallel: jit=True was wrong too). A method call writes its
    receiver, a runtime helper that writes into an argument its first argument."""
    a = RNG.normal(size=4)
    M = RNG.normal(size=(2, 4))
    g = srcdiff.grad(list_then_rows, jit=True)
    got = g(a.copy(), M)
    assert "one pass over the rows of M" in srcdiff.source(g)
    np.testing.assert_allclose(got, srcdiff.grad(list_then_rows)(a.copy(), M), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, numerical_grad(list_then_rows, [a, M], 0), rtol=1e-6, atol=1e-8)
    src = srcdiff.source(g)
    assert src.index("d_lst_item = d_lst.pop()") < src.rindex("d_lst.pop()")
