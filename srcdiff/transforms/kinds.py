"""Pass 7b: kinds: which SSA values are scalars (and of which dtype) and which are arrays (of which
rank), from the kinds of the arguments a gradient is specialised for. The reverse pass uses them to
drop no-op helpers (unbroadcast of a scalar, copies of scalars) and to give scalar tapes a fixed type.

A kind is ("s", dtype) for a scalar, ("a", ndim, dtype) for an array, ("t",) for a tuple (("t", n)
for a tuple literal of length n), None if unknown; dtype is one of "f", "i", "b" or None.
"""
from __future__ import annotations

import gast
import numpy as np

from .astutil import dotted_name, nested_blocks, walk_names

F = ("s", "f")
I = ("s", "i")
B = ("s", "b")


_DTYPE_KIND = {"f": "f", "i": "i", "u": "i", "b": "b"}


def kind_of_value(v):
    t = type(v)
    if t is float:
        return F
    if t is np.ndarray:
        return ("a", v.ndim, _DTYPE_KIND.get(v.dtype.kind))
    if isinstance(v, (bool, np.bool_)):
        return B
    if isinstance(v, (int, np.integer)):
        return I
    if isinstance(v, (float, np.floating)):
        return F
    if isinstance(v, np.ndarray):
        return ("a", v.ndim, {"f": "f", "i": "i", "u": "i", "b": "b"}.get(v.dtype.kind))
    if isinstance(v, tuple):
        return ("t",)
    return None


def is_scalar(k) -> bool:
    return k is not None and k[0] == "s"


def _ndim(k):
    if k is None:
        return None
    return 0 if k[0] == "s" else (k[1] if k[0] == "a" else None)


def _dtype(k):
    return None if k is None or k[0] == "t" else k[-1]


def _array(nd, dt):
    if nd == 0:
        return ("s", dt or "f")
    return ("a", nd, dt)


def _broadcast(ks, dt):
    if any(k is None or k[0] == "t" for k in ks):
        return None
    if all(k[0] == "s" for k in ks):
        return ("s", dt)
    nds = [_ndim(k) for k in ks]
    return ("a", None if None in nds else max(nds), dt)


_SCALAR_RESULT = {"np.sum", "np.mean", "np.prod", "np.max", "np.min", "np.trace", "np.linalg.det",
                  "rt.logabsdet", "float", "rt.max2", "rt.min2"}
# eigen- and singular values, and the matrices eigh / svd / pinv and their adjoints make, of one matrix
_VECTOR_RESULT = {"np.linalg.eigvalsh", "rt.svdvals"}
_MATRIX_RESULT = {"rt.eigh_vectors", "rt.svd_u", "rt.svd_vh", "rt.svd_u_full", "rt.svd_vh_full", "np.linalg.pinv",
                  "rt.eigvalsh_grad", "rt.eigh_vectors_grad", "rt.svdvals_grad", "rt.svd_u_grad", "rt.svd_vh_grad",
                  "rt.pinv_grad"}
_INT_RESULT = {"len", "int", "np.argmax", "np.argmin", "np.size", "np.ndim"}
_SAME = {"np.exp", "np.log", "np.log1p", "np.expm1", "np.sqrt", "np.sin", "np.cos", "np.tan", "np.tanh",
         "np.arcsin", "np.arccos", "np.arctan", "np.sinh", "np.cosh", "np.abs", "np.square", "rt.expit",
         "rt.gammaln", "rt.digamma", "rt.erf", "np.copy", "np.transpose", "rt.transpose", "np.clip",
         "np.negative", "np.sign", "np.floor", "np.ceil", "np.round", "np.rint", "np.trunc", "np.fix", "np.around",
         "np.tril", "np.triu",
         "np.linalg.inv", "np.linalg.cholesky"}


