"""transforms/source_text.py: a generated function's text written from its standard-library tree. It must be
ast.unparse's text, byte for byte, for every construct it writes (random functions over all of them, with
redundant and missing parentheses), fall back to ast.unparse for the others, print comments and number the
lines citing the user's as emit.render's ast.unparse path does, and take the lines of statements a later
tree shares (the compiled form's) as printed, not write them again."""
import ast

import gast
import numpy as np
import pytest

from srcdiff.transforms import annotations as anno
from srcdiff.transforms import emit, source_text
from srcdiff.transforms.astutil import COMMENT_MARK


class _Random:
    """Source of random functions over every construct source_text writes."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def expr(self, depth):
        r = self.rng
        if depth == 0 or r.random() < 0.15:
            return self.pick(["x", "y", "n", "2", "0.5", "-3", "1e308 * 10", "True", "None", "'s'", '"q\'"',
                              "...", "(1, 2)", "(1,)", "3 .real", "1j", "1e309"])
        sub = lambda: self.expr(depth - 1)   # noqa: E731
        k = int(r.integers(16))
        if k == 0:
            return f"({sub()}) {self.pick(['+', '-', '*', '/', '**', '//', '%', '@', '<<', '>>', '|', '^', '&'])} ({sub()})"
        if k == 1:
            return f"{self.pick(['-', '+', '~', 'not '])}({sub()})"
        if k == 2:
            return f"({sub()}) {self.pick(['<', '>=', '==', '!=', 'is', 'is not', 'in', 'not in'])} ({sub()})" + (
                f" < ({sub()})" if r.random() < 0.3 else "")
        if k == 3:
            return f" {self.pick(['and', 'or'])} ".join(f"({sub()})" for _ in range(int(r.integers(2, 5))))
        if k == 4:
            return f"({sub()}).{self.pick(['shape', 'T', 'real'])}"
        if k == 5:
            args = [sub() for _ in range(int(r.integers(0, 3)))]
            args += [f"*({sub()})"] * (r.random() < 0.2) + [f"axis=({sub()})"] * (r.random() < 0.3)
            args += [f"**({sub()})"] * (r.random() < 0.1)
            return f"{self.pick(['np.sum', 'f', 'rt.dot', '(x + y).sum'])}({', '.join(args)})"
        if k == 6:
            index = self.pick([sub(), f"{sub()}:", f":{sub()}", "::2", f"{sub()}:{sub()}:{sub()}",
                               f"{sub()}, {sub()}", f"({sub()},)", "()", ":, None", f"..., {sub()}"])
            return f"({sub()})[{index}]"
        if k == 7:
            return self.pick(["()", f"({sub()},)", f"({sub()}, {sub()})", f"({sub()}, ({sub()}, {sub()}))"])
        if k == 8:
            return f"[{', '.join(sub() for _ in range(int(r.integers(0, 3))))}]"
        if k == 9:
            return f"({sub()}) if ({sub()}) else ({sub()})"
        if k == 10:
            return f"{{{', '.join(f'{sub()}: {sub()}' for _ in range(int(r.integers(0, 3))))}}}"
        if k == 11:
            return self.pick([f"{{{sub()}}}", f"{{**({sub()}), 1: 2}}", f"[*({sub()})]"])
        return f"({sub()})"

    def block(self, depth, indent):
        lines = []
        for _ in range(int(self.rng.integers(1, 4))):
            lines += self.statement(depth, indent)
        return lines

    def statement(self, depth, indent):
        r, e, pad = self.rng, lambda: self.expr(3), "    " * indent    # noqa: E731
        k = int(r.integers(12 if depth else 8))
        if k == 0:
            return [f"{pad}{self.pick(['a', 'a, b', '(a, b)', 'x[i]', 'a = b', 'x[1:2, i]', '()'])} = {e()}"]
        if k == 1:
            return [f"{pad}{self.pick(['a', 'x[i]'])} {self.pick(['+=', '-=', '*=', '/=', '**=', '@='])} {e()}"]
        if k == 2:
            return [f"{pad}{e()}"]
        if k == 3:
            return [f"{pad}return" + self.pick(["", f" {e()}", f" {e()}, {e()}"])]
        if k == 4:
            return [f"{pad}{self.pick(['pass', 'break', 'continue', 'raise', 'raise ValueError(x)'])}",
                    f"{pad}raise ValueError from {e()}"][: 1 + (r.random() < 0.2)]
        if k == 5:
            return [f"{pad}assert {e()}" + self.pick(["", f", {e()}"])]
        if k in (6, 7):
            return [f"{pad}{COMMENT_MARK}line {k}: text" if r.random() < 0.5 else f"{pad}'{COMMENT_MARK}line {k}'"]
        if k == 8:
            out = [f"{pad}if {e()}:"] + self.block(depth - 1, indent + 1)
            while r.random() < 0.4:
                out += [f"{pad}elif {e()}:"] + self.block(depth - 1, indent + 1)
            if r.random() < 0.5:
                out += [f"{pad}else:"] + self.block(depth - 1, indent + 1)
            return out
        if k == 9:
            out = [f"{pad}for {self.pick(['i', 'i, j', '(i, j)', 'x[i]'])} in {e()}:"] + self.block(depth - 1, indent + 1)
            return out + ([f"{pad}else:"] + self.block(depth - 1, indent + 1)) * (r.random() < 0.2)
        if k == 10:
            out = [f"{pad}while {e()}:"] + self.block(depth - 1, indent + 1)
            return out + ([f"{pad}else:"] + self.block(depth - 1, indent + 1)) * (r.random() < 0.2)
        return [f"{pad}if {e()}:", f"{pad}    pass", f"{pad}else:"] + self.statement(depth - 1, indent + 1)

    def function(self):
        header = self.pick(["def f(x, y, n):", "def f(x, y=2.0, n=(1, 2)):", "def f():"])
        return "\n".join([header] + self.block(3, 1)) + "\n"


def _comments_as_constants(src: str) -> str:
    """The random source's comment lines (`#srcdiff#...`, bare) as the string statements generated code
    carries them as."""
    return "\n".join(f"{line[:len(line) - len(line.lstrip())]}{line.lstrip()!r}" if line.lstrip().startswith(COMMENT_MARK)
                     else line for line in src.splitlines()) + "\n"


def _unparse_path(t):
    """emit.render's text by ast.unparse (source_text bypassed) and the LINES it notes."""
    original = source_text.function_text
    source_text.function_text = lambda *a, **k: None
    try:
        text = emit.render(t)
    finally:
        source_text.function_text = original
    return text, anno.get(t, anno.LINES)


