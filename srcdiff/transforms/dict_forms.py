"""Dict arguments' forms beyond reads at a key, for the "flatten" pass (transforms/flatten.py).

flatten gives each leaf of a structured argument a parameter of its own; a dict argument (keyed by strings) is such
a structure, `Keyed`: its items' structures and its keys. Reading it at a key is flatten's business, as reading a
tuple at an index is; what only a dict has lives here, so that flatten stays about structures and one can read
either module whole:

- its keys known when srcdiff compiles: literals, names bound once to a string or a tuple of strings
  (`constant_strings`: `k = "W"`, `keys = ("W", "b")`), and tests of them decided then (`static_value`,
  `fold_static_tests`: a test of a key by a str method or `==`, in a loop over `params.items()` unrolled);
- calls on it (`DictForms.dict_call`): `.get`, its views (`.items()`, `.values()`, `.keys()`) read as values,
  `"W" in params`, and the calls declined (`.update()` and kin, `print` of a dict);
- dicts made from dict arguments (`DictForms.dict_entries`): copies (`dict(p)`, `{**p}`, `p.copy()`,
  `copy.copy(p)`, `copy.deepcopy(p)`: its arrays copied, rt.copy), displays and dict comprehensions over
  `p.items()`; bound to a name, a structure of its own whose leaves are bound to the items (`make_dict`, `new_key`:
  a copy's `q["W"] = ...` rebinds q's leaf, never the argument's), passed whole to a function of the user's, the
  tuple literal of its items marked with its keys (`dict_literal`, annotations.DICT_KEYS).

`DictForms` is a mixin of flatten's flattener: its methods read the flattener's state (`structs`, `made`,
`strings`, `scope`) and call its `ref`, `struct_at`, `items`, `expr` and `unrolled`; this module imports nothing of
flatten's."""
from __future__ import annotations

import copy
import dis
import inspect
import weakref
from dataclasses import dataclass

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import NOT_LITERAL, Transformer, assign, call, const, copy_loc, literal_value, load, map_blocks, walk


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


def has_keyed(struct) -> bool:
    """Whether the structure holds a dict's (Keyed) anywhere."""
    return isinstance(struct, list) and (isinstance(struct, Keyed) or any(has_keyed(st) for st in struct))


_DICT_WRITES = ("update", "pop", "popitem", "setdefault", "clear")


