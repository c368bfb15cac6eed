"""Local names Numba cannot confuse: the function handed to numba.njit has its locals renamed where Numba's own
temporaries would collide.

Why: Numba names the temporary a load of local `v` makes `$v<offset>.<k>` (the bytecode offset run into the
name). Where a name is another plus digits (srcdiff's `result` and `result5`, a user's `w` and `w1`), a load of
`result` at offset 590 and one of `result5` at offset 90 both make `$result590.<k>`; Numba then defines the second
as `$result590.<k>.1`, its assignment simplifier looks the first name up, drops the second's assignment as unused
and leaves the read of it undefined: 'Type of variable ... cannot be determined' (jvp under Numba of fuzz seed
916068's program). Renaming a local changes no bytecode, only the names in `co_varnames`: the function Numba
compiles is the same code with `result5` read as `result5_`, and the source shown stays as generated.
"""
from __future__ import annotations

import dis
import types


def _loads(code) -> list:
    """(name, offset) of each load of a local, as Numba's bytecode reader names its temporaries."""
    out = []
    for ins in dis.get_instructions(code):
        if "LOAD_FAST" in ins.opname:
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            out.extend((n, ins.offset) for n in names if isinstance(n, str))
    return out


def ambiguous_names(code) -> set:
    """The locals of `code` whose loads make a temporary name that a load of another local makes too (its name
    and offset run together: `result5` at 90 and `result` at 590), under either offset Numba may run in (the
    instruction's own, or the next one's)."""
    seen: dict = {}
    out = set()
    for step in (0, 2):
        for name, offset in _loads(code):
            key = (step, f"{name}{offset + step}")
            other = seen.setdefault(key, name)
            if other != name:
                out.add(max(name, other, key=len))     # (the longer one ends in the digits that collide)
    return out


def unambiguous(fn):
    """`fn`, or a copy of it whose ambiguous locals (ambiguous_names) end in `_`, the rest as it is (again while
    a renamed one collides: `result5_` loaded at 90 and a local `result5_9` at 0)."""
    for _ in range(8):
        bad = ambiguous_names(fn.__code__)
        if not bad:
            return fn
        fn = _renamed(fn, bad)
    return fn


def _renamed(fn, bad: set):
    """A copy of `fn` whose locals in `bad` end in one more `_` (or more, where that name is taken)."""
    code = fn.__code__
    taken = set(code.co_varnames) | set(code.co_cellvars) | set(code.co_freevars)
    names = []
    for name in code.co_varnames:
        new = name
        while name in bad and (new == name or new in taken):
            new += "_"
        taken.add(new)
        names.append(new)
    copy = types.FunctionType(code.replace(co_varnames=tuple(names)), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = fn.__qualname__
    copy.__dict__.update(fn.__dict__)
    copy.__doc__ = fn.__doc__
    return copy
