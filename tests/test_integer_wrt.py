"""A differentiated argument that is an int or a bool (Python's or NumPy's, or an array of them) is declined, naming
it, as JAX's grad declines it. Before (h26c, by hand), srcdiff differentiated it as a float, leaving out how it is
used: d/dn of `s = s + x[i] * n` over `range(n)` at n = 2 was -0.2 (sum(x[:2])), in every transform and both
backends; the same function of a float n is differentiated as before."""
import numpy as np
import pytest

import srcdiff
from gradcheck import source_module

m = source_module("integer_wrt", '''
import numpy as np


def counted(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] * n
    return s


def scaled(n, x):
    return np.sum(x ** 2) * n + n * n
''')
X = np.array([0.3, -0.5, 1.1])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("n", [2, np.int32(2), True], ids=["int", "int32", "bool"])
def test_an_integer_argument_is_not_differentiated(n, jit):
    for make, extra in [(srcdiff.grad, ()), (srcdiff.value_and_grad, ()), (srcdiff.jvp, (1.0,)), (srcdiff.hvp, (1.0,))]:
        with pytest.raises(srcdiff.SrcdiffError, match=r"argument 'n' \(differentiated\) is (an int|a bool) .*"
                                                       r"discrete value") as info:
            make(m.counted, wrt="n", jit=jit)(X.copy(), n, *extra)
        assert "n=2.0" in str(info.value) or "n=1.0" in str(info.value), str(info.value)
    with pytest.raises(srcdiff.SrcdiffError, match="argument 'n' .* is an int"):
        srcdiff.hessian(m.scaled, wrt=(0, 1), jit=jit)(3, X.copy())


def test_an_array_of_integers_is_not_differentiated():
    with pytest.raises(srcdiff.SrcdiffError, match=r"argument 'x' \(differentiated\) is an array of integers"):
        srcdiff.grad(m.scaled, wrt="x")(2.0, np.array([1, 2, 3]))


def test_a_float_of_the_same_value_is_differentiated():
    assert srcdiff.grad(m.scaled, wrt=0)(3.0, X.copy()) == pytest.approx(np.sum(X ** 2) + 6.0)
    np.testing.assert_allclose(srcdiff.grad(m.counted, wrt=0)(X.copy(), 2), [2.0, 2.0, 0.0])
