"""Sums over comprehensions and arrays of list comprehensions in an expression (the rewrite of
comprehension_loops.hoist_sums).

Why apart from comprehension_loops.py: recognising the calls (`sum(terms)`, `sum(terms, start)`, `np.array([... for ...])`)
and rewriting one expression around them (each becomes a fresh name the statement's loops fill; a conditional
expression or and/or around one becomes ifs, so that the sum runs on its own path only) is one job, which the
statement desugaring calls; this module holds that job and the builtin test it needs.
"""
from __future__ import annotations

import builtins

import gast
import numpy as np

from ..errors import fail
from .astutil import Transformer, assign, const, copy_loc, load, walk
from .resolve import local_names


def is_builtin(unit, node, name) -> bool:
    """Is `node` a Name referring to the builtin `name` (not shadowed)?"""
    return (isinstance(node, gast.Name) and node.id == name and node.id not in unit_locals(unit)
            and unit.namespace.get(name) is getattr(builtins, name))


def unit_locals(unit):
    if not hasattr(unit, "_locals_cache"):
        unit._locals_cache = local_names(unit.node)
    return unit._locals_cache


def is_sum(unit, node) -> bool:
    return (isinstance(node, gast.Call) and is_builtin(unit, node.func, "sum") and len(node.args) == 1
            and not node.keywords and isinstance(node.args[0], (gast.GeneratorExp, gast.ListComp)))


ITEMS = ("array", "asarray", "stack")      # np.array([f(v) for v in seq]): loops that fill an array (_fill)


def is_items(unit, node) -> bool:
    """np.array / np.asarray / np.stack of one list comprehension, no other argument (but np.stack's axis=)."""
    if not (isinstance(node, gast.Call) and len(node.args) == 1 and isinstance(node.args[0], gast.ListComp)):
        return False
    func = node.func
    if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.attr in ITEMS):
        return False
    if node.keywords and not (func.attr == "stack" and len(node.keywords) == 1 and node.keywords[0].arg == "axis"):
        return False
    return func.value.id not in unit_locals(unit) and unit.namespace.get(func.value.id) is np


def is_started_sum(unit, node) -> bool:
    """sum(terms, start) / sum(terms, start=s) over a comprehension (SumCalls.visit_Call: start + sum(terms))."""
    return (isinstance(node, gast.Call) and is_builtin(unit, node.func, "sum") and len(node.args) >= 1
            and isinstance(node.args[0], (gast.GeneratorExp, gast.ListComp))
            and len(node.args) + len(node.keywords) == 2 and all(k.arg == "start" for k in node.keywords))


def has_sum(unit, node) -> bool:
    # (a sum with a start too: inside a conditional expression or and/or it becomes ifs as the plain sum does)
    return any(is_sum(unit, n) or is_started_sum(unit, n) or is_items(unit, n) for n in walk(node))


class SumCalls(Transformer):
    """comprehension_loops.hoist_sums' rewrite of one expression: each sum over a comprehension becomes a fresh name
    (noted in `found` with its comprehension), a conditional expression or and/or around one becomes ifs
    (noted in `found` as statements)."""
    def __init__(self, unit, namer, base, found, guarded=None):
        self.unit, self.namer, self.base, self.found = unit, namer, base, found
        self.guarded = guarded   # the construct around us that a hoisted sum would change, if any

    def visit_Call(self, node):
        starts = node.args[1:] + [k.value for k in node.keywords if k.arg == "start"]
        if (is_builtin(self.unit, node.func, "sum") and len(starts) == 1 and len(node.args) + len(node.keywords) == 2
                and isinstance(node.args[0], (gast.GeneratorExp, gast.ListComp, gast.List, gast.Tuple))):
            # sum(terms, start) is start + sum(terms) (the start read first, as Python reads it)
            total = copy_loc(gast.Call(func=node.func, args=node.args[:1], keywords=[]), node)
            return self.visit(copy_loc(gast.BinOp(left=starts[0], op=gast.Add(), right=total), node))
        comp = node.args[0] if len(node.args) == 1 and not node.keywords else None
        if (is_builtin(self.unit, node.func, "sum") and isinstance(comp, (gast.List, gast.Tuple))
                and not any(isinstance(e, gast.Starred) for e in comp.elts)):
            # sum([a, b, c]) (of arrays: elementwise) is a + b + c
            out = comp.elts[0] if comp.elts else const(0.0)
            for e in comp.elts[1:]:
                out = copy_loc(gast.BinOp(left=out, op=gast.Add(), right=e), node)
            return self.visit(out)
        if is_sum(self.unit, node):
            if self.guarded is not None:
                fail(node, self.unit, f"sum over a comprehension inside {self.guarded}",
                     "compute the sum in an assignment of its own before this statement")
            name = self.namer.fresh(f"{self.base}_sum")
            self.found.append((name, node.args[0]))
            return copy_loc(load(name), node)
        if is_items(self.unit, node):
            comp = node.args[0]
            if isinstance(comp.elt, (gast.ListComp, gast.List, gast.Tuple)):
                # np.array([[g(v, k) for k in ks] for v in vs]), np.array([[v, v * v] for v in x]): each item is
                # the array of its list (NumPy makes the same matrix of a list of lists; a tuple as the first
                # item, the rows' shape, does not compile under Numba)
                comp.elt = copy_loc(gast.Call(func=gast.Attribute(value=load(node.func.value.id), attr="array",
                                                                  ctx=gast.Load()), args=[comp.elt], keywords=[]),
                                    comp.elt)
            if self.guarded is not None:
                fail(node, self.unit, f"an array of a list comprehension inside {self.guarded}",
                     "make the array in an assignment of its own before this statement")
            name = self.namer.fresh(f"{self.base}_items")
            self.found.append((name, ("items", node.args[0])))
            if node.keywords:      # np.stack([...], axis=k): the items' axis moved to k
                return copy_loc(gast.Call(func=gast.Attribute(value=load(node.func.value.id), attr="moveaxis",
                                                              ctx=gast.Load()),
                                          args=[load(name), const(0), node.keywords[0].value], keywords=[]), node)
            return copy_loc(load(name), node)
        self.generic_visit(node)
        return node

    def guard(self, node, what):
        outer, self.guarded = self.guarded, self.guarded or what
        self.generic_visit(node)
        self.guarded = outer
        return node

    def branch(self, node, stmts, name):
        self.found.append((None, [copy_loc(x, node) for x in stmts]))
        return copy_loc(load(name), node)

    def visit_IfExp(self, node):
        if self.guarded is None and has_sum(self.unit, node):    # t = a if c else b -> if c: t = a / else: t = b
            name = self.namer.fresh(f"{self.base}_if")
            return self.branch(node, [gast.If(test=node.test, body=[assign(name, node.body, node.lineno)],
                                              orelse=[assign(name, node.orelse, node.lineno)])], name)
        return self.guard(node, "a conditional expression (it would be computed on both paths)")

    def visit_BoolOp(self, node):
        if self.guarded is None and has_sum(self.unit, node):    # t = a and b -> t = a; if t: t = b (or: if not t)
            name = self.namer.fresh(f"{self.base}_{'and' if isinstance(node.op, gast.And) else 'or'}")
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
