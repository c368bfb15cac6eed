"""Row fusion (jitted source only): a loss summed over the rows of a matrix-vector product, its adjoint and
the adjoint product in one pass over the rows of the matrix.

A reverse-mode function such as the logistic loss's makes three passes over memory: the forward product
`x @ w`, the elementwise loss and its adjoint, and the adjoint product `x.T @ d_z`. When every use of the
product's rows is row-local (elementwise statements of arrays with the product's shape, their sums and
means, and the adjoint product itself), row i's loss term and its adjoint need nothing but row i. The
three passes are then one loop over the rows of x, which adds row i's share of `x.T @ d_z` while the
row is in cache, so x is read once instead of twice:

    # line 1: z = x @ w + b                        # line 1: ... (one pass over the rows of x)
    z1 = x @ w                                     d_b = 0.0
    z = z1 + b                                     for i in range(x.shape[0]):
    # line 2: return np.sum(np.log1p(...) ...)         # line 1: z = x @ w + b
    result = np.log1p(np.exp(-z)) - y * z              z1 = rt.row_dot(x, i, w)
    result1 = np.sum(result)                 ->        z = z1 + b
    # backward sweep                                   # line 2: return np.sum(...)
    d_z = d_result1 * (...z...) - d_result1 * y        result = np.log1p(np.exp(-z)) - y[i] * z
    d_b = rt.unbroadcast(d_z, b)                       result1 += result
    d_w += rt.matmul_grad_y(d_z, x, w)                 d_z = ...
                                                       d_b += d_z
                                                       rt.add_row(d_w, d_z, x, i)

The loop is then run a block of rows at a time (rowblocks.py: the products of a block's rows, a loop of the
rows' math that vectorises, the block's sums and adjoint products); `rt.row_dot` and `rt.add_row` above are
the plan's form of row i's product and adjoint product, which rowblocks.py writes as the block's.

Inside the loop the product's rows are scalars (under their names), arrays of the product's shape are
read at row i (`y[i]`), and a sum (mean, `rt.unbroadcast` onto a scalar) accumulates; `r.size` of a
row-local array is x.shape[0]. The statements between the product and the loop's last row statement that
the loop does not need (nor depend on it) run before it, the others after it, in their order.

It applies only where this is exactly the same computation: x a 2-D and w a 1-D float array, every array
read in a row statement has the product's shape (the specialisation's shape classes, transforms/dims.py:
never a length-1 array that would broadcast), every call is an elementwise function Numba evaluates on
scalars, no statement outside the loop reads a row-local array (as a whole), and moving the other
statements before or after the loop changes no value they read or write. Everything else keeps its
separate passes (runtime/products.py's kernels). The Python backend keeps NumPy's vectorised code, where
a loop over rows would be slow.

record_row_facts (end of reverse mode) notes the kinds and shape classes on the function; fuse_rows
(compiler.SOURCE, jit only) rewrites a copy of it.
"""
from __future__ import annotations

import gast

from .. import annotations as anno
from .. import purity
from ..astutil import (call, clone, comment, const, dotted, dotted_name, is_comment, load, store, walk, walk_calls,
                       written_names)
from ..kinds import is_array, is_float_array, is_scalar, ndim
from .fusion import ELEMENTWISE_OPS
from .rowblocks import blocked

# elementwise functions a row statement may call: NumPy's ufuncs Numba fuses (they take scalars too) and
# the runtime's scalar-safe adjoint weights
_ROW_CALLS = None
_RT_SCALAR = frozenset({"rt.max_weight", "rt.in_interval", "rt.expit", "rt.log_expit", "rt.select"})
_SUMS = {"np.sum": False, "rt.sum": False, "np.mean": True, "rt.mean": True}
_MODULES = frozenset({"np", "rt", "math"})   # the generated module's imports (module_builder.Module's namer reserves them)
_RETRIES = 4
_LIMIT = 400   # statements after the product that are scheduled (pairwise checks): beyond, no fusion


def _row_calls():
    global _ROW_CALLS
    if _ROW_CALLS is None:
        from .fusion import ELEMENTWISE_CALLS
        _ROW_CALLS = ELEMENTWISE_CALLS | _RT_SCALAR
    return _ROW_CALLS


_COMPARE = (gast.Lt, gast.LtE, gast.Gt, gast.GtE, gast.Eq, gast.NotEq)


