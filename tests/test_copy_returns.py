"""transforms/copy_returns.py and DictForms.copied_keys: a function of yours returning a copy of its dict parameter at
once (`return dict(p, W=W2)`, `return {**p, "b": v}`, `return p.copy()`, `return copy.copy(p)`, in a nested def and
a loop too) is differentiated as the same copy bound to a name first; before (h28b), declined as 'a dict argument
used as a whole value', 'not a dict display of the same string keys on every path' or 'a dict passed whole to a
function that is not one of yours'. And an array's copy returned by a helper (`q = x.copy(); return q`, `return
x.copy()`) is an array again: it was declined as 'returns a copy of its parameter, passed here something srcdiff
does not know the keys of'. Checked against central differences, Python == Numba, jvp == vjp."""
import copy

import numpy as np
import pytest

from gradcheck import check_value_grad_jvp

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def r_dot_copy(p):
    return p.copy()


def r_copy_copy(p):
    return copy.copy(p)


def r_spread(p, v):
    return {**p, "b": p["b"] + v}


def r_kw(p, W2):
    return dict(p, W=W2)


def r_array(x):
    return x.copy()


def r_array_bound(x):
    q = x.copy()
    return q


def dot_copy(W, b, x):
    p = {"W": W, "b": b}
    q = r_dot_copy(p)
    return np.sum(q["W"] * q["b"] * x)


def copy_copy(W, b, x):
    p = {"W": W, "b": b}
    q = r_copy_copy(p)
    return np.sum(q["W"] * q["b"] * x)


def spread_in_a_loop(W, b, x):
    p = {"W": W, "b": b}
    tot = 0.0
    for i in range(3):
        r = r_spread(p, x * i)
        tot = tot + np.sum(r["W"] * r["b"] ** 2)
    return tot


def keyword_copy(W, b, x):
    p = {"W": W, "b": b}
    r = r_kw(p, W * x)
    return np.sum(r["W"] * r["b"] ** 2) + np.sum(r_kw(p, b)["W"])


def nested_def(W, b, x):
    def upd(d):
        return {**d, "W": d["W"] * np.cos(x)}
    p = {"W": W, "b": b}
    r = upd(p)
    s = upd(r)
    return np.sum(s["W"] * r["b"]) + np.sum(p["W"])


def array_copy(W, b, x):
    y = r_array(W)
    y[0] = y[0] * b[1]
    return np.sum(y * x) + np.sum(r_array_bound(b) * W)


W0, B0, X0 = np.array([0.3, -0.5, 1.1]), np.array([0.7, 0.2, -0.4]), np.array([1.0, 2.0, -0.5])
TANGENTS = (np.array([0.5, -1.0, 0.3]), np.array([0.25, 2.0, -1.0]))


@JIT
@pytest.mark.parametrize("f", [dot_copy, copy_copy, spread_in_a_loop, keyword_copy, nested_def, array_copy])
def test_a_copy_returned_at_once(f, jit):
    check_value_grad_jvp(f, (W0.copy(), B0.copy(), X0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)


def copied_array(x):
    q = x.copy()
    return q


def copied_dict(p):
    return dict(p, W=p["W"] * 2.0)


@JIT
def test_the_function_differentiated_returning_an_array_copy(jit):
    """`q = x.copy(); return q` of an array argument: was declined as 'the function you differentiate returns a
    dict'."""
    import srcdiff
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(srcdiff.jacobian(copied_array, jit=jit)(x), np.eye(3), rtol=1e-12)
    _, t = srcdiff.jvp(copied_array, jit=jit)(x, np.ones(3))
    np.testing.assert_allclose(t, np.ones(3), rtol=1e-12)


def test_the_function_differentiated_returning_a_dict_copy_at_once_is_declined():
    """Its message names the dict returned (was 'a dict argument used as a whole value' for jvp)."""
    import srcdiff
    with pytest.raises(srcdiff.SrcdiffError, match="the function you differentiate returns a dict") as e:
        srcdiff.jvp(copied_dict)({"W": np.ones(2)}, {"W": np.ones(2)})
    assert "test_copy_returns.py" in str(e.value)
