"""What reverse mode (reverse*.py) and its checkpointed loops (checkpoints.py) share: constant folding
of the expressions they write (`simplify`), and facts about blocks of SSA statements: the names they
assign and load, the arrays they write into, the names that hold ints, and a range run backwards."""
from __future__ import annotations

import operator

import gast

from . import annotations as anno
from .astutil import Transformer, call, child_fields, clone, const, dotted_name, loaded_names, walk_of, walk_statements
from .kinds import I

INT_OPS = (gast.FloorDiv, gast.Mod, gast.BitAnd, gast.BitOr, gast.BitXor, gast.LShift, gast.RShift)


_FOLD = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul, gast.Div: operator.truediv,
         gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod, gast.Pow: operator.pow,
         gast.LShift: operator.lshift, gast.RShift: operator.rshift, gast.BitOr: operator.or_,
         gast.BitXor: operator.xor, gast.BitAnd: operator.and_}   # constant folding: Python's own operators


class Simplify(Transformer):
    def visit_Name(self, n):       # (a leaf: nothing under it to fold; not walked)
        return n

    visit_Constant = visit_Name

    def visit_BinOp(self, n):
        self.generic_visit(n)
        L, R = n.left, n.right
        lc, rc = isinstance(L, gast.Constant), isinstance(R, gast.Constant)
        num = lambda c: isinstance(c.value, (int, float)) and not isinstance(c.value, bool)  # noqa: E731
        if lc and rc and num(L) and num(R) and type(n.op) in _FOLD:
            try:
                return const(_FOLD[type(n.op)](L.value, R.value))
            except Exception:    # 1 / 0, an overflow: left as written, as Python would raise at run time
                return n
        if rc and num(R):
            if isinstance(n.op, gast.Pow) and R.value == 1:
                return L
            if isinstance(n.op, (gast.Mult, gast.Div)) and R.value == 1:
                return L
            if isinstance(n.op, (gast.Add, gast.Sub)) and R.value == 0:
                return L
        if lc and num(L) and isinstance(n.op, gast.Mult) and L.value == 1:
            return R
        if lc and num(L) and isinstance(n.op, gast.Add) and L.value == 0:
            return R
        return n

    def visit_Call(self, n):
        """rt.pow_slope(x, c) for a literal c: 0.0 for c == 0, c * x ** (c - 1) for c >= 1 (no negative
        power of x), else the helper (NumPy's inf at x = 0, not Python's ZeroDivisionError). rt.times_slope(t, s)
        of such a finite slope (no helper, no division left in it) is t * s: it differs only where s is infinite."""
        self.generic_visit(n)
        if dotted_name(n.func) == "rt.times_slope" and len(n.args) == 2 and not any(
                isinstance(m, gast.Call) or isinstance(m, gast.BinOp) and isinstance(m.op, gast.Div)
                for m in gast.walk(n.args[1])):
            return self.visit(gast.BinOp(left=n.args[0], op=gast.Mult(), right=n.args[1]))
        if dotted_name(n.func) == "rt.pow_slope" and len(n.args) == 2 and isinstance(n.args[1], gast.Constant):
            c = n.args[1].value
            if type(c) in (int, float) and c == 0:
                return const(0.0)
            if type(c) in (int, float) and c >= 1:
                return self.visit(gast.BinOp(left=n.args[1], op=gast.Mult(), right=gast.BinOp(
                    left=n.args[0], op=gast.Pow(), right=gast.BinOp(left=const(c), op=gast.Sub(), right=const(1)))))
        return n


def simplify(e):
    """Fold constants and drop identities (x ** 1, x * 1.0) so generated code reads naturally."""
    return Simplify().visit(e)


def trip_count(count):
    """`max(count, 0)`, the trip count of a loop over `range` of `count` (which may be negative), or the number
    itself where `count` is a constant (a tape of `np.empty(max(6, 0))` reads as no person writes it)."""
    count = simplify(count)
    if isinstance(count, gast.Constant) and type(count.value) is int:
        return const(max(count.value, 0))
    return call("max", count, const(0))


def assigned_in(stmts) -> set:
    """Names assigned (and for-loop targets) anywhere in `stmts`."""
    out = set()
    for s in stmts:
        for n in walk_of(s, _BINDERS):     # (a walk that yields only these)
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                out.add(n.targets[0].id)
            if isinstance(n, gast.For):
                out.add(n.target.id)
    return out


