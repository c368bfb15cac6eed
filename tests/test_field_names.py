"""The generated code names an item of a namedtuple or a dict by its field or key, as the user reads it: `layer.W` is
`layer_W` (its adjoint `d_layer_W`), `p["b"]` is `p_b`, `params.layer1.W` is `params_layer1_W`; an item of a tuple by
its position (`t_0`). Before, every item was named by position (`layer_0`, `p_1`), which a reader had to count out
against the class's fields or the dict's keys. A key that is not an identifier (`d["a b"]`, `d["a-b"]`, `d["2"]`)
names its item by position, as does a key whose variable would be an earlier item's (`p["a"]["b"]` after `p["a_b"]`):
the names come from one function, srcdiff/transforms/item_variables.py, which every place naming an item calls.
Gradients are checked against finite differences on both backends."""

import numpy as np
import pytest

import srcdiff
from srcdiff.transforms.dict_forms import Keyed
from srcdiff.transforms.item_variables import item_variable, item_variables, labels
from srcdiff.transforms.record_forms import Fields
from gradcheck import numerical_grad, rebuilt_structure, source_module, structure_leaves

PROGRAMS = '''from collections import namedtuple
import numpy as np

Layer = namedtuple("Layer", ["W", "b"])
Net = namedtuple("Net", ["layer1", "layer2"])


def layer_loss(layer, x):
    h = np.tanh(layer.W @ x + layer.b)
    return np.sum(h * h)


def dict_loss(p, x):
    return np.sum(p["W"] @ x) + np.sum(p["b"] ** 2)


def made_dict(x):
    q = {"W": x * 2.0, "b": x + 1.0}
    return np.sum(q["W"] * q["b"])


def net_loss(params, x):
    y = np.tanh(params.layer1.W @ x + params.layer1.b)
    return np.sum(np.tanh(params.layer2.W @ y + params.layer2.b) ** 2)


def dict_of_tuples(p, x):
    return np.sum(p["ws"][0] @ x) + np.sum(p["ws"][1] * x) + p["c"] ** 2


def tuple_of_dicts(layers, x):
    for layer in layers:
        x = np.tanh(layer["W"] @ x + layer["b"])
    return np.sum(x ** 2)


def made_tuple_of_dicts(x):
    layers = ({"W": x * 2.0, "b": x}, {"W": x + 1.0, "b": x * x})
    return np.sum(layers[0]["W"] * layers[1]["b"]) + np.sum(layers[1]["W"] * layers[0]["b"])


def odd_keys(d, x):
    return np.sum(d["a b"] * x) + d["a-b"] * d["a_b"] + np.sum(d["2"] * x)


def keys_of_one_name(p, x):
    return np.sum(p["a_b"] * x) + np.sum(p["a"]["b"] * x * x)
'''

M = source_module("field_names_programs", PROGRAMS)
X = np.array([0.3, -0.7, 0.5])
RNG = np.random.default_rng(5)
L1 = M.Layer(RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=3) * 0.5)
L2 = M.Layer(RNG.normal(size=(3, 3)) * 0.5, RNG.normal(size=3) * 0.5)


def _check_structure_gradient(f, p, gp):
    """Each leaf of the gradient `gp` of f(p, X) with respect to p against finite differences."""
    leaves, got = structure_leaves(p), structure_leaves(gp)
    assert len(got) == len(leaves)
    for k, leaf in enumerate(leaves):
        def at(v, k=k):
            flat = leaves[:k] + [v] + leaves[k + 1:]
            return f(rebuilt_structure(p, iter(flat)), X)
        np.testing.assert_allclose(np.asarray(got[k], dtype=float),
                                   numerical_grad(at, [np.asarray(leaf, dtype=float)], 0), rtol=1e-5, atol=1e-8)


CASES = [
    ("layer_loss", L1, ["def layer_loss_grad(layer_W, layer_b, x):", "d_layer_W = "], ["layer_0", "layer_1"]),
    ("dict_loss", {"W": L1.W, "b": L1.b}, ["def dict_loss_grad(p_W, p_b, x):", "d_p_W = ", "d_p_b = "],
     ["p_0", "p_1"]),
    ("net_loss", M.Net(L1, L2), ["def net_loss_grad(params_layer1_W, params_layer1_b, params_layer2_W, "
                                 "params_layer2_b, x):", "d_params_layer1_W = "], ["params_0", "params_1"]),
    ("dict_of_tuples", {"ws": (L1.W, L1.b), "c": 1.5}, ["def dict_of_tuples_grad(p_ws_0, p_ws_1, p_c, x):"],
     ["p_0", "p_1"]),
    ("tuple_of_dicts", ({"W": L1.W, "b": L1.b}, {"W": L2.W, "b": L2.b}),
     ["def tuple_of_dicts_grad(layers_0_W, layers_0_b, layers_1_W, layers_1_b, x):", "d_layers_1_W = "],
     ["layers_0_0", "layers_1_1"]),
    # keys that are not identifiers by position; `a_b` by key
    ("odd_keys", {"a b": X * 2.0, "a-b": 1.5, "a_b": -0.5, "2": X + 1.0},
     ["def odd_keys_grad(d_0, d_1, d_a_b, d_3, x):"], []),
    # p["a"]["b"] would be p_a_b, as p["a_b"] before it is: by position
    ("keys_of_one_name", {"a_b": X * 2.0, "a": {"b": X + 1.0}}, ["def keys_of_one_name_grad(p_a_b, p_1_b, x):"], []),
]


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, p, shown, not_shown", CASES, ids=[c[0] for c in CASES])
def test_an_arguments_items_are_named_by_field_or_key(name, p, shown, not_shown, jit):
    f = getattr(M, name)
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
    gp, gx = g(p, X)
    src = srcdiff.source(g)
    for text in shown:
        assert text in src, src
    for text in not_shown:
        assert text not in src, src
    _check_structure_gradient(f, p, gp)
    np.testing.assert_allclose(gx, numerical_grad(lambda x: f(p, x), [X], 0), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name, shown", [("made_dict", ["    q_W = x * 2.0", "    q_b = x + 1.0", "d_q_W = "]),
                                         ("made_tuple_of_dicts", ["    layers_0_W = x * 2.0", "    layers_1_b = "])])
