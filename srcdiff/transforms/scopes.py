"""Reads of a local name before any assignment to it: declined at parse time.

Why: Python makes a name local to a function wherever the function binds it (an assignment, a loop target, an
augmented assignment, a nested def, `:=`), for the whole function; a read that no assignment can reach first
raises UnboundLocalError, even where a module-level name of that name exists. srcdiff's later passes resolve
names statement by statement (a global's value where no local is bound yet, a placeholder zero where a value is
bound on some paths only), so such a program was differentiated anyway: `y = x * SCALE` then `SCALE = 2.0` read
the global, or the local, where Python stops. A read is declined where the name is local and no path from the
function's start reaches it through an assignment (a forward may-assign analysis over the structured code: a
branch joins what its arms may bind, a loop's body and test see what its body may bind in an earlier iteration,
nothing is checked after a return, break or continue in the same block). Reads that some path reaches unbound
and another bound (a value set in a loop's first iteration, read in the next) stay as they are.
"""
from __future__ import annotations

import ast
import copy

import gast

from ..errors import fail
from .astutil import child_fields

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.GeneratorExp, gast.DictComp)


def check_unassigned_reads(unit) -> None:
    """Raise SrcdiffError at the first read of a local of `unit.node` that no assignment reaches (module docstring)."""
    fn = unit.node
    local = bound_in_scope(fn.body)
    if not local:
        return
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
    _Flow(unit, local - params).block(fn.body, set(params))