def test_random_functions_print_as_ast_unparse_prints_them():
    seen = 0
    for seed in range(400):
        src = _comments_as_constants(_Random(seed).function())
        t = ast.parse(src).body[0]
        comments = [n for n in ast.walk(t) if isinstance(n, ast.Expr) and emit.comment_text(n) is not None]
        for k, n in enumerate(comments):    # a third of the comments cite a user's line, a third start a sweep
            if (k + seed) % 3:              # (by position, not id(): the count below must not depend on addresses)
                anno.set(n, anno.USER_LINE if (k + seed) % 3 == 1 else anno.SWEEP, (7, "text", None, "f.py"))
        printed = source_text.function_text(t)
        if printed is None:     # a string statement first: ast.unparse writes it as a docstring
            assert ast.get_docstring(t, clean=False) is not None and emit.comment_text(t.body[0]) is None, src
            continue
        text, lines = _unparse_path(t)
        assert "\n".join(printed[0]) + "\n" == text, src
        assert tuple(printed[1]) == lines
        assert emit.render(t) == text and anno.get(t, anno.LINES) == lines
        seen += bool(lines)
    assert seen > 100


@pytest.mark.parametrize("src", [
    "def f(x):\n    return lambda y: y + x\n",
    "def f(x):\n    return [y for y in x]\n",
    "def f(x):\n    return f'{x}'\n",
    "def f(x, *args):\n    return x\n",
    "def f(x, *, k):\n    return x\n",
    "def f(x: float):\n    return x\n",
    "def f(x):\n    'docstring'\n    return x\n",
    "def f(x):\n    with x:\n        pass\n",
    "def f(x):\n    if (y := x):\n        return y\n",
    "@dec\ndef f(x):\n    return x\n",
])
def test_other_constructs_are_left_to_ast_unparse(src):
    t = ast.parse(src).body[0]
    assert source_text.function_text(t) is None
    assert emit.render(t) == ast.unparse(t) + "\n"


