"""The map of the house: the passes, in order, that turn a user's function into derivative source.

The lists of `Pass`es below are the pipeline: `run` applies one list to a `Context`, and this map is
rendered from the lists (`pass_map()`; tests/test_compiler_pipeline.py checks that it is this text).

front end (each function, once per module):
    parse            source text -> gast FunctionDef at the user's lines                 transforms/parse.py
    flatten          tuple/list arguments -> one parameter per array                     transforms/flatten.py
    generated        (generated code differentiated again) list stacks -> rt.stack,      transforms/forward.py
                     rt.push, rt.pop; fused log-domain adjoints split (logdomain.py)
    factories        g = make(c); g(u) -> g_c = c; make_fn(g_c, u) (the factory's body,  transforms/factories.py
                     returning its function's result)
    lift             nested defs / lambdas -> callees with free variables as args        transforms/closures.py
    desugar          augassign, unpacking, for-over-iterables, chained compares,         transforms/desugar.py
                     sum(... for ...) -> accumulating loops
    resolve          free names -> canonical primitives, callees, constants              transforms/resolve.py
    canonicalize     axis=/keepdims= (tuples of axes too), x[:, None], slogdet,          transforms/canonicalize.py
                     pow()/np.add() -> operators, composites (np.var, np.einsum,
                     ...) written out in primitives (rules/composites.py)
    structure        early return / break / continue -> structured flow                  transforms/controlflow.py
    zero starts      (forward mode, argument kinds unknown) sums start from 0.0          transforms/desugar.py
middle end (each function differentiated or typed):
    anf              (on a copy of the front end's unit) one operation per statement     transforms/anf.py
    inline           user-function calls spliced in (recursive ones stay calls)          transforms/inline.py
    ssa              single assignment; loop-carried and merge copies                    transforms/ssa.py
    cse              repeated operations in a block reuse the first result               transforms/optimize/cse.py
reverse mode (grad, value_and_grad, vjp):
    tuples           tuple values -> one name per component (t = (a, b); t[0])           transforms/tuples.py
    reverse rules    (check) a derivative the rule table has no vjp for is declined      transforms/checks.py
    kinds            scalar/array kinds from the arguments' (specialisation); inferred   transforms/kinds.py
                     again after each pass that changes the tree
    sum starts       sums over comprehensions start from 0.0 or zeros, by kind           transforms/kind_rewrites.py
    scalar products  np.inner(x, s) and kin with a scalar operand -> x * s               transforms/kind_rewrites.py
    array literals   w * [a, b] (w an array), np.stack of scalars -> rt.array            transforms/kind_rewrites.py
    aliasing         (check) no view is read after a write to its array                  transforms/aliasing.py
    logdomain        loop logsumexp(v[:, None] + M) -> log-domain product, exp(M)        transforms/logdomain.py
                     hoisted out of the loop
    activity         which values carry derivatives                                      transforms/activity.py
    checks           (check) linear algebra of stacks of matrices, list arithmetic of    transforms/checks.py
                     differentiated values
    dims             which axes have equal lengths, from the arguments' pattern          transforms/dims.py
                     (specialisation): shape classes
    reverse          forward sweep with stacks and tapes (reverse_storage.py) +          transforms/reverse.py
                     backward sweep from rule table (reverse_backward.py), in rounds,
                     with checkpointed loops (checkpoints.py) -> reverse.Sweeps
    dead code        values nothing reads (liveness), emptied loops and branches,        transforms/optimize/deadcode.py
                     line comments left with no code
    copies           copy propagation                                                    transforms/optimize/copies.py
    fuse adjoints    a log-domain product's two adjoints in one call                     transforms/logdomain.py
    preaccumulate    loop bodies: scalar adjoints as partials times incoming ones        transforms/preaccumulate.py
    fuse             elementwise fusion                                                  transforms/optimize/fusion.py
    sum grads        filled sum/mean adjoints -> scalars                                 transforms/optimize/scalarize.py
    where            elementwise fusion again; np.where of scalars                       transforms/optimize/scalarize.py
    dead stacks      stacks the backward sweep (from Sweeps.backward_start) never        transforms/optimize/deadcode.py
                     reads
    checkpoints      (checkpoints=k) outermost loops: forward untaped with snapshots,    transforms/checkpoints.py
                     the backward sweep reruns a segment from its snapshot, taping it
    unbound          placeholders for values read where they may be unassigned           transforms/unbound.py
    stack kinds      what each stack holds, for row tapes (jit)                          transforms/stacks.py
    row facts        kinds and shapes of a function with x @ w, for row fusion (jit)     transforms/optimize/rowfusion.py
forward mode (jvp):
    kinds            (with argument kinds) as in reverse mode                            transforms/kinds.py
    sum starts       (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    array literals   (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    aliasing         (check, user code) views renamed, not written through               transforms/aliasing.py
    forward          tangent statements after each primal one                            transforms/forward.py
    where            (with argument kinds) np.where of scalars -> rt.select              transforms/optimize/scalarize.py
    dead code        as in reverse mode; a stack goes as a whole                         transforms/optimize/deadcode.py
    versions         v_2 -> v2 where v is reassigned (Numba's versioned names)           transforms/forward.py
    unbound          placeholders for values read where they may be unassigned           transforms/unbound.py
the module:
    raise stacks     rt.stack/push/pop -> Python lists, in every function of the module  transforms/forward.py
source (each function):
    stacks           (jit only) range loops' stacks of float arrays -> row tapes         transforms/stacks.py
    scale tapes      (jit only) taped log-domain products keep their scales for          transforms/logdomain_scales.py
                     their adjoints
    rows             (jit only) x @ w, a sum of its rows' terms and x.T @ d_z: one loop  transforms/optimize/rowfusion.py
                     over the rows of x
    products         (jit only) a @ b, np.dot, np.matmul -> rt.dot (no BLAS cliff);      transforms/products.py
                     a rule's calls -> its record's jit_as (np.tanh -> rt.tanh)
    inplace          (jit only) x[:, j] += v -> rt.add_into(x[:, j], v)                  transforms/inplace.py
    bounds           (jit only) index tests once per loop, before it: the function is    transforms/bounds.py
                     compiled without Numba's per-access checks
    emit             Python source with comments naming the user's lines                 transforms/emit.py
the compiled form (jit only: what Numba compiles, never the source shown):
    elementwise      (reverse mode) array expressions -> rt.elementwise, kernels shared  transforms/elementwise.py
    emit             as above; statements left as they were: the source's, reused        transforms/emit.py

`build_module` builds a `Module` for one specialisation (the function, what it is differentiated with
respect to, the mode, the arguments' kinds and axes, checkpoints): the entry function's derivative and,
for each user function it calls that stays a call, the callee's primal and derivative, each through the
passes above. `Module.generate` prints it with the facts of its functions read off the trees
(srcdiff/generated.py: calls, bound names read, bounds proved), which srcdiff.backends uses as it exec's the
source as Python or compiles it with Numba (jitted: its compiled form, line for line the source shown).
"""
from __future__ import annotations

