"""Lowering of statements to device code: assignments to arrays and slices, stacks, tapes, loops, returns."""
from __future__ import annotations

import ast

from ..errors import SrcdiffError
from ..transforms import annotations as anno
from .spelling import called, shown
from .tangent_tapes import dead_fills
from .common import (OVERFLOW, ASSERTION, EMPTY_SUM, PRINT_ITEMS, ARRAY_LITERALS, ELEMENTWISE, is_none, dotted, indexed,
                     local_size, size, unravel, flat_index, indent, Storage, BINOPS)


class StatementLowering:
    """Part of FunctionLowering (srcdiff/cuda/function.py): statements, each to a list of device lines."""

    def _names(self, e):
        return {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}

    def _aligned_safe(self, e, target, shape):
        if target not in self._names(e):
            return True
        if isinstance(e, ast.Name):
            return True
        if isinstance(e, (ast.BinOp,)) and not isinstance(e.op, ast.MatMult):
            return all(self._aligned_safe(c, target, shape) for c in (e.left, e.right))
        if isinstance(e, ast.UnaryOp):
            return self._aligned_safe(e.operand, target, shape)
        if isinstance(e, ast.Call) and dotted(e.func) in ELEMENTWISE:
            return all(self._aligned_safe(c, target, shape) for c in e.args)
        if isinstance(e, ast.Call) and dotted(e.func) in ("rt.unbroadcast", "rt.broadcast_to_like") and \
                self.info(e.args[0])[0] == shape:
            return self._aligned_safe(e.args[0], target, shape)
        return False

    def _fill(self, store_at, shape, value, target=None, aug=None):
        """Loop writing value (array context) into store_at(flat) for every element of shape."""
        n = size(shape)
        j = self.fresh("j")
        idx = unravel(j, shape)
        pre, v = self.low(value, idx, shape)
        if aug:
            v = f"{store_at(j)} {aug} {v}"
        body = pre + [f"{store_at(j)} = {v}"]
        return [f"for {j} in range({n}):"] + indent(body)

    def _temp(self, shape):
        t = self.fresh("tmp")
        self.allocs.append(f"{t} = cuda.local.array({local_size(shape)}, float64)")
        return t

    def _assign_array(self, name, value, node, aug=None):
        shape = self.shape[name]
        st = self.storage[name]
        if aug is None and isinstance(value, ast.Name) and value.id == name:
            return []
        if self._aligned_safe(value, name, shape):
            return self._fill(lambda j: st.at(j), shape, value, aug=aug)
        t = self._temp(shape)
        lines = self._fill(lambda j: f"{t}[{j}]", shape, value)
        j = self.fresh("j")
        upd = f"{st.at(j)} {aug}= {t}[{j}]" if aug else f"{st.at(j)} = {t}[{j}]"
        return lines + [f"for {j} in range({size(shape)}):", f"    {upd}"]

    def _assign_subscript(self, t, value, node, aug=None, at_each=False):
        """`t = value` (`t op= value` where `aug` is op) of a subscript t; `at_each`: np.add.at's `+=`, which adds
        at an element each time an index list names it (NumPy's `a[[0, 0]] += v` adds once: declined)."""
        name = t.value.id
        if aug and not at_each:
            self.once_each(t, "an in-place update")
        if name in self.specs and name not in self.p_written:
            self.fail(node, "writing into an argument array")
        if name in self.tapes:
            p1, i = self.low(t.slice)
            p2, v = self.low(value)
            return p1 + p2 + [f"{name}[{i}] {aug or ''}= {v}"]
        base = self.shape[name]
        shape, _ = self._view(t, base, None)
        st = self.storage[name]
        if not shape:
            _, full = self._view(t, base, [])
            p, v = self.low(value)
            return p + [f"{st.at(flat_index(full, base))} {aug or ''}= {v}"]
        src = value
        lines = []
        if name in self._names(value):
            tmp = self._temp(shape)
            lines += self._fill(lambda j: f"{tmp}[{j}]", shape, value)
            src = None
        j = self.fresh("j")
        idx = unravel(j, shape)
        _, full = self._view(t, base, idx)
        if src is None:
            pre, v = [], f"{tmp}[{j}]"
        else:
            pre, v = self.low(src, idx, shape)
        write = f"{st.at(flat_index(full, base))} {aug or ''}= {v}"
        return lines + [f"for {j} in range({size(shape)}):"] + indent(pre + [write])

    def stmts(self, body):
        out = []
        for st in body:
            out += self.p.comments_before(st.lineno)
            if not (isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                    and st.targets[0].id in self.tapes):
                self._prev_check = None
            self.current = st           # (the statement an expression's error reported after the launch names)
            try:
                out += self.stmt(st)
            except SrcdiffError:
                raise
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as ex:
                self.fail(st, f"unsupported on the device: {ex}")
        return out or ["pass"]

    def stmt(self, st):
        if isinstance(st, ast.Expr):
            return self._expression_statement(st)
        if isinstance(st, ast.Pass):
            return ["pass"]
        if isinstance(st, (ast.Break, ast.Continue)):
            return [ast.unparse(st)]
        if isinstance(st, ast.Assign):
            return self._assign(st)
        if isinstance(st, ast.AugAssign):
            op = BINOPS[type(st.op)]
            t = st.target
            if isinstance(t, ast.Name):
                if t.id in self.shape:
                    return self._assign_array(t.id, st.value, st, aug=op)
                p, x = self.low(st.value)
                return p + [f"{t.id} {op}= {x}"]
            return self._assign_subscript(t, st.value, st, aug=op)
        if isinstance(st, ast.For):
            it = st.iter
            if not (isinstance(it, ast.Call) and dotted(it.func) == "range" and isinstance(st.target, ast.Name)):
                self.fail(st, "for loops other than over range(...)")
            pre, args = self._low_args(it.args)
            return pre + [f"for {st.target.id} in range({', '.join(args)}):"] + indent(self.stmts(st.body))
        if isinstance(st, ast.While):
            p, c = self.low(st.test)
            if p:
                self.fail(st, "a while condition that needs a loop to evaluate")
            return [f"while {c}:"] + indent(self.stmts(st.body))
        if isinstance(st, ast.If):
            p, c = self.low(st.test)
            out = p + [f"if {c}:"] + indent(self.stmts(st.body))
            if st.orelse:
                out += ["else:"] + indent(self.stmts(st.orelse))
            return out
        if isinstance(st, ast.Return):
            return self._return(st)
        if isinstance(st, ast.Assert):
            return self._assert(st)
        self.fail(st, f"unsupported statement {type(st).__name__}")

    def _assert(self, st):
        """`assert test`: the entry returns ASSERTION for the example, and the host raises SrcdiffError."""
        if not self.entry:
            self.fail(st, "an assert in a helper function (device helpers cannot report it)",
                      "move the assert into the differentiated function")
        p, c = self.low(st.test)
        return p + [f"if not {c}:", f"    return {ASSERTION}"]

    def _none_placeholder(self, name):
        """`name = None`: generated code binds a value first set in a loop body or a branch to None before it
        (a tangent carried to the next iteration, a tape before an early return). No path reads it there (the CPU
        would fail on None), so the device keeps an array's buffer as it is and gives a number its type's zero;
        `x is None` tests of such names are declined (ExpressionLowering)."""
        if name in self.shape:
            return []
        return [f"{name} = {'0.0' if self.dtype.get(name, 'f') == 'f' else '0'}"]

    def _zero_placeholder(self, name):
        """An array's placeholder (Inference._placeholder): zeros of the shape of the name's real binding."""
        st = self.storage[name]
        zero = ast.Constant(0 if self.dtype.get(name) in ("i", "b") else 0.0)
        return self._fill(lambda j: st.at(j), self.shape[name], zero)

    def _empty_sum(self, st):
        """`total = np.zeros((1,))`, a sum(...) of arrays where its comprehension runs no iteration: NumPy's value is
        the number 0 (zeros of the terms' rank in generated code), which an array of one shape cannot be. The entry
        returns EMPTY_SUM for the example, and the host raises SrcdiffError."""
        if not self.entry:
            self.fail(st, "a sum(...) of arrays over a comprehension in a helper function (where its comprehension "
                          "runs no iteration, device helpers cannot report it)",
                      "compute the sum in the differentiated function")
        return [f"return {EMPTY_SUM}"]

    def _pop(self, name, stk):
        """`name = stk.pop()`: a number, or an array's elements copied from the stack's last row."""
        shape = self.stack_shapes.get(stk)
        if shape is None:
            return [f"{stk}_n -= 1", f"{name} = {stk}[{stk}_n]"]
        st, j = self.storage[name], self.fresh("j")
        return [f"{stk}_n -= 1", f"for {j} in range({size(shape)}):",
                f"    {st.at(j)} = {stk}[{stk}_n * {size(shape)} + {j}]"]

    def _print(self, st):
        """`print('x =', x)`: each thread prints its example's line (CUDA's printf, at most PRINT_ITEMS values): text
        written out, numbers, and a named array's elements one by one."""
        call, items, pre = st.value, [], []
        if call.keywords:
            self.fail(st, "print(...) with keyword arguments on the device", "print without sep=, end= or file=")
        for a in call.args:
            if isinstance(a, ast.Constant) and isinstance(a.value, str):
                items.append(repr(a.value))
                continue
            shape = self.info(a)[0]
            if shape is None:
                p, x = self.low(a)
                pre, items = pre + p, items + [x]
            elif isinstance(a, ast.Name) and a.id in self.storage:
                items += [self.storage[a.id].at(k) for k in range(size(shape))]
            else:
                self.fail(st, f"print of the array expression {shown(a)} on the device",
                          "bind the array to a name and print that (its elements are printed one by one)")
        if len(items) > PRINT_ITEMS:
            self.fail(st, f"print of {len(items)} values on the device (CUDA's printf takes at most {PRINT_ITEMS})",
                      "print fewer values: a slice of the array bound to a name, or its sum")
        return pre + [f"print({', '.join(items)})"]

    def _expression_statement(self, st):
        """A line comment's placeholder (no code), a print, a stack push `stk.append(x)` with its capacity check, or
        a call of a helper whose result nothing reads (called all the same: it may print)."""
        v = st.value
        if isinstance(v, ast.Constant):
            return []
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print":
            return self._print(st)
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "append":
            stk = v.func.value.id
            check = [f"if {stk}_n >= {self.stack_cap[stk]}:", f"    return {OVERFLOW}"]
            shape = self.stack_shapes.get(stk)
            if shape is not None:      # an array: its elements at row stk_n of the stack
                push = self._fill(lambda j: f"{stk}[{stk}_n * {size(shape)} + {j}]", shape, v.args[0])
                return check + push + [f"{stk}_n += 1"]
            p, x = self.low(v.args[0])
            return p + check + [f"{stk}[{stk}_n] = {x}", f"{stk}_n += 1"]
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in self.p.helpers:
            p, x = self.low(v)        # a helper called for its effects (a print): called, its result unused
            return p + [x]
        name = dotted(v.func) if isinstance(v, ast.Call) else None
        if name == "rt.index_add" and len(v.args) == 3 and indexed(v, ast.Store()) is not None:
            return self._assign_subscript(indexed(v, ast.Store()), v.args[2], st, aug="+", at_each=True)
        if name == "rt.check_unpack":
            return self._unpack_count(st, v)
        if name and name.startswith("rt."):     # (srcdiff's own statement: the derivative's, an indexed write)
            self.fail(st, f"the derivative of this line writes through {called(name)}, which has no device lowering",
                      "index with integers, one element at a time (device code has no index arrays or masks)")
        self.fail(st, f"the statement {shown(st)} (a call whose result nothing reads: device code evaluates "
                      "calls for their results)",
                  "assign its result to a name where it is needed, or leave the call out")

    def _unpack_count(self, st, v):
        """`rt.check_unpack(x, n)` (Python's count check of `a, b = x`): decided here, where the kernel is built, from
        x's shape per thread (its rows), or a shape's length (`n, m = M.shape`): no code, or declined as Python
        raises ValueError."""
        x, n = v.args[0], v.args[1].value
        if isinstance(x, ast.Name) and x.id in self.tuples:     # (a name of a shape: its binding's)
            x = next((b.value for b in ast.walk(self.fn) if isinstance(b, ast.Assign) and len(b.targets) == 1
                      and isinstance(b.targets[0], ast.Name) and b.targets[0].id == x.id), x)
        if isinstance(x, ast.Attribute) and x.attr == "shape" or (
                isinstance(x, ast.Call) and dotted(x.func) == "np.shape" and len(x.args) == 1):
            of = self.info(x.value if isinstance(x, ast.Attribute) else x.args[0])[0]
            count = len(of) if isinstance(of, tuple) else None
        else:
            shape = self.info(x)[0] if not isinstance(x, ast.Tuple) else None
            count = len(x.elts) if isinstance(x, ast.Tuple) else shape[0] if isinstance(shape, tuple) and shape else None
        if count == n:
            return []
        self.fail(st, f"unpacking into {n} names" + (
            f" a value of {count} items: Python raises ValueError" if count is not None else
            " a value whose number of items the kernel does not know"),
            "unpack as many names as it has items, or index it (x[0], x[1])")

    def _assign(self, st):
        if len(st.targets) != 1:
            self.fail(st, "multiple assignment targets")
        t, v = st.targets[0], st.value
        if isinstance(t, ast.Name):
            if t.id in self.stacks:
                return [f"{t.id}_n = 0"]
            if t.id in self.tapes:
                if isinstance(v, ast.Name):         # a merge of a tape's versions (or its placeholder): the array
                    return [f"{t.id} = {v.id}"]
                return [] if anno.get(st, anno.PLACEHOLDER) else self._tape_allocation(t.id, v)
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "pop":
                return self._pop(t.id, v.func.value.id)
            if is_none(v):
                return self._none_placeholder(t.id)
            if t.id in self.placeholders and anno.get(st, anno.PLACEHOLDER):
                return self._zero_placeholder(t.id)
            if t.id in self.placeholders and anno.get(st, anno.SUM_EMPTY):
                return self._empty_sum(st)
            if t.id in self.shape and t.id not in self.tuples:
                if isinstance(v, ast.Call) and dotted(v.func) in ARRAY_LITERALS:
                    return self._assign_literal(t.id, v)
                return self._assign_array(t.id, v, st)
            if isinstance(v, ast.Tuple):            # a tuple of scalars (a shape: `v1 = (2, 4)`)
                p, x = self._low_tuple(v)
                return p + [f"{t.id} = {x}"]
            p, x = self.low(v)
            return p + [f"{t.id} = {x}"]
        if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
            return self._assign_subscript(t, v, st)
        if isinstance(t, ast.Tuple) and all(isinstance(x, ast.Name) for x in t.elts):
            p, x = self.low(v)
            return p + [f"{', '.join(x_.id for x_ in t.elts)} = {x}"]
        self.fail(st, f"unsupported assignment {shown(st)}")

    def _assign_literal(self, name, e):
        """`v = np.array((s0, s1, ...))` / rt.array: v's local array (or its rows of the output) filled element by
        element; of arrays of one shape, row by row. Elements that read v itself are all computed first, into a
        temporary array."""
        shape = self.shape[name]
        inner, st = shape[1:], self.storage[name]
        tmp = self._temp(shape) if name in self._names(e) else None
        at = (lambda j: f"{tmp}[{j}]") if tmp else st.at
        n = size(inner)
        out = []
        for k, x in enumerate(self.literal_elements(e)):
            if isinstance(x, (ast.Tuple, ast.List)):        # a row written out: its numbers in order
                for j, leaf in enumerate(_row_numbers(x)):
                    p, v = self.low(leaf)
                    out += p + [f"{at(k * n + j)} = {v}"]
            elif not inner:
                p, v = self.low(x)
                out += p + [f"{at(k)} = {v}"]
            else:
                out += self._fill(lambda j, k=k: at(f"{k * n} + {j}" if k else j), inner, x)
        if tmp:
            j = self.fresh("j")
            out += [f"for {j} in range({size(shape)}):", f"    {st.at(j)} = {tmp}[{j}]"]
        return out

    def _tape_allocation(self, name, v):
        """The statement that allocates a tape on the CPU: its local array is allocated once at the top of
        the device function, so here it becomes the check that the run fits the array (once for a run of
        tapes of the same size), or zero-filling for a tangent tape that copies another's shape, where a read may
        reach an element no write set (cuda/tangent_tapes.py); `tape = None`
        (the placeholder bound before a branch that may return early) is no code, as is its typed form
        `tape = np.zeros((1,), dtype=...)` (transforms/unbound.py's PLACEHOLDER: the caller passes it over)."""
        if is_none(v):
            return []
        if self._tape_like(v) is not None:
            if id(v) in self._dead_fills():
                return []
            k = self.fresh("k")
            zero = "0.0" if self.tapes[name] == "f" else "0"
            return [f"for {k} in range({self.tape_cap[name]}):", f"    {name}[{k}] = {zero}"]
        cap = self.tape_cap[name]
        p, n = self.low(v.args[0])
        check = p + [f"if {n} > {cap}:", f"    return {OVERFLOW}"]
        if check == self._prev_check:
            return []
        self._prev_check = check
        return check

    def _dead_fills(self):
        """The tangent tapes' allocations whose zeros no read reaches (tangent_tapes.dead_fills)."""
        if getattr(self, "_dead", None) is None:
            tangents = {st.targets[0].id: self._tape_like(st.value) for st in ast.walk(self.fn)
                        if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                        and self._tape_like(st.value) is not None}
            self._dead = dead_fills(self.fn, tangents)
        return self._dead

    def _leaves(self, e, acc):
        if isinstance(e, ast.Tuple):
            return tuple(self._leaves(x, acc) for x in e.elts)
        acc.append(e)
        return len(acc) - 1

    def _return(self, st):
        if not self.entry:
            if st.value is None:
                self.fail(st, "a helper without a result")
            p, x = self.low(st.value) if not isinstance(st.value, ast.Tuple) else self._low_tuple(st.value)
            return p + [f"return {x}"]
        leaves = []
        self._leaves(st.value, leaves)
        out = []
        for e, (off, shape) in zip(leaves, self.outputs):
            if shape is None:
                p, x = self.low(e)
                out += p + [f"cu_out[{off}, cu_col] = {x}" if off else f"cu_out[0, cu_col] = {x}"]
            elif isinstance(e, ast.Name) and self.storage.get(e.id) == Storage("cu_out", shape, off, True):
                continue
            else:
                out += self._fill(lambda j, off=off: f"cu_out[{off} + {j}, cu_col]", shape, e)
        return out + ["return 0"]

    def _low_tuple(self, t):
        pre, xs = self._low_args(t.elts)
        return pre, "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"


def _row_numbers(x) -> list:
    """The numbers of a row of an array literal written out (`((1, 2), (3, 4))`), in row-major order."""
    if isinstance(x, (ast.Tuple, ast.List)):
        return [leaf for y in x.elts for leaf in _row_numbers(y)]
    return [x]
