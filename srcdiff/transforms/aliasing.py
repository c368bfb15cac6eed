"""Check (no change to the tree): declines programs where an array is written in place while a view
of it (a slice, a row, a transpose, a reshape, a plain second name) made before the write is read
after it. Reverse mode treats every SSA value as its own array, so such a read would see the new
contents in the forward sweep but get the old value's derivative in the backward sweep: a silently
wrong gradient. Views made after the write (the usual `x[t] = f(x[t - 1])`) are fine.

The check is a may-alias dataflow over the structured SSA tree (branches join, loops run to a fixpoint),
so a name bound to the written array only after the write, on its own path, is not declined.
"""
from __future__ import annotations

import gast

from ..cachedir import is_generated_file
from ..errors import SrcdiffError, fail
from . import annotations as anno
from .astutil import assigned_names, clone, dotted_name, nested_blocks, walk, walk_names, walk_statements
from .kinds import Kind, is_array, is_scalar, ndim
from .purity import WRITES_INTO
from .shape_reads import shape_only_stacks, shape_reads, ssa_copy

# calls whose result may be their first argument or a view of it (NumPy's, and the runtime's forms of them after
# canonicalize and the composites: np.atleast_1d/2d and np.tile's base are rt.atleast_*, np.flip ends in
# rt.reshape_like of a reversed ravel)
_VIEW_CALLS = {"np.transpose", "rt.transpose", "rt.expand_dims", "np.expand_dims", "np.reshape", "rt.reshape", "np.ravel",
               "rt.squeeze", "np.asarray", "np.atleast_1d", "np.atleast_2d", "rt.atleast_1d", "rt.atleast_2d",
               "rt.atleast_nd", "np.broadcast_to", "np.swapaxes", "np.moveaxis", "rt.reshape_like"}


def _basic(idx, kinds) -> bool:
    """Slices, integers and None only: indexing with it gives a view (an array index copies)."""
    for n in walk(idx):
        if isinstance(n, (gast.List, gast.Call)) or (isinstance(n, gast.Tuple) and n is not idx):
            return False
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and kinds.get(n.id) is not None \
                and not is_scalar(kinds[n.id]):
            return False
    return True


def _view_source(value, name, kinds, renames_only=False, asarrays=frozenset()):
    """The array `name = value` may share memory with, or None. `asarrays`: names bound to np.asarray(v),
    whose casts (np.asarray(v, dtype), v.astype(dtype, copy=False)) are v itself where v has the dtype."""
    if isinstance(value, gast.Name):
        k = kinds.get(name)
        return value.id if k is None or is_array(k) else None
    if renames_only:
        return None
    if isinstance(value, gast.Attribute) and value.attr == "T" and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and _basic(value.slice, kinds):
        k = kinds.get(name)
        sliced = any(isinstance(n, gast.Slice) for n in walk(value.slice))
        return value.value.id if sliced or is_array(k) else None
    if (isinstance(value, gast.Call) and dotted_name(value.func) in _VIEW_CALLS and value.args
            and isinstance(value.args[0], gast.Name)):
        return value.args[0].id
    if (isinstance(value, gast.Call) and dotted_name(value.func) in ("rt.astype", "rt.cast") and value.args
            and isinstance(value.args[0], gast.Name) and value.args[0].id in asarrays):
        return value.args[0].id
    return None


def may_share_memory(value, name, kinds, array=False) -> bool:
    """Whether `name = value` may bind memory another name already sees (a second name, a view, np.asarray(x));
    `array`: `name` is known to be an array (it is written into), whatever `kinds` says."""
    kinds = kinds or {}
    if array and not is_array(kinds.get(name)):
        kinds = {**kinds, name: Kind.array(None, None)}
    return _view_source(value, name, kinds) is not None


def _asarray_names(fn) -> frozenset:
    """Names bound to np.asarray(v) in `fn`."""
    return frozenset(s.targets[0].id for s in walk_statements([fn]) if isinstance(s, gast.Assign)
                     and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
                     and dotted_name(s.value.func) == "np.asarray")


def memory_roots(fn, kinds, renames_only=False) -> dict:
    """name -> the name whose memory it may share (itself when it views nothing).

    SSA's own copies (branch merges, loop phis) join two versions of one variable, which the
    derivative passes follow; they count only when they pass on a view of another array."""
    source, versions = {}, []
    asarrays = _asarray_names(fn)
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            src = _view_source(s.value, s.targets[0].id, kinds, renames_only, asarrays)
            if src is None:
                continue
            if anno.get(s, anno.MERGE) or anno.get(s, anno.PHI):
                versions.append((s.targets[0].id, src))
            else:
                source[s.targets[0].id] = src
    grew = True
    while grew:
        grew = False
        for name, src in versions:
            if name not in source and src in source:
                source[name] = src
                grew = True

    def root(n):
        path = []
        while n in source and n not in path:
            path.append(n)
            n = source[n]
        if n in path:     # a cycle (a swap in a loop: `b2 = a; a = b`, the phis carrying each to the other): one
            return min(path[path.index(n):])    # root for all of it, whichever name the walk started from
        return n
    return {n: root(n) for n in set(source) | set(source.values())}


