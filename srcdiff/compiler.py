"""The map of the house: the passes, in order, that turn a user's function into derivative source.

The lists of `Pass`es below are the pipeline: `run` applies one list to a `Context`, and this map is
rendered from the lists (`pass_map()`; tests/test_compiler_pipeline.py checks that it is this text).

front end (each function, once per module):
    parse            source text -> gast FunctionDef at the user's lines;                transforms/parse.py
                     (check) a local read before any assignment to it is declined (scopes.py)
    flatten          tuple/list arguments -> one parameter per array;                    transforms/flatten.py
                     dicts made here, and returned by your functions: one name per item
    generated        (generated code differentiated again) list stacks -> rt.stack,      transforms/forward.py
                     rt.push, rt.pop; fused log-domain adjoints split (logdomain.py);
                     its placeholders annotated again (the line table's)
    lists            (reverse mode) the user's lists built with appends -> rt.stack,     transforms/lists.py
                     rt.push, rt.pop; np.array(out) -> rt.stack_array(out)
    function args    rk4(rhs, y, h) -> rk4_rhs(y, h) (a copy of the callee calling the   transforms/function_args.py
                     function passed by name)
    factories        g = make(c); g(u) -> g_c = c; make_fn(g_c, u) (the factory's body,  transforms/factories.py
                     returning its function's result)
    lift             nested defs / lambdas -> callees with free variables as args        transforms/closures.py
    desugar          augassign, unpacking, for-over-iterables, chained compares,         transforms/desugar.py
                     sum(... for ...) -> accumulating loops
    resolve          free names -> canonical primitives, callees, constants              transforms/resolve.py
    canonicalize     axis=/keepdims= (tuples of axes too), x[:, None], slogdet,          transforms/canonicalize.py
                     pow()/np.add() -> operators, composites (np.var, np.einsum,
                     ...) written out in primitives (rules/composites.py)
    0-d locals       s = np.zeros(()) -> s = 0.0, s[()] = v -> s = float(v), where       transforms/zero_d_locals.py
                     no read can tell the 0-d array from the number it holds
    structure        early return / break / continue -> structured flow                  transforms/controlflow.py
middle end (each function differentiated or typed):
    anf              (on a copy of the front end's unit) one operation per statement     transforms/anf.py
    inline           user-function calls spliced in (recursive ones stay calls)          transforms/inline.py
    ssa              single assignment; loop-carried and merge copies                    transforms/ssa.py
    follow writes    after `a = b` and a write through a, a's reads read b (one name     transforms/follow_writes.py
                     per array; before cse, which must see the write)
    cse              repeated operations in a block reuse the first result               transforms/optimize/cse.py
    invariants       a loop's constant arrays (np.array((1.0, -0.5))) and their reads by  transforms/invariants.py
                     constant index made once, before it
reverse mode (grad, value_and_grad, vjp):
    none args        (specialisation) w is None of an argument passed None decided,      transforms/inline.py
                     the branch not taken dropped
    tuples           tuple values -> one name per component (t = (a, b); t[0])           transforms/tuples.py
    reverse rules    (check) a derivative the rule table has no vjp for is declined      transforms/checks.py
    kinds            scalar/array kinds from the arguments' (specialisation); inferred   transforms/kinds.py
                     again after each pass that changes the tree
    sum starts       sums over comprehensions start from 0.0 or zeros, by kind           transforms/kind_rewrites.py
    scalar helpers   (a gradient differentiated again) rt.seed(s), rt.zeros_like(s),     transforms/kind_rewrites.py
                     rt.unbroadcast(g, s) of scalars -> 1.0, 0.0, g
    scalar products  np.inner(x, s) and kin with a scalar operand -> x * s               transforms/kind_rewrites.py
    array literals   w * [a, b] (w an array), np.stack of scalars, sum(t) of a tuple     transforms/kind_rewrites.py
                     value t -> rt.array
    aliasing         (check) no view is read after a write to its array                  transforms/aliasing.py
    ellipsis numbers b[0, ...] of a vector (a 0-d view, a number's value) -> b[0]        transforms/kind_rewrites.py
    scalar items     a[()] of a number (a 0-d array argument under jit) -> a             transforms/kind_rewrites.py
    logdomain        loop logsumexp(v[:, None] + M) -> log-domain product, exp(M)        transforms/logdomain.py
                     hoisted out of the loop
    activity         which values carry derivatives                                      transforms/activity.py
    checks           (check) linear algebra of stacks of matrices, list arithmetic of    transforms/checks.py
                     differentiated values, float() of arrays
    dims             which axes have equal lengths, from the arguments' pattern          transforms/dims.py
                     (specialisation): shape classes
    reverse          forward sweep with stacks and tapes (reverse_storage.py) +          transforms/reverse.py
                     backward sweep from rule table (reverse_backward.py), in rounds,
                     with checkpointed loops (checkpoints.py) -> reverse.Sweeps
    caller's arrays  an argument array both sweeps write into: its state after the       transforms/caller_arrays.py
                     forward sweep written back before the return
    dead code        values nothing reads (liveness), emptied loops and branches,        transforms/optimize/deadcode.py
                     line comments left with no code
    copies           copy propagation, then b = e; a = b with b read once -> a = e       transforms/optimize/copies.py
                     (a branch merge binds its name at once)
    fuse adjoints    a log-domain product's two adjoints in one call                     transforms/logdomain.py
    preaccumulate    loop bodies: scalar adjoints as partials times incoming ones        transforms/preaccumulate.py
    fuse             elementwise fusion                                                  transforms/optimize/fusion.py
    sum grads        filled sum/mean adjoints -> scalars                                 transforms/optimize/scalarize.py
    where            elementwise fusion again; np.where of scalars                       transforms/optimize/scalarize.py
    dead stacks      stacks the backward sweep (from Sweeps.backward_start) never        transforms/optimize/deadcode.py
                     reads
    late copies      copies back dropped, copies and coalesce again (the passes since    transforms/optimize/copies.py
                     then leave copies too), then line comments left with no code;
                     (float64 arguments) d_a = rt.copy(d_a); d_a += e -> d_a = d_a + e
    seed             (grad, float64 arguments) d_r = 1.0; d_u = d_r * v -> d_u = v (v a  transforms/seed_ones.py
                     float scalar, or float arithmetic)
    checkpoints      (checkpoints=k) outermost loops: forward untaped with snapshots,    transforms/checkpoints.py
                     the backward sweep reruns a segment from its snapshot, taping it
    carried copies   i1 = i + 1; ...; i = i1 (a loop's carried copy) -> i = i + 1 where  transforms/optimize/copies.py
                     nothing between reads the old i
    fresh results    (the entry) a derivative returned that may be an argument's memory  transforms/memory_sharing.py
                     (d_x itself, np.transpose(d_x), the cotangent g) -> rt.copy(d)
    unbound          placeholders for values read where they may be unassigned           transforms/unbound.py
    stack kinds      what each stack holds, for row tapes (jit)                          transforms/stacks.py
    row facts        kinds and shapes of a function with x @ w, for row fusion (jit)     transforms/optimize/rowfusion.py
forward mode (jvp):
    none args        as in reverse mode                                                  transforms/inline.py
    kinds            (with argument kinds) as in reverse mode                            transforms/kinds.py
    sum starts       (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    scalar helpers   (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    scalar products  (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    array literals   (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    scalar items     (with argument kinds) as in reverse mode                            transforms/kind_rewrites.py
    checks           (check, with argument kinds) float() of an array of rank 1 or more  transforms/checks.py
    aliasing         (check, user code) views renamed, not written through               transforms/aliasing.py
    named tuples     (no argument kinds) a tuple literal's name passed as an array -> rt.array  transforms/kind_rewrites.py
    forward          tangent statements after each primal one                            transforms/forward.py
    where            (with argument kinds) np.where of scalars -> rt.select              transforms/optimize/scalarize.py
    fresh results    (the entry) a derivative returned that may be an argument's memory  transforms/memory_sharing.py
                     (d_x itself, np.transpose(d_x), the cotangent g) -> rt.copy(d)
    dead code        as in reverse mode; a stack goes as a whole                         transforms/optimize/deadcode.py
    versions         v_2 -> v2 where v is reassigned (Numba's versioned names)           transforms/forward.py
    unbound          placeholders for values read where they may be unassigned           transforms/unbound.py
the module:
    reached          functions the entry does not reach (by name) dropped                compiler.py
    raise stacks     rt.stack/push/pop -> Python lists, in every function of the module  transforms/forward.py
source (each function):
    stacks           (jit only) range loops' stacks of float arrays -> row tapes         transforms/stacks.py
    scale tapes      (jit only) taped log-domain products keep their scales for          transforms/logdomain_scales.py
                     their adjoints
    rows             (jit only) x @ w, a sum of its rows' terms and x.T @ d_z: one loop  transforms/optimize/rowfusion.py
                     over the rows of x (jit="parallel": on all threads, optimize/rowchunks.py)
    products         (jit only) a @ b, np.dot, np.matmul -> rt.dot (no BLAS cliff);      transforms/products.py
                     a rule's calls -> its record's jit_as (np.tanh -> rt.tanh)
    inplace          (jit only) x[:, j] += v -> rt.add_into(x[:, j], v)                  transforms/inplace.py
    bounds           (jit only) index tests once per loop, before it: the function is    transforms/bounds.py
                     compiled without Numba's per-access checks
    emit             Python source with comments naming the user's lines                 transforms/emit.py
the compiled form (jit only: what Numba compiles, never the source shown):
    one chunk        (jit="parallel") the chunks' loop on threads under `if chunks > 1:`,  transforms/optimize/rowchunks.py
                     a plain loop of the same statements under its `else:` (a forked
                     child must start no threads)
    whole reads      a[...] read -> a (Numba has no getitem of an Ellipsis alone)        transforms/whole_reads.py
    masks            x[m] of a boolean mask m of rank >= 2 -> rt.mask_get / rt.mask_put  transforms/masks.py
    promotions       x * counts, counts an integer array -> x * rt.numpy_float(counts,   transforms/promotions.py
                     x): NumPy's float64 (Numba computes float32 with int64 in float32);
                     math.sqrt(a) -> math.sqrt(rt.to_float(a)) (a float32: in float64)
    elementwise      (reverse mode) array expressions -> rt.elementwise, kernels shared  transforms/elementwise.py
    layouts          names a loop or branch binds again: their bindings that can be F    transforms/layouts.py
                     arrays -> rt.any_layout(value) (Numba unifies an F array with a C
                     one as A)
    local names      a name a loop or branch binds, reads there after binding it and     transforms/local_names.py
                     nothing reads after it -> a name of its own there
                     (Numba's SSA rebuild walks the function once per name bound twice)
    parts            a function of more than 600 statements: its large loops and         transforms/function_parts.py
                     branches -> functions of their own, named after the user's line,
                     taking their live names (LLVM's time grows as size ** 1.8); the
                     chunks' `if chunks > 1:` -> a function of its own, the only one
                     compiled for threads (optimize/rowchunks.py's on_threads)
    emit             as above; statements left as they were: the source's, reused        transforms/emit.py

How the functions of one derivative are gathered into a module (entry, callees' primals and
derivatives) is srcdiff/module_builder.py's: it runs the lists above.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import gast

from .transforms import annotations as anno
from .transforms import (activity, aliasing, anf, bounds, caller_arrays, canonicalize, checks, closures, controlflow, desugar, dims,
                         elementwise,
                         emit, factories, flatten, follow_writes, forward, inline, inplace, invariants, kind_rewrites, kinds, layouts, lists, local_names, logdomain, logdomain_scales, masks,
                         optimize, parse, preaccumulate, products, resolve, reverse, ssa, stacks, tuples, unbound,
                         whole_reads)
from .transforms import function_args, function_parts, memory_sharing, promotions, seed_ones, zero_d_locals
from .transforms.astutil import Transformer, clone, dotted_name, walk_names, walk_statements
from .transforms.checkpoints import rerun_segments
from .transforms.kind_type import is_scalar


# ---- the pipeline -------------------------------------------------------------------------------------------
@dataclass
class Context:
    """What the passes read and write. Front end and middle end: `unit` (from `source`, flattened by
    `structs`); a derivative function: `mode` (grad | value_and_grad | vjp | pullback | jvp), `wrt`, its
    `name`, the callbacks naming callees' derivatives (`callee_derivative`) and result kinds
    (`callee_kind`), the arguments' `arg_kinds` / `arg_dims`, `checkpoints`, the callees without effects
    (`pure_callees`); the facts passes establish:
    `kinds` (inferred when first read after a pass that changed the tree called `changed`), `active`,
    `shapes` and `long_arrays` (dims), reverse mode's structured result `sweeps`, and the function built, `fn`."""
    unit: parse.Unit | None = None
    source: object = None
    structs: dict | None = None
    mode: str = "grad"
    wrt: list = field(default_factory=list)
    name: str = ""
    callee_derivative: Callable | None = None
    callee_kind: Callable | None = None
    inline_callee: Callable | None = None
    inlining: tuple = ()    # (middle end) ids of the functions whose calls stay calls: the one differentiated
    for_structures: Callable | None = None  # (middle end) a callee made for the tuples a call that stays passes
    arg_kinds: dict = field(default_factory=dict)
    typed: bool = False                 # (front end) the kinds will be known where it is differentiated
    for_call: bool = False              # (front end) a callee made for the structures one call passes (inline.py)
    arg_dims: dict = field(default_factory=dict)
    checkpoints: int | None = None
    pure_callees: frozenset = frozenset()   # user functions that stay calls and have no effect (dead code)
    active: set | None = None
    shapes: dict | None = None
    long_arrays: dict = field(default_factory=dict)     # dims.without_unit_axes: name -> rank
    sweeps: reverse.Sweeps | None = None
    fn: gast.FunctionDef | None = None
    jit: bool | str = False   # True, or "parallel" (row-fused loops on all threads)
    module: object = None
    tree: object = None     # emit's standard-library tree of `fn` (its `source` is printed from it)
    names: object = None    # the index of fn's names the passes from "fuse" to "where" share (optimize.NameIndex)
    earlier: tuple | None = None  # the compiled form's: the source's (fn, tree), whose statements its emit reuses
    tangent_kinds: dict = field(default_factory=dict)   # (forward mode) the kinds of the tangents, where known
    floats64: bool = False  # (reverse mode, the entry) its float arguments are float64 (specialisations.floats64)
    parts: list = field(default_factory=list)   # (the compiled form) the functions "parts" moved out of `fn`
    entry: bool = False     # the function the user calls (not a callee's derivative): its results are new arrays
    _kinds: dict | None = None

    def __repr__(self):     # (short: see parse.Unit.__repr__)
        return f"<Context {self.mode} of {self.unit!r}>"

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


