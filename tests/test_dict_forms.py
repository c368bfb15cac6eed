"""Dict arguments' forms of transforms/dict_forms.py (both backends): keys held in names and key tests decided when
srcdiff compiles, the dict's items all at once (`sum(p.values())`), copies and dicts made from a dict argument, and
what is declined about them (at the user's line, with advice)."""
import copy

import gast
import numpy as np
import pytest

import srcdiff
from gradcheck import exported, numerical_grad
from srcdiff.transforms import dict_forms
from srcdiff.transforms.astutil import NOT_LITERAL


def _expr(text):
    return gast.parse(text).body[0].value


def test_static_value_decides_tests_of_keys():
    """Tests of strings known when srcdiff compiles (a key's str methods, ==, in, not, and/or) are decided; a test
    of anything else is not (NOT_LITERAL)."""
    assert dict_forms.static_value(_expr('"W1".startswith("W")')) is True
    assert dict_forms.static_value(_expr('not "b".startswith(("W", "V"))')) is True
    assert dict_forms.static_value(_expr('"b" in ("W", "b") and "b" != "W"')) is True
    assert dict_forms.static_value(_expr('"b".isupper() or "b" == "W"')) is False
    assert dict_forms.static_value(_expr('k.startswith("W")')) is NOT_LITERAL
    assert dict_forms.static_value(_expr('"W".startswith(k)')) is NOT_LITERAL


def test_constant_strings_are_names_bound_once_to_strings():
    """`k = "W"` and `keys = ("W", "b")` bound once are keys known when srcdiff compiles; a name bound twice, a
    parameter, a list (which may grow) or a name declared nonlocal is not."""
    fn = gast.parse(
        "def f(p, q):\n    k = 'W'\n    keys = ('W', 'b')\n    j = 'W'\n    j = 'b'\n    q = 'b'\n"
        "    lst = ['W']\n    def g():\n        nonlocal k2\n    k2 = 'W'\n    return p[k]").body[0]
    assert dict_forms.constant_strings(fn, {"p", "q"}) == {"k": "W", "keys": ("W", "b")}


def test_fold_static_tests_keeps_the_branch_taken():
    """An `if` and a conditional expression of a decided test are replaced by the branch they take."""
    body = gast.parse('if "W".startswith("W"):\n    y = 1.0 if "b" == "W" else 2.0\nelse:\n    y = 3.0').body
    (s,) = dict_forms.fold_static_tests(body)
    assert isinstance(s, gast.Assign) and s.value.value == 2.0


def test_keyed_equal_only_with_the_same_keys():
    assert dict_forms.Keyed([None, None], ("w", "b")) == dict_forms.Keyed([None, None], ("w", "b"))
    assert dict_forms.Keyed([None, None], ("w", "b")) != dict_forms.Keyed([None, None], ("b", "w"))
    assert dict_forms.Keyed([None], ("w",)) != [None]
    assert dict_forms.has_keyed([None, [dict_forms.Keyed([None], ("w",))]]) and not dict_forms.has_keyed([None])


def dict_keys_weighted(p, x):
    s = 0.0
    for k in p:
        s = s + (2.0 if k.startswith("W") else 0.5) * np.sum(p[k] * x)
    return s + sum(np.sum(v ** 2) for k, v in p.items() if not k.startswith("W"))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_key_test_in_a_conditional_expression_is_decided(jit):
    """`(2.0 if k.startswith("W") else 0.5)` in a loop over a dict's keys was declined ('method .startswith() is
    not supported'): only `if` statements were decided where the loop is unrolled (fuzz seed 224)."""
    rng = np.random.default_rng(3)
    p, x = {"W": rng.normal(size=3), "b": rng.normal(size=3)}, rng.normal(size=3)
    g = srcdiff.grad(dict_keys_weighted, jit=jit)(p, x)
    for k in p:
        np.testing.assert_allclose(g[k], numerical_grad(lambda v, k=k: dict_keys_weighted({**p, k: v}, x), [p[k]], 0),
                                   rtol=1e-6, atol=1e-8)


# ---- the dict's items all at once, copies, keys held in names (h10d) ------------------------------------------
def l2_sum_values(p, x):
    """An L2 penalty over all parameters, in the three ways users write it, and sum(p.values()) itself."""
    pen = sum(np.sum(v ** 2) for v in p.values()) + np.sum([np.sum(v ** 2) for v in p.values()])
    return (np.sum(np.tanh(p["w"] * x + p["b"])) + 0.1 * pen + np.sum(sum(p.values()) * x)
            + np.sum(np.stack(list(p.values())) * x) + np.sum(tuple(p.values())[1]))


