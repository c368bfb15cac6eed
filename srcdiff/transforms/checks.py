"""Checks that decline, at the user's line, what srcdiff would otherwise get silently wrong or what
Numba cannot compile: compiler.REVERSE's "reverse rules" and "checks" passes, and check_numba (run on a
built module before it is compiled with jit=True)."""
from __future__ import annotations

import gast

from ..errors import fail
from . import annotations as anno
from . import forward, kinds
from .astutil import dotted_name, walk, walk_statements
from .parse import Unit


def check_reverse_rules(unit: Unit, wrt: list):
    """Decline, rather than drop, a derivative the rule table does not give: activity analysis follows
    the vjp templates only, so a differentiated argument of a rule without one would silently count as
    constant. With a jvp but no vjp this happens when generated code is differentiated again."""
    from ..rules import RULES
    if not any(isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)
               and _may_decline(RULES.get(dotted_name(s.value.func))) for s in walk_statements(unit.node.body)):
        return   # every call's rule has a vjp for each of its parameters: no flow analysis needed
    varied = forward.varied_names(unit.node, wrt, unit.callees)
    ret = unit.node.body[-1].value
    useful = forward.reaching(unit.node, [ret.id] if isinstance(ret, gast.Name) else [], unit.callees)
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and isinstance(s.value, gast.Call) and s.targets[0].id in useful):
            continue
        rule = RULES.get(dotted_name(s.value.func))
        p = forward.undifferentiated_param(rule, s.value, varied)
        if p is None:
            continue
        where = anno.get(s, anno.FILE)
        if p in forward.differentiable_params(rule):
            origin = f" (in {where}:{s.lineno}, code srcdiff generated)" if where else ""
            fail(unit.node if where else s, unit,
                 f"{rule.name} has a forward-mode rule but no reverse-mode rule for its argument "
                 f"{p!r}{origin}: reverse mode cannot differentiate through it",
                 "use forward over reverse instead: srcdiff.hvp / srcdiff.hessian, or "
                 "srcdiff.jvp of the gradient, or register the vjp in srcdiff/rules/runtime_rules.py")
        forward.decline_param(rule, p, unit.node if where else s, unit)


def _may_decline(rule) -> bool:
    """Can forward.undifferentiated_param find a parameter of `rule` without a vjp (or a constant argument
    of a nondifferentiable rule)? Not for a rule with a vjp template or ZERO for every parameter."""
    from ..rules import ZERO
    from ..rules.numpy_rules import CONSTANT_ARGUMENTS
    if rule is None or rule.variadic:
        return False
    if rule.nondiff:
        return rule.name in CONSTANT_ARGUMENTS
    return any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               or not rule.has_vjp(p.name) and rule.vjp.get(p.name) is not ZERO for p in rule.signature.parameters.values())


# linear-algebra rules whose adjoints transpose and multiply single matrices (a stack of matrices, which
# NumPy accepts, would get a wrong gradient: np.transpose reverses every axis)
SINGLE_MATRIX = ("np.linalg.inv", "np.linalg.det", "rt.logabsdet", "rt.slogdet_sign", "np.linalg.cholesky",
                 "np.linalg.solve", "rt.solve", "rt.solve_triangular", "np.linalg.pinv", "np.linalg.eigvalsh",
                 "rt.eigh_vectors", "rt.svdvals", "rt.svd_u", "rt.svd_vh", "rt.svd_u_full", "rt.svd_vh_full")
_SHOWN = {"rt.logabsdet": "np.linalg.slogdet", "rt.slogdet_sign": "np.linalg.slogdet", "rt.solve": "np.linalg.solve",
          "rt.solve_triangular": "solve_triangular", "np.linalg.eigvalsh": "np.linalg.eigh / eigvalsh",
          "rt.eigh_vectors": "np.linalg.eigh", "rt.svdvals": "np.linalg.svd", "rt.svd_u": "np.linalg.svd",
          "rt.svd_vh": "np.linalg.svd", "rt.svd_u_full": "np.linalg.svd", "rt.svd_vh_full": "np.linalg.svd"}


