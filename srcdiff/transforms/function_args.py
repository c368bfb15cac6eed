"""The "function arguments" pass of compiler.FRONT_END (before the factories pass): a call that passes a function
to a function of the user's, as an ODE integrator takes its right-hand side,

    y = rk4(rhs, y, t, h, p)      ->   y = rk4_rhs(y, t, h, p)

calls a copy of the callee made for that function: the parameter (`fun`) goes, and the callee's reads of it read
the function passed. srcdiff never makes a function a value; the copy calls it by name, and is then inlined (or
lifted and inlined) like any function of the user's. A function passed may be a module-level function, a nested
def or a named lambda of the caller, or a lambda written in the call; the callee a module-level function or a
nested def of the caller. One copy is made per callee and functions passed (and reused by later calls).

Where both the callee and the functions passed are module-level functions, the copy is a function of its own,
in the callee's module, its parameter bound to the function passed (so an integrator in another module works).
Otherwise (a nested def or a lambda, which read the caller's variables) it is a nested def of the caller, which
the callee's module must be the caller's for (its globals are read from there), and whose other free names
must not be the caller's local names. A callee that also binds the parameter, or passes the function to
itself, is declined, and so is such a call in another form (*args, **kwargs).

The copy's own calls are looked at in turn: a callee that hands the function on to a nested def or named lambda of
its own (`stage(fun, y, dt)`, `lambda g, y: g(y)`) makes a copy of that one, first in the copy (it reads the copy's
variables); a nested function is found where the call is, else in the functions it is nested in. The nested
functions copied that nothing calls any more are dropped: they call a parameter, which srcdiff cannot compile.

A string literal passed where the callee reads its parameter as `np.einsum`'s subscripts,

    out = contract("ij,jk->ik", A, B)      ->   out = contract_ij_jk_ik(A, B)

is made a copy the same way, the literal in the parameter's place: composites are written out in the callee's
front end (canonicalize), before any inlining, and `np.einsum` needs its subscripts there. Only such
parameters (not rebound, of a callee that does not call itself; also one the callee passes on to a function of the
user's that reads it so, whose copy its copy's call makes in turn): a string that picks a branch stays an argument.
A name the caller binds once, to a string, passes that string.
"""
from __future__ import annotations

import copy
import re
import types

import gast

from ..errors import fail
from ..rules.composites import ALIASES as COMPOSITE_ALIASES
from ..rules.numpy_rules import BUILTIN_ALIASES
from ..rules.registry import rule_name_of
from . import annotations as anno
from .astutil import (Namer, Transformer, copy_loc, load, names_in, parse_expr, plain_defaults, walk, walk_of,
                      without_statements)
from .parse import Unit, parse
from .resolve import is_user_function, local_names

_ADVICE = ("pass the function's parameters to the callee and call the function there by name, or define the "
           "callee as a nested def of this function")


_LOOKED_AT = frozenset((gast.FunctionDef, gast.Assign, gast.Call))

def specialise_function_arguments(unit: Unit) -> Unit:
    """Rewrite the calls passing functions to functions of the user's (module docstring); returns the unit."""
    # (the only nodes looked at below, in one walk that yields no other; walk_of does not look under a Name, so
    # the parameters' annotations are walked apart)
    nodes = list(walk_of(unit.node, _LOOKED_AT)) + [n for n in walk(unit.node.args) if type(n) in _LOOKED_AT]
    defs = {n.name for n in nodes if isinstance(n, gast.FunctionDef)} | {
        n.targets[0].id for n in nodes if isinstance(n, gast.Assign) and isinstance(n.value, gast.Lambda)
        and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)}
    ns = unit.namespace

    strings = {n.targets[0].id for n in nodes if isinstance(n, gast.Assign) and isinstance(n.value, gast.Constant)
               and isinstance(n.value.value, str) and isinstance(n.targets[0], gast.Name)}

    def maybe(a):     # (a cheap test: a lambda, a def, a function, an attribute of a module: np.exp, a string)
        if isinstance(a, gast.Lambda) or (isinstance(a, gast.Constant) and isinstance(a.value, str)) or (
                isinstance(a, gast.Name) and a.id in strings):
            return True
        if isinstance(a, gast.Name):
            obj = ns.get(a.id)
            return a.id in defs or is_user_function(obj) or (callable(obj) and rule_name_of(obj) is not None)
        while isinstance(a, gast.Attribute):
            a = a.value
        return isinstance(a, gast.Name) and isinstance(ns.get(a.id), types.ModuleType)
    if not any(isinstance(n, gast.Call) and isinstance(n.func, (gast.Name, gast.Attribute)) and any(
            maybe(a) for a in list(n.args) + [k.value for k in n.keywords]) for n in nodes):
        return unit      # (one walk: most functions pass no function)
    return _Specialiser(unit).run()


