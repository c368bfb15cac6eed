"""The "emit" pass of compiler.SOURCE.

Emit Python source from gast: one statement per line, comment markers as comments.

`tree` is the standard-library tree the source is printed from, for consumers that read the generated
code as a tree rather than as text (the CUDA lowering): a comment is an `ast.Expr` statement whose
`comment_text` is its line's text, carrying the annotation USER_LINE where it cites a user's line, and
an assignment unbound wrote as a placeholder carries PLACEHOLDER (an empty sum's value, SUM_EMPTY), and `render`
notes the lines such assignments print on (PLACEHOLDER_LINES: the module's line table keeps them for hvp, which
reads the gradient back as text);
`render` prints such a tree, and `to_source` is the two together."""
from __future__ import annotations

import ast
import math
import re

import gast

from . import annotations as anno
from . import source_text
from .astutil import COMMENT_MARK, every_statement, walk_statements


def _infinity(value: float) -> ast.expr:
    """An infinite float constant reads `math.inf` (ast.unparse would write 1e309)."""
    inf = ast.Attribute(value=ast.Name(id="math", ctx=ast.Load()), attr="inf", ctx=ast.Load())
    return ast.UnaryOp(op=ast.USub(), operand=inf) if value < 0 else inf


_PLAN: dict = {}        # gast class -> (ast class, its fields, whether it has lines, shared instance or None)
_SPECIAL = frozenset({gast.Constant, gast.arguments, gast.Expr, gast.ExceptHandler})
_ATOMS = frozenset({str, int, float, complex, bytes, bool, type(None)})
_MISSING = object()
_SHARED: dict = {}      # gast context or operator class -> the one ast instance `_to_ast` gives for it


def _plan(kind):
    cls = getattr(ast, kind.__name__)
    # a context or an operator (no fields, no position): one shared instance, as ast.parse makes them
    shared = cls() if not cls._fields and not cls._attributes else None
    plan = _PLAN[kind] = (cls, cls._fields, "lineno" in cls._attributes, shared)
    if shared is not None:
        _SHARED[kind] = shared
    return plan


def _to_ast(node):
    """The standard-library tree ast.unparse prints, made from a gast tree in one recursive copy (gast's
    own gast_to_ast, a NodeTransformer that builds every node through keyword arguments, took two thirds
    of emission). Fields the ast class lacks (a Name's annotation) are dropped; parameters become
    ast.arg; infinite floats become `math.inf`, negative numbers a minus sign and a number; statements get
    the line attribute unparse reads; contexts and operators are shared instances."""
    kind = type(node)
    if kind is list:
        return [_to_ast(x) for x in node]
    plan = _PLAN.get(kind)
    if plan is None:
        if not isinstance(node, gast.AST):
            return node
        plan = _plan(kind)
    cls, fields, has_line, shared = plan
    if shared is not None:
        return shared
    if kind in _SPECIAL:
        if kind is gast.Constant and isinstance(node.value, float) and math.isinf(node.value):
            return _infinity(node.value)
        if kind is gast.Constant and type(node.value) in (int, float) and math.copysign(1, node.value) < 0:
            # a folded negative number (canonicalize) is the minus sign of its source: `(-2.0) ** 2`, not -(2.0 ** 2)
            return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-node.value))
        if kind is gast.arguments:
            return ast.arguments(posonlyargs=[_arg(a) for a in node.posonlyargs], args=[_arg(a) for a in node.args],
                                 vararg=_arg(node.vararg), kwonlyargs=[_arg(a) for a in node.kwonlyargs],
                                 kw_defaults=_to_ast(node.kw_defaults), kwarg=_arg(node.kwarg),
                                 defaults=_to_ast(node.defaults))
        if kind is gast.Expr and (anno.has(node, anno.USER_LINE) or anno.has(node, anno.SWEEP)):
            return anno.copy(node, ast.Expr(value=_to_ast(node.value), lineno=getattr(node, "lineno", None) or 1),
                             (anno.USER_LINE, anno.SWEEP))
        if kind is gast.ExceptHandler and node.name is not None:
            return ast.ExceptHandler(type=_to_ast(node.type), name=node.name.id, body=_to_ast(node.body))
    new = cls.__new__(cls)      # (its fields written into its __dict__ at once, read from the node's: what
    made, given = new.__dict__, node.__dict__   # cls() and setattr of each field did, at half the cost)
    for f in fields:
        v = given.get(f, _MISSING)
        if v is _MISSING:
            v = getattr(node, f, _MISSING)
            if v is _MISSING:
                continue
        t = type(v)
        if t in _ATOMS:
            made[f] = v
        else:
            at = _SHARED.get(t)         # (a context or an operator: its shared instance)
            made[f] = at if at is not None else _to_ast(v)
    if has_line:
        made["lineno"] = given.get("lineno") or getattr(node, "lineno", None) or 1
    if kind is gast.Assign:
        anno.copy(node, new, (anno.PLACEHOLDER, anno.SUM_EMPTY))
    elif kind is gast.Subscript:
        anno.copy(node, new, (anno.SPLIT_PART,))    # (a part of np.split: the CUDA lowering quotes the user's call)
    return new


