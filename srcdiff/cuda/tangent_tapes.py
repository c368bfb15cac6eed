"""Which tangent tapes a kernel need not fill with zeros.

Forward mode over a taped gradient (jvp of a gradient, hvp) keeps a tangent per taped value: `d_t_tape =
rt.zeros_like(t_tape)`, NumPy's zeros. On the device a tape is a local array allocated once at the top of the device
function, and its allocation statement became a loop writing a zero into each element (one per tangent tape; the
fusion pass merged those of one size). Reverse mode reads a tape's element only where it wrote it first (its tape is
`np.empty` on the CPU), and forward mode writes the tangent beside each write of the value (`t_tape[i] = t` then
`d_t_tape[i] = d_t`), and each merge of a tape's versions (`t6 = t5`) beside its tangent's (`d_t6 = d_t5`): where
the tape holds fresh memory at the allocation, or a copy of a placeholder nothing writes into (the path that never
reads it: `t6 = t_placeholder; d_t6 = rt.zeros_like(t6)`), the tangent's zeros are never read, and the loop is dead
code. Where the writes or merges do not pair up (a tangent forward mode knows to be zero is not written), or the
tape is a copy of one written without a tangent (a tape of constants merged with one of values: its tangent is
those zeros), the zeros stay."""
from __future__ import annotations

import ast

from ..transforms.astutil import every_block


def _stored(st, name):
    """The index of `name[index] = ...` (st), or None."""
    if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Subscript):
        t = st.targets[0]
        if isinstance(t.value, ast.Name) and t.value.id == name:
            return ast.dump(t.slice)
    return None


def _copy(st):
    """(target, source) of `a = b` (names), or None."""
    if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and \
            isinstance(st.value, ast.Name):
        return st.targets[0].id, st.value.id
    return None


def _merges_paired(blocks, tangents, tangent_of) -> bool:
    """Every copy of a tape that has a tangent (a merge of its versions, `t6 = t5`) has its tangent's copy in the same
    block (`d_t6 = d_t5`, or the zeros of `d_t6` where t5 has none), and every copy of a tangent tape its tape's,
    or the tape is not bound in the block at all: forward mode dropped the merge `t6 = t5` where nothing reads t6
    after it (only its tangent, which the gradient's reads of t6 became), and d_t6 holds d_t5's elements."""
    for body in blocks:
        copies = {c for c in map(_copy, body) if c}
        bound = {st.targets[0].id for st in body if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)}
        allocated = {st.targets[0].id for st in body if isinstance(st, ast.Assign)
                     and isinstance(st.targets[0], ast.Name)
                     and st.targets[0].id in tangents and not isinstance(st.value, ast.Name)}
        for a, b in copies:
            if a in tangent_of and not ((tangent_of[a], tangent_of.get(b)) in copies or tangent_of[a] in allocated):
                return False
            if a in tangents and (tangents[a], tangents.get(b)) not in copies and tangents[a] in bound:
                return False
    return True


def _fresh_at(body, k, t, fn, stored) -> bool:
    """The tape `t`, where statement k of `body` reads it, holds memory no read reaches before a write: a tape just
    allocated (bound to a call), or a copy of a placeholder nothing writes into (the path that never reads it)."""
    before = [st for st in body[:k] if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
              and st.targets[0].id == t]
    if before:
        binding = before[-1].value
    else:
        binds = [st.value for st in ast.walk(fn) if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                 and st.targets[0].id == t]
        if len(binds) != 1:
            return False
        binding = binds[0]
    if isinstance(binding, ast.Call):
        return True
    if isinstance(binding, ast.Name) and binding.id not in stored:
        sources = [st.value for st in ast.walk(fn) if isinstance(st, ast.Assign)
                   and isinstance(st.targets[0], ast.Name) and st.targets[0].id == binding.id]
        return bool(sources) and all(isinstance(v, ast.Call) for v in sources)
    return False


def _stores_paired(blocks, tangent_of) -> bool:
    """Each write `t[i] = v` of a tape with a tangent is followed in its block, before the next write of t, by the
    tangent's write at the same index."""
    for body in blocks:
        for k, st in enumerate(body):
            for t, d in tangent_of.items():
                index = _stored(st, t)
                if index is None:
                    continue
                rest = body[k + 1:]
                stop = next((j for j, s in enumerate(rest) if _stored(s, t) is not None), len(rest))
                if not any(_stored(s, d) == index for s in rest[:stop]):
                    return False
    return True


def dead_fills(fn: ast.FunctionDef, tangents: dict) -> set:
    """The ids of the values of the tangent tapes' allocations (`d_t = rt.zeros_like(t)`; `tangents`: tangent tape
    -> its tape) whose zeros no read reaches (module docstring): the tape's writes and merges pair with the tangent's,
    and the tape holds fresh memory there or a placeholder's that nothing writes into."""
    blocks = list(every_block(fn.body))
    tangent_of = {t: d for d, t in tangents.items()}
    if len(tangent_of) != len(tangents) or not _stores_paired(blocks, tangent_of) or \
            not _merges_paired(blocks, tangents, tangent_of):
        return set()
    stored = set()        # the names written into
    for st in ast.walk(fn):
        for t in st.targets if isinstance(st, ast.Assign) else [st.target] if isinstance(st, ast.AugAssign) else []:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                stored.add(t.value.id)
    out = set()
    for body in blocks:
        for k, st in enumerate(body):
            if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and st.targets[0].id in tangents \
                    and isinstance(st.value, ast.Call) and _fresh_at(body, k, tangents[st.targets[0].id], fn, stored):
                out.add(id(st.value))
    return out
