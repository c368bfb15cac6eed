"""Row chunks (jitted source of `jit="parallel"` only): a row-blocked loop (rowblocks.py) run on all of Numba's
threads, when x is large enough to pay for them (runtime/chunks.py decides at run time: `rt.row_chunks`).
Asked for, not the default: compiling the parallel loop takes seconds (the logistic loss: 3.5 s of CPU cold
against 0.7-0.8 s; benchmarks/README.md), so jit="parallel" answers its first calls with jit=True's code
while another process compiles this one (background.py).

The blocks of rows are split into `chunks` runs of consecutive blocks, one per thread, each with its own
buffers and its own row of every sum and adjoint product; after the loop the chunks' rows are added in
chunk order, so the result does not depend on which thread ran what (only on the number of threads):

    block = rt.block_rows(x)                       block = rt.block_rows(x)
    z1_block = np.empty(block)                     chunks = rt.row_chunks(x, block)
    ...                                            result8_chunks = np.zeros(chunks)
    for i0 in range(0, x.shape[0], block):         d_w_chunks = rt.chunk_zeros(d_w, chunks)
        ...                                        if x.shape[0] > 0 and x.shape[0] > len(y):
        result8 += rt.sum_first(result8_block,         raise IndexError('y[i] out of range (...)')
                                rows)              threads = rt.threads_for(chunks)
        rt.rows_add(d_w, x_block, d_z_block)  ->   for c in rt.prange(chunks):
                                                       z1_block = np.empty(block)
                                                       ...
                                                       for i0 in range(rt.chunk_start(x, block, chunks, c),
                                                                       rt.chunk_start(x, block, chunks, c + 1),
                                                                       block):
                                                           ...
                                                           result8_chunks[c] += rt.sum_first(result8_block, rows)
                                                           rt.rows_add(d_w_chunks[c], x_block, d_z_block)
                                                   rt.threads_back(threads)
                                                   result8 += rt.sum_first(result8_chunks, chunks)
                                                   rt.add_chunks(d_w, d_w_chunks, chunks)

One chunk (a small x, one thread) runs as a plain loop, `for c in range(chunks)`, the same statements: a
parallel loop calls Numba's threading layer even for one thread, and GNU OpenMP's, once used in a process,
aborts a child that process forks when the child calls it ("fork() called from a process already using GNU
OpenMP"); runtime/chunks.py sets a forked child to one thread, so it never does. The source shows the chunks'
loop once, as above (what it computes); the compiled form Numba runs (compiler.COMPILED, `one_chunk_apart`)
writes it twice, under `if chunks > 1:` (the threads and the prange loop) and its `else:` (the plain loop).

Nothing inside the chunks' loop may raise: Numba runs a loop with an exit of its own (a `raise`) on one
thread, and an exception raised in a function it calls there is lost (measured: the chunk's other rows are
skipped, the call returns). So the loop's reads of the arrays its blocks view (`y_block[k]`) are tested
once before it, against x's rows (`len(y) < x.shape[0]`: exactly when some block's view would be short),
and the subscripts this form makes are marked in range (annotations.IN_RANGE) for the bounds pass, which
writes no test for them. A test the bounds pass still writes inside (an index of the user's in a row
statement) leaves Numba running the loop on one thread: the same results, not faster. Row fusion's row
statements call only elementwise functions (rowfusion._ROW_CALLS, _RT_SCALAR); a loop calling anything
else is left on one thread (`safe`).
"""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import (call, clone, comment, const, dotted_name, is_comment, load, parse_stmts, store, walk, walk_calls,
                       with_blocks)

_SAFE_PREFIXES = ("np.", "math.", "rt.")
_SAFE_BUILTINS = frozenset({"abs", "max", "min", "float", "int", "range", "len"})


