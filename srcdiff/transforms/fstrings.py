"""f-strings -> one runtime call of their fields (the first step of desugar).

An f-string is text, which nothing differentiates; what matters is that its fields are ordinary expressions of the
function (a value a loop computes, `np.sum(x)`), which every later pass must see as they see any call's arguments,
and that the text is the one Python prints. So `f"step {i}: {loss:.3f}"` becomes `rt.fstring("step {}: {:.3f}", i,
loss)` (runtime/text.py: `str.format`, in an object-mode block under Numba, which formats no float with a spec).
"""
from __future__ import annotations

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import Transformer, const, copy_loc, dotted
from .parse import Unit


def to_format_calls(unit: Unit) -> None:
    """`f"step {i}: {loss:.3f}"` -> `rt.fstring("step {}: {:.3f}", i, loss)` (runtime/text.py): the fields' values
    become a call's arguments, which the passes after this one handle as any call's, and the text is made by
    `str.format` in both backends. A format spec holding a field of its own (`{x:.{n}f}`) is declined."""
    class Fstrings(Transformer):
        def visit_JoinedStr(self, node):
            template, values = [], []
            for part in node.values:
                if isinstance(part, gast.Constant):
                    template.append(str(part.value).replace("{", "{{").replace("}", "}}"))
                    continue
                field = "{" + ("" if part.conversion in (-1, None) else "!" + chr(part.conversion))
                spec = part.format_spec
                if spec is not None:
                    if not all(isinstance(v, gast.Constant) for v in spec.values):
                        fail(node, unit, "an f-string whose format spec holds a field of its own ({x:.{n}f})",
                             "write the spec out ({x:.3f}), or format with str.format outside the function")
                    field += ":" + "".join(str(v.value) for v in spec.values)
                template.append(field + "}")
                values.append(self.visit(part.value))
            made = gast.Call(func=dotted("rt.fstring"), args=[const("".join(template))] + values, keywords=[])
            return anno.set(copy_loc(made, node), anno.MADE)
    Fstrings().visit(unit.node)
