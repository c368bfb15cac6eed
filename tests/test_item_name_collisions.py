"""Adversarial spellings around the variables flatten gives the items of structures (item_variables.py: `p_W` for
p["W"], `layer_W` for layer.W, `p_0` for p[0]): an item's variable must never become one with a user's local, a
parameter, another structure's item, an adjoint (`d_x` of x beside item x of a dict argument `d`), an SSA version
(`p_v1`, `x1`), a loop stack (`x_stack`), `result`, `cond`, or a key spelled like a builtin, a keyword, a name the
generated code reserves (`np`, `rt`, `len`, `range`), non-ASCII, very long, or differing only in case. Name
conflation gives SILENTLY wrong gradients, so each program's gradient with respect to every leaf is checked against
central differences on both backends, and jvp against the gradient.

One bug found this way: a function nested in the one differentiated (a def or a lambda) whose own parameter has the
name of a structured argument or a structure made in the function (`def h(p): return np.sum(p[0] * p[1])` inside
`f(p, x)`, called `h((x, p[0] * 3.0))`) read the OUTER argument's items: flatten rewrote its `p[0]` to p_0. The value
was 0.79 for 1.05 and d/dx 0 for 3.3 (both backends); for a dict, srcdiff declined with a message naming no line
(`p_W` is a parameter). flatten now renames such a nested parameter (or local) through the nested function first (not its defaults, which
the enclosing function evaluates), and reads the function's names afresh after (a nested function making a dict of
the outer name, `q = {"W": z * 3.0}` in h beside the outer q, was declined before as bound twice)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad, rebuilt_structure, source_module, structure_leaves

PROGRAMS = '''import numpy as np
from collections import namedtuple

S = namedtuple("S", ["x", "W"])
T = namedtuple("T", ["v1", "stack"])


def key_x_beside_x(d, x):
    return np.sum(d["x"] * x) + np.sum(x ** 2) + np.sum(d["d_x"] * x * x)


def key_W_beside_W(d, W):
    return np.sum(d["W"] * W * W) + np.sum(d["W"])


def local_d_p_W(p, x):
    d_p_W = x * 3.0
    return np.sum(p["W"] * d_p_W) + np.sum(p["W"] ** 2)


def key_versions(d, x):
    y = x * 2.0
    y = np.sin(y) * d["y1"]
    y = y * d["y2"] + d["y"]
    p_ = x * 2.0
    p_ = p_ * d["v1"] + 1.0
    return np.sum(y * d["x1"]) + np.sum(d["x3"] * x) + np.sum(p_ * d["result"]) + np.sum(d["result1"] * x)


def key_stack_loop(x, z):
    x_ = z * 1.0
    s = 0.0
    for i in range(3):
        x_ = np.sin(x_) * x["stack"] + x["tape"]
        s = s + np.sum(x_ * x["x_stack"])
    return s + np.sum(x["old"] * x_)


def keys_0_nested_flat(p, x):
    return np.sum(p["0"] * x) + np.sum(p["_0"] * x * x) + np.sum(p["a"]["b"] * x) + np.sum(p["a_b"] * x ** 3)


def reserved_keys(p, x):
    return (np.sum(p["sum"] * x) + np.sum(p["len"] * x * x) + np.sum(p["np"] * x) + np.sum(p["rt"] * x ** 3)
            + np.sum(p["range"] * x) + np.sum(p["lambda"] * x) + np.sum(p["None"] * x * x) + np.sum(p["é"] * x)
            + np.sum(p["W"] * x) + np.sum(p["w"] * x * x))


def fields_like_parameters(s, x, W):
    y = s.x * x
    x = y + s.W
    return np.sum(x * s.x) + np.sum(s.W * W) + np.sum(x * W)


def namedtuple_v1_stack(t, x):
    t_v1 = x * 2.0
    return np.sum(t.v1 * t_v1) + np.sum(t.stack * x * x)


def result_and_cond(result, x):
    cond = x * 2.0
    return np.sum(result["x"] * cond) + np.sum(result["cond"] * x)


def local_in_loop_and_branch(p, x):
    s = 0.0
    for i in range(3):
        p_W = x * float(i)
        s = s + np.sum(p["W"] * p_W)
    if np.sum(x) > 0.0:
        p_b = x * 2.0
    else:
        p_b = x * 3.0
    return s + np.sum(p["b"] * p_b)


def helper_param_spelled(p_W, x):
    return p_W * x


def layer_fn(layer, x):
    layer_W = x * 2.0
    return np.tanh(layer["W"] * x + layer["b"]) * layer_W


def helpers(layers, x):
    for layer in layers:
        x = layer_fn(layer, x)
    return np.sum(x) + np.sum(helper_param_spelled(layers[0]["W"], x) * layers[1]["b"])


def closure_and_comprehension(p, x):
    p_b = x * 2.0
    f = lambda z: np.sum(z * p["b"])
    return f(x) + np.sum(p_b * p["b"]) + sum(np.sum(p_W * p["W"]) for p_W in [x, x * 2.0])


def made_beside_argument(q_a, x):
    q = {"b": x * 2.0, "a_b": x}
    return np.sum(q["b"] * q_a["c"]) + np.sum(q_a["c"] * q["a_b"])


def adjoint_spelled_as_an_argument(p, d_p, x):
    return np.sum(p["W"] * d_p["W"] * x) + np.sum(p["W"] ** 2) + np.sum(p["t"][0] * d_p["t"][1])


def nested_def_shadows_tuple(p, x):
    def h(p):
        return np.sum(p[0] * p[1])
    return h((x, p[0] * 3.0)) + np.sum(p[1])


def lambda_shadows_tuple(p, x):
    h = lambda p: np.sum(p[0] * p[1])
    return h((x, p[0] * 3.0)) + np.sum(p[1])


def nested_def_shadows_dict(p, x):
    def h(p):
        p_W = p["W"] * 2.0
        return np.sum(p_W * p["b"])
    return h({"W": x, "b": p["W"] * 3.0}) + h(p)


def nested_makes_a_dict_of_the_outer_name(x):
    q = {"W": x * 2.0}
    def h(z):
        q = {"W": z * 3.0}
        return np.sum(q["W"] * z)
    return h(x) + np.sum(q["W"] * x)


def nested_makes_a_dict_of_the_arguments_name(q, x):
    def h(z):
        q = {"W": z * 3.0}
        return np.sum(q["W"] * z)
    return h(x) + np.sum(q["W"] * x)


def nested_def_shadows_made(x):
    q = {"W": x * 2.0, "b": x + 1.0}
    def h(q):
        return np.sum(q["W"] * q["b"])
    return h({"W": x * x, "b": q["W"]}) + np.sum(q["b"])
'''

M = source_module("item_name_collisions_programs", PROGRAMS)
X = np.array([0.3, -0.7, 0.5])
A = np.array([1.1, 0.4, -0.2])
B = np.array([-0.5, 0.8, 0.9])


def _finite_differences(f, args):
    """Central differences of f with respect to every leaf of every argument: one list of leaves per argument."""
    out = []
    for i, a in enumerate(args):
        leaves = structure_leaves(a)

        def at(v, k, i=i, a=a, leaves=leaves):
            b = list(args)
            b[i] = rebuilt_structure(a, iter(leaves[:k] + [v] + leaves[k + 1:]))
            return f(*b)
        out.append([numerical_grad(lambda v, k=k: at(v, k), [np.asarray(leaf, dtype=float)], 0)
                    for k, leaf in enumerate(leaves)])
    return out


CASES = [
    ("key_x_beside_x", ({"x": A, "d_x": B}, X)),
    ("key_W_beside_W", ({"W": A}, X)),
    ("local_d_p_W", ({"W": A}, X)),
    ("key_versions", ({"y1": A, "y2": B, "y": X, "x1": A * 2, "x3": B * 2, "v1": X * 2, "result": A,
                       "result1": B}, X)),
    ("key_stack_loop", ({"stack": 0.6, "tape": A, "x_stack": X, "old": B}, X)),
    ("keys_0_nested_flat", ({"0": A, "_0": B, "a": {"b": X}, "a_b": A * 2}, X)),
    ("reserved_keys", ({k: A * (j + 1) for j, k in enumerate(["sum", "len", "np", "rt", "range", "lambda", "None",
                                                              "é", "W", "w"])}, X)),
    ("fields_like_parameters", (M.S(A, B), X, B * 2)),
    ("namedtuple_v1_stack", (M.T(A, B), X)),
    ("result_and_cond", ({"x": A, "cond": B}, X)),
    ("local_in_loop_and_branch", ({"W": A, "b": B}, X)),
    ("helpers", (({"W": A, "b": B}, {"W": B, "b": X}), X)),
    ("closure_and_comprehension", ({"W": A, "b": B}, X)),
    ("made_beside_argument", ({"c": A}, X)),
    # p_W's adjoint d_p_W beside d_p["W"], the item d_p_W
    ("adjoint_spelled_as_an_argument", ({"W": A, "t": (B, X)}, {"W": B, "t": (A, X)}, X)),
    ("nested_def_shadows_tuple", ((A, B), X)),
    ("lambda_shadows_tuple", ((A, B), X)),
    ("nested_def_shadows_dict", ({"W": A, "b": B}, X)),
    ("nested_def_shadows_made", (X,)),
    ("nested_makes_a_dict_of_the_outer_name", (X,)),
    ("nested_makes_a_dict_of_the_arguments_name", ({"W": A}, X)),
]


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, args", CASES, ids=[c[0] for c in CASES])
def test_gradients_of_every_leaf_match_finite_differences(name, args, jit):
    f = getattr(M, name)
    wrt = tuple(range(len(args)))
    g = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)
    value, got = g(*args)
    assert value == pytest.approx(f(*args))
    compile(srcdiff.source(g), "<generated>", "exec")
    expected = _finite_differences(f, args)
    for i, (ga, ea) in enumerate(zip(got, expected)):
        leaves = structure_leaves(ga)
        assert len(leaves) == len(ea)
        for k, (a, b) in enumerate(zip(leaves, ea)):
            np.testing.assert_allclose(np.asarray(a, dtype=float), b, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{name}: argument {i}, leaf {k}")
    ones = tuple(rebuilt_structure(a, iter([np.ones_like(np.asarray(v, dtype=float)) if np.ndim(v) else 1.0
                                   for v in structure_leaves(a)])) for a in args)
    v, tangent = srcdiff.jvp(f, wrt=wrt, jit=jit)(*args, ones)
    assert v == pytest.approx(f(*args))
    assert tangent == pytest.approx(sum(np.sum(e) for ea in expected for e in ea), rel=1e-5, abs=1e-6)


def test_hessian_beside_a_dict_named_d_with_key_x():
    """Second-order adjoints (`d_d_x`) beside a dict `d` whose items are d_x and d_d_x."""
    f = M.key_x_beside_x
    p = {"x": A, "d_x": B}
    h = srcdiff.hessian(f, wrt=1)(p, X)
    np.testing.assert_allclose(h, np.diag(2.0 + 2.0 * B), atol=1e-9)
    hp = srcdiff.hessian(f, wrt=0)(p, X)
    np.testing.assert_allclose(hp["x"]["x"], np.zeros((3, 3)), atol=1e-9)


def test_declines_name_the_line():
    """A parameter spelled as an item's variable is declined naming the user's file and line."""
    src = '''import numpy as np


def f(d, d_d):
    return np.sum(d["d"] * d_d)
'''
    m = source_module("item_name_collisions_decline", src)
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(m.f, wrt=(0, 1))({"d": A}, X)
    assert "item_name_collisions_decline.py:4" in str(e.value) and "d_d" in str(e.value)


DEFAULTS = '''import collections

import numpy as np

P = collections.namedtuple("P", ["W", "b"])


def tuple_default(p, x):
    def h(z, p=p):
        return np.sum(z * p[0] * p[1])
    return h(x) + np.sum(p[1]) + h(x * 2.0, (x, p[1]))


def dict_defaults(p, x):
    def h(z, q=p, w=p["W"]):
        return np.sum(z * q["W"]) * q["b"] + np.sum(w ** 2)
    return h(x) + h(x * 2.0)


def namedtuple_defaults(p, x):
    g = lambda z, p=p: np.sum(z * p.W) + p.b
    def k(z, *, q=p):
        return np.sum(z * q.W ** 2) * q[1]
    return g(x) + k(x)


def namedtuple_passed_to_a_nested_def(p, x):
    def k(z, q):
        return np.sum(z * q.W ** 2) + q.b
    return k(x, p) + k(x * 0.5, q=p)
'''
MD = source_module("item_name_collisions_defaults", DEFAULTS)
DEFAULT_CASES = [("tuple_default", (A, B)), ("dict_defaults", {"W": A, "b": 0.7}),
                 ("namedtuple_defaults", MD.P(A, 0.7)), ("namedtuple_passed_to_a_nested_def", MD.P(B, -0.4))]


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, p", DEFAULT_CASES, ids=[c[0] for c in DEFAULT_CASES])
def test_a_nested_default_reading_a_structured_argument(name, p, jit):
    """`def h(z, p=p)`, `def h(z, q=p, w=p["W"])`, `lambda z, p=p: ...`, a keyword-only `q=p` of a tuple, dict or
    namedtuple argument the body binds nowhere: the default is the argument's items (flatten._Flatten.defaults), the
    enclosing function's p, not h's own (renamed). Were declined as a default reading `p` (748d7de; before it, "name
    'p' is not defined"); a namedtuple passed whole to a nested def (`k(x, p)`, then `q.W`) as "attribute .W of a
    local value". Value = f, gradients = central differences, Numba = Python, jvp = the gradients' dot product."""
    f = getattr(MD, name)
    value, (gp, gx) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(p, X)
    assert np.isclose(value, f(p, X))
    leaves, got = structure_leaves(p), structure_leaves(gp)
    for k, leaf in enumerate(leaves):
        def at(v, k=k):
            return f(rebuilt_structure(p, iter(leaves[:k] + [v] + leaves[k + 1:])), X)
        np.testing.assert_allclose(got[k], numerical_grad(at, [np.asarray(leaf, dtype=float)], 0), rtol=1e-6,
                                   atol=1e-8)
    np.testing.assert_allclose(gx, numerical_grad(lambda x: f(p, x), [X], 0), rtol=1e-6, atol=1e-8)
    if jit:
        for a, b in zip(structure_leaves(srcdiff.grad(f, wrt=(0, 1))(p, X)), got + [gx]):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    tp = rebuilt_structure(p, iter([np.ones_like(v) * 0.5 if np.ndim(v) else 0.25 for v in leaves]))
    tx = np.array([0.3, -0.2, 1.0])
    v2, directional = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(p, X, (tp, tx))
    expect = sum(np.sum(g * t) for g, t in zip(got, structure_leaves(tp))) + np.sum(gx * tx)
    assert np.isclose(v2, value) and np.isclose(directional, expect)


def test_a_nested_default_reading_a_structure_whose_items_change_is_declined():
    """A default reading a dict made here (its items may be written after the def, and Python's default is the same
    dict) or an argument the body binds again stays declined, naming the construct (not "name 'p' is not
    defined")."""
    src = '''import numpy as np


def made(x):
    q = {"W": x * 2.0}
    def h(z, q=q):
        return np.sum(z * q["W"])
    q["W"] = x
    return h(x)


def rebound(p, x):
    p = (p[0] * 2.0, p[1])
    def h(z, p=p):
        return np.sum(z * p[0] * p[1])
    return h(x)
'''
    m = source_module("item_name_collisions_default", src)
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(m.made)(X)
    assert "item_name_collisions_default.py:6" in str(e.value) and "reads `q`" in str(e.value)
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(m.rebound, wrt=1)((A, B), X)
    where, said = str(e.value).split(".py:14:", 1)   # (the temporary directory's random name may hold "p1")
    assert where.endswith("item_name_collisions_default") and "p1" not in said
    assert "default value of a nested function's parameter that reads `p`" in str(e.value)
