"""Check (no rewrite): in-place writes that would reach a value through another name.

`row = buf[0]` (or `b = buf`, `c = buf[:, 1]`, `buf.T`, ...) shares `buf`'s memory. If `buf` is
written in place after `row` was taken and `row` is read after that write (or the other way round:
written through `row`, read through `buf`), NumPy sees the write through both names, but the
derivative passes treat `row` and `buf` as separate values and would return a silently wrong
derivative. Such programs are declined with SrcdiffError at the write. A view that is used up
before the next write (`s = np.sum(buf[:i]); buf[i] = s`) is fine and not reported.

Runs on the SSA unit, before activity analysis; `kinds` (transforms/kinds.py) tell an integer
index of a vector (a copy) from a row of a matrix (a view); without kinds, only slices, `None`
and plain name copies count as views.
"""
from __future__ import annotations

import gast

from ..errors import fail
from .astutil import dotted_name

_VIEW_CALLS = {"rt.expand_dims", "np.transpose", "rt.transpose", "np.reshape", "np.ravel", "np.squeeze",
               "np.atleast_1d", "np.atleast_2d", "np.asarray", "np.expand_dims"}


def _is_view(value, target, kinds):
    """The name whose memory `target = value` may view, or None."""
    if isinstance(value, gast.Name):
        return value.id
    if isinstance(value, gast.Attribute) and value.attr == "T" and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
        idx = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
        basic = all(isinstance(e, (gast.Slice, gast.Name, gast.Constant)) for e in idx)
        if not basic:
            return None    # fancy indexing copies
        k = kinds.get(target)
        if k is not None:
            return value.value.id if k[0] == "a" else None
        if any(isinstance(e, gast.Slice) or (isinstance(e, gast.Constant) and e.value is None) for e in idx):
            return value.value.id
        return None
    if (isinstance(value, gast.Call) and dotted_name(value.func) in _VIEW_CALLS and value.args
            and isinstance(value.args[0], gast.Name)):
        return value.args[0].id
    return None


def _walk(stmts, loops, out):
    """Simple statements (and loop/if headers) in source order, each with the loops around it."""
    for s in stmts:
        out.append((s, loops))
        inner = loops + (s,) if isinstance(s, (gast.For, gast.While)) else loops
        for f in ("body", "orelse"):
            if isinstance(getattr(s, f, None), list):
                _walk(getattr(s, f), inner, out)
    return out


def _loads(s):
    """Names a statement reads (for compound statements: only its own test/iterator)."""
    if isinstance(s, (gast.If, gast.While)):
        parts = [s.test]
    elif isinstance(s, gast.For):
        parts = [s.iter]
    else:
        parts = [s]
    return {n.id for p in parts for n in gast.walk(p) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _written(s):
    if isinstance(s, (gast.Assign, gast.AugAssign)):
        t = s.targets[0] if isinstance(s, gast.Assign) else s.target
        if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
            return t.value.id
    return None


def check_aliased_writes(unit, kinds: dict | None = None):
    kinds = kinds or {}
    order = _walk(unit.node.body, (), [])
    writes = [(q, _written(s), s, loops) for q, (s, loops) in enumerate(order) if _written(s)]
    if not writes:
        return
    written = {w for _, w, _, _ in writes}
    for p, (d, dloops) in enumerate(order):
        if not (isinstance(d, gast.Assign) and isinstance(d.targets[0], gast.Name)):
            continue
        y = d.targets[0].id
        x = _is_view(d.value, y, kinds)
        if x is None or x == y or not ({x, y} & written):
            continue
        for r, w, ws, wloops in writes:
            if w not in (x, y):
                continue
            other = y if w == x else x      # written through one name, read through the other
            for q, (u, uloops) in enumerate(order):
                if other not in _loads(u) or u is ws:
                    continue
                after = p < r < q
                around = any(lp in uloops and lp in wloops and lp not in dloops for lp in uloops)
                if after or around:
                    fail(ws, unit,
                         f"in-place write to {w!r} while {other!r} shares its memory "
                         f"({y} = ... at line {getattr(d, 'lineno', '?')}) and is read afterwards: "
                         f"srcdiff cannot follow a write through an alias and would return a wrong derivative",
                         f"take a copy where the alias is made ({y} = ....copy() / np.copy(...)), "
                         f"or read the values through the name that is written")
