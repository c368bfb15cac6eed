"""The "factories" pass of compiler.FRONT_END (before closure lifting).

Functions returned by factories.

A factory is a user function each of whose `return`s gives a function: one of its nested defs, a lambda,
or another factory's result. srcdiff never makes that function a value; a call of it becomes a call of
the factory's body with the call's arguments appended:

    g = make(c)     ->   g_c = c               (the factory's arguments, evaluated once, where g was bound)
    g(u)            ->   make_g(g_c, u)
    make(c)(u)      ->   make_g(c, u)

where `make_g(c, u)` is the factory with each `return g` made `return g(u)` (its nested defs are then
lifted as closures as usual, and the call is inlined like any user function's). There is one such function
per form of call: `g(u, h=0.1)` makes `return g(u, h=h)`, `g(u)` leaves `g`'s own defaults to apply. The factory's body so
runs again at each call of the function it returned; its statements are pure, so only the work repeats.

The factory's own call binds its arguments as Python does (by position or keyword, keyword-only parameters
included), a left-out argument taking its default where srcdiff can write it at the call: a literal, or, of a
module-level function, the number, string, bool or None it evaluated to (astutil.plain_defaults); `make_g` takes every
parameter of the factory by position.

`g` may be bound in loops and branches (`g_c` is an ordinary variable then), but every binding of `g` in
the function must come from the same factory, and `g` may only be called: passing it on or returning it
is declined. Factories are module-level functions or nested defs of the function being differentiated.
"""
from __future__ import annotations

import copy
import inspect

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import (Namer, Transformer, assign, copy_loc, load, map_blocks, names_in, nested_blocks, plain_defaults,
                      store, walk, walk_of)
from .parse import Unit, parse
from .resolve import is_user_function, local_names

class _Factory:
    def __init__(self, name, fd, unit, signature):
        self.name, self.fd, self.unit = name, fd, unit      # unit: the factory's own (for its names, errors)
        self.params = _params(fd)                          # (keyword-only ones after the positional ones)
        self.defaults = plain_defaults(fd, unit.func if fd is getattr(unit, "node", None) else None)
        self.signature = signature                         # the returned function's (its defaults as None)
        self.keys = {}       # the callee's name in the caller, once made, per call form (positionals, keywords)


