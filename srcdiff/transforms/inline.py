"""Inline calls to user functions (after ANF, before SSA).

The callee's normalised body is spliced in with its names made fresh in the caller, so its
forward values are computed once and its adjoint appears in the caller's backward sweep; the
statements remember the callee's file and name for the comments. Recursive calls and calls with
keyword arguments stay calls (they get a separate pullback function); the calls an inlined callee
keeps (of recursive functions) become calls of the caller's. A call that stays a call passing tuples of the
caller's values (`h((u, v))` four calls deep, or of a recursive h) calls h made for their structures instead
(`ForCall`: `h2(u, v)`), whose derivative function takes each item as a value of its own."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import gast

from ..cachedir import is_generated_file
from ..errors import SrcdiffError, fail
from . import annotations as anno
from . import dict_forms, flatten
from .anf import folded_constant
from .astutil import (Namer, Transformer, assign, assign_counts, const, load, map_blocks, names_in, nested_blocks,
                      rewrite_blocks, walk, walk_names)
from .item_variables import item_variable

MAX_STATEMENTS = 400  # larger callees stay separate functions


@dataclass(frozen=True, eq=False)
class ForCall:
    """The user function `obj` made for the structures `structs` ({parameter: flatten's structure}) of the tuples
    and lists a call passes, where the call stays a call (four calls deep, or recursive): its items are parameters
    of their own, as in a callee inlined for them (_with_tuple_items). The derivative function srcdiff makes for a
    call takes and gives single values: called with the tuple whole, its items' derivatives were lost (fuzz seed
    980280, a zero gradient). The module gives it a primal and derivatives of its own (module_builder._key)."""
    obj: object
    structs: dict

    @property
    def shape(self) -> str:
        return repr(sorted(self.structs.items()))


def inline_calls(unit, callee_anf, stack=(), for_structures=None):
    """Inline calls in the ANF unit `unit`; `callee_anf(obj)` gives a callee's inlined ANF unit (or None);
    `for_structures(obj, structs)`: (ForCall, its unit) for a call that stays a call passing tuples, or None."""
    namer = Namer(names_in(unit.node) | set(unit.bindings) | {"np", "rt", "math"})
    used_callees = set()
    _hold_items(unit, namer)
    tuples = _tuple_literals(unit.node)

    def inline(s):
        if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name)
                and s.value.func.id in unit.callees):   # a call for its effect (`bump(buf, i, v)`): its value,
            name = s.value.func.id                        # None for a procedure, goes to a name nothing reads
            named = gast.copy_location(assign(namer.fresh(f"{name}_value"), s.value, s.lineno), s)
            spliced = try_inline(named)
            if spliced is None and is_generated_file(unit.filename):
                # generated code differentiated again: its dead code left the call of a function that stays a
                # call, unread and with effects, as a statement; in the code it came from it was an assignment
                used_callees.add(name)
                _decline_dicts_to_a_call(unit, named, tuples)
                return named
            if spliced is None:     # (it would stay a call, of a name the gradient lacks)
                fail(s, unit, f"a call of your function `{name}` whose value is not used, which srcdiff cannot "
                              "inline (a recursive function, a call with keywords)", f"assign its value "
                     f"(`y = {name}(...)`); a function that writes into its argument can return it: "
                     f"`buf = {name}(buf, ...)`, with `buf = buf.copy()` at its start and `return buf` at its end")
            return spliced
        spliced = try_inline(s)
        if spliced is None:
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and \
                    isinstance(s.value.func, gast.Name) and s.value.func.id in unit.callees:
                items = _call_for_structures(unit, s, tuples, for_structures, namer)
                used_callees.add(s.value.func.id)
                _decline_dicts_to_a_call(unit, s, tuples)   # (a call made for a dict's keys passes its items)
                return items + [s]
            return s
        return spliced

    def try_inline(s):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
                and isinstance(s.value.func, gast.Name) and s.value.func.id in unit.callees):
            return None
        call = s.value
        obj = unit.callees[call.func.id]
        if obj is None or call.keywords or id(obj) in stack:
            return None
        made = _callee_for(unit, s, obj, tuples, lambda *structs: callee_anf(obj, stack + (id(obj),), *structs))
        if made is None:
            return None
        callee, call_args, alone = made
        params = callee.params
        if len(params) != len(call_args):
            return None
        body = callee.node.body
        if alone and _too_large(callee, call, tuples):
            return None
        ret = body[-1].value
        substitute = _read_only(callee, params, call_args)
        rename = _renaming(unit, callee, params, substitute, namer, used_callees)
        named = _returned_as(s.targets[0].id, ret, params, rename, call_args)     # (then in `rename`)
        spliced = [_mark(assign(rename[p], copy.deepcopy(a), s.lineno), s, None, None)
                   for p, a in zip(params, call_args) if p not in substitute]
        inlined = [_substitute(_rename(st, rename), substitute) for st in copy.deepcopy(body[:-1])]
        numbers = {}
        if any(isinstance(a, gast.Constant) for a in substitute.values()):
            inlined = _decided(_folded(inlined))
            inlined, numbers = _numbers_in_place(inlined, _user_locals(obj, rename, ret))
        shown = anno.get(callee.node, anno.USER_NAME, callee.name)     # (a copy function_args made: the user's)
        spliced += [_mark(st, None, callee.filename, shown) for st in inlined]
        if not named:
            value = _substitute(_substitute(_rename(copy.deepcopy(ret), rename), substitute), numbers)
            spliced.append(_mark(assign(s.targets[0].id, value, s.lineno), s, None, None))
        return spliced

    unit.node.body = rewrite_blocks(unit.node.body, inline)
    unit.callees = {k: v for k, v in unit.callees.items() if k in used_callees}
    return unit


def _too_large(callee, call, tuples: dict) -> bool:
    """Whether the callee stays a call for its size: over MAX_STATEMENTS statements, and none of these, inlined at
    any size: a callee returning a tuple (e.g. a gradient: a separate pullback takes one value), one passed a dict
    (which a call cannot take), one writing into its parameter's array (its pullback would run it again from the
    array the write changed: parameter_writes)."""
    return not _returns_tuple(callee) and not _passes_dict(call, tuples) and \
        sum(1 for _ in walk(callee.node) if isinstance(_, gast.stmt)) > MAX_STATEMENTS and \
        not parameter_writes(callee, is_generated_file(callee.filename))


def _returns_tuple(callee) -> bool:
    """Whether the callee's unit returns a tuple it writes out (`return a, b`, or a name bound to one)."""
    body = callee.node.body
    returned = body[-1].value if isinstance(body[-1], gast.Return) else None
    return isinstance(returned, gast.Tuple) or (isinstance(returned, gast.Name) and any(
        isinstance(n, gast.Assign) and isinstance(n.value, gast.Tuple) and isinstance(n.targets[0], gast.Name)
        and n.targets[0].id == returned.id for n in walk(callee.node)))


