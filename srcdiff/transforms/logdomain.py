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
"""
from __future__ import annotations

import copy

import gast

from ..rules import names_with
from .aliasing import memory_roots, sharing_written_memory
from .kinds import I, is_float_array
from .purity import STACK_OPS, is_pure
from .astutil import (Namer, assign, assigned_names, call, clone, const, copy_loc, definitely_assigned, dotted,
                      dotted_name, load, map_blocks, names_in, nested_blocks, store, walk, walk_names,
                      walk_statements)

def _definitions(fn) -> dict:
    """SSA name -> the value assigned to it (names assigned more than once map to None)."""
    defs: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            name = n.targets[0].id
            defs[name] = None if name in defs else n.value
    return defs


def _int_const(e):
    if isinstance(e, gast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        v = _int_const(e.operand)
        return None if v is None else -v
    return None


def _axis2(e, defs):
    """A literal axis of a 2-d array, made non-negative (None if not a literal 0, 1, -1 or -2)."""
    a = _int_const(defs.get(e.id) if isinstance(e, gast.Name) else e)
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
                     or _int_const(d.slice) is not None)):
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
_PRODUCTS = {"rt.logsumexp_vecmat", "rt.logsumexp_matvec"}
_VECMAT = names_with("vecmat")       # the products whose vector comes first (their rules' dims law), the rest: M, v


# each product's adjoint helpers by role: w.r.t. the vector ("v"), w.r.t. the matrix ("M"), both fused
_HELPERS = {p: {"v": p + "_grad_v", "M": p + "_grad_M", "both": p + "_adjoints"} for p in sorted(_PRODUCTS)}
_ROLE = {name: (p, role) for p, roles in _HELPERS.items() for role, name in roles.items()}


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
    product, found = _ROLE.get(dotted_name(v.func), (None, None))
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
                sv.value = call(_HELPERS[v[0]]["both"], *v[2], sink)
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
                    sv.value = call(_HELPERS[v[0]]["both"], *v[2], m[1])
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
                s.value = call(_HELPERS[base]["v"], *args[:-1])
                sink = copy.deepcopy(args[-1])      # d_M, or a view d_S[i] of a stack's adjoint
                if isinstance(sink, gast.Name):
                    sink = store(sink.id)
                else:
                    sink.ctx = gast.Store()
                grad_m = gast.AugAssign(target=sink, op=gast.Add(),
                                        value=call(_HELPERS[base]["M"], *copy.deepcopy(args[:-1])))
                out.append(copy_loc(grad_m, s))
        return out
    node.body = block(node.body)
    return node


# ---- jitted code: the forward sweep tapes the scales its product's adjoint needs ----------------------------
_SCALED = {name: name + "_scaled" for p, roles in _HELPERS.items() for name in [p, *roles.values()]}
_UNSCALED = {v: k for k, v in _SCALED.items()}


def _call_of(s, names):
    """`s`'s call when `s` is `x = f(...)`, `x += f(...)` or `f(...)` with f one of `names`, else None."""
    v = s.value if isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)) else None
    return v if isinstance(v, gast.Call) and dotted_name(v.func) in names and not v.keywords else None


def _row_call(s, fn_name, tape):
    """`s`'s (target, row) when `s` is `t = rt.put_row(tape, row, x)` / `x = rt.get_row(tape, row, x)`."""
    v = s.value if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else None
    if (isinstance(v, gast.Call) and dotted_name(v.func) == fn_name and len(v.args) == 3
            and isinstance(v.args[0], gast.Name) and v.args[0].id == tape):
        return s.targets[0].id, v.args[1], v.args[2]
    return None


