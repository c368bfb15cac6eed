"""Independent, hand-written reference inference routines used only by the tests.

Nothing here uses srcdiff.  The routines are deliberately written in a
different style from the library (probability space with per-step scaling,
explicit backward passes, covariance-form Kalman filtering, brute-force
enumeration) so that agreement between the two is meaningful.
"""
import itertools

import numpy as np


# ---------------------------------------------------------------------------
# Hidden Markov models
# ---------------------------------------------------------------------------

def forward_backward(pi, A, log_b):
    """Scaled forward-backward for an HMM with per-time emission log-likelihoods.

    Parameters
    ----------
    pi : (K,) initial state probabilities.
    A : (K, K) transition matrix, or (T-1, K, K) with ``A[t-1]`` used for the
        transition from time t-1 into time t (time-varying / input-driven).
    log_b : (T, K) log emission likelihoods, ``log_b[t, k] = log p(x_t | z_t = k)``.

    Returns
    -------
    loglik : float
    gamma : (T, K) posterior marginals p(z_t | x).
    xi : (T-1, K, K) pairwise posteriors p(z_{t-1}=i, z_t=j | x).
    """
    pi = np.asarray(pi, dtype=float)
    log_b = np.asarray(log_b, dtype=float)
    T, K = log_b.shape
    A = np.asarray(A, dtype=float)
    if A.ndim == 2:
        A = np.broadcast_to(A, (max(T - 1, 0), K, K))
    # rescale emissions per time step to avoid underflow
    shift = log_b.max(axis=1)
    b = np.exp(log_b - shift[:, None])

    alpha = np.zeros((T, K))
    c = np.zeros(T)
    a = pi * b[0]
    c[0] = a.sum()
    alpha[0] = a / c[0]
    for t in range(1, T):
        a = (alpha[t - 1] @ A[t - 1]) * b[t]
        c[t] = a.sum()
        alpha[t] = a / c[t]
    loglik = np.sum(np.log(c)) + np.sum(shift)

    beta = np.zeros((T, K))
    beta[T - 1] = 1.0
    for t in range(T - 2, -1, -1):
        beta[t] = (A[t] @ (b[t + 1] * beta[t + 1])) / c[t + 1]

    gamma = alpha * beta
    xi = np.zeros((max(T - 1, 0), K, K))
    for t in range(1, T):
        xi[t - 1] = (alpha[t - 1][:, None] * A[t - 1]
                     * (b[t] * beta[t])[None, :]) / c[t]
    return loglik, gamma, xi


def brute_force_hmm(pi, A, log_b):
    """Enumerate all K**T state paths (tiny problems only).

    Same conventions and return values as :func:`forward_backward`, plus the
    most probable path and its joint log-probability.
    """
    pi = np.asarray(pi, dtype=float)
    log_b = np.asarray(log_b, dtype=float)
    T, K = log_b.shape
    A = np.asarray(A, dtype=float)
    if A.ndim == 2:
        A = np.broadcast_to(A, (max(T - 1, 0), K, K))
    b = np.exp(log_b)
    paths = list(itertools.product(range(K), repeat=T))
    weights = np.zeros(len(paths))
    for n, z in enumerate(paths):
        p = pi[z[0]] * b[0, z[0]]
        for t in range(1, T):
            p *= A[t - 1][z[t - 1], z[t]] * b[t, z[t]]
        weights[n] = p
    total = weights.sum()
    gamma = np.zeros((T, K))
    xi = np.zeros((max(T - 1, 0), K, K))
    for n, z in enumerate(paths):
        w = weights[n] / total
        for t in range(T):
            gamma[t, z[t]] += w
        for t in range(1, T):
            xi[t - 1, z[t - 1], z[t]] += w
    best = int(np.argmax(weights))
    with np.errstate(divide="ignore"):
        best_logp = np.log(weights[best])
    return np.log(total), gamma, xi, np.array(paths[best]), best_logp


