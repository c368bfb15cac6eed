"""Part of the "parse" pass of compiler.FRONT_END: a name of the user's that the generated module needs for itself.

Why: the generated module imports `np`, `math`, `numba` and srcdiff's runtime as `rt`, and every function in it
reads them (`rt.sum_grad(...)`, `math.exp(...)`); it calls builtins the user did not write (a loop over an array
becomes a loop over `range(n)`, jitted code takes `len(a)`). A function of the user's is free to bind such a name
for itself (`rt = 0.05` a rate, `len = a.shape[0]`, `range = hi - lo`): its generated code then read the user's
number where it meant the module or the builtin, an AttributeError from inside srcdiff's code (`'numpy.float64'
object has no attribute 'sum_grad'`) or a decline of a call the user never wrote ('cannot call the local value
range') under jit=False, a Numba typing error under jit=True. Such a name is renamed with a trailing underscore
(`rt_`, Python's own advice for names that clash) in every scope where it denotes the user's variable: the scope
that binds it and the nested functions that read it from there, not a scope where the name is the module or the
builtin. (A function that binds a name cannot also read the module or builtin of that name: Python makes it local
for the whole function.)"""
from __future__ import annotations

import gast

from .astutil import GENERATED_BUILTINS, GENERATED_MODULES, walk
from .scopes import bound_in_scope, walk_scope

RESERVED = GENERATED_MODULES | GENERATED_BUILTINS


def rename_reserved_locals(fn: gast.FunctionDef) -> dict:
    """Rename, in place, the names of RESERVED that `fn` (or a function nested in it) binds; {old: new}."""
    names, binds = set(), set()
    for n in walk(fn):
        if type(n) is gast.Name:
            names.add(n.id)
            if type(n.ctx) is not gast.Load:
                binds.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.ClassDef)):
            binds.add(n.name)
    if not binds & RESERVED:
        return {}
    taken = names | binds
    new = {}
    for name in sorted(binds & RESERVED):
        spelled = name + "_"
        while spelled in taken:
            spelled += "_"
        new[name] = spelled
        taken.add(spelled)
    _rename(fn, set(), new)
    return new


def _rename(scope, outer: set, new: dict) -> None:
    """Rename in `scope` (a def or lambda) the names of `new` it binds or reads from an enclosing scope that binds
    them (`outer`); then in the functions nested in it. A comprehension's variable counts as bound here: srcdiff
    makes its loop a loop of the function's."""
    args = [a for a in walk(scope.args) if type(a) is gast.Name]
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    nodes = [n for stmt in body for n in walk_scope(stmt)]
    targets = [t for n in nodes if type(n) is gast.comprehension for t in walk(n.target) if type(t) is gast.Name]
    here = (({a.id for a in args} | bound_in_scope(body) | {t.id for t in targets}) & set(new)) | outer
    for n in args + targets + nodes:
        if type(n) is gast.Name and n.id in here:
            n.id = new[n.id]
        elif isinstance(n, (gast.FunctionDef, gast.ClassDef)) and n.name in here:
            n.name = new[n.name]
    for n in nodes:
        if isinstance(n, (gast.FunctionDef, gast.Lambda)):      # (walk_scope leaves their bodies out)
            _rename(n, here, new)
