"""Forward mode gives float32 derivatives where grad does (forward_api._like_value, HVP._like_arguments): a jvp's
tangent has its value's float type, an hvp the wrt argument's, as grad gives each gradient its argument's (and as
JAX gives them). Before (h25b, by hand), of a float32 x and a float32 tangent: jvp's value float32 and tangent float64,
hvp float64, while grad gave float32 (forward mode runs float32 tangents as float64: _as_tangent); the numbers were
right. hessian and jacobian still give float64 (one array for every block), and a Python float argument runs as
np.float64 (specialisations.run_scalars), which NumPy 2 promotes float32 with: the jvp's value of `np.tanh(x * a)` of
a float32 x and a float a is float64 there (f's is float32), and its tangent is too."""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

m = source_module("forward_dtypes", '''
import numpy as np


def f(x):
    s = 0.0
    for i in range(3):
        s = s + np.sin(x[i]) * x[(i + 1) % 3]
    return s * s


def fv(x):
    return np.tanh(x * 0.7) * x


def pair(p):
    return p["W"] * 2.0, np.sum(p["b"] ** 2)


def fd(p):
    return np.sum(p["W"] ** 3) * np.sum(p["b"])
''')
X = np.array([0.3, -0.8, 1.1])
V = np.array([1.0, 0.5, -2.0])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_float32(jit):
    x, v = X.astype(np.float32), V.astype(np.float32)
    y, dy = srcdiff.jvp(m.fv, jit=jit)(x, v)
    assert dy.dtype == y.dtype
    if not jit:     # (under Numba a float32 array times a float is float64: the value is float64 there)
        assert y.dtype == m.fv(x).dtype == np.float32
    np.testing.assert_allclose(dy, srcdiff.jvp(m.fv)(X, V)[1], rtol=1e-5)
    hv = srcdiff.hvp(m.f, jit=jit)(x, v)
    assert hv.dtype == srcdiff.grad(m.f, jit=jit)(x).dtype == np.float32
    np.testing.assert_allclose(hv, srcdiff.hvp(m.f)(X, V), rtol=1e-5)
    g, hv2 = srcdiff.hvp(m.f, jit=jit).value_grad_and_hvp(x, v=v)
    assert g.dtype == hv2.dtype == np.float32
    # float64 as before; integer tangents of a float64 x too
    assert srcdiff.jvp(m.fv, jit=jit)(X, np.array([1, 0, -1]))[1].dtype == np.float64
    assert srcdiff.hvp(m.f, jit=jit)(X, V).dtype == np.float64


def test_structures():
    p = {"W": X.astype(np.float32), "b": X[:2].copy()}
    t = {"W": np.ones(3, np.float32), "b": np.ones(2)}
    (w2, s), (dw2, ds) = srcdiff.jvp(m.pair)(p, t)
    assert dw2.dtype == np.float32 and w2.dtype == np.float32
    h = srcdiff.hvp(m.fd)(p, t)
    assert h["W"].dtype == np.float32 and h["b"].dtype == np.float64
