"""Pass 3: desugar surface syntax into a small core.

Before name resolution (`desugar`): nested defs and lambdas are lifted to callees taking their free
variables as extra parameters; augmented assignment, tuple unpacking and swaps, chained
comparisons, and `for` over arrays/zip/enumerate/reversed become plain assignments and range loops.
After resolution (`canonicalize`): reductions with axis=/keepdims= become rt.<op>(x, axis) (+
rt.expand_dims), `x[:, None]` becomes rt.expand_dims, and each output of slogdet / eigh / svd its own
primitive (np.linalg.slogdet(a)[1] -> rt.logabsdet(a), np.linalg.eigh(a)[1] -> rt.eigh_vectors(a), ...).
"""
from __future__ import annotations

import builtins
import copy
import math

import operator

import gast
import numpy as np

from ..errors import fail
from ..rules import RULES, _signature, composites
from ..rules.numpy_rules import AXIS_REDUCTIONS, OPERATOR_CALLS, UNARY_OPERATOR_CALLS
from .astutil import (Namer, Transformer, assign, call, const, copy_loc, dotted, dotted_name, load, loaded_names,
                      names_in, store, substitute, walk)
from .parse import Unit
from .resolve import local_names

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


def _builtin(unit, node, name) -> bool:
    """Is `node` a Name referring to the builtin `name` (not shadowed)?"""
    return (isinstance(node, gast.Name) and node.id == name and node.id not in unit_locals(unit)
            and unit.namespace.get(name) is getattr(builtins, name))


def unit_locals(unit):
    if not hasattr(unit, "_locals_cache"):
        unit._locals_cache = local_names(unit.node)
    return unit._locals_cache


# -- closures -------------------------------------------------------------------------------------
def lift_local_functions(unit: Unit) -> Unit:
    """Move nested defs / named lambdas out of `unit` into callees with free variables as params."""
    outer_locals = local_names(unit.node)
    defs = {}

    def collect(stmts):
        kept = []
        for s in _split_lambda_tuples(stmts, unit):
            if isinstance(s, gast.FunctionDef):
                defs[s.name] = s
                continue
            if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Lambda) and len(s.targets) == 1
                    and isinstance(s.targets[0], gast.Name)):
                lam = s.value
                ret = copy_loc(gast.Return(value=lam.body), s)
                fd = gast.FunctionDef(name=s.targets[0].id, args=lam.args, body=[ret], decorator_list=[],
                                      returns=None, type_comment=None, type_params=[])
                fd.lineno = s.lineno
                defs[fd.name] = fd
                continue
            for field in ("body", "orelse"):
                if hasattr(s, field) and isinstance(getattr(s, field), list):
                    setattr(s, field, collect(getattr(s, field)))
            kept.append(Called().visit(s))
        return kept

    namer = Namer(names_in(unit.node) | set(unit.callees))

    class Called(Transformer):
        """`(lambda y: y * y)(x)`: the called lambda becomes a nested def of its own (its body's lambdas are
        lifted with it)."""
        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, gast.Lambda):
                lam = node.func
                name = namer.fresh("lam")
                fd = gast.FunctionDef(name=name, args=lam.args, body=[copy_loc(gast.Return(value=lam.body), node)],
                                      decorator_list=[], returns=None, type_comment=None, type_params=[])
                fd.lineno = node.lineno
                defs[name] = fd
                node.func = copy_loc(load(name), node)
            return node

        def visit_Lambda(self, node):
            return node   # (a lambda's body: lifted with it)

    unit.node.body = collect(unit.node.body)
    if not defs:
        return unit
    for name, fd in defs.items():
        a = fd.args
        if a.defaults or any(d is not None for d in a.kw_defaults) or a.vararg or a.kwarg or a.kwonlyargs:
            fail(fd, unit, f"nested function {name!r} has default values, *args, **kwargs or keyword-only "
                           f"parameters (srcdiff calls nested functions with positional arguments only)",
                 "give every parameter explicitly at each call, or read the value from the enclosing "
                 "function's variables instead of a default")
        if getattr(fd, "decorator_list", None):
            fail(fd, unit, f"nested function {name!r} is decorated",
                 "define it without the decorator, or at module level")
    params = {name: [a.id for a in fd.args.args] for name, fd in defs.items()}
    for fn_node in [unit.node] + list(defs.values()):   # inner(x, scale=s): arguments by position, before
        for n in walk(fn_node):                    # the free variables are appended to them
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in defs and n.keywords:
                n.args = _positional_arguments(n, params[n.func.id], unit)
                n.keywords = []
    extra = {}
    for name, fd in defs.items():
        own = local_names(fd)
        extra[name] = [n for n in _ordered_loads(fd) if n not in own and n in outer_locals and n not in defs]
    changed = True
    while changed:   # a nested def that calls a sibling passes the sibling's free variables on
        changed = False
        for name, fd in defs.items():
            own = local_names(fd)
            for other in _ordered_loads(fd):
                if other in defs and other != name and other not in own:
                    clash = [n for n in extra[other] if n in own]
                    if clash:
                        fail(fd, unit, f"nested function {name!r} calls {other!r}, which reads the enclosing "
                                       f"function's {clash[0]!r}, but {name!r} binds its own {clash[0]!r}",
                             f"rename {name!r}'s {clash[0]!r}")
                    new = [n for n in extra[other] if n not in extra[name] and n not in own]
                    if new:
                        extra[name] = extra[name] + new
                        changed = True
    for name, fd in defs.items():
        free = extra[name]
        fd.args.args = fd.args.args + [store(n) for n in free]
        for a in fd.args.args:
            a.ctx = gast.Param()
    for name, fd in defs.items():
        sub = Unit(name=name, node=fd, filename=unit.filename, namespace=unit.namespace)
        _add_free_args(sub.node, extra, sub)
        # callees made before lifting (a factory's call function, transforms/factories.py) stay visible
        sub.callees.update({k: v for k, v in unit.callees.items() if v is not None and k not in defs})
        sub.callees.update({k: None for k in defs if k != name})
        unit.callees[name] = lift_local_functions(sub)
    for name in defs:  # siblings may call each other
        for other in defs:
            if other != name:
                unit.callees[name].callees[other] = unit.callees[other]
    _add_free_args(unit.node, extra, unit)
    return unit


