"""Dicts in dicts the function makes (transforms/dict_forms.py): a display in a display, `d = {"a": {"b": x}}`, read,
written (also through a second name, `inner = d["a"]`), looped over, passed whole to a function of yours, given a new
key holding a dict, in a list of dicts and in both branches of an if; each item a variable of its own (`d_a_b`). Was
"dict displays `{...}` used as values ... are not supported" (h25c). Checked against central differences, Python ==
Numba, jvp == the gradient's dot product, value_and_grad's value == f.

And the writes into a dict or tuple two names hold, declined (`bind_item_to`): `d = {"a": q}` then `q["b"] = v` (or
`d["a"]["b"] = v`), `q = dict(p)` of a dict holding dicts then `q["a"]["b"] = v`, `d = {"a": p}` of a dict argument
then `d["a"]["b"] = v`. Python changes what both names read; srcdiff gave the names separate variables and gave, for
the first, the value 3.0 for 9.0 and d/dx 1 for 3, for the last d/dx 0 for 3 (silently wrong before h25c)."""
import copy
import inspect
import sys

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def nested_display(x):
    d = {"a": {"b": x, "e": x * x}, "c": 2.0}
    return np.sum(d["a"]["b"] * d["a"]["e"]) * d["c"]


def nested_written(x):
    d = {"a": {"b": x, "e": 2.0}, "c": 2.0}
    d["a"]["b"] = d["a"]["b"] * x
    d["a"]["e"] += 1.0
    inner = d["a"]
    inner["b"] = inner["b"] + np.sin(x)
    return np.sum(d["a"]["b"]) * d["a"]["e"] + d["c"]


def read_nested(p, x):
    return np.sum(p["a"]["b"] * x) + p["c"]


def nested_passed_whole(x):
    d = {"a": {"b": np.sin(x)}, "c": 2.0}
    return read_nested(d, x) + read_nested({"a": {"b": x * x}, "c": 1.0}, x)


def nested_looped_and_a_new_key(x):
    d = {"a": {"b": x, "e": x * 2.0}}
    s = 0.0
    for k, v in d["a"].items():
        s = s + np.sum(v ** 2)
    d["f"] = {"g": np.cos(x)}
    return s + np.sum(d["f"]["g"])


def nested_layers(x):
    W = np.outer(x, x) + np.eye(2)
    layers = [{"lin": {"W": W, "s": 0.5}}, {"lin": {"W": W.T * 0.5, "s": 2.0}}]
    h = x
    for layer in layers:
        h = np.tanh(layer["lin"]["W"] @ h * layer["lin"]["s"])
    return np.sum(h)


def nested_in_branches(x):
    if np.sum(x) > 0.0:
        d = {"a": {"b": x}, "c": 1.0}
    else:
        d = {"a": {"b": 2.0 * x}, "c": 3.0}
    return np.sum(d["a"]["b"] ** 2) * d["c"]


X = np.array([0.5, -1.0])
CASES = [(nested_display, X), (nested_written, X), (nested_passed_whole, X), (nested_looped_and_a_new_key, X),
         (nested_layers, X), (nested_in_branches, X), (nested_in_branches, -X)]


@JIT
@pytest.mark.parametrize("f, x", CASES, ids=["display", "written", "passed_whole", "looped_new_key", "layers",
                                             "branch_taken", "branch_not_taken"])
def test_dicts_in_dicts_made_here(f, x, jit):
    value, g = srcdiff.value_and_grad(f, jit=jit)(x)
    assert np.isclose(value, f(x))
    np.testing.assert_allclose(g, numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-8)
    if jit:
        np.testing.assert_allclose(g, srcdiff.grad(f)(x), rtol=1e-12, atol=1e-12)
    t = np.array([0.25, 2.0])
    v2, directional = srcdiff.jvp(f, jit=jit)(x, t)
    assert np.isclose(v2, value) and np.isclose(directional, np.sum(g * t))


def test_a_dict_in_a_dict_has_a_variable_per_item():
    src = srcdiff.source(srcdiff.grad(nested_display))
    assert "d_a_b" in src and "d_a_e" in src, src


# ---- declined ---------------------------------------------------------------------------------------------------
def made_dict_put_into_another(x):
    q = {"b": x}
    d = {"a": q, "c": 1.0}
    q["b"] = x * 3.0   # <- put_into_another
    return np.sum(d["a"]["b"])


def written_through_the_other(x):
    q = {"b": x}
    d = {"a": q, "c": 1.0}
    d["a"]["b"] = x * 3.0   # <- through_the_other
    return np.sum(q["b"])


def written_in_a_loop_before_sharing(x):
    q = {"b": x}
    d = {"a": {"b": 0.0}}
    for i in range(2):
        q["b"] = q["b"] * 2.0   # <- loop_before
        if i == 0:
            d = {"a": q}
    return np.sum(d["a"]["b"])


def shallow_copy_written(p, x):
    q = dict(p)
    q["a"]["b"] = x * 3.0   # <- shallow_copy
    return np.sum(p["a"]["b"]) + np.sum(q["a"]["b"])


def argument_put_into_a_dict(p, x):
    d = {"a": p, "c": 1.0}
    d["a"]["b"] = x * 3.0   # <- argument_put
    return np.sum(p["b"])


def mk_nested(x):
    return {"a": {"b": x}}   # <- returned_nested


def reads_a_returned_nested_dict(x):
    p = mk_nested(x)
    return np.sum(p["a"]["b"])


def _line(tag):
    src, _ = inspect.getsourcelines(sys.modules[__name__])
    return next(i for i, t in enumerate(src, 1) if t.rstrip().endswith(f"# <- {tag}"))


SHARED = "a dict or tuple that another name holds too"
DECLINED = [
    (made_dict_put_into_another, (X,), "put_into_another", ['`q["b"]` assigned, an item of `q`', SHARED]),
    (written_through_the_other, (X,), "through_the_other", ['`d["a"]["b"]` assigned, an item of `d["a"]`', SHARED]),
    (written_in_a_loop_before_sharing, (X,), "loop_before", ['`q["b"]` assigned', SHARED]),
    (shallow_copy_written, ({"a": {"b": X}}, X), "shallow_copy", ['`q["a"]["b"]` assigned', SHARED,
                                                                   "copy.deepcopy"]),
    (argument_put_into_a_dict, ({"b": X}, X), "argument_put", ['`d["a"]["b"]` assigned', SHARED]),
    (reads_a_returned_nested_dict, (X,), "returned_nested", ["a dict your function returns holding a dict",
                                                             "return a dict of one level"]),
]


@pytest.mark.parametrize("f, args, tag, words", DECLINED, ids=[d[2] for d in DECLINED])
def test_writes_into_a_shared_dict_declined_at_the_line(f, args, tag, words):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f, wrt=len(args) - 1)(*copy.deepcopy(args))
    msg = str(info.value)
    assert f"test_nested_dicts.py:{_line(tag)}:" in msg, msg
    assert all(w in msg for w in words), msg


def deep_copy_written(p, x):
    q = copy.deepcopy(p)
    q["a"]["b"] = x * 3.0
    return np.sum(q["a"]["b"] * p["a"]["b"])


@JIT
def test_the_advice_a_deep_copy_works(jit):
    p = {"a": {"b": np.array([0.3, 0.7])}}
    g = srcdiff.grad(deep_copy_written, wrt=1, jit=jit)(copy.deepcopy(p), X)
    np.testing.assert_allclose(g, numerical_grad(deep_copy_written, [p, X], 1), rtol=1e-6, atol=1e-8)
