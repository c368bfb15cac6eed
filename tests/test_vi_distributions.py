"""Tests for srcdiff.vi.distributions and srcdiff.vi.bijectors."""
import ast
import inspect
import math
import textwrap

import numpy as np
import pytest
from scipy import integrate, stats

from srcdiff.vi import bijectors as bj
from srcdiff.vi import distributions as D

# --------------------------------------------------------------------------
# Vocabulary check: differentiable functions only use what srcdiff supports.
# --------------------------------------------------------------------------
NP_OK = set("""exp log log1p expm1 sqrt sin cos tan tanh abs sign power square maximum
minimum where clip sum mean prod max min dot matmul outer transpose reshape ravel
expand_dims concatenate stack diag trace eye""".split())
LINALG_OK = {"inv", "det", "slogdet", "cholesky", "solve"}
NAME_OK = {"range", "solve_triangular", "gammaln", "digamma", "expit", "logsumexp"}


def vocabulary_violations(fn):
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Lambda, ast.While, ast.ListComp, ast.GeneratorExp,
                             ast.DictComp, ast.SetComp, ast.Try, ast.With)):
            bad.append(type(node).__name__)
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                if f.id not in NAME_OK:
                    bad.append(f.id)
            elif isinstance(f, ast.Attribute):
                chain = []
                cur = f
                while isinstance(cur, ast.Attribute):
                    chain.append(cur.attr)
                    cur = cur.value
                chain.append(cur.id if isinstance(cur, ast.Name) else "?")
                dotted = ".".join(reversed(chain))
                ok = (
                    (len(chain) == 2 and chain[1] == "np" and chain[0] in NP_OK)
                    or (len(chain) == 3 and dotted.startswith("np.linalg.") and chain[0] in LINALG_OK)
                    or (len(chain) == 2 and chain[1] == "math")
                )
                if not ok:
                    bad.append(dotted)
            else:
                bad.append("call-of-expression")
    return bad


DIFFERENTIABLE = [getattr(D, n) for n in D.__all__ if not n.endswith("_noise")]
BIJECTOR_FNS = [getattr(c, m) for c in (bj.Identity, bj.Exp, bj.Softplus, bj.Sigmoid)
                for m in ("forward", "inverse", "log_det_jacobian")]


@pytest.mark.parametrize("fn", DIFFERENTIABLE + BIJECTOR_FNS, ids=lambda f: f.__qualname__)
def test_vocabulary(fn):
    assert vocabulary_violations(fn) == []


# --------------------------------------------------------------------------
# Densities against scipy.stats
# --------------------------------------------------------------------------
rng0 = np.random.default_rng(0)
N = 50


def _pos(n=N, lo=0.1, hi=5.0):
    return rng0.uniform(lo, hi, n)


def test_normal_logpdf():
    x, m, s = rng0.normal(size=N), rng0.normal(size=N), _pos()
    np.testing.assert_allclose(D.normal_logpdf(x, m, s), stats.norm.logpdf(x, m, s), rtol=1e-12, atol=1e-12)


def test_laplace_logpdf():
    x, m, s = rng0.normal(size=N), rng0.normal(size=N), _pos()
    np.testing.assert_allclose(D.laplace_logpdf(x, m, s), stats.laplace.logpdf(x, m, s), rtol=1e-12, atol=1e-12)


def test_student_t_logpdf():
    x, m, s, df = rng0.normal(size=N) * 3, rng0.normal(size=N), _pos(), _pos(lo=0.5, hi=30)
    np.testing.assert_allclose(D.student_t_logpdf(x, df, m, s), stats.t.logpdf(x, df, m, s), rtol=1e-10, atol=1e-12)


def test_gamma_logpdf():
    x, a, r = _pos(), _pos(lo=0.3, hi=8), _pos()
    np.testing.assert_allclose(D.gamma_logpdf(x, a, r), stats.gamma.logpdf(x, a, scale=1 / r), rtol=1e-10, atol=1e-12)


