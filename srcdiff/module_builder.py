"""One derivative's generated module: which functions it holds and how each goes through the passes.

compiler.py is the map (the pass lists and `run`); this module walks it for one program.
`build_module` builds a `Module` for one specialisation (the function, what it is differentiated with
respect to, the mode, the arguments' kinds and axes, checkpoints): the entry function's derivative and,
for each user function it calls that stays a call, the callee's primal and derivative, each through the
pass lists of compiler.py. `Module.generate` prints it with the facts of its functions read off the trees
(srcdiff/generated.py: calls, bound names read, bounds proved), which srcdiff.backends uses as it exec's the
source as Python or compiles it with Numba (jitted: its compiled form, line for line the source shown).
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import gc
import linecache
import threading
from dataclasses import dataclass, field

import gast

from . import compiler, generated
from .errors import SrcdiffError, fail
from .transforms import annotations as anno
from .transforms import (anf, desugar, dict_forms, emit, flatten, inline, kinds, parse, primal_lists, purity,
                         record_returns, unbound)
from .transforms.astutil import Namer, clone, walk, walk_calls


MAX_SHAPES = 4   # the most structures of tuple arguments one function that stays a call is made for


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
    versions: dict = field(default_factory=dict)      # forward mode's later definitions -> the names (SSA_VERSIONS)
    kinds: dict = field(default_factory=dict)         # reverse-mode function name -> the kinds of its names (COMPILED)
    forward_kinds: dict = field(default_factory=dict)  # forward-mode function name -> the kinds of its primal names
    in_progress: set = field(default_factory=set)     # keys of module.derivatives being generated (derivative_name)
    recursive: dict = field(default_factory=dict)     # id -> whether the function calls itself (_recursive)
    for_calls: dict = field(default_factory=dict)     # id -> the structures it is made for (inline.ForCall's shape)
    mode: str = "grad"
    entry: str = ""

    def __repr__(self):     # (short: see parse.Unit.__repr__)
        return f"<Module {self.mode} of {self.entry or '?'}: {len(self.functions)} functions>"

    def ssa_kinds(self, unit, arg_kinds: tuple):
        """(the front-end `unit` in SSA, the kinds of its names for arguments of `arg_kinds`), as its derivative
        sees them (_derivative): a name bound again has a kind per binding; user calls are inlined, those that
        stay of the kinds they return (return_kind)."""
        ssa_unit, local_to_obj = _ssa_for(self, unit, typed=True)

        def callee_kind(local, call_kinds):
            return return_kind(self, local_to_obj[local], call_kinds) if local in local_to_obj else None
        return ssa_unit, kinds.infer(ssa_unit.node, dict(zip(ssa_unit.params, arg_kinds)), callee_kind)

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
        with collector_paused():
            done = [compiler.run(compiler.SOURCE, compiler.Context(fn=f, jit=jit)) for f in self.functions]
            text = generated.HEADER + "\n\n".join(c.source for c in done)
            names, bound = set(self.function_names), set(self.bindings)
            facts = generated.ModuleFacts(tuple(
                generated.function_facts(c.tree, names, bound, bool(anno.get(c.fn, anno.BOUNDS_PROVED)))
                for c in done))
            compiled = [compiler.run(compiler.COMPILED, compiler.Context(fn=c.fn, module=self, earlier=(c.fn, c.tree)))
                        if jit else c for c in done]
            compiled_facts = None
            if any(c.parts for c in compiled):    # (the "parts" pass: each part before the function calling it)
                compiled = [p for c in compiled for p in [compiler.emit_part(f) for f in c.parts] + [c]]
                all_names = {c.fn.name for c in compiled}
                parts = {p.name for c in compiled for p in c.parts}
                compiled_facts = generated.ModuleFacts(tuple(
                    generated.function_facts(c.tree, all_names, bound, bool(anno.get(c.fn, anno.BOUNDS_PROVED)),
                                             part=c.fn.name in parts) for c in compiled))
            compiled_text = generated.HEADER + "\n\n".join(c.source for c in compiled)
            arrays = backends.passed_arrays(self.bindings)
            params = generated.with_parameters([c.tree for c in compiled], compiled_facts or facts, arrays,
                                               emit.render) if arrays else None
        backends.note_tapes(text, self.tapes)   # (read back by srcdiff.cuda where forward mode differentiates it)
        noted = [generated.copied_lines(anno.get(c.tree, anno.PRINTED_AT), anno.get(f, anno.COPY_OF),
                                        (getattr(f, "lineno", None), getattr(f, "end_lineno", None)))
                 if anno.get(f, anno.COPY_OF) else anno.get(c.tree, anno.LINES) for f, c in zip(self.functions, done)]
        lines = generated.Lines.of(noted, [c.source for c in done],
                                   [anno.get(c.tree, anno.PLACEHOLDER_LINES) for c in done])
        compiled_lines = None
        if jit and (compiled_facts or compiled_text.count("\n") != text.count("\n")):  # (not line for line: its own)
            compiled_lines = generated.Lines.of([anno.get(c.tree, anno.LINES) for c in compiled],
                                                [c.source for c in compiled],
                                                [anno.get(c.tree, anno.PLACEHOLDER_LINES) for c in compiled])
        return generated.Generated(text, facts, params, compiled_text if compiled_text != text else None, lines,
                                   compiled_lines, compiled_facts)

    def trees(self) -> list:
        """The module's functions as the standard-library trees `source()` prints (emit.tree), comments
        included: what the CUDA lowering reads instead of parsing the source."""
        with collector_paused():
            return [compiler.run(compiler.SOURCE, compiler.Context(fn=f)).tree for f in self.functions]


def _key(obj):
    if isinstance(obj, inline.ForCall):     # (one per function and structures: calls passing alike share it)
        return ("for call", _key(obj.obj), obj.shape)
    return id(obj.node) if isinstance(obj, parse.Unit) else id(obj)


def _unit_for(module: Module, obj, structs: dict | None = None, typed: bool = False,
              for_call: bool = False) -> parse.Unit:
    """The front-end unit of `obj` (a function or a unit), made once per module and linked into it.
    `typed`: for a derivative that knows its arguments' kinds (forward mode has two units of a function: a
    sum's start is written by its kind in one, from 0.0 in the other)."""
    if isinstance(obj, inline.ForCall):
        return _unit_for(module, obj.obj, obj.structs, typed, for_call=True)
    typed = typed and module.mode == "jvp"
    k = (_key(obj), (typed, repr(sorted(structs.items()))) if structs and for_call else typed)
    if k not in module.units:
        module.units[k] = compiler.front_end(obj, structs, module.mode, typed, for_call=for_call)
        _link(module, module.units[k])
    return module.units[k]


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
    node = primal_lists.named_lists_as_arrays(node)    # (Numba's np.max takes no list)
    node = unbound.define_unbound(node)   # (a value first bound in a loop and read in a later iteration)
    node.name = name
    if unit.filename:
        anno.set(node, anno.COPY_OF, unit.filename)
    _rename_callees(module, unit, node, _calls_for_keyed_items(module, unit, node))
    module.functions.append(node)
    return name


