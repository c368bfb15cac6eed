"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): a name that a loop or a branch
binds, reads there only after binding it, and that nothing reads after it, takes a name of its own there, where
the name is bound before it too.

Numba rebuilds the SSA form of the function it compiles one name at a time: for each name bound more than once
(or read where its one binding does not dominate), two walks over every statement of the function. Its work is
those names times the function's statements, and a gradient binds the same names in the forward sweep's loops and
again in the backward sweep's (a loop's index and test, the values its branches tape and read back, what an
inner loop carries):

    for i0 in range(n1):                      for i0 in range(n1):
        cond2 = cond1 > 0.0                       cond2 = cond1 > 0.0
        ...                                       ...
    for i0 in range(n1 - 1, -1, -1):   ->     for i0v1 in range(n1 - 1, -1, -1):
        cond2 = cond2_tape[i0]                    cond2v1 = cond2_tape[i0v1]
        if cond2:                                 if cond2v1:

Each of these is bound once in its loop, and Numba has nothing to rebuild for it (twenty loop blocks with nested
loops and branches, benchmarks/generation_scaling.py: 242 names to rebuild over 4 966 statements -> 62; its SSA
rebuild 2.8-3.1 -> 0.6-0.7 s of CPU). A name read before the statement binds it (a value carried into a loop) or
after it keeps its name, and a function with a nested function, a lambda or a comprehension (names of another
scope) is left as it is.
"""
from __future__ import annotations

import gast

from .astutil import Namer, rewritten, walk, with_blocks

_COMPOUND = (gast.For, gast.While, gast.If)
_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
           gast.GeneratorExp, gast.ClassDef)


def _reads(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _names_stored(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


class _Facts:
    """Each statement's (names it may read before binding them, names bound after it on every path, names it
    binds anywhere), with nothing bound before it; found once a statement, a compound one's from its blocks'
    (a walk of each loop whole, nested loops included, for every loop around it grew with the square of the
    nesting depth). Given the names bound before a statement, it reads `exposed - bound` before binding them and
    binds `bound | its own` on every path. The statements are kept with their facts, so an id is never reused."""

    def __init__(self):
        self.memo = {}

    def of(self, s) -> tuple:
        got = self.memo.get(id(s))
        if got is None:
            got = self.memo[id(s)] = (s, *self._facts(s))
        return got[1:]

    def stores(self, s) -> set:
        return self.of(s)[2]

    def sequence(self, stmts, bound) -> tuple:
        """(the names `stmts` may read before binding them, given `bound` before them; the names bound after them
        on every path)."""
        exposed, bound = set(), set(bound)
        for s in stmts:
            e, b, _ = self.of(s)
            exposed |= e - bound
            bound |= b
        return exposed, bound

    def _stored_in(self, blocks) -> set:
        return set().union(*(self.stores(s) for b in blocks for s in b))

    def _facts(self, s) -> tuple:
        if isinstance(s, gast.If):
            e1, b1 = self.sequence(s.body, ())
            e2, b2 = self.sequence(s.orelse, ())
            return _reads(s.test) | e1 | e2, b1 & b2, _names_stored(s.test) | self._stored_in((s.body, s.orelse))
        if isinstance(s, gast.For):
            target = _names_stored(s.target)
            exposed = _reads(s.iter) | self.sequence(s.body, target)[0] | self.sequence(s.orelse, ())[0]
            return exposed, set(), target | _names_stored(s.iter) | self._stored_in((s.body, s.orelse))
        if isinstance(s, gast.While):
            exposed = _reads(s.test) | self.sequence(s.body, ())[0] | self.sequence(s.orelse, ())[0]
            return exposed, set(), _names_stored(s.test) | self._stored_in((s.body, s.orelse))
        stored = _names_stored(s)
        if isinstance(s, (gast.Assign, gast.AnnAssign, gast.Expr, gast.Return, gast.Raise, gast.Assert, gast.Pass,
                          gast.Break, gast.Continue)):
            return _reads(s), stored, stored
        # (an augmented assignment reads its target; anything else: everything it names)
        return {n.id for n in walk(s) if isinstance(n, gast.Name)}, stored, stored


BlockFacts, reads, names_stored = _Facts, _reads, _names_stored   # (function_parts.py splits by the same facts)


def _block(stmts: list, live_out: set, earlier: set, namer: Namer, facts: _Facts) -> list:
    """`stmts` with the names local to each loop or branch in it renamed there (module docstring): `live_out`, the
    names read after the block; `earlier`, those bound before it (updated with the block's)."""
    live = set(live_out)
    after = [None] * len(stmts)
    for k in range(len(stmts) - 1, -1, -1):     # the names read after each loop or branch
        if isinstance(stmts[k], _COMPOUND):
            after[k] = set(live)
        exposed, bound, _ = facts.of(stmts[k])
        live = (live - bound) | exposed
    out = []
    for s, live_after in zip(stmts, after):
        stored_here = facts.stores(s)   # (the names s binds; a renamed one was bound before it, and the fresh
        if isinstance(s, _COMPOUND):    # names are bound nowhere else)
            exposed, _, stored = facts.of(s)
            renames = {n: namer.fresh(n) for n in sorted(stored & earlier) if n not in exposed and n not in live_after}
            if renames:
                s = rewritten(s, lambda n: gast.Name(id=renames[n.id], ctx=n.ctx, annotation=n.annotation,
                                                     type_comment=n.type_comment)
                              if type(n) is gast.Name and n.id in renames else n)
            # inside: a block's names read after it are those read after the statement, and a loop body's also
            # those its next iteration may read before binding them (and a while loop's test)
            inner_live = set(live_after)
            if isinstance(s, gast.For):
                inner_live |= facts.sequence(s.body, _names_stored(s.target))[0]
            elif isinstance(s, gast.While):
                inner_live |= facts.sequence(s.body, ())[0] | _reads(s.test)
            changed = []

            def inside(block, s=s, inner_live=inner_live, changed=changed):
                bound = _names_stored(s.target) if isinstance(s, gast.For) and block is s.body else set()
                got = _block(block, inner_live, set(earlier) | bound, namer, facts)
                if any(a is not b for a, b in zip(got, block)):
                    changed.append(block)
                    return got
                return block
            new = with_blocks(s, inside)
            s = new if changed else s
        earlier |= stored_here
        out.append(s)
    return out


def local_names(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn` with the names local to its loops and branches renamed there (module docstring); the statements it
    does not change are `fn`'s own (the compiled form's emit reuses their text)."""
    if not any(isinstance(s, _COMPOUND) for s in fn.body) or \
            any(isinstance(n, _SCOPES) for n in walk(gast.Module(body=fn.body, type_ignores=[]))):
        return fn
    namer = Namer({n.id for n in walk(fn) if isinstance(n, gast.Name)} | {a.id for a in fn.args.args})
    params = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
    body = _block(fn.body, set(), set(params), namer, _Facts())
    if all(a is b for a, b in zip(body, fn.body)):
        return fn
    new = type(fn).__new__(type(fn))
    new.__dict__.update(fn.__dict__)
    new.body = body
    return new
