"""Loops over `zip` or `enumerate` of tuple literals of arrays (`for W, c in zip((W1, W2), (0.5, 2.0))`,
`for i, W in enumerate((W1, W2))`, `zip(reversed((W1, W2)), ...)`): README "What it handles" promises loops over tuple
literals of arrays (unrolled: the items may differ in shape), `reversed` of a tuple literal also in `zip` and
`enumerate`, and loops over `zip` of tuple arguments and tuple literals. A zip or enumerate whose sequences are all
literals was lowered to a range loop reading the tuple at its counter and declined ('a tuple of differentiated values
is indexed by a variable'), found by programs written by hand (h23a); desugar (iterable_loops._zipped_literals) now
makes it a literal of the items' tuples and unrolls it. Each case against central differences in both backends, the
backends against each other, and jvp against vdot(grad, v).
"""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

M = np.array([[0.2, -0.5, 0.9], [0.4, 0.3, -0.7], [-0.2, 0.8, 0.5]])
A = np.array([0.3, -0.6, 1.1])


def zip_of_literals(W1, W2, x):
    h = x
    for W, s in zip((W1, W2), (x[0], 2.0 * x[1])):
        h = np.tanh(W @ h) * s
    return np.sum(h)


def enumerate_of_a_literal(W1, W2, x):
    h = x
    for i, W in enumerate((W1, W2), start=1):
        h = np.tanh(W @ h) * i
    return np.sum(h)


def zip_of_a_reversed_literal(W1, W2, x):
    h = x
    for W, s in zip(reversed((W1, W2)), (0.5, 2.0)):
        h = np.tanh(W @ h) * s
    return np.sum(h)


def zip_of_shapes_that_differ(W1, W2, x):
    h = x
    for W, b in zip((W1, W2[:2]), (x, x[:2])):
        h = np.tanh(W @ x + b)
    return np.sum(h * h)


def zip_of_a_named_literal_read_by_the_body(W1, W2, x):
    layers = (W1, W2)
    h = x
    for k, (W, c) in enumerate(zip(layers, (h[0], h[1])), 1):
        h = np.tanh(W @ h) * c + k
    return np.sum(h)


CASES = [zip_of_literals, enumerate_of_a_literal, zip_of_a_reversed_literal, zip_of_shapes_that_differ,
         zip_of_a_named_literal_read_by_the_body]


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_zip_and_enumerate_of_tuple_literals(f, jit):
    args = (M, M * 0.7 + 0.1, A)
    got = srcdiff.grad(f, wrt=(0, 1, 2), jit=jit)(*args)
    for k in range(3):
        np.testing.assert_allclose(got[k], numerical_grad(f, args, k), rtol=1e-5, atol=1e-7)
    other = srcdiff.grad(f, wrt=(0, 1, 2), jit=not jit)(*args)
    for g, o in zip(got, other):
        np.testing.assert_allclose(g, o, rtol=1e-12, atol=1e-14)
    t = tuple(np.random.default_rng(3).normal(size=a.shape) for a in args)
    value, d = srcdiff.jvp(f, wrt=(0, 1, 2), jit=jit)(*args, t)
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert d == pytest.approx(sum(np.vdot(g, v) for g, v in zip(got, t)), rel=1e-9)