def _row_elementwise(e) -> bool:
    """`e` is made of operators, comparisons and elementwise functions (np.where too): evaluated on
    scalars, it is one element of its value."""
    if isinstance(e, (gast.Name, gast.Constant)):
        return True
    if isinstance(e, gast.BinOp):
        return isinstance(e.op, ELEMENTWISE_OPS) and _row_elementwise(e.left) and _row_elementwise(e.right)
    if isinstance(e, gast.UnaryOp):
        return isinstance(e.op, ELEMENTWISE_OPS) and _row_elementwise(e.operand)
    if isinstance(e, gast.Compare):
        return (len(e.ops) == 1 and isinstance(e.ops[0], _COMPARE) and _row_elementwise(e.left)
                and _row_elementwise(e.comparators[0]))
    if isinstance(e, gast.Call):
        name = dotted_name(e.func)
        return ((name in _row_calls() or (name == "np.where" and len(e.args) == 3)) and not e.keywords
                and all(map(_row_elementwise, e.args)))
    return False


def _matvec(s, kinds):
    """(z1, x, w) for `z1 = x @ w` (or np.dot / np.matmul) with x a 2-D, w a 1-D float array."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)):
        return None
    v = s.value
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.MatMult):
        a, b = v.left, v.right
    elif (isinstance(v, gast.Call) and dotted_name(v.func) in ("np.dot", "np.matmul") and len(v.args) == 2
          and not v.keywords):
        a, b = v.args
    else:
        return None
    if (isinstance(a, gast.Name) and isinstance(b, gast.Name) and is_float_array(kinds.get(a.id), 2)
            and is_float_array(kinds.get(b.id), 1)):
        return s.targets[0].id, a.id, b.id
    return None


def record_row_facts(fn: gast.FunctionDef, kinds: dict, shapes: dict | None) -> gast.FunctionDef:
    """Note on `fn` the kinds and shape classes fuse_rows reads, where it has a matrix-vector product."""
    if shapes and any(_matvec(s, kinds) for s in fn.body):
        anno.set(fn, anno.ROW_FACTS, (kinds, shapes))
    return fn


def _reads(node) -> set:
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}


def _writes(node) -> set:
    """Names `node` binds or writes into, also through a call: a method's receiver (`d_lst.pop()`, a list's append:
    two statements popping one stack keep their order) and the first argument of a runtime helper that writes
    into it or a stack operation (purity.WRITES_INTO, STACK_OPS)."""
    out = written_names(node)
    if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
        out.add(node.target.id)
    for c in walk_calls(node):
        if isinstance(c.func, gast.Attribute) and isinstance(c.func.value, gast.Name) \
                and c.func.value.id not in _MODULES:
            out.add(c.func.value.id)
        elif (dotted_name(c.func) in purity.WRITES_INTO or dotted_name(c.func) in purity.STACK_OPS) and c.args:
            out |= {n.id for n in walk(c.args[0]) if isinstance(n, gast.Name)}
    return out


def _accumulated(n) -> set:
    """What the loop statement `n` adds into (`t += v`, rt.add_row(t, ...)), if anything."""
    if isinstance(n, gast.AugAssign):
        return {n.target.id}
    if isinstance(n, gast.Expr) and isinstance(n.value, gast.Call):
        return {n.value.args[0].id}
    return set()


class _Plan:
    """The statements after the product, sorted: `before` the loop, `inits`, `loop`, `finals`, `after`."""

    def __init__(self, z1, x, w, kinds, shapes, params):
        self.z1, self.x, self.w = z1, x, w
        self.params = params
        self.kinds, self.shapes = kinds, shapes
        self.rows = shapes.get(z1, z1)
        self.rowvars = {z1}
        self.derived = {z1}    # row-local values that depend on a product of x's rows
        self.inits, self.finals = [], []
        self.sums = set()      # what the loop accumulates (partial until it ends)

    def rows_of_x(self):
        return gast.Subscript(value=gast.Attribute(value=load(self.x), attr="shape", ctx=gast.Load()),
                              slice=const(0), ctx=gast.Load())

    def is_aligned(self, name) -> bool:
        k = self.kinds.get(name)
        return (name not in self.rowvars and is_array(k) and ndim(k) == 1
                and self.shapes.get(name, name) == self.rows)

    def operand_ok(self, name) -> bool:
        k = self.kinds.get(name)
        return name in self.rowvars or is_scalar(k) or self.is_aligned(name)

    def target(self, s):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            return s.targets[0].id
        if isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name) and isinstance(s.op, gast.Add):
            return s.target.id
        return None

    def row_expr(self, e, i):
        """Row i's value of the elementwise expression `e` of row-local arrays, arrays of the product's
        shape (read at row i) and scalars; None if `e` is not one. (np.where of scalars is rt.select.)"""
        if not _row_elementwise(e):
            return None
        names = _reads(e) - _MODULES
        if not any(n in self.rowvars or self.is_aligned(n) for n in names) or not all(map(self.operand_ok, names)):
            return None
        value = _at_row(clone(e), {n for n in names if self.is_aligned(n)}, i)
        for n in walk_calls(value):
            if dotted_name(n.func) == "np.where":
                n.func = dotted("rt.select")
        return value

    def accumulate(self, t, value, start):
        """`t += value` in the loop, from `start` (None: t's value before the loop)."""
        if start is not None:
            self.inits.append(gast.Assign(targets=[store(t)], value=start))
        self.sums.add(t)
        return [gast.AugAssign(target=store(t), op=gast.Add(), value=value)]

    def row_statement(self, s, i):
        """The loop's form of `s` (a list of statements), or None when `s` is not row-local."""
        t = self.target(s)
        if t is None or t in self.params or t in (self.x, self.w):
            return None
        v = s.value
        aug = isinstance(s, gast.AugAssign)
        scalar_t = is_scalar(self.kinds.get(t))
        if scalar_t and not aug and isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add):   # t = t + v
            sides = [v.left, v.right]
            mine = [isinstance(e, gast.Name) and e.id == t for e in sides]
            if any(mine) and isinstance(sides[mine.index(False) if False in mine else 1], gast.Call):
                v, aug = sides[mine.index(False)], True
        name = dotted_name(v.func) if isinstance(v, gast.Call) and not v.keywords else None
        args = v.args if name else []
        parts = None if aug else _matvec(s, self.kinds)
        if parts is not None and parts[1] == self.x and not self.operand_ok(parts[2]) \
                and self.shapes.get(t, t) == self.rows:                    # another product of x's rows
            self.rowvars.add(t)
            self.derived.add(t)
            return [gast.Assign(targets=[store(t)], value=call("rt.row_dot", load(self.x), load(i), load(parts[2])))]
        if (name in ("rt.sum_grad", "rt.mean_grad") and len(args) == 3 and not aug and isinstance(args[0], gast.Name)
                and is_scalar(self.kinds.get(args[0].id)) and isinstance(args[1], gast.Name)
                and args[1].id in self.rowvars and isinstance(args[2], gast.Constant) and args[2].value is None):
            self.rowvars.add(t)                                              # a sum's adjoint: each row's share
            share = load(args[0].id) if name == "rt.sum_grad" else \
                gast.BinOp(left=load(args[0].id), op=gast.Div(), right=self.rows_of_x())
            return [gast.Assign(targets=[store(t)], value=share)]
        if name in _SUMS and len(args) == 1 and scalar_t and not (aug and _SUMS[name]):   # a sum (mean) over
            term = self.row_expr(args[0], i)                                               # the rows
            if term is None:
                return None
            if _SUMS[name]:
                self.finals.append(gast.Assign(targets=[store(t)], value=gast.BinOp(
                    left=load(t), op=gast.Div(), right=self.rows_of_x())))
            return self.accumulate(t, term, None if aug else const(0.0))   # (aug: `d_b = d_b + np.sum(d_z)`)
        if name == "rt.unbroadcast" and len(args) == 2 and isinstance(args[1], gast.Name):
            term = self.row_expr(args[0], i)
            onto = self.kinds.get(args[1].id)
            if term is None or onto is None:
                return None
            if is_scalar(onto):                                              # onto a scalar: a sum
                return self.accumulate(t, term, None if aug else const(0.0)) if scalar_t else None
            if not (args[1].id in self.rowvars or self.is_aligned(args[1].id)):
                return None
            v = args[0]                                                      # onto the product's shape: itself
        elif (name == "rt.matmul_grad_y" and len(args) == 3 and all(isinstance(a, gast.Name) for a in args[1:])
              and args[1].id == self.x and is_float_array(self.kinds.get(args[2].id), 1)
              and not self.operand_ok(args[2].id)):                          # row i's share of x.T @ g
            g = self.row_expr(args[0], i)
            if g is None or not is_float_array(self.kinds.get(t), 1) or t in self.rowvars:
                return None
            if not aug:
                self.inits.append(gast.Assign(targets=[store(t)], value=call(
                    "rt.product_zeros", load(self.x), load(args[2].id))))
            self.sums.add(t)
            return [gast.Expr(value=call("rt.add_row", load(t), g, load(self.x), load(i)))]
        value = self.row_expr(v, i)
        if value is None or (aug and t not in self.rowvars):
            return None
        self.rowvars.add(t)
        if _reads(v) & self.derived:
            self.derived.add(t)
        new = gast.AugAssign(target=store(t), op=s.op, value=value) if aug else \
            gast.Assign(targets=[store(t)], value=value)
        return [gast.copy_location(new, s)]

    def size_reads(self, s):
        """`s` with `r.size` of row-local arrays r read as x.shape[0]; None if it reads one otherwise."""
        if not _reads(s) & self.rowvars:
            return s
        def rows(val):
            if (isinstance(val, gast.Attribute) and val.attr == "size" and isinstance(val.value, gast.Name)
                    and val.value.id in self.rowvars):
                return gast.Subscript(value=gast.Attribute(value=load(self.x), attr="shape", ctx=gast.Load()),
                                      slice=const(0), ctx=gast.Load())
            return val
        for n in walk(s):
            for f, val in gast.iter_fields(n):
                if isinstance(val, list):       # a call's arguments: max(r.size, 1)
                    val[:] = [rows(v) for v in val]
                else:
                    setattr(n, f, rows(val))
        return None if _reads(s) & self.rowvars else s