def expr_kind(e, kinds: dict):
    """Kind of an expression whose names have the given kinds."""
    if isinstance(e, gast.Constant):
        v = e.value
        return None if v is None or isinstance(v, str) else kind_of_value(v)
    if isinstance(e, gast.Name):
        return kinds.get(e.id)
    if isinstance(e, gast.BinOp):
        a, b = expr_kind(e.left, kinds), expr_kind(e.right, kinds)
        if a is None or b is None:
            return None
        dts = {_dtype(a), _dtype(b)}
        if isinstance(e.op, gast.Div) or "f" in dts:
            dt = "f"
        elif isinstance(e.op, gast.Pow):
            dt = None
        else:
            dt = "i" if dts <= {"i", "b"} else None
        if isinstance(e.op, gast.MatMult):
            return _matmul(a, b)
        return _broadcast([a, b], dt)
    if isinstance(e, gast.UnaryOp):
        k = expr_kind(e.operand, kinds)
        return B if isinstance(e.op, gast.Not) else k
    if isinstance(e, gast.Compare):
        return _broadcast([expr_kind(e.left, kinds)] + [expr_kind(c, kinds) for c in e.comparators], "b")
    if isinstance(e, gast.Subscript):
        return _subscript(expr_kind(e.value, kinds), e.slice, kinds)
    if isinstance(e, gast.Attribute):
        if dotted_name(e) in _DTYPE_NAMES:   # np.int64 as a value: a dtype argument (ANF names it)
            return ("dtype", _DTYPE_NAMES[dotted_name(e)])
        if e.attr == "shape":
            return ("t",)
        if e.attr in ("ndim", "size"):
            return I
        return None
    if isinstance(e, gast.Tuple):
        return ("t", len(e.elts))   # the length: np.zeros((2, 3)) has rank 2
    if isinstance(e, gast.Call):
        if dotted_name(e.func) == "rt.pop":
            k = expr_kind(e.args[0], kinds) if e.args else None
            return k[1] if k is not None and k[0] == "l" else None
        return _call(dotted_name(e.func), [expr_kind(a, kinds) for a in e.args], e, kinds)
    return None


def _literal_array(e, kinds):
    """The kind of np.array of a (nested) tuple of number constants and scalars (desugar writes lists of
    constants so, ANF index lists: x[[i, 0]])."""
    if isinstance(e, gast.Constant) and type(e.value) in (bool, int, float):
        return ("s", {bool: "b", int: "i", float: "f"}[type(e.value)])
    if isinstance(e, gast.Name):
        k = expr_kind(e, kinds)
        return k if k is not None and k[0] == "s" and k[1] in ("b", "i", "f") else None
    if not isinstance(e, (gast.Tuple, gast.List)) or not e.elts:
        return None
    parts = [_literal_array(p, kinds) for p in e.elts]
    if None in parts or len({_ndim(p) for p in parts}) != 1:
        return None
    dts = {_dtype(p) for p in parts}
    return ("a", _ndim(parts[0]) + 1, "f" if "f" in dts else "i" if "i" in dts else "b")


def _matmul(a, b):
    na, nb = _ndim(a), _ndim(b)
    if na is None or nb is None:
        return None
    if na == 0 or nb == 0:
        return _broadcast([a, b], "f")
    return _array(na + nb - 2 if max(na, nb) <= 2 else max(na, nb), "f")


def _subscript(base, idx, kinds):
    if base is None:
        return None
    if base[0] == "t":
        return I if isinstance(idx, (gast.Constant, gast.Name)) else ("t",)
    if base[0] != "a" or base[1] is None:
        return None
    elts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    nd = base[1]
    fancy = []         # ranks of the integer index arrays (a boolean mask: the 1-d array of its True places)
    for el in elts:
        if isinstance(el, gast.Slice):
            continue
        if isinstance(el, gast.Constant) and el.value is None:  # x[:, None]: a new axis
            nd += 1
            continue
        k = expr_kind(el, kinds)
        if k is not None and k[0] == "s" and k[1] == "i":
            nd -= 1
        elif k is not None and k[0] == "a" and k[1] is not None and k[2] in ("i", "b"):
            nd -= 1 if k[2] == "i" else k[1]
            fancy.append(k[1] if k[2] == "i" else 1)
        else:
            return None  # unknown index
    nd += max(fancy, default=0)   # (the index arrays broadcast together)
    return _array(nd, base[2]) if nd >= 0 else None


# runtime helpers in generated adjoint code (differentiated again): result has the kind of argument k, as floats
_LIKE_ARG = {"rt.zeros_like": 0, "rt.unbroadcast": 1, "rt.broadcast_to_like": 1, "rt.reshape_like": 1,
             "rt.sum_grad": 1, "rt.mean_grad": 1, "rt.logsumexp_grad": 1, "rt.max_grad": 1,
             "rt.matmul_grad_x": 1, "rt.matmul_grad_y": 2}


def _as_float(k):
    return None if k is None or k[0] not in ("s", "a") else k[:-1] + ("f",)


