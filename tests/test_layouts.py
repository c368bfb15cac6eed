"""transforms/layouts.py (the compiled form only): a name a loop binds again after an F-ordered array (what
Numba's LAPACK calls return) takes its values through rt.any_layout, so Numba compiles forward mode's code
(fuzz seed 913000 under Numba: "Don't know how to allocate array with layout 'A'")."""
import numpy as np
import pytest
from scipy.special import logsumexp

import srcdiff


def after_svd(M):
    a = (np.linalg.svd(M + 3.0 * np.eye(2), full_matrices=False)[2] ** 2)[:, 0]
    s = M[:, :2]
    for i in range(2):
        a = logsumexp(a[:, None] + s, axis=0)
    return np.sum(a)


def after_inv(M):
    a = np.linalg.inv(M + 3.0 * np.eye(2))[:, 0]
    for i in range(2):
        a = np.tanh(a[:, None] + M).sum(0)
    return np.sum(a * a)


def after_solve_in_branch(M, x):
    a = np.linalg.solve(M + 3.0 * np.eye(2), M)
    if x > 0:
        a = M * x
    return np.sum(a * 2.0)


CASES = [(after_svd, ()), (after_inv, ()), (after_solve_in_branch, (0.7,))]


@pytest.mark.parametrize("f, rest", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_jvp_under_numba_after_a_fortran_ordered_array(f, rest):
    M = np.random.default_rng(2).normal(size=(2, 2))
    v = np.linspace(-1.0, 1.0, 4).reshape(2, 2)
    g = srcdiff.grad(f, wrt=0)(M, *rest)
    value, tangent = srcdiff.jvp(f, wrt=0, jit=True)(M, *rest, v)
    np.testing.assert_allclose(value, f(M, *rest), rtol=1e-12)
    np.testing.assert_allclose(tangent, np.sum(g * v), rtol=1e-9, atol=1e-12)


def test_only_the_compiled_form_says_so():
    M = np.random.default_rng(2).normal(size=(2, 2))
    t = srcdiff.jvp(after_svd, wrt=0, jit=True)
    t(M, np.ones((2, 2)))
    assert "any_layout" not in srcdiff.source(t)
    assert "a = rt.any_layout(" in t.last.generated.compiled


def test_any_layout_is_the_array():
    import numba
    from srcdiff import runtime as rt

    @numba.njit
    def pick(F, C, k):
        a = rt.any_layout(F[:, 0])
        for _ in range(k):
            a = rt.any_layout(C[0] + 1.0)
        return a * 2.0
    F, C = np.asfortranarray(np.arange(4.0).reshape(2, 2)), np.ones((2, 2))
    np.testing.assert_array_equal(pick(F, C, 0), 2.0 * F[:, 0])
    np.testing.assert_array_equal(pick(F, C, 1), [4.0, 4.0])
    assert rt.any_layout(F) is F


def elman(W, U, b, xs):
    h = np.zeros(W.shape[0])
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
        loss = loss + np.sum(h ** 2)
    return loss


def test_names_bound_to_new_c_arrays_only_are_not_wrapped():
    """Every wrapped binding is more for Numba to type (a 50-step Elman RNN's gradient wrapped 25, its first call
    cold 750 -> 905 ms): the zeros a loop's adjoints start from and add into in place (`d_W = rt.zeros_like(W)`,
    `d_W = rt.elementwise('a += b', (d_W, ...))`), tapes (`rt.put_row`), their rows, array expressions, products
    of a matrix and a row of an argument (`h4 = xs[t]`: Numba types the row of an F array A, never F) cannot be
    F arrays, and nothing of the gradient is wrapped. The gradient agrees with the Python backend."""
    rng = np.random.default_rng(0)
    W, U, b, xs = rng.normal(size=(4, 4)) * 0.3, rng.normal(size=(4, 3)), np.zeros(4), rng.normal(size=(5, 3))
    t = srcdiff.grad(elman, wrt=(0, 1, 2), jit=True)
    got = t(W, U, b, xs)
    compiled = t.last.generated.compiled or t.last.generated.source
    for name in ("d_W", "d_U", "d_b", "h_tape", "h4", "h", "d_h"):
        assert f"{name} = " in compiled, compiled
    assert "any_layout" not in compiled, compiled
    want = srcdiff.grad(elman, wrt=(0, 1, 2))(W, U, b, xs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def column_then_loop(M):
    a = M[:, 0]
    for i in range(2):
        a = np.tanh(a[:, None] + M).sum(0)
    return np.sum(a * a)


def test_a_column_of_a_fortran_ordered_argument_is_wrapped():
    """An argument of rank 2 may come in Fortran order (Numba types it F, and its column `M[:, 0]` F): a name bound
    to its column and again in a loop takes the column through rt.any_layout, in both modes, and both compile and
    agree with the Python backend on an F-ordered M."""
    M = np.asfortranarray(np.random.default_rng(2).normal(size=(3, 3)))
    v = np.linspace(-1.0, 1.0, 9).reshape(3, 3)
    want = srcdiff.grad(column_then_loop)(M)
    t = srcdiff.grad(column_then_loop, jit=True)
    np.testing.assert_allclose(t(M), want, rtol=1e-12, atol=1e-14)
    assert "a = rt.any_layout(M[:, 0])" in t.last.generated.compiled
    j = srcdiff.jvp(column_then_loop, wrt=0, jit=True)
    value, tangent = j(M, v)
    np.testing.assert_allclose(tangent, np.sum(want * v), rtol=1e-9)
    assert "a = rt.any_layout(M[:, 0])" in j.last.generated.compiled


def test_only_bindings_that_can_be_fortran_are_wrapped():
    """The pass on its own, kinds unknown but the loop index's and the matrix M's: of the names a loop binds again,
    the bindings to a slice of an argument, an argument itself and a transpose are wrapped; numbers, None, new arrays
    (np.zeros), a row `M[i]` and arithmetic on a name whose own F bindings are wrapped (`a = np.tanh(a)`) are not."""
    import ast

    import gast

    from srcdiff.transforms.astutil import parse_stmts
    from srcdiff.transforms.kind_type import Kind
    from srcdiff.transforms.layouts import any_layouts
    fn = parse_stmts("""
def f(M, v, n):
    s = 0.0
    a = M[:, 0]
    b = v
    r = M[0]
    t = None
    for i in range(n):
        s = s + 1.0
        a = np.tanh(a)
        b = np.zeros(3)
        r = M[i]
        t = M.T
    return s
""")[0]
    out = any_layouts(fn, {"i": Kind.scalar("i"), "M": Kind.array(2, "f")})
    wrapped = sorted(ast.unparse(gast.gast_to_ast(st)) for st in gast.walk(out) if isinstance(st, gast.Assign)
                     and "any_layout" in ast.unparse(gast.gast_to_ast(st)))
    assert wrapped == ["a = rt.any_layout(M[:, 0])", "b = rt.any_layout(v)", "t = rt.any_layout(M.T)"], wrapped
