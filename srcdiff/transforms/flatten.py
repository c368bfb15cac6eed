"""The "flatten" pass of compiler.FRONT_END (only for tuple/list/dict arguments).

Give every array or float inside a structured argument a
parameter of its own, named by the argument and the item's key, field or position (`p_W`, `layer_b`, `t_0`:
item_variables.py). `params[0]`, `w, b = params`, `len(params)`, slices by constants (`params[:-1]`: the tuple
of its items; bound to a name, a structure of its own) and loops over the structure
(`for W, b in layers`, `zip`, `enumerate`, `range(len(...))`) are resolved statically; loops are unrolled,
and comprehensions over them become list literals of their elements (`sum(np.sum(W ** 2) for W in Ws)`).
A name bound again (the parameter itself, or a local bound to it and later to something else) is not
resolved statically: it is bound to the tuple literal of the items, a value like any other.
A dict argument (keyed by strings) is a structure too (Keyed: its keys beside its items' structures): `params["W"]`
is its item at the position of "W", loops over `params.items()` / `.values()` / `.keys()` unroll, and passed whole
to a function of the user's it is the tuple literal of its items marked with its keys (DICT_KEYS), so that the
function, made for that structure (inline._structure), reads it by key in its turn. What only a dict has (its
calls, `.get`, its views, copies and dicts made from it, keys held in names, tests of keys decided when srcdiff
compiles) is in dict_forms.py, a mixin of the flattener here."""
from __future__ import annotations

import copy
import re
import types

import gast

from ..errors import SrcdiffError, fail
from . import annotations as anno
from .astutil import NOT_LITERAL, Namer, Transformer, assign, const, copy_loc, load, map_blocks, store, walk
from .dict_forms import (DictForms, Keyed, bound_again_to_made, constant_strings, decline_returned_dict_sequences,
                         display_keys, fold_static_tests, returned_keys, static_value)
from .item_variables import item_variable, item_variables
from .passed_records import bind_passed_records
from .record_forms import Fields, RecordForms, record_methods_named, records_bound_again
from .record_returns import returned_records


STRUCTURED = (tuple, list, dict)   # the arguments whose leaves become parameters of their own



def _namedtuple(value) -> bool:
    return isinstance(value, tuple) and isinstance(getattr(type(value), "_fields", None), tuple)


def structure_of(value):
    """None for a leaf, else a list of the elements' structures (a Keyed one for a dict, Fields for a namedtuple)."""
    if isinstance(value, dict):
        return Keyed([structure_of(v) for v in value.values()], value.keys())
    if _namedtuple(value):
        return Fields([structure_of(v) for v in value], type(value)._fields, type(value))
    if isinstance(value, (tuple, list)):
        return [structure_of(v) for v in value]
    return None


def keys_aligned(value, like):
    """`value` with each dict in it ordered as the dict at its place in `like` is, where they have the same keys (a
    tangent made in another order: its leaves then line up with the argument's)."""
    if isinstance(value, dict) and isinstance(like, dict) and value.keys() == like.keys():
        return {k: keys_aligned(value[k], like[k]) for k in like}
    if isinstance(value, (tuple, list)) and isinstance(like, (tuple, list)) and len(value) == len(like):
        items = [keys_aligned(v, w) for v, w in zip(value, like)]
        return type(value)(*items) if _namedtuple(value) else type(value)(items)
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
    if _namedtuple(like):       # (a namedtuple argument's gradient: a namedtuple of its type)
        return type(like)(*items)
    return type(like)(items) if isinstance(like, (tuple, list)) else tuple(items)


def rebound_names(fn, params) -> set:
    """Names a static alias must not follow: a parameter bound again in the body, or a local bound more than
    once (`state = init` ... `state = (s0 + a, s1)` in a loop: `state[0]` is not `init_0` after the loop)."""
    counts: dict = {}
    # (a comprehension's targets are its own names, in Python 3: `sum(q["u"] for q in layers)` beside `for q in
    # layers:` binds no q of the function's; counted, the loop's q was bound to the literal of the dict's items, a
    # value, and `q["u"]` declined as "a tuple of differentiated values is indexed by a variable", h27c)
    comprehended = {id(t) for c in walk(fn) if isinstance(c, gast.comprehension) for t in walk(c.target)}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in comprehended:
            counts[n.id] = counts.get(n.id, 0) + 1
    return {k for k, c in counts.items() if c >= (1 if k in params else 2)}