def is_generated(obj) -> bool:
    """`obj` is a function srcdiff generated (its module is one of the loaded generated modules)."""
    fn = obj.func if isinstance(obj, parse.Unit) else getattr(obj, "py_func", obj)
    from .cachedir import is_generated_module
    return is_generated_module(getattr(fn, "__module__", None))


def _is_generated_unit(unit) -> bool:
    """Is `unit` code srcdiff generated (forward mode over a gradient), not the user's?"""
    from .cachedir import is_generated_file
    return is_generated_file(unit.filename)


def _lists(ctx):
    lists.separate(ctx.unit.node)
    lists.check(ctx.unit)
    # (a pop as a statement, `st.pop()` in a branch, is named as generated code's are: its backward sweep pushes a
    # zero onto the stack's adjoint, so that the appends' adjoints stay matched with their items; without it the
    # pops below took the adjoints of the wrong items, d/dx [0, 0, 0.8, 2.4, 1.6] for [0.8, 0, 2.4, 0, 1.6])
    ctx.unit.node = forward.name_dropped_pops(forward.lower_stacks(ctx.unit.node))


def _user_lists(ctx) -> bool:
    """The user's function (reverse mode) builds a list: its stacks are lowered as generated code's are."""
    return not _lowers_generated(ctx) and lists.has_lists(ctx.unit.node)


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


