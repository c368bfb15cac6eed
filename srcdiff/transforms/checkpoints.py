"""Checkpointed loops (`srcdiff.grad(f, checkpoints=k)`): part of the reverse pass (transforms/reverse.py).

A taped loop keeps what its backward sweep reads for every iteration, so memory grows with the trip
count. A checkpointed loop runs forward untaped, keeping only a snapshot of its state -- the values an
iteration reads from the one before (SSA's loop-carried names) and the arrays it writes in place -- at
the start of each segment of `every` iterations. The backward sweep takes the segments last first:
restore the segment's snapshot, rerun its iterations forward keeping their tape, sweep them back.

    every = rt.checkpoint_every(max(n, 0), 8)          # iterations per segment: 8 segments at most
    for t in range(n):
        if t % every == 0:
            h_snapshots.append(h)                       # the state at the start of a segment
        ...the loop body, untaped...
    ...
    for segment in range(rt.segments(max(n, 0), every) - 1, -1, -1):
        first = segment * every
        last = min(first + every, n)
        # restore the snapshot
        h = h_snapshots[segment]
        # rerun the segment forward, taping it
        for t in range(first, last):
            ...the loop body, with the pushes the taped loop makes...
        # sweep the segment back
        for t in range(last - 1, first - 1, -1):
            ...the loop's backward sweep...

Memory: k snapshots and one segment's tape (n / k iterations); time: one more forward run of the loop.
The rerun keeps only what leads to its tape (values the backward sweep reads, the arrays the loop writes,
the loop-carried values those need), and only the state it reads is snapshotted.

A `while` loop (its trip count unknown until it ends) starts with segments of one iteration; each time its
k snapshots are taken it keeps every other one and doubles the segment length (`x_snapshots[::2]`): it
holds at most k snapshots, and segments of at most 2n / k iterations. Loops nested in a checkpointed loop
are taped in full within each of its segments. An array the loop writes in place is part of its state and
is copied whole into each snapshot, unless its writes can be undone: element writes that are statements
of the loop body, at indices computed from the loop variable (a trajectory `ys[t + 1] = ...`), keep what
they overwrite on a tape of every iteration (as without checkpoints), and each segment first undoes its
writes from that tape, last first, then reruns.
"""
from __future__ import annotations

import copy

import gast

from . import annotations as anno
from .astutil import (Namer, assign, call, comment, const, is_comment, load, map_blocks, nested_blocks, store,
                      substitute, walk, walk_names)
from .purity import is_pure
from .reverse_support import assigned_in, int_names, loaded_in, reversed_range, simplify, trip_count, written_arrays
from .kinds import I, dtype, expr_kind, is_array, is_scalar
from .memory_sharing import read_only_names, sharing_groups
from .ssa import exposed_reads


class Plan:
    """One checkpointed loop: the names of its segments' code (made by the reverse pass, which tapes the
    loop as usual with one segment's rows, iteration `index` in row `index - first`)."""

    def __init__(self, rev, loop):
        fresh = rev.namer.fresh
        self.checkpoints = rev.checkpoints
        self.every, self.segment, self.first, self.last = (fresh(n) for n in ("every", "segment", "first", "last"))
        self.index = loop.target.id if isinstance(loop, gast.For) else fresh("k")
        for name in (self.every, self.segment, self.first, self.last, self.index):
            rev.kinds[name] = I
        self.start, self.stop, self.step = range_args(loop) if isinstance(loop, gast.For) else (None, None, None)
        self.count = _count(loop)   # the loop's trip count
        self.tapes: list = []       # its scalar tapes (a segment's rows)
        self.reads: set = set()     # values from outside the loop its reruns read (set with its segments)
        self.undoable = _undoable_writes(rev, loop)   # ids of its writes undone from a tape (not snapshots)
        self.undo: dict = {}        # the value each of those overwrites -> its array