def follow_writes(fn, dead_code) -> int:
    """Where `a = b` (a second name for b's array: the user's `x, y = y, f(x, y)`, through SSA's copies
    `t = y; x2 = t`) is followed in its block by a write through `a` (`a[i] = v`), and every read of `a` comes
    before a statement of the block binding b (or a copy between) again, those reads read `b`: one name for
    the array, whose in-place write the derivative passes follow. With two names, what reverse mode keeps of
    b for the backward sweep (read before the write) and the write's restore went through different names,
    which reverse mode over srcdiff's gradient of such a program declined (fuzz, nested mode). `dead_code`: the
    dead-code pass (optimize.eliminate_dead_code, which compiler.py passes: it reads this module). Changes `fn`
    in place; returns how many reads it renamed."""
    written = {n.value.id for n in walk(fn) if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store)
               and isinstance(n.value, gast.Name)}
    if not written:
        return 0
    loads, dead = _live_loads(fn, dead_code)
    renamed = 0
    todo = [fn.body]
    while todo:
        block = todo.pop()
        parent: dict = {}     # name -> the name it copies, for this block's plain copies
        for k, s in enumerate(block):
            todo.extend(nested_blocks(s))
            if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and isinstance(s.value, gast.Name) and s.targets[0].id != s.value.id
                    and not anno.get(s, anno.MERGE) and not anno.get(s, anno.PHI)):
                for n in assigned_names([s]):
                    parent.pop(n, None)
                continue
            a = s.targets[0].id
            parent[a] = s.value.id
            if a not in written:    # (most copies: nothing writes through them, no span to read)
                continue
            chosen = _choose_name(block, k, a, parent, loads, dead)
            if chosen is None:
                continue
            first, chain, order, span, reads, live = chosen
            block[:] = order
            for n in reads:
                n.id = first
            loads[first] = loads.get(first, 0) + live
            loads[a] = 0
            renamed += len(reads) + _chain_reads_read_root(order, k, span, chain - {first, a}, first, loads, dead)
            for t in span:      # a back-edge copy of the array to its own name (_same_array_copy) goes
                if anno.get(t, anno.PHI) and t.targets[0].id == getattr(t.value, "id", None):
                    block.remove(t)
                    loads[first] -= id(t) not in dead
    return renamed + _drop_identity_phis(fn)


def _drop_identity_phis(fn) -> int:
    """Drop a loop's back-edge copy `v = w` where w is a copy of v itself made in the iteration, through plain
    copies nothing binds again before it (`buf = upd(buf, i, v)` of a helper that writes into its argument and
    returns it: inlined, `buf4 = buf` ... `buf = buf4`): v names the same array all along, not a value the loop
    carries. Kept, reverse mode pushed that one array once per iteration, and reverse mode over srcdiff's
    gradient read it for the value the forward sweep left while its backward sweep's restores, through the
    popped name, had changed it (a wrong second derivative). Returns how many it dropped."""
    dropped = 0
    todo = [fn.body]
    while todo:
        block = todo.pop()
        parent: dict = {}
        for s in list(block):
            todo.extend(nested_blocks(s))
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)
                    and s.targets[0].id != s.value.id and not anno.get(s, anno.MERGE)):
                v, w = s.targets[0].id, s.value.id
                if anno.get(s, anno.PHI) and v in _copied_from(w, parent):
                    block.remove(s)
                    dropped += 1
                    continue
                if not anno.get(s, anno.PHI):
                    _rebound(v, parent)
                    parent[v] = w
                    continue
            for n in assigned_names([s]):
                _rebound(n, parent)
    return dropped


def _rebound(n, parent) -> None:
    """Forget the copies of `parent` (name -> the name it copies) whose chain passes through `n`, bound again."""
    for m in [m for m in parent if m == n or n in _copied_from(m, parent)]:
        del parent[m]


def _choose_name(block, k, a, parent, loads, dead):
    """(the name, its chain, the block's order, the span, a's reads there, how many live) for follow_writes'
    rename of `a` (bound at block[k] by a chain of plain copies), else None. The chain's first name, unless
    another name of the chain is read after the span, which a later name's chain leaves out (a swap's copies
    `b2v1 = b1; b2v2 = b2v1`, then `al = b2v2` written: b1 is bound again by the loop's back-edge copies before
    `b2 = b2v2`, so the reads of al and b2v2 read b2v1: fuzz 985053, whose `al = b2` after `b1, b2 = b2, b1`
    in a loop, written through al, was declined)."""
    path = []
    n = parent[a]
    while n is not None and n not in path:
        path.append(n)
        n = parent.get(n)
    fallback = None
    for first in reversed(path):      # the chain's first name first
        chain = {m for m in parent if first in _copied_from(m, parent)} | {first}
        plan = _plan_rename(block, k, chain, a, loads, dead)
        if plan is None:
            continue
        order, span, reads, live = plan
        if _others_follow(order, k, span, chain - {first, a}, loads, dead):
            return first, chain, order, span, reads, live
        if first == path[-1]:      # (the first name's, if no later name does better)
            fallback = first, chain, order, span, reads, live
    return fallback


