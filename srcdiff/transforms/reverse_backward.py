"""Reverse mode's backward sweep (part of the reverse pass, reverse.py): the adjoint statements of each
SSA statement, last statement first, from the rule templates (srcdiff/rules).

`state` maps each adjoint the sweep has started to whether the sweep owns its array (may update it in
place); an adjoint is created by its first contribution (`accum`) and consumed at its value's definition.
Loops carry the adjoints of values defined outside them, branches are made to agree (each starts the
adjoints the other one started), and the adjoint of a stack's pop pushes onto the stack's adjoint.

`BackwardSweep` holds these methods of the `Reverse` object (reverse.py): they use its names (`adj`,
`accum`, `own`, `tidy`, `read`, `line_comment`), its kinds and shapes, and what Storage
(reverse_storage.py) stored for them (`pops`, `remat_plan`, `tape_allocations`).
"""
from __future__ import annotations

import copy

import gast

from ..cachedir import is_generated_file
from ..errors import SrcdiffError, fail
from ..rules import BINOP_RULE, RULES
from . import annotations as anno
from . import checkpoints
from .activity import SCATTER, bind, decline_items_passed_to_a_call
from .astutil import (assign, call, clone, comment, const, dotted_name, is_comment, load, store, walk, walk_names,
                      walk_of)
from .kinds import UNSETTLED, dtype, expr_kind, is_array, is_scalar, is_tuple, ndim, truncates
from .reverse_support import (IntNames, assigned_in, basic_index, defs_and_loads, loaded_in, reversed_range, simplify,
                              written_arrays)
from .templates import instantiate


