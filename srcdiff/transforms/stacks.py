"""Jitted code only: list stacks of float arrays in `range` loops become row tapes (runtime/tapes.py).

The reverse pass keeps loop-overwritten values in lists (`s = []`, `s.append(v)`, `v = s.pop()`),
which read well and suit Python. Under Numba a list of arrays keeps one live allocation per pushed
array; a row tape is one preallocated array indexed by the iteration, as scalars' tapes already are
(the HMM forward recursion at K=5 runs about 20% faster). A stack becomes a row tape when every
value pushed onto it is a float array (kinds from the reverse pass, recorded on the function as
annotation STACK_KINDS), its one push is a statement of a `for ... in range(a, b)` loop and its
one pop a statement of a later loop of the same block running over the same range backwards (the
function's top-level loops, or a checkpointed loop's rerun and backward sweep of one segment:
transforms/checkpoints.py, whose tapes are made once, before the loop over its segments, with a
segment's rows):

    s = []                      ->  (dropped)
    for t in range(a, b):       ->  s_tape = rt.row_tape(max(b - a, 0))
                                    for t in range(a, b):
        s.append(v)             ->      s_tape = rt.put_row(s_tape, t - a, v)
    for t in range(b - 1, a - 1, -1):
        v = s.pop()             ->      v = rt.get_row(s_tape, t - a, v)

A loop that writes an array ahead of where it reads it (`ys[t + 1] = f(ys[t])`) keeps no tape of the
elements it overwrites when nothing reads them again (`_drop_dead_restores`): the backward sweep would
restore `ys[t + 1]` only for reads at or above t + 1, and there are none.
"""
from __future__ import annotations

import copy

import gast

from . import annotations as anno, unbound
from .astutil import (assign, call, clone, const, dotted, dotted_name, load, names_in, every_block, nested_blocks, walk, walk_names,
                      walk_statements)
from .kinds import as_float, dtype, is_array, is_float_array, is_scalar, ndim
from .memory_sharing import memory_roots, read_only_names, sharing_groups
from .reverse_support import simplify, trip_count


class Stack:
    """What a list stack holds: `kinds` of the values pushed onto it, the `primal` whose values they
    are (reverse.Sweeps.stacks; None for another stack), after which its row tape is named, and whether
    they may be read-only arrays under Numba (`read_only`: memory_sharing.read_only_names), and the NumPy dtype
    (`dtype`, a dotted name) every array pushed onto it was explicitly cast to (`x.astype('int32')`), else
    None: kinds know an integer or float array, not its width."""
    __slots__ = ("kinds", "primal", "read_only", "dtype")

    def __init__(self, kinds: set, primal: str | None, read_only: bool = False, dtype: str | None = None):
        self.kinds, self.primal, self.read_only, self.dtype = kinds, primal, read_only, dtype


def record_stack_kinds(fn: gast.FunctionDef, kinds: dict, primals: dict | None = None) -> gast.FunctionDef:
    """Note on `fn` the kinds of the values each list stack receives (`s.append(v)`, or forward mode's
    `rt.push(s, v)`, with v a name, `rt.copy(name)` or forward mode's `rt.zeros_like(name)`), and the primal each holds
    (`primals`: stack name -> primal name, from reverse mode)."""
    found: dict = {}
    pushes = [p for p in map(_pushed, walk_statements(fn.body)) if p[0] is not None]
    read_only = read_only_names(fn, kinds) if pushes else set()     # (no push: no walk for them)
    stacks_read_only = set()
    casts, dtypes = unbound.cast_dtypes(fn) if pushes else {}, {}
    for s, arg in pushes:
        if isinstance(arg, gast.Name) and arg.id in read_only:
            stacks_read_only.add(s)
        zeros = isinstance(arg, gast.Call) and dotted_name(arg.func) == "rt.zeros_like" and len(arg.args) == 1
        copied = isinstance(arg, gast.Call) and dotted_name(arg.func) == "rt.copy" and len(arg.args) == 1
        arg = arg.args[0] if zeros or copied else arg     # (rt.copy(v): a value of v's kind, typed as a view)
        kind = kinds.get(arg.id) if isinstance(arg, gast.Name) else None
        found.setdefault(s, set()).add(as_float(kind) if zeros and kind is not None else kind)
        cast = casts.get(arg.id) if isinstance(arg, gast.Name) else None
        dtypes.setdefault(s, set()).add(cast if not zeros or _floating(cast) else None)   # (a tangent: a float)
    primal_of = primals or {}
    anno.set(fn, anno.STACK_KINDS, {s: Stack(ks, primal_of.get(s), s in stacks_read_only,
                                             next(iter(dtypes[s])) if len(dtypes[s]) == 1 else None)
                                    for s, ks in found.items()})
    return fn


