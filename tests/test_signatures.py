"""Generated functions take the user's signature: defaults, keyword calls, keyword-only parameters, wrt
naming a keyword parameter, for every transform and both backends (issue 20, item 1)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def scaled(x, scale=2.0, *, power=2.0, shift=0.5):
    return scale * np.sum((x + shift) ** power)


def _fd(wrt, x, **kw):
    """Central differences of `scaled` w.r.t. parameter `wrt`, the others as in the call (defaults)."""
    values = {"x": x, "scale": 2.0, "power": 2.0, "shift": 0.5}
    values.update(kw)
    names = ["x", "scale", "power", "shift"]

    def f(*a):
        return scaled(a[0], a[1], power=a[2], shift=a[3])
    return numerical_grad(f, [values[n] for n in names], names.index(wrt))


X = np.array([0.3, -1.2, 2.0])


@JIT
def test_grad_uses_defaults(jit):
    g = srcdiff.grad(scaled, jit=jit)
    np.testing.assert_allclose(g(X), _fd("x", X), rtol=1e-6)


@JIT
def test_grad_keyword_call(jit):
    g = srcdiff.grad(scaled, jit=jit)
    np.testing.assert_allclose(g(X, scale=3.0), _fd("x", X, scale=3.0), rtol=1e-6)
    np.testing.assert_allclose(g(x=X, power=3.0), _fd("x", X, power=3.0), rtol=1e-6)
    np.testing.assert_allclose(g(X, 0.5, shift=-0.25), _fd("x", X, scale=0.5, shift=-0.25), rtol=1e-6)


@JIT
def test_wrt_keyword_only_parameter(jit):
    g = srcdiff.grad(scaled, wrt="shift", jit=jit)
    assert g(X, shift=1.5) == pytest.approx(_fd("shift", X, shift=1.5), rel=1e-6)
    assert g(X) == pytest.approx(_fd("shift", X), rel=1e-6)


@JIT
def test_value_and_grad_and_vjp_keywords(jit):
    value, (dx, dscale) = srcdiff.value_and_grad(scaled, wrt=("x", "scale"), jit=jit)(x=X, power=3.0)
    assert value == pytest.approx(scaled(X, power=3.0))
    np.testing.assert_allclose(dx, _fd("x", X, power=3.0), rtol=1e-6)
    assert dscale == pytest.approx(_fd("scale", X, power=3.0), rel=1e-6)
    value, dx = srcdiff.vjp(scaled, jit=jit)(X, 2.0, scale=1.0)      # cotangent is the last positional
    np.testing.assert_allclose(dx, 2.0 * _fd("x", X, scale=1.0), rtol=1e-6)


@JIT
def test_forward_transforms_keywords(jit):
    v = np.array([1.0, -2.0, 0.5])
    value, dot = srcdiff.jvp(scaled, jit=jit)(X, v, scale=1.5)
    assert value == pytest.approx(scaled(X, 1.5))
    assert dot == pytest.approx(_fd("x", X, scale=1.5) @ v, rel=1e-6)
    # d²/dx² of scale * sum((x + shift)**2) is 2 * scale * I
    np.testing.assert_allclose(srcdiff.hvp(scaled, jit=jit)(X, v, scale=1.5), 3.0 * v, rtol=1e-9)
    np.testing.assert_allclose(srcdiff.hessian(scaled, jit=jit)(X, scale=1.5), 3.0 * np.eye(3), rtol=1e-9)
    np.testing.assert_allclose(srcdiff.jacobian(scaled, jit=jit)(X, shift=0.0), _fd("x", X, shift=0.0),
                               rtol=1e-6)


def kw_only_vector(x, *, w):
    return x * w


def test_jacobian_calls_keyword_only_function():
    """jacobian (auto mode) evaluates the user's function: keyword-only parameters get their values by name."""
    w = np.array([1.0, 2.0])
    np.testing.assert_allclose(srcdiff.jacobian(kw_only_vector)(np.ones(2), w=w), np.diag(w))


@JIT
def test_differentiate_grad_with_defaults(jit):
    h = srcdiff.differentiate(scaled, wrt="x", jit=jit)
    assert h(X) == pytest.approx(scaled(X))
    np.testing.assert_allclose(h.grad(X), _fd("x", X), rtol=1e-6)
    np.testing.assert_allclose(h.value_and_grad(X, power=3.0)[1], _fd("x", X, power=3.0), rtol=1e-6)


def test_bad_call_is_a_srcdiff_error():
    g = srcdiff.grad(scaled)
    with pytest.raises(srcdiff.SrcdiffError, match="unexpected keyword argument 'scal'"):
        g(X, scal=1.0)
    with pytest.raises(srcdiff.SrcdiffError, match="missing a required argument: 'x'"):
        g(scale=1.0)


def star_kwargs(x, **options):
    return x * 2.0


def test_kwargs_declined_at_def():
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.jvp(star_kwargs)
    msg = str(info.value)
    assert "test_signatures.py:" in msg and "**options" in msg and "def star_kwargs" in msg, msg


def test_vi_is_a_lazy_submodule():
    """`import srcdiff; srcdiff.vi` works without importing srcdiff.vi first (issue 20, item 3)."""
    import subprocess
    import sys
    code = "import sys, srcdiff; assert 'srcdiff.vi' not in sys.modules; print(srcdiff.vi.MeanFieldNormal.__name__)"
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and "MeanFieldNormal" in out.stdout, out.stderr
