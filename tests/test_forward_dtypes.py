"""Forward mode gives float32 derivatives where grad does (forward_api._like_value, HVP._like_arguments): a jvp's
tangent has its value's float type, an hvp the wrt argument's, as grad gives each gradient its argument's (and as
JAX gives them). Before (h25b, by hand), of a float32 x and a float32 tangent: jvp's value float32 and tangent float64,
hvp float64, while grad gave float32 (forward mode runs float32 tangents as float64: _as_tangent); the numbers were
right. hessian and jacobian gave float64 (one array for every block: now each block the float type of its arguments,
test_hessian_and_jacobian_blocks), and a Python float argument ran as np.float64 beside float32 arrays
(specialisations.run_scalars), which NumPy 2 promotes float32 with: the value of `np.tanh(x * a)` of a float32 x and a
float a was float64 there (f's is float32), and its tangent too (test_a_python_float_beside_float32); a number's
gradient took the type arithmetic gave it (test_gradients_of_numbers)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module, structure_leaves

m = source_module("forward_dtypes", '''
import math

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


def two(x, a):
    return np.sum(np.sin(x) * a) * np.sum(a * a)


def scaled(x, w):
    return np.sum(np.tanh(x * w) ** 2)


def angled(x, b):
    return np.sum(x * math.atan2(b, 2.0)) + math.hypot(x[0], b) * x[1] + np.sum(x * math.fmod(b, 0.3)) * math.copysign(b, -1.0)


def pair_out(x):
    return math.atan2(x[0], x[1]) * x[2], (np.sum(x * x), x * 2.0)


def made64(x):
    return np.sum(np.zeros(3) + x) * x[0]


def made64_vector(x):
    return (np.zeros(3) + x) * x[0]


def rows(x, a):
    return np.tanh(x * a) * 0.5, (x[0] * 2.0, (x[1:] * a,))


def carried(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * w
    return s * s
''')
X = np.array([0.3, -0.8, 1.1])
V = np.array([1.0, 0.5, -2.0])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_float32(jit):
    x, v = X.astype(np.float32), V.astype(np.float32)
    y, dy = srcdiff.jvp(m.fv, jit=jit)(x, v)
    assert dy.dtype == y.dtype
    # (under Numba a float32 array times a float is float64: the value was float64 there, api.value_like)
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


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hessian_and_jacobian_blocks(jit):
    """Each block of the float type of the arguments it is taken with respect to (float32 where both are; before,
    float64 always: h26c, by hand, hessian of f of a float32 x float64)."""
    x = X.astype(np.float32)
    H = srcdiff.hessian(m.f, jit=jit)(x)
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, srcdiff.hessian(m.f)(X), rtol=1e-4, atol=1e-5)
    for mode in ("forward", "reverse"):
        J = srcdiff.jacobian(m.fv, jit=jit, mode=mode)(x)
        assert J.dtype == np.float32, mode
        np.testing.assert_allclose(J, srcdiff.jacobian(m.fv, mode=mode)(X), rtol=1e-5, atol=1e-6)
    (hxx, hxa), (hax, haa) = srcdiff.hessian(m.two, wrt=(0, 1), jit=jit)(x, V.copy())
    assert hxx.dtype == np.float32 and hxa.dtype == hax.dtype == haa.dtype == np.float64
    assert srcdiff.hessian(m.f, jit=jit)(X).dtype == np.float64
    hw = srcdiff.hessian(m.scaled, wrt=1, jit=jit)(x, np.float32(0.7))
    assert type(hw) is np.float32 and type(srcdiff.hessian(m.scaled, wrt=1, jit=jit)(x, 0.7)) is np.float64


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_of_numbers(jit):
    """A number's gradient has its float type: np.float32 of an np.float32 (under Numba it was a Python float), float64
    of an np.float64 or a Python float (jit=False, beside a float32 array a loop's adjoint made it an np.float32)."""
    x = X.astype(np.float32)
    dx, dw = srcdiff.grad(m.scaled, wrt=(0, 1), jit=jit)(x, np.float32(0.7))
    assert dx.dtype == np.float32 and type(dw) is np.float32
    for w in (np.float64(0.7), 0.7):
        dx, dw = srcdiff.grad(m.carried, wrt=(0, 1), jit=jit)(x, w)
        assert dx.dtype == np.float32 and isinstance(dw, float) and np.result_type(dw) == np.float64, type(dw)
        assert dw == pytest.approx(srcdiff.grad(m.carried, wrt=1)(X, 0.7), rel=1e-6)


def test_a_python_float_beside_float32():
    """jit=False: a Python float runs as itself beside float32 values (NumPy computes float32 with it), so the value
    and the jvp are float32, as f's value is (they were float64)."""
    x = X.astype(np.float32)
    value, (dx, dw) = srcdiff.value_and_grad(m.scaled, wrt=(0, 1))(x, 0.7)
    assert value.dtype == m.scaled(x, 0.7).dtype == np.float32 and dx.dtype == np.float32
    assert value == pytest.approx(m.scaled(x, 0.7), rel=1e-6)
    y, dy = srcdiff.jvp(m.fv)(x, V.astype(np.float32))
    y2, dy2 = srcdiff.jvp(m.scaled, wrt=0)(x, 0.7, V.astype(np.float32))
    assert y2.dtype == dy2.dtype == np.float32
    assert dy2 == pytest.approx(np.sum(dx * V), rel=1e-5)


def _types(out):
    """The types of a result, through tuples, lists and dicts: arrays by dtype and shape, numbers by type."""
    if isinstance(out, (tuple, list)):
        return type(out)(_types(o) for o in out)
    if isinstance(out, dict):
        return {k: _types(v) for k, v in out.items()}
    if isinstance(out, np.ndarray):
        return ("array", out.dtype, out.shape)
    return type(out)


TYPE_TABLE = {     # (function, arguments as a function of the float type, wrt)
    "numbers": (m.two, lambda t: (t(0.3), t(1.5)), (0, 1)),
    "array and number": (m.scaled, lambda t: (X.astype(t), t(0.7)), (0, 1)),
    "array, Python float": (m.scaled, lambda t: (X.astype(t), 0.7), (0, 1)),
    "loop": (m.carried, lambda t: (X.astype(t), t(0.7)), (0, 1)),
    "array": (m.f, lambda t: (X.astype(t),), 0),
    # math.atan2 / hypot / fmod / copysign give a Python float, which NumPy 2 computes float32 with: under jit=False
    # they were written np.arctan2 / ..., whose np.float64 made value_and_grad's value and jvp's float64 (h29b)
    "math.atan2, Python float": (m.angled, lambda t: (X.astype(t), 0.7), (0, 1)),
    # a NumPy float and a Python float: f's np.float32 (NumPy 2) of a float32 one
    "numbers, Python float": (m.two, lambda t: (t(0.3), 1.5), (0, 1)),
    # f makes float64 values (np.zeros(3)): f's float64 beside float32 arguments, where jit=True gave float32 (h30c)
    "float64 made": (m.made64, lambda t: (X.astype(t),), 0),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(TYPE_TABLE))
def test_types_across_backends(case, dtype):
    """jit=True gives what jit=False gives, type for type (api.number_like, gradient_like): before (h27b), under Numba
    value_and_grad's value and jvp's value and tangent were Python floats (float32 ones too), and a number's gradient
    (grad, hvp) of a float64 number a Python float where jit=False gave np.float64. A float32 function's number value
    is an np.float32 in both (f's own type)."""
    f, make, wrt = TYPE_TABLE[case]
    args = make(dtype)
    many = isinstance(wrt, tuple)
    tangent = tuple(np.ones_like(a) if isinstance(a, np.ndarray) else 1.0 for a in args) if many else np.ones_like(args[0])
    got = {}
    for jit in (False, True):
        got[jit] = {name: _types(call()) for name, call in {
            "value_and_grad": lambda: srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*args),
            "grad": lambda: srcdiff.grad(f, wrt=wrt, jit=jit)(*args),
            "jvp": lambda: srcdiff.jvp(f, wrt=wrt, jit=jit)(*args, tangent),
            "hvp": lambda: srcdiff.hvp(f, wrt=wrt, jit=jit)(*args, tangent),
            "hessian": lambda: srcdiff.hessian(f, wrt=wrt, jit=jit)(*args),
            "jacobian": lambda: srcdiff.jacobian(f, wrt=wrt, jit=jit)(*args)}.items()}
    assert got[True] == got[False]
    # a jacobian of a number-valued f is grad's, type for type, and so is a hessian's 0-d block of one number (a
    # float64 one was a Python float where grad gives np.float64: h29b)
    assert got[True]["jacobian"] == got[True]["grad"]
    grads = got[True]["grad"] if many else (got[True]["grad"],)
    hess = got[True]["hessian"] if many else ((got[True]["hessian"],),)
    for i, g in enumerate(grads):
        if not isinstance(g, tuple):
            assert hess[i][i] is g, (i, hess[i][i], g)
    value = got[True]["value_and_grad"][0]
    assert got[True]["jvp"] == (value, value)
    assert value is type(f(*args))      # (f's own: float32 of float32 arguments, but where f makes float64 values)


