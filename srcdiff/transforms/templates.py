"""A rule's derivative template instantiated by a function made once per template.

The backward sweep writes each adjoint contribution as a copy of its rule's template (`g * y`, `g *
(1.0 - ans * ans)`) with the template's names replaced by the call's operands: `astutil.substitute`, a
generic copy that looks at every field of every node, and at a thousand statements a tenth of what
reverse mode costs. A template never changes, so `instantiate` writes, once per template, the Python
function that builds its copy (the node classes, fields and constants written into the code, a name
that the mapping may replace tested by its id alone) and calls that. The result is the one
`substitute(template, mapping)` makes: the same node classes, the same fields in the same order, fresh
nodes and attribute values shared as substitute shares them (tests/test_templates.py compares
the two on every rule's templates).
"""
from __future__ import annotations

import ast

import gast

from .astutil import clone

_ATOMS = frozenset((str, int, float, complex, bytes, bool, type(None)))
_MADE: dict = {}     # id(template) -> (template, its builder)


def instantiate(template, mapping: dict):
    """`astutil.substitute(template, mapping)` for a tree that is never changed (a rule record's template)."""
    made = _MADE.get(id(template))
    if made is None or made[0] is not template:
        made = _MADE[id(template)] = (template, _builder(template))
    return made[1](mapping)


def _node(kind, fields: dict):
    new = kind.__new__(kind)
    new.__dict__ = fields
    return new


def _name(template, new):
    """What substitute puts in place of the Name node `template` that the mapping maps to `new`."""
    if isinstance(new, str):
        return gast.Name(id=new, ctx=clone(template.ctx), annotation=None, type_comment=None)
    return clone(new)


def _builder(template):
    """The function of a mapping that copies `template` as substitute does."""
    constants = []

    def const(value) -> str:
        constants.append(value)
        return f"C[{len(constants) - 1}]"

    def code(node) -> str:
        kind = type(node)
        if kind in _ATOMS:
            return const(node)
        if kind is list:
            return "[" + "".join(code(x) + ", " for x in node) + "]"
        if not isinstance(node, ast.AST):
            return f"clone({const(node)})"
        fields = "{" + ", ".join(f"{k!r}: {code(v)}" for k, v in node.__dict__.items()) + "}"
        copied = f"node({const(kind)}, {fields})"
        if kind is gast.Name:
            return f"(name({const(node)}, m[{node.id!r}]) if {node.id!r} in m else {copied})"
        return copied

    text = f"def build(m):\n    return {code(template)}\n"
    scope = {"C": constants, "node": _node, "name": _name, "clone": clone}
    exec(compile(text, "<srcdiff template>", "exec"), scope)
    return scope["build"]
