"""Dead code: drop what nothing reads (both modes' one dead-code pass), and tapes (stacks) whose pops nothing
reads (reverse mode)."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import (dotted_name, is_comment, loaded_names, map_blocks, nested_blocks, walk, walk_calls, walk_names,
                       walk_names_and_calls, walk_statements, without_statements)

from ..purity import ALLOCATIONS, is_pure, pure_call
from .faint import drop_faint
from .owned import owned_arrays

__all__ = ["is_pure", "eliminate_dead_code", "eliminate_unread", "drop_dead_stacks", "without_lone_line_comments"]


def eliminate_dead_code(fn: gast.FunctionDef, pure_callees=frozenset()) -> gast.FunctionDef:
    """Remove what nothing reads, by liveness over the structured function:

    * an assignment of a pure value to a name not read after it (on any path, loops' next iterations
      included), and so in turn what only it read;
    * a write into an array the function makes (`a[i] = v`, `a = np.empty(n)`: see `_own_arrays`; any new
      array no other name can keep out of sight: owned.py) that nothing reads after it, by its name or a name
      that may view it; any other write reads its array (it must be bound) and stays;
    * a push to a stack the function makes (`rt.push(s, v)`) nothing pops any more, and a pop
      (`v = rt.pop(s)`) whose value nothing reads -- a stack goes as a whole: its pops go only when every
      pop of it is dead, since a pop left alone would then take another push's value, and not at all where
      the stack is read otherwise (a pop inside an expression, a stack returned or passed on);
    * a loop or a branch left with nothing to do (its header's reads go with it);
    * a comment citing a user's line (annotations.USER_LINE) left with no statement under it: followed by
      another comment or by the end of its block;
    * then what only feeds itself (faint.drop_faint: a loop's counter and an array the function made that
      nothing needed reads, with the loop that fills it), outside functions with checkpointed loops.

    `pure_callees`: names of the user functions `fn` calls whose calls have no effect but their result
    (purity.effect_free_functions): an assignment of such a call goes like any other pure value. They are
    noted on `fn` (annotations.PURE_CALLEES) for the passes that call this one again.

    A checkpointed loop's segment tapes (checkpoints.py) are written by its forward loop, before they are
    made, for the segments' rerun to write (`x_tape[i - first] = x`) once checkpoints.rerun_segments has
    filled in the rerun's placeholder: the placeholder stands for those writes (a tape's writes go where
    nothing reads the tape after the rerun, and its making with them) and for the reads of the undo loop
    put before it (the tapes of what the loop's writes overwrote).

    One pass for reverse mode (compiler.REVERSE's "dead code", and after preaccumulate and
    drop_dead_stacks) and forward mode (compiler.FORWARD)."""
    if pure_callees:
        anno.set(fn, anno.PURE_CALLEES, frozenset(pure_callees))
    facts = _Facts(fn, pure_callees)
    local, droppable = _stacks(fn, facts)
    while droppable:    # (a pop that goes is of a droppable stack: with none, every stack stays as it is)
        live = _Liveness(local, droppable, facts)
        live.block(fn.body, set())
        partial = live.dead_pops & live.kept_pops   # some pops of these stacks go, others stay: keep them all
        if not partial:
            break
        droppable -= partial
    _Liveness(local, droppable, facts, sweep=True).block(fn.body, set())
    fn.body = without_lone_line_comments(fn.body)
    if not facts.plans and drop_faint(fn, facts.pure_callees):
        return eliminate_dead_code(fn)     # (liveness again: a name still needed may have lost its last read)
    return fn


def eliminate_unread(fn: gast.FunctionDef, names) -> gast.FunctionDef:
    """Dead code again after the cleanup passes (fusion, scalar sum adjoints), where their name index
    (optimize.NameIndex) shows a name they stopped reading (`result = a * a` once np.sum's adjoint is a
    scalar), or a name bound more than once that lost reads (a value the backward sweep recomputes, `loss4 =
    loss3 ** 2`, for an adjoint that is a scalar now: the forward sweep's binding is still read); `fn` as it is
    where there is none (the common case: no second pass)."""
    params = {a.id for a in fn.args.args}
    unread = {n for n, c in names.counts.items() if c and not names.loads.get(n) and n not in params}
    if any(names.counts.get(n, 0) > 1 for n in names.fewer_reads()):
        return eliminate_dead_code(fn)
    if unread and not _drop_unread(fn, unread, names, params):
        return eliminate_dead_code(fn)
    return fn


def _drop_unread(fn: gast.FunctionDef, unread: set, names, params: set) -> bool:
    """eliminate_dead_code's result, in place, for a straight-line function (a long one: a gradient without loops)
    whose only dead code is the assignments of the names nothing reads (`unread`) and what only they read: those
    assignments go, then those of the names that lose their last read, and so on, as liveness finds them there,
    without walking the rest of the function. Writes through a subscript (`a[i] = v`, `d_a[i] += g`) stay, as
    liveness keeps them where their array is read after them: not applied where a name that may share memory with
    a written array (_may_view) reads less now and the written array is not read after its last write (liveness
    may drop writes then). Nor where the function has a compound statement, a stack's push or pop, or a binding
    other than `name = value` (liveness decides those), where a value that goes has effects, or where a name bound
    more than once loses some of its reads but not all (liveness may drop one of its bindings)."""
    body, by_target, accumulated, writes = fn.body, {}, set(), {}
    for k, s in enumerate(body):
        kind = type(s)
        target = s.targets[0] if kind is gast.Assign and len(s.targets) == 1 else s.target \
            if kind is gast.AugAssign else None
        if kind is gast.Assign and type(target) is gast.Name:
            by_target.setdefault(target.id, []).append(k)
        elif kind is gast.AugAssign and type(target) is gast.Name:
            accumulated.add(target.id)    # (`d_v += e` stays, reading d_v: liveness keeps what binds it)
        elif type(target) is gast.Subscript and type(target.value) is gast.Name:
            writes[target.value.id] = k     # (the last write through each name)
        elif not (kind is gast.Return or is_comment(s) or kind is gast.Expr and isinstance(s.value, gast.Call)
                  and dotted_name(s.value.func) != "rt.push"):
            return False
    pure_callees = anno.get(fn, anno.PURE_CALLEES) or frozenset()
    loads, todo, gone, lost = dict(names.loads), list(unread), set(), set()
    while todo:
        name = todo.pop()
        if name not in by_target or name in accumulated:
            return False
        for k in by_target.pop(name):
            value, pure = body[k].value, True
            if type(value) is gast.Call and dotted_name(value.func) == "rt.pop":
                return False
            for n in walk_names_and_calls(value):
                if type(n) is gast.Name:
                    if isinstance(n.ctx, gast.Load):
                        loads[n.id] = left = loads.get(n.id, 0) - 1
                        lost.add(n.id)
                        if left < 0:
                            return False
                        if not left and names.counts.get(n.id) and n.id not in params and n.id not in unread:
                            unread.add(n.id)
                            todo.append(n.id)
                elif pure:
                    pure = pure_call(n) or (type(n.func) is gast.Name and n.func.id in pure_callees)
            if not pure:
                return False
            gone.add(k)
    if any(loads.get(n, 0) and names.counts.get(n, 0) > 1 for n in lost):
        return False
    if writes and not _writes_stay(body, writes, gone, lost | set(names.fewer_reads())):
        return False
    fn.body = without_lone_line_comments([s for k, s in enumerate(body) if k not in gone])
    return True


def _writes_stay(body, writes: dict, gone: set, fewer: set) -> bool:
    """Whether liveness keeps every write of the straight-line `body` (`writes`: array name -> the position of its
    last write) once the statements at `gone` go: the arrays of a group of names that may share memory
    (_may_view) where one reads less than before (`fewer`) are each read after their last write; other writes
    were kept by the dead-code pass before and nothing they were kept for went. Linear in the body: the groups'
    roots found with path halving, the last read of each write's array found in one pass over the body (a body of
    1 000 element writes took a fifth of a second, asking each write's array of every later statement)."""
    group: dict = {}

    def root(n):
        while group.get(n, n) != n:
            group[n] = n = group.get(group[n], group[n])
        return n
    for k, s in enumerate(body):
        if k not in gone and type(s) in (gast.Assign, gast.AugAssign):
            t = s.targets[0] if type(s) is gast.Assign else s.target
            a = t.id if type(t) is gast.Name else t.value.id if type(t) is gast.Subscript else None
            for n in _may_view(s.value):
                group[root(n)] = root(a)
    touched = {root(n) for n in fewer}
    asked = {a: last for a, last in writes.items() if root(a) in touched}
    last_read: dict = {}      # an asked array -> the last statement left that reads it
    if asked:
        for k, s in enumerate(body):
            if k not in gone:
                for n in loaded_names(s):
                    if n in asked:
                        last_read[n] = k
    return all(last_read.get(a, -1) > last for a, last in asked.items())


def _may_view(value) -> set:
    """The names whose memory `value` may be, hold or view (conservatively: all it reads, but for arithmetic and
    comparisons, whose results are new values)."""
    if type(value) in (gast.BinOp, gast.UnaryOp, gast.Compare, gast.BoolOp, gast.Constant):
        return set()
    return {n.id for n in walk_names(value) if isinstance(n.ctx, gast.Load)}


def _stacks(fn, facts) -> tuple:
    """(the stacks the function makes, `s = rt.stack(...)`: only their pushes may go; those of them used only
    where they are made, pushed onto (`rt.push(s, v)`) and popped into a name (`v = rt.pop(s)`): only their
    pops may go). A pop inside an expression (`d_v += rt.pop(d_s)`,
    reverse mode's adjoint of a push in generated code differentiated again), or a stack read otherwise
    (returned, passed on), keeps every push and pop of its stack. `facts`: the function's _Facts."""
    stacks, plain = set(), {}
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and isinstance(s.value, gast.Call) and dotted_name(s.value.func) in ("rt.stack", "rt.pop"):
            used = s.targets[0] if dotted_name(s.value.func) == "rt.stack" else s.value.args[0]
            if used is s.targets[0]:
                stacks.add(used.id)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.push":
            used = s.value.args[0]
        else:
            continue
        if isinstance(used, gast.Name):
            plain[used.id] = plain.get(used.id, 0) + 1
    if not stacks:
        return stacks, set()
    uses: dict = {}
    for n in facts.name_nodes():
        if n.id in stacks:
            uses[n.id] = uses.get(n.id, 0) + 1
    return stacks, {st for st in stacks if uses[st] == plain[st]}




def _own_arrays(fn) -> tuple:
    """(the one-dimensional arrays the function makes and reads or writes only by element, its Name nodes,
    whether it writes through a subscript of a name: `a[i] = v`, the one statement whose fate asks what the
    function owns) in one walk. Such an array: each binding of the name is `a = np.empty(n)` (np.zeros,
    np.ones; n not a tuple), each other use `a[i]` with an index that is no slice, None or `...` (an element,
    never a view). A write into one is dead where nothing reads the array after it: no other name can see it
    (the scalar tapes of reverse mode, an array the user fills). Without such an allocation (most functions),
    the function is not walked: its Name nodes are left to `_Facts.name_nodes` (None)."""
    made, ok, names, writes = set(), set(), [], False
    name, subscript = gast.Name, gast.Subscript
    for n in walk_statements(fn.body):
        if type(n) is gast.Assign and len(n.targets) == 1:
            t = n.targets[0]
            if type(t) is name:
                v = n.value
                if (isinstance(v, gast.Call) and dotted_name(v.func) in ALLOCATIONS and len(v.args) >= 1
                        and not isinstance(v.args[0], (gast.Tuple, gast.List, gast.Starred))):
                    made.add(t.id)
                    ok.add(id(t))
            elif isinstance(t, subscript) and isinstance(t.value, name):
                writes = True
    if not made:
        return made, None, writes
    for n in walk(fn):
        kind = type(n)
        if kind is name:
            names.append(n)
        elif kind is subscript and type(n.value) is name and _element(n.slice):
            ok.add(id(n.value))
    seen = {n.id for n in names if n.id in made and id(n) not in ok}
    return made - seen, names, writes


def _element(index) -> bool:
    """`index` picks an element of a one-dimensional array (no slice, no None or `...`: no view)."""
    if isinstance(index, gast.Constant):
        return isinstance(index.value, int) and not isinstance(index.value, bool)
    return not any(isinstance(n, (gast.Slice, gast.Tuple, gast.Starred)) for n in walk(index))


class _Facts:
    """What the liveness rounds of one function share: the names each node reads and what each assignment
    is (cached by the node's id: the nodes do not change while it runs), the arrays the function makes
    (`_own_arrays`) and its Name nodes (`name_nodes`), and its checkpointed loops' plans by segment variable
    (annotations.SEGMENTS)."""

    def __init__(self, fn, pure_callees=frozenset()):
        self.pure_callees = pure_callees or anno.get(fn, anno.PURE_CALLEES) or frozenset()
        self.cache: dict = {}
        own, self.names, writes = _own_arrays(fn)
        self.plans = {}
        for s in walk_statements(fn.body):
            p = anno.get(s, anno.SEGMENTS)
            if p is not None:
                self.plans[p.segment] = p
        # each array it owns with the names that may view it (owned.py: any new array, read by views too; not
        # where a checkpointed loop's rerun, filled in later, will read snapshots nothing reads yet); one read
        # only by element (_own_arrays) has no view. Only a write `a[i] = v` asks (_Liveness.dead_write), and
        # liveness adds none: without one the function is not walked for it (a straight-line gradient)
        self.own = {**({} if self.plans or not writes else owned_arrays(fn, anno.get(fn, anno.SCALARS) or frozenset())), **{a: frozenset((a,)) for a in own}}
        self.segment_tapes = {t for p in self.plans.values() for t in p.tapes}
        self.fn = fn

    def name_nodes(self) -> list:
        """The function's Name nodes (walked once, when first asked for)."""
        if self.names is None:
            self.names = [n for n in walk(self.fn) if type(n) is gast.Name]
        return self.names


def _pop_stack(s):
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call) \
            and dotted_name(s.value.func) == "rt.pop":
        return s.value.args[0].id
    return None


def _bound(target) -> set:
    """The names a for loop's target binds."""
    return {n.id for n in walk_names(target) if isinstance(n.ctx, gast.Store)}


def _idle(stmts) -> bool:
    """A block that does nothing: comments and `pass` only."""
    return all(is_comment(b) or isinstance(b, gast.Pass) for b in stmts)


class _Liveness:
    """Names live before a block, from those live after it. With `sweep`, the block loses its dead
    statements in place; without, it is only read (`dead_pops` / `kept_pops`: the droppable stacks with a
    pop that goes / stays, as the final fixpoint of each loop decides). Both make the same decisions."""

    def __init__(self, local: set, droppable: set, facts: _Facts, sweep: bool = False, tapes_read=None,
                 heads=None):
        self.local, self.droppable, self.sweep, self.facts = local, droppable, sweep, facts
        # id of each loop this run (and its probes) has found the head of -> (loop, names live at its head,
        # whether its body does nothing), for the next time an enclosing loop's iteration asks (see `loop`)
        self.heads: dict = {} if heads is None else heads
        self._loads = facts.cache   # id(node) -> (node, the names it reads), and ("assign", id) -> (node, facts)
        self.dead_pops: set = set()
        self.kept_pops: set = set()
        # the segment tapes a rerun's placeholder found read after it (shared with the probes of loops:
        # the forward loop that writes a tape comes before its rerun, so is seen after it)
        self.tapes_read: set = set() if tapes_read is None else tapes_read
        self.calls_kept: dict = {}   # (sweep) id of `v = call(...)` with v dead, the call not -> `call(...)`

    def block(self, stmts, live_out: set, record: bool = True) -> tuple:
        """(names live before `stmts`, whether what stays of them does nothing: comments and `pass`)."""
        live, kept = set(live_out), []
        for s in reversed(stmts):
            if anno.has(s, anno.RERUN) and _idle(kept):
                continue    # a segment's rerun with no backward sweep left after it to tape for (fuzz seed 910033)
            if self.stmt(s, live, record):
                kept.append(self.calls_kept.pop(id(s), s))
        if self.sweep:
            stmts[:] = kept[::-1]
        return live, _idle(kept)

    def assignment(self, s) -> tuple:
        """(target, the stack it pops or None, whether its value is pure) of `v = ...` (what the value reads
        noted in the same walk, for `loads`)."""
        got = self._loads.get(("assign", id(s)))
        if got is None:
            reads, pure = set(), True
            for n in walk_names_and_calls(s.value):
                if type(n) is gast.Name:
                    if isinstance(n.ctx, gast.Load):
                        reads.add(n.id)
                elif pure:
                    pure = pure_call(n) or (type(n.func) is gast.Name and n.func.id in self.facts.pure_callees)
            self._loads[id(s.value)] = (s.value, reads)
            got = self._loads[("assign", id(s))] = (s, (s.targets[0].id, _pop_stack(s), pure))
        return got[1]

    def loads(self, node) -> set:
        got = self._loads.get(id(node))
        if got is None:     # (the node is kept with its names: its id is not reused while the cache lives)
            got = self._loads[id(node)] = (node, {n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load)})
        return got[1]

    def dead_write(self, s, live: set) -> bool:
        """Whether `a[i] = v` goes: a write into a checkpointed loop's segment tape goes with what its rerun
        writes (the tape not read after the rerun); a write into an array the function makes, where nothing
        reads the array after it (and its index and value do nothing else)."""
        got = self._loads.get(("write", id(s)))
        if got is None:
            a = s.targets[0].value.id
            pure = is_pure(s.value) and is_pure(s.targets[0].slice)
            got = self._loads[("write", id(s))] = (s, (a, pure and a in self.facts.own,
                                                       pure and a in self.facts.segment_tapes))
        a, own, segment_tape = got[1]
        if segment_tape:
            return a not in self.tapes_read
        return own and live.isdisjoint(self.facts.own[a])

    def rerun_reads(self, s, live: set) -> set:
        """What the rerun of a checkpointed loop's segment (`s`, its placeholder) will read: the segment
        tapes its writes fill that are read after it (`tapes_read` keeps them for the forward loop's writes),
        and the tapes the undo loop before it reads."""
        p = self.facts.plans.get(anno.get(s, anno.RERUN))
        if p is None:
            return set()
        read = {t for t in p.tapes if t in live}
        self.tapes_read |= read
        return read | set(p.undo_tapes.values())

    def stmt(self, s, live: set, record: bool) -> bool:
        """Update `live` from after `s` to before it; whether `s` stays."""
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            t, stack, pure = self.assignment(s)
            if t not in live and (pure or stack in self.droppable):
                if stack and record:
                    self.dead_pops.add(stack)
                return False
            if stack and record:
                self.kept_pops.add(stack)
            if (self.sweep and t not in live and not stack and isinstance(s.value, gast.Call)
                    and not (isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "pop")):
                # a call with effects whose result nothing reads stays as a statement of its own (a list's
                # pop keeps its name: drop_dead_stacks finds the pops of a stack by it)
                self.calls_kept[id(s)] = gast.copy_location(gast.Expr(value=s.value), s)
            live.discard(t)
            live |= self.loads(s.value)
            return True
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Tuple) \
                and all(type(e) is gast.Name for e in s.targets[0].elts):
            # `v, d_v = f_jvp(...)` (forward mode's call of a helper that stays a call): goes where nothing
            # reads v or d_v and f has no effects
            names = {e.id for e in s.targets[0].elts}
            if not names & live and all(pure_call(n) or (type(n.func) is gast.Name and n.func.id in
                                                         self.facts.pure_callees) for n in walk_calls(s.value)):
                return False
            live -= names
            live |= self.loads(s.value)
            return True
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name):
            if self.dead_write(s, live):
                return False
            live |= self.loads(s)     # (the array too: it must be bound)
            return True
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.push":
            stack = s.value.args[0]
            if isinstance(stack, gast.Name) and stack.id in self.local and stack.id not in live:
                return False    # (a stack the function does not make may be read by its caller)
            live |= self.loads(s)
            return True
        if isinstance(s, gast.If):
            body, idle_body = self.block(s.body, live, record)
            orelse, idle_orelse = self.block(s.orelse, live, record)
            if idle_body and idle_orelse and is_pure(s.test):
                return False
            if self.sweep:
                if idle_orelse:
                    s.orelse = []
                if idle_body and not idle_orelse:     # `if c: pass / else: ...` reads `if not c: ...`
                    s.test = gast.UnaryOp(op=gast.Not(), operand=s.test)
                    s.body, s.orelse = s.orelse, []
                elif idle_body:
                    s.body = [gast.Pass()]
            live |= body | orelse | self.loads(s.test)
            return True
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, live, record)
        if isinstance(s, gast.AugAssign):       # reads its target too
            live |= self.loads(s) | {n.id for n in walk_names(s.target)}
            return True
        live |= self.loads(s)
        return True

    def loop(self, s, live: set, record: bool) -> bool:
        """`stmt` of a for or while loop: the names live at its head are a fixpoint over its iterations."""
        header = s.iter if isinstance(s, gast.For) else s.test
        head = self.loads(header)
        probe = _Liveness(self.local, self.droppable, self.facts, tapes_read=self.tapes_read, heads=self.heads) \
            if self.sweep else self
        bound = _bound(s.target) if isinstance(s, gast.For) else set()  # (each iteration binds it first)
        h = live | head
        # An inner loop is asked once per iteration of each loop around it: iterating its fixpoint from `live`
        # each time made the work grow as 3 ** depth. Within one run the names live after a loop only grow (the
        # loops around it iterate up to their fixpoints, and every step is monotone), so its fixpoint only
        # grows too: it starts from the last one, and is that one where nothing new is live after the loop (the
        # body is then not walked again, unless a checkpointed loop's rerun may add tapes read meanwhile).
        known = self.heads.get(id(s)) if not self.facts.plans else None
        idle = None
        if known is not None:
            h |= known[1]
            if h == known[1]:
                idle = known[2]
        if idle is None:
            while True:     # the names live at the loop's head: a fixpoint over its iterations
                new, idle = probe.block(s.body, h, record=False)
                new = live | head | (new - bound)
                if new == h:
                    break
                h = new
        if not self.facts.plans:
            self.heads[id(s)] = (s, h, idle)
        if record or self.sweep:
            _, idle = self.block(s.body, h, record)
        if anno.has(s, anno.RERUN):
            h |= self.rerun_reads(s, live)
        if idle and not s.orelse and not anno.has(s, anno.RERUN):   # (a rerun is filled in later)
            if not live & bound:
                return False    # (generated loops run range() or a test without effects)
            if self.sweep and all(is_comment(b) for b in s.body):   # kept for the value it leaves in its
                s.body.append(gast.Pass())                          # variable (fuzz seed 102158)
        live |= h
        return True


