"""Log-domain products (logdomain.py) with scale tapes.

Scale tapes (jitted loops, transforms/logdomain_scales.py `tape_scales`): the forward sweep's product keeps
what its adjoint would otherwise recompute, the scales exp(v_i - m) and the inverse scaled sums
1 / s_j, in row `k` of a tape made before the loop,

    v_scales = rt.scale_tape(E, n)                        # n rows of len(v) + len(result) numbers
    ans = rt.logsumexp_vecmat_scaled(v, M, E, v_scales, k)
    ...
    d_v = rt.logsumexp_vecmat_adjoints_scaled(g, v, M, E, ans, d_M, v_scales, k)

so the backward sweep works in the probability domain like the scaled forward-backward algorithm: no
exponential and no scratch array a step. A column that needed the direct formula has 1 / s_j = 0 on
the tape, and its adjoint takes the direct formula from v and ans.
"""
import numpy as np
from numba.extending import register_jitable

from ._cache import cached_overload
from ._typing import nb_result_type
from .fastexp import exp_fast
from .fastlog import log_normal
from .logdomain import (TINY, column_direct, column_weights, logsumexp_matvec, logsumexp_matvec_adjoints,
                        logsumexp_matvec_grad_M, logsumexp_matvec_grad_v, logsumexp_vecmat,
                        logsumexp_vecmat_adjoints, logsumexp_vecmat_grad_M, logsumexp_vecmat_grad_v, vmax)

__all__ = ["scale_tape", "logsumexp_vecmat_scaled", "logsumexp_matvec_scaled",
           "logsumexp_vecmat_grad_v_scaled", "logsumexp_vecmat_grad_M_scaled",
           "logsumexp_matvec_grad_v_scaled", "logsumexp_matvec_grad_M_scaled",
           "logsumexp_vecmat_adjoints_scaled", "logsumexp_matvec_adjoints_scaled"]


# scale tapes: in plain Python the tape is not used (the direct formula needs no scales)
def scale_tape(E, n):
    """A tape of `n` rows for the scales of a product with table E (exp_shifted of an (I, J) matrix,
    or of a stack of them): I + J numbers a row."""
    I, J = np.shape(E[0])[-2:]
    return np.zeros((n, I + J))


def logsumexp_vecmat_scaled(v, M, E, scales, k):
    """logsumexp_vecmat(v, M, E), keeping its scales in row k of `scales` (compiled code)."""
    return logsumexp_vecmat(v, M, E)


def logsumexp_matvec_scaled(M, v, E, scales, k):
    """logsumexp_matvec(M, v, E), keeping its scales in row k of `scales` (compiled code)."""
    return logsumexp_matvec(M, v, E)


def logsumexp_vecmat_grad_v_scaled(g, v, M, E, ans, scales, k):
    return logsumexp_vecmat_grad_v(g, v, M, E, ans)


def logsumexp_vecmat_grad_M_scaled(g, v, M, E, ans, scales, k):
    return logsumexp_vecmat_grad_M(g, v, M, E, ans)


def logsumexp_matvec_grad_v_scaled(g, M, v, E, ans, scales, k):
    return logsumexp_matvec_grad_v(g, M, v, E, ans)


def logsumexp_matvec_grad_M_scaled(g, M, v, E, ans, scales, k):
    return logsumexp_matvec_grad_M(g, M, v, E, ans)


def logsumexp_vecmat_adjoints_scaled(g, v, M, E, ans, d_M, scales, k):
    return logsumexp_vecmat_adjoints(g, v, M, E, ans, d_M)


def logsumexp_matvec_adjoints_scaled(g, M, v, E, ans, d_M, scales, k):
    return logsumexp_matvec_adjoints(g, M, v, E, ans, d_M)


# --- Numba: scale tapes ---------------------------------------------------------------------------------
# Row k of a scale tape: a[i] = exp(v[i] - m) for the summed axis i, then r[j] = 1 / s[j] for each result
# j (0 where column j took the direct formula).

@register_jitable(inline="always")
def _product_scaled(v, M, E, c, T, S, k):
    I, J = M.shape
    out = np.zeros(J, T)      # the scaled sums, then the results
    m = vmax(v)
    finite = np.isfinite(m)
    for i in range(I):
        ai = exp_fast(v[i] - m) if finite else 0.0
        S[k, i] = ai
        for j in range(J):
            out[j] += ai * E[i, j]
    for j in range(J):
        sj = out[j]
        if sj >= TINY and c[j] < np.inf:
            out[j] = m + c[j] + log_normal(sj)
            S[k, I + j] = 1.0 / sj
        else:
            out[j] = column_direct(v, M, j)
            S[k, I + j] = 0.0
    return out


