"""transforms/inplace.py (jitted code only): `x[<slices>] += v` -> `rt.add_into(x[<slices>], v)`."""
import numpy as np

import srcdiff
from srcdiff.transforms import inplace
from gradcheck import check_grad
from passes import body_source, parse_function


def test_sliced_accumulation_adds_into_the_view_in_nested_blocks_too():
    fn = parse_function("""
def f(d, g, k, n):
    d[:, k] += g
    d[0, 1] += 2.0
    for i in range(n):
        if i > 0:
            d[i, :] += g
    return d
""")
    out = inplace.add_into_views(fn)
    assert body_source(out) == ("rt.add_into(d[:, k], g)\n"
                                "d[0, 1] += 2.0\n"
                                "for i in range(n):\n"
                                "    if i > 0:\n"
                                "        rt.add_into(d[i, :], g)\n"
                                "return d")
    assert body_source(fn).splitlines()[0] == "d[:, k] += g"   # a copy was rewritten, not the input


def test_a_function_without_sliced_accumulation_is_returned_as_it_is():
    fn = parse_function("""
def f(d, g):
    d[0] += g
    return d
""")
    assert inplace.add_into_views(fn) is fn


def rows(w, x):
    acc = np.zeros((3, 2))
    for i in range(3):
        acc[i, :] += w * x[i]
    return np.sum(acc * acc)


def test_jitted_gradient_through_row_accumulation_calls_add_into():
    x = np.array([0.5, -1.0, 2.0])
    got = check_grad(rows, [np.array([0.3, 0.7]), x], wrt=0, jit=True)
    np.testing.assert_allclose(got[0], srcdiff.grad(rows)(np.array([0.3, 0.7]), x))
    assert "rt.add_into(" in srcdiff.source(srcdiff.grad(rows, jit=True))
    assert "rt.add_into(" not in srcdiff.source(srcdiff.grad(rows))


def test_add_into_a_view_checks_the_shapes():
    """rt.add_into(x[:, :2], g) under Numba with a g that does not broadcast to the view: Numba's np.add with an
    out argument gave [[1, 1], [1, 1]] for a g of shape (3,) and of (3, 2) alike (read past g's end, or took its
    rows in turn), so a shape error of jitted generated code was a wrong adjoint; it raises NumPy's ValueError."""
    import numba
    import pytest
    from srcdiff import runtime as rt

    @numba.njit
    def add(x, g):
        rt.add_into(x[:, :2], g)
        return x

    np.testing.assert_array_equal(add(np.zeros((2, 3)), np.array([1.0, 2.0])), [[1, 2, 0], [1, 2, 0]])
    np.testing.assert_array_equal(add(np.zeros((2, 3)), np.ones((2, 1))), [[1, 1, 0], [1, 1, 0]])
    np.testing.assert_array_equal(add(np.zeros((2, 3)), 2.0), [[2, 2, 0], [2, 2, 0]])
    for g in (np.ones(3), np.ones((3, 2))):
        with pytest.raises(ValueError):
            add(np.zeros((2, 3)), g)
        with pytest.raises(ValueError):                  # NumPy's own verdict on the same values
            x = np.zeros((2, 3))
            x[:, :2] += g
