"""Local arrays of device code that one element loop alone uses, element by element, become numbers.

Each array statement lowers to an element loop writing a local array (srcdiff/cuda/statements.py), and fusion
(srcdiff/cuda/fusion.py) puts a value, its tangent and the temporaries and SSA copies between them in one loop:
`d_M7[j] = d_x13[j] * x12[j // 4]`, then `d_M8[j] = d_M7[j]`, with d_M7 and d_M8 read nowhere else. Such an array
needs no memory: in each iteration its element is written before it is read, so it is a number of that iteration
(`d_M7 = d_x13[j] * x12[j // 4]`), which spares the thread's local memory and Numba the typing and lowering of an
element store and load per use (fuzz seed 951000's hvp kernel: 96 of its 245 local arrays).

An array is a number where every line naming it lies in the body of one element loop `for cu_j.. in range(..)`,
each time as `a[cu_j..]`, its first line is a store `a[cu_j..] = ...` at the top of that body (not under a branch:
written in every iteration) that does not read it, and its elements are float64 (the values the lowering writes)."""
from __future__ import annotations

import ast
import re

_ALLOC = re.compile(r"^\s*(\w+) = cuda\.local\.array\([^,]+, float64\)$")
_LOOP = re.compile(r"^( *)for (cu_[jk]\d+) in range\(\d+\):$")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _loops(body: list) -> list:
    """(header index, end index, loop variable, body indentation) of each element loop."""
    out = []
    for i, line in enumerate(body):
        m = _LOOP.match(line)
        if m:
            ind, k = len(m.group(1)), i + 1
            while k < len(body) and _indent_of(body[k]) > ind:
                k += 1
            out.append((i, k, m.group(2), ind + 4))
    return out


def _innermost(loops, at):
    """The innermost element loop whose body holds line `at`, or None."""
    best = None
    for loop in loops:
        if loop[0] < at < loop[1] and (best is None or loop[0] > best[0]):
            best = loop
    return best


def scalars(allocs: list, body: list, exclude=frozenset()) -> tuple:
    """(allocs, body) with the arrays that one element loop alone uses made numbers (see the module docstring);
    `exclude`: arrays of booleans or integers (stored as float64: a number would keep their type)."""
    floats = [m.group(1) for m in map(_ALLOC.match, allocs) if m]
    others = " ".join(a for a in allocs if not _ALLOC.match(a))
    body = list(body)
    loops = _loops(body)
    made = []
    for name in floats:
        if name in exclude or re.search(rf"\b{name}\b", others):
            continue
        word = re.compile(rf"\b{name}\b")
        at = [i for i, line in enumerate(body) if word.search(line)]
        if not at:
            continue
        loop = _innermost(loops, at[0])
        # (the loop of the first line, or one around it: every line in the body of that one loop)
        while loop is not None and not all(loop[0] < i < loop[1] for i in at):
            loop = _innermost(loops, loop[0])
        if loop is None:
            continue
        _, _, j, ind = loop
        element = f"{name}[{j}]"
        if any(len(word.findall(body[i])) != body[i].count(element) for i in at):
            continue
        first = re.match(rf"^ *{re.escape(element)} = (.*)$", body[at[0]])
        if _indent_of(body[at[0]]) != ind or first is None or word.search(first.group(1)) or _truth(first.group(1)):
            continue
        for i in at:
            body[i] = body[i].replace(element, name)
        made.append(name)
    if not made:
        return allocs, body
    gone = set(made)
    return [a for a in allocs if not (_ALLOC.match(a) and _ALLOC.match(a).group(1) in gone)], body


def _truth(text: str) -> bool:
    """Whether the expression text is a comparison or a boolean operation (a value the array held as 0.0 / 1.0)."""
    try:
        e = ast.parse(text, mode="eval").body
    except SyntaxError:
        return True
    while isinstance(e, ast.IfExp):
        e = e.body
    return isinstance(e, (ast.Compare, ast.BoolOp)) or isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not) or \
        isinstance(e, ast.Constant) and isinstance(e.value, (bool, int)) and not isinstance(e.value, float)
