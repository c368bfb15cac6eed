"""Check (no change to the tree): declines programs where an array is written in place while a view
of it (a slice, a row, a transpose, a reshape, a plain second name) made before the write is read
after it. Reverse mode treats every SSA value as its own array, so such a read would see the new
contents in the forward sweep but get the old value's derivative in the backward sweep: a silently
wrong gradient. Views made after the write (the usual `x[t] = f(x[t - 1])`) are fine.
"""
from __future__ import annotations

import gast

from ..errors import SrcdiffError, fail
from .astutil import dotted_name

_VIEW_CALLS = {"np.transpose", "rt.transpose", "rt.expand_dims", "np.expand_dims", "np.reshape", "np.ravel",
               "rt.squeeze", "np.asarray", "np.atleast_1d", "np.atleast_2d"}


def _basic(idx, kinds) -> bool:
    """Slices, integers and None only: indexing with it gives a view (an array index copies)."""
    for n in gast.walk(idx):
        if isinstance(n, (gast.List, gast.Call)) or (isinstance(n, gast.Tuple) and n is not idx):
            return False
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and (kinds.get(n.id) or ("s",))[0] != "s":
            return False
    return True


def _view_source(value, name, kinds, renames_only=False):
    """The array `name = value` may share memory with, or None."""
    if isinstance(value, gast.Name):
        k = kinds.get(name)
        return value.id if k is None or k[0] == "a" else None
    if renames_only:
        return None
    if isinstance(value, gast.Attribute) and value.attr == "T" and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and _basic(value.slice, kinds):
        k = kinds.get(name)
        sliced = any(isinstance(n, gast.Slice) for n in gast.walk(value.slice))
        return value.value.id if sliced or (k is not None and k[0] == "a") else None
    if (isinstance(value, gast.Call) and dotted_name(value.func) in _VIEW_CALLS and value.args
            and isinstance(value.args[0], gast.Name)):
        return value.args[0].id
    return None


def memory_roots(fn, kinds, renames_only=False) -> dict:
    """name -> the name whose memory it may share (itself when it views nothing).

    SSA's own copies (branch merges, loop phis) join two versions of one variable, which the
    derivative passes follow; they count only when they pass on a view of another array."""
    source, versions = {}, []
    for s in gast.walk(fn):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            src = _view_source(s.value, s.targets[0].id, kinds, renames_only)
            if src is None:
                continue
            if getattr(s, "_srcdiff_merge", False) or getattr(s, "_srcdiff_phi", False):
                versions.append((s.targets[0].id, src))
            else:
                source[s.targets[0].id] = src
    grew = True
    while grew:
        grew = False
        for name, src in versions:
            if name not in source and src in source:
                source[name] = src
                grew = True

    def root(n):
        seen = set()
        while n in source and n not in seen:
            seen.add(n)
            n = source[n]
        return n
    return {n: root(n) for n in set(source) | set(source.values())}


def sharing_written_memory(fn, kinds=None) -> set:
    """Names that may share memory with an array written in place (the written names included)."""
    written = {n.targets[0].value.id for n in gast.walk(fn)
               if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)
               and isinstance(n.targets[0].value, gast.Name)}
    roots = memory_roots(fn, kinds or {})
    hit = {roots.get(w, w) for w in written}
    return written | {n for n, r in roots.items() if r in hit}


