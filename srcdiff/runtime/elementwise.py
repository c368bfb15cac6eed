"""Small elementwise and indexing helpers used by the rule templates (Python and Numba)."""
import numpy as np
from numba import types
from numba.extending import overload, register_jitable


@register_jitable
def max_weight(x, y):
    """Share of an adjoint that max(x, y) sends to x: 1 where x > y, 1/2 at ties, else 0."""
    return (x > y) * 1.0 + (x == y) * 0.5


@register_jitable
def in_interval(x, lo, hi):
    """1.0 where lo <= x <= hi (clip's derivative), else 0.0."""
    return (x >= lo) * (x <= hi) * 1.0


@register_jitable
def max2(x, y):
    """Builtin max(x, y) on scalars."""
    return x if x >= y else y


@register_jitable
def min2(x, y):
    return x if x <= y else y


def safe_log(x):
    """log(x) where x > 0, else 0: the x**y adjoint w.r.t. y stays finite where x <= 0."""
    return np.log(np.where(np.asarray(x) > 0, x, 1.0)) if np.ndim(x) else (np.log(x) if x > 0 else 0.0)


@overload(safe_log)
def _safe_log(x):
    if isinstance(x, types.Array):
        return lambda x: np.log(np.where(x > 0, x, 1.0))
    return lambda x: np.log(x) if x > 0 else 0.0


def transpose(x, axes):
    return np.transpose(x, axes)


@overload(transpose)
def _transpose(x, axes):
    return lambda x, axes: np.transpose(x, axes)


def index_add(a, idx, g):
    """a[idx] += g in place, accumulating repeated fancy indices (np.add.at semantics)."""
    np.add.at(a, idx, g)


@overload(index_add)
def _index_add(a, idx, g):
    if isinstance(idx, types.Array) and idx.ndim == 1 and isinstance(idx.dtype, types.Integer):
        if isinstance(g, types.Array):
            def impl(a, idx, g):
                for k in range(idx.shape[0]):
                    a[idx[k]] += g[k]
        else:
            def impl(a, idx, g):
                for k in range(idx.shape[0]):
                    a[idx[k]] += g
        return impl

    def basic(a, idx, g):
        a[idx] += g
    return basic