def _rename_callees(module, unit, node, done=frozenset()):
    """Calls of the unit's callees in `node` call their primals' module names (`done`: the ids of calls already
    calling one). Only the callees `node` names: one whose calls all went to a function made for the dict they
    pass (a recursive function reading its dict argument's items: `p.items()`) has no primal of its own."""
    if not unit.callees:
        return      # (no call to rename: `node` is not walked)
    renamed = {id(n.func) for n in walk_calls(node) if id(n) in done}
    named = {n.id for n in walk(node) if isinstance(n, gast.Name) and id(n) not in renamed}
    mapping = {local: primal_name(module, target, local) for local, target in unit.callees.items()
               if target is not None and local in named}
    _rename_shadowing_locals(module, node, set(mapping.values()) - set(mapping))
    for n in walk_calls(node):
        if isinstance(n.func, gast.Name) and n.func.id in mapping and id(n) not in done:
            n.func.id = mapping[n.func.id]


def _rename_shadowing_locals(module, node, called: set) -> None:
    """Rename the locals of `node` that have the module name of a function it calls (`called`): a callee's
    name in the unit (`lam`, a lifted lambda) and the module's name for its primal (`lam1`) are made fresh by two
    namers, and a local the unit binds from another callee inlined into it (`lam1 = u * u`, the value of rec6's
    own lambda) hid the module function: 'float object is not callable' (CUDA fuzz seed 1007127, jvp)."""
    bound = {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))}
    clash = called & bound
    if not clash:
        return
    namer = Namer({n.id for n in walk(node) if isinstance(n, gast.Name)} | module.namer.taken)
    fresh = {name: namer.fresh(name) for name in sorted(clash)}
    for n in walk(node):
        if isinstance(n, gast.Name) and n.id in fresh:
            n.id = fresh[n.id]
    versions = anno.get(node, anno.SSA_VERSIONS, None)
    if versions:
        for old, new in fresh.items():
            if old in versions:
                versions[new] = versions.pop(old)