@register_jitable(inline="always")
def _adjoints_scaled(g, v, M, E, ans, d_M, with_M, T, S, k):
    """The adjoint of v (returned) and, when with_M, M's added into d_M, from the scales in row k of S."""
    I, J = M.shape
    out = np.empty(I, T)
    direct = False
    for i in range(I):
        ai = S[k, i]
        t = 0.0
        for j in range(J):
            w = ai * E[i, j] * (g[j] * S[k, I + j])
            if with_M:
                d_M[i, j] += w
            t += w
        out[i] = t
    for j in range(J):
        direct = direct or S[k, I + j] == 0.0
    if direct:      # columns that took the direct formula (a zero scaled sum, an infinite entry)
        w = np.empty(I)
        for j in range(J):
            if S[k, I + j] == 0.0:
                column_weights(g[j], v, M, j, ans[j], w)
                for i in range(I):
                    if with_M:
                        d_M[i, j] += w[i]
                    out[i] += w[i]
    return out


@cached_overload(scale_tape)
def _scale_tape_nb(E, n):
    return lambda E, n: np.zeros((n, E[0].shape[-2] + E[0].shape[-1]))


@cached_overload(logsumexp_vecmat_scaled)
def _vecmat_scaled_nb(v, M, E, scales, k):
    T = nb_result_type(v, M)
    return lambda v, M, E, scales, k: _product_scaled(v, M, E[0], E[1], T, scales, k)


@cached_overload(logsumexp_matvec_scaled)
def _matvec_scaled_nb(M, v, E, scales, k):
    T = nb_result_type(v, M)
    return lambda M, v, E, scales, k: _product_scaled(v, M.T, E[0].T, E[1], T, scales, k)


@cached_overload(logsumexp_vecmat_grad_v_scaled)
def _vecmat_grad_v_scaled_nb(g, v, M, E, ans, scales, k):
    T = nb_result_type(v, M)
    return lambda g, v, M, E, ans, scales, k: _adjoints_scaled(g, v, M, E[0], ans, np.empty((0, 0)), False, T,
                                                                scales, k)


@cached_overload(logsumexp_matvec_grad_v_scaled)
def _matvec_grad_v_scaled_nb(g, M, v, E, ans, scales, k):
    T = nb_result_type(v, M)
    return lambda g, M, v, E, ans, scales, k: _adjoints_scaled(g, v, M.T, E[0].T, ans, np.empty((0, 0)), False, T,
                                                                scales, k)


@cached_overload(logsumexp_vecmat_grad_M_scaled)
def _vecmat_grad_M_scaled_nb(g, v, M, E, ans, scales, k):
    T = nb_result_type(v, M)

    def impl(g, v, M, E, ans, scales, k):
        d_M = np.zeros(M.shape, T)
        _adjoints_scaled(g, v, M, E[0], ans, d_M, True, T, scales, k)
        return d_M
    return impl


@cached_overload(logsumexp_matvec_grad_M_scaled)
def _matvec_grad_M_scaled_nb(g, M, v, E, ans, scales, k):
    T = nb_result_type(v, M)

    def impl(g, M, v, E, ans, scales, k):
        d_M = np.zeros(M.shape, T)
        _adjoints_scaled(g, v, M.T, E[0].T, ans, d_M.T, True, T, scales, k)
        return d_M
    return impl


@cached_overload(logsumexp_vecmat_adjoints_scaled)
def _vecmat_adjoints_scaled_nb(g, v, M, E, ans, d_M, scales, k):
    T = nb_result_type(v, M)
    return lambda g, v, M, E, ans, d_M, scales, k: _adjoints_scaled(g, v, M, E[0], ans, d_M, True, T, scales, k)


@cached_overload(logsumexp_matvec_adjoints_scaled)
def _matvec_adjoints_scaled_nb(g, M, v, E, ans, d_M, scales, k):
    T = nb_result_type(v, M)
    return lambda g, M, v, E, ans, d_M, scales, k: _adjoints_scaled(g, v, M.T, E[0].T, ans, d_M.T, True, T,
                                                                      scales, k)