class _Flatten(DictForms, RecordForms):
    def __init__(self, unit, structs: dict, rebound=frozenset()):
        self.unit = unit
        self.alias = {}  # local name -> (param, path)
        self.structs = dict(structs)   # (and the constant slices bound to a name: `hidden = params[:-1]`)
        self.rebound = rebound   # names that stay values: bound to the literal of their items
        self.strings = {}   # names bound once to a string or a tuple of strings (`k = "W"`: params[k] is params["W"])
        self.made = {}      # dicts made in the function (`q = dict(params)`) -> the block they are made in
        self.params = set()     # the function's parameters
        self.scope = ()     # the blocks (of statements that stay: a branch, a loop) the statement is in
        self.for_call = False   # a callee made for one call's structures: inline declines its writes into them
        self.nested_defs = {}   # name of a def nested in the function, bound once -> its returned_keys (dict_forms)
        self.nested_records = {}    # ... -> its returned_records (record_returns)
        self.own_records = {}   # id of a function flattened here -> its returned_records
        self.record_calls = set()   # ids of the calls of functions returning namedtuples bound, unpacked or read
        self.locals = set()     # the function's local names (a call of one is no module-level function's)
        self.dict_calls = set()     # ids of the calls of functions returning dicts read at keys or bound to a name
        self.rebound_dicts = frozenset()    # names bound more than once, each time to a dict made here (dict_forms)
        self.rebound_records = frozenset()  # ... to a namedtuple made here (record_forms)
        self.functions = []     # the functions nested in this one that the statement flattened is in, innermost last
        self.shared = set()     # (name, path) of the structures two names hold (dict_forms.bind_item_to)
        self.item_writes = []   # (name, path, node) of each write into an item of a structure (leaf)

    def shallow_copied(self, node):
        """`p` where `node` is `copy.copy(p)` of a tuple, list or namedtuple structure (an argument's, or one made
        here; a dict's is dict_forms'): Python's shallow copy holds p's items themselves (a tuple's is p), so the name
        it is bound to is bound to them as `q = p` is; else None. (resolve wrote it as np.copy: one array of the
        items, declined there, `ts = copy.copy(s)` then `ts.W` as 'attribute .W of a local value'.)"""
        if not (isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords and self.unit is not None):
            return None
        f = node.func
        fn = self.unit.namespace.get(f.id) if isinstance(f, gast.Name) and f.id not in self.locals else \
            getattr(self.unit.namespace.get(f.value.id), f.attr, None) \
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id not in self.locals \
            else None
        r = self.ref(node.args[0]) if fn is copy.copy else None
        st = None if r is None else self.struct_at(*r)
        return node.args[0] if st is not None and not isinstance(st, Keyed) else None

    def leaf_names(self, name, path=()):
        """The variables of the leaves of the item at `path` of the structure `name` (item_variables.py)."""
        return item_variables(name, self.structs[name], path)

    def leaf_name(self, name, path):
        """The variable of the leaf at `path` of the structure `name` (`layer_W`, `t_0`: item_variables.py)."""
        return item_variable(name, self.structs[name], path)

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
        if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load):
            base = self.ref(node.value)     # p.W of a namedtuple argument: its item at the field's position
            s = None if base is None else self.struct_at(*base)
            if isinstance(s, Fields) and node.attr in s.fields:
                return base[0], base[1] + (s.fields.index(node.attr),)
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
                    which = f"the dict '{base[0]}' made in the function" if base[0] in self.made else \
                        "the dict argument"
                    fail(node, self.unit, f"no key {key!r} in {which} ({keys}): Python "
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

    def copied(self, node):
        """The tuple/list value `tuple(t)` or `list(t)` copies, where `node` is such a call of a tuple/list argument
        (or an item of one that is a tuple, or a constant slice of one): `t`, else None. Python makes a new tuple or
        list of the same items, so srcdiff reads it as the literal of t's items written out (`list(t)` a list
        literal: its writes and appends are a local list's; of a namedtuple, a plain tuple of its fields' values); a
        dict's, its keys, is left to the check that declines a dict used whole."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and len(node.args) == 1
                and not node.keywords and self.unit is not None and node.func.id not in self.locals
                and self.unit.namespace.get(node.func.id, {"tuple": tuple, "list": list}.get(node.func.id))
                in (tuple, list)):
            return None
        arg = node.args[0]
        if self.sliced(arg) is not None:
            return arg
        r = self.ref(arg)
        s = None if r is None else self.struct_at(*r)
        return arg if s is not None and not isinstance(s, Keyed) else None

    def copied_literal(self, node):
        """`tuple(t)` / `list(t)` (`copied`) as the tuple or list literal of t's items (nested structures kept)."""
        arg = self.copied(node)
        refs = self.sliced(arg)
        if refs is None:
            r = self.ref(arg)
            refs = [(r[0], r[1] + (k,)) for k in range(len(self.struct_at(*r)))]
        kind = gast.List if node.func.id == "list" else gast.Tuple
        return copy_loc(kind(elts=[self.items(p, path, node) for p, path in refs], ctx=gast.Load()), node)

    def leaf(self, param, path, node):
        if isinstance(getattr(node, "ctx", None), (gast.Store, gast.Del)) and param in self.params \
                and not self.for_call:
            self.argument_item_written(param, path, node)
        if isinstance(getattr(node, "ctx", None), (gast.Store, gast.Del)):
            self.item_writes.append((param, path, node))
        if isinstance(self.struct_at(param, path), Keyed):
            what = "a dict made in the function" if param in self.made else "a dict argument"
            fail(node, self.unit, f"{what} used as a whole value (srcdiff reads a dict argument's items "
                                  "at string keys known when it compiles)",
                 "read it at its keys (p[\"W\"], p.get(\"W\", 0.0)), loop over p.items(), or pass it whole to "
                 "a function of yours")
        if self.struct_at(param, path) is not None:
            fail(node, self.unit, "a tuple/list argument used as a whole value",
                 "index it, unpack it, or loop over it; pass its items to helper functions separately")
        return copy_loc(load(self.leaf_name(param, path)), node)

    def argument_item_written(self, param, path, node):
        """`p[0] = ...` (`+=`, `del`) of the differentiated function's own tuple or list argument: Python changes the
        caller's list (or raises TypeError, a tuple); srcdiff makes each item a parameter of its own, which the
        caller never sees, so it is declined (a dict's: dict_forms.dict_item_written), as a helper's write into
        its caller's structure is (inline._decline_item_writes)."""
        if isinstance(self.struct_at(param, path[:-1]), Keyed):
            self.dict_item_written(param, path, node)
        spelled = param + "".join(self.spelled_keys(param, path))
        fail(node, self.unit, f"`{spelled}` assigned, an item of the tuple/list argument '{param}': in Python the "
                              "caller's list changes too (a tuple raises TypeError), which srcdiff, making each item a "
                              "variable of its own, does not do",
             f"keep the new value in a variable of its own (w = 2.0 * {spelled}) and read it where {spelled} was read")

    def takes_literals(self, func) -> bool:
        """Whether a call of `func` may take a structured argument as the literal of its items: a function of
        the user's (module-level, nested, a lambda) or a library function; not a srcdiff transform (an object
        whose arguments must stay separate: README, Transforms) or another callable object."""
        if not isinstance(func, gast.Name) or self.unit is None or func.id not in self.unit.namespace:
            return True
        return isinstance(self.unit.namespace[func.id], (types.FunctionType, types.BuiltinFunctionType))

    def made_transform(self, func) -> bool:
        """Whether `func` makes a srcdiff transform where it is called (`srcdiff.grad(mlp)`, `grad(mlp)` of
        `from srcdiff import grad`)."""
        if not isinstance(func, gast.Call) or self.unit is None:
            return False
        f = func.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name):
            module = self.unit.namespace.get(f.value.id)
            return isinstance(module, types.ModuleType) and module.__name__.split(".")[0] == "srcdiff"
        obj = self.unit.namespace.get(f.id) if isinstance(f, gast.Name) else None
        return callable(obj) and (getattr(obj, "__module__", None) or "").split(".")[0] == "srcdiff"

    def user_function(self, func) -> bool:
        """Whether `func` names a function of the user's (module-level, or nested: not in the namespace)."""
        return isinstance(func, gast.Name) and (func.id not in self.unit.namespace
                                                or isinstance(self.unit.namespace[func.id], types.FunctionType))

    def keys_formatted(self, body, name) -> bool:
        """Whether `body` reads a dict (an argument, or made here) at an f-string key formatting `name`
        (`params[f"W{i}"]`)."""
        for st in body:
            for n in walk(st):
                if (isinstance(n, gast.Subscript) and isinstance(n.slice, gast.JoinedStr)
                        and any(isinstance(m, gast.Name) and m.id == name for m in walk(n.slice))):
                    r = self.ref(n.value)
                    if r is not None and isinstance(self.struct_at(*r), Keyed):
                        return True
        return False

    def reads_keys(self, test) -> bool:
        """Whether the test `test` reads a dict's keys (`"b" in params`, `"b" not in q.keys()`)."""
        return any(isinstance(n, gast.Compare) and self.key_test(n) is not None for n in walk(test))

    def method_call(self, n):
        """`p.apply(x)` of a namedtuple argument (or one made here) whose class defines `apply`: the call of that
        function with p first, `Params.apply(p, x)` (the function bound to a name of the unit's namespace), which
        reads p by field as a function of the user's; else `n`."""
        f = n.func
        if not isinstance(f, gast.Attribute):
            return n
        r = self.ref(f.value)
        s = None if r is None else self.struct_at(*r)
        cls = getattr(s, "cls", None)
        fn = cls.__dict__.get(f.attr) if cls is not None else None
        if not isinstance(fn, types.FunctionType):
            return n
        name = f"{cls.__name__}_{f.attr}"
        while name in self.unit.namespace and self.unit.namespace[name] is not fn:
            name += "_"
        self.unit.namespace[name] = fn
        return copy_loc(gast.Call(func=copy_loc(load(name), f), args=[f.value] + n.args, keywords=n.keywords), n)

    def literal(self, node, user=False):
        """`node` as a tuple literal of its items' parameters where it names a structured value (nested
        structures nested), or (for a function of the user's) builds a dict from dict arguments, else `node`."""
        if self.sliced(node) is not None:
            return self.sliced_literal(node)
        if user and self.builds_dict(node):
            return self.dict_literal(node)
        made = self.namedtuple_items(node) if user else None
        if made is not None:        # f(Layer(W, b)): its items marked with its fields
            out = copy_loc(gast.Tuple(elts=[self.literal(a, user) for a in made[1]], ctx=gast.Load()), node)
            anno.set(out, anno.TUPLE_FIELDS, (made[0], self.unit.namespace.get(node.func.id)))
            return out
        if user and isinstance(node, (gast.Tuple, gast.List)) and any(
                self.builds_dict(e) or self.ref(e) is not None and self.struct_at(*self.ref(e)) is not None
                for e in node.elts):   # f((x, d)) of a dict d: the dict's items marked with its keys, in the tuple
            out = copy_loc(type(node)(elts=[self.literal(e, user) for e in node.elts], ctx=gast.Load()), node)
            return out
        r = self.ref(node)
        if r is None or self.struct_at(*r) is None:
            return node
        if not user:
            self.no_dict_to_library(self.struct_at(*r), node)
        return self.items(r[0], r[1], node)

    def defaults(self, fn):
        """The defaults of the nested function `fn` (a def or a lambda), which the enclosing function evaluates where
        `fn` is defined, flattened: `def h(z, p=p)` of a structured argument p bound nowhere in the body (its items
        never change: _decline_structures_as_defaults declines the others) takes the literal of p's items, marked with
        its keys or fields, as a call passing p whole does (`literal`); `q=p["W"]`, the item's variable."""
        def flat(d):
            r = self.ref(d)
            return self.literal(d, True) if r is not None and self.struct_at(*r) is not None else self.expr(d)
        a = fn.args
        a.defaults = [flat(d) for d in a.defaults]
        a.kw_defaults = [None if d is None else flat(d) for d in a.kw_defaults]

    def items(self, param, path, like):
        s = self.struct_at(param, path)
        if s is None:
            return copy_loc(load(self.leaf_name(param, path)), like)
        out = copy_loc(gast.Tuple(elts=[self.items(param, path + (k,), like) for k in range(len(s))],
                                  ctx=gast.Load()), like)
        if isinstance(s, Keyed):   # a dict passed whole: a helper reads its items by key (inline._structure)
            anno.set(out, anno.DICT_KEYS, s.names)
        if isinstance(s, Fields):  # a namedtuple passed whole: by field
            anno.set(out, anno.TUPLE_FIELDS, (s.fields, s.cls))
        return out

    def expr(self, node):
        outer = self

        class T(Transformer):
            def visit_Subscript(self, n):
                if outer.sliced(n) is not None:
                    return outer.sliced_literal(n)
                read = outer.returned_dict_read(n)      # params(W, b)["W"] (dict_forms)
                if read is not None:
                    self.generic_visit(read)
                    return read
                if outer.record_call(n.value) and literal_int(n.slice) is not None:
                    outer.returned_record(n.value)
                    outer.record_calls.add(id(n.value))     # step(s, g)[0]: a field's value
                r = outer.ref(n)
                if r is not None:
                    return outer.leaf(*r, n)
                self.generic_visit(n)
                return n

            def visit_Attribute(self, n):
                read = outer.record_read(n)     # step(s, g).W of a function returning namedtuples (record_forms)
                if read is not None:
                    self.generic_visit(read)
                    return read
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
                if outer.copied(n) is not None:     # tuple(t), list(t): the literal of t's items
                    return outer.copied_literal(n)
                outer.unread_dict_call(n)
                outer.unread_record_call(n)
                n = outer.method_call(n)    # p.apply(x) of a namedtuple: Params.apply(p, x)
                for k in n.keywords:
                    if k.arg is None and isinstance(outer.keyed(k.value), Keyed):
                        fail(n, outer.unit, f"a call with **{gast.unparse(k.value).strip()}: a dict's items passed as "
                                            "keyword arguments (srcdiff binds a call's arguments when it compiles)",
                             "pass the arguments as literal keywords (name=value) instead of **kwargs")
                out = outer.dict_call(n, self.visit)    # params.get("W"), params.values(), ... (dict_forms)
                if out is not None:
                    return out
                if (isinstance(n.func, gast.Name) and n.func.id == "len" and len(n.args) == 1
                        and outer.sliced(n.args[0]) is not None):
                    return copy_loc(const(len(outer.sliced(n.args[0]))), n)
                if (isinstance(n.func, gast.Name) and n.func.id == "len" and len(n.args) == 1
                        and outer.ref(n.args[0]) is not None):
                    s = outer.struct_at(*outer.ref(n.args[0]))
                    return copy_loc(const(len(s)), n)
                if outer.made_transform(n.func):
                    outer.no_dict_to_transform(n)
                if outer.takes_literals(n.func):
                    # a structured value passed whole (`g(params, x)`): the literal of its items, as if written out
                    user = outer.user_function(n.func)
                    n.args = [outer.literal(a, user) for a in n.args]
                    for k in n.keywords:
                        k.value = outer.literal(k.value, user)
                self.generic_visit(n)
                return n

            def visit_IfExp(self, n):
                test = self.visit(n.test)
                v = static_value(test)
                if v is not NOT_LITERAL and not isinstance(v, str) and outer.reads_keys(n.test):
                    return self.visit(n.body if v else n.orelse)    # (`p["b"] if "b" in p else 0.0`)
                n.test = test
                n.body, n.orelse = self.visit(n.body), self.visit(n.orelse)
                return n

            def visit_Compare(self, n):
                test = outer.key_test(n)     # "b" in params of a dict argument: a constant
                if test is not None:
                    return test
                self.generic_visit(n)
                return n

            def visit_Lambda(self, n):
                outer.defaults(n)
                n.body = self.visit(n.body)
                return n

            def visit_ListComp(self, n):
                return self.comprehension(n)

            def visit_GeneratorExp(self, n):
                return self.comprehension(n)

            def comprehension(self, n):
                items = outer.unrolled(n)
                if items is None:   # (its targets are its own: not a loop's alias of the same name, rebound_names)
                    own = {t.id for g in n.generators for t in walk(g.target) if isinstance(t, gast.Name)}
                    hidden = {k: outer.alias.pop(k) for k in list(outer.alias) if k in own}
                    try:
                        self.generic_visit(n)
                    finally:
                        outer.alias.update(hidden)
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
                it = self.zip_of_items(_substituted(gen.iter, env))
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
                return [copy_loc(assign(target.id, load(self.leaf_name(param, path)), like.lineno), like)]
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
        if isinstance(s, gast.If):
            v = static_value(self.expr(copy.deepcopy(s.test)))
            if v is not NOT_LITERAL and not isinstance(v, str) and self.reads_keys(s.test):
                # `if "b" in params:` decided when srcdiff compiles: the branch Python takes (the other may read a
                # key the dict lacks, `params["b"]`, which Python never reaches there)
                return self.block(s.body if v else s.orelse)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and self.dict_get_dict(s.value) is not None:     # opt = params.get("opt", {}) (dict_forms)
            s = copy_loc(gast.Assign(targets=s.targets, value=self.dict_get_dict(s.value), type_comment=None), s)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and self.builds_dict(s.value) and not self.copies_nested_parameter(s.value):
            return self.make_dict(s)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and isinstance(s.value, gast.Call) and self.returned_dict(s.value.func, s.value) is not None:
            return self.bind_returned(s, self.returned_dict(s.value.func, s.value))    # p = params(W, b) (dict_forms)
        if isinstance(s, gast.Return) and display_keys(s.value) is not None:
            return self.return_dict(s)
        if self.returns_named_dict(s):     # q = {"a": ..., "b": ...} ... return q (dict_forms)
            return self.return_named_dict(s)
        returned = self.return_record(s) if isinstance(s, gast.Return) else None
        if returned is not None:    # return s._replace(W=e) in a function returning namedtuples (record_forms)
            return returned
        if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and (s.targets[0].id not in self.rebound and s.targets[0].id not in self.structs
                     or s.targets[0].id in self.rebound_records) and self.record_call(s.value)):
            return self.bind_returned_record(s)     # s2 = step(s, g) of a function returning namedtuples
        if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], (gast.Tuple, gast.List))
                and self.record_call(s.value)):
            self.returned_record(s.value)       # W2, b2 = step(s, g): its fields' values
            self.record_calls.add(id(s.value))
        if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.ListComp) and any(self.builds_dict(n) or isinstance(n, gast.Dict)
                                                               for n in walk(s.value.elt))):
            items = self.unrolled(s.value)      # out = [dict(l) for l in layers]: [dict(layers[0]), ...] (h27c)
            if items and all(self.builds_dict(e) for e in items):
                s = copy_loc(gast.Assign(targets=s.targets, value=copy_loc(gast.List(elts=items, ctx=gast.Load()),
                                                                           s.value), type_comment=None), s)
        if self.dicts_literal(s):       # layers = ({"W": W1, ...}, {"W": W2, ...}) (dict_forms)
            return self.make_dicts(s)
        if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and (s.targets[0].id not in self.rebound and s.targets[0].id not in self.structs
                     or s.targets[0].id in self.rebound_records)
                and (self.namedtuple_items(s.value) is not None or self.replaced(s.value) is not None)):
            return self.make_namedtuple(s)      # q = Layer(W, b), q2 = q._replace(W=W2) (record_forms)
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
                    for leaf, src in zip(self.leaf_names(name, (k,)), self.leaf_names(it[0], it[1]))]
        if isinstance(s, gast.Assign) and len(s.targets) == 1:
            r = self.ref(self.shallow_copied(s.value) or s.value)
            if r is not None and self.struct_at(*r) is not None:
                if isinstance(s.targets[0], gast.Name) and s.targets[0].id in self.rebound_records:
                    # `s = s0` of a namedtuple argument, where s is bound again to namedtuples made here: its fields'
                    # variables bound to s0's (record_forms)
                    st = self.struct_at(*r)
                    return self.bind_record(s, s.targets[0].id, Fields([None] * len(st), st.fields, st.cls),
                                            [load(leaf) for leaf in self.leaf_names(*r)])
                return self.bind(s.targets[0], *r, s)
        if isinstance(s, gast.For):
            s.iter = it = self.zip_of_items(s.iter, s)
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
            if (items is not None and isinstance(s.target, gast.Name) and all(i[0] == "const" for i in items)
                    and self.keys_formatted(s.body, s.target.id)):
                # `for i in range(2): params[f"W{i}"]` of a dict: unrolled, each key known
                return self.unroll(s, items)
            if isinstance(s.target, gast.Name) and self.over_keys(it):
                # `for k in ("W1", "W2"): params[k]`, keys of a dict argument: unrolled, k each key in turn
                return self.unroll(s, [("const", k) for k in self.key_tuple(it)])
        if isinstance(s, gast.FunctionDef):     # (its `return q` returns its own dicts: named_dicts of it)
            self.defaults(s)
            self.functions.append(s)
        try:
            map_blocks(s, self.inner_block)
        finally:
            if isinstance(s, gast.FunctionDef):
                self.functions.pop()
        for f in ("value", "test", "iter", "targets", "target", "msg"):
            v = getattr(s, f, None)
            if isinstance(v, list):
                setattr(s, f, [self.expr(x) for x in v])
            elif isinstance(v, gast.AST):
                setattr(s, f, self.expr(v))
        return [s]

    def zip_of_items(self, it, loop=None):
        """`zip(*pairs)` of a tuple or list argument (or an item of one) as `zip(pairs[0], ..., pairs[n - 1])`, its
        items listed (`for p, q in zip(*pairs)`: Python's unpacking of each item into as many names as `pairs` has
        items is checked here); `it` itself where it is anything else."""
        if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and self.unit is not None
                and self.unit.namespace.get(it.func.id) is zip and it.func.id not in self.params
                and len(it.args) == 1 and isinstance(it.args[0], gast.Starred) and not it.keywords):
            return it
        r = self.ref(it.args[0].value)
        struct = None if r is None else self.struct_at(*r)
        if struct is None or isinstance(struct, Keyed):
            return it
        target = getattr(loop, "target", None)
        if isinstance(target, (gast.Tuple, gast.List)) and len(target.elts) != len(struct) and not any(
                isinstance(e, gast.Starred) for e in target.elts):
            fail(loop, self.unit, f"a loop over zip(*...) of {len(struct)} sequences unpacking each item into "
                                  f"{len(target.elts)} names: Python raises ValueError ("
                                  + ("too many values to unpack" if len(struct) > len(target.elts) else
                                     "not enough values to unpack") + ")",
                 f"unpack one name per sequence ({len(struct)})")
        rows = [copy_loc(gast.Subscript(value=copy.deepcopy(it.args[0].value), slice=const(k), ctx=gast.Load()), it)
                for k in range(len(struct))]
        return copy_loc(gast.Call(func=it.func, args=rows, keywords=[]), it)

    def positions(self, it, rebound):
        """The items a loop over `it` takes, one per iteration, where `it` iterates over structured values:
        the structure itself, `zip` of such iterables (as long as the shortest, as in Python) or `enumerate`
        of one (with a constant start). Each item is ("ref", param, path), ("const", k) or ("tuple", items).
        None where `it` is anything else (a loop that stays a loop), or reads a name the loop's body
        (`rebound`) binds: Python evaluates it once, before the loop."""
        if self.copied(it) is not None:     # for v in list(t): over t's items
            return self.positions(self.copied(it), rebound)
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
        keys = self.sorted_keys(it)
        if keys is not None:     # `for k in sorted(params)`: its keys, in order
            return [("const", name) for name in keys]
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

    def sorted_keys(self, it):
        """The keys of a dict argument in the order `sorted(params)` (or of `params.keys()`, `reverse=` a literal)
        gives them, where `it` is that call; else None."""
        if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and len(it.args) == 1
                and self.unit is not None and self.unit.namespace.get(it.func.id, sorted) is sorted
                and it.func.id not in self.params and all(k.arg == "reverse" for k in it.keywords)):
            return None
        reverse = [k.value.value for k in it.keywords if isinstance(k.value, gast.Constant)]
        if len(reverse) != len(it.keywords) or any(type(v) is not bool for v in reverse):
            return None
        view = self.dict_view(it.args[0])
        if view is not None and view[2] == "keys":
            names = view[1].names
        else:
            r = self.ref(it.args[0])
            struct = None if r is None else self.struct_at(*r)
            if not isinstance(struct, Keyed):
                return None
            names = struct.names
        return sorted(names, reverse=bool(reverse and reverse[0]))

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
        if self.sliced(it) is not None or self.dict_view(it) is not None or self.copied(it) is not None:
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
                body = fold_static_tests(body)
            out += self.block(pre + body)
        return out


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
    return [leaf for w in names for leaf in (item_variables(w, structs[w]) if w in structs else [w])]


