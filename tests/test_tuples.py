"""transforms/tuples.py: tuple values become one name per component before reverse mode."""
import numpy as np
import pytest

from srcdiff.transforms import tuples
from gradcheck import check_grad
from passes import body_source, through


def tup(x, y):
    t = (x * 2.0, y)
    u = t
    return u[0] * t[1]


def test_a_tuple_and_its_copies_are_split_into_components():
    unit = tuples.split_tuples(through(tup, "ssa"))
    assert body_source(unit.node) == ("t1 = x * 2.0\n"
                                      "t_at0 = t1\n"
                                      "t_at1 = y\n"
                                      "u_at0 = t_at0\n"
                                      "u_at1 = t_at1\n"
                                      "result = u_at0\n"
                                      "result1 = t_at1\n"
                                      "result2 = result * result1\n"
                                      "return result2")


def pair(x):
    return x * 2.0, np.sin(x)


def uses_pair(x):
    a, b = pair(x)
    p = pair(b)
    return a * p[1]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_through_tuples(jit):
    check_grad(tup, [0.4, 1.3], jit=jit)
    check_grad(uses_pair, [0.4], jit=jit)


def sliced(x):
    t = (x[0], x[1] * 2, x[2] ** 2, np.sum(x))
    head, rest = t[:1], t[1:]
    return sum(rest) + np.prod(t[:2]) + np.min(t[::2]) + head[0] * rest[-1]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_tuple_sliced_with_constants_is_split_too(jit):
    """`t[1:]`, `t[::2]` of a tuple of differentiated values were declined as "indexed by a variable": a slice
    of constant bounds is the tuple of those components."""
    unit = tuples.split_tuples(through(sliced, "ssa"))
    assert "rest_at2" in body_source(unit.node)
    check_grad(sliced, [np.array([0.5, -1.2, 2.0])], jit=jit)
