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
instead (transforms/logdomain_loops.py, runtime/logdomain_steps.py): one call for all the steps, the same
arithmetic; the step's pieces they share are public here for that module.
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
           "logsumexp_vecmat_step_adjoints", "logsumexp_matvec_step_adjoints"]


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
def log_pos(x):
    """log_normal as a function of its own (inlined into the carry kernels' branches, Numba's IR checks
    lose its variables' scopes)."""
    return log_normal(x)


@register_jitable
def _state_v(S, k, K, i):
    """v_i of the state in row k."""
    a = S[k, i]
    return S[k, 4 * K] + log_pos(a) if a >= TINY else S[k, K + i]


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
def column(S, k, K, j, sj, ej, cj, bj):
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
        fast = column(S, k, K, j, _scaled_sum(S, k, E, j, K), S[k + 1, j], c[j], b[j]) and fast
        q = S[k + 1, j]
        mq = q if q > mq else mq
    next_state(S, k, M, c, b, z, fast, mq)


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
        fast = column(S, k, K, j, _scaled_sum(S, k, E, j, K), g[j] * e[j], c[j], b[j]) and fast
        q = S[k + 1, j]
        mq = q if q > mq else mq
    next_state(S, k, M, c, b, z, fast, mq)


@register_jitable(inline="always")
def next_state(S, k, M, c, b, z, fast, mq):
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
            S[k + 1, 4 * K] = S[k, 4 * K] + z + log_pos(mq)
            return
    exact_step(S, k, M, c, b)


@cached_jit
def exact_step(S, k, M, c, b):
    """Row k + 1 of S by the exact log-domain step (the scaled sum where it is safe, else the direct
    formula), from row k's scaled sums and their inverses (0 where direct)."""
    K = M.shape[0]
    L = S[k, 4 * K]
    v = _state_vector(S, k, K)
    x = np.empty(K)
    for j in range(K):
        sj = S[k, 3 * K + j]
        pj = L + c[j] + log_pos(sj) if S[k, 2 * K + j] != 0.0 else column_direct(v, M, j)
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
def add_weights(S, k, K, E, R, r, o, d_M, with_M, out):
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
def step_adjoints(g, S, k, M, E, d_M, with_M, T):
    """The adjoint of row k's v through its step's product (g: the product's adjoint), M's added into d_M
    when with_M: the scaled forward-backward's weights a_i E_ij g_j / s_j, the direct formula's where
    the step took it."""
    K = M.shape[0]
    out = np.empty(K, T)
    R = np.empty((1, K))
    for j in range(K):
        R[0, j] = g[j] * S[k, 2 * K + j]
    add_weights(S, k, K, E, R, 0, 0, d_M, with_M, out)
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
def step_adjoints_apart(g, S, k, M, E, d_M, with_M):
    """step_adjoints in float64, into an array of its own."""
    return step_adjoints(g, S, k, M, E, d_M, with_M, np.float64)


@register_jitable(inline="always")
def _step_adjoints_on_tape(g, S, k, M, E, d_M, with_M):
    """step_adjoints (float64) without an allocation: the adjoint goes into row k's slots of exact log values,
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
        return step_adjoints_apart(g, S, k, M, E, d_M, with_M)
    out = S[k, K:2 * K]
    add_weights(S, k, K, E, S, k, 3 * K, d_M, with_M, out)
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


def no_table(Eb):
    return Eb is None or isinstance(Eb, (types.NoneType, types.Omitted))


def _vector(b):
    return isinstance(b, types.Array) and b.ndim == 1


# The steps and their adjoints stay kernels called by symbol: inlined into the generated loop (overload
# inline="always") they ran 1.4x faster at K=5, but typing them in every generated function took the HMM
# E-step's cold first call from 0.8 s to 11 s of CPU. What they rarely need are kernels of their own
# (exact_step, _step_spread, step_adjoints_apart).
@cached_overload(logsumexp_vecmat_step)
def _vecmat_step_nb(S, k, M, E, b, Eb=None):
    if not no_table(Eb) and _vector(b):
        return lambda S, k, M, E, b, Eb=None: _step_table(S, k, M, E[0], E[1], E[2], b, Eb[0], Eb[1])
    if _vector(b):
        return lambda S, k, M, E, b, Eb=None: _step(S, k, M, E[0], E[1], b) if b.shape[0] != 1 else \
            _step_spread(S, k, M, E[0], E[1], b)
    return lambda S, k, M, E, b, Eb=None: _step_spread(S, k, M, E[0], E[1], b)


@cached_overload(logsumexp_matvec_step)
def _matvec_step_nb(S, k, M, E, b, Eb=None):
    if not no_table(Eb) and _vector(b):
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
            else (lambda g, S, k, M, E, d_M: step_adjoints(g, S, k, M.T, E[0].T, d_M.T, True, T))
    if with_M:
        return (lambda g, S, k, M, E, d_M: _step_adjoints_on_tape(g, S, k, M, E[0], d_M, True)) if on_tape \
            else (lambda g, S, k, M, E, d_M: step_adjoints(g, S, k, M, E[0], d_M, True, T))
    if transposed:
        return (lambda g, S, k, M, E: _step_adjoints_on_tape(g, S, k, M.T, E[0].T, S, False)) if on_tape \
            else (lambda g, S, k, M, E: step_adjoints(g, S, k, M.T, E[0].T, S, False, T))
    return (lambda g, S, k, M, E: _step_adjoints_on_tape(g, S, k, M, E[0], S, False)) if on_tape \
        else (lambda g, S, k, M, E: step_adjoints(g, S, k, M, E[0], S, False, T))


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