class _Specialiser:
    def __init__(self, unit: Unit):
        self.unit = unit
        fn = unit.node
        self.locals = local_names(fn)
        self.defs = _defs_bound_once(fn)     # the caller's nested defs and named lambdas, each bound once
        # each tree whose calls are looked at (the caller, then each nested copy): its functions by name, the tree
        # it is nested in (None for the caller) and the defs to put first in its body (copies, passed lambdas)
        self.scopes = {id(fn): (fn, self.defs, None, [])}
        self.here = fn
        stores = _store_counts(fn)
        self.namer = Namer(names_in(fn) | set(self.locals) | set(unit.callees)
                           | {k for k in unit.namespace if not k.startswith("__")})
        # names bound once, to a string (`spec = "ij,jk->ik"`): passed as subscripts, the string itself
        self.strings = {s.targets[0].id: s.value.value for s in walk(fn) if isinstance(s, gast.Assign)
                        and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                        and stores.get(s.targets[0].id) == 1 and isinstance(s.value, gast.Constant)
                        and isinstance(s.value.value, str)}
        self.made = {}       # (callee, functions passed) -> the copy's name
        self.todo = [fn]     # trees whose calls are still to look at (the caller; then each nested copy)
        self.as_def = {}     # id(a nested def or named lambda called) -> (it as a def, it)

    # -- what a name or an argument is ------------------------------------------------------------------
    def passed(self, a):
        """('global', its text, function) / ('local', name, the tree defining it) / ('lambda', node) for an argument
        that is a function (a module-level one of the user's, or a library function srcdiff has a rule for: np.exp),
        else None."""
        if isinstance(a, gast.Lambda):
            return "lambda", a
        found = self.find(a.id) if isinstance(a, gast.Name) else None
        if found is not None:
            return "local", a.id, found[1]
        obj = self.lookup(a)
        if is_user_function(obj) or (callable(obj) and not isinstance(obj, type) and (
                rule_name_of(obj) or BUILTIN_ALIASES.get(id(obj)) or COMPOSITE_ALIASES.get(id(obj)))):
            return "global", _text(a), obj
        return None

    def find(self, name):
        """(def or lambda, the tree defining it) of the function `name` names where the calls looked at now are:
        a nested def or named lambda of that tree, or of one it is nested in (the innermost), else None."""
        tree = self.here
        while tree is not None:
            _, defs, parent, _ = self.scopes[id(tree)]
            if name in defs:
                return defs[name], tree
            tree = parent
        return None

    def lookup(self, e):
        """The object a name or a chain of attributes of one (`np.exp`) the caller does not bind names, or None."""
        root, attrs = e, []
        while isinstance(root, gast.Attribute):
            attrs.append(root.attr)
            root = root.value
        if not isinstance(root, gast.Name) or root.id in self.locals or root.id not in self.unit.namespace:
            return None
        obj = self.unit.namespace[root.id]
        for attr in reversed(attrs):
            obj = getattr(obj, attr, None)
        return obj

    def callee(self, func):
        """('local', def, the tree defining it) / ('global', its text, function, its parsed unit) for a call's
        function (a nested def or named lambda, also of a copy this pass made: `inner(fun, y)` of an integrator's
        nested def `inner`; a module-level one by name or as a module's attribute, `odelib.rk4`), else None."""
        found = self.find(func.id) if isinstance(func, gast.Name) else None
        if found is not None:
            if id(found[0]) not in self.as_def:
                self.as_def[id(found[0])] = (_as_def(func.id, found[0]), found[0])
            return "local", self.as_def[id(found[0])][0], found[1]
        obj = self.lookup(func)
        if not is_user_function(obj) or getattr(obj, "__name__", "") == "<lambda>" or \
                (getattr(obj, "__module__", None) or "").split(".")[0] == "srcdiff":
            return None     # (srcdiff.grad(f, ...) in a function differentiated: a transform, resolve's to make)
        try:
            return "global", _text(func), obj, parse(obj)
        except Exception:     # (declined later, where it is called, if it matters)
            return None

    def inner_def(self, func, c):
        """The def of a function of the user's that callee `c` calls by name (`func`), or None."""
        if not isinstance(func, gast.Name):
            return None
        found = self.find(func.id) if c[0] == "local" else None
        if found is not None and isinstance(found[0], gast.FunctionDef):
            return found[0]
        obj = (c[3].namespace if c[0] == "global" else self.unit.namespace).get(func.id)
        if not is_user_function(obj) or getattr(obj, "__name__", "") == "<lambda>":
            return None
        try:
            return parse(obj).node
        except Exception:     # (declined later, where it is called, if it matters)
            return None

    # -- the pass -----------------------------------------------------------------------------------------
    def run(self):
        while self.todo:
            self.here = self.todo.pop(0)
            for n in list(walk(self.here)):
                if isinstance(n, gast.Call):
                    self.call(n)
        for tree, _, _, top in self.scopes.values():
            tree.body[:0] = top
        self.drop_specialised()
        return self.unit

    def drop_specialised(self):
        """Drop the nested defs and named lambdas copied for the functions passed to them that nothing calls now:
        they call a parameter, which only their copies do not (a nested def of a nested def of the caller, or of a
        copy, was compiled with its enclosing function: 'cannot call the local value')."""
        copied = {k for k, _ in self.made}
        dropped = {id(orig): d.name for d, orig in self.as_def.values() if id(d) in copied}
        while True:
            loads = {n.id for n in _walk_outside(self.unit.node, lambda s: _defined(s) in dropped)
                     if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            kept = {k for k, name in dropped.items() if name in loads}
            if not kept:
                break
            dropped = {k: name for k, name in dropped.items() if k not in kept}
        gone = set(dropped)
        if gone:
            self.unit.node.body = without_statements(self.unit.node.body, lambda s: _defined(s) in gone)

    def call(self, node):
        given = [(k, a) for k, a in enumerate(node.args)] + [(kw.arg, kw.value) for kw in node.keywords]
        funcs = [(k, f) for k, a in given if (f := self.passed(a)) is not None]
        strings = [(k, ("const", repr(a.value), a.value)) for k, a in given
                   if isinstance(a, gast.Constant) and isinstance(a.value, str)]
        strings += [(k, ("const", repr(self.strings[a.id]), self.strings[a.id])) for k, a in given
                    if isinstance(a, gast.Name) and a.id in self.strings]
        c = self.callee(node.func)
        if c is None:
            return
        fd = c[1] if c[0] == "local" else c[3].node
        passed = {fd.args.args[k].id if isinstance(k, int) and k < len(fd.args.args) else k for k, _ in given}
        strings += [(p, ("const", repr(d.value), d.value)) for p, d in
                    plain_defaults(fd, c[2] if c[0] == "global" else None).items()
                    if p not in passed and isinstance(d, gast.Constant) and isinstance(d.value, str)]
        funcs += _subscripts(fd, strings, lambda func: self.inner_def(func, c))
        if not funcs:
            return
        what = f"the call of {_text(node.func)!r} passing a function"
        if any(isinstance(a, gast.Starred) for a in node.args) or any(kw.arg is None for kw in node.keywords) \
                or fd.args.vararg is not None or fd.args.kwarg is not None:
            fail(node, self.unit, f"{what}, with *args or **kwargs", "pass each argument by position or by name")
        params = [a.id for a in fd.args.args] + [a.id for a in fd.args.kwonlyargs]
        named = {}
        for k, f in funcs:
            p = params[k] if isinstance(k, int) and k < len(fd.args.args) else k if k in params else None
            if p is None:
                fail(node, self.unit, f"{what}: {fd.name!r} has no parameter for it", _ADVICE)
            named[p] = f
        key = (id(fd), tuple(sorted((p, f[1] if f[0] in ("global", "const") else id(f[1]) if f[0] == "lambda"
                                     else (f[1], id(f[2]))) for p, f in named.items())))
        if key not in self.made:
            self.made[key] = self.copy(node, c, fd, named, what)
        node.func = copy_loc(load(self.made[key]), node.func)
        # every argument of the copy by position, as factories' call functions take theirs (a call with keywords
        # would stay a call)
        byname = {kw.arg: kw.value for kw in node.keywords}
        defaults = plain_defaults(fd, c[2] if c[0] == "global" else None)
        args = []
        for k, p in enumerate(params):
            if p in named:
                continue
            if k < len(node.args) and k < len(fd.args.args):
                args.append(node.args[k])
            elif p in byname:
                args.append(byname[p])
            elif p in defaults:
                args.append(copy_loc(copy.deepcopy(defaults[p]), node))
            else:
                fail(node, self.unit, f"{what}: no argument for {p!r} (srcdiff fills in defaults that are numbers, "
                     "strings, True, False or None)", f"pass {p!r} explicitly")
        node.args, node.keywords = args, []

    def copy(self, node, c, fd, named, what) -> str:
        """The name of the callee's copy for the functions `named` (parameter -> what is passed)."""
        name = self.namer.fresh(f"{fd.name}_" + "_".join(
            f[1].replace(".", "_") if f[0] == "global" or f[0] == "local" else "fn" if f[0] == "lambda"
            else re.sub(r"\W+", "_", f[2]).strip("_") or "s" for f in named.values()))
        new = copy.deepcopy(fd)
        new.name = name
        anno.set(new, anno.USER_NAME, anno.get(fd, anno.USER_NAME, fd.name))
        bound = {n.id for n in walk(new) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        for p in named:
            if p in bound:
                fail(node, self.unit, f"the function passed to {fd.name!r} as {p!r} is bound again there", _ADVICE)
        if any(isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == fd.name
               and any(isinstance(a, gast.Name) and a.id in named for a in walk(n)) for n in walk(new)):
            fail(node, self.unit, f"{fd.name!r} passes the function it takes to itself", _ADVICE)
        _drop_parameters(new, set(named))
        new.args.args += new.args.kwonlyargs      # (the call passes every argument by position)
        new.args.kwonlyargs, new.args.kw_defaults, new.args.defaults = [], [], []
        _Reads({p: f[1] for p, f in named.items() if f[0] == "const"}).visit(new)     # the literals in place
        named = {p: f for p, f in named.items() if f[0] != "const"}
        if c[0] == "global" and all(f[0] == "global" for f in named.values()):
            ns = dict(c[3].namespace)     # a function of its own, in the callee's module: its parameters bound
            ns.update({p: f[2] for p, f in named.items()})
            self.unit.callees[name] = Unit(name=name, node=new, filename=c[3].filename, namespace=ns, func=None)
            return name
        if c[0] == "global":
            if c[3].filename != self.unit.filename or c[2].__globals__ is not getattr(self.unit.func, "__globals__",
                                                                                       None):
                fail(node, self.unit, f"{what} (a nested def or a lambda, which reads this function's variables) "
                     f"to {fd.name!r}, a function of another module: srcdiff makes a copy of {fd.name!r} here that "
                     "calls it", f"define the function passed at module level (passing what it reads as arguments), "
                     f"or {fd.name!r} in this module")
            nested = [n for n in walk(new) if isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not new]
            free = {n.id for n in walk(new) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} \
                - local_names(new) - set(named) - {n.id for d in nested for n in walk(d.args)
                                                   if isinstance(n, gast.Name)} \
                - {n.id for d in nested for n in walk(d) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
            clash = sorted(free & self.locals)
            if clash:
                fail(node, self.unit, f"{what} (a nested def or a lambda) to {fd.name!r}, which reads the "
                     f"global {clash[0]!r}, a local name here too: srcdiff makes a copy of {fd.name!r} here that "
                     "calls the function passed", f"rename the local {clash[0]!r}")
        # the copy goes first in the innermost tree that sees the callee and the functions passed (the caller, or a
        # copy: a lambda written in the call is the tree's whose calls are looked at now)
        trees = [c[2] if c[0] == "local" else self.unit.node] + [
            f[2] if f[0] == "local" else self.here if f[0] == "lambda" else self.unit.node for f in named.values()]
        dest = max(trees, key=self.depth)
        _, defs, _, top = self.scopes[id(dest)]
        renames = {}
        for p, f in named.items():
            if f[0] == "lambda":       # a def in its place, first in the tree: it reads the tree's variables
                lam = self.namer.fresh("fn")
                ret = copy_loc(gast.Return(value=f[1].body), f[1])
                d = gast.FunctionDef(name=lam, args=f[1].args, body=[ret], decorator_list=[], returns=None,
                                     type_comment=None, type_params=[])
                d.lineno = f[1].lineno
                anno.set(d, anno.USER_NAME, "lambda")
                top.append(d)
                defs[lam] = d
                renames[p] = lam
            else:
                renames[p] = f[1]
        read = {n.id for d in list(defs.values()) + list(self.defs.values()) + [f[1] for f in named.values()
                                                                              if f[0] == "lambda"]
                for n in walk(d) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        _rename_own(new, {r.split(".")[0] for r in renames.values()} | (read & set(self.locals)), self.namer)
        _Reads(renames).visit(new)
        top.append(new)
        self.scopes[id(new)] = (new, _defs_bound_once(new), dest, [])
        self.todo.append(new)
        return name

    def depth(self, tree) -> int:
        """How many trees `tree` is nested in (the caller: 0)."""
        parent = self.scopes[id(tree)][2]
        return 0 if parent is None else 1 + self.depth(parent)


def _defined(s):
    """id of the def statement `s` is, or of the lambda `s` binds to a name, else None."""
    if isinstance(s, gast.FunctionDef):
        return id(s)
    if isinstance(s, gast.Assign) and isinstance(s.value, gast.Lambda):
        return id(s.value)
    return None


def _walk_outside(tree, skip):
    """The nodes of `tree` outside the statements `skip(s)` is true of."""
    todo = [tree]
    while todo:
        n = todo.pop()
        yield n
        for child in gast.iter_child_nodes(n):
            if not (isinstance(child, gast.stmt) and skip(child)):
                todo.append(child)


def _store_counts(fn) -> dict:
    """name -> how many times `fn` (at any depth) binds it (a nested def binds its name)."""
    stores: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, gast.FunctionDef) and n is not fn:
            stores[n.name] = stores.get(n.name, 0) + 1
    return stores


def _defs_bound_once(fn) -> dict:
    """name -> the nested def or the lambda of `name = lambda ...` (at any depth in `fn`) of each such name that `fn`
    binds once."""
    stores = _store_counts(fn)
    defs = {}
    for s in walk(fn):
        if isinstance(s, gast.FunctionDef) and s is not fn and stores.get(s.name) == 1:
            defs[s.name] = s
        elif (isinstance(s, gast.Assign) and isinstance(s.value, gast.Lambda) and len(s.targets) == 1
              and isinstance(s.targets[0], gast.Name) and stores.get(s.targets[0].id) == 1):
            defs[s.targets[0].id] = s.value
    return defs


def _as_def(name: str, d):
    """`d` (a nested def, or the lambda of `name = lambda ...`) as a def named `name`."""
    if isinstance(d, gast.FunctionDef):
        return d
    out = gast.FunctionDef(name=name, args=d.args, body=[copy_loc(gast.Return(value=d.body), d)], decorator_list=[],
                           returns=None, type_comment=None, type_params=[])
    out.lineno = d.lineno
    return out


def _rename_own(fd, names: set, namer):
    """The names of `names` that copy `fd` binds itself (a local, a nested def, a parameter of one) renamed there, so
    that the caller's functions it calls by those names (in place of its parameter) are not its own (`act` passed to
    a callee with a nested def `act` of its own ran that one: a wrong gradient), nor the caller's variables those
    functions read, which closure lifting passes on through the copy (`step` read by the `rhs` passed to an
    integrator with a nested def `step`: declined)."""
    own = {n.id for n in walk(fd) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param))} | {
        n.name for n in walk(fd) if isinstance(n, gast.FunctionDef) and n is not fd}
    for old in sorted(names & own):
        namer.taken |= names_in(fd)
        new = namer.fresh(old)
        taking = {n.name for n in walk(fd) if isinstance(n, gast.FunctionDef) and n is not fd
                  and any(isinstance(a, gast.Name) and a.id == old for a in walk(n.args))}
        for n in list(walk(fd)):
            if isinstance(n, gast.Name) and n.id == old:
                n.id = new
            elif isinstance(n, gast.FunctionDef) and n is not fd and n.name == old:
                n.name = new
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in taking:
                for k in n.keywords:      # step(y, h=0.05) of a nested def whose parameter h is renamed
                    k.arg = new if k.arg == old else k.arg


def _subscripts(fd, strings, inner_def) -> list:
    """The (parameter key, const) of `strings` (string literals a call passes) whose parameter `fd` reads as
    np.einsum's subscripts (_read_as_subscripts): those the copy takes in place."""
    params = [a.id for a in fd.args.args] + [a.id for a in fd.args.kwonlyargs]
    read = _read_as_subscripts(fd, inner_def) if strings else set()
    out = []
    for k, f in strings:
        p = params[k] if isinstance(k, int) and k < len(fd.args.args) else k if k in params else None
        if p is not None and p in read:
            out.append((k, f))
    return out


def _read_as_subscripts(fd, inner_def, depth=0) -> set:
    """The parameters of `fd` (not rebound, `fd` not calling itself) that it passes as np.einsum's subscripts, or on
    to a function of the user's (`inner_def(func)`: its def, or None) that does (three calls deep at most)."""
    nodes = list(walk(fd))
    if depth > 3 or any(isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == fd.name
                        for n in nodes):
        return set()
    params = {a.id for a in fd.args.args} | {a.id for a in fd.args.kwonlyargs}
    params -= {n.id for n in nodes if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    read = set()
    for n in nodes:
        if not isinstance(n, gast.Call):
            continue
        if isinstance(n.func, gast.Attribute) and n.func.attr == "einsum" or \
                isinstance(n.func, gast.Name) and n.func.id == "einsum":
            first = n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "subscripts"), None)
            read |= {first.id} if isinstance(first, gast.Name) else set()
            continue
        given = [(k, a.id) for k, a in enumerate(n.args) if isinstance(a, gast.Name) and a.id in params] + \
                [(k.arg, k.value.id) for k in n.keywords if isinstance(k.value, gast.Name) and k.value.id in params]
        inner = inner_def(n.func) if given else None
        if inner is None:
            continue
        inner_params = [a.id for a in inner.args.args]
        deeper = _read_as_subscripts(inner, inner_def, depth + 1)
        read |= {p for k, p in given if (inner_params[k] if isinstance(k, int) and k < len(inner_params) else k)
                 in deeper}
    return read & params


