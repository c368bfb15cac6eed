"""Pass 8: reverse mode. From an SSA function, build `f_grad`: the forward sweep (the user's code,
saving in typed stacks what later iterations overwrite) followed by the backward sweep (adjoint
statements from the rule templates, in reverse order, commented with the user's lines).

Adjoint `d_v` of an SSA value `v` is created by its first contribution and consumed at v's
definition; loops carry the adjoints of values defined outside them; branches are made to agree.
"""
from __future__ import annotations

import copy
import linecache

import gast

from ..errors import fail
from ..rules import RULES
from .activity import bind, sources
from .astutil import Namer, assign, call, comment, const, dotted, dotted_name, load, loaded_names, names_in, store

_BINOP_RULE = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.Pow: "**", gast.MatMult: "@"}
_INT_OPS = (gast.FloorDiv, gast.Mod, gast.BitAnd, gast.BitOr, gast.BitXor, gast.LShift, gast.RShift)


def simplify(e):
    """Fold constants and drop identities (x ** 1, x * 1.0) so generated code reads naturally."""
    class S(gast.NodeTransformer):
        def visit_BinOp(self, n):
            self.generic_visit(n)
            L, R = n.left, n.right
            lc, rc = isinstance(L, gast.Constant), isinstance(R, gast.Constant)
            num = lambda c: isinstance(c.value, (int, float)) and not isinstance(c.value, bool)  # noqa: E731
            if lc and rc and num(L) and num(R) and not isinstance(n.op, gast.MatMult):
                try:
                    val = eval(compile(gast.gast_to_ast(gast.Expression(body=n)), "<fold>", "eval"))
                    return const(val)
                except Exception:
                    return n
            if rc and num(R):
                if isinstance(n.op, gast.Pow) and R.value == 1:
                    return L
                if isinstance(n.op, (gast.Mult, gast.Div)) and R.value == 1:
                    return L
                if isinstance(n.op, (gast.Add, gast.Sub)) and R.value == 0:
                    return L
            if lc and num(L) and isinstance(n.op, gast.Mult) and L.value == 1:
                return R
            return n
    return S().visit(e)