def l2_scalar_values(p):
    return sum(p.values()) * sum(v ** 2 for v in p.values())


def copy_forms(p, x):
    """dict(p), {**p}, p.copy(), {**p, "w": ...} and copy.copy: copies whose items written leave p as it is."""
    q = dict(p)
    q["w"] = 3.0 * q["w"]
    r = {**p}
    r["b"] = np.sin(r["b"])
    s = p.copy()
    s["w"] = s["w"] * x
    t = {**p, "w": p["w"] ** 2}
    u = copy.copy(t)
    u["b"] = u["b"] * x
    return (np.sum(q["w"] * r["b"]) + np.sum(s["w"] * p["w"]) + np.sum(t["w"] * t["b"]) + np.sum(p["b"] * x)
            + np.sum(u["w"] * u["b"]))


def _dict_loss(d, x):
    return np.sum(np.tanh(d["w"] * x + d["b"]) ** 2)


def copy_in_a_loop(p, x, n):
    """A copy updated in a loop (steps of descent on it), a key added where it is made, a dict comprehension over
    p.items(), dicts made in the call passed whole to a helper."""
    q = dict(p)
    q["c"] = 0.5 * q["w"]
    for i in range(n):
        q["w"] = q["w"] - 0.1 * np.tanh(q["w"] * x + q["b"])
        if i % 2 == 0:
            q["b"] = q["b"] * 0.9
    half = {k: 0.5 * v for k, v in p.items()}
    return (sum(np.sum(v * x) for v in q.values()) + _dict_loss(half, x) + _dict_loss({**p, "w": p["w"] ** 2}, x)
            + _dict_loss(dict(p, b=x), x))


def keys_in_names(p, x):
    """A key held in a name bound to a string, keys from a tuple of strings (a literal, a name bound to one), in
    loops and comprehensions."""
    k = "w"
    keys = ("w", "b")
    total = np.sum(p[k] * x) + np.sum(p.get(k) ** 2) + (1.0 if k in p else 0.0)
    for key in ("w", "b"):
        total += np.sum(p[key] ** 2)
    for key in keys:
        total = total + 0.5 * np.sum(np.sin(p[key]))
    return total + sum(np.sum(p[j] * x) for j in ("b", "w"))


def _halved_copy(d, x):
    q = dict(d)
    q["w"] = 0.5 * q["w"]
    return _dict_loss(q, x) + np.sum(d["w"])


def dicts_made_here(p, x):
    """A dict made empty and filled (dict(), then its keys), a filtered comprehension over p.items(), a copy made in
    a helper (its item written there, the caller's read after)."""
    q = dict()
    q["w"] = p["w"] * 2.0
    q["b"] = x * p["b"]
    only_w = {k: v for k, v in p.items() if k != "b"}
    return _dict_loss(q, x) + np.sum(only_w["w"] ** 2) * len(only_w) + _halved_copy(p, x) + np.sum(p["w"] * x)


def _zero_first(d):
    d["w"][0] = 0.0
    return np.sum(d["w"] * d["b"])


def deep_copies(p, x):
    """copy.deepcopy(p): its arrays its own, written in place (-=, an element) while p's are read after; passed whole
    to a helper that writes an element of it."""
    q = copy.deepcopy(p)
    q["w"] -= 0.1 * x
    q["w"][1] = 3.0 * q["w"][0]
    return np.sum(q["w"] ** 2) + np.sum(p["w"] * x) + _zero_first(copy.deepcopy(p)) + np.sum(p["w"] ** 2)


