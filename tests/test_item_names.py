"""The variables flatten gives the items of structures (srcdiff/transforms/item_variables.py: a tuple argument p's item
p[0] becomes the parameter p_0, a dict argument's p["W"] the parameter p_W, a namedtuple's p.v p_v, a dict made in the
function `q = dict(W=..., b=...)` the variables q_W, q_b) never take the place of a variable of the user's spelled the
same: such a local is renamed (`p_0v1`, `p_W1` in the source shown), and a parameter or a module-level name so spelled
is declined naming it. Before, the local and the item were one variable: d/dp[0] 0 for 2x, d/dx 10 for 7 (both
backends, grad and jvp). A local spelled as the item's variable was before items were named by key or field (`p_0`
beside a dict argument) is no item's now and stays as written; a dict's key that is not an identifier still names its
item by position (`p_0` for p["a b"]), and a local so spelled is renamed."""
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


def dict_argument_keyed(p, x):
    p_W = x * 2.0
    return np.sum(p["W"] * p_W) + np.sum(p["b"] ** 2)


def namedtuple_argument_field(p, x):
    p_v = x + 0.5
    return np.sum(p.u * p_v) + np.sum(p.v ** 2)


def dict_argument_not_identifier(p, x):
    p_0 = x * 2.0
    return np.sum(p["a b"] * p_0) + np.sum(p["b"] ** 2)


def made_dict_keyed(x):
    q = dict(W=x * 2.0, b=x + 1.0)
    q_W = x * 3.0
    return np.sum(q["W"] * q_W) + np.sum(q["b"])


def made_display_keyed(x):
    q = {"W": x * 2.0, "b": x + 1.0}
    q_b = x * 3.0
    return np.sum(q["W"] * q_b) + np.sum(q["b"] * q_b)


def made_namedtuple_field(x):
    s = S(u=x * 2.0, v=x + 1.0)
    s_u = x * 3.0
    return np.sum(s.u * s_u) + np.sum(s.v)


def made_key_added(x):
    q = {"W": x * 2.0}
    q_c = x * 3.0
    q["c"] = x + 1.0
    return np.sum(q["W"] * q_c) + np.sum(q["c"] * q_c)


def made_nested(x):
    q = ({"W": x * 2.0}, {"W": x + 1.0})
    q_0_W = x * 3.0
    return np.sum(q[0]["W"] * q_0_W) + np.sum(q[1]["W"])


def pair(w, b):
    return {"W": w, "b": b}


def returned_dict_keyed(x):
    q = pair(x * 2.0, x + 1.0)
    q_W = x * 3.0
    return np.sum(q["W"] * q_W) + np.sum(q["b"] * q_W)


def parameter_spelled_as_item(p, p_0):
    return np.sum(p[0] * p_0) + np.sum(p[1])


def global_spelled_as_item(p):
    return np.sum(p[0] * p_1) + np.sum(p[1])


def parameter_spelled_as_dict_item(p, p_W):
    return np.sum(p["W"] * p_W) + np.sum(p["b"])


def global_spelled_as_field(p):
    return np.sum(p.u * p_1) + np.sum(p_v)


p_v = 2.0


def global_spelled_as_made_item(x):
    q = {"W": x * 2.0, "b": x}
    return np.sum(q["W"] * q_b) + np.sum(q["b"])


