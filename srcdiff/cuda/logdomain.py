"""Log-domain products on the device: each as its direct formula.

transforms/logdomain.py computes a loop's `logsumexp(v[:, None] + M, axis=0)` (and `logsumexp(M + v[None, :],
axis=1)`) as rt.logsumexp_vecmat(v, M, E) / rt.logsumexp_matvec(M, v, E), with E = rt.exp_shifted(M, axis) a
table of exp(M) made once before the loop (rt.table_at(E, u): the table of one matrix of a stack), and their
adjoints as helpers of the same arguments (logdomain_calls.HELPERS: `_grad_v`, `_grad_M`, and `_adjoints`, both
at once, adding into d_M). The table is an accelerator of compiled CPU code only: in plain Python the helpers
compute the direct formula (runtime/logdomain.py), and that is what each becomes here, in the calls the device
lowering has (rt.logsumexp and rt.logsumexp_grad along an axis, rt.expand_dims, rt.sum):

    rt.logsumexp_vecmat(v, M, E)              -> rt.logsumexp(rt.expand_dims(v, 1) + M, 0)
    rt.logsumexp_vecmat_grad_M(w, v, M, E, m) -> rt.logsumexp_grad(w, rt.expand_dims(v, 1) + M, m, 0)
    rt.logsumexp_vecmat_grad_v(w, v, M, E, m) -> rt.sum(<its grad_M>, 1)
    d_v = rt.logsumexp_vecmat_adjoints(w, v, M, E, m, d_M)    (or d_v += ...)
                                              -> d_M += <its grad_M>; d_v = rt.sum(<its grad_M>, 1)

(matvec likewise, with M + rt.expand_dims(v, 0) summed along axis 1, its grad_v summed along 0). The tables, read
by nothing then, are dropped: the assignments of rt.exp_shifted, rt.table_at and copies of a table, and reverse
mode's stack of the tables an outer loop makes (its pushes, and its pops into tables). Where a table is read
otherwise (passed to a function, a stack of them read otherwise), or a call has another form, the function is left
as it is and the lowering declines the product (infer.LOG_DOMAIN)."""
from __future__ import annotations

import ast
import copy

from ..transforms.logdomain_calls import HELPERS, PRODUCTS, ROLE, VECMAT
from .common import dotted

_TABLES = ("rt.exp_shifted", "rt.table_at")


def direct_products(fn: ast.FunctionDef) -> bool:
    """Rewrite `fn`'s log-domain products and their adjoint helpers as their direct formulas and drop the exp
    tables they read (see the module docstring), in place, where every read of a table is a product's or a
    helper's table argument (or a stack's push of it, the stack read by nothing but its pops into tables: reverse
    mode's stack of the tables made in an outer loop). Whether it rewrote."""
    tables, stacks = _table_names(fn)
    calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and _is_product(n)]
    if not calls and not tables:
        return False
    if not all(_formula(c) is not None for c in calls) or not _tables_only_read_by(fn, tables, stacks, calls):
        return False
    for c in calls:
        if dotted(c.func) in ROLE and ROLE[dotted(c.func)][1] == "both" and not _fused_statement(fn, c):
            return False
    _rewrite_block(fn.body, tables, stacks)
    return True


def _is_product(call) -> bool:
    name = dotted(call.func)
    return name in PRODUCTS or name in ROLE


def _push(st):
    """(stack, value) of `s.append(v)` / `rt.push(s, v)`, a statement; else None."""
    if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)):
        return None
    c = st.value
    if isinstance(c.func, ast.Attribute) and c.func.attr == "append" and isinstance(c.func.value, ast.Name) \
            and len(c.args) == 1 and not c.keywords:
        return c.func.value.id, c.args[0]
    if dotted(c.func) == "rt.push" and len(c.args) == 2 and isinstance(c.args[0], ast.Name) and not c.keywords:
        return c.args[0].id, c.args[1]
    return None


def _popped(e):
    """The stack `s` of `s.pop()` / `rt.pop(s)`, else None."""
    if isinstance(e, ast.Call) and not e.keywords:
        if isinstance(e.func, ast.Attribute) and e.func.attr == "pop" and isinstance(e.func.value, ast.Name) \
                and not e.args:
            return e.func.value.id
        if dotted(e.func) == "rt.pop" and len(e.args) == 1 and isinstance(e.args[0], ast.Name):
            return e.args[0].id
    return None


def _table_names(fn):
    """(names bound to an exp table: rt.exp_shifted / rt.table_at, a copy of such a name or a pop of a stack of
    them; the stacks pushed such names)."""
    names, stacks, changed = set(), set(), True
    while changed:
        changed = False
        for st in ast.walk(fn):
            pushed = _push(st)
            if pushed and pushed[0] not in stacks and isinstance(pushed[1], ast.Name) and pushed[1].id in names:
                stacks.add(pushed[0])
                changed = True
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) \
                    and st.targets[0].id not in names and _is_table_value(st.value, names, stacks):
                names.add(st.targets[0].id)
                changed = True
    return names, stacks


def _is_table_value(e, names, stacks) -> bool:
    return ((isinstance(e, ast.Call) and dotted(e.func) in _TABLES) or (isinstance(e, ast.Name) and e.id in names)
            or _popped(e) in stacks)