class BackwardSweep:
    """The backward sweep's statements (module docstring)."""

    def backward(self, stmts, loop, state):
        out = self.pops(stmts, loop) if loop is not None else []
        indices = self.recomputed_indices(loop) if loop is not None and stmts is loop.body else []
        subs = self.rereads(stmts, loop)[1]
        pending = dict(subs)
        for q in range(len(stmts) - 1, -1, -1):
            s = stmts[q]
            code = self.backward_stmt(s, state)
            if code:  # re-read array elements used from here on (their arrays are restored by now)
                ready = [v for v, (st, last) in pending.items() if last >= q]
                code = [self.read(clone(pending.pop(v)[0])) for v in ready if v in self.needed] + code
            if code and indices:
                now, indices = _indices_for(code, indices)
                code = now + code
            if code:
                line = getattr(s, "lineno", None)
                where = (anno.get(s, anno.FILE), line)
                if line is not None and where != self.last_line and not anno.get(s, anno.PHI) \
                        and not anno.get(s, anno.MERGE):
                    out.append(self.line_comment(s))
                    self.last_line = where
                out += code
        return out + indices

    def stays_call_tuple(self) -> tuple | None:
        """(name, recursive) of the function of the user's that stays a call and returns a tuple here: this one,
        differentiated as such a call's pullback, or one it calls; else None. `recursive`: whether it calls itself
        (annotations.RECURSIVE; else it stays a call for being nested four calls deep)."""
        recursive = anno.get(self.fn, anno.RECURSIVE) or anno.get(self.unit.node, anno.RECURSIVE)
        ret = self.fn.body[-1] if self.fn.body else None
        v = ret.value if isinstance(ret, gast.Return) else None
        if self.mode == "pullback" and (isinstance(v, gast.Tuple) or (
                isinstance(v, gast.Name) and is_tuple(self.kinds.get(v.id)))):
            return self.unit.name, recursive is None or self.unit.name in recursive
        local = next((st.value.func.id for st in walk(self.fn) if isinstance(st, gast.Assign)
                      and isinstance(st.value, gast.Call) and isinstance(st.value.func, gast.Name)
                      and st.value.func.id in self.unit.callees and isinstance(st.targets[0], gast.Name)
                      and is_tuple(self.kinds.get(st.targets[0].id))), None)
        if local is None:
            return None
        callee = self.unit.callees[local]
        name = getattr(callee, "__name__", None) or getattr(callee, "name", "?")
        return name, recursive is None or local in recursive

    def decline_stays_call_tuple(self, s, name: str, recursive: bool):
        """A tuple of differentiated values returned by a function of the user's that stays a call (recursive, or
        nested four calls deep): reverse mode differentiates such a call as one value. Declined, saying which."""
        deep = "nested four calls deep (srcdiff inlines the functions you call to three calls deep; a call deeper " \
            "stays a call)"
        why = "a recursive function" if recursive else f"a function {deep}"
        if is_generated_file(self.unit.filename):   # a gradient differentiated again
            fail(s, self.unit, f"reverse mode over the gradient of {why} of yours with more than one differentiated "
                 f"argument: its pullback {name!r} returns a tuple of their adjoints, and reverse mode "
                 "differentiates the call of a function that stays a call as one value",
                 "differentiate the function that calls the gradient in forward mode (srcdiff.jvp, jit=False), "
                 "or give the function one differentiated argument (np.concatenate the others into it, or read "
                 "them outside " + ("the recursion)" if recursive else "it)"))
        if recursive:
            fail(self.returned_at(s), self.unit, f"the recursive function {name!r} returns a tuple of "
                 "differentiated values (this `return`); reverse mode differentiates a recursive function's "
                 "call as one value", "return one array (np.array((a, b))) and index it where it is called")
        fail(self.returned_at(s), self.unit, f"the function {name!r} returns a tuple of differentiated values (this "
             f"`return`) and stays a call, being {deep}; reverse mode differentiates the call of a function "
             "that stays a call as one value",
             "call it from a function fewer calls deep (so that srcdiff inlines it), or return one array "
             "(np.array((a, b))) and index it where it is called")

    def returned_at(self, s):
        """The statement that stands for the user's first `return` of the tuple `s` builds: the first (by line)
        definition of its first component that is not a branch merge's copy (merges are at the `if`'s line);
        `s` itself where there is none."""
        first = s.value.elts[0] if s.value.elts else None
        if not isinstance(first, gast.Name):
            return s
        defs: dict = {}
        for st in walk(self.fn):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                defs.setdefault(st.targets[0].id, []).append(st)
        found, todo, seen = [], [first.id], set()
        while todo:
            name = todo.pop()
            seen.add(name)
            for st in defs.get(name, ()):
                if anno.get(st, anno.MERGE) and isinstance(st.value, gast.Name):
                    todo += [st.value.id] if st.value.id not in seen else []
                else:
                    found.append(st)
        return min(found, key=lambda st: st.lineno) if found else s

    def backward_stmt(self, s, state):
        out = []
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                self.backward_assign(t.id, s.value, s, state, out)
            else:
                self.backward_write(s, state, out)
        elif isinstance(s, gast.If):
            self.backward_if(s, state, out)
        elif isinstance(s, (gast.For, gast.While)):
            self.backward_loop(s, state, out)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.push":
            self.backward_push(s, state, out)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) in SCATTER:
            self.backward_scatter(s, state, out)
        return out

    def backward_scatter(self, s, state, out):
        """`rt.index_add(a, idx, g)` (a[idx] += g, repeated indices accumulating; generated code being
        differentiated again): a's adjoint passes through unchanged and g's is gathered from it, d_a[idx]."""
        a, idx, g = s.value.args[:3]
        d = self.adj(a.id) if isinstance(a, gast.Name) else None
        if d not in state or not (isinstance(g, gast.Name) and g.id in self.active):
            return
        gathered = gast.Subscript(value=load(d), slice=_slice_syntax(self.read(clone(idx))), ctx=gast.Load())
        if not is_scalar(self.kinds.get(g.id)):
            gathered = call("rt.copy", gathered)     # not a view of d_a, which later statements update in place
        self.accum(g.id, call("rt.unbroadcast", gathered, load(g.id)), state, out)

    def backward_assign(self, t, value, s, state, out):
        if isinstance(value, gast.Call) and dotted_name(value.func) == "rt.pop":
            return self.backward_pop(t, value.args[0].id, state, out)
        d = self.adj(t)
        if isinstance(value, gast.Call) and dotted_name(value.func) == "rt.unstack" and t in self.active:
            state[d] = False    # a list made whole, rt.unstack(d_arr): its adjoint is the stack its pops pushed onto
        if t not in self.active or d not in state:
            return
        g = load(d)
        contribs = []  # (name, expr)
        if isinstance(value, gast.Name):
            contribs.append((value.id, g))
        elif isinstance(value, gast.BinOp) and type(value.op) in BINOP_RULE:
            rule = RULES[BINOP_RULE[type(value.op)]]
            if _squares(value):   # x * x: one contribution 2 * g * x, as a person writes it, not g * x twice
                twice = gast.BinOp(left=gast.Constant(value=2.0, kind=None), op=gast.Mult(), right=g)
                contribs += self.instantiate(rule, {"x": value.left, "y": value.right}, t, twice)[:1]
            else:
                contribs += self.instantiate(rule, {"x": value.left, "y": value.right}, t, g)
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
            contribs += self.instantiate(RULES["neg"], {"x": value.operand}, t, g)
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.UAdd):
            contribs.append((value.operand.id, g))
        elif isinstance(value, gast.Call):
            contribs += self.backward_call(t, value, s, g, out)
        elif (isinstance(value, gast.Subscript) and _whole_of_0d(value, self.kinds)
              and value.value.id not in self.written_anywhere):
            # (`a[()]` of a 0-d array nothing writes into is its number: d_a += g, not d_a[()]; where a write `a[()] =
            # v` reads d_a[()] back, d_a stays the array it indexes)
            contribs.append((value.value.id, g))
        elif isinstance(value, gast.Subscript):
            src = value.value.id
            del state[d]
            if src in self.active:
                self.own(src, state, out)
                idx = self.read(clone(value.slice))
                target = gast.Subscript(value=load(self.adj(src)), slice=idx, ctx=gast.Store())
                if basic_index(idx, IntNames(self.kinds, self.int_names)):
                    out.append(gast.AugAssign(target=target, op=gast.Add(), value=g))
                else:
                    out.append(gast.Expr(value=call("rt.index_add", load(self.adj(src)), _slice_objects(idx), g)))
            return
        elif isinstance(value, gast.Tuple):
            where = anno.get(s, anno.FILE)
            if where and not is_generated_file(where):   # a function of the user's, inlined: named at its line
                import linecache
                raise SrcdiffError("a tuple of differentiated values is built here in a way srcdiff cannot follow "
                                   "component by component (a tuple holding a tuple it took whole); reverse mode "
                                   "supports tuples that are built, copied, unpacked and indexed with constants\n"
                                   f"    {linecache.getline(where, s.lineno).strip()}", where, s.lineno,
                                   "return or pass on the parts as separate values (unpack the tuple first), or "
                                   "np.stack them into an array")
            if where:   # inlined generated code: a value_and_grad's (value, gradient) pair
                fail(self.fn, self.unit, f"a tuple of differentiated values ({where}:{s.lineno}, code srcdiff "
                     "generated, e.g. the (value, gradient) pair of srcdiff.value_and_grad) cannot be "
                     "differentiated in reverse mode",
                     "call srcdiff.grad and the function itself separately inside the differentiated "
                     "function, or use srcdiff.jvp / srcdiff.hvp of it")
            stays = self.stays_call_tuple()
            if stays is not None:
                self.decline_stays_call_tuple(s, *stays)
            if anno.get(s, anno.RETURNED_TUPLE):
                fail(s, self.unit, "the differentiated function returns a tuple (or a list) of values; reverse mode "
                     "needs one value (a scalar for grad, an array for vjp)",
                     "return a single array (np.stack / np.concatenate the parts) and use vjp or jacobian")
            written = (self.unit.source_line(s.lineno) or "").strip()
            if written[:1].isidentifier() and "= [" in written and "for" not in written:
                name = written.split("=")[0].strip()     # `vals = [0.0, 0.0, 0.0]` then `vals[i] = ...`
                fail(s, self.unit, f"the list `{name}` written here, then written at an index or read at a computed "
                                   f"one (`{name}[i] = v`, `{name}[i]`): srcdiff makes each item of a list literal a "
                                   "value of its own, and reads lists that grow by append",
                     f"make it an array: {name} = np.zeros(n) (or np.array([...]) of its items), then {name}[i] = v")
            fail(s, self.unit, "a tuple of differentiated values is indexed by a variable (or used in a way "
                 "srcdiff cannot follow component by component); reverse mode supports tuples that are "
                 "built, copied, unpacked and indexed with constants",
                 "index the tuple with constants, or np.stack the parts into an array and index that")
        owned = state.pop(d)
        for v, expr in contribs:
            first = self.adj(v) not in state
            written = self.accum(v, expr, state, out)
            # d_v = g (or g summed to v's shape) takes over g, which nothing reads after this point,
            # so an array this sweep owned stays owned (no copy before updating it in place)
            if owned and first and len(contribs) == 1 and written is not None and _passes_on(written, d):
                state[self.adj(v)] = True

    # ---- stacks: the adjoint of `v = s.pop()` pushes d_v onto d_s, that of `s.append(v)` pops it ----------
    def backward_pop(self, v, stack, state, out):
        if stack not in self.active:
            return
        d = self.adj(v) if v in self.active else None
        if d is not None and d in state:
            owned = state.pop(d)
            g = load(d) if owned or is_scalar(self.kinds.get(v)) else call("rt.copy", load(d))
        else:   # nothing reached v: push a zero, so that the pops below stay matched with their pushes
            g = self.zero(v)
        out.append(gast.Expr(value=call("rt.push", load(self.adj(stack)), self.tidy(self.read(g)))))

    def backward_push(self, s, state, out):
        stack, v = s.value.args[0], s.value.args[1]
        if not isinstance(v, gast.Name) and any(n.id in self.active for n in walk_names(v)):
            fail(s, self.unit, "a tuple of differentiated values is appended to a list whole: reverse mode "
                               "differentiates lists as stacks of arrays and numbers",
                 "append an array of it (out.append(np.array((u, v)))), or append the parts to lists of their own")
        if stack.id not in self.active:
            return
        popped = call("rt.pop", load(self.adj(stack.id)))
        if not is_generated_file(self.unit.filename):
            # a list of the user's may keep items no pop takes (`s.pop()` once after two appends, or a return
            # between): those are the list's first items, below every item a later pop takes, so where the adjoint
            # stack is empty here this item is one of them, and its adjoint is zero (srcdiff's own stacks, in a
            # gradient differentiated again, are popped to the end)
            d_stack = self.adj(stack.id)
            held = self.namer.fresh(d_stack + "_item")
            active = isinstance(v, gast.Name) and v.id in self.active
            out.append(gast.If(test=gast.Compare(left=call("len", load(d_stack)), ops=[gast.Gt()],
                                                 comparators=[const(0)]),
                               body=[assign(held, popped) if active else gast.Expr(value=popped)],
                               orelse=[assign(held, self.tidy(self.read(self.zero(v.id))))] if active else []))
            if active:
                self.accum(v.id, load(held), state, out)
            return
        if isinstance(v, gast.Name) and v.id in self.active:
            self.accum(v.id, popped, state, out)
        else:
            out.append(gast.Expr(value=popped))

    def instantiate(self, rule, bound, ans, g):
        out = []
        for p, tpl in rule.vjp.items():
            a = bound.get(p)
            if not rule.has_vjp(p) or not isinstance(a, gast.Name) or a.id not in self.active:
                continue
            mapping = {k: v for k, v in bound.items()}
            mapping.update({"g": g, "ans": load(ans)})
            out.append((a.id, instantiate(tpl, mapping)))
        return out

    def backward_call(self, t, value, s, g, out):
        name = dotted_name(value.func)
        if name in self.unit.callees:
            decline_items_passed_to_a_call(value, self.active, s, self.unit)
            pos = [k for k, a in enumerate(value.args) if isinstance(a, gast.Name) and a.id in self.active]
            if not pos:
                return []
            call_kinds = tuple(expr_kind(a, self.kinds) for a in value.args)
            fname = self.callee_vjp(name, tuple(pos), s, call_kinds)
            temps = [self.namer.fresh("d_" + value.args[k].id) for k in pos]
            for k, tmp in zip(pos, temps):
                self.adjoint_temps[tmp] = value.args[k].id
                self.kinds[tmp] = self.kinds.get(value.args[k].id)
            args = [self.read(clone(a)) for a in value.args] + [g]
            target = store(temps[0]) if len(temps) == 1 else gast.Tuple(elts=[store(x) for x in temps],
                                                                         ctx=gast.Store())
            out.append(assign(target, call(load(fname), *args)))
            return [(value.args[k].id, load(tmp)) for k, tmp in zip(pos, temps)]
        rule = RULES[name]
        if rule.nondiff:
            return []
        if rule.variadic:
            return self.backward_variadic(rule, value, t, g, s)
        try:
            bound = bind(rule, value)
        except TypeError as exc:
            fail(s, self.unit, f"bad arguments to {name}: {exc}")
        return self.instantiate(rule, bound, t, g)

    def backward_variadic(self, rule, value, t, g, s):
        seq = value.args[0]
        axis = value.args[1] if len(value.args) > 1 else next(
            (k.value for k in value.keywords if k.arg == "axis"), const(0))
        if isinstance(seq, gast.Constant):     # np.array(0.3), written into later (`c[()] = b`): no adjoint to pass on
            return []
        if not isinstance(seq, (gast.Tuple, gast.List)):
            if rule.variadic == "array" and isinstance(seq, gast.Name):
                if is_scalar(self.kinds.get(seq.id)):
                    # np.array(b) of a number b: b's adjoint is the number its 0-d adjoint holds (a 0-d array where
                    # the array is written into, `c[()] = v`; the number NumPy's arithmetic on it gives otherwise)
                    return [(seq.id, call("rt.to_float", g))]
                return [(seq.id, g)]
            fail(s, self.unit, f"{rule.name} needs a literal tuple or list of arrays to differentiate",
                 f"write {rule.name}((a, b, ...)) with the parts listed")
        out, offset = [], const(0)
        for k, e in enumerate(seq.elts):
            if rule.variadic in ("stack", "array"):
                expr = (gast.Subscript(value=g, slice=const(k), ctx=gast.Load()) if rule.variadic == "array"
                        else call("rt.index_axis", g, copy.deepcopy(axis), const(k)))
                nxt = offset
            else:
                size = gast.Subscript(value=call("np.shape", copy.deepcopy(e)), slice=copy.deepcopy(axis),
                                      ctx=gast.Load())
                nxt = simplify(gast.BinOp(left=offset, op=gast.Add(), right=size))
                expr = call("rt.slice_axis", g, copy.deepcopy(axis), copy.deepcopy(offset), copy.deepcopy(nxt))
            if isinstance(e, gast.Name) and e.id in self.active:
                out.append((e.id, expr))
            offset = nxt
        return out

    def backward_write(self, s, state, out):
        t = s.targets[0]
        arr, idx = t.value.id, t.slice
        if arr in self.active and self.adj(arr) in state:
            before = len(out)
            self.own(arr, state, out)
            dx = self.adj(arr)
            ak = self.kinds.get(arr)
            made = (len(out) > before and isinstance(out[-1].value, gast.Call)
                    and dotted_name(out[-1].value.func) == "rt.zeros_like")
            if is_array(ak) and ndim(ak) == 0 and isinstance(idx, gast.Tuple) and not idx.elts and not made:
                # NumPy's arithmetic on a 0-d array gives a number: its adjoint may be one (`d_a = d_r * b`), which
                # `d_a[()]` could not index (h28a); a 0-d array of its own, as own() makes for other arrays
                out.append(assign(dx, call("rt.array_0d", load(dx))))
            v = s.value
            read_adj = gast.Subscript(value=load(dx), slice=self.read(clone(idx)), ctx=gast.Load())
            if isinstance(v, gast.Name) and v.id in self.active and not truncates(self.kinds.get(arr),
                                                                                  self.kinds.get(v.id)):
                vk = self.kinds.get(v.id)
                region = expr_kind(gast.Subscript(value=load(arr), slice=idx, ctx=gast.Load()), self.kinds)
                repeats = self._index_arrays(idx)
                if repeats:     # an element named twice: the later write's value is the one read afterwards
                    read_adj = call("rt.written", load(dx), self.read(repeats))
                if not is_scalar(vk):
                    adj = read_adj if repeats else call("rt.copy", read_adj)
                    if v.id != arr:     # (y[::-1] = y: a region of y is no larger than y, so has its shape)
                        # y[0:2] = row, or a value broadcast along an axis of length 1 (y[:, 1:] = col of shape
                        # (n, 1)): of the same rank too, unless their shapes are known equal (tidy drops it then)
                        adj = call("rt.unbroadcast", adj, self.read(load(v.id)))
                elif is_scalar(region):
                    adj = read_adj
                else:     # a scalar written into a slice (y[1:] = x): the sum of the slice's adjoint
                    adj = call("rt.unbroadcast", read_adj, self.read(load(v.id)))
                if v.id == arr:   # y[::-1] = y: the region's adjoint is taken before the write's is zeroed, and
                    held = self.namer.fresh(dx + "_value")         # added to the array's after that
                    self.kinds[held] = vk
                    if self.shapes is not None:
                        self.shapes[held] = self.shapes.get(v.id, v.id)
                    out.append(assign(held, self.tidy(adj)))
                    adj = load(held)
                else:
                    self.accum(v.id, adj, state, out)
            out.append(assign(gast.Subscript(value=load(dx), slice=clone(idx), ctx=gast.Store()), const(0.0)))
            if isinstance(v, gast.Name) and v.id == arr and arr in self.active:
                self.accum(v.id, adj, state, out)
        if arr in self.restore:
            old = anno.get(s, anno.OLD)
            self.reads.add(old)
            # (the restore reads `arr`, the array itself: one a loop binds anew in each iteration is stored, else
            # the backward sweep restored every iteration's element into the last iteration's array)
            out.append(assign(gast.Subscript(value=self.read(load(arr)), slice=self.read(clone(idx)),
                                             ctx=gast.Store()), load(old)))

    def _index_arrays(self, idx):
        """The index `idx` as a value (slices as slice(...) calls) where it has an integer array part (which
        may name an element twice), else None."""
        parts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
        if not any(is_array(expr_kind(p, self.kinds)) and dtype(expr_kind(p, self.kinds)) == "i"
                   for p in parts if not isinstance(p, gast.Slice)):
            return None
        parts = [call("slice", *(copy.deepcopy(b) if b is not None else const(None) for b in (p.lower, p.upper, p.step)))
                 if isinstance(p, gast.Slice) else copy.deepcopy(p) for p in parts]
        return gast.Tuple(elts=parts, ctx=gast.Load()) if isinstance(idx, gast.Tuple) else parts[0]

    def backward_if(self, s, state, out):
        s1, s2 = dict(state), dict(state)
        save = self.last_line
        r1 = self.backward(s.body, None, s1)
        self.last_line = save
        r2 = self.backward(s.orelse, None, s2)
        self.last_line = None
        # pops of names defined in the branches (inside loops) come first in each branch
        if self.loop_stack:
            r1, r2 = self.pops(s.body, self.loop_stack[-1]) + r1, self.pops(s.orelse, self.loop_stack[-1]) + r2
        for a, b, rb in ((s1, s2, r2), (s2, s1, r1)):
            for d in a:
                if d not in b:
                    rb.append(assign(d, self.zero(self._primal_of(d), s)))
                    b[d] = True
        # both branches consume what they bind (an adjoint of a value they set from constants ends there,
        # with no code): the state says so even where neither branch has statements
        state.clear()
        state.update({d: s1[d] and s2[d] for d in s1})
        if not r1 and not r2:
            return
        self.read(s.test)
        out.append(gast.If(test=s.test, body=r1 or [gast.Pass()], orelse=r2))

    def may_start_scalar(self, v) -> bool:
        """Whether zero() may give v, an array, the scalar 0.0 (v may be undefined; kind unknown)."""
        k = self.kinds.get(v)
        return (v in anno.get(self.fn, anno.MAYBE_UNDEFINED, ()) and not is_scalar(k)
                and not (is_array(k) and (ndim(k) is not None or (self.shapes or {}).get(v)
                                          in {a.id for a in self.fn.args.args})))

    @property
    def unspecialised(self) -> bool:
        """Whether no argument's kind is known (the generic gradient a function calling it differentiates)."""
        return all(self.kinds.get(a.id) is None for a in self.fn.args.args)

    def zero(self, v, at=None):
        """A zero adjoint for v, placed at the compound statement `at` (scalar 0.0 or a placeholder's
        shape where v may be undefined there)."""
        maybe = anno.get(self.fn, anno.MAYBE_UNDEFINED, ())
        if v in maybe and (at is None or v not in self.assigned_before.get(id(at), ())):
            rep = (self.shapes or {}).get(v)
            k = self.kinds.get(v)
            if is_array(k) and rep in {a.id for a in self.fn.args.args}:
                return call("rt.zeros_like", self.read(load(rep)))  # an argument of the same shape
            if is_array(k) and ndim(k) is not None:
                return call("rt.zeros_like", self.read(load(v)))  # v or its placeholder of the same rank
            if k is None or k == UNSETTLED or (is_array(k) and self.unspecialised):
                # kind or rank unknown (Python backend): v's shape where v is bound (a loop-carried value after the
                # loop, or a popped one), 0.0 where it is still the placeholder None; differentiated again with
                # the arguments' kinds, that placeholder is typed (unbound.define_unbound) and the zero has v's rank
                # (a float 0.0 here met v's arrays in a merge Numba cannot type: nested fuzz seed 960015)
                return call("rt.zeros_like", self.read(load(v)))
            return const(0.0)
        k = self.kinds.get(v)
        if is_scalar(k):
            return const(0.0)
        rep = (self.shapes or {}).get(v)
        if is_array(k) and dtype(k) == "f" and rep != v and rep in {a.id for a in self.fn.args.args}:
            # an argument of v's shape (its class, dims.py): v itself is not read, so not stored for its shape alone
            # (a gradient differentiated again restarted the adjoints its backward loops carry from each value they
            # pop: nested fuzz seed 1008231)
            return call("rt.zeros_like", self.read(load(rep)))
        return call("rt.zeros_like", self.read(load(v)))

    def defs_outside(self, loop):
        """Names defined (or parameters) outside `loop`'s body, and names read outside it: the function's
        counts (taken once) less the body's, asked name by name (`in`: not a set of the function's names made
        for each loop, which grew with loops times names)."""
        if self.__dict__.get("_defs") is None:
            self._defs = defs_and_loads([self.fn])
        (defs, loads), inner = self._defs, self.body_facts(loop)
        return _Outside(defs, inner.defs, {a.id for a in self.fn.args.args}), _Outside(loads, inner.loads)

    def _primal_of(self, d):
        return next(v for v, a in self.adj_names.items() if a == d)

    def backward_loop(self, s, state, out):
        outside, used_after = self.defs_outside(s)
        facts = self.body_facts(s)      # (what the body binds and reads: counted once for all the loops, bottom up)
        escaping = {v for v in facts.defs if v in used_after}  # body values read after the loop
        # values first bound in the loop and read in its next iteration: SSA made them loop-carried names
        # that only back-edge copies assign (here, or in a nested loop)
        first_bound = _phis(s.body) | (facts.phis - facts.plain)
        written = written_arrays(s.body)    # (once: not again for each name asked)
        carried = [v for v in sorted(loaded_in(s.body) | written | _phis(s.body) | escaping)
                   if v in self.active and (v in outside or v in escaping or v in written or v in first_bound)
                   and v not in self.stack_names]
        inplace = written | _subscripted(s.body)
        body_state, before, ready = {}, dict(state), []     # (ready: the adjoints' starts, kept where the body
        for v in carried:                                   # has statements)
            d = self.adj(v)
            if d not in state:
                ready.append(assign(d, self.zero(v, s)))
                state[d] = True
            elif v in inplace and not state[d]:
                ready.append(assign(d, call("rt.copy", load(d))))
                state[d] = True
            body_state[d] = state[d]
        self.loop_stack.append(s)
        self.last_line = None
        body = self.backward(s.body, s, body_state)
        self.loop_stack.pop()
        for v in carried:
            d = self.adj(v)
            if d not in body_state:
                body.append(assign(d, self.zero(v, s)))
            elif v in inplace and not body_state[d]:
                body.append(assign(d, call("rt.copy", load(d))))
        body = self.restart_reshaped(s, body, [v for v in carried if v not in first_bound], outside)
        self.last_line = None
        if not any(not isinstance(b, gast.Expr) or not is_comment(b) for b in body):
            # nothing to sweep back: no zeros or copy made for it (`d_a = rt.copy(d_a)` then `d_a += d_buf` after it)
            state.clear()
            state.update(before)
            return
        out += ready
        if id(s) in self.plans:     # segment by segment: restore its snapshot, rerun it forward, sweep it back
            out += self.tape_allocations(s, False) + [checkpoints.segment_loop(self, s, body)]
            return
        if isinstance(s, gast.For):
            target = s.target.id
            it = self.read(reversed_range(s.iter.args))
        else:
            target = self.namer.fresh("k")
            it = call("range", self.read(load(anno.get(s, anno.ITERS))))
        out.append(gast.For(target=store(target), iter=it, body=body, orelse=[], type_comment=None))


    def restart_reshaped(self, loop, body, carried, outside) -> list:
        """`body` (a loop's backward body) with, for each array value in `carried` that an iteration binds (read
        after the loop) and whose shape the shape classes do not tie to one from outside the loop (`t = M[:, j:]`),
        its adjoint restarted where the iteration has restored it: `if np.shape(d_t) != np.shape(t): d_t =
        rt.zeros_like(t)`. The zeros the previous iteration left have that iteration's shape (nested fuzz seed
        390189: broadcast error). Only where `t` is bound before any read of `d_t` (its pop), at the top level of
        the body or in a branch of an if there (the pop of a value a branch binds: nested fuzz seeds 761041,
        761084), so that it is this iteration's, and where the iteration restarts `d_t` (at its end, or in the
        branch that consumes it)."""
        body_defs = self.body_facts(loop).defs
        unspecialised = self.unspecialised
        restarted = {n.targets[0].id for st in body for n in walk_of(st, _ASSIGNS)   # the adjoints the iteration
                     if isinstance(n.targets[0], gast.Name) and _is_zero(n.value)}          # restarts
        for v in carried:
            rep, k, d = (self.shapes or {}).get(v), self.kinds.get(v), self.adj(v)
            if (v not in body_defs or d not in restarted or (rep is not None and rep != v and rep in outside)
                    or not (is_array(k) or k is None and unspecialised)):
                continue   # (np.shape of a scalar does not compile: an array's adjoint (of any rank), or any in Python)
            test = gast.Compare(left=call("np.shape", load(d)), ops=[gast.NotEq()],
                                comparators=[call("np.shape", self.read(load(v)))])
            note = comment(f"{v} may change shape between iterations: {d} restarts at this one's")
            check = [note, gast.If(test=test, body=[assign(d, call("rt.zeros_like", load(v)))], orelse=[])]
            body = _after_binding(body, v, d, check)[0]
        return body


