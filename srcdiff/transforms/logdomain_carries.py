"""Carries: a recursion's log-domain vector kept in the probability domain (jitted code).

Called by the scale tapes pass (logdomain_scales.py) on each `for` loop: a loop whose log-domain product
feeds only the next step becomes steps on a carry tape (runtime/logdomain_carries.py: the scaled forward
algorithm), and the backward loops that read the product's adjoint read that tape; loops that are then
only the step become one call (logdomain_loops.py). `untape_carries` undoes it for generated code
differentiated again.
"""
import copy

import gast

from .astutil import (Namer, assign, assigned_names, call, const, copy_loc, dotted, dotted_name, is_comment, load,
                      map_blocks, names_in, walk, walk_names)
from .logdomain_calls import (HELPERS, PRODUCTS, ROLE, STEP_ADJOINTS, STEPS, VECMAT, call_of, int_const, put_of,
                              row_call, table_root)
from .logdomain_loops import expand_loops, whole_backward, whole_forward
from .purity import STACK_OPS, is_pure

_UNSTEP = {v: k for k, v in {**STEPS, **STEP_ADJOINTS}.items()}


def _loads(stmts, name) -> int:
    return sum(1 for s in stmts for n in walk_names(s) if n.id == name and isinstance(n.ctx, gast.Load))


def _assigned_by(stmts, name) -> list:
    return [s for s in stmts if name in assigned_names([s])]


def _carry_match(stmts, at, f):
    """What `carry_loop` rewrites in loop stmts[at] (a dict), or None."""
    body = f.body
    # (a statement of the body that is a product first: without one, as in most loops, the body is not walked for
    # jumps, which made each loop of a nest walk every loop inside it)
    if not any(call_of(ps, PRODUCTS) is not None for ps in body) or any(
            isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.Yield, gast.YieldFrom))
            for s in body for n in walk(s)):
        return None
    made = None     # (the row tapes made before the loop: looked for only in a loop with a product, most have none)
    for ps in body:
        product = call_of(ps, PRODUCTS)
        if product is None or not isinstance(ps, gast.Assign) or not isinstance(ps.targets[0], gast.Name) \
                or not all(isinstance(a, gast.Name) for a in product.args) or len(product.args) != 3:
            continue
        if made is None:
            made = {s.targets[0].id: k for k, s in enumerate(stmts[:at]) if isinstance(s, gast.Assign)
                    and isinstance(s.targets[0], gast.Name)
                    and dotted_name(getattr(s.value, "func", None)) == "rt.row_tape"}
        vecmat = dotted_name(product.func) in VECMAT
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
        puts = {name: [q for q in (put_of(s, name) for s in body) if q is not None] for name in (p, v)}
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
                and table_root(body, tbl) is not None):
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
    gets = {t: [(s, row_call(s, "rt.get_row", t)) for s in body if row_call(s, "rt.get_row", t)]
            for t in (tape_p, tape_v)}
    if any(len(g) != 1 for g in gets.values()):
        return None
    (gp, (p_b, row_p, like_p)), (gv, (v_b, row_v, like_v)) = gets[tape_p][0], gets[tape_v][0]
    if not (gast.dump(row_p) == gast.dump(row_v) and isinstance(like_p, gast.Name) and like_p.id == p_b
            and isinstance(like_v, gast.Name) and like_v.id == v_b and p_b != v_b):
        return None
    helpers = {HELPERS[product]["v"], HELPERS[product]["both"]}
    calls = [c for c in (call_of(s, helpers) for s in body) if c is not None]
    vecmat = product in VECMAT
    if len(calls) != 1 or len(calls[0].args) < 5:
        return None
    c = calls[0]
    arg_v = c.args[1] if vecmat else c.args[2]
    if not (isinstance(arg_v, gast.Name) and arg_v.id == v_b and isinstance(c.args[4], gast.Name)
            and c.args[4].id == p_b and _loads(body, v_b) == 2 and _loads(body, p_b) == 2
            and len(_assigned_by(body, v_b)) == 1 and len(_assigned_by(body, p_b)) == 1):
        return None
    stmt_c = next(s for s in body if call_of(s, helpers) is c)
    if body.index(stmt_c) < max(body.index(gp), body.index(gv)):
        return None
    if any(n.id in (p_b, v_b, v) for s in stmts[at + 1:] for n in walk_names(s)):
        return None
    return loop, (gp, gv), c, row_p