def _set_unit(step):
    def go(ctx):
        ctx.unit = step(ctx.unit)
    return go


def _parse(ctx):
    if ctx.unit is None and isinstance(ctx.source, parse.Unit):
        # (a lifted nested function: the front end works on a copy, since the module makes one front-end unit of
        # it per structure of its tuple arguments and every unit must start from the same tree)
        ctx.unit = ctx.source
        _copy_unit(ctx)
    elif ctx.unit is None:
        ctx.unit = parse.parse(ctx.source)


def _flatten(ctx):
    structs = {ctx.unit.renamed.get(k, k): v for k, v in ctx.structs.items()} if ctx.structs else ctx.structs
    ctx.unit = flatten.flatten_arguments(ctx.unit, structs, for_call=ctx.for_call)


def _generated(ctx):
    if _is_generated_unit(ctx.unit):     # jitted code's index tests (transforms/bounds.py): its derivative writes its own
        ctx.unit.node = bounds.drop_tests(ctx.unit.node)
        _mark_placeholders(ctx.unit)
    lists.separate(ctx.unit.node)       # (xs, ys = [], []; traj = [y0] appended to: one list per statement)
    if ctx.forward_mode:                # (pts.append((u, v)) ... np.array(pts): reverse mode's check does this)
        lists.rows_as_arrays(ctx.unit.node)
    ctx.unit.node = logdomain.split_adjoints(logdomain_scales.untape_scales(forward.lower_stacks(ctx.unit.node)))
    if not ctx.forward_mode:
        ctx.unit.node = forward.name_dropped_pops(_fold_negative_constants(ctx.unit.node))


