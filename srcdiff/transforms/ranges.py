"""What desugar needs to know of a `range(...)` it rewrites: how many items it gives, whether it gives any, and
the range that visits its items backwards (for `reversed(range(...))` and the loops desugar writes over
positions). The forms are written for the user to read in the generated code: `range(hi - 1, lo - 1, -1)` for a
unit step, a length through `len(range(...))` only where the step is not a literal.

reverse_support.reversed_range is the backward sweep's own (it simplifies constants and keeps `range(b + 1, a + 1)`
for a step of -1): the two give different text for the same range, and the generated code each makes is pinned
by the tests, so they stay two."""
from __future__ import annotations

import copy

import gast

from .astutil import const, load


def range_length(it):
    """How many items range(...) gives, as the trip count of a loop over positions."""
    if len(it.args) == 1:
        return copy.deepcopy(it.args[0])
    return gast.Call(func=load("len"), args=[copy.deepcopy(it)], keywords=[])


def reversed_range(args):
    """The arguments of a range visiting range(*args)'s items backwards: range(hi - 1, lo - 1, -1) for a unit
    step; range(lo + (len(range(lo, hi, st)) - 1) * st, lo - st, -st) for a step st of either sign (empty
    where range(*args) is)."""
    if len(args) == 1:
        args = [const(0)] + args
    if len(args) == 2 or (isinstance(args[2], gast.Constant) and args[2].value == 1):
        lo, hi = args[:2]
        return [gast.BinOp(left=hi, op=gast.Sub(), right=const(1)), gast.BinOp(left=lo, op=gast.Sub(), right=const(1)),
                const(-1)]
    lo, hi, step = args
    trips = gast.Call(func=load("len"), args=[gast.Call(func=load("range"), args=copy.deepcopy(args), keywords=[])],
                      keywords=[])
    last = gast.BinOp(left=copy.deepcopy(lo), op=gast.Add(), right=gast.BinOp(
        left=gast.BinOp(left=trips, op=gast.Sub(), right=const(1)), op=gast.Mult(), right=copy.deepcopy(step)))
    back = (const(-step.value) if isinstance(step, gast.Constant) and type(step.value) is int
            else gast.UnaryOp(op=gast.USub(), operand=copy.deepcopy(step)))
    return [last, gast.BinOp(left=copy.deepcopy(lo), op=gast.Sub(), right=copy.deepcopy(step)), back]


def range_runs(args):
    """The test that range(*args) is not empty."""
    if len(args) < 3:
        lo, hi = (const(0), args[0]) if len(args) == 1 else args[:2]
        return gast.Compare(left=lo, ops=[gast.Lt()], comparators=[hi])
    lo, hi, step = args
    if isinstance(step, gast.Constant) and type(step.value) is int:
        return gast.Compare(left=lo, ops=[gast.Lt() if step.value > 0 else gast.Gt()], comparators=[hi])
    return gast.Compare(left=gast.BinOp(left=gast.BinOp(left=hi, op=gast.Sub(), right=lo), op=gast.Mult(), right=step),
                        ops=[gast.Gt()], comparators=[const(0)])