def flatten_arguments(unit, structs: dict, for_call: bool = False):
    """Replace structured parameters (name -> structure) by one parameter per leaf. `for_call`: `unit` is a callee
    made for the structures one call passes (inline._with_tuple_items declines its writes into their items), else
    the function differentiated, whose writes into its arguments' items are declined here."""
    structs = structs or {}
    params = {a.id for a in unit.node.args.args}
    record_methods_named(unit.node, unit.namespace, structs)     # s.step(g) -> P_step(s, g) (record_forms)
    decline_returned_dict_sequences(unit.node, unit)     # return [dict(w=a), dict(w=b)] (dict_forms)
    fl = _Flatten(unit, structs, rebound_names(unit.node, params))
    if not _makes_dicts(unit, fl) and not structs:
        return unit
    if bind_passed_records(unit.node, lambda c: fl.record_call(c) or fl.dict_call_of_yours(c), unit.namespace):
        # g(step(s, x)), loss(params(W, b), x): step_s = step(s, x), params_W = params(W, b) first (passed_records)
        fl = _Flatten(unit, structs, rebound_names(unit.node, params))
        _makes_dicts(unit, fl)
    _one_variable_per_item(unit, structs)
    made = _made_structures(unit, fl)
    if _unshadow_nested(unit, set(structs) | made):     # (then what fl read off the names before is stale)
        fl = _Flatten(unit, structs, rebound_names(unit.node, params))
        _makes_dicts(unit, fl)
        made = _made_structures(unit, fl)
    # (a default reading an argument bound nowhere in the body is that argument's items, `defaults`)
    _decline_structures_as_defaults(unit, made | (set(structs) & rebound_names(unit.node, params)))
    _rename_clashing_locals(unit, structs, params, made, _made_items(unit, structs, params, made))
    _flatten(unit, fl, structs, params, for_call)
    return unit


