"""Desugar surface syntax into a small core (before name resolution): augmented assignment,
tuple unpacking and swaps, chained comparisons, sums over comprehensions, and `for` over
arrays/zip/enumerate/reversed become plain assignments and range loops.
"""
from __future__ import annotations

import copy

import gast
import numpy as np

from ..errors import fail
from . import annotations as anno
from . import chained_writes, fstrings, walrus
from .astutil import (Namer, Transformer, assign, const, copy_loc, dotted, load, map_blocks, store, substitute,
                      walk, walk_calls)
from .parse import Unit
from .ranges import range_length, range_runs, reversed_range
from .sum_calls import ITEMS, SumCalls, is_builtin, unit_locals
from .tuple_calls import splits_into_outputs

_UNSUPPORTED = {
    gast.Try: ("try/except", "move error handling outside the differentiated function"),
    gast.With: ("with", "move the context manager outside the differentiated function"),
    gast.Global: ("global", "pass the value in as an argument and return results"),
    gast.Nonlocal: ("nonlocal", "pass the value in as an argument and return results"),
    gast.ClassDef: ("class definition", "define classes outside; differentiate plain functions"),
    gast.Delete: ("del", "drop the del statement"),
    gast.Import: ("import inside the function", "import at module level"),
    gast.ImportFrom: ("import inside the function", "import at module level"),
    gast.Raise: ("raise", "check inputs before calling the differentiated function"),
    gast.AsyncFunctionDef: ("async def", "use a plain def"),
}


def _library_rule(unit, func) -> bool:
    """`func` names a library function of the rule table (np.exp, logsumexp: no effect but its value), not one
    of the user's, not a draw of np.random."""
    from ..rules.registry import rule_name_of
    parts = []
    while isinstance(func, gast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, gast.Name) or func.id in unit_locals(unit) or func.id not in unit.namespace:
        return False
    obj = unit.namespace[func.id]
    for p in reversed(parts):
        obj = getattr(obj, p, None)
    name = rule_name_of(obj) if obj is not None else None
    return name is not None and not name.startswith("np.random")


