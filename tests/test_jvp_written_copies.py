"""Forward mode (jvp, and hvp, hessian, jacobian through it) of an array written in place through a second name
that is the same memory, or that only looks like it: a cast or a copy.

Why: the tangent of `r = f(buf)` is often the tangent of `buf` as it is (a cast passes it on, a view is the same view
of it), and the write `r[i] = v` is mirrored as `d_r[i] = dv`. Where the primal is a copy, that write must not reach
d_buf (nor the caller's tangent, when d_buf is d_x); where the primal is the same memory, the write must reach buf
and d_buf, and d_buf must then not be d_x. Found by hand (h24a), each silently wrong before:

- `r = buf.astype(float)` (a copy) then `r[1] = v`: rt.astype_grad(d_buf, r) is d_buf itself, so the write changed
  d_buf, d/dx[0] 1.6 for 2.3 (and the caller's tangent);
- `r = np.asarray(buf)` (`buf.T`, np.reshape, `np.array(buf, copy=False)`, ...) of `buf = x * 1.0`: buf's tangent
  was d_x itself, not copied, as the write into it was through another name: d/dx[0] 0.397 for 0.25, and the
  caller's tangent written;
- `buf.astype(float, copy=False)`, `np.asarray(buf, dtype=float)`: buf itself in NumPy, a copy in the generated
  code (value 2.19 for 1.835);
- `buf.flatten()`: always a copy in NumPy, `np.ravel(buf)` (a view) in the generated code: jvp's value 4.245 for
  4.6, and reverse mode declined it as a write through a view; `x.flatten("F")` was a TypeError, not a
  SrcdiffError.
"""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad, source_module

X = np.array([0.3, -0.5, 0.8, 1.1])
A = 0.7

TEMPLATE = '''
import numpy as np

def f(x, a):
    buf = x * 1.0
    r = {expr}
    r[1] = a * x[0]
    return np.sum(buf * x) + np.sum(r)
'''

# (expression, whether NumPy gives buf's own memory)
FORMS = [
    ("buf.astype(float)", False),
    ("buf.astype(np.float64)", False),
    ("np.array(buf, dtype=float)", False),
    ("buf.flatten()", False),
    ("buf.reshape(2, 2).flatten()", False),
    ("np.asarray(buf)", True),
    ("np.array(buf, copy=False)", True),
    ("buf.astype(np.float64, copy=False)", True),
    ("buf.astype(float, copy=False)", True),
    ("np.asarray(buf, dtype=np.float64)", True),
    ("np.asarray(buf, np.float64)", True),
    ("np.array(buf, dtype=float, copy=None)", True),
    ("buf.T", True),
    ("np.reshape(buf, (2, 2)).ravel()", True),
]


def _module(expr):
    return source_module("written_copy_" + "".join(c if c.isalnum() else "_" for c in expr),
                         TEMPLATE.format(expr=expr))


def _fd(f):
    def g(x, a):
        return f(x.copy(), a)
    return numerical_grad(g, [X, A], 0), numerical_grad(g, [X, A], 1)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("expr,shared", FORMS)
