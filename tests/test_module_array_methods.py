"""transforms/resolve.py: a method of a module-level array (`C.reshape(2, 2)`, `C.sum()`, `C.copy()`, `C.mean(axis=0)`)
is the method of a constant array, as a local array's is. It was declined as 'call to <built-in method reshape of
numpy.ndarray object at 0x7f...>: classes, instances and bound methods are not supported' with advice about objects
(found by hand, h25b: `M = x.reshape(2, 2) * C.reshape(2, 2)`); `C.T` worked. A method that changes the array
(`C.sort()`) is still declined, naming the module-level array."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

C = np.array([0.3, -0.7, 1.1, 0.5])


def reshaped(x):
    M = x.reshape(2, 2) * C.reshape(2, 2)
    return np.sum(M @ M) + np.sum(np.tanh(x) * C.reshape(-1))


def reduced(x):
    return np.sum(x * x) * C.sum() + np.sin(x[0]) * C.max() + np.sum(C.reshape(2, 2).mean(axis=0) * x[:2] ** 2)


def copied(x):
    w = C.copy()
    w[0] = x[1]
    return np.sum(w * x * x) + np.dot(C.ravel(), np.exp(x))


def sorts_it(x):
    C.sort()
    return np.sum(C * x)


X = np.array([0.4, -0.9, 0.6, 1.3])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [reshaped, reduced, copied], ids=lambda f: f.__name__)
def test_methods_of_a_module_level_array(f, jit):
    want = numerical_grad(f, [X.copy()], 0)
    np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(X.copy()), want, rtol=1e-6, atol=1e-8)
    y, dy = srcdiff.jvp(f, jit=jit)(X.copy(), np.ones(4))
    assert y == pytest.approx(f(X.copy()), rel=1e-13)
    assert dy == pytest.approx(float(np.sum(want)), rel=1e-6)
    v = np.array([0.5, -1.0, 0.25, 2.0])
    h = 1e-5
    hv = (srcdiff.grad(f)(X + h * v) - srcdiff.grad(f)(X - h * v)) / (2 * h)
    np.testing.assert_allclose(srcdiff.hvp(f, jit=jit)(X.copy(), v), hv, rtol=1e-5, atol=1e-7)


def test_a_method_changing_a_module_level_array_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"sort\(\)"):
        srcdiff.grad(sorts_it)(X.copy())
    np.testing.assert_array_equal(C, np.array([0.3, -0.7, 1.1, 0.5]))
