"""The map of the house: the passes, in order, that turn a user's function into adjoint source.

    parse          source text -> gast FunctionDef at the user's lines          transforms/parse.py
    flatten        tuple/list arguments -> one parameter per array (if any)      transforms/flatten.py
    factories      g = make(c); g(u) -> g_c = c; make_fn(g_c, u) (the factory's  transforms/factories.py
                   body, returning its function's result)
    lift           nested defs / lambdas -> callees with free variables as args  transforms/closures.py
    desugar        augassign, unpacking, for-over-iterables, chained compares,   transforms/desugar.py
                   sum(... for ...) -> accumulating loops
    resolve        free names -> canonical primitives, callees, constants        transforms/resolve.py
    canonicalize   axis=/keepdims= (tuples of axes too), x[:, None], slogdet,    transforms/canonicalize.py
                   pow()/np.add() -> operators, composites (np.var, np.einsum,   rules/composites.py
                   ...) written out in primitives
    structure      early return / break / continue -> structured flow            transforms/controlflow.py
    anf            one operation per statement                                   transforms/anf.py
    inline         user-function calls spliced in (recursive ones stay calls)    transforms/inline.py
    ssa            single assignment; loop-carried and merge copies              transforms/ssa.py
    cse            repeated operations in a block reuse the first result         transforms/optimize/cse.py
    tuples         tuple values -> one name per component (t = (a, b); t[0])   transforms/tuples.py
    kinds          scalar/array kinds from the arguments' (specialisation)       transforms/kinds.py
    dims           which axes have equal lengths, from the arguments' pattern    transforms/dims.py
                   (specialisation): shape classes for reverse and optimize
    aliasing       (check) no view is read after a write to its array           transforms/aliasing.py
    logdomain      loop logsumexp(v[:, None] + M) -> log-domain product, exp(M)  transforms/logdomain.py
                   hoisted out of the loop (after reverse: its two adjoints fused)
    activity       which values carry derivatives                                transforms/activity.py
    reverse        forward sweep with stacks + backward sweep from rule table    transforms/reverse.py
    optimize       dead code removal, copy propagation                           transforms/optimize/
    preaccumulate  loop bodies: scalar adjoints as partials times incoming ones  transforms/preaccumulate.py
    optimize       elementwise fusion, filled sum/mean adjoints -> scalars, dead  transforms/optimize/
                   stacks dropped
    checkpoints    (checkpoints=k) outermost loops: forward untaped with snapshots, transforms/checkpoints.py
                   the backward sweep reruns a segment from its snapshot, taping it
    unbound        placeholders for values read where they may be unassigned     transforms/unbound.py
    stacks         (jit only) range loops' stacks of float arrays -> row tapes    transforms/stacks.py
    products       (jit only) a @ b, np.dot, np.matmul -> rt.dot (no BLAS cliff)  transforms/products.py
    inplace        (jit only) x[:, j] += v -> rt.add_into(x[:, j], v)             transforms/inplace.py
    emit           Python source with comments naming the user's lines           transforms/emit.py

`build_module` links a unit's gradient with its callees (their primal and their own vjp functions)
into one module source; srcdiff.backends exec's it as Python or compiles it with Numba.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import threading
from dataclasses import dataclass, field

import gast

from .errors import SrcdiffError, fail
from .transforms import annotations as anno
from .transforms import (activity, aliasing, anf, astutil, canonicalize, closures, controlflow, desugar, emit,
                         factories, flatten, inline, inplace, kinds, logdomain, optimize, parse, preaccumulate,
                         products, resolve, reverse, ssa, stacks, tuples, unbound)
from .transforms.astutil import (Namer, Transformer, clone, dotted_name, load, map_blocks, nested_blocks, walk,
                                 walk_statements)
from .transforms.checkpoints import rerun_segments


def front_end(fn_or_unit) -> parse.Unit:
    """Everything up to (not including) ANF: returns a resolved, structured unit."""
    unit = fn_or_unit if isinstance(fn_or_unit, parse.Unit) else parse.parse(fn_or_unit)
    unit = factories.bind_factories(unit)
    unit = closures.lift_local_functions(unit)
    unit = desugar.desugar(unit)
    unit = resolve.resolve(unit)
    unit = canonicalize.canonicalize(unit)
    unit = controlflow.structure(unit)
    return unit


def anf_unit(unit: parse.Unit, inline_callee=None) -> parse.Unit:
    """A copy of a front-end unit in A-normal form, with user calls inlined where possible."""
    unit = copy.copy(unit)
    unit.node = clone(unit.node)
    unit.callees = dict(unit.callees)
    unit.bindings = dict(unit.bindings)
    unit = anf.to_anf(unit)
    if inline_callee is not None:
        unit = inline.inline_calls(unit, inline_callee)
    return unit


def middle_end(unit: parse.Unit, inline_callee=None) -> parse.Unit:
    unit = ssa.to_ssa(anf_unit(unit, inline_callee))
    optimize.common_subexpressions(unit.node)
    return unit


def gradient_function(unit: parse.Unit, wrt: list, mode: str, name: str, callee_vjp,
                      arg_kinds: dict | None = None, arg_dims: dict | None = None,
                      checkpoints: int | None = None, callee_kind=None) -> gast.FunctionDef:
    """The reverse-mode function for an SSA unit (mode: grad | value_and_grad | vjp | pullback);
    `checkpoints`: the most snapshots each outermost loop keeps (transforms/checkpoints.py), None to tape
    every iteration; `callee_kind`: the kinds of the results of calls that stay calls (kinds.infer)."""
    unit = tuples.split_tuples(unit)
    check_reverse_rules(unit, wrt)
    kind_map = kinds.infer(unit.node, arg_kinds or {}, callee_kind)
    if sum_starts(unit, kind_map) | (bool(arg_kinds) and scalar_products(unit, kind_map)):
        kind_map = kinds.infer(unit.node, arg_kinds or {}, callee_kind)
    if array_literal_operands(unit, kind_map):
        kind_map = kinds.infer(unit.node, arg_kinds or {}, callee_kind)
    aliasing.check_views(unit, kind_map)
    if arg_kinds:
        unit = logdomain.log_domain_products(unit, kind_map)
        kind_map = kinds.infer(unit.node, arg_kinds, callee_kind)
    active = activity.active_names(unit.node, wrt, unit.callees)
    check_single_matrices(unit, kind_map, active)
    check_sequence_arithmetic(unit, kind_map, wrt)
    final, fn = reverse_sweeps(unit, wrt, active, mode, name, callee_vjp, kind_map, arg_dims,
                               checkpoints)
    fn = optimize.propagate_copies(optimize.eliminate_dead_code(fn))
    fn = logdomain.fuse_adjoints(fn)
    fn = preaccumulate.preaccumulate(fn, final.kinds, set(final.adj_names.values()) | final.adjoint_temps,
                                     final.namer)
    fn = optimize.fuse_elementwise(fn, final.kinds)
    fn = optimize.scalar_sum_grads(fn, final.kinds, final.shapes)
    fn = optimize.scalar_where(optimize.fuse_elementwise(fn, final.kinds), final.kinds)
    fn = optimize.drop_dead_stacks(fn)
    fn = rerun_segments(fn, final.kinds)
    fn = unbound.define_unbound(fn, final.kinds, final.shapes)
    return stacks.record_stack_kinds(fn, final.kinds)


def reverse_sweeps(unit: parse.Unit, wrt: list, active: set, mode: str, name: str, callee_vjp, kind_map: dict,
                   arg_dims: dict | None, checkpoints: int | None = None):
    """The reverse pass, built in up to three rounds: which primal values the backward sweep reads
    decides which a loop stores (and which overwritten array elements are restored), and storing or
    re-reading them can make the sweep read more. Round 1 stores nothing; round 2 restores the arrays
    round 1 found read after a write and stores what it read; round 3 adds what round 2 read.
    A round is built only when its inputs differ from the last one's (the output is a function of
    them): without loops nothing is stored, so with nothing to restore round 1 is final.
    Returns (the final Reverse, its function)."""
    loops = any(isinstance(n, (gast.For, gast.While)) for n in walk_statements(unit.node.body))
    first = reverse.Reverse(unit, wrt, active, mode, callee_vjp, set(), set(), kind_map, arg_dims, checkpoints)
    fn = first.function(name)
    written = {n.targets[0].value.id for n in walk_statements(unit.node.body)
               if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)}
    restore = written & first.reads
    if not loops and not restore:
        return first, fn
    second = reverse.Reverse(unit, wrt, active, mode, callee_vjp, restore, set(first.reads), kind_map, arg_dims,
                             checkpoints)
    fn = second.function(name)
    if second.reads <= first.reads:
        return second, fn
    final = reverse.Reverse(unit, wrt, active, mode, callee_vjp, restore, set(first.reads) | second.reads,
                            kind_map, arg_dims, checkpoints)
    return final, final.function(name)


def sum_starts(unit: parse.Unit, kind_map: dict) -> bool:
    """The start of a sum over a comprehension (desugar._start), once the kinds tell its terms: for scalar
    terms `total = 0.0`, the first term's computation gone (elsewhere: desugar.zero_sum_starts); for array
    terms of rank r, where the loops do not run, zeros of shape (1,) * r (0 broadcast as NumPy would, of the
    type Numba needs on both paths), and `total = rt.zeros_like(t)` where they do. Returns whether it changed."""
    changed = False

    def start(s):
        """(zeros assignment, 0.0 assignment, merged name) of `if <loops run>: total = rt.zeros_like(t) /
        else: total = 0.0` in SSA form, or None."""
        if not isinstance(s, gast.If):
            return None
        zeros = [b for b in s.body if isinstance(b, gast.Assign) and isinstance(b.value, gast.Call)
                 and dotted_name(b.value.func) == "rt.zeros_like" and len(b.value.args) == 1
                 and isinstance(b.value.args[0], gast.Name)]
        zero = [b for b in s.orelse if isinstance(b, gast.Assign) and isinstance(b.value, gast.Constant)
                and b.value.value == 0.0 and type(b.value.value) is float]
        if len(zeros) != 1 or len(zero) != 1:
            return None
        def merges(stmts, source):
            return {b.targets[0].id for b in stmts if isinstance(b, gast.Assign) and isinstance(b.value, gast.Name)
                    and b.value.id == source.targets[0].id and anno.get(b, anno.MERGE)}
        merged = merges(s.body, zeros[0]) & merges(s.orelse, zero[0])
        return (zeros[0], zero[0], merged.pop()) if len(merged) == 1 else None

    def block(stmts):
        nonlocal changed
        out = []
        for s in stmts:
            map_blocks(s, block)
            found = start(s)
            k = kind_map.get(found[0].value.args[0].id) if found else None
            if k is not None and k[0] == "s":
                out.append(gast.copy_location(astutil.assign(found[2], astutil.const(0.0)), s))
                changed = True
                continue
            if k is not None and k[0] == "a" and k[1] is not None:
                shape = gast.Tuple(elts=[astutil.const(1)] * k[1], ctx=gast.Load())
                found[1].value = gast.copy_location(astutil.call("np.zeros", shape), found[1].value)
                changed = True
            out.append(s)
        return out

    unit.node.body = block(unit.node.body)
    for s in walk_statements(unit.node.body):   # (an unguarded start: the loops' first values could not be written down)
        if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.zeros_like"
                and len(s.value.args) == 1 and isinstance(s.value.args[0], gast.Name)
                and (kind_map.get(s.value.args[0].id) or ("?",))[0] == "s"):
            s.value = gast.copy_location(gast.Constant(value=0.0, kind=None), s.value)
            changed = True
    return changed


def scalar_products(unit: parse.Unit, kind_map: dict) -> bool:
    """Composites written for arrays, met with a scalar operand where the kinds show one: np.inner(x, s)
    (rt.tensordot(x, np.moveaxis(s, -1, 0), 1)) is the product x * s, as in NumPy. Returns whether it changed."""
    def scalar(e):
        return isinstance(e, gast.Constant) or (isinstance(e, gast.Name) and (kind_map.get(e.id) or ("?",))[0] == "s")
    changed = False
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)):
            continue
        name, args = dotted_name(s.value.func), s.value.args
        if name == "np.moveaxis" and args and scalar(args[0]) and isinstance(s.targets[0], gast.Name):
            s.value = args[0]
            kind_map[s.targets[0].id] = kind_map.get(getattr(args[0], "id", None)) or ("s", "f")
            changed = True
        elif name == "rt.tensordot" and len(args) == 3 and (scalar(args[0]) or scalar(args[1])):
            s.value = gast.BinOp(left=args[0], op=gast.Mult(), right=args[1])
            changed = True
    return changed


def check_reverse_rules(unit: parse.Unit, wrt: list):
    """Decline, rather than drop, a derivative the rule table does not give: activity analysis follows
    the vjp templates only, so a differentiated argument of a rule without one would silently count as
    constant. With a jvp but no vjp this happens when generated code is differentiated again."""
    from .rules import RULES
    from .transforms import forward
    pairs = forward._edges(unit.node.body, unit.callees, [])
    varied = forward.varied_names(unit.node, wrt, unit.callees)
    ret = unit.node.body[-1].value
    useful = activity._closure([ret.id] if isinstance(ret, gast.Name) else [], pairs)
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.Call) and s.targets[0].id in useful):
            continue
        rule = RULES.get(dotted_name(s.value.func))
        p = forward.undifferentiated_param(rule, s.value, varied)
        if p is None:
            continue
        where = anno.get(s, anno.FILE)
        if p in forward.differentiable_params(rule):
            origin = f" (in {where}:{s.lineno}, code srcdiff generated)" if where else ""
            fail(unit.node if where else s, unit,
                 f"{rule.name} has a forward-mode rule but no reverse-mode rule for its argument "
                 f"{p!r}{origin}: reverse mode cannot differentiate through it",
                 "use forward over reverse instead: srcdiff.hvp / srcdiff.hessian, or "
                 "srcdiff.jvp of the gradient, or register the vjp in srcdiff/rules/runtime_rules.py")
        forward.decline_param(rule, p, unit.node if where else s, unit)


# linear-algebra rules whose adjoints transpose and multiply single matrices (a stack of matrices, which
# NumPy accepts, would get a wrong gradient: np.transpose reverses every axis)
SINGLE_MATRIX = ("np.linalg.inv", "np.linalg.det", "rt.logabsdet", "rt.slogdet_sign", "np.linalg.cholesky",
                 "np.linalg.solve", "rt.solve", "rt.solve_triangular", "np.linalg.pinv", "np.linalg.eigvalsh",
                 "rt.eigh_vectors", "rt.svdvals", "rt.svd_u", "rt.svd_vh", "rt.svd_u_full", "rt.svd_vh_full")
_SHOWN = {"rt.logabsdet": "np.linalg.slogdet", "rt.slogdet_sign": "np.linalg.slogdet", "rt.solve": "np.linalg.solve",
          "rt.solve_triangular": "solve_triangular", "np.linalg.eigvalsh": "np.linalg.eigh / eigvalsh",
          "rt.eigh_vectors": "np.linalg.eigh", "rt.svdvals": "np.linalg.svd", "rt.svd_u": "np.linalg.svd",
          "rt.svd_vh": "np.linalg.svd", "rt.svd_u_full": "np.linalg.svd", "rt.svd_vh_full": "np.linalg.svd"}


def check_single_matrices(unit: parse.Unit, kind_map: dict, active: set):
    """Decline a differentiated linear-algebra call on an array of rank above 2 (a stack of matrices)."""
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and isinstance(s.targets[0], gast.Name)
                and s.targets[0].id in active):
            continue
        name = dotted_name(s.value.func)
        ranks = [_rank(a, kind_map) for a in s.value.args]
        if name in ("rt.kron", "np.dot", "rt.dot") and len(ranks) == 2:
            if name == "rt.kron" and max(r or 0 for r in ranks) > 2:
                fail(s, unit, f"np.kron of an array of rank {max(ranks)}: srcdiff differentiates np.kron of "
                     "0-d, 1-d and 2-d operands", "reshape the operands to matrices, or write the product with "
                     "broadcasting: (a[:, None, :, None] * b[None, :, None, :]).reshape(...)")
            if name != "rt.kron" and (ranks[1] or 0) > 2:
                fail(s, unit, f"np.dot with a second operand of rank {ranks[1]} (it contracts that operand's "
                     "second-to-last axis, which srcdiff's product rule does not)",
                     "write it with np.tensordot(x, y, axes=([-1], [-2])) or np.einsum, or use x @ y for a "
                     "stack of matrix products")
            continue
        if name not in SINGLE_MATRIX or not ranks:
            continue
        if ranks[0] is not None and ranks[0] > 2:
            fail(s, unit, f"{_SHOWN.get(name, name)} of a stack of matrices (an array of rank {ranks[0]}): its "
                 "derivative here takes one matrix at a time",
                 "loop over the stack, e.g. total = 0.0; for k in range(a.shape[0]): total += ... a[k] ...")


def _rank(e, kind_map):
    """The rank of an argument whose kind is known (0 for a scalar), else None."""
    k = kind_map.get(e.id) if isinstance(e, gast.Name) else None
    if k is None:
        return None
    return 0 if k[0] == "s" else (k[1] if k[0] == "a" else None)


def array_literal_operands(unit: parse.Unit, kind_map: dict) -> bool:
    """A list or tuple literal operand (or a name of one) of arithmetic with a name the kinds show to be an
    array (`w * [a, b]`: NumPy's elementwise product, where desugar could not tell `w` from a repetition
    count) is the array it stands for, bound by a statement of its own. Returns whether it changed."""
    namer = Namer(astutil.names_in(unit.node))

    def block(stmts):
        out, changed = [], False
        for s in stmts:
            for b in nested_blocks(s):
                b[:], c = block(b)
                changed |= c
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.BinOp):
                for side, other in (("left", s.value.right), ("right", s.value.left)):
                    lit = getattr(s.value, side)
                    if not (isinstance(other, gast.Name) and (kind_map.get(other.id) or ("",))[0] == "a"):
                        continue
                    if isinstance(lit, (gast.List, gast.Tuple)) and not any(
                            isinstance(e, (gast.List, gast.Tuple, gast.Starred)) for e in lit.elts):
                        seq = gast.Tuple(elts=lit.elts, ctx=gast.Load())
                    elif isinstance(lit, gast.Name) and (kind_map.get(lit.id) or ("",))[0] == "t":
                        seq = lit        # (a literal A-normal form named: forward mode)
                    else:
                        continue
                    name = namer.fresh(f"{other.id}_operand")
                    out.append(gast.copy_location(astutil.assign(name, astutil.call("rt.array", seq), s.lineno), s))
                    setattr(s.value, side, load(name))
                    changed = True
            out.append(s)
        return out, changed

    unit.node.body, changed = block(unit.node.body)
    return changed


def check_sequence_arithmetic(unit: parse.Unit, kind_map: dict, wrt: list):
    """Decline list or tuple repetition / concatenation ([a] * n, (a,) + t) of differentiated values: the
    rules take operands as arrays, so the derivative would silently be lost."""
    from .transforms import forward
    varied = None
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.BinOp)):
            continue
        for operand in (s.value.left, s.value.right):
            if isinstance(operand, gast.Name) and (kind_map.get(operand.id) or ("",))[0] == "t":
                parts = [operand]
            elif isinstance(operand, (gast.Tuple, gast.List)):
                parts = operand.elts
            else:
                continue
            if varied is None:
                varied = forward.varied_names(unit.node, wrt, unit.callees)
            if any(isinstance(p, gast.Name) and p.id in varied for p in parts):
                fail(s, unit, "a list or tuple of differentiated values repeated or joined with * or + (list "
                              "arithmetic, not array arithmetic)",
                     "build the array instead: np.full(n, a) for [a] * n, np.concatenate((u, v)) to join, or "
                     "np.array([...]) * n for elementwise products")


@dataclass
class Module:
    """A generated module under construction: functions, their names, and bound constants."""
    functions: list = field(default_factory=list)     # gast FunctionDefs in definition order
    bindings: dict = field(default_factory=dict)      # global name -> object
    namer: Namer = field(default_factory=lambda: Namer({"np", "rt", "math", "numba"}))
    primals: dict = field(default_factory=dict)       # id(unit source) -> module name of its primal
    vjps: dict = field(default_factory=dict)          # (id, positions) -> module name
    units: dict = field(default_factory=dict)         # id -> front-end unit
    return_kinds: dict = field(default_factory=dict)  # (id, argument kinds) -> kind of the result (return_kind)
    entry: str = ""

    @property
    def function_names(self) -> list:
        return [fn.name for fn in self.functions]

    def source(self, jit: bool = False) -> str:
        """The module's Python source; `jit`: as compiled by Numba (float arrays of range loops on row
        tapes, matrix products through rt.dot: transforms/products.py)."""
        header = "import math\nimport numpy as np\nfrom srcdiff import runtime as rt\n\n"
        with _collector_paused():
            functions = ([inplace.add_into_views(products.route_products(stacks.row_tapes(f)))
                          for f in self.functions] if jit else self.functions)
            return header + "\n\n".join(emit.to_source(f) for f in functions)


def _key(obj):
    return id(obj.node) if isinstance(obj, parse.Unit) else id(obj)


def _unit_for(module: Module, obj) -> parse.Unit:
    k = _key(obj)
    if k not in module.units:
        module.units[k] = front_end(_lower_generated(obj))
        _link(module, module.units[k])
    return module.units[k]


def is_generated(obj) -> bool:
    """`obj` is a function srcdiff generated (its module is one of the loaded generated modules)."""
    fn = obj.func if isinstance(obj, parse.Unit) else getattr(obj, "py_func", obj)
    return (getattr(fn, "__module__", "") or "").startswith("srcdiff_generated.")


def _lower_generated(obj):
    """Generated code differentiated again (a user function calls a srcdiff gradient): its stacks
    (`s = []`, `s.append(v)`, `s.pop()`) become rt.stack / rt.push / rt.pop calls, which reverse mode
    differentiates (transforms/reverse.py, stack adjoints), and fused log-domain adjoints are split."""
    from .transforms import forward
    if isinstance(obj, parse.Unit) or not is_generated(obj):
        return obj
    unit = parse.parse(obj)
    unit.node = _fold_negative_constants(logdomain.split_adjoints(forward.lower_stacks(unit.node)))
    return unit


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
    callees = {}
    for name, target in unit.callees.items():
        callees[name] = target
    unit.callee_objects = callees
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
    node = desugar.zero_sum_starts(clone(unit.node))
    node.name = name
    _rename_callees(module, unit, node)
    module.functions.append(optimize.eliminate_dead_code(node) if False else node)
    return name


def _rename_callees(module, unit, node):
    mapping = {local: primal_name(module, target, local) for local, target in unit.callees.items() if target is not None}
    for n in walk(node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in mapping:
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


def vjp_name(module: Module, obj, positions: tuple, mode="vjp", wrt_names=None, entry_name=None,
             arg_kinds: tuple = (), arg_dims: tuple = (), checkpoints: int | None = None) -> str:
    k = (_key(obj), positions, mode, arg_kinds, arg_dims)
    if k in module.vjps:
        return module.vjps[k]
    unit = _unit_for(module, obj)
    params = unit.params
    wrt = wrt_names or [params[p] for p in positions]
    suffix = {"vjp": "vjp", "pullback": "vjp", "grad": "grad", "value_and_grad": "value_and_grad"}[mode]
    base = unit.name if unit.name != "lambda_" else module.primals.get(_key(obj), "lambda")
    name = entry_name or module.namer.fresh(f"{base}_{suffix}")
    module.vjps[k] = name

    ssa_unit, local_to_obj = _ssa_for(module, unit)

    def callee_vjp(local, pos, stmt, call_kinds=()):
        return vjp_name(module, local_to_obj[local], pos, mode="pullback", arg_kinds=call_kinds)

    def callee_kind(local, call_kinds):
        return return_kind(module, local_to_obj[local], call_kinds) if local in local_to_obj else None

    fn = gradient_function(ssa_unit, wrt, mode, name, callee_vjp, dict(zip(params, arg_kinds)),
                           dict(zip(params, arg_dims)), checkpoints, callee_kind if arg_kinds else None)
    module.functions.append(fn)
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
    generation time of a 1 000-statement function). Cycles made meanwhile are collected afterwards."""
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
                gc.enable()


