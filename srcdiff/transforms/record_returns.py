"""Which namedtuples a function of yours returns, read off its source: `return State(x=a, v=b)`, `return
s._replace(W=s.W - lr * g)`, or `return s` of a name bound only to those (`s = s._replace(...)` in a loop too).

Why: a namedtuple is how Python code names the parts of a state, and a function that steps it returns the new one
(`def step(s, g): return s._replace(W=s.W - lr * g)`, then `s = step(s, g)`). flatten (transforms/flatten.py, its
RecordForms mixin) makes each field of a namedtuple its own variable; a function returning one returns the tuple of
its fields' values instead, and its caller binds them to the fields' variables of the name it binds (`s_W, s_b =
step(s_W, s_b, g)`). For that the caller must know, when srcdiff compiles it, the class the function returns: its
own class where it makes one, or the class of the namedtuple its caller passes where it returns a changed copy of its
parameter (`Returned.sources`, resolved at each call). This module only reads source; it imports nothing of
flatten's."""
from __future__ import annotations

import inspect
import weakref
from dataclasses import dataclass

import gast

from .astutil import walk
from .dict_forms import returns_of


def namedtuple_class(obj) -> bool:
    """Whether `obj` is a namedtuple class (collections.namedtuple's, or a typing.NamedTuple)."""
    return isinstance(obj, type) and issubclass(obj, tuple) and isinstance(getattr(obj, "_fields", None), tuple)


@dataclass(frozen=True)
class Returned:
    """The classes of the namedtuples a function returns, one source per way it makes them: a class (it makes one
    of its own, `State(...)`), or ("param", name, position) (a copy of its parameter `name`, `s._replace(...)`, or
    the parameter itself: its class is the one the caller passes; `position` None for a keyword-only one)."""
    sources: tuple


def returned_records(fn_node, namespace: dict, self_class=None):
    """How the function `fn_node` returns namedtuples: None where no return makes one (`State(...)`,
    `p._replace(...)`, or a name bound to one); a Returned where every return gives one whose class is known (its
    class's call, `_replace` of a parameter or of a namedtuple made there, a parameter, a name bound only to those);
    else the first `return` that gives something else (a number, None, a value srcdiff cannot follow). `self_class`:
    the namedtuple class whose method `fn_node` is (its first parameter's class: `self.step(g)` calls its method)."""
    positional = [a.id for a in fn_node.args.args if isinstance(a, gast.Name)]
    params = positional + [a.id for a in fn_node.args.kwonlyargs if isinstance(a, gast.Name)]
    stores: dict = {}
    values: dict = {}
    local: set = set(params)
    for n in walk(fn_node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + 1
            local.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.Global, gast.Nonlocal)) and n is not fn_node:
            for name in getattr(n, "names", [getattr(n, "name", None)]):
                stores[name] = stores.get(name, 0) + 2     # (never a name bound to namedtuples only)
                local.add(name)
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values.setdefault(n.targets[0].id, []).append(n.value)

    def of(e, seen=frozenset()):
        """(the sources of the namedtuple `e` gives, or None where it is not one known here; whether `e` makes one)."""
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id not in local \
                and namedtuple_class(namespace.get(e.func.id)):
            return (namespace[e.func.id],), True
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and e.func.attr == "_replace":
            return of(e.func.value, seen)[0], True
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id not in local:
            return called(namespace.get(e.func.id), e, seen)    # s = step(s): the namedtuple step returns
        if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute):     # s.step(g) of a method of s's class
            classes = [c for c in (of(e.func.value, seen)[0] or ()) if isinstance(c, type)] or (
                [self_class] if self_class is not None and isinstance(e.func.value, gast.Name) and positional
                and e.func.value.id == positional[0] else [])
            methods = {c.__dict__.get(e.func.attr) for c in classes}
            if len(methods) == 1 and inspect.isfunction(next(iter(methods))):
                with_self = gast.Call(func=e.func, args=[e.func.value] + e.args, keywords=e.keywords)
                return called(next(iter(methods)), with_self, seen)
        if not isinstance(e, gast.Name) or e.id not in local:
            return None, False
        name, makes = e.id, False
        bound = values.get(name, [])
        if stores.get(name, 0) != len(bound):   # (bound otherwise too: unpacked, a loop's target, +=)
            return None, False
        out = (("param", name, positional.index(name) if name in positional else None),) if name in params else ()
        if name in seen:
            return out, False
        for v in bound:
            got, made = of(v, seen | {name})
            makes = makes or made
            if got is None:
                return None, makes
            out += tuple(x for x in got if x not in out)
        return (out or None), makes

    def called(fn, call, seen):
        """of() the call `call` of the function `fn` (its arguments in `call`, a method's object first)."""
        got = records_of_function(fn)[0]
        if not isinstance(got, Returned):
            return None, got is not None
        out = ()
        for src in got.sources:     # (its parameter's class: the class of what this call passes)
            arg = src if isinstance(src, type) else _passed(call, src[1], src[2])
            cls = (arg,) if isinstance(src, type) else None if arg is None else of(arg, seen)[0]
            if cls is None:
                return None, True
            out += tuple(x for x in cls if x not in out)
        return out, True

    rets = [r for r in returns_of(fn_node)]
    found = [of(r.value) if r.value is not None else (None, False) for r in rets]
    if not any(makes for _, makes in found):
        return None
    bad = next((r for r, (got, _) in zip(rets, found) if got is None), None)
    if bad is not None:
        return bad
    sources = ()
    for got, _ in found:
        sources += tuple(x for x in got if x not in sources)
    return Returned(sources)


