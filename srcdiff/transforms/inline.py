"""Inline calls to user functions (after ANF, before SSA).

The callee's normalised body is spliced in with its names made fresh in the caller, so its
forward values are computed once and its adjoint appears in the caller's backward sweep; the
statements remember the callee's file and name for the comments. Recursive calls and calls with
keyword arguments stay calls (they get a separate pullback function); the calls an inlined callee
keeps (of recursive functions) become calls of the caller's."""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import Namer, Transformer, assign, load, names_in, rewrite_blocks, walk

MAX_STATEMENTS = 400  # larger callees stay separate functions


def inline_calls(unit, callee_anf, stack=()):
    """Inline calls in the ANF unit `unit`; `callee_anf(obj)` gives a callee's inlined ANF unit (or None)."""
    namer = Namer(names_in(unit.node) | set(unit.bindings) | {"np", "rt", "math"})
    used_callees = set()

    def inline(s):
        if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name)
                and s.value.func.id in unit.callees):   # a call for its effect (`bump(buf, i, v)`): its value,
            name = s.value.func.id                        # None for a procedure, goes to a name nothing reads
            spliced = try_inline(gast.copy_location(assign(namer.fresh(f"{name}_value"), s.value, s.lineno), s))
            if spliced is None:     # (it would stay a call, of a name the gradient lacks)
                fail(s, unit, f"a call of your function `{name}` whose value is not used, which srcdiff cannot "
                              "inline (a recursive function, a call with keywords)", f"assign its value "
                     f"(`y = {name}(...)`); a function that writes into its argument can return it: "
                     f"`buf = {name}(buf, ...)`, with `return buf` at its end")
            return spliced
        spliced = try_inline(s)
        if spliced is None:
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and \
                    isinstance(s.value.func, gast.Name) and s.value.func.id in unit.callees:
                used_callees.add(s.value.func.id)
            return s
        return spliced

    def try_inline(s):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
                and isinstance(s.value.func, gast.Name) and s.value.func.id in unit.callees):
            return None
        call = s.value
        obj = unit.callees[call.func.id]
        if obj is None or call.keywords or id(obj) in stack:
            return None
        callee = callee_anf(obj, stack + (id(obj),))
        if callee is None:
            return None
        params = callee.params
        if len(params) != len(call.args):
            return None
        body = callee.node.body
        returned = body[-1].value if isinstance(body[-1], gast.Return) else None
        returns_tuple = isinstance(returned, gast.Tuple) or (isinstance(returned, gast.Name) and any(
            isinstance(n, gast.Assign) and isinstance(n.value, gast.Tuple) and isinstance(n.targets[0], gast.Name)
            and n.targets[0].id == returned.id for n in walk(callee.node)))
        if not returns_tuple and sum(1 for _ in walk(callee.node) if isinstance(_, gast.stmt)) > MAX_STATEMENTS:
            return None     # (a callee returning a tuple, e.g. a gradient, is inlined at any size: a separate
                            # pullback takes one value)
        ret = body[-1].value
        local = set(params) | {n.id for n in walk(callee.node)
                               if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        local |= {n.target.id for n in walk(callee.node) if isinstance(n, gast.For)}
        # free names of the callee (module constants) must not be shadowed by the caller's locals
        free = {n.id for n in walk(callee.node) if isinstance(n, gast.Name)} - local - {"np", "rt", "math"}
        stored = {n.id for n in walk(callee.node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        substitute = {p: a for p, a in zip(params, call.args) if p not in stored}  # read-only params: use the argument
        rename = {v: namer.fresh(v) for v in sorted(local - set(substitute))}
        for name in free & names_in(unit.node):
            if name in callee.bindings:
                alias = namer.fresh(name)
                unit.bindings[alias] = callee.bindings[name]
                rename[name] = alias
        for name in free:
            if name in callee.bindings and name not in rename:
                unit.bindings.setdefault(name, callee.bindings[name])
        for name in sorted(free & set(callee.callees)):   # calls the callee keeps (recursive ones) move along
            target = callee.callees[name]
            if unit.callees.get(name) is not target:
                rename[name] = namer.fresh(name)   # (the name itself where the caller has no such name)
            unit.callees[rename.get(name, name)] = target
            used_callees.add(rename.get(name, name))
        spliced = [_mark(assign(rename[p], copy.deepcopy(a), s.lineno), s, None, None)
                   for p, a in zip(params, call.args) if p not in substitute]
        for st in copy.deepcopy(body[:-1]):
            spliced.append(_mark(_substitute(_rename(st, rename), substitute), None, callee.filename, callee.name))
        ret = _substitute(_rename(copy.deepcopy(ret), rename), substitute)
        spliced.append(_mark(assign(s.targets[0].id, ret, s.lineno), s, None, None))
        return spliced

    unit.node.body = rewrite_blocks(unit.node.body, inline)
    unit.callees = {k: v for k, v in unit.callees.items() if k in used_callees}
    return unit


def _rename(node, mapping):
    """Rename the callee's locals, each Name once: the mapping chains where the callee's names are
    themselves fresh versions (k -> k2 and k2 -> k2v1 when the callee inlined a helper with a local k2),
    so a second visit (a loop's target was renamed again through its For) would bind k2v1 and read k2."""
    for n in {id(n): n for n in walk(node) if isinstance(n, gast.Name)}.values():
        if n.id in mapping:
            n.id = mapping[n.id]
    return node


def _substitute(node, atoms):
    """Replace loads of read-only parameters by the call's argument atoms."""
    class T(Transformer):
        def visit_Name(self, n):
            if n.id in atoms and isinstance(n.ctx, gast.Load):
                return copy.deepcopy(atoms[n.id])
            return n
    return T().visit(node)


def _mark(stmt, like, filename, func):
    """Record where an inlined statement came from (for the generated comments)."""
    for n in walk(stmt):
        if isinstance(n, gast.stmt):
            if filename is not None and not anno.has(n, anno.FILE):
                anno.set(anno.set(n, anno.FILE, filename), anno.FUNC, func)
            if like is not None and getattr(n, "lineno", None) is None:
                n.lineno = like.lineno
    return stmt


_ = load
