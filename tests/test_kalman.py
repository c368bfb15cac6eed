"""Kalman smoothing as the gradient of the information-form log-partition.

Smoothed moments from srcdiff's gradient of ``srcdiff.vi.kalman.log_Z`` are
checked against an independent Rauch-Tung-Striebel smoother, which is itself
checked against brute-force conditioning of the joint Gaussian.
"""
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference_inference as ref  # noqa: E402

from srcdiff.vi import kalman  # noqa: E402


def random_lgssm(n, m, seed):
    rng = np.random.default_rng(seed)
    Qr, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = 0.95 * Qr @ np.diag(rng.uniform(0.5, 1.0, n))
    Lq = rng.normal(size=(n, n)) * 0.3
    Q = Lq @ Lq.T + 0.2 * np.eye(n)
    C = rng.normal(size=(m, n))
    Lr = rng.normal(size=(m, m)) * 0.3
    R = Lr @ Lr.T + 0.3 * np.eye(m)
    mu0 = rng.normal(size=n)
    P0 = 1.5 * np.eye(n)
    return kalman.LGSSM(A, Q, C, R, mu0, P0)


def sample(params, T, seed):
    return kalman.sample(params, T, seed=seed)


# ---------------------------------------------------------------------------
# references (no srcdiff)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,m,T", [(1, 1, 3), (2, 3, 4), (3, 2, 5)])
def test_rts_matches_brute_force(n, m, T):
    p = random_lgssm(n, m, seed=n + m + T)
    _, y = sample(p, T, seed=1)
    ms, Ps, cross, ll = ref.rts_smoother(*p, y)
    mb, Pb, cb, lb = ref.brute_force_lgssm(*p, y)
    np.testing.assert_allclose(ms, mb, atol=1e-10)
    np.testing.assert_allclose(Ps, Pb, atol=1e-10)
    np.testing.assert_allclose(cross, cb, atol=1e-10)
    np.testing.assert_allclose(ll, lb, rtol=1e-10)


@pytest.mark.parametrize("n,m,T", [(1, 1, 20), (2, 3, 30), (3, 2, 25)])
def test_forward_log_likelihood(n, m, T):
    """The information filter (plain NumPy call of log_Z) gives log p(y)."""
    p = random_lgssm(n, m, seed=7 * n + m)
    _, y = sample(p, T, seed=2)
    *_, ll = ref.kalman_filter(*p, y)
    np.testing.assert_allclose(kalman.log_likelihood(p, y), ll, rtol=1e-10)


# ---------------------------------------------------------------------------
# smoothing = gradient of log Z
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,m,T,seed", [(1, 1, 40, 0), (2, 3, 60, 1), (3, 2, 50, 2),
                                        (4, 1, 30, 3)])
def test_smooth_matches_rts(n, m, T, seed):
    p = random_lgssm(n, m, seed)
    _, y = sample(p, T, seed)
    means, covs, cross = kalman.smooth(p, y, return_cross=True)
    ms, Ps, cr, ll = ref.rts_smoother(*p, y)
    np.testing.assert_allclose(means, ms, atol=1e-8)
    np.testing.assert_allclose(covs, Ps, atol=1e-8)
    np.testing.assert_allclose(cross, cr, atol=1e-8)
    loglik, (Ex, Exx, Exx_lag) = kalman.e_step(p, y)
    np.testing.assert_allclose(loglik, ll, rtol=1e-10)
    assert Ex.shape == (T, n) and Exx.shape == (T, n, n) and Exx_lag.shape == (T - 1, n, n)