import contextlib
import copy
import gc
import threading
from dataclasses import dataclass, field
from typing import Callable

import gast

from . import generated
from .errors import SrcdiffError
from .transforms import annotations as anno
from .transforms import (activity, aliasing, anf, bounds, canonicalize, checks, closures, controlflow, desugar, elementwise,
                         emit, factories, flatten, forward, inline, inplace, kind_rewrites, kinds, logdomain, logdomain_scales,
                         optimize, parse, preaccumulate, products, resolve, reverse, ssa, stacks, tuples, unbound)
from .transforms.astutil import Namer, Transformer, clone, dotted_name, walk, walk_calls, walk_statements
from .transforms.checkpoints import rerun_segments


# ---- the pipeline -------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What the passes read and write. Front end and middle end: `unit` (from `source`, flattened by
    `structs`); a derivative function: `mode` (grad | value_and_grad | vjp | pullback | jvp), `wrt`, its
    `name`, the callbacks naming callees' derivatives (`callee_derivative`) and result kinds
    (`callee_kind`), the arguments' `arg_kinds` / `arg_dims`, `checkpoints`; the facts passes establish:
    `kinds` (inferred when first read after a pass that changed the tree called `changed`), `active`,
    `shapes`, reverse mode's structured result `sweeps`, and the function built, `fn`."""
    unit: parse.Unit | None = None
    source: object = None
    structs: dict | None = None
    mode: str = "grad"
    wrt: list = field(default_factory=list)
    name: str = ""
    callee_derivative: Callable | None = None
    callee_kind: Callable | None = None
    inline_callee: Callable | None = None
    arg_kinds: dict = field(default_factory=dict)
    arg_dims: dict = field(default_factory=dict)
    checkpoints: int | None = None
    active: set | None = None
    shapes: dict | None = None
    sweeps: reverse.Sweeps | None = None
    fn: gast.FunctionDef | None = None
    jit: bool = False
    module: object = None
    tree: object = None     # emit's standard-library tree of `fn` (its `source` is printed from it)
    names: object = None    # the index of fn's names the passes from "fuse" to "where" share (optimize.NameIndex)
    earlier: tuple | None = None  # the compiled form's: the source's (fn, tree), whose statements its emit reuses
    _kinds: dict | None = None

    @property
    def kinds(self) -> dict:
        if self._kinds is None:
            self._kinds = kinds.infer(self.unit.node, self.arg_kinds, self.callee_kind)
        return self._kinds

    def changed(self, did: bool = True):
        """A pass changed the tree (`did`): the kinds are inferred again when next read."""
        if did:
            self._kinds = None

    @property
    def forward_mode(self) -> bool:
        return self.mode == "jvp"


@dataclass(frozen=True)
class Pass:
    """One step of the pipeline: `run(ctx)` updates the context, where `when(ctx)` holds (always if None).
    `name`, `what` and `where` (its module under srcdiff/) are its line on the map."""
    name: str
    run: Callable
    where: str
    what: str
    when: Callable | None = None


def run(passes, ctx: Context) -> Context:
    """Apply `passes` in order to `ctx`."""
    for p in passes:
        if p.when is None or p.when(ctx):
            p.run(ctx)
    return ctx


def _set_unit(step):
    def go(ctx):
        ctx.unit = step(ctx.unit)
    return go


def _parse(ctx):
    if ctx.unit is None:
        ctx.unit = ctx.source if isinstance(ctx.source, parse.Unit) else parse.parse(ctx.source)


def _flatten(ctx):
    ctx.unit = flatten.flatten_arguments(ctx.unit, ctx.structs)


