"""Elementwise special functions for scalars and arrays, also usable inside numba.njit.

Python calls go through SciPy; Numba calls use the scalar kernels below. Float32 in
gives float32 out; integers give float64.
"""
import math

import numpy as np
import scipy.special as sps
from numba.extending import overload, register_jitable

from ._typing import (float_dtype, float_scalar_type, is_array, nb_float_type, nb_is_array,
                      nb_is_scalar, nb_result_type, own)

__all__ = ["expit", "log_expit", "softplus", "gamma", "gammaln", "digamma", "trigamma", "tetragamma", "erf", "erfc", "ndtr",
           "log_ndtr", "mills_inverse", "xlogy", "xlog1py", "ndtri", "erfinv", "dsinc"]


# --- scalar kernels (float64) -------------------------------------------------

@register_jitable
def _expit_k(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@register_jitable
def _log_expit_k(x):
    if x >= 0.0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


@register_jitable
def _softplus_k(x):
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@register_jitable
def _ndtr_k(x):
    return 0.5 * math.erfc(-x * 0.7071067811865476)


@register_jitable
def _tail_series(x):
    """1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8: Phi(x) = pdf(x) / -x times this, for x << 0."""
    z = 1.0 / (x * x)
    return 1.0 - z * (1.0 - z * (3.0 - z * (15.0 - z * 105.0)))


@register_jitable
def _log_ndtr_k(x):
    """log Phi(x): log1p of the upper tail for x > 0, erfc down to -20, the tail series below."""
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x * 0.7071067811865476))
    if x > -20.0:
        return math.log(0.5 * math.erfc(-x * 0.7071067811865476))
    return -0.5 * x * x - math.log(-x) - 0.9189385332046728 + math.log(_tail_series(x))


@register_jitable
def _mills_inverse_k(x):
    """pdf(x) / Phi(x), the derivative of log Phi; tends to -x as x -> -inf."""
    if x > -20.0:
        return 0.3989422804014327 * math.exp(-0.5 * x * x) / (0.5 * math.erfc(-x * 0.7071067811865476))
    return -x / _tail_series(x)


@register_jitable
def _xlogy_k(x, y):
    return 0.0 if x == 0.0 else x * math.log(y)


@register_jitable
def _xlog1py_k(x, y):
    return 0.0 if x == 0.0 else x * math.log1p(y)


# Acklam's rational approximation of the normal quantile (relative error below 1.2e-9), then one
# Halley step on Phi(x) = p, which brings it to double precision
_NQ_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
         -3.066479806614716e+01, 2.506628277459239e+00)
_NQ_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
         -1.328068155288572e+01)
_NQ_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
         4.374664141464968e+00, 2.938163982698783e+00)
_NQ_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)


@register_jitable
def _ndtri_lower(p):
    """Phi^-1(p) for 0 < p <= 0.5."""
    a, b, c, d = _NQ_A, _NQ_B, _NQ_C, _NQ_D
    if p < 0.02425:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    else:
        q = p - 0.5
        r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    e = 0.5 * math.erfc(-x * 0.7071067811865476) - p
    u = e * 2.5066282746310002 * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@register_jitable
def _ndtri_k(p):
    if p <= 0.0 or p >= 1.0:
        return -math.inf if p == 0.0 else (math.inf if p == 1.0 else math.nan)
    return _ndtri_lower(p) if p <= 0.5 else -_ndtri_lower(1.0 - p)


@register_jitable
def _erfinv_k(y):
    """erf^-1(y) = Phi^-1((1 + y) / 2) / sqrt(2), from the nearer tail so that 1 - |y| keeps its digits."""
    if y <= -1.0 or y >= 1.0:
        return -math.inf if y == -1.0 else (math.inf if y == 1.0 else math.nan)
    if y == 0.0:
        return 0.0
    x = _ndtri_lower(0.5 * (1.0 - abs(y))) * -0.7071067811865476
    return x if y > 0.0 else -x


@register_jitable
def _dsinc_k(x):
    """d/dx sinc(x) = (cos(pi x) - sinc(x)) / x, 0 at 0 (a series near 0, where the difference cancels)."""
    if abs(x) < 1e-3:
        z = 9.869604401089358 * x
        return z * (-0.3333333333333333 + z * x * 0.03333333333333333)
    t = math.pi * x
    return (math.cos(t) - math.sin(t) / t) / x