def safe(stmts: list) -> bool:
    """No statement of `stmts` raises, asserts, leaves the loop, or calls anything but NumPy, math, the
    runtime's elementwise helpers and a few builtins."""
    for n in walk(gast.Module(body=list(stmts), type_ignores=[])):
        if isinstance(n, (gast.Raise, gast.Assert, gast.Return, gast.Break, gast.Continue, gast.Yield)):
            return False
    for c in walk_calls(gast.Module(body=list(stmts), type_ignores=[])):
        name = dotted_name(c.func) or ""
        if not (name.startswith(_SAFE_PREFIXES) or name in _SAFE_BUILTINS):
            return False
    return True


def _in_range(node):
    return anno.set(node, anno.IN_RANGE)


def _chunk_row(name: str, c: str):
    return _in_range(gast.Subscript(value=load(name), slice=load(c), ctx=gast.Load()))


def mark_rows(stmts: list, names: set, k: str) -> None:
    """Mark `a[k]` for each name a in `names` (block buffers and views, `k` the block's row) in range."""
    for s in stmts:
        for n in walk(s):
            if (isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and n.value.id in names
                    and isinstance(n.slice, gast.Name) and n.slice.id == k):
                _in_range(n)


def _view_tests(x: str, views: dict, lines: dict) -> list:
    """`if x.shape[0] > 0 and x.shape[0] > len(a): raise IndexError(...)` for each array `a` the blocks view."""
    out = []
    for a in views:
        line = lines.get(a)
        where = f" (line {line[0]}: {line[1].strip()})" if line else ""
        out.append(comment(f"bounds of {a}[i]{where}, checked once for the chunks below"))
        out += parse_stmts(f"if {x}.shape[0] > 0 and {x}.shape[0] > len({a}):\n"
                           f"    raise IndexError({(a + '[i] out of range' + where)!r})\n")
    return out


def in_chunks(setup: list, loop: gast.For, tails: list, x: str, block: str, views: dict, lines: dict, fresh) -> list:
    """The statements `setup + [loop]` of a row-blocked loop (rowblocks.blocked) as chunks on threads (the
    module docstring). `tails`: the block's sums and adjoint products, statements of `loop`'s body."""
    c, chunks, threads = fresh("c"), fresh("chunks"), fresh("threads")
    head = [gast.Assign(targets=[store(chunks)], value=call("rt.row_chunks", load(x), load(block)), type_comment=None)]
    after = []
    for s in tails:
        if isinstance(s, gast.AugAssign):        # t += rt.sum_first(t_block, rows)
            t = s.target.id
            parts = fresh(f"{t}_chunks")
            head.append(gast.Assign(targets=[store(parts)], value=call("np.zeros", load(chunks)), type_comment=None))
            s.target = _in_range(gast.Subscript(value=load(parts), slice=load(c), ctx=gast.Store()))
            after.append(gast.AugAssign(target=store(t), op=gast.Add(),
                                        value=call("rt.sum_first", load(parts), load(chunks))))
        else:                                    # rt.rows_add(t, x_block, t_block)
            t = s.value.args[0].id
            parts = fresh(f"{t}_chunks")
            head.append(gast.Assign(targets=[store(parts)], value=call("rt.chunk_zeros", load(t), load(chunks)),
                                    type_comment=None))
            s.value.args[0] = _chunk_row(parts, c)
            after.append(gast.Expr(value=call("rt.add_chunks", load(t), load(parts), load(chunks))))
    start = call("rt.chunk_start", load(x), load(block), load(chunks), load(c))
    stop = call("rt.chunk_start", load(x), load(block), load(chunks),
                gast.BinOp(left=load(c), op=gast.Add(), right=const(1)))
    loop.iter = call("range", start, stop, load(block))
    chunk_loop = gast.For(target=store(c), iter=call("rt.prange", load(chunks)), body=setup[1:] + [loop], orelse=[],
                          type_comment=None)
    team = gast.Assign(targets=[store(threads)], value=call("rt.threads_for", load(chunks)), type_comment=None)
    back = gast.Expr(value=call("rt.threads_back", load(threads)))
    return setup[:1] + head + _view_tests(x, views, lines) + [team, chunk_loop, back] + after


