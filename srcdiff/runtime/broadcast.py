"""Broadcasting helpers: unbroadcast adjoints, broadcast back, shape plumbing, select."""
import numpy as np
from numba.core import types
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._axes import axis_split, left_pad
from ._kernels3d import sum_mid
from ._typing import is_array, nb_is_array, nb_is_scalar
from ._cache import cached_jit, cached_overload

__all__ = ["unbroadcast", "fit_like", "broadcast_to_like", "expand_dims", "squeeze", "reshape", "reshape_like", "select"]


def unbroadcast(g, x):
    """Sum adjoint `g` down to the shape of `x`, undoing broadcasting (scalar `x`: a scalar)."""
    if not is_array(x):
        return g.sum() if is_array(g) else g
    if not is_array(g):
        return np.full(x.shape, g)
    if g.shape == x.shape:
        return g
    lead = g.ndim - x.ndim
    if lead > 0:
        g = np.asarray(g.sum(axis=tuple(range(lead))))
    elif lead < 0:
        g = g.reshape(left_pad(g.shape, x.ndim))
    axes = tuple(i for i, (gs, xs) in enumerate(zip(g.shape, x.shape)) if xs == 1 and gs != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if g.shape != x.shape:
        g = np.broadcast_to(g, x.shape).copy()
    return g


@cached_jit
def _unbroadcast_aligned(r, xshape):
    """Numba: sum C-contiguous `r` (same ndim as x, ndim >= 1) over axes where x has size 1."""
    for i in range(len(xshape)):
        if xshape[i] == 1 and r.shape[i] != 1:
            _, outer, n, inner = axis_split(r.shape, i)
            s = sum_mid(r.reshape((outer, n, inner)), r.dtype)
            r = s.reshape(tuple_setitem(r.shape, i, 1))
    if r.shape != xshape:
        r = np.broadcast_to(r, xshape).copy()
    return r


@cached_jit
def _sum_leading(g, rest):
    """Numba: g summed over its leading axes down to shape `rest` (a non-empty tuple)."""
    rsize = 1
    for i in range(len(rest)):
        rsize *= rest[i]
    lsize = 1
    for i in range(g.ndim - len(rest)):
        lsize *= g.shape[i]
    return sum_mid(np.ascontiguousarray(g).reshape((1, lsize, rsize)), g.dtype).reshape(rest)


@cached_overload(unbroadcast)   # compiled once per installation (inlined, it was compiled in every process)
def _unbroadcast_nb(g, x):
    if nb_is_scalar(x):
        if nb_is_scalar(g):
            return lambda g, x: g
        if nb_is_array(g):
            return lambda g, x: np.sum(g)
        return None
    if not nb_is_array(x):
        return None
    if nb_is_scalar(g):
        return lambda g, x: np.full(x.shape, g)
    if not nb_is_array(g):
        return None
    xnd = x.ndim
    lead = g.ndim - xnd
    if lead == 0:
        if xnd == 0:
            return lambda g, x: g

        def impl(g, x):
            if g.shape == x.shape:
                return g
            return _unbroadcast_aligned(np.ascontiguousarray(g), x.shape)
        return impl
    if lead > 0:
        if xnd == 0:
            return lambda g, x: np.full((), np.sum(g))
        return lambda g, x: _unbroadcast_aligned(_sum_leading(g, g.shape[lead:]), x.shape)

    def impl(g, x):
        r = np.ascontiguousarray(g).reshape(left_pad(g.shape, xnd))
        return _unbroadcast_aligned(r, x.shape)
    return impl


def fit_like(v, x):
    """v, of x's rank, summed along the axes where x has length 1 and broadcast along those where v has: x's
    shape. (unbroadcast's values do the same, but the compiler reads unbroadcast(g, x) as a sum, never larger than
    g: an x with no axis of length 1 takes g as it is.) The adjoints of np.einsum's matrix products need both
    ways: a contracted axis of length 1 broadcasts against the other operand's (products.einsum_matmul)."""
    return unbroadcast(v, x)


@cached_overload(fit_like)
def _fit_like_nb(v, x):
    if not (nb_is_array(v) and nb_is_array(x)) or v.ndim != x.ndim or x.ndim == 0:
        return None

    def impl(v, x):
        if v.shape == x.shape:
            return v
        return _unbroadcast_aligned(np.ascontiguousarray(v), x.shape)
    return impl


def broadcast_to_like(g, x):
    """`g` broadcast to the shape of `x`, as a fresh array (scalar for scalar `x`)."""
    if not is_array(x):
        return np.broadcast_to(g, ())[()] if is_array(g) else g
    if not is_array(g):
        return np.full(x.shape, g)
    return np.broadcast_to(g, x.shape).copy()


@cached_overload(broadcast_to_like)
def _broadcast_to_like_nb(g, x):
    if nb_is_scalar(x):
        if nb_is_scalar(g):
            return lambda g, x: g
        if nb_is_array(g):
            return lambda g, x: np.broadcast_to(g, ())[()]
        return None
    if not nb_is_array(x):
        return None
    if nb_is_scalar(g):
        return lambda g, x: np.full(x.shape, g)
    if nb_is_array(g):
        return lambda g, x: np.broadcast_to(g, x.shape).copy()
    return None


def expand_dims(x, axis):
    """np.expand_dims with an int axis; a scalar becomes a 1-element 1-d array."""
    return np.expand_dims(x, axis)


@cached_overload(expand_dims)
def _expand_dims_nb(x, axis):
    if nb_is_scalar(x):
        def impl(x, axis):
            if axis != 0 and axis != -1:
                raise ValueError("axis out of bounds")
            return np.full(1, x)
        return impl
    if nb_is_array(x):
        return lambda x, axis: np.expand_dims(x, axis)
    return None


def squeeze(x, axis=None):
    """np.squeeze. Under Numba `axis` must be given (an int or a tuple of ints): with axis=None the
    rank of the result depends on the shape at run time, which Numba cannot type (the compiler
    declines that at the user's line, checks.check_numba)."""
    return np.squeeze(x, axis)


@register_jitable
def _one_axis(axis):
    return (axis,)


@register_jitable
def _axes_tuple(axis):
    return axis


@cached_overload(squeeze)
def _squeeze_nb(x, axis=None):
    if not nb_is_array(x):
        return None
    if isinstance(axis, types.Integer):
        as_tuple, m = _one_axis, x.ndim - 1
    elif isinstance(axis, types.UniTuple) and isinstance(axis.dtype, types.Integer):
        as_tuple, m = _axes_tuple, x.ndim - axis.count
    else:
        return None
    nd = x.ndim

    def impl(x, axis=None):
        drop = np.zeros(nd, np.bool_)
        for a in as_tuple(axis):
            ax = a + nd if a < 0 else a
            if ax < 0 or ax >= nd or drop[ax]:
                raise ValueError("squeeze: axis out of bounds or repeated")
            if x.shape[ax] != 1:
                raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
            drop[ax] = True
        dims = np.empty(m, np.int64)
        steps = np.empty(m, np.int64)
        k = 0
        for i in range(nd):
            if not drop[i]:
                dims[k] = x.shape[i]
                steps[k] = x.strides[i]
                k += 1
        # (a view of x, as NumPy's squeeze, whatever x's layout: a reshape of np.ascontiguousarray(x) copied an x that
        # is not C-contiguous, and a later write into x went unseen: jvp under jit=True of v = np.squeeze(B[None],
        # axis=0) of a transposed B, then B[0, 1] = 5 * x, gave value 65.0 for f's 64.0, derivative 0.0 for 10.0, h29d)
        return np.lib.stride_tricks.as_strided(x, shape=to_fixed_tuple(dims, m), strides=to_fixed_tuple(steps, m))
    return impl


def reshape(x, shape):
    """np.reshape(x, shape) (the user's np.reshape and x.reshape): under Numba of an array of any layout, as in
    NumPy (Numba's reshape takes contiguous arrays only: of x.T it does not compile, of a Fortran-ordered argument
    or a strided slice it raises; such an array is copied first, as NumPy copies it; a number, a 0-d array argument
    run as the number it holds, as the array of one element NumPy reshapes)."""
    return np.reshape(x, shape)


@cached_overload(reshape)
def _reshape_nb(x, shape):
    if nb_is_array(x):
        return lambda x, shape: np.ascontiguousarray(x).reshape(shape)
    if nb_is_scalar(x):     # (a 0-d array argument, which jitted code runs as its number: `a.reshape(1)`)
        return lambda x, shape: np.full(1, x).reshape(shape)
    return None


def reshape_like(g, x):
    """`g` reshaped to the shape of `x`; scalar `x` gives a scalar."""
    if not is_array(x):
        return g.sum() if is_array(g) else g
    if not is_array(g):
        return np.full(x.shape, g)
    return np.reshape(g, x.shape)


@cached_overload(reshape_like)
def _reshape_like_nb(g, x):
    if nb_is_scalar(x):
        if nb_is_scalar(g):
            return lambda g, x: g
        if nb_is_array(g):
            return lambda g, x: np.sum(g)
        return None
    if not nb_is_array(x):
        return None
    if nb_is_scalar(g):
        return lambda g, x: np.full(x.shape, g)
    if nb_is_array(g):
        return lambda g, x: np.ascontiguousarray(g).reshape(x.shape)
    return None


def select(cond, a, b):
    """np.where(cond, a, b) with broadcasting; a scalar when all three are scalars."""
    r = np.where(cond, a, b)
    if not (is_array(cond) or is_array(a) or is_array(b)):
        return r[()]
    return r


@cached_overload(select)
def _select_nb(cond, a, b):
    if nb_is_scalar(cond) and nb_is_scalar(a) and nb_is_scalar(b):
        def impl(cond, a, b):
            return a if cond else b
        return impl
    if all(nb_is_scalar(t) or nb_is_array(t) for t in (cond, a, b)):
        return lambda cond, a, b: np.where(cond, a, b)
    return None


def atleast_2d(x):
    """np.atleast_2d: a scalar as (1, 1), a vector as one row (1, n); 2-d and more unchanged."""
    return np.atleast_2d(x)


@cached_overload(atleast_2d)
def _atleast_2d_nb(x):
    if nb_is_scalar(x):
        return lambda x: np.full((1, 1), x)
    if nb_is_array(x):
        return lambda x: np.atleast_2d(x)
    return None
