"""Which names may share memory: `b = a`, slices and basic indexing, `.T`, np.reshape / np.transpose / np.asarray and
the runtime's forms of them (view_source), followed through SSA's merge and loop copies to one root name per block
of memory (memory_roots); the names that may share memory with an array written in place (sharing_written_memory:
common-subexpression elimination must not give such an array a second name); those that may be read-only under
Numba (read_only_names).

Why apart from aliasing.py: these are facts about the SSA tree that many passes read (the aliasing check, reverse
mode, forward mode, stacks, logdomain, cse); the check's dataflow (aliasing.py) is one of their readers.
"""
from __future__ import annotations

import copy

import gast

from . import annotations as anno
from .astutil import call, dotted_name, load, walk, walk_statements
from .kinds import Kind, is_array, is_scalar, ndim
from .purity import WRITES_INTO
from .shape_reads import ssa_copy

# calls whose result may be their first argument or a view of it (NumPy's, and the runtime's forms of them after
# canonicalize and the composites: np.atleast_1d/2d and np.tile's base are rt.atleast_*, np.flip ends in
# rt.reshape_like of a reversed ravel)
_VIEW_CALLS = {"np.transpose", "rt.transpose", "rt.expand_dims", "np.expand_dims", "np.reshape", "rt.reshape", "np.ravel",
               "rt.squeeze", "np.asarray", "np.atleast_1d", "np.atleast_2d", "rt.atleast_1d", "rt.atleast_2d",
               "rt.atleast_nd", "rt.atleast_3d", "np.broadcast_to", "np.swapaxes", "np.moveaxis", "rt.reshape_like",
               "np.ascontiguousarray", "np.asfortranarray"}
# ... of those, the ones that are the argument's memory or a copy by its layout at run time: counted in forward mode too,
# whose generated code follows the other views by making the same ones (a tangent's layout need not be its value's)
LAYOUT_CALLS = ("np.ascontiguousarray", "np.asfortranarray")


def _basic(idx, kinds) -> bool:
    """Slices, integers and None only: indexing with it gives a view (an array index copies)."""
    for n in walk(idx):
        if isinstance(n, (gast.List, gast.Call)) or (isinstance(n, gast.Tuple) and n is not idx):
            return False
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and kinds.get(n.id) is not None \
                and not is_scalar(kinds[n.id]):
            return False
    return True


def ellipsis_index(idx) -> bool:
    """Whether the index holds an ellipsis: `b[0, ...]` of a vector (`b[...]` of a 0-d array) is in NumPy a 0-d
    array sharing b's memory, where `b[0]` is a number, a copy (under Numba both are numbers)."""
    return any(isinstance(n, gast.Constant) and n.value is Ellipsis for n in walk(idx))


