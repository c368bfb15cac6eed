"""Views on the device: every array of a lowered function lives in its own buffer, so `c = b[1:]`, `t = m.T` or
`d = b` make copies there, where NumPy (and the CPU code srcdiff generated) make views of b's memory.

The two agree unless memory is written in place while a view of it made before the write is read after it (the
view sees the write in NumPy, not on the device). Reverse mode declines such programs for the user's own code
(transforms/aliasing.py), but forward mode follows views (a view's tangent is the same view of the tangent), so
a jvp or hvp of `c = b[1:]; c[0] = x; return np.sum(b)` reaches the lowering: `check_views` declines it at the
user's line instead of computing b without the write.

A stack of arrays (reverse mode saving an array each loop iteration) is no such name: NumPy's list holds the
array pushed, the device a copy of its values, yet the two agree where it is popped. The backward sweep undoes
every write of the forward sweep in reverse order (each through the name it was made through), so when it pops
the entry pushed at a point of the forward sweep, NumPy's array holds again what it held at that point: what the
device copied there. A write after the push, under any name, is undone before the pop on both; a push of a name
the device holds stale (written through another name since it was bound) differs in those writes only, which are
undone through the other name before any read of the popped array that the forward sweep did not already make of
the stale name (declined there). The swapped buffers of CUDA fuzz --device 1002073, 1002097 and
tests/test_cuda_edges.py's saved-then-written cases agree with the CPU and central differences. What stays
declined is a write through a popped array read through another name that may share its memory (NumPy's write
changes it, the device's does not): the pop gives the name the memory of what the stack may hold.

The analysis is flow-sensitive over the function's structured tree: `share` maps each array name to the names
that may share its memory, `stale` the names whose memory a write through another name changed after they were
bound. A read of a stale name is declined; rebinding a name clears it. Branches join; loop bodies run twice (a
view bound in one iteration and read in the next)."""
from __future__ import annotations

import ast

from ..transforms.shape_reads import SHAPE_ATTRS, SHAPE_READS
from .common import dotted

# calls that may return (a view of) their first argument: NumPy's views, and srcdiff runtime helpers that return
# their argument unchanged where no work is needed (rt.unbroadcast of a gradient already of the right shape)
VIEW_CALLS = {"np.transpose", "rt.transpose", "np.reshape", "rt.reshape", "np.ravel", "rt.reshape_like", "rt.expand_dims",
              "np.expand_dims", "rt.squeeze", "np.squeeze", "np.asarray", "np.atleast_1d", "np.atleast_2d",
              "rt.unbroadcast", "rt.atleast_3d", "np.swapaxes", "np.moveaxis", "np.ascontiguousarray",
              "np.asfortranarray"}


def shape_reads(e) -> set:
    """The ids of the Name nodes in `e` whose shape alone is read (`rt.zeros_like(b)`, `b.shape`): a write in place
    changes no shape, so a stale name read there reads what the device's copy holds too."""
    found = set()
    for n in ast.walk(e):
        if isinstance(n, ast.Call) and dotted(n.func) in SHAPE_READS:
            found |= {id(n.args[k]) for k in SHAPE_READS[dotted(n.func)]
                      if k < len(n.args) and isinstance(n.args[k], ast.Name)}
        elif isinstance(n, ast.Attribute) and n.attr in SHAPE_ATTRS and isinstance(n.value, ast.Name):
            found.add(id(n.value))
    return found


def _basic(idx) -> bool:
    """An index of slices, integer scalars and None only: NumPy gives a view."""
    parts = idx.elts if isinstance(idx, ast.Tuple) else [idx]
    return all(not isinstance(p, (ast.List, ast.Tuple)) for p in parts)


