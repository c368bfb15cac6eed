"""Check (no change to the tree): declines programs where an array is written in place while a view
of it (a slice, a row, a transpose, a reshape, a plain second name) made before the write is read
after it. Reverse mode treats every SSA value as its own array, so such a read would see the new
contents in the forward sweep but get the old value's derivative in the backward sweep: a silently
wrong gradient. Views made after the write (the usual `x[t] = f(x[t - 1])`) are fine.

The check is a may-alias dataflow over the structured SSA tree (branches join, loops run to a fixpoint),
so a name bound to the written array only after the write, on its own path, is not declined.
Which names may share memory is memory_sharing.py's (the facts other passes read too); the pass that makes a
write through a second name a write through the first, so that this check need not decline it, is
follow_writes.py.
"""
from __future__ import annotations

import ast
import copy

import gast

from ..cachedir import is_generated_file
from ..errors import SrcdiffError, fail
from . import annotations as anno
from .astutil import dotted_name, walk, walk_names, walk_statements
from .kinds import dtype, expr_kind, is_array, ndim
from .memory_sharing import LAYOUT_CALLS, ellipsis_index, asarray_names, gathered_names, in_place, memory_roots, view_source
from .shape_reads import shape_only_stacks, shape_reads, ssa_copy


class _Flow:
    """Which names may share memory, and which of them a write has left stale, statement by statement.

    A state is (partners: name -> the other names it may share memory with, stale: name -> the in-place
    write, and its target, that changed its memory after it was bound). Relational, so that swapping two
    buffers in a loop keeps them apart. Branches join; loops run to a fixpoint."""

    def __init__(self, unit, kinds, renames_only, in_place_only=False):
        self.unit, self.kinds, self.renames_only, self.in_place_only = unit, kinds, renames_only, in_place_only

    def run(self, fn):
        self.asarrays, self.gathers = asarray_names(fn), gathered_names(fn)
        self.scalars = zero_d_scalars(fn, self.kinds)
        self.shape_stacks = shape_only_stacks(fn)
        self.write_backs = written_back(fn, self.unit.filename)
        self.slices: dict = {}      # a view by one slice along one axis -> (its array, the axis, its bounds' text)
        self.in_loops = {n.id for loop in walk(fn) if isinstance(loop, (gast.For, gast.While))
                         for n in walk(loop) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        self.block(fn.body, ({}, {}))

    def _apart(self, name, value, src, shared) -> frozenset:
        """The names in `shared` (the partners of `src`) that the view `name = value` cannot share memory with: views
        of src by a slice along the same axis on the other side of the same bound (`top = b[:k]`, `bottom = b[k:]`,
        np.split's parts; k a constant or a name no loop binds again, so that both read the same k), or two parts of one
        np.split (annotations.SPLIT_PART); src not bound again in a loop (its views there may be views of its views)."""
        cut = _one_slice(value, self.in_loops) if src not in self.in_loops else None
        if cut is None:
            return frozenset()
        part = anno.get(value, anno.SPLIT_PART)
        self.slices[name] = (src,) + cut + (part,)
        _, axis, lo, hi, start, stop, _ = self.slices[name]

        def apart(p):
            src_p, axis_p, lo_p, hi_p, start_p, stop_p, part_p = self.slices.get(p, (None,) * 7)
            return src_p == src and axis_p == axis and (
                (hi is not None and lo_p == hi) or (lo is not None and hi_p == lo)
                or (stop is not None and start_p is not None and stop <= start_p)
                or (stop_p is not None and start is not None and stop_p <= start)
                or (part is not None and part_p is not None and part_p[0] == part[0] and part_p[1] != part[1]))
        return frozenset(p for p in shared if apart(p))

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
        if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and in_place(s, self.kinds)
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
            src = view_source(s.value, name, self.kinds, self.renames_only, self.asarrays, self.gathers)
            if anno.get(s, anno.RETURN_VALUE) and not anno.has(s, anno.FUNC):
                src = None   # the function's own result: nothing of it runs after this on its path (an inlined
                # helper's result is its caller's value, which the caller may write through afterwards)
            self.slices.pop(name, None)
            if src is not None:
                shared = (partners.get(src, frozenset()) | {src}) - {name}
                shared = shared - self._apart(name, s.value, src, shared)
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
        target = s.targets[0] if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        if (isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name)
                and is_generated_file(anno.get(s, anno.FILE) or self.unit.filename)):
            # a write into an array in a gradient differentiated again (its backward sweep's restore `b[i] = b_old`,
            # after the restore through a view of b) reads none of b's values: its derivative needs none, and a
            # read of b after it is still checked (nested fuzz 1301022)
            if not any(isinstance(n, gast.Name) and n.id == target.value.id
                       for n in walk_names(target.slice)) and target.value.id not in _names_in(s.value):
                loads.discard(target.value.id)
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

    def _default_read_after_a_write(self, view, w, target) -> None:
        """Decline, naming the user's parameter, a read of a nested function's default (`def g(v, w=buf)`, bound
        where the def runs to a name of closures' making, `g_w`) after a write into the array it is, where `buf` is
        bound again, so that the calls cannot pass `buf` itself (closures._one_object)."""
        for s in walk_statements(self.unit.node.body):
            made = anno.get(s, anno.DEFAULT_OF) if isinstance(s, gast.Assign) else None
            if made and isinstance(s.targets[0], gast.Name) and s.targets[0].id == view:
                func, param, line = made
                at = f" (line {line})" if line else ""
                self._fail_at_write(
                    w, f"`{param}`, the default of `{func}`'s parameter{at}, is the array `{target}` held where the "
                       f"def ran (Python evaluates a default once, there), which this assignment writes in place, and "
                       f"a later call of `{func}` reads it: srcdiff does not follow writes through a second name of "
                       f"an array, and `{target}` is bound again, so the default is not `{target}` at every call",
                    f"pass the array at the call ({func}(..., {param}={target})), or bind `{target}` once (a default "
                    f"naming an array bound once is that array at every call), or make the default a copy "
                    f"({param}={target}.copy()) if `{func}` is to read the values it had where it was defined")

    def _factory_argument_after_a_write(self, view, w, target) -> None:
        """Decline, naming the function and the factory's call, a call of `g` (`g = make(c)`, whose argument c
        factories binds to a name of its making, `g_c`, which each call of g passes) after a write into the array
        `c` was: Python's g reads that array, written; srcdiff does not follow the write through the second name."""
        for s in walk_statements(self.unit.node.body):
            made = anno.get(s, anno.FACTORY_ARGUMENT) if isinstance(s, gast.Assign) else None
            if made and isinstance(s.targets[0], gast.Name) and s.targets[0].id == view:
                func, factory, param, line = made
                shown = self._as_the_user_spells(target)
                at = f" (line {line})" if line else ""
                self._fail_at_write(
                    w, f"`{func}`, the function `{factory}` returned{at}, holds the array `{shown}` as `{factory}`'s "
                       f"parameter `{param}`, and this assignment writes that array in place before a later call of "
                       f"`{func}` reads it: srcdiff does not follow writes through a second name of an array",
                    f"call `{factory}` after the write (bind `{func}` there), or pass it a copy ({factory}(..., "
                    f"{param}={shown}.copy())) if `{func}` is to read the values from before the write")

    def _fail_at_write(self, w, message, advice) -> None:
        """Raise the decline at the write `w`: the user's line in the file it came from (an inlined helper's)."""
        where = anno.get(w, anno.FILE)
        if where is not None:
            raise SrcdiffError(message, where, getattr(w, "lineno", None), advice)
        fail(w, self.unit, message, advice)

    def _user_name(self, name) -> bool:
        """Whether `name` (spelled for messages) is one the user's code binds or reads, or an item of one (`st[0]`);
        True where the user's function is not known."""
        func = getattr(self.unit, "func", None)
        if func is None or "[" in name or "." in name:
            return True
        from ..user_spelling import user_names
        return name in user_names(func)

    def _as_the_user_spells(self, name):
        """`name` as the user spells it where srcdiff made it (`b1`, desugar's temporary for `b` of `a[:2], b =
        b[:2], a[:2]`, is `b`): user_spelling's shortening that the user's function binds or reads."""
        func = getattr(self.unit, "func", None)
        if self._user_name(name):
            return name
        from ..user_spelling import spelled, user_names
        return spelled(name, user_names(func))

    def decline(self, view, w, target, read=None):
        copies = [s for s in walk_statements(self.unit.node.body) if anno.has(s, anno.LOOP_COPY)]
        versions = anno.get(self.unit.node, anno.SSA_VERSIONS, {})     # (the user's names, not SSA's versions)
        if any(s.targets[0].id == view for s in copies):   # the name desugar gave the array a `for` loop walks
            # the loops' iterables that share the written array's memory, as the user spells them (`zip(P[0], P[1])`
            # with P written: both, as a copy of one alone is declined in turn)
            roots = memory_roots(self.unit.node, self.kinds, self.renames_only)
            root = roots.get(target, target)
            line = next(s.lineno for s in copies if s.targets[0].id == view)      # (the same loop's, not another's)
            iterated = list(dict.fromkeys(anno.get(s, anno.LOOP_COPY) for s in copies if s.targets[0].id == view or
                                          s.lineno == line and roots.get(s.targets[0].id) == root))
            spelled = anno.get(self.unit.node, anno.LEAF_NAMES, {})
            written = spelled.get(versions.get(target, target), versions.get(target, target))
            shown = " and ".join(f"`{i}`" for i in iterated)
            what = (f"`{written}`, the array the loop over {shown} walks" if iterated == [written] else
                    f"`{written}`, whose memory the loop over {shown} walks")
            fail(w, self.unit, f"this assignment writes in place into {what}, which the loop reads again: srcdiff "
                               "does not follow writes through views",
                 f"loop over a copy ({', '.join(f'np.copy({i}) in place of {i}' for i in iterated)}) or over the "
                 f"indices (for i in range(len({iterated[0]})))")
        base = memory_roots(self.unit.node, self.kinds, self.renames_only).get(target, target)
        self._default_read_after_a_write(versions.get(view, view), w, versions.get(target, target))
        self._factory_argument_after_a_write(versions.get(view, view), w, versions.get(target, target))
        spelled = anno.get(self.unit.node, anno.LEAF_NAMES, {})    # (an argument's item: p_W is p["W"])
        view, target, base = (spelled.get(versions.get(n, n), versions.get(n, n)) for n in (view, target, base))
        view = self._as_the_user_spells(view)
        self._read_after_a_gradient(view, w, read)
        if view in self.stacks():
            fail(w, self.unit, f"this assignment writes in place into an array the list `{view}` holds (appended "
                               f"before it as `{target}`), and the list is read afterwards: srcdiff does not follow "
                               f"writes into the arrays a list holds",
                 f"append a copy ({view}.append({target}.copy()))" + (
                     f", or bind a new array instead of writing in place ({target} = {target} + v rather than "
                     f"{target} += v)" if anno.get(w, anno.IN_PLACE) else ""))
        if view == target:     # two bindings of one name (a swap in a loop, then a second name written)
            fail(w, self.unit, *one_name_twice(view))
        # (a name srcdiff made, `y1` of `y = a if c else b`, as the user spells it: `y`)
        target, base = (self._as_the_user_spells(n) if self._as_the_user_spells(n) != view else n
                        for n in (target, base))
        message = (f"`{view}` shares memory with `{target}`, which this assignment writes in place, "
                   f"and is read afterwards: srcdiff does not follow writes through views")
        func, where = anno.get(w, anno.FUNC), anno.get(w, anno.FILE)
        if func is not None and func != self.unit.node.name and where and not is_generated_file(where):
            # (a helper of the user's, inlined: `target` is its parameter's name, perhaps renamed, not the caller's)
            message = (f"`{func}` (inlined at this call) writes in place into memory that `{view}` shares, and "
                       f"`{view}` is read afterwards: srcdiff does not follow writes through views (a slice or "
                       f"view passed to `{func}` is one)")
            advice = (f"pass `{func}` the whole array and the offset as an index, or pass it a copy (np.copy(...)) "
                      f"and have it return the array it writes")
        elif target != base and not self._user_name(base):   # (the array's first name is srcdiff's: `st = (x * 1.0,
            # a)` binds it to a temporary st1, whose name the user never wrote)
            advice = f"make `{target}` a copy (np.copy(...)) if it is meant to be a separate array"
        else:
            advice = (f"write into `{base}` itself instead of through `{target}`, or make `{target}` "
                      f"a copy (np.copy(...)) if it is meant to be a separate array"
                      if target != base else
                      f"make `{view}` a copy where it is created (np.copy(...)), or index "
                      f"`{base}` again after the write")
        if any('["' in n for n in (view, target)):    # an item of a dict argument's copy: its arrays are shared
            advice += "; dict(params), params.copy() and {**params} copy the dict, not its arrays: copy.deepcopy does"
        self._fail_at_write(w, message, advice)