def range_args(loop):
    """(start, stop, step) of `for ... in range(...)`, step None when it is 1; None for other loops."""
    if not (isinstance(loop, gast.For) and isinstance(loop.iter, gast.Call) and isinstance(loop.iter.func, gast.Name)
            and loop.iter.func.id == "range" and not loop.iter.keywords and 1 <= len(loop.iter.args) <= 3):
        return None
    a = loop.iter.args
    if len(a) == 1:
        return const(0), a[0], None
    unit = len(a) == 2 or (isinstance(a[2], gast.Constant) and a[2].value == 1)
    return a[0], a[1], None if unit else a[2]


def plan(rev, loop) -> Plan | None:
    """The plan of `loop` if it is checkpointed: checkpoints were asked for, it is outermost (in no other
    loop), it is a `while` loop or runs over a range, and it does not push onto or pop from stacks (a
    gradient srcdiff generated, differentiated again: a rerun would push again)."""
    if not rev.checkpoints or rev.loop_stack or not (isinstance(loop, gast.While) or range_args(loop) is not None):
        return None
    if any(isinstance(n, gast.Name) and n.id in rev.stack_names for n in walk(loop)):
        return None
    if isinstance(loop, gast.While) and not anno.has(loop, anno.ITERS):
        anno.set(loop, anno.ITERS, rev.namer.fresh("iterations"))
    rev.plans[id(loop)] = Plan(rev, loop)
    return rev.plans[id(loop)]


def tape_index(p: Plan, v=None):
    """(row of an iteration in its segment's tape, rows of that tape); for `v` a value a write overwrites
    that the segments undo, (the iteration's number, the trip count): a tape of every iteration."""
    if v in p.undo:
        return _number(p), copy.deepcopy(p.count)
    if p.step is not None:      # (first counts iterations)
        return _binop(_number(p), gast.Sub(), load(p.first)), load(p.every)
    return _binop(load(p.index), gast.Sub(), load(p.first)), load(p.every)


def _number(p: Plan):
    """The number of the iteration the loop variable is at (0 for the first)."""
    if p.start is None:
        return load(p.count.id)
    number = _binop(load(p.index), gast.Sub(), p.start)
    return number if p.step is None else _binop(number, gast.FloorDiv(), p.step)


def _undoable_writes(rev, loop) -> set:
    """The element writes `a[i] = v` of a checkpointed `for` loop that a segment can undo before its rerun
    from a tape of the values they overwrote (a trajectory `ys[t + 1] = ...` then costs one number an
    iteration, not k copies of ys): a is never rebound in the loop, every write into it is a statement
    of the loop body (not of a branch or inner loop), and its index is integer arithmetic on the loop
    variable and values from outside the loop."""
    if not isinstance(loop, gast.For):
        return set()
    assigned = assigned_in(loop.body)
    have, ints = {loop.target.id}, int_names(loop)
    for st in loop.body:        # integer arithmetic at the top of the body, on what is at hand
        if (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and st.targets[0].id in ints
                and all(n.id in have or n.id not in assigned for n in walk(st.value) if isinstance(n, gast.Name))):
            have.add(st.targets[0].id)
    top = {id(st) for st in loop.body}
    writes: dict = {}
    for n in walk(gast.Module(body=loop.body, type_ignores=[])):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript) and isinstance(
                n.targets[0].value, gast.Name):
            writes.setdefault(n.targets[0].value.id, []).append(n)
    out = set()
    for arr, ws in writes.items():
        if arr in assigned or any(id(w) not in top for w in ws):
            continue
        if all(is_scalar(expr_kind(gast.Subscript(value=load(arr), slice=w.targets[0].slice, ctx=gast.Load()),
                                   rev.kinds))
               and all(n.id in have or n.id not in assigned for n in walk(w.targets[0].slice)
                       if isinstance(n, gast.Name)) for w in ws):
            out |= {id(w) for w in ws}
    return out


def note_write(rev, loop, write, save):
    """`save` (v_old = a[i]) keeps what `write` (a[i] = ...) overwrites: if the segments of checkpointed
    `loop` undo that write, the forward loop keeps v_old on a tape of every iteration."""
    p = rev.plans.get(id(loop)) if loop is not None else None
    if p is not None and id(write) in p.undoable:
        p.undo[anno.get(write, anno.OLD)] = write.targets[0].value.id
        anno.set(save, anno.SAVE, False)
        anno.set(write, anno.UNDO, anno.get(write, anno.OLD))