def check_single_matrices(unit: Unit, kind_map: dict, active: set):
    """Decline a differentiated linear-algebra call on an array of rank above 2 (a stack of matrices)."""
    for s in walk_statements(unit.node.body):
        if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "np.diag"
                and s.value.args and (_rank(s.value.args[0], kind_map) or 0) > 2):
            # (np.diagonal(a) and a.diagonal() are np.diag: of a matrix the same; of a stack NumPy takes the
            # diagonals of its first two axes, which np.diag, differentiated or not, does not)
            fail(s, unit, f"np.diagonal of an array of rank {_rank(s.value.args[0], kind_map)}: srcdiff takes the "
                          "diagonal of a matrix", "take each matrix's diagonal: np.diag(a[k]), or index the "
                          "diagonal entries: a[np.arange(n), np.arange(n)]")
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and isinstance(s.targets[0], gast.Name)
                and s.targets[0].id in active):
            continue
        name = dotted_name(s.value.func)
        ranks = [_rank(a, kind_map) for a in s.value.args]
        if name == "np.linspace" and any(r for r in ranks[:2]):
            # (its rule's adjoints sum g against the grid's weights: for array endpoints, g has one more axis)
            fail(s, unit, "np.linspace with an array as start or stop: srcdiff differentiates np.linspace of "
                 "numbers", "build the grid from one of numbers: start + (stop - start) * np.linspace(0.0, 1.0, "
                 "num)[:, None] (a row per point, as NumPy's np.linspace(start, stop, num) of vectors)")
        if name in ("rt.kron", "np.dot", "rt.dot") and len(ranks) == 2:
            if name == "rt.kron" and max(r or 0 for r in ranks) > 2:
                fail(s, unit, f"np.kron of an array of rank {max(ranks)}: srcdiff differentiates np.kron of "
                     "0-d, 1-d and 2-d operands", "reshape the operands to matrices, or write the product with "
                     "broadcasting: (a[:, None, :, None] * b[None, :, None, :]).reshape(...)")
            if name != "rt.kron" and (ranks[1] or 0) > 2:
                fail(s, unit, f"np.dot with a second operand of rank {ranks[1]} (it contracts that operand's "
                     "second-to-last axis, which srcdiff's product rule does not)",
                     "write it with np.tensordot(x, y, axes=([-1], [-2])) or np.einsum, or use x @ y for a "
                     "stack of matrix products")
            continue
        if name not in SINGLE_MATRIX or not ranks:
            continue
        if ranks[0] is not None and ranks[0] > 2:
            fail(s, unit, f"{_SHOWN.get(name, name)} of a stack of matrices (an array of rank {ranks[0]}): its "
                 "derivative here takes one matrix at a time",
                 "loop over the stack, e.g. total = 0.0; for k in range(a.shape[0]): total += ... a[k] ...")


def check_float_of_arrays(unit: Unit, kind_map: dict):
    """Decline float() of an array of rank 1 or more, differentiated or not: NumPy 2 raises TypeError there, so f
    itself fails. Before (h29b), jit=False gave a gradient of a function that does not run and Numba its typing
    message (NumPy 1.25 and 1.26 warned for an array of one element). x.item() takes one of any rank (rt.item)."""
    for s in walk_statements(unit.node.body):
        if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "float"
                and len(s.value.args) == 1 and (_rank(s.value.args[0], kind_map) or 0) > 0):
            rank = _rank(s.value.args[0], kind_map)
            fail(s, unit, f"float() of an array of rank {rank}: NumPy takes float() of a 0-d array only (of any "
                          "other it raises TypeError: 'only 0-dimensional arrays can be converted to Python scalars')",
                 f"take its element: float(x[{', '.join(['0'] * rank)}]), or x.item() (of an array of one element)")


def _rank(e, kind_map):
    """The rank of an argument whose kind is known (0 for a scalar), else None."""
    return kinds.ndim(kind_map.get(e.id) if isinstance(e, gast.Name) else None)


def check_sequence_arithmetic(unit: Unit, kind_map: dict, wrt: list):
    """Decline list or tuple repetition / concatenation ([a] * n, (a,) + t) of differentiated values: the
    rules take operands as arrays, so the derivative would silently be lost."""
    varied = None
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.BinOp)):
            continue
        for operand in (s.value.left, s.value.right):
            if isinstance(operand, gast.Name) and kinds.is_tuple(kind_map.get(operand.id)):
                parts = [operand]
            elif isinstance(operand, (gast.Tuple, gast.List)):
                parts = operand.elts
            else:
                continue
            if varied is None:
                varied = forward.varied_names(unit.node, wrt, unit.callees)
            if any(isinstance(p, gast.Name) and p.id in varied for p in parts):
                fail(s, unit, "a list or tuple of differentiated values repeated or joined with * or + (list "
                              "arithmetic, not array arithmetic)",
                     "build the array instead: np.full(n, a) for [a] * n, np.concatenate((u, v)) to join, or "
                     "np.array([...]) * n for elementwise products")


