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
from . import _signature

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


def _std(a: dict):
    return f"np.sqrt({_var(a)})"


def _norm(a: dict):
    order = _value(a.get("ord"), None)
    if order is _ABSENT:
        raise Decline("ord must be a literal (None, 'fro', 1, 2, np.inf, -np.inf or another number)")
    if order in (None, "fro"):
        return f"np.sqrt({_reduce('np.sum', a, 'np.square(x)')})"
    if a.get("axis") is None:
        raise Decline(f"ord={order!r} without axis=: srcdiff does not know here whether x is a vector or a "
                "matrix (for a matrix that ord means an operator norm, which has no rule)")
    if order == 2:
        return f"np.sqrt({_reduce('np.sum', a, 'np.square(x)')})"
    if order == 1:
        return _reduce("np.sum", a, "np.abs(x)")
    if order == math.inf:
        return _reduce("np.max", a, "np.abs(x)")
    if order == -math.inf:
        return _reduce("np.min", a, "np.abs(x)")
    if isinstance(order, (int, float)) and order > 0:
        return f"{_reduce('np.sum', a, f'np.abs(x) ** {float(order)!r}')} ** {1.0 / order!r}"
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
    """x and y multiplied, their shared letters not in `keep` summed: a product (@) where it is one, else a
    broadcast product and sums."""
    shared = [c for c in x.idx if c in y.idx]
    summed = [c for c in shared if c not in keep]
    left = "".join(c for c in x.idx if c not in summed)
    right = "".join(c for c in y.idx if c not in summed)
    if len(summed) == 1 and len(shared) == 1 and len(left) <= 1 and len(right) <= 1:
        c = summed[0]
        return _Term(f"({x.permuted(left + c).expr} @ {y.permuted(c + right).expr})", left + right)
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
    return "x[" + ":, " * axis + "::-1]" if axis >= 0 else "x[..., ::-1" + ", :" * (-axis - 1) + "]"


def _parts(a: dict) -> list:
    """The names of a literal tuple/list argument's elements (bound in `a` for substitution)."""
    seq = a.pop("tup", None)
    if not isinstance(seq, (gast.Tuple, gast.List)) or not seq.elts:
        raise Decline("the arrays must be listed in a literal tuple or list")
    for k, e in enumerate(seq.elts):
        a[f"part{k}"] = e
    return [f"part{k}" for k in range(len(seq.elts))]


def _vstack(a: dict):
    return "np.concatenate((" + "".join(f"rt.atleast_2d({p}), " for p in _parts(a)) + "), axis=0)"


def _hstack(a: dict):   # 1-d parts join end to end, others along axis 1
    parts = _parts(a)
    return "np.concatenate((" + "".join(f"{p}, " for p in parts) + f"), axis=rt.min2({parts[0]}.ndim - 1, 1))"


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
    "rt.softmax": ("x, axis=None", _softmax, [scipy.special.softmax], "pass axis= as an int"),
    "rt.log_softmax": ("x, axis=None", _log_softmax, [scipy.special.log_softmax], "pass axis= as an int"),
    "np.einsum": ("subscripts, *operands", _einsum, [np.einsum],
                  "write the contraction with @, np.sum(..., axis=...), np.transpose and broadcasting"),
    "np.flip": ("x, axis=None", _flip, [np.flip], "index with a reversed slice: x[::-1] or x[:, ::-1]"),
    "np.fliplr": ("x", lambda a: "x[:, ::-1]", [np.fliplr], ""),
    "np.flipud": ("x", lambda a: "x[::-1]", [np.flipud], ""),
    "np.vstack": ("tup", _vstack, [np.vstack], "list the arrays in a literal tuple: np.vstack((a, b))"),
    "np.hstack": ("tup", _hstack, [np.hstack], "list the arrays in a literal tuple: np.hstack((a, b))"),
    "np.average": ("x, axis=None, weights=None, returned=None, keepdims=None", _average, [np.average],
                   "write np.sum(x * w, axis=...) / np.sum(w, axis=...) with w shaped to broadcast against x"),
}
_SIGNATURES = {name: _signature(params) for name, (params, *_) in COMPOSITES.items()}
ALIASES = {id(obj): name for name, (_, _, objs, _) in COMPOSITES.items() for obj in objs}
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