# ---- facts about SSA blocks and indices the sweep uses --------------------------------------------------
def _indices_for(code: list, indices: list) -> tuple:
    """(the recomputed index statements of `indices` that the adjoint statements `code` read, directly or through
    another one, in order; the others): those go right before `code`, under its line's comment (`# line 6` then
    `s3 = i % 2`, not the index above the comment). All of them where `code` holds a compound statement (a nested
    loop's backward sweep, a branch's restores: what they read is not looked into)."""
    if not all(isinstance(c, (gast.Assign, gast.AugAssign, gast.Expr)) for c in code):
        return indices, []
    need = {n.id for c in code for n in walk_names(c) if isinstance(n.ctx, gast.Load)}
    for st in reversed(indices):
        if st.targets[0].id in need:
            need |= {n.id for n in walk_names(st.value) if isinstance(n.ctx, gast.Load)}
    return [st for st in indices if st.targets[0].id in need], [st for st in indices if st.targets[0].id not in need]


def _passes_on(e, d) -> bool:
    """`e` is the adjoint `d` itself or `rt.unbroadcast(d, ...)` (d, or a new array)."""
    if isinstance(e, gast.Name):
        return e.id == d
    return (isinstance(e, gast.Call) and dotted_name(e.func) == "rt.unbroadcast" and bool(e.args)
            and isinstance(e.args[0], gast.Name) and e.args[0].id == d)


