"""The text of a generated function, written straight from the standard-library tree emit.tree makes.

`ast.unparse` walks a tree through a visitor that looks each node's method up by name, keeps a table of
precedences keyed by node and opens a context manager for each bracket: two thirds of the time emission
takes at 1 000 statements, and the jitted form prints every function twice (the source shown, then the
form Numba compiles, whose statements are mostly the same objects). `function_text` writes the same text
as `ast.unparse` (operators spaced, brackets only where precedence needs them, `elif` for an `else`
holding only an `if`, a one-element tuple's trailing comma) for the statements and expressions generated
code is made of, passing each expression its context's precedence instead of keeping a table; for any
other construct it returns None and emit.render calls `ast.unparse` (tests/test_emit.py checks the two
agree on every construct it writes and on random expressions).

Comment statements (emit.comment_text) print as `# text` lines. Where it is asked to `keep` them, the
lines each statement printed as are noted on the tree (annotations.TEXT), and a later tree sharing those
statement objects at the same depth (the compiled form's) takes them instead of writing them again.
"""
from __future__ import annotations

import ast
import sys

from . import annotations as anno
from .astutil import COMMENT_MARK

# ast.unparse's precedence levels
_TUPLE, _YIELD, _TEST, _OR, _AND, _NOT, _CMP, _EXPR = 2, 3, 4, 5, 6, 7, 8, 9
_FACTOR, _POWER, _ATOM = 15, 16, 18
_TARGET = _TUPLE if sys.version_info >= (3, 11) else _TEST    # (3.10 writes `(a, b) = ...`, `for (i, j) in`)
_BINARY = {ast.Add: ("+", 13), ast.Sub: ("-", 13), ast.Mult: ("*", 14), ast.MatMult: ("@", 14),
           ast.Div: ("/", 14), ast.Mod: ("%", 14), ast.FloorDiv: ("//", 14), ast.LShift: ("<<", 12),
           ast.RShift: (">>", 12), ast.BitOr: ("|", 9), ast.BitXor: ("^", 10), ast.BitAnd: ("&", 11),
           ast.Pow: ("**", 16)}
_UNARY = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}
_COMPARE = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
            ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_INFINITY = "1e" + repr(sys.float_info.max_10_exp + 1)


class _Unsupported(Exception):
    """A construct this module does not write: the caller falls back to ast.unparse."""


def _constant(node) -> str:
    value = node.value
    if type(value) is tuple:
        items = [_number(v) for v in value]
        return "(" + (items[0] + "," if len(items) == 1 else ", ".join(items)) + ")"
    if value is ...:
        return "..."
    return ("u" if node.kind == "u" else "") + _number(value)


def _number(value) -> str:
    if isinstance(value, (float, complex)):
        return repr(value).replace("inf", _INFINITY).replace("nan", f"({_INFINITY}-{_INFINITY})")
    return repr(value)


def _binop(node, context: int) -> str:
    op, precedence = _BINARY[type(node.op)]
    if precedence == _POWER:    # groups to the right
        text = f"{expr(node.left, precedence + 1)} ** {expr(node.right, precedence)}"
    else:
        text = f"{expr(node.left, precedence)} {op} {expr(node.right, precedence + 1)}"
    return f"({text})" if context > precedence else text


def _unaryop(node, context: int) -> str:
    if type(node.op) is ast.Not:
        text = "not " + expr(node.operand, _NOT)
        return f"({text})" if context > _NOT else text
    text = _UNARY[type(node.op)] + expr(node.operand, _FACTOR)
    return f"({text})" if context > _FACTOR else text


def _compare(node, context: int) -> str:
    parts = [expr(node.left, _CMP + 1)]
    for op, right in zip(node.ops, node.comparators):
        parts.append(_COMPARE[type(op)])
        parts.append(expr(right, _CMP + 1))
    text = " ".join(parts)
    return f"({text})" if context > _CMP else text


def _boolop(node, context: int) -> str:
    op, precedence = ("and", _AND) if type(node.op) is ast.And else ("or", _OR)
    # (ast.unparse raises the level by one for each operand in turn)
    text = f" {op} ".join(expr(v, min(precedence + 1 + k, _ATOM)) for k, v in enumerate(node.values))
    return f"({text})" if context > precedence else text


def _attribute(node, context: int) -> str:
    value = node.value
    space = " " if type(value) is ast.Constant and isinstance(value.value, int) else ""
    return f"{expr(value, _ATOM)}{space}.{node.attr}"


def _call(node, context: int) -> str:
    args = [expr(a, _TEST) for a in node.args]
    for k in node.keywords:
        args.append(("**" if k.arg is None else k.arg + "=") + expr(k.value, _TEST))
    return f"{expr(node.func, _ATOM)}({', '.join(args)})"


def _subscript(node, context: int) -> str:
    index = node.slice
    if type(index) is ast.Tuple and index.elts:
        text = _items(index.elts)
    else:
        text = expr(index, _TEST)
    return f"{expr(node.value, _ATOM)}[{text}]"


