"""Loop tapes take the dtype of what they store: integer values (trip counts, indices) on int64 tapes."""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def zip_in_range(x, a, n):
    for i in range(n):
        for e, d in zip(a, a[1:]):      # trip count min(len(a), len(a) - 1), kept per outer iteration
            x = np.sin(x) * e + d
    return x


def min_max_of_ints(x, a, n):
    s = 0.0
    for i in range(n):
        m = max(i, 1)                   # builtin max/min of ints: an int (a range bound below)
        for k in range(min(m, a.shape[0])):
            s = s + np.tanh(x * a[k]) * m
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [zip_in_range, min_max_of_ints])
def test_integer_trip_counts_on_integer_tapes(f, jit):
    args = [0.7, np.array([0.3, -0.5, 1.1]), 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
        got = g(*args)
    for k, v in zip((0, 1), got):
        np.testing.assert_allclose(v, numerical_grad(f, args, k), rtol=1e-5, atol=1e-6)
    src = srcdiff.source(g)
    assert "np.empty(" in src and "np.int64" in src, src   # the trip count is on an integer tape


def logistic_trajectory(a, b, y0, n, obs):
    ys = np.zeros(n + 1)
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + 0.01 * (a * ys[t] - b * ys[t] ** 2)
    return np.sum((ys - obs) ** 2)


def reads_what_it_overwrites(a, b, y0, n, obs):
    ys = obs * 0.5
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = np.sin(ys[t] * a) + b * ys[t + 1] ** 2     # reads the element it overwrites
    return np.sum((ys - obs) ** 2)


def reads_from_the_end(a, b, y0, n, obs):
    ys = obs * 0.5
    for t in range(n):
        ys[t + 1] = ys[t] * a + b * np.sin(ys[n - t])   # reads elements later iterations overwrite
    return np.sum(ys * obs)


def reads_the_last_row_first(a, b, y0, n, obs):
    ys = obs * 0.5
    for t in range(n + 1):
        ys[t] = ys[t - 1] * a + b * obs[t]      # t = 0 reads ys[-1], the last row, which t = n writes
    return np.sum(ys * ys) + y0


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, restored", [(logistic_trajectory, False), (reads_what_it_overwrites, True),
                                         (reads_from_the_end, True)])
def test_elements_written_ahead_of_reads_keep_no_tape(f, restored, jit):
    """`ys[t + 1] = g(ys[t])`: the backward sweep never reads an element after undoing its write, so
    jitted code keeps no tape of the overwritten elements (issue 22, the recurrence benchmark); where an
    overwritten element is read again the gradients stay right (a tape or a restore keeps it)."""
    n = 12
    obs = np.linspace(0.2, 1.4, n + 1)
    args = [1.3, 0.6, 0.4, n, obs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vg = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)
        value, got = vg(*args)
        if jit:
            ref = srcdiff.value_and_grad(f, wrt=(0, 1))(*args)
            assert value == pytest.approx(ref[0], rel=1e-13)
            np.testing.assert_allclose(got, ref[1], rtol=1e-12)
    assert value == pytest.approx(f(*args), rel=1e-13)
    for k, v in zip((0, 1), got):
        np.testing.assert_allclose(v, numerical_grad(f, args, k), rtol=1e-6, atol=1e-9)
    if jit and not restored:
        src = srcdiff.source(vg)
        assert "_old1" not in src, src
    elif jit:       # wherever the forward sweep saves an overwritten element, the backward sweep restores it
        src = srcdiff.source(vg)
        assert src.count("_old1_tape[t] = ") == src.count("_old1 = ys_old1_tape[t]"), src


def test_a_row_read_below_zero_is_the_last_row_under_jit():
    """`ys[t - 1]` at t = 0 is the last row, which a later iteration writes: jitted code dropped its restore as
    for a row below the rows written (stacks._dead_restores), and the gradient in a was wrong (a hand-written
    second-derivative check, `buf[i] = A[i, (i + 1) % 3] + y * buf[i - 1]`, in both backends)."""
    n = 6
    obs = np.linspace(0.2, 1.4, n + 1)
    args = [1.3, 0.6, 0.4, n, obs]
    got = srcdiff.grad(reads_the_last_row_first, wrt=(0, 1), jit=True)(*args)
    for k, v in zip((0, 1), got):
        np.testing.assert_allclose(v, numerical_grad(reads_the_last_row_first, args, k), rtol=1e-6, atol=1e-9)