def _call(name, args, e, kinds):
    a0 = args[0] if args else None
    if name in _LIKE_ARG:
        return _as_float(args[_LIKE_ARG[name]]) if len(args) > _LIKE_ARG[name] else None
    if name in ("rt.copy", "np.asarray"):
        return a0
    if name == "np.array" and e.args and isinstance(e.args[0], (gast.Tuple, gast.List)) and len(e.args) == 1:
        return _literal_array(e.args[0], kinds)
    if name == "rt.seed":
        return F
    if name in ("rt.select", "rt.max_weight"):
        return _broadcast(args[-2:], "f") if len(args) >= 2 and None not in args else None
    if name in ("np.argmax", "np.argmin") and (len(e.args) > 1 or any(k.arg == "axis" for k in e.keywords)):
        nd = _ndim(a0)   # along an axis: an int array of one axis fewer (fuzz seed 10604 taped it as one int)
        return None if nd is None else I if nd <= 1 else _array(nd - 1, "i")
    if name in _INT_RESULT:
        return I
    if name == "np.trace" and len(args) == 2 and _ndim(a0) == 2:    # np.trace(x, offset)
        return F
    if name in ("np.swapaxes", "np.moveaxis") and a0 is not None and a0[0] == "a":   # the same rank
        return a0
    if name in _SCALAR_RESULT and len(args) == 1:
        return F if name != "float" else F
    if name in ("rt.max2", "rt.min2"):   # builtin max/min: one of the arguments, so of their dtype
        dts = {_dtype(k) for k in args}
        return _broadcast(args, "f" if "f" in dts or not dts <= {"i", "b"} else "i" if "i" in dts else "b")
    if name in _SAME and a0 is not None:
        return ("s", "f") if a0[0] == "s" else ("a", a0[1], "f" if name not in ("np.copy", "np.transpose") else a0[2])
    if name == "rt.logsumexp" and len(args) == 1:
        return F
    if name in ("rt.sum", "rt.mean", "rt.prod", "rt.max", "rt.min", "rt.logsumexp") and len(args) == 2:
        nd = _ndim(a0)
        return None if nd is None else _array(nd - 1, "f")
    if name in ("rt.logsumexp_vecmat", "rt.logsumexp_matvec"):
        return ("a", 1, "f")
    if name == "rt.exp_shifted":    # (exp table, column shifts): unbound.placeholder makes one of these
        return ("t", 3, "exp") if _ndim(a0) == 3 else ("t", 2, "exp")
    if name == "rt.table_at":
        return ("t", 2, "exp")
    if name == "rt.expand_dims":
        nd = _ndim(a0)
        return None if nd is None else ("a", nd + 1, _dtype(a0))
    if name in ("np.concatenate", "np.stack") and e.args and isinstance(e.args[0], (gast.Tuple, gast.List)):
        parts = [expr_kind(p, kinds) for p in e.args[0].elts]
        nds = {_ndim(k) for k in parts}
        if None in nds or len(nds) != 1 or not parts:
            return None
        nd = nds.pop() + (name == "np.stack")
        dts = {_dtype(k) for k in parts}
        return _array(nd, dts.pop() if len(dts) == 1 else None) if nd else None
    if name == "rt.array" and e.args:   # np.array of parts: one axis more than they have; of an array: a copy
        seq = e.args[0]
        if not isinstance(seq, (gast.Tuple, gast.List)):
            return a0 if a0 is not None and a0[0] == "a" else None
        parts = [expr_kind(p, kinds) for p in seq.elts]
        nds = {_ndim(k) for k in parts}
        if not parts or None in nds or len(nds) != 1:
            return None
        dts = {_dtype(k) for k in parts}
        return ("a", nds.pop() + 1, "f" if "f" in dts else dts.pop() if len(dts) == 1 else None)
    if name in ("rt.astype", "rt.cast") and len(args) == 2 and a0 is not None and a0[0] in ("s", "a"):
        dt = args[1][1] if args[1] is not None and args[1][0] == "dtype" else None
        return a0[:-1] + (dt,)
    if name == "rt.astype_grad" and a0 is not None:
        return a0
    if name in ("np.ravel",):
        return ("a", 1, _dtype(a0))
    if name in _VECTOR_RESULT and _ndim(a0) == 2:
        return ("a", 1, "f")
    if name in _MATRIX_RESULT and _ndim(a0) == 2:
        return ("a", 2, "f")
    if name == "rt.kron" and len(args) == 2 and None not in (_ndim(args[0]), _ndim(args[1])):
        r = max(_ndim(args[0]), _ndim(args[1]))   # (with a 0-d operand, the product)
        return ("a", r, "f") if r else ("s", "f")
    if name in ("np.outer",):
        return ("a", 2, "f")
    if name in ("np.dot", "rt.dot") and len(args) == 2:
        return _matmul(args[0], args[1]) if None not in args else None
    if name in ("np.maximum", "np.minimum", "np.where"):
        return _broadcast(args[-2:], "f") if None not in args else None
    if name in ("np.zeros", "np.ones", "np.empty", "np.full") and a0 is not None:
        dt = "f"
        pos = 2 if name == "np.full" else 1
        given = [kw.value for kw in e.keywords if kw.arg == "dtype"] + list(e.args[pos:pos + 1])
        if given:   # np.empty(n, np.int64) (generated tapes) or dtype=...
            k = expr_kind(given[0], kinds)
            dt = k[1] if k is not None and k[0] == "dtype" else None
        if a0[0] == "t" and len(a0) > 1:   # a literal shape: its length is the rank
            return ("a", a0[1], dt)
        return ("a", 1, dt) if a0[0] == "s" else ("a", None, dt)
    if name in ("np.zeros_like", "np.ones_like", "np.empty_like") and a0 is not None:
        return a0
    if name in ("math.exp", "math.log", "math.sqrt", "math.sin", "math.cos", "math.tanh", "math.log1p",
                "math.expm1", "math.tan", "math.atan", "math.asin", "math.acos", "math.sinh", "math.cosh",
                "math.fabs", "math.erf", "math.lgamma"):
        return F
    return None


