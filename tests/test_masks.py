"""transforms/masks.py: reads and writes through a boolean mask of rank 2 or more, which Numba cannot index
with (a bare AssertionError in its typing: the gradient was declined under jit=True), route through
rt.mask_get / rt.mask_put in the code Numba compiles; the Python backend and the shown source keep NumPy's."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
M = np.array([[0.3, -1.2, 2.0], [0.8, 0.1, -0.4]])


def masked_read(a, m):
    return np.sum(m[m > 0.2] * a) + np.sum(np.sin(m[m < 0.0]))


def masked_writes(a, m):
    y = m * a
    y[y > 0.5] = 0.5
    y[y < 0.0] *= a
    y[y > 0.1] += a * a
    return np.sum(y * y)


def mask_in_a_loop(a, m):
    y = m.copy()
    for i in range(3):
        y[y > 0.25] = y[y > 0.25] * a
    return np.sum(y)


@JIT
@pytest.mark.parametrize("f", [masked_read, masked_writes, mask_in_a_loop])
def test_gradients_through_masks_of_a_matrix(f, jit):
    args = (0.7, M.copy())
    value, (ga, gm) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    assert value == pytest.approx(f(*args))
    assert ga == pytest.approx(numerical_grad(f, args, 0), rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(gm, numerical_grad(f, args, 1), rtol=1e-6, atol=1e-8)
    _, slope = srcdiff.jvp(f, wrt=0, jit=jit)(*args, 1.0)
    assert slope == pytest.approx(ga, rel=1e-9)
    eps = 1e-6
    hv = srcdiff.hvp(f, wrt=0, jit=jit)(*args, 1.0)
    g = srcdiff.grad(f, wrt=0)
    assert hv == pytest.approx((g(0.7 + eps, M) - g(0.7 - eps, M)) / (2 * eps), rel=1e-5, abs=1e-6)


def test_numba_compiles_the_helpers_and_the_source_keeps_numpys_indexing():
    g = srcdiff.grad(masked_writes, wrt=0, jit=True)
    g(0.7, M)
    shown = srcdiff.source(g)
    assert "rt.mask_" not in shown and "[y1 > 0.5]" not in shown   # (the mask is a name of its own)
    compiled = g.last.generated.compiled
    assert compiled is not None and "rt.mask_put(" in compiled and "rt.mask_get(" in compiled


def test_the_helpers_follow_numpy():
    from srcdiff import runtime as rt
    import numba
    get = numba.njit(lambda x, m: rt.mask_get(x, m))
    put = numba.njit(lambda x, m, v: rt.mask_put(x, m, v))
    add = numba.njit(lambda x, m, g: rt.index_add(x, m, g))
    x = np.arange(12.0).reshape(3, 4)
    m = (x % 3) == 1
    np.testing.assert_array_equal(get(x, m), x[m])
    for v in (-1.0, np.arange(float(m.sum()))):
        want, got = x.copy(), x.copy()
        want[m] = v
        put(got, m, v)
        np.testing.assert_array_equal(got, want)
        want, got = x.copy(), x.copy()
        want[m] += v
        add(got, m, v)
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        put(x.copy(), m, np.ones(2))


def recursive_with_a_mask(u, depth):
    if depth <= 0:
        return u
    m = np.outer(np.ones(2), np.arange(3.0)) * u
    return 0.5 * np.sin(recursive_with_a_mask(u, depth - 1)) + np.sum(m[m > 0.5])


def calls_the_recursion(a):
    return recursive_with_a_mask(a, 2)


@JIT
def test_a_mask_in_a_helpers_primal_copy(jit):
    """A recursive helper stays a call: the gradient calls its primal copy, which is not in A-normal form and
    has no kinds of the sweeps (fuzz seed 808251: Numba crashed on the mask expression there)."""
    g = srcdiff.grad(calls_the_recursion, jit=jit)(0.7)
    assert g == pytest.approx(numerical_grad(calls_the_recursion, (0.7,), 0), rel=1e-6)



def mask_and_column(p):
    """A bouncing-particles step: a 1-D mask of rows beside a column index, read, written and scaled in place."""
    q = p.copy()
    hit = q[:, 1] < 0.0
    q[hit, 1] = -q[hit, 1] * 2.0
    q[hit, 0] *= 0.9
    none = q[:, 0] > 9.0                     # (no True place)
    q[none, 1] += 1.0
    return np.sum(q ** 3) + np.sum(p[hit, 0]) + np.sum(q[np.arange(3)[none], 0])


def test_a_vector_mask_beside_other_indices_under_numba():
    # rt.index_add's tuple form took 1-D integer arrays only: the adjoint of p[hit, 1] did not compile
    # ("a[idx] += g under Numba takes 1-D integer index arrays"), and an index array with no entries raised
    p = np.array([[0.5, -0.3], [0.2, 0.7], [-1.1, -0.4]])
    g = srcdiff.grad(mask_and_column, jit=True)(p)
    np.testing.assert_allclose(g, numerical_grad(mask_and_column, (p,), 0), rtol=1e-6, atol=1e-8)
    from srcdiff import runtime as rt
    import numba
    add = numba.njit(lambda x, i, g: rt.index_add(x, i, g))
    for idx in ((p[:, 1] < 0.0, 1), (slice(None), p[0] > 0.0), (np.zeros(0, np.int64), 0), (p[:, 0] > 5.0, 1)):
        want, got = p.copy(), p.copy()
        np.add.at(want, idx, 2.5)
        add(got, idx, 2.5)
        np.testing.assert_array_equal(got, want)
