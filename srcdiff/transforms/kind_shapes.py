"""Shape classes: which arrays certainly have the same shape (two names with the same representative), from the
kinds and, where given, the arguments' axis labels (transforms/dims.py). The reverse pass reads them to drop
unbroadcasts between values of one shape.

Why apart from the kinds: a shape class is a fact of its own (an equality of shapes, not a rank), computed
after the kinds from them; it reads the elementwise table from the rule records.
"""
from __future__ import annotations

import gast

from ..rules import names_with
from .astutil import dotted_name, statements_in_order as _in_order
from .dims import OTHER
from .kind_type import is_scalar

# ---- shape classes: which arrays certainly have the same shape -------------------------------------------
# elementwise functions of one argument keep its shape; of several, the shape they broadcast to (fills such as
# np.zeros_like are left out: expr_shape_class reads them separately)
ELEMENTWISE = names_with("elementwise")


def shape_classes(fn: gast.FunctionDef, kinds: dict, labels: dict | None = None) -> dict:
    """name -> a representative: two names with the same representative have the same shape.

    With the names' axis labels (transforms/dims.py's infer), names whose labels are known share the class
    of the first name (parameters first) with the same labels (none of them dims.OTHER, a length equal to no
    other). Otherwise elementwise results take the class of their array operand(s); everything else is its own
    class."""
    cls: dict = {}
    fixed: set = set()
    if labels:
        order = [a.id for a in fn.args.args] + [n.targets[0].id for n in _in_order(fn.body)
                                                if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)]
        first: dict = {}
        for name in order:
            d = labels.get(name)
            if isinstance(d, tuple) and d and OTHER not in d and not is_scalar(kinds.get(name)):
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
            return _joined(of_atom(v.left), of_atom(v.right))
        if isinstance(v, gast.UnaryOp):
            return of_atom(v.operand)
        if isinstance(v, gast.Call) and dotted_name(v.func) in ELEMENTWISE and len(v.args) == 1:
            return of_atom(v.args[0])
        if isinstance(v, gast.Call) and dotted_name(v.func) in ("rt.zeros_like", "np.zeros_like", "np.ones_like",
                                                                 "rt.copy", "np.copy") and v.args:
            return of_atom(v.args[0])
        if isinstance(v, gast.Call) and dotted_name(v.func) in _LIKE_SECOND and len(v.args) > 1:
            # an adjoint shaped as its primal (`d_y = rt.sum_grad(g, y, None)`, `rt.unbroadcast(g, y)`): in a gradient
            # differentiated again, the adjoints the inner backward sweep makes share their primal's class, so the
            # outer gradient drops the unbroadcasts between them and stores none of them for their shape (nested
            # fuzz seed 30)
            return of_atom(v.args[1])
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


def _joined(a, b):
    """The shape class of an elementwise operation on operands of classes a and b (None when unknown)."""
    if a == "scalar":
        return b
    return a if b == "scalar" or a == b else None


def expr_shape_class(e, cls: dict, kinds: dict):
    """Shape class of an adjoint expression (None when unknown, 'scalar' for scalars)."""
    if isinstance(e, gast.Constant):
        return "scalar"
    if isinstance(e, gast.Name):
        return "scalar" if is_scalar(kinds.get(e.id)) else cls.get(e.id, e.id)
    pair = (e.left, e.right) if isinstance(e, gast.BinOp) and not isinstance(e.op, gast.MatMult) else \
        (e.left, e.comparators[0]) if isinstance(e, gast.Compare) and len(e.comparators) == 1 else None
    if pair is not None:       # (a comparison's value has its operands' broadcast shape, as an operator's)
        return _joined(*(expr_shape_class(x, cls, kinds) for x in pair))
    if isinstance(e, gast.UnaryOp):
        return expr_shape_class(e.operand, cls, kinds)
    name = dotted_name(e.func) if isinstance(e, gast.Call) else None
    if name in ELEMENTWISE and len(e.args) == 1:
        return expr_shape_class(e.args[0], cls, kinds)
    if name in ELEMENTWISE and e.args and not e.keywords:    # np.maximum(z, 0.0), rt.max_weight(z, 0.0)
        parts = {expr_shape_class(a, cls, kinds) for a in e.args} - {"scalar"}
        return "scalar" if not parts else parts.pop() if len(parts) == 1 and None not in parts else None
    if name in _GRAD_LIKE_X and len(e.args) > 1:  # reduction adjoints have the input's shape
        return expr_shape_class(e.args[1], cls, kinds)
    return None


_GRAD_LIKE_X = {"rt.sum_grad", "rt.mean_grad", "rt.max_grad", "rt.min_grad", "rt.prod_grad", "rt.logsumexp_grad"}
# calls whose value has the shape of their second argument
_LIKE_SECOND = _GRAD_LIKE_X | {"rt.unbroadcast", "rt.broadcast_to_like", "rt.reshape_like"}
