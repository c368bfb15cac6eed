"""The "flatten" pass of compiler.FRONT_END (only for tuple/list/dict arguments).

Give every array or float inside a structured argument a
parameter of its own. `params[0]`, `w, b = params`, `len(params)`, slices by constants (`params[:-1]`: the tuple
of its items; bound to a name, a structure of its own) and loops over the structure
(`for W, b in layers`, `zip`, `enumerate`, `range(len(...))`) are resolved statically; loops are unrolled,
and comprehensions over them become list literals of their elements (`sum(np.sum(W ** 2) for W in Ws)`).
A name bound again (the parameter itself, or a local bound to it and later to something else) is not
resolved statically: it is bound to the tuple literal of the items, a value like any other.
A dict argument (keyed by strings) is a structure too (Keyed: its keys beside its items' structures): `params["W"]`
is its item at the position of "W", loops over `params.items()` / `.values()` / `.keys()` unroll, and passed whole
to a function of the user's it is the tuple literal of its items marked with its keys (DICT_KEYS), so that the
function, made for that structure (inline._structure), reads it by key in its turn. A dict made from dict arguments
(`q = dict(params)`, `{**params, "W": W2}`, `params.copy()`, a dict comprehension over `params.items()`: dict_entries)
and bound to a name is a structure of its own whose leaves are bound to the items (a copy: `q["W"] = ...` rebinds
q's leaf, never the argument's); keys may be held in names bound once to strings (`k = "W"`: `params[k]`)."""
from __future__ import annotations

import copy
import types

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import (NOT_LITERAL, Transformer, assign, call, const, copy_loc, literal_value, load, map_blocks, store,
                      walk)


STRUCTURED = (tuple, list, dict)   # the arguments whose leaves become parameters of their own


class Keyed(list):
    """The structure of a dict argument: its values' structures, in the dict's order, and its keys (`names`),
    which `params["W"]` reads at (the position of "W"); equal only to a Keyed of the same keys."""
    def __init__(self, items, names):
        super().__init__(items)
        self.names = tuple(names)

    def __repr__(self):
        return f"Keyed({list.__repr__(self)}, {self.names!r})"

    def __eq__(self, other):
        return isinstance(other, Keyed) and self.names == other.names and list.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None


def structure_of(value):
    """None for a leaf, else a list of the elements' structures (a Keyed one for a dict)."""
    if isinstance(value, dict):
        return Keyed([structure_of(v) for v in value.values()], value.keys())
    if isinstance(value, (tuple, list)):
        return [structure_of(v) for v in value]
    return None


def keys_aligned(value, like):
    """`value` with each dict in it ordered as the dict at its place in `like` is, where they have the same keys (a
    tangent made in another order: its leaves then line up with the argument's)."""
    if isinstance(value, dict) and isinstance(like, dict) and value.keys() == like.keys():
        return {k: keys_aligned(value[k], like[k]) for k in like}
    if isinstance(value, (tuple, list)) and isinstance(like, (tuple, list)) and len(value) == len(like):
        return type(value)(keys_aligned(v, w) for v, w in zip(value, like))
    return value


def leaves(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in leaves(v)]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in leaves(v)]
    return [value]


def rebuild(struct, flat, like):
    """Inverse of `leaves` for gradients: the structure of `like` filled from the iterator `flat`."""
    if struct is None:
        return next(flat)
    if isinstance(like, dict):
        return {k: rebuild(s, flat, like[k]) for k, s in zip(struct.names, struct)}
    items = [rebuild(s, flat, e) for s, e in zip(struct, like)]
    return type(like)(items) if isinstance(like, (tuple, list)) else tuple(items)


def rebound_names(fn, params) -> set:
    """Names a static alias must not follow: a parameter bound again in the body, or a local bound more than
    once (`state = init` ... `state = (s0 + a, s1)` in a loop: `state[0]` is not `init_0` after the loop)."""
    counts: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            counts[n.id] = counts.get(n.id, 0) + 1
    return {k for k, c in counts.items() if c >= (1 if k in params else 2)}