def build_module(fn, wrt_names: list, mode: str, arg_kinds: tuple = (), structs: dict | None = None,
                 arg_dims: tuple = (), checkpoints: int | None = None) -> Module:
    """Generate the module holding `fn`'s gradient (mode grad | value_and_grad | vjp) and its callees.

    `structs` maps tuple/list parameters to their structure; they become one parameter per leaf.
    `arg_dims`: the arguments' axis labels (transforms/dims.py), for the entry function only;
    `checkpoints`: the most snapshots each outermost loop of the entry function keeps (None: tape them)."""
    with _collector_paused():
        return _build_module(fn, wrt_names, mode, arg_kinds, structs, arg_dims, checkpoints)


def _build_module(fn, wrt_names, mode, arg_kinds, structs, arg_dims, checkpoints) -> Module:
    module = Module()
    if structs:
        unit = flatten.flatten_arguments(parse.parse(fn), structs)
        module.units[_key(fn)] = front_end(unit)
        _link(module, module.units[_key(fn)])
        wrt_names = [leaf for w in wrt_names for leaf in (
            flatten._Flatten(unit, structs).leaf_names(w, structs[w]) if w in structs else [w])]
    unit = _unit_for(module, fn)
    missing = [w for w in wrt_names if w not in unit.params]
    if missing:
        raise SrcdiffError(f"wrt names {missing} are not parameters of {unit.name}{tuple(unit.params)}",
                           unit.filename, unit.node.lineno)
    positions = tuple(unit.params.index(w) for w in wrt_names)
    module.entry = vjp_name(module, fn, positions, mode=mode, wrt_names=wrt_names,
                            entry_name=module.namer.fresh(f"{unit.name}_{mode}"), arg_kinds=arg_kinds,
                            arg_dims=arg_dims, checkpoints=checkpoints)
    from .transforms import forward
    module.functions = [forward.raise_stacks(f) for f in module.functions]
    return module


