"""transforms/dict_forms.py (dict_get_dict): `opt = params.get("opt", {})` of a dict argument, with a dict for the
default, bound to a name: the argument's dict item where it has the key, else the default, a dict made here, read
at its keys and by `.get` as any other (`opt.get("s", 1.0)`). It was declined at the `opt.get` ("`opt` is not a
dict argument or a copy of one", h23c). Both backends, against central differences, with and without the key."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def empty_default(x, p):
    opt = p.get("opt", {})
    return x * p["a"] + opt.get("s", 1.0) * x * x


def default_with_items(x, p):
    opt = p.get("opt", {"s": 0.5, "t": x})
    return x * p["a"] + opt.get("s", 1.0) * x * x + np.sum(np.sin(opt["t"]))


WITHOUT = {"a": 2.0}
WITH = {"a": 2.0, "opt": {"s": 3.0, "t": np.array([1.0, 2.0])}}


def _numerical(f, x, p):
    """Central differences of f at (x, p): d/dx, and a dict of d/d(each leaf of p)."""
    eps = 1e-6
    dx = (f(x + eps, p) - f(x - eps, p)) / (2 * eps)

    def leaf(path):
        def at(v):
            q = {k: (dict(w) if isinstance(w, dict) else w) for k, w in p.items()}
            d = q
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = v
            return f(x, q)
        d = p
        for k in path:
            d = d[k]
        return numerical_grad(at, [d], 0)
    dp = {k: ({j: leaf((k, j)) for j in v} if isinstance(v, dict) else leaf((k,))) for k, v in p.items()}
    return dx, dp


@JIT
@pytest.mark.parametrize("p", [WITHOUT, WITH], ids=["without_the_key", "with_the_key"])
@pytest.mark.parametrize("f", [empty_default, default_with_items], ids=["empty", "with_items"])
def test_get_of_a_dict_item_with_a_dict_default(f, p, jit):
    value, (dx, dp) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(1.5, p)
    assert np.isclose(value, f(1.5, p))
    ex, ep = _numerical(f, 1.5, p)
    assert np.isclose(dx, ex, atol=1e-6), (dx, ex)
    assert dp.keys() == ep.keys()
    for k in ep:
        if isinstance(ep[k], dict):
            for j in ep[k]:
                np.testing.assert_allclose(dp[k][j], ep[k][j], atol=1e-6)
        else:
            assert np.isclose(dp[k], ep[k], atol=1e-6)
    _, tangent = srcdiff.jvp(f, wrt=0)(1.5, p, 1.0)
    assert np.isclose(tangent, dx)


def get_in_the_expression(x, p):
    return x * p.get("opt", {}).get("s", 1.0) + x * x * p.get("opt", {"t": 0.5}).get("t", 2.0)


@JIT
@pytest.mark.parametrize("p", [WITHOUT, {"a": 2.0, "opt": {"s": 3.0, "t": 0.25}}], ids=["without", "with"])
def test_a_get_of_the_result_in_the_expression(p, jit):
    (dx, _) = srcdiff.grad(get_in_the_expression, wrt=(0, 1), jit=jit)(1.5, p)
    assert np.isclose(dx, _numerical(get_in_the_expression, 1.5, p)[0], atol=1e-6)
    # (it was declined with advice for a function without a rule: "method .get() is not supported")