class Reverse:
    """Generates the gradient function of one SSA unit."""

    def __init__(self, unit, wrt: list, active: set, mode: str, callee_vjp, restore: set, needed: set):
        self.unit, self.fn = unit, unit.node
        self.wrt, self.active, self.mode = wrt, active, mode
        self.callee_vjp = callee_vjp        # (callee name, active positions) -> generated function name
        self.restore = restore              # arrays whose overwritten elements the backward sweep restores
        self.needed = needed                # primal names the backward sweep reads (from a first round)
        taken = names_in(self.fn) | {"np", "rt", "math"}
        for n in gast.walk(self.fn):
            taken |= {getattr(n, a) for a in ("_srcdiff_old", "_srcdiff_iters") if hasattr(n, a)}
        self.namer = Namer(taken)
        self.adj_names: dict = {}
        self.reads: set = set()
        self.stacks: dict = {}              # primal name -> stack name
        self.primal_names = names_in(self.fn)
        self.last_line = None

    # ---- names ------------------------------------------------------------------------------------
    def adj(self, v: str) -> str:
        if v not in self.adj_names:
            self.adj_names[v] = self.namer.fresh("d_" + v)
        return self.adj_names[v]

    def stack(self, v: str) -> str:
        if v not in self.stacks:
            self.stacks[v] = self.namer.fresh(v + "_stack")
        return self.stacks[v]

    def read(self, e):
        self.reads |= loaded_names(e) & self.primal_names
        return e

    # ---- adjoint accumulation ---------------------------------------------------------------------
    def accum(self, v, expr, state, out):
        """d_v += expr (or d_v = expr for the first contribution)."""
        if v not in self.active:
            return
        d = self.adj(v)
        expr = simplify(expr)
        self.read(expr)
        if d in state:
            out.append(assign(d, gast.BinOp(left=load(d), op=gast.Add(), right=expr)))
            state[d] = True  # a fresh array
        else:
            out.append(assign(d, expr))
            state[d] = False  # may alias another adjoint

    def own(self, v, state, out):
        """Make d_v an array this sweep may update in place."""
        d = self.adj(v)
        if d not in state:
            out.append(assign(d, call("rt.zeros_like", self.read(load(v)))))
            state[d] = True
        elif not state[d]:
            out.append(assign(d, call("rt.copy", load(d))))
            state[d] = True

    # ---- forward sweep -------------------------------------------------------------------------------
    def owned(self, stmts) -> list:
        out = []
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and not getattr(s, "_srcdiff_count", False):
                out.append(s.targets[0].id)
            if hasattr(s, "_srcdiff_old"):
                out.append(s._srcdiff_old)
            if isinstance(s, gast.While):
                out.append(s._srcdiff_iters)
        return [v for k, v in enumerate(out) if v not in out[:k]]

    def forward(self, stmts, in_loop):
        out = []
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
                arr = s.targets[0].value.id
                if arr in self.restore:
                    if not hasattr(s, "_srcdiff_old"):
                        s._srcdiff_old = self.namer.fresh(arr + "_old")
                    self.needed.add(s._srcdiff_old)
                    idx = copy.deepcopy(s.targets[0].slice)
                    out.append(assign(s._srcdiff_old, call("rt.copy", gast.Subscript(
                        value=load(arr), slice=idx, ctx=gast.Load()))))
                out.append(s)
            elif isinstance(s, gast.If):
                out.append(gast.If(test=s.test, body=self.forward(s.body, in_loop) or [gast.Pass()],
                                   orelse=self.forward(s.orelse, in_loop)))
            elif isinstance(s, gast.For):
                out.append(gast.For(target=s.target, iter=s.iter, body=self.forward(s.body, True), orelse=[],
                                    type_comment=None))
            elif isinstance(s, gast.While):
                if not hasattr(s, "_srcdiff_iters"):
                    s._srcdiff_iters = self.namer.fresh("iterations")
                n = s._srcdiff_iters
                incr = assign(n, gast.BinOp(left=load(n), op=gast.Add(), right=const(1)))
                incr._srcdiff_count = True
                body = self.forward(s.body, True)
                cut = len(body) - _trailing_phis(body)
                out += [assign(n, const(0)),
                        gast.While(test=s.test, body=body[:cut] + [incr] + body[cut:], orelse=[])]
            elif isinstance(s, gast.Return):
                continue
            else:
                out.append(s)
        if in_loop:
            pushes = [gast.Expr(value=call(gast.Attribute(value=load(self.stack(v)), attr="append", ctx=gast.Load()),
                                           load(v)))
                      for v in self.owned(stmts) if v in self.needed]
            cut = len(out) - _trailing_phis(out)
            out = out[:cut] + pushes + out[cut:]
        return out

    def pops(self, stmts):
        pushed = [v for v in self.owned(stmts) if v in self.needed]
        return [assign(v, call(gast.Attribute(value=load(self.stack(v)), attr="pop", ctx=gast.Load())))
                for v in reversed(pushed)]

    # ---- backward sweep ------------------------------------------------------------------------------
    def backward(self, stmts, in_loop, state):
        out = self.pops(stmts) if in_loop else []
        for s in reversed(stmts):
            code = self.backward_stmt(s, state)
            if code:
                line = getattr(s, "lineno", None)
                if line is not None and line != self.last_line and not getattr(s, "_srcdiff_phi", False) \
                        and not getattr(s, "_srcdiff_merge", False):
                    text = linecache.getline(self.unit.filename, line).strip()
                    out.append(comment(f"line {line}: {text}" if text else f"line {line}"))
                    self.last_line = line
                out += code
        return out

    def backward_stmt(self, s, state):
        out = []
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                self.backward_assign(t.id, s.value, s, state, out)
            else:
                self.backward_write(s, state, out)
        elif isinstance(s, gast.If):
            self.backward_if(s, state, out)
        elif isinstance(s, (gast.For, gast.While)):
            self.backward_loop(s, state, out)
        return out

    def backward_assign(self, t, value, s, state, out):
        d = self.adj(t)
        if t not in self.active or d not in state:
            return
        g = load(d)
        contribs = []  # (name, expr)
        if isinstance(value, gast.Name):
            contribs.append((value.id, g))
        elif isinstance(value, gast.BinOp) and type(value.op) in _BINOP_RULE:
            rule = RULES[_BINOP_RULE[type(value.op)]]
            contribs += self.instantiate(rule, {"x": value.left, "y": value.right}, t, g)
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub):
            contribs += self.instantiate(RULES["neg"], {"x": value.operand}, t, g)
        elif isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.UAdd):
            contribs.append((value.operand.id, g))
        elif isinstance(value, gast.Call):
            contribs += self.backward_call(t, value, s, g, out)
        elif isinstance(value, gast.Subscript):
            src = value.value.id
            del state[d]
            if src in self.active:
                self.own(src, state, out)
                idx = self.read(copy.deepcopy(value.slice))
                target = gast.Subscript(value=load(self.adj(src)), slice=idx, ctx=gast.Store())
                if _basic_index(idx, self.int_names):
                    out.append(gast.AugAssign(target=target, op=gast.Add(), value=g))
                else:
                    out.append(gast.Expr(value=call("rt.index_add", load(self.adj(src)), _slice_objects(idx), g)))
            return
        elif isinstance(value, gast.Tuple):
            fail(s, self.unit, "tuples of differentiated values are only supported as function arguments",
                 "return a single array (np.stack / np.concatenate the parts) and use vjp or jacobian")
        del state[d]
        for v, expr in contribs:
            self.accum(v, expr, state, out)

    def instantiate(self, rule, bound, ans, g):
        out = []
        for p, tpl in rule.vjp.items():
            a = bound.get(p)
            if tpl is None or not isinstance(a, gast.Name) or a.id not in self.active:
                continue
            mapping = {k: v for k, v in bound.items()}
            mapping.update({"g": g, "ans": load(ans)})
            out.append((a.id, _subst(tpl, mapping)))
        return out

    def backward_call(self, t, value, s, g, out):
        name = dotted_name(value.func)
        if name in self.unit.callees:
            pos = [k for k, a in enumerate(value.args) if isinstance(a, gast.Name) and a.id in self.active]
            if not pos:
                return []
            fname = self.callee_vjp(name, tuple(pos), s)
            temps = [self.namer.fresh("d_" + value.args[k].id) for k in pos]
            args = [self.read(copy.deepcopy(a)) for a in value.args] + [g]
            target = store(temps[0]) if len(temps) == 1 else gast.Tuple(elts=[store(x) for x in temps],
                                                                         ctx=gast.Store())
            out.append(assign(target, call(load(fname), *args)))
            return [(value.args[k].id, load(tmp)) for k, tmp in zip(pos, temps)]
        rule = RULES[name]
        if rule.nondiff:
            return []
        if rule.variadic:
            return self.backward_variadic(rule, value, t, g, s)
        try:
            bound = bind(rule, value)
        except TypeError as exc:
            fail(s, self.unit, f"bad arguments to {name}: {exc}")
        return self.instantiate(rule, bound, t, g)

    def backward_variadic(self, rule, value, t, g, s):
        seq = value.args[0]
        axis = value.args[1] if len(value.args) > 1 else next(
            (k.value for k in value.keywords if k.arg == "axis"), const(0))
        if not isinstance(seq, (gast.Tuple, gast.List)):
            if rule.variadic == "array" and isinstance(seq, gast.Name):
                return [(seq.id, g)]
            fail(s, self.unit, f"{rule.name} needs a literal tuple or list of arrays to differentiate",
                 f"write {rule.name}((a, b, ...)) with the parts listed")
        out, offset = [], const(0)
        for k, e in enumerate(seq.elts):
            if rule.variadic in ("stack", "array"):
                expr = (gast.Subscript(value=g, slice=const(k), ctx=gast.Load()) if rule.variadic == "array"
                        else call("rt.index_axis", g, copy.deepcopy(axis), const(k)))
                nxt = offset
            else:
                size = gast.Subscript(value=call("np.shape", copy.deepcopy(e)), slice=copy.deepcopy(axis),
                                      ctx=gast.Load())
                nxt = simplify(gast.BinOp(left=offset, op=gast.Add(), right=size))
                expr = call("rt.slice_axis", g, copy.deepcopy(axis), copy.deepcopy(offset), copy.deepcopy(nxt))
            if isinstance(e, gast.Name) and e.id in self.active:
                out.append((e.id, expr))
            offset = nxt
        return out

    def backward_write(self, s, state, out):
        t = s.targets[0]
        arr, idx = t.value.id, t.slice
        if arr in self.active and self.adj(arr) in state:
            self.own(arr, state, out)
            dx = self.adj(arr)
            v = s.value
            read_adj = gast.Subscript(value=load(dx), slice=self.read(copy.deepcopy(idx)), ctx=gast.Load())
            if isinstance(v, gast.Name) and v.id in self.active:
                self.accum(v.id, call("rt.copy", read_adj), state, out)
            out.append(assign(gast.Subscript(value=load(dx), slice=copy.deepcopy(idx), ctx=gast.Store()), const(0.0)))
        if arr in self.restore:
            old = s._srcdiff_old
            self.reads.add(old)
            out.append(assign(gast.Subscript(value=load(arr), slice=self.read(copy.deepcopy(idx)), ctx=gast.Store()),
                              load(old)))

    def backward_if(self, s, state, out):
        s1, s2 = dict(state), dict(state)
        save = self.last_line
        r1 = self.backward(s.body, False, s1)
        self.last_line = save
        r2 = self.backward(s.orelse, False, s2)
        self.last_line = None
        # pops of names defined in the branches (inside loops) come first in each branch
        if self._in_loop:
            r1, r2 = self.pops(s.body) + r1, self.pops(s.orelse) + r2
        for a, b, rb in ((s1, s2, r2), (s2, s1, r1)):
            for d in a:
                if d not in b:
                    rb.append(assign(d, self.zero(self._primal_of(d))))
                    b[d] = True
        if not r1 and not r2:
            return
        state.clear()
        state.update({d: s1[d] and s2[d] for d in s1})
        self.read(s.test)
        out.append(gast.If(test=s.test, body=r1 or [gast.Pass()], orelse=r2))

    def zero(self, v):
        """A zero adjoint for v (scalar 0.0 where v may be undefined on this path)."""
        if v in getattr(self.fn, "_srcdiff_maybe_undefined", ()):
            return const(0.0)
        return call("rt.zeros_like", self.read(load(v)))

    def defs_outside(self, loop):
        """Names defined (or parameters) outside `loop`'s body, and names read outside it."""
        inner = {id(n) for b in loop.body for n in gast.walk(b)}
        out = {a.id for a in self.fn.args.args}
        used = set()
        for n in gast.walk(self.fn):
            if id(n) in inner:
                continue
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                out.add(n.targets[0].id)
            elif isinstance(n, gast.For):
                out.add(n.target.id)
            elif isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                used.add(n.id)
        return out, used

    def _primal_of(self, d):
        return next(v for v, a in self.adj_names.items() if a == d)

    def backward_loop(self, s, state, out):
        outside, used_after = self.defs_outside(s)
        escaping = _assigned_in(s.body) & used_after  # body values read after the loop
        carried = [v for v in sorted(_loaded_in(s.body) | _written_arrays(s.body) | _phis(s.body) | escaping)
                   if v in self.active and (v in outside or v in escaping or v in _written_arrays(s.body))]
        inplace = _written_arrays(s.body) | _subscripted(s.body)
        body_state = {}
        for v in carried:
            d = self.adj(v)
            if d not in state:
                out.append(assign(d, self.zero(v)))
                state[d] = True
            elif v in inplace and not state[d]:
                out.append(assign(d, call("rt.copy", load(d))))
                state[d] = True
            body_state[d] = state[d]
        prev_in_loop, self._in_loop = self._in_loop, True
        self.last_line = None
        body = self.backward(s.body, True, body_state)
        self._in_loop = prev_in_loop
        for v in carried:
            d = self.adj(v)
            if d not in body_state:
                body.append(assign(d, self.zero(v)))
            elif v in inplace and not body_state[d]:
                body.append(assign(d, call("rt.copy", load(d))))
        self.last_line = None
        if isinstance(s, gast.For):
            target = s.target.id
            it = self.read(_reversed_range(s.iter.args))
        else:
            target = self.namer.fresh("k")
            it = call("range", self.read(load(s._srcdiff_iters)))
        if not any(not isinstance(b, gast.Expr) or not _is_comment(b) for b in body):
            return
        out.append(gast.For(target=store(target), iter=it, body=body, orelse=[], type_comment=None))

    # ---- whole function ----------------------------------------------------------------------------------
    def function(self, name):
        fn = self.fn
        self.int_names = _int_names(fn)
        self._in_loop = False
        ret = fn.body[-1].value
        body = fn.body[:-1]
        fwd = self.forward(body, False)
        state = {}
        seed = []
        params = [a.id for a in fn.args.args]
        if self.mode in ("vjp", "pullback"):
            gname = self.namer.fresh("g")
            params = params + [gname]
        if isinstance(ret, gast.Name) and ret.id in self.active:
            d = self.adj(ret.id)
            seed_expr = load(gname) if self.mode in ("vjp", "pullback") else call("rt.seed", load(ret.id))
            seed.append(assign(d, seed_expr))
            state[d] = False
        bwd = self.backward(body, False, state)
        grads = []
        for p in self.wrt:
            d = self.adj(p)
            grads.append(load(d) if d in state else call("rt.zeros_like", load(p)))
        inits = [assign(st, gast.List(elts=[], ctx=gast.Load())) for st in self.stacks.values()]
        result = grads[0] if len(grads) == 1 else gast.Tuple(elts=grads, ctx=gast.Load())
        if self.mode in ("value_and_grad", "vjp"):
            result = gast.Tuple(elts=[ret, result], ctx=gast.Load())
        stmts = inits + [comment("forward sweep")] + fwd + [comment("backward sweep")] + seed + bwd
        stmts.append(gast.Return(value=result))
        args = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                    for p in params], posonlyargs=[], vararg=None, kwonlyargs=[],
                              kw_defaults=[], kwarg=None, defaults=[])
        return gast.FunctionDef(name=name, args=args, body=stmts, decorator_list=[], returns=None,
                                type_comment=None, type_params=[])


