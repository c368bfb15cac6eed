"""Before reverse mode: tuple values become one name per component.

A tuple built in the function (`t = (a, b)`, nested ones too) or reached through copies and constant
indices (`u = t`, `w = t[1]`) is split: every assignment to `t` becomes one assignment per component
(`t_at0 = a`, `t_at1 = b`) and `v = t[0]` becomes the copy `v = t_at0`. Reverse mode then sees only
copies, so the adjoint of a tuple is one adjoint per component: `t = (a, b)` hands `d_t_at0` to `d_a`,
and `v = t[0]` accumulates into `d_t_at0`. This is how srcdiff's own (value, gradient) pairs and
jvp's (value, tangent) pairs, inlined into a function that is differentiated again, become readable
and Numba-typable. Other reads of a split tuple see it rebuilt from its components (call arguments in
place, anything else through `t = (t_at0, t_at1)`); a tuple indexed by a variable is left whole, and
reverse mode declines it if it carries derivatives.
"""
from __future__ import annotations

import copy
import linecache

import gast

from ..errors import SrcdiffTypeError
from . import annotations as anno
from .astutil import Namer, Transformer, assign, dotted_name, load, map_blocks, names_in, nested_blocks, walk

LEAF = None
_PENDING = "pending"    # (_structures: a copy of a name not known yet as a tuple or not)


def _const_index(node, consts):
    """The int a subscript index stands for (`consts`: names that hold an int constant, as ANF names
    `-1`), a slice object for a slice of such ints or None (`t[1:]`, `t[::2]`), else None."""
    if isinstance(node, gast.Slice):
        parts = (node.lower, node.upper, node.step)
        bounds = [None if b is None else _const_index(b, consts) for b in parts]
        if any(type(k) is not int for k, b in zip(bounds, parts) if b is not None):
            return None
        return slice(*bounds)
    if isinstance(node, gast.Name):
        return consts.get(node.id)
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    if (isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) and isinstance(node.operand, gast.Constant)
            and type(node.operand.value) is int):
        return -node.operand.value
    return None


def _assigns(stmts):
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            yield s
        for b in nested_blocks(s):
            yield from _assigns(b)


def _structures(fn, consts):
    """name -> structure (a list whose entries are LEAF or nested lists) for every tuple-valued name whose
    shape is known from a literal, the same at each of its assignments. A copy of a name whose assignments are
    not all seen yet (`info5 = info`, SSA's merge with the loop-carried version of a tuple first bound in a branch
    of the loop, `info = info5` at the loop's end) tells nothing until they are: the first assignment seen would
    else make `info5` a leaf."""
    shapes: dict = {}
    bad: set = set()
    leaves: set = set()     # names assigned a value not known as a tuple
    assigned = {s.targets[0].id for s in _assigns(fn.body)}

    def shape_of(expr, top=False):
        if isinstance(expr, gast.Tuple):
            return [shape_of(e) if isinstance(e, (gast.Tuple, gast.Name)) else LEAF for e in expr.elts]
        if isinstance(expr, gast.Name):
            if top and expr.id in assigned and expr.id not in shapes.keys() | bad | leaves:
                return _PENDING
            return shapes.get(expr.id, LEAF)
        if isinstance(expr, gast.Subscript) and isinstance(expr.value, gast.Name) and expr.value.id in shapes:
            k = _const_index(expr.slice, consts)
            sh = shapes[expr.value.id]
            if isinstance(k, slice):
                return sh[k]
            if k is not None and -len(sh) <= k < len(sh):
                return sh[k]
        return LEAF

    changed = True
    while changed:
        changed = False
        for s in _assigns(fn.body):
            t = s.targets[0].id
            if t in bad:
                continue
            sh = shape_of(s.value, top=True)
            if sh is _PENDING:
                continue
            if sh is LEAF:
                if t not in leaves:
                    leaves.add(t)
                    changed = True
                if t in shapes:   # also assigned something not known as a tuple
                    bad.add(t)
                    del shapes[t]
                    changed = True
                continue
            if t in shapes and shapes[t] != sh:
                bad.add(t)
                del shapes[t]
                changed = True
            elif t not in shapes:
                shapes[t] = sh
                changed = True
        # a tuple read with an index that is not a constant stays whole (no tuple yet: nothing to walk for)
        for n in walk(fn) if shapes else ():
            if (isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id in shapes
                    and _const_index(n.slice, consts) is None):
                bad.add(n.value.id)
                del shapes[n.value.id]
                changed = True
    return shapes


