"""Faint code: what only feeds itself. Liveness (deadcode._Liveness) keeps an assignment whose name is read
later on some path, even where that read only feeds the name again: a loop's counter
(`n1 = n + 1; n = n1`) and what the loop computes beside it stay live through the loop's back edge though
nothing else reads them. A generated gradient has such loops where an array it made is never read (the
array of a comprehension whose values the adjoint never needs: nested fuzz seed 915000, whose loop of
`np.stack([...])`'s items, with the loop that counts them, the outer gradient then taped again).

This pass marks instead what is needed, from what must stay (a return, a call with effects, a write into an
array the caller may see, a stack's push or pop), through the names those read, to the statements that
bind them: an assignment of a pure value stays only where its name is needed, a write into an array the
function made (purity.fresh_locals: no other name sees it) only where the array is read by something that
stays, a branch or a loop only where something in it stays (or, for a loop, its variable is needed after
it). The rest goes. Flow-insensitive (a name needed anywhere keeps all its assignments): liveness, run
again after it, drops the assignments no read follows."""
from __future__ import annotations

import gast

from ..astutil import is_comment, walk, walk_calls, walk_names, walk_statements
from ..purity import fresh_locals, pure_call

__all__ = ["drop_faint"]


def drop_faint(fn: gast.FunctionDef, pure_callees=frozenset()) -> bool:
    """Remove from `fn` (in place) the statements nothing needed reads (see the module's docstring); whether
    any went. Without a loop and without a write through a subscript (a straight-line gradient), liveness, which
    the dead-code pass runs just before, has left nothing faint: on acyclic code it keeps a statement only for a
    later one that stays, and each of its other roots is one here too; the function is not walked again."""
    loops = writes = False
    for s in walk_statements(fn.body):
        kind = type(s)
        if kind is gast.For or kind is gast.While:
            loops = True
        elif (kind is gast.Assign or kind is gast.AugAssign) and \
                type(s.targets[0] if kind is gast.Assign else s.target) is gast.Subscript:
            writes = True
    if not loops and not writes:
        return False
    graph = _Needs(fn, pure_callees, writes)
    graph.block(fn.body, ())
    graph.solve()
    if not graph.faint:
        return False
    _sweep(fn.body, graph.kept)
    return True


class _Needs:
    """The statements of one function, each with the names it reads and what makes it needed: always
    (`roots`), a name being needed (`triggers`: an assignment's target, a written array, a loop's
    variable), or a statement under it being needed (its `parents`)."""

    def __init__(self, fn, pure_callees, writes: bool = True):
        self.pure_callees = pure_callees
        # (only a write through a subscript asks, `writes`: without one, the function is not walked for it)
        arrays = fresh_locals(fn) if writes else {}
        self.fresh = {n for n, what in arrays.items() if what != "list"}
        self.reads: dict = {}       # id(statement) -> the names it (its header, for a branch or loop) reads
        self.parents: dict = {}     # id(statement) -> the statements it is under
        self.triggers: dict = {}    # name -> statements needed once it is
        self.roots: list = []
        self.candidates: list = []  # the statements that may go
        self.kept: set = set()
        self.needed: set = set()
        self.faint: list = []

    def pure(self, node) -> bool:
        return all(pure_call(n) or (type(n.func) is gast.Name and n.func.id in self.pure_callees)
                   for n in walk_calls(node))

    def note(self, s, parents, reads, triggers=()):
        self.reads[id(s)] = reads
        self.parents[id(s)] = parents
        if triggers is None:
            self.roots.append(s)
            return
        self.candidates.append(s)
        for t in triggers:
            self.triggers.setdefault(t, []).append(s)

    def block(self, stmts, parents):
        for s in stmts:
            if is_comment(s) or isinstance(s, gast.Pass):
                continue
            kind = type(s)
            if kind is gast.If or kind is gast.While:
                self.note(s, parents, _loads(s.test), () if self.pure(s.test) else None)
                self.block(s.body, parents + (s,))
                self.block(s.orelse, parents + (s,))
            elif kind is gast.For:
                bound = [n.id for n in walk_names(s.target)]
                plain = all(type(n) in (gast.Name, gast.Tuple, gast.List) for n in walk(s.target)
                            if isinstance(n, gast.expr))
                self.note(s, parents, _loads(s.iter), bound if plain and self.pure(s.iter) else None)
                self.block(s.body, parents + (s,))
                self.block(s.orelse, parents + (s,))
            else:
                self.simple(s, parents)

    def simple(self, s, parents):
        kind = type(s)
        if kind is gast.Assign and len(s.targets) == 1 and self.pure(s.value):
            target = s.targets[0]
            if type(target) is gast.Name:
                return self.note(s, parents, _loads(s.value), (target.id,))
            if type(target) is gast.Tuple and all(type(e) is gast.Name for e in target.elts):
                return self.note(s, parents, _loads(s.value), [e.id for e in target.elts])
        if kind in (gast.Assign, gast.AugAssign):
            target = s.targets[0] if kind is gast.Assign else s.target
            if (kind is gast.AugAssign or len(s.targets) == 1) and type(target) is gast.Subscript \
                    and type(target.value) is gast.Name and target.value.id in self.fresh \
                    and self.pure(s.value) and self.pure(target.slice):
                # a write into an array only this function sees: needed where the array is
                return self.note(s, parents, _loads(s.value) | _loads(target.slice), (target.value.id,))
        if kind in (gast.Global, gast.Nonlocal):
            self.needed.update(s.names)     # (an assignment to one is an effect)
        self.note(s, parents, {n.id for n in walk_names(s) if isinstance(n.ctx, gast.Load)}, None)

    def keep(self, s, work: list):
        while id(s) not in self.kept:
            self.kept.add(id(s))
            work.extend(n for n in self.reads[id(s)] if n not in self.needed)
            parents = self.parents[id(s)]
            if not parents:
                return
            s = parents[-1]

    def solve(self):
        work = list(self.needed)
        self.needed.clear()
        for s in self.roots:
            self.keep(s, work)
        while work:
            n = work.pop()
            if n in self.needed:
                continue
            self.needed.add(n)
            for s in self.triggers.get(n, ()):
                self.keep(s, work)
        self.faint = [s for s in self.candidates if id(s) not in self.kept]


def _loads(node) -> set:
    return {n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load)}


def _sweep(stmts: list, kept: set) -> None:
    """Drop from `stmts` (and the blocks under what stays) the statements not kept; a comment or `pass`
    stays with its block (deadcode.without_lone_line_comments drops a comment left alone)."""
    out = []
    for s in stmts:
        if is_comment(s) or isinstance(s, gast.Pass):
            out.append(s)
            continue
        if id(s) not in kept:
            continue
        if type(s) in (gast.If, gast.For, gast.While):
            _sweep(s.body, kept)
            _sweep(s.orelse, kept)
            if all(is_comment(b) for b in s.body):
                s.body.append(gast.Pass())
        out.append(s)
    stmts[:] = out