def _flatten(unit, fl, structs: dict, params: set, for_call: bool) -> None:
    fl.rebound_dicts = bound_again_to_made(unit.node, lambda v: fl.builds_dict(v) or (
        isinstance(v, gast.Call) and fl.returned_dict(v.func) is not None))
    makes_record = (lambda v: fl.namedtuple_items(v) is not None or fl.record_call(v) or (
        isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "_replace"))
    fl.rebound_records = bound_again_to_made(unit.node, makes_record) | records_bound_again(unit.node, structs,
                                                                                          makes_record)
    fl.rebound = fl.rebound - fl.rebound_dicts - fl.rebound_records
    fl.strings = constant_strings(unit.node, params)
    fl.params = params
    fl.for_call = for_call
    args, entry = [], []
    for a in unit.node.args.args:
        if a.id in structs:
            args += [gast.Name(id=n, ctx=gast.Param(), annotation=None, type_comment=None)
                     for n in fl.leaf_names(a.id)]
            if a.id in fl.rebound:   # `p = (p_0, p_1)`: the body binds p again, so p stays a tuple value
                entry.append(copy_loc(assign(a.id, fl.items(a.id, (), unit.node), unit.node.lineno), unit.node))
        else:
            args.append(a)
    unit.node.body = entry + fl.block(unit.node.body)
    fl.shared_writes_declined()
    unit.node.args.args = args
    anno.set(unit.node, anno.RECORDS_BOUND, frozenset(fl.rebound_records & params))
    anno.set(unit.node, anno.LEAF_NAMES, {leaf: spelled for name, st in fl.structs.items()
                                          for leaf, spelled in _spellings(name, st, name, ())})


