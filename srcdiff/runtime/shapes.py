"""Shape plumbing and gathers for the NumPy functions srcdiff writes in its primitives (np.take,
np.roll, np.tile, np.repeat, np.column_stack, np.tensordot, np.cumprod, np.interp), and their adjoints.

`take_put(v, x, indices, axis)` scatter-adds v into zeros of x's shape: the adjoint of np.take
(repeated indices accumulate). `tensordot(x, y, k)` contracts the last k axes of x with the first k
of y (under Numba k must be a literal); its adjoints are products of the same 2-d reshapes.
"""
import numpy as np
from numba.core import types
from numba.extending import overload, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._axes import axis_split, norm_axis
from ._typing import float_dtype, nb_float_type, nb_is_array, nb_is_int, nb_is_none, nb_is_scalar, own
from .linear import dot
from ._cache import cached_overload

__all__ = ["atleast_1d", "as_column", "take_put", "repeat_index", "tensordot", "tensordot_grad_x",
           "tensordot_grad_y", "cumprod", "cumprod_grad", "cumprod_jvp", "interp", "interp_slope", "interp_transpose",
           "interp_slope_transpose", "trace_grad", "diag_grad", "atleast_nd"]


def atleast_1d(x):
    """np.atleast_1d: a scalar as a 1-element vector, arrays unchanged."""
    return np.atleast_1d(x)


@cached_overload(atleast_1d)
def _atleast_1d_nb(x):
    if nb_is_scalar(x):
        return lambda x: np.full(1, x)
    if nb_is_array(x):
        if x.ndim == 0:
            return lambda x: np.full(1, x[()])
        return lambda x: x
    return None


def as_column(x):
    """x as np.column_stack takes it: a scalar or vector as one column (n, 1), 2-d and more unchanged."""
    x = np.asarray(x)
    return x.reshape(-1, 1) if x.ndim < 2 else x


@cached_overload(as_column)
def _as_column_nb(x):
    if nb_is_scalar(x):
        return lambda x: np.full((1, 1), x)
    if nb_is_array(x):
        if x.ndim < 2:
            return lambda x: np.ascontiguousarray(x).reshape((x.size, 1))
        return lambda x: x
    return None


# ---- gathers along an axis -----------------------------------------------------------------------
def take_put(v, x, indices, axis=None):
    """Zeros of x's shape with v added at `indices` along `axis` (None: the flattened x), repeated
    indices accumulating: the adjoint of np.take(x, indices, axis)."""
    x = np.asarray(x)
    out = np.zeros(x.shape, float_dtype(np.asarray(v).dtype))
    if axis is None:
        np.add.at(out.reshape(-1), indices, v)
    else:   # the gathered axes (the index's own, where x had the axis) first, as np.add.at reads them
        ax, k = norm_axis(axis, x.ndim), np.ndim(indices)
        np.add.at(np.moveaxis(out, ax, 0), indices, np.moveaxis(np.asarray(v), range(ax, ax + k), range(k)))
    return out


@register_jitable
def _scatter(v3, x, idx, axis, T):
    """(outer, n, inner) zeros of x with v3 (outer, m, inner) added at the m flat indices."""
    ax, outer, n, inner = axis_split(x.shape, axis)
    out = np.zeros((outer, n, inner), T)
    for k in range(idx.size):
        i = idx[k] + n if idx[k] < 0 else idx[k]
        if i < 0 or i >= n:
            raise IndexError("take_put: index out of bounds")
        for o in range(outer):
            for j in range(inner):
                out[o, i, j] += v3[o, k, j]
    return out


