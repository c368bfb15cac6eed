"""transforms/emit.py: the standard-library tree the generated source is printed from. The compiled form's emit
takes the statements the elementwise pass left as they were from the source's tree (`tree(fn, earlier)`) instead
of converting them again: what it prints must be what a fresh conversion prints."""
import ast

import gast
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, source_module
from srcdiff import module_builder
from srcdiff.transforms import dims, emit, kinds
from srcdiff.transforms.astutil import COMMENT_MARK


SOURCE = f"""def f(x, y, n):
    '{COMMENT_MARK}forward sweep'
    a = x * y
    for i in range(n):
        b = a + 1.0
        if b[0] > 0:
            a = b * 2.0
        else:
            pass
    c = np.exp(a)
    return c
"""


def _rewritten(fn):
    """A copy of `fn` with its loop's first statement and the last assignment replaced, the rest shared
    (as the elementwise pass rewrites)."""
    new = gast.parse(SOURCE).body[0]
    new.body = list(fn.body)
    loop = new.body[2] = gast.For(target=fn.body[2].target, iter=fn.body[2].iter, body=list(fn.body[2].body),
                                  orelse=[], type_comment=None)
    loop.body[0] = gast.parse("b = rt.elementwise('a + 1.0', (a,))").body[0]
    new.body[3] = gast.parse("c = rt.elementwise('np.exp(a)', (a,))").body[0]
    return new


def test_statements_taken_from_the_earlier_tree_print_as_converted_ones():
    fn = gast.parse(SOURCE).body[0]
    first = emit.tree(fn)
    new = _rewritten(fn)
    reused, fresh = emit.tree(new, (fn, first)), emit.tree(new)
    assert emit.render(reused) == emit.render(fresh)
    assert "rt.elementwise('a + 1.0', (a,))" in emit.render(reused) and "# forward sweep" in emit.render(reused)
    assert reused.body[1] is first.body[1]              # unchanged: the same statement
    assert reused.body[2].body[1] is first.body[2].body[1]
    assert reused.body[2] is not first.body[2] and reused.body[3] is not first.body[3]
    assert emit.render(first) == emit.render(emit.tree(fn))     # the earlier tree prints as before


def test_tree_keeps_the_placeholder_annotation():
    """unbound's placeholders keep PLACEHOLDER on the standard-library tree (the CUDA lowering reads it there); no
    other assignment gets it."""
    from srcdiff.transforms import annotations as anno
    fn = gast.parse(SOURCE).body[0]
    anno.set(fn.body[1], anno.PLACEHOLDER)
    t = emit.tree(fn)
    assert anno.get(t.body[1], anno.PLACEHOLDER) and isinstance(t.body[1], ast.Assign)
    assert not any(anno.get(n, anno.PLACEHOLDER) for n in ast.walk(t) if n is not t.body[1])


def test_a_statement_met_twice_is_taken_from_each_place():
    """render writes into a tree's comment statements while it prints them: one statement object at two
    places of a tree would be written twice. A gast statement at two places was converted at each."""
    fn = gast.parse(SOURCE).body[0]
    fn.body.insert(3, fn.body[0])
    first = emit.tree(fn)
    t = emit.tree(fn, (gast.parse(SOURCE).body[0], first))     # an unrelated earlier function: nothing shared
    assert t.body[0] is not first.body[0]
    new = gast.parse(SOURCE).body[0]
    new.body = list(fn.body)
    t = emit.tree(new, (fn, first))
    assert t.body[0] is first.body[0] and t.body[3] is first.body[3] and t.body[0] is not t.body[3]
    assert emit.render(t).count("# forward sweep") == 2 and emit.render(t) == emit.render(emit.tree(new))


def test_the_compiled_form_is_a_fresh_conversion_of_its_function(monkeypatch):
    """A jitted gradient's compiled form (the elementwise pass's kernels) prints as its function converted
    without the source's statements."""
    src = ("import numpy as np\n\ndef g(x, y, a):\n    u = np.tanh(x) * a + 0.5 * y\n    s = np.sum(u * x)\n"
           "    v = np.exp(-0.1 * u ** 2) - y * s\n    return np.sum(v * u) + s\n")
    g = source_module("emit_compiled", src).g
    args = (np.ones(5), np.ones(5), 0.3)
    mod = module_builder.build_module(g, ["x", "y", "a"], "grad", tuple(kinds.kind_of_value(v) for v in args), {},
                                dims.label_arguments(args))
    got = mod.generate(True)
    assert got.compiled is not None and "rt.elementwise" in got.compiled
    fresh = []
    tree = emit.tree
    monkeypatch.setattr(emit, "tree", lambda node, earlier=None: fresh.append(earlier) or tree(node))
    again = mod.generate(True)
    assert any(fresh) and again.compiled == got.compiled and again.source == got.source
    assert ast.parse(got.compiled)


def negative_base(x):
    y = (-2.0) ** 2 * x
    z = (-1.5) ** 3 * y + (-2) ** 2 * x
    return np.sum(z * x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_folded_negative_number_raised_to_a_power_keeps_its_parentheses(jit):
    """canonicalize folds `-2.0` into one constant: printed as the left operand of `**` it needs its
    parentheses, or `(-2.0) ** 2` (4) reads -(2.0 ** 2) (-4), in the source and in a kernel's text."""
    x = np.arange(3.0)
    assert np.allclose(check_grad(negative_base, [x], jit=jit)[0], -19.0 * x)   # z = (-3.375 * 4 + 4) x
    assert "(-2.0) ** 2" in srcdiff.source(srcdiff.grad(negative_base, jit=jit))