def _floating(dotted_dtype: str | None) -> bool:
    import numpy as np
    return dotted_dtype is not None and np.issubdtype(getattr(np, dotted_dtype.split(".")[-1]), np.floating)


def row_tapes(fn: gast.FunctionDef) -> gast.FunctionDef:
    """A copy of `fn` with the float-array stacks of its `range` loops turned into row tapes, and the
    other list stacks typed before their first push (_type_stacks)."""
    fn = _drop_dead_restores(fn)
    pushed = anno.get(fn, anno.STACK_KINDS) or {}
    floats = {s for s, st in pushed.items()
              if all(is_float_array(k, "known") for k in st.kinds)}
    if not pushed:
        return fn
    plans = _plans(fn, sorted(floats))
    if plans:
        plans = _without_shared_writes(fn, plans)
    if not plans:   # only top-level statements change: the function's own copy of its body list
        fn = copy.copy(fn)
        fn.body = _type_stacks(fn.body, pushed, set())
        return fn
    fn = clone(fn)
    fn.body = _type_stacks(fn.body, pushed, {p[0] for p in plans})
    taken = {n.id for n in walk_names(fn)}
    before: dict = {}
    moves = []
    blocks = list(every_block(fn.body))
    owner = {id(b): st for st in walk_statements([fn]) for b in nested_blocks(st)}
    for s, where, fwd, push, bwd, pop in plans:
        loops = [st for st in blocks[where] if isinstance(st, gast.For)]
        f, b = loops[fwd], loops[bwd]
        start, stop = _range(f.iter)
        tape = (pushed[s].primal or s) + "_tape"
        tape = tape if tape not in taken else s
        taken.add(tape)
        fn.body[:] = [st for st in fn.body if not _creates(st, s)]
        count = trip_count(_sub(stop, start))
        segments = anno.get(owner.get(id(blocks[where])), anno.SEGMENTS)
        v = b.body[pop].targets[0].id
        if segments is not None:   # a checkpointed loop's segment: one tape of `every` rows serves them all
            at = before.setdefault(id(owner[id(blocks[where])]), [])
            at.append(assign(tape, call("rt.row_tape", load(segments.every))))
            if segments.start is None:
                at.extend(_template(v, pushed[s].kinds, fn))
        else:
            before.setdefault(id(f), []).append(assign(tape, call("rt.row_tape", count)))
        row_f = _sub(load(f.target.id), start)
        row_b = _sub(load(b.target.id), start)     # (the backward loop runs down to start: _plan checked)
        value = f.body[push].value.args[0]
        f.body[push] = assign(tape, call("rt.put_row", load(tape), row_f, copy.deepcopy(value)))
        moves.append((f.body, f.body[push], value))
        b.body[pop] = assign(v, call("rt.get_row", load(tape), row_b, load(v)))
    for block in blocks:
        block[:] = [new for st in block for new in before.get(id(st), []) + [st]]
    roots = memory_roots(fn, {}) if moves else {}
    for body, put, value in moves:
        _record_where_defined(body, put, value, roots)
    return fn


