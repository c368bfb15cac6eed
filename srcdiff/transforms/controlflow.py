"""The "structure" pass of compiler.FRONT_END.

Structured control flow only: one `return` at the end, no break/continue.

Early returns become if/else (or a result variable and flag inside loops); break and continue
become flags that guard the rest of the iteration; every `while` tests a boolean variable that
the loop recomputes at the end of each iteration (so its trip count can be counted and reversed).
"""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import Namer, assign, const, copy_loc, load, names_in, walk_of, walk_statements


_LOOPS = frozenset((gast.For, gast.While))

def _has(stmts, kinds, into_loops=False) -> bool:
    for s in stmts:
        if isinstance(s, kinds):
            return True
        if isinstance(s, gast.If) and (_has(s.body, kinds, into_loops) or _has(s.orelse, kinds, into_loops)):
            return True
        if into_loops and isinstance(s, (gast.For, gast.While)) and _has(s.body, kinds, into_loops):
            return True
    return False


def _always_returns(stmts) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, gast.Return):
        return True
    return isinstance(last, gast.If) and _always_returns(last.body) and _always_returns(last.orelse)


def _endless(s) -> bool:
    """`while True:` (a constant true test) with no break of its own: it is left by a return only, so a function
    that ends in one returns on every path."""
    return (isinstance(s, gast.While) and isinstance(s.test, gast.Constant) and bool(s.test.value) is True
            and not s.orelse and not _has(s.body, gast.Break))