def test_a_structure_made_in_the_function_is_named_by_key(name, shown, jit):
    f = getattr(M, name)
    g = srcdiff.grad(f, jit=jit)
    got = g(X)
    src = srcdiff.source(g)
    for text in shown:
        assert text in src, src
    assert "q_0" not in src and "layers_0_0" not in src, src
    np.testing.assert_allclose(got, numerical_grad(f, [X], 0), rtol=1e-5, atol=1e-8)
    value, tangent = srcdiff.jvp(f, jit=jit)(X, np.ones(3))
    assert value == pytest.approx(f(X)) and tangent == pytest.approx(np.sum(got))


def test_jvp_and_hessian_with_respect_to_a_namedtuple_and_a_dict():
    """Forward mode names the tangents of the items by field too (`d_layer_W`), and its results are as before."""
    value, tangent = srcdiff.jvp(M.layer_loss, wrt="layer")(L1, X, M.Layer(np.ones((3, 3)), np.zeros(3)))
    h = 1e-6
    bumped = M.Layer(L1.W + h, L1.b)
    assert value == pytest.approx(M.layer_loss(L1, X))
    assert tangent == pytest.approx((M.layer_loss(bumped, X) - M.layer_loss(M.Layer(L1.W - h, L1.b), X)) / (2 * h),
                                    rel=1e-5)
    hp = srcdiff.hessian(M.dict_loss, wrt="p")({"W": L1.W, "b": L1.b}, X)
    np.testing.assert_allclose(hp["b"]["b"], 2.0 * np.eye(3), atol=1e-9)
    np.testing.assert_allclose(hp["W"]["b"], np.zeros((3, 3, 3)), atol=1e-9)
    jp = srcdiff.jacobian(M.dict_loss, wrt="p")({"W": L1.W, "b": L1.b}, X)
    np.testing.assert_allclose(jp["W"], np.tile(X, (3, 1)))
    np.testing.assert_allclose(jp["b"], 2.0 * L1.b)


def test_the_naming_function():
    layer = Fields([None, None], ("W", "b"))
    assert item_variables("layer", layer) == ["layer_W", "layer_b"]
    assert item_variable("t", [None, [None, None]], (1, 0)) == "t_1_0"
    net = Fields([layer, layer], ("layer1", "layer2"))
    assert item_variable("params", net, (1, 0)) == "params_layer2_W"
    assert item_variables("params", net, (0,)) == ["params_layer1_W", "params_layer1_b"]
    assert labels(Keyed([None] * 5, ("a b", "a-b", "a_b", 3, "é"))) == ["0", "1", "a_b", "3", "4"]
    assert labels(Keyed([None] * 2, ("W", "w"))) == ["W", "w"]
    assert item_variables("p", Keyed([None, Keyed([None], ("b",))], ("a_b", "a"))) == ["p_a_b", "p_1_b"]
    assert item_variables("p", Keyed([Keyed([None], ("b",)), None], ("a", "a_b"))) == ["p_a_b", "p_1"]
    # a key added to a dict renames no item before it
    before = item_variables("q", Keyed([None, None], ("a", "c_0")))
    assert item_variables("q", Keyed([None, None, [None]], ("a", "c_0", "c")))[:2] == before


def test_every_place_naming_an_item_calls_the_naming_function():
    """No module builds an item's variable from a structure's name and a position itself (`f"{name}_{k}"`,
    `"_".join([name] + path)`): flatten, dict_forms, record_forms and inline name items through item_variables
    (export, forward_api and module_builder through flatten.flat_names, which calls it)."""
    import re
    from pathlib import Path
    root = Path(srcdiff.__file__).parent / "transforms"
    for module in ("flatten.py", "dict_forms.py", "record_forms.py", "inline.py"):
        text = (root / module).read_text()
        assert not re.search(r'f"\{[\w.\[\]]+\}_\{(k|j|i|len)|"_"\.join\(\[(name|param)\]', text), module
        assert "item_variable" in text or "self.leaf_name" in text, module