def _without_shared_writes(fn, plans) -> list:
    """`plans` less those whose pushed array the forward loop writes into both under its own name and under
    another that shares its memory (`b6 = buf6` / `b6[2] = t` / `buf6[0] = u`). A list stack holds the array
    itself, which the backward sweep's undoing of both writes brings back to each point; a row tape holds a
    copy, which only the writes under its own name are undone on, wherever the copy is made (end of the body:
    the other write is left in it; top of the body: the own write's undoing finds values it never held). The
    swapped buffer of test_follow_writes' second-name test gave 2.1664 for 2.1754 under jit=True. Nor where another
    name of its memory is pushed in the loop (`b2v1 = b1` written, `b1v2 = b2` pushed, the two swapped at the end
    of the body: one array, under each name every other iteration): the backward sweep undoes the own name's
    writes on the copy, and the other stack's array, read after, keeps them (reverse mode over the gradient of
    `b1, b2 = b2, b1` / `al = b2` / `al[k] = ...`: 0.03 to 0.13 off under jit=True only); names popped from two
    stacks count as such names (that gradient's backward loop, which the forward sweep of reverse mode over it
    runs: the swapped buffers, popped under each name in turn). Nor where the array the loop writes
    into may, on its first iteration, be one that code outside the two loops reads under another name
    (`_entry_shared`): the backward sweep undoes the first iteration's write on the tape's copy only."""
    roots = memory_roots(fn, {})
    groups = None
    blocks = list(every_block(fn.body))
    out = []
    for plan in plans:
        s, where, fwd, push, bwd, _ = plan
        loops = [st for st in blocks[where] if isinstance(st, gast.For)]
        f = loops[fwd]
        value = f.body[push].value.args[0]
        if isinstance(value, gast.Name) and any(_writes_into(st, value.id) for st in f.body):
            groups = groups if groups is not None else sharing_groups(fn)
            if _entry_shared(fn, value.id, groups, (f, loops[bwd])):
                continue
        if isinstance(value, gast.Name):
            root = roots.get(value.id, value.id)
            shared = {n for n, r in roots.items() if r == root} - {value.id}
            popped = _popped_names(f.body)
            if value.id in popped:   # (arrays popped from two lists may be one: a swap's buffers, each pushed in turn)
                shared |= popped - {value.id}
            if any(_writes_into(st, value.id) for st in f.body) and (
                    any(_writes_into(st, n) for st in f.body for n in shared) or _pushes_any(f.body, shared)):
                continue
        out.append(plan)
    return out


def _entry_shared(fn, name, groups, loops) -> bool:
    """Whether a name other than `name` that may share its memory (memory_sharing.sharing_groups: a second
    name, a list stack holding it, flow-insensitive) is read outside `loops`, the forward and backward loops of
    its row tape. A list stack holds the array itself, and the backward sweep's undoing of a write brings it
    back for every later reader; with a row tape, the first iteration's write into the array the loop starts
    from is undone on the tape's copy, and the array itself keeps it. Nested fuzz seed 1091082: a `while`
    loop's list stack held the buffer a following `for` loop wrote into (`buf15[1] = ...` after a swap
    `buf15, buf8 = buf8, ...`): d/da[0] -0.0845 for -0.0829 under jit=True; `c = a * 1.0` / `y = np.sum(c * c)`
    / `buf8 = c` before such a loop: 2.463 for 2.328."""
    group = groups.get(name)
    others = {n for n, g in groups.items() if g == group and n != name} if group is not None else set()
    if not others:
        return False
    skip = {id(loop) for loop in loops}
    todo = list(fn.body)
    while todo:
        node = todo.pop()
        if id(node) in skip:
            continue
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in others:
            return True
        todo.extend(gast.iter_child_nodes(node))
    return False


def _popped_names(body) -> set:
    """The names `body` (or a block nested in it) binds to a value popped from a list stack."""
    out = set()
    for st in walk_statements(body):
        v = getattr(st, "value", None)
        if popped_from(st) is not None or (isinstance(st, gast.Assign) and isinstance(v, gast.Call)
                                           and dotted_name(v.func) == "rt.pop"):
            if isinstance(st.targets[0], gast.Name):
                out.add(st.targets[0].id)
    return out


def _pushes_any(body, names) -> bool:
    """Whether a statement of `body` (or one nested in it) pushes one of `names` onto a stack."""
    for st in walk_statements(body):
        value = _pushed(st)[1]
        if isinstance(value, gast.Name) and value.id in names:
            return True
    return False


def _template(v, kinds, fn) -> list:
    """`[v = <an array of v's rank>]` before the segments of a checkpointed `while` loop, where the pop
    `v = rt.get_row(tape, row, v)` reads `v` for its rank and dtype: `v` is bound before it only in the loop's
    forward sweep and its segments' reruns, and Numba removes a `while` loop whose test it decides at compile
    time (`k = 0` / `while k < LIMIT:` with a module constant LIMIT = 0 folded in), leaving `v` undefined on every
    path it types (fuzz seed 166970: 'Unsupported assignment encountered: Undefined'). [] where `v` is
    already given a placeholder at the top of the function (transforms/unbound.py)."""
    if any(isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and st.targets[0].id == v
           for st in fn.body if not isinstance(st, (gast.For, gast.While, gast.If))):
        return []
    k = next(iter(kinds))
    return [unbound.placeholder(v, {v: k}, {}, set())]