def parameter_writes(unit, generated: bool) -> list:
    """(statement, parameter) of each write into the array a parameter of `unit` holds on entry (`buf[i] = v`, the
    parameter not bound again; or through a second name, `b = buf`, bound once). A function that stays a call has
    its primal run in its caller's forward sweep, which writes the array, and its pullback runs it again from the
    array the write changed (a recursive `rec(buf, n - 1, y)` writing `buf[n % 2]`: d/dy off by 1.25, silently):
    such a callee is inlined at any size, and a recursive one declined (module_builder). `generated`: `unit` is a
    gradient srcdiff made, whose restores leave its arguments as they were; only its write-back of the state its
    function leaves them in counts (`x[:] = x_final`: transforms/caller_arrays.py)."""
    params = set(unit.params)
    bound = {n.id for n in walk(unit.node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    names = {p: p for p in params - bound}    # a name of the array a parameter holds -> the parameter
    counts = assign_counts(unit.node)
    copies = [(s.targets[0].id, s.value.id) for s in walk(unit.node) if isinstance(s, gast.Assign)
              and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)
              and counts.get(s.targets[0].id) == 1]
    while any(b in names and a not in names for a, b in copies):    # (second names of second names too)
        names.update({a: names[b] for a, b in copies if b in names and a not in names})
    # a parameter bound again still holds the caller's array until a binding of it has run: a write that may run
    # before every binding (in statement order, not line order: `M[1, 2] += x; M = np.sin(M)` on one line; in a loop
    # whose later iterations bind it, or a branch) writes the caller's array (`M[1, 2] += x` then `M = np.sin(M)` in a
    # loop below; fuzz seed 1310008: d/da[0] 99.997 for 69.360, silently, where such a callee stayed a call)
    rebound = params & bound
    found = []

    def block(stmts, done: frozenset) -> frozenset:
        """`done`: the parameters bound again on every path to the block's start; those after it."""
        for s in stmts:
            if isinstance(s, (gast.FunctionDef, gast.Lambda)):
                continue
            targets = s.targets if isinstance(s, gast.Assign) else [s.target] if isinstance(s, gast.AugAssign) else []
            if generated:
                targets = [t for t in targets if isinstance(t, gast.Subscript) and isinstance(t.slice, gast.Slice)
                           and t.slice.lower is None]
            for t in targets:
                while isinstance(t, gast.Subscript):
                    t = t.value
                if t is not targets[0] and isinstance(t, gast.Name) and t.id in names:
                    found.append((s, names[t.id]))
                elif t is not targets[0] and isinstance(t, gast.Name) and t.id in rebound and t.id not in done:
                    found.append((s, t.id))
            if isinstance(s, gast.If):
                done = done | (block(s.body, done) & block(s.orelse, done))
            elif isinstance(s, (gast.For, gast.While)):    # (the body's first run starts with `done`; it may not run)
                heads = frozenset(n.id for n in walk(s.target) if isinstance(n, gast.Name)) if isinstance(
                    s, gast.For) else frozenset()
                block(s.body, done | (heads & rebound))
                block(s.orelse, done)
            else:
                for b in nested_blocks(s):
                    block(b, done)
                done = done | frozenset(n.id for t in (s.targets if isinstance(s, gast.Assign) else [])
                                        for n in walk(t) if isinstance(n, gast.Name)
                                        and isinstance(n.ctx, gast.Store)) & rebound
        return done
    block(unit.node.body, frozenset())
    return found


def _callee_for(unit, s, obj, tuples: dict, made):
    """(the callee's unit, the call's arguments, whether it may stay a function of its own) for the call `s` of
    `obj`: made for unknown arguments (`made()`), or for the structures of the tuples, lists and dicts the call
    passes (`made(structs)`) where they have items of their own; None where it stays a call."""
    call = s.value
    try:
        callee = made()
    except SrcdiffError:
        # a callee that reads an argument's structure in ways only its structure allows (a dict's items by
        # key, p.items()): made for the structure the call passes, or the error stands
        callee = _structured_only(obj, call, tuples, made)
        if callee is None and _passes_dict(call, tuples):
            return None     # (not inlined here, a recursion: a call of the function made for the dict's keys)
        if callee is None:
            raise
        # (no function of its own can take the structure: inlined at any size)
        return callee, [leaf for a in call.args for leaf in _leaves(a, tuples)], False
    if callee is None or len(callee.params) != len(call.args):
        return None
    _decline_tuples_to_transform(unit, callee, call, tuples, s)
    callee, call_args = _with_tuple_items(callee, call, tuples, made)
    if call_args is call.args:     # (not made for the structures: a dict would be a tuple there)
        _decline_dicts_to_a_call(unit, s, tuples)
    return callee, call_args, True


def _call_for_structures(unit, s, tuples: dict, for_structures, namer) -> list:
    """`y = h(t)` of a function that stays a call passing tuples or lists of the caller's values (`t = (u, v)`)
    becomes `y = h2(u, v)` of h made for their structures (ForCall), in place; the statements to put before it (a
    loop's state, bound to tuples of one structure again and again, is read item by item: `state_0 = state[0]`).
    Left as it is where it passes none, passes keywords or a dict, or h cannot be made for them (it returns the
    tuple whole, ...): there reverse and forward mode decline the call where a differentiated value is in the tuple
    (activity.decline_items_passed_to_a_call)."""
    call = s.value
    obj = unit.callees[call.func.id]
    names = _parameter_names(obj)
    if for_structures is None or call.keywords or names is None or len(names) != len(call.args):
        return []
    rebound = _bound_structures(unit.node, tuples)
    structs = {p: _structure(a, tuples) or (rebound.get(a.id) if isinstance(a, gast.Name) else None)
               for p, a in zip(names, call.args)}
    structs = {p: st for p, st in structs.items() if st is not None}
    if not structs:
        return []
    made = for_structures(obj, structs)
    if made is None or is_generated_file(made[1].filename):     # (a srcdiff transform takes one value per
        return []                                                # parameter: _decline_tuples_to_transform)
    target, flat = made
    _decline_item_writes(flat, structs, call)
    before, args = [], []
    for p, a in zip(names, call.args):
        if p in structs and _structure(a, tuples) is None:
            args += _items_read(a.id, structs[p], namer, before)
        else:
            args += [copy.deepcopy(leaf) for leaf in _leaves(a, tuples)]
    local = namer.fresh(call.func.id)
    unit.callees[local] = target
    s.value = gast.copy_location(gast.Call(func=load(local), args=args, keywords=[]), call)
    return [gast.copy_location(b, s) for b in before]


def keyed_items_passed(fn, call, params):
    """(the structures {parameter: flatten's structure}, the leaves as the call's arguments) of `call` in `fn` (a
    function's front-end tree, not in ANF) where it passes a dict argument's items whole, or a namedtuple's fields
    (or a tuple holding them), to the parameters `params`, else None. A primal function made for a dict's or
    namedtuple's structure calls the function made for it (module_builder.primal_name), as its derivative does: the
    function made for unknown arguments would index the tuple of the items by a key, or read `q.w` of a plain tuple
    (declined: "attribute .w of a local value", fuzz seeds 1250023, 1253025, 1255002, where f, too large to inline
    into the hvp oracle's sin(0.5 * f(...)), kept its calls of a nested def stepping a namedtuple)."""
    if call.keywords or params is None or len(params) != len(call.args):
        return None
    tuples = _tuple_literals(fn)
    structs = {p: _structure(a, tuples) for p, a in zip(params, call.args)}
    structs = {p: st for p, st in structs.items() if st is not None}
    if not any(dict_forms.has_keyed(st) or _has_fields(st) for st in structs.values()):
        return None
    return structs, [copy.deepcopy(leaf) for a in call.args for leaf in _leaves(a, tuples)]


def _has_fields(struct) -> bool:
    """Whether the structure holds a namedtuple's (flatten's Fields, read by field) anywhere."""
    return isinstance(struct, list) and (isinstance(struct, flatten.Fields) or any(_has_fields(st) for st in struct))


def parameter_names(obj):
    """The parameters of the user function (or lifted nested function's unit) `obj`, keyword-only ones last."""
    return _parameter_names(obj)


def _bound_structures(fn, tuples: dict) -> dict:
    """{name: structure} for the names bound more than once, each time to a tuple or list literal of one structure
    (_structure's), and in no other way: a loop's state (`state = (u, v)`, then `state = (s0 * 0.9, s1)` in it)."""
    counts = assign_counts(fn)
    found: dict = {}
    for n in walk(fn):
        if (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)
                and n.targets[0].id not in tuples):
            found.setdefault(n.targets[0].id, []).append(_structure(n.value, tuples))
    return {k: v[0] for k, v in found.items()
            if len(v) == counts.get(k) and v[0] is not None and all(st == v[0] for st in v)}


def _items_read(name: str, struct, namer, out: list) -> list:
    """The leaves of the tuple `name` holds, of structure `struct`, as names bound (statements added to `out`) to
    its items, `state_0 = state[0]` (the tuples pass reads them off its components; `state_x` of one marked with
    fields or keys: item_variables.py)."""
    leaves = []
    for k, sub in enumerate(struct):
        item = namer.fresh(item_variable(name, struct, (k,)))
        out.append(assign(item, gast.Subscript(value=load(name), slice=const(k),
                                               ctx=gast.Load())))
        leaves += [load(item)] if sub is None else _items_read(item, sub, namer, out)
    return leaves


def _read_only(callee, params, call_args) -> dict:
    """{parameter: the call's argument} of the parameters the callee never binds: its body reads the argument."""
    stored = {n.id for n in walk(callee.node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    return {p: a for p, a in zip(params, call_args) if p not in stored}


def _user_locals(obj, rename: dict, ret) -> set | None:
    """The names (as inlined) of the callee's own variables and of its returned local, which keep their
    statements; None where the callee's variables are not known (a nested function's unit)."""
    code = getattr(obj, "__code__", None)
    if code is None:
        return None
    keep = {rename.get(n, n) for n in code.co_varnames}
    return keep | ({rename.get(ret.id, ret.id)} if isinstance(ret, gast.Name) else set())


def _numbers_in_place(stmts: list, keep) -> tuple:
    """(stmts, {name: number}): a temporary the inlined body binds once, at its top, to a number that a constant
    argument made (`result2 = 0.05` of `damp(x)` with `k=0.5`, folded), written where it is read instead."""
    if keep is None:
        return stmts, {}
    stores: dict = {}
    for n in (n for st in stmts for n in walk(st)):
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    numbers = {st.targets[0].id: st.value for st in stmts
               if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
               and st.targets[0].id not in keep and stores.get(st.targets[0].id) == 1
               and isinstance(st.value, gast.Constant) and type(st.value.value) in (int, float)}
    if not numbers:
        return stmts, {}
    kept = [st for st in stmts if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                                       and st.targets[0].id in numbers)]
    return [_substitute(st, numbers) for st in kept], numbers


def _returned_as(target: str, ret, params, rename: dict, call_args) -> bool:
    """Whether the callee's returned local `ret` may take the caller's name `target` throughout the inlined body
    (`y = helper(a)` of `r = a * s; return r` -> `y = a * s`, not `r1 = a * s; y = r1`, whose copy propagation
    kept the callee's name: result1v1v1 after three calls deep). Not a parameter (the caller's value it was
    passed), `target` not a parameter's name either (its reads become the argument's), and not read by the call (`y = helper(y)`: the body reads the old y after it binds r).
    Where it may, `rename` maps the returned local to `target`."""
    if (isinstance(ret, gast.Name) and ret.id in rename and ret.id not in params and target not in params
            and not any(isinstance(n, gast.Name) and n.id == target for a in call_args for n in walk(a))):
        rename[ret.id] = target
        return True
    return False


def _parameter_names(obj):
    """The parameters of the user function (or lifted nested function's unit) `obj` as a call passes them once its
    defaults are filled in: the positional ones, then the keyword-only ones (parse.py makes them positional, last);
    None if unknown. (Without the keyword-only ones, the call of a function that has them passed more arguments
    than this gave, and a tuple it passed was not taken item by item: a decline, plain fuzz 1006002.)"""
    if hasattr(obj, "params") and hasattr(obj, "node"):
        return list(obj.params)
    import inspect
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)] + \
        [p.name for p in params if p.kind is p.KEYWORD_ONLY]


def _renaming(unit, callee, params, substitute: dict, namer, used_callees: set) -> dict:
    """{callee's name: its name in the caller} for the callee's locals (fresh names; not the read-only
    parameters `substitute` replaces), the module constants a caller's local would shadow (the caller's
    unit takes their bindings) and the calls the callee keeps (recursive ones: the caller's callees now)."""
    local = set(params) | {n.id for n in walk(callee.node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    local |= {n.target.id for n in walk(callee.node) if isinstance(n, gast.For)}
    # free names of the callee (module constants) must not be shadowed by the caller's locals
    free = {n.id for n in walk(callee.node) if isinstance(n, gast.Name)} - local - {"np", "rt", "math"}
    rename = {v: _fresh_beside(namer, v, substitute) for v in sorted(local - set(substitute))}
    for name in free & names_in(unit.node):
        if name in callee.bindings:
            alias = namer.fresh(name)
            unit.bindings[alias] = callee.bindings[name]
            rename[name] = alias
    for name in free:
        if name in callee.bindings and name not in rename:
            unit.bindings.setdefault(name, callee.bindings[name])
    for name in sorted(free & set(callee.callees)):   # calls the callee keeps (recursive ones) move along
        target = callee.callees[name]
        if unit.callees.get(name) is not target:
            rename[name] = namer.fresh(name)   # (the name itself where the caller has no such name)
        unit.callees[rename.get(name, name)] = target
        used_callees.add(rename.get(name, name))
    return rename


def _fresh_beside(namer, name: str, substitute: dict) -> str:
    """A fresh name for the callee's local `name` that is none of its read-only parameters: those are substituted
    after the renaming, in every read, so a local renamed to one read the caller's argument instead (ANF names a
    temporary after the parameter it is passed as, `y = y1 + k1` before `rhs(y)`; inlined where the caller has a
    `y`, it became `y1`, the callee's parameter, and `rhs(y1 + k1)` read the argument: `y = mid(x)` of
    `k1 = rhs(y1); return rhs(y1 + k1)` gave rhs(x), 0.09 for 0.1521)."""
    fresh = namer.fresh(name)
    while fresh in substitute:
        fresh = namer.fresh(name)
    return fresh


def _decline_tuples_to_transform(unit, callee, call, tuples: dict, s):
    """A tuple or list (a literal, or a name bound to one) passed whole from the user's code to a srcdiff transform
    (`srcdiff.grad(net)((W, b), x)`): the transform's generated function was made for arguments of unknown kinds,
    one value per parameter, so its items cannot become parameters of their own as a function of the user's
    can (README, Transforms: declined; it would fail at run time, or compute with the tuple as one value)."""
    if not is_generated_file(callee.filename) or is_generated_file(unit.filename):
        return
    for p, a in zip(callee.params, call.args):
        if _structure(a, tuples) is not None:
            fail(s, unit, f"a tuple or list passed whole to {call.func.id} (for its parameter {p!r}), a srcdiff "
                          "transform called inside the function you differentiate",
                 "pass its items as separate arguments: differentiate a function that takes them one by one")


def _passes_dict(call, tuples: dict) -> bool:
    """Whether the call passes a dict argument whole (or a tuple holding one): a function that stays a call
    cannot take it (_decline_dicts_to_a_call)."""
    return any(dict_forms.has_keyed(st) for st in (_structure(a, tuples) for a in call.args) if st is not None)


def _decline_dicts_to_a_call(unit, s, tuples: dict):
    """A dict argument passed whole to a function that stays a call of its own, or is inlined as made for unknown
    arguments (a recursive one): its items are parameters of their own only in a function made for the dict's
    structure; elsewhere the function would index a tuple of them by string (a TypeError, or a decline later)."""
    for a in s.value.args:
        if isinstance(_structure(a, tuples), dict_forms.Keyed):
            fail(s, unit, f"a dict argument passed whole to {s.value.func.id}, a function srcdiff cannot make for "
                          "the dict's keys here (a recursive one): srcdiff reads a dict's items at their keys only "
                          "in the function differentiated and the functions it inlines",
                 "pass the items it reads as arguments of their own (rec(p[\"x\"], d - 1))")


def _with_tuple_items(callee, call, tuples: dict, structured):
    """(the callee's unit, the call's arguments) for a call passing tuples of the caller's values (literals,
    or names bound to them: `tuples`): the callee made with one parameter per item of each (`structured(
    structs)`, flatten.py: its loops over them unroll, `for w, b in layers`, as the differentiated function's
    do over its own tuple arguments) and the items as arguments; else (no tuple, or a callee that uses one
    whole: returns it, passes it on) `callee` and the call's arguments as they are."""
    structs = {p: _structure(a, tuples) for p, a in zip(callee.params, call.args)}
    structs = {p: st for p, st in structs.items() if st is not None}
    if not structs:
        return callee, call.args
    try:
        flat = structured(structs)
    except SrcdiffError:
        if any(map(dict_forms.has_keyed, structs.values())):    # (a dict: no other way to take it)
            raise
        return callee, call.args
    if flat is None:
        return callee, call.args
    _decline_item_writes(flat, structs, call)
    return flat, [leaf for a in call.args for leaf in _leaves(a, tuples)]


def _decline_item_writes(flat, structs: dict, call):
    """A callee made for the structures of its tuple/list/dict parameters that assigns an item of one (`p["b"] =
    ...`, `p[0] += 1.0`): in Python the caller's list or dict changes, and the caller reads the new item after the
    call; inlined, the item is a local of the callee, and the caller would read the old one (a wrong gradient)."""
    rebound = anno.get(flat.node, anno.RECORDS_BOUND, frozenset())     # (`s = s._replace(W=e)`: s bound again)
    leaves = {leaf: p for p, st in structs.items() if p not in rebound for leaf in flatten.flat_names([p], {p: st})}

    def written(st):
        return next((leaves[n.id] for n in walk(st) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)
                     and n.id in leaves), None)
    # (located at the simple statement that writes, where it has a line; else at the def)
    at = next((st for st in walk(flat.node) if isinstance(st, gast.stmt) and not hasattr(st, "body")
               and getattr(st, "lineno", None) and written(st)), flat.node)
    param = written(at)
    if param is not None:
        head = (flat.source_line(getattr(flat.node, "lineno", None)) or "").split(")")[0]
        if flat.node.name != "lambda_" and head.lstrip().startswith("def ") and not re.search(rf"\b{param}\b", head):
            # (a nested def's write into a list or dict of the enclosing function, which lifting made a parameter)
            fail(at, flat, f"{call.func.id} assigns an item of {param!r}, a list or dict of the enclosing function: "
                           "srcdiff does not follow a nested function's writes into its enclosing function's "
                           "lists and dicts",
                 f"return the new value from {call.func.id} and bind it where it is called "
                 f"(`s = {call.func.id}(s, v)`, with s a number or an array), or accumulate in the enclosing function")
        fail(at, flat, f"{call.func.id} assigns an item of its parameter {param!r}, a list or dict the caller "
                       "passes: the caller's would change, which srcdiff does not follow into the caller",
             f"return the new value and assign it where {call.func.id} is called (`p[\"b\"] = {call.func.id}(p)`), "
             "or write into a copy of the item")


def _structured_only(obj, call, tuples: dict, structured):
    """The callee `obj` made for the structures of the call's tuple arguments (`structured(structs)`), where made
    for unknown arguments it failed; None where the call passes no tuple, or passes arguments other than in order.
    (`obj` a nested function's lifted unit too: `def k(z, q): return q.W` called with a namedtuple argument, `k(x,
    p)`, was declined as "attribute .W of a local value", h25c.)"""
    names = _parameter_names(obj)
    if names is None or len(names) != len(call.args):
        return None
    structs = {p: _structure(a, tuples) for p, a in zip(names, call.args)}
    structs = {p: st for p, st in structs.items() if st is not None}
    flat = structured(structs) if structs else None
    if flat is not None:
        _decline_item_writes(flat, structs, call)
    return flat


def _hold_items(unit, namer):
    """A tuple or list literal bound to a name and passed to a function of the user's (`t = [u, v]` ... `g(t)`)
    holding a name that is bound again (`u = u * 3.0` between them, or in a loop): the call's items are the
    literal's names (_leaves), which would read u's later value, so its items are bound to names of their own
    where it is made (`t_0 = u`; `t = [t_0, v]`). Read at the call, `u` gave g the new value: a wrong value and
    gradient, in every mode."""
    counts = assign_counts(unit.node)
    tuples = _tuple_literals(unit.node)
    todo = [n.id for c in walk(unit.node) if isinstance(c, gast.Call) and isinstance(c.func, gast.Name)
            and c.func.id in unit.callees for a in c.args for n in walk_names(a) if n.id in tuples]
    passed = set()
    while todo:
        t = todo.pop()
        if t not in passed:
            passed.add(t)
            todo += [n.id for n in walk_names(tuples[t]) if n.id in tuples]
    held = {t for t in passed if any(isinstance(e, gast.Name) and counts.get(e.id, 0) > 1 for e in tuples[t].elts)}
    if not held:
        return

    def hold(s):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id in held
                and s.value is tuples[s.targets[0].id]):
            return s
        out = []
        struct = _structure(s.value, {})
        for k, e in enumerate(s.value.elts):
            if isinstance(e, gast.Name) and counts.get(e.id, 0) > 1:
                item = namer.fresh(item_variable(s.targets[0].id, struct, (k,)))
                out.append(gast.copy_location(assign(item, load(e.id), s.lineno), s))
                s.value.elts[k] = load(item)
        return out + [s]
    unit.node.body = rewrite_blocks(unit.node.body, hold)


