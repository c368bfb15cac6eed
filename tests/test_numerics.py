"""Numerical edge cases: infinities, masked singularities, saturation, ties.

Observed (both backends), and pinned here:
* logsumexp with -inf entries: gradient exactly 0 at the -inf entries, softmax elsewhere; an
  all -inf input gives gradient 0 (not NaN).
* np.where-masked log: `np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0)` (the "double
  where") has finite gradients, 0 on the masked entries.  The naive `np.where(x > 0, x*np.log(x), 0)`
  gives NaN at x <= 0 -- as in every reverse-mode AD (0 * inf in the dead branch); documented here.
* stable logistic loss max(z,0) + log1p(exp(-|z|)): finite gradient sigmoid(z) up to |z| = 800.
* ties: abs at 0 -> 0; np.max / np.maximum / builtin max ties split the adjoint equally.
* sqrt at 0 -> inf (documented rule choice); so sqrt(x * x) at 0 is NaN (0 * inf) -- the derivative
  of |x| at 0 does not exist; np.abs(x) gives 0 there.
* arctan2 and hypot at (0, 0) -> 0 for both partials, in reverse and forward mode alike.
* a power below 1 of |x| at x = 0 (abs(a) ** 0.5, np.abs(x) ** 0.3, np.sqrt(np.abs(x)), np.cbrt(np.abs(x))) -> 0
  in reverse and forward mode (was NaN: 0 * inf), as central differences give (an even function of x).
* loop log-sum-exps rewritten into log-domain products (transforms/logdomain.py) with -inf entries
  (forbidden transitions, unreachable states, all -inf columns): gradient 0 there, never NaN.
"""
import math
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

import srcdiff
import gradcheck

BACKENDS = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def _g(f, *args, wrt=0, jit=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return srcdiff.grad(f, wrt=wrt, jit=jit)(*args)


def lse(x):
    return logsumexp(x)


def lse_rows(x):
    return np.sum(logsumexp(x, axis=1))


def masked_log(x):
    safe = np.where(x > 0.0, x, 1.0)
    return np.sum(np.where(x > 0.0, x * np.log(safe), 0.0))


def naive_masked_log(x):
    return np.sum(np.where(x > 0.0, x * np.log(x), 0.0))


def logistic(z):
    return np.sum(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))))


def abs_sum(x):
    return np.sum(np.abs(x))


def max_all(x):
    return np.max(x)


def max_pair(x, y):
    return np.sum(np.maximum(x, y))


def builtin_max(x, y):
    return max(x, y)


def sqrt_sum(x):
    return np.sum(np.sqrt(x))


@BACKENDS
def test_logsumexp_minus_inf(jit):
    g = _g(lse, np.array([-np.inf, 0.0, 1.0]), jit=jit)
    assert g[0] == 0.0
    np.testing.assert_allclose(g[1:], np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum())
    assert np.all(_g(lse, np.array([-np.inf, -np.inf]), jit=jit) == 0.0)
    g = _g(lse_rows, np.array([[-np.inf, 0.0], [1.0, -np.inf]]), jit=jit)
    np.testing.assert_array_equal(g, [[0.0, 1.0], [1.0, 0.0]])


@BACKENDS
def test_double_where_masked_log(jit):
    x = np.array([0.0, 0.5, -1.0])
    g = _g(masked_log, x, jit=jit)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, np.log(0.5) + 1.0, 0.0])


@BACKENDS
def test_naive_masked_log_is_nan_on_masked_entries(jit):
    # documents current (standard reverse-mode) behaviour: 0 * (1/x) with x = 0 in the dead branch
    g = _g(naive_masked_log, np.array([0.0, 0.5, -1.0]), jit=jit)
    assert np.isfinite(g[1]) and np.isnan(g[0]) and np.isnan(g[2])


@BACKENDS
def test_stable_logistic_saturates_without_nan(jit):
    z = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    with np.errstate(all="ignore"):
        expect = 1.0 / (1.0 + np.exp(-z))
    g = _g(logistic, z, jit=jit)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, expect, rtol=1e-12, atol=1e-300)


@BACKENDS
def test_ties(jit):
    np.testing.assert_array_equal(_g(abs_sum, np.array([0.0, -1.0, 2.0]), jit=jit), [0.0, -1.0, 1.0])
    np.testing.assert_array_equal(_g(max_all, np.array([1.0, 1.0, 0.0]), jit=jit), [0.5, 0.5, 0.0])
    gx, gy = _g(max_pair, np.array([1.0, 2.0]), np.array([1.0, 0.0]), wrt=(0, 1), jit=jit)
    np.testing.assert_array_equal(gx, [0.5, 1.0])
    np.testing.assert_array_equal(gy, [0.5, 0.0])
    assert _g(builtin_max, 1.0, 1.0, wrt=(0, 1), jit=jit) == (0.5, 0.5)


