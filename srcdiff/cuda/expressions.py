"""Lowering of expressions to device code: element loops, reductions, products and the calls device code has."""
from __future__ import annotations

import ast
import re

from ..transforms import annotations as anno
from .spelling import quoted, shown
from .common import (AXES_ORDER_CALLS, CAST_CALLS, LAYOUT_CALLS, EMPTY_REDUCTION, ARRAY_LITERALS, BINARY, BINOPS,
                     BOOL_INDEX_ADVICE, COMPARISONS, FANCY_ADVICE, SLICE_ADVICE, REDUCTION_GRADS, REDUCTIONS,
                     TERNARY, UNARY, UNARYOPS, axes_order, dotted, indexed, module_constant, none_test, flat_index,
                     indent, nonnegative_loop_names, number, size, unravel)


class ExpressionLowering:
    """Part of FunctionLowering (srcdiff/cuda/function.py): expressions and calls.

    `low(e, idx)` gives (pre-statements, expression text) for one element `idx` of e's value, so array
    expressions become element loops written by the statement lowering."""

    def low(self, e, idx=None, rshape=None):
        """(pre-statements, expression string). idx: index strings of the result element (array
        context, broadcast to rshape) or None (scalar context)."""
        if isinstance(e, ast.Constant):
            return [], number(e.value)
        if isinstance(e, ast.Name):
            if e.id in self.p.consts:
                return [], number(self.p.consts[e.id])
            if e.id in self.shape:
                if idx is None:
                    self.fail(e, f"array {e.id} used where a scalar is needed")
                return [], self.storage[e.id].at(self._aligned(idx, self.shape[e.id]))
            return [], e.id
        if isinstance(e, ast.BinOp):
            if isinstance(e.op, ast.MatMult):
                return self._matmul(e.left, e.right, idx)
            p1, a = self.low(e.left, idx, rshape)
            p2, b = self.low(e.right, idx, rshape)
            return p1 + p2, f"({a} {BINOPS[type(e.op)]} {b})"
        if isinstance(e, ast.UnaryOp):
            p, a = self.low(e.operand, idx, rshape)
            return p, f"({UNARYOPS[type(e.op)]}{a})"
        if isinstance(e, ast.Compare) and none_test(e) is not None:
            name, is_not = none_test(e)
            if name in self.none_bound:
                self.fail(e, f"a test of whether {name} is None, where {name} is bound to None on some path",
                          "device values are never None: keep a flag (a bool) beside the value instead")
            return [], repr(is_not)       # a number or an array on the device: never None
        if isinstance(e, ast.Compare):
            pre, parts = self.low(e.left, idx, rshape)
            text = parts
            for op, c in zip(e.ops, e.comparators):
                p, b = self.low(c, idx, rshape)
                pre += p
                text += f" {COMPARISONS[type(op)]} {b}"
            return pre, f"({text})"
        if isinstance(e, ast.BoolOp):
            pre, parts = [], []
            for v in e.values:
                p, s = self.low(v, idx, rshape)
                pre += p
                parts.append(s)
            return pre, "(" + (" and " if isinstance(e.op, ast.And) else " or ").join(parts) + ")"
        if isinstance(e, ast.IfExp):
            p0, t = self.low(e.test, idx, rshape)
            p1, a = self.low(e.body, idx, rshape)
            p2, b = self.low(e.orelse, idx, rshape)
            return p0 + p1 + p2, f"({a} if {t} else {b})"
        if isinstance(e, ast.Subscript):
            return self._low_subscript(e, idx)
        if isinstance(e, ast.Attribute):
            if module_constant(e) is not None:
                return [], number(module_constant(e))
            if e.attr == "T":
                return self._low_transposed(e.value, idx)
            s = self.info(e.value)[0]
            if e.attr == "size":
                return [], str(size(s))
            if e.attr == "ndim":
                return [], str(len(s) if s else 0)
            if e.attr == "shape" and s:
                return [], "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"
        if isinstance(e, ast.Call):
            return self._low_call(e, idx, rshape)
        self.fail(e, f"unsupported expression {shown(e)}")

    def _aligned(self, idx, shape):
        ix = list(idx[len(idx) - len(shape):]) if idx is not None else []
        ix = ["0" if n == 1 else i for i, n in zip(ix, shape)]
        return flat_index(ix, shape)

    def _view(self, e, base_shape, idx):
        """Shape of base[...] and, given result indices idx, the base's full index list. One index of the
        subscript may be a list of integers written out (index_lists: `v[[2, 0]]`, `M[:, [0, 2]]`), whose axis
        stands where NumPy puts it: in its place where the integers indexing other axes are next to it, else
        first (`T[0, :, [1, 2]]` has shape (2, n))."""
        sl = e.slice
        elts = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        ellipses = [k for k, x in enumerate(elts) if isinstance(x, ast.Constant) and x.value is Ellipsis]
        if len(ellipses) == 1:      # `e[...]`, `e[..., k]`, `e[r, ...]`: full slices of the axes it stands for (an
            k = ellipses[0]         # Ellipsis read int() of it: an internal error, h26a)
            elts[k:k + 1] = [ast.Slice(None, None, None)] * max(len(base_shape) - (len(elts) - 1), 0)
        if len(elts) > len(base_shape):
            raise ValueError("too many indices")
        elts += [ast.Slice(None, None, None)] * (len(base_shape) - len(elts))
        lists = [k for k, x in enumerate(elts) if isinstance(x, ast.Name) and x.id in self.index_lists]
        at = None       # (the result axis of the list's)
        if len(lists) == 1:
            taken = [k for k, x in enumerate(elts) if not isinstance(x, ast.Slice)]
            next_to = taken == list(range(taken[0], taken[-1] + 1))
            at = sum(isinstance(x, ast.Slice) for x in elts[:taken[0]]) if next_to else 0
        shape, full, r = [], [], 0
        for d, (x, n) in enumerate(zip(elts, base_shape)):
            if isinstance(x, ast.Slice):
                try:
                    start, stop, step = (None if v is None else self._const_int(v) for v in (x.lower, x.upper, x.step))
                except ValueError as ex:
                    if "slice bound" not in str(ex):
                        raise
                    self.fail(x, f"a slice whose bounds are not fixed when the kernel is specialised: {self.quoted(e)} "
                                 "(its length would change from example to example)", SLICE_ADVICE)
                rng = range(n)[slice(start, stop, step)]
                shape.append(len(rng))
                ra = r if at is None or r < at else r + 1
                if idx is not None:
                    i = idx[ra] if ra < len(idx) else "0"
                    full.append(f"({rng.start} + {rng.step} * {i})" if (rng.start, rng.step) != (0, 1) else i)
                r += 1
            elif at is not None and d == lists[0]:
                full.append(self._listed(e, x, n, idx, at))
            else:
                if isinstance(x, (ast.Constant, ast.UnaryOp)) and not isinstance(x, ast.Slice):
                    c = self._const_int(x)
                    full.append(str(c + n if c < 0 else c))
                else:
                    s, d_ = self.info(x)
                    text = self.quoted(e) if s is not None or d_ != "i" else None
                    if s is None and d_ == "b":     # (NumPy's a[True] is a mask, not a[1]: it was read as a[1])
                        self.fail(x, f"a boolean index: {text} (NumPy reads a condition in an index as a mask of rank "
                                     "0: a new axis of length 1 where it holds, 0 where it does not, a shape that "
                                     "depends on the data)", BOOL_INDEX_ADVICE)
                    if s is not None or d_ not in ("i", "b"):
                        self.fail(x, f"fancy (array) indexing: {text}", FANCY_ADVICE)
                    if idx is not None:
                        p, v = self.low(x)
                        if p:
                            raise ValueError("complex index expression")
                        # a computed index may be negative (`a[i - 1]` at i = 0): it counts from the end, as
                        # in Python (a flat buffer would read another row, or before the buffer)
                        full.append(self._from_end(x, v, n))
        if at is not None:
            shape.insert(at, len(self.index_lists[elts[lists[0]].id]))
        return tuple(shape), full

    def once_each(self, e, what: str):
        """The subscript `e`, declined where its index list names an element twice (`v[[0, 0]]`): NumPy's write
        there keeps the later value, whose adjoint alone is nonzero (rt.written), and its `+=` adds once."""
        sl = e.slice
        for x in (sl.elts if isinstance(sl, ast.Tuple) else [sl]):
            if isinstance(x, ast.Name) and x.id in self.index_lists:
                n = self.info(e.value)[0]
                values = self.index_lists[x.id]
                axis = (sl.elts.index(x) if isinstance(sl, ast.Tuple) else 0)
                if n and axis < len(n) and len({v % n[axis] for v in values}) < len(values):
                    self.fail(e, f"{what} through an index list that names an element twice: {self.quoted(e)}",
                              "write each element once (NumPy keeps the later of two writes to one element)")
        return e

    def _listed(self, e, x, n: int, idx, at: int) -> str:
        """The index text, along an axis of n elements, of the list of integers `x` names (index_lists) at the result
        index idx[at]: the element of x's local array, from the end where negative; an integer out of range (NumPy
        raises IndexError) is declined."""
        values = self.index_lists[x.id]
        bad = [v for v in values if not -n <= v < n]
        if bad:
            self.fail(x, f"the index {bad[0]} of {self.quoted(e)} is out of range for an axis of {n} elements "
                         "(NumPy raises IndexError)", FANCY_ADVICE)
        if idx is None:
            return "0"
        i = idx[at] if at < len(idx) else "0"
        item = self.storage[x.id].at(i)
        return f"({item} + {n} * ({item} < 0))" if min(values) < 0 else item

    def quoted(self, e) -> str:
        """The subscript `e` as the user wrote it (spelling.quoted); a part of np.split / np.array_split, which srcdiff
        writes as a slice, as the user's call (annotations.SPLIT_PART)."""
        part = anno.get(e, anno.SPLIT_PART)
        if part is not None and len(part) > 2 and part[2]:
            return f"part {part[1] + 1} of {part[2]}"
        return quoted(e, self.fn, users=self.p.users, line=lambda n: self.p.user_site(n)[::2])

    def _from_end(self, x, v: str, n: int) -> str:
        """The index text of a computed index v (node x) along an axis of n elements: a negative one counts from
        the end, without a branch (`v + n * (v < 0)`: each conditional expression is basic blocks that Numba's
        liveness analysis walks); a loop variable that counts up from 0 (or down to 0) is never negative."""
        if n <= 1:
            return "0"
        if isinstance(x, ast.Name) and x.id == v and v in self.nonnegative:
            return v
        return f"({v} + {n} * ({v} < 0))"

    @property
    def nonnegative(self) -> set:
        """The names bound only as targets of `for ... in range(...)` loops whose values are never negative."""
        if getattr(self, "_nonnegative", None) is None:
            self._nonnegative = nonnegative_loop_names(self.fn)
        return self._nonnegative

    def _const_int(self, v):
        try:
            c = ast.literal_eval(v)
        except Exception:
            if isinstance(v, ast.Name) and v.id in self.p.consts:
                return int(self.p.consts[v.id])
            hv = self.host.max(v)
            if hv is None or not isinstance(v, ast.Name) or v.id in self.host.batched:
                raise ValueError(f"a slice bound ({shown(v)}) that is not a constant") from None
            return hv
        return int(c)

    def _low_subscript(self, e, idx):
        if isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            s = self.info(e.value.value)[0]
            return [], str(s[self._const_int(e.slice)])
        if isinstance(e.value, ast.Name) and e.value.id in self.tuples:
            return [], f"{e.value.id}[{self._const_int(e.slice)}]"
        if not isinstance(e.value, ast.Name):
            self.fail(e, "indexing a computed expression")
        name = e.value.id
        if name in self.tapes:
            p, i = self.low(e.slice)
            return p, f"{name}[{i}]"
        base = self.shape[name]
        shape, _ = self._view(e, base, None)
        rid = list(idx[len(idx) - len(shape):]) if (idx is not None and shape) else []
        rid = ["0" if n == 1 else i for i, n in zip(rid, shape)]
        if shape and idx is None:
            self.fail(e, f"array slice of {name} used where a scalar is needed")
        _, full = self._view(e, base, rid)
        return [], self.storage[name].at(flat_index(full, base))

    def _low_transposed(self, x, idx):
        s = self.info(x)[0]
        if idx is None or s is None:
            return self.low(x, idx)
        ix = list(idx[len(idx) - len(s):])
        return self.low(x, list(reversed(ix)), tuple(reversed(s)))

    def _loop_reduce(self, n, body, init="0.0", op="+"):
        """Accumulate body(k) -> (pre, term) over k in range(n); returns (pre, acc name)."""
        acc, k = self.fresh("acc"), self.fresh("k")
        pre, term = body(k)
        upd = f"{acc} += {term}" if op == "+" else f"{acc} *= {term}" if op == "*" else \
            f"{acc} = {acc} {op} {term} != 0" if op in ("and", "or") else f"{acc} = {op}({acc}, {term})"
        return [f"{acc} = {init}", f"for {k} in range({n}):"] + indent(pre + [upd]), acc

    def _matmul(self, a, b, idx):
        sa, sb = self.info(a)[0], self.info(b)[0]
        if sa is None or sb is None:
            p1, x = self.low(a, idx)
            p2, y = self.low(b, idx)
            return p1 + p2, f"({x} * {y})"
        n = sa[-1]
        if len(sa) == 1 and len(sb) == 1:
            ia, ib = (lambda k: [k]), (lambda k: [k])
        elif len(sa) == 2 and len(sb) == 1:
            ia, ib = (lambda k: [idx[-1], k]), (lambda k: [k])
        elif len(sa) == 1 and len(sb) == 2:
            ia, ib = (lambda k: [k]), (lambda k: [k, idx[-1]])
        else:
            ia, ib = (lambda k: [idx[-2], k]), (lambda k: [k, idx[-1]])

        def body(k):
            p1, x = self.low(a, ia(k), sa)
            p2, y = self.low(b, ib(k), sb)
            return p1 + p2, f"{x} * {y}"
        return self._loop_reduce(n, body)

    def _einsum_product(self, name, e, a, idx, rshape):
        """np.einsum's matrix product rt.einsum_matmul(a, b) and its adjoints' rt.fit_like(v, x), where the kernel's
        fixed shapes match (a @ b, and v itself); a contracted axis of length 1 against a longer one is declined."""
        sa, sb = self.info(a[0])[0], self.info(a[1])[0]
        if name == "rt.einsum_matmul" and (sa is None or sb is None or sa[-1] == sb[0]):
            return self._matmul(a[0], a[1], idx)
        if name == "rt.fit_like" and sa == sb:
            return self.low(a[0], idx, rshape)
        self.fail(e, "np.einsum contracting an axis of length 1 against a longer one (NumPy broadcasts it)",
                  "sum the longer operand over that axis first (np.sum(y, axis=0, keepdims=True)), or run it on "
                  "the host (srcdiff.grad)")

    def _reduce_all(self, x, fn):
        s = self.info(x)[0]
        if s is None:
            return self.low(x)
        init = {"sum": "0.0", "prod": "1.0", "max": "-math.inf", "min": "math.inf"}[fn]
        op = {"sum": "+", "prod": "*", "max": "max", "min": "min"}[fn]
        return self._loop_reduce(size(s), lambda k: self.low(x, unravel(k, s), s), init, op)

    def _low_call(self, e, idx, rshape):
        name = dotted(e.func)
        a = e.args
        if name in self.p.helpers:
            pre, args = self._low_args(a)
            return pre, f"{self.p.helper_name(self, name, e)}({', '.join(args)})"
        if name in UNARY and len(a) == 1 or name in BINARY and len(a) == 2 or name in TERNARY and len(a) == 3:
            return self._low_elementwise(name, a, idx, rshape)
        if name in ("len",):
            if isinstance(a[0], ast.Name) and a[0].id in self.stacks:
                return [], f"{a[0].id}_n"     # a list used as a stack (jvp keeps the user's): its count
            if isinstance(a[0], (ast.Tuple, ast.List)):      # (zip(*[a, b])'s check of its rows: `len((a, b))`)
                return [], str(len(a[0].elts))
            s = self.info(a[0])[0]
            if not isinstance(s, tuple):        # (a tuple's "tuple": len read its first letter, `ok = t`)
                self.fail(e, f"len() of {shown(a[0])} on the device")
            return [], str(s[0])
        if name == "int":
            p, x = self.low(a[0])
            return p, f"int({x})"
        if name in ("np.all", "np.any"):
            return self._low_truth(name, a[0])
        if name in REDUCTIONS:
            return self._low_reduction(name, e, idx)
        if name in ("np.dot", "rt.dot", "np.matmul"):
            return self._matmul(a[0], a[1], idx)
        if name in ("rt.einsum_matmul", "rt.fit_like"):    # (np.einsum's products: shapes are fixed here)
            return self._einsum_product(name, e, a, idx, rshape)
        if name == "np.outer":
            p1, x = self.low(a[0], [idx[0]], None)
            p2, y = self.low(a[1], [idx[1]], None)
            return p1 + p2, f"({x} * {y})"
        if name in ("rt.matmul_grad_x", "rt.matmul_grad_y"):
            return self._matmul_grad(name, e, idx)
        if name == "rt.outer_grad":     # np.outer's adjoint g @ ravel(y) in x's shape: of vectors, g @ y
            if all(len(self.info(v)[0] or ()) == 1 for v in a[1:]):
                return self._matmul(a[0], a[2], idx)
            self.fail(e, "the derivative of np.outer of arrays that are not vectors")
        if name in ARRAY_LITERALS:      # (generated code binds every array literal to a name: StatementLowering)
            self.fail(e, f"the array literal {shown(e)} inside an expression")
        if name in ("rt.zeros_like", "np.zeros_like", "np.zeros", "np.empty", "np.empty_like"):   # (empty: any values)
            return [], "0.0" if self.dtype_of(e) == "f" else "0"
        if name in ("np.ones_like", "np.ones"):
            return [], "1.0"
        if name == "np.full":
            return self.low(a[1])
        if name in ("rt.broadcast_to_like",):
            return self.low(a[0], idx, rshape)
        if name == "rt.unbroadcast":
            return self._unbroadcast(a[0], a[1], idx)
        if name in REDUCTION_GRADS:
            return self._reduction_grad(name, e, idx)
        if name == "rt.prod_others_jvp":
            return self._prod_others_jvp(e, idx)
        if name in ("rt.sum_grad", "rt.mean_grad"):
            return self._sum_grad(name, e, idx)
        if name in ("rt.expand_dims", "np.expand_dims"):     # x[:, None]: the new axis's index is dropped
            s = self.info(a[0])[0] or ()
            ax = self._axis_arg(e, 1) % (len(s) + 1)
            if idx is None:
                return self.low(a[0])
            ix = self._full_of(idx, s[:ax] + (1,) + s[ax:])
            return self.low(a[0], (ix[:ax] + ix[ax + 1:]) or None, s or None)
        if name == "rt.reshape_like":
            sg, sx = self.info(a[0])[0], self.info(a[1])[0]
            if sg and idx is None and all(n == 1 for n in sg):   # (one element to a number: the mean of a vector's
                return self.low(a[0], ("0",) * len(sg), sg)      # adjoint, kept (1,) by expand_dims: np.cov(a), CUDA
            if sg is None or idx is None:                         # fuzz 1260079, "array d_rows11 used where a scalar")
                return self.low(a[0], idx)
            flat = flat_index(self._full_of(idx, sx), sx)
            return self.low(a[0], unravel(f"({flat})", sg), sg)
        if name == "np.shape" and len(a) == 1:     # (fixed when the kernel is specialised: a backward loop's test
            s = self.info(a[0])[0] or ()          # whether an adjoint changed shape between iterations)
            return [], "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"
        if name in CAST_CALLS:             # (to float64, int64 or bool: Inference.cast_to)
            kind = self.cast_to(e)
            p, x = self.low(a[0], idx, rshape)
            return p, (f"float({x})" if self.dtype_of(a[0]) != "f" else x) if kind == "f" else \
                f"int({x})" if kind == "i" else f"({x} != 0)"
        if name in LAYOUT_CALLS:           # (the device's arrays have one layout: x's values, Inference's shape)
            return self.low(a[0], idx, rshape)
        if name == "rt.written" and indexed(e) is not None:
            return self._low_subscript(self.once_each(indexed(e), "the adjoint of a write"), idx)
        if name == "rt.astype_grad":       # v where the cast's result y is a float, zeros where it is not
            return self.low(a[0], idx, rshape) if self.dtype_of(a[1]) == "f" else ([], "0.0")
        if name in AXES_ORDER_CALLS:       # (np.transpose, np.swapaxes, np.moveaxis: constant axes, info's)
            s = self.info(a[0])[0]
            if idx is None or s is None:
                return self.low(a[0], idx)
            order, ix = axes_order(e, len(s)), list(idx[len(idx) - len(s):])
            of_x = [None] * len(s)
            for k, axis in enumerate(order):
                of_x[axis] = ix[k]
            return self.low(a[0], of_x, s)
        self.fail(e, f"{name or shown(e.func)}(...) has no device lowering")

    def _low_args(self, args):
        """(pre-statements, expression strings) of scalar arguments."""
        pre, out = [], []
        for x in args:
            p, s = self.low(x)
            pre += p
            out.append(s)
        return pre, out

    def _low_elementwise(self, name, a, idx, rshape):
        """A call with a device template from the rule records (srcdiff/rules), element idx."""
        template = UNARY.get(name) if len(a) == 1 else (BINARY.get(name) or TERNARY[name])
        pre, xs = [], []
        for k, x in enumerate(a):
            p, s = self.low(x, idx, rshape)
            pre += p
            if template.count(f"{{{k}}}") > 1 and not re.fullmatch(r"[\w\.\[\], +*]+", s):
                t = self.fresh("u")   # an operand the template repeats is computed once
                pre.append(f"{t} = {s}")
                s = t
            xs.append(s)
        return pre, template.format(*xs)

    def _low_reduction(self, name, e, idx):
        """np.sum / prod / max / min / mean and logsumexp, of the whole array or along an axis. Over no elements
        (an array with a dimension of 0): a sum is 0, a product 1 and a mean NaN, as in NumPy; a maximum,
        minimum or logsumexp, where NumPy raises, returns a status for the host to report."""
        x = e.args[0]
        ax = self._axis(e)
        base = name.split(".")[1]
        s = self.info(x)[0]
        if s is not None and (size(s) if ax is None else s[ax % len(s)]) == 0:
            if base == "mean":
                return [], "math.nan"
            if base in ("max", "min", "logsumexp"):
                return self._empty_reduction(name, e, s)
        if ax is not None:
            return self._reduce_axis(x, ax, base, idx)
        if base == "mean":
            p, acc = self._reduce_all(x, "sum")
            return p, f"({acc} / {size(self.info(x)[0])})"
        if base == "logsumexp":
            s = self.info(x)[0]
            return self._logsumexp(size(s), lambda k: self.low(x, unravel(k, s), s))
        return self._reduce_all(x, base)

    def _empty_reduction(self, name, e, shape):
        """np.max / np.min / logsumexp over no elements, which NumPy declines (ValueError: zero-size array to
        reduction operation maximum which has no identity): where an example reaches it, the entry returns a status
        of its own and the host raises SrcdiffError at the user's line (the shapes are the same for every example,
        but a branch may skip it: `if M.size > 0:`)."""
        if not self.entry:
            self.fail(e, f"{name}(...) of an array with no elements (shape {shape}) in a helper function")
        line, text, filename = self.p.user_site(getattr(getattr(self, "current", None), "lineno", None))
        what = name if name.startswith("np.") else "logsumexp" if name == "rt.logsumexp" else "np." + name.split(".")[1]
        msg = self.p.spell(f"{what}(...) of an array with no elements ({shown(e.args[0])}, shape {shape} for "
                           f"each example; NumPy raises ValueError: zero-size array to reduction operation which has "
                           f"no identity)")
        advice = ("give the array at least one element along the reduced axis, or reduce it only where it has "
                  "some (`if M.shape[0] > 0:`), as NumPy needs")
        self.p.empty_reductions.append((msg, filename, line, text, advice))
        return [f"return {EMPTY_REDUCTION + len(self.p.empty_reductions) - 1}"], "math.nan"

    def _logsumexp(self, n, body):
        """log(sum(exp(body(k)))) over k in range(n), shifted by the maximum; the maximum itself when it is
        infinite (all -inf, or some +inf: what rt.logsumexp gives)."""
        p1, m = self._loop_reduce(n, body, "-math.inf", "max")

        def term(k):
            pe, v = body(k)
            return pe, f"math.exp({v} - {m})"
        p2, acc = self._loop_reduce(n, term)
        return p1 + p2, f"({m} if math.isinf({m}) else {m} + math.log({acc}))"

    def _low_truth(self, name, x):
        """np.all / np.any of a whole array (or of a number): a loop that ands / ors the elements' truth."""
        s = self.info(x)[0]
        if s is None:
            p, v = self.low(x)
            return p, f"({v} != 0)"
        init, op = ("True", "and") if name == "np.all" else ("False", "or")
        return self._loop_reduce(size(s), lambda k: self.low(x, unravel(k, s), s), init, op)

    def _sum_grad(self, name, e, idx):
        """rt.sum_grad / rt.mean_grad: the adjoint g of the reduction spread back over x's shape."""
        a = e.args
        sx = self.info(a[1])[0]
        ax = self._axis_arg(e, 2)
        if sx is None or idx is None or ax is None:
            p, g = self.low(a[0])
        else:
            ax %= len(sx)
            gi = [i for d, i in enumerate(self._full_of(idx, sx)) if d != ax]
            p, g = self.low(a[0], gi, None)
        if name == "rt.mean_grad" and sx is not None:
            g = f"({g} / {size(sx) if ax is None else sx[ax]})"
        return p, g

    def _reduction_grad(self, name, e, idx):
        """Adjoints of max/min (g split among the tied extrema), prod (g times the product of the other entries,
        exact with zeros) and logsumexp (g * exp(x - ans), 0 where x is -inf), of the whole array or along an
        axis (g and ans then have x's shape without it), element idx."""
        g, x, ans = e.args[:3]
        sx = self.info(x)[0]
        if sx is None:
            return self.low(g) if name != "rt.logsumexp_grad" else self._low_lse_scalar(g, x)
        if idx is None:
            self.fail(e, "an array adjoint used where a scalar is needed")
        full = self._full_of(idx, sx)
        ax = self._axis_arg(e, 3)
        if ax is None:      # the other entries: all of x's, k their flat index
            n, me, reduced = size(sx), flat_index(full, sx), None
            at = lambda k: unravel(k, sx)   # noqa: E731
        else:               # those along the axis, k their index on it
            ax %= len(sx)
            n, me, reduced = sx[ax], full[ax], full[:ax] + full[ax + 1:]
            at = lambda k: full[:ax] + [k] + full[ax + 1:]   # noqa: E731
        p0, gv = self.low(g, reduced, self.info(g)[0])
        p1, xv = self.low(x, full, sx)
        p2, av = self.low(ans, reduced, self.info(ans)[0]) if name != "rt.prod_grad" else ([], None)
        pre = p0 + p1 + p2
        if name == "rt.logsumexp_grad":
            return pre, f"(0.0 if {xv} == -math.inf else ({gv}) * math.exp({xv} - {av}))"
        if name == "rt.prod_grad":
            def other(k):
                p, v = self.low(x, at(k), sx)
                return p, f"(1.0 if {k} == {me} else {v})"
            p3, acc = self._loop_reduce(n, other, "1.0", "*")
            return pre + p3, f"(({gv}) * {acc})"

        def tie(k):
            p, v = self.low(x, at(k), sx)
            return p, f"(1.0 if {v} == {av} else 0.0)"
        p3, cnt = self._loop_reduce(n, tie)
        return pre + p3, f"(({gv}) / {cnt} if {xv} == {av} else 0.0)"

    def _prod_others_jvp(self, e, idx):
        """rt.prod_others_jvp(t, x, axis), element idx: the sum over the other entries k along the axis (all of x's
        without one) of t[k] times the product of the entries other than idx's and k (prod's second derivative, as
        the runtime's helper, exact with zeros: hvp of a product)."""
        t, x = e.args[:2]
        sx = self.info(x)[0]
        if sx is None:          # (the product of a number: no other entries)
            return [], "0.0"
        if idx is None:
            self.fail(e, "an array derivative used where a scalar is needed")
        full = self._full_of(idx, sx)
        ax = self._axis_arg(e, 2)
        if ax is None:
            n, me = size(sx), flat_index(full, sx)
            at = lambda k: unravel(k, sx)   # noqa: E731
        else:
            ax %= len(sx)
            n, me = sx[ax], full[ax]
            at = lambda k: full[:ax] + [k] + full[ax + 1:]   # noqa: E731

        def term(k):
            def other(m):
                p, v = self.low(x, at(m), sx)
                return p, f"(1.0 if {m} == {me} or {m} == {k} else {v})"
            p1, tv = self.low(t, at(k), sx)
            p2, acc = self._loop_reduce(n, other, "1.0", "*")
            return p1 + p2, f"(0.0 if {k} == {me} else ({tv}) * {acc})"
        return self._loop_reduce(n, term)

    def _low_lse_scalar(self, g, x):
        p0, gv = self.low(g)
        p1, xv = self.low(x)
        return p0 + p1, f"(0.0 if {xv} == -math.inf else ({gv}))"

    def dtype_of(self, e):
        try:
            return self.info(e)[1]
        except Exception:
            return "f"

    def _axis_arg(self, e, pos):
        ax = [k.value for k in e.keywords if k.arg == "axis"] or e.args[pos:pos + 1]
        if not ax or (isinstance(ax[0], ast.Constant) and ax[0].value is None):
            return None
        return self._const_int(ax[0])

    def _full_of(self, idx, shape):
        ix = list(idx[len(idx) - len(shape):])
        return ["0" if n == 1 else i for i, n in zip(ix, shape)]

    def _reduce_axis(self, x, ax, fn, idx):
        """sum / mean / prod / max / min / logsumexp of x along axis `ax`, element idx of the result."""
        s = self.info(x)[0]
        ax %= len(s)
        rest = [i for i in (idx or [])]

        def body(k):
            full = rest[:ax] + [k] + rest[ax:]
            return self.low(x, full, s)
        if fn == "logsumexp":
            return self._logsumexp(s[ax], body)
        init = {"sum": "0.0", "mean": "0.0", "prod": "1.0", "max": "-math.inf", "min": "math.inf"}[fn]
        op = {"sum": "+", "mean": "+", "prod": "*", "max": "max", "min": "min"}[fn]
        p, acc = self._loop_reduce(s[ax], body, init, op)
        return p, (f"({acc} / {s[ax]})" if fn == "mean" else acc)

    def _unbroadcast(self, g, x, idx):
        sg, sx = self.info(g)[0], self.info(x)[0]
        if sg == sx or sg is None:
            return self.low(g, idx, sx)
        if sx is None:
            return self._reduce_all(g, "sum")
        # sum g over the dimensions x was broadcast along
        nd = len(sg)
        xs = (1,) * (nd - len(sx)) + tuple(sx)
        fixed = ["0"] * (nd - len(sx)) + self._full_of(idx, sx)
        free = [d for d in range(nd) if xs[d] == 1 and sg[d] != 1]
        n = size(tuple(sg[d] for d in free))

        def body(k):
            ks = unravel(k, tuple(sg[d] for d in free))
            full = list(fixed)
            for d, kk in zip(free, ks):
                full[d] = kk
            return self.low(g, full, sg)
        return self._loop_reduce(n, body)

    def _matmul_grad(self, name, e, idx):
        g, x, y = e.args
        sx, sy = self.info(x)[0], self.info(y)[0]
        B = ast.BinOp
        if name == "rt.matmul_grad_x":
            if sx is None or sy is None:
                expr = B(g, ast.Mult(), y)
                return self._reduce_all(expr, "sum") if sx is None else self.low(expr, idx)
            if len(sy) == 1:
                if len(sx) == 2:
                    return self._outer(g, y, idx)
                return self.low(B(g, ast.Mult(), y), idx, sx)
            if len(sx) == 2:
                return self._matmul(g, ast.Attribute(y, "T"), idx)
            return self._matmul(y, g, idx)
        if sx is None or sy is None:
            expr = B(g, ast.Mult(), x)
            return self._reduce_all(expr, "sum") if sy is None else self.low(expr, idx)
        if len(sx) == 1:
            if len(sy) == 2:
                return self._outer(x, g, idx)
            return self.low(B(g, ast.Mult(), x), idx, sy)
        if len(sy) == 2:
            return self._matmul(ast.Attribute(x, "T"), g, idx)
        return self._matmul(g, x, idx)

    def _outer(self, a, b, idx):
        p1, x = self.low(a, [idx[0]])
        p2, y = self.low(b, [idx[1]])
        return p1 + p2, f"({x} * {y})"