def _split_lambda_tuples(stmts, unit) -> list:
    """`g, h = lambda u: ..., lambda u: ...`: each lambda bound by a statement of its own (lifted like any
    named lambda), the other pairs of the tuple assignment kept together."""
    out = []
    for s in stmts:
        pairs = _tuple_pairs(s)
        if pairs is None or not any(isinstance(v, gast.Lambda) for _, v in pairs):
            out.append(s)
            continue
        lams = [(t, v) for t, v in pairs if isinstance(v, gast.Lambda)]
        rest = [(t, v) for t, v in pairs if not isinstance(v, gast.Lambda)]
        if any(not isinstance(t, gast.Name) for t, _ in lams) or len({t.id for t, _ in lams}) < len(lams):
            fail(s, unit, "a lambda in a tuple assignment is bound to a target that is not a name of its own",
                 "bind each lambda to a name (g, h = lambda u: ..., lambda u: ...)")
        named = {t.id for t, _ in lams}
        if any(loaded_names(v) & named for _, v in rest):
            fail(s, unit, "a value in this tuple assignment reads a name that a lambda beside it binds",
                 "bind the lambda by a statement of its own, after the values that read the old binding")
        if len(rest) == 1:
            out.append(copy_loc(gast.Assign(targets=[rest[0][0]], value=rest[0][1], type_comment=None), s))
        elif rest:
            out.append(copy_loc(gast.Assign(targets=[gast.Tuple(elts=[t for t, _ in rest], ctx=gast.Store())],
                                            value=gast.Tuple(elts=[v for _, v in rest], ctx=gast.Load()),
                                            type_comment=None), s))
        out += [copy_loc(gast.Assign(targets=[t], value=v, type_comment=None), s) for t, v in lams]
    return out


