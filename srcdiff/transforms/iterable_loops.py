"""`for` over iterables desugared into range loops (the desugar pass's, before name resolution): a loop over an
array, `zip`, `enumerate` (with a start), `reversed`, or a range run backwards becomes `for k in range(n)` whose body
first binds the items at k; a loop over a tuple or list literal of non-constants (items of different shapes) is
unrolled, the body once per item; range bounds the body rebinds are read once, before the loop, as Python reads them.

Why apart from desugar.py: what a loop binds on each iteration, and what Python reads once before it, is one subject
(nested zip/enumerate targets, rebound iterables, unrolling) that the statement rewrites of desugar.py only call into
(`for_`). It is a mixin of desugar's pass class, which gives it `unit`, `namer`, `literals` (the names bound once to
a tuple or list literal: literal_sequences), `splits` (the names bound once to a call: np.split's, split_parts) and the
statement rewrites `block`, `assign` and `expr`.
"""
from __future__ import annotations

import ast
import copy

import gast
import numpy as np

from ..errors import fail
from . import annotations as anno
from .astutil import assign, call, const, copy_loc, load, store, substitute, walk
from .ranges import range_length, reversed_range
from .sum_calls import is_builtin, unit_locals


class IterableLoops:
    """The `for` rewrites of desugar's pass class (a mixin: see the module docstring)."""

    def for_(self, s):
        it = s.iter
        rebound = _rebound_names(s.body + [s.target])
        if self._unrolled_length(it) is not None:
            return self.unroll(s, rebound)
        items = self._zipped_literals(it, rebound)
        if items is not None:           # `for W, c in zip((W1, W2), (0.5, 2.0))`: a literal of the pairs, unrolled
            s.iter = copy_loc(gast.Tuple(elts=items, ctx=gast.Load()), it)
            return self.unroll(s, rebound)
        if (isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "reversed") and len(it.args) == 1
                and not it.keywords and self._unrolled_length(it.args[0]) is not None):
            s.iter = it.args[0]         # `for w in reversed((w0, w1))`: unrolled, the last item first
            return self.unroll(s, rebound, backwards=True)
        body = self.block(s.body)
        tgt = s.target
        pre = []
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "range"):
            if not isinstance(tgt, gast.Name):
                fail(s, self.unit, "range loop with a non-name target")
            s.iter = self.expr(it)
            s.iter.args = self._read_once(s.iter.args, s, pre, rebound | _aug_targets(s.body))
            s.body = body
            return pre + [s]
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "reversed") and len(it.args) == 1 \
                and isinstance(it.args[0], gast.Call) and is_builtin(self.unit, it.args[0].func, "range"):
            args = self._read_once([self.expr(a) for a in it.args[0].args], s, pre, rebound | _aug_targets(s.body))
            s.iter = copy_loc(gast.Call(func=load("range"), args=reversed_range(args), keywords=[]), s)
            s.body = body
            return pre + [s]
        k = self.namer.fresh("k")
        if (isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "enumerate") and len(it.args) == 1
                and not it.keywords and isinstance(tgt, gast.Tuple) and len(tgt.elts) == 2
                and isinstance(tgt.elts[0], gast.Name)):
            k = tgt.elts[0].id      # `for i, v in enumerate(xs)`: the loop runs over i itself
        pre = []
        binds, n = self._iteration(tgt, it, k, pre, s, rebound)
        binds = [(t, v) for t, v in binds if not (isinstance(t, gast.Name) and t.id == k)]
        head = []
        for t, value in binds:
            head += self.assign(copy_loc(assign(t, copy_loc(value, s), s.lineno), s))
        loop = copy_loc(gast.For(target=store(k), iter=gast.Call(func=load("range"), args=[n], keywords=[]),
                                 body=head + body, orelse=[], type_comment=None), s)
        return pre + [loop]

    def _read_once(self, args, s, pre, rebound):
        """range's arguments, each one that reads a name the loop binds (`for i in range(n): n -= 1`) read
        through a name of its own bound before the loop (in `pre`): Python reads them once, before the first
        iteration, and the derivative's passes read the loop's bounds again after it."""
        out = []
        for a in args:
            if any(isinstance(n, gast.Name) and n.id in rebound for n in walk(a)):
                name = self.namer.fresh("bound")
                pre.append(copy_loc(assign(name, a, s.lineno), s))
                a = load(name)
            out.append(a)
        return out

    def _unrolled_length(self, it):
        """The length of a loop's iterable that is unrolled: a tuple or list literal with an item that is not a
        constant (`(w0, w1)`, `((w0, b0), (w1, b1))`: items of different shapes, which no array holds) or is a
        string (`for spec in ("ij->i", "ij->j"): np.einsum(spec, A)`: each item a literal where the body reads
        it), or a name the function binds once, to one; else None (a loop over numbers stays a loop)."""
        it = self._literal(it)
        if it is None or not 0 < len(it.elts) <= UNROLL_MAX:
            return None
        return len(it.elts) if any(not isinstance(e, gast.Constant) or isinstance(e.value, str)
                                   for e in it.elts) else None

    def _zipped_literals(self, it, rebound):
        """The items of `zip`/`enumerate` (a constant start), nested, of tuple or list literals (also reversed, or
        names bound once to one), as a list of tuple displays, where one literal has an item that is not a constant
        (`zip((W1, W2), (0.5, 2.0))`, `enumerate((W1, W2))`: arrays of different shapes, which a loop would read
        from a tuple indexed by its counter, declined); else None. Python evaluates the literals once, before the
        first iteration: so does the unrolled loop (its tuple of items is bound before it), and each item once."""
        found = []

        def items(e):
            if isinstance(e, gast.Call) and not e.keywords and len(e.args) == 1 \
                    and is_builtin(self.unit, e.func, "reversed"):
                inner = items(e.args[0]) if self._literal(e.args[0]) is not None else None
                return None if inner is None else inner[::-1]
            literal = self._literal(e)
            if literal is not None:
                if isinstance(e, gast.Name) and e.id in rebound:
                    return None
                found.append(self._unrolled_length(e) is not None)
                return [copy.deepcopy(x) for x in literal.elts]
            if not isinstance(e, gast.Call) or not e.args:
                return None
            if is_builtin(self.unit, e.func, "zip") and not e.keywords:
                parts = [items(a) for a in e.args]
                return None if any(p is None for p in parts) else \
                    [gast.Tuple(elts=list(t), ctx=gast.Load()) for t in zip(*parts)]
            if is_builtin(self.unit, e.func, "enumerate") and len(e.args) + len(e.keywords) <= 2 \
                    and all(kw.arg == "start" for kw in e.keywords):
                starts = e.args[1:] + [kw.value for kw in e.keywords if kw.arg == "start"]
                start = starts[0].value if starts and isinstance(starts[0], gast.Constant) else 0 if not starts else None
                inner = items(e.args[0])
                if type(start) is not int or inner is None:
                    return None
                return [gast.Tuple(elts=[const(start + k), x], ctx=gast.Load()) for k, x in enumerate(inner)]
            return None

        if not (isinstance(it, gast.Call) and any(is_builtin(self.unit, it.func, b) for b in ("zip", "enumerate"))):
            return None
        out = items(it)
        return out if out is not None and any(found) and 0 < len(out) <= UNROLL_MAX else None

    def _literal(self, it):
        """The tuple or list literal `it` is (or a name bound once to one is), else None. `np.split(x, 3)` (a number
        of parts fixed by literals: split_parts), or a name bound once to one, is the literal of its parts, `parts[0],
        parts[1], parts[2]` (a tuple of views of x of different lengths maybe, as a literal's items: unrolled)."""
        if isinstance(it, gast.Name) and it.id not in self.literals:
            bound = self.splits.get(it.id)
            n = split_parts(self.unit, bound) if bound is not None else None
            return _parts_of(it, n) if n else None
        if isinstance(it, gast.Name):
            it = self.literals.get(it.id)
        n = split_parts(self.unit, it)
        if n:
            return _parts_of(it, n)
        return it if isinstance(it, (gast.Tuple, gast.List)) else None

    def unroll(self, s, rebound, backwards=False):
        """`for w, b in layers` over a literal: the body once per item, after `w, b = layers[j]` (indexed with
        constants, which the tuples pass splits into one name per item, so each item keeps its own shape and
        its own adjoint)."""
        if _exits(s.body):
            fail(s, self.unit, "break/continue in a loop over a tuple or list literal",
                 "use a flag variable, or loop over range(len(...)) of an array")
        it, pre = s.iter, []
        literal = self._literal(it)
        constants = all(isinstance(e, gast.Constant) for e in literal.elts)
        if constants:       # (strings: each item is read as the literal it is, the tuple is never made)
            seq = None
        elif isinstance(it, gast.Name) and it.id not in rebound:
            seq = it.id
        else:
            seq = self.namer.fresh("seq")
            pre.append(copy_loc(assign(seq, self.expr(it), s.lineno), s))
        out = pre
        n = self._unrolled_length(it)
        for j in (reversed(range(n)) if backwards else range(n)):
            body = copy.deepcopy(s.body)
            if constants:
                item = copy.deepcopy(literal.elts[j])
                if isinstance(s.target, gast.Name) and s.target.id not in _rebound_names(s.body):
                    body = substitute(body, {s.target.id: item})    # (np.einsum(spec, A): a literal there)
            else:
                item = copy_loc(gast.Subscript(value=load(seq), slice=const(j), ctx=gast.Load()), s)
            out += self.assign(copy_loc(assign(copy.deepcopy(s.target), item, s.lineno), s))
            out += self.block(body)
        return out

    def _iteration(self, tgt, it, k, pre, s, rebound):
        """What a loop over `it` binds at position `k`: (target, value) pairs, and the trip count.
        `enumerate` (with a start) and `zip` nest in each other, as their targets do
        (`for i, (a, b) in enumerate(zip(xs, ys), 1)`); anything else is a sequence indexed at k."""
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "zip") and _starred_only(it):
            it = self._zip_of_rows(tgt, it, pre, s, rebound)
        width = (2 if is_builtin(self.unit, it.func, "enumerate") else len(it.args) if is_builtin(
            self.unit, it.func, "zip") else 0) if isinstance(it, gast.Call) and it.args else 0
        if isinstance(tgt, gast.Name) and width:    # `for pair in zip(xs, ys)`: the item is a tuple
            parts = [self.namer.fresh(tgt.id) for _ in range(width)]
            binds, n = self._iteration(gast.Tuple(elts=[store(p) for p in parts], ctx=gast.Store()), it, k,
                                       pre, s, rebound)
            return binds + [(tgt, gast.Tuple(elts=[load(p) for p in parts], ctx=gast.Load()))], n
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "enumerate"):
            starts = it.args[1:] + [kw.value for kw in it.keywords if kw.arg == "start"]
            if not 1 <= len(it.args) <= 2 or len(starts) > 1 or any(kw.arg != "start" for kw in it.keywords):
                fail(s, self.unit, "enumerate with arguments other than an iterable and a start",
                     "write `enumerate(xs)` or `enumerate(xs, start)`")
            if not (isinstance(tgt, gast.Tuple) and len(tgt.elts) == 2):
                fail(s, self.unit, "an enumerate loop that does not unpack (index, item)",
                     "write `for i, v in enumerate(xs)`")
            index = load(k)
            if starts:
                start = self.expr(starts[0])
                if not isinstance(start, gast.Constant):   # Python reads the start once, before the loop
                    name = self.namer.fresh("start")
                    pre.append(copy_loc(assign(name, start, s.lineno), s))
                    start = load(name)
                index = gast.BinOp(left=load(k), op=gast.Add(), right=start)
            binds, n = self._iteration(tgt.elts[1], it.args[0], k, pre, s, rebound)
            return [(tgt.elts[0], index)] + binds, n
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "zip"):
            if (not (isinstance(tgt, gast.Tuple) and len(tgt.elts) == len(it.args)) or it.keywords
                    or not it.args):
                fail(s, self.unit, "a zip loop that does not unpack one name per sequence",
                     "write `for a, b in zip(xs, ys)`, one target per sequence")
            binds, n = [], None
            for t, a in zip(tgt.elts, it.args):
                more, m = self._iteration(t, a, k, pre, s, rebound)
                binds += more
                n = m if n is None else gast.Call(func=load("min"), args=[n, m], keywords=[])
            return binds, n
        if isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "reversed") and len(it.args) == 1 \
                and not it.keywords:   # zip(reversed(xs), ys): xs[::-1]; reversed(range(...)): a range
            inner = it.args[0]
            if (isinstance(inner, gast.Call) and is_builtin(self.unit, inner.func, "range") and not inner.keywords
                    and 1 <= len(inner.args) <= 3):
                back = gast.Call(func=load("range"), args=reversed_range(inner.args), keywords=[])
            else:
                back = gast.Subscript(value=inner, slice=gast.Slice(lower=None, upper=None, step=const(-1)),
                                      ctx=gast.Load())
            return self._iteration(tgt, copy_loc(back, it), k, pre, s, rebound)
        if (isinstance(it, gast.Call) and is_builtin(self.unit, it.func, "range") and not it.keywords
                and 1 <= len(it.args) <= 3):   # zip(range(n), xs): the item is a number, not an element
            return [(tgt, self._range_item(it, k, pre, s, rebound | _aug_targets(s.body)))], range_length(it)
        seq, n = self._seq(it, pre, s, rebound)
        return [(tgt, gast.Subscript(value=load(seq), slice=load(k), ctx=gast.Load()))], n

    def _zip_of_rows(self, tgt, it, pre, s, rebound):
        """`zip(*M)` as `zip(M[0], ..., M[n - 1])` for a loop target unpacking n names (`for c0, c1 in zip(*M)`: the
        columns of a 2-row M, or of a list of two arrays), M read once, before the loop, with Python's check that it
        has n rows (rt.check_unpack: unpacking an item of the zip of 3 rows into 2 names raises ValueError)."""
        if not isinstance(tgt, gast.Tuple) or any(isinstance(e, gast.Starred) for e in tgt.elts):
            fail(s, self.unit, "zip(*M) in a loop whose target does not unpack the rows",
                 "unpack one name per row of M: `for c0, c1 in zip(*M)`, or `for k in range(M.shape[1])` and read "
                 "M[:, k]")
        n = len(tgt.elts)
        seq, _ = self._seq(it.args[0].value, pre, s, rebound)
        check = call("rt.check_unpack", load(seq), const(n))   # (Python's ValueError; none for a tuple of n items)
        anno.set(check, anno.MADE)
        pre.append(copy_loc(gast.Expr(value=check), s))
        rows = [copy_loc(gast.Subscript(value=load(seq), slice=const(j), ctx=gast.Load()), s) for j in range(n)]
        return copy_loc(gast.Call(func=load("zip"), args=rows, keywords=[]), it)

    def _range_item(self, it, k, pre, s, rebound):
        """range(lo, hi, step)'s item at position k: lo + k * step. Python reads the bounds once, before
        the loop: one the body rebinds is read through a name of its own."""
        args = [self.expr(a) for a in it.args]
        for j, a in enumerate(args):
            if not isinstance(a, gast.Constant) and not (isinstance(a, gast.Name) and a.id not in rebound):
                name = self.namer.fresh("bound")
                pre.append(copy_loc(assign(name, a, s.lineno), s))
                args[j] = load(name)
        it.args = args
        item = load(k)
        if len(args) == 3:
            item = gast.BinOp(left=item, op=gast.Mult(), right=copy.deepcopy(args[2]))
        if len(args) >= 2:
            item = gast.BinOp(left=copy.deepcopy(args[0]), op=gast.Add(), right=item)
        return item

    def _seq(self, expr, pre, s, rebound):
        """The name the loop indexes and its length. Python iterates over the object the iterable was
        when the loop began, so a name the body binds again (`for e in a: a = a * e`) is read through a
        name of its own, bound before the loop."""
        spelled = ast.unparse(gast.gast_to_ast(copy.deepcopy(expr)))    # (the user's spelling, for aliasing)
        expr = self.expr(expr)
        if isinstance(expr, gast.Name) and expr.id not in rebound:
            name = expr.id
        else:
            name = self.namer.fresh("seq")
            copied = copy_loc(assign(name, expr, s.lineno), s)
            anno.set(copied, anno.LOOP_COPY, spelled)
            pre.append(copied)
        return name, gast.Call(func=load("len"), args=[load(name)], keywords=[])


