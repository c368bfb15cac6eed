"""Tests for srcdiff.vi.families."""
import os
import sys

import numpy as np
import pytest
from scipy import stats

from srcdiff.vi import optim
from srcdiff.vi.families import FullRankNormal, MeanFieldNormal

sys.path.insert(0, os.path.dirname(__file__))
from test_vi_distributions import vocabulary_violations  # noqa: E402


@pytest.mark.parametrize("fn", [
    MeanFieldNormal.reparam, MeanFieldNormal.log_q, MeanFieldNormal.entropy_fn,
    FullRankNormal.reparam, FullRankNormal.log_q, FullRankNormal.entropy_fn, FullRankNormal.chol_fn,
], ids=lambda f: f.__qualname__)
def test_static_functions_use_supported_vocabulary(fn):
    assert vocabulary_violations(fn) == []


def test_vocabulary_checker_catches_violations():
    assert "np.zeros" in vocabulary_violations(FullRankNormal.chol)


# --------------------------------------------------------------------------
# MeanFieldNormal
# --------------------------------------------------------------------------
def test_meanfield_layout_and_init():
    q = MeanFieldNormal(3)
    assert q.num_params == 6
    lam = q.init_params()
    assert lam.shape == (6,) and lam.dtype == np.float64
    np.testing.assert_array_equal(lam, [0, 0, 0, -1, -1, -1])
    lam_r = q.init_params(np.random.default_rng(0))
    assert np.all(np.abs(lam_r[:3]) < 0.1) and np.all(lam_r[:3] != 0)
    np.testing.assert_array_equal(MeanFieldNormal(2, init_log_sigma=0.0).init_params(), [0, 0, 0, 0])
    lam = np.array([1.0, 2.0, 3.0, 0.1, 0.2, 0.3])
    mu, ls = q.unpack(lam)
    np.testing.assert_array_equal(mu, [1, 2, 3])
    np.testing.assert_array_equal(ls, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(q.pack(mu, ls), lam)
    np.testing.assert_array_equal(q.mean(lam), mu)
    np.testing.assert_allclose(q.cov(lam), np.diag(np.exp(2 * ls)))
    with pytest.raises(ValueError):
        q.unpack(np.zeros(5))


def test_meanfield_functions():
    rng = np.random.default_rng(1)
    d = 4
    q = MeanFieldNormal(d)
    lam = rng.normal(size=2 * d)
    mu, sig = lam[:d], np.exp(lam[d:])
    eps = q.sample_eps(rng, 7)
    assert eps.shape == (7, d)
    z = q.reparam(lam, eps)
    np.testing.assert_allclose(z, mu + sig * eps)
    np.testing.assert_allclose(q.reparam(lam, eps[0]), z[0])
    ref = stats.multivariate_normal.logpdf(z, mu, np.diag(sig**2))
    np.testing.assert_allclose(q.log_q(lam, z), ref, rtol=1e-10)
    assert np.ndim(q.log_q(lam, z[0])) == 0
    np.testing.assert_allclose(q.log_q(lam, z[0]), ref[0], rtol=1e-10)
    ent = stats.multivariate_normal(mu, np.diag(sig**2)).entropy()
    np.testing.assert_allclose(q.entropy_fn(lam), ent, rtol=1e-12)
    np.testing.assert_allclose(q.entropy(lam), ent, rtol=1e-12)
    np.testing.assert_allclose(q.log_density(lam, z), ref, rtol=1e-10)


def test_meanfield_sample_moments():
    q = MeanFieldNormal(2)
    lam = q.pack([1.0, -2.0], np.log([0.5, 2.0]))
    z = q.sample(lam, np.random.default_rng(2), 50_000)
    np.testing.assert_allclose(z.mean(0), [1, -2], atol=0.05)
    np.testing.assert_allclose(z.std(0), [0.5, 2.0], rtol=0.03)


# --------------------------------------------------------------------------
# FullRankNormal
# --------------------------------------------------------------------------
def test_fullrank_layout():
    q = FullRankNormal(3)
    assert q.num_params == 3 + 6
    # mu = (1, 2, 3); C = [[e^a, 0, 0], [b, e^c, 0], [d, e, e^f]] row-major with log diagonal
    lam = np.array([1, 2, 3, 0.1, 0.4, 0.2, 0.5, 0.6, -0.3])
    C = q.chol(lam)
    np.testing.assert_allclose(C, [[np.exp(0.1), 0, 0],
                                   [0.4, np.exp(0.2), 0],
                                   [0.5, 0.6, np.exp(-0.3)]])
    np.testing.assert_allclose(q.chol_fn(lam, 3), C)
    mu, C2 = q.unpack(lam)
    np.testing.assert_array_equal(mu, [1, 2, 3])
    np.testing.assert_array_equal(C2, C)
    np.testing.assert_allclose(q.pack(mu, C), lam)
    np.testing.assert_allclose(q.cov(lam), C @ C.T)
    np.testing.assert_array_equal(q.diag_mask, [1, 0, 1, 0, 0, 1])
    lam0 = q.init_params()
    np.testing.assert_array_equal(lam0, [0, 0, 0, -1, 0, -1, 0, 0, -1])
    np.testing.assert_allclose(q.cov(lam0), np.exp(-2) * np.eye(3))
    with pytest.raises(ValueError):
        q.pack(mu, -np.eye(3))


@pytest.mark.parametrize("d", [1, 2, 5])
def test_fullrank_functions(d):
    rng = np.random.default_rng(10 + d)
    q = FullRankNormal(d)
    lam = 0.5 * rng.normal(size=q.num_params)
    mu, C = q.unpack(lam)
    S = C @ C.T
    eps = q.sample_eps(rng, 6)
    z = q.reparam(lam, eps)
    assert z.shape == (6, d)
    np.testing.assert_allclose(z, mu + eps @ C.T, rtol=1e-12)
    np.testing.assert_allclose(q.reparam(lam, eps[0]), mu + C @ eps[0], rtol=1e-12)
    ref = stats.multivariate_normal.logpdf(z, mu, S)
    np.testing.assert_allclose(np.atleast_1d(q.log_q(lam, z)), np.atleast_1d(ref), rtol=1e-9)
    assert np.ndim(q.log_q(lam, z[0])) == 0
    np.testing.assert_allclose(q.log_q(lam, z[0]), ref[0], rtol=1e-9)
    ent = stats.multivariate_normal(mu, S).entropy()
    np.testing.assert_allclose(q.entropy_fn(lam), ent, rtol=1e-12)
    np.testing.assert_allclose(q.entropy(lam), ent, rtol=1e-12)


def test_fullrank_entropy_recovers_dimension():
    for d in range(1, 12):
        q = FullRankNormal(d)
        lam = q.init_params()
        np.testing.assert_allclose(q.entropy_fn(lam), d * (-1.0 + 0.5 * np.log(2 * np.pi * np.e)))


def test_fullrank_sample_moments():
    q = FullRankNormal(3)
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3))
    S = A @ A.T + np.eye(3)
    lam = q.pack([0.5, -1.0, 2.0], np.linalg.cholesky(S))
    np.testing.assert_allclose(q.cov(lam), S, rtol=1e-12)
    z = q.sample(lam, rng, 100_000)
    np.testing.assert_allclose(z.mean(0), [0.5, -1.0, 2.0], atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), S, rtol=0.05, atol=0.05)


