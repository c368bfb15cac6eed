"""transforms/caller_arrays.py (and forward_api's copies): a function that writes into an argument array
(`x[i] = x[i] * y[i]`, `p["W"][0] = v`) changes the caller's array, in Python; every entry point leaves it as one
call of f does, and gives the derivatives at the point given. Before, grad with x not differentiated (or its
restore read), value_and_grad and vjp restored the old values in the backward sweep, and jvp, hvp, hessian and
jacobian worked on copies: the caller's array was left unchanged, unlike after f."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def scales_in_a_loop(x, y):
    for i in range(3):
        x[i] = x[i] * y[i]
    return np.sum(x * x) + np.sum(np.sin(y))


def scales_a_dict_item(p, y):
    p["W"][0] = p["W"][0] * y[0]
    return np.sum(p["W"] ** 2) + y[1] * p["b"]


def writes_a_row(M, y):
    M[1] = np.tanh(M[1] + y)
    M[0, 2] += y[0] * y[1]
    return np.sum(M * M) * y[2]


def _copy(a):
    return {k: _copy(v) for k, v in a.items()} if isinstance(a, dict) else np.array(a, dtype=float)


def _points():
    y = np.array([0.5, -1.2, 0.8])
    return [(scales_in_a_loop, np.array([1.0, 2.0, 3.0]), y),
            (scales_a_dict_item, {"W": np.array([0.4, -0.3, 0.9]), "b": 0.7}, y),
            (writes_a_row, np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]]), y)]


def _after_f(f, a, y):
    a = _copy(a)
    f(a, y.copy())
    return a


def _assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)


def _on_copies(f):
    return lambda a, y: f(_copy(a), y.copy())


def _numerical(f, a, y, k):
    g = _on_copies(f)
    if k == 1:
        return numerical_grad(g, [a, y], 1)
    if isinstance(a, dict):
        return {key: numerical_grad(lambda v: g({**a, key: v}, y), [a[key]], 0) for key in a}
    return numerical_grad(g, [a, y], 0)


def _assert_close(got, want):
    if isinstance(want, dict):
        for k in want:
            _assert_close(got[k], want[k])
    else:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


ENTRIES = ["grad0", "grad1", "grad01", "value_and_grad", "vjp", "jvp0", "jvp1", "hvp", "hessian", "jacobian"]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_the_callers_array_is_left_as_f_leaves_it(entry, jit):
    _check_entry(entry, jit, _points())


def writes_through_a_slice(x, y):
    v = x[1:]
    v[0] = v[1] * y[0]
    return np.sum(v * v) * y[1] + y[2]


def writes_through_a_reshape(x, y):
    m = x.reshape(2, 2)
    m[1, 0] = m[0, 1] * y[0] + y[1]
    return np.sum(m ** 3) + y[2] * m[1, 1]


def writes_through_a_transpose(M, y):
    t = M.T
    t[2, 0] += y[0] * t[1, 1]
    return np.sum(t * t) * y[1] + y[2]


def writes_through_asarray(x, y):
    u = np.asarray(x)
    u[0] = u[3] * y[0]
    return np.sum(u ** 2) * y[1] + y[2]


def writes_through_a_cast(x, y):
    w = x.astype(float, copy=False)
    w[2] = w[1] * y[1] + y[2]
    return np.sum(w ** 2) * y[0]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_an_argument_written_through_a_view_is_left_as_f_leaves_it(entry, jit):
    """A write through a view of the argument (a slice, a reshape, `.T`, np.asarray, a cast with copy=False), the
    argument not read afterwards (else the write is declined in reverse mode): grad, value_and_grad, vjp, hvp,
    hessian and jacobian left the caller's array as it was before the call (the backward sweep's restores through
    the view), not as f leaves it; jvp wrote into the caller's tangent through the view's tangent (h24a)."""
    y = np.array([0.5, -1.2, 0.8])
    _check_entry(entry, jit, [(writes_through_a_slice, np.array([1.0, 2.0, -3.0, 0.5]), y),
                              (writes_through_a_reshape, np.array([1.0, 2.0, -3.0, 0.5]), y),
                              (writes_through_a_transpose, np.array([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]]), y),
                              (writes_through_asarray, np.array([1.0, 2.0, -3.0, 0.5]), y),
                              (writes_through_a_cast, np.array([1.0, 2.0, -3.0, 0.5]), y)])


def _check_entry(entry, jit, points):
    for f, a0, y in points:
        a = _copy(a0)
        want_after = _after_f(f, a0, y)
        d0, d1 = _numerical(f, a0, y, 0), _numerical(f, a0, y, 1)
        if entry == "grad0":
            _assert_close(srcdiff.grad(f, wrt=0, jit=jit)(a, y), d0)
        elif entry == "grad1":
            _assert_close(srcdiff.grad(f, wrt=1, jit=jit)(a, y), d1)
        elif entry == "grad01":
            g0, g1 = srcdiff.grad(f, wrt=(0, 1), jit=jit)(a, y)
            _assert_close(g0, d0)
            _assert_close(g1, d1)
        elif entry == "value_and_grad":
            value, g1 = srcdiff.value_and_grad(f, wrt=1, jit=jit)(a, y)
            assert value == pytest.approx(_on_copies(f)(a0, y), rel=1e-12)
            _assert_close(g1, d1)
        elif entry == "vjp":
            value, g1 = srcdiff.vjp(f, wrt=1, jit=jit)(a, y, 2.0)
            assert value == pytest.approx(_on_copies(f)(a0, y), rel=1e-12)
            _assert_close(g1, 2.0 * d1)
        elif entry == "jvp0":
            t = _copy(a0)
            t0 = _copy(t)
            value, tangent = srcdiff.jvp(f, wrt=0, jit=jit)(a, y, t)
            want = sum(np.sum(d0[k] * t0[k]) for k in d0) if isinstance(d0, dict) else np.sum(d0 * t0)
            assert tangent == pytest.approx(want, rel=1e-6)
            _assert_same(t, t0)        # (the tangent it writes into, `d_x[i] = ...`, is a copy)
        elif entry == "jvp1":
            v = np.array([0.3, 1.0, -0.5])
            value, tangent = srcdiff.jvp(f, wrt=1, jit=jit)(a, y, v)
            assert value == pytest.approx(_on_copies(f)(a0, y), rel=1e-12)
            assert tangent == pytest.approx(d1 @ v, rel=1e-6)
        elif entry == "hvp":
            v = np.array([0.3, 1.0, -0.5])
            hv = srcdiff.hvp(f, wrt=1, jit=jit)(a, y, v)
            want = (_numerical(f, a0, y + 1e-4 * v, 1) - _numerical(f, a0, y - 1e-4 * v, 1)) / 2e-4
            np.testing.assert_allclose(hv, want, rtol=1e-4, atol=1e-5)
        elif entry == "hessian":
            H = srcdiff.hessian(f, wrt=1, jit=jit)(a, y)
            want = np.array([(_numerical(f, a0, y + 1e-4 * e, 1) - _numerical(f, a0, y - 1e-4 * e, 1)) / 2e-4
                             for e in np.eye(3)])
            np.testing.assert_allclose(H, want, rtol=1e-4, atol=1e-5)
        else:
            J = srcdiff.jacobian(f, wrt=1, jit=jit)(a, y)
            _assert_close(J, d1)
        _assert_same(a, want_after)


def test_the_gradient_writes_back_only_what_it_restores():
    """Where the backward sweep restores nothing (x differentiated, its restore dead), no copy is made."""
    def straight(x, y):
        x[0] = y[0] * 2.0
        return np.sum(x * x)
    source = srcdiff.source(srcdiff.grad(straight, wrt=0))
    assert "_final" not in source, source
    source = srcdiff.source(srcdiff.grad(scales_in_a_loop, wrt=1))
    assert "x_final = rt.copy(x)" in source and "x[:] = x_final" in source, source
    assert "# the caller's x: left as scales_in_a_loop leaves it" in source, source


def written_then_bound_again(x, M):
    M[1] = np.tanh(M[1]) * 0.5 + M[0]
    for i in range(3):
        M = 0.5 * M + 0.5 * np.tanh(M)
    return np.sum(M) * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_parameter_written_then_bound_again_is_left_as_f_leaves_it(jit):
    """Fuzz seeds 88 and 90 (on main too): `M[1] = ...` then `M = 0.5 * M + ...` -- a parameter bound again was
    left out of the pass, so the backward sweep's restore of M[1] left the caller's M as it was before the call
    (f leaves M[1] changed). Now the caller's array is held from the start (`M_caller = M`) and written back."""
    M0 = np.array([[0.3, -0.2], [0.5, 0.1]])
    after_f = M0.copy()
    written_then_bound_again(0.7, after_f)
    M = M0.copy()
    gx, gM = srcdiff.grad(written_then_bound_again, wrt=(0, 1), jit=jit)(0.7, M)
    np.testing.assert_allclose(M, after_f, rtol=1e-12, atol=1e-15)   # (Numba's tanh: the last bit)
    np.testing.assert_allclose(gM, numerical_grad(written_then_bound_again, [0.7, M0.copy()], 1), rtol=1e-5, atol=1e-7)


