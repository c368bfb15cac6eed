"""Carries: a loop's log-domain vector kept in the probability domain.

A jitted forward loop `x = logsumexp(v[:, None] + M, axis=0) + b; v = x` whose vector only feeds the next
step (transforms/logdomain_carries.py, in `tape_scales`) keeps v as a row of a carry tape instead: row k holds the
state the step of row k reads and what its adjoint needs,

    [0, K)   a_i = exp(v_i - L), the largest 1        [2K, 3K)  r_j = 1 / s_j, 0 where column j is direct
    [K, 2K)  v_i where a_i < TINY (exact log values)   [3K, 4K)  the product's log value p_j where direct
    4K       L, the log of the scale

and the step writes the next state into row k + 1: s_j = sum_i a_i E_ij, q_j = s_j exp(c_j + b_j - z)
(z = max_j (c_j + b_j)), a'_j = q_j / max q, L' = L + z + log(max q): K exponentials (of b + c) and one
logarithm a step, like the scaled forward algorithm. Where b is a row of an array the loop leaves unchanged
(an HMM's emissions log_B[:, y_t]), the step gets that row's table too (exp_shifted of the array, taken once
before the loop: e = exp(b - d)), and exp(c_j + b_j - z) = g_j e_j with z = max c + d: one logarithm a step
and no exponential. The backward loop's adjoint of v goes into row k's slots of exact log values, which
nothing reads after it: no allocation a step either. Where that would lose an entry (a scaled sum below
TINY, an entry of the new state below TINY of the largest, a non-finite value) the step takes the exact
log-domain values instead (the direct formula where a scaled sum underflows) and stores them, so every
value agrees with the log-domain recursion to rounding, underflow included. In plain Python the rows
keep only the exact log values (a = 0: every entry "deep") and the direct formula.

A loop that is only the step, and its backward loop, call `logsumexp_*_steps` and `logsumexp_*_steps_adjoints`
instead (transforms/logdomain_loops.py): one call for all the steps, the same arithmetic.
"""
import numpy as np
from numba.core import types
from numba.extending import register_jitable

from ._cache import cached_jit, cached_overload
from ._typing import nb_result_type
from .fastexp import exp_fast
from .fastlog import log_normal
from .logdomain import (TINY, column_direct, column_weights, logsumexp_matvec_adjoints, logsumexp_matvec_grad_v,
                        logsumexp_vecmat_adjoints, logsumexp_vecmat_grad_v, table_at, vmax)
from .reductions import logsumexp

__all__ = ["carry_start", "carry_end", "logsumexp_vecmat_step", "logsumexp_matvec_step",
           "logsumexp_vecmat_step_grad_v", "logsumexp_matvec_step_grad_v",
           "logsumexp_vecmat_step_adjoints", "logsumexp_matvec_step_adjoints",
           "logsumexp_vecmat_steps", "logsumexp_matvec_steps",
           "logsumexp_vecmat_steps_adjoints", "logsumexp_matvec_steps_adjoints"]


def _carry_width(E):
    K = np.shape(E[0])[-1]
    return K, 4 * K + 1


def carry_start(E, n, v):
    """A carry tape for `n` steps of a product with table E (square matrices), row 0 the state of `v`."""
    K, W = _carry_width(E)
    S = np.zeros((n + 1, W))
    S[0, K:2 * K] = v
    return S


def logsumexp_vecmat_step(S, k, M, E, b, Eb=None):
    """Row k + 1 of carry tape S: the state of logsumexp(v[:, None] + M, axis=0) + b, v row k's state.
    Eb: b's own table (exp_shifted of the rows b is taken from, at b's row: `rt.table_at`), or None; compiled
    code then takes no exponential a step."""
    K = M.shape[0]
    v = S[k, K:2 * K]
    p = logsumexp(v[:, None] + M, 0)
    S[k, 3 * K:4 * K] = p
    S[k + 1, K:2 * K] = p + b


def logsumexp_matvec_step(S, k, M, E, b, Eb=None):
    """Row k + 1 of carry tape S: the state of logsumexp(M + v[None, :], axis=1) + b, v row k's state."""
    K = M.shape[0]
    v = S[k, K:2 * K]
    p = logsumexp(M + v[None, :], 1)
    S[k, 3 * K:4 * K] = p
    S[k + 1, K:2 * K] = p + b


