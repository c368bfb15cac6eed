"""Log-domain products: the "logdomain" and "fuse adjoints" passes of compiler.REVERSE.

Inside a loop, a log-sum-exp over a broadcast sum of a vector and a
loop-invariant matrix (the HMM forward recursion's `logsumexp(log_alpha[:, None] + log_A, axis=0)`)
becomes a log-domain vector-matrix product:

    exp_log_A = rt.exp_shifted(log_A, 0)          # once, before the loop: exp(log_A - column max)
    for t in ...:
        log_alpha5 = rt.logsumexp_vecmat(log_alpha, log_A, exp_log_A)

which costs len(log_alpha) exponentials a step instead of one per matrix entry (the scaled forward
algorithm). The runtime falls back to the direct formula for any column where the scaled sum would
underflow, so results match `logsumexp` to rounding everywhere. The mirrored form
`logsumexp(M + v[None, :], axis=1)` becomes `rt.logsumexp_matvec(M, v, exp_M)`.

Applied only where the matrix is provably unchanged by the loop: it is assigned outside the loop, is
certainly assigned when the loop is reached, and no array written in place may share its memory. A
matrix picked from such a 3-d stack by an index (an input-output HMM's `log_A[inputs[t]]`) gets the
table of the whole stack, hoisted, and its own slice of it:

    exp_log_A = rt.exp_shifted(log_A, 1)          # before the loop: one table per matrix log_A[u]
    for t in ...:
        exp_log_A1 = rt.table_at(exp_log_A, log_alpha6)
        log_alpha8 = rt.logsumexp_vecmat(log_alpha, log_alpha7, exp_log_A1)

Also here: the "fuse adjoints" pass (a product's two adjoints in one call) and its inverse. What jitted code
does with the products (scale tapes, carries) is in logdomain_scales.py and logdomain_carries.py; the names
these modules share are in logdomain_calls.py.
"""
from __future__ import annotations

import copy

import gast

from .memory_sharing import memory_roots, sharing_written_memory
from .kinds import I, is_float_array
from .logdomain_calls import HELPERS, ROLE, int_const
from .astutil import (Namer, assign, assigned_names, call, clone, const, copy_loc, definitely_assigned, dotted_name,
                      map_blocks, names_in, nested_blocks, store, walk, walk_names, walk_statements)


def _definitions(fn) -> dict:
    """SSA name -> the value assigned to it (names assigned more than once map to None)."""
    defs: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            name = n.targets[0].id
            defs[name] = None if name in defs else n.value
    return defs


def _axis2(e, defs):
    """A literal axis of a 2-d array, made non-negative (None if not a literal 0, 1, -1 or -2)."""
    a = int_const(defs.get(e.id) if isinstance(e, gast.Name) else e)
    return a + 2 if a is not None and -2 <= a < 0 else (a if a in (0, 1) else None)


