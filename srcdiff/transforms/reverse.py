"""Reverse mode: the "reverse" pass of compiler.REVERSE.

From an SSA function, build `f_grad`: the forward sweep (the user's code,
saving in typed stacks what later iterations overwrite) followed by the backward sweep (adjoint
statements from the rule templates, in reverse order, commented with the user's lines).

Adjoint `d_v` of an SSA value `v` is created by its first contribution and consumed at v's
definition; loops carry the adjoints of values defined outside them; branches are made to agree.
"""
from __future__ import annotations

import copy
import linecache
from dataclasses import dataclass, field
from typing import Callable

import gast

from ..errors import fail
from ..rules import RULES
from . import annotations as anno
from . import checkpoints
from .activity import SCATTER, bind, sources
from .kinds import I, UNSETTLED, dtype, expr_kind, expr_shape_class, is_array, is_scalar, ndim
from .astutil import (Namer, assign, call, comment, const, definitely_assigned, dotted, dotted_name, load,
                      loaded_names, names_in, store, walk, walk_names, walk_statements)
from .reverse_support import (INT_OPS, Simplify, assigned_in, defs_and_loads, int_names, is_int_atom, loaded_in,
                              reversed_range, simplify, written_arrays)

BINOP_RULE = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.Pow: "**", gast.MatMult: "@",
               gast.Mod: "%"}



_TIDIED = frozenset({"rt.unbroadcast", "rt.copy", "rt.zeros_like", "rt.seed", "rt.sum_grad", "rt.mean_grad"})


class _Tidy(Simplify):
    """Reverse.tidy's rewrites in one bottom-up walk: constants folded and identities dropped (simplify's
    rewrites), and helpers that are no-ops for the kinds (and shapes) involved dropped. (A node's children
    are tidied before it, so this is simplify, then the helpers, then simplify again, in one walk.)"""

    def __init__(self, kinds, shapes):
        self.kinds, self.shapes = kinds, shapes

    def visit_Call(self, n):
        n = super().visit_Call(n)
        if type(n) is not gast.Call:
            return n
        name = dotted_name(n.func)
        if name not in _TIDIED:
            return n
        kinds, shapes = self.kinds, self.shapes
        if name == "rt.unbroadcast":
            if is_scalar(expr_kind(n.args[0], kinds)) and is_scalar(expr_kind(n.args[1], kinds)):
                return n.args[0]
            if shapes is not None:
                a, b = (expr_shape_class(x, shapes, kinds) for x in n.args)
                if a is not None and a == b:
                    return n.args[0]
            return n
        if name in ("rt.sum_grad", "rt.mean_grad"):
            return n.args[0] if is_scalar(expr_kind(n.args[1], kinds)) else n
        if not is_scalar(expr_kind(n.args[0], kinds)):
            return n
        return n.args[0] if name == "rt.copy" else const(0.0) if name == "rt.zeros_like" else const(1.0)


