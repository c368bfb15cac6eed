"""What reverse mode's forward sweep keeps for its backward sweep (part of the reverse pass, reverse.py).

A value the backward sweep reads that a loop overwrites is stored each iteration and taken back, last
first, when the sweep comes back to it:
* a scalar of a `for` loop over a range, in a preallocated tape indexed by the iteration
  (`h_tape = np.empty(max(n, 0))`, `h_tape[i] = h`, later `h = h_tape[i]`), or, in a checkpointed loop,
  one segment's rows of it (checkpoints.py);
* anything else in a list used as a stack (`h_stack.append(h)`, later `h = h_stack.pop()`);
* or not at all: integer index arithmetic is recomputed at the start of the iteration's backward block,
  and scalar reads of arrays the backward sweep restores (and views of arrays nothing writes) are read
  again just before their last use (`remat_plan`: rematerialisation).

`Storage` holds these methods of the `Reverse` object (reverse.py); they use its `kinds`, `namer`,
`needed` (primal names the backward sweep reads), `restore`, `loop_stack`, `written_anywhere`, `owned`
(the names a block defines) and `read`, and fill its `stacks`, `tapes` and `plans` (checkpointed loops).
"""
from __future__ import annotations

import gast

from . import annotations as anno
from . import checkpoints
from .activity import reached, successors
from .astutil import assign, call, clone, dotted, dotted_name, load, loaded_names, walk
from .kinds import I, dtype, is_array, is_scalar
from .reverse_support import (INT_OPS, IntNames, assigned_in, assignments, basic_index, loop_bodies, loop_facts, simplify,
                              trailing_phis, trip_count, written_arrays)