class _Order:
    """Statements in program order: index, enclosing loops, and index ranges of loops."""

    def __init__(self, fn):
        self.items = []              # (index, stmt, loops) for every statement, compound ones included
        self.span = {}               # id(loop) -> (first, last) index of its body
        self.index = {}              # id(stmt) -> index
        self.loops = {}              # id(loop) -> loop
        self.branch = {}             # index -> {id(if): 0 in its body, 1 in its orelse} around it
        self.walk(fn.body, (), {})

    def walk(self, stmts, loops, branch):
        for s in stmts:
            k = len(self.items)
            self.items.append((k, s, loops))
            self.index[id(s)] = k
            self.branch[k] = branch
            if isinstance(s, (gast.For, gast.While)):
                self.loops[id(s)] = s
                self.walk(s.body, loops + (id(s),), branch)
                self.span[id(s)] = (k, len(self.items) - 1)
            elif isinstance(s, gast.If):
                self.walk(s.body, loops, {**branch, id(s): 0})
                self.walk(s.orelse, loops, {**branch, id(s): 1})

    def exclusive(self, k1, k2) -> bool:
        """Whether statements k1 and k2 lie in different branches of one `if` (one pass runs one)."""
        b1, b2 = self.branch[k1], self.branch[k2]
        return any(b2.get(i, side) != side for i, side in b1.items())


def _own_loads(s):
    """Names a statement reads itself (for compound statements: the test / iterable only)."""
    parts = [s.test] if isinstance(s, (gast.If, gast.While)) else [s.iter] if isinstance(s, gast.For) else [s]
    return {n.id for p in parts for n in gast.walk(p) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _rebound(order, view, kw, wloops, root, target_root, kinds, renames_only):
    """Index of a statement that, in every iteration of a loop around the write at `kw`, rebinds `view`
    to memory the written array does not share, after the write (a top-level statement of that loop's
    body, such as SSA's loop-carried copy); reads from there on, and in later iterations, see the new
    array. None if there is none."""
    for L in reversed(wloops):
        for st in order.loops[L].body:
            k = order.index[id(st)]
            if (k > kw and isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                    and st.targets[0].id == view):
                src = _view_source(st.value, view, kinds, renames_only)
                if src is None or root(src) != target_root:
                    return k
    return None


def check_views(unit, kinds: dict, renames_only: bool = False) -> None:
    """Raise SrcdiffError for a view read after a write it would observe (see module docstring).
    `renames_only`: only second names of a whole array count (forward mode: a view's tangent is
    the same view of the tangent, so slices and transposes are followed correctly there)."""
    fn = unit.node
    order = _Order(fn)
    defined = {a.id: -1 for a in fn.args.args}
    for k, s, _ in order.items:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            defined.setdefault(s.targets[0].id, k)
    roots = memory_roots(fn, kinds, renames_only)
    root = lambda n: roots.get(n, n)  # noqa: E731
    family = {}
    for n, r in roots.items():
        family.setdefault(r, set()).add(n)
    reads = {}
    for k, s, loops in order.items:
        for n in _own_loads(s):
            reads.setdefault(n, []).append((k, loops))
    for kw, w, wloops in order.items:
        if not (isinstance(w, gast.Assign) and isinstance(w.targets[0], gast.Subscript)
                and isinstance(w.targets[0].value, gast.Name)):
            continue
        target = w.targets[0].value.id
        for view in sorted(family.get(root(target), ())):
            if view == target or view not in defined:
                continue
            dv = defined[view]
            rebound = _rebound(order, view, kw, wloops, root, root(target), kinds, renames_only)
            for kr, rloops in reads.get(view, ()):
                later = dv < kw < kr and not order.exclusive(kw, kr)
                again = any(L in rloops and dv < order.span[L][0] for L in wloops)
                if (later or again) and not (rebound is not None and (kr >= rebound or not later)):
                    message = (f"`{view}` shares memory with `{target}`, which this assignment writes in place, "
                               f"and is read afterwards: srcdiff does not follow writes through views")
                    base = root(target)
                    advice = (f"write into `{base}` itself instead of through `{target}`, or make `{target}` "
                              f"a copy (np.copy(...)) if it is meant to be a separate array"
                              if target != base else
                              f"make `{view}` a copy where it is created (np.copy(...)), or index "
                              f"`{base}` again after the write")
                    where = getattr(w, "_srcdiff_file", None)
                    if where is not None:
                        raise SrcdiffError(message, where, getattr(w, "lineno", None), advice)
                    fail(w, unit, message, advice)
