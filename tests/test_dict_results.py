"""Dicts a function makes of its own values (`p = {"W": W, "b": b}`, no dict argument needed), dicts your functions
return (`def params(W, b): return {"W": W, "b": b}` ... `p = params(W, b); p["W"] @ x`: transforms/dict_forms.py,
`returned_dict`), and `.get` of a module-level dict (`CONFIG.get("lam", 1.0)`: transforms/resolve.py); both
backends, against central differences, and the forms declined (at the user's line, with advice that works)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad

CONFIG = {"lam": 0.5, "opt": {"lr": 0.1}, "w0": np.array([1.0, 2.0, 3.0])}


def params(W, b):
    return {"W": W, "b": b}


def layer(p, x):
    return np.tanh(p["W"] @ x + p["b"])


def local_display(W, b, x):
    p = {"W": W, "b": b}
    return np.sum((p["W"] @ x + p["b"]) ** 2)


def local_display_get_and_items(W, b, x):
    d = {"a": W @ x, "c": 2.0 * b}
    s = d.get("c", 0.0) * d.get("missing", 1.5)
    for k, v in d.items():
        s = s + np.sum(v * v)
    for v in d.values():
        s = s + np.sum(v)
    for k in d.keys():
        s = s + np.sum(d[k])
    return np.sum(s)


def helper_dict(W, b, x):
    p = params(W, b)
    y = p["W"] @ x + p["b"]
    return np.sum(y * y)


def params_by_keywords(W, b):
    return dict(W=W, b=b)


def helper_dict_by_keywords(W, b, x):
    p = params_by_keywords(np.sin(W), b)
    return np.sum(p["W"] @ x) * np.sum(p["b"]) + np.sum(params_by_keywords(W, b)["b"] ** 2)


def helper_dict_read_at_once(W, b, x):
    return np.sum(params(W, b)["W"] @ x) + np.sum(params(2.0 * W, b)["b"] ** 2)


def helper_dict_passed_on(W, b, x):
    p = params(W, 2.0 * b)
    h = layer(p, x)
    s = 0.0
    for k, v in p.items():
        s = s + np.sum(v * v)
    return np.sum(h) + s + p.get("c", 0.5) * np.sum(p.get("b", 0.0))


def nested_helper_dict(W, b, x):
    def mk(u):
        return {"a": u * W, "c": b}
    q = mk(x)
    return np.sum(q["a"]) + np.sum(q["c"] ** 2)


def helper_dict_in_a_loop(W, b, x):
    s = 0.0
    for i in range(3):
        p = params(W * (i + 1.0), b)
        s = s + np.sum(layer(p, x))
    return s


def config_get(w):
    lam = CONFIG.get("lam", 1.0)
    mu = CONFIG.get("mu", 2.0)
    lr = CONFIG["opt"].get("lr")
    w0 = CONFIG.get("w0", None)
    if CONFIG.get("zz") is None:
        mu = mu + 1.0
    return lam * np.sum(w * w) + mu * np.sum(w) + lr * np.sum((w - w0) ** 2)


def tuple_of_dicts(W, b, x):
    layers = ({"W": W, "b": b}, {"W": 0.5 * W, "b": np.sin(b)})
    h = x
    for layer in layers:
        h = np.tanh(layer["W"] @ h + layer["b"])
    return np.sum(h) + sum(np.sum(l["W"] ** 2) for l in layers)


def list_of_dicts_passed_on(W, b, x):
    layers = [{"W": W, "b": b}, {"W": W.T, "b": b * b}]
    return sum(np.sum(layer(p, x)) for p in layers) + layer(layers[1], x)[0]


def _scaled(t):
    p, d = t
    return p * np.sum(d["w"])


def tuple_holding_a_dict(W, b, x):
    d = {"w": W @ x}
    return _scaled((np.sum(b), d)) + _scaled((1.0, {"w": b}))


def named_params(W, b):
    q = {"W": W * 2.0, "b": b}
    return q


def named_with_keys_added(W, b):
    q = dict(W=np.sin(W))
    q["b"] = b * b
    q["W"] = q["W"] + 1.0
    if np.sum(b) > 0.0:
        return {"W": q["W"] * 0.5, "b": q["b"]}
    return q


def named_dict_returned(W, b, x):
    p = named_params(W, b)
    r = named_with_keys_added(W, b)
    h = layer(p, x)
    return np.sum(h * h) + np.sum(r["W"] @ x) * np.sum(r["b"]) + np.sum(named_params(W, b)["b"] ** 2)


def nested_named_dict(W, b, x):
    def mk(u):
        d = {"a": u * W}
        d["c"] = np.tanh(b)
        return d
    q = mk(x)
    return np.sum(q["a"]) + np.sum(q["c"] ** 2)


def named_dict_in_a_loop(W, b, x):
    s = 0.0
    for i in range(2):
        p = named_params(W * (i + 1.0), b)
        s = s + np.sum(layer(p, x))
    return s


CASES = [named_dict_returned, nested_named_dict, named_dict_in_a_loop, helper_dict_by_keywords, tuple_of_dicts, list_of_dicts_passed_on, tuple_holding_a_dict, local_display, local_display_get_and_items, helper_dict, helper_dict_read_at_once, helper_dict_passed_on,
         nested_helper_dict, helper_dict_in_a_loop]


def _args():
    rng = np.random.default_rng(3)
    return [rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_dicts_made_here_and_returned_by_helpers(f, jit):
    args = _args()
    got = check_grad(f, args, wrt=(0, 1), jit=jit)
    value, vg = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    np.testing.assert_allclose(value, f(*args))
    for a, b in zip(got, vg):
        np.testing.assert_allclose(a, b)
    if jit:
        py = srcdiff.grad(f, wrt=(0, 1))(*args)
        for a, b in zip(got, py):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", [helper_dict, nested_helper_dict, named_dict_returned, nested_named_dict],
                         ids=["module", "nested", "module_named", "nested_named"])
def test_jvp_and_hvp_through_a_returned_dict(f):
    args = _args()
    v = np.ones(3)
    value, tangent = srcdiff.jvp(f, wrt=2)(*args, v)
    eps = 1e-6
    expect = (f(args[0], args[1], args[2] + eps * v) - f(args[0], args[1], args[2] - eps * v)) / (2 * eps)
    np.testing.assert_allclose(value, f(*args))
    np.testing.assert_allclose(tangent, expect, rtol=1e-5, atol=1e-6)
    g = srcdiff.grad(f, wrt=2)
    hv = srcdiff.hvp(f, wrt=2)(*args, v)
    fd = (g(args[0], args[1], args[2] + eps * v) - g(args[0], args[1], args[2] - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv, fd, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_get_of_a_module_level_dict(jit):
    check_grad(config_get, [np.array([0.3, -0.2, 0.9])], wrt=0, jit=jit)


# ---- declined --------------------------------------------------------------------------------------------------
def keys_by_path(W, flag):
    if flag:
        return {"W": W}
    return {"V": W}      # <- other keys


def reads_keys_by_path(W, b, x):
    p = keys_by_path(W, True)
    return np.sum(p["W"] @ x)


def passes_the_call_on(W, b, x):
    return np.sum(layer(params(W, b), x))


def passes_the_call_after_a_call(W, b, x):
    return np.sum(layer(params(b, b), x)) + np.sum(layer(params(W, b), x))     # <- passed on


def passes_the_name_on(W, b, x):     # (the advice of passes_the_call_on)
    p = params(W, b)
    return np.sum(layer(p, x))


def returns_a_dict(W, b, x):
    return {"W": W @ x, "b": b}       # <- returned


def returns_a_named_dict(W, b, x):
    q = {"W": W @ x, "b": b}
    return q       # <- returned by name


def keys_added_after_a_return(W, flag):
    q = {"W": W}
    if flag:
        return q       # <- keys added after
    q["b"] = W * 2.0
    return q


def reads_keys_added_after_a_return(W, b, x):
    p = keys_added_after_a_return(W, True)
    return np.sum(p["W"] @ x)


def config_get_runtime_key(w, k):
    return CONFIG.get(k, 1.0) * np.sum(w)     # <- runtime key


def _line(tag):
    with open(__file__) as fh:
        return next(i for i, l in enumerate(fh, 1) if l.rstrip().endswith(f"# <- {tag}"))


@pytest.mark.parametrize("f, tag, what, advice", [
    (reads_keys_by_path, "other keys", "not a dict display of the same string keys on every path",
     "return a tuple of the values"),
    (passes_the_call_after_a_call, "passed on", "used here other than bound to a name or read at a key",
     "bind it to a name first (p = params(...))"),
    (returns_a_dict, "returned", "the function you differentiate returns a dict", "returns one of its items"),
    (returns_a_named_dict, "returned by name", "the function you differentiate returns a dict",
     "returns one of its items"),
    (reads_keys_added_after_a_return, "keys added after", "the dict 'q' returned here with the keys 'W' and with "
                                                          "'W', 'b' at another return", "add the keys before the first"),
])
def test_returned_dicts_declined(f, tag, what, advice):
    args = _args()
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(f, wrt=0)(*args)
    assert f"{__file__}:{_line(tag)}:" in str(e.value) and what in str(e.value) and advice in str(e.value)


def test_the_advice_for_a_dict_passed_on_works():
    check_grad(passes_the_name_on, _args(), wrt=(0, 1))


# a dict a function of yours returns passed straight to another call (h29c): bound to a name first
# (transforms/passed_records.py), where no other call of yours runs before it in the statement; it was declined as
# "used here other than bound to a name or read at a key"
def copied_with(p, scale):
    return dict(p, b=p["b"] * scale)


def passed_in_places(W, b, x):
    total = np.sum(layer(params(W, b), x))
    for i in range(2):
        total = total + np.sum(layer(x=x, p=params(W * (i + 1.0), np.sin(b))))    # by keyword, in a loop
    p = params(W, b)
    return total + np.sum(layer(copied_with(p, 0.5), x) ** 2)     # a copy of a dict made here


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", [passes_the_call_on, passed_in_places])
def test_a_dict_returned_passed_straight_to_a_call(f, jit):
    check_grad(f, _args(), wrt=(0, 1), jit=jit)


def test_get_of_a_module_level_dict_at_a_runtime_key_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="known only at run time") as e:
        srcdiff.grad(config_get_runtime_key)(np.ones(3), "lam")
    assert f":{_line('runtime key')}:" in str(e.value) and 'CONFIG.get("lam", 1.0)' in str(e.value)


def key_tests_decided(W, b):
    d = {"W": W}
    if "b" in d:
        return np.sum(d["b"])       # (Python never reaches it: was 'no key 'b' in the dict argument')
    s = np.sum(d["b"]) if "b" in d else 0.5 * np.sum(b)
    if "W" in d and "b" not in d:
        s = s + np.sum(d["W"] ** 2)
    return s


def key_tests_of_an_argument(p, b):
    if "b" in p:
        return np.sum(p["b"])
    return np.sum(p["W"] ** 2) + np.sum(b) * (p["c"] if "c" in p else 2.0)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_reads_under_a_key_test_decided_false(jit):
    """README: a dict read `under "W" in params`: the branch a key test decided when srcdiff compiles does not take
    was flattened too, and its read of the missing key declined ("Python raises KeyError here", which Python never
    reaches)."""
    args = _args()
    check_grad(key_tests_decided, args[:2], wrt=(0, 1), jit=jit)
    g = srcdiff.grad(key_tests_of_an_argument, wrt=(0, 1), jit=jit)({"W": args[0]}, args[1])
    np.testing.assert_allclose(g[0]["W"], 2 * args[0])
    np.testing.assert_allclose(g[1], 2.0 * np.ones(3))


def layers_by_formatted_keys(p, x):
    h = x
    for i in range(2):
        h = np.tanh(p[f"W{i}"] @ h + p[f"b{i}"])
    return np.sum(h)


def made_layers_by_formatted_keys(W, b, x):
    p = {"W0": W, "b0": b, "W1": W.T, "b1": np.sin(b)}
    s = 0.0
    for i in range(1, 2):
        s = s + np.sum(p[f"W{i}"] @ x) * np.sum(p[f"b{i - 1}"])
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_keys_formatted_in_a_range_loop(jit):
    """`for i in range(2): p[f"W{i}"]` (was 'a dict argument can only be indexed by a string literal here'): the loop
    unrolled, each key known."""
    W, b, x = _args()
    p = {"W0": W, "b0": b, "W1": W.T, "b1": b * b}
    g = srcdiff.grad(layers_by_formatted_keys, jit=jit)(p, x)
    eps = 1e-6
    for k in p:
        for i in np.ndindex(p[k].shape):
            d = np.zeros_like(p[k])
            d[i] = eps
            hi = layers_by_formatted_keys({**p, k: p[k] + d}, x)
            lo = layers_by_formatted_keys({**p, k: p[k] - d}, x)
            np.testing.assert_allclose(g[k][i], (hi - lo) / (2 * eps), rtol=1e-5, atol=1e-8)
    check_grad(made_layers_by_formatted_keys, [W, b, x], wrt=(0, 1), jit=jit)


def _returns_forms():
    """Functions returning dicts in each form returned_keys reads (and two that return none)."""
    def empty(x):
        return {}

    def display(x):
        return {"a": x, "b": x * 2}

    def big(x):
        return {"k0": x, "k1": x, "k2": x, "k3": x, "k4": x, "k5": x, "k6": x, "k7": x, "k8": x, "k9": x, "k10": x,
                "k11": x, "k12": x, "k13": x, "k14": x, "k15": x, "k16": x, "k17": x, "k18": x}

    def comp(x):
        return {k: x for k in ("a", "b")}

    def call(x):
        return dict(a=x, b=x)

    def merged(x, d):
        return {**d}

    def nested(x):
        def inner(y):
            return {"a": y}
        return inner(x)["a"]

    def branch(x):
        if x > 0:
            return {"a": x}
        return x
    return [empty, display, big, comp, call, merged, nested, branch, params, lambda x: {"a": x}, layer]


def test_the_dict_return_check_parses_only_functions_that_may_return_one():
    """build_module declines a differentiated function that returns a dict (module_builder._decline_dict_result):
    it parsed every function a second time to look, a tenth of the front end of a long function; now only one whose
    code object can build a dict (dict_forms.may_return_dict), which must hold of every function returning one."""
    import inspect
    import sys
    import tempfile
    import fuzz_runner
    from srcdiff import module_builder
    from srcdiff.transforms import dict_forms, parse
    functions = _returns_forms()
    with tempfile.TemporaryDirectory() as d:
        for seed in range(60):
            module = fuzz_runner.program_for(seed).load(d, f"dict_returns_{seed}")
            functions += [f for f in vars(module).values() if inspect.isfunction(f) and f.__module__ == module.__name__]
            sys.modules.pop(module.__name__, None)
    returning = [f for f in functions if dict_forms.module_function_keys(f)[0] is not None]
    assert len(returning) >= 9 and all(dict_forms.may_return_dict(f) for f in returning)
    assert not dict_forms.may_return_dict(helper_dict) and not dict_forms.may_return_dict(_returns_forms()[6])

    parsed = []
    real = parse.parse

    def counting(fn):
        parsed.append(fn)
        return real(fn)
    parse.parse = counting
    try:
        dict_forms._RETURNED.pop(layer.__code__, None)
        module_builder.build_module(layer, ["x"], "grad")
    finally:
        parse.parse = real
    assert [p for p in parsed if p is layer] == [layer]      # (the front end's parse only)


# ---- a function of yours returning a list or tuple of dicts (h29c): declined at its `return`, naming the list and
# saying what works (was "call to builtins.dict: classes, instances and bound methods are not supported" for
# `dict(w=a)`, and "dict displays used as values" for `{...}`); the forms its advice gives are differentiated.
def listed_layers(a, b):
    return [dict(w=a), dict(w=b)]


def over_listed_layers(x):
    t = 0.0
    for layer in listed_layers(x, 2.0 * x):
        t = t + np.sum(layer["w"] ** 2)
    return t


def tuple_of_dicts(a, b):
    return {"w": a}, {"w": b * a}


def unpacked_dicts(x):
    l1, l2 = tuple_of_dicts(x, 2.0 * x)
    return np.sum(l1["w"] * l2["w"])


def comprehended_dicts(ws):
    return [{"w": w} for w in ws]


def over_comprehended(x):
    return sum(np.sum(d["w"]) for d in comprehended_dicts((x, np.sin(x))))


@pytest.mark.parametrize("f, helper, kind", [(over_listed_layers, "listed_layers", "list"),
                                             (unpacked_dicts, "tuple_of_dicts", "tuple"),
                                             (over_comprehended, "comprehended_dicts", "list")])
def test_a_list_of_dicts_returned_is_declined_at_its_return(f, helper, kind):
    for transform in (srcdiff.grad, lambda g: (lambda x: srcdiff.jvp(g)(x, np.ones(2)))):
        with pytest.raises(srcdiff.SrcdiffError, match=rf"test_dict_results.py:\d+: your function {helper} returns a "
                                                       rf"{kind} of dicts(?s:.*)    return (?s:.*)hint: make the list where "
                                                       r"you use it"):
            transform(f)(np.array([0.3, -0.5]))


def layers_made_here(x):
    layers = [dict(w=x), dict(w=2.0 * x)]
    t = 0.0
    for layer in layers:
        t = t + np.sum(layer["w"] ** 2)
    return t


def one_dict_of_the_arrays(a, b):
    return {"w0": a, "w1": b}


def over_one_dict(x):
    p = one_dict_of_the_arrays(x, 2.0 * x)
    return np.sum(p["w0"] ** 2) + np.sum(p["w1"] ** 2)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", [layers_made_here, over_one_dict])
def test_what_the_list_of_dicts_advice_says_works(f, jit):
    check_grad(f, [np.array([0.3, -0.5])], jit=jit)


_RETURNS_ITS_DICT = '''import numpy as np


def f(x):
    return {"W": x * 2.0}
'''


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_dict_returned_is_declined_in_its_own_file(jit):
    """Two modules whose f (returning a dict, declined) is the same code on the same line: code objects compare equal
    across files, and dict_forms kept the parsed unit per code object, so the second module's decline named the
    first module's file."""
    from gradcheck import source_module
    mods = [source_module(f"dict_alike_{k}_{jit}", _RETURNS_ITS_DICT) for k in range(2)]
    assert mods[0].f.__code__ == mods[1].f.__code__
    for mod in mods:
        with pytest.raises(srcdiff.SrcdiffError, match="returns a dict") as e:
            srcdiff.grad(mod.f, jit=jit)(np.ones(3))
        assert f"{mod.__file__}:5:" in str(e.value)
