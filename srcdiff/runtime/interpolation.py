"""np.interp as a primitive: its value, its slope in x and the transposes the adjoints need."""
import numpy as np
from numba.extending import register_jitable

from ._typing import float_dtype, nb_float_type, nb_is_array, nb_is_scalar
from ._cache import cached_overload


# ---- linear interpolation --------------------------------------------------------------------------------
def interp(x, xp, fp):
    """np.interp(x, xp, fp) (xp increasing; x outside [xp[0], xp[-1]] takes the end values)."""
    return np.interp(x, xp, fp)


@cached_overload(interp)
def _interp_nb(x, xp, fp):
    return lambda x, xp, fp: np.interp(x, xp, fp)


def _segments(x, xp):
    """Per x: the segment j (xp[j] <= x <= xp[j + 1]), its weight t on fp[j + 1], and whether x is inside."""
    xp = np.asarray(xp, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    inside = (x >= xp[0]) & (x <= xp[-1])
    t = np.clip((x - xp[j]) / (xp[j + 1] - xp[j]), 0.0, 1.0)
    return j, t, inside


def interp_slope(x, xp, fp):
    """d np.interp(x, xp, fp) / dx: the slope of x's segment, 0 outside [xp[0], xp[-1]] (where interp is flat)."""
    fp = np.asarray(fp)
    j, _, inside = _segments(x, xp)
    xp = np.asarray(xp)
    s = np.where(inside, (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]), 0.0).astype(float_dtype(fp.dtype))
    return s if np.ndim(x) else s[()]


def interp_transpose(v, x, xp, fp):
    """The adjoint of fp in np.interp(x, xp, fp): v split between the ends of each x's segment."""
    fp = np.asarray(fp)
    j, t, _ = _segments(x, xp)
    out = np.zeros(fp.shape, float_dtype(np.result_type(fp.dtype, np.asarray(v).dtype)))
    v = np.broadcast_to(v, np.shape(x))
    np.add.at(out, j, v * (1.0 - t))
    np.add.at(out, j + 1, v * t)
    return out


def interp_slope_transpose(w, x, xp, fp):
    """The adjoint of fp in interp_slope(x, xp, fp): -w / h at x's segment's left knot, w / h at its right
    (h the segment's width; nothing from x outside [xp[0], xp[-1]])."""
    fp = np.asarray(fp)
    j, _, inside = _segments(x, xp)
    xp = np.asarray(xp)
    out = np.zeros(fp.shape, float_dtype(np.result_type(fp.dtype, np.asarray(w).dtype)))
    r = np.where(inside, np.broadcast_to(w, np.shape(x)) / (xp[j + 1] - xp[j]), 0.0)
    np.add.at(out, j, -r)
    np.add.at(out, j + 1, r)
    return out


@register_jitable
def _segment(x, xp):
    n = xp.size
    j = np.searchsorted(xp, x, side="right") - 1
    j = min(max(j, 0), n - 2)
    t = (x - xp[j]) / (xp[j + 1] - xp[j])
    return j, min(max(t, 0.0), 1.0), x >= xp[0] and x <= xp[n - 1]


@cached_overload(interp_slope)
def _interp_slope_nb(x, xp, fp):
    if not (nb_is_array(xp) and nb_is_array(fp)):
        return None
    T = nb_float_type(fp)

    def one(x, xp, fp):
        j, t, inside = _segment(x, xp)
        return T((fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])) if inside else T(0.0)
    one = register_jitable(one)
    if nb_is_scalar(x):
        return one

    def impl(x, xp, fp):
        xc = np.ascontiguousarray(x).reshape(x.size)
        out = np.empty(x.size, T)
        for i in range(x.size):
            out[i] = one(xc[i], xp, fp)
        return out.reshape(x.shape)
    return impl


@register_jitable
def _flat_pair(x, v):
    """x flattened, and v broadcast to x's shape and flattened."""
    xb = np.ascontiguousarray(np.asarray(x)).reshape(np.asarray(x).size)
    return xb, np.ascontiguousarray(np.broadcast_to(np.asarray(v), np.asarray(x).shape)).reshape(xb.size)


@cached_overload(interp_transpose)
def _interp_transpose_nb(v, x, xp, fp):
    if not (nb_is_array(xp) and nb_is_array(fp)):
        return None
    T = np.result_type(nb_float_type(fp), nb_float_type(v)).type
    if nb_is_scalar(x) and nb_is_scalar(v):   # (Numba cannot broadcast to the shape (): fuzz seed 700075)
        def scalar(v, x, xp, fp):
            out = np.zeros(fp.shape, T)
            j, t, _ = _segment(x, xp)
            out[j] += v * (1.0 - t)
            out[j + 1] += v * t
            return out
        return scalar

    def impl(v, x, xp, fp):
        xb, vb = _flat_pair(x, v)
        out = np.zeros(fp.shape, T)
        for i in range(xb.size):
            j, t, _ = _segment(xb[i], xp)
            out[j] += vb[i] * (1.0 - t)
            out[j + 1] += vb[i] * t
        return out
    return impl


@cached_overload(interp_slope_transpose)
def _interp_slope_transpose_nb(w, x, xp, fp):
    if not (nb_is_array(xp) and nb_is_array(fp)):
        return None
    T = np.result_type(nb_float_type(fp), nb_float_type(w)).type
    if nb_is_scalar(x) and nb_is_scalar(w):
        def scalar(w, x, xp, fp):
            out = np.zeros(fp.shape, T)
            j, t, inside = _segment(x, xp)
            if inside:
                r = w / (xp[j + 1] - xp[j])
                out[j] -= r
                out[j + 1] += r
            return out
        return scalar

    def impl(w, x, xp, fp):
        xb, wb = _flat_pair(x, w)
        out = np.zeros(fp.shape, T)
        for i in range(xb.size):
            j, t, inside = _segment(xb[i], xp)
            if inside:
                r = wb[i] / (xp[j + 1] - xp[j])
                out[j] -= r
                out[j + 1] += r
        return out
    return impl