# ---- helpers over SSA blocks ------------------------------------------------------------------------------
def _subst(tpl, mapping):
    from .astutil import substitute
    return substitute(tpl, mapping)


def _is_comment(stmt):
    from .astutil import is_comment
    return is_comment(stmt)


def _trailing_phis(stmts) -> int:
    n = 0
    for s in reversed(stmts):
        if getattr(s, "_srcdiff_phi", False):
            n += 1
        else:
            break
    return n


def _phis(stmts) -> set:
    return {s.targets[0].id for s in stmts if getattr(s, "_srcdiff_phi", False)}


def _assigned_in(stmts) -> set:
    out = set()
    for s in stmts:
        for n in gast.walk(s):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
                out.add(n.targets[0].id)
            if isinstance(n, gast.For):
                out.add(n.target.id)
    return out


def _loaded_in(stmts) -> set:
    out = set()
    for s in stmts:
        out |= loaded_names(s)
    return out


def _written_arrays(stmts) -> set:
    return {n.targets[0].value.id for s in stmts for n in gast.walk(s)
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript)}


def _subscripted(stmts) -> set:
    return {n.value.id for s in stmts for n in gast.walk(s)
            if isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name)}


def _int_names(fn) -> set:
    """Names that certainly hold Python ints: range loop indices and integer arithmetic on them."""
    ints = {n.target.id for n in gast.walk(fn) if isinstance(n, gast.For)}
    changed = True
    while changed:
        changed = False
        for n in gast.walk(fn):
            if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) and n.targets[0].id not in ints:
                v = n.value
                ok = False
                if isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Sub, gast.Mult) + _INT_OPS):
                    ok = all(_is_int_atom(a, ints) for a in (v.left, v.right))
                elif isinstance(v, gast.Call) and dotted_name(v.func) in ("len", "int"):
                    ok = True
                elif _is_int_atom(v, ints):
                    ok = True
                if ok:
                    ints.add(n.targets[0].id)
                    changed = True
    return ints