def undoes(rev, loop, v) -> bool:
    """Whether `v` is a value a write of checkpointed `loop` overwrites that its segments undo."""
    p = rev.plans.get(id(loop))
    return p is not None and v in p.undo


def reruns(rev, name: str) -> bool:
    """Whether the backward sweep may assign `name` again (a checkpointed loop's body assigns it)."""
    return any(name in assigned_in(lp.body) for lp in _loops(rev.fn.body) if id(lp) in rev.plans)


def rerun_reads(rev) -> set:
    """Values from before a checkpointed loop that its reruns read: the backward sweep needs them as they
    were (code after the loop that overwrites them must restore them, as for the backward sweep's own reads)."""
    return set().union(*(p.reads for p in rev.plans.values()))


def segment_loop(rev, s, backward: list) -> gast.For:
    """The backward sweep of checkpointed loop `s`: its segments last first, each with a place for the
    rerun of its iterations (filled by `rerun_segments`, after the optimisations) before `backward`, the
    loop's backward sweep over the segment."""
    p = rev.plans[id(s)]
    p.tapes = [tape for (v, _), (tape, dt, lp) in rev.tapes.items() if lp is s and v not in p.undo]
    p.undo_tapes = {v: tape for (v, _), (tape, dt, lp) in rev.tapes.items() if lp is s and v in p.undo}
    p.reads = loaded_in(s.body) - assigned_in(s.body) - written_arrays(s.body) - {p.index}
    rev.read(copy.deepcopy(p.count))
    every, segment, first, last = (load(x) for x in (p.every, p.segment, p.first, p.last))
    if isinstance(s, gast.For) and p.step is None:      # first, last: values of the loop variable
        begin = _binop(p.start, gast.Add(), _binop(segment, gast.Mult(), every))
        end = copy.deepcopy(p.stop)
        forward_range, backward_range = call("range", first, last), reversed_range([first, last])
    else:                                               # first, last: iteration numbers
        begin, end = _binop(segment, gast.Mult(), every), copy.deepcopy(p.count)
        forward_range, backward_range = call("range", first, last), reversed_range([first, last])
        if isinstance(s, gast.For):                     # of range(a, b, c): a + i * c
            at = [_binop(p.start, gast.Add(), _binop(x, gast.Mult(), p.step)) for x in (first, last)]
            back = [_binop(p.start, gast.Add(), _binop(_binop(x, gast.Sub(), const(1)), gast.Mult(), p.step))
                    for x in (last, first)]
            forward_range = call("range", *at, copy.deepcopy(p.step))
            backward_range = call("range", *back, _negated(p.step))
    rerun = gast.For(target=store(p.index), iter=forward_range, body=[gast.Pass()], orelse=[], type_comment=None)
    anno.set(rerun, anno.RERUN, p.segment)
    body = [assign(p.first, begin), assign(p.last, call("min", _binop(first, gast.Add(), every), end)),
            comment("rerun the segment forward, taping it"), rerun,
            comment("sweep the segment back"),
            gast.For(target=store(p.index), iter=backward_range, body=backward, orelse=[], type_comment=None)]
    count = call("rt.segments", copy.deepcopy(p.count), every)
    loop = gast.For(target=store(p.segment), iter=call("range", _binop(count, gast.Sub(), const(1)), const(-1),
                                                        const(-1)), body=body, orelse=[], type_comment=None)
    anno.set(loop, anno.SEGMENTS, p)
    return loop


