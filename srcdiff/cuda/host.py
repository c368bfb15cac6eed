"""What the host knows before the launch: trip counts and sizes evaluated over the batch (HostEval), and
per-example shapes folded into a function as constants (fold_shapes)."""
from __future__ import annotations

import ast
import copy

import numpy as np

from ..transforms import annotations as anno
from ..transforms.astutil import map_blocks
from .common import dotted


class HostEval:
    """Evaluates trip-count and size expressions on the host (vectorised over the batch).

    Known on the host: scalar arguments (their values, one per example when batched), the shapes of
    array arguments, the generated module's constants, and the function's straight-line integer
    locals computed from those (e.g. `n1 = 2 * n; n2 = n1 + 1` for `range(2 * n + 1)`), and the locals of a
    branch or a loop computed from literals only (learn). Values read out of arrays are not known: an expression
    that reads one is not evaluated."""

    _CALLS = {"max", "min", "len", "abs", "int"}

    def __init__(self, specs, consts=None):
        from types import SimpleNamespace
        self.env = {"max": np.maximum, "min": np.minimum, "len": len, "abs": np.abs, "np": np,
                    "rt": SimpleNamespace(max2=np.maximum, min2=np.minimum),
                    "int": lambda v: np.asarray(v).astype(np.int64), "__builtins__": {}}
        self.known = set()         # names whose values the env holds
        self.consts = set()        # the module's constants among them
        self.arrays = set()        # array arguments: only their shapes are known
        self.batched = set()       # names whose value differs between examples
        for k, v in (consts or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.env[k] = v
                self.known.add(k)
                self.consts.add(k)
        for s in specs:
            if s.shape is None:
                if s.host is not None:
                    self.env[s.name] = np.asarray(s.host)
                    self.known.add(s.name)
                    if s.batched:
                        self.batched.add(s.name)
            else:
                self.env[s.name] = np.empty(s.shape)
                self.arrays.add(s.name)

    def _pure(self, expr) -> bool:
        """Whether expr uses only what the host knows (no array element reads)."""
        def ok(e):
            if isinstance(e, ast.Constant):
                return isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
            if isinstance(e, ast.Name):
                return e.id in self.known
            if isinstance(e, ast.BinOp):
                return not isinstance(e.op, ast.MatMult) and ok(e.left) and ok(e.right)
            if isinstance(e, ast.UnaryOp):
                return isinstance(e.op, (ast.USub, ast.UAdd)) and ok(e.operand)
            if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
                return isinstance(e.value.value, ast.Name) and e.value.value.id in self.arrays and \
                    isinstance(e.slice, ast.Constant)
            if isinstance(e, ast.Attribute) and e.attr in ("size", "ndim"):
                return isinstance(e.value, ast.Name) and e.value.id in self.arrays
            if isinstance(e, ast.Tuple):        # a shape: `v1 = (2, n)` before `np.zeros(v1)`
                return all(ok(x) for x in e.elts)
            if isinstance(e, ast.Call) and dotted(e.func) in ("rt.max2", "rt.min2"):
                return not e.keywords and all(ok(a) for a in e.args)
            if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in self._CALLS:
                if e.func.id == "len":
                    return len(e.args) == 1 and isinstance(e.args[0], ast.Name) and e.args[0].id in self.arrays
                return not e.keywords and all(ok(a) for a in e.args)
            return False
        return ok(expr)

    def learn(self, body):
        """Add the straight-line scalar locals of a function body (assigned once, at the top level), and those
        assigned once in a branch or a loop to a literal (`v1_at0 = 2` of `np.zeros((2, 3))` after an early
        return: where any path reads it, it holds that literal) or to a value of such names only."""
        counts = {}
        for st in ast.walk(ast.Module(body=body, type_ignores=[])):
            tgts = st.targets if isinstance(st, ast.Assign) else [st.target] \
                if isinstance(st, (ast.AugAssign, ast.For)) else []
            for t in tgts:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        counts[n.id] = counts.get(n.id, 0) + 1
        for st in body:
            self._learn(st, counts)
        # in a branch or a loop: values of literals (`v1_at0 = 2`, max / min of them) and of names holding such values
        # only (`v1 = (v1_at0, v1_at1)`: forward mode over a gradient names the shape), all assigned once: where any
        # path reads one, it holds that value
        nested = [st for top in body if not isinstance(top, ast.Assign) for st in ast.walk(top)
                  if isinstance(st, ast.Assign)]
        fixed, grew = set(self.consts), True
        while grew:
            grew = False
            for st in nested:
                if isinstance(st.targets[0], ast.Name) and st.targets[0].id not in fixed \
                        and _read_names(st.value) <= fixed and self._learn(st, counts):
                    fixed.add(st.targets[0].id)
                    grew = True

    def _learn(self, st, counts) -> bool:
        """Add the value of `st`, a scalar local assigned once from what the host knows; whether it did."""
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
            return False
        name = st.targets[0].id
        if counts.get(name) != 1 or name in self.known or not self._pure(st.value):
            return False
        v = self._eval(st.value)
        if v is None:
            return False
        self.env[name] = v
        self.known.add(name)
        if {n.id for n in ast.walk(st.value) if isinstance(n, ast.Name)} & self.batched:
            self.batched.add(name)
        return True

    def _eval(self, expr):
        try:
            with np.errstate(all="ignore"):
                v = np.asarray(eval(compile(ast.Expression(expr), "<trip>", "eval"), self.env))
        except Exception:
            return None
        return v if v.dtype.kind in "iuf" else None

    def const(self, expr: ast.expr, batched: set):
        """Value of expr when it depends on no batched argument (else None)."""
        if {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)} & (batched | self.batched):
            return None
        return self.max(expr)

    def shape(self, expr: ast.expr, batched: set):
        """The array shape `expr` (an int, a tuple of ints, or a name bound to either) gives for every example,
        or None when the host cannot know it or it differs between examples."""
        if isinstance(expr, ast.Tuple):
            dims = [self.const(x, batched) for x in expr.elts]
            return None if None in dims else tuple(dims)
        if {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)} & (batched | self.batched) or \
                not self._pure(expr):
            return None
        v = self._eval(expr)
        if v is None or v.ndim > 1 or v.dtype.kind not in "iu":
            return None
        return tuple(int(d) for d in v) if v.ndim else (int(v),)

    def max(self, expr: ast.expr):
        """Largest value of expr over the batch (None if the host cannot know it)."""
        if not self._pure(expr):
            return None
        v = self._eval(expr)
        if v is None:
            return None
        return int(np.max(v)) if np.size(v) else 0