def _mark_placeholders(unit):
    """The placeholders of generated code read back as text (srcdiff.hvp: forward mode over the gradient's module):
    its assignments at the lines the module's line table notes (generated.Lines.placeholders) carry PLACEHOLDER or
    SUM_EMPTY again, as on the tree the gradient was printed from, for the CUDA lowering (an array's placeholder
    takes the shape of the name's real binding there). No table (a module loaded from an older cache): none."""
    from . import backends
    table = backends.lines_of(unit.filename)
    marks = dict(table.placeholders) if table is not None else {}
    if not marks:
        return
    key = {"placeholder": anno.PLACEHOLDER, "empty": anno.SUM_EMPTY}
    for s in walk_statements(unit.node.body):
        what = marks.get(getattr(s, "lineno", None)) if isinstance(s, gast.Assign) else None
        if what in key and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            anno.set(s, key[what])


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
    if not ctx.unit.callees:
        return      # (no call of a user function to inline: the function is not walked)
    ctx.unit = inline.inline_calls(ctx.unit, ctx.inline_callee, ctx.inlining, ctx.for_structures)


def _none_parameters(ctx) -> list:
    return [p for p, k in ctx.arg_kinds.items() if kinds.is_none(k)]


def _none_args(ctx):
    ctx.changed(inline.decide_none_arguments(ctx.unit, _none_parameters(ctx)))


def _cse(ctx):
    optimize.common_subexpressions(ctx.unit.node)


def _kinds(ctx):
    ctx.kinds


def _sum_starts(ctx):
    ctx.changed(kind_rewrites.sum_starts(ctx.unit, ctx.kinds))


def _scalar_helpers(ctx):
    ctx.changed(kind_rewrites.scalar_helpers(ctx.unit, ctx.kinds))


def _scalar_products(ctx):
    ctx.changed(kind_rewrites.scalar_products(ctx.unit, ctx.kinds))


def _array_literals(ctx):
    if kind_rewrites.array_literal_operands(ctx.unit, ctx.kinds):
        # an array made of a list tells the kinds of what is computed from it (t = sum([c, M[0, 0]]) was unknown),
        # a sum's terms among them: their start, left 0.0 while unknown, is made again (fuzz nested 1003005)
        ctx.changed()
        ctx.changed(kind_rewrites.sum_starts(ctx.unit, ctx.kinds))


def _ellipsis_numbers(ctx):
    ctx.changed(kind_rewrites.ellipsis_numbers(ctx.unit, ctx.kinds))


def _scalar_items(ctx):
    ctx.changed(kind_rewrites.scalar_items(ctx.unit, ctx.kinds))


def _follow_writes(ctx):
    if follow_writes.follow_writes(ctx.unit.node, optimize.eliminate_dead_code, _is_generated_unit(ctx.unit)):
        ctx.changed()


def _logdomain(ctx):
    if not any(isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)
               and dotted_name(s.value.func) == "rt.logsumexp" for s in walk_statements(ctx.unit.node.body)):
        return      # it rewrites `z = rt.logsumexp(...)` only: no copy of the unit, the kinds stay valid
    ctx.unit = logdomain.log_domain_products(ctx.unit, ctx.kinds)
    ctx.changed()


def _activity(ctx):
    ctx.active = activity.active_names(ctx.unit.node, ctx.wrt, ctx.unit.callees)


def _checks(ctx):
    checks.check_float_of_arrays(ctx.unit, ctx.kinds)
    checks.check_single_matrices(ctx.unit, ctx.kinds, ctx.active)
    checks.check_sequence_arithmetic(ctx.unit, ctx.kinds, ctx.wrt)


def _dims(ctx):
    labels = dims.infer(ctx.unit.node, ctx.kinds, ctx.arg_dims) if ctx.kinds and ctx.arg_dims else {}
    ctx.shapes = kinds.shape_classes(ctx.unit.node, ctx.kinds, labels) if ctx.kinds else None
    ctx.long_arrays = dims.without_unit_axes(labels)


def _reverse(ctx):
    spec = reverse.Spec(ctx.wrt, ctx.active, ctx.mode, ctx.callee_derivative, ctx.kinds, ctx.shapes, ctx.checkpoints,
                        ctx.long_arrays)
    ctx.sweeps = reverse.differentiate(ctx.unit, spec, ctx.name)
    ctx.fn = ctx.sweeps.function


def _on_fn(step):
    def go(ctx):
        ctx.fn = step(ctx.fn)
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
        unbound.define_unbound(ctx.fn, {**ctx.kinds, **ctx.tangent_kinds} if ctx.arg_kinds else None)


def _stack_kinds(ctx):
    ctx.fn = stacks.record_stack_kinds(ctx.fn, ctx.sweeps.kinds, ctx.sweeps.stacks)


