"""Elementwise special functions for scalars and arrays, also usable inside numba.njit.

Python calls go through SciPy; Numba calls use the scalar kernels below. Float32 in
gives float32 out; integers give float64.
"""
import math

import numpy as np
import scipy.special as sps
from numba.extending import overload, register_jitable

from ._typing import (float_dtype, float_scalar_type, is_array, nb_float_type, nb_is_array,
                      nb_is_scalar, own)

__all__ = ["expit", "log_expit", "softplus", "gammaln", "digamma", "trigamma", "erf"]


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
def _gammaln_k(x):
    return math.lgamma(x)


@register_jitable
def _erf_k(x):
    return math.erf(x)


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


def erf(x):
    """Error function."""
    return _keep_dtype(sps.erf(x), x)


for _f, _k in ((expit, _expit_k), (log_expit, _log_expit_k), (softplus, _softplus_k),
               (gammaln, _gammaln_k), (digamma, _digamma_k), (trigamma, _trigamma_k),
               (erf, _erf_k)):
    _register(_f, _k)
del _f, _k