def _passed(call, param: str, position):
    """The argument the call `call` passes the parameter `param` (its `position`-th), else None."""
    if position is not None and position < len(call.args) and not isinstance(call.args[position], gast.Starred):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == param), None)


def passed(call, source):
    """The argument `call` passes the parameter of the source ("param", name, position) of a Returned."""
    return _passed(call, source[1], source[2])


# a module-level function (the object: its globals, its closure) -> (returned_records, its unit); weak, so that a
# closure differentiated once (over a large array) is not kept alive where it returns no namedtuple
_RETURNED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def may_return_record(fn) -> bool:
    """Whether the module-level function `fn` can return a namedtuple: its code reads `_replace`, a module-level
    namedtuple class, or calls a function of yours that returns one (read off the code objects; the source is
    parsed only then)."""
    code = fn.__code__
    return "_replace" in code.co_names or any(
        namedtuple_class(fn.__globals__.get(n)) or inspect.isfunction(fn.__globals__.get(n))
        and records_of_function(fn.__globals__[n])[0] is not None for n in code.co_names)


def module_function_records(fn):
    """(returned_records of the module-level function `fn`, its parsed unit), once per function; (None, None)
    where it makes no namedtuple or cannot be parsed (its own declines are raised where it is compiled).
    Kept per function object, not per code object: code objects compare equal across modules (same name, line,
    bytecode and names, another file), and the classes the records name are those of `fn`'s own namespace (a
    `def mk(a, b): return State(a, b)` of another module, its State's fields in another order, gave its fields
    to this one's callers)."""
    from .parse import parse
    if fn not in _RETURNED:
        _RETURNED[fn] = (None, None)
        if may_return_record(fn):
            try:
                unit = parse(fn)
                owner = fn.__globals__.get(fn.__qualname__.split(".")[-2]) if "." in fn.__qualname__ else None
                _RETURNED[fn] = (returned_records(unit.node, unit.namespace,
                                                  owner if namedtuple_class(owner) else None), unit)
            except Exception:
                pass
    return _RETURNED[fn]


def records_of_function(obj):
    """module_function_records of `obj` where it is a plain function of the user's, else (None, None)."""
    from .resolve import is_user_function
    if not inspect.isfunction(obj) or not is_user_function(obj):
        return None, None
    return module_function_records(obj)
