"""Pass 9: clean the generated function: drop assignments nothing reads (dead code)."""
from __future__ import annotations

import gast

from .astutil import COMMENT_MARK, is_comment

_PURE_CALL_PREFIXES = ("np.", "rt.", "math.")


def _pure(value) -> bool:
    for n in gast.walk(value):
        if isinstance(n, gast.Call):
            f = n.func
            parts = []
            while isinstance(f, gast.Attribute):
                parts.append(f.attr)
                f = f.value
            if not isinstance(f, gast.Name):
                return False
            name = ".".join([f.id] + parts[::-1])
            if not name.startswith(_PURE_CALL_PREFIXES) or name.startswith("np.random"):
                return False
    return True


def _loads(node) -> set:
    return {n.id for n in gast.walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def eliminate_dead_code(fn: gast.FunctionDef) -> gast.FunctionDef:
    """Remove pure assignments to names that are never read, until nothing changes."""
    while True:
        used = _loads(fn)
        removed = False

        def clean(stmts):
            nonlocal removed
            out = []
            for s in stmts:
                if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                        and s.targets[0].id not in used and _pure(s.value)):
                    removed = True
                    continue
                for f in ("body", "orelse"):
                    if isinstance(getattr(s, f, None), list):
                        setattr(s, f, clean(getattr(s, f)))
                if isinstance(s, (gast.For, gast.While)) and all(is_comment(b) for b in s.body):
                    removed = True
                    continue
                if isinstance(s, gast.If):
                    if all(is_comment(b) for b in s.orelse):
                        s.orelse = []
                    if all(is_comment(b) or isinstance(b, gast.Pass) for b in s.body):
                        s.body = []
                if isinstance(s, gast.If) and not s.body and not s.orelse:
                    removed = True
                    continue
                if is_comment(s) and out and is_comment(out[-1]) and out[-1].value.value[len(COMMENT_MARK):].startswith("line "):
                    out[-1] = s  # a comment whose statements were all removed
                    removed = True
                    continue
                if isinstance(s, gast.If) and not s.body:
                    s.body = [gast.Pass()]
                out.append(s)
            return out

        fn.body = clean(fn.body)
        if not removed:
            return fn


def _assign_counts(fn) -> dict:
    counts: dict = {}
    for n in gast.walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            counts[n.id] = counts.get(n.id, 0) + 1
    for n in gast.walk(fn):
        if isinstance(n, gast.For):
            counts[n.target.id] = counts.get(n.target.id, 0) + 1
    return counts


def propagate_copies(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`a = b` where both names are assigned once: use b for a in the rest of the block, drop the copy."""
    counts = _assign_counts(fn)
    # names loaded outside the block they are defined in cannot be renamed locally
    def block(stmts):
        out = []
        for k, s in enumerate(stmts):
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)
                    and counts.get(s.targets[0].id) == 1 and counts.get(s.value.id, 0) <= 1
                    and not getattr(s, "_srcdiff_phi", False)):
                a, b = s.targets[0].id, s.value.id
                rest = stmts[k + 1:]
                inside = {id(n) for r in rest for n in gast.walk(r)}
                elsewhere = any(isinstance(n, gast.Name) and n.id == a and id(n) not in inside
                                and isinstance(n.ctx, gast.Load) for n in gast.walk(fn))
                if not elsewhere:
                    for r in rest:
                        for n in gast.walk(r):
                            if isinstance(n, gast.Name) and n.id == a and isinstance(n.ctx, gast.Load):
                                n.id = b
                    continue
            for f in ("body", "orelse"):
                if isinstance(getattr(s, f, None), list):
                    setattr(s, f, block(getattr(s, f)))
            out.append(s)
        return out
    fn.body = block(fn.body)
    return fn
