"""Sorting along an axis (axis None: the flattened array) as a permutation, and its adjoint.

`sort_like(v, x, axis)` puts v in the order that sorts x (so sort(x) = sort_like(x, x)); its adjoint
`unsort_like(v, x, axis)` puts v back. Ties keep their order (a stable sort), so the permutation,
and with it the gradient, is the same in Python and Numba.
"""
import numpy as np
from numba.extending import register_jitable
from numba.np.numpy_support import as_dtype

from ._axes import axis_split
from ._typing import nb_float_type, nb_is_array, nb_is_none, own
from ._cache import cached_overload

__all__ = ["sort", "sort_like", "unsort_like"]


def _lines(a, axis):
    """`a` as (view with the axis last, axis) where axis None flattens."""
    a = np.asarray(a)
    if axis is None:
        return a.reshape(-1), -1
    return a, axis


def sort(x, axis=-1):
    """np.sort(x, axis) (axis None: the flattened array sorted)."""
    return np.sort(x, axis=axis, kind="stable")


def sort_like(v, x, axis=-1):
    """v rearranged along `axis` in the order that sorts x (v has x's shape)."""
    x, ax = _lines(x, axis)
    v, _ = _lines(v, axis)
    return np.take_along_axis(v, np.argsort(x, axis=ax, kind="stable"), axis=ax)


def unsort_like(v, x, axis=-1):
    """The inverse of sort_like: out[order] = v along `axis`, where order sorts x."""
    x, ax = _lines(x, axis)
    v, _ = _lines(v, axis)
    out = np.empty(v.shape, v.dtype if v.dtype.kind == "f" else np.float64)
    np.put_along_axis(out, np.argsort(x, axis=ax, kind="stable"), v, axis=ax)
    return out


@register_jitable
def _permute(v, x, axis, out_dtype, inverse):
    ax, outer, n, inner = axis_split(x.shape, axis)
    x3 = np.ascontiguousarray(x).reshape((outer, n, inner))
    v3 = np.ascontiguousarray(v).reshape((outer, n, inner))
    out = np.empty((outer, n, inner), out_dtype)
    line = np.empty(n, x3.dtype)
    for o in range(outer):
        for j in range(inner):
            for k in range(n):
                line[k] = x3[o, k, j]
            order = np.argsort(line, kind="mergesort")
            for k in range(n):
                if inverse:
                    out[o, order[k], j] = v3[o, k, j]
                else:
                    out[o, k, j] = v3[o, order[k], j]
    return out


def _register(pyfunc, inverse):
    @cached_overload(pyfunc)
    def _nb(v, x, axis=-1):
        if not (nb_is_array(v) and nb_is_array(x)) or x.ndim == 0:
            return None
        T = nb_float_type(v)
        if nb_is_none(axis):
            return own(lambda v, x, axis=-1: _permute(v, x, None, T, inverse).reshape(x.size), pyfunc)
        return own(lambda v, x, axis=-1: _permute(v, x, axis, T, inverse).reshape(x.shape), pyfunc)
    return pyfunc


_register(sort_like, False)
_register(unsort_like, True)


@cached_overload(sort)
def _sort_nb(x, axis=-1):
    if not nb_is_array(x) or x.ndim == 0:
        return None
    T = as_dtype(x.dtype).type
    if nb_is_none(axis):
        return own(lambda x, axis=-1: _permute(x, x, None, T, False).reshape(x.size), sort)
    return own(lambda x, axis=-1: _permute(x, x, axis, T, False).reshape(x.shape), sort)
