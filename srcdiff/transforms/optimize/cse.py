"""Common subexpressions: a repeated operation in a block reuses the first result."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import (assign_counts, loaded_names, nested_blocks, structure_key, walk, walk_names,
                       without_statements)


def common_subexpressions(fn: gast.FunctionDef) -> gast.FunctionDef:
    """In SSA code, `b = <same operation as a>` in the same block becomes `b = a` (array reads are
    forgotten when the array is written in between; calls only for rule-table primitives; never for
    arrays written in place)."""
    from ...rules import RULES
    from ..astutil import dotted_name
    from ..purity import WRITES_INTO

    def key(value):
        if isinstance(value, gast.Call):
            name = dotted_name(value.func)
            if name not in RULES or name.startswith("np.random") or name in ("print", "rt.pop", "rt.stack"):
                return None
        elif not isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Subscript, gast.Compare, gast.Attribute)):
            return None
        return structure_key(value)

    dead = set()   # ids of the assignments whose value an earlier one computed

    def reads(entry):
        """The names the value of a `seen` entry [name, value, its reads or None] reads."""
        if entry[2] is None:
            entry[2] = loaded_names(entry[1])
        return entry[2]

    def block(stmts):
        seen = {}
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
                arr = s.targets[0].value.id
                seen = {k: v for k, v in seen.items() if arr not in reads(v)}
                continue
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                rename_loads(s.value)   # with operands merged above, `x - mean` twice is one expression too
                k = key(s.value)
                if k is not None:
                    # both names bound once: a name a loop rebinds (`for e, f in zip(a, a)` whose body
                    # updates e) holds another value where the merged name is read later
                    if (k in seen and not anno.get(s, anno.PHI) and counts.get(s.targets[0].id) == 1
                            and counts.get(seen[k][0]) == 1
                            and s.targets[0].id not in written and seen[k][0] not in written):
                        renames[s.targets[0].id] = seen[k][0]
                        dead.add(id(s))
                    else:
                        seen[k] = [s.targets[0].id, s.value, None]   # (its reads: when needed)
            else:
                for b in nested_blocks(s):
                    block(b)
                # a nested block may write arrays or rebind loop-carried names
                touched = {n.id for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
                touched |= {n.value.id for n in walk(s) if isinstance(n, gast.Subscript)
                            and isinstance(n.ctx, gast.Store)}
                if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
                        and dotted_name(s.value.func) in WRITES_INTO):   # rt.index_add(d_p, ...) writes d_p
                    touched |= {a.id for a in s.value.args if isinstance(a, gast.Name)}
                seen = {k: v for k, v in seen.items() if not (reads(v) & touched) and v[0] not in touched}
    counts = assign_counts(fn)
    renames: dict = {}
    # two copies of an array that is later written in place are two arrays (and so are copies of
    # anything sharing its memory: z = y; z[i] = ... changes y)
    from ..aliasing import sharing_written_memory
    written = sharing_written_memory(fn)

    def rename_loads(node):
        if not renames:
            return
        for n in walk_names(node):
            if n.id in renames and isinstance(n.ctx, gast.Load):
                target = renames[n.id]
                while target in renames:
                    target = renames[target]
                n.id = target

    block(fn.body)
    if dead:
        fn.body = without_statements(fn.body, lambda s: id(s) in dead)
        rename_loads(fn)
    return fn
