"""Final pass: placeholders for names Python could find unbound.

Early returns and loops give generated code values defined on some paths only (a `result` set inside
a loop, copied by the merges after it). The program never uses such a value on a path where it is
undefined, but a merge copy still reads it there. This pass finds, by definite assignment over the
structured code, every local read at a point where it may be unassigned, and defines it once at the
top of the function with a placeholder of its type, so that Python and Numba both accept the merge.
Placeholders `v = None` that differentiated generated code brings along get a typed value too.
Each placeholder statement carries the annotation PLACEHOLDER: an array's placeholder has its rank, not
always its shape (`np.zeros((1,))`), which NumPy does not mind as no path uses it, but the CUDA lowering,
where an array keeps one shape, gives it the shape of the name's real binding.
"""
from __future__ import annotations

import gast

from . import annotations as anno
from .astutil import (assign, call, child_fields, const, dotted, dotted_name, is_comment, walk_of,
                      walk_statements)
from .kinds import array_of, dtype, elements, is_array, is_exp_table, is_scalar, is_tuple, length, ndim
from .purity import ALLOCATIONS


def possibly_unbound(fn: gast.FunctionDef) -> set:
    """Locals of `fn` read somewhere they may not be assigned yet."""
    stored, _, _, exposed = _walk_facts(fn)
    return exposed & stored


_FACT_NODES = frozenset((gast.Name, gast.Compare, gast.Call))


def _walk_facts(fn) -> tuple:
    """(the names `fn` stores, the names it compares with None (_tested_against_none's start), the first items
    of its arrays of list comprehensions (_never_bound_items'), the names its body reads where it may not have
    bound them yet (ssa.exposed_reads, its parameters bound)) in one walk of its nodes, instead of one each: the
    parts exposed_reads reads are walked in its order, the others for the first three alone."""
    stored, tested, items, exposed = set(), set(), set(), set()
    name, compare, call_, store, load_ = gast.Name, gast.Compare, gast.Call, gast.Store, gast.Load

    def visit(node, have):      # (have None: the facts alone, not reads)
        for n in walk_of(node, _FACT_NODES):
            kind = type(n)
            if kind is name:
                if type(n.ctx) is store:
                    stored.add(n.id)
                elif have is not None and isinstance(n.ctx, load_) and n.id not in have:
                    exposed.add(n.id)
            elif kind is compare:
                operands = [n.left] + list(n.comparators)
                if any(isinstance(o, gast.Constant) and o.value is None for o in operands):
                    tested.update(o.id for o in operands if isinstance(o, gast.Name))
            elif kind is call_ and len(n.args) == 2 and isinstance(n.args[1], gast.Name) and \
                    dotted_name(n.func) == "rt.stack_zeros":
                items.add(n.args[1].id)

    def block(stmts, have):     # (exposed_reads' block: `have` a set it may extend; the names bound after)
        for s in stmts:
            kind = type(s)
            if kind is gast.Assign:
                visit(s.value, have)
                t = s.targets[0]
                if isinstance(t, gast.Name):
                    visit(t, None)
                    have.add(t.id)
                else:       # (a tuple target binds its names: `d_x, d_a = f_vjp(x, a, g)` needs no placeholders)
                    visit(t, have)
                    have.update(n.id for n in walk_of(t, _FACT_NODES) if type(n) is name and type(n.ctx) is store)
                visit(s.targets[1:], None)
            elif kind is gast.If:
                visit(s.test, have)
                have = block(s.body, set(have)) & block(s.orelse, set(have))
            elif kind is gast.For:
                visit(s.iter, have)
                visit(s.target, None)
                block(s.body, have | {s.target.id})
                visit(s.orelse, None)
            elif kind is gast.While:
                visit(s.test, have)
                block(s.body, set(have))
                visit(s.orelse, None)
            else:
                visit(s, have)
        return have

    block(fn.body, {a.id for a in fn.args.args})
    for f in child_fields(type(fn)):
        if f != "body":
            visit(getattr(fn, f, None), None)
    return stored, tested, items, exposed