@register_jitable
def _digamma_k(x):
    """psi(x): reflection for x < 0, recurrence up to x >= 10, then the asymptotic series."""
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    r = 0.0
    if x <= 0.0:
        if x == math.floor(x):
            return -math.copysign(math.inf, x) if x == 0.0 else math.nan
        f = x - math.floor(x + 0.5)  # tan(pi x) has period 1
        r = -math.pi / math.tan(math.pi * f)
        x = 1.0 - x
    while x < 10.0:
        r -= 1.0 / x
        x += 1.0
    x2 = 1.0 / (x * x)
    tail = x2 * (1 / 12 - x2 * (1 / 120 - x2 * (1 / 252 - x2 * (1 / 240 - x2 * (
        1 / 132 - x2 * (691 / 32760 - x2 / 12))))))
    return r + math.log(x) - 0.5 / x - tail


@register_jitable
def _trigamma_k(x):
    """psi'(x): reflection for x < 0, recurrence up to x >= 10, then the asymptotic series."""
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return 0.0
    r = 0.0
    sign = 1.0
    if x <= 0.0:
        if x == math.floor(x):
            return math.inf
        s = math.sin(math.pi * (x - math.floor(x + 0.5)))  # sin^2(pi x) has period 1
        r = math.pi * math.pi / (s * s)
        sign = -1.0
        x = 1.0 - x
    acc = 0.0
    while x < 10.0:
        acc += 1.0 / (x * x)
        x += 1.0
    x2 = 1.0 / (x * x)
    tail = 1.0 / x + 0.5 * x2 + x2 / x * (1 / 6 - x2 * (1 / 30 - x2 * (1 / 42 - x2 * (
        1 / 30 - x2 * (5 / 66 - x2 * (691 / 2730 - x2 * 7 / 6))))))
    return r + sign * (acc + tail)


@register_jitable
def _tetragamma_k(x):
    """psi''(x), trigamma's derivative: reflection psi''(x) = psi''(1 - x) - 2 pi^3 cot(pi x) / sin^2(pi x) for
    x < 0, the recurrence psi''(x) = psi''(x + 1) - 2 / x^3 up to x >= 10, then the derivative of trigamma's
    asymptotic series."""
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return 0.0
    r = 0.0
    if x <= 0.0:
        if x == math.floor(x):
            return math.nan
        f = x - math.floor(x + 0.5)   # cot(pi x) / sin^2(pi x) has period 1
        s = math.sin(math.pi * f)
        r = -2.0 * math.pi ** 3 * math.cos(math.pi * f) / (s * s * s)
        x = 1.0 - x
    acc = 0.0
    while x < 10.0:
        acc -= 2.0 / (x * x * x)
        x += 1.0
    x2 = 1.0 / (x * x)
    tail = -x2 - x2 / x - x2 * x2 * (0.5 - x2 * (1 / 6 - x2 * (1 / 6 - x2 * (0.3 - x2 * (
        5 / 6 - x2 * (691 / 210 - x2 * 17.5))))))
    return r + acc + tail


# --- Python functions and their Numba overloads ---------------------------------

def _keep_dtype(r, x):
    """SciPy result `r` for input `x`, cast to x's float type."""
    if is_array(x):
        return np.asarray(r).astype(float_dtype(x.dtype), copy=False)
    return float_scalar_type(x)(r)


def _register(pyfunc, kernel):
    @overload(pyfunc)
    def _nb(x):
        return own(_impl(x), pyfunc)

    def _impl(x):
        T = nb_float_type(x)
        if nb_is_scalar(x):
            return lambda x: T(kernel(np.float64(x)))
        if not nb_is_array(x):
            return None

        def impl(x):
            xc = np.ascontiguousarray(x)
            flat = xc.reshape(xc.size)
            out = np.empty(xc.size, T)
            for i in range(xc.size):
                out[i] = kernel(np.float64(flat[i]))
            return out.reshape(x.shape)
        return impl
    return pyfunc


def _register2(pyfunc, kernel):
    """Numba overload of a binary elementwise function (NumPy broadcasting) from its scalar kernel."""
    @overload(pyfunc)
    def _nb(x, y):
        return own(_impl(x, y), pyfunc)

    def _impl(x, y):
        if nb_is_scalar(x) and nb_is_scalar(y):
            T = nb_result_type(x, y)
            return lambda x, y: T(kernel(np.float64(x), np.float64(y)))
        if not ((nb_is_array(x) or nb_is_scalar(x)) and (nb_is_array(y) or nb_is_scalar(y))):
            return None
        T = nb_result_type(x, y)

        def impl(x, y):
            a, b = np.broadcast_arrays(np.asarray(x), np.asarray(y))
            out = np.empty(a.shape, T)
            for i in np.ndindex(a.shape):
                out[i] = kernel(np.float64(a[i]), np.float64(b[i]))
            return out
        return impl
    return pyfunc


