"""transforms/resolve.py: every free name resolved: aliases of primitives become their canonical call,
array methods become functions, module constants their values, user functions callees."""
import math

import numpy as np
import pytest
from numpy import exp as e_alias

import srcdiff
from gradcheck import check_grad
from passes import body_source, through

SCALE = 2.5


def helper(u):
    return u * 3.0


def resolved(x, a):
    y = e_alias(x) + np.absolute(x) + abs(x) + math.exp(x) * SCALE
    return y + helper(x) + a.sum() + np.sum(a.T)


def test_names_become_canonical_calls_constants_and_callees():
    unit = through(resolved, "resolve")
    assert body_source(unit.node) == ("y = np.exp(x) + np.abs(x) + np.abs(x) + math.exp(x) * 2.5\n"
                                      "return y + helper(x) + np.sum(a) + np.sum(np.transpose(a))")
    assert list(unit.callees) == ["helper"]


def unknown(x):
    return np.fft.fft(x)


def test_a_library_function_without_a_rule_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="np.fft.fft|numpy.fft.fft"):
        srcdiff.grad(unknown)(np.ones(3))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_of_resolved_names(jit):
    check_grad(resolved, [0.4, np.array([[0.5, 1.0], [2.0, -1.0]])], wrt=(0, 1), jit=jit)


def cast_through_a_name(a):
    t = np.float64                 # as the ANF of a gradient names a cast's dtype (generated code differentiated again)
    m = (a > 0.1).astype(t)
    return np.sum((m * a) ** 2)


def test_a_scalar_type_used_as_a_value_stays_a_numpy_type():
    src = body_source(through(cast_through_a_name, "resolve").node)
    assert "t = np.float64" in src, src          # not the builtin float a call np.float64(x) becomes


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_cast_to_a_named_dtype_and_the_penalty_of_its_gradient(jit):
    # nested fuzz seed 300020: the inner gradient's `a2 = np.float64; rt.astype(a1, a2)` became
    # rt.astype(a1, float) in the outer one, which Numba could not compile (declined under jit)
    a = np.array([0.3, -0.2, 0.5])
    check_grad(cast_through_a_name, [a], wrt=0, jit=jit)

    def h(a):
        g = srcdiff.grad(cast_through_a_name)(a)
        return np.sum(g * g)
    np.testing.assert_allclose(srcdiff.grad(h, jit=jit)(a), [2.4, 0.0, 4.0], rtol=1e-12)   # 8 a where a > 0.1


def where_default(x, a):
    return np.sum(a * x, where=True) + np.mean(np.exp(a), axis=0, where=True) + np.max(a * a, where=True)


def where_mask(x, a):
    return np.sum(a * x, where=a > 0)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_where_true_is_numpy_default(jit):
    """README: an argument a rule does not take is declined unless it is NumPy's default; np.sum declares where=
    with "no value", which means True, so where=True written out is the default (fuzz seed 500521 declined it).
    A mask is still declined."""
    unit = through(where_default, "resolve")
    assert "where" not in body_source(unit.node)
    check_grad(where_default, [0.4, np.array([0.5, -1.0, 2.0])], wrt=(0, 1), jit=jit)
    with pytest.raises(srcdiff.SrcdiffError, match="where= is not supported"):
        srcdiff.grad(where_mask, wrt=(0, 1), jit=jit)(0.4, np.array([0.5, -1.0, 2.0]))


def _activation(z, kind="tanh", slope=0.1):
    if kind == "tanh":
        return np.tanh(z)
    return np.where(z > 0, z, slope * z)


def _dense(x, W, kind="tanh", slope=0.1):
    return _activation(W @ x, kind=kind, slope=slope)


def _nest(x, depth, op="mul"):     # recursive: stays a call, its string argument a constant at each call
    if depth == 0:
        return x
    if op == "mul":
        return _nest(x * 0.9 + 0.1, depth - 1, op) * 1.1
    return _nest(np.sin(x), depth - 1, op) + x


def string_defaults(W, x):
    h = _dense(x, W, kind="leaky", slope=0.2)
    return np.sum(_dense(h, W) ** 2) + np.sum(_nest(x, 2)) + np.sum(_nest(h, 2, op="sin"))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_helper_relying_on_a_string_default(jit):
    """README: your functions may rely on defaults. A helper's string default (an activation's name,
    `kind="tanh"`) was declined ("the default of its parameter 'kind' is a str, not a number or an array")
    where the call left it out, though the same string passed explicitly worked."""
    W = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [-0.2, 0.3, 0.7]])
    check_grad(string_defaults, [W, np.array([0.3, -0.8, 0.5])], wrt=(0, 1), jit=jit)


def with_divmod(x, s):
    out = 0.0
    for i in range(x.shape[0]):
        q, r = divmod(i, 2)                  # integers: no derivative, as `i // 2` and `i % 2`
        out += x[i] * (q + 1) + r * s
    t = divmod(s * 3.0, 0.7)                 # a float: the remainder passes the derivative on, the quotient not
    return out + t[1] * x[0] + t[0] + np.sum(divmod(x * s, 0.4)[1])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_divmod_is_floor_division_and_remainder(jit):
    """divmod(a, b) is (a // b, a % b) (was declined: 'call to builtins.divmod has no differentiation rule',
    though integers flow through and `//` and `%` are handled)."""
    unit = through(with_divmod, "resolve")
    assert "divmod" not in body_source(unit.node)
    check_grad(with_divmod, [np.array([0.5, -0.3, 0.8, 0.1]), 0.45], wrt=(0, 1), jit=jit)
