"""Forward mode: from an SSA function, build `f_jvp`: the user's code with the tangent `d_v` of
every varied value computed right after `v` itself, from the `jvp` templates of the rule table.

Only varied values (those depending on a `wrt` argument) get tangents. Arrays written in place get
a tangent array that is written at the same indices; Python lists used as stacks (the generated
reverse-mode code pushes and pops values) get tangent stacks. The result is `(value, d_value)`.

Stacks reach this pass lowered to calls (`rt.stack()`, `rt.push(s, v)`, `rt.pop(s)`, see
`lower_stacks`) so the front end can read them; `raise_stacks` turns them back into list syntax.
"""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from ..rules import BINOP_RULE, RULES, ZERO as ZERO_RULE
from ..rules.numpy_rules import CONSTANT_ARGUMENTS
from . import annotations as anno
from . import lists
from .activity import DIFF_BINOPS, SCATTER, bind, closure, decline_items_passed_to_a_call
from .astutil import (Namer, Transformer, assign, call, const, dotted_name, load, names_in, nested_blocks,
                      store, walk, walk_calls, walk_names)
from .line_comments import line_comment
from .kinds import Kind, as_float, elements, expr_kind, is_exp_table, is_tuple, truncates
from .memory_sharing import may_share_memory, sharing_groups, sharing_written_memory
from .reverse_support import simplify

ZERO = "__srcdiff_zero__"          # placeholder for a tangent known to be zero


# ---- stacks: list syntax <-> calls the front end understands -------------------------------------------
_TYPED_STACKS = frozenset({"rt.row_tape", "rt.stack_of", "rt.read_only_stack_of"})


def lower_stacks(node):
    """`s = []` -> `s = rt.stack("s")`, `s.append(v)` -> `rt.push(s, v)`, `s.pop()` -> `rt.pop(s)`
    (and the same for jitted code's typed stacks, `rt.stack_of(0.0)`, and row tapes: rt.row_tape,
    rt.put_row, rt.get_row); jitted code's
    `rt.add_into(x[:, j], v)` is `x[:, j] += v` again (transforms/inplace.py).
    The name keeps two stacks two stacks: common-subexpression elimination would merge identical
    `rt.stack()` calls into one list (mixing element types, which Numba rejects, and keeping dead
    tangent stacks alive)."""
    names = lists.list_names(node)

    class Lower(Transformer):
        def visit_Assign(self, n):
            self.generic_visit(n)
            name = dotted_name(n.value.func) if isinstance(n.value, gast.Call) else None
            t = n.targets[0]
            if (isinstance(n.value, gast.List) and not n.value.elts) or name in _TYPED_STACKS:
                n.value = _made(call("rt.stack", *([const(t.id)] if isinstance(t, gast.Name) else [])), n)
            elif name == "rt.put_row":        # jitted code's row tapes (transforms/stacks.py) are stacks
                return gast.copy_location(gast.Expr(value=call("rt.push", n.value.args[0], n.value.args[2])), n)
            elif name == "rt.get_row":
                n.value = call("rt.pop", n.value.args[0])
            return n

        def visit_Expr(self, n):
            self.generic_visit(n)
            v = n.value
            if (isinstance(v, gast.Call) and dotted_name(v.func) == "rt.add_into" and len(v.args) == 2
                    and isinstance(v.args[0], gast.Subscript)):
                view = v.args[0]
                target = gast.Subscript(value=view.value, slice=view.slice, ctx=gast.Store())
                return gast.copy_location(gast.AugAssign(target=target, op=gast.Add(), value=v.args[1]), n)
            return n

        def visit_Call(self, n):
            self.generic_visit(n)
            converted = lists.conversion_of(n, names)
            if converted is not None:           # np.array(out) of a list built with appends (transforms/lists.py)
                out = _made(call("rt.stack_array", load(converted)), n)
                if lists.stack_axis(n) == 0:
                    return out
                move = gast.Attribute(value=n.func.value, attr="moveaxis", ctx=gast.Load())   # (the user's np)
                return gast.copy_location(call(move, out, const(0), const(lists.stack_axis(n))), n)
            f = n.func
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.attr in ("append", "pop"):
                if f.attr == "append" and len(n.args) == 1:
                    return _made(call("rt.push", load(f.value.id), n.args[0]), n)
                if f.attr == "pop" and not n.args:
                    return _made(call("rt.pop", load(f.value.id)), n)
            return n
    return Lower().visit(node)


