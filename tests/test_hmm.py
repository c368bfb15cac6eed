"""HMM inference as the gradient of the forward-recursion log-partition.

Checks srcdiff-derived E-steps against hmmlearn, an independent scaled
forward-backward (tests/reference_inference.py), brute-force enumeration and
central finite differences.
"""
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import reference_inference as ref  # noqa: E402

from srcdiff.vi import hmm  # noqa: E402

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def random_model(K, V, seed, zero_frac=0.0, zero_emissions=True):
    """Random (pi, A, B) probabilities; with zero_frac > 0 some transitions (and,
    if zero_emissions, some emissions) are forbidden (exact zeros), keeping the
    diagonal of A and one symbol per state allowed."""
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(K))
    A = rng.dirichlet(np.ones(K), size=K)
    B = rng.dirichlet(np.ones(V), size=K)
    if zero_frac > 0:
        mask = rng.random((K, K)) < zero_frac
        np.fill_diagonal(mask, False)  # self-loops keep rows and columns non-empty
        A[mask] = 0.0
        A /= A.sum(axis=1, keepdims=True)
        if zero_emissions:
            maskB = rng.random((K, V)) < zero_frac
            maskB[np.arange(K), rng.integers(0, V, K)] = False
            B[maskB] = 0.0
            B /= B.sum(axis=1, keepdims=True)
    return pi, A, B


def left_to_right_model(K, V, seed):
    """Left-to-right (Bakis) model: start in state 0, stay or move one step right."""
    rng = np.random.default_rng(seed)
    pi = np.zeros(K)
    pi[0] = 1.0
    A = np.zeros((K, K))
    for k in range(K - 1):
        stay = rng.uniform(0.3, 0.9)
        A[k, k], A[k, k + 1] = stay, 1.0 - stay
    A[K - 1, K - 1] = 1.0
    B = rng.dirichlet(np.ones(V), size=K)
    return pi, A, B


def sample(pi, A, B, T, seed):
    rng = np.random.default_rng(seed)
    K, V = B.shape
    z = np.zeros(T, dtype=np.int64)
    x = np.zeros(T, dtype=np.int64)
    z[0] = rng.choice(K, p=pi)
    for t in range(T):
        if t > 0:
            z[t] = rng.choice(K, p=A[z[t - 1]])
        x[t] = rng.choice(V, p=B[z[t]])
    return x


def logs(*arrays):
    with np.errstate(divide="ignore"):
        return tuple(np.log(np.asarray(a, dtype=float)) for a in arrays)


def hmmlearn_model(pi, A, B, **kw):
    K, V = B.shape
    m = hmmlearn_hmm.CategoricalHMM(n_components=K, n_features=V, init_params="",
                                    params="ste", **kw)
    m.startprob_ = pi.copy()
    m.transmat_ = A.copy()
    m.emissionprob_ = B.copy()
    return m


def hmmlearn_estep(model, x):
    """Expected statistics from hmmlearn's own E-step."""
    stats, logprob = model._do_estep(x[:, None], np.array([len(x)]))
    return logprob, stats["start"], stats["trans"], stats["obs"]