def _made_structures(unit, fl) -> set:
    """The names the function binds to a dict or namedtuple it makes (`q = dict(W=w)`, `q = {...}`, `s = S(u, v)`,
    `s._replace(u=v)`, `p = params(W, b)` of a function returning a dict, `qs = ({...}, {...})`): flatten gives
    each of their items a variable, `q_W`, `q_b`, `qs_0_W`."""
    made = set()
    for n in walk(unit.node):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            v = n.value
            if fl.builds_dict(v) or fl.dicts_literal(n) or isinstance(v, gast.ListComp) and fl.builds_dict(v.elt) \
                    or isinstance(v, gast.Call) and (
                    fl.namedtuple_items(v) is not None or fl.returned_dict(v.func) is not None or fl.record_call(v)
                    or isinstance(v.func, gast.Attribute) and v.func.attr == "_replace"):
                made.add(n.targets[0].id)
    return made


def _decline_structures_as_defaults(unit, names: set) -> None:
    """Decline a function nested in `unit` whose parameter's default reads one of its structures `names` (`def h(z,
    p=p)`, `def h(z, q=p["W"])` of a dict made here, or of an argument the body binds again): Python's default is the
    object as it is where the function is defined, which a dict made here shares with later writes into its items
    (both were declined as "name 'p' is not defined", a message naming no construct). Of an argument bound nowhere
    in the body, the default is its items (_Flatten.defaults)."""
    for fn in walk(unit.node):
        if fn is unit.node or not isinstance(fn, (gast.FunctionDef, gast.Lambda)):
            continue
        for d in [*fn.args.defaults, *(d for d in fn.args.kw_defaults if d is not None)]:
            for n in walk(d):
                if type(n) is gast.Name and n.id in names:
                    fail(n, unit, f"a default value of a nested function's parameter that reads `{n.id}`, a tuple, "
                                  "list, dict or namedtuple: srcdiff gives each of its items a variable of its own, "
                                  "which the default, bound where the function is defined, does not see",
                         f"let the nested function read `{n.id}` itself (a closure sees it), or pass it (or the item) "
                         "in the call")