class DictForms:
    """The dict forms of flatten's flattener (a mixin: see the module's docstring)."""

    def dict_call(self, n, visit):
        """The call `n` on a dict argument written out (visited by `visit`, the flattener's expression transformer):
        `params.get("W", d)`, `list(params.values())`, `params.items()` read as a value; a call declined (a method
        that changes it, a method of a dict built in the expression, `print` of a dict); else None."""
        if (isinstance(n.func, gast.Attribute) and n.func.attr == "get" and len(n.args) in (1, 2) and not n.keywords
                and self.key_of(n.args[0]) is not None and self.dict_get_dict(n.func.value) is not None):
            # params.get("opt", {}).get("s", 1.0): the item's .get, or the default display's item (or default)
            inner = self.dict_get_dict(n.func.value)
            if not isinstance(inner, gast.Dict) or any(not isinstance(k, gast.Constant) or not isinstance(k.value, str)
                                                       for k in inner.keys):
                n.func.value = inner
            else:
                keys, key = [k.value for k in inner.keys], self.key_of(n.args[0])
                return visit(inner.values[keys.index(key)] if key in keys else
                             n.args[1] if len(n.args) == 2 else copy_loc(const(None), n))
        if (isinstance(n.func, gast.Attribute) and n.func.attr == "get" and len(n.args) in (1, 2)
                and not n.keywords and self.key_of(n.args[0]) is not None
                and isinstance(self.keyed(n.func.value), Keyed)):
            # params.get("W") of a dict argument: params["W"]; of a key it lacks, the default (None)
            if self.key_of(n.args[0]) in self.keyed(n.func.value).names:
                return visit(copy_loc(gast.Subscript(value=n.func.value, slice=n.args[0], ctx=gast.Load()), n))
            return visit(n.args[1]) if len(n.args) == 2 else copy_loc(const(None), n)
        if (isinstance(n.func, gast.Name) and n.func.id in ("list", "tuple") and len(n.args) == 1
                and not n.keywords and self.dict_view(n.args[0]) is not None
                and self.unit.namespace.get(n.func.id, None) in (list, tuple, None)):
            # list(params.values()): the list (tuple) of its items
            items = visit(n.args[0])
            return items if n.func.id == "list" else copy_loc(gast.Tuple(elts=items.elts, ctx=gast.Load()), n)
        view = self.dict_view(n)
        if view is not None:
            # params.values() read as a value (`sum(params.values())`): the list of its items (keys, pairs)
            (param, path), st, what = view
            vals = [self.items(param, path + (k,), n) for k in range(len(st))]
            keys = [copy_loc(const(name), n) for name in st.names]
            elts = vals if what == "values" else keys if what == "keys" else \
                [copy_loc(gast.Tuple(elts=[a, b], ctx=gast.Load()), n) for a, b in zip(keys, vals)]
            return copy_loc(gast.List(elts=elts, ctx=gast.Load()), n)
        if (isinstance(n.func, gast.Attribute) and n.func.attr in _DICT_WRITES
                and isinstance(self.keyed(n.func.value), Keyed)):
            fail(n, self.unit, f"method .{n.func.attr}() of a dict argument (srcdiff makes each item of a "
                               "dict its own variable, from the keys known when it compiles)",
                 "make a changed copy instead, q = {**params, \"W\": W2}, or assign an item of a copy, "
                 "q = dict(params); q[\"W\"] = W2")
        if isinstance(n.func, gast.Attribute) and self.builds_dict(n.func.value):
            fail(n, self.unit, f"method .{n.func.attr}() of a dict built in the expression (srcdiff makes "
                               "each item of a dict its own variable, for a dict bound to a name)",
                 f"bind the dict to a name first (q = ...), then call q.{n.func.attr}()")
        if isinstance(n.func, gast.Name) and self.unit.namespace.get(n.func.id) is print:
            for a in n.args:
                if self.dict_view(a) is not None or self.builds_dict(a) or isinstance(self.keyed(a), Keyed):
                    fail(a, self.unit, "print of a dict, its keys, values or items (srcdiff makes each item "
                                       "of a dict its own variable, from the keys known when it compiles)",
                         "print its items: print(params[\"W\"])")
        return None

    def dict_get_dict(self, node):
        """`params.get("opt", {...})` of a dict (an argument, or one made here) with a dict for its default, bound to a
        name: the item `params["opt"]` where the dict has the key (a dict argument's dict item), else the default, a
        dict made here; None for any other value. Read in the expression, as other `.get`s are, the default was a
        display no later `.get` or key could read: `opt.get("s", 1.0)` was declined (h23c)."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "get"
                and len(node.args) == 2 and not node.keywords and self.key_of(node.args[0]) is not None
                and isinstance(self.keyed(node.func.value), Keyed) and self.builds_dict(node.args[1])):
            return None
        if self.key_of(node.args[0]) in self.keyed(node.func.value).names:
            return copy_loc(gast.Subscript(value=node.func.value, slice=node.args[0], ctx=gast.Load()), node)
        return node.args[1]

    def returned_dict(self, func, call=None):
        """The keys of the dicts the function `func` names returns (a function of the user's, module-level or a def
        nested in this one, each of whose returns gives a dict display of the same string keys, or a copy of a dict
        parameter: CopiedKeys, the keys of the dict `call` passes it, or the marker itself where no call is given),
        else None. One that returns dicts otherwise (of other keys, or a dict on some paths only) is declined at that
        return."""
        got = self.returned_keys_of(func)
        if isinstance(got, CopiedKeys) and call is not None:
            return self.copied_keys(got, func.id, call)
        return got

    def copied_keys(self, copied: CopiedKeys, f: str, call):
        """The keys of the copy of its dict parameter that the function `f` returns, for the dict `call` passes."""
        passed = [k.value for k in call.keywords if k.arg == copied.param]
        if copied.position is not None and copied.position < len(call.args):
            passed = [call.args[copied.position]]
        arg = passed[0] if passed and not isinstance(passed[0], gast.Starred) else None
        if arg is not None and self.builds_dict(arg):    # (a display, `dict(p, W=W2)`: the keys it builds)
            entries = self.dict_entries(arg)
            if entries is not None:
                return copied.resolved(tuple(entries))
        st = self.keyed(arg) if arg is not None else None
        if not isinstance(st, Keyed) and copied.any_type:
            return None     # (`return x.copy()` of an array passed: no dict; was declined naming keys, h28b)
        if not isinstance(st, Keyed) and isinstance(arg, gast.Name) and arg.id in self.rebound:
            # (`p = rescale(p, c)` of a dict argument p, also in a loop: was declined saying srcdiff knows a dict
            # argument's keys, which p is)
            fail(call, self.unit, f"{f} returns a copy of its parameter '{copied.param}', passed here '{arg.id}', a "
                                  f"name bound again in this function{' (the dict argument itself)' if arg.id in self.params else ''}: "
                                  "srcdiff makes each item of a dict its own variable, from the keys known when it "
                                  "compiles, of a dict argument or a dict made here bound to a name of its own",
                 f"bind the first call's result to a new name, {arg.id}2 = {f}({arg.id}, ...) (of the dict itself, "
                 f"not of a second name of it), and read {arg.id}2 from there; {arg.id}2 may be bound again, "
                 f"{arg.id}2 = {f}({arg.id}2, ...), in a loop too")
        if not isinstance(st, Keyed):
            fail(call, self.unit, f"{f} returns a copy of its parameter '{copied.param}', passed here something srcdiff "
                                  "does not know the keys of when it compiles (a dict argument's, or a dict made "
                                  "here, it knows)",
                 f"pass {f} a dict argument or a dict made here, or have {f} return a dict display of string keys")
        return copied.resolved(st.names)

    def returned_keys_of(self, func):
        """returned_keys of the function `func` names (a function of the user's, or a def nested in this one), else
        None; declined at the return that gives another dict."""
        if not isinstance(func, gast.Name) or self.unit is None:
            return None
        if func.id in self.nested_defs:
            got, unit = self.nested_defs[func.id], self.unit
        else:
            from .resolve import is_user_function
            obj = self.unit.namespace.get(func.id)
            if func.id in self.locals or not inspect.isfunction(obj) or not is_user_function(obj):
                return None     # (a srcdiff transform, `g = srcdiff.grad(f)`, is no function of the user's here)
            got, unit = module_function_keys(obj)
        if got is None or isinstance(got, (tuple, CopiedKeys)):
            return got
        fail(got, unit, f"a function of yours ({func.id}) that returns a dict here but not a dict display of the "
                        "same string keys on every path (srcdiff knows a dict's keys when it compiles: it reads the "
                        f"dict {func.id} returns where it is called)",
             f"return a dict display of the same keys in the same order on every path (return {{\"W\": W, \"b\": "
             f"b}}), or return a tuple of the values and unpack it where {func.id} is called (W, b = {func.id}(...))")

    def bind_returned(self, s, keys):
        """`p = params(W, b)` of a function returning `{"W": ..., "b": ...}` (its returns are the tuples of the values
        there: `return_dict`): `p_W, p_b = params(W, b)`, p a dict made here of those keys."""
        name = s.targets[0].id
        self.new_dict_name(s, name)
        self.same_keys(s, name, Keyed([None] * len(keys), keys))
        self.dict_calls.add(id(s.value))
        value = self.expr(s.value)
        self.structs[name] = Keyed([None] * len(keys), keys)
        self.made[name] = self.scope
        target = gast.Tuple(elts=[copy_loc(gast.Name(id=leaf, ctx=gast.Store(), annotation=None, type_comment=None), s)
                                  for leaf in self.leaf_names(name)], ctx=gast.Store())
        return [copy_loc(gast.Assign(targets=[target], value=value, type_comment=None), s)]

    def return_dict(self, s):
        """`return {"W": W, "b": b}` in a function of the user's: the tuple of its values (its callers read them at
        the keys, `bind_returned`; the function differentiated is declined returning a dict:
        module_builder.build_module)."""
        if any(src[0] == "dict" for src in self.dict_entries(s.value).values()):
            self.nested_return_declined(s)
        return [copy_loc(gast.Return(value=self.expr(self.dict_literal(s.value))), s)]

    def nested_return_declined(self, s):
        fail(s, self.unit, "a dict your function returns holding a dict (`return {\"a\": {\"b\": x}}`): srcdiff "
                           "reads the dict a function of yours returns at one level of keys",
             "return a dict of one level (`{\"a_b\": x}`), or make the nested dict where it is read")

    def return_named_dict(self, s):
        """`return q` of a dict the function made in its own block (`q = {"a": x * 2.0, "b": y}`: named_dicts), in a
        function of the user's: the tuple of q's items, as `return {"a": ..., "b": ...}` gives (`return_dict`).
        Declined where q has other keys here than its callers read (a key added after an earlier `return q`)."""
        name = s.value.id
        keys = named_dicts(self.returning())[name]
        if isinstance(keys, CopiedKeys):    # (q = dict(p): of the keys of the dict this function was made for)
            keys = keys.resolved(self.structs[keys.param].names) if isinstance(self.structs.get(keys.param), Keyed) \
                else self.structs[name].names
        if self.structs[name].names != keys:
            fail(s, self.unit, f"the dict '{name}' returned here with the keys {', '.join(map(repr, self.structs[name].names))}"
                               f" and with {', '.join(map(repr, keys))} at another return (srcdiff reads the dict a "
                               "function of yours returns at keys it knows when it compiles)",
                 f"give '{name}' the same keys at each return: add the keys before the first return")
        if any(isinstance(item, Keyed) for item in self.structs[name]):
            self.nested_return_declined(s)
        return [copy_loc(gast.Return(value=self.items(name, (), s)), s)]

    def returns_named_dict(self, s) -> bool:
        """Whether `s` is `return q` of a dict the function made in its own block (named_dicts)."""
        return (isinstance(s, gast.Return) and isinstance(s.value, gast.Name) and s.value.id in self.made
                and isinstance(self.structs.get(s.value.id), Keyed) and s.value.id in named_dicts(self.returning()))

    def returning(self):
        """The function whose statements are being flattened: the innermost def nested in this one (`functions`),
        else this one."""
        return self.functions[-1] if self.functions else self.unit.node

    def returned_dict_read(self, n):
        """`params(W, b)["W"]` of a function returning a dict display: the call's tuple at the key's position; else
        None."""
        if not isinstance(n.value, gast.Call) or isinstance(n.slice, gast.Slice):
            return None
        keys = self.returned_dict(n.value.func, n.value)
        if keys is None:
            return None
        key = self.key_of(n.slice)
        if key not in keys:
            fail(n, self.unit, f"no key {key!r} in the dict that {n.value.func.id} returns (its keys: "
                               f"{', '.join(map(repr, keys))})" if key is not None else
                 f"the dict that {n.value.func.id} returns read at a key srcdiff cannot know when it compiles",
                 "read it at one of its keys, a string literal")
        self.dict_calls.add(id(n.value))
        return copy_loc(gast.Subscript(value=n.value, slice=copy_loc(const(keys.index(key)), n), ctx=n.ctx), n)

    def dict_call_of_yours(self, n) -> bool:
        """Whether `n` calls a function of yours that returns a dict (passed_records binds it to a name first where
        it is passed straight to another call, `loss(params(W, b), x)`)."""
        return isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and self.returned_keys_of(n.func) is not None

    def unread_dict_call(self, n):
        """A call of a function returning a dict, where its dict is used other than bound to a name or read at a
        key: declined."""
        if id(n) in self.dict_calls:
            return
        keys = self.returned_dict(n.func, n)
        if keys is not None:
            f = n.func.id
            fail(n, self.unit, f"the dict your function {f} returns, used here other than bound to a name or read at "
                               f"a key, or passed to a call after another call of yours in the statement (srcdiff "
                               f"makes each item of a dict its own variable, and binds such a call to a name first "
                               f"where nothing runs before it: passed_records.py)",
                 f"bind it to a name first (p = {f}(...)) and read p[\"{keys[0]}\"] or pass p, or read "
                 f"{f}(...)[\"{keys[0]}\"]")

    def key_test(self, n):
        """`"b" in params` (or `in params.keys()`) of a dict argument: whether it has the key, a constant; else None."""
        if len(n.ops) == 1 and isinstance(n.ops[0], (gast.In, gast.NotIn)) and self.key_of(n.left) is not None:
            view = self.dict_view(n.comparators[0])    # (or in params.keys())
            st = view[1] if view is not None and view[2] == "keys" else self.keyed(n.comparators[0])
            if isinstance(st, Keyed):
                return copy_loc(const((self.key_of(n.left) in st.names) == isinstance(n.ops[0], gast.In)), n)
        return None

    def dict_item_written(self, param, path, node):
        """`p["w"] = ...` (`+=`, `del`) of the differentiated function's own dict argument: in Python the caller's dict
        changes too; srcdiff makes each item of a dict argument a parameter of its own, and value_and_grad would
        leave the caller's dict as it was, silently unlike f(p): declined, with the copy to write instead."""
        spelled = param + "".join(self.spelled_keys(param, path))
        key = self.struct_at(param, path[:-1]).names[path[-1]]
        copy = (f'write into a copy, q = dict({param}); q["{key}"] = ..., and read q after (the caller\'s dict stays as '
                "it was), or " if len(path) == 1 else "")
        what = f"the dict argument '{param}'" if len(path) == 1 else f"a dict in the argument '{param}'"
        fail(node, self.unit, f"`{spelled}` assigned, an item of {what}: in Python the caller's "
                              "dict changes too, which srcdiff, making each item of a dict argument a variable of its "
                              "own, does not do",
             f"{copy}keep the new value in a variable of its own")

    def spelled_keys(self, param, path):
        """The subscripts that read the item at `path` of the structure `param`, as the user writes them."""
        for j, k in enumerate(path):
            at = self.struct_at(param, path[:j])
            yield f'["{at.names[k]}"]' if isinstance(at, Keyed) else f"[{k}]"

    def no_dict_to_library(self, struct, node):
        """A dict (or a structure holding one) passed whole to a function not of the user's (`np.stack(p)`,
        `sorted(p)` but as a loop's iterable, `max(p)`): Python passes the dict, which iterates over its keys, where srcdiff's literal of its
        items would be its values: declined."""
        if has_keyed(struct):
            fail(node, self.unit, "a dict passed whole to a function that is not one of yours (Python passes the "
                                  "dict, whose iteration gives its keys; srcdiff reads a dict argument's items at "
                                  "keys known when it compiles)",
                 "pass what the function should take: its values, list(p.values()), or its items, p[\"W\"] (to go "
                 "over its keys, loop over the dict itself, sorted(p) or p.items()); or call it inside a function "
                 "of yours that takes the dict")

    def no_dict_to_transform(self, call_node):
        """A dict argument passed whole to a srcdiff transform made in place (`srcdiff.grad(mlp)(p, x)`): the
        transform's generated function takes one value per parameter, as for a tuple passed whole
        (inline._decline_tuples_to_transform); said so, with that case's advice, not as a library call's."""
        for k, a in enumerate(call_node.args):
            r = self.ref(a)
            if r is None or not has_keyed(self.struct_at(*r)):
                continue
            struct, name = self.struct_at(*r), gast.unparse(a).strip()
            items = ", ".join(f'{name}["{key}"]' for key in struct.names) if isinstance(struct, Keyed) else "its items"
            fail(call_node, self.unit, f"a dict passed whole to {gast.unparse(call_node.func)} (its argument {k + 1}, "
                                       f"'{name}'), a srcdiff transform called inside the function you "
                                       "differentiate",
                 "pass its items as separate arguments: differentiate a function that takes them one by one "
                 f"({items} as parameters of their own)")

    def over_keys(self, it) -> bool:
        """Whether `it` is a tuple of strings (or a name bound once to one) in a function taking a dict."""
        return self.key_tuple(it) is not None and any(has_keyed(st) for st in self.structs.values())

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
        if isinstance(node, gast.JoinedStr):    # f"W{i}" with i known (a range loop over layers' keys, unrolled)
            parts = []
            for v in node.values:
                if isinstance(v, gast.Constant) and isinstance(v.value, str):
                    parts.append(v.value)
                elif (isinstance(v, gast.FormattedValue) and v.format_spec is None and v.conversion in (-1, None)
                      and type(_int_value(v.value)) in (int, str)):
                    parts.append(str(_int_value(v.value)))
                else:
                    return None
            return "".join(parts)
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

    def copies_nested_parameter(self, node) -> bool:
        """Whether `node` copies a dict a parameter of a def nested in this function holds (`q = dict(p)`, `{**p}`,
        `dict(p, W=W2)`, `copy.copy(p)` in `def doubled(p)`), unknown here: the def is made for the dict a call passes
        it once lifted (closures.py), and flattened then, as a function of yours at module level is. (It was declined
        here as "a dict built from something other than a dict argument", where `p.copy()` worked, h27c.)"""
        params = {a.id for fn in self.functions for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
        if isinstance(node, gast.Dict):
            sources = [v for k, v in zip(node.keys, node.values) if k is None]
        elif isinstance(node, gast.Call):
            sources = list(node.args) + [k.value for k in node.keywords if k.arg is None]
        else:
            return False
        return any(isinstance(x, gast.Name) and x.id in params and self.ref(x) is None for x in sources)

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
            if isinstance(value, gast.Dict) or display_keys(value) is not None:    # {"a": {"b": x}}: a dict in it
                out[key] = ("dict", self.dict_entries(value))
            else:
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
        """The structure of an item of dict_entries: a dict's in it (Keyed), a structured value's, or None."""
        if src[0] == "dict":
            return Keyed([self.entry_struct(sub) for sub in src[1].values()], src[1])
        return self.struct_at(src[1], src[2]) if src[0] in ("ref", "copy") else None

    def entries_flattened(self, entries):
        """dict_entries' items with each value given (("expr", e)) flattened (`self.expr`), in the dicts in it too."""
        return {key: ("expr", self.expr(src[1])) if src[0] == "expr" else
                ("dict", self.entries_flattened(src[1])) if src[0] == "dict" else src for key, src in entries.items()}

    def bind_entry(self, name, k, src, like):
        """Statements binding the leaves of item `k` of the dict `name` made here to the structured value at `src`
        (dict_entries' ("ref", param, path)), leaf by leaf; a copy of each leaf for a deep copy's ("copy", ...):
        an array its own, a number itself (rt.copy)."""
        return self.bind_item_to(name, (k,), src, like)

    def bind_item_to(self, name, path, src, like):
        """bind_entry of the item at `path` of the structure `name` (a dict of a tuple of dicts made here: `(k, j)`).
        A structure (not a leaf) taken by reference is one object in Python, the item and `src` both: shared (a
        write into it through either name changes what the other reads, which srcdiff's separate variables would
        not: `shared_writes_declined`)."""
        if src[0] == "expr":
            return [copy_loc(assign(self.leaf_name(name, path), src[1], like.lineno), like)]
        if src[0] == "dict":    # (a dict display in the dict: its items, by key, the variables of the dict's)
            return [b for j, sub in enumerate(src[1].values()) for b in self.bind_item_to(name, path + (j,), sub, like)]
        if src[0] == "ref" and self.struct_at(src[1], src[2]) is not None:
            self.shared |= {(name, path), (src[1], src[2])}
        return [copy_loc(assign(leaf, _copied(load(at)) if src[0] == "copy" else load(at), like.lineno), like)
                for leaf, at in zip(self.leaf_names(name, path), self.leaf_names(src[1], src[2]))]

    def shared_writes_declined(self):
        """Decline a write into an item of a structure two names share (`bind_item_to`), wherever in the function it
        is (a loop may run it after the sharing): `d = {"a": q}` then `q["b"] = v` or `d["a"]["b"] = v`; `q =
        dict(p)` of a dict p holding dicts, then `q["a"]["b"] = v` (a shallow copy: p["a"] is q["a"]); `d = {"a":
        p}` of a dict argument p, then `d["a"]["b"] = v`. Python changes both (the caller's dict too); srcdiff gave
        the names separate variables, and the other name read the old item (value 3.0 for 9.0, h25c)."""
        for name, path, node in self.item_writes:
            shared = next((path[:j] for j in range(len(path)) if (name, path[:j]) in self.shared), None)
            if shared is None:
                continue
            spelled = name + "".join(self.spelled_keys(name, path))
            whole = name + "".join(self.spelled_keys(name, shared))
            fail(node, self.unit, f"`{spelled}` assigned, an item of `{whole}`, a dict or tuple that another name "
                                  "holds too (one object in Python: a dict put into another, `d = {\"a\": q}`, or a "
                                  "copy's item, `dict(p)` being a shallow copy): Python changes what both names read, "
                                  "which srcdiff, making each item a variable of its own, does not do",
                 "write into a copy made with copy.deepcopy (its items its own), or put the dict into the other after "
                 "the last write into it")

    def make_dict(self, s):
        """`q = {**params, "W": W2}` (dict_entries): q a structure of its own, whose items are parameters' or the
        values given (a copy: writing q["W"] leaves params as it is, as in Python)."""
        name = s.targets[0].id
        self.new_dict_name(s, name)
        values = self.entries_flattened(self.dict_entries(s.value))
        self.same_keys(s, name, Keyed([self.entry_struct(src) for src in values.values()], values))
        self.structs[name] = Keyed([self.entry_struct(src) for src in values.values()], values)
        self.made[name] = self.scope
        out = [b for k, src in enumerate(values.values()) for b in self.bind_entry(name, k, src, s)]
        if name in self.rebound_dicts and len(out) > 1:
            # (bound again, `p = {"W": p["b"], "b": p["W"]}`: the items read p's old ones, all before any is bound)
            return [copy_loc(gast.Assign(targets=[gast.Tuple(elts=[t.targets[0] for t in out], ctx=gast.Store())],
                                         value=gast.Tuple(elts=[t.value for t in out], ctx=gast.Load()),
                                         type_comment=None), s)]
        return out

    def make_dicts(self, s):
        """`layers = ({"W": W1, "b": b1}, {"W": W2, "b": b2})` (a tuple or list literal of dicts made here): layers a
        structure of its own, a tuple of dicts, whose leaves are bound to the items (`for layer in layers:
        layer["W"]` unrolled, as over a tuple argument of dicts)."""
        name = s.targets[0].id
        self.new_dict_name(s, name)
        structs, items = [], []
        for k, e in enumerate(s.value.elts):
            values = self.entries_flattened(self.dict_entries(e))
            structs.append(Keyed([self.entry_struct(src) for src in values.values()], values))
            items += [((k, j), src) for j, src in enumerate(values.values())]
        self.structs[name] = structs
        self.made[name] = self.scope
        return [b for path, src in items for b in self.bind_item_to(name, path, src, s)]

    def dicts_literal(self, s) -> bool:
        """Whether `s` binds a name, read only by subscripts, loops and calls (no `.append`: a list that grows),
        to a tuple or list literal of dicts made here (`make_dicts`)."""
        if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, (gast.Tuple, gast.List)) and s.value.elts
                and all(self.builds_dict(e) for e in s.value.elts)):
            return False
        name = s.targets[0].id
        return not any(isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == name
                       for n in walk(self.unit.node))

    def same_keys(self, s, name, struct):
        """Decline a dict made by `s` bound to `name`, a name bound to dicts made here wherever it is bound
        (`rebound_dicts`: in the branches of an if, `p = params(a)` / `p = params(b)`, or in a loop), where an earlier
        binding gave other keys or items' structures than this one's, `struct`. Of the same keys, its items are
        variables bound anew at each binding, which SSA merges as it merges any variable's."""
        before = self.structs.get(name)
        if name in self.rebound_dicts and before is not None and before != struct:
            fail(s, self.unit, f"a dict bound to '{name}' here with other keys or items than where it is bound before "
                               f"(keys {', '.join(map(repr, before.names))} there, "
                               f"{', '.join(map(repr, struct.names)) or 'none'} here): srcdiff makes each item of a "
                               f"dict its own variable, from the keys known when it compiles",
                 f"give '{name}' the same keys, with values of the same structure, at each of its bindings, or bind "
                 f"the dicts to names of their own")

    def new_dict_name(self, s, name):
        """Decline a dict made by `s` bound to `name` where that name is bound elsewhere too, but to dicts made here
        (`rebound_dicts`, whose keys same_keys checks)."""
        if name in self.rebound_dicts:
            return
        if name in self.rebound or name in self.structs or name in self.alias:
            if name in self.params:
                fail(s, self.unit, f"a dict made here bound to '{name}', the dict argument itself (srcdiff makes "
                                   "each item of a dict its own variable, from the keys known when it compiles)",
                     f"bind the copy to a new name ({name}2 = dict({name})) and read {name}2 from there")
            fail(s, self.unit, f"a dict made here bound to '{name}', a name bound elsewhere too to other than a dict "
                               "made here (srcdiff makes each item of a dict its own variable, from the keys known "
                               "when it compiles)",
                 f"bind the dict to a name of its own, or bind '{name}' to a dict of the same keys at each of its "
                 f"bindings ({name} = {{...}}, or a call of your function returning one, in each branch)")

    def new_key(self, s):
        """`q["c"] = v` of a dict made here, at a key it lacks: the key added to q's structure (in the block q is
        made in: its keys are known when srcdiff compiles)."""
        name, key = s.targets[0].value.id, self.key_of(s.targets[0].slice)
        if name in self.rebound_dicts:
            fail(s, self.unit, f"a new key {key!r} added to the dict '{name}', which is bound in more than one place "
                               "(srcdiff knows a dict's keys when it compiles: each binding of it must give the same "
                               "keys)", f"give the key {key!r} in each binding of '{name}', or copy the dict to a "
                                        f"new name first ({name}2 = dict({name})) and add the key to the copy")
        if self.made[name] != self.scope:
            fail(s, self.unit, f"a new key {key!r} added to the dict '{name}' in a branch or loop it was not made in "
                               "(srcdiff knows a dict's keys when it compiles)",
                 f"give '{name}' the key where it is made ({{**params, {key!r}: 0.0}}), or add it in that block")
        r = self.ref(s.value)
        if isinstance(s.value, gast.Dict) or display_keys(s.value) is not None:     # q["c"] = {"d": x}
            src = ("dict", self.entries_flattened(self.dict_entries(s.value)))
        else:
            src = ("ref",) + r if r is not None and self.struct_at(*r) is not None else ("expr", self.expr(s.value))
        old = self.structs[name]
        self.structs[name] = Keyed(list(old) + [self.entry_struct(src)], old.names + (key,))
        return self.bind_entry(name, len(old), src, s)

    def dict_literal(self, node):
        """A dict built from dict arguments passed whole (`loss({**params, "W": W2}, x)`): the tuple literal of its
        items marked with its keys, as a dict argument passed whole is (`items`)."""
        return self.entries_literal(self.dict_entries(node), node)

    def entries_literal(self, entries, node):
        """dict_literal of dict_entries' items `entries` (a dict in it: a tuple literal of its own, marked with its
        keys)."""
        out = copy_loc(gast.Tuple(elts=[self.items(src[1], src[2], node) if src[0] == "ref" else
                                        _leaves_copied(self.items(src[1], src[2], node)) if src[0] == "copy" else
                                        self.entries_literal(src[1], node) if src[0] == "dict" else
                                        src[1] for src in entries.values()], ctx=gast.Load()), node)
        anno.set(out, anno.DICT_KEYS, tuple(entries))
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




