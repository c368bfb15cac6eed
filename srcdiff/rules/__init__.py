"""Differentiation rules: one table entry per primitive, written as Python expression templates.

A reverse rule (vjp) for parameter `x` of primitive `f` is an expression in the primitive's
parameter names, `ans` (its output) and `g` (the adjoint of the output); the compiler substitutes
the program's own variable names and emits the result as source. `srcdiff.adjoint` adds rules.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import gast

from ..transforms.astutil import parse_expr


@dataclass
class Rule:
    name: str                      # callee as emitted in generated code, e.g. "np.exp"
    signature: inspect.Signature   # how call arguments bind to parameter names
    vjp: dict = field(default_factory=dict)   # param -> template (gast expr), ZERO, or None (see defrule)
    jvp: gast.expr | None = None   # tangent of the output, in terms of d<param>
    nondiff: bool = False          # output carries no derivative (argmax, shape, zeros, ...)
    variadic: str | None = None    # "concatenate" / "stack" : first argument is a sequence literal
    namespace: dict = field(default_factory=dict)  # extra names a user rule's templates refer to


    def has_vjp(self, p: str) -> bool:
        return isinstance(self.vjp.get(p), gast.AST)


ZERO = "zero"   # template of a parameter the output depends on only through a mask, a shape or an ordering
RULES: dict[str, Rule] = {}        # canonical name -> rule
_BY_OBJECT: dict[int, str] = {}    # id(python object) -> canonical name
_KEEP: list = []                   # keep objects alive so ids stay unique


def _signature(params: str) -> inspect.Signature:
    ns: dict = {}
    exec(f"def _f({params}): pass", ns)
    return inspect.signature(ns["_f"])


def defrule(name: str, objects, params: str, *vjps, jvp: str | None = None, nondiff: bool = False,
            variadic: str | None = None, namespace: dict | None = None) -> Rule:
    """Register primitive `name` for the Python `objects` that users call.

    `vjps` gives one template per parameter in order. ZERO says the derivative with respect to that
    parameter is zero (a condition, an argument used for its shape); None says there is no derivative
    (an axis, a shape, a flag), and the compiler declines a call whose argument there is differentiated."""
    sig = _signature(params)
    names = list(sig.parameters)
    vjp = {}
    for pname, tpl in zip(names, vjps):
        vjp[pname] = ZERO if tpl == ZERO else parse_expr(tpl) if isinstance(tpl, str) else None
    rule = Rule(name, sig, vjp, parse_expr(jvp) if jvp else None, nondiff, variadic, namespace or {})
    RULES[name] = rule
    for obj in objects if isinstance(objects, (list, tuple)) else [objects]:
        if obj is not None:
            _BY_OBJECT[id(obj)] = name
            _KEEP.append(obj)
    return rule


def rule_name_of(obj) -> str | None:
    """Canonical primitive name for a Python callable, or None."""
    return _BY_OBJECT.get(id(obj))


def adjoint(func, vjp, jvp: str | None = None, params: str | None = None, namespace: dict | None = None):
    """Register a reverse rule for the user function `func`.

    `vjp` is a template string (one parameter) or a sequence of them, one per parameter, in terms
    of the parameter names, `ans` and `g`; names other than np/math/rt/parameters are looked up in
    `namespace` (default: func's globals). Generated code calls `func` itself for the primal; under
    jit=True srcdiff compiles it with numba.njit (so it must be code Numba compiles)."""
    if params is None:
        params = ", ".join(inspect.signature(func).parameters)
    if isinstance(vjp, str):
        vjp = (vjp,)
    ns = dict(func.__globals__) if namespace is None and hasattr(func, "__globals__") else dict(namespace or {})
    ns[func.__name__] = func
    name = func.__name__
    return defrule(name, [func], params, *vjp, jvp=jvp, namespace=ns)


from . import numpy_rules  # noqa: E402,F401  (fills the table)
from . import runtime_rules  # noqa: E402,F401  (rules for rt.* helpers in generated code)