class Reverse:
    """Generates the gradient function of one SSA unit."""

    def __init__(self, unit, spec: "Spec", restore: set, needed: set):
        self.unit, self.fn = unit, unit.node
        self.checkpoints = spec.checkpoints  # the most snapshots an outermost loop keeps (None: tape it)
        self.kinds = dict(spec.kinds or {})
        self.shapes = dict(spec.shapes) if spec.shapes is not None else None
        self.wrt, self.active, self.mode = spec.wrt, spec.active, spec.mode
        self.callee_vjp = spec.callee_vjp   # (callee name, active positions) -> generated function name
        self.restore = restore              # arrays whose overwritten elements the backward sweep restores
        self.needed = needed                # primal names the backward sweep reads (from a first round)
        taken = names_in(self.fn) | {"np", "rt", "math"}
        for n in walk_statements(self.fn.body):
            taken |= {anno.get(n, a) for a in (anno.OLD, anno.ITERS) if anno.has(n, a)}
        self.namer = Namer(taken)
        self.adj_names: dict = {}
        self.adjoint_temps: dict = {}       # adjoints returned by callees' vjp functions -> their primal
        self.reads: set = set()
        self.stacks: dict = {}              # primal name -> stack name
        self.last_line = None
        self.assigned_before = definitely_assigned(self.fn)
        # Python lists used as stacks (generated code differentiated again, see compiler._lower_generated)
        self.stack_names = {n.targets[0].id for n in walk_statements(self.fn.body) if isinstance(n, gast.Assign)
                            and isinstance(n.value, gast.Call) and dotted_name(n.value.func) == "rt.stack"}

    # ---- names ------------------------------------------------------------------------------------
    def adj(self, v: str) -> str:
        if v not in self.adj_names:
            self.adj_names[v] = self.namer.fresh("d_" + v)
            self.kinds[self.adj_names[v]] = self.kinds.get(v)
            if self.shapes is not None:     # None when built without argument kinds
                self.shapes[self.adj_names[v]] = self.shapes.get(v, v)
        return self.adj_names[v]

    def tidy(self, e):
        """Fold constants, then drop helpers that are no-ops for the kinds involved."""
        return _Tidy(self.kinds, self.shapes).visit(e)

    def stack(self, v: str) -> str:
        if v not in self.stacks:
            self.stacks[v] = self.namer.fresh(v + "_stack")
        return self.stacks[v]

    def read(self, e):
        self.reads |= loaded_names(e)  # only names this sweep owns are ever stored, so extras are harmless
        return e

    # ---- adjoint accumulation ---------------------------------------------------------------------
    def accum(self, v, expr, state, out):
        """d_v += expr (or d_v = expr for the first contribution); returns expr as written (tidied), None
        where v is not active."""
        if v not in self.active:
            return None
        d = self.adj(v)
        expr = self.tidy(expr)
        self.read(expr)
        if d in state and state[d] and is_array(self.kinds.get(v)):
            # an array this sweep owns: accumulate in place
            out.append(gast.AugAssign(target=store(d), op=gast.Add(), value=expr))
        elif d in state:
            out.append(assign(d, gast.BinOp(left=load(d), op=gast.Add(), right=expr)))
            state[d] = True  # a fresh array
        else:
            out.append(assign(d, expr))
            # arithmetic makes a new array; anything else may alias another adjoint
            state[d] = isinstance(expr, (gast.BinOp, gast.UnaryOp)) and is_array(self.kinds.get(v))
        return expr

    def own(self, v, state, out):
        """Make d_v an array this sweep may update in place."""
        d = self.adj(v)
        if d not in state:
            out.append(assign(d, self.tidy(call("rt.zeros_like", self.read(load(v))))))
            state[d] = True
        elif self.may_start_scalar(v):   # d_v may still be zero()'s scalar 0.0: make it v's shape
            out.append(assign(d, gast.BinOp(left=load(d), op=gast.Add(),
                                            right=self.tidy(call("rt.zeros_like", self.read(load(v)))))))
            state[d] = True
        elif not state[d]:
            out.append(assign(d, self.tidy(call("rt.copy", load(d)))))
            state[d] = True

    # ---- forward sweep -------------------------------------------------------------------------------
    def owned(self, stmts) -> list:
        """Names a block defines, in order; an if's merge names belong to the block holding the if (the
        backward sweep reads them before it enters either branch)."""
        out = []
        for s in stmts:
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and not anno.get(s, anno.COUNT) and not _branch_merge(s)):
                out.append(s.targets[0].id)
            if isinstance(s, gast.If):
                out += [b.targets[0].id for b in s.body + s.orelse if _branch_merge(b)]
            if anno.has(s, anno.OLD):
                out.append(anno.get(s, anno.OLD))
            if isinstance(s, gast.While):
                out.append(anno.get(s, anno.ITERS))
        return [v for k, v in enumerate(out) if v not in out[:k]]

    def line_comment(self, s):
        """`# line N: <the user's source line>` (naming the function for inlined callees)."""
        line = s.lineno
        text = linecache.getline(anno.get(s, anno.FILE, self.unit.filename), line).strip()
        where = f"{anno.get(s, anno.FUNC)}, line {line}" if anno.has(s, anno.FUNC) else f"line {line}"
        return anno.set(comment(f"{where}: {text}" if text else where), anno.USER_LINE, (line, text, anno.get(s, anno.FUNC)))

    # ---- storage of values the backward sweep needs -------------------------------------------------
    def tape_loop(self, loop, v=None):
        """`loop` can keep scalars in arrays indexed by its iteration: (index expr, trip count expr)."""
        if id(loop) in self.plans and len(self.loop_stack) <= 1:   # a checkpointed loop: one segment's tape
            return checkpoints.tape_index(self.plans[id(loop)], v)
        if not isinstance(loop, gast.For) or len(self.loop_stack) > 1:
            return None
        args, i = loop.iter.args, load(loop.target.id)
        if len(args) == 1:
            return i, call("max", copy.deepcopy(args[0]), const(0))
        if len(args) == 2 or (isinstance(args[2], gast.Constant) and args[2].value == 1):
            a, b = args[0], args[1]
            index = simplify(gast.BinOp(left=i, op=gast.Sub(), right=copy.deepcopy(a)))
            count = simplify(gast.BinOp(left=copy.deepcopy(b), op=gast.Sub(), right=copy.deepcopy(a)))
            return index, call("max", count, const(0))
        return None

    def remat_plan(self, loop):
        """Values of a for-loop body recomputed in the backward sweep instead of stored:
        integer index arithmetic (at the block start) and scalar reads of arrays whose contents the
        backward sweep restores (just before their last use)."""
        if not isinstance(loop, gast.For):
            return [], {}
        key = id(loop)
        if key in self._remat:
            return self._remat[key]
        body = loop.body
        inside = assigned_in(body)
        written = self.written_anywhere
        avail = {loop.target.id}
        ints, subs = [], {}

        def ok_atom(a):
            return isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and (a.id in avail or a.id not in inside))

        counts: dict = {}   # a name a nested loop assigns again (its phi copy) is not one value
        for n in walk(gast.Module(body=body, type_ignores=[])):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                counts[n.targets[0].id] = counts.get(n.targets[0].id, 0) + 1
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
            elif (isinstance(val, gast.Subscript) and isinstance(val.value, gast.Name) and is_scalar(self.kinds.get(v))
                  and val.value.id not in inside and (val.value.id not in written or val.value.id in self.restore)
                  and all(ok_atom(e) for e in (val.slice.elts if isinstance(val.slice, gast.Tuple) else [val.slice]))):
                subs[v] = [st, p, val.value.id]
            elif (isinstance(val, gast.Subscript) and isinstance(val.value, gast.Name) and val.value.id not in written
                  and val.value.id not in inside
                  and _basic_index(val.slice, {k for k, kd in self.kinds.items() if kd == I})
                  and all(ok_atom(n) or n.id in subs for n in walk(val.slice) if isinstance(n, gast.Name))):
                subs[v] = [st, p, None]   # a view of an array nothing writes: as cheap to take again as to store
            elif (isinstance(val, gast.Call) and dotted_name(val.func) == "rt.table_at"
                  and all(ok_atom(a) or (isinstance(a, gast.Name) and a.id in subs) for a in val.args)):
                subs[v] = [st, p, None]   # one matrix's slice of a log-domain table (views of it)
            elif (isinstance(val, (gast.BinOp, gast.UnaryOp)) and is_scalar(self.kinds.get(v))
                  and isinstance(getattr(val, "op", None), (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.USub))
                  and all(isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and (
                      a.id in subs or a.id in avail or a.id not in inside))
                          for a in ([val.left, val.right] if isinstance(val, gast.BinOp) else [val.operand]))):
                subs[v] = [st, p, None]
        plan = _settled(subs, body)
        for v in reversed(list(plan)):  # what a needed re-read reads is needed too
            if v in self.needed:
                self.needed |= {w for w in loaded_names(plan[v][0].value) if w in plan}
        self._remat[key] = (ints, plan)
        return ints, plan

    def stored(self, stmts, loop):
        """Names this block must store for the backward sweep (not recomputed)."""
        ints, subs = self.remat_plan(loop) if loop is not None and stmts is loop.body else ([], {})
        skip = {st.targets[0].id for st in ints} | set(subs)
        return [v for v in self.owned(stmts) if v in self.needed and v not in skip]

    def push(self, v, loop):
        tl = self.tape_loop(loop, v)
        k = self.kinds.get(v)
        if tl is not None and is_scalar(k) and dtype(k) in ("f", "i", "b"):
            if (v, id(loop)) not in self.tapes:
                self.tapes[(v, id(loop))] = (self.namer.fresh(v + "_tape"), dtype(k), loop)
            tape = self.tapes[(v, id(loop))][0]
            return assign(gast.Subscript(value=load(tape), slice=copy.deepcopy(tl[0]), ctx=gast.Store()), load(v))
        return gast.Expr(value=call(gast.Attribute(value=load(self.stack(v)), attr="append", ctx=gast.Load()), load(v)))

    def pop(self, v, loop):
        if (v, id(loop)) in self.tapes:
            tl = self.tape_loop(loop, v)
            return assign(v, gast.Subscript(value=load(self.tapes[(v, id(loop))][0]), slice=copy.deepcopy(tl[0]),
                                            ctx=gast.Load()))
        return assign(v, call(gast.Attribute(value=load(self.stack(v)), attr="pop", ctx=gast.Load())))

    def forward(self, stmts, loop):
        out = []
        for s in stmts:
            line = getattr(s, "lineno", None)
            where = (anno.get(s, anno.FILE), line)
            if (line is not None and where != self.fwd_line and not anno.get(s, anno.PHI)
                    and not anno.get(s, anno.MERGE) and not isinstance(s, gast.Return)):
                out.append(self.line_comment(s))
                self.fwd_line = where
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
                arr = s.targets[0].value.id
                if arr in self.restore:
                    if not anno.has(s, anno.OLD):
                        anno.set(s, anno.OLD, self.namer.fresh(arr + "_old"))
                    self.needed.add(anno.get(s, anno.OLD))
                    self.kinds[anno.get(s, anno.OLD)] = expr_kind(
                        gast.Subscript(value=load(arr), slice=s.targets[0].slice, ctx=gast.Load()), self.kinds)
                    idx = copy.deepcopy(s.targets[0].slice)
                    out.append(assign(anno.get(s, anno.OLD), self.tidy(call("rt.copy", gast.Subscript(
                        value=load(arr), slice=idx, ctx=gast.Load())))))
                    anno.set(out[-1], anno.SAVE)    # only for the backward sweep (checkpoints.py drops it)
                    checkpoints.note_write(self, loop, s, out[-1])
                out.append(s)
            elif isinstance(s, gast.If):
                out.append(gast.If(test=s.test, body=self.forward(s.body, loop) or [gast.Pass()],
                                   orelse=self.forward(s.orelse, loop)))
            elif isinstance(s, gast.For):
                plan = checkpoints.plan(self, s)
                self.loop_stack.append(s)
                body = self.forward(s.body, s)
                self.loop_stack.pop()
                # (a checkpointed loop's tapes hold one segment, made before its backward sweep; those of
                # the values its writes overwrite hold every iteration: checkpoints.py)
                out += self.tape_allocations(s, None if plan is None else True)
                out.append(gast.For(target=s.target, iter=s.iter, body=body, orelse=[], type_comment=None))
                anno.set(out[-1], anno.CHECKPOINT, plan)
            elif isinstance(s, gast.While):
                plan = checkpoints.plan(self, s)
                if not anno.has(s, anno.ITERS):
                    anno.set(s, anno.ITERS, self.namer.fresh("iterations"))
                n = anno.get(s, anno.ITERS)
                self.kinds[n] = I
                incr = assign(n, gast.BinOp(left=load(n), op=gast.Add(), right=const(1)))
                anno.set(incr, anno.COUNT)
                self.loop_stack.append(s)
                body = self.forward(s.body, s)
                self.loop_stack.pop()
                cut = len(body) - _trailing_phis(body)
                out += [assign(n, const(0)),
                        gast.While(test=s.test, body=body[:cut] + [incr] + body[cut:], orelse=[])]
                anno.set(out[-1], anno.CHECKPOINT, plan)
            elif isinstance(s, gast.Return):
                continue
            else:
                out.append(s)
        if loop is not None:
            saved = self.loop_stack
            self.loop_stack = saved if loop in saved else saved + [loop]
            pushes = [self.push(v, loop) for v in self.stored(stmts, loop)]
            self.loop_stack = saved
            cut = len(out) - _trailing_phis(out)
            out = out[:cut] + pushes + out[cut:]
        return out

    def tape_allocations(self, loop, undo=None) -> list:
        """`v_tape = np.empty(count)` for the scalar tapes of `loop` (of a checkpointed loop, those of the
        values its writes overwrite (undo=True) or the others)."""
        out = []
        for (v, _), (tape, dt, lp) in self.tapes.items():
            if lp is loop and (undo is None or checkpoints.undoes(self, loop, v) == undo):
                tl = self.tape_loop_outer(loop, v)
                dtype = {"f": None, "i": "np.int64", "b": "np.bool_"}[dt]
                args = [copy.deepcopy(tl[1])] + ([dotted(dtype)] if dtype else [])
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
            ints, _ = self.remat_plan(loop)
            need = set(self.needed)
            for st in reversed(ints):   # an index recomputed from another one recomputes that one too (fuzz 155891)
                if st.targets[0].id in need:
                    need |= loaded_names(st.value)
            out += [self.read(copy.deepcopy(st)) for st in ints if st.targets[0].id in need]
        return out

    # ---- backward sweep ------------------------------------------------------------------------------
    def backward(self, stmts, loop, state):
        out = self.pops(stmts, loop) if loop is not None else []
        subs = self.remat_plan(loop)[1] if loop is not None and stmts is loop.body else {}
        pending = dict(subs)
        for q in range(len(stmts) - 1, -1, -1):
            s = stmts[q]
            code = self.backward_stmt(s, state)
            if code:  # re-read array elements used from here on (their arrays are restored by now)
                ready = [v for v, (st, last) in pending.items() if last >= q]
                code = [self.read(copy.deepcopy(pending.pop(v)[0])) for v in ready if v in self.needed] + code
            if code:
                line = getattr(s, "lineno", None)
                where = (anno.get(s, anno.FILE), line)
                if line is not None and where != self.last_line and not anno.get(s, anno.PHI) \
                        and not anno.get(s, anno.MERGE):
                    out.append(self.line_comment(s))
                    self.last_line = where
                out += code
        return out

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
        gathered = gast.Subscript(value=load(d), slice=_slice_syntax(self.read(copy.deepcopy(idx))), ctx=gast.Load())
        if not is_scalar(self.kinds.get(g.id)):
            gathered = call("rt.copy", gathered)     # not a view of d_a, which later statements update in place
        self.accum(g.id, call("rt.unbroadcast", gathered, load(g.id)), state, out)

    def backward_assign(self, t, value, s, state, out):
        if isinstance(value, gast.Call) and dotted_name(value.func) == "rt.pop":
            return self.backward_pop(t, value.args[0].id, state, out)
        d = self.adj(t)
        if t not in self.active or d not in state:
            return
        g = load(d)
        contribs = []  # (name, expr)
        if isinstance(value, gast.Name):
            contribs.append((value.id, g))
        elif isinstance(value, gast.BinOp) and type(value.op) in BINOP_RULE:
            rule = RULES[BINOP_RULE[type(value.op)]]
            contribs += self.instantiate(rule, {"x": value.left, "y": value.right}, t, g)
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
            contribs += self.instantiate(RULES["neg"], {"x": value.operand}, t, g)
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.UAdd):
            contribs.append((value.operand.id, g))
        elif isinstance(value, gast.Call):
            contribs += self.backward_call(t, value, s, g, out)
        elif isinstance(value, gast.Subscript):
            src = value.value.id
            del state[d]
            if src in self.active:
                self.own(src, state, out)
                idx = self.read(copy.deepcopy(value.slice))
                target = gast.Subscript(value=load(self.adj(src)), slice=idx, ctx=gast.Store())
                if _basic_index(idx, self.int_names | {k for k, v in self.kinds.items() if v == I}):
                    out.append(gast.AugAssign(target=target, op=gast.Add(), value=g))
                else:
                    out.append(gast.Expr(value=call("rt.index_add", load(self.adj(src)), _slice_objects(idx), g)))
            return
        elif isinstance(value, gast.Tuple):
            where = anno.get(s, anno.FILE)
            if where:   # inlined generated code: a value_and_grad's (value, gradient) pair
                fail(self.fn, self.unit, f"a tuple of differentiated values ({where}:{s.lineno}, code srcdiff "
                     "generated, e.g. the (value, gradient) pair of srcdiff.value_and_grad) cannot be "
                     "differentiated in reverse mode",
                     "call srcdiff.grad and the function itself separately inside the differentiated "
                     "function, or use srcdiff.jvp / srcdiff.hvp of it")
            if anno.get(s, anno.RETURNED_TUPLE):
                fail(s, self.unit, "the differentiated function returns a tuple; reverse mode needs one value "
                     "(a scalar for grad, an array for vjp)",
                     "return a single array (np.stack / np.concatenate the parts) and use vjp or jacobian")
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
        if stack.id not in self.active:
            return
        popped = call("rt.pop", load(self.adj(stack.id)))
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
            out.append((a.id, _subst(tpl, mapping)))
        return out

    def backward_call(self, t, value, s, g, out):
        name = dotted_name(value.func)
        if name in self.unit.callees:
            pos = [k for k, a in enumerate(value.args) if isinstance(a, gast.Name) and a.id in self.active]
            if not pos:
                return []
            call_kinds = tuple(expr_kind(a, self.kinds) for a in value.args)
            fname = self.callee_vjp(name, tuple(pos), s, call_kinds)
            temps = [self.namer.fresh("d_" + value.args[k].id) for k in pos]
            for k, tmp in zip(pos, temps):
                self.adjoint_temps[tmp] = value.args[k].id
                self.kinds[tmp] = self.kinds.get(value.args[k].id)
            args = [self.read(copy.deepcopy(a)) for a in value.args] + [g]
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
        if not isinstance(seq, (gast.Tuple, gast.List)):
            if rule.variadic == "array" and isinstance(seq, gast.Name):
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
            self.own(arr, state, out)
            dx = self.adj(arr)
            v = s.value
            read_adj = gast.Subscript(value=load(dx), slice=self.read(copy.deepcopy(idx)), ctx=gast.Load())
            if isinstance(v, gast.Name) and v.id in self.active:
                vk = self.kinds.get(v.id)
                region = expr_kind(gast.Subscript(value=load(arr), slice=idx, ctx=gast.Load()), self.kinds)
                repeats = self._index_arrays(idx)
                if repeats:     # an element named twice: the later write's value is the one read afterwards
                    read_adj = call("rt.written", load(dx), self.read(repeats))
                if not is_scalar(vk):
                    adj = read_adj if repeats else call("rt.copy", read_adj)
                    if region is None or vk is None or region[:2] != vk[:2]:   # y[0:2] = row, or not known
                        adj = call("rt.unbroadcast", adj, self.read(load(v.id)))
                elif is_scalar(region):
                    adj = read_adj
                else:     # a scalar written into a slice (y[1:] = x): the sum of the slice's adjoint
                    adj = call("rt.unbroadcast", read_adj, self.read(load(v.id)))
                self.accum(v.id, adj, state, out)
            out.append(assign(gast.Subscript(value=load(dx), slice=copy.deepcopy(idx), ctx=gast.Store()), const(0.0)))
        if arr in self.restore:
            old = anno.get(s, anno.OLD)
            self.reads.add(old)
            out.append(assign(gast.Subscript(value=load(arr), slice=self.read(copy.deepcopy(idx)), ctx=gast.Store()),
                              load(old)))

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
        if not r1 and not r2:
            return
        state.clear()
        state.update({d: s1[d] and s2[d] for d in s1})
        self.read(s.test)
        out.append(gast.If(test=s.test, body=r1 or [gast.Pass()], orelse=r2))

    def may_start_scalar(self, v) -> bool:
        """Whether zero() may give v, an array, the scalar 0.0 (v may be undefined; kind unknown)."""
        k = self.kinds.get(v)
        return (v in anno.get(self.fn, anno.MAYBE_UNDEFINED, ()) and not is_scalar(k)
                and not (is_array(k) and (ndim(k) is not None or (self.shapes or {}).get(v)
                                          in {a.id for a in self.fn.args.args})))

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
            if k is None or k == UNSETTLED:   # kind unknown (Python backend): v's shape where v is bound (a loop-carried
                # value after the loop, or a popped one), 0.0 where it is still the placeholder None
                return call("rt.zeros_like", self.read(load(v)))
            return const(0.0)
        if is_scalar(self.kinds.get(v)):
            return const(0.0)
        return call("rt.zeros_like", self.read(load(v)))

    def defs_outside(self, loop):
        """Names defined (or parameters) outside `loop`'s body, and names read outside it: the function's
        counts (taken once) less the body's."""
        if self.__dict__.get("_defs") is None:
            self._defs = defs_and_loads([self.fn])
        (defs, loads), (inner_defs, inner_loads) = self._defs, defs_and_loads(loop.body)
        out = {a.id for a in self.fn.args.args} | {v for v, c in defs.items() if c > inner_defs.get(v, 0)}
        return out, {v for v, c in loads.items() if c > inner_loads.get(v, 0)}

    def _primal_of(self, d):
        return next(v for v, a in self.adj_names.items() if a == d)

    def backward_loop(self, s, state, out):
        outside, used_after = self.defs_outside(s)
        escaping = assigned_in(s.body) & used_after  # body values read after the loop
        # values first bound in the loop and read in its next iteration: SSA made them loop-carried names
        # that only back-edge copies assign (here, or in a nested loop)
        first_bound = _phis(s.body) | (_nested_phis(s.body) - _plain_defs(s.body))
        carried = [v for v in sorted(loaded_in(s.body) | written_arrays(s.body) | _phis(s.body) | escaping)
                   if v in self.active and (v in outside or v in escaping or v in written_arrays(s.body)
                                            or v in first_bound)
                   and v not in self.stack_names]
        inplace = written_arrays(s.body) | _subscripted(s.body)
        body_state = {}
        for v in carried:
            d = self.adj(v)
            if d not in state:
                out.append(assign(d, self.zero(v, s)))
                state[d] = True
            elif v in inplace and not state[d]:
                out.append(assign(d, call("rt.copy", load(d))))
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
        self.last_line = None
        if not any(not isinstance(b, gast.Expr) or not _is_comment(b) for b in body):
            return
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

    # ---- whole function ----------------------------------------------------------------------------------
    def function(self, name):
        fn = self.fn
        self.int_names = int_names(fn)
        self.loop_stack = []
        self.fwd_line = None
        self.tapes = {}
        self._remat = {}
        self.plans = {}         # id(loop) -> checkpoints.Plan of each checkpointed loop
        self.written_anywhere = written_arrays(fn.body)
        ret = fn.body[-1].value
        body = fn.body[:-1]
        fwd = self.forward(body, None)
        state = {}
        seed = []
        params = [a.id for a in fn.args.args]
        if self.mode in ("vjp", "pullback"):
            gname = self.namer.fresh("g")
            params = params + [gname]
        if isinstance(ret, gast.Name) and ret.id in self.active:
            d = self.adj(ret.id)
            seed_expr = load(gname) if self.mode in ("vjp", "pullback") else self.tidy(call("rt.seed", load(ret.id)))
            seed.append(assign(d, seed_expr))
            state[d] = False
        bwd = self.backward(body, None, state)
        # a name read only by a helper that tidy() dropped (rt.unbroadcast(g, x) where g has x's shape) is
        # not needed: the next round neither stores nor restores it
        self.reads &= {n.id for b in seed + bwd for n in walk_names(b) if isinstance(n.ctx, gast.Load)}
        self.reads |= checkpoints.rerun_reads(self)
        grads = []
        for p in self.wrt:
            d = self.adj(p)
            grads.append(load(d) if d in state else self.tidy(call("rt.zeros_like", load(p))))
        inits = [assign(st, gast.List(elts=[], ctx=gast.Load())) for st in self.stacks.values()]
        inits += [assign(self.adj(v), call("rt.stack", const(self.adj(v))))
                  for v in sorted(self.stack_names & self.active)]
        result = grads[0] if len(grads) == 1 else gast.Tuple(elts=grads, ctx=gast.Load())
        if self.mode in ("value_and_grad", "vjp"):
            if isinstance(ret, gast.Name) and (any(isinstance(n, gast.Name) and n.id == ret.id and isinstance(
                    n.ctx, gast.Store) for b in bwd for n in walk(b)) or checkpoints.reruns(self, ret.id)):
                # the backward sweep restores loop-carried values (`s = s_stack.pop()`): keep the result
                kept = self.namer.fresh(ret.id + "_value")
                fwd = fwd + [assign(kept, load(ret.id))]
                ret = load(kept)
            result = gast.Tuple(elts=[ret, result], ctx=gast.Load())
        backward_start = comment("backward sweep")
        stmts = inits + [comment("forward sweep")] + fwd + [backward_start] + seed + bwd
        stmts.append(gast.Return(value=result))
        args = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                    for p in params], posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        fn = gast.FunctionDef(name=name, args=args, body=stmts, decorator_list=[], returns=None,
                              type_comment=None, type_params=[])
        return Sweeps(function=fn, forward=fwd, backward=seed + bwd, backward_start=backward_start,
                      stacks=dict(self.stacks), tapes={t[0] for t in self.tapes.values()},
                      adjoints=dict(self.adj_names), adjoint_temps=dict(self.adjoint_temps), kinds=self.kinds,
                      shapes=self.shapes, namer=self.namer, reads=set(self.reads))


