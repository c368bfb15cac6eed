"""Constants out of loops: `buf = np.array((1.0, -0.5))` in a loop body is made once, before the loop.

Made in the loop, each iteration's array was a value of that iteration: a while loop's forward sweep pushed
it, or the scalars read from it (`y1 = buf[0]`), onto the tape every iteration, for the backward sweep to pop
the same numbers back; a helper inlined into a loop computed its constants (`np.sum(logsumexp(np.ones((2, 4))
* -0.7, axis=1))`) and taped them each iteration. A person makes such values once. Moved (on the SSA unit,
before the derivative is made): then nothing about them varies by iteration, and the backward sweep reads them
where they are.

A constant here is a statement binding a name once from numbers and other constants only, by arithmetic
(+, -, *), an element at a constant index, `np.array` of numbers, `np.ones`/`np.zeros` of a constant shape,
`np.arange` of integers, or
one of the library functions in SAFE and AXIS (new values) and VIEWS (a view, itself a constant), which srcdiff evaluates when it compiles: one that
fails, warns or makes more than MAX_SIZE numbers is not one. Only where it is the same program: the statement is
in a loop body (an array constant also in a branch of it: a stack kept it for each iteration that ran the branch,
`np.arange(2)[:, None]` of nested fuzz seed 1008231, and a gradient differentiated again kept it once more), what
it reads is bound before the loop or moved before it, and an array constant is only ever read by element or by
arithmetic, a comparison, SAFE functions, other constants, or (an integer one) as an index -- nothing can write
into it, view it or keep it. Made before a loop that runs no iteration, or a branch that is not taken, it costs
its computation only: it cannot fail (it did not when evaluated)."""
from __future__ import annotations

import warnings

import gast
import numpy as np

from ..rules import fuses_under_numba, implementation, names_with
from .astutil import dotted_name, walk, walk_names, walk_statements

MAX_SIZE = 4096
# the reductions, and every elementwise NumPy ufunc of the rule table (one place knows a primitive: srcdiff/rules)
SAFE = {"np.sum": np.sum, "np.mean": np.mean, "np.max": np.max, "np.min": np.min}
SAFE.update({n: implementation(n) for n in names_with("elementwise") if n.startswith("np.") and fuses_under_numba(n)
             and implementation(n).nin == 1})
AXIS = {"rt.logsumexp": lambda a, k: np.log(np.sum(np.exp(a - np.max(a, axis=k, keepdims=True)), axis=k))
        + np.max(a, axis=k)}     # (array, int axis): new values
VIEWS = {"rt.expand_dims": np.expand_dims}   # a view, bound to a constant of its own (read as safely)
_LOOPS = (gast.For, gast.While)
_OPS = {gast.Add: np.add, gast.Sub: np.subtract, gast.Mult: np.multiply}


