"""Second derivatives through a write by an index list (`b[[0, 2]] = v`): reverse mode reads the written region's
adjoint with rt.written (an element the list names twice gets the later write's adjoint only). Forward over reverse
(hvp, hessian) and reverse over reverse (a function of a gradient) differentiated rt.written's own code (its `who`
array and np.where), which srcdiff.cuda declined ("the call slice(...)", tests/test_cuda_indexing.py); rt.written
now has a rule record: linear in the adjoint, its tangent rt.written of the tangent, its adjoint rt.written_put.
Checked against central differences of the gradient, on both backends."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

BACKENDS = [False, True]


def listed(x):
    b = x * 1.0
    b[[0, 2]] = np.sin(x[1:3]) * x[0]
    return np.sum(b * b * x)


def listed_twice(x):
    """[1, 1, 3]: element 1 is written twice; the second value (np.cos(x[2]) * x[3]) is the one read."""
    b = np.tanh(x)
    b[[1, 1, 3]] = np.array([x[0] * x[0], np.cos(x[2]) * x[3], x[1] * x[2]])
    return np.sum(np.sin(b) * x) + b[1] * b[3]


def listed_columns(x, M):
    C = M * x[0]
    C[:, [0, 2]] += x[1:3] * x[3]
    C[[1, 0], 1] = np.tanh(C[:, 2]) * x[2]
    return np.sum(np.tanh(C) * C) + np.sum(x * x * x)


X = np.array([0.3, 0.7, -0.4, 1.1])
M = np.array([[0.5, -1.2, 0.8], [0.9, 0.3, -0.7]])
V = np.array([0.2, -0.5, 0.9, 0.4])
CASES = [(listed, (X,)), (listed_twice, (X,)), (listed_columns, (X, M))]


def _hvp_by_differences(f, args, v, h=1e-5):
    g = srcdiff.grad(f, jit=False)
    return (g(args[0] + h * v, *args[1:]) - g(args[0] - h * v, *args[1:])) / (2 * h)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_hvp_and_hessian_through_an_index_list_write(f, args, jit):
    want = _hvp_by_differences(f, args, V)
    got = srcdiff.hvp(f, jit=jit)(*args, V)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    H = srcdiff.hessian(f, jit=jit)(*args)
    np.testing.assert_allclose(H @ V, want, rtol=1e-6, atol=1e-8)
    # the rule's tangent, not rt.written's own code inlined (its `who` array, which the device declined)
    code = srcdiff.source(srcdiff.hvp(f, jit=jit))
    assert "rt.written(" in code and "who" not in code, code


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_grad_of_a_gradient_through_an_index_list_write(f, args, jit):
    """Reverse over reverse: rt.written's adjoint is rt.written_put (g put back where the write won)."""
    g = srcdiff.grad(f, jit=jit)

    def penalty1(x):
        d = g(x)
        return np.sum(d * d * np.cos(x))

    def penalty2(x, M):
        d = g(x, M)
        return np.sum(d * d * np.cos(x))

    penalty = penalty1 if len(args) == 1 else penalty2

    got = srcdiff.grad(penalty, jit=jit)(*args)
    want = numerical_grad(penalty, args, 0, eps=1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("jit", BACKENDS)
def test_written_put_is_the_adjoint_of_written(jit):
    """<written(v, idx), w> == <v, written_put(w, v, idx)> with an element named twice, and its tangent."""
    from srcdiff import runtime as rt
    import numba
    rng = np.random.default_rng(0)
    v, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    idx = (slice(None), np.array([2, 0, 2]))
    fw, fp = (numba.njit(lambda a, i: rt.written(a, i)), numba.njit(lambda a, b, i: rt.written_put(a, b, i))) \
        if jit else (rt.written, rt.written_put)
    region = fw(v, idx)
    assert region[:, 0].tolist() == [0.0, 0.0, 0.0]         # column 2 named twice: the second write wins
    np.testing.assert_allclose(np.sum(region * w), np.sum(v * fp(w, v, idx)), rtol=1e-12)