def _int_value(e):
    """The value of an expression of integer (or string) literals and + - * // % (`i - 1` with i substituted), else
    NOT_LITERAL."""
    if isinstance(e, gast.Constant):
        return e.value
    ops = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b, gast.Mult: lambda a, b: a * b,
           gast.FloorDiv: lambda a, b: a // b if b else NOT_LITERAL, gast.Mod: lambda a, b: a % b if b else NOT_LITERAL}
    if isinstance(e, gast.BinOp) and type(e.op) in ops:
        a, b = _int_value(e.left), _int_value(e.right)
        return ops[type(e.op)](a, b) if type(a) is int and type(b) is int else NOT_LITERAL
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub) and type(_int_value(e.operand)) is int:
        return -_int_value(e.operand)
    return NOT_LITERAL


def returns_of(fn_node):
    """The `return` statements of the function `fn_node` (not of the functions nested in it)."""
    return _returns(fn_node.body)


def _returns(stmts):
    """The `return` statements of a function's body `stmts` (not of the functions nested in it)."""
    for st in stmts:
        if isinstance(st, gast.Return):
            yield st
        elif not isinstance(st, (gast.FunctionDef, gast.ClassDef)):
            for f in ("body", "orelse", "finalbody"):
                b = getattr(st, f, None)
                if isinstance(b, list):
                    yield from _returns(b)


