"""Which expressions may be dropped or evaluated again: `is_pure` is the one test the dead-code passes
(optimize.eliminate_dead_code, forward mode's) and checkpointed loops (checkpoints.py) share."""
from __future__ import annotations

import gast

from .astutil import walk, walk_calls

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



def effect_free_functions(graph: dict) -> frozenset:
    """The keys of `graph` (key -> (FunctionDef, {local name of a user function it calls: that function's
    key})) whose functions have no effect but their result: no write through a subscript or an attribute,
    no global, nonlocal, del or yield, and only pure calls (pure_call) or calls of such functions (themselves
    included: a fixpoint down from all of them). The dead-code pass drops an unread call of one: a recursive
    helper's call in a branch that decides nothing the gradient needs."""
    pure = set(graph)
    changed = True
    while changed:
        changed = False
        for key in list(pure):
            node, calls = graph[key]
            if not _effect_free(node, calls, pure):
                pure.discard(key)
                changed = True
    return frozenset(pure)


def _effect_free(node, calls: dict, pure: set) -> bool:
    for n in walk(node):
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await, gast.Delete)):
            return False
        if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.ctx, gast.Store):
            return False
        if isinstance(n, gast.Call) and not pure_call(n):
            key = calls.get(n.func.id) if isinstance(n.func, gast.Name) else None
            if key is None or key not in pure:
                return False
    return True
