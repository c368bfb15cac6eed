"""Elementwise fusion: a temporary read once by the next elementwise statement is written into it."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import is_comment, loaded_names, nested_blocks, walk
from ..kinds import is_array
from .names import NameIndex


# ---- elementwise fusion ------------------------------------------------------------------------------
def _fusing_calls():
    from ...rules import RULES, fuses_under_numba
    return frozenset(n for n in RULES if fuses_under_numba(n))


ELEMENTWISE_CALLS = _fusing_calls()   # the rule records' elementwise NumPy ufuncs (srcdiff/rules)
ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.USub, gast.UAdd)


def elementwise(e, calls=None) -> bool:
    """An expression NumPy evaluates elementwise and Numba fuses into one loop (array expressions);
    with `calls`, one made of operators and those elementwise functions (its value broadcasts them)."""
    calls = ELEMENTWISE_CALLS if calls is None else calls
    if isinstance(e, (gast.Name, gast.Constant)):
        return True
    if isinstance(e, gast.BinOp):
        return isinstance(e.op, ELEMENTWISE_OPS) and elementwise(e.left, calls) and elementwise(e.right, calls)
    if isinstance(e, gast.UnaryOp):
        return isinstance(e.op, ELEMENTWISE_OPS) and elementwise(e.operand, calls)
    if isinstance(e, gast.Call):
        from ..astutil import dotted_name
        return dotted_name(e.func) in calls and not e.keywords and all(elementwise(a, calls) for a in e.args)
    return False


def broadcasting(e) -> bool:
    return elementwise(e, _BROADCASTING)


def _broadcasting_calls():
    from ...rules import names_with
    return names_with("elementwise")


_BROADCASTING = _broadcasting_calls()   # the rules whose dims law is elementwise (made once, as ELEMENTWISE_CALLS)


def fuse_elementwise(fn: gast.FunctionDef, kinds: dict, index: NameIndex | None = None) -> gast.FunctionDef:
    """`t = <elementwise>` read once, by the next elementwise statements of the same block and source
    line, is written into that statement: `r = np.log1p(np.exp(-np.abs(z)))` instead of three
    temporaries, so Numba compiles one loop and allocates one array. Arrays only (scalars cost nothing).
    `index`: the function's name index (optimize/names.py), kept up to date; built if not given."""
    _Fusion(kinds, index or NameIndex(fn)).block(fn.body)
    return fn


def _reads_and_stores(u) -> tuple:
    """(names statement `u` reads, names it stores or writes into)."""
    reads, stored = set(), set()
    for n in walk(u):
        kind = type(n)
        if kind is gast.Name:
            if type(n.ctx) is gast.Load:
                reads.add(n.id)
            elif type(n.ctx) is gast.Store:
                stored.add(n.id)
        elif kind is gast.Subscript and type(n.ctx) is gast.Store and type(n.value) is gast.Name:
            stored.add(n.value.id)
    return reads, stored


def _written_into(u, t: str, value) -> None:
    """`value` in place of each read of `t` in the value of statement `u`."""
    for n in walk(u.value):
        for f, v in gast.iter_fields(n):
            if isinstance(v, gast.Name) and v.id == t:
                setattr(n, f, value)
            elif isinstance(v, list):
                v[:] = [value if isinstance(x, gast.Name) and x.id == t else x for x in v]
    if isinstance(u.value, gast.Name) and u.value.id == t:
        u.value = value


class _Fusion:
    """fuse_elementwise over one function: `kinds`, and the `index` of its names (the reads and assignments of
    each, the pinned ones)."""

    def __init__(self, kinds: dict, index: NameIndex):
        self.kinds, self.index = kinds, index
        self.loads, self.counts, self.pinned = index.loads, index.counts, index.pinned

    def candidate(self, s):
        """The name `s` assigns if its value may move into its one reader, else None."""
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            return None
        t = s.targets[0].id
        k = self.kinds.get(t)
        if (not is_array(k) or self.counts.get(t) != 1 or self.loads.get(t) != 1 or t in self.pinned
                or anno.get(s, anno.PHI) or not elementwise(s.value)
                or isinstance(s.value, (gast.Name, gast.Constant))):
            return None
        return t

    def block(self, stmts):
        for s in stmts:
            for b in nested_blocks(s):
                self.block(b)
        facts = {}   # id(statement) -> (names it reads, names it stores or writes into), as needed
        k = 0
        while k < len(stmts):
            s = stmts[k]
            t = self.candidate(s)
            if t is None or not self.moved(stmts, k, t, facts):
                k += 1
            else:
                self.index.dropped(t, reads=1)   # (its value's reads moved into its reader)

    @staticmethod
    def moved(stmts, k: int, t: str, facts: dict) -> bool:
        """Move the value of `stmts[k]` (assigning `t`) into the statement after it that reads `t`, if that is
        an elementwise assignment to a name of the same source line and nothing between them rebinds an
        operand: whether it moved (`stmts[k]` is then gone)."""
        s = stmts[k]
        operands = loaded_names(s.value)
        for j in range(k + 1, len(stmts)):
            u = stmts[j]
            if is_comment(u):
                break   # another source line: keep each adjoint block under its own comment
            if id(u) not in facts:
                facts[id(u)] = _reads_and_stores(u)
            reads, stored = facts[id(u)]
            if t in reads:
                if (isinstance(u, (gast.Assign, gast.AugAssign))
                        and isinstance(u.targets[0] if isinstance(u, gast.Assign) else u.target, gast.Name)
                        and elementwise(u.value)):
                    _written_into(u, t, s.value)
                    del stmts[k]
                    facts.pop(id(u), None)   # it reads s's operands now
                    facts.pop(id(s), None)
                    return True
                break
            if stored & operands or not isinstance(u, (gast.Assign, gast.AugAssign)):
                break
        return False
