"""transforms/promotions.py: under jit=True an integer array beside a float32 array or number computes as NumPy 2
does (float64 beside int32 / int64, float32 beside int16), in operators and in NumPy's ufuncs of two arguments.
Before: Numba computed them in float32 (`np.sum(x * counts)` of a float32 x: 2.25 where f gives 2.249999985098839;
`np.maximum(x, counts)`, `x ** counts`, `counts / x` alike), and their derivatives with them. The value must be f's
(type and number, to float64 rounding of the same arithmetic), under both backends, and the gradient float32."""
import math

import numpy as np
import pytest

import srcdiff

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
X = np.array([0.2, 0.5, 0.35], dtype=np.float32)
COUNTS = np.array([1, 2, 3])


def maximum(x, counts):
    return np.sum(np.maximum(x * 3.0, counts) * x)


def power(x, counts):
    return np.sum(x ** counts)


def counts_over_x(x, counts):
    return np.sum(counts / x + counts * x)


def in_loop(x, counts):
    s = x * 0.0
    for k in range(2):
        s = s + np.sin(x) * counts
    return np.sum(s)


def scalar_times_counts(x, counts):
    return np.sum(x[0] * counts + x)


def arctan2(x, counts):
    return np.sum(np.arctan2(x, counts))


PROGRAMS = [maximum, power, counts_over_x, in_loop, scalar_times_counts, arctan2]


@JIT
@pytest.mark.parametrize("f", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
@pytest.mark.parametrize("dt", [np.int64, np.int32, np.int16], ids=["int64", "int32", "int16"])
def test_value_is_numpys(f, dt, jit):
    counts = COUNTS.astype(dt)
    y = f(X, counts)
    value, g = srcdiff.value_and_grad(f, jit=jit)(X, counts)
    jv, _ = srcdiff.jvp(f, jit=jit)(X, counts, np.ones(3, dtype=np.float32))
    for v in (value, jv):
        assert type(v) is type(y), (type(v), type(y))
        assert v == pytest.approx(y, rel=1e-6 if type(y) is np.float32 else 1e-12), (v, y)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, srcdiff.grad(f)(X.astype(float), counts), rtol=1e-6)


def test_numpy_float_is_numpys_type():
    """rt.numpy_float under NumPy (the kind law's table reads it too) and under Numba: the integers as the float type
    NumPy computes them in beside the other operand; Numba's is the array itself where its arithmetic is NumPy's."""
    import numba
    from srcdiff import runtime as rt
    jitted = numba.njit(lambda i, o: rt.numpy_float(i, o))
    for dt, other, want in [(np.int64, X, np.float64), (np.int32, X[0], np.float64), (np.int16, X, np.float32),
                            (np.int64, X.astype(float), np.float64), (np.uint32, X, np.float64)]:
        i = COUNTS.astype(dt)
        assert rt.numpy_float(i, other).dtype == want
        assert (jitted(i, other) * other).dtype == (i * other).dtype


# math's functions of float32 numbers: Python computes them in double and gives a float; Numba computed them in
# float32 (math.sqrt: 0.7228416204452515 for f's 0.7228415998974657), float(s) of a float32 s too (Numba's float of a
# float32 is a float32: rt.to_float)
def math_sqrt(x):
    return math.sqrt(np.sum(x * x))


def math_exp_log(x):
    return math.exp(np.sum(x)) * 0.5 + math.log(x[0]) * math.atan2(x[1], x[2])


def float_of_sum(x):
    return float(np.sum(x * x)) * 0.1 + math.tanh(x[1])


MATH = [math_sqrt, math_exp_log, float_of_sum]


@JIT
@pytest.mark.parametrize("f", MATH, ids=[f.__name__ for f in MATH])
def test_math_of_float32_is_pythons(f, jit):
    y = f(X)
    value, g = srcdiff.value_and_grad(f, jit=jit)(X)
    jv, _ = srcdiff.jvp(f, jit=jit)(X, np.ones(3, dtype=np.float32))
    for v in (value, jv):
        assert type(v) is type(y) and v == y, (repr(v), repr(y))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, srcdiff.grad(f)(X.astype(float)), rtol=1e-5)


# np.float32(c) was written float(c) (resolve.py): its value and derivative were c's, unrounded (the derivative of
# np.sum(x * np.float32(c)) w.r.t. x was 0.3 for f's 0.30000001192092896)
def times_float32_of(x, c):
    return np.sum(x * np.float32(c * 0.7)) + np.float32(c) * x[0]


def float32_of_zero_d(x, a):
    return np.sum(x * np.float32(a)) * np.float32(x[1] > 0.1)


@JIT
def test_float32_of_a_number_is_rounded(jit):
    x, c = np.array([0.1, 0.25, 0.4]), 0.3
    f = times_float32_of
    y = f(x, c)
    value, (gx, gc) = srcdiff.value_and_grad(f, jit=jit, wrt=(0, 1))(x, c)
    assert type(value) is type(y) and value == y, (repr(value), repr(y))
    np.testing.assert_array_equal(gx, [float(np.float32(c * 0.7)) + float(np.float32(c)), float(np.float32(c * 0.7)),
                                       float(np.float32(c * 0.7))])
    jv, _ = srcdiff.jvp(f, jit=jit)(x, c, np.ones(3))
    assert jv == y
    y = float32_of_zero_d(x, np.array(0.3))
    value, g = srcdiff.value_and_grad(float32_of_zero_d, jit=jit)(x, np.array(0.3))
    assert type(value) is type(y) and value == y, (repr(value), repr(y))
    np.testing.assert_array_equal(g, np.full(3, float(np.float32(0.3))))