def _unshadow_nested(unit, names: set) -> bool:
    """Rename, in each function nested in `unit` (a def or a lambda), a parameter or local of its own that has the
    name of one of the function's structures (`names`: `def h(p): return p[0] * p[1]` inside `f(p, x)`), all through
    the nested function: flatten reads `p[0]` by the name p as the structure's item p_0 wherever it occurs, so the
    nested function read the outer argument's items instead of its own argument's (`h((x, p[0] * 3.0))`: d/dx 0
    for 3.3, the value 0.79 for 1.05, both backends). Whether any was renamed."""
    taken = {n.id for n in walk(unit.node) if type(n) is gast.Name} | set(unit.namespace)
    namer = Namer(taken=taken)
    renamed = False

    def own(fn) -> set:
        out = {a.id for a in fn.args.args + getattr(fn.args, "kwonlyargs", []) if isinstance(a, gast.Name)}
        for a in (fn.args.vararg, fn.args.kwarg):
            if isinstance(a, gast.Name):
                out.add(a.id)
        if isinstance(fn, gast.FunctionDef):
            outer = {x for n in walk(fn) if isinstance(n, (gast.Nonlocal, gast.Global)) for x in n.names}
            out |= {n.id for n in walk(fn) if type(n) is gast.Name and isinstance(n.ctx, gast.Store)} - outer
        return out

    def visit(node, top):
        nonlocal renamed
        if not top and isinstance(node, (gast.FunctionDef, gast.Lambda)):
            new = {name: namer.fresh(name) for name in sorted(own(node) & names)}
            if new:
                renamed = True
                # (not its defaults nor decorators: the enclosing function evaluates them, `def h(z, p=p)`)
                inside = [*node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg,
                          *(node.body if isinstance(node.body, list) else [node.body])]
                for n in (n for part in inside if part is not None for n in walk(part)):
                    if type(n) is gast.Name and n.id in new:
                        n.id = new[n.id]
        for child in gast.iter_child_nodes(node):
            visit(child, False)
    visit(unit.node, True)
    return renamed


