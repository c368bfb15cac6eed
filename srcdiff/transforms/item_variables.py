"""The name of the variable srcdiff gives an item of a structure (flatten.py): the one place such names are made.

An item of a namedtuple or a dict is named by its field or key, `layer_W` for `layer.W`, `p_b` for `p["b"]`; an item
of a tuple or list by its position, `t_0` for `t[0]`; nested structures compose, `params_layer1_W` for
`params.layer1.W`, `layers_0_W` for `layers[0]["W"]`. A key that is not an ASCII identifier (`d["a b"]`, `d["a-b"]`,
a key that is not a string) names its item by position (`d_0`), as does a key whose names would be those of an item
before it in the same structure (`p["a"]["b"]` after `p["a_b"]`: both `p_a_b`; the second is `p_1_b`): positions begin
with a digit and keys with a letter or `_`, so no two items of a structure share a name, and an item added to a dict
made in the function renames none before it.

A structure is flatten's (None for a leaf, else a list of its items' structures, a Keyed with `names` for a dict, a
Fields with `fields` for a namedtuple); a path is a tuple of positions from the structure to an item."""
from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _keys(struct):
    """A structure's keys (a dict's) or fields (a namedtuple's), else None (a tuple or list)."""
    keys = getattr(struct, "names", None)
    return keys if keys is not None else getattr(struct, "fields", None)


def _suffixes(struct) -> list:
    """The names of the structure's leaves after its own (`["_W", "_b"]`; `[""]` for a leaf)."""
    if struct is None:
        return [""]
    return ["_" + label + s for label, sub in zip(labels(struct), struct) for s in _suffixes(sub)]


def labels(struct) -> list:
    """The part of its variables' names each item of `struct` gives (its key or field, else its position)."""
    keys = _keys(struct)
    if keys is None:
        return [str(k) for k in range(len(struct))]
    out = [key if isinstance(key, str) and _IDENTIFIER.match(key) else str(k) for k, key in enumerate(keys)]
    taken: set = set()
    for k, label in enumerate(out):
        if not label[0].isdigit():
            names = {"_" + label + s for s in _suffixes(struct[k])}
            if names & taken:
                out[k] = str(k)     # (an item after it: a key added to a dict never renames the items before it)
            taken |= names
    return out


def item_variable(name: str, struct, path=()) -> str:
    """The variable of the item at `path` in the structure `struct` named `name` (`layer_W`, `t_0`)."""
    parts = [name]
    for k in path:
        parts.append(labels(struct)[k])
        struct = struct[k]
    return "_".join(parts)


def item_variables(name: str, struct, path=()) -> list:
    """The variables of the leaves of the item at `path` (the whole structure for `()`), in order."""
    base = item_variable(name, struct, path)
    for k in path:
        struct = struct[k]
    return [base + s for s in _suffixes(struct)]