UNROLL_MAX = 16      # a loop over a longer literal stays a loop


def _starred_only(call) -> bool:
    """Whether `call`'s one argument is starred and it has no keywords (`zip(*M)`)."""
    return len(call.args) == 1 and isinstance(call.args[0], gast.Starred) and not call.keywords


def _exits(stmts) -> bool:
    """Whether `stmts` hold a `break` or `continue` of their own loop (not one of a loop inside them)."""
    for s in stmts:
        if isinstance(s, (gast.Break, gast.Continue)):
            return True
        if isinstance(s, gast.If) and (_exits(s.body) or _exits(s.orelse)):
            return True
    return False


def split_parts(unit, call) -> int | None:
    """How many arrays `np.split(x, n)` / `np.array_split(x, [i, j])` (`axis=` too) gives, where literals fix it:
    n, or one more than the indices; else None (not such a call, or a number known at run time only)."""
    if not (isinstance(call, gast.Call) and len(call.args) == 2 and all(k.arg == "axis" for k in call.keywords)):
        return None
    f, path = call.func, []
    while isinstance(f, gast.Attribute):
        path.append(f.attr)
        f = f.value
    if not isinstance(f, gast.Name) or f.id in unit_locals(unit):
        return None
    obj = unit.namespace.get(f.id)
    for attr in reversed(path):
        obj = getattr(obj, attr, None)
    if not any(obj is g for g in (np.split, np.array_split)):
        return None
    n = call.args[1]
    if isinstance(n, gast.Constant) and type(n.value) is int and n.value > 0:
        return n.value
    if isinstance(n, (gast.Tuple, gast.List)) and all(isinstance(e, gast.Constant) and type(e.value) is int
                                                      for e in n.elts):
        return len(n.elts) + 1
    return None