def _tuple_pairs(s):
    """[(target, value)] of `a, b = x, y` (a tuple or list on both sides, of one length), else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1):
        return None
    t, v = s.targets[0], s.value
    if not (isinstance(t, (gast.Tuple, gast.List)) and isinstance(v, (gast.Tuple, gast.List))
            and len(t.elts) == len(v.elts) and not any(isinstance(e, gast.Starred) for e in t.elts + v.elts)):
        return None
    return list(zip(t.elts, v.elts))


def _positional_arguments(call, params: list, unit) -> list:
    """The arguments of a call of a nested function (parameters `params`, no defaults) in parameter order."""
    name = call.func.id
    if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        fail(call, unit, f"call of {name!r} with *args or **kwargs", "pass each argument explicitly")
    bound = dict(zip(params, call.args))
    for k in call.keywords:
        if k.arg not in params or k.arg in bound:
            fail(call, unit, f"{name}() got {'an unexpected' if k.arg not in params else 'a repeated'} "
                             f"argument {k.arg!r}", f"its parameters are {', '.join(params)}")
        bound[k.arg] = k.value
    missing = [p for p in params if p not in bound]
    if missing or len(call.args) > len(params):
        fail(call, unit, f"{name}() takes the parameters ({', '.join(params)})",
             f"pass {', '.join(missing)}" if missing else "drop the extra arguments")
    return [bound[p] for p in params]


def _ordered_loads(fd):
    seen = []
    for n in walk(fd):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in seen:
            seen.append(n.id)
    return seen


def _add_free_args(fn_node, extra, unit):
    for n in walk(fn_node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in extra:
            n.args = n.args + [load(v) for v in extra[n.func.id]]
        elif isinstance(n, gast.Name) and n.id in extra and isinstance(n.ctx, gast.Load):
            parent_calls = False  # references outside calls are caught by resolve
            del parent_calls


# -- statement desugaring -------------------------------------------------------------------------
class _Desugar:
    def __init__(self, unit: Unit):
        self.unit = unit
        self.namer = Namer(names_in(unit.node))
        comps = (gast.GeneratorExp, gast.ListComp, gast.SetComp, gast.DictComp)
        inside = {id(n) for c in walk(unit.node) if isinstance(c, comps) for n in walk(c)}
        self.outside = {n.id for n in walk(unit.node) if isinstance(n, gast.Name) and id(n) not in inside}
        self.comp_targets = set()   # loop variables of the comprehension loops being desugared

    def block(self, stmts):
        out = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def stmt(self, s):
        for kind, (what, advice) in _UNSUPPORTED.items():
            if isinstance(s, kind):
                fail(s, self.unit, f"{what} is not supported in differentiated code", advice)
        loops, targets = self.hoist_sums(s)
        if loops:
            outer, self.comp_targets = self.comp_targets, self.comp_targets | targets
            loops = self.block(loops)   # nested sums see this one's loop variables as taken
            self.comp_targets = outer
            return loops + self.stmt(s)
        if not isinstance(s, gast.FunctionDef) and any(
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
                rebound._srcdiff_in_place = True
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
            if s.orelse:
                fail(s, self.unit, "while/else is not supported", "use a flag variable")
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
        unit, namer = self.unit, self.namer
        base = s.targets[0].id if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else "total"

        def is_sum(node):
            return (isinstance(node, gast.Call) and _builtin(unit, node.func, "sum") and len(node.args) == 1
                    and not node.keywords and isinstance(node.args[0], (gast.GeneratorExp, gast.ListComp)))

        def has_sum(node):
            return any(is_sum(n) for n in walk(node))

        class Sums(Transformer):
            def __init__(self, guarded=None):
                self.guarded = guarded   # the construct around us that a hoisted sum would change, if any

            def visit_Call(self, node):
                comp = node.args[0] if len(node.args) == 1 and not node.keywords else None
                if (_builtin(unit, node.func, "sum") and isinstance(comp, (gast.List, gast.Tuple))
                        and not any(isinstance(e, gast.Starred) for e in comp.elts)):
                    # sum([a, b, c]) (of arrays: elementwise) is a + b + c
                    out = comp.elts[0] if comp.elts else const(0.0)
                    for e in comp.elts[1:]:
                        out = copy_loc(gast.BinOp(left=out, op=gast.Add(), right=e), node)
                    return self.visit(out)
                if is_sum(node):
                    if self.guarded is not None:
                        fail(node, unit, f"sum over a comprehension inside {self.guarded}",
                             "compute the sum in an assignment of its own before this statement")
                    name = namer.fresh(f"{base}_sum")
                    found.append((name, node.args[0]))
                    return copy_loc(load(name), node)
                self.generic_visit(node)
                return node

            def guard(self, node, what):
                outer, self.guarded = self.guarded, self.guarded or what
                self.generic_visit(node)
                self.guarded = outer
                return node

            def branch(self, node, stmts, name):
                found.append((None, [copy_loc(x, node) for x in stmts]))
                return copy_loc(load(name), node)

            def visit_IfExp(self, node):
                if self.guarded is None and has_sum(node):    # t = a if c else b -> if c: t = a / else: t = b
                    name = namer.fresh(f"{base}_if")
                    return self.branch(node, [gast.If(test=node.test, body=[assign(name, node.body, node.lineno)],
                                                      orelse=[assign(name, node.orelse, node.lineno)])], name)
                return self.guard(node, "a conditional expression (it would be computed on both paths)")

            def visit_BoolOp(self, node):
                if self.guarded is None and has_sum(node):    # t = a and b -> t = a; if t: t = b (or: if not t)
                    name = namer.fresh(f"{base}_{'and' if isinstance(node.op, gast.And) else 'or'}")
                    stmts = [assign(name, node.values[-1], node.lineno)]
                    for v in reversed(node.values[1:-1]):
                        stmts = [assign(name, v, node.lineno), gast.If(test=self.test(node, name), body=stmts,
                                                                       orelse=[])]
                    stmts = [assign(name, node.values[0], node.lineno),
                             gast.If(test=self.test(node, name), body=stmts, orelse=[])]
                    return self.branch(node, stmts, name)
                return self.guard(node, "and/or (it would be computed even where and/or stops early)")

            @staticmethod
            def test(node, name):
                return load(name) if isinstance(node.op, gast.And) else gast.UnaryOp(op=gast.Not(), operand=load(name))

            def visit_Lambda(self, node):
                return self.guard(node, "a lambda")

        if isinstance(s, gast.While):
            Sums("a while condition (it is evaluated again on every iteration)").visit(s.test)
        for field in self._HOISTABLE.get(type(s), ()):
            if getattr(s, field, None) is not None:
                setattr(s, field, Sums().visit(getattr(s, field)))
        loops, targets = [], set()
        for name, comp in found:
            loops += self._accumulate(name, comp, s, targets) if name is not None else comp
        return loops, targets

    def _accumulate(self, name, comp, s, targets) -> list:
        """`name = 0.0` then nested loops (one per `for` clause, `if` clauses as ifs) adding comp.elt;
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
        elt = gast.BinOp(left=load(name), op=gast.Add(), right=substitute(comp.elt, rename))
        body = [copy_loc(assign(name, elt, s.lineno), s)]
        for target, it, conds in reversed(clauses):
            for cond in reversed(conds):
                body = [copy_loc(gast.If(test=cond, body=body, orelse=[]), s)]
            body = [copy_loc(gast.For(target=target, iter=it, body=body, orelse=[], type_comment=None), s)]
        value, nonempty = self._start(clauses, substitute(comp.elt, rename))
        start = copy_loc(assign(name, value, s.lineno), s)
        # compiler.check_numba: a sum of arrays whose start is (or is made) 0.0 does not compile under Numba
        body_term = [n for n in walk(body[0]) if isinstance(n, gast.Assign) and n.targets[0].id == name
                     and isinstance(n.value, gast.BinOp)][0]
        body_term._srcdiff_sum_term = True
        body_term._srcdiff_sum_start = start
        if nonempty is not None:   # the first term is computed only where the loop runs (Python's sum is 0 else)
            zero = copy_loc(assign(name, const(0.0), s.lineno), s)
            start = copy_loc(gast.If(test=nonempty, body=[start], orelse=[zero]), s)
        return [start] + body

    def _start(self, clauses, elt):
        """(what a sum starts from, the test that its loops run at least once, or None). The start is zeros
        shaped like its first term, `rt.zeros_like(elt)` with the loop variables at their first values, on
        the path where the loops run (so that a sum of arrays stays an array under Numba; where the term is a
        scalar the compiler makes it 0.0 again, and where the loops do not run 0.0 is zeros of the term's rank,
        once kinds are known: compiler.sum_starts), or 0.0 where the first values cannot be written down
        (tuple targets, zip / enumerate)."""
        first, tests = {}, []
        for target, it, _ in clauses:
            if not isinstance(target, gast.Name):
                return const(0.0), None
            it = substitute(it, first)
            if (isinstance(it, gast.Call) and _builtin(self.unit, it.func, "range") and not it.keywords
                    and 1 <= len(it.args) <= 3):
                first[target.id] = it.args[0] if len(it.args) > 1 else const(0)
                tests.append(_range_runs(it.args))
            elif isinstance(it, (gast.Name, gast.Attribute, gast.Subscript)):   # a sequence: its first item
                first[target.id] = gast.Subscript(value=it, slice=const(0), ctx=gast.Load())
                tests.append(gast.Compare(left=const(0), ops=[gast.Lt()],
                                          comparators=[gast.Call(func=load("len"), args=[it], keywords=[])]))
            else:
                return const(0.0), None
        if any(isinstance(n, (gast.GeneratorExp, gast.ListComp, gast.Lambda, gast.IfExp, gast.BoolOp))
               for n in walk(elt)):
            return const(0.0), None
        start = gast.Call(func=dotted("rt.zeros_like"), args=[substitute(elt, first)], keywords=[])
        start._srcdiff_made = True   # (resolve leaves the rt. name as it is)
        tests = [copy.deepcopy(t) for t in tests]
        return start, tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)

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
        if isinstance(value, gast.Call) and _splits_into_outputs(self.unit, value):
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

    def for_(self, s):
        if s.orelse:
            fail(s, self.unit, "for/else is not supported", "use a flag variable")
        it = s.iter
        rebound = _rebound_names(s.body + [s.target])
        body = self.block(s.body)
        tgt = s.target
        if isinstance(it, gast.Call) and _builtin(self.unit, it.func, "range"):
            if not isinstance(tgt, gast.Name):
                fail(s, self.unit, "range loop with a non-name target")
            s.iter = self.expr(it)
            s.body = body
            return [s]
        if isinstance(it, gast.Call) and _builtin(self.unit, it.func, "reversed") and len(it.args) == 1 \
                and isinstance(it.args[0], gast.Call) and _builtin(self.unit, it.args[0].func, "range"):
            args = [self.expr(a) for a in it.args[0].args]
            if len(args) == 1:
                args = [const(0)] + args
            if len(args) != 2:
                fail(s, self.unit, "reversed(range(...)) with a step is not supported")
            lo, hi = args
            s.iter = copy_loc(gast.Call(func=load("range"), args=[
                gast.BinOp(left=hi, op=gast.Sub(), right=const(1)),
                gast.BinOp(left=lo, op=gast.Sub(), right=const(1)), const(-1)], keywords=[]), s)
            s.body = body
            return [s]
        k = self.namer.fresh("k")
        pre, binds = [], []
        if isinstance(it, gast.Call) and _builtin(self.unit, it.func, "enumerate"):
            if not (isinstance(tgt, gast.Tuple) and len(tgt.elts) == 2) or len(it.args) != 1:
                fail(s, self.unit, "enumerate loops must unpack (index, item)")
            seq, n = self._seq(it.args[0], pre, s, rebound)
            k = tgt.elts[0].id if isinstance(tgt.elts[0], gast.Name) else k
            binds = [(tgt.elts[1], seq)]
        elif isinstance(it, gast.Call) and _builtin(self.unit, it.func, "zip"):
            if not (isinstance(tgt, gast.Tuple) and len(tgt.elts) == len(it.args)):
                fail(s, self.unit, "zip loops must unpack one name per sequence")
            seqs = [self._seq(a, pre, s, rebound) for a in it.args]
            n = seqs[0][1]
            for _, m in seqs[1:]:
                n = gast.Call(func=load("min"), args=[n, m], keywords=[])
            binds = list(zip(tgt.elts, [q for q, _ in seqs]))
        else:
            seq, n = self._seq(it, pre, s, rebound)
            binds = [(tgt, seq)]
        head = []
        for t, seq in binds:
            item = copy_loc(gast.Subscript(value=load(seq), slice=load(k), ctx=gast.Load()), s)
            head += self.assign(copy_loc(assign(t, item, s.lineno), s))
        loop = copy_loc(gast.For(target=store(k), iter=gast.Call(func=load("range"), args=[n], keywords=[]),
                                 body=head + body, orelse=[], type_comment=None), s)
        return pre + [loop]

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
            copied._srcdiff_loop_copy = expr.id if isinstance(expr, gast.Name) else "the loop's iterable"
            pre.append(copied)
        return name, gast.Call(func=load("len"), args=[load(name)], keywords=[])

    def expr(self, e):
        class Chains(Transformer):
            def visit_Compare(self, node):
                self.generic_visit(node)
                if len(node.ops) == 1:
                    return node
                parts, left = [], node.left
                for op, right in zip(node.ops, node.comparators):
                    parts.append(copy_loc(gast.Compare(left=copy.deepcopy(left), ops=[op], comparators=[right]), node))
                    left = right
                return copy_loc(gast.BoolOp(op=gast.And(), values=parts), node)
        return Chains().visit(e)