class _ControlFlow:
    def __init__(self, unit):
        self.unit = unit
        self.namer = Namer(names_in(unit.node))
        self.result = self.returned = None

    # ---- returns ----------------------------------------------------------------------------------
    def returns(self, stmts):
        """Rewrite early returns that are not inside loops into if/else nesting."""
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Return):
                out.append(s)
                return out  # the rest is unreachable
            if isinstance(s, gast.If) and (_has(s.body, gast.Return) or _has(s.orelse, gast.Return)):
                rest = stmts[i + 1:]
                body, orelse = s.body, s.orelse
                if not _always_returns(body):
                    body = body + copy.deepcopy(rest)
                if not _always_returns(orelse):
                    orelse = orelse + copy.deepcopy(rest)
                s.body, s.orelse = self.returns(body), self.returns(orelse)
                out.append(s)
                return out
            out.append(s)
        return out

    def loop_returns(self, stmts, in_loop=False):
        """Every return becomes `result = value; returned = True` (+ break inside loops); the
        statements after anything that may have returned run only `if not returned`."""
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Return):
                out += [anno.set(copy_loc(assign(self.result, s.value, s.lineno), s), anno.RETURN_VALUE),
                        copy_loc(assign(self.returned, const(True), s.lineno), s)]
                if in_loop:
                    out.append(copy_loc(gast.Break(), s))
                return out
            if isinstance(s, (gast.If, gast.For, gast.While)) and _has([s], gast.Return, into_loops=True):
                if isinstance(s, gast.If):
                    s.body = self.loop_returns(s.body, in_loop)
                    s.orelse = self.loop_returns(s.orelse, in_loop)
                else:
                    s.body = self.loop_returns(s.body, True)
                out.append(s)
                rest = self.loop_returns(stmts[i + 1:], in_loop)
                if isinstance(s, (gast.For, gast.While)) and in_loop:
                    out.append(copy_loc(gast.If(test=load(self.returned), body=[copy_loc(gast.Break(), s)],
                                                orelse=rest), s))
                elif rest:
                    out.append(copy_loc(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(self.returned)),
                                                body=rest, orelse=[]), s))
                return out
            out.append(s)
        return out

    # ---- break / continue -------------------------------------------------------------------------
    def loops(self, stmts):
        out = []
        for s in stmts:
            if isinstance(s, gast.If):
                s.body, s.orelse = self.loops(s.body), self.loops(s.orelse)
                out.append(s)
            elif isinstance(s, gast.For):
                out += self.for_(s)
            elif isinstance(s, gast.While):
                out += self.while_(s)
            else:
                out.append(s)
        return out

    def _jumps(self, stmts, brk, skip):
        """Replace break/continue at this loop level by flags; guard statements after a jump."""
        out = []
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Break):
                out += [copy_loc(assign(brk, const(True), s.lineno), s), copy_loc(assign(skip, const(True), s.lineno), s)]
                return out
            if isinstance(s, gast.Continue):
                out.append(copy_loc(assign(skip, const(True), s.lineno), s))
                return out
            if isinstance(s, gast.If) and _has([s], (gast.Break, gast.Continue)):
                s.body, s.orelse = self._jumps(s.body, brk, skip), self._jumps(s.orelse, brk, skip)
                out.append(s)
                rest = self._jumps(stmts[i + 1:], brk, skip)
                if rest:
                    out.append(copy_loc(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=load(skip)),
                                                body=rest, orelse=[]), s))
                return out
            out.append(s)
        return out

    def for_(self, s):
        s.body = self.loops(s.body)
        if not _has(s.body, (gast.Break, gast.Continue)):
            return [s]
        if not _has(s.body, gast.Break):  # continue only: guard the rest of the iteration
            skip = self.namer.fresh("skip")
            s.body = [copy_loc(assign(skip, const(False), s.lineno), s)] + self._jumps(s.body, None, skip)
            return [s]
        # a loop that can break becomes a while loop over a hidden counter: the loop variable is set from
        # it at the top of each iteration (so the body may reassign it, and after the loop it holds the
        # last index visited, as in Python), and the increment runs after `continue` too
        args = s.iter.args
        if len(args) == 1:
            start, stop, step = const(0), args[0], const(1)
        elif len(args) == 2:
            start, stop, step = args[0], args[1], const(1)
        else:
            start, stop, step = args
        if not (isinstance(step, gast.Constant) and isinstance(step.value, int) and step.value != 0):
            fail(s, self.unit, "a range loop with break needs a literal step",
                 "write the step as an integer literal, e.g. range(a, b, 2), or use a while loop")
        i = s.target.id
        k = self.namer.fresh(i + "_next")
        cmp = gast.Lt() if step.value > 0 else gast.Gt()
        test = gast.Compare(left=load(k), ops=[cmp], comparators=[copy.deepcopy(stop)])
        incr = copy_loc(assign(k, gast.BinOp(left=load(k), op=gast.Add(), right=step), s.lineno), s)
        anno.set(incr, anno.INCR)
        w = copy_loc(gast.While(test=test, body=[copy_loc(assign(i, load(k), s.lineno), s)] + s.body + [incr],
                                orelse=[]), s)
        return [copy_loc(assign(k, start, s.lineno), s)] + self.while_(w, nested_done=True)

    def while_(self, s, nested_done=False):
        if not nested_done:     # (a converted for loop's body is structured already)
            s.body = self.loops(s.body)
        go = self.namer.fresh("go")
        test = s.test
        pre = []
        if _has(s.body, (gast.Break, gast.Continue)):
            brk, skip = self.namer.fresh("brk"), self.namer.fresh("skip")
            incr = []
            body = s.body
            # the index increment of a converted for loop must still run after `continue`
            if body and isinstance(body[-1], gast.Assign) and anno.get(body[-1], anno.INCR):
                incr, body = [body[-1]], body[:-1]
            body = [copy_loc(assign(skip, const(False), s.lineno), s)] + self._jumps(body, brk, skip) + incr
            pre.append(copy_loc(assign(brk, const(False), s.lineno), s))
            again = gast.BoolOp(op=gast.And(), values=[gast.UnaryOp(op=gast.Not(), operand=load(brk)),
                                                         copy.deepcopy(test)])
        else:
            body = s.body
            again = copy.deepcopy(test)
        pre.append(copy_loc(assign(go, test, s.lineno), s))
        s.test = load(go)
        s.body = body + [copy_loc(assign(go, again, s.lineno), s)]
        return pre + [s]