def _copied_from(name, parent) -> list:
    """The names `name` is a copy of, through this block's plain copies (nearest first)."""
    out = []
    n = parent.get(name)
    while n is not None and n not in out:
        out.append(n)
        n = parent.get(n)
    return out


def _plan_rename(block, k, chain, a, loads, dead):
    """(the block's order, the span, a's reads in it, how many live) where every read of `a` lies in the span
    after block[k] up to a statement binding a name of `chain` and a write through `a` does too, else None."""
    order = block
    span, reads, live = _span_reads(order, k, chain, a, dead)
    if live != loads.get(a, 0):   # a loop's back-edge copy of a after the one rebinding b (a swap)
        order = _back_edge_copy_first(block, k + 1 + len(span), a)
        if order is None:
            return None
        span, reads, live = _span_reads(order, k, chain, a, dead)
    if live != loads.get(a, 0) or not any(
            isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)
            and n.value.id == a for t in span for n in walk(t)):
        return None
    if any(_pushed(t, a) for t in span):
        # (srcdiff's own gradient differentiated again: a stack keeps the array a names, which later
        # writes change; its two names are what makes the aliasing check see it: nested fuzz 799023,
        # two swaps written in one loop, got a wrong second derivative when a's reads read b)
        return None
    return order, span, reads, live


def _others_follow(order, k, span, others, loads, dead) -> bool:
    """Whether every read of the chain's `others` comes before order[k + 1] or in the span (so that
    _chain_reads_read_root renames those after the write), none pushed in the span."""
    for c in others:
        _, live = _reads_of(span, c, dead)
        _, before = _reads_of(order[:k + 1], c, dead)
        if (live and any(_pushed(t, c) for t in span)) or live + before != loads.get(c, 0):
            return False
    return True


def _chain_reads_read_root(block, k, span, others, root, loads, dead) -> int:
    """After follow_writes has made a write through `a` one through `root`: the reads in `span` of the chain's
    other names (`buf = t` then `al = buf`, `al[i] = v`, `np.sum(buf)`: `x, buf = y, f(y)` binds buf through
    SSA's copy of f(y)) read `root` too, where every other read of the name comes before the write (block[:k+1])
    and nothing in the span pushes its array. Else such a read after the write through `root` is declined by the
    aliasing check (nested fuzz 918044). Returns how many reads it renamed."""
    renamed = 0
    for c in sorted(others):
        if any(_pushed(t, c) for t in span):
            continue
        reads, live = _reads_of(span, c, dead)
        _, before = _reads_of(block[:k + 1], c, dead)
        if not reads or live + before != loads.get(c, 0):
            continue
        for n in reads:
            n.id = root
        loads[root] = loads.get(root, 0) + live
        loads[c] = before
        renamed += len(reads)
    return renamed


def _pushed(t, a) -> bool:
    """Whether statement `t` (or one nested in it) pushes the array `a` names onto a stack (`rt.push(s, a)`,
    `s.append(a)`): the stack then holds that array itself, not a copy."""
    for st in walk_statements([t]):
        if isinstance(st, gast.Expr) and isinstance(st.value, gast.Call):
            name = dotted_name(st.value.func)
            args = st.value.args[1:] if name == "rt.push" else st.value.args if (
                isinstance(st.value.func, gast.Attribute) and st.value.func.attr == "append") else []
            if any(isinstance(n, gast.Name) and n.id == a for arg in args for n in walk(arg)):
                return True
    return False


def _live_loads(fn, dead_code) -> tuple:
    """({name: its reads in `fn`}, the ids of the copies not counted): the reads of SSA's branch-merge and
    back-edge copies whose values nothing reads are not counted (a name bound in one branch gets them: they
    go with dead code, the aliasing check passes them over)."""
    loads: dict = {}
    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1
    copies = [s for s in walk_statements(fn.body) if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
              and isinstance(s.value, gast.Name) and (anno.get(s, anno.MERGE) or anno.get(s, anno.PHI))]
    dead = _dead(fn, copies, dead_code) if copies else set()
    for s in copies:
        if id(s) in dead:
            loads[s.value.id] -= 1
    return loads, dead


def _dead(fn, stmts, dead_code) -> set:
    """The ids of those of `stmts` (statements of `fn`) that `dead_code` removes: by liveness over the structured
    function, so a cycle of copies that nothing else reads goes too (a loop's merge copy `al2 = al` where a
    `continue` skipped the binding, and its back-edge copy `al = al2`: nested fuzz 918123), which counting the
    reads of each name keeps."""
    twin = clone(fn)
    pairs = list(zip(walk_statements(fn.body), walk_statements(twin.body)))     # (kept: their ids stay theirs)
    dead_code(twin)
    kept = {id(t) for t in walk_statements(twin.body)}
    wanted = {id(s) for s in stmts}
    return {id(s) for s, t in pairs if id(s) in wanted and id(t) not in kept}