def test_beta_logpdf():
    x, a, b = rng0.uniform(0.01, 0.99, N), _pos(lo=0.3), _pos(lo=0.3)
    np.testing.assert_allclose(D.beta_logpdf(x, a, b), stats.beta.logpdf(x, a, b), rtol=1e-10, atol=1e-12)


def test_exponential_logpdf():
    x, r = _pos(), _pos()
    np.testing.assert_allclose(D.exponential_logpdf(x, r), stats.expon.logpdf(x, scale=1 / r), rtol=1e-12, atol=1e-12)


def test_poisson_logpmf():
    k, r = rng0.integers(0, 20, N), _pos(hi=15)
    np.testing.assert_allclose(D.poisson_logpmf(k, r), stats.poisson.logpmf(k, r), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(D.poisson_logpmf(k.astype(float), r), stats.poisson.logpmf(k, r), rtol=1e-10)


def test_bernoulli_logits_logpmf():
    y = rng0.integers(0, 2, N)
    logits = rng0.normal(size=N) * 5
    p = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(D.bernoulli_logits_logpmf(y, logits), stats.bernoulli.logpmf(y, p), rtol=1e-10, atol=1e-12)
    # stable for huge logits
    big = np.array([800.0, -800.0])
    out = D.bernoulli_logits_logpmf(np.array([1.0, 1.0]), big)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0.0, -800.0], atol=1e-12)


def test_cauchy_logpdf():
    x, m, s = rng0.normal(size=N) * 4, rng0.normal(size=N), _pos()
    np.testing.assert_allclose(D.cauchy_logpdf(x, m, s), stats.cauchy.logpdf(x, m, s), rtol=1e-12, atol=1e-12)


def test_lognormal_logpdf():
    x, mu, sg = _pos(), rng0.normal(size=N), _pos(lo=0.2, hi=2)
    ref = stats.lognorm.logpdf(x, sg, scale=np.exp(mu))
    np.testing.assert_allclose(D.lognormal_logpdf(x, mu, sg), ref, rtol=1e-10, atol=1e-12)


def test_broadcasting_scalar_params():
    x = rng0.normal(size=(4, 3))
    assert D.normal_logpdf(x, 0.0, 1.0).shape == (4, 3)
    assert D.student_t_logpdf(x, 3.0, np.zeros(3), 2.0).shape == (4, 3)
    np.testing.assert_allclose(np.sum(D.normal_logpdf(x, 0.0, 1.0)), np.sum(stats.norm.logpdf(x)))


def test_categorical_logits_logpmf():
    K = 5
    logits = rng0.normal(size=(N, K)) * 3
    k = rng0.integers(0, K, N)
    logp = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    ref = logp[np.arange(N), k]
    np.testing.assert_allclose(D.categorical_logits_logpmf(k, logits), ref, rtol=1e-12, atol=1e-12)
    # scalar k with 1-D logits; array of k against shared logits
    np.testing.assert_allclose(D.categorical_logits_logpmf(2, logits[0]), logp[0, 2], rtol=1e-12)
    out = D.categorical_logits_logpmf(np.array([0, 1, 4]), logits[0])
    np.testing.assert_allclose(out, logp[0, [0, 1, 4]], rtol=1e-12)
    np.testing.assert_allclose(
        D.categorical_logits_logpmf(k[:7], logits[:7]),
        [stats.multinomial.logpmf(np.eye(K)[kk], 1, np.exp(lp)) for kk, lp in zip(k[:7], logp[:7])],
        rtol=1e-9)


def _rand_chol(rng, d):
    A = rng.normal(size=(d, d))
    return np.linalg.cholesky(A @ A.T + d * np.eye(d))


def test_mvn_cholesky_logpdf():
    rng = np.random.default_rng(1)
    d = 4
    L, mean = _rand_chol(rng, d), rng.normal(size=d)
    X = rng.normal(size=(10, d))
    ref = stats.multivariate_normal.logpdf(X, mean, L @ L.T)
    np.testing.assert_allclose(D.mvn_cholesky_logpdf(X, mean, L), ref, rtol=1e-10)
    for i in range(3):
        val = D.mvn_cholesky_logpdf(X[i], mean, L)
        assert np.ndim(val) == 0
        np.testing.assert_allclose(val, ref[i], rtol=1e-10)