def _rebound_names(stmts) -> set:
    """Names a loop's target or body binds with `=` (or as a loop target). An augmented assignment is left out: on an
    array it writes in place, and a loop over that array sees the new contents, as it does when the loop
    reads the name."""
    aug = {id(n.target) for s in stmts for n in gast.walk(s) if isinstance(n, gast.AugAssign)}
    return {n.id for s in stmts for n in gast.walk(s)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in aug}


def _base(e):
    return e.id if isinstance(e, gast.Name) else "item"


def _refers_to(unit, node, obj) -> bool:
    path = dotted_name(node)
    if path is None:
        return False
    parts = path.split(".")
    cur = unit.namespace.get(parts[0])
    for p in parts[1:]:
        cur = getattr(cur, p, None)
    return cur is obj


# NumPy functions returning a tuple of arrays: signature, and the primitive each output becomes
# (transforms/desugar.py splits unpacking into indexed calls, _Canon.visit_Subscript maps the index)
TUPLE_CALLS = {
    "np.linalg.slogdet": "a",
    "np.linalg.eigh": "a, UPLO='L'",
    "np.linalg.svd": "a, full_matrices=True, compute_uv=True, hermitian=False",
}
_TUPLE_OBJECTS = {"np.linalg.slogdet": np.linalg.slogdet, "np.linalg.eigh": np.linalg.eigh,
                  "np.linalg.svd": np.linalg.svd}


def _bind_tuple_call(name, node):
    """The call's arguments bound to TUPLE_CALLS[name]'s parameters (gast nodes), or a TypeError's text."""
    if any(k.arg is None for k in node.keywords):
        return "**kwargs are not supported"
    try:
        return dict(_signature(TUPLE_CALLS[name]).bind(*node.args, **{k.arg: k.value for k in node.keywords})
                    .arguments)
    except TypeError as e:
        return str(e)


def _flag(bound: dict, param: str, default):
    """The literal value of a bound argument, `default` when it is not given, _NOT_LITERAL otherwise."""
    e = bound.get(param)
    if e is None:
        return default
    return e.value if isinstance(e, gast.Constant) else _literal(e)


