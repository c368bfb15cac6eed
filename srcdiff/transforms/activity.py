"""The "activity" pass of compiler.REVERSE.

Activity analysis: a variable is active when one of its definitions depends on a `wrt`
argument (varied) and reaches the returned value (useful). Only active variables get adjoints."""
from __future__ import annotations

import linecache

import gast

from ..errors import SrcdiffError
from ..rules import RULES
from . import annotations as anno
from .astutil import dotted_name, walk_names, walk_statements
from .inline import MAX_STATEMENTS

DIFF_BINOPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult, gast.Mod)
SCATTER = ("rt.index_add", "rt.add_at")   # in-place scatter-adds of generated code: rt.index_add(a, idx, g)


def call_sources(call, callees) -> list:
    """Names in a call whose derivative can flow into its result."""
    name = dotted_name(call.func)
    if name in callees:
        # (a tuple or list passed whole, `h((u,))` of a callee that stays a call, carries its items' derivatives:
        # reading only names, such a call was inactive and its gradient zero, fuzz seed 980280)
        args = list(call.args) + [k.value for k in call.keywords]
        return [n.id for a in args for n in walk_names(a)]
    if name == "rt.pop":      # a value popped from a stack carries what was pushed onto it
        return [a.id for a in call.args[:1] if isinstance(a, gast.Name)]
    rule = RULES.get(name)
    if rule is None or rule.nondiff:
        return []
    if rule.variadic:
        first = call.args[0] if call.args else None
        if isinstance(first, (gast.Tuple, gast.List)):
            return [e.id for e in first.elts if isinstance(e, gast.Name)]
        return [first.id] if isinstance(first, gast.Name) else []
    bound = bind(rule, call)
    return [a.id for p, a in bound.items() if isinstance(a, gast.Name) and rule.has_vjp(p)]


def bind(rule, call) -> dict:
    """Map the rule's parameter names to the call's argument atoms (defaults filled in)."""
    from .astutil import const
    sig = rule.signature
    got = _PLANS.get(id(sig))
    if got is None or got[0] is not sig:
        got = _PLANS[id(sig)] = (sig, _plan(sig))
    plan = got[1]
    if plan is not None and not call.keywords and plan[0] <= len(call.args) <= len(plan[1]):
        # (positional arguments of a signature of plain parameters: what Signature.bind does, without its cost)
        out = dict(zip(plan[1], call.args))
        for p, d in plan[2].items():
            if p not in out:
                out[p] = const(d)
        return out
    ba = rule.signature.bind(*call.args, **{k.arg: k.value for k in call.keywords})
    out = {}
    for p, param in rule.signature.parameters.items():
        if p in ba.arguments:
            out[p] = ba.arguments[p]
        elif param.default is not param.empty:
            out[p] = const(param.default)
    return out


_PLANS: dict = {}    # id(a rule's signature) -> (the signature, _plan's)


def _plan(signature):
    """(how many parameters have no default, the parameters' names, {name: default}) of a signature whose
    parameters are all plain ones (positional or keyword, the defaulted ones last), else None."""
    params = list(signature.parameters.values())
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in params):
        return None
    required = sum(1 for p in params if p.default is p.empty)
    if any(p.default is p.empty for p in params[required:]):
        return None
    return required, tuple(p.name for p in params), {p.name: p.default for p in params[required:]}


def decline_items_passed_to_a_call(call, active, s, unit):
    """A call of your function that stays a call (four calls deep, or recursive) passing a tuple, list or keyword
    holding a differentiated value (`h((u,))`) where inline.py could not make h for the tuple's structure (its items
    parameters of their own: inline.ForCall): h indexes it by a variable, returns it whole, or recursive, passes it
    on nested deeper at each call. The derivative function takes and gives single values, so that value's
    derivative would be lost (fuzz seed 980280: a zero gradient). Declined at the line."""
    held = [n.id for a in list(call.args) + [k.value for k in call.keywords] if not isinstance(a, gast.Name)
            for n in walk_names(a) if n.id in active]
    if held:
        name = dotted_name(call.func)
        where = anno.get(s, anno.FILE) or unit.filename     # (an inlined callee's line is in its own file)
        raise SrcdiffError(f"a call of your function `{name}` that stays a call (nested four calls deep, "
                           f"recursive, or too large to inline: over {MAX_STATEMENTS} statements) passing a "
                           f"differentiated value inside a tuple, list or keyword argument that `{name}` cannot "
                           "take item by item (it indexes the tuple by a variable, returns it whole, passes it on "
                           "to itself nested deeper, or is a srcdiff transform)\n"
                           f"    {linecache.getline(where, s.lineno).strip()}", where, s.lineno,
                           f"pass the values as arguments of their own (`{name}(u, v)`), or index the tuple by "
                           f"constants in it; a large `{name}` can be split into functions of fewer statements, "
                           "which are inlined")