def name_dropped_pops(node):
    """`rt.pop(s)` as a statement -> `s_dropped = rt.pop(s)` (reverse mode over generated code): a gradient drops the
    adjoints of values without a derivative with a bare `d_out.pop()`, and reverse mode over it must push a zero onto
    d_out's adjoint stack there, of the popped item's shape, so that the pushes stay matched with the rows or pops
    they stand for (a gradient-norm penalty through a list holding such values was wrong: tests/test_lists.py)."""
    bare = [s for s in walk(node) if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
            and dotted_name(s.value.func) == "rt.pop" and s.value.args and isinstance(s.value.args[0], gast.Name)]
    if not bare:
        return node
    namer = Namer({n.id for n in walk_names(node)})
    named = {id(s): namer.fresh(s.value.args[0].id + "_dropped") for s in bare}

    class Name(Transformer):
        def visit_Expr(self, n):
            if id(n) in named:
                return gast.copy_location(assign(named[id(n)], n.value), n)
            return n
    return Name().visit(node)


def _made(c, at):
    """A runtime call written here, at `at`'s line, marked MADE: resolve leaves its rt. name as it is (the user's
    module, unlike srcdiff's generated ones, has no `rt`: `ys = []` in a function jvp differentiates)."""
    return anno.set(gast.copy_location(c, at), anno.MADE)


_STACK_CALLS = frozenset({"rt.stack", "rt.push", "rt.pop"})


def raise_stacks(node):
    """Inverse of `lower_stacks` on generated code; a pop whose value nothing reads is a statement of its own,
    `s.pop()` (name_dropped_pops names the pops a gradient drops, for reverse mode over it, which reads the name
    only for an array's zero adjoint: `d_out_dropped = d_out.pop()` was left unread)."""
    if not any(dotted_name(n.func) in _STACK_CALLS for n in walk_calls(node)):
        return node     # (one walk instead of a rewrite of every node: most functions hold no stack)
    read = {n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load)}

    class Raise(Transformer):
        def visit_Assign(self, n):
            self.generic_visit(n)
            v = n.value
            if (len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and n.targets[0].id not in read
                    and isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "pop"
                    and not v.args and isinstance(v.func.value, gast.Name)):
                return anno.copy(n, gast.copy_location(gast.Expr(value=v), n), anno.KEYS)
            return n

        def visit_Call(self, n):
            self.generic_visit(n)
            name = dotted_name(n.func)
            if name == "rt.stack":
                return gast.List(elts=[], ctx=gast.Load())
            if name == "rt.push":
                return call(gast.Attribute(value=n.args[0], attr="append", ctx=gast.Load()), n.args[1])
            if name == "rt.pop":
                return call(gast.Attribute(value=n.args[0], attr="pop", ctx=gast.Load()))
            return n
    return Raise().visit(node)


# ---- which values vary -----------------------------------------------------------------------------------
def undifferentiated_param(rule, call, varied, mode: str = "reverse") -> str | None:
    """The first parameter of a rule call whose argument is differentiated although the rule gives no
    derivative there in `mode` (reverse: a vjp template; forward: a term of the jvp) nor says it is
    ZERO, or None."""
    if rule is None or rule.variadic:
        return None
    if rule.nondiff:
        if rule.name not in CONSTANT_ARGUMENTS:
            return None
        bound = {f"argument {k + 1}": a for k, a in enumerate(call.args)}
        bound.update({k.arg: k.value for k in call.keywords})
    else:
        try:
            bound = bind(rule, call)
        except TypeError:
            return None
    for p, a in bound.items():
        covered = rule.has_vjp(p) if mode == "reverse" else p in differentiable_params(rule)
        if isinstance(a, gast.Name) and a.id in varied and rule.vjp.get(p) is not ZERO_RULE and not covered:
            return p
    return None