def _prange_of_chunks(stmts: list, k: int):
    """`threads = rt.threads_for(chunks)`, `for c in rt.prange(chunks): ...`, `rt.threads_back(threads)` at
    stmts[k:k + 3] (in_chunks' statements, the loop still parallel after the bounds pass): the If's test."""
    if k + 3 > len(stmts):
        return None
    team, loop, back = stmts[k:k + 3]
    if not (isinstance(team, gast.Assign) and isinstance(team.value, gast.Call)
            and dotted_name(team.value.func) == "rt.threads_for" and isinstance(loop, gast.For)
            and isinstance(loop.iter, gast.Call) and dotted_name(loop.iter.func) == "rt.prange"
            and isinstance(back, gast.Expr) and isinstance(back.value, gast.Call)
            and dotted_name(back.value.func) == "rt.threads_back"):
        return None
    return gast.Compare(left=clone(loop.iter.args[0]), ops=[gast.Gt()], comparators=[const(1)])


def one_chunk_apart(fn: gast.FunctionDef) -> gast.FunctionDef:
    """(the compiled form) The chunks' parallel loop under `if chunks > 1:`, and the same statements as a plain
    loop, `for c in range(chunks)`, under its `else:` (the module docstring: a forked child must not start a
    parallel loop). The source shows the loop once. `fn` is left as it is: the result shares its statements."""
    def block(stmts):
        out, k = [], 0
        while k < len(stmts):
            # (the pattern's second statement is a for loop: most statements start none; nor has a simple one blocks)
            many = _prange_of_chunks(stmts, k) if k + 1 < len(stmts) and type(stmts[k + 1]) is gast.For else None
            if many is None:
                s = stmts[k]
                out.append(with_blocks(s, block) if type(s) not in _SIMPLE and _has_blocks(s) else s)
                k += 1
                continue
            loop = stmts[k + 1]
            one = gast.For(target=clone(loop.target), iter=call("range", clone(loop.iter.args[0])),
                           body=[clone(s) for s in loop.body], orelse=[], type_comment=None)
            out.append(gast.If(test=many, body=list(stmts[k:k + 3]), orelse=[one]))
            k += 3
        return out
    return with_blocks(fn, block)


def on_threads(s):
    """(the compiled form) The statements of `s`'s `else:` (the chunks' loop on the calling thread) where `s` is
    one_chunk_apart's `if chunks > 1:` (the chunks' loop on threads), else None. The compiled form's "parts" pass
    moves that `if` into a function of its own (function_parts.apart), the only one Numba compiles for threads:
    Numba's parallel pipeline reads every array expression of the function it compiles, and where it cannot see
    that an axis is 1 it takes a broadcast for arrays of equal shapes and asserts so at run time (`M * M3`, of M's
    row sums with keepdims, made outside the chunks' loop: "Sizes of M.2, M3 do not match", fuzz seed 1302029,
    --parallel). The chunks' loop itself reads its rows as numbers and blocks of one length."""
    if isinstance(s, gast.If) and len(s.body) == 3 and _prange_of_chunks(s.body, 0) is not None:
        return list(s.orelse)
    return None


_SIMPLE = frozenset((gast.Assign, gast.AugAssign, gast.Expr, gast.Return, gast.Pass))     # statements without blocks


def _has_blocks(s) -> bool:
    return any(isinstance(getattr(s, f, None), list) for f in ("body", "orelse", "finalbody"))


def view_lines(body: list, i: str) -> dict:
    """{array: the user's (line, text)} of the first row statement that reads `array[i]`."""
    out, line = {}, None
    for s in body:
        if is_comment(s):
            got = anno.get(s, anno.USER_LINE)
            line = (got[0], got[1]) if got else line
            continue
        for n in walk(s):
            if (isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) and isinstance(n.slice, gast.Name)
                    and n.slice.id == i and line is not None):
                out.setdefault(n.value.id, line)
    return out
