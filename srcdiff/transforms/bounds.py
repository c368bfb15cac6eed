"""Jitted code only: bounds checks paid once per loop, not once per access.

Numba's `boundscheck=True` (srcdiff's default: an out-of-range index raises IndexError as the user's f
does, never garbage or a segfault) tests every integer index at every access: in a 20 000-step recurrence
that was most of the distance to a hand-written kernel. This pass proves, for one generated function, that
every subscript is in range given tests it writes into the code, and notes that on the function (the
annotation BOUNDS_PROVED, which the compiler hands on as generated.FunctionFacts) so that srcdiff.backends
compiles it with `boundscheck=False`; a function with a subscript it cannot prove is left
as it is (and keeps Numba's checks).

    y_tape = np.empty(max(n, 0))              y_tape = np.empty(max(n, 0))
    for i in range(n):                        # bounds of x[i], x[i - 1] (line 10), checked once for the loop below
        # line 10: y = y * x[i] + x[i - 1]    if n > 0 and n > len(x):
        y1 = x[i]                      ->         raise IndexError('x[i] out of range (line 10: y = ...)')
        y5 = i - 1                            for i in range(n):
        y6 = x[y5]                                # line 10: y = y * x[i] + x[i - 1]
        ...                                       ...
        y_tape[i] = y                             y_tape[i] = y

(`x[i - 1]` at i = 0 is `x[-1]`, in range where x has an element; the tape is as long as the loop.)

What it proves, for each subscript `a[i, j, ...]` the function evaluates (a read, a write, `a[i] += v`):

* a tuple's (`x.shape[1]`, `n = x.shape; n[0]`): Numba checks tuple indices itself, whatever the flag;
  a slice component (`a[i, :]`, `a[lo:hi]`) is clipped, not checked; it needs nothing.
* an integer component is an affine expression of integers (constants, `range` loop variables, names bound
  to such expressions, `len(x)`, `x.shape[k]`); Python's negative indices wrap, so the test is the one
  NumPy applies, `-len(a) <= i < len(a)`, over every value the component takes (written as a person would:
  `n > len(x)` where indices run up to n - 1, `m + 1 < -len(x)` for x[-m - 1], `len(x) < 2`).
* outside loops, the test is written just before the statement (once per array and index until a name in
  it is bound again).
* in the body of `for v in range(start, stop[, +-1])`, at its top level (not under an `if`), with no
  `break`, `continue` or `return` in the loop, an array not bound in the loop and a component `c * v + e`
  with `e` not bound in the loop: v runs over every value from its first to its last, so the component's
  extremes are reached, and one test before the loop, guarded by the loop running at all, is exact.
* a test that facts make false is left out: a tape allocated as `np.empty(max(n, 0))` at the top of the
  function is long enough for `t[i]` over `range(n)` (or `range(n - 1, -1, -1)`), and `np.zeros(n + 1)`
  for `ys[t + 1]` there.

A test raises IndexError where the user's f would raise it at some iteration of that loop; as with Numba's
own checks, a program that would fail earlier in that loop with another exception gets the IndexError.
Anything else (a subscript under an `if` or in a `while` loop, an index that is an array, `None`, a
conditional expression's branch) leaves the function unproved. Jitted code differentiated again (forward
mode over a gradient) is parsed without its tests (drop_tests): what is derived from it gets its own.
"""
from __future__ import annotations

import ast
from typing import NamedTuple

import gast

from . import annotations as anno
from .astutil import (certainly_int, clone, comment, dotted_name, is_comment, map_blocks, nested_blocks, parse_stmts, rewrite_blocks, walk,
                      walk_names, walk_of, walk_statements)

MARK = "every index is in range or tested below: compiled without Numba's per-access bounds checks"

_ALLOCATORS = frozenset({"np.empty", "np.zeros", "np.ones", "np.full"})
_SAME_SHAPE = frozenset({"np.empty_like", "np.zeros_like", "np.ones_like", "np.full_like", "np.copy", "rt.zeros_like",
                         "rt.copy"})
_LENGTHS = frozenset({"len", "rt.block_rows"})    # calls whose value is a length (rt.block_rows: rows of a block, >= 1)
_LIST_METHODS = frozenset({"append", "pop", "extend", "insert", "clear", "remove"})
_LISTS = frozenset({"list", "rt.stack_of", "rt.read_only_stack_of", "rt.stack"})


class Unproved(Exception):
    """A subscript the pass cannot show to be in range: the function keeps Numba's checks."""


