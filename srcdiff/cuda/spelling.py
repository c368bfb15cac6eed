"""The user's names in the CUDA lowering's messages.

Why: the lowering reads generated code (srcdiff's gradient, forward mode's jvp, and for hvp forward mode over the
gradient's own text), whose names are SSA's versions of the user's (`buf6v13`, versions of versions `buf6v13v2`),
temporaries named after them (`total_sum10v3`, `a_if_sum10`, `buf1v15_old`) and derivatives of the user's helpers
(`rec3_jvp`). A decline that names those asks the user to find a name that is nowhere in their code. A message
names the user's variable instead: a generated name is spelled as the first of its shortenings (a version suffix
`v<k>` dropped, a counter, a word srcdiff appends: `_items`, `_sum`) that the user's function or a function it calls
binds or reads. Names that no shortening brings back to the user's (the lowering's own `cu_...`, a trip counter),
and srcdiff's records of a value (`buf1_old_tape5`, `b8_stack`: a tape, a stack, a value before a write, which a
message about them would misname as the value itself) stay as they are."""
from __future__ import annotations

import ast
import copy
import re

from ..transforms import annotations as anno
from ..user_spelling import spell, spelled, user_names

__all__ = ["called", "literals", "quoted", "shown", "spell", "spelled", "user_names"]   # (the last 3: user_spelling's)


def shown(e) -> str:
    """The text of expression `e` of the lowering's copy of a generated function as the user wrote it: a constant
    folded in (cuda/host.py fold_shapes: `3` of `a.shape[0]`, `3 - 1`'s 2) as the expression it stands for."""
    return ast.unparse(_unfolded(e))


def _unfolded(e):
    class Back(ast.NodeTransformer):
        def visit(self, n):
            was = anno.get(n, anno.FOLDED_FROM)
            return self.visit(copy.deepcopy(was)) if was is not None else super().visit(n)
    return Back().visit(copy.deepcopy(e))


def literals(trees) -> dict:
    """{name: its text} for the names `trees` (the generated functions) bind once, to numbers written out (`(0, 1,
    1)`, `np.array((0, 1, 1))`: a list the user wrote in an index, `M[[0, 1, 1], [1, 0, 0]]`), as a list."""
    binds: dict = {}
    for fn in trees:
        for st in ast.walk(fn):
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                if not _restore(st.value) and not anno.get(st, anno.PLACEHOLDER):
                    binds.setdefault(st.targets[0].id, []).append(st.value)
    out = {}
    for name, values in binds.items():
        v = values[0]
        if len(values) == 1 and isinstance(v, ast.Call) and len(v.args) == 1 and not v.keywords and \
                ast.unparse(v.func) in ("np.array", "rt.array"):
            v = v.args[0]
        rows = _numbers(v) if len(values) == 1 and isinstance(v, (ast.Tuple, ast.List)) else None
        if rows is not None:
            out[name] = ast.unparse(rows)
    return out


def _restore(v) -> bool:
    """`v` is a pop of a stack (`t = t_stack.pop()`: the backward sweep restores the value the forward sweep bound)."""
    return isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "pop" and not v.args


def _numbers(v, binds=None):
    """`v`, a tuple or list of numbers written out (or of such rows; `binds`: {name: [values]}, a name bound once to
    a number is that number: `result_at0 = 1`), as a list (of lists); else None."""
    if isinstance(v, ast.Name) and binds and len(binds.get(v.id, ())) == 1:
        v = binds[v.id][0]
    if isinstance(v, ast.Constant) and isinstance(v.value, (int, float)):
        return v
    if isinstance(v, (ast.Tuple, ast.List)) and v.elts:
        elts = [_numbers(e, binds) for e in v.elts]
        return None if any(e is None for e in elts) else ast.List(elts, ast.Load())
    return None


_INLINED = (ast.Compare, ast.BoolOp, ast.BinOp, ast.UnaryOp)


def temporary(name: str, users: set) -> bool:
    """`name` is a temporary srcdiff made (ANF's `b1 = M[0, 0]` of the user's `b = a[M[0, 0] > 0]`, `result7`, and
    its versions `result7v5`), not a version of one of the user's variables (`buf13v1`) or one itself."""
    return bool(name) and not name.startswith(("d_", "cu_")) and re.sub(r"(v\d+)+$", "", name) not in users


def _srcdiffs(v) -> bool:
    """`v` calls srcdiff's runtime (`rt.logsumexp(rt.expand_dims(...))`: text the user did not write)."""
    return any(isinstance(c, ast.Call) and ast.unparse(c.func).startswith("rt.") and ast.unparse(c.func) != "rt.array"
               for c in ast.walk(v))       # (rt.array: forward mode's np.array)


