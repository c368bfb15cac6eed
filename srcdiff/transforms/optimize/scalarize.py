"""Array operations whose kinds say a scalar suffices: np.where of scalars, filled sum/mean adjoints."""
from __future__ import annotations

import gast

from ..astutil import Transformer, clone, is_comment, nested_blocks, walk_calls, walk_names
from .fusion import broadcasting
from .names import NameIndex


def scalar_where(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """`np.where(c, a, b)` of three scalars -> `rt.select(c, a, b)`, a scalar (NumPy and Numba give a
    0-d array, which Numba cannot merge with a float on another path)."""
    from ..astutil import dotted, dotted_name
    from ..kinds import is_scalar

    def scalar(a):
        if isinstance(a, gast.Constant):
            return isinstance(a.value, (bool, int, float))
        return isinstance(a, gast.Name) and is_scalar(kinds.get(a.id))

    for n in walk_calls(fn):
        if (dotted_name(n.func) == "np.where" and len(n.args) == 3
                and not n.keywords and all(scalar(a) for a in n.args)):
            n.func = dotted("rt.select")
    return fn


def scalar_sum_grads(fn: gast.FunctionDef, kinds: dict, shapes: dict, index: NameIndex | None = None) -> gast.FunctionDef:
    """`a = rt.sum_grad(g, x, None)` (or rt.mean_grad) with a scalar `g` is an array of x's shape filled
    with g (or g / x.size). When every statement reading `a` is a later elementwise one of the same block
    whose value keeps x's shape with a scalar in a's place (or whose value is `rt.unbroadcast(e, y)` with e
    such a value), `a` becomes that scalar: `a = g / x.size`,
    or g itself read directly, and the filled array is never made. `index`: the function's name index
    (optimize/names.py), kept up to date; built if not given."""
    from ..astutil import const, dotted_name, load
    from ..kinds import F, expr_shape_class

    index = index or NameIndex(fn)
    loads, counts = dict(index.loads), index.counts   # (`loads`: as before this pass)

    live = index.loads   # reads of each name in the function as it is now

    def readers(stmts, start, a, g, x):
        """The statements from `stmts[start]` on that read `a`, when all of them qualify, else None. (Once
        every read of `a` left in the function is seen, the rest of the block reads none: not scanned.)"""
        found, seen = [], 0
        for j in range(start, len(stmts)):     # (by index: an islice would step over the block's first statements)
            u = stmts[j]
            if seen == live.get(a, 0):
                break
            if is_comment(u):
                continue
            n, rebinds = 0, False    # (reads of a, a bind of g or x: one walk)
            for m in walk_names(u):
                if m.id == a and isinstance(m.ctx, gast.Load):
                    n += 1
                if m.id in (g, x) and isinstance(m.ctx, gast.Store):
                    rebinds = True
            if n:
                target = u.targets[0] if isinstance(u, gast.Assign) else getattr(u, "target", None)
                value = _unbroadcast_operand(u.value, a) if isinstance(u, (gast.Assign, gast.AugAssign)) else None
                if not (isinstance(target, gast.Name) and value is not None and broadcasting(value)
                        and expr_shape_class(_replace_name(value, a, load(g)), shapes, kinds) == shapes.get(x, x)):
                    return None
                found.append(u)
                seen += n
            if rebinds:
                break
        return found if seen == loads.get(a) else None

    def block(stmts):
        for s in stmts:
            for b in nested_blocks(s):
                block(b)
        for k in range(len(stmts) - 1, -1, -1):
            c = _candidate(stmts[k], kinds, counts, loads)
            if c is None:
                continue
            a, g, x = c
            found = readers(stmts, k + 1, a, g, x)     # (not a copy of the rest per candidate)
            if found is None:
                continue
            live["rt"] -= 1     # (the call goes, in each case below)
            if dotted_name(stmts[k].value.func) == "rt.mean_grad":     # each element's share, g / x.size; for an
                size = gast.Attribute(value=load(x), attr="size", ctx=gast.Load())    # empty x there is none, and
                size = gast.Call(func=load("max"), args=[size, const(1)], keywords=[])  # 1.0 / 0 would raise
                stmts[k].value = gast.BinOp(left=load(g), op=gast.Div(), right=size)
                live["max"] = live.get("max", 0) + 1
                kinds[a] = F
            elif len(found) == 1:
                n = sum(1 for m in walk_names(found[0].value) if m.id == a and isinstance(m.ctx, gast.Load))
                found[0].value = _replace_name(found[0].value, a, load(g))
                live[a] -= n
                live[g] = live.get(g, 0) + n - 1
                live[x] -= 1
                counts[a] -= 1
                del stmts[k]
            else:
                stmts[k].value = load(g)
                live[x] -= 1
                kinds[a] = F

    block(fn.body)
    return fn


def _candidate(s, kinds: dict, counts: dict, loads: dict):
    """(a, g, x) where `s` is `a = rt.sum_grad(g, x[, None])` (or rt.mean_grad) with a scalar g, an array x
    and `a` bound once and read; else None."""
    if not (type(s) is gast.Assign and type(s.value) is gast.Call and type(s.value.func) is gast.Attribute
            and s.value.func.attr in _FILLS):     # (every statement is asked: the cheap tests first)
        return None
    from ..astutil import dotted_name
    from ..kinds import is_array, is_scalar

    if not (isinstance(s.targets[0], gast.Name) and dotted_name(s.value.func) in ("rt.sum_grad", "rt.mean_grad")
            and not s.value.keywords and len(s.value.args) in (2, 3)):
        return None
    g, x = s.value.args[:2]
    if len(s.value.args) == 3 and not (isinstance(s.value.args[2], gast.Constant)
                                       and s.value.args[2].value is None):
        return None
    a = s.targets[0].id
    if not (isinstance(g, gast.Name) and is_scalar(kinds.get(g.id)) and isinstance(x, gast.Name)
            and is_array(kinds.get(x.id)) and counts.get(a) == 1 and loads.get(a)):
        return None
    return a, g.id, x.id


_FILLS = ("sum_grad", "mean_grad")


def _unbroadcast_operand(value, a: str):
    """What must keep x's shape with a scalar for `a` in a reader's `value`: the value itself, or `e` where it
    is `rt.unbroadcast(e, y)` (the adjoint of a broadcast operand y: `d_x = rt.unbroadcast(d_r2 * t, x)`) and
    `a` is not y: e with the scalar is then the array e was, so its sum down to y's shape is too."""
    if (type(value) is gast.Call and type(value.func) is gast.Attribute and value.func.attr == "unbroadcast"
            and isinstance(value.func.value, gast.Name) and value.func.value.id == "rt" and len(value.args) == 2
            and not value.keywords and isinstance(value.args[1], gast.Name) and value.args[1].id != a):
        return value.args[0]
    return value


def _replace_name(e, name, new):
    class R(Transformer):
        def visit_Name(self, n):
            return clone(new) if n.id == name and isinstance(n.ctx, gast.Load) else n
    return R().visit(clone(e))
