"""exp, log and log1p for the row loops of row-blocked code (optimize/rowblocks.py), without a call into libm.

Numba compiles np.exp, np.log and np.log1p of a number to a call of the C library's scalar function (this
LLVM has no vector math library), and a loop with a call in it stays scalar: in the logistic loss's rows
(N=20 000), libm's log1p took 11 ns a row and exp 4 ns, about as long as reading the rows of x twice. Called
as rt.exp, rt.log and rt.log1p, the loop over a block's rows uses fastexp.exp_fast and fastlog's log_fast and
log1p_fast, written inline and without branches, so LLVM vectorises the loop (within 1 ulp of libm's,
measured over the whole float range; inf, NaN, 0 and subnormals as libm gives them).

In Python, and for anything but a real number under Numba, they are NumPy's functions.
"""
import numpy as np
from numba import types

from ._cache import cached_overload
from ._typing import own
from .fastexp import exp_fast
from .fastlog import log1p_fast, log_fast

__all__ = ["exp", "log", "log1p"]


def exp(x):
    """np.exp (in Python, NumPy's; under Numba, of a number, fastexp.exp_fast)."""
    return np.exp(x)


def log(x):
    """np.log (in Python, NumPy's; under Numba, of a number, fastlog.log_fast)."""
    return np.log(x)


def log1p(x):
    """np.log1p (in Python, NumPy's; under Numba, of a number, fastlog.log1p_fast)."""
    return np.log1p(x)


def _of_number(x, fast, numpy_fn, pyfunc):
    """The Numba implementation of rt.<f> (`pyfunc`) for x: `fast` on a float64 (a float32 or an int: on it as
    a float64, the result in NumPy's dtype), NumPy's own for the rest (arrays, complex numbers). Named after
    `pyfunc` (_typing.own): the three share this factory."""
    if x == types.float64:
        impl = lambda x: fast(x)  # noqa: E731
    elif isinstance(x, types.Float):
        S = np.dtype(x.name).type
        impl = lambda x: S(fast(np.float64(x)))  # noqa: E731
    elif isinstance(x, (types.Integer, types.Boolean)):
        impl = lambda x: fast(np.float64(x))  # noqa: E731
    else:
        impl = lambda x: numpy_fn(x)  # noqa: E731
    return own(impl, pyfunc)


@cached_overload(exp)
def _exp_nb(x):
    return _of_number(x, exp_fast, np.exp, exp)


@cached_overload(log)
def _log_nb(x):
    return _of_number(x, log_fast, np.log, log)


@cached_overload(log1p)
def _log1p_nb(x):
    return _of_number(x, log1p_fast, np.log1p, log1p)
