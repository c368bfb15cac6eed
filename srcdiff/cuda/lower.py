"""Lower one srcdiff-generated gradient module (specialised to per-example argument kinds) to
numba-CUDA device source.

Input: the module srcdiff generated (forward sweep + backward sweep, `# line N:` comments), read as the
standard-library trees its source is printed from (module_builder.Module.trees, transforms/emit.py), never as
text: the comments citing the user's lines are statements of the tree carrying the annotation USER_LINE.
Output: device functions in which

* every array has a static shape known at specialisation time and lives in a flat 1-D buffer
  (per-example argument rows, `cuda.local.array` locals, or the caller's output buffer),
* array expressions become element loops, reductions/products become accumulation loops,
* `np.empty(max(n, 0))` tapes become `cuda.local.array(TRIP, ...)` with a run-time bound check,
* list stacks become local arrays plus an integer counter,
* `np.*` / `rt.*` on scalars become `math.*` / inline scalar code,
* the entry's results are written into `cu_out[offset + k, cu_col]` (destination passing) and the
  function returns a status code (0 ok, 1 a loop ran past its fixed-size tape).

This module holds Program (the module's functions, its constants, the comments citing the user's lines,
the helpers it calls) and _Layout (the comments taken out of the trees, remembered by position). One function is lowered by function.FunctionLowering, made of infer.Inference
(shapes and dtypes), expressions.ExpressionLowering and statements.StatementLowering; host.py evaluates
trip counts and sizes on the host; common.py holds what they share (argument specs, storage, flat-index
arithmetic, the operator and call tables).
"""
from __future__ import annotations

import ast
import bisect
import copy
import functools
import math

import numpy as np

from ..transforms import annotations as anno
from ..transforms.astutil import nested_blocks
from ..transforms.emit import comment_text
from .common import AXES_ORDER_CALLS, ArgSpec, dotted, number
from .function import FunctionLowering
from .logdomain import direct_products
from . import spelling
from .carried_tuples import split_carried_tuples


class _Layout:
    """The comment statements of emitted trees, taken out of their blocks and remembered by position.

    Statements and comments are numbered in the order the source prints them (one line each; every node
    of a statement's own line gets its number as `lineno`, so a node the lowering builds with
    ast.copy_location keeps its statement's place; columns are 0, for `compile`). `before[n]` holds the comment lines printed directly
    above statement n, `(number, "# text")`: a block's header, or an `else:` line, ends such a run (an
    `elif` does not: it follows its comments as the `if` does). `user_lines` holds
    `(number, line, text, callee, file)` for the comments citing a user's line (USER_LINE): the function's own
    (callee and file None) or those of a helper inlined into it."""

    def __init__(self):
        self.n = 0
        self.before: dict = {}
        self.user_lines: list = []

    def function(self, fn: ast.FunctionDef):
        _Negations().visit(fn)
        self._number(fn)
        self.block(fn.body, [])

    def _number(self, st):
        self.n += 1
        for name, value in ast.iter_fields(st):
            if name not in ("body", "orelse", "handlers", "finalbody"):
                for node in (value if isinstance(value, list) else [value]):
                    if isinstance(node, ast.AST):
                        for e in ast.walk(node):
                            e.lineno = e.end_lineno = self.n
                            e.col_offset = e.end_col_offset = 0
        st.lineno = st.end_lineno = self.n
        st.col_offset = st.end_col_offset = 0

    def block(self, body, pending) -> list:
        """Take the comments out of `body` (and its nested blocks), numbering what stays; `pending`: the
        comment lines printed just above the block's first line. Returns those left after its last
        statement (printed above whatever follows the block)."""
        kept = []
        for st in body:
            text = comment_text(st)
            if text is not None:
                self.n += 1
                pending.append((self.n, f"# {text}"))
                line = anno.get(st, anno.USER_LINE)
                if line is not None:
                    self.user_lines.append((self.n, line[0], line[1], line[2], line[3] if line[2] else None))
                continue
            self._number(st)
            self.before[self.n] = pending
            kept.append(st)
            pending = []
            if isinstance(st, (ast.For, ast.While, ast.If)):
                pending = self.block(st.body, [])
                if isinstance(st, ast.If) and len(st.orelse) == 1 and isinstance(st.orelse[0], ast.If):
                    pending = self.block(st.orelse, pending)        # `elif`: no line between
                elif st.orelse:
                    self.n += 1                                     # the `else:` line
                    pending = self.block(st.orelse, [])
            elif hasattr(st, "body"):       # (generated code has no with / try / nested def)
                raise NotImplementedError(f"a {type(st).__name__} statement in generated code")
        if not kept and body:
            kept = [ast.Pass(lineno=self.n)]
        body[:] = kept
        return pending


