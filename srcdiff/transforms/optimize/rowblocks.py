"""Row blocks (jitted source only): the loop that row fusion makes over the rows of x, a block of rows at a
time, so that the rows' elementwise math vectorises.

Row fusion (rowfusion.py) computes row i's product, its terms, their adjoints and row i's share of the
adjoint product in one iteration. That reads x once, but the row's math sits between two loops over the
row: each row waits for its exp and log1p (scalar calls into libm, 15 ns a row in the logistic loss), and
the math of one row cannot run beside the next row's. Over a block of rows that stays in cache (32 KiB, a
multiple of 8 rows: runtime/products.py's block_rows), the same statements run as three loops:

    for i in range(x.shape[0]):                  for i0 in range(0, x.shape[0], block):
        z1 = rt.row_dot(x, i, w)                     x_block = x[i0:i0 + block]
        z = z1 + b                                   y_block = y[i0:i0 + block]
        result3 = np.exp(-np.abs(z))                 rows = x_block.shape[0]
        result7 = ... - y[i] * z                     rt.rows_dot(z1_block, x_block, w)
        result8 += result7              ->           for k in range(rows):
        ...                                              z1 = z1_block[k]
        d_b += d_z                                       z = z1 + b
        rt.add_row(d_w, d_z1, x, i)                      result3 = rt.exp(-np.abs(z))
                                                         result7 = ... - y_block[k] * z
                                                         result8_block[k] = result7
                                                         ...
                                                         d_b_block[k] = d_z
                                                         d_w_block[k] = d_z1
                                                     result8 += rt.sum_first(result8_block, rows)
                                                     d_b += rt.sum_first(d_b_block, rows)
                                                     rt.rows_add(d_w, x_block, d_w_block)

Where two of them take the same row value whole (`d_b += d_z` and `rt.add_row(d_w, d_z, x, i)`, b's and w's
adjoints in the logistic loss), its rows go into one buffer, `d_z_block`, which both read.

The products of the block's rows come first (rt.rows_dot, into a buffer per product), then one loop over
the block's rows with the elementwise statements as they were, but for arrays of the product's shape, read
from their view of the block (`y_block[k]`: LLVM knows k to be nonnegative, so the read is one vector load,
where `y[i0 + k]` kept NumPy's wrap-around of negative indices and was a gather), and for each sum and each
adjoint product, which writes its row's term into a buffer instead of adding it. The block's sums and
adjoint products (rt.sum_first, rt.rows_add) follow, x's block read again from cache. The rows' loop adds
into nothing, so LLVM vectorises it without reassociating a sum the user wrote, once np.exp, np.log and
np.log1p are rt.exp, rt.log and rt.log1p (runtime/rowmath.py: inline, no call into libm). Sums add a
block's terms in another order than one at a time: results agree to rounding, as NumPy's pairwise sums do.

Row fusion's sums start at 0.0 and its adjoint products are float arrays, so the float64 buffers change no
type. The statements, their order and the names they bind are row fusion's.
"""
from __future__ import annotations

import gast

from ...rules import row_routes
from . import rowchunks
from ..astutil import assigned_names, call, const, dotted, dotted_name, is_comment, load, store, walk_calls



class _Names:
    """Fresh names, none of them `taken` nor given before."""

    def __init__(self, taken: set):
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}{k}"
        self.taken.add(name)
        return name


def _subscript(array: str, index: str, ctx) -> gast.Subscript:
    return gast.Subscript(value=load(array), slice=load(index), ctx=ctx)


def _assign(target, value) -> gast.Assign:
    return gast.Assign(targets=[target], value=value, type_comment=None)


def _row_dot(s, x: str, i: str):
    """(z, v) for the loop statement `z = rt.row_dot(x, i, v)`, else None."""
    if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.row_dot"
            and isinstance(s.targets[0], gast.Name)):
        a, at, v = s.value.args
        if isinstance(a, gast.Name) and a.id == x and isinstance(at, gast.Name) and at.id == i:
            return s.targets[0].id, v
    return None


def _add_row(s, x: str, i: str):
    """(t, g) for the loop statement `rt.add_row(t, g, x, i)`, else None."""
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.add_row":
        t, g, a, at = s.value.args
        if isinstance(a, gast.Name) and a.id == x and isinstance(at, gast.Name) and at.id == i:
            return t.id, g
    return None


def _vector_math(node):
    """`node` with the calls of rules that have a `row_as` calling it instead (np.exp, math.exp -> rt.exp)."""
    routes = row_routes()
    for n in walk_calls(node):
        if dotted_name(n.func) in routes:
            n.func = dotted(routes[dotted_name(n.func)])
    return node


def _at_block_row(node, i: str, k: str, views: dict, fresh):
    """`node` with each row read `a[i]` (an array of the product's shape) read as `a_block[k]`, from the view
    `a_block = a[i0:i0 + block]` (noted in `views`: a -> its name; the module docstring says why)."""
    class AtBlockRow(gast.NodeTransformer):
        def visit_Subscript(self, n):
            self.generic_visit(n)
            if isinstance(n.value, gast.Name) and isinstance(n.slice, gast.Name) and n.slice.id == i:
                if n.value.id not in views:
                    views[n.value.id] = fresh(f"{n.value.id}_block")
                return _subscript(views[n.value.id], k, n.ctx)
            return n
    return AtBlockRow().visit(node)