def carry_end(S, n, like):
    """The log-domain vector of row n of carry tape S, with `like`'s dtype."""
    K = like.shape[0]
    return S[n, K:2 * K].astype(like.dtype)


def logsumexp_vecmat_step_grad_v(g, S, k, M, E):
    """The adjoint of row k's state v through its step's product, given the adjoint g of the product."""
    K = M.shape[0]
    return logsumexp_vecmat_grad_v(g, S[k, K:2 * K], M, E, S[k, 3 * K:4 * K])


def logsumexp_matvec_step_grad_v(g, S, k, M, E):
    K = M.shape[0]
    return logsumexp_matvec_grad_v(g, M, S[k, K:2 * K], E, S[k, 3 * K:4 * K])


def logsumexp_vecmat_step_adjoints(g, S, k, M, E, d_M):
    """Both adjoints of row k's step product: M's added into d_M, v's returned."""
    K = M.shape[0]
    return logsumexp_vecmat_adjoints(g, S[k, K:2 * K], M, E, S[k, 3 * K:4 * K], d_M)


def logsumexp_matvec_step_adjoints(g, S, k, M, E, d_M):
    K = M.shape[0]
    return logsumexp_matvec_adjoints(g, M, S[k, K:2 * K], E, S[k, 3 * K:4 * K], d_M)


DBL_MIN = 2.2250738585072014e-308


@register_jitable
def _log_pos(x):
    """log_normal as a function of its own (inlined into the carry kernels' branches, Numba's IR checks
    lose its variables' scopes)."""
    return log_normal(x)


@register_jitable
def _state_v(S, k, K, i):
    """v_i of the state in row k."""
    a = S[k, i]
    return S[k, 4 * K] + _log_pos(a) if a >= TINY else S[k, K + i]


@register_jitable
def _state_vector(S, k, K):
    v = np.empty(K)
    for i in range(K):
        v[i] = _state_v(S, k, K, i)
    return v


@register_jitable
def _set_state(S, k, K, x):
    """Row k's state from the exact log values x: a = exp(x - max x) (0 where that max is not finite or
    an entry is NaN: every entry then reads its log value)."""
    m = vmax(x)
    ok = np.isfinite(m)
    for i in range(K):
        ok = ok and x[i] == x[i]
    for i in range(K):
        S[k, i] = exp_fast(x[i] - m) if ok else 0.0
        S[k, K + i] = x[i]
    S[k, 4 * K] = m if ok else 0.0


@register_jitable
def _carry_start(E, n, v):
    K = E[0].shape[-1]
    if v.shape[0] != K:
        raise ValueError("log-domain carry: the vector's length differs from the matrix's")
    S = np.zeros((n + 1, 4 * K + 1))
    x = np.empty(K)
    for i in range(K):
        x[i] = v[i]
    _set_state(S, 0, K, x)
    return S


@register_jitable(inline="always")
def _check_step(S, M, b):
    I, J = M.shape
    if I != J or S.shape[1] != 4 * I + 1 or b.shape[0] != J:
        raise ValueError("log-domain carry: the matrix, the vector and the added vector disagree in shape")


@register_jitable(inline="always")
def _column(S, k, K, j, sj, ej, cj, bj):
    """Column j of row k's step from its scaled sum s_j = sum_i a_i E_ij and e_j = exp(c_j + b_j - z): keeps
    s_j and 1 / s_j (0 where the column takes the direct formula) in row k, q_j = s_j e_j in row k + 1; returns
    whether the scaled step loses nothing in this column."""
    S[k, 3 * K + j] = sj
    scaled = sj >= TINY and cj < np.inf
    S[k, 2 * K + j] = 1.0 / sj if scaled else 0.0
    S[k + 1, j] = sj * ej
    return scaled and (ej >= DBL_MIN or bj == -np.inf)


@register_jitable(inline="always")
def _scaled_sum(S, k, E, j, K):
    sj = 0.0
    for i in range(K):
        sj += S[k, i] * E[i, j]
    return sj