def bound_in_scope(stmts) -> set:
    """Names the statements bind in this scope (nested functions' and comprehensions' own names left out)."""
    out = set()
    for s in stmts:
        for n in walk_scope(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                out.add(n.id)
            elif isinstance(n, (gast.FunctionDef, gast.ClassDef)):
                out.add(n.name)
    return out


def walk_scope(node):
    """`node` and its descendants in this scope: a nested def's or lambda's body is left out (its name is bound
    here), and so are a comprehension's targets (bound in its own scope; a `:=` in it binds here). In
    gast.iter_child_nodes' order, depth first, but for contexts and operators (no names): one stack instead of
    a generator per node (the recursive form was most of the front end's check of a long function)."""
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        n = pop()
        yield n
        kind = type(n)
        if kind in _SCOPE_KINDS:
            extend(reversed(getattr(n, "decorator_list", []) + _defaults(n)))
            continue
        children = []
        for f in child_fields(kind):
            v = getattr(n, f, None)
            if type(v) is list:
                children.extend(x for x in v if isinstance(x, gast.AST))
            elif v is not None and isinstance(v, gast.AST):
                children.append(v)
        if kind is gast.comprehension:
            children = [c for c in children if c is not n.target]
        extend(reversed(children))


_SCOPE_KINDS = frozenset(_SCOPES)


def _defaults(node) -> list:
    args = getattr(node, "args", None)
    return list(args.defaults) + [d for d in args.kw_defaults if d is not None] if args is not None else []


class _Flow:
    def __init__(self, unit, local):
        self.unit, self.local = unit, local

    def block(self, stmts, may) -> set | None:
        """The names that may be bound after `stmts`, from `may` before them; None after a jump (unreachable)."""
        for s in stmts:
            if may is None:
                return None
            may = self.stmt(s, may)
        return may

    def stmt(self, s, may):
        if isinstance(s, gast.If):
            self.reads(s.test, may, s)
            may = may | bound_in_scope([s.test])
            arms = [self.block(s.body, set(may)), self.block(s.orelse, set(may))]
            reached = [a for a in arms if a is not None]
            return set().union(*reached) if reached else None
        if isinstance(s, (gast.For, gast.While)):
            if isinstance(s, gast.For):
                self.reads(s.iter, may, s)
            may = may | bound_in_scope([s.iter if isinstance(s, gast.For) else s.test])
            inside = may | bound_in_scope(s.body) | ({m.id for m in gast.walk(s.target) if isinstance(m, gast.Name)}
                                             if isinstance(s, gast.For) else set())
            if isinstance(s, gast.While):
                self.reads(s.test, inside, s)
            self.block(s.body, set(inside))
            after = self.block(s.orelse, set(inside))
            return inside if after is None else after | inside
        if isinstance(s, (gast.Return, gast.Break, gast.Continue, gast.Raise)):
            for e in gast.iter_child_nodes(s):
                self.reads(e, may, s)
            return None
        if isinstance(s, (gast.FunctionDef, gast.ClassDef)):
            for d in s.decorator_list + _defaults(s):
                self.reads(d, may, s)
            return may | {s.name}
        if isinstance(s, (gast.Try, gast.With)):     # (declined later; every name it binds may be bound after it)
            return may | bound_in_scope([s])
        bound = set()       # (what `s` binds: bound_in_scope([s]), noted by the walks of its parts)
        if isinstance(s, gast.AugAssign):
            self.reads(s.target, may, s, load_only=False, bound=bound)
        for e in gast.iter_child_nodes(s):
            self.reads(e, may, s, bound=bound)
        if type(s) in _SCOPE_KINDS:     # (an async def: what its body binds is not bound here)
            bound = bound_in_scope([s])
        may |= bound     # (in place: each block has its own set, copied where flow splits)
        return may

    def reads(self, e, may, s, load_only=True, bound=None):
        """Decline a read in `e` (evaluated with `may` bound) of a local no assignment has reached; the names
        `e` binds (stored or deleted) are added to `bound`, if given."""
        if e is None or not isinstance(e, gast.AST):
            return
        # (one walk: a comprehension's targets are its own from it on, a `:=`'s anywhere in `e` (its order:
        # walrus.py), checked once the walk is done)
        own, walrus, unreached = set(), set(), []
        for n in walk_scope(e):
            kind = type(n)
            if kind is gast.Name:
                if (isinstance(n.ctx, gast.Load) or not load_only) and n.id in self.local and n.id not in may \
                        and n.id not in own:
                    unreached.append(n)
                if bound is not None and isinstance(n.ctx, (gast.Store, gast.Del)):
                    bound.add(n.id)
            elif kind is gast.NamedExpr:
                walrus.add(n.target.id)
            elif isinstance(n, _COMPREHENSIONS):
                own |= {m.id for g in n.generators for m in gast.walk(g.target) if isinstance(m, gast.Name)}
                _decline_assignment_expressions(n, self.unit, s)
        for n in unreached:
            if n.id not in walrus:
                shadows = n.id in self.unit.namespace
                fail(n if hasattr(n, "lineno") else s, self.unit,
                     f"`{n.id}` is read here before any assignment to it: it is assigned in this function, so "
                     f"Python makes it local everywhere in the function and raises UnboundLocalError here"
                     + (f" (the module-level `{n.id}` is not read)" if shadows else ""),
                     "give the local variable another name" + (" (this line then reads the module-level one)"
                                                                 if shadows else ""))


def _decline_assignment_expressions(comp, unit, s) -> None:
    """`[t for v in xs if (t := v * v) > 0.1]`: Python binds `t` in the function (its last value stays after the
    comprehension); srcdiff writes a comprehension out as loops of its own, or as the list of its items over a tuple
    argument, and does not bind it there. Declined at the line, before any pass reads the comprehension (it was
    'a tuple/list argument used as a whole value' over a tuple argument)."""
    named = next((m for m in gast.walk(comp) if isinstance(m, gast.NamedExpr)), None)
    if named is None:
        return
    t = named.target.id
    fail(named if hasattr(named, "lineno") else s, unit,
         f"an assignment expression ({t} := ...) in a comprehension is not supported (Python binds `{t}` in the "
         "function, to the value of the last item computed)",
         f"compute the values first, in a comprehension of their own (`{t}s = [{_text(named.value)} for "
         f"{_text(comp.generators[0].target)} in {_text(comp.generators[0].iter)}]`), then read or filter them: "
         f"`[{t} for {t} in {t}s if ...]`")


def _text(e) -> str:
    return ast.unparse(gast.gast_to_ast(copy.deepcopy(e)))
