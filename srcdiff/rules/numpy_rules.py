"""The rule table for NumPy, math, scipy.special and the linear algebra users call.

Templates: parameter names, `ans` (output), `g` (output adjoint). `rt` is srcdiff.runtime.
Non-differentiable points (documented choice): abs/sign at 0 -> 0; maximum/minimum/max/min ties
split the adjoint equally; clip passes the adjoint on the closed interval; sqrt at 0 -> inf (np.std and
np.linalg.norm, whose square root is rt.sqrt_of_squares, at 0 -> 0: runtime_rules.py).
"""
import builtins
import copy
import math
import operator

import numpy as np
import scipy.linalg
import scipy.special

from .registry import ZERO, defrule

R = defrule
lin = scipy.linalg

# ---- arithmetic (the compiler maps operators to these names) -----------------------------------
# (elementwise; dims and the CUDA lowering read operators from the syntax: their records carry no device
# template; their kind law, ("operator", op), is the one transforms/kind_exprs.py applies to the syntax's operators)
def OP(op):
    return dict(shape="elementwise", kind=("operator", op))


def binary(name, objs, math_name, math_obj, vjp_x, vjp_y, jvp, cuda, math_jit_as=None, **kw):
    """A function of two arguments under its NumPy name and its math module name, which gives a Python float (as
    unary's): math.atan2 written np.arctan2 gave an np.float64 under jit=False, which NumPy 2 promotes float32 with
    (np.sum(x * math.atan2(b, 2.0)) of a float32 x was float64 there, float32 in f and under Numba; h29b)."""
    R(name, objs, "x, y", vjp_x, vjp_y, jvp=jvp, cuda=cuda, **(kw or dict(kind="broadcast", shape="elementwise")))
    R(math_name, [math_obj], "x, y", vjp_x, vjp_y, jvp=jvp, kind="float", shape="elementwise", cuda=cuda,
      jit_as=math_jit_as)     # (math_jit_as: in jitted source, where Numba has no math function of the name)


R("+", [], "x, y", "rt.unbroadcast(g, x)", "rt.unbroadcast(g, y)", jvp="dx + dy", **OP("+"))
R("-", [], "x, y", "rt.unbroadcast(g, x)", "rt.unbroadcast(-g, y)", jvp="dx - dy", **OP("-"))
R("*", [], "x, y", "rt.unbroadcast(g * y, x)", "rt.unbroadcast(g * x, y)", jvp="dx * y + x * dy", **OP("*"))
R("/", [], "x, y", "rt.unbroadcast(g / y, x)", "rt.unbroadcast(-g * ans / y, y)",
  jvp="dx / y - ans * dy / y", **OP("/"))
# (rt.pow_slope(x, y) = y * x ** (y - 1), 0 where y == 0; with a literal y >= 1 it is written out: reverse_support.simplify;
# the tangent of x is rt.times_slope's, 0 where dx is 0 also where the slope is infinite (x = 0, y < 1): abs(x) ** 0.5
# at x = 0 has derivative 0 in both modes, as np.abs passes 0 there)
R("**", [], "x, y", "rt.unbroadcast(g * rt.pow_slope(x, y), x)",
  "rt.unbroadcast(g * ans * rt.safe_log(x), y)", jvp="rt.times_slope(dx, rt.pow_slope(x, y)) + dy * ans * rt.safe_log(x)",
  **OP("**"))
# x % y = x - floor(x / y) * y: slope 1 in x between the jumps; np.fmod truncates instead of flooring
R("%", [np.mod, np.remainder], "x, y", "rt.unbroadcast(g, x)", "rt.unbroadcast(-g * np.floor(x / y), y)",
  jvp="dx - dy * np.floor(x / y)", **OP("%"))
binary("np.fmod", [np.fmod], "math.fmod", math.fmod, "rt.unbroadcast(g, x)", "rt.unbroadcast(-g * np.trunc(x / y), y)",
       "dx - dy * np.trunc(x / y)", "math.fmod({0}, {1})", math_jit_as="np.fmod", kind="promote", shape="elementwise")
R("@", [np.matmul], "x, y", "rt.matmul_grad_x(g, x, y)", "rt.matmul_grad_y(g, x, y)", jvp="dx @ y + x @ dy",
  kind=("operator", "@"))
R("neg", [np.negative], "x", "-g", jvp="-dx", **OP("neg"))
R("pos", [np.positive], "x", "g", jvp="dx", **OP("pos"))

# ---- elementwise ------------------------------------------------------------------------------
# (kind "as_float": the argument's kind, as floats; shape "elementwise"; cuda: the device code on one scalar)
EW = dict(kind="as_float", shape="elementwise")
EW2 = dict(kind="broadcast", shape="elementwise")   # of two or more arguments: they broadcast


def unary(name, objs, math_name, math_obj, vjp, jvp, cuda, jit_as=None, row_as=None):
    """An elementwise function under its NumPy name and its math module name (which takes and gives a float)."""
    R(name, objs, "x", vjp, jvp=jvp, cuda=cuda, jit_as=jit_as, row_as=row_as, **EW)
    R(math_name, [math_obj], "x", vjp, jvp=jvp, kind="float", shape="elementwise", cuda=f"{math_name}({{0}})",
      row_as=row_as)


# (row_as: in the loop over a block's rows, runtime/rowmath.py's inline versions, so that the loop vectorises)
unary("np.exp", [np.exp], "math.exp", math.exp, "g * ans", "dx * ans", "math.exp({0})", row_as="rt.exp")
unary("np.log", [np.log], "math.log", math.log, "g / x", "dx / x", "math.log({0})", row_as="rt.log")
unary("np.log1p", [np.log1p], "math.log1p", math.log1p, "g / (1.0 + x)", "dx / (1.0 + x)", "math.log1p({0})",
      row_as="rt.log1p")
unary("np.expm1", [np.expm1], "math.expm1", math.expm1, "g * (ans + 1.0)", "dx * (ans + 1.0)", "math.expm1({0})")
# (sqrt's and cbrt's slopes are infinite at 0: a zero tangent passes as 0 there, rt.times_slope, as for x ** y)
unary("np.sqrt", [np.sqrt], "math.sqrt", math.sqrt, "g / (2.0 * ans)", "rt.times_slope(dx, 0.5 / ans)",
      "math.sqrt({0})")
