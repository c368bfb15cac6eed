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
"""
from __future__ import annotations

import copy

import gast

from . import annotations as anno
from .astutil import assign, call, clone, const, dotted_name, load, nested_blocks, walk_names, walk_statements
from .kinds import dtype, is_float_array, is_scalar, ndim
from .reverse_support import simplify


class Stack:
    """What a list stack holds: `kinds` of the values pushed onto it, and the `primal` whose values they
    are (reverse.Sweeps.stacks; None for another stack), after which its row tape is named."""
    __slots__ = ("kinds", "primal")

    def __init__(self, kinds: set, primal: str | None):
        self.kinds, self.primal = kinds, primal


def record_stack_kinds(fn: gast.FunctionDef, kinds: dict, primals: dict | None = None) -> gast.FunctionDef:
    """Note on `fn` the kinds of the values each list stack receives (`s.append(v)` with v a name), and
    the primal each holds (`primals`: primal name -> stack name, from reverse mode)."""
    found: dict = {}
    for n in walk_statements(fn.body):
        s = _method(n, "append")
        if s is not None:
            arg = n.value.args[0] if len(n.value.args) == 1 else None
            found.setdefault(s, set()).add(kinds.get(arg.id) if isinstance(arg, gast.Name) else None)
    primal_of = {stack: v for v, stack in (primals or {}).items()}
    anno.set(fn, anno.STACK_KINDS, {s: Stack(ks, primal_of.get(s)) for s, ks in found.items()})
    return fn


def row_tapes(fn: gast.FunctionDef) -> gast.FunctionDef:
    """A copy of `fn` with the float-array stacks of its `range` loops turned into row tapes, and the
    other list stacks typed before their first push (_type_stacks)."""
    pushed = anno.get(fn, anno.STACK_KINDS) or {}
    floats = {s for s, st in pushed.items()
              if all(is_float_array(k, "known") for k in st.kinds)}
    if not pushed:
        return fn
    plans = _plans(fn, sorted(floats))
    if not plans:   # only top-level statements change: the function's own copy of its body list
        fn = copy.copy(fn)
        fn.body = _type_stacks(fn.body, pushed, set())
        return fn
    fn = clone(fn)
    fn.body = _type_stacks(fn.body, pushed, {p[0] for p in plans})
    taken = {n.id for n in walk_names(fn)}
    before: dict = {}
    moves = []
    blocks = list(_blocks(fn.body))
    owner = {id(b): st for st in walk_statements([fn]) for b in nested_blocks(st)}
    for s, where, fwd, push, bwd, pop in plans:
        loops = [st for st in blocks[where] if isinstance(st, gast.For)]
        f, b = loops[fwd], loops[bwd]
        start, stop = _range(f.iter)
        tape = (pushed[s].primal or s) + "_tape"
        tape = tape if tape not in taken else s
        taken.add(tape)
        fn.body[:] = [st for st in fn.body if not _creates(st, s)]
        count = call("max", _sub(stop, start), const(0))
        segments = anno.get(owner.get(id(blocks[where])), anno.SEGMENTS)
        if segments is not None:   # a checkpointed loop's segment: one tape of `every` rows serves them all
            before.setdefault(id(owner[id(blocks[where])]), []).append(assign(tape, call("rt.row_tape",
                                                                                      load(segments.every))))
        else:
            before.setdefault(id(f), []).append(assign(tape, call("rt.row_tape", count)))
        row_f = _sub(load(f.target.id), start)
        row_b = _sub(load(b.target.id), start)     # (the backward loop runs down to start: _plan checked)
        value = f.body[push].value.args[0]
        f.body[push] = assign(tape, call("rt.put_row", load(tape), row_f, copy.deepcopy(value)))
        moves.append((f.body, f.body[push], value))
        v = b.body[pop].targets[0].id
        b.body[pop] = assign(v, call("rt.get_row", load(tape), row_b, load(v)))
    for block in blocks:
        block[:] = [new for st in block for new in before.get(id(st), []) + [st]]
    for body, put, value in moves:
        _record_where_defined(body, put, value)
    return fn


def _record_where_defined(body, put, value):
    """Move a row tape's `put_row` up to just after the statement that defines the value it records, where
    that value is a view of an array written in place between the two (and is not written itself). A list
    stack holds the array itself, a row tape a copy made when the row is put: at the end of the loop body, a
    view (`v = buf[::-1]` of `buf[::-1] *= t`) would be copied after the write through it (fuzz seed 107810:
    a wrong gradient under jit=True only)."""
    if not isinstance(value, gast.Name):
        return
    at = body.index(put)
    defs = [k for k, st in enumerate(body[:at]) if isinstance(st, gast.Assign)
            and any(isinstance(t, gast.Name) and t.id == value.id for t in st.targets)]
    if len(defs) != 1:
        return
    view = body[defs[0]].value      # v = base[...]: a view of base (or a copy: then moving changes nothing)
    if not (isinstance(view, gast.Subscript) and isinstance(view.value, gast.Name)):
        return
    between = body[defs[0] + 1:at]
    if any(_writes_into(st, view.value.id) for st in between) and not any(_writes_into(st, value.id) for st in between):
        body.insert(defs[0] + 1, body.pop(at))


def _writes_into(st, name) -> bool:
    """`st` writes into the array `name` (an element or slice assignment, anywhere in it)."""
    return any(isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)
               and n.value.id == name for n in gast.walk(st))


def _type_stacks(body, pushed, tapes):
    """The list stacks left (not in `tapes`) start as an empty list typed like what they receive:
    `s = rt.stack_of(0.0)` instead of `s = []`. Numba types a list by its appends, and it removes code whose
    test it decides at compile time (a `while k < 0` after `k = 0`, with a module constant folded in); a
    stack whose only append was removed would leave its pops, and what the backward sweep computes from
    them, without a type. Returns the new list of top-level statements (those retyped are new nodes)."""
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
        if is_scalar(k) and dtype(k) in ("f", "i", "b"):
            first = const({"f": 0.0, "i": 0, "b": False}[dtype(k)])
        elif is_float_array(k, "known"):
            first = call("np.zeros", gast.Tuple(elts=[const(1)] * ndim(k), ctx=gast.Load()))
        else:
            continue
        out[-1] = copy.copy(st)
        out[-1].value = call("rt.stack_of", first)
    return out


def _blocks(stmts):
    """`stmts` and every block nested in it, outer first."""
    yield stmts
    for st in stmts:
        for b in nested_blocks(st):
            yield from _blocks(b)


def _plans(fn, stacks) -> list:
    """[(s, block #, forward loop #, push position, backward loop #, pop position)] for the stacks `s` of
    `stacks` that fit, in `stacks`' order (one pass over the blocks and one over the names for them all)."""
    pushes, pops = {s: [] for s in stacks}, {s: [] for s in stacks}
    blocks = list(_blocks(fn.body))
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