def _read_names(e) -> set:
    """The names `e` reads other than the functions it calls (`rt.max2(2, 0)`, which forward mode over a gradient
    makes of its tape's `np.empty(max(2, 0))`, reads none)."""
    callees = {id(n) for c in ast.walk(e) if isinstance(c, ast.Call) for n in ast.walk(c.func)}
    return {n.id for n in ast.walk(e) if isinstance(n, ast.Name) and id(n) not in callees}


def fold_shapes(fn: ast.FunctionDef, shapes: dict, named=lambda name: False) -> ast.FunctionDef:
    """A copy of `fn` with the shapes of arrays whose per-example shape is fixed folded in as constants:
    `n = x.shape` (how the generated code spells `x.shape[0]`: `n = x.shape; n1 = n[0]`) is dropped and
    `n[k]` becomes the integer, any other use of `n` the tuple; `x.shape[k]` becomes the integer; the length of a
    range becomes its integer, or an expression where the step is a literal (_fold_range_lengths); then integer
    arithmetic of constants and names bound once to an integer (_constants; `named(name)`: a name a message
    shows as itself, the user's variable, not its value)."""
    fn = copy.deepcopy(fn)
    assigned = {}
    for n in ast.walk(fn):
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AugAssign, ast.For))
                  else []):
            for x in ast.walk(t):
                if isinstance(x, ast.Name):
                    assigned[x.id] = assigned.get(x.id, 0) + 1
    bound, origin = {}, {}
    for n in ast.walk(fn):
        if (isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                and assigned.get(n.targets[0].id) == 1 and isinstance(n.value, ast.Attribute)
                and n.value.attr == "shape" and isinstance(n.value.value, ast.Name)
                and n.value.value.id in shapes and assigned.get(n.value.value.id, 0) == 0):
            bound[n.targets[0].id] = tuple(shapes[n.value.value.id])
            origin[n.targets[0].id] = n.value

    def shape_of(e):
        if isinstance(e, ast.Name) and e.id in bound:
            return bound[e.id]
        if (isinstance(e, ast.Attribute) and e.attr == "shape" and isinstance(e.value, ast.Name)
                and e.value.id in shapes and assigned.get(e.value.id, 0) == 0):
            return tuple(shapes[e.value.id])
        return None

    def shape_text(e):
        """`x.shape`, the expression the shape `e` reads stands for (for messages: FOLDED_FROM)."""
        return copy.deepcopy(origin[e.id] if isinstance(e, ast.Name) else e)

    class Fold(ast.NodeTransformer):
        def visit_Subscript(self, e):
            shape = shape_of(e.value) if isinstance(e.ctx, ast.Load) else None
            try:
                k = ast.literal_eval(e.slice) if shape is not None else None
            except ValueError:
                k = None
            if type(k) is int and -len(shape) <= k < len(shape):
                return _folded(ast.Constant(shape[k]), ast.Subscript(shape_text(e.value), ast.Constant(k), ast.Load()),
                               e)
            self.generic_visit(e)
            return e

        def visit_Name(self, e):
            if e.id in bound and isinstance(e.ctx, ast.Load):
                items = [_folded(ast.Constant(v), ast.Subscript(shape_text(e), ast.Constant(k), ast.Load()), e)
                         for k, v in enumerate(bound[e.id])]
                return _folded(ast.Tuple(items, ast.Load()), shape_text(e), e)
            return e

        def _body(self, stmts):
            return [ast.copy_location(ast.Expr(ast.Constant(None)), st)   # no code; its line comment stays
                    if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and st.targets[0].id in bound
                    else st for st in stmts]

        def generic_visit(self, node):
            map_blocks(node, lambda b: self._body(b) if b else b)
            return super().generic_visit(node)

    fn = Fold().visit(fn) if bound or any(shape_of(n) for n in ast.walk(fn) if isinstance(n, ast.Attribute)) \
        else fn
    return _constants(_Arithmetic().visit(_fold_range_lengths(fn, assigned)), named)