unary("np.sin", [np.sin], "math.sin", math.sin, "g * np.cos(x)", "dx * np.cos(x)", "math.sin({0})")
unary("np.cos", [np.cos], "math.cos", math.cos, "-g * np.sin(x)", "-dx * np.sin(x)", "math.cos({0})")
unary("np.tan", [np.tan], "math.tan", math.tan, "g * (1.0 + ans * ans)", "dx * (1.0 + ans * ans)", "math.tan({0})")
# (under jit, rt.tanh: Numba's np.tanh calls libm's tanh per element, rt.tanh is an inline polynomial)
unary("np.tanh", [np.tanh], "math.tanh", math.tanh, "g * (1.0 - ans * ans)", "dx * (1.0 - ans * ans)",
      "math.tanh({0})", jit_as="rt.tanh")
unary("np.arcsin", [np.arcsin], "math.asin", math.asin, "g / np.sqrt(1.0 - x * x)", "dx / np.sqrt(1.0 - x * x)",
      "math.asin({0})")
unary("np.arccos", [np.arccos], "math.acos", math.acos, "-g / np.sqrt(1.0 - x * x)", "-dx / np.sqrt(1.0 - x * x)",
      "math.acos({0})")
unary("np.arctan", [np.arctan], "math.atan", math.atan, "g / (1.0 + x * x)", "dx / (1.0 + x * x)", "math.atan({0})")
unary("np.sinh", [np.sinh], "math.sinh", math.sinh, "g * np.cosh(x)", "dx * np.cosh(x)", "math.sinh({0})")
unary("np.cosh", [np.cosh], "math.cosh", math.cosh, "g * np.sinh(x)", "dx * np.sinh(x)", "math.cosh({0})")
# abs at 0 passes exactly 0, whatever reaches it (the infinite slope of sqrt(abs(x)) or abs(x) ** 0.5 there
# included, 0 * inf = NaN before): a function of |x| is even in x, so its derivative at 0 is 0 where it has one, and
# central differences give 0 where it has none (as rt.norm_power's for a p-norm of order below 1)
unary("np.abs", [np.absolute, np.fabs, builtins.abs], "math.fabs", math.fabs,
      "rt.select(x == 0.0, 0.0, g) * np.sign(x)", "rt.select(x == 0.0, 0.0, dx) * np.sign(x)", "abs({0})")
R("np.square", [np.square], "x", "g * 2.0 * x", jvp="2.0 * x * dx", cuda="(({0}) * ({0}))", **EW)
unary("np.log2", [np.log2], "math.log2", math.log2, "g / (0.6931471805599453 * x)", "dx / (0.6931471805599453 * x)",
      "math.log2({0})")
unary("np.log10", [np.log10], "math.log10", math.log10, "g / (2.302585092994046 * x)",
      "dx / (2.302585092994046 * x)", "math.log10({0})")
R("np.exp2", [np.exp2], "x", "g * 0.6931471805599453 * ans", jvp="0.6931471805599453 * ans * dx",
  cuda="math.exp(0.6931471805599453 * ({0}))", **EW)
unary("np.arcsinh", [np.arcsinh], "math.asinh", math.asinh, "g / np.sqrt(x * x + 1.0)", "dx / np.sqrt(x * x + 1.0)",
      "math.asinh({0})")
unary("np.arccosh", [np.arccosh], "math.acosh", math.acosh, "g / np.sqrt(x * x - 1.0)", "dx / np.sqrt(x * x - 1.0)",
      "math.acosh({0})")
unary("np.arctanh", [np.arctanh], "math.atanh", math.atanh, "g / (1.0 - x * x)", "dx / (1.0 - x * x)",
      "math.atanh({0})")
R("np.reciprocal", [np.reciprocal], "x", "-g * ans * ans", jvp="-dx * ans * ans", cuda="(1.0 / ({0}))", **EW)
R("np.cbrt", [np.cbrt], "x", "g / (3.0 * ans * ans)", jvp="rt.times_slope(dx, 1.0 / (3.0 * ans * ans))",
  cuda="math.copysign(abs({0}) ** (1.0 / 3.0), {0})", **EW)
unary("np.deg2rad", [np.deg2rad, np.radians], "math.radians", math.radians,
      "g * 0.017453292519943295", "dx * 0.017453292519943295", "(({0}) * 0.017453292519943295)")
unary("np.rad2deg", [np.rad2deg, np.degrees], "math.degrees", math.degrees, "g * 57.29577951308232",
      "dx * 57.29577951308232", "(({0}) * 57.29577951308232)")
# at (0, 0), where neither is differentiable, both take 0 for each partial (as abs at 0): forward and reverse mode
# then agree there whatever the tangents (0 * nan would be nan in one and dropped by the other: fuzz 760099)
binary("np.arctan2", [np.arctan2], "math.atan2", math.atan2,
       "rt.unbroadcast(rt.select(x * x + y * y == 0.0, 0.0, g * y / (x * x + y * y)), x)",
       "rt.unbroadcast(rt.select(x * x + y * y == 0.0, 0.0, -g * x / (x * x + y * y)), y)",
       "rt.select(x * x + y * y == 0.0, 0.0, (dx * y - dy * x) / (x * x + y * y))", "math.atan2({0}, {1})")
binary("np.hypot", [np.hypot], "math.hypot", math.hypot, "rt.unbroadcast(rt.select(ans == 0.0, 0.0, g * x / ans), x)",
       "rt.unbroadcast(rt.select(ans == 0.0, 0.0, g * y / ans), y)",
       "rt.select(ans == 0.0, 0.0, (dx * x + dy * y) / ans)", "math.hypot({0}, {1})")
# where both are -inf (ans == -inf: a log-domain table's unreachable cells), x - ans is NaN: each partial is 0
# there, as logsumexp's at -inf: x - 0.0 is -inf, never NaN masked afterwards, so that the derivatives of the
# partials (hvp, grad of grad) are 0 too, not 0 * NaN, and nothing warns (-1e999 is the constant -inf, emitted
# as -math.inf: a number, whose kind and shape the reverse pass knows, unlike the attribute np.inf)
R("np.logaddexp", [np.logaddexp], "x, y", "rt.unbroadcast(g * np.exp(x - rt.select(ans == -1e999, 0.0, ans)), x)",
  "rt.unbroadcast(g * np.exp(y - rt.select(ans == -1e999, 0.0, ans)), y)",
  jvp="dx * np.exp(x - rt.select(ans == -1e999, 0.0, ans)) + "
      "dy * np.exp(y - rt.select(ans == -1e999, 0.0, ans))",
  cuda="(max({0}, {1}) + math.log1p(math.exp(-abs(({0}) - ({1})))))", **EW2)
