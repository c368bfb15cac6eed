"""Reductions over all elements (axis None) or one run-time int axis, and their adjoints.

Axis None gives a scalar; an int axis removes that axis (a 1-d input gives a scalar).
Each ``*_grad`` returns an array of x's shape with x's float dtype (a scalar for scalar x).
"""
import numpy as np
from numba.core import types

from numba.np.numpy_support import as_dtype

from . import _kernels3d as k3
from .fastexp import exp_fast
from ._axes import axis_split, norm_axis, squeeze_axis
from ._typing import (float_dtype, float_scalar_type, is_array, nb_float_type, nb_is_array,
                      nb_is_none, nb_is_scalar, own)
from ._cache import cached_overload

__all__ = ["sum", "mean", "prod", "max", "min", "logsumexp",
           "sum_grad", "mean_grad", "prod_grad", "prod_others_jvp", "prod_others_jvp2", "max_grad", "min_grad", "logsumexp_grad"]


# --- forward: Python ----------------------------------------------------------

def sum(x, axis=None):
    """np.sum(x, axis)."""
    return np.sum(x, axis=axis)


def mean(x, axis=None):
    """np.mean(x, axis)."""
    return np.mean(x, axis=axis)


def prod(x, axis=None):
    """np.prod(x, axis)."""
    return np.prod(x, axis=axis)


def max(x, axis=None):
    """np.max(x, axis); NaN propagates."""
    return np.max(x, axis=axis)


def min(x, axis=None):
    """np.min(x, axis); NaN propagates."""
    return np.min(x, axis=axis)