def view_source(value, name, kinds, renames_only=False, asarrays=frozenset(), gathers=frozenset()):
    """The array `name = value` may share memory with, or None. `asarrays`: names bound to np.asarray(v),
    whose casts (np.asarray(v, dtype), v.astype(dtype, copy=False)) are v itself where v has the dtype. `gathers`:
    names bound to np.take(...), a new array (np.roll's, reshaped like its argument)."""
    if isinstance(value, gast.Name):
        k = kinds.get(name)
        return value.id if k is None or is_array(k) else None
    if (isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and ellipsis_index(value.slice)
            and not is_array(kinds.get(name)) and _basic(value.slice, kinds)):
        # (`y = b[0, ...]`: NumPy's 0-d view of b, Numba's number; forward mode, which follows views, counts it
        # too: its jitted code read the number from before a write into b, value -0.14 for -0.12)
        return value.value.id
    if _diagonal_view(value, kinds):
        # (np.diag, np.diagonal and x.diagonal() of a matrix: NumPy's read-only view of its diagonal, which a later
        # write into the matrix changes; of a vector np.diag makes a new matrix. Was taken for a copy: grad d/dx 0.0
        # for 25.0 of `v = np.diagonal(B)`, `B[1, 1] = 5 * x`, `np.sum(v * v)`. It counts in forward mode too
        # (renames_only), which follows other views: Numba's np.diag copies, and jvp under jit=True gave the value
        # 17.0 for 7.25, the derivative 0.0 for 25.0, h29d)
        return value.args[0].id
    if renames_only:
        if (isinstance(value, gast.Call) and dotted_name(value.func) in LAYOUT_CALLS and value.args
                and isinstance(value.args[0], gast.Name)):
            # (np.ascontiguousarray(t) of a transpose is a copy, of a C-ordered array t itself: written as np.asarray,
            # jvp read a write into t's matrix made after the call, which NumPy's copy does not see: value 44.98 for
            # 32.38, derivative 86.87 for 72.60, h30b)
            return value.args[0].id
        if (isinstance(value, gast.Call) and dotted_name(value.func) == "rt.reshape_like" and len(value.args) == 2
                and isinstance(value.args[1], gast.Name) and not is_scalar(kinds.get(value.args[1].id))
                and not _gathered(value.args[0], gathers)):
            # (np.flip(x) of every axis, written out as rt.reshape_like(np.ravel(x)[::-1], x) (rules/composites.py):
            # NumPy's flip is a view of x, the ravel one only where x is C-contiguous. Forward mode, which follows
            # views, read the old values after a write into x through its transpose: jvp's value 40.0 for f's 37.5,
            # the derivative 0.0 for 25.0, h29d. np.roll(x)'s, rt.reshape_like(np.take(x, ...), x), is a new array:
            # it was declined alike, h30c)
            return value.args[1].id
        return None
    if isinstance(value, gast.Attribute) and value.attr == "T" and isinstance(value.value, gast.Name):
        return value.value.id
    if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and _basic(value.slice, kinds):
        k = kinds.get(name)
        sliced = any(isinstance(n, gast.Slice) for n in walk(value.slice))
        return value.value.id if sliced or is_array(k) else None
    if (isinstance(value, gast.Call) and dotted_name(value.func) in _VIEW_CALLS and value.args
            and isinstance(value.args[0], gast.Name)):
        return value.args[0].id
    if (isinstance(value, gast.Call) and dotted_name(value.func) in ("rt.astype", "rt.cast") and value.args
            and isinstance(value.args[0], gast.Name) and (value.args[0].id in asarrays or _no_copy(value))):
        return value.args[0].id
    return None


def _gathered(e, gathers) -> bool:
    """Whether `e` is np.take(...) or a name bound to one (`gathers`): a new array, no view."""
    if isinstance(e, gast.Name):
        return e.id in gathers
    return isinstance(e, gast.Call) and dotted_name(e.func) == "np.take"


def gathered_names(fn) -> frozenset:
    """Names bound to np.take(...) in `fn`."""
    return frozenset(s.targets[0].id for s in walk_statements([fn]) if isinstance(s, gast.Assign)
                     and isinstance(s.targets[0], gast.Name) and _gathered(s.value, ()))


def _diagonal_view(value, kinds) -> bool:
    """`np.diag(b)` of an array `b` whose rank is not known to be 1 (canonicalize writes np.diagonal and b.diagonal()
    so): a view of b's diagonal in NumPy, a copy under Numba."""
    return (isinstance(value, gast.Call) and dotted_name(value.func) == "np.diag" and bool(value.args)
            and isinstance(value.args[0], gast.Name) and ndim(kinds.get(value.args[0].id)) != 1)


def may_share_memory(value, name, kinds, array=False) -> bool:
    """Whether `name = value` may bind memory another name already sees (a second name, a view, np.asarray(x));
    `array`: `name` is known to be an array (it is written into), whatever `kinds` says."""
    kinds = kinds or {}
    if array and not is_array(kinds.get(name)):
        kinds = {**kinds, name: Kind.array(None, None)}
    return view_source(value, name, kinds) is not None


def asarray_names(fn) -> frozenset:
    """Names bound to np.asarray(v) in `fn`."""
    return frozenset(s.targets[0].id for s in walk_statements([fn]) if isinstance(s, gast.Assign)
                     and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Call)
                     and dotted_name(s.value.func) == "np.asarray")


def memory_roots(fn, kinds, renames_only=False) -> dict:
    """name -> the name whose memory it may share (itself when it views nothing).

    SSA's own copies (branch merges, loop phis) join two versions of one variable, which the
    derivative passes follow; they count only when they pass on a view of another array."""
    source, versions = {}, []
    asarrays, gathers = asarray_names(fn), gathered_names(fn)
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            src = view_source(s.value, s.targets[0].id, kinds, renames_only, asarrays, gathers)
            if src is None:
                continue
            if anno.get(s, anno.MERGE) or anno.get(s, anno.PHI):
                versions.append((s.targets[0].id, src))
            else:
                source[s.targets[0].id] = src
    grew = True
    while grew:
        grew = False
        for name, src in versions:
            if name not in source and src in source:
                source[name] = src
                grew = True

    def root(n):
        path = []
        while n in source and n not in path:
            path.append(n)
            n = source[n]
        if n in path:     # a cycle (a swap in a loop: `b2 = a; a = b`, the phis carrying each to the other): one
            return min(path[path.index(n):])    # root for all of it, whichever name the walk started from
        return n
    return {n: root(n) for n in set(source) | set(source.values())}