DICT_FORMS = [(l2_sum_values, ()), (copy_forms, ()), (copy_in_a_loop, (3,)), (keys_in_names, ()),
              (dicts_made_here, ()), (deep_copies, ())]


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("f, extra", DICT_FORMS, ids=[f.__name__ for f, _ in DICT_FORMS])
def test_dict_values_copies_and_keys_in_names(f, extra, jit):
    """sum(p.values()) ('a dict argument used as a whole value'), copies dict(p) / {**p} / p.copy() / {**p, "w": w2}
    (the same, 'call to builtins.dict', 'Dict expressions are not supported'), p[k] of k = "w" ('can only be indexed
    by a string literal'), a comprehension over a tuple of keys: grad and value_and_grad against central differences,
    jvp (tangent in reverse key order) against the gradient, hvp against differences of gradients; the caller's dict
    is left as it was (a copy's item written is the copy's)."""
    rng = np.random.default_rng(21)
    p, x = {"w": rng.normal(size=3), "b": rng.normal(size=3)}, rng.normal(size=3)
    before = {k: v.copy() for k, v in p.items()}
    value, g = srcdiff.value_and_grad(f, jit=jit)(p, x, *extra)
    assert list(g) == list(p) and all(np.array_equal(p[k], before[k]) for k in p)
    assert value == pytest.approx(f(dict(before), x, *extra), rel=1e-12)
    for k in p:
        np.testing.assert_allclose(g[k], numerical_grad(lambda v, k=k: f({**before, k: v}, x, *extra), [p[k]], 0),
                                   rtol=1e-6, atol=1e-8)
    t = {k: rng.normal(size=3) for k in reversed(list(p))}
    _, d = srcdiff.jvp(f, jit=jit)(p, x, *extra, t)
    assert d == pytest.approx(sum(np.sum(g[k] * t[k]) for k in p), rel=1e-9)
    hv = srcdiff.hvp(f, jit=jit)(p, x, *extra, t)
    gf = srcdiff.grad(f)
    up = gf({k: p[k] + 1e-5 * t[k] for k in p}, x, *extra)
    down = gf({k: p[k] - 1e-5 * t[k] for k in p}, x, *extra)
    for k in p:
        np.testing.assert_allclose(hv[k], (up[k] - down[k]) / 2e-5, rtol=1e-4, atol=1e-6)
    assert all(np.array_equal(p[k], before[k]) for k in p)


def dict_values_vector(p):
    return sum(p.values()) * p["w"]


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_sum_of_a_dicts_values_of_scalars_and_its_vjp(jit):
    """sum(p.values()) of floats (a scalar), and of arrays (an array: vjp with a cotangent)."""
    p = {"a": 0.7, "b": -1.3, "c": 0.4}
    g = srcdiff.grad(l2_scalar_values, jit=jit)(p)
    for k in p:
        assert g[k] == pytest.approx(numerical_grad(lambda v, k=k: l2_scalar_values({**p, k: v}), [p[k]], 0), rel=1e-6)
    rng = np.random.default_rng(22)
    q, ct = {"w": rng.normal(size=3), "b": rng.normal(size=3)}, rng.normal(size=3)
    y, gv = srcdiff.vjp(dict_values_vector, jit=jit)(q, ct)
    np.testing.assert_allclose(y, dict_values_vector(q))
    for k in q:
        np.testing.assert_allclose(gv[k], numerical_grad(lambda v, k=k: np.dot(ct, dict_values_vector({**q, k: v})),
                                                         [q[k]], 0), rtol=1e-6, atol=1e-8)


def dict_key_added_in_a_branch(p, flag):
    q = dict(p)
    if flag:
        q["c"] = 2.0 * q["w"]
    return np.sum(q["w"])


def dict_copied_to_itself(p):
    p = dict(p)
    p["w"] = 2.0 * p["w"]
    return np.sum(p["w"])


def dict_made_in_two_branches(p, x, flag):
    if flag:
        q = dict(p)
    else:
        q = {**p, "w": x}
    return np.sum(q["w"])


def dict_updated(p):
    q = dict(p)
    q.update(w=2.0 * p["w"])
    return np.sum(q["w"])


def dict_built_with_a_variable_key(p, names):
    q = {names[0]: p["w"]}
    return np.sum(q["w"])


def dict_comprehension_over_a_range(p):
    q = {str(i): p["w"] * i for i in range(3)}
    return np.sum(q["1"])


def dict_copy_of_a_non_dict(p, x):
    q = {**p, **x}
    return np.sum(q["w"])


def dict_copy_item_added_in_place(p, x):
    q = dict(p)
    q["w"] += x
    return np.sum(p["w"] ** 2)


def dict_keys_printed(p):
    print(p.keys())
    return np.sum(p["w"])


def dict_printed(p):
    print(p)
    return np.sum(p["w"])


def dict_key_name_shadowed(p):
    k = "w"
    inner = lambda k: np.sum(p[k] ** 2)   # noqa: E731 -- its own k, not the one bound to "w"
    return inner("b") + np.sum(p[k])


def dict_keys_in_a_list_appended_to(p):
    keys = ["w", "b"]
    keys.append("c")
    s = 0.0
    for k in keys:
        s = s + np.sum(p[k] ** 2)
    return s


def dict_items_of_a_dict_built_inline(p, x):
    s = 0.0
    for k, v in dict(p, b=x).items():
        s = s + np.sum(v ** 2)
    return s


def dict_copy_returned_whole(p):
    q = dict(p)
    return q