def tape_scales(fn):
    """Jitted code (after transforms/stacks.py): a log-domain product whose result goes on a row tape,
    and whose adjoint a later loop takes with that result restored from the tape, keeps its scales on a
    tape of its own (runtime/logdomain_scales.py); its adjoint reads them instead of taking an
    exponential for every vector entry and every result again:

        v_scales = rt.scale_tape(E, n)               # beside the result's row tape
        for t in ...:
            ans = rt.logsumexp_vecmat_scaled(v, M, E, v_scales, t - 1)
        for t in ...:
            d_v = rt.logsumexp_vecmat_adjoints_scaled(g, v, M, E, ans, d_M, v_scales, t - 1)

    Only a product that runs once every iteration (a statement of the loop's own body) and whose table
    (or the stack of tables it is picked from: rt.table_at) is assigned before the tapes are made."""
    if not any(isinstance(s, gast.For) for s in walk_statements(fn.body)):
        return fn   # only for-loops are taped: none, nothing to do
    namer = Namer(names_in(fn) | {"np", "rt", "math"})
    params = {a.id for a in fn.args.args}

    def block(stmts):
        for s in stmts:
            for b in nested_blocks(s):
                block(b)
        at = 0
        while at < len(stmts):
            if isinstance(stmts[at], gast.For):
                at = _carry_loop(stmts, at, namer, params)
            at += 1
        stmts[:] = [new for at, s in enumerate(stmts)
                    for new in (_tape_loop(stmts, at, s, namer) if isinstance(s, gast.For) else []) + [s]]
    block(fn.body)
    return fn


def _tape_loop(stmts, at, f, namer):
    """The scale tapes of loop stmts[at]'s products (to put before it), its products and their adjoints
    in later loops of `stmts` rewritten to use them."""
    made = {s.targets[0].id: s for s in stmts[:at] if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
            and dotted_name(getattr(s.value, "func", None)) == "rt.row_tape"}
    tapes = []
    for s in f.body:
        product = _call_of(s, _PRODUCTS)
        if product is None or not isinstance(s, gast.Assign) or not isinstance(s.targets[0], gast.Name) \
                or not isinstance(product.args[2], gast.Name):
            continue
        x = s.targets[0].id
        put = next((p for p in (_put_of(st, x) for st in f.body) if p is not None), None)
        table = _table_root(f.body, product.args[2].id)
        if put is None or put[0] not in made or table is None:
            continue
        tape, row_f = put
        adjoints = [a for b in stmts[at + 1:] if isinstance(b, gast.For)
                    for a in _adjoints_reading(b, tape, dotted_name(product.func))]
        if not adjoints:
            continue
        scales = namer.fresh(x + "_scales")
        count = copy.deepcopy(made[tape].value.args[0])
        tapes.append(copy_loc(assign(scales, call("rt.scale_tape", table, count)), made[tape]))
        product.func = dotted(_SCALED[dotted_name(product.func)])
        product.args += [load(scales), copy.deepcopy(row_f)]
        for c, row_b in adjoints:
            c.func = dotted(_SCALED[dotted_name(c.func)])
            c.args += [load(scales), copy.deepcopy(row_b)]
    return tapes


def _put_of(s, x):
    """(tape, row) when `s` is `tape = rt.put_row(tape, row, x)`."""
    v = s.value if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else None
    if (isinstance(v, gast.Call) and dotted_name(v.func) == "rt.put_row" and len(v.args) == 3
            and isinstance(v.args[0], gast.Name) and v.args[0].id == s.targets[0].id
            and isinstance(v.args[2], gast.Name) and v.args[2].id == x):
        return v.args[0].id, v.args[1]
    return None


def _table_root(body, e):
    """The name of the table a loop body's product uses: `e` itself when the body does not assign it, the
    stack's table T when it is `e = rt.table_at(T, u)`; else None."""
    defs = [s for s in body if e in assigned_names([s])]
    if not defs:
        return e
    d = defs[0].value if len(defs) == 1 and isinstance(defs[0], gast.Assign) else None
    if (isinstance(d, gast.Call) and dotted_name(d.func) == "rt.table_at" and isinstance(d.args[0], gast.Name)
            and not any(d.args[0].id in assigned_names([s]) for s in body)):
        return d.args[0].id
    return None


def _adjoints_reading(b, tape, product):
    """[(call, row)] for the adjoint helpers of `product` in loop `b`'s body that take as result the value
    restored from `tape` earlier in the body (and not reassigned in between)."""
    found, restored = [], {}
    helpers = set(_HELPERS[product].values())
    for s in b.body:
        c = _call_of(s, helpers)
        if c is not None and len(c.args) > 4 and isinstance(c.args[4], gast.Name) and c.args[4].id in restored:
            found.append((c, restored[c.args[4].id]))
        got = _row_call(s, "rt.get_row", tape)
        for name in assigned_names([s]):
            restored.pop(name, None)
        if got is not None and isinstance(got[2], gast.Name) and got[2].id == got[0]:
            restored[got[0]] = got[1]
    return found


