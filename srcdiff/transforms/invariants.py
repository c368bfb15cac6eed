"""Constant arrays out of loops: `buf = np.array((1.0, -0.5))` in a loop body is made once, before the loop.

Made in the loop, each iteration's array was a value of that iteration: a while loop's forward sweep pushed
it, or the scalars read from it (`y1 = buf[0]`), onto the tape every iteration, for the backward sweep to pop
the same numbers back. A person makes such an array once. Moved (on the SSA unit, before the derivative is
made) with the scalar reads of it by constant index (`buf[0]`): then nothing about them varies by iteration,
and the backward sweep reads them where they are.

Only where it is the same program: the statement is at the top of a loop body (no branch around it; the loops
around it are loops only), its name is bound there and nowhere else, and the array is only ever read by
element (`buf[1]`, an index inside its length) or as an operand of arithmetic or a comparison -- nothing can
write into it, view it or keep it. Making it before a loop that runs no iteration costs the allocation only
(np.array of numbers cannot fail)."""
from __future__ import annotations

import gast

from .astutil import dotted_name, walk, walk_names


def hoist_constant_arrays(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn` (SSA) with its loops' constant arrays, and their reads by constant index, before the outermost
    loop around them (see the module's docstring)."""
    stores: dict = {}
    for n in walk_names(fn):
        if not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    for t in walk(fn):
        if isinstance(t, (gast.AugAssign, gast.For)):
            for n in walk_names(t.target if isinstance(t, gast.AugAssign) else t.target):
                stores[n.id] = stores.get(n.id, 0) + 2
    lengths = {}
    for s in walk(fn):
        if _single(s, stores) and _literal_length(s.value) is not None:
            lengths[s.targets[0].id] = _literal_length(s.value)
    lengths = {a: k for a, k in lengths.items() if _read_by_element_only(fn, a)}
    if not lengths:
        return fn

    def movable(s) -> bool:
        if not _single(s, stores):
            return False
        v = s.value
        if s.targets[0].id in lengths:
            return True
        return (isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and v.value.id in lengths
                and _index_within(v.slice, lengths[v.value.id]))

    def block(stmts):
        """A block outside every loop: each loop in it gets its movable statements before it."""
        out = []
        for s in stmts:
            if isinstance(s, (gast.For, gast.While)):
                taken = []
                s.body = collect(s.body, taken) or [gast.Pass()]
                k = len(out)     # (before the loop's header: a while loop's test, computed before it)
                while k and getattr(out[k - 1], "lineno", None) == getattr(s, "lineno", -1):
                    k -= 1
                out[k:k] = taken
            elif isinstance(s, gast.If):
                s.body, s.orelse = block(s.body), block(s.orelse)
            out.append(s)
        return out

    def collect(stmts, taken):
        """A loop body without its movable statements (into `taken`), nested loops' bodies too (not a branch's:
        it may not run)."""
        out = []
        for s in stmts:
            if isinstance(s, gast.Assign) and movable(s):
                taken.append(s)
                continue
            if isinstance(s, (gast.For, gast.While)):
                s.body = collect(s.body, taken) or [gast.Pass()]
            out.append(s)
        return out

    fn.body = block(fn.body)
    return fn


def _single(s, stores) -> bool:
    return (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
            and stores.get(s.targets[0].id) == 1)


def _number(e) -> bool:
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        e = e.operand
    return isinstance(e, gast.Constant) and type(e.value) in (int, float)


def _literal_length(v):
    """n for `np.array((c1, ..., cn))` of numbers (a tuple or list, no keywords), else None."""
    if (isinstance(v, gast.Call) and dotted_name(v.func) == "np.array" and len(v.args) == 1 and not v.keywords
            and isinstance(v.args[0], (gast.Tuple, gast.List)) and v.args[0].elts
            and all(_number(e) for e in v.args[0].elts)):
        return len(v.args[0].elts)
    return None


def _index_within(index, n) -> bool:
    return (isinstance(index, gast.Constant) and type(index.value) is int and -n <= index.value < n)


def _read_by_element_only(fn, a) -> bool:
    """Every read of `a` is `a[c]` (c an int) or an operand of arithmetic or a comparison."""
    parents = {}
    for p in walk(fn):
        for child in gast.iter_child_nodes(p):
            parents[id(child)] = p
    for n in walk_names(fn):
        if n.id != a or not isinstance(n.ctx, gast.Load):
            continue
        p = parents.get(id(n))
        if isinstance(p, gast.Subscript) and p.value is n and isinstance(p.ctx, gast.Load) and \
                isinstance(p.slice, gast.Constant) and type(p.slice.value) is int:
            continue
        if isinstance(p, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            continue
        return False
    return True