def decline_param(rule, p, node, unit):
    """SrcdiffError for a differentiated argument `p` of `rule` that has no derivative rule."""
    if rule.name in CONSTANT_ARGUMENTS:
        why = CONSTANT_ARGUMENTS[rule.name]
        message, advice = why if isinstance(why, tuple) else (
            f"{rule.name} of a differentiated value ({p}): its result is not differentiable there", why)
        fail(node, unit, message, advice)
    fail(node, unit, f"{rule.name} is not differentiable with respect to its argument {p!r}, "
         "which depends on the variables being differentiated",
         f"pass a value that does not depend on them as {p!r}, or register a rule with "
         "srcdiff.adjoint(func, vjp=..., jvp=...) for a function that wraps this call")


def differentiable_params(rule) -> list:
    """Parameters whose tangent appears in the rule's jvp template."""
    if rule.jvp is None:
        return []
    used = names_in(rule.jvp)
    return [p for p in rule.signature.parameters if "d" + p in used]


def _value_sources(value, callees) -> list:
    if isinstance(value, gast.Name):
        return [value.id]
    if isinstance(value, gast.BinOp):
        return [a.id for a in (value.left, value.right) if isinstance(a, gast.Name)] \
            if isinstance(value.op, DIFF_BINOPS) else []
    if isinstance(value, gast.UnaryOp):
        ok = isinstance(value.op, (gast.USub, gast.UAdd)) and isinstance(value.operand, gast.Name)
        return [value.operand.id] if ok else []
    if isinstance(value, gast.Subscript):
        return [value.value.id] if isinstance(value.value, gast.Name) else []
    if isinstance(value, gast.Tuple):
        return [e.id for e in value.elts if isinstance(e, gast.Name)]
    if isinstance(value, gast.Call):
        name = dotted_name(value.func)
        if name in callees:     # (names inside a tuple passed whole too: declined at the call, not dropped)
            return [n.id for a in list(value.args) + [k.value for k in value.keywords] for n in walk_names(a)]
        if name == "rt.pop":
            return [value.args[0].id]
        rule = RULES.get(name)
        if rule is None or rule.nondiff:
            return []
        if rule.variadic:
            first = value.args[0] if value.args else None
            if isinstance(first, (gast.Tuple, gast.List)):
                return [e.id for e in first.elts if isinstance(e, gast.Name)]
            return [first.id] if isinstance(first, gast.Name) else []
        bound = bind(rule, value)
        return [a.id for p, a in bound.items() if isinstance(a, gast.Name) and p in differentiable_params(rule)]
    return []


def _edges(stmts, callees, out, written=frozenset()):
    """(a, b) for each value a that depends on b. `written`: the names whose memory a write in place changes; a
    view or second name of one (`row = M[i]`, then `row[:] = v`) passes what is written through it back to the
    array it views, M."""
    for s in stmts:
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                out += [(t.id, src) for src in _value_sources(s.value, callees)]
                if t.id in written and may_share_memory(s.value, t.id, {}, array=True):
                    out += [(src, t.id) for src in _value_sources(s.value, callees)]
            elif isinstance(s.value, gast.Name):
                out.append((t.value.id, s.value.id))
        elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            name, args = dotted_name(s.value.func), s.value.args
            if name == "rt.push" and isinstance(args[1], gast.Name):
                out.append((args[0].id, args[1].id))
            elif name in SCATTER and isinstance(args[0], gast.Name) and isinstance(args[2], gast.Name):
                out.append((args[0].id, args[2].id))
        for b in nested_blocks(s):
            _edges(b, callees, out, written)
    return out


def reaching(fn, seeds, callees) -> set:
    """The values whose derivatives reach the names `seeds` (in-place writes and stack pushes included)."""
    return closure(seeds, _edges(fn.body, callees, [], sharing_written_memory(fn)))


def varied_names(fn, wrt, callees) -> set:
    """Values that depend on a `wrt` parameter (in-place writes and stack pushes included)."""
    return closure(wrt, [(src, t) for t, src in _edges(fn.body, callees, [], sharing_written_memory(fn))])


# ---- zero tangents ------------------------------------------------------------------------------------
def _mentions(e, names) -> bool:
    return any(isinstance(n, gast.Name) and n.id in names for n in walk(e))


def _is_zero(e) -> bool:
    return isinstance(e, gast.Name) and e.id.startswith(ZERO)