class _Flatten:
    def __init__(self, unit, structs: dict, rebound=frozenset()):
        self.unit = unit
        self.alias = {}  # local name -> (param, path)
        self.structs = dict(structs)   # (and the constant slices bound to a name: `hidden = params[:-1]`)
        self.rebound = rebound   # names that stay values: bound to the literal of their items
        self.strings = {}   # names bound once to a string or a tuple of strings (`k = "W"`: params[k] is params["W"])
        self.made = {}      # dicts made in the function (`q = dict(params)`) -> the block they are made in
        self.params = set()     # the function's parameters
        self.scope = ()     # the blocks (of statements that stay: a branch, a loop) the statement is in

    def leaf_names(self, name, struct, path=()):
        if struct is None:
            return ["_".join([name] + [str(p) for p in path])]
        return [n for k, s in enumerate(struct) for n in self.leaf_names(name, s, path + (k,))]

    def struct_at(self, name, path):
        s = self.structs[name]
        for p in path:
            s = s[p]
        return s

    def ref(self, node):
        """(param, path) if `node` denotes a structured value or a leaf inside one, else None."""
        if isinstance(node, gast.Name):
            if node.id in self.alias:
                return self.alias[node.id]
            if node.id in self.structs and node.id not in self.rebound:
                return node.id, ()
            return None
        if isinstance(node, gast.Subscript):
            base = self.ref(node.value)
            if base is None:
                return None
            if self.struct_at(*base) is None:
                return None
            k = literal_int(node.slice)
            s = self.struct_at(*base)
            key = self.key_of(node.slice)
            if isinstance(s, Keyed) and key is not None:
                if key not in s.names:     # params["W"] of a dict argument
                    keys = f"its keys: {', '.join(map(repr, s.names))}" if s.names else "it has none"
                    if isinstance(node.ctx, gast.Store):
                        fail(node, self.unit, f"a new key {key!r} assigned in the dict argument "
                                              f"({keys}): srcdiff makes each item of a dict argument a "
                                              "parameter of its own, from the keys it is called with",
                             "keep the new value in a variable of its own, or pass a dict that has the key")
                    fail(node, self.unit, f"no key {key!r} in the dict argument ({keys}): Python "
                                          "raises KeyError here", "pass a dict with that key, or read one it has")
                return base[0], base[1] + (s.names.index(key),)
            if isinstance(s, Keyed):
                fail(node, self.unit, "a dict argument can only be indexed by a string literal here (or a name "
                                      "bound once to one, `k = \"W\"`, or a loop variable over its keys)",
                     "write params[\"W\"], or loop over params.items() (unrolled: the keys are known)")
            if k is None and self.sliced(node) is not None:   # `params[:-1]`: several items, not one (sliced)
                return None
            if k is None:
                fail(node, self.unit, "a tuple/list argument can only be indexed by a constant here",
                     "index with literal integers, unpack it, or loop over it directly")
            s = self.struct_at(*base)
            if s is None:  # indexing into an array that is itself an item
                return None
            if not -len(s) <= k < len(s):
                fail(node, self.unit, f"index {k} out of range for a structure of {len(s or [])} items")
            return base[0], base[1] + (k % len(s),)
        return None

    def sliced(self, node):
        """The items [(param, path), ...] of a structured value sliced by constants (`params[:-1]`,
        `layers[1::2]`), else None."""
        if not (isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Slice)):
            return None
        base = self.ref(node.value)
        if base is None or self.struct_at(*base) is None:
            return None
        bounds = [None if b is None else literal_int(b) for b in (node.slice.lower, node.slice.upper, node.slice.step)]
        if any(v is None for v, b in zip(bounds, (node.slice.lower, node.slice.upper, node.slice.step))
               if b is not None) or bounds[2] == 0:
            return None
        return [(base[0], base[1] + (k,)) for k in range(len(self.struct_at(*base)))[slice(*bounds)]]

    def sliced_literal(self, node):
        """A constant slice of a structured value as the tuple literal of its items (nested structures nested)."""
        return copy_loc(gast.Tuple(elts=[self.items(p, path, node) for p, path in self.sliced(node)],
                                   ctx=gast.Load()), node)

    def leaf(self, param, path, node):
        if isinstance(self.struct_at(param, path), Keyed):
            what = "a dict made from a dict argument" if param in self.made else "a dict argument"
            fail(node, self.unit, f"{what} used as a whole value (srcdiff reads a dict argument's items "
                                  "at string keys known when it compiles)",
                 "read it at its keys (p[\"W\"], p.get(\"W\", 0.0)), loop over p.items(), or pass it whole to "
                 "a function of yours")
        if self.struct_at(param, path) is not None:
            fail(node, self.unit, "a tuple/list argument used as a whole value",
                 "index it, unpack it, or loop over it; pass its items to helper functions separately")
        return copy_loc(load("_".join([param] + [str(p) for p in path])), node)

    def takes_literals(self, func) -> bool:
        """Whether a call of `func` may take a structured argument as the literal of its items: a function of
        the user's (module-level, nested, a lambda) or a library function; not a srcdiff transform (an object
        whose arguments must stay separate: README, Transforms) or another callable object."""
        if not isinstance(func, gast.Name) or self.unit is None or func.id not in self.unit.namespace:
            return True
        return isinstance(self.unit.namespace[func.id], (types.FunctionType, types.BuiltinFunctionType))

    def user_function(self, func) -> bool:
        """Whether `func` names a function of the user's (module-level, or nested: not in the namespace)."""
        return isinstance(func, gast.Name) and (func.id not in self.unit.namespace
                                                or isinstance(self.unit.namespace[func.id], types.FunctionType))

    def literal(self, node, user=False):
        """`node` as a tuple literal of its items' parameters where it names a structured value (nested
        structures nested), or (for a function of the user's) builds a dict from dict arguments, else `node`."""
        if self.sliced(node) is not None:
            return self.sliced_literal(node)
        if user and self.builds_dict(node):
            return self.dict_literal(node)
        r = self.ref(node)
        if r is None or self.struct_at(*r) is None:
            return node
        return self.items(r[0], r[1], node)

    def items(self, param, path, like):
        s = self.struct_at(param, path)
        if s is None:
            return copy_loc(load("_".join([param] + [str(p) for p in path])), like)
        out = copy_loc(gast.Tuple(elts=[self.items(param, path + (k,), like) for k in range(len(s))],
                                  ctx=gast.Load()), like)
        if isinstance(s, Keyed):   # a dict passed whole: a helper reads its items by key (inline._structure)
            anno.set(out, anno.DICT_KEYS, s.names)
        return out

    def expr(self, node):
        outer = self

        class T(Transformer):
            def visit_Subscript(self, n):
                if outer.sliced(n) is not None:
                    return outer.sliced_literal(n)
                r = outer.ref(n)
                if r is not None:
                    return outer.leaf(*r, n)
                self.generic_visit(n)
                return n

            def visit_Name(self, n):
                r = outer.ref(n)
                if r is not None and isinstance(n.ctx, gast.Load):
                    return outer.leaf(*r, n)
                return n

            def visit_Call(self, n):
                if (isinstance(n.func, gast.Attribute) and n.func.attr == "get" and len(n.args) in (1, 2)
                        and not n.keywords and outer.key_of(n.args[0]) is not None
                        and isinstance(outer.keyed(n.func.value), Keyed)):
                    # params.get("W") of a dict argument: params["W"]; of a key it lacks, the default (None)
                    if outer.key_of(n.args[0]) in outer.keyed(n.func.value).names:
                        return self.visit(copy_loc(gast.Subscript(value=n.func.value, slice=n.args[0],
                                                                  ctx=gast.Load()), n))
                    return self.visit(n.args[1]) if len(n.args) == 2 else copy_loc(const(None), n)
                if (isinstance(n.func, gast.Name) and n.func.id in ("list", "tuple") and len(n.args) == 1
                        and not n.keywords and outer.dict_view(n.args[0]) is not None
                        and outer.unit.namespace.get(n.func.id, None) in (list, tuple, None)):
                    # list(params.values()): the list (tuple) of its items
                    items = self.visit(n.args[0])
                    return items if n.func.id == "list" else copy_loc(gast.Tuple(elts=items.elts, ctx=gast.Load()), n)
                view = outer.dict_view(n)
                if view is not None:
                    # params.values() read as a value (`sum(params.values())`): the list of its items (keys, pairs)
                    (param, path), st, what = view
                    vals = [outer.items(param, path + (k,), n) for k in range(len(st))]
                    keys = [copy_loc(const(name), n) for name in st.names]
                    elts = vals if what == "values" else keys if what == "keys" else \
                        [copy_loc(gast.Tuple(elts=[a, b], ctx=gast.Load()), n) for a, b in zip(keys, vals)]
                    return copy_loc(gast.List(elts=elts, ctx=gast.Load()), n)
                if (isinstance(n.func, gast.Attribute) and n.func.attr in _DICT_WRITES
                        and isinstance(outer.keyed(n.func.value), Keyed)):
                    fail(n, outer.unit, f"method .{n.func.attr}() of a dict argument (srcdiff makes each item of a "
                                        "dict its own variable, from the keys known when it compiles)",
                         "make a changed copy instead, q = {**params, \"W\": W2}, or assign an item of a copy, "
                         "q = dict(params); q[\"W\"] = W2")
                if (isinstance(n.func, gast.Name) and n.func.id == "len" and len(n.args) == 1
                        and outer.sliced(n.args[0]) is not None):
                    return copy_loc(const(len(outer.sliced(n.args[0]))), n)
                if (isinstance(n.func, gast.Name) and n.func.id == "len" and len(n.args) == 1
                        and outer.ref(n.args[0]) is not None):
                    s = outer.struct_at(*outer.ref(n.args[0]))
                    return copy_loc(const(len(s)), n)
                if isinstance(n.func, gast.Attribute) and outer.builds_dict(n.func.value):
                    fail(n, outer.unit, f"method .{n.func.attr}() of a dict built in the expression (srcdiff makes "
                                        "each item of a dict its own variable, for a dict bound to a name)",
                         f"bind the dict to a name first (q = ...), then call q.{n.func.attr}()")
                if isinstance(n.func, gast.Name) and outer.unit.namespace.get(n.func.id) is print:
                    for a in n.args:
                        if (outer.dict_view(a) is not None or outer.builds_dict(a)
                                or isinstance(outer.keyed(a), Keyed)):
                            fail(a, outer.unit, "print of a dict, its keys, values or items (srcdiff makes each item "
                                                "of a dict its own variable, from the keys known when it compiles)",
                                 "print its items: print(params[\"W\"])")
                if outer.takes_literals(n.func):
                    # a structured value passed whole (`g(params, x)`): the literal of its items, as if written out
                    user = outer.user_function(n.func)
                    n.args = [outer.literal(a, user) for a in n.args]
                    for k in n.keywords:
                        k.value = outer.literal(k.value, user)
                self.generic_visit(n)
                return n

            def visit_Compare(self, n):
                # "b" in params of a dict argument: whether it has the key (a constant)
                if len(n.ops) == 1 and isinstance(n.ops[0], (gast.In, gast.NotIn)) and outer.key_of(n.left) is not None:
                    view = outer.dict_view(n.comparators[0])    # (or in params.keys())
                    st = view[1] if view is not None and view[2] == "keys" else outer.keyed(n.comparators[0])
                    if isinstance(st, Keyed):
                        return copy_loc(const((outer.key_of(n.left) in st.names) == isinstance(n.ops[0], gast.In)), n)
                self.generic_visit(n)
                return n

            def visit_ListComp(self, n):
                return self.comprehension(n)

            def visit_GeneratorExp(self, n):
                return self.comprehension(n)

            def comprehension(self, n):
                items = outer.unrolled(n)
                if items is None:
                    self.generic_visit(n)
                    return n
                return self.visit(copy_loc(gast.List(elts=items, ctx=gast.Load()), n))
        return T().visit(node)

    def unrolled(self, comp):
        """The elements of a list comprehension or generator expression over structured values (`for W in Ws`,
        zip, enumerate, nested: `positions`), written out as a list literal's (`sum(np.sum(W ** 2) for W in Ws)`
        is `sum([np.sum(Ws_0 ** 2), np.sum(Ws_1 ** 2)])`), or None where a generator goes over anything else or
        a filter is not decided by constants."""
        envs = [{}]
        for j, gen in enumerate(comp.generators):
            found = []
            for env in envs:
                it = _substituted(gen.iter, env)
                items = self.positions(it, set())
                if items is None or j == 0 and not self.iterates_structure(it) and not self.over_keys(it):
                    return None
                for item in items:
                    bound = dict(env)
                    if not self.item_names(gen.target, item, bound):
                        return None
                    tests = [static_value(_substituted(c, bound)) for c in gen.ifs]
                    if any(t is NOT_LITERAL for t in tests):
                        return None
                    if all(tests):
                        found.append(bound)
            envs = found
        return [_substituted(comp.elt, env) for env in envs]

    def item_names(self, target, item, env) -> bool:
        """Bind a comprehension's `target` to one of `positions`' items in `env` (name -> expression: a
        structure's item as the parameter indexed by constants, which `ref` resolves); False where it cannot."""
        if isinstance(target, gast.Name):
            if item[0] == "ref":
                e = load(item[1])
                for j, k in enumerate(item[2]):
                    at = self.struct_at(item[1], item[2][:j])     # (a dict's item at its key)
                    e = gast.Subscript(value=e, slice=const(at.names[k] if isinstance(at, Keyed) else k),
                                       ctx=gast.Load())
                env[target.id] = e
            elif item[0] == "const":
                env[target.id] = const(item[1])
            elif item[0] == "expr":
                env[target.id] = item[1]
            else:       # `for layer in zip(Ws, bs)`: the tuple literal of the items
                parts = [{} for _ in item[1]]
                if not all(self.item_names(store("_"), part, e) for part, e in zip(item[1], parts)):
                    return False
                env[target.id] = gast.Tuple(elts=[e["_"] for e in parts], ctx=gast.Load())
            return True
        if not isinstance(target, (gast.Tuple, gast.List)):
            return False
        if item[0] == "ref":
            s = self.struct_at(item[1], item[2])
            parts = None if s is None else [("ref", item[1], item[2] + (k,)) for k in range(len(s))]
        else:
            parts = item[1] if item[0] == "tuple" else None
        if parts is None or len(parts) != len(target.elts):
            return False
        return all(self.item_names(t, part, env) for t, part in zip(target.elts, parts))

    def inner_block(self, stmts):
        """A block of a statement that stays (a branch, a loop that is not unrolled): a scope of its own."""
        self.scope += (object(),)
        try:
            return self.block(stmts)
        finally:
            self.scope = self.scope[:-1]

    def over_keys(self, it) -> bool:
        """Whether `it` is a tuple of strings (or a name bound once to one) in a function taking a dict."""
        return self.key_tuple(it) is not None and any(has_keyed(st) for st in self.structs.values())

    def block(self, stmts):
        out = []
        for s in stmts:
            out += self.stmt(s)
        return out

    def bind(self, target, param, path, like):
        """Statements binding `target` to the structured value at (param, path)."""
        s = self.struct_at(param, path)
        if isinstance(target, gast.Name):
            if s is None:
                return [copy_loc(assign(target.id, load("_".join([param] + [str(p) for p in path])), like.lineno), like)]
            if target.id in self.rebound:   # a value of its own from here: the literal of the items
                return [copy_loc(assign(target.id, self.items(param, path, like), like.lineno), like)]
            self.alias[target.id] = (param, path)
            return []
        if isinstance(target, (gast.Tuple, gast.List)):
            if s is None or len(s) != len(target.elts):
                fail(like, self.unit, "cannot unpack: the structure has a different number of items")
            return [x for k, t in enumerate(target.elts) for x in self.bind(t, param, path + (k,), like)]
        fail(like, self.unit, "unsupported target for a tuple/list argument")

    def stmt(self, s):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and self.builds_dict(s.value):
            return self.make_dict(s)
        if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Subscript)
                and isinstance(s.targets[0].value, gast.Name) and s.targets[0].value.id in self.made
                and self.key_of(s.targets[0].slice) is not None
                and self.key_of(s.targets[0].slice) not in self.structs[s.targets[0].value.id].names):
            return self.new_key(s)
        if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and s.targets[0].id not in self.rebound and s.targets[0].id not in self.structs
                and self.sliced(s.value) is not None):
            # `hidden = params[:-1]`: a structure of its own, whose leaves are the slice's
            name, items = s.targets[0].id, self.sliced(s.value)
            self.structs[name] = [self.struct_at(*it) for it in items]
            return [copy_loc(assign(leaf, load(src), s.lineno), s) for k, it in enumerate(items)
                    for leaf, src in zip(self.leaf_names(name, self.structs[name][k], (k,)),
                                         self.leaf_names(it[0], self.struct_at(*it), it[1]))]
        if isinstance(s, gast.Assign) and len(s.targets) == 1:
            r = self.ref(s.value)
            if r is not None and self.struct_at(*r) is not None:
                return self.bind(s.targets[0], *r, s)
        if isinstance(s, gast.For):
            it = s.iter
            if (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"
                    and len(it.args) == 1 and isinstance(it.args[0], gast.Call)
                    and isinstance(it.args[0].func, gast.Name) and it.args[0].func.id == "len"
                    and len(it.args[0].args) == 1 and self.ref(it.args[0].args[0]) is not None
                    and isinstance(s.target, gast.Name)):
                n = len(self.struct_at(*self.ref(it.args[0].args[0])))
                return self.unroll(s, [("const", k) for k in range(n)])
            items = self.positions(it, _stored(s.body))
            if items is not None and self.iterates_structure(it):   # not over a range or a literal only
                return self.unroll(s, items)
            if isinstance(s.target, gast.Name) and self.over_keys(it):
                # `for k in ("W1", "W2"): params[k]`, keys of a dict argument: unrolled, k each key in turn
                return self.unroll(s, [("const", k) for k in self.key_tuple(it)])
        map_blocks(s, self.inner_block)
        for f in ("value", "test", "iter", "targets", "target", "msg"):
            v = getattr(s, f, None)
            if isinstance(v, list):
                setattr(s, f, [self.expr(x) for x in v])
            elif isinstance(v, gast.AST):
                setattr(s, f, self.expr(v))
        return [s]

    def positions(self, it, rebound):
        """The items a loop over `it` takes, one per iteration, where `it` iterates over structured values:
        the structure itself, `zip` of such iterables (as long as the shortest, as in Python) or `enumerate`
        of one (with a constant start). Each item is ("ref", param, path), ("const", k) or ("tuple", items).
        None where `it` is anything else (a loop that stays a loop), or reads a name the loop's body
        (`rebound`) binds: Python evaluates it once, before the loop."""
        part = self.sliced(it)
        if part is not None:
            return [("ref", p, path) for p, path in part]
        view = self.dict_view(it)
        if view is not None:     # params.items(), .values(), .keys() of a dict argument
            (p, path), s, what = view
            refs = [("ref", p, path + (k,)) for k in range(len(s))]
            keys = [("const", name) for name in s.names]
            return refs if what == "values" else keys if what == "keys" else \
                [("tuple", [key, ref]) for key, ref in zip(keys, refs)]
        r = self.ref(it)
        if r is not None:
            s = self.struct_at(*r)
            if isinstance(s, Keyed):     # `for k in params`: a dict's keys
                return [("const", name) for name in s.names]
            return None if s is None else [("ref", r[0], r[1] + (k,)) for k in range(len(s))]
        if isinstance(it, gast.Name) and isinstance(self.strings.get(it.id), tuple):   # keys = ("W", "b")
            return [("const", k) for k in self.strings[it.id]]
        if isinstance(it, (gast.Tuple, gast.List)):   # zip(Ws, (1.0, 2.0)): the literal's items
            if any(isinstance(n, (gast.Call, gast.NamedExpr)) or isinstance(n, gast.Name) and n.id in rebound
                   for n in walk(it)):
                return None
            return [("expr", e) for e in it.elts]
        if (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and not it.keywords
                and self.unit is not None and self.unit.namespace.get(it.func.id) is range
                and 1 <= len(it.args) <= 3 and all(self.static_int(a) is not None for a in it.args)):
            return [("const", k) for k in range(*[self.static_int(a) for a in it.args])]
        if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.args
                and self.unit is not None and self.unit.namespace.get(it.func.id) in (zip, enumerate)):
            return None
        if self.unit.namespace[it.func.id] is zip:
            parts = [self.positions(a, rebound) for a in it.args]
            if it.keywords or any(p is None for p in parts):
                return None
            return [("tuple", list(items)) for items in zip(*parts)]
        starts = it.args[1:] + [kw.value for kw in it.keywords if kw.arg == "start"]
        if len(it.args) + len(it.keywords) > 2 or any(kw.arg != "start" for kw in it.keywords):
            return None
        start = literal_int(starts[0]) if starts else 0
        items = self.positions(it.args[0], rebound)
        if start is None or items is None:
            return None
        return [("tuple", [("const", start + k), item]) for k, item in enumerate(items)]

    def keyed(self, node):
        """The structure `node` denotes (Keyed for a dict argument), else None."""
        r = self.ref(node)
        return None if r is None else self.struct_at(*r)

    def dict_view(self, node):
        """((param, path), structure, "items" | "values" | "keys") for `params.items()` (.values(), .keys()) of a
        dict argument, else None."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and not node.args
                and not node.keywords and node.func.attr in ("items", "values", "keys")):
            return None
        r = self.ref(node.func.value)
        s = None if r is None else self.struct_at(*r)
        return (r, s, node.func.attr) if isinstance(s, Keyed) else None

    def key_of(self, node):
        """The string `node` is known to be here: a literal, or a name bound once to one (`k = "W"`), else None."""
        if isinstance(node, gast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, gast.Name) and isinstance(self.strings.get(node.id), str):
            return self.strings[node.id]
        return None

    def key_tuple(self, node):
        """The strings of a tuple or list literal of them (`("W", "b")`), or of a name bound once to a tuple of
        them, else None."""
        if isinstance(node, gast.Name) and isinstance(self.strings.get(node.id), tuple):
            return self.strings[node.id]
        if isinstance(node, (gast.Tuple, gast.List)) and node.elts:
            keys = [self.key_of(e) for e in node.elts]
            return None if any(k is None for k in keys) else tuple(keys)
        return None

    def builds_dict(self, node) -> bool:
        """Whether `node` builds a dict: a display, a dict comprehension, `dict(...)`, `params.copy()`,
        `copy.copy(params)`."""
        return (isinstance(node, (gast.Dict, gast.DictComp))
                or isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "dict"
                and self.unit is not None and self.unit.namespace.get("dict", dict) is dict
                or isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "copy"
                and not node.args and not node.keywords and isinstance(self.keyed(node.func.value), Keyed)
                or self.copy_call(node) is not None)

    def copy_call(self, node):
        """copy.copy or copy.deepcopy where `node` calls it on a dict argument (or a dict made from one), else None."""
        if not (isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords and self.unit is not None
                and isinstance(self.keyed(node.args[0]), Keyed)):
            return None
        f = node.func
        if isinstance(f, gast.Name):
            fn = self.unit.namespace.get(f.id)
        elif isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name):
            fn = getattr(self.unit.namespace.get(f.value.id), f.attr, None)
        else:
            return None
        return fn if fn is copy.copy or fn is copy.deepcopy else None

    def dict_entries(self, node):
        """{key: ("ref", param, path) | ("expr", value)} of a dict built from dict arguments and values at keys
        known here, in the dict's order (`dict(params)`, `{**params}`, `params.copy()`, `{**params, "W": W2}`,
        `dict(params, W=W2)`, `{"W": W2, "b": b}`, `{k: 0.5 * v for k, v in params.items()}`), else None where
        `node` builds no dict. A dict whose keys are not known here is declined."""
        if not self.builds_dict(node):
            return None
        out = {}

        def whole(src, at, how="ref"):
            r = self.ref(src)
            s = None if r is None else self.struct_at(*r)
            if not isinstance(s, Keyed):
                fail(at, self.unit, "a dict built from something other than a dict argument or a dict made from "
                                    "one (srcdiff knows a dict's keys when it compiles)",
                     "build it from your dict argument ({**params, \"W\": W2}) or write its keys out")
            for k, name in enumerate(s.names):
                out[name] = (how, r[0], r[1] + (k,))

        def entry(key_node, value, at):
            key = key_node if isinstance(key_node, str) else self.key_of(key_node)
            if key is None:
                fail(at, self.unit, "a dict built with a key srcdiff cannot know when it compiles (it reads a dict's "
                                    "items at string keys)",
                     "use string literals as keys, or a name bound once to one")
            r = self.ref(value)
            out[key] = ("ref",) + r if r is not None and self.struct_at(*r) is not None else ("expr", value)

        if isinstance(node, gast.Dict):
            for k, v in zip(node.keys, node.values):
                if k is None:
                    whole(v, node)
                else:
                    entry(k, v, node)
        elif isinstance(node, gast.DictComp):
            gen = copy_loc(gast.GeneratorExp(elt=gast.Tuple(elts=[node.key, node.value], ctx=gast.Load()),
                                             generators=node.generators), node)
            items = self.unrolled(gen)
            if items is None:
                fail(node, self.unit, "a dict comprehension over something other than a dict argument's items, "
                                      "values or keys, or with a test srcdiff cannot decide when it compiles",
                     "write it over params.items() with tests of the keys, or write its keys out")
            for pair in items:
                entry(pair.elts[0], pair.elts[1], node)
        elif self.copy_call(node) is not None:          # copy.copy(params), copy.deepcopy(params): arrays copied
            whole(node.args[0], node, "copy" if self.copy_call(node) is copy.deepcopy else "ref")
        elif isinstance(node.func, gast.Attribute):     # params.copy()
            whole(node.func.value, node)
        else:                                           # dict(params, W=W2), dict(W=W2, b=b)
            if len(node.args) > 1 or any(isinstance(a, gast.Starred) for a in node.args):
                fail(node, self.unit, "dict() of more than one positional argument",
                     "write dict(params) or {**params, \"W\": W2}")
            for a in node.args:
                whole(a, node)
            for kw in node.keywords:
                if kw.arg is None:
                    whole(kw.value, node)
                else:
                    entry(kw.arg, kw.value, node)
        return out

    def entry_struct(self, src):
        return self.struct_at(src[1], src[2]) if src[0] in ("ref", "copy") else None

    def bind_entry(self, name, k, src, like):
        """Statements binding the leaves of item `k` of the dict `name` made here to the structured value at `src`
        (dict_entries' ("ref", param, path)), leaf by leaf; a copy of each leaf for a deep copy's ("copy", ...):
        an array its own, a number itself (rt.copy)."""
        s = self.struct_at(src[1], src[2])
        return [copy_loc(assign(leaf, _copied(load(at)) if src[0] == "copy" else load(at), like.lineno), like)
                for leaf, at in zip(self.leaf_names(name, s, (k,)), self.leaf_names(src[1], s, src[2]))]

    def make_dict(self, s):
        """`q = {**params, "W": W2}` (dict_entries): q a structure of its own, whose items are parameters' or the
        values given (a copy: writing q["W"] leaves params as it is, as in Python)."""
        name = s.targets[0].id
        if name in self.rebound or name in self.structs or name in self.alias:
            if name in self.params:
                fail(s, self.unit, f"a dict made here bound to '{name}', the dict argument itself (srcdiff makes "
                                   "each item of a dict its own variable, from the keys known when it compiles)",
                     f"bind the copy to a new name ({name}2 = dict({name})) and read {name}2 from there")
            fail(s, self.unit, f"a dict made here bound to '{name}', a name bound elsewhere too (srcdiff makes each "
                               "item of a dict its own variable, from the keys known when it compiles)",
                 f"make the dict once, before the branch or loop ({name} = dict(params)), and assign its items "
                 f"where they change ({name}[\"W\"] = ...)")
        entries = self.dict_entries(s.value)
        values = {key: ("expr", self.expr(src[1])) if src[0] == "expr" else src for key, src in entries.items()}
        self.structs[name] = Keyed([self.entry_struct(src) for src in values.values()], values)
        self.made[name] = self.scope
        out = []
        for k, src in enumerate(values.values()):
            if src[0] == "expr":
                out.append(copy_loc(assign(f"{name}_{k}", src[1], s.lineno), s))
            else:
                out += self.bind_entry(name, k, src, s)
        return out

    def new_key(self, s):
        """`q["c"] = v` of a dict made here, at a key it lacks: the key added to q's structure (in the block q is
        made in: its keys are known when srcdiff compiles)."""
        name, key = s.targets[0].value.id, self.key_of(s.targets[0].slice)
        if self.made[name] != self.scope:
            fail(s, self.unit, f"a new key {key!r} added to the dict '{name}' in a branch or loop it was not made in "
                               "(srcdiff knows a dict's keys when it compiles)",
                 f"give '{name}' the key where it is made ({{**params, {key!r}: 0.0}}), or add it in that block")
        r = self.ref(s.value)
        src = ("ref",) + r if r is not None and self.struct_at(*r) is not None else ("expr", self.expr(s.value))
        old = self.structs[name]
        self.structs[name] = Keyed(list(old) + [self.entry_struct(src)], old.names + (key,))
        if src[0] == "expr":
            return [copy_loc(assign(f"{name}_{len(old)}", src[1], s.lineno), s)]
        return self.bind_entry(name, len(old), src, s)

    def dict_literal(self, node):
        """A dict built from dict arguments passed whole (`loss({**params, "W": W2}, x)`): the tuple literal of its
        items marked with its keys, as a dict argument passed whole is (`items`)."""
        entries = self.dict_entries(node)
        out = copy_loc(gast.Tuple(elts=[self.items(src[1], src[2], node) if src[0] == "ref" else
                                        _leaves_copied(self.items(src[1], src[2], node)) if src[0] == "copy" else
                                        src[1] for src in entries.values()], ctx=gast.Load()), node)
        anno.set(out, anno.DICT_KEYS, tuple(entries))
        return out

    def static_int(self, node):
        """An integer known here: a literal, or `len` of a structure (or of a constant slice of one)."""
        if (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "len"
                and len(node.args) == 1 and not node.keywords and self.sliced(node.args[0]) is not None):
            return len(self.sliced(node.args[0]))
        if (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "len"
                and len(node.args) == 1 and not node.keywords and self.ref(node.args[0]) is not None
                and self.struct_at(*self.ref(node.args[0])) is not None):
            return len(self.struct_at(*self.ref(node.args[0])))
        return literal_int(node)

    def iterates_structure(self, it) -> bool:
        """Whether `it` (which `positions` resolves) goes over a structured value, directly or in zip/enumerate."""
        if self.sliced(it) is not None or self.dict_view(it) is not None:
            return True
        r = self.ref(it)
        if r is not None:
            return self.struct_at(*r) is not None
        return isinstance(it, gast.Call) and any(self.iterates_structure(a) for a in it.args
                                                 if not isinstance(a, (gast.Tuple, gast.List)))

    def bind_item(self, target, item, loop):
        """Statements binding a loop's `target` to one of `positions`' items, and the names bound to
        constants (the index of `enumerate`, of `range(len(P))`)."""
        if item[0] == "ref":
            return self.bind(target, item[1], item[2], loop), {}
        if item[0] == "expr":
            return [copy_loc(assign(target, self.expr(copy.deepcopy(item[1])), loop.lineno), loop)], {}
        if item[0] == "const":
            if not isinstance(target, gast.Name):
                fail(loop, self.unit, "cannot unpack an integer index")
            return [copy_loc(assign(target.id, const(item[1]), loop.lineno), loop)], {target.id: item[1]}
        if not (isinstance(target, (gast.Tuple, gast.List)) and len(target.elts) == len(item[1])):
            fail(loop, self.unit, "a loop over zip or enumerate of tuple/list arguments that does not unpack "
                 "one name per sequence", "write `for W, b in zip(Ws, bs)` or `for i, W in enumerate(Ws)`")
        out, consts = [], {}
        for t, part in zip(target.elts, item[1]):
            more, c = self.bind_item(t, part, loop)
            out += more
            consts.update(c)
        return out, consts

    def unroll(self, loop, items):
        if any(isinstance(n, (gast.Break, gast.Continue)) for n in walk(loop)):
            fail(loop, self.unit, "break/continue in a loop over a tuple/list argument is not supported")
        out = []
        rebound = _stored(loop.body)
        for item in items:
            pre, consts = self.bind_item(loop.target, item, loop)
            body = copy.deepcopy(loop.body)
            for name, k in consts.items():   # P[i] with i known (range(len(P)), enumerate's index)
                if name not in rebound:
                    body = [_subst_const(b, name, k) for b in body]
            if any(isinstance(k, str) for k in consts.values()):   # `if k.startswith("W"):` of a dict's key k
                body = _fold_static_tests(body)
            out += self.block(pre + body)
        return out


def _leaves_copied(items):
    """The literal of a structure's items (`items`) with each leaf a copy of it (rt.copy: a deep copy's)."""
    if isinstance(items, gast.Tuple):
        out = copy_loc(gast.Tuple(elts=[_leaves_copied(e) for e in items.elts], ctx=gast.Load()), items)
        anno.copy(items, out, (anno.DICT_KEYS,))
        return out
    return copy_loc(_copied(items), items)


def _copied(e):
    """rt.copy(e), a runtime call resolve leaves as it is (annotations.MADE)."""
    out = call("rt.copy", e)
    anno.set(out, anno.MADE, True)
    return out


def has_keyed(struct) -> bool:
    """Whether the structure holds a dict's (Keyed) anywhere."""
    return isinstance(struct, list) and (isinstance(struct, Keyed) or any(has_keyed(st) for st in struct))