_BINDERS = frozenset((gast.Assign, gast.For))


def defs_and_loads(stmts) -> tuple:
    """({name: assignments to it and loops over it}, {name: reads of it}) anywhere in `stmts`."""
    facts = BodyFacts()
    for s in stmts:
        facts.count(s)
    return facts.defs, facts.loads


_DEFS_AND_LOADS = frozenset((gast.Assign, gast.For, gast.Name))


class BodyFacts:
    """What a loop's body (nested loops included) binds and reads, as `defs_and_loads`, `assigned_in` and
    `assignments` of it find: `defs` {name: assignments to it and loops over it}, `loads` {name: reads of it},
    `assigns` {name: assignments `name = ...`}, `phis` (the names back-edge copies assign, annotations.PHI) and
    `plain` (those other assignments bind)."""
    __slots__ = ("defs", "loads", "assigns", "phis", "plain")

    def __init__(self):
        self.defs, self.loads, self.assigns, self.phis, self.plain = {}, {}, {}, set(), set()

    def add(self, other: "BodyFacts"):
        for mine, theirs in ((self.defs, other.defs), (self.loads, other.loads), (self.assigns, other.assigns)):
            for k, c in theirs.items():
                mine[k] = mine.get(k, 0) + c
        self.phis |= other.phis
        self.plain |= other.plain

    def count(self, node):
        """Add what `node` and the nodes under it bind and read (walk_of: no order needed)."""
        defs, loads, assigns = self.defs, self.loads, self.assigns
        for n in walk_of(node, _DEFS_AND_LOADS):
            kind = type(n)
            if kind is gast.Assign:
                if isinstance(n.targets[0], gast.Name):
                    t = n.targets[0].id
                    defs[t] = defs.get(t, 0) + 1
                    assigns[t] = assigns.get(t, 0) + 1
                    (self.phis if anno.get(n, anno.PHI) else self.plain).add(t)
                elif anno.get(n, anno.PHI):
                    self.phis.add(n.targets[0].id)
            elif kind is gast.For:
                defs[n.target.id] = defs.get(n.target.id, 0) + 1
            else:
                if isinstance(n.ctx, gast.Load):
                    loads[n.id] = loads.get(n.id, 0) + 1
                if getattr(n, "annotation", None) is not None:   # (walk_of does not look under a Name)
                    self.count(n.annotation)


def loop_bodies(fn) -> dict:
    """{id(loop): (loop, BodyFacts of its body)} for every for and while loop in `fn`, found in one walk of it,
    bottom up: each loop's facts are its own statements' plus its nested loops' (not a walk of its whole body per
    loop, whose work grew with the square of the nesting depth). Made once per pass over a tree the pass does not
    change (reverse mode's primal function); a loop not in it (`loop_facts`) is counted on its own."""
    index: dict = {}

    def stmt(st, into: BodyFacts):
        kind = type(st)
        if kind not in _BLOCKY:
            into.count(st)
            return
        if kind is gast.For:
            into.defs[st.target.id] = into.defs.get(st.target.id, 0) + 1
        for f in child_fields(kind):
            v = getattr(st, f, None)
            if v is None:
                continue
            if f in ("body", "orelse") and type(v) is list:
                if f == "body" and kind is not gast.If:
                    own = BodyFacts()
                    for b in v:
                        stmt(b, own)
                    index[id(st)] = (st, own)
                    into.add(own)
                else:
                    for b in v:
                        stmt(b, into)
            else:
                into.count(v)
    top = BodyFacts()
    for st in fn.body:
        stmt(st, top)
    return index


_BLOCKY = frozenset((gast.For, gast.While, gast.If))


def loop_facts(index: dict, loop) -> BodyFacts:
    """`loop`'s BodyFacts from `index` (loop_bodies), or counted now where it is not there."""
    got = index.get(id(loop))
    if got is not None and got[0] is loop:
        return got[1]
    facts = BodyFacts()
    for st in loop.body:
        facts.count(st)
    return facts


def loaded_in(stmts) -> set:
    """Names read anywhere in `stmts`."""
    out = set()
    for s in stmts:
        out |= loaded_names(s)
    return out


def written_arrays(stmts) -> set:
    """Arrays written element-wise (`a[i] = v`) anywhere in `stmts`."""
    return {n.targets[0].value.id for n in walk_statements(stmts)
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)}


