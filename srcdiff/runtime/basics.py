"""Basic adjoint plumbing: zero adjoints, copies, and the output seed."""
import numpy as np
from numba.core import types
from numba.extending import overload

from ._cache import cached_overload
from ._typing import (float_dtype, float_scalar_type, is_array, nb_float_type, nb_is_array,
                      nb_is_scalar)

__all__ = ["zeros_like", "copy", "array_0d", "seed", "stack_zeros", "stack_array", "unstack", "stack_rows"]

_SEED_ERROR = "grad needs a scalar output; use vjp or jacobian"


def zeros_like(x):
    """Zero adjoint for `x`: a float 0 for scalars, a float array of x's shape for arrays."""
    if is_array(x):
        return np.zeros(x.shape, float_dtype(x.dtype))
    return float_scalar_type(x)(0)


@overload(zeros_like, inline="always")   # a scalar's is a constant, inlined (arrays: _zeros_like_array_nb)
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
    return None


@cached_overload(zeros_like)   # an array's: compiled once per installation (Numba compiles an inline="always"
def _zeros_like_array_nb(x):   # overload's implementation in every process, 0.06 s each)
    if nb_is_array(x):
        T = nb_float_type(x)
        return lambda x: np.zeros(x.shape, T)
    return None


def copy(x):
    """Scalars are returned as they are; arrays are copied."""
    return x.copy() if is_array(x) else x


@overload(copy, inline="always")   # a scalar: itself, inlined (arrays: _copy_array_nb)
def _copy_nb(x):
    if nb_is_array(x):
        return None
    return lambda x: x


@cached_overload(copy)   # an array's copy: compiled once per installation
def _copy_array_nb(x):
    if nb_is_array(x):
        return lambda x: x.copy()
    return None


def array_0d(x):
    """A 0-d array of its own holding `x` (a number or a 0-d array): the adjoint of a 0-d array before a write
    `d_a[()] = 0.0` into it, which NumPy's arithmetic on 0-d arrays (`d_a = d_r * b`) left a number."""
    return np.array(x)


@overload(array_0d)
def _array_0d_nb(x):
    if nb_is_array(x):
        return lambda x: x.copy()

    def impl(x):
        out = np.empty((), type(x))
        out[()] = x
        return out
    return impl


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


def stack_zeros(n, item):
    """Zeros for `n` items like `item` (shape (n,) + item's shape, item's dtype): the array that
    np.array([f(v) for v in seq]) fills, one item per iteration (transforms/desugar.py). `item` is None where
    the comprehension ran no iteration (n == 0) in a function whose kinds are unknown (a helper's primal copy:
    the first item's placeholder stays None, unbound.placeholder): an empty float vector, as NumPy's
    np.array([])."""
    if item is None:
        return np.zeros(n)
    return np.zeros((n,) + np.shape(item), np.asarray(item).dtype)


@cached_overload(stack_zeros)
def _stack_zeros_nb(n, item):
    from numba.np.numpy_support import as_dtype
    # Optional(T): the first item's placeholder None merged with its binding in the counting loop, in a helper's
    # primal copy (its kinds unknown, the placeholder untyped: fuzz seed 1210052, hvp under Numba); None at run
    # time only where that loop ran no iteration (n == 0): no shape to read, zeros of the item's rank then.
    # Not None alone: Numba types the call with the placeholder's None before the binding's type reaches it,
    # and a vector then would not unify with the array of the item's rank typed next.
    optional = isinstance(item, types.Optional)
    t = item.type if optional else item
    if nb_is_array(t):
        dt = as_dtype(t.dtype)
        if not optional:
            return lambda n, item: np.zeros((n,) + item.shape, dt)
        empty = (0,) * (t.ndim + 1)

        def impl(n, item):
            if item is None:
                return np.zeros(empty, dt)
            return np.zeros((n,) + item.shape, dt)
        return impl
    if isinstance(t, (types.Number, types.Boolean)):
        dt = as_dtype(t)
        return lambda n, item: np.zeros(n, dt)
    return None


def stack_array(s):
    """`np.array(s)` of a list the function built with appends (transforms/forward.py lower_stacks): its items
    stacked along a new first axis (an empty list: a float vector of no elements, as NumPy gives)."""
    return np.array(s, dtype=float) if not s else np.array(s)


@cached_overload(stack_array)
def _stack_array_nb(s):
    if not isinstance(s, types.List):
        return None
    item = s.dtype
    if isinstance(item, (types.Number, types.Boolean)):
        def impl(s):
            out = np.empty(len(s), item)
            for k in range(len(s)):
                out[k] = s[k]
            return out
        return impl
    if nb_is_array(item):
        from numba.np.numpy_support import as_dtype
        dt, nd = as_dtype(item.dtype), item.ndim

        def impl_arrays(s):
            if len(s) == 0:
                raise ValueError("np.array of an empty list of arrays: the items' shape is unknown")
            first = s[0]
            out = np.empty((len(s),) + first.shape, dt)
            for k in range(len(s)):
                if s[k].shape != first.shape:
                    raise ValueError("np.array of a list of arrays of different shapes")
                out[k] = s[k]
            return out
        return impl_arrays if nd >= 1 else None
    return None


def unstack(g):
    """The adjoint of stack_array: a list of g's rows (a pop takes the last item's adjoint first, as the backward
    sweep undoes the appends last first)."""
    return [g[k] for k in range(len(g))]


@cached_overload(unstack)
def _unstack_nb(g):
    if not nb_is_array(g):
        return None
    if g.ndim == 1:
        return lambda g: [g[k] for k in range(len(g))]
    return lambda g: [g[k].copy() for k in range(len(g))]


def stack_rows(s, rows):
    """The adjoint of unstack(rows) (reverse mode over a gradient through a list built with appends): the stack
    s that the pops of unstack's list pushed their adjoints onto, last pop first, so row k's adjoint is item k;
    the first rows, which no pop took (items of the list no append made), have a zero adjoint."""
    out = np.zeros(np.shape(rows), float_dtype(np.asarray(rows).dtype))
    start = len(rows) - len(s)
    for k in range(len(s)):
        out[start + k] = s[k]
    return out


@cached_overload(stack_rows)
def _stack_rows_nb(s, rows):
    if not (isinstance(s, types.List) and nb_is_array(rows)):
        return None
    T = nb_float_type(rows)

    def impl(s, rows):
        out = np.zeros(rows.shape, T)
        start = len(rows) - len(s)
        for k in range(len(s)):
            out[start + k] = s[k]
        return out
    return impl
