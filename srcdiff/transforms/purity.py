"""Which expressions may be dropped or evaluated again: `is_pure` is the one test the dead-code passes
(optimize.eliminate_dead_code, forward mode's) and checkpointed loops (checkpoints.py) share."""
from __future__ import annotations

import gast

from .astutil import dotted_name, walk, walk_calls, walk_of

PURE_CALL_PREFIXES = ("np.", "rt.", "math.")   # library calls: no effects but their result
PURE_BUILTINS = frozenset(("len", "min", "max", "abs", "float", "int", "bool", "range", "round"))   # the same
STACK_OPS = ("rt.pop", "rt.push")              # they change the stack: a pop whose value is unused still pops
CHECKS = ("rt.check_unpack",)                  # they raise Python's error where the check fails: a statement, kept
WRITES_INTO = frozenset((                       # runtime helpers that write into an argument: a call whose result
    "rt.add_into", "rt.add_row", "rt.index_add",   # nothing reads still does that (tests/test_optimize.py finds
    "rt.put_row", "rt.halve", "rt.mask_put",        # the runtime's functions that write into a parameter)
    "rt.rows_dot", "rt.rows_add", "rt.add_chunks",                                  # a block of rows' products
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
                or name in WRITES_INTO or name in CHECKS)



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
    fresh = fresh_locals(node)
    for n in walk(node):
        if isinstance(n, (gast.Global, gast.Nonlocal, gast.Yield, gast.YieldFrom, gast.Await, gast.Delete)):
            return False
        if isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store):
            return False
        if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and _element_of(n) not in fresh:
            return False
        if isinstance(n, gast.Call) and not pure_call(n) and not _local_effect(n, fresh):
            key = calls.get(n.func.id) if isinstance(n.func, gast.Name) else None
            if key is None or key not in pure:
                return False
    return True


ALLOCATIONS = ("np.empty", "np.zeros", "np.ones")    # a new array of the shape their first argument gives
LIST_MAKERS = frozenset(("rt.stack", "rt.stack_of", "rt.read_only_stack_of"))
ARRAY_MAKERS = frozenset(ALLOCATIONS + ("np.full", "np.zeros_like", "np.ones_like",
                          "np.empty_like", "np.full_like", "rt.zeros_like", "rt.stack_zeros"))
LIST_METHODS = frozenset(("append", "pop", "extend", "insert", "clear"))
WRITES_FIRST = frozenset(("rt.add_into", "rt.add_row", "rt.index_add", "rt.put_row"))


def fresh_locals(node: gast.FunctionDef) -> dict:
    """The local names of `node` that only ever hold a value the function made itself, each with what it
    is: 'list' (every binding an empty list display or a new stack), 'array' (a new array: np.zeros and
    kin, rt.zeros_like) or 'value' (also an arithmetic result or a copy, `x.copy()`, `np.copy(x)`,
    `np.array(x)`). No parameter is one, nor a name bound any other way (a loop target, unpacking, `+=`, a copy of another name). Setting an
    element of one, appending to or popping a 'list', adding into part of an 'array' (rt.add_into) changes
    nothing the caller can see: a generated derivative's stacks, tapes and adjoints, a helper's
    `out = np.zeros(n); out[i] = ...`. (An element of a list may be the caller's array: only the list's
    own elements are set, never through them.)"""
    params = {p.id for p in walk(node.args) if isinstance(p, gast.Name)}
    stores, made = {}, {}
    for n in walk_of(node, _FRESH_NODES):     # (the only nodes looked at; the counts need no order)
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            what = _fresh_value(n.value)
            if what is not None:
                name = n.targets[0].id
                k, old = made.get(name, (0, what))
                made[name] = (k + 1, what if what == old else "value")
    return {name: what for name, (k, what) in made.items() if k == stores.get(name) and name not in params}


_FRESH_NODES = frozenset((gast.Name, gast.Assign))


def _fresh_value(v) -> str | None:
    if isinstance(v, gast.List) and not v.elts:
        return "list"
    if isinstance(v, (gast.BinOp, gast.UnaryOp)):
        return "value"
    if isinstance(v, gast.Call):
        name = dotted_name(v.func)
        if name in LIST_MAKERS:
            return "list"
        if name in ARRAY_MAKERS:
            return "array"
        if isinstance(v.func, gast.Attribute) and v.func.attr == "copy" and not v.args and not v.keywords:
            return "value"
        if name in ("np.copy", "np.array") and len(v.args) == 1 and not v.keywords:
            return "value"      # (a new array, always)
    return None


def _element_of(n):
    """The name `n` sets an element of (`t[i]`, `t[i, j]`, `t[:, j]`: one subscript of a name), else None."""
    return n.value.id if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) else None


def _local_effect(n: gast.Call, fresh: dict) -> bool:
    """The call only changes a fresh local (fresh_locals): a list method or a stack operation on a 'list',
    or a runtime helper that adds into its first argument, an 'array' or one subscript of one."""
    f, name = n.func, dotted_name(n.func)
    if name in STACK_OPS:
        return bool(n.args) and isinstance(n.args[0], gast.Name) and fresh.get(n.args[0].id) == "list"
    if name in WRITES_FIRST:
        target = n.args[0].id if n.args and isinstance(n.args[0], gast.Name) else _element_of(n.args[0]) if n.args else None
        return fresh.get(target) == "array"
    if isinstance(f, gast.Attribute) and f.attr in LIST_METHODS and isinstance(f.value, gast.Name):
        return fresh.get(f.value.id) == "list"     # (`rt.pop`, a module's function, is not a list's method)
    return False