def _at_row(e, aligned: set, i: str):
    if not aligned:
        return e

    class At(gast.NodeTransformer):
        def visit_Name(self, n):
            if n.id in aligned and isinstance(n.ctx, gast.Load):
                return gast.Subscript(value=n, slice=load(i), ctx=gast.Load())
            return n
    return At().visit(e)


def _fresh(fn, base: str) -> str:
    taken = {n.id for n in walk(fn) if isinstance(n, gast.Name)} | {a.id for a in fn.args.args}
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}{k}"
    return name


def _fuse_at(fn, k, parts, kinds, shapes, threads):
    """fn's body with the product at fn.body[k] fused into one loop over the rows, or None. Values of
    rows that no product of x's rows reaches (`d_z = -d_r * y`) join the loop only while nothing outside
    it reads them whole: where something does, their statements stay outside and the plan is redone."""
    outside: set = set()
    for _ in range(_RETRIES):
        got = _attempt(fn, k, parts, kinds, shapes, outside, threads)
        if not isinstance(got, set):
            return got
        outside |= got
    return None


def _attempt(fn, k, parts, kinds, shapes, outside, threads):
    """_fuse_at's plan with the statements at positions `outside` kept out of the loop: the new body, None,
    or the positions of more statements to keep out."""
    z1, x, w = parts
    body = fn.body
    i = _fresh(fn, "i")
    plan = _Plan(z1, x, w, kinds, shapes, {a.id for a in fn.args.args})
    start = k
    while start and is_comment(body[start - 1]):
        start -= 1
    stmts = _row_statements(body, k, start, plan, i, outside)
    if not isinstance(stmts, list):
        return stmts
    if not _fusable(body, k, plan, stmts):
        return None
    new_order = _placed(stmts)
    if new_order is None:
        return None
    head = _emitted([st for st in new_order if st[3] == "before"])
    loop_body = _emitted([st for st in new_order if st[3] == "loop"])
    taken = {n.id for n in walk(fn) if isinstance(n, gast.Name)} | {a.id for a in fn.args.args}
    loop = blocked(loop_body, x, i, plan.sums, taken, threads)    # (rowblocks.py: a block of rows at a time)
    what = comment(f"one pass over the rows of {x}, a block of rows at a time: {z1} = {x} @ {w} for the block, "
                   f"the terms of each row and their adjoints, then the block's sums and adjoint product, "
                   f"while the block is in cache")
    tail = _emitted([st for st in new_order if st[3] == "after"])
    return body[:start] + head + [what] + plan.inits + loop + plan.finals + tail