def prune(e, tangents, zeros=None):
    """`e` with terms multiplied by a zero tangent removed; None when all of it is zero. A zero left
    as an argument of a call that still has a tangent becomes rt.zeros_like(<its primal>) (`zeros`)."""
    zeros = zeros or {}
    names = set(tangents) | {ZERO} | set(zeros)
    if _is_zero(e):
        return None
    if not _mentions(e, names):
        return e
    if isinstance(e, gast.BinOp):
        L, R = prune(e.left, tangents, zeros), prune(e.right, tangents, zeros)
        if isinstance(e.op, gast.Add):
            return R if L is None else L if R is None else gast.BinOp(left=L, op=e.op, right=R)
        if isinstance(e.op, gast.Sub):
            if R is None:
                return L
            if L is None:
                return gast.UnaryOp(op=gast.USub(), operand=R)
            return gast.BinOp(left=L, op=e.op, right=R)
        if isinstance(e.op, (gast.Mult, gast.MatMult)):
            return None if L is None or R is None else gast.BinOp(left=L, op=e.op, right=R)
        if isinstance(e.op, gast.Div):
            return None if L is None else gast.BinOp(left=L, op=e.op, right=R)
        return e
    if isinstance(e, gast.UnaryOp):
        v = prune(e.operand, tangents, zeros)
        return None if v is None else gast.UnaryOp(op=e.op, operand=v)
    if isinstance(e, gast.Call):
        args, live = [], False
        for a in e.args:
            if _mentions(a, names):
                p = prune(a, tangents, zeros)
                live |= p is not None
                primal = zeros.get(a.id) if isinstance(a, gast.Name) else None
                zero = call("rt.zeros_like", copy.deepcopy(primal)) if isinstance(primal, gast.Name) else const(0.0)
                args.append(zero if p is None else p)
            else:
                args.append(a)
        if not live:
            return None
        return gast.Call(func=e.func, args=args, keywords=e.keywords)
    if isinstance(e, gast.Subscript):
        v = prune(e.value, tangents, zeros)
        return None if v is None else gast.Subscript(value=v, slice=e.slice, ctx=e.ctx)
    return e


# ---- the transform ----------------------------------------------------------------------------------------
def written_through(fn) -> set:
    """Names bound to an array that a subscript assignment writes into: the written names, and every name bound to
    the same array as one of them (`a = b`, a view `a = b[i]`, a list stack's append and pop). The tangent of a
    fresh value (`y = np.copy(x)`) that is another tangent as it is (d_x) must be a copy there: else the write
    into y's tangent through any of its names also changes d_x (a gradient differentiated again: `buf4 = buf5`
    then `buf4[0, 1] = v` wrote into the caller's tangent through `buf5 = np.copy(M)`, a wrong hvp, fuzz seed
    500077)."""
    links: dict = {}

    def link(a, b):
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    written = set()
    for n in walk(fn):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript):
            if isinstance(n.targets[0].value, gast.Name):
                written.add(n.targets[0].value.id)
        elif isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            v = n.value.value if isinstance(n.value, gast.Subscript) else n.value
            if isinstance(v, gast.Call) and dotted_name(v.func) == "rt.pop" and v.args:
                v = v.args[0]
            if isinstance(v, gast.Name):
                link(n.targets[0].id, v.id)
        elif isinstance(n, gast.Call) and n.args and isinstance(n.args[-1], gast.Name):
            if isinstance(n.func, gast.Attribute) and n.func.attr == "append" and isinstance(n.func.value, gast.Name):
                link(n.func.value.id, n.args[-1].id)
            elif dotted_name(n.func) == "rt.push" and len(n.args) == 2 and isinstance(n.args[0], gast.Name):
                link(n.args[0].id, n.args[1].id)
    # and the arrays a view or a cast that is the array itself shares memory with (`r = np.asarray(buf)`, `buf.T`,
    # np.reshape, `buf.astype(float, copy=False)`, then `r[1] = v`): d_r is d_buf, so a write through r writes
    # into d_buf, which must not be d_x as it is (jvp of `buf = x * 1.0` there was wrong, and wrote into the
    # caller's tangent: d/dx[0] 0.397 for 0.25, h24a)
    groups = sharing_groups(fn)
    for n, g in groups.items():
        link(n, g)
    seen, todo = set(written), list(written)
    while todo:
        for w in links.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def _as_it_is(d):
    """The tangent name that the tangent expression `d` may be as it is: `d` itself where it is a name, the tangent
    a cast passes on (`rt.astype_grad(d_x, y)` is d_x where y is a float: `y = x.astype(float)` then `y[1] = v`
    wrote into d_x, a wrong jvp, d/dx[0] 1.6 for 2.3, h24a), else None."""
    if isinstance(d, gast.Name):
        return d
    if isinstance(d, gast.Call) and dotted_name(d.func) == "rt.astype_grad" and d.args and isinstance(d.args[0], gast.Name):
        return d.args[0]
    return None