_DICT_WRITES = ("update", "pop", "popitem", "setdefault", "clear")


def constant_strings(fn, params) -> dict:
    """{name: value} of the names `fn` binds once, to a string or a tuple of strings (`k = "W"`,
    `keys = ("W", "b")`), not parameters (of `fn`, or of a def or lambda inside it: `lambda k: params[k]` reads
    its own k), nor names declared global or nonlocal."""
    counts, found = {}, {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param, gast.Del)):
            counts[n.id] = counts.get(n.id, 0) + (1 if isinstance(n.ctx, gast.Store) else 2)
        if isinstance(n, (gast.Global, gast.Nonlocal)):
            for name in n.names:
                counts[name] = 2
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            v = n.value
            if isinstance(v, gast.Constant) and isinstance(v.value, str):
                found[n.targets[0].id] = v.value
            elif isinstance(v, gast.Tuple) and v.elts and all(   # (not a list: keys.append("c") would change it)
                    isinstance(e, gast.Constant) and isinstance(e.value, str) for e in v.elts):
                found[n.targets[0].id] = tuple(e.value for e in v.elts)
    return {k: v for k, v in found.items() if counts.get(k) == 1 and k not in params}


_STR_TESTS = ("startswith", "endswith", "isupper", "islower", "isdigit", "isalpha", "isidentifier")