def _views(ctx):
    kind_rewrites.decline_writes_into_imag(ctx.unit, ctx.kinds)   # (NumPy's x.imag is read-only: before the views')
    aliasing.check_views(ctx.unit, ctx.kinds)


def _forward_views(ctx):
    # tangents of views are views: fine; `a += v` of an array (known where the argument kinds are) is not
    kind_rewrites.decline_writes_into_imag(ctx.unit, ctx.kinds if ctx.arg_kinds else {})
    aliasing.check_views(ctx.unit, ctx.kinds if ctx.arg_kinds else {}, renames_only=True)


def _dead_code(ctx):
    if ctx.sweeps is not None:    # (elements of arrays are no views of them: optimize/owned.py)
        anno.set(ctx.fn, anno.SCALARS, frozenset(v for v, k in ctx.sweeps.kinds.items() if is_scalar(k)))
    ctx.fn = optimize.eliminate_dead_code(ctx.fn, ctx.pure_callees)


def _caller_arrays(ctx):
    ctx.fn = caller_arrays.leave_as_f_leaves(ctx.fn, ctx.sweeps, ctx.unit.name, bool(ctx.checkpoints))


def _checkpoints(ctx):
    if not any(anno.has(s, anno.SEGMENTS) for s in walk_statements(ctx.fn.body)):
        return      # (no checkpointed loop: nothing to split, and "late copies" has just dropped the lone comments)
    fn = rerun_segments(ctx.fn, ctx.sweeps.kinds)
    # the forward loop without its pushes: what only they read (a branch computing a taped value) goes
    fn = optimize.eliminate_dead_code(fn, ctx.pure_callees)
    fn.body = optimize.without_lone_line_comments(fn.body)    # (a forward loop without its pushes may end in one)
    ctx.fn = fn


def _carried_copies(ctx):
    scalars = {v for v, k in ctx.sweeps.kinds.items() if is_scalar(k)}
    ctx.fn = optimize.coalesce_carried(ctx.fn, scalars)   # (with the lone line comments of the bodies it changes)


def _late_copies(ctx):
    fn = optimize.propagate_and_coalesce(optimize.drop_copy_backs(ctx.fn), rebound=True)
    fn = optimize.merge_copy_then_add(fn, ctx.sweeps.kinds if _floats64(ctx) else None)
    fn.body = optimize.without_lone_line_comments(fn.body)
    ctx.fn = fn


def _floats64(ctx) -> bool:
    """Every float the function holds is a float64: its float arguments are (the call's) and it makes no other."""
    return ctx.floats64 and seed_ones.floats_stay_float64(ctx.unit.node)


def _fold_seed(ctx):
    ctx.fn = seed_ones.fold_seed(ctx.fn, ctx.sweeps.kinds, ctx.sweeps.adjoint_names())


def _forward(ctx):
    fwd = forward.Forward(ctx.unit, ctx.wrt, ctx.callee_derivative, ctx.kinds if ctx.arg_kinds else None)
    ctx.fn = fwd.function(ctx.name)
    if ctx.arg_kinds:    # the stacks of a gradient differentiated again, and their tangents' (typed under jit)
        ctx.tangent_kinds = fwd.tangent_kinds()
        ctx.fn = stacks.record_stack_kinds(ctx.fn, {**ctx.kinds, **ctx.tangent_kinds})


def _has_arg_kinds(ctx) -> bool:
    return bool(ctx.arg_kinds)


def _derivatives(mode):
    """The part of a derivative function's returned value that is derivatives: all of grad's, the second of the
    (value, derivatives) pair of the other modes."""
    def part(ret):
        if mode == "grad":
            return ret
        return ret.elts[1] if isinstance(ret, gast.Tuple) and len(ret.elts) == 2 else None
    return part


def _fresh_results(ctx):
    known = {**(ctx.sweeps.kinds if ctx.sweeps is not None else ctx.kinds if ctx.arg_kinds else {}),
             **ctx.tangent_kinds}
    before = len(ctx.fn.body)
    ctx.fn = memory_sharing.fresh_results(ctx.fn, _derivatives(ctx.mode), known)
    if len(ctx.fn.body) != before:     # (a tuple display written out at the return: its line's comment may be alone)
        ctx.fn.body = optimize.without_lone_line_comments(ctx.fn.body)


def _is_entry(ctx) -> bool:
    return ctx.entry and ctx.mode in ("grad", "value_and_grad", "vjp", "jvp")


FRONT_END = [
    Pass("parse", _parse, "transforms/parse.py", "source text -> gast FunctionDef at the user's lines;\n(check) a "
         "local read before any assignment to it is declined (scopes.py)"),
    Pass("flatten", _flatten, "transforms/flatten.py", "tuple/list arguments -> one parameter per array;\ndicts "
         "made here, and returned by your functions: one name per item"),
    Pass("generated", _generated, "transforms/forward.py",
         "(generated code differentiated again) list stacks -> rt.stack,\nrt.push, rt.pop; fused log-domain "
         "adjoints split (logdomain.py);\nits placeholders annotated again (the line table's)", _lowers_generated),
    Pass("lists", _lists, "transforms/lists.py", "(reverse mode) the user's lists built with appends -> rt.stack,\n"
         "rt.push, rt.pop; np.array(out) -> rt.stack_array(out)", _user_lists),
    Pass("function args", _set_unit(function_args.specialise_function_arguments), "transforms/function_args.py",
         "rk4(rhs, y, h) -> rk4_rhs(y, h) (a copy of the callee calling the\nfunction passed by name)"),
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
    Pass("0-d locals", _set_unit(zero_d_locals.numbers_of_0d_locals), "transforms/zero_d_locals.py",
         "s = np.zeros(()) -> s = 0.0, s[()] = v -> s = float(v), where\nno read can tell the 0-d array from the number it holds"),
    Pass("structure", _set_unit(controlflow.structure), "transforms/controlflow.py",
         "early return / break / continue -> structured flow"),
]

