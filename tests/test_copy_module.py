"""`copy.copy(x)` and `copy.deepcopy(x)` of an array or a number, in the function differentiated and in a helper of
yours (h29c): the copy is the identity for derivatives, as `x.copy()` and `np.copy(x)` are (they share np.copy's rule:
forward, reverse, Numba, CUDA); a write into the copy leaves the original as it was. Of a dict (of arrays) flatten
copies the items (tests/test_dict_copies_returned.py and kin); of a tuple or a list made here it is declined with
advice (np.copy would make one array of the items), but for `copy.copy` of a tuple, list or namedtuple argument (or a
namedtuple made here), which is its items, as Python's shallow copy holds them (flatten). Each was declined before,
as "call to copy.copy has no differentiation rule" or "attribute .a of a local value"."""
import collections
import copy
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import check_value_grad_jvp

BACKENDS = [pytest.param(False, id="py"), pytest.param(True, id="jit")]


def written_copy(x, s):
    y = copy.copy(x)
    y[0] = 3.0 * s
    z = copy.deepcopy(y)
    z *= 2.0
    return np.sum(y * x) + np.sum(np.sin(z)) + copy.copy(s) * np.sum(x)


def doubled(v):
    return copy.deepcopy(v) * 2.0


def helper_copy(x, s):
    w = doubled(np.tanh(x)) + copy.deepcopy(s) ** 2
    return np.sum(w ** 2) + doubled(s) * x[1]


def dict_copy(x, s):
    d = {"a": x, "b": s * x}
    e = copy.deepcopy(d)
    e["a"][0] = 2.0 * s
    return np.sum(e["a"] * e["b"]) + np.sum(d["a"])


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [written_copy, helper_copy, dict_copy])
def test_copies_against_central_differences(f, jit):
    x, s = np.array([0.7, -1.2, 0.4]), 1.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_value_grad_jvp(f, [x, s], (0, 1), jit, (np.array([0.3, -0.5, 1.1]), 0.7))
    assert np.array_equal(x, [0.7, -1.2, 0.4])      # (the copy written, not the caller's array)


def copied_tuple(x, s):
    pair = (x, s * x)
    both = copy.copy(pair)
    return np.sum(both[0]) + s


def copied_list(x, s):
    items = [x, np.sin(x)]
    deep = copy.deepcopy(items)
    return np.sum(deep[1]) * s


@pytest.mark.parametrize("f, what", [(copied_tuple, "copy.copy"), (copied_list, "copy.deepcopy")])
def test_copy_of_a_tuple_or_list_is_declined(f, what):
    x = np.array([0.7, -1.2])
    for transform in (lambda: srcdiff.grad(f)(x, 1.3), lambda: srcdiff.jvp(f)(x, 1.3, np.ones(2))):
        with pytest.raises(srcdiff.SrcdiffError) as info:
            transform()
        text = str(info.value)
        assert "test_copy_module.py:" in text and f"{what}(...) of a tuple or list" in text
        assert "use it itself" in (info.value.advice or "")


Pair = collections.namedtuple("Pair", ["a", "b"])


def copied_tuple_argument(xa, s):
    ys = copy.copy(xa)
    return np.sum(ys[1] * ys[0]) * s + len(ys) * s


def copied_namedtuple(p, s):
    q = copy.copy(p)
    r0 = Pair(q.a * s, np.sin(q.b))
    r = copy.copy(r0)
    return np.sum(q.a * r.b) + np.sum(r.a) * s


@pytest.mark.parametrize("jit", BACKENDS)
def test_shallow_copies_of_structures_are_their_items(jit):
    x, y = np.array([0.7, -1.2, 0.4]), np.array([0.3, 0.9, -0.5])
    flat = lambda u, v, s: copied_tuple_argument((u, v), s)      # noqa: E731
    check_value_grad_jvp(flat, [x, y, 1.3], (0, 1, 2), jit, (np.array([0.3, -0.5, 1.1]), np.ones(3), 0.7))
    g = srcdiff.grad(copied_namedtuple, wrt=(0, 1), jit=jit)(Pair(x, y), 1.3)
    flat = lambda u, v, s: copied_namedtuple(Pair(u, v), s)     # noqa: E731
    check_value_grad_jvp(flat, [x, y, 1.3], (0, 1, 2), jit, (np.array([0.3, -0.5, 1.1]), np.ones(3), 0.7))
    expect = srcdiff.grad(flat, wrt=(0, 1, 2))(x, y, 1.3)
    assert isinstance(g[0], Pair)
    np.testing.assert_allclose(g[0].a, expect[0], rtol=1e-12)
    np.testing.assert_allclose(g[0].b, expect[1], rtol=1e-12)
    np.testing.assert_allclose(g[1], expect[2], rtol=1e-12)


def deep_copied_tuple_argument(xa, s):
    ys = copy.deepcopy(xa)
    return np.sum(ys[1]) * s


def test_deep_copy_of_a_tuple_argument_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_copy_module.py:\d+: copy.deepcopy\(...\) of a tuple or list"):
        srcdiff.grad(deep_copied_tuple_argument, wrt=(0, 1))((np.ones(2), np.zeros(2)), 1.3)