# ---- after the optimisations: the forward loop untaped with snapshots, the segments' reruns ------------
def rerun_segments(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """Split each checkpointed loop's taping between its forward loop and the backward sweep: the forward
    loop loses its pushes and gains a snapshot at each segment's start; the backward sweep's segments
    restore their snapshot and rerun the loop body with the pushes (only what leads to them)."""
    found = {}
    for block, s in _blocks_statements(fn.body):
        p = anno.get(s, anno.CHECKPOINT)
        if p is not None:
            found.setdefault(p.segment, {})["forward"] = (block, s, p)
        p = anno.get(s, anno.SEGMENTS)
        if p is not None:
            found.setdefault(p.segment, {})["segments"] = (block, s)
    if not any("segments" in parts for parts in found.values()):
        return fn
    namer = Namer({n.id for n in walk_names(fn)})
    groups = None
    stacks = {s.targets[0].id for s in fn.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
              and isinstance(s.value, gast.List) and not s.value.elts}
    for parts in found.values():
        if "segments" not in parts:     # its backward sweep reads nothing it computes: an ordinary loop
            continue
        if "forward" not in parts:      # dead code elimination dropped the forward loop (no iteration computes a
            _unsegmented(*parts["segments"])  # value the backward sweep reads): nothing to snapshot or rerun
            continue
        block, loop, p = parts["forward"]
        after, segments = parts["segments"]
        if groups is None:
            groups, read_only = sharing_groups(fn), read_only_names(fn, kinds)
            groups = {n: g for n, g in groups.items() if n not in read_only}    # (never written back into)
        _split(block, loop, p, segments, stacks | set(p.tapes), namer, kinds, _bound_after(fn, loop, segments),
               after=after, groups=groups)
    return fn


def _read_below(block: list, segments: gast.For, groups: dict) -> dict:
    """group -> the names of it (memory_sharing.sharing_groups: names that may share memory, flow-insensitive)
    that code after `segments` in `block`, the rest of the backward sweep, reads."""
    names: dict = {}
    for s in block[block.index(segments) + 1:]:
        for n in walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in groups:
                names.setdefault(groups[n.id], set()).add(n.id)
    return names


def _bound_after(fn: gast.FunctionDef, loop, segments) -> set:
    """Names bound, and arrays written in place, by statements that run after `loop`: in the rest of the
    forward sweep and in the backward sweep (another loop's rerun rebinds its names), but for the loop's own
    `segments` (which bind its segment bounds and restore its state). A value the loop reads
    but does not carry is still its value at the loop's time when the rerun reads it only if nothing here
    rebinds it (fuzz seed 138575: `x` read by a checkpointed while loop and rebound by a later loop)."""
    out, seen = set(), False

    def visit(stmts):
        nonlocal seen
        for s in stmts:
            if s is loop:
                seen = True
            elif seen and s is not segments:
                out.update(assigned_in([s]) | written_arrays([s]))
            else:
                for b in nested_blocks(s):
                    visit(b)
    visit(fn.body)
    return out


def _unsegmented(block: list, segments: gast.For):
    """Replace the segment loop of a checkpointed loop whose forward loop was dead by the loop's plain backward
    sweep over every iteration, last first."""
    p = anno.get(segments, anno.SEGMENTS)
    sweeps = [s for s in segments.body if isinstance(s, gast.For) and not anno.has(s, anno.RERUN)]
    if not sweeps:                  # dead code elimination emptied its backward sweep too (fuzz seed 20411)
        at = block.index(segments)
        block[at:at + 1] = [] if any(not is_comment(s) for s in block if s is not segments) else [gast.Pass()]
        return
    sweep = sweeps[-1]              # the backward sweep over one segment's iterations, from `last` to `first`
    # the loop's bounds as the segments' code has them now: copy propagation may have renamed the plan's (a
    # `bound` the loop read, a name of `stop` rebound in the loop: fuzz seed 2600024, NameError)
    values = {s.targets[0].id: s.value for s in segments.body
              if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)}
    start = const(0)                # first = segment * every: an iteration's number (a while loop, a step)
    if p.start is not None and p.step is None:      # first = start + segment * every: the loop variable's value
        first = values[p.first]
        if isinstance(first, gast.BinOp) and isinstance(first.op, gast.Add):
            start = first.left
    end = values[p.last].args[1]    # last = min(first + every, end)
    every_iteration = [simplify(a) for a in substitute(sweep.iter, {p.first: start, p.last: end}).args]
    block[block.index(segments)] = gast.For(target=store(p.index), iter=call("range", *every_iteration),
                                            body=sweep.body, orelse=[], type_comment=None)