def bound_again_to_made(fn, makes) -> frozenset:
    """The names bound more than once, each time to a value `makes(value)` says is a structure made here (a dict: a
    display, a dict comprehension, `dict(...)`, a call of a function of yours returning a dict display; a namedtuple:
    its class's call, `p._replace(...)`), never a parameter: `if c: p = params(a)` / `else: p = params(b)`, a loop's
    `s = s._replace(x=...)`. Their items are variables bound at each binding (same_keys, RecordForms.bind_record
    check that the structures agree); such a dict was declined as a name bound elsewhere too, with advice about
    dict arguments, such a namedtuple as a call of a class (h23c)."""
    stores: dict = {}
    made: dict = {}
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)
              and makes(n.value)):
            made[n.targets[0].id] = made.get(n.targets[0].id, 0) + 1
    return frozenset(k for k, c in made.items() if c > 1 and stores.get(k) == c and k not in params)


def display_keys(node):
    """The keys of a dict display whose keys are all string literals (`{"W": W, "b": b}`, `dict(W=W, b=b)`), else
    None."""
    if isinstance(node, gast.Dict) and node.keys and all(
            isinstance(k, gast.Constant) and isinstance(k.value, str) for k in node.keys):
        return tuple(k.value for k in node.keys)
    if _dict_call(node) and not node.args and node.keywords and all(k.arg is not None for k in node.keywords):
        return tuple(k.arg for k in node.keywords)      # dict(W=W, b=b)
    return None


