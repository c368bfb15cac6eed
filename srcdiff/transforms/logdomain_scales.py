"""Scale tapes: the "scale tapes" pass of compiler.SOURCE (jitted code, after transforms/stacks.py).

A log-domain product (logdomain.py) whose result goes on a row tape for a later loop's adjoint keeps the
scales of its sums on a tape of its own, so the adjoint takes no exponential a step; a product whose
vector only feeds the next step is carried in the probability domain instead (logdomain_carries.py).
`untape_scales` undoes both for generated code differentiated again.
"""
import copy

import gast

from .astutil import (Namer, assign, assigned_names, call, copy_loc, dotted, dotted_name, load, map_blocks, names_in,
                      nested_blocks, walk_statements)
from .logdomain_calls import HELPERS, PRODUCTS, call_of, put_of, row_call, table_root
from .logdomain_carries import carry_loop, untape_carries

_SCALED = {name: name + "_scaled" for p, roles in HELPERS.items() for name in [p, *roles.values()]}
_UNSCALED = {v: k for k, v in _SCALED.items()}


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
                at = carry_loop(fn, stmts, at, namer, params)
            at += 1
        stmts[:] = [new for at, s in enumerate(stmts)
                    for new in (_tape_loop(stmts, at, s, namer) if isinstance(s, gast.For) else []) + [s]]
    block(fn.body)
    return fn


def _tape_loop(stmts, at, f, namer):
    """The scale tapes of loop stmts[at]'s products (to put before it), its products and their adjoints
    in later loops of `stmts` rewritten to use them."""
    made = None     # (the row tapes made before the loop: looked for only in a loop with a product, most have none)
    tapes = []
    for s in f.body:
        product = call_of(s, PRODUCTS)
        if product is None or not isinstance(s, gast.Assign) or not isinstance(s.targets[0], gast.Name) \
                or not isinstance(product.args[2], gast.Name):
            continue
        if made is None:
            made = {s.targets[0].id: s for s in stmts[:at] if isinstance(s, gast.Assign)
                    and isinstance(s.targets[0], gast.Name) and dotted_name(getattr(s.value, "func", None)) == "rt.row_tape"}
        x = s.targets[0].id
        put = next((p for p in (put_of(st, x) for st in f.body) if p is not None), None)
        table = table_root(f.body, product.args[2].id)
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


def _adjoints_reading(b, tape, product):
    """[(call, row)] for the adjoint helpers of `product` in loop `b`'s body that take as result the value
    restored from `tape` earlier in the body (and not reassigned in between)."""
    found, restored = [], {}
    helpers = set(HELPERS[product].values())
    for s in b.body:
        c = call_of(s, helpers)
        if c is not None and len(c.args) > 4 and isinstance(c.args[4], gast.Name) and c.args[4].id in restored:
            found.append((c, restored[c.args[4].id]))
        got = row_call(s, "rt.get_row", tape)
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
            if call_of(s, {"rt.scale_tape"}) is not None and isinstance(s, gast.Assign):
                continue
            c = call_of(s, _UNSCALED)
            if c is not None:
                c.func = dotted(_UNSCALED[dotted_name(c.func)])
                del c.args[-2:]
            out.append(s)
        return out
    node.body = block(node.body)
    return node
