"""NumPy functions that srcdiff differentiates as compositions of its primitives (as jax.numpy does).

`np.var(x, axis=0)` is rewritten, at the user's line, into the mean of the squared deviations before
the A-normal form is made, so it has every backend, forward mode and higher orders at once, and the
generated code shows what the derivative is made of. Each entry: the NumPy signature (arguments bind
as NumPy binds them) and a builder returning the expression as a template over those parameter
names, or raises Decline (the entry's advice follows in the error).
"""
from __future__ import annotations

import math

import gast
import numpy as np
import scipy.special

from ..transforms.astutil import const, copy_loc, parse_expr, substitute
from .registry import signature

_ABSENT = object()


class Decline(Exception):
    """A call this composite does not take (the message says which part)."""


def _value(arg, default=_ABSENT):
    """Literal value of a bound argument (a gast Constant), `default` when not given, else _ABSENT."""
    if arg is None:
        return default
    return arg.value if isinstance(arg, gast.Constant) else _ABSENT   # (-1 is one constant by now)


def _reduce(fn: str, a: dict, body: str = "x") -> str:
    """`fn(body, axis=axis, keepdims=keepdims)` with the axis/keepdims the call gave."""
    extra = ", axis=axis" if a.get("axis") is not None else ""
    extra += ", keepdims=keepdims" if a.get("keepdims") is not None else ""
    return f"{fn}({body}{extra})"


def _var(a: dict):
    ddof = _value(a.get("ddof"), 0)
    if ddof is _ABSENT:
        raise Decline("ddof must be a number literal")
    dev = "np.square(x - np.mean(x, axis=axis, keepdims=True))" if a.get("axis") is not None \
        else "np.square(x - np.mean(x))"
    if ddof == 0:
        return _reduce("np.mean", a, dev)
    n = "x.shape[axis]" if a.get("axis") is not None else "x.size"
    return f"{_reduce('np.sum', a, dev)} / ({n} - {ddof!r})"


def _std(a: dict):    # (0 where the spread is: runtime/elementwise.py's sqrt_of_squares)
    return f"rt.sqrt_of_squares({_var(a)})"


def _norm(a: dict):
    order = _value(a.get("ord"), None)
    if order is _ABSENT:
        raise Decline("ord must be a literal (None, 'fro', 1, 2, np.inf, -np.inf or another number)")
    if a.get("axis") is not None and _value(a["axis"]) is None:
        del a["axis"]     # (axis=None written out: NumPy's matrix norms for a matrix, as without it)
    axis = a.get("axis")
    if order == "fro" and axis is not None and not (isinstance(axis, gast.Tuple) and len(axis.elts) == 2):
        raise Decline("ord='fro' is a matrix norm: give axis= two axes, (0, 1), or none (ord=None or 2 along "
                      "one axis is the vector 2-norm)")
    if order in (None, "fro"):
        return f"rt.sqrt_of_squares({_reduce('np.sum', a, 'np.square(x)')})"
    if a.get("axis") is None:
        raise Decline(f"ord={order!r} without axis=: srcdiff does not know here whether x is a vector or a "
                "matrix (for a matrix that ord means an operator norm, which has no rule)")
    if isinstance(axis, gast.Tuple) and len(axis.elts) > 1:
        raise Decline(f"ord={order!r} over two axes is a matrix (operator) norm, which has no rule: give one axis "
                      "for vector norms, or ord='fro' (or None) for the Frobenius norm")
    if order == 2:
        return f"rt.sqrt_of_squares({_reduce('np.sum', a, 'np.square(x)')})"
    if order == 1:
        return _reduce("np.sum", a, "np.abs(x)")
    if order == math.inf:
        return _reduce("np.max", a, "np.abs(x)")
    if order == -math.inf:
        return _reduce("np.min", a, "np.abs(x)")
    if isinstance(order, (int, float)) and order > 0:
        powers = _reduce("np.sum", a, f"rt.norm_power(np.abs(x), {float(order)!r})")
        return f"rt.norm_power({powers}, {1.0 / order!r})"    # (its derivative at 0: 0, runtime/elementwise.py)
    raise Decline(f"ord={order!r} has no rule")


def _average(a: dict):
    if a.get("returned") is not None:
        raise Decline("returned=True is not supported")
    if a.get("weights") is None:
        return _reduce("np.mean", a)
    if a.get("axis") is not None:
        raise Decline("weights together with axis= are not supported (NumPy aligns 1-d weights with the axis)")
    return "np.sum(x * weights) / np.sum(weights)"