@pytest.mark.parametrize("offset", [1e6, 5e6])
@pytest.mark.parametrize("jit", [False, True])
def test_states_far_from_zero(offset, jit):
    """A constant-velocity track at `offset` (coordinates such as UTM metres): the covariances came from
    E[x x'] - E[x] E[x]', numbers around offset**2 whose difference is 0.004, and log p(y) from log_Z and a
    constant around 1e16 that cancel: at 5e6 the covariances were 93% off with negative eigenvalues and
    log p(y) off by 13.8 (at 1e6, 2.5% and 0.48). Checked against the RTS smoother (which works with
    residuals), as the model at offset 0 is."""
    A, C = np.array([[1.0, 1.0], [0.0, 1.0]]), np.array([[1.0, 0.0]])
    p = kalman.LGSSM(A, 0.01 * np.eye(2), C, np.array([[0.01]]), np.array([offset, 1.0]), np.eye(2))
    _, y = sample(p, 30, seed=1)
    ms, Ps, cr, ll = ref.rts_smoother(*p, y)
    means, covs, cross = kalman.smooth(p, y, jit=jit, return_cross=True)
    np.testing.assert_allclose(means, ms, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(covs, Ps, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(cross, cr, rtol=1e-7, atol=1e-12)
    loglik, (Ex, Exx, Exx_lag) = kalman.e_step(p, y, jit=jit)
    np.testing.assert_allclose([loglik, kalman.log_likelihood(p, y)], ll, rtol=0, atol=1e-6)
    np.testing.assert_allclose(Exx, Ps + ms[:, :, None] * ms[:, None, :], rtol=1e-8)


def test_smooth_default_returns_means_and_covs():
    p = random_lgssm(2, 2, 5)
    _, y = sample(p, 15, 5)
    out = kalman.smooth(p, y)
    assert len(out) == 2
    ms, Ps, _, _ = ref.rts_smoother(*p, y)
    np.testing.assert_allclose(out[0], ms, atol=1e-8)
    np.testing.assert_allclose(out[1], Ps, atol=1e-8)


def test_smooth_scalar_observations_1d_array():
    """1-D y (m = 1) is accepted; T = 1 degenerates to a single Bayes update."""
    p = random_lgssm(2, 1, 9)
    _, y = sample(p, 25, 9)
    means, covs = kalman.smooth(p, y[:, 0])
    ms, Ps, _, _ = ref.rts_smoother(*p, y)
    np.testing.assert_allclose(means, ms, atol=1e-8)
    np.testing.assert_allclose(covs, Ps, atol=1e-8)
    means1, covs1 = kalman.smooth(p, y[:1])
    mb, Pb, _, _ = ref.brute_force_lgssm(*p, y[:1])
    np.testing.assert_allclose(means1, mb, atol=1e-10)
    np.testing.assert_allclose(covs1, Pb, atol=1e-10)


def test_gradient_of_J_is_symmetric():
    p = random_lgssm(3, 2, 4)
    _, y = sample(p, 10, 4)
    (h, J, L), _ = kalman.natural_params(p, y)
    _, (_, g_J, _) = kalman._value_and_grad(jit=True)(h, J, L)
    np.testing.assert_allclose(g_J, np.swapaxes(g_J, -1, -2), atol=1e-12)


def test_log_Z_gradient_finite_differences_python_backend():
    import srcdiff
    p = random_lgssm(2, 2, 11)
    _, y = sample(p, 4, 11)
    (h, J, L), _ = kalman.natural_params(p, y)
    g_h, g_J, g_L = srcdiff.grad(kalman.log_Z, wrt=(0, 1, 2), jit=False)(h, J, L)
    eps = 1e-6
    for arg, g in ((0, g_h), (1, g_J), (2, g_L)):
        args = [h, J, L]
        fd = np.zeros_like(args[arg])
        for idx in np.ndindex(fd.shape):
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[arg][idx] += eps
            minus[arg][idx] -= eps
            fd[idx] = (kalman.log_Z(*plus) - kalman.log_Z(*minus)) / (2 * eps)
        np.testing.assert_allclose(g, fd, atol=1e-6, rtol=1e-6)


def test_jit_and_python_backends_agree():
    p = random_lgssm(2, 3, 12)
    _, y = sample(p, 20, 12)
    m1, c1 = kalman.smooth(p, y, jit=True)
    m2, c2 = kalman.smooth(p, y, jit=False)
    np.testing.assert_allclose(m1, m2, atol=1e-12)
    np.testing.assert_allclose(c1, c2, atol=1e-12)


def test_bad_parameters_and_observations_are_named():
    """Issue 19.13 for the Kalman entry points: NaN observations and parameters, a covariance that is not
    positive definite or symmetric, and mismatched shapes raise a ValueError naming what is wrong (once:
    "array must not contain infs or NaNs" from SciPy, or a bare LinAlgError)."""
    params = random_lgssm(2, 2, 0)
    y = sample(params, 6, 1)[1]
    y[3, 1] = np.nan
    for fn in (kalman.e_step, kalman.smooth, kalman.log_likelihood):
        with pytest.raises(ValueError, match=re.escape("the observations hold nan at y[3, 1]")):
            fn(params, y)
    y[3, 1] = 0.0
    cases = [(params._replace(Q=-params.Q), "LGSSM.Q must be a positive definite covariance"),
             (params._replace(R=params.R + np.array([[0.0, 0.5], [0.0, 0.0]])), "LGSSM.R must be a symmetric"),
             (params._replace(P0=np.zeros((2, 2))), "LGSSM.P0 must be a positive definite"),
             (params._replace(A=np.where(np.eye(2) == 1, np.nan, params.A)), "LGSSM.A[0, 0] is nan"),
             (params._replace(mu0=np.array([0.0, np.inf])), "LGSSM.mu0[1] is inf"),
             (params._replace(C=params.C[:, :1]), "LGSSM.C has shape (2, 1)")]
    for bad, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            kalman.e_step(bad, y)
    np.testing.assert_allclose(kalman.e_step(params, y)[0], kalman.log_likelihood(params, y), rtol=1e-10)


def test_a_flat_observation_array_of_several_outputs_is_declined():
    """A 1-D y for m > 1 was reshaped to (T, m) without a word: an array of one output per step (a user's
    y[:, 0]) with T*m numbers made a wrong smoother silently. It is an error naming the shape and the fix."""
    params = random_lgssm(2, 2, 0)
    y = sample(params, 6, 1)[1]
    with pytest.raises(ValueError, match=re.escape("observations must have shape (T, 2)")):
        kalman.smooth(params, y.ravel())
    np.testing.assert_allclose(kalman.smooth(params, y.ravel().reshape(-1, 2))[0], kalman.smooth(params, y)[0])