@dataclass
class Spec:
    """What reverse mode differentiates: the unit's parameters `wrt`, its `active` names (activity.py),
    the function's `mode` (grad | value_and_grad | vjp | pullback), `callee_vjp` ((callee name, active
    positions, statement, argument kinds) -> name of its generated vjp function), the `kinds` and
    shape classes (`shapes`: dims.py) of its values, and `checkpoints` (None: tape every iteration)."""
    wrt: list
    active: set
    mode: str
    callee_vjp: Callable
    kinds: dict | None = None
    shapes: dict | None = None
    checkpoints: int | None = None


@dataclass
class Sweeps:
    """Reverse mode's result, for the passes after it and the backends: the gradient `function`; the
    statements of its forward and backward sweeps as built (`forward`, `backward`; later passes rewrite
    the function, not these lists); `backward_start`, the statement (a comment) the backward sweep
    follows in `function.body`, found by identity; `stacks` (primal name -> its list stack's name);
    `tapes` (names of the preallocated scalar tapes); `adjoints` (primal name -> adjoint name) and
    `adjoint_temps` (adjoints that callees' vjp functions return -> the primal argument); the `kinds` and `shapes` of every
    name, adjoints included; the `namer` that made them; `reads` (primal names the backward sweep reads)."""
    function: gast.FunctionDef
    forward: list
    backward: list
    backward_start: gast.stmt
    stacks: dict
    tapes: set
    adjoints: dict
    adjoint_temps: dict
    kinds: dict
    shapes: dict | None
    namer: Namer
    reads: set = field(default_factory=set)

    def adjoint_names(self) -> set:
        """Every adjoint the function holds: of primal values and those callees' vjps return."""
        return set(self.adjoints.values()) | set(self.adjoint_temps)

    def primals_of_adjoints(self) -> dict:
        """Adjoint name -> the primal name it is the adjoint of, for every adjoint the function holds."""
        return {**{a: p for p, a in self.adjoints.items()}, **self.adjoint_temps}


