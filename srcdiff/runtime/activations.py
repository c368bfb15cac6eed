"""tanh for jitted code without a call into libm: `rt.tanh` (transforms/products.py routes np.tanh to it in
jitted source only).

Numba compiles np.tanh to one call of the C library's scalar tanh per element: 15 ns each here, 31 us for
the 32 x 64 hidden layer of examples/mlp.py, a quarter of its whole gradient. `tanh_fast` evaluates

    tanh(x) = sign(x) * m / (m + 2),    m = expm1(2 |x|)

with expm1 written inline as in fastexp.exp_fast: 2|x| = n ln 2 + r, |r| <= ln 2 / 2, exp(r) - 1 = r q(r)
by its Taylor polynomial (truncation below 1e-17), and m = 2**n (1 + r q(r)) - 1 when n > 0. For
2|x| < ln 2 / 2 (n = 0) m is r q(r) itself, so small arguments keep their relative accuracy (no
1 - 2 / (exp(2x) + 1) cancellation). Within 4 ulp of libm's tanh; tanh(+-0) = +-0, +-1 from |x| = 20
on (where tanh is 1 to double precision) and for +-inf, NaN for NaN. Half the time of libm's (no
vector math library in this LLVM: the loop stays scalar, the polynomial is cheaper than the call).
"""
import math

import numpy as np
from numba import njit, types
from numba.extending import register_jitable

from ._cache import cached_overload
from .fastexp import LN2_HI, LN2_LO, LOG2E, exp_series, float_from_bits

_CLAMP = 40.0      # 2|x| beyond this: tanh(x) is +-1 to double precision (it is from |x| > 19.06 on)


@register_jitable
def tanh_fast(x):
    """tanh of a float64 (see the module's docstring)."""
    y = 2.0 * abs(x)
    y = y if y < _CLAMP else _CLAMP          # also inf -> _CLAMP (NaN stays NaN, returned below)
    n = np.floor(y * LOG2E + 0.5)
    r = y - n * LN2_HI - n * LN2_LO
    rq = r * exp_series(r)                   # exp(r) - 1
    m = rq if n == 0.0 else float_from_bits((np.int64(n) + 1023) << 52) * (1.0 + rq) - 1.0
    t = math.copysign(m / (m + 2.0), x)
    return t if x == x else x


@njit(fastmath={"contract"}, cache=True)
def _tanh_into(a, out):
    """out[i] = tanh(a[i]) over the flat (C-ordered) arrays a and out. No reassociation: the range
    reduction's exact steps must stay as written."""
    for i in range(a.shape[0]):
        out[i] = tanh_fast(a[i])


def tanh(x):
    """np.tanh (in Python, NumPy's)."""
    return np.tanh(x)


@cached_overload(tanh)
def _tanh_nb(x):
    if isinstance(x, types.Float):
        if x == types.float64:
            return lambda x: tanh_fast(x)
        S = np.dtype(x.name).type
        return lambda x: S(tanh_fast(np.float64(x)))
    if isinstance(x, types.Integer) or isinstance(x, types.Boolean):
        return lambda x: tanh_fast(np.float64(x))
    if (isinstance(x, types.Array) and x.ndim > 0
            and isinstance(x.dtype, (types.Float, types.Integer, types.Boolean))):
        T = np.dtype(x.dtype.name) if isinstance(x.dtype, types.Float) else np.dtype(np.float64)
        if x.dtype == types.float64:
            return lambda x: _tanh_array(np.ascontiguousarray(x), T)
        return lambda x: _tanh_array(np.ascontiguousarray(x).astype(np.float64), T)
    return lambda x: np.tanh(x)   # complex, 0-d arrays: Numba's np.tanh


@register_jitable
def _tanh_array(x, T):
    out = np.empty(x.shape, T)
    _tanh_into(x.ravel(), out.ravel())
    return out
