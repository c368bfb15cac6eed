"""A loop that writes into the array it started from, which code before the loop also holds.

Reverse mode keeps a loop-carried array on a list stack, by reference, and its backward sweep undoes the loop's
writes on that array, so whoever else holds it (an earlier loop's list stack, a second name read by an earlier
statement's backward sweep) sees it as it was. Two optimisations keep copies instead, and undo the writes on the
copy only: jitted code's row tapes (transforms/stacks.py) and checkpointed loops' snapshots
(transforms/checkpoints.py). Both gave wrong gradients for the first iteration's write (nested fuzz seed 1091082:
a `while` loop's list stack held the buffer a following `for` loop wrote into after a swap). Each test here
fails on the code before the fix; each gradient is checked against central differences and against the other
backend."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
A = np.array([-0.63568422, 0.36045017, 0.56531135])
M = np.array([[1.72352933, 1.25474591, 0.76394577], [0.86554819, -0.36020436, -0.46101]])
X = 1.8713986698374196


def while_stack_then_swap_write(x, a, M):
    """1091082 reduced: the while loop's stack holds `buf15`, which is `buf8` when the for loop starts."""
    buf8 = a * 1.0
    buf15 = np.zeros(3)
    c = 0.0
    while c < 2.0:
        c = c + 0.75
        buf8, buf15 = buf15, 0.5 * buf8 + 0.5 * np.tanh(buf15 * buf15[0])
    for row in M:
        buf15, buf8 = buf8, 0.5 * buf15 + 0.5 * np.tanh(buf8 * x)
        buf15[1] = buf15[1] * 1.1
    return np.sum(buf8)


def second_name_read_before(x, a, M):
    """`c` is the array the loop starts from as `buf8`; y's backward sweep reads c."""
    c = a * 1.0
    y = np.sum(c * c * x)
    buf8 = c
    buf15 = np.zeros(3)
    for row in M:
        buf15, buf8 = buf8, 0.5 * buf15 + 0.5 * np.tanh(buf8 * x)
        buf15[1] = buf15[1] * 1.1
    return np.sum(buf8) + y


def swapped_then_written(x, a, M):
    """A pure swap, then a write: the loop writes into the array each name started from, in turn."""
    c = a * 1.0
    d = np.cos(a)
    y = np.sum(c * d * x)
    b1, b2 = c, d
    for row in M:
        b1, b2 = b2, b1
        b1[0] = b1[0] * row[0] + np.sum(b2 * row)
    return np.sum(b1 * b2) + y


def fresh_start(x, a, M):
    buf8 = np.sin(a)
    buf15 = np.zeros(3)
    for row in M:
        buf15, buf8 = buf8, 0.5 * buf15 + 0.5 * np.tanh(buf8 * x)
        buf15[1] = buf15[1] * 1.1
    return np.sum(buf8)


PROGRAMS = [while_stack_then_swap_write, second_name_read_before, swapped_then_written]


def _fd(f):
    return numerical_grad(lambda a: f(X, a, M.copy()), [A.copy()], 0)


@JIT
@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_gradient_of_a_loop_writing_its_starting_array(f, jit):
    want = _fd(f)
    got = srcdiff.grad(f, wrt=1, jit=jit)(X, A.copy(), M.copy())
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    other = srcdiff.grad(f, wrt=1, jit=not jit)(X, A.copy(), M.copy())
    np.testing.assert_allclose(got, other, rtol=1e-10, atol=1e-12)


@JIT
@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_checkpointed_gradient_of_a_loop_writing_its_starting_array(f, jit):
    want = srcdiff.grad(f, wrt=1, jit=jit)(X, A.copy(), M.copy())
    g = srcdiff.grad(f, wrt=1, jit=jit, checkpoints=2)
    np.testing.assert_allclose(g(X, A.copy(), M.copy()), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(want, _fd(f), rtol=1e-6, atol=1e-8)


def test_value_and_jvp_agree():
    v = np.array([0.3, -0.7, 1.1])
    for f in PROGRAMS:
        for jit in (False, True):
            value, tangent = srcdiff.jvp(f, wrt=1, jit=jit)(X, A.copy(), M.copy(), v)
            assert value == pytest.approx(f(X, A.copy(), M.copy()), rel=1e-12)
            assert tangent == pytest.approx(_fd(f) @ v, rel=1e-6)


def test_row_tape_kept_where_nothing_else_holds_the_array():
    """The row tape is given up only where another name may hold the loop's starting array."""
    g = srcdiff.grad(fresh_start, wrt=1, jit=True)
    np.testing.assert_allclose(g(X, A.copy(), M.copy()), _fd(fresh_start), rtol=1e-6, atol=1e-8)
    assert "rt.put_row" in srcdiff.source(g)


def test_checkpointed_loop_gives_its_starting_array_back():
    """The generated code says what it does: the first snapshot is written back into the array the loop started
    from, after the segments, where the rest of the backward sweep reads it."""
    g = srcdiff.grad(second_name_read_before, wrt=1, checkpoints=2)
    g(X, A.copy(), M.copy())
    src = srcdiff.source(g)
    assert "buf8_start = buf8" in src and "buf8_start[...] = rt.get_row(buf8_snapshots, 0, buf8)" in src, src
    g = srcdiff.grad(fresh_start, wrt=1, checkpoints=2)
    np.testing.assert_allclose(g(X, A.copy(), M.copy()), _fd(fresh_start), rtol=1e-6, atol=1e-8)
    assert "_start = " not in srcdiff.source(g)