q_b = 3.0
'''

M = source_module("item_names_programs", PROGRAMS)
X = np.array([0.5, 1.5, 2.5])
A, B = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7])


def _fd_x(f, *before):
    return numerical_grad(lambda x: f(*before, x), [X], 0)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, local", [("made_dict", None), ("made_display", None), ("made_namedtuple", None),
                                         ("made_dict_keyed", "q_W"), ("made_display_keyed", "q_b"),
                                         ("made_namedtuple_field", "s_u"), ("made_key_added", "q_c"),
                                         ("made_nested", "q_0_W"), ("returned_dict_keyed", "q_W")])
def test_a_local_spelled_as_an_item_of_a_made_structure(name, local, jit):
    """`local`: the local spelled as an item's variable (renamed: `q_W1` in the code); None: a local spelled as an
    item's variable was before items were named by key or field (`q_0` beside q["W"]), kept as written."""
    f = getattr(M, name)
    grad = srcdiff.grad(f, jit=jit)
    g = grad(X)
    np.testing.assert_allclose(g, _fd_x(f), rtol=1e-6)
    value, tangent = srcdiff.jvp(f, jit=jit)(X, np.ones(3))
    assert value == pytest.approx(f(X))
    assert tangent == pytest.approx(np.sum(g))
    src = srcdiff.source(grad)
    if local is None:
        assert any(f"    {n}_{k} = " in src for n in "qs" for k in (0, 1)), src     # kept as written
    else:
        assert f"    {local}1 = " in src, src    # the local, renamed


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, p, renamed", [
    ("argument_item", (A, B), "p_0v1"), ("dict_argument_item", {"W": A, "b": B}, None),
    ("namedtuple_argument_item", M.S(A, B), None), ("dict_argument_keyed", {"W": A, "b": B}, "p_W1"),
    ("namedtuple_argument_field", M.S(A, B), "p_v1"), ("dict_argument_not_identifier", {"a b": A, "b": B}, "p_0v1")])
def test_a_local_spelled_as_an_item_of_an_argument(name, p, renamed, jit):
    """`renamed`: the local as the code spells it; None: no item's variable is spelled so (a dict's or namedtuple's
    items are named by key or field: `p_0` beside p["W"], `p_1` beside p.v), and the local is kept as written."""
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
    src = srcdiff.source(g)
    if renamed is None:
        assert "p_0 = " in src or "p_1 = " in src, src      # the local, as written
        assert "p_0v1" not in src and "p_1v1" not in src, src
    else:
        assert f"{renamed} = " in src, src   # the local, renamed


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_helpers_local_spelled_as_an_item_of_its_tuple_argument(jit):
    ga, gx = srcdiff.grad(M.calls_helper, wrt=("a", "x"), jit=jit)(A, B, X)
    np.testing.assert_allclose(ga, 2.0 * X)
    np.testing.assert_allclose(gx, 2.0 * A)


@pytest.mark.parametrize("name, p, spelled, item", [
    ("parameter_spelled_as_item", (A, B), "`p_0` is a parameter", "the item p[0] of your argument"),
    ("global_spelled_as_item", (A, B), "`p_1` is a name from outside the function", "the item p[1] of your argument"),
    ("parameter_spelled_as_dict_item", {"W": A, "b": B}, "`p_W` is a parameter", 'the item p["W"] of your argument'),
    ("global_spelled_as_field", M.S(A, B), "`p_v` is a name from outside the function",
     "the item p.v of your argument")])
def test_a_parameter_or_global_spelled_as_an_item_is_declined(name, p, spelled, item):
    f = getattr(M, name)
    args = (p, X) if name.startswith("parameter") else (p,)
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(f, wrt="p")(*args)
    msg = str(e.value)
    assert spelled in msg and "item_names_programs.py:" in msg and "rename" in msg, msg
    assert item in msg, msg


def test_a_global_spelled_as_an_item_of_a_made_dict_is_declined():
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(M.global_spelled_as_made_item)(X)
    msg = str(e.value)
    assert "`q_b` is a name from outside the function" in msg and "an item of q" in msg and "rename" in msg, msg


def test_a_global_spelled_as_an_old_position_reads_the_global_beside_a_namedtuple():
    """`p_1` beside a namedtuple argument is no item's variable (its items are p_u, p_v): the global, read as such."""
    src = PROGRAMS.replace("return np.sum(p.u * p_1) + np.sum(p_v)", "return np.sum(p.u * p_1) + np.sum(p.v)")
    f = source_module("item_names_field_global", src).global_spelled_as_field
    gp = srcdiff.grad(f, wrt="p")(M.S(A, B))
    np.testing.assert_allclose(gp.u, np.full(3, 3.0))
    np.testing.assert_allclose(gp.v, np.ones(2))


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


COLLIDING = '''import numpy as np


def made_beside_made(x):
    q = {"a_b": x * 2.0}
    q_a = {"b": x * 3.0}
    return np.sum(q["a_b"] * q_a["b"])


def made_beside_argument(q_a, x):
    q = {"a_b": x * 2.0}
    return np.sum(q["a_b"] * q_a["b"])


def arguments_of_one_name(p, p_a):
    return np.sum(p["a"]["b"] * 2.0) + np.sum(p_a["b"] * 3.0)


def tuples_of_one_name(p, p_0):
    return np.sum(p[0][0] * 2.0) + np.sum(p_0[0] * 3.0)
'''
C = source_module("item_names_colliding", COLLIDING)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_structures_whose_items_variables_would_be_one(jit):
    """`q_a = {"b": y}` beside `q = {"a_b": x}`: both items would be `q_a_b` (one variable: 2x * 3x read as (3x)^2);
    the structure made later, or the one made beside an argument, is renamed (q_a1_b, q1_a_b in the code)."""
    g = srcdiff.grad(C.made_beside_made, jit=jit)
    np.testing.assert_allclose(g(X), 12.0 * X)
    assert "q_a1_b = " in srcdiff.source(g) and "q_a_b = " in srcdiff.source(g)
    g = srcdiff.grad(C.made_beside_argument, wrt=("q_a", "x"), jit=jit)
    gq, gx = g({"b": A}, X)
    np.testing.assert_allclose(gq["b"], 2.0 * X)
    np.testing.assert_allclose(gx, 2.0 * A)
    assert "q1_a_b = " in srcdiff.source(g)


@pytest.mark.parametrize("name, args, both", [
    ("arguments_of_one_name", ({"a": {"b": A}}, {"b": A}), 'p["a"]["b"] and p_a["b"]'),
    ("tuples_of_one_name", (((A,),), (A,)), "p[0][0] and p_0[0]")])
def test_two_arguments_whose_items_variables_would_be_one_are_declined(name, args, both):
    """(Before: Python's SyntaxError, a duplicate argument in the generated code.)"""
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(getattr(C, name), wrt=(0, 1))(*args)
    msg = str(e.value)
    assert f"srcdiff names both {both} of your arguments" in msg and "rename the argument" in msg, msg
