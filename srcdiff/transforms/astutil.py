"""Small constructors and helpers for gast trees shared by the passes."""
from __future__ import annotations

import ast
import copy
import keyword
import operator
import textwrap

import gast

COMMENT_MARK = "#srcdiff#"


# The constructors below make their nodes as gast's keyword constructor does (the same fields, in the same order,
# in the node's __dict__), without its call: the passes make hundreds of thousands of them.
_LOAD, _STORE, _CONSTANT, _ASSIGN, _CALL, _ATTRIBUTE = (gast.Load, gast.Store, gast.Constant, gast.Assign, gast.Call,
                                                        gast.Attribute)     # (_NAME: below)


def _node(kind, fields: dict):
    node = kind.__new__(kind)
    node.__dict__ = fields
    return node


def load(id_: str) -> gast.Name:
    return _node(_NAME, {"id": id_, "ctx": _LOAD.__new__(_LOAD), "annotation": None, "type_comment": None})


def store(id_: str) -> gast.Name:
    return _node(_NAME, {"id": id_, "ctx": _STORE.__new__(_STORE), "annotation": None, "type_comment": None})


def const(value) -> gast.Constant:
    return _node(_CONSTANT, {"value": value, "kind": None})


def assign(target, value, lineno=None) -> gast.Assign:
    if isinstance(target, str):
        target = store(target)
    node = _node(_ASSIGN, {"targets": [target], "value": value, "type_comment": None})
    if lineno is not None:
        node.lineno = lineno
    return node


def call(func, *args, keywords=()) -> gast.Call:
    if isinstance(func, str):
        func = dotted(func)
    return _node(_CALL, {"func": func, "args": [load(a) if isinstance(a, str) else a for a in args],
                         "keywords": list(keywords)})


def dotted(path: str) -> gast.expr:
    """`a.b.c` as a Load expression."""
    parts = path.split(".")
    node = load(parts[0])
    for p in parts[1:]:
        node = _node(_ATTRIBUTE, {"value": node, "attr": p, "ctx": _LOAD.__new__(_LOAD)})
    return node


def dotted_name(node) -> str | None:
    """Inverse of `dotted`: 'a.b.c' for Name/Attribute chains, else None."""
    kind = type(node)
    if kind is _NAME:
        return node.id
    if kind is _ATTRIBUTE and type(node.value) is _NAME:     # (np.exp: most calls; the loop below is general)
        return node.value.id + "." + node.attr
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def parse_stmts(src: str) -> list:
    return gast.parse(textwrap.dedent(src)).body


def parse_expr(src: str) -> gast.expr:
    return gast.parse(src).body[0].value


def clone(node):
    """A deep copy of a gast tree (nodes, lists, attributes such as lineno and srcdiff's marks), made
    directly rather than through copy.deepcopy's generic machinery, which dominates generation time."""
    kind = type(node)
    if kind is list:
        return [x if type(x) in _ATOMS else clone(x) for x in node]
    if not isinstance(node, _AST):
        return node if isinstance(node, _ATOM_TYPES) else copy.deepcopy(node)
    new = kind.__new__(kind)
    fields = node.__dict__.copy()     # (its atoms kept, the rest replaced by copies: a fifth faster than a
    for k, v in fields.items():       # dict comprehension and update)
        if type(v) not in _ATOMS:
            fields[k] = clone(v)
    new.__dict__ = fields
    return new


_ATOM_TYPES = (str, int, float, complex, bytes, bool, type(None))
_ATOMS = frozenset(_ATOM_TYPES)


def substitute(tree, mapping: dict):
    """Copy `tree`, replacing Name nodes whose id is in `mapping` by (copies of) the mapped node."""
    def sub(node):
        kind = type(node)
        if kind in _ATOMS:
            return node
        if kind is list:
            return [sub(x) for x in node]
        if not isinstance(node, _AST):
            return clone(node)
        if kind is gast.Name and node.id in mapping:
            new = mapping[node.id]
            if isinstance(new, str):
                return gast.Name(id=new, ctx=clone(node.ctx), annotation=None, type_comment=None)
            return clone(new)
        new = kind.__new__(kind)
        new.__dict__.update({k: v if type(v) in _ATOMS else sub(v) for k, v in node.__dict__.items()})
        return new
    return sub(tree)


