"""srcdiff.adjoint rules under jit=True: the user's function is compiled with numba.njit for them
(issue 20, item 4)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def softplus(x):
    return np.log1p(np.exp(x))


srcdiff.adjoint(softplus, vjp="g / (1.0 + np.exp(-x))", jvp="dx / (1.0 + np.exp(-x))")


def uses_softplus(x):
    return np.sum(softplus(x) * x)


X = np.array([-1.0, 0.25, 2.0])


@JIT
def test_adjoint_rule_plain_function(jit):
    """A plain (not numba.njit-wrapped) rule function works in both backends, reverse and forward."""
    expect = numerical_grad(uses_softplus, [X], 0)
    np.testing.assert_allclose(srcdiff.grad(uses_softplus, jit=jit)(X), expect, rtol=1e-6)
    v = np.array([0.5, -1.0, 2.0])
    value, dot = srcdiff.jvp(uses_softplus, jit=jit)(X, v)
    assert value == pytest.approx(uses_softplus(X))
    assert dot == pytest.approx(expect @ v, rel=1e-6)


class _Opaque:
    pass


def not_numba(x):
    _Opaque()
    return x * 2.0


srcdiff.adjoint(not_numba, vjp="2.0 * g", jvp="2.0 * dx")


def uses_not_numba(x):
    return np.sum(not_numba(x))  # <- uses_not_numba


def test_adjoint_rule_numba_cannot_compile():
    """jit=True of a rule function Numba cannot compile names that function and its line."""
    assert np.allclose(srcdiff.grad(uses_not_numba)(X), 2.0)
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(uses_not_numba, jit=True)(X)
    msg = str(info.value)
    assert f"test_user_rules.py:{not_numba.__code__.co_firstlineno}" in msg, msg
    assert "registered with srcdiff.adjoint" in msg and "_Opaque" in msg and "jit=False" in msg, msg


# ---- documented Numba limits are declined at the user's line with the README's wording (issue 20, item 5) ----
def sum_of_rows(xs):
    total = sum(xs[i] * 2.0 for i in range(xs.shape[0]))  # <- genexp_arrays
    return np.sum(total * total)


def sum_of_scalars(xs):
    return sum(xs[i, 0] * xs[i, 1] for i in range(xs.shape[0]))


def _line_of(tag):
    import inspect
    lines, first = inspect.getsourcelines(sum_of_rows)
    return first + next(k for k, ln in enumerate(lines) if f"# <- {tag}" in ln)


def test_sum_of_arrays_under_numba():
    """A sum over a generator of arrays compiles under Numba in reverse and forward mode: its start is zeros
    shaped like the first term once the kinds are known (forward mode is specialised to the arguments' kinds
    too); the jvp agrees with the gradient and both with central differences."""
    xs = np.arange(6.0).reshape(3, 2)
    v = np.linspace(-1.0, 1.0, xs.size).reshape(xs.shape)
    expect = numerical_grad(sum_of_rows, [xs], 0)
    np.testing.assert_allclose(srcdiff.grad(sum_of_rows)(xs), expect, rtol=1e-6)
    np.testing.assert_allclose(srcdiff.grad(sum_of_rows, jit=True)(xs), expect, rtol=1e-6)
    for jit in (False, True):
        value, tangent = srcdiff.jvp(sum_of_rows, jit=jit)(xs, v)
        np.testing.assert_allclose(value, sum_of_rows(xs), rtol=1e-12)
        np.testing.assert_allclose(tangent, np.vdot(expect, v), rtol=1e-6)


@JIT
def test_sum_of_scalars_compiles(jit):
    xs = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(srcdiff.grad(sum_of_scalars, jit=jit)(xs), numerical_grad(sum_of_scalars, [xs], 0),
                               rtol=1e-6)
