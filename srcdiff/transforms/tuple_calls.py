"""NumPy functions returning a tuple of arrays (np.linalg.slogdet, eigh, svd): their signatures, and
whether a call splits into one primitive per output (desugar splits the unpacking, canonicalize maps
each index to its primitive)."""
from __future__ import annotations

import gast
import numpy as np

from ..rules import signature
from .astutil import literal_value, dotted_name


def _refers_to(unit, node, obj) -> bool:
    path = dotted_name(node)
    if path is None:
        return False
    parts = path.split(".")
    cur = unit.namespace.get(parts[0])
    for p in parts[1:]:
        cur = getattr(cur, p, None)
    return cur is obj


# NumPy functions returning a tuple of arrays: signature, and the primitive each output becomes
# (desugar splits unpacking into indexed calls, canonicalize maps each index to its primitive)
TUPLE_CALLS = {
    "np.linalg.slogdet": "a",
    "np.linalg.eigh": "a, UPLO='L'",
    "np.linalg.svd": "a, full_matrices=True, compute_uv=True, hermitian=False",
}
_TUPLE_OBJECTS = {"np.linalg.slogdet": np.linalg.slogdet, "np.linalg.eigh": np.linalg.eigh,
                  "np.linalg.svd": np.linalg.svd}


def bind_tuple_call(name, node):
    """The call's arguments bound to TUPLE_CALLS[name]'s parameters (gast nodes), or a TypeError's text."""
    if any(k.arg is None for k in node.keywords):
        return "**kwargs are not supported"
    try:
        return dict(signature(TUPLE_CALLS[name]).bind(*node.args, **{k.arg: k.value for k in node.keywords})
                    .arguments)
    except TypeError as e:
        return str(e)


def literal_flag(bound: dict, param: str, default):
    """The literal value of a bound argument, `default` when it is not given, NOT_LITERAL otherwise."""
    e = bound.get(param)
    if e is None:
        return default
    return e.value if isinstance(e, gast.Constant) else literal_value(e)


def splits_into_outputs(unit, value) -> bool:
    """Is `value` (before resolution) a call of a NumPy function that returns a tuple of arrays?"""
    for name, obj in _TUPLE_OBJECTS.items():
        if _refers_to(unit, value.func, obj):
            bound = bind_tuple_call(name, value)
            # np.linalg.svd(a, compute_uv=False) is the array of singular values: unpacking it unpacks its entries
            return not (isinstance(bound, dict) and literal_flag(bound, "compute_uv", True) is False)
    return False