def categorical_log_b(B, data):
    """(T, K) log emission likelihoods of a symbol sequence under emission matrix B (K, V)."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(B, dtype=float)[:, np.asarray(data)].T)


def gaussian_log_b(means, variances, x):
    """(T, K) log densities of scalar observations x under N(means[k], variances[k])."""
    x = np.asarray(x, dtype=float)[:, None]
    m = np.asarray(means, dtype=float)[None, :]
    v = np.asarray(variances, dtype=float)[None, :]
    return -0.5 * np.log(2.0 * np.pi * v) - (x - m) ** 2 / (2.0 * v)


def categorical_expected_stats(pi, A, B, data):
    """E-step of a categorical HMM: loglik and (start counts, transition counts, emission counts)."""
    data = np.asarray(data)
    B = np.asarray(B, dtype=float)
    loglik, gamma, xi = forward_backward(pi, A, categorical_log_b(B, data))
    emit = np.zeros_like(B)
    for t, v in enumerate(data):
        emit[:, v] += gamma[t]
    return loglik, (gamma[0], xi.sum(axis=0), emit)


def em_categorical(sequences, pi, A, B, n_iter):
    """Plain Baum-Welch for reference: fixed number of iterations, returns params and trace."""
    pi, A, B = (np.array(p, dtype=float) for p in (pi, A, B))
    trace = []
    for _ in range(n_iter):
        s0, sA, sB = np.zeros_like(pi), np.zeros_like(A), np.zeros_like(B)
        ll = 0.0
        for seq in sequences:
            l, (a, b, c) = categorical_expected_stats(pi, A, B, seq)
            ll += l
            s0 += a
            sA += b
            sB += c
        trace.append(ll)
        pi = s0 / s0.sum()
        rows = sA.sum(axis=1, keepdims=True)
        A = np.where(rows > 0, sA / np.where(rows > 0, rows, 1.0), A)
        rows = sB.sum(axis=1, keepdims=True)
        B = np.where(rows > 0, sB / np.where(rows > 0, rows, 1.0), B)
    return pi, A, B, np.array(trace)


def viterbi_bruteforce(pi, A, log_b):
    """Most probable state path by enumeration (tiny problems only)."""
    *_, path, best_logp = brute_force_hmm(pi, A, log_b)
    return path, best_logp


# ---------------------------------------------------------------------------
# Linear-Gaussian state space models
# ---------------------------------------------------------------------------

def kalman_filter(A, Q, C, R, mu0, P0, y):
    """Covariance-form Kalman filter.

    Returns filtered means/covs, one-step predicted means/covs and the
    log-likelihood log p(y_1..y_T).
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    T = y.shape[0]
    n = A.shape[0]
    mf = np.zeros((T, n))
    Pf = np.zeros((T, n, n))
    mp = np.zeros((T, n))
    Pp = np.zeros((T, n, n))
    loglik = 0.0
    m, P = np.asarray(mu0, dtype=float), np.asarray(P0, dtype=float)
    for t in range(T):
        if t > 0:
            m = A @ m
            P = A @ P @ A.T + Q
        mp[t], Pp[t] = m, P
        S = C @ P @ C.T + R
        r = y[t] - C @ m
        K = np.linalg.solve(S, C @ P).T  # P C^T S^-1
        sign, logdet = np.linalg.slogdet(2.0 * np.pi * S)
        loglik += -0.5 * logdet - 0.5 * r @ np.linalg.solve(S, r)
        m = m + K @ r
        P = P - K @ S @ K.T
        P = 0.5 * (P + P.T)
        mf[t], Pf[t] = m, P
    return mf, Pf, mp, Pp, loglik


def rts_smoother(A, Q, C, R, mu0, P0, y):
    """Rauch-Tung-Striebel smoother.

    Returns smoothed means (T, n), covariances (T, n, n), lag-one
    cross-covariances ``cross[t-1] = Cov(x_t, x_{t-1} | y)`` (T-1, n, n) and
    the log-likelihood.
    """
    mf, Pf, mp, Pp, loglik = kalman_filter(A, Q, C, R, mu0, P0, y)
    T, n = mf.shape
    ms = mf.copy()
    Ps = Pf.copy()
    cross = np.zeros((max(T - 1, 0), n, n))
    for t in range(T - 2, -1, -1):
        G = np.linalg.solve(Pp[t + 1], A @ Pf[t]).T  # Pf A^T Pp^-1
        ms[t] = mf[t] + G @ (ms[t + 1] - mp[t + 1])
        Ps[t] = Pf[t] + G @ (Ps[t + 1] - Pp[t + 1]) @ G.T
        cross[t] = Ps[t + 1] @ G.T
    return ms, Ps, cross, loglik


def brute_force_lgssm(A, Q, C, R, mu0, P0, y):
    """Exact posterior of the whole state trajectory from one big joint Gaussian.

    Builds the joint mean and covariance of (x_1..x_T, y_1..y_T) directly from
    the generative model (x_t = A^{t-1} x_1 + sum of propagated noises) and
    conditions on y with dense linear algebra.  Tiny T only.

    Returns smoothed means (T, n), covariances (T, n, n), lag-one
    cross-covariances (T-1, n, n) and log p(y).
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    T, m = y.shape
    n = A.shape[0]
    # x = M @ [x_1, w_2, ..., w_T] ; the stacked driving variables are independent
    M = np.zeros((T * n, T * n))
    for t in range(T):
        for s in range(t + 1):
            M[t * n:(t + 1) * n, s * n:(s + 1) * n] = np.linalg.matrix_power(A, t - s)
    D = np.zeros((T * n, T * n))
    D[:n, :n] = P0
    for s in range(1, T):
        D[s * n:(s + 1) * n, s * n:(s + 1) * n] = Q
    mean_drive = np.zeros(T * n)
    mean_drive[:n] = mu0
    mx = M @ mean_drive
    Sxx = M @ D @ M.T
    Cb = np.kron(np.eye(T), C)
    Rb = np.kron(np.eye(T), R)
    my = Cb @ mx
    Syy = Cb @ Sxx @ Cb.T + Rb
    Sxy = Sxx @ Cb.T
    yv = y.reshape(-1)
    gain = np.linalg.solve(Syy, Sxy.T).T
    post_mean = mx + gain @ (yv - my)
    post_cov = Sxx - gain @ Sxy.T
    r = yv - my
    _, logdet = np.linalg.slogdet(2.0 * np.pi * Syy)
    loglik = -0.5 * logdet - 0.5 * r @ np.linalg.solve(Syy, r)
    means = post_mean.reshape(T, n)
    covs = np.array([post_cov[t * n:(t + 1) * n, t * n:(t + 1) * n] for t in range(T)])
    cross = np.array([post_cov[t * n:(t + 1) * n, (t - 1) * n:t * n] for t in range(1, T)])
    return means, covs, cross, loglik