def _span_reads(block, k, chain, a, dead) -> tuple:
    """(the statements after block[k] up to one binding a name of `chain`, a's reads in them, how many of those
    are not in the copies `dead` (ids) that nothing reads)."""
    span = []
    for t in block[k + 1:]:
        if chain & assigned_names([t]) and not _same_array_copy(t, chain):
            break
        span.append(t)
    reads, live = _reads_of(span, a, dead)
    return span, reads, live


def _same_array_copy(t, chain) -> bool:
    """Whether `t` is a loop's back-edge (or a merge) copy of one name of `chain` to another: the name it binds
    names the same array after it (a swap, then a second swap of the same arrays in one iteration: `c2 = c` ...
    `c = c2` at the loop's end), so the chain goes on past it."""
    return (isinstance(t, gast.Assign) and (anno.get(t, anno.PHI) or anno.get(t, anno.MERGE))
            and isinstance(t.targets[0], gast.Name) and isinstance(t.value, gast.Name)
            and t.targets[0].id in chain and t.value.id in chain)


def _reads_of(stmts, a, dead) -> tuple:
    """(a's reads in `stmts`, how many of those are not in the copies `dead` (ids) that nothing reads)."""
    reads, live = [], 0
    for t in stmts:
        for st in walk_statements([t]):
            if isinstance(st, (gast.Assign, gast.AugAssign, gast.Expr, gast.Return)) or not nested_blocks(st):
                found = [n for n in walk_names(st) if n.id == a and isinstance(n.ctx, gast.Load)]
            else:       # a compound statement: its header only (its blocks' statements come on their own)
                found = [n for h in _headers(st) for n in walk_names(h) if n.id == a and isinstance(n.ctx, gast.Load)]
            reads += found
            live += 0 if id(st) in dead else len(found)
    return reads, live


def _headers(st) -> list:
    """The expressions of a compound statement outside its blocks (an if's or while's test, a for's iterable)."""
    return [e for e in (getattr(st, "test", None), getattr(st, "iter", None)) if e is not None]


def _back_edge_copy_first(block, stop, a):
    """A copy of `block` with a loop's back-edge copy `v = a` moved before the back-edge copies from block[stop]
    on (which rebinds the name a copies): back-edge copies are one parallel assignment, so their order is free
    where none reads a name another binds (`c = c2; b = b2` of a swap is `b = b2; c = c2`). None if there is
    no such copy or it cannot move."""
    run = stop
    while run < len(block) and anno.get(block[run], anno.PHI):
        run += 1
    for p in range(stop + 1, run):
        copy_ = block[p]
        if not (isinstance(copy_.value, gast.Name) and copy_.value.id == a):
            continue
        jumped = block[stop:p]
        target = copy_.targets[0].id
        if any(target in {n.id for n in walk_names(q.value)} or a in assigned_names([q]) for q in jumped):
            return None
        return block[:stop] + [copy_] + jumped + block[p + 1:]
    return None


def read_only_names(fn, kinds) -> set:
    """The names whose arrays may be read-only under Numba: np.broadcast_to's results, the module's arrays
    (names `fn` reads but neither binds nor takes as parameters: Numba bakes them in read-only), and the views
    and copies of either (jitted code's typed stacks of them: transforms/stacks.py)."""
    bound = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
    edges, read_only = [], set()
    for s in walk_statements(fn.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            continue
        bound.add(s.targets[0].id)
        if isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "np.broadcast_to":
            read_only.add(s.targets[0].id)
            continue
        src = _view_source(s.value, s.targets[0].id, kinds)
        if src is not None:
            edges.append((s.targets[0].id, src))
    grew = True
    while grew:
        grew = False
        for name, src in edges:
            if name not in read_only and (src in read_only or src not in bound):
                read_only.add(name)
                grew = True
    return read_only


def sharing_written_memory(fn, kinds=None) -> set:
    """Names that may share memory with an array written in place (the written names included): by a
    subscript write, or by an augmented assignment (`a += v`, desugared to `a2 = a1 + v`; counted where
    `a1` is an array or its kind is not known); and the versions SSA's branch merges and loop copies pass on
    to one of those (`d_a = rt.zeros_like(a)` in a branch, `d_a[1] += g` after it: the array of the branch's
    version is the one written, so common-subexpression elimination must not give it to another name too)."""
    kinds = kinds or {}
    written = {n.targets[0].value.id for n in walk_statements(fn.body)
               if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)
               and isinstance(n.targets[0].value, gast.Name)}
    written |= {n.value.left.id for n in walk_statements(fn.body)
                if isinstance(n, gast.Assign) and _in_place(n, kinds, unknown=True)}
    written |= _written_by_helpers(fn)
    if not written:
        return written      # (nothing written in place: no name shares written memory; memory_roots not needed)
    passed_on = {}   # SSA copy target -> the versions it copies
    for n in walk_statements(fn.body):
        if ssa_copy(n) is not None:
            passed_on.setdefault(n.targets[0].id, set()).add(n.value.id)
    todo = list(written)
    while todo:
        for v in passed_on.get(todo.pop(), set()) - written:
            written.add(v)
            todo.append(v)
    roots = memory_roots(fn, kinds)
    hit = {roots.get(w, w) for w in written}
    return written | {n for n, r in roots.items() if r in hit}