ANF = [
    Pass("anf", lambda c: (_copy_unit(c), setattr(c, "unit", anf.to_anf(c.unit))), "transforms/anf.py",
         "(on a copy of the front end's unit) one operation per statement"),
    Pass("inline", _inline, "transforms/inline.py", "user-function calls spliced in (recursive ones stay calls)",
         lambda c: c.inline_callee is not None),
]
MIDDLE_END = ANF + [
    Pass("ssa", _set_unit(ssa.to_ssa), "transforms/ssa.py", "single assignment; loop-carried and merge copies"),
    Pass("follow writes", _follow_writes, "transforms/follow_writes.py",
         "after `a = b` and a write through a, a's reads read b (one name\nper array; before cse, which must see the write)"),
    Pass("cse", _cse, "transforms/optimize/cse.py", "repeated operations in a block reuse the first result"),
    Pass("invariants", lambda c: invariants.hoist_constant_arrays(c.unit.node), "transforms/invariants.py",
         "a loop's constant arrays (np.array((1.0, -0.5))) and their reads by\nconstant index made once, before it"),
]

NONE_ARGS = Pass("none args", _none_args, "transforms/inline.py", "(specialisation) w is None of an argument "
                 "passed None decided,\nthe branch not taken dropped", lambda c: bool(_none_parameters(c)))
REVERSE = [
    NONE_ARGS,
    Pass("tuples", _set_unit(tuples.split_tuples), "transforms/tuples.py",
         "tuple values -> one name per component (t = (a, b); t[0])"),
    Pass("reverse rules", lambda c: checks.check_reverse_rules(c.unit, c.wrt), "transforms/checks.py",
         "(check) a derivative the rule table has no vjp for is declined"),
    Pass("kinds", _kinds, "transforms/kinds.py",
         "scalar/array kinds from the arguments' (specialisation); inferred\nagain after each pass that "
         "changes the tree"),
    Pass("sum starts", _sum_starts, "transforms/kind_rewrites.py", "sums over comprehensions start from 0.0 or zeros, by kind"),
    Pass("scalar helpers", _scalar_helpers, "transforms/kind_rewrites.py",
         "(a gradient differentiated again) rt.seed(s), rt.zeros_like(s),\nrt.unbroadcast(g, s) of scalars -> 1.0, 0.0, g",
         _has_arg_kinds),
    Pass("scalar products", _scalar_products, "transforms/kind_rewrites.py",
         "np.inner(x, s) and kin with a scalar operand -> x * s", _has_arg_kinds),
    Pass("array literals", _array_literals, "transforms/kind_rewrites.py", "w * [a, b] (w an array), np.stack of scalars, sum(t) of a tuple\nvalue t -> rt.array"),
    Pass("aliasing", _views, "transforms/aliasing.py",
         "(check) no view is read after a write to its array"),
    Pass("ellipsis numbers", _ellipsis_numbers, "transforms/kind_rewrites.py",
         "b[0, ...] of a vector (a 0-d view, a number's value) -> b[0]"),
    Pass("scalar items", _scalar_items, "transforms/kind_rewrites.py",
         "a[()] of a number (a 0-d array argument under jit) -> a"),
    Pass("logdomain", _logdomain, "transforms/logdomain.py",
         "loop logsumexp(v[:, None] + M) -> log-domain product, exp(M)\nhoisted out of the loop", _has_arg_kinds),
    Pass("activity", _activity, "transforms/activity.py", "which values carry derivatives"),
    Pass("checks", _checks, "transforms/checks.py",
         "(check) linear algebra of stacks of matrices, list arithmetic of\ndifferentiated values, float() of arrays"),
    Pass("dims", _dims, "transforms/dims.py",
         "which axes have equal lengths, from the arguments' pattern\n(specialisation): shape classes"),
    Pass("reverse", _reverse, "transforms/reverse.py",
         "forward sweep with stacks and tapes (reverse_storage.py) +\nbackward sweep from rule table "
         "(reverse_backward.py), in rounds,\nwith checkpointed loops (checkpoints.py) -> reverse.Sweeps"),
    Pass("caller's arrays", _caller_arrays, "transforms/caller_arrays.py",
         "an argument array both sweeps write into: its state after the\nforward sweep written back before the return",
         lambda c: c.mode in caller_arrays.MODES),
    Pass("dead code", _dead_code, "transforms/optimize/deadcode.py",
         "values nothing reads (liveness), emptied loops and branches,\nline comments left with no code"),
    Pass("copies", _on_fn(optimize.propagate_and_coalesce), "transforms/optimize/copies.py",
         "copy propagation, then b = e; a = b with b read once -> a = e\n(a branch merge binds its name at once)"),
    Pass("fuse adjoints", _on_fn(logdomain.fuse_adjoints), "transforms/logdomain.py",
         "a log-domain product's two adjoints in one call"),
    Pass("preaccumulate", _preaccumulate, "transforms/preaccumulate.py",
         "loop bodies: scalar adjoints as partials times incoming ones"),
    Pass("fuse", _fuse, "transforms/optimize/fusion.py", "elementwise fusion"),
    Pass("sum grads", _scalar_sum_grads, "transforms/optimize/scalarize.py", "filled sum/mean adjoints -> scalars"),
    Pass("where", _scalar_where, "transforms/optimize/scalarize.py", "elementwise fusion again; np.where of scalars"),
    Pass("dead stacks", _dead_stacks, "transforms/optimize/deadcode.py",
         "stacks the backward sweep (from Sweeps.backward_start) never\nreads"),
    Pass("late copies", _late_copies, "transforms/optimize/copies.py",
         "copies back dropped, copies and coalesce again (the passes since\n"
         "then leave copies too), then line comments left with no code;\n"
         "(float64 arguments) d_a = rt.copy(d_a); d_a += e -> d_a = d_a + e"),
    Pass("seed", _fold_seed, "transforms/seed_ones.py",
         "(grad, float64 arguments) d_r = 1.0; d_u = d_r * v -> d_u = v (v a\nfloat scalar, or float arithmetic)",
         lambda c: c.mode in ("grad", "value_and_grad") and _floats64(c)),
    Pass("checkpoints", _checkpoints, "transforms/checkpoints.py",
         "(checkpoints=k) outermost loops: forward untaped with snapshots,\nthe backward sweep reruns a segment "
         "from its snapshot, taping it"),
    Pass("carried copies", _carried_copies, "transforms/optimize/copies.py",
         "i1 = i + 1; ...; i = i1 (a loop's carried copy) -> i = i + 1 where\nnothing between reads the old i"),
    Pass("fresh results", _fresh_results, "transforms/memory_sharing.py",
         "(the entry) a derivative returned that may be an argument's memory\n(d_x itself, np.transpose(d_x), the "
         "cotangent g) -> rt.copy(d)", _is_entry),
    Pass("unbound", _unbound, "transforms/unbound.py", "placeholders for values read where they may be unassigned"),
    Pass("stack kinds", _stack_kinds, "transforms/stacks.py", "what each stack holds, for row tapes (jit)"),
    Pass("row facts", lambda c: optimize.record_row_facts(c.fn, c.sweeps.kinds, c.sweeps.shapes),
         "transforms/optimize/rowfusion.py", "kinds and shapes of a function with x @ w, for row fusion (jit)"),
]

