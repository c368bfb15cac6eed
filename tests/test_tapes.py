"""Loop tapes take the dtype of what they store: integer values (trip counts, indices) on int64 tapes."""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def zip_in_range(x, a, n):
    for i in range(n):
        for e, d in zip(a, a[1:]):      # trip count min(len(a), len(a) - 1), kept per outer iteration
            x = np.sin(x) * e + d
    return x


def min_max_of_ints(x, a, n):
    s = 0.0
    for i in range(n):
        m = max(i, 1)                   # builtin max/min of ints: an int (a range bound below)
        for k in range(min(m, a.shape[0])):
            s = s + np.tanh(x * a[k]) * m
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [zip_in_range, min_max_of_ints])
def test_integer_trip_counts_on_integer_tapes(f, jit):
    args = [0.7, np.array([0.3, -0.5, 1.1]), 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
        got = g(*args)
    for k, v in zip((0, 1), got):
        np.testing.assert_allclose(v, numerical_grad(f, args, k), rtol=1e-5, atol=1e-6)
    src = srcdiff.source(g)
    assert "np.empty(" in src and "np.int64" in src, src   # the trip count is on an integer tape
