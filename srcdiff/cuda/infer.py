"""Shapes and dtypes of the expressions of a generated function, and which of its names are stacks and tapes."""
from __future__ import annotations

import ast

from ..transforms import annotations as anno
from ..transforms.astutil import nested_blocks
from ..transforms.logdomain_calls import HELPERS, PRODUCTS
from .spelling import called, shown
from .common import (Unknown, ARRAY_LITERALS, AXES_ORDER_CALLS, BOOLEAN, CAST_ADVICE, CAST_CALLS, ELEMENTWISE,
                     LAYOUT_CALLS,
                     INT_CALLS, REDUCTIONS, REDUCTION_GRADS, dotted, size, axes_order, cast_kind, indexed, broadcast_shapes,
                     is_none, module_constant, none_test)


# the calls of the log-domain products (transforms/logdomain.py) and of their adjoints: no device lowering
LOG_DOMAIN = PRODUCTS | {h for roles in HELPERS.values() for h in roles.values()}


class Inference:
    """Part of FunctionLowering (srcdiff/cuda/function.py): the shape and dtype of every name and
    expression of the function, and which names are stacks (lists pushed and popped) and tapes."""

    def info(self, e):
        """(shape or None, dtype) of an expression; raises Unknown for names not yet typed."""
        if isinstance(e, ast.Constant):
            v = e.value
            if isinstance(v, bool):
                return None, "b"
            if isinstance(v, int):
                return None, "i"
            if isinstance(v, float):
                return None, "f"
            raise ValueError(f"constant {v!r}")
        if isinstance(e, ast.Name):
            if e.id in self.tuples:
                return "tuple", None
            if e.id in self.dtype:
                return self.shape.get(e.id), self.dtype[e.id]
            if e.id in self.p.consts:
                v = self.p.consts[e.id]
                return (None, "f") if isinstance(v, float) else (None, "i") if not isinstance(v, bool) else (None, "b")
            raise Unknown(e.id)
        if isinstance(e, ast.BinOp):
            (sa, da), (sb, db) = self.info(e.left), self.info(e.right)
            if isinstance(e.op, ast.MatMult):
                return self._matmul_shape(sa, sb), "f"
            dt = "f" if isinstance(e.op, ast.Div) or "f" in (da, db) else "i"
            return broadcast_shapes(sa, sb), dt
        if isinstance(e, ast.UnaryOp):
            s, d = self.info(e.operand)
            return s, ("b" if isinstance(e.op, ast.Not) else ("i" if d == "b" else d))
        if isinstance(e, ast.Compare):
            if none_test(e) is not None:
                return None, "b"
            shapes = [self.info(x)[0] for x in [e.left] + e.comparators]
            if "tuple" in shapes:       # shapes compared (`np.shape(d_t) != np.shape(t)`: fixed on the device)
                if not all(isinstance(op, (ast.Eq, ast.NotEq)) for op in e.ops) or set(shapes) != {"tuple"}:
                    raise ValueError(f"the comparison {shown(e)} of a tuple")
                return None, "b"
            s = None
            for x in shapes:
                s = broadcast_shapes(s, x)
            return s, "b"
        if isinstance(e, ast.BoolOp):
            return None, "b"
        if isinstance(e, ast.IfExp):
            (sa, da), (sb, db) = self.info(e.body), self.info(e.orelse)
            if sa != sb:
                raise ValueError("branches of different shapes")
            return sa, ("f" if "f" in (da, db) else da)
        if isinstance(e, ast.Subscript):
            return self._subscript_info(e)
        if isinstance(e, ast.Attribute):
            if module_constant(e) is not None:
                return None, "f"
            if e.attr == "T":
                s, d = self.info(e.value)
                return (tuple(reversed(s)) if s else s), d
            if e.attr in ("size", "ndim"):
                return None, "i"
            if e.attr == "shape" and self.info(e.value)[0] not in (None, "tuple", "list"):
                return "tuple", "i"     # (fixed: a name rebound keeps its shape on the device)
            raise ValueError(f"attribute .{e.attr}")
        if isinstance(e, ast.Call):
            return self._call_info(e)
        if isinstance(e, ast.List) and not e.elts:
            return "list", None
        if isinstance(e, ast.Tuple):
            return "tuple", None
        raise ValueError(f"{type(e).__name__} expressions")

    def _matmul_shape(self, sa, sb):
        if sa is None or sb is None:
            return broadcast_shapes(sa, sb)
        if len(sa) == 1 and len(sb) == 1:
            return None
        if len(sa) == 2 and len(sb) == 1:
            return (sa[0],)
        if len(sa) == 1 and len(sb) == 2:
            return (sb[1],)
        if len(sa) == 2 and len(sb) == 2:
            return (sa[0], sb[1])
        raise ValueError("matrix products beyond 2-D")

    def _subscript_info(self, e):
        if isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            return None, "i"
        if isinstance(e.value, ast.Name) and e.value.id in self.tuples:
            return None, self.tuples[e.value.id]
        if isinstance(e.value, ast.Name) and e.value.id in self.tapes:
            if self.tapes[e.value.id] is None:
                raise Unknown(e.value.id)
            return None, self.tapes[e.value.id]
        base, dt = self.info(e.value)
        if base is None:
            raise ValueError("indexing a scalar")
        if base == "tuple":
            return None, "f"
        shape, _ = self._view(e, base, None)
        return (shape or None), dt

    def _call_info(self, e):
        name = dotted(e.func)
        args = e.args
        if name in self.p.helpers:
            return self.p.helper_info(self, name, e)
        if name in INT_CALLS:
            return None, "i"
        if name == "np.shape" and len(args) == 1:     # (a shape, fixed when the kernel is specialised)
            self.info(args[0])
            return "tuple", "i"
        if name in ("np.all", "np.any"):
            if self._axis(e) is not None:
                raise ValueError(f"{name} along an axis")
            self.info(args[0])
            return None, "b"
        if name in REDUCTIONS or name == "np.linalg.norm":
            ax = self._axis(e)
            s = self.info(args[0])[0]
            if ax is None or s is None:
                return None, "f"
            return tuple(n for d, n in enumerate(s) if d != ax % len(s)) or None, "f"
        if name in ("np.dot", "rt.dot", "np.matmul", "rt.einsum_matmul"):
            return self._matmul_shape(self.info(args[0])[0], self.info(args[1])[0]), "f"
        if name == "np.outer":
            return (size(self.info(args[0])[0]), size(self.info(args[1])[0])), "f"
        if name in ("rt.matmul_grad_x", "rt.matmul_grad_y"):
            k = 1 if name == "rt.matmul_grad_x" else 2
            return self.info(args[k])[0], "f"
        if name == "rt.outer_grad":     # (x's shape: the adjoint of x in np.outer(x, y))
            return self.info(args[1])[0], "f"
        if name in ("rt.zeros_like", "rt.unbroadcast", "rt.fit_like", "rt.sum_grad", "rt.mean_grad", "rt.broadcast_to_like",
                    "rt.reshape_like", "np.zeros_like", "np.ones_like", "np.empty_like",
                    "rt.prod_others_jvp") + REDUCTION_GRADS:
            like = args[0] if name in ("rt.zeros_like", "np.zeros_like", "np.ones_like", "np.empty_like") else args[1]
            return self.info(like)[0], "f"
        if name in ("rt.expand_dims", "np.expand_dims"):
            s, d = self.info(args[0])
            s = s or ()
            ax = self._axis_arg(e, 1) % (len(s) + 1)
            return s[:ax] + (1,) + s[ax:], d
        if name in AXES_ORDER_CALLS:
            s, d = self.info(args[0])
            return (tuple(s[k] for k in axes_order(e, len(s))) if s else s), d
        if name in ARRAY_LITERALS:
            return self._literal_info(e)
        if name in ("np.zeros", "np.ones", "np.empty", "np.full"):
            pos = 2 if name == "np.full" else 1                 # dtype by keyword or in its place
            dtype = [k.value for k in e.keywords if k.arg == "dtype"] + e.args[pos:pos + 1]
            return self._static_shape(e), ("i" if dtype and "int" in ast.unparse(dtype[0]) else "f")
        if name in ELEMENTWISE:
            s = None
            infos = [self.info(a) for a in args]
            for si, _ in infos:
                s = broadcast_shapes(s, si)
            if name in BOOLEAN:
                dt = "b"
            elif name in ("np.where", "rt.select"):
                dt = "f" if "f" in (infos[1][1], infos[2][1]) else infos[1][1]
            elif name in ("np.abs", "abs", "np.negative", "np.maximum", "np.minimum", "rt.max2", "rt.min2",
                          "max", "min", "np.square", "rt.copy", "np.copy", "np.clip"):
                dt = "f" if any(d == "f" for _, d in infos) else "i"
            else:
                dt = "f"
            return s, dt
        if name == "rt.exp_shifted" or name in LOG_DOMAIN:
            self.fail(e, "a log-domain product (srcdiff computes `logsumexp(v[:, None] + M, axis=0)` in a loop, M "
                         "unchanged by the loop, from a table of exp(M) made before it: rt.exp_shifted) whose table "
                         "is read by more than the products: device code computes them by their direct formula, "
                         "without the table (srcdiff/cuda/logdomain.py)",
                      "write that log-sum-exp as loops over M's entries in the function (its maximum, then the log "
                      "of the sum of exp(entry - maximum)), or compute it on the host and pass it in")
        if name in ("rt.stack_array", "rt.stack_zeros"):
            self.fail(e, "an array of a list built with appends or of a list comprehension (np.array(out), or the "
                         "items that max(...) / min(...) of a comprehension compare): its length is counted at run "
                         "time, and device code cannot allocate",
                      "fill a preallocated array instead (out = np.zeros(n); out[i] = v), n a size the host knows; "
                      "for max(...) / min(...) of a comprehension, keep the largest item in a loop (m = max(m, v))")
        if name == "rt.fstring":
            self.fail(e, "an f-string (device code prints with CUDA's printf, which takes numbers and constant text)",
                      "print the values themselves: print(\"s =\", s)")
        if name in CAST_CALLS:
            s, _ = self.info(args[0])
            return s, self.cast_to(e)
        if name in LAYOUT_CALLS:        # (x's values: of an array, its shape; NumPy makes a number an array (1,))
            s, d = self.info(args[0])
            if not isinstance(s, tuple):
                raise ValueError(f"{name}(...) of a number (NumPy makes it an array of shape (1,))")
            return s, d
        if name == "rt.written" and indexed(e) is not None:       # (dx[idx], idx an index list: _view)
            return self._subscript_info(indexed(e))
        if name == "rt.astype_grad":        # (v where the cast's result is a float, else zeros: v's shape)
            return self.info(args[0])[0], "f"
        raise ValueError(f"the call {called(name) if name else ast.unparse(e.func) + '(...)'}")

    def cast_to(self, e):
        """The kind rt.astype / rt.cast `e` casts to (cast_kind), or declined at e's line."""
        dtype = ([k.value for k in e.keywords if k.arg == "dtype"] + e.args[1:2])[:1]
        if not dtype and dotted(e.func) == "np.asarray":       # (np.asarray(x): x itself)
            return self.info(e.args[0])[1]
        kind = cast_kind(dtype[0]) if dtype else None
        if kind is None:
            text = ast.unparse(dtype[0]) if dtype else "a dtype"
            self.fail(e, f"a cast to {text} (.astype(...), or dtype= of an array constructor): device code computes "
                         "in float64, int64 and bool only", CAST_ADVICE)
        return kind

    def literal_elements(self, e):
        """The elements of `np.array((s1, s2, ...))` / `rt.array(...)`: a tuple or list written out."""
        if len(e.args) != 1 or not isinstance(e.args[0], (ast.Tuple, ast.List)) or not e.args[0].elts or \
                any(k.arg != "dtype" for k in e.keywords):
            raise ValueError(f"{dotted(e.func)}(...) of anything but a tuple or list of numbers (or of arrays of "
                             "one shape) written out")
        return e.args[0].elts

    def _nested_info(self, x):
        """Shape and dtype of an element of an array literal: a row written out (`((1, 2), (3, 4))`: of numbers, to
        any depth) has its length first."""
        if not isinstance(x, (ast.Tuple, ast.List)):
            return self.info(x)
        if not x.elts:
            raise ValueError("an array literal with an empty row")
        infos = [self._nested_info(y) for y in x.elts]
        if len({s for s, _ in infos}) != 1 or \
                infos[0][0] is not None and not isinstance(x.elts[0], (ast.Tuple, ast.List)):
            raise ValueError("an array literal whose rows hold arrays or rows of different lengths")
        dts = {d for _, d in infos}
        return (len(infos),) + (infos[0][0] or ()), ("f" if "f" in dts else "i" if "i" in dts else "b")

    def _literal_info(self, e):
        """Shape and dtype of an array literal: (n,) for n numbers, (n,) + s for n arrays of shape s or n rows
        written out."""
        infos = [self._nested_info(x) for x in self.literal_elements(e)]
        shapes = {s for s, _ in infos}
        if len(shapes) != 1 or shapes & {"tuple", "list"}:
            raise ValueError(f"{dotted(e.func)}(...) of values of different shapes")
        dts = {d for _, d in infos}
        dt = "f" if "f" in dts else "i" if "i" in dts else "b"
        for k in e.keywords:    # (dtype=np.float32 was taken for float64: rounded otherwise than NumPy)
            dt = cast_kind(k.value)
            if dt is None:
                self.fail(e, f"{dotted(e.func)}(..., dtype={shown(k.value)}): device code computes in float64, "
                             "int64 and bool only", CAST_ADVICE)
        return (len(infos),) + (shapes.pop() or ()), dt

    def _axis(self, e):
        ax = [k.value for k in e.keywords if k.arg == "axis"] or e.args[1:2]
        if not ax or (isinstance(ax[0], ast.Constant) and ax[0].value is None):
            return None
        try:                # (an int literal: `axis=-1` is a negation of one)
            value = ast.literal_eval(ax[0])
        except ValueError:
            value = None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError("a non-constant axis")

    def _static_shape(self, e):
        """The shape of `np.zeros(size)` / np.ones / np.empty / np.full: a size the host knows and that is the
        same for every example (an int, a tuple of them, or a name bound to one: `v1 = (2, 4); np.zeros(v1)`)."""
        arg = e.args[0] if e.args else None
        batched = {n for n, s in self.specs.items() if s.batched}
        shape = self.host.shape(arg, batched) if arg is not None else None
        if shape is None:
            self.fail(e, f"an array whose size ({shown(arg)}) is not fixed when the kernel is "
                         f"specialised (device code cannot allocate)",
                      "give the array a size that is the same for every example: a literal, the shape of an "
                      "array argument, or an integer argument passed with in_axes=None")
        return shape

    def infer(self):
        self._decline_zero_d()
        pending, stuck = None, None
        for _ in range(8):
            pending = []
            for st in self._walk(self.fn.body):
                try:
                    self._infer_stmt(st)
                except Unknown as u:
                    pending.append((st, u))
                except (ValueError, IndexError, KeyError, TypeError) as ex:
                    self.fail(st, f"unsupported on the device: {ex}")
            if not pending:
                self._type_placeholders()
                self._tape_placeholder_dtypes()
                return
            if len(pending) == stuck and not self._type_placeholders():
                break
            stuck = len(pending)
        st, u = pending[0]
        none = next((str(v) for _, v in pending if str(v) in self.none_bound), None)
        if none is not None:
            self.fail(st, f"{none} is None on some path", "device values are never None: keep a flag (a bool) "
                                                         "beside the value instead")
        self.fail(st, f"could not type {u}")

    def _decline_zero_d(self):
        """A 0-d array the function makes stays an array in the derivative code where a function of yours writes
        into it (`bump(z, v)` of `z[()] += v`) or a read names the array (`t = z`; elsewhere the CPU specialisation
        makes it the number it holds, which runs on the device): the
        device keeps numbers and arrays of fixed shape, no 0-d arrays, so vmap declines it at its line (before,
        "result2 is both a scalar and an array" or "an array whose size (z) is not fixed": CUDA fuzz seeds
        1333507, 1333509, 1333514)."""
        empty = {st.targets[0].id for st in self._walk(self.fn.body) if isinstance(st, ast.Assign)
                 and isinstance(st.targets[0], ast.Name) and isinstance(st.value, ast.Tuple) and not st.value.elts}
        for st in self._walk(self.fn.body):
            for e in (x for v in ast.iter_child_nodes(st) if isinstance(v, ast.expr) for x in ast.walk(v)):
                if not isinstance(e, ast.Call):
                    continue
                name = dotted(e.func)
                shape = e.args[0] if e.args else None
                zero_d = name == "rt.array_0d" or (
                    name in ("np.zeros", "np.ones", "np.empty", "np.full") and
                    ((isinstance(shape, ast.Tuple) and not shape.elts) or
                     (isinstance(shape, ast.Name) and shape.id in empty)))
                if zero_d:
                    self.fail(st, "a 0-d array (`z = np.zeros(())`) that the derivative code keeps as an array (a "
                                  "function of yours writes into it, or a read names the array: `t = z`, `z.shape`, "
                                  "`np.reshape(z, 1)`); the device holds numbers and arrays of fixed shape, no 0-d "
                                  "arrays",
                              "hold the number in a float (`z = 0.0`), read it as one, and let a function of yours "
                              "return its new value (`z = bump(z, v)` of `return z + v * 0.5`)")

    def _walk(self, stmts):
        for s in stmts:
            yield s
            for b in nested_blocks(s):
                yield from self._walk(b)

    def _placeholder(self, st) -> bool:
        """`v = np.zeros((1,))` that transforms/unbound.py wrote (PLACEHOLDER) where v may be read unassigned: no
        path uses the value, and NumPy's array there has v's rank, not always its shape. An array's placeholder is
        typed by v's real bindings (an array keeps one shape on the device), after them (_type_placeholders);
        StatementLowering._zero_placeholder fills v's buffer with zeros. So is an array sum's value where its
        comprehension runs no iteration (SUM_EMPTY: zeros of the terms' rank), which the kernel reports instead
        (StatementLowering._empty_sum). True where `st` is one (left to those)."""
        if not (anno.get(st, anno.PLACEHOLDER) or anno.get(st, anno.SUM_EMPTY)):
            return False
        shape, dt = self.info(st.value)
        if shape is None:
            return False
        self.placeholders.setdefault(st.targets[0].id, (shape, dt, st))
        return True

    def _type_placeholders(self) -> bool:
        """The names only a placeholder binds (an empty sum's value a merge copies, a real binding gone), once the
        others are typed: the shape of a typed array the name is copied to (`total2 = total1`), else its
        placeholder's. Whether it typed any."""
        copies = {}
        for st in self._walk(self.fn.body):
            if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and isinstance(st.value, ast.Name) \
                    and self.shape.get(st.targets[0].id) is not None:
                copies.setdefault(st.value.id, st.targets[0].id)
        typed = False
        for name, (shape, dt, st) in self.placeholders.items():
            if name not in self.dtype:
                to = copies.get(name)
                self._set(name, self.shape[to] if to else shape, self.dtype[to] if to else dt, st)
                typed = True
        return typed

    def _tape_placeholder_dtypes(self):
        """A merge copies a tape's versions into one name (`t6 = t5` on one path, `t6 = t` on the other), so they
        are arrays of one dtype on the device; the version that a placeholder binds (`t = np.zeros((1,),
        dtype=np.bool_)` where the tape is bound on some paths only) is an array of its own, typed float by its
        statement: it takes the integer dtype of the tapes it merges with (forward mode's tapes of booleans and
        trip counts), which device code stores as int64."""
        merges = [(st.targets[0].id, st.value.id) for st in self._walk(self.fn.body)
                  if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                  and isinstance(st.value, ast.Name) and st.targets[0].id in self.tapes]
        group = {}
        for t, v in merges:     # the names of one merge group share one representative
            a, b = self._root(group, t), self._root(group, v)
            group[a] = b
        for name in [v for _, v in merges if v not in self.tapes and v in self.placeholders]:
            root = self._root(group, name)
            if any(self.tapes.get(n) in ("i", "b") for n in self.tapes if self._root(group, n) == root):
                self.dtype[name] = "i"

    @staticmethod
    def _root(group, name):
        while group.get(name, name) != name:
            name = group[name]
        return name

    def _set(self, name, shape, dt, node):
        if name in self.shape and shape is not None and self.shape[name] != shape:
            self.fail(node, f"{name} changes shape ({self.shape[name]} -> {shape})")
        if (name in self.shape) != (shape is not None) and name in self.dtype:
            self.fail(node, f"{name} is both a scalar and an array")
        if shape is not None:
            self.shape[name] = shape
        old = self.dtype.get(name)
        self.dtype[name] = "f" if "f" in (old, dt) else (dt if old is None or old == "b" else old)

    def _infer_stmt(self, st):
        if isinstance(st, ast.For):
            self._set(st.target.id, None, "i", st)
        elif isinstance(st, ast.Assign):
            t = st.targets[0]
            v = st.value
            if isinstance(t, ast.Name):
                if isinstance(v, ast.List):
                    self.stacks.setdefault(t.id, None)
                    return
                if (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "pop"):
                    stk = v.func.value.id
                    if self.stacks.get(stk) is None:
                        raise Unknown(stk)
                    self._set(t.id, self.stack_shapes.get(stk), self.stacks[stk], st)
                    return
                if isinstance(v, ast.Name) and (v.id in self.tapes or (t.id in self.tapes and t.id in self.p.tapes)):
                    if v.id in self.tapes:      # a merge of a tape's versions: the same local array (tape_aliases)
                        if self.tapes.get(t.id) is None:    # (its dtype once a later round knows the version's)
                            self.tapes[t.id] = self.tapes[v.id]
                        self.dtype.setdefault(t.id, self.tapes[v.id] or "f")
                    return                      # (or of its placeholder, on the path that never reads it)
                if self._is_tape(t.id, v):
                    self.tapes.setdefault(t.id, None)
                    return
                if is_none(v) or self._placeholder(st):   # typed elsewhere (StatementLowering._none_placeholder)
                    return
                s, d = self.info(v)
                if s == "tuple":
                    self.tuples[t.id] = d or "f"       # (its elements' dtype: "i" of a shape)
                    return
                self._set(t.id, s, d, st)
            elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in self.tapes:
                _, d = self.info(v)
                old = self.tapes[t.value.id]
                self.tapes[t.value.id] = "f" if "f" in (old, d) else d
                self.dtype[t.value.id] = self.tapes[t.value.id]
            elif isinstance(t, ast.Tuple):
                self.info(v)        # (a helper returning a tuple: `r, d_r = rec_jvp(u, n, d_u)` lowers it)
                for x in t.elts:
                    self._set(x.id, None, "f", st)
        elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
            c = st.value
            if isinstance(c.func, ast.Attribute) and c.func.attr == "append":
                s, d = self.info(c.args[0])
                stk = c.func.value.id
                if s in ("tuple", "list") or (self.stacks.get(stk) is not None and self.stack_shapes.get(stk) != s):
                    self.fail(st, f"values of different shapes saved on the stack {stk}")
                if s is not None:           # a stack of arrays of one shape: `s` elements a push
                    self.stack_shapes[stk] = s
                old = self.stacks.get(stk)
                self.stacks[stk] = "f" if "f" in (old, d) else ("i" if d in ("i", "b") else d)

    def _is_tape(self, name, v):
        """`name = v` allocates a tape: one of the tapes reverse mode recorded (Program.tapes), or a
        tangent tape (_tape_like); or it is `name = None`, the placeholder reverse mode binds a recorded tape
        to before a branch that may return early (no code on the device: the tape is a local array)."""
        if self._tape_like(v) is not None:
            return True
        if name in self.p.tapes and is_none(v):
            return True
        return (name in self.p.tapes and isinstance(v, ast.Call) and dotted(v.func) == "np.empty"
                and len(v.args) in (1, 2))

    def _tape_like(self, v):
        """The tape `v` copies the shape of (`d_t_tape = rt.zeros_like(t_tape)`: forward mode over a
        taped gradient keeps a tangent per taped value), or None. The tape may be one of reverse mode's versions
        (Program.tapes) that only a copy of its placeholder binds, on the path that never reads it (`t4 = t;
        d_t4 = rt.zeros_like(t4)`): forward mode dropped the merge `t4 = t3` of the other path, which nothing
        read, but kept its tangent's (`d_t4 = d_t3`), so d_t4 is a tangent tape all the same (CUDA fuzz --device
        seeds 999144, 999264, 999294: "d_t4 is both a scalar and an array")."""
        if isinstance(v, ast.Call) and dotted(v.func) in ("rt.zeros_like", "np.zeros_like") and len(v.args) == 1 \
                and isinstance(v.args[0], ast.Name) and (v.args[0].id in self.tapes or v.args[0].id in self.p.tapes):
            return v.args[0].id
        return None
