"""A function of yours returning a copy of a dict it takes, written or with keys added (`q = dict(p)`, `p.copy()`,
`{**p}`, `copy.copy(p)`, then `q["W"] = 2.0 * q["W"]`, `q["c"] = ...`, `return q`): its keys are the keys of the dict
each call passes (dict_forms.CopiedKeys). Before (h26c), declined at `return q` as "a dict made in the function used as
a whole value". Both backends, against central differences; grad of a dict argument comes back as a dict."""
import copy

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def doubled(p):
    q = dict(p)
    q["W"] = q["W"] * 2.0
    return q


def with_a_key(p, h=0.5):
    q = p.copy()
    q["c"] = np.tanh(q["b"] * h)
    return q


def unpacked(p):
    q = {**p}
    q["b"] = np.sin(q["b"])
    return q


def shallow(p):
    q = copy.copy(p)
    q["W"] = q["W"] + q["b"]
    return q


def made_here(W, b):
    p = {"W": W, "b": b}
    q = doubled(p)
    return np.sum(q["W"] * q["b"])


def of_an_argument(W, b):
    q = with_a_key({"W": W, "b": b}, h=0.7)
    r = unpacked(q)
    return np.sum(r["W"] ** 2 * r["b"]) + np.sum(r["c"] * W)


def read_at_once(W, b):
    p = {"W": W, "b": b}
    return np.sum(shallow(p)["W"] * np.cos(b)) + np.sum(doubled(p)["W"])


def bumped(d):
    e = dict(d, b=d["b"] * 3.0)
    e["s"] = np.sum(e["W"])
    return e


def keywords_added(W, b):
    q = bumped({"W": W, "b": b})
    return q["s"] * np.sum(q["b"] * W)


def overridden(p):
    q = {**p, "W": p["W"] * 3.0, "c": np.cos(p["b"])}
    return q


def keys_overridden(W, b):
    q = overridden({"W": W, "b": b})
    return np.sum(q["W"] * q["c"]) + np.sum(q["b"])     # (was declined at `return q`: `{**p, "W": ...}`, h27c)