def _written_by_helpers(fn) -> set:
    """The names passed to a runtime helper that writes into an argument (`rt.index_add(d_p, idx, g)` in a
    gradient differentiated again): all of its name arguments, as the helpers differ in which one they write."""
    return {a.id for n in walk_statements(fn.body)
            if isinstance(n, (gast.Expr, gast.Assign)) and isinstance(n.value, gast.Call)
            and dotted_name(n.value.func) in WRITES_INTO
            for a in n.value.args if isinstance(a, gast.Name)}


class _Flow:
    """Which names may share memory, and which of them a write has left stale, statement by statement.

    A state is (partners: name -> the other names it may share memory with, stale: name -> the in-place
    write, and its target, that changed its memory after it was bound). Relational, so that swapping two
    buffers in a loop keeps them apart. Branches join; loops run to a fixpoint."""

    def __init__(self, unit, kinds, renames_only, in_place_only=False):
        self.unit, self.kinds, self.renames_only, self.in_place_only = unit, kinds, renames_only, in_place_only

    def run(self, fn):
        self.asarrays = _asarray_names(fn)
        self.scalars = zero_d_scalars(fn, self.kinds)
        self.shape_stacks = shape_only_stacks(fn)
        self.write_backs = written_back(fn, self.unit.filename)
        self.block(fn.body, ({}, {}))

    @staticmethod
    def join(a, b):
        partners = dict(a[0])
        for n, ps in b[0].items():
            partners[n] = partners.get(n, frozenset()) | ps
        stale = dict(b[1])
        stale.update(a[1])
        return partners, stale

    def block(self, stmts, state):
        for s in stmts:
            state = self.stmt(s, state)
        return state

    def stmt(self, s, state):
        if isinstance(s, gast.If):
            self.reads(s, state)
            return self.join(self.block(s.body, self.copy(state)), self.block(s.orelse, self.copy(state)))
        if isinstance(s, (gast.For, gast.While)):
            if isinstance(s, gast.For):
                self.reads(s, state)
            head = state
            while True:
                if isinstance(s, gast.While):
                    self.reads(s, head)
                after = self.join(head, self.block(s.body, self.copy(head)))
                if after == head:
                    return head
                head = after
        partners, stale = state
        copied = ssa_copy(s)
        if copied is None:
            self.reads(s, state)
        pushed = self.pushed(s)
        if pushed is not None:     # a list holds the array itself: it shares memory with it
            stack, items = pushed
            for v in items:
                shared = (partners.get(v, frozenset()) | {v}) - {stack}
                partners[stack] = partners.get(stack, frozenset()) | shared
                for p in shared:
                    partners[p] = partners.get(p, frozenset()) | {stack}
            return state
        if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and _in_place(s, self.kinds)
                and s.value.left.id not in self.scalars):
            old = s.value.left.id     # `a += v` on an array: a write to the memory `a` names, seen by its views
            name = s.targets[0].id
            for p in partners.pop(name, ()):
                partners[p] = partners[p] - {name}
            stale.pop(name, None)
            for p in partners.get(old, frozenset()) | {old}:
                stale.setdefault(p, (s, old))
            shared = (partners.get(old, frozenset()) | {old}) - {name}
            partners[name] = shared
            for p in shared:
                partners[p] = partners.get(p, frozenset()) | {name}
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            name = s.targets[0].id
            for p in partners.pop(name, ()):
                partners[p] = partners[p] - {name}
            stale.pop(name, None)
            src = _view_source(s.value, name, self.kinds, self.renames_only, self.asarrays)
            if anno.get(s, anno.RETURN_VALUE) and not anno.has(s, anno.FUNC):
                src = None   # the function's own result: nothing of it runs after this on its path (an inlined
                # helper's result is its caller's value, which the caller may write through afterwards)
            if src is not None:
                shared = (partners.get(src, frozenset()) | {src}) - {name}
                partners[name] = shared
                for p in shared:
                    partners[p] = partners.get(p, frozenset()) | {name}
            if copied in stale:     # SSA's copy of a stale view is stale: the read that counts is the copy's
                stale[name] = stale[copied]
        elif (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)
              and isinstance(s.targets[0].value, gast.Name) and not self.in_place_only):
            target = s.targets[0].value.id
            for p in partners.get(target, ()):
                stale.setdefault(p, (s, target))
        return state

    @staticmethod
    def copy(state):
        return dict(state[0]), dict(state[1])

    def pushed(self, s):
        """(the stack, the names of the arrays) of an append of the user's to a list (`rt.push(states, x)`, or
        of a tuple of arrays), else None. (srcdiff's own pushes in a gradient differentiated again are left out:
        its views pushed before a write to their array are read back for their shapes only.)"""
        if self.renames_only or not (
                isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.push"
                and len(s.value.args) == 2 and isinstance(s.value.args[0], gast.Name)):
            return None     # (forward mode's lists hold the tangents too: writes into them are followed)
        if is_generated_file(anno.get(s, anno.FILE) or self.unit.filename):
            return None
        k = self.kinds
        items = {n.id for n in walk_names(s.value.args[1]) if isinstance(n.ctx, gast.Load)
                 and (k.get(n.id) is None or is_array(k[n.id]))}
        return s.value.args[0].id, items

    def reads(self, s, state):
        stale = state[1]
        loads = _own_loads(s)
        pushed = self.pushed(s)
        if pushed is not None:    # (a push reads none of what the list holds)
            loads.discard(pushed[0])
        elif self._own_push(s) in self.shape_stacks:
            return    # (srcdiff's push of a value its backward sweep reads for its shape only: nested 1001xxx)
        for n in sorted(loads):
            if n in stale and (id(s), n) not in self.write_backs:
                self.decline(n, *stale[n], read=s)

    def _own_push(self, s):
        """The stack of srcdiff's own push (`rt.push(b_stack, b)` of a gradient differentiated again), else None."""
        if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.push"
                and s.value.args and isinstance(s.value.args[0], gast.Name)
                and is_generated_file(anno.get(s, anno.FILE) or self.unit.filename)):
            return s.value.args[0].id
        return None

    def stacks(self) -> set:
        """The user's names of the lists the function appends to."""
        versions = anno.get(self.unit.node, anno.SSA_VERSIONS, {})
        found = {p[0] for p in map(self.pushed, walk_statements(self.unit.node.body)) if p is not None}
        return found | {versions.get(n, n) for n in found}

    def _read_after_a_gradient(self, view, w, read) -> None:
        """Decline, at the user's line `read`, a read of an array that srcdiff's gradient, called before it (its
        statements inlined), wrote into at `w`: the function that gradient differentiates writes into its argument
        and binds the name anew after, which the gradient follows through a second name of the caller's array
        (transforms/caller_arrays.py). Said at the write, the user read of two bindings of one name they never made."""
        func, where = anno.get(w, anno.FUNC), anno.get(w, anno.FILE)
        if read is None or not where or not is_generated_file(where) or not getattr(read, "lineno", None) \
                or is_generated_file(anno.get(read, anno.FILE) or self.unit.filename):
            return
        fail(read, self.unit, f"`{view}` is read here after srcdiff's gradient `{func}`, called before this line, "
                              f"wrote into it (the function it differentiates writes into that argument and binds "
                              f"it anew after): the derivative of this function does not follow such writes",
             f"pass the gradient a copy (np.copy({view})) where its changes to the array are not wanted, or read "
             f"`{view}` before the call")

    def decline(self, view, w, target, read=None):
        iterated = next((anno.get(s, anno.LOOP_COPY) for s in walk_statements(self.unit.node.body)
                         if anno.has(s, anno.LOOP_COPY) and s.targets[0].id == view), None)
        if iterated is not None:   # the name desugar gave the array a `for` loop walks
            fail(w, self.unit, f"this assignment writes in place into the array the loop over `{iterated}` walks, "
                               "which the loop reads again: srcdiff does not follow writes through views",
                 "loop over a copy (for e in np.copy(...)) or over the indices (for i in range(len(...)))")
        versions = anno.get(self.unit.node, anno.SSA_VERSIONS, {})     # (the user's names, not SSA's versions)
        base = memory_roots(self.unit.node, self.kinds, self.renames_only).get(target, target)
        spelled = anno.get(self.unit.node, anno.LEAF_NAMES, {})    # (an argument's item: p_0 is p["W"])
        view, target, base = (spelled.get(versions.get(n, n), versions.get(n, n)) for n in (view, target, base))
        self._read_after_a_gradient(view, w, read)
        message = (f"`{view}` shares memory with `{target}`, which this assignment writes in place, "
                   f"and is read afterwards: srcdiff does not follow writes through views")
        if view in self.stacks():
            fail(w, self.unit, f"this assignment writes in place into an array the list `{view}` holds (appended "
                               f"before it as `{target}`), and the list is read afterwards: srcdiff does not follow "
                               f"writes into the arrays a list holds",
                 f"append a copy ({view}.append({target}.copy()))" + (
                     f", or bind a new array instead of writing in place ({target} = {target} + v rather than "
                     f"{target} += v)" if anno.get(w, anno.IN_PLACE) else ""))
        if view == target:     # two bindings of one name (a swap in a loop, then a second name written)
            fail(w, self.unit, *one_name_twice(view))
        func, where = anno.get(w, anno.FUNC), anno.get(w, anno.FILE)
        if func is not None and func != self.unit.node.name and where and not is_generated_file(where):
            # (a helper of the user's, inlined: `target` is its parameter's name, perhaps renamed, not the caller's)
            message = (f"`{func}` (inlined at this call) writes in place into memory that `{view}` shares, and "
                       f"`{view}` is read afterwards: srcdiff does not follow writes through views (a slice or "
                       f"view passed to `{func}` is one)")
            advice = (f"pass `{func}` the whole array and the offset as an index, or pass it a copy (np.copy(...)) "
                      f"and have it return the array it writes")
        else:
            advice = (f"write into `{base}` itself instead of through `{target}`, or make `{target}` "
                      f"a copy (np.copy(...)) if it is meant to be a separate array"
                      if target != base else
                      f"make `{view}` a copy where it is created (np.copy(...)), or index "
                      f"`{base}` again after the write")
        if any('["' in n for n in (view, target)):    # an item of a dict argument's copy: its arrays are shared
            advice += "; dict(params), params.copy() and {**params} copy the dict, not its arrays: copy.deepcopy does"
        if where is not None:
            raise SrcdiffError(message, where, getattr(w, "lineno", None), advice)
        fail(w, self.unit, message, advice)