def _one_slice(value, in_loops) -> tuple | None:
    """(axis, lower, upper, start, stop) of `a[lo:hi]` or `a[:, lo:hi]` (one slice without a step, the axes before it
    whole), the bounds as text (None where left out) and as constant integers counted from the front (start 0 where
    left out; None where not such a constant), where no loop binds a name they read; else None."""
    if not (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name)):
        return None
    idx = value.slice.elts if isinstance(value.slice, gast.Tuple) else [value.slice]
    if not idx or not all(isinstance(e, gast.Slice) and e.step is None for e in idx):
        return None
    whole = [e.lower is None and e.upper is None for e in idx]
    if sum(1 for w in whole if not w) != 1 or whole.index(False) != len(idx) - 1:
        return None
    last = idx[-1]
    if any(isinstance(n, gast.Name) and n.id in in_loops for b in (last.lower, last.upper) if b is not None
           for n in walk(b)):
        return None
    text = lambda b: None if b is None else ast.dump(gast.gast_to_ast(copy.deepcopy(b)))  # noqa: E731
    start = 0 if last.lower is None else _natural(last.lower)
    return len(idx) - 1, text(last.lower), text(last.upper), start, _natural(last.upper)


def _natural(bound) -> int | None:
    """A slice bound that is a constant integer >= 0 (counted from the front, so that two such bounds order the
    elements they cut: `b[:1]` and `b[2:]` are apart, the generated code of np.array_split's parts), else None."""
    if isinstance(bound, gast.Constant) and type(bound.value) is int and bound.value >= 0:
        return bound.value
    return None


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


