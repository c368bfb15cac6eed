"""0-d arrays a function makes, used as numbers (transforms/zero_d_locals.py): `s = np.zeros(()); s[()] = v`,
`s[...] += v`, reads `s[()]`, and an accumulator a loop binds again, `s = s + x[i] * w` (NumPy's number after one
step). Before the rewrite, jit=True declined every one with Numba's 'Cannot unify array(float64, 0d, C) and float64'
or 'No implementation of function getitem' (the adjoint read `d_s[()]` of an adjoint that arithmetic made a number),
and jit=False failed on a write after arithmetic, `s[...] = s * x[1]` ('numpy.float64' object does not support item
assignment). Each gradient against central differences, jvp = gradient . v, both backends."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def written_whole(x, w):
    s = np.zeros(())
    s[()] = np.sum(x) * w
    return s * 2.0


def written_through_an_ellipsis(x, w):
    s = np.ones(())
    s[...] = w * x[0]
    s[...] = s * x[1]
    s[...] += np.tanh(s[()])
    return s + 1.0


def loop_accumulator(x, w):
    s = np.zeros(())
    for i in range(x.shape[0]):
        s = s + x[i] * w
    return s


def loop_write(x, w):
    s = np.full((), 0.5)
    for i in range(3):
        s[()] = s[()] * 0.9 + np.sin(x[i] * w)
    return np.tanh(s)


def loop_update(x, w):
    s = np.zeros((), dtype=float)
    for i in range(3):
        s += np.cos(x[i] * w * i)
    return s * 0.5


def reshaped(x, w):
    s = np.zeros(())
    s[...] = np.sum(x) * w
    r = s.reshape(1)        # (a read that names the array: s stays a 0-d array, which Numba runs as it is)
    return np.sum(r * x[0])


def reshaped_and_read(x, w):
    s = np.zeros(())
    s[...] = np.sum(x) * w
    r = s.reshape(1)
    t = s[()] * 2.0          # (a read of the array written above: its adjoint stays an array, d_s[()] is read back)
    return np.sum(r * x[0]) + t


X = np.array([0.31, -0.57, 1.13])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [written_whole, written_through_an_ellipsis, loop_accumulator, loop_write, loop_update,
                               reshaped, reshaped_and_read])
def test_a_0d_array_the_function_makes_is_differentiated_as_its_number(f, jit):
    w = 0.73
    value, (dx, dw) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(X.copy(), w)
    assert value == pytest.approx(float(f(X.copy(), w)), rel=1e-12)
    np.testing.assert_allclose(dx, numerical_grad(lambda x, w: float(f(x, w)), [X, w], 0), rtol=1e-6, atol=1e-8)
    assert dw == pytest.approx(numerical_grad(lambda x, w: float(f(x, w)), [X, w], 1), rel=1e-6, abs=1e-8)
    v = (np.array([0.5, -1.0, 0.25]), 0.7)
    _, d = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(X.copy(), w, v)
    assert d == pytest.approx(np.sum(dx * v[0]) + dw * v[1], rel=1e-9, abs=1e-12)


def test_the_generated_code_holds_the_number():
    """The accumulator starts as the number 0.0 and a whole write binds the name (user names kept)."""
    g = srcdiff.grad(loop_write, wrt=1)
    g(X.copy(), 0.73)
    code = [line.strip() for line in srcdiff.source(g).splitlines() if not line.strip().startswith("#")]
    assert "s = 0.5" in code and not any("np.full" in line or "[()]" in line for line in code), code


def aliased(x, w):
    s = np.zeros(())
    t = s
    s[()] = w * x[0]
    return t * x[1]


def test_a_second_name_of_the_array_stays_an_array():
    """`t = s` names the array, which `s[()] = ...` then writes: s is not made a number (t would miss the write, a
    wrong gradient); the aliasing check declines the read of t at the write, as of any array."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"`t` shares memory with `s`, which this assignment writes"):
        srcdiff.grad(aliased, wrt=1)(X.copy(), 0.73)


def argument_reshaped(a, x):
    return np.sum(a.reshape(1) * x) + np.sum(np.reshape(a, (1, 1)))


def argument_indexed(a, x):
    return a[()] * np.sum(x) + a[...] * x[0]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [argument_reshaped, argument_indexed])
def test_a_0d_array_argument_reshaped_or_indexed(f, jit):
    """A 0-d array argument runs under jit=True as the number it holds (specialisations.run_scalars): its
    `a.reshape(1)` and `a[()]` did not compile (Numba: 'No implementation of function reshape' / 'getitem')."""
    a = np.array(0.73)
    value, (da, dx) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(a, X.copy())
    assert value == pytest.approx(float(f(a, X.copy())), rel=1e-12)
    assert np.shape(da) == () and da == pytest.approx(numerical_grad(f, [a, X], 0), rel=1e-6)
    np.testing.assert_allclose(dx, numerical_grad(f, [a, X], 1), rtol=1e-6, atol=1e-8)
    v = (np.array(0.7), np.array([0.5, -1.0, 0.25]))
    _, d = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(a, X.copy(), v)
    assert d == pytest.approx(da * v[0] + np.sum(dx * v[1]), rel=1e-9, abs=1e-12)


def aliased_0d_local(x, w):
    v = np.sum(x) * w
    s = np.zeros(())
    s[...] = v
    t = s           # another name for the array: zero_d_locals leaves s an array
    return t * 2.0