def check_numba(module: Module, arg_kinds: tuple = ()):
    """Decline, at the user's line, what runs in Python but cannot compile under Numba: np.squeeze
    without axis= (its result's rank depends on the shape at run time; Numba types ranks statically),
    and sum(...) over a comprehension of arrays (its accumulator starts as the float 0.0). `arg_kinds`:
    the kinds of the entry function's arguments; with them, a matrix product of a stack of matrices
    (Numba's @ and np.matmul take 1-d and 2-d operands) is declined too."""
    for k, unit in enumerate(module.units.values()):
        terms = [n for n in walk(unit.node) if anno.get(n, anno.SUM_TERM)]
        kind_map = kinds.infer(unit.node, dict(zip(unit.params, arg_kinds))) if arg_kinds and k == 0 else {}
        for n in walk(unit.node):
            operands = (n.left, n.right) if isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult) else \
                n.args if isinstance(n, gast.Call) and dotted_name(n.func) == "np.matmul" else ()
            ranks = [kinds._ndim(kinds.expr_kind(a, kind_map)) for a in operands]
            if any(r is not None and r > 2 for r in ranks):
                fail(n, unit, f"a matrix product with an operand of rank {max(r for r in ranks if r is not None)} "
                              "(a stack of matrices) does not compile under Numba (jit=True): Numba's @ and "
                              "np.matmul take 1-d and 2-d operands",
                     "use jit=False, or loop over the stack: for k in range(a.shape[0]): ... a[k] @ b[k] ...")
        for n in terms:
            start = anno.get(n, anno.SUM_START)
            if start is not None and not isinstance(start.value, gast.Constant):
                continue   # it starts from zeros shaped like its first term (desugar._start)
            term = kinds.expr_kind(n.value.right, kind_map) if isinstance(n.value, gast.BinOp) else None
            if term is not None and term[0] == "a":
                fail(n, unit, "sum(...) over a generator expression or list comprehension of arrays does not "
                              "compile under Numba (jit=True) here (in a function called from the one "
                              "differentiated in forward mode, or where its first term cannot be written before "
                              "the loop): Numba types the 0.0 start as a float",
                     "use jit=False, or accumulate in a loop from an array start, e.g. "
                     "total = np.zeros_like(x[0]); for i in range(n): total += ...")
        for n in walk(unit.node):
            if isinstance(n, gast.Call) and dotted_name(n.func) == "rt.squeeze":
                axis = n.args[1] if len(n.args) > 1 else None
                if axis is None or (isinstance(axis, gast.Constant) and axis.value is None):
                    fail(n, unit, "np.squeeze without axis= does not compile under Numba (jit=True): the "
                                  "rank of its result depends on the array's shape at run time",
                         "name the size-1 axes to drop, e.g. np.squeeze(x, axis=1) or x.squeeze(axis=(0, 2)), "
                         "or use jit=False")