def _in_place(s, kinds, unknown=False) -> bool:
    """`a2 = a1 + v` made from the user's `a += v` (desugar) where `a` is an array: NumPy adds into a1's memory.
    `unknown`: whether to count it where a1's kind is not known."""
    v = s.value
    return (anno.get(s, anno.IN_PLACE) and isinstance(v, gast.BinOp) and isinstance(v.left, gast.Name)
            and (is_array(kinds.get(v.left.id)) or (unknown and kinds.get(v.left.id) is None)))


def zero_d_scalars(fn, kinds) -> frozenset:
    """The names of 0-d values that NumPy computes as scalars, not arrays: the results of arithmetic on 0-d arrays
    (`y = x + 0.1` of a 0-d array x is an np.float64) and second names of them (a helper's parameter, inlined).
    Their kind is a 0-d array's, but `y *= 2.0` of one rebinds it, as of a float (immutable), where of a 0-d array
    (an argument, np.array(0.7)) NumPy writes into its memory, which its other names see."""
    params = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
    defs, others = {}, set()
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            defs.setdefault(s.targets[0].id, []).append(s)
        else:
            others |= {n.id for t in getattr(s, "targets", [getattr(s, "target", None)]) if t is not None
                       for n in walk(t) if isinstance(n, gast.Name)}
    found = {n for n in defs if is_array(kinds.get(n)) and ndim(kinds.get(n)) == 0 and n not in params | others}
    while True:
        left = {n for n in found if all(_computes_scalar(s, found) for s in defs[n])}
        if left == found:
            return frozenset(found)
        found = left