def _diff(a: dict):
    n = _value(a.get("n"), 1)
    if type(n) is not int or n < 0:
        raise Decline("n must be a non-negative int literal")
    if a.get("prepend") is not None or a.get("append") is not None:
        raise Decline("prepend= and append= are not supported")
    a.setdefault("axis", const(-1))
    e = "x"
    for _ in range(n):
        e = f"rt.diff({e}, axis)"
    return e


def _gradient(a: dict):   # central differences inside, one-sided at the two ends (edge_order=1), over spacing h
    spacing = a.pop("varargs", ())
    if _value(a.pop("edge_order", None), 1) != 1:
        raise Decline("edge_order must be 1")
    if len(spacing) > 1:
        raise Decline("one spacing per axis: take the derivative along one axis at a time (axis=k)")
    axis = a.get("axis")
    if axis is None:     # (NumPy's result is one array only for a vector: another rank fails to reshape)
        x, k = "np.reshape(x, (len(x),))", 0
    else:
        if type(_value(axis)) is not int:
            raise Decline("axis= must be an int literal")
        x, k = "x", _value(axis)
    a["axis"] = const(k)
    d = f"rt.diff({x}, axis)"
    parts = (_on_axis(d, k, "0:1"), f"({_on_axis(d, k, '1:')} + {_on_axis(d, k, ':-1')}) / 2.0", _on_axis(d, k, "-1:"))
    e = "np.concatenate((" + "".join(f"{p}, " for p in parts) + "), axis=axis)"
    if spacing:     # one number (NumPy reads an array there as coordinates, which this formula is not for)
        a["h"] = spacing[0]
        e = f"{e} / rt.spacing(h)"
    return e


def _softmax(a: dict):
    return f"np.exp({_log_softmax(a)})"


def _log_softmax(a: dict):
    lse = "rt.logsumexp(x, axis=axis, keepdims=True)" if a.get("axis") is not None else "rt.logsumexp(x)"
    return f"x - {lse}"


def _matrix_power(a: dict):
    n = _value(a.get("n"))
    if type(n) is not int:
        raise Decline("the power must be an int literal")
    if n == 0:
        return "np.eye(x.shape[0])"
    base = "np.linalg.inv(x)" if n < 0 else "x"
    n, square, factors = abs(n), base, []
    while n:   # binary powering: x^13 = x @ x^4 @ x^8 (repeated squares are computed once)
        if n & 1:
            factors.append(square)
        n >>= 1
        if n:
            square = f"({square} @ {square})"
    return " @ ".join(factors)


class _Term:
    """An einsum intermediate: an expression template and the index letter of each of its axes."""

    def __init__(self, expr: str, idx: str):
        self.expr, self.idx = expr, idx

    def summed(self, keep) -> "_Term":
        """The term with its axes not in `keep` summed out (last axis first, so the others keep their numbers)."""
        e, idx = self.expr, self.idx
        for k in reversed(range(len(idx))):
            if idx[k] not in keep:
                e, idx = f"rt.sum({e}, {k})", idx[:k] + idx[k + 1:]
        return _Term(e, idx)

    def permuted(self, order: str) -> "_Term":
        if self.idx == order:
            return self
        perm = tuple(self.idx.index(c) for c in order)
        return _Term(f"np.transpose({self.expr})" if perm == (1, 0) else f"rt.transpose({self.expr}, {perm})", order)

    def aligned(self, letters: str) -> str:
        """The term broadcast-ready against `letters` (its axes in that order, size-1 axes for the others)."""
        e = self.permuted("".join(c for c in letters if c in self.idx)).expr
        for k, c in enumerate(letters):
            if c not in self.idx:
                e = f"rt.expand_dims({e}, {k})"
        return e


def _contract(x: _Term, y: _Term, keep) -> _Term:
    """x and y multiplied, their shared letters not in `keep` summed: a matrix product where it is one (rt.einsum_matmul:
    a length-1 contracted axis broadcasts against the other's, as in np.einsum, where @ requires equal lengths),
    else a broadcast product and sums."""
    shared = [c for c in x.idx if c in y.idx]
    summed = [c for c in shared if c not in keep]
    left = "".join(c for c in x.idx if c not in summed)
    right = "".join(c for c in y.idx if c not in summed)
    if len(summed) == 1 and len(shared) == 1 and len(left) <= 1 and len(right) <= 1:
        c = summed[0]
        return _Term(f"rt.einsum_matmul({x.permuted(left + c).expr}, {y.permuted(c + right).expr})", left + right)
    letters = x.idx + "".join(c for c in y.idx if c not in x.idx)
    return _Term(f"({x.aligned(letters)} * {y.aligned(letters)})", letters).summed(set(letters) - set(summed))


