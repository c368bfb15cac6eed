"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): a very large generated
function becomes a function that calls helper functions, one per large loop or branch of it, each compiled by
Numba on its own.

LLVM's work on one function grows faster than the function (about as its size to the power 1.8: the pushes and
pops of a gradient of a gradient's stacks in MemCpyOpt and SROA, the loop passes on its array expressions), and
Numba hands it each generated function as one module: the outer gradient of nested fuzz seed 1008231, one
function of 2 291 lines, took 206 s of CPU to compile, 88% of it in LLVM. Here the loops and branches of such a
function (of more than `LIMIT` statements) move into functions of their own, as a person would write them:

    # line 7: for t in range(n):                   # line 7: for t in range(n):
    ys_old1_tape = np.empty(max(n, 0))              ys_old1_tape = np.empty(max(n, 0))
    for t in range(n):                     ->       ys = simulate_grad_line7(n, a, b, ys, ys_old1_tape)
        ...                                         ...

    def simulate_grad_line7(n, a, b, ys, ys_old1_tape):
        # line 7: for t in range(n):
        for t in range(n):
            ...
        return ys

named after the user's line the loop was made from (the comment above it), taking the names the loop may read
before binding them (its live names), returning those it binds that are read after it. Arrays, lists and tapes
are passed by reference, as Numba passes them, so writes into them are seen by the caller. A part still larger
than `TARGET` statements has its own loops and branches moved out in turn; a loop or branch that cannot move
stays where it is (see `_Splitter.extract`: it leaves its block by a return, break or continue, reads a name that
may be unbound there, or passes an untyped empty list, whose type Numba infers from appends in the same function
only) and its loops and branches are tried instead.