def check_numba(module, arg_kinds: tuple = ()):
    """Decline, at the user's line, what runs in Python but cannot compile under Numba: np.squeeze
    without axis= (its result's rank depends on the shape at run time; Numba types ranks statically),
    and sum(...) over a comprehension of arrays (its accumulator starts as the float 0.0). `arg_kinds`:
    the kinds of the entry function's arguments; with them, a matrix product of a stack of matrices
    (Numba's @, np.matmul and np.dot take 1-d and 2-d operands) is declined too."""
    for k, unit in enumerate(module.units.values()):
        terms, squeezes, product = [], [], False   # (in one walk; the kinds are inferred only where needed)
        for n in walk(unit.node):
            if anno.get(n, anno.SUM_TERM):
                terms.append(n)
            called = dotted_name(n.func) if isinstance(n, gast.Call) else None
            if called == "rt.squeeze":
                squeezes.append(n)
            product = product or called in _PRODUCTS or isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult)
        products = _matrix_products(unit.node) if product else []   # (with their statements: walked again)
        kind_map = kinds.infer(unit.node, dict(zip(unit.params, arg_kinds))) \
            if arg_kinds and k == 0 and (terms or products) else {}
        if kind_map:
            _check_stacked_products(module, unit, products, kind_map, arg_kinds)
        for n in terms:
            start = anno.get(n, anno.SUM_START)
            if start is not None and not isinstance(start.value, gast.Constant):
                continue   # it starts from zeros shaped like its first term (comprehension_loops._start)
            term = kinds.expr_kind(n.value.right, kind_map) if isinstance(n.value, gast.BinOp) else None
            if kinds.is_array(term):
                fail(n, unit, "sum(...) over a generator expression or list comprehension of arrays does not "
                              "compile under Numba (jit=True) here (in a function called from the one "
                              "differentiated in forward mode, or where its first term cannot be written before "
                              "the loop): Numba types the 0.0 start as a float",
                     "use jit=False, or accumulate in a loop from an array start, e.g. "
                     "total = np.zeros_like(x[0]); for i in range(n): total += ...")
        for n in squeezes:
            axis = n.args[1] if len(n.args) > 1 else None
            if axis is None or (isinstance(axis, gast.Constant) and axis.value is None):
                fail(n, unit, "np.squeeze without axis= does not compile under Numba (jit=True): the "
                              "rank of its result depends on the array's shape at run time",
                     "name the size-1 axes to drop, e.g. np.squeeze(x, axis=1) or x.squeeze(axis=(0, 2)), "
                     "or use jit=False")


_PRODUCTS = ("np.matmul", "np.dot", "rt.dot")


def _matrix_products(fn) -> list:
    """[(node, its operands, the statement that holds it)] of the matrix products (a @ b, np.matmul(a, b),
    np.dot(a, b)) in `fn` (the statement: where the line is, on a node ANF made)."""
    held = {}
    for st in walk_statements(fn.body):   # (outer statements first: the innermost one is kept)
        for n in walk(st):
            if (isinstance(n, gast.BinOp) and isinstance(n.op, gast.MatMult)
                    or isinstance(n, gast.Call) and dotted_name(n.func) in _PRODUCTS):
                held[id(n)] = (n, (n.left, n.right) if isinstance(n, gast.BinOp) else tuple(n.args), st)
    return list(held.values())


def _check_stacked_products(module, unit: Unit, products: list, kind_map: dict, arg_kinds: tuple):
    """check_numba's decline of a matrix product of a stack of matrices. The front-end unit is not in SSA: a
    name bound again to a value of unknown kind (a user function's result) has no kind at any of its reads, so
    where an operand's rank is unknown the unit in SSA (module.ssa_kinds) is read too (fuzz seed 231: the
    product reached Numba, a raw 'No implementation of function dot')."""
    def stacked(products, kind_map):
        for n, operands, st in products:
            ranks = [kinds.ndim(kinds.expr_kind(a, kind_map)) for a in operands]
            if any(r is not None and r > 2 for r in ranks):
                return (n if getattr(n, "lineno", None) else st), max(r for r in ranks if r is not None)
        return None
    found = stacked(products, kind_map)
    if found is None and any(kinds.ndim(kinds.expr_kind(a, kind_map)) is None for _, ops, _ in products for a in ops):
        ssa_unit, ssa_kinds = module.ssa_kinds(unit, arg_kinds)
        found = stacked(_matrix_products(ssa_unit.node), ssa_kinds)
    if found is not None:
        fail(found[0], unit, f"a matrix product with an operand of rank {found[1]} (a stack of matrices) does not "
                             "compile under Numba (jit=True): Numba's @, np.matmul and np.dot take 1-d and 2-d "
                             "operands",
             "use jit=False, or loop over the stack: for k in range(a.shape[0]): ... a[k] @ b[k] ...")