def rewritten(tree, rewrite):
    """`tree` with `rewrite(n)` in place of each node `n` it returns another node for, children first (as a
    Transformer's visit methods that call generic_visit first): a new tree that shares every subtree
    without a rewrite with `tree`, which is left as it is. Only the nodes on the paths from the root to
    the rewritten ones are copied (shallowly, with their attributes and marks), instead of cloning the
    whole tree for a few rewrites. `rewrite` sees a node whose children are already rewritten (a copy
    where one of them was) and must not change it in place."""
    def visit(node):
        kind = type(node)
        fields = _CHILD_FIELDS.get(kind)
        if fields is None:
            fields = child_fields(kind)
        changed = None
        for f in fields:
            old = getattr(node, f, None)
            if type(old) is list:
                new = old
                for k, item in enumerate(old):
                    if isinstance(item, _AST):
                        got = visit(item)
                        if got is not item:
                            if new is old:
                                new = list(old)
                            new[k] = got
            elif old is not None and isinstance(old, _AST):
                new = visit(old)
            else:
                continue
            if new is not old:
                if changed is None:
                    changed = {}
                changed[f] = new
        if changed:
            copy_ = kind.__new__(kind)
            copy_.__dict__.update(node.__dict__)
            copy_.__dict__.update(changed)
            node = copy_
        return rewrite(node)
    return visit(tree)


def walk(node):
    """Every node under `node` (itself first), in ast.walk's breadth-first order, but for the leaves that
    carry no names (a Name's or Subscript's context, an operator: they have no fields, and no pass looks
    for them; leaving them out is a third of the nodes). One generator over a growing list instead of
    ast.walk's three nested generators per node, reading only the fields that can hold nodes (a class's
    are listed once: `child_fields`). As with ast.walk, a node's children are taken when it is reached,
    before it is yielded."""
    nodes = [node]
    append = nodes.append
    get = _CHILD_FIELDS.get
    for n in nodes:
        fields = get(type(n))
        if fields is None:
            fields = child_fields(type(n))
        for f in fields:
            v = getattr(n, f, None)
            if type(v) is list:
                for item in v:
                    if isinstance(item, _AST):
                        append(item)
            elif v is not None and isinstance(v, _AST):
                append(v)
        yield n


def child_fields(kind) -> tuple:
    """The fields of node class `kind` that can hold nodes other than the nameless leaves (contexts,
    operators) and scalars (a Name's id, a Constant's value, an attribute's name)."""
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        fields = _CHILD_FIELDS[kind] = tuple(f for f in getattr(kind, "_fields", ()) if f not in _NO_NAMES)
    return fields


_AST = ast.AST


def structure_key(node):
    """A hashable key of `node`'s structure: two trees have equal keys exactly when gast.dump prints them
    alike (fields in order, a missing field or a None or empty-list one left out, other values by repr;
    line numbers ignored), made several times faster than that string. (A class's fields, with whether the
    class itself holds None for each, are listed once; a field is read from the node's own attributes; a
    field's scalar is written as its repr and a context's or an operator's key, the same for every node of its
    class, is made once, without a call each: most fields of the operations cse compares are one or the other.)"""
    kind = type(node)
    plan = _KEY_PLANS.get(kind)
    if plan is None:
        if isinstance(node, _AST):
            plan = _KEY_PLANS[kind] = tuple((f, getattr(kind, f, 42) is None) for f in kind._fields)
            if not plan:
                _LEAF_KEYS[kind] = (kind,)
        elif isinstance(node, list):
            return (list,) + tuple(structure_key(x) for x in node)
        else:
            return repr(node)
    out = [kind]
    given = node.__dict__
    for f, class_none in plan:
        v = given.get(f, given)
        if v is given:
            try:
                v = getattr(node, f)
            except AttributeError:
                continue
        if (v is None and class_none) or (type(v) is list and not v):
            continue
        out.append(f)
        t = type(v)
        if t in _ATOMS:
            out.append(repr(v))
        else:
            leaf = _LEAF_KEYS.get(t)
            out.append(leaf if leaf is not None else structure_key(v))
    return tuple(out)


_KEY_PLANS: dict = {}   # node class -> ((field, whether the class holds None for it), ...)
_LEAF_KEYS: dict = {}   # node class without fields (a context, an operator) -> its key


def walk_statements(stmts):
    """The statements of a block and of the blocks nested in them, in the order walk() meets them
    (breadth first): for passes that look only at statements, which need not visit every expression
    (there are no statements inside expressions)."""
    todo = list(stmts)
    append = todo.append
    for s in todo:
        for f in _BLOCKS.get(type(s), ()):
            for b in getattr(s, f):
                append(b)
        yield s