SHARED = f"""def f(x, y, n):
    '{COMMENT_MARK}forward sweep'
    a = x * y
    for i in range(n):
        '{COMMENT_MARK}line 5: b = a + 1'
        b = a + 1.0
        if b[0] > 0:
            a = b * 2.0
    c = np.exp(a)
    return c
"""


def test_a_later_tree_takes_the_lines_of_the_statements_it_shares(monkeypatch):
    fn = gast.parse(SHARED).body[0]
    for s in fn.body[2].body[:1] + fn.body[:1]:
        anno.set(s, anno.USER_LINE if s is not fn.body[0] else anno.SWEEP, (5, "b = a + 1", None, "f.py"))
    first = emit.tree(fn)
    shown = emit.render(first, keep=True)
    new = gast.parse(SHARED).body[0]       # the loop's last statement and the assignment after it rewritten,
    new.body = list(fn.body)                # and a line more before the loop
    new.body[1] = gast.parse("if n > 0:\n    a = x * y").body[0]
    loop = new.body[2] = gast.For(target=fn.body[2].target, iter=fn.body[2].iter, body=list(fn.body[2].body),
                                  orelse=[], type_comment=None)
    loop.body[2] = gast.parse("if b[0] > 0:\n    a = rt.elementwise('a * 2.0', (b,))").body[0]
    new.body[3] = gast.parse("c = rt.elementwise('np.exp(a)', (a,))").body[0]
    written = []
    write = source_text._Writer.write
    monkeypatch.setattr(source_text._Writer, "write", lambda self, s, *a: written.append(s) or write(self, s, *a))
    reused = emit.tree(new, (fn, first))
    text = emit.render(reused, first)
    fresh = emit.tree(new)
    assert text == emit.render(fresh) and anno.get(reused, anno.LINES) == anno.get(fresh, anno.LINES)
    assert text != shown and "rt.elementwise('a * 2.0', (b,))" in text and "# line 5: b = a + 1" in text
    assert anno.get(reused, anno.LINES) == ((2, None, (5, "b = a + 1", None, "f.py")),
                                            (6, (5, "b = a + 1", None, "f.py"), None))
    taken = reused.body[:1] + reused.body[2].body[:2] + reused.body[4:]
    assert all(s in first.body or s in first.body[2].body for s in taken)
    assert not any(w in taken for w in written)      # printed once, by the earlier render only
    assert all(s in written for s in reused.body[1:4]) and reused.body[4] not in written


def test_a_tree_printed_without_keep_lends_nothing():
    fn = gast.parse(SHARED).body[0]
    first = emit.tree(fn)
    emit.render(first)
    assert anno.get(first, anno.TEXT) is None
    assert emit.render(emit.tree(fn, (fn, first)), first) == emit.render(first)


def test_a_shared_statement_at_another_depth_is_written_again():
    first = ast.parse(SHARED).body[0]
    source_text.function_text(first, keep=True)
    later = ast.parse("def f(x, y, n):\n    if n:\n        pass\n").body[0]
    later.body[0].body = [first.body[2]]      # the loop, one level deeper
    lines = source_text.function_text(later, first)[0]
    assert lines == _unparse_path(later)[0].splitlines() and lines[2] == "        for i in range(n):"
