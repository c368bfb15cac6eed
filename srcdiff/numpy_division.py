"""jit=False: a generated function whose derivative code divided two Python floats by zero runs again with its
derivatives' divisions as NumPy's (inf or nan, with NumPy's warning) instead of raising ZeroDivisionError.

Why: the Python backend runs on NumPy scalars where it can (specialisations.run_scalars), but Python floats remain:
the seed `d_result = 1.0`, `math.sqrt(a)`'s value, and every Python float argument beside float32 values (which
stays one, as NumPy computes float32 with it in float32, as f does). `d_result / (2.0 * result1)` of
`math.sqrt(a)` at a = 0 then raised where f itself does not divide (and where jit=True gives inf). The source
srcdiff shows and runs stays as written; only a call that raised this way runs the twin made here, whose
statements that assign a derivative (`d_...` names: adjoints and tangents) divide with np.true_divide. A division
in the function's own lines is left as it is: where f raises, srcdiff reports it at the user's line as before.
"""
from __future__ import annotations

import ast
import sys

_TWINS: dict = {}      # id(generated function) -> (the function, its twin or None)
_MADE: dict = {}       # id(twin) -> twin: a twin that raises too has none (the error is f's own, or not a division's)


class _Divisions(ast.NodeTransformer):
    """`a / b` -> `np.true_divide(a, b)` inside the statements given to visit."""

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if not isinstance(node.op, ast.Div):
            return node
        fn = ast.Attribute(value=ast.Name(id="np", ctx=ast.Load()), attr="true_divide", ctx=ast.Load())
        return ast.copy_location(ast.Call(func=fn, args=[node.left, node.right], keywords=[]), node)


def _assigns_a_derivative(stmt) -> bool:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
        stmt, (ast.AugAssign, ast.AnnAssign)) else []
    names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return bool(names) and all(n.startswith("d_") for n in names)


def _make_twin(fn):
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    try:
        with open(code.co_filename) as fh:
            tree = ast.parse(fh.read(), code.co_filename)
    except (OSError, SyntaxError, ValueError):
        return None
    changed = False
    for stmt in ast.walk(tree):
        if _assigns_a_derivative(stmt) and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
                                               for n in ast.walk(stmt)):
            _Divisions().visit(stmt)
            changed = True
    if not changed:
        return None
    space = dict(fn.__globals__) if module is None else dict(module.__dict__)
    exec(compile(ast.fix_missing_locations(tree), code.co_filename, "exec"), space)
    twin = space.get(fn.__name__)
    return twin if callable(twin) else None


def numpy_division_twin(fn, exc):
    """The twin of generated function `fn` (module docstring) to run again after `exc`, or None: `exc` is not a
    ZeroDivisionError, or no derivative statement of fn's module divides."""
    if not isinstance(exc, ZeroDivisionError) or _MADE.get(id(fn)) is fn:
        return None
    hit = _TWINS.get(id(fn))
    if hit is None or hit[0] is not fn:
        hit = (fn, _make_twin(fn))
        _TWINS[id(fn)] = hit
        if hit[1] is not None:
            _MADE[id(hit[1])] = hit[1]
    return hit[1]