@BACKENDS
def test_sqrt_at_zero_is_inf(jit):
    g = _g(sqrt_sum, np.array([0.0, 1.0]), jit=jit)
    assert g[0] == np.inf and g[1] == 0.5


def abs_root(a):
    return abs(a) ** 0.5


def math_abs_root(a):
    return math.sqrt(math.fabs(a)) * 2.0 + a


def abs_powers(x):
    return np.sum(np.abs(x) ** 0.3) + np.sum(np.sqrt(np.abs(x))) + np.sum(np.cbrt(np.abs(x)) * x)


def abs_power_of(x, p):
    return np.sum(np.abs(x) ** p)


@BACKENDS
def test_powers_below_one_of_abs_at_zero(jit):
    """d/dx |x| ** p at x = 0 for 0 < p < 1 is 0 in both modes, as central differences give (|x| ** p is even):
    abs passes exactly 0 at 0 whatever reaches it, and forward mode passes a zero tangent through an infinite
    slope as 0 (rt.times_slope). Before (h29b, by hand), NaN in both (0 * inf), in both backends."""
    assert _g(abs_root, 0.0, jit=jit) == 0.0
    assert srcdiff.jvp(abs_root, jit=jit)(0.0, 1.0) == (0.0, 0.0)
    assert _g(math_abs_root, 0.0, jit=jit) == 1.0
    assert srcdiff.jvp(math_abs_root, jit=jit)(0.0, 1.0)[1] == 1.0
    x, v = np.array([0.0, 0.7, -1.3, 0.0]), np.array([1.0, -0.5, 2.0, -3.0])
    g = _g(abs_powers, x, jit=jit)
    ref = gradcheck.numerical_grad(abs_powers, [x], 0)
    assert np.all(np.isfinite(g)) and g[0] == g[3] == 0.0
    np.testing.assert_allclose(g[1:3], ref[1:3], rtol=1e-6)
    assert abs(ref[0]) < 0.02     # (cbrt(|h|) * h: central differences h ** (1 / 3) at 0, the rest exactly 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, t = srcdiff.jvp(abs_powers, jit=jit)(x, v)
        assert t == pytest.approx(float(g @ v), rel=1e-12)
        gx, gp = srcdiff.grad(abs_power_of, wrt=(0, 1), jit=jit)(x, 0.5)
        _, t2 = srcdiff.jvp(abs_power_of, wrt=(0, 1), jit=jit)(x, 0.5, (v, 1.0))
    assert np.all(np.isfinite(gx)) and gx[0] == 0.0 and np.isfinite(gp)
    assert t2 == pytest.approx(float(gx @ v) + gp, rel=1e-12)


def angle_and_radius(x, y):
    return np.sum(np.arctan2(x, y) + np.hypot(x, y))


def radius_of_a_constant(x, a):
    """arctan2 and hypot at the origin of values that do not depend on x or a (fuzz 760099): the jvp was
    nan (a nan partial times a zero tangent) where the gradient was not."""
    u = np.maximum(0.0, a[0] * 0.0)
    return np.arctan2(np.sum(a[:0]), u) + np.hypot(0.0 * x, u) + x * x