@register_jitable(inline="always")
def _step(S, k, M, E, c, b):
    """Row k + 1 of S from row k (vecmat orientation: v over the rows i of M, results over its columns j),
    in one pass over the columns (each column's sum, its bookkeeping and the check that nothing is lost);
    what it rarely needs, the exact step, is a kernel of its own."""
    _check_step(S, M, b)
    K = M.shape[0]
    z = -np.inf
    for j in range(K):
        zj = c[j] + b[j]
        z = zj if zj > z else z
    for j in range(K):                  # the exponentials on their own (a loop that vectorises)
        S[k + 1, j] = exp_fast(c[j] + b[j] - z)
    fast = np.isfinite(z)
    mq = 0.0
    for j in range(K):
        fast = _column(S, k, K, j, _scaled_sum(S, k, E, j, K), S[k + 1, j], c[j], b[j]) and fast
        q = S[k + 1, j]
        mq = q if q > mq else mq
    _next_state(S, k, M, c, b, z, fast, mq)


@register_jitable(inline="always")
def _step_table(S, k, M, E, c, g, b, e, d):
    """_step with b's table: e_j = exp(b_j - d), d b's finite maximum (+inf where b holds +inf or NaN),
    so exp(c_j + b_j - z) = g_j e_j with z = max c + d: no exponential."""
    _check_step(S, M, b)
    K = M.shape[0]
    if e.shape[0] != K:
        raise ValueError("log-domain carry: the added vector's table disagrees with it in shape")
    top = -np.inf
    for j in range(K):
        top = c[j] if c[j] < np.inf and c[j] > top else top
    z = (top if top > -np.inf else 0.0) + d
    fast = np.isfinite(z)
    mq = 0.0
    for j in range(K):
        fast = _column(S, k, K, j, _scaled_sum(S, k, E, j, K), g[j] * e[j], c[j], b[j]) and fast
        q = S[k + 1, j]
        mq = q if q > mq else mq
    _next_state(S, k, M, c, b, z, fast, mq)


@register_jitable(inline="always")
def _next_state(S, k, M, c, b, z, fast, mq):
    """Row k + 1 from q_j = s_j e_j (row k + 1's first K slots, their maximum mq): q scaled by mq where
    nothing is lost (no column direct, no entry below TINY of the largest unless b_j = -inf), else the
    exact log-domain step."""
    K = M.shape[0]
    if fast and mq >= DBL_MIN and mq < np.inf:
        lo = mq * TINY
        inv = 1.0 / mq
        for j in range(K):
            q = S[k + 1, j]
            fast = fast and (q >= lo or b[j] == -np.inf)
            a = q * inv
            S[k + 1, j] = a
            if a < TINY:                            # the exact log value is read only there: b_j = -inf
                S[k + 1, K + j] = -np.inf
        if fast:
            S[k + 1, 4 * K] = S[k, 4 * K] + z + _log_pos(mq)
            return
    _exact_step(S, k, M, c, b)


@cached_jit
def _exact_step(S, k, M, c, b):
    """Row k + 1 of S by the exact log-domain step (the scaled sum where it is safe, else the direct
    formula), from row k's scaled sums and their inverses (0 where direct)."""
    K = M.shape[0]
    L = S[k, 4 * K]
    v = _state_vector(S, k, K)
    x = np.empty(K)
    for j in range(K):
        sj = S[k, 3 * K + j]
        pj = L + c[j] + _log_pos(sj) if S[k, 2 * K + j] != 0.0 else column_direct(v, M, j)
        S[k, 3 * K + j] = pj
        x[j] = pj + b[j]
    _set_state(S, k + 1, K, x)


@cached_jit
def _step_spread(S, k, M, E, c, b):
    """_step for an added scalar or 1-vector b, spread over the columns (an allocation a step: only for that
    form, a kernel of its own)."""
    _step(S, k, M, E, c, np.zeros(M.shape[1]) + b)


@register_jitable(inline="always")
def _has_direct(S, k, K):
    """Whether a column of row k's step took the direct formula (its 1 / s_j is 0)."""
    direct = False
    for j in range(K):
        direct = direct or S[k, 2 * K + j] == 0.0
    return direct


