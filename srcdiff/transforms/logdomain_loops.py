"""Whole carried loops: a loop that is only a carry step becomes one call of a kernel that runs every step.

After logdomain_carries.py, the HMM forward loop and its backward loop read

    for t in range(1, n1):                                 for t in range(n1 - 1, 0, -1):
        u = data[t]                                            d_x = d_v
        b = log_B[:, u]                                        u = data[t]
        exp_b = rt.table_at(exp_log_B, u)                      d_log_B[:, u] += d_x
        rt.logsumexp_vecmat_step(v_carry, t - 1, M, E,         d_v = rt.logsumexp_vecmat_step_adjoints(
                                 b, exp_b)                          d_x, v_carry, t - 1, M, E, d_M)

and each step is a call of a compiled kernel, whose arrays are passed field by field (about 58 arguments a
step, as much time as the step's arithmetic at K=5). Where a loop is only that, it becomes one call:

    rt.logsumexp_vecmat_steps(v_carry, 1, n1, M, E, log_B.T, exp_log_B, data)
    d_v = rt.logsumexp_vecmat_steps_adjoints(d_v, v_carry, 1, n1, M, E, d_M, d_log_B.T, data)

(runtime/logdomain_steps.py; the added vector is row u of its array, `X.T` for a column; `None` for
no index array, u = t, and for an adjoint nothing adds into). The loops must run over exactly the carry
tape's rows (`range(first, stop)`, rows `t - first`, and that range reversed), with nothing else in their
bodies and their temporaries read nowhere else. `expand_loops` gives the loops back (generated code
differentiated again).
"""
import copy

import gast

from .astutil import assign, assigned_names, call, const, copy_loc, dotted_name, is_comment, load, store
from .logdomain_calls import STEPS, int_const

_LOOPS = {step: step + "s" for step in STEPS.values()}                  # rt.P_step -> rt.P_steps
_LOOP_ADJOINTS = {name: _LOOPS[step] + "_adjoints" for step in STEPS.values()
                  for name in (step + "_grad_v", step + "_adjoints")}   # -> rt.P_steps_adjoints
_STEP_OF = {v: k for k, v in _LOOPS.items()}
_ADJOINT_OF = {_LOOPS[step] + "_adjoints": step for step in STEPS.values()}


def _linear(e) -> dict:
    """`e` as {name: coefficient, None: constant} when it is a sum of names and integers, else {}."""
    if isinstance(e, gast.Name):
        return {e.id: 1}
    if int_const(e) is not None:
        return {None: int_const(e)}
    if isinstance(e, gast.BinOp) and isinstance(e.op, (gast.Add, gast.Sub)):
        left, right = _linear(e.left), _linear(e.right)
        if not left or not right:
            return {}
        sign = 1 if isinstance(e.op, gast.Add) else -1
        out = dict(left)
        for k, c in right.items():
            out[k] = out.get(k, 0) + sign * c
        return {k: c for k, c in out.items() if c != 0 or k is None}
    return {}


def _same(a: dict, b: dict) -> bool:
    """Whether two linear forms are equal (and are linear forms)."""
    strip = lambda d: {k: c for k, c in d.items() if c != 0}
    return bool(a) and bool(b) and strip(a) == strip(b)


def _shifted(form: dict, by: int) -> dict:
    out = dict(form)
    out[None] = out.get(None, 0) + by
    return out


def _range_of(f):
    """(first, stop, step) of `for t in range(...)` with a Name target, else None."""
    it = f.iter
    if not (isinstance(f, gast.For) and isinstance(f.target, gast.Name) and isinstance(it, gast.Call)
            and dotted_name(it.func) == "range" and not it.keywords and 1 <= len(it.args) <= 3):
        return None
    args = list(it.args)
    if len(args) == 1:
        args = [const(0)] + args
    step = int_const(args[2]) if len(args) == 3 else 1
    return args[0], args[1], step


def _code(body) -> list:
    return [s for s in body if not is_comment(s)]


def _row_is(row, t, first) -> bool:
    """Whether expression `row` is `t - first`."""
    form = _linear(first)
    want = {k: -c for k, c in form.items()}
    want[t] = want.get(t, 0) + 1
    return _same(_linear(row), want)


def _index_source(body, u, t):
    """The index array `idx` when `u = idx[t]` is a statement of `body` (None where u is t itself), as
    (idx name or None, the statement or None); else False."""
    if u == t:
        return None, None
    defs = [s for s in body if u in assigned_names([s])]
    d = defs[0] if len(defs) == 1 and isinstance(defs[0], gast.Assign) else None
    e = d.value if d is not None and isinstance(d.targets[0], gast.Name) else None
    if isinstance(e, gast.Subscript) and isinstance(e.value, gast.Name) and isinstance(e.slice, gast.Name) \
            and e.slice.id == t and e.value.id != t:
        return e.value.id, d
    return False


def _reads(node, skip, names) -> set:
    """Which of `names` are read in `node`, the statement `skip` left out."""
    if node is skip:
        return set()
    out = {node.id} & names if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) else set()
    for child in gast.iter_child_nodes(node):
        out |= _reads(child, skip, names)
    return out