def _einsum(a: dict):
    spec = _value(a.get("subscripts"))
    operands = a.pop("operands", ())
    if not isinstance(spec, str):
        raise Decline("the subscripts must be a string literal")
    spec = spec.replace(" ", "")
    if "..." in spec:
        raise Decline("ellipsis (...) in the subscripts is not supported")
    inputs, arrow, out = spec.partition("->")
    inputs = inputs.split(",")
    letters = "".join(inputs)
    if not arrow:   # implicit output: the letters that appear once, in alphabetical order
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(inputs) != len(operands):
        raise Decline(f"{len(inputs)} operand subscripts for {len(operands)} operands")
    for part in inputs + [out]:
        if not all(c.isalpha() for c in part) or len(set(part)) != len(part):
            raise Decline(f"subscripts {part!r}: letters only, none repeated within an operand "
                          "(for a diagonal or trace use np.diag / np.trace)")
    if set(out) - set(letters):
        raise Decline(f"output letters {''.join(sorted(set(out) - set(letters)))!r} appear in no operand")
    terms = []
    for k, (node, idx) in enumerate(zip(operands, inputs)):
        a[f"operand{k}"] = node
        terms.append(_Term(f"operand{k}", idx))
    cur = terms[0]
    for k in range(1, len(terms)):
        later = set(out) | set("".join(inputs[k + 1:]))
        cur = cur.summed(later | set(terms[k].idx))
        nxt = terms[k].summed(later | set(cur.idx))
        cur = _contract(cur, nxt, later)
    return cur.summed(set(out)).permuted(out).expr


def _flip(a: dict):
    axis = _value(a.get("axis"), None)
    if axis is None:   # every axis reversed = the C-order elements reversed
        return "rt.reshape_like(np.ravel(x)[::-1], x)"
    if type(axis) is not int:
        raise Decline("axis must be an int literal or None")
    # (rt.check_axis: NumPy's AxisError where x lacks the axis, before the index does; kind_rewrites writes the -1
    # itself where the kinds give x's rank)
    step = f"rt.check_axis(x, {axis}, -1)"
    return "x[" + ":, " * axis + f"::{step}]" if axis >= 0 else f"x[..., ::{step}" + ", :" * (-axis - 1) + "]"


def _parts(a: dict) -> list:
    """The names of a literal tuple/list argument's elements (bound in `a` for substitution)."""
    seq = a.pop("tup", None)
    if not isinstance(seq, (gast.Tuple, gast.List)) or not seq.elts:
        raise Decline("the arrays must be listed in a literal tuple or list")
    for k, e in enumerate(seq.elts):
        a[f"part{k}"] = e
    return [f"part{k}" for k in range(len(seq.elts))]


def _append(a: dict):   # NumPy's np.append: both raveled and joined, or joined along the axis given
    if a.get("axis") is None:
        return "np.concatenate((np.ravel(rt.atleast_1d(arr)), np.ravel(rt.atleast_1d(values))))"
    return "np.concatenate((arr, values), axis=axis)"


def _meshgrid(a: dict):   # each grid: its vector along its axis, broadcast against zeros along the others' axes
    xs = a.pop("xi", ())
    if _value(a.pop("sparse", None), False) is not False:
        raise Decline("sparse=True is not supported")
    indexing = _value(a.pop("indexing", None), "xy")
    copy_ = _value(a.pop("copy", None), True)
    if indexing not in ("xy", "ij") or copy_ not in (True, False):
        raise Decline("indexing= must be the literal 'xy' or 'ij', and copy= a literal")
    if not xs:
        raise Decline("no arrays given")
    n = len(xs)
    axis = list(range(n))
    if indexing == "xy" and n > 1:
        axis[0], axis[1] = 1, 0
    for k, x in enumerate(xs):
        a[f"part{k}"] = x

    def along(k, e):
        return f"{e}[" + ", ".join(":" if ax == axis[k] else "None" for ax in range(n)) + "]"
    grids = [" + ".join([along(k, f"np.ravel(part{k})")] + [along(j, f"np.zeros_like(np.ravel(part{j}))")
                                                             for j in range(n) if j != k]) for k in range(n)]
    return "(" + "".join(f"{g}, " for g in grids) + ")"


