"""Arrays a function owns: made by it (purity.fresh_locals), seen only through names it binds. A write into one
is dead where neither it nor any name that may view it (`row = a[0]`, `v = a[1:]`, `t = (a, 1)`, a loop's
`for r in a`) is read after the write: nothing else can see the array. A reverse sweep over a gradient's
in-place writes restores each written part (`d_M[0] = d_M_old`) after the last read of its array; this finds
such restores dead (deadcode._Liveness.dead_write), with the copies they read.

Where a name of the group might leave it unseen -- passed to a call that may keep it (`rt.push(s, a)`,
`L.append(a)`), stored into something that is not a new numeric array, captured by a nested def, bound by a
`global` -- the array is not owned and every write into it stays."""
from __future__ import annotations

import gast

from ..astutil import dotted_name, walk, walk_calls, walk_names, walk_statements
from ..purity import ARRAY_MAKERS, WRITES_INTO, fresh_locals, pure_call

__all__ = ["owned_arrays"]

NEW_VALUES = frozenset(("rt.copy", "np.copy", "np.sum", "np.max", "np.min", "np.dot", "len", "float", "int", "range",
                        "rt.seed"))
# the runtime's adjoint helpers that read their second argument for its shape only: their value is the first's
# (`rt.unbroadcast(g, y)` is g, a sum of g or a new array; `rt.sum_grad(g, y, None)` g spread over y's shape), never
# a view of y -- so the restores of y the backward sweep makes after them (`y[i] = y_old`) are dead where nothing
# else reads y
SHAPE_ONLY = frozenset(("rt.unbroadcast", "rt.sum_grad", "rt.mean_grad"))
_HOLDERS = (gast.List, gast.Tuple, gast.Set, gast.Dict, gast.Lambda, gast.ListComp, gast.GeneratorExp, gast.SetComp,
            gast.DictComp)


def owned_arrays(fn: gast.FunctionDef, scalars=frozenset()) -> dict:
    """{array the function owns: the names that may view it (itself included)} (see the module's docstring).
    `scalars`: names known to hold scalars (`v = buf[i]` binds an element of buf, not a view)."""
    fresh = fresh_locals(fn)
    arrays = {n for n, what in fresh.items() if what != "list"}
    if not arrays:
        return {}
    views: dict = {}        # name -> the names a binding of it may view
    escaping: set = set()   # names read where what they hold may be kept out of sight
    for s in walk_statements(fn.body):
        kind = type(s)
        if kind in (gast.Global, gast.Nonlocal):
            return {}
        if kind is gast.Assign or kind is gast.AugAssign:
            targets = s.targets if kind is gast.Assign else [s.target]
            for t in targets:
                if not (type(t) is gast.Name and t.id in scalars and type(s.value) is gast.Subscript):
                    _bind(t, s.value, views, escaping, fresh)
                elif not all(pure_call(c) for c in walk_calls(s.value)):
                    escaping |= _loads(s.value)
        elif kind is gast.For:
            _bind(s.target, s.iter, views, escaping, fresh)
        elif kind in (gast.If, gast.While):
            continue       # (a test reads its names where it is: liveness sees that)
        elif kind is gast.Return or kind is gast.Pass or kind is gast.Break or kind is gast.Continue:
            continue
        elif kind is gast.Expr and isinstance(s.value, gast.Call) and dotted_name(s.value.func) in WRITES_INTO:
            # (writes into its first argument: a read and a write; what else it is passed may be kept, a row tape)
            escaping |= set().union(*(_loads(a) for a in s.value.args[1:] + s.value.keywords))
        elif kind is gast.Expr and isinstance(s.value, gast.Constant):
            continue       # (a comment)
        else:
            escaping |= _loads(s)
    out = {}
    for a in arrays:
        group, todo = {a}, [a]
        while todo:
            n = todo.pop()
            for m in views.get(n, ()):
                if m not in group:
                    group.add(m)
                    todo.append(m)
        if not group & escaping:
            out[a] = frozenset(group)
    return out


def _bind(target, value, views: dict, escaping: set, fresh: dict):
    """Note what binding (or writing) `target` from `value` lets it view, or lets escape."""
    if not all(pure_call(c) for c in walk_calls(value)):
        escaping |= _loads(value)       # (a call that may keep what it is passed)
    if type(target) is gast.Subscript and type(target.value) is gast.Name:
        if fresh.get(target.value.id) != "array":
            escaping |= _viewed(value)  # (a list's item may hold a reference to the array)
        return
    names = [n.id for n in walk_names(target)] if all(
        type(n) in (gast.Name, gast.Tuple, gast.List) for n in walk(target) if isinstance(n, gast.expr)) else None
    if names is None:                   # (a write through a view, `a[0][1] = v`, or into an attribute)
        escaping |= _loads(value) | _loads(target)
        return
    for n in _viewed(value):
        views.setdefault(n, set()).update(names)


def _viewed(v) -> set:
    """The names whose arrays the value of `v` may be, view or hold: none for arithmetic, a comparison, a copy
    or a reduction (NEW_VALUES); those of a library call's arguments (`rt.unbroadcast(rt.copy(g[0]), a)`: a);
    all it reads otherwise."""
    kind = type(v)
    if kind is gast.Name:
        return {v.id}
    if kind in (gast.Constant, gast.Compare):
        return set()
    if kind in (gast.Subscript, gast.Attribute, gast.Starred):
        return _viewed(v.value)
    if kind in (gast.BinOp, gast.UnaryOp):
        if any(isinstance(n, _HOLDERS) for n in walk(v)):     # (`[a] + rest` holds a)
            return _loads(v)
        return set()
    if kind is gast.IfExp:
        return _viewed(v.body) | _viewed(v.orelse)
    if kind in (gast.Tuple, gast.List):
        return set().union(*(_viewed(e) for e in v.elts))
    if kind is gast.Call and pure_call(v):
        if dotted_name(v.func) in NEW_VALUES or dotted_name(v.func) in ARRAY_MAKERS:
            return set()
        if dotted_name(v.func) in SHAPE_ONLY and v.args and not v.keywords:
            return _viewed(v.args[0])
        out = set().union(*(_viewed(a) for a in v.args), *(_viewed(k.value) for k in v.keywords))
        return out | (_viewed(v.func.value) if type(v.func) is gast.Attribute else set())
    return _loads(v)


def _loads(node) -> set:
    return {n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load)}
