"""transforms/annotations.py (the declared facts passes share) and astutil's block walker."""
import copy

import gast
import numpy as np
import pytest

from srcdiff.transforms import annotations as anno
from srcdiff.transforms.astutil import map_blocks, nested_blocks, rewrite_blocks, without_statements
from passes import body_source, parse_function


def test_every_key_is_declared_with_its_writer_and_readers():
    assert len(anno.KEYS) >= 20
    for key, doc in anno.KEYS.items():
        assert key.startswith("_srcdiff_")
        assert "Written" in doc and ("read" in doc or "Read" in doc), key


def test_set_get_has_copy():
    s, t = gast.Pass(), gast.Pass()
    assert anno.get(s, anno.PHI) is None and not anno.has(s, anno.PHI)
    assert anno.get(s, anno.ITERS, "dflt") == "dflt"
    assert anno.set(s, anno.PHI) is s
    anno.set(s, anno.ITERS, "iterations")
    assert anno.get(s, anno.PHI) is True and anno.get(s, anno.ITERS) == "iterations"
    anno.copy(s, t, (anno.PHI, anno.MERGE))
    assert anno.get(t, anno.PHI) is True and not anno.has(t, anno.MERGE) and not anno.has(t, anno.ITERS)


def test_a_deep_copy_keeps_the_facts():
    s = anno.set(gast.Pass(), anno.OLD, "a_old")
    assert anno.get(copy.deepcopy(s), anno.OLD) == "a_old"


def test_an_undeclared_key_is_an_error():
    with pytest.raises(KeyError, match="undeclared annotation key"):
        anno.set(gast.Pass(), "_srcdiff_made_up")


NESTED = """
def f(x):
    a = 1
    if x:
        b = 2
        for i in range(3):
            c = 3
    else:
        d = 4
    return a
"""


def test_nested_blocks_are_the_body_and_orelse_lists():
    fn = parse_function(NESTED)
    if_ = fn.body[1]
    assert nested_blocks(if_) == [if_.body, if_.orelse]
    assert nested_blocks(fn.body[0]) == []
    loop = if_.body[1]
    assert nested_blocks(loop) == [loop.body, loop.orelse]


def test_map_blocks_rewrites_the_direct_blocks_only():
    fn = parse_function(NESTED)
    map_blocks(fn.body[1], lambda b: b[:1])
    assert body_source(fn) == "a = 1\nif x:\n    b = 2\nelse:\n    d = 4\nreturn a"


def test_rewrite_blocks_replaces_splices_and_drops_innermost_first():
    seen = []

    def rewrite(s):
        if isinstance(s, gast.Assign):
            seen.append(s.targets[0].id)
            name = s.targets[0].id
            if name == "b":
                return []
            if name == "c":
                return [s, gast.Expr(value=gast.Name(id="again", ctx=gast.Load(), annotation=None,
                                                     type_comment=None))]
        return s
    fn = parse_function(NESTED)
    fn.body = rewrite_blocks(fn.body, rewrite)
    assert seen == ["a", "c", "d"] or seen == ["a", "b", "c", "d"]
    assert body_source(fn) == ("a = 1\nif x:\n    for i in range(3):\n        c = 3\n        again\n"
                               "else:\n    d = 4\nreturn a")


def test_without_statements_drops_in_nested_blocks_too():
    fn = parse_function(NESTED)
    fn.body = without_statements(fn.body, lambda s: isinstance(s, gast.Assign) and s.targets[0].id in "bd")
    assert body_source(fn) == "a = 1\nif x:\n    for i in range(3):\n        c = 3\nreturn a"
    assert fn.body[1].orelse == []


def test_every_statement_visits_every_block_of_ast_and_gast_trees():
    """astutil.every_statement: the tree, then the statements of its blocks (a try's handlers and finalbody
    too), on the standard-library trees emit prints as on gast ones; expressions are not visited."""
    import ast
    from srcdiff.transforms.astutil import every_statement
    src = ("def f(x):\n    a = 1\n    try:\n        b = 2\n    except ValueError:\n        c = 3\n"
           "    finally:\n        d = 4\n    while x:\n        e = 5\n    else:\n        g = 6\n    return a\n")
    for mod in (ast, gast):
        tree = mod.parse(src)
        seen = list(every_statement(tree))
        assert seen[0] is tree and not any(isinstance(n, mod.expr) for n in seen)
        assigned = sorted(n.targets[0].id for n in seen if isinstance(n, mod.Assign))
        assert assigned == list("abcdeg"), mod.__name__
        assert sum(isinstance(n, mod.ExceptHandler) for n in seen) == 1


# ---- USER_LINE: the comments citing the user's lines, read from the tree ---------------------------------
def _scaled(x):
    return np.sin(x) * x


def _cites(x, y):
    t = _scaled(x) * y
    s = "a\\n" + 'é'
    return t + x * len(s)


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_line_comments_carry_the_user_line(mode):
    """Every `# line N: text` comment of the generated trees carries USER_LINE (N, text, None, file), one of a
    statement inlined from a callee `# callee, line N: text` carries the callee's name; the source is
    printed from the same tree, with the comment's text as it is (quotes, backslashes, non-ASCII)."""
    import ast
    import linecache
    import srcdiff
    from srcdiff.transforms import emit
    from srcdiff.transforms.kinds import Kind
    if mode == "grad":
        module = srcdiff.grad(_cites, wrt=(0, 1)).specialise((Kind.scalar("f"),) * 2, need_module=True).module
    else:
        module = srcdiff.jvp(_cites, wrt=0).specialise([0.5, 0.3]).module
    seen = []
    for tree in module.trees():
        for st in ast.walk(tree):
            text = emit.comment_text(st) if isinstance(st, ast.stmt) else None
            if text is None or "line " not in text:
                continue
            where, _, code = text.partition(": ")
            line = int(where.rsplit("line ", 1)[1])
            func = where.split(", line")[0] if ", line" in where else None
            assert anno.get(st, anno.USER_LINE) == (line, code, func, __file__), text
            if func is None:
                assert code == linecache.getline(__file__, line).strip()
            seen.append((func, code))
        assert emit.render(tree) in module.source()
    assert (None, "s = \"a\\\\n\" + 'é'") in seen
    if mode == "grad":
        assert ("_scaled", "return np.sin(x) * x") in seen