def _vstack(a: dict):
    return "np.concatenate((" + "".join(f"rt.atleast_2d({p}), " for p in _parts(a)) + "), axis=0)"


def _hstack(a: dict):   # numbers and 1-d parts join end to end, others along axis 1 (NumPy's atleast_1d of each)
    parts = [f"rt.atleast_1d({p})" for p in _parts(a)]
    return "np.concatenate((" + "".join(f"{p}, " for p in parts) + f"), axis=rt.min2({parts[0]}.ndim - 1, 1))"


def _on_axis(e: str, axis, sl: str) -> str:
    """`e` sliced by `sl` (a slice's text, "1:") along a literal int axis, or rt.slice_axis for another axis."""
    k = _value(axis)
    if type(k) is int:
        return f"{e}[" + ":, " * k + f"{sl}]" if k >= 0 else f"{e}[..., {sl}" + ", :" * (-k - 1) + "]"
    start, stop = sl.split(":")
    n = f"{e}.shape[axis]"
    fix = lambda b, d: d if not b else (f"{n} - {b[1:]}" if b.startswith("-") else b)  # noqa: E731
    return f"rt.slice_axis({e}, axis, {fix(start, '0')}, {fix(stop, n)})"


def _roll(a: dict):   # a gather: out[i] = x[(i - shift) % n]
    shifts, axes = a.pop("shift"), a.get("axis")
    if isinstance(shifts, (gast.Tuple, gast.List)) or isinstance(axes, (gast.Tuple, gast.List)):
        if not (isinstance(shifts, (gast.Tuple, gast.List)) and isinstance(axes, (gast.Tuple, gast.List))
                and len(shifts.elts) == len(axes.elts)):
            raise Decline("several axes need a literal tuple of shifts and one of axes, of the same length")
        e = "x"
        for k, (s, ax) in enumerate(zip(shifts.elts, axes.elts)):
            a[f"shift{k}"], a[f"axis{k}"] = s, ax
            n = f"x.shape[rt.check_axis(x, axis{k}, axis{k})]"
            e = f"np.take({e}, (np.arange({n}) - shift{k}) % {n}, axis{k})"
        return e
    a["shift"] = shifts
    if _value(axes, None) is None:   # the flattened array rolled, in x's shape
        return "rt.reshape_like(np.take(x, (np.arange(x.size) - shift) % x.size), x)"
    # (rt.check_axis: NumPy's AxisError where x lacks the axis, before x.shape's IndexError; the same call twice, which
    # cse makes one)
    n = "x.shape[rt.check_axis(x, axis, axis)]"
    return f"np.take(x, (np.arange({n}) - shift) % {n}, axis)"


def _tile(a: dict):   # a gather along each tiled axis: np.arange(r * n) % n
    reps = a["reps"]
    if isinstance(reps, (gast.Tuple, gast.List)):
        reps = [_value(e) for e in reps.elts]
    else:
        reps = [_value(reps)]
    if not reps or not all(type(r) is int and r >= 0 for r in reps):
        raise Decline("reps must be a non-negative int literal or a literal tuple of them")
    # fewer dims than reps: x gains leading axes (np.atleast_1d / np.atleast_2d / rt.atleast_nd)
    base = {1: "rt.atleast_1d(x)", 2: "rt.atleast_2d(x)"}.get(len(reps), f"rt.atleast_nd(x, {len(reps)})")
    e = base
    for k, r in enumerate(reversed(reps)):   # (a gather along one axis leaves the others' lengths as base's)
        if r != 1:
            n = f"{base}.shape[{-k - 1}]"
            e = f"np.take({e}, np.arange({r} * {n}) % {n}, {-k - 1})"
    return e if e != base else f"np.copy({base})"    # (np.tile copies: rt.atleast_* may be x itself)


def _repeat(a: dict):   # a gather: rt.repeat_index(n, repeats) = np.repeat(np.arange(n), repeats)
    if _value(a.get("axis"), None) is None:
        return "np.take(x, rt.repeat_index(x.size, repeats))"
    return "np.take(x, rt.repeat_index(x.shape[axis], repeats), axis)"