def _constants(fn: ast.FunctionDef, named) -> ast.FunctionDef:
    """`fn` with the reads of each name bound once (not a parameter) to an integer constant as the integer, and the
    arithmetic that makes foldable in turn (`result1 = 3` of `a.shape[0]`, `result2 = result1 - 1`,
    `np.array((0, result2))`: ANF's names of the user's index list `[0, a.shape[0] - 1]`, integers written out).
    A read notes what a message shows (FOLDED_FROM): the name where `named(name)` (the user's `n` of
    `n = a.shape[0]`), else the constant's own expression (a temporary's: `a.shape[0]`)."""
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    done: set = set()
    for _ in range(8):
        stores: dict = {}
        for n in ast.walk(fn):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                stores[n.id] = stores.get(n.id, 0) + 1
        consts = {st.targets[0].id: st.value for st in ast.walk(fn)
                  if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                  and st.targets[0].id not in params | done and stores.get(st.targets[0].id) == 1
                  and isinstance(st.value, ast.Constant) and type(st.value.value) is int}
        if not consts:
            return fn
        done |= set(consts)

        class Put(ast.NodeTransformer):
            def visit_Name(self, e):
                c = consts.get(e.id)
                if c is None or not isinstance(e.ctx, ast.Load):
                    return e
                was = ast.Name(e.id, ast.Load()) if named(e.id) else anno.get(c, anno.FOLDED_FROM)
                new = ast.copy_location(ast.Constant(c.value), e)
                return anno.set(new, anno.FOLDED_FROM, copy.deepcopy(was)) if was is not None else new
        fn = _Arithmetic().visit(Put().visit(fn))
    return fn


def _folded(new, old, at):
    """`new`, a constant folded in at node `at`, noting the expression `old` it stands for (anno.FOLDED_FROM)."""
    return anno.set(ast.copy_location(new, at), anno.FOLDED_FROM, old)


_INT_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
            ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}