ARRAY_TABLE = {     # (f of array values, arguments as a function of the float type)
    "times a Python float": (m.fv, lambda t: (X.astype(t),)),
    "float64 made": (m.made64_vector, lambda t: (X.astype(t),)),
    "structure, Python float argument": (m.rows, lambda t: (X.astype(t), 0.7)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(ARRAY_TABLE))
def test_array_values_across_backends(case, dtype):
    """jvp's and vjp's value (and jvp's tangent) of f returning arrays: f's types from both backends. Before (h30c),
    under Numba a float32 array times a Python float (`np.tanh(x * 0.7) * x`) was float64 where f's and jit=False's
    are float32."""
    f, make = ARRAY_TABLE[case]
    args = make(dtype)
    want = _types(f(*args))
    tangent = np.ones_like(args[0])
    for jit in (False, True):
        value, dot = srcdiff.jvp(f, wrt=0, jit=jit)(*args, tangent)
        assert _types(value) == want and _types(dot) == want, (jit, _types(value), _types(dot))
        if isinstance(value, np.ndarray):
            value2, _ = srcdiff.vjp(f, wrt=0, jit=jit)(*args, np.ones_like(value))
            assert _types(value2) == want, (jit, _types(value2))
            np.testing.assert_allclose(value2, f(*args), rtol=1e-6)
        np.testing.assert_allclose(structure_leaves(value)[0], structure_leaves(f(*args))[0], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numbers_in_a_tuple_value_across_backends(dtype):
    """jvp's value and tangent of f returning a tuple (and a tuple in it): the numbers in it are NumPy scalars of the same
    type from both backends (api.number_like). Before (h29b), under Numba they were Python floats where jit=False gave
    np.float32 / np.float64."""
    x = X.astype(dtype)
    got = {jit: srcdiff.jvp(m.pair_out, jit=jit)(x, np.ones_like(x)) for jit in (False, True)}
    for jit, (y, dy) in got.items():
        assert type(y[0]) is type(dy[0]) is dtype and type(y[1][0]) is type(dy[1][0]) is dtype, (jit, y, dy)
    np.testing.assert_allclose(got[True][1][0], got[False][1][0], rtol=1e-5)
