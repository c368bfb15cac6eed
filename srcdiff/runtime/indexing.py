"""Indexing adjoints: scatter-add, slicing and indexing along a run-time axis, transposes."""
import numpy as np
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.core import types

from ._axes import axis_split, norm_axis, squeeze_axis
from ._typing import float_dtype, nb_float_type, nb_is_array, nb_is_int, nb_is_none, nb_is_scalar
from ._cache import cached_overload
from .shapes import fits

__all__ = ["add_at", "add_into", "slice_axis", "index_axis", "transpose_grad", "slice_axis_put", "index_axis_put",
           "mask_get", "mask_put"]


def add_into(view, g):
    """``view += g`` in place, for a view of an array (jitted code's ``x[:, j] += g``: transforms/inplace.py);
    returns None."""
    view += g


@cached_overload(add_into)
def _add_into_nb(view, g):
    if not nb_is_array(view):
        return None
    if not nb_is_array(g):
        return lambda view, g: np.add(view, g, view)

    def impl(view, g):
        if not fits(g, view.shape):   # NumPy's error: Numba's np.add with an out argument reads past g's end
            raise ValueError("operands could not be broadcast together")   # or repeats its rows
        np.add(view, g, view)
    return impl


def add_at(a, idx, g):
    """In place ``np.add.at(a, idx, g)`` for an integer index (array) on axis 0; returns None."""
    np.add.at(a, idx, g)


@cached_overload(add_at)
def _add_at_nb(a, idx, g):
    if not nb_is_array(a):
        return None
    if nb_is_int(idx):
        def impl_int(a, idx, g):
            a[idx] += g
        return impl_int
    if not (nb_is_array(idx) and idx.ndim == 1 and isinstance(idx.dtype, types.Integer)):
        return None
    if nb_is_array(g) and g.ndim == 0:
        def impl_0d(a, idx, g):
            for i in range(idx.shape[0]):
                a[idx[i]] += g[()]
        return impl_0d
    if nb_is_scalar(g) or (nb_is_array(g) and g.ndim < a.ndim):
        # the same g (broadcast over a[j]) for every index
        def impl_same(a, idx, g):
            for i in range(idx.shape[0]):
                a[idx[i]] += g
        return impl_same
    if nb_is_array(g) and g.ndim == a.ndim:
        def impl_rows(a, idx, g):
            m = idx.shape[0]
            if g.shape[0] != m and g.shape[0] != 1:
                raise ValueError("add_at: g does not match the index")
            step = 1 if g.shape[0] == m else 0
            for i in range(m):
                a[idx[i]] += g[i * step]
        return impl_rows
    return None


def slice_axis(g, axis, start, stop):
    """`g[..., start:stop, ...]` with the slice on `axis`."""
    ax = norm_axis(axis, g.ndim)
    return g[(slice(None),) * ax + (slice(start, stop),)]


@cached_overload(slice_axis)
def _slice_axis_nb(g, axis, start, stop):
    if not nb_is_array(g) or g.ndim == 0:
        return None

    def impl(g, axis, start, stop):
        ax, outer, n, inner = axis_split(g.shape, axis)
        s = np.ascontiguousarray(g).reshape((outer, n, inner))[:, start:stop, :]
        return np.ascontiguousarray(s).reshape(tuple_setitem(g.shape, ax, s.shape[1]))
    return impl


def index_axis(g, axis, k):
    """``np.take(g, k, axis=axis)`` for an int `k` (negative counts from the end)."""
    return np.take(g, k, axis=axis)


@cached_overload(index_axis)
def _index_axis_nb(g, axis, k):
    if not nb_is_array(g) or g.ndim == 0:
        return None

    def impl(g, axis, k):
        ax, outer, n, inner = axis_split(g.shape, axis)
        kk = k + n if k < 0 else k
        if kk < 0 or kk >= n:
            raise IndexError("index out of bounds")
        r = np.ascontiguousarray(np.ascontiguousarray(g).reshape((outer, n, inner))[:, kk, :])
        return squeeze_axis(r, g.shape, ax)
    return impl


def index_axis_put(w, x, axis, k):
    """Zeros of x's shape with `w` at index k along `axis`: the adjoint of index_axis (x gives the shape)."""
    out = np.zeros(np.shape(x), float_dtype(np.asarray(w).dtype))
    ax = norm_axis(axis, out.ndim)
    out[(slice(None),) * ax + (k,)] = w
    return out