def _local(fn, loop, names) -> bool:
    """Whether `names` (bound in `loop`, its counter too) are read only in `loop` and in loops that bind them
    (as their counter or at the top of their bodies) before reading them."""
    def block(stmts, inside):
        for s in stmts:
            if s is loop:
                continue
            if isinstance(s, (gast.For, gast.While)):
                header = s.iter if isinstance(s, gast.For) else s.test
                if _reads(header, loop, names) and not inside:
                    return False
                bound = assigned_names([s.target]) & names if isinstance(s, gast.For) else set()
                for st in s.body:
                    if _reads(st, loop, names) - bound and not isinstance(st, (gast.For, gast.While, gast.If)):
                        return False
                    if isinstance(st, (gast.For, gast.While, gast.If)) and not block([st], True):
                        return False
                    bound |= assigned_names([st]) & names
                if not block(s.orelse, inside):
                    return False
            elif isinstance(s, gast.If):
                if _reads(s.test, loop, names) or not block(s.body, inside) or not block(s.orelse, inside):
                    return False
            elif _reads(s, loop, names):
                return False
        return True
    return block(fn.body, False)


def _oriented(name, column):
    return gast.Attribute(value=load(name), attr="T", ctx=gast.Load()) if column else load(name)


def whole_forward(fn, f, step, added, bound):
    """One call for carried loop `f` when its body is only `step` (`rt.P_step(carry, row, M, E, b, exp_b)`) and
    the added vector's statements (`added`: (b's statement, X, u, column) from logdomain_carries), with M, E
    and X bound before it: the call's statement, or None."""
    rng = _range_of(f)
    if rng is None or rng[2] != 1 or added is None or len(step.value.args) != 6:
        return None
    t = f.target.id
    carry, row, mat, tbl, b, exp_b = step.value.args
    d, x, u, column = added
    if not (isinstance(u, gast.Name) and all(isinstance(a, gast.Name) for a in (carry, mat, tbl, b, exp_b))
            and _row_is(row, t, rng[0]) and x in bound and {mat.id, tbl.id} <= bound):
        return None
    source = _index_source(f.body, u.id, t)
    if source is False or (source[0] is not None and source[0] not in bound):
        return None
    idx, idx_stmt = source
    table = [s for s in f.body if isinstance(s, gast.Assign) and s.targets[0].id == exp_b.id] \
        if all(isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) for s in _code(f.body)
               if s is not step) else []
    if len(table) != 1 or dotted_name(getattr(table[0].value, "func", None)) != "rt.table_at":
        return None
    xt = table[0].value.args[0]
    mine = {id(step), id(d), id(table[0])} | ({id(idx_stmt)} if idx_stmt is not None else set())
    temps = {t, b.id, exp_b.id} | ({u.id} if idx is not None else set())
    if {id(s) for s in _code(f.body)} != mine or not isinstance(xt, gast.Name) or xt.id not in bound \
            or not _local(fn, f, temps):
        return None
    first, stop = copy.deepcopy(rng[0]), copy.deepcopy(rng[1])
    new = call(_LOOPS[dotted_name(step.value.func)], load(carry.id), first, stop, load(mat.id), load(tbl.id),
               _oriented(x, column), load(xt.id), load(idx) if idx is not None else const(None))
    return copy_loc(gast.Expr(value=new), step)


def _sink(s, g):
    """(d_X, u, column) when `s` is `d_X[:, u] += g`, `d_X[u, :] += g` or `d_X[u] += g` (u a name), else None."""
    if not (isinstance(s, gast.AugAssign) and isinstance(s.op, gast.Add) and isinstance(s.value, gast.Name)
            and s.value.id == g and isinstance(s.target, gast.Subscript) and isinstance(s.target.value, gast.Name)):
        return None
    sl = s.target.slice
    full = lambda x: isinstance(x, gast.Slice) and x.lower is None and x.upper is None and x.step is None
    if isinstance(sl, gast.Name):
        return s.target.value.id, sl.id, False
    if isinstance(sl, gast.Tuple) and len(sl.elts) == 2:
        if full(sl.elts[0]) and isinstance(sl.elts[1], gast.Name):
            return s.target.value.id, sl.elts[1].id, True
        if isinstance(sl.elts[0], gast.Name) and full(sl.elts[1]):
            return s.target.value.id, sl.elts[0].id, False
    return None