def _calls_for_keyed_items(module, unit, node, name_of=None) -> set:
    """A primal's calls passing a dict argument's items whole (`rec((p_0, p_1), ...)` in rec made for p's keys), or a
    namedtuple's fields (`step((s_u, s_w))` of a nested def reading `q.w`), call the primal made for the structure
    with the items (`rec2(p_0, p_1, ...)`, inline.ForCall), as the derivative's calls do: the primal made for unknown
    arguments indexes the tuple by key, or reads a field of a plain tuple (declined). `name_of(ForCall, the
    call's name)`: the name to call it by (its primal's by default). The ids of those calls."""
    name_of = name_of or (lambda made, local: primal_name(module, made, local))
    done = set()
    for n in walk_calls(node):
        target = unit.callees.get(n.func.id) if isinstance(n.func, gast.Name) else None
        passed = None if target is None else inline.keyed_items_passed(node, n, inline.parameter_names(target))
        if passed is None:
            continue
        made = inline.ForCall(target, passed[0])
        try:
            _unit_for(module, made)
        except SrcdiffError:
            continue
        n.func.id, n.args = name_of(made, n.func.id), passed[1]
        done.add(id(n))
    return done


def _ssa_for(module: Module, unit: parse.Unit, typed: bool = False, root=None):
    """The unit in SSA with user calls inlined (their `typed` units: see _unit_for); calls that stay get
    module-level primal names. Returns (ssa unit, {module name of a remaining callee: its object}). `root`: the
    object the unit was made from. A recursive function is inlined only where no recursive function's body
    holds the call (`root`'s included): there it stays a call of its derivative, which calls itself. Its body
    inlined there instead would be unrolled once more at each such call, and forward mode over that gradient
    unrolls it again at each of its calls (an hvp of a recursion of a few calls grew to thousands of lines,
    which Numba took minutes to type)."""
    held = {} if root is None else {id(root): root}     # the objects the inlining stack names, by id
    roots = tuple(held)

    def inline_callee(obj, stack=(), structs=None):
        """The callee's ANF unit with its calls inlined; `structs`: its tuple parameters' structures (their
        items become parameters of their own, flatten.py), for a call that passes tuples of the caller's values."""
        held[id(obj)] = obj
        if len(stack) >= 4 + len(roots):
            return None
        # (made first: a callee that reads a dict argument by key has a unit only for the structure the call
        # passes, which _recursive then reads)
        callee = _unit_for(module, obj, structs, typed=typed, for_call=True)
        if _recursive(module, obj) and any(_recursive(module, held[i]) for i in stack[:-1] if i in held):
            return None
        return inline.inline_calls(compiler.anf_unit(callee), lambda o, st=stack, sts=None: inline_callee(o, st, sts),
                                   stack, for_structures)

    def for_structures(obj, structs):
        """(ForCall, its unit) for a call of `obj` that stays a call passing tuples of `structs`; None where `obj`
        cannot be made for them, or already has MAX_SHAPES structures (a recursion nesting its tuple deeper at
        each call would make a function per depth, without end)."""
        target = inline.ForCall(obj, structs)
        shapes = module.for_calls.setdefault(_key(obj), set())
        if target.shape not in shapes and len(shapes) >= MAX_SHAPES:
            return None
        try:
            flat = _unit_for(module, target, typed=typed)
        except SrcdiffError:
            return None
        shapes.add(target.shape)
        return target, flat

    ssa_unit = compiler.middle_end(unit, inline_callee, roots, for_structures)
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


