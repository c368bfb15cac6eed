"""The log-domain products' helpers by name, and the matchers of their calls the log-domain passes share.

The products pass (logdomain.py) writes `rt.logsumexp_vecmat` / `rt.logsumexp_matvec`, reverse mode their
adjoint helpers, and the jitted-code passes (logdomain_scales.py, logdomain_carries.py) rewrite those calls
and the row tapes around them: this module holds the names they agree on (looked up by name, never by a
suffix) and the shapes of statement each of them recognises.
"""
import gast

from ..rules import names_with
from .astutil import assigned_names, dotted_name

PRODUCTS = {"rt.logsumexp_vecmat", "rt.logsumexp_matvec"}
VECMAT = names_with("vecmat")       # the products whose vector comes first (their rules' dims law), the rest: M, v


# each product's adjoint helpers by role: w.r.t. the vector ("v"), w.r.t. the matrix ("M"), both fused
HELPERS = {p: {"v": p + "_grad_v", "M": p + "_grad_M", "both": p + "_adjoints"} for p in sorted(PRODUCTS)}
ROLE = {name: (p, role) for p, roles in HELPERS.items() for role, name in roles.items()}

# jitted code: a carried recursion's step of each product (logdomain_carries.py), and the step's adjoints
STEPS = {"rt.logsumexp_vecmat": "rt.logsumexp_vecmat_step", "rt.logsumexp_matvec": "rt.logsumexp_matvec_step"}
STEP_ADJOINTS = {p + "_" + role: STEPS[p] + "_" + role for p in STEPS for role in ("grad_v", "adjoints")}


def int_const(e):
    """The value of an integer literal (or its negation), else None."""
    if isinstance(e, gast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, gast.USub):
        v = int_const(e.operand)
        return None if v is None else -v
    return None


def call_of(s, names):
    """`s`'s call when `s` is `x = f(...)`, `x += f(...)` or `f(...)` with f one of `names`, else None."""
    v = s.value if isinstance(s, (gast.Assign, gast.AugAssign, gast.Expr)) else None
    return v if isinstance(v, gast.Call) and dotted_name(v.func) in names and not v.keywords else None


def row_call(s, fn_name, tape):
    """`s`'s (target, row) when `s` is `t = rt.put_row(tape, row, x)` / `x = rt.get_row(tape, row, x)`."""
    v = s.value if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else None
    if (isinstance(v, gast.Call) and dotted_name(v.func) == fn_name and len(v.args) == 3
            and isinstance(v.args[0], gast.Name) and v.args[0].id == tape):
        return s.targets[0].id, v.args[1], v.args[2]
    return None


def put_of(s, x):
    """(tape, row) when `s` is `tape = rt.put_row(tape, row, x)`."""
    v = s.value if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) else None
    if (isinstance(v, gast.Call) and dotted_name(v.func) == "rt.put_row" and len(v.args) == 3
            and isinstance(v.args[0], gast.Name) and v.args[0].id == s.targets[0].id
            and isinstance(v.args[2], gast.Name) and v.args[2].id == x):
        return v.args[0].id, v.args[1]
    return None


def table_root(body, e):
    """The name of the table a loop body's product uses: `e` itself when the body does not assign it, the
    stack's table T when it is `e = rt.table_at(T, u)`; else None."""
    defs = [s for s in body if e in assigned_names([s])]
    if not defs:
        return e
    d = defs[0].value if len(defs) == 1 and isinstance(defs[0], gast.Assign) else None
    if (isinstance(d, gast.Call) and dotted_name(d.func) == "rt.table_at" and isinstance(d.args[0], gast.Name)
            and not any(d.args[0].id in assigned_names([s]) for s in body)):
        return d.args[0].id
    return None
