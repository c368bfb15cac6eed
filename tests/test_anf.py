"""transforms/anf.py: one operation per statement, each intermediate named after what it feeds."""
import gast
import numpy as np
import pytest

from srcdiff.transforms import annotations as anno
from srcdiff.transforms.astutil import walk, walk_statements
from gradcheck import check_grad
from passes import body_source, through


def nested(x, a):
    y = np.sin(x) * 2.0 + a[0]
    return y * y


def test_each_statement_holds_one_operation():
    unit = through(nested, "anf")
    assert body_source(unit.node) == ("y1 = np.sin(x)\n"
                                      "y2 = y1 * 2.0\n"
                                      "y3 = a[0]\n"
                                      "y = y2 + y3\n"
                                      "result = y * y\n"
                                      "return result")
    for s in walk_statements(unit.node.body):
        if isinstance(s, gast.Assign):
            ops = [n for n in walk(s.value) if isinstance(n, (gast.BinOp, gast.Call, gast.Subscript, gast.UnaryOp))]
            assert len(ops) <= 1, body_source([s])


def condition(x, c):
    if c * x > 1.0:
        x = x * 3.0
    return x


def test_an_if_tests_a_name():
    assert body_source(through(condition, "anf").node) == ("cond = c * x\n"
                                                           "cond1 = cond > 1.0\n"
                                                           "if cond1:\n"
                                                           "    x = x * 3.0\n"
                                                           "return x")


def augmented(x, a):
    b = a * 1.0
    b += x
    return np.sum(b)


def test_desugars_facts_survive_anf():
    unit = through(augmented, "anf")
    marked = [body_source([s]) for s in walk_statements(unit.node.body) if anno.get(s, anno.IN_PLACE)]
    assert marked == ["b = b + x"]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_after_anf(jit):
    check_grad(nested, [0.4, np.array([0.5, 1.0])], jit=jit)
    check_grad(condition, [0.7, 2.0], wrt=0, jit=jit)