def placeholder(v: str, kinds: dict, shapes: dict, params: set, int_dtype: str = "np.int64") -> gast.stmt:
    """`v = <a value of v's kind>`: 0.0 / 0 / False, an array of the same rank (the same shape when
    a parameter is known to have it; integer arrays of `int_dtype`), a tuple of those for a tuple whose items'
    kinds are known (Numba cannot unify None with a tuple), or None when the kind is unknown."""
    k = kinds.get(v)
    rep = shapes.get(v)
    if is_scalar(k):
        return assign(v, const({"f": 0.0, "i": 0, "b": False}.get(dtype(k), 0.0)))
    if is_exp_table(k) and length(k) in (2, 3):   # a log-domain exp table hoisted inside a branch (after an early return)
        return assign(v, call("rt.exp_shifted", call("np.zeros", gast.Tuple(elts=[const(1)] * length(k),
                                                                          ctx=gast.Load())), const(length(k) - 2)))
    if is_array(k) and rep in params and dtype(k) not in ("i", "b"):   # (a mask takes its own dtype)
        return assign(v, call("rt.zeros_like", gast.Name(id=rep, ctx=gast.Load(), annotation=None,
                                                             type_comment=None)))
    if is_array(k) and ndim(k) is not None:
        value = call("np.zeros", gast.Tuple(elts=[const(1)] * ndim(k), ctx=gast.Load()))
        numpy_dtype = {"i": int_dtype, "b": "np.bool_"}.get(dtype(k))
        if numpy_dtype:
            value.keywords = [gast.keyword(arg="dtype", value=dotted(numpy_dtype))]
        return assign(v, value)
    items = elements(k) if is_tuple(k) else None
    if items is not None:    # a tuple bound in a loop and read in the next iteration (`p, q = pq` ... `pq = (u, w)`)
        values = [placeholder(v, {v: e}, {}, params, int_dtype).value for e in items]
        if all(not (isinstance(e, gast.Constant) and e.value is None) for e in values):
            return assign(v, gast.Tuple(elts=values, ctx=gast.Load()))
    return assign(v, const(None))


def define_unbound(fn: gast.FunctionDef, kinds: dict | None = None, shapes: dict | None = None):
    """Insert placeholders for `fn`'s possibly-unbound locals after its leading tape set-up."""
    params = {a.id for a in fn.args.args}
    kinds, shapes = dict(kinds or {}), dict(shapes or {})
    copies = {}                       # v -> names assigned a copy of v (SSA's merges), and that v is assigned a copy of
    sources: dict = {}                # v -> the names v is assigned a copy of
    empty = set()                     # sums' values where their loops run no iteration, left 0.0 (kinds unknown)
    for n in walk_statements(fn.body):
        if (isinstance(n, gast.Assign) and anno.get(n, anno.SUM_EMPTY) and isinstance(n.targets[0], gast.Name)
                and isinstance(n.value, gast.Constant)):
            empty.add(n.targets[0].id)
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) and isinstance(n.value, gast.Name):
            copies.setdefault(n.value.id, []).append(n.targets[0].id)
            copies.setdefault(n.targets[0].id, []).append(n.value.id)
            sources.setdefault(n.targets[0].id, []).append(n.value.id)
    # `v = None` placeholders of differentiated generated code (inlined, they may sit in a loop or a branch): typed now;
    # not a None the program tests (`r = None` ... `if r is None:`): a typed value would make the test always False
    stored, compared, items, exposed = _walk_facts(fn)   # (the placeholders typed below change none of these)
    tested = _tested_against_none(compared, sources)
    for s in walk_statements(fn.body):
        if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.Constant) and s.value.value is None and s.targets[0].id not in tested):
            v = s.targets[0].id
            if kinds.get(v) is None:  # a version only a merge reads, or a loop's (`v = a` in it): their kind
                known = [w for w in copies.get(v, ()) if kinds.get(w) is not None]
                if known:
                    kinds[v], shapes[v] = kinds[known[0]], shapes.get(known[0])
            typed = placeholder(v, kinds, shapes, params)
            if not (isinstance(typed.value, gast.Constant) and typed.value.value is None):
                s.value = gast.copy_location(typed.value, s.value)
                anno.set(s, anno.PLACEHOLDER)
    names = sorted(exposed & stored)     # (possibly unbound: read where they may not be assigned yet)
    never = _never_bound_items(items, stored) - params
    if not names and not never:
        return fn
    allocated = _allocation_kinds(fn)
    for v in names:   # a value of a rule with no kind law (np.diag, np.linalg.solve): the kind its copies agree on
        kinds[v] = kinds.get(v) or _agreed_kind(v, copies, kinds, empty) or allocated.get(v)
    widths = _integer_casts(fn)
    defs = [anno.set(placeholder(v, kinds, shapes, params, widths.get(v, "np.int64")), anno.PLACEHOLDER) for v in names]
    defs += [anno.set(assign(v, const(0.0)), anno.PLACEHOLDER) for v in sorted(never)]
    at = 0
    while at < len(fn.body) and not is_comment(fn.body[at]) and _is_setup(fn.body[at]):
        at += 1
    fn.body[at:at] = defs
    return fn


def _never_bound_items(read: set, stored: set) -> set:
    """The first items of arrays of list comprehensions (rt.stack_zeros(n, first): comprehension_loops._fill; `read`, from
    _walk_facts) whose binding went with a branch found dead (a filter that is always False; not in `stored`): n
    is 0 there, and `first` only needs a value (0.0: NumPy's np.array([]) is an empty float array)."""
    return read - stored


_WIDTHS = ("np.int8", "np.int16", "np.int32", "np.uint8", "np.uint16", "np.uint32", "np.uint64")


def _integer_casts(fn) -> dict:
    """Names `fn` binds to a cast to an integer dtype other than int64, with that dtype: their placeholders
    take it, or Numba cannot unify the placeholder's int64 array with the cast's (nested fuzz,
    SRCDIFF_TESTS=full)."""
    return {v: d for v, d in cast_dtypes(fn).items() if d in _WIDTHS}


