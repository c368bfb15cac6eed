"""Teach Numba's alias analysis that an array popped from a list, or appended to one, may share memory with the
list's other arrays.

Numba's dead-code elimination (`numba.core.ir_utils.remove_dead_block`, run on a function into which an
overload with `inline="always"` was inlined, as srcdiff's runtime helpers are) drops a store `v[i] = t` into an
array `v` that no live variable may alias. Its alias analysis (`find_potential_aliases`) knows `a = b`,
`b[0]`, `b.T`, `ravel`, ... but not `v = s.pop()`: a store into a popped array that nothing reads afterwards
is dropped, though another stack's array is the same array. Generated reverse-mode code does exactly that
where one array is pushed under two names (after `u, w = w, g(u, w)` / `u[0] = t`, the stacks of the old `w`
and of `u`): the backward sweep restores `u[0]` in the array it pops for `u`, and reads the restored value
through the `w` it popped. Under Numba the restore was dropped in the forward-over-reverse code of a
Hessian-vector product (redteam: `hvp(f, jit=True)` differed from `jit=False` and from differences of the
gradient). numba 0.68.1; a minimal program is in tests/test_runtime.py.

Registered on import of srcdiff.runtime: for `v = s.pop()` and `s.append(v)`, `v` aliases `s` (so every array
popped from or pushed onto one list aliases the others, and through them the arrays of other lists pushed
under the same names). This only keeps statements Numba would have dropped.
"""
from numba.core import ir, ir_utils

_LIST_METHODS = ("pop", "append")


def _alias(a: str, b: str, alias_map: dict, arg_aliases: set) -> None:
    """Record that variables `a` and `b` may share memory (as ir_utils does for `a = b`)."""
    if b in arg_aliases:
        arg_aliases.add(a)
        return
    alias_map.setdefault(a, set()).add(b)
    alias_map.setdefault(b, set()).add(a)


def list_method_aliases(instr, args, typemap, func_ir, alias_map, arg_aliases, chained=None):
    """The alias-analysis extension for `ir.Assign`: `v = s.pop()` and `s.append(v)` alias `v` with `s`."""
    if chained is not None:
        chained(instr, args, typemap, func_ir, alias_map, arg_aliases)
    expr = instr.value
    if not (isinstance(expr, ir.Expr) and expr.op == "call"):
        return
    method = ir_utils.guard(ir_utils.get_definition, func_ir, expr.func)
    if not (isinstance(method, ir.Expr) and method.op == "getattr" and method.attr in _LIST_METHODS):
        return
    owner = method.value.name
    if ir_utils.is_immutable_type(owner, typemap):
        return
    values = [instr.target.name] if method.attr == "pop" else [a.name for a in expr.args]
    for v in values:
        if not ir_utils.is_immutable_type(v, typemap):
            _alias(v, owner, alias_map, arg_aliases)


def register() -> None:
    """Install the extension once (after any other for `ir.Assign`, which it calls first)."""
    current = ir_utils.alias_analysis_extensions.get(ir.Assign)
    if getattr(current, "srcdiff_list_aliases", False):
        return

    def extension(instr, args, typemap, func_ir, alias_map, arg_aliases):
        list_method_aliases(instr, args, typemap, func_ir, alias_map, arg_aliases, current)
    extension.srcdiff_list_aliases = True
    ir_utils.alias_analysis_extensions[ir.Assign] = extension


register()