def swap_then_write(x, a):
    u = a * x
    w = np.cos(a)
    for i in range(6):
        u, w = w, u * 0.9 + np.sin(w) * x   # the new u is the array the old w names
        u[i % 3] = u[i % 3] * 1.1           # written in place: the old w, read by the adjoint of sin, changes too
    return np.sum(u * w)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_second_name_of_an_array_written_in_place_is_taped_before_the_write(jit):
    """redteam: under jit=True the old `w`'s row tape copied the array after `u[i % 3] = ...` wrote into it (a list
    stack holds the array itself, which the backward sweep's undoing of the write restores): d/dx 38.38 instead of
    39.22. Its row is now put at the top of the loop body, before the write through the other name; the Hessian-
    vector product (forward over reverse, whose stacks stay lists) is checked too (tests/test_runtime.py: the
    restore Numba's dead-code elimination dropped)."""
    args = [0.8, np.array([0.3, 0.5, -1.1, 0.4, 0.9])]
    got = srcdiff.grad(swap_then_write, wrt=(0, 1), jit=jit)(*args)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(swap_then_write, args, k), rtol=1e-6, atol=1e-7)
    v = (0.7, np.array([0.2, -0.3, 0.4, 0.1, -0.5]))
    grad = srcdiff.grad(swap_then_write, wrt=(0, 1))
    eps = 1e-6
    up = grad(args[0] + eps * v[0], args[1] + eps * v[1])
    down = grad(args[0] - eps * v[0], args[1] - eps * v[1])
    hv = srcdiff.hvp(swap_then_write, wrt=(0, 1), jit=jit)(*args, v)
    for h, p, m in zip(hv, up, down):
        np.testing.assert_allclose(h, (p - m) / (2 * eps), rtol=1e-5, atol=1e-6)


# ---- a stack of arrays cast to a width of their own (nested fuzz seed 791058) ------------------------------------
def cast_in_a_loop(scale, a, M):
    for i in range(2):
        if i > 0:
            scale = 0.5 * scale + 0.5 * np.tanh(np.sum(prev))
        prev = (a * 3.0 + scale).astype('int32') * M[0] + np.sin(M[1])
    return scale * np.sum(M)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_stack_of_arrays_cast_to_another_width_takes_their_dtype(jit):
    # kinds know an integer (or float) array, not its width: the typed stack of the cast arrays, which the
    # backward sweep pops, was made for int64 arrays and Numba could not append an int32 one ("Invalid use of
    # BoundFunction(list.append for list(array(int64, 1d, A))) with parameters (array(int32, 1d, C))")
    a, M = np.array([0.3, 0.5]), np.array([[0.2, 0.4], [0.1, 0.3]])
    g = srcdiff.grad(cast_in_a_loop, wrt=(0, 2), jit=jit)
    got = g(0.4, a, M)
    for k, arg in ((0, 0), (1, 2)):
        np.testing.assert_allclose(got[k], numerical_grad(cast_in_a_loop, [0.4, a, M], arg), rtol=1e-5, atol=1e-7)
    tangent = (0.3, np.ones_like(M))
    _, dot = srcdiff.jvp(cast_in_a_loop, wrt=(0, 2), jit=jit)(0.4, a, M, tangent)
    np.testing.assert_allclose(dot, 0.3 * got[0] + np.sum(got[1]), rtol=1e-10)


def swap_written_through_a_second_name_for(x, a):
    b1 = x * 1.0
    b2 = a * 1.0
    for k in range(3):
        b1, b2 = b2, b1
        al = b2
        al[k] = al[k] * 0.9 + a[k] * np.sum(b1 * al)
    return np.sum(b1 * b2) + np.sum(b1 ** 2)


def swap_written_through_a_second_name_while(x, a):
    b1 = x * 1.0
    b2 = a * 1.0
    k = 0
    while k < 3:
        b1, b2 = b2, b1
        al = b2
        al[k] = al[k] * 0.9 + a[k] * np.sum(b1 * al)
        k = k + 1
    return np.sum(b1 * b2) + np.sum(b1 ** 2)


@pytest.mark.parametrize("inner", [swap_written_through_a_second_name_for, swap_written_through_a_second_name_while],
                         ids=["for", "while"])
def test_no_row_tape_of_a_swapped_buffer_pushed_under_its_other_name_too(inner):
    """Reverse mode over the gradient of `b1, b2 = b2, b1` / `al = b2` / `al[k] = ...` under jit=True: the outer
    gradient's row tape of one swapped buffer (a copy), whose other name another stack pushes in the same loop
    (the inner forward loop: `b2v1 = b1` written, `b1v2 = b2` pushed; the inner backward loop: both popped), took
    the backward sweep's undoing of the writes; the other stack's array kept them: 0.03 (while) and 0.13 (for)
    off central differences, the Python backend right. Such arrays keep their list stacks."""
    def h(x, a):
        gx, ga = srcdiff.grad(inner, wrt=(0, 1))(x, a)
        return np.sum(gx * gx) + np.sum(ga * ga)
    x, a = np.array([0.3, -0.4, 0.8, 0.1]), np.array([0.5, 0.2, -0.3, 0.7])
    got = srcdiff.grad(h, wrt=(0, 1), jit=True)(x, a)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, [x, a], k), rtol=1e-5, atol=1e-7)