class _Arithmetic(ast.NodeTransformer):
    """Integer arithmetic of constants as its value (`3 - 1` of the user's `a.shape[0] - 1` with the shape folded in:
    2), noting the expression (FOLDED_FROM): an index list `[0, a.shape[0] - 1]` is then integers written out, and
    `a[:a.shape[0] - 1]` a slice of constant bounds, as NumPy evaluates them (Python's integers; a division or
    remainder by zero is left to raise where it did)."""

    def visit_BinOp(self, e):
        self.generic_visit(e)
        a, b, op = e.left, e.right, _INT_OPS.get(type(e.op))
        if (op is None or not (isinstance(a, ast.Constant) and isinstance(b, ast.Constant))
                or type(a.value) is not int or type(b.value) is not int
                or (isinstance(e.op, (ast.FloorDiv, ast.Mod)) and b.value == 0)):
            return e
        value = op(a.value, b.value)
        return _folded(ast.Constant(value), e, e) if abs(value) < 2 ** 62 else e


def _literal_range(e):
    """The range `e` writes with literal bounds (`range(2, -1, -1)`), or None."""
    if not (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "range"
            and 1 <= len(e.args) <= 3 and not e.keywords):
        return None
    try:
        bounds = [ast.literal_eval(a) for a in e.args]
    except ValueError:
        return None
    if any(type(b) is not int for b in bounds) or (len(bounds) == 3 and bounds[2] == 0):
        return None
    return range(*bounds)


def range_length(args):
    """The number of iterations of `range(*args)` as an expression, where the step is a literal (None else):
    `max((stop - start + step - 1) // step, 0)`, or with a negative step
    `max((start - stop - step - 1) // -step, 0)`."""
    if len(args) < 3:
        start, stop, step = (args[0] if len(args) == 2 else ast.Constant(0)), args[-1], 1
    else:
        start, stop = args[0], args[1]
        try:
            step = ast.literal_eval(args[2])
        except ValueError:
            return None
        if type(step) is not int or step == 0:
            return None
    lo, hi = (start, stop) if step > 0 else (stop, start)
    count = ast.BinOp(hi, ast.Sub(), lo)
    if abs(step) != 1:
        count = ast.BinOp(ast.BinOp(count, ast.Add(), ast.Constant(abs(step) - 1)), ast.FloorDiv(),
                          ast.Constant(abs(step)))
    return ast.Call(ast.Name("max", ast.Load()), [count, ast.Constant(0)], [])


def _fold_range_lengths(fn, assigned: dict):
    """`len(range(0, 2, 2))`, or `len(n1)` of `n1 = range(2, -1, -1)` bound once (of values bound once), as the
    integer where the bounds are literals, else as range_length's expression: a `for` over a range with a step (or
    reversed) counts its iterations so, and device code has no range objects (the binding goes where nothing else
    reads it)."""
    ranges = {n.targets[0].id: n.value for n in ast.walk(fn) if isinstance(n, ast.Assign) and len(n.targets) == 1
              and isinstance(n.targets[0], ast.Name) and assigned.get(n.targets[0].id) == 1
              and isinstance(n.value, ast.Call) and dotted(n.value.func) == "range"    # of values bound once
              and all(assigned.get(x.id, 0) <= 1 for x in ast.walk(n.value) if isinstance(x, ast.Name))}

    class Lengths(ast.NodeTransformer):
        def visit_Call(self, e):
            self.generic_visit(e)
            if isinstance(e.func, ast.Name) and e.func.id == "len" and len(e.args) == 1:
                a = ranges.get(e.args[0].id, e.args[0]) if isinstance(e.args[0], ast.Name) else e.args[0]
                r = _literal_range(a)
                if r is not None:
                    return ast.copy_location(ast.Constant(len(r)), e)
                count = range_length(copy.deepcopy(a.args)) if isinstance(a, ast.Call) and dotted(a.func) == "range" \
                    else None
                if count is not None:
                    return ast.fix_missing_locations(ast.copy_location(count, e))
            return e
    fn = Lengths().visit(fn)
    read = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    gone = set(ranges) - read
    if gone:
        for n in ast.walk(fn):
            map_blocks(n, lambda b: [ast.copy_location(ast.Expr(ast.Constant(None)), st)    # no code; its comment stays
                                     if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                                     and st.targets[0].id in gone else st for st in b])
    return fn
