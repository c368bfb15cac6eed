"""Small elementwise and indexing helpers used by the rule templates (Python and Numba)."""
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable


@register_jitable
def max_weight(x, y):
    """Share of an adjoint that max(x, y) sends to x: 1 where x > y, 1/2 at ties, else 0."""
    return (x > y) * 1.0 + (x == y) * 0.5


@register_jitable
def in_interval(x, lo, hi):
    """1.0 where lo <= x <= hi (clip's derivative), else 0.0."""
    return (x >= lo) * (x <= hi) * 1.0


@register_jitable
def linspace_weights(num, endpoint=True):
    """t with np.linspace(start, stop, num, endpoint) = start + t * (stop - start) (its derivative)."""
    steps = num - 1 if endpoint else num
    return np.arange(num) * (1.0 / max(steps, 1))


@register_jitable
def clip_low(x, lo, hi):
    """1.0 where np.clip(x, lo, hi) is lo (x < lo <= hi), else 0.0."""
    return (x < lo) * (lo <= hi) * 1.0


@register_jitable
def clip_high(x, lo, hi):
    """1.0 where np.clip(x, lo, hi) is hi through its upper bound (max(x, lo) > hi), else 0.0."""
    return ((x > hi) | (lo > hi)) * 1.0


@register_jitable
def max2(x, y):
    """Builtin max(x, y) on scalars."""
    return x if x >= y else y


@register_jitable
def min2(x, y):
    return x if x <= y else y