def _no_copy(cast) -> bool:
    """Whether the cast `rt.astype(x, dtype, False)` is resolve's of `x.astype(dtype, copy=False)` or `np.asarray(x,
    dtype)`: x itself where x has the dtype (runtime/casts.py)."""
    return len(cast.args) == 3 and isinstance(cast.args[2], gast.Constant) and cast.args[2].value is False


def sharing_groups(fn) -> dict:
    """name -> one name standing for every name whose memory it may share, before kinds are known (cse runs before
    them): a second name, `.T`, a view call, an index of basic items whatever the ranks (`row = M[0]` is a view of a
    matrix, a number of a vector: counted either way), the names in a tuple or list display and the arrays a list
    holds (`rt.push(s, x)`, read back by `rt.pop(s)` or `s[-1]`), SSA's merges and loop copies. Wider than
    memory_roots, which needs kinds: a write into one name of a group changes what the reads of every other name
    of it give (`b = buf; y = b[0]; buf[0] = x; z = b[0]`: z is not y; merged, the value and gradient were 0.0
    for 2.25 and 3.0, h23c)."""
    parent: dict = {}

    def find(n):
        while parent.get(n, n) != n:
            parent[n] = parent.get(parent[n], parent[n])
            n = parent[n]
        return n

    def join(a, b):
        ra, rb = find(a), find(b)
        parent.setdefault(ra, ra)
        if ra != rb:
            parent[rb] = ra
    asarrays = asarray_names(fn)
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            name, v = s.targets[0].id, s.value
            src = view_source(v, name, {}, asarrays=asarrays)
            if src is None and isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) and _basic(v.slice, {}):
                src = v.value.id
            if src is None and isinstance(v, gast.Call):
                src = _list_of(v, "rt.pop", "pop")
            if src is not None:
                join(name, src)
            elif isinstance(v, (gast.Tuple, gast.List)):
                for e in v.elts:
                    if isinstance(e, gast.Name):
                        join(name, e.id)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and _list_of(s.value, "rt.push", "append"):
            for n in walk(s.value):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                    join(_list_of(s.value, "rt.push", "append"), n.id)
    return {n: find(n) for n in parent}


def _list_of(call, helper: str, method: str):
    """The list `call` pushes to or pops from (`rt.push(s, x)` / `s.append(x)`, `rt.pop(s)` / `s.pop()`), else None."""
    if dotted_name(call.func) == helper and call.args and isinstance(call.args[0], gast.Name):
        return call.args[0].id
    f = call.func
    if isinstance(f, gast.Attribute) and f.attr == method and isinstance(f.value, gast.Name):
        return f.value.id
    return None


_READ_ONLY_RESULTS = {"np.broadcast_to", "np.isclose"}


def read_only_names(fn, kinds) -> set:
    """The names whose arrays may be read-only under Numba: np.broadcast_to's results, np.isclose's (of two
    arrays Numba's is a read-only view of a broadcast: a stack typed writable from it did not compile, Numba's
    AssertionError in its list cast, h28a), the module's arrays (names `fn` reads but neither binds nor takes as
    parameters: Numba bakes them in read-only), and the views and copies of either (jitted code's typed stacks
    of them: transforms/stacks.py)."""
    bound = {a.id for a in fn.args.args if isinstance(a, gast.Name)}
    edges, read_only = [], set()
    for s in walk_statements(fn.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            continue
        bound.add(s.targets[0].id)
        if isinstance(s.value, gast.Call) and dotted_name(s.value.func) in _READ_ONLY_RESULTS:
            read_only.add(s.targets[0].id)
            continue
        src = view_source(s.value, s.targets[0].id, kinds)
        if src is not None:
            edges.append((s.targets[0].id, src))
    grew = True
    while grew:
        grew = False
        for name, src in edges:
            if name not in read_only and (src in read_only or src not in bound):
                read_only.add(name)
                grew = True
    return read_only


def sharing_written_memory(fn, kinds=None) -> set:
    """Names that may share memory with an array written in place (the written names included): by a
    subscript write, or by an augmented assignment (`a += v`, desugared to `a2 = a1 + v`; counted where
    `a1` is an array or its kind is not known); and the versions SSA's branch merges and loop copies pass on
    to one of those (`d_a = rt.zeros_like(a)` in a branch, `d_a[1] += g` after it: the array of the branch's
    version is the one written, so common-subexpression elimination must not give it to another name too)."""
    kinds = kinds or {}
    written = {n.targets[0].value.id for n in walk_statements(fn.body)
               if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)
               and isinstance(n.targets[0].value, gast.Name)}
    written |= {n.value.left.id for n in walk_statements(fn.body)
                if isinstance(n, gast.Assign) and in_place(n, kinds, unknown=True)}
    written |= _written_by_helpers(fn)
    if not written:
        return written      # (nothing written in place: no name shares written memory; memory_roots not needed)
    passed_on = {}   # SSA copy target -> the versions it copies
    for n in walk_statements(fn.body):
        if ssa_copy(n) is not None:
            passed_on.setdefault(n.targets[0].id, set()).add(n.value.id)
    todo = list(written)
    while todo:
        for v in passed_on.get(todo.pop(), set()) - written:
            written.add(v)
            todo.append(v)
    roots = memory_roots(fn, kinds)
    hit = {roots.get(w, w) for w in written}
    return written | {n for n, r in roots.items() if r in hit}