def _split(block, loop, p: Plan, segments: gast.For, tapes: set, namer, kinds: dict, rebound: set, *, after: list,
           groups: dict):
    """Make `loop` the forward sweep of checkpointed loop `p`, untaped, with a snapshot of the state at each
    segment's start, and fill the rerun of `segments` (in the block `after`). A carried array whose memory the
    loop may write into (memory_sharing.sharing_groups: `groups`) is a copy in each rerun, so the array the loop
    started from keeps the forward loop's writes: where the rest of the backward sweep reads it under another name
    (`c = a * 1.0` / `y = np.sum(c * c)` / `buf = c` / a loop writing `buf[1]` and rebinding `buf`: y's backward
    sweep reads c), its first snapshot is written back into it after the segments (d/da[1] was 2.1286 for 2.3284,
    both backends)."""
    rerun_loop = next(s for s in segments.body if anno.get(s, anno.RERUN) == p.segment)
    undone = set(p.undo.values())       # arrays whose writes are undone before a rerun (not snapshotted)
    undo_tapes = set(p.undo_tapes.values())
    rerun = keep_taped(copy.deepcopy([s for s in loop.body if not anno.get(s, anno.COUNT)
                                      and not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                                               and s.targets[0].id in p.undo) and not _pushes(s, undo_tapes)]),
                       tapes)
    written = written_arrays(loop.body)
    # the state a segment's rerun starts from: what the loop carries or writes in place, and what it reads that
    # is rebound after it
    bounds = assigned_in(segments.body[:segments.body.index(rerun_loop)]) | {segments.target.id}   # first, last
    state = sorted(exposed_reads(rerun, {p.index}) & (assigned_in(loop.body) | written | rebound) - tapes - undone
                   - bounds)
    undo = _undo_loop(loop, p) if undone else []
    carried = {n.targets[0].id for s in loop.body for n in walk(s) if anno.get(n, anno.PHI)}
    loop.body = _untaped(loop.body, tapes)
    every = load(p.every)
    number = _number(p)
    if isinstance(loop, gast.For):
        # the trip count read off the loop as it is now: the plan's copy of it predates copy propagation, which
        # may have renamed the loop's bounds (`lo = m` ... `range(lo, n, 2)` -> `range(m, n, 2)`)
        p.count = _count(loop)
        capacity = call("rt.segments", copy.deepcopy(p.count), every)
    else:
        capacity = const(p.checkpoints)
    row = _binop(number, gast.FloorDiv(), every)                      # its segment's number
    lists, saves, halve, restore = [], [], [], []
    read_below = _read_below(after, segments, groups)
    written_groups = {groups.get(w) for w in written} - {None}
    starts, give_back = [], []
    for v in state:
        name = namer.fresh(v + "_snapshots")
        saved = gast.Subscript(value=load(name), slice=load(p.segment), ctx=gast.Load())
        k = kinds.get(v)
        if is_scalar(k) and dtype(k) in ("f", "i", "b"):     # a scalar: an element of a 1-d array
            numpy_dtype = [] if dtype(k) == "f" else [
                gast.Attribute(value=load("np"), attr={"i": "int64", "b": "bool_"}[dtype(k)], ctx=gast.Load())]
            lists.append(assign(name, call("np.empty", copy.deepcopy(capacity), *numpy_dtype)))
            saves.append(assign(gast.Subscript(value=load(name), slice=copy.deepcopy(row), ctx=gast.Store()), load(v)))
        elif is_array(k):                                # an array: a row of a row tape (runtime/tapes.py)
            lists.append(assign(name, call("rt.row_tape", copy.deepcopy(capacity))))
            saves.append(assign(name, call("rt.put_row", load(name), copy.deepcopy(row), load(v))))
            saved = call("rt.get_row", load(name), load(p.segment), load(v))
            if v in written and v in carried:   # a new array: the rerun writes into it
                saved = call("np.copy", saved)
            if v in carried and groups.get(v) in written_groups and read_below.get(groups.get(v), set()) - {v}:
                start = namer.fresh(v + "_start")
                starts.append(assign(start, load(v)))
                give_back.append(assign(gast.Subscript(value=load(start), slice=const(Ellipsis), ctx=gast.Store()),
                                        call("rt.get_row", load(name), const(0), load(v))))
        else:   # kind unknown: a list of v's type (Numba types `[None] * n` a list of none, which takes no array)
            lists.append(assign(name, gast.BinOp(left=gast.List(elts=[load(v)], ctx=gast.Load()), op=gast.Mult(),
                                                 right=copy.deepcopy(capacity))))
            saves.append(assign(gast.Subscript(value=load(name), slice=copy.deepcopy(row), ctx=gast.Store()),
                                call("rt.copy", load(v)) if v in written else load(v)))
        halve.append(gast.Expr(value=call("rt.halve", load(name))))
        if v in written and v not in carried:   # the same array, its numbers restored
            restore.append(assign(gast.Subscript(value=load(v), slice=const(Ellipsis), ctx=gast.Store()), saved))
        else:
            restore.append(assign(v, saved))
    if give_back:
        at = after.index(segments) + 1
        after[at:at] = [comment("give the arrays the loop started from their values before it back")] + give_back
    at = block.index(loop)
    block[at:at] = starts
    at += len(starts)
    if isinstance(loop, gast.For):
        snapshot = gast.If(test=_eq(_binop(number, gast.Mod(), every), const(0)), body=saves, orelse=[])
        block[at:at] = [assign(p.every, call("rt.checkpoint_every", copy.deepcopy(p.count), const(p.checkpoints)))] + lists
        loop.body[:0] = [snapshot] if saves else []
    else:   # trip count unknown: segments of one iteration, twice as long each time the snapshots are all taken
        n = load(p.count.id)
        full = gast.If(test=_eq(n, _binop(const(p.checkpoints), gast.Mult(), every)),
                       body=[assign(p.every, _binop(const(2), gast.Mult(), every))] + halve, orelse=[])
        snapshot = gast.If(test=_eq(_binop(n, gast.Mod(), every), const(0)), body=saves, orelse=[])
        block[at:at] = [assign(p.every, const(1))] + lists
        loop.body[:0] = [full, snapshot] if saves else []
    k = segments.body.index(rerun_loop)
    segments.body[k - 1:k - 1] = ([comment("restore the snapshot")] + restore if restore else []) + undo
    rerun_loop.body = rerun