def _splits_into_outputs(unit, value) -> bool:
    """Is `value` (before resolution) a call of a NumPy function that returns a tuple of arrays?"""
    for name, obj in _TUPLE_OBJECTS.items():
        if _refers_to(unit, value.func, obj):
            bound = _bind_tuple_call(name, value)
            # np.linalg.svd(a, compute_uv=False) is the array of singular values: unpacking it unpacks its entries
            return not (isinstance(bound, dict) and _flag(bound, "compute_uv", True) is False)
    return False


def _range_runs(args):
    """The test that range(*args) is not empty."""
    if len(args) < 3:
        lo, hi = (const(0), args[0]) if len(args) == 1 else args[:2]
        return gast.Compare(left=lo, ops=[gast.Lt()], comparators=[hi])
    lo, hi, step = args
    if isinstance(step, gast.Constant) and type(step.value) is int:
        return gast.Compare(left=lo, ops=[gast.Lt() if step.value > 0 else gast.Gt()], comparators=[hi])
    return gast.Compare(left=gast.BinOp(left=gast.BinOp(left=hi, op=gast.Sub(), right=lo), op=gast.Mult(), right=step),
                        ops=[gast.Gt()], comparators=[const(0)])


def zero_sum_starts(node):
    """A sum's start back to 0.0 (desugar._start) where no gradient specialisation tells scalar terms from
    array ones (forward mode, callees' primal functions): the first term is not evaluated at all. Returns
    `node`."""
    class Zero(gast.NodeTransformer):
        def visit_If(self, s):   # `if <the loops run>: total = rt.zeros_like(...) / else: total = 0.0`
            self.generic_visit(s)
            if (len(s.body) == 1 and isinstance(s.body[0], gast.Assign) and len(s.orelse) == 1
                    and getattr(s.body[0].value, "_srcdiff_made", False)):
                return s.orelse[0]
            return s

        def visit_Assign(self, s):
            if getattr(s.value, "_srcdiff_made", False):
                s.value = copy_loc(const(0.0), s.value)
            return s
    return Zero().visit(node)


def desugar(unit: Unit) -> Unit:
    unit.node.body = _Desugar(unit).block(unit.node.body)
    return unit