def written_0d_argument(a, x):
    for i in range(2):
        a[...] = a * 0.5 + x[i]
    return np.sum(x) * a


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_write_into_a_0d_array_whose_adjoint_arithmetic_made_a_number(jit):
    """A 0-d array left an array (a second name of a local; an argument under jit=False) and written after the
    return's arithmetic: its adjoint `d_t = d_r * 2.0` is a number, and the write's adjoint `d_t[()]` could not index
    it (h28a: 'numpy.float64' object does not support item assignment, Numba's getitem under jit). Now made a 0-d array
    of its own first (rt.array_0d). aliased_0d_local: 2 * w * sum(x); written_0d_argument: sum(x) * (a / 4 + x0 / 2
    + x1), d/da 0.75 at x = ones(3)."""
    x, w = np.array([0.3, -1.2, 0.8]), 1.7
    gx, gw = srcdiff.grad(aliased_0d_local, wrt=(0, 1), jit=jit)(x, w)
    np.testing.assert_allclose(gx, numerical_grad(aliased_0d_local, [x, w], 0), rtol=1e-7)
    assert gw == pytest.approx(numerical_grad(aliased_0d_local, [x, w], 1), rel=1e-7)
    if jit:
        return      # (a 0-d argument written into: declined under jit, test_indexing_and_args)
    a = np.array(2.0)
    ga, gx = srcdiff.grad(written_0d_argument, wrt=(0, 1))(a, np.ones(3))
    assert ga == pytest.approx(0.75) and gx == pytest.approx([3.5, 5.0, 2.0])
    assert a == 2.0     # as the function leaves it: 0.5 + 0.5 + 1


def bump_0d(z, v):
    z[...] = np.tanh(z) * 0.9 + v
    return z[()] * 2.0


def bumped_in_a_loop(x):
    zd = np.full((), -0.3)
    t = 0.0
    for i in range(2):
        t = t + bump_0d(zd, x * 0.5)
    return np.sin(0.5 * (t + float(zd)))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hvp_of_a_helper_writing_into_its_0d_argument_in_a_loop(jit):
    """Forward over reverse of a helper writing into a 0-d array f makes, called in a loop (fuzz seed 1210014 of the
    'zerodargs' feature): the backward sweep's `d_zd += e` into the 0-d adjoint, read again as `d_zd = d_zd + e`, made
    it a number, and the next iteration's `d_zd[()] += ...` raised TypeError under jit=False ('numpy.float64' object
    does not support item assignment) and did not compile under Numba; now `d_zd[()] += e` (h29b)."""
    hv = srcdiff.hvp(bumped_in_a_loop, jit=jit)(0.4, 1.0)
    g = srcdiff.grad(bumped_in_a_loop)
    eps = 1e-6
    assert hv == pytest.approx((g(0.4 + eps) - g(0.4 - eps)) / (2 * eps), rel=1e-6)
    assert srcdiff.grad(bumped_in_a_loop, jit=jit)(0.4) == pytest.approx(numerical_grad(bumped_in_a_loop, [0.4], 0), rel=1e-6)


def bumped_by_value(z, v):
    z[...] = np.tanh(z) * 0.9 + v
    return v


def bumped_by_value_in_a_loop(x):
    zd = np.zeros(())
    t = 0.0
    for i in range(2):
        t = t + bumped_by_value(zd, x * 0.5)
    return t * zd[()]


def gradient_squared(x):
    g = srcdiff.grad(bumped_by_value_in_a_loop)(x)
    return g * g


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_of_a_gradient_of_a_helper_writing_into_its_0d_argument_in_a_loop(jit):
    """Reverse over reverse (nested fuzz seed 1301010, jit): the inner gradient's `z1 = np.tanh(zd)` of the 0-d zd is a
    number (NumPy's and Numba's ufuncs give one), but its kind was a 0-d array, so the outer gradient's placeholder for
    the value its loop carries was np.zeros(()): Numba declined 'Cannot unify array(float64, 0d, C) and float64 for
    `z`'. An elementwise function of a 0-d array is a number (kind_laws._law_as_float)."""
    eps = 1e-6
    fd = (gradient_squared(0.7 + eps) - gradient_squared(0.7 - eps)) / (2 * eps)
    assert srcdiff.grad(gradient_squared, jit=jit)(0.7) == pytest.approx(fd, rel=1e-6)


def bump_half(z, v):
    z[...] = z * 0.5 + np.sin(v)
    return np.sin(z[()]) + v


def bumped_after_an_early_return(x, a):
    for e in a:
        if e > 5.0:
            return x * 2.0
    zd = np.ones((), dtype=float)
    t = bump_half(zd, x)
    return t + float(zd)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_arithmetic_of_a_0d_array_is_a_number_in_a_branch(jit):
    """`z * 0.5 + np.sin(v)` of a 0-d z is a number (NumPy's np.float64, Numba's float64), but its kind was a 0-d
    array: after an early return (its statements in a branch), its placeholder np.zeros(()) did not unify with the
    float Numba computed ('Cannot unify float64 and array(float64, 0d, C) for `z`', declined under jit: fuzz 1300065).
    d/dx = cos(0.5 + sin x) cos x + 1 + cos x at x = 0.3."""
    a = np.array([0.5, -0.2])
    d = srcdiff.grad(bumped_after_an_early_return, jit=jit)(0.3, a)
    c = np.cos(0.3)
    assert d == pytest.approx(np.cos(0.5 + np.sin(0.3)) * c + 1.0 + c, rel=1e-12)
    assert d == pytest.approx(numerical_grad(bumped_after_an_early_return, [0.3, a], 0), rel=1e-7)