def _record_where_defined(body, put, value, roots: dict):
    """Move a row tape's `put_row` up to just after the statement that defines the value it records (to the top
    of the loop body where the body does not bind it: a value carried from the last iteration or bound before the
    loop), where an array that may share that value's memory (`roots`: memory_sharing.memory_roots) is written in place
    between the two (and the value is not written itself). A list stack holds the array itself, a row tape a copy
    made when the row is put: at the end of the loop body, a view (`v = buf[::-1]` of `buf[::-1] *= t`, fuzz seed
    107810) or a second name of an array (the old `w` of `u, w = w, g(u, w)` / `u[0] = t`, which the new `u`
    names: redteam) would be copied after the write through the other name (a wrong gradient under jit=True
    only; the list stack's array was restored by the backward sweep's undoing of the write)."""
    if not isinstance(value, gast.Name):
        return
    at = body.index(put)
    binds = [k for k, st in enumerate(body[:at]) if any(isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
                                                         and n.id == value.id for n in gast.walk(st))]
    if len(binds) > 1 or (binds and not (isinstance(body[binds[0]], gast.Assign)
                                         and isinstance(body[binds[0]].targets[0], gast.Name))):
        return
    start = binds[0] + 1 if binds else 0
    root = roots.get(value.id, value.id)
    shared = {n for n, r in roots.items() if r == root} - {value.id}
    view = body[binds[0]].value if binds else None    # v = base[...]: a view of base (or a copy: moving changes nothing)
    if isinstance(view, gast.Subscript) and isinstance(view.value, gast.Name):
        shared.add(view.value.id)
    between = body[start:at]
    if any(_writes_into(st, n) for st in between for n in shared) and not any(_writes_into(st, value.id)
                                                                                for st in between):
        body.insert(start, body.pop(at))


def _writes_into(st, name) -> bool:
    """`st` writes into the array `name` (an element or slice assignment, anywhere in it)."""
    return any(isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)
               and n.value.id == name for n in gast.walk(st))


def _type_stacks(body, pushed, tapes):
    """The list stacks left (not in `tapes`) start as an empty list typed like what they receive:
    `s = rt.stack_of(0.0)` instead of `s = []`. Numba types a list by its appends, and it removes code whose
    test it decides at compile time (a `while k < 0` after `k = 0`, with a module constant folded in); a
    stack whose only append was removed would leave its pops, and what the backward sweep computes from
    them, without a type. A stack of arrays that may be read-only (Stack.read_only) is made by
    `rt.read_only_stack_of`: Numba types np.broadcast_to's results and module constants read-only, and a
    list's element type must match what is appended. Returns the new list of top-level statements (those
    retyped are new nodes)."""
    out = []
    for st in body:
        out.append(st)
        if not isinstance(st, gast.Assign) or not isinstance(st.targets[0], gast.Name):
            continue
        s = st.targets[0].id
        ks = pushed[s].kinds if s in pushed else {None}
        if s in tapes or not _creates(st, s) or len(ks) != 1:
            continue
        k = next(iter(ks))
        if dtype(k) not in ("f", "i", "b") or not (is_scalar(k) or is_array(k) and (ndim(k) or 0) >= 1):
            continue      # (a mask or an index array too: fuzz seed 166970, `a[a < 0.0]` in a `while k < LIMIT`)
        out[-1] = copy.copy(st)
        typed = "rt.read_only_stack_of" if s in pushed and pushed[s].read_only else "rt.stack_of"
        example = unbound.placeholder(s, {s: k}, {}, set()).value
        if is_array(k) and s in pushed and pushed[s].dtype:    # (an array cast to a width of its own)
            example.keywords = [gast.keyword(arg="dtype", value=dotted(pushed[s].dtype))]
        out[-1].value = call(typed, example)
    return out