def test_dict_copies_declined():
    """What srcdiff cannot make a dict's structure of, declined at the line with what to write instead."""
    p = {"w": np.ones(2), "b": np.zeros(2)}
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a new key 'c' added to the dict "
                                                   r"'q' in a branch or loop it was not made in"):
        srcdiff.grad(dict_key_added_in_a_branch)(p, True)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict made here bound to 'p', "
                                                   r"the dict argument"):
        srcdiff.grad(dict_copied_to_itself)(p)
    # (copies of the same keys bound to one name in two branches are its items bound in each: they were declined,
    # "a name bound elsewhere too", until h23c; tests/test_dicts_bound_again.py)
    for flag in (True, False):
        dp, dx = srcdiff.grad(dict_made_in_two_branches, wrt=(0, 1))(p, np.ones(2), flag)
        np.testing.assert_allclose(dp["w"], np.ones_like(p["w"]) if flag else np.zeros_like(p["w"]))
        np.testing.assert_allclose(dx, np.zeros(2) if flag else np.ones(2))
    # (a lambda's parameter k is not the k bound to "w": read as "w" it gave the gradient of p["w"] ** 2, silently)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict argument can only be "
                                                   r"indexed by a string literal"):
        srcdiff.grad(dict_key_name_shadowed)(p)
    # (a list of keys bound to a name may grow: read as its literal, p["c"] was left out of the sum, silently)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict argument can only be "
                                                   r"indexed by a string literal"):
        srcdiff.grad(dict_keys_in_a_list_appended_to)({**p, "c": np.ones(2)})
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: method .items\(\) of a dict built "
                                                   r"in the expression(?s:.*)bind the dict to a name first"):
        srcdiff.grad(dict_items_of_a_dict_built_inline)(p, np.ones(2))
    # (a copy of a dict argument returned: a function of yours may return one, tests/test_dict_copies_returned.py)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: the function you differentiate returns "
                                                   r"a dict"):
        srcdiff.vjp(dict_copy_returned_whole)(p, {"w": np.ones(2), "b": np.ones(2)})
    # (a dict's view read as a value is the list of its items: printed, its text would not be Python's)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: print of a dict, its keys"):
        srcdiff.grad(dict_keys_printed)(p)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: print of a dict, its keys"):
        srcdiff.grad(dict_printed)(p)     # (printed the tuple of its values)
    # (dict(p) copies the dict, not its arrays: q["w"] += x adds into p["w"] too, in Python)
    with pytest.raises(srcdiff.SrcdiffError, match=r'test_dict_forms.py:\d+: `p\["w"\]` shares memory with '
                                                   r'`q\["w"\]`, which this assignment writes in place(?s:.*)'
                                                   r'copy.deepcopy does'):
        srcdiff.grad(dict_copy_item_added_in_place)(p, np.ones(2))
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: method .update\(\) of a dict"):
        srcdiff.grad(dict_updated)(p)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict built with a key srcdiff "
                                                   r"cannot know"):
        srcdiff.grad(dict_built_with_a_variable_key)(p, ("w",))
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict comprehension over "
                                                   r"something other than"):
        srcdiff.grad(dict_comprehension_over_a_range)(p)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict built from something "
                                                   r"other than a dict argument"):
        srcdiff.grad(dict_copy_of_a_non_dict)(p, np.ones(2))


def test_export_of_dict_copies(tmp_path):
    """A function making dicts from its dict argument exports as one taking the dict (its gradient a dict)."""
    rng = np.random.default_rng(24)
    p, x = {"w": rng.normal(size=3), "b": rng.normal(size=3)}, rng.normal(size=3)
    vg = srcdiff.value_and_grad(copy_in_a_loop)
    value, g = vg(p, x, 3)
    mod, _ = exported(vg, tmp_path, "copy_in_a_loop_vg")
    v2, g2 = mod.copy_in_a_loop_value_and_grad(p, x, 3)
    assert v2 == pytest.approx(value) and list(g2) == list(p)
    for k in p:
        np.testing.assert_allclose(g2[k], g[k])


# ---- the function differentiated writing into its dict argument; a dict passed whole to a library function (h11d) ---
def writes_its_dict_item(p, y):
    p["w"] = 2.0 * p["w"]
    return np.sum(p["w"] * y)


def scales_its_dict_float(p, y):
    p["s"] *= 2.0
    return p["s"] * np.sum(y)


def writes_a_dict_in_its_list(layers, y):
    layers[0]["w"] = 2.0 * layers[0]["w"]
    return np.sum(layers[0]["w"] * y)


def writes_an_element_of_its_dict_item(p, y):
    p["w"][0] = 2.0 * p["w"][0]
    return np.sum(p["w"] * y)