_DTYPE_NAMES = {"np.int64": "i", "np.int32": "i", "np.intp": "i", "np.bool_": "b", "bool": "b",
                "np.float64": "f", "float": "f", "np.float32": "f", "np.float16": "f", "np.int16": "i",
                "np.int8": "i", "np.uint8": "i", "np.uint16": "i", "np.uint32": "i", "np.uint64": "i"}


def unify(a, b):
    if a == b:
        return a
    if a is None or b is None:
        return None
    if a[0] == b[0] == "a":
        return ("a", a[1] if a[1] == b[1] else None, a[2] if a[2] == b[2] else None)
    return None


UNSETTLED = ("?",)   # what callee_kind answers for a call of a function whose kind is being inferred (recursion)


def infer(fn: gast.FunctionDef, arg_kinds: dict, callee_kind=None) -> dict:
    """Kinds of every SSA name of `fn` given its parameters' kinds (sweeps until loop phis settle).
    `callee_kind(name, argument kinds)`: the kind a call of the user function `name` returns (None if
    unknown, UNSETTLED for a recursive call: its result is left out, so that the function's kind comes
    from its other paths, as a recursion's base case gives it)."""
    kinds = dict(arg_kinds)
    local = {n.id for n in walk_names(fn) if isinstance(n.ctx, gast.Store)}
    for _ in range(100):   # kinds only widen (unify is a join), so this settles within a few sweeps
        before = dict(kinds)
        for n in _in_order(fn.body):
            if (isinstance(n, gast.Expr) and isinstance(n.value, gast.Call)
                    and dotted_name(n.value.func) == "rt.push" and isinstance(n.value.args[0], gast.Name)):
                s, k = n.value.args[0].id, expr_kind(n.value.args[1], kinds)   # stacks: ("l", element kind)
                old = kinds.get(s)
                kinds[s] = ("l", unify(old[1], k) if old is not None and old[0] == "l" else k)
            elif (isinstance(n, gast.Assign) and isinstance(n.value, gast.Call)
                    and dotted_name(n.value.func) == "rt.stack"):
                kinds.setdefault(n.targets[0].id, None)
            elif (isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)
                  and not (isinstance(n.value, gast.Constant) and n.value.value is None)
                  and not any(isinstance(r.ctx, gast.Load) and r.id in local and r.id not in kinds
                              for r in walk_names(n.value))):
                # `x = None` (a placeholder for a maybe-unbound x) tells nothing, nor does an expression
                # of a name not reached yet (a loop's back edge, a value first bound later in the loop
                # body and read in the next iteration): the next sweep sees it
                name = n.targets[0].id
                if callee_kind is not None and isinstance(n.value, gast.Call) and isinstance(n.value.func, gast.Name):
                    k = callee_kind(n.value.func.id, tuple(expr_kind(a, kinds) for a in n.value.args))
                    if k is UNSETTLED:
                        continue
                    k = k if k is not None else expr_kind(n.value, kinds)
                else:
                    k = expr_kind(n.value, kinds)
                kinds[name] = unify(kinds[name], k) if name in kinds else k
            elif isinstance(n, gast.For):
                kinds[n.target.id] = I
        if kinds == before:
            break
    return kinds


def _in_order(stmts):
    for s in stmts:
        yield s
        for b in nested_blocks(s):
            yield from _in_order(b)


