"""The "emit" pass of compiler.SOURCE.

Emit Python source from gast: one statement per line, comment markers as comments."""
from __future__ import annotations

import ast
import math
import re

import gast

from .astutil import COMMENT_MARK, walk_statements


def _infinity(value: float) -> ast.expr:
    """An infinite float constant reads `math.inf` (ast.unparse would write 1e309)."""
    inf = ast.Attribute(value=ast.Name(id="math", ctx=ast.Load()), attr="inf", ctx=ast.Load())
    return ast.UnaryOp(op=ast.USub(), operand=inf) if value < 0 else inf


_AST_CLASS: dict = {}


def _to_ast(node):
    """The standard-library tree ast.unparse prints, made from a gast tree in one recursive copy (gast's
    own gast_to_ast, a NodeTransformer that builds every node through keyword arguments, took two thirds
    of emission). Fields the ast class lacks (a Name's annotation) are dropped; parameters become
    ast.arg; infinite floats become `math.inf`; statements get the line attribute unparse reads."""
    if isinstance(node, list):
        return [_to_ast(x) for x in node]
    if not isinstance(node, gast.AST):
        return node
    kind = type(node)
    if kind is gast.Constant and isinstance(node.value, float) and math.isinf(node.value):
        return _infinity(node.value)
    if kind is gast.arguments:
        return ast.arguments(posonlyargs=[_arg(a) for a in node.posonlyargs], args=[_arg(a) for a in node.args],
                             vararg=_arg(node.vararg), kwonlyargs=[_arg(a) for a in node.kwonlyargs],
                             kw_defaults=_to_ast(node.kw_defaults), kwarg=_arg(node.kwarg),
                             defaults=_to_ast(node.defaults))
    if kind is gast.ExceptHandler and node.name is not None:
        return ast.ExceptHandler(type=_to_ast(node.type), name=node.name.id, body=_to_ast(node.body))
    cls = _AST_CLASS.get(kind)
    if cls is None:
        cls = _AST_CLASS[kind] = getattr(ast, kind.__name__)
    new = cls()
    for f in cls._fields:
        if hasattr(node, f):
            setattr(new, f, _to_ast(getattr(node, f)))
    if "lineno" in cls._attributes:
        new.lineno = getattr(node, "lineno", None) or 1
    return new


def _arg(node):
    if node is None:
        return None
    return ast.arg(arg=node.id, annotation=_to_ast(node.annotation), type_comment=node.type_comment)


def to_source(node) -> str:
    for n in walk_statements([node]):   # a branch emptied by dead-code removal still needs a statement
        if isinstance(n, (gast.If, gast.For, gast.While, gast.FunctionDef)) and not n.body:
            n.body = [gast.Pass()]
    text = ast.unparse(_to_ast(node))
    pattern = re.compile(r"^(\s*)(\"\"\"|'''|['\"])" + re.escape(COMMENT_MARK) + r"(.*)\2$")
    lines = []
    for line in text.splitlines():
        m = pattern.match(line)
        if m:
            body = m.group(3).encode().decode("unicode_escape") if "\\" in m.group(3) else m.group(3)
            lines.append(f"{m.group(1)}# {body}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"
