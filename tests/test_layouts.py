"""transforms/layouts.py (the compiled form only): a name a loop binds again after an F-ordered array (what
Numba's LAPACK calls return) takes its values through rt.any_layout, so Numba compiles forward mode's code
(fuzz seed 913000 under Numba: "Don't know how to allocate array with layout 'A'")."""
import numpy as np
import pytest
from scipy.special import logsumexp

import srcdiff


def after_svd(M):
    a = (np.linalg.svd(M + 3.0 * np.eye(2), full_matrices=False)[2] ** 2)[:, 0]
    s = M[:, :2]
    for i in range(2):
        a = logsumexp(a[:, None] + s, axis=0)
    return np.sum(a)


def after_inv(M):
    a = np.linalg.inv(M + 3.0 * np.eye(2))[:, 0]
    for i in range(2):
        a = np.tanh(a[:, None] + M).sum(0)
    return np.sum(a * a)


def after_solve_in_branch(M, x):
    a = np.linalg.solve(M + 3.0 * np.eye(2), M)
    if x > 0:
        a = M * x
    return np.sum(a * 2.0)


CASES = [(after_svd, ()), (after_inv, ()), (after_solve_in_branch, (0.7,))]


@pytest.mark.parametrize("f, rest", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_jvp_under_numba_after_a_fortran_ordered_array(f, rest):
    M = np.random.default_rng(2).normal(size=(2, 2))
    v = np.linspace(-1.0, 1.0, 4).reshape(2, 2)
    g = srcdiff.grad(f, wrt=0)(M, *rest)
    value, tangent = srcdiff.jvp(f, wrt=0, jit=True)(M, *rest, v)
    np.testing.assert_allclose(value, f(M, *rest), rtol=1e-12)
    np.testing.assert_allclose(tangent, np.sum(g * v), rtol=1e-9, atol=1e-12)


def test_only_the_compiled_form_says_so():
    M = np.random.default_rng(2).normal(size=(2, 2))
    t = srcdiff.jvp(after_svd, wrt=0, jit=True)
    t(M, np.ones((2, 2)))
    assert "any_layout" not in srcdiff.source(t)
    assert "a = rt.any_layout(" in t.last.generated.compiled


def test_any_layout_is_the_array():
    import numba
    from srcdiff import runtime as rt

    @numba.njit
    def pick(F, C, k):
        a = rt.any_layout(F[:, 0])
        for _ in range(k):
            a = rt.any_layout(C[0] + 1.0)
        return a * 2.0
    F, C = np.asfortranarray(np.arange(4.0).reshape(2, 2)), np.ones((2, 2))
    np.testing.assert_array_equal(pick(F, C, 0), 2.0 * F[:, 0])
    np.testing.assert_array_equal(pick(F, C, 1), [4.0, 4.0])
    assert rt.any_layout(F) is F