@cached_overload(take_put)
def _take_put_nb(v, x, indices, axis=None):
    if not nb_is_array(x) or x.ndim == 0 or not (nb_is_array(v) or nb_is_scalar(v)):
        return None
    T = nb_float_type(v)
    if nb_is_int(indices):
        as_flat = lambda indices: np.full(1, indices)  # noqa: E731
    elif nb_is_array(indices) and isinstance(indices.dtype, types.Integer):
        as_flat = lambda indices: np.ascontiguousarray(indices).reshape(indices.size)  # noqa: E731
    else:
        return None
    flat, vflat = register_jitable(as_flat), register_jitable(
        (lambda v: np.full(1, v)) if nb_is_scalar(v) else (lambda v: np.ascontiguousarray(v)))

    if nb_is_none(axis):
        def impl_flat(v, x, indices, axis=None):
            idx = flat(indices)
            return _scatter(vflat(v).reshape((1, idx.size, 1)), x, idx, None, T).reshape(x.shape)
        return own(impl_flat, take_put)

    def impl(v, x, indices, axis=None):
        idx = flat(indices)
        ax, outer, n, inner = axis_split(x.shape, axis)
        return _scatter(vflat(v).reshape((outer, idx.size, inner)), x, idx, axis, T).reshape(x.shape)
    return own(impl, take_put)


def repeat_index(n, repeats):
    """np.repeat(np.arange(n), repeats): the gather that np.repeat makes (repeats an int or n counts)."""
    return np.repeat(np.arange(n), repeats)


@cached_overload(repeat_index)
def _repeat_index_nb(n, repeats):
    return lambda n, repeats: np.repeat(np.arange(n), repeats)


# ---- tensordot: x's last k axes with y's first k ----------------------------------------------------
def _mnk(xs, ys, k):
    """(M, K, N) of the 2-d views x (M, K) and y (K, N) of tensordot(x, y, k)."""
    nx = len(xs)
    return (int(np.prod(xs[:nx - k], dtype=np.int64)), int(np.prod(xs[nx - k:], dtype=np.int64)),
            int(np.prod(ys[k:], dtype=np.int64)))


def tensordot(x, y, k):
    """np.tensordot(x, y, k) for an int k."""
    return np.tensordot(x, y, k)


def tensordot_grad_x(g, x, y, k):
    """The adjoint of x in tensordot(x, y, k): g (M, N) @ y (K, N)^T, in x's shape."""
    M, K, N = _mnk(np.shape(x), np.shape(y), k)
    return (np.reshape(g, (M, N)) @ np.reshape(y, (K, N)).T).reshape(np.shape(x))


def tensordot_grad_y(g, x, y, k):
    """The adjoint of y in tensordot(x, y, k): x (M, K)^T @ g (M, N), in y's shape."""
    M, K, N = _mnk(np.shape(x), np.shape(y), k)
    return (np.reshape(x, (M, K)).T @ np.reshape(g, (M, N))).reshape(np.shape(y))


@register_jitable
def _mnk_nb(xs, ys, k):
    nx = len(xs)
    M, K, N = 1, 1, 1
    for i in range(nx):
        if i < nx - k:
            M *= xs[i]
        else:
            K *= xs[i]
    for i in range(len(ys)):
        if i >= k:
            N *= ys[i]
    return M, K, N


def _literal_k(k):
    return getattr(k, "literal_value", None)


@overload(tensordot, prefer_literal=True)
def _tensordot_nb(x, y, k):
    kk = _literal_k(k)
    if kk is None or not (nb_is_array(x) and nb_is_array(y)) or kk > min(x.ndim, y.ndim):
        return None
    nx, ny = x.ndim, y.ndim
    m = nx + ny - 2 * kk

    def impl(x, y, k):
        M, K, N = _mnk_nb(x.shape, y.shape, kk)
        for i in range(kk):
            if x.shape[nx - kk + i] != y.shape[i]:
                raise ValueError("tensordot: shape mismatch for the summed axes")
        r = dot(np.ascontiguousarray(x).reshape((M, K)), np.ascontiguousarray(y).reshape((K, N)))
        dims = np.empty(m, np.int64)
        for i in range(nx - kk):
            dims[i] = x.shape[i]
        for i in range(kk, ny):
            dims[nx - kk + i - kk] = y.shape[i]
        return np.ascontiguousarray(r).reshape(to_fixed_tuple(dims, m))
    return impl