# -- statement desugaring -------------------------------------------------------------------------
class _Desugar:
    def __init__(self, unit: Unit):
        self.unit = unit
        names, comps, self.complex, assigns = [], [], False, []   # (in one walk of the function)
        for n in walk(unit.node):
            kind = type(n)
            if kind is gast.Name:
                names.append(n)
            elif kind is gast.Assign:
                assigns.append(n)
            elif kind in _COMPREHENSIONS:
                comps.append(n)
            elif kind is gast.Constant and isinstance(n.value, complex):
                self.complex = True   # (desugaring writes none: statements are checked only if the user's has one)
        self.namer = Namer({n.id for n in names})
        self.literals = _literal_sequences(assigns, names)
        self.assigns = assigns if any(type(c) is gast.ListComp for c in comps) else []
        inside = {id(n) for c in comps for n in walk(c)}
        self.outside = {n.id for n in names if id(n) not in inside}
        self.comp_targets = set()   # loop variables of the comprehension loops being desugared
        self.facts: dict = {}       # (chained_writes: the names certainly bound to ints and to arrays)
        self.chains = True          # the expressions `expr` is given may hold chained comparisons (see stmt)

    def block(self, stmts):
        out = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s):
        """The statements that replace `s`; a simple one (no block) walked once first (`_Held`): the rewrites
        of constructs it does not hold (chained comparisons, `:=`, comprehensions, sums) do not walk it."""
        if hasattr(s, "body"):
            return self._stmt(s, None)
        held = _Held(s)
        outer, self.chains = self.chains, held.chained
        try:
            return self._stmt(s, held)
        finally:
            self.chains = outer

    def _stmt(self, s, held):
        for kind, (what, advice) in _UNSUPPORTED.items():
            if isinstance(s, kind):
                fail(s, self.unit, f"{what} is not supported in differentiated code", advice)
        if isinstance(s, (gast.For, gast.While)) and s.orelse:     # (before its header's := and sums are moved)
            return self.block(self._else_as_flag(s))
        if held is None or held.chained:
            walrus.bind_chained_operands(s, self.namer)
        if (held is None or held.chained or held.named) and walrus.has_assignment_expression(s):
            return self.block(walrus.hoist(self.unit, s))
        if held is None or held.comprehension:
            self._extremes_of_comprehensions(s)
        loops, targets = self.hoist_sums(s) if held is None or held.sums else ([], set())
        if loops:
            outer, self.comp_targets = self.comp_targets, self.comp_targets | targets
            loops = self.block(loops)   # nested sums see this one's loop variables as taken
            self.comp_targets = outer
            return loops + self.stmt(s)
        if self.complex and not isinstance(s, gast.FunctionDef) and any(
                isinstance(n, gast.Constant) and isinstance(n.value, complex) for n in walk(s)):
            fail(s, self.unit, "complex numbers are not supported (srcdiff differentiates real functions)",
                 "write the function over real and imaginary parts as separate float arrays")
        if isinstance(s, gast.FunctionDef):
            fail(s, self.unit, "nested def could not be lifted")
        if isinstance(s, gast.Pass):
            return []
        if isinstance(s, gast.Expr):
            if isinstance(s.value, gast.Call):
                return [s]
            return []  # docstrings and bare expressions have no effect
        if isinstance(s, gast.AugAssign):
            target_load = copy.deepcopy(s.target)
            for n in walk(target_load):
                if hasattr(n, "ctx"):
                    n.ctx = gast.Load()
            value = copy_loc(gast.BinOp(left=target_load, op=s.op, right=s.value), s)
            rebound = copy_loc(assign(s.target, value, s.lineno), s)
            if isinstance(s.target, gast.Name):   # on an array, `a += v` writes a's memory (aliasing.check_views)
                anno.set(rebound, anno.IN_PLACE)
            return self.stmt(rebound)
        if isinstance(s, gast.AnnAssign):
            if s.value is None:
                return []
            return self.stmt(copy_loc(assign(s.target, s.value, s.lineno), s))
        if isinstance(s, gast.Assign):
            return self.assign(s)
        if isinstance(s, gast.For):
            return self.for_(s)
        if isinstance(s, gast.While):
            s.test = self.expr(s.test)
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, gast.If):
            s.test = self.expr(s.test)
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return [s]
        if isinstance(s, (gast.Return, gast.Assert)):
            for f in ("value", "test", "msg"):
                if getattr(s, f, None) is not None:
                    setattr(s, f, self.expr(getattr(s, f)))
            return [s]
        if isinstance(s, (gast.Break, gast.Continue)):
            return [s]
        fail(s, self.unit, f"{type(s).__name__} statements are not supported",
             "rewrite it with if/elif, for/while and assignments")

    def arrays_of_named_comprehensions(self):
        """Each `vals = [f(v) for v in x]` of the function made the array of its comprehension (_named_array), once,
        before any statement is desugared: desugaring detaches and copies blocks (a loop's else block, the bodies
        of a loop unrolled over a tuple), whose bindings and reads the whole function's tree would not show."""
        assigns = [s for s in self.assigns if len(s.targets) == 1   # (the function's, from the walk __init__ made)
                   and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.ListComp)]
        if assigns:
            parents = {id(c): p for p in walk(self.unit.node) for c in gast.iter_child_nodes(p)}
            for s in assigns:
                self._named_array(s, parents)

    def _named_array(self, s, parents):
        """`vals = [f(v) for v in x]` whose every read is converted (`np.array(vals)`, np.asarray, np.stack, also
        with axis=), counted (`len(vals)`) or summed (`sum(vals)`: np.sum(vals, axis=0)): `vals = np.array([f(v) for v in x])`, the array of a list
        comprehension (_fill), which those reads take as they took the list. Else the comprehension stays, and is
        declined (anf) as any other that is not summed or made an array."""
        name = s.targets[0].id
        module, conversions, sums = None, [], []
        for n in walk(self.unit.node):
            if not (isinstance(n, gast.Name) and n.id == name):
                continue
            if isinstance(n.ctx, gast.Store):
                if n is not s.targets[0]:
                    return      # bound again: a list of its own there
                continue
            call = parents.get(id(n))
            if not (isinstance(call, gast.Call) and call.args and call.args[0] is n and len(call.args) == 1):
                return
            if is_builtin(self.unit, call.func, "len") and not call.keywords:
                continue
            if is_builtin(self.unit, call.func, "sum") and not call.keywords:
                sums.append(call)       # (Python's sum of the items: np.sum of their array along its first axis)
                continue
            f = call.func
            if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.attr in ITEMS
                    and f.value.id not in unit_locals(self.unit) and self.unit.namespace.get(f.value.id) is np
                    and all(k.arg == "axis" for k in call.keywords) and (f.attr == "stack" or not call.keywords)):
                return
            module = f.value.id
            conversions.append(call)
        if module is None and sums:
            module = next((k for k, v in self.unit.namespace.items() if v is np and k not in unit_locals(self.unit)),
                          None)
        if module is None:
            return
        for call in sums:
            call.func = copy_loc(gast.Attribute(value=load(module), attr="sum", ctx=gast.Load()), call.func)
            call.keywords = [gast.keyword(arg="axis", value=const(0))]
        s.value = copy_loc(gast.Call(func=gast.Attribute(value=load(module), attr="array", ctx=gast.Load()),
                                     args=[s.value], keywords=[]), s.value)
        for call in conversions:     # each a copy of the array, as each made an array of its own of the list
            if call.keywords:        # np.stack(vals, axis=k): the rows' axis moved to k
                call.args = [copy_loc(gast.Call(func=gast.Attribute(value=load(module), attr="moveaxis",
                                                                    ctx=gast.Load()),
                                                args=[call.args[0], const(0), call.keywords[0].value], keywords=[]),
                                      call)]
                call.keywords = []
            call.func.attr = "array"

    def _extremes_of_comprehensions(self, s):
        """`max(f(v) for v in x)` (or min, of a generator expression or list comprehension, no key= or default=):
        `np.max(np.array([f(v) for v in x]))`, the array of the comprehension (_fill), whose largest item it is
        (ties share the derivative, as np.max's do). Where no name of the module is numpy, it stays (declined)."""
        module = next((k for k, v in self.unit.namespace.items() if v is np and k not in unit_locals(self.unit)), None)
        if module is None or not any(isinstance(n, gast.Call) and len(n.args) == 1 and not n.keywords
                                     and isinstance(n.args[0], (gast.GeneratorExp, gast.ListComp))
                                     and (is_builtin(self.unit, n.func, "max") or is_builtin(self.unit, n.func, "min"))
                                     for n in walk(s)):
            return
        unit = self.unit

        class Extremes(Transformer):
            def visit_Call(self, n):
                self.generic_visit(n)
                if not (len(n.args) == 1 and not n.keywords and isinstance(n.args[0], (gast.GeneratorExp, gast.ListComp))
                        and (is_builtin(unit, n.func, "max") or is_builtin(unit, n.func, "min"))):
                    return n
                comp = n.args[0]
                items = copy_loc(gast.ListComp(elt=comp.elt, generators=comp.generators), comp)
                array = copy_loc(gast.Call(func=gast.Attribute(value=load(module), attr="array", ctx=gast.Load()),
                                           args=[items], keywords=[]), n)
                return copy_loc(gast.Call(func=gast.Attribute(value=load(module), attr=n.func.id, ctx=gast.Load()),
                                          args=[array], keywords=[]), n)
        Extremes().visit(s)

    # sum(f(i) for i in ...) and sum([...]): a loop that accumulates, before the statement
    _HOISTABLE = {gast.Assign: ("value",), gast.AugAssign: ("value",), gast.AnnAssign: ("value",),
                  gast.Return: ("value",), gast.Expr: ("value",), gast.If: ("test",), gast.Assert: ("test",),
                  gast.For: ("iter",)}

    def hoist_sums(self, s) -> list:
        """Replace each sum over a comprehension in statement `s` by a fresh name and return the loops
        that compute those names (nested sums stay in the loop bodies, desugared in their turn). A
        conditional expression or and/or around such a sum becomes if statements before `s` that assign
        its value to a fresh name (so the sum is computed only on its own path)."""
        found = []      # in source order: (name, comprehension) or (None, statements)
        base = s.targets[0].id if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else "total"
        if isinstance(s, gast.While):
            SumCalls(self.unit, self.namer, base, found,
                  "a while condition (it is evaluated again on every iteration)").visit(s.test)
        for field in self._HOISTABLE.get(type(s), ()):
            if getattr(s, field, None) is not None:
                setattr(s, field, SumCalls(self.unit, self.namer, base, found).visit(getattr(s, field)))
        if isinstance(s, (gast.Assign, gast.AugAssign)):   # the index of a written element: buf[sum(...) > 0] += v
            for t in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                if isinstance(t, gast.Subscript):
                    t.slice = SumCalls(self.unit, self.namer, base, found).visit(t.slice)
        loops, targets = [], set()
        for name, comp in found:
            if name is None:
                loops += comp
            elif isinstance(comp, tuple):   # ("items", comprehension): np.array([... for ...])
                loops += self._fill(name, comp[1], s, targets)
            else:
                loops += self._accumulate(name, comp, s, targets)
        return loops, targets

    def _accumulate(self, name, comp, s, targets) -> list:
        """`name = 0.0` then nested loops (one per `for` clause, `if` clauses as ifs) adding comp.elt;
        the loop variables go into `targets`."""
        rename, clauses = self._clauses(comp, name, targets)
        hoisted = self._name_sequences(clauses, s)
        elt = gast.BinOp(left=load(name), op=gast.Add(), right=substitute(comp.elt, rename))
        body = self._loops(clauses, [copy_loc(assign(name, elt, s.lineno), s)], s)
        value, nonempty = self._start(clauses, substitute(comp.elt, rename))
        start = copy_loc(assign(name, value, s.lineno), s)
        # checks.check_numba: a sum of arrays whose start is (or is made) 0.0 does not compile under Numba
        body_term = [n for n in walk(body[0]) if isinstance(n, gast.Assign) and n.targets[0].id == name
                     and isinstance(n.value, gast.BinOp)][0]
        anno.set(body_term, anno.SUM_TERM)
        anno.set(body_term, anno.SUM_START, start)
        if nonempty is not None:   # the first term is computed only where the loop runs (Python's sum is 0 else)
            zero = anno.set(copy_loc(assign(name, const(0.0), s.lineno), s), anno.SUM_EMPTY)
            start = copy_loc(gast.If(test=nonempty, body=[start], orelse=[zero]), s)
        return hoisted + [start] + body

    def _clauses(self, comp, name, targets):
        """({comprehension variable: its name in the loops}, [(target, iterable, if-tests)] per `for` clause);
        the loop variables go into `targets`."""
        rename, clauses = {}, []
        for gen in comp.generators:
            if getattr(gen, "is_async", 0):
                fail(comp, self.unit, "async comprehensions are not supported")
            it = substitute(gen.iter, dict(rename))   # a clause's iterable sees the earlier clauses' names
            for t in walk(gen.target):   # comprehension variables do not leak: fresh names on a clash
                if isinstance(t, gast.Name):
                    clash = t.id in self.outside or t.id in self.comp_targets or t.id == name
                    rename[t.id] = self.namer.fresh(t.id) if clash else t.id
                    targets.add(rename[t.id])
            target = substitute(gen.target, dict(rename))
            for t in walk(target):
                if hasattr(t, "ctx"):
                    t.ctx = gast.Store()
            clauses.append((target, it, [substitute(c, dict(rename)) for c in gen.ifs]))
        return rename, clauses

    @staticmethod
    def _loops(clauses, body, s) -> list:
        """`body` inside one loop per clause (its `if` tests as ifs), outermost first."""
        for target, it, conds in reversed(clauses):
            for cond in reversed(conds):
                body = [copy_loc(gast.If(test=cond, body=body, orelse=[]), s)]
            body = [copy_loc(gast.For(target=copy.deepcopy(target), iter=copy.deepcopy(it), body=body, orelse=[],
                                      type_comment=None), s)]
        return body

    def _fill(self, name, comp, s, targets) -> list:
        """np.array([elt for ...]) as loops: one counts the items and keeps the first (for the shape and dtype
        of the array, rt.stack_zeros: unread where there is none), one writes each item into its row. The
        iterables are evaluated twice (a computed one once, before both: _name_sequences), as pure
        expressions may be; the first item too (an extra evaluation, of no derivative)."""
        rename, clauses = self._clauses(comp, name, targets)
        hoisted = self._name_sequences(clauses, s)
        n, k, first = (self.namer.fresh(f"{name}_{x}") for x in ("n", "k", "first"))
        line = s.lineno

        def step(counter):
            return copy_loc(assign(counter, gast.BinOp(left=load(counter), op=gast.Add(), right=const(1)), line), s)
        is_first = gast.Compare(left=load(n), ops=[gast.Eq()], comparators=[const(0)])
        keep = copy_loc(gast.If(test=is_first, body=[copy_loc(assign(first, substitute(comp.elt, rename), line), s)],
                                orelse=[]), s)
        make = gast.Call(func=dotted("rt.stack_zeros"), args=[load(n), load(first)], keywords=[])
        anno.set(make, anno.MADE)   # (resolve leaves the rt. name as it is)
        row = gast.Subscript(value=load(name), slice=load(k), ctx=gast.Store())
        fill = [copy_loc(assign(row, substitute(comp.elt, rename), line), s), step(k)]
        return (hoisted + [copy_loc(assign(n, const(0), line), s)] + self._loops(clauses, [keep, step(n)], s)
                + [copy_loc(assign(name, make, line), s), copy_loc(assign(k, const(0), line), s)]
                + self._loops(clauses, fill, s))

    def _name_sequences(self, clauses, s) -> list:
        """`seq = <iterable>` for the first clause's iterable that is computed (`np.where(...)`, also as an
        argument of zip or enumerate), which then iterates over `seq`: its first item can be written down
        (`seq[0]`), so that the sum starts from zeros shaped like its first term, not 0.0 (an array under
        Numba: fuzz seed 601160, zip(np.where(...), p0[0])). Evaluated once, before the start, as Python
        evaluates it once before the loop."""
        target, it, conds = clauses[0]
        def computed(e):
            return isinstance(e, gast.Call) and not any(is_builtin(self.unit, e.func, b)   # (not a lazy iterable)
                                                        for b in ("range", "zip", "enumerate", "reversed"))
        if not isinstance(it, gast.Call) or not any(is_builtin(self.unit, it.func, b) for b in ("zip", "enumerate")):
            parts = [it] if computed(it) else []
        else:
            parts = [a for a in it.args[:None if is_builtin(self.unit, it.func, "zip") else 1] if computed(a)]
        out, names = [], {}
        for a in parts:
            seq = self.namer.fresh("seq")
            out.append(copy_loc(assign(seq, a, s.lineno), s))
            names[id(a)] = seq
        if it in parts:
            clauses[0] = (target, load(names[id(it)]), conds)
        elif parts:
            it.args = [load(names[id(a)]) if id(a) in names else a for a in it.args]
        return out

    def _start(self, clauses, elt):
        """(what a sum starts from, the test that its loops run at least once, or None). The start is zeros
        shaped like its first term, `rt.zeros_like(elt)` with the loop variables at their first values (also
        through zip and enumerate), on the path where the loops run (so that a sum of arrays stays an array
        under Numba; where the term is a scalar the compiler makes it 0.0 again, and where the loops do not run
        0.0 is zeros of the term's rank, once kinds are known: kind_rewrites.sum_starts), or 0.0 where the
        first values cannot be written down (a tuple target over the rows of an array)."""
        first, tests = {}, []
        for target, it, _ in clauses:
            if not self._first_items(target, substitute(it, first), first, tests):
                return const(0.0), None
        # a comprehension in the term (an inner sum) is desugared in the start statement in its turn (its
        # own loop before it); its loop variables, and a lambda's parameters, must not be ones given first
        # values here (substitute does not know scopes)
        inner = {t.id for n in walk(elt) if isinstance(n, (gast.GeneratorExp, gast.ListComp))
                 for g in n.generators for t in walk(g.target) if isinstance(t, gast.Name)}
        inner |= {a.id for n in walk(elt) if isinstance(n, gast.Lambda) for a in walk(n.args) if isinstance(a, gast.Name)}
        if inner & set(first):
            return const(0.0), None
        start = gast.Call(func=dotted("rt.zeros_like"), args=[substitute(elt, first)], keywords=[])
        anno.set(start, anno.MADE)   # (resolve leaves the rt. name as it is)
        tests = [copy.deepcopy(t) for t in tests]
        return start, tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)

    def _first_items(self, target, it, first, tests) -> bool:
        """Note in `first` the values a comprehension clause binds on its first iteration, and in `tests`
        that it has one; False where they cannot be written down (a tuple target over a sequence)."""
        if isinstance(target, gast.Name) and isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "range") \
                and not it.keywords and 1 <= len(it.args) <= 3:
            first[target.id] = it.args[0] if len(it.args) > 1 else const(0)
            tests.append(range_runs(it.args))
            return True
        if isinstance(target, gast.Name) and (isinstance(it, (gast.Name, gast.Attribute, gast.Subscript)) or (
                isinstance(it, (gast.Call, gast.BinOp, gast.UnaryOp))
                and all(_library_rule(self.unit, c.func) for c in walk_calls(it)))):
            # (a sequence computed by an expression without effects, `zip(logsumexp(m, axis=0), v)`: written
            # again for the first item, as the start's term reads it)
            first[target.id] = gast.Subscript(value=it, slice=const(0), ctx=gast.Load())   # a sequence's first item
            tests.append(gast.Compare(left=const(0), ops=[gast.Lt()],
                                      comparators=[gast.Call(func=load("len"), args=[it], keywords=[])]))
            return True
        if not (isinstance(target, gast.Tuple) and isinstance(it, gast.Call)):
            return False
        starts = it.args[1:] + [kw.value for kw in it.keywords if kw.arg == "start"]
        if (is_builtin(self.unit, it.func, "enumerate") and len(target.elts) == 2 and 1 <= len(it.args) <= 2
                and len(it.args) + len(it.keywords) <= 2 and all(kw.arg == "start" for kw in it.keywords)
                and isinstance(target.elts[0], gast.Name)):
            first[target.elts[0].id] = copy.deepcopy(starts[0]) if starts else const(0)
            return self._first_items(target.elts[1], it.args[0], first, tests)
        if is_builtin(self.unit, it.func, "zip") and len(target.elts) == len(it.args) and not it.keywords:
            return all(self._first_items(t, a, first, tests) for t, a in zip(target.elts, it.args))
        return False

    def assign(self, s):
        s.value = self.expr(s.value)
        if len(s.targets) > 1:  # a = b = expr
            first, rest = s.targets[0], s.targets[1:]
            out = self.assign(copy_loc(assign(first, s.value, s.lineno), s))
            src = first if isinstance(first, gast.Name) else None
            for t in rest:
                val = load(src.id) if src is not None else copy.deepcopy(s.value)
                out += self.assign(copy_loc(assign(t, val, s.lineno), s))
            return out
        target = s.targets[0]
        if isinstance(target, (gast.Tuple, gast.List)):
            return self.unpack(target, s.value, s)
        if isinstance(target, gast.Subscript):
            target = s.targets[0] = chained_writes.merged_index(self.unit, target, self.facts)
            target.slice = self.expr(target.slice)
            target.value = self.expr(target.value)
        return [s]

    def unpack(self, target, value, s):
        n = len(target.elts)
        if any(isinstance(e, gast.Starred) for e in target.elts):
            fail(s, self.unit, "starred assignment is not supported",
                 "unpack into a fixed number of names, or index/slice the value (x[0], x[1:])")
        if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == n:
            temps = [self.namer.fresh(_base(e)) for e in target.elts]
            out = [copy_loc(assign(t, v, s.lineno), s) for t, v in zip(temps, value.elts)]
            for e, t in zip(target.elts, temps):
                out += self.assign(copy_loc(assign(e, load(t), s.lineno), s))
            return out
        if isinstance(value, gast.Call) and splits_into_outputs(self.unit, value):
            # sign, logdet = np.linalg.slogdet(a); w, V = np.linalg.eigh(a); U, s, Vh = np.linalg.svd(a, ...):
            # one indexed call per output, which canonicalize turns into a single-output primitive each
            # (a matrix given as an expression is computed once, before them)
            out = []
            if value.args and not isinstance(value.args[0], gast.Name):
                tmp = self.namer.fresh("_".join(_base(e) for e in target.elts) + "_of")
                out = self.assign(copy_loc(assign(tmp, value.args[0], s.lineno), s))
                value.args[0] = load(tmp)
            return out + [x for k, e in enumerate(target.elts)
                          for x in self.assign(copy_loc(assign(e, gast.Subscript(
                              value=copy.deepcopy(value), slice=const(k), ctx=gast.Load()), s.lineno), s))]
        tmp = self.namer.fresh("_".join(_base(e) for e in target.elts))
        out = [copy_loc(assign(tmp, value, s.lineno), s)]
        for k, e in enumerate(target.elts):
            item = copy_loc(gast.Subscript(value=load(tmp), slice=const(k), ctx=gast.Load()), s)
            out += self.assign(copy_loc(assign(e, item, s.lineno), s))
        return out

    def _else_as_flag(self, loop) -> list:
        """`for ...: ... break ... else: E` (or while): a flag the loop's own breaks set, and `if not flag: E`
        after the loop, as Python runs E when the loop ends without a break. A loop with no break of its own
        runs E unguarded after it, so an E that returns ends the function on every path (the structure pass
        then sees a function that ends in a return, as Python does)."""
        flag = self.namer.fresh("broke")
        line = loop.lineno
        breaks = []

        def mark(stmts):
            out = []
            for st in stmts:
                if isinstance(st, gast.Break):
                    breaks.append(st)
                    out += [copy_loc(assign(flag, const(True), st.lineno), st), st]
                    continue
                if not isinstance(st, (gast.For, gast.While, gast.FunctionDef)):   # (their breaks are their own)
                    map_blocks(st, mark)
                elif st.orelse:      # (a nested loop's else belongs to this loop)
                    st.orelse = mark(st.orelse)
                out.append(st)
            return out
        loop.body, orelse, loop.orelse = mark(loop.body), loop.orelse, []
        if not breaks:
            return [loop] + orelse
        after = copy_loc(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(flag)), body=orelse, orelse=[]), loop)
        return [copy_loc(assign(flag, const(False), line), loop), loop, after]

    def for_(self, s):
        it = s.iter
        rebound = _rebound_names(s.body + [s.target])
        if self._unrolled_length(it) is not None:
            return self.unroll(s, rebound)
        if (isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "reversed") and len(it.args) == 1
                and not it.keywords and self._unrolled_length(it.args[0]) is not None):
            s.iter = it.args[0]         # `for w in reversed((w0, w1))`: unrolled, the last item first
            return self.unroll(s, rebound, backwards=True)
        body = self.block(s.body)
        tgt = s.target
        pre = []
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "range"):
            if not isinstance(tgt, gast.Name):
                fail(s, self.unit, "range loop with a non-name target")
            s.iter = self.expr(it)
            s.iter.args = self._read_once(s.iter.args, s, pre, rebound | _aug_targets(s.body))
            s.body = body
            return pre + [s]
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "reversed") and len(it.args) == 1 \
                and isinstance(it.args[0], gast.Call) and is_builtin(self.unit, it.args[0].func, "range"):
            args = self._read_once([self.expr(a) for a in it.args[0].args], s, pre, rebound | _aug_targets(s.body))
            s.iter = copy_loc(gast.Call(func=load("range"), args=reversed_range(args), keywords=[]), s)
            s.body = body
            return pre + [s]
        k = self.namer.fresh("k")
        if (isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "enumerate") and len(it.args) == 1
                and not it.keywords and isinstance(tgt, gast.Tuple) and len(tgt.elts) == 2
                and isinstance(tgt.elts[0], gast.Name)):
            k = tgt.elts[0].id      # `for i, v in enumerate(xs)`: the loop runs over i itself
        pre = []
        binds, n = self._iteration(tgt, it, k, pre, s, rebound)
        binds = [(t, v) for t, v in binds if not (isinstance(t, gast.Name) and t.id == k)]
        head = []
        for t, value in binds:
            head += self.assign(copy_loc(assign(t, copy_loc(value, s), s.lineno), s))
        loop = copy_loc(gast.For(target=store(k), iter=gast.Call(func=load("range"), args=[n], keywords=[]),
                                 body=head + body, orelse=[], type_comment=None), s)
        return pre + [loop]

    def _read_once(self, args, s, pre, rebound):
        """range's arguments, each one that reads a name the loop binds (`for i in range(n): n -= 1`) read
        through a name of its own bound before the loop (in `pre`): Python reads them once, before the first
        iteration, and the derivative's passes read the loop's bounds again after it."""
        out = []
        for a in args:
            if any(isinstance(n, gast.Name) and n.id in rebound for n in walk(a)):
                name = self.namer.fresh("bound")
                pre.append(copy_loc(assign(name, a, s.lineno), s))
                a = load(name)
            out.append(a)
        return out

    def _unrolled_length(self, it):
        """The length of a loop's iterable that is unrolled: a tuple or list literal with an item that is not a
        constant (`(w0, w1)`, `((w0, b0), (w1, b1))`: items of different shapes, which no array holds) or is a
        string (`for spec in ("ij->i", "ij->j"): np.einsum(spec, A)`: each item a literal where the body reads
        it), or a name the function binds once, to one; else None (a loop over numbers stays a loop)."""
        it = self._literal(it)
        if it is None or not 0 < len(it.elts) <= UNROLL_MAX:
            return None
        return len(it.elts) if any(not isinstance(e, gast.Constant) or isinstance(e.value, str)
                                   for e in it.elts) else None

    def _literal(self, it):
        """The tuple or list literal `it` is (or a name bound once to one is), else None."""
        if isinstance(it, gast.Name):
            it = self.literals.get(it.id)
        return it if isinstance(it, (gast.Tuple, gast.List)) else None

    def unroll(self, s, rebound, backwards=False):
        """`for w, b in layers` over a literal: the body once per item, after `w, b = layers[j]` (indexed with
        constants, which the tuples pass splits into one name per item, so each item keeps its own shape and
        its own adjoint)."""
        if _exits(s.body):
            fail(s, self.unit, "break/continue in a loop over a tuple or list literal",
                 "use a flag variable, or loop over range(len(...)) of an array")
        it, pre = s.iter, []
        literal = self._literal(it)
        constants = all(isinstance(e, gast.Constant) for e in literal.elts)
        if constants:       # (strings: each item is read as the literal it is, the tuple is never made)
            seq = None
        elif isinstance(it, gast.Name) and it.id not in rebound:
            seq = it.id
        else:
            seq = self.namer.fresh("seq")
            pre.append(copy_loc(assign(seq, self.expr(it), s.lineno), s))
        out = pre
        n = self._unrolled_length(it)
        for j in (reversed(range(n)) if backwards else range(n)):
            body = copy.deepcopy(s.body)
            if constants:
                item = copy.deepcopy(literal.elts[j])
                if isinstance(s.target, gast.Name) and s.target.id not in _rebound_names(s.body):
                    body = substitute(body, {s.target.id: item})    # (np.einsum(spec, A): a literal there)
            else:
                item = copy_loc(gast.Subscript(value=load(seq), slice=const(j), ctx=gast.Load()), s)
            out += self.assign(copy_loc(assign(copy.deepcopy(s.target), item, s.lineno), s))
            out += self.block(body)
        return out

    def _iteration(self, tgt, it, k, pre, s, rebound):
        """What a loop over `it` binds at position `k`: (target, value) pairs, and the trip count.
        `enumerate` (with a start) and `zip` nest in each other, as their targets do
        (`for i, (a, b) in enumerate(zip(xs, ys), 1)`); anything else is a sequence indexed at k."""
        width = (2 if is_builtin(self.unit, it.func, "enumerate") else len(it.args) if is_builtin(
            self.unit, it.func, "zip") else 0) if isinstance(it, gast.Call) and it.args else 0
        if isinstance(tgt, gast.Name) and width:    # `for pair in zip(xs, ys)`: the item is a tuple
            parts = [self.namer.fresh(tgt.id) for _ in range(width)]
            binds, n = self._iteration(gast.Tuple(elts=[store(p) for p in parts], ctx=gast.Store()), it, k,
                                       pre, s, rebound)
            return binds + [(tgt, gast.Tuple(elts=[load(p) for p in parts], ctx=gast.Load()))], n
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "enumerate"):
            starts = it.args[1:] + [kw.value for kw in it.keywords if kw.arg == "start"]
            if not 1 <= len(it.args) <= 2 or len(starts) > 1 or any(kw.arg != "start" for kw in it.keywords):
                fail(s, self.unit, "enumerate with arguments other than an iterable and a start",
                     "write `enumerate(xs)` or `enumerate(xs, start)`")
            if not (isinstance(tgt, gast.Tuple) and len(tgt.elts) == 2):
                fail(s, self.unit, "an enumerate loop that does not unpack (index, item)",
                     "write `for i, v in enumerate(xs)`")
            index = load(k)
            if starts:
                start = self.expr(starts[0])
                if not isinstance(start, gast.Constant):   # Python reads the start once, before the loop
                    name = self.namer.fresh("start")
                    pre.append(copy_loc(assign(name, start, s.lineno), s))
                    start = load(name)
                index = gast.BinOp(left=load(k), op=gast.Add(), right=start)
            binds, n = self._iteration(tgt.elts[1], it.args[0], k, pre, s, rebound)
            return [(tgt.elts[0], index)] + binds, n
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "zip"):
            if (not (isinstance(tgt, gast.Tuple) and len(tgt.elts) == len(it.args)) or it.keywords
                    or not it.args):
                fail(s, self.unit, "a zip loop that does not unpack one name per sequence",
                     "write `for a, b in zip(xs, ys)`, one target per sequence")
            binds, n = [], None
            for t, a in zip(tgt.elts, it.args):
                more, m = self._iteration(t, a, k, pre, s, rebound)
                binds += more
                n = m if n is None else gast.Call(func=load("min"), args=[n, m], keywords=[])
            return binds, n
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "reversed") and len(it.args) == 1 \
                and not it.keywords:   # zip(reversed(xs), ys): xs[::-1]; reversed(range(...)): a range
            inner = it.args[0]
            if (isinstance(inner, gast.Call) and is_builtin(self.unit, inner.func, "range") and not inner.keywords
                    and 1 <= len(inner.args) <= 3):
                back = gast.Call(func=load("range"), args=reversed_range(inner.args), keywords=[])
            else:
                back = gast.Subscript(value=inner, slice=gast.Slice(lower=None, upper=None, step=const(-1)),
                                      ctx=gast.Load())
            return self._iteration(tgt, copy_loc(back, it), k, pre, s, rebound)
        if (isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "range") and not it.keywords
                and 1 <= len(it.args) <= 3):   # zip(range(n), xs): the item is a number, not an element
            return [(tgt, self._range_item(it, k, pre, s, rebound | _aug_targets(s.body)))], range_length(it)
        seq, n = self._seq(it, pre, s, rebound)
        return [(tgt, gast.Subscript(value=load(seq), slice=load(k), ctx=gast.Load()))], n

    def _range_item(self, it, k, pre, s, rebound):
        """range(lo, hi, step)'s item at position k: lo + k * step. Python reads the bounds once, before
        the loop: one the body rebinds is read through a name of its own."""
        args = [self.expr(a) for a in it.args]
        for j, a in enumerate(args):
            if not isinstance(a, gast.Constant) and not (isinstance(a, gast.Name) and a.id not in rebound):
                name = self.namer.fresh("bound")
                pre.append(copy_loc(assign(name, a, s.lineno), s))
                args[j] = load(name)
        it.args = args
        item = load(k)
        if len(args) == 3:
            item = gast.BinOp(left=item, op=gast.Mult(), right=copy.deepcopy(args[2]))
        if len(args) >= 2:
            item = gast.BinOp(left=copy.deepcopy(args[0]), op=gast.Add(), right=item)
        return item

    def _seq(self, expr, pre, s, rebound):
        """The name the loop indexes and its length. Python iterates over the object the iterable was
        when the loop began, so a name the body binds again (`for e in a: a = a * e`) is read through a
        name of its own, bound before the loop."""
        expr = self.expr(expr)
        if isinstance(expr, gast.Name) and expr.id not in rebound:
            name = expr.id
        else:
            name = self.namer.fresh("seq")
            copied = copy_loc(assign(name, expr, s.lineno), s)
            anno.set(copied, anno.LOOP_COPY, expr.id if isinstance(expr, gast.Name) else "the loop's iterable")
            pre.append(copied)
        return name, gast.Call(func=load("len"), args=[load(name)], keywords=[])

    def expr(self, e):
        return _Chains().visit(e) if self.chains else e


