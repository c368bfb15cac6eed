"""Fusion of adjacent element loops in device code: `for cu_j1 in range(3): a[cu_j1] = ...` followed by
`for cu_j2 in range(3): d_a[cu_j2] = ...` (a value and its tangent, a temporary and its copy) become one loop.

Each array statement lowers to a loop of its own (srcdiff/cuda/statements.py), and Numba's compile time grows
faster than linearly in the number of basic blocks of a function (its liveness analysis iterates over every block
once per block of distance between a definition and a use): an hvp kernel of a 23-line program had 203 loops,
725 blocks, and took 44 s of CPU to compile to PTX (fuzz seed 954012). Fusing halves the loops of forward-mode
code, where each array value is followed by its tangent.

Two loops fuse when their trip counts are the same literal and every iteration of the fused loop touches only
its own elements of what both loops share: an array written by one loop and read or written by the other is
accessed in both at one index, the same in both, that names the loop variable injectively (an affine function
of it: `v[j]`, `v[3 + j]`, `v[j * 4]`, `v[3 + -1 * j]`, `cu_out[3 + j, cu_col]`), and a scalar assigned in one loop
does not appear in the other. Bodies with returns, breaks, continues or calls other than math functions are left
alone. Loops of consecutive statements fuse too: the comment naming the second one's line of the user's code
moves into the fused body, before its statements. Reduction loops (`for cu_k...`: np.sum, np.dot of a value and
of its tangent) fuse as element loops do.

Statements between two loops (a few one-line statements without calls, and the full-tape exits `if n >= 16:
return 1`) no longer keep them apart where each can move: below the second loop where neither touches what the
other writes (a reduction's result, a stack counter's increment), else above the first (a reduction's start, the
next stack's exit; an exit never moves below a loop, whose writes it guards). A push of a value onto its stack and
of its tangent onto the tangent's, np.sum of a value and of its tangent, and the copies an SSA merge makes around a
tape write become one loop each: the hvp kernel of fuzz seed 951000 went from 170 loops and 701 blocks to 113 and
533 (with branch-free negative-index wraps, srcdiff/cuda/expressions.py, 482 blocks)."""
from __future__ import annotations

import ast
import re

_HEADER = re.compile(r"^( *)for (cu_[jk]\d+) in range\((\d+)\):$")
_PURE_CALLS = {"max", "min", "abs", "float", "int", "bool", "round", "range"}


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
    """Whether the index text names the loop variable j so that distinct iterations touch distinct elements: an
    affine function of j with a nonzero integer factor (`j`, `3 + j`, `j * 4`, `3 + -1 * j`), the other indices
    of a tuple free of j."""
    try:
        e = ast.parse(index, mode="eval").body
    except SyntaxError:
        return False
    rest = []
    if isinstance(e, ast.Tuple):
        e, rest = e.elts[0], e.elts[1:]
    if any(j in {n.id for n in ast.walk(r) if isinstance(n, ast.Name)} for r in rest):
        return False
    return _affine(e, j)


def _affine(e, j: str) -> bool:
    """Whether e is c0 + c1 * j (integer constants, c1 != 0), written with +, -, * and unary minus."""
    def const(x):
        return isinstance(x, ast.Constant) and type(x.value) is int or \
            isinstance(x, ast.UnaryOp) and isinstance(x.op, ast.USub) and const(x.operand)
    if isinstance(e, ast.Name):
        return e.id == j
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return _affine(e.operand, j)
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
        return const(e.left) and _affine(e.right, j) or const(e.right) and _affine(e.left, j)
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
        factor, other = (e.left, e.right) if const(e.left) else (e.right, e.left)
        return const(factor) and ast.literal_eval(factor) != 0 and _affine(other, j)
    return False


def _shifted(index: str, j: str) -> bool:
    """Whether the index is `c + j` / `j + c` / `j` (other indices of a tuple aside): the rows [c, c + n)."""
    e = ast.parse(index, mode="eval").body
    if isinstance(e, ast.Tuple):
        e = e.elts[0]
    if isinstance(e, ast.Name):
        return e.id == j
    return isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add) and \
        sorted(type(x).__name__ for x in (e.left, e.right)) == ["Constant", "Name"] and \
        j in (getattr(e.left, "id", None), getattr(e.right, "id", None)) and \
        all(type(getattr(x, "value", 0)) is int for x in (e.left, e.right))


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
    if not (_injective(x1, j) and _injective(x2, j) and _shifted(x1, j) and _shifted(x2, j)):
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


def _statements_between(lines, k, stop, ind):
    """The statements of lines[k:stop] (all at indentation ind) as (lines, _Body, is an error exit), each with the
    comment lines above it; None where one is not a one-line statement without calls (math aside), an element loop
    (of another trip count) or an error exit (`if ...: return 1`, the kernel's status for a full tape: the results
    of an example that returns one are discarded)."""
    out, pending = [], []
    while k < stop:
        line = lines[k]
        if _comment(line, ind):
            pending.append(line)
            k += 1
            continue
        if _indent_of(line) != ind:
            return None
        exit_ = bool(_EXIT.match(line))
        if _HEADER.match(line):             # an element loop of another trip count
            stmt = lines[k:_body_end(lines, k, ind)]
        elif exit_:
            if k + 1 >= stop or not _RETURN.match(lines[k + 1]) or _indent_of(lines[k + 1]) <= ind:
                return None
            stmt = lines[k:k + 2]
            if not _Body([line, " " * (ind + 4) + "pass"], ind).ok:
                return None
        elif _OPENS_BLOCK.search(line):
            return None
        else:
            stmt = [line]
        body = _Body(stmt, ind)
        if not (body.ok or exit_):
            return None
        out.append((pending + stmt, body, exit_))
        pending = []
        k += len(stmt)
    return out if not pending else None


