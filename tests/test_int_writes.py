"""A float written into an array of integers or booleans is cast (`buf = np.zeros(3, dtype=int)`, `buf[0] = a *
10.0` stores int(a * 10.0), piecewise constant in a): the write passes no derivative. Reverse mode passed the
adjoint of buf[0] on to a and forward mode the tangent of a into buf's: d/da 11.1 for 7.0 (i1) in grad, vjp and jvp
alike, both backends. The kinds also took `np.zeros_like(x, dtype=int)` / `np.ones_like(x, int)` for x's floats
(their dtype argument ignored) and `np.full(3, 2)` for floats (NumPy: ints, of the fill value's dtype). Each
gradient against central differences, Numba = Python, jvp = gradient . v."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def zeros_of_ints(x, a):
    buf = np.zeros(3, dtype=np.int64)
    buf[0] = a * 10.0
    buf[1:] = x[1:] * 5.0
    return a * buf[0] + np.sum(buf * x)


def zeros_like_of_ints(x, a):
    y = np.zeros_like(x, dtype=int)
    for i in range(3):
        y[i] = x[i] * 4.0 + a
    return np.sum(y * x) * a


def ones_like_of_ints(x, a):
    y = np.ones_like(x, int)
    y[2] = x[2] * 7.0 + a
    return np.sum(y * x) * a


def full_of_an_int(x, a):
    y = np.full(3, 2)
    y[0] = a * 3.3
    y[1:] = x[1:] * 4.0
    return np.sum(y * x) * a


def booleans(x, a):
    m = np.zeros(3, dtype=bool)
    m[0] = x[0] * a
    return np.sum(m * x) + a


def full_of_a_float(x, a):
    z = np.full(3, 2.0)
    z[0] = a * 3.3
    return np.sum(z * x)


X = np.array([0.31, -0.57, 1.13])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [zeros_of_ints, zeros_like_of_ints, ones_like_of_ints, full_of_an_int, booleans,
                               full_of_a_float])
def test_a_float_written_into_an_integer_array_passes_no_derivative(f, jit):
    value, (dx, da) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(X.copy(), 0.73)
    assert value == pytest.approx(f(X.copy(), 0.73), rel=1e-12)
    np.testing.assert_allclose(dx, numerical_grad(f, [X, 0.73], 0), rtol=1e-6, atol=1e-8)
    assert da == pytest.approx(numerical_grad(f, [X, 0.73], 1), rel=1e-6, abs=1e-8)
    v = (np.array([0.5, -1.0, 0.25]), 0.7)
    _, d = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(X.copy(), 0.73, v)
    assert d == pytest.approx(np.sum(dx * v[0]) + da * v[1], rel=1e-9, abs=1e-12)
    _, (vx, va) = srcdiff.vjp(f, wrt=(0, 1), jit=jit)(X.copy(), 0.73, 1.0)
    np.testing.assert_allclose(vx, dx, rtol=1e-12)
    assert va == pytest.approx(da, rel=1e-12)


def ints_updated_by_a_float(x, a):
    y = np.arange(3)
    y *= a
    return np.sum(y * x)


@pytest.mark.parametrize("transform", [srcdiff.grad, srcdiff.jvp])
def test_an_array_of_ints_updated_in_place_by_a_float_is_declined(transform):
    """`y = np.arange(3); y *= a`: NumPy raises (UFuncTypeError: it cannot cast the float product into y's ints in
    place); srcdiff computed y = y * a and gave a gradient ([0, 0.7, 1.4]) of a function Python rejects."""
    with pytest.raises(TypeError, match="Cannot cast ufunc"):     # (numpy's UFuncTypeError)
        ints_updated_by_a_float(X.copy(), 0.7)
    with pytest.raises(srcdiff.SrcdiffError, match=r"`y \*= \.\.\.` of an array of ints and floats: NumPy raises"):
        g = transform(ints_updated_by_a_float, wrt=0)
        g(X.copy(), 0.7) if transform is srcdiff.grad else g(X.copy(), 0.7, np.ones(3))
