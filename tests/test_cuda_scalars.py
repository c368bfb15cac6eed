"""srcdiff/cuda/scalars.py: a local array that one element loop alone uses, element by element, is a number.

After fusion a value, its tangent and the temporaries and SSA copies between them share one loop, where such an
array's element is written before it is read in each iteration (fuzz seed 951000's hvp kernel: 96 of 245 local
arrays; 1398 -> 1304 lines)."""
import importlib.util

import numpy as np
import pytest

import srcdiff
from srcdiff.cuda.scalars import scalars

ALLOCS = ["t = cuda.local.array(4, float64)", "y = cuda.local.array(4, float64)"]


def test_temporary_of_one_loop_is_a_number():
    body = ["for cu_j1 in range(4):",
            "    t[cu_j1] = math.sin(x[cu_j1])",
            "    for cu_k2 in range(2):",
            "        s += t[cu_j1] * M[cu_k2 * 4 + cu_j1]",
            "    y[cu_j1] = t[cu_j1] * 2.0",
            "r = y[0]"]
    allocs, out = scalars(ALLOCS, body)
    assert allocs == ALLOCS[1:]
    assert out == ["for cu_j1 in range(4):", "    t = math.sin(x[cu_j1])", "    for cu_k2 in range(2):",
                   "        s += t * M[cu_k2 * 4 + cu_j1]", "    y[cu_j1] = t * 2.0", "r = y[0]"]


@pytest.mark.parametrize("body", [
    ["for cu_j1 in range(4):", "    y[cu_j1] = t[cu_j1]", "    t[cu_j1] = 1.0"],             # read first: carried
    ["for cu_j1 in range(4):", "    if c:", "        t[cu_j1] = 1.0", "    y[cu_j1] = t[cu_j1]"],  # written on a branch
    ["for cu_j1 in range(4):", "    t[cu_j1] = 1.0", "    y[cu_j1] = t[(3 + -1 * cu_j1)]"],   # another element
    ["for cu_j1 in range(4):", "    t[cu_j1] = 1.0", "z = t[0]"],                              # read after the loop
    ["for cu_j1 in range(4):", "    t[cu_j1] = 1.0", "for cu_j2 in range(4):", "    y[cu_j2] = t[cu_j2]"],
    ["for cu_j1 in range(4):", "    t[cu_j1] = t[cu_j1] + 1.0"],                              # reads itself
    ["for cu_j1 in range(4):", "    t[cu_j1] = (x[cu_j1] > 0.0)", "    y[cu_j1] = -t[cu_j1]"],  # a truth value
])
def test_arrays_used_otherwise_stay(body):
    body = body + ["r = y[0]"]
    allocs, out = scalars(ALLOCS, body)
    assert "t = cuda.local.array(4, float64)" in allocs and out == body


def chained(x, M):
    u = np.tanh(x) * x
    v = u * u + np.sin(u)
    return np.sum(v * M[0]) + np.sum(M * M)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_hvp_kernel_keeps_fewer_arrays():
    from unittest import mock
    x, M = np.linspace(0.1, 0.9, 12).reshape(4, 3), np.ones((2, 3))
    args = (x, M, (np.ones((4, 3)), np.ones((2, 3))))

    def arrays():
        k = srcdiff.cuda.vmap(srcdiff.hvp(chained, wrt=(0, 1)), in_axes=(0, None, (0, None)))
        assert ".target sm_90" in k.ptx(*args, cc=(9, 0))
        return srcdiff.source(k).count("cuda.local.array")
    with mock.patch("srcdiff.cuda.function.scalars", lambda allocs, body, exclude: (allocs, body)):
        before = arrays()
    assert arrays() < before - 5
