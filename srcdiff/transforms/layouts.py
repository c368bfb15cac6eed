"""Jitted code only (compiler.COMPILED: what Numba compiles, never the source shown): where a loop or a branch
binds a name again, each of its bindings that can be a Fortran-ordered array takes its value through
`rt.any_layout`, so that Numba can unify their types.

Numba types an array with its layout: C, F (Fortran order: what its LAPACK calls return, np.linalg.svd's Vh or
np.linalg.inv's result, and a transpose) or A (any: a view such as `M[:, :2]`). Where a loop or a branch binds
a name again, Numba unifies the types of its bindings, and an F array with a C one gives an A array; an array
expression over that name then fails in Numba's lowering ("Don't know how to allocate array with layout 'A'",
fuzz seed 913000: forward mode's `alpha = (Vh ** 2)[:, 0]` before a loop that binds it to a logsumexp).
`rt.any_layout` is the array itself, typed A where it is F (a view, no copy: runtime/casts.py), and A with C
unifies without that failure:

    alpha15 = alpha15v10[:, 0]          ->  alpha15 = rt.any_layout(alpha15v10[:, 0])
    for i17 in range(2):                    for i17 in range(2):
        ...                                     ...
        alpha15 = alpha15v13                    alpha15 = alpha15v13

A C or A array, a number or None passes through it as it is (the identity), so only a binding whose value can
be an F array is wrapped: each wrapped binding is a call more for Numba to type and lower (a 50-step Elman
RNN's gradient wrapped 25 bindings, its first call cold 750 -> 905 ms; none is an F array, and none is wrapped
now). Names bound once, or only in straight-line code (which Numba's SSA form keeps apart), keep their types.

What can be an F array (`_may_be_fortran`, over every name of the function at once, a fixpoint): an argument
or another name bound outside the function of rank 2 or more or of unknown rank (the caller may pass one in
Fortran order; Numba types a contiguous vector C), a transpose (`x.T`), a call of anything but the calls known
to make a new C array (`np.zeros`, `rt.elementwise`, a tape's row, `rt.dot`'s products of a matrix, ...) or to
keep their operands' layouts (the elementwise and reducing rules, `rt.dot` of vectors; LAPACK's results, user
functions' and every other call's count as F), an array expression, copy or slice of such a value, and a name
any binding of which is one and is not wrapped. A row `x[i]` of an array name (one index, no slice) is not: Numba
types the row of a C array C and of an F one A, and an index array gives a new C array (an item of a tuple is as
the tuple). A name of scalar kind never is.
"""
from __future__ import annotations

import gast

from ..rules.registry import names_with
from .astutil import call, clone, copy_loc, nested_blocks, rewrite_blocks, walk
from .kinds import is_array
from .kind_type import is_scalar, ndim

_WRAP = "rt.any_layout"


def _bindings(stmts, inside: bool, found: dict):
    """name -> [(its value, whether in a loop's or a branch's block)] of the single-name assignments in `stmts`."""
    for s in stmts:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            found.setdefault(s.targets[0].id, []).append((s.value, inside))
        for b in nested_blocks(s):
            _bindings(b, inside or isinstance(s, (gast.For, gast.While, gast.If)), found)
    return found


def _other_bindings(fn) -> set:
    """Names `fn` binds otherwise than by a single-name assignment (a loop's target, unpacking, ...): their values
    are not read here, so they count as possibly F."""
    single = {id(s.targets[0]) for s in walk(fn) if isinstance(s, gast.Assign) and len(s.targets) == 1}
    return {n.id for n in walk(fn)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) and id(n) not in single}


# calls whose result is a new C-ordered array (or a number) under Numba, whatever their arguments' layouts
_NEW_C = names_with("new") | {"np.arange", "np.linspace", "np.eye", "np.identity", "np.outer", "np.sum", "np.mean",
                              "np.max", "np.min", "np.prod", "np.ravel", "np.stack",
                              "np.ascontiguousarray", "rt.zeros_like", "rt.row_tape", "rt.put_row", "rt.get_row",
                              "rt.elementwise", "rt.stack_of", "len", "float", "int", "range", "max", "min",
                              "bool"} | {f"math.{f}" for f in ("ceil", "floor", "isfinite", "isinf", "isnan", "trunc")}
# calls whose result is an F array only where an argument is one: elementwise and reducing rules (a ufunc of F
# operands is F), fills (np.zeros_like of an F array is F), np.concatenate (of F arrays, F)
_KEEP = names_with("elementwise") | names_with("reduce") | names_with("fill") | {"np.concatenate"}
# products: a new C array (matvec, matmat, np.outer) where an operand is a matrix; of vectors, g * y
_PRODUCTS = {"rt.dot", "np.dot", "np.matmul", "rt.matmul_grad_x", "rt.matmul_grad_y"}
_NOT_ARRAYS = {"shape", "size", "ndim", "dtype", "itemsize", "strides"}


def _callee(value) -> str:
    f = value.func if isinstance(value, gast.Call) else None
    if isinstance(f, gast.Name):
        return f.id
    return f"{f.value.id}.{f.attr}" if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) else ""