def untape_scales(node):
    """Inverse of tape_scales (generated jitted code differentiated again): the plain products and
    adjoints, without the scale tapes."""
    node = untape_carries(node)

    def block(stmts):
        out = []
        for s in stmts:
            map_blocks(s, block)
            if _call_of(s, {"rt.scale_tape"}) is not None and isinstance(s, gast.Assign):
                continue
            c = _call_of(s, _UNSCALED)
            if c is not None:
                c.func = dotted(_UNSCALED[dotted_name(c.func)])
                del c.args[-2:]
            out.append(s)
        return out
    node.body = block(node.body)
    return node


# ---- jitted code: a recursion's vector carried in the probability domain --------------------------------------
_STEPS = {"rt.logsumexp_vecmat": "rt.logsumexp_vecmat_step", "rt.logsumexp_matvec": "rt.logsumexp_matvec_step"}
_STEP_ADJOINTS = {p + "_" + role: _STEPS[p] + "_" + role for p in _STEPS for role in ("grad_v", "adjoints")}
_UNSTEP = {v: k for k, v in {**_STEPS, **_STEP_ADJOINTS}.items()}


def _loads(stmts, name) -> int:
    return sum(1 for s in stmts for n in walk_names(s) if n.id == name and isinstance(n.ctx, gast.Load))


def _assigned_by(stmts, name) -> list:
    return [s for s in stmts if name in assigned_names([s])]


def _carry_match(stmts, at, f):
    """What `_carry_loop` rewrites in loop stmts[at] (a dict), or None."""
    body = f.body
    if any(isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.Yield, gast.YieldFrom))
           for s in body for n in walk(s)):
        return None
    made = {s.targets[0].id: k for k, s in enumerate(stmts[:at]) if isinstance(s, gast.Assign)
            and isinstance(s.targets[0], gast.Name) and dotted_name(getattr(s.value, "func", None)) == "rt.row_tape"}
    for ps in body:
        product = _call_of(ps, _PRODUCTS)
        if product is None or not isinstance(ps, gast.Assign) or not isinstance(ps.targets[0], gast.Name) \
                or not all(isinstance(a, gast.Name) for a in product.args) or len(product.args) != 3:
            continue
        vecmat = dotted_name(product.func) in _VECMAT
        p = ps.targets[0].id
        v, mat, tbl = (product.args[0].id, product.args[1].id, product.args[2].id) if vecmat \
            else (product.args[1].id, product.args[0].id, product.args[2].id)
        adds = [s for s in body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.BinOp) and isinstance(s.value.op, gast.Add)
                and isinstance(s.value.left, gast.Name) and isinstance(s.value.right, gast.Name)
                and p in (s.value.left.id, s.value.right.id) and s.value.left.id != s.value.right.id]
        if len(adds) != 1:
            continue
        xs = adds[0]
        x = xs.targets[0].id
        b = xs.value.right.id if xs.value.left.id == p else xs.value.left.id
        carries = [s for s in body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                   and s.targets[0].id == v and isinstance(s.value, gast.Name) and s.value.id == x]
        puts = {name: [q for q in (_put_of(s, name) for s in body) if q is not None] for name in (p, v)}
        if not (len(carries) == 1 and len(puts[p]) == 1 and len(puts[v]) == 1):
            continue
        (tape_p, row), (tape_v, row_v) = puts[p][0], puts[v][0]
        i_p, i_x, i_c = body.index(ps), body.index(xs), body.index(carries[0])
        between = body[i_p + 1:i_x]
        if not (tape_p in made and tape_v in made and tape_p != tape_v and i_p < i_x < i_c
                and gast.dump(row) == gast.dump(row_v) and not names_in(row) & assigned_names(body)
                - {n.id for n in walk_names(f.target)}
                and len(_assigned_by(body, v)) == 1 and len(_assigned_by(body, p)) == 1
                and len(_assigned_by(body, x)) == 1 and not {mat, tbl} & assigned_names(between)
                and not {v, mat, tbl} & assigned_names(body[i_x:i_c])
                and _loads(body, v) == 2 and _loads(body, p) == 2 and _loads(body, x) == 1
                and _table_root(body, tbl) is not None):
            continue
        after = stmts[at + 1:]
        # the backward loops: each reads the product's adjoint with v and p restored from the two tapes
        uses, ok = [], True
        for k, loop in enumerate(after):
            if not ({tape_p, tape_v} & names_in(loop)):
                continue
            use = isinstance(loop, gast.For) and _carry_adjoint(loop, tape_p, tape_v, dotted_name(product.func),
                                                                 v, stmts, at + 1 + k)
            if not use:
                ok = False
                break
            uses.append(use)
        if not ok or not uses:
            continue
        used = {id(u[0]) for u in uses}
        if any(n.id == x or n.id == p and id(s) not in used for s in stmts[:at] + after for n in walk_names(s)):
            continue
        tape_uses = sum(_loads(stmts, t) for t in (tape_p, tape_v))
        if tape_uses != 2 + 2 * len(uses):
            continue
        return dict(product=product, ps=ps, xs=xs, carry=carries[0], b=b, v=v, mat=mat, tbl=tbl, row=row,
                    tapes=(tape_p, tape_v), made=made, uses=uses, vecmat=vecmat)
    return None