# --------------------------------------------------------------------------
# KL and entropies
# --------------------------------------------------------------------------
def test_kl_normal_normal_quadrature_and_mc():
    mq, sq, mp, sp = 0.3, 0.7, -0.5, 1.6
    integrand = lambda x: stats.norm.pdf(x, mq, sq) * (stats.norm.logpdf(x, mq, sq) - stats.norm.logpdf(x, mp, sp))
    ref, _ = integrate.quad(integrand, -20, 20)
    np.testing.assert_allclose(D.kl_normal_normal(mq, sq, mp, sp), ref, rtol=1e-8)
    # elementwise + Monte Carlo
    rng = np.random.default_rng(2)
    mq, sq = rng.normal(size=3), rng.uniform(0.5, 2, 3)
    mp, sp = rng.normal(size=3), rng.uniform(0.5, 2, 3)
    x = mq + sq * rng.standard_normal((200_000, 3))
    mc = np.mean(stats.norm.logpdf(x, mq, sq) - stats.norm.logpdf(x, mp, sp), axis=0)
    np.testing.assert_allclose(D.kl_normal_normal(mq, sq, mp, sp), mc, atol=0.02)
    assert np.allclose(D.kl_normal_normal(mq, sq, mq, sq), 0.0)


def test_kl_mvn_std_normal():
    rng = np.random.default_rng(3)
    d = 3
    L, mean = 0.5 * _rand_chol(rng, d), rng.normal(size=d)
    S = L @ L.T
    exact = 0.5 * (np.trace(S) + mean @ mean - d - np.linalg.slogdet(S)[1])
    np.testing.assert_allclose(D.kl_mvn_std_normal(mean, L), exact, rtol=1e-12)
    z = mean + rng.standard_normal((200_000, d)) @ L.T
    mc = np.mean(stats.multivariate_normal.logpdf(z, mean, S) - stats.multivariate_normal.logpdf(z, np.zeros(d)))
    np.testing.assert_allclose(D.kl_mvn_std_normal(mean, L), mc, atol=0.03)
    assert abs(D.kl_mvn_std_normal(np.zeros(d), np.eye(d))) < 1e-14


def test_entropies():
    s = _pos(10)
    np.testing.assert_allclose(D.normal_entropy(s), stats.norm.entropy(scale=s), rtol=1e-12)
    rng = np.random.default_rng(4)
    L = _rand_chol(rng, 4)
    np.testing.assert_allclose(D.mvn_entropy(L), stats.multivariate_normal(np.zeros(4), L @ L.T).entropy(), rtol=1e-12)


# --------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------
M = 20_000


def _ks_ok(x, cdf):
    assert stats.kstest(x, cdf).pvalue > 1e-3


def test_normal_reparam():
    eps = D.standard_normal_noise(np.random.default_rng(10), M)
    _ks_ok(D.normal_reparam(1.5, 0.4, eps), stats.norm(1.5, 0.4).cdf)


def test_lognormal_reparam():
    eps = D.standard_normal_noise(np.random.default_rng(11), M)
    _ks_ok(D.lognormal_reparam(0.3, 0.6, eps), stats.lognorm(0.6, scale=np.exp(0.3)).cdf)


@pytest.mark.parametrize("sampler,dist,args", [
    (D.exponential_reparam, stats.expon(scale=1 / 2.5), (2.5,)),
    (D.laplace_reparam, stats.laplace(-1.0, 0.7), (-1.0, 0.7)),
    (D.cauchy_reparam, stats.cauchy(0.5, 2.0), (0.5, 2.0)),
    (D.logistic_reparam, stats.logistic(1.0, 0.3), (1.0, 0.3)),
    (D.gumbel_reparam, stats.gumbel_r(0.2, 1.5), (0.2, 1.5)),
], ids=["exponential", "laplace", "cauchy", "logistic", "gumbel"])
def test_uniform_samplers(sampler, dist, args):
    u = D.uniform_noise(np.random.default_rng(12), M)
    x = sampler(*args, u)
    assert np.all(np.isfinite(x))
    _ks_ok(x, dist.cdf)
    # inverse CDF exactly
    uu = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(sampler(*args, uu), dist.ppf(uu), rtol=1e-10, atol=1e-12)