def _undo_loop(loop, p: Plan) -> list:
    """Before a segment's rerun: its undoable writes undone, last first, from the tape of the values they
    overwrote (with the integer arithmetic their indices need)."""
    writes = [s for s in loop.body if anno.get(s, anno.UNDO) in p.undo]
    defs = {s.targets[0].id: s for s in loop.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)}
    need = set()
    todo = [n.id for w in writes for n in walk(w.targets[0].slice) if isinstance(n, gast.Name)]
    while todo:
        v = todo.pop()
        if v in need or v not in defs:
            continue
        if not is_pure(defs[v].value):
            raise AssertionError(f"srcdiff internal error: the index {v} of an undone write is not arithmetic")
        need.add(v)
        todo += [n.id for n in walk(defs[v].value) if isinstance(n, gast.Name)]
    body = [copy.deepcopy(s) for s in loop.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
            and s.targets[0].id in need]
    for w in reversed(writes):
        tape = p.undo_tapes[anno.get(w, anno.UNDO)]
        body.append(assign(copy.deepcopy(w.targets[0]), gast.Subscript(value=load(tape), slice=_number(p),
                                                                       ctx=gast.Load())))
    first, last = load(p.first), load(p.last)
    if p.step is None:
        it = reversed_range([first, last])
    else:
        it = call("range", *[_binop(p.start, gast.Add(), _binop(_binop(x, gast.Sub(), const(1)), gast.Mult(), p.step))
                             for x in (last, first)], _negated(p.step))
    return [comment("undo the segment's writes (from the values they overwrote)"),
            gast.For(target=store(p.index), iter=it, body=body, orelse=[], type_comment=None)]