def _row_statements(body, k, start, plan, i, outside):
    """The product at body[k] and the statements after it, each as (original position, (sweep, line) comments,
    statements, role "loop" (rewritten for row `i`) or "other", reads, writes); None where they cannot fuse,
    or the positions of statements to keep out of the loop (a row-local array read whole)."""
    z1, x, w = plan.z1, plan.x, plan.w
    note = (None, None)
    for c in body[start:k]:
        note = _noted(note, c)
    product = gast.Assign(targets=[store(z1)], value=call("rt.row_dot", load(x), load(i), load(w)))
    stmts = [(k, note, [product], "loop", {x, w, i}, {z1})]
    defined: dict = {}   # row-local name -> where it is first assigned
    for j in range(k + 1, len(body)):
        s = body[j]
        if is_comment(s):
            note = _noted(note, s)
            continue
        if len(stmts) > _LIMIT:
            return None
        new = plan.row_statement(s, i) if isinstance(s, (gast.Assign, gast.AugAssign)) and j not in outside \
            else None
        if new is not None:
            for t in _writes(s) & plan.rowvars:
                defined.setdefault(t, j)
            reads = set().union(*(_reads(n) for n in new))
            writes = set().union(*(_writes(n) | _accumulated(n) for n in new))
            stmts.append((j, note, new, "loop", reads, writes))
            continue
        whole = plan.size_reads(clone(s))
        if whole is None:              # a row-local array read whole: keep it out of the loop, or no fusion
            optional = {defined[t] for t in _reads(s) & plan.rowvars if t not in plan.derived}
            return optional or None
        s = whole
        stmts.append((j, note, [s], "other", _reads(s), _writes(s)))
    return stmts