@register_jitable
def _grad_x_mm(gm, xm, ym):
    return dot(gm, ym.T)


@register_jitable
def _grad_y_mm(gm, xm, ym):
    return dot(xm.T, gm)


def _tensordot_grad_nb(product, like_y):
    """Numba adjoint of x or y in tensordot(x, y, k): the matrix-product adjoint on (M, K) @ (K, N)."""
    def typer(g, x, y, k):
        kk = _literal_k(k)
        if kk is None or not (nb_is_array(x) and nb_is_array(y)):
            return None

        def impl(g, x, y, k):
            M, K, N = _mnk_nb(x.shape, y.shape, kk)
            r = product(np.ascontiguousarray(np.asarray(g)).reshape((M, N)),
                        np.ascontiguousarray(x).reshape((M, K)), np.ascontiguousarray(y).reshape((K, N)))
            return np.ascontiguousarray(r).reshape(y.shape if like_y else x.shape)
        return impl
    return typer


overload(tensordot_grad_x, prefer_literal=True)(_tensordot_grad_nb(_grad_x_mm, False))
overload(tensordot_grad_y, prefer_literal=True)(_tensordot_grad_nb(_grad_y_mm, True))


# ---- running products ----------------------------------------------------------------------------------
def _lines3(x, axis):
    """x as a C-contiguous float (outer, n, inner) array (axis None: the flattened x)."""
    x = np.asarray(x)
    _, outer, n, inner = axis_split(x.shape, axis)
    return np.ascontiguousarray(x, dtype=float_dtype(x.dtype)).reshape(outer, n, inner)


def _out_shape(x, axis):
    return (np.size(x),) if axis is None else np.shape(x)


@register_jitable
def _cumprod3(x3):
    out = np.empty_like(x3)
    outer, n, inner = x3.shape
    for o in range(outer):
        for j in range(inner):
            acc = x3.dtype.type(1.0)
            for i in range(n):
                acc *= x3[o, i, j]
                out[o, i, j] = acc
    return out


@register_jitable
def _cumprod_grad3(g3, x3, out):
    """out[i] = sum_{j >= i} g[j] * prod_{k <= j, k != i} x[k] along axis 1, exact where x has zeros:
    a running product q of the x after i (restarted at i) keeps the terms without x[i] in them."""
    outer, n, inner = x3.shape
    for o in range(outer):
        for j in range(inner):
            # before the first zero z: (sum_{j >= i} g[j] p[j]) / x[i] (p is 0 from z on);
            # at z: p[z - 1] * sum_{j >= z} g[j] prod_{z < k <= j} x[k]; after z: 0
            z = n
            for i in range(n):
                if x3[o, i, j] == 0.0:
                    z = i
                    break
            p = 1.0
            for i in range(z):
                p *= x3[o, i, j]
                out[o, i, j] = g3[o, i, j] * p
            acc = 0.0
            for i in range(z - 1, -1, -1):
                acc += out[o, i, j]
                out[o, i, j] = acc / x3[o, i, j]
            if z < n:
                before = p   # p[z - 1] (1 when z == 0)
                s = 0.0
                q = 1.0
                for i in range(z, n):
                    if i > z:
                        q *= x3[o, i, j]
                    s += g3[o, i, j] * q
                    out[o, i, j] = 0.0
                out[o, z, j] = before * s
    return out


@register_jitable
def _cumprod_jvp3(d3, x3):
    """Tangent of the running product: t[i] = t[i - 1] x[i] + p[i - 1] dx[i] (exact with zeros)."""
    out = np.empty_like(d3)
    outer, n, inner = x3.shape
    for o in range(outer):
        for j in range(inner):
            p = 1.0
            t = 0.0
            for i in range(n):
                t = t * x3[o, i, j] + p * d3[o, i, j]
                p *= x3[o, i, j]
                out[o, i, j] = t
    return out


