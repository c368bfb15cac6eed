"""0-d arrays a function makes (`s = np.zeros(())`) as the numbers they hold, where nothing can tell the two apart.

NumPy computes arithmetic on a 0-d array as a scalar (`s + x[i] * w` of a 0-d `s` is an np.float64), so an
accumulator started as `s = np.zeros(())` and rebound in a loop is a 0-d array before the loop and a number after
one step: Numba, which gives each name one type, could not compile it ("Cannot unify array(float64, 0d, C) and
float64"). A write `s[()] = v` (or `s[...] = v`) had an adjoint that read `d_s[()]` of an adjoint that arithmetic
made a number (an error in both backends). Both are the number's value: `s = np.zeros(())` becomes `s = 0.0`, a
write `s[()] = v` becomes `s = float(v)` (NumPy casts what it writes into the float array), a read `s[()]` is `s`.

Only where the number cannot differ from the array: `s` is no parameter, and every read of it is a value (an
operand, an argument of a NumPy or math function that makes no view of it, a returned value); reads that give the
array itself another name (`t = s`, `[s]`, a call of your function, `np.reshape(s, 1)`, `s.shape`) leave `s` an
array. Writes into it are rewritten only where every binding of `s` is such a factory or `s += v` (which writes
into a 0-d array), so that `s` is the one 0-d array throughout.
"""
from __future__ import annotations

import ast

import gast

from . import annotations as anno
from .astutil import Transformer, const, copy_loc, dotted_name, load, store, walk
from .parse import Unit

# the factories of a 0-d float array and the number each holds (np.full's is its fill value)
_FILLS = {"np.zeros": 0.0, "np.empty": 0.0, "np.ones": 1.0}
_FLOAT_DTYPES = {"float", "np.float64", "np.double"}
# NumPy functions whose result is (or may be) a view of their argument, or that tell an array from a number
_ARRAY_READS = {"np.reshape", "np.ravel", "np.asarray", "np.asanyarray", "np.ascontiguousarray", "np.asfortranarray",
                "np.atleast_1d", "np.atleast_2d", "np.atleast_3d", "rt.atleast_3d", "np.squeeze", "np.expand_dims", "rt.expand_dims",
                "np.transpose", "np.broadcast_to", "np.shape", "np.ndim", "np.size", "np.copyto", "np.put", "len",
                "isinstance", "type", "np.isscalar"}
_VALUE_BUILTINS = {"float", "abs", "min", "max", "int", "bool", "round"}


def numbers_of_0d_locals(unit: Unit) -> Unit:
    """Rewrite the 0-d arrays `unit`'s function makes as numbers where that is NumPy's value (module docstring)."""
    fn = unit.node
    parents = {id(c): p for p in walk(fn) for c in ast.iter_child_nodes(p)}
    uses: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Name):
            uses.setdefault(n.id, []).append(n)
    params = {a.id for a in (fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs) if isinstance(a, gast.Name)}
    reads, writes, factories = set(), {}, {}
    for name, nodes in uses.items():
        if name in params or not any(_fill(parents.get(id(n))) is not None and parents[id(n)].targets[0] is n
                                     for n in nodes):
            continue
        found = _classify(name, nodes, parents)
        if found is not None:
            made, written, read = found
            factories.update(made)
            writes.update(written)
            reads |= read
    if factories:
        _Rewrite(factories, writes, reads).visit(fn)
    return unit


def _classify(name, nodes, parents):
    """({id: factory assignment}, {id: write assignment}, {ids of `s[()]` reads}) of the name whose `nodes` these
    are, or None where a read or binding of it may tell the array from its number."""
    made, written, read, aliased, rebound = {}, {}, set(), False, False
    for n in nodes:
        p = parents.get(id(n))
        if isinstance(n.ctx, gast.Store):
            if isinstance(p, gast.Assign) and p.targets == [n] and _fill(p) is not None:
                made[id(p)] = p
            elif not (isinstance(p, gast.Assign) and p.targets == [n] and anno.get(p, anno.IN_PLACE)
                      and isinstance(p.value, gast.BinOp) and isinstance(p.value.left, gast.Name)
                      and p.value.left.id == name):
                rebound = True      # (bound to another value: `s = s + x[i] * w` is NumPy's number, or an array)
            continue
        if not isinstance(n.ctx, gast.Load):
            return None
        if isinstance(p, gast.Subscript) and p.value is n:
            if not _whole(p.slice):
                return None
            assign = parents.get(id(p))
            if isinstance(p.ctx, gast.Store) and isinstance(assign, gast.Assign) and assign.targets == [p]:
                written[id(assign)] = assign
            elif isinstance(p.ctx, gast.Load):
                read.add(id(p))
            else:
                return None
            continue
        use = _use(n, p, parents)
        if use is None:
            return None
        aliased |= use == "alias"
    if aliased or (rebound and (written or read)):
        return None
    return made, written, read


