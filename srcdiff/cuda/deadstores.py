"""Dead stores of device code: the writes into a local array that nothing reads go, with the loops they leave empty.

srcdiff.hvp runs forward mode over the generated gradient and keeps only H·v of its (gradient, H·v) result
(lower.Program's `select`), so the device function still holds the code of the gradient alone: its adjoint arrays,
the stacks its backward sweep pops them from, and the copies SSA merges make of them. Each array statement is an
element loop, and Numba's compile time grows faster than linearly in the basic blocks of a function
(srcdiff/cuda/fusion.py). An array is dead when every line that reads it is a store into a dead array (or into
itself): a store `v[i] = <expression>` or `v[i] += <expression>` whose expression calls nothing but math functions.
Its stores and its allocation go; a loop whose body is left empty goes, and so do the comment lines naming the
user's line of statements that all went. Arrays used otherwise (whole, as an argument, in a test) stay alive."""
from __future__ import annotations

import ast
import re

_ALLOC = re.compile(r"^\s*(\w+) = cuda\.local\.array\(")
_LOOP = re.compile(r"^( *)for cu_\w+ in range\([^:]*\):$")     # an element loop (its variable read nowhere else)
_COMMENT = re.compile(r"^\s*#")
_OPENS = re.compile(r":\s*$")
_PURE = {"max", "min", "abs", "float", "int", "bool", "round"}


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _pure(tree) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if not (isinstance(f, ast.Name) and f.id in _PURE or
                    isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "math"):
                return False
    return True


def _store(line: str):
    """(array, the names the line reads besides it) of a store into an element of an array, else None."""
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return None
    st = tree.body[0] if len(tree.body) == 1 else None
    target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
        st.target if isinstance(st, ast.AugAssign) else None
    if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and _pure(st)):
        return None
    arr = target.value.id
    reads = {n.id for n in ast.walk(st) if isinstance(n, ast.Name)} - {arr}
    return arr, reads


def drop_dead_stores(allocs: list, body: list) -> tuple:
    """(allocs, body) without the dead arrays' allocations and stores (see the module docstring)."""
    arrays = {m.group(1) for m in map(_ALLOC.match, allocs) if m}
    if not arrays:
        return allocs, body
    always = set()      # names read by the allocations' other lines (an argument copied into a local array)
    for line in allocs:
        if not _ALLOC.match(line):
            always.update(re.findall(r"\w+", line))
    facts = []
    for line in body:
        if _COMMENT.match(line):
            facts.append(None)
            continue
        stored = _store(line)
        facts.append(stored if stored is not None else (None, set(re.findall(r"\w+", line))))
    dead: set = set()
    while True:
        live = set(always)
        for f in facts:
            if f is not None and f[0] not in dead:
                live |= f[1]
        grew = (arrays - live) - dead
        if not grew:
            break
        dead |= grew
    if not dead:
        return allocs, body
    gone = [f is not None and f[0] in dead for f in facts]
    for arr in dead:
        _drop_counter(body, gone, f"{arr}_n")
    kept_allocs = [a for a in allocs if not (_ALLOC.match(a) and _ALLOC.match(a).group(1) in dead)]
    return kept_allocs, _tidy(body, gone)


def _drop_counter(body: list, gone: list, counter: str):
    """Mark gone the bookkeeping of a dead stack's counter (statements.py's push and pop: `s_n = 0`, `s_n += 1`,
    `s_n -= 1` and the full-tape exit `if s_n >= 16: return 1`, which guarded the writes that went), where that is
    all that reads it."""
    word = re.compile(rf"\b{counter}\b")
    plain = re.compile(rf"^\s*{counter} (= 0|\+= 1|-= 1)$")
    exit_ = re.compile(rf"^\s*if {counter} >= \d+:$")
    marks = []
    for i, line in enumerate(body):
        if not word.search(line):
            continue
        if plain.match(line):
            marks.append(i)
        elif exit_.match(line) and i + 1 < len(body) and re.match(r"^\s*return 1$", body[i + 1]):
            marks += [i, i + 1]
        elif not gone[i]:
            return
    for i in marks:
        gone[i] = True


def _tidy(body: list, gone: list) -> list:
    """body without the lines marked gone, the loops left empty, and the comments left with no statement."""
    gone = list(gone)
    changed = True
    while changed:                  # loops whose body went (innermost first)
        changed = False
        for i, line in enumerate(body):
            if gone[i] or not _LOOP.match(line):
                continue
            ind, k, empty = _indent_of(line), i + 1, True
            while k < len(body) and _indent_of(body[k]) > ind:
                if not gone[k] and not _COMMENT.match(body[k]):
                    empty = False
                k += 1
            if empty and k > i + 1 and any(gone[i + 1:k]):
                for n in range(i, k):
                    gone[n] = True
                changed = True
    for i, line in enumerate(body):     # comments all of whose statements went
        if gone[i] or not _COMMENT.match(line):
            continue
        ind, k, under = _indent_of(line), i + 1, []
        while k < len(body) and _indent_of(body[k]) >= ind and not \
                (_COMMENT.match(body[k]) and _indent_of(body[k]) == ind):
            under.append(k)
            k += 1
        statements = [n for n in under if not _COMMENT.match(body[n])]
        if statements and all(gone[n] for n in statements):
            gone[i] = True
    return _passes([line for line, g in zip(body, gone) if not g])


def _passes(body: list) -> list:
    """body with `pass` in each block (a branch) whose statements all went."""
    out = []
    for i, line in enumerate(body):
        out.append(line)
        if _COMMENT.match(line) or not _OPENS.search(line):
            continue
        k = i + 1
        while k < len(body) and _COMMENT.match(body[k]) and _indent_of(body[k]) > _indent_of(line):
            k += 1
        if k >= len(body) or _indent_of(body[k]) <= _indent_of(line):
            out.append(" " * (_indent_of(line) + 4) + "pass")
    return out
