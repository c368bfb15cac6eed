"""Which expressions may be dropped or evaluated again: `is_pure` is the one test the dead-code passes
(optimize.eliminate_dead_code, forward mode's) and checkpointed loops (checkpoints.py) share."""
from __future__ import annotations

import gast

from .astutil import walk

PURE_CALL_PREFIXES = ("np.", "rt.", "math.")   # library calls: no effects but their result
STACK_OPS = ("rt.pop", "rt.push")              # they change the stack: a pop whose value is unused still pops


def is_pure(value) -> bool:
    """`value` calls only library functions without effects (not np.random, not a stack operation)."""
    for n in walk(value):
        if isinstance(n, gast.Call):
            f = n.func
            parts = []
            while isinstance(f, gast.Attribute):
                parts.append(f.attr)
                f = f.value
            if not isinstance(f, gast.Name):
                return False
            name = ".".join([f.id] + parts[::-1])
            if not name.startswith(PURE_CALL_PREFIXES) or name.startswith("np.random") or name in STACK_OPS:
                return False
    return True
