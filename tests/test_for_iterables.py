"""`for` over an array, `enumerate` or `zip` whose body binds the iterated name again (issue 18, fuzz seeds
3238, 5495, 6002, 6032, 6244, 6840, 7916: silently wrong gradients and values).

Python iterates over the object the iterable was when the loop began: after `a = a * e` the loop still
walks the old `a`. desugar lowered `for e in a:` to `for k in range(len(a)): e = a[k]`, reading the
name's current value, so every later item came from the rebound array. Writes in place (`a[i] = ...`,
`a += ...` on an array) are different: Python's iterator sees them, and so must the lowered loop.

Each case is checked against central differences in both backends (grad, and value_and_grad's value
against f), and in the Python backend jvp against vdot(grad, v).
"""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

A = np.array([0.3, -0.7, 1.2])
M = np.array([[0.4, -0.2, 0.9], [-1.1, 0.6, 0.3]])


def rebinds_loop_array(a):
    for e in a:
        a = a * e
    return np.sum(a)


def rebinds_enumerated_array(a):
    s = 0.0
    for i, e in enumerate(a):
        a = np.sin(a) + e * i
        s = s + e * a[i]
    return s + np.sum(a)


def rebinds_first_zipped_array(a):
    for e, r in zip(a, a * 2.0):
        a = 0.5 * a + np.tanh(e * r)
    return np.sum(a * a)


def rebinds_matrix_in_nested_branch(m):
    s = 0.0
    for row in m:
        for j in range(2):
            if row[j] > -2.0:
                m = 0.5 * m + 0.5 * np.tanh(m)
        s = s + np.sum(row * m[0])
    return s + np.sum(m)


def rebinds_by_unpacking(a):
    b = a * 2.0
    for e in a:
        a, b = b * e, a
    return np.sum(a) + np.sum(b * b)


def loop_target_is_the_iterable(m):
    s = 0.0
    for m in m:              # the rows of the argument, one after the other
        s = s + np.sum(m * m[0])
    return s


def writes_loop_array_in_place(a):
    b = a.copy()
    for e in b:
        b[1] = b[1] * e + 1.0    # Python's iterator sees the new b[1] when it reaches it
    return np.sum(b * b)


def adds_to_loop_array_in_place(a):
    b = a * 1.0
    for e in b:
        b += e * e               # in place: each later item already has the earlier additions
    return np.sum(b)


CASES = [(rebinds_loop_array, A), (rebinds_enumerated_array, A), (rebinds_first_zipped_array, A),
         (rebinds_matrix_in_nested_branch, M), (rebinds_by_unpacking, A),
         (writes_loop_array_in_place, A),
         (adds_to_loop_array_in_place, A)]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, x", CASES, ids=[f.__name__ for f, _ in CASES])
def test_loop_walks_the_iterable_it_began_with(f, x, jit):
    expect = numerical_grad(f, [x.copy()], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, g = srcdiff.value_and_grad(f, jit=jit)(x.copy())
        np.testing.assert_allclose(value, f(x.copy()), rtol=1e-12, err_msg="value_and_grad value")
        np.testing.assert_allclose(g, expect, rtol=1e-5, atol=1e-6, err_msg="gradient")
        if not jit:
            v = np.cos(np.arange(x.size) + 1.0).reshape(x.shape)
            y, t = srcdiff.jvp(f)(x.copy(), v)
            np.testing.assert_allclose(y, f(x.copy()), rtol=1e-12, err_msg="jvp value")
            np.testing.assert_allclose(t, np.vdot(expect, v), rtol=1e-5, atol=1e-6, err_msg="jvp tangent")


def test_loop_target_is_the_iterable():
    # the head `m = seq[k]` rebinds the iterated name itself: it used to index the previous row (IndexError).
    # Under jit=True the name changes rank in the loop, which Numba cannot type: a SrcdiffError at the loop.
    x = M.copy()
    expect = numerical_grad(loop_target_is_the_iterable, [x], 0)
    np.testing.assert_allclose(srcdiff.grad(loop_target_is_the_iterable)(x.copy()), expect, rtol=1e-5, atol=1e-6)
    with pytest.raises(srcdiff.SrcdiffError, match="test_for_iterables.py:.*Cannot unify"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            srcdiff.grad(loop_target_is_the_iterable, jit=True)(x.copy())


def seed_3238(x, a, m):
    """Fuzz seed 3238, minimised: the outer loop walks m[1] while the inner loop binds it again."""
    u = m[1]
    for i, e in enumerate(u):
        for j in range(a.shape[0]):
            u = np.sin(u + np.array([e, x, a[(j + 1) % 3]]))
            a = 0.5 * a
    return np.sum(u)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_fuzz_seed_3238_every_argument(jit):
    args = [-1.27, np.array([-0.03, 0.93, 0.83]), np.array([[0.38, 0.65, 0.17], [0.75, -1.05, 0.51]])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(seed_3238, wrt=(0, 1, 2), jit=jit)(args[0], args[1].copy(), args[2].copy())
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(seed_3238, args, k), rtol=1e-5, atol=1e-6,
                                   err_msg=f"d/d arg {k}")