def _tables_only_read_by(fn, tables, stacks, calls) -> bool:
    """Whether every read of a table name is the table argument of a product / helper call, within the value of a
    table's own assignment or what a table stack's push pushes; every read of a table stack its push or pop; and
    every assignment to a table name one of those, to a stack an empty list or rt.stack(...)."""
    allowed = set()
    for c in calls:
        k = _table_argument(c)
        if isinstance(c.args[k], ast.Name):
            allowed.add(id(c.args[k]))
        elif any(isinstance(n, ast.Name) and n.id in tables for n in ast.walk(c.args[k])):
            return False
    for st in ast.walk(fn):
        pushed = _push(st)
        if pushed and pushed[0] in stacks:
            if not (isinstance(pushed[1], ast.Name) and pushed[1].id in tables):
                return False
            allowed.update(id(n) for n in ast.walk(st.value))
        if isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id in tables | stacks for t in st.targets):
            if len(st.targets) != 1:
                return False
            if st.targets[0].id in stacks:
                if not (isinstance(st.value, ast.List) and not st.value.elts or isinstance(st.value, ast.Call)
                        and dotted(st.value.func) == "rt.stack"):
                    return False
                allowed.update(id(n) for n in ast.walk(st.value))
            elif not _is_table_value(st.value, tables, stacks):
                return False
            allowed.update(id(n) for n in ast.walk(st.value))
        elif isinstance(st, (ast.AugAssign, ast.For)) and any(
                isinstance(n, ast.Name) and n.id in tables | stacks for n in ast.walk(st.target)):
            return False
    return all(id(n) in allowed for n in ast.walk(fn)
               if isinstance(n, ast.Name) and n.id in tables | stacks and isinstance(n.ctx, ast.Load))


def _table_argument(call) -> int:
    """Position of the table E among a product's (v, M, E) / (M, v, E) or a helper's (w, v, M, E, m[, d_M])."""
    return 2 if dotted(call.func) in PRODUCTS else 3


def _fused_statement(fn, call) -> bool:
    """Whether the `_adjoints` call `call` is the whole value of an assignment (`d_v = ...`, `d_v += ...`: how
    transforms/logdomain.fuse_adjoints writes it) whose d_M (the call's last argument) the other arguments do not
    read (d_M is added into first)."""
    d_M = {n.id for n in ast.walk(call.args[-1]) if isinstance(n, ast.Name)}
    if d_M & {n.id for a in call.args[:-1] for n in ast.walk(a) if isinstance(n, ast.Name)}:
        return False
    return any(_fused(st) is call for st in ast.walk(fn))


def _fused(st):
    """The `_adjoints` call that is the whole value of the assignment `st` (one target), else None."""
    if isinstance(st, (ast.Assign, ast.AugAssign)) and isinstance(st.value, ast.Call) \
            and dotted(st.value.func) in ROLE and ROLE[dotted(st.value.func)][1] == "both" \
            and (isinstance(st, ast.AugAssign) or len(st.targets) == 1):
        return st.value
    return None


def _rt(name, *args):
    return ast.Call(func=ast.Attribute(value=ast.Name(id="rt", ctx=ast.Load()), attr=name, ctx=ast.Load()),
                    args=list(args), keywords=[])


def _formula(call):
    """The direct formula of a product / helper call (its arguments' own calls rewritten too), or None where the call
    has another form than the generated one (keywords, another number of arguments)."""
    name = dotted(call.func)
    product, role = (name, "value") if name in PRODUCTS else ROLE[name]
    want = {"value": 3, "v": 5, "M": 5, "both": 6}[role]
    if call.keywords or len(call.args) != want or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    vecmat = product in VECMAT
    args = [_Rewrite().visit(copy.deepcopy(a)) for a in call.args]
    if role == "value":
        v, M = (args[0], args[1]) if vecmat else (args[1], args[0])
    else:
        v, M = (args[1], args[2]) if vecmat else (args[2], args[1])
    axis = 0 if vecmat else 1
    summand = (ast.BinOp(left=_rt("expand_dims", v, ast.Constant(1)), op=ast.Add(), right=M) if vecmat
               else ast.BinOp(left=M, op=ast.Add(), right=_rt("expand_dims", v, ast.Constant(0))))
    if role == "value":
        return _rt("logsumexp", summand, ast.Constant(axis))
    grad_M = _rt("logsumexp_grad", args[0], summand, args[4], ast.Constant(axis))
    if role == "M":
        return grad_M
    return _rt("sum", grad_M, ast.Constant(1 - axis))     # grad_v, or the value of `both` (its d_M added apart)


def _blocks(st) -> list:
    """The non-empty statement lists nested directly in the standard-library statement `st`."""
    return [b for b in (getattr(st, f, None) for f in st._fields) if isinstance(b, list) and b
            and isinstance(b[0], ast.stmt)]


class _Rewrite(ast.NodeTransformer):
    def visit_Call(self, node):
        if _is_product(node):
            return ast.copy_location(_formula(node), node)
        self.generic_visit(node)
        return node


def _rewrite_block(body, tables, stacks):
    out = []
    for st in body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) \
                and st.targets[0].id in tables | stacks:
            continue                            # a table, a copy of one, a stack of them: read by nothing now
        pushed = _push(st)
        if pushed and pushed[0] in stacks:
            continue
        call = _fused(st)
        if call is not None:
            d_M = copy.deepcopy(call.args[5])
            d_M.ctx = ast.Store()
            product, _ = ROLE[dotted(call.func)]
            grad_M = _formula(_rt(HELPERS[product]["M"][len("rt."):], *call.args[:5]))
            out.append(ast.copy_location(ast.AugAssign(target=d_M, op=ast.Add(), value=grad_M), st))
            st.value = ast.copy_location(_formula(call), call)
            out.append(st)
            continue
        for block in _blocks(st):
            _rewrite_block(block, tables, stacks)
            if not block:
                block.append(ast.copy_location(ast.Pass(), st))
        _Rewrite().visit(st)
        out.append(st)
    body[:] = out