R("np.logaddexp2", [np.logaddexp2], "x, y",
  "rt.unbroadcast(g * np.exp2(x - rt.select(ans == -1e999, 0.0, ans)), x)",
  "rt.unbroadcast(g * np.exp2(y - rt.select(ans == -1e999, 0.0, ans)), y)",
  jvp="dx * np.exp2(x - rt.select(ans == -1e999, 0.0, ans)) + "
      "dy * np.exp2(y - rt.select(ans == -1e999, 0.0, ans))",
  cuda="(max({0}, {1}) + math.log1p(math.exp(-0.6931471805599453 * abs(({0}) - ({1})))) * 1.4426950408889634)",
  **EW2)
# |x| with y's sign: slope sign(x) sign(y) in x (0 at x == 0, as np.abs), none in y (a sign)
binary("np.copysign", [np.copysign], "math.copysign", math.copysign,
       "rt.unbroadcast(g * np.sign(x) * np.copysign(1.0, y), x)", ZERO, "dx * np.sign(x) * np.copysign(1.0, y)",
       "math.copysign({0}, {1})")
R("rt.expit", [scipy.special.expit], "x", "g * ans * (1.0 - ans)", jvp="dx * ans * (1.0 - ans)",
  cuda="(1.0 / (1.0 + math.exp(-({0}))) if ({0}) >= 0 else math.exp({0}) / (1.0 + math.exp({0})))", **EW)
R("rt.gammaln", [scipy.special.gammaln, math.lgamma], "x", "g * rt.digamma(x)", jvp="dx * rt.digamma(x)",
  cuda="math.lgamma({0})", **EW)
R("rt.digamma", [scipy.special.digamma, scipy.special.psi], "x", "g * rt.trigamma(x)",
  jvp="dx * rt.trigamma(x)", **EW)
R("rt.trigamma", [], "x", "g * rt.tetragamma(x)", jvp="dx * rt.tetragamma(x)", **EW)   # (hvp of digamma)
# (tetragamma's own derivative is not written, so the compiler declines a fourth derivative of gammaln rather
# than taking it as zero)
R("rt.tetragamma", [], "x", None, **EW)
R("rt.erf", [scipy.special.erf, math.erf], "x", "g * 1.1283791670955126 * np.exp(-x * x)",
  jvp="dx * 1.1283791670955126 * np.exp(-x * x)", cuda="math.erf({0})", **EW)
R("rt.gamma", [scipy.special.gamma, math.gamma], "x", "g * ans * rt.digamma(x)", jvp="dx * ans * rt.digamma(x)",
  cuda="math.gamma({0})", **EW)
R("rt.erfc", [scipy.special.erfc, math.erfc], "x", "-g * 1.1283791670955126 * np.exp(-x * x)",
  jvp="-dx * 1.1283791670955126 * np.exp(-x * x)", cuda="math.erfc({0})", **EW)
# the inverses of erf and of the normal CDF: d/dy erfinv(y) = sqrt(pi) / 2 exp(erfinv(y)^2), d/dp ndtri(p) = 1 / pdf
R("rt.erfinv", [scipy.special.erfinv], "x", "g * 0.886226925452758 * np.exp(ans * ans)",
  jvp="dx * 0.886226925452758 * np.exp(ans * ans)", **EW)
R("rt.ndtri", [scipy.special.ndtri], "x", "g * 2.5066282746310002 * np.exp(0.5 * ans * ans)",
  jvp="dx * 2.5066282746310002 * np.exp(0.5 * ans * ans)", **EW)
# normalised sinc(x) = sin(pi x) / (pi x): rt.dsinc(x) = (cos(pi x) - sinc(x)) / x, 0 at 0
R("np.sinc", [np.sinc], "x", "g * rt.dsinc(x)", jvp="dx * rt.dsinc(x)",
  cuda="(1.0 if ({0}) == 0.0 else math.sin(math.pi * ({0})) / (math.pi * ({0})))", **EW)
R("rt.log_expit", [scipy.special.log_expit], "x", "g * rt.expit(-x)", jvp="dx * rt.expit(-x)",
  cuda="(-math.log1p(math.exp(-({0}))) if ({0}) >= 0 else ({0}) - math.log1p(math.exp({0})))", **EW)
# the standard normal CDF and its log (probit models): d/dx = pdf(x) = exp(-x^2 / 2) / sqrt(2 pi)
R("rt.ndtr", [scipy.special.ndtr], "x", "g * 0.3989422804014327 * np.exp(-0.5 * x * x)",
  jvp="dx * 0.3989422804014327 * np.exp(-0.5 * x * x)", cuda="(0.5 * math.erfc(-({0}) * 0.7071067811865476))", **EW)
R("rt.log_ndtr", [scipy.special.log_ndtr], "x", "g * rt.mills_inverse(x)", jvp="dx * rt.mills_inverse(x)", **EW)
R("rt.mills_inverse", [], "x", "g * rt.mills_inverse(x) * (-x - rt.mills_inverse(x))",
  jvp="dx * rt.mills_inverse(x) * (-x - rt.mills_inverse(x))", **EW)
# x * log(y) and x * log1p(y), 0 where x == 0 (entropies, Poisson and binomial log-likelihoods)
# (where x == 0 the adjoint of y is 0, so an entropy's p log p at p = 0 gives no 0 / 0; log(y) at y <= 0 gives 0)
R("rt.xlogy", [scipy.special.xlogy], "x, y", "rt.unbroadcast(g * rt.safe_log(y), x)",
  "rt.unbroadcast(rt.select(x == 0.0, 0.0, g * x / y), y)",
  jvp="dx * rt.safe_log(y) + rt.select(x == 0.0, 0.0, dy * x / y)",
  cuda="(0.0 if ({0}) == 0.0 else ({0}) * math.log({1}))", **EW2)
R("rt.xlog1py", [scipy.special.xlog1py], "x, y", "rt.unbroadcast(g * np.log1p(y), x)",
  "rt.unbroadcast(g * x / (1.0 + y), y)", jvp="dx * np.log1p(y) + dy * x / (1.0 + y)",
  cuda="(0.0 if ({0}) == 0.0 else ({0}) * math.log1p({1}))", **EW2)
R("np.maximum", [np.maximum, np.fmax], "x, y", "rt.unbroadcast(g * rt.max_weight(x, y), x)",
  "rt.unbroadcast(g * rt.max_weight(y, x), y)",
  jvp="dx * rt.max_weight(x, y) + dy * rt.max_weight(y, x)", cuda="max({0}, {1})", **EW2)
R("np.minimum", [np.minimum, np.fmin], "x, y", "rt.unbroadcast(g * rt.max_weight(y, x), x)",
  "rt.unbroadcast(g * rt.max_weight(x, y), y)",
  jvp="dx * rt.max_weight(y, x) + dy * rt.max_weight(x, y)", cuda="min({0}, {1})", **EW2)
