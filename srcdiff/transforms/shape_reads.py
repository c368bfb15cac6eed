"""Reads of an array's shape alone, which a write in place into its memory does not change.

Why: the aliasing check (aliasing.py) declines a read of a second name of an array after a write through the first,
since reverse mode gives each SSA value its own derivative. A read of the second name's shape (`rt.zeros_like(b)`,
`b.shape`) reads nothing the write changed, and a gradient differentiated again is full of them: its backward sweep
makes each derivative `d_b = rt.zeros_like(b)` of the value its forward sweep pushed, and pushes a second name of a
swapped buffer after a write through the first. Those reads and pushes are left out of the check here.
"""
from __future__ import annotations

import gast

from . import annotations as anno
from .astutil import dotted_name, nested_blocks, walk, walk_names


def ssa_copy(s):
    """The name an SSA branch merge or loop back-edge copy (`v = w`) copies, else None. Such a copy reads
    nothing itself (a loop's last iteration's value may be one no path reads again): its target carries the
    copied name's staleness instead."""
    if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)
            and (anno.get(s, anno.MERGE) or anno.get(s, anno.PHI))):
        return s.value.id
    return None


# calls that read only the shape (and dtype) of their arguments at these positions, and such attributes: a stale
# view's shape is its own (a write in place changes values, not shapes)
SHAPE_READS = {"rt.zeros_like": (0,), "np.zeros_like": (0,), "np.ones_like": (0,), "np.empty_like": (0,),
                "np.shape": (0,), "np.ndim": (0,), "np.size": (0,), "len": (0,), "rt.unbroadcast": (1,),
                "rt.sum_grad": (1,), "rt.mean_grad": (1,), "rt.broadcast_to_like": (1,), "rt.reshape_like": (1,)}
SHAPE_ATTRS = frozenset({"shape", "ndim", "size", "dtype"})


def shape_reads(e) -> set:
    """The ids of the Name nodes in `e` whose shape alone is read (SHAPE_READS, `x.shape`)."""
    found = set()
    for n in walk(e):
        if isinstance(n, gast.Call) and dotted_name(n.func) in SHAPE_READS:
            found |= {id(n.args[k]) for k in SHAPE_READS[dotted_name(n.func)]
                      if k < len(n.args) and isinstance(n.args[k], gast.Name)}
        elif isinstance(n, gast.Attribute) and n.attr in SHAPE_ATTRS and isinstance(n.value, gast.Name):
            found.add(id(n.value))
    return found


def shape_only_stacks(fn) -> set:
    """The stacks (`rt.pop(b_stack)`) each of whose pops is read for its shape only (SHAPE_READS), also through
    SSA's copies of it, where the copy's target is read after it (later, or in a loop around it): a gradient's
    push of a swapped buffer's second name after a write through the first, whose backward sweep makes
    `d_b = rt.zeros_like(b)` of it. Such a push reads no value a write changed."""
    pops, copies, reach, reads = {}, {}, {}, {}

    def visit(stmts, outer):
        for s in stmts:
            k = len(order)
            order.append(s)
            start = k if outer is None else outer
            v = getattr(s, "value", None)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(v, gast.Call) \
                    and dotted_name(v.func) == "rt.pop" and v.args and isinstance(v.args[0], gast.Name):
                pops[s.targets[0].id] = v.args[0].id
                reach[s.targets[0].id] = min(reach.get(s.targets[0].id, k), start)
            elif ssa_copy(s) is not None:
                copies.setdefault(ssa_copy(s), set()).add(s.targets[0].id)
                reach[s.targets[0].id] = min(reach.get(s.targets[0].id, k), start)
            else:
                part = s.test if isinstance(s, (gast.If, gast.While)) else s.iter if isinstance(s, gast.For) else s
                shapes = shape_reads(part)
                for n in walk_names(part):
                    if isinstance(n.ctx, gast.Load) and id(n) not in shapes:
                        reads.setdefault(n.id, []).append(k)
            if isinstance(s, (gast.For, gast.While)):
                visit(s.body + s.orelse, start)
            else:       # (a branch's blocks, or any other statement's: a try, a nested def)
                visit([t for block in nested_blocks(s) for t in block], outer)
    order: list = []
    visit(fn.body, None)
    shape_only = {n for n in reach if all(k < reach[n] for k in reads.get(n, ()))}
    while True:
        left = {n for n in shape_only if copies.get(n, set()) <= shape_only}
        if left == shape_only:
            break
        shape_only = left
    return {k for k in set(pops.values()) if all(n in shape_only for n, st in pops.items() if st == k)}
