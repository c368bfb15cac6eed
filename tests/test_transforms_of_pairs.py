"""A transform of a srcdiff jvp or vjp function (which takes a tangent or cotangent after the function's arguments)
or of a value_and_grad (which returns a (value, gradient) pair) is declined where it is made, naming both transforms,
with the function to write instead (arguments.decline_transform_of_a_pair); srcdiff.jvp of a value_and_grad, and
every transform of a grad, work as before.

Before (h25b, by hand): `srcdiff.jvp(srcdiff.jvp(f))(x, dx, v)` said 'too many positional arguments (it takes the
arguments of f(x), then the tangent)' (the calls were bound by f's own parameters), and called as that asked,
`(x, v)`, failed inside with "f_jvp_jvp() missing 1 required positional argument: 'd_x1'"; grad, value_and_grad,
vjp and jacobian of a value_and_grad failed with NumPy's 'setting an array element with a sequence', hvp and
hessian of it with 'run: *args and **kwargs parameters are not supported' at a line of srcdiff/forward_api.py."""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

m = source_module("transforms_of_pairs", '''
import numpy as np
import srcdiff


def scal(x):
    s = 0.0
    for i in range(3):
        s = np.sin(s + x[i]) * x[(i + 1) % 3]
    return s * s


def vec(x):
    y = x * 1.0
    y[1] = y[0] * y[2]
    return np.tanh(y)


def d(x, v):
    return srcdiff.jvp(vec)(x, v)[1]
''')
X = np.array([0.7, 0.4, -0.3])
V = np.array([0.3, -1.1, 0.6])
OUTER = {"grad": srcdiff.grad, "value_and_grad": srcdiff.value_and_grad, "vjp": srcdiff.vjp, "jvp": srcdiff.jvp,
         "hvp": srcdiff.hvp, "hessian": srcdiff.hessian, "jacobian": srcdiff.jacobian}
INNER = {"jvp": lambda: srcdiff.jvp(m.vec), "vjp": lambda: srcdiff.vjp(m.vec),
         "value_and_grad": lambda: srcdiff.value_and_grad(m.scal)}


@pytest.mark.parametrize("outer", list(OUTER))
@pytest.mark.parametrize("inner", list(INNER))
def test_declined_where_made(inner, outer):
    if (inner, outer) == ("value_and_grad", "jvp"):
        (v, g), (dv, dg) = srcdiff.jvp(INNER[inner]())(X.copy(), V.copy())
        assert dv == pytest.approx(float(np.dot(srcdiff.grad(m.scal)(X.copy()), V)), rel=1e-12)
        np.testing.assert_allclose(dg, srcdiff.hvp(m.scal)(X.copy(), V.copy()), rtol=1e-12)
        return
    with pytest.raises(srcdiff.SrcdiffError, match=rf"srcdiff\.{outer} of srcdiff\.{inner}\((vec|scal)\).*not "
                                                   rf"supported(?s:.*)def d\(x, v\)") as e:
        OUTER[outer](INNER[inner]())
    assert e.value.filename == m.__file__


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_the_function_to_write_instead(jit):
    """The advice's function: the second directional derivative of vec, against central differences of d."""
    dy, ddy = srcdiff.jvp(m.d, jit=jit)(X.copy(), V.copy(), V.copy())
    h = 1e-5
    want = (m.d(X + h * V, V.copy()) - m.d(X - h * V, V.copy())) / (2 * h)
    np.testing.assert_allclose(ddy, want, rtol=1e-7, atol=1e-9)