def _carry_adjoint(loop, tape_p, tape_v, product, v, stmts, at):
    """(loop, get statements, adjoint call, its row) when backward loop stmts[at] restores the product's v
    and result from the tapes only for the product's adjoint (w.r.t. v, or both), and nothing after the loop
    reads them; else None."""
    body = loop.body
    gets = {t: [(s, _row_call(s, "rt.get_row", t)) for s in body if _row_call(s, "rt.get_row", t)]
            for t in (tape_p, tape_v)}
    if any(len(g) != 1 for g in gets.values()):
        return None
    (gp, (p_b, row_p, like_p)), (gv, (v_b, row_v, like_v)) = gets[tape_p][0], gets[tape_v][0]
    if not (gast.dump(row_p) == gast.dump(row_v) and isinstance(like_p, gast.Name) and like_p.id == p_b
            and isinstance(like_v, gast.Name) and like_v.id == v_b and p_b != v_b):
        return None
    helpers = {_HELPERS[product]["v"], _HELPERS[product]["both"]}
    calls = [c for c in (_call_of(s, helpers) for s in body) if c is not None]
    vecmat = product in _VECMAT
    if len(calls) != 1 or len(calls[0].args) < 5:
        return None
    c = calls[0]
    arg_v = c.args[1] if vecmat else c.args[2]
    if not (isinstance(arg_v, gast.Name) and arg_v.id == v_b and isinstance(c.args[4], gast.Name)
            and c.args[4].id == p_b and _loads(body, v_b) == 2 and _loads(body, p_b) == 2
            and len(_assigned_by(body, v_b)) == 1 and len(_assigned_by(body, p_b)) == 1):
        return None
    stmt_c = next(s for s in body if _call_of(s, helpers) is c)
    if body.index(stmt_c) < max(body.index(gp), body.index(gv)):
        return None
    if any(n.id in (p_b, v_b, v) for s in stmts[at + 1:] for n in walk_names(s)):
        return None
    return loop, (gp, gv), c, row_p