def _slice(node, context: int) -> str:
    text = (expr(node.lower, _TEST) if node.lower else "") + ":" + (expr(node.upper, _TEST) if node.upper else "")
    return text + ":" + expr(node.step, _TEST) if node.step else text


def _items(elts) -> str:
    if len(elts) == 1:
        return expr(elts[0], _TEST) + ","
    return ", ".join([expr(e, _TEST) for e in elts])


def _tuple(node, context: int) -> str:
    text = _items(node.elts)
    return f"({text})" if not node.elts or context > _TUPLE else text


def _list(node, context: int) -> str:
    return "[" + ", ".join([expr(e, _TEST) for e in node.elts]) + "]"


def _ifexp(node, context: int) -> str:
    text = f"{expr(node.body, _OR)} if {expr(node.test, _OR)} else {expr(node.orelse, _TEST)}"
    return f"({text})" if context > _TEST else text


def _starred(node, context: int) -> str:
    return "*" + expr(node.value, _EXPR)


def _dict(node, context: int) -> str:
    items = [f"**{expr(v, _EXPR)}" if k is None else f"{expr(k, _TEST)}: {expr(v, _TEST)}"
             for k, v in zip(node.keys, node.values)]
    return "{" + ", ".join(items) + "}"


def _set(node, context: int) -> str:
    return "{" + ", ".join([expr(e, _TEST) for e in node.elts]) + "}" if node.elts else "{*()}"


_EXPRESSIONS = {ast.BinOp: _binop, ast.UnaryOp: _unaryop, ast.Compare: _compare, ast.BoolOp: _boolop,
                ast.Attribute: _attribute, ast.Call: _call, ast.Subscript: _subscript, ast.Slice: _slice,
                ast.Tuple: _tuple, ast.List: _list, ast.IfExp: _ifexp, ast.Starred: _starred, ast.Dict: _dict,
                ast.Set: _set}


def expr(node, context: int = _TEST) -> str:
    """The text of expression `node` where its context binds as tightly as `context` (ast.unparse's
    levels); raises _Unsupported for a construct not written here."""
    kind = type(node)
    if kind is ast.Name:
        return node.id
    if kind is ast.Constant:
        return _constant(node)
    write = _EXPRESSIONS.get(kind)
    if write is None:
        raise _Unsupported(kind.__name__)
    return write(node, context)


def _comment(stmt) -> str | None:
    value = stmt.value
    if type(value) is ast.Constant and type(value.value) is str and value.value.startswith(COMMENT_MARK):
        return value.value[len(COMMENT_MARK):]
    return None


class _Writer:
    """The lines of one function, the comment lines citing a user's line or starting a sweep, and (`keep`)
    where each statement's lines are; `reuse`: such a record of an earlier tree."""

    def __init__(self, reuse, keep: bool):
        self.lines: list = []
        self.cited: list = []
        self.marked: list = []      # (line, "placeholder" / "empty") of placeholder assignments (placeholder_kind)
        self.placed: list = []      # (line, the statement's lineno) of each statement written (annotations.PRINTED_AT)
        self.reuse = reuse
        self.spans: dict | None = {} if keep else None

    def block(self, stmts, depth: int):
        for s in stmts:
            self.statement(s, depth)

    def statement(self, s, depth: int):
        reuse = self.reuse
        if reuse is not None:
            got = reuse[1].get(id(s))
            if got is not None and got[0] is s and got[1] == depth:
                self.take(s, depth, got)
                return
        first, first_cited = len(self.lines), len(self.cited)
        self.placed.append((first + 1, getattr(s, "lineno", None)))
        self.write(s, "    " * depth, depth)
        if self.spans is not None:
            self.spans[id(s)] = (s, depth, first, len(self.lines), first_cited, len(self.cited))

    def take(self, s, depth: int, got):
        """The lines the earlier tree printed statement `s` as."""
        lines, _, cited = self.reuse
        _, _, first, end, first_cited, end_cited = got
        shift = len(self.lines) - first
        if self.spans is not None:
            self.spans[id(s)] = (s, depth, len(self.lines), len(self.lines) + end - first,
                                 len(self.cited), len(self.cited) + end_cited - first_cited)
        spans = self.reuse[1]
        for n in _statements(s):    # (a placeholder statement prints as one line: where the earlier tree printed it)
            what = placeholder_kind(n)
            at = spans.get(id(n)) if what else None
            if at is not None and at[0] is n:
                self.marked.append((at[2] + shift + 1, what))
        self.lines.extend(lines[first:end])
        self.cited.extend((line + shift, user, sweep) for line, user, sweep in cited[first_cited:end_cited])

    def write(self, s, indent: str, depth: int):
        kind = type(s)
        if kind is ast.Assign:
            if s.type_comment is not None:
                raise _Unsupported("type comment")
            what = placeholder_kind(s)
            if what:
                self.marked.append((len(self.lines) + 1, what))
            self.lines.append(indent + "".join([expr(t, _TARGET) + " = " for t in s.targets]) + expr(s.value, _TEST))
        elif kind is ast.Expr:
            text = _comment(s)
            if text is None:
                self.lines.append(indent + expr(s.value, _YIELD))
                return
            if anno.has(s, anno.USER_LINE) or anno.has(s, anno.SWEEP):
                self.cited.append((len(self.lines) + 1, anno.get(s, anno.USER_LINE), anno.get(s, anno.SWEEP)))
            self.lines.append(f"{indent}# {text}")
        elif kind is ast.AugAssign:
            self.lines.append(f"{indent}{expr(s.target, _TEST)} {_BINARY[type(s.op)][0]}= {expr(s.value, _TEST)}")
        elif kind is ast.Return:
            self.lines.append(indent + "return" + (" " + expr(s.value, _TEST) if s.value else ""))
        elif kind is ast.If:
            self.compound(indent + "if " + expr(s.test, _TEST) + ":", s.body, depth)
            while s.orelse and len(s.orelse) == 1 and type(s.orelse[0]) is ast.If:
                s = s.orelse[0]
                self.compound(indent + "elif " + expr(s.test, _TEST) + ":", s.body, depth)
            if s.orelse:
                self.compound(indent + "else:", s.orelse, depth)
        elif kind is ast.For or kind is ast.While:
            if kind is ast.For:
                if s.type_comment is not None:
                    raise _Unsupported("type comment")
                head = f"{indent}for {expr(s.target, _TARGET)} in {expr(s.iter, _TEST)}:"
            else:
                head = f"{indent}while {expr(s.test, _TEST)}:"
            self.compound(head, s.body, depth)
            if s.orelse:
                self.compound(indent + "else:", s.orelse, depth)
        elif kind is ast.Pass or kind is ast.Break or kind is ast.Continue:
            self.lines.append(indent + kind.__name__.lower())
        elif kind is ast.Raise:
            if not s.exc:
                if s.cause:
                    raise _Unsupported("raise from without an exception")
                self.lines.append(indent + "raise")
                return
            self.lines.append(indent + "raise " + expr(s.exc, _TEST) + (" from " + expr(s.cause, _TEST) if s.cause else ""))
        elif kind is ast.Assert:
            self.lines.append(indent + "assert " + expr(s.test, _TEST) + (", " + expr(s.msg, _TEST) if s.msg else ""))
        else:
            raise _Unsupported(kind.__name__)

    def compound(self, head: str, body, depth: int):
        self.lines.append(head)
        self.block(body, depth + 1)