def hoist_checks(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn`, or a copy of it with its bounds tests written in, noted as needing no others (the annotation
    BOUNDS_PROVED; the comment MARK at its top says so to the reader). A loop on threads (`rt.prange`,
    optimize/rowchunks.py) with a test inside, or in a function left with Numba's own checks, runs on one
    thread (`range`): an exception raised on a thread would be lost."""
    out = _hoisted(fn)
    loops = [s for s in walk_statements(out.body) if isinstance(s, gast.For) and isinstance(s.iter, gast.Call)
             and dotted_name(s.iter.func) == "rt.prange"]     # (loops are statements: no expression is walked)
    proved = anno.get(out, anno.BOUNDS_PROVED, False)
    risky = [s for s in loops if not proved or any(isinstance(n, (gast.Raise, gast.Assert)) for n in walk(s))]
    if not risky:
        return out
    out = clone(out)     # (the loops of a copy: `fn`'s own may be shared with it)
    for s in walk(out):
        if (isinstance(s, gast.For) and isinstance(s.iter, gast.Call) and dotted_name(s.iter.func) == "rt.prange"
                and (not proved or any(isinstance(n, (gast.Raise, gast.Assert)) for n in walk(s)))):
            s.iter.func = gast.Name(id="range", ctx=gast.Load(), annotation=None, type_comment=None)
    return out


def _hoisted(fn: gast.FunctionDef) -> gast.FunctionDef:
    """hoist_checks without its look at loops on threads."""
    prover = _Prover(fn)
    if not prover.subscripted:
        return fn     # (a tuple's element, as `x.shape[1]`, needs no test: Numba checks it whatever the flag)
    try:
        body = prover.block(fn.body, None, {})
    except Unproved:
        return fn
    if not prover.needed:
        return fn
    new = _shallow(fn)
    new.body = [comment(MARK)] + body
    return anno.set(new, anno.BOUNDS_PROVED)


def drop_tests(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`fn` (jitted code srcdiff generated, parsed to be differentiated again) without the tests this pass
    wrote, `if ...: raise IndexError('...')`: what is derived from it gets its own."""
    return map_blocks(fn, lambda b: rewrite_blocks(b, lambda s: [] if _is_test(s) else s))


def _is_test(s) -> bool:
    if not (isinstance(s, gast.If) and not s.orelse and len(s.body) == 1 and isinstance(s.body[0], gast.Raise)):
        return False
    exc = s.body[0].exc
    return (isinstance(exc, gast.Call) and isinstance(exc.func, gast.Name) and exc.func.id == "IndexError"
            and len(exc.args) == 1 and isinstance(exc.args[0], gast.Constant) and isinstance(exc.args[0].value, str))


# ---- integer affine forms ---------------------------------------------------------------------------------
class Size(NamedTuple):
    """The atom `len(array)` (axis None) or `array.shape[axis]`: a length, never negative, that reads `array`."""
    array: str
    axis: int | None = None

    def __str__(self) -> str:
        return f"len({self.array})" if self.axis is None else f"{self.array}.shape[{self.axis}]"


def _deps(atom) -> set:
    """The names atom `atom` (a name, or a Size) reads."""
    return {atom.array} if isinstance(atom, Size) else {atom}


class Lin:
    """const + sum(coef * atom): an atom is an integer name or a length (Size: `len(x)`, `x.shape[1]`)."""
    __slots__ = ("terms", "const")

    def __init__(self, terms=None, const=0):
        self.terms = {k: c for k, c in (terms or {}).items() if c}
        self.const = const

    def __add__(self, other):
        terms = dict(self.terms)
        for k, c in other.terms.items():
            terms[k] = terms.get(k, 0) + c
        return Lin(terms, self.const + other.const)

    def scale(self, k: int):
        return Lin({a: c * k for a, c in self.terms.items()}, self.const * k)

    def __sub__(self, other):
        return self + other.scale(-1)

    def shifted(self, k: int):
        return Lin(self.terms, self.const + k)

    def coef(self, atom) -> int:
        return self.terms.get(atom, 0)

    def without(self, atom):
        return Lin({a: c for a, c in self.terms.items() if a != atom}, self.const)

    def key(self):
        return tuple(sorted(self.terms.items(), key=lambda t: (str(t[0]), t[1])))

    def deps(self) -> set:
        """The names its atoms read."""
        return set().union(*(_deps(a) for a in self.terms))

    def render(self) -> str:
        out = ""
        for a, c in self.terms.items():
            mag = str(a) if abs(c) == 1 else f"{abs(c)} * {a}"
            out = (f"-{mag}" if c < 0 else mag) if not out else f"{out} {'-' if c < 0 else '+'} {mag}"
        if not out:
            return str(self.const)
        return f"{out} {'-' if self.const < 0 else '+'} {abs(self.const)}" if self.const else out


def _compare(left: Lin, right: Lin, op: str) -> str:
    """`left op right` written with the terms of positive sign on each side (`n - 1 > -1` -> `n > 0`)."""
    d = left - right
    pos = Lin({a: c for a, c in d.terms.items() if c > 0}, max(d.const, 0))
    neg = Lin({a: -c for a, c in d.terms.items() if c < 0}, max(-d.const, 0))
    return f"{pos.render()} {op} {neg.render()}"


# ---- the prover -------------------------------------------------------------------------------------------
class _Loop:
    """A `for v in range(...)` loop the tests of whose body go before it: its variable, the first and last
    values of it (lo <= hi), the form that is positive when it runs, the names its body binds, and what the
    body's statements need (`needs`: array -> [(axis, need, access text, line)]: len(array) >= need)."""

    def __init__(self, var, lo, hi, runs, bound):
        self.var, self.lo, self.hi, self.runs, self.bound = var, lo, hi, runs, bound
        self.needs: dict = {}


class _Prover:
    def __init__(self, fn):
        self.fn = fn
        self.needed = False       # a subscript needed more than Numba's own tuple checks
        self.open_loops = []      # the range loops (_Loop) around the statement being read
        self.at = 0               # the index in the function's own block of the statement being read
        self.subscripted = self._scan(fn)   # a subscript other than a shape's element: one may need a test

    # -- facts about the whole function
    def _scan(self, fn) -> bool:
        """The facts below, in one walk of the function; returns whether it has a subscript other than an
        element of a shape or of a tuple (`x.shape[1]`, `s[0]` with `s = x.shape`: `_static`): where it has
        none, nothing is tested and the rest is not needed."""
        params = [a.id for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]
        values: dict = {}      # name -> [value expression, or a marker for a binding of another form]
        handled = set()
        for s in walk_statements(fn.body):
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                values.setdefault(s.targets[0].id, []).append(s.value)
                handled.add(id(s.targets[0]))
            elif isinstance(s, gast.For) and isinstance(s.target, gast.Name):
                values.setdefault(s.target.id, []).append(("for", s.iter))
                handled.add(id(s.target))
            elif isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name):
                values.setdefault(s.target.id, []).append(("aug", s))
                handled.add(id(s.target))
        mutated, subscripted, read = set(), False, set()   # read: names subscripted
        name, call, subscript, attribute, load = gast.Name, gast.Call, gast.Subscript, gast.Attribute, gast.Load
        header = [fn.args] + fn.decorator_list + ([fn.returns] if fn.returns is not None else [])
        wanted = {name, call, subscript}   # (the only nodes looked at: the walk yields no other)
        for part, in_body in [(b, True) for b in fn.body] + [(h, False) for h in header]:
            for n in walk_of(part, wanted):
                kind = type(n)
                if kind is name:
                    if in_body and type(n.ctx) is not load and id(n) not in handled:
                        values.setdefault(n.id, []).append(None)
                elif kind is call:
                    if type(n.func) is attribute and n.func.attr in _LIST_METHODS:
                        mutated.add(dotted_name(n.func.value))
                elif kind is subscript and not subscripted:
                    if type(n.value) is name:
                        read.add(n.value.id)
                    else:
                        subscripted = not (type(n.value) is attribute and n.value.attr == "shape")
        self.tuples = {v for v, vs in values.items() if v not in params
                       and all(isinstance(x, gast.Tuple) or (isinstance(x, gast.Attribute) and x.attr == "shape")
                               for x in vs)}
        if not (subscripted or read - self.tuples):   # (`s = x.shape; s[0]`: a tuple's element, as above)
            return False
        self.values = values
        top = {}
        for k, s in enumerate(fn.body):
            if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
                top.setdefault(s.targets[0].id, (k, s.value))
        # stable: bound once, as a parameter or by a statement of the function's own block
        self.stable = {p for p in params if p not in values}
        self.stable |= {v for v, vs in values.items() if len(vs) == 1 and v in top and v not in params}
        self.top = {v: top[v] for v in self.stable if v in top}
        self.lists = mutated | {v for v, vs in values.items() if any(
            isinstance(x, (gast.List, gast.ListComp)) or (isinstance(x, gast.Call) and dotted_name(x.func) in _LISTS)
            for x in vs)}
        self.ints = self._integers(values)
        self.nonneg = {v for v, vs in values.items() if v in self.ints and all(self._is_size(x) for x in vs)}
        return True

    def _is_size(self, x) -> bool:
        """A value that is a length: len(...), x.shape[k], or an element of a shape tuple."""
        return ((isinstance(x, gast.Call) and dotted_name(x.func) in _LENGTHS)
                or (isinstance(x, gast.Subscript) and isinstance(x.slice, gast.Constant)
                    and ((isinstance(x.value, gast.Attribute) and x.value.attr == "shape")
                         or (isinstance(x.value, gast.Name) and x.value.id in self.tuples))))

    def _integers(self, values) -> set:
        """Names that hold integers: range loops' variables, names in a range's arguments (Numba's range takes
        integers only, and a float anywhere in a sum or product makes it a float), names bound only to integer
        expressions of those."""
        ints = set()
        for s in walk_statements(self.fn.body):
            r = _range_args(s)
            if r is not None:
                ints.add(s.target.id)
                for a in r:
                    if _affine_shape(a):
                        ints |= {n.id for n in walk_names(a)}
        changed = True
        while changed:
            changed = False
            for v, vs in values.items():
                if v not in ints and all(self._int_value(x, ints) for x in vs):
                    ints.add(v)
                    changed = True
        return ints

    def _int_value(self, x, ints) -> bool:
        if x is None:
            return False
        if isinstance(x, tuple):
            if x[0] == "for":
                return False      # (a range loop's variable is in `ints` from the start)
            aug = x[1]
            return isinstance(aug.op, (gast.Add, gast.Sub, gast.Mult)) and self._int_expr(aug.value, ints)
        return self._int_expr(x, ints)

    def _int_expr(self, e, ints) -> bool:
        return certainly_int(e, ints, lambda c: self._is_size(c) or (
            isinstance(c, gast.Call) and dotted_name(c.func) in ("min", "max") and c.args and not c.keywords
            and all(self._int_expr(a, ints) for a in c.args)))

    # -- integer forms of expressions
    def lin(self, e, env) -> Lin | None:
        """The affine form of integer expression `e`, with the names of `env` replaced by their forms
        (None in env: a name whose value the pass does not follow), or None."""
        if isinstance(e, gast.Constant):
            return Lin(const=e.value) if type(e.value) is int else None
        if isinstance(e, gast.Name):
            if e.id in env:
                return env[e.id]
            return Lin({e.id: 1}) if e.id in self.ints else None
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub, gast.Mult)):
            a, b = self.lin(e.left, env), self.lin(e.right, env)
            if a is None or b is None:
                return None
            if isinstance(e.op, gast.Add):
                return a + b
            if isinstance(e.op, gast.Sub):
                return a - b
            if not a.terms:
                return b.scale(a.const)
            return a.scale(b.const) if not b.terms else None
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
            a = self.lin(e.operand, env)
            return None if a is None else (a.scale(-1) if isinstance(e.op, gast.USub) else a)
        atom = _size_atom(e)
        return Lin({atom: 1}) if atom is not None else None

    def expand(self, form: Lin, seen=()) -> Lin | None:
        """`form` with the stable names bound to affine forms replaced by them; None if an atom is not stable
        (its value where the test is made could differ from its value where a fact was found)."""
        out = Lin(const=form.const)
        for a, c in form.terms.items():
            if not _deps(a) <= self.stable:
                return None
            d = self.top.get(a)
            sub = self.lin(d[1], {}) if d is not None and a not in seen else None
            sub = self.expand(sub, seen + (a,)) if sub is not None else None
            out = out + (sub if sub is not None else Lin({a: 1})).scale(c)
        return out

    def length(self, name: str, axis: int, at: int):
        """A lower bound (an affine form) of the length of array `name` along `axis`, from its allocation at the
        top of the function before statement `at` of it, or None."""
        for _ in range(8):
            d = self.top.get(name)
            if d is None or d[0] >= at or not isinstance(d[1], gast.Call):
                return None
            f = dotted_name(d[1].func)
            if f in _SAME_SHAPE and d[1].args and isinstance(d[1].args[0], gast.Name):
                name = d[1].args[0].id
                continue
            if f not in _ALLOCATORS or not d[1].args:
                return None
            shape = d[1].args[0]
            if isinstance(shape, gast.Tuple):
                if axis >= len(shape.elts):
                    return None
                shape = shape.elts[axis]
            elif axis:
                return None
            if (isinstance(shape, gast.Call) and dotted_name(shape.func) == "max" and len(shape.args) == 2
                    and not shape.keywords):      # max(n, 0): at least n
                zero = [a for a in shape.args if isinstance(a, gast.Constant) and a.value == 0]
                shape = [a for a in shape.args if a not in zero][0] if zero else None
            form = self.lin(shape, {}) if shape is not None else None
            return self.expand(form) if form is not None else None
        return None

    def nonnegative(self, form: Lin) -> bool:
        """`form` is at least 0 wherever it is tested."""
        if form.const < 0:
            return False
        for a, c in form.terms.items():
            if c < 0 or not (a in self.nonneg or isinstance(a, Size) or self._outer_nonneg(a)):
                return False
        return True

    def _outer_nonneg(self, name) -> bool:
        """`name` is the variable of an enclosing range loop whose first value is a nonnegative constant (and
        is bound by loops only)."""
        first = [lp.lo for lp in self.open_loops if lp is not None and lp.var == name]
        return (bool(first) and not first[-1].terms and first[-1].const >= 0
                and all(isinstance(x, tuple) and x[0] == "for" for x in self.values.get(name, [None])))

    # -- the walk
    def block(self, stmts, loop, checked):
        """`stmts` with the tests written in. `loop`: the innermost enclosing range loop (_Loop) when `stmts`
        is the top level of its body, "nested" inside a loop elsewhere, None outside loops; `checked`: tests
        made before, still valid ({(array, axis, need): names they read})."""
        out = []
        env: dict = {}
        line = None
        if isinstance(loop, _Loop):
            env[loop.var] = Lin({loop.var: 1})
        own = stmts is self.fn.body
        for k, s in enumerate(stmts):
            if own:
                self.at = k       # the statement of the function's own block being read
            if is_comment(s):
                if anno.has(s, anno.USER_LINE):
                    line = anno.get(s, anno.USER_LINE)
                out.append(s)
                continue
            subs = self.subscripts(s)
            if subs:
                if loop is None:
                    out += self.tests_here(s, subs, env, checked, line)
                elif isinstance(loop, _Loop):
                    self.hoist(s, subs, env, loop, line)
                else:
                    raise Unproved
            if isinstance(s, gast.For):
                out += self.for_loop(_shallow(s), loop, checked)
            elif isinstance(s, gast.While):
                s = _shallow(s)
                s.body = self.block(s.body, "nested", {})
                s.orelse = self.block(s.orelse, "nested" if loop else None, dict(checked))
                out.append(s)
            else:
                if nested_blocks(s):     # (try and with never reach here: the front end refuses them)
                    s = _shallow(s)
                    map_blocks(s, lambda inner: self.block(inner, "nested" if loop else None, dict(checked))
                               if inner else inner)
                out.append(s)
            bound = _bound_names(s)
            for k in [k for k, deps in checked.items() if deps & bound]:
                del checked[k]
            if isinstance(loop, _Loop):
                simple = isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                value = self.lin(s.value, env) if simple else None
                for v in bound:
                    env[v] = None
                if simple:
                    env[s.targets[0].id] = value
        return out

    def subscripts(self, s):
        """The subscripts statement `s` itself evaluates (a compound statement: its header) that need a test:
        [(subscript, its integer components [(axis, expression)])]. Raises Unproved for one it cannot test."""
        if isinstance(s, gast.For):
            if not isinstance(s.target, gast.Name) and any(isinstance(n, gast.Subscript) for n in walk(s.target)):
                raise Unproved      # written at every iteration
            heads = [s.iter]
        elif isinstance(s, gast.While):
            if any(isinstance(n, gast.Subscript) and not self._static(n) for n in walk(s.test)):
                raise Unproved      # read at every iteration
            return []
        elif isinstance(s, gast.If):
            heads = [s.test]
        elif isinstance(s, (gast.Try, gast.With)):
            heads = [getattr(s, "items", [])]
        elif isinstance(s, (gast.FunctionDef, gast.ClassDef)):
            if any(isinstance(n, gast.Subscript) for n in walk(s)):
                raise Unproved
            return []
        else:
            heads = [s]
        if not _tested_subscripts(heads):
            return []
        out = []
        for node, conditional in _expressions(heads):
            if not isinstance(node, gast.Subscript) or self._static(node):
                continue
            if anno.has(node, anno.IN_RANGE):    # (in range by construction: rowchunks.py)
                self.needed = True
                continue
            if conditional or isinstance(node.ctx, gast.Del) or not isinstance(node.value, gast.Name):
                raise Unproved
            name = node.value.id
            if name in self.lists:
                raise Unproved
            parts = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
            comps = []
            for axis, p in enumerate(parts):
                if isinstance(p, gast.Slice):
                    continue
                if not _integer_shaped(p):
                    raise Unproved
                comps.append((axis, p))
            if comps:
                out.append((node, comps))
                self.needed = True
        if out and isinstance(s, gast.Assign) and (len(s.targets) > 1 or not isinstance(s.targets[0], gast.Name)):
            stored = {n.id for t in s.targets for n in walk_names(t) if isinstance(n.ctx, gast.Store)}
            if any(stored & {n.id for n in walk_names(node)} for node, _ in out):
                raise Unproved      # `i, a[i] = ...`: the index is read after it is bound
        return out

    def _static(self, node) -> bool:
        """A tuple's element: Numba checks the index itself."""
        v = node.value
        return ((isinstance(v, gast.Attribute) and v.attr == "shape")
                or (isinstance(v, gast.Name) and v.id in self.tuples))

    def requirements(self, subs, env):
        """[(array, axis, index form, access text)] of the subscripts `subs`."""
        out = []
        for node, comps in subs:
            name = node.value.id
            texts = []
            forms = []
            for axis, p in comps:
                form = self.lin(p, env)
                if form is None:
                    raise Unproved
                forms.append((axis, form))
            parts = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
            shown = dict((axis, f.render()) for axis, f in forms)
            for axis, p in enumerate(parts):
                texts.append(shown[axis] if axis in shown else _text(p))
            text = f"{name}[{', '.join(texts)}]"
            out += [(name, axis, form, text) for axis, form in forms]
        return out

    def tests_here(self, s, subs, env, checked, line):
        """Tests written just before statement `s` (outside loops): -len(a) <= i < len(a)."""
        at = self.at
        needs: dict = {}
        for name, axis, form, text in self.requirements(subs, env):
            for need in (form.shifted(1), form.scale(-1)):
                if self.satisfied(name, axis, need, at):
                    continue
                key = (name, axis, need.render())
                if key in checked:
                    continue
                checked[key] = {name} | need.deps()
                needs.setdefault(name, []).append((axis, need, text))
        return self.render_tests(needs, None, line, "in the statement below")

    def hoist(self, s, subs, env, loop, line):
        """Note what the subscripts of `s` (a statement at the top level of `loop`'s body) need, over every
        value of the loop's variable, for the test before the loop."""
        for name, axis, form, text in self.requirements(subs, env):
            if name in loop.bound:
                raise Unproved
            a = form.coef(loop.var)
            rest = form.without(loop.var)
            if rest.deps() & loop.bound:
                raise Unproved
            lo = (loop.lo.scale(a) if a > 0 else loop.hi.scale(a)) + rest
            hi = (loop.hi.scale(a) if a > 0 else loop.lo.scale(a)) + rest
            for need in (hi.shifted(1), lo.scale(-1)):
                loop.needs.setdefault(name, []).append((axis, need, text, line))

    def for_loop(self, s, outer, checked) -> list:
        """The tests of loop `s`'s body (written before it) and `s` with its body's own tests written in."""
        loop = self._range_loop(s)
        self.open_loops.append(loop)
        s.body = self.block(s.body, loop if loop is not None else "nested", {})
        self.open_loops.pop()
        s.orelse = self.block(s.orelse, "nested" if outer is not None else None, dict(checked)) if s.orelse else []
        if loop is None:
            return [s]
        at = self.at
        needs: dict = {}
        for name, items in loop.needs.items():
            for axis, need, text, line in items:
                if self.satisfied(name, axis, need, at):
                    continue
                needs.setdefault(name, []).append((axis, need, text, line))
        return self.render_tests(needs, loop, None, "checked once for the loop below", checked) + [s]

    def satisfied(self, name, axis, need, at) -> bool:
        """`len(name) < need` (along `axis`) is false whenever it is tested."""
        if not need.terms and need.const <= 0:
            return True
        if self.nonnegative(need.scale(-1)):
            return True
        have = self.length(name, axis, at)
        if have is None:
            return False
        diff = self.expand(self.clipped(need))
        diff = diff - have if diff is not None else None
        return diff is not None and not diff.terms and diff.const <= 0

    def clipped(self, need: Lin) -> Lin:
        """`need` with a name bound only to the length of a slice (`rows = a.shape[0]`, `a` bound only to
        `b[lo:lo + n]`, n >= 0) replaced by n where its coefficient is positive: the slice is clipped, so its
        length is at most n, whatever lo's sign (a block of rows, optimize/rowblocks.py)."""
        out = need
        for atom, c in need.terms.items():
            vs = self.values.get(atom) if isinstance(atom, str) and c > 0 else None
            size = _size_atom(vs[0]) if vs and len(vs) == 1 and self._is_size(vs[0]) else None
            sl = self.values.get(size.array) if size is not None and size.axis in (None, 0) else None
            if not (sl and len(sl) == 1 and isinstance(sl[0], gast.Subscript) and isinstance(sl[0].slice, gast.Slice)
                    and sl[0].slice.step is None and sl[0].slice.upper is not None):
                continue
            lo = self.lin(sl[0].slice.lower, {}) if sl[0].slice.lower is not None else Lin()
            hi = self.lin(sl[0].slice.upper, {})
            if lo is not None and hi is not None and self.nonnegative(hi - lo):    # (n < 0: a[0:-1] is long)
                out = out.without(atom) + (hi - lo).scale(c)
        return out

    def render_tests(self, needs, loop, line, title, checked=None) -> list:
        """`# bounds of accesses (lines), title` and `if [loop runs and] (len(a) < need or ...): raise IndexError(...)`
        for each array of `needs` (array -> [(axis, need, access text[, line])]), each `len(a) < need` written
        as _out_of_range does; a loop's test made before (in `checked`, none of its names bound since) is not
        made again."""
        out = []
        runs = None
        if loop is not None:
            if not loop.runs.terms:
                if loop.runs.const <= 0:
                    return []            # the loop never runs
            else:
                runs = _compare(loop.runs, Lin(), ">")
        for name, items in needs.items():
            best: dict = {}           # (axis, terms) -> the largest need with those terms
            accesses, lines = [], []
            for item in items:
                axis, need, text = item[:3]
                where = item[3] if len(item) > 3 else line
                k = (axis, need.key())
                if k not in best or need.const > best[k][1].const:
                    best[k] = (axis, need, text, where)
                if text not in accesses:
                    accesses.append(text)
                if where is not None and where[0] not in [w[0] for w in lines]:
                    lines.append(where)
            kept = [b for b in best.values() if not any(_dominates(o[1], b[1], loop) for o in best.values()
                                                        if o is not b and o[0] == b[0])]
            conds = [_out_of_range(str(Size(name) if axis == 0 else Size(name, axis)), need) for axis, need, _, _ in kept]
            test = " or ".join(conds)
            if runs is not None:
                test = f"{runs} and ({test})" if len(conds) > 1 else f"{runs} and {test}"
            if checked is not None:
                if test in checked:
                    continue
                checked[test] = {name} | set().union(*(need.deps() for _, need, _, _ in kept)) | \
                    (loop.runs.deps() if runs is not None else set())
            worst = max(kept, key=lambda b: b[1].const)
            cited = f" ({'lines' if len(lines) > 1 else 'line'} {', '.join(str(w[0]) for w in lines)})" if lines else ""
            msg = f"{worst[2]} out of range" + (f" ({_cite(lines[0])})" if lines else "")
            head = f"bounds of {', '.join(accesses)}{cited}, {title}"
            out.append(comment(head))
            out += parse_stmts(f"if {test}:\n    raise IndexError({msg!r})\n")
        return out

    def _range_loop(self, s):
        r = _range_args(s)
        if r is None:
            return None
        if any(isinstance(n, (gast.Break, gast.Continue, gast.Return)) for n in walk_statements(s.body)):
            return None
        if len(r) == 3:
            step = self.lin(r[2], {})
            if step is None or step.terms or step.const not in (1, -1):
                return None
            start, stop, step = self.lin(r[0], {}), self.lin(r[1], {}), step.const
        else:
            start, stop, step = (Lin(), self.lin(r[0], {}), 1) if len(r) == 1 else (self.lin(r[0], {}),
                                                                                     self.lin(r[1], {}), 1)
        if start is None or stop is None:
            return None
        bound = {s.target.id} | {n.id for n in walk_names(s.body) if not isinstance(n.ctx, gast.Load)}
        if step == 1:
            return _Loop(s.target.id, start, stop.shifted(-1), stop - start, bound)
        return _Loop(s.target.id, stop.shifted(1), start, start - stop, bound)


def _out_of_range(length: str, need: Lin) -> str:
    """The test `length < need` (an index an access reaches is out of range) written as a person would: the
    length against a constant (`len(x) < 2`); the largest index against the length (`n >= len(x)`, `n > len(x)`
    for indices up to n - 1); the smallest against minus the length, where Python's negative indices stop
    wrapping (`m + 1 < -len(x)`, for x[-m - 1])."""
    if not need.terms:
        return f"{length} < {need.const}"
    if all(c > 0 for c in need.terms.values()):
        return f"{need.shifted(-1).render()} >= {length}" if need.const >= 1 else f"{need.render()} > {length}"
    return f"{need.scale(-1).render()} < -{length}"


def _dominates(a: Lin, b: Lin, loop) -> bool:
    """`len < b` implies `len < a` wherever the test runs: a - b is a nonnegative constant, or is where the
    loop runs at all (its runs form >= 1)."""
    d = a - b
    if not d.terms:
        return d.const >= 0
    if loop is None:
        return False
    d = d - loop.runs.shifted(-1)
    return not d.terms and d.const >= 0


def _range_args(s):
    """The arguments of `for v in range(...)` (v a name), or None."""
    if (isinstance(s, gast.For) and isinstance(s.target, gast.Name) and isinstance(s.iter, gast.Call)
            and dotted_name(s.iter.func) == "range" and 1 <= len(s.iter.args) <= 3 and not s.iter.keywords):
        return s.iter.args
    return None


def _affine_shape(e) -> bool:
    """`e` is built of names, integer constants, +, - and *."""
    if isinstance(e, gast.Name):
        return True
    if isinstance(e, gast.Constant):
        return type(e.value) is int
    if isinstance(e, gast.BinOp):
        return isinstance(e.op, (gast.Add, gast.Sub, gast.Mult)) and _affine_shape(e.left) and _affine_shape(e.right)
    if isinstance(e, gast.UnaryOp):
        return isinstance(e.op, (gast.USub, gast.UAdd)) and _affine_shape(e.operand)
    return False


def _integer_shaped(e) -> bool:
    return _affine_shape(e) or _size_atom(e) is not None


def _size_atom(e) -> Size | None:
    """`len(x)` or `x.shape[k]` (x a name) as an atom of an affine form."""
    if (isinstance(e, gast.Call) and dotted_name(e.func) == "len" and len(e.args) == 1
            and isinstance(e.args[0], gast.Name) and not e.keywords):
        return Size(e.args[0].id)
    if (isinstance(e, gast.Subscript) and isinstance(e.value, gast.Attribute) and e.value.attr == "shape"
            and isinstance(e.value.value, gast.Name) and isinstance(e.slice, gast.Constant)
            and type(e.slice.value) is int):
        return Size(e.value.value.id, e.slice.value)
    return None


def _expressions(heads):
    """(node, conditional) for every node under `heads`, `conditional` where it may not be evaluated when its
    statement runs (a branch of `a if c else b`, an operand of `and`/`or` after the first, a lambda's or a
    comprehension's body)."""
    todo = [(h, False) for h in heads]
    while todo:
        node, cond = todo.pop()
        if isinstance(node, list):
            todo += [(x, cond) for x in node]
            continue
        if not isinstance(node, gast.AST):
            continue
        yield node, cond
        if isinstance(node, gast.IfExp):
            todo += [(node.test, cond), (node.body, True), (node.orelse, True)]
        elif isinstance(node, gast.BoolOp):
            todo += [(node.values[0], cond)] + [(v, True) for v in node.values[1:]]
        elif isinstance(node, (gast.Lambda, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)):
            todo += [(c, True) for c in gast.iter_child_nodes(node)]
        else:
            todo += [(c, cond) for c in gast.iter_child_nodes(node)]


def _shallow(s):
    """A copy of node `s` sharing its fields (and marks) with it: the pass writes its tests into copies of the
    compound statements, and leaves the function it was given as it was (a function it cannot prove stays)."""
    new = type(s).__new__(type(s))
    new.__dict__.update(s.__dict__)
    return new


def _tested_subscripts(heads) -> bool:
    """Is there a subscript under `heads` (nodes, or lists of them) other than an element of a shape (`x.shape[1]`)?
    One walk, several times faster than `_expressions`: most statements have none."""
    for h in heads:
        for n in (walk(x) for x in h) if isinstance(h, list) else (walk(h),):
            for m in n:
                if type(m) is gast.Subscript and not (type(m.value) is gast.Attribute and m.value.attr == "shape"):
                    return True
    return False


def _bound_names(s) -> set:
    return {n.id for n in walk_names(s) if not isinstance(n.ctx, gast.Load)}


def _text(node) -> str:
    return ast.unparse(gast.gast_to_ast(node))


def _cite(where) -> str:
    line, text = where[0], where[1]
    return f"line {line}: {text}" if text else f"line {line}"