def whole_backward(fn, loop, stmt, forward):
    """One call for backward loop `loop` of carried loop `forward` (over range(first, stop)) when its body is only the
    step's adjoint `stmt` (`d_v = rt.P_step_adjoints(g, carry, row, M, E, d_M)` or `_grad_v` without d_M),
    with g the copy `g = d_v` (or d_v itself) and optionally `d_X[:, u] += g`, u = t or `u = idx[t]`: the
    call's statement, or None."""
    rng, fwd = _range_of(loop), _range_of(forward)
    c = stmt.value
    if rng is None or fwd is None or rng[2] != -1 or fwd[2] != 1 or not isinstance(stmt, gast.Assign) \
            or not isinstance(stmt.targets[0], gast.Name):
        return None
    t, d_v = loop.target.id, stmt.targets[0].id
    first, stop = fwd[:2]
    g, carry, row, mat, tbl = c.args[:5]
    d_m = c.args[5] if len(c.args) == 6 else None
    if not (all(isinstance(a, gast.Name) for a in (g, carry, mat, tbl)) and _row_is(row, t, first)
            and _same(_linear(rng[0]), _shifted(_linear(stop), -1))
            and _same(_linear(rng[1]), _shifted(_linear(first), -1))
            and (d_m is None or isinstance(d_m, gast.Name))):
        return None
    code = _code(loop.body)
    mine, temps = {id(stmt)}, {t}
    if g.id != d_v:
        copies = [s for s in code if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                  and s.targets[0].id == g.id and isinstance(s.value, gast.Name) and s.value.id == d_v]
        if len(copies) != 1 or code.index(copies[0]) != 0:
            return None
        mine.add(id(copies[0]))
        temps.add(g.id)
    sinks = [(s, _sink(s, g.id)) for s in code if _sink(s, g.id) is not None]
    if len(sinks) > 1:
        return None
    d_x = idx = None
    if sinks:
        s, (d_x, u, column) = sinks[0]
        source = _index_source(loop.body, u, t)
        if source is False or d_x in {d_v, g.id, carry.id}:
            return None
        idx, idx_stmt = source
        mine.add(id(s))
        if idx_stmt is not None:
            mine.add(id(idx_stmt))
            temps.add(u)
    if {id(s) for s in code} != mine or (idx is not None and idx in assigned_names(code)) \
            or {mat.id, tbl.id} & assigned_names(code) or (d_m is not None and d_m.id in assigned_names(code)) \
            or not _local(fn, loop, temps):
        return None
    new = call(_LOOP_ADJOINTS[dotted_name(c.func)], load(d_v), load(carry.id), copy.deepcopy(first),
               copy.deepcopy(stop), load(mat.id), load(tbl.id), load(d_m.id) if d_m is not None else const(None),
               _oriented(d_x, column) if d_x is not None else const(None),
               load(idx) if idx is not None else const(None))
    return copy_loc(gast.Assign(targets=[store(d_v)], value=new), stmt)


def expand_loops(stmts, namer) -> list:
    """Inverse of whole_forward and whole_backward on the statements of one block: each call back to its loop
    (generated code differentiated again; logdomain_carries.untape_carries then takes the steps)."""
    out = []
    for s in stmts:
        c = s.value if isinstance(s, (gast.Expr, gast.Assign)) and isinstance(s.value, gast.Call) else None
        name = dotted_name(c.func) if c is not None else None
        if name not in _STEP_OF and name not in _ADJOINT_OF:
            out.append(s)
            continue
        t = namer.fresh("t")
        if name in _STEP_OF:
            carry, first, stop, mat, tbl, x, _, idx = c.args
            row, rng = gast.BinOp(left=load(t), op=gast.Sub(), right=copy.deepcopy(first)), [first, stop]
        else:
            g, carry, first, stop, mat, tbl, d_m, d_x, idx = c.args
            row = gast.BinOp(left=load(t), op=gast.Sub(), right=copy.deepcopy(first))
            rng = [gast.BinOp(left=stop, op=gast.Sub(), right=const(1)),
                   gast.BinOp(left=copy.deepcopy(first), op=gast.Sub(), right=const(1)), const(-1)]
        body = []
        u = load(t)
        if not (isinstance(idx, gast.Constant) and idx.value is None):
            u_name = namer.fresh("u")
            body.append(assign(u_name, gast.Subscript(value=idx, slice=load(t), ctx=gast.Load())))
            u = load(u_name)
        if name in _STEP_OF:
            b = namer.fresh("b")
            body += [assign(b, _row(x, u, gast.Load())),
                     gast.Expr(value=call(_STEP_OF[name], carry, row, mat, tbl, load(b)))]
        else:
            d_v = s.targets[0].id
            if not (isinstance(d_x, gast.Constant) and d_x.value is None):
                body.append(gast.AugAssign(target=_row(d_x, copy.deepcopy(u), gast.Store()), op=gast.Add(),
                                           value=load(d_v)))
            with_m = not (isinstance(d_m, gast.Constant) and d_m.value is None)
            step = _ADJOINT_OF[name] + ("_adjoints" if with_m else "_grad_v")
            body.append(assign(d_v, call(step, g, carry, row, mat, tbl, *([d_m] if with_m else []))))
        loop = gast.For(target=store(t), iter=call("range", *rng), body=[copy_loc(b_, s) for b_ in body],
                        orelse=[], type_comment=None)
        out.append(copy_loc(loop, s))
    return out


def _row(x, u, ctx):
    """Row u of the rows argument x (`X`: X[u]; `X.T`: X[:, u])."""
    if isinstance(x, gast.Attribute) and x.attr == "T":
        return gast.Subscript(value=copy.deepcopy(x.value), slice=gast.Tuple(
            elts=[gast.Slice(lower=None, upper=None, step=None), u], ctx=gast.Load()), ctx=ctx)
    return gast.Subscript(value=copy.deepcopy(x), slice=u, ctx=ctx)