def _with_numbers(names, literal):
    """The components `names` (nested loads) of a tuple bound once to `literal`, its numbers in their places."""
    if not isinstance(literal, gast.Tuple) or len(literal.elts) != len(names):
        return names
    return [_with_numbers(n, e) if isinstance(n, list) else
            copy.deepcopy(e) if isinstance(e, gast.Constant) and type(e.value) in (int, float) else n
            for n, e in zip(names, literal.elts)]


class _Split:
    def __init__(self, fn, shapes, consts, numbers=None, unit=None):
        self.shapes, self.consts, self.unit = shapes, consts, unit
        self.numbers = numbers or {}    # tuple name bound once to a literal -> it (its numbers read as such)
        self.namer = Namer(names_in(fn))
        self.names: dict = {}   # tuple name -> nested list of component names

    def comps(self, t):
        if t not in self.names:
            def build(prefix, sh):
                return [build(f"{prefix}_at{k}", s) if s is not LEAF else self.namer.fresh(f"{prefix}_at{k}")
                        for k, s in enumerate(sh)]
            self.names[t] = build(t, self.shapes[t])
        return self.names[t]

    def parts(self, expr):
        """The components of a tuple-valued expression: nested lists of expressions."""
        if isinstance(expr, gast.Tuple):
            return [self.parts(e) if self.is_tuple(e) else e for e in expr.elts]
        if isinstance(expr, gast.Name) and expr.id in self.numbers:     # (`np.ones((2, 3))`, not `m1_at0 = 2`,
            return _with_numbers(_loads(self.comps(expr.id)), self.numbers[expr.id])   # `np.ones((m1_at0, ...))`)
        if isinstance(expr, gast.Name):
            return _loads(self.comps(expr.id))
        k = _const_index(expr.slice, self.consts)
        return self.parts(expr.value)[k]

    def is_tuple(self, expr):
        return (isinstance(expr, gast.Tuple) or (isinstance(expr, gast.Name) and expr.id in self.shapes)
                or (isinstance(expr, gast.Subscript) and isinstance(expr.value, gast.Name)
                    and expr.value.id in self.shapes and isinstance(self.parts(expr), list)))

    def literal(self, parts):
        if isinstance(parts, list):
            return gast.Tuple(elts=[self.literal(p) for p in parts], ctx=gast.Load())
        return parts

    def block(self, stmts):
        out = []
        for s in stmts:
            map_blocks(s, self.block)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                t = s.targets[0].id
                if t in self.shapes:
                    out += [_like(assign(n, p), s) for n, p in _pairs(self.comps(t), self.parts(s.value))]
                    continue
                if self.is_tuple(s.value) and not isinstance(s.value, gast.Tuple):
                    parts = self.parts(s.value)   # a leaf of a split tuple
                    s.value = self.literal(parts)
                    out.append(s)
                    continue
            if self.checked_count(s):
                continue
            self.decline_item_writes(s)
            self.rebuild(s)
            out.append(s)
        return out

    def decline_item_writes(self, s):
        """`t[0] = v` (or `t[0] += v`) of a tuple t: Python raises TypeError; so does srcdiff, at the line (the write
        into the tuple rebuilt from its components, `(a, b)[0] = v`, crashed the activity pass: h32 hunt)."""
        targets = s.targets if isinstance(s, gast.Assign) else [getattr(s, "target", None)]
        for t in targets:
            for n in walk(t) if t is not None else ():
                if (isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store) and isinstance(n.value, gast.Name)
                        and n.value.id in self.shapes):
                    line = getattr(s, "lineno", None)
                    where = anno.get(s, anno.FILE) or getattr(self.unit, "filename", None)  # (an inlined callee's file)
                    text = linecache.getline(where, line) if line and where else None
                    raise SrcdiffTypeError("an item of a tuple assigned: Python raises TypeError: 'tuple' object does "
                                           "not support item assignment" + (f"\n    {text.strip()}" if text else ""),
                                           where, line,
                                           advice="build a new tuple (t = (v, t[1])), or use a list or an array")

    def checked_count(self, s) -> bool:
        """`rt.check_unpack(t, n)` (desugar's count check of `a, b = t`) of a split tuple of n components: true where
        Python's check passes (else the check stays, of the tuple rebuilt, and raises its ValueError when run)."""
        if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
                and dotted_name(s.value.func) == "rt.check_unpack"):
            return False
        t, n = s.value.args
        return isinstance(t, gast.Name) and t.id in self.shapes and isinstance(n, gast.Constant) \
            and len(self.shapes[t.id]) == n.value

    def rebuild(self, s):
        """Other reads of a split tuple see it rebuilt from its components."""
        class Sub(Transformer):
            def visit_Name(inner, n):
                if isinstance(n.ctx, gast.Load) and n.id in self.shapes:
                    return self.literal(self.parts(n))
                return n

            def visit_Subscript(inner, n):
                if isinstance(n.value, gast.Name) and n.value.id in self.shapes and isinstance(n.ctx, gast.Load):
                    return self.literal(self.parts(n))
                inner.generic_visit(n)
                return n
        for field in ("value", "test", "iter", "targets"):
            v = getattr(s, field, None)
            if isinstance(v, list):
                setattr(s, field, [Sub().visit(x) for x in v])
            elif isinstance(v, gast.AST):
                setattr(s, field, Sub().visit(v))