_ = (fail, load)


# ---- forward mode (jvp) ------------------------------------------------------------------------------------
def _forward_unit_for(module: Module, obj, parsed: parse.Unit | None = None, zero_starts: bool = True) -> parse.Unit:
    """Like _unit_for, but Python lists used as stacks (generated reverse code) are lowered to rt calls.
    `zero_starts`: sums start from 0.0 (desugar.zero_sum_starts; else jvp_name sets their starts by kinds)."""
    from .transforms import forward
    k = _key(obj)
    if k not in module.units:
        unit = parsed or (obj if isinstance(obj, parse.Unit) else parse.parse(obj))
        unit.node = logdomain.split_adjoints(forward.lower_stacks(unit.node))
        module.units[k] = front_end(unit)
        if zero_starts:
            desugar.zero_sum_starts(module.units[k].node)
        _link(module, module.units[k])
        for target in module.units[k].callees.values():  # before primal_name reads them unlowered
            if target is not None:
                _forward_unit_for(module, target)
    return module.units[k]


def _generated(unit) -> bool:
    """Is `unit` code srcdiff generated (forward mode over a gradient), not the user's?"""
    import os
    from .backends import cache_dir
    return bool(unit.filename) and os.path.abspath(unit.filename).startswith(os.path.abspath(cache_dir()) + os.sep)