def _written_by_helpers(fn) -> set:
    """The names passed to a runtime helper that writes into an argument (`rt.index_add(d_p, idx, g)` in a
    gradient differentiated again): all of its name arguments, as the helpers differ in which one they write."""
    return {a.id for n in walk_statements(fn.body)
            if isinstance(n, (gast.Expr, gast.Assign)) and isinstance(n.value, gast.Call)
            and dotted_name(n.value.func) in WRITES_INTO
            for a in n.value.args if isinstance(a, gast.Name)}



def in_place(s, kinds, unknown=False) -> bool:
    """`a2 = a1 + v` made from the user's `a += v` (desugar) where `a` is an array: NumPy adds into a1's memory.
    `unknown`: whether to count it where a1's kind is not known."""
    v = s.value
    return (anno.get(s, anno.IN_PLACE) and isinstance(v, gast.BinOp) and isinstance(v.left, gast.Name)
            and (is_array(kinds.get(v.left.id)) or (unknown and kinds.get(v.left.id) is None)))


# ---- results that may be an argument's memory --------------------------------------------------------------
# calls whose result is a new array whatever their arguments (a runtime helper not listed here may return its first
# argument as it is, rt.unbroadcast(g, x) where g has x's shape, or a view of it, rt.reshape_like, rt.slice_axis)
_FRESH_RT = {"rt.copy", "rt.zeros_like", "rt.broadcast_to_like", "rt.sum_grad", "rt.mean_grad", "rt.prod_grad",
             "rt.dot", "rt.einsum_matmul", "rt.matmul_grad_x", "rt.matmul_grad_y", "rt.array", "rt.stack_array", "rt.elementwise"}
# NumPy's calls whose result may be their first argument or a view of it, beyond _VIEW_CALLS
_NUMPY_VIEWS = _VIEW_CALLS | {"np.ascontiguousarray", "np.asfortranarray", "np.squeeze", "np.diagonal", "np.diag", "np.real",
                              "np.imag", "np.atleast_3d", "np.flip", "np.fliplr", "np.flipud", "np.asanyarray"}


def _may_be(value) -> list:
    """The names whose memory the value of the expression `value` may be (itself, or a view of it): a name, `.T`, an
    index, a view call, a runtime helper not known to make a new array (its first argument), a method of an array
    other than copy, a call of a function of the module (each argument), either arm of a conditional expression."""
    if isinstance(value, gast.Name):
        return [value.id]
    if isinstance(value, gast.Attribute):
        return _may_be(value.value)
    if isinstance(value, gast.Subscript):
        return _may_be(value.value)
    if isinstance(value, gast.IfExp):
        return _may_be(value.body) + _may_be(value.orelse)
    if isinstance(value, (gast.Tuple, gast.List)):
        return [n for e in value.elts for n in _may_be(e)]
    if isinstance(value, gast.Call):
        name = dotted_name(value.func) or ""
        first = value.args[:1]
        if name.startswith("np.") or name.startswith("math.") or name.startswith("scipy."):
            return _may_be(first[0]) if name in _NUMPY_VIEWS and first else []
        if name.startswith("rt."):
            return [] if name in _FRESH_RT else [n for a in first for n in _may_be(a)]
        if isinstance(value.func, gast.Attribute):    # x.reshape(...), x.copy()
            return [] if value.func.attr == "copy" else _may_be(value.func.value)
        return [n for a in value.args for n in _may_be(a)]    # a function of the module: its result may be any
    return []