_LEAVES = frozenset((gast.Assign, gast.AugAssign, gast.Expr, gast.Return, gast.Pass))   # statements without blocks
_EXPR = gast.Expr   # (a comment is one: the annotations USER_LINE and SWEEP mark comments only)


def without_lone_line_comments(stmts):
    """`stmts` (and their nested blocks) without the comments citing a user's line, or heading a part of
    the function (`# forward sweep`), that no statement follows: the next statement of the block is another
    comment, or there is none, or (in the backward sweep) the gradient's `return`, which is no user line's
    adjoint (the README's simulate: `# line 6: ys[0] = 0.5` of a constant written, above `return (d_a, d_b)`);
    and those citing the line that the block's comment before them cites, with no loop or branch between them
    (two adjoint blocks of one line, `d_a = rt.zeros_like(a)` of a comprehension's below its sum's: the line
    said twice in a row)."""
    out, backward, cited, last, header = [], False, None, len(stmts) - 1, False
    for k, s in enumerate(stmts):
        kind = type(s)
        if kind is not _EXPR and kind in _LEAVES:
            out.append(s)   # (an assignment, a return: neither comment nor block; only comments cite lines)
            continue
        leaf = kind in _LEAVES
        if not leaf:
            map_blocks(s, without_lone_line_comments)
        if not backward:
            backward = anno.get(s, anno.SWEEP) == "backward"
        if anno.has(s, anno.USER_LINE) and (k == last or is_comment(stmts[k + 1])
                                            or backward and isinstance(stmts[k + 1], gast.Return)
                                            or anno.get(s, anno.USER_LINE) == cited):
            continue     # (`cited`: the line the block's last comment cites, no loop or branch since: said already)
        if is_comment(s) or not leaf and nested_blocks(s):
            cited = anno.get(s, anno.USER_LINE)
        header = header or anno.get(s, anno.SWEEP) == "forward"
        out.append(s)
    if not header:
        return out
    return [s for k, s in enumerate(out) if not (anno.get(s, anno.SWEEP) == "forward" and (
        k + 1 == len(out) or is_comment(out[k + 1]) and not anno.has(out[k + 1], anno.USER_LINE)))]


