"""Which expressions may be dropped or evaluated again: `is_pure` is the one test the dead-code passes
(optimize.eliminate_dead_code, forward mode's) and checkpointed loops (checkpoints.py) share."""
from __future__ import annotations

import gast

from .astutil import walk_calls

PURE_CALL_PREFIXES = ("np.", "rt.", "math.")   # library calls: no effects but their result
PURE_BUILTINS = frozenset(("len", "min", "max", "abs", "float", "int", "bool", "range", "round"))   # the same
STACK_OPS = ("rt.pop", "rt.push")              # they change the stack: a pop whose value is unused still pops
WRITES_INTO = frozenset((                       # runtime helpers that write into an argument: a call whose result
    "rt.add_into", "rt.add_row", "rt.index_add",   # nothing reads still does that (tests/test_optimize.py finds
    "rt.put_row", "rt.halve",                       # the runtime's functions that write into a parameter)
    "rt.rows_dot", "rt.rows_add",                                                   # a block of rows' products
    "rt.logsumexp_vecmat_adjoints", "rt.logsumexp_matvec_adjoints",                 # add M's adjoint into d_M
    "rt.logsumexp_vecmat_adjoints_scaled", "rt.logsumexp_matvec_adjoints_scaled",
    "rt.logsumexp_vecmat_scaled", "rt.logsumexp_matvec_scaled",                    # (compiled) their scales
    "rt.logsumexp_vecmat_step", "rt.logsumexp_matvec_step",                         # a carry tape's next row
    "rt.logsumexp_vecmat_step_adjoints", "rt.logsumexp_matvec_step_adjoints",      # add M's adjoint into d_M
    "rt.logsumexp_vecmat_steps", "rt.logsumexp_matvec_steps",                       # a carry tape's rows
    "rt.logsumexp_vecmat_steps_adjoints", "rt.logsumexp_matvec_steps_adjoints"))   # and into d_X


def is_pure(value) -> bool:
    """`value` calls only library functions without effects (not np.random, not a stack operation, not a
    runtime helper that writes into an argument: `d_v = rt.logsumexp_vecmat_adjoints(..., d_M)` adds into
    d_M, so it stays where d_v is dead)."""
    return all(pure_call(n) for n in walk_calls(value))


def pure_call(n: gast.Call) -> bool:
    """The call `n` itself (not its arguments) has no effect but its result (see is_pure)."""
    f = n.func
    parts = []
    while isinstance(f, gast.Attribute):
        parts.append(f.attr)
        f = f.value
    if not isinstance(f, gast.Name):
        return False
    name = ".".join([f.id] + parts[::-1])
    if name in PURE_BUILTINS:
        return True
    return not (not name.startswith(PURE_CALL_PREFIXES) or name.startswith("np.random") or name in STACK_OPS
                or name in WRITES_INTO)