def _is_zero(e) -> bool:
    """`e` is a restart of an adjoint: 0.0 or rt.zeros_like(...)."""
    return (isinstance(e, gast.Constant) and e.value == 0.0 and not isinstance(e.value, bool)
            or isinstance(e, gast.Call) and dotted_name(e.func) == "rt.zeros_like")


def _after_binding(stmts, v, d, check) -> tuple:
    """(`stmts` with copies of `check` placed after the assignment that binds `v` before any read of `d`, at
    the top level or in the branches of an if whose other statements come after, whether it placed one)."""
    for pos, st in enumerate(stmts):
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and st.targets[0].id == v:
            return stmts[:pos + 1] + copy.deepcopy(check) + stmts[pos + 1:], True
        if isinstance(st, gast.If) and v in assigned_in([st]):
            body, b1 = _after_binding(st.body, v, d, check)
            orelse, b2 = _after_binding(st.orelse, v, d, check)
            branch = copy.copy(st)
            branch.body, branch.orelse = body, orelse
            return stmts[:pos] + [branch] + stmts[pos + 1:], b1 or b2
        if any(isinstance(n, gast.Name) and n.id == d for n in walk(st)):
            break
    return stmts, False


def _phis(stmts) -> set:
    return {s.targets[0].id for s in stmts if anno.get(s, anno.PHI)}


