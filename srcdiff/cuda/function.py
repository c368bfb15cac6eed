"""One generated function lowered to a device function: storage of its arrays, capacities of its stacks and
tapes, and the function's text."""
from __future__ import annotations

import ast

from ..errors import SrcdiffError
from .deadstores import drop_dead_stores
from .fusion import fuse_loops, merge_exits
from . import spelling
from .scalars import scalars
from .common import (NUMBA_DTYPE, DEVICE_ADVICE, is_none, dotted, index_lists, local_size, size, indent, Storage,
                     Lowered)
from .expressions import ExpressionLowering
from .host import HostEval, fold_shapes, range_length
from .infer import Inference
from .statements import StatementLowering
from .views import check_views


def _none_bound(fn) -> set:
    """Names `fn` binds to None, and the names copied from them (`r3 = r`: SSA's merges), transitively."""
    out = {t.id for st in ast.walk(fn) if isinstance(st, ast.Assign) and is_none(st.value)
           for t in st.targets if isinstance(t, ast.Name)}
    copies = [(st.value.id, st.targets[0].id) for st in ast.walk(fn) if isinstance(st, ast.Assign)
              and isinstance(st.value, ast.Name) and isinstance(st.targets[0], ast.Name)]
    grew = True
    while grew:
        grew = False
        for src, dst in copies:
            if src in out and dst not in out:
                out.add(dst)
                grew = True
    return out