def sources(value, callees) -> list:
    """Names whose derivative flows into an operation's result."""
    if isinstance(value, gast.Name):
        return [value.id]
    if isinstance(value, gast.BinOp):
        if isinstance(value.op, DIFF_BINOPS):
            return [a.id for a in (value.left, value.right) if isinstance(a, gast.Name)]
        return []
    if isinstance(value, gast.UnaryOp):
        ok = isinstance(value.op, (gast.USub, gast.UAdd)) and isinstance(value.operand, gast.Name)
        return [value.operand.id] if ok else []
    if isinstance(value, gast.Call):
        return call_sources(value, callees)
    if isinstance(value, gast.Subscript):
        return [value.value.id] if isinstance(value.value, gast.Name) else []
    if isinstance(value, gast.Tuple):   # (nested ones too: `layers = ((w0, b0), (w1, b1))`)
        return [n for e in value.elts if isinstance(e, (gast.Name, gast.Tuple)) for n in sources(e, callees)]
    return []


def closure(seeds, pairs) -> set:
    """The names `seeds` reach through (a, b) pairs: b is reached where a is. (A search over the pairs
    indexed by a: sweeping the list until nothing changes took one sweep per link of the longest chain
    that runs against the list's order, as the sources of a straight-line function's result do.)"""
    return reached(seeds, successors(pairs))


def successors(pairs) -> dict:
    """{a: [b, ...]} of (a, b) pairs, in their order: what `reached` searches (made once where it is asked of
    several seeds)."""
    after: dict = {}
    for a, b in pairs:
        after.setdefault(a, []).append(b)
    return after


def reached(seeds, after: dict) -> set:
    """The names `seeds` reach through `after` (successors'), as `closure` finds them."""
    found = set(seeds)
    todo = list(found)
    while todo:
        for b in after.get(todo.pop(), ()):
            if b not in found:
                found.add(b)
                todo.append(b)
    return found


def _push(s):
    """(target, value names) of a statement that adds a value into a target in place: `rt.push(stack,
    value)`, or a scatter-add `rt.index_add(a, idx, value)`; else None. A tuple pushed whole (the tuples pass
    rebuilt a split tuple in place, `rt.push(pts, (p_at0, p_at1))`) counts its names: reverse mode declines it
    where they carry derivatives, instead of a gradient silently 0."""
    if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)):
        return None
    name, args = dotted_name(s.value.func), s.value.args
    if name == "rt.push" and len(args) == 2 and isinstance(args[0], gast.Name):
        if isinstance(args[1], gast.Name):
            return args[0].id, (args[1].id,)
        if isinstance(args[1], gast.Tuple):
            return args[0].id, tuple(n.id for n in walk_names(args[1]))
    if name in SCATTER and len(args) == 3 and isinstance(args[0], gast.Name) and isinstance(args[2], gast.Name):
        return args[0].id, (args[2].id,)
    return None