def statements_in_order(stmts):
    """The statements of a block and of the blocks nested in them, in source order (depth first: a
    compound statement, then its body, then its orelse): for passes whose facts flow forward."""
    for s in stmts:
        yield s
        fields = _BLOCK_FIELDS.get(type(s))
        if fields is None:
            fields = _block_fields(type(s))
        for f in fields:
            if isinstance(getattr(s, f, None), list):
                yield from statements_in_order(getattr(s, f))


_BLOCKS = {gast.If: ("body", "orelse"), gast.For: ("body", "orelse"), gast.While: ("body", "orelse"),
           gast.FunctionDef: ("body",), gast.With: ("body",), gast.Try: ("body", "orelse", "finalbody"),
           gast.AsyncFor: ("body", "orelse"), gast.AsyncWith: ("body",), gast.AsyncFunctionDef: ("body",),
           gast.ClassDef: ("body",)}


_DEPRECATED_CONSTANT = getattr(ast.NodeVisitor, "visit_Constant", None)


class Transformer(ast.NodeTransformer):
    """ast.NodeTransformer with the same semantics at a fraction of its cost: the visit method for each
    node class is looked up once per transformer class, and generic_visit reads the fields directly
    (no iter_fields generator; only those that can hold nodes other than contexts and operators, which
    no pass rewrites: `child_fields`) and leaves a list or a field alone when its children come back
    unchanged.
    The passes' rewriters derive from it (they run over every statement of large generated functions)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._visitors = {}

    _visitors: dict = {}

    def visit(self, node):
        kind = type(node)
        method = self._visitors.get(kind)
        if method is None:     # the class's function for this node class, found once
            method = getattr(type(self), "visit_" + kind.__name__, type(self).generic_visit)
            if method is _DEPRECATED_CONSTANT:   # (ast.NodeVisitor's, which looks for visit_Num and kin first)
                method = type(self).generic_visit
            self._visitors[kind] = method
        return method(self, node)

    def generic_visit(self, node):
        fields = _CHILD_FIELDS.get(type(node))
        if fields is None:
            fields = child_fields(type(node))
        for field in fields:
            try:
                old = getattr(node, field)
            except AttributeError:
                continue
            if isinstance(old, list):
                new_values, changed = [], False
                for value in old:
                    if isinstance(value, _AST):
                        new = self.visit(value)
                        if new is not value:
                            changed = True
                            if new is None:
                                continue
                            if not isinstance(new, _AST):
                                new_values.extend(new)
                                continue
                        value = new
                    new_values.append(value)
                if changed:
                    old[:] = new_values
            elif isinstance(old, _AST):
                new = self.visit(old)
                if new is None:
                    delattr(node, field)
                elif new is not old:
                    setattr(node, field, new)
        return node


def walk_names(node):
    """The Name nodes under `node` (any order: for sets and counts; several times faster than walk):
    fields that never hold a name (contexts, operators, constants' values) are not visited."""
    stack = [node]
    pop, push, extend, get = stack.pop, stack.append, stack.extend, _CHILD_FIELDS.get
    while stack:
        n = pop()
        kind = type(n)
        if kind is _NAME:
            yield n
            continue
        fields = get(kind)
        if fields is None:
            if kind is list:
                extend(n)
                continue
            if not isinstance(n, _AST):
                continue
            fields = child_fields(kind)
        for f in fields:
            v = getattr(n, f, None)
            if v is not None:
                if type(v) is list:     # a field's list: its items go straight on the stack
                    extend(v)
                else:
                    push(v)


def walk_of(node, kinds):
    """The nodes under `node` (itself included) whose class is in `kinds` (a set of classes; any order, as
    walk_calls, which this generalises): a pass looking for a few kinds of node does not meet every other one.
    A node's children are taken before it is yielded. Names are leaves (nothing under them is looked at)."""
    stack = [node]
    pop, push, extend, get = stack.pop, stack.append, stack.extend, _CHILD_FIELDS.get
    while stack:
        n = pop()
        kind = type(n)
        if kind is _NAME:
            if kind in kinds:
                yield n
            continue
        fields = get(kind)
        if fields is None:
            if kind is list:
                extend(n)
                continue
            if not isinstance(n, _AST):
                continue
            fields = child_fields(kind)
        for f in fields:
            v = getattr(n, f, None)
            if v is not None:
                if type(v) is list:
                    extend(v)
                else:
                    push(v)
        if kind in kinds:
            yield n


def walk_calls(node):
    """The Call nodes under `node` (itself included; any order: for passes that look at calls only, about
    twice as fast as filtering walk). As with walk, a call's children are taken before it is yielded: a
    caller that rewrites its arguments or function does not meet the new ones."""
    return walk_of(node, _CALLS)


_CALLS = frozenset((gast.Call,))


def walk_names_and_calls(node):
    """The Name and Call nodes under `node` (any order), in one walk: for a pass that needs both of the same
    expression (the dead-code pass: what an assignment's value reads, and whether it is pure)."""
    stack = [node]
    pop, push, extend, get = stack.pop, stack.append, stack.extend, _CHILD_FIELDS.get
    while stack:
        n = pop()
        kind = type(n)
        if kind is _NAME:
            yield n
            continue
        fields = get(kind)
        if fields is None:
            if kind is list:
                extend(n)
                continue
            if not isinstance(n, _AST):
                continue
            fields = child_fields(kind)
        for f in fields:
            v = getattr(n, f, None)
            if v is not None:
                if type(v) is list:
                    extend(v)
                else:
                    push(v)
        if kind is _CALL:
            yield n


_NAME = gast.Name
_CALL = gast.Call
_ATTRIBUTE = gast.Attribute
_NO_NAMES = {"ctx", "op", "ops", "type_comment", "kind", "id", "attr", "arg", "is_async", "level", "module",
             "conversion", "simple", "type_ignores"}
_CHILD_FIELDS: dict = {gast.Constant: ()}


def comment(text: str) -> gast.Expr:
    """A statement that the emitter prints as a `# text` comment line."""
    return gast.Expr(value=const(COMMENT_MARK + text))


def is_comment(stmt) -> bool:
    return (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)
            and isinstance(stmt.value.value, str) and stmt.value.value.startswith(COMMENT_MARK))