class _Held:
    """What a simple statement holds, in one walk: a chained comparison (`chained`), an assignment expression
    (`named`), a comprehension or a name `sum` (`sums`: what SumCalls may rewrite)."""

    def __init__(self, s):
        self.chained = self.named = self.comprehension = self.sums = False
        for n in walk(s):
            kind = type(n)
            if kind is gast.Name:
                self.sums = self.sums or n.id == "sum"
            elif kind is gast.Compare:
                self.chained = self.chained or len(n.ops) > 1
            elif kind is gast.NamedExpr:
                self.named = True
            elif kind in _COMPREHENSIONS:   # (max(... for ...) becomes an array of a list comprehension)
                self.comprehension = self.sums = True


class _Chains(Transformer):
    """a < b < c -> a < b and b < c"""
    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1:
            return node
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators):
            parts.append(copy_loc(gast.Compare(left=copy.deepcopy(left), ops=[op], comparators=[right]), node))
            left = right
        return copy_loc(gast.BoolOp(op=gast.And(), values=parts), node)


_COMPREHENSIONS = (gast.GeneratorExp, gast.ListComp, gast.SetComp, gast.DictComp)


UNROLL_MAX = 16      # a loop over a longer literal stays a loop


def _exits(stmts) -> bool:
    """Whether `stmts` hold a `break` or `continue` of their own loop (not one of a loop inside them)."""
    for s in stmts:
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, gast.If) and (_exits(s.body) or _exits(s.orelse)):
            return True
    return False