def _tangent_kind(k):
    """The kind of the tangent of a value of kind `k`: the same scalar or array of floats, a tuple of its items'
    tangents where they are all known, else None."""
    items = elements(k) if is_tuple(k) and not is_exp_table(k) else None
    if items is not None:
        tangents = [_tangent_kind(e) for e in items]
        return Kind.tuple_of(len(tangents), tangents) if all(t is not None for t in tangents) else None
    return as_float(k)


class Forward:
    """Generates the jvp function of one SSA unit: (params..., d_<wrt>...) -> (value, d_value)."""

    def __init__(self, unit, wrt: list, callee_jvp, kinds: dict | None = None):
        self.unit, self.fn = unit, unit.node
        self.kinds = kinds      # of the function's names, where its arguments' are known: its callees' jvps get theirs
        self.tuples = None      # {name: its tuple literal} of fn, found at the first tuple (_tuples)
        self.wrt = list(wrt)
        self.callee_jvp = callee_jvp      # (callee local name, varied positions, argument kinds) -> generated name
        self.varied = varied_names(self.fn, self.wrt, unit.callees)
        # values whose derivative reaches the result: only their calls are declined where a rule gives no
        # derivative (as in reverse mode: the unused U of `U, s, Vh = np.linalg.svd(a)` is fine)
        ret = self.fn.body[-1].value if isinstance(self.fn.body[-1], gast.Return) else None
        seeds = [n.id for n in walk(ret) if isinstance(n, gast.Name)] if ret is not None else []
        self.useful = reaching(self.fn, seeds, unit.callees)
        self.namer = Namer(names_in(self.fn) | {"np", "rt", "math"})
        self.tangents: dict = {}
        self.primals: dict = {}   # tangent name -> its value's name
        self.written = written_through(self.fn)
        self.last_line = None
        for p in self.wrt:
            self.tan(p)

    def tangent_kinds(self) -> dict:
        """{tangent name: its kind} for the tangents of the values whose kinds are known (a value's kind, as
        floats; a tuple's, of its items' tangents): the kinds of what the function's tangent stacks receive
        (stacks.record_stack_kinds) and of the tangents the unbound pass gives placeholders."""
        known = self.kinds or {}
        return {d: _tangent_kind(known[v]) for v, d in self.tangents.items() if known.get(v) is not None}

    def tan(self, v: str) -> str:
        if v not in self.tangents:
            self.tangents[v] = self.namer.fresh("d_" + v)
            self.primals[self.tangents[v]] = v
        return self.tangents[v]

    def dot(self, a):
        """Tangent of an atom: its d_ name, or ZERO."""
        if isinstance(a, gast.Name) and a.id in self.varied:
            return load(self.tan(a.id))
        return load(ZERO)

    def finish(self, e, zeros=None):
        e = prune(e, self.tangents.values(), zeros)
        return None if e is None else simplify(e)

    # ---- statements ----------------------------------------------------------------------------------
    def block(self, stmts):
        out = []
        for s in stmts:
            code = self.stmt(s)
            line = getattr(s, "lineno", None)
            where = (anno.get(s, anno.FILE), line)
            if line is not None and where != self.last_line and not anno.get(s, anno.PHI) \
                    and not anno.get(s, anno.MERGE) and not isinstance(s, (gast.If, gast.For, gast.While)):
                out.append(line_comment(s, self.unit.filename))
                self.last_line = where
            out += code
        return out

    def stmt(self, s):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                return self.assign(t.id, s.value, s)
            return self.write(s)
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            return self.effect(s)
        if isinstance(s, gast.If):
            return [gast.If(test=s.test, body=self.block(s.body) or [gast.Pass()], orelse=self.block(s.orelse))]
        if isinstance(s, gast.For):
            return [gast.For(target=s.target, iter=s.iter, body=self.block(s.body) or [gast.Pass()], orelse=[],
                             type_comment=None)]
        if isinstance(s, gast.While):
            return [gast.While(test=s.test, body=self.block(s.body) or [gast.Pass()], orelse=[])]
        return [s]

    def assign(self, t, value, s):
        if isinstance(value, gast.Call) and dotted_name(value.func) in self.unit.callees:
            return self.callee(t, value, s)
        if isinstance(value, gast.Call):
            rule = RULES.get(dotted_name(value.func))
            p = undifferentiated_param(rule, value, self.varied, "forward")
            if p is not None and t in self.useful:
                decline_param(rule, p, s, self.unit)
        out = [s]
        if t not in self.varied:
            return out
        if isinstance(value, gast.Call) and dotted_name(value.func) == "rt.stack":
            out.append(assign(self.tan(t), call("rt.stack")))
            return out
        if isinstance(value, gast.Call) and dotted_name(value.func) == "rt.pop":
            stack = value.args[0].id
            out.append(assign(self.tan(t), call("rt.pop", load(self.tan(stack)))))
            return out
        d = self.tangent(t, value, s)
        if d is None and isinstance(value, (gast.Tuple, gast.Name)):   # `state = (0.0, 1.0)`, loop-carried
            d = self.tuple_zero(value)
        if d is None:
            d = call("rt.zeros_like", load(t))
        elif (not isinstance(value, gast.Name) and (same := _as_it_is(d)) is not None
              and (t in self.written or self.primals.get(same.id) in self.written)
              and not may_share_memory(value, t, self.kinds)):
            # a fresh value whose tangent is another one as it is (y = np.copy(x), y = x + 1.0, y = x.astype(float),
            # whose tangent rt.astype_grad(d_x, y) is d_x itself): a copy where either array is written in place
            # (y[i] = ..., or x[i] = ... while y is still read), so that the write into one tangent does not
            # change the other (np.asarray(x) is x itself: so is its tangent)
            d = call("rt.copy", d)
        out.append(assign(self.tan(t), d))
        return out

    def tangent(self, t, value, s):
        """Tangent expression of `t = value` (None when it is zero)."""
        if isinstance(value, gast.Name):
            return self.finish(self.dot(value))
        if isinstance(value, gast.BinOp):
            if type(value.op) not in BINOP_RULE:
                return None
            rule = RULES[BINOP_RULE[type(value.op)]]
            d = self.instantiate(rule, {"x": value.left, "y": value.right}, t)
            if isinstance(value.op, (gast.Add, gast.Sub)) and d is not None:
                # one operand constant in x: the other may broadcast the tangent up to ans's shape
                quiet = [a for a in (value.left, value.right) if isinstance(a, gast.Name) and a.id not in self.varied]
                if quiet:
                    d = call("rt.broadcast_to_like", d, load(t))
            return d
        if isinstance(value, gast.UnaryOp):
            if isinstance(value.op, gast.USub):
                return self.instantiate(RULES["neg"], {"x": value.operand}, t)
            if isinstance(value.op, gast.UAdd):
                return self.finish(self.dot(value.operand))
            return None
        if isinstance(value, gast.Subscript):
            base = value.value
            if not (isinstance(base, gast.Name) and base.id in self.varied):
                return None
            return gast.Subscript(value=load(self.tan(base.id)), slice=copy.deepcopy(value.slice), ctx=gast.Load())
        if isinstance(value, gast.Tuple):
            if not any(isinstance(e, gast.Name) and e.id in self.varied for e in value.elts):
                return None
            return gast.Tuple(elts=[self.dot(e) if isinstance(e, gast.Name) and e.id in self.varied
                                    else self.tuple_zero(e) or call("rt.zeros_like", copy.deepcopy(e))
                                    for e in value.elts],
                              ctx=gast.Load())
        if isinstance(value, gast.Call):
            return self.call_tangent(t, value, s)
        return None

    def tuple_zero(self, e):
        """The zero tangent of a tuple literal, or of a name bound once to one: a tuple of zeros (an item that
        is a tuple itself gets a tuple of zeros); None for anything else."""
        if self.tuples is None:
            self.tuples = _tuples(self.fn)
        if isinstance(e, gast.Tuple) or (isinstance(e, gast.Name) and e.id in self.tuples):
            return _zero_tangent(e, self.tuples)
        return None

    def call_tangent(self, t, value, s):
        name = dotted_name(value.func)
        rule = RULES.get(name)
        if rule is None or rule.nondiff:
            return None
        if rule.variadic:
            return self.variadic(rule, value, s)
        if rule.jvp is None:
            fail(s, self.unit, f"{name} has no forward-mode (jvp) rule",
                 "register one with srcdiff.adjoint(func, vjp=..., jvp=...)")
        try:
            bound = bind(rule, value)
        except TypeError as exc:
            fail(s, self.unit, f"bad arguments to {name}: {exc}")
        return self.instantiate(rule, bound, t)

    def instantiate(self, rule, bound, t):
        mapping, zeros = dict(bound), {}
        for p in rule.signature.parameters:
            d = self.dot(bound.get(p))
            if _is_zero(d):
                d = load(f"{ZERO}{p}")
                zeros[d.id] = bound.get(p)
            mapping["d" + p] = d
        mapping["ans"] = load(t)
        from .astutil import substitute
        return self.finish(substitute(rule.jvp, mapping), zeros)

    def variadic(self, rule, value, s):
        seq = value.args[0]
        if isinstance(seq, gast.Constant):     # np.array(0.3): a 0-d array of a number, constant (active only where
            return None                        # a write into it later is: `c[()] = b`)
        if not isinstance(seq, (gast.Tuple, gast.List)):
            if rule.variadic == "array" and isinstance(seq, gast.Name):   # of an array (a copy) or a tuple
                return self.finish(call("rt.array", self.dot(seq)))
            if isinstance(seq, gast.Name) and self.tuple_zero(seq) is not None:
                # a name bound to a tuple literal (`parts = [a, b]`, then np.concatenate(parts)): its tangent
                # is the tuple of the parts' tangents (zeros for the constant ones)
                if seq.id not in self.varied:
                    return None
                return gast.Call(func=copy.deepcopy(value.func), args=[self.dot(seq)]
                                 + [copy.deepcopy(a) for a in value.args[1:]], keywords=copy.deepcopy(value.keywords))
            fail(s, self.unit, f"{rule.name} needs a literal tuple or list of arrays to differentiate",
                 f"write {rule.name}((a, b, ...)) with the parts listed")
        if not any(isinstance(e, gast.Name) and e.id in self.varied for e in seq.elts):
            return None
        parts = [self.dot(e) if isinstance(e, gast.Name) and e.id in self.varied
                 else call("rt.zeros_like", copy.deepcopy(e)) for e in seq.elts]
        return gast.Call(func=copy.deepcopy(value.func), args=[type(seq)(elts=parts, ctx=gast.Load())]
                         + [copy.deepcopy(a) for a in value.args[1:]], keywords=copy.deepcopy(value.keywords))

    def callee(self, t, value, s):
        decline_items_passed_to_a_call(value, self.varied, s, self.unit)
        pos = tuple(k for k, a in enumerate(value.args) if isinstance(a, gast.Name) and a.id in self.varied)
        if not pos:
            return [s]
        call_kinds = tuple(expr_kind(a, self.kinds) for a in value.args) if self.kinds else ()
        fname = self.callee_jvp(dotted_name(value.func), pos, call_kinds)
        args = [copy.deepcopy(a) for a in value.args] + [load(self.tan(value.args[k].id)) for k in pos]
        target = gast.Tuple(elts=[store(t), store(self.tan(t))], ctx=gast.Store())
        return [assign(target, call(load(fname), *args))]

    def write(self, s):
        """x[i] = v  ->  d_x[i] = d_v"""
        t = s.targets[0]
        arr = t.value.id
        out = [s]
        if arr in self.varied:
            v = s.value
            d = self.dot(v) if isinstance(v, gast.Name) and v.id in self.varied and not (
                self.kinds and truncates(self.kinds.get(arr), self.kinds.get(v.id))) else const(0.0)
            out.append(assign(gast.Subscript(value=load(self.tan(arr)), slice=copy.deepcopy(t.slice),
                                             ctx=gast.Store()), d))
        return out

    def effect(self, s):
        name, args = dotted_name(s.value.func), s.value.args
        out = [s]
        if name == "rt.push" and args[0].id in self.varied:
            v = args[1]
            d = self.dot(v) if isinstance(v, gast.Name) and v.id in self.varied else call("rt.zeros_like",
                                                                                        copy.deepcopy(v))
            out.append(gast.Expr(value=call("rt.push", load(self.tan(args[0].id)), d)))
        elif name == "rt.pop" and isinstance(args[0], gast.Name) and args[0].id in self.varied:
            # a value popped and dropped (reverse mode's adjoint of a push whose value has none): its tangent
            # stack drops its own, which would else be popped for the next pop's value
            out.append(gast.Expr(value=call("rt.pop", load(self.tan(args[0].id)))))
        elif name in SCATTER and isinstance(args[0], gast.Name) and args[0].id in self.varied:
            g = args[2]
            if isinstance(g, gast.Name) and g.id in self.varied:
                out.append(gast.Expr(value=call(name, load(self.tan(args[0].id)), copy.deepcopy(args[1]),
                                                load(self.tan(g.id)))))
        return out

    # ---- whole function ---------------------------------------------------------------------------------
    def function(self, name):
        fn = self.fn
        params = [a.id for a in fn.args.args]
        body = []
        for p in params:  # parameters that only become varied inside (written in place, loop-carried)
            if p in self.varied and p not in self.wrt:
                body.append(assign(self.tan(p), call("rt.zeros_like", load(p))))
        body += self.block(fn.body[:-1])
        ret = fn.body[-1].value
        if isinstance(ret, gast.Name) and ret.id in self.varied:
            d = load(self.tan(ret.id))
        else:
            d = _zero_tangent(ret, _tuples(fn))
        body.append(gast.Return(value=gast.Tuple(elts=[copy.deepcopy(ret), d], ctx=gast.Load())))
        args = params + [self.tangents[p] for p in self.wrt]
        arguments = gast.arguments(args=[gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
                                         for p in args], posonlyargs=[], vararg=None, kwonlyargs=[],
                                   kw_defaults=[], kwarg=None, defaults=[])
        return gast.FunctionDef(name=name, args=arguments, body=body, decorator_list=[], returns=None,
                                type_comment=None, type_params=[])