def test_meanfield_fit_with_reparam_gradients():
    """End to end: maximise a reparameterised ELBO for a Gaussian target with Adam."""
    m, s = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.5, 1.0])
    q = MeanFieldNormal(3)
    lam = q.init_params()
    opt = optim.get("adam", lr=0.05)
    rng = np.random.default_rng(0)
    avg = np.zeros_like(lam)
    for it in range(1500):
        eps = q.sample_eps(rng, 16)
        mu, ls = q.unpack(lam)
        z = q.reparam(lam, eps)
        dlogp = -(z - m) / s**2  # d log p / dz
        g = np.concatenate([dlogp.mean(0), (dlogp * eps).mean(0) * np.exp(ls) + 1.0])
        lam = opt.step(lam, g)
        if it >= 1000:
            avg += lam / 500  # Polyak averaging of the noisy iterates
    mu, ls = q.unpack(avg)
    np.testing.assert_allclose(mu, m, atol=0.1)
    np.testing.assert_allclose(np.exp(ls), s, rtol=0.1)


def test_bad_dimension_raises_srcdiff_error():
    import srcdiff
    for bad in (0, -2, 2.5, "3", None):
        for fam in (MeanFieldNormal, FullRankNormal):
            with pytest.raises(srcdiff.SrcdiffError, match="dimension"):
                fam(bad)
    assert MeanFieldNormal(np.int64(3)).d == 3
