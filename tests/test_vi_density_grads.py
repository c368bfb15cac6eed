"""Every differentiable function of srcdiff.vi (densities, KL, entropies, reparameterised samplers,
bijectors, the families' pieces) differentiated by srcdiff and checked against central differences.

Each function is wrapped as ``sum(w * fn(...))`` with random weights ``w`` (not differentiated), so
every output element's gradient is checked, not just their sum.
"""
import numpy as np
import pytest

from gradcheck import check_grad
from srcdiff import vi
from srcdiff.vi import bijectors as bj
from srcdiff.vi import distributions as D
from srcdiff.vi import families as F

rng = np.random.default_rng(2024)
n = 5


def pos(lo=0.5, hi=3.0):
    return rng.uniform(lo, hi, n)


def real(scale=1.0):
    return scale * rng.normal(size=n)


def unit():
    return rng.uniform(0.1, 0.9, n)


W = rng.uniform(0.5, 1.5, n)


def _chol(d=3, seed=0):
    r = np.random.default_rng(seed)
    A = r.normal(size=(d, d))
    return np.linalg.cholesky(A @ A.T + d * np.eye(d))


# --- wrappers: sum(w * fn(...)) -------------------------------------------------------------

def f_normal(x, m, s, w):
    return np.sum(w * vi.normal_logpdf(x, m, s))


def f_laplace(x, m, s, w):
    return np.sum(w * vi.laplace_logpdf(x, m, s))


def f_student_t(x, df, m, s, w):
    return np.sum(w * vi.student_t_logpdf(x, df, m, s))


def f_gamma(x, a, r, w):
    return np.sum(w * vi.gamma_logpdf(x, a, r))


def f_beta(x, a, b, w):
    return np.sum(w * vi.beta_logpdf(x, a, b))


def f_exponential(x, r, w):
    return np.sum(w * vi.exponential_logpdf(x, r))


def f_poisson(k, r, w):
    return np.sum(w * vi.poisson_logpmf(k, r))


def f_bernoulli(y, logits, w):
    return np.sum(w * vi.bernoulli_logits_logpmf(y, logits))


def f_cauchy(x, m, s, w):
    return np.sum(w * vi.cauchy_logpdf(x, m, s))


def f_lognormal(x, m, s, w):
    return np.sum(w * vi.lognormal_logpdf(x, m, s))


def f_categorical(k, logits, w):
    return np.sum(w * vi.categorical_logits_logpmf(k, logits))


def f_mvn(x, m, L, w):
    return np.sum(w * vi.mvn_cholesky_logpdf(x, m, L))


def f_mvn_one(x, m, L):
    return vi.mvn_cholesky_logpdf(x, m, L)


def f_kl_normal(mq, sq, mp, sp, w):
    return np.sum(w * vi.kl_normal_normal(mq, sq, mp, sp))


def f_kl_mvn(m, L):
    return vi.kl_mvn_std_normal(m, L)


def f_normal_entropy(s, w):
    return np.sum(w * vi.normal_entropy(s))


def f_mvn_entropy(L):
    return vi.mvn_entropy(L)


def f_normal_reparam(m, s, eps, w):
    return np.sum(w * vi.normal_reparam(m, s, eps))


def f_mvn_reparam(m, L, eps, w):
    return np.sum(w * vi.mvn_reparam(m, L, eps))


def f_exponential_reparam(r, u, w):
    return np.sum(w * vi.exponential_reparam(r, u))


def f_laplace_reparam(m, s, u, w):
    return np.sum(w * vi.laplace_reparam(m, s, u))


def f_cauchy_reparam(m, s, u, w):
    return np.sum(w * vi.cauchy_reparam(m, s, u))


def f_lognormal_reparam(m, s, eps, w):
    return np.sum(w * vi.lognormal_reparam(m, s, eps))


def f_logistic_reparam(m, s, u, w):
    return np.sum(w * vi.logistic_reparam(m, s, u))


def f_gumbel_reparam(m, s, u, w):
    return np.sum(w * vi.gumbel_reparam(m, s, u))


def f_exp_fwd(u, w):
    return np.sum(w * bj.Exp.forward(u) + w * w * bj.Exp.log_det_jacobian(u))


def f_exp_inv(x, w):
    return np.sum(w * bj.Exp.inverse(x))


def f_softplus_fwd(u, w):
    return np.sum(w * bj.Softplus.forward(u) + w * w * bj.Softplus.log_det_jacobian(u))


def f_softplus_inv(x, w):
    return np.sum(w * bj.Softplus.inverse(x))


def f_sigmoid_fwd(u, w):
    return np.sum(w * bj.Sigmoid.forward(u) + w * w * bj.Sigmoid.log_det_jacobian(u))


def f_sigmoid_inv(x, w):
    return np.sum(w * bj.Sigmoid.inverse(x))


def f_identity(u, w):
    return np.sum(w * bj.Identity.forward(u) + w * bj.Identity.inverse(u) + bj.Identity.log_det_jacobian(u))


def f_gamma_on_reals(u, a, r):
    """A constrained latent: Gamma density of exp(u) plus the log-Jacobian (the unconstrained density)."""
    return np.sum(vi.gamma_logpdf(bj.Exp.forward(u), a, r) + bj.Exp.log_det_jacobian(u))


def f_beta_on_reals(u, a, b):
    return np.sum(vi.beta_logpdf(bj.Sigmoid.forward(u), a, b) + bj.Sigmoid.log_det_jacobian(u))