def differentiate(unit, spec: Spec, name: str) -> Sweeps:
    """The reverse-mode function `name` of an SSA unit, built in up to three rounds: which primal values
    the backward sweep reads decides which a loop stores (and which overwritten array elements are
    restored), and storing or re-reading them can make the sweep read more. Round 1 stores nothing;
    round 2 restores the arrays round 1 found read after a write and stores what it read; round 3 adds
    what round 2 read. A round is built only when its inputs differ from the last one's (the output is
    a function of them): without loops nothing is stored, so with nothing to restore round 1 is final."""
    loops = any(isinstance(n, (gast.For, gast.While)) for n in walk_statements(unit.node.body))
    first = Reverse(unit, spec, set(), set()).function(name)
    restore = written_arrays(unit.node.body) & first.reads
    if not loops and not restore:
        return first
    second = Reverse(unit, spec, restore, set(first.reads)).function(name)
    if second.reads <= first.reads:
        return second
    return Reverse(unit, spec, restore, first.reads | second.reads).function(name)


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


# ---- helpers over SSA blocks ------------------------------------------------------------------------------
def _passes_on(e, d) -> bool:
    """`e` is the adjoint `d` itself or `rt.unbroadcast(d, ...)` (d, or a new array)."""
    if isinstance(e, gast.Name):
        return e.id == d
    return (isinstance(e, gast.Call) and dotted_name(e.func) == "rt.unbroadcast" and bool(e.args)
            and isinstance(e.args[0], gast.Name) and e.args[0].id == d)