# (the kind of np.where is the broadcast of all three: `np.where(np.isnan(M), 0.0, 1.0)` is M's rank, of floats)
R("np.where", [np.where], "condition, x, y", ZERO, "rt.unbroadcast(rt.select(condition, g, 0.0), x)",
  "rt.unbroadcast(rt.select(condition, 0.0, g), y)", jvp="rt.select(condition, dx, dy)",
  kind="broadcast", shape="elementwise", cuda="(({1}) if ({0}) else ({2}))")
# np.clip(x, lo, hi) = min(max(x, lo), hi): the bound it returns takes the adjoint (hi when lo > hi)
_CLIP = ("x, a_min, a_max", "rt.unbroadcast(g * rt.in_interval(x, a_min, a_max), x)",
         "rt.unbroadcast(g * rt.clip_low(x, a_min, a_max), a_min)", "rt.unbroadcast(g * rt.clip_high(x, a_min, a_max), a_max)")
_CLIP_JVP = "dx * rt.in_interval(x, a_min, a_max) + da_min * rt.clip_low(x, a_min, a_max) + da_max * rt.clip_high(x, a_min, a_max)"
# (jitted source calls rt.clip: Numba's np.clip does not broadcast x against array bounds; runtime/elementwise.py)
R("np.clip", [np.clip], *_CLIP, jvp=_CLIP_JVP, cuda="min(max({0}, {1}), {2})", jit_as="rt.clip", **EW)
R("rt.clip", [], *_CLIP, jvp=_CLIP_JVP, cuda="min(max({0}, {1}), {2})", **EW)
R("np.linspace", [np.linspace], "start, stop, num=50, endpoint=True",
  "np.sum(g * (1.0 - rt.linspace_weights(num, endpoint)))", "np.sum(g * rt.linspace_weights(num, endpoint))", None, None,
  jvp="dstart * (1.0 - rt.linspace_weights(num, endpoint)) + dstop * rt.linspace_weights(num, endpoint)",
  kind=("rank", 1))     # (of a scalar start and stop, as its adjoints are)
R("float", [builtins.float], "x", "rt.reshape_like(g, x)", jvp="dx", kind="float",    # (of a scalar or a 0-d array:
  cuda="float({0})", jit_as="rt.to_float")    # its adjoint a 0-d array: `d_buf[()]` of `buf[...] = v` read a float, h26a)
# (jitted source: Numba's float takes no bool and no 0-d array; runtime/casts.py)
# np.float64(c): an np.float64, which NumPy 2 promotes float32 with (float(c) is weak: `np.sum(x * np.float64(0.5))`
# of a float32 x was float32 0.5249999761581421 under jit=False, f's float64 0.5249999985098839); Numba's float is one
R("np.float64", [np.float64], "x", "rt.reshape_like(g, x)", jvp="dx", kind="float", cuda="float({0})",
  jit_as="rt.to_float")
R("rt.to_float", [], "x", "rt.reshape_like(g, x)", jvp="dx", kind="float", cuda="float({0})")
# np.float32(c): an np.float32, rounded (float(c) wrote it: 0.10499999895691872 for f's 0.10500000052154063, and the
# derivative 0.1 for 0.10000000149); under jit rt.to_float32, which takes 0-d arrays and arrays (runtime/casts.py)
# (no device template: device code's float is a double, and the CUDA target declines it by name)
R("np.float32", [np.float32], "x", "rt.reshape_like(g, x)", jvp="dx", kind="float", jit_as="rt.to_float32")
R("rt.to_float32", [], "x", "rt.reshape_like(g, x)", jvp="dx", kind="float")
# x.item() (transforms/resolve.py): the number an array of one element holds, of any rank (NumPy 2's float() takes a
# 0-d array only); its adjoint in x's shape, its tangent the number dx holds
R("rt.item", [], "x", "rt.reshape_like(g, x)", jvp="rt.item(dx)", kind="float", cuda="float({0})")
# (copy.copy and copy.deepcopy of an array or a number too: a copy is the identity for derivatives; of a dict,
# flatten copies its items first, transforms/dict_forms.py; of a tuple or list, declined in resolve)
R("np.copy", [np.copy, copy.copy, copy.deepcopy], "x", "g", jvp="dx", kind="copy", shape="elementwise", cuda="({0})")
# np.asarray of an array is that array (transforms/aliasing.py: a view, so writes through it are checked)
R("np.asarray", [np.asarray], "x", "g", jvp="dx", kind="same")
# np.ascontiguousarray / np.asfortranarray: x's values (rank 1 at least), x itself where it has that layout, else a
# copy: which one depends on the run-time layout, so a write into either after the call, the other read, is declined
# in both modes (memory_sharing.view_source); the generated code calls them as the user did (h30b: ascontiguousarray
# was np.asarray, always x itself: jvp's value of a transpose's copy followed a later write into its matrix)
for _name in ("np.ascontiguousarray", "np.asfortranarray"):
    R(_name, [getattr(np, _name[3:])], "x", "rt.reshape_like(g, x)", jvp=f"{_name}(dx)", kind=("at_least", 1))
R("np.array", [np.array], "x", None, variadic="array", kind="literal_array")

# ---- reductions (the compiler rewrites axis=/keepdims= calls to rt.<name>(x, axis)) -----------
for red in ("sum", "mean"):
    R(f"np.{red}", [getattr(np, red)], "x", f"rt.{red}_grad(g, x, None)", jvp=f"np.{red}(dx)", kind="reduce")
    R(f"rt.{red}", [], "x, axis", f"rt.{red}_grad(g, x, axis)", None, jvp=f"rt.{red}(dx, axis)",
      kind="reduce_axis", shape="reduce")
R("np.prod", [np.prod], "x", "rt.prod_grad(g, x, ans, None)", jvp="np.sum(rt.prod_grad(1.0, x, ans, None) * dx)",
  kind="reduce")
R("rt.prod", [], "x, axis", "rt.prod_grad(g, x, ans, axis)", None,
  jvp="rt.sum(rt.prod_grad(rt.broadcast_to_like(1.0, ans), x, ans, axis) * dx, axis)", kind="reduce_axis",
  shape="reduce")
for red, objs in (("max", [np.max, np.amax]), ("min", [np.min, np.amin])):
    R(f"np.{red}", objs, "x", f"rt.{red}_grad(g, x, ans, None)",
      jvp=f"np.sum(rt.{red}_grad(1.0, x, ans, None) * dx)", kind="reduce")
    R(f"rt.{red}", [], "x, axis", f"rt.{red}_grad(g, x, ans, axis)", None,
      jvp=f"rt.sum(rt.{red}_grad(rt.broadcast_to_like(1.0, ans), x, ans, axis) * dx, axis)", kind="reduce_axis",
      shape="reduce")
