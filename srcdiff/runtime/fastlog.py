"""log for the runtime's compiled inner loops, without a call into libm (as fastexp.py is for exp):
`log_normal`, fdlibm's algorithm for a normal positive finite argument, within 1 ulp of libm's log.
Used by the log-domain kernels (logdomain*.py) on their scaled sums.
"""
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, register_jitable

from .fastexp import float_from_bits

__all__ = ["bits_of_float", "log_normal"]


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