def _shared_terms(body: list, x: str, i: str, sums: set) -> set:
    """The names of the row's values that two or more sums or adjoint products take whole, once each and with
    no binding of the name between them (`d_b += d_z` and `rt.add_row(d_w, d_z, x, i)`): their rows go into
    one buffer, which each reads."""
    takes, once, version = {}, {}, {}
    for s in body:
        add = _add_row(s, x, i)
        if add is not None or (isinstance(s, gast.AugAssign) and s.target.id in sums):
            t, term = add if add is not None else (s.target.id, s.value)
            once[t] = once.get(t, 0) + 1
            if isinstance(term, gast.Name):
                takes.setdefault(term.id, set()).add((t, version.get(term.id, 0)))
        for v in assigned_names([s]):
            version[v] = version.get(v, 0) + 1
    return {v for v, ts in takes.items()
            if len(ts) > 1 and len({n for _, n in ts}) == 1 and all(once[t] == 1 for t, _ in ts)}


def blocked(body: list, x: str, i: str, sums: set, taken: set, threads: bool = False):
    """The statements that run the row loop `for i in range(x.shape[0]): body` a block of rows at a time (the
    module docstring): buffers, then the loop over the blocks; `threads` (jit="parallel"): the blocks in chunks
    on all of Numba's threads where x is large (rowchunks.py)."""
    fresh = _Names(taken)
    lines = rowchunks.view_lines(body, i)     # (before the row reads become the block's)
    i0, k, rows, block, x_block = fresh("i0"), fresh("k"), fresh("rows"), fresh("block"), fresh(f"{x}_block")
    buffers: dict = {}           # name -> its block buffer
    views: dict = {}             # array read at row i -> its view of the block's rows
    heads, rows_loop, tails = [], [], []
    shared = _shared_terms(body, x, i, sums)   # a row's name two sums or adjoint products take whole
    by_term: dict = {}           # such a name -> the one buffer of its rows
    for s in body:
        dot, add = _row_dot(s, x, i), _add_row(s, x, i)
        s = _at_block_row(s, i, k, views, fresh) if dot is None and add is None else s
        if dot is not None:
            z, v = dot
            buffers[z] = fresh(f"{z}_block")
            heads.append(gast.Expr(value=call("rt.rows_dot", load(buffers[z]), load(x_block), v)))
            rows_loop.append(gast.copy_location(_assign(store(z), _subscript(buffers[z], k, gast.Load())), s))
        elif add is not None or (isinstance(s, gast.AugAssign) and s.target.id in sums):
            t, term = add if add is not None else (s.target.id, s.value)
            term = _at_block_row(term, i, k, views, fresh) if add is not None else term
            first = t not in buffers
            one = isinstance(term, gast.Name) and term.id in shared   # (a buffer another took already)
            taken = first and one and term.id in by_term
            if first:
                buffers[t] = by_term[term.id] if taken else fresh(f"{term.id if one else t}_block")
                if one:
                    by_term[term.id] = buffers[t]
                tails.append(gast.Expr(value=call("rt.rows_add", load(t), load(x_block), load(buffers[t]))) if add
                             else gast.AugAssign(target=store(t), op=gast.Add(),
                                                 value=call("rt.sum_first", load(buffers[t]), load(rows))))
            if taken:
                continue
            row = _subscript(buffers[t], k, gast.Store())
            rows_loop.append(_vector_math(_assign(row, term) if first else
                                          gast.AugAssign(target=row, op=gast.Add(), value=term)))
        elif is_comment(s):
            rows_loop.append(s)
        else:
            rows_loop.append(_vector_math(s))
    n = gast.Subscript(value=gast.Attribute(value=load(x), attr="shape", ctx=gast.Load()), slice=const(0),
                       ctx=gast.Load())
    setup = [_assign(store(block), call("rt.block_rows", load(x)))]
    setup += [_assign(store(b), call("np.empty", load(block))) for b in dict.fromkeys(buffers.values())]
    outer = [_assign(store(view), gast.Subscript(value=load(a), slice=gast.Slice(
                 lower=load(i0), upper=gast.BinOp(left=load(i0), op=gast.Add(), right=load(block)), step=None),
                 ctx=gast.Load())) for a, view in [(x, x_block)] + list(views.items())]
    outer += [_assign(store(rows), gast.Subscript(value=gast.Attribute(value=load(x_block), attr="shape",
                                                                      ctx=gast.Load()), slice=const(0),
                                                 ctx=gast.Load()))]
    outer += heads
    outer.append(gast.For(target=store(k), iter=call("range", load(rows)), body=rows_loop, orelse=[],
                          type_comment=None))
    outer += tails
    loop = gast.For(target=store(i0), iter=call("range", const(0), n, load(block)), body=outer, orelse=[],
                    type_comment=None)
    if not threads or not rowchunks.safe(heads + rows_loop):
        return setup + [loop]
    rowchunks.mark_rows(rows_loop, set(buffers.values()) | set(views.values()), k)
    return rowchunks.in_chunks(setup, loop, tails, x, block, views, lines, fresh)   # (on threads when large)
