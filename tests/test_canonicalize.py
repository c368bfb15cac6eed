"""transforms/canonicalize.py: canonical forms after name resolution."""
import math

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad
from passes import body_source, through


def reductions(a):
    return np.sum(a, axis=0, keepdims=True) + np.max(a, 1) + np.mean(a, axis=(0, 1))


def test_axis_reductions_are_runtime_calls_one_per_axis():
    assert body_source(through(reductions, "canonicalize").node) == (
        "return rt.expand_dims(rt.sum(a, 0), 0) + rt.max(a, 1) + rt.mean(rt.mean(a, 1), 0)")


def tuple_outputs(a):
    return np.linalg.slogdet(a)[1] + np.sum(np.linalg.eigh(a)[0])


def test_each_output_of_a_tuple_returning_call_is_its_own_primitive():
    src = body_source(through(tuple_outputs, "canonicalize").node)
    assert src.startswith("return rt.logabsdet(a) + np.sum(")
    assert "np.linalg.eigh" not in src


def operators_as_calls(x, y):
    return pow(x, y) + np.negative(x) + math.log(x, y)


def test_operator_functions_are_the_operators():
    assert body_source(through(operators_as_calls, "canonicalize").node) == (
        "return x ** y + -x + math.log(x) / math.log(y)")


def literal_test(x):
    if 0.3 > 1.2:
        x = x * 2.0
    else:
        x = x * 3.0
    return x


def test_a_test_of_literals_is_decided():
    assert body_source(through(literal_test, "canonicalize").node) == "x = x * 3.0\nreturn x"


def tuple_unindexed(a):
    return np.linalg.eigh(a)


def test_a_tuple_returning_call_used_whole_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="returns a tuple of arrays"):
        srcdiff.grad(lambda a: np.sum(tuple_unindexed(a)[0]))(np.eye(2))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_of_canonicalised_calls(jit):
    a = np.array([[2.0, 0.3], [0.3, 1.5]])
    check_grad(lambda a: np.sum(reductions(a)), [a], jit=jit)
    check_grad(lambda a: tuple_outputs(a), [a], jit=jit)
    check_grad(operators_as_calls, [1.7, 2.5], jit=jit)


# ---- moved from test_regressions.py ------------------------------------------------------------------
def builtin_sum_2d(x):
    return np.sum(np.sin(sum(x)))


def test_builtin_sum_of_matrix():
    check_grad(builtin_sum_2d, [np.arange(6.0).reshape(2, 3)])


def literal_empty_loop(x, a):
    for i in range(1, 1):
        if x > 2.0:
            return x
        a = np.sin(a)
    for j in range(2):
        x = x * a[j]
    return x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_literal_empty_loop(jit):
    # fuzz seeds 1400, 20100: Numba pruned the never-run loop, so its tapes had no type and the
    # generated code did not compile
    check_grad(literal_empty_loop, [0.3, np.array([0.5, 1.5])], wrt=(0, 1), jit=jit)


def literal_false_branch(x, a):
    for i in range(2):
        if -1.2 > 0.3:
            if a[0] > 0.5:
                return x
            x = x * a[1]
        x = x + a[0] * x
    return x * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_literal_false_branch(jit):
    # fuzz seed 21900: Numba pruned `if -1.2 > 0.3:`, leaving the branch's tapes without a type
    check_grad(literal_false_branch, [0.3, np.array([0.5, 1.5])], wrt=(0, 1), jit=jit)


def dtw_cost(x, y):
    D = np.full((len(x) + 1, len(y) + 1), 1e10)
    D[0, 0] = 0.0
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            D[i, j] = (x[i - 1] - y[j - 1]) ** 2 + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return D[len(x), len(y)] + max(x[0], 0.5 * x[1], x[2], y[0])


def test_builtin_max_and_min_of_three_or_more_arguments():
    # max(a, b, c) reached the rule rt.max2(x, y) with three arguments: TypeError in the activity pass;
    # it is max([a, b, c]) (ties split equally, as there)
    assert "rt.max2" not in body_source(through(dtw_cost, "canonicalize").node)
    x, y = np.array([0.3, -0.8, 1.1]), np.array([0.1, 0.9])
    check_grad(dtw_cost, [x, y], wrt=(0, 1))
    assert srcdiff.jvp(dtw_cost, wrt=0)(x, y, np.ones(3))[1] == pytest.approx(
        np.sum(srcdiff.grad(dtw_cost, wrt=0)(x, y)))


def max_with_key(x):
    return max(x[0], x[1], key=abs)


def test_builtin_max_with_key_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="key= is not supported"):
        srcdiff.grad(max_with_key)(np.array([0.3, -0.8]))


def measured_and_iterated_ranges(x, n, rev):
    m = range(n - 1, -1, -1)
    order = range(n - 1, -1, -1) if rev else range(n)
    s = 0.0
    for t in order:
        s = s + x[t] * len(m)
    return s


def test_a_range_bound_to_a_name_is_an_array_only_where_something_indexes_it():
    """`order`, iterated (desugar indexes it: `t = order[k]`, which Numba cannot do to a range), becomes
    np.arange; `m`, only measured with len (as the backward loop of a reversed range in generated code, which
    hvp differentiates again), stays a range: the device has no np.arange (test_cuda's stepped_ranges_hvp)."""
    src = body_source(through(measured_and_iterated_ranges, "canonicalize").node)
    assert "m = range(n - 1, -1, -1)" in src, src
    assert "order = np.arange(n - 1, -1, -1) if rev else np.arange(n)" in src, src
