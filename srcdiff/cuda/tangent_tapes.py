"""Which tangent tapes a kernel need not fill with zeros.

Forward mode over a taped gradient (jvp of a gradient, hvp) keeps a tangent per taped value: `d_t_tape =
rt.zeros_like(t_tape)`, NumPy's zeros. On the device a tape is a local array allocated once at the top of the device
function, and its allocation statement became a loop writing a zero into each element (one per tangent tape; the
fusion pass merged those of one size). Reverse mode reads a tape's element only where it wrote it first (its tape is
`np.empty` on the CPU), and forward mode writes the tangent beside each write of the value (`t_tape[i] = t` then
`d_t_tape[i] = d_t`): such a tangent tape's zeros are never read, and the loop is dead code. Where the two writes do
not pair up (a tangent forward mode knows to be zero is not written, a tape bound again through a merge of its
versions), the zeros stay."""
from __future__ import annotations

import ast

from ..transforms.astutil import nested_blocks


def _stored(st, name):
    """The index of `name[index] = ...` (st), or None."""
    if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Subscript):
        t = st.targets[0]
        if isinstance(t.value, ast.Name) and t.value.id == name:
            return ast.dump(t.slice)
    return None


def _blocks(body):
    yield body
    for st in body:
        for b in nested_blocks(st):
            yield from _blocks(b)


def _bound_once(fn, name) -> bool:
    """`name` is bound by one statement, to a call (its allocation), and never read whole (a merge of a tape's
    versions, `t6 = t5`, would make a second name of its local array)."""
    binds = [st for st in ast.walk(fn) if isinstance(st, (ast.Assign, ast.For)) and any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for t in (st.targets if isinstance(st, ast.Assign) else [st.target]) for n in ast.walk(t))]
    whole = [n for st in ast.walk(fn) if isinstance(st, ast.Assign) and isinstance(st.value, ast.Name)
             for n in [st.value] if n.id == name]
    return len(binds) == 1 and isinstance(binds[0].value, ast.Call) and not whole


def written_with_values(fn: ast.FunctionDef, tangents: dict) -> set:
    """The tangent tapes of `tangents` (tangent tape -> the tape whose shape it copies) whose every element a read can
    reach is written first: each write `t_tape[i] = v` is followed in its block, before the next write of t_tape, by
    `d_t_tape[i] = ...` at the same index, and neither tape has a second name."""
    out = set()
    blocks = list(_blocks(fn.body))
    for d, t in tangents.items():
        if not _bound_once(fn, d) or any(isinstance(st, ast.Assign) and isinstance(st.value, ast.Name)
                                         and st.value.id == t for st in ast.walk(fn)):
            continue
        paired = True
        for body in blocks:
            for k, st in enumerate(body):
                index = _stored(st, t)
                if index is None:
                    continue
                rest = body[k + 1:]
                stop = next((j for j, s in enumerate(rest) if _stored(s, t) is not None), len(rest))
                if not any(_stored(s, d) == index for s in rest[:stop]):
                    paired = False
        if paired:
            out.add(d)
    return out