def _parts_of(seq, n: int) -> gast.Tuple:
    """The literal `(seq[0], ..., seq[n - 1])` of a sequence of n items."""
    return gast.Tuple(elts=[gast.Subscript(value=copy.deepcopy(seq), slice=const(j), ctx=gast.Load()) for j in range(n)],
                      ctx=gast.Load())


def literal_sequences(assigns, names) -> dict:
    """{name: its tuple or list literal} for the names a function binds once (`names`: every Name node of it), to
    a literal, by a plain assignment (`assigns`: its assignments, in the order walk meets them)."""
    stores: dict = {}
    for n in names:
        if not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    out = {}
    for s in assigns:
        if (len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, (gast.Tuple, gast.List)) and stores.get(s.targets[0].id) == 1):
            out[s.targets[0].id] = s.value
    return out


def split_calls(assigns, names) -> dict:
    """{name: its call} for the names a function binds once, to a call, by a plain assignment (split_parts tells
    which of them are np.split's)."""
    stores: dict = {}
    for n in names:
        if not isinstance(n.ctx, gast.Load):
            stores[n.id] = stores.get(n.id, 0) + 1
    return {s.targets[0].id: s.value for s in assigns if len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.Call) and stores.get(s.targets[0].id) == 1}


def _rebound_names(stmts) -> set:
    """Names a loop's target or body binds with `=` (or as a loop target). An augmented assignment is left out: on an
    array it writes in place, and a loop over that array sees the new contents, as it does when the loop
    reads the name."""
    aug = {id(n.target) for s in stmts for n in walk(s) if isinstance(n, gast.AugAssign)}
    return {n.id for s in stmts for n in walk(s)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in aug}


def _aug_targets(stmts) -> set:
    """Names an augmented assignment in `stmts` binds (`n -= 1`; on an int, a new value)."""
    return {n.target.id for s in stmts for n in walk(s) if isinstance(n, gast.AugAssign)
            and isinstance(n.target, gast.Name)}
