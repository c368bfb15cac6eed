"""The call path of srcdiff.grad / value_and_grad (srcdiff/api.py): a call whose arguments have the types,
dtypes and shapes of an earlier call reuses what that call looked up (issue 22); these tests check that a
later call with other dtypes, ranks, shapes or bad arguments still gets its own specialisation, checks and
errors, in both backends, and that the reuse leaves `srcdiff.source`, copies and pickles as they were."""
import copy
import pickle

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def sum_sq(x):
    return np.sum(x * x)


def weighted(a, v):
    return np.sum(np.tanh(a @ v))


def inverse(x):
    return 1.0 / x


def with_default(x, scale=3.0):
    return scale * np.sum(x * x)


@JIT
def test_dtype_change_respecialises(jit):
    g = srcdiff.grad(sum_sq, jit=jit)
    x64 = np.array([0.5, -1.5, 2.0])
    for x in (x64, x64.astype(np.float32), x64, x64.astype(np.float32)):
        got = g(x)
        assert got.dtype == x.dtype
        np.testing.assert_allclose(got, 2 * x, rtol=1e-6)


@JIT
def test_rank_change_respecialises(jit):
    g = srcdiff.value_and_grad(sum_sq, jit=jit)
    x1 = np.array([0.5, -1.5, 2.0])
    x2 = np.arange(6.0).reshape(2, 3) - 2.5
    for x in (x1, x2, x1, x2, 1.25):
        value, got = g(x)
        np.testing.assert_allclose(value, sum_sq(x))
        np.testing.assert_allclose(got, numerical_grad(sum_sq, [x], 0), rtol=1e-6, atol=1e-8)
        assert np.shape(got) == np.shape(x)