R("rt.logsumexp", [scipy.special.logsumexp], "x, axis=None", "rt.logsumexp_grad(g, x, ans, axis)", None,
  jvp="rt.sum(rt.logsumexp_grad(rt.broadcast_to_like(1.0, ans), x, ans, axis) * dx, axis)", kind="reduce_axis",
  shape="reduce")
# running sums: a scan's adjoint is the scan from the other end (rt.revcumsum), and back again
R("rt.cumsum", [np.cumsum], "x, axis=None", "rt.reshape_like(rt.revcumsum(g, axis), x)", None,
  jvp="rt.cumsum(dx, axis)", kind=("along_axis", 1, True))
R("rt.revcumsum", [], "x, axis=None", "rt.reshape_like(rt.cumsum(g, axis), x)", None, jvp="rt.revcumsum(dx, axis)",
  kind=("along_axis", 1, True))
# running products: the adjoint sums g[j] * prod_{k <= j, k != i} x[k] without dividing by x, so zeros in x
# are exact (runtime/scans.py)
R("rt.cumprod", [np.cumprod], "x, axis=None", "rt.cumprod_grad(g, x, axis)", None, jvp="rt.cumprod_jvp(dx, x, axis)",
  kind=("along_axis", 1, True))
# first differences along an axis (np.diff is a composite of them: rules/composites.py) and their transpose
R("rt.diff", [], "x, axis", "rt.diff_transpose(g, axis, x)", None, jvp="rt.diff(dx, axis)", kind="same_array")
R("rt.spacing", [], "h", "g", jvp="dh", kind="float")     # (np.gradient's step: one number, runtime/scans.py)
# (x, the array diff took, gives the adjoint's length where its axis is empty: np.diff(x, 2) of a length-1 axis)
R("rt.diff_transpose", [], "v, axis, like=None", "rt.diff(g, axis)", None, ZERO, jvp="rt.diff_transpose(dv, axis, like)",
  kind=("like", 0))
# sorting is a permutation: the adjoint puts g back where the sorted values came from (ties stay in order)
R("rt.sort", [np.sort], "x, axis=-1", "rt.reshape_like(rt.unsort_like(g, x, axis), x)", None,
  jvp="rt.sort_like(dx, x, axis)", kind=("along_axis", 1, False))
R("rt.sort_like", [], "v, x, axis=-1", "rt.reshape_like(rt.unsort_like(g, x, axis), v)", ZERO, None,
  jvp="rt.sort_like(dv, x, axis)", kind=("along_axis", 2, False))
R("rt.unsort_like", [], "v, x, axis=-1", "rt.reshape_like(rt.sort_like(g, x, axis), v)", ZERO, None,
  jvp="rt.unsort_like(dv, x, axis)", kind=("along_axis", 2, False))
# (as np.maximum: max(a, b) of a number and an array of one element is that array's shape)
R("rt.max2", [], "x, y", "rt.unbroadcast(g * rt.max_weight(x, y), x)", "rt.unbroadcast(g * rt.max_weight(y, x), y)",
  jvp="dx * rt.max_weight(x, y) + dy * rt.max_weight(y, x)", kind="promote", shape="elementwise", cuda="max({0}, {1})")
R("rt.min2", [], "x, y", "rt.unbroadcast(g * rt.max_weight(y, x), x)", "rt.unbroadcast(g * rt.max_weight(x, y), y)",
  jvp="dx * rt.max_weight(y, x) + dy * rt.max_weight(x, y)", kind="promote", shape="elementwise", cuda="min({0}, {1})")

# ---- linear algebra and shapes ---------------------------------------------------------------
R("np.dot", [np.dot], "x, y", "rt.matmul_grad_x(g, x, y)", "rt.matmul_grad_y(g, x, y)",
  jvp="np.dot(dx, y) + np.dot(x, dy)", kind="matmul", shape="matmul")
R("np.outer", [np.outer], "x, y", "rt.outer_grad(g, x, y)", "rt.outer_grad(np.transpose(g), y, x)",
  jvp="np.outer(dx, y) + np.outer(x, dy)", kind=("rank", 2))
R("np.transpose", [np.transpose], "x", "np.transpose(g)", jvp="np.transpose(dx)", kind="copy", shape="transpose")
R("rt.transpose", [], "x, axes", "rt.transpose_grad(g, axes)", None, jvp="rt.transpose(dx, axes)", kind="as_float",
  shape="transpose")
# (under jit, rt.reshape: Numba's reshape takes contiguous arrays only; x.T or a Fortran-ordered argument is copied)
R("np.reshape", [np.reshape], "x, shape", "rt.reshape_like(g, x)", None, jvp="np.reshape(dx, shape)", kind="reshape",
  jit_as="rt.reshape")
R("rt.reshape", [], "x, shape", "rt.reshape_like(g, x)", None, jvp="np.reshape(dx, shape)", kind="reshape")
R("np.ravel", [np.ravel], "x", "rt.reshape_like(g, x)", jvp="np.ravel(dx)", kind=("reshape", 1))
R("rt.atleast_2d", [np.atleast_2d], "x", "rt.reshape_like(g, x)", jvp="rt.atleast_2d(dx)", kind=("at_least", 2))
R("rt.expand_dims", [np.expand_dims], "x, axis", "rt.reshape_like(g, x)", None, jvp="rt.expand_dims(dx, axis)",
  kind="expand_dims", shape="expand_dims")
# (under Numba only with axis= given: the compiler declines axis=None there, checks.check_numba)
R("rt.squeeze", [np.squeeze], "x, axis=None", "rt.reshape_like(g, x)", None, jvp="rt.squeeze(dx, axis)", kind="squeeze")
R("rt.atleast_1d", [np.atleast_1d], "x", "rt.reshape_like(g, x)", jvp="rt.atleast_1d(dx)", kind=("at_least", 1))
R("rt.atleast_3d", [np.atleast_3d], "x", "rt.reshape_like(g, x)", jvp="rt.atleast_3d(dx)", kind=("at_least", 3))
R("rt.as_column", [], "x", "rt.reshape_like(g, x)", jvp="rt.as_column(dx)",   # np.column_stack's columns
  kind=("at_least", 2))
R("np.broadcast_to", [np.broadcast_to], "x, shape", "rt.unbroadcast(g, x)", None, jvp="np.broadcast_to(dx, shape)",
  kind="reshape")
R("np.swapaxes", [np.swapaxes], "x, axis1, axis2", "np.swapaxes(g, axis1, axis2)", None, None,
  jvp="np.swapaxes(dx, axis1, axis2)", kind="same_array")