def _names_in(e) -> set:
    return {n.id for n in walk_names(e) if isinstance(n.ctx, gast.Load)}


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
    _decline_updates_of_0d_views(unit, kinds)
    _decline_float_updates_of_ints(unit, kinds)
    if not _writes(unit.node, kinds):
        return      # (nothing is written through a name: no read can be stale, nor an argument updated)
    if renames_only and any(isinstance(n, gast.Call) and dotted_name(n.func) in LAYOUT_CALLS for n in walk(unit.node)):
        # np.ascontiguousarray / np.asfortranarray are a copy or the argument itself by its run-time layout, and a
        # tangent's layout need not be its value's (dx * 1.0 of an F-ordered x is C-ordered): forward mode does not
        # follow writes through the views of such a function, reverse mode's check runs (h30b)
        renames_only = False
    _Flow(unit, kinds, renames_only).run(unit.node)
    if renames_only:
        # (forward mode follows writes through views, but not `a += v` on an array, which it computes as
        # `a = a + v`: a new array, which no view, second name or list holding `a` sees)
        _Flow(unit, kinds, False, in_place_only=True).run(unit.node)
    _decline_argument_updates(unit, kinds)


def _decline_float_updates_of_ints(unit, kinds) -> None:
    """`y *= a` of an array of ints (or booleans) and a float: NumPy raises (it cannot cast the float result into y
    in place), where srcdiff computed `y = y * a`, a new array of floats, and differentiated a function Python
    rejects. Declined at the line."""
    for s in walk_statements(unit.node.body):
        if (isinstance(s, gast.Assign) and anno.get(s, anno.IN_PLACE) and isinstance(s.value, gast.BinOp)
                and isinstance(s.value.left, gast.Name) and is_array(kinds.get(s.value.left.id))
                and dtype(kinds.get(s.value.left.id)) in ("i", "b") and dtype(expr_kind(s.value, kinds)) == "f"):
            versions = anno.get(unit.node, anno.SSA_VERSIONS, {})
            name = versions.get(s.value.left.id, s.value.left.id)
            op = _OPS.get(type(s.value.op), "+")
            held = "ints" if dtype(kinds[s.value.left.id]) == "i" else "booleans"
            fail(s, unit, f"`{name} {op}= ...` of an array of {held} and floats: NumPy raises here (it cannot cast "
                          f"the floats into `{name}` in place)",
                 f"bind a new array of floats, `{name} = {name} {op} ...`, or make `{name}` floats where it is made")