@register_jitable(inline="always")
def _add_weights(S, k, K, E, R, r, o, d_M, with_M, out):
    """out_i = sum_j w_ij with w_ij = a_i E_ij R[r, o + j], the scaled forward-backward's weights when R[r, o + j]
    holds g_j / s_j (added into d_M when with_M)."""
    for i in range(K):
        ai = S[k, i]
        t = 0.0
        for j in range(K):
            w = ai * E[i, j] * R[r, o + j]
            if with_M:
                d_M[i, j] += w
            t += w
        out[i] = t


@register_jitable
def _step_adjoints(g, S, k, M, E, d_M, with_M, T):
    """The adjoint of row k's v through its step's product (g: the product's adjoint), M's added into d_M
    when with_M: the scaled forward-backward's weights a_i E_ij g_j / s_j, the direct formula's where
    the step took it."""
    K = M.shape[0]
    out = np.empty(K, T)
    R = np.empty((1, K))
    for j in range(K):
        R[0, j] = g[j] * S[k, 2 * K + j]
    _add_weights(S, k, K, E, R, 0, 0, d_M, with_M, out)
    if _has_direct(S, k, K):
        v = _state_vector(S, k, K)
        w = np.empty(K)
        for j in range(K):
            if S[k, 2 * K + j] == 0.0:
                column_weights(g[j], v, M, j, S[k, 3 * K + j], w)
                for i in range(K):
                    if with_M:
                        d_M[i, j] += w[i]
                    out[i] += w[i]
    return out


@cached_jit
def _step_adjoints_apart(g, S, k, M, E, d_M, with_M):
    """_step_adjoints in float64, into an array of its own."""
    return _step_adjoints(g, S, k, M, E, d_M, with_M, np.float64)


@register_jitable(inline="always")
def _step_adjoints_on_tape(g, S, k, M, E, d_M, with_M):
    """_step_adjoints (float64) without an allocation: the adjoint goes into row k's slots of exact log values,
    and the factors g_j / s_j into its slots of the product's log values, which only this call reads (where a
    column took the direct formula), once. Row 0's adjoint, the one the loop hands on, is an array of its own
    (no view of the tape outlives the function), as is the adjoint of a step that took the direct formula
    somewhere."""
    K = M.shape[0]
    direct = False
    for j in range(K):                  # g_j / s_j once a column, not once an entry (p_j kept where direct)
        r = S[k, 2 * K + j]
        direct = direct or r == 0.0
        if r != 0.0:
            S[k, 3 * K + j] = g[j] * r
    if k == 0 or direct:
        return _step_adjoints_apart(g, S, k, M, E, d_M, with_M)
    out = S[k, K:2 * K]
    _add_weights(S, k, K, E, S, k, 3 * K, d_M, with_M, out)
    return out


@cached_overload(carry_start)
def _carry_start_nb(E, n, v):
    return lambda E, n, v: _carry_start(E, n, v)


@cached_overload(carry_end)
def _carry_end_nb(S, n, like):
    T = like.dtype

    def impl(S, n, like):
        K = (S.shape[1] - 1) // 4
        out = np.empty(K, T)
        for i in range(K):
            out[i] = _state_v(S, n, K, i)
        return out
    return impl


def _no_table(Eb):
    return Eb is None or isinstance(Eb, (types.NoneType, types.Omitted))


def _vector(b):
    return isinstance(b, types.Array) and b.ndim == 1


# The steps and their adjoints stay kernels called by symbol: inlined into the generated loop (overload
# inline="always") they ran 1.4x faster at K=5, but typing them in every generated function took the HMM
# E-step's cold first call from 0.8 s to 11 s of CPU. What they rarely need are kernels of their own
# (_exact_step, _step_spread, _step_adjoints_apart).
@cached_overload(logsumexp_vecmat_step)
def _vecmat_step_nb(S, k, M, E, b, Eb=None):
    if not _no_table(Eb) and _vector(b):
        return lambda S, k, M, E, b, Eb=None: _step_table(S, k, M, E[0], E[1], E[2], b, Eb[0], Eb[1])
    if _vector(b):
        return lambda S, k, M, E, b, Eb=None: _step(S, k, M, E[0], E[1], b) if b.shape[0] != 1 else \
            _step_spread(S, k, M, E[0], E[1], b)
    return lambda S, k, M, E, b, Eb=None: _step_spread(S, k, M, E[0], E[1], b)


