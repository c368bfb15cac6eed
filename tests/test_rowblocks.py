"""Row blocks (srcdiff/transforms/optimize/rowblocks.py): the row-fused loop a block of rows at a time. Shapes
where the rows end inside a block, fewer rows than a block, one column, several blocks of few rows (wide x),
no rows, a sum of comparisons: the jitted gradient agrees with the Python backend, f's value and central
differences."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad
from srcdiff import runtime as rt


def logistic(w, b, x, y):
    z = x @ w + b
    return np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + 1e-3 * np.sum(w ** 2)


def poisson_log(w, x, y):
    z = x @ w
    return np.sum(np.exp(z) - y * z + np.log(1.0 + y * y) * z)


def least_squares(w, x, y):
    r = x @ w - y
    return 0.5 * np.sum(r * r)


def with_count(w, x, y):
    z = x @ w
    return np.sum((z - y) ** 2) + 0.5 * np.sum(z > 0.0)


def _problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (rng.random(n) > 0.5) * 1.0
    w = 0.5 * rng.normal(size=d)
    return w, x, y


def _check(f, args, wrt, rtol=1e-9):
    g = srcdiff.value_and_grad(f, wrt=wrt, jit=True)
    value, grads = g(*args)
    src = srcdiff.source(g)
    pvalue, pgrads = srcdiff.value_and_grad(f, wrt=wrt)(*args)
    np.testing.assert_allclose(value, pvalue, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(value, f(*args), rtol=rtol, atol=1e-12)
    params = f.__code__.co_varnames[:f.__code__.co_argcount]
    for name, got, want in zip(wrt, grads, pgrads):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
        if params.index("x") and args[params.index("x")].shape[0]:       # (no rows: nothing to differentiate)
            _against_differences(f, args, params.index(name), got)
    return src


def _against_differences(f, args, k, got):
    """Central differences of every entry; of a long vector (40 000 columns: 80 000 calls took four minutes),
    along three random directions (the directional derivative is vdot(gradient, v))."""
    if np.size(args[k]) <= 2000:
        np.testing.assert_allclose(got, numerical_grad(f, args, k), rtol=1e-5, atol=1e-7)
        return
    rng, h = np.random.default_rng(k), 1e-6
    for _ in range(3):
        v = rng.normal(size=np.shape(args[k]))
        up, down = list(args), list(args)
        up[k], down[k] = args[k] + h * v, args[k] - h * v
        assert np.vdot(got, v) == pytest.approx((f(*up) - f(*down)) / (2 * h), rel=1e-5, abs=1e-7)


# (rows, columns): block_rows gives 1 024 rows for up to 4 columns, a multiple of 8 up to 4 096 / columns
# otherwise (816 for 5, 64 for 60, 40 for 100); from 257 columns on 32 768 / columns (104 for 300, 32 for
# 1 000, 1 for 40 000); the last block full or not, its rows a multiple of 8 or not (rows_add's groups and the rest)
SHAPES = [(1, 3), (7, 1), (1023, 2), (1025, 1), (2500, 5), (40, 100), (41, 100), (100, 60), (90, 13),
          (250, 300), (70, 1000), (3, 40000), (37, 40000)]


def _block(d):
    rows = 4096 // d if 4096 // d >= 16 else 32768 // d
    rows = min(1024, rows)
    return rows - rows % 8 if rows >= 8 else max(1, rows)


@pytest.mark.parametrize("n, d", SHAPES, ids=[f"{n}x{d}" for n, d in SHAPES])
def test_blocked_logistic_agrees(n, d):
    w, x, y = _problem(n, d)
    src = _check(logistic, (w, 0.1, x, y), ("w", "b"))
    assert "for i0 in range(0, x.shape[0], block):" in src and "rt.rows_add(d_w, x_block, d_z_block)" in src
    # d_b's sum and d_w's adjoint product take the same row value d_z: one buffer, written once a row
    assert "d_b += rt.sum_first(d_z_block, rows)" in src and src.count("d_z_block[k] = d_z") == 1
    assert "d_b_block" not in src and "d_w_block" not in src
    assert "IndexError('z1_block" not in src                      # the buffers are as long as a block
    assert src.count("rt.row_dot(") == 0 and rt.block_rows(x) == _block(d)


@pytest.mark.parametrize("layout", ["F", "strided"])
def test_blocked_logistic_other_layouts(layout):
    """x Fortran-ordered (a transposed C array) or a strided view: the block kernels read it as it is."""
    w, x, y = _problem(90, 13, seed=2)
    x = np.asfortranarray(x) if layout == "F" else np.repeat(x, 2, axis=1)[:, ::2]
    assert not x.flags.c_contiguous
    src = _check(logistic, (w, 0.1, x, y), ("w", "b"))
    assert "rt.rows_add(d_w, x_block, d_z_block)" in src


@pytest.mark.parametrize("n, d", [(1025, 2), (104 * 2 + 5, 300)], ids=["1025x2", "213x300"])
def test_blocked_log_and_exp_agree(n, d):
    w, x, y = _problem(n, d, seed=1)
    src = _check(poisson_log, (0.3 * w, x, y), ("w",))
    assert "rt.exp(" in src and "rt.log(" in src


def test_no_rows():
    w, x, y = _problem(0, 4)
    src = _check(least_squares, (w, x, y), ("w",))
    assert "rt.rows_dot(" in src


def test_sum_of_booleans_is_blocked():
    """A sum of comparisons (a float sum, started at 0.0 by row fusion) goes through a float buffer as well."""
    w, x, y = _problem(1500, 4)
    src = _check(with_count, (w, x, y), ("w",))
    assert "result4_block[k] = result3" in src and "result4 += rt.sum_first(result4_block, rows)" in src


@pytest.mark.parametrize("between, buffers", [("", 1), ("z1 = z1 * 2.0\n", 2)], ids=["same", "rebound"])
def test_a_row_value_two_consumers_take_shares_a_buffer_only_where_it_is_the_same_value(between, buffers):
    """A sum and an adjoint product of the same row value write it into one buffer; where the name is bound
    again between them, each keeps its own."""
    import gast
    from srcdiff.transforms.optimize.rowblocks import blocked
    body = gast.parse("z1 = rt.row_dot(x, i, w)\ns += z1\n" + between + "rt.add_row(d_w, z1, x, i)\n").body
    out = blocked(body, "x", "i", {"s"}, {"x", "w", "s", "d_w", "z1"})
    made = [st for st in out if isinstance(st, gast.Assign) and isinstance(st.value, gast.Call)
            and isinstance(st.value.func, gast.Attribute) and st.value.func.attr == "empty"]
    assert len(made) == 1 + buffers     # (z1's products, then the sums' and adjoint products' buffers)