def _recursive(module: Module, obj) -> bool:
    """Does `obj` call itself, directly or through the functions it calls (as the front end resolved them)?"""
    if isinstance(obj, inline.ForCall):
        return _recursive(module, obj.obj)
    k = _key(obj)
    if k not in module.recursive:
        seen, todo = set(), list(_callees_of(module, obj))
        while todo:
            o = todo.pop()
            if _key(o) not in seen:
                seen.add(_key(o))
                todo.extend(_callees_of(module, o))
        module.recursive[k] = k in seen
    return module.recursive[k]


def _callees_of(module: Module, obj) -> list:
    """The user functions `obj` calls, from any front-end unit of it the module made (else made now). (A nested
    def's unit knows all its caller's functions, the originals of function_args' copies among them: only those
    its body calls count.)"""
    unit = next((u for (key, _), u in module.units.items() if key == _key(obj)), None)
    if unit is None:
        try:
            unit = _unit_for(module, obj)
        except SrcdiffError:    # one that reads a dict argument by key, not yet made for the structure a call passes:
            return []           # not known to recurse here (the inlining depth bounds it), its own unit says later
    if not unit.callees:
        return []   # (no function of the user's to call: the unit is not walked)
    called = {n.func.id for n in walk(unit.node) if isinstance(n, gast.Call) and isinstance(n.func, gast.Name)}
    return [o for name, o in unit.callees.items() if o is not None and name in called]


def _effect_free_callees(module: Module, local_to_obj: dict) -> frozenset:
    """The module names of the user functions that stay calls (recursive ones) whose calls have no effect but
    their result (purity.effect_free_functions over them and what they call, as the module parsed them: a
    unit is not parsed again, which would resolve its `rt.` names as the user's)."""
    if not local_to_obj:
        return frozenset()
    made = {}
    for (key, flag), unit in module.units.items():
        if not isinstance(flag, tuple):     # (not a unit of tuple parameters flattened for one call)
            made.setdefault(key, unit)
    graph, todo = {}, [obj for obj in local_to_obj.values() if obj is not None]
    while todo:
        obj = todo.pop()
        unit = obj if isinstance(obj, parse.Unit) else \
            _unit_for(module, obj) if isinstance(obj, inline.ForCall) else made.get(_key(obj))
        if _key(obj) in graph or unit is None:   # (a function not parsed for this module: taken to have effects)
            continue
        graph[_key(obj)] = (unit.node, {local: _key(o) for local, o in unit.callees.items() if o is not None})
        todo.extend(o for o in unit.callees.values() if o is not None)
    pure = purity.effect_free_functions(graph)
    return frozenset(local for local, obj in local_to_obj.items() if obj is not None and _key(obj) in pure)


_SUFFIX = {"vjp": "vjp", "pullback": "vjp", "grad": "grad", "value_and_grad": "value_and_grad", "jvp": "jvp"}


