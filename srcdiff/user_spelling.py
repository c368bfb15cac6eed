"""The user's names in messages about code srcdiff generated.

Why: a decline raised in generated code (a gradient differentiated again, the CUDA lowering of a gradient or jvp)
names what that code binds: SSA's versions of the user's names (`buf6v13`, versions of versions `buf6v13v2`),
temporaries named after them (`total_sum10v3`) and derivatives of the user's helpers (`rec3_jvp`). A message that
names those asks the user to find a name that is nowhere in their code. Each is spelled instead as the first of its
shortenings (a version suffix `v<k>` dropped, a counter, a word srcdiff appends) that the user's function or a
function it calls binds or reads; srcdiff's records of a value (`b8_stack`, `buf1_old_tape5`) stay as they are.
"""
from __future__ import annotations

import re
import types

_SUFFIXES = re.compile(r"(v\d+|\d+|_[a-z]+)$")     # a version, a counter, a word srcdiff appends (a_items)
_RECORDS = re.compile(r"_(tape|stack|old|snapshots|carry|scales|scaled|product)$")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")


def user_names(fn, depth: int = 4) -> set:
    """The names `fn`'s code (its nested code objects included) binds or reads, with those of the Python functions
    it reads from its globals, to `depth` calls deep (helpers inlined into the generated code)."""
    names: set = set()
    seen: set = set()

    def visit(f, d):
        code = getattr(f, "__code__", None)
        if code is None or id(code) in seen:
            return
        seen.add(id(code))
        names.add(getattr(f, "__name__", ""))
        glb = getattr(f, "__globals__", {})
        stack = [code]
        while stack:
            c = stack.pop()
            names.update(c.co_varnames, c.co_cellvars, c.co_freevars, c.co_names)
            stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
            if d > 0:
                for n in c.co_names:
                    if isinstance(glb.get(n), types.FunctionType):
                        visit(glb[n], d - 1)
    visit(fn if hasattr(fn, "__code__") else getattr(fn, "py_func", fn), depth)
    names.discard("")
    return names


def spelled(name: str, users: set, leaves: dict | None = None) -> str:
    """`name` as the user wrote it: itself or its first shortening in `users` (a derivative `d_x` keeps its
    prefix: `d_` of the user's name; `leaves`: names that stand for items of an argument, `xa_1` -> `xa[1]`);
    `name` where none is."""
    leaves = leaves or {}
    if name in users and name not in leaves or name.startswith("cu_"):     # (cu_...: the lowering's own names)
        return name
    prefix = re.match(r"(d_)*", name).group()
    core = name[len(prefix):]
    while core:
        if core in users:
            return prefix + leaves.get(core, core)
        if _RECORDS.search(core):       # (srcdiff's record of a value, not the value: `buf1_old_tape5` stays)
            return name
        shorter = _SUFFIXES.sub("", core)
        if shorter == core:
            break
        core = shorter
    return name



def record(name: str, users: set) -> str | None:
    """`name`, srcdiff's record of a value (`b8_stack`, `buf1_old_tape5`: what `spelled` leaves as it is), said in
    the user's words: "`b8` (the values of it srcdiff's gradient saves)"; None where `name` is no record of one of
    the user's names."""
    core, recorded = name, False
    while core:
        m = _RECORDS.search(core)
        if m:
            core, recorded = core[:m.start()], True
            continue
        user = spelled(core, users) if recorded else None
        if user in users:
            return f"`{user}` (the values of it srcdiff's gradient saves)"
        shorter = _SUFFIXES.sub("", core)
        if shorter == core:
            return None
        core = shorter
    return None

def spell(text: str, users: set, generated: set, written: dict | None = None, leaves: dict | None = None) -> str:
    """`text` with each name of `generated` (the names of the generated code) spelled as the user's (spelled), or,
    where none of the user's is, as the numbers written out that it holds (`written`: literals)."""
    if not text or not users:
        return text

    def one(m):
        name = m.group()
        if name not in generated:
            return name
        out = spelled(name, users, leaves)
        return written.get(name, out) if out == name and written else out
    return _IDENT.sub(one, text)
