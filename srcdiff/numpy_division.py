"""jit=False: the derivative statements of a generated module divide as NumPy does (inf or nan, with NumPy's warning)
where Python would raise ZeroDivisionError, decided when the module is loaded, so that no call runs twice.

Why: the Python backend runs on NumPy scalars where it can (specialisations.run_scalars), but Python floats remain:
the seed `d_result = 1.0`, `math.sqrt(a)`'s value, and every Python float argument beside float32 values (which
stays one, as NumPy computes float32 with it in float32, as f does). `d_result / (2.0 * result1)` of
`math.sqrt(a)` at a = 0 then raised where f itself does not divide (and where jit=True gives inf).

How: the module that runs (backends.exec_source) is compiled from its source with each division in a statement that
assigns a derivative (`d_...` names: adjoints and tangents) written `_srcdiff_divide(a, b)`: Python's `a / b`, and
np.true_divide's inf or nan where that raises ZeroDivisionError (two Python numbers, the divisor 0). Its types stay
Python's (a Python float of two) except there. The source srcdiff shows, writes and reports stays as written,
line for line the code that runs. A division in the function's own lines is left as it is: where f raises, srcdiff
reports it at the user's line as before.

Before (h29b), a call that raised so ran again through a twin of the module that divided with np.true_divide: the
function's side effects before the division (a print, a counter a closure keeps) happened twice.
"""
from __future__ import annotations

import ast

import numpy as np

DIVIDE = "_srcdiff_divide"      # the name the compiled module calls (bound by backends.exec_source)


def divide(a, b):
    """a / b, as NumPy divides (inf or nan, with its warning) where Python raises ZeroDivisionError."""
    try:
        return a / b
    except ZeroDivisionError:
        return np.true_divide(a, b)


class _Divisions(ast.NodeTransformer):
    """`a / b` -> `_srcdiff_divide(a, b)` inside the statements given to visit."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Div):
            return node
        fn = ast.Name(id=DIVIDE, ctx=ast.Load())
        return ast.copy_location(ast.Call(func=fn, args=[node.left, node.right], keywords=[]), node)


def _assigns_a_derivative(stmt) -> bool:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
        stmt, (ast.AugAssign, ast.AnnAssign)) else []
    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return bool(names) and all(n.startswith("d_") for n in names)


def derivatives_dividing_as_numpy(source: str, path: str):
    """The code object of `source` (compiled as from `path`) whose derivative statements divide with `divide`, or
    None where no derivative statement divides (the module docstring)."""
    tree = ast.parse(source, path)
    changed = False
    for stmt in ast.walk(tree):
        if _assigns_a_derivative(stmt) and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
                                               for n in ast.walk(stmt)):
            _Divisions().visit(stmt)
            changed = True
    return compile(ast.fix_missing_locations(tree), path, "exec") if changed else None