def derivative_name(module: Module, obj, positions: tuple, mode="vjp", wrt_names=None, entry_name=None,
                    arg_kinds: tuple = (), arg_dims: tuple = (), checkpoints: int | None = None,
                    floats64: bool = False) -> str:
    """Module name of the derivative function of `obj` w.r.t. the parameters at `positions`, generating
    it (and what it calls) on first use. `mode`: grad | value_and_grad | vjp | pullback (reverse mode:
    the REVERSE passes) or jvp (forward mode, the FORWARD passes: (params..., d_<param> for each
    position) -> (value, d_value)). `arg_kinds` / `arg_dims`: the arguments' kinds and axis labels; `floats64`:
    (the entry) its float arguments are float64."""
    forward_mode = mode == "jvp"
    if forward_mode and arg_kinds and any(key[:3] == (_key(obj), positions, mode) and key[3] != arg_kinds
                                          for key in module.in_progress):
        arg_kinds = ()      # (a recursion whose arguments' kinds change: its inner calls share one jvp without kinds)
    k = (_key(obj), positions, mode, arg_kinds) + (() if forward_mode else (arg_dims,))
    if k in module.derivatives:
        return module.derivatives[k]
    module.in_progress.add(k)
    try:
        return _derivative(module, obj, k, positions, mode, wrt_names, entry_name, arg_kinds, arg_dims, checkpoints,
                           floats64)
    finally:
        module.in_progress.discard(k)


def _derivative(module, obj, k, positions, mode, wrt_names, entry_name, arg_kinds, arg_dims, checkpoints,
                floats64=False) -> str:
    """derivative_name's generation of a derivative not made yet (`k`: its key in module.derivatives)."""
    forward_mode = mode == "jvp"
    unit = _unit_for(module, obj, typed=bool(arg_kinds))
    if anno.get(unit.node, anno.PROCEDURE):    # (called for its effect, it is inlined where it can be)
        fail(unit.node, unit, f"{unit.name} must return a value on every path",
             "end the function with a return of the value to differentiate" if entry_name else
             f"{unit.name} returns nothing and stays a call here (recursive, or called with keywords): return "
             "a copy of the array it writes into and assign it (`buf = buf.copy()` at its start, `return buf`, "
             "`buf = f(buf, ...)`)")
    params = unit.params
    base = unit.name if unit.name != "lambda_" else module.primals.get(_key(obj), "lambda")
    name = entry_name or module.namer.fresh(f"{base}_{_SUFFIX[mode]}")
    module.derivatives[k] = name

    ssa_unit, local_to_obj = _ssa_for(module, unit, typed=bool(arg_kinds), root=obj)
    if mode == "pullback":      # (its inlined callees' writes too)
        _decline_writes_into_parameters(ssa_unit, compiler.is_generated(unit))
    anno.set(ssa_unit.node, anno.RECURSIVE, frozenset([ssa_unit.name] * _recursive(module, obj) + [
        local for local, o in local_to_obj.items() if _recursive(module, o)]))
    if forward_mode:
        module.versions.update(anno.get(ssa_unit.node, anno.SSA_VERSIONS, {}))

    def callee_vjp(local, pos, stmt, call_kinds=()):
        return derivative_name(module, local_to_obj[local], pos, mode="pullback", arg_kinds=call_kinds)

    def callee_jvp(local, pos, call_kinds=()):
        known = call_kinds if call_kinds and None not in call_kinds and kinds.UNSETTLED not in call_kinds else ()
        made = derivative_name(module, local_to_obj[local], pos, mode="jvp", arg_kinds=known)
        if local in ctx.pure_callees:       # the jvp of a function without effects has none either (dead code)
            ctx.pure_callees = ctx.pure_callees | {made}
        return made

    def callee_kind(local, call_kinds):
        return return_kind(module, local_to_obj[local], call_kinds) if local in local_to_obj else None

    ctx = compiler.Context(unit=ssa_unit, wrt=wrt_names or [params[p] for p in positions], mode=mode, name=name,
                  callee_derivative=callee_jvp if forward_mode else callee_vjp,
                  callee_kind=callee_kind if arg_kinds else None,
                  arg_kinds=dict(zip(params, arg_kinds)), arg_dims=dict(zip(params, arg_dims)),
                  checkpoints=checkpoints, pure_callees=_effect_free_callees(module, local_to_obj),
                  floats64=floats64 and bool(arg_kinds), entry=entry_name is not None)
    compiler.run(compiler.FORWARD if forward_mode else compiler.REVERSE, ctx)
    if ctx.sweeps is not None:
        module.tapes |= ctx.sweeps.tapes
        module.kinds[ctx.fn.name] = ctx.sweeps.kinds
    elif forward_mode and ctx.kinds:
        module.forward_kinds[ctx.fn.name] = ctx.kinds
    module.functions.append(ctx.fn)
    return name


