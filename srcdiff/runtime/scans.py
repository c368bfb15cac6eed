"""Running sums and first differences along an axis, and their adjoints.

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


def diff_transpose(v, axis):
    """The adjoint of diff: out[i] = v[i - 1] - v[i] along the axis, v read as 0 beyond its ends
    (one longer than v)."""
    v = np.asarray(v)
    ax = axis % v.ndim
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
    def _nb(x, axis):
        if not nb_is_array(x) or x.ndim == 0:
            return None
        T = nb_float_type(x)

        def impl(x, axis):
            out, ax = _diff3(x, axis, T, transpose)
            return out.reshape(tuple_setitem(x.shape, ax, out.shape[1]))
        return own(impl, pyfunc)
    return pyfunc


_register_diff(diff, False)
_register_diff(diff_transpose, True)
