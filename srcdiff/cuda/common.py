"""Shared pieces of the CUDA lowering: per-example argument specs, storage of lowered arrays, flat-index
arithmetic, and the tables of operators and calls device code has."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np

from ..rules import RULES, cuda_templates
from ..transforms import annotations as anno
from ..transforms.purity import WRITES_INTO

OVERFLOW = 1      # status codes the entry returns (0: ok): a loop ran past its fixed-size tape
ASSERTION = 2     # an `assert` of the user's failed for the example
EMPTY_SUM = 3     # a sum(...) of arrays over a comprehension ran no iteration for the example
EMPTY_REDUCTION = 4   # and up: np.max / np.min / logsumexp of no elements reached (Program.empty_reductions[code - 4])
PRINT_ITEMS = 32  # the most values one print(...) passes to CUDA's printf (numba-cuda prints raw values past it)


@dataclass
class ArgSpec:
    """One per-example argument of the entry function."""
    name: str
    shape: tuple | None          # None: scalar
    dtype: str                   # "f", "i", "b"
    host: object = None          # scalar value(s) on the host (array over the batch if batched)
    batched: bool = False


class Unknown(Exception):
    pass


# elementwise on scalars: templates with {0}, {1}, {2}, from the rule records (srcdiff/rules: a rule without one
# is declined by name), and the builtins generated plumbing calls (tape sizes: max(n, 0))
UNARY = {**cuda_templates(1), "abs": "abs({0})"}
BINARY = {**cuda_templates(2), "max": "max({0}, {1})", "min": "min({0}, {1})"}
TERNARY = cuda_templates(3)
ELEMENTWISE = set(UNARY) | set(BINARY) | set(TERNARY)
# tests (isfinite, logical_and, ...): their rules' kind laws give bools
BOOLEAN = frozenset(n for n in ELEMENTWISE if n in RULES and isinstance(RULES[n].kind, tuple)
                    and RULES[n].kind[-1] == "b")
INT_CALLS = {"len", "int"}
ARRAY_LITERALS = ("np.array", "rt.array")     # of a tuple or list written out: a local array filled element by element
NUMBA_DTYPE = {"f": "float64", "i": "int64", "b": "int64"}
REDUCTIONS = ("np.sum", "np.mean", "np.prod", "np.max", "np.min", "rt.sum", "rt.mean", "rt.prod", "rt.max", "rt.min",
              "rt.logsumexp")
REDUCTION_GRADS = ("rt.max_grad", "rt.min_grad", "rt.prod_grad", "rt.logsumexp_grad")
DEVICE_ADVICE = ("device code takes scalar math, loops over range() or while, branches, and arrays whose "
                  "shapes are fixed when the kernel is specialised (see help(srcdiff.cuda)); compute this part "
                  "on the host and pass the result in as an argument (in_axes=None to broadcast it)")

FANCY_ADVICE = ("device code indexes an array with integers, not an index array or a mask: write the elements "
                 "one at a time in a loop, e.g. `for k in range(len(idx)): b[idx[k]] = v[k]` (a position named "
                 "twice then keeps the later write, as NumPy's b[idx] = v does)")


BOOL_INDEX_ADVICE = ("device arrays keep one shape: branch on the condition instead (`np.sum(a) if c else 0.0`), or "
                     "multiply by it (`np.sum(a * c)`)")


SLICE_ADVICE = ("give the slice literal bounds, or bounds read off an integer argument passed with in_axes=None; or "
                "loop over the elements (`for k in range(i + 1): ... a[k]`)")


def number(v) -> str:
    """The device source of a constant: its repr, but `math.nan` / `math.inf` / `-math.inf` for a float that is not
    finite (whose repr, `nan` / `inf`, names nothing there: fuzz seed 797107, np.where(..., np.nan, ...))."""
    if isinstance(v, float) and v != v:
        return "math.nan"
    if isinstance(v, float) and v in (float("inf"), float("-inf")):
        return "math.inf" if v > 0 else "(-math.inf)"
    return repr(v)


# the floats of numpy and math that user code names (`-np.inf`, `math.pi`): the generated module writes an infinite
# constant as `math.inf` (transforms/emit.py) and may keep the others as written; on the device each is its number
MODULE_CONSTANTS = {f"{m}.{c}": float(getattr(mod, c)) for m, mod in (("np", np), ("numpy", np), ("math", __import__("math")))
                    for c in ("inf", "nan", "pi", "e", "tau", "euler_gamma") if hasattr(mod, c)}


def module_constant(e):
    """The float an expression `np.inf`, `math.pi`, ... names (MODULE_CONSTANTS), or None."""
    return MODULE_CONSTANTS.get(dotted(e)) if isinstance(e, ast.Attribute) else None


def dotted(e):
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        b = dotted(e.value)
        return b and f"{b}.{e.attr}"
    return None


def is_none(e) -> bool:
    return isinstance(e, ast.Constant) and e.value is None


def none_test(e):
    """The name `e` tests against None (`x is None`, `x is not None`) and whether the test is `is not`, or None."""
    if isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], (ast.Is, ast.IsNot)) and \
            is_none(e.comparators[0]) and isinstance(e.left, ast.Name):
        return e.left.id, isinstance(e.ops[0], ast.IsNot)
    return None


def size(shape):
    return int(np.prod(shape)) if shape else 1


def local_size(shape):
    """Elements of a `cuda.local.array` holding an array of this shape: CUDA has no local array of 0 elements (numba
    declines `cuda.local.array(0, ...)`), so an array with none (a dimension of 0) gets one, never read."""
    return max(size(shape), 1)


def unravel(j, shape):
    """Index expressions of flat element j of an array of this shape. An array with no elements (a dimension of 0)
    has none to index: its loops run no iteration, and j stands for every index."""
    if len(shape) == 1 or size(shape) == 0:
        return [j] * len(shape)
    out, inner = [], size(shape)
    for d, n in enumerate(shape):
        inner //= n
        e = f"({j} // {inner})" if inner > 1 else j
        out.append(f"({e} % {n})" if d > 0 else e)
    return out


def flat_index(ix, shape):
    m = re.fullmatch(rf"\((\w+) % {shape[-1]}\)", ix[-1]) if len(shape) > 1 and ix else None
    if m and list(ix) == unravel(m.group(1), shape):
        return m.group(1)        # element j of the whole array: j, not `(j // 3) * 3 + (j % 3)`
    terms, stride = [], 1
    for i, n in zip(reversed(ix), reversed(shape)):
        if i != "0":
            terms.append(i if stride == 1 else f"{i} * {stride}")
        stride *= n
    return " + ".join(reversed(terms)) if terms else "0"


def indent(lines, n=1):
    return ["    " * n + s for s in lines]


def broadcast_shapes(a, b):
    if a is None:
        return b
    if b is None:
        return a
    nd = max(len(a), len(b))
    a2, b2 = (1,) * (nd - len(a)) + a, (1,) * (nd - len(b)) + b
    out = []
    for x, y in zip(a2, b2):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


def index_lists(fn) -> dict:
    """{name: its integers} of the names `fn` binds to an array of integers written out (`idx = np.array((0, 2, -1))`:
    an index list of the user's, `x[[0, 2, -1]]`, which generated code names) and never writes into or passes to a
    call that may write into it: the device reads them where they index an array (ExpressionLowering._view). A name
    may also be bound to a placeholder (`idx = np.zeros((1,), dtype=np.int64)` where it is bound on some paths only:
    no path reads that value, transforms/unbound.py) and to copies of such names (the merges SSA makes of them),
    all of the same integers."""
    binds, banned = {}, set()
    for st in ast.walk(fn):
        if isinstance(st, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With, ast.NamedExpr)):
            targets = st.targets if isinstance(st, ast.Assign) else [getattr(st, "target", None)] + \
                [i.optional_vars for i in getattr(st, "items", [])]
            for t in targets:
                for n in ast.walk(t) if t is not None else ():
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        if not (isinstance(st, ast.Assign) and t is n and len(st.targets) == 1):
                            banned.add(n.id)
                        elif anno.get(st, anno.PLACEHOLDER):
                            binds.setdefault(n.id, []).append(None)
                        elif isinstance(st.value, ast.Name):
                            binds.setdefault(n.id, []).append(st.value.id)
                        else:
                            got = _int_literal(st.value)
                            binds.setdefault(n.id, []).append(tuple(got) if got is not None else ())
                    elif isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
                        banned.add(n.value.id)      # (written into)
    banned |= {arg.arg for arg in fn.args.args}
    for c in ast.walk(fn):      # (a helper may write into its argument, and so may the runtime's WRITES_INTO)
        name = dotted(c.func) if isinstance(c, ast.Call) else None
        if name is None:
            continue
        writes = c.args[:1] if name in WRITES_INTO else [] if name.split(".")[0] in ("np", "rt", "math") else c.args
        banned |= {n.id for a in writes for n in ast.walk(a) if isinstance(n, ast.Name)}
    memo = {}

    def values(name, seen=()):
        """The integers `name` holds where read, None where any (a placeholder's), False where it is no list."""
        if name in memo:
            return memo[name]
        if name in banned or name not in binds or name in seen:
            return False
        got = None
        for b in binds[name]:
            v = b if not isinstance(b, str) else values(b, seen + (name,))
            if v is False or v == ():
                got = False
                break
            if v is not None:
                if got is not None and got != v:
                    got = False
                    break
                got = v
        memo[name] = got
        return got
    out = {}
    for k in binds:
        v = values(k)
        if v:
            out[k] = list(v)
    return out


def _int_literal(e):
    """The integers of `np.array((0, 2, -1))` / `rt.array(...)` (a flat tuple or list of integer constants), else
    None."""
    if not (isinstance(e, ast.Call) and dotted(e.func) in ARRAY_LITERALS and len(e.args) == 1 and not e.keywords
            and isinstance(e.args[0], (ast.Tuple, ast.List)) and e.args[0].elts):
        return None
    try:
        values = [ast.literal_eval(x) for x in e.args[0].elts]
    except ValueError:
        return None
    return values if all(type(v) is int for v in values) else None


def indexed(call, ctx=None):
    """`a[idx]` of the runtime's `rt.written(a, idx)` / `rt.index_add(a, idx, g)` (reverse mode's read of what
    `a[idx] = v` wrote, and np.add.at(a, idx, g)), its `slice(lo, hi, step)` calls written as slices again; None where
    `a` is not a name."""
    a, idx = call.args[0], call.args[1]
    if not isinstance(a, ast.Name):
        return None

    def part(x):
        if isinstance(x, ast.Call) and dotted(x.func) == "slice" and not x.keywords and len(x.args) <= 3:
            bounds = [None if is_none(b) else b for b in x.args]
            if len(bounds) == 1:
                bounds = [None] + bounds
            bounds += [None] * (3 - len(bounds))
            return ast.Slice(*bounds)
        return x
    index = ast.Tuple([part(x) for x in idx.elts], ast.Load()) if isinstance(idx, ast.Tuple) else part(idx)
    return ast.copy_location(ast.Subscript(a, index, ctx or ast.Load()), call)


CAST_CALLS = ("rt.astype", "rt.cast", "np.asarray")    # x.astype(t), np.asarray(x, dtype=t), ... (resolve.py)
CAST_ADVICE = ("device code computes in float64 and int64: cast to np.float64 / float, np.int64 / int or bool, or cast "
               "on the host and pass the result in")


def cast_kind(e):
    """The kind ("f", "i" or "b") of the dtype `e` names (np.float64, float, "float64", np.int64, int, bool, ...)
    where device code computes in it exactly (float64, int64, bool), else None (float32, int8, complex, a dtype
    known at run time only: the device would round or wrap otherwise than NumPy)."""
    if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id in ("np", "numpy"):
        obj = getattr(np, e.attr, None)
    elif isinstance(e, ast.Name) and e.id in ("float", "int", "bool"):
        obj = {"float": float, "int": int, "bool": bool}[e.id]
    elif isinstance(e, ast.Constant) and isinstance(e.value, str):
        obj = e.value
    else:
        return None
    try:
        dt = np.dtype(obj)
    except TypeError:
        return None
    return {np.dtype(np.float64): "f", np.dtype(np.int64): "i", np.dtype(np.bool_): "b"}.get(dt)


LAYOUT_CALLS = ("np.ascontiguousarray", "np.asfortranarray")    # x's values in a layout (the device has one)


# NumPy's calls that reorder an array's axes, and their parameters after the array (srcdiff's x.mT is
# np.swapaxes(x, -1, -2), x.T and rt.transpose np.transpose of no axes)
AXES_ORDER_CALLS = {"np.transpose": ("axes",), "rt.transpose": ("axes",), "np.swapaxes": ("axis1", "axis2"),
                    "np.moveaxis": ("source", "destination"), "rt.transpose_grad": ("axes",)}


def axes_order(e, ndim: int):
    """The axes of x in the order `e` = np.transpose(x, axes) / np.swapaxes(x, a1, a2) / np.moveaxis(x, s, d) /
    rt.transpose_grad(x, axes) lists them (result axis k is x's axis order[k]), its axes constants; raises
    ValueError naming what is not."""
    name = dotted(e.func)
    params = AXES_ORDER_CALLS[name]
    given = dict(zip(params, e.args[1:]))
    given.update({k.arg: k.value for k in e.keywords if k.arg in params})
    values = {}
    for k, v in given.items():
        try:
            values[k] = ast.literal_eval(v)
        except ValueError:
            raise ValueError(f"axes that are not constants ({name}(..., {k}={ast.unparse(v)}))") from None

    def axis(a):
        if not isinstance(a, int) or isinstance(a, bool) or not -ndim <= a < max(ndim, 1):
            raise ValueError(f"the axis {a!r} of an array of {ndim} dimensions ({name})")
        return a % ndim if ndim else 0

    order = list(range(ndim))
    if name == "rt.transpose_grad":     # (np.transpose(x, axes)'s adjoint: the inverse permutation)
        axes = values.get("axes")
        if axes is None:
            return order[::-1]
        forward = [axis(a) for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]
        if sorted(forward) != order:
            raise ValueError(f"axes {axes!r} that are not a permutation of an array of {ndim} dimensions")
        return sorted(order, key=lambda k: forward[k])
    if name in ("np.transpose", "rt.transpose"):
        axes = values.get("axes")
        if axes is None:
            return order[::-1]
        order = [axis(a) for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]
        if sorted(order) != list(range(ndim)):
            raise ValueError(f"axes {axes!r} that are not a permutation of an array of {ndim} dimensions")
        return order
    if name == "np.swapaxes":
        if len(values) != 2:
            raise ValueError("np.swapaxes of fewer than two axes")
        i, j = axis(values["axis1"]), axis(values["axis2"])
        order[i], order[j] = order[j], order[i]
        return order
    if len(values) != 2:
        raise ValueError("np.moveaxis without a source and a destination")
    src, dst = values["source"], values["destination"]
    src = [axis(a) for a in (src if isinstance(src, (tuple, list)) else (src,))]
    dst = [axis(a) for a in (dst if isinstance(dst, (tuple, list)) else (dst,))]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("np.moveaxis of source and destination axes that do not pair up")
    order = [n for n in range(ndim) if n not in src]
    for d, s_ in sorted(zip(dst, src)):
        order.insert(d, s_)
    return order


@dataclass
class Storage:
    buf: str
    shape: tuple
    off: int = 0
    dest: bool = False    # the caller's output buffer: index [off + k, cu_col]

    def at(self, flat):
        if self.dest:
            return f"cu_out[{self.off} + {flat}, cu_col]" if self.off else f"cu_out[{flat}, cu_col]"
        return f"{self.buf}[{flat}]"


@dataclass
class Lowered:
    name: str
    lines: list
    outputs: list = field(default_factory=list)     # (offset, shape) per result leaf
    structure: object = None                        # nested tuples of leaf indices
    ret: object = None                              # for helpers: return info


BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
        ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
UNARYOPS = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not ", ast.Invert: "~"}
COMPARISONS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def nonnegative_loop_names(fn) -> set:
    """The names `fn` binds only as targets of `for` loops over `range` whose values are never negative: counting
    up from a start of 0 or more (`range(n)`, `range(1, n)`), or down to a stop of -1 or more (`range(n, -1, -1)`).
    A computed index that is one of them needs no wrap from the end (srcdiff/cuda/expressions.py)."""
    def literal(e):
        try:
            v = ast.literal_eval(e)
        except (ValueError, TypeError, SyntaxError):
            return None
        return v if type(v) is int else None

    def counts_from_zero(it):
        if not (isinstance(it, ast.Call) and dotted(it.func) == "range" and 1 <= len(it.args) <= 3 and not it.keywords):
            return False
        a = it.args
        step = literal(a[2]) if len(a) == 3 else 1
        if step is None or step == 0:
            return False
        if step > 0:
            start = literal(a[0]) if len(a) > 1 else 0
            return start is not None and start >= 0
        stop = literal(a[1])
        return stop is not None and stop >= -1

    good, bad = set(), set()
    for node in ast.walk(fn):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name) and \
                isinstance(node, ast.For) and counts_from_zero(node.iter):
            good.add(node.target.id)
            continue
        targets = []
        if isinstance(node, (ast.For, ast.comprehension)):
            targets = [node.target]
        elif isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
            targets = [node.target]
        bad.update(n for t in targets for n in _bound_names(t))
    bad.update(a.arg for a in fn.args.args)
    return good - bad


def _bound_names(target):
    """The names an assignment target binds (not those of a subscript's or an attribute's value and index)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _bound_names(e)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []
