"""Lift nested functions: nested defs and named lambdas become callees of their own, taking the free
variables they read as extra parameters (runs first, before `desugar`)."""
from __future__ import annotations

import copy
import inspect
import types

import gast
import numpy as np

from ..errors import fail
from . import annotations as anno
from .astutil import Namer, Transformer, copy_loc, load, loaded_names, map_blocks, names_in, store, walk, walk_of
from .parse import Unit
from .resolve import local_names


def lift_local_functions(unit: Unit) -> Unit:
    """Move nested defs / named lambdas out of `unit` into callees with free variables as params."""
    _functions_as_lambdas(unit)
    if not any(True for s in unit.node.body for _ in walk_of(s, _LIFTED_KINDS)):
        return unit     # (one walk: most functions hold neither, and the names below need three)
    _rename_redefined(unit)
    defaults: dict = {}        # nested function -> {parameter: its default (a constant, or a name bound to it)}
    defs = _collect_defs(unit, defaults)
    if not defs:
        return unit
    outer_locals = local_names(unit.node)    # (with the names the defaults' values were bound to)
    _check_signatures(defs, unit)
    positional = {name: len(fd.args.args) for name, fd in defs.items()}
    for fd in defs.values():    # keyword-only parameters follow the positional ones (calls name them)
        fd.args.args, fd.args.kwonlyargs, fd.args.kw_defaults = fd.args.args + fd.args.kwonlyargs, [], []
    params = {name: [a.id for a in fd.args.args] for name, fd in defs.items()}
    for fn_node in [unit.node] + list(defs.values()):   # inner(x, scale=s): arguments by position, before
        for n in walk(fn_node):                    # the free variables are appended to them
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in defs:
                name = n.func.id
                n.args = _positional_arguments(n, params[name], positional[name], defaults.get(name, {}), unit)
                n.keywords = []
    extra = _free_variables(defs, outer_locals, unit)
    for name, fd in defs.items():
        free = extra[name]
        fd.args.args = fd.args.args + [store(n) for n in free]
        for a in fd.args.args:
            a.ctx = gast.Param()
    for name, fd in defs.items():
        _decline_calls_of_itself(name, fd, unit)
        sub = Unit(name=name, node=fd, filename=unit.filename, namespace=unit.namespace)
        _add_free_args(sub.node, extra, sub)
        # callees made before lifting (a factory's call function, transforms/factories.py) stay visible
        # (and the enclosing function's nested defs, lifted: None until they are, filled in below)
        sub.callees.update({k: v for k, v in unit.callees.items() if k not in defs})
        sub.callees.update({k: None for k in defs if k != name})
        unit.callees[name] = lift_local_functions(sub)
    lifted = {name: unit.callees[name] for name in defs}
    for name in defs:  # siblings may call each other, and so may the functions nested in them (`c` in `b` calls `a`)
        _fill_siblings(unit.callees[name], lifted, set())
    _add_free_args(unit.node, extra, unit)
    return unit


def _functions_as_lambdas(unit: Unit) -> None:
    """A name bound to a function that is not a nested def or lambda (`act = np.tanh`, `act = sq` of a module-level
    `sq`, `act = g` of a nested `g`) and read only as the function of calls taking `n` arguments by position: the
    binding becomes `act = lambda a0, ..., a(n-1): np.tanh(a0, ...)`, a named lambda lifted as any other (also bound
    in branches: `if relu: act = lambda z: ... else: act = np.tanh`, `_select_at_calls`). A conditional expression
    choosing between functions, `act = (lambda t: t * t) if flag else np.tanh`, is first written as the `if`
    statement binding the name in each branch (Python evaluates its test once, there, as the `if` does)."""
    if not any(True for s in unit.node.body for _ in walk_of(s, _ALIAS_KINDS)):
        return
    locals_ = local_names(unit.node)
    bound = [d[0] for d in _definitions(unit.node.body)]
    nested = {name for name in bound if bound.count(name) == 1}   # (`h = g` of a g bound twice: declined, read)

    def global_object(v):
        """The object the free name, attribute chain, item at a constant key (`ACTS["tanh"]`) or `.get` at one
        (`ACTS.get("sig", np.tanh)`) `v` reads, else _NONE."""
        if isinstance(v, gast.Subscript) and isinstance(v.slice, gast.Constant):
            base = global_object(v.value)
            try:
                return base[v.slice.value] if isinstance(base, (dict, list, tuple)) else _NONE
            except (KeyError, IndexError, TypeError):
                return _NONE
        if (isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "get"
                and 1 <= len(v.args) <= 2 and not v.keywords and isinstance(v.args[0], gast.Constant)):
            base = global_object(v.func.value)
            if not isinstance(base, dict):
                return _NONE
            if v.args[0].value in base:
                return base[v.args[0].value]
            return global_object(v.args[1]) if len(v.args) == 2 else _NONE
        parts = []
        while isinstance(v, gast.Attribute):
            parts.append(v.attr)
            v = v.value
        if not isinstance(v, gast.Name) or v.id in locals_ or v.id not in unit.namespace:
            return _NONE
        obj = unit.namespace[v.id]
        for a in reversed(parts):
            obj = getattr(obj, a, _NONE)
        return obj

    def function_value(v) -> bool:
        if isinstance(v, gast.Lambda):
            return True
        if isinstance(v, gast.Name) and v.id in nested:
            return True
        obj = global_object(v)
        return (callable(obj) and not isinstance(obj, type) and not isinstance(obj, types.ModuleType)
                and (inspect.isfunction(obj) or inspect.isbuiltin(obj) or isinstance(obj, np.ufunc)))

    def chooses_functions(v, target: str) -> bool:
        """An `IfExp` each of whose branches (nested ones too) is a function, one of them a lambda or a name of one,
        or the name it binds, `act = np.sin if s > 0.5 else act` (keeping the function bound before)."""
        leaves = []

        def go(e):
            if isinstance(e, gast.IfExp):
                go(e.body)
                go(e.orelse)
            else:
                leaves.append(e)
        go(v)
        kept = [e for e in leaves if isinstance(e, gast.Name) and e.id == target]
        return len(kept) < len(leaves) and all(function_value(e) for e in leaves if not any(e is k for k in kept))

    def as_if(s, target, v):
        """The statements binding `target` as `target = v` does (none where a branch is `target` itself)."""
        if isinstance(v, gast.Name) and v.id == target.id:
            return []
        if not isinstance(v, gast.IfExp):
            return [gast.copy_location(gast.Assign(targets=[copy.deepcopy(target)], value=v, type_comment=None), s)]
        body, orelse = as_if(s, target, v.body), as_if(s, target, v.orelse)
        test = v.test
        if not body and not orelse:
            return [gast.copy_location(gast.Expr(value=test), s)]    # (its test is still evaluated)
        if not body:    # (`act = act if c else g`: if not c, act = g)
            body, orelse = orelse, []
            test = copy_loc(gast.UnaryOp(op=gast.Not(), operand=test), v.test)
        return [gast.copy_location(gast.If(test=test, body=body, orelse=orelse), s)]

    def split(stmts):
        out = []
        for s in stmts:
            map_blocks(s, split)
            if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                    and isinstance(s.value, gast.IfExp) and chooses_functions(s.value, s.targets[0].id)):
                out.extend(as_if(s, s.targets[0], s.value))
            else:
                out.append(s)
        return out

    unit.node.body = split(unit.node.body)
    aliases = [s for s in walk(unit.node) if isinstance(s, gast.Assign) and len(s.targets) == 1
               and isinstance(s.targets[0], gast.Name) and not isinstance(s.value, gast.Lambda)
               and function_value(s.value)]
    for name in {s.targets[0].id for s in aliases}:
        calls = {id(n.func): n for n in walk(unit.node) if isinstance(n, gast.Call) and isinstance(n.func, gast.Name)
                 and n.func.id == name}
        reads = [n for n in walk(unit.node) if isinstance(n, gast.Name) and n.id == name
                 and isinstance(n.ctx, gast.Load)]
        counts = {len(c.args) for c in calls.values()} or {1}     # (never read: any number)
        odd = next((n for n in reads if id(n) not in calls), None) or next(
            (c for c in calls.values() if c.keywords or any(isinstance(a, gast.Starred) for a in c.args)), None)
        if odd is not None or len(counts) != 1:
            if name in bound:      # (bound to a lambda or nested def too)
                at = odd if odd is not None else next(iter(calls.values()))
                fail(at, unit, f"{name!r}, bound to a function that is not a lambda or nested def and to one that "
                               "is, is read here other than by a call passing its arguments by position (or its "
                               "calls pass different numbers of arguments)",
                     f"call {name!r} with the same number of arguments by position everywhere, or give each "
                     "function a name of its own")
            continue    # (read other than called alike: left as it was, declined where it is read)
        n = counts.pop()
        for s in aliases:
            if s.targets[0].id != name:
                continue
            params = [f"{name}_a{k}" for k in range(n)]
            args = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                        for p in params], posonlyargs=[], vararg=None, kwonlyargs=[],
                                  kw_defaults=[], kwarg=None, defaults=[])
            func = s.value
            if isinstance(func, (gast.Subscript, gast.Call)):   # ACTS["tanh"]: the function, bound by a name of its own
                fresh = f"{name}_function"
                while fresh in unit.namespace and unit.namespace[fresh] is not global_object(func):
                    fresh += "_"
                unit.namespace[fresh] = global_object(func)
                func = copy_loc(load(fresh), s)
            body = copy_loc(gast.Call(func=func, args=[copy_loc(load(p), s) for p in params], keywords=[]), s)
            s.value = copy_loc(gast.Lambda(args=args, body=body), s)


_ALIAS_KINDS = frozenset((gast.Assign,))
_NONE = object()    # (no object a name reads)


def _decline_calls_of_itself(name: str, fd, unit: Unit) -> None:
    """A nested def that calls itself: its name there is the enclosing function's local, the def itself, which its
    lifted copy does not have (it resolved to a module-level function of that name: a silently wrong value and
    gradient, hand-written second-order programs; else 'cannot call the local value'). Declined at the call."""
    if name in local_names(fd):
        return
    for n in walk(fd):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == name:
            fail(n, unit, f"a nested function that calls itself ({name!r}): srcdiff follows the recursion of "
                          "module-level functions only",
                 f"define {name!r} at module level, passing what it reads from the enclosing function as arguments")


def _fill_siblings(sub: Unit, lifted: dict, seen: set):
    """The placeholders (None) for the functions `lifted` in `sub`'s callees and its own lifted functions' callees,
    recursively, filled in."""
    if id(sub) in seen:
        return
    seen.add(id(sub))
    for k, v in list(sub.callees.items()):
        if v is None and k in lifted and lifted[k] is not sub:
            sub.callees[k] = lifted[k]
        elif isinstance(v, Unit) and all(v is not u for u in lifted.values()):
            _fill_siblings(v, lifted, seen)


_LIFTED = (gast.FunctionDef, gast.Lambda)     # what this pass lifts out of a function's body
_LIFTED_KINDS = frozenset(_LIFTED)


def _definitions(stmts, in_loop=False, out=None) -> list:
    """[(name, target node, statement, its block, in a loop, the def or lambda)] for each nested def or lambda
    bound to a name in `stmts` (and the blocks nested in them, not in the functions' bodies); the target is the
    def or the Name."""
    out = [] if out is None else out
    for s in stmts:
        if isinstance(s, gast.FunctionDef):
            out.append((s.name, s, s, stmts, in_loop, s))
            continue
        for t, v in _tuple_pairs(s) or ([(s.targets[0], s.value)] if isinstance(s, gast.Assign) and
                                        len(s.targets) == 1 else []):
            if isinstance(v, gast.Lambda) and isinstance(t, gast.Name):
                out.append((t.id, t, s, stmts, in_loop, v))
        loop = in_loop or isinstance(s, (gast.For, gast.While))
        map_blocks(s, lambda b: (_definitions(b, loop, out), b)[1])
    return out


def _rename_redefined(unit: Unit):
    """A name bound to a nested function twice (`g = lambda u: u * a` ... `g = lambda u: u + a`, or two defs of
    one name): each binding gets a name of its own, and the calls after it up to the next binding, in the block
    that holds both, call it (lifting keeps one function per name: each call reached the last one). Bindings in
    different blocks or in a loop, and a nested function that calls the name (Python looks it up when that runs),
    are declined."""
    defs = _definitions(unit.node.body)
    counts: dict = {}
    for name, *_ in defs:
        counts[name] = counts.get(name, 0) + 1
    twice = {name for name, c in counts.items() if c > 1}
    own = _own_stores(unit.node.body)      # (of this function: not of the functions nested in it)
    stores: dict = {}
    for n in own:
        stores[n.id] = stores.get(n.id, 0) + 1
    for name, target, st, block, in_loop, _ in defs:
        if counts[name] == 1 and stores.get(name, 0) > (1 if isinstance(target, gast.Name) else 0):
            # (`if c: g = lambda u: u * u` / `else: g = 2.0`: the lifted function was called on every path; bound
            # again in the same block, outside loops, a call before that binding reaches the function, and one
            # after it a value, as in Python)
            beside = {id(n) for b in block if isinstance(b, (gast.Assign, gast.AugAssign))
                      for t in (b.targets if isinstance(b, gast.Assign) else [b.target]) for n in walk(t)}
            others = [n for n in own if n.id == name and n is not target]
            other = next((n for n in others if in_loop or id(n) not in beside), None)
            if other is None:
                continue
            fail(other, unit, f"{name!r} is bound to a function (line {st.lineno}) and also to another value here: "
                              "srcdiff cannot tell which one a call reaches",
                 f"give the function a name of its own, or bind {name!r} to a function on every path (a lambda, a "
                 "nested def, or a function such as np.tanh read only by calls)")
    if not twice:
        return
    namer = Namer(names_in(unit.node) | set(unit.callees))
    for name in sorted(twice):
        mine = [d for d in defs if d[0] == name]
        lines = ", ".join(str(getattr(d[2], "lineno", "?")) for d in mine)
        block = mine[0][3]
        if sum(1 for n in walk(unit.node) if isinstance(n, gast.Name) and n.id == name
               and isinstance(n.ctx, gast.Store)) > sum(1 for d in mine if isinstance(d[1], gast.Name)):
            fail(mine[1][2], unit, f"{name!r} is bound to a function more than once (lines {lines}) and also to "
                                   f"another value: srcdiff cannot tell which one a call reaches",
                 "give each function a name of its own")
        inner = [n for d in defs for n in walk(d[5]) if isinstance(n, gast.Name) and n.id == name
                 and isinstance(n.ctx, gast.Load)]
        if inner:
            fail(inner[0], unit, f"a nested function reads {name!r}, which is bound to a function more than once "
                                 f"(lines {lines}): Python finds the binding of the time of the call",
                 "give each function a name of its own")
        if any(d[4] or d[3] is not block for d in mine):
            _select_at_calls(unit, name, mine, namer)
            continue
        starts = [block.index(d[2]) for d in mine]
        for k, (d, start) in enumerate(zip(mine, starts)):
            if k == 0:
                continue
            new = namer.fresh(name)
            if isinstance(d[1], gast.FunctionDef):
                d[1].name = new
            else:
                d[1].id = new
            end = starts[k + 1] if k + 1 < len(starts) else len(block)
            for st in block[start + 1:end]:    # (the binding statement's values read the binding before it)
                for n in walk(st):
                    if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load):
                        n.id = new


def _own_stores(stmts) -> list:
    """The names `stmts` store to (assignment and loop targets, ...), not inside the functions nested in them."""
    out, todo = [], list(stmts)
    while todo:
        n = todo.pop()
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Store):
                out.append(n)
            continue
        if isinstance(n, (gast.FunctionDef, gast.Lambda)):
            continue
        todo.extend(gast.iter_child_nodes(n))
    return out


def _select_at_calls(unit: Unit, name: str, mine: list, namer):
    """Bindings of `name` in branches or loops (`if relu: act = lambda z: ...` / `else: act = lambda z: ...`):
    each gets a name of its own and, after it, `name_which = k`; each call `name(...)` becomes
    `name(...) if name_which == 0 else name1(...)`, which runs the one function the binding of the time names.
    A use of `name` other than a call is declined."""
    which = namer.fresh(f"{name}_which")
    names = [name] + [namer.fresh(name) for _ in mine[1:]]
    for k, (d, new) in enumerate(zip(mine, names)):
        if isinstance(d[1], gast.FunctionDef):
            d[1].name = new
        else:
            d[1].id = new
        at = next(i for i, st in enumerate(d[3]) if st is d[2])
        d[3].insert(at + 1, copy_loc(gast.Assign(targets=[store(which)], value=gast.Constant(value=k, kind=None),
                                                 type_comment=None), d[2]))
    bound = {id(d[1]) for d in mine}    # (and the calls made below)
    spans = [(lp.lineno, max(getattr(n, "lineno", 0) or 0 for st in lp.body for n in walk(st)))
             for lp in walk(unit.node) if isinstance(lp, (gast.For, gast.While))]   # (the body: not the else)

    def reaches(d, call) -> bool:
        """Whether binding `d` may be the one in force at `call`: before it, or in a loop's body around both (a
        later iteration's; a loop's else block runs once, after it). A call selects among those only (one before
        a binding in a loop, which reads the loop's values, must not name it: fuzz 836034, a NameError in the
        branch that cannot run; a call in a while loop's body and a binding in its else block, fuzz 53)."""
        at, line = (d[2].lineno, d[2].col_offset), (call.lineno, call.col_offset)
        return at < line or any(lo <= at[0] <= hi and lo <= line[0] <= hi for lo, hi in spans)

    def copied(tree):
        """A deep copy of `tree`, its calls of the bindings (inner calls already selected: `name(name(x))`)
        known as calls still."""
        twin = copy.deepcopy(tree)
        for old, new in zip(walk(tree), walk(twin)):
            if id(old) in bound:
                bound.add(id(new))
        return twin

    class Calls(Transformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if not (isinstance(node.func, gast.Name) and node.func.id == name):
                return node
            ks = [k for k in range(len(names)) if reaches(mine[k], node)] or list(range(len(names)))
            out = None
            for k in reversed(ks):
                made = copy_loc(gast.Call(func=copy_loc(load(names[k]), node), args=[copied(a) for a in node.args],
                                          keywords=[copied(kw) for kw in node.keywords]), node)
                bound.add(id(made.func))
                test = gast.Compare(left=load(which), ops=[gast.Eq()], comparators=[gast.Constant(value=k, kind=None)])
                out = made if out is None else copy_loc(gast.IfExp(test=test, body=made, orelse=out), node)
            return out

        def visit_FunctionDef(self, node):
            return node     # (their bodies do not read the name: declined above)

        def visit_Lambda(self, node):
            return node

    # (in place: the blocks `_definitions` listed, this body among them, are where the other names bound twice
    # get their `_which` assignments; a new list left those of a later name, `act`'s after `act_a`'s, out of the
    # function, every call reaching the binding before: fuzz 1610000, d/da 0.5 for 0)
    unit.node.body[:] = [Calls().visit(st) for st in unit.node.body]
    left = [n for n in walk(unit.node) if isinstance(n, gast.Name) and n.id == name and id(n) not in bound
            and isinstance(n.ctx, gast.Load)]
    if left:
        fail(left[0], unit, f"{name!r}, bound to a function in branches or a loop, is used other than called",
             "call it, or give each function a name of its own")


def _collect_defs(unit: Unit, defaults: dict) -> dict:
    """{name: FunctionDef}: the nested defs and named (or called) lambdas of `unit`, taken out of its body.
    Their parameters' defaults go into `defaults` ({name: {parameter: value}}): a constant as it is, any other
    value bound to a fresh name where the function is defined, since Python evaluates it there."""
    defs = {}

    def bind_defaults(fd, at, before=()) -> list:
        a = fd.args
        given = list(zip(a.args[len(a.args) - len(a.defaults):], a.defaults))
        given += [(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
        out, mine = [], {}
        for p, d in given:
            if isinstance(d, gast.Constant) or isinstance(d, gast.Name) and _one_object(d.id, unit.node, before):
                mine[p.id] = d      # (a constant, or a name the calls pass itself: _one_object)
            else:
                v = namer.fresh(f"{fd.name}_{p.id}")
                called = Called()      # (a lambda called in the default, `c=(lambda y: y * x)(n)`: lifted too)
                st = called.visit(copy_loc(gast.Assign(targets=[store(v)], value=d, type_comment=None), at))
                anno.set(st, anno.DEFAULT_OF, (fd.name, p.id, getattr(fd, "lineno", None)))
                for made in called.made:
                    out += bind_defaults(made, st)
                out.append(st)
                mine[p.id] = load(v)
        a.defaults, a.kw_defaults = [], [None] * len(a.kwonlyargs)
        if mine:
            defaults[fd.name] = mine
        return out

    def collect(stmts):
        kept = []
        for s in _split_lambda_tuples(stmts, unit):
            if isinstance(s, gast.FunctionDef):
                defs[s.name] = s
                kept += bind_defaults(s, s, kept)
                continue
            if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Lambda) and len(s.targets) == 1
                    and isinstance(s.targets[0], gast.Name)):
                lam = s.value
                ret = copy_loc(gast.Return(value=lam.body), s)
                fd = gast.FunctionDef(name=s.targets[0].id, args=lam.args, body=[ret], decorator_list=[],
                                      returns=None, type_comment=None, type_params=[])
                fd.lineno = s.lineno
                defs[fd.name] = fd
                kept += bind_defaults(fd, s, kept)
                continue
            map_blocks(s, collect)
            called = Called()
            s = called.visit(s)
            for fd in called.made:     # (a called lambda's defaults: bound before its statement)
                kept += bind_defaults(fd, s)
            kept.append(s)
        return kept

    namer = Namer(names_in(unit.node) | set(unit.callees))

    class Called(Transformer):
        """`(lambda y: y * y)(x)`: the called lambda becomes a nested def of its own (its body's lambdas are
        lifted with it); `made`: those defs."""
        def __init__(self):
            super().__init__()
            self.made = []

        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, gast.Lambda):
                lam = node.func
                name = namer.fresh("lam")
                fd = gast.FunctionDef(name=name, args=lam.args, body=[copy_loc(gast.Return(value=lam.body), node)],
                                      decorator_list=[], returns=None, type_comment=None, type_params=[])
                fd.lineno = node.lineno
                defs[name] = fd
                self.made.append(fd)
                node.func = copy_loc(load(name), node)
            return node

        def visit_Lambda(self, node):
            return node   # (a lambda's body: lifted with it)

    unit.node.body = collect(unit.node.body)
    return defs


def _check_signatures(defs: dict, unit: Unit):
    for name, fd in defs.items():
        a = fd.args
        if a.vararg or a.kwarg:
            fail(fd, unit, f"nested function {name!r} has *args or **kwargs (srcdiff binds a nested function's "
                           f"arguments to its named parameters)", "name each parameter")
        if getattr(fd, "decorator_list", None):
            fail(fd, unit, f"nested function {name!r} is decorated",
                 "define it without the decorator, or at module level")


def _free_variables(defs: dict, outer_locals: set, unit: Unit) -> dict:
    """{name: the enclosing function's variables the nested function reads}, in order of first read; a
    nested def that calls a sibling passes the sibling's free variables on."""
    extra = {}
    for name, fd in defs.items():
        own = local_names(fd)
        extra[name] = [n for n in _ordered_loads(fd) if n not in own and n in outer_locals and n not in defs]
    changed = True
    while changed:   # a nested def that calls a sibling passes the sibling's free variables on
        changed = False
        for name, fd in defs.items():
            own = local_names(fd)
            for other in _ordered_loads(fd):
                if other in defs and other != name and other not in own:
                    clash = [n for n in extra[other] if n in own]
                    if clash:
                        fail(fd, unit, f"nested function {name!r} calls {other!r}, which reads the enclosing "
                                       f"function's {clash[0]!r}, but {name!r} binds its own {clash[0]!r}",
                             f"rename {name!r}'s {clash[0]!r}")
                    new = [n for n in extra[other] if n not in extra[name] and n not in own]
                    if new:
                        extra[name] = extra[name] + new
                        changed = True
    return extra


def _split_lambda_tuples(stmts, unit) -> list:
    """`g, h = lambda u: ..., lambda u: ...`: each lambda bound by a statement of its own (lifted like any
    named lambda), the other pairs of the tuple assignment kept together."""
    out = []
    for s in stmts:
        pairs = _tuple_pairs(s)
        if pairs is None or not any(isinstance(v, gast.Lambda) for _, v in pairs):
            out.append(s)
            continue
        lams = [(t, v) for t, v in pairs if isinstance(v, gast.Lambda)]
        rest = [(t, v) for t, v in pairs if not isinstance(v, gast.Lambda)]
        if any(not isinstance(t, gast.Name) for t, _ in lams) or len({t.id for t, _ in lams}) < len(lams):
            fail(s, unit, "a lambda in a tuple assignment is bound to a target that is not a name of its own",
                 "bind each lambda to a name (g, h = lambda u: ..., lambda u: ...)")
        named = {t.id for t, _ in lams}
        if any(loaded_names(v) & named for _, v in rest):
            fail(s, unit, "a value in this tuple assignment reads a name that a lambda beside it binds",
                 "bind the lambda by a statement of its own, after the values that read the old binding")
        if len(rest) == 1:
            out.append(copy_loc(gast.Assign(targets=[rest[0][0]], value=rest[0][1], type_comment=None), s))
        elif rest:
            out.append(copy_loc(gast.Assign(targets=[gast.Tuple(elts=[t for t, _ in rest], ctx=gast.Store())],
                                            value=gast.Tuple(elts=[v for _, v in rest], ctx=gast.Load()),
                                            type_comment=None), s))
        out += [copy_loc(gast.Assign(targets=[t], value=v, type_comment=None), s) for t, v in lams]
    return out


def _tuple_pairs(s):
    """[(target, value)] of `a, b = x, y` (a tuple or list on both sides, of one length), else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1):
        return None
    t, v = s.targets[0], s.value
    if not (isinstance(t, (gast.Tuple, gast.List)) and isinstance(v, (gast.Tuple, gast.List))
            and len(t.elts) == len(v.elts) and not any(isinstance(e, gast.Starred) for e in t.elts + v.elts)):
        return None
    return list(zip(t.elts, v.elts))


def _one_object(name: str, fn, before) -> bool:
    """Whether the default `w=name` of a nested function is, at every call of it, the object `name` holds there, so
    that the calls may pass `name` itself: `name` is bound nowhere in the function (a module-level or closure value),
    or once, as its parameter or by one of the statements `before` the def in its block. Python evaluates a default
    once, where the def runs; bound to a name of its own there (`g_w = buf`), it was a second name of the array,
    and a write `buf[0] = v` before a call was declined naming `g_w` (h23c). Where the name is bound again, the
    default keeps that second name: its decline names the parameter (aliasing.py)."""
    count = sum(1 for n in walk(fn) if isinstance(n, gast.Name) and n.id == name
                and isinstance(n.ctx, (gast.Store, gast.Param)))     # (in its nested functions too)
    if count == 0:
        return True
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    return count == 1 and (name in params or any(
        isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Store) for s in before for n in walk(s)))


def _positional_arguments(call, params: list, positional: int, defaults: dict, unit) -> list:
    """The arguments of a call of a nested function in parameter order, as Python binds them: `params` (the
    first `positional` of them may be given by position, the others only by keyword), `defaults` ({parameter:
    its value}) for those not given."""
    name = call.func.id
    if any(isinstance(a, gast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        fail(call, unit, f"call of {name!r} with *args or **kwargs", "pass each argument explicitly")
    if len(call.args) > positional:
        fail(call, unit, f"{name}() takes {positional} positional arguments but {len(call.args)} were given",
             "pass the keyword-only parameters by name, and drop the extra arguments")
    bound = dict(zip(params, call.args))
    for k in call.keywords:
        if k.arg not in params or k.arg in bound:
            fail(call, unit, f"{name}() got {'an unexpected' if k.arg not in params else 'a repeated'} "
                             f"argument {k.arg!r}", f"its parameters are {', '.join(params)}")
        bound[k.arg] = k.value
    for p, d in defaults.items():
        bound.setdefault(p, copy.deepcopy(d))
    missing = [p for p in params if p not in bound]
    if missing:
        fail(call, unit, f"{name}() takes the parameters ({', '.join(params)})", f"pass {', '.join(missing)}")
    return [bound[p] for p in params]


def _ordered_loads(fd):
    seen = []
    for n in walk(fd):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id not in seen:
            seen.append(n.id)
    return seen


def _add_free_args(fn_node, extra, unit):
    for n in walk(fn_node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in extra:
            n.args = n.args + [load(v) for v in extra[n.func.id]]