def _decline_updates_of_0d_views(unit, kinds) -> None:
    """`y = b[0, ...]` then `y += v`: NumPy's `b[0, ...]` is a 0-d array sharing b's memory, which `+=` writes
    (b[0] changes), where the kinds, as Numba, call it a number that `y += v` binds anew (value 0.38 for 1.29, d/da 0
    for 2). Declined at the update, with the write into b to make instead."""
    views = {s.targets[0].id: s.value for s in walk_statements(unit.node.body) if isinstance(s, gast.Assign)
             and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Subscript)
             and isinstance(s.value.value, gast.Name) and ellipsis_index(s.value.slice)
             and not is_array(kinds.get(s.targets[0].id))}
    for s in walk_statements(unit.node.body):
        if (views and isinstance(s, gast.Assign) and anno.get(s, anno.IN_PLACE) and isinstance(s.value, gast.BinOp)
                and isinstance(s.value.left, gast.Name) and s.value.left.id in views):
            versions = anno.get(unit.node, anno.SSA_VERSIONS, {})
            name = versions.get(s.value.left.id, s.value.left.id)
            number = copy.deepcopy(views[s.value.left.id])     # (the index without its ellipsis: a number)
            for n in walk(number):
                if isinstance(n, gast.Name):
                    n.id = versions.get(n.id, n.id)
            items = number.slice.elts if isinstance(number.slice, gast.Tuple) else [number.slice]
            items = [e for e in items if not (isinstance(e, gast.Constant) and e.value is Ellipsis)]
            number.slice = items[0] if len(items) == 1 else gast.Tuple(elts=items, ctx=gast.Load())
            at, base = ast.unparse(gast.gast_to_ast(number)), number.value.id
            op = _OPS.get(type(s.value.op), "+")
            fail(s, unit, f"`{name}` is a 0-d view of `{base}` (an index with an ellipsis gives one in NumPy), and "
                          f"`{name} {op}= ...` writes into `{base}`: srcdiff takes `{name}` for a number there",
                 f"write into `{base}` itself (`{at} {op}= v`), or take the number (`{name} = {at}`) if `{base}` is "
                 f"to stay as it is")


