"""Linear-Gaussian state space models: smoothing as the gradient of the log-partition.

Model::

    x_1 ~ N(mu0, P0)
    x_t = A x_{t-1} + w_t,   w_t ~ N(0, Q)        (t = 2..T)
    y_t = C x_t + v_t,       v_t ~ N(0, R)        (t = 1..T)

Given y, the posterior over the trajectory x_{1:T} is a Gaussian Markov chain.
Written in *information form* its log-density is, up to the normaliser,

    sum_t [ h_t' x_t - 1/2 x_t' J_t x_t ] + sum_{t>=2} x_t' L_{t-1} x_{t-1}

with natural parameters

    h_t = C' R^-1 y_t                     (+ P0^-1 mu0 for t = 1)
    J_t = C' R^-1 C + Q^-1 [t >= 2] + A' Q^-1 A [t < T]   (+ P0^-1 for t = 1)
    L_{t-1} = Q^-1 A                      (coupling x_t' L x_{t-1})

:func:`log_Z` integrates the trajectory out one step at a time (a forward
information filter: condition on the local potential with a Cholesky
factorisation, then marginalise the previous state into the next one).
Because this is an exponential family with sufficient statistics
(x_t, x_t x_t', x_t x_{t-1}'), its gradient gives the smoothed moments:

    d log_Z / d h_t     = E[x_t]
    d log_Z / d J_t     = -1/2 E[x_t x_t']
    d log_Z / d L_{t-1} = E[x_t x_{t-1}']

so the Rauch-Tung-Striebel backward pass is obtained by reverse-mode
differentiation of the forward filter.  ``J_t`` enters only through its
symmetric part, so its gradient is symmetric whatever convention the
Cholesky adjoint uses.
"""
from collections import namedtuple

import numpy as np
from scipy.linalg import solve_triangular

from ._errors import VIValueError

__all__ = ["LGSSM", "log_Z", "natural_params", "log_likelihood", "e_step", "smooth",
           "sample"]

LGSSM = namedtuple("LGSSM", ["A", "Q", "C", "R", "mu0", "P0"])
LGSSM.__doc__ = """Parameters of a time-invariant linear-Gaussian state space model.

    A (n, n) dynamics, Q (n, n) process noise covariance, C (m, n) observation
    matrix, R (m, m) observation noise covariance, mu0 (n,) and P0 (n, n) the
    mean and covariance of the first state.
    """


def log_Z(h, J, L):
    """Log-normaliser of a Gaussian Markov chain in information form.

    h (T, n), J (T, n, n), L (T-1, n, n) with the density
    exp(sum_t h_t'x_t - 1/2 x_t'J_t x_t + sum_t x_t' L[t-1] x_{t-1}).

    Forward pass: ``chol, v`` hold the Cholesky factor of the filtered
    precision and chol^-1 times the filtered information vector of x_{t-1};
    marginalising x_{t-1} adds W'v to h_t and subtracts W'W from J_t, where
    W = chol^-1 L[t-1]'.  Each conditioning step contributes
    1/2 |v|^2 - log det chol + n/2 log(2 pi).
    """
    J_f = 0.5 * (J[0] + J[0].T)
    chol = np.linalg.cholesky(J_f)
    v = solve_triangular(chol, h[0], lower=True)
    total = 0.5 * np.dot(v, v) - np.sum(np.log(np.diag(chol)))
    for t in range(1, h.shape[0]):
        W = solve_triangular(chol, L[t - 1].T, lower=True)
        J_f = 0.5 * (J[t] + J[t].T) - np.dot(W.T, W)
        h_f = h[t] + np.dot(W.T, v)
        chol = np.linalg.cholesky(J_f)
        v = solve_triangular(chol, h_f, lower=True)
        total = total + 0.5 * np.dot(v, v) - np.sum(np.log(np.diag(chol)))
    return total + 0.5 * h.shape[0] * h.shape[1] * np.log(2.0 * np.pi)


