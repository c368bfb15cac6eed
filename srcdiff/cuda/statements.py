"""Lowering of statements to device code: assignments to arrays and slices, stacks, tapes, loops, returns."""
from __future__ import annotations

import ast

from ..errors import SrcdiffError
from .common import OVERFLOW, _ELEMENTWISE, dotted, _size, _unravel, _flat, _indent, Storage, _OPS


class StatementLowering:
    """Part of FunctionLowering: statements."""

    # ---- lowering: statements -----------------------------------------------------------------------
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
        if isinstance(e, ast.Call) and dotted(e.func) in _ELEMENTWISE:
            return all(self._aligned_safe(c, target, shape) for c in e.args)
        if isinstance(e, ast.Call) and dotted(e.func) in ("rt.unbroadcast", "rt.broadcast_to_like") and \
                self.info(e.args[0])[0] == shape:
            return self._aligned_safe(e.args[0], target, shape)
        return False

    def _fill(self, store_at, shape, value, target=None, aug=None):
        """Loop writing value (array context) into store_at(flat) for every element of shape."""
        n = _size(shape)
        j = self.fresh("j")
        idx = _unravel(j, shape)
        pre, v = self.low(value, idx, shape)
        if aug:
            v = f"{store_at(j)} {aug} {v}"
        body = pre + [f"{store_at(j)} = {v}"]
        return [f"for {j} in range({n}):"] + _indent(body)

    def _temp(self, shape):
        t = self.fresh("tmp")
        self.allocs.append(f"{t} = cuda.local.array({_size(shape)}, float64)")
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
        return lines + [f"for {j} in range({_size(shape)}):", f"    {upd}"]

    def _assign_subscript(self, t, value, node, aug=None):
        name = t.value.id
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
            return p + [f"{st.at(_flat(full, base))} {aug or ''}= {v}"]
        src = value
        lines = []
        if name in self._names(value):
            tmp = self._temp(shape)
            lines += self._fill(lambda j: f"{tmp}[{j}]", shape, value)
            src = None
        j = self.fresh("j")
        idx = _unravel(j, shape)
        _, full = self._view(t, base, idx)
        if src is None:
            pre, v = [], f"{tmp}[{j}]"
        else:
            pre, v = self.low(src, idx, shape)
        return lines + [f"for {j} in range({_size(shape)}):"] + _indent(pre + [f"{st.at(_flat(full, base))} {aug or ''}= {v}"])

    def stmts(self, body):
        out = []
        for st in body:
            out += self.p.comments_before(st.lineno)
            if not (isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                    and st.targets[0].id in self.tapes):
                self._prev_check = None
            try:
                out += self.stmt(st)
            except SrcdiffError:
                raise
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as ex:
                self.fail(st, f"unsupported on the device: {ex}")
        return out or ["pass"]

    def stmt(self, st):
        if isinstance(st, ast.Expr):
            v = st.value
            if isinstance(v, ast.Constant):
                return []
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "append":
                stk = v.func.value.id
                cap = self.stack_cap[stk]
                p, x = self.low(v.args[0])
                return p + [f"if {stk}_n >= {cap}:", f"    return {OVERFLOW}", f"{stk}[{stk}_n] = {x}",
                            f"{stk}_n += 1"]
            self.fail(st, f"unsupported statement {ast.unparse(st)}")
        if isinstance(st, ast.Pass):
            return ["pass"]
        if isinstance(st, (ast.Break, ast.Continue)):
            return [ast.unparse(st)]
        if isinstance(st, ast.Assign):
            if len(st.targets) != 1:
                self.fail(st, "multiple assignment targets")
            t, v = st.targets[0], st.value
            if isinstance(t, ast.Name):
                if t.id in self.stacks:
                    return [f"{t.id}_n = 0"]
                if t.id in self.tapes and self._tape_like(v) is not None:
                    k = self.fresh("k")
                    zero = "0.0" if self.tapes[t.id] == "f" else "0"
                    return [f"for {k} in range({self.tape_cap[t.id]}):", f"    {t.id}[{k}] = {zero}"]
                if t.id in self.tapes:
                    cap = self.tape_cap[t.id]
                    p, n = self.low(v.args[0])
                    check = p + [f"if {n} > {cap}:", f"    return {OVERFLOW}"]
                    if check == self._prev_check:
                        return []
                    self._prev_check = check
                    return check
                if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "pop":
                    stk = v.func.value.id
                    return [f"{stk}_n -= 1", f"{t.id} = {stk}[{stk}_n]"]
                if t.id in self.tuples:
                    p, x = self.low(v)
                    return p + [f"{t.id} = {x}"]
                if t.id in self.shape:
                    return self._assign_array(t.id, v, st)
                p, x = self.low(v)
                return p + [f"{t.id} = {x}"]
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                return self._assign_subscript(t, v, st)
            if isinstance(t, ast.Tuple) and all(isinstance(x, ast.Name) for x in t.elts):
                p, x = self.low(v)
                return p + [f"{', '.join(x_.id for x_ in t.elts)} = {x}"]
            self.fail(st, f"unsupported assignment {ast.unparse(st)}")
        if isinstance(st, ast.AugAssign):
            op = _OPS[type(st.op)]
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
            pre, args = [], []
            for x in it.args:
                p, s = self.low(x)
                pre += p
                args.append(s)
            return pre + [f"for {st.target.id} in range({', '.join(args)}):"] + _indent(self.stmts(st.body))
        if isinstance(st, ast.While):
            p, c = self.low(st.test)
            if p:
                self.fail(st, "a while condition that needs a loop to evaluate")
            return [f"while {c}:"] + _indent(self.stmts(st.body))
        if isinstance(st, ast.If):
            p, c = self.low(st.test)
            out = p + [f"if {c}:"] + _indent(self.stmts(st.body))
            if st.orelse:
                out += ["else:"] + _indent(self.stmts(st.orelse))
            return out
        if isinstance(st, ast.Return):
            return self._return(st)
        self.fail(st, f"unsupported statement {type(st).__name__}")

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
        pre, xs = [], []
        for x in t.elts:
            p, s = self.low(x)
            pre += p
            xs.append(s)
        return pre, "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"