R("np.moveaxis", [np.moveaxis], "x, source, destination", "np.moveaxis(g, destination, source)", None, None,
  jvp="np.moveaxis(dx, source, destination)", kind="same_array")
# a gather (np.roll, np.tile and np.repeat are gathers too: rules/composites.py): the adjoint scatter-adds
R("np.take", [np.take], "x, indices, axis=None", "rt.take_put(g, x, indices, axis)", None, None,
  jvp="np.take(dx, indices, axis)", kind="take")
# x's last k axes contracted with y's first k (np.tensordot and np.inner are composites of it)
R("rt.tensordot", [], "x, y, k", "rt.tensordot_grad_x(g, x, y, k)", "rt.tensordot_grad_y(g, x, y, k)", None,
  jvp="rt.tensordot(dx, y, k) + rt.tensordot(x, dy, k)", kind="tensordot")
# piecewise linear in x (the slope of x's segment, 0 outside [xp[0], xp[-1]]) and linear in fp; moving the
# knots xp[j], xp[j + 1] of x's segment moves the value by -slope times x's weights (1 - t, t) on them
R("rt.interp", [], "x, xp, fp", "g * rt.interp_slope(x, xp, fp)",
  "-rt.interp_transpose(g * rt.interp_slope(x, xp, fp), x, xp, fp)", "rt.interp_transpose(g, x, xp, fp)",
  jvp="(dx - rt.interp(x, xp, dxp)) * rt.interp_slope(x, xp, fp) + rt.interp(x, xp, dfp)", kind=("like", 0))
# (of a matrix; np.diag(v, k) of a vector builds one, its adjoint reads diagonal k of g: runtime/shapes.py)
R("np.trace", [np.trace], "x, offset=0", "rt.trace_grad(g, x, offset)", None, jvp="np.trace(dx, offset)",
  kind="trace")
R("np.diag", [np.diag, np.diagonal], "x, k=0", "rt.diag_grad(g, x, k)", None, jvp="np.diag(dx, k)", kind="diag")
R("np.full", [np.full], "shape, fill_value", None, "rt.unbroadcast(g, fill_value)", jvp="np.full(shape, dfill_value)",
  kind=("fill", 2), shape="new")
R("np.full_like", [np.full_like], "x, fill_value", ZERO, "rt.unbroadcast(g, fill_value)",
  jvp="np.full_like(x, dfill_value)", shape="fill", kind="same_array")
R("np.concatenate", [np.concatenate], "arrays, axis=0", None, None, variadic="concatenate", kind="join")
R("np.stack", [np.stack], "arrays, axis=0", None, None, variadic="stack", kind=("join", 1))
R("np.linalg.inv", [np.linalg.inv], "x", "-rt.dot(np.transpose(ans), rt.dot(g, np.transpose(ans)))",
  jvp="-(ans @ dx @ ans)", kind="as_float", shape="same")
R("np.linalg.det", [np.linalg.det], "x", "g * ans * np.transpose(np.linalg.inv(x))",
  jvp="ans * np.trace(np.linalg.solve(x, dx))", kind="reduce")
R("np.linalg.slogdet", [np.linalg.slogdet], "x", nondiff=True,
  kind=("decomposition", 0, 0))  # canonicalize splits (sign, logdet)
R("rt.logabsdet", [], "x", "g * np.transpose(np.linalg.inv(x))", jvp="np.trace(np.linalg.solve(x, dx))",
  kind="reduce")
R("np.linalg.cholesky", [np.linalg.cholesky], "x", "rt.cholesky_grad(ans, g)",
  jvp="rt.cholesky_jvp(ans, dx)", kind="as_float", shape="same")
R("np.linalg.solve", [np.linalg.solve], "a, b", "rt.solve_grad_a(rt.solve(np.transpose(a), g), ans)",
  "rt.solve(np.transpose(a), g)", jvp="np.linalg.solve(a, db - da @ ans)", kind=("like", 1))
# eigh and svd return tuples: canonicalize (transforms/desugar.py) splits them into one call per output,
# np.linalg.eigh(a)[0] -> np.linalg.eigvalsh(a), [1] -> rt.eigh_vectors(a), and np.linalg.svd(a, ...)[0], [1], [2]
# -> rt.svd_u(a), rt.svdvals(a), rt.svd_vh(a) (thin; with full_matrices=True U and Vh have no derivative).
# eigh: a is symmetric and its adjoint is the symmetric gradient over symmetric perturbations (the helpers
# check that a is symmetric). Formulas, and what happens at repeated eigen- or singular values: runtime/spectral.py
R("np.linalg.eigh", [np.linalg.eigh], "a, UPLO='L'", nondiff=True, kind=("decomposition", 1, 2))
R("np.linalg.svd", [np.linalg.svd], "a, full_matrices=True, compute_uv=True, hermitian=False", nondiff=True,
  kind=("decomposition", 2, 1, 2))
R("np.linalg.eigvalsh", [np.linalg.eigvalsh], "a", "rt.eigvalsh_grad(a, g)", jvp="rt.eigvalsh_jvp(a, da)",
  kind=("of_matrix", 1))
R("rt.eigh_vectors", [], "a", "rt.eigh_vectors_grad(a, ans, g)", jvp="rt.eigh_vectors_jvp(a, ans, da)",
  kind=("of_matrix", 2))
R("rt.svdvals", [getattr(np.linalg, "svdvals", None)], "a", "rt.svdvals_grad(a, g)", jvp="rt.svdvals_jvp(a, da)",
  kind=("of_matrix", 1))
R("rt.svd_u", [], "a", "rt.svd_u_grad(a, ans, g)", jvp="rt.svd_u_jvp(a, ans, da)", kind=("of_matrix", 2))
R("rt.svd_vh", [], "a", "rt.svd_vh_grad(a, ans, g)", jvp="rt.svd_vh_jvp(a, ans, da)", kind=("of_matrix", 2))
# the pseudo-inverse where its rank is locally constant (full-rank a); rcond / rtol only choose the cutoff
R("np.linalg.pinv", [np.linalg.pinv], "a, rcond=None, hermitian=False, rtol=None", "rt.pinv_grad(a, ans, g)",
  None, None, None, jvp="rt.pinv_jvp(a, ans, da)", kind=("of_matrix", 2))
# np.kron (rt.kron: contiguous operands under Numba) is bilinear: the adjoints sum g's blocks against the
# other factor (1-d and 2-d operands)
R("rt.kron", [np.kron], "a, b", "rt.kron_grad_a(g, a, b)", "rt.kron_grad_b(g, a, b)",
  jvp="rt.kron(da, b) + rt.kron(a, db)", kind="kron")