def _computes_scalar(s, scalars) -> bool:
    """Whether `s` binds a 0-d result NumPy gives as a scalar, where the names `scalars` are such results: an
    operator's (but `a += v` of a 0-d array writes into it: its result is `a`), or a second name of one."""
    v = s.value
    if anno.get(s, anno.IN_PLACE) and isinstance(v, gast.BinOp) and isinstance(v.left, gast.Name):
        return v.left.id in scalars
    if isinstance(v, (gast.BinOp, gast.UnaryOp)):
        return True
    return isinstance(v, gast.Name) and v.id in scalars


def written_back(fn, filename) -> set:
    """(id of the statement, name) of the reads of the caller's-arrays pattern of a gradient differentiated again
    (transforms/caller_arrays.py: `M_caller = M` ... `M_final = rt.copy(M_caller)` ... `M_caller[:] = M_final`,
    where the gradient's M is bound anew after a write through it): a snapshot of an array written back into that
    array, neither read otherwise. Its reads of `M_caller`, which the write through `M` left stale, are fine: the
    snapshot's derivative is the derivative of what reads the array after the write-back, and every such read goes
    through another name of it, which the write-back leaves stale (declined). Without this, reverse mode over
    srcdiff's gradient of `M[1, 1] += v` then `M = 0.5 * M` declined (nested fuzz 1003002)."""
    loads: dict = {}
    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1
    snapshots = {s.targets[0].id: s for s in walk_statements(fn.body) if isinstance(s, gast.Assign)
                 and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
                 and dotted_name(s.value.func) == "rt.copy" and len(s.value.args) == 1
                 and isinstance(s.value.args[0], gast.Name)}
    out = set()
    for s in walk_statements(fn.body):
        t = s.targets[0] if isinstance(s, gast.Assign) else None
        if not (isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and isinstance(t.slice, gast.Slice)
                and t.slice.lower is t.slice.upper is t.slice.step is None and isinstance(s.value, gast.Name)):
            continue
        snap, array = snapshots.get(s.value.id), t.value.id
        if snap is not None and snap.value.args[0].id == array and loads.get(s.value.id) == 1 \
                and loads.get(array) == 2 and is_generated_file(anno.get(s, anno.FILE) or filename):
            out |= {(id(snap), array), (id(s), array)}
    return out


