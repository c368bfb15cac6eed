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
    `rt.array` of its items, in place; returns `node`. Only a name read nowhere else but at an index (`st4[0]`): one
    passed on or bound to a second name may be a list that grows (`b = st4; b.append(v)`), whose items the literal
    does not tell."""
    lengths = _literal_lengths(node)
    if not lengths:
        return node
    slots = []      # (the call's argument list or keyword, its key, rt.array's own): array arguments
    for n in walk(node):
        if not isinstance(n, gast.Call):
            continue
        name = dotted_name(n.func)
        if name == "rt.array" and len(n.args) == 1:     # (np.array(st4): rt.array of the tuple of its items)
            slots.append((n.args, 0, True))
            continue
        found = array_parameters(name) if name else None
        if found is None:
            continue
        params, arrays = found
        slots += [(n.args, k, False) for k, p in enumerate(params[:len(n.args)]) if p in arrays]
        slots += [(kw, "value", False) for kw in n.keywords if kw.arg in arrays]
    slots = [s for s in slots if isinstance(_get(s[0], s[1]), gast.Name) and _get(s[0], s[1]).id in lengths]
    allowed = {id(_get(h, k)) for h, k, _ in slots} | {id(n.value) for n in walk(node) if isinstance(n, gast.Subscript)}
    read_else = {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
                 and n.id in lengths and id(n) not in allowed}
    for holder, key, own in slots:
        arg = _get(holder, key)
        if arg.id in read_else:
            continue
        items = [gast.Subscript(value=load(arg.id), slice=const(k), ctx=gast.Load()) for k in range(lengths[arg.id])]
        value = gast.Tuple(elts=items, ctx=gast.Load())
        value = value if own else gast.copy_location(call("rt.array", value), arg)
        if isinstance(holder, list):
            holder[key] = value
        else:
            holder.value = value
    return node


def _get(holder, key):
    return holder[key] if isinstance(holder, list) else getattr(holder, key)


def literal_lengths(node) -> dict:
    """{name: length} of the names `node` binds only to flat list or tuple literals of one length and never writes
    into (_literal_lengths): what such a name stands for is known without the kinds."""
    return _literal_lengths(node)


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