def logsumexp(x, axis=None):
    """Stable log(sum(exp(x), axis)); all -inf gives -inf and any +inf gives +inf (no NaN)."""
    if not is_array(x):
        return float_scalar_type(x)(x)
    x = x.astype(float_dtype(x.dtype), copy=False)
    m = np.max(x, axis=axis, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        r = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return (r.reshape(()) if axis is None else np.squeeze(r, axis=axis))[()]


# --- forward: Numba -----------------------------------------------------------

def _result_types(dtype, kind):
    """(accumulator, result) NumPy scalar classes of a reduction over Numba dtype `dtype`."""
    if kind in ("max", "min"):
        t = as_dtype(dtype).type
        return t, t
    if kind in ("sum", "prod") and isinstance(dtype, (types.Integer, types.Boolean)):
        return np.int64, np.int64
    out = nb_float_type(dtype)
    acc = np.complex128 if isinstance(dtype, types.Complex) else np.float64
    return acc, out


def _lse_2d(x, axis):
    return (nb_is_array(x) and x.ndim == 2 and isinstance(axis, types.Integer)
            and isinstance(x.dtype, types.Float))


def _lse_grad_2d(g, x, ans, axis):
    return (_lse_2d(x, axis) and nb_is_array(g) and nb_is_array(ans) and g.ndim == 1 and ans.ndim == 1
            and isinstance(g.dtype, types.Float))


def _register_reduction(pyfunc, mid, kind):
    @cached_overload(pyfunc)
    def _nb(x, axis=None):
        return own(_impl(x, axis), pyfunc)

    def _impl(x, axis):
        if kind == "logsumexp" and _lse_2d(x, axis):
            return None   # the fast path below
        if nb_is_scalar(x):
            if kind in ("mean", "logsumexp"):
                T = nb_float_type(x)
                return lambda x, axis=None: T(x)
            return lambda x, axis=None: x
        if not nb_is_array(x):
            return None
        acc, out = _result_types(x.dtype, kind)
        if nb_is_none(axis):
            def impl_all(x, axis=None):
                return out(mid(np.ascontiguousarray(x).reshape((1, x.size, 1)), acc)[0, 0])
            return impl_all
        if x.ndim == 0:
            return None

        if acc is out:
            def impl(x, axis=None):
                ax, outer, n, inner = axis_split(x.shape, axis)
                r2 = mid(np.ascontiguousarray(x).reshape((outer, n, inner)), acc)
                return squeeze_axis(r2, x.shape, ax)
            return impl

        def impl_cast(x, axis=None):
            ax, outer, n, inner = axis_split(x.shape, axis)
            r2 = mid(np.ascontiguousarray(x).reshape((outer, n, inner)), acc).astype(out)
            return squeeze_axis(r2, x.shape, ax)
        return impl_cast


_register_reduction(sum, k3.sum_mid, "sum")
_register_reduction(mean, k3.mean_mid, "mean")
_register_reduction(prod, k3.prod_mid, "prod")
_register_reduction(max, k3.max_mid, "max")
_register_reduction(min, k3.min_mid, "min")
_register_reduction(logsumexp, k3.logsumexp_mid, "logsumexp")


# --- adjoints: Python ---------------------------------------------------------

def _keep(v, axis, dt, nd):
    """Reduced value `v` as an array broadcastable against x of rank nd (the reduced axis restored; a 0-d x, which
    NumPy reduces along axis 0 or -1, has none to restore)."""
    v = np.asarray(v, dtype=dt)
    return v if axis is None or nd == 0 else np.expand_dims(v, axis)


def _spread(gk, shape, dt):
    out = np.empty(shape, dt)
    out[...] = gk
    return out


def sum_grad(g, x, axis=None):
    """Adjoint of sum: g broadcast back over the reduced axis."""
    if not is_array(x):
        return g
    dt = float_dtype(x.dtype)
    return _spread(_keep(g, axis, dt, x.ndim), x.shape, dt)


def mean_grad(g, x, axis=None):
    """Adjoint of mean: g / n broadcast back over the reduced axis."""
    if not is_array(x):
        return g
    dt = float_dtype(x.dtype)
    n = x.size if axis is None else x.shape[axis]
    return _spread(_keep(g, axis, dt, x.ndim) / dt.type(n), x.shape, dt)


def prod_grad(g, x, ans, axis=None):
    """Adjoint of prod: g times the product of the other entries (exact with zeros in x)."""
    if not is_array(x):
        return g
    dt = float_dtype(x.dtype)
    axis = None if x.ndim == 0 else axis     # (NumPy reduces a 0-d x along axis 0 or -1: its one entry)
    ax = 0 if axis is None else norm_axis(axis, x.ndim)
    xm = np.moveaxis(x.reshape(-1) if axis is None else x, ax, -1).astype(dt)
    if xm.shape[-1] == 0:
        return np.zeros(x.shape, dt)
    ones = np.ones(xm.shape[:-1] + (1,), dt)
    left = np.cumprod(np.concatenate([ones, xm[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, xm[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = np.moveaxis(left * right, -1, ax).reshape(x.shape)
    return _spread(_keep(g, axis, dt, x.ndim) * others, x.shape, dt)


def prod_others_jvp(t, x, axis=None):
    """The derivative, in the direction t (x's shape), of prod_grad's product of the other entries along `axis`:
    entry i is the sum over k != i of t[k] times the product of the entries other than i and k. prod_grad's
    second derivative, exact with zeros in x: products from the left and from the right carried with their
    derivatives (no division by x, which made NaN at a zero entry). Symmetric in i and k, so it is its own
    adjoint in t."""
    return _others_derivative(x, axis, t, None)


def prod_others_jvp2(t, s, x, axis=None):
    """prod_others_jvp's derivative in x along s: entry i sums t[k] s[m] times the product of the entries other
    than i, k and m over distinct i, k, m (prod's third derivative, exact with zeros; symmetric in i, k, m)."""
    return _others_derivative(x, axis, t, s)


def _others_derivative(x, axis, t, s):
    if not is_array(x):
        return 0.0 * t if s is None else 0.0 * t * s
    dt = float_dtype(x.dtype)
    axis = None if x.ndim == 0 else axis     # (NumPy reduces a 0-d x along axis 0 or -1: its one entry)
    ax = 0 if axis is None else norm_axis(axis, x.ndim)

    def lines(a):
        a = np.broadcast_to(a, x.shape)
        return np.moveaxis(a.reshape(-1) if axis is None else a, ax, -1).astype(dt)
    xm, tm = lines(x), lines(t)
    sm = np.zeros_like(xm) if s is None else lines(s)
    n = xm.shape[-1]
    one, zero = np.ones(xm.shape[:-1], dt), np.zeros(xm.shape[:-1], dt)
    prefix = []                 # (product, its t-, s- and ts-derivatives) of the entries before i
    p, pt, ps, pts = one, zero, zero, zero
    for i in range(n):
        prefix.append((p, pt, ps, pts))
        xi, ti, si = xm[..., i], tm[..., i], sm[..., i]
        p, pt, ps, pts = p * xi, pt * xi + p * ti, ps * xi + p * si, pts * xi + pt * si + ps * ti
    out = np.empty(xm.shape, dt)
    q, qt, qs, qts = one, zero, zero, zero        # the same of the entries after i
    for i in range(n - 1, -1, -1):
        p, pt, ps, pts = prefix[i]
        out[..., i] = pt * q + p * qt if s is None else pts * q + pt * qs + ps * qt + p * qts
        xi, ti, si = xm[..., i], tm[..., i], sm[..., i]
        q, qt, qs, qts = q * xi, qt * xi + q * ti, qs * xi + q * si, qts * xi + qt * si + qs * ti
    return np.moveaxis(out, -1, ax).reshape(x.shape)


def _extremum_grad(g, x, ans, axis):
    if isinstance(x, (tuple, list)):    # np.max(st) of a tuple of numbers or arrays reads it as one array (hvp of
        x = np.asarray(x)               # a gradient whose `st` stayed a tuple: g itself was 1.0 * the tangent tuple)
    if not is_array(x):
        return g
    dt = float_dtype(x.dtype)
    mask = x == _keep(ans, axis, x.dtype, x.ndim)
    cnt = np.sum(mask, axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = _keep(g, axis, dt, x.ndim) / cnt.astype(dt)
    out = np.where(mask, share, dt.type(0))
    return np.where(np.isnan(x), dt.type(np.nan), out).astype(dt, copy=False)   # NaN propagates, as in f


def max_grad(g, x, ans, axis=None):
    """Adjoint of max: g split equally among the entries equal to the maximum; NaN at NaN entries (the
    maximum of a slice holding NaN is NaN)."""
    return _extremum_grad(g, x, ans, axis)


def min_grad(g, x, ans, axis=None):
    """Adjoint of min: g split equally among the entries equal to the minimum."""
    return _extremum_grad(g, x, ans, axis)


def logsumexp_grad(g, x, ans, axis=None):
    """Adjoint of logsumexp: g * exp(x - ans), exactly 0 where x == -inf.

    Where ans is +inf, g is split equally among the +inf entries (no NaN).
    """
    if not is_array(x):
        return g if x != -np.inf else g * 0
    dt = float_dtype(x.dtype)
    gk, ak = _keep(g, axis, dt, x.ndim), _keep(ans, axis, dt, x.ndim)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        w = np.where(x == -np.inf, dt.type(0), gk * np.exp(x - ak))
        is_inf = x == np.inf
        share = np.where(is_inf, gk / np.sum(is_inf, axis=axis, keepdims=True), dt.type(0))
    return np.where(ak == np.inf, share, w).astype(dt, copy=False)


# --- adjoints: Numba ----------------------------------------------------------

def _as2(v, outer, inner):
    """A reduced value (scalar or array) as a C-contiguous (outer, inner) array (Numba-only)."""
    raise NotImplementedError


@cached_overload(_as2)
def _as2_nb(v, outer, inner):
    if nb_is_scalar(v):
        return lambda v, outer, inner: np.full((outer, inner), v)
    if nb_is_array(v):
        return lambda v, outer, inner: np.ascontiguousarray(v).reshape((outer, inner))
    return None


def _scalar_x_grad(x, kind):
    """Numba impl for a scalar x, or None if x is not a scalar."""
    if not nb_is_scalar(x):
        return None
    if kind == "lse":
        return lambda g, x, ans, axis=None: g if x != -np.inf else g * 0
    if kind in ("sum", "mean"):
        return lambda g, x, axis=None: g
    return lambda g, x, ans, axis=None: g


@cached_overload(sum_grad)
def _sum_grad_nb(g, x, axis=None):
    if not nb_is_array(x):
        return _scalar_x_grad(x, "sum")
    dt = nb_float_type(x)

    def impl(g, x, axis=None):
        _, outer, n, inner = axis_split(x.shape, axis)
        return k3.spread_mid(_as2(g, outer, inner), n, dt, 1.0).reshape(x.shape)
    return impl


@cached_overload(mean_grad)
def _mean_grad_nb(g, x, axis=None):
    if not nb_is_array(x):
        return _scalar_x_grad(x, "mean")
    dt = nb_float_type(x)

    def impl(g, x, axis=None):
        _, outer, n, inner = axis_split(x.shape, axis)
        scale = 1.0 / n if n else 0.0
        return k3.spread_mid(_as2(g, outer, inner), n, dt, scale).reshape(x.shape)
    return impl


def _register_grad_with_ans(pyfunc, kernel, kind):
    @cached_overload(pyfunc)
    def _nb(g, x, ans, axis=None):
        return own(_impl(g, x, ans, axis), pyfunc)

    def _impl(g, x, ans, axis):
        if kind == "lse" and _lse_grad_2d(g, x, ans, axis):
            return None   # the fast path below
        if not nb_is_array(x):
            return _scalar_x_grad(x, kind)
        dt = nb_float_type(x)

        if kind == "prod":  # zero-safe: uses the other entries of x, not ans
            def impl_prod(g, x, ans, axis=None):
                _, outer, n, inner = axis_split(x.shape, axis)
                x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
                return kernel(_as2(g, outer, inner), x3, dt).reshape(x.shape)
            return impl_prod

        def impl(g, x, ans, axis=None):
            _, outer, n, inner = axis_split(x.shape, axis)
            x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
            return kernel(_as2(g, outer, inner), x3, _as2(ans, outer, inner), dt).reshape(x.shape)
        return impl


@cached_overload(prod_others_jvp)
def _prod_others_jvp_nb(t, x, axis=None):
    if not nb_is_array(x):
        return lambda t, x, axis=None: 0.0 * t
    dt = nb_float_type(x)

    def impl(t, x, axis=None):
        _, outer, n, inner = axis_split(x.shape, axis)
        x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
        t3 = np.ascontiguousarray(np.broadcast_to(t, x.shape)).reshape((outer, n, inner))
        return k3.others_derivative_mid(x3, t3, t3, False, dt).reshape(x.shape)
    return impl


@cached_overload(prod_others_jvp2)
def _prod_others_jvp2_nb(t, s, x, axis=None):
    if not nb_is_array(x):
        return lambda t, s, x, axis=None: 0.0 * t * s
    dt = nb_float_type(x)

    def impl(t, s, x, axis=None):
        _, outer, n, inner = axis_split(x.shape, axis)
        x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
        t3 = np.ascontiguousarray(np.broadcast_to(t, x.shape)).reshape((outer, n, inner))
        s3 = np.ascontiguousarray(np.broadcast_to(s, x.shape)).reshape((outer, n, inner))
        return k3.others_derivative_mid(x3, t3, s3, True, dt).reshape(x.shape)
    return impl


_register_grad_with_ans(prod_grad, k3.prod_grad_mid, "prod")
_register_grad_with_ans(max_grad, k3.extremum_grad_mid, "ext")
_register_grad_with_ans(min_grad, k3.extremum_grad_mid, "ext")
_register_grad_with_ans(logsumexp_grad, k3.logsumexp_grad_mid, "lse")


# --- fast paths: 2-D logsumexp along an axis (the HMM forward recursion's inner loop) ---------------
# The generic overloads above decline exactly these signatures.

@cached_overload(logsumexp, prefer_literal=False)
def _logsumexp_2d(x, axis=None):
    if not _lse_2d(x, axis):
        return None

    def impl(x, axis=None):
        ax = axis + 2 if axis < 0 else axis
        n0, n1 = x.shape
        if ax == 0:   # row by row, so the inner loops run along memory and vectorise
            mx = np.full(n1, -np.inf, dtype=x.dtype)   # the column maxima, then the result
            for i in range(n0):
                for j in range(n1):   # (this module's max is the reduction: compare by hand)
                    mx[j] = x[i, j] if x[i, j] > mx[j] else mx[j]
            s = np.zeros(n1)
            for i in range(n0):
                for j in range(n1):
                    s[j] += exp_fast(x[i, j] - mx[j])
            for j in range(n1):
                if np.isfinite(mx[j]):
                    mx[j] += np.log(s[j])
            return mx
        out = np.empty(n0, dtype=x.dtype)
        for i in range(n0):
            m = -np.inf
            for j in range(n1):
                m = x[i, j] if x[i, j] > m else m
            if not np.isfinite(m):
                out[i] = m
                continue
            t = 0.0
            for j in range(n1):
                t += exp_fast(x[i, j] - m)
            out[i] = m + np.log(t)
        return out
    return impl


@cached_overload(logsumexp_grad, prefer_literal=False)
def _logsumexp_grad_2d(g, x, ans, axis=None):
    if not _lse_grad_2d(g, x, ans, axis):
        return None

    def impl(g, x, ans, axis=None):
        ax = axis + 2 if axis < 0 else axis
        n0, n1 = x.shape
        out = np.empty((n0, n1), dtype=x.dtype)
        any_inf = False
        for k in range(ans.shape[0]):
            any_inf = any_inf or ans[k] == np.inf
        if any_inf:   # the +inf entries of a slice share its adjoint
            n_inf = np.zeros(ans.shape[0])
            for i in range(n0):
                for j in range(n1):
                    k = j if ax == 0 else i
                    if ans[k] == np.inf and x[i, j] == np.inf:
                        n_inf[k] += 1.0
            for i in range(n0):
                for j in range(n1):
                    k = j if ax == 0 else i
                    a = ans[k]
                    v = x[i, j]
                    if a == np.inf:
                        out[i, j] = g[k] / n_inf[k] if v == np.inf else 0.0
                    else:
                        out[i, j] = 0.0 if v == -np.inf else g[k] * exp_fast(v - a)
            return out
        for i in range(n0):   # -inf entries (forbidden transitions) get exact zeros
            for j in range(n1):
                k = j if ax == 0 else i
                v = x[i, j]
                out[i, j] = 0.0 if v == -np.inf else g[k] * exp_fast(v - ans[k])
        return out
    return impl