def test_jvp_of_a_write_through_a_cast_copy_or_view(expr, shared, jit):
    f = _module(expr).f
    buf = X * 1.0
    r = eval(expr, {"np": np, "buf": buf})
    assert np.shares_memory(r, buf) == shared        # (what NumPy does: the form's second entry)
    ex, ea = _fd(f)
    jvp = srcdiff.jvp(f, wrt=(0, 1), jit=jit)
    for i in range(4):
        tangent = np.eye(4)[i]
        value, d = jvp(X.copy(), A, (tangent, 0.0))
        assert np.isclose(value, f(X.copy(), A))
        assert np.isclose(d, ex[i], atol=1e-6), (i, d, ex[i])
        np.testing.assert_array_equal(tangent, np.eye(4)[i])     # the caller's tangent as it was
    assert np.isclose(jvp(X.copy(), A, (np.zeros(4), 1.0))[1], ea, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("expr", [e for e, shared in FORMS if not shared])
def test_grad_and_hvp_of_a_write_into_a_copy(expr, jit):
    f = _module(expr).f
    ex, ea = _fd(f)
    value, (gx, ga) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(X.copy(), A)
    assert np.isclose(value, f(X.copy(), A))
    np.testing.assert_allclose(gx, ex, atol=1e-6)
    assert np.isclose(ga, ea, atol=1e-6)
    v = np.array([0.2, -0.1, 0.4, 0.3])
    hx, ha = srcdiff.hvp(f, wrt=(0, 1), jit=jit)(X.copy(), A, (v, 0.5))
    g = srcdiff.grad(f, wrt=(0, 1))
    eps = 1e-6
    hi, lo = g(X + eps * v, A + eps * 0.5), g(X - eps * v, A - eps * 0.5)
    np.testing.assert_allclose(hx, (hi[0] - lo[0]) / (2 * eps), atol=1e-5)
    assert np.isclose(ha, (hi[1] - lo[1]) / (2 * eps), atol=1e-5)


@pytest.mark.parametrize("expr", ["buf.astype(np.float64, copy=False)", "np.asarray(buf, dtype=float)"])
def test_grad_of_a_write_through_a_cast_that_is_buf_itself_is_declined(expr):
    f = _module(expr).f
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory"):
        srcdiff.grad(f, wrt=(0, 1))(X.copy(), A)


@pytest.mark.parametrize("expr", ["buf.flatten('F')", "buf.reshape(2, 2).flatten(order='F')", "buf.ravel('F')"])
def test_flatten_and_ravel_in_another_order_are_declined_at_the_line(expr):
    f = _module(expr).f
    for transform in (srcdiff.grad, srcdiff.jvp):
        with pytest.raises(srcdiff.SrcdiffError, match="order= is not supported"):
            g = transform(f, wrt=(0, 1))
            g(X.copy(), A) if transform is srcdiff.grad else g(X.copy(), A, (X, 1.0))


def float32_copy_written(x):
    buf = x * 1.0
    r = buf.astype(np.float32, copy=False)
    r[1] = r[0] * 2.0
    return np.sum(buf * buf) + np.sum(r)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_of_a_write_into_a_cast_to_another_float_type(jit):
    """`buf.astype(np.float32, copy=False)` of a float64 buf is a new array in NumPy (the type differs), but
    rt.astype_grad passed buf's tangent on as it was, so the write into the result changed d_buf: jvp d/dx
    [2, 0, 4] for [4, -1, 4] (h24a, noticed). The tangent of a cast to another float type is a copy now."""
    x = np.array([0.5, -0.5, 1.5])
    J = [srcdiff.jvp(float32_copy_written, jit=jit)(x.copy(), e)[1] for e in np.eye(3)]
    np.testing.assert_allclose(J, [4.0, -1.0, 4.0], rtol=1e-6)    # (2 x + [3, 0, 1]: float32 rounds r, not its slope)
    np.testing.assert_array_equal(x, [0.5, -0.5, 1.5])


@pytest.mark.parametrize("expr", ["np.ascontiguousarray(buf)", "np.asfortranarray(buf)"])
def test_jvp_of_a_write_through_a_layout_function_is_declined(expr):
    """np.ascontiguousarray(buf) / np.asfortranarray(buf) is buf itself or a copy by buf's layout at run time, and a
    tangent's layout need not be its value's (of an F-ordered argument, `x * 1.0` is F-ordered, `dx * 1.0` of a
    C-ordered tangent C-ordered: the copy and the view part ways, derivative 7.52 for 8.12 in
    tests/test_view_functions.py). Forward mode of a function calling one runs reverse mode's check (h30b; this
    program of a 1-d buf, always contiguous, was differentiated before and is declined at the write now)."""
    f = _module(expr).f
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory") as info:
        srcdiff.jvp(f, wrt=(0, 1))(X.copy(), A, (X, 1.0))
    assert ".py:7:" in str(info.value) and info.value.advice
