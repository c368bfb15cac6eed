"""The variables flatten gives the items of structures (srcdiff/transforms/flatten.py: an argument p's item p[0]
becomes the parameter p_0, a dict made in the function `q = dict(W=..., b=...)` the variables q_0, q_1) never take
the place of a variable of the user's spelled the same: such a local is renamed (`p_0v1` in the source shown), and a
parameter or a module-level name so spelled is declined naming it. Before, the local and the item were one variable:
d/dp[0] 0 for 2x, d/dx 10 for 7 (both backends, grad and jvp)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad, source_module

PROGRAMS = '''from collections import namedtuple
import numpy as np

S = namedtuple("S", ["u", "v"])
p_1 = 3.0


def argument_item(p, x):
    p_0 = x * 2.0
    return np.sum(p[0] * p_0) + np.sum(p[1] ** 2)


def dict_argument_item(p, x):
    p_0 = x * 2.0
    return np.sum(p["W"] * p_0) + np.sum(p["b"] ** 2)


def namedtuple_argument_item(p, x):
    p_1 = x + 0.5
    return np.sum(p.u * p_1) + np.sum(p.v ** 2)


def made_dict(x):
    q = dict(W=x * 2.0, b=x + 1.0)
    q_0 = x * 3.0
    return np.sum(q["W"] * q_0) + np.sum(q["b"])


def made_display(x):
    q = {"W": x * 2.0, "b": x + 1.0}
    q_1 = x * 3.0
    return np.sum(q["W"] * q_1) + np.sum(q["b"] * q_1)


def made_namedtuple(x):
    s = S(u=x * 2.0, v=x + 1.0)
    s_0 = x * 3.0
    return np.sum(s.u * s_0) + np.sum(s.v)


def helper(p, x):
    p_0 = x * 2.0
    return np.sum(p[0] * p_0) + np.sum(p[1] ** 2)


def calls_helper(a, b, x):
    return helper((a, b), x)


def parameter_spelled_as_item(p, p_0):
    return np.sum(p[0] * p_0) + np.sum(p[1])


def global_spelled_as_item(p):
    return np.sum(p[0] * p_1) + np.sum(p[1])
'''

M = source_module("item_names_programs", PROGRAMS)
X = np.array([0.5, 1.5, 2.5])
A, B = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7])


def _fd_x(f, *before):
    return numerical_grad(lambda x: f(*before, x), [X], 0)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name", ["made_dict", "made_display", "made_namedtuple"])
def test_a_local_spelled_as_an_item_of_a_made_structure(name, jit):
    f = getattr(M, name)
    g = srcdiff.grad(f, jit=jit)(X)
    np.testing.assert_allclose(g, _fd_x(f), rtol=1e-6)
    value, tangent = srcdiff.jvp(f, jit=jit)(X, np.ones(3))
    assert value == pytest.approx(f(X))
    assert tangent == pytest.approx(np.sum(g))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, p", [("argument_item", (A, B)), ("dict_argument_item", {"W": A, "b": B}),
                                     ("namedtuple_argument_item", M.S(A, B))])
def test_a_local_spelled_as_an_item_of_an_argument(name, p, jit):
    f = getattr(M, name)
    g = srcdiff.grad(f, wrt=("p", "x"), jit=jit)
    gp, gx = g(p, X)
    leaves = list(p.values()) if isinstance(p, dict) else list(p)
    got = list(gp.values()) if isinstance(gp, dict) else list(gp)
    for k, leaf in enumerate(leaves):
        def at(v, k=k):
            items = leaves[:k] + [v] + leaves[k + 1:]
            rebuilt = dict(zip(p, items)) if isinstance(p, dict) else type(p)(*items) if hasattr(p, "_fields") \
                else tuple(items)
            return f(rebuilt, X)
        np.testing.assert_allclose(got[k], numerical_grad(at, [leaf], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gx, _fd_x(f, p), rtol=1e-6)
    assert ("p_1v1 = " if name.startswith("namedtuple") else "p_0v1 = ") in srcdiff.source(g)   # the local, renamed


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_helpers_local_spelled_as_an_item_of_its_tuple_argument(jit):
    ga, gx = srcdiff.grad(M.calls_helper, wrt=("a", "x"), jit=jit)(A, B, X)
    np.testing.assert_allclose(ga, 2.0 * X)
    np.testing.assert_allclose(gx, 2.0 * A)


@pytest.mark.parametrize("name, spelled", [("parameter_spelled_as_item", "`p_0` is a parameter"),
                                           ("global_spelled_as_item", "`p_1` is a name from outside the function")])
def test_a_parameter_or_global_spelled_as_an_item_is_declined(name, spelled):
    f = getattr(M, name)
    args = ((A, B), X) if name == "parameter_spelled_as_item" else ((A, B),)
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(f, wrt="p")(*args)
    msg = str(e.value)
    assert spelled in msg and "item_names_programs.py:" in msg and "rename" in msg, msg
    assert ("the item p[0] of your argument" if "parameter" in name else "the item p[1] of your argument") in msg


def test_no_local_is_renamed_without_a_clash():
    """x_0 beside x (a common name for a start value) stays x_0: only items' spellings are renamed."""
    src = PROGRAMS + '''

def start_value(p, x):
    x_0 = x * 1.0
    return np.sum(p[0] * x_0) + np.sum(p[1])
'''
    f = source_module("item_names_no_clash", src).start_value
    g = srcdiff.grad(f, wrt="p")
    g((A, B), X)
    assert "x_0 = " in srcdiff.source(g)


def test_a_decline_names_the_renamed_local_as_the_user_wrote_it():
    """The renamed local (p_0v1 in the code) is `p_0` in a decline's message."""
    src = PROGRAMS + '''

def written(p, x):
    p_0 = x
    y = np.sum(p[0]) * p_0[0]
    x[0] = 2.0
    return y + p_0[0]
'''
    f = source_module("item_names_message", src).written
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(f)((A, B), X.copy())
    assert "`p_0` shares memory with `x`" in str(e.value) and "p_0v1" not in str(e.value), str(e.value)