def carry_loop(fn, stmts, at, namer, params) -> int:
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
    the loop, and the step reads e's own (`_added_table`): no exponential a step. A loop left with only the
    step, and a backward loop with only its adjoint, become one call each (logdomain_loops.py). Returns the
    index of the loop in `stmts` (after the statements put before it)."""
    f = stmts[at]
    m = _carry_match(stmts, at, f)
    if m is None:
        return at
    tape_p, tape_v = m["tapes"]
    count = copy.deepcopy(stmts[m["made"][tape_p]].value.args[0])
    v, body = m["v"], f.body
    carry = namer.fresh(v + "_carry")
    table = table_root(body, m["tbl"])
    start = copy_loc(assign(carry, call("rt.carry_start", table, count, v)), f)
    step = copy_loc(gast.Expr(value=call(STEPS[dotted_name(m["product"].func)], carry, copy.deepcopy(m["row"]),
                                         m["mat"], m["tbl"], m["b"])), m["xs"])
    p = m["ps"].targets[0].id
    gone = {id(m["ps"]), id(m["carry"])} | {id(s) for s in body if put_of(s, v) or put_of(s, p)}
    f.body = [step if s is m["xs"] else s for s in body if id(s) not in gone]
    for loop, gets, c, row in m["uses"]:
        c.func = dotted(STEP_ADJOINTS[dotted_name(c.func)])
        mat = c.args[2] if m["vecmat"] else c.args[1]
        c.args = [c.args[0], load(carry), copy.deepcopy(row), mat, c.args[3]] + c.args[5:]
        loop.body = [s for s in loop.body if all(s is not g_ for g_ in gets)]
    end = copy_loc(assign(v, call("rt.carry_end", carry, copy.deepcopy(count), v)), f)
    made = {m["made"][tape_p], m["made"][tape_v]}
    bound = params | {s.targets[0].id for s in stmts[:at] if isinstance(s, gast.Assign)
                      and isinstance(s.targets[0], gast.Name)}
    table = _added_table(f, m["b"], step, bound, namer)
    before = [s for k, s in enumerate(stmts[:at]) if k not in made] + table
    stmts[:] = before + [start, f, end] + stmts[at + 1:]
    _whole_loops(fn, stmts, f, step, m, _added_source(f, m["b"]) if table else None,
                 bound | {s.targets[0].id for s in table})
    return len(before) + 1


def _whole_loops(fn, stmts, f, step, m, added, bound):
    """Carried loop `f` and its backward loops in `stmts` as one call each where they are only the step
    (logdomain_loops.py), the loops' comments kept before it."""
    new = whole_forward(fn, f, step, added, bound)
    if new is not None:
        at = next(k for k, s in enumerate(stmts) if s is f)
        stmts[at:at + 1] = [s for s in f.body if is_comment(s)] + [new]
    for loop, _, c, _ in m["uses"]:
        stmt = next((s for s in loop.body if call_of(s, STEP_ADJOINTS.values()) is c), None)
        back = stmt is not None and whole_backward(fn, loop, stmt, f)
        if back:
            at = next((k for k, s in enumerate(stmts) if s is loop), None)
            if at is not None:
                stmts[at:at + 1] = [s for s in loop.body if is_comment(s)] + [back]


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
    index = lambda x: isinstance(x, gast.Name) or int_const(x) is not None
    sl = e.slice
    if isinstance(sl, gast.Tuple) and len(sl.elts) == 2:
        if full(sl.elts[0]) and index(sl.elts[1]):
            return d, e.value.id, sl.elts[1], True
        if index(sl.elts[0]) and full(sl.elts[1]):
            return d, e.value.id, sl.elts[0], False
        return None
    counter = (isinstance(f.iter, gast.Call) and dotted_name(f.iter.func) == "range" and isinstance(f.target, gast.Name)
               and isinstance(sl, gast.Name) and sl.id == f.target.id)
    return (d, e.value.id, sl, False) if counter or int_const(sl) is not None else None


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
        for s in expand_loops(stmts, namer):
            map_blocks(s, block)
            c = call_of(s, {"rt.carry_start", "rt.carry_end"} | set(_UNSTEP))
            name = dotted_name(c.func) if c is not None else None
            if name == "rt.carry_start":
                v = c.args[2].id
                sv, sp = namer.fresh(v + "_stack"), namer.fresh(v + "_scaled_stack")
                carries[s.targets[0].id] = (v, sv, sp)
                out += [copy_loc(assign(t, call("rt.stack", const(t))), s) for t in (sv, sp)]
                continue
            if name == "rt.carry_end":
                continue
            if name in STEPS.values():
                tape, _, mat, tbl, b = c.args[:5]      # (and b's own table, not needed there)
                v, sv, sp = carries[tape.id]
                p = namer.fresh(v + "_product")
                args = (load(v), mat, tbl) if _UNSTEP[name] in VECMAT else (mat, load(v), tbl)
                out += [copy_loc(x, s) for x in (
                    assign(p, call(_UNSTEP[name], *args)),
                    gast.Expr(value=call("rt.push", load(sv), load(v))),
                    gast.Expr(value=call("rt.push", load(sp), load(p))),
                    assign(v, gast.BinOp(left=load(p), op=gast.Add(), right=b)))]
                continue
            if name in STEP_ADJOINTS.values():
                g, tape, _, mat, tbl, *d_m = c.args
                v, sv, sp = carries[tape.id]
                vb, pb = namer.fresh(v), namer.fresh(v + "_product")
                out += [copy_loc(assign(vb, call("rt.pop", load(sv))), s),
                        copy_loc(assign(pb, call("rt.pop", load(sp))), s)]
                vecmat = ROLE[_UNSTEP[name]][0] in VECMAT
                c.func = dotted(_UNSTEP[name])
                c.args = ([g, load(vb), mat, tbl, load(pb)] if vecmat else [g, mat, load(vb), tbl, load(pb)]) + d_m
            out.append(s)
        return out
    node.body = block(node.body)
    return node
