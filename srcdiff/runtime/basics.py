"""Basic adjoint plumbing: zero adjoints, copies, and the output seed."""
import numpy as np
from numba.core import types
from numba.extending import overload

from ._cache import cached_overload
from ._typing import (float_dtype, float_scalar_type, is_array, nb_float_type, nb_is_array,
                      nb_is_scalar)

__all__ = ["zeros_like", "copy", "seed"]

_SEED_ERROR = "grad needs a scalar output; use vjp or jacobian"


def zeros_like(x):
    """Zero adjoint for `x`: a float 0 for scalars, a float array of x's shape for arrays."""
    if is_array(x):
        return np.zeros(x.shape, float_dtype(x.dtype))
    return float_scalar_type(x)(0)


@overload(zeros_like, inline="always")   # a scalar's is a constant; an array's allocates in a cached kernel
def _zeros_like_nb(x):
    if isinstance(x, types.NoneType):
        # a name Numba typed as None on this path: its binding sits in a branch that Numba pruned as dead
        # (`if -1.2 > 0.5 and s > 0: return ...`), so the path never runs. Its tangent is None too, which
        # merges with the live paths' tangents whatever they are (a float 0.0 here would fix the merged
        # tangent as a float before Numba has typed an array on another path)
        return lambda x: None
    T = nb_float_type(x)
    if nb_is_scalar(x):
        return lambda x: T(0)
    if nb_is_array(x):
        return lambda x: _zeros(x.shape, T)
    return None


def _zeros(shape, T):
    return np.zeros(shape, T)


@cached_overload(_zeros)
def _zeros_nb(shape, T):
    return lambda shape, T: np.zeros(shape, T)


def copy(x):
    """Scalars are returned as they are; arrays are copied."""
    return x.copy() if is_array(x) else x


@overload(copy, inline="always")
def _copy_nb(x):
    if nb_is_array(x):
        return lambda x: _copy_array(x)
    return lambda x: x


def _copy_array(x):
    return x.copy()


@cached_overload(_copy_array)
def _copy_array_nb(x):
    return lambda x: x.copy()


def seed(y):
    """Initial adjoint 1.0 for a scalar (or 0-d array) output; ValueError otherwise."""
    if is_array(y) and y.ndim != 0:
        raise ValueError(_SEED_ERROR)
    return float_scalar_type(y)(1)


@overload(seed)
def _seed_nb(y):
    T = nb_float_type(y)
    if nb_is_scalar(y) or (nb_is_array(y) and y.ndim == 0):
        return lambda y: T(1)
    if nb_is_array(y):
        def impl(y):
            if y.size >= 0:  # always true; a run-time test keeps the return type a float
                raise ValueError(_SEED_ERROR)
            return T(1)
        return impl
    return None
