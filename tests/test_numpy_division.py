"""jit=False: a derivative that divides two Python floats by zero gives NumPy's inf or nan, as jit=True does, not a
ZeroDivisionError (srcdiff/numpy_division.py). Before (h27b): grad of `np.sum(x) + math.sqrt(a)` at a = 0 raised
'float division by zero' (math.sqrt's value and the seed are Python floats) where jit=True gave inf, and beside a
float32 x, where a Python float argument stays one, grad of `math.atan2(a, a)` at the origin raised where jit=True
gave 0. A division of f's own still fails at the user's line, as f does. The module divides so from its first call
(h29b): a call that raised ran again, and f's side effects before the division happened twice."""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

m = source_module("numpy_division", '''
import math
import numpy as np


def root(x, a):
    return np.sum(np.sin(x)) + math.sqrt(a)


def angle(x, a):
    return np.sum(x * x) + math.atan2(a, a)


def reciprocal(x, a):
    return np.sum(x) + 1.0 / a


def told(x, a):
    print("f runs")
    return np.sum(np.sin(x)) + math.sqrt(a)


def of_a_dict(xa, M):
    x, a = xa["x"], xa["a"]
    return np.std(a) * x + math.sqrt(x * x + 1.0) / (1.0 + np.sum(M * M)) + math.cos(a[1]) / x
''')
X = np.array([0.3, -0.8, 1.1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("f, da", [(m.root, np.inf), (m.angle, 0.0)], ids=["root", "angle"])
def test_a_derivative_divides_as_numpy(f, da, dtype):
    x = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for jit in (False, True):
            value, (dx, d_a) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(x, 0.0)
            assert value == pytest.approx(f(x, 0.0)) and d_a == da, (jit, d_a)
            np.testing.assert_allclose(dx, srcdiff.grad(f, jit=jit)(x, 0.5), rtol=1e-6)
            y, t = srcdiff.jvp(f, wrt=1, jit=jit)(x, 0.0, 1.0)
            assert t == da, (jit, t)


def test_a_division_of_fs_own_still_fails_at_the_users_line():
    with pytest.raises(ZeroDivisionError):
        m.reciprocal(X.astype(np.float32), 0.0)
    with pytest.raises(srcdiff.SrcdiffError, match="1.0 / a") as err:
        srcdiff.grad(m.reciprocal, wrt=1)(X.astype(np.float32), 0.0)
    assert "reciprocal itself fails" in str(err.value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_side_effects_happen_once(capsys, dtype):
    """f prints once per call of its gradient, jvp and hvp at a = 0, where a derivative divides two Python floats by 0:
    before (h29b, by hand), twice (the call raised ZeroDivisionError and ran again, dividing as NumPy)."""
    x = X.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        calls = {
            "grad": lambda: srcdiff.grad(m.told, wrt=1)(x, 0.0),
            "value_and_grad": lambda: srcdiff.value_and_grad(m.told, wrt=1)(x, 0.0)[1],
            "jvp": lambda: srcdiff.jvp(m.told, wrt=1)(x, 0.0, 1.0)[1],
        }
        for name, call in calls.items():
            capsys.readouterr()
            assert call() == np.inf, name
            assert capsys.readouterr().out == "f runs\n", name


def test_hvp_over_a_gradient_of_dict_arguments():
    """hvp of a function of a dict argument: forward mode parses the flattened gradient's function as its file reads
    (cachedir.python_function), not the one run dividing as NumPy. Was 'the source of fs_grad ... no longer matches
    the function object' (the merge of h29a and h29b, test_fuzz_python's program 49)."""
    xa, M = {"x": 0.7, "a": np.array([0.3, 0.8])}, np.array([[0.1, 0.2], [0.3, 0.4]])
    v = ({"x": 1.0, "a": np.array([0.5, -0.5])}, np.array([[1.0, -0.5], [0.25, 2.0]]))
    got = srcdiff.hvp(m.of_a_dict, wrt=("xa", "M"))(xa, M, v)
    g = srcdiff.grad(m.of_a_dict, wrt=("xa", "M"))
    e = 1e-6

    def at(t):
        return g({"x": xa["x"] + t * v[0]["x"], "a": xa["a"] + t * v[0]["a"]}, M + t * v[1])
    plus, minus = at(e), at(-e)
    np.testing.assert_allclose(got[0]["x"], (plus[0]["x"] - minus[0]["x"]) / (2 * e), rtol=1e-5)
    np.testing.assert_allclose(got[0]["a"], (plus[0]["a"] - minus[0]["a"]) / (2 * e), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(got[1], (plus[1] - minus[1]) / (2 * e), rtol=1e-5, atol=1e-8)
