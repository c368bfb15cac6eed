"""Log-domain vector-matrix products: logsumexp(v[:, None] + M, axis=0) and logsumexp(M + v[None, :],
axis=1), with a table of exponentials of M computed once (transforms/logdomain.py hoists it out of
the loop that uses it).

`exp_shifted(M, axis)` is the table `(exp(M - c), c)` with `c` the finite maximum of M along the
summed axis, so every entry is in [0, 1] (a column holding +inf or NaN is marked by c = +inf). A product then needs one exponential per vector entry:

    logsumexp_i(v_i + M_ij) = m + c_j + log(sum_i exp(v_i - m) * E_ij),    m = max(v)

Where the scaled sum underflows (below 1e-280) or is not finite, that column is computed by the
direct formula, so results agree with `logsumexp` to rounding; -inf entries get exact zero weights
and +inf results share their adjoint among the +inf entries, as `logsumexp_grad` does. In plain
Python the functions use the direct formula (the table is only an accelerator for compiled code).

Scale tapes (jitted loops, transforms/logdomain.py `tape_scales`): the forward sweep's product keeps
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
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable

from .fastexp import float_from_bits, exp_fast
from .reductions import logsumexp, logsumexp_grad
from ._typing import float_dtype, nb_float_type, nb_result_type
from ._cache import cached_overload

__all__ = ["exp_shifted", "table_at", "logsumexp_vecmat", "logsumexp_matvec",
           "logsumexp_vecmat_grad_v", "logsumexp_vecmat_grad_M",
           "logsumexp_matvec_grad_v", "logsumexp_matvec_grad_M",
           "logsumexp_vecmat_adjoints", "logsumexp_matvec_adjoints",
           "scale_tape", "logsumexp_vecmat_scaled", "logsumexp_matvec_scaled",
           "logsumexp_vecmat_grad_v_scaled", "logsumexp_vecmat_grad_M_scaled",
           "logsumexp_matvec_grad_v_scaled", "logsumexp_matvec_grad_M_scaled",
           "logsumexp_vecmat_adjoints_scaled", "logsumexp_matvec_adjoints_scaled",
           "carry_start", "carry_end", "logsumexp_vecmat_step", "logsumexp_matvec_step",
           "logsumexp_vecmat_step_grad_v", "logsumexp_matvec_step_grad_v",
           "logsumexp_vecmat_step_adjoints", "logsumexp_matvec_step_adjoints"]

TINY = 1e-280
LOG_TINY = float(np.log(TINY))
_FEW = 8   # up to this many rows the kernels take each row's exponential inline (no scratch array)


# --- Python: the direct formula -----------------------------------------------------------------

def exp_shifted(M, axis):
    """(exp(M - c), c) with c the finite maximum of M along `axis` (0 where there is none)."""
    M = np.asarray(M, dtype=float_dtype(M.dtype))
    c = np.max(np.where(np.isfinite(M), M, -np.inf), axis=axis)
    c = np.where(np.isfinite(c), c, 0.0)
    c = np.where(np.any((M == np.inf) | np.isnan(M), axis=axis), np.inf, c)
    with np.errstate(invalid="ignore", over="ignore"):
        E = np.exp(M - np.expand_dims(c, axis))
    return np.where(np.expand_dims(c, axis) < np.inf, E, 0.0), c


def table_at(E, u):
    """The table of matrix `M[u]` from the table `E = exp_shifted(M, axis + 1)` of a stack M of matrices."""
    return E[0][u], E[1][u]


def logsumexp_vecmat(v, M, E):
    """logsumexp(v[:, None] + M, axis=0); E = exp_shifted(M, 0)."""
    return logsumexp(v[:, None] + M, 0)


def logsumexp_matvec(M, v, E):
    """logsumexp(M + v[None, :], axis=1); E = exp_shifted(M, 1)."""
    return logsumexp(M + v[None, :], 1)


def logsumexp_vecmat_grad_M(g, v, M, E, ans):
    """Adjoint of logsumexp_vecmat w.r.t. M: g[j] * exp(v[i] + M[i, j] - ans[j])."""
    return logsumexp_grad(g, v[:, None] + M, ans, 0)


def logsumexp_vecmat_grad_v(g, v, M, E, ans):
    """Adjoint of logsumexp_vecmat w.r.t. v: the row sums of its adjoint w.r.t. M."""
    return np.sum(logsumexp_vecmat_grad_M(g, v, M, E, ans), axis=1)


def logsumexp_matvec_grad_M(g, M, v, E, ans):
    """Adjoint of logsumexp_matvec w.r.t. M: g[i] * exp(M[i, j] + v[j] - ans[i])."""
    return logsumexp_grad(g, M + v[None, :], ans, 1)


def logsumexp_matvec_grad_v(g, M, v, E, ans):
    """Adjoint of logsumexp_matvec w.r.t. v: the column sums of its adjoint w.r.t. M."""
    return np.sum(logsumexp_matvec_grad_M(g, M, v, E, ans), axis=0)


def logsumexp_vecmat_adjoints(g, v, M, E, ans, d_M):
    """Both adjoints of logsumexp_vecmat in one pass: adds the adjoint of M into `d_M` (in place)
    and returns the adjoint of v."""
    w = logsumexp_vecmat_grad_M(g, v, M, E, ans)
    d_M += w
    return np.sum(w, axis=1)


def logsumexp_matvec_adjoints(g, M, v, E, ans, d_M):
    """Both adjoints of logsumexp_matvec in one pass: adds the adjoint of M into `d_M` (in place)
    and returns the adjoint of v."""
    w = logsumexp_matvec_grad_M(g, M, v, E, ans)
    d_M += w
    return np.sum(w, axis=0)


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


# --- Numba: log of a scaled sum --------------------------------------------------------------------------
@intrinsic
def _bits_of_float(typingctx, x):
    """The int64 holding the IEEE-754 bit pattern of the float64 `x`."""
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


_LN2_HI = 6.93147180369123816490e-01     # fdlibm's e_log.c: ln 2 in two parts, and its polynomial
_LN2_LO = 1.90821492927058770002e-10
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_LG1, _LG2, _LG3, _LG4, _LG5, _LG6, _LG7 = _LG


@register_jitable(inline="always")
def _log_normal(x):
    """log(x) for a normal positive finite x (the kernels' scaled sums, >= TINY), without a call into libm:
    fdlibm's algorithm (x = 2**k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)), log(1 + f) from s = f / (2 + f)
    by a degree-14 polynomial in s), within 1 ulp of libm's log. Computed in float64 (float32 sums too)."""
    bits = _bits_of_float(np.float64(x))
    k = (bits >> 52) - 1023
    m = float_from_bits((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)       # x / 2**k, in [1, 2)
    if m > 1.4142135623730951:
        m *= 0.5
        k += 1
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = w * (_LG2 + w * (_LG4 + w * _LG6)) + z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    dk = float(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


# --- Numba: kernels over the summed axis i of an (I, J) matrix -------------------------------------
# The matvec forms call them on transposed views (M.T), so one set of kernels serves both.

@register_jitable(inline="always")
def _vmax(v):
    m = -np.inf
    for i in range(v.shape[0]):
        m = v[i] if v[i] > m else m
    return m


@register_jitable
def _column(v, M, j):
    """logsumexp_i(v[i] + M[i, j]) by the direct formula."""
    mx = -np.inf
    for i in range(v.shape[0]):
        x = v[i] + M[i, j]
        if x != x:
            return x
        mx = x if x > mx else mx
    if not np.isfinite(mx):
        return mx
    t = 0.0
    for i in range(v.shape[0]):
        t += exp_fast(v[i] + M[i, j] - mx)
    return mx + np.log(t)


@register_jitable
def _column_weights(gj, v, M, j, aj, w):
    """w[i] = the adjoint of M[i, j] (direct formula) for column result aj and its adjoint gj."""
    n = v.shape[0]
    if aj == np.inf:
        k = 0.0
        for i in range(n):
            k += 1.0 if v[i] + M[i, j] == np.inf else 0.0
        for i in range(n):
            w[i] = gj / k if v[i] + M[i, j] == np.inf else 0.0
        return
    for i in range(n):
        x = v[i] + M[i, j]
        w[i] = 0.0 if x == -np.inf else gj * exp_fast(x - aj)


@register_jitable
def _table(M, T):
    """(E, c): E[i, j] = exp(M[i, j] - c[j]), c[j] the finite column maximum. A column holding +inf
    or NaN gets c[j] = +inf and zeros in E: the kernels then use the direct formula for it."""
    I, J = M.shape
    c = np.full(J, -np.inf)
    for i in range(I):
        for j in range(J):
            x = M[i, j]
            if x == np.inf or x != x:
                c[j] = np.inf
            elif x > c[j]:
                c[j] = x
    for j in range(J):
        c[j] = 0.0 if c[j] == -np.inf else c[j]
    E = np.empty((I, J), T)
    for i in range(I):
        for j in range(J):
            E[i, j] = exp_fast(M[i, j] - c[j]) if c[j] < np.inf else 0.0
    return E, c


@register_jitable(inline="always")
def _scales(v, m):
    """a[i] = exp(v[i] - m) (0 for every i when m is not finite), in a loop that vectorises."""
    a = np.empty(v.shape[0])
    for i in range(v.shape[0]):
        a[i] = exp_fast(v[i] - m)
    if not np.isfinite(m):
        for i in range(v.shape[0]):
            a[i] = 0.0
    return a


@register_jitable(inline="always")
def _product(v, M, E, c, T):
    I, J = M.shape
    out = np.zeros(J, T)      # the scaled sums, then the results
    m = _vmax(v)
    if I <= _FEW:
        finite = np.isfinite(m)
        for i in range(I):
            ai = exp_fast(v[i] - m) if finite else 0.0
            for j in range(J):
                out[j] += ai * E[i, j]
    else:
        a = _scales(v, m)
        for i in range(I):
            ai = a[i]
            for j in range(J):
                out[j] += ai * E[i, j]
    for j in range(J):
        sj = out[j]
        out[j] = m + c[j] + _log_normal(sj) if sj >= TINY and c[j] < np.inf else _column(v, M, j)
    return out


@register_jitable
def _scaled(m, cj, aj):
    """Whether column j's adjoint uses the scaled form: its scaled sum exp(aj - m - cj) >= TINY."""
    return np.isfinite(m) and np.isfinite(aj) and aj - m - cj >= LOG_TINY


@register_jitable(inline="always")
def _ratios(g, m, c, ans):
    """(r, direct): r[j] = g[j] / (scaled sum of column j) where the scaled form applies, else 0;
    direct tells whether some column needs the direct formula."""
    J = ans.shape[0]
    r = np.empty(J)
    direct = False
    for j in range(J):
        if _scaled(m, c[j], ans[j]):
            r[j] = g[j] * exp_fast(m + c[j] - ans[j])
        else:
            r[j] = 0.0
            direct = True
    return r, direct


@register_jitable(inline="always")
def _direct_columns(g, v, M, ans, m, c, d_M, d_v, with_M):
    """Adds the direct-formula adjoints of the columns the scaled form does not cover (into d_M
    too when with_M)."""
    for j in range(ans.shape[0]):
        if not _scaled(m, c[j], ans[j]):
            w = np.empty(v.shape[0])
            _column_weights(g[j], v, M, j, ans[j], w)
            for i in range(v.shape[0]):
                if with_M:
                    d_M[i, j] += w[i]
                d_v[i] += w[i]


@register_jitable
def _add_row(i, ai, E, r, d_M, out):
    """Row i of M's adjoint, ai * E[i, j] * r[j], added into d_M; its sum is v[i]'s adjoint."""
    t = 0.0
    for j in range(r.shape[0]):
        w = ai * E[i, j] * r[j]
        d_M[i, j] += w
        t += w
    out[i] = t


@register_jitable(inline="always")
def _adjoints(g, v, M, E, c, ans, d_M, T):
    """Adds the adjoint of M into d_M and returns the adjoint of v (d_M may be a transposed view)."""
    I, J = M.shape
    m = _vmax(v)
    r, direct = _ratios(g, m, c, ans)
    out = np.empty(I, T)
    if I <= _FEW:       # few rows: each exponential taken inline (no scratch array)
        finite = np.isfinite(m)
        for i in range(I):
            _add_row(i, exp_fast(v[i] - m) if finite else 0.0, E, r, d_M, out)
    else:
        a = _scales(v, m)
        for i in range(I):
            _add_row(i, a[i], E, r, d_M, out)
    if direct:
        _direct_columns(g, v, M, ans, m, c, d_M, out, True)
    return out


@register_jitable
def _grad_M(g, v, M, E, c, ans, T):
    out = np.zeros(M.shape, T)
    _adjoints(g, v, M, E, c, ans, out, T)
    return out


@register_jitable
def _grad_v(g, v, M, E, c, ans, T):
    I, J = M.shape
    m = _vmax(v)
    a = _scales(v, m)
    r, direct = _ratios(g, m, c, ans)
    out = np.empty(I, T)
    for i in range(I):
        t = 0.0
        for j in range(J):
            t += E[i, j] * r[j]
        out[i] = a[i] * t
    if direct:
        _direct_columns(g, v, M, ans, m, c, np.empty((0, 0)), out, False)
    return out


@register_jitable
def _table_along(M, axis, T):
    """The table of a matrix along `axis` (0: columns, 1: rows)."""
    if axis == 0:
        return _table(M, T)
    E, c = _table(M.T, T)
    return np.ascontiguousarray(E.T), c


@cached_overload(exp_shifted)
def _exp_shifted_nb(M, axis):
    T = nb_float_type(M)
    if M.ndim == 2:
        return lambda M, axis: _table_along(M, axis, T)

    def stack(M, axis):      # a stack of matrices M[u], each along its own axis - 1
        U, I, J = M.shape
        E = np.empty((U, I, J), T)
        c = np.empty((U, J if axis == 1 else I))
        for u in range(U):
            E[u], c[u] = _table_along(M[u], axis - 1, T)
        return E, c
    return stack


@overload(table_at)
def _table_at_nb(E, u):
    return lambda E, u: (E[0][u], E[1][u])


@cached_overload(logsumexp_vecmat)
def _vecmat_nb(v, M, E):
    T = nb_result_type(v, M)
    return lambda v, M, E: _product(v, M, E[0], E[1], T)


@cached_overload(logsumexp_matvec)
def _matvec_nb(M, v, E):
    T = nb_result_type(v, M)
    return lambda M, v, E: _product(v, M.T, E[0].T, E[1], T)


@cached_overload(logsumexp_vecmat_grad_M)
def _vecmat_grad_M_nb(g, v, M, E, ans):
    T = nb_result_type(v, M)
    return lambda g, v, M, E, ans: _grad_M(g, v, M, E[0], E[1], ans, T)


@cached_overload(logsumexp_vecmat_grad_v)
def _vecmat_grad_v_nb(g, v, M, E, ans):
    T = nb_result_type(v, M)
    return lambda g, v, M, E, ans: _grad_v(g, v, M, E[0], E[1], ans, T)


@cached_overload(logsumexp_matvec_grad_M)
def _matvec_grad_M_nb(g, M, v, E, ans):
    T = nb_result_type(v, M)
    return lambda g, M, v, E, ans: _grad_M(g, v, M.T, E[0].T, E[1], ans, T).T


@cached_overload(logsumexp_matvec_grad_v)
def _matvec_grad_v_nb(g, M, v, E, ans):
    T = nb_result_type(v, M)
    return lambda g, M, v, E, ans: _grad_v(g, v, M.T, E[0].T, E[1], ans, T)


@cached_overload(logsumexp_vecmat_adjoints)
def _vecmat_adjoints_nb(g, v, M, E, ans, d_M):
    T = nb_result_type(v, M)
    return lambda g, v, M, E, ans, d_M: _adjoints(g, v, M, E[0], E[1], ans, d_M, T)


@cached_overload(logsumexp_matvec_adjoints)
def _matvec_adjoints_nb(g, M, v, E, ans, d_M):
    T = nb_result_type(v, M)
    return lambda g, M, v, E, ans, d_M: _adjoints(g, v, M.T, E[0].T, E[1], ans, d_M.T, T)


# --- Numba: scale tapes ---------------------------------------------------------------------------------
# Row k of a scale tape: a[i] = exp(v[i] - m) for the summed axis i, then r[j] = 1 / s[j] for each result
# j (0 where column j took the direct formula).

@register_jitable(inline="always")
def _product_scaled(v, M, E, c, T, S, k):
    I, J = M.shape
    out = np.zeros(J, T)      # the scaled sums, then the results
    m = _vmax(v)
    finite = np.isfinite(m)
    for i in range(I):
        ai = exp_fast(v[i] - m) if finite else 0.0
        S[k, i] = ai
        for j in range(J):
            out[j] += ai * E[i, j]
    for j in range(J):
        sj = out[j]
        if sj >= TINY and c[j] < np.inf:
            out[j] = m + c[j] + _log_normal(sj)
            S[k, I + j] = 1.0 / sj
        else:
            out[j] = _column(v, M, j)
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
                _column_weights(g[j], v, M, j, ans[j], w)
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


# --- carries: a loop's log-domain vector kept in the probability domain -------------------------------------
# A jitted forward loop `x = logsumexp(v[:, None] + M, axis=0) + b; v = x` whose vector only feeds the next
# step (transforms/logdomain.py `carry_products`) keeps v as a row of a carry tape instead: row k holds the
# state the step of row k reads and what its adjoint needs,
#
#     [0, K)   a_i = exp(v_i - L), the largest 1        [2K, 3K)  r_j = 1 / s_j, 0 where column j is direct
#     [K, 2K)  v_i where a_i < TINY (exact log values)   [3K, 4K)  the product's log value p_j where direct
#     4K       L, the log of the scale
#
# and the step writes the next state into row k + 1: s_j = sum_i a_i E_ij, q_j = s_j exp(c_j + b_j - z)
# (z = max_j (c_j + b_j)), a'_j = q_j / max q, L' = L + z + log(max q): K exponentials (of b + c) and one
# logarithm a step, like the scaled forward algorithm. Where that would lose an entry (a scaled sum below
# TINY, an entry of the new state below TINY of the largest, a non-finite value) the step takes the exact
# log-domain values instead (the direct formula where a scaled sum underflows) and stores them, so every
# value agrees with the log-domain recursion to rounding, underflow included. In plain Python the rows
# keep only the exact log values (a = 0: every entry "deep") and the direct formula.

def _carry_width(E):
    K = np.shape(E[0])[-1]
    return K, 4 * K + 1


def carry_start(E, n, v):
    """A carry tape for `n` steps of a product with table E (square matrices), row 0 the state of `v`."""
    K, W = _carry_width(E)
    S = np.zeros((n + 1, W))
    S[0, K:2 * K] = v
    return S


def logsumexp_vecmat_step(S, k, M, E, b):
    """Row k + 1 of carry tape S: the state of logsumexp(v[:, None] + M, axis=0) + b, v row k's state."""
    K = M.shape[0]
    v = S[k, K:2 * K]
    p = logsumexp(v[:, None] + M, 0)
    S[k, 3 * K:4 * K] = p
    S[k + 1, K:2 * K] = p + b


def logsumexp_matvec_step(S, k, M, E, b):
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
    """_log_normal as a function of its own (inlined into the carry kernels' branches, Numba's IR checks
    lose its variables' scopes)."""
    return _log_normal(x)


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
    m = _vmax(x)
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


@register_jitable
def _step(S, k, M, E, c, b):
    """Row k + 1 of S from row k (vecmat orientation: v over the rows i of M, results over its columns j)."""
    I, J = M.shape
    if I != J or S.shape[1] != 4 * I + 1 or b.shape[0] != J:
        raise ValueError("log-domain carry: the matrix, the vector and the added vector disagree in shape")
    K = I
    L = S[k, 4 * K]
    for j in range(K):                  # the scaled sums, kept in the ans slots meanwhile
        sj = 0.0
        for i in range(K):
            sj += S[k, i] * E[i, j]
        S[k, 3 * K + j] = sj
    z = -np.inf
    for j in range(K):
        zj = c[j] + b[j]
        z = zj if zj > z else z
    fast = np.isfinite(z)
    for j in range(K):                  # the exponentials on their own (a loop that vectorises)
        S[k + 1, j] = exp_fast(c[j] + b[j] - z)
    mq = 0.0
    for j in range(K):
        sj = S[k, 3 * K + j]
        direct = not (sj >= TINY and c[j] < np.inf)
        S[k, 2 * K + j] = 0.0 if direct else 1.0 / sj
        fast = fast and not direct
        e = S[k + 1, j]
        q = sj * e
        S[k + 1, j] = q
        mq = q if q > mq else mq
        fast = fast and (e >= DBL_MIN or b[j] == -np.inf)
    if fast and mq >= DBL_MIN and mq < np.inf:
        lo = mq * TINY
        for j in range(K):
            q = S[k + 1, j]
            if q < lo and b[j] != -np.inf:
                fast = False
    if fast and mq >= DBL_MIN and mq < np.inf:
        inv = 1.0 / mq
        for j in range(K):
            S[k + 1, j] *= inv
            S[k + 1, K + j] = -np.inf               # read only where a = 0: b_j = -inf
        S[k + 1, 4 * K] = L + z + _log_pos(mq)
        return
    # the exact log-domain step (the scaled sum where it is safe, else the direct formula)
    v = _state_vector(S, k, K)
    x = np.empty(K)
    for j in range(K):
        sj = S[k, 3 * K + j]
        pj = L + c[j] + _log_pos(sj) if S[k, 2 * K + j] != 0.0 else _column(v, M, j)
        S[k, 3 * K + j] = pj
        x[j] = pj + b[j]
    _set_state(S, k + 1, K, x)


@register_jitable
def _step_adjoints(g, S, k, M, E, d_M, with_M, T):
    """The adjoint of row k's v through its step's product (g: the product's adjoint), M's added into d_M
    when with_M: the scaled forward-backward's weights a_i E_ij g_j / s_j, the direct formula's where
    the step took it."""
    I, J = M.shape
    K = I
    out = np.empty(K, T)
    direct = False
    for j in range(K):
        direct = direct or S[k, 2 * K + j] == 0.0
    for i in range(K):
        ai = S[k, i]
        t = 0.0
        for j in range(K):
            w = ai * E[i, j] * (g[j] * S[k, 2 * K + j])
            if with_M:
                d_M[i, j] += w
            t += w
        out[i] = t
    if direct:
        v = _state_vector(S, k, K)
        w = np.empty(K)
        for j in range(K):
            if S[k, 2 * K + j] == 0.0:
                _column_weights(g[j], v, M, j, S[k, 3 * K + j], w)
                for i in range(K):
                    if with_M:
                        d_M[i, j] += w[i]
                    out[i] += w[i]
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


@cached_overload(logsumexp_vecmat_step)
def _vecmat_step_nb(S, k, M, E, b):
    if isinstance(b, types.Array) and b.ndim == 1:
        return lambda S, k, M, E, b: _step(S, k, M, E[0], E[1], b) if b.shape[0] != 1 else \
            _step(S, k, M, E[0], E[1], np.full(M.shape[1], b[0]))
    return lambda S, k, M, E, b: _step(S, k, M, E[0], E[1], np.full(M.shape[1], b))


@cached_overload(logsumexp_matvec_step)
def _matvec_step_nb(S, k, M, E, b):
    if isinstance(b, types.Array) and b.ndim == 1:
        return lambda S, k, M, E, b: _step(S, k, M.T, E[0].T, E[1], b) if b.shape[0] != 1 else \
            _step(S, k, M.T, E[0].T, E[1], np.full(M.shape[0], b[0]))
    return lambda S, k, M, E, b: _step(S, k, M.T, E[0].T, E[1], np.full(M.shape[0], b))


@cached_overload(logsumexp_vecmat_step_grad_v)
def _vecmat_step_grad_v_nb(g, S, k, M, E):
    T = nb_result_type(g, M)
    return lambda g, S, k, M, E: _step_adjoints(g, S, k, M, E[0], np.empty((0, 0)), False, T)


@cached_overload(logsumexp_matvec_step_grad_v)
def _matvec_step_grad_v_nb(g, S, k, M, E):
    T = nb_result_type(g, M)
    return lambda g, S, k, M, E: _step_adjoints(g, S, k, M.T, E[0].T, np.empty((0, 0)), False, T)


@cached_overload(logsumexp_vecmat_step_adjoints)
def _vecmat_step_adjoints_nb(g, S, k, M, E, d_M):
    T = nb_result_type(g, M)
    return lambda g, S, k, M, E, d_M: _step_adjoints(g, S, k, M, E[0], d_M, True, T)


@cached_overload(logsumexp_matvec_step_adjoints)
def _matvec_step_adjoints_nb(g, S, k, M, E, d_M):
    T = nb_result_type(g, M)
    return lambda g, S, k, M, E, d_M: _step_adjoints(g, S, k, M.T, E[0].T, d_M.T, True, T)
