"""Copy propagation: `a = b` with both names assigned once uses b for a."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import assign_counts, map_blocks, nested_blocks, walk_names


def propagate_copies(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`a = b` where both names are assigned once: use b for a in the rest of the block, drop the copy.

    Only when every read of `a` in the function comes after the copy in its block (a name read
    outside the block it is defined in cannot be renamed locally). Linear in the function's size:
    the reads of each name and the position of each read's statement in each enclosing block are
    indexed once, and kept up to date as reads are renamed and copies dropped."""
    counts = assign_counts(fn)
    reads: dict = {}     # name -> {id(Name node): node}, the loads of that name in the function
    where: dict = {}     # id(Name node) -> {id(block): index of the statement holding it there}
    blocks = []          # every block indexed, kept alive so that no other list takes its id

    def index(stmts):
        blocks.append(stmts)
        for k, s in enumerate(stmts):
            for n in walk_names(s):
                if isinstance(n.ctx, gast.Load):
                    at = where.setdefault(id(n), {})
                    at[id(stmts)] = min(k, at.get(id(stmts), k))
            for b in nested_blocks(s):
                index(b)

    def forget(s):
        for n in walk_names(s):
            if isinstance(n.ctx, gast.Load):
                reads.get(n.id, {}).pop(id(n), None)

    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Load):
            reads.setdefault(n.id, {})[id(n)] = n
    index(fn.body)

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
