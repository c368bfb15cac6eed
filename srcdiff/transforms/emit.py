"""Pass 10: emit Python source from gast: one statement per line, comment markers as comments."""
from __future__ import annotations

import ast
import math
import re

import gast

from .astutil import COMMENT_MARK


class _InfinityByName(ast.NodeTransformer):
    """An infinite float constant reads `math.inf` (ast.unparse would write 1e309)."""
    def visit_Constant(self, node):
        if isinstance(node.value, float) and math.isinf(node.value):
            inf = ast.Attribute(value=ast.Name(id="math", ctx=ast.Load()), attr="inf", ctx=ast.Load())
            return ast.UnaryOp(op=ast.USub(), operand=inf) if node.value < 0 else inf
        return node


def to_source(node) -> str:
    for n in gast.walk(node):   # a branch emptied by dead-code removal still needs a statement
        if isinstance(n, (gast.If, gast.For, gast.While, gast.FunctionDef)) and not n.body:
            n.body = [gast.Pass()]
    tree = _InfinityByName().visit(gast.gast_to_ast(node))
    ast.fix_missing_locations(tree)
    text = ast.unparse(tree)
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
