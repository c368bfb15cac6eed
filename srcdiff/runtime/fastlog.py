"""log for the runtime's compiled inner loops, without a call into libm (as fastexp.py is for exp):
`log_normal`, fdlibm's algorithm for a normal positive finite argument, within 1 ulp of libm's log.
Used by the log-domain kernels (logdomain*.py) on their scaled sums. `log_fast` and `log1p_fast` take every
float (rt.log and rt.log1p of row-blocked loops: runtime/rowmath.py).
"""
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, register_jitable

from .fastexp import float_from_bits

__all__ = ["bits_of_float", "log_fast", "log1p_fast", "log_normal"]


@intrinsic
def bits_of_float(typingctx, x):
    """The int64 holding the IEEE-754 bit pattern of the float64 `x`."""
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


_LN2_HI = 6.93147180369123816490e-01     # fdlibm's e_log.c: ln 2 in two parts, and its polynomial
_LN2_LO = 1.90821492927058770002e-10
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, 2.222219843214978396e-01,
       1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01)
_LG1, _LG2, _LG3, _LG4, _LG5, _LG6, _LG7 = _LG


@register_jitable(inline="always")
def log_normal(x):
    """log(x) for a normal positive finite x (the kernels' scaled sums, >= TINY), without a call into libm:
    fdlibm's algorithm (x = 2**k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)), log(1 + f) from s = f / (2 + f)
    by a degree-14 polynomial in s), within 1 ulp of libm's log. Computed in float64 (float32 sums too)."""
    bits = bits_of_float(np.float64(x))
    k = (bits >> 52) - 1023
    m = float_from_bits((bits & 0xFFFFFFFFFFFFF) | 0x3FF0000000000000)       # x / 2**k, in [1, 2)
    if m > 1.4142135623730951:
        m *= 0.5
        k += 1
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = w * (_LG2 + w * (_LG4 + w * _LG6)) + z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    dk = float(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


_TWO54 = 18014398509481984.0               # 2**54: a subnormal times it is normal


@register_jitable(inline="always")
def log_fast(x):
    """log(x) for every float64 (NaN for x < 0 and NaN, -inf at 0, inf at inf), without a call into libm and
    without a branch, so that a loop of it vectorises: log_normal of x (of x * 2**54 for a subnormal, less
    54 ln 2), the other cases chosen after."""
    tiny = x < 2.2250738585072014e-308
    v = x * _TWO54 if tiny else x
    normal = v > 0.0 and v < np.inf
    y = log_normal(v if normal else 1.0)
    y = y - 54.0 * 0.6931471805599453 if tiny else y
    if normal:
        return y
    return -np.inf if x == 0.0 else (x if x > 0.0 else np.nan)      # inf stays inf, NaN NaN


@register_jitable(inline="always")
def log1p_fast(x):
    """log1p(x) for every float64, without a call into libm (as log_fast): u = 1 + x rounded, log(u), and
    the rounding error of u, x - (u - 1), over u as the first-order correction (exact enough: it is below
    half an ulp of u). Within 2 ulp of libm's log1p; x for tiny x; NaN below -1, -inf at -1."""
    u = 1.0 + x
    normal = u > 0.0 and u < np.inf              # 1 + x is never subnormal
    v = u if normal else 1.0
    y = log_normal(v) + (x - (v - 1.0)) / v
    if normal:
        return y if x != 0.0 else x              # log1p(-0.0) is -0.0
    return -np.inf if u == 0.0 else (u if u > 0.0 else np.nan)