# -- after resolution -------------------------------------------------------------------------------
class _Canon(Transformer):
    def __init__(self, unit):
        self.unit = unit

    def visit_If(self, node):
        """`if -1.2 > 0.3:`: a test of literals is decided here (Numba would prune the dead branch and
        leave its tapes without a type)."""
        self.generic_visit(node)
        value = _literal(node.test)
        if value is _NOT_LITERAL:
            return node
        return node.body if value else node.orelse

    def visit_IfExp(self, node):
        """`a if -0.3 < 0.3 else b`: the same for a conditional expression (ANF makes it an if statement
        after this pass)."""
        self.generic_visit(node)
        value = _literal(node.test)
        if value is _NOT_LITERAL:
            return node
        return node.body if value else node.orelse

    def visit_For(self, node):
        """`for i in range(1, 1)`: a literal empty range never runs, so the loop goes (Numba would
        prune it and leave its tapes without a type)."""
        self.generic_visit(node)
        it = node.iter
        if (isinstance(it, gast.Call) and dotted_name(it.func) == "range" and it.args and not it.keywords
                and all(isinstance(a, gast.Constant) and type(a.value) is int for a in it.args)):
            try:
                empty = len(range(*(a.value for a in it.args))) == 0
            except ValueError:   # range(..., 0): Python raises at run time; leave it to do so
                empty = False
            if empty:
                return node.orelse
        return node

    def visit_BinOp(self, node):
        """A list or tuple literal operand of arithmetic with an array is the array it stands for
        (x[:2] * [a, b], m @ [a, b]). Lists have no -, /, **, %, @, so there it always is; with + and *
        (concatenation, repetition) only where the other operand is certainly an array or a float."""
        self.generic_visit(node)
        for side, other in (("left", node.right), ("right", node.left)):
            lit = getattr(node, side)
            if not _is_literal_seq(lit) or _is_literal_seq(other):
                continue
            if isinstance(node.op, (gast.Add, gast.Mult)) and not _certainly_float_or_array(other):
                continue
            setattr(node, side, self._literal_array(lit, node))
        return node

    def visit_UnaryOp(self, node):
        """`-0.5` is one constant (an operand, not a statement of its own in A-normal form)."""
        self.generic_visit(node)
        c = node.operand
        if isinstance(node.op, gast.USub) and isinstance(c, gast.Constant) and type(c.value) in (int, float):
            return copy_loc(const(-c.value), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        name = dotted_name(node.func)
        if name in ("np.array", "np.asarray") and node.args and (name == "np.array" or _is_literal_seq(node.args[0])):
            return self._array(name, node)
        if (name == "np.stack" and len(node.args) == 1 and _is_literal_seq(node.args[0])
                and all(k.arg == "axis" and isinstance(k.value, gast.Constant) and k.value.value == 0
                        for k in node.keywords)):   # np.stack((a, b)) along axis 0 is np.array((a, b)) (of scalars too)
            return self._literal_array(node.args[0], node)
        if name in ("rt.max2", "rt.min2") and len(node.args) == 1 and not node.keywords:   # max([a, b, c])
            node = copy_loc(gast.Call(func=dotted("np." + name[3:6]), args=node.args, keywords=[]), node)
            name = dotted_name(node.func)
        self._array_likes(name, node)
        if name == "builtin_sum":  # Python's sum iterates over the first axis
            if len(node.args) != 1 or node.keywords:
                fail(node, self.unit, "sum(...) with a start value is not supported", "use np.sum")
            return copy_loc(gast.Call(func=dotted("rt.sum"), args=[node.args[0], const(0)], keywords=[]), node)
        if name in composites.COMPOSITES:   # np.var, np.linalg.norm, ...: written out in primitives
            out = composites.expand(name, node)
            if isinstance(out, tuple):
                fail(node, self.unit, *out)
            return self.visit(out)
        if name == "np.clip":   # an open side (None) is an infinite bound
            node.args = [const(math.inf * (k * 2 - 3)) if isinstance(a, gast.Constant) and a.value is None and k else a
                         for k, a in enumerate(node.args)]
        if name in OPERATOR_CALLS:   # pow(x, y), np.power(x, y), np.add(x, y), ...: the operator itself
            if len(node.args) != 2 or node.keywords:
                fail(node, self.unit, f"{name!r} as a function takes exactly two arguments here",
                     "write the operator (x ** y) or drop the extra arguments (out=, modulo)")
            op = getattr(gast, OPERATOR_CALLS[name])()
            return copy_loc(gast.BinOp(left=node.args[0], op=op, right=node.args[1]), node)
        if name in UNARY_OPERATOR_CALLS:   # np.negative(x), operator.neg(x): -x
            if len(node.args) != 1 or node.keywords:
                fail(node, self.unit, f"{'np.negative' if name == 'neg' else 'np.positive'} as a function takes "
                     "exactly one argument here", "write the operator (-x, +x) or drop the extra arguments (out=)")
            op = getattr(gast, UNARY_OPERATOR_CALLS[name])()
            return copy_loc(gast.UnaryOp(op=op, operand=node.args[0]), node)
        if name == "math.log" and len(node.args) == 2 and not node.keywords:   # math.log(x, base)
            logs = [copy_loc(gast.Call(func=dotted("math.log"), args=[a], keywords=[]), node) for a in node.args]
            return copy_loc(gast.BinOp(left=logs[0], op=gast.Div(), right=logs[1]), node)
        if name == "np.linalg.svd":
            bound = self._tuple_arguments(name, node)
            if _flag(bound, "compute_uv", True) is False:   # the singular values alone
                if _flag(bound, "hermitian", False) is not False:
                    fail(node, self.unit, "np.linalg.svd with hermitian=True is not supported",
                         "drop hermitian=True: the SVD of a symmetric matrix is the same")
                return copy_loc(gast.Call(func=dotted("rt.svdvals"), args=[bound["a"]], keywords=[]), node)
        if name in TUPLE_CALLS:
            fail(node, self.unit, f"{name} returns a tuple of arrays: it must be unpacked or indexed directly "
                                  "(with a number)", _TUPLE_ADVICE[name])
        if name == "np.linalg.eigvalsh":   # (the rule takes the matrix alone)
            bound = self._bound(name, node, "a, UPLO='L'")
            if _flag(bound, "UPLO", "L") != "L":
                fail(node, self.unit, "np.linalg.eigvalsh with UPLO other than 'L' is not supported (srcdiff "
                                      "differentiates symmetric matrices)", _SYMMETRISE)
            node.args, node.keywords = [bound["a"]], []
        if name == "np.linalg.pinv":
            bound = self._bound(name, node, "a, rcond=None, hermitian=False, rtol=None")
            if _flag(bound, "hermitian", False) is not False:
                fail(node, self.unit, "np.linalg.pinv with hermitian=True is not supported",
                     "drop hermitian=True: the pseudo-inverse of a symmetric matrix is the same")
        if name in AXIS_REDUCTIONS:
            axis, keepdims = None, False
            kws = []
            for kw in node.keywords:
                if kw.arg == "axis":
                    axis = kw.value
                elif kw.arg == "keepdims":
                    if not isinstance(kw.value, gast.Constant):
                        fail(node, self.unit, "keepdims must be a literal True/False")
                    keepdims = bool(kw.value.value)
                else:
                    kws.append(kw)
            if kws:
                fail(node, self.unit, f"{name}: unsupported keyword {kws[0].arg!r}",
                     "pass axis= and keepdims= as literal keywords (no **kwargs)")
            if len(node.args) > 1:
                axis = node.args[1]
            if len(node.args) > 2:
                fail(node, self.unit, f"{name}: only (x, axis) arguments are supported")
            if isinstance(axis, gast.Constant) and axis.value is None:
                axis = None
            if isinstance(axis, (gast.Tuple, gast.List)):   # several axes: one reduction each
                axes = [_literal(e) for e in axis.elts]
                if not (axes and all(type(a) is int for a in axes) and len(set(axes)) == len(axes)
                        and (all(a >= 0 for a in axes) or all(a < 0 for a in axes))):
                    fail(node, self.unit, f"{name} over several axes takes distinct int literals, all "
                         "non-negative or all negative", "reduce one axis at a time")
                out = node.args[0]
                for a in sorted(axes, reverse=axes[0] >= 0):   # later axes keep their numbers
                    out = copy_loc(gast.Call(func=dotted(AXIS_REDUCTIONS[name]), args=[out, const(a)], keywords=[]),
                                   node)
                for a in sorted(axes, reverse=axes[0] < 0) if keepdims else []:
                    out = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[out, const(a)], keywords=[]), node)
                return out
            if axis is None:
                out = gast.Call(func=dotted("np.sum" if name == "np.sum" else name), args=node.args[:1], keywords=[])
                if name == "rt.logsumexp":
                    out = gast.Call(func=dotted("rt.logsumexp"), args=node.args[:1], keywords=[])
                if keepdims:
                    fail(node, self.unit, "keepdims=True without an axis is not supported")
                return copy_loc(out, node)
            out = copy_loc(gast.Call(func=dotted(AXIS_REDUCTIONS[name]), args=[node.args[0], axis], keywords=[]), node)
            if keepdims:
                out = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[out, copy.deepcopy(axis)],
                                         keywords=[]), node)
            return out
        if name == "np.transpose" and (len(node.args) > 1 or node.keywords):
            axes = node.args[1] if len(node.args) > 1 else node.keywords[0].value
            return copy_loc(gast.Call(func=dotted("rt.transpose"), args=[node.args[0], axes], keywords=[]), node)
        if name in ("rt.expand_dims", "rt.squeeze") and node.keywords:
            node.args = node.args + [k.value for k in node.keywords]
            node.keywords = []
        return node

    def _array(self, name, node):
        """np.array(v) / np.asarray(v): rt.array of a list or tuple literal (nested ones
        too), a copy of anything else. (The dtype argument is a cast by now: resolve.py.)"""
        extra = [k.arg for k in node.keywords if k.arg not in ("copy", "order")]
        if len(node.args) != 1 or extra:
            fail(node, self.unit, f"np.array with {'arguments' if len(node.args) != 1 else repr(extra[0])} "
                                  "other than the values and dtype= is not supported",
                 "build the array with np.array(values) or np.array(values, dtype=...), then reshape it")
        v = node.args[0]
        if _is_literal_seq(v):
            return self._literal_array(v, node)
        return copy_loc(gast.Call(func=dotted("rt.array" if name == "np.array" else name), args=[v],
                                  keywords=[]), node)

    def _literal_array(self, seq, node):
        """The array a (nested) list/tuple literal makes: np.array of a literal of constants only, else
        rt.array of a tuple of its parts, each nested literal an array of its own (runtime/casts.py)."""
        if _constant_seq(seq):
            return copy_loc(gast.Call(func=dotted("np.array"), args=[_as_tuples(seq)], keywords=[]), node)
        parts = [self._literal_array(e, node) if _is_literal_seq(e) else e for e in seq.elts]
        return copy_loc(gast.Call(func=dotted("rt.array"), args=[gast.Tuple(elts=parts, ctx=gast.Load())],
                                  keywords=[]), node)

    def _array_likes(self, name, node):
        """A list or tuple literal passed where a NumPy function takes an array (np.sum([a, b]),
        np.linalg.norm((x, y)), sum([x, y])) becomes the array it stands for, so that every rule sees one."""
        if name in composites.COMPOSITES and name not in _SEQUENCE_PARAMS:
            params = list(composites.COMPOSITES[name][0].replace(" ", "").split(","))
            params = [p.split("=")[0] for p in params]
            arrays = _ARRAY_PARAMS
        elif name == "builtin_sum":
            params, arrays = ["x"], {"x"}
        elif name in _SEQUENCE_PARAMS or (name in RULES and RULES[name].variadic):
            # np.concatenate(([a, b], x)), np.vstack(([a, b], [c, d])): each part listed is an array
            seq = node.args[0] if node.args else None
            if _is_literal_seq(seq):
                seq.elts = [self._literal_array(e, node) if _is_literal_seq(e) else e for e in seq.elts]
            return
        else:
            rule = RULES.get(name)
            if rule is None or rule.nondiff or rule.namespace:
                return
            params = list(rule.signature.parameters)
            arrays = {p for p, v in rule.vjp.items() if v is not None}
        for k, a in enumerate(node.args):
            if k >= len(params) or params[k].startswith("*"):
                break
            if params[k] in arrays and _is_literal_seq(a):
                node.args[k] = self._literal_array(a, node)
        for kw in node.keywords:
            if kw.arg in arrays and _is_literal_seq(kw.value):
                kw.value = self._literal_array(kw.value, node)

    def _tuple_arguments(self, name, node) -> dict:
        bound = _bind_tuple_call(name, node)
        if isinstance(bound, str):
            fail(node, self.unit, f"{name}: {bound}", _TUPLE_ADVICE[name])
        return bound

    def _bound(self, name, node, params) -> dict:
        """The call's arguments bound to `params` (gast nodes); declined when they do not bind."""
        try:
            return dict(_signature(params).bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
                        .arguments)
        except TypeError as e:
            fail(node, self.unit, f"{name}: {e}", f"call it as {name}({params})")

    def _output(self, call, k, node):
        """The single-output primitive for output k of a call of a TUPLE_CALLS function."""
        name = dotted_name(call.func)
        bound = self._tuple_arguments(name, call)
        a = bound["a"]
        n = 3 if name == "np.linalg.svd" else 2
        if type(k) is not int or not -n <= k < n:
            fail(node, self.unit, f"{name} returns {n} arrays: index {k!r} is out of range", _TUPLE_ADVICE[name])
        k %= n
        if name == "np.linalg.slogdet":
            fname = "rt.logabsdet" if k == 1 else "rt.slogdet_sign"
        elif name == "np.linalg.eigh":
            if _flag(bound, "UPLO", "L") != "L":
                fail(node, self.unit, "np.linalg.eigh with UPLO other than 'L' is not supported (srcdiff "
                                      "differentiates symmetric matrices)", _SYMMETRISE)
            fname = ("np.linalg.eigvalsh", "rt.eigh_vectors")[k]
        else:
            full = _flag(bound, "full_matrices", True)
            if _flag(bound, "compute_uv", True) is not True:   # (False never gets here: it is one array)
                fail(node, self.unit, "np.linalg.svd: compute_uv= must be a literal True or False",
                     _TUPLE_ADVICE[name])
            if _flag(bound, "hermitian", False) is not False:
                fail(node, self.unit, "np.linalg.svd with hermitian=True is not supported",
                     "drop hermitian=True: the SVD of a symmetric matrix is the same")
            if full not in (True, False, 0, 1):
                fail(node, self.unit, "np.linalg.svd: full_matrices= must be a literal True or False",
                     _TUPLE_ADVICE[name])
            fname = (("rt.svd_u_full" if full else "rt.svd_u"), "rt.svdvals",
                     ("rt.svd_vh_full" if full else "rt.svd_vh"))[k]
        return copy_loc(gast.Call(func=dotted(fname), args=[a], keywords=[]), node)

    def visit_Subscript(self, node):
        call = node.value
        if (isinstance(call, gast.Call) and dotted_name(call.func) in TUPLE_CALLS
                and _literal(node.slice) is not _NOT_LITERAL and not (
                    dotted_name(call.func) == "np.linalg.svd"   # the singular values, indexed
                    and _flag(self._tuple_arguments("np.linalg.svd", call), "compute_uv", True) is False)):
            call.args = [self.visit(a) for a in call.args]
            for kw in call.keywords:
                kw.value = self.visit(kw.value)
            return self._output(call, _literal(node.slice), node)
        self.generic_visit(node)
        idx = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if not any(_is_none(e) for e in idx):
            return node
        return self._new_axes(node, idx)

    def _new_axes(self, node, idx):
        """`x[a, None, b]`: the new axes are inserted into x first (rt.expand_dims at the axis each None
        stands for) and indexed by a full slice, so every index keeps the axis it applies to: `x[..., None]`,
        `x[idx, None]` (an integer array), `x[:, None, 1]`, `M[i, None]`. Entries before an Ellipsis (or
        all, without one) count from the left, those after it from the right."""
        if not isinstance(node.ctx, gast.Load):
            fail(node, self.unit, "None (np.newaxis) in an assignment target is not supported",
                 "assign to the array without the new axis (x[i] = v[0])")
        ellipses = [k for k, e in enumerate(idx) if isinstance(e, gast.Constant) and e.value is Ellipsis]
        if len(ellipses) > 1:
            fail(node, self.unit, "an index can only have a single ellipsis ('...')")
        split = ellipses[0] if ellipses else len(idx)
        picks = [k for k, e in enumerate(idx) if not (isinstance(e, gast.Slice) or _is_none(e) or k in ellipses)]
        between = [k for k, e in enumerate(idx) if _is_none(e) and picks and picks[0] < k < picks[-1]]
        if between and not all(isinstance(idx[k], gast.Constant) and type(idx[k].value) is int for k in picks):
            # NumPy keeps integer-array indices separated only by None together; indexing x with the new axis
            # in between would move their axes to the front
            fail(node, self.unit, "None (np.newaxis) between two indices that may be integer arrays is not "
                                  "supported", "index first, then add the axis: y = x[i, j] then y[:, None]")
        base = node.value
        for k, e in enumerate(idx[:split]):
            if _is_none(e):
                base = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[base, const(k)], keywords=[]), node)
        for k in range(len(idx) - 1, split, -1):
            if _is_none(idx[k]):
                base = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[base, const(k - len(idx))],
                                          keywords=[]), node)
        rest = [gast.Slice(lower=None, upper=None, step=None) if _is_none(e) else e for e in idx]
        if all(isinstance(e, gast.Slice) and e.lower is None and e.upper is None and e.step is None
               or k in ellipses for k, e in enumerate(rest)):
            return base
        sl = rest[0] if len(rest) == 1 else gast.Tuple(elts=rest, ctx=gast.Load())
        return copy_loc(gast.Subscript(value=base, slice=sl, ctx=gast.Load()), node)