def test_mvn_reparam_moments():
    rng = np.random.default_rng(13)
    d = 3
    L, mean = _rand_chol(rng, d), rng.normal(size=d)
    eps = D.standard_normal_noise(rng, (100_000, d))
    z = D.mvn_reparam(mean, L, eps)
    assert z.shape == (100_000, d)
    np.testing.assert_allclose(z.mean(0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(z.T), L @ L.T, rtol=0.05, atol=0.05)
    np.testing.assert_allclose(D.mvn_reparam(mean, L, eps[0]), mean + L @ eps[0], rtol=1e-12)
    # each 1-D projection is normal
    w = z @ np.ones(d)
    _ks_ok(w[:M], stats.norm(mean.sum(), np.sqrt(np.ones(d) @ L @ L.T @ np.ones(d))).cdf)


def test_noise_draws():
    u = D.uniform_noise(0, (1000, 2))
    assert u.shape == (1000, 2) and np.all(u > 0) and np.all(u < 1)
    assert np.array_equal(D.uniform_noise(5, 10), D.uniform_noise(np.random.default_rng(5), 10))
    e = D.standard_normal_noise(np.random.default_rng(0), (3, 4))
    assert e.shape == (3, 4)


# --------------------------------------------------------------------------
# Bijectors
# --------------------------------------------------------------------------
@pytest.mark.parametrize("b", [bj.Identity(), bj.Exp(), bj.Softplus(), bj.Sigmoid()], ids=repr)
def test_bijector_roundtrip_and_logdet(b):
    u = np.linspace(-6, 6, 41)
    x = b.forward(u)
    np.testing.assert_allclose(b.inverse(x), u, rtol=1e-8, atol=1e-8)
    h = 1e-6
    fd = (b.forward(u + h) - b.forward(u - h)) / (2 * h)
    np.testing.assert_allclose(b.log_det_jacobian(u), np.log(np.abs(fd)), rtol=1e-6, atol=1e-6)
    assert b.log_det_jacobian(u).shape == u.shape


def test_bijector_supports_and_stability():
    u = np.array([-50.0, 0.0, 50.0])
    assert np.all(bj.Exp.forward(u) > 0)
    assert np.all(bj.Softplus.forward(u) > 0)
    s = bj.Sigmoid.forward(np.array([-20.0, 0.0, 20.0]))
    assert np.all((s > 0) & (s < 1))
    big = np.array([-800.0, 800.0])
    assert np.all(np.isfinite(bj.Softplus.log_det_jacobian(big)))
    assert np.all(np.isfinite(bj.Sigmoid.log_det_jacobian(big)))
    np.testing.assert_allclose(bj.Softplus.forward(big), [0.0, 800.0], atol=1e-300)
    assert isinstance(bj.get("softplus"), bj.Softplus)
    assert isinstance(bj.get(bj.Exp), bj.Exp)
    with pytest.raises(ValueError):
        bj.get("nope")


def test_change_of_variables_normalised():
    """A Gamma density pushed to the real line via Exp integrates to 1."""
    f = lambda u: math.exp(D.gamma_logpdf(bj.Exp.forward(u), 2.5, 1.3) + bj.Exp.log_det_jacobian(u))
    val, _ = integrate.quad(f, -30, 10)
    np.testing.assert_allclose(val, 1.0, rtol=1e-8)
    g = lambda u: math.exp(D.beta_logpdf(bj.Sigmoid.forward(u), 2.0, 3.0) + bj.Sigmoid.log_det_jacobian(u))
    val, _ = integrate.quad(g, -30, 30)
    np.testing.assert_allclose(val, 1.0, rtol=1e-8)