class _Rewrite:
    def __init__(self, unit, kinds):
        self.fn = unit.node
        self.kinds = kinds
        self.defs = _definitions(self.fn)
        self.params = [a.id for a in self.fn.args.args]
        self.uses = {}
        for n in walk(self.fn):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                self.uses[n.id] = self.uses.get(n.id, 0) + 1
        self.roots = memory_roots(self.fn, kinds)
        shared = sharing_written_memory(self.fn, kinds)
        self.written_roots = {self.roots.get(n, n) for n in shared}
        self.writes_params = bool(self.written_roots & set(self.params))   # two parameters may be one array
        self.reaching = definitely_assigned(self.fn)
        self.namer = Namer(names_in(self.fn) | {"np", "rt", "math"})
        self.tables: dict = {}       # (matrix, axis, id(loop)) -> table name
        self.hoisted: dict = {}      # id(loop) -> [table assignments to put before it]

    def kind(self, name):
        return self.kinds.get(name) if isinstance(name, str) else None

    def is_float(self, name, ndim):
        k = self.kind(name)
        return is_float_array(k, ndim)

    def invariant_in(self, matrix, loops):
        """The outermost of `loops` (outermost first) that leaves `matrix` unchanged, or None."""
        root = self.roots.get(matrix, matrix)
        if root in self.written_roots or (root in self.params and self.writes_params):
            return None
        for loop in loops:
            parts = loop.body + ([loop.target] if isinstance(loop, gast.For) else [])
            stored = {n.id for s in parts for n in walk(s)
                      if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
            available = matrix in self.reaching.get(id(loop), ()) or matrix not in self.defs  # or a constant
            if matrix not in stored and available:
                return loop
        return None

    def match(self, stmt):
        """(kind, vector, matrix, axis) if `stmt` is `z = rt.logsumexp(y, axis)` of a fitting sum."""
        v = stmt.value
        if not (isinstance(v, gast.Call) and dotted_name(v.func) == "rt.logsumexp" and len(v.args) == 2
                and not v.keywords and isinstance(v.args[0], gast.Name)):
            return None
        axis = _axis2(v.args[1], self.defs)
        y = v.args[0].id
        s = self.defs.get(y)
        if axis is None or self.uses.get(y) != 1 or not self.is_float(y, 2):
            return None
        if not (isinstance(s, gast.BinOp) and isinstance(s.op, gast.Add)
                and isinstance(s.left, gast.Name) and isinstance(s.right, gast.Name)):
            return None
        for vec, mat in ((s.left.id, s.right.id), (s.right.id, s.left.id)):
            if not self.is_float(mat, 2):
                continue
            d = self.defs.get(vec)
            expanded = (isinstance(d, gast.Call) and dotted_name(d.func) == "rt.expand_dims" and len(d.args) == 2
                        and isinstance(d.args[0], gast.Name) and self.is_float(d.args[0].id, 1))
            if expanded and _axis2(d.args[1], self.defs) == 1 - axis:
                return axis, d.args[0].id, mat
            if axis == 1 and self.is_float(vec, 1):       # M + v: v broadcast along the rows
                return axis, vec, mat
        return None

    def table(self, matrix, axis, loop, lineno):
        key = (matrix, axis, id(loop))
        if key not in self.tables:
            name = self.namer.fresh("exp_" + matrix)
            self.tables[key] = name
            self.hoisted.setdefault(id(loop), []).append(
                assign(name, call("rt.exp_shifted", matrix, const(axis)), lineno))
        return self.tables[key]

    def stacked_table(self, s, mat, axis, loops):
        """For `mat = stack[u]`, one matrix of a 3-d `stack` the loop leaves unchanged (an input-output
        HMM's `log_A[inputs[t]]`): the name of `rt.table_at(<table of stack>, u)`, assigned just before
        `s`, with the table of the whole stack hoisted before the loop; else None."""
        d = self.defs.get(mat)
        if not (isinstance(d, gast.Subscript) and isinstance(d.value, gast.Name) and self.is_float(d.value.id, 3)
                and (isinstance(d.slice, gast.Name) and self.kind(d.slice.id) == I
                     or int_const(d.slice) is not None)):
            return None
        stack = d.value.id
        loop = self.invariant_in(stack, loops)
        if loop is None:
            return None
        tables = self.table(stack, axis + 1, loop, getattr(s, "lineno", None))
        name = self.namer.fresh("exp_" + mat)
        self.hoisted.setdefault(id(s), []).append(
            copy_loc(assign(name, call("rt.table_at", tables, copy.deepcopy(d.slice))), s))
        return name

    def block(self, stmts, loops):
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and loops:
                m = self.match(s)
                loop = m and self.invariant_in(m[2], loops)
                tbl = None
                if loop is not None:
                    axis, vec, mat = m
                    tbl = self.table(mat, axis, loop, getattr(s, "lineno", None))
                elif m:
                    axis, vec, mat = m
                    tbl = self.stacked_table(s, mat, axis, loops)
                if tbl is not None:
                    s.value = (call("rt.logsumexp_vecmat", vec, mat, tbl) if axis == 0
                               else call("rt.logsumexp_matvec", mat, vec, tbl))
            inner = loops + [s] if isinstance(s, (gast.For, gast.While)) else loops
            for b in nested_blocks(s):
                self.block(b, inner)

    def place(self, stmts):
        out = []
        for s in stmts:
            out += self.hoisted.get(id(s), [])
            map_blocks(s, self.place)
            out.append(s)
        return out


def log_domain_products(unit, kinds: dict):
    """A copy of the SSA unit with loop log-sum-exps of (vector + invariant matrix) as log-domain
    products (unchanged if there are none). `kinds` are the SSA names' kinds (transforms/kinds.py)."""
    unit = copy.copy(unit)
    unit.node = clone(unit.node)
    rw = _Rewrite(unit, kinds)
    rw.block(unit.node.body, [])
    if rw.tables:
        unit.node.body = rw.place(unit.node.body)
    return unit


# ---- the backward sweep: both adjoints of a product in one pass ---------------------------------------------


def _adjoint_call(s, role):
    """(product, target name, call args) if `s` is `d = <the product's `role` helper>(...)` or `d += ...`."""
    if isinstance(s, gast.AugAssign) and not isinstance(s.op, gast.Add):
        return None
    if not isinstance(s, (gast.Assign, gast.AugAssign)):
        return None
    target = s.target if isinstance(s, gast.AugAssign) else s.targets[0]
    v = s.value
    if not (isinstance(target, gast.Name) and isinstance(v, gast.Call) and not v.keywords):
        return None
    product, found = ROLE.get(dotted_name(v.func), (None, None))
    return (product, target.id, v.args) if found == role else None


def _indexed_sink(sm, sa, fn_loads):
    """`d_M[i]` when `sm` is `m = rt.P_grad_M(...)` and `sa` is `d_M[i] += m`, m used nowhere else
    (the adjoint of a matrix picked from a stack: log_A[inputs[t]]), else None."""
    if not (isinstance(sm, gast.Assign) and isinstance(sm.targets[0], gast.Name)
            and isinstance(sa, gast.AugAssign) and isinstance(sa.op, gast.Add)
            and isinstance(sa.target, gast.Subscript) and isinstance(sa.target.value, gast.Name)
            and isinstance(sa.value, gast.Name) and sa.value.id == sm.targets[0].id
            and fn_loads.get(sa.value.id) == 1):
        return None
    sink = copy.deepcopy(sa.target)
    for n in walk(sink):
        if hasattr(n, "ctx"):
            n.ctx = gast.Load()
    return sink


def _fuse_into_view(stmts, k, loads):
    """stmts[k], stmts[k + 1] as one `d_v = rt.P_adjoints(args, d_S[i])` when they are `d_v = P_grad_v(args)`
    and `m = P_grad_M(args)` (either order) and a later `d_S[i] += m` (m used nowhere else) can move up to
    them: nothing in between reads or writes d_S or rebinds i, and i is bound before. That later
    statement is removed from `stmts`. Else None."""
    if k + 1 >= len(stmts):
        return None
    for sv, sm in ((stmts[k], stmts[k + 1]), (stmts[k + 1], stmts[k])):
        v, m = _adjoint_call(sv, "v"), _adjoint_call(sm, "M")
        if not (v and m and v[0] == m[0] and isinstance(sm, gast.Assign)
                and gast.dump(gast.Tuple(elts=v[2], ctx=gast.Load())) == gast.dump(gast.Tuple(elts=m[2], ctx=gast.Load()))):
            continue
        for j in range(k + 2, len(stmts)):
            sink = _indexed_sink(sm, stmts[j], loads)
            if sink is None:
                continue
            index, between = names_in(sink.slice), stmts[k + 2:j]
            if (index <= assigned_names(stmts[:k]) and not (names_in(sink) | {sink.value.id}) & ({v[1]} | set(
                    n for a in v[2] for n in names_in(a)))
                    and not any(sink.value.id in names_in(st) or index & assigned_names([st]) for st in between)):
                sv.value = call(HELPERS[v[0]]["both"], *v[2], sink)
                del stmts[j]
                return sv
            return None
    return None


def fuse_adjoints(fn):
    """`d_v = rt.P_grad_v(args)` next to `d_M += rt.P_grad_M(args)` (same args) becomes
    `d_v = rt.P_adjoints(args, d_M)`: one pass computes the shared weights and adds into d_M. When M is
    a matrix picked from a stack (`m = rt.P_grad_M(args)`, then `d_S[i] += m`), the pass adds into the
    view `d_S[i]` instead."""
    if not any(_adjoint_call(s, "v") for s in walk_statements(fn.body)):
        return fn   # every fusion starts from a `d_v = rt.P_grad_v(...)`: none, nothing to do (no walk of the tree)
    loads: dict = {}
    for n in walk_names(fn):
        if isinstance(n.ctx, gast.Load):
            loads[n.id] = loads.get(n.id, 0) + 1

    def block(stmts):
        out, k = [], 0
        while k < len(stmts):
            s = stmts[k]
            map_blocks(s, block)
            nxt = stmts[k + 1] if k + 1 < len(stmts) else None
            fused = _fuse_into_view(stmts, k, loads)
            if fused is not None:
                out.append(fused)
                k += 2
                continue
            for sv, sm in ((s, nxt), (nxt, s)):
                v, m = _adjoint_call(sv, "v"), _adjoint_call(sm, "M")
                if not (v and m and isinstance(sm, gast.AugAssign) and v[0] == m[0] and v[1] != m[1]):
                    continue
                args = gast.Tuple(elts=v[2], ctx=gast.Load())
                if gast.dump(args) == gast.dump(gast.Tuple(elts=m[2], ctx=gast.Load())) \
                        and not {v[1], m[1]} & names_in(args):
                    sv.value = call(HELPERS[v[0]]["both"], *v[2], m[1])
                    out.append(sv)
                    k += 2
                    break
            else:
                out.append(s)
                k += 1
        return out
    fn.body = block(fn.body)
    return fn


def split_adjoints(node):
    """Inverse of fuse_adjoints (forward mode differentiates the two adjoints separately)."""
    def block(stmts):
        out = []
        for s in stmts:
            map_blocks(s, block)
            a = _adjoint_call(s, "both")
            out.append(s)
            if a is not None:
                base, _, args = a
                s.value = call(HELPERS[base]["v"], *args[:-1])
                sink = copy.deepcopy(args[-1])      # d_M, or a view d_S[i] of a stack's adjoint
                if isinstance(sink, gast.Name):
                    sink = store(sink.id)
                else:
                    sink.ctx = gast.Store()
                grad_m = gast.AugAssign(target=sink, op=gast.Add(),
                                        value=call(HELPERS[base]["M"], *copy.deepcopy(args[:-1])))
                out.append(copy_loc(grad_m, s))
        return out
    node.body = block(node.body)
    return node