def _carry_loop(stmts, at, namer, params) -> int:
    """Jitted code (after transforms/stacks.py): a loop whose log-domain product feeds only the next step,

        for t in range(a, b):
            p = rt.logsumexp_vecmat(v, M, E)             # v and p on row tapes for the backward loop
            x = p + e
            v = x

    carries v in the probability domain on a carry tape (runtime/logdomain_carries.py): the scaled
    forward algorithm, K exponentials and one logarithm a step instead of K of each and two arrays, exact
    to rounding where it underflows too; the backward loop's adjoint reads the tape:

        v_carry = rt.carry_start(E, max(b - a, 0), v)
        for t in range(a, b):
            rt.logsumexp_vecmat_step(v_carry, t - a, M, E, e)
        v = rt.carry_end(v_carry, max(b - a, 0), v)
        for t in range(b - 1, a - 1, -1):
            d_v = rt.logsumexp_vecmat_step_adjoints(d_x, v_carry, t - a, M, E, d_M)

    Only where v, p and x are read nowhere else (v after the loop from carry_end) and the tapes of v and p
    serve only that adjoint. Where e is a row or a column of an array the loop leaves unchanged (the
    emissions log_B[:, y] or log_b[t] of an HMM), the exponentials of that array are taken once, before
    the loop, and the step reads e's own (`_added_table`): no exponential a step. Returns the index of the
    loop in `stmts` (after the statements put before it)."""
    f = stmts[at]
    m = _carry_match(stmts, at, f)
    if m is None:
        return at
    tape_p, tape_v = m["tapes"]
    count = copy.deepcopy(stmts[m["made"][tape_p]].value.args[0])
    v, body = m["v"], f.body
    carry = namer.fresh(v + "_carry")
    table = _table_root(body, m["tbl"])
    start = copy_loc(assign(carry, call("rt.carry_start", table, count, v)), f)
    step = copy_loc(gast.Expr(value=call(_STEPS[dotted_name(m["product"].func)], carry, copy.deepcopy(m["row"]),
                                         m["mat"], m["tbl"], m["b"])), m["xs"])
    p = m["ps"].targets[0].id
    gone = {id(m["ps"]), id(m["carry"])} | {id(s) for s in body if _put_of(s, v) or _put_of(s, p)}
    f.body = [step if s is m["xs"] else s for s in body if id(s) not in gone]
    for loop, gets, c, row in m["uses"]:
        c.func = dotted(_STEP_ADJOINTS[dotted_name(c.func)])
        mat = c.args[2] if m["vecmat"] else c.args[1]
        c.args = [c.args[0], load(carry), copy.deepcopy(row), mat, c.args[3]] + c.args[5:]
        loop.body = [s for s in loop.body if all(s is not g_ for g_ in gets)]
    end = copy_loc(assign(v, call("rt.carry_end", carry, copy.deepcopy(count), v)), f)
    made = {m["made"][tape_p], m["made"][tape_v]}
    bound = params | {s.targets[0].id for s in stmts[:at] if isinstance(s, gast.Assign)
                      and isinstance(s.targets[0], gast.Name)}
    before = [s for k, s in enumerate(stmts[:at]) if k not in made] + _added_table(f, m["b"], step, bound, namer)
    stmts[:] = before + [start, f, end] + stmts[at + 1:]
    return len(before) + 1


_BUILTINS = frozenset(("range", "len", "max", "min", "abs", "int", "float", "bool"))
_NP_WRITERS = frozenset(("np.copyto", "np.put", "np.place", "np.putmask", "np.fill_diagonal", "np.put_along_axis"))


def _writes_only_tapes(stmts) -> bool:
    """Whether `stmts` write into no array but tapes: no element, slice or attribute store, no augmented
    assignment, no call but of library functions without effects, builtins, rt.put_row and stack operations."""
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.AugAssign) or (isinstance(n, (gast.Subscript, gast.Attribute))
                                                  and isinstance(n.ctx, gast.Store)):
                return False
            if isinstance(n, gast.Call):
                name = dotted_name(n.func)
                if name in _NP_WRITERS or any(k.arg == "out" for k in n.keywords):
                    return False
                if not (name in _BUILTINS or name in STACK_OPS or name == "rt.put_row" or is_pure(n)):
                    return False
    return True


def _added_source(f, b):
    """(statement, X, u, column) when loop f's body binds the vector `b` once, as `b = X[:, u]` (column u)
    or `b = X[u, :]` / `b = X[u]` (row u) with u a name or an integer: a bare `X[u]` only with u the loop's
    own range counter (an integer for sure, so X is a matrix where b is a vector); else None."""
    defs = [s for s in f.body if b in assigned_names([s])]
    d = defs[0] if len(defs) == 1 and isinstance(defs[0], gast.Assign) and len(defs[0].targets) == 1 else None
    e = d.value if d is not None and isinstance(d.targets[0], gast.Name) else None
    if not (isinstance(e, gast.Subscript) and isinstance(e.value, gast.Name)):
        return None
    full = lambda x: isinstance(x, gast.Slice) and x.lower is None and x.upper is None and x.step is None
    index = lambda x: isinstance(x, gast.Name) or _int_const(x) is not None
    sl = e.slice
    if isinstance(sl, gast.Tuple) and len(sl.elts) == 2:
        if full(sl.elts[0]) and index(sl.elts[1]):
            return d, e.value.id, sl.elts[1], True
        if index(sl.elts[0]) and full(sl.elts[1]):
            return d, e.value.id, sl.elts[0], False
        return None
    counter = (isinstance(f.iter, gast.Call) and dotted_name(f.iter.func) == "range" and isinstance(f.target, gast.Name)
               and isinstance(sl, gast.Name) and sl.id == f.target.id)
    return (d, e.value.id, sl, False) if counter or _int_const(sl) is not None else None