def _tensordot(a: dict):
    axes = a.get("axes")
    k = _value(axes, 2)
    if type(k) is int:
        if k < 0:
            raise Decline("axes must be non-negative")
        a["k"] = const(k)
        return "rt.tensordot(x, y, k)"
    if not (isinstance(axes, (gast.Tuple, gast.List)) and len(axes.elts) == 2):
        raise Decline("axes must be an int literal or a literal pair of axis lists, ([1, 0], [0, 1])")
    lists = []
    for part in axes.elts:
        v = [_value(e) for e in part.elts] if isinstance(part, (gast.Tuple, gast.List)) else [_value(part)]
        if not all(type(i) is int for i in v):
            raise Decline("the axes must be int literals")
        lists.append(v)
    if len(lists[0]) != len(lists[1]):
        raise Decline("the two axis lists must have the same length")
    k = len(lists[0])
    tup = lambda v: f"{v[0]!r}" if len(v) == 1 else f"({', '.join(map(repr, v))})"  # noqa: E731
    # the summed axes of x moved last and those of y first, in the order given: then x's last k meet y's first k
    xs = f"np.moveaxis(x, {tup(lists[0])}, {tup(list(range(-k, 0)))})" if k else "x"
    ys = f"np.moveaxis(y, {tup(lists[1])}, {tup(list(range(k)))})" if k else "y"
    return f"rt.tensordot({xs}, {ys}, {k})"


def _cross(a: dict):
    for p in ("axisa", "axisb", "axisc", "axis"):
        if _value(a.get(p), -1) != -1:
            raise Decline("only the last axis holds the vectors here")
    c = lambda i, j: f"x[..., {i}] * y[..., {j}] - x[..., {j}] * y[..., {i}]"  # noqa: E731
    return f"np.stack(({c(1, 2)}, {c(2, 0)}, {c(0, 1)}), axis=-1)"


def _column_stack(a: dict):
    return "np.concatenate((" + "".join(f"rt.as_column({p}), " for p in _parts(a)) + "), axis=1)"


def _ptp(a: dict):
    return f"{_reduce('np.max', a)} - {_reduce('np.min', a)}"


def _nansum(a: dict):
    return _reduce("np.sum", a, "np.where(np.isnan(x), 0.0, x)")


def _nanmean(a: dict):
    return f"{_nansum(a)} / {_reduce('np.sum', a, 'np.where(np.isnan(x), 0.0, 1.0)')}"


def _trapezoid(a: dict):
    a.setdefault("axis", const(-1))
    if a.get("x") is not None and a.get("dx") is not None:
        raise Decline("pass x= or dx=, not both")
    mid = f"({_on_axis('y', a['axis'], '1:')} + {_on_axis('y', a['axis'], ':-1')})"
    if a.get("x") is None:
        return f"np.sum({mid}, axis=axis) * {'(0.5 * dx)' if a.get('dx') is not None else '0.5'}"
    if _value(a["axis"]) != -1:   # NumPy lines a 1-d x up with the axis; broadcasting would not
        raise Decline("x= together with an axis other than -1 is not supported")
    return f"np.sum(rt.diff(x, -1) * {mid}, axis=-1) * 0.5"


def _median(a: dict):   # the middle of the sorted values (the mean of the middle two for an even count)
    if a.get("overwrite_input") is not None and _value(a["overwrite_input"]) is not False:
        raise Decline("overwrite_input= is not supported")
    axis = a.get("axis")
    if isinstance(axis, (gast.Tuple, gast.List)):
        raise Decline("a tuple of axes is not supported")
    if _value(axis, None) is None:
        if _value(a.get("keepdims"), False):
            raise Decline("keepdims=True without an axis is not supported")
        return "0.5 * (rt.sort(x, None)[(x.size - 1) // 2] + rt.sort(x, None)[x.size // 2])"
    e = "0.5 * (rt.index_axis(rt.sort(x, axis), axis, (x.shape[axis] - 1) // 2)" \
        " + rt.index_axis(rt.sort(x, axis), axis, x.shape[axis] // 2))"
    return f"rt.expand_dims({e}, axis)" if _value(a.get("keepdims"), False) else e


def _polyval(a: dict):   # Horner's rule: ((p0 x + p1) x + p2)
    p = a.pop("p")
    if not isinstance(p, (gast.Tuple, gast.List)) or not p.elts:
        raise Decline("the coefficients must be listed in the call (a literal list or tuple), so that "
                      "their number is known")
    e = "p0"
    for k, c in enumerate(p.elts):
        a[f"p{k}"] = c
        e = f"({e}) * x + p{k}" if k else e
    return e if len(p.elts) > 1 else "rt.broadcast_to_like(p0, x)"