def _keep_dtype2(r, x, y):
    """SciPy result `r` of a binary function, cast to the float type of x and y combined."""
    t = np.result_type(float_scalar_type(x), float_scalar_type(y)).type
    return np.asarray(r).astype(t, copy=False) if is_array(x) or is_array(y) else t(r)


def expit(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), stable for large |x|."""
    return _keep_dtype(sps.expit(x), x)


def log_expit(x):
    """log(expit(x)) = -log1p(exp(-x)), stable."""
    return _keep_dtype(sps.log_expit(x), x)


def softplus(x):
    """log1p(exp(x)), stable."""
    return _keep_dtype(np.logaddexp(0.0, x), x)


def gammaln(x):
    """log|Gamma(x)|."""
    return _keep_dtype(sps.gammaln(x), x)


def digamma(x):
    """psi(x) = d/dx log Gamma(x)."""
    return _keep_dtype(sps.digamma(x), x)


def trigamma(x):
    """psi'(x), the derivative of digamma."""
    return _keep_dtype(sps.polygamma(1, x), x)


def tetragamma(x):
    """psi''(x), the derivative of trigamma."""
    return _keep_dtype(sps.polygamma(2, x), x)


def erf(x):
    """Error function."""
    return _keep_dtype(sps.erf(x), x)


def gamma(x):
    """The Gamma function."""
    return _keep_dtype(sps.gamma(x), x)


def erfc(x):
    """Complementary error function 1 - erf(x), accurate where erf(x) is near 1."""
    return _keep_dtype(sps.erfc(x), x)


def ndtr(x):
    """Standard normal CDF Phi(x)."""
    return _keep_dtype(sps.ndtr(x), x)


def log_ndtr(x):
    """log Phi(x), accurate far into the lower tail."""
    return _keep_dtype(sps.log_ndtr(x), x)


def mills_inverse(x):
    """pdf(x) / Phi(x) = d/dx log Phi(x) (the inverse Mills ratio of -x), finite for all x."""
    v = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        z = 1.0 / (v * v)
        tail = -v / (1.0 - z * (1.0 - z * (3.0 - z * (15.0 - z * 105.0))))
        body = np.exp(-0.5 * v * v - 0.9189385332046728 - sps.log_ndtr(v))
    return _keep_dtype(np.where(v > -20.0, body, tail), x)


def ndtri(p):
    """The standard normal quantile Phi^-1(p)."""
    return _keep_dtype(sps.ndtri(p), p)


def erfinv(x):
    """The inverse error function."""
    return _keep_dtype(sps.erfinv(x), x)


def dsinc(x):
    """The derivative of np.sinc (normalised: sin(pi x) / (pi x)); 0 at 0."""
    v = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        t = np.pi * v
        z = 9.869604401089358 * v
        r = np.where(np.abs(v) < 1e-3, z * (-0.3333333333333333 + z * v * 0.03333333333333333),
                     (np.cos(t) - np.sin(t) / t) / v)
    return _keep_dtype(r, x)


def xlogy(x, y):
    """x * log(y), 0 where x == 0 (even where y == 0)."""
    return _keep_dtype2(sps.xlogy(x, y), x, y)


def xlog1py(x, y):
    """x * log1p(y), 0 where x == 0."""
    return _keep_dtype2(sps.xlog1py(x, y), x, y)


_register2(xlogy, _xlogy_k)
_register2(xlog1py, _xlog1py_k)
for _f, _k in ((expit, _expit_k), (log_expit, _log_expit_k), (softplus, _softplus_k),
               (gammaln, math.lgamma), (digamma, _digamma_k), (trigamma, _trigamma_k), (tetragamma, _tetragamma_k),
               (erf, math.erf), (gamma, math.gamma), (erfc, math.erfc), (ndtr, _ndtr_k), (log_ndtr, _log_ndtr_k),
               (mills_inverse, _mills_inverse_k), (ndtri, _ndtri_k), (erfinv, _erfinv_k), (dsinc, _dsinc_k)):
    _register(_f, _k)
del _f, _k