def _decline_writes_into_parameters(unit, generated: bool):
    """A function of the user's that stays a call though it writes into its parameter's array (`buf[i] = v`, or a
    callee inlined into it does): recursive, or four calls deep (one too large to inline is inlined:
    inline.parameter_writes). Its pullback would run it again from the array its primal's write changed (a
    recursive `rec(buf, n - 1, y)` writing `buf[n % 2]`: d/dy off by 1.25, silently; through a helper it inlines,
    `put(buf, n % 2, v)`, 5.74 for 7.69, silently). Declined at the write. `unit`: in SSA, its calls inlined; a
    generated one's restores do not count (inline.parameter_writes). Forward mode runs the call once, as Python
    does: its jvp is right."""
    for s, name in inline.parameter_writes(unit, generated)[:1]:
        where = anno.get(s, anno.FILE) or unit.filename     # (an inlined callee's line is in its own file)
        line = linecache.getline(where, s.lineno).strip()
        through = f" (in {anno.get(s, anno.FUNC)}, which it calls)" if anno.get(s, anno.FUNC) else ""
        raise SrcdiffError(f"{unit.name} writes into its parameter {name!r}{through}, an array its caller passes, "
                           "and stays a call (recursive, nested four calls deep, or too large to inline): its "
                           f"derivative runs it again from the array the write has changed\n    {line}",
                           where, s.lineno,
                           f"write into a copy ({name} = {name}.copy() at its start) and return it, or call "
                           f"{unit.name} from a function fewer calls deep, so that srcdiff inlines it")


def return_kind(module: Module, obj, arg_kinds: tuple, active: frozenset = frozenset()):
    """The kind of what the user function `obj` returns for arguments of `arg_kinds` (None if unknown;
    kinds.UNSETTLED for a call inside its own recursion)."""
    k = (_key(obj), arg_kinds)
    if k in module.return_kinds:
        return module.return_kinds[k]
    if _key(obj) in active:
        return kinds.UNSETTLED
    unit = compiler.middle_end(_unit_for(module, obj, typed=True))   # (as a derivative with kinds sees it)

    def for_dict(made, local):      # (a recursive call passing its dict's items: of the function made for them)
        name = module.namer.fresh(local)
        unit.callees[name] = made
        return name
    _calls_for_keyed_items(module, unit, unit.node, for_dict)

    recursed = []

    def callee_kind(local, call_kinds):
        target = unit.callees.get(local)
        found = None if target is None else return_kind(module, target, call_kinds, active | {_key(obj)})
        if found is kinds.UNSETTLED:
            recursed.append(local)
        return found

    ret = unit.node.body[-1]
    given = kinds.UNSETTLED     # the kind its own calls answer: none at first, then the kind found before
    for _ in range(4):
        # a recursion's first kind comes from its base case alone (its own calls left out); inferred again with
        # that kind for its own calls, until it stays (x * rec(x, n - 1) with a base case of 1.0 is an array where
        # the recursion goes on and a number where it ends: neither, not the number its base case alone gives)
        recursed.clear()
        kind_map = kinds.infer(unit.node, dict(zip(unit.params, arg_kinds)), callee_kind)
        found = kinds.expr_kind(ret.value, kind_map) if isinstance(ret, gast.Return) else None
        if (given is kinds.UNSETTLED and not recursed) or found == given:
            break
        given = found if given is kinds.UNSETTLED else kinds.unify(given, found)
        module.return_kinds[k] = given
        if given is None:
            found = None
            break
    else:
        found = None
    module.return_kinds[k] = found
    return module.return_kinds[k]


_PAUSES = [0]
_PAUSE_LOCK = threading.Lock()