def _tuple_literals(fn) -> dict:
    """{name: its tuple literal} for the names `fn` binds once, to a tuple or list literal (ANF's `t = (a, b)`)."""
    found, count = {}, {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            count[n.id] = count.get(n.id, 0) + 1
        if (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)
                and isinstance(n.value, (gast.Tuple, gast.List))):
            found[n.targets[0].id] = n.value
    return {k: v for k, v in found.items() if count.get(k) == 1}


def _structure(a, tuples: dict, depth: int = 0):
    """The structure (flatten.structure_of's form) of the call argument `a`: a tuple or list literal, or a name
    bound to one, of the caller's values; None for a single value."""
    a = tuples.get(a.id, a) if isinstance(a, gast.Name) and depth < 16 else a
    if not isinstance(a, (gast.Tuple, gast.List)) or any(isinstance(e, gast.Starred) for e in a.elts):
        return None
    items = [_structure(e, tuples, depth + 1) for e in a.elts]
    keys = anno.get(a, anno.DICT_KEYS)     # a dict argument's items, passed whole (flatten): read by key
    fields = anno.get(a, anno.TUPLE_FIELDS)     # a namedtuple argument's: read by field
    if fields is not None:
        from .flatten import Fields
        return Fields(items, *fields)
    return dict_forms.Keyed(items, keys) if keys is not None else items


