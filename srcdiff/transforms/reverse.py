"""Reverse mode: the "reverse" pass of compiler.REVERSE.

From an SSA function, build `f_grad`: the forward sweep (the user's code,
saving in typed stacks what later iterations overwrite) followed by the backward sweep (adjoint
statements from the rule templates, in reverse order, commented with the user's lines).

Adjoint `d_v` of an SSA value `v` is created by its first contribution and consumed at v's
definition; loops carry the adjoints of values defined outside them; branches are made to agree.

The pass is `differentiate(unit, Spec(...), name) -> Sweeps`, its one entry point. It is built by one
`Reverse` object per round, whose methods are spread over three modules:
* reverse.py (this module): the records in and out (Spec, Sweeps), the rounds (differentiate), adjoint
  names and accumulation, the forward sweep and the whole function;
* reverse_storage.py: what the forward sweep stores for the backward sweep (stacks, scalar tapes) and
  what the backward sweep reads again instead (re-reads of restored arrays, integer index arithmetic);
* reverse_backward.py: the backward sweep's statements, one method per kind of SSA statement;
with reverse_support.py (what they share with checkpoints.py) and checkpoints.py (checkpointed loops).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import gast

from . import annotations as anno
from . import checkpoints
from .astutil import (Namer, assign, call, clone, comment, const, definitely_assigned, dotted_name, load, loaded_names,
                      names_in, store, walk, walk_names, walk_statements)
from .line_comments import line_comment
from .kinds import I, expr_kind, expr_shape_class, is_array, is_scalar, ndim
from .memory_sharing import memory_roots
from .reverse_backward import BackwardSweep
from .reverse_storage import Storage
from .reverse_support import Simplify, int_names, trailing_phis, written_arrays

_TIDIED = frozenset({"rt.unbroadcast", "rt.fit_like", "rt.reshape_like", "rt.copy", "rt.zeros_like", "rt.seed",
                     "rt.sum_grad", "rt.mean_grad"})


def _new_array(e) -> bool:
    """Whether `e` makes a new array where it makes one: arithmetic, or `rt.unbroadcast` of arithmetic (its value is
    its first argument, a sum of it, or a new array)."""
    while isinstance(e, gast.Call) and dotted_name(e.func) == "rt.unbroadcast" and e.args:
        e = e.args[0]
    return isinstance(e, (gast.BinOp, gast.UnaryOp))


class Tidy(Simplify):
    """Reverse.tidy's rewrites in one bottom-up walk: constants folded and identities dropped (simplify's
    rewrites), and helpers that are no-ops for the kinds (and shapes) involved dropped. (A node's children
    are tidied before it, so this is simplify, then the helpers, then simplify again, in one walk.)"""

    def __init__(self, kinds, shapes, long_arrays=None):
        self.kinds, self.shapes, self.long_arrays = kinds, shapes, long_arrays or {}

    def visit_Call(self, n):
        n = super().visit_Call(n)
        if type(n) is not gast.Call:
            return n
        name = dotted_name(n.func)
        if name not in _TIDIED:
            return n
        kinds, shapes = self.kinds, self.shapes
        if name == "rt.reshape_like":   # (a sum's adjoint differentiated again) onto a scalar or its own shape
            if is_scalar(expr_kind(n.args[0], kinds)) and is_scalar(expr_kind(n.args[1], kinds)):
                return n.args[0]
            if shapes is not None:
                a, b = (expr_shape_class(x, shapes, kinds) for x in n.args)
                if a is not None and a == b:
                    return n.args[0]
            return n
        if name == "rt.unbroadcast":
            if is_scalar(expr_kind(n.args[1], kinds)):      # onto a scalar: the adjoint itself, or its sum
                if is_scalar(expr_kind(n.args[0], kinds)):
                    return n.args[0]
                if is_array(expr_kind(n.args[0], kinds)):
                    return gast.copy_location(call("np.sum", n.args[0]), n)
            if shapes is not None:
                a, b = (expr_shape_class(x, shapes, kinds) for x in n.args)
                if a is not None and a == b:
                    return n.args[0]
            # y has no axis of length 1 and g y's rank: g, broadcast from y, has y's shape
            y = n.args[1]
            if isinstance(y, gast.Name) and self.long_arrays.get(y.id, -1) == ndim(expr_kind(n.args[0], kinds)):
                return n.args[0]
            return n
        if name == "rt.fit_like":     # (np.einsum's product adjoints: rt.einsum_matmul's rule)
            return n.args[0] if self._fits(n.args[0]) else n
        if name in ("rt.sum_grad", "rt.mean_grad"):
            return n.args[0] if is_scalar(expr_kind(n.args[1], kinds)) else n
        if not is_scalar(expr_kind(n.args[0], kinds)):
            return n
        return n.args[0] if name == "rt.copy" else const(0.0) if name == "rt.zeros_like" else const(1.0)

    def _fits(self, e) -> bool:
        """Whether `e`, rt.matmul_grad_x/y(g, a, b), has its operand's shape already: neither a nor b has an axis of
        length 1 (NumPy's contraction then needs equal lengths: there is nothing to broadcast)."""
        return (isinstance(e, gast.Call) and dotted_name(e.func) in ("rt.matmul_grad_x", "rt.matmul_grad_y")
                and len(e.args) == 3 and all(isinstance(a, gast.Name) and self.long_arrays.get(a.id, -1) ==
                                             ndim(expr_kind(a, self.kinds)) for a in e.args[1:]))


class Reverse(Storage, BackwardSweep):
    """Generates the gradient function of one SSA unit: its names and adjoint accumulation and the forward
    sweep here, what the forward sweep stores in Storage (reverse_storage.py), the backward sweep's
    statements in BackwardSweep (reverse_backward.py)."""

    def __init__(self, unit, spec: "Spec", restore: set, needed: set):
        self.unit, self.fn = unit, unit.node
        self.checkpoints = spec.checkpoints  # the most snapshots an outermost loop keeps (None: tape it)
        self.kinds = dict(spec.kinds or {})
        self.shapes = dict(spec.shapes) if spec.shapes is not None else None
        self.long_arrays = spec.long_arrays
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
        self.stacks: dict = {}              # (primal name, id(loop)) -> stack name
        self.last_line = None
        self.assigned_before = definitely_assigned(self.fn)
        # Python lists used as stacks (generated code differentiated again, see compiler._lower_generated)
        # (and the list of a gradient's rows, rt.unstack(d_arr), whose pops take the adjoints of the user's appends)
        self.stack_names = {n.targets[0].id for n in walk_statements(self.fn.body) if isinstance(n, gast.Assign)
                            and isinstance(n.value, gast.Call) and dotted_name(n.value.func) in ("rt.stack", "rt.unstack")}

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
        return Tidy(self.kinds, self.shapes, self.long_arrays).visit(e)

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
            # an array this sweep owns: accumulate in place; a 0-d one as rt.array_0d(d + e), which differentiating
            # the sweep again reads as a 0-d array (`d_z += e` it read as `d_z = d_z + e`, a number, NumPy's sum of a
            # 0-d array: the next `d_z[()] += ...` then failed, hvp of a helper writing into its 0-d argument in a
            # loop, h29b; d_z itself may be a number there, which `d_z[()] += e` could not write)
            if ndim(self.kinds.get(v)) == 0:
                out.append(assign(d, call("rt.array_0d", gast.BinOp(left=load(d), op=gast.Add(), right=expr))))
            else:
                out.append(gast.AugAssign(target=store(d), op=gast.Add(), value=expr))
        elif d in state:
            out.append(assign(d, gast.BinOp(left=load(d), op=gast.Add(), right=expr)))
            state[d] = True  # a fresh array
        else:
            out.append(assign(d, expr))
            # arithmetic makes a new array (so does unbroadcasting it); anything else may alias another adjoint
            state[d] = _new_array(expr) and is_array(self.kinds.get(v))
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
                    and not anno.get(s, anno.COUNT) and not branch_merge(s)):
                out.append(s.targets[0].id)
            if isinstance(s, gast.If):
                out += [b.targets[0].id for b in s.body + s.orelse if branch_merge(b)]
            if anno.has(s, anno.OLD):
                out.append(anno.get(s, anno.OLD))
            if isinstance(s, gast.While):
                out.append(anno.get(s, anno.ITERS))
        return list(dict.fromkeys(out))     # (first occurrences, in order: linear, not a scan of a prefix per name)

    def line_comment(self, s):
        """`# line N: <the user's source line>` (naming the function for inlined callees)."""
        return line_comment(s, self.unit.filename)

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
                    idx = clone(s.targets[0].slice)
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
                cut = len(body) - trailing_phis(body)
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
            stored = self.stored(stmts, loop)
            early = self.views_of_later_writes(stmts, stored)
            pushes = [self.push(v, loop) for v in stored if v not in early]
            for v, s in early.items():   # pushed where it is bound, before the write to its array
                k = next(k for k, o in enumerate(out) if o is s)
                out.insert(k + 1, self.push(v, loop))
            self.loop_stack = saved
            cut = len(out) - trailing_phis(out)
            out = out[:cut] + pushes + out[cut:]
        return out

    def views_of_later_writes(self, stmts, stored) -> dict:
        """{v: its statement} for the values in `stored` that a statement of the block `stmts` binds to a view
        of an array (`v = buf[:, i]`) a later statement writes (`buf[:, 0] = v`): pushed where they are bound, so
        that the gradient differentiated again (a gradient-norm penalty) never reads a view after a write to its
        array (the aliasing check declined srcdiff's own code, naming the generated file: nested fuzz seed
        390249). (The backward sweep reads such a value for its shape: the adjoint of the write unbroadcasts.)"""
        out = {}
        for p, s in enumerate(stmts):
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id in stored
                    and isinstance(s.value, gast.Subscript) and isinstance(s.value.value, gast.Name)
                    and s.value.value.id in written_arrays(stmts[p + 1:])):
                out[s.targets[0].id] = s
        return out

    # ---- whole function ----------------------------------------------------------------------------------
    def function(self, name):
        fn = self.fn
        self.int_names = int_names(fn)
        self.loop_stack = []
        self.fwd_line = None
        self.start_storage()
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
            elif isinstance(ret, gast.Name) and self.written_anywhere and not is_scalar(self.kinds.get(ret.id)):
                # the backward sweep restores what in-place writes overwrote (`u[0] = u_old`): an array result
                # (or a view of one) would be returned as it was before them; keep a copy
                kept = self.namer.fresh(ret.id + "_value")
                fwd = fwd + [assign(kept, call("rt.copy", load(ret.id)))]
                ret = load(kept)
            result = gast.Tuple(elts=[ret, result], ctx=gast.Load())
        backward_start = anno.set(comment("backward sweep"), anno.SWEEP, "backward")
        forward_start = anno.set(comment("forward sweep"), anno.SWEEP, "forward")
        stmts = inits + [forward_start] + fwd + [backward_start] + seed + bwd
        stmts.append(gast.Return(value=result))
        args = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                    for p in params], posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        fn = gast.FunctionDef(name=name, args=args, body=stmts, decorator_list=[], returns=None,
                              type_comment=None, type_params=[])
        return Sweeps(function=fn, forward=fwd, backward=seed + bwd, backward_start=backward_start,
                      stacks={st: v for (v, _), st in self.stacks.items()}, tapes={t[0] for t in self.tapes.values()},
                      adjoints=dict(self.adj_names), adjoint_temps=dict(self.adjoint_temps), kinds=self.kinds,
                      shapes=self.shapes, namer=self.namer, reads=set(self.reads))


