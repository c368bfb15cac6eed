"""Where a function of the user's returns lists, read off its source: jvp gives its value and tangent in the
structure f gives (a list where f returns a list display), as JAX's jvp does.

Why: generated code returns a list display of values as a tuple (a tuple holds arrays of different kinds, under
Numba too), so `srcdiff.jvp(f)` of `return [x * 2.0, np.sin(x)]` returned a tuple value and a tuple tangent where
f returns a list. The structure is read from f's `return` statements: each a list or tuple display (nested to any
depth), or a name bound once in f to one; where the returns disagree (a list in one branch, a tuple in another), the
returns whose shape the value has decide it (path_structure), and where those disagree on lists and tuples jvp is
declined (tuples on both paths were returned); where one returns something else, the generated code's structure is
kept.
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap

LEAF = "leaf"


def returned_structure(fn):
    """The structure every `return` of the user's function `fn` gives: LEAF, or ("list" | "tuple", [items]); None
    where it is unknown (no source, returns that disagree, a list built otherwise than by a display)."""
    fn = getattr(fn, "py_func", fn)
    if not inspect.isfunction(fn):
        return None
    return _structure(fn)


def has_list(structure) -> bool:
    """Whether a structure (returned_structure's) holds a list anywhere."""
    if not isinstance(structure, tuple):
        return False
    return structure[0] == "list" or any(has_list(s) for s in structure[1])


def restructured(value, structure):
    """`value` (a value or tangent of generated code: tuples for displays) with the lists of `structure`."""
    if not isinstance(structure, tuple) or not isinstance(value, (tuple, list)) or hasattr(type(value), "_fields"):
        return value
    kind, items = structure
    if len(items) != len(value):
        return value
    parts = [restructured(v, s) for v, s in zip(value, items)]
    return list(parts) if kind == "list" else tuple(parts)


@functools.lru_cache(maxsize=512)
def _structure(function, depth: int = 0):
    """returned_structure of the function object `function` (per function, not per code object: an equal code object
    of another module, on the same line of another file, reads that module's helpers)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function.__code__)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    fn = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if fn is None:
        return None
    return _def_structure(fn, _names_of(function), depth)


def _def_structure(fn, namespace, depth, each=None):
    """returned_structure of the def `fn` (parsed), whose calls of functions `namespace` names (and of the defs
    nested in it) give the structures those functions return: `return helper(x)` of a helper returning a list.
    `each`, a list: (line, structure) of each of fn's returns appended to it."""
    returns, bound, defs = [], {}, {}
    for n in _own_nodes(fn):
        if isinstance(n, ast.Return):
            returns.append(n.value)
        if isinstance(n, ast.FunctionDef):
            defs.setdefault(n.name, []).append(n)
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(
            n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.NamedExpr)) else []
        for t in targets:
            for m in ast.walk(t):
                if isinstance(m, ast.Name):
                    value = n.value if isinstance(n, ast.Assign) and t is m and len(n.targets) == 1 else None
                    bound.setdefault(m.id, []).append(value)
        if isinstance(n, (ast.Call, ast.Subscript, ast.Attribute)):   # (`out.append(v)`, `out[0] = v`: not a display's)
            base = n.func.value if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) else \
                n.value if not isinstance(n, ast.Call) else None
            if isinstance(base, ast.Name) and (isinstance(n, ast.Call) or isinstance(n.ctx, ast.Store)):
                bound.setdefault(base.id, []).append(None)
    if not returns:
        return None

    def called(name):
        """The structure the function `name` (a def nested here, bound once, or a function of the namespace)
        returns; None where unknown."""
        if depth >= 4:
            return None
        if name in defs or name in bound:
            nested = defs.get(name, [])
            return _def_structure(nested[0], namespace, depth + 1) if len(nested) == 1 and name not in bound \
                else None
        obj = namespace.get(name)
        if inspect.isfunction(obj):
            return _structure(obj, depth + 1)
        return None

    shapes = {repr(_of(r, bound, 0, called)) for r in returns}
    if each is not None:
        each.extend((r.lineno, _of(r, bound, 0, called)) for r in returns)
    return _of(returns[0], bound, 0, called) if len(shapes) == 1 else None


def path_structure(fn, value):
    """The structure `fn`'s returns give where they disagree (a list on one path, a tuple on another: the
    generated code returns tuples for both), read off `value`'s shape: (structure, None) where the returns that
    fit it give one structure; (None, lines) where returns of the same shape disagree on lists and tuples (the
    lines of those returns, in the def's source: which one ran, the value cannot tell); (None, None) where unknown."""
    fn = getattr(fn, "py_func", fn)
    if not inspect.isfunction(fn) or returned_structure(fn) is not None:
        return None, None
    each = _returns_of(fn)
    if not each or any(not isinstance(st, tuple) for _, st in each):   # (a return of a name or of a call whose
        return None, None                                                # structure is unknown: LEAF, not told apart)
    fits = [(line, st) for line, st in each if _fits(value, st)]
    kinds = {repr(st) for _, st in fits}
    if len(kinds) == 1:
        return fits[0][1], None
    if len(kinds) > 1 and any(has_list(st) for _, st in fits):
        return None, sorted(line + fn.__code__.co_firstlineno - 1 for line, _ in fits)
    return None, None


@functools.lru_cache(maxsize=512)
def _returns_of(function) -> tuple:
    """[(line in the def's source, structure)] of each `return` of the function object `function` (per function,
    as _structure)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function.__code__)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return ()
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if node is None:
        return ()
    each: list = []
    _def_structure(node, _names_of(function), 0, each)
    return tuple(each)


def _fits(value, structure) -> bool:
    """Whether `value` (generated code's: tuples for displays) has `structure`'s shape, lists and tuples alike."""
    if not isinstance(structure, tuple):
        return True
    if not isinstance(value, (tuple, list)) or hasattr(type(value), "_fields") or len(value) != len(structure[1]):
        return False
    return all(_fits(v, st) for v, st in zip(value, structure[1]))


def _names_of(fn) -> dict:
    names = dict(fn.__globals__)
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            names[name] = cell.cell_contents
        except ValueError:
            pass
    return names


def _own_nodes(fn):
    """The nodes of `fn`'s body, not of the functions, lambdas and classes defined in it."""
    todo = list(fn.body)
    while todo:
        n = todo.pop()
        yield n
        for c in ast.iter_child_nodes(n):
            if not isinstance(c, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                todo.append(c)


def _of(node, bound, depth, called):
    if isinstance(node, (ast.List, ast.Tuple)) and not any(isinstance(e, ast.Starred) for e in node.elts):
        return ("list" if isinstance(node, ast.List) else "tuple",
                [_of(e, bound, depth + 1, called) for e in node.elts])
    if isinstance(node, ast.Name) and depth < 8 and len(bound.get(node.id, ())) == 1 and \
            isinstance(bound[node.id][0], (ast.List, ast.Tuple, ast.Call)):
        return _of(bound[node.id][0], bound, depth + 1, called)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        got = called(node.func.id)
        return got if isinstance(got, tuple) else LEAF
    if isinstance(node, ast.Name) and any(isinstance(v, ast.List) or v is None for v in bound.get(node.id, ())) and \
            len(bound.get(node.id, ())) > 1:
        return None     # (a list bound or changed more than once: its structure is the generated code's)
    return LEAF