def _as_params(params):
    p = LGSSM(*params)
    A = np.atleast_2d(np.asarray(p.A, dtype=np.float64))
    Q = np.atleast_2d(np.asarray(p.Q, dtype=np.float64))
    C = np.atleast_2d(np.asarray(p.C, dtype=np.float64))
    R = np.atleast_2d(np.asarray(p.R, dtype=np.float64))
    mu0 = np.atleast_1d(np.asarray(p.mu0, dtype=np.float64))
    P0 = np.atleast_2d(np.asarray(p.P0, dtype=np.float64))
    n, m = A.shape[0], C.shape[0]
    shapes = {"A": (n, n), "Q": (n, n), "C": (m, n), "R": (m, m), "mu0": (n,), "P0": (n, n)}
    for name, a in zip(LGSSM._fields, (A, Q, C, R, mu0, P0)):
        if a.shape != shapes[name]:
            raise VIValueError(f"LGSSM.{name} has shape {a.shape}; with A {A.shape} and C {C.shape} it must be "
                               f"{shapes[name]}")
        bad = np.argwhere(~np.isfinite(a))
        if bad.size:
            at = tuple(int(i) for i in bad[0])
            raise VIValueError(f"LGSSM.{name}{list(at)} is {float(a[at])!r}: the parameters must be finite")
    return LGSSM(A, Q, C, R, mu0, P0)


def _as_obs(y, m):
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1 and m == 1:      # (a flat y of T*m numbers for m > 1 is ambiguous: declined, not reshaped)
        y = y.reshape(-1, 1)
    if y.ndim != 2 or y.shape[1] != m or y.shape[0] == 0:
        raise ValueError(f"observations must have shape (T, {m}) (C has {m} rows), got {y.shape}"
                         + (f": reshape a flat array with y.reshape(-1, {m}) if it holds T rows of {m}"
                            if y.ndim == 1 and y.size % m == 0 else ""))
    bad = np.argwhere(~np.isfinite(y))
    if bad.size:
        t, j = (int(i) for i in bad[0])
        raise VIValueError(f"the observations hold {float(y[t, j])!r} at y[{t}, {j}]: they must be finite")
    return y


def _inv_spd(S, name="the matrix"):
    """Inverse of a symmetric positive definite covariance; VIValueError naming it otherwise."""
    if not np.allclose(S, S.T, rtol=1e-10, atol=0.0):
        raise VIValueError(f"{name} must be a symmetric covariance matrix, got {S.tolist()}")
    try:
        c = np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        raise VIValueError(f"{name} must be a positive definite covariance matrix; its eigenvalues are "
                           f"{np.linalg.eigvalsh(S).tolist()}") from None
    ci = solve_triangular(c, np.eye(S.shape[0]), lower=True)
    return ci.T @ ci


def _logdet_2pi(S):
    c = np.linalg.cholesky(2.0 * np.pi * S)
    return 2.0 * np.sum(np.log(np.diag(c)))


def natural_params(params, y, shift=None):
    """Information-form natural parameters (h, J, L) of p(x_{1:T} | y_{1:T}).

    Returns ``(h, J, L), const`` where ``const`` is the part of log p(x, y)
    that does not depend on x, so that ``log p(y) = log_Z(h, J, L) + const``.

    With ``shift`` (T, n), a trajectory s, they are the parameters of the posterior of x - s:
    ``h`` is the gradient of log p(x, y) at x = s and ``const`` is log p(s, y), both computed from
    the residuals at s (mu0 - s_1, s_t - A s_{t-1}, y_t - C s_t), so ``log p(y) = log_Z + const``
    still, and the moments log_Z's gradient gives are those of x - s. Near the posterior mean the
    terms stay of the size of the noise however far the states are from 0: unshifted, states around
    1e6 make ``const`` and ``log_Z`` numbers around 1e16 that cancel, and E[x x'] - E[x] E[x]'
    loses every digit of a small covariance.
    """
    A, Q, C, R, mu0, P0 = _as_params(params)
    n = A.shape[0]
    y = _as_obs(y, C.shape[0])
    T = y.shape[0]
    s = np.zeros((T, n)) if shift is None else np.asarray(shift, dtype=np.float64)
    Qi, Ri, P0i = _inv_spd(Q, "LGSSM.Q"), _inv_spd(R, "LGSSM.R"), _inv_spd(P0, "LGSSM.P0")
    e0, w, v = mu0 - s[0], s[1:] - s[:-1] @ A.T, y - s @ C.T      # the residuals at x = s
    h = v @ (C.T @ Ri).T
    h[0] += P0i @ e0
    h[1:] -= w @ Qi
    h[:-1] += w @ Qi @ A
    J = np.broadcast_to(C.T @ Ri @ C, (T, n, n)).copy()
    J[0] += P0i
    J[1:] += Qi
    J[:-1] += A.T @ Qi @ A
    L = np.broadcast_to(Qi @ A, (T - 1, n, n)).copy()
    const = (-0.5 * e0 @ P0i @ e0 - 0.5 * _logdet_2pi(P0)
             - 0.5 * (T - 1) * _logdet_2pi(Q) - 0.5 * T * _logdet_2pi(R)
             - 0.5 * np.einsum("ti,ij,tj->", w, Qi, w) - 0.5 * np.einsum("ti,ij,tj->", v, Ri, v))
    return (np.ascontiguousarray(h), np.ascontiguousarray(J), np.ascontiguousarray(L)), float(const)