def _writes(fn, kinds) -> bool:
    """Whether `fn` writes into memory a name holds: `a[i] = v`, or `a += v` of an array (the only statements
    that make a read stale in _Flow, or update an argument in _decline_argument_updates)."""
    return any(isinstance(s, gast.Assign) and (isinstance(s.targets[0], gast.Subscript) or in_place(s, kinds))
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
    updates = [s for s in walk_statements(fn.body) if isinstance(s, gast.Assign) and in_place(s, kinds)]
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
        spelled = anno.get(fn, anno.LEAF_NAMES, {})        # (an argument's item: p_W is p["W"])
        name, arg = (spelled.get(versions.get(n, n), versions.get(n, n)) for n in (s.targets[0].id, root))
        func = anno.get(s, anno.FUNC)
        inlined = f" (in `{func}`, inlined at its call)" if func is not None and func != fn.name else ""
        shared = "" if name == arg else f" (`{name}` names it)"
        message = (f"`{name} {op}= ...` writes in place into the array argument `{arg}`{shared}{inlined}: in Python "
                   f"the caller's array changes too, which srcdiff, computing a new array, does not do")
        advice = (f"write `{name} = {name} {op} ...` to leave the caller's array alone, or make a copy first "
                  f"(`{name} = np.copy({name})`)")
        raise SrcdiffError(message, where, getattr(s, "lineno", None), advice)