@cached_overload(index_axis_put)
def _index_axis_put_nb(w, x, axis, k):
    if not nb_is_array(x) or x.ndim == 0:
        return None
    dt = nb_float_type(w)
    if nb_is_scalar(w):
        def impl_scalar(w, x, axis, k):
            ax, outer, n, inner = axis_split(x.shape, axis)
            kk = k + n if k < 0 else k
            out = np.zeros((outer, n, inner), dt)
            out[:, kk, :] = w
            return out.reshape(x.shape)
        return impl_scalar
    if not nb_is_array(w):
        return None

    def impl(w, x, axis, k):
        ax, outer, n, inner = axis_split(x.shape, axis)
        kk = k + n if k < 0 else k
        if kk < 0 or kk >= n:
            raise IndexError("index out of bounds")
        out = np.zeros((outer, n, inner), dt)
        out[:, kk, :] = np.ascontiguousarray(w).reshape((outer, inner))
        return out.reshape(x.shape)
    return impl


def slice_axis_put(w, x, axis, start, stop):
    """Zeros of x's shape with `w` in [start:stop] along `axis`: the adjoint of slice_axis."""
    out = np.zeros(np.shape(x), float_dtype(np.asarray(w).dtype))
    ax = norm_axis(axis, out.ndim)
    out[(slice(None),) * ax + (slice(start, stop),)] = w
    return out


@cached_overload(slice_axis_put)
def _slice_axis_put_nb(w, x, axis, start, stop):
    if not (nb_is_array(x) and nb_is_array(w)) or x.ndim == 0:
        return None
    dt = nb_float_type(w)

    def impl(w, x, axis, start, stop):
        ax, outer, n, inner = axis_split(x.shape, axis)
        out = np.zeros((outer, n, inner), dt)
        m = w.shape[ax]
        out[:, start:stop, :] = np.ascontiguousarray(w).reshape((outer, m, inner))
        return out.reshape(x.shape)
    return impl


def transpose_grad(g, axes=None):
    """Adjoint of ``np.transpose(x, axes)``: g transposed by the inverse permutation."""
    if axes is None:
        return np.transpose(g)
    nd = np.ndim(g)
    return np.transpose(g, np.argsort([a % nd if nd else a for a in axes]))


@cached_overload(transpose_grad)
def _transpose_grad_nb(g, axes=None):
    if nb_is_scalar(g):
        return lambda g, axes=None: g
    if not nb_is_array(g):
        return None
    if nb_is_none(axes):
        return lambda g, axes=None: np.transpose(g)
    nd = g.ndim

    def impl(g, axes=None):
        inv = g.shape
        for i in range(nd):
            a = axes[i] + nd if axes[i] < 0 else axes[i]
            if a < 0 or a >= nd:
                raise ValueError("axes don't match array")
            inv = tuple_setitem(inv, a, i)
        return np.transpose(g, inv)
    return impl


def mask_get(x, m):
    """x[m] for a boolean mask `m` (jitted code: Numba indexes with a boolean array of rank 1 only;
    transforms/masks.py routes a mask of rank 2 or more here)."""
    return x[m]


def _nd_mask(x, m) -> bool:
    return (isinstance(m, types.Array) and isinstance(m.dtype, types.Boolean) and m.ndim > 1
            and isinstance(x, types.Array) and x.ndim == m.ndim)


@cached_overload(mask_get)
def _mask_get_nb(x, m):
    if not _nd_mask(x, m):
        return lambda x, m: x[m]

    def impl(x, m):
        if x.shape != m.shape:
            raise IndexError("boolean index did not match indexed array")
        out = np.empty(np.count_nonzero(m), x.dtype)
        k = 0
        for idx in np.ndindex(m.shape):
            if m[idx]:
                out[k] = x[idx]
                k += 1
        return out
    return impl


def mask_put(x, m, v):
    """x[m] = v in place for a boolean mask `m` (see mask_get); returns None."""
    x[m] = v


@cached_overload(mask_put)
def _mask_put_nb(x, m, v):
    if not _nd_mask(x, m):
        def native(x, m, v):
            x[m] = v
        return native

    def impl(x, m, v):
        if x.shape != m.shape:
            raise IndexError("boolean index did not match indexed array")
        vals = np.asarray(v).ravel()
        n = np.count_nonzero(m)
        if vals.size != 1 and vals.size != n:
            raise ValueError("NumPy boolean array indexing assignment cannot assign values to the True places")
        step = 0 if vals.size == 1 else 1
        k = 0
        for idx in np.ndindex(m.shape):
            if m[idx]:
                x[idx] = vals[k * step]
                k += 1
    return impl
