"""Copy propagation: `a = b` with both names assigned once uses b for a."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import map_blocks, nested_blocks, walk_names, walk_statements

_LOAD = gast.Load
_BINDS = (gast.Store, gast.Param)


def _index(fn: gast.FunctionDef):
    """(counts, reads, where, blocks) of `fn`: the assignments of each name, the loads of each name, the
    position of each load's statement in each enclosing block, and the blocks indexed (kept alive so that no
    other list takes their ids); one walk of each statement."""
    counts: dict = {}    # name -> assignments (parameters and stores; a for loop's target counts twice)
    reads: dict = {}     # name -> {id(Name node): node}, the loads of that name in the function
    where: dict = {}     # id(Name node) -> {id(block): index of the statement holding it there}
    blocks = []          # every block indexed, kept alive so that no other list takes its id

    def index(stmts, top):
        """Index the loads of `stmts` (in one walk of each statement, nested blocks included); at the top
        level also count the assignments and collect the loads by name (assign_counts and the reads of
        the whole function, without walking it twice more)."""
        blocks.append(stmts)
        here = id(stmts)
        for k, s in enumerate(stmts):
            for n in walk_names(s):
                ctx = type(n.ctx)
                if ctx is _LOAD:
                    at = where.get(id(n))
                    if at is None:
                        where[id(n)] = {here: k}
                    elif here not in at:
                        at[here] = k
                    if top:
                        r = reads.get(n.id)
                        if r is None:
                            reads[n.id] = {id(n): n}
                        else:
                            r[id(n)] = n
                elif top and ctx in _BINDS:
                    counts[n.id] = counts.get(n.id, 0) + 1
            if top:
                for t in walk_statements([s]):
                    if type(t) is gast.For:
                        counts[t.target.id] = counts.get(t.target.id, 0) + 1
            for b in nested_blocks(s):
                index(b, False)

    for n in walk_names([fn.args, fn.decorator_list, fn.returns]):   # parameters (and annotations)
        if isinstance(n.ctx, _BINDS):
            counts[n.id] = counts.get(n.id, 0) + 1
        elif isinstance(n.ctx, gast.Load):
            reads.setdefault(n.id, {})[id(n)] = n
    index(fn.body, True)
    return counts, reads, where, blocks


def propagate_copies(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`a = b` where both names are assigned once: use b for a in the rest of the block, drop the copy.

    Only when every read of `a` in the function comes after the copy in its block (a name read
    outside the block it is defined in cannot be renamed locally). Linear in the function's size:
    the reads of each name and the position of each read's statement in each enclosing block are
    indexed once, and kept up to date as reads are renamed and copies dropped."""
    counts, reads, where, blocks = _index(fn)

    def forget(s):
        for n in walk_names(s):
            if isinstance(n.ctx, gast.Load):
                reads.get(n.id, {}).pop(id(n), None)

    def nested(old):
        new = block(old)
        kept = {id(t) for t in new}
        for t in old:          # copies dropped from a nested block leave the function now
            if id(t) not in kept:
                forget(t)
        return new

    def block(stmts):
        out = []
        here = id(stmts)
        for k, s in enumerate(stmts):
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)
                    and counts.get(s.targets[0].id) == 1 and counts.get(s.value.id, 0) <= 1
                    and not anno.get(s, anno.PHI)):
                a, b = s.targets[0].id, s.value.id
                elsewhere = any(where.get(i, {}).get(here, -1) <= k for i in reads.get(a, ()))
                if not elsewhere:
                    moved = reads.pop(a, {})
                    for n in moved.values():
                        n.id = b
                    reads.setdefault(b, {}).update(moved)
                    continue
            out.append(map_blocks(s, nested))
        return out
    fn.body = block(fn.body)
    return fn


def coalesce_copies(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`b = e` ... `a = b`, where the copy is b's only read and b is assigned nowhere else: `a = e`.

    SSA leaves such copies where a branch merges a value into the name both arms bind (`s3 = s + s2` then
    `s4 = s3` in one arm, `s4 = s` in the other); propagate_copies cannot rename `a` away, since `a` is
    assigned more than once. Binding `a` at b's definition instead is the same program when nothing reads
    or writes `a` between the two statements (both in one block) and nothing else reads `b`. Loop-carried
    copies (annotated PHI) stay: later passes find a loop's carried names by them."""
    reads: dict = {}
    stores: dict = {}
    for n in walk_names(fn):
        if isinstance(n.ctx, _LOAD):
            reads[n.id] = reads.get(n.id, 0) + 1
        elif isinstance(n.ctx, _BINDS):
            stores[n.id] = stores.get(n.id, 0) + 1
    for t in walk_statements(fn.body):
        if isinstance(t, gast.AugAssign) and isinstance(t.target, gast.Name):
            reads[t.target.id] = reads.get(t.target.id, 0) + 1
        elif isinstance(t, gast.For):
            for n in walk_names(t.target):
                stores[n.id] = stores.get(n.id, 0) + 1

    def simple(s):
        return (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name))

    def touches(stmts, name) -> bool:
        return any(n.id == name for s in stmts for n in walk_names(s)) or any(
            isinstance(t, gast.AugAssign) and isinstance(t.target, gast.Name) and t.target.id == name
            for t in walk_statements(stmts))

    def block(stmts):
        for s in stmts:
            map_blocks(s, block)
        defined = {}       # name -> position in stmts of its (single) definition
        dropped = set()
        for k, s in enumerate(stmts):
            if not simple(s):
                continue
            a = s.targets[0].id
            if isinstance(s.value, gast.Name) and not anno.get(s, anno.PHI):
                b = s.value.id
                j = defined.get(b)
                if (j is not None and a != b and reads.get(b) == 1 and stores.get(b) == 1
                        and not (isinstance(stmts[j].value, gast.Name) and stmts[j].value.id == a)
                        and not touches(stmts[j + 1:k], a)):
                    stmts[j].targets[0].id = a
                    dropped.add(k)
                    stores[a] = stores.get(a, 0) - 1
                    defined.pop(b)
                    defined[a] = j
                    continue
            defined[a] = k
        return [s for k, s in enumerate(stmts) if k not in dropped]

    fn.body = block(fn.body)
    return fn