def _added_table(f, b, step, bound, namer) -> list:
    """When carried loop f adds to its product a row or a column `b` of an array X that the loop leaves
    unchanged (bound before it, in `bound`, and nothing in the loop writes into an array but its tapes):
    the statement computing X's table, to put before the loop, with `exp_b = rt.table_at(table, u)` after
    b's assignment in the body and exp_b passed to the step. Else [] (the step takes b's exponentials)."""
    found = _added_source(f, b)
    if found is None:
        return []
    d, x, u, column = found
    if x not in bound or x in assigned_names(f.body) | assigned_names([f.target]) \
            or not _writes_only_tapes([s for s in f.body if s is not step]):
        return []
    table, row = namer.fresh("exp_" + x), namer.fresh("exp_" + b)
    source = gast.Attribute(value=load(x), attr="T", ctx=gast.Load()) if column else load(x)
    f.body.insert(f.body.index(d) + 1, copy_loc(assign(row, call("rt.table_at", table, copy.deepcopy(u))), d))
    step.value.args.append(load(row))
    return [copy_loc(assign(table, call("rt.exp_shifted", source, const(1))), f)]




def untape_carries(node):
    """Inverse of the carries (generated jitted code differentiated again): the loop's product, sum and
    carry back, v and the product's result on stacks (transforms/forward.py lower_stacks' form) for the
    adjoint, which takes them from there."""
    namer = Namer(names_in(node) | {"np", "rt", "math"})
    carries: dict = {}      # carry tape -> (vector name, stack of v, stack of the product)

    def block(stmts):
        out = []
        for s in stmts:
            map_blocks(s, block)
            c = _call_of(s, {"rt.carry_start", "rt.carry_end"} | set(_UNSTEP))
            name = dotted_name(c.func) if c is not None else None
            if name == "rt.carry_start":
                v = c.args[2].id
                sv, sp = namer.fresh(v + "_stack"), namer.fresh(v + "_scaled_stack")
                carries[s.targets[0].id] = (v, sv, sp)
                out += [copy_loc(assign(t, call("rt.stack", const(t))), s) for t in (sv, sp)]
                continue
            if name == "rt.carry_end":
                continue
            if name in _STEPS.values():
                tape, _, mat, tbl, b = c.args[:5]      # (and b's own table, not needed there)
                v, sv, sp = carries[tape.id]
                p = namer.fresh(v + "_product")
                args = (load(v), mat, tbl) if _UNSTEP[name] in _VECMAT else (mat, load(v), tbl)
                out += [copy_loc(x, s) for x in (
                    assign(p, call(_UNSTEP[name], *args)),
                    gast.Expr(value=call("rt.push", load(sv), load(v))),
                    gast.Expr(value=call("rt.push", load(sp), load(p))),
                    assign(v, gast.BinOp(left=load(p), op=gast.Add(), right=b)))]
                continue
            if name in _STEP_ADJOINTS.values():
                g, tape, _, mat, tbl, *d_m = c.args
                v, sv, sp = carries[tape.id]
                vb, pb = namer.fresh(v), namer.fresh(v + "_product")
                out += [copy_loc(assign(vb, call("rt.pop", load(sv))), s),
                        copy_loc(assign(pb, call("rt.pop", load(sp))), s)]
                vecmat = _ROLE[_UNSTEP[name]][0] in _VECMAT
                c.func = dotted(_UNSTEP[name])
                c.args = ([g, load(vb), mat, tbl, load(pb)] if vecmat else [g, mat, load(vb), tbl, load(pb)]) + d_m
            out.append(s)
        return out
    node.body = block(node.body)
    return node
