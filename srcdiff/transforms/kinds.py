"""Kinds: which SSA values are scalars (and of which dtype) and which are arrays (of which rank), from the kinds
of the arguments a gradient is specialised for. The reverse pass uses them to drop no-op helpers (unbroadcast of a
scalar, copies of scalars), to give scalar tapes a fixed type, zeros of the right kind to adjoints and placeholders
to values bound in branches, so that Numba can type the generated code.

This module is the entry point: the inference over a function's statements (`infer`, sweeps until loop phis
settle), and the names the other passes read, from its parts, which import nothing of it:
* transforms/kind_type.py: the Kind type (the lattice: scalars, arrays, tuples, stacks; None if unknown) and joins;
* transforms/kind_laws.py: the kind law each rule record names, and their interpreter;
* transforms/kind_exprs.py: the kind of one expression from the kinds of its names;
* transforms/kind_shapes.py: which arrays certainly share a shape.
"""
from __future__ import annotations

import gast

from . import annotations as anno
from .astutil import dotted_name, statements_in_order as _in_order, walk_names, walk_statements
from .kind_exprs import expr_kind
from .kind_laws import LAWS, call_kind, literal_array_kind  # noqa: F401  (re-exported)
from .kind_shapes import ELEMENTWISE, expr_shape_class, shape_classes  # noqa: F401  (re-exported)
from .kind_type import (B, DTYPE_NAMES, F, I, Kind, array_of, as_float, broadcast, dtype, element,  # noqa: F401
                        elements, is_array, is_dtype_value, is_exp_table, is_float_array, is_none, is_scalar, is_stack,
                        is_tuple, kind_of_value, length, matmul_kind, ndim, truncates, unify, with_dtype)


def _reads_unreached(e, local: set, kinds: dict) -> bool:
    """Whether `e` reads a local name that has no kind yet (not reached by this sweep). The flat shapes
    ANF leaves (names, constants, operators and calls of them) are looked at directly; anything else
    is walked (the walk is most of a sweep's cost on a long straight-line function)."""
    t = type(e)
    if t is gast.Name:
        return isinstance(e.ctx, gast.Load) and e.id in local and e.id not in kinds
    if t is gast.Constant:
        return False
    if t is gast.BinOp:
        return _reads_unreached(e.left, local, kinds) or _reads_unreached(e.right, local, kinds)
    if t is gast.UnaryOp:
        return _reads_unreached(e.operand, local, kinds)
    if t is gast.Attribute:
        return _reads_unreached(e.value, local, kinds)
    if t is gast.Call:
        return (_reads_unreached(e.func, local, kinds) or any(_reads_unreached(a, local, kinds) for a in e.args)
                or any(_reads_unreached(k.value, local, kinds) for k in e.keywords))
    return any(isinstance(r.ctx, gast.Load) and r.id in local and r.id not in kinds for r in walk_names(e))


def sum_start(s):
    """(zeros assignment, 0.0 assignment, merged name) of a sum's start, `if <its loops run>: t0 = rt.zeros_like(t)
    / else: t1 = 0.0` with both copied to one name (comprehension_loops._start, in SSA form), or None. In a gradient srcdiff
    generated and differentiates again the copies are its own, then ssa's: copies of copies to one name in both
    branches are taken. Read by infer (the 0.0 has the kind of the zeros) and kind_rewrites.sum_starts."""
    if not isinstance(s, gast.If):
        return None
    # (element writes `d[i] = 0.0`, as in a gradient's own backward sweep, are no sum's start)
    zeros = [b for b in s.body if isinstance(b, gast.Assign) and isinstance(b.targets[0], gast.Name)
             and isinstance(b.value, gast.Call) and dotted_name(b.value.func) == "rt.zeros_like"
             and len(b.value.args) == 1 and isinstance(b.value.args[0], gast.Name)]
    zero = [b for b in s.orelse if isinstance(b, gast.Assign) and isinstance(b.targets[0], gast.Name)
            and isinstance(b.value, gast.Constant) and b.value.value == 0.0 and type(b.value.value) is float]

    def merges(stmts, source):   # the names `source` is copied to in its branch (through copies of copies)
        copies = {source.targets[0].id}
        for b in stmts:
            if (isinstance(b, gast.Assign) and isinstance(b.value, gast.Name) and isinstance(b.targets[0], gast.Name)
                    and b.value.id in copies):
                copies.add(b.targets[0].id)
        return copies - {source.targets[0].id}
    # (the body may hold an inner sum's own start too, computing the first term: the one merged is this sum's)
    found = [(z, o, m) for z in zeros for o in zero for m in merges(s.body, z) & merges(s.orelse, o)]
    return found[0] if len(found) == 1 else None


def _empty_sum_starts(fn) -> dict:
    """id of each sum start's `total = 0.0` (where its loops do not run) -> the `rt.zeros_like(first term)` it
    stands for: kind_rewrites.sum_starts makes it zeros of the terms' rank (a scalar's 0.0 stays), so it has
    their kind, not a float's (a float's joined with the array of the other branch would be unknown, and with
    it a loop's values computed from the sum: fuzz seed 390060)."""
    out = {}
    for s in walk_statements(fn.body):
        found = sum_start(s) if type(s) is gast.If else None
        if found is not None:
            out[id(found[1])] = found[0].value
    return out