def quoted(e, fn, depth: int = 1, users: set | None = None, line=None) -> str:
    """The text of the subscript `e` of generated function `fn` with the names in its index that `fn` binds once to
    an operation (`buf13v2 = buf13v1 > 0.5`: a temporary of the user's expression, ANF's) or to numbers written out
    written in their place, `depth` deep: `buf13[buf13 > 0.5]` once spelled, where the names alone read
    `buf13[buf13]`. (Not deeper, nor in the array indexed: a version of the user's variable bound to an operation,
    `buf13v1 = buf13 * x`, reads as the variable.) With `users` (user_names), a temporary (`b1 = M[0, 0]`, which
    reads as the user's `b`; `result7v5`, a name nowhere in the user's code) bound once is written in its place at
    any depth, whatever its value, in the index and in the array indexed: `a[M[0, 0] > 0]`, not `a[b > 0]`;
    `(M[1])[[0]]`, not `result1[[0]]`; one with no text of the user's (bound more than once, or to a call of
    srcdiff's runtime) reads `(...)`, the user's line beside it. `line` (a generated line number -> the user's line)
    makes a temporary too of a name bound only on the user's line of `e` (ANF names its temporaries after the line's
    variable, `t24v2 = M[:, 0]` of `t24 = f(M[M[:, 0] > 0])`: the variable's value is bound after its reads)."""
    binds: dict = {}
    lines: dict = {}
    for st in ast.walk(fn):
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            if not _restore(st.value) and not anno.get(st, anno.PLACEHOLDER) and not anno.get(st, anno.SUM_EMPTY):
                binds.setdefault(st.targets[0].id, []).append(st.value)     # (a placeholder holds no value)
                lines.setdefault(st.targets[0].id, set()).add(line(st.lineno) if line else None)
    here = line(e.lineno) if line and getattr(e, "lineno", None) else None

    def temporary_here(name):
        return temporary(name, users) or (here is not None and here[0] is not None and lines.get(name) == {here})

    class Inline(ast.NodeTransformer):
        def __init__(self, left, temps=0, lists=True):
            self.left, self.temps, self.lists = left, temps, lists     # (lists: np.array([...]) reads as [...])

        def visit_Name(self, n):
            values = list({ast.dump(v): v for v in binds.get(n.id, [])}.values())   # (one value bound twice: once)
            temp = users is not None and temporary_here(n.id) and self.temps < 8
            if temp and values and (len(values) != 1 or _srcdiffs(values[0])):
                return ast.Name("(...)", ast.Load())    # (a temporary with no text of the user's: an accumulated
            if len(values) != 1:                          # sum, a value srcdiff's runtime computes)
                return n
            v = values[0]
            if not self.left and not temp:
                return n
            written = isinstance(v, ast.Call) and len(v.args) == 1 and ast.unparse(v.func) in ("np.array", "rt.array")
            if written:
                v = v.args[0]
                if isinstance(v, ast.Tuple):        # (an index list the user wrote: `[i9]`, kept as a tuple)
                    v = ast.List(v.elts, ast.Load())
            lists = self.lists and id(n) in whole     # (an operand, `[x, x] > -0.5`, reads as the array it is)
            if isinstance(v, (ast.Tuple, ast.List)) and _numbers(v, binds) is not None:
                if isinstance(v, ast.Tuple) and not lists:     # (a tuple of numbers, a shape: `np.ones((n, n))`,
                    return ast.Tuple(_numbers(v, binds).elts, ast.Load())     # not `np.ones(np.array([n, n]))`)
                return _wrapped(_numbers(v, binds), lists)
            if written and isinstance(v, ast.List) and self.temps < 8:   # of names (ANF's of the user's items)
                return _wrapped(Inline(max(self.left, 1), self.temps + 1).visit(copy.deepcopy(v)), lists)
            if isinstance(v, _INLINED) and self.left:
                return Inline(self.left - 1, self.temps).visit(copy.deepcopy(v))
            if temp and not _restore(v):
                return Inline(self.left, self.temps + 1).visit(copy.deepcopy(v))
            return n
    e = copy.deepcopy(e)
    # the names that are the whole index or one of its items: an index list written out reads as a list there only
    whole = {id(t) for t in (e.slice.elts if isinstance(e.slice, ast.Tuple) else [e.slice])}
    e.slice = Inline(depth).visit(e.slice)
    if users is not None:       # the array indexed: a temporary's value (`result1 = M[1]`), a variable's version not
        e.value = Inline(0, lists=False).visit(e.value)
        if isinstance(e.value, ast.Name) and e.value.id.startswith("d_"):   # (a tangent's read, `d_b[b > 0]` of
            e.value.id = re.sub(r"^(d_)+", "", spelled(e.value.id, users)) or e.value.id   # forward mode: the user's b)
    return shown(e)


def _wrapped(items, lists: bool):
    """`items` (a list written out) as an index reads it (`[0, 1]`), or as the array it is (`np.array([0, 1])`)."""
    return items if lists else ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "array", ast.Load()), [items], [])


def called(name: str) -> str:
    """The call the user wrote that generated code makes as `name(...)`: a runtime helper `rt.cumsum` is NumPy's
    `np.cumsum(...)`, `rt.log_ndtr` `scipy.special.log_ndtr(...)`, `rt.astype` the method `.astype()`; one the user
    never calls (the derivative code's `rt.prod_others_jvp`) says it is srcdiff's."""
    if not name.startswith("rt."):
        return f"{name}(...)"
    import numpy as np
    import scipy.special
    from ..rules import objects_of
    from ..rules.numpy_rules import METHODS
    short = name[3:]
    if name in ("rt.cast", "rt.astype"):        # (resolve.py: .astype(...), np.array(x, dtype=...), ...)
        return "of a cast to a dtype (.astype(...), or dtype= of an array constructor)"
    theirs = [o for o in objects_of(name) if not (getattr(o, "__module__", None) or "").startswith("srcdiff")]
    for where, module in (("np", np), ("scipy.special", scipy.special)):
        if any(getattr(module, short, None) is o for o in theirs) or where == "np" and hasattr(np, short):
            return f"{where}.{short}(...)"
    for obj in theirs:
        for where, module in (("np", np), ("scipy.special", scipy.special)):
            if getattr(module, getattr(obj, "__name__", ""), None) is obj:
                return f"{where}.{obj.__name__}(...)"
    if short in METHODS or name in METHODS.values():
        return f".{short if short in METHODS else next(m for m, n in METHODS.items() if n == name)}() of an array"
    return f"{name}(...) (a helper of srcdiff's derivative code, made from a call on this line)"
