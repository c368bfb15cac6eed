"""The follow-writes pass (middle end, after SSA, before cse): where `a = b` is followed in its block by a write
through `a` (`a[i] = v`: the user's `x, y = y, f(x, y)` with a buffer written through its second name, through
SSA's copies), and every read of `a` comes before the block binds b again, those reads read `b`: one name for the
array, whose in-place write reverse mode follows, where two names made the backward sweep restore one and read
the other. Where `a` is read after that span too (a helper that writes into its parameter, then binds it again in
a loop: `a1 = a`, `a1[1] = v`, `for ...: a1 = g(a1)`), the copy moves below the write and reads b's first name
(the sink: `a[1] = v`, `a1 = a`), so the write is the caller's array's.

Why apart from aliasing.py: it rewrites the tree (the aliasing check only declines), runs at its own place in the
pipeline, and its subject, the chains of plain copies of a block and the span in which a chain's names name one
array, is its own.
"""
from __future__ import annotations

import gast

from ..cachedir import is_generated_file
from . import annotations as anno
from .astutil import assigned_names, clone, dotted_name, nested_blocks, walk, walk_names, walk_of, walk_statements


_SUBSCRIPTS = frozenset((gast.Subscript,))

def follow_writes(fn, dead_code, generated=False) -> int:
    """Where `a = b` (a second name for b's array: the user's `x, y = y, f(x, y)`, through SSA's copies
    `t = y; x2 = t`) is followed in its block by a write through `a` (`a[i] = v`), and every read of `a` comes
    before a statement of the block binding b (or a copy between) again, those reads read `b`: one name for
    the array, whose in-place write the derivative passes follow. With two names, what reverse mode keeps of
    b for the backward sweep (read before the write) and the write's restore went through different names,
    which reverse mode over srcdiff's gradient of such a program declined (fuzz, nested mode). `dead_code`: the
    dead-code pass (optimize.eliminate_dead_code, which compiler.py passes). `generated`: fn is srcdiff's own
    code (a gradient differentiated again), whose copies do not sink (_plan_rename). Changes `fn`
    in place; returns how many reads it renamed."""
    written = {n.value.id for n in walk_of(fn, _SUBSCRIPTS) if isinstance(n.ctx, gast.Store)
               and isinstance(n.value, gast.Name)}
    if not written:
        return 0
    loads, dead = _live_loads(fn, dead_code)
    renamed = 0
    todo = [fn.body]
    while todo:
        block = todo.pop()
        parent: dict = {}     # name -> the name it copies, for this block's plain copies
        seen: set = set()     # (a copy sunk below its span is met again: its statements are not visited twice)
        k = -1
        while k + 1 < len(block):
            k += 1
            s = block[k]
            if id(s) not in seen:
                todo.extend(nested_blocks(s))
                seen.add(id(s))
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
            chosen = _choose_name(block, k, a, parent, loads, dead, generated)
            if chosen is None:
                continue
            first, chain, order, span, reads, live, sink = chosen
            block[:] = order
            for n in reads:
                n.id = first
            loads[first] = loads.get(first, 0) + live
            loads[a] = loads[a] - live if sink else 0
            renamed += len(reads) + _chain_reads_read_root(order, k, span, chain - {first, a}, first, loads, dead)
            for t in span:      # a back-edge copy of the array to its own name (_same_array_copy) goes
                if anno.get(t, anno.PHI) and t.targets[0].id == getattr(t.value, "id", None):
                    block.remove(t)
                    loads[first] -= id(t) not in dead
            if sink:    # `a = b` after the write: a's later reads (a loop's, which binds a again) read b's array
                if s.value.id != first:     # (through the chain's first name: a name between, `b1` of a swap's
                    # `b1 = c; b8 = b1`, read after the write through c, is a second name the aliasing check
                    # declines: CUDA fuzz 990312, tests/test_cuda_edges.py swap_written)
                    loads[s.value.id] -= 1
                    loads[first] = loads.get(first, 0) + 1
                    s.value.id = first
                block.remove(s)
                block.insert(block.index(span[-1]) + 1, s)
                parent.pop(a, None)
                k -= 1
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


def _choose_name(block, k, a, parent, loads, dead, generated=False):
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
        plan = _plan_rename(block, k, chain, a, loads, dead, generated)
        if plan is None:
            continue
        order, span, reads, live, sink = plan
        if _others_follow(order, k, span, chain - {first, a}, loads, dead):
            return first, chain, order, span, reads, live, sink
        if first == path[-1] and not sink:      # (the first name's, if no later name does better)
            fallback = first, chain, order, span, reads, live, sink
    return fallback


def _copied_from(name, parent) -> list:
    """The names `name` is a copy of, through this block's plain copies (nearest first)."""
    out = []
    n = parent.get(name)
    while n is not None and n not in out:
        out.append(n)
        n = parent.get(n)
    return out


def _plan_rename(block, k, chain, a, loads, dead, generated=False):
    """(the block's order, the span, a's reads in it, how many live, sink) where every read of `a` lies in the span
    after block[k] up to a statement binding a name of `chain` and a write through `a` does too, else None.
    sink: a is read after the span too (`a` bound again by a loop after the write: a helper that writes into its
    argument, then binds the parameter to new arrays in a loop, inlined: `a1 = a`, `a1[1] = v`, then
    `for ...: a1 = 0.5 * a1`), so the copy `a = b` moves below the span, where it names the array after the write,
    the span's reads reading b; where nothing in the span jumps past it (break, continue, return) and the span
    ends at a statement of the user's, not at a loop's back-edge or a merge copy (a swap's: those above); not in
    srcdiff's own gradient differentiated again (its `M_caller = M` of a caller's array written, then bound anew:
    tests/test_caller_arrays.py, whose write-back the aliasing check knows by that name)."""
    order, sink = block, False
    span, reads, live = _span_reads(order, k, chain, a, dead)
    if live != loads.get(a, 0):   # a loop's back-edge copy of a after the one rebinding b (a swap)
        order = _back_edge_copy_first(block, k + 1 + len(span), a)
        if order is None:
            end = k + 1 + len(span)     # (the statement binding the chain again: not a swap's copies)
            order, sink = block, bool(span) and end < len(block) and not anno.get(block[end], anno.PHI) and not (
                anno.get(block[end], anno.MERGE)) and not _sink_off(span, generated) and not any(
                isinstance(st, (gast.Break, gast.Continue, gast.Return)) for st in walk_statements(span))
            if not sink:
                return None
        else:
            span, reads, live = _span_reads(order, k, chain, a, dead)
    if (live != loads.get(a, 0) and not sink) or not any(
            isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)
            and n.value.id == a for t in span for n in walk(t)):
        return None
    if any(_pushed(t, a) for t in span):
        # (srcdiff's own gradient differentiated again: a stack keeps the array a names, which later
        # writes change; its two names are what makes the aliasing check see it: nested fuzz 799023,
        # two swaps written in one loop, got a wrong second derivative when a's reads read b)
        return None
    return order, span, reads, live, sink


def _sink_off(span, generated) -> bool:
    """Whether _plan_rename's sink is off for `span`: in srcdiff's own code (`generated`, or statements inlined from
    a generated file), a gradient differentiated again, where the copy is the caller's array's (`M_caller = M`,
    written back at its end), which the aliasing check knows by that name (tests/test_caller_arrays.py)."""
    return generated or any(is_generated_file(anno.get(t, anno.FILE) or "") for t in span)


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