def cumprod(x, axis=None):
    """np.cumprod(x, axis) (floats keep their dtype; integers give float64)."""
    x = np.asarray(x)
    return np.cumprod(x, axis=axis, dtype=float_dtype(x.dtype))


def cumprod_grad(g, x, axis=None):
    """The adjoint of cumprod(x, axis) for output adjoint g, exact where x has zeros."""
    x3 = _lines3(x, axis)
    g3 = np.broadcast_to(g, _out_shape(x, axis)).astype(x3.dtype).reshape(x3.shape)
    n = x3.shape[1]
    i = np.arange(n)[None, :, None]
    z = np.where((x3 == 0).any(axis=1), (x3 == 0).argmax(axis=1), n)[:, None, :]   # the first zero (n: none)
    p = np.cumprod(x3, axis=1)
    with np.errstate(all="ignore"):   # before z: the suffix sums of g p over x (p is 0 from z on)
        out = np.where(i < z, np.flip(np.cumsum(np.flip(g3 * p, 1), axis=1), 1) / x3, 0.0)
    # at z: sum over j >= z of g[j] times the product of x up to j without x[z]
    c = np.cumprod(np.where(i == z, 1.0, x3), axis=1)
    at_z = np.sum(np.where(i >= z, g3 * c, 0.0), axis=1, keepdims=True)
    return np.where(i == z, at_z, out).astype(x3.dtype).reshape(np.shape(x))


def cumprod_jvp(dx, x, axis=None):
    """The tangent of cumprod(x, axis) along dx."""
    x3 = _lines3(x, axis)
    d3 = np.broadcast_to(dx, np.shape(x)).astype(x3.dtype).reshape(x3.shape)
    out = np.empty_like(x3)
    p, t = np.ones_like(x3[:, 0]), np.zeros_like(x3[:, 0])
    for i in range(x3.shape[1]):
        t = t * x3[:, i] + p * d3[:, i]
        p = p * x3[:, i]
        out[:, i] = t
    return out.reshape(_out_shape(x, axis))


def _scan_parts(x, axis):
    """Numba: the float type and jitted (lines of x as (outer, n, inner), output shape) for cumprod's helpers."""
    T = nb_float_type(x)
    none = nb_is_none(axis)

    def lines(x, axis):
        ax, outer, n, inner = axis_split(x.shape, axis)
        return np.ascontiguousarray(x).astype(T).reshape((outer, n, inner))
    shape_of = (lambda x: (x.size,)) if none else (lambda x: x.shape)
    return T, register_jitable(lines), register_jitable(shape_of)


@cached_overload(cumprod)
def _cumprod_nb(x, axis=None):
    if not nb_is_array(x) or x.ndim == 0:
        return None
    T, lines, shape_of = _scan_parts(x, axis)
    return lambda x, axis=None: _cumprod3(lines(x, axis)).reshape(shape_of(x))


@cached_overload(cumprod_grad)
def _cumprod_grad_nb(g, x, axis=None):
    if not nb_is_array(x) or x.ndim == 0:
        return None
    T, lines, shape_of = _scan_parts(x, axis)

    def impl(g, x, axis=None):
        x3 = lines(x, axis)
        g3 = np.ascontiguousarray(np.broadcast_to(g, shape_of(x))).astype(T).reshape(x3.shape)
        return _cumprod_grad3(g3, x3, np.empty_like(x3)).reshape(x.shape)
    return impl


@cached_overload(cumprod_jvp)
def _cumprod_jvp_nb(dx, x, axis=None):
    if not nb_is_array(x) or x.ndim == 0:
        return None
    T, lines, shape_of = _scan_parts(x, axis)

    def impl(dx, x, axis=None):
        x3 = lines(x, axis)
        d3 = np.ascontiguousarray(np.broadcast_to(dx, x.shape)).astype(T).reshape(x3.shape)
        return _cumprod_jvp3(d3, x3).reshape(shape_of(x))
    return impl