def _is_int_atom(a, ints) -> bool:
    if isinstance(a, gast.Constant):
        return isinstance(a.value, int) and not isinstance(a.value, bool)
    return isinstance(a, gast.Name) and a.id in ints


def _basic_index(idx, ints) -> bool:
    elts = idx.elts if isinstance(idx, gast.Tuple) else [idx]
    return all(isinstance(e, gast.Slice) or _is_int_atom(e, ints) for e in elts)


def _slice_objects(idx):
    """An index expression usable as a value: a:b -> slice(a, b)."""
    def conv(e):
        if isinstance(e, gast.Slice):
            return call("slice", *(x if x is not None else const(None) for x in (e.lower, e.upper, e.step)))
        return copy.deepcopy(e)
    if isinstance(idx, gast.Tuple):
        return gast.Tuple(elts=[conv(e) for e in idx.elts], ctx=gast.Load())
    return conv(idx)


def _reversed_range(args):
    """range(...) visiting the same indices backwards."""
    if len(args) == 1:
        return call("range", simplify(gast.BinOp(left=copy.deepcopy(args[0]), op=gast.Sub(), right=const(1))),
                    const(-1), const(-1))
    if len(args) == 2 or (isinstance(args[2], gast.Constant) and args[2].value == 1):
        a, b = args[0], args[1]
        return call("range", simplify(gast.BinOp(left=copy.deepcopy(b), op=gast.Sub(), right=const(1))),
                    simplify(gast.BinOp(left=copy.deepcopy(a), op=gast.Sub(), right=const(1))), const(-1))
    a, b, c = (copy.deepcopy(x) for x in args)
    n = call("len", call("range", a, b, c))
    last = gast.BinOp(left=copy.deepcopy(a), op=gast.Add(), right=gast.BinOp(
        left=gast.BinOp(left=n, op=gast.Sub(), right=const(1)), op=gast.Mult(), right=copy.deepcopy(c)))
    return call("range", last, gast.BinOp(left=copy.deepcopy(a), op=gast.Sub(), right=copy.deepcopy(c)),
                gast.UnaryOp(op=gast.USub(), operand=copy.deepcopy(c)))


_ = (sources, dotted)
