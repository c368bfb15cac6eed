"""Gaussian variational families over a flat parameter vector ``lam``.

Both families keep every variational parameter in one 1-D float64 vector
``lam`` so optimisers and generated gradient code can treat it uniformly.

Parameter layouts
-----------------
``MeanFieldNormal(d)`` -- ``lam`` has length ``2 d``::

    lam = [mu_0 .. mu_{d-1}, log_sigma_0 .. log_sigma_{d-1}]

``FullRankNormal(d)`` -- ``lam`` has length ``d + d (d + 1) / 2``::

    lam = [mu_0 .. mu_{d-1},  C_00, C_10, C_11, C_20, C_21, C_22, ...]

i.e. after ``mu`` come the lower-triangular entries of the Cholesky-like factor
``C`` in row-major order (row ``i`` holds ``C_i0 .. C_ii``; entry ``(i, j)``,
``j <= i``, sits at ``d + i (i + 1) / 2 + j``).  DIAGONAL entries are stored as
``log C_ii`` so the diagonal stays positive; off-diagonals are stored as is.
The covariance is ``C C^T``.

Differentiable static functions
-------------------------------
Each family exposes static ``reparam(lam, eps)``, ``log_q(lam, z)`` and
``entropy_fn(lam)``: module-level functions ``meanfield_*`` / ``fullrank_*``
(plus ``fullrank_chol(lam, d)``) bound as static methods.  They are plain NumPy
in the srcdiff vocabulary (no helper calls, no Python objects), so they can be
inlined into a generated ELBO.
``eps`` / ``z`` may be one vector of length ``d`` or a batch ``(k, d)``.
The full-rank versions build ``C`` with ``for`` loops over ``range`` and scalar
writes ``C[i, j] = ...`` into ``0.0 * np.eye(d)``; the row-major running index
``k`` is the only integer bookkeeping.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular

from ._errors import VIValueError

__all__ = [
    "MeanFieldNormal", "FullRankNormal",
    "meanfield_reparam", "meanfield_log_q", "meanfield_entropy",
    "fullrank_chol", "fullrank_reparam", "fullrank_log_q", "fullrank_entropy",
]


# ---------------------------------------------------------------------------
# Differentiable plain-NumPy functions (bound as static methods below)
# ---------------------------------------------------------------------------

def meanfield_reparam(lam, eps):
    """z = mu + exp(log_sigma) * eps; eps (d,) or (k, d)."""
    p = np.reshape(lam, (2, -1))
    return p[0] + np.exp(p[1]) * eps


def meanfield_log_q(lam, z):
    """log q(z); z (d,) -> scalar, (k, d) -> (k,)."""
    p = np.reshape(lam, (2, -1))
    w = (z - p[0]) * np.exp(-p[1])
    return (np.sum(-0.5 * w * w - p[1], axis=-1)
            - 0.5 * p.shape[1] * math.log(2.0 * math.pi))


def meanfield_entropy(lam):
    """H[q] = sum(log_sigma) + d/2 log(2 pi e)."""
    p = np.reshape(lam, (2, -1))
    return np.sum(p[1]) + 0.5 * p.shape[1] * math.log(2.0 * math.pi * math.e)


def fullrank_chol(lam, d):
    """Differentiable build of ``C`` from ``lam`` (d given explicitly)."""
    C = 0.0 * np.eye(d)
    k = d
    for i in range(d):
        for j in range(i):
            C[i, j] = lam[k]
            k = k + 1
        C[i, i] = np.exp(lam[k])
        k = k + 1
    return C


def fullrank_reparam(lam, eps):
    """z = mu + C eps; eps (d,) or (k, d)."""
    d = eps.shape[-1]
    C = 0.0 * np.eye(d)
    k = d
    for i in range(d):
        for j in range(i):
            C[i, j] = lam[k]
            k = k + 1
        C[i, i] = np.exp(lam[k])
        k = k + 1
    return lam[:d] + eps @ np.transpose(C)


def fullrank_log_q(lam, z):
    """log q(z); z (d,) -> scalar, (k, d) -> (k,)."""
    d = z.shape[-1]
    C = 0.0 * np.eye(d)
    logdet = 0.0
    k = d
    for i in range(d):
        for j in range(i):
            C[i, j] = lam[k]
            k = k + 1
        C[i, i] = np.exp(lam[k])
        logdet = logdet + lam[k]
        k = k + 1
    w = solve_triangular(C, np.transpose(z - lam[:d]), lower=True)
    return -0.5 * np.sum(w * w, axis=0) - logdet - 0.5 * d * math.log(2.0 * math.pi)


def fullrank_entropy(lam):
    """H[q] = sum(log C_ii) + d/2 log(2 pi e).

    ``d`` is recovered from ``len(lam) = d + d(d+1)/2``, i.e.
    ``2d + 3 = isqrt(8 len(lam) + 9)``.
    """
    d = (math.isqrt(8 * lam.shape[0] + 9) - 3) // 2
    logdet = 0.0
    k = d
    for i in range(d):
        k = k + i
        logdet = logdet + lam[k]
        k = k + 1
    return logdet + 0.5 * d * math.log(2.0 * math.pi * math.e)


# ---------------------------------------------------------------------------
# Family classes
# ---------------------------------------------------------------------------

def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _dimension(d) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise VIValueError(f"the latent dimension d must be a positive integer, got {d!r}")
    return int(d)


class GaussianFamily:
    """Shared non-differentiated conveniences."""

    d: int
    num_params: int

    def sample_eps(self, rng: np.random.Generator | int | None, k: int) -> np.ndarray:
        """Standard normal noise of shape ``(k, d)``."""
        return _rng(rng).standard_normal((k, self.d))

    def sample(self, lam: np.ndarray, rng: np.random.Generator | int | None, k: int) -> np.ndarray:
        """``k`` draws from q, shape ``(k, d)``."""
        return self.reparam(np.asarray(lam, dtype=np.float64), self.sample_eps(rng, k))

    def log_density(self, lam: np.ndarray, z: np.ndarray) -> np.ndarray | float:
        """log q(z); ``z`` of shape ``(d,)`` or ``(k, d)``."""
        return self.log_q(np.asarray(lam, dtype=np.float64), np.asarray(z, dtype=np.float64))

    def entropy(self, lam: np.ndarray) -> float:
        """Differential entropy of q."""
        return float(self.entropy_fn(np.asarray(lam, dtype=np.float64)))

    def _check(self, lam) -> np.ndarray:
        lam = np.asarray(lam, dtype=np.float64)
        if lam.shape != (self.num_params,):
            raise VIValueError(f"lam must have shape ({self.num_params},), got {lam.shape}")
        return lam

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d})"


class MeanFieldNormal(GaussianFamily):
    """Diagonal Gaussian q(z) = N(mu, diag(exp(log_sigma))^2); lam = [mu, log_sigma].

    ``init_params`` sets ``mu = 0`` (plus N(0, 0.01^2) jitter when an ``rng`` is
    given) and ``log_sigma = init_log_sigma`` (default -1, i.e. sigma ~ 0.37).
    """

    def __init__(self, d: int, init_log_sigma: float = -1.0):
        self.d = _dimension(d)
        self.num_params = 2 * self.d
        self.init_log_sigma = float(init_log_sigma)

    # -- parameter handling ------------------------------------------------
    def init_params(self, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Initial ``lam``: mu = 0 (+ small jitter if ``rng``), log_sigma = init_log_sigma."""
        mu = np.zeros(self.d)
        if rng is not None:
            mu = mu + 0.01 * _rng(rng).standard_normal(self.d)
        return np.concatenate([mu, np.full(self.d, self.init_log_sigma)])

    def pack(self, mu: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack`."""
        return np.concatenate([np.broadcast_to(np.asarray(mu, float), (self.d,)),
                               np.broadcast_to(np.asarray(log_sigma, float), (self.d,))])

    def unpack(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, log_sigma)``."""
        lam = self._check(lam)
        return lam[:self.d].copy(), lam[self.d:].copy()

    def mean(self, lam: np.ndarray) -> np.ndarray:
        return self._check(lam)[:self.d].copy()

    def std(self, lam: np.ndarray) -> np.ndarray:
        return np.exp(self._check(lam)[self.d:])

    def cov(self, lam: np.ndarray) -> np.ndarray:
        """Diagonal covariance matrix ``(d, d)``."""
        return np.diag(self.std(lam) ** 2)

    # -- differentiable static functions (module-level, see above) ------
    reparam = staticmethod(meanfield_reparam)
    log_q = staticmethod(meanfield_log_q)
    entropy_fn = staticmethod(meanfield_entropy)


class FullRankNormal(GaussianFamily):
    """Full-covariance Gaussian q(z) = N(mu, C C^T), C lower triangular.

    ``lam = [mu (d), row-major lower-triangular C with log diagonal]`` (see module
    docstring).  ``init_params`` sets ``mu = 0`` (plus N(0, 0.01^2) jitter with an
    ``rng``) and ``C = exp(init_log_diag) I`` (default -1).
    """

    def __init__(self, d: int, init_log_diag: float = -1.0):
        self.d = _dimension(d)
        self.num_tril = self.d * (self.d + 1) // 2
        self.num_params = self.d + self.num_tril
        self.init_log_diag = float(init_log_diag)
        # Row-major lower-triangular index arrays and the mask of diagonal slots
        # (relative to lam[d:]); handy for vectorised, non-differentiated code.
        rows, cols = [], []
        for i in range(self.d):
            for j in range(i + 1):
                rows.append(i)
                cols.append(j)
        self.tril_rows = np.array(rows, dtype=np.intp)
        self.tril_cols = np.array(cols, dtype=np.intp)
        self.diag_mask = self.tril_rows == self.tril_cols

    # -- parameter handling ------------------------------------------------
    def init_params(self, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Initial ``lam``: mu = 0 (+ small jitter if ``rng``), C = exp(init_log_diag) I."""
        mu = np.zeros(self.d)
        if rng is not None:
            mu = mu + 0.01 * _rng(rng).standard_normal(self.d)
        tril = np.where(self.diag_mask, self.init_log_diag, 0.0)
        return np.concatenate([mu, tril])

    def pack(self, mu: np.ndarray, C: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack`: ``C`` lower triangular with positive diagonal."""
        C = np.asarray(C, dtype=np.float64)
        if C.shape != (self.d, self.d):
            raise VIValueError(f"C must have shape ({self.d}, {self.d})")
        if np.any(np.diag(C) <= 0):
            raise VIValueError("C must have a positive diagonal")
        vals = C[self.tril_rows, self.tril_cols]
        vals = np.where(self.diag_mask, np.log(np.abs(vals)), vals)
        return np.concatenate([np.broadcast_to(np.asarray(mu, float), (self.d,)), vals])

    def unpack(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, C)`` with ``C`` the lower-triangular factor (diagonal exponentiated)."""
        return self.mean(lam), self.chol(lam)

    def chol(self, lam: np.ndarray) -> np.ndarray:
        """Lower-triangular ``C`` (``cov = C C^T``)."""
        lam = self._check(lam)
        vals = lam[self.d:]
        C = np.zeros((self.d, self.d))
        C[self.tril_rows, self.tril_cols] = np.where(self.diag_mask, np.exp(vals), vals)
        return C

    def mean(self, lam: np.ndarray) -> np.ndarray:
        return self._check(lam)[:self.d].copy()

    def cov(self, lam: np.ndarray) -> np.ndarray:
        C = self.chol(lam)
        return C @ C.T

    # -- differentiable static functions (module-level, see above) ------
    chol_fn = staticmethod(fullrank_chol)
    reparam = staticmethod(fullrank_reparam)
    log_q = staticmethod(fullrank_log_q)
    entropy_fn = staticmethod(fullrank_entropy)
