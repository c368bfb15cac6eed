"""Assignment expressions (`if (n := np.sum(x * x)) > 1.0:`) as assignments before their statement.

Why here, in the desugaring: every later pass knows assignments and not `:=`. Moving `n := e` out of the
expression is exact where Python evaluates it every time the statement runs and before any other read of `n`
in that statement: the assignment goes before the statement, the expression reads `n`. A `while` condition runs
again before each iteration: `while (r := f(s)) > tol: body` becomes `while True:`, the assignment, `if not
r > tol: break`, then body. Declined at the user's line (with the rewrite to make): an assignment expression
that runs on some evaluations only (after the first operand of `and`/`or`, in a branch of a conditional
expression), or in a comprehension (its own scope rules), or whose name the statement reads before it. (A
lambda is lifted to a function of its own before this pass: its `:=` binds there, as Python's does.)
"""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from .astutil import assign, block_jumps, copy_loc, load, walk

# the expressions of a statement that run once, before its block (an if's test, a loop's iterable, ...)
_HEADERS = {gast.Assign: ("value",), gast.AugAssign: ("value",), gast.AnnAssign: ("value",),
            gast.Return: ("value",), gast.Expr: ("value",), gast.If: ("test",), gast.Assert: ("test", "msg"),
            gast.For: ("iter",), gast.While: ("test",)}

_ADVICE = "assign the value on a line of its own before the statement (`n = e`), then use `n`"


def has_assignment_expression(s) -> bool:
    """Whether statement `s` holds `:=` in the expressions it runs before its block (or, for a simple statement,
    anywhere in it)."""
    return any(isinstance(n, gast.NamedExpr) for e in _headers(s) for n in walk(e))


def _headers(s) -> list:
    fields = _HEADERS.get(type(s))
    if fields is None:
        return [] if hasattr(s, "body") else [s]
    return [getattr(s, f) for f in fields if getattr(s, f, None) is not None]


def hoist(unit, s) -> list:
    """The statements that replace `s`, whose headers hold assignment expressions (has_assignment_expression):
    the assignments, then `s` reading their names (a while: the loop that assigns at the top of each iteration)."""
    if type(s) not in _HEADERS:
        fail(s, unit, "an assignment expression (:=) in this statement is not supported", _ADVICE)
    before = []
    for field in _HEADERS[type(s)]:
        e = getattr(s, field, None)
        if e is not None:
            _check(unit, s, e)
            setattr(s, field, _Hoister(before).visit(e))
    if isinstance(s, gast.While) and not any(isinstance(j, gast.Continue) for j in block_jumps(s.body)):      # before the loop and at the end of each iteration
        again = [copy_loc(copy.deepcopy(st), s) for st in before]
        s.body = s.body + again
        return [copy_loc(st, s) for st in before] + [s]
    if isinstance(s, gast.While):       # a `continue` would skip the end of the iteration: test at its top
        stop = copy_loc(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=s.test), body=[gast.Break()], orelse=[]), s)
        for st in walk(stop):
            if isinstance(st, gast.stmt):
                copy_loc(st, s)
        s.test = copy_loc(gast.Constant(value=True, kind=None), s)
        s.body = [copy_loc(st, s) for st in before] + [stop] + s.body
        return [s]
    return [copy_loc(st, s) for st in before] + [s]


class _Hoister(gast.NodeTransformer):
    """Each `n := e` (innermost first) -> `n`, with `n = e` appended to `out`."""

    def __init__(self, out):
        self.out = out

    def visit_NamedExpr(self, e):
        self.generic_visit(e)
        self.out.append(assign(e.target.id, e.value, getattr(e, "lineno", None)))
        return copy_loc(load(e.target.id), e)


def bind_chained_operands(s, namer) -> None:
    """Python evaluates the middle operand of `lo < f(x) < hi` once; the desugaring's `lo < m and m < hi` reads
    it twice. In a header of `s` that runs every time (not after and/or, in a branch of a conditional expression,
    a lambda or a comprehension), the first middle operand of a chained comparison that holds a call becomes
    `(m := f(x))` (its left operand too when that holds a call, so the two still run in order), which `hoist`
    moves before the statement. (A later middle operand runs only when the comparisons before it hold: it stays
    an expression, evaluated by each comparison that reads it.)"""
    if type(s) not in _HEADERS:
        return
    for e in _headers(s):
        if not any(type(n) is gast.Compare and len(n.ops) > 1 for n in walk(e)):
            continue    # (no chained comparison: one plain walk, not the walk that tracks the context)
        for n, conditional in list(_walk_context(e, False)):
            if isinstance(n, gast.Compare) and len(n.ops) > 1 and not conditional and _calls(n.comparators[0]):
                if _calls(n.left):
                    n.left = _named(namer.fresh("lower"), n.left)
                n.comparators[0] = _named(namer.fresh("middle"), n.comparators[0])


def _calls(e) -> bool:
    return any(isinstance(n, gast.Call) for n in walk(e))


def _named(name, e):
    target = gast.Name(id=name, ctx=gast.Store(), annotation=None, type_comment=None)
    named = copy_loc(gast.NamedExpr(target=target, value=e), e)
    named.col_offset = getattr(e, "col_offset", 0)
    return named


def _check(unit, s, e):
    """Decline the assignment expressions of header `e` that hoisting would change (module docstring)."""
    for n, conditional in _walk_context(e, False):
        if not isinstance(n, gast.NamedExpr):
            continue
        if conditional:
            fail(s, unit, f"an assignment expression ({n.target.id} := ...) {conditional} is not supported",
                 _ADVICE)
        at = (n.lineno, n.col_offset)
        for m in walk(e):
            if isinstance(m, gast.Name) and m.id == n.target.id and isinstance(m.ctx, gast.Load) and \
                    (m.lineno, m.col_offset) < at:
                fail(s, unit, f"`{n.target.id}` is read in this statement before the assignment expression "
                              f"({n.target.id} := ...) binds it: that is not supported", _ADVICE)


def _walk_context(e, conditional):
    """(node, why it may not run every time or has a scope of its own, or False) for every node of `e`."""
    yield e, conditional
    if isinstance(e, gast.BoolOp):
        yield from _walk_context(e.values[0], conditional)
        for v in e.values[1:]:
            yield from _walk_context(v, conditional or "after the first operand of and/or")
        return
    if isinstance(e, gast.IfExp):
        yield from _walk_context(e.test, conditional)
        for v in (e.body, e.orelse):
            yield from _walk_context(v, conditional or "in a branch of a conditional expression")
        return
    if isinstance(e, gast.Lambda):
        conditional = conditional or "in a lambda"
    elif isinstance(e, (gast.ListComp, gast.GeneratorExp, gast.SetComp, gast.DictComp)):
        conditional = conditional or "in a comprehension"
    for child in gast.iter_child_nodes(e):
        yield from _walk_context(child, conditional)
