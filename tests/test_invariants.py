"""transforms/invariants.py: a loop's constant arrays made once, before it."""
import re

import numpy as np
import pytest
from scipy.special import logsumexp

import srcdiff
from gradcheck import numerical_grad


def damped(x):
    y = x.copy()
    i = 0
    while i < 3:
        buf = np.array((1.0, -0.5))
        y = y * buf[0] + buf[1] * np.sin(y)
        i = i + 1
    return np.sum(y)


def written_each_time(x):
    s = 0.0
    for i in range(3):
        buf = np.array((1.0, -0.5))
        buf[0] = x[i]
        s = s + np.sum(buf * x[i])
    return s


def in_a_branch(x):
    s = 0.0
    for i in range(3):
        if x[i] > 0.0:
            w = np.array((2.0, 3.0))
            s = s + w[1] * x[i]
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_constant_array_is_made_before_the_loop_not_taped(jit):
    """`buf = np.array((1.0, -0.5))` in a while loop was made, and its items `buf[0]`, `buf[1]` pushed onto the
    tape, every iteration; now made once before the loop, nothing of it taped."""
    x = np.array([0.3, 0.5])
    g = srcdiff.grad(damped, jit=jit)
    np.testing.assert_allclose(g(x), numerical_grad(damped, [x], 0), rtol=1e-6, atol=1e-8)
    text = srcdiff.source(g)
    assert text.index("buf = np.array((1.0, -0.5))") < text.index("while ")
    assert "y1_stack" not in text and "buf_stack" not in text


def test_an_array_written_in_the_loop_stays():
    x = np.array([0.3, -0.5, 0.9])
    g = srcdiff.grad(written_each_time)
    np.testing.assert_allclose(g(x), numerical_grad(written_each_time, [x], 0), rtol=1e-6, atol=1e-8)
    text = srcdiff.source(g)
    assert text.index("buf = np.array(") > text.index("for i in range(")


def lookup_in_a_branch(M, x):
    s = 0.0
    for i in range(3):
        if x[i] > 0.0:
            rows = np.arange(2)[:, None]
            s = s + np.sum(M[rows, np.array([[i, 0], [1, i]])] * np.ones(2)) * x[i]
        else:
            s = s - x[i] * x[i]
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_branchs_constant_array_is_made_before_the_loop(jit):
    """A constant array made in a branch of a loop (`np.arange(2)[:, None]`, an index of M; `np.ones(2)`) was a
    value of each iteration that ran the branch: stored on a stack for the backward sweep, and a gradient
    differentiated again stored it once more (nested fuzz seed 1008231, four stacks of it). Made once before the
    loop (it cannot fail: it was computed when compiled), nothing of it is stored."""
    x, M = np.array([0.3, -0.5, 0.9]), np.array([[0.5, -0.2, 0.7], [0.1, 0.4, -0.3]])
    for f, k, name in ((in_a_branch, None, "w"), (lookup_in_a_branch, 1, "rows")):
        args = [x] if k is None else [M, x]
        g = srcdiff.grad(f, wrt=k or 0, jit=jit)
        np.testing.assert_allclose(g(*args), numerical_grad(f, args, k or 0), rtol=1e-6, atol=1e-8)
        text = srcdiff.source(g)
        assert text.index(f"{name} = ") < text.index("for i in range("), f.__name__
        assert not re.search(r"(\.append|rt\.push)\((rows|w|\w*ones\w*)\w*\)", text), text


def integrate(fun, u, k):
    for i in range(2):
        u = u + k * fun(u)
    return u


def helper_constants_in_a_loop(x):
    return integrate(lambda u: 0.5 * np.tanh(np.sum(logsumexp(np.ones((2, 4)) * -0.7 + (np.ones(4) * -1.2)[None, :],
                                                             axis=1)) * u), np.sum(x), 0.25)


def matrix_written(x):
    s = 0.0
    for i in range(3):
        m = np.ones((2, 3)) * 0.5
        m[0, i] = x[i]
        s = s + np.sum(m) * x[i]
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_an_inlined_helpers_constants_are_computed_once_before_the_loop(jit):
    """A function passed to a loop (`integrate(lambda u: ... np.ones((2, 4)) ...)`, fuzz seed 1000003) computed its
    constants in every iteration and taped their sum (`result8v1_tape`); now once, before the loop."""
    f = helper_constants_in_a_loop
    x = np.array([0.3, -0.2, 0.4])
    g = srcdiff.grad(f, jit=jit)
    np.testing.assert_allclose(g(x), numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-8)
    text = srcdiff.source(g)
    assert "_tape" in text and text.count("_tape = ") == 1
    assert text.index("np.ones(4)") < text.index("for i in range(2)")


def test_a_constant_matrix_written_in_place_stays_in_the_loop():
    x = np.array([0.3, -0.2, 0.4])
    g = srcdiff.grad(matrix_written)
    np.testing.assert_allclose(g(x), numerical_grad(matrix_written, [x], 0), rtol=1e-6, atol=1e-8)
    text = srcdiff.source(g)
    # (np.ones((2, 3)), read only by the product, is made before the loop; the product, written, in it)
    assert re.search(r"\n +m = \w+ \* 0\.5", text).start() > text.index("for i in range(3)")


def logs_of_constants(x):
    y = x.copy()
    i = 0
    while i < 3:
        w = np.log(np.ones(2) * 2.0)
        bad = np.log(np.ones(2) * -1.0)     # (NaN and a warning: not a constant, it stays in the loop)
        y = y * w[0] + np.sin(y) * np.sqrt(w[1]) + 0.0 * bad[0]
        i = i + 1
    return np.sum(y)


def test_any_elementwise_ufunc_of_the_rule_table_makes_a_constant():
    """The functions a constant may call are the rule table's elementwise ufuncs (np.log, np.sqrt: not a list of
    invariants' own), evaluated when compiling: one that warns stays where it is."""
    x = np.array([0.3, 0.5])
    g = srcdiff.grad(logs_of_constants)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(g(x), numerical_grad(logs_of_constants, [x], 0), rtol=1e-6, atol=1e-8)
    text = srcdiff.source(g)
    made = {m.group(1): m.start() for m in re.finditer(r"^ +(w|bad) = np\.log\(", text, re.M)}
    assert made["w"] < text.index("while ") < made["bad"]       # (bad's operand, np.ones(2) * -1.0, is one)