def _text(e) -> str:
    """`np.exp` for a chain of attributes of a name."""
    return e.id if isinstance(e, gast.Name) else f"{_text(e.value)}.{e.attr}"


class _Reads(Transformer):
    """Each read of a parameter `renames` names: the text of the function passed (a name, or `np.exp`) or the literal;
    not in a nested def or lambda whose own parameter of that name hides it there (`def twice(fun): return fun(x)`)."""

    def __init__(self, renames):
        self.renames = renames

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load) and node.id in self.renames:
            new = parse_expr(self.renames[node.id])
            for n in walk(new):      # (at the read's line: an error about it names the user's line, not line 1)
                if hasattr(n, "lineno"):
                    n.lineno = None
            return copy_loc(new, node)
        return node

    def _scope(self, node, fields):
        args = node.args
        for d in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:   # (read outside it)
            self.visit(d)
        own = {n.id for n in walk(args) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Param)}
        outer, self.renames = self.renames, {k: v for k, v in self.renames.items() if k not in own}
        for f in fields:
            value = getattr(node, f)
            setattr(node, f, [self.visit(s) for s in value] if isinstance(value, list) else self.visit(value))
        self.renames = outer
        return node

    def visit_FunctionDef(self, node):
        return self._scope(node, ("body",))

    def visit_Lambda(self, node):
        return self._scope(node, ("body",))


def _drop_parameters(fd, names: set):
    """`fd` without the parameters `names` (the defaults of the others kept)."""
    args = fd.args
    n = len(args.args) - len(args.defaults)
    defaults = {a.id: d for a, d in zip(args.args[n:], args.defaults)}
    args.args = [a for a in args.args if a.id not in names]
    kept = [defaults[a.id] for a in args.args if a.id in defaults]
    args.defaults = kept
    pairs = [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if a.id not in names]
    args.kwonlyargs, args.kw_defaults = [a for a, _ in pairs], [d for _, d in pairs]
