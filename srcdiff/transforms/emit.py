"""Pass 10: emit Python source from gast: one statement per line, comment markers as comments."""
from __future__ import annotations

import ast
import re

import gast

from .astutil import COMMENT_MARK


def to_source(node) -> str:
    for n in gast.walk(node):   # a branch emptied by dead-code removal still needs a statement
        if isinstance(n, (gast.If, gast.For, gast.While, gast.FunctionDef)) and not n.body:
            n.body = [gast.Pass()]
    tree = gast.gast_to_ast(node)
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