def int_names(fn) -> set:
    """Names that certainly hold Python ints: range loop indices and integer arithmetic on them (`fn`: a
    function, or a loop, whose own index counts)."""
    ints = {n.target.id for n in walk_statements([fn]) if isinstance(n, gast.For)}
    changed = True
    while changed:
        changed = False
        for n in walk_statements([fn]):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) and n.targets[0].id not in ints:
                v = n.value
                ok = False
                if isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Sub, gast.Mult) + INT_OPS):
                    ok = all(is_int_atom(a, ints) for a in (v.left, v.right))
                elif isinstance(v, gast.Call) and dotted_name(v.func) in ("len", "int"):
                    ok = True
                elif is_int_atom(v, ints):
                    ok = True
                if ok:
                    ints.add(n.targets[0].id)
                    changed = True
    return ints


def is_int_atom(a, ints) -> bool:
    """An int constant, or a name in `ints`."""
    if isinstance(a, gast.Constant):
        return isinstance(a.value, int) and not isinstance(a.value, bool)
    return isinstance(a, gast.Name) and a.id in ints


class IntNames:
    """The names that hold ints: `names` and those `kinds` says are ints, asked one at a time (`n in ints`), with
    `kinds` read when asked (reverse mode adds kinds as it goes). What `{k for k, v in kinds.items() if v == I}`
    held, without building that set (of every name of the function) for each index tested: a program of a
    thousand element writes built it for each of its reads of an element, 10 of its 17 s of reverse mode."""

    def __init__(self, kinds, names=frozenset()):
        self.kinds, self.names = kinds, names

    def __contains__(self, n) -> bool:
        return n in self.names or self.kinds.get(n) == I


def basic_index(idx, ints) -> bool:
    """An index of slices, int atoms and an Ellipsis only (basic indexing: a view, each element named once; the
    adjoint of a read `y[..., 0]` was rt.index_add's scatter, and its view was kept past a write the backward sweep
    undoes, where `y[:, 0]`'s is taken again: the CUDA target declined both, h26a)."""
    elts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    return all(isinstance(e, gast.Slice) or is_int_atom(e, ints) or (isinstance(e, gast.Constant) and e.value is Ellipsis)
               for e in elts)


def reversed_range(args):
    """range(...) visiting the same indices backwards."""
    if len(args) == 1:
        return call("range", simplify(gast.BinOp(left=clone(args[0]), op=gast.Sub(), right=const(1))),
                    const(-1), const(-1))
    if len(args) == 2 or (isinstance(args[2], gast.Constant) and args[2].value == 1):
        a, b = args[0], args[1]
        return call("range", simplify(gast.BinOp(left=clone(b), op=gast.Sub(), right=const(1))),
                    simplify(gast.BinOp(left=clone(a), op=gast.Sub(), right=const(1))), const(-1))
    if isinstance(args[2], gast.Constant) and args[2].value == -1:   # range(a, b, -1): range(b + 1, a + 1)
        a, b = args[0], args[1]
        return call("range", simplify(gast.BinOp(left=clone(b), op=gast.Add(), right=const(1))),
                    simplify(gast.BinOp(left=clone(a), op=gast.Add(), right=const(1))))
    a, b, c = (clone(x) for x in args)
    n = call("len", call("range", a, b, c))
    last = gast.BinOp(left=clone(a), op=gast.Add(), right=gast.BinOp(
        left=gast.BinOp(left=n, op=gast.Sub(), right=const(1)), op=gast.Mult(), right=clone(c)))
    return call("range", last, gast.BinOp(left=clone(a), op=gast.Sub(), right=clone(c)),
                gast.UnaryOp(op=gast.USub(), operand=clone(c)))


def trailing_phis(stmts) -> int:
    """How many back-edge copies end the block (the pushes and the iteration count go before them)."""
    n = 0
    for s in reversed(stmts):
        if not anno.get(s, anno.PHI):
            break
        n += 1
    return n


def assignments(stmts) -> dict:
    """{name: how many statements in `stmts` (nested ones included) bind it}: assignments and loop targets."""
    out: dict = {}
    for s in stmts:
        for n in walk_of(s, _BINDERS):     # (counts: in any order)
            t = n.targets[0] if isinstance(n, gast.Assign) else n.target if isinstance(n, gast.For) else None
            if isinstance(t, gast.Name):
                out[t.id] = out.get(t.id, 0) + 1
    return out
