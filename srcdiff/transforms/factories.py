"""The "factories" pass of compiler.FRONT_END (before closure lifting).

Functions returned by factories.

A factory is a user function each of whose `return`s gives a function: one of its nested defs, a lambda,
or another factory's result. srcdiff never makes that function a value; a call of it becomes a call of
the factory's body with the call's arguments appended:

    g = make(c)     ->   g_c = c               (the factory's arguments, evaluated once, where g was bound)
    g(u)            ->   make_g(g_c, u)
    make(c)(u)      ->   make_g(c, u)

where `make_g(c, u)` is the factory with each `return g` made `return g(u)` (its nested defs are then
lifted as closures as usual, and the call is inlined like any user function's). The factory's body so
runs again at each call of the function it returned; its statements are pure, so only the work repeats.

Both calls bind their arguments as Python does (by position or keyword, keyword-only parameters included), a
left-out argument taking its default where srcdiff can write it at the call: a literal, or, of a module-level
function, the number, string, bool or None it evaluated to (`_defaults`); `make_g` takes every parameter by
position, and passes the returned function's keyword-only ones on by name.

`g` may be bound in loops and branches (`g_c` is an ordinary variable then), but every binding of `g` in
the function must come from the same factory, and `g` may only be called: passing it on or returning it
is declined. Factories are module-level functions or nested defs of the function being differentiated.
"""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from .astutil import (Namer, Transformer, assign, const, copy_loc, load, map_blocks, names_in, nested_blocks, store,
                      walk)
from .parse import Unit, parse
from .resolve import is_user_function, local_names

class _Factory:
    def __init__(self, name, fd, unit, ret):
        self.name, self.fd, self.unit = name, fd, unit      # unit: the factory's own (for its names, errors)
        self.params = _params(fd)                          # (keyword-only ones after the positional ones)
        self.defaults = _defaults(fd, unit.func if fd is getattr(unit, "node", None) else None)
        self.ret = ret                                     # the returned function's _Signature
        self.arity, self.ret_params = len(ret.params), ret.params
        self.key = None                                    # the callee's name in the caller, once made


class _Signature:
    """The parameters of the function a factory returns (the same on every path), and their defaults."""
    def __init__(self, fn, value=None):
        self.params = [a.id for a in fn.args.args]
        self.kwonly = [a.id for a in fn.args.kwonlyargs]
        self.defaults = _defaults(fn, value)
        self.named = list(self.params)      # the names a call's keywords match (not where paths differ)

    def key(self):
        return len(self.params), tuple(self.kwonly)


def _params(fn) -> list:
    return [a.id for a in fn.args.args] + [a.id for a in fn.args.kwonlyargs]


def _defaults(fn, value=None) -> dict:
    """{parameter: its default as an expression} for the defaults a call may take in place of an argument: a
    literal (`kind="l2"`, `scale=1.0`, `None`) written in the def, or, for a module-level function (`value`), any
    number, string, bool or None its default evaluated to. Other defaults are left out (the call must pass them)."""
    args = fn.args
    written = dict(zip([a.id for a in args.args][len(args.args) - len(args.defaults):], args.defaults))
    written.update({a.id: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    values = {}
    if value is not None:
        names = [a.id for a in args.args]
        values = dict(zip(names[len(names) - len(value.__defaults__ or ()):], value.__defaults__ or ()))
        values.update(value.__kwdefaults__ or {})
    out = {}
    for name, node in written.items():
        if _plain(node):
            out[name] = node
        elif name in values and _plain_value(values[name]):
            out[name] = const(values[name])
    return out


def _values(defaults: dict) -> dict:
    return {k: gast.dump(v) for k, v in defaults.items()}


def _plain(node) -> bool:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return _plain(node.operand)
    return isinstance(node, gast.Constant) and _plain_value(node.value)


def _plain_value(v) -> bool:
    return v is None or type(v) in (bool, int, float, str)


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
                kinds.append((r, _Signature(v)))
            elif isinstance(v, gast.Name) and v.id in inner:
                kinds.append((r, _Signature(inner[v.id])))
            elif isinstance(v, gast.Call) and (f := sub.factory(v.func)) is not None:
                kinds.append((r, f.ret))
            else:
                kinds.append((r, None))
        made = [k for k in kinds if k[1] is not None]
        if not made:
            return None
        if len(made) < len(kinds) or not isinstance(fd.body[-1], gast.Return):
            r = next((k[0] for k in kinds if k[1] is None), fd)
            fail(r, unit, f"{name!r} returns a function on some paths and not on others",
                 "return a function (a nested def or a lambda) on every path of a factory")
        if len({k[1].key() for k in made}) > 1:
            fail(fd, unit, f"the functions factory {name!r} returns take different numbers of arguments",
                 "return functions with the same parameters from every path")
        ret = made[0][1]
        if any(_values(k[1].defaults) != _values(ret.defaults) or k[1].named != ret.named for k in made):
            ret = copy.copy(ret)    # names or defaults that differ between paths: the call passes the
            ret.defaults = {}       # positional parameters by position, and every argument
            ret.named = [f"#{k}" for k in range(len(ret.params))]
        fac = _Factory(name, fd, unit, ret)
        fac.block, fac.node = block, node
        return fac

    # -- the call function ------------------------------------------------------------------------
    def call_function(self, fac: _Factory) -> str:
        if fac.key is not None:
            return fac.key
        fd = copy.deepcopy(fac.fd)
        namer = Namer(names_in(fd) | set(local_names(fd)) | set(fac.unit.namespace))
        params = [namer.fresh(p) for p in fac.ret_params + fac.ret.kwonly]
        inner = set(_defs(fd.body))
        # every parameter positional: the factory's keyword-only ones after the others, then the returned
        # function's, passed on by name to its keyword-only ones (calls give every argument: call_args, called)
        fd.args.args += fd.args.kwonlyargs
        fd.args.kwonlyargs, fd.args.kw_defaults, fd.args.defaults = [], [], []
        n = len(fac.ret_params)
        forwarded = [load(p) for p in params[:n]]
        by_name = [gast.keyword(arg=k, value=load(p)) for k, p in zip(fac.ret.kwonly, params[n:])]

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
                    s.value = copy_loc(gast.Call(func=v, args=copy.deepcopy(forwarded),
                                                 keywords=copy.deepcopy(by_name)), s)
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
        fac.key = key
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
            if fac is not None and fac.block is not None and fac.key is not None:
                mine = {id(n) for n in walk(fac.node)}
                if not any(isinstance(n, gast.Name) and n.id == fac.name and id(n) not in mine
                           and isinstance(n.ctx, gast.Load)
                           for n in walk(self.unit.node)):
                    fac.block[:] = [s for s in fac.block if s is not fac.node and getattr(s, "value", None)
                                    is not fac.node]
        return self.unit

    def called(self, node, fac, env):
        key = self.call_function(fac)
        ret = fac.ret
        args = self.bound_args(node, f"the function factory {fac.name!r} returned", ret.named + ret.kwonly,
                               len(ret.params), ret.defaults)
        return copy_loc(gast.Call(func=load(key), args=env + args, keywords=[]), node)

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
                for name, arg in zip(env, self.call_args(fac, s.value)):
                    out.append(copy_loc(assign(name, arg, s.lineno), s))
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
    function one returns), or calls a name the namespace binds to a user function."""
    for s in unit.node.body:
        for n in walk(s):
            kind = type(n)
            if kind is gast.FunctionDef or kind is gast.Lambda:
                return True
            if kind is gast.Call and type(n.func) is gast.Name and is_user_function(unit.namespace.get(n.func.id)):
                return True
    return False