class Storage:
    """Stacks, scalar tapes and re-reads of the values the backward sweep needs (module docstring)."""

    def start_storage(self):
        """Before a sweep is built: no tape, re-read plan or checkpointed loop yet."""
        self.tapes = {}         # (primal name, id(loop)) -> (tape name, dtype letter, loop)
        self._remat = {}        # id(loop) -> remat_plan(loop)
        self._views = {}        # id(block) -> view_rereads(block)
        self.plans = {}         # id(loop) -> checkpoints.Plan of each checkpointed loop

    def stack(self, v: str, loop) -> str:
        """The list stack of v's values that `loop` stores: one per loop, so that the stores of a loop whose
        backward block's pops nothing reads go with their stack (optimize.drop_dead_stacks), while another
        loop's stores of v stay (a gradient differentiated again: the inner backward loop's restores of a name
        the inner forward loop pushed, nested fuzz seed 30)."""
        key = (v, id(loop))
        if key not in self.stacks:
            self.stacks[key] = self.namer.fresh(v + "_stack")
        return self.stacks[key]

    def tape_loop(self, loop, v=None):
        """`loop` can keep scalars in arrays indexed by its iteration: (index expr, trip count expr)."""
        if id(loop) in self.plans and len(self.loop_stack) <= 1:   # a checkpointed loop: one segment's tape
            return checkpoints.tape_index(self.plans[id(loop)], v)
        if not isinstance(loop, gast.For) or len(self.loop_stack) > 1:
            return None
        args, i = loop.iter.args, load(loop.target.id)
        if len(args) == 1:
            return i, trip_count(clone(args[0]))
        if len(args) == 2 or (isinstance(args[2], gast.Constant) and args[2].value == 1):
            a, b = args[0], args[1]
            index = simplify(gast.BinOp(left=i, op=gast.Sub(), right=clone(a)))
            count = simplify(gast.BinOp(left=clone(b), op=gast.Sub(), right=clone(a)))
            return index, trip_count(count)
        return None

    def body_facts(self, loop):
        """What `loop`'s body binds and reads (reverse_support.BodyFacts), from the index of the function's loops
        made, bottom up, the first time a loop asks (the pass reads the primal function; it does not change it)."""
        index = self.__dict__.get("_loop_bodies")
        if index is None:
            index = self._loop_bodies = loop_bodies(self.fn)
        return loop_facts(index, loop)

    def remat_plan(self, loop):
        """Values of a for-loop body recomputed in the backward sweep instead of stored:
        integer index arithmetic (at the block start), scalar reads of arrays whose contents the
        backward sweep restores, scalar arithmetic of such values, and arrays one cheap operation away from
        values the backward block has anyway (just before their last use)."""
        if not isinstance(loop, gast.For):
            return [], {}
        key = id(loop)
        if key in self._remat:
            return self._remat[key]
        body = loop.body
        inside = self.body_facts(loop).defs
        written = self.written_anywhere
        avail = {loop.target.id}
        ints, subs = [], {}

        def ok_atom(a):
            return isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and (a.id in avail or a.id not in inside))

        # names the backward block has from its start: those it takes from their tapes (bound by a statement of
        # the body, needed anyway, not written in place) and the carried next values (carried())
        carried = self.carried(loop)
        kept = {st.targets[0].id for st in body if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                and st.targets[0].id in self.needed and st.targets[0].id not in written} | set(carried)
        counts = self.body_facts(loop).assigns   # a name a nested loop assigns again (its phi copy) is not one value
        for p, st in enumerate(body):
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)):
                continue
            v, val = st.targets[0].id, st.value
            if anno.get(st, anno.PHI) or counts.get(v, 0) > 1:
                continue
            if (isinstance(val, gast.BinOp) and isinstance(val.op, (gast.Add, gast.Sub, gast.Mult) + INT_OPS)
                    and self.kinds.get(v) == I and ok_atom(val.left) and ok_atom(val.right)):
                ints.append(st)
                avail.add(v)
            elif (isinstance(val, gast.Call) and dotted_name(val.func) == "len" and len(val.args) == 1
                  and not val.keywords and self.kinds.get(v) == I and ok_atom(val.args[0])):
                ints.append(st)     # `n = len(a)` of an array the loop does not rebind: taken again, not taped
                avail.add(v)
            elif (isinstance(val, gast.Compare) and len(val.ops) == 1 and isinstance(val.ops[0], (gast.Is, gast.IsNot))
                  and ok_atom(val.left) and ok_atom(val.comparators[0])):
                # `cond = w is None`: tested again, not stacked -- Numba prunes the branch a None argument does not
                # take only where the test is of the argument itself (a popped one types both branches)
                ints.append(st)
                avail.add(v)
            elif (isinstance(val, gast.Subscript) and isinstance(val.value, gast.Name) and is_scalar(self.kinds.get(v))
                  and val.value.id not in inside and (val.value.id not in written or val.value.id in self.restore)
                  and all(ok_atom(e) for e in (val.slice.elts if isinstance(val.slice, gast.Tuple) else [val.slice]))):
                subs[v] = [st, p, val.value.id]
            elif (isinstance(val, gast.Subscript) and isinstance(val.value, gast.Name)
                  and (val.value.id not in written or val.value.id in self.restore) and val.value.id not in inside
                  and basic_index(val.slice, IntNames(self.kinds))
                  and all(ok_atom(n) or n.id in subs for n in walk(val.slice) if isinstance(n, gast.Name))):
                # a view of an array nothing writes, or whose writes the backward sweep undoes (`b[::-1] *= t`
                # reads b[::-1] before writing it): as cheap to take again as to store, and a stored view would
                # be read after the write (its memory restored by then; code differentiated again must not
                # depend on that)
                subs[v] = [st, p, val.value.id if val.value.id in written else None]
            elif (isinstance(val, gast.Call) and dotted_name(val.func) == "rt.table_at"
                  and all(ok_atom(a) or (isinstance(a, gast.Name) and a.id in subs) for a in val.args)):
                subs[v] = [st, p, None]   # one matrix's slice of a log-domain table (views of it)
            elif (isinstance(val, (gast.BinOp, gast.UnaryOp)) and is_scalar(self.kinds.get(v))
                  and isinstance(getattr(val, "op", None), (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.USub))
                  and all(ok_atom(a) or getattr(a, "id", None) in subs for a in _operands(val))):
                subs[v] = [st, p, None]
            elif isinstance(val, gast.Name) and self.stable_copy(v, val.id):
                subs[v] = [st, p, None]     # (stable_copy says why)
            elif (is_array(self.kinds.get(v)) and not written and v not in carried and _cheap(val)
                  and all(ok_atom(a) or getattr(a, "id", None) in kept for a in _operands(val))):
                subs[v] = [st, p, None]     # (_cheap says why)
        plan = _settled(subs, body)
        for v in reversed(list(plan)):  # what a needed re-read reads is needed too
            if v in self.needed:
                self.needed |= {w for w in loaded_names(plan[v][0].value) if w in plan}
        self._remat[key] = (ints, plan)
        return ints, plan

    def rereads(self, stmts, loop):
        """(integer statements recomputed, {value: (its statement, its last use)} read again) of a block: a for
        loop's body by remat_plan, any other block (a while loop's body too) by view_rereads."""
        if loop is not None and stmts is loop.body and isinstance(loop, gast.For):
            return self.remat_plan(loop)
        return [], self.view_rereads(stmts, loop is not None)

    def view_rereads(self, stmts, in_loop=True) -> dict:
        """{view: (its statement, the last statement of `stmts` that reads it)} for a block other than a for
        loop's body (remat_plan covers those): views of an array the block then writes, which the backward sweep
        undoes (`b[::-1] *= t` reads b[::-1] before writing it). The backward sweep takes each again just
        before its last use, where the write is undone: it never reads a view after a write to its array,
        so the gradient differentiated again (a gradient-norm penalty) passes the aliasing check."""
        if id(stmts) in self._views:
            return self._views[id(stmts)]
        ints = IntNames(self.kinds)
        plan = {}
        for p, st in enumerate(stmts):
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                    and isinstance(st.value, gast.Subscript) and isinstance(st.value.value, gast.Name)
                    and st.value.value.id in self.restore and not is_scalar(self.kinds.get(st.targets[0].id))
                    and basic_index(st.value.slice, ints)):
                continue
            v, arr = st.targets[0].id, st.value.value.id
            writes = [q for q in range(p + 1, len(stmts)) if arr in written_arrays([stmts[q]])]
            uses = [q for q in range(p + 1, len(stmts)) if v in loaded_names(stmts[q])]
            if writes and uses and uses[-1] < writes[0]:
                plan[v] = (st, uses[-1])
                if v in self.needed:        # what the re-read reads is needed instead
                    self.needed |= loaded_names(st.value)
        for p, st in enumerate(stmts if in_loop else ()):   # (outside loops nothing is stored: copies stay)
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                    and isinstance(st.value, gast.Name) and st.value.id not in plan
                    and (self.stable_copy(st.targets[0].id, st.value.id) or self.block_copy(stmts, p))):
                continue
            v = st.targets[0].id
            uses = [q for q in range(p + 1, len(stmts)) if v in loaded_names(stmts[q])]
            if uses:
                plan[v] = (st, uses[-1])
                if v in self.needed:        # (a value of this block: stored in v's place)
                    self.needed.add(st.value.id)
        self._views[id(stmts)] = plan
        return plan

    def stable_copy(self, v: str, src: str) -> bool:
        """`v = src` is taken again in the backward sweep, not stored: src is a parameter or a name bound once,
        by a statement of the function's own body (outside every loop and branch), neither written in place, and v
        is bound once. So src holds the same array wherever the backward sweep reads v (a helper's parameter
        inlined into a loop, `w1 = M`: stored every iteration, and differentiated again, stored once more for
        the outer backward sweep's pops; nested fuzz seed 1008231). An array written only by statements of the
        function's body before the one that binds v (`a[t] = ...` in a first loop, `v1 = a` in a later one) is as
        good: the backward sweep undoes those writes after it has left v's statement."""
        if v in self.written_anywhere or any(w in self.written_anywhere and not self._written_before(w, v)
                                             for w in self._aliases(src)):
            return False
        counts = self._bindings()
        if counts.get(v) != 1:
            return False
        if src in self._parameters():
            return src not in counts
        return counts.get(src) == 1 and src in self._top_bound()

    def block_copy(self, stmts, p) -> bool:
        """`v = src` at stmts[p] where a statement of the block before it binds src, both bound once, in a
        function that writes into no array: the backward block has src (stored instead of v), so v is not stored
        beside it. (Where arrays are written, a swap's copies are names of one buffer written through another,
        whose stacks the jitted code keeps as lists, not row tapes, by the names pushed: test_tapes.py.)"""
        v, src = stmts[p].targets[0].id, stmts[p].value.id
        counts = self._bindings()
        return (counts.get(v) == 1 and counts.get(src) == 1 and not self.written_anywhere
                and any(isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id == src
                        for s in stmts[:p]))

    def _aliases(self, src: str) -> set:
        """src and the names that may share its memory: bound to it, a view of it (an index, an attribute, a
        function that may return a view of its first argument: _VIEWS), or bound from such a name, or it from them (`b1, b2 = b2, b1`, `al = b2`), to any depth."""
        if "aliases" not in self._remat:
            pairs: list = []     # (a, b): b may share a's memory, both ways
            for st in walk(self.fn):
                if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                    e = st.value
                    while True:
                        if isinstance(e, (gast.Subscript, gast.Attribute)):
                            e = e.value
                        elif isinstance(e, gast.Call) and e.args and dotted_name(e.func) in _VIEWS:
                            e = e.args[0]
                        elif isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and e.func.attr in _METHODS:
                            e = e.func.value    # (x.reshape(...), x.view())
                        else:
                            break
                    if isinstance(e, gast.Name):
                        pairs += [(e.id, st.targets[0].id), (st.targets[0].id, e.id)]
            self._remat["aliases"] = successors(pairs)    # (indexed once: each loop asks of its own names)
        return reached({src}, self._remat["aliases"])

    def _written_before(self, src: str, v: str) -> bool:
        """Every write into src is in a statement of the function's body before the one that binds v."""
        top = self.fn.body
        at = next((k for k, s in enumerate(top) if v in assigned_in([s])), None)
        return at is not None and all(src not in written_arrays([s]) for s in top[at:])

    def _bindings(self) -> dict:
        if "bindings" not in self._remat:
            self._remat["bindings"] = assignments(self.fn.body)
        return self._remat["bindings"]

    def _parameters(self) -> set:
        return {a.id for a in self.fn.args.args + self.fn.args.kwonlyargs if isinstance(a, gast.Name)}

    def _top_bound(self) -> set:
        return {s.targets[0].id for s in self.fn.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)}

    def stored(self, stmts, loop):
        """Names this block must store for the backward sweep (not recomputed, not carried)."""
        ints, subs = self.rereads(stmts, loop)
        skip = {st.targets[0].id for st in ints} | set(subs)
        if loop is not None and stmts is loop.body:
            skip |= set(self.carried(loop))
        return [v for v in self.owned(stmts) if v in self.needed and v not in skip]

    def carried(self, loop) -> dict:
        """{v: c} for the back-edge copies `c = v` ending `loop`'s body whose two sides the backward sweep both
        reads: v, the iteration's last value of c, is the next iteration's first value of c, which that
        iteration's backward block has just taken from c's tape, or, for the last iteration, c's value after
        the loop. So v is not stored; each backward block starts with `v = c`, before c is taken back (one
        state a step instead of two: an RNN's h and its next h). In a checkpointed loop the same holds within
        a segment, whose rerun ends with c at the next segment's first value. Only where nothing else can
        change c or v in between: a `for` loop of the function's own body (not inside another loop, no
        break/continue/return), c bound only before the loop and by this copy, v once, as a statement of
        the body, neither written in place, and v a scalar where the function writes into any array (a view
        could see the write)."""
        key = ("carried", id(loop))
        if key in self._remat:
            return self._remat[key]
        out = {}
        top = self.fn.body
        if (isinstance(loop, gast.For) and any(s is loop for s in top)
                and not any(isinstance(n, (gast.Break, gast.Continue, gast.Return)) for s in loop.body for n in walk(s))):
            at = next(k for k, s in enumerate(top) if s is loop)
            everywhere, where = self.top_assignments()
            inside = assignments(loop.body)
            defined = {s.targets[0].id: s for s in loop.body
                       if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)}
            for s in loop.body[len(loop.body) - trailing_phis(loop.body):]:
                c, v = s.targets[0].id, getattr(s.value, "id", None)
                if (v in defined and not anno.get(defined[v], anno.PHI) and everywhere.get(v) == 1
                        and inside.get(c) == 1 and everywhere[c] == 1 + sum(m for k, m in where.get(c, ()) if k < at)
                        and v in self.needed and c in self.needed and not {v, c} & self.written_anywhere
                        and (not self.written_anywhere or is_scalar(self.kinds.get(v)))):
                    out[v] = c
        self._remat[key] = out
        return out

    def top_assignments(self) -> tuple:
        """(assignments(fn.body), {name: [(k, how many times fn.body[k] binds it)]}), made once (carried asks for
        each loop: the function's statements walked once, not once per loop, which was quadratic in the loops)."""
        if "assignments" not in self._remat:
            everywhere, where = {}, {}
            for k, st in enumerate(self.fn.body):
                for name, m in assignments([st]).items():
                    everywhere[name] = everywhere.get(name, 0) + m
                    where.setdefault(name, []).append((k, m))
            self._remat["assignments"] = (everywhere, where)
        return self._remat["assignments"]

    def push(self, v, loop):
        tl = self.tape_loop(loop, v)
        k = self.kinds.get(v)
        if tl is not None and is_scalar(k) and dtype(k) in ("f", "i", "b"):
            if (v, id(loop)) not in self.tapes:
                self.tapes[(v, id(loop))] = (self.namer.fresh(v + "_tape"), dtype(k), loop)
            tape = self.tapes[(v, id(loop))][0]
            return assign(gast.Subscript(value=load(tape), slice=clone(tl[0]), ctx=gast.Store()), load(v))
        stack = load(self.stack(v, loop))
        return gast.Expr(value=call(gast.Attribute(value=stack, attr="append", ctx=gast.Load()), load(v)))

    def pop(self, v, loop):
        if (v, id(loop)) in self.tapes:
            tl = self.tape_loop(loop, v)
            return assign(v, gast.Subscript(value=load(self.tapes[(v, id(loop))][0]), slice=clone(tl[0]),
                                            ctx=gast.Load()))
        return assign(v, call(gast.Attribute(value=load(self.stack(v, loop)), attr="pop", ctx=gast.Load())))

    def tape_allocations(self, loop, undo=None) -> list:
        """`v_tape = np.empty(count)` for the scalar tapes of `loop` (of a checkpointed loop, those of the
        values its writes overwrite (undo=True) or the others)."""
        out = []
        for (v, _), (tape, dt, lp) in self.tapes.items():
            if lp is loop and (undo is None or checkpoints.undoes(self, loop, v) == undo):
                tl = self.tape_loop_outer(loop, v)
                dtype = {"f": None, "i": "np.int64", "b": "np.bool_"}[dt]
                args = [clone(tl[1])] + ([dotted(dtype)] if dtype else [])
                out.append(assign(tape, call("np.empty", *args)))
        return out

    def tape_loop_outer(self, loop, v=None):
        saved = self.loop_stack
        self.loop_stack = saved + [loop]
        tl = self.tape_loop(loop, v)
        self.loop_stack = saved
        return tl

    def pops(self, stmts, loop):
        saved = self.loop_stack
        self.loop_stack = saved if loop in saved else saved + [loop]
        out = [self.pop(v, loop) for v in reversed(self.stored(stmts, loop))]
        self.loop_stack = saved
        if loop is not None and stmts is loop.body:
            out = [assign(v, load(c)) for v, c in self.carried(loop).items()] + out
        return out

    def recomputed_indices(self, loop) -> list:
        """The integer statements of `loop`'s body the backward sweep recomputes at the start of an iteration's
        backward block (those it needs), in order: the block places each under the line comment of the first
        adjoint that reads it (reverse_backward.py), not above the block's first comment."""
        ints, _ = self.remat_plan(loop)
        need = set(self.needed)
        for st in reversed(ints):   # an index recomputed from another one recomputes that one too (fuzz 155891)
            if st.targets[0].id in need:
                need |= loaded_names(st.value)
        return [self.read(clone(st)) for st in ints if st.targets[0].id in need]