# ---------------------------------------------------------------------------
# The references themselves (no srcdiff involved)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_reference_matches_brute_force(seed):
    pi, A, B = random_model(3, 4, seed, zero_frac=0.3)
    x = sample(pi, A, B, 6, seed)
    lb = ref.categorical_log_b(B, x)
    l1, g1, xi1 = ref.forward_backward(pi, A, lb)
    l2, g2, xi2, _, _ = ref.brute_force_hmm(pi, A, lb)
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, atol=1e-12)
    np.testing.assert_allclose(xi1, xi2, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_reference_matches_hmmlearn(seed):
    pi, A, B = random_model(4, 5, seed, zero_frac=0.3)
    x = sample(pi, A, B, 40, seed)
    model = hmmlearn_model(pi, A, B)
    ll, (s0, sA, sB) = ref.categorical_expected_stats(pi, A, B, x)
    h_ll, h0, hA, hB = hmmlearn_estep(model, x)
    np.testing.assert_allclose(ll, model.score(x[:, None]), rtol=1e-10)
    np.testing.assert_allclose(ll, h_ll, rtol=1e-10)
    np.testing.assert_allclose(s0, h0, atol=1e-10)
    np.testing.assert_allclose(sA, hA, atol=1e-10)
    np.testing.assert_allclose(sB, hB, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_log_Z_forward_value(seed):
    """Plain NumPy call of the forward recursions (no differentiation)."""
    pi, A, B = random_model(4, 5, seed, zero_frac=0.3)
    x = sample(pi, A, B, 30, seed)
    log_pi, log_A, log_B = logs(pi, A, B)
    expected = hmmlearn_model(pi, A, B).score(x[:, None])
    np.testing.assert_allclose(hmm.log_Z(log_pi, log_A, log_B, x), expected, rtol=1e-10)
    lb = ref.categorical_log_b(B, x)
    np.testing.assert_allclose(hmm.log_Z_obs(log_pi, log_A, lb), expected, rtol=1e-10)
    # an IO-HMM with identical matrices for every input is the plain HMM
    inputs = np.random.default_rng(seed).integers(0, 2, x.shape[0])
    log_A2 = np.stack([log_A, log_A])
    np.testing.assert_allclose(hmm.log_Z_io(log_pi, log_A2, log_B, inputs, x), expected,
                               rtol=1e-10)


# ---------------------------------------------------------------------------
# E-step = gradient of log Z
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed,zero_frac", [(0, 0.0), (1, 0.0), (2, 0.4), (3, 0.4), (4, 0.6)])
def test_e_step_matches_hmmlearn(seed, zero_frac):
    pi, A, B = random_model(5, 6, seed, zero_frac=zero_frac)
    x = sample(pi, A, B, 80, seed)
    model = hmmlearn_model(pi, A, B)
    ll, (g0, gA, gB) = hmm.e_step(logs(pi, A, B), x)
    h_ll, h0, hA, hB = hmmlearn_estep(model, x)
    np.testing.assert_allclose(ll, model.score(x[:, None]), rtol=1e-10)
    np.testing.assert_allclose(ll, h_ll, rtol=1e-10)
    np.testing.assert_allclose(g0, h0, atol=1e-10)
    np.testing.assert_allclose(gA, hA, atol=1e-9)
    np.testing.assert_allclose(gB, hB, atol=1e-9)
    # exponential-family bookkeeping: counts add up to the number of events
    assert np.isclose(g0.sum(), 1.0)
    assert np.isclose(gA.sum(), len(x) - 1)
    assert np.isclose(gB.sum(), len(x))


@pytest.mark.parametrize("seed", range(3))
def test_posteriors_match_hmmlearn(seed):
    pi, A, B = random_model(4, 5, seed, zero_frac=0.3)
    x = sample(pi, A, B, 60, seed)
    model = hmmlearn_model(pi, A, B)
    gamma = hmm.posterior_marginals(logs(pi, A, B), x)
    _, h_post = model.score_samples(x[:, None])
    np.testing.assert_allclose(gamma, h_post, atol=1e-10)
    np.testing.assert_allclose(gamma, model.predict_proba(x[:, None]), atol=1e-10)
    # the gradient w.r.t. log_B is the posterior summed per emitted symbol
    _, (_, _, gB) = hmm.e_step(logs(pi, A, B), x)
    onehot = np.eye(B.shape[1])[x]
    np.testing.assert_allclose(gB, gamma.T @ onehot, atol=1e-10)


def _assert_exact_zeros_no_nan(stats, pi, A, B):
    g0, gA, gB = stats
    for g in stats:
        assert np.all(np.isfinite(g)), "expected statistics contain NaN/inf"
    assert np.all(g0[pi == 0] == 0.0)
    assert np.all(gA[A == 0] == 0.0), gA[A == 0]
    assert np.all(gB[B == 0] == 0.0)


@pytest.mark.parametrize("seed", range(4))
def test_forbidden_transitions_give_exact_zeros(seed):
    pi, A, B = random_model(6, 5, seed, zero_frac=0.5)
    assert (A == 0).any()
    x = sample(pi, A, B, 50, seed)
    ll, stats = hmm.e_step(logs(pi, A, B), x)
    assert np.isfinite(ll)
    _assert_exact_zeros_no_nan(stats, pi, A, B)
    _, h0, hA, hB = hmmlearn_estep(hmmlearn_model(pi, A, B), x)
    np.testing.assert_allclose(stats[1], hA, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_left_to_right_model(seed):
    """Structural zeros make whole columns of log_alpha[:, None] + log_A equal to -inf
    early in the sequence (states not yet reachable); gradients must still be exact zeros."""
    pi, A, B = left_to_right_model(4, 5, seed)
    x = sample(pi, A, B, 30, seed)
    ll, stats = hmm.e_step(logs(pi, A, B), x)
    _assert_exact_zeros_no_nan(stats, pi, A, B)
    l_ref, (r0, rA, rB) = ref.categorical_expected_stats(pi, A, B, x)
    np.testing.assert_allclose(ll, l_ref, rtol=1e-10)
    np.testing.assert_allclose(stats[0], r0, atol=1e-10)
    np.testing.assert_allclose(stats[1], rA, atol=1e-9)
    np.testing.assert_allclose(stats[2], rB, atol=1e-9)
    gamma = hmm.posterior_marginals(logs(pi, A, B), x)
    assert np.all(np.isfinite(gamma))
    np.testing.assert_allclose(gamma, ref.forward_backward(pi, A, ref.categorical_log_b(B, x))[1],
                               atol=1e-10)


def _central_differences(f, args, wrt, eps=1e-6):
    grads = []
    for i in wrt:
        a = args[i]
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [np.array(v, copy=True) if j == i else v for j, v in enumerate(args)]
            minus = [np.array(v, copy=True) if j == i else v for j, v in enumerate(args)]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (f(*plus) - f(*minus)) / (2 * eps)
        grads.append(g)
    return grads


def test_log_Z_gradient_finite_differences_python_backend():
    import srcdiff
    rng = np.random.default_rng(0)
    K, V, T = 3, 4, 7
    # unnormalised natural parameters: log Z is defined for any real eta
    args = (rng.normal(size=K), rng.normal(size=(K, K)), rng.normal(size=(K, V)),
            rng.integers(0, V, T).astype(np.int64))
    grad = srcdiff.grad(hmm.log_Z, wrt=(0, 1, 2), jit=False)
    g = grad(*args)
    fd = _central_differences(hmm.log_Z, args, (0, 1, 2))
    for a, b in zip(g, fd):
        np.testing.assert_allclose(a, b, atol=1e-7, rtol=1e-6)


def test_jit_and_python_backends_agree():
    pi, A, B = random_model(4, 5, 7, zero_frac=0.3)
    x = sample(pi, A, B, 40, 7)
    l1, s1 = hmm.e_step(logs(pi, A, B), x, jit=True)
    l2, s2 = hmm.e_step(logs(pi, A, B), x, jit=False)
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    for a, b in zip(s1, s2):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_length_one_sequence():
    pi, A, B = random_model(3, 4, 0)
    x = np.array([2], dtype=np.int64)
    ll, (g0, gA, gB) = hmm.e_step(logs(pi, A, B), x)
    post = pi * B[:, 2]
    np.testing.assert_allclose(ll, np.log(post.sum()), rtol=1e-12)
    np.testing.assert_allclose(g0, post / post.sum(), atol=1e-12)
    assert np.all(gA == 0)


def test_e_step_validates_inputs():
    """The jitted derivatives index without bounds checks, so bad inputs must be
    rejected before they reach compiled code."""
    pi, A, B = random_model(3, 4, 0)
    params = logs(pi, A, B)
    with pytest.raises(TypeError):
        hmm.e_step(params, np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        hmm.e_step(params, np.array([0, 4]))
    with pytest.raises(ValueError):
        hmm.e_step(params, np.array([-1, 0]))
    with pytest.raises(ValueError):
        hmm.e_step(params, np.array([], dtype=np.int64))
    with pytest.raises(ValueError):
        hmm.e_step((params[0][:2], params[1], params[2]), np.array([0, 1]))
    with pytest.raises(ValueError):
        hmm.e_step_io((params[0], np.stack([params[1]] * 2), params[2]),
                      np.array([0, 2]), np.array([0, 1]))
    with pytest.raises(ValueError):
        hmm.fit_em([np.array([0, 1, 5])], 3, 4, n_iter=1)


# ---------------------------------------------------------------------------
# EM
# ---------------------------------------------------------------------------

def _sequences(pi, A, B, lengths, seed):
    return [sample(pi, A, B, T, seed + i) for i, T in enumerate(lengths)]


def test_fit_em_matches_hmmlearn():
    true = random_model(3, 4, 11)
    seqs = _sequences(*true, lengths=[30, 55, 12, 80, 41], seed=100)
    # forbidden transitions in the initial model (emissions stay positive so that
    # every training sequence has non-zero probability)
    init = random_model(3, 4, 12, zero_frac=0.3, zero_emissions=False)
    n_iter = 8
    res = hmm.fit_em(seqs, 3, 4, n_iter=n_iter, tol=-np.inf, init=logs(*init))
    model = hmmlearn_model(*init, n_iter=n_iter, tol=-np.inf)
    X = np.concatenate(seqs)[:, None]
    model.fit(X, lengths=[len(s) for s in seqs])
    np.testing.assert_allclose(np.exp(res.log_pi), model.startprob_, atol=1e-8)
    np.testing.assert_allclose(np.exp(res.log_A), model.transmat_, atol=1e-8)
    np.testing.assert_allclose(np.exp(res.log_B), model.emissionprob_, atol=1e-8)
    assert len(res.loglik_trace) == n_iter
    np.testing.assert_allclose(res.loglik_trace[-1], model.monitor_.history[-1], rtol=1e-10)
    # and against a plain reference Baum-Welch, iteration by iteration
    _, _, _, trace = ref.em_categorical(seqs, *init, n_iter=n_iter)
    np.testing.assert_allclose(res.loglik_trace, trace, rtol=1e-10)


def test_fit_em_monotone_and_keeps_zeros():
    true = random_model(4, 6, 21)
    seqs = _sequences(*true, lengths=[40, 17, 90, 63, 5, 1], seed=200)
    init = random_model(4, 6, 22, zero_frac=0.4, zero_emissions=False)
    res = hmm.fit_em(seqs, 4, 6, n_iter=40, tol=-np.inf, init=logs(*init))
    trace = res.loglik_trace
    assert np.all(np.isfinite(trace))
    assert np.all(np.diff(trace) >= -1e-8 * np.abs(trace[1:])), np.diff(trace)
    A = np.exp(res.log_A)
    assert np.all(A[init[1] == 0] == 0.0)
    for p in res.natural_params:
        assert not np.any(np.isnan(p))
    np.testing.assert_allclose(A.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(res.log_B).sum(axis=1), 1.0)


def test_fit_em_random_init_and_convergence():
    true = random_model(2, 3, 5)
    seqs = _sequences(*true, lengths=[100, 120, 80], seed=300)
    res = hmm.fit_em(seqs, 2, 3, n_iter=500, tol=1e-6, seed=1)
    assert res.converged
    assert res.n_iter == len(res.loglik_trace) < 500
    assert np.all(np.diff(res.loglik_trace) >= -1e-8)


# ---------------------------------------------------------------------------
# Input-output HMM
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_io_hmm_against_reference(seed):
    rng = np.random.default_rng(seed)
    K, V, U, T = 4, 5, 3, 60
    pi = rng.dirichlet(np.ones(K))
    A = rng.dirichlet(np.ones(K), size=(U, K))
    A[0, 0, 1] = A[1, 2, 0] = 0.0  # forbidden under some inputs
    A /= A.sum(axis=-1, keepdims=True)
    B = rng.dirichlet(np.ones(V), size=K)
    inputs = rng.integers(0, U, T)
    x = rng.integers(0, V, T)
    ll, (g0, gA, gB) = hmm.e_step_io(logs(pi, A, B), inputs, x)
    l_ref, gamma, xi = ref.forward_backward(pi, A[inputs[1:]], ref.categorical_log_b(B, x))
    np.testing.assert_allclose(ll, l_ref, rtol=1e-10)
    np.testing.assert_allclose(g0, gamma[0], atol=1e-10)
    expected_A = np.zeros_like(A)
    for t in range(1, T):
        expected_A[inputs[t]] += xi[t - 1]
    np.testing.assert_allclose(gA, expected_A, atol=1e-9)
    np.testing.assert_allclose(gB, gamma.T @ np.eye(V)[x], atol=1e-9)
    assert gA[0, 0, 1] == 0.0 and gA[1, 2, 0] == 0.0


# ---------------------------------------------------------------------------
# Gaussian emissions
# ---------------------------------------------------------------------------

def _gaussian_problem(seed, T=70, K=3):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(K))
    A = rng.dirichlet(np.ones(K), size=K)
    A[0, 2] = 0.0
    A /= A.sum(axis=1, keepdims=True)
    means = np.array([-2.0, 0.5, 3.0])[:K]
    variances = rng.uniform(0.3, 1.5, K)
    x = rng.normal(size=T) * 1.5
    return pi, A, means, variances, x


@pytest.mark.parametrize("seed", range(3))
def test_gaussian_e_step_against_reference(seed):
    pi, A, means, variances, x = _gaussian_problem(seed)
    log_pi, log_A = logs(pi, A)
    ll, (g0, gA, gamma) = hmm.e_step_gaussian(log_pi, log_A, means, variances, x)
    l_ref, gamma_ref, xi = ref.forward_backward(pi, A, ref.gaussian_log_b(means, variances, x))
    np.testing.assert_allclose(ll, l_ref, rtol=1e-10)
    np.testing.assert_allclose(gamma, gamma_ref, atol=1e-10)
    np.testing.assert_allclose(g0, gamma_ref[0], atol=1e-10)
    np.testing.assert_allclose(gA, xi.sum(axis=0), atol=1e-9)
    assert gA[0, 2] == 0.0
    np.testing.assert_allclose(hmm.log_Z_gaussian(log_pi, log_A, means, np.log(variances), x),
                               l_ref, rtol=1e-10)


def test_log_Z_gaussian_gradient():
    """Gradients w.r.t. the Gaussian parameters (Python backend) vs closed form and
    finite differences."""
    import srcdiff
    pi, A, means, variances, x = _gaussian_problem(0, T=12)
    log_pi, log_A = logs(pi, A)
    log_vars = np.log(variances)
    vg = srcdiff.value_and_grad(hmm.log_Z_gaussian, wrt=(2, 3), jit=False)
    value, (g_mu, g_lv) = vg(log_pi, log_A, means, log_vars, x)
    _, gamma, _ = ref.forward_backward(pi, A, ref.gaussian_log_b(means, variances, x))
    r = x[:, None] - means[None, :]
    np.testing.assert_allclose(g_mu, (gamma * r).sum(axis=0) / variances, atol=1e-9)
    np.testing.assert_allclose(g_lv, 0.5 * (gamma * (r ** 2 / variances - 1.0)).sum(axis=0),
                               atol=1e-9)
    # finite differences through the plain NumPy function (log_A has -inf entries)
    args = (log_pi, log_A, means, log_vars, x)
    fd = _central_differences(hmm.log_Z_gaussian, args, (2, 3))
    np.testing.assert_allclose(g_mu, fd[0], atol=1e-6)
    np.testing.assert_allclose(g_lv, fd[1], atol=1e-6)


def _reference_gaussian_em(seqs, log_pi, log_A, means, variances, n_iter, min_variance):
    pi, A = np.exp(log_pi), np.exp(log_A)
    trace = []
    for _ in range(n_iter):
        c0 = np.zeros_like(pi)
        cA = np.zeros_like(A)
        w = np.zeros_like(means)
        wx = np.zeros_like(means)
        wxx = np.zeros_like(means)
        total = 0.0
        for x in seqs:
            ll, gamma, xi = ref.forward_backward(pi, A, ref.gaussian_log_b(means, variances, x))
            total += ll
            c0 += gamma[0]
            cA += xi.sum(axis=0)
            w += gamma.sum(axis=0)
            wx += gamma.T @ x
            wxx += gamma.T @ x ** 2
        trace.append(total)
        pi = c0 / c0.sum()
        A = cA / cA.sum(axis=1, keepdims=True)
        means = wx / w
        variances = np.maximum(wxx / w - means ** 2, min_variance)
    return pi, A, means, variances, np.array(trace)


def test_fit_em_gaussian():
    rng = np.random.default_rng(3)
    true_means = np.array([-4.0, 0.0, 5.0])
    A = np.array([[0.9, 0.1, 0.0], [0.05, 0.9, 0.05], [0.1, 0.0, 0.9]])
    seqs = []
    for T in (150, 90, 200):
        z = np.zeros(T, dtype=int)
        for t in range(1, T):
            z[t] = rng.choice(3, p=A[z[t - 1]])
        seqs.append(true_means[z] + 0.7 * rng.normal(size=T))
    res = hmm.fit_em_gaussian(seqs, 3, n_iter=60, tol=-np.inf, seed=0)
    assert np.all(np.diff(res.loglik_trace) >= -1e-8 * np.abs(res.loglik_trace[1:]))
    np.testing.assert_allclose(np.sort(res.means), true_means, atol=0.3)
    np.testing.assert_allclose(res.variances, 0.49, rtol=0.35)
    # same iterations as a reference EM driven by the scaled forward-backward
    init = (np.full(3, -np.log(3)), np.log(np.full((3, 3), 1 / 3)), np.array([-1.0, 0.5, 2.0]),
            np.ones(3) * 4.0)
    res = hmm.fit_em_gaussian(seqs, 3, n_iter=10, tol=-np.inf, init=init)
    pi_r, A_r, m_r, v_r, trace_r = _reference_gaussian_em(seqs, *init, n_iter=10,
                                                          min_variance=1e-6)
    np.testing.assert_allclose(res.loglik_trace, trace_r, rtol=1e-10)
    np.testing.assert_allclose(res.means, m_r, rtol=1e-8)
    np.testing.assert_allclose(res.variances, v_r, rtol=1e-8)
    np.testing.assert_allclose(np.exp(res.log_A), A_r, atol=1e-10)


def test_fit_em_gaussian_data_far_from_zero():
    """EM on x + 1e8 is EM on x with the means moved by 1e8: the variances once came from E[x^2] - E[x]^2,
    which cancels every digit there (variances 2 and 10 where the spread is 0.2, log-likelihood -659 for
    -152). Checked against the reference EM on the data as given (no offset)."""
    rng = np.random.default_rng(0)
    z = np.repeat([0, 1, 0, 1], 50)
    x = np.where(z == 0, -2.0, 2.0) + 0.5 * rng.normal(size=z.size)
    init = (np.log([0.5, 0.5]), np.log([[0.9, 0.1], [0.1, 0.9]]), np.array([-1.0, 1.0]), np.ones(2))
    _, _, m_r, v_r, trace_r = _reference_gaussian_em([x], *init, n_iter=8, min_variance=1e-6)
    for offset in (1e8, -3e9):
        shifted_init = init[:2] + (init[2] + offset, init[3])
        res = hmm.fit_em_gaussian([x + offset], 2, n_iter=8, tol=-np.inf, init=shifted_init, jit=False)
        np.testing.assert_allclose(res.means - offset, m_r, atol=1e-5)
        np.testing.assert_allclose(res.variances, v_r, rtol=1e-5)
        np.testing.assert_allclose(res.loglik_trace, trace_r, rtol=1e-7)


# ---------------------------------------------------------------------------
# Viterbi
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_plain_viterbi_matches_brute_force(seed):
    pi, A, B = random_model(3, 4, seed, zero_frac=0.3)
    x = sample(pi, A, B, 7, seed)
    path, score = hmm.viterbi(*logs(pi, A, B), x)
    ref_path, ref_score = ref.viterbi_bruteforce(pi, A, ref.categorical_log_b(B, x))
    np.testing.assert_array_equal(path, ref_path)
    np.testing.assert_allclose(score, ref_score, rtol=1e-12)


@pytest.mark.parametrize("seed,zero_frac", [(0, 0.0), (1, 0.0), (2, 0.4), (3, 0.5)])
def test_viterbi_from_gradient(seed, zero_frac):
    pi, A, B = random_model(5, 6, seed, zero_frac=zero_frac)
    x = sample(pi, A, B, 120, seed)
    params = logs(pi, A, B)
    path, score = hmm.viterbi(*params, x)
    path_g, score_g = hmm.viterbi_decode(params, x)
    np.testing.assert_allclose(score_g, score, rtol=1e-12)
    assert np.isclose(score, hmmlearn_model(pi, A, B).decode(x[:, None])[0], rtol=1e-12)
    # the decoded path is optimal; it is *the* plain-Viterbi path unless there are ties
    np.testing.assert_allclose(path_log_prob(params, path_g, x), score, rtol=1e-10)
    if not has_ties(params, x):
        np.testing.assert_array_equal(path_g, path)
    # gradient of the categorical best-path score = counts along the best path
    value, (c0, cA, cB) = hmm.viterbi_counts(params, x)
    np.testing.assert_allclose(value, score, rtol=1e-12)
    e0 = np.zeros(5)
    e0[path[0]] = 1
    eA = np.zeros((5, 5))
    np.add.at(eA, (path[:-1], path[1:]), 1)
    eB = np.zeros((5, 6))
    np.add.at(eB, (path, x), 1)
    np.testing.assert_array_equal(c0, e0)
    np.testing.assert_array_equal(cA, eA)
    np.testing.assert_array_equal(cB, eB)


def path_log_prob(params, path, x):
    log_pi, log_A, log_B = params
    return (log_pi[path[0]] + log_A[path[:-1], path[1:]].sum() + log_B[path, x].sum())


def has_ties(params, x):
    """Whether the srcdiff gradient of the best-path score is split over several paths."""
    log_b = params[2][:, x].T.copy()
    _, g = hmm._value_and_grad(hmm.viterbi_score_obs, (2,))(params[0], params[1], log_b)
    g = g[0] if isinstance(g, (tuple, list)) else g
    return not hmm._is_path_indicator(np.asarray(g))


def test_viterbi_gradient_is_path_indicator():
    """With generic real-valued per-time scores the best path is unique and the
    gradient of the max-product score is exactly its one-hot indicator."""
    rng = np.random.default_rng(0)
    K, T = 4, 60
    log_pi = rng.normal(size=K)
    log_A = rng.normal(size=(K, K))
    log_A[0, 1] = -np.inf
    log_b = rng.normal(size=(T, K))
    value, g = hmm._value_and_grad(hmm.viterbi_score_obs, (2,))(log_pi, log_A, log_b)
    g = g[0] if isinstance(g, (tuple, list)) else g
    # plain Viterbi on the same scores through a one-symbol-per-time emission table
    path, score = hmm.viterbi(log_pi, log_A, log_b.T, np.arange(T))
    np.testing.assert_allclose(value, score, rtol=1e-12)
    np.testing.assert_array_equal(g, np.eye(K)[path])


def test_viterbi_far_from_zero_and_on_impossible_sequences():
    """viterbi_decode / viterbi_counts shift the log-parameters as e_step does: at +1e13 the max-product
    recursion once summed numbers around 4e14 and lost the differences between paths (28 of 40 decodes
    wrong). A sequence of probability 0 raises as in e_step; it once returned a path of zeros, or counts of
    no path, with score -inf."""
    rng = np.random.default_rng(5)
    for seed in range(6):
        P = hmm.random_hmm(3, 4, seed=seed)
        x = rng.integers(0, 4, size=40)
        far = tuple(p + 1e13 for p in P)
        Z = tuple(p - 1e13 for p in far)          # the parameters far holds, exactly (Sterbenz)
        ref_path, ref_score = hmm.viterbi(*Z, x)
        path, score = hmm.viterbi_decode(far, x, jit=False)

        def path_score(p):
            return Z[0][p[0]] + sum(Z[1][p[t - 1], p[t]] for t in range(1, len(p))) + Z[2][p, x].sum()
        assert path_score(path) == pytest.approx(ref_score, abs=1e-9), (seed, path, ref_path)
        assert score - 2 * len(x) * 1e13 == pytest.approx(ref_score, abs=0.5)   # 2T parameters on a path
        value, (c0, cA, cB) = hmm.viterbi_counts(far, x, jit=False)
        assert cA.sum() == len(x) - 1 and cB.sum() == len(x) and c0.sum() == 1
    with np.errstate(divide="ignore"):
        log_pi, eye = np.log([0.5, 0.5]), np.log(np.eye(2))
        for f in (hmm.viterbi_decode, hmm.viterbi_counts):
            with pytest.raises(hmm.VIValueError, match="impossible .* at t=1"):
                f((log_pi, eye, eye), np.array([0, 1, 0]), jit=False)


def test_viterbi_left_to_right():
    pi, A, B = left_to_right_model(4, 5, 1)
    x = sample(pi, A, B, 25, 1)
    params = logs(pi, A, B)
    path, score = hmm.viterbi(*params, x)
    path_g, score_g = hmm.viterbi_decode(params, x)
    np.testing.assert_allclose(path_log_prob(params, path_g, x), score, rtol=1e-10)
    assert np.all(np.diff(path_g) >= 0)
    np.testing.assert_allclose(score_g, score, rtol=1e-12)


# ---------------------------------------------------------------------------
# Issue 19.13: impossible data and bad parameters are errors; any shift of the
# log-parameters gives a posterior that sums to 1
# ---------------------------------------------------------------------------

# two states, two symbols: state 0 emits only 0, state 1 only 1; 0 -> 1 allowed, 1 -> 0 forbidden
ONE_WAY = logs([1.0, 0.0], [[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize("jit", [False, True])
def test_e_step_on_impossible_sequences_raises(jit):
    """Once: -inf and all-zero counts, no error."""
    P = logs(*random_model(3, 4, 0))
    with pytest.raises(ValueError, match=r"log_pi is -inf in every state"):
        hmm.e_step((np.full(3, -np.inf), P[1], P[2]), np.array([0, 1]), jit=jit)
    B = P[2].copy()
    B[:, 3] = -np.inf
    with pytest.raises(ValueError, match=r"impossible \(probability 0\) at t=2: symbol 3 has probability 0 in every "
                                         r"state \(log_B\[:, 3\] is -inf\)"):
        hmm.e_step((P[0], P[1], B), np.array([0, 1, 3, 2]), jit=jit)
    with pytest.raises(ValueError, match=r"impossible \(probability 0\) at t=2: no state reachable from those "
                                         r"possible at t=1"):
        hmm.e_step(ONE_WAY, np.array([0, 1, 0, 1]), jit=jit)
    ll, (g0, gA, gB) = hmm.e_step(ONE_WAY, np.array([0, 0, 1, 1]), jit=jit)   # a possible one is fine
    np.testing.assert_allclose(ll, 2 * np.log(0.5))     # one path: 0 -> 0 -> 1 -> 1
    np.testing.assert_allclose(gA, [[1.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"impossible \(probability 0\) at t=2"):
        hmm.e_step_io((ONE_WAY[0], np.stack([ONE_WAY[1], ONE_WAY[1]]), ONE_WAY[2]), np.array([0, 1, 0, 1]),
                      np.array([0, 1, 0, 1]), jit=jit)
    with pytest.raises(ValueError, match=r"impossible \(probability 0\) at t=1: the observation there has "
                                         r"probability 0 in every state"):
        hmm.e_step_obs(P[0], P[1], np.array([[0.0, -1.0, -2.0], [-np.inf, -np.inf, -np.inf]]), jit=jit)


@pytest.mark.parametrize("jit", [False, True])
def test_e_step_rejects_nan_and_inf_parameters(jit):
    """Once: NaN everywhere in the result."""
    P = logs(*random_model(3, 4, 0))
    x = np.array([0, 1, 2])
    for k, name in enumerate(("log_pi", "log_A", "log_B")):
        for bad in (np.nan, np.inf):
            p = [a.copy() for a in P]
            p[k].flat[1] = bad
            at = "[1]" if k == 0 else "[0, 1]"
            with pytest.raises(ValueError, match=re.escape(f"{name}{at} is {bad!r}")):
                hmm.e_step(tuple(p), x, jit=jit)
    with pytest.raises(ValueError, match=re.escape("log_b[1, 2] is nan")):
        hmm.e_step_obs(P[0], P[1], np.array([[0.0, -1.0, -2.0], [0.0, -1.0, np.nan]]), jit=jit)
    with pytest.raises(ValueError, match=r"the sequence holds nan at t=1"):
        hmm.e_step_gaussian(P[0], P[1], np.zeros(3), np.ones(3), np.array([0.0, np.nan]), jit=jit)
    with pytest.raises(ValueError, match=r"variances must be finite and > 0"):
        hmm.e_step_gaussian(P[0], P[1], np.zeros(3), np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0]), jit=jit)
    with pytest.raises(ValueError, match=re.escape("log_A[1, 0, 1] is nan")):
        hmm.e_step_io((P[0], np.stack([P[1], np.where(np.eye(3) == 0, np.nan, P[1])]), P[2]), x, x % 2, jit=jit)


@pytest.mark.parametrize("jit", [False, True])
def test_e_step_is_invariant_to_shifting_the_log_parameters(jit):
    """Once: log-parameters shifted by 1e20 gave a posterior summing to 86. Shifting each by its maximum
    first leaves the posterior unchanged (exactly, in exact arithmetic) and gives the shift back in the
    log-likelihood."""
    P = logs(*random_model(3, 4, 7, zero_frac=0.3))
    x = sample(*(np.exp(p) for p in P), 30, 1)
    ll, stats = hmm.e_step(P, x, jit=jit)
    ll3, stats3 = hmm.e_step(tuple(p + 1e3 for p in P), x, jit=jit)
    np.testing.assert_allclose(ll3 - 1e3 * (1 + 29 + 30), ll, rtol=1e-9)
    for a, b in zip(stats3, stats):
        np.testing.assert_allclose(a, b, atol=1e-10)
    ll20, (g0, gA, gB) = hmm.e_step(tuple(p + 1e20 for p in P), x, jit=jit)
    np.testing.assert_allclose([g0.sum(), gA.sum(), gB.sum()], [1.0, 29.0, 30.0], rtol=1e-12)
    assert ll20 == pytest.approx(60e20, rel=1e-12)
    gamma = hmm.posterior_marginals(tuple(p + 1e20 for p in P), x, jit=jit)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)


def test_fit_em_reports_what_went_wrong():
    """Once: 'log-likelihood is -inf' whatever it was (NaN included), with no sequence named."""
    P = logs(*random_model(3, 4, 0))
    seqs = [np.array([0, 1, 2]), np.array([1, 1])]
    with pytest.raises(ValueError) as info:
        hmm.fit_em(seqs, 3, 4, n_iter=2, init=(P[0], P[1], np.where(P[2] < -1.0, np.nan, P[2])))
    assert "is nan" in str(info.value) and "log-likelihood is -inf" not in str(info.value)
    B = P[2].copy()
    B[:, 3] = -np.inf
    with pytest.raises(ValueError, match=r"sequence 2 is impossible \(probability 0\) at t=1: symbol 3"):
        hmm.fit_em(seqs + [np.array([2, 3])], 3, 4, n_iter=2, init=(P[0], P[1], B))
    with pytest.raises(ValueError, match=r"sequence 1 holds nan at t=2"):
        hmm.fit_em_gaussian([np.zeros(5), np.array([0.0, 1.0, np.nan])], 2, n_iter=2)
    with pytest.raises(ValueError, match=r"variances must be finite and > 0"):
        hmm.fit_em_gaussian([np.zeros(5)], 2, n_iter=2, init=(np.log([0.5, 0.5]), np.log(np.full((2, 2), 0.5)),
                                                               np.zeros(2), np.array([1.0, -1.0])))


def test_emission_zeros_carried_states_exact():
    """Symbols some states cannot emit (log_B = -inf there): the jitted carry step's scaled state is 0 in
    those states at those times and reads their exact log value (-inf), stored only there; the E-step must
    match the Python backend and the reference, with exact zeros where a count is impossible."""
    rng = np.random.default_rng(5)
    K, V, T = 5, 6, 400
    pi, A = rng.dirichlet(np.ones(K)), rng.dirichlet(np.ones(K), size=K)
    B = rng.dirichlet(np.ones(V), size=K)
    B[rng.random((K, V)) < 0.3] = 0.0
    B[0] = rng.dirichlet(np.ones(V))                 # every symbol possible in state 0
    B /= B.sum(axis=1, keepdims=True)
    x = rng.integers(0, V, T).astype(np.int64)
    with np.errstate(divide="ignore"):
        ll, stats = hmm.e_step(logs(pi, A, B), x)
        ll_py, stats_py = hmm.e_step(logs(pi, A, B), x, jit=False)
    assert np.all(stats[2][B == 0.0] == 0.0)
    np.testing.assert_allclose(ll, ll_py, rtol=1e-12)
    for s, s_py in zip(stats, stats_py):
        np.testing.assert_allclose(s, s_py, atol=1e-10)
    l_ref, (r0, rA, rB) = ref.categorical_expected_stats(pi, A, B, x)
    np.testing.assert_allclose(ll, l_ref, rtol=1e-10)
    np.testing.assert_allclose(stats[2], rB, atol=1e-8)
