"""A function of yours returning a copy of its dict parameter at once, `return dict(p, W=W2)`, `return {**p, "b": v}`,
`return p.copy()`, `return copy.copy(p)`: written as the copy bound to a name, then returned (`p_copy = dict(p, W=W2)`,
`return p_copy`), the form dict_forms reads the keys of where the function is called (named_dicts: CopiedKeys).
Before, the first was declined as 'a dict argument used as a whole value' and the second as 'not a dict display of the
same string keys on every path', though the same copy bound to a name first was differentiated. Only a `return` in
the function's own block (not in a branch or a loop: a copy made there has keys srcdiff does not know) of a
parameter's copy is rewritten; anything else is left for dict_forms to read or decline."""
from __future__ import annotations

import gast

from .astutil import assign, load, walk


def bind_copy_returns(fn_node) -> None:
    """Rewrite, in `fn_node` and the defs nested in it, each `return <copy of a parameter>` of a function's own block
    as `<param>_copy = <copy>` then `return <param>_copy` (in place)."""
    for node in walk(fn_node):
        if isinstance(node, gast.FunctionDef):
            _bind_in(node)


def _bind_in(fn: gast.FunctionDef) -> None:
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    for i, st in enumerate(fn.body):
        param = _copied(st.value, params) if isinstance(st, gast.Return) and st.value is not None else None
        if param is None:
            continue
        taken = {n.id for n in walk(fn) if isinstance(n, gast.Name)}
        name, k = f"{param}_copy", 2
        while name in taken:
            name, k = f"{param}_copy{k}", k + 1
        bound = assign(name, st.value, lineno=st.lineno)
        gast.copy_location(bound, st)
        st.value = gast.copy_location(load(name), st.value)
        fn.body.insert(i, bound)
        return      # (statements after a return in the same block are never run)


def _copied(value, params: set) -> str | None:
    """The parameter `value` copies (`dict(p, ...)`, `{**p, ...}`, `p.copy()`, `copy.copy(p)`, `copy.deepcopy(p)`),
    else None."""
    def param(e):
        return e.id if isinstance(e, gast.Name) and e.id in params else None
    if isinstance(value, gast.Dict) and value.keys and value.keys[0] is None:
        return param(value.values[0])
    if not isinstance(value, gast.Call):
        return None
    f = value.func
    if isinstance(f, gast.Name) and f.id == "dict" and len(value.args) == 1:
        return param(value.args[0])
    if isinstance(f, gast.Attribute) and f.attr == "copy" and not value.args and not value.keywords:
        return param(f.value)
    if (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == "copy"
            and f.attr in ("copy", "deepcopy") and len(value.args) == 1):
        return param(value.args[0])
    return None
