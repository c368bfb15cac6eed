"""Comprehensions desugared into loops (the desugar pass's, before name resolution): a sum over a comprehension
(`sum(f(v) for v in x)`, `sum([...])`) becomes a loop that accumulates before its statement, starting from zeros
shaped like its first term; `np.array([f(v) for v in x])` a loop that counts the items and one that fills the rows;
`max(... for ...)` / `min` np.max / np.min of such an array; a list comprehension whose every read converts it
(`vals = [...]`, then `np.array(vals)`, `len(vals)`, `sum(vals)`) that array.

Why apart from desugar.py: how a comprehension's clauses become nested loops, what its sum starts from and how the
first item of each clause is written down is one subject, with its own fuzz history, that the statement-by-statement
rewrites of desugar.py only call into (hoist_sums, extremes_of_comprehensions, arrays_of_named_comprehensions). It is
a mixin of desugar's pass class, which gives it `unit`, `namer`, `outside` (names read outside comprehensions),
`comp_targets`, `assigns` (the function's assignments where it has a list comprehension) and `block`.
"""
from __future__ import annotations

import copy

import gast
import numpy as np

from ..errors import fail
from . import annotations as anno
from .astutil import Transformer, assign, const, copy_loc, dotted, load, substitute, walk, walk_calls
from .ranges import range_runs
from .sum_calls import ITEMS, SumCalls, is_builtin, unit_locals


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


class ComprehensionLoops:
    """The comprehension rewrites of desugar's pass class (a mixin: see the module docstring)."""

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
            if not (isinstance(call, gast.Call) and call.args and call.args[0] is n):
                return
            if (is_builtin(self.unit, call.func, "sum") and len(call.args) + len(call.keywords) <= 2
                    and all(k.arg == "start" for k in call.keywords)):
                sums.append(call)       # (Python's sum of the items: np.sum of their array along its first axis)
                continue
            if len(call.args) != 1:
                return
            if is_builtin(self.unit, call.func, "len") and not call.keywords:
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
            # sum(vals, start) (or start=): the start plus np.sum of the array, whose value is Python's sum's
            # (the start, where the list is empty) and whose derivative is the same
            start = call.args[1] if len(call.args) > 1 else call.keywords[0].value if call.keywords else None
            call.args = call.args[:1]
            call.func = copy_loc(gast.Attribute(value=load(module), attr="sum", ctx=gast.Load()), call.func)
            call.keywords = [gast.keyword(arg="axis", value=const(0))]
            if start is not None:
                total = copy_loc(gast.Call(func=call.func, args=call.args, keywords=call.keywords), call)
                call.func = copy_loc(gast.Attribute(value=load(module), attr="add", ctx=gast.Load()), call)
                call.args, call.keywords = [start, total], []
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

    def extremes_of_comprehensions(self, s):
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
        argument of zip or enumerate, nested too, `enumerate(zip(...))`), which then iterates over `seq`: its
        first item can be written down (`seq[0]`), so that the sum starts from zeros shaped like its first term,
        not 0.0 (an array under Numba: fuzz seed 601160, zip(np.where(...), p0[0])); an arithmetic expression
        too, which may call a method the start could not write again (`enumerate(zip(p0[0].astype(int) * p0[1],
        p0[0]))`: fuzz seed 1060038 under Numba, 'Cannot unify float64 and array'). Evaluated once, before the
        start, as Python evaluates it once before the loop."""
        target, it, conds = clauses[0]
        out = []

        def lazy(e, *names):
            return isinstance(e, gast.Call) and any(is_builtin(self.unit, e.func, b) for b in names)

        def named(e):
            """e, or a load of the name a computed e is bound to first; zip's and enumerate's in turn."""
            if lazy(e, "zip", "enumerate"):
                k = None if lazy(e, "zip") else 1
                e.args = [named(a) for a in e.args[:k]] + e.args[len(e.args[:k]):]
                return e
            if not (isinstance(e, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.IfExp))
                    or (isinstance(e, gast.Call) and not lazy(e, "range", "reversed"))):
                return e
            seq = self.namer.fresh("seq")
            out.append(copy_loc(assign(seq, e, s.lineno), s))
            return load(seq)

        clauses[0] = (target, named(it), conds)
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