@contextlib.contextmanager
def collector_paused():
    """Python's cycle collector off while a module is generated: the passes allocate many small tree
    nodes that are not garbage, and each full collection re-scans the growing tree (a quarter of the
    generation time of a 1 000-statement function). Cycles made meanwhile are collected afterwards.
    What the generation leaves alive (the module's trees, which its Specialisation keeps) goes straight to
    the oldest generation (gc.freeze then gc.unfreeze, where nothing else has frozen objects): turning the
    collector back on would otherwise scan all of it at the next allocation, young objects as it were, and
    again on their way up (0.17 s of 2.5 at 1 000 statements); cycles among them wait for the next full
    collection instead. The first call of a jitted transform runs paused too (api.Transformed.__call__): Numba's
    compiling or loading from the disk cache allocates as generation does, and a full collection (every object
    of NumPy, SciPy, Numba: 50-70 ms here) fell inside the Elman RNN's first call from the disk cache
    (benchmarks/first_call.py)."""
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


def _decline_dict_result(fn, structs=None):
    """The function differentiated returning a dict display (flatten writes a function's `return {"W": ...}` as the
    tuple of its values, which its callers read at the keys): declined, where the caller would get that tuple. A copy
    of a parameter that copies any type (`return x.copy()`, `copy.copy(x)`) only where `structs` holds it (a dict;
    an array's copy is an array)."""
    if not inspect.isfunction(getattr(fn, "py_func", fn)) or not dict_forms.may_return_dict(getattr(fn, "py_func", fn)):
        return
    keys, unit = dict_forms.module_function_keys(getattr(fn, "py_func", fn))
    if isinstance(keys, dict_forms.CopiedKeys) and keys.any_type and keys.param not in (structs or {}):
        return
    if isinstance(keys, (tuple, dict_forms.CopiedKeys)):    # (a display, or a copy of a dict argument: q = dict(p))
        named = dict_forms.named_dicts(unit.node)
        ret = next(r for r in dict_forms.returns_of(unit.node) if dict_forms.return_keys(r, named) is not None)
        fail(ret, unit, "the function you differentiate returns a dict (srcdiff's transforms take a function of "
                        "one result: a number for grad, a number or an array for jvp and jacobian)",
             "differentiate a function that returns one of its items (a helper of yours may return the dict: "
             "def loss(W, b): p = params(W, b); return np.sum(p[\"W\"]))")


def _decline_record_result(fn, mode: str | None = None):
    """The function differentiated returning a namedtuple (`return s._replace(W=...)`, `return s` of one made or
    changed there: flatten writes a function's namedtuple returns as the tuple of its fields' values, which its
    callers bind to their fields): declined, where the caller would get that tuple, but for `jvp` (`mode` "jvp"),
    which gives the value and the tangent as namedtuples of its class (forward_api: `returned_record_class`). grad,
    value_and_grad and vjp need one number (one array for vjp); jacobian (mode None: it ran the function) one array."""
    py = getattr(fn, "py_func", fn)
    if not inspect.isfunction(py) or mode == "jvp":
        return
    got, unit = record_returns.module_function_records(py)
    if got is None:
        return
    ret = got if not isinstance(got, record_returns.Returned) else next(iter(dict_forms.returns_of(unit.node)))
    classes = [c for c in getattr(got, "sources", ()) if isinstance(c, type)]
    what = (f"a {classes[0].__name__} namedtuple (fields {', '.join(classes[0]._fields)})" if len(classes) == 1
            else "a namedtuple")
    fields = classes[0]._fields if len(classes) == 1 else ("W", "b")
    made = " + ".join(f"np.sum(s.{f} ** 2)" for f in fields[:2])
    if mode is None:
        fail(ret, unit, f"jacobian of a function that returns {what}: the jacobian is of one array (or number)",
             "take srcdiff.jvp(f) (its value and tangent are namedtuples of the class), or return one array made "
             "of the fields (`return np.concatenate([" + ", ".join(f"np.ravel(s.{f})" for f in fields) + "])`) for "
             "jacobian")
    transform = {"vjp": "vjp", "value_and_grad": "value_and_grad"}.get(mode, "grad")
    needs = "one array (or number)" if transform == "vjp" else "a scalar: one number"
    fail(ret, unit, f"{transform} needs a function that returns {needs}; this one returns {what}",
         f"return a number made of its fields (`return {made}`) to take {transform} of it; srcdiff.jvp(f) "
         "gives the value and the tangent of all its fields as namedtuples of the class")


