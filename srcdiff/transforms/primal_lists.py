"""A callee's primal copy (module_builder.primal_name: the front-end tree of a function that stays a call, emitted
as the user wrote it) passes a name of a list or tuple literal where a NumPy function takes an array (`st4 = [s,
-1.2]`, then `np.max(st4)`): the array of its items, `np.max(rt.array((st4[0], st4[1])))`.

Why: Numba's np.max, np.mean, np.square, ... take arrays, not a list or a tuple, so such a primal did not compile
under jit=True ("No implementation of function Function(<function max ...>)": plain fuzz 1252005, a helper called
from a recursive function). The front end makes the array of a literal written in the call (canonicalize), and
reverse and forward mode that of a name of one where the kinds know it (kind_rewrites.call_arrays); the primal has
neither, so it is done here, from the literal the name is bound to: each binding of the name a literal of the same
length, and nothing writes into it."""
from __future__ import annotations

import gast

from .astutil import call, const, dotted_name, load, walk
from .canonicalize import array_parameters


def named_lists_as_arrays(node):
    """`node` (a primal's tree) with each name of a flat list or tuple literal passed as an array argument made
    `rt.array` of its items, in place; returns `node`."""
    lengths = _literal_lengths(node)
    if not lengths:
        return node
    for n in walk(node):
        if not isinstance(n, gast.Call):
            continue
        name = dotted_name(n.func)
        found = array_parameters(name) if name else None
        if name == "rt.array" and len(n.args) == 1:     # (np.array(st4): of the tuple of its items)
            array = _as_array(n.args[0], lengths)
            n.args[0] = array.args[0] if array is not n.args[0] else array
            continue
        if found is None:
            continue
        params, arrays = found
        for k, p in enumerate(params[:len(n.args)]):
            if p in arrays:
                n.args[k] = _as_array(n.args[k], lengths)
        for kw in n.keywords:
            if kw.arg in arrays:
                kw.value = _as_array(kw.value, lengths)
    return node


def _as_array(arg, lengths: dict):
    if not (isinstance(arg, gast.Name) and arg.id in lengths):
        return arg
    items = [gast.Subscript(value=load(arg.id), slice=const(k), ctx=gast.Load()) for k in range(lengths[arg.id])]
    return gast.copy_location(call("rt.array", gast.Tuple(elts=items, ctx=gast.Load())), arg)


def _literal_lengths(node) -> dict:
    """{name: length} of the names `node` binds only (`name = [a, b]`, each binding) to flat list or tuple literals of
    one length, none starred or nested, and never writes into (`name[0] = v`, `name.append(v)`, `name += [v]`)."""
    literal: dict = {}
    other = set()
    for n in walk(node):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            v = n.value
            if isinstance(v, (gast.List, gast.Tuple)) and v.elts and not any(
                    isinstance(e, (gast.List, gast.Tuple, gast.Starred)) for e in v.elts):
                literal.setdefault(n.targets[0].id, set()).add(len(v.elts))
                continue
            other.add(n.targets[0].id)
        elif isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.value, gast.Name) and (
                not isinstance(n.ctx, gast.Load) or isinstance(n, gast.Attribute)):
            other.add(n.value.id)       # (a write into it, or a method of it: `st4.append(v)`)
        elif isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name):
            other.add(n.target.id)
    literal_targets = {id(n.targets[0]) for n in walk(node) if isinstance(n, gast.Assign) and len(n.targets) == 1
                       and isinstance(n.targets[0], gast.Name) and n.targets[0].id in literal
                       and isinstance(n.value, (gast.List, gast.Tuple))}
    for n in walk(node):    # any other binding (a loop's target, an unpacking, a parameter) is no literal's
        if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load) and id(n) not in literal_targets:
            other.add(n.id)
    return {name: next(iter(ls)) for name, ls in literal.items() if len(ls) == 1 and name not in other}
