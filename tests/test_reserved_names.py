"""A name of the user's that the generated module needs for itself (srcdiff/transforms/reserved_names.py): `rt`,
`np`, `math`, `numba` and builtins the generated code calls (`len`, `range`, `max`, ...) bound by the user's function
(a local, a loop target, a parameter, in a helper or a nested def) are renamed `rt_` where they denote the user's
variable, and stay the modules where the function reads the modules. Before: `rt = x * 2.0` made the Python
backend's gradient raise AttributeError from srcdiff's own code ('numpy.float64' object has no attribute
'sum_grad') and jit=True a Numba typing error; `len = a.shape[0]` a Numba typing error; `range = total * 2.0` after
a loop over an array a decline of a call the user never wrote ('cannot call the local value range')."""
import numpy as np
import pytest

import srcdiff
from gradcheck import exported, numerical_grad, source_module

PROGRAMS = '''import math
import numpy as np


def local_rt(x, a):
    rt = x * 2.0
    result = np.sum(a) * rt
    return result * 3.0 + math.exp(0.1 * x)


def param_rt(x, rt):
    return np.sum(np.exp(-rt * x)) + math.log1p(np.sum(rt * rt)) + math.exp(0.1 * x)


def helper(v):
    rt = np.tanh(v)
    return np.sum(rt * rt)


def calls_helper(x, a):
    return helper(a * x) + math.exp(0.1 * x)


def nested_reads(x, a):
    math = x * 0.5

    def inner(v):
        return np.sum(v * math)
    return inner(a) + np.exp(x)


def nested_binds(x, a):
    def inner(v):
        math = np.sin(v) * 0.5
        return np.sum(math)
    return inner(a) + math.exp(x)


def loop_target(x, a):
    s = 0.0
    for rt in a:
        s = s + np.sin(rt * x) + math.cos(s)
    return s


def builtin_locals(x, a):
    len = a.shape[0]
    abs = np.abs(x)
    s = 0.0
    for i in range(len):
        s = s + a[i] * abs
    max = np.max(a * x)
    return s + max


def range_after_loop(x, a):
    total = 0.0
    for v in a:
        if v > 0:
            total = total + v * x
        else:
            total = total - np.sin(v * x)
    range = total * 2.0
    return range


def written_through_rt(x, a):
    rt = a
    y = x * rt[0]
    a[0] = x
    return y + x * rt[0]


def comprehension_variables(x, a):
    rt = x * 2.0
    return np.sum(np.array([v * rt for v in a])) + np.sum(np.array([rt * x for rt in a])) + sum(
        np.cos(len * x) for len in a)


def tuple_param(x, rt):
    w, b = rt
    return np.sum(np.tanh(w * x + b)) + math.exp(0.1 * x)
'''

M = source_module("reserved_names_programs", PROGRAMS)
X, A = 0.7, np.array([0.5, -1.0, 2.0])


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name", ["local_rt", "param_rt", "calls_helper", "nested_reads", "nested_binds",
                                  "loop_target", "builtin_locals", "range_after_loop",
                                  "comprehension_variables"])
def test_gradient_of_a_function_binding_a_reserved_name(name, jit):
    f = getattr(M, name)
    gx, ga = srcdiff.grad(f, wrt=(0, 1), jit=jit)(X, A)
    assert gx == pytest.approx(numerical_grad(f, [X, A], 0), rel=1e-6)
    np.testing.assert_allclose(ga, numerical_grad(f, [X, A], 1), rtol=1e-6, atol=1e-9)
    value, tangent = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(X, A, (1.0, np.ones(3)))
    assert value == pytest.approx(f(X, A))
    assert tangent == pytest.approx(gx + np.sum(ga), rel=1e-6)


def test_a_parameter_named_rt_by_name_keyword_and_in_the_source():
    g = srcdiff.grad(M.param_rt, wrt="rt")
    expect = numerical_grad(M.param_rt, [X, A], 1)
    np.testing.assert_allclose(g(X, A), expect, rtol=1e-6)
    np.testing.assert_allclose(g(X, rt=A), expect, rtol=1e-6)
    src = srcdiff.source(g)
    assert "def param_rt_grad(x, rt_):" in src and "from srcdiff import runtime as rt" in src


def test_a_tuple_parameter_named_rt(tmp_path):
    p = (np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.0, -0.4]))
    g = srcdiff.grad(M.tuple_param, wrt="rt")
    gw, gb = g(X, p)
    for k, got in enumerate((gw, gb)):
        def at(v, k=k):
            q = list(p)
            q[k] = v
            return M.tuple_param(X, tuple(q))
        np.testing.assert_allclose(got, numerical_grad(at, [p[k]], 0), rtol=1e-6, atol=1e-9)
    mod, _ = exported(g, tmp_path, "reserved_tuple")
    np.testing.assert_allclose(mod.tuple_param_grad(X, p)[0], gw)


def test_a_decline_names_the_users_spelling():
    """The decline of a read through `rt` after a write into the memory it shares names `rt`, not `rt_`."""
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(M.written_through_rt)(X, A.copy())
    msg = str(e.value)
    assert "`rt` shares memory with `a`" in msg and "rt_" not in msg, msg
