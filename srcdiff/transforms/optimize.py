"""Pass 9: clean the generated function: drop assignments nothing reads (dead code)."""
from __future__ import annotations

import gast

from .astutil import is_comment

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
                if isinstance(s, gast.If) and not s.body and not s.orelse:
                    removed = True
                    continue
                if isinstance(s, gast.If) and not s.body:
                    s.body = [gast.Pass()]
                out.append(s)
            return out

        fn.body = clean(fn.body)
        if not removed:
            return fn