def _header(fn) -> str:
    """`def name(params):`, for a plain function: positional parameters without annotations, with defaults."""
    a = fn.args
    if (fn.decorator_list or fn.returns or fn.type_comment is not None or a.posonlyargs or a.vararg
            or a.kwonlyargs or a.kwarg or any(p.annotation for p in a.args)):
        raise _Unsupported("function header")
    defaults = [None] * (len(a.args) - len(a.defaults)) + list(a.defaults)
    params = [p.arg + ("=" + expr(d, _TEST) if d else "") for p, d in zip(a.args, defaults)]
    return f"def {fn.name}({', '.join(params)}):"


def function_text(fn: ast.FunctionDef, earlier: ast.FunctionDef | None = None, keep: bool = False):
    """(the lines of `fn`, its comment lines carrying USER_LINE or SWEEP as (line, user_line, sweep) numbered
    from 1) as ast.unparse and emit.render's comment lines write them, or None where it holds a construct
    not written here. `earlier`: a tree printed with `keep` (its statements' lines noted on it:
    annotations.TEXT), whose statements `fn` shares are taken as printed there."""
    if type(fn) is not ast.FunctionDef:
        return None
    body = fn.body
    if body and type(body[0]) is ast.Expr and type(body[0].value) is ast.Constant \
            and isinstance(body[0].value.value, str) and _comment(body[0]) is None:
        return None     # (a docstring: ast.unparse writes it in triple quotes)
    w = _Writer(anno.get(earlier, anno.TEXT) if earlier is not None else None, keep)
    try:
        w.lines.append(_header(fn))
        w.block(body, 1)
    except _Unsupported:
        return None
    if keep:
        anno.set(fn, anno.TEXT, (w.lines, w.spans, w.cited))
    anno.set(fn, anno.PLACEHOLDER_LINES, tuple(w.marked))
    anno.set(fn, anno.PRINTED_AT, tuple(w.placed))
    return w.lines, w.cited


def placeholder_kind(s) -> str | None:
    """"placeholder" for an assignment carrying PLACEHOLDER, "empty" for one carrying SUM_EMPTY whose value is not a
    number (an array sum's zeros), else None: the statements whose lines emit.render notes (PLACEHOLDER_LINES)."""
    if type(s) is not ast.Assign:
        return None
    if anno.get(s, anno.PLACEHOLDER):
        return "placeholder"
    if anno.get(s, anno.SUM_EMPTY) and type(s.value) is not ast.Constant:
        return "empty"
    return None


def _statements(s):
    """`s` and the statements nested in it."""
    yield s
    for f in ("body", "orelse", "finalbody"):
        for n in getattr(s, f, None) or ():
            yield from _statements(n)