def _signature(args: gast.arguments) -> inspect.Signature:
    """The parameters of a nested def or lambda, for binding a call's arguments (defaults stand as None:
    the function's own defaults apply when the call function calls it)."""
    P = inspect.Parameter
    n = len(args.args) - len(args.defaults)
    params = [P(a.id, P.POSITIONAL_OR_KEYWORD, **({} if k < n else {"default": None})) for k, a in enumerate(args.args)]
    if args.vararg is not None:
        params.append(P(args.vararg.id, P.VAR_POSITIONAL))
    params += [P(a.id, P.KEYWORD_ONLY, **({} if d is None else {"default": None}))
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg is not None:
        params.append(P(args.kwarg.id, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _shape(sig: inspect.Signature):
    """What calls a signature accepts, its positional parameters' names aside."""
    return tuple((p.kind, p.default is p.empty, p.name if p.kind == p.KEYWORD_ONLY else None)
                 for p in sig.parameters.values())


def _params(fn) -> list:
    return [a.id for a in fn.args.args] + [a.id for a in fn.args.kwonlyargs]


def _returns(stmts):
    """Return statements of a function body (not of its nested functions)."""
    for s in stmts:
        if isinstance(s, gast.Return):
            yield s
        elif not isinstance(s, gast.FunctionDef):
            for b in nested_blocks(s):
                yield from _returns(b)


def _defs(stmts):
    """{name: (FunctionDef or Lambda, the block holding it)} for a body's nested defs and named lambdas."""
    out = {}
    for s in stmts:
        if isinstance(s, gast.FunctionDef):
            out[s.name] = (s, stmts)
        elif (isinstance(s, gast.Assign) and isinstance(s.value, gast.Lambda) and len(s.targets) == 1
              and isinstance(s.targets[0], gast.Name)):
            out[s.targets[0].id] = (s.value, stmts)
        else:
            for b in nested_blocks(s):
                out.update(_defs(b))
    return out


def _as_def(node, name) -> gast.FunctionDef:
    """A FunctionDef for a named lambda (or the def itself)."""
    if isinstance(node, gast.FunctionDef):
        return node
    ret = copy_loc(gast.Return(value=node.body), node)
    fd = gast.FunctionDef(name=name, args=node.args, body=[ret], decorator_list=[], returns=None,
                          type_comment=None, type_params=[])
    fd.lineno = node.lineno
    return fd


class _Binder:
    def __init__(self, unit: Unit, depth=0):
        self.unit = unit
        self.depth = depth
        self.locals = local_names(unit.node)
        self.defs = {k: v for k, v in _defs(unit.node.body).items()}
        self.namer = Namer(names_in(unit.node) | set(self.locals) | set(unit.callees)
                           | {k for k in unit.namespace if not k.startswith("__")})
        self.cache = {}
        self.inserted = []   # (block, after statement, new def): local factories' call functions

    # -- which callees are factories --------------------------------------------------------------
    def factory(self, func):
        """The _Factory a call's `func` names, or None."""
        if not isinstance(func, gast.Name):
            return None
        name = func.id
        if name in self.cache:
            return self.cache[name]
        self.cache[name] = None   # (recursion guard)
        fac = None
        if name in self.defs:
            node, block = self.defs[name]
            fac = self.analyse(name, _as_def(node, name), self.unit, block, node)
        elif name not in self.locals and isinstance(self.unit.callees.get(name), Unit):
            fu = self.unit.callees[name]    # a module-level factory's copy for a function passed to it (function_args)
            fac = self.analyse(name, fu.node, fu, None, None)
        elif name not in self.locals:
            obj = self.unit.namespace.get(name)
            if obj is not None and is_user_function(obj) and getattr(obj, "__name__", "") != "<lambda>" \
                    and self.depth < 4:
                try:
                    fu = parse(obj)
                except Exception:     # (declined later, where it is called, if it matters)
                    fu = None
                if fu is not None:
                    fac = self.analyse(name, fu.node, fu, None, None)
        self.cache[name] = fac
        return fac

    def analyse(self, name, fd, unit, block, node):
        inner = {k: _as_def(v, k) for k, (v, _) in _defs(fd.body).items()}
        sub = _Binder(unit, self.depth + 1) if unit is not self.unit else self
        kinds = []
        for r in _returns(fd.body):
            v = r.value
            if isinstance(v, gast.Lambda):
                kinds.append((r, _signature(v.args)))
            elif isinstance(v, gast.Name) and v.id in inner:
                kinds.append((r, _signature(inner[v.id].args)))
            elif isinstance(v, gast.Call) and (f := sub.factory(v.func)) is not None:
                kinds.append((r, f.signature))
            else:
                kinds.append((r, None))
        made = [k for k in kinds if k[1] is not None]
        if not made:
            return None
        if len(made) < len(kinds) or not isinstance(fd.body[-1], gast.Return):
            r = next((k[0] for k in kinds if k[1] is None), fd)
            fail(r, unit, f"{name!r} returns a function on some paths and not on others",
                 "return a function (a nested def or a lambda) on every path of a factory")
        if len({_shape(k[1]) for k in made}) > 1:
            fail(fd, unit, f"the functions factory {name!r} returns take different numbers of arguments",
                 "return functions with the same parameters from every path")
        fac = _Factory(name, fd, unit, made[0][1])
        fac.block, fac.node = block, node
        return fac

    # -- the call function ------------------------------------------------------------------------
    def call_function(self, fac: _Factory, npos: int, keywords: tuple) -> str:
        """The factory's body returning its function's value at `npos` positional arguments and `keywords`
        (the function's own defaults fill the rest)."""
        if (npos, keywords) in fac.keys:
            return fac.keys[npos, keywords]
        fd = copy.deepcopy(fac.fd)
        fd.args.args += fd.args.kwonlyargs      # every parameter of the factory positional (call_args)
        fd.args.kwonlyargs, fd.args.kw_defaults, fd.args.defaults = [], [], []
        namer = Namer(names_in(fd) | set(local_names(fd)) | set(fac.unit.namespace))
        names = [p.name for p in fac.signature.parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
        params = [namer.fresh(names[k] if k < len(names) else f"arg{k}") for k in range(npos)]
        params += [namer.fresh(k) for k in keywords]
        inner = set(_defs(fd.body))

        def rewrite(stmts):
            out = []
            for s in stmts:
                if isinstance(s, gast.Return):
                    v = s.value
                    if isinstance(v, gast.Lambda):
                        fn = namer.fresh("fn")
                        out.append(copy_loc(assign(fn, v, s.lineno), s))
                        v = load(fn)
                    elif not (isinstance(v, gast.Name) and v.id in inner) and not isinstance(v, gast.Call):
                        fail(s, fac.unit, "unexpected return in a factory")
                    s.value = copy_loc(gast.Call(func=v, args=[load(p) for p in params[:npos]], keywords=[
                        gast.keyword(arg=k, value=load(p)) for k, p in zip(keywords, params[npos:])]), s)
                elif not isinstance(s, gast.FunctionDef):
                    map_blocks(s, rewrite)
                out.append(s)
            return out

        fd.body = rewrite(fd.body)
        for p in params:
            a = store(p)
            a.ctx = gast.Param()
            fd.args.args.append(a)
        key = self.namer.fresh(f"{fac.name}_fn")
        fd.name = key
        if fac.block is None:   # a module-level factory: its own unit (its globals)
            self.unit.callees[key] = Unit(name=key, node=fd, filename=fac.unit.filename,
                                          namespace=fac.unit.namespace, func=None)
        else:                   # a nested factory: a sibling nested def (lifted with it)
            self.inserted.append((fac.block, fac.node, fd))
        fac.keys[npos, keywords] = key
        return key

    def call_args(self, fac, call):
        """The factory call's arguments, positional (keywords matched by name, defaults filled in)."""
        return self.bound_args(call, f"factory {fac.name!r}", fac.params, len(fac.fd.args.args), fac.defaults)

    def bound_args(self, call, what, params, positional, defaults):
        """A call's arguments for `params` (the first `positional` of them may be passed by position), in
        their order, as Python binds them: keywords by name, a missing one its literal default."""
        if len(call.args) > positional or any(k.arg is None for k in call.keywords) or any(
                isinstance(a, gast.Starred) for a in call.args):
            fail(call, self.unit, f"the call of {what} has arguments srcdiff cannot match",
                 "pass each parameter by position or by name")
        byname = {k.arg: k.value for k in call.keywords}
        args = []
        for k, p in enumerate(params):
            if k < len(call.args):
                if p in byname:
                    fail(call, self.unit, f"the call of {what} gives {p!r} twice")
                args.append(call.args[k])
            elif p in byname:
                args.append(byname.pop(p))
            elif p in defaults:
                args.append(copy_loc(copy.deepcopy(defaults[p]), call))
            else:
                fail(call, self.unit, f"the call of {what} gives no argument for {p!r}",
                     "pass it explicitly (the defaults srcdiff takes in a factory call are literals: numbers, "
                     "strings, True, False, None)")
        if byname:
            fail(call, self.unit, f"the call of {what} has no parameter {sorted(byname)[0]!r}")
        return args

    # -- rewriting the unit -----------------------------------------------------------------------
    def run(self):
        bound = self.bindings()
        binder = self

        class Calls(Transformer):
            def __init__(self, hidden=frozenset()):
                self.hidden = hidden     # names a nested scope rebinds

            def visit_Call(self, node):
                f = node.func
                if isinstance(f, gast.Name) and f.id in bound and f.id not in self.hidden:
                    node.args = [self.visit(a) for a in node.args]
                    node.keywords = [self.visit(k) for k in node.keywords]
                    fac, env = bound[f.id]
                    return binder.called(node, fac, [load(e) for e in env])
                self.generic_visit(node)
                f = node.func
                if isinstance(f, gast.Call) and not (isinstance(f.func, gast.Name) and f.func.id in self.hidden):
                    fac = binder.factory(f.func)
                    if fac is not None:
                        return binder.called(node, fac, binder.call_args(fac, f))
                return node

            def visit_Name(self, node):
                if node.id in bound and node.id not in self.hidden and isinstance(node.ctx, gast.Load):
                    fail(node, binder.unit, f"{node.id!r} holds the function factory {bound[node.id][0].name!r} "
                         "returned, here used as a value",
                         "call it where it is needed (g(u)); srcdiff does not pass functions around as values")
                return node

            def scope(self, node, params):
                inner = Calls(self.hidden | params)
                return inner.generic_visit(node)

            def visit_FunctionDef(self, node):
                if node is binder.unit.node:
                    return self.generic_visit(node)
                return self.scope(node, local_names(node))

            def visit_Lambda(self, node):
                return self.scope(node, {a.id for a in node.args.args})

        self.bind(self.unit.node.body, bound)
        Calls().visit(self.unit.node)
        while self.inserted:     # a nested factory's call function, placed beside it (and rewritten in turn)
            block, after, fd = self.inserted.pop(0)
            i = next(i for i, s in enumerate(block) if s is after or getattr(s, "value", None) is after)
            block.insert(i + 1, fd)
            Calls(frozenset(local_names(fd))).visit(fd)
        for fac in self.cache.values():    # a nested factory no call names any more: its def goes
            if fac is not None and fac.block is not None and fac.keys:
                mine = {id(n) for n in walk(fac.node)}
                if not any(isinstance(n, gast.Name) and n.id == fac.name and id(n) not in mine
                           and isinstance(n.ctx, gast.Load)
                           for n in walk(self.unit.node)):
                    fac.block[:] = [s for s in fac.block if s is not fac.node and getattr(s, "value", None)
                                    is not fac.node]
        return self.unit

    def called(self, node, fac, env):
        if any(isinstance(a, gast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            fail(node, self.unit, f"*args or **kwargs in a call of the function factory {fac.name!r} returned",
                 "pass its arguments one by one")
        keywords = tuple(k.arg for k in node.keywords)
        try:
            fac.signature.bind(*node.args, **dict.fromkeys(keywords))
        except TypeError as e:
            fail(node, self.unit, f"the function factory {fac.name!r} returned takes {fac.signature}: {e}",
                 "call it as its parameters say")
        key = self.call_function(fac, len(node.args), keywords)
        return copy_loc(gast.Call(func=load(key), args=env + list(node.args) + [k.value for k in node.keywords],
                                  keywords=[]), node)

    def bindings(self) -> dict:
        """{g: (factory, [names of its arguments' copies])} for names bound to factory results in the unit's
        own scope; declines names bound both to one and to something else or to two factories."""
        found, other = {}, {}

        def visit(stmts):
            for s in stmts:
                if isinstance(s, gast.FunctionDef):
                    continue
                if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                        and isinstance(s.value, gast.Call)):
                    fac = self.factory(s.value.func)
                    if fac is not None:
                        found.setdefault(s.targets[0].id, []).append((s, fac))
                        continue
                blocks = nested_blocks(s)
                inside = {id(n) for b in blocks for t in b for n in walk(t)}
                for n in walk(s):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in inside:
                        other.setdefault(n.id, n)
                for b in blocks:
                    visit(b)

        visit(self.unit.node.body)
        out = {}
        for g, uses in found.items():
            facs = {id(f.fd): f for _, f in uses}
            if len(facs) > 1:
                a, b = list(facs.values())[:2]
                where = next(s for s, f in uses if f is b)
                fail(where, self.unit, f"{g!r} is bound to functions from two factories ({a.name!r}, {b.name!r}): "
                     "srcdiff calls a factory's function through the name it was bound to, one factory per name",
                     f"use a name per factory ({g}1 = {a.name}(...), {g}2 = {b.name}(...)) and choose between "
                     "their results (values), not between the functions")
            if g in other or g in self.unit.params:
                where = other.get(g, uses[0][0])
                fail(where, self.unit, f"{g!r} is bound to the function factory {uses[0][1].name!r} returns and "
                     "also to another value", f"use a separate name for the function {uses[0][1].name}(...) returns")
            fac = uses[0][1]
            out[g] = (fac, [self.namer.fresh(f"{g}_{p}") for p in fac.params])
        return out

    def bind(self, stmts, bound):
        """g = make(c) -> g_c = c (one assignment per factory parameter)."""
        out = []
        for s in stmts:
            if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                    and s.targets[0].id in bound and isinstance(s.value, gast.Call)
                    and self.factory(s.value.func) is not None):
                fac, env = bound[s.targets[0].id]
                for name, param, arg in zip(env, fac.params, self.call_args(fac, s.value)):
                    out.append(copy_loc(assign(name, arg, s.lineno), s))
                    anno.set(out[-1], anno.FACTORY_ARGUMENT, (s.targets[0].id, fac.name, param, s.lineno))
                continue
            if not isinstance(s, gast.FunctionDef):
                for b in nested_blocks(s):
                    self.bind(b, bound)
            out.append(s)
        stmts[:] = out    # (in place: the blocks of nested factories are known by identity)
        return stmts


def bind_factories(unit: Unit) -> Unit:
    """Rewrite calls of functions that factories return (see the module docstring); returns the unit."""
    if not _may_call_factory(unit):
        return unit     # (one walk: the binder's name scans cost more, and most functions call no factory)
    return _Binder(unit).run()


def _may_call_factory(unit: Unit) -> bool:
    """Whether `unit`'s body may call a factory: it holds a nested def or a lambda (a local factory, or a
    function one returns), or calls a name the namespace binds to a user function or a callee's (a copy that
    function_args made)."""
    for s in unit.node.body:
        for n in walk_of(s, _FACTORY_NODES):    # (the walk yields only these)
            kind = type(n)
            if kind is gast.FunctionDef or kind is gast.Lambda:
                return True
            if kind is gast.Call and type(n.func) is gast.Name and (is_user_function(unit.namespace.get(n.func.id))
                                                                   or n.func.id in unit.callees):
                return True
    return False


_FACTORY_NODES = frozenset((gast.FunctionDef, gast.Lambda, gast.Call))