def _nested_phis(stmts) -> set:
    """Names a back-edge copy assigns anywhere in `stmts` (nested loops included)."""
    return {n.targets[0].id for s in stmts for n in walk_of(s, _ASSIGNS) if anno.get(n, anno.PHI)}


def _plain_defs(stmts) -> set:
    """Names an assignment other than a back-edge copy binds anywhere in `stmts`."""
    return {n.targets[0].id for s in stmts for n in walk_of(s, _ASSIGNS)
            if isinstance(n.targets[0], gast.Name) and not anno.get(n, anno.PHI)}


def _whole_of_0d(value, kinds) -> bool:
    """`a[()]` (or `a[...]`) of a 0-d array `a`: its one number. Its adjoint is a plain contribution to d_a, which
    other reads of `a` (`a * y`) may have made a number, where `d_a[()] += g` needs an array (an argument's reads
    `a[()] * s + a * y`: "'numpy.float64' object does not support item assignment")."""
    index = value.slice
    whole = (isinstance(index, gast.Tuple) and not index.elts) or (
        isinstance(index, gast.Constant) and index.value is Ellipsis)
    k = kinds.get(value.value.id) if isinstance(value.value, gast.Name) else None
    return whole and is_array(k) and ndim(k) == 0


def _subscripted(stmts) -> set:
    return {n.value.id for s in stmts for n in walk_of(s, _SUBSCRIPTS)
            if isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name)}


