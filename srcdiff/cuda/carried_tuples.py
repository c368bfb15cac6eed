"""Tuples a generated function binds more than once (carried through a loop) become one name per item.

Why: device code has no tuples of arrays. Reverse mode resolves a tuple carried through a loop (`st = (st[0] * 0.9,
st[1] * c)`) into its items, but forward mode (jvp, and hvp over a gradient that keeps one) keeps Python's tuple and
its tangent tuple, and the CUDA lowering's _resolve_tuple_items resolves only a tuple bound once before its reads:
the jvp kernel was declined ("indexing a scalar", "array a used where a scalar is needed": CUDA fuzz 999000, 999005,
999034) where grad's ran. Here, a name every binding of which is a tuple literal of one length, or another such name,
and which is read only by items at constant positions (`t[0]`) or copied whole into another such name, is written as
its items' names: `t = (e0, e1)` -> `t_at0 = e0`, `t_at1 = e1`; `t = u` -> `t_at0 = u_at0`, ...; `t[1]` -> `t_at1`.
"""
from __future__ import annotations

import ast

from ..transforms.astutil import nested_blocks


def _bindings(fn) -> dict:
    """{name: [values]} of the single-name assignments of `fn`; a name bound any other way maps to None."""
    out: dict = {}
    for st in ast.walk(fn):
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            if out.get(st.targets[0].id, []) is not None:
                out.setdefault(st.targets[0].id, []).append(st.value)
        elif isinstance(st, (ast.Assign, ast.AugAssign, ast.For)):
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        out[n.id] = None
    for a in fn.args.args:
        out[a.arg] = None
    return out


def _arities(binds, cand) -> dict:
    """{name: the length of the tuples it binds} for the names of `cand` whose bindings (tuple literals, names of
    `cand`) agree on one; those that do not are left out."""
    arity: dict = {}
    changed = True
    while changed:
        changed = False
        for n in cand:
            lengths = {len(v.elts) if isinstance(v, ast.Tuple) else arity.get(v.id) for v in binds[n]} - {None}
            if len(lengths) == 1 and n not in arity:
                arity[n] = lengths.pop()
                changed = True
    return {n: a for n, a in arity.items() if all(
        (len(v.elts) if isinstance(v, ast.Tuple) else arity.get(v.id)) == a for v in binds[n])}


def _splittable(fn) -> dict:
    """{name: its tuples' length} of the names to split (module docstring)."""
    binds = {n: v for n, v in _bindings(fn).items() if v is not None}
    cand = {n for n, v in binds.items() if all(isinstance(x, (ast.Tuple, ast.Name)) for x in v)
            and any(isinstance(x, ast.Tuple) for x in v) or all(isinstance(x, ast.Name) for x in v)}
    copies = [(st.targets[0].id, st.value) for st in ast.walk(fn) if isinstance(st, ast.Assign)
              and isinstance(st.value, ast.Name) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)]
    while True:
        arity = _arities(binds, cand)
        keep = {n for n in arity if not any(isinstance(e, ast.Name) and e.id == n for v in binds[n]
                                            if isinstance(v, ast.Tuple) for e in ast.walk(v))}
        sources = {id(v) for t, v in copies if t in keep}
        keep -= _read_whole(fn, keep, arity, sources)
        if keep == cand:
            break
        cand = keep
    # (a tuple bound once is resolved by _resolve_tuple_items where it is read: only those carried are split, with
    # the tuples copied into or out of them)
    carried = {n for n in cand if len(binds[n]) > 1}
    grew = True
    while grew:
        grew = False
        for t, v in copies:
            if t in cand and v.id in cand and (t in carried) != (v.id in carried):
                carried |= {t, v.id}
                grew = True
    return {n: arity[n] for n in carried}


def _read_whole(fn, names, arity, copies) -> set:
    """The names of `names` read otherwise than by an item at a constant position or copied whole into another of
    them (`copies`: the ids of those reads)."""
    items = set()
    for e in ast.walk(fn):
        if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name) and e.value.id in names and \
                isinstance(e.slice, ast.Constant) and isinstance(e.slice.value, int) and \
                not isinstance(e.slice.value, bool) and -arity[e.value.id] <= e.slice.value < arity[e.value.id]:
            items.add(id(e.value))
    return {e.id for e in ast.walk(fn) if isinstance(e, ast.Name) and isinstance(e.ctx, ast.Load)
            and e.id in names and id(e) not in items and id(e) not in copies}


def _item(name, k, taken):
    n = f"{name}_at{k}"
    while n in taken:
        n += "_"
    taken.add(n)
    return n


class _Items(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_Subscript(self, e):
        self.generic_visit(e)
        if isinstance(e.value, ast.Name) and e.value.id in self.names and isinstance(e.slice, ast.Constant):
            items = self.names[e.value.id]
            return ast.copy_location(ast.Name(id=items[e.slice.value % len(items)], ctx=ast.Load()), e)
        return e


def split_carried_tuples(fn: ast.FunctionDef) -> None:
    """Split the tuples of `fn` that are bound more than once into one name per item (module docstring), in place."""
    arity = _splittable(fn)
    if not arity:
        return
    taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
    names = {n: [_item(n, k, taken) for k in range(a)] for n, a in sorted(arity.items())}
    _split_block(fn.body, names)


def _split_block(body, names) -> None:
    new = []
    for st in body:
        for b in nested_blocks(st):
            _split_block(b, names)
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and \
                st.targets[0].id in names:
            v = st.value
            parts = v.elts if isinstance(v, ast.Tuple) else \
                [ast.Name(id=x, ctx=ast.Load()) for x in names[v.id]]
            for item, part in zip(names[st.targets[0].id], parts):
                target = ast.copy_location(ast.Name(id=item, ctx=ast.Store()), st)
                new.append(ast.copy_location(ast.Assign(targets=[target], value=_Items(names).visit(part)), st))
            continue
        new.append(_Items(names).visit(st) if not nested_blocks(st) else _visit_header(st, names))
    body[:] = new


def _visit_header(st, names):
    """A compound statement's own expressions (a loop's range, an if's test) with items resolved."""
    for field, value in ast.iter_fields(st):
        if field not in ("body", "orelse") and isinstance(value, ast.AST):
            setattr(st, field, _Items(names).visit(value))
    return st