def argument_memory(fn) -> set:
    """The names of `fn` that may be one of its parameters' arrays or a view of one (flow-insensitive: every binding of
    a name counts, loops' targets and list stacks too)."""
    links: dict = {}

    def link(name, value):
        links.setdefault(name, set()).update(_may_be(value))
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                for n in walk(t):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        link(n.id, s.value)
        elif isinstance(s, gast.For):
            for n in walk(s.target):
                if isinstance(n, gast.Name):
                    link(n.id, s.iter)
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            stack = _list_of(s.value, "rt.push", "append")
            if stack is not None:
                for a in s.value.args[1:] if dotted_name(s.value.func) == "rt.push" else s.value.args:
                    link(stack, a)
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and _list_of(s.value, "rt.pop", "pop"):
            for t in s.targets:
                if isinstance(t, gast.Name):
                    link(t.id, load(_list_of(s.value, "rt.pop", "pop")))
    shared = {a.id for a in fn.args.args}
    grew = True
    while grew:
        grew = False
        for name, sources in links.items():
            if name not in shared and sources & shared:
                shared.add(name)
                grew = True
    return shared


def fresh_results(fn, derivatives, kinds=None):
    """`fn` (the entry of a derivative: what the user calls) with each derivative it returns that may be the memory of
    one of its arguments (the tangent or cotangent passed in, an input) copied at the return: `rt.copy(d_result)`.
    NumPy's functions and JAX's transforms give new arrays; the generated code may pass one on as it is (the jvp of
    `return x.T` is `np.transpose(d_x)`, of `x * 1.0` d_x itself, the vjp of `return x` the cotangent g), and the
    caller writing into the result would change its own array. `derivatives(ret)`: the part of the return's value
    that is derivatives (the values are left as they are: they are what the function returns, a view of x where it
    returns one). A name returned that is bound once, to a tuple display, is written out at the return where one of
    its items needs a copy (where a name it reads is bound again, the copy is made in the display itself). Scalars
    (of known kind) are left as they are."""
    ret = fn.body[-1] if fn.body and isinstance(fn.body[-1], gast.Return) else None
    part = derivatives(ret.value) if ret is not None and ret.value is not None else None
    if part is None:
        return fn
    kinds = kinds or {}
    shared = argument_memory(fn)
    bindings: dict = {}     # name -> the statements binding it
    for s in walk_statements(fn.body):
        if isinstance(s, (gast.Assign, gast.For)):
            for t in (s.targets if isinstance(s, gast.Assign) else [s.target]):
                for n in walk(t):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                        bindings.setdefault(n.id, []).append(s)
    written_out = []

    def display(e):
        """The tuple display a name is bound to, once, else None."""
        b = bindings.get(e.id, ()) if isinstance(e, gast.Name) else ()
        if len(b) == 1 and isinstance(b[0], gast.Assign) and b[0].targets[0] is not None \
                and isinstance(b[0].targets[0], gast.Name) and isinstance(b[0].value, gast.Tuple):
            return b[0]
        return None

    def fresh(e):
        if isinstance(e, gast.Tuple):
            elts = [fresh(x) for x in e.elts]
            return e if all(a is b for a, b in zip(elts, e.elts)) else gast.Tuple(elts=elts, ctx=gast.Load())
        at = display(e)
        if at is not None:
            written = fresh(at.value)
            if written is at.value:
                return e
            if all(len(bindings.get(n.id, ())) <= 1 for n in walk(at.value) if isinstance(n, gast.Name)):
                written_out.append(e.id)
                return copy.deepcopy(written)
            at.value = written      # (a name it reads is bound again before the return: copied where it is made)
            return e
        if not set(_may_be(e)) & shared:
            return e
        if isinstance(e, gast.Name) and is_scalar(kinds.get(e.id)):
            return e
        return call("rt.copy", e)
    new = fresh(part)
    if new is part:
        return fn
    ret.value = _replaced(ret.value, part, new)
    read = {n.id for n in walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
    gone = set(written_out) - read     # (the display's binding, read by the return alone)
    fn.body = [s for s in fn.body if not (isinstance(s, gast.Assign) and len(s.targets) == 1
                                          and isinstance(s.targets[0], gast.Name) and s.targets[0].id in gone)]
    return fn


def _replaced(value, part, new):
    if value is part:
        return new
    if isinstance(value, gast.Tuple):
        return gast.Tuple(elts=[_replaced(e, part, new) for e in value.elts], ctx=gast.Load())
    return value
