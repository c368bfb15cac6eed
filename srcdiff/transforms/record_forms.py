"""Namedtuples the function makes, for the "flatten" pass (transforms/flatten.py): `s = State(x=a, v=b)` (its
structure a `Fields`, as a namedtuple argument's) and its changed copies, `s2 = s._replace(x=e)`, also bound to one name again and again (a loop's
state, `s = s._replace(x=s.x + h * s.v, v=...)`, or a branch's), each binding a namedtuple of the same class.

Why: a namedtuple is how Python code names the parts of a state; `_replace` is how it steps one. flatten makes each
field its own variable, named by the field (`s_x`, `s_v`: item_variables.py); a binding of the name binds those
variables anew, all at once (a tuple assignment: `s_x, s_v = (s_x + h * s_v, s_v - h * np.sin(s_x))` reads the old
fields, as `_replace` does), and SSA
merges them as any variable. `RecordForms` is a mixin of flatten's flattener: its methods read the flattener's
state (`structs`, `unit`, `locals`) and call its `ref`, `struct_at` and `expr`; this module imports nothing of
flatten's."""
from __future__ import annotations

import types

import gast

from ..errors import fail
from .astutil import const, copy_loc, walk
from .record_returns import Returned, namedtuple_class, passed, records_of_function


class Fields(list):
    """The structure of a namedtuple argument: a tuple's (its items' structures, equal to a plain tuple's of them),
    whose field names (`fields`) `p.W` reads at (the position of "W"); `cls`, its class, whose methods `p.apply(x)`
    calls (None where not known: a tuple literal marked with the fields)."""
    def __init__(self, items, fields, cls=None):
        super().__init__(items)
        self.fields = tuple(fields)
        self.cls = cls

    def __repr__(self):     # (a specialisation's key: a namedtuple's code reads p.W and calls its class's methods)
        cls = f"{self.cls.__module__}.{self.cls.__qualname__}" if self.cls is not None else None
        return f"Fields({list.__repr__(self)}, {self.fields!r}, {cls!r})"