class FunctionLowering(Inference, ExpressionLowering, StatementLowering):
    """Lower one generated function. `entry=True`: destination-passing entry; else a scalar helper."""

    def __init__(self, program, fn: ast.FunctionDef, specs: list, entry: bool, name: str):
        self.p, self.fn, self.entry, self.name = program, fn, entry, name
        self.specs = {s.name: s for s in specs}
        self.shape, self.dtype = {}, {}
        self.tuples = {}           # names bound to tuples of scalars -> their elements' dtype
        self.stacks, self.tapes = {}, {}
        self.tape_aliases = set()  # tapes bound only by copies of another (`t6 = t5`: a merge of forward mode's versions)
        self.stack_shapes = {}     # stack -> the shape of the arrays pushed onto it (a stack of numbers has none)
        self.placeholders = {}     # name -> (shape, dtype, statement) of its array placeholder (Inference._placeholder)
        self.storage: dict[str, Storage] = {}
        self.allocs: list[str] = []
        self.counter = 0
        self._prev_check = None
        self.fn = fn = fold_shapes(fn, {s.name: s.shape for s in specs if s.shape is not None},
                                   lambda name: not spelling.temporary(name, program.users))
        self.none_bound = _none_bound(fn)
        self.index_lists = index_lists(fn)     # (names of lists of integers written out: ExpressionLowering._view)
        self.host = HostEval(specs, program.consts)
        self.host.learn(fn.body)
        self.params = [a.arg for a in fn.args.args]
        for s in specs:
            if s.shape is not None:
                self.shape[s.name] = s.shape
            self.dtype[s.name] = s.dtype
        for k, v in program.global_arrays.items():
            self.shape[k], self.dtype[k] = program.global_shapes[k], "f"
            self.storage[k] = Storage(k, program.global_shapes[k])

    # ---- errors -----------------------------------------------------------------------------------
    def fail(self, node, msg, advice=None):
        if advice is None:
            advice = DEVICE_ADVICE
        lineno, text, filename = self.p.user_line(getattr(node, "lineno", None))
        where = f"\n    line {lineno}: {text}" if text else f"\n    line {lineno}" if lineno else ""
        raise SrcdiffError(f"cannot generate CUDA code for {self.p.user_name}: {self.p.spell(msg)}{where}",
                           filename or self.p.filename, lineno, self.p.spell(advice))

    def fresh(self, base):
        self.counter += 1
        return f"cu_{base}{self.counter}"

    # ---- capacities -------------------------------------------------------------------------------
    def _trip(self, loop):
        """Host bound on a loop's trip count (None if not known on the host)."""
        if isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call) and dotted(loop.iter.func) == "range":
            a = loop.iter.args
            expr = a[0] if len(a) == 1 else range_length(a)
            if expr is None:
                return None
            return self.host.max(ast.fix_missing_locations(ast.copy_location(expr, loop.iter)))
        return None

    def _bound(self, node, trip, what):
        mt = self.p.max_trip
        if trip is None and mt is None:
            self.fail(node, f"the trip count of {what} is not known before the launch",
                      "pass max_trip= to srcdiff.cuda.vmap: the most iterations any loop runs per example")
        if mt is not None:
            if trip is not None and trip > mt:
                self.fail(node, f"a loop runs {trip} iterations for some example but max_trip={mt}",
                          f"raise max_trip to at least {trip}")
            return mt
        return max(int(trip), 0)

    # ---- driver -------------------------------------------------------------------------------------
    def run(self) -> Lowered:
        self.infer()
        fn = self.fn
        check_views(self, fn)
        self.p_written = set()
        for st in self._walk(fn.body):
            tgts = st.targets if isinstance(st, ast.Assign) else [st.target] if isinstance(st, ast.AugAssign) else []
            for t in tgts:
                base = t.value if isinstance(t, ast.Subscript) else t
                if isinstance(base, ast.Name) and base.id in self.specs and self.specs[base.id].shape is not None:
                    self.p_written.add(base.id)
        returns = [st for st in self._walk(fn.body) if isinstance(st, ast.Return)]
        structure, outputs, dest = None, [], {}
        if self.entry:
            if not returns or any(r.value is None for r in returns):
                self.fail(fn, "the gradient returns nothing")
            leaves = []
            structure = self._leaves(returns[0].value, leaves)
            off = 0
            for k, e in enumerate(leaves):
                try:
                    s = self.info(e)[0]
                except Exception as ex:
                    self.fail(returns[0], f"result {spelling.shown(e)}: {ex}")
                if s == "tuple":
                    self.fail(returns[0], "nested results")
                outputs.append((off, s))
                if isinstance(e, ast.Name) and s is not None and e.id not in self.specs and e.id not in dest and \
                        all(self._leaf_name(r, k) == e.id for r in returns):
                    dest[e.id] = off
                off += size(s)
            self.outputs = outputs
        # storage
        for name, shape in self.shape.items():
            if name in self.p.global_arrays:
                continue
            if name in self.specs and name not in self.p_written:
                self.storage[name] = Storage(name, shape)
            elif name in dest:
                self.storage[name] = Storage("cu_out", shape, dest[name], True)
            else:
                self.storage[name] = Storage(name, shape)
                dt = "int64" if self.dtype.get(name) == "i" else "float64"
                if name in self.specs:
                    src = f"cu_arg_{name}"
                    self.allocs.append(f"{name} = cuda.local.array({local_size(shape)}, {dt})")
                    self.allocs.append(f"for cu_i in range({size(shape)}):")
                    self.allocs.append(f"    {name}[cu_i] = {src}[cu_i]")
                else:
                    self.allocs.append(f"{name} = cuda.local.array({local_size(shape)}, {dt})")
        # stacks and tapes
        self.stack_cap, self.tape_cap = {}, {}
        self.tape_allocated, self.tape_copies = set(), []
        self._capacities(fn.body, [])
        self.tape_aliases -= self.tape_allocated     # (bound by copies only: no array of its own)
        while any(t not in self.tape_cap and src in self.tape_cap for t, src in self.tape_copies):
            for t, src in self.tape_copies:           # a copy or a tangent tape has the size of the tape it copies
                if t not in self.tape_cap and src in self.tape_cap:
                    self.tape_cap[t] = self.tape_cap[src]
        for stk, cap in self.stack_cap.items():
            n = max(cap, 1) * local_size(self.stack_shapes.get(stk))
            self.allocs.append(f"{stk} = cuda.local.array({n}, {NUMBA_DTYPE[self.stacks[stk] or 'f']})")
        for tp, cap in self.tape_cap.items():
            if tp not in self.tape_aliases:
                self.allocs.append(f"{tp} = cuda.local.array({max(cap, 1)}, {NUMBA_DTYPE[self.tapes[tp] or 'f']})")
        self.allocs, body = drop_dead_stores(self.allocs, self.stmts(fn.body))
        self.allocs, body = scalars(self.allocs, merge_exits(fuse_loops(body)),
                                    {n for n, d in self.dtype.items() if d != "f"})
        params = [f"cu_arg_{p}" if p in self.p_written else p for p in self.params]
        if self.entry:
            params += ["cu_out", "cu_col"]
        lines = [f"def {self.name}({', '.join(params)}):"] + indent(self.allocs + body)
        return Lowered(self.name, lines, outputs, structure)

    def _leaf_name(self, ret, k):
        leaves = []
        self._leaves(ret.value, leaves)
        return leaves[k].id if k < len(leaves) and isinstance(leaves[k], ast.Name) else None

    def _capacities(self, body, loops):
        for st in body:
            if isinstance(st, (ast.For, ast.While)):
                self._capacities(st.body, loops + [st])
                self._capacities(st.orelse, loops + [st])
            elif isinstance(st, ast.If):
                self._capacities(st.body, loops)
                self._capacities(st.orelse, loops)
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and \
                    isinstance(st.value.func, ast.Attribute) and st.value.func.attr == "append":
                stk = st.value.func.value.id
                cap = 1
                for lp in loops:
                    cap *= self._bound(lp, self._trip(lp), "this loop")
                self.stack_cap[stk] = self.stack_cap.get(stk, 0) + cap
            elif isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and st.targets[0].id in self.tapes \
                    and not is_none(st.value):
                if isinstance(st.value, ast.Name):          # a copy (of another tape, or of a placeholder)
                    self.tape_copies.append((st.targets[0].id, st.value.id))
                    self.tape_aliases.add(st.targets[0].id)
                    continue
                self.tape_allocated.add(st.targets[0].id)
                like = self._tape_like(st.value)
                if like is not None:                        # (its size once the copies' are known: run)
                    self.tape_copies.append((st.targets[0].id, like))
                    continue
                trip = self.host.max(st.value.args[0])
                self.tape_cap[st.targets[0].id] = self._bound(st, trip, "this loop")