def _leaves(a, tuples: dict, depth: int = 0) -> list:
    """The values at the leaves of the call argument `a`, in flatten.leaves's order."""
    b = tuples.get(a.id, a) if isinstance(a, gast.Name) and depth < 16 else a
    if not isinstance(b, (gast.Tuple, gast.List)) or any(isinstance(e, gast.Starred) for e in b.elts):
        return [a]
    return [leaf for e in b.elts for leaf in _leaves(e, tuples, depth + 1)]


def _rename(node, mapping):
    """Rename the callee's locals, each Name once: the mapping chains where the callee's names are
    themselves fresh versions (k -> k2 and k2 -> k2v1 when the callee inlined a helper with a local k2),
    so a second visit (a loop's target was renamed again through its For) would bind k2v1 and read k2."""
    for n in {id(n): n for n in walk(node) if isinstance(n, gast.Name)}.values():
        if n.id in mapping:
            n.id = mapping[n.id]
    return node


def _substitute(node, atoms):
    """Replace loads of read-only parameters by the call's argument atoms."""
    class T(Transformer):
        def visit_Name(self, n):
            if n.id in atoms and isinstance(n.ctx, gast.Load):
                return copy.deepcopy(atoms[n.id])
            return n
    return T().visit(node)


def decide_none_arguments(unit, none_params) -> bool:
    """(a specialisation's) `w is None` and `w is not None` of a parameter passed None that the function never
    assigns, its callees' inlined tests of it included, decided: the branch not taken is dropped, as _decided
    drops an inlined call's. Left to Numba, which prunes it from the function it compiles, that branch's stacks
    were never appended to ('Cannot infer the type of variable s4_stack, list(undefined)'). Whether anything
    changed."""
    stored = {n.id for n in walk(unit.node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    names = set(none_params) - stored
    changed = False
    for n in walk(unit.node):
        if isinstance(n, gast.Compare) and len(n.ops) == 1 and isinstance(n.ops[0], (gast.Is, gast.IsNot)):
            for side in ("left", "comparators"):
                e = n.left if side == "left" else n.comparators[0]
                if isinstance(e, gast.Name) and e.id in names:
                    none = gast.copy_location(gast.Constant(value=None, kind=None), e)
                    if side == "left":
                        n.left = none
                    else:
                        n.comparators[0] = none
                    changed = True
    if changed:
        unit.node.body = _decided(unit.node.body)
    return changed


def _decided(stmts: list) -> list:
    """The inlined statements with the branches that constant arguments decide cut off: a test of constants
    only (`cond = weights is None` of a call that passes None, `if not cond:`) keeps the branch it takes.
    The other branch may not even type (`None * r`: Numba declined the gradient differentiated again, whose
    forward mode reads it; the gradient itself was compiled only because Numba prunes some such branches)."""
    stored: dict = {}
    for n in (n for st in stmts for n in walk(st)):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stored[n.id] = stored.get(n.id, 0) + 1
    known: dict = {}
    for st in (n for st in stmts for n in walk(st)):
        if (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
                and stored.get(st.targets[0].id) == 1):
            v = _constant_test(st.value, known)
            if v is not None:
                known[st.targets[0].id] = v

    def prune(block):
        out = []
        for st in block:
            if isinstance(st, gast.If):
                v = _constant_test(st.test, known)
                if v is not None:
                    out += [_unmerged(t) for t in prune(st.body if v else st.orelse)]
                    continue
            out.append(map_blocks(st, prune))
        return out
    return prune(stmts) if known else stmts


def _folded(stmts: list) -> list:
    """The inlined statements with the operations of constants that the call's constant arguments made folded
    (`result1 = 0.5 * 0.1` of `helper(0.5, 0.1)` -> `result1 = 0.05`): what Python computes from them at run
    time (anf.folded_constant); any other operation, and a division by zero, is left to run."""
    for st in (n for st in stmts for n in walk(st)):
        if isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) \
                and not isinstance(st.value, gast.Constant):
            folded = folded_constant(st.value)
            if folded is not None:
                st.value = gast.copy_location(folded, st.value)
    return stmts


def _unmerged(st):
    """A statement of the branch a constant test took, spliced into the block that held the `if` (after SSA: the
    none args pass): its merge copy (`ws7 = ws6`, annotated MERGE) is a plain copy now. Still marked, no block
    owned its name (reverse.owned gives an if's merge names to the block holding the if): a loop's backward
    sweep read the last iteration's value for every iteration (`if w is not None: ws = ... else: ws = ...`
    called with w None, a wrong gradient)."""
    if anno.get(st, anno.MERGE):
        anno.set(st, anno.MERGE, False)
    return st


def _constant_test(e, known: dict):
    """True/False for a test of constants (`None is None`, `not c` of a name `known` decides), else None."""
    if isinstance(e, gast.Name):
        return known.get(e.id)
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.Not):
        v = _constant_test(e.operand, known)
        return None if v is None else not v
    if (isinstance(e, gast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], (gast.Is, gast.IsNot))
            and all(isinstance(x, gast.Constant) and (x.value is None or type(x.value) is bool)
                    for x in (e.left, e.comparators[0]))):
        same = e.left.value is e.comparators[0].value
        return same if isinstance(e.ops[0], gast.Is) else not same
    return None


def _mark(stmt, like, filename, func):
    """Record where an inlined statement came from (for the generated comments)."""
    for n in walk(stmt):
        if isinstance(n, gast.stmt):
            if filename is not None and not anno.has(n, anno.FILE):
                anno.set(anno.set(n, anno.FILE, filename), anno.FUNC, func)
            if like is not None and getattr(n, "lineno", None) is None:
                n.lineno = like.lineno
    return stmt


_ = load