def _fusable(body, k, plan, stmts) -> bool:
    """Whether the loop over the rows is worth making and right: no row-local name bound before the product,
    an adjoint product in it, and each sum partial inside it read by its own accumulation only."""
    if plan.rowvars & set().union(set(), *(_writes(s) for s in body[:k])):
        return False                   # a row-local name bound before the product (a scalar in the loop)
    if not any(st[3] == "loop" for st in stmts[1:]) \
            or not any(isinstance(n, gast.Expr) for st in stmts for n in st[2] if st[3] == "loop"):
        return False                   # no adjoint product: nothing read twice
    for st in stmts:                   # a sum is partial inside the loop: only its own accumulation reads it
        if st[3] == "loop" and any((_reads(n) - _accumulated(n)) & plan.sums for n in st[2]):
            return False
    return True


def _placed(stmts):
    """`stmts` in their new order: the loop's, and the others before it or, where they read what it writes before
    them (or write what it reads before them), after it; None where a pair whose order flips shares a name written
    by either."""
    after_writes: set = set()
    loop_reads_so_far: set = set()
    loop_writes_so_far: set = set()
    placed = []
    for st in stmts:
        pos, note, new, role, reads, writes = st
        if role == "loop":
            loop_reads_so_far |= reads
            loop_writes_so_far |= writes
            placed.append(st)
            continue
        # (the loop's statements after this one come after it either way: `d_w[1] += d_r` before the loop's
        # `d_w += rt.matmul_grad_y(d_z, x, w)` stays before it)
        late = (reads & (loop_writes_so_far | after_writes)) or (writes & (loop_reads_so_far | loop_writes_so_far))
        if late:
            after_writes |= writes
        placed.append((pos, note, new, "after" if late else "before", reads, writes))
    order = {"before": 0, "loop": 1, "after": 2}
    new_order = sorted(placed, key=lambda st: (order[st[3]], st[0]))
    for a in range(len(new_order)):
        for b in range(a + 1, len(new_order)):
            p, q = new_order[a], new_order[b]
            if p[0] > q[0] and (p[5] & (q[4] | q[5]) or q[5] & p[4]):
                return None
    return new_order


def _emitted(group) -> list:
    """The statements of `group`, each under its (sweep, line) comments where those change (not a `return`)."""
    out = []
    shown = (None, None)
    for pos, note, new, role, _, _ in group:
        if all(isinstance(s, gast.Return) for s in new):
            out.extend(new)     # the function's result: no line's adjoint (its comments stay with the loop)
            continue
        for c, seen in zip(note, shown):
            if c is not None and (seen is None or _text(c) != _text(seen)):
                out.append(clone(c))
        shown = note
        out.extend(new)
    return out


def _text(c) -> str:
    return c.value.value


def _noted(note, c):
    """The (sweep, line) comments in force after comment `c`: a sweep's comment starts a new section."""
    if anno.get(c, anno.SWEEP) is not None:
        return (c, None)
    return (note[0], c)


def fuse_rows(fn: gast.FunctionDef, threads: bool = False) -> gast.FunctionDef:
    """`fn`, or a copy of it with its matrix-vector product, the elementwise statements of its rows, their
    sums and adjoints, and the adjoint product in one loop over the rows (the module docstring); `threads`
    (jit="parallel"): that loop in chunks on all of Numba's threads where x is large (rowchunks.py)."""
    facts = anno.get(fn, anno.ROW_FACTS)
    if facts is None:
        return fn
    kinds, shapes = facts
    for k, s in enumerate(fn.body):
        parts = _matvec(s, kinds)
        if parts is None:
            continue
        new = clone(fn)
        body = _fuse_at(new, k, parts, kinds, shapes, threads)
        if body is not None:
            new.body = body
            return new
    return fn
