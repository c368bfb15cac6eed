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


def first_bound_in_a_branch_of_a_loop(x, a):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.4:
            info = (x[i] * a, i)
        if i > 1:
            s += info[0] * info[1]
    return s


def first_bound_in_a_branch_of_a_while(x, a):
    i = 0
    s = 0.0
    while i < len(x):
        if x[i] > 0.4:
            info = (x[i] * a, x[i])
        if i > 1:
            s += info[0] * info[1]
        i += 1
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [first_bound_in_a_branch_of_a_loop, first_bound_in_a_branch_of_a_while])
def test_a_tuple_first_bound_in_a_branch_of_a_loop_is_split(f, jit):
    """Declined before as 'indexed by a variable': SSA's merge `info5 = info` (the loop-carried version, bound only
    by the loop's back-edge copy `info = info5`) came first and made `info5` a leaf. A copy of a name whose
    assignments are not all seen yet tells nothing until they are."""
    unit = tuples.split_tuples(through(f, "ssa"))
    assert "info_at1 = " in body_source(unit.node)
    x = np.array([0.31, 0.7, 0.21, 0.45, 0.97])
    check_grad(f, [x, 1.3], jit=jit)


def literal_shapes(x, a, n=2):
    m = np.ones((2, 3)) * x
    z = np.zeros((n, 3))
    z[0] = a * x
    return np.sum(m * m) + np.sum(z * z)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_shape_of_numbers_reads_as_written(jit):
    """`np.ones((2, 3))` read `m1_at0 = 2`, `m1_at1 = 3`, `np.ones((m1_at0, m1_at1))` in the generated code: ANF named
    the shape, and splitting it named its numbers. A tuple bound once to a literal is read with its numbers in their
    places (also `np.zeros((n, 3))`), and the names nothing reads then are dropped."""
    import srcdiff
    a = np.array([0.5, -1.0, 2.0])
    check_grad(literal_shapes, [0.7, a], wrt=(0, 1), jit=jit)
    g = srcdiff.grad(literal_shapes, wrt=(0, 1), jit=jit)
    g(0.7, a)
    text = srcdiff.source(g)
    assert "np.ones((2, 3))" in text and "np.zeros((n, 3))" in text, text
    assert "_at" not in text, text
