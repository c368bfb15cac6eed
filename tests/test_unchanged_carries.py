"""A value a loop carries unchanged (`v` in `for i in range(n): x, v = np.sin(x) * v + h, v`: SSA's `v1 = v`, `v2 = v1`,
then the back-edge copy `v = v2`) is no longer bound by the loop (ssa._copy_roots), so reverse mode keeps no value of
it per iteration: the scalar tapes of that loop were x1v1, v and x, 24 bytes an iteration, now 16 (h26c). Gradients
against central differences, both backends, with checkpoints, jvp and a swap (which does change both)."""

import numpy as np
import pytest

import srcdiff
from gradcheck import peak_bytes, numerical_grad


def scalar_carry(x, v, h, n):
    for i in range(n):
        x, v = np.sin(x) * v + h, v
    return x * 2.0


def array_carry(x, v, h, n):
    for i in range(n):
        x, v = np.tanh(x) * v + h * x, v
    return np.sum(x ** 2)


def while_carry(x, v, h, n):
    i = 0
    while i < n:
        x, w, v = np.sin(x) * v + h, v, v
        i += 1
    return x * w


def branch_carry(x, v, h, n):
    for i in range(n):
        if x > 0.0:
            x, v = np.sin(x) * v + h, v
        else:
            x, v = x * v + h, v * 1.5
    return x + v


def swapped(x, v, h, n):
    for i in range(n):
        x, v = v, np.sin(x) * h + v
    return x * v


def nested_carry(x, v, h, n):
    for i in range(n):
        for j in range(2):
            x, v = np.cos(x) * v + h, v
    return x


ARGS = {scalar_carry: (0.5, 0.8, 0.1, 7), while_carry: (0.5, 0.8, 0.1, 7), branch_carry: (0.5, 0.8, 0.1, 7),
        swapped: (0.5, 0.8, 0.1, 7), nested_carry: (0.5, 0.8, 0.1, 4),
        array_carry: (np.array([0.3, -0.2, 0.5]), np.array([0.9, 0.7, 1.1]), 0.1, 6)}


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", list(ARGS))
def test_gradients_of_loops_carrying_a_value_unchanged(f, jit):
    args = ARGS[f]
    value, (dx, dv) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    np.testing.assert_allclose(dx, numerical_grad(f, list(args), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dv, numerical_grad(f, list(args), 1), rtol=1e-6, atol=1e-8)
    for a, b in zip(srcdiff.grad(f, wrt=(0, 1), checkpoints=2)(*args), (dx, dv)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    t = (np.ones_like(args[0]) * 0.5, np.ones_like(args[1]) * -0.3)
    _, d = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(*args, t)
    assert d == pytest.approx(np.sum(dx * t[0]) + np.sum(dv * t[1]), rel=1e-9, abs=1e-12)


def test_the_unchanged_value_is_not_taped():
    """Two scalar tapes of n float64s (sin(x) and x), not three: the peak memory of the Python gradient."""
    n = 20_000
    g = srcdiff.grad(scalar_carry, wrt=(0, 1))
    fn = g.prepare(0.5, 0.8, 0.1, n)._last[2]
    peak = peak_bytes(getattr(fn, "py_func", fn), 0.5, 0.8, 0.1, n)
    assert 2 * 8 * n <= peak < 2.5 * 8 * n, peak
    assert "v_tape" not in srcdiff.source(g)
