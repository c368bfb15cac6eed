"""transforms/closures.py: a nested function's default that names an array, `def g(v, w=buf)`, is that array at
every call where the name is bound once (or not at all in the function: a module-level or closure value), so the
calls pass the name itself and a write `buf[0] = x` before a call is seen by it, as in Python. It was bound to a
name of srcdiff's own where the def runs, `g_w = buf`: a write before a call was declined naming `g_w`, a name the
user never wrote, and a second call after the write merged with the first (value and d/dx 0.0 for 2.25 and 3.0,
silently: transforms/optimize/cse.py, h23c). Where the name is bound again the default stays a second name of the
array, and the decline names the parameter, its function and the array as the user wrote them."""
import inspect
import sys

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def written_then_called(x):
    buf = np.zeros(3)

    def g(v, w=buf):
        return v * w[0] + w[1]
    buf[0] = x
    return g(x)


def called_written_called(x):
    buf = np.zeros(3)

    def g(v, w=buf):
        return v * w[0] + w[1]
    y = g(x)
    buf[0] = x
    return y + g(x)


def lambda_default_summed(x, a):
    buf = a * x
    h = lambda v, w=buf: v * np.sum(w * w)     # noqa: E731
    buf[0] = 2.0
    return h(x) + h(x, a)


def default_of_an_argument_written_by_the_helper(x, buf):
    def g(v, w=buf):
        w[1] = v * v
        return v * w[0]
    buf[0] = x
    return g(x) + buf[1]


CASES = [(written_then_called, (1.5,)), (called_written_called, (1.5,)),
         (lambda_default_summed, (0.7, np.array([0.3, -1.2, 0.5]))),
         (default_of_an_argument_written_by_the_helper, (0.7, np.array([0.3, -1.2, 0.5])))]


@JIT
@pytest.mark.parametrize("f, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_a_default_naming_an_array_bound_once_sees_writes_before_the_call(f, args, jit):
    wrt = tuple(range(len(args)))
    value, grads = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*[np.copy(a) for a in args])
    assert np.isclose(value, f(*[np.copy(a) for a in args]))    # (declined naming g_w, or 0.0 for 2.25 and 3.0)
    for k, g in enumerate(grads):       # (copies: f writes into its argument `buf`, as the gradient does)
        expected = numerical_grad(lambda *v: f(*[np.copy(a) for a in v]), list(args), k)
        np.testing.assert_allclose(g, expected, rtol=1e-6, atol=1e-6)
    python = srcdiff.grad(f, wrt=wrt)(*[np.copy(a) for a in args])
    for a, b in zip(grads, python):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    tangents = [np.full(np.shape(a), 0.5) if np.ndim(a) else 0.5 for a in args]
    _, directional = srcdiff.jvp(f, wrt=wrt)(*[np.copy(a) for a in args], tuple(tangents))
    assert np.isclose(directional, sum(np.sum(g * t) for g, t in zip(grads, tangents)))


def bound_again(x):
    buf = np.zeros(3)

    def g(v, w=buf):
        return v * w[0] + w[1]
    buf[0] = x   # <- bound_again
    y = g(x)
    buf = np.ones(3)
    return y + buf[0] * g(x)


@JIT
def test_a_default_whose_name_is_bound_again_is_declined_in_the_users_names(jit):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(bound_again, jit=jit)(1.5)
    msg = str(info.value)
    src, _ = inspect.getsourcelines(sys.modules[__name__])
    line = next(i for i, t in enumerate(src, 1) if "# <- bound_again" in t)
    assert f"test_default_arrays.py:{line}" in msg, msg
    assert "`w`, the default of `g`'s parameter" in msg and "`buf` is bound again" in msg, msg
    assert "g(..., w=buf)" in msg and "w=buf.copy()" in msg, msg
    assert "g_w" not in msg, msg


MODULE_BUF = np.zeros(3)


def writes_a_module_array(x):
    def g(v, w=MODULE_BUF):
        return v * w[0]
    MODULE_BUF[0] = x   # <- writes_a_module_array
    return g(x)


def test_a_write_into_a_module_array_named_by_a_default_is_declined_as_such():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(writes_a_module_array)(1.5)
    msg = str(info.value)
    assert "module-level array MODULE_BUF" in msg and "g_w" not in msg, msg
    assert np.all(MODULE_BUF == 0.0)
