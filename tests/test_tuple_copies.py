"""`tuple(t)` / `list(t)` of a tuple/list argument (transforms/flatten.py, `copied`): the literal of the argument's
items, as if written out, so the copy is indexed, unpacked, looped over, summed in a comprehension or passed to a
function of yours as the argument itself would be. Before, each was declined ('a tuple/list argument used as a whole
value'); `tuple(...)` / `list(...)` of anything else is declined with what to write instead (resolve.py)."""
from collections import namedtuple

import numpy as np
import pytest

import srcdiff

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
Pair = namedtuple("Pair", "w b")


def indexed(t):
    u = tuple(t)
    return u[0] * np.sum(np.sin(u[1]))


def unpacked_from_a_reversed_slice(t):
    b, w = list(t[::-1])
    return w * np.sum(np.tanh(b))


def looped_over(t):
    acc = 0.0
    for v in list(t):
        acc = acc + np.sum(np.sin(v))
    cp = tuple(t[1:])
    return acc + np.sum(cp[0] ** 2)


def comprehension_and_enumerate(t):
    s = sum(np.sum(v * v) for v in tuple(t))
    for i, v in enumerate(list(t)):
        s = s + (i + 1.0) * np.sum(np.tanh(v))
    return s


def takes_a_pair(q):
    u = tuple(q)
    return u[0] * np.sum(u[1])


def passed_to_a_helper(t):
    return takes_a_pair(list(t)) + takes_a_pair(tuple(t))


CASES = [indexed, unpacked_from_a_reversed_slice, looped_over, comprehension_and_enumerate, passed_to_a_helper]


def _fd(f, t, eps=1e-6):
    """Central differences of f(t) in t's items, as a tuple of their shapes."""
    out = []
    for k, item in enumerate(t):
        g = np.zeros(np.shape(item))
        for i in np.ndindex(np.shape(item)):
            hi, lo = [np.array(v, dtype=float) for v in t], [np.array(v, dtype=float) for v in t]
            hi[k][i] += eps
            lo[k][i] -= eps
            up = [float(v) if v.ndim == 0 else v for v in hi]
            down = [float(v) if v.ndim == 0 else v for v in lo]
            g[i] = (f(type(t)(up)) - f(type(t)(down))) / (2 * eps)
        out.append(g)
    return out


@JIT
@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
@pytest.mark.parametrize("kind", [tuple, list])
def test_a_copy_of_a_tuple_argument_is_its_items(f, kind, jit):
    """grad (both backends) and jvp of a function reading tuple(t) / list(t) == central differences."""
    t = kind([0.7, np.array([0.3, -0.4, 1.1])])
    ref = _fd(f, t)
    got = srcdiff.grad(f, jit=jit)(t)
    assert type(got) is kind
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-8)
    tangent = kind([0.5, np.array([1.0, -2.0, 0.25])])
    value, dot = srcdiff.jvp(f, jit=jit)(t, tangent)
    np.testing.assert_allclose(value, f(t), rtol=1e-12)
    np.testing.assert_allclose(dot, sum(np.sum(r * v) for r, v in zip(ref, tangent)), rtol=1e-6, atol=1e-8)


def of_a_namedtuple(p):
    w, b = tuple(p)
    return w * np.sum(b * b) + p.w


def test_a_copy_of_a_namedtuple_argument_is_a_plain_tuple_of_its_fields():
    p = Pair(0.7, np.array([0.3, -0.4]))
    g = srcdiff.grad(of_a_namedtuple)(p)
    assert isinstance(g, Pair)
    np.testing.assert_allclose(g.w, np.sum(p.b * p.b) + 1.0)
    np.testing.assert_allclose(g.b, 2.0 * p.w * p.b)


def of_a_local_tuple(x, a):
    t = (x, a)
    u = list(t)
    return u[0] * np.sum(u[1])


def of_a_range(x, a):
    acc = 0.0
    for i in list(range(2)):
        acc = acc + a[i] * x
    return acc


@pytest.mark.parametrize("f,line,name", [(of_a_local_tuple, "u = list(t)", "list"),
                                         (of_a_range, "for i in list(range(2)):", "list")])
def test_a_copy_of_anything_else_is_declined_with_what_to_write(f, line, name):
    """Before: 'call to builtins.list: classes, instances and bound methods are not supported'."""
    with pytest.raises(srcdiff.SrcdiffError) as e:
        srcdiff.grad(f, wrt=(0, 1))(0.5, np.array([0.1, 0.2]))
    text = str(e.value)
    assert f"`{name}(...)` of a value other than a tuple/list argument" in text, text
    assert line in text and "test_tuple_copies.py:" in text, text
    assert "write its items out" in text, text


def list_copy_written(t):
    u = list(t)
    u[0] = 2.0 * u[0]
    return u[0] * np.sum(u[1])


def test_a_list_copy_written_is_a_local_list():
    """list(t) is a list of the function's own: a write into it is a local list's, declined as one (reverse mode
    differentiates lists as stacks), not as a write into the argument."""
    with pytest.raises(srcdiff.SrcdiffError, match="the list `u` written here, then written at an index"):
        srcdiff.grad(list_copy_written)((0.7, np.array([0.3, -0.4])))