def _branch_merge(s) -> bool:
    return anno.get(s, anno.MERGE) and not anno.get(s, anno.TESTCOPY)


def _subst(tpl, mapping):
    from .astutil import substitute
    return substitute(tpl, mapping)


def _is_comment(stmt):
    from .astutil import is_comment
    return is_comment(stmt)


def _trailing_phis(stmts) -> int:
    n = 0
    for s in reversed(stmts):
        if anno.get(s, anno.PHI):
            n += 1
        else:
            break
    return n


def _phis(stmts) -> set:
    return {s.targets[0].id for s in stmts if anno.get(s, anno.PHI)}


def _nested_phis(stmts) -> set:
    """Names a back-edge copy assigns anywhere in `stmts` (nested loops included)."""
    return {n.targets[0].id for s in stmts for n in walk(s) if anno.get(n, anno.PHI)}


def _plain_defs(stmts) -> set:
    """Names an assignment other than a back-edge copy binds anywhere in `stmts`."""
    return {n.targets[0].id for s in stmts for n in walk(s) if isinstance(n, gast.Assign)
            and isinstance(n.targets[0], gast.Name) and not anno.get(n, anno.PHI)}


def _subscripted(stmts) -> set:
    return {n.value.id for s in stmts for n in walk(s)
            if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name)}


def _basic_index(idx, ints) -> bool:
    elts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    return all(isinstance(e, gast.Slice) or is_int_atom(e, ints) for e in elts)


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


_ = (sources, dotted)