# the products and solves adjoints use: np.dot / np.linalg.solve, except that under Numba operands of
# different float dtypes are cast to their common one first (runtime/products.py, runtime/solves.py)
R("rt.dot", [], "x, y", "rt.matmul_grad_x(g, x, y)", "rt.matmul_grad_y(g, x, y)",
  jvp="rt.dot(dx, y) + rt.dot(x, dy)", kind="matmul")
# np.einsum's matrix products (composites.py): a @ b where a contracted axis of length 1 broadcasts against the
# other operand's, as np.einsum's do; each adjoint is matmul's fitted to its operand (summed along that axis, or
# broadcast along it: rt.fit_like, linear, its own transpose's shape map)
R("rt.einsum_matmul", [], "a, b", "rt.fit_like(rt.matmul_grad_x(g, a, b), a)",
  "rt.fit_like(rt.matmul_grad_y(g, a, b), b)", jvp="rt.einsum_matmul(da, b) + rt.einsum_matmul(a, db)",
  kind="matmul")
R("rt.fit_like", [], "v, x", "rt.fit_like(g, v)", ZERO, jvp="rt.fit_like(dv, x)", kind=("like", 0))
# np.tanh of jitted source (np.tanh's jit_as; transforms/products.py, runtime/activations.py)
R("rt.tanh", [], "x", "g * (1.0 - ans * ans)", jvp="dx * (1.0 - ans * ans)", cuda="math.tanh({0})", **EW)
R("rt.solve", [], "a, b", "rt.solve_grad_a(rt.solve(np.transpose(a), g), ans)", "rt.solve(np.transpose(a), g)",
  jvp="rt.solve(a, db - rt.dot(da, ans))", kind=("like", 1))
# (rt.solve_triangular takes (a, b, lower, trans), scipy (a, b, trans, lower): templates pass them by
# keyword, so generated code binds the same way when it is differentiated again; a solve has b's kind, as floats)
R("rt.solve_triangular", [lin.solve_triangular], "a, b, trans=0, lower=False",
  "rt.solve_triangular_grad_a(rt.solve_triangular(a, g, lower=lower, trans=1 - trans), ans, trans, lower)",
  "rt.solve_triangular(a, g, lower=lower, trans=1 - trans)", None, None,
  jvp="rt.solve_triangular(a, db - rt.tri_matmul(rt.tri_mask(da, lower), ans, trans), lower=lower, trans=trans)",
  kind=("like", 1))     # (the solve reads a's triangle only: so does the tangent, as grad_a's adjoint does)

# ---- no derivative: values pass through, nothing flows back --------------------------------------
_NONDIFF = {
    "np.eye": np.eye, "np.identity": np.identity,
    "np.shape": np.shape, "np.tril_indices": np.tril_indices, "np.triu_indices": np.triu_indices,
    "np.searchsorted": np.searchsorted, "np.any": np.any, "np.all": np.all, "np.count_nonzero": np.count_nonzero,
    "range": builtins.range, "bool": builtins.bool, "slice": builtins.slice,   # (generated index_add's index)
    "print": builtins.print, "math.floor": math.floor, "math.ceil": math.ceil, "math.isnan": math.isnan,
    "math.isinf": math.isinf, "math.isfinite": math.isfinite, "rt.slogdet_sign": None,
    "math.isqrt": math.isqrt, "math.trunc": math.trunc, "abs_int": None, "round": builtins.round,
    "np.isclose": np.isclose, "np.allclose": np.allclose,   # (a solver's convergence test)
    "rt.fstring": None,     # (an f-string's text: transforms/desugar.py)
}
# their kind laws (transforms/kind_laws.py): eye and identity give matrices (of floats unless a dtype is given),
# np.shape a tuple of ints as long as the rank, the index pairs two int vectors, searchsorted ints of v's rank,
# any / all / count_nonzero a bool / int with the axes given removed; range, slice and print give no value of a kind
_NONDIFF_KINDS = {
    "np.eye": ("eye", 3), "np.identity": ("eye", 1), "np.shape": "shape", "np.tril_indices": ("arrays", 2, 1, "i"),
    "np.triu_indices": ("arrays", 2, 1, "i"), "np.searchsorted": ("like_dtype", 1, "i"), "np.any": ("reduce_to", "b"),
    "np.all": ("reduce_to", "b"), "np.count_nonzero": ("reduce_to", "i"), "range": "opaque", "bool": ("scalar", "b"),
    "slice": "opaque", "print": "opaque", "math.floor": ("scalar", "i"), "math.ceil": ("scalar", "i"),
    "math.isnan": ("scalar", "b"), "math.isinf": ("scalar", "b"), "math.isfinite": ("scalar", "b"),
    "rt.slogdet_sign": "reduce", "math.isqrt": ("scalar", "i"), "math.trunc": ("scalar", "i"), "abs_int": "same",
    "round": "round", "np.isclose": ("broadcast", 0, "b"), "np.allclose": ("scalar", "b"), "rt.fstring": "opaque",
}
# no-derivative functions whose result is still a smooth function of a float argument: declined when that
# argument is differentiated (name -> advice)
# (or name -> (message, advice))
_FULL_SVD = ("np.linalg.svd with full_matrices=True (the default): the extra columns of U (rows of Vh) it adds "
             "are not determined by the matrix, so U and Vh have no derivative",
             "pass full_matrices=False: U, s, Vh = np.linalg.svd(a, full_matrices=False)")
CONSTANT_ARGUMENTS = {"np.arange": "build the range from integers: start + step * np.arange(n)",
                      "rt.svd_u_full": _FULL_SVD, "rt.svd_vh_full": _FULL_SVD}
# ... and the device code of those that are tests of one number (math.isfinite exists in CUDA Python)
_NONDIFF_CUDA = {"math.isnan": "math.isnan({0})", "math.isinf": "math.isinf({0})", "math.isfinite": "math.isfinite({0})"}
for _name, _obj in _NONDIFF.items():
    R(_name, [_obj] if _obj is not None else [], "*args, **kwargs", nondiff=True, kind=_NONDIFF_KINDS[_name],
      cuda=_NONDIFF_CUDA.get(_name))
# ... and those whose result's kind or shape is known
ANY = "*args, **kwargs"
for _name in ("np.zeros", "np.ones", "np.empty"):
    R(_name, [getattr(np, _name[3:])], ANY, nondiff=True, kind=("fill", 1), shape="new")
for _name in ("np.zeros_like", "np.ones_like", "np.empty_like"):
    R(_name, [getattr(np, _name[3:])], ANY, nondiff=True, kind="like_given", shape="fill")