def _plans(fn, stacks) -> list:
    """[(s, block #, forward loop #, push position, backward loop #, pop position)] for the stacks `s` of
    `stacks` that fit, in `stacks`' order (one pass over the blocks and one over the names for them all)."""
    pushes, pops = {s: [] for s in stacks}, {s: [] for s in stacks}
    blocks = list(every_block(fn.body))
    for where, block in enumerate(blocks):
        loops = [st for st in block if isinstance(st, gast.For)]
        for i, lp in enumerate(loops):
            for j, st in enumerate(lp.body):
                s = _method(st, "append")
                if s in pushes:
                    pushes[s].append((where, i, j))
                s = popped_from(st)
                if s in pops:
                    pops[s].append((where, i, j))
    uses = dict.fromkeys(stacks, 0)
    for n in walk_names(fn):
        if n.id in uses:
            uses[n.id] += 1
    out = []
    for s in stacks:
        if len(pushes[s]) != 1 or len(pops[s]) != 1 or uses[s] != 3:  # created, pushed once, popped once only
            continue
        (where, fwd, push), (where_b, bwd, pop) = pushes[s][0], pops[s][0]
        if where != where_b:
            continue
        loops = [st for st in blocks[where] if isinstance(st, gast.For)]
        f, b = loops[fwd], loops[bwd]
        if fwd >= bwd or _range(f.iter) is None or not isinstance(b.target, gast.Name) or f.target.id != b.target.id:
            continue
        start, stop = _range(f.iter)
        if not (_is_range(b.iter) and len(b.iter.args) == 3 and _const(b.iter.args[2]) == -1
                and _same(b.iter.args[0], _sub(stop, const(1)))
                and _same(b.iter.args[1], _sub(start, const(1)))):
            continue
        out.append((s, where, fwd, push, bwd, pop))
    return out


def _is_range(e):
    return isinstance(e, gast.Call) and dotted_name(e.func) == "range" and not e.keywords


def _range(e):
    """(start, stop) of `range(stop)`, `range(start, stop)` or `range(start, stop, 1)`, else None."""
    if not _is_range(e):
        return None
    a = e.args
    if len(a) == 1:
        return const(0), a[0]
    if len(a) == 2 or (len(a) == 3 and _const(a[2]) == 1):
        return a[0], a[1]
    return None


def _const(e):
    return e.value if isinstance(e, gast.Constant) else None


def _sub(x, y):
    """x - y, simplified as the reverse pass writes loop bounds."""
    return simplify(gast.BinOp(left=copy.deepcopy(x), op=gast.Sub(), right=copy.deepcopy(y)))


def _same(x, y) -> bool:
    return gast.dump(simplify(copy.deepcopy(x))) == gast.dump(simplify(copy.deepcopy(y)))


def _pushed(n):
    """(stack name, the value pushed) of `s.append(v)` or `rt.push(s, v)`, else (None, None)."""
    s = _method(n, "append")
    if s is not None:
        return s, n.value.args[0] if len(n.value.args) == 1 else None
    if (isinstance(n, gast.Expr) and isinstance(n.value, gast.Call) and dotted_name(n.value.func) == "rt.push"
            and len(n.value.args) == 2 and isinstance(n.value.args[0], gast.Name)):
        return n.value.args[0].id, n.value.args[1]
    return None, None


def _method(n, attr):
    """The list name in an expression statement `s.<attr>(...)`, else None."""
    if (isinstance(n, gast.Expr) and isinstance(n.value, gast.Call) and isinstance(n.value.func, gast.Attribute)
            and n.value.func.attr == attr and isinstance(n.value.func.value, gast.Name)):
        return n.value.func.value.id
    return None


def popped_from(st):
    """The list name in `v = s.pop()`, else None."""
    if (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and isinstance(st.value, gast.Call)
            and not st.value.args and isinstance(st.value.func, gast.Attribute) and st.value.func.attr == "pop"
            and isinstance(st.value.func.value, gast.Name)):
        return st.value.func.value.id
    return None


def pushed_to(n):
    """The list name in `s.append(v)`, else None."""
    return _method(n, "append")


def _creates(st, s) -> bool:
    return (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and st.targets[0].id == s
            and isinstance(st.value, gast.List) and not st.value.elts)


# ---- restores nothing reads ------------------------------------------------------------------------------
def _offset(e, t, defs):
    """c when `e` is `t`, `t + c` or `t - c` (c an int literal), directly or through a name the loop body
    assigns once (`ys2 = t + 1`); else None."""
    if isinstance(e, gast.Name) and e.id != t:
        e = defs.get(e.id)
    if isinstance(e, gast.Name):
        return 0 if e.id == t else None
    if (isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub)) and isinstance(e.left, gast.Name)
            and e.left.id == t and isinstance(e.right, gast.Constant) and type(e.right.value) is int):
        return e.right.value if isinstance(e.op, gast.Add) else -e.right.value
    return None