class RecordForms:
    """The flattener's namedtuples made here: `Layer(W, b)`, `_replace` and names bound again (see the module
    docstring)."""

    def namedtuple_items(self, node):
        """(fields, the argument expressions in field order) where `node` calls a namedtuple class (`Layer(W, b)`,
        `Layer(b=b, W=W)`, its defaults for fields left out), else None."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and self.unit is not None
                and node.func.id not in self.locals):
            return None
        cls = self.unit.namespace.get(node.func.id)
        if not (isinstance(cls, type) and issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple)):
            return None
        fields, given = cls._fields, dict(zip(cls._fields, node.args))
        if len(node.args) > len(fields) or any(isinstance(a, gast.Starred) for a in node.args) or any(
                k.arg is None or k.arg not in fields or k.arg in given for k in node.keywords):
            fail(node, self.unit, f"{node.func.id}(...) with arguments other than its fields {fields}",
                 f"pass each field by position or by name: {node.func.id}({', '.join(fields)})")
        given.update({k.arg: k.value for k in node.keywords})
        defaults = getattr(cls, "_field_defaults", {})
        missing = [f for f in fields if f not in given and f not in defaults]
        if missing:
            fail(node, self.unit, f"{node.func.id}(...) without its field(s) {', '.join(missing)}: Python raises "
                                  "TypeError here", f"pass {', '.join(missing)}")
        return fields, [given[f] if f in given else copy_loc(const(defaults[f]), node) for f in fields]

    def make_namedtuple(self, s):
        """`q = Layer(W, b)` of a namedtuple class: q a structure of its own (Fields), its items bound to names of
        their own (`q.W`, `q[0]`, `W2, b2 = q`, and q passed whole to a function of yours, read by field there)."""
        name = s.targets[0].id
        before = self.structs.get(name)
        if before is not None and any(item is not None for item in before):
            cls = s.value.func.id if isinstance(s.value.func, gast.Name) else "namedtuple"
            fail(s, self.unit, f"'{name}', a namedtuple argument holding tuples, lists or dicts, bound again here: "
                               "srcdiff binds a namedtuple's fields anew where they are arrays or numbers",
                 f"bind the new {cls} to a name of its own")
        if self.replaced(s.value) is not None:
            st, args = self.replaced(s.value)
            struct = Fields([None] * len(st.fields), st.fields, st.cls)
        else:
            fields, args = self.namedtuple_items(s.value)
            struct = Fields([None] * len(fields), fields, self.unit.namespace.get(s.value.func.id))
        return self.bind_record(s, name, struct, [self.expr(a) for a in args])

    def replaced(self, node):
        """(the namedtuple's structure, the argument expressions in field order) where `node` is `p._replace(W=e)` of a
        namedtuple whose fields are arrays or numbers (an argument, or one made here), else None: the fields it
        leaves out are read from `p` (`p.b`)."""
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and node.func.attr == "_replace"):
            return None
        r = self.ref(node.func.value)
        st = None if r is None else self.struct_at(*r)
        if getattr(st, "fields", None) is None or getattr(st, "cls", None) is None:
            return None
        spelled = node.func.value.id if isinstance(node.func.value, gast.Name) else "p"
        if node.args or any(k.arg not in st.fields for k in node.keywords):
            fail(node, self.unit, f"`{spelled}._replace(...)` with arguments other than fields {st.fields} given by "
                                  "name", f"give each changed field by name ({st.fields[0]}=...)")
        if any(s is not None for s in st):
            changed = node.keywords[0].arg if node.keywords else st.fields[0]
            fail(node, self.unit, f"`{spelled}._replace(...)` of a namedtuple holding tuples, lists or dicts (srcdiff "
                                  "makes each field of a namedtuple its own variable where its fields are arrays or "
                                  "numbers)", f"keep the changed field in a variable of its own ({changed}2 = ...) and "
                                              f"read it where {spelled}.{changed} was read")
        given = {k.arg: k.value for k in node.keywords}
        return st, [given[f] if f in given else copy_loc(gast.Attribute(value=node.func.value, attr=f,
                                                                          ctx=gast.Load()), node)
                    for f in st.fields]

    def bind_record(self, s, name, struct, values) -> list:
        """`name = Cls(...)` (or a `_replace`): `name` a structure of its own (`struct`, a Fields), its fields bound
        to `values` (already flattened) in one tuple assignment, which reads the name's old fields, if any, before it
        binds any. Declined where the name held another class's namedtuple or other fields."""
        self.same_record(s, name, struct)
        self.structs[name] = struct
        targets = [gast.Name(id=self.leaf_name(name, (k,)), ctx=gast.Store(), annotation=None, type_comment=None)
                   for k in range(len(values))]
        if len(values) == 1:
            return [copy_loc(gast.Assign(targets=targets, value=values[0], type_comment=None), s)]
        return [copy_loc(gast.Assign(targets=[gast.Tuple(elts=targets, ctx=gast.Store())],
                                     value=gast.Tuple(elts=values, ctx=gast.Load()), type_comment=None), s)]

    def same_record(self, s, name, struct):
        """Decline binding `name` to a namedtuple of `struct` (a Fields) where it held another class's namedtuple or
        other fields. (A class of the same name and fields is the same one: a module loaded again, as the fuzzer's
        are, makes its namedtuple classes anew, and fields are all a namedtuple's variables hold.)"""
        before = self.structs.get(name)
        cls = getattr(before, "cls", None)
        if before is not None and (getattr(before, "fields", None) != struct.fields or (
                cls is not struct.cls and getattr(cls, "__qualname__", None) != struct.cls.__qualname__)):
            what = getattr(getattr(before, "cls", None), "__name__", None) or "another structure"
            fail(s, self.unit, f"'{name}' bound here to a {struct.cls.__name__} and before to a {what}: srcdiff makes "
                               f"each field of a namedtuple its own variable, from its class",
                 f"bind the {struct.cls.__name__} to a name of its own")

    # -- namedtuples your functions return (record_returns.py) ----------------------------------------------------
    def returned_records_of(self, func):
        """(returned_records of the function `func` names, the unit its source is in): a def nested in this one, or a
        module-level function of the user's; (None, None) for anything else."""
        if not isinstance(func, gast.Name) or self.unit is None:
            return None, None
        if func.id in self.nested_records:
            return self.nested_records[func.id], self.unit
        if func.id in self.locals:
            return None, None
        return records_of_function(self.unit.namespace.get(func.id))

    def record_call(self, node) -> bool:
        """Whether `node` calls a function of yours that returns namedtuples (on some path at least)."""
        return isinstance(node, gast.Call) and self.returned_records_of(node.func)[0] is not None

    def returned_record(self, call):
        """The structure (a Fields of its class, each field a leaf) of the namedtuple that `call`, a call of a function
        of yours returning namedtuples (`step(s, g)` of `return s._replace(W=...)`), gives: the class the function
        makes, or the class of the namedtuple the call passes the parameter it returns a copy of. Declined where the
        function returns other values on some path, classes differ, or the call passes that parameter something
        srcdiff does not know as a namedtuple when it compiles."""
        got, unit = self.returned_records_of(call.func)
        f = call.func.id
        if not isinstance(got, Returned):
            fail(got, unit, f"a function of yours ({f}) that returns a namedtuple on some path but here another value "
                            f"(srcdiff makes each field of a namedtuple its own variable: it reads the class of the "
                            f"namedtuple {f} returns where {f} is called)",
                 "return a namedtuple of the same class on every path (`return s._replace(...)`, `return s`), or "
                 f"return a tuple of the values on every path and unpack it where {f} is called")
        classes = []
        for src in got.sources:
            if isinstance(src, type):
                classes.append(src)
                continue
            arg, st = passed(call, src), None
            if arg is not None and self.namedtuple_items(arg) is not None:
                fields = self.namedtuple_items(arg)[0]
                st = Fields([None] * len(fields), fields, self.unit.namespace.get(arg.func.id))
            elif arg is not None and self.record_call(arg):
                st = self.returned_record(arg)
            elif arg is not None and self.ref(arg) is not None:
                st = self.struct_at(*self.ref(arg))
            param = src[1]
            if not (isinstance(st, Fields) and st.cls is not None):
                fail(call, self.unit, f"{f} returns its parameter '{param}' or a copy of it (`{param}._replace(...)`), "
                                      "passed here something srcdiff does not know as a namedtuple when it compiles "
                                      "(a namedtuple argument, or one made here, it knows)",
                     f"pass {f} a namedtuple argument or a name bound to one made here (`s = State(...)`)")
            if any(item is not None for item in st):
                fail(call, self.unit, f"{f} returns its parameter '{param}' or a copy of it, passed here a namedtuple "
                                      "holding tuples, lists or dicts (srcdiff binds the fields of the namedtuple a "
                                      "function of yours returns where they are arrays or numbers)",
                     f"have {f} return the fields it changes (`return W2, b2`) and unpack them here")
            classes.append(st.cls)
        if any(c is not classes[0] for c in classes):
            fail(call, self.unit, f"{f} returns namedtuples of different classes here "
                                  f"({', '.join(sorted({c.__name__ for c in classes}))}): srcdiff makes each field "
                                  "its own variable, from the class it knows when it compiles",
                 f"have {f} return one class on every path")
        cls = classes[0]
        return Fields([None] * len(cls._fields), cls._fields, cls)

    def bind_returned_record(self, s) -> list:
        """`s2 = step(s, g)` of a function of yours returning namedtuples (its returns are the tuples of their fields'
        values: `return_record`): `s2_W, s2_b = step(...)`, s2 a namedtuple made here, bound anew at each binding
        (a loop's `s = step(s, g)`: the call reads the old fields first)."""
        name = s.targets[0].id
        struct = self.returned_record(s.value)
        self.same_record(s, name, struct)
        self.record_calls.add(id(s.value))
        value = self.expr(s.value)
        self.structs[name] = struct
        targets = [gast.Name(id=self.leaf_name(name, (k,)), ctx=gast.Store(), annotation=None, type_comment=None)
                   for k in range(len(struct))]
        return [copy_loc(gast.Assign(targets=[gast.Tuple(elts=targets, ctx=gast.Store())], value=value,
                                     type_comment=None), s)]

    def return_record(self, s):
        """`return s._replace(W=e)` (`return State(a, b)`, `return s`, `return step(s)`) in a function returning
        namedtuples (returned_records): `return (e, s_b)`, the tuple of its fields' values, which its callers bind
        to their variables (bind_returned_record); None where the value is not known here (a nested def's parameter,
        flattened where the def is made for the structures a call passes) or the function returns no namedtuple."""
        if not isinstance(self.own_records.get(id(self.returning())), Returned) or s.value is None:
            return None
        v = s.value
        if self.namedtuple_items(v) is not None:
            values = [self.expr(a) for a in self.namedtuple_items(v)[1]]
        elif self.replaced(v) is not None:
            values = [self.expr(a) for a in self.replaced(v)[1]]
        elif self.record_call(v):
            self.returned_record(v)
            self.record_calls.add(id(v))
            return [copy_loc(gast.Return(value=self.expr(v)), s)]
        elif (self.ref(v) is not None and isinstance(self.struct_at(*self.ref(v)), Fields)
              and self.struct_at(*self.ref(v)).cls is not None):
            return [copy_loc(gast.Return(value=self.items(*self.ref(v), s)), s)]
        else:
            return None
        return [copy_loc(gast.Return(value=gast.Tuple(elts=values, ctx=gast.Load())), s)]

    def record_read(self, n):
        """`step(s, g).W` of a function of yours returning namedtuples: the call's tuple at the field's position; else
        None."""
        if not (isinstance(n.ctx, gast.Load) and self.record_call(n.value)):
            return None
        struct = self.returned_record(n.value)
        if n.attr not in struct.fields:
            fail(n, self.unit, f"no field {n.attr!r} in the namedtuple {n.value.func.id} returns (a "
                               f"{struct.cls.__name__}: fields {', '.join(struct.fields)}): Python raises "
                               "AttributeError here", "read one of its fields")
        self.record_calls.add(id(n.value))
        return copy_loc(gast.Subscript(value=n.value, slice=copy_loc(const(struct.fields.index(n.attr)), n),
                                       ctx=gast.Load()), n)

    def unread_record_call(self, n):
        """A call of a function of yours returning namedtuples, used other than bound to a name, unpacked, read by
        field or at an index, returned by a function returning namedtuples, or passed to a call where
        passed_records.py binds it to a name first: declined (its callee returns the tuple of the fields' values)."""
        if id(n) in self.record_calls or not self.record_call(n):
            return
        f = n.func.id
        fail(n, self.unit, f"the namedtuple your function {f} returns, used here other than bound to a name, unpacked, "
                           "read by field or passed to a call at a point of the statement that runs before any other "
                           "call of yours in it (srcdiff makes each field of a namedtuple its own variable, and binds "
                           "such a call to a name first: passed_records.py)",
             f"bind it to a name first (`s2 = {f}(...)`) and read s2.W or pass s2, or read {f}(...).W")



_SAME = object()      # (record_methods_named: the class of the name being found, whatever it is)


def record_methods_named(fn, namespace: dict, structs: dict) -> None:
    """`s.step(g)` of a namedtuple `s` (an argument's, or a name bound only to namedtuples of one class: calls of the
    class, `_replace`s and such method calls of itself or of another such name, `q = p.step(g)`, a second name of
    one, `r = p`, calls of functions of yours returning them) whose class defines `step` returning namedtuples (`return
    self._replace(W=...)`): the call of that function with s first, `P_step(s, g)` (bound to a name of the namespace,
    as RecordForms' flattener writes a method's call), written before flatten reads what the function binds, so that
    `s2 = s.step(g)` and a loop's `s = s.step(g)` are read as calls of a function of yours returning namedtuples
    (record_returns). Such a call was declined as "`s2.W` of `s2`, the value your function `P_step` returns", or as
    "a namedtuple P(...) made here whose fields srcdiff cannot make variables of" (h27c)."""
    values: dict = {}
    stores: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            stores[n.id] = stores.get(n.id, 0) + 1
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            values.setdefault(n.targets[0].id, []).append(n.value)

    def class_of(name, seen=frozenset()):
        st = structs.get(name)
        found = {st.cls} if isinstance(st, Fields) and st.cls is not None else set()
        if stores.get(name, 0) != len(values.get(name, [])):
            return None
        for v in values.get(name, []):
            found.add(value_class(v, seen | {name}))
        found.discard(_SAME)
        return next(iter(found)) if len(found) == 1 else None

    def value_class(v, seen):
        """The namedtuple class of the value `v` binds: a call of the class, a second name of a namedtuple (`r = p`),
        `p._replace(...)` or `p.step(g)` (`q = p.step(g)`, then `q = q.step(g)`: the class `step` returns, p's own
        where it returns `self` or a copy of it), `step(p, g)` of a function of yours; _SAME for a name whose class is
        being found (`s = s.step(g)`: of its own class); else None."""
        if isinstance(v, gast.Name):
            return _SAME if v.id in seen else class_of(v.id, seen)
        if not isinstance(v, gast.Call):
            return None
        f = v.func
        if isinstance(f, gast.Name) and f.id not in stores and namedtuple_class(namespace.get(f.id)):
            return namespace[f.id]
        if isinstance(f, gast.Name) and f.id not in stores:     # step(s, g), or P_step(p, g) written below
            got = records_of_function(namespace.get(f.id))[0]
            made = {src if isinstance(src, type) else value_class(passed(v, src), seen)
                    for src in got.sources} if isinstance(got, Returned) else {None}
        elif isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name):
            cls = value_class(f.value, seen)
            if cls is None or cls is _SAME or f.attr == "_replace":
                return cls
            got = records_of_function(cls.__dict__.get(f.attr))[0]
            made = {src if isinstance(src, type) else cls if src[2] == 0 else None
                    for src in got.sources} if isinstance(got, Returned) else {None}
        else:
            return None
        if len(made) > 1:
            made.discard(_SAME)
        return next(iter(made)) if len(made) == 1 else None

    for n in walk(fn):
        if not (isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name)):
            continue
        cls = class_of(n.func.value.id)
        method = cls.__dict__.get(n.func.attr) if cls is not None else None
        if not isinstance(method, types.FunctionType) or records_of_function(method)[0] is None:
            continue
        name = f"{cls.__name__}_{n.func.attr}"
        while name in namespace and namespace[name] is not method:
            name += "_"
        namespace[name] = method
        n.args = [n.func.value] + n.args
        n.func = copy_loc(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None), n.func)