def f_meanfield(lam, eps, z, w):
    return (np.sum(w * F.meanfield_reparam(lam, eps)) + np.sum(F.meanfield_log_q(lam, z))
            + F.meanfield_entropy(lam))


def f_fullrank(lam, eps, z, w):
    return (np.sum(w * F.fullrank_reparam(lam, eps)) + np.sum(F.fullrank_log_q(lam, z))
            + F.fullrank_entropy(lam))


L3 = _chol()
Lw = 0.4 * _chol(seed=1)
K5 = rng.integers(0, 4, n)
CASES = {
    "normal": (f_normal, [real(), real(), pos(), W], (0, 1, 2)),
    "laplace": (f_laplace, [real() + 3.0, real(0.3), pos(), W], (0, 1, 2)),  # away from the kink
    "student_t": (f_student_t, [real(2.0), pos(1.0, 8.0), real(), pos(), W], (0, 1, 2, 3)),
    "gamma": (f_gamma, [pos(), pos(), pos(), W], (0, 1, 2)),
    "beta": (f_beta, [unit(), pos(), pos(), W], (0, 1, 2)),
    "exponential": (f_exponential, [pos(), pos(), W], (0, 1)),
    "poisson": (f_poisson, [rng.integers(0, 9, n).astype(float), pos(0.5, 6.0), W], (1,)),
    "bernoulli_logits": (f_bernoulli, [rng.integers(0, 2, n).astype(float), real(3.0), W], (1,)),
    "cauchy": (f_cauchy, [real(2.0), real(), pos(), W], (0, 1, 2)),
    "lognormal": (f_lognormal, [pos(), real(), pos(), W], (0, 1, 2)),
    "categorical_logits": (f_categorical, [K5, rng.normal(size=(n, 4)), W], (1,)),
    "mvn_cholesky_batch": (f_mvn, [rng.normal(size=(n, 3)), real()[:3], L3, W], (0, 1, 2)),
    "mvn_cholesky_one": (f_mvn_one, [rng.normal(size=3), real()[:3], L3], (0, 1, 2)),
    "kl_normal_normal": (f_kl_normal, [real(), pos(), real(), pos(), W], (0, 1, 2, 3)),
    "kl_mvn_std_normal": (f_kl_mvn, [real()[:3], Lw], (0, 1)),
    "normal_entropy": (f_normal_entropy, [pos(), W], (0,)),
    "mvn_entropy": (f_mvn_entropy, [L3], (0,)),
    "normal_reparam": (f_normal_reparam, [real(), pos(), real(), W], (0, 1)),
    "mvn_reparam": (f_mvn_reparam, [real()[:3], L3, rng.normal(size=(n, 3)), W[:, None]], (0, 1)),
    "exponential_reparam": (f_exponential_reparam, [pos(), unit(), W], (0,)),
    "laplace_reparam": (f_laplace_reparam, [real(), pos(), unit(), W], (0, 1)),
    "cauchy_reparam": (f_cauchy_reparam, [real(), pos(), unit(), W], (0, 1)),
    "lognormal_reparam": (f_lognormal_reparam, [real(0.5), pos(0.2, 1.0), real(), W], (0, 1)),
    "logistic_reparam": (f_logistic_reparam, [real(), pos(), unit(), W], (0, 1)),
    "gumbel_reparam": (f_gumbel_reparam, [real(), pos(), unit(), W], (0, 1)),
    "exp_bijector": (f_exp_fwd, [real(), W], (0,)),
    "exp_inverse": (f_exp_inv, [pos(), W], (0,)),
    "softplus_bijector": (f_softplus_fwd, [real(3.0), W], (0,)),
    "softplus_inverse": (f_softplus_inv, [pos(0.1, 5.0), W], (0,)),
    "sigmoid_bijector": (f_sigmoid_fwd, [real(3.0), W], (0,)),
    "sigmoid_inverse": (f_sigmoid_inv, [unit(), W], (0,)),
    "identity_bijector": (f_identity, [real(), W], (0,)),
    "gamma_through_exp": (f_gamma_on_reals, [real(), pos(), pos()], (0, 1, 2)),
    "beta_through_sigmoid": (f_beta_on_reals, [real(2.0), pos(), pos()], (0, 1, 2)),
    "meanfield_family": (f_meanfield, [real(0.5)[:4], rng.normal(size=(3, 2)), rng.normal(size=(4, 2)),
                                       W[:2]], (0,)),
    "fullrank_family": (f_fullrank, [np.array([0.3, -0.2, 0.1, 0.4, -0.3]), rng.normal(size=(3, 2)),
                                     rng.normal(size=(4, 2)), W[:2]], (0,)),
}


def test_every_public_density_is_covered():
    covered = {f.__code__.co_names for f, _, _ in CASES.values()}
    names = set().union(*covered)
    missing = [m for m in D.__all__ if not m.endswith("_noise") and m not in names]
    assert missing == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    f, args, wrt = CASES[name]
    grads = check_grad(f, args, wrt=wrt, rtol=2e-5, atol=1e-6)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert any(np.any(g != 0) for g in grads)


def test_mvn_cholesky_gradient_ignores_upper_triangle():
    import srcdiff
    L = L3.copy()
    L[0, 2] = 7.0  # never read: solve_triangular(lower=True) and diag only see the lower triangle
    g = srcdiff.grad(f_mvn_one, wrt=2)(np.ones(3), np.zeros(3), L)
    assert np.all(np.triu(g, 1) == 0.0)
    np.testing.assert_allclose(g, srcdiff.grad(f_mvn_one, wrt=2)(np.ones(3), np.zeros(3), L3), rtol=1e-12)
