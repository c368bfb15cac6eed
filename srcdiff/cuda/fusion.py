"""Fusion of adjacent element loops in device code: `for cu_j1 in range(3): a[cu_j1] = ...` followed by
`for cu_j2 in range(3): d_a[cu_j2] = ...` (a value and its tangent, a temporary and its copy) become one loop.

Each array statement lowers to a loop of its own (srcdiff/cuda/statements.py), and Numba's compile time grows
faster than linearly in the number of basic blocks of a function (its liveness analysis iterates over every block
once per block of distance between a definition and a use): an hvp kernel of a 23-line program had 203 loops,
725 blocks, and took 44 s of CPU to compile to PTX (fuzz seed 954012). Fusing halves the loops of forward-mode
code, where each array value is followed by its tangent.

Two loops fuse when their trip counts are the same literal and every iteration of the fused loop touches only
its own elements of what both loops share: an array written by one loop and read or written by the other is
accessed in both at one index, the same in both, that names the loop variable injectively (`v[j]`,
`v[3 + j]`, `cu_out[3 + j, cu_col]`), and a scalar assigned in one loop does not appear in the other. Bodies
with returns, breaks, continues or calls other than math functions are left alone. Loops of consecutive
statements fuse too: the comment naming the second one's line of the user's code moves into the fused body,
before its statements."""
from __future__ import annotations

import ast
import re

_HEADER = re.compile(r"^( *)for (cu_j\d+) in range\((\d+)\):$")
_PURE_CALLS = {"max", "min", "abs", "float", "int", "bool", "round"}


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _body_end(lines, i, ind):
    """Index just past the body of the block whose header is lines[i] (indentation ind)."""
    k = i + 1
    while k < len(lines) and (not lines[k].strip() or _indent_of(lines[k]) > ind):
        k += 1
    return k


class _Body:
    """What one loop body reads and writes."""

    def __init__(self, lines, ind):
        text = "\n".join(s[ind:] for s in lines)
        self.ok = True
        try:
            tree = ast.parse(text)
        except SyntaxError:
            self.ok = False
            return
        self.access = {}           # array -> set of index texts
        self.written, self.read = set(), set()
        self.assigned, self.names = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Return, ast.Break, ast.Continue, ast.While, ast.Global, ast.Nonlocal)):
                self.ok = False
            elif isinstance(node, ast.Call):
                f = node.func
                if not ((isinstance(f, ast.Name) and f.id in _PURE_CALLS) or
                        (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "math")):
                    self.ok = False
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                base = node.value.id
                self.access.setdefault(base, set()).add(ast.unparse(node.slice))
                (self.written if isinstance(node.ctx, ast.Store) else self.read).add(base)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript):
                if isinstance(node.target.value, ast.Name):
                    self.read.add(node.target.value.id)
            elif isinstance(node, ast.Name):
                self.names.add(node.id)
                if isinstance(node.ctx, ast.Store):
                    self.assigned.add(node.id)
        # names used whole (not as the array of a subscript): an array among them is not fused
        bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
        self.plain = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in bases}


def _injective(index: str, j: str) -> bool:
    """Whether the index text names the loop variable j so that distinct iterations touch distinct elements."""
    try:
        e = ast.parse(index, mode="eval").body
    except SyntaxError:
        return False
    rest = []
    if isinstance(e, ast.Tuple):
        e, rest = e.elts[0], e.elts[1:]
    if any(j in {n.id for n in ast.walk(r) if isinstance(n, ast.Name)} for r in rest):
        return False
    if isinstance(e, ast.Name):
        return e.id == j
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
        sides = [e.left, e.right]
        var = [s for s in sides if isinstance(s, ast.Name) and s.id == j]
        const = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, int)]
        return len(var) == 1 and len(const) == 1
    return False


def _offset(index: str, j: str):
    """(c, the other indices' text) of an injective index `c + j` / `(c + j, rest...)`, c = 0 for `j`."""
    e = ast.parse(index, mode="eval").body
    rest = ""
    if isinstance(e, ast.Tuple):
        e, rest = e.elts[0], ", ".join(ast.unparse(r) for r in e.elts[1:])
    if isinstance(e, ast.Name):
        return 0, rest
    c = e.left if isinstance(e.left, ast.Constant) else e.right
    return c.value, rest


def _disjoint_writes(arr, b1: _Body, b2: _Body, j: str, n: int) -> bool:
    """Whether both loops only write arr (never read it), each at one injective index, at rows that are the
    same or do not overlap (the rows [c, c + n) of each): the last write of each element is the same fused."""
    if arr in b1.read or arr in b2.read:
        return False
    i1, i2 = b1.access[arr], b2.access[arr]
    if len(i1) != 1 or len(i2) != 1:
        return False
    (x1,), (x2,) = i1, i2
    if not (_injective(x1, j) and _injective(x2, j)):
        return False
    (c1, r1), (c2, r2) = _offset(x1, j), _offset(x2, j)
    return r1 == r2 and (c1 == c2 or abs(c1 - c2) >= n)


def _fusable(b1: _Body, b2: _Body, j: str, n: int) -> bool:
    if not (b1.ok and b2.ok):
        return False
    if b1.assigned & b2.names or b2.assigned & b1.names:
        return False
    shared = (b1.written & (b2.read | b2.written)) | (b2.written & b1.read)
    for arr in shared:
        if arr in b1.plain or arr in b2.plain:
            return False
        idx = b1.access.get(arr, set()) | b2.access.get(arr, set())
        if len(idx) == 1 and _injective(next(iter(idx)), j):
            continue
        if not _disjoint_writes(arr, b1, b2, j, n):
            return False
    return True


def fuse_loops(lines: list) -> list:
    """lines (device code) with adjacent element loops fused (see the module docstring)."""
    out = []
    i = 0
    while i < len(lines):
        m = _HEADER.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        ind, j, n = len(m.group(1)), m.group(2), m.group(3)
        end = _body_end(lines, i, ind)
        body = lines[i + 1:end]
        b1 = _Body(body, ind + 4)
        while end < len(lines):
            head = end          # the next loop's header, past the comments (the user's line) before it
            while head < len(lines) and lines[head].startswith(" " * ind + "#"):
                head += 1
            m2 = _HEADER.match(lines[head]) if head < len(lines) else None
            if not m2 or len(m2.group(1)) != ind or m2.group(3) != n:
                break
            end2 = _body_end(lines, head, ind)
            pat = re.compile(rf"\b{m2.group(2)}\b")
            body2 = [pat.sub(j, s) for s in lines[head + 1:end2]]
            b2 = _Body(body2, ind + 4)
            if not _fusable(b1, b2, j, int(n)):
                break
            body = body + ["    " + c for c in lines[end:head]] + body2
            b1 = _Body(body, ind + 4)
            end = end2
        out.append(lines[i])
        out += fuse_loops(body)
        i = end
    return out