@BACKENDS
def test_arctan2_and_hypot_at_the_origin_are_zero(jit):
    x, y = np.array([0.0, 0.3]), np.array([0.0, -0.4])
    gx, gy = _g(angle_and_radius, x, y, wrt=(0, 1), jit=jit)
    np.testing.assert_allclose(gx, [0.0, -1.6 + 0.6], rtol=1e-12)
    np.testing.assert_allclose(gy, [0.0, -1.2 - 0.8], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, tangent = srcdiff.jvp(angle_and_radius, wrt=(0, 1), jit=jit)(x, y, (np.ones(2), np.ones(2)))
        assert tangent == pytest.approx(np.sum(gx) + np.sum(gy), rel=1e-12)
        a = np.array([0.3, 0.2])
        gx2, ga = srcdiff.grad(radius_of_a_constant, wrt=(0, 1), jit=jit)(0.5, a)
        _, t2 = srcdiff.jvp(radius_of_a_constant, wrt=(0, 1), jit=jit)(0.5, a, (1.0, np.ones(2)))
    assert gx2 == 1.0 and np.array_equal(ga, [0.0, 0.0]) and t2 == 1.0


def hmm_forward(log_pi, log_A, y):
    la = log_pi
    for t in range(3):
        la = logsumexp(la[:, None] + log_A, axis=0) + 0.1 * y[t]
    return logsumexp(la)


def hmm_backward(log_pi, log_A, y):
    lb = log_pi
    for t in range(3):
        lb = logsumexp(log_A + lb[None, :], axis=1) + 0.1 * y[t]
    return logsumexp(lb)


NINF = -np.inf


@BACKENDS
@pytest.mark.parametrize("f", [hmm_forward, hmm_backward], ids=["vecmat", "matvec"])
def test_log_domain_product_minus_inf(f, jit):
    # forbidden transitions, an unreachable state: gradient 0 there, exact elsewhere
    args = (np.array([0.0, NINF]), np.array([[0.0, NINF], [NINF, 0.0]]), np.ones(3))
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
    with np.errstate(all="ignore"):
        gpi, gA = g(*args)
    assert "rt.logsumexp_" in srcdiff.source(g)          # the rewritten form is the one tested
    np.testing.assert_array_equal(gpi, [1.0, 0.0])
    np.testing.assert_array_equal(gA, [[3.0, 0.0], [0.0, 0.0]])
    # every state unreachable: value -inf, gradient 0 (not NaN)
    with np.errstate(all="ignore"):
        gpi, gA = g(np.array([NINF, NINF]), np.zeros((2, 2)), np.ones(3))
    assert np.all(gpi == 0.0) and np.all(gA == 0.0)


def _max_all(x):
    return np.max(x) * 2.0


def _min_rows(x):
    return np.sum(np.min(x, axis=1))


@pytest.mark.parametrize("jit", [False, True])
def test_max_over_nan_has_nan_gradient_where_the_value_is_nan(jit):
    """np.max of an array holding NaN is NaN: its gradient is NaN at the NaN entries, not all zeros
    (issue 19.6); a slice without NaN keeps its ordinary gradient."""
    x = np.array([1.0, np.nan, 3.0])
    value, g = srcdiff.value_and_grad(_max_all, jit=jit)(x)
    assert np.isnan(value) and np.isnan(g[1]) and g[0] == 0.0 and g[2] == 0.0
    m = np.array([[1.0, np.nan, 3.0], [4.0, -2.0, 0.5]])
    value, g = srcdiff.value_and_grad(_min_rows, jit=jit)(m)
    assert np.isnan(value)
    np.testing.assert_array_equal(np.isnan(g), [[False, True, False], [False, False, False]])
    np.testing.assert_array_equal(g[1], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(g[0, [0, 2]], [0.0, 0.0])
    ok = np.array([[1.0, 2.0, 3.0], [4.0, -2.0, 0.5]])
    np.testing.assert_allclose(srcdiff.grad(_min_rows, jit=jit)(ok), gradcheck.numerical_grad(_min_rows, [ok], 0))


def alignment_table(x):
    """A log-domain table (CTC / HMM style) started at -inf, filled with logaddexp: its unreachable cells are
    logaddexp(-inf, -inf)."""
    T = 4
    alpha = np.full((T, 3), -np.inf)
    alpha[0, 0] = x[0]
    for t in range(1, T):
        for s in range(3):
            a = alpha[t - 1, s]
            if s > 0:
                a = np.logaddexp(a, alpha[t - 1, s - 1])
            alpha[t, s] = a + x[t] * (s + 1)
    both = np.logaddexp2(x[1] - np.inf, x[2] - np.inf)      # -inf: np.maximum passes it 0 adjoint
    return alpha[T - 1, 2] + np.maximum(both, -5.0) + np.logaddexp2(alpha[1, 2], x[3])


@BACKENDS
def test_logaddexp_of_two_minus_infinities_has_zero_partials(jit):
    """logaddexp(-inf, -inf) is -inf; its partials exp(x - ans) were exp(NaN): the gradient, jvp and hvp of a
    table of log-probabilities started at -inf were NaN (a CTC-style loss's jvp, hand-written program). They
    are 0, as logsumexp's at -inf, in every mode, with no warning."""
    x = np.array([0.3, -0.2, 0.5, 0.1])
    want = gradcheck.numerical_grad(alignment_table, [x], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # nothing computes inf - inf
        g = srcdiff.grad(alignment_table, jit=jit)(x)
        _, tangent = srcdiff.jvp(alignment_table, jit=jit)(x, np.ones(4))
        hv = srcdiff.hvp(alignment_table, jit=jit)(x, np.ones(4))
        grad_of_grad = srcdiff.grad(gradient_sum)(x)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    assert tangent == pytest.approx(np.sum(want), rel=1e-6)
    assert np.all(np.isfinite(hv))
    np.testing.assert_allclose(grad_of_grad, hv, rtol=1e-8, atol=1e-10)


def gradient_sum(x):
    return np.sum(srcdiff.grad(alignment_table)(x))
