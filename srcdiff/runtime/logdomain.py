"""Log-domain vector-matrix products: logsumexp(v[:, None] + M, axis=0) and logsumexp(M + v[None, :],
axis=1), with a table of exponentials of M computed once (transforms/logdomain.py hoists it out of
the loop that uses it).

`exp_shifted(M, axis)` is the table `(exp(M - c), c, g)` with `c` the finite maximum of M along the
summed axis, so every entry is in [0, 1] (a column holding +inf or NaN is marked by c = +inf), and
g = exp(c - max c). A product then needs one exponential per vector entry:

    logsumexp_i(v_i + M_ij) = m + c_j + log(sum_i exp(v_i - m) * E_ij),    m = max(v)

Where the scaled sum underflows (below 1e-280) or is not finite, that column is computed by the
direct formula, so results agree with `logsumexp` to rounding; -inf entries get exact zero weights
and +inf results share their adjoint among the +inf entries, as `logsumexp_grad` does. In plain
Python the functions use the direct formula (the table is only an accelerator for compiled code).

The scale tapes of jitted loops are in logdomain_scales.py, the probability-domain carries of a
recursion in logdomain_carries.py; both build on the kernels here.
"""
import numpy as np
from numba.extending import overload, register_jitable

from .fastexp import exp_fast
from .fastlog import log_normal
from .reductions import logsumexp, logsumexp_grad
from ._typing import float_dtype, nb_float_type, nb_result_type
from ._cache import cached_overload

__all__ = ["exp_shifted", "table_at", "logsumexp_vecmat", "logsumexp_matvec",
           "logsumexp_vecmat_grad_v", "logsumexp_vecmat_grad_M",
           "logsumexp_matvec_grad_v", "logsumexp_matvec_grad_M",
           "logsumexp_vecmat_adjoints", "logsumexp_matvec_adjoints"]

TINY = 1e-280
LOG_TINY = float(np.log(TINY))
_FEW = 8   # up to this many rows the kernels take each row's exponential inline (no scratch array)


# --- Python: the direct formula -----------------------------------------------------------------

def exp_shifted(M, axis):
    """(exp(M - c), c, g) with c the finite maximum of M along `axis` (0 where there is none, +inf where a
    +inf or NaN is) and g = exp(c - max c), the shifts' own scales (max over the finite ones, per matrix of
    a stack; 0 where c is +inf): a carried recursion's step (logdomain_carries.py) multiplies by them."""
    M = np.asarray(M, dtype=float_dtype(M.dtype))
    c = np.max(np.where(np.isfinite(M), M, -np.inf), axis=axis)
    c = np.where(np.isfinite(c), c, 0.0)
    c = np.where(np.any((M == np.inf) | np.isnan(M), axis=axis), np.inf, c)
    with np.errstate(invalid="ignore", over="ignore"):
        E = np.exp(M - np.expand_dims(c, axis))
    return np.where(np.expand_dims(c, axis) < np.inf, E, 0.0), c, _scales_of_shifts(c)


def _scales_of_shifts(c):
    """exp(c - max c) along c's last axis, the maximum over its finite entries; 0 where c is +inf."""
    c = np.asarray(c, dtype=float)
    finite = c < np.inf
    top = np.max(np.where(finite, c, -np.inf), axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(invalid="ignore"):
        return np.where(finite, np.exp(np.where(finite, c, 0.0) - top), 0.0)


def table_at(E, u):
    """The table of matrix `M[u]` from the table `E = exp_shifted(M, axis + 1)` of a stack M of matrices
    (or of row `u` of a matrix M from `E = exp_shifted(M, 1)`: its exponentials and its shift)."""
    return E[0][u], E[1][u], E[2][u]


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


# --- Numba: kernels over the summed axis i of an (I, J) matrix -------------------------------------
# The matvec forms call them on transposed views (M.T), so one set of kernels serves both.

@register_jitable(inline="always")
def vmax(v):
    m = -np.inf
    for i in range(v.shape[0]):
        m = v[i] if v[i] > m else m
    return m


@register_jitable
def column_direct(v, M, j):
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
def column_weights(gj, v, M, j, aj, w):
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
    m = vmax(v)
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
        out[j] = m + c[j] + log_normal(sj) if sj >= TINY and c[j] < np.inf else column_direct(v, M, j)
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
            column_weights(g[j], v, M, j, ans[j], w)
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
    m = vmax(v)
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
    m = vmax(v)
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


@register_jitable
def _shift_scales(c, g):
    """g = _scales_of_shifts(c) for a vector c."""
    top = -np.inf
    for j in range(c.shape[0]):
        top = c[j] if c[j] < np.inf and c[j] > top else top
    top = top if top > -np.inf else 0.0
    for j in range(c.shape[0]):
        g[j] = exp_fast(c[j] - top) if c[j] < np.inf else 0.0


@cached_overload(exp_shifted)
def _exp_shifted_nb(M, axis):
    T = nb_float_type(M)
    if M.ndim == 2:
        def matrix(M, axis):
            E, c = _table_along(M, axis, T)
            g = np.empty(c.shape[0])
            _shift_scales(c, g)
            return E, c, g
        return matrix

    def stack(M, axis):      # a stack of matrices M[u], each along its own axis - 1
        U, I, J = M.shape
        E = np.empty((U, I, J), T)
        c = np.empty((U, J if axis == 1 else I))
        g = np.empty_like(c)
        for u in range(U):
            E[u], c[u] = _table_along(M[u], axis - 1, T)
            _shift_scales(c[u], g[u])
        return E, c, g
    return stack


@overload(table_at)
def _table_at_nb(E, u):
    return lambda E, u: (E[0][u], E[1][u], E[2][u])


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
