"""Small constructors and helpers for gast trees shared by the passes."""
from __future__ import annotations

import ast
import copy
import keyword
import textwrap

import gast

COMMENT_MARK = "#srcdiff#"


def load(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def store(id_: str) -> gast.Name:
    return gast.Name(id=id_, ctx=gast.Store(), annotation=None, type_comment=None)


def const(value) -> gast.Constant:
    return gast.Constant(value=value, kind=None)


def assign(target, value, lineno=None) -> gast.Assign:
    if isinstance(target, str):
        target = store(target)
    node = gast.Assign(targets=[target], value=value, type_comment=None)
    if lineno is not None:
        node.lineno = lineno
    return node


def call(func, *args, keywords=()) -> gast.Call:
    if isinstance(func, str):
        func = dotted(func)
    return gast.Call(func=func, args=[load(a) if isinstance(a, str) else a for a in args],
                     keywords=list(keywords))


def dotted(path: str) -> gast.expr:
    """`a.b.c` as a Load expression."""
    parts = path.split(".")
    node = load(parts[0])
    for p in parts[1:]:
        node = gast.Attribute(value=node, attr=p, ctx=gast.Load())
    return node


def dotted_name(node) -> str | None:
    """Inverse of `dotted`: 'a.b.c' for Name/Attribute chains, else None."""
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
    if isinstance(node, list):
        return [clone(x) for x in node]
    if not isinstance(node, ast.AST):
        return node if isinstance(node, (str, int, float, complex, bytes, bool, type(None))) else copy.deepcopy(node)
    new = type(node).__new__(type(node))
    new.__dict__.update({k: clone(v) for k, v in node.__dict__.items()})
    return new


def substitute(tree, mapping: dict):
    """Copy `tree`, replacing Name nodes whose id is in `mapping` by (copies of) the mapped node."""
    def sub(node):
        if isinstance(node, list):
            return [sub(x) for x in node]
        if not isinstance(node, ast.AST):
            return clone(node)
        if isinstance(node, gast.Name) and node.id in mapping:
            new = mapping[node.id]
            if isinstance(new, str):
                return gast.Name(id=new, ctx=clone(node.ctx), annotation=None, type_comment=None)
            return clone(new)
        new = type(node).__new__(type(node))
        new.__dict__.update({k: sub(v) for k, v in node.__dict__.items()})
        return new
    return sub(tree)


def walk_names(node):
    """The Name nodes under `node` (any order: for sets and counts; gast.walk is several times slower)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, gast.Name):
            yield n
        elif isinstance(n, ast.AST):
            for f in n._fields:
                v = getattr(n, f, None)
                if isinstance(v, (list, ast.AST)):
                    stack.append(v)


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


def assigned_names(stmts) -> set:
    """Names stored anywhere in a list of statements (nested blocks included)."""
    out = set()
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out


class Namer:
    """Fresh, readable names derived from the user's names: x, x1, x2, ..."""

    def __init__(self, taken=()):
        self.taken = set(taken)
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
        for n in gast.walk(new):
            if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
                n.lineno = ln
    return new


def definitely_assigned(fn) -> dict:
    """id(if/for/while statement) -> the names certainly assigned when control reaches it."""
    out = {}

    def block(stmts, have):
        for st in stmts:
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                have = have | {st.targets[0].id}
            elif isinstance(st, gast.If):
                out[id(st)] = have
                have = block(st.body, have) & block(st.orelse, have)
            elif isinstance(st, (gast.For, gast.While)):
                out[id(st)] = have
                block(st.body, have | ({st.target.id} if isinstance(st, gast.For) else set()))
        return have

    block(fn.body, frozenset(a.id for a in fn.args.args))
    return out
