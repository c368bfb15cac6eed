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
from srcdiff.cuda.fusion import fuse_loops, merge_exits


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


def test_statements_between_move_past_a_loop():
    """A push of a value and of its tangent (fuzz seed 951000's hvp kernel): the second stack's full-tape exit moves
    above the first loop (it guards the second loop's writes: never below), the first counter's increment below the
    second loop, and the two copies fuse."""
    src = ["if s_n >= 16:",
           "    return 1",
           "for cu_j1 in range(2):",
           "    s[s_n * 2 + cu_j1] = x[cu_j1]",
           "s_n += 1",
           "if d_s_n >= 16:",
           "    return 1",
           "for cu_j2 in range(2):",
           "    d_s[d_s_n * 2 + cu_j2] = d_x[cu_j2]",
           "d_s_n += 1"]
    assert fuse_loops(src) == ["if s_n >= 16:", "    return 1",
                               "if d_s_n >= 16:", "    return 1",
                               "for cu_j1 in range(2):",
                               "    s[s_n * 2 + cu_j1] = x[cu_j1]",
                               "    d_s[d_s_n * 2 + cu_j1] = d_x[cu_j1]",
                               "s_n += 1",
                               "d_s_n += 1"]


def test_reductions_of_a_value_and_its_tangent_fuse():
    """np.sum of a value and of its tangent: the second accumulator's start moves above the first loop, the first's
    result below the second."""
    src = ["cu_acc1 = 0.0",
           "for cu_k2 in range(4):",
           "    cu_acc1 += p[cu_k2]",
           "x18 = cu_acc1",
           "cu_acc3 = 0.0",
           "for cu_k4 in range(4):",
           "    cu_acc3 += d_p[cu_k4]",
           "d_x18 = cu_acc3"]
    assert fuse_loops(src) == ["cu_acc1 = 0.0", "cu_acc3 = 0.0",
                               "for cu_k2 in range(4):", "    cu_acc1 += p[cu_k2]", "    cu_acc3 += d_p[cu_k2]",
                               "x18 = cu_acc1", "d_x18 = cu_acc3"]


@pytest.mark.parametrize("between", [
    ["s = x[0]"],                                   # reads what the first loop writes, read by the second
    ["if x[0] > 1.0:", "    return 1"],              # an exit that reads what the first loop writes
    ["u = 2.0 * a[0]", "if u > 1.0:", "    return 1"],  # an exit that must stay below u, which goes below
    ["print(s)"],                                   # a call
    ["if s > 0.0:", "    s = 1.0"],                  # not an exit
])
def test_statements_that_cannot_move_keep_the_loops_apart(between):
    src = ["for cu_j1 in range(3):", "    x[cu_j1] = a[cu_j1]"] + between + \
        ["for cu_j2 in range(3):", "    y[cu_j2] = s * x[cu_j2] * t"]
    assert fuse_loops(src) == src


@pytest.mark.parametrize("index, fused", [("cu_j{} * 4", True), ("3 + -1 * cu_j{}", True), ("2 * cu_j{} + 1", True),
                                          ("cu_j{} // 4", False), ("cu_j{} * 0", False), ("cu_j{} % 2", False)])
def test_affine_indices_fuse(index, fused):
    """An array written by one loop and read by the other at one index that is an affine function of the loop variable
    (`d_v[cu_j * 4]`, a column; `a[3 + -1 * cu_j]`, reversed): each iteration touches its own element."""
    src = ["for cu_j1 in range(2):", f"    x[{index.format(1)}] = a[cu_j1]",
           "for cu_j2 in range(2):", f"    y[cu_j2] = x[{index.format(2)}]"]
    assert loops(fuse_loops(src)) == (1 if fused else 2)


def gathers(a, n):
    s = 0.0
    for k in range(n):
        s += a[k] * a[k - 1]
    return s


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None, reason="numba-cuda is not installed")
def test_computed_indices_count_from_the_end_without_a_branch():
    """`a[k]` of a loop variable counting up from 0 needs no wrap; `a[k - 1]` wraps without a conditional
    expression (its basic blocks are what numba-cuda's liveness analysis walks)."""
    k = srcdiff.cuda.vmap(srcdiff.grad(gathers, wrt="a"), in_axes=(0, None))
    a = np.linspace(0.1, 0.9, 12).reshape(4, 3)
    assert ".target sm_90" in k.ptx(a, 3, cc=(9, 0))
    src = srcdiff.source(k)
    assert " if " not in "".join(s for s in src.splitlines() if "[" in s and "=" in s), src
    assert re.search(r"a\[k\]", src) and re.search(r"\+ 3 \* \(\w+ < 0\)\)\]", src), src


def test_loops_of_another_trip_count_move_too():
    """The copies an SSA merge makes at the end of a branch, one loop per array (d_M of 8 elements, d_a of 4, d_u of 8):
    the loop over d_a moves below, and the loops over d_M and d_u fuse."""
    src = ["for cu_j1 in range(8):", "    d_M[cu_j1] = d_M12[cu_j1]",
           "for cu_j2 in range(4):", "    d_a[cu_j2] = d_a12[cu_j2]",
           "for cu_j3 in range(8):", "    d_u[cu_j3] = d_u7[cu_j3]",
           "for cu_j4 in range(4):", "    d_b[cu_j4] = d_a[cu_j4]"]
    assert fuse_loops(src) == ["for cu_j1 in range(8):", "    d_M[cu_j1] = d_M12[cu_j1]", "    d_u[cu_j1] = d_u7[cu_j1]",
                               "for cu_j2 in range(4):", "    d_a[cu_j2] = d_a12[cu_j2]", "    d_b[cu_j2] = d_a[cu_j2]"]
    src[5] = "    d_u[cu_j3] = d_a[0]"       # reads what the loop between writes: that loop moves above instead
    out = fuse_loops(src)
    assert out[:2] == src[2:4] and out[2:5] == src[:2] + ["    d_u[cu_j1] = d_a[0]"] and loops(out) == 3, out


def test_consecutive_exits_merge():
    """The full-tape exits of a value's stack and its tangent's, gathered above their fused push: one test, the
    comparisons combined without a branch; not an exit with an else, not exits of other statuses."""
    src = ["if s_n >= 16:", "    return 1", "# line 4: d.append(v)", "if d_s_n >= 16:", "    return 1", "s_n += 1"]
    assert merge_exits(src) == ["# line 4: d.append(v)", "if (s_n >= 16) | (d_s_n >= 16):", "    return 1", "s_n += 1"]
    assert merge_exits(src[:5] + ["else:", "    s_n += 1"]) == src[:5] + ["else:", "    s_n += 1"]
    other = src[:4] + ["    return 3"] + src[5:]
    assert merge_exits(other) == other
    flag = ["if full:", "    return 1", "if d_s_n >= 16:", "    return 1"]        # not a comparison
    assert merge_exits(flag) == flag