def _untaped(stmts: list, tapes: set) -> list:
    """The forward loop's statements less its pushes (onto stacks and tapes) and the copies of elements it
    overwrites, which only the backward sweep reads."""
    out = []
    for s in stmts:
        if anno.get(s, anno.SAVE) or _pushes(s, tapes):
            continue
        map_blocks(s, lambda b: _untaped(b, tapes))
        if isinstance(getattr(s, "body", None), list) and not s.body:
            s.body = [gast.Pass()]
        out.append(s)
    return out


def _until_comment(stmts):
    for s in stmts:
        if is_comment(s):
            return
        yield s


def _pushes(s, tapes) -> bool:
    if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute)
            and s.value.func.attr == "append" and isinstance(s.value.func.value, gast.Name)):
        return s.value.func.value.id in tapes
    return (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)
            and isinstance(s.targets[0].value, gast.Name) and s.targets[0].value.id in tapes)


def keep_taped(stmts: list, tapes: set) -> list:
    """A segment's rerun less what its tape does not depend on: only statements whose values reach a push
    (onto one of `tapes`), a write into an array, or a call with effects stay (not a loss accumulated
    along the loop, say)."""
    kept, live = set(), set()

    def loads(node):
        return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}

    def mark(block) -> bool:
        changed = False
        for s in block:
            if isinstance(s, (gast.If, gast.For, gast.While)):     # (a kept one's blocks may keep more)
                inner = [mark(s.body), mark(s.orelse)]
                changed = changed or any(inner)
                take = id(s) not in kept and any(id(b) in kept for b in s.body + s.orelse)
                head = s.test if not isinstance(s, gast.For) else s.iter
            elif id(s) in kept or is_comment(s):
                continue
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                take, head = s.targets[0].id in live or not is_pure(s.value), s
            else:       # pushes, writes into arrays; not what the forward sweep shows (print, assert)
                take = not isinstance(s, (gast.Assert, gast.Pass)) and not (
                    isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
                    and isinstance(s.value.func, gast.Name) and s.value.func.id == "print")
                head = s
            if take:
                kept.add(id(s))
                live.update(loads(head))
                changed = True
        return changed

    while mark(stmts):
        pass

    def sweep(block):
        out = []
        for s in block:
            if is_comment(s):
                out.append(s)
            elif id(s) in kept:
                map_blocks(s, sweep)
                if isinstance(s, gast.If) and not s.body:
                    s.body = [gast.Pass()]
                out.append(s)
        # a comment names the statements after it: gone with them (the pushes, at the end, are no line's)
        return [b for k, b in enumerate(out) if not (is_comment(b) and all(
            _pushes(c, tapes) or anno.get(c, anno.PHI) for c in _until_comment(out[k + 1:])))]

    return sweep(stmts)


# ---- helpers ---------------------------------------------------------------------------------------------
def _binop(left, op, right):
    return simplify(gast.BinOp(left=copy.deepcopy(left), op=op, right=copy.deepcopy(right)))


def _negated(e):
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        return copy.deepcopy(e.operand)
    if isinstance(e, gast.Constant):
        return const(-e.value)
    return gast.UnaryOp(op=gast.USub(), operand=copy.deepcopy(e))


def _eq(left, right):
    return gast.Compare(left=left, ops=[gast.Eq()], comparators=[right])


def _count(loop):
    """The loop's trip count as an expression."""
    if isinstance(loop, gast.While):
        return load(anno.get(loop, anno.ITERS))
    start, stop, step = range_args(loop)
    if step is not None:
        return call("len", copy.deepcopy(loop.iter))
    return trip_count(_binop(stop, gast.Sub(), start))


def _loops(stmts):
    """The loops in `stmts` that are in no other loop (inside branches too)."""
    for s in stmts:
        if isinstance(s, (gast.For, gast.While)):
            yield s
        elif isinstance(s, gast.If):
            yield from _loops(s.body)
            yield from _loops(s.orelse)


def _blocks_statements(stmts):
    """(block, statement) for every statement in `stmts` and the blocks nested in it."""
    for s in stmts:
        yield stmts, s
        for b in nested_blocks(s):
            yield from _blocks_statements(b)