def pow_slope(x, y):
    """d/dx x ** y = y * x ** (y - 1), with NumPy's floating semantics (inf, not ZeroDivisionError, for
    0.0 ** negative) and exactly 0 where y == 0 (x ** 0 is constant, also at x = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(np.asarray(y) == 0, 0.0, y * np.power(np.asarray(x, dtype=float), np.asarray(y) - 1))
    return s if s.ndim else float(s)


@overload(pow_slope)
def _pow_slope(x, y):
    if isinstance(x, types.Array) or isinstance(y, types.Array):
        return lambda x, y: np.where(y == 0, 0.0, y * np.power(x * 1.0, y - 1))
    return lambda x, y: 0.0 if y == 0 else y * np.power(x * 1.0, y - 1)


def times_slope(t, s):
    """t * s, exactly 0 where the tangent t is 0, whatever the slope s (inf included): a still input moves nothing.
    The tangent rules of sqrt, cbrt and x ** y for y < 1 multiply by it, whose slope at 0 is infinite: at x = 0 the
    tangent of abs(x) is 0 (abs passes exactly 0 there: numpy_rules.py), and sqrt(abs(x)) (abs(x) ** 0.5) of it had
    tangent 0 * inf = NaN where the gradient is 0, the derivative of an even function at 0, as central differences
    give. Also where t is 0 because x is not varied in the direction taken."""
    with np.errstate(invalid="ignore", over="ignore"):
        r = np.where(np.asarray(t) == 0, 0.0 * t, t * s)
    return r if r.ndim else r[()]


@overload(times_slope)
def _times_slope(t, s):
    if isinstance(t, types.Array) or isinstance(s, types.Array):
        return lambda t, s: np.where(t == 0, 0.0 * t, t * s)
    return lambda t, s: t * s if t != 0 else 0.0 * t


def clip(x, a_min, a_max):
    """np.clip (transforms/products.py routes np.clip to it in jitted source): Numba's np.clip gives x's shape
    where a bound of more axes broadcasts x (np.clip of a (1, 3) x between a (2, 3) array and a number: one row,
    the first of NumPy's two), so array bounds are NumPy's own definition there, minimum(maximum(x, a_min), a_max)."""
    return np.clip(x, a_min, a_max)


def _is_none(t):
    return t is None or isinstance(t, (types.NoneType, types.Omitted))


@overload(clip)
def _clip_nb(x, a_min, a_max):
    if not (isinstance(a_min, types.Array) or isinstance(a_max, types.Array)):
        return lambda x, a_min, a_max: np.clip(x, a_min, a_max)
    if _is_none(a_min):
        return lambda x, a_min, a_max: np.minimum(x, a_max)
    if _is_none(a_max):
        return lambda x, a_min, a_max: np.maximum(x, a_min)
    return lambda x, a_min, a_max: np.minimum(np.maximum(x, a_min), a_max)


def sqrt_of_squares(x):
    """np.sqrt of a sum of squares (np.std's variance, np.linalg.norm's sum): a norm, whose rule takes the
    derivative where it is 0 as 0, the smallest subgradient (as abs at 0 and np.hypot at (0, 0)); np.std of one
    element, a constant, then has gradient 0, not NaN (0.5 / 0 times the variance's zero slope)."""
    return np.sqrt(x)


@overload(sqrt_of_squares)
def _sqrt_of_squares(x):
    return lambda x: np.sqrt(x)


def sqrt_slope(r):
    """d sqrt(v) / dv at r = sqrt(v): 0.5 / r where r > 0, else 0 (sqrt_of_squares' rule)."""
    r = np.asarray(r)
    with np.errstate(divide="ignore"):
        s = np.where(r > 0, 0.5 / np.where(r > 0, r, 1.0), 0.0 * r)
    return s if s.ndim else s[()]


@overload(sqrt_slope)
def _sqrt_slope(r):
    if isinstance(r, types.Array):
        return lambda r: np.where(r > 0, 0.5 / np.where(r > 0, r, 1.0), 0.0 * r)
    return lambda r: 0.5 / r if r > 0 else 0.0 * r


def norm_power(r, e):
    """r ** e where r > 0, else 0 (r >= 0): the powers a p-norm is made of (composites.py writes
    np.linalg.norm(x, p, axis) as norm_power(sum(norm_power(|x|, p)), 1 / p)). Its rule takes the derivative
    e * r ** (e - 1) where r is 0, infinite for e < 1, as 0, the smallest subgradient, as sqrt_of_squares does
    for the 2-norm: the p-norm of a zero vector then has gradient 0, not NaN (0 times an infinite slope)."""
    r = np.asarray(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(r > 0, np.where(r > 0, r, 1.0) ** e, 0.0 * r)
    return s if s.ndim else s[()]


@overload(norm_power)
def _norm_power(r, e):
    if isinstance(r, types.Array):
        return lambda r, e: np.where(r > 0, np.where(r > 0, r, 1.0) ** e, 0.0 * r)
    return lambda r, e: r ** e if r > 0 else 0.0 * r


def safe_log(x):
    """log(x) where x > 0, else 0: the x**y adjoint w.r.t. y stays finite where x <= 0."""
    return np.log(np.where(np.asarray(x) > 0, x, 1.0)) if np.ndim(x) else (np.log(x) if x > 0 else 0.0)


@overload(safe_log)
def _safe_log(x):
    if isinstance(x, types.Array):
        return lambda x: np.log(np.where(x > 0, x, 1.0))
    return lambda x: np.log(x) if x > 0 else 0.0


@overload(np.clip)
def _clip_scalar(a, a_min, a_max, out=None):
    """np.clip of a scalar under Numba (its own np.clip takes arrays only): min(max(a, a_min), a_max)."""
    if all(isinstance(v, (types.Number, types.Boolean)) for v in (a, a_min, a_max)):
        def impl(a, a_min, a_max, out=None):
            low = a_min if a < a_min else a
            return a_max if low > a_max else low
        return impl
    return None


def transpose(x, axes):
    return np.transpose(x, axes)


@overload(transpose)
def _transpose(x, axes):
    return lambda x, axes: np.transpose(x, axes)


@register_jitable
def written(dx, idx):
    """dx[idx] where the write x[idx] = v reached (the adjoint of v): an element an integer index array
    names twice is written twice, and the value the later write puts there is the one read afterwards;
    the earlier one's gets no adjoint. Which write won comes from writing positions the same way."""
    region = dx[idx]
    order = np.arange(region.size).reshape(region.shape)
    who = np.full(dx.shape, -1, dtype=np.int64)
    who[idx] = order
    return np.where(who[idx] == order, region, 0.0)


@register_jitable
def written_put(w, x, idx):
    """Zeros of x's shape with w put at idx, the later of two places idx names twice winning as in `x[idx] = v`:
    rt.written's adjoint (the winning place's value reaches its element, the others' none), and linear in w."""
    out = np.zeros(x.shape)
    out[idx] = w
    return out


def index_add(a, idx, g):
    """a[idx] += g in place, accumulating repeated fancy indices (np.add.at semantics)."""
    np.add.at(a, idx, g)


@overload(index_add)
def _index_add(a, idx, g):
    if isinstance(idx, types.Array) and idx.ndim == 1 and isinstance(idx.dtype, types.Integer):
        if isinstance(g, types.Array):
            def impl(a, idx, g):
                for k in range(idx.shape[0]):
                    a[idx[k]] += g[k]
        else:
            def impl(a, idx, g):
                for k in range(idx.shape[0]):
                    a[idx[k]] += g
        return impl

    if isinstance(idx, types.BaseTuple) and any(isinstance(t, types.Array) for t in idx.types):
        return _tuple_index_add(a, idx, g)
    if isinstance(idx, types.Array) and isinstance(idx.dtype, types.Integer) and (
            not isinstance(g, types.Array) or g.ndim == idx.ndim + a.ndim - 1):
        if isinstance(g, types.Array):   # a[idx] has idx's axes, then a's after the first
            def impl_nd(a, idx, g):
                for k in np.ndindex(idx.shape):
                    a[idx[k]] += g[k]
            return impl_nd

        def impl_nd_same(a, idx, g):
            for k in np.ndindex(idx.shape):
                a[idx[k]] += g
        return impl_nd_same
    if isinstance(idx, types.Array) and isinstance(idx.dtype, types.Integer):
        raise TypingError("srcdiff: a[idx] += g with an integer index array of rank > 1 under Numba "
                          "(repeated indices would not accumulate); use jit=False")

    if (isinstance(idx, types.Array) and isinstance(idx.dtype, types.Boolean) and idx.ndim > 1
            and isinstance(a, types.Array) and a.ndim == idx.ndim):
        return _mask_add      # (Numba indexes with a boolean array of rank 1 only)

    def basic(a, idx, g):      # slices, integers, boolean masks: no element is reached twice
        a[idx] += g
    return basic


def _mask_add(a, idx, g):
    """a[m] += g for a boolean mask of a's rank: g a scalar or one value per True place, in C order."""
    vals = np.asarray(g).ravel()
    step = 0 if vals.size == 1 else 1
    k = 0
    for at in np.ndindex(idx.shape):
        if idx[at]:
            a[at] += vals[k * step]
            k += 1


def _tuple_index_add_nd(a, idx, g, at, d):
    """a[arr, :, i] += g for an integer array arr of rank d > 1 first (x[idx, None]): a loop over arr's entries;
    a[idx] has arr's d axes first. An array after other entries is declined."""
    if at != 0:
        raise TypingError("srcdiff: a[..., idx] += g under Numba with an integer index array of rank > 1 after "
                          "other entries; use jit=False")
    entries = ", ".join("arr[k]" if j == at else f"idx[{j}]" for j in range(len(idx.types)))
    g_src = "g[k]" if isinstance(g, types.Array) else "g"
    src = (f"def impl(a, idx, g):\n    arr = idx[{at}]\n    for k in np.ndindex(arr.shape):\n"
           f"        a[{entries}] += {g_src}\n")
    ns: dict = {"np": np}
    exec(src, ns)
    return ns["impl"]


def _arrays_index_add(a, idx, g):
    """a[rows, cols] += g for integer index arrays only, one of rank > 1 (`a[np.arange(n)[:, None], idx]`, as
    np.take_along_axis): the arrays broadcast together, and a[idx] has their broadcast shape, then a's axes after
    the ones they index; a loop over the broadcast entries, so repeated ones accumulate."""
    n = len(idx.types)
    if n > a.ndim:
        raise TypingError("srcdiff: a[idx] += g: more index arrays than a has axes")
    rank = max(t.ndim for t in idx.types)
    if isinstance(g, types.Array) and g.ndim != rank + a.ndim - n:
        raise TypingError("srcdiff: a[idx] += g: g must have the rank of a[idx]")
    shapes = ", ".join(f"idx[{k}].shape" for k in range(n))
    spread = "".join(f"    b{k} = np.broadcast_to(idx[{k}], shp)\n" for k in range(n))
    entries = ", ".join(f"b{k}[k]" for k in range(n))
    g_src = "g[k]" if isinstance(g, types.Array) else "g"
    src = (f"def impl(a, idx, g):\n    shp = np.broadcast_shapes({shapes})\n{spread}"
           f"    for k in np.ndindex(shp):\n        a[{entries}] += {g_src}\n")
    ns: dict = {"np": np}
    exec(src, ns)
    return ns["impl"]


def _tuple_index_add(a, idx, g):
    """a[i, :, arr] += g and a[rows, cols] += g for 1-D integer arrays among slices, integers and an Ellipsis:
    a loop over the arrays' entries (broadcast together: equal lengths, or length 1), so repeated ones
    accumulate. NumPy puts the arrays' axis of a[idx] where the advanced entries (the arrays and the
    integers) are when they are adjacent, else first. A 1-D boolean array there (`p[hit, 1]`) is, as in
    NumPy, the integer array of its True places."""
    kinds = []
    for t in idx.types:
        if isinstance(t, types.Array) and t.ndim == 1 and isinstance(t.dtype, (types.Integer, types.Boolean)):
            kinds.append("array")
        elif isinstance(t, types.Integer):
            kinds.append("int")
        elif isinstance(t, types.SliceType):
            kinds.append("slice")
        elif isinstance(t, types.EllipsisType):
            kinds.append("...")
        else:
            kinds.append("?")
    multi = [t for t in idx.types if isinstance(t, types.Array) and t.ndim > 1 and isinstance(t.dtype, types.Integer)]
    if multi and len(idx.types) > 1 and all(isinstance(t, types.Array) and isinstance(t.dtype, types.Integer)
                                            for t in idx.types):
        return _arrays_index_add(a, idx, g)
    if len(multi) == 1 and kinds.count("?") == 1 and "array" not in kinds and kinds.count("...") <= 1:
        return _tuple_index_add_nd(a, idx, g, kinds.index("?"), multi[0].ndim)
    if "?" in kinds or kinds.count("...") > 1:
        raise TypingError("srcdiff: a[idx] += g under Numba takes 1-D integer index arrays among "
                          "slices and integers (repeated indices must accumulate); use jit=False")
    fill = a.ndim - (len(kinds) - kinds.count("..."))
    entries, axes = [], []          # source of each index entry of a, and its kind, Ellipsis expanded
    for k, kind in enumerate(kinds):
        if kind == "...":
            entries += [":"] * fill
            axes += ["slice"] * fill
        else:
            entries.append(f"ix{k}[k * step{k}]" if kind == "array" else f"idx[{k}]")
            axes.append(kind)
    axes += ["slice"] * (a.ndim - len(axes))
    adv = [p for p, kind in enumerate(axes) if kind != "slice"]
    g_axis = axes[:adv[0]].count("slice") if adv[-1] - adv[0] + 1 == len(adv) else 0
    g_nd = axes.count("slice") + 1
    if isinstance(g, types.Array) and g.ndim != g_nd:
        raise TypingError("srcdiff: a[idx] += g: g must have the rank of a[idx]")
    arrays = [k for k, kind in enumerate(kinds) if kind == "array"]
    positions = "".join(f"    ix{k} = np.nonzero(idx[{k}])[0]\n" if isinstance(idx.types[k].dtype, types.Boolean)
                        else f"    ix{k} = idx[{k}]\n" for k in arrays)
    lengths = "".join(f"    if ix{k}.shape[0] != 1:\n        m = ix{k}.shape[0]\n" for k in arrays)   # (0: none)
    steps = "".join(f"    step{k} = 1 if ix{k}.shape[0] == m else 0\n"
                    f"    if ix{k}.shape[0] != m and ix{k}.shape[0] != 1:\n"
                    f"        raise IndexError('shape mismatch: indexing arrays could not be broadcast together')\n"
                    for k in arrays)
    g_src = "g[" + ", ".join([":"] * g_axis + ["k * g_step"]) + "]" if isinstance(g, types.Array) else "g"
    g_step = (f"    g_step = 1 if g.shape[{g_axis}] == m else 0\n" if isinstance(g, types.Array) else "")
    src = (f"def impl(a, idx, g):\n{positions}    m = 1\n{lengths}{steps}{g_step}    for k in range(m):\n"
           f"        a[{', '.join(entries)}] += {g_src}\n")
    ns: dict = {"np": np}
    exec(src, ns)
    return ns["impl"]