def _varied_after(stmts, varied: set, callees, defs: set, heads=None) -> set:
    """Names whose value after `stmts` depends on a `wrt` argument, given those (`varied`) before; adds to
    `defs` the statements (ids) whose assigned value does. (`varied` is copied once and updated in place:
    a new set per statement made this quadratic in the function's length.) `heads`: _known_head's record of this
    walk's loops."""
    heads = {} if heads is None else heads
    varied = set(varied)
    for s in stmts:
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                if any(src in varied for src in sources(s.value, callees)):
                    varied.add(t.id)
                    defs.add(id(s))
                else:
                    varied.discard(t.id)
            elif isinstance(s.value, gast.Name) and s.value.id in varied:   # x[i] = v keeps the rest of x
                varied.add(t.value.id)
            if isinstance(t, gast.Subscript) and t.value.id in varied:
                defs.add(id(s))
        elif _push(s):
            stack, values = _push(s)
            if any(v in varied for v in values):
                varied.add(stack)
            if stack in varied:
                defs.add(id(s))
        elif isinstance(s, gast.If):
            varied = _varied_after(s.body, varied, callees, defs, heads) | _varied_after(s.orelse, varied, callees, defs,
                                                                                       heads)
        elif isinstance(s, (gast.For, gast.While)):
            head, known = _known_head(heads, s, varied)
            while not known:     # varied at the loop head: on entry, or after another iteration
                new = varied | _varied_after(s.body, head, callees, defs, heads)
                if new == head:
                    break
                head = new
            heads[id(s)] = (s, head)
            varied = _varied_after(s.orelse, head, callees, defs, heads)
    return varied


def _known_head(heads: dict, loop, entry: set) -> tuple:
    """(where a loop's fixpoint starts, whether it is that already) for `entry`, what flows into its head from
    outside (_varied_after: the names varied before it; _live_before: those live after it). A nested loop is asked
    once per iteration of each loop around it: found from scratch each time, the work grew as 3 ** depth. Within one
    walk what flows into a loop only grows (the loops around it iterate up to their fixpoints, and each step is
    monotone), so its fixpoint only grows too: it starts from the last one (`heads`: id -> (loop, its head)), and is
    that one where nothing new flows in (its body is not walked again: the `defs` of that walk are noted already)."""
    got = heads.get(id(loop))
    if got is None:
        return set(entry), False
    head = entry | got[1]
    return head, head == got[1]


def _live_before(stmts, live: set, callees, defs: set, heads=None) -> set:
    """Names whose value at the start of `stmts` reaches the result, given those (`live`) at the end;
    adds to `defs` the statements (ids) whose assigned value reaches the result. (`live` is copied once and
    updated in place.) `heads`: _known_head's record of this walk's loops."""
    heads = {} if heads is None else heads
    live = set(live)
    for s in reversed(stmts):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                if t.id in live:
                    defs.add(id(s))
                    live.discard(t.id)
                    live.update(sources(s.value, callees))
            elif t.value.id in live:
                defs.add(id(s))
                if isinstance(s.value, gast.Name):    # x[i] = v keeps the rest of x
                    live.add(s.value.id)
        elif _push(s):
            stack, values = _push(s)
            if stack in live:
                defs.add(id(s))
                live.update(values)
        elif isinstance(s, gast.If):
            live = _live_before(s.body, live, callees, defs, heads) | _live_before(s.orelse, live, callees, defs, heads)
        elif isinstance(s, (gast.For, gast.While)):
            after = _live_before(s.orelse, live, callees, defs, heads)
            head, known = _known_head(heads, s, after)
            while not known:     # live at the loop head: after the loop, or at the start of another iteration
                new = after | _live_before(s.body, head, callees, defs, heads)
                if new == head:
                    break
                head = new
            heads[id(s)] = (s, head)
            live = set(head)
    return live


def _target(s) -> str:
    if isinstance(s, gast.Assign):
        t = s.targets[0]
        return t.id if isinstance(t, gast.Name) else t.value.id
    return _push(s)[0]


def active_names(fn: gast.FunctionDef, wrt, callees) -> set:
    """Active variables of an SSA function for derivatives w.r.t. parameter names `wrt`: those with a
    definition (or, for a parameter, its value on entry) that both depends on `wrt` and reaches the result.

    Flow-sensitive, one definition at a time: SSA keeps a loop-carried variable's entry name, so one name
    can hold a value that matters on entry and, after the loop overwrites it, values the result never
    sees; their adjoints are zero, and computing them anyway can give 0 * inf = NaN."""
    ret = fn.body[-1].value
    varied_defs: set = set()
    useful_defs: set = set()
    _varied_after(fn.body, set(wrt), callees, varied_defs)
    live = _live_before(fn.body, {ret.id} if isinstance(ret, gast.Name) else set(), callees, useful_defs)
    both = varied_defs & useful_defs
    return {_target(s) for s in walk_statements(fn.body) if id(s) in both} | (set(wrt) & live)
