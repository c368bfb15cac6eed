"""`parse(text)`: the tree `gast.parse(text)` makes, node for node, made several times faster.

gast.parse is ast.parse, then gast's converter, an ast.NodeTransformer that looks each node's visitor up by
name and builds its gast node through a dict comprehension of its fields: three quarters of gast.parse, and
half of the parse pass on a 1 000-statement function. Here the converter's work for each ast class is
planned once (its gast class, fields and position attributes, or the converter's own visitor for the few
classes it treats apart: names, parameters, function and class definitions, exception handlers), and
the tree is copied by one recursive function. Those visitors are gast's own, called with this copy for
their children, so the special cases stay gast's; every other node is built as gast's generic_visit builds
it (the fields the ast node has, in order, then its position attributes), and a class gast lacks gives
None, as there."""
from __future__ import annotations

import ast

import gast
from gast.ast3 import Ast3ToGAst

_NAME, _GAST_NAME = ast.Name, gast.Name
_PLAN: dict = {}        # ast class -> (gast's own visitor or None, gast class or None, fields, attributes)
_MISSING = object()


class _Visitors(Ast3ToGAst):
    """gast's converter, its children converted by `_copy` (its visitors call `_visit` on them)."""

    def _visit(self, node):
        return _copy(node)


_VISITORS = _Visitors()


def parse(text: str) -> gast.Module:
    """gast.parse(text)."""
    return _copy(ast.parse(text))


def _plan(kind) -> tuple:
    name = kind.__name__
    method = "visit_" + name      # (gast's own visitor, not ast.NodeVisitor's visit_Constant: that one is generic)
    own = (getattr(_VISITORS, method)
           if getattr(Ast3ToGAst, method, None) is not getattr(ast.NodeTransformer, method, None) else None)
    plan = _PLAN[kind] = (own, getattr(gast, name, None), kind._fields, kind._attributes)
    return plan


def _copy(node):
    kind = type(node)
    if kind is list:
        return [_copy(x) for x in node]
    plan = _PLAN.get(kind)
    if plan is None:
        if not isinstance(node, ast.AST):
            return node
        plan = _plan(kind)
    own, cls, fields, attributes = plan
    if kind is _NAME:       # (gast's visit_Name, then ast.copy_location of a parsed node's four positions)
        new = _GAST_NAME(node.id, _copy(node.ctx), None, None)
        new.lineno, new.col_offset, new.end_lineno, new.end_col_offset = (
            node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        return new
    if own is not None:
        return own(node)
    if cls is None:
        return None
    values = {}
    for f in fields:
        v = getattr(node, f, _MISSING)
        if v is not _MISSING:
            values[f] = _copy(v) if type(v) is list or isinstance(v, ast.AST) else v
    for a in attributes:        # (then the positions, set as attributes after the fields)
        v = getattr(node, a, _MISSING)
        if v is not _MISSING:
            values[a] = v
    new = cls.__new__(cls)      # (as cls(**values) makes it: gast's constructor puts keywords in __dict__)
    new.__dict__ = values
    return new