def _is_none(e) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


# parameters of composites (rules/composites.py) that take arrays: a list literal there is an array
_ARRAY_PARAMS = {"x", "y", "m", "xp", "fp", "weights", "a", "b", "prepend", "append"}   # (not np.polyval's p:
#                                                       its composite reads the listed coefficients one by one)
# composites whose first argument is a sequence of arrays
_SEQUENCE_PARAMS = {"np.vstack", "np.hstack", "np.column_stack"}


def _certainly_float_or_array(e) -> bool:
    """An operand that is a float or an array whatever the values: a float literal, a slice of an array,
    a call of a function with a derivative (np.exp(x), np.sum(x))."""
    if isinstance(e, gast.Constant):
        return type(e.value) is float
    if isinstance(e, gast.Subscript):
        return any(isinstance(n, gast.Slice) for n in walk(e.slice))
    if isinstance(e, gast.Call):
        rule = RULES.get(dotted_name(e.func))
        return rule is not None and not rule.nondiff and not rule.namespace
    return False


def _is_literal_seq(e) -> bool:
    return isinstance(e, (gast.List, gast.Tuple))


def _constant_seq(e) -> bool:
    """A (nested) list/tuple literal of number constants only."""
    return all(_constant_seq(x) if _is_literal_seq(x) else
               isinstance(x, gast.Constant) and type(x.value) in (bool, int, float) for x in e.elts)


