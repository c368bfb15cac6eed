"""The Cholesky factor's derivatives: cholesky_grad (the adjoint of np.linalg.cholesky), its vjps, jvp
and tangent (forward mode over it)."""
import numpy as np
import scipy.linalg as sla
from numba.core import types
from numba.extending import register_jitable

from ._typing import nb_is_array
from ._cache import cached_overload
from .solves import trsm


@register_jitable
def _lower_half(p):
    """Lower triangle of p with the diagonal halved (a copy)."""
    q = np.tril(p)
    for i in range(q.shape[0]):
        q[i, i] *= 0.5
    return q


def _phi(p):
    """Lower triangle of p with the diagonal halved (in place)."""
    p = np.tril(p)
    p[np.diag_indices_from(p)] *= 0.5
    return p


def cholesky_grad(L, gL):
    """Adjoint of A -> L = cholesky(A) (lower), as a symmetric gA.

    S = L^-T Phi(L^T tril(gL)) L^-1 with Phi = lower triangle, halved diagonal;
    gA = (S + S^T) / 2. Entries of gL above the diagonal are ignored (L is structurally 0 there).
    """
    p = _phi(L.T @ np.tril(gL))
    y = sla.solve_triangular(L, p, lower=True, trans=1)          # L^-T P
    s = sla.solve_triangular(L, y.T, lower=True, trans=1).T      # (L^-T P) L^-1
    return 0.5 * (s + s.T)


@cached_overload(cholesky_grad)
def _cholesky_grad_nb(L, gL):
    if not (nb_is_array(L) and nb_is_array(gL) and L.ndim == 2 and gL.ndim == 2):
        return None
    both32 = L.dtype == types.float32 and gL.dtype == types.float32
    dt = np.float32 if both32 else np.float64

    def impl(L, gL):
        n = L.shape[0]
        Lc = np.ascontiguousarray(L).astype(dt)
        p = np.dot(np.ascontiguousarray(Lc.T), np.tril(gL).astype(dt))
        for i in range(n):
            p[i, i] *= 0.5
            for j in range(i + 1, n):
                p[i, j] = 0.0
        y = trsm(Lc, p, True, True, dt)
        s = trsm(Lc, np.ascontiguousarray(y.T), True, True, dt).T
        return 0.5 * (s + s.T)
    return impl


# Reverse rule of cholesky_grad(L, v) = sym(S), S = L^-T X L^-1, X = Phi(L^T V), V = tril(v), for an
# adjoint g of its result: with Gs = (g + g^T)/2 and K = Phi(L^-1 Gs L^-T),
#   d/dv: tril(L K)       d/dL: tril(V K^T - L^-T (X + X^T) L^-1 Gs L^-T)
# (L is lower triangular, as cholesky_grad assumes; the upper triangles of L and v get no adjoint).
@register_jitable
def _cholesky_grad_k(Linv, g):
    gs = 0.5 * (g + np.ascontiguousarray(g.T))
    return _lower_half(Linv @ gs @ np.ascontiguousarray(Linv.T)), gs


@register_jitable
def cholesky_grad_vjp_v(L, g):
    """Adjoint of cholesky_grad(L, v) w.r.t. v for an adjoint g of its result."""
    Lc = np.ascontiguousarray(L)
    k, _ = _cholesky_grad_k(np.linalg.inv(Lc), np.ascontiguousarray(g))
    return np.tril(Lc @ k)


@register_jitable
def cholesky_grad_vjp_L(L, v, g):
    """Adjoint of cholesky_grad(L, v) w.r.t. L for an adjoint g of its result."""
    Lc = np.ascontiguousarray(L)
    Linv = np.linalg.inv(Lc)
    LinvT = np.ascontiguousarray(Linv.T)
    k, gs = _cholesky_grad_k(Linv, np.ascontiguousarray(g))
    V = np.tril(np.ascontiguousarray(v))
    x = _lower_half(np.ascontiguousarray(Lc.T) @ V)
    return np.tril(V @ np.ascontiguousarray(k.T) - LinvT @ (x + np.ascontiguousarray(x.T)) @ Linv @ gs @ LinvT)


@register_jitable
def cholesky_jvp(L, dA):
    """Tangent of L = cholesky(A): L Φ(L⁻¹ sym(dA) L⁻ᵀ) with Φ taking the lower half, halved diagonal and
    sym(dA) = (dA + dAᵀ) / 2: the tangent along the symmetric part of dA, as cholesky_grad's adjoint is symmetric
    (forward and reverse mode agree for any tangent, a jacobian built by columns and by rows is the same)."""
    Linv = np.linalg.inv(L)
    m = Linv @ (0.5 * (dA + dA.T)) @ Linv.T
    n = m.shape[0]
    for i in range(n):
        m[i, i] *= 0.5
        for j in range(i + 1, n):
            m[i, j] = 0.0
    return L @ m


@register_jitable
def cholesky_grad_jvp(L, dL, v, dv):
    """Tangent of cholesky_grad(L, v) = sym(L⁻ᵀ Φ(Lᵀ v) L⁻¹) for tangents dL of L and dv of v."""
    Lc = np.ascontiguousarray(L)
    Linv = np.linalg.inv(Lc)
    LinvT = np.ascontiguousarray(Linv.T)
    P = _lower_half(np.ascontiguousarray(Lc.T) @ np.ascontiguousarray(v))
    dP = _lower_half(np.ascontiguousarray(dL.T) @ np.ascontiguousarray(v)
                     + np.ascontiguousarray(Lc.T) @ np.ascontiguousarray(dv))
    S = LinvT @ P @ Linv
    dS = LinvT @ dP @ Linv - LinvT @ np.ascontiguousarray(dL.T) @ S - S @ np.ascontiguousarray(dL) @ Linv
    return 0.5 * (dS + dS.T)
