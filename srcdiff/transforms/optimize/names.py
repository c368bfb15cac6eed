"""The name index the cleanup passes after preaccumulate share (compiler.REVERSE's "fuse", "sum grads" and
"where"): how often each name of the function is read and assigned, and which names are pinned. Built once
by the first of them and kept up to date by each as it rewrites the function, instead of each pass walking
the whole function again for the same counts."""
from __future__ import annotations

import gast

from ..astutil import name_counts, walk, walk_statements


class NameIndex:
    """`loads`: name -> reads; `counts`: name -> assignments (parameters and stores; a for loop's target
    counts twice), as astutil.name_counts gives them; `pinned`: names written in place or accumulated
    (`a[i] = v`, `a += v`), not values to move. A pass given the index updates it for each change it makes
    (a count may drop to 0 where a fresh index has no entry: `stale` ignores the difference)."""

    def __init__(self, fn: gast.FunctionDef):
        self.loads, self.counts = name_counts(fn)
        self.pinned = pinned_names(fn)
        self.built = dict(self.loads)   # (the reads when it was built: eliminate_unread compares)

    def dropped(self, name: str, reads: int = 0):
        """The assignment of `name` is gone, with `reads` of it."""
        self.counts[name] -= 1
        self.loads[name] -= reads

    def fewer_reads(self) -> list:
        """The names read fewer times now than when the index was built."""
        return [n for n, c in self.loads.items() if c < self.built.get(n, 0)]

    def stale(self, fn: gast.FunctionDef) -> list:
        """What of the index differs from a fresh one of `fn`: [(what, name, kept, fresh)] (empty: up to date)."""
        fresh = NameIndex(fn)
        out = []
        for what in ("loads", "counts"):
            kept, new = getattr(self, what), getattr(fresh, what)
            for name in sorted(set(kept) | set(new)):
                if kept.get(name, 0) != new.get(name, 0):
                    out.append((what, name, kept.get(name, 0), new.get(name, 0)))
        if self.pinned != fresh.pinned:
            out.append(("pinned", None, sorted(self.pinned), sorted(fresh.pinned)))
        return out


def pinned_names(fn) -> set:
    """Names written in place or accumulated: not values to move."""
    pinned = set()
    for n in walk_statements(fn.body):
        if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            pinned.add(n.target.id)
        if isinstance(n, (gast.Assign, gast.AugAssign)):
            for t in (n.targets if isinstance(n, gast.Assign) else [n.target]):
                if isinstance(t, gast.Subscript):
                    pinned |= {m.id for m in walk(t.value) if isinstance(m, gast.Name)}
    return pinned