def _one_variable_per_item(unit, structs: dict) -> None:
    """Decline two structured arguments one of whose items' variables would be the other's (`p["a"]["b"]` and
    `p_a["b"]`: both `p_a_b`; `p[0][0]` and `p_0[0]`: both `p_0_0`)."""
    seen = {}
    for p, st in structs.items():
        for leaf, spelled in _spellings(p, st, p, ()):
            if leaf in seen:
                fail(unit.node, unit, f"srcdiff names both {seen[leaf]} and {spelled} of your arguments `{leaf}` (it "
                                      "gives each item of a tuple, list, dict or namedtuple a variable of its own, "
                                      "named after the argument and the item's key, field or position)",
                     f"rename the argument '{p}'")
            seen[leaf] = spelled


def _made_items(unit, structs: dict, params: set, made: set) -> list:
    """[(variable, the structure's name)] of the variables flatten gives the items of the structures the function
    makes (`made`: `q_W`, `q_b` of `q = dict(W=w, b=b)`), read off a copy of the function flattened (their keys are
    known only there: `{**p, "c": c}`, `q["c"] = v`, a helper's returned dict), where the function has a name that
    may be one (`q_` and more); where the copy is declined (as the function will be), every such name."""
    if not made:
        return []
    spelled = re.compile("(" + "|".join(map(re.escape, sorted(made))) + r")_\w+")
    found = {m.group(0): m.group(1) for n in walk(unit.node)
             for m in [spelled.fullmatch(n.id if type(n) is gast.Name else getattr(n, "name", None) or "")] if m}
    argument_items = flat_names(list(structs), structs)
    prefixed = [(m, m) for m in sorted(made - params) if any(leaf.startswith(m + "_") for leaf in argument_items)
                or any(m.startswith(q + "_") for q in made)]     # (`q_a = {"b": y}` beside `q = {"a_b": x}`)
    if not found and not prefixed:
        return []
    trial = copy.copy(unit)
    trial.node, trial.namespace = copy.deepcopy(unit.node), dict(unit.namespace)
    fl = _Flatten(trial, structs, rebound_names(trial.node, params))
    _makes_dicts(trial, fl)
    try:
        _flatten(trial, fl, structs, params, True)
    except SrcdiffError:
        return sorted(found.items()) + prefixed     # (each such name: made, or an item's)
    return [(leaf, name) for name in sorted(made) if name in fl.structs
            for leaf in item_variables(name, fl.structs[name])]