def _dict_call(node) -> bool:
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "dict"


def decline_returned_dict_sequences(fn_node, unit) -> None:
    """Decline a `return` of `fn_node` (or of a def nested in it) whose value is a list or tuple of dicts, `return
    [dict(w=a), dict(w=b)]`, `return {"w": a}, {"w": b}`, `return [{"w": w} for w in ws]`: flatten reads the dicts a
    function of yours returns where each return is one dict display (its items the variables the caller binds), and
    a list of dicts where it is made and bound to a name; this was declined as "call to builtins.dict: classes,
    instances and bound methods are not supported" or "dict displays used as values", at the helper's line but
    naming neither the list nor what works (h29c)."""
    def is_dict(e):
        return isinstance(e, (gast.Dict, gast.DictComp)) or (
            isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id == "dict"
            and unit.namespace.get("dict", dict) is dict)
    called = {n.func.id for n in walk(fn_node) if isinstance(n, gast.Call) and isinstance(n.func, gast.Name)}
    for fn in walk(fn_node):
        if not isinstance(fn, gast.FunctionDef) or fn is not fn_node and fn.name not in called:
            continue    # (a nested def never called is never compiled)
        for r in _returns(fn.body):
            v = r.value
            items = list(v.elts) if isinstance(v, (gast.List, gast.Tuple)) else \
                [v.elt] if isinstance(v, (gast.ListComp, gast.GeneratorExp)) else []
            if any(is_dict(e) for e in items):
                kind = "tuple" if isinstance(v, gast.Tuple) else "list"
                fail(r, unit, f"your function {fn.name} returns a {kind} of dicts (srcdiff makes each item of a dict "
                              "its own variable: it reads the dicts a function of yours returns where each `return` "
                              "is one dict display, and a list of dicts where it is made and bound to a name)",
                     "make the list where you use it (`layers = [dict(w=a), dict(w=b)]`, then `for layer in "
                     "layers:`), or return one dict of the arrays (`return {\"w0\": a, \"w1\": b}`)")


