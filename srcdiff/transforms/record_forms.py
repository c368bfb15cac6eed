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

import gast

from ..errors import fail
from .astutil import const, copy_loc, walk


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
        before = self.structs.get(name)
        if before is not None and (getattr(before, "fields", None) != struct.fields
                                   or getattr(before, "cls", None) is not struct.cls):
            what = getattr(getattr(before, "cls", None), "__name__", None) or "another structure"
            fail(s, self.unit, f"'{name}' bound here to a {struct.cls.__name__} and before to a {what}: srcdiff makes "
                               f"each field of a namedtuple its own variable, from its class",
                 f"bind the {struct.cls.__name__} to a name of its own")
        self.structs[name] = struct
        targets = [gast.Name(id=self.leaf_name(name, (k,)), ctx=gast.Store(), annotation=None, type_comment=None)
                   for k in range(len(values))]
        if len(values) == 1:
            return [copy_loc(gast.Assign(targets=targets, value=values[0], type_comment=None), s)]
        return [copy_loc(gast.Assign(targets=[gast.Tuple(elts=targets, ctx=gast.Store())],
                                     value=gast.Tuple(elts=values, ctx=gast.Load()), type_comment=None), s)]



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