def hoist_constant_arrays(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn` (SSA) with its loops' constants before the outermost loop around them (see the module's
    docstring)."""
    if not any(type(t) in _LOOPS for t in walk_statements(fn.body)):
        return fn       # (no loop: nothing to hoist; a straight-line function is not walked)
    stores: dict = {}
    for n in walk_names(fn):
        if not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    for t in walk(fn):
        if isinstance(t, (gast.AugAssign, gast.For)):
            for n in walk_names(t.target):
                stores[n.id] = stores.get(n.id, 0) + 2
    known = _constants(fn, stores)
    if not known:
        return fn

    def movable(s, defined) -> bool:
        return (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and s.targets[0].id in known
                and all(n.id in defined for n in walk_names(s.value) if n.id not in ("np", "rt")))

    def block(stmts, defined):
        """A block outside every loop: each loop in it gets its movable statements before it."""
        out = []
        defined = set(defined)
        for s in stmts:
            if isinstance(s, (gast.For, gast.While)):
                taken = []
                s.body = collect(s.body, taken, defined) or [gast.Pass()]
                k = len(out)     # (before the loop's header: a while loop's test, computed before it)
                while k and getattr(out[k - 1], "lineno", None) == getattr(s, "lineno", -1):
                    k -= 1
                out[k:k] = taken
            elif isinstance(s, gast.If):
                s.body, s.orelse = block(s.body, defined), block(s.orelse, defined)
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                defined.add(s.targets[0].id)
            out.append(s)
        return out

    def collect(stmts, taken, defined, arrays=False):
        """A loop body without its movable statements (into `taken`; `defined` grows with them), nested loops'
        bodies too, and a branch's array constants (`arrays`; a branch's scalar is no value a stack keeps, and
        a sum's start, `s = 0.0`, is made an array's zeros by kind where it is)."""
        out = []
        for s in stmts:
            if movable(s, defined) and (not arrays or isinstance(known[s.targets[0].id], np.ndarray)):
                taken.append(s)
                defined.add(s.targets[0].id)
                continue
            if isinstance(s, (gast.For, gast.While)):
                s.body = collect(s.body, taken, defined, arrays) or [gast.Pass()]
            elif isinstance(s, gast.If):    # arrays only (made before the loop where its branch may not run: it
                s.body = collect(s.body, taken, defined, True) or [gast.Pass()]   # costs its computation only)
                s.orelse = collect(s.orelse, taken, defined, True)
            out.append(s)
        return out

    fn.body = block(fn.body, set())
    return fn


def _constants(fn, stores) -> dict:
    """{name: its value} of the function's constants (see the module's docstring), to a fixed point: a name
    read where a constant may not be read is none, nor what is computed from it."""
    stmts = [s for s in walk(fn) if isinstance(s, gast.Assign) and len(s.targets) == 1
             and isinstance(s.targets[0], gast.Name) and stores.get(s.targets[0].id) == 1]
    excluded: set = set()
    while True:
        known: dict = {}
        changed = True
        while changed:
            changed = False
            for s in stmts:
                name = s.targets[0].id
                if name in known or name in excluded:
                    continue
                v = _evaluate(s.value, known)
                if v is not _NO:
                    known[name] = v
                    changed = True
        bad = {a for a, v in known.items() if isinstance(v, np.ndarray)} - _read_safely(fn, known)
        if not bad:
            return known
        excluded |= bad


class _No:
    pass


_NO = _No()


def _evaluate(e, known):
    """The value of the expression `e` of constants, else _NO."""
    try:
        with warnings.catch_warnings(), np.errstate(all="raise"):
            warnings.simplefilter("error")
            v = _value(e, known)
    except Exception:   # (anything it raises: then it is no constant, and stays where it is)
        return _NO
    if isinstance(v, tuple) and _shape(v):
        return v    # (a shape, `(2, 4)` of np.ones((2, 4)))
    if v is _NO or not isinstance(v, (int, float, np.ndarray, np.floating, np.integer)) or isinstance(v, bool):
        return _NO
    if isinstance(v, np.ndarray) and (v.size > MAX_SIZE or v.dtype.kind not in "fi"):
        return _NO
    return v


def _value(e, known):
    if isinstance(e, gast.Constant):
        return e.value if type(e.value) in (int, float) else _NO
    if isinstance(e, gast.Name):
        return known.get(e.id, _NO)
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        v = _value(e.operand, known)
        return _NO if v is _NO else -v
    if isinstance(e, gast.BinOp) and type(e.op) in _OPS:
        a, b = _value(e.left, known), _value(e.right, known)
        return _NO if a is _NO or b is _NO else _OPS[type(e.op)](a, b)
    if isinstance(e, gast.Subscript) and isinstance(e.slice, gast.Constant) and type(e.slice.value) is int:
        a = _value(e.value, known)
        return a[e.slice.value] if isinstance(a, np.ndarray) and a.ndim == 1 else _NO
    if isinstance(e, (gast.Tuple, gast.List)):
        items = [_value(x, known) for x in e.elts]
        return _NO if any(x is _NO for x in items) else tuple(items)
    if isinstance(e, gast.Call) and not e.keywords:
        name = dotted_name(e.func)
        args = [_value(a, known) for a in e.args]
        if any(a is _NO for a in args):
            return _NO
        if name == "np.array" and len(args) == 1 and isinstance(args[0], tuple) and \
                all(isinstance(x, (int, float)) for x in args[0]):
            return np.array(args[0])
        if name == "np.arange" and 1 <= len(args) <= 3 and all(type(a) is int for a in args) and \
                len(range(*args)) <= MAX_SIZE:
            return np.arange(*args)
        if name in ("np.ones", "np.zeros") and len(args) == 1 and _shape(args[0]):
            return (np.ones if name == "np.ones" else np.zeros)(args[0])
        if name in SAFE and len(args) == 1:
            return SAFE[name](args[0])
        if name in AXIS and len(args) == 2 and isinstance(args[1], (int, np.integer)):
            return AXIS[name](args[0], args[1])
        if name in VIEWS and len(args) == 2 and isinstance(args[1], (int, np.integer)):
            return VIEWS[name](args[0], args[1])
    return _NO


def _shape(v) -> bool:
    if isinstance(v, (int, np.integer)):
        v = (v,)
    return (isinstance(v, tuple) and all(isinstance(k, (int, np.integer)) and 0 <= k for k in v)
            and int(np.prod(v)) <= MAX_SIZE)


def _read_safely(fn, known) -> set:
    """The array constants every read of which is an element's, an operand's of arithmetic or a comparison, an
    argument of a SAFE function, or in a constant's statement."""
    parents = {}
    for p in walk(fn):
        for child in gast.iter_child_nodes(p):
            parents[id(child)] = p
    ok = {a for a, v in known.items() if isinstance(v, np.ndarray)}
    for n in walk_names(fn):
        if n.id not in ok or not isinstance(n.ctx, gast.Load):
            continue
        p = parents.get(id(n))
        if isinstance(p, gast.Subscript) and p.value is n and isinstance(p.ctx, gast.Load) and \
                isinstance(p.slice, gast.Constant) and type(p.slice.value) is int and known[n.id].ndim == 1:
            continue    # (an element; of a matrix, a row would be a view)
        if isinstance(p, (gast.BinOp, gast.UnaryOp, gast.Compare)):
            continue
        if known[n.id].dtype.kind == "i" and _an_index(parents, n):
            continue    # (an integer array indexing another: read, never kept -- `M[rows, cols]` copies)
        if isinstance(p, gast.Call) and n in p.args[:1] and (dotted_name(p.func) in SAFE or dotted_name(p.func) in AXIS):
            continue
        if isinstance(p, gast.Call) and n in p.args[:1] and dotted_name(p.func) in VIEWS and _binds_known(parents, p, known):
            continue
        ok.discard(n.id)
    return ok


def _binds_known(parents, call, known) -> bool:
    """The call is the value of a constant's statement (`v = rt.expand_dims(c, 0)`, v a constant)."""
    st = parents.get(id(call))
    return (isinstance(st, gast.Assign) and st.value is call and isinstance(st.targets[0], gast.Name)
            and st.targets[0].id in known)


def _an_index(parents, n) -> bool:
    """`n` is an index of a subscript, alone or one of a tuple of them (`M[n, cols]`)."""
    p = parents.get(id(n))
    if isinstance(p, gast.Tuple):
        n, p = p, parents.get(id(p))
    return isinstance(p, gast.Subscript) and p.slice is n
