"""Linear-algebra helpers Numba lacks: triangular solves and Cholesky / log-det adjoints."""
import numpy as np
import scipy.linalg as sla
from numba.core import types
from numba.extending import register_jitable

from ._typing import nb_is_array
from .tangents import lower_half   # Phi: lower triangle, diagonal halved
from ._cache import cached_overload

__all__ = ["solve_triangular", "cholesky_grad", "cholesky_grad_vjp_L", "cholesky_grad_vjp_v", "logdet_grad"]


def solve_triangular(a, b, lower=False, trans=0):
    """scipy.linalg.solve_triangular: solves a x = b (trans 0) or a^T x = b (trans 1 or 2)."""
    return sla.solve_triangular(a, b, lower=lower, trans=trans)


@register_jitable
def _trsm(a, b2, lower, trans, dt):
    """Substitution for 2-D b2 (`trans` a bool); op(a) is lower-triangular iff lower != trans."""
    n = a.shape[0]
    if a.ndim != 2 or a.shape[1] != n or b2.shape[0] != n:
        raise ValueError("solve_triangular: shapes do not match")
    m = b2.shape[1]
    x = np.empty((n, m), dt)
    x[:, :] = b2
    t = trans
    forward = lower != t
    for step in range(n):
        i = step if forward else n - 1 - step
        d = a[i, i]
        if d == 0:
            raise np.linalg.LinAlgError("singular matrix: zero on the diagonal")
        lo = 0 if forward else i + 1
        hi = i if forward else n
        for k in range(lo, hi):
            c = a[k, i] if t else a[i, k]
            if c != 0:
                for j in range(m):
                    x[i, j] -= c * x[k, j]
        for j in range(m):
            x[i, j] /= d
    return x


@cached_overload(solve_triangular)
def _solve_triangular_nb(a, b, lower=False, trans=0):
    if not (nb_is_array(a) and nb_is_array(b) and a.ndim == 2 and b.ndim in (1, 2)):
        return None
    both32 = a.dtype == types.float32 and b.dtype == types.float32
    dt = np.float32 if both32 else np.float64
    as_str = isinstance(trans, (types.UnicodeType, types.StringLiteral))
    if not (as_str or isinstance(trans, (int, types.Integer, types.Boolean, types.Omitted))):
        return None
    if b.ndim == 1:
        def impl1(a, b, lower=False, trans=0):
            t = (trans != "N") if as_str else (trans != 0)
            b2 = np.ascontiguousarray(b).reshape((b.shape[0], 1))
            return _trsm(a, b2, lower, t, dt).reshape(b.shape[0])
        return impl1

    def impl2(a, b, lower=False, trans=0):
        t = (trans != "N") if as_str else (trans != 0)
        return _trsm(a, b, lower, t, dt)
    return impl2


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
        y = _trsm(Lc, p, True, True, dt)
        s = _trsm(Lc, np.ascontiguousarray(y.T), True, True, dt).T
        return 0.5 * (s + s.T)
    return impl


# Reverse rule of cholesky_grad(L, v) = sym(S), S = L^-T X L^-1, X = Phi(L^T V), V = tril(v), for an
# adjoint g of its result: with Gs = (g + g^T)/2 and K = Phi(L^-1 Gs L^-T),
#   d/dv: tril(L K)       d/dL: tril(V K^T - L^-T (X + X^T) L^-1 Gs L^-T)
# (L is lower triangular, as cholesky_grad assumes; the upper triangles of L and v get no adjoint).
@register_jitable
def _cholesky_grad_k(Linv, g):
    gs = 0.5 * (g + np.ascontiguousarray(g.T))
    return lower_half(Linv @ gs @ np.ascontiguousarray(Linv.T)), gs


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
    x = lower_half(np.ascontiguousarray(Lc.T) @ V)
    return np.tril(V @ np.ascontiguousarray(k.T) - LinvT @ (x + np.ascontiguousarray(x.T)) @ Linv @ gs @ LinvT)


def logdet_grad(a):
    """inv(a)^T: gradient of log|det a| (batched over leading axes in Python)."""
    return np.swapaxes(np.linalg.inv(a), -1, -2)


@cached_overload(logdet_grad)
def _logdet_grad_nb(a):
    if not (nb_is_array(a) and a.ndim == 2):
        return None
    if isinstance(a.dtype, types.Float):
        return lambda a: np.ascontiguousarray(np.linalg.inv(a).T)
    return lambda a: np.ascontiguousarray(np.linalg.inv(a.astype(np.float64)).T)