_DERIVATIVES = {}


def _value_and_grad(jit=True):
    vg = _DERIVATIVES.get(bool(jit))
    if vg is None:
        import srcdiff  # lazily: srcdiff.vi is part of srcdiff
        vg = srcdiff.value_and_grad(log_Z, wrt=(0, 1, 2), jit=jit)
        _DERIVATIVES[bool(jit)] = vg
    return vg


def _far_from_zero(mean, cov, const) -> bool:
    """Whether moments and log-likelihood computed without a shift lost digits: the states' means are large
    next to their spread, or the log-likelihood is the difference of two numbers around 1e8 or more."""
    var = np.min(np.diagonal(cov, axis1=-2, axis2=-1))
    return not (np.max(mean * mean) <= 1e6 * var and abs(const) <= 1e8)


def _moments(params, y, jit):
    """(log p(y), E[x_t] (T, n), Cov(x_t) (T, n, n), Cov(x_t, x_{t-1}) (T-1, n, n)) from the gradient of
    log_Z; computed again around the means of the first pass when that one was far from zero (see
    natural_params), where the covariances come out of moments of the size of the spread."""
    vg = _value_and_grad(jit)
    shift = None
    while True:
        (h, J, L), const = natural_params(params, y, shift)
        value, (g_h, g_J, g_L) = vg(h, J, L)
        d, g_J = np.asarray(g_h), np.asarray(g_J)
        cov = -(g_J + np.swapaxes(g_J, -1, -2)) - d[:, :, None] * d[:, None, :]  # -2 sym(g_J) = E[x x']
        cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
        cross = np.asarray(g_L) - d[1:, :, None] * d[:-1, None, :]
        if shift is not None or not _far_from_zero(d, cov, const):
            mean = d if shift is None else shift + d
            return float(value) + const, mean, cov, cross
        shift = d


def log_likelihood(params, y):
    """log p(y_1..y_T) (forward information filter only; no gradient needed, unless the states are far
    from zero: then from the smoother's pass around the posterior means, see natural_params)."""
    (h, J, L), const = natural_params(params, y)
    if abs(const) > 1e8:
        return _moments(params, y, False)[0]
    return float(log_Z(h, J, L) + const)


def e_step(params, y, jit=True):
    """Smoothed sufficient statistics from the srcdiff gradient of :func:`log_Z`.

    Returns ``(log_likelihood, (E[x_t] (T, n), E[x_t x_t'] (T, n, n),
    E[x_t x_{t-1}'] (T-1, n, n)))``.
    """
    loglik, mean, cov, cross = _moments(params, y, jit)
    Exx = cov + mean[:, :, None] * mean[:, None, :]
    Exx_lag = cross + mean[1:, :, None] * mean[:-1, None, :]
    return loglik, (mean, Exx, Exx_lag)


def smooth(params, y, jit=True, return_cross=False):
    """Smoothed means (T, n) and covariances (T, n, n) of p(x_t | y_{1:T}).

    Obtained from the gradient of the information-form log-partition:
    mean = dlogZ/dh_t, cov = -2 dlogZ/dJ_t - mean mean' (around the means of a first pass
    when the states are far from zero).  With ``return_cross=True`` also returns
    Cov(x_t, x_{t-1} | y) as (T-1, n, n).
    """
    _, mean, cov, cross = _moments(params, y, jit)
    return (mean, cov, cross) if return_cross else (mean, cov)


def sample(params, T, seed=0):
    """Draw (x (T, n), y (T, m)) from the model."""
    A, Q, C, R, mu0, P0 = _as_params(params)
    rng = np.random.default_rng(seed)
    n, m = A.shape[0], C.shape[0]
    x = np.zeros((T, n))
    y = np.zeros((T, m))
    x[0] = rng.multivariate_normal(mu0, P0)
    for t in range(T):
        if t > 0:
            x[t] = A @ x[t - 1] + rng.multivariate_normal(np.zeros(n), Q)
        y[t] = C @ x[t] + rng.multivariate_normal(np.zeros(m), R)
    return x, y
