"""Pass 7: activity analysis: a variable is active when it depends on a `wrt` argument (varied)
and the returned value depends on it (useful). Only active variables get adjoints."""
from __future__ import annotations

import gast

from ..rules import RULES
from .astutil import dotted_name

DIFF_BINOPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.MatMult)


def call_sources(call, callees) -> list:
    """Names in a call whose derivative can flow into its result."""
    name = dotted_name(call.func)
    if name in callees:
        return [a.id for a in call.args if isinstance(a, gast.Name)]
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
    return [a.id for p, a in bound.items() if isinstance(a, gast.Name) and rule.vjp.get(p) is not None]


def bind(rule, call) -> dict:
    """Map the rule's parameter names to the call's argument atoms (defaults filled in)."""
    from .astutil import const
    ba = rule.signature.bind(*call.args, **{k.arg: k.value for k in call.keywords})
    out = {}
    for p, param in rule.signature.parameters.items():
        if p in ba.arguments:
            out[p] = ba.arguments[p]
        elif param.default is not param.empty:
            out[p] = const(param.default)
    return out


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
    if isinstance(value, gast.Tuple):
        return [e.id for e in value.elts if isinstance(e, gast.Name)]
    return []


def edges(stmts, callees, out=None) -> list:
    """(target, source) pairs along which derivatives flow, for every statement."""
    out = [] if out is None else out
    for s in stmts:
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                out += [(t.id, src) for src in sources(s.value, callees)]
            elif isinstance(s.value, gast.Name):
                out.append((t.value.id, s.value.id))
        elif (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.push"
              and all(isinstance(a, gast.Name) for a in s.value.args[:2])):
            out.append((s.value.args[0].id, s.value.args[1].id))   # the stack carries the pushed value
        for field in ("body", "orelse"):
            if isinstance(getattr(s, field, None), list):
                edges(getattr(s, field), callees, out)
    return out


def _closure(seeds, pairs):
    found = set(seeds)
    changed = True
    while changed:
        changed = False
        for a, b in pairs:
            if a in found and b not in found:
                found.add(b)
                changed = True
    return found


def active_names(fn: gast.FunctionDef, wrt, callees) -> set:
    """Active variables of an SSA function for derivatives w.r.t. parameter names `wrt`."""
    pairs = edges(fn.body, callees)
    varied = _closure(wrt, [(b, a) for a, b in pairs])
    ret = fn.body[-1].value
    useful = _closure([ret.id] if isinstance(ret, gast.Name) else [], pairs)
    return varied & useful
