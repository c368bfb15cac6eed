"""The rule registry: the Rule record, `defrule` that registers one, and the lookups the passes build their
tables from (srcdiff/rules/__init__.py says what a record holds)."""
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
    kind: object = None            # kind law (transforms/kind_laws.py LAWS): "as_float", ("like", 1), "dynamic", ...
    shape: str | None = None       # dims law (SHAPE_LAWS): "elementwise", "fill", "same", ...; None: unknown
    cuda: str | None = None        # device template on scalars, "math.exp({0})"; None: the CUDA target declines it
    jit_as: str | None = None      # rule jitted code calls instead (same values, faster under Numba): "rt.tanh"
    row_as: str | None = None      # what a row-blocked loop calls instead (inline, so the loop vectorises): "rt.exp"

    def has_vjp(self, p: str) -> bool:
        return isinstance(self.vjp.get(p), gast.AST)


# the rule each binary operator of the syntax uses (reverse and forward mode differentiate `a + b` by RULES["+"])
BINOP_RULE = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.Pow: "**", gast.MatMult: "@",
              gast.Mod: "%"}
ZERO = "zero"   # template of a parameter the output depends on only through a mask, a shape or an ordering
RULES: dict[str, Rule] = {}        # canonical name -> rule
_BY_OBJECT: dict[int, str] = {}    # id(python object) -> canonical name
_KEEP: list = []                   # keep objects alive so ids stay unique


def signature(params: str) -> inspect.Signature:
    """The signature of a parameter list written as source ("x, axis=None")."""
    ns: dict = {}
    exec(f"def _f({params}): pass", ns)
    return inspect.signature(ns["_f"])


def defrule(name: str, objects, params: str, *vjps, jvp: str | None = None, nondiff: bool = False,
            variadic: str | None = None, namespace: dict | None = None, kind=None, shape: str | None = None,
            cuda: str | None = None, jit_as: str | None = None, row_as: str | None = None) -> Rule:
    """Register primitive `name` for the Python `objects` that users call.

    `vjps` gives one template per parameter in order. ZERO says the derivative with respect to that
    parameter is zero (a condition, an argument used for its shape); None says there is no derivative
    (an axis, a shape, a flag), and the compiler declines a call whose argument there is differentiated.
    `kind`, `shape`, `cuda`, `jit_as` and `row_as`: the record's other facets (module docstring)."""
    if shape not in SHAPE_LAWS:
        raise ValueError(f"rule {name}: shape law {shape!r} is none of {SHAPE_LAWS}")
    sig = signature(params)
    names = list(sig.parameters)
    vjp = {}
    for pname, tpl in zip(names, vjps):
        vjp[pname] = ZERO if tpl == ZERO else parse_expr(tpl) if isinstance(tpl, str) else None
    rule = Rule(name, sig, vjp, parse_expr(jvp) if jvp else None, nondiff, variadic, namespace or {}, kind, shape, cuda,
                jit_as, row_as)
    RULES[name] = rule
    for obj in objects if isinstance(objects, (list, tuple)) else [objects]:
        if obj is not None:
            _BY_OBJECT[id(obj)] = name
            _KEEP.append(obj)
    return rule


SHAPE_LAWS = (None, "elementwise", "fill", "same", "triangle", "transpose", "reduce", "expand_dims", "matmul", "vecmat",
              "matvec", "new")


def names_with(shape: str) -> frozenset:
    """Names of the rules with the dims law `shape`: the tables kinds, dims and optimize read."""
    return frozenset(n for n, r in RULES.items() if r.shape == shape)


def jit_routes() -> dict:
    """name -> the rule jitted code calls instead (the `jit_as` facet: transforms/products.py reads it)."""
    return {n: r.jit_as for n, r in RULES.items() if r.jit_as is not None}


def row_routes() -> dict:
    """name -> what a row-blocked loop calls instead (the `row_as` facet: transforms/optimize/rowblocks.py)."""
    return {n: r.row_as for n, r in RULES.items() if r.row_as is not None}


def cuda_templates(arity: int) -> dict:
    """name -> device template of the rules whose template takes `arity` arguments (cuda/common.py)."""
    out = {}
    for n, r in RULES.items():
        if r.cuda is not None and template_arity(r.cuda) == arity:
            out[n] = r.cuda
    return out


def template_arity(template: str) -> int:
    """How many arguments a device template reads ({0}, {1}, ...; one for a constant: rt.seed's "1.0")."""
    import re
    return 1 + max((int(i) for i in re.findall(r"\{(\d)\}", template)), default=0)


def fuses_under_numba(name: str) -> bool:
    """An elementwise primitive that is a NumPy ufunc: Numba fuses an expression of them and of operators into
    one loop (array expressions), so optimize.fuse_elementwise may write it into the statement that reads it."""
    import numpy as np
    rule = RULES.get(name)
    obj = implementation(name) if rule is not None and rule.shape == "elementwise" else None
    return isinstance(obj, np.ufunc) and obj.signature is None


def implementation(name: str):
    """What a rule's name denotes in generated code (np.exp, math.exp, srcdiff.runtime.expit, builtins.float),
    or None for an operator ("+", "neg") and internal names; under jit=True Numba compiles the same function
    (srcdiff.runtime registers an overload for each rt helper)."""
    import builtins
    import math
    import numpy as np
    from .. import runtime as rt
    head, _, rest = name.partition(".")
    obj = {"np": np, "math": math, "rt": rt}.get(head) if rest else getattr(builtins, name, None)
    for part in rest.split(".") if rest else ():
        obj = getattr(obj, part, None)
    return obj


def rule_name_of(obj) -> str | None:
    """Canonical primitive name for a Python callable, or None."""
    return _BY_OBJECT.get(id(obj))


def alias(obj, name: str) -> None:
    """Let calls of the Python object `obj` use rule `name` too, unless `obj` has a rule already."""
    if id(obj) not in _BY_OBJECT:
        _BY_OBJECT[id(obj)] = name
        _KEEP.append(obj)


def objects_of(name: str) -> list:
    """The Python objects whose calls use rule `name`."""
    return [obj for obj in _KEEP if _BY_OBJECT.get(id(obj)) == name]


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
    # (what a user function returns is unknown to the compiler: its kind is the one a run gives, law "dynamic")
    return defrule(name, [func], params, *vjp, jvp=jvp, namespace=ns, kind="dynamic")