def jvp_name(module: Module, obj, positions: tuple, wrt_names=None, entry_name=None, arg_kinds: tuple = ()) -> str:
    """Module name of the forward-mode function of `obj` w.r.t. the parameters at `positions`:
    (params..., d_<param> for each position) -> (value, d_value). `arg_kinds`: the kinds of the arguments
    (the entry function's, where they are known): its sums' starts and list literal operands follow them."""
    from .transforms import forward
    k = (_key(obj), positions, "jvp")
    if k in module.vjps:
        return module.vjps[k]
    unit = _forward_unit_for(module, obj, zero_starts=not arg_kinds)
    wrt = wrt_names or [unit.params[p] for p in positions]
    base = unit.name if unit.name != "lambda_" else module.primals.get(_key(obj), "lambda")
    name = entry_name or module.namer.fresh(f"{base}_jvp")
    module.vjps[k] = name

    ssa_unit, local_to_obj = _ssa_for(module, unit)
    if arg_kinds:
        kind_map = kinds.infer(ssa_unit.node, dict(zip(unit.params, arg_kinds)))
        if sum_starts(ssa_unit, kind_map):
            kind_map = kinds.infer(ssa_unit.node, dict(zip(unit.params, arg_kinds)))
        array_literal_operands(ssa_unit, kind_map)

    def callee_jvp(local, pos):
        return jvp_name(module, local_to_obj[local], pos)

    if not _generated(unit):     # srcdiff's own adjoints write d_x[i] with views made by design
        aliasing.check_views(ssa_unit, {}, renames_only=True)   # tangents of views are views: fine
    fn = forward.Forward(ssa_unit, wrt, callee_jvp).function(name)
    fn = forward.avoid_version_clashes(forward.eliminate_dead_code(fn))
    module.functions.append(unbound.define_unbound(fn))
    return name