# ---- linear interpolation --------------------------------------------------------------------------------
def interp(x, xp, fp):
    """np.interp(x, xp, fp) (xp increasing; x outside [xp[0], xp[-1]] takes the end values)."""
    return np.interp(x, xp, fp)


@cached_overload(interp)
def _interp_nb(x, xp, fp):
    return lambda x, xp, fp: np.interp(x, xp, fp)


def _segments(x, xp):
    """Per x: the segment j (xp[j] <= x <= xp[j + 1]), its weight t on fp[j + 1], and whether x is inside."""
    xp = np.asarray(xp, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    inside = (x >= xp[0]) & (x <= xp[-1])
    t = np.clip((x - xp[j]) / (xp[j + 1] - xp[j]), 0.0, 1.0)
    return j, t, inside


def interp_slope(x, xp, fp):
    """d np.interp(x, xp, fp) / dx: the slope of x's segment, 0 outside [xp[0], xp[-1]] (where interp is flat)."""
    fp = np.asarray(fp)
    j, _, inside = _segments(x, xp)
    xp = np.asarray(xp)
    s = np.where(inside, (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]), 0.0).astype(float_dtype(fp.dtype))
    return s if np.ndim(x) else s[()]


def interp_transpose(v, x, xp, fp):
    """The adjoint of fp in np.interp(x, xp, fp): v split between the ends of each x's segment."""
    fp = np.asarray(fp)
    j, t, _ = _segments(x, xp)
    out = np.zeros(fp.shape, float_dtype(np.result_type(fp.dtype, np.asarray(v).dtype)))
    v = np.broadcast_to(v, np.shape(x))
    np.add.at(out, j, v * (1.0 - t))
    np.add.at(out, j + 1, v * t)
    return out


def interp_slope_transpose(w, x, xp, fp):
    """The adjoint of fp in interp_slope(x, xp, fp): -w / h at x's segment's left knot, w / h at its right
    (h the segment's width; nothing from x outside [xp[0], xp[-1]])."""
    fp = np.asarray(fp)
    j, _, inside = _segments(x, xp)
    xp = np.asarray(xp)
    out = np.zeros(fp.shape, float_dtype(np.result_type(fp.dtype, np.asarray(w).dtype)))
    r = np.where(inside, np.broadcast_to(w, np.shape(x)) / (xp[j + 1] - xp[j]), 0.0)
    np.add.at(out, j, -r)
    np.add.at(out, j + 1, r)
    return out


@register_jitable
def _segment(x, xp):
    n = xp.size
    j = np.searchsorted(xp, x, side="right") - 1
    j = min(max(j, 0), n - 2)
    t = (x - xp[j]) / (xp[j + 1] - xp[j])
    return j, min(max(t, 0.0), 1.0), x >= xp[0] and x <= xp[n - 1]


@cached_overload(interp_slope)
def _interp_slope_nb(x, xp, fp):
    if not (nb_is_array(xp) and nb_is_array(fp)):
        return None
    T = nb_float_type(fp)

    def one(x, xp, fp):
        j, t, inside = _segment(x, xp)
        return T((fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])) if inside else T(0.0)
    one = register_jitable(one)
    if nb_is_scalar(x):
        return one

    def impl(x, xp, fp):
        xc = np.ascontiguousarray(x).reshape(x.size)
        out = np.empty(x.size, T)
        for i in range(x.size):
            out[i] = one(xc[i], xp, fp)
        return out.reshape(x.shape)
    return impl


@register_jitable
def _flat_pair(x, v):
    """x flattened, and v broadcast to x's shape and flattened."""
    xb = np.ascontiguousarray(np.asarray(x)).reshape(np.asarray(x).size)
    return xb, np.ascontiguousarray(np.broadcast_to(np.asarray(v), np.asarray(x).shape)).reshape(xb.size)