_ASSIGNS = frozenset((gast.Assign,))     # (the walks above yield only the nodes they look at; a back-edge copy is an
_SUBSCRIPTS = frozenset((gast.Subscript,))   # assignment, annotations.PHI)


def _slice_syntax(idx):
    """Inverse of _slice_objects: slice(a, b) -> a:b, so the index can subscript an array again."""
    def conv(e):
        if isinstance(e, gast.Call) and dotted_name(e.func) == "slice" and not e.keywords:
            parts = list(e.args) + [const(None)] * (3 - len(e.args)) if len(e.args) > 1 else \
                [const(None), e.args[0], const(None)]
            lower, upper, step = (None if isinstance(x, gast.Constant) and x.value is None else x for x in parts)
            return gast.Slice(lower=lower, upper=upper, step=step)
        return e
    if isinstance(idx, gast.Tuple):
        return gast.Tuple(elts=[conv(e) for e in idx.elts], ctx=gast.Load())
    return conv(idx)


def _slice_objects(idx):
    """An index expression usable as a value: a:b -> slice(a, b)."""
    def conv(e):
        if isinstance(e, gast.Slice):
            return call("slice", *(x if x is not None else const(None) for x in (e.lower, e.upper, e.step)))
        return copy.deepcopy(e)
    if isinstance(idx, gast.Tuple):
        return gast.Tuple(elts=[conv(e) for e in idx.elts], ctx=gast.Load())
    return conv(idx)


def _squares(value) -> bool:
    """`x * x` of one name: its two operands' contributions are the same expression."""
    return (isinstance(value.op, gast.Mult) and isinstance(value.left, gast.Name)
            and isinstance(value.right, gast.Name) and value.left.id == value.right.id)


class _Outside:
    """The names counted more often in a function (`whole`: name -> count) than in a block of it (`part`), and
    the names `also`: BackwardSweep.defs_outside's answer, which loops ask only `name in` of."""
    __slots__ = ("whole", "part", "also")

    def __init__(self, whole: dict, part: dict, also=frozenset()):
        self.whole, self.part, self.also = whole, part, also

    def __contains__(self, name) -> bool:
        return name in self.also or self.whole.get(name, 0) > self.part.get(name, 0)