def writes_a_copy_of_its_dict(p, y):
    q = dict(p)
    q["w"] = 2.0 * q["w"]
    return np.sum(q["w"] * y) + np.sum(p["w"])


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_the_differentiated_function_writing_an_item_of_its_dict_argument(jit):
    """`p["w"] = ...` in the function differentiated changes the caller's dict in Python, where value_and_grad left
    it as it was (each item a parameter of its own: silently unlike f(p)): declined at the line, with the copy to
    write, in grad and jvp. An element of an item written (`p["w"][0] = ...`) writes the caller's array, as Python
    does and as an array argument's element write does; a copy's item written leaves p as it is."""
    y = np.array([0.5, -1.0, 2.0])
    for f, key in ((writes_its_dict_item, "w"), (scales_its_dict_float, "s")):
        p = {key: np.ones(3) if key == "w" else 1.5}
        for call in (lambda: srcdiff.value_and_grad(f, jit=jit)(p, y), lambda: srcdiff.jvp(f, jit=jit)(p, y, p)):
            with pytest.raises(srcdiff.SrcdiffError, match=rf'test_dict_forms.py:\d+: `p\["{key}"\]` assigned, an item '
                                                           rf"of the dict argument 'p'(?s:.*)q = dict\(p\); "
                                                           rf'q\["{key}"\] = '):
                call()
    with pytest.raises(srcdiff.SrcdiffError, match=r'test_dict_forms.py:\d+: `layers\[0\]\["w"\]` assigned, an item '
                                                   r"of a dict in the argument 'layers'"):
        srcdiff.grad(writes_a_dict_in_its_list, jit=jit)([{"w": np.ones(3)}], y)
    for f in (writes_an_element_of_its_dict_item, writes_a_copy_of_its_dict):
        p, q = {"w": np.array([1.0, 2.0, 3.0])}, {"w": np.array([1.0, 2.0, 3.0])}
        value, g = srcdiff.value_and_grad(f, jit=jit)(p, y)
        assert value == pytest.approx(f(q, y), rel=1e-12)
        np.testing.assert_array_equal(p["w"], q["w"])          # the caller's dict as Python leaves it


def stacks_its_dict(p):
    return np.sum(np.stack(p) ** 2)


def sorts_its_dict(p):
    first = sorted(p)[0]
    return np.sum(p[first])


def max_of_its_dict(p):
    return max(p) * 1.0


def stacks_a_list_of_dicts(layers):
    return np.sum(np.stack(layers))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_dict_passed_whole_to_a_library_function_is_declined(jit):
    """A dict passed whole to a function not of the user's was the tuple of its values: np.stack(p) computed where
    Python raises, max(p) of its values where Python's is of its keys; declined at the line."""
    p = {"w": np.ones(2), "b": 2.0 * np.ones(2)}
    for f, args in ((stacks_its_dict, (p,)), (sorts_its_dict, (p,)), (max_of_its_dict, ({"a": 1.0, "b": 2.0},)),
                    (stacks_a_list_of_dicts, ([p, p],))):
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_forms.py:\d+: a dict passed whole to a function "
                                                       r"that is not one of yours"):
            srcdiff.grad(f, jit=jit)(*args)


# ---- `for k in sorted(p)` over a dict argument: unrolled over its keys in sorted order (also `sorted(p.keys(),
# reverse=True)` and in a comprehension), as `for k in p` is over its keys; declined before, as a dict passed whole
# to a library function ------------------------------------------------------------------------------------------
def loops_over_sorted_keys(p):
    total = 0.0
    for k in sorted(p):     # (the order matters: each step halves what came before)
        total = total * 0.5 + np.sum(p[k] ** 2) * len(k)
    for k in sorted(p.keys(), reverse=True):
        total = total * 0.9 + np.sum(np.sin(p[k]))
    return total + sum(np.sum(p[k]) * 0.1 for k in sorted(p))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_loop_over_the_sorted_keys_of_a_dict(jit):
    p = {"bb": np.array([0.3, 0.4]), "a": np.array([1.0, -2.0]), "c": np.array([0.5, 0.1])}
    value, g = srcdiff.value_and_grad(loops_over_sorted_keys, jit=jit)(p)
    assert value == pytest.approx(loops_over_sorted_keys(p), rel=1e-12)
    assert list(g) == list(p)
    for k in p:
        want = numerical_grad(lambda v, k=k: loops_over_sorted_keys({**p, k: v}), [p[k]], 0)
        np.testing.assert_allclose(g[k], want, rtol=1e-6, atol=1e-8)
    t = {k: np.array([1.0, -0.5]) for k in p}
    value, tangent = srcdiff.jvp(loops_over_sorted_keys, jit=jit)(p, t)
    assert tangent == pytest.approx(sum(np.sum(g[k] * t[k]) for k in p), rel=1e-10)
