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