def _generated(ctx):
    if _is_generated_unit(ctx.unit):     # jitted code's index tests (transforms/bounds.py): its derivative writes its own
        ctx.unit.node = bounds.drop_tests(ctx.unit.node)
    ctx.unit.node = logdomain.split_adjoints(logdomain_scales.untape_scales(forward.lower_stacks(ctx.unit.node)))
    if not ctx.forward_mode:
        ctx.unit.node = _fold_negative_constants(ctx.unit.node)


def _lowers_generated(ctx) -> bool:
    """Generated code differentiated again (a user function calls a srcdiff gradient) has its stacks
    lowered for reverse mode; forward mode lowers every function's (they cost nothing where none are)."""
    return ctx.forward_mode or (not isinstance(ctx.source, parse.Unit) and is_generated(ctx.source))


def _copy_unit(ctx):
    unit = copy.copy(ctx.unit)
    unit.node = clone(unit.node)
    unit.callees = dict(unit.callees)
    unit.bindings = dict(unit.bindings)
    ctx.unit = unit


def _inline(ctx):
    ctx.unit = inline.inline_calls(ctx.unit, ctx.inline_callee)


def _cse(ctx):
    optimize.common_subexpressions(ctx.unit.node)


def _kinds(ctx):
    ctx.kinds


def _sum_starts(ctx):
    ctx.changed(kind_rewrites.sum_starts(ctx.unit, ctx.kinds))


def _scalar_products(ctx):
    ctx.changed(kind_rewrites.scalar_products(ctx.unit, ctx.kinds))


def _array_literals(ctx):
    ctx.changed(kind_rewrites.array_literal_operands(ctx.unit, ctx.kinds))


def _logdomain(ctx):
    if not any(isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)
               and dotted_name(s.value.func) == "rt.logsumexp" for s in walk_statements(ctx.unit.node.body)):
        return      # it rewrites `z = rt.logsumexp(...)` only: no copy of the unit, the kinds stay valid
    ctx.unit = logdomain.log_domain_products(ctx.unit, ctx.kinds)
    ctx.changed()


def _activity(ctx):
    ctx.active = activity.active_names(ctx.unit.node, ctx.wrt, ctx.unit.callees)


def _checks(ctx):
    checks.check_single_matrices(ctx.unit, ctx.kinds, ctx.active)
    checks.check_sequence_arithmetic(ctx.unit, ctx.kinds, ctx.wrt)


def _dims(ctx):
    ctx.shapes = kinds.shape_classes(ctx.unit.node, ctx.kinds, ctx.arg_dims) if ctx.kinds else None


def _reverse(ctx):
    spec = reverse.Spec(ctx.wrt, ctx.active, ctx.mode, ctx.callee_derivative, ctx.kinds, ctx.shapes, ctx.checkpoints)
    ctx.sweeps = reverse.differentiate(ctx.unit, spec, ctx.name)
    ctx.fn = ctx.sweeps.function


def _on_fn(step):
    def go(ctx):
        ctx.fn = step(ctx.fn)
    return go


def _with_kinds(step):
    def go(ctx):
        ctx.fn = step(ctx.fn, ctx.sweeps.kinds)
    return go


def _preaccumulate(ctx):
    s = ctx.sweeps
    ctx.fn = preaccumulate.preaccumulate(ctx.fn, s.kinds, s.primals_of_adjoints(), s.namer)


def _fuse(ctx):
    ctx.names = optimize.NameIndex(ctx.fn)   # (kept up to date by "fuse", "sum grads" and "where")
    ctx.fn = optimize.fuse_elementwise(ctx.fn, ctx.sweeps.kinds, ctx.names)


def _scalar_sum_grads(ctx):
    ctx.fn = optimize.scalar_sum_grads(ctx.fn, ctx.sweeps.kinds, ctx.sweeps.shapes, ctx.names)


def _scalar_where(ctx):
    fn = optimize.scalar_where(optimize.fuse_elementwise(ctx.fn, ctx.sweeps.kinds, ctx.names), ctx.sweeps.kinds)
    ctx.fn, ctx.names = optimize.eliminate_unread(fn, ctx.names), None


def _dead_stacks(ctx):
    ctx.fn = optimize.drop_dead_stacks(ctx.fn, ctx.sweeps.backward_start)


def _unbound(ctx):
    # (forward mode: the primal values' kinds where the arguments' are known: a gradient's `v = None` get types)
    ctx.fn = unbound.define_unbound(ctx.fn, ctx.sweeps.kinds, ctx.sweeps.shapes) if ctx.sweeps else \
        unbound.define_unbound(ctx.fn, ctx.kinds if ctx.arg_kinds else None)


def _stack_kinds(ctx):
    ctx.fn = stacks.record_stack_kinds(ctx.fn, ctx.sweeps.kinds, ctx.sweeps.stacks)


def _forward_views(ctx):
    aliasing.check_views(ctx.unit, {}, renames_only=True)   # tangents of views are views: fine


def _forward(ctx):
    ctx.fn = forward.Forward(ctx.unit, ctx.wrt, ctx.callee_derivative).function(ctx.name)


def _has_arg_kinds(ctx) -> bool:
    return bool(ctx.arg_kinds)