def returned_keys(fn_node):
    """How the function `fn_node` returns dicts: None where no `return` of it gives a dict display; the keys (a tuple
    of strings) where every return gives a dict display of those string-literal keys, in that order; else the first
    return that breaks that (a return of anything else, or of other keys)."""
    rets = list(_returns(fn_node.body))
    named = named_dicts(fn_node)
    dicts = [r for r in rets if isinstance(r.value, (gast.Dict, gast.DictComp))
             or return_keys(r, named) is not None]
    # (`return dict(params, W=W2)`, a copy of a dict argument, is none: resolve declines reading it, saying what works)
    if not dicts:
        return None
    keys = return_keys(dicts[0], named)
    if keys is None:
        return dicts[0]
    return next((r for r in rets if return_keys(r, named) != keys), keys)


def return_keys(ret, named: dict):
    """The keys of the dict the `return` statement `ret` gives: a dict display of string-literal keys, or a name of
    `named` (named_dicts: `q = {"a": x, "b": y}` ... `return q`); else None."""
    if isinstance(ret.value, gast.Name) and ret.value.id in named:
        return named[ret.value.id]
    return display_keys(ret.value)


@dataclass(frozen=True)
class CopiedKeys:
    """The keys of a dict a function makes as a copy of its dict parameter `param` (`q = dict(p)`, `p.copy()`,
    `{**p}`, `copy.copy(p)`, its `position`-th, None if keyword-only), with the keys `added` after (`q["c"] = v`,
    `dict(p, c=v)`): known where it is called, from the dict passed (DictForms.copied_keys)."""
    param: str
    position: int | None
    added: tuple = ()
    any_type: bool = False   # (`p.copy()`, `copy.copy(p)`, `copy.deepcopy(p)` copy an array or a namedtuple too)

    def resolved(self, keys: tuple) -> tuple:
        """The copy's keys where the parameter's dict has `keys`."""
        return tuple(keys) + tuple(k for k in self.added if k not in keys)