class _Negations(ast.NodeTransformer):
    """A negative number constant (the step of a backward loop) as the negation the printed source reads
    back as: `-1` is `-(1)`."""

    def visit_Constant(self, node):
        v = node.value
        if type(v) in (int, float) and (v < 0 or (v == 0 and math.copysign(1.0, v) < 0)):
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-v))
        return node


class _InlineNames(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.names:
            return ast.copy_location(copy.deepcopy(self.names[node.id]), node)
        return node


def _drop(body, dropped):
    """Remove the statements `dropped` selects from a block. An empty block (an `if` without `else`, a loop's
    `else`) stays empty; a block emptied gets a `pass` at its first statement's place (every statement the
    lowering reads has a _Layout position)."""
    kept = [x for x in body if not dropped(x)]
    if body and not kept:
        kept = [ast.copy_location(ast.Pass(), body[0])]
    body[:] = kept


@functools.cache
def _operator_names() -> dict:
    """The dotted names of the functions the rules read as binary operators (np.power, np.add, math.pow, pow,
    operator.mul, ...: numpy_rules.BUILTIN_ALIASES) -> the operator's ast class."""
    import builtins
    import operator
    from ..rules.numpy_rules import BUILTIN_ALIASES, OPERATOR_CALLS
    out = {}
    for prefix, module in (("np.", np), ("math.", math), ("operator.", operator), ("", builtins)):
        for attr, obj in vars(module).items():     # (vars: no module __getattr__, no deprecation warnings)
            op = OPERATOR_CALLS.get(BUILTIN_ALIASES.get(id(obj)))
            if op is not None and op != "MatMult":
                out[prefix + attr] = getattr(ast, op)
    return out


class _OperatorCalls(ast.NodeTransformer):
    """`np.power(x * 1.0, y - 1)` -> `(x * 1.0) ** (y - 1)`. User code reaches generated code with such calls
    written as operators (transforms/canonicalize.py), but rule templates write them in the code they insert (the
    forward rule of rt.pow_slope: NumPy's power, NaN and not a complex number for a negative base, as CUDA's pow):
    an hvp of `y ** x` in both held the call, which the device declined."""

    def visit_Call(self, node):
        self.generic_visit(node)
        op = _operator_names().get(dotted(node.func))
        if op is None or len(node.args) != 2 or node.keywords:
            return node
        return ast.copy_location(ast.BinOp(node.args[0], op(), node.args[1]), node)


def _inline_dtype_names(fn):
    """`t2 = np.bool_; t = np.empty(n, t2)` -> `t = np.empty(n, np.bool_)` (forward mode names the
    dtype argument of a tape it differentiates)."""
    names = {}
    for st in ast.walk(fn):
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and \
                isinstance(st.value, ast.Attribute) and isinstance(st.value.value, ast.Name) and \
                st.value.value.id == "np" and isinstance(getattr(np, st.value.attr, None), type):
            names[st.targets[0].id] = st.value
    if not names:
        return
    _InlineNames(names).visit(fn)
    for st in ast.walk(fn):
        for body in nested_blocks(st):
            _drop(body, lambda x: isinstance(x, ast.Assign) and isinstance(x.targets[0], ast.Name)
                  and x.targets[0].id in names)


_INDEXED = ("rt.index_add", "rt.written")     # (their second argument is an index: cuda/common.py's indexed)


def _inline_index_tuples(fn):
    """`arg1 = slice(None, None, None); arg2 = (arg1, idx); rt.index_add(d_M, arg2, g)` -> `rt.index_add(d_M,
    (slice(None, None, None), idx), g)` (hvp's forward mode names the index tuples of the gradient it differentiates,
    jvp the axes of np.transpose(x, axes)): names bound once to a slice(...) call or a tuple of numbers, names and
    such calls, read only as an index or as the axes of an AXES_ORDER_CALLS call."""
    stores, values, parent = {}, {}, {}
    for node in ast.walk(fn):
        for child in ast.iter_child_nodes(node):
            parent[id(child)] = node
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and \
                _index_part(node.value, tuple_ok=True):
            values[node.targets[0].id] = node.value
    names = {k: v for k, v in values.items() if stores.get(k) == 1}

    def as_index(n) -> bool:
        up = parent.get(id(n))
        if isinstance(up, ast.Tuple) and not isinstance(up.ctx, ast.Store):
            n, up = up, parent.get(id(up))
            if isinstance(up, ast.Assign) and up.value is n:      # (an item of another index tuple's binding)
                return isinstance(up.targets[0], ast.Name) and up.targets[0].id in names
        if isinstance(up, ast.Assign) and up.value is n:          # (a slice another tuple holds: `arg1` above)
            return isinstance(up.targets[0], ast.Name) and up.targets[0].id in names
        if isinstance(up, ast.keyword):     # (np.transpose(x, axes=arg))
            up = parent.get(id(up))
            return isinstance(up, ast.Call) and dotted(up.func) in AXES_ORDER_CALLS
        return isinstance(up, ast.Subscript) and up.slice is n or \
            isinstance(up, ast.Call) and dotted(up.func) in _INDEXED and len(up.args) > 1 and up.args[1] is n or \
            isinstance(up, ast.Call) and dotted(up.func) in AXES_ORDER_CALLS and any(a is n for a in up.args[1:])
    while True:
        bad = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
               and n.id in names and not as_index(n)}
        if not bad:
            break
        for k in bad:
            del names[k]
    if not names:
        return
    for k in names:     # (items naming other such names first: `arg2 = (arg1, idx)`)
        names[k] = _InlineNames(names).visit(copy.deepcopy(names[k]))
    _InlineNames(names).visit(fn)
    for st in ast.walk(fn):
        for body in nested_blocks(st):
            _drop(body, lambda x: isinstance(x, ast.Assign) and isinstance(x.targets[0], ast.Name)
                  and x.targets[0].id in names)