FRONT_END = [
    Pass("parse", _parse, "transforms/parse.py", "source text -> gast FunctionDef at the user's lines"),
    Pass("flatten", _flatten, "transforms/flatten.py", "tuple/list arguments -> one parameter per array",
         lambda c: bool(c.structs)),
    Pass("generated", _generated, "transforms/forward.py",
         "(generated code differentiated again) list stacks -> rt.stack,\nrt.push, rt.pop; fused log-domain "
         "adjoints split (logdomain.py)", _lowers_generated),
    Pass("factories", _set_unit(factories.bind_factories), "transforms/factories.py",
         "g = make(c); g(u) -> g_c = c; make_fn(g_c, u) (the factory's body,\nreturning its function's result)"),
    Pass("lift", _set_unit(closures.lift_local_functions), "transforms/closures.py",
         "nested defs / lambdas -> callees with free variables as args"),
    Pass("desugar", _set_unit(desugar.desugar), "transforms/desugar.py",
         "augassign, unpacking, for-over-iterables, chained compares,\nsum(... for ...) -> accumulating loops"),
    Pass("resolve", _set_unit(resolve.resolve), "transforms/resolve.py",
         "free names -> canonical primitives, callees, constants"),
    Pass("canonicalize", _set_unit(canonicalize.canonicalize), "transforms/canonicalize.py",
         "axis=/keepdims= (tuples of axes too), x[:, None], slogdet,\npow()/np.add() -> operators, composites "
         "(np.var, np.einsum,\n...) written out in primitives (rules/composites.py)"),
    Pass("structure", _set_unit(controlflow.structure), "transforms/controlflow.py",
         "early return / break / continue -> structured flow"),
    Pass("zero starts", lambda c: desugar.zero_sum_starts(c.unit.node), "transforms/desugar.py",
         "(forward mode, argument kinds unknown) sums start from 0.0",
         lambda c: c.forward_mode and not c.arg_kinds),
]

ANF = [
    Pass("anf", lambda c: (_copy_unit(c), setattr(c, "unit", anf.to_anf(c.unit))), "transforms/anf.py",
         "(on a copy of the front end's unit) one operation per statement"),
    Pass("inline", _inline, "transforms/inline.py", "user-function calls spliced in (recursive ones stay calls)",
         lambda c: c.inline_callee is not None),
]
MIDDLE_END = ANF + [
    Pass("ssa", _set_unit(ssa.to_ssa), "transforms/ssa.py", "single assignment; loop-carried and merge copies"),
    Pass("cse", _cse, "transforms/optimize/cse.py", "repeated operations in a block reuse the first result"),
]

REVERSE = [
    Pass("tuples", _set_unit(tuples.split_tuples), "transforms/tuples.py",
         "tuple values -> one name per component (t = (a, b); t[0])"),
    Pass("reverse rules", lambda c: checks.check_reverse_rules(c.unit, c.wrt), "transforms/checks.py",
         "(check) a derivative the rule table has no vjp for is declined"),
    Pass("kinds", _kinds, "transforms/kinds.py",
         "scalar/array kinds from the arguments' (specialisation); inferred\nagain after each pass that "
         "changes the tree"),
    Pass("sum starts", _sum_starts, "transforms/kind_rewrites.py", "sums over comprehensions start from 0.0 or zeros, by kind"),
    Pass("scalar products", _scalar_products, "transforms/kind_rewrites.py",
         "np.inner(x, s) and kin with a scalar operand -> x * s", _has_arg_kinds),
    Pass("array literals", _array_literals, "transforms/kind_rewrites.py", "w * [a, b] (w an array), np.stack of scalars -> rt.array"),
    Pass("aliasing", lambda c: aliasing.check_views(c.unit, c.kinds), "transforms/aliasing.py",
         "(check) no view is read after a write to its array"),
    Pass("logdomain", _logdomain, "transforms/logdomain.py",
         "loop logsumexp(v[:, None] + M) -> log-domain product, exp(M)\nhoisted out of the loop", _has_arg_kinds),
    Pass("activity", _activity, "transforms/activity.py", "which values carry derivatives"),
    Pass("checks", _checks, "transforms/checks.py",
         "(check) linear algebra of stacks of matrices, list arithmetic of\ndifferentiated values"),
    Pass("dims", _dims, "transforms/dims.py",
         "which axes have equal lengths, from the arguments' pattern\n(specialisation): shape classes"),
    Pass("reverse", _reverse, "transforms/reverse.py",
         "forward sweep with stacks and tapes (reverse_storage.py) +\nbackward sweep from rule table "
         "(reverse_backward.py), in rounds,\nwith checkpointed loops (checkpoints.py) -> reverse.Sweeps"),
    Pass("dead code", _on_fn(optimize.eliminate_dead_code), "transforms/optimize/deadcode.py",
         "values nothing reads (liveness), emptied loops and branches,\nline comments left with no code"),
    Pass("copies", _on_fn(optimize.propagate_copies), "transforms/optimize/copies.py", "copy propagation"),
    Pass("fuse adjoints", _on_fn(logdomain.fuse_adjoints), "transforms/logdomain.py",
         "a log-domain product's two adjoints in one call"),
    Pass("preaccumulate", _preaccumulate, "transforms/preaccumulate.py",
         "loop bodies: scalar adjoints as partials times incoming ones"),
    Pass("fuse", _fuse, "transforms/optimize/fusion.py", "elementwise fusion"),
    Pass("sum grads", _scalar_sum_grads, "transforms/optimize/scalarize.py", "filled sum/mean adjoints -> scalars"),
    Pass("where", _scalar_where, "transforms/optimize/scalarize.py", "elementwise fusion again; np.where of scalars"),
    Pass("dead stacks", _dead_stacks, "transforms/optimize/deadcode.py",
         "stacks the backward sweep (from Sweeps.backward_start) never\nreads"),
    Pass("checkpoints", _with_kinds(rerun_segments), "transforms/checkpoints.py",
         "(checkpoints=k) outermost loops: forward untaped with snapshots,\nthe backward sweep reruns a segment "
         "from its snapshot, taping it"),
    Pass("unbound", _unbound, "transforms/unbound.py", "placeholders for values read where they may be unassigned"),
    Pass("stack kinds", _stack_kinds, "transforms/stacks.py", "what each stack holds, for row tapes (jit)"),
    Pass("row facts", lambda c: optimize.record_row_facts(c.fn, c.sweeps.kinds, c.sweeps.shapes),
         "transforms/optimize/rowfusion.py", "kinds and shapes of a function with x @ w, for row fusion (jit)"),
]

