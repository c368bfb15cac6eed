"""Tuple/list arguments: gradients come back in the argument's structure (both backends)."""
import numpy as np
import pytest

import constructs as C
import srcdiff
from gradcheck import numerical_grad


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_list_of_layer_tuples(jit):
    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(3, 4)), rng.normal(size=4)), (rng.normal(size=(4, 2)), rng.normal(size=2))]
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    grads = srcdiff.grad(C.mlp_params, wrt="params", jit=jit)(params, x, y)
    assert isinstance(grads, list) and all(isinstance(g, tuple) for g in grads)
    for i, layer in enumerate(params):
        for j, leaf in enumerate(layer):
            def f(v):
                p = [list(lay) for lay in params]
                p[i][j] = v
                return C.mlp_params([tuple(lay) for lay in p], x, y)
            np.testing.assert_allclose(grads[i][j], numerical_grad(f, [leaf], 0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_tuple_with_scalar_and_value(jit):
    s = np.arange(3.0)
    value, (gp, gs) = srcdiff.value_and_grad(C.tuple_arg, wrt=(0, 1), jit=jit)((np.ones(3), 2.0), s)
    assert value == pytest.approx(C.tuple_arg((np.ones(3), 2.0), s))
    np.testing.assert_allclose(gp[0], s + np.array([0.0, 2.0, 0.0]))
    assert gp[1] == pytest.approx(4.0)
    np.testing.assert_allclose(gs, np.ones(3))