def _copied_parameter(value, params: list, stores: dict):
    """(parameter, keys added, whether the form copies any type) where `value` copies one of the function's parameters `params`, bound nowhere else
    (`dict(p)`, `dict(p, c=v)`, `p.copy()`, `{**p}`, `{**p, "c": v}`, `copy.copy(p)`, `copy.deepcopy(p)`), else
    None."""
    def param(e):
        return e.id if isinstance(e, gast.Name) and e.id in params and stores.get(e.id) == 1 else None
    if isinstance(value, gast.Dict) and value.keys and value.keys[0] is None and param(value.values[0]) and all(
            isinstance(k, gast.Constant) and isinstance(k.value, str) for k in value.keys[1:]):
        return param(value.values[0]), tuple(k.value for k in value.keys[1:]), False     # {**p}, {**p, "W": W2}
    if not isinstance(value, gast.Call):
        return None
    f = value.func
    if isinstance(f, gast.Name) and f.id == "dict" and len(value.args) == 1 and param(value.args[0]) \
            and all(k.arg is not None for k in value.keywords):
        return param(value.args[0]), tuple(k.arg for k in value.keywords), False
    if isinstance(f, gast.Attribute) and f.attr == "copy" and not value.args and not value.keywords and param(f.value):
        return param(f.value), (), True
    if (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "copy"
            and f.attr in ("copy", "deepcopy") and len(value.args) == 1 and not value.keywords and param(value.args[0])):
        return param(value.args[0]), (), True
    return None