def structure(unit):
    """Apply the control-flow normalisation to unit.node; returns the unit. A function that returns no value on
    any path (a procedure, called for its effect) returns None: `return` reads `return None`, and one ends its
    body where it may fall off the end (annotations.PROCEDURE notes it)."""
    cf = _ControlFlow(unit)
    fn = unit.node
    returns = [s for s in walk_statements(fn.body) if isinstance(s, gast.Return)]
    if all(s.value is None or (isinstance(s.value, gast.Constant) and s.value.value is None) for s in returns):
        for s in returns:
            s.value = const(None)
        if not _always_returns(fn.body):
            fn.body.append(copy_loc(gast.Return(value=const(None)), fn.body[-1]))
        anno.set(fn, anno.PROCEDURE, True)
    body = fn.body
    if any(_has(s.body, gast.Return, into_loops=True) for s in walk_of(fn, _LOOPS)) \
            or _duplicates_tail(cf, body):
        if not _always_returns(body) and not isinstance(body[-1], gast.Return) and not _endless(body[-1]):
            fail(fn, unit, f"{fn.name} must end with a return statement")
        cf.result, cf.returned = cf.namer.fresh("result"), cf.namer.fresh("returned")
        body = [assign(cf.returned, const(False), fn.lineno)] + cf.loop_returns(body)
        ret = gast.Return(value=load(cf.result))
        ret.lineno = fn.body[-1].lineno
        body.append(ret)
    else:
        body = cf.returns(body)
        if not _always_returns(body):
            fail(fn, unit, f"{fn.name} must return a value on every path",
                 "end the function with a return of the value to differentiate")
    body = cf.loops(body)
    fn.body = _hoist_final_return(body, cf)
    return unit


def _duplicates_tail(cf, body) -> bool:
    """Whether rewriting the early returns into if/else nesting (`returns`) would copy the statements after an
    `if` into more than one branch (an early return in a branch of a branch, or in an `elif`): each copy is
    differentiated on its own, and a gradient differentiated again holds every copy's forward and backward sweeps
    (nested fuzz seed 30: three copies of the function's last five lines, a 2 439-line outer gradient Numba ran
    past 180 s compiling). There the returns set a flag, as inside loops, and the rest runs once `if not
    returned`. (A function that ends in a return or returns on every path: the flag's form needs one.)"""
    if not (_always_returns(body) or isinstance(body[-1], gast.Return) or _endless(body[-1])):
        return False
    if not any(isinstance(s, gast.If) and _has([s], gast.Return) for s in body):
        return False    # `returns` leaves the body as it is (no copy of a 1 000-statement body to learn it)
    before = sum(1 for _ in walk_statements(body))
    return sum(1 for _ in walk_statements(cf.returns(copy.deepcopy(body)))) > before


def _hoist_final_return(body, cf):
    """Make the function end in exactly one `return name` (branches assign a result instead)."""
    if isinstance(body[-1], gast.Return) and not _has(body[:-1], gast.Return, into_loops=True):
        return body
    result = cf.result or cf.namer.fresh("result")

    def rewrite(stmts):
        out = []
        for s in stmts:
            if isinstance(s, gast.Return):
                out.append(anno.set(copy_loc(assign(result, s.value, s.lineno), s), anno.RETURN_VALUE))
            elif isinstance(s, gast.If):
                s.body, s.orelse = rewrite(s.body), rewrite(s.orelse)
                out.append(s)
            elif isinstance(s, (gast.For, gast.While)):
                s.body = rewrite(s.body)
                out.append(s)
            else:
                out.append(s)
        return out

    ret = gast.Return(value=load(result))
    ret.lineno = body[-1].lineno
    return rewrite(body) + [ret]