def _cov(a: dict, corr=False):
    for p in ("fweights", "aweights"):
        if a.get(p) is not None:
            raise Decline(f"{p}= is not supported")
    rowvar, bias = _value(a.get("rowvar"), True), _value(a.get("bias"), False)
    ddof = _value(a.get("ddof"), None)
    if rowvar not in (True, False) or bias not in (True, False) or ddof is _ABSENT:
        raise Decline("rowvar=, bias= and ddof= must be literals")
    if ddof is None:
        ddof = 0 if bias else 1
    m = "m" if rowvar else "np.transpose(m)"
    if a.get("y") is not None:
        if not rowvar:
            raise Decline("y= together with rowvar=False is not supported")
        m = "np.concatenate((rt.atleast_2d(m), rt.atleast_2d(y)), axis=0)"
    # rows are variables, columns observations; a 1-d m is one variable: its deviations' dot product is the
    # 0-d variance NumPy returns (a single row of a 2-d m gives a (1, 1) array, where NumPy squeezes it to 0-d)
    dev = f"({m} - np.mean({m}, axis=-1, keepdims=True))"
    c = f"(({dev} @ np.transpose({dev})) / ({m}.shape[-1] - {ddof!r}))"
    return f"{c} / np.sqrt(np.outer(np.diag({c}), np.diag({c})))" if corr else c


def _interp(a: dict):
    for p in ("left", "right", "period"):
        if a.get(p) is not None:
            raise Decline(f"{p}= is not supported")
    return "rt.interp(x, xp, fp)"


def _rot90(a: dict):   # NumPy's own: flips along the axes and a swap of them, each a view of m
    k, axes = _value(a.pop("k", None), 1), a.pop("axes", None)
    pair = [_value(e) for e in axes.elts] if isinstance(axes, (gast.Tuple, gast.List)) else [0, 1] if axes is None \
        else None
    if type(k) is not int or pair is None or len(pair) != 2 or not all(type(i) is int for i in pair):
        raise Decline("k must be an int literal and axes= a literal pair of int axes")
    if pair[0] == pair[1]:
        raise Decline("axes= must name two different axes")
    k %= 4
    flip = lambda e, ax: _on_axis(e, const(ax), "::-1")  # noqa: E731  (e[::-1] along the literal axis ax)
    swap = lambda e: f"np.swapaxes({e}, {pair[0]}, {pair[1]})"  # noqa: E731
    # every k swaps m's axes first, by rt.rot90_axis: NumPy's ValueError where the axes are one once normalised
    # (axes=(0, -2) of a matrix, any pair of a vector) or out of m's rank, before a flip indexes an axis m lacks
    # (kind_rewrites writes the axis itself where the kinds give m's rank); then a flip of the swapped array along
    # the other axis is NumPy's flip before the swap
    swapped = f"np.swapaxes(m, {pair[0]}, rt.rot90_axis(m, {pair[0]}, {pair[1]}))"
    if k == 0:   # m itself, as a view: its axes swapped and swapped back
        return swap(swapped)
    if k == 2:
        return swap(flip(flip(swapped, pair[0]), pair[1]))
    return flip(swapped, pair[0] if k == 1 else pair[1])


def _split(a: dict, equal=True):
    """np.split / np.array_split: a tuple of slices of `ary` along the axis (views, as NumPy's list holds). An int
    literal n: n parts, equal ones (rt.equal_split raises NumPy's ValueError where the length does not divide) or,
    array_split's, the first length % n of them one longer; a literal list of indices: the slices between them."""
    n, axis = a.pop("indices_or_sections"), _value(a.pop("axis", None), 0)
    if type(axis) is not int:
        raise Decline("axis= must be an int literal")
    cut = lambda lo, hi: _on_axis("ary", const(axis), f"{lo}:{hi}")  # noqa: E731
    if isinstance(n, (gast.Tuple, gast.List)):
        idx = [_value(e) for e in n.elts]
        if not all(type(i) is int for i in idx):
            raise Decline("the indices must be int literals")
        bounds = [""] + [repr(i) for i in idx] + [""]
        return "(" + "".join(f"{cut(lo, hi)}, " for lo, hi in zip(bounds, bounds[1:])) + ")"
    n = _value(n)
    if type(n) is not int or n < 1:
        raise Decline("the number of sections must be a positive int literal (it fixes how many arrays come back)")
    length = f"ary.shape[{axis}]"
    if equal:
        step = f"rt.equal_split(ary, {n}, {axis})" if axis else f"rt.equal_split(ary, {n})"
        starts = [""] + [f"{i} * {step}" if i > 1 else step for i in range(1, n)] + [""]
    else:
        each, extra = f"{length} // {n}", f"{length} % {n}"
        starts = [""] + [f"{i} * ({each}) + min({i}, {extra})" if i > 1 else f"{each} + min(1, {extra})"
                         for i in range(1, n)] + [""]
    return "(" + "".join(f"{cut(lo, hi)}, " for lo, hi in zip(starts, starts[1:])) + ")"


