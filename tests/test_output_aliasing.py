"""Derivatives returned are new arrays, never the caller's tangent, cotangent or argument (or a view of one), as
NumPy's functions and JAX's transforms give them (transforms/memory_sharing.fresh_results, the "fresh results" pass).

Before (h25b), the generated code passed the caller's array on as it is where the derivative is that array: the jvp
of `return x.T` returned `np.transpose(d_x)`, of `x * 1.0` or `np.copy(x)` d_x itself, of `x[1:]` `d_x[1:]`; the vjp
of `return x` (`x * 1.0`, `x.T`, ...) returned the cotangent g itself. The numbers were right, but a caller writing
into the derivative it got back wrote into its own dx or ct (`dy[0] = 0.0` zeroed dx[0, 0]), under jit=False and
jit=True alike. The values (the primal of jvp, vjp and value_and_grad) are what the function returns: a view of x
where it returns one, as f itself does.
"""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

SOURCE = '''
import numpy as np


def transposed(x):
    return x.T


def times_one(x):
    return x * 1.0


def itself(x):
    return x


def reshaped(x):
    return x.reshape(-1)


def sliced(x):
    return x[1:]


def a_row(x):
    return x[0]


def copied(x):
    return np.copy(x)


def plus_zero(x):
    return x + 0.0


def in_a_branch(x):
    y = x
    if x[0, 0] > 0:
        y = x[1:]
    return y


def through_a_helper(x):
    return turn(x)


def turn(x):
    return x.T
'''
m = source_module("output_aliasing_cases", SOURCE)
CASES = [m.transposed, m.times_one, m.itself, m.reshaped, m.sliced, m.a_row, m.copied, m.plus_zero, m.in_a_branch,
         m.through_a_helper]
X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _shares(out, *arrays):
    return any(np.shares_memory(out, a) for a in arrays)


def _jacobian(f, x):
    """Of a piecewise linear f, at x: its columns f(x + e_k) - f(x) (the branch of in_a_branch stays)."""
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0
        cols.append(np.ravel(f(x + e.reshape(x.shape))) - np.ravel(f(x.copy())))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_jvp_tangent_is_new(f, jit):
    x, dx = X.copy(), np.arange(6.0).reshape(2, 3) + 1.0
    y, dy = srcdiff.jvp(f, jit=jit)(x, dx)
    np.testing.assert_array_equal(y, f(X.copy()))
    np.testing.assert_array_equal(dy, f(dx.copy()))
    assert not _shares(dy, dx, x)
    dy[...] = -7.0      # the caller writing into it: its tangent and point stay
    np.testing.assert_array_equal(dx, np.arange(6.0).reshape(2, 3) + 1.0)
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
def test_vjp_gradient_is_new(f, jit):
    x = X.copy()
    ct = np.linspace(-1.0, 1.0, np.size(f(X.copy()))).reshape(np.shape(f(X.copy())))
    y, g = srcdiff.vjp(f, jit=jit)(x, ct)
    np.testing.assert_array_equal(y, f(X.copy()))
    np.testing.assert_allclose(np.ravel(g), _jacobian(f, X).T @ np.ravel(ct), rtol=1e-14, atol=1e-15)
    assert not _shares(g, ct, x)
    saved = ct.copy()
    g[...] = -7.0
    np.testing.assert_array_equal(ct, saved)
    np.testing.assert_array_equal(x, X)


@pytest.mark.parametrize("jit", [False, True])
def test_jvp_of_a_tuple_result(jit):
    m2 = source_module("output_aliasing_pair", "import numpy as np\n\n\ndef pair(x, y):\n    return x, 2.0 * y\n")
    x, y, dx = X.copy(), X[0].copy(), np.ones((2, 3))
    (a, b), (da, db) = srcdiff.jvp(m2.pair, jit=jit)(x, y, dx)
    np.testing.assert_array_equal(da, dx)
    np.testing.assert_array_equal(db, np.zeros(3))
    assert not _shares(da, dx, x)
    assert a is x or np.shares_memory(a, x)      # the value: what pair returns


@pytest.mark.parametrize("jit", [False, True])
def test_second_derivatives_are_new(jit):
    m3 = source_module("output_aliasing_quadratic",
                       "import numpy as np\n\n\ndef q(x):\n    return 0.5 * np.sum(x * x)\n\n\n"
                       "def lin(x):\n    return x.T\n")
    x, v = X[0].copy(), np.array([1.0, -2.0, 0.5])
    hv = srcdiff.hvp(m3.q, jit=jit)(x, v)
    np.testing.assert_allclose(hv, v, rtol=1e-15)
    assert not _shares(hv, x, v)
    H = srcdiff.hessian(m3.q, jit=jit)(x)
    np.testing.assert_allclose(H, np.eye(3), rtol=1e-15)
    J = srcdiff.jacobian(m3.lin, jit=jit)(X.copy())
    assert not _shares(J, X)


def test_only_where_needed():
    """A derivative that is a new array already gets no copy (the generated code reads as before)."""
    m4 = source_module("output_aliasing_fresh", "import numpy as np\n\n\ndef f(x, w):\n    return np.sin(x) * w\n")
    x, w = X.copy(), X[1].copy()
    srcdiff.jvp(m4.f)(x, w, np.ones_like(x))
    srcdiff.vjp(m4.f)(x, w, np.ones_like(x))
    assert "rt.copy" not in srcdiff.source(srcdiff.jvp(m4.f))
    assert "rt.copy" not in srcdiff.source(srcdiff.vjp(m4.f))
    assert "return (result, rt.copy(d_result))" in srcdiff.source(srcdiff.jvp(m.transposed))
    assert "return (x, rt.copy(g))" in srcdiff.source(srcdiff.vjp(m.itself))


NESTED = source_module("output_aliasing_nested", '''
import numpy as np
import srcdiff


def transposed(x):
    return x.T


def itself(x):
    return x


jT = srcdiff.jvp(transposed)
vI = srcdiff.vjp(itself)


def writes_the_tangent(x):
    t = x * 2.0
    y, dy = jT(x, t)
    dy[0, 0] = 0.0          # t stays as it was
    return np.sum(t * t * x) + np.sum(dy * dy)


def writes_the_gradient(x):
    ct = np.sin(x)
    y, g = vI(x, ct)
    g[1, 1] = 5.0           # ct stays as it was
    return np.sum(ct * x) + np.sum(g * x)
''')


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", [NESTED.writes_the_tangent, NESTED.writes_the_gradient], ids=lambda f: f.__name__)
def test_a_function_writing_into_a_derivative_it_got(f, jit):
    """Differentiated again: the inner transform's copy is part of the code differentiated (grad and hvp against
    central differences of f and of its gradient)."""
    x = X.copy()
    h = 1e-6
    want = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        want[k] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(x.copy()), want, rtol=1e-6, atol=1e-8)
    v = np.ones_like(x)
    g = srcdiff.grad(f)
    hv = (g(x + 1e-5 * v) - g(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(srcdiff.hvp(f, jit=jit)(x.copy(), v), hv, rtol=1e-6, atol=1e-8)