def _loop_defs(body):
    """name -> value for the names a loop body assigns exactly once, at its top level."""
    count: dict = {}
    defs: dict = {}
    for st in body:
        for n in walk_names(st):
            if isinstance(n.ctx, gast.Store):
                count[n.id] = count.get(n.id, 0) + 1
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
            defs[st.targets[0].id] = st.value
    return {k: v for k, v in defs.items() if count.get(k) == 1}


def _array_rows(body, arr, t):
    """(elements written, elements read) of the 1-d array `arr` in a loop body as offsets from the loop
    variable `t`, or None where `arr` is used otherwise (as a whole, sliced, or at indices not t + c)."""
    defs = _loop_defs(body)
    written, read = [], []
    for st in body:
        subs = {id(n.value) for n in walk(st) if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name)
                and n.value.id == arr}
        for n in walk(st):
            if isinstance(n, gast.Name) and n.id == arr and id(n) not in subs:
                return None
            if not (isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id == arr):
                continue
            c = None if isinstance(n.slice, (gast.Slice, gast.Tuple)) else _offset(n.slice, t, defs)
            if c is None:
                return None
            (written if isinstance(n.ctx, gast.Store) else read).append(c)
    return written, read


def _tape_push(st, old):
    """The tape name when `st` is `tape[i] = old` (a scalar tape), else None."""
    t = st.targets[0] if isinstance(st, gast.Assign) else None
    if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and isinstance(st.value, gast.Name) \
            and st.value.id == old:
        return t.value.id
    return None


def _tape_pop(st, tape):
    """The restored name when `st` is `old = tape[i]`, else None."""
    if (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and isinstance(st.value, gast.Subscript)
            and isinstance(st.value.value, gast.Name) and st.value.value.id == tape):
        return st.targets[0].id
    return None