@JIT
def test_axis_lengths_change_respecialises(jit):
    """(3, 3) @ (3,) then (3, 4) @ (4,): the axis labels differ, so does the specialisation."""
    g = srcdiff.grad(weighted, wrt=(0, 1), jit=jit)
    rng = np.random.default_rng(0)
    cases = [(rng.normal(size=(3, 3)), rng.normal(size=3)), (rng.normal(size=(3, 4)), rng.normal(size=4))]
    for a, v in cases + cases:
        da, dv = g(a, v)
        np.testing.assert_allclose(da, numerical_grad(weighted, [a, v], 0), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(dv, numerical_grad(weighted, [a, v], 1), rtol=1e-5, atol=1e-8)
    assert g.specializations == 2


@JIT
def test_python_and_numba_agree_after_type_changes(jit):
    g = srcdiff.grad(weighted, wrt=1, jit=jit)
    p = srcdiff.grad(weighted, wrt=1, jit=False)
    a = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    for v in (np.ones(4), np.ones(4, dtype=np.float32), np.full(4, 0.5), np.ones(4, dtype=np.float32)):
        first, again = g(a, v), g(a, v)
        np.testing.assert_allclose(first, p(a, v), rtol=1e-6)
        np.testing.assert_array_equal(again, first)
        assert again.dtype == first.dtype
        if jit:     # jitted gradients take their argument's dtype
            assert again.dtype == v.dtype


@JIT
def test_complex_after_real_is_declined(jit):
    g = srcdiff.grad(sum_sq, jit=jit)
    x = np.array([1.0, 2.0])
    g(x)
    g(x)
    with pytest.raises(srcdiff.SrcdiffError, match="'x' is complex"):
        g(x.astype(complex))
    with pytest.raises(srcdiff.SrcdiffError, match="'x' is complex"):
        g(1.0 + 2.0j)


@JIT
def test_bad_wrt_type_after_good_calls_is_declined(jit):
    g = srcdiff.grad(sum_sq, jit=jit)
    g(np.ones(2))
    g(np.ones(2))
    with pytest.raises(srcdiff.SrcdiffError, match="'x' \\(differentiated\\) is a str"):
        g("a")
    # (a dict is differentiated item by item now, as a tuple is: this one used whole, as NumPy cannot)
    with pytest.raises(srcdiff.SrcdiffError, match="argument used as a whole value"):
        g({"a": 1.0})


@JIT
def test_keywords_and_defaults_after_positional_calls(jit):
    g = srcdiff.grad(with_default, jit=jit)
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(g(x, 3.0), 6 * x)
    np.testing.assert_allclose(g(x, 3.0), 6 * x)
    np.testing.assert_allclose(g(x), 6 * x)
    np.testing.assert_allclose(g(x, scale=0.5), x)
    np.testing.assert_allclose(g(x=x, scale=2.0), 4 * x)
    with pytest.raises(srcdiff.SrcdiffError, match="with_default"):
        g(x, 1.0, 2.0)


def sin_weighted(x, a):
    return np.sum(np.sin(x) * a)


def sines(x):
    return np.sin(x)


def named_tangent(x, tangent):
    return np.sum(x * tangent)


def jvp_penalty(x, a):
    value, slope = srcdiff.jvp(sin_weighted)(x, a, tangent=np.ones_like(x))
    return slope ** 2


@JIT
def test_tangent_cotangent_and_v_by_name(jit):
    """The trailing argument may come by the name the docs give it (`tangent=`, `cotangent=`, `v=`), in a
    call and inside code srcdiff differentiates; a parameter of the user's with that name keeps it."""
    x, t = np.array([0.3, 1.0, 2.0]), np.array([1.0, -0.5, 2.0])
    value, slope = srcdiff.jvp(sin_weighted, jit=jit)(x, a=2.0, tangent=t)
    assert value == pytest.approx(sin_weighted(x, 2.0))
    assert slope == pytest.approx(np.sum(2.0 * np.cos(x) * t))
    np.testing.assert_allclose(srcdiff.hvp(sin_weighted, jit=jit)(x, 2.0, v=t), -2.0 * np.sin(x) * t)
    value, grads = srcdiff.vjp(sines, jit=jit)(x, cotangent=t)
    np.testing.assert_allclose(value, np.sin(x))
    np.testing.assert_allclose(grads, np.cos(x) * t)
    value, slope = srcdiff.jvp(named_tangent, jit=jit)(x, t, tangent=x)   # `tangent=` is the user's; t the jvp's
    assert (value, slope) == pytest.approx((np.sum(x * x), np.sum(x * t)))
    g = srcdiff.grad(jvp_penalty, jit=jit)(x, 2.0)
    np.testing.assert_allclose(g, numerical_grad(jvp_penalty, (x, 2.0), 0), rtol=1e-6)


def test_a_missing_tangent_is_named():
    """hvp(f)(x, a) without v: the arguments were bound with `a` taken as the tangent ('missing a required
    argument: a')."""
    with pytest.raises(srcdiff.SrcdiffError, match="sin_weighted_hvp takes the function's arguments followed by the"):
        srcdiff.hvp(sin_weighted)(np.ones(3), 2.0)
    with pytest.raises(srcdiff.SrcdiffError, match="followed by the tangent"):
        srcdiff.jvp(sin_weighted)(np.ones(3), 2.0)


def test_python_backend_keeps_numpy_division_on_repeated_calls():
    """jit=False turns Python floats into np.float64 on every call, the repeated ones included."""
    g = srcdiff.grad(inverse)
    with np.errstate(divide="ignore"):
        for _ in range(3):
            assert g(0.0) == -np.inf
    assert g(2.0) == -0.25


@JIT
def test_last_follows_the_call_that_ran(jit):
    """`last` (what srcdiff.source, CUDA lowering and error reports read) is the specialisation that ran."""
    g = srcdiff.grad(weighted, jit=jit)
    a1, v1 = np.ones((3, 3)), np.ones(3)
    a2, v2 = np.ones((3, 4)), np.ones(4)
    g(a1, v1)
    first = g.last
    g(a2, v2)
    second = g.last
    assert first is not second
    for _ in range(2):
        g(a1, v1)
        assert g.last is first and srcdiff.source(g) == first.source
        g(a2, v2)
        assert g.last is second and srcdiff.source(g) == second.source


@JIT
def test_scalar_types_respecialise(jit):
    """A Python float, an np.float32 and a 0-d array are different kinds of argument; each gets its own."""
    g = srcdiff.grad(sum_sq, jit=jit)
    for x in (1.5, np.float32(1.5), np.array(1.5), 1.5, np.array(1.5)):
        np.testing.assert_allclose(g(x), 3.0, rtol=1e-6)


@JIT
def test_copies_and_pickles_after_calls(jit):
    g = srcdiff.grad(sum_sq, jit=jit)
    x = np.array([1.0, 2.0])
    g(x)
    g(x)
    for h in (copy.copy(g), copy.deepcopy(g), pickle.loads(pickle.dumps(g))):
        np.testing.assert_allclose(h(x), 2 * x)
        np.testing.assert_allclose(h(x.astype(np.float32)), 2 * x)
    np.testing.assert_allclose(g(x), 2 * x)


def test_background_after_switch_over_follows_type_changes():
    """jit="background" whose compiled code is in the disk cache: repeated calls run the compiled
    function, and a call with other ranks or dtypes still gets its own specialisation."""
    # (the jitted half of jit="background" compiles grad's own module, which jit=True's grad no longer does: it runs
    # value_and_grad's compiled function, backends.ValueDropped; so the cache is filled by that half itself)
    jitted = srcdiff.grad(weighted, wrt=(0, 1), jit="background").background_pair()[0]
    python = srcdiff.grad(weighted, wrt=(0, 1))
    a, v = np.linspace(-1.0, 1.0, 12).reshape(3, 4), np.linspace(0.5, -0.5, 4)
    cases = [(a, v), (a[:, :3], v[:3]), (a, v.astype(np.float32))]
    for args in cases:
        jitted(*args)       # compiled (and cached on disk) in this process
    g = srcdiff.grad(weighted, wrt=(0, 1), jit="background")
    for args in cases + cases:
        da, dv = g(*args)
        assert any(g.last is s for s in g.background_pair()[0]._cache.values())     # the compiled code answered
        want = python(*args)
        np.testing.assert_allclose(da, want[0], rtol=1e-12)
        np.testing.assert_allclose(dv, want[1], rtol=1e-6)
        assert dv.dtype == args[1].dtype


def recurrence(a, b, n):
    ys = np.zeros(n + 1)
    ys[0] = 0.5
    for t in range(n):
        ys[t + 1] = ys[t] + 0.1 * (a * ys[t] - b * ys[t] ** 2)
    return ys[n]


COUNTS = [np.uint8(5), np.uint16(5), np.uint32(5), np.uint64(5), np.int8(5), np.int32(5), np.int64(5)]


@JIT
@pytest.mark.parametrize("checkpoints", [None, 2], ids=["taped", "checkpointed"])
def test_numpy_integer_counts(jit, checkpoints):
    """A trip count passed as a NumPy integer scalar of any width runs as a Python int: the generated code's
    own arithmetic on it (tape sizes, reverse loops, checkpoint segments `-(-n // k)`) wrapped for unsigned
    types (np.uint8: IndexError 255, np.uint32: a hang, under checkpoints=2) and turned into a float under
    Numba (np.uint64 - 1: a compile error). The same object first sees a Python int, then each kind."""
    g = srcdiff.grad(recurrence, wrt=(0, 1), jit=jit, checkpoints=checkpoints)
    vg = srcdiff.value_and_grad(recurrence, wrt=(0, 1), jit=jit, checkpoints=checkpoints)
    jvp = srcdiff.jvp(recurrence, wrt=(0, 1), jit=jit)
    expect = [numerical_grad(recurrence, [1.5, 0.7, 5], k) for k in (0, 1)]
    g(1.5, 0.7, 3)
    for n in COUNTS + [5]:
        for _ in range(2):      # the second call takes the path of calls like an earlier one
            np.testing.assert_allclose(g(1.5, 0.7, n), expect, rtol=1e-6)
            value, got = vg(1.5, 0.7, n)
            assert value == pytest.approx(recurrence(1.5, 0.7, 5))
            np.testing.assert_allclose(got, expect, rtol=1e-6)
            _, tangent = jvp(1.5, 0.7, n, (1.0, 0.5))
            assert tangent == pytest.approx(expect[0] + 0.5 * expect[1], rel=1e-6)


def scaled_tanh(a, m):
    return np.sum(np.tanh(m * a) + m / (1.5 + a * a))


def carried(y0, a, n):
    y = y0
    loss = 0.0
    for t in range(n):
        y = y + 0.1 * (a * y - y ** 2)
        loss = loss + np.sum(y ** 2)
    return loss


def pair_scaled(p, m):
    a, c = p
    return np.sum(np.sin(m * a) * c)


@JIT
def test_zero_d_array_arguments(jit):
    """0-d arrays where floats were passed before: under Numba they run as the scalars they hold (the
    generated code kept them as arrays, which Numba's arithmetic does not: `d_a += ...` of a scalar and a
    0-d array, a loop carrying one, did not compile), and the gradient is a 0-d array of the argument's
    float dtype; repeated calls take the fast path."""
    m = np.linspace(-1.0, 2.0, 12).reshape(3, 4)
    g = srcdiff.grad(scaled_tanh, wrt=(0, 1), jit=jit)
    c = srcdiff.grad(carried, wrt=(0, 1), jit=jit)
    p = srcdiff.grad(pair_scaled, wrt=(0, 1), jit=jit)
    g(0.3, m)
    c(0.3, 0.8, 5)
    p((0.3, 0.5), m)
    for a in (np.array(0.3), np.array(0.3, dtype=np.float32), np.array(0.3), 0.3):
        for _ in range(2):
            da, dm = g(a, m)
            np.testing.assert_allclose(da, numerical_grad(scaled_tanh, [float(a), m], 0), rtol=1e-5)
            np.testing.assert_allclose(dm, numerical_grad(scaled_tanh, [float(a), m], 1), rtol=1e-5, atol=1e-6)
            assert np.shape(da) == ()
            if jit and type(a) is np.ndarray:      # (jitted gradients take their argument's dtype)
                assert type(da) is np.ndarray and da.dtype == a.dtype
            dy, dc = c(a, a + 0.5, 5)
            np.testing.assert_allclose(dy, numerical_grad(carried, [float(a), float(a) + 0.5, 5], 0), rtol=1e-5)
            np.testing.assert_allclose(dc, numerical_grad(carried, [float(a), float(a) + 0.5, 5], 1), rtol=1e-5)
            assert np.shape(dy) == np.shape(dc) == ()
            (dpa, dpc), _ = p((a, np.array(0.5)), m)
            f = (lambda u, v: pair_scaled((u, v), m))
            np.testing.assert_allclose(dpa, numerical_grad(f, [float(a), 0.5], 0), rtol=1e-5)
            assert np.shape(dpc) == ()


def sine_steps(M, a, n):
    """M rebound in a loop to a C-ordered array: a Fortran-ordered M makes Numba type the name as layout 'A'."""
    for k in range(n):
        M = np.sin(M * 0.5) + 0.1 * np.ones(M.shape)
    return np.sum(M * M + a[None, :])


@JIT
def test_fortran_ordered_argument_rebound_in_a_loop(jit):
    """A Fortran-ordered matrix argument rebound in a loop to C-ordered arrays: Numba types the name as
    layout 'A' and then could not compile an array expression of it ("Don't know how to allocate array with
    layout 'A'", declined as Numba crashing; fuzz seed 601160's kinds oracle). Under Numba the arguments run
    C-ordered now, in grad, value_and_grad, jvp and hvp, after a C-ordered call and again on the fast path,
    with a strided `a` beside it; the gradients equal the C-ordered arguments' ones."""
    M = np.linspace(-0.5, 0.5, 8).reshape(2, 4)
    MF = np.asfortranarray(M)
    a = np.linspace(0.1, 0.4, 4)
    a_strided = np.repeat(a, 2)[::2]
    assert not a_strided.flags.c_contiguous and np.array_equal(a_strided, a)
    want = srcdiff.grad(sine_steps, wrt=(0, 1), jit=False)(M, a, 3)
    np.testing.assert_allclose(want[0], numerical_grad(sine_steps, [M, a, 3], 0), rtol=1e-6)
    g = srcdiff.grad(sine_steps, wrt=(0, 1), jit=jit)
    vg = srcdiff.value_and_grad(sine_steps, wrt=(0, 1), jit=jit)
    jvp = srcdiff.jvp(sine_steps, wrt=0, jit=jit)
    hvp = srcdiff.hvp(sine_steps, wrt=0, jit=jit)
    v = np.ones((2, 4))
    hv = hvp(M, a, 3, v)
    g(M, a, 3)
    for _ in range(2):
        for args in ((MF, a, 3), (MF, a_strided, 3)):
            dM, da = g(*args)
            np.testing.assert_allclose(dM, want[0], rtol=1e-12)
            np.testing.assert_allclose(da, want[1], rtol=1e-12)
            value, (dM2, _) = vg(*args)
            assert value == pytest.approx(sine_steps(M, a, 3), rel=1e-12)
            np.testing.assert_allclose(dM2, want[0], rtol=1e-12)
            _, tangent = jvp(*args, v)
            assert tangent == pytest.approx(np.vdot(want[0], v), rel=1e-10)
            np.testing.assert_allclose(hvp(*args, v), hv, rtol=1e-10)
    assert MF.flags.f_contiguous and not MF.flags.c_contiguous      # the caller's array is left as it was


@JIT
def test_float32_state_carried_by_a_loop(jit):
    """A float32 array that a loop carries (y = y + 0.1 * (a * y - y ** 2)): Numba's float32 array times a
    float is float64, so the jitted gradient did not compile ("Cannot unify array(float32, 1d, C) and
    array(float64, 1d, C)"), in grad, checkpoints=, value_and_grad, jvp and hvp; it now runs as float64 under
    Numba (gradients cast back to float32), after a float64 call and again on the fast path."""
    y64 = np.array([0.1, 0.2, 0.3, -0.2])
    y32 = y64.astype(np.float32)
    want = [numerical_grad(carried, [y64, 0.8, 5], k) for k in (0, 1)]
    v = np.array([1.0, -0.5, 0.25, 2.0])
    hv = (numerical_grad(lambda y: np.vdot(srcdiff.grad(carried)(y, 0.8, 5), v), [y64], 0))
    for ck in (None, 2):
        g = srcdiff.grad(carried, wrt=(0, 1), jit=jit, checkpoints=ck)
        g(y64, 0.8, 5)
        for _ in range(2):
            dy, da = g(y32, 0.8, 5)
            np.testing.assert_allclose(dy, want[0], rtol=1e-5)
            np.testing.assert_allclose(da, want[1], rtol=1e-5)
            assert dy.dtype == np.float32      # (the Python backend's was float64: the float a, run as np.float64)
    vg = srcdiff.value_and_grad(carried, wrt=0, jit=jit)
    jvp = srcdiff.jvp(carried, wrt=0, jit=jit)
    hvp = srcdiff.hvp(carried, wrt=0, jit=jit)
    for _ in range(2):
        value, dy = vg(y32, 0.8, 5)
        assert value == pytest.approx(carried(y64, 0.8, 5), rel=1e-5)
        np.testing.assert_allclose(dy, want[0], rtol=1e-5)
        assert dy.dtype == np.float32
        _, tangent = jvp(y32, 0.8, 5, v)
        assert tangent == pytest.approx(np.vdot(want[0], v), rel=1e-5)
        np.testing.assert_allclose(hvp(y32, 0.8, 5, v), hv, rtol=1e-4)


def scaled_sines(x, a):
    return np.sum(np.sin(x) * a + x * 0.5)


@JIT
def test_float32_array_beside_a_python_float_keeps_its_dtype(jit):
    """The Python backend runs a Python float argument as np.float64 (NumPy's division by zero), and NumPy 2
    promotes a float32 array with it to float64 (with the Python float itself, f's own arithmetic, not): the
    gradient of a float32 array came back float64 there, float32 under Numba. Both give the argument's dtype,
    on the first call and on the fast path."""
    x = np.array([0.3, -0.7, 1.1], dtype=np.float32)
    want = numerical_grad(scaled_sines, [x.astype(np.float64), 0.7], 0)
    g = srcdiff.grad(scaled_sines, wrt=(0, 1), jit=jit)
    vg = srcdiff.value_and_grad(scaled_sines, wrt=0, jit=jit)
    vjp = srcdiff.vjp(scaled_sines, wrt=0, jit=jit)
    for _ in range(2):
        dx, da = g(x, 0.7)
        assert dx.dtype == np.float32
        np.testing.assert_allclose(dx, want, rtol=1e-5)
        assert da == pytest.approx(np.sum(np.sin(x.astype(np.float64))), rel=1e-5)
        value, dx = vg(x, 0.7)
        assert dx.dtype == np.float32 and value == pytest.approx(scaled_sines(x, 0.7), rel=1e-5)
        value, dx = vjp(x, 0.7, 2.0)
        assert dx.dtype == np.float32
        np.testing.assert_allclose(dx, 2.0 * want, rtol=1e-5)



def _share(x, a):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + np.sin(x[i] * a) * x[i]
    return s


def test_jitted_grad_runs_value_and_grads_compiled_function():
    """grad(jit=True) and value_and_grad(jit=True) of one function and arguments are one Numba compile: grad runs
    value_and_grad's compiled function and drops the value (backends.ValueDropped); srcdiff.source still shows
    grad's own source, and its gradient is the Python backend's."""
    x = np.linspace(0.1, 1.0, 5)
    g, vg = srcdiff.grad(_share, wrt=(0, 1), jit=True), srcdiff.value_and_grad(_share, wrt=(0, 1), jit=True)
    dx, da = g(x, 0.7)
    value, (dx2, da2) = vg(x, 0.7)
    ran = g.last.function.compiled
    assert ran is vg.last.function and len(ran.overloads) == 1
    ref = srcdiff.grad(_share, wrt=(0, 1))(x, 0.7)
    np.testing.assert_allclose(dx, ref[0], rtol=1e-12)
    np.testing.assert_allclose([da, da2, value], [ref[1], ref[1], _share(x, 0.7)], rtol=1e-12)
    np.testing.assert_array_equal(dx, dx2)
    assert "def share_grad(" in srcdiff.source(g) and "value_and_grad" not in srcdiff.source(g)