FORWARD = [
    Pass("kinds", _kinds, "transforms/kinds.py", "(with argument kinds) as in reverse mode", _has_arg_kinds),
    Pass("sum starts", _sum_starts, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode", _has_arg_kinds),
    Pass("array literals", _array_literals, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode", _has_arg_kinds),
    Pass("aliasing", _forward_views, "transforms/aliasing.py",
         "(check, user code) views renamed, not written through", lambda c: not _is_generated_unit(c.unit)),
    Pass("forward", _forward, "transforms/forward.py", "tangent statements after each primal one"),
    Pass("where", lambda c: setattr(c, "fn", optimize.scalar_where(c.fn, c.kinds)), "transforms/optimize/scalarize.py",
         "(with argument kinds) np.where of scalars -> rt.select", _has_arg_kinds),
    Pass("dead code", _on_fn(optimize.eliminate_dead_code), "transforms/optimize/deadcode.py",
         "as in reverse mode; a stack goes as a whole"),
    Pass("versions", _on_fn(forward.avoid_version_clashes), "transforms/forward.py",
         "v_2 -> v2 where v is reassigned (Numba's versioned names)"),
    Pass("unbound", _unbound, "transforms/unbound.py", "placeholders for values read where they may be unassigned"),
]

MODULE = [
    Pass("raise stacks", lambda c: setattr(c.module, "functions", [forward.raise_stacks(f) for f in c.module.functions]),
         "transforms/forward.py", "rt.stack/push/pop -> Python lists, in every function of the module"),
]

def _emit(ctx):
    ctx.tree = emit.tree(ctx.fn, ctx.earlier)
    ctx.source = emit.render(ctx.tree, ctx.earlier and ctx.earlier[1], keep=ctx.jit)


SOURCE = [
    Pass("stacks", _on_fn(stacks.row_tapes), "transforms/stacks.py",
         "(jit only) range loops' stacks of float arrays -> row tapes", lambda c: c.jit),
    Pass("scale tapes", _on_fn(logdomain_scales.tape_scales), "transforms/logdomain_scales.py",
         "(jit only) taped log-domain products keep their scales for\ntheir adjoints", lambda c: c.jit),
    Pass("rows", _on_fn(optimize.fuse_rows), "transforms/optimize/rowfusion.py",
         "(jit only) x @ w, a sum of its rows' terms and x.T @ d_z: one loop\nover the rows of x", lambda c: c.jit),
    Pass("products", _on_fn(products.route_products), "transforms/products.py",
         "(jit only) a @ b, np.dot, np.matmul -> rt.dot (no BLAS cliff);\na rule's calls -> its record's "
         "jit_as (np.tanh -> rt.tanh)", lambda c: c.jit),
    Pass("inplace", _on_fn(inplace.add_into_views), "transforms/inplace.py",
         "(jit only) x[:, j] += v -> rt.add_into(x[:, j], v)", lambda c: c.jit),
    Pass("bounds", _on_fn(bounds.hoist_checks), "transforms/bounds.py",
         "(jit only) index tests once per loop, before it: the function is\ncompiled without Numba's per-access checks",
         lambda c: c.jit),
    Pass("emit", _emit, "transforms/emit.py",
         "Python source with comments naming the user's lines"),
]

COMPILED = [      # Module.generate: jitted, after SOURCE, the module Numba compiles (Generated.compiled)
    Pass("elementwise", lambda c: setattr(c, "fn", elementwise.call_kernels(c.fn, c.module.kinds[c.fn.name])),
         "transforms/elementwise.py", "(reverse mode) array expressions -> rt.elementwise, kernels shared"),
    Pass("emit", _emit, "transforms/emit.py", "as above; statements left as they were: the source's, reused"),
]

STAGES = (("front end (each function, once per module)", FRONT_END),
          ("middle end (each function differentiated or typed)", MIDDLE_END),
          ("reverse mode (grad, value_and_grad, vjp)", REVERSE),
          ("forward mode (jvp)", FORWARD),
          ("the module", MODULE),
          ("source (each function)", SOURCE),
          ("the compiled form (jit only: what Numba compiles, never the source shown)", COMPILED))


def pass_map() -> str:
    """The map in this module's docstring, rendered from the pass lists."""
    lines = []
    for title, passes in STAGES:
        lines.append(f"{title}:")
        for p in passes:
            what = p.what.split("\n")
            lines.append(f"    {p.name:<17}{what[0]:<66}  {p.where}".rstrip())
            lines += [f"    {'':<17}{w}".rstrip() for w in what[1:]]
    return "\n".join(lines)


def front_end(fn_or_unit, structs: dict | None = None, mode: str = "grad", arg_kinds: tuple = ()) -> parse.Unit:
    """Everything up to (not including) ANF: returns a resolved, structured unit. `mode`: what the unit
    is for ("jvp": forward mode); `arg_kinds`: its arguments' kinds, where known."""
    return run(FRONT_END, Context(source=fn_or_unit, structs=structs, mode=mode, arg_kinds=dict(enumerate(arg_kinds)))).unit


def anf_unit(unit: parse.Unit, inline_callee=None) -> parse.Unit:
    """A copy of a front-end unit in A-normal form, with user calls inlined where possible."""
    return run(ANF, Context(unit=unit, inline_callee=inline_callee)).unit


def middle_end(unit: parse.Unit, inline_callee=None) -> parse.Unit:
    return run(MIDDLE_END, Context(unit=unit, inline_callee=inline_callee)).unit


def gradient_function(unit: parse.Unit, wrt: list, mode: str, name: str, callee_vjp,
                      arg_kinds: dict | None = None, arg_dims: dict | None = None,
                      checkpoints: int | None = None, callee_kind=None) -> gast.FunctionDef:
    """The reverse-mode function for an SSA unit (mode: grad | value_and_grad | vjp | pullback);
    `checkpoints`: the most snapshots each outermost loop keeps (transforms/checkpoints.py), None to tape
    every iteration; `callee_kind`: the kinds of the results of calls that stay calls (kinds.infer)."""
    ctx = Context(unit=unit, wrt=wrt, mode=mode, name=name, callee_derivative=callee_vjp, callee_kind=callee_kind,
                  arg_kinds=arg_kinds or {}, arg_dims=arg_dims or {}, checkpoints=checkpoints)
    return run(REVERSE, ctx).fn


@dataclass
class Module:
    """A generated module under construction: functions, their names, and bound constants. `mode`: "jvp"
    for forward mode (its functions' stacks are lowered on parsing: the FRONT_END's "generated" pass)."""
    functions: list = field(default_factory=list)     # gast FunctionDefs in definition order
    bindings: dict = field(default_factory=dict)      # global name -> object
    namer: Namer = field(default_factory=lambda: Namer({"np", "rt", "math", "numba"}))
    primals: dict = field(default_factory=dict)       # id(unit source) -> module name of its primal
    derivatives: dict = field(default_factory=dict)   # (id, positions, mode, ...) -> module name
    units: dict = field(default_factory=dict)         # id -> front-end unit
    return_kinds: dict = field(default_factory=dict)  # (id, argument kinds) -> kind of the result (return_kind)
    tapes: set = field(default_factory=set)           # names of reverse mode's preallocated scalar tapes, with those of
                                                      # the generated code the module holds (build_module)
    kinds: dict = field(default_factory=dict)         # reverse-mode function name -> the kinds of its names (COMPILED)
    mode: str = "grad"
    entry: str = ""

    @property
    def function_names(self) -> list:
        return [fn.name for fn in self.functions]

    def source(self, jit: bool = False) -> str:
        """The module's Python source; `jit`: as compiled by Numba (float arrays of range loops on row
        tapes, matrix products through rt.dot: transforms/products.py)."""
        return self.generate(jit).source

    def generate(self, jit: bool = False) -> generated.Generated:
        """The module's source (see `source`) with the facts of its functions the backends need, read off
        the trees it is printed from (generated.py): what each calls, which bound names it reads, whether
        the bounds pass proved it; jitted, the module Numba compiles (COMPILED: `Generated.compiled`) and, where
        bound arrays are large enough for jitted code to take them as parameters (backends.passed_arrays), it with them."""
        from . import backends
        with _collector_paused():
            done = [run(SOURCE, Context(fn=f, jit=jit)) for f in self.functions]
            text = generated.HEADER + "\n\n".join(c.source for c in done)
            names, bound = set(self.function_names), set(self.bindings)
            facts = generated.ModuleFacts(tuple(
                generated.function_facts(c.tree, names, bound, bool(anno.get(c.fn, anno.BOUNDS_PROVED)))
                for c in done))
            compiled = [run(COMPILED, Context(fn=c.fn, module=self, earlier=(c.fn, c.tree)))
                        if jit and c.fn.name in self.kinds else c for c in done]
            compiled_text = generated.HEADER + "\n\n".join(c.source for c in compiled)
            arrays = backends.passed_arrays(self.bindings)
            params = generated.with_parameters([c.tree for c in compiled], facts, arrays, emit.render) if arrays else None
        backends.note_tapes(text, self.tapes)   # (read back by srcdiff.cuda where forward mode differentiates it)
        lines = generated.Lines.of([anno.get(c.tree, anno.LINES) for c in done], [c.source for c in done])
        return generated.Generated(text, facts, params, compiled_text if compiled_text != text else None, lines)

    def trees(self) -> list:
        """The module's functions as the standard-library trees `source()` prints (emit.tree), comments
        included: what the CUDA lowering reads instead of parsing the source."""
        with _collector_paused():
            return [run(SOURCE, Context(fn=f)).tree for f in self.functions]


def _key(obj):
    return id(obj.node) if isinstance(obj, parse.Unit) else id(obj)


def _unit_for(module: Module, obj, structs: dict | None = None, arg_kinds: tuple = ()) -> parse.Unit:
    """The front-end unit of `obj` (a function or a unit), made once per module and linked into it."""
    k = _key(obj)
    if k not in module.units:
        module.units[k] = front_end(obj, structs, module.mode, arg_kinds)
        _link(module, module.units[k])
    return module.units[k]


def is_generated(obj) -> bool:
    """`obj` is a function srcdiff generated (its module is one of the loaded generated modules)."""
    fn = obj.func if isinstance(obj, parse.Unit) else getattr(obj, "py_func", obj)
    from .cachedir import is_generated_module
    return is_generated_module(getattr(fn, "__module__", None))


def _generated_tapes(unit) -> frozenset:
    """The tapes reverse mode recorded generating the module of `unit`, a function srcdiff generated
    (backends.tapes_of its source: noted by Module.source or kept in the cache index; none if neither)."""
    from . import backends
    try:
        with open(unit.filename) as fh:
            text = fh.read()
    except OSError:
        return frozenset()
    return backends.tapes_of(text) or frozenset()


def _is_generated_unit(unit) -> bool:
    """Is `unit` code srcdiff generated (forward mode over a gradient), not the user's?"""
    import os
    from .cachedir import cache_dir
    return bool(unit.filename) and os.path.abspath(unit.filename).startswith(os.path.abspath(cache_dir()) + os.sep)


def _fold_negative_constants(node):
    """`-1` as a constant (the step of the generated backward loops), not an operation ANF names."""
    class Fold(Transformer):
        def visit_UnaryOp(self, n):
            self.generic_visit(n)
            if (isinstance(n.op, gast.USub) and isinstance(n.operand, gast.Constant)
                    and type(n.operand.value) in (int, float)):
                return gast.copy_location(gast.Constant(value=-n.operand.value, kind=None), n)
            return n
    return Fold().visit(node)


def _link(module: Module, unit: parse.Unit):
    """Give the unit's constants and callees module-wide names, renaming references in its tree."""
    renames = {}
    for name, obj in unit.bindings.items():
        existing = module.bindings.get(name)
        if existing is obj:
            continue
        if existing is None and name not in module.namer.taken:
            module.namer.reserve(name)
            module.bindings[name] = obj
            continue
        new = module.namer.fresh(name)
        module.bindings[new] = obj
        renames[name] = new
    if renames:
        for n in walk(unit.node):
            if isinstance(n, gast.Name) and n.id in renames:
                n.id = renames[n.id]
        unit.bindings = {renames.get(k, k): v for k, v in unit.bindings.items()}


def primal_name(module: Module, obj, hint: str | None = None) -> str:
    """Module name of the primal (normalised, Numba-compatible) version of a callee."""
    k = _key(obj)
    if k in module.primals:
        return module.primals[k]
    unit = _unit_for(module, obj)
    name = module.namer.fresh(hint if hint and unit.name == "lambda_" else unit.name)
    module.primals[k] = name
    node = anf.index_lists_as_arrays(desugar.zero_sum_starts(clone(unit.node)))
    node = unbound.define_unbound(node)   # (a value first bound in a loop and read in a later iteration)
    node.name = name
    _rename_callees(module, unit, node)
    module.functions.append(node)
    return name


def _rename_callees(module, unit, node):
    mapping = {local: primal_name(module, target, local) for local, target in unit.callees.items() if target is not None}
    for n in walk_calls(node):
        if isinstance(n.func, gast.Name) and n.func.id in mapping:
            n.func.id = mapping[n.func.id]


def _ssa_for(module: Module, unit: parse.Unit):
    """The unit in SSA with user calls inlined; calls that stay get module-level primal names.
    Returns (ssa unit, {module name of a remaining callee: its object})."""
    def inline_callee(obj, stack=()):
        callee = _unit_for(module, obj)
        return inline.inline_calls(anf_unit(callee), lambda o, st=stack: inline_callee(o, st), stack) \
            if len(stack) < 4 else None

    ssa_unit = middle_end(unit, inline_callee)
    for const_name, value in ssa_unit.bindings.items():  # constants that inlined callees brought along
        if const_name not in module.bindings:
            module.bindings[const_name] = value
            module.namer.reserve(const_name)
    remaining = dict(ssa_unit.callees)
    unit_view = copy.copy(unit)
    unit_view.callees = remaining
    _rename_callees(module, unit_view, ssa_unit.node)
    local_to_obj = {primal_name(module, t): t for t in remaining.values() if t is not None}
    ssa_unit.callees = local_to_obj
    return ssa_unit, local_to_obj


_SUFFIX = {"vjp": "vjp", "pullback": "vjp", "grad": "grad", "value_and_grad": "value_and_grad", "jvp": "jvp"}


def derivative_name(module: Module, obj, positions: tuple, mode="vjp", wrt_names=None, entry_name=None,
                    arg_kinds: tuple = (), arg_dims: tuple = (), checkpoints: int | None = None) -> str:
    """Module name of the derivative function of `obj` w.r.t. the parameters at `positions`, generating
    it (and what it calls) on first use. `mode`: grad | value_and_grad | vjp | pullback (reverse mode:
    the REVERSE passes) or jvp (forward mode, the FORWARD passes: (params..., d_<param> for each
    position) -> (value, d_value)). `arg_kinds` / `arg_dims`: the arguments' kinds and axis labels."""
    forward_mode = mode == "jvp"
    # (forward mode's callees are generated without kinds: a recursive call reuses the entry function)
    k = (_key(obj), positions, mode) + (() if forward_mode else (arg_kinds, arg_dims))
    if k in module.derivatives:
        return module.derivatives[k]
    unit = _unit_for(module, obj, arg_kinds=arg_kinds)
    params = unit.params
    base = unit.name if unit.name != "lambda_" else module.primals.get(_key(obj), "lambda")
    name = entry_name or module.namer.fresh(f"{base}_{_SUFFIX[mode]}")
    module.derivatives[k] = name

    ssa_unit, local_to_obj = _ssa_for(module, unit)

    def callee_vjp(local, pos, stmt, call_kinds=()):
        return derivative_name(module, local_to_obj[local], pos, mode="pullback", arg_kinds=call_kinds)

    def callee_jvp(local, pos):
        return derivative_name(module, local_to_obj[local], pos, mode="jvp")

    def callee_kind(local, call_kinds):
        return return_kind(module, local_to_obj[local], call_kinds) if local in local_to_obj else None

    ctx = Context(unit=ssa_unit, wrt=wrt_names or [params[p] for p in positions], mode=mode, name=name,
                  callee_derivative=callee_jvp if forward_mode else callee_vjp,
                  callee_kind=callee_kind if arg_kinds else None,
                  arg_kinds=dict(zip(params, arg_kinds)), arg_dims=dict(zip(params, arg_dims)),
                  checkpoints=checkpoints)
    run(FORWARD if forward_mode else REVERSE, ctx)
    if ctx.sweeps is not None:
        module.tapes |= ctx.sweeps.tapes
        module.kinds[ctx.fn.name] = ctx.sweeps.kinds
    module.functions.append(ctx.fn)
    return name


def return_kind(module: Module, obj, arg_kinds: tuple, active: frozenset = frozenset()):
    """The kind of what the user function `obj` returns for arguments of `arg_kinds` (None if unknown;
    kinds.UNSETTLED for a call inside its own recursion)."""
    k = (_key(obj), arg_kinds)
    if k in module.return_kinds:
        return module.return_kinds[k]
    if _key(obj) in active:
        return kinds.UNSETTLED
    unit = middle_end(_unit_for(module, obj))

    def callee_kind(local, call_kinds):
        target = unit.callees.get(local)
        return None if target is None else return_kind(module, target, call_kinds, active | {_key(obj)})

    kind_map = kinds.infer(unit.node, dict(zip(unit.params, arg_kinds)), callee_kind)
    ret = unit.node.body[-1]
    module.return_kinds[k] = kinds.expr_kind(ret.value, kind_map) if isinstance(ret, gast.Return) else None
    return module.return_kinds[k]


_PAUSES = [0]
_PAUSE_LOCK = threading.Lock()


@contextlib.contextmanager
def _collector_paused():
    """Python's cycle collector off while a module is generated: the passes allocate many small tree
    nodes that are not garbage, and each full collection re-scans the growing tree (a quarter of the
    generation time of a 1 000-statement function). Cycles made meanwhile are collected afterwards.
    What the generation leaves alive (the module's trees, which its Specialisation keeps) goes straight to
    the oldest generation (gc.freeze then gc.unfreeze, where nothing else has frozen objects): turning the
    collector back on would otherwise scan all of it at the next allocation, young objects as it were, and
    again on their way up (0.17 s of 2.5 at 1 000 statements); cycles among them wait for the next full
    collection instead."""
    with _PAUSE_LOCK:
        _PAUSES[0] += 1
        if _PAUSES[0] == 1:
            _PAUSES.append(gc.isenabled())
            gc.disable()
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _PAUSES[0] -= 1
            if _PAUSES[0] == 0 and _PAUSES.pop():
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()


def build_module(fn, wrt_names: list, mode: str, arg_kinds: tuple = (), structs: dict | None = None,
                 arg_dims: tuple = (), checkpoints: int | None = None) -> Module:
    """Generate the module holding `fn`'s derivative (mode grad | value_and_grad | vjp | jvp) and its
    callees' primal and derivative functions.

    `structs` maps tuple/list parameters to their structure; they become one parameter per leaf (and, in
    forward mode, one tangent per leaf of a wrt argument). `arg_kinds`: the arguments' kinds, if known;
    `arg_dims`: their axis labels (transforms/dims.py), for the entry function only; `checkpoints`: the
    most snapshots each outermost loop of the entry function keeps (None: tape them)."""
    with _collector_paused():
        module = Module(mode="jvp" if mode == "jvp" else "grad")
        unit = _unit_for(module, fn, structs, arg_kinds)
        wrt_names = flatten.flat_names(wrt_names, structs) if structs else wrt_names
        missing = [w for w in wrt_names if w not in unit.params]
        if missing:
            raise SrcdiffError(f"wrt names {missing} are not parameters of {unit.name}{tuple(unit.params)}",
                               unit.filename, unit.node.lineno)
        positions = tuple(unit.params.index(w) for w in wrt_names)
        module.entry = derivative_name(module, fn, positions, mode=mode, wrt_names=wrt_names,
                                       entry_name=module.namer.fresh(f"{unit.name}_{mode}"), arg_kinds=arg_kinds,
                                       arg_dims=arg_dims, checkpoints=checkpoints)
        run(MODULE, Context(module=module))
        for u in module.units.values():   # the tapes of the generated code it holds (forward mode keeps their names)
            if is_generated(u):
                module.tapes |= _generated_tapes(u)
        return module