for _name in ("np.argmax", "np.argmin"):
    R(_name, [getattr(np, _name[3:])], ANY, nondiff=True, kind="argreduce")
R("np.arange", [np.arange], ANY, nondiff=True, kind="arange")
R("np.argsort", [np.argsort], ANY, nondiff=True, kind="argsort")
for _name, _obj in (("len", builtins.len), ("int", builtins.int), ("np.size", np.size), ("np.ndim", np.ndim)):
    R(_name, [_obj], ANY, nondiff=True, kind="int")
# builtin max / min as srcdiff itself writes them into generated code (a tape's length max(n, 0), a mean's share
# g / max(x.size, 1)): no derivative, of the scalar arguments' dtype (kind_laws._law_pick); no objects, so a
# user's max(a, b) still resolves to rt.max2 / rt.min2 (BUILTIN_ALIASES)
for _name in ("max", "min"):
    R(_name, [], ANY, nondiff=True, kind="pick")
R("rt.svd_u_full", [], ANY, nondiff=True, kind=("of_matrix", 2))
R("rt.svd_vh_full", [], ANY, nondiff=True, kind=("of_matrix", 2))
# piecewise constant: elementwise with no derivative
R("np.sign", [np.sign], ANY, nondiff=True, cuda="(1.0 if ({0}) > 0 else (-1.0 if ({0}) < 0 else 0.0))", **EW)
R("np.floor", [np.floor], ANY, nondiff=True, cuda="float(math.floor({0}))", **EW)
R("np.ceil", [np.ceil], ANY, nondiff=True, cuda="float(math.ceil({0}))", **EW)
R("np.trunc", [np.trunc, np.fix], ANY, nondiff=True, cuda="float(math.trunc({0}))", **EW)   # (np.fix rounds towards 0)
for _name in ("np.round", "np.rint", "np.around"):
    R(_name, [getattr(np, _name[3:])], ANY, nondiff=True, **EW)
for _name, _cuda in (("np.isnan", "math.isnan({0})"), ("np.isinf", "math.isinf({0})"),
                     ("np.isfinite", "math.isfinite({0})"), ("np.logical_and", "(({0}) != 0 and ({1}) != 0)"),
                     ("np.logical_or", "(({0}) != 0 or ({1}) != 0)"), ("np.logical_not", "(({0}) == 0)")):
    R(_name, [getattr(np, _name[3:])], ANY, nondiff=True, kind=("broadcast", 0, "b"), shape="elementwise", cuda=_cuda)
R("np.floor_divide", [np.floor_divide], ANY, nondiff=True, kind="promote", shape="elementwise")
# (of a vector v, NumPy's tril/triu are those of the matrix whose rows are v: its adjoint sums the rows)
R("np.tril", [np.tril], "x, k=0", "rt.unbroadcast(np.tril(g, k), x)", None, jvp="np.tril(dx, k)", kind=("at_least", 2),
  shape="triangle")
R("np.triu", [np.triu], "x, k=0", "rt.unbroadcast(np.triu(g, k), x)", None, jvp="np.triu(dx, k)", kind=("at_least", 2),
  shape="triangle")

# builtins the compiler rewrites: max(a, b) -> rt.max2, min(a, b) -> rt.min2, sum(x) -> np.sum
R("builtin_sum", [], "x", nondiff=True,
  kind="sum_first")  # canonicalize turns it into rt.sum(x, 0) (sums the first axis)
BUILTIN_ALIASES = {id(builtins.max): "rt.max2", id(builtins.min): "rt.min2", id(builtins.sum): "builtin_sum",
                   id(builtins.pow): "**", id(math.pow): "**", id(np.power): "**", id(np.float_power): "**",
                   id(np.add): "+", id(np.subtract): "-", id(np.multiply): "*", id(np.divide): "/",
                   id(np.true_divide): "/",
                   # the operator module's functions are the operators
                   id(operator.add): "+", id(operator.sub): "-", id(operator.mul): "*",
                   id(operator.truediv): "/", id(operator.pow): "**", id(operator.mod): "%",
                   id(operator.matmul): "@", id(operator.neg): "neg", id(operator.pos): "pos"}
# canonical names that are operators: a call of one (pow(x, y), np.add(x, y), np.matmul(x, y)) becomes the
# operator (the rule names "@", "neg", "pos" are no callable names in generated code)
OPERATOR_CALLS = {"+": "Add", "-": "Sub", "*": "Mult", "/": "Div", "**": "Pow", "%": "Mod", "@": "MatMult"}
UNARY_OPERATOR_CALLS = {"neg": "USub", "pos": "UAdd"}   # np.negative(x) -> -x, np.positive(x) -> +x
# calls with axis= are rewritten to the rt reduction of the same name
AXIS_REDUCTIONS = {"np.sum": "rt.sum", "np.mean": "rt.mean", "np.prod": "rt.prod", "np.max": "rt.max",
                   "np.min": "rt.min", "rt.logsumexp": "rt.logsumexp"}
# keywords that canonicalize reads itself: a reduction's axis= and keepdims=, eigvalsh's UPLO=, transpose's axes=
# (the rest of NumPy's parameters past a rule's are declined where they are not the default)
CANON_KEYWORDS = {**{name: ("axis", "keepdims") for name in AXIS_REDUCTIONS}, "np.linalg.eigvalsh": ("UPLO",),
                  "np.transpose": ("axes",)}
# NumPy's other names for a rule's parameters (NumPy 2's np.clip(x, min=, max=))
KEYWORD_ALIASES = {"np.clip": {"min": "a_min", "max": "a_max"}, "np.diag": {"offset": "k"}}   # (np.diagonal's offset=)
# rules whose parameters NumPy lets one leave out in the middle (np.clip(x, a_max=1): an open side is None)
OPEN_BOUNDS = ("np.clip",)
# methods on arrays -> function names (x.sum(axis=0) -> np.sum(x, axis=0))
METHODS = {"sum": "np.sum", "mean": "np.mean", "prod": "np.prod", "max": "np.max", "min": "np.min",
           "dot": "np.dot", "reshape": "np.reshape", "ravel": "np.ravel", "flatten": "np.ravel",
           "transpose": "np.transpose", "copy": "np.copy", "squeeze": "rt.squeeze", "trace": "np.trace",
           "clip": "np.clip", "argmax": "np.argmax", "argmin": "np.argmin", "any": "np.any", "all": "np.all",
           "diagonal": "np.diag", "astype": None, "var": "np.var", "std": "np.std",
           "cumsum": "rt.cumsum", "cumprod": "rt.cumprod", "swapaxes": "np.swapaxes", "take": "np.take",
           "repeat": "np.repeat"}
