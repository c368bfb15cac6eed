"""Desugar surface syntax into a small core (before name resolution): augmented assignment,
tuple unpacking and swaps, chained comparisons, sums over comprehensions, and `for` over
arrays/zip/enumerate/reversed become plain assignments and range loops.

This module holds the pass (`desugar`) and its statement-by-statement rewrites; the two rewrites that are
subjects of their own are its pass class's mixins: comprehensions into loops (comprehension_loops.py) and
`for` over iterables into range loops (iterable_loops.py).
"""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from . import annotations as anno
from . import chained_writes, fstrings, walrus
from .astutil import Namer, Transformer, assign, call, const, copy_loc, dotted_name, load, map_blocks, walk
from .comprehension_loops import ComprehensionLoops
from .iterable_loops import IterableLoops, literal_sequences, split_calls
from .parse import Unit
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


# -- statement desugaring -------------------------------------------------------------------------
class _Desugar(ComprehensionLoops, IterableLoops):
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
        self.literals = literal_sequences(assigns, names)
        self.splits = split_calls(assigns, names)
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
            self.extremes_of_comprehensions(s)
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
        # Python's count check (an array of 3 rows into 2 names raises ValueError): at run time, where the tuples
        # pass drops it for a tuple of known length (tuples.py)
        check = call("rt.check_unpack", load(tmp), const(n))
        anno.set(check, anno.MADE)
        out.append(copy_loc(gast.Expr(value=check), s))
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


def _base(e):
    return e.id if isinstance(e, gast.Name) else "item"


def zero_sum_starts(node):
    """A sum's start where no specialisation tells scalar terms from array ones (callees' primal functions,
    module_builder.primal_name; not forward mode's unspecialised source, which a gradient differentiating a jvp
    reads, knowing the kinds: kind_rewrites.sum_starts): where its loops may not run, back to 0.0 (the first term
    is not evaluated at all); where they always run, `rt.zeros_like(first term)` stays (0.0 for a scalar,
    zeros for an array: the type Numba needs, a sum of arrays being an array). Returns `node`."""
    class Zero(gast.NodeTransformer):
        def visit_If(self, s):   # `if <the loops run>: total = rt.zeros_like(...) / else: total = 0.0`
            # (MADE marks other runtime calls too: the `rt.pop(d_s)` of a gradient's stack that forward mode lowered,
            # in `if len(d_s) > 0: d = rt.pop(d_s) else: d = 0.0`, which became `d = 0.0`: hvp zero, h21a)
            if (len(s.body) == 1 and isinstance(s.body[0], gast.Assign) and len(s.orelse) == 1
                    and anno.get(s.body[0].value, anno.MADE) and isinstance(s.body[0].value, gast.Call)
                    and dotted_name(s.body[0].value.func) == "rt.zeros_like"):
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