def _rank(e, kinds: dict):
    return ndim(kinds.get(e.id)) if isinstance(e, gast.Name) else 0 if isinstance(e, gast.Constant) else None


def _one_index(index, kinds: dict) -> bool:
    """Whether `index` is one integer (or an index array): not a slice, a tuple or a name that may hold one."""
    if isinstance(index, gast.Constant):
        return isinstance(index.value, int)
    if isinstance(index, gast.Name):
        k = kinds.get(index.id)
        return is_scalar(k) or is_array(k)
    if isinstance(index, (gast.BinOp, gast.UnaryOp)):
        return all(_one_index(e, kinds) for e in (getattr(index, "left", None), getattr(index, "right", None),
                                                   getattr(index, "operand", None)) if e is not None)
    return False


def _may_be_fortran(e, fortran: set, kinds: dict) -> bool:
    """Whether the value of expression `e` can be an F-ordered array under Numba (module docstring), where the
    names in `fortran` can be."""
    def f(x):
        return _may_be_fortran(x, fortran, kinds)
    if isinstance(e, gast.Constant):
        return False
    if isinstance(e, gast.Name):
        return e.id in fortran
    if isinstance(e, gast.Attribute):
        return e.attr not in _NOT_ARRAYS and (e.attr == "T" or f(e.value))
    if isinstance(e, gast.Subscript):     # (one index into a tuple or a list is its item: as the tuple)
        row = isinstance(e.value, gast.Name) and is_array(kinds.get(e.value.id)) and _one_index(e.slice, kinds)
        return not row and f(e.value)
    if isinstance(e, gast.BinOp):
        return f(e.left) or f(e.right)
    if isinstance(e, gast.UnaryOp):
        return f(e.operand)
    if isinstance(e, gast.Compare):
        return f(e.left) or any(f(c) for c in e.comparators)
    if isinstance(e, gast.BoolOp):
        return any(f(v) for v in e.values)
    if isinstance(e, gast.IfExp):
        return f(e.body) or f(e.orelse)
    if isinstance(e, (gast.Tuple, gast.List)):
        return any(f(v) for v in e.elts)
    if not isinstance(e, gast.Call):
        return True
    callee = _callee(e)
    args = list(e.args) + [k.value for k in e.keywords]
    if callee == "rt.elementwise":      # a new C array, or its first operand where it writes into it
        text, operands = (e.args + [None, None])[:2]
        if not (isinstance(text, gast.Constant) and isinstance(text.value, str)):
            return True
        if "=" not in text.value.replace("==", "").replace("<=", "").replace(">=", "").replace("!=", ""):
            return False
        return not (isinstance(operands, gast.Tuple) and operands.elts) or f(operands.elts[0])
    if callee in _NEW_C or callee == _WRAP:
        return False
    if callee in _PRODUCTS:
        ranks = [_rank(a, kinds) for a in e.args[:3]]
        return not any(r is not None and r >= 2 for r in ranks) and any(f(a) for a in args)
    if callee in _KEEP:
        return any(f(a) for a in args)
    return True


def _fortran_names(fn, found: dict, wrapped: set, kinds: dict) -> set:
    """The names of `fn` that can hold an F array once the bindings of `wrapped` that can be one are wrapped: those
    bound outside it (arguments) of rank 2 or more or unknown, those bound otherwise than by a single-name
    assignment, and those a binding of which can be one (a fixpoint); none of scalar kind."""
    bound_here = set(found) | _other_bindings(fn)
    def possible(n):
        k = kinds.get(n)
        return not is_scalar(k) and (ndim(k) is None or ndim(k) >= 1)
    fortran = {n.id for n in walk(fn) if isinstance(n, gast.Name) and n.id not in bound_here and possible(n.id)
               and (ndim(kinds.get(n.id)) is None or ndim(kinds.get(n.id)) >= 2)}
    fortran |= {n for n in _other_bindings(fn) if possible(n)}
    todo = [n for n in found if n not in wrapped and n not in fortran and possible(n)]
    changed = True
    while changed:
        changed = False
        for n in todo:
            if n not in fortran and any(_may_be_fortran(v, fortran, kinds) for v, _ in found[n]):
                fortran.add(n)
                changed = True
    return fortran


def _wrapped(value) -> bool:
    return isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and value.func.attr == "any_layout"


def any_layouts(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """`fn` with the bindings that can be F arrays (module docstring) of its names that a loop or a branch binds
    again, and that are bound more than once, passed through rt.any_layout; `kinds`: those of its names (a name of
    unknown kind counts as an array)."""
    found = _bindings(fn.body, False, {})
    names = {n for n, where in found.items() if len(where) > 1 and any(inside for _, inside in where)
             and (kinds.get(n) is None or is_array(kinds.get(n)))}
    if not names:
        return fn
    fortran = _fortran_names(fn, found, names, kinds)
    if not any(not _wrapped(v) and _may_be_fortran(v, fortran, kinds) for n in names for v, _ in found[n]):
        return fn

    fn = clone(fn)

    def statement(s):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id in names and not _wrapped(s.value) and _may_be_fortran(s.value, fortran, kinds):
            s.value = copy_loc(call(_WRAP, s.value), s.value)
        return s

    fn.body = rewrite_blocks(fn.body, statement)
    return fn