def written_in_checkpointed_loops(x, a):
    for t in range(1, 4):
        a[t] = a[t] * -0.7 + np.sin(a[t - 1])
    for t in range(1, 4):
        a[t] = a[t] * -0.7 + np.sin(a[t - 1])
    b = a * 1.0
    return np.sum(b) + x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_an_array_written_in_checkpointed_loops_is_left_as_f_leaves_it(jit):
    """Fuzz seed 23028 (on main too): with checkpoints=3 the reruns of the loops' segments, placeholders when this
    pass runs (the checkpoints pass fills them in later), restore a's snapshots and write it again, but the pass saw
    no backward write of a (the sum reads b, so nothing else restores a) and wrote nothing back: the caller's a was
    left as the first segment's rerun left it. A rerun now writes what its forward loop writes."""
    a0 = np.array([0.3, -0.2, 0.5, 0.1])
    after_f = a0.copy()
    written_in_checkpointed_loops(0.3, after_f)
    a = a0.copy()
    ga = srcdiff.grad(written_in_checkpointed_loops, wrt=1, checkpoints=3, jit=jit)(0.3, a)
    np.testing.assert_allclose(a, after_f, rtol=1e-12, atol=1e-15)
    taped = srcdiff.grad(written_in_checkpointed_loops, wrt=1)(0.3, a0.copy())
    np.testing.assert_allclose(ga, taped, rtol=1e-10, atol=1e-12)