def _drop_dead_restores(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn` without the tapes of array rows a forward loop overwrites where the backward sweep's restores of
    them are never read. In `for t in range(a, b): ys[t + 1] = f(ys[t])` iteration t writes row t + 1 and
    every read is of a row below the rows written (read offsets < the write offset): when the backward sweep
    is at iteration t, rows above t have been written by iterations it has not yet undone, and no earlier
    iteration reads them, so the array can keep its final values. The range must start at an int literal from
    which no offset reaches below row 0 (Python's `ys[t - 1]` at t = 0 is the last row, which a later iteration
    writes: `buf[i] = A[i, (i + 1) % 3] + y * buf[i - 1]` from i = 0 had a wrong jitted gradient in y). Only for a 1-d array written element by
    element (its saved elements on a scalar tape that holds nothing else) that no other name can see, the
    function's top-level loops (the backward loop runs last: nothing after it may read the array) and a
    forward loop that writes the array at one offset:

        for t in range(n):                         for t in range(n):
            ys_old1 = ys[ys2]
            ys[ys2] = ys11                    ->        ys[ys2] = ys11
            ys_old1_tape[t] = ys_old1
        for t in range(n - 1, -1, -1):             for t in range(n - 1, -1, -1):
            ys_old1 = ys_old1_tape[t]
            ys[ys2] = ys_old1
    """
    body = fn.body
    loops = [k for k, st in enumerate(body) if isinstance(st, gast.For) and isinstance(st.target, gast.Name)]
    drops, uses, seen = [], None, {}
    for i in loops:
        f = body[i]
        bounds = _range(f.iter)
        if bounds is None:
            continue
        start, stop = bounds
        for j in (k for k in loops if k > i):
            b = body[j]
            if not (_is_range(b.iter) and len(b.iter.args) == 3 and _const(b.iter.args[2]) == -1
                    and b.target.id == f.target.id and _same(b.iter.args[0], _sub(stop, const(1)))
                    and _same(b.iter.args[1], _sub(start, const(1)))):
                continue
            if uses is None:    # (counted once for all the loops, not once per loop: that was quadratic)
                uses = _uses(body)
            drops += _dead_restores(body, i, j, uses, seen)
            break
    if not drops:
        return fn
    gone = {id(st) for st in drops}
    fn = copy.copy(fn)
    fn.body = [_without(st, gone) for st in body if id(st) not in gone]
    changed = [st for st in fn.body if isinstance(st, gast.For) and not any(st is old for old in body)]
    read = {n.id for n in walk_names(fn) if isinstance(n.ctx, gast.Load)}
    for lp in changed:      # a restore's index (`ys2 = t + 1`) that nothing else reads goes with it
        lp.body = [st for st in lp.body if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                                                and st.targets[0].id not in read
                                                and _offset(st.value, lp.target.id, {}) is not None)] or [gast.Pass()]
    return fn


def _without(st, gone):
    if isinstance(st, gast.For) and any(id(s) in gone for s in st.body):
        st = copy.copy(st)
        st.body = [s for s in st.body if id(s) not in gone] or [gast.Pass()]
    return st


def _uses(body) -> dict:
    """name -> how many times the statements `body` hold it."""
    uses: dict = {}
    for n in walk_names(gast.Module(body=body, type_ignores=[])):
        uses[n.id] = uses.get(n.id, 0) + 1
    return uses


def _dead_restores(body, i, j, uses: dict, seen: dict) -> list:
    """The statements to drop for the dead restores of forward loop body[i] and its backward loop body[j];
    `uses`: _uses(body); `seen`: arrays -> _never_aliased(body, array), filled in as they are asked for (body is
    the same for every pair of loops: each is walked once, not once per loop)."""
    f, b = body[i], body[j]
    t = f.target.id
    out = []
    for k, st in enumerate(f.body):
        # old = arr[w]; arr[w] = v; (later) tape[...] = old
        if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                and isinstance(st.value, gast.Subscript) and isinstance(st.value.value, gast.Name)):
            continue
        old, arr = st.targets[0].id, st.value.value.id
        push = [s for s in f.body[k + 1:] if _tape_push(s, old)]
        if len(push) != 1 or uses.get(old) != 4:        # old: saved, pushed, popped, restored
            continue
        tape = _tape_push(push[0], old)
        made = [s for s in body[:i] if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and s.targets[0].id == tape]
        pops = [s for s in b.body if _tape_pop(s, tape) == old]
        restores = [s for s in b.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript)
                    and isinstance(s.targets[0].value, gast.Name) and s.targets[0].value.id == arr
                    and isinstance(s.value, gast.Name) and s.value.id == old]
        if len(made) != 1 or len(pops) != 1 or len(restores) != 1 or uses.get(tape) != 3:   # made, pushed, popped
            continue
        fwd = _array_rows([s for s in f.body if s is not st], arr, t)     # (the save reads row w)
        bwd = _array_rows([s for s in b.body if s is not restores[0]], arr, t)
        if fwd is None or bwd is None or len(set(fwd[0])) != 1 or bwd[0] and set(bwd[0]) != set(fwd[0]):
            continue
        w = fwd[0][0]
        first = _const(_range(f.iter)[0])
        if any(r >= w for r in fwd[1] + bwd[1]) or any(arr in names_in(s) and _reads(s, arr) for s in body[j + 1:]):
            continue
        if arr not in seen:
            seen[arr] = _never_aliased(body, arr)
        if not seen[arr]:
            continue
        if type(first) is not int or any(first + c < 0 for c in fwd[1] + bwd[1] + [w]):
            continue    # (`ys[t - 1]` at t = 0 is the last row, which a later iteration writes: a row above)
        out += [st, push[0], made[0], pops[0], restores[0]]
    return out


_COPYING_CALLS = {"np.sum", "rt.sum", "rt.unbroadcast"}     # calls that read an array into a new value


def _never_aliased(body, arr) -> bool:
    """No other name can see the 1-d array `arr`'s memory: it is only read element by element (`arr[i]`, a
    scalar), as an operand of arithmetic (a new array) or by a call in _COPYING_CALLS, and not returned."""
    parents = {}
    for st in body:
        for n in walk(st):
            for c in gast.iter_child_nodes(n):
                parents[id(c)] = n
    for st in body:
        for n in walk(st):
            if not (isinstance(n, gast.Name) and n.id == arr and isinstance(n.ctx, gast.Load)):
                continue
            p = parents.get(id(n))
            if isinstance(p, gast.Subscript) and p.value is n:
                if any(isinstance(x, (gast.Slice, gast.Tuple)) for x in walk(p.slice)):
                    return False
            elif not (isinstance(p, (gast.BinOp, gast.UnaryOp, gast.Compare))
                      or isinstance(p, gast.Call) and dotted_name(p.func) in _COPYING_CALLS and n in p.args):
                return False
    return True


def _reads(st, arr) -> bool:
    """`st` reads array `arr` (anything but a store into one of its elements or rows)."""
    stores = {id(n.value) for n in walk(st) if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store)}
    return any(isinstance(n, gast.Name) and n.id == arr and id(n) not in stores for n in walk(st))