@cached_overload(logsumexp_matvec_step)
def _matvec_step_nb(S, k, M, E, b, Eb=None):
    if not _no_table(Eb) and _vector(b):
        return lambda S, k, M, E, b, Eb=None: _step_table(S, k, M.T, E[0].T, E[1], E[2], b, Eb[0], Eb[1])
    if _vector(b):
        return lambda S, k, M, E, b, Eb=None: _step(S, k, M.T, E[0].T, E[1], b) if b.shape[0] != 1 else \
            _step_spread(S, k, M.T, E[0].T, E[1], b)
    return lambda S, k, M, E, b, Eb=None: _step_spread(S, k, M.T, E[0].T, E[1], b)


def _adjoints_impl(g, M, transposed, with_M):
    """The implementation of a step's adjoints (only v's when not with_M: the tape stands in for d_M, unused),
    on the tape where the adjoint is float64."""
    T = nb_result_type(g, M)
    on_tape = T is np.float64      # (nb_result_type gives the NumPy scalar class)
    if with_M and transposed:
        return (lambda g, S, k, M, E, d_M: _step_adjoints_on_tape(g, S, k, M.T, E[0].T, d_M.T, True)) if on_tape \
            else (lambda g, S, k, M, E, d_M: _step_adjoints(g, S, k, M.T, E[0].T, d_M.T, True, T))
    if with_M:
        return (lambda g, S, k, M, E, d_M: _step_adjoints_on_tape(g, S, k, M, E[0], d_M, True)) if on_tape \
            else (lambda g, S, k, M, E, d_M: _step_adjoints(g, S, k, M, E[0], d_M, True, T))
    if transposed:
        return (lambda g, S, k, M, E: _step_adjoints_on_tape(g, S, k, M.T, E[0].T, S, False)) if on_tape \
            else (lambda g, S, k, M, E: _step_adjoints(g, S, k, M.T, E[0].T, S, False, T))
    return (lambda g, S, k, M, E: _step_adjoints_on_tape(g, S, k, M, E[0], S, False)) if on_tape \
        else (lambda g, S, k, M, E: _step_adjoints(g, S, k, M, E[0], S, False, T))


@cached_overload(logsumexp_vecmat_step_grad_v)
def _vecmat_step_grad_v_nb(g, S, k, M, E):
    return _adjoints_impl(g, M, False, False)


@cached_overload(logsumexp_matvec_step_grad_v)
def _matvec_step_grad_v_nb(g, S, k, M, E):
    return _adjoints_impl(g, M, True, False)


@cached_overload(logsumexp_vecmat_step_adjoints)
def _vecmat_step_adjoints_nb(g, S, k, M, E, d_M):
    return _adjoints_impl(g, M, False, True)


@cached_overload(logsumexp_matvec_step_adjoints)
def _matvec_step_adjoints_nb(g, S, k, M, E, d_M):
    return _adjoints_impl(g, M, True, True)


# ---- whole loops: every step of a carried recursion in one call -----------------------------------------------
# A loop whose body is only the step (and the added vector's row of an array the loop leaves unchanged, with its
# table's row) calls one of these instead of a step per iteration (transforms/logdomain_carries.py): a call of a
# kernel passes each array as its seven to nine fields, some 58 arguments a step, which cost as much as the
# step's own arithmetic at K=5. Their compiled loops write the step out (not the per-step functions, inlined or
# called: the reference counting of their array arguments and of a view a step cost as much again), invariants
# taken once, rows read by index: the HMM E-step at K=5, T=10 000 went from 1.46 ms to 0.55 ms (the
# hand-written scaled forward-backward in Numba: 0.64 ms), the same arithmetic.