@dataclass
class Spec:
    """What reverse mode differentiates: the unit's parameters `wrt`, its `active` names (activity.py),
    the function's `mode` (grad | value_and_grad | vjp | pullback), `callee_vjp` ((callee name, active
    positions, statement, argument kinds) -> name of its generated vjp function), the `kinds` and
    shape classes (`shapes`: dims.py) of its values, `checkpoints` (None: tape every iteration), and the arrays
    with no axis of length 1 (`long_arrays`, name -> rank: dims.without_unit_axes)."""
    wrt: list
    active: set
    mode: str
    callee_vjp: Callable
    kinds: dict | None = None
    shapes: dict | None = None
    checkpoints: int | None = None
    long_arrays: dict = field(default_factory=dict)


@dataclass
class Sweeps:
    """Reverse mode's result, for the passes after it and the backends: the gradient `function`; the
    statements of its forward and backward sweeps as built (`forward`, `backward`; later passes rewrite
    the function, not these lists); `backward_start`, the statement (a comment) the backward sweep
    follows in `function.body`, found by identity; `stacks` (list stack's name -> the primal whose values it
    keeps: one stack per loop that stores a primal);
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
    written = written_arrays(unit.node.body)    # (none written: no view to follow, memory_roots not walked)
    restore = written & _sharing_memory(unit.node, first.reads, spec.kinds) if written else set()
    if not loops and not restore:
        return first
    second = Reverse(unit, spec, restore, set(first.reads)).function(name)
    if second.reads <= first.reads:
        return second
    return Reverse(unit, spec, restore, first.reads | second.reads).function(name)


def _sharing_memory(fn, names: set, kinds) -> set:
    """`names` and the names that may share memory with one of them: a view read by the backward sweep
    (`b1 = b[1:]`, read by the adjoint of `b1 * t`) sees a later write into `b` unless `b` is restored. So does
    a write through a merge of `b` (`b3 = b` where branches join, `b3[0] = v` after: one array), which memory_roots
    leaves apart (the derivative passes follow SSA's versions as values of their own): a gradient's restore after
    an early return's merge, `ys[0] = ys_old`, under a view `ys[:, 1]` the gradient differentiated again reads
    (nested fuzz seed 1041058)."""
    roots = memory_roots(fn, kinds or {})
    read_roots = {roots.get(n, n) for n in names}
    sharing = set(names) | {n for n, r in roots.items() if r in read_roots}
    for group in _stacked_arrays(fn).values():
        if group & sharing or {roots.get(n, n) for n in group} & read_roots:
            sharing |= group | {n for n, r in roots.items() if r in {roots.get(g, g) for g in group}}
    versions = [(st.targets[0].id, st.value.id) for st in walk_statements(fn.body)
                if isinstance(st, gast.Assign) and (anno.get(st, anno.MERGE) or anno.get(st, anno.PHI))
                and isinstance(st.targets[0], gast.Name) and isinstance(st.value, gast.Name)]
    grew = bool(versions)
    while grew:
        grew = False
        for a, b in versions:
            if (a in sharing) != (b in sharing):
                group = {roots.get(a, a), roots.get(b, b)}
                sharing |= {a, b} | {n for n, r in roots.items() if r in group}
                grew = True
    return sharing


def _stacked_arrays(fn) -> dict:
    """stack -> the names pushed onto it (`rt.push(s, x)`) and popped from it (`v = rt.pop(s)`): a popped array is
    the one pushed. srcdiff's gradient of a loop that binds an array anew and writes into it pushes that array in
    each iteration, and its backward sweep restores the elements through the popped name; reverse mode over the
    gradient must undo those restores where the pushed array is read (`3 * buf ** 2` before that loop), else it
    read the array as the first-order backward sweep had left it (a wrong second derivative)."""
    groups: dict = {}
    for st in walk_statements(fn.body):
        v = getattr(st, "value", None)
        if not (isinstance(v, gast.Call) and dotted_name(v.func) in ("rt.push", "rt.pop") and v.args
                and isinstance(v.args[0], gast.Name)):
            continue
        group = groups.setdefault(v.args[0].id, set())
        if dotted_name(v.func) == "rt.push" and isinstance(st, gast.Expr):
            group |= {a.id for a in v.args[1:] if isinstance(a, gast.Name)}
        elif isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
            group.add(st.targets[0].id)
    return groups


# ---- facts about SSA statements the forward sweep uses -----------------------------------------------------
def branch_merge(s) -> bool:
    """An if's merge copy (not a copy of its test)."""
    return anno.get(s, anno.MERGE) and not anno.get(s, anno.TESTCOPY)