def named_dicts(fn_node) -> dict:
    """{name: keys} of the names the function `fn_node` binds once, in its body's own block (not in a branch or a
    loop), to a dict display of string-literal keys (`q = {"a": x * 2.0, "b": y}`), with the keys its block adds after,
    in order (`q["c"] = v`: a new key, as in Python): the keys of the dict `return q` gives there. A name written at a
    key that is not a string literal, or bound elsewhere too, is none (`return q` is then declined where it is
    flattened, as a dict used whole)."""
    stores: dict = {}
    for n in walk(fn_node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del, gast.Param)):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, (gast.Global, gast.Nonlocal)):
            for name in n.names:
                stores[name] = 2
    out: dict = {}
    positional = [a.id for a in fn_node.args.args if isinstance(a, gast.Name)]
    params = positional + [a.id for a in fn_node.args.kwonlyargs if isinstance(a, gast.Name)]
    for st in fn_node.body:
        one = (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
               and stores.get(st.targets[0].id) == 1)
        if one and display_keys(st.value) is not None:
            out[st.targets[0].id] = display_keys(st.value)
        elif one and _copied_parameter(st.value, params, stores) is not None:   # q = dict(p): keys known at a call
            p, added, any_type = _copied_parameter(st.value, params, stores)
            out[st.targets[0].id] = CopiedKeys(p, positional.index(p) if p in positional else None, added, any_type)
        elif (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Subscript)
              and isinstance(st.targets[0].value, gast.Name) and st.targets[0].value.id in out
              and isinstance(st.targets[0].slice, gast.Constant) and isinstance(st.targets[0].slice.value, str)):
            name, key = st.targets[0].value.id, st.targets[0].slice.value
            if isinstance(out[name], CopiedKeys) and key not in out[name].added:
                out[name] = CopiedKeys(out[name].param, out[name].position, out[name].added + (key,), False)
            elif isinstance(out[name], tuple) and key not in out[name]:
                out[name] += (key,)
    for n in walk(fn_node):     # (a write at a key known only when flatten resolves it: `q[k] = v`)
        targets = n.targets if isinstance(n, gast.Assign) else [n.target] if isinstance(n, gast.AugAssign) else []
        for t in targets:
            if (isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in out
                    and not (isinstance(t.slice, gast.Constant) and isinstance(t.slice.value, str))):
                out.pop(t.value.id, None)
    return out


# a module-level function (the object, not its code: record_returns._RETURNED) -> (returned_keys, its unit)
_RETURNED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def may_return_dict(fn) -> bool:
    """Whether the function `fn` can have a `return` of a dict display, a dict comprehension, a `dict(...)` call or a
    copy (`p.copy()`, `copy.copy(p)`; what returned_keys looks for), read off its code object without parsing its source: a display compiles to a
    BUILD_MAP or BUILD_CONST_KEY_MAP of its own code (and more items to DICT_UPDATE / MAP_ADD), a comprehension to a
    nested `<dictcomp>` code object (or, inlined, to MAP_ADD), and `dict(...)` names `dict`. Where none of them is
    there, returned_keys of its parsed def is None, and the parse (a second one of the function differentiated,
    a tenth of its front end) is not made."""
    code = fn.__code__
    if "dict" in code.co_names or "dict" in code.co_varnames or "dict" in code.co_cellvars \
            or "dict" in code.co_freevars or "copy" in code.co_names:    # (`p.copy()`, `copy.copy(p)`: CopiedKeys)
        return True
    if not _DICT_OPCODES.isdisjoint(code.co_code[::2]):
        return True
    return any(inspect.iscode(c) and c.co_name == "<dictcomp>" for c in code.co_consts)


_DICT_OPCODES = frozenset(dis.opmap[name] for name in ("BUILD_MAP", "BUILD_CONST_KEY_MAP", "DICT_UPDATE", "DICT_MERGE",
                                                       "MAP_ADD") if name in dis.opmap)


def module_function_keys(fn):
    """(returned_keys of the module-level function `fn`, its parsed unit), parsed once per function (a code object
    equal to its own in another module, on the same line of another file, has that file's unit)."""
    from .parse import parse
    if fn not in _RETURNED:
        try:
            unit = parse(fn)
            _RETURNED[fn] = (returned_keys(unit.node), unit)
        except Exception:   # (its own declines are raised where it is compiled)
            _RETURNED[fn] = (None, None)
    return _RETURNED[fn]


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


def fold_static_tests(stmts):
    """`stmts` with each `if` and conditional expression whose test static_value decides (a dict key's test, in a
    loop over the dict's items unrolled) replaced by the branch it takes."""
    out = []
    for s in stmts:
        if isinstance(s, gast.If):
            v = static_value(s.test)
            if v is not NOT_LITERAL and not isinstance(v, str):
                out += fold_static_tests(s.body if v else s.orelse)
                continue
        map_blocks(s, fold_static_tests)
        out.append(_FoldIfExp().visit(s))
    return out


class _FoldIfExp(Transformer):
    """`(0.2 if k.startswith("W") else 0.1)` of a decided test: the branch it takes."""
    def visit_IfExp(self, n):
        self.generic_visit(n)
        v = static_value(n.test)
        return n if v is NOT_LITERAL or isinstance(v, str) else (n.body if v else n.orelse)