def _literal_sequences(assigns, names) -> dict:
    """{name: its tuple or list literal} for the names a function binds once (`names`: every Name node of it), to
    a literal, by a plain assignment (`assigns`: its assignments, in the order walk meets them)."""
    stores: dict = {}
    for n in names:
        if not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    out = {}
    for s in assigns:
        if (len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, (gast.Tuple, gast.List)) and stores.get(s.targets[0].id) == 1):
            out[s.targets[0].id] = s.value
    return out


def _rebound_names(stmts) -> set:
    """Names a loop's target or body binds with `=` (or as a loop target). An augmented assignment is left out: on an
    array it writes in place, and a loop over that array sees the new contents, as it does when the loop
    reads the name."""
    aug = {id(n.target) for s in stmts for n in walk(s) if isinstance(n, gast.AugAssign)}
    return {n.id for s in stmts for n in walk(s)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in aug}


def _aug_targets(stmts) -> set:
    """Names an augmented assignment in `stmts` binds (`n -= 1`; on an int, a new value)."""
    return {n.target.id for s in stmts for n in walk(s) if isinstance(n, gast.AugAssign)
            and isinstance(n.target, gast.Name)}


def _base(e):
    return e.id if isinstance(e, gast.Name) else "item"


def zero_sum_starts(node):
    """A sum's start where no specialisation tells scalar terms from array ones (forward mode without
    argument kinds, callees' primal functions): where its loops may not run, back to 0.0 (the first term
    is not evaluated at all); where they always run, `rt.zeros_like(first term)` stays (0.0 for a scalar,
    zeros for an array: the type Numba needs, a sum of arrays being an array). Returns `node`."""
    class Zero(gast.NodeTransformer):
        def visit_If(self, s):   # `if <the loops run>: total = rt.zeros_like(...) / else: total = 0.0`
            if (len(s.body) == 1 and isinstance(s.body[0], gast.Assign) and len(s.orelse) == 1
                    and anno.get(s.body[0].value, anno.MADE)):
                return s.orelse[0]
            self.generic_visit(s)
            return s
    return Zero().visit(node)


def desugar(unit: Unit) -> Unit:
    fstrings.to_format_calls(unit)
    pass_ = _Desugar(unit)
    pass_.arrays_of_named_comprehensions()
    unit.node.body = pass_.block(unit.node.body)
    return unit
