"""Whole carried loops: every step of a carried log-domain recursion in one call.

A loop whose body is only the step of runtime/logdomain_carries.py (and the added vector's row of an array the
loop leaves unchanged, with its table's row) calls `logsumexp_*_steps` instead of a step per iteration, and its
backward loop `logsumexp_*_steps_adjoints` (transforms/logdomain_loops.py). A call of a kernel passes each array
as its seven to nine fields, some 58 arguments a step, which cost as much as the step's own arithmetic at K=5.
The compiled loops here write the step out (not the per-step functions, inlined or called: the reference counting
of their array arguments and of a view a step cost as much again), invariants taken once, rows read by index:
the HMM E-step at K=5, T=10 000 went from 1.46 ms to 0.55 ms (the hand-written scaled forward-backward in Numba:
0.64 ms), the same arithmetic. The step's pieces (a column's scaled sum, the next state, the exact step, the
adjoints of a step apart) are logdomain_carries.py's.
"""
import numpy as np
from numba.extending import register_jitable

from ._cache import cached_overload
from ._typing import nb_result_type
from .logdomain import TINY, table_at
from .logdomain_carries import (DBL_MIN, add_weights, column, exact_step, log_pos, logsumexp_matvec_step,
                                logsumexp_matvec_step_adjoints, logsumexp_matvec_step_grad_v, logsumexp_vecmat_step,
                                logsumexp_vecmat_step_adjoints, logsumexp_vecmat_step_grad_v, next_state, no_table,
                                step_adjoints, step_adjoints_apart)

__all__ = ["logsumexp_vecmat_steps", "logsumexp_matvec_steps",
           "logsumexp_vecmat_steps_adjoints", "logsumexp_matvec_steps_adjoints"]


def logsumexp_vecmat_steps(S, first, stop, M, E, X, XE, idx=None):
    """The steps of carry tape S's rows t - first for t in range(first, stop) (logsumexp_vecmat_step), the
    added vector of row t being X[u] with its table's row table_at(XE, u), u = idx[t] (u = t where idx is None)."""
    _steps(logsumexp_vecmat_step, S, first, stop, M, E, X, XE, idx)


def logsumexp_matvec_steps(S, first, stop, M, E, X, XE, idx=None):
    """logsumexp_vecmat_steps of logsumexp_matvec_step."""
    _steps(logsumexp_matvec_step, S, first, stop, M, E, X, XE, idx)


def logsumexp_vecmat_steps_adjoints(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
    """The adjoint of the vector the steps of logsumexp_vecmat_steps(S, first, stop, M, E, X, XE, idx) start
    from, g the adjoint of the last step's result: for t from stop - 1 down to first, g is added into d_X[u]
    (the adjoint of the added vector X[u]; not where d_X is None), then taken through the step's product,
    M's adjoint added into d_M (not where d_M is None)."""
    return _steps_adjoints(logsumexp_vecmat_step_grad_v, logsumexp_vecmat_step_adjoints,
                           g, S, first, stop, M, E, d_M, d_X, idx)


def logsumexp_matvec_steps_adjoints(g, S, first, stop, M, E, d_M=None, d_X=None, idx=None):
    """logsumexp_vecmat_steps_adjoints of logsumexp_matvec_step."""
    return _steps_adjoints(logsumexp_matvec_step_grad_v, logsumexp_matvec_step_adjoints,
                           g, S, first, stop, M, E, d_M, d_X, idx)


# the loops of the four above in plain Python (under Numba the overloads below replace them)
def _steps(step, S, first, stop, M, E, X, XE, idx):
    for t in range(first, stop):
        u = t if idx is None else idx[t]
        step(S, t - first, M, E, X[u], table_at(XE, u))


def _steps_adjoints(grad_v, adjoints, g, S, first, stop, M, E, d_M, d_X, idx):
    for t in range(stop - 1, first - 1, -1):
        u = t if idx is None else idx[t]
        if d_X is not None:
            d_X[u] += g
        g = grad_v(g, S, t - first, M, E) if d_M is None else adjoints(g, S, t - first, M, E, d_M)
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
    it plus b's shift d (as logdomain_carries' _step_table takes it)."""
    top = -np.inf
    for j in range(c.shape[0]):
        top = c[j] if c[j] < np.inf and c[j] > top else top
    return top if top > -np.inf else 0.0


@register_jitable
def _check_steps(S, M, X, XE0):
    """logdomain_carries' _check_step and _step_table's check of b's table, once for all the steps."""
    I, J = M.shape
    if I != J or S.shape[1] != 4 * I + 1 or X.shape[1] != J:
        raise ValueError("log-domain carry: the matrix, the vector and the added vector disagree in shape")
    if XE0.shape[1] != J:
        raise ValueError("log-domain carry: the added vector's table disagrees with it in shape")


def _steps_impl(transposed, idx):
    """Every step of logdomain_carries' _step_table in one loop, the same arithmetic: the invariants (shapes,
    the shifts' maximum) taken once, b = X[u] and its table's row read by index, the exact step (a kernel of
    its own) where a step needs it. The step is written out here: as a function inlined by Numba (or called)
    it ran 1.6x slower at K=5, the reference counting of its array arguments (and of a view a step) as much
    as its arithmetic."""
    at = _by_counter if no_table(idx) else _by_index
    check = _no_check if no_table(idx) else _check_index
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
            for j in range(K):                                  # as column
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
            ok = ok & (mq >= DBL_MIN) & (mq < np.inf)          # as next_state
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
                S[k + 1, 4 * K] = S[k, 4 * K] + z + log_pos(mq)
            else:
                exact_step(S, k, Mo, c, X[u])
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
    return step_adjoints(g, S, k, M, E0, d_M, True, T)


@register_jitable(inline="always")
def _adjoint_apart_v(g, S, k, M, E0, d_M, T):
    return step_adjoints(g, S, k, M, E0, S, False, T)


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
    """The loop of the steps' adjoints, as logdomain_carries' _adjoints_impl's per step: on the tape where the
    adjoint is float64 (_steps_adjoints_on_tape's loop), else its first step peeled (the adjoint it starts from
    may be of another type than the steps' results)."""
    T = nb_result_type(g, M)
    with_M = not no_table(d_M)
    at = _no_index if no_table(d_X) else _by_counter if no_table(idx) else _by_index
    check = _no_check if no_table(d_X) or no_table(idx) else _check_index
    add, rows = (_add_none, _no_rows) if no_table(d_X) else (_add_row, _rows)
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
    """The steps' adjoints in float64, each as logdomain_carries' _step_adjoints_on_tape's (the same arithmetic,
    the adjoint also in row k's slots of exact log values), written out in one loop as _steps_impl's steps are,
    the adjoint carried in an array of the loop's own; step_adjoints_apart where a step took the direct
    formula, and at row 0."""
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
                out = step_adjoints_apart(h, S, k, Mo, E0, dM, with_M)
                for i in range(K):
                    h[i] = out[i]
                continue
            for i in range(K):              # as add_weights
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
