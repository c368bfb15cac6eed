"""The kernel's arguments: the user's arguments (and, for jvp / hvp, the tangent) flattened to one kernel argument
per array or number, each batched or broadcast as its in_axes entry says.

Why flatten: a CUDA kernel takes arrays and numbers, not Python tuples or lists. srcdiff's CPU transforms already
give every leaf of a tuple/list argument a parameter of its own (transforms/flatten.py: `def f(xa)` with
`xa = (x, a)` is generated as `f_grad(xa_0, xa_1)`), so the host flattens the argument the same way, leaf by leaf
in order, and the generated entry's parameters match the kernel's arguments one to one. Gradients with respect to
a tuple argument come back flat too; the transform's own `_restructure` (what the CPU call uses) gives them the
argument's structure (a list for a list argument), each leaf with its leading batch axis.

in_axes: an entry is a prefix of its argument's structure, as in jax.vmap: 0 or None for the whole argument
(every leaf batched along its axis 0, or every leaf the same for all examples), or a tuple/list with one entry per
element of a tuple/list argument, nested as deep as the argument is. The tangent's entry (jvp / hvp) reads the
tangent the same way: with several wrt arguments the tangent is a tuple with one tangent per wrt argument, so a
tuple entry there has one entry per wrt argument, each a prefix of that tangent's structure."""
from __future__ import annotations

from dataclasses import dataclass

from ..transforms import flatten

AXES = (0, None)


@dataclass
class Leaf:
    """One kernel argument: `name` for messages (`xa[1]`, `tangent of xa[0]`), its value and in_axes entry."""
    name: str
    value: object
    axis: int | None


def is_sequence(value) -> bool:
    return isinstance(value, (tuple, list))


def leaves_of(name: str, value, axis, err) -> list:
    """The leaves of `value` (an argument of the user's function or a tangent), each with the in_axes entry
    `axis` gives it. err(message, advice) makes the SrcdiffError at the user's line."""
    if is_sequence(axis):
        if not is_sequence(value):
            raise err(f"in_axes entry {axis!r} for {name}: a tuple entry is for a tuple or list argument, and "
                      f"{name} is a {type(value).__name__}", "give it 0 (batched) or None (broadcast)")
        if len(axis) != len(value):
            raise err(f"in_axes entry {axis!r} for {name}: {len(axis)} entries for its {len(value)} elements",
                      "give one entry per element, or 0 / None for the whole argument")
    elif axis not in AXES or isinstance(axis, bool):
        raise err(f"in_axes entry {axis!r} for {name}: entries are 0 (batched along axis 0) or None (the same "
                  "for every example)", "a tuple or list argument takes 0 / None for the whole of it, or a tuple "
                                        "of such entries, one per element")
    if not is_sequence(value):
        return [Leaf(name, value, axis)]
    out = []
    for k, v in enumerate(value):
        out += leaves_of(f"{name}[{k}]", v, axis[k] if is_sequence(axis) else axis, err)
    return out


def structs_of(params, values) -> tuple:
    """(parameter, structure) of the tuple/list arguments, as the CPU transforms key their specialisations."""
    return tuple((p, flatten.structure_of(v)) for p, v in zip(params, values) if is_sequence(v))


def tangent_leaves(fwd, primal, tangent, axis, err) -> list:
    """The leaves of a jvp / hvp tangent (`fwd`: the ForwardTransformed): one tangent per wrt argument (a tuple of
    them when wrt names several), each of its argument's structure."""
    tangents = tuple(tangent) if fwd.many and is_sequence(tangent) else (tangent,)
    if len(tangents) != len(fwd.wrt_names):
        raise err(f"{fwd.__name__}: expected {len(fwd.wrt_names)} tangents (one per wrt argument), got "
                  f"{len(tangents)}", None)
    if fwd.many and is_sequence(axis):
        if len(axis) != len(tangents):
            raise err(f"in_axes: the tangent's entry {axis!r} needs one entry per wrt argument "
                      f"({len(tangents)})", "give 0 / None for the whole tangent, or one entry per wrt argument")
        axes = tuple(axis)
    else:
        axes = (axis,) * len(tangents)
    params = list(fwd._params())
    out = []
    for w, t, ax in zip(fwd.wrt_names, tangents, axes):
        arg = primal[params.index(w)]
        if flatten.structure_of(t) != flatten.structure_of(arg):
            raise err(f"the tangent of {w} must have the argument's structure {flatten.structure_of(arg)}, got "
                      f"{flatten.structure_of(t)}", "pass a tangent shaped like the argument, leaf by leaf")
        out += leaves_of(f"tangent of {w}", t, ax, err)
    return out


def rebuild_example(values, leaf_examples) -> list:
    """The arguments `values` (tuples/lists kept) with their leaves replaced by `leaf_examples`, in order."""
    it = iter(leaf_examples)

    def build(v):
        if is_sequence(v):
            items = [build(x) for x in v]
            return type(v)(*items) if hasattr(type(v), "_fields") else type(v)(items)   # (a namedtuple: by field)
        return next(it)
    return [build(v) for v in values]
