"""Preaccumulate scalar adjoints inside loops (partials first, incoming adjoints last).

The backward sweep of a scalar line such as `y1 = y + dt * (a * y - b * y ** 2)` pushes the incoming
adjoint `d_y1` through every operation of the line: `d_y9 = d_y1 * dt; d_y8 = -d_y9; d_y7 = d_y8 * b;
d_y = d_y1 + d_y7 * 2 * y + d_y9 * a`. Each adjoint is linear in the incoming one, but this order puts
every multiplication on the path from `d_y1` to `d_y`, and in a loop that path is the loop-carried
dependency chain (next iteration's `d_y1` is this iteration's `d_y`), so the sweep runs at the latency
of that chain. This pass keeps, for each scalar adjoint assigned in a loop body, its value as a linear
form `sum(source * coefficient)` over the adjoints it came from; coefficients (the partials, which
only read primal values) are computed where the original statement was, in `p_<name>` temporaries,
and an adjoint is written out (`d_y = d_y1 * p_y`) only where something else reads it: before the
statement that reads it, before one that rebinds a name its form depends on, and at the end of the
straight-line run for adjoints read later (or in the next iteration). The rewrite is exact algebra
(reassociation of products and sums, rounding aside); runs it cannot follow are left unchanged.
"""
from __future__ import annotations

from collections import Counter

import gast

from .astutil import (assign, clone, const, is_comment, load, map_blocks, walk, walk_names, walk_statements,
                      written_names)
from .kinds import dtype, is_scalar
from .optimize.deadcode import eliminate_dead_code, without_lone_line_comments
from .purity import is_pure
from .reverse_support import simplify

_MAX_SOURCES = 4       # a form over more incoming adjoints is written out instead


class _Abort(Exception):
    pass


def read_counts(node) -> Counter:
    """Reads of each name under `node` (the target of `x += ...` is read too)."""
    out = Counter(n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load))
    out.update(n.target.id for n in walk_statements([node])
               if isinstance(n, gast.AugAssign) and isinstance(n.target, gast.Name))
    return out


def _atom(e) -> bool:
    return isinstance(e, (gast.Name, gast.Constant))


def _const(e, value) -> bool:
    return (isinstance(e, gast.Constant) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
            and e.value == value)


def _neg(c):
    if isinstance(c, gast.Constant) and isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
        return const(-c.value)
    if isinstance(c, gast.UnaryOp) and isinstance(c.op, gast.USub):
        return c.operand
    return gast.UnaryOp(op=gast.USub(), operand=c)


def _binop(a, op, b):
    """a op b for coefficients, folded and without `x * -1` or `x + -y`."""
    a, b = clone(a), clone(b)
    if isinstance(op, gast.Mult) and _const(a, -1):
        return _neg(b)
    if isinstance(op, (gast.Mult, gast.Div)) and _const(b, -1):
        return _neg(a)
    if isinstance(op, (gast.Add, gast.Sub)) and isinstance(b, gast.UnaryOp) and isinstance(b.op, gast.USub):
        op, b = (gast.Sub() if isinstance(op, gast.Add) else gast.Add()), b.operand
    return simplify(gast.BinOp(left=a, op=op, right=b))


def _combine(a: dict, b: dict, op) -> dict:
    out = dict(a)
    for s, c in b.items():
        if s in out:
            out[s] = _binop(out[s], op(), c)
        else:
            out[s] = clone(c) if op is gast.Add else _neg(clone(c))
    return out