# ---- shape classes: which arrays certainly have the same shape -------------------------------------------
_ELEMENTWISE = _SAME - {"np.transpose", "rt.transpose", "np.linalg.inv", "np.linalg.cholesky", "np.tril", "np.triu"}


def _many_elementwise():
    from .dims import ELEMENTWISE
    return ELEMENTWISE - {"rt.zeros_like", "np.zeros_like", "np.ones_like", "np.empty_like", "np.full_like"}


_MANY_ELEMENTWISE = _many_elementwise()


def shape_classes(fn: gast.FunctionDef, kinds: dict, arg_dims: dict | None = None) -> dict:
    """name -> a representative: two names with the same representative have the same shape.

    With the arguments' axis labels (transforms/dims.py), names whose labels are known share the class
    of the first name (parameters first) with the same labels. Otherwise elementwise results take the
    class of their array operand(s); everything else is its own class."""
    cls: dict = {}
    fixed: set = set()
    if arg_dims:
        from . import dims as _dims
        labels = _dims.infer(fn, kinds, arg_dims)
        order = [a.id for a in fn.args.args] + [n.targets[0].id for n in _in_order(fn.body)
                                                if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)]
        first: dict = {}
        for name in order:
            d = labels.get(name)
            if isinstance(d, tuple) and d and not is_scalar(kinds.get(name)):
                cls[name] = first.setdefault(d, name)
                fixed.add(name)

    def of_atom(a):
        if isinstance(a, gast.Name):
            return cls.get(a.id, a.id) if not is_scalar(kinds.get(a.id)) else "scalar"
        if isinstance(a, gast.Constant):
            return "scalar"
        return None

    def of_value(v, name):
        if isinstance(v, gast.Name):
            return of_atom(v)
        if isinstance(v, gast.BinOp) and not isinstance(v.op, gast.MatMult):
            a, b = of_atom(v.left), of_atom(v.right)
            if a == "scalar":
                return b
            if b == "scalar" or a == b:
                return a
            return None
        if isinstance(v, gast.UnaryOp):
            return of_atom(v.operand)
        if isinstance(v, gast.Call) and dotted_name(v.func) in _ELEMENTWISE and len(v.args) == 1:
            return of_atom(v.args[0])
        if isinstance(v, gast.Call) and dotted_name(v.func) in ("rt.zeros_like", "np.zeros_like", "np.ones_like",
                                                                 "rt.copy", "np.copy") and v.args:
            return of_atom(v.args[0])
        return None

    for _ in range(3):
        changed = False
        for n in _in_order(fn.body):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                name = n.targets[0].id
                if is_scalar(kinds.get(name)) or name in fixed:
                    continue
                c = of_value(n.value, name)
                new = c if c not in (None, "scalar") else name
                if name in cls and cls[name] != new:
                    new = name  # defined twice (loop phi) with different shapes: its own class
                if cls.get(name) != new:
                    cls[name] = new
                    changed = True
        if not changed:
            break
    return cls


def expr_shape_class(e, cls: dict, kinds: dict):
    """Shape class of an adjoint expression (None when unknown, 'scalar' for scalars)."""
    if isinstance(e, gast.Constant):
        return "scalar"
    if isinstance(e, gast.Name):
        return "scalar" if is_scalar(kinds.get(e.id)) else cls.get(e.id, e.id)
    if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult):
        a, b = expr_shape_class(e.left, cls, kinds), expr_shape_class(e.right, cls, kinds)
        if a == "scalar":
            return b
        if b == "scalar" or a == b:
            return a
        return None
    if isinstance(e, gast.UnaryOp):
        return expr_shape_class(e.operand, cls, kinds)
    name = dotted_name(e.func) if isinstance(e, gast.Call) else None
    if name in _ELEMENTWISE and len(e.args) == 1:
        return expr_shape_class(e.args[0], cls, kinds)
    if name in _MANY_ELEMENTWISE and e.args and not e.keywords:    # np.maximum(z, 0.0), rt.max_weight(z, 0.0)
        parts = {expr_shape_class(a, cls, kinds) for a in e.args} - {"scalar"}
        return "scalar" if not parts else parts.pop() if len(parts) == 1 and None not in parts else None
    if name in _GRAD_LIKE_X and len(e.args) > 1:  # reduction adjoints have the input's shape
        return expr_shape_class(e.args[1], cls, kinds)
    return None


_GRAD_LIKE_X = {"rt.sum_grad", "rt.mean_grad", "rt.max_grad", "rt.min_grad", "rt.prod_grad", "rt.logsumexp_grad"}