def cast_dtypes(fn) -> dict:
    """{name: the dotted NumPy dtype} of the names `fn` binds to an explicit cast (`v = rt.cast(x, d)`, d being
    np.int32, a name bound to it, or a dtype's name: the user's `.astype('int32')`), directly or through
    copies, and to nothing else but a placeholder `v = None` or the backward sweep's pops of the value. Kinds
    know an integer or float array, not its width: the placeholders (here) and the typed stacks
    (transforms/stacks.py) of such names take this dtype."""
    import numpy as np
    values, count = {}, {}
    for n in walk_statements(fn.body):
        if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)):
            continue
        e = n.value
        if ((isinstance(e, gast.Constant) and e.value is None) or (isinstance(e, gast.Call) and (
                dotted_name(e.func) == "rt.pop" or (isinstance(e.func, gast.Attribute) and e.func.attr == "pop"
                                                    and not e.args)))):
            continue
        values[n.targets[0].id] = e
        count[n.targets[0].id] = count.get(n.targets[0].id, 0) + 1
    out = {}
    for v, e in values.items():
        for _ in range(8):        # through copies
            if not isinstance(e, gast.Name) or count.get(e.id) != 1:
                break
            e = values[e.id]
        if count[v] != 1 or not (isinstance(e, gast.Call) and dotted_name(e.func) == "rt.cast" and len(e.args) == 2):
            continue
        d = e.args[1]
        d = values.get(d.id, d) if isinstance(d, gast.Name) else d
        name = ("np." + d.value if isinstance(d, gast.Constant) and isinstance(d.value, str)
                else dotted_name(d) if isinstance(d, gast.Attribute) else None)
        if name and name.startswith("np.") and isinstance(getattr(np, name[3:], None), type):
            out[v] = name
    return out


def _tested_against_none(compared: set, sources: dict) -> set:
    """The names compared with None in the function (`x is None`, `x is not None`, `x == None`, `x != None`:
    `compared`, from _walk_facts), and every name whose value one may be, a copy of a copy ({v: the names v is
    assigned a copy of}: SSA's merges and loop copies: the `r = None` a merged `r3 is None` tests). Not the names
    copied from one: `prev = a` after `assert a is not None` leaves prev's placeholder None untested, and typed
    (left None, Numba typed prev Optional, a zero made from it None in an in-place `+=` while typing: a crash in
    Numba; nested fuzz seed 1008123)."""
    seen = set(compared)
    todo = list(seen)
    while todo:
        for w in sources.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


_DTYPE_KINDS = {"np.bool_": "b", "bool": "b", "np.int64": "i", "np.intp": "i", "int": "i", "np.float64": "f",
                "float": "f"}


def _allocation_kinds(fn) -> dict:
    """{name: its kind} for the names `fn` binds only to new arrays (`t = np.empty(max(n, 0), np.bool_)`: reverse
    mode's tapes, allocated in the branch whose loop they serve): their placeholders are typed arrays, not None,
    which Numba cannot index where it removed the allocating branch as dead and the reading one stays (a
    module constant deciding one of them; nested fuzz 795075)."""
    made, other = {}, set()
    for n in walk_statements(fn.body):
        if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name)):
            continue
        v, e = n.targets[0].id, n.value
        if isinstance(e, gast.Constant) and e.value is None:
            continue
        k = None
        if isinstance(e, gast.Call) and dotted_name(e.func) in ALLOCATIONS and e.args and len(e.args) <= 2:
            shape = e.args[0]   # (a name may hold a tuple: its rank is not read here)
            nd = len(shape.elts) if isinstance(shape, gast.Tuple) else None if isinstance(shape, gast.Name) else 1
            d = e.args[1] if len(e.args) == 2 else next((kw.value for kw in e.keywords if kw.arg == "dtype"), None)
            dt = "f" if d is None else _DTYPE_KINDS.get(dotted_name(d) or "")
            k = array_of(nd, dt) if dt and nd is not None else None
        if k is None or made.get(v, k) != k:
            other.add(v)
        made[v] = k
    return {v: k for v, k in made.items() if v not in other}


def _agreed_kind(v, copies: dict, kinds: dict, empty: set):
    """The one kind the names `v` is copied to and from (transitively: SSA's merges and loop copies) have, where
    they have only one (under Numba all of them take one type); else None. A sum's 0.0 where its loops run no
    iteration (`empty`: its terms' kind unknown) tells nothing: with arrays for terms it is made zeros once the
    kinds are known, as where this gradient is differentiated again (nested fuzz seed 460020: a placeholder
    0.0 there was a float Numba could not unify with the sum of arrays)."""
    seen, todo = {v}, [v]
    while todo:
        for w in copies.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    known = {kinds[w] for w in seen if kinds.get(w) is not None and w not in empty}
    return known.pop() if len(known) == 1 else None


def _is_setup(s) -> bool:
    """`x_stack = []` and similar tape allocations that open a generated function."""
    return (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.List) and not s.value.elts)