def _index_part(e, tuple_ok=False) -> bool:
    if isinstance(e, ast.Call):
        return dotted(e.func) == "slice" and not e.keywords and all(_index_part(a) for a in e.args)
    if isinstance(e, ast.Tuple):
        return tuple_ok and all(_index_part(x) for x in e.elts)
    return isinstance(e, (ast.Constant, ast.Name)) or isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant)


def _stored(stmts) -> set:
    """Names stored anywhere in the statements (nested blocks included)."""
    return {n.id for st in stmts for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


_ZEROS = ("rt.zeros_like", "np.zeros_like")


def _name_tuple_zeros(body, taken) -> None:
    """`d_t = (rt.zeros_like(s), d_a)` -> `d_t_at0 = rt.zeros_like(s)`, `d_t = (d_t_at0, d_a)`: forward mode's tangent
    of a tuple literal holds the zero tangents of its constant items, and _resolve_tuple_items resolves reads of
    tuples of names and numbers only (jvp of a loop over a tuple of pairs whose item is computed read `d_w[1]` of
    an unresolved tuple: "indexing a scalar", CUDA fuzz 843026)."""
    def named(tup, base, out, st):
        elts = []
        for k, x in enumerate(tup.elts):
            if isinstance(x, ast.Tuple):
                x = named(x, f"{base}_{k}", out, st)
            elif isinstance(x, ast.Call) and dotted(x.func) in _ZEROS:
                n = f"{base}_at{k}"
                while n in taken:
                    n += "_"
                taken.add(n)
                target = ast.copy_location(ast.Name(id=n, ctx=ast.Store()), st)
                out.append(ast.copy_location(ast.Assign(targets=[target], value=x), st))
                x = ast.copy_location(ast.Name(id=n, ctx=ast.Load()), st)
            elts.append(x)
        return ast.copy_location(ast.Tuple(elts=elts, ctx=ast.Load()), tup)

    new = []
    for st in body:
        for b in nested_blocks(st):
            _name_tuple_zeros(b, taken)
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and \
                isinstance(st.value, ast.Tuple) and any(isinstance(x, ast.Call) and dotted(x.func) in _ZEROS
                                                         for x in ast.walk(st.value)):
            st.value = named(st.value, st.targets[0].id, new, st)
        new.append(st)
    body[:] = new


class _TupleItems(ast.NodeTransformer):
    """`t[k]` of a name bound to a tuple literal of names and numbers (nested), k a constant: the item itself; `len(t)`
    its length; `np.array((t, u))` the rows written out."""

    def __init__(self, env):
        self.env = env

    def visit_Subscript(self, e):
        self.generic_visit(e)
        if isinstance(e.ctx, ast.Load) and isinstance(e.value, (ast.Name, ast.Tuple)):
            t = self.env.get(e.value.id) if isinstance(e.value, ast.Name) else e.value
            try:
                k = ast.literal_eval(e.slice)
            except ValueError:
                return e
            if t is not None and isinstance(k, int) and -len(t.elts) <= k < len(t.elts):
                return ast.copy_location(copy.deepcopy(t.elts[k]), e)
        return e

    def visit_Call(self, e):
        """`len(t)` of such a name: its number of items (jvp's check of zip(*[a, b])'s rows, `ok = len(seq)`: the
        tuple of arrays stayed, "array a used where a scalar is needed")."""
        self.generic_visit(e)
        if dotted(e.func) == "len" and len(e.args) == 1 and not e.keywords and isinstance(e.args[0], ast.Name) \
                and self.env.get(e.args[0].id) is not None:
            return ast.copy_location(ast.Constant(len(self.env[e.args[0].id].elts)), e)
        if dotted(e.func) in ("np.array", "rt.array") and len(e.args) == 1 and isinstance(e.args[0], ast.Tuple):
            rows = e.args[0].elts       # (jvp names the rows of a matrix written out: `r2 = (1.0, 2.0)`, then
            for k, x in enumerate(rows):    # np.array((r2, r3)), "np.array(...) of values of different shapes")
                if isinstance(x, ast.Name) and self.env.get(x.id) is not None:
                    rows[k] = ast.copy_location(copy.deepcopy(self.env[x.id]), x)
        return e


def _simple_tuple(v) -> bool:
    return isinstance(v, ast.Tuple) and all(isinstance(x, (ast.Name, ast.Constant)) or _simple_tuple(x) or
                                            isinstance(x, ast.UnaryOp) and isinstance(x.operand, ast.Constant)
                                            for x in v.elts)     # (-1.0 too: a row written out, `(0.5, -1.0)`)


def _forget(env, names):
    """Drop the tuples bound to `names` and those holding any of them (their items changed)."""
    for n in list(env):
        if n in names or any(isinstance(x, ast.Name) and x.id in names for x in ast.walk(env[n])):
            del env[n]


def _resolve_tuple_items(body, env, tuples) -> None:
    """In statement order, each `t[k]` read of a name bound to a tuple literal (`pairs = (p0, p1)`,
    `w_v = pairs[0]`, `v = w_v[1]`) becomes the item it names. Forward mode keeps Python's tuples where reverse mode
    resolves them (jvp of a loop over a tuple of pairs of arrays, unrolled); the device has no tuples of arrays.
    A branch starts from the tuples known before it, a loop from those its body never rebinds; after either, the
    names it binds are forgotten. `tuples` collects every name found bound to a tuple."""
    for st in body:
        blocks = nested_blocks(st)
        if blocks:
            inner = dict(env)
            if isinstance(st, (ast.For, ast.While)):
                _forget(inner, _stored([st]))
            for field in [f for f in ast.iter_fields(st) if f[0] not in ("body", "orelse")]:
                if isinstance(field[1], ast.AST):
                    setattr(st, field[0], _TupleItems(inner).visit(field[1]))
            for b in blocks:
                _resolve_tuple_items(b, dict(inner), tuples)
            _forget(env, _stored([st]))
            continue
        _TupleItems(env).visit(st)
        _forget(env, _stored([st]))
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            v, name = st.value, st.targets[0].id
            if isinstance(v, ast.Name) and v.id in env and name != v.id:
                env[name] = env[v.id]           # a second name of the tuple
            elif _simple_tuple(v):
                env[name] = v
            if name in env:
                tuples.add(name)


def _drop_unread_tuples(fn, tuples):
    """Bindings of the names in `tuples` to a tuple literal or to another of them, which no statement reads any
    more (after _resolve_tuple_items); again until none is left (a dropped binding may have read the last)."""
    def unread(x, used):
        return isinstance(x, ast.Assign) and len(x.targets) == 1 and isinstance(x.targets[0], ast.Name) and \
            x.targets[0].id in tuples and x.targets[0].id not in used and \
            (isinstance(x.value, ast.Tuple) or (isinstance(x.value, ast.Name) and x.value.id in tuples))
    while True:
        used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if not any(unread(x, used) for x in ast.walk(fn)):
            return
        for st in ast.walk(fn):
            for body in nested_blocks(st):
                _drop(body, lambda x: unread(x, used))


def _inline_returned_tuples(fn):
    """`r = (a, b); return (r, s)` -> `return ((a, b), s)`: the entry's results as nested tuples of
    leaves (forward over a gradient of several arguments binds the gradient tuple to a name)."""
    bound, counts = {}, {}
    for st in ast.walk(fn):
        if isinstance(st, ast.Assign):
            for t in st.targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        counts[n.id] = counts.get(n.id, 0) + 1
            if len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and isinstance(st.value, ast.Tuple):
                bound[st.targets[0].id] = st.value

    def sub(e):
        if isinstance(e, ast.Name) and e.id in bound and counts.get(e.id) == 1:
            return sub(bound[e.id])
        if isinstance(e, ast.Tuple):
            return ast.Tuple([sub(x) for x in e.elts], ast.Load())
        return e
    for st in ast.walk(fn):
        if isinstance(st, ast.Return) and st.value is not None:
            st.value = ast.copy_location(sub(st.value), st.value)
    used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for st in ast.walk(fn):
        for body in nested_blocks(st):
            _drop(body, lambda x: isinstance(x, ast.Assign) and len(x.targets) == 1 and
                  isinstance(x.targets[0], ast.Name) and x.targets[0].id in bound and
                  counts.get(x.targets[0].id) == 1 and x.targets[0].id not in used)


def _inline_range_lengths(fn) -> None:
    """`r = range(a, b, s)` read only as `len(r)` -> `len(range(a, b, s))` there: forward mode names the range of a
    backward loop over a reversed range with a step (`len(range(n5, n6, -2))` in the gradient's loop header), and the
    device has no range values, only their lengths (CUDA fuzz --device 999282, hvp: 'the call range(...)'). Only
    where every read of r follows its binding in the same block, before any statement binds r or a name of the
    range's arguments again."""
    reads: dict = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            reads.setdefault(n.id, []).append(n)
    lens = {id(c.args[0]) for c in ast.walk(fn) if isinstance(c, ast.Call) and dotted(c.func) == "len"
            and len(c.args) == 1 and isinstance(c.args[0], ast.Name)}
    for body in [fn.body] + [b for st in ast.walk(fn) for b in nested_blocks(st) if st is not fn]:
        inlined = set()
        for k, st in enumerate(body):
            if not (isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and
                    isinstance(st.value, ast.Call) and dotted(st.value.func) == "range"):
                continue
            r = st.targets[0].id
            args = {n.id for n in ast.walk(st.value) if isinstance(n, ast.Name)} | {r}
            span = []
            for later in body[k + 1:]:
                if _stored([later]) & args:
                    break
                span.append(later)
            inside = {id(n) for x in span for n in ast.walk(x) if isinstance(n, ast.Name)}
            uses = reads.get(r, [])
            if not uses or any(id(n) not in inside or id(n) not in lens for n in uses):
                continue
            for x in span:
                for c in ast.walk(x):
                    if isinstance(c, ast.Call) and dotted(c.func) == "len" and c.args and \
                            isinstance(c.args[0], ast.Name) and c.args[0].id == r:
                        c.args[0] = ast.copy_location(copy.deepcopy(st.value), c.args[0])
            inlined.add(id(st))
        if inlined:
            _drop(body, lambda x: id(x) in inlined)


class Program:
    """All functions of one generated module, lowered for one per-example specialisation."""

    def __init__(self, module, user_fn, specs, max_trip, select=None, name=None, user=None, cite=None,
                 leaves=None):
        """select: keep only element `select` of the entry's tuple result (hvp keeps H·v of
        forward-over-reverse's (gradient, H·v)). The module's tapes are the names module_builder.Module.tapes
        records: reverse mode's preallocated tapes, with those of the generated code the module holds
        (forward mode over a gradient, a function calling one), never recognised by their names. `name`: the
        user's function as messages name it (hvp: not the generated gradient whose lines user_fn's are); `user`: the
        user's function whose names messages spell the generated code's names with (cuda/spelling.py); `cite`:
        (file, line) of a generated line -> the user's line it was made from (error_reports.user_line), or None
        (hvp: the lines user_fn's comments cite are the gradient's); `leaves`: the entry's parameters that are items of
        a tuple or list argument -> their spelling (`xa_1` -> `xa[1]`)."""
        import inspect
        self.module, self.max_trip, self.tapes = module, max_trip, frozenset(module.tapes)
        self.layout = _Layout()
        trees = module.trees()
        for fn in trees:
            direct_products(fn)         # log-domain products as their direct formulas (cuda/logdomain.py)
            self.layout.function(fn)
        self._user_line_at = [n for n, *_ in self.layout.user_lines]
        self.user_name = name or getattr(user_fn, "__name__", "f")
        try:
            self.filename = inspect.getsourcefile(user_fn)
        except TypeError:
            self.filename = None
        self.defs = {fn.name: fn for fn in trees}
        self.users, self.cite = spelling.user_names(user or user_fn), cite
        self.generated = {n.id for fn in trees for n in ast.walk(fn) if isinstance(n, ast.Name)} | \
            {a.arg for fn in trees for a in fn.args.args} | set(self.defs)
        self.written, self.leaves = spelling.literals(trees), dict(leaves or {})
        for fn in self.defs.values():
            _OperatorCalls().visit(fn)
            _inline_dtype_names(fn)
            _inline_index_tuples(fn)
            tuples: set = set()
            _name_tuple_zeros(fn.body, {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)})
            split_carried_tuples(fn)
            _inline_range_lengths(fn)
            _resolve_tuple_items(fn.body, {}, tuples)
            _drop_unread_tuples(fn, tuples)
        _inline_returned_tuples(self.defs[module.entry])
        if select is not None:
            for st in ast.walk(self.defs[module.entry]):
                if isinstance(st, ast.Return) and isinstance(st.value, ast.Tuple):
                    st.value = st.value.elts[select]
        self.consts, self.global_arrays, self.global_shapes = {}, {}, {}
        for k, v in module.bindings.items():
            if isinstance(v, (bool, int, float, np.integer, np.floating)):
                self.consts[k] = v.item() if hasattr(v, "item") else v
            elif isinstance(v, np.ndarray) and v.dtype.kind in "fiub" and v.ndim >= 1:
                self.global_arrays[k] = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
                self.global_shapes[k] = tuple(v.shape)
        self.helpers = set(self.defs) - {module.entry}
        self.lowered_helpers = {}
        self.lowering = []              # the helpers being lowered, outermost first (a call back into one recurses)
        self.call_sites = []            # (caller, call) of the helpers being lowered, outermost first
        self.helper_returns = {}
        self.specs = specs
        self.empty_reductions = []      # (message, file, line, text, advice) of status EMPTY_REDUCTION + k (ExpressionLowering)
        self._emitted = set()
        self.entry = FunctionLowering(self, self.defs[module.entry], specs, True, f"{module.entry}_dev").run()

    # comments: the generated module's comment lines, re-emitted (once) before the statements they precede
    def comments_before(self, lineno):
        block = [text for n, text in self.layout.before.get(lineno, ()) if n not in self._emitted]
        self._emitted.update(n for n, _ in self.layout.before.get(lineno, ()))
        return block

    def spell(self, text):
        """`text` (a message) with the generated code's names spelled as the user's (cuda/spelling.py)."""
        return spelling.spell(text, self.users | set(self.leaves), self.generated, self.written, self.leaves)

    def cited_line(self, lineno):
        """The number of the user's line the statement at `lineno` comes from, where a message cites a second line
        (through the gradient hvp differentiates: `cite`), or None."""
        return self.user_site(lineno)[0]

    def user_site(self, lineno):
        """(line, text, file) of the user's own line the statement at `lineno` comes from, through the gradient hvp
        differentiates (`cite`) where there is one: where an error raised after the launch points."""
        line, text, file = self.user_line(lineno)
        if line is not None and self.cite is not None and file:
            cited = self.cite(file, line)
            return (cited[1], cited[2], cited[0]) if cited else (None, None, None)
        return line, text, file

    def user_line(self, lineno):
        """(line, text, file) of the user's line the statement at `lineno` (a _Layout number) comes from: the
        nearest comment above it citing a line; `file` is the function's (self.filename) for one of its own
        lines, that of the helper for a line of a helper inlined into it (its text then names the helper: a
        statement a gradient keeps of a helper has no line of the caller above it). (None, None, None) if none."""
        k = bisect.bisect_right(self._user_line_at, lineno) if lineno else 0
        if not k:
            return None, None, None
        _, line, text, callee, file = self.layout.user_lines[k - 1]
        if callee is None:
            return line, text, self.filename
        return line, f"{text}   (in {callee}, called from {self.user_name})", file

    def helper_info(self, caller, name, call):
        sig = tuple(caller.info(a) for a in call.args)
        if any(s is not None for s, _ in sig):
            caller.fail(call, f"array arguments to the helper {name}",
                        "helpers called from the differentiated function must take and return scalars on the device")
        if name in self.lowering:
            if self.user_line(getattr(call, "lineno", None))[0] is None and self.call_sites:
                caller, call = self.call_sites[0]      # (a helper's own copy cites no line: the first call's does)
            caller.fail(call, f"the recursive helper {name} (device code cannot recurse: numba-cuda does not compile "
                              "recursive device functions)",
                        "write the recursion as a loop, or compute this part on the host and pass it in")
        self.call_sites.append((caller, call))
        try:
            self._lower_helper(name, sig)
        finally:
            self.call_sites.pop()
        return self.helper_returns[(name, sig)]

    def helper_name(self, caller, name, call):
        self.helper_info(caller, name, call)      # lowered (once per signature) wherever it is called from
        return f"{name}_dev"

    def _lower_helper(self, name, sig):
        key = (name, sig)
        if key in self.helper_returns:
            return
        fn = self.defs[name]
        specs = [ArgSpec(a.arg, None, dt) for a, (_, dt) in zip(fn.args.args, sig)]
        self.helper_returns[key] = (None, "f")
        fl = FunctionLowering(self, fn, specs, False, f"{name}_dev")
        self.lowering.append(name)
        fl.infer()
        rets = [st for st in fl._walk(fn.body) if isinstance(st, ast.Return)]
        infos = [fl.info(r.value) if r.value is not None else (None, "f") for r in rets]
        if any(s is not None and s != "tuple" for s, _ in infos):
            fl.fail(rets[0], f"the helper {name} returns an array")
        self.helper_returns[key] = infos[0] if infos else (None, "f")
        if name not in self.lowered_helpers:
            self.lowered_helpers[name] = fl.run()
        self.lowering.pop()

    def source(self, kernels: str) -> str:
        head = ["import math", "from numba import cuda, float64, int64", ""]
        for k, v in self.consts.items():
            head.append(f"{k} = {number(v)}")
        for k, v in self.global_arrays.items():
            head.append(f"# {k}: global array of shape {self.global_shapes[k]} (a compile-time constant, flattened)")
        parts = []
        for lw in self.lowered_helpers.values():
            parts.append("\n".join(["@cuda.jit(device=True)"] + lw.lines))
        parts.append("\n".join(["@cuda.jit(device=True)"] + self.entry.lines))
        return "\n".join(head) + "\n\n" + "\n\n\n".join(parts) + "\n\n\n" + kernels
