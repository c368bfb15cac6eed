"""transforms/controlflow.py: early return, break and continue become structured flow (flags tested by
ifs, a while loop for a `for` loop that breaks), so that later passes see one exit."""
import gast
import numpy as np
import pytest

from srcdiff.transforms import annotations as anno
from srcdiff.transforms.astutil import walk_statements
import srcdiff
from gradcheck import check_grad, numerical_grad
from passes import body_source, through


def early(x, a):
    for i in range(3):
        if a[i] > 0.5:
            return x * a[i]
        x = np.sin(x) * 2.0 + a[i]
    return x


def test_early_return_in_a_loop_is_flags_and_a_while_loop():
    unit = through(early, "structure")
    src = body_source(unit.node)
    assert src.splitlines()[-1] == "return result"
    assert sum(isinstance(s, gast.Return) for s in walk_statements(unit.node.body)) == 1
    assert "while go:" in src and "go = not brk and i_next < 3" in src
    incr = [s for s in walk_statements(unit.node.body) if anno.get(s, anno.INCR)]
    assert [body_source([s]) for s in incr] == ["i_next = i_next + 1"]


def skips(x, a):
    for i in range(4):
        if a[i] < 0.0:
            continue
        x = x * a[i]
    return x


def test_continue_skips_the_rest_of_the_body():
    src = body_source(through(skips, "structure").node)
    assert "continue" not in src
    assert "if not skip:" in src


def straight(x):
    y = x * 2.0
    return y


def test_a_function_without_early_exits_is_unchanged():
    assert body_source(through(straight, "structure").node) == "y = x * 2.0\nreturn y"


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("a", [[0.1, 0.7, 0.2], [0.1, 0.2, 0.3], [-0.4, 0.9, 0.3, 2.0]])
def test_gradients_of_structured_flow(a, jit):
    f = skips if len(a) == 4 else early
    check_grad(f, [0.3, np.array(a)], jit=jit)


def returns_in_an_elif(x, a, flag):
    y = np.tanh(a) * x
    if x > 2.0:
        y = y * 2.0
    elif a[0] > 0.5:
        if flag:
            return np.sum(y) * 3.0
    elif a[1] > 0.0:
        return x * a[1]
    z = np.sin(y) + x
    w = np.cos(z) * a
    return np.sum(w * z)


def penalty_of_returns_in_an_elif(x, a, flag):
    gx, ga = srcdiff.grad(returns_in_an_elif, wrt=(0, 1))(x, a, flag)
    return gx * gx + np.sum(ga * ga)


def test_an_early_return_that_would_copy_the_rest_into_several_branches_sets_a_flag():
    """Nested fuzz seed 30: a return in a branch of an `elif` copied the function's last lines into each branch
    that falls through (three copies), each differentiated on its own; the gradient differentiated again held
    every copy's sweeps (2 439 lines, Numba past 180 s compiling it). Such returns set a flag, as inside loops,
    and the rest runs once. A single copy (the rest moved into an `else`) stays as it was."""
    src = body_source(through(returns_in_an_elif, "structure").node)
    assert src.count("np.cos(z)") == 1 and "if not returned:" in src, src
    assert "if not returned" not in body_source(through(early_exit_once, "structure").node)
    a = np.array([0.7, -0.3, 0.4])
    for x, flag in ((0.3, True), (0.3, False), (2.5, True), (-0.2, False)):
        for k, want in enumerate((numerical_grad(returns_in_an_elif, [x, a, flag], 0),
                                  numerical_grad(returns_in_an_elif, [x, a, flag], 1))):
            np.testing.assert_allclose(srcdiff.grad(returns_in_an_elif, wrt=(0, 1))(x, a, flag)[k], want,
                                       rtol=1e-6, atol=1e-8)
    b = np.array([0.2, 0.6, -0.4])
    for x, flag, arr in ((0.3, True, a), (0.3, False, a), (2.5, True, a), (0.3, False, b)):
        g = srcdiff.grad(penalty_of_returns_in_an_elif, wrt=(0, 1))
        got = g(x, arr, flag)
        for k in (0, 1):
            np.testing.assert_allclose(got[k], numerical_grad(penalty_of_returns_in_an_elif, [x, arr, flag], k),
                                       rtol=1e-5, atol=1e-6)
    assert len(srcdiff.source(g).splitlines()) < 400, len(srcdiff.source(g).splitlines())


def early_exit_once(x, a):
    if x > 1.0:
        return x * 2.0
    y = np.sin(a) * x
    return np.sum(y)