UNSETTLED = Kind("?")   # what callee_kind answers for a call of a function whose kind is being inferred (recursion)


def infer(fn: gast.FunctionDef, arg_kinds: dict, callee_kind=None) -> dict:
    """Kinds of every SSA name of `fn` given its parameters' kinds (sweeps until loop phis settle).
    `callee_kind(name, argument kinds)`: the kind a call of the user function `name` (or of a dotted name:
    `rt.get_row`) returns (None if unknown: its rule's kind law, if any, gives it; UNSETTLED for a
    recursive call: its result is left out, so that the function's kind comes from its other paths, as a
    recursion's base case gives it).

    A sweep settles the kinds when it skipped no statement (an operand not reached yet, an unsettled
    recursive call), met no stack, and every name it assigned again kept the kind it had: each read then
    saw the kind the next sweep would give it, so that sweep would find the same kinds and is not made
    (a non-SSA function without loops, such as a gradient, takes one sweep, not two)."""
    kinds = {name: None if is_none(k) else Kind.of(k) for name, k in arg_kinds.items()}
    for p in fn.args.args:   # a parameter of unknown kind is bound on entry: its reads are reached (kind None),
        kinds.setdefault(p.id, None)   # also where the body assigns it again (a loop's `a = a + ...`)
    empty_sums = _empty_sum_starts(fn)   # (a start srcdiff's own generated code re-parsed: no SUM_EMPTY on it)
    local, empty = set(), set()
    unpushed = set()   # stacks no push has reached yet: a pop of one waits for the push (nested 786120)
    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Store):
            local.add(n.id)
    for _ in range(100):   # kinds only widen (unify is a join), so this settles within a few sweeps
        before, settled = dict(kinds), True
        for n in _in_order(fn.body):
            value = getattr(n, "value", None)
            called = dotted_name(value.func) if type(value) is gast.Call else None   # (once per statement)
            if isinstance(n, gast.Expr) and called == "rt.push" and isinstance(value.args[0], gast.Name):
                settled = False
                if _reads_unreached(n.value.args[1], local, kinds):
                    continue   # (a push of a name not reached yet, or only a `None` placeholder: nested 786120)
                s, k = n.value.args[0].id, expr_kind(n.value.args[1], kinds)   # stacks: Kind.stack(element kind)
                unpushed.discard(s)
                old = kinds.get(s)
                kinds[s] = Kind.stack(unify(element(old), k) if is_stack(old) else k)
            elif isinstance(n, gast.Assign) and called == "rt.stack":
                if n.targets[0].id not in kinds:
                    kinds[n.targets[0].id] = None
                    unpushed.add(n.targets[0].id)
                settled = False
            elif _empty_sum(n):
                empty.add(n.targets[0].id)     # (tells nothing: the sum's terms give its kind)
            elif (isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name)
                  and not (isinstance(n.value, gast.Constant) and n.value.value is None)):
                # `x = None` (a placeholder for a maybe-unbound x) tells nothing, nor does an expression
                # of a name not reached yet (a loop's back edge, a value first bound later in the loop
                # body and read in the next iteration): the next sweep sees it
                if _reads_unreached(n.value, local, kinds) or _pops_unpushed(n.value, unpushed):
                    settled = False
                    continue
                name = n.targets[0].id
                if id(n) in empty_sums:
                    k = expr_kind(empty_sums[id(n)], kinds)
                    if _reads_unreached(empty_sums[id(n)], local, kinds):
                        settled = False
                        continue
                    k = k if is_scalar(k) or ndim(k) is not None else F
                elif callee_kind is not None and called:
                    args = [expr_kind(a, kinds) for a in value.args]
                    k = callee_kind(called, tuple(args))
                    if k is UNSETTLED:
                        settled = False
                        continue   # (else as expr_kind(value): the call's law, from the arguments' kinds)
                    k = k if k is not None else call_kind(called, args, value, lambda x: expr_kind(x, kinds))
                else:
                    k = expr_kind(n.value, kinds)
                if name in kinds:
                    k = unify(kinds[name], k)
                    settled = settled and k == kinds[name]
                kinds[name] = k
            elif isinstance(n, gast.For):
                settled = settled and kinds.get(n.target.id, I) == I
                kinds[n.target.id] = I
        if settled or kinds == before:
            break
    for name in empty - set(kinds):     # 0.0 where nothing else tells (sum_starts did not make it zeros)
        kinds[name] = F
    return kinds


def _pops_unpushed(e, unpushed: set) -> bool:
    """Whether `e` is `rt.pop(s)` of a stack no push has reached yet in this sweep (its element kind is not
    known: the pop is seen again in the next sweep, not given an unknown kind that no later push undoes)."""
    return (bool(unpushed) and type(e) is gast.Call and dotted_name(e.func) == "rt.pop" and len(e.args) == 1
            and isinstance(e.args[0], gast.Name) and e.args[0].id in unpushed)


def _empty_sum(n) -> bool:
    """`total = 0.0`, a sum's value where its loops run no iteration (annotations.SUM_EMPTY), not yet made zeros
    of its terms' rank."""
    return (isinstance(n, gast.Assign) and anno.get(n, anno.SUM_EMPTY) and isinstance(n.value, gast.Constant)
            and type(n.value.value) is float)