def names_in(node) -> set:
    """Ids of all Name nodes under `node` (any context)."""
    return {n.id for n in walk_names(node)}


def loaded_names(node) -> set:
    return {n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load)}


def written_names(node) -> set:
    """Names `node` binds and arrays it writes into (`x[i] = v` writes x)."""
    out = set()
    for n in walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            out.add(n.id)
        elif isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Store):
            out |= {m.id for m in walk(n.value) if isinstance(m, gast.Name)}
    return out


def assigned_names(stmts) -> set:
    """Names stored anywhere in a list of statements (nested blocks included)."""
    out = set()
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out


GENERATED_MODULES = frozenset({"np", "rt", "math", "numba"})     # the generated module's imports (module_builder)
# builtins the generated code calls for the user's constructs (a loop over an array becomes a loop over range(n);
# jitted code takes len() of arrays; rules write abs, max, min, float, ...): no name made here is one of them, and
# a user's variable so named is renamed (reserved_names.py)
GENERATED_BUILTINS = frozenset({"range", "len", "float", "int", "bool", "abs", "max", "min", "sum", "zip", "enumerate",
                                "reversed", "tuple", "list", "print", "isinstance", "round", "pow", "divmod", "all",
                                "any", "slice", "map", "sorted"})


class Namer:
    """Fresh, readable names derived from the user's names: x, x1, x2, ..."""

    def __init__(self, taken=()):
        self.taken = set(taken) | GENERATED_BUILTINS
        self.counters: dict = {}

    def reserve(self, name: str) -> str:
        self.taken.add(name)
        return name

    def fresh(self, base: str) -> str:
        base = base.strip("_") or "t"
        if keyword.iskeyword(base) or base in ("np", "rt", "math"):
            base = base + "_fn"
        if base not in self.taken:
            return self.reserve(base)
        # versions are x1, x2 (x1v1 after a digit): never `name_<digit>`, which Numba's own
        # renaming of reassigned variables produces and would clash with
        k = self.counters.get(base, 0)
        sep = "v" if base[-1].isdigit() else ""
        while True:
            k += 1
            cand = f"{base}{sep}{k}"
            if cand not in self.taken:
                self.counters[base] = k
                return self.reserve(cand)


def copy_loc(new, old):
    """Give `new` (and its unlocated children) the line number of `old`."""
    ln = getattr(old, "lineno", None)
    if ln is not None:
        for n in walk(new):
            if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
                n.lineno = ln
    return new


