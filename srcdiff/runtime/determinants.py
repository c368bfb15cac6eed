"""Log-determinants: np.linalg.slogdet's outputs as primitives of their own, and the adjoint of log|det a|."""
import numpy as np
from numba.core import types

from ._typing import nb_is_array
from ._cache import cached_overload


def logabsdet(x):
    """log |det x| (the second output of np.linalg.slogdet)."""
    return np.linalg.slogdet(x)[1]


def slogdet_sign(x):
    return np.linalg.slogdet(x)[0]


@cached_overload(logabsdet)
def _logabsdet(x):
    return lambda x: np.linalg.slogdet(x)[1]


@cached_overload(slogdet_sign)
def _slogdet_sign(x):
    return lambda x: np.linalg.slogdet(x)[0]


def logdet_grad(a):
    """inv(a)^T: gradient of log|det a| (batched over leading axes in Python)."""
    return np.swapaxes(np.linalg.inv(a), -1, -2)


@cached_overload(logdet_grad)
def _logdet_grad_nb(a):
    if not (nb_is_array(a) and a.ndim == 2):
        return None
    if isinstance(a.dtype, types.Float):
        return lambda a: np.ascontiguousarray(np.linalg.inv(a).T)
    return lambda a: np.ascontiguousarray(np.linalg.inv(a.astype(np.float64)).T)