def _rename_clashing_locals(unit, structs: dict, params: set, made: set, made_items: list) -> None:
    """A local name of the function spelled as the variable flatten gives an item of a structure (`p_W = x * 2.0`
    beside a dict argument p, whose item p["W"] becomes the parameter p_W, `p_0` beside a tuple argument p; `q_W`
    beside `q = dict(W=w, b=b)`: item_variables.py) is renamed throughout the function, so the two stay two variables:
    the local took the item's place (a gradient of 0 for p["W"]; 2x * 3x read as q["W"] * q_W differentiated as
    (3x)^2). So is a structure made here whose items' variables may be another structure's (`q_a = {"b": y}` beside
    `q = {"a_b": x}`: both `q_a_b`). A parameter or a name from outside the function so spelled is declined
    (`made_items`: _made_items')."""
    owners: dict = {}
    for leaf, o in [(leaf, p) for p, st in structs.items() for leaf in item_variables(p, st)] + list(made_items):
        owners.setdefault(leaf, set()).add(o)
    leaves = set(owners)
    # (of two made here, the longer name: `q_a` beside `q`; of an argument and one made here, the one made here)
    prefixed = {o for os in owners.values() if len(os) > 1 for o in sorted(os, key=lambda o: (o in made, len(o), o))[1:]
                if o in made and o not in params}
    made_items = dict(made_items)

    def clashes(name):
        return name in leaves or name in prefixed
    named, bound = {}, set()
    for n in walk(unit.node):
        if type(n) is gast.Name and clashes(n.id):
            named.setdefault(n.id, n)
            if not isinstance(n.ctx, gast.Load):
                bound.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.ClassDef)) and n is not unit.node and clashes(n.name):
            named.setdefault(n.name, n)
            bound.add(n.name)
    if not named:
        return
    for name, node in named.items():
        if name in params or name not in bound:
            item = next((f"the item {s} of your argument" for p, st in structs.items()
                         for leaf, s in _spellings(p, st, p, ()) if leaf == name), None) \
                or f"an item of {made_items[name]}"
            what = "a parameter" if name in params else "a name from outside the function"
            fail(node, unit, f"`{name}` is {what}, and srcdiff names {item} so",
                 f"rename `{name}` (srcdiff gives each item of a tuple, list, dict or namedtuple a variable of its own, "
                 "named after it)")
    namer = Namer(taken={n.id for n in walk(unit.node) if type(n) is gast.Name} | leaves | set(unit.namespace))
    new = {name: namer.fresh(name) for name in named}
    if hasattr(unit, "renamed"):
        unit.renamed.update(new)      # (errors.fail spells them as the user wrote them)
    for n in walk(unit.node):
        if type(n) is gast.Name and n.id in new:
            n.id = new[n.id]
        elif isinstance(n, (gast.FunctionDef, gast.ClassDef)) and n.name in new:
            n.name = new[n.name]


def _makes_dicts(unit, fl) -> bool:
    """Whether the function `unit` makes a dict (a display, a dict comprehension, `dict(...)`) or calls a function
    returning one (a dict of its own: flatten makes each of its items a variable); sets `fl`'s nested defs and
    locals for that."""
    from .resolve import local_names
    fl.locals = local_names(unit.node)
    stored, defs, candidates = {}, [], []      # (one walk: the checks below need every binding counted first)
    for n in walk(unit.node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stored[n.id] = stored.get(n.id, 0) + 1
        elif isinstance(n, gast.FunctionDef) and n is not unit.node:
            stored[n.name] = stored.get(n.name, 0) + 1
            defs.append(n)
        elif isinstance(n, (gast.Dict, gast.DictComp, gast.Call)):
            candidates.append(n)
    fl.nested_defs = {n.name: returned_keys(n) for n in defs if stored.get(n.name) == 1}
    fl.own_records = {id(n): returned_records(n, unit.namespace) for n in defs + [unit.node]}   # (before any change)
    fl.nested_records = {n.name: fl.own_records[id(n)] for n in defs if stored.get(n.name) == 1}
    for n in candidates:
        if isinstance(n, (gast.Dict, gast.DictComp)) or fl.namedtuple_items(n) is not None:
            return True
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and (
                n.func.id == "dict" and unit.namespace.get("dict", dict) is dict and n.func.id not in fl.locals
                or fl.returned_dict(n.func) is not None) or fl.record_call(n):
            return True
    return False


def _spellings(name, struct, spelled, path, root=None):
    """(leaf name, the user's spelling) of each leaf of the structure `name`: `q_W`, `q["W"]`; `s_u`, `s.u`."""
    root = struct if root is None else root
    if struct is None:
        yield item_variable(name, root, path), spelled
        return
    for k, s in enumerate(struct):
        at = f'["{struct.names[k]}"]' if isinstance(struct, Keyed) else \
            f".{struct.fields[k]}" if isinstance(struct, Fields) else f"[{k}]"
        yield from _spellings(name, s, spelled + at, path + (k,), root)


_ = store