FORWARD = [
    Pass("none args", _none_args, "transforms/inline.py", "as in reverse mode", lambda c: bool(_none_parameters(c))),
    Pass("kinds", _kinds, "transforms/kinds.py", "(with argument kinds) as in reverse mode", _has_arg_kinds),
    Pass("sum starts", _sum_starts, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode", _has_arg_kinds),
    Pass("scalar helpers", _scalar_helpers, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode",
         _has_arg_kinds),
    Pass("scalar products", _scalar_products, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode",
         _has_arg_kinds),
    Pass("array literals", _array_literals, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode", _has_arg_kinds),
    Pass("scalar items", _scalar_items, "transforms/kind_rewrites.py", "(with argument kinds) as in reverse mode",
         _has_arg_kinds),
    Pass("checks", lambda c: checks.check_float_of_arrays(c.unit, c.kinds), "transforms/checks.py",
         "(check, with argument kinds) float() of an array of rank 1 or more", _has_arg_kinds),
    Pass("aliasing", _forward_views, "transforms/aliasing.py",
         "(check, user code) views renamed, not written through", lambda c: not _is_generated_unit(c.unit)),
    Pass("named tuples", lambda c: kind_rewrites.named_tuple_arrays(c.unit), "transforms/kind_rewrites.py",
         "(no argument kinds) a tuple literal's name passed as an array -> rt.array",
         lambda c: not _has_arg_kinds(c)),
    Pass("forward", _forward, "transforms/forward.py", "tangent statements after each primal one"),
    Pass("where", lambda c: setattr(c, "fn", optimize.scalar_where(c.fn, c.kinds)), "transforms/optimize/scalarize.py",
         "(with argument kinds) np.where of scalars -> rt.select", _has_arg_kinds),
    Pass("fresh results", _fresh_results, "transforms/memory_sharing.py",
         "(the entry) a derivative returned that may be an argument's memory\n(d_x itself, np.transpose(d_x), the "
         "cotangent g) -> rt.copy(d)", _is_entry),
    Pass("dead code", _dead_code, "transforms/optimize/deadcode.py",
         "as in reverse mode; a stack goes as a whole"),
    Pass("versions", _on_fn(forward.avoid_version_clashes), "transforms/forward.py",
         "v_2 -> v2 where v is reassigned (Numba's versioned names)"),
    Pass("unbound", _unbound, "transforms/unbound.py", "placeholders for values read where they may be unassigned"),
]

def _reached(ctx):
    """The module without the functions its entry does not reach (a recursive helper whose only call the
    dead-code pass dropped: its primal copy would be dead code)."""
    m = ctx.module
    by_name = {f.name: f for f in m.functions}
    if m.entry not in by_name or len(by_name) == 1:
        return      # (the entry alone: nothing to drop, no walk)
    reached, todo = {m.entry}, [by_name[m.entry]]
    while todo:
        for n in walk_names(todo.pop()):
            if n.id in by_name and n.id not in reached:
                reached.add(n.id)
                todo.append(by_name[n.id])
    m.functions = [f for f in m.functions if f.name in reached]


MODULE = [
    Pass("reached", _reached, "compiler.py", "functions the entry does not reach (by name) dropped"),
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
    Pass("rows", lambda c: setattr(c, "fn", optimize.fuse_rows(c.fn, threads=c.jit == "parallel")),
         "transforms/optimize/rowfusion.py", "(jit only) x @ w, a sum of its rows' terms and x.T @ d_z: one loop\n"
         "over the rows of x (jit=\"parallel\": on all threads, optimize/rowchunks.py)", lambda c: c.jit),
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

def _parts(ctx):
    taken = set(ctx.module.function_names) | set(ctx.module.bindings) if ctx.module is not None else set()
    fn, threads = function_parts.apart(ctx.fn, optimize.on_threads, "threads", taken)
    ctx.fn, parts = function_parts.split(fn, taken | {p.name for p in threads})
    ctx.parts = threads + parts


def emit_part(fn) -> Context:
    """The context of a part "parts" moved out of a function (the compiled form), emitted."""
    ctx = Context(fn=fn)
    _emit(ctx)
    return ctx


COMPILED = [      # Module.generate: jitted, after SOURCE, the module Numba compiles (Generated.compiled)
    Pass("one chunk", _on_fn(optimize.one_chunk_apart), "transforms/optimize/rowchunks.py",
         "(jit=\"parallel\") the chunks' loop on threads under `if chunks > 1:`,\n"
         "a plain loop of the same statements under its `else:` (a forked\nchild must start no threads)"),
    Pass("whole reads", _on_fn(whole_reads.whole_reads), "transforms/whole_reads.py",
         "a[...] read -> a (Numba has no getitem of an Ellipsis alone)"),
    Pass("masks", lambda c: setattr(c, "fn", masks.route_masks(
        c.fn, c.module.kinds.get(c.fn.name) or c.module.forward_kinds.get(c.fn.name) or {})),
         "transforms/masks.py", "x[m] of a boolean mask m of rank >= 2 -> rt.mask_get / rt.mask_put"),
    Pass("promotions", lambda c: setattr(c, "fn", promotions.promotions(
        c.fn, c.module.kinds.get(c.fn.name) or c.module.forward_kinds.get(c.fn.name) or {})),
         "transforms/promotions.py", "x * counts, counts an integer array -> x * rt.numpy_float(counts,\n"
         "x): NumPy's float64 (Numba computes float32 with int64 in float32);\nmath.sqrt(a) -> math.sqrt(rt.to_float(a)) "
         "(a float32: in float64)"),
    Pass("elementwise", lambda c: setattr(c, "fn", elementwise.call_kernels(c.fn, c.module.kinds[c.fn.name])),
         "transforms/elementwise.py", "(reverse mode) array expressions -> rt.elementwise, kernels shared",
         lambda c: c.fn.name in c.module.kinds),
    Pass("layouts", lambda c: setattr(c, "fn", layouts.any_layouts(
        c.fn, c.module.kinds.get(c.fn.name) or c.module.forward_kinds.get(c.fn.name) or {})),
         "transforms/layouts.py", "names a loop or branch binds again: their bindings that can be F\n"
         "arrays -> rt.any_layout(value) (Numba unifies an F array with a C\none as A)"),
    Pass("local names", _on_fn(local_names.local_names), "transforms/local_names.py",
         "a name a loop or branch binds, reads there after binding it and\nnothing reads after it -> a name of its own there"
         "\n(Numba's SSA rebuild walks the function once per name bound twice)"),
    Pass("parts", _parts, "transforms/function_parts.py",
         "a function of more than 600 statements: its large loops and\nbranches -> functions of their own, named "
         "after the user's line,\ntaking their live names (LLVM's time grows as size ** 1.8); the\n"
         "chunks' `if chunks > 1:` -> a function of its own, the only one\ncompiled for threads "
         "(optimize/rowchunks.py's on_threads)"),
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


def front_end(fn_or_unit, structs: dict | None = None, mode: str = "grad", typed: bool = False,
              for_call: bool = False) -> parse.Unit:
    """Everything up to (not including) ANF: returns a resolved, structured unit. `mode`: what the unit
    is for ("jvp": forward mode); `typed`: it is differentiated (itself, or inlined into a function) with
    its arguments' kinds known, so the kinds tell its sums' starts (forward mode; else they start from 0.0);
    `for_call`: a callee made for the structures a call passes (`structs`), whose writes into their items
    inline.py declines, else the function differentiated (flatten declines them)."""
    return run(FRONT_END, Context(source=fn_or_unit, structs=structs, mode=mode, typed=typed,
                                  for_call=for_call)).unit


def anf_unit(unit: parse.Unit, inline_callee=None) -> parse.Unit:
    """A copy of a front-end unit in A-normal form, with user calls inlined where possible."""
    return run(ANF, Context(unit=unit, inline_callee=inline_callee)).unit


def middle_end(unit: parse.Unit, inline_callee=None, inlining: tuple = (), for_structures=None) -> parse.Unit:
    """The unit in SSA, its calls inlined by `inline_callee` but those of the functions `inlining` names (by
    id): a recursive function's calls of itself stay calls of its derivative, not its body inlined once more.
    `for_structures(obj, structs)`: a callee made for the tuples a call that stays a call passes (inline.py)."""
    return run(MIDDLE_END, Context(unit=unit, inline_callee=inline_callee, inlining=inlining,
                                   for_structures=for_structures)).unit


def gradient_function(unit: parse.Unit, wrt: list, mode: str, name: str, callee_vjp,
                      arg_kinds: dict | None = None, arg_dims: dict | None = None,
                      checkpoints: int | None = None, callee_kind=None) -> gast.FunctionDef:
    """The reverse-mode function for an SSA unit (mode: grad | value_and_grad | vjp | pullback);
    `checkpoints`: the most snapshots each outermost loop keeps (transforms/checkpoints.py), None to tape
    every iteration; `callee_kind`: the kinds of the results of calls that stay calls (kinds.infer)."""
    ctx = Context(unit=unit, wrt=wrt, mode=mode, name=name, callee_derivative=callee_vjp, callee_kind=callee_kind,
                  arg_kinds=arg_kinds or {}, arg_dims=arg_dims or {}, checkpoints=checkpoints)
    return run(REVERSE, ctx).fn