def _loads(names):
    return [_loads(n) if isinstance(n, list) else load(n) for n in names]


def _pairs(names, parts):
    for n, p in zip(names, parts):
        if isinstance(n, list):
            yield from _pairs(n, p)
        else:
            yield n, copy.deepcopy(p)


def _like(stmt, old):
    for attr in ("lineno", "col_offset"):
        if hasattr(old, attr):
            setattr(stmt, attr, getattr(old, attr))
    return anno.copy(old, stmt, (anno.FILE, anno.PHI, anno.MERGE))


def split_tuples(unit):
    """Split the unit's (SSA) tuple values into per-component names, in place; returns the unit."""
    fn = unit.node
    counts: dict = {}
    for s in _assigns(fn.body):
        counts[s.targets[0].id] = counts.get(s.targets[0].id, 0) + 1
    consts: dict = {}
    for s in _assigns(fn.body):
        k = _const_index(s.value, {}) if not isinstance(s.value, gast.Name) else None
        if k is not None and counts[s.targets[0].id] == 1:
            consts[s.targets[0].id] = k
    shapes = _structures(fn, consts)
    if not shapes:
        return unit
    numbers = {s.targets[0].id: s.value for s in _assigns(fn.body)
               if counts[s.targets[0].id] == 1 and s.targets[0].id in shapes and isinstance(s.value, gast.Tuple)}
    pass_ = _Split(fn, shapes, consts, numbers, unit)
    fn.body = pass_.block(fn.body)
    # a component's name in messages as the user spells the item, `st[0]` for st_at0 (an aliasing decline named
    # srcdiff's `st_at0`, h24a); an argument's items keep flatten's spelling
    versions = anno.get(fn, anno.SSA_VERSIONS, {})
    spelled = dict(anno.get(fn, anno.LEAF_NAMES, {}))

    def spell(names, shown):
        for k, n in enumerate(names):
            if isinstance(n, list):
                spell(n, f"{shown}[{k}]")
            else:
                spelled.setdefault(n, f"{shown}[{k}]")
    for t, names in pass_.names.items():
        user = versions.get(t, t)
        spell(names, spelled.get(user, user))
    if pass_.names:
        anno.set(fn, anno.LEAF_NAMES, spelled)
    ret = fn.body[-1]
    if isinstance(ret, gast.Return) and isinstance(ret.value, gast.Tuple):
        # the function returns a tuple: name it again, so reverse mode sees (and judges) one value
        name = pass_.namer.fresh("result")
        built = _like(assign(name, ret.value), ret)
        anno.set(built, anno.RETURNED_TUPLE)
        fn.body[-1:] = [built, _like(gast.Return(value=load(name)), ret)]
    return unit

