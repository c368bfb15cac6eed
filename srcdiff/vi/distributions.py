"""Log densities, KL divergences, entropies and reparameterised samplers.

Every density / KL / entropy / sampler here is a small self-contained function
written only in the NumPy vocabulary that the srcdiff compiler differentiates
(arithmetic, ``np.exp/log/log1p/...``, ``np.sum``, ``np.diag``,
``scipy.linalg.solve_triangular``, ``scipy.special.gammaln/logsumexp``,
``math`` scalars, indexing).  They call no other helper and hold no Python
objects, so each one can be handed to the compiler as-is, and they also run
directly as plain NumPy.

Conventions
-----------
* Elementwise densities broadcast over their arguments and return arrays of
  per-element log densities; sum them yourself (``np.sum``).
* Densities are only meaningful on their support; outside it they may return
  ``nan`` (they do not test the support, to stay differentiable).
* Samplers ``*_reparam`` are deterministic functions of parameters and noise.
  ``eps`` denotes standard normal noise, ``u`` uniform noise on (0, 1); draw it
  with :func:`standard_normal_noise` / :func:`uniform_noise`.
* The differentiable functions deliberately carry no annotations (arguments are
  floats or float arrays) so their source can be transformed verbatim.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import gammaln, logsumexp

__all__ = [
    # elementwise log densities
    "normal_logpdf", "laplace_logpdf", "student_t_logpdf", "gamma_logpdf",
    "beta_logpdf", "exponential_logpdf", "poisson_logpmf",
    "bernoulli_logits_logpmf", "cauchy_logpdf", "lognormal_logpdf",
    # vector densities
    "categorical_logits_logpmf", "mvn_cholesky_logpdf",
    # KL and entropy
    "kl_normal_normal", "kl_mvn_std_normal", "normal_entropy", "mvn_entropy",
    # reparameterised samplers
    "normal_reparam", "mvn_reparam", "exponential_reparam", "laplace_reparam",
    "cauchy_reparam", "lognormal_reparam", "logistic_reparam", "gumbel_reparam",
    # noise
    "standard_normal_noise", "uniform_noise",
]


# ---------------------------------------------------------------------------
# Elementwise log densities
# ---------------------------------------------------------------------------

def normal_logpdf(x, mean, std):
    """log N(x | mean, std**2), elementwise."""
    z = (x - mean) / std
    return -0.5 * z * z - np.log(std) - 0.5 * math.log(2.0 * math.pi)


def laplace_logpdf(x, loc, scale):
    """log Laplace(x | loc, scale), elementwise."""
    return -np.abs(x - loc) / scale - np.log(2.0 * scale)


def student_t_logpdf(x, df, loc, scale):
    """log StudentT(x | df, loc, scale), elementwise."""
    z = (x - loc) / scale
    return (gammaln(0.5 * (df + 1.0)) - gammaln(0.5 * df)
            - 0.5 * np.log(df * math.pi) - np.log(scale)
            - 0.5 * (df + 1.0) * np.log1p(z * z / df))


def gamma_logpdf(x, shape, rate):
    """log Gamma(x | shape, rate) (rate = 1/scale), elementwise, x > 0."""
    return shape * np.log(rate) - gammaln(shape) + (shape - 1.0) * np.log(x) - rate * x


def beta_logpdf(x, a, b):
    """log Beta(x | a, b), elementwise, 0 < x < 1."""
    return (gammaln(a + b) - gammaln(a) - gammaln(b)
            + (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x))


def exponential_logpdf(x, rate):
    """log Exponential(x | rate), elementwise, x >= 0."""
    return np.log(rate) - rate * x


def poisson_logpmf(k, rate):
    """log Poisson(k | rate), elementwise (k a non-negative count, may be float)."""
    return k * np.log(rate) - rate - gammaln(k + 1.0)


def bernoulli_logits_logpmf(y, logits):
    """log Bernoulli(y | sigmoid(logits)) = y*logits - softplus(logits), stable."""
    softplus = np.maximum(logits, 0.0) + np.log1p(np.exp(-np.abs(logits)))
    return y * logits - softplus


def cauchy_logpdf(x, loc, scale):
    """log Cauchy(x | loc, scale), elementwise."""
    z = (x - loc) / scale
    return -math.log(math.pi) - np.log(scale) - np.log1p(z * z)


def lognormal_logpdf(x, mu, sigma):
    """log LogNormal(x | mu, sigma) (log x ~ N(mu, sigma**2)), elementwise, x > 0."""
    logx = np.log(x)
    z = (logx - mu) / sigma
    return -0.5 * z * z - np.log(sigma) - logx - 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Vector-valued densities
# ---------------------------------------------------------------------------

def categorical_logits_logpmf(k, logits):
    """log Categorical(k | softmax(logits)).

    ``logits`` has the categories on its last axis (shape ``(..., K)``); ``k`` is
    an int or int array broadcastable against ``logits.shape[:-1]``.  Returns an
    array of shape ``broadcast(k.shape, logits.shape[:-1])``.
    """
    onehot = np.eye(logits.shape[-1])[k]  # constant (not differentiated)
    return np.sum(onehot * logits, axis=-1) - logsumexp(logits, axis=-1)


def mvn_cholesky_logpdf(x, mean, L):
    """log N(x | mean, L L^T) for a lower-triangular Cholesky factor ``L``.

    ``x`` has shape ``(d,)`` (scalar result) or ``(n, d)`` (result ``(n,)``).
    """
    d = L.shape[0]
    w = solve_triangular(L, np.transpose(x - mean), lower=True)
    return (-0.5 * np.sum(w * w, axis=0) - np.sum(np.log(np.abs(np.diag(L))))
            - 0.5 * d * math.log(2.0 * math.pi))


# ---------------------------------------------------------------------------
# KL divergences and entropies
# ---------------------------------------------------------------------------

def kl_normal_normal(mu_q, std_q, mu_p, std_p):
    """KL(N(mu_q, std_q**2) || N(mu_p, std_p**2)), elementwise."""
    r = std_q / std_p
    dm = (mu_q - mu_p) / std_p
    return 0.5 * (r * r + dm * dm - 1.0) - np.log(r)


def kl_mvn_std_normal(mean, L):
    """KL(N(mean, L L^T) || N(0, I)) for a lower-triangular ``L`` of shape (d, d)."""
    d = L.shape[0]
    return 0.5 * (np.sum(L * L) + np.sum(mean * mean) - d) - np.sum(np.log(np.abs(np.diag(L))))


def normal_entropy(std):
    """Differential entropy of N(., std**2), elementwise."""
    return 0.5 * math.log(2.0 * math.pi * math.e) + np.log(std)


def mvn_entropy(L):
    """Differential entropy of N(., L L^T) for a lower-triangular ``L``."""
    d = L.shape[0]
    return 0.5 * d * math.log(2.0 * math.pi * math.e) + np.sum(np.log(np.abs(np.diag(L))))


# ---------------------------------------------------------------------------
# Reparameterised samplers (pure functions of the noise)
# ---------------------------------------------------------------------------

def normal_reparam(mean, std, eps):
    """N(mean, std**2) sample from standard normal ``eps``."""
    return mean + std * eps


def mvn_reparam(mean, L, eps):
    """N(mean, L L^T) sample(s) from standard normal ``eps`` of shape (d,) or (k, d)."""
    return mean + eps @ np.transpose(L)


def exponential_reparam(rate, u):
    """Exponential(rate) sample by inverse CDF of uniform ``u``."""
    return -np.log1p(-u) / rate


def laplace_reparam(loc, scale, u):
    """Laplace(loc, scale) sample by inverse CDF of uniform ``u``."""
    c = u - 0.5
    return loc - scale * np.sign(c) * np.log1p(-2.0 * np.abs(c))


def cauchy_reparam(loc, scale, u):
    """Cauchy(loc, scale) sample by inverse CDF of uniform ``u``."""
    return loc + scale * np.tan(math.pi * (u - 0.5))


def lognormal_reparam(mu, sigma, eps):
    """LogNormal(mu, sigma) sample from standard normal ``eps``."""
    return np.exp(mu + sigma * eps)


def logistic_reparam(loc, scale, u):
    """Logistic(loc, scale) sample by inverse CDF of uniform ``u``."""
    return loc + scale * (np.log(u) - np.log1p(-u))


def gumbel_reparam(loc, scale, u):
    """Gumbel (max) (loc, scale) sample by inverse CDF of uniform ``u``."""
    return loc - scale * np.log(-np.log(u))


# ---------------------------------------------------------------------------
# Noise draws (not differentiated)
# ---------------------------------------------------------------------------

def _as_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def standard_normal_noise(rng: np.random.Generator | int | None, shape) -> np.ndarray:
    """Standard normal noise of ``shape`` from a Generator (or seed / None)."""
    return _as_rng(rng).standard_normal(shape)


def uniform_noise(rng: np.random.Generator | int | None, shape) -> np.ndarray:
    """Uniform noise strictly inside (0, 1), safe for the inverse-CDF samplers."""
    u = _as_rng(rng).random(shape)
    return np.clip(u, np.finfo(np.float64).tiny, 1.0 - np.finfo(np.float64).epsneg)