# functions that may return a view of their first argument, and array methods that may return one of the array
_VIEWS = frozenset(p + n for p in ("np.", "rt.") for n in (
    "reshape", "reshape_like", "transpose", "expand_dims", "squeeze", "ravel", "asarray", "broadcast_to",
    "broadcast_to_like", "swapaxes", "moveaxis", "atleast_1d", "atleast_2d", "atleast_nd", "diagonal", "diag", "flip",
    "fliplr", "flipud", "as_column", "real", "imag", "atleast_3d", "ascontiguousarray", "asfortranarray"))
_METHODS = frozenset(("reshape", "transpose", "squeeze", "ravel", "view", "swapaxes", "diagonal"))


def _settled(subs: dict, body: list) -> dict:
    """{value: (its statement, the last statement of `body` that needs it)} for the candidate re-reads
    `subs` ({value: [statement, position, array read or None]}): the last statement of the block that
    needs each value (directly or through another re-read), dropping candidates whose array may change
    before then, until the plan is stable."""
    plan = dict(subs)
    while True:
        last = {}
        for v in reversed(list(plan)):
            st, p, _ = plan[v]
            uses = [q for q in range(p + 1, len(body)) if v in loaded_names(body[q])]
            last[v] = max([uses[-1] if uses else p] + [last[w] for w in plan if w in last
                                                        and v in loaded_names(plan[w][0].value)])
        bad = [v for v, (st, p, arr) in plan.items()
               if any(d in subs and d not in plan for d in loaded_names(st.value))
               or (arr is not None and any(arr in written_arrays([body[q]]) for q in range(p + 1, last[v] + 1)))]
        if not bad:
            break
        # drop the value needed latest among the bad ones and those computed from them: storing
        # it is what keeps the others' windows short
        suspects = set(bad)
        grew = True
        while grew:
            grew = False
            for w in plan:
                if w not in suspects and loaded_names(plan[w][0].value) & suspects:
                    suspects.add(w)
                    grew = True
        del plan[max(suspects, key=lambda v: (last[v], plan[v][1]))]
    return {v: (st, last[v]) for v, (st, p, arr) in plan.items()}


def _operands(val) -> list:
    return [val.left, val.right] if isinstance(val, gast.BinOp) else [val.operand]


def _cheap(val) -> bool:
    """An array expression as cheap to compute again as to keep: one add, subtract, multiply or negation, or a
    square or cube. Of values the backward block has anyway (`y2 = y ** 2` of the y it took from its tape), a person
    computes it again instead of keeping it a step (jitted, a row tape's copy: D=1000, n=2000 recurrence 24 -> 8 KB
    a step and 32 -> 8 ms with Storage.carried; Python: 453 -> 214 bytes a step at D=10, the same CPU time). Only in
    functions that write into no array: a write through another name between the value's statement and its last
    use would change what it reads."""
    if not isinstance(val, (gast.BinOp, gast.UnaryOp)):
        return False
    if isinstance(val, gast.UnaryOp):
        return isinstance(val.op, gast.USub)
    if isinstance(val.op, gast.Pow):
        return isinstance(val.right, gast.Constant) and val.right.value in (2, 3, 2.0, 3.0)
    return isinstance(val.op, (gast.Add, gast.Sub, gast.Mult))