def static_value(e):
    """The value of a test built from literals (numbers and strings: comparisons, `in`, not, and/or, and str
    methods of a dict argument's keys, _STR_TESTS), else NOT_LITERAL."""
    if isinstance(e, gast.Constant) and isinstance(e.value, (bool, int, float, str)):
        return e.value
    if isinstance(e, gast.Call) and isinstance(e.func, gast.Attribute) and e.func.attr in _STR_TESTS \
            and not e.keywords:
        base, args = static_value(e.func.value), [static_value(a) for a in e.args]
        if isinstance(base, str) and all(isinstance(a, (str, tuple)) for a in args):
            return getattr(base, e.func.attr)(*args)
        return NOT_LITERAL
    if isinstance(e, (gast.Tuple, gast.List)):
        vals = [static_value(x) for x in e.elts]
        return NOT_LITERAL if any(v is NOT_LITERAL for v in vals) else tuple(vals)
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.Not):
        v = static_value(e.operand)
        return v if v is NOT_LITERAL else not v
    if isinstance(e, gast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], (gast.Eq, gast.NotEq, gast.In,
                                                                                   gast.NotIn)):
        a, b = static_value(e.left), static_value(e.comparators[0])
        if a is NOT_LITERAL or b is NOT_LITERAL or not (isinstance(a, str) or isinstance(b, (str, tuple))):
            return literal_value(e)
        op = type(e.ops[0])
        return a == b if op is gast.Eq else a != b if op is gast.NotEq else (a in b) == (op is gast.In)
    if isinstance(e, gast.BoolOp):
        vals = [static_value(x) for x in e.values]
        if any(v is NOT_LITERAL for v in vals):
            return NOT_LITERAL
        return all(vals) if isinstance(e.op, gast.And) else any(vals)
    return literal_value(e)