def _own_loads(s):
    """Names a statement reads itself (for compound statements: the test / iterable only), but for their shapes
    only (a gradient's `d_v = rt.zeros_like(v)` after a write through a second name of v's array: nested fuzz
    985210)."""
    parts = [s.test] if isinstance(s, (gast.If, gast.While)) else [s.iter] if isinstance(s, gast.For) else [s]
    shapes = {i for p in parts for i in shape_reads(p)}
    return {n.id for p in parts for n in walk_names(p) if isinstance(n.ctx, gast.Load) and id(n) not in shapes}


def one_name_twice(name: str) -> tuple:
    """(message, advice) of a write in place into an array that `name` names at another point, read there after:
    two bindings of one of the user's names (a swap in a loop, then a second name written); error_reports says it
    of a gradient differentiated again whose two versions of a name are one name to the user."""
    return (f"this assignment writes in place into an array that `{name}` names at another point (a swap or a "
            f"second name in a loop), which is read afterwards: srcdiff does not follow writes through views",
            "take a copy (np.copy(...)) where the second name or the swap binds the array")

def check_views(unit, kinds: dict, renames_only: bool = False) -> None:
    """Raise SrcdiffError for a read of a name whose memory an in-place write through another name
    changed after it was bound (see module docstring): a flow-sensitive may-alias analysis over the
    structured SSA tree. Reads of the written name itself, and of names bound after the write, are fine.
    `renames_only`: only second names of a whole array count (forward mode: a view's tangent is
    the same view of the tangent, so slices and transposes are followed correctly there)."""
    if not _writes(unit.node, kinds):
        return      # (nothing is written through a name: no read can be stale, nor an argument updated)
    _Flow(unit, kinds, renames_only).run(unit.node)
    if renames_only:
        # (forward mode follows writes through views, but not `a += v` on an array, which it computes as
        # `a = a + v`: a new array, which no view, second name or list holding `a` sees)
        _Flow(unit, kinds, False, in_place_only=True).run(unit.node)
    _decline_argument_updates(unit, kinds)


def _writes(fn, kinds) -> bool:
    """Whether `fn` writes into memory a name holds: `a[i] = v`, or `a += v` of an array (the only statements
    that make a read stale in _Flow, or update an argument in _decline_argument_updates)."""
    return any(isinstance(s, gast.Assign) and (isinstance(s.targets[0], gast.Subscript) or _in_place(s, kinds))
               for s in walk_statements(fn.body))


_OPS = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//", gast.Mod: "%",
        gast.Pow: "**", gast.MatMult: "@"}


def _decline_argument_updates(unit, kinds) -> None:
    """`x += y` where `x` is still the array an argument passed: NumPy adds into the caller's array, which srcdiff,
    computing `x = x + y` as a new array, leaves as it was (and an element write's backward sweep restores it):
    declined at the line, with the rebinding to write instead. A float argument (immutable), and an array bound
    anew before the update (`x = x * 1.0`, `x = np.copy(x)`), are fine."""
    fn = unit.node
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    updates = [s for s in walk_statements(fn.body) if isinstance(s, gast.Assign) and _in_place(s, kinds)]
    if not params or not updates:
        return
    roots = memory_roots(fn, kinds, renames_only=True)
    for s in updates:
        root = roots.get(s.value.left.id, s.value.left.id)
        where = anno.get(s, anno.FILE) or unit.filename
        if root not in params or not is_array(kinds.get(root)) or is_generated_file(where):
            continue
        op = _OPS.get(type(s.value.op), "+")
        versions = anno.get(fn, anno.SSA_VERSIONS, {})     # (the user's names, not SSA's versions)
        spelled = anno.get(fn, anno.LEAF_NAMES, {})        # (an argument's item: p_0 is p["W"])
        name, arg = (spelled.get(versions.get(n, n), versions.get(n, n)) for n in (s.targets[0].id, root))
        func = anno.get(s, anno.FUNC)
        inlined = f" (in `{func}`, inlined at its call)" if func is not None and func != fn.name else ""
        shared = "" if name == arg else f" (`{name}` names it)"
        message = (f"`{name} {op}= ...` writes in place into the array argument `{arg}`{shared}{inlined}: in Python "
                   f"the caller's array changes too, which srcdiff, computing a new array, does not do")
        advice = (f"write `{name} = {name} {op} ...` to leave the caller's array alone, or make a copy first "
                  f"(`{name} = np.copy({name})`)")
        raise SrcdiffError(message, where, getattr(s, "lineno", None), advice)
