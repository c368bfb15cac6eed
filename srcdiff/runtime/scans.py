"""Running sums and products (np.cumsum, np.cumprod) and first differences along an axis, and their adjoints.

`cumsum` and `revcumsum` (out[i] = sum of x[i:] along the axis; axis None: the flattened array) are
each other's adjoints, and so are `diff` (x[i + 1] - x[i]) and `diff_transpose`.
"""
import numpy as np
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import register_jitable

from ._axes import axis_split
from ._typing import float_dtype, nb_float_type, nb_is_array, nb_is_none, own
from ._cache import cached_overload

__all__ = ["cumsum", "revcumsum", "diff", "diff_transpose"]


def cumsum(x, axis=None):
    """np.cumsum(x, axis) (floats keep their dtype; integers give float64)."""
    x = np.asarray(x)
    return np.cumsum(x, axis=axis, dtype=float_dtype(x.dtype))


def revcumsum(x, axis=None):
    """Sums to the end of the axis: out[i] = x[i] + x[i + 1] + ... (axis None: the flattened array)."""
    x = np.asarray(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=float_dtype(x.dtype)), axis)


@register_jitable
def _scan(x, axis, out_dtype, backwards):
    """Running sums of x along axis into a new (outer, n, inner) array of out_dtype."""
    ax, outer, n, inner = axis_split(x.shape, axis)
    x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
    out = np.empty((outer, n, inner), out_dtype)
    for o in range(outer):
        for j in range(inner):
            acc = out_dtype(0)
            for k in range(n):
                i = n - 1 - k if backwards else k
                acc += x3[o, i, j]
                out[o, i, j] = acc
    return out


def _register(pyfunc, backwards):
    @cached_overload(pyfunc)
    def _nb(x, axis=None):
        return own(_impl(x, axis), pyfunc)

    def _impl(x, axis):
        if not nb_is_array(x) or x.ndim == 0:
            return None
        T = nb_float_type(x)
        if nb_is_none(axis):
            return lambda x, axis=None: _scan(x, None, T, backwards).reshape(x.size)
        return lambda x, axis=None: _scan(x, axis, T, backwards).reshape(x.shape)
    return pyfunc


_register(cumsum, False)
_register(revcumsum, True)


def diff(x, axis):
    """np.diff(x, axis=axis): x[i + 1] - x[i] along the axis (one shorter)."""
    return np.diff(x, axis=axis)


_COORDINATES = ("np.gradient with an array as its spacing (NumPy reads it as the points' coordinates): srcdiff "
                "differentiates one number, a uniform grid's step; pass that step, t[1] - t[0]")


def spacing(h):
    """np.gradient's spacing as srcdiff's composite takes it: one number (an array, coordinates of a non-uniform
    grid to NumPy, raises: the composite's formula is the uniform grid's)."""
    if np.ndim(h) != 0:
        raise ValueError(_COORDINATES)
    return float(h)


@cached_overload(spacing)
def _spacing_nb(h):
    if nb_is_array(h) and h.ndim > 0:
        def impl(h):
            if h.size >= 0:     # (always: written as a test so that the function returns a float to type)
                raise ValueError(_COORDINATES)
            return 0.0
        return impl
    return lambda h: float(h)


def diff_transpose(v, axis, like=None):
    """The adjoint of diff: out[i] = v[i - 1] - v[i] along the axis, v read as 0 beyond its ends
    (one longer than v). `like` is the array diff took, where the caller has it: diff of an empty axis is
    empty too (NumPy's np.diff(x, 2) of a length-1 axis diffs one), and its adjoint is then zeros of like's
    shape, not one longer."""
    v = np.asarray(v)
    ax = axis % v.ndim
    if like is not None and np.shape(like)[ax] == 0:
        return np.zeros(np.shape(like), v.dtype)
    pad = [(0, 0)] * v.ndim
    pad[ax] = (1, 1)
    return -np.diff(np.pad(v, pad), axis=ax)


@register_jitable
def _diff3(x, axis, out_dtype, transpose):
    ax, outer, n, inner = axis_split(x.shape, axis)
    x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
    m = n + 1 if transpose else n - 1
    out = np.empty((outer, max(m, 0), inner), out_dtype)
    for o in range(outer):
        for j in range(inner):
            for i in range(m):
                if transpose:
                    out[o, i, j] = (x3[o, i - 1, j] if i > 0 else 0.0) - (x3[o, i, j] if i < n else 0.0)
                else:
                    out[o, i, j] = x3[o, i + 1, j] - x3[o, i, j]
    return out, ax


def _register_diff(pyfunc, transpose):
    @cached_overload(pyfunc)
    def _nb(x, axis, like=None):
        if not nb_is_array(x) or x.ndim == 0:
            return None
        T = nb_float_type(x)
        if nb_is_none(like):
            def impl(x, axis, like=None):
                out, ax = _diff3(x, axis, T, transpose)
                return out.reshape(tuple_setitem(x.shape, ax, out.shape[1]))
            return own(impl, pyfunc)
        if not (transpose and nb_is_array(like) and like.ndim == x.ndim):
            return None

        def impl_like(x, axis, like=None):   # (diff_transpose: like's axis empty, so is the adjoint)
            out, ax = _diff3(x, axis, T, transpose)
            if like.shape[ax] == 0:
                return np.zeros(tuple_setitem(x.shape, ax, 0), T)
            return out.reshape(tuple_setitem(x.shape, ax, out.shape[1]))
        return own(impl_like, pyfunc)
    return pyfunc


_register_diff(diff, False)
_register_diff(diff_transpose, True)


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
    if x3.size == 0:    # (no line, or lines of no element: argmax of the zeros below has nothing to take)
        return np.zeros(np.shape(x), x3.dtype)
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
    if x3.size == 0:    # (no line, or lines of no element: x3[:, 0] below does not exist)
        return np.zeros(_out_shape(x, axis), x3.dtype)
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


_ZERO_FACTOR = ("np.cumprod: srcdiff differentiates it twice (hvp, a gradient of a gradient) only where x has no zeros "
                "(its first derivatives are exact at zeros too)",
                "keep the factors of np.cumprod away from 0 where you take second derivatives, or use jit=False and a "
                "product written as a loop")


def cumprod_factors(x):
    """x, for the second derivatives of cumprod, whose rules divide by it: a zero raises ValueError (the division
    would give NaN) instead of a silently wrong value."""
    if np.any(np.asarray(x) == 0):
        raise ValueError(*_ZERO_FACTOR)
    return x


@cached_overload(cumprod_factors)
def _cumprod_factors_nb(x):
    if not nb_is_array(x):
        return None
    message, advice = _ZERO_FACTOR

    def impl(x):
        for v in x.ravel():
            if v == 0:
                raise ValueError(message, advice)
        return x
    return impl