@cached_overload(interp_transpose)
def _interp_transpose_nb(v, x, xp, fp):
    if not (nb_is_array(xp) and nb_is_array(fp)):
        return None
    T = np.result_type(nb_float_type(fp), nb_float_type(v)).type

    def impl(v, x, xp, fp):
        xb, vb = _flat_pair(x, v)
        out = np.zeros(fp.shape, T)
        for i in range(xb.size):
            j, t, _ = _segment(xb[i], xp)
            out[j] += vb[i] * (1.0 - t)
            out[j + 1] += vb[i] * t
        return out
    return impl


@cached_overload(interp_slope_transpose)
def _interp_slope_transpose_nb(w, x, xp, fp):
    if not (nb_is_array(xp) and nb_is_array(fp)):
        return None
    T = np.result_type(nb_float_type(fp), nb_float_type(w)).type

    def impl(w, x, xp, fp):
        xb, wb = _flat_pair(x, w)
        out = np.zeros(fp.shape, T)
        for i in range(xb.size):
            j, t, inside = _segment(xb[i], xp)
            if inside:
                r = wb[i] / (xp[j + 1] - xp[j])
                out[j] -= r
                out[j + 1] += r
        return out
    return impl


# ---- np.trace(x, offset) and np.diag(x, k): their adjoints put g on (or read it off) diagonal k --------------
def trace_grad(g, x, offset=0):
    """Adjoint of np.trace(x, offset) for a matrix x: g on the offset-th diagonal of zeros of x's shape."""
    out = np.zeros(x.shape, dtype=float_dtype(np.result_type(x, g)))
    n, m = x.shape[0], x.shape[1]
    for i in range(max(0, -offset), min(n, m - offset)):
        out[i, i + offset] = g
    return out


@cached_overload(trace_grad)
def _trace_grad_nb(g, x, offset=0):
    def impl(g, x, offset=0):
        out = np.zeros(x.shape, dtype=np.float64)
        n, m = x.shape[0], x.shape[1]
        for i in range(max(0, -offset), min(n, m - offset)):
            out[i, i + offset] = g
        return out
    return own(impl, trace_grad) if nb_is_array(x) and x.ndim == 2 else None


def diag_grad(g, x, k=0):
    """Adjoint of np.diag(x, k): for a vector x (which np.diag puts on diagonal k of a square matrix) the
    k-th diagonal of g; for a matrix x (np.diag reads its k-th diagonal) g on that diagonal of zeros of x's shape."""
    if np.ndim(x) == 1:
        return np.diagonal(g, k).copy()
    out = np.zeros(x.shape, dtype=float_dtype(np.result_type(x, g)))
    n, m = x.shape[0], x.shape[1]
    for j, i in enumerate(range(max(0, -k), min(n, m - k))):
        out[i, i + k] = g[j]
    return out


@cached_overload(diag_grad)
def _diag_grad_nb(g, x, k=0):
    if nb_is_array(x) and x.ndim == 1:
        def impl(g, x, k=0):
            return np.diag(g, k).copy()
        return own(impl, diag_grad)
    if nb_is_array(x) and x.ndim == 2:
        def impl2(g, x, k=0):
            out = np.zeros(x.shape, dtype=np.float64)
            n, m = x.shape[0], x.shape[1]
            j = 0
            for i in range(max(0, -k), min(n, m - k)):
                out[i, i + k] = g[j]
                j += 1
            return out
        return own(impl2, diag_grad)
    return None


def atleast_nd(x, n):
    """x with leading size-1 axes up to rank n (np.tile with more repetitions than x has axes); n a literal int."""
    return np.reshape(x, (1,) * max(0, n - np.ndim(x)) + np.shape(x))


@overload(atleast_nd, prefer_literal=True)
def _atleast_nd_nb(x, n):
    nn = _literal_k(n)
    if nn is None or not nb_is_array(x):
        return None
    lead = max(0, nn - x.ndim)
    rank = lead + x.ndim

    def impl(x, n):
        dims = np.ones(rank, np.int64)
        for i in range(x.ndim):
            dims[lead + i] = x.shape[i]
        return np.ascontiguousarray(x).reshape(to_fixed_tuple(dims, rank))
    return own(impl, atleast_nd)
