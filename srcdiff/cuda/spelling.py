"""The user's names in the CUDA lowering's messages.

Why: the lowering reads generated code (srcdiff's gradient, forward mode's jvp, and for hvp forward mode over the
gradient's own text), whose names are SSA's versions of the user's (`buf6v13`, versions of versions `buf6v13v2`),
temporaries named after them (`total_sum10v3`, `a_if_sum10`, `buf1v15_old`) and derivatives of the user's helpers
(`rec3_jvp`). A decline that names those asks the user to find a name that is nowhere in their code. A message
names the user's variable instead: a generated name is spelled as the first of its shortenings (a version suffix
`v<k>` dropped, then a counter, then a suffix srcdiff appends) that the user's function or a function it calls
binds or reads. Names that no shortening brings back to the user's (the lowering's own `cu_...`, a trip counter)
stay as they are."""
from __future__ import annotations

import re
import types

_SUFFIXES = re.compile(r"(v\d+|\d+|_(sum|of|old|tape|stack|jvp|vjp|grad|value_and_grad|if|at\d*|dev))$")
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


def spelled(name: str, users: set) -> str:
    """`name` as the user wrote it: itself or its first shortening in `users` (a derivative `d_x` keeps its
    prefix: `d_` of the user's name); `name` where none is."""
    if name in users:
        return name
    prefix = re.match(r"(d_)*", name).group()
    core = name[len(prefix):]
    while core:
        if core in users:
            return prefix + core
        shorter = _SUFFIXES.sub("", core)
        if shorter == core:
            break
        core = shorter
    return name


def spell(text: str, users: set, generated: set) -> str:
    """`text` with each name of `generated` (the names of the generated code) spelled as the user's (spelled)."""
    if not text or not users:
        return text
    return _IDENT.sub(lambda m: spelled(m.group(), users) if m.group() in generated else m.group(), text)