_EXIT = re.compile(r"^ *if [^:]+:$")
_OPENS_BLOCK = re.compile(r":\s*$")
_ELSE = re.compile(r"^ *(else|elif)\b")


def _comment(line: str, ind: int) -> bool:
    """Whether the line is a comment at indentation ind."""
    return line.startswith(" " * ind + "#")
_RETURN = re.compile(r"^ *return [1-9]\d*$")
_MOVABLE = 8        # statements between two loops that fusion moves past one of them, at most


def _conflict(a: _Body, b: _Body) -> bool:
    """Whether a and b touch a name one of them writes (so that their order matters)."""
    wa, wb = a.assigned | a.written, b.assigned | b.written
    return bool(wa & (b.names | b.read) or wb & (a.names | a.read))


def _order_between(between, b1: _Body, b2: _Body):
    """(before, after): the statements between two loops, those that may move above the first and those that may
    move below the second, keeping their order; None where one may go neither way. A statement goes below the
    second loop where it does not touch what that loop writes or what it writes itself is not touched there (and
    is no error exit: it guards what the loop writes), else above the first where neither touches the other, nor
    the statements already going below."""
    before, after = [], []
    for text, body, exit_ in between:
        if not exit_ and not _conflict(body, b2):
            after.append((text, body))
        elif not _conflict(body, b1) and not any(_conflict(body, a) for _, a in after):
            before.append((text, body))
        else:
            return None
    return before, after


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
        above, below = [], []           # statements moved above / below the fused loop
        while end < len(lines):
            nxt = _next_loop(lines, end, ind, n)
            if nxt is None:
                break
            head, first = nxt           # the next loop's header; its comment lines (the user's line) from `first`
            between = _statements_between(lines, end, first, ind)
            if between is None or len(between) + len(below) > _MOVABLE:
                break
            end2 = _body_end(lines, head, ind)
            pat = re.compile(rf"\b{_loop_variable(lines[head])}\b")
            body2 = [pat.sub(j, s) for s in lines[head + 1:end2]]
            b2 = _Body(body2, ind + 4)
            order = _order_between([(t, b, False) for t, b in below] + between, b1, b2) \
                if _fusable(b1, b2, j, int(n)) else None
            if order is None:
                break
            before, below = order
            above += before
            body = body + ["    " + c for c in lines[first:head]] + body2
            b1 = _Body(body, ind + 4)
            end = end2
        out += [s for text, _ in above for s in text]
        out.append(lines[i])
        out += fuse_loops(body)
        moved = [s for text, _ in below for s in text]
        if moved:               # (read again: a loop moved below may fuse with the loops after it)
            lines, i = moved + lines[end:], 0
        else:
            i = end
    return out


def _loop_variable(header: str) -> str:
    return _HEADER.match(header).group(2)


def _next_loop(lines, k, ind, n):
    """(header, first comment line above it) of the next element loop of trip count n at indentation ind after
    lines[k], past one-line statements at that indentation (error exits too) and element loops of other trip
    counts; None where there is none."""
    head = k
    while head < len(lines) and _indent_of(lines[head]) >= ind:
        m = _HEADER.match(lines[head])
        if m and len(m.group(1)) == ind and m.group(3) == n:
            break
        if m and len(m.group(1)) == ind:        # a loop of another trip count: past its body
            head = _body_end(lines, head, ind)
            continue
        if _indent_of(lines[head]) == ind and _OPENS_BLOCK.search(lines[head]) and not _EXIT.match(lines[head]):
            return None
        head += 1
    if head >= len(lines) or _indent_of(lines[head]) < ind:
        return None
    first = head
    while first > k and _comment(lines[first - 1], ind):
        first -= 1
    return head, first


def merge_exits(lines: list) -> list:
    """lines with consecutive error exits at one indentation (`if s_n >= 16: return 1` then `if d_s_n >= 16:
    return 1`, the full-tape checks of a value's stack and its tangent's that fusion gathered above a loop) made one
    (`if (s_n >= 16) | (d_s_n >= 16): return 1`, comparisons combined without a branch), their comments above it."""
    out: list = []
    i = 0
    while i < len(lines):
        test = _exit_test(lines, i)
        if test is None:
            out.append(lines[i])
            i += 1
            continue
        ind, value = _indent_of(lines[i]), lines[i + 1].strip()
        tests, comments, k = [test], [], i + 2
        while True:
            c = k
            while c < len(lines) and _comment(lines[c], ind) and _indent_of(lines[c]) == ind:
                c += 1
            nxt = _exit_test(lines, c)
            if nxt is None or _indent_of(lines[c]) != ind or lines[c + 1].strip() != value:
                break
            comments += lines[k:c]
            tests.append(nxt)
            k = c + 2
        follows = lines[k] if k < len(lines) else ""
        if len(tests) > 1 and not (_ELSE.match(follows) and _indent_of(follows) == ind):
            out += comments + [" " * ind + "if " + " | ".join(f"({t})" for t in tests) + ":", lines[i + 1]]
        else:
            out += lines[i:k]
        i = k
    return out


def _exit_test(lines, i):
    """The test of the error exit at lines[i] (a comparison), or None."""
    if i + 1 >= len(lines) or not _EXIT.match(lines[i]) or not _RETURN.match(lines[i + 1]):
        return None
    test = lines[i].strip()[3:-1]
    try:
        e = ast.parse(test, mode="eval").body
    except SyntaxError:
        return None
    return test if isinstance(e, ast.Compare) and _Body([test], 0).ok else None