def records_bound_again(fn, structs: dict, makes) -> frozenset:
    """The namedtuple arguments of `fn` (in `structs`) that it binds again, each time to a namedtuple made here
    (`makes(value)`: `s = s._replace(W=s.W * 2.0)`, `s = State(a, b)`, also in a loop or a branch): flatten binds the
    argument's field variables anew at each binding, as for a namedtuple made here (RecordForms.bind_record checks
    that the class is the same and declines one whose fields hold structures), and the gradient is the old fields'.
    Such an argument was a tuple value from its first binding on, whose `s.W` was declined as "attribute .W of a
    local value". So is a second name of one (`s = s0`, then `s = State(...)` in a loop), each of its other bindings
    a namedtuple made here."""
    def record(p):
        return isinstance(structs.get(p), Fields) and structs[p].cls is not None

    stores: dict = {}
    made: dict = {}
    named: dict = {}        # `s = s0` of a namedtuple argument s0: bindings to the argument itself
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            stores[n.id] = stores.get(n.id, 0) + 1
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            name = n.targets[0].id
            if makes(n.value):
                made[name] = made.get(name, 0) + 1
            elif isinstance(n.value, gast.Name) and n.value.id != name and record(n.value.id):
                named[name] = named.get(name, 0) + 1
    params = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
    own = {p for p in params & set(structs) if record(p) and made.get(p, 0) >= 1 and stores.get(p) == made[p]}
    second = {v for v, k in named.items() if v not in params and made.get(v, 0) >= 1 and stores.get(v) == k + made[v]}
    return frozenset(own | second)