def definitely_assigned(fn) -> dict:
    """id(if/for/while statement) -> the names certainly assigned when control reaches it."""
    out = {}

    def block(stmts, have):
        """`have`: a set this block may extend (callers pass a copy); returns the names bound after it."""
        for st in stmts:
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                have.add(st.targets[0].id)
            elif isinstance(st, gast.If):
                out[id(st)] = frozenset(have)
                have = block(st.body, set(have)) & block(st.orelse, set(have))
            elif isinstance(st, (gast.For, gast.While)):
                out[id(st)] = frozenset(have)
                block(st.body, have | ({st.target.id} if isinstance(st, gast.For) else set()))
        return have

    block(fn.body, {a.id for a in fn.args.args})
    return out


NOT_LITERAL = object()
_COMPARE = {gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
            gast.Eq: operator.eq, gast.NotEq: operator.ne}


def literal_value(e):
    """The value of a test built from number literals only (comparisons, not, and/or), else NOT_LITERAL."""
    if isinstance(e, gast.Constant) and isinstance(e.value, (bool, int, float)):
        return e.value
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd, gast.Not)):
        v = literal_value(e.operand)
        if v is NOT_LITERAL:
            return v
        return -v if isinstance(e.op, gast.USub) else (not v if isinstance(e.op, gast.Not) else v)
    if isinstance(e, gast.Compare) and all(type(op) in _COMPARE for op in e.ops):
        vals = [literal_value(x) for x in [e.left] + e.comparators]
        if any(v is NOT_LITERAL for v in vals):
            return NOT_LITERAL
        return all(_COMPARE[type(op)](a, b) for op, a, b in zip(e.ops, vals, vals[1:]))
    if isinstance(e, gast.BoolOp):
        vals = [literal_value(x) for x in e.values]
        if any(v is NOT_LITERAL for v in vals):
            return NOT_LITERAL
        return all(vals) if isinstance(e.op, gast.And) else any(vals)
    return NOT_LITERAL


def certainly_int(e, ints, other=None) -> bool:
    """Whether `e` certainly computes a Python int: an int constant, a name of `ints`, `+ - * // %` of such
    operands, `-`/`+` of one; any other node where `other(e)` holds (a pass's own forms: len, min/max, sizes)."""
    if isinstance(e, gast.Constant):
        return type(e.value) is int
    if isinstance(e, gast.Name):
        return e.id in ints
    if isinstance(e, gast.BinOp):
        return isinstance(e.op, (gast.Add, gast.Sub, gast.Mult, gast.FloorDiv, gast.Mod)) and \
            certainly_int(e.left, ints, other) and certainly_int(e.right, ints, other)
    if isinstance(e, gast.UnaryOp):
        return isinstance(e.op, (gast.USub, gast.UAdd)) and certainly_int(e.operand, ints, other)
    return other is not None and other(e)