W0, B0 = np.array([0.3, -0.5, 1.1]), np.array([0.7, 0.2, -0.4])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [made_here, of_an_argument, read_at_once, keywords_added, keys_overridden])
def test_a_copy_of_a_dict_your_function_returns(f, jit):
    value, (dW, db) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(W0.copy(), B0.copy())
    assert value == pytest.approx(f(W0.copy(), B0.copy()), rel=1e-12)
    np.testing.assert_allclose(dW, numerical_grad(f, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_grad(f, [W0, B0], 1), rtol=1e-6, atol=1e-8)


def of_a_dict_argument(p):
    q = with_a_key(p)
    return np.sum(q["W"] ** 2 * q["c"])


def test_of_a_dict_argument():
    p = {"W": W0.copy(), "b": B0.copy()}
    g = srcdiff.grad(of_a_dict_argument)(p)
    f = lambda W, b: of_a_dict_argument({"W": W, "b": b})
    np.testing.assert_allclose(g["W"], numerical_grad(f, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g["b"], numerical_grad(f, [W0, B0], 1), rtol=1e-6, atol=1e-8)


S = __import__("collections").namedtuple("S", ["W", "b"])


def stepped(s):
    return s._replace(W=s.W * 2.0)


def namedtuple_bound_to_a_returned_one(W, b):
    s = S(W, b)
    s = stepped(s)
    return np.sum(s.W * s.b)


def test_a_namedtuple_a_function_of_yours_returns():
    """A namedtuple made here and bound again to one a function of yours returns (`s = step(s)` of `return
    s._replace(...)`): its fields variables of their own, bound to the tuple of the fields' values the function returns
    (record_returns.py). It was "call to ...S: classes, instances and bound methods are not supported" (h26c), then
    declined naming the construct (h26c), supported since h27c (tests/test_namedtuples_returned.py)."""
    f = namedtuple_bound_to_a_returned_one
    value, (dW, db) = srcdiff.value_and_grad(f, wrt=(0, 1))(W0.copy(), B0.copy())
    assert value == pytest.approx(f(W0.copy(), B0.copy()), rel=1e-12)
    np.testing.assert_allclose(dW, numerical_grad(f, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numerical_grad(f, [W0, B0], 1), rtol=1e-6, atol=1e-8)


# ---- the same copies made in a def nested in the function (dict_forms.copies_nested_parameter): they were declined
# as "a dict built from something other than a dict argument or a dict made from one" (where `p.copy()` worked), h27c

def nested_copies(W, b):
    def doubled_here(p):
        q = dict(p)
        q["W"] = q["W"] * 2.0
        return q

    def unpacked_here(d):
        q = {**d}
        q["b"] = np.sin(q["b"])
        return q

    def shallow_here(p):
        q = copy.copy(p)
        q["c"] = q["W"] + q["b"]
        return q

    def bumped_here(d):
        e = dict(d, b=d["b"] * 3.0)
        return e
    p = {"W": W, "b": b}
    q = doubled_here(p)
    r = unpacked_here(q)
    t = shallow_here(r)
    u = bumped_here(t)
    return np.sum(u["W"] * u["b"]) + np.sum(t["c"] ** 2) + np.sum(r["b"] * W)


def nested_copy_of_an_argument(p, x):
    def scaled(d):
        q = {**d, "W": d["W"] * x}
        return q
    q = scaled(p)
    return np.sum(q["W"] * q["b"])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_copies_made_in_a_nested_def(jit):
    from gradcheck import check_value_grad_jvp
    check_value_grad_jvp(nested_copies, (W0.copy(), B0.copy()), (0, 1), jit, (W0 * 0.5, B0 - 1.0), atol=1e-8)
    p, x = {"W": W0.copy(), "b": B0.copy()}, np.array([2.0, -1.0, 0.5])
    g = srcdiff.grad(nested_copy_of_an_argument, jit=jit)(p, x)
    f = lambda W, b: nested_copy_of_an_argument({"W": W, "b": b}, x)
    np.testing.assert_allclose(g["W"], numerical_grad(f, [W0, B0], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g["b"], numerical_grad(f, [W0, B0], 1), rtol=1e-6, atol=1e-8)


# ---- the function you differentiate returning such a copy: declined as a dict display returned is (README: "the
# function you differentiate returning a dict"), by every transform; jacobian ran it first and raised TypeError
# ("float() argument must be a string or a real number, not 'dict'", h27c)

def copy_returned(p):
    q = dict(p)
    q["W"] = 2.0 * q["W"]
    return q    # <- copy_returned


def method_copy_returned(p):
    q = p.copy()
    q["c"] = np.sin(q["b"])
    return q    # <- method_copy_returned


def unpacked_returned(p):
    q = {**p}
    return q    # <- unpacked_returned


def display_returned(p):
    return {"W": p["W"] * 2.0, "b": p["b"]}     # <- display_returned


def sometimes_a_dict(p, k):
    d = {}
    return p if k > 0 else d


@pytest.mark.parametrize("f", [copy_returned, method_copy_returned, unpacked_returned, display_returned])
@pytest.mark.parametrize("how", ["grad", "jvp", "vjp", "jacobian", "hessian"])
def test_the_function_differentiated_returning_a_copy_is_declined(f, how):
    import inspect
    src, start = inspect.getsourcelines(f)
    line = start + next(k for k, t in enumerate(src) if f"# <- {f.__name__}" in t)
    p = {"W": W0.copy(), "b": B0.copy()}
    made = {"grad": lambda: srcdiff.grad(f)(p), "jvp": lambda: srcdiff.jvp(f)(p, p),
            "vjp": lambda: srcdiff.vjp(f)(p, 1.0), "jacobian": lambda: srcdiff.jacobian(f)(p),
            "hessian": lambda: srcdiff.hessian(f)(p)}[how]
    with pytest.raises(srcdiff.SrcdiffError, match=rf"test_dict_copies_returned.py:{line}: the function you "
                                                   r"differentiate returns a dict(?s:.*)hint: differentiate a function"):
        made()


def test_jacobian_of_a_function_that_returns_a_dict_it_was_passed():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_dict_copies_returned.py:\d+: sometimes_a_dict returned a "
                                                   r"dict: the jacobian is of a function of arrays and numbers"):
        srcdiff.jacobian(sometimes_a_dict, wrt=0)({"W": W0.copy()}, 1)


# ---- a list of copies made by a comprehension over a list of dicts (`out = [dict(l) for l in layers]`, then
# `out[0]["W"] = ...`): unrolled into the list literal of the copies, as `[dict(layers[0]), dict(layers[1])]` was
# read (dict_forms.make_dicts). It was declined as "a dict argument used as a whole value" (h27c).

def copies_in_a_comprehension(layers, x):
    out = [dict(l) for l in layers]
    out[0]["W"] = out[0]["W"] * x
    return np.sum(out[0]["W"] * out[1]["b"]) + np.sum(layers[0]["W"] * layers[1]["W"])


def copies_of_dicts_made_here(W, b, x):
    layers = [{"W": W, "b": b}, {"W": b * 2.0, "b": W}]
    return copies_in_a_comprehension(layers, x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_copies_made_by_a_comprehension(jit):
    from gradcheck import check_value_grad_jvp
    x = np.array([2.0, -1.0, 0.5])
    check_value_grad_jvp(copies_of_dicts_made_here, (W0.copy(), B0.copy(), x), (0, 1), jit, (W0 * 0.5, B0 - 1.0),
                         atol=1e-8)
    layers = [{"W": W0.copy(), "b": B0.copy()}, {"W": B0 * 2.0, "b": W0 * 3.0}]
    g = srcdiff.grad(copies_in_a_comprehension, jit=jit)(layers, x)
    f = lambda a, c, d, e: copies_in_a_comprehension([{"W": a, "b": c}, {"W": d, "b": e}], x)
    flat = [layers[0]["W"], layers[0]["b"], layers[1]["W"], layers[1]["b"]]
    got = [g[0]["W"], g[0]["b"], g[1]["W"], g[1]["b"]]
    for k in range(4):
        np.testing.assert_allclose(got[k], numerical_grad(f, flat, k), rtol=1e-6, atol=1e-8)


# ---- a comprehension's variable named as a loop's over dicts made here (`sum(q["u"] for q in layers)`, `for q in
# layers:`): the comprehension's q is its own (Python 3), and the loop unrolls. Counted as a second binding of q, the
# loop's q was the literal of a dict's items, and `q["u"]` declined as "a tuple of differentiated values is indexed by
# a variable" (on 94b6868 too; found by fuzz seeds 61, 74, 162, 241 of the comprehension of copies, h27c)

def comprehension_and_loop_share_a_name(x, a):
    layers = ({"u": x, "w": a}, {"u": 0.5, "w": np.sin(a)})
    copies = [dict(q) for q in layers]
    copies[0]["w"] = copies[0]["w"] * 0.5 + copies[1]["u"]
    acc = sum(q["u"] * x for q in layers)
    for q in copies:
        acc = acc + q["u"] * np.sum(np.tanh(q["w"]))
    v = np.array([x * (q + 1.0) for q in range(3)])    # (not unrolled: its q is its own, not the loop's last)
    return acc * np.sum(v) + q["u"] * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_comprehension_variable_named_as_a_loop_variable(jit):
    from gradcheck import check_value_grad_jvp
    check_value_grad_jvp(comprehension_and_loop_share_a_name, (0.7, np.array([1.0, -2.0])), (0, 1), jit,
                         (0.5, np.array([1.0, 0.25])), atol=1e-8)
