"""srcdiff/cuda/fusion.py: adjacent element loops of device code fused into one.

Each array statement lowered to a loop of its own, and Numba's compile time grows faster than linearly in the
basic blocks of a function: the CUDA fuzzer's 'hangs' on an H100 (seeds 951000, 954003, 954012: past 60 s of
CPU in the oracle process) were numba-cuda compiling the five kernels of one program (the hvp kernel of seed
954012: 203 loops, 725 blocks, 44 s to PTX; after fusion 88 loops, 15 s). These tests count loops, not
seconds."""
import importlib.util
import re

import numpy as np
import pytest

import srcdiff
from srcdiff.cuda.fusion import fuse_loops


def loops(lines):
    return sum(1 for s in lines if re.match(r"^\s*for cu_j\d+ in range", s))


def test_value_and_tangent_fuse():
    src = ["for cu_j1 in range(3):",
           "    x[cu_j1] = math.tanh(a[cu_j1])",
           "for cu_j2 in range(3):",
           "    d_x[cu_j2] = d_a[cu_j2] * (1.0 - x[cu_j2] * x[cu_j2])"]
    assert fuse_loops(src) == ["for cu_j1 in range(3):",
                               "    x[cu_j1] = math.tanh(a[cu_j1])",
                               "    d_x[cu_j1] = d_a[cu_j1] * (1.0 - x[cu_j1] * x[cu_j1])"]


def test_comment_of_the_second_statement_moves_into_the_body():
    src = ["    # line 3: b = np.sin(a)",
           "    for cu_j1 in range(2):",
           "        b[cu_j1] = math.sin(a[cu_j1])",
           "    # line 4: c = b * a",
           "    for cu_j2 in range(2):",
           "        c[cu_j2] = b[cu_j2] * a[cu_j2]"]
    assert fuse_loops(src) == src[:3] + ["        # line 4: c = b * a", "        c[cu_j1] = b[cu_j1] * a[cu_j1]"]


@pytest.mark.parametrize("second", [
    "    y[cu_j2] = x[(2 + -1 * cu_j2)]",          # reads x reversed: element 2 is not written yet
    "    y[cu_j2] = x[0] * a[cu_j2]",               # reads another element of x
    "    a[cu_j2] = 2.0 * y[cu_j2]",                # writes what the first loop reads at other indices
    "    y[cu_j2] = cu_u7",                         # a scalar the first loop assigns
    "    y[cu_j2] = helper(x, cu_j2)",              # a call that may read all of x
])
def test_dependences_across_elements_do_not_fuse(second):
    src = ["for cu_j1 in range(3):",
           "    cu_u7 = a[(cu_j1 + 1) % 3]",
           "    x[cu_j1] = cu_u7 * a[cu_j1]",
           "for cu_j2 in range(3):",
           second]
    assert loops(fuse_loops(src)) == 2


def test_trip_counts_differ_or_statement_between():
    src = ["for cu_j1 in range(3):", "    x[cu_j1] = 1.0", "for cu_j2 in range(6):", "    y[cu_j2] = 2.0"]
    assert fuse_loops(src) == src
    src = ["for cu_j1 in range(3):", "    x[cu_j1] = 1.0", "s = x[0]", "for cu_j2 in range(3):", "    y[cu_j2] = s"]
    assert fuse_loops(src) == src


def test_result_rows_and_nested_loops():
    src = ["for k in range(n):",
           "    for cu_j1 in range(2):",
           "        cu_out[cu_j1, cu_col] = a[cu_j1]",
           "    for cu_j2 in range(2):",
           "        cu_out[2 + cu_j2, cu_col] = cu_out[cu_j2, cu_col] * 2.0"]
    # cu_out is read at [j] and written at [2 + j]: two index forms of one array, not fused
    assert loops(fuse_loops(src)) == 2
    src[4] = "        cu_out[2 + cu_j2, cu_col] = a[cu_j2] * 2.0"
    out = fuse_loops(src)      # written only, in rows 0-1 and 2-3: disjoint
    assert loops(out) == 1 and out[-1] == "        cu_out[2 + cu_j1, cu_col] = a[cu_j1] * 2.0"
    src[4] = "        cu_out[1 + cu_j2, cu_col] = a[cu_j2] * 2.0"
    assert loops(fuse_loops(src)) == 2     # rows 0-1 and 1-2: row 1 would end with the first loop's value


def chain(a):
    b = np.tanh(a)
    c = b * a
    return np.sum(c)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_jvp_kernel_is_one_element_loop():
    """tanh, its tangent, the product and its tangent: four loops before, one now."""
    k = srcdiff.cuda.vmap(srcdiff.jvp(chain, wrt="a"), in_axes=(0, 0))
    a = np.linspace(0.1, 0.9, 12).reshape(4, 3)
    assert ".target sm_90" in k.ptx(a, np.ones((4, 3)), cc=(9, 0))
    src = srcdiff.source(k).splitlines()
    assert loops(src) == 1, "\n".join(src)


def test_array_used_whole_does_not_fuse():
    src = ["for cu_j1 in range(3):", "    x[cu_j1] = a[cu_j1]",
           "for cu_j2 in range(3):", "    y[cu_j2] = x[cu_j2] + max(x[cu_j2], len(x))"]
    assert loops(fuse_loops(src)) == 2


def matrix_chain(M):
    return np.sum(np.tanh(M) * M)


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_whole_matrix_element_is_its_flat_index():
    """Element j of a whole (2, 3) array reads `M[cu_j]`, not `M[(cu_j // 3) * 3 + (cu_j % 3)]`: the same index
    as the array the loop writes, so the loops of consecutive statements over it fuse too."""
    k = srcdiff.cuda.vmap(srcdiff.jvp(matrix_chain, wrt="M"), in_axes=(0, 0))
    M = np.linspace(0.1, 0.9, 24).reshape(4, 2, 3)
    assert ".target sm_90" in k.ptx(M, np.ones((4, 2, 3)), cc=(9, 0))
    src = srcdiff.source(k)
    assert "// 3) * 3 +" not in src and loops(src.splitlines()) == 1, src