class ViewCheck:
    """check_views' state walk over one function (`low`: its FunctionLowering, for shapes and fail)."""

    def __init__(self, low):
        self.low = low
        self.at = None          # the block (its statement list) the walk is in
        self.pushes = {}        # id of a block -> [(stack, the array name pushed)] of its pushes, in order
        self.pairs = {}         # frozenset of two stacks -> whether every push of both in one block pushed distinct arrays
        self.pops = {}          # id of a block -> {name: the stack it was popped from} of its pops, while bound so

    def is_array(self, name):
        return name in self.low.shape and name not in self.low.tuples

    def listed(self, idx) -> bool:
        """`idx` holds an index list (low.index_lists): NumPy's `a[idx]` is a copy, as the device's."""
        parts = idx.elts if isinstance(idx, ast.Tuple) else [idx]
        return any(isinstance(p, ast.Name) and p.id in self.low.index_lists for p in parts)

    def source(self, value):
        """The array name `target = value` may view, or None."""
        v = value
        if isinstance(v, ast.Name):
            return v.id if self.is_array(v.id) else None
        if isinstance(v, ast.Attribute) and v.attr == "T" and isinstance(v.value, ast.Name):
            return v.value.id if self.is_array(v.value.id) else None
        if isinstance(v, ast.Subscript) and isinstance(v.value, ast.Name) and self.is_array(v.value.id) \
                and _basic(v.slice) and not self.listed(v.slice):
            return v.value.id
        if isinstance(v, ast.Call) and dotted(v.func) in VIEW_CALLS and v.args and isinstance(v.args[0], ast.Name):
            return v.args[0].id if self.is_array(v.args[0].id) else None
        return None

    # ---- state: (share, stale) ----------------------------------------------------------------------------
    @staticmethod
    def copy(state):
        share, stale = state
        return {k: set(v) for k, v in share.items()}, dict(stale)

    @staticmethod
    def join(a, b):
        share = {k: set(v) for k, v in a[0].items()}
        for k, v in b[0].items():
            share.setdefault(k, set()).update(v)
        stale = dict(a[1])
        for k, v in b[1].items():
            stale.setdefault(k, v)
        return share, stale

    def reads(self, nodes, state):
        for node in nodes:
            if node is None:
                continue
            shapes = shape_reads(node)
            for n in ast.walk(node):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in state[1] and id(n) not in shapes:
                    write, target = state[1][n.id]
                    line = self.low.p.cited_line(getattr(write, "lineno", None))
                    target = self.as_written(write, target)
                    if self.low.p.spell(n.id) in (self.low.p.spell(target), target):   # (one of the user's names)
                        self.low.fail(n, f"`{target}` is written in place {f'at line {line} ' if line else ''}"
                                         "while an array it named at another point (a swap or a second name in a "
                                         "loop) is read afterwards: device code keeps each array in its own buffer "
                                         "(a view is a copy there)",
                                      "take a copy (np.copy(...)) where the swap or the second name binds the array")
                    self.low.fail(n, f"`{n.id}` shares memory with `{target}`, which is written in place "
                                     f"{f'at line {line} ' if line else ''}while `{n.id}` is read afterwards: "
                                     "device code keeps each array in its own buffer (a view is a copy there)",
                                  f"make `{n.id}` a copy where it is created (np.copy(...)), or index `{target}` "
                                  "again after the write")

    def as_written(self, write, target) -> str:
        """`target`, the array the statement `write` writes in place, named as the user's line it comes from writes
        it: generated code writes through the version of another name where a swap made the two one array
        (`b, c = c, new` / `b[j] = ...` writes through a version of `c`), and "`c` is written in place" of a line
        that writes b sent the user looking for a write they never made (CUDA fuzz --device 1002073, 1002097)."""
        text = self.low.p.user_site(getattr(write, "lineno", None))[1]
        try:
            st = ast.parse(text.split("   (in ")[0].strip()).body[0] if text else None
        except SyntaxError:
            st = None
        t = st.targets[0] if isinstance(st, ast.Assign) else getattr(st, "target", None)
        base = t.value if isinstance(t, ast.Subscript) else None
        return base.id if isinstance(base, ast.Name) else target

    def array_stack(self, e):
        """The stack of arrays `e` pops (`stk.pop()`), or None."""
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "pop" and \
                isinstance(e.func.value, ast.Name) and e.func.value.id in self.low.stack_shapes:
            return e.func.value.id
        return None

    def push(self, stk, value, state):
        """`stk.append(x)` of an array: NumPy's list holds x's memory itself (the device, a copy of its values), so
        the stack may share the memory of x and of the names that share x's; a push reads no value (a push of a
        stale x is no read: what is popped is read, if at all, after the writes x missed are undone, module
        docstring; the gradient of swaps in a loop pushes each carried array: CUDA fuzz --device 1002104)."""
        share = state[0]
        if isinstance(value, ast.Name) and self.is_array(value.id):
            group = {value.id} | share.get(value.id, set())
            for other, name in self.pushes.setdefault(id(self.at), []):
                if other != stk:        # (two arrays pushed in one block: distinct ones, as a swap's two buffers?)
                    pair = frozenset((stk, other))
                    self.pairs[pair] = self.pairs.get(pair, True) and name != value.id and name not in group
            self.pushes[id(self.at)].append((stk, value.id))
            share.setdefault(stk, set()).update(group)
            for g in group:
                share.setdefault(g, set()).add(stk)

    def bind(self, name, value, state):
        share, stale = state
        for other in share.pop(name, ()):
            share.get(other, set()).discard(name)
        stale.pop(name, None)
        src = self.source(value) if value is not None and self.is_array(name) else None
        popped = self.pops.setdefault(id(self.at), {})
        popped.pop(name, None)
        stk = self.array_stack(value)
        src = stk or src
        if src is not None and src != name:
            group = {src} | share.get(src, set())
            if stk is not None:
                # Ping-pong buffers (`u, v = v, u` in a loop): reverse mode pushes both arrays in one block of an
                # iteration and pops both in one block of the backward loop's iteration. Where every such push
                # pushed two distinct arrays (neither shares the other's memory), the two popped in one block
                # (the k-th pops of each: the same forward iteration's) are distinct arrays too, in NumPy as on the
                # device: a write through one leaves the other as it is.
                group -= {other for other, st in popped.items() if self.pairs.get(frozenset((stk, st)))}
                popped[name] = stk
            share[name] = set(group)
            for g in group:
                share.setdefault(g, set()).add(name)

    def write(self, name, st, state):
        share, stale = state
        for other in share.get(name, ()):
            if other not in self.low.stack_shapes:     # (a stack's entries: as pushed once popped, docstring)
                stale[other] = (st, name)

    # ---- statements -----------------------------------------------------------------------------------------
    def block(self, body, state):
        outer, self.at = self.at, body
        self.pushes.pop(id(body), None)     # (each walk of a block: its own pushes and pops)
        self.pops.pop(id(body), None)
        try:
            for st in body:
                state = self.stmt(st, state)
            return state
        finally:
            self.at = outer

    def stmt(self, st, state):
        if isinstance(st, ast.If):
            self.reads([st.test], state)
            return self.join(self.block(st.body, self.copy(state)), self.block(st.orelse, self.copy(state)))
        if isinstance(st, (ast.For, ast.While)):
            self.reads([st.iter if isinstance(st, ast.For) else st.test], state)
            if isinstance(st, ast.For):
                self.bind(st.target.id, None, state)
            once = self.join(state, self.block(st.body, self.copy(state)))
            twice = self.join(once, self.block(st.body, self.copy(once)))
            return self.join(twice, self.block(st.orelse, self.copy(twice)))
        if isinstance(st, ast.Assign):
            t = st.targets[0]
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                self.reads([st.value, t.slice], state)
                self.write(t.value.id, st, state)
            else:
                self.reads([] if self.array_stack(st.value) else [st.value], state)   # (a pop: bind follows it)
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        self.bind(n.id, st.value if n is t else None, state)
            return state
        if isinstance(st, ast.AugAssign):
            t = st.target
            self.reads([st.value, ast.copy_location(ast.Name(t.id, ast.Load()), t) if isinstance(t, ast.Name)
                        else t], state)
            base = t.value if isinstance(t, ast.Subscript) else t
            if isinstance(base, ast.Name):
                if isinstance(t, ast.Subscript) or self.is_array(base.id):
                    self.write(base.id, st, state)
                else:
                    self.bind(base.id, None, state)
            return state
        call = st.value if isinstance(st, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "append" and \
                isinstance(call.func.value, ast.Name) and call.func.value.id in self.low.stack_shapes:
            self.push(call.func.value.id, call.args[0], state)
            return state
        self.reads([st], state)
        return state


def check_views(low, fn: ast.FunctionDef):
    """Decline (SrcdiffError at the user's line) a read of an array view whose memory was written in place through
    another name after the view was made: NumPy's result, which the device's copies would not give."""
    ViewCheck(low).block(fn.body, ({}, {}))