def logsumexp_vecmat_steps(S, first, stop, M, E, X, XE, idx=None):
    """The steps of carry tape S's rows t - first for t in range(first, stop) (logsumexp_vecmat_step), the
    added vector of row t being X[u] with its table's row table_at(XE, u), u = idx[t] (u = t where idx is None)."""
    for t in range(first, stop):
        u = t if idx is None else idx[t]
        logsumexp_vecmat_step(S, t - first, M, E, X[u], table_at(XE, u))


def logsumexp_matvec_steps(S, first, stop, M, E, X, XE, idx=None):
    """logsumexp_vecmat_steps of logsumexp_matvec_step."""
    for t in range(first, stop):
        u = t if idx is None else idx[t]
        logsumexp_matvec_step(S, t - first, M, E, X[u], table_at(XE, u))


def logsumexp_vecmat_steps_adjoints(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
    """The adjoint of the vector the steps of logsumexp_vecmat_steps(S, first, stop, M, E, X, XE, idx) start
    from, g the adjoint of the last step's result: for t from stop - 1 down to first, g is added into d_X[u]
    (the adjoint of the added vector X[u]; not where d_X is None), then taken through the step's product,
    M's adjoint added into d_M (not where d_M is None)."""
    for t in range(stop - 1, first - 1, -1):
        u = t if idx is None else idx[t]
        if d_X is not None:
            d_X[u] += g
        g = logsumexp_vecmat_step_grad_v(g, S, t - first, M, E) if d_M is None else \
            logsumexp_vecmat_step_adjoints(g, S, t - first, M, E, d_M)
    return g


def logsumexp_matvec_steps_adjoints(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
    """logsumexp_vecmat_steps_adjoints of logsumexp_matvec_step."""
    for t in range(stop - 1, first - 1, -1):
        u = t if idx is None else idx[t]
        if d_X is not None:
            d_X[u] += g
        g = logsumexp_matvec_step_grad_v(g, S, t - first, M, E) if d_M is None else \
            logsumexp_matvec_step_adjoints(g, S, t - first, M, E, d_M)
    return g


# (the inlined helpers have no branch: a branch inside an inlined function upsets Numba's IR checks)
@register_jitable(inline="always")
def _wrapped(i, n):
    """Index i of an axis of length n, negative ones from its end as Python's indexing does; -1 where it is out
    of range (the caller raises)."""
    j = i + n * (i < 0)
    ok = (j >= 0) & (j < n)
    return j * ok - 1 + ok


@register_jitable(inline="always")
def _by_counter(idx, t, n):
    return _wrapped(t, n)


@register_jitable(inline="always")
def _by_index(idx, t, n):
    return _wrapped(idx[t + idx.shape[0] * (t < 0)], n)     # (t in range: _check_index)


@register_jitable(inline="always")
def _no_index(idx, t, n):
    return 0


@register_jitable
def _check_index(idx, first, stop):
    """Every t in range(first, stop) is an index of idx."""
    if stop > first and (first < -idx.shape[0] or stop > idx.shape[0]):
        raise IndexError("log-domain recursion: the loop's counter is out of the index array's range")


@register_jitable
def _no_check(idx, first, stop):
    pass


@register_jitable
def _out_of_range():
    raise IndexError("log-domain recursion: an index of the added vector's array is out of range")


@register_jitable
def _check_rows(S, first, stop):
    if stop - first > S.shape[0] - 1:
        raise IndexError("log-domain recursion: more steps than the carry tape has rows")


@register_jitable(inline="always")
def _add_none(d_X, u, g):
    pass


@register_jitable
def _check_sink(d_X, K):
    if d_X is not None and d_X.shape[1] != K:
        raise ValueError("log-domain recursion: the added vector's adjoint disagrees with its array in shape")


@register_jitable(inline="always")
def _add_row(d_X, u, g):
    for i in range(g.shape[0]):
        d_X[u, i] += g[i]


@register_jitable
def _top_shift(c):
    """The largest finite entry of the columns' shifts c (0 where there is none): z of a step with b's table is
    it plus b's shift d (as _step_table takes it)."""
    top = -np.inf
    for j in range(c.shape[0]):
        top = c[j] if c[j] < np.inf and c[j] > top else top
    return top if top > -np.inf else 0.0


@register_jitable
def _check_steps(S, M, X, XE0):
    """_check_step and _step_table's check of b's table, once for all the steps."""
    I, J = M.shape
    if I != J or S.shape[1] != 4 * I + 1 or X.shape[1] != J:
        raise ValueError("log-domain carry: the matrix, the vector and the added vector disagree in shape")
    if XE0.shape[1] != J:
        raise ValueError("log-domain carry: the added vector's table disagrees with it in shape")


def _steps_impl(transposed, idx):
    """Every step of _step_table in one loop, the same arithmetic: the invariants (shapes, the shifts' maximum)
    taken once, b = X[u] and its table's row read by index, the exact step (a kernel of its own) where a step
    needs it. The step is written out here: as a function inlined by Numba (or called) it ran 1.6x slower at
    K=5, the reference counting of its array arguments (and of a view a step) as much as its arithmetic."""
    at = _by_counter if _no_table(idx) else _by_index
    check = _no_check if _no_table(idx) else _check_index
    orient = _transposed if transposed else _same

    def impl(S, first, stop, M, E, X, XE, idx=None):
        _check_rows(S, first, stop)
        check(idx, first, stop)
        if stop <= first:
            return
        Mo, E0, c, G, XE0, XD = orient(M), orient(E[0]), E[1], E[2], XE[0], XE[1]
        _check_steps(S, Mo, X, XE0)
        K = Mo.shape[0]
        top = _top_shift(c)
        for t in range(first, stop):
            u = at(idx, t, X.shape[0])
            if u < 0:
                _out_of_range()
            k = t - first
            z = top + XD[u]
            ok = np.isfinite(z)
            mq = 0.0
            for j in range(K):                                  # as _column
                sj = 0.0
                for i in range(K):
                    sj += S[k, i] * E0[i, j]
                ej = G[j] * XE0[u, j]
                S[k, 3 * K + j] = sj
                scaled = (sj >= TINY) & (c[j] < np.inf)
                S[k, 2 * K + j] = 1.0 / sj if scaled else 0.0
                q = sj * ej
                S[k + 1, j] = q
                ok = ok & scaled & ((ej >= DBL_MIN) | (X[u, j] == -np.inf))
                mq = q if q > mq else mq
            ok = ok & (mq >= DBL_MIN) & (mq < np.inf)          # as _next_state
            lo = mq * TINY
            inv = 1.0 / mq if ok else 0.0
            for j in range(K):
                q = S[k + 1, j]
                ok = ok & ((q >= lo) | (X[u, j] == -np.inf))
                a = q * inv
                S[k + 1, j] = a
                if a < TINY:
                    S[k + 1, K + j] = -np.inf
            if ok:
                S[k + 1, 4 * K] = S[k, 4 * K] + z + _log_pos(mq)
            else:
                _exact_step(S, k, Mo, c, X[u])
    return impl


@cached_overload(logsumexp_vecmat_steps)
def _vecmat_steps_nb(S, first, stop, M, E, X, XE, idx=None):
    return _steps_impl(False, idx)


@cached_overload(logsumexp_matvec_steps)
def _matvec_steps_nb(S, first, stop, M, E, X, XE, idx=None):
    return _steps_impl(True, idx)


@register_jitable(inline="always")
def _rows(d_X):
    return d_X.shape[0]


@register_jitable(inline="always")
def _no_rows(d_X):
    return 0


@register_jitable(inline="always")
def _same(A):
    return A


@register_jitable(inline="always")
def _transposed(A):
    return A.T


@register_jitable(inline="always")
def _adjoint_apart_M(g, S, k, M, E0, d_M, T):
    return _step_adjoints(g, S, k, M, E0, d_M, True, T)


@register_jitable(inline="always")
def _adjoint_apart_v(g, S, k, M, E0, d_M, T):
    return _step_adjoints(g, S, k, M, E0, S, False, T)


@register_jitable(inline="always")
def _tape_sink(d_M, S):
    return S


@register_jitable(inline="always")
def _sink_transposed(d_M, S):
    return d_M.T


@register_jitable(inline="always")
def _sink_same(d_M, S):
    return d_M


@register_jitable
def _check_adjoint(g, K):
    if g.shape[0] != K:
        raise ValueError("log-domain recursion: the adjoint disagrees with the matrix in shape")


def _steps_adjoints_impl(g, M, d_M, d_X, idx, transposed):
    """The loop of the steps' adjoints, as _adjoints_impl's per step: on the tape where the adjoint is float64
    (_steps_adjoints_on_tape's loop), else its first step peeled (the adjoint it starts from may be of another
    type than the steps' results)."""
    T = nb_result_type(g, M)
    with_M = not _no_table(d_M)
    at = _no_index if _no_table(d_X) else _by_counter if _no_table(idx) else _by_index
    check = _no_check if _no_table(d_X) or _no_table(idx) else _check_index
    add, rows = (_add_none, _no_rows) if _no_table(d_X) else (_add_row, _rows)
    orient = _transposed if transposed else _same
    if T is np.float64:
        sink = (_sink_transposed if transposed else _sink_same) if with_M else _tape_sink
        return _steps_adjoints_on_tape(T, with_M, at, check, add, rows, orient, sink)
    adjoint = _adjoint_apart_M if with_M else _adjoint_apart_v
    sink = orient if with_M else _same

    def impl(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
        _check_rows(S, first, stop)
        if stop <= first:
            return g.astype(T)      # (no step ran: the adjoint unchanged, typed as the steps' results)
        _check_sink(d_X, g.shape[0])
        check(idx, first, stop)
        n = rows(d_X)
        t = stop - 1
        u = at(idx, t, n)
        if u < 0:
            _out_of_range()
        add(d_X, u, g)
        h = adjoint(g, S, t - first, orient(M), orient(E[0]), sink(d_M), T)
        for t in range(stop - 2, first - 1, -1):
            u = at(idx, t, n)
            if u < 0:
                _out_of_range()
            add(d_X, u, h)
            h = adjoint(h, S, t - first, orient(M), orient(E[0]), sink(d_M), T)
        return h
    return impl


def _steps_adjoints_on_tape(T, with_M, at, check, add, rows, orient, sink):
    """The steps' adjoints in float64, each as _step_adjoints_on_tape's (the same arithmetic, the adjoint also
    in row k's slots of exact log values), written out in one loop as _steps_impl's steps are, the adjoint
    carried in an array of the loop's own; _step_adjoints_apart where a step took the direct formula, and at
    row 0."""
    def impl(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
        _check_rows(S, first, stop)
        if stop <= first:
            return g.astype(T)
        _check_sink(d_X, g.shape[0])
        check(idx, first, stop)
        n = rows(d_X)
        Mo, E0, dM = orient(M), orient(E[0]), sink(d_M, S)
        K = Mo.shape[0]
        _check_adjoint(g, K)
        h = np.empty(K)
        for i in range(K):
            h[i] = g[i]
        for t in range(stop - 1, first - 1, -1):
            u = at(idx, t, n)
            if u < 0:
                _out_of_range()
            add(d_X, u, h)
            k = t - first
            direct = k == 0
            for j in range(K):              # g_j / s_j once a column (p_j kept where direct)
                r = S[k, 2 * K + j]
                direct = direct | (r == 0.0)
                if r != 0.0:
                    S[k, 3 * K + j] = h[j] * r
            if direct:
                out = _step_adjoints_apart(h, S, k, Mo, E0, dM, with_M)
                for i in range(K):
                    h[i] = out[i]
                continue
            for i in range(K):              # as _add_weights
                ai = S[k, i]
                acc = 0.0
                for j in range(K):
                    w = ai * E0[i, j] * S[k, 3 * K + j]
                    if with_M:
                        dM[i, j] += w
                    acc += w
                S[k, K + i] = acc
                h[i] = acc
        return h
    return impl


@cached_overload(logsumexp_vecmat_steps_adjoints)
def _vecmat_steps_adjoints_nb(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
    return _steps_adjoints_impl(g, M, d_M, d_X, idx, False)


@cached_overload(logsumexp_matvec_steps_adjoints)
def _matvec_steps_adjoints_nb(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
    return _steps_adjoints_impl(g, M, d_M, d_X, idx, True)