def _arg(node):
    if node is None:
        return None
    return ast.arg(arg=node.id, annotation=_to_ast(node.annotation), type_comment=node.type_comment)


def tree(node, earlier: tuple | None = None) -> ast.AST:
    """The standard-library tree `render` prints for the gast tree `node` (a new tree; `node` is left as it
    is but for empty branches, which get a `pass`). `earlier`: (a gast function, the tree this made of it)
    whose statements `node` shares at the same places (the compiled form's emit: the elementwise pass
    rewrites statements in place and leaves the rest as they were): those are taken from that tree as they
    are, not converted again."""
    for n in walk_statements([node]):   # a branch emptied by dead-code removal still needs a statement
        if isinstance(n, (gast.If, gast.For, gast.While, gast.FunctionDef)) and not n.body:
            n.body = [gast.Pass()]
    return _reusing(node, *earlier) if earlier else _to_ast(node)


_NESTED = ("body", "orelse", "finalbody")     # the statement lists whose statements `_reusing` can take


def _reusing(node, old, made):
    """`_to_ast(node)` for a statement, taking `made` (`_to_ast(old)`) where `node` is `old`, and so on down
    the blocks of a compound statement, place by place."""
    if node is old:
        return made
    kind = type(node)
    if kind is not type(old) or not any(type(getattr(node, f, None)) is list for f in _NESTED):
        return _to_ast(node)
    cls, fields, has_line, _ = _PLAN.get(kind) or _plan(kind)    # a compound statement: as _to_ast, its
    new = cls()                                                     # blocks' statements taken where shared
    for f in fields:
        v = getattr(node, f, _MISSING)
        if v is _MISSING:
            continue
        if f in _NESTED and type(v) is list:
            was, done = getattr(old, f, None), getattr(made, f, None)
            setattr(new, f, [_reusing(x, o, m) for x, o, m in zip(v, was, done)]
                    if type(was) is list and type(done) is list and len(v) == len(was) == len(done) else _to_ast(v))
        else:
            setattr(new, f, v if type(v) in _ATOMS else _to_ast(v))
    if has_line:
        new.lineno = getattr(node, "lineno", None) or 1
    return new


def comment_text(stmt) -> str | None:
    """The text of the comment line a statement of `tree`'s result prints as (`# ` + this), None if it
    is not a comment."""
    if (type(stmt) is ast.Expr and type(stmt.value) is ast.Constant and isinstance(stmt.value.value, str)
            and stmt.value.value.startswith(COMMENT_MARK)):
        return stmt.value.value[len(COMMENT_MARK):]
    return None


_PLACEHOLDER = re.compile(r"^(\s*)(\"\"\"|'''|['\"])" + re.escape(COMMENT_MARK) + r"(\d+)\2$")
_MARKED = re.compile(r"^(\s*)\w+ = (\"\"\"|'''|['\"])" + re.escape(COMMENT_MARK) + r"(\d+)\2$")   # a placeholder


def render(t, earlier=None, keep: bool = False) -> str:
    """Python source of a tree made by `tree`, as ast.unparse writes it, with each comment statement printed
    as the comment line `# <comment_text>` (its text is taken from the tree, not from a printed literal). The
    comments citing a user's line or starting a sweep, with their line numbers in the text, are noted on
    `t` (annotations.LINES). Written by source_text.function_text where it writes every construct of `t`
    (`keep`: noting each statement's lines on `t`, for a later render of a tree sharing its statements,
    `earlier`, to take), else by ast.unparse."""
    printed = source_text.function_text(t, earlier, keep)
    if printed is not None:
        lines, cited = printed
        anno.set(t, anno.LINES, tuple(cited))
        return "\n".join(lines) + "\n"
    comments, marked = [], []
    for st in every_statement(t):   # (comments are statements: no need to visit every expression)
        what = source_text.placeholder_kind(st)   # a placeholder (one line): found by a marker in its value's place
        if what or type(st) is ast.Expr and comment_text(st) is not None:
            comments.append((st, st.value, what))
            st.value = ast.Constant(COMMENT_MARK + str(len(comments) - 1))
    try:
        text = ast.unparse(t)
    finally:
        for st, value, _ in comments:
            st.value = value
    lines, cited = [], []
    for line in text.splitlines():
        m = (_PLACEHOLDER.match(line) or _MARKED.match(line)) if COMMENT_MARK in line else None
        if m:
            st, _, what = comments[int(m.group(3))]
            if what:
                marked.append((len(lines) + 1, what))
                line = m.group(1) + ast.unparse(st)
            else:
                if anno.has(st, anno.USER_LINE) or anno.has(st, anno.SWEEP):
                    cited.append((len(lines) + 1, anno.get(st, anno.USER_LINE), anno.get(st, anno.SWEEP)))
                line = f"{m.group(1)}# {comment_text(st)}"
        lines.append(line)
    anno.set(t, anno.LINES, tuple(cited))
    anno.set(t, anno.PLACEHOLDER_LINES, tuple(marked))
    return "\n".join(lines) + "\n"


def to_source(node) -> str:
    return render(tree(node))