def plain_defaults(fn, value=None) -> dict:
    """{parameter: its default as an expression} for the defaults a call may take in place of an argument: a
    literal (`kind="l2"`, `scale=1.0`, `None`) written in the def, or, for a module-level function (`value`), any
    number, string, bool or None its default evaluated to. Other defaults are left out (the call must pass them)."""
    args = fn.args
    written = dict(zip([a.id for a in args.args][len(args.args) - len(args.defaults):], args.defaults))
    written.update({a.id: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    values = {}
    if value is not None:
        # (a helper of a jitted gradient differentiated again is a Numba dispatcher: its Python function has them)
        value = getattr(value, "py_func", value)
        names = [a.id for a in args.args]
        values = dict(zip(names[len(names) - len(value.__defaults__ or ()):], value.__defaults__ or ()))
        values.update(value.__kwdefaults__ or {})
    out = {}
    for name, node in written.items():
        if _plain_literal(node):
            out[name] = node
        elif name in values and plain_value(values[name]):
            out[name] = const(values[name])
    return out


def _plain_literal(node) -> bool:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return _plain_literal(node.operand)
    return isinstance(node, gast.Constant) and plain_value(node.value)


def plain_value(v) -> bool:
    return v is None or type(v) in (bool, int, float, str)


def call_argument(e: gast.Call, pos: int, name: str):
    """The expression call `e` passes as parameter `name`, at position `pos` or by keyword (None: left out)."""
    given = [k.value for k in e.keywords if k.arg == name] + e.args[pos:pos + 1]
    return given[0] if given else None


def is_none(e) -> bool:
    """Whether `e` is the literal None."""
    return isinstance(e, gast.Constant) and e.value is None


def without_statements(stmts: list, gone) -> list:
    """`stmts` less the statements `gone(s)` is true of, in nested blocks too."""
    return [map_blocks(s, lambda b: without_statements(b, gone)) for s in stmts if not gone(s)]


def assign_counts(fn) -> dict:
    return name_counts(fn)[1]


def name_counts(fn) -> tuple:
    """({name: reads}, {name: assignments (a for loop's target counts twice)}) over `fn`, in one walk."""
    loads: dict = {}
    counts: dict = {}
    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1
        elif isinstance(n.ctx, (gast.Store, gast.Param)):
            counts[n.id] = counts.get(n.id, 0) + 1
    for n in walk_statements(fn.body):
        if isinstance(n, gast.For):
            counts[n.target.id] = counts.get(n.target.id, 0) + 1
    return loads, counts


# ---- the block walker: every pass that rewrites nested statement lists goes through these -------------
def block_jumps(stmts):
    """The statements in `stmts` (nested blocks included) that leave them: every return (not a nested function's),
    and the breaks and continues of the loop whose body `stmts` is, not those of a loop nested in it (a nested
    loop's `else` block is not its body: its breaks and continues are this loop's)."""
    for st in stmts:
        if isinstance(st, (gast.FunctionDef, gast.Lambda)):
            continue
        if isinstance(st, (gast.Return, gast.Break, gast.Continue)):
            yield st
        elif isinstance(st, (gast.For, gast.While)):
            yield from (j for j in block_jumps(st.body) if isinstance(j, gast.Return))
            yield from block_jumps(st.orelse)
        else:
            for b in nested_blocks(st):
                yield from block_jumps(b)


def nested_blocks(s) -> list:
    """The statement lists nested directly in `s` (an if's or loop's body and orelse, a def's body)."""
    fields = _BLOCK_FIELDS.get(type(s))
    if fields is None:
        fields = _block_fields(type(s))
    return [b for b in (getattr(s, f, None) for f in fields) if isinstance(b, list)] if fields else []


def every_block(stmts):
    """`stmts` and every statement list nested in it, outer first (ast and gast trees alike)."""
    yield stmts
    for st in stmts:
        for b in nested_blocks(st):
            yield from every_block(b)


def _block_fields(kind) -> tuple:
    """Which of "body" and "orelse" are fields of node class `kind` (none of an assignment's, a call's, ...:
    most statements have no block, and looking an absent attribute up raises inside getattr)."""
    fields = _BLOCK_FIELDS[kind] = tuple(f for f in ("body", "orelse") if f in getattr(kind, "_fields", ()))
    return fields


_BLOCK_FIELDS: dict = {}


def every_statement(t):
    """`t`, then every statement in the blocks nested in it, blocks first found first (an if's or loop's body
    and orelse, a try's finalbody and handlers, a handler's body), for ast and gast trees alike: a walk that
    visits statements only (emit.render finds its comments with it)."""
    todo = [t]
    for st in todo:
        for f in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(st, f, None)
            if type(block) is list:
                todo.extend(block)
        yield st


def map_blocks(s, rewrite):
    """Replace each statement list nested directly in `s` by `rewrite(block)`; returns `s`."""
    fields = _BLOCK_FIELDS.get(type(s))
    if fields is None:
        fields = _block_fields(type(s))
    for f in fields:
        b = getattr(s, f, None)
        if isinstance(b, list):
            setattr(s, f, rewrite(b))
    return s


def with_blocks(s, rewrite):
    """A shallow copy of `s` (attributes and marks included) with each statement list nested directly in it
    replaced by `rewrite(block)`: `map_blocks` for a rewrite that leaves `s` as it is."""
    new = type(s).__new__(type(s))
    new.__dict__.update(s.__dict__)
    return map_blocks(new, rewrite)


def rewrite_blocks(stmts: list, rewrite) -> list:
    """`stmts` with each statement replaced by `rewrite(s)` (a statement, or a list of statements spliced in:
    [] drops it), in nested blocks too; a statement's nested blocks are rewritten before the statement."""
    out = []
    for s in stmts:
        new = rewrite(map_blocks(s, lambda b: rewrite_blocks(b, rewrite)))
        if isinstance(new, list):
            out.extend(new)
        else:
            out.append(new)
    return out