class _Run:
    """One straight-line run of a loop body, rewritten: scalar adjoints kept as linear forms over the
    adjoints they came from, written out only where something reads them (the module docstring)."""

    def __init__(self, linear: dict, kinds: dict, total: Counter, namer):
        self.linear, self.kinds, self.total, self.namer = linear, kinds, total, namer
        self.env: dict = {}            # adjoint name -> {source name: coefficient atom}, not yet written out
        self.absorbed = Counter()      # loads by the statements folded into forms
        self.sources_read = set()      # names whose current value a form reads
        self.temps = set()             # the partials this run defines
        self.out = []

    def scalar_adjoint(self, v) -> bool:
        k = self.kinds.get(v)
        return v in self.linear and is_scalar(k) and dtype(k) == "f"

    def form(self, e):
        """Linear form of e over scalar adjoints; 'primal' if it reads none; None otherwise."""
        if isinstance(e, gast.Name):
            if e.id in self.env:
                return dict(self.env[e.id])
            if self.scalar_adjoint(e.id):
                return {e.id: const(1.0)}
            return None if e.id in self.linear else "primal"
        if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub, gast.Mult, gast.Div)):
            return self.binop_form(e)
        if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
            a = self.form(e.operand)
            if a is None or a == "primal" or isinstance(e.op, gast.UAdd):
                return a
            return {s: _neg(clone(c)) for s, c in a.items()}
        names = {n.id for n in walk(e) if isinstance(n, gast.Name)}
        if names & (self.linear.keys() | self.env.keys()) or not is_pure(e):
            return None
        return "primal"

    def binop_form(self, e):
        a, b = self.form(e.left), self.form(e.right)
        if a is None or b is None:
            return None
        if a == "primal" and b == "primal":
            return "primal"
        if isinstance(e.op, (gast.Add, gast.Sub)):
            if a == "primal" or b == "primal":
                return None   # affine, not linear
            return _combine(a, b, type(e.op))
        if isinstance(e.op, gast.Mult) and (a == "primal") != (b == "primal"):
            lin, f = (b, e.left) if a == "primal" else (a, e.right)
            return {s: _binop(c, gast.Mult(), f) for s, c in lin.items()}
        if isinstance(e.op, gast.Div) and b == "primal":
            return {s: _binop(c, gast.Div(), e.right) for s, c in a.items()}
        return None

    def deps(self, v) -> set:
        d = set(self.env[v])
        for c in self.env[v].values():
            d |= {n.id for n in walk(c) if isinstance(n, gast.Name)}
        return d

    def live(self, v) -> bool:
        """v may still be read: by a statement not folded into a form (here, later, or in the next
        iteration through a form that read its old value)."""
        return self.total[v] > self.absorbed[v] or v in self.sources_read

    def write_out(self, names):
        """Assign the pending adjoints `names`, and first any live form that reads the old value of
        one of them (dead forms that do are dropped)."""
        for y in self.write_order(set(names)):
            terms = self.env.pop(y)
            if list(terms) == [y] and _const(terms[y], 1):
                continue   # unchanged
            self.out.append(assign(y, _linear_sum(terms)))

    def write_order(self, todo: set) -> list:
        env = self.env
        grew = True
        while grew:
            grew = False
            for y in list(env):
                if y not in todo and any(x != y and x in todo for x in env[y]):
                    if self.live(y):
                        todo.add(y)
                        grew = True
                    else:
                        del env[y]
        order = []
        while todo:
            # writing y rebinds it: forms still to be written that read y's old value go first
            ready = [y for y in env if y in todo and not any(z != y and y in env[z] for z in todo)]
            if not ready:
                raise _Abort()
            for y in ready:
                order.append(y)
                todo.discard(y)
        return order

    def fold(self, s) -> bool:
        """Keep `s` (an assignment of a scalar adjoint linear in others) as a form; False if it is not one."""
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and self.scalar_adjoint(s.targets[0].id)):
            return False
        lf = self.form(s.value)
        if lf is None or lf == "primal" or len(lf) > _MAX_SOURCES:
            return False
        x = s.targets[0].id
        self.absorbed.update(read_counts(s.value))
        self.sources_read |= set(lf)
        base = self.linear[x]       # partials are named for the primal value (reverse.Sweeps)
        before = self.env.get(x, {})
        for src, c in lf.items():
            if not _atom(c):
                # update x's own partial in place when no other form reads it
                old = before.get(src)
                p = old.id if (isinstance(old, gast.Name) and old.id in self.temps and not any(
                    old.id in self.deps(y) for y in self.env if y != x)) else self.namer.fresh("p_" + base)
                self.temps.add(p)
                self.out.append(assign(p, c))
                lf[src] = load(p)
        self.env[x] = lf
        return True

    def rewrite(self, stmts) -> list:
        """The run `stmts` rewritten. Adjoints written out go above the comment heading (the user's line)
        of the statement that needs them, and those written out at the end above the run's trailing
        heading (the line of the loop or branch that follows): each stays under its own line's comment."""
        heading = []
        for s in stmts:
            if is_comment(s):
                heading.append(s)
                continue
            at = len(self.out)
            if self.fold(s):
                self.out[at:at] = heading       # the partials of s belong to its line
                heading = []
                continue
            loaded, stored = set(read_counts(s)), written_names(s)
            need = [v for v in self.env if v in loaded or (self.deps(v) & stored and self.live(v))]
            if need:
                self.write_out(need)
            for v in stored & set(self.env):
                del self.env[v]    # rebound before anything read it
            self.out += heading
            heading = []
            self.out.append(s)
        self.write_out([v for v in self.env if self.live(v)])
        self.out += heading
        return self.out


def _linear_sum(terms: dict):
    """sum(source * coefficient) over `terms`, with `-s` for a coefficient of -1 and `s` for 1."""
    expr = None
    for s, c in terms.items():
        neg = _const(c, -1)
        term = (load(s) if (_const(c, 1) or neg)
                else gast.BinOp(left=load(s), op=gast.Mult(), right=clone(c)))
        if expr is None:
            expr = gast.UnaryOp(op=gast.USub(), operand=term) if neg else term
        else:
            expr = gast.BinOp(left=expr, op=gast.Sub() if neg else gast.Add(), right=term)
    return expr if expr is not None else const(0.0)


def preaccumulate(fn: gast.FunctionDef, kinds: dict, linear: dict, namer) -> gast.FunctionDef:
    """Rewrite the straight-line runs of every loop body (see the module docstring). `linear`: the
    adjoints of the function, each with the primal name it is the adjoint of
    (reverse.Sweeps.primals_of_adjoints); only those of float-scalar kind take part."""
    if not any(isinstance(s, (gast.For, gast.While)) for s in walk_statements(fn.body)):
        # nothing to rewrite, and no dead code to drop: the passes since "dead code" (compiler.REVERSE) drop
        # copies only (optimize/copies.py), which leaves every value read, but may leave a comment citing a
        # user's line with no statement under it
        fn.body = without_lone_line_comments(fn.body)
        return fn
    total = read_counts(fn)

    def block(stmts, in_loop):
        for s in stmts:
            inner = in_loop or isinstance(s, (gast.For, gast.While))
            map_blocks(s, lambda b: block(b, inner))
        if not in_loop:
            return stmts
        out, pending = [], []
        for s in stmts + [None]:
            if s is not None and not isinstance(s, (gast.If, gast.For, gast.While)):
                pending.append(s)
                continue
            try:
                out += (_Run(linear, kinds, total, namer).rewrite(pending) if any(not is_comment(p) for p in pending)
                        else pending)
            except _Abort:
                out += pending
            pending = []
            if s is not None:
                out.append(s)
        return out

    fn.body = block(fn.body, False)
    return eliminate_dead_code(fn)   # loops left with nothing to do (a body of identity copies)