Each part is compiled by Numba as a function of its own, and the function that calls it calls its machine code by
symbol (srcdiff/runtime/_linking.py: a part's code library is never linked into its caller's module, which would
have LLVM optimise the whole again); the disk cache entry of the caller carries the parts' code.
"""
from __future__ import annotations

import gast

from . import annotations as anno
from .astutil import Namer, block_jumps, copy_loc, is_comment, load, nested_blocks, store, walk, with_blocks
from .local_names import BlockFacts, names_stored, reads

LIMIT = 600     # a function of more statements than this is split
TARGET = 150    # a part of more statements than this has its own loops and branches moved out
SMALLEST = 20   # a loop or branch of fewer statements stays in its function

_COMPOUND = (gast.For, gast.While, gast.If)
_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp,
           gast.GeneratorExp, gast.ClassDef, gast.Yield, gast.YieldFrom, gast.Global, gast.Nonlocal)


def split(fn: gast.FunctionDef, taken=(), limit: int | None = None, target: int | None = None,
          smallest: int | None = None) -> tuple:
    """(`fn`, or `fn` calling its parts, [the parts]) (module docstring). `taken`: names the parts' names must not
    be (the module's functions and bound values); `limit`, `target`, `smallest`: LIMIT, TARGET and SMALLEST where
    None. `fn` and its statements are left as they are; the function returned shares the statements it does not
    change (the compiled form's emit reuses their text)."""
    limit, target = LIMIT if limit is None else limit, TARGET if target is None else target
    smallest = SMALLEST if smallest is None else smallest
    sizes = _Sizes()
    if not any(isinstance(t, _COMPOUND) for t in fn.body) or sizes.of_block(fn.body) <= limit:
        return fn, []
    s = _splitter(fn, taken, sizes, target, smallest)
    if s is None:
        return fn, []
    return _with_parts(fn, s, s.block(fn.body, set(), {a.id for a in fn.args.args}, None))


def apart(fn: gast.FunctionDef, wanted, stem: str, taken=()) -> tuple:
    """(`fn` calling its parts, [the parts]): each loop or branch `wanted(statement)` is true of, at any depth of
    `fn`, moved into a part of its own, named `{fn.name}_{stem}`, whatever its size (jit="parallel": the chunks'
    loop on threads, which Numba alone compiles for threads, optimize/rowchunks.py's `on_threads`); (`fn`, [])
    where none is. A statement that cannot move (`_Splitter.extract`) is replaced by `wanted(statement)`'s
    value where that is a list of statements (the same computation, in the function), else left in place."""
    if not any(isinstance(t, _COMPOUND) and wanted(t) for t in _all_statements(fn.body)):
        return fn, []
    s = _splitter(fn, taken, _Sizes(), TARGET, SMALLEST)
    movable = s is not None
    if s is None:       # (a nested scope: nothing moves; each is replaced)
        s = _Splitter(fn, taken, _Sizes(), TARGET, SMALLEST, set(), set())
    s.wanted, s.stem, s.movable = wanted, stem, movable
    body = s.move(fn.body, set(), {a.id for a in fn.args.args}, None)
    return _with_parts(fn, s, body, changed=True)


def _splitter(fn, taken, sizes, target, smallest):
    """The _Splitter of `fn`, or None where `fn` has a nested scope."""
    named, stored = set(), set()    # (one walk of the function: its names, and whether it has a nested scope)
    for n in walk(gast.Module(body=fn.body, type_ignores=[])):
        if type(n) is gast.Name:
            named.add(n.id)
            if type(n.ctx) is gast.Store:
                stored.add(n.id)
        elif isinstance(n, _SCOPES):
            return None
    return _Splitter(fn, taken, sizes, target, smallest, named, stored)


def _with_parts(fn, s, body, changed=False) -> tuple:
    if not (s.parts or changed):
        return fn, []
    new = type(fn).__new__(type(fn))
    new.__dict__.update(fn.__dict__)
    new.body = body
    return new, s.parts


class _Sizes:
    """Statements (comments not counted) of statements and blocks, each compound statement counted once."""

    def __init__(self):
        self.memo = {}

    def of(self, s) -> int:
        got = self.memo.get(id(s))
        if got is None:
            if is_comment(s):
                got = 0
            else:
                got = 1 + sum(self.of_block(b) for b in _blocks(s))
            self.memo[id(s)] = (s, got)
            return got
        return got[1]

    def of_block(self, stmts) -> int:
        return sum(self.of(s) for s in stmts)


def _blocks(s) -> list:
    return nested_blocks(s) if isinstance(s, _COMPOUND) else []


class _Splitter:
    def __init__(self, fn, taken, sizes, target, smallest, named, stored):
        self.fn, self.sizes, self.target, self.smallest = fn, sizes, target, smallest
        self.facts = BlockFacts()
        self.names = stored | {a.id for a in fn.args.args}
        self.namer = Namer(set(taken) | self.names | named)
        self.untyped = {t.id for s in _all_statements(fn.body) if isinstance(s, gast.Assign)
                        and isinstance(s.value, gast.List) and not s.value.elts
                        for t in s.targets if isinstance(t, gast.Name)}
        self.proved = anno.get(fn, anno.BOUNDS_PROVED)
        self.parts = []
        self.wanted, self.stem, self.movable = None, None, True     # (apart)

    def move(self, stmts: list, live_out: set, before: set, sweep, above=None) -> list:
        """(apart) `stmts` with each loop or branch `self.wanted` is true of moved into a part of its own, and the
        blocks of those holding one rewritten so (the arguments as `block`'s)."""
        after = self._live_after(stmts, live_out)
        out, before = [], set(before)
        for k, s in enumerate(stmts):
            if is_comment(s) and anno.has(s, anno.SWEEP):
                sweep = s
            if is_comment(s) and anno.has(s, anno.USER_LINE):
                above = s
            got = None
            if isinstance(s, _COMPOUND):
                kept = self.wanted(s)
                if kept:
                    got = self.extract([s], above, after[k], before, sweep, stem=self.stem) if self.movable else None
                    if got is None and isinstance(kept, list):
                        out += kept
                        before |= self.facts.stores(s)
                        continue
                elif any(isinstance(t, _COMPOUND) and self.wanted(t) for b in nested_blocks(s)
                         for t in _all_statements(b)):
                    got = self.inside(s, after[k], before, sweep, above, self.move)
            out.append(got or s)
            before |= self.facts.stores(s)
        return out

    def _live_after(self, stmts: list, live_out: set) -> list:
        """[the names read after each statement of `stmts`], `live_out` those read after the block."""
        live = set(live_out)
        after = [None] * len(stmts)
        for k in range(len(stmts) - 1, -1, -1):
            after[k] = set(live)
            exposed, bound, _ = self.facts.of(stmts[k])
            live = (live - bound) | exposed
        return after

    def block(self, stmts: list, live_out: set, before: set, sweep, above=None) -> list:
        """`stmts` with its large loops and branches moved into parts: `live_out`, the names read after the block;
        `before`, those bound above it in the text (on some path); `sweep`, the sweep comment the block is under;
        `above`, the comment citing the user's line of the statement the block is in. A part holds a run of loops and branches
        and the statements between them (not those before the first or after the last), up to `target`
        statements, or one larger loop or branch."""
        after = self._live_after(stmts, live_out)
        out, before, k = [], set(before), 0
        while k < len(stmts):
            s = stmts[k]
            if is_comment(s) and anno.has(s, anno.SWEEP):
                sweep = s
            if is_comment(s) and anno.has(s, anno.USER_LINE):
                above = s
            if not isinstance(s, _COMPOUND):
                before |= self.facts.stores(s)
                out.append(s)
                k += 1
                continue
            end = self._run_end(stmts, k)
            run = stmts[k:end]
            new = self.extract(run, above, after[end - 1], before, sweep) \
                if self.sizes.of_block(run) >= self.smallest else None
            if new is not None:
                out.append(new)
            else:
                for j in range(k, end):     # (one at a time: the large ones alone, or their insides)
                    t = stmts[j]
                    if is_comment(t) and anno.has(t, anno.USER_LINE):
                        above = t
                    got = None
                    if isinstance(t, _COMPOUND) and end - k > 1 and self.sizes.of(t) >= self.smallest:
                        got = self.extract([t], above, after[j], before, sweep)
                    if got is None and isinstance(t, _COMPOUND) and self.sizes.of(t) > self.target:
                        got = self.inside(t, after[j], before, sweep, above)
                    out.append(got or t)
                    before |= self.facts.stores(t)
                k = end
                continue
            for t in run:
                before |= self.facts.stores(t)
            k = end
        return out

    def _run_end(self, stmts, k) -> int:
        """The end (exclusive) of the run of statements starting at the loop or branch `stmts[k]`: the loops and
        branches after it, and the statements between, up to `target` statements (module docstring), not past a
        sweep's comment or a return."""
        total, last, m = self.sizes.of(stmts[k]), k, k + 1
        while m < len(stmts) and total <= self.target:
            t = stmts[m]
            if isinstance(t, gast.Return) or is_comment(t) and anno.has(t, anno.SWEEP):
                break
            total += self.sizes.of(t)
            if total > self.target:
                break
            if isinstance(t, _COMPOUND):
                last = m
            m += 1
        return last + 1

    def inside(self, s, live_after: set, before: set, sweep, above, block=None):
        """`s` with the large loops and branches of its blocks moved into parts (`block`: self.block, or
        self.move)."""
        block = block or self.block
        inner_live, inner_before = set(live_after), set(before)
        # (what an earlier iteration bound is not `before`: a name a part takes must be bound above its call in the
        # text, as Numba reads the function; a loop's index and a test's walrus are)
        if isinstance(s, gast.For):
            target = names_stored(s.target)
            inner_live |= self.facts.sequence(s.body, target)[0]
            inner_before |= target | names_stored(s.iter)
        elif isinstance(s, gast.While):
            inner_live |= self.facts.sequence(s.body, ())[0] | reads(s.test)
            inner_before |= names_stored(s.test)
        else:
            inner_before |= names_stored(s.test)
        changed = []

        blocks = block

        def rewrite(stmts):
            got = blocks(stmts, inner_live, inner_before, sweep, above)
            if len(got) != len(stmts) or any(a is not b for a, b in zip(got, stmts)):
                changed.append(stmts)
                return got
            return stmts
        new = with_blocks(s, rewrite)
        return new if changed else s

    def extract(self, run: list, above, live_after: set, before: set, sweep, stem: str | None = None):
        """The call of a new part holding the statements `run` (with `above`, the comment citing the user's line the
        first was made from), or None where they cannot move (module docstring). `stem`: (apart) the part is
        `{fn.name}_{stem}`, taken whole (its loops and branches not moved out)."""
        if any(True for _ in block_jumps(run)):
            return None
        exposed, bound = self.facts.sequence(run, ())
        stored = set().union(*(self.facts.stores(t) for t in run))
        args = sorted(exposed & self.names)
        outs = sorted(stored & live_after)
        for name in outs:
            if name not in bound and name not in args:
                args.append(name)       # (bound on some paths only: the part starts from its value)
        args.sort()
        if not set(args) <= before or (set(args) | set(outs)) & self.untyped:
            return None
        line = anno.get(above, anno.USER_LINE)[0] if above is not None else None
        backward = sweep is not None and anno.get(sweep, anno.SWEEP) == "backward"
        name = self.namer.fresh(f"{self.fn.name}_{stem}" if stem else f"{self.fn.name}_line{line}"
                                + ("_back" if backward else "") if line else f"{self.fn.name}_part")
        body = list(run)
        if len(run) == 1 and stem is None and self.sizes.of(run[0]) > self.target:
            body = [self.inside(run[0], set(outs), set(args), sweep, above)]
        if above is not None:
            body.insert(0, above)
        if backward:
            body.insert(0, sweep)   # (an error in the part is reported as in the backward sweep)
        if outs:
            value = load(outs[0]) if len(outs) == 1 else gast.Tuple(elts=[load(o) for o in outs], ctx=gast.Load())
            body.append(copy_loc(gast.Return(value=value), run[-1]))
        params = [gast.Name(id=a, ctx=gast.Param(), annotation=None, type_comment=None) for a in args]
        part = gast.FunctionDef(name=name, args=gast.arguments(args=params, posonlyargs=[], vararg=None,
                                                               kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
                                body=body, decorator_list=[], returns=None, type_comment=None, type_params=[])
        part.lineno = getattr(self.fn, "lineno", None) or 1
        if self.proved:     # (the bounds pass's tests stay before the call, in the caller)
            anno.set(part, anno.BOUNDS_PROVED, self.proved)
        self.parts.append(part)
        called = gast.Call(func=load(name), args=[load(a) for a in args], keywords=[])
        if not outs:
            return copy_loc(gast.Expr(value=called), run[0])
        target = store(outs[0]) if len(outs) == 1 else gast.Tuple(elts=[store(o) for o in outs], ctx=gast.Store())
        return copy_loc(gast.Assign(targets=[target], value=called, type_comment=None), run[0])


def _all_statements(stmts):
    for s in stmts:
        yield s
        for b in _blocks(s):
            yield from _all_statements(b)