def decline_structured_result(fn):
    """Decline the function differentiated where it returns a dict or a namedtuple (`_decline_dict_result`,
    `_decline_record_result`): for a caller that ran it (jacobian's value, which it reads the shape of)."""
    _decline_dict_result(fn)
    _decline_record_result(fn)


def returned_record_class(fn, args):
    """The namedtuple class the function differentiated, `fn`, returns called with the positional `args` (jvp gives
    its value and tangent so): its own class where it makes one, the class of the namedtuple argument it returns a
    changed copy of (`return s._replace(...)`); None where it returns no namedtuple or the class is not known."""
    py = getattr(fn, "py_func", fn)
    if not inspect.isfunction(py):
        return None
    got = record_returns.module_function_records(py)[0]
    if not isinstance(got, record_returns.Returned):
        return None
    classes = {src if isinstance(src, type) else type(args[src[2]]) if src[2] is not None and src[2] < len(args)
               else None for src in got.sources}
    cls = next(iter(classes)) if len(classes) == 1 else None
    return cls if record_returns.namedtuple_class(cls) else None


def build_module(fn, wrt_names: list, mode: str, arg_kinds: tuple = (), structs: dict | None = None,
                 arg_dims: tuple = (), checkpoints: int | None = None, floats64: bool = False) -> Module:
    """Generate the module holding `fn`'s derivative (mode grad | value_and_grad | vjp | jvp) and its
    callees' primal and derivative functions.

    `structs` maps tuple/list parameters to their structure; they become one parameter per leaf (and, in
    forward mode, one tangent per leaf of a wrt argument). `arg_kinds`: the arguments' kinds, if known;
    `arg_dims`: their axis labels (transforms/dims.py), for the entry function only; `checkpoints`: the
    most snapshots each outermost loop of the entry function keeps (None: tape them); `floats64`: every float
    argument is float64 (specialisations.floats64: the entry's seed folds, reverse.py)."""
    with collector_paused():
        module = Module(mode="jvp" if mode == "jvp" else "grad")
        unit = _unit_for(module, fn, structs, typed=bool(arg_kinds))
        _decline_dict_result(fn, structs)
        _decline_record_result(fn, mode)
        renamed = getattr(unit, "renamed", {})    # (a parameter named rt, np, math: reserved_names.py)
        wrt_names = [renamed.get(w, w) for w in wrt_names]
        structs = {renamed.get(k, k): v for k, v in structs.items()} if structs else structs
        wrt_names = flatten.flat_names(wrt_names, structs) if structs else wrt_names
        missing = [w for w in wrt_names if w not in unit.params]
        if missing:
            raise SrcdiffError(f"wrt names {missing} are not parameters of {unit.name}{tuple(unit.params)}",
                               unit.filename, unit.node.lineno)
        positions = tuple(unit.params.index(w) for w in wrt_names)
        module.entry = derivative_name(module, fn, positions, mode=mode, wrt_names=wrt_names,
                                       entry_name=module.namer.fresh(f"{unit.name}_{mode}"), arg_kinds=arg_kinds,
                                       arg_dims=arg_dims, checkpoints=checkpoints, floats64=floats64)
        compiler.run(compiler.MODULE, compiler.Context(module=module))
        for u in module.units.values():   # the tapes of the generated code it holds (forward mode keeps their names,
            if compiler.is_generated(u):  # and defines a tape bound twice again under names of its own)
                module.tapes |= _generated_tapes(u)
        module.tapes |= {v for v, name in module.versions.items() if name in module.tapes}
        return module
