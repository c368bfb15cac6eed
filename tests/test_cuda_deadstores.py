"""srcdiff/cuda/deadstores.py: stores into local arrays that nothing reads go from device code.

srcdiff.hvp keeps only H·v of forward mode over the gradient: the gradient's own adjoint arrays, the stacks they
were pushed onto and the copies SSA merges made of them were stored and never read (fuzz seed 951000's hvp kernel:
16 such arrays, their loops and their stacks' counters; 424 -> 396 Numba IR blocks, which numba-cuda's compile
time grows with faster than linearly)."""
import importlib.util
import re

import numpy as np
import pytest

import srcdiff
from srcdiff.cuda.deadstores import drop_dead_stores


def test_dead_chain_loops_comments_and_counters_go():
    allocs = ["a = cuda.local.array(4, float64)", "b = cuda.local.array(4, float64)",
              "s = cuda.local.array(64, float64)", "keep = cuda.local.array(4, float64)"]
    body = ["s_n = 0",
            "# line 3: a = x * 2",
            "for cu_j1 in range(4):",
            "    a[cu_j1] = x[cu_j1] * 2.0",
            "    keep[cu_j1] = x[cu_j1]",
            "# line 4: s.append(a)",
            "if s_n >= 16:",
            "    return 1",
            "for cu_j2 in range(4):",
            "    s[s_n * 4 + cu_j2] = a[cu_j2]",
            "s_n += 1",
            "# line 5: b = s.pop()",
            "s_n -= 1",
            "for cu_j3 in range(4):",
            "    b[cu_j3] = s[s_n * 4 + cu_j3]",
            "    b[cu_j3] += math.sin(b[cu_j3])",
            "# line 6: return keep[0]",
            "cu_out[0, cu_col] = keep[0]"]
    kept_allocs, kept = drop_dead_stores(allocs, body)
    assert kept_allocs == ["keep = cuda.local.array(4, float64)"]
    assert kept == ["# line 3: a = x * 2", "for cu_j1 in range(4):", "    keep[cu_j1] = x[cu_j1]",
                    "# line 6: return keep[0]", "cu_out[0, cu_col] = keep[0]"]


@pytest.mark.parametrize("reader", [
    "if a[0] > 1.0:",            # read in a test
    "r = helper(a)",             # passed whole
    "t = a",                     # a second name
    "c[0] = g(a[0])",            # read by a store that calls something else
])
def test_arrays_read_otherwise_stay(reader):
    allocs = ["a = cuda.local.array(4, float64)", "c = cuda.local.array(4, float64)"]
    body = ["for cu_j1 in range(4):", "    a[cu_j1] = 1.0", reader] + (["    r = 0.0"] if reader.endswith(":") else [])
    _, kept = drop_dead_stores(allocs, body)
    assert kept[:2] == body[:2]


def test_a_branch_left_empty_gets_pass():
    allocs = ["a = cuda.local.array(4, float64)"]
    body = ["if flag:", "    a[0] = 1.0", "else:", "    y = 2.0"]
    assert drop_dead_stores(allocs, body)[1] == ["if flag:", "    pass", "else:", "    y = 2.0"]


def loop_hvp(x, n):
    s = 0.0
    v = np.sin(x)
    for i in range(n):
        v = np.tanh(v * x) + 0.5 * v
        s = s + np.sum(v * v)
    return s


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_hvp_kernel_reads_every_local_array():
    """Every local array of the hvp kernel is read somewhere other than by a store into an element of itself."""
    k = srcdiff.cuda.vmap(srcdiff.hvp(loop_hvp, wrt=0), in_axes=(0, None, 0))
    x = np.linspace(0.1, 0.9, 12).reshape(4, 3)
    assert ".target sm_90" in k.ptx(x, 3, np.ones((4, 3)), cc=(9, 0))
    src = srcdiff.source(k)
    lines = src.splitlines()
    for name in re.findall(r"^\s*(\w+) = cuda\.local\.array", src, re.M):
        reads = [s for s in lines if re.search(rf"\b{name}\b", s) and not re.match(rf"\s*{name}( = cuda|\[.*\] \+?= )", s)]
        assert reads, f"{name} is never read\n{src}"
