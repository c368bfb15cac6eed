"""Shape plumbing and gathers for the NumPy functions srcdiff writes in its primitives (np.take,
np.roll, np.tile, np.repeat, np.column_stack, np.atleast_*, np.trace, np.diag), and their adjoints.

`take_put(v, x, indices, axis)` scatter-adds v into zeros of x's shape: the adjoint of np.take
(repeated indices accumulate). (np.tensordot is in products.py, np.cumprod in scans.py, np.interp in
interpolation.py.)
"""
import numpy as np
from numba.core import types
from numba.extending import overload, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._axes import axis_split, norm_axis
from ._typing import (float_dtype, nb_float_type, nb_is_array, nb_is_int, nb_is_none, nb_is_scalar, nb_literal,
                      own)
from ._cache import cached_overload

__all__ = ["atleast_1d", "atleast_3d", "as_column", "take_put", "repeat_index", "trace_grad", "diag_grad", "atleast_nd",
           "equal_split", "rot90_axis", "check_axis", "check_rank", "check_unpack", "fits"]


def fits(x, shape) -> bool:
    """Whether `x` (an array or a number) broadcasts to `shape`: what the in-place kernels of jitted code
    test before `a += x` (Numba's in-place operators do not: they read past x's end or repeat its rows), in
    a few comparisons (np.broadcast_to's view cost 27-40 ns a call, more than the call itself)."""
    try:
        np.broadcast_to(x, shape)
    except ValueError:
        return False
    return True


@register_jitable
def _broadcasts_to(xshape, shape) -> bool:
    nx, n = len(xshape), len(shape)
    if nx > n:
        return False
    for i in range(1, nx + 1):
        if xshape[nx - i] != 1 and xshape[nx - i] != shape[n - i]:
            return False
    return True


@overload(fits)
def _fits_nb(x, shape):
    if nb_is_array(x):
        return lambda x, shape: _broadcasts_to(x.shape, shape)
    return lambda x, shape: True


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


def atleast_3d(x):
    """np.atleast_3d: a number as (1, 1, 1), a vector (N,) as the view (1, N, 1), a matrix (M, N) as (M, N, 1), an
    array of rank 3 or more unchanged (Numba: the same views, by None in an index)."""
    return np.atleast_3d(x)


@cached_overload(atleast_3d)
def _atleast_3d_nb(x):
    if nb_is_scalar(x):
        return lambda x: np.full((1, 1, 1), x)
    if not nb_is_array(x):
        return None
    if x.ndim == 0:
        return lambda x: x.reshape((1, 1, 1))     # (a view, as NumPy's: a 0-d array is contiguous)
    if x.ndim == 1:
        return lambda x: x[None, :, None]
    if x.ndim == 2:
        return lambda x: x[:, :, None]
    return lambda x: x


def equal_split(ary, sections, axis=0):
    """The length of each of np.split(ary, sections, axis)'s parts: NumPy's ValueError where sections does not divide
    ary's length along axis (rules/composites.py writes np.split out as slices of this length)."""
    n = np.shape(ary)[axis]
    if sections <= 0 or n % sections:
        raise ValueError("array split does not result in an equal division")
    return n // sections


@cached_overload(equal_split)
def _equal_split_nb(ary, sections, axis=0):
    def impl(ary, sections, axis=0):
        n = ary.shape[axis if axis >= 0 else axis + ary.ndim]
        if sections <= 0 or n % sections:
            raise ValueError("array split does not result in an equal division")
        return n // sections
    return impl


def rot90_axis(m, axis1, axis2):
    """np.rot90's check of its axes against m's rank, then axis2 (rules/composites.py swaps m's axes by it first):
    NumPy's ValueError where they are one axis once normalised (axes=(0, -2) of a matrix, any pair of a vector) or
    out of m's range. kind_rewrites.scalar_items writes axis2 itself where the kinds give m's rank and it passes."""
    nd = np.ndim(m)
    if axis1 == axis2 or abs(axis1 - axis2) == nd:
        raise ValueError("Axes must be different.")
    if axis1 >= nd or axis1 < -nd or axis2 >= nd or axis2 < -nd:
        raise ValueError(f"Axes={(axis1, axis2)} out of range for array of ndim={nd}.")
    return axis2


@cached_overload(rot90_axis)
def _rot90_axis_nb(m, axis1, axis2):
    nd = m.ndim if nb_is_array(m) else 0

    def impl(m, axis1, axis2):   # (constant messages, as check_unpack's: the error's report runs Python for NumPy's)
        if axis1 == axis2 or abs(axis1 - axis2) == nd:
            raise ValueError("Axes must be different.")
        if axis1 >= nd or axis1 < -nd or axis2 >= nd or axis2 < -nd:
            raise ValueError("Axes out of range for array")
        return axis2
    return impl


def check_axis(x, axis, then):
    """`then`, after NumPy's check that x has the axis (np.flip, np.roll of one axis: rules/composites.py indexes
    x along it): numpy.exceptions.AxisError where axis is out of x's range. kind_rewrites.scalar_items writes `then`
    itself where the kinds give x's rank and the axis is in it, and raises the AxisError at the line where not."""
    nd = np.ndim(x)
    if axis >= nd or axis < -nd:
        raise np.exceptions.AxisError(axis, nd)
    return then


@cached_overload(check_axis)
def _check_axis_nb(x, axis, then):
    nd = x.ndim if nb_is_array(x) else 0

    def impl(x, axis, then):   # (a constant message: the error's report runs Python for NumPy's)
        if axis >= nd or axis < -nd:
            raise np.exceptions.AxisError("axis is out of bounds for array")
        return then
    return impl


def check_rank(x, rank, then):
    """`then`, after np.flipud's (rank 1) or np.fliplr's (rank 2) check of x's rank: NumPy's ValueError where x has
    fewer axes. kind_rewrites.scalar_items writes `then` itself where the kinds give x's rank and it passes."""
    if np.ndim(x) < rank:
        raise ValueError(f"Input must be >= {rank}-d.")
    return then


@cached_overload(check_rank)
def _check_rank_nb(x, rank, then):
    nd = x.ndim if nb_is_array(x) else 0

    def impl(x, rank, then):
        if nd < rank:
            raise ValueError("Input must have more axes")
        return then
    return impl


def check_unpack(x, expected):
    """Python's check of `a, b = x` where x is an array (or a row of one): its ValueError where x's length is not the
    number of names, `expected` (desugar.py writes it before the names read x[0], x[1], ...; the tuples pass drops it
    where x is a tuple of known length)."""
    n = len(x)
    if n > expected:
        raise ValueError("too many values to unpack (expected " + str(expected) + ")")
    if n < expected:
        raise ValueError("not enough values to unpack (expected " + str(expected) + ", got " + str(n) + ")")


@cached_overload(check_unpack)
def _check_unpack_nb(x, expected):
    def impl(x, expected):   # (constant messages: a cached function's run-time ones fail to build; the error's
        n = len(x)           # report runs the module again as Python for the counts, error_reports.py)
        if n > expected:
            raise ValueError("too many values to unpack")
        if n < expected:
            raise ValueError("not enough values to unpack")
    return impl


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
    nn = nb_literal(n)
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
