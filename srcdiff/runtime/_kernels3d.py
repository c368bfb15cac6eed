"""Numba kernels over the middle axis of a 3-D array ``x3[outer, n, inner]`` (runtime-internal).

Reduction kernels return ``(outer, inner)`` arrays; gradient kernels take the
adjoint ``g2`` and forward result ``a2`` as ``(outer, inner)`` arrays and return
an array shaped like ``x3``.
"""
import math

import numpy as np
from numba import njit
from numba.extending import register_jitable


@njit(cache=True)
def sum_mid(x3, dt):
    outer, n, inner = x3.shape
    out = np.zeros((outer, inner), dt)
    for o in range(outer):
        for i in range(n):
            for j in range(inner):
                out[o, j] += x3[o, i, j]
    return out


@njit(cache=True)
def prod_mid(x3, dt):
    outer, n, inner = x3.shape
    out = np.ones((outer, inner), dt)
    for o in range(outer):
        for i in range(n):
            for j in range(inner):
                out[o, j] *= x3[o, i, j]
    return out


@register_jitable
def _extremum_mid(x3, sign):
    outer, n, inner = x3.shape
    if n == 0:
        raise ValueError("zero-size array to reduction operation which has no identity")
    out = np.empty((outer, inner), x3.dtype)
    for o in range(outer):
        for j in range(inner):
            out[o, j] = x3[o, 0, j]
        for i in range(1, n):
            for j in range(inner):
                v = x3[o, i, j]
                m = out[o, j]
                if m == m and (v != v or (v > m if sign > 0 else v < m)):
                    out[o, j] = v
    return out


@njit(cache=True)
def max_mid(x3, dt):
    """Max over the middle axis in x's dtype (`dt` unused); NaN propagates."""
    return _extremum_mid(x3, 1)


@njit(cache=True)
def min_mid(x3, dt):
    """Min over the middle axis in x's dtype (`dt` unused); NaN propagates."""
    return _extremum_mid(x3, -1)


@njit(cache=True)
def mean_mid(x3, dt):
    return sum_mid(x3, dt) / x3.shape[1]


@njit(cache=True)
def logsumexp_mid(x3, dt):
    outer, n, inner = x3.shape
    out = np.empty((outer, inner), dt)
    for o in range(outer):
        for j in range(inner):
            m = -np.inf
            for i in range(n):
                v = x3[o, i, j]
                if v > m or v != v:
                    m = v
            if m != m:
                out[o, j] = m
                continue
            shift = m if math.isfinite(m) else 0.0
            s = 0.0
            for i in range(n):
                s += math.exp(x3[o, i, j] - shift)
            out[o, j] = (math.log(s) if s > 0.0 else -np.inf) + shift
    return out


@njit(cache=True)
def spread_mid(g2, n, dt, scale):
    """Broadcast g2[outer, inner] back along a middle axis of length n, times `scale`."""
    outer, inner = g2.shape
    out = np.empty((outer, n, inner), dt)
    for o in range(outer):
        for i in range(n):
            for j in range(inner):
                out[o, i, j] = g2[o, j] * scale
    return out


@njit(cache=True)
def prod_grad_mid(g2, x3, dt):
    """g times the product of the other entries along the axis (zero-safe)."""
    outer, n, inner = x3.shape
    out = np.empty((outer, n, inner), dt)
    acc = np.empty(inner, dt)
    for o in range(outer):
        acc[:] = 1.0
        for i in range(n):
            for j in range(inner):
                out[o, i, j] = acc[j]
                acc[j] *= x3[o, i, j]
        for j in range(inner):
            acc[j] = g2[o, j]
        for i in range(n - 1, -1, -1):
            for j in range(inner):
                out[o, i, j] *= acc[j]
                acc[j] *= x3[o, i, j]
    return out


@njit(cache=True)
def others_derivative_mid(x3, t3, s3, second, dt):
    """Derivatives of the product of the other entries along the axis (zero-safe: the products from the left and
    from the right carried with their derivatives): in the direction t3, or (`second`) in t3 and then s3."""
    outer, n, inner = x3.shape
    out = np.empty((outer, n, inner), dt)
    pre = np.empty((4, n, inner), dt)
    for o in range(outer):
        for j in range(inner):
            p, pt, ps, pts = 1.0, 0.0, 0.0, 0.0
            for i in range(n):
                pre[0, i, j], pre[1, i, j], pre[2, i, j], pre[3, i, j] = p, pt, ps, pts
                xi, ti, si = x3[o, i, j], t3[o, i, j], s3[o, i, j]
                p, pt, ps, pts = p * xi, pt * xi + p * ti, ps * xi + p * si, pts * xi + pt * si + ps * ti
            q, qt, qs, qts = 1.0, 0.0, 0.0, 0.0
            for i in range(n - 1, -1, -1):
                if second:
                    out[o, i, j] = pre[3, i, j] * q + pre[1, i, j] * qs + pre[2, i, j] * qt + pre[0, i, j] * qts
                else:
                    out[o, i, j] = pre[1, i, j] * q + pre[0, i, j] * qt
                xi, ti, si = x3[o, i, j], t3[o, i, j], s3[o, i, j]
                q, qt, qs, qts = q * xi, qt * xi + q * ti, qs * xi + q * si, qts * xi + qt * si + qs * ti
    return out


@njit(cache=True)
def extremum_grad_mid(g2, x3, a2, dt):
    """g split equally among the entries equal to the extremum a2; NaN at NaN entries (a2 is NaN there)."""
    outer, n, inner = x3.shape
    out = np.zeros((outer, n, inner), dt)
    cnt = np.zeros(inner, np.int64)
    for o in range(outer):
        cnt[:] = 0
        for i in range(n):
            for j in range(inner):
                if x3[o, i, j] == a2[o, j]:
                    cnt[j] += 1
        for i in range(n):
            for j in range(inner):
                if x3[o, i, j] == a2[o, j]:
                    out[o, i, j] = g2[o, j] / cnt[j]
                elif np.isnan(x3[o, i, j]):
                    out[o, i, j] = np.nan
    return out


@njit(cache=True)
def logsumexp_grad_mid(g2, x3, a2, dt):
    """g * exp(x - ans), exactly 0 where x == -inf; if ans == +inf, g is split among the +inf."""
    outer, n, inner = x3.shape
    out = np.zeros((outer, n, inner), dt)
    cnt = np.zeros(inner, np.int64)
    for o in range(outer):
        cnt[:] = 0
        for i in range(n):
            for j in range(inner):
                if x3[o, i, j] == np.inf:
                    cnt[j] += 1
        for i in range(n):
            for j in range(inner):
                v = x3[o, i, j]
                a = a2[o, j]
                if a == np.inf:
                    if v == np.inf:
                        out[o, i, j] = g2[o, j] / cnt[j]
                elif v != -np.inf:
                    out[o, i, j] = g2[o, j] * math.exp(v - a)
    return out
