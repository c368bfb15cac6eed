"""A namedtuple (or a dict) a function of yours returns, passed straight to another call, `g(step(s, x))`,
`loss(params(W, b), x)`: bound to a name of its own first, `step_s = step(s, x)`, then `g(step_s)`, the form flatten
reads (record_forms, dict_forms: a call of a function returning namedtuples or dicts bound to a name; its fields or
items become variables, `step_s_a`, `params_W_W`, and the name is passed whole as a structure made here).

Why: flatten writes a function's namedtuple or dict return as the tuple of its fields' or items' values, which the
caller binds to the variables of the name it binds; a call whose namedtuple or dict went anywhere else was declined
("used here other than bound to a name, unpacked or read by field", "... or read at a key"), though the same
program with the call bound to a name first was differentiated. Binding it first changes nothing Python computes where the call is evaluated at the same point: only
a call that nothing before it in its statement would run after (no other call runs before it there; not under a
conditional expression, `and`/`or`, a lambda or a comprehension, which may run it never or many times) is bound; a
`while` test is evaluated again at each iteration and is left alone. Anything else stays for record_forms to decline.
"""
from __future__ import annotations

import gast

from .astutil import Namer, assign, copy_loc, load, walk

_LAZY = (gast.IfExp, gast.BoolOp, gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp,
         gast.NamedExpr)
# the parts of a statement evaluated once, before what it does (an `if`'s test, a `for`'s iterable)
_PARTS = {gast.Assign: ("value",), gast.AugAssign: ("value",), gast.AnnAssign: ("value",), gast.Expr: ("value",),
          gast.Return: ("value",), gast.If: ("test",), gast.For: ("iter",)}


def bind_passed_records(fn_node, returns_record, namespace=()) -> bool:
    """Rewrite, in every block of `fn_node` (nested defs too), each call for which `returns_record(call)` holds that
    is an argument of another call, `g(step(s, x))`, as `step_s = step(s, x)` before the statement and `g(step_s)`
    in it (in place). Whether any was bound."""
    namer = Namer(taken={n.id for n in walk(fn_node) if isinstance(n, gast.Name)} | set(namespace))
    changed = False

    def block(stmts):
        nonlocal changed
        out = []
        for s in stmts:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    setattr(s, field, block(inner))
            for h in getattr(s, "handlers", []):
                h.body = block(h.body)
            bound = []
            while True:
                call = _first_passed(s, returns_record)
                if call is None:
                    break
                name = namer.fresh(_base(call))
                bound.append(copy_loc(assign(name, _swap(s, call, name), s.lineno), s))
                changed = True
            out += block(bound) if bound else []    # (a call passed inside the one bound: bound before it)
            out.append(s)
        return out

    fn_node.body = block(fn_node.body)
    return changed


def _base(call) -> str:
    """`step_s` for `step(s, x)`: the function's name and its first argument's, where that is a name."""
    f = call.func.id if isinstance(call.func, gast.Name) else "record"
    first = call.args[0] if call.args else None
    return f"{f}_{first.id}" if isinstance(first, gast.Name) else f"{f}_result"


def _swap(s, call, name):
    """Put `name` where `call` is in statement `s`; return the call."""
    for parent in walk(s):
        for field, value in gast.iter_fields(parent):
            if value is call:
                setattr(parent, field, copy_loc(load(name), call))
                return call
            if isinstance(value, list) and any(v is call for v in value):
                value[[id(v) for v in value].index(id(call))] = copy_loc(load(name), call)
                return call
    raise AssertionError("call not in its statement")


def _first_passed(s, returns_record):
    """The first call in `s`'s once-evaluated parts, in evaluation order, that `returns_record` holds of and that is an
    argument of another call, where no call before it runs first and nothing lazy encloses it; else None."""
    for field in _PARTS.get(type(s), ()):
        e = getattr(s, field, None)
        if e is None:
            continue
        found = _search(e, returns_record, parent_call=None)
        if found is not None:
            return found or None
    return None


def _search(e, returns_record, parent_call):
    """Walk `e` in evaluation order: the call to bind (a Call), False where a call runs before any such call (stop:
    binding a later one would run it first), None where `e` holds neither."""
    if isinstance(e, _LAZY):
        return False if any(isinstance(n, gast.Call) for n in walk(e)) else None
    if isinstance(e, gast.Call):
        if parent_call is not None and returns_record(e):
            return e
        for part in [e.func] + list(e.args) + [k.value for k in e.keywords]:
            got = _search(part, returns_record, e if part is not e.func else None)
            if got is not None:
                return got
        # (this call runs now: a later one bound before it would run first; NumPy's and math's functions change
        # nothing a call of yours reads)
        return None if _library(e.func) else False
    for child in gast.iter_child_nodes(e):
        got = _search(child, returns_record, None)
        if got is not None:
            return got
    return None


def _library(func) -> bool:
    """`np.sin`, `np.linalg.norm`, `math.exp`: a function of NumPy's or math's, as the user spells their modules."""
    while isinstance(func, gast.Attribute):
        func = func.value
    return isinstance(func, gast.Name) and func.id in ("np", "numpy", "math", "scipy")
