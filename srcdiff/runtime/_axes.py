"""Axis and shape utilities for the Numba implementations (runtime-internal).

Work along a run-time axis is done on a C-contiguous 3-D view ``(outer, n, inner)``
of the array, where ``n`` is the length of the axis (axis None: ``(1, size, 1)``).
Numba compiles every helper call as a separate function (~0.1 s each), so these are
kept few and flat.
"""
import numpy as np
from numba.extending import overload
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._typing import nb_is_none
from ._cache import cached_overload


def norm_axis(axis, nd):
    """Non-negative version of `axis` for an `nd`-dimensional array; ValueError if out of range."""
    ax = axis + nd if axis < 0 else axis
    if ax < 0 or ax >= nd:
        raise ValueError(f"axis {axis} is out of bounds for array of dimension {nd}")
    return ax


def axis_split(shape, axis):
    """(ax, outer, n, inner) for `axis` of `shape`; axis None gives (0, 1, size, 1)."""
    if axis is None:
        return 0, 1, int(np.prod(shape, dtype=np.int64)), 1
    ax = norm_axis(axis, len(shape))
    return (ax, int(np.prod(shape[:ax], dtype=np.int64)), shape[ax],
            int(np.prod(shape[ax + 1:], dtype=np.int64)))


@cached_overload(axis_split)
def _axis_split_nb(shape, axis):
    nd = len(shape)
    if nb_is_none(axis):
        def impl_all(shape, axis):
            n = 1
            for i in range(nd):
                n *= shape[i]
            return 0, 1, n, 1
        return impl_all

    def impl(shape, axis):
        ax = axis + nd if axis < 0 else axis
        if ax < 0 or ax >= nd:
            raise ValueError("axis is out of bounds")
        outer = 1
        inner = 1
        for i in range(nd):
            if i < ax:
                outer *= shape[i]
            elif i > ax:
                inner *= shape[i]
        return ax, outer, shape[ax], inner
    return impl


def squeeze_axis(r2, shape, ax):
    """(outer, inner) result of reducing/indexing `shape` on `ax`, reshaped to `shape`
    without `ax` (a scalar when `shape` is 1-d)."""
    r = r2.reshape(tuple(shape[:ax]) + tuple(shape[ax + 1:]))
    return r[()]


@cached_overload(squeeze_axis)
def _squeeze_axis_nb(r2, shape, ax):
    m = len(shape) - 1
    if m == 0:
        return lambda r2, shape, ax: r2[0, 0]

    def impl(r2, shape, ax):
        dims = np.empty(m, np.int64)
        k = 0
        for i in range(m + 1):
            if i != ax:
                dims[k] = shape[i]
                k += 1
        return r2.reshape(to_fixed_tuple(dims, m))
    return impl


def left_pad(shape, nd):
    """`shape` padded on the left with 1s to length `nd` (a compile-time constant in Numba)."""
    return (1,) * (nd - len(shape)) + tuple(shape)


@overload(left_pad, prefer_literal=True)
def _left_pad_nb(shape, nd):
    m = len(shape)
    target = getattr(nd, "literal_value", None)
    if target is None:
        return None

    def impl(shape, nd):
        dims = np.ones(target, np.int64)
        for i in range(m):
            dims[target - m + i] = shape[i]
        return to_fixed_tuple(dims, target)
    return impl