def written_with_x_then_bound_again(x, M):
    M[1, 1] += 0.5 * x
    for i in range(2):
        M = 0.5 * M + 0.5 * np.tanh(M * x)
    return np.sum(M * M)


def penalty_of_written_then_bound_again(x, M):
    gx, gM = srcdiff.grad(written_with_x_then_bound_again, wrt=(0, 1))(x, M)
    return gx * gx + np.sum(gM * gM)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_gradient_that_holds_the_callers_array_differentiated_again(jit):
    """Nested fuzz seed 1003002: h calls srcdiff.grad(f) where f writes into its argument M and binds M anew after;
    f's gradient holds the caller's array under a second name (`M_caller = M`, `M_caller[:] = M_final`). The
    outer pass declined its snapshot as a read of a view the write through M left stale ("`M` shares memory with
    `M` (another binding of it)"); grad(h) then left the caller's M restored (its writes went through second
    names, which this pass did not count) and jvp(h) wrote into the caller's tangent of M."""
    h = penalty_of_written_then_bound_again
    M0, x = np.array([[0.3, -0.2, 0.4], [0.5, 0.1, -0.6]]), 0.7
    after_h = M0.copy()
    h(x, after_h)
    M = M0.copy()
    gx, gM = srcdiff.grad(h, wrt=(0, 1), jit=jit)(x, M)
    np.testing.assert_allclose(M, after_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gx, numerical_grad(lambda x: h(x, M0.copy()), [x], 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gM, numerical_grad(h, [x, M0.copy()], 1), rtol=1e-5, atol=1e-7)
    t = (0.3, np.array([[1.0, -0.5, 0.2], [0.4, 0.8, -1.0]]))
    tM = t[1].copy()
    M = M0.copy()
    value, dot = srcdiff.jvp(h, wrt=(0, 1), jit=jit)(x, M, t)
    np.testing.assert_array_equal(t[1], tM)     # (the caller's tangent, unchanged)
    np.testing.assert_allclose(M, after_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dot, gx * t[0] + np.sum(gM * t[1]), rtol=1e-9)


def test_the_array_read_after_such_a_gradient_is_declined_at_the_read():
    """The same gradient called, then the array it wrote into read: its derivative through the write-back under
    a second name is not followed; declined at the user's read, saying what to do (it named `M` and `M`
    (another binding of it) at f's write)."""
    def h(x, M):
        gx, gM = srcdiff.grad(written_with_x_then_bound_again, wrt=(0, 1))(x, M)
        return gx * gx + np.sum(gM * gM) + np.sum(M * M)
    with pytest.raises(srcdiff.SrcdiffError, match=r"`M` is read here after srcdiff's gradient") as info:
        srcdiff.grad(h, wrt=(0, 1))(0.7, np.array([[0.3, -0.2, 0.4], [0.5, 0.1, -0.6]]))
    assert "np.sum(M * M)" in str(info.value) and "np.copy(M)" in str(info.value)


def writes_then_returns_a_column_from_a_branch(x, M, n):
    M[0, 0] = x * M[0, 0]
    if n > 0:
        return np.sum(M[:, 0] * M[:, 0]) ** 2
    return 0.0


def slope_of_column_norm(x, M, n):
    return srcdiff.grad(writes_then_returns_a_column_from_a_branch, wrt=0)(x, M, n)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_restore_read_through_a_view_taken_in_a_branch_stays(jit):
    """Nested fuzz seed 1021004 (minimised): f's gradient takes `M[:, 0]` in a branch and its backward sweep
    restores `M[0, 0]`; grad of that gradient reads the views in its own backward sweep, after the restores it
    undoes. This pass dropped those restores as read by nothing after them (it counted reads of M and its copies,
    not of views of it): the views saw M[0, 0] as before f's write, and d2/dx2 was 1.585 for 1.331."""
    h = slope_of_column_norm
    M0, x = np.array([[-0.43897277, 1.90795514], [-1.28139967, 0.34014855]]), 0.38343007609019075
    after_h = M0.copy()
    h(x, after_h, 2)
    M = M0.copy()
    g = srcdiff.grad(h, jit=jit)(x, M, 2)
    np.testing.assert_allclose(M, after_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g, numerical_grad(lambda x: h(x, M0.copy(), 2), [x], 0), rtol=1e-5, atol=1e-7)


def test_stored_nested_case_1003002(tmp_path):
    """tests/fuzz_cases/nested_1003002.py through every oracle of the nested fuzz (entry h: grad, value_and_grad,
    jvp, each leaving the arguments, and the tangents, as they should)."""
    import os
    import fuzzgen
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_cases", "nested_1003002.py")
    prog = fuzzgen.Program.from_file(path)
    fuzzgen.check_program(prog.load(str(tmp_path), "nested_1003002_case"), prog, False, seed=1003002, entry="h")


def scale_0d(c, y):
    c[...] = c * np.sum(y)


def through_a_0d_argument(a, x):
    scale_0d(a, x)
    return np.sum(x) * a[()]


def test_a_0d_argument_written_by_a_helper_is_written_back():
    """A helper writing into a 0-d array argument (jit=False; under jit=True it is declined, the argument running as
    the number it holds): the caller's array was written back with `a[:] = a_final`, which a 0-d array cannot take
    (IndexError 'too many indices', h28a); now `a[...] = a_final`. 9 * a, so d/da 9 and d/dx 2 * a * sum(x) = 12."""
    a, x = np.array(2.0), np.ones(3)
    g = srcdiff.grad(through_a_0d_argument, wrt=(0, 1))
    ga, gx = g(a, x)
    assert ga == pytest.approx(9.0) and gx == pytest.approx([12.0] * 3)
    assert a == 6.0     # as the function leaves it
    assert "a[...] = a_final" in srcdiff.source(g)
