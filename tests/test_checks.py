"""transforms/checks.py: what would be silently wrong, or would not compile under Numba, is declined at
the user's line with advice."""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad


def inverse_of_stack(a):
    return np.sum(np.linalg.inv(a))


def repeated_list(x):
    v = [x] * 3
    return np.sum(np.array(v))


def squeezed(x):
    return np.sum(np.squeeze(x) ** 2)


def stacked_matmul(a, b):
    return np.sum(a @ b)


def dot_of_a_stack(a, M):
    return np.sum(np.dot(np.stack((M, M * a)), M))


def _scale_of(c):
    return np.tanh(c) * np.ones((2, 2))


def stacked_then_rebound(a, M):
    """`w` read by a product of a stack, then bound again to a user function's result, whose kind the check
    did not know: `w` had no kind at either read and the product reached Numba (raw 'No implementation of
    function dot', fuzz seed 231)."""
    w = M * a
    s = (np.stack((M, w)) @ M)[1]
    w = _scale_of(a[0])
    return np.sum(s * s) + np.sum(w)


def _weighted(p, s):
    t = s
    for k, v in p.items():
        t = t + (0.5 if k == "x" else 0.1) * np.sum(np.tanh(v))
    return t


def product_of_a_name_bound_again(p, M):
    """As stacked_then_rebound with 2-d operands, the helper taking a dict whole: the check reads the unit in SSA
    with its calls inlined as the derivative does (a call's kind from the helper's own unit failed: '.items() is
    not supported', the dict's keys unknown there)."""
    w = M * p["a"]
    s = w @ M
    w = _weighted(p, 0.3) * np.ones((2, 2))
    return np.sum(s * s) + np.sum(w @ M)


def _declined(f, args, jit, *words):
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.grad(f, jit=jit)(*args)
    text = str(err.value)
    assert f"{__file__}:" in text and all(w in text for w in words), text
    return text


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_linear_algebra_of_a_stack_of_matrices_is_declined(jit):
    a = np.tile(np.eye(2) * 2.0, (3, 1, 1))
    _declined(inverse_of_stack, [a], jit, "np.linalg.inv of a stack of matrices", "loop over the stack")
    np.testing.assert_allclose(srcdiff.grad(inverse_of_stack, jit=jit)(np.eye(2) * 2.0), -0.25 * np.ones((2, 2)))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_list_arithmetic_of_differentiated_values_is_declined(jit):
    _declined(repeated_list, [0.5], jit, "repeated or joined", "np.full(n, a)")


def test_numba_only_limits_are_declined_under_jit_only():
    x = np.array([[0.5], [1.5]])
    _declined(squeezed, [x], True, "np.squeeze without axis=", "axis=")
    np.testing.assert_allclose(srcdiff.grad(squeezed)(x), 2 * x)
    a, b = np.ones((2, 2, 2)), np.ones((2, 2, 2))
    _declined(stacked_matmul, [a, b], True, "a matrix product with an operand of rank 3")
    np.testing.assert_allclose(srcdiff.grad(stacked_matmul)(a, b), np.full((2, 2, 2), 2.0))


def test_a_stacked_product_of_a_name_bound_again_is_declined_under_jit():
    a, M = np.array([0.3, -0.5]), np.array([[0.5, -0.3], [0.1, 0.9]])
    check_grad(stacked_then_rebound, [a, M])
    text = _declined(stacked_then_rebound, [a, M], True, "a matrix product with an operand of rank 3", "jit=False")
    import inspect
    lines, first = inspect.getsourcelines(stacked_then_rebound)
    line = first + next(i for i, t in enumerate(lines) if "@ M" in t)
    assert f"{__file__}:{line}:" in text, text


def test_a_product_of_a_name_bound_again_to_a_helper_taking_a_dict_compiles():
    p, M = {"x": 0.4, "a": np.array([0.3, -0.5])}, np.array([[0.5, -0.3], [0.1, 0.9]])
    want = srcdiff.grad(product_of_a_name_bound_again, wrt=(0, 1))(p, M)
    got = srcdiff.grad(product_of_a_name_bound_again, wrt=(0, 1), jit=True)(p, M)
    for k in p:
        np.testing.assert_allclose(got[0][k], want[0][k], rtol=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10)
    plain = lambda a, M: product_of_a_name_bound_again({"x": 0.4, "a": a}, M)   # noqa: E731
    np.testing.assert_allclose(got[0]["a"], numerical_grad(plain, [p["a"], M], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], numerical_grad(plain, [p["a"], M], 1), rtol=1e-5, atol=1e-6)


def test_np_dot_of_a_stack_is_declined_under_jit():
    """(Numba's np.dot takes 1-d and 2-d operands: it reached Numba, 'No implementation of function dot')"""
    a, M = np.array([0.3, -0.5]), np.array([[0.5, -0.3], [0.1, 0.9]])
    check_grad(dot_of_a_stack, [a, M])
    _declined(dot_of_a_stack, [a, M], True, "a matrix product with an operand of rank 3", "np.dot take 1-d and 2-d")