def _fold_static_tests(stmts):
    """`stmts` with each `if` and conditional expression whose test static_value decides (a dict key's test, in a
    loop over the dict's items unrolled) replaced by the branch it takes."""
    out = []
    for s in stmts:
        if isinstance(s, gast.If):
            v = static_value(s.test)
            if v is not NOT_LITERAL and not isinstance(v, str):
                out += _fold_static_tests(s.body if v else s.orelse)
                continue
        map_blocks(s, _fold_static_tests)
        out.append(_FoldIfExp().visit(s))
    return out


class _FoldIfExp(Transformer):
    """`(0.2 if k.startswith("W") else 0.1)` of a decided test: the branch it takes."""
    def visit_IfExp(self, n):
        self.generic_visit(n)
        v = static_value(n.test)
        return n if v is NOT_LITERAL or isinstance(v, str) else (n.body if v else n.orelse)


def _substituted(node, env: dict):
    """A copy of `node` with the names `env` maps read as their expressions."""
    class T(Transformer):
        def visit_Name(self, n):
            if n.id in env and isinstance(n.ctx, gast.Load):
                return copy_loc(copy.deepcopy(env[n.id]), n)
            return n
    return T().visit(copy.deepcopy(node))


def _stored(stmts) -> set:
    return {n.id for s in stmts for n in walk(s) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def literal_int(node):
    """The value of an integer literal (`2`, `-1`), else None."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        v = literal_int(node.operand)
        return None if v is None else -v
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, gast.BinOp) and type(node.op) in _INT_OPS:   # `bs[i - 1]` with i substituted
        a, b = literal_int(node.left), literal_int(node.right)
        return None if a is None or b is None else _INT_OPS[type(node.op)](a, b)
    return None


_INT_OPS = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b, gast.Mult: lambda a, b: a * b}


def _subst_const(stmt, name, k):
    class T(Transformer):
        def visit_Name(self, n):
            if n.id == name and isinstance(n.ctx, gast.Load):
                return copy_loc(const(k), n)
            return n
    return T().visit(stmt)


def flat_names(names, structs: dict) -> list:
    """`names` with each structured one (in `structs`) replaced by its leaves' parameter names."""
    return [leaf for w in names for leaf in (_Flatten(None, structs).leaf_names(w, structs[w]) if w in structs else [w])]


def flatten_arguments(unit, structs: dict):
    """Replace structured parameters (name -> structure) by one parameter per leaf."""
    if not structs:
        return unit
    params = {a.id for a in unit.node.args.args}
    fl = _Flatten(unit, structs, rebound_names(unit.node, params))
    fl.strings = constant_strings(unit.node, params)
    fl.params = params
    args, entry = [], []
    for a in unit.node.args.args:
        if a.id in structs:
            args += [gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                     for n in fl.leaf_names(a.id, structs[a.id])]
            if a.id in fl.rebound:   # `p = (p_0, p_1)`: the body binds p again, so p stays a tuple value
                entry.append(copy_loc(assign(a.id, fl.items(a.id, (), unit.node), unit.node.lineno), unit.node))
        else:
            args.append(a)
    unit.node.body = entry + fl.block(unit.node.body)
    unit.node.args.args = args
    anno.set(unit.node, anno.LEAF_NAMES, {leaf: spelled for name, st in fl.structs.items()
                                          for leaf, spelled in _spellings(name, st, name, ())})
    return unit


def _spellings(name, struct, spelled, path):
    """(leaf name, the user's spelling) of each leaf of the structure `name`: `q_0`, `q["W"]`."""
    if struct is None:
        yield "_".join([name] + [str(p) for p in path]), spelled
        return
    for k, s in enumerate(struct):
        at = f'["{struct.names[k]}"]' if isinstance(struct, Keyed) else f"[{k}]"
        yield from _spellings(name, s, spelled + at, path + (k,))


_ = store
