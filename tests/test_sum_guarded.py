"""sum(...) over a comprehension inside a conditional expression or and/or: lowered to if statements
that compute the sum only on its own path (transforms/comprehension_loops.py, hoist_sums)."""
import warnings

import numpy as np
import pytest

import srcdiff
from scipy.special import logsumexp
from gradcheck import numerical_grad


def in_conditional_expressions(x, a, flag):
    y = sum(np.sin(a[i] * x) for i in range(3)) if flag else x * 2.0
    return y + (sum([v * x for v in a]) if x > 0 else x)


def in_and_or(x, a, flag):
    if flag and sum(a[i] * x for i in range(3)) > 0.1:
        x = x * 3.0
    if (x > 0.5) or sum(v * v * x for v in a) > 1.0:
        x = x * x
    return x * 2.0


def nested_in_a_loop_and_a_lambda(x, a, flag):
    s = 0.0
    for i in range(2):
        s = s + (sum(a[j] * x for j in range(i + 1)) if a[i] > 0 else
                 sum(np.tanh(x * v) for v in a) if flag else 1.0)
    h = lambda u: sum(u * v for v in a) if u > 0 else u
    return s + h(x)


def only_on_its_path(x, a):
    # the sum would divide by zero on the other path: it must not be computed there
    return sum(x / v for v in a) if np.min(np.abs(a)) > 0 else x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [in_conditional_expressions, in_and_or, nested_in_a_loop_and_a_lambda])
@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize("x", [0.7, -0.7])
def test_sum_in_guarded_expressions(f, flag, x, jit):
    args = [x, np.array([0.3, -0.5, 1.1]), flag]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(*args)
    for k, g in zip((0, 1), got):
        np.testing.assert_allclose(g, numerical_grad(f, args, k), rtol=1e-5, atol=1e-6)


def test_sum_computed_only_on_its_path():
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # a division by zero would warn
        dx, da = srcdiff.grad(only_on_its_path, wrt=(0, 1))(0.5, np.array([0.0, 1.0]))
    assert dx == 1.0 and np.all(da == 0.0)


def started_in_guarded_expressions(x, a, flag):
    # sum(terms, start) is start + sum(terms): inside a conditional expression or and/or it was declined ('sum
    # over a comprehension inside a conditional expression', fuzz seed 900143): the guard looked for sums of
    # one argument only
    y = sum((np.sin(v * x) for v in a), 0.5) if flag else x * 2.0
    if x > 0.5 or sum([v * v * x for v in a], start=x) > 1.0:
        y = y * x
    return y + (sum((v * x for v in a), x) if x > 0 else x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize("x", [0.7, -0.7])
def test_sum_with_a_start_in_guarded_expressions(flag, x, jit):
    f = started_in_guarded_expressions
    args = [x, np.array([0.3, -0.5, 1.1]), flag]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(*args)
        val, dot = srcdiff.jvp(f, wrt=0)(*args, 1.0)
    for k, g in zip((0, 1), got):
        np.testing.assert_allclose(g, numerical_grad(f, args, k), rtol=1e-5, atol=1e-6)
    assert val == f(*args)
    np.testing.assert_allclose(dot, got[0], rtol=1e-9)


def in_a_while_condition(x):
    k = 0
    while k < 3 and sum(x * i for i in range(k)) < 2.0:   # <- while
        x = x * 1.5
        k += 1
    return x


def test_sum_in_a_while_condition_is_declined():
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.grad(in_a_while_condition)(0.5)
    assert "while condition" in str(err.value) and "<- while" in str(err.value)


# ---- a sum of arrays over a zip of computed sequences (fuzz seed 796200, jit) --------------------------------------
def sum_over_computed_zip(x, M):
    return np.sum(sum(M[0] * (e7 * 0.5 + e8) for e7, e8 in zip(M[1] * x, M[0])))


def helper_sum_over_enumerated_zip(p0):
    return sum(p0[0] * (e7 * 0.5 + e8) for j6, (e7, e8) in enumerate(zip(logsumexp(p0[:, 0][:, None] + p0, axis=0),
                                                                         p0[0]), 1))


def calls_helper_sum(x, M):
    return np.sum(helper_sum_over_enumerated_zip(M * x))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [sum_over_computed_zip, calls_helper_sum])
def test_a_sum_of_arrays_over_a_zip_of_computed_sequences_starts_from_zeros(f, jit):
    # the first items of `zip(M[1] * x, ...)` (a sequence an expression computes) could not be written down,
    # so the sum started from the float 0.0, which Numba cannot merge with the array terms: declined in the
    # differentiated function, a raw "Cannot unify float64 and array" in a helper. An expression of library
    # functions without effects is written again for the first item, and the sum starts from zeros of its shape
    M = np.array([[0.3, 0.5], [0.2, -0.4]])
    got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(0.3, M)
    np.testing.assert_allclose(got[0], numerical_grad(f, [0.3, M], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got[1], numerical_grad(f, [0.3, M], 1), rtol=1e-6, atol=1e-9)


# ---- a sum over a comprehension in the index of a written element (targeted fuzz 710164) ----------------------------
def sum_in_a_written_index(x, M):
    buf = M * 1.0
    buf[1, sum([M[0] * (j * 0.5) for j in range(2)]) > 0.0] += 0.25 * x
    buf[0, int(sum(1.0 for v in M[1] if v > 0.0)) % 2] = x * x
    return np.sum(buf * buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_sum_in_the_index_of_a_written_element(jit):
    # the index of an assignment's target was not desugared: declined ('a comprehension is differentiated only as
    # the argument of sum(...)')
    M = np.array([[0.3, -0.5, 1.1], [0.2, -0.4, 0.6]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(sum_in_a_written_index, wrt=(0, 1), jit=jit)(0.7, M)
        val, dot = srcdiff.jvp(sum_in_a_written_index, wrt=0)(0.7, M, 1.0)
    for k, g in zip((0, 1), got):
        np.testing.assert_allclose(g, numerical_grad(sum_in_a_written_index, [0.7, M], k), rtol=1e-5, atol=1e-6)
    assert val == sum_in_a_written_index(0.7, M)
    np.testing.assert_allclose(dot, got[0], rtol=1e-9)
