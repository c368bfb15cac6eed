"""`a[i][j] = v`, a C-style write into a row then its element, as `a[i, j] = v` (desugar, on assignment targets):
where `a` is certainly a NumPy array and `i` certainly an int, `a[i]` is a view of a's row, which the write goes
through. Anything else stays as written, and anf declines a write into what is not a name."""
from __future__ import annotations

import gast

from .astutil import certainly_int, copy_loc, load, walk
from .sum_calls import is_builtin, unit_locals


def merged_index(unit, target, facts: dict):
    """The write target `target` with a chain of indexing merged into one index where that is the same write
    (`facts`: a cache, per unit, of the names certainly bound to ints and to arrays)."""
    chain, base = [], target
    while isinstance(base, gast.Subscript):
        chain.append(base.slice)
        base = base.value
    if len(chain) < 2 or not isinstance(base, gast.Name):
        return target
    if not facts:
        facts.update(ints=_certain_ints(unit), arrays=_certain_arrays(unit))
    if base.id not in facts["arrays"]:    # (a list's or a tuple's a[i][j] is not a[i, j])
        return target
    *leading, last = [c.elts if isinstance(c, gast.Tuple) else [c] for c in reversed(chain)]
    leading = [e for c in leading for e in c]
    if not all(_int_expr(unit, e, facts["ints"]) for e in leading):
        return target
    return copy_loc(gast.Subscript(value=base, slice=gast.Tuple(elts=leading + last, ctx=gast.Load()),
                                   ctx=target.ctx), target)


def _certain_ints(unit) -> set:
    """Names whose every binding in the unit's function is a Python int: a `range` loop's variable, `enumerate`'s
    counter, and int constants, `len(...)`, `int(...)` and `+ - * // %` of those."""
    binds: dict = {}
    for n in walk(unit.node):
        if isinstance(n, gast.For):
            t, it = n.target, n.iter
            if isinstance(t, gast.Name) and isinstance(it, gast.Call) and is_builtin(unit, it.func, "range"):
                binds.setdefault(t.id, []).append(None)
                continue
            if (isinstance(t, gast.Tuple) and t.elts and isinstance(t.elts[0], gast.Name) and isinstance(it, gast.Call)
                    and is_builtin(unit, it.func, "enumerate")
                    and all(_int_expr(unit, a, set()) for a in it.args[1:] + [k.value for k in it.keywords])):
                binds.setdefault(t.elts[0].id, []).append(None)
                t = gast.Tuple(elts=t.elts[1:], ctx=gast.Store())
            for m in walk(t):
                if isinstance(m, gast.Name):
                    binds.setdefault(m.id, []).append(False)
        elif isinstance(n, (gast.Assign, gast.AugAssign, gast.AnnAssign)):
            targets = n.targets if isinstance(n, gast.Assign) else [n.target]
            for t in targets:
                if isinstance(t, gast.Name):
                    binds.setdefault(t.id, []).append(
                        n.value if not isinstance(n, gast.AugAssign) else gast.BinOp(left=load(t.id), op=n.op,
                                                                                      right=n.value))
                else:
                    for m in walk(t):
                        if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Store):
                            binds.setdefault(m.id, []).append(False)
        elif isinstance(n, (gast.NamedExpr, gast.comprehension, gast.arguments)):
            for m in walk(n.target if not isinstance(n, gast.arguments) else n):
                if isinstance(m, gast.Name) and not isinstance(m.ctx, gast.Load):
                    binds.setdefault(m.id, []).append(False)
    ints = set(binds)
    while True:
        keep = {v for v in ints if all(b is None or (b is not False and _int_expr(unit, b, ints)) for b in binds[v])}
        if keep == ints:
            return ints
        ints = keep


def _certain_arrays(unit) -> set:
    """Local names whose every binding in the unit's function is an array a NumPy function makes
    (`np.zeros((n, n))`, or `+=` of one)."""
    import numpy

    def made(v):
        if not isinstance(v, gast.Call) or not isinstance(v.func, gast.Attribute):
            return False
        root = v.func
        while isinstance(root, gast.Attribute):
            root = root.value
        return isinstance(root, gast.Name) and root.id not in unit_locals(unit) and \
            unit.namespace.get(root.id) is numpy
    stores: dict = {}
    good: dict = {}
    for n in walk(unit.node):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif ((isinstance(n, gast.Assign) and len(n.targets) == 1 and made(n.value)) or isinstance(n, gast.AugAssign)) \
                and isinstance(n.targets[0] if isinstance(n, gast.Assign) else n.target, gast.Name):
            t = (n.targets[0] if isinstance(n, gast.Assign) else n.target).id
            good[t] = good.get(t, 0) + (1 if isinstance(n, gast.Assign) else 0)
            stores[t] = stores.get(t, 0) - (0 if isinstance(n, gast.Assign) else 1)   # (+= keeps an array one)
    return {v for v, k in good.items() if k and k == stores.get(v, 0)}


def _int_expr(unit, e, ints) -> bool:
    """Whether `e` certainly computes a Python int, where the names `ints` hold ints (also len(...), int(...))."""
    return certainly_int(e, ints, lambda c: isinstance(c, gast.Call) and len(c.args) == 1 and not c.keywords and (
        is_builtin(unit, c.func, "len") or is_builtin(unit, c.func, "int")))