def build_forward_module(fn, wrt_names: list, structs: dict | None = None, arg_kinds: tuple = ()) -> Module:
    """Generate the module holding `fn`'s jvp function (and its callees' primal and jvp functions).

    `structs` maps tuple/list parameters to their structure; they become one parameter per leaf
    (and one tangent per leaf of a wrt argument). `arg_kinds`: the kinds of the arguments, if known."""
    with _collector_paused():
        return _build_forward_module(fn, wrt_names, structs, arg_kinds)


def _build_forward_module(fn, wrt_names, structs, arg_kinds) -> Module:
    from .transforms import forward
    module = Module()
    if structs:
        flat = flatten.flatten_arguments(parse.parse(fn), structs)
        wrt_names = [leaf for w in wrt_names for leaf in (
            flatten._Flatten(flat, structs).leaf_names(w, structs[w]) if w in structs else [w])]
    unit = _forward_unit_for(module, fn, flat if structs else None, zero_starts=not arg_kinds)
    missing = [w for w in wrt_names if w not in unit.params]
    if missing:
        raise SrcdiffError(f"wrt names {missing} are not parameters of {unit.name}{tuple(unit.params)}",
                           unit.filename, unit.node.lineno)
    positions = tuple(unit.params.index(w) for w in wrt_names)
    module.entry = jvp_name(module, fn, positions, wrt_names=wrt_names,
                            entry_name=module.namer.fresh(f"{unit.name}_jvp"), arg_kinds=arg_kinds)
    module.functions = [forward.raise_stacks(f) for f in module.functions]
    return module