def drop_dead_stacks(fn: gast.FunctionDef, backward_start) -> gast.FunctionDef:
    """A stack whose popped values the backward sweep never reads (a later pass made its one reader
    scalar or dropped it) is not made: its `s = []`, pushes and pops go, then what only fed them.
    `backward_start`: the statement of `fn.body` the backward sweep follows (reverse.Sweeps)."""
    marks = [k for k, s in enumerate(fn.body) if s is backward_start]
    if not marks:
        return fn
    stacks = {s.targets[0].id for s in fn.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
              and isinstance(s.value, gast.List) and not s.value.elts}
    if not stacks:
        return fn
    # whether each pop's value is read: liveness over the whole function (loops' next iterations included), so
    # a read of the stack's name before the loop that pops it (`rt.unbroadcast(g, buf)` of the loop's last value:
    # nested fuzz seed 610150) never counts, nor one after a later pop of that name (a loop's restores of a
    # name the next loop of the backward sweep pops again: nested fuzz seed 30)
    reads = _PopReads(_Facts(fn))
    reads.block(fn.body, set())
    uses: dict = {}
    for n in walk_names(fn):
        if n.id in stacks:
            uses[n.id] = uses.get(n.id, 0) + 1
    dead = {st for st in stacks if st not in reads.read}
    seen = {st: reads.popped.get(st, 0) + reads.pushed.get(st, 0) for st in dead}
    dead = {st for st in dead if seen[st] + 1 == uses.get(st)}    # used by nothing else
    if not dead:
        return fn

    def gone(s):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id in dead:
            return True
        call = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
        return isinstance(call, gast.Call) and (dotted_name(call.func) or "").rsplit(".", 1)[0] in dead

    fn.body = without_statements(fn.body, gone)
    return eliminate_dead_code(fn)


class _PopReads(_Liveness):
    """Liveness that notes, of the list stacks' pops (`v = s.pop()`), the stacks some pop of which has its value
    read (`read`), and how many pops and pushes (`s.append(v)`) each stack has (`popped`, `pushed`), for
    drop_dead_stacks. (Its decisions are eliminate_dead_code's: what that pass drops reads nothing here.)"""

    def __init__(self, facts):
        super().__init__(set(), set(), facts)
        self.read: set = set()
        self.popped: dict = {}
        self.pushed: dict = {}

    def stmt(self, s, live: set, record: bool) -> bool:
        if record:
            from ..stacks import popped_from, pushed_to
            st = popped_from(s)
            if st is not None:
                self.popped[st] = self.popped.get(st, 0) + 1
                if s.targets[0].id in live:
                    self.read.add(st)
            elif pushed_to(s) is not None:
                self.pushed[pushed_to(s)] = self.pushed.get(pushed_to(s), 0) + 1
        return super().stmt(s, live, record)
