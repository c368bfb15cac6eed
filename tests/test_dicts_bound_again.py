"""transforms/dict_forms.py (rebound_dicts, new_dict_name): a name bound more than once, each time to a dict made
in the function (a display, `dict(...)`, a copy, a call of a function of yours returning a dict display), of the
same keys: `if c: p = params(a)` / `else: p = params(b)`, or a loop's `p = params(p["W"], ...)`. Each item is a
variable bound at each binding, which SSA merges as any variable. It was declined as "a name bound elsewhere too",
with advice for dict arguments (`p = dict(params)`) that does not fit (h23c). Bindings of other keys, and a key
added to such a dict, are declined at the user's line naming the keys."""
import inspect
import sys

import numpy as np
import pytest

import srcdiff
from gradcheck import check_value_grad_jvp

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def params(a, s):
    return {"W": a * s, "b": np.sin(a)}


def helper_in_both_branches(x, y, c):
    if c > 0:
        p = params(x, 2.0)
    else:
        p = params(y, 0.5)
    return np.sum(p["W"] * p["b"])


def display_and_helper(x, y, c):
    if c > 0:
        p = {"W": x * y, "b": np.cos(x)}
    else:
        p = params(y, 3.0)
    p["b"] = p["b"] * x
    return np.sum(p["W"] * p["b"]) + np.sum(p.get("b"))


def carried_by_a_loop(x, y, n):
    p = params(x, 1.0)
    for i in range(n):
        p = params(p["W"] + p["b"] * y, 0.5)
    return np.sum(p["W"] * p["b"])


def passed_on_after_the_merge(x, y, c):
    if c > 0:
        p = params(x, 2.0)
    else:
        p = {"W": y, "b": x * y}
    return _use(p) + sum(np.sum(v) for v in p.values())


def swapped_in_a_loop(x, y, n):
    p = {"W": x, "b": y}
    for i in range(n):
        p = {"W": p["b"] * 0.5, "b": np.sin(p["W"])}     # (each item reads p's old ones)
    return np.sum(p["W"] * p["b"])


def _use(q):
    return np.sum(q["W"] * np.tanh(q["b"]))


X, Y = np.array([0.3, -0.5, 0.8]), np.array([0.7, 0.2, -0.4])
CASES = [(helper_in_both_branches, (X, Y, 1.0)), (helper_in_both_branches, (X, Y, -1.0)),
         (display_and_helper, (X, Y, 1.0)), (display_and_helper, (X, Y, -1.0)),
         (carried_by_a_loop, (X, Y, 3)), (passed_on_after_the_merge, (X, Y, 1.0)),
         (passed_on_after_the_merge, (X, Y, -1.0)), (swapped_in_a_loop, (X, Y, 3))]


@JIT
@pytest.mark.parametrize("f, args", CASES, ids=[f"{c[0].__name__}-{c[1][2]}" for c in CASES])
def test_a_dict_of_the_same_keys_bound_in_branches_or_a_loop(f, args, jit):
    # (declined: "a dict made here bound to 'p', a name bound elsewhere too")
    check_value_grad_jvp(f, args, (0, 1), jit, (np.full(3, 0.5), np.linspace(-1.0, 1.0, 3)))


def other_keys(x, c):
    if c > 0:
        p = {"W": x}
    else:
        p = params(x, 3.0)   # <- other_keys
    return np.sum(p["W"])


def key_added(x, c):
    if c > 0:
        p = params(x, 2.0)
    else:
        p = params(x, 3.0)
    p["c"] = x   # <- key_added
    return np.sum(p["W"] + p["c"])


def number_then_dict(x, c):
    p = 0.5
    if c > 0:
        p = params(x, 2.0)   # <- number_then_dict
    return np.sum(p["W"])


def _line(tag):
    src, _ = inspect.getsourcelines(sys.modules[__name__])
    return next(i for i, t in enumerate(src, 1) if f"# <- {tag}" in t)


@pytest.mark.parametrize("f, words, advice", [
    (other_keys, "with other keys or items than where it is bound before (keys 'W' there, 'W', 'b' here)",
     "give 'p' the same keys"),
    (key_added, "a new key 'c' added to the dict 'p', which is bound in more than one place",
     "give the key 'c' in each binding of 'p'"),
    (number_then_dict, "a dict made here bound to 'p', a name bound elsewhere too to other than a dict made here",
     "bind the dict to a name of its own, or bind 'p' to a dict of the same keys at each of its bindings")],
    ids=["other_keys", "key_added", "number_then_dict"])
def test_bindings_of_other_keys_are_declined_naming_them(f, words, advice):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f)(X, 1.0)
    msg = str(info.value)
    assert f"test_dicts_bound_again.py:{_line(f.__name__)}" in msg, msg
    assert words in msg and advice in msg, msg
    assert "dict(params)" not in msg, msg
