"""transforms/anf.py: one operation per statement, each intermediate named after what it feeds."""
import gast
import numpy as np
import pytest

import srcdiff

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


def weighted_or_squared(x, w=None):
    y = np.sin(x)
    if w is None:
        s = np.sum(y * y)
    else:
        s = np.sum(w * y)
    return s


def negated(x, flag):
    if not flag:
        x = x * 3.0
    return x * 2.0 if not flag else x


def test_a_negated_test_swaps_the_branches():
    assert body_source(through(negated, "anf").node) == ("if flag:\n"
                                                         "    pass\n"
                                                         "else:\n"
                                                         "    x = x * 3.0\n"
                                                         "if flag:\n"
                                                         "    result = x\n"
                                                         "else:\n"
                                                         "    result = x * 2.0\n"
                                                         "result1 = result\n"
                                                         "return result1")


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hvp_of_a_parameter_that_defaults_to_none_and_is_tested(jit):
    """The gradient's forward sweep reads `if not cond:` (its `if cond:` side computes nothing); forward mode
    named the test `cond1 = not cond`, through which Numba does not prune the branch `w is None` rules out,
    and typed it with w None: "No implementation of function mul" (`w * y`). A negated test swaps the branches."""
    x, v, w = np.array([0.3, 0.7, 1.1]), np.array([1.0, -0.5, 0.25]), np.array([0.5, 2.0, 1.5])
    check_grad(weighted_or_squared, [x], jit=jit)
    check_grad(weighted_or_squared, [x, w], wrt=0, jit=jit)
    g = srcdiff.grad(weighted_or_squared)
    for args in ((), (w,)):
        h = srcdiff.hvp(weighted_or_squared, jit=jit)(x, *args, v)
        fd = (g(x + 1e-6 * v, *args) - g(x - 1e-6 * v, *args)) / 2e-6
        np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(srcdiff.jvp(weighted_or_squared, jit=jit)(x, *args, v)[1], g(x, *args) @ v,
                                   rtol=1e-10)
    check_grad(negated, [0.7, False], wrt=0, jit=jit)
    check_grad(negated, [0.7, True], wrt=0, jit=jit)