def _as_tuples(e):
    """A (nested) list literal as tuples (Numba's np.array takes tuples)."""
    if not _is_literal_seq(e):
        return e
    return gast.Tuple(elts=[_as_tuples(x) for x in e.elts], ctx=gast.Load())


_NOT_LITERAL = object()
_SYMMETRISE = "symmetrise the matrix ((a + a.T) / 2) and leave UPLO at its default"
_TUPLE_ADVICE = {
    "np.linalg.slogdet": "write sign, logdet = np.linalg.slogdet(a) or np.linalg.slogdet(a)[1]",
    "np.linalg.eigh": "write w, V = np.linalg.eigh(a), or np.linalg.eigh(a)[1]; np.linalg.eigvalsh(a) gives the "
                      "eigenvalues alone",
    "np.linalg.svd": "write U, s, Vh = np.linalg.svd(a, full_matrices=False), or np.linalg.svd(a)[1]; "
                     "np.linalg.svd(a, compute_uv=False) gives the singular values alone",
}
_COMPARE = {gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
            gast.Eq: operator.eq, gast.NotEq: operator.ne}


def _literal(e):
    """The value of a test built from number literals only (comparisons, not, and/or), else _NOT_LITERAL."""
    if isinstance(e, gast.Constant) and isinstance(e.value, (bool, int, float)):
        return e.value
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd, gast.Not)):
        v = _literal(e.operand)
        if v is _NOT_LITERAL:
            return v
        return -v if isinstance(e.op, gast.USub) else (not v if isinstance(e.op, gast.Not) else v)
    if isinstance(e, gast.Compare) and all(type(op) in _COMPARE for op in e.ops):
        vals = [_literal(x) for x in [e.left] + e.comparators]
        if any(v is _NOT_LITERAL for v in vals):
            return _NOT_LITERAL
        return all(_COMPARE[type(op)](a, b) for op, a, b in zip(e.ops, vals, vals[1:]))
    if isinstance(e, gast.BoolOp):
        vals = [_literal(x) for x in e.values]
        if any(v is _NOT_LITERAL for v in vals):
            return _NOT_LITERAL
        return all(vals) if isinstance(e.op, gast.And) else any(vals)
    return _NOT_LITERAL


def canonicalize(unit: Unit) -> Unit:
    _Canon(unit).visit(unit.node)
    return unit


_ = (call, loaded_names)