# name -> (NumPy signature, builder, objects users call, advice when the builder declines)
COMPOSITES = {
    "np.var": ("x, axis=None, dtype=None, out=None, ddof=0, keepdims=None", _var, [np.var],
               "pass ddof= as a number literal; dtype= and out= are not supported"),
    "np.std": ("x, axis=None, dtype=None, out=None, ddof=0, keepdims=None", _std, [np.std],
               "pass ddof= as a number literal; dtype= and out= are not supported"),
    "np.linalg.norm": ("x, ord=None, axis=None, keepdims=None", _norm, [np.linalg.norm],
                       "pass axis= (an int) for vector norms, or write the norm out (np.sum(np.abs(x)))"),
    "np.diff": ("x, n=1, axis=None, prepend=None, append=None", _diff, [np.diff],
                "concatenate the values to prepend or append first, then take np.diff"),
    "np.linalg.matrix_power": ("x, n", _matrix_power, [np.linalg.matrix_power], "write the products out"),
    "np.gradient": ("x, *varargs, axis=None, edge_order=1", _gradient, [np.gradient],
                    "pass one scalar spacing and one axis: np.gradient(u, dx) of a vector, np.gradient(U, dy, axis=0) "
                    "of an array; for uneven spacing write the differences out with np.diff"),
    "rt.softmax": ("x, axis=None", _softmax, [scipy.special.softmax], "pass axis= as an int"),
    "rt.log_softmax": ("x, axis=None", _log_softmax, [scipy.special.log_softmax], "pass axis= as an int"),
    "np.einsum": ("subscripts, *operands, out=None, optimize=False", _einsum, [np.einsum],   # (the contraction order
                  # optimize= picks leaves the value as it is)
                  "write the contraction with @, np.sum(..., axis=...), np.transpose and broadcasting"),
    "np.flip": ("x, axis=None", _flip, [np.flip], "index with a reversed slice: x[::-1] or x[:, ::-1]"),
    "np.fliplr": ("x", lambda a: "x[:, ::rt.check_rank(x, 2, -1)]", [np.fliplr], ""),   # (NumPy's check of x's rank)
    "np.flipud": ("x", lambda a: "x[::rt.check_rank(x, 1, -1)]", [np.flipud], ""),
    "np.append": ("arr, values, axis=None", _append, [np.append], ""),
    "np.meshgrid": ("*xi, copy=True, sparse=False, indexing='xy'", _meshgrid, [np.meshgrid],
                    "index 1-d arrays with None to broadcast them: x[None, :] + 0.0 * y[:, None]"),
    "np.vstack": ("tup", _vstack, [np.vstack], "list the arrays in a literal tuple: np.vstack((a, b))"),
    "np.hstack": ("tup", _hstack, [np.hstack], "list the arrays in a literal tuple: np.hstack((a, b))"),
    "np.average": ("x, axis=None, weights=None, returned=None, keepdims=None", _average, [np.average],
                   "write np.sum(x * w, axis=...) / np.sum(w, axis=...) with w shaped to broadcast against x"),
    "np.roll": ("x, shift, axis=None", _roll, [np.roll], "roll one axis at a time: np.roll(np.roll(x, 1, 0), 2, 1)"),
    "np.tile": ("x, reps", _tile, [np.tile],
                "write the repetitions as literals, np.tile(x, 3) or np.tile(x, (2, 3)), or index with "
                "np.arange(r * n) % n along each axis"),
    "np.repeat": ("x, repeats, axis=None", _repeat, [np.repeat], ""),
    "np.tensordot": ("x, y, axes=2", _tensordot, [np.tensordot],
                     "write the axes as literals, or write the contraction with np.einsum"),
    "np.inner": ("x, y", lambda a: "rt.tensordot(x, np.moveaxis(y, -1, 0), 1)", [np.inner], ""),
    "np.vdot": ("x, y", lambda a: "np.sum(np.ravel(x) * np.ravel(y))", [np.vdot], ""),
    "np.cross": ("x, y, axisa=-1, axisb=-1, axisc=-1, axis=None", _cross, [np.cross],
                 "move the vector axis last first (np.moveaxis(a, 0, -1))"),
    "np.column_stack": ("tup", _column_stack, [np.column_stack],
                        "list the arrays in a literal tuple: np.column_stack((a, b))"),
    "np.ptp": ("x, axis=None, out=None, keepdims=None", _ptp, [np.ptp], "write np.max(x) - np.min(x)"),
    "np.nansum": ("x, axis=None, dtype=None, out=None, keepdims=None", _nansum, [np.nansum], ""),
    "np.nanmean": ("x, axis=None, dtype=None, out=None, keepdims=None", _nanmean, [np.nanmean], ""),
    "np.trapezoid": ("y, x=None, dx=None, axis=-1", _trapezoid, [np.trapezoid, getattr(np, "trapz", None)],
                     "move the integration axis last (np.moveaxis) or write the sum: "
                     "np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2"),
    "np.median": ("x, axis=None, out=None, overwrite_input=None, keepdims=None", _median, [np.median],
                  "take the median along one int axis at a time"),
    "np.polyval": ("p, x", _polyval, [np.polyval],
                   "list the coefficients, np.polyval([a, b, c], x), or write the polynomial out by Horner's rule: (a * x + b) * x + c"),
    "np.cov": ("m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, dtype=None", _cov,
               [np.cov], "write the deviations and their products out: d = x - np.mean(x, axis=1, keepdims=True); "
               "d @ d.T / (n - 1)"),
    "np.corrcoef": ("m, y=None, rowvar=True, dtype=None", lambda a: _cov(a, corr=True), [np.corrcoef],
                    "write it from np.cov: c / np.sqrt(np.outer(np.diag(c), np.diag(c)))"),
    "np.interp": ("x, xp, fp, left=None, right=None, period=None", _interp, [np.interp],
                  "clamp x first (np.clip(x, xp[0], xp[-1])) and add the outside values with np.where"),
    "rt.betaln": ("a, b", lambda a: "rt.gammaln(a) + rt.gammaln(b) - rt.gammaln(a + b)", [scipy.special.betaln], ""),
    # real arrays' views (h30b): np.real(x) of a real array is x itself (NumPy returns the same object), np.imag(x)
    # zeros of its kind (a new array, NumPy's is read-only; of a number a number, rt.zeros_like's); np.rot90 flips and swaps axes (views); np.split and
    # np.array_split give a tuple of slices (views: NumPy's list holds the same views)
    "np.real": ("val", lambda a: "val", [np.real], ""),
    "np.imag": ("val", lambda a: "rt.zeros_like(val)", [np.imag], ""),
    "np.rot90": ("m, k=1, axes=(0, 1)", _rot90, [np.rot90],
                 "write k and axes= as literals, np.rot90(m, 1, axes=(0, 1)), or index with reversed slices and "
                 "np.swapaxes"),
    "np.split": ("ary, indices_or_sections, axis=0", _split, [np.split],
                 "give the number of parts as an int literal (np.split(x, 3)) or the indices as a literal list "
                 "(np.split(x, [2, 5])), and axis= as an int literal; or slice the parts out: x[:k], x[k:]"),
    "np.array_split": ("ary, indices_or_sections, axis=0", lambda a: _split(a, equal=False), [np.array_split],
                       "give the number of parts as an int literal (np.array_split(x, 3)) or the indices as a "
                       "literal list, and axis= as an int literal; or slice the parts out: x[:k], x[k:]"),
}
_SIGNATURES = {name: signature(params) for name, (params, *_) in COMPOSITES.items()}
ALIASES = {id(obj): name for name, (_, _, objs, _) in COMPOSITES.items() for obj in objs if obj is not None}
_REQUIRED_NONE = ("dtype", "out")


def expand(name: str, node: gast.Call):
    """The expression `node` (a call of composite `name`) stands for, or (message, advice) to decline."""
    params, build, _, advice = COMPOSITES[name]
    try:
        bound = _SIGNATURES[name].bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
    except TypeError as e:
        return f"{name}: {e}", advice
    if any(k.arg is None for k in node.keywords):
        return f"{name}: **kwargs are not supported", advice
    args = dict(bound.arguments)
    for p in _REQUIRED_NONE:
        if p in args and _value(args[p]) is not None:
            return f"{name}: {p}= is not supported", advice
    if "keepdims" in args and _value(args["keepdims"]) not in (True, False):
        return f"{name}: keepdims must be a literal True/False", advice
    try:
        template = build(args)
    except Decline as e:
        return f"{name}: {e}", advice
    return copy_loc(substitute(parse_expr(template), args), node)
