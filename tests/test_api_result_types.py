"""The API's results have the types and structure f's have (twenty-sixth session, apitypes).

- jvp of a function returning a list display gave a tuple value and a tuple tangent (generated code returns a list
  display as a tuple): now lists where f's return is a list (srcdiff/returned_lists.py), nested too.
- jacobian's block w.r.t. a Python float argument of a float32 function was float64 (f computes float32: NumPy 2's
  Python floats are weak); now the float type of f's value (forward_api._float_type).
- the float type heuristic (srcdiff/float_types.py) took a parameter named as a module-level float64 array for that
  array (`def h(x, a)` beside a module-level `x = np.array([...])`: jit=True's value float64, f's float32), and missed
  NumPy integers meeting floats (`x * (i / n)` of an np.int64 n, `x * (i / np.sum(x > 0))`, `x * np.argmax(x)`: f's
  value float64, value_and_grad's and jvp's float32 under both backends)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

m = source_module("api_result_types", '''
import numpy as np


def as_list(x):
    return [x * 2.0, np.sin(x)]


def bound_list(x):
    out = [x * 2.0, np.sin(x)]
    return out


def nested_list(x):
    return (x * 2.0, [np.sin(x), x * x])


def through_helper(x):
    return as_list(x * 1.5)


def through_nested_def(x):
    def h(z):
        return [z, z * z]
    return h(x)


def list_or_tuple(x):
    if x[0] > 0:
        return [x, x * 2.0]
    return (x, x * 3.0)


def list_or_longer_tuple(x):
    if x[0] > 0:
        return [x, x * 2.0]
    return (x, x * 3.0, np.sin(x))


def scaled(x, a):
    return x * a


def ramp(x, n):
    s = 0.0 * x
    for i in range(n):
        s = s + x * (i / n)
    return np.sum(s)


def ramp_vector(x, n):
    return x * (1 / n)


def by_count(x):
    n = np.sum(x > 0)
    s = np.zeros_like(x)
    for i in range(3):
        s = s + x * (i / n)
    return np.sum(s)


def by_argmax(x):
    k = np.argmax(x)
    return np.sum(x * (k / 2))


def index_only(x):
    k = np.argmax(x)
    return x[k] * x[k - 1] * 2.0 + np.sum(x[:k + 1])


def python_ints(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i % len(x)] * (i / n)
    return s
''')

shadowed = source_module("api_result_types_shadowed", '''
import numpy as np

x = np.array([0.3, 0.7, 0.2])      # a module-level float64 array named as the function's parameter


def tanh_scaled(x, a):
    return np.tanh(x * a) * x
''')

X32 = np.array([0.3, 0.7, 0.2], dtype=np.float32)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_of_a_list_is_a_list(jit):
    t = np.ones(3)
    for f in (m.as_list, m.bound_list):
        value, tangent = srcdiff.jvp(f, jit=jit)(X32.astype(float), t)
        assert type(value) is list and type(tangent) is list and type(f(X32)) is list
        np.testing.assert_allclose(value[1], np.sin(X32.astype(float)))
        np.testing.assert_allclose(tangent[1], np.cos(X32.astype(float)))
    for f in (m.through_helper, m.through_nested_def):     # (a list a function of the user's returns)
        value, tangent = srcdiff.jvp(f, jit=jit)(X32.astype(float), t)
        assert type(value) is list and type(tangent) is list and type(f(X32)) is list
    value, tangent = srcdiff.jvp(m.nested_list, jit=jit)(X32.astype(float), t)
    assert type(value) is tuple and type(value[1]) is list and type(tangent[1]) is list
    np.testing.assert_allclose(tangent[1][1], 2.0 * X32.astype(float), rtol=1e-12)


_THROUGH_ITS_HELPER = '''import numpy as np


def f(x):
    return pair(x)


def pair(x):
    return {display}
'''


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_structure_of_a_function_alike_in_another_module(jit):
    """Two modules whose f is the same code on the same line (code objects compare equal across files), calling a
    `pair` that returns a list in one and a tuple in the other: returned_lists read f's helpers through the first
    module's namespace (kept per code object), so jvp of the second gave lists where it returns a tuple."""
    displays = {"list": "[x * 2.0, np.sin(x)]", "tuple": "(x * 2.0, np.sin(x))"}
    mods = {k: source_module(f"result_types_alike_{k}_{jit}", _THROUGH_ITS_HELPER.format(display=d))
            for k, d in displays.items()}
    assert mods["list"].f.__code__ == mods["tuple"].f.__code__
    for k, mod in mods.items():
        value, tangent = srcdiff.jvp(mod.f, jit=jit)(X32.astype(float), np.ones(3))
        assert type(value) is type(mod.f(X32)) and type(tangent) is type(mod.f(X32)), k
        np.testing.assert_allclose(tangent[1], np.cos(X32.astype(float)), rtol=1e-12)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_of_a_list_on_one_path_and_a_tuple_on_another(jit):
    """f returns [x, 2x] where x[0] > 0 and (x, 3x) elsewhere: jvp gave tuples on both paths (f gives a list on the
    first), the generated code returning tuples for both, which its value cannot tell apart: now declined at the
    returns' line. Where the returns' shapes differ (a pair or a triple), the value's shape tells the path: the list on
    the first path, the tuple on the other (Python backend: Numba gives the two returns no one type)."""
    t = np.ones(3)
    x = X32.astype(float)
    assert type(m.list_or_tuple(x)) is list and type(m.list_or_tuple(-x)) is tuple
    for arg in (x, -x):
        with pytest.raises(srcdiff.SrcdiffError, match="returns a list on one path and a tuple on another") as info:
            srcdiff.jvp(m.list_or_tuple, jit=jit)(arg, t)
        assert "same kind on every path" in info.value.advice
    if jit:
        return
    for arg, kind in ((x, list), (-x, tuple)):
        value, tangent = srcdiff.jvp(m.list_or_longer_tuple)(arg, t)
        assert type(m.list_or_longer_tuple(arg)) is kind and type(value) is kind and type(tangent) is kind
        np.testing.assert_allclose(tangent[1], 2.0 * t if kind is list else 3.0 * t)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_reverse_mode_of_a_list_says_list(jit):
    with pytest.raises(srcdiff.SrcdiffError, match=r"returns a tuple \(or a list\)"):
        srcdiff.vjp(m.as_list, jit=jit)(np.ones(3), [np.ones(3), np.ones(3)])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_block_of_a_python_float_follows_f(jit, mode):
    assert m.scaled(X32, 0.5).dtype == np.float32
    jx, ja = srcdiff.jacobian(m.scaled, wrt=(0, 1), jit=jit, mode=mode)(X32, 0.5)
    assert jx.dtype == np.float32 and ja.dtype == np.float32
    np.testing.assert_allclose(ja, X32)
    # of a float64 function, float64 as before
    jx, ja = srcdiff.jacobian(m.scaled, wrt=(0, 1), jit=jit, mode=mode)(X32.astype(float), 0.5)
    assert ja.dtype == np.float64


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_parameter_named_as_a_module_level_array(jit):
    y = shadowed.tanh_scaled(X32, 0.5)
    value, tangent = srcdiff.jvp(shadowed.tanh_scaled, jit=jit)(X32, 0.5, np.ones(3, np.float32))
    assert value.dtype == tangent.dtype == y.dtype == np.float32
    value, grad = srcdiff.vjp(shadowed.tanh_scaled, jit=jit)(X32, 0.5, np.ones(3, np.float32))
    assert value.dtype == np.float32 and grad.dtype == np.float32


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("case", ["ramp_int64", "by_count", "by_argmax", "ramp_int", "index_only", "python_ints"])
def test_value_of_numpy_integers_beside_float32(jit, case):
    f, args = {"ramp_int64": (m.ramp, (X32, np.int64(3))), "ramp_int": (m.ramp, (X32, 3)),
               "by_count": (m.by_count, (X32,)), "by_argmax": (m.by_argmax, (X32,)),
               "index_only": (m.index_only, (X32,)), "python_ints": (m.python_ints, (X32, 4))}[case]
    y = f(*args)
    value, grad = srcdiff.value_and_grad(f, jit=jit)(*args)
    assert type(value) is type(y) and value.dtype == y.dtype, (value, y)
    np.testing.assert_allclose(value, y, rtol=1e-6)
    assert grad.dtype == np.float32


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_and_vjp_values_of_an_int64_argument(jit):
    for n in (3, np.int64(3)):
        y = m.ramp_vector(X32, n)
        value, tangent = srcdiff.jvp(m.ramp_vector, jit=jit)(X32, n, np.ones(3, np.float32))
        assert value.dtype == tangent.dtype == y.dtype
        value, grad = srcdiff.vjp(m.ramp_vector, jit=jit)(X32, n, np.ones(3, np.float32))
        assert value.dtype == y.dtype and grad.dtype == np.float32
        np.testing.assert_allclose(value, y, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_transforms_of_a_differentiated_function(jit):
    """jvp, hvp, hessian and jacobian of a @srcdiff.differentiate'd function take its function, as grad does (they
    were declined: "srcdiff differentiates Python functions; got Differentiated")."""
    f = srcdiff.differentiate(m.scaled, wrt=0)
    g = srcdiff.differentiate(m.ramp, wrt=0)
    x = np.array([0.3, 0.7, 0.2])
    value, tangent = srcdiff.jvp(f, jit=jit)(x, 0.5, np.ones(3))
    np.testing.assert_allclose(tangent, 0.5 * np.ones(3))
    np.testing.assert_allclose(srcdiff.jacobian(f, jit=jit)(x, 0.5), 0.5 * np.eye(3))
    np.testing.assert_allclose(srcdiff.hvp(g, jit=jit)(x, 3, np.ones(3)), np.zeros(3), atol=1e-12)
    np.testing.assert_allclose(srcdiff.hessian(g, jit=jit)(x, 3), np.zeros((3, 3)), atol=1e-12)
    np.testing.assert_allclose(srcdiff.grad(g, jit=jit)(x, 3), np.full(3, 1.0))


floatvalues = source_module("api_result_types_floatvalues", '''
import math

import numpy as np


def norm(x):
    return math.sqrt(np.sum(x * x))


def scaled_float(x):
    return float(np.sum(x)) * 1.5


def bound_float(x):
    s = float(np.sum(x * x))
    s += 2.0
    return math.exp(s * 0.5)


def by_float64(x):
    return np.sum(x * np.float64(0.5))


def by_bound_float64(x):
    c = np.float64(0.5)
    return np.sum(x * c)
''')
XF = np.array([0.1, 0.3, 0.65], dtype=np.float32)


def _same_value(value, y):
    """value is y: its type and its bits (not a rounded or widened copy)."""
    assert type(value) is type(y), (type(value), type(y))
    assert np.asarray(value).tobytes() == np.asarray(y).tobytes(), (repr(value), repr(y))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("case", ["norm", "scaled_float", "bound_float", "by_float64", "by_bound_float64"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_is_fs_type_and_bits(jit, case, dtype):
    """value_and_grad's, jvp's and vjp's value of a function returning a Python float (math.sqrt, float(...) * 1.5) of
    a float32 x was an np.float32, rounded (0.6422616243362427 for f's 0.6422616242930411: api.value_like gave every
    Python float the arguments' float type), and of a float64 x an np.float64; `np.sum(x * np.float64(0.5))` of a
    float32 x was float32 0.5249999761581421 under jit=False, f's float64 0.5249999985098839 (resolve wrote
    np.float64(0.5) as float(0.5), weak under NumPy 2). Gradients keep x's dtype."""
    f = getattr(floatvalues, case)
    x = XF.astype(dtype)
    y = f(x)
    value, grad = srcdiff.value_and_grad(f, jit=jit)(x)
    _same_value(value, y)
    assert grad.dtype == dtype
    value, tangent = srcdiff.jvp(f, jit=jit)(x, np.ones_like(x))
    _same_value(value, y)
    value, grad = srcdiff.vjp(f, jit=jit)(x, 1.0)
    _same_value(value, y)
    assert grad.dtype == dtype