def _use(n, p, parents):
    """"value" where the read `n` (whose parent is `p`) uses only the number held, "alias" where it names the
    array (so that a write into it would show there), None where it tells an array from a number."""
    if isinstance(p, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.BoolOp, gast.Return, gast.IfExp)):
        return "value"
    if isinstance(p, gast.Subscript) and p.slice is n:
        return "value"
    if isinstance(p, (gast.Tuple, gast.List)) and isinstance(parents.get(id(p)), gast.Return):
        return "value"
    if isinstance(p, gast.Call) and any(a is n for a in p.args):
        name = dotted_name(p.func) or ""
        if name in _ARRAY_READS:
            return None
        if name.startswith(("np.", "math.")) or name in _VALUE_BUILTINS:
            return "value"
        return "alias"      # (your function, which may write into it)
    if isinstance(p, (gast.Assign, gast.Tuple, gast.List, gast.Dict, gast.Set, gast.Starred)):
        return "alias"
    return None


def _whole(index) -> bool:
    """`()` or `...`: the index of a 0-d array's one element."""
    return (isinstance(index, gast.Tuple) and not index.elts) or (
        isinstance(index, gast.Constant) and index.value is Ellipsis)


def _fill(s):
    """The value (a gast expression) a 0-d float array factory `s = np.zeros(())` assigns holds, else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.Call)):
        return None
    v, name = s.value, dotted_name(s.value.func)
    number = _array_of_a_number(v)
    if number is not None:
        return const(number)
    shape = v.args[0] if v.args else next((k.value for k in v.keywords if k.arg == "shape"), None)
    if not (isinstance(shape, gast.Tuple) and not shape.elts):
        return None
    rest = v.args[1:]
    keywords = {k.arg: k.value for k in v.keywords if k.arg != "shape"}
    dtype = keywords.pop("dtype", None)
    if dtype is not None and dotted_name(dtype) not in _FLOAT_DTYPES:
        return None
    if name in _FILLS and not rest and not keywords:
        return const(_FILLS[name])
    if name == "np.full" and len(rest) + len(keywords) == 1:
        value = rest[0] if rest else keywords.get("fill_value")
        if value is None:
            return None
        if isinstance(value, gast.Constant) and type(value.value) in (int, float):
            return const(float(value.value))
        return gast.Call(func=load("float"), args=[value], keywords=[])
    return None


def _array_of_a_number(v):
    """The float a 0-d array of a number literal holds, `np.array(0.5)` / `np.asarray(1.0)` (rt.array by now:
    canonicalize.py), also cast to a float dtype (`np.asarray(0.0, dtype=float)`), else None; of an int literal only
    where it is cast to a float dtype (np.array(3) holds an int: a float written into it is truncated)."""
    cast = None
    if (dotted_name(v.func) == "rt.astype" and len(v.args) in (2, 3) and not v.keywords
            and isinstance(v.args[0], gast.Call)):
        cast, v = v.args[1], v.args[0]
    if not (dotted_name(v.func) in ("rt.array", "np.array", "np.asarray") and len(v.args) == 1 and not v.keywords
            and isinstance(v.args[0], gast.Constant) and type(v.args[0].value) in (int, float)):
        return None
    if cast is not None and dotted_name(cast) not in _FLOAT_DTYPES:
        return None
    if cast is None and type(v.args[0].value) is not float:
        return None
    return float(v.args[0].value)


def _floats(e, name) -> bool:
    """Whether `e` is a float without a cast: a float literal, the number itself, or arithmetic on one."""
    if isinstance(e, gast.Constant):
        return type(e.value) is float
    if isinstance(e, gast.Name):
        return e.id == name
    if isinstance(e, gast.BinOp):
        return _floats(e.left, name) or _floats(e.right, name)
    if isinstance(e, gast.UnaryOp):
        return _floats(e.operand, name)
    return False


class _Rewrite(Transformer):
    """The rewrite itself: factories -> numbers, writes -> bindings, reads of the element -> the name."""

    def __init__(self, factories, writes, reads):
        self.factories, self.writes, self.reads = factories, writes, reads

    def visit_Assign(self, node):
        self.generic_visit(node)
        if id(node) in self.factories:
            node.value = copy_loc(_fill(node), node.value)
        elif id(node) in self.writes:
            name = node.targets[0].value.id
            node.targets = [copy_loc(store(name), node.targets[0])]
            if not _floats(node.value, name):
                node.value = copy_loc(gast.Call(func=load("float"), args=[node.value], keywords=[]), node.value)
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if id(node) in self.reads:
            return copy_loc(load(node.value.id), node)
        return node