def _tuples(fn) -> dict:
    """{name: its tuple literal} for the names of `fn` bound once, to a tuple literal (a gradient's `result`)."""
    bound: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
            bound.setdefault(n.targets[0].id, []).append(n.value)
    return {k: v[0] for k, v in bound.items() if len(v) == 1 and isinstance(v[0], gast.Tuple)}


def _zero_tangent(e, tuples: dict):
    """The zero tangent of a result nothing varied reaches: a tuple of zeros for a tuple (the gradient of a
    linear function w.r.t. several arguments: hvp gives a zero per argument, not one 0.0), else zeros_like."""
    if isinstance(e, gast.Name) and e.id in tuples:
        e = tuples[e.id]
    if isinstance(e, gast.Tuple):
        return gast.Tuple(elts=[_zero_tangent(x, tuples) for x in e.elts], ctx=gast.Load())
    if isinstance(e, gast.Constant) and type(e.value) in (int, float):
        return const(0.0)
    return call("rt.zeros_like", copy.deepcopy(e))


def avoid_version_clashes(fn: gast.FunctionDef) -> gast.FunctionDef:
    """Rename `v_2` to `v2` where `v` is assigned more than once.

    Numba versions a reassigned `v` as `v.1`, `v.2`, ... and, when it fuses array expressions,
    spells `v.2` redefined as `v_2_1` -- the same as a redefined `v_2`, and it then fails with
    "'v_2_1' not unique". SSA names (`s`, `s_1`, `d_s_2`) make that likely in loops."""
    import re
    counts: dict = {}
    for n in walk(fn):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
            counts[n.id] = counts.get(n.id, 0) + 1
    multi = {v for v, c in counts.items() if c > 1}
    taken = names_in(fn)
    renames = {}
    for v in sorted(taken):
        m = re.match(r"^(.*)_(\d+)$", v)
        if m and m.group(1) in multi:
            new = m.group(1) + m.group(2)
            while new in taken or new in renames.values():
                new += "_"
            renames[v] = new
    if renames:
        for n in walk(fn):
            if isinstance(n, gast.Name) and n.id in renames:
                n.id = renames[n.id]
    return fn
