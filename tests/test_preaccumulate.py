"""Loop bodies whose scalar adjoints the preaccumulate pass rewrites (partials first, incoming adjoint
last): gradients against central differences, Python and Numba, for the cases the pass must get
right — loop-carried scalar adjoints, accumulators read after the loop, branches and nested loops
splitting the straight-line runs, elements overwritten twice and re-read, many incoming adjoints."""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def recurrence(a, b, y0, obs):
    n = obs.shape[0] - 1
    ys = np.zeros(n + 1)
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + 0.1 * (a * ys[t] - b * ys[t] ** 2)
    return np.sum((ys - obs) ** 2)


def scalar_carried(a, b, y):
    for t in range(6):
        y = y + 0.1 * (a * y - b * y ** 2)
    return y * y


def divide_negate(a, y):
    s = 0.0
    for t in range(5):
        y = -(a - y) / (1.5 + y * y) + 0.5 * y
        s = s - y * a
    return s + y


def branch_in_loop(a, b, y):
    s = 0.0
    for t in range(7):
        if y > 0.6:
            y = y * a - 0.1 * b
        else:
            y = y + b * y * y
        s = s + 0.5 * y
    return s * y


def nested(a, b, x):
    s = 0.0
    for i in range(3):
        y = x
        for j in range(4):
            y = y + 0.2 * (a * y - b * np.sin(y))
        s = s + y * b - 0.3 * s
    return s


def overwritten_twice(a, b, y0):
    ys = np.zeros(6)
    ys[0] = y0
    for t in range(5):
        ys[t + 1] = ys[t] * a + b
        ys[t + 1] = ys[t + 1] - 0.2 * ys[t + 1] * ys[t]
        ys[t] = ys[t] * 0.5 + ys[t + 1] * b
    return np.sum(ys ** 2)


def many_sources(a, y0):
    u = np.zeros(5)
    v = np.zeros(5)
    w = np.zeros(5)
    z = np.zeros(5)
    q = np.zeros(5)
    y = y0
    for t in range(4):
        u[t + 1] = y * a
        v[t + 1] = y * y
        w[t + 1] = np.tanh(y)
        z[t + 1] = y - a
        q[t + 1] = y / (1.0 + a * a)
        y = 0.5 * y + 0.1 * u[t + 1] * v[t + 1] - 0.2 * w[t + 1] * z[t + 1] + q[t + 1]
    return np.sum(u * v) + np.sum(w * z) + np.sum(q) + y


def while_loop(a, y):
    k = 0
    while k < 5:
        y = y - 0.3 * (y * a - np.cos(y))
        k = k + 1
    return y


def swap_in_loop(a, b):
    x = a
    y = b
    for t in range(4):
        x, y = y * 0.9, x + 0.5 * y
    return x * y + x


def named_like_an_adjoint(a, d_y):
    y = 0.5 * d_y
    for t in range(5):
        y = y + 0.1 * (a * y - d_y * y ** 2)
    return y * y


@JIT
def test_a_user_name_like_an_adjoint(jit):
    """Adjoints are known from reverse.Sweeps, not by their `d_` prefix: the user's `d_y` is a primal (its
    adjoint is `d_d_y`), `y`'s adjoint is `d_y1`, and the partials are named for the primals (`p_y`, not
    `p_y1` as when the name of the adjoint less its prefix was taken for the primal's)."""
    check_grad(named_like_an_adjoint, [1.5, 0.7], wrt=(0, 1), jit=jit)
    g = srcdiff.grad(named_like_an_adjoint, wrt=(0, 1))
    g(1.5, 0.7)
    src = srcdiff.source(g)
    assert "d_d_y = " in src and "d_y1 = " in src          # the adjoints of d_y and y
    assert "p_d_y = " in src and "p_y = " in src and "p_y1" not in src, src   # partials by d_y and y


@JIT
def test_recurrence(jit):
    obs = np.linspace(0.5, 1.2, 9)
    check_grad(recurrence, [1.5, 0.7, 0.5, obs], wrt=(0, 1, 2), jit=jit)


@JIT
def test_recurrence_value_and_grad_matches(jit):
    obs = np.linspace(0.5, 1.2, 30)
    val, (da, db) = srcdiff.value_and_grad(recurrence, wrt=("a", "b"), jit=jit)(1.5, 0.7, 0.5, obs)
    assert np.isclose(val, recurrence(1.5, 0.7, 0.5, obs))
    h = 1e-6
    assert np.isclose(da, (recurrence(1.5 + h, 0.7, 0.5, obs) - recurrence(1.5 - h, 0.7, 0.5, obs)) / (2 * h),
                      rtol=1e-5)
    assert np.isclose(db, (recurrence(1.5, 0.7 + h, 0.5, obs) - recurrence(1.5, 0.7 - h, 0.5, obs)) / (2 * h),
                      rtol=1e-5)


def test_recurrence_source_multiplies_partials():
    g = srcdiff.value_and_grad(recurrence, wrt=("a", "b"))
    src = srcdiff.source(g)
    assert "p_" in src and "# line" in src
    assert all(";" not in line for line in src.splitlines() if not line.lstrip().startswith("#"))


@JIT
@pytest.mark.parametrize("f, args", [
    (scalar_carried, [1.5, 0.7, 0.5]),
    (divide_negate, [0.8, 0.3]),
    (branch_in_loop, [1.3, 0.2, 0.45]),
    (branch_in_loop, [0.8, 0.5, 0.3]),
    (nested, [1.2, 0.5, 0.4]),
    (overwritten_twice, [0.9, 0.3, 0.6]),
    (many_sources, [0.7, 0.4]),
    (while_loop, [0.6, 0.4]),
    (swap_in_loop, [0.6, 0.4]),
], ids=["carried", "divide", "branch-a", "branch-b", "nested", "overwritten", "many", "while", "swap"])
def test_loop_adjoints(f, args, jit):
    check_grad(f, args, jit=jit)


# ---- adjoint arrays passed on without a copy; sum's adjoint as a scalar ---------------------------------

def loss_then_inplace_loop(a, obs):
    ys = np.zeros(obs.shape[0])
    ys[0] = 0.3
    for t in range(obs.shape[0] - 1):
        ys[t + 1] = ys[t] * a + 0.1
    return np.sum((ys - obs) ** 2)


def copy_then_written(x, w):
    y = x * w
    z = y
    for i in range(3):
        z[i + 1] = z[i] * w[i] + z[i + 1]
    return np.sum(z * z) + np.sum(x * w)


def added_to_itself(x):
    y = x * 1.5
    z = y + y
    for i in range(2):
        z[i] = z[i] * z[i + 1]
    return np.sum(z ** 2) + np.sum(y * x)


def sum_broadcast_obs(x, c):
    r = x - c
    return np.sum(r ** 2)


def sum_of_outer(x, y):
    return np.sum(np.sin(np.expand_dims(x, 1) * y) ** 2)


def sum_in_loop(x, w):
    s = 0.0
    for i in range(3):
        s = s + np.sum((x * w[i]) ** 2)
    return s


def sum_twice(x):
    q = x * x
    return np.sum(q) * np.sum(q * x)


@JIT
@pytest.mark.parametrize("f, args", [
    (loss_then_inplace_loop, [0.9, np.linspace(0.2, 0.8, 6)]),
    (copy_then_written, [np.array([0.5, 0.2, -0.3, 0.8]), np.array([1.1, 0.7, 0.4, 0.9])]),
    (added_to_itself, [np.array([0.5, 0.2, -0.3])]),
    (sum_broadcast_obs, [np.array([0.5, 0.2, -0.3]), np.array([0.1])]),
    (sum_broadcast_obs, [np.array([[0.5, 0.2], [-0.3, 0.4]]), np.array([0.1, 0.3])]),
    (sum_of_outer, [np.array([0.5, 0.2, -0.3]), np.array([0.1, 0.7])]),
    (sum_in_loop, [np.array([0.5, 0.2, -0.3]), np.array([0.1, 0.7, 1.2])]),
    (sum_twice, [np.array([0.5, 0.2, -0.3])]),
], ids=["inplace-loop", "copy-written", "added-to-itself", "obs-1", "obs-row", "outer", "in-loop", "twice"])
def test_adjoint_arrays(f, args, jit):
    check_grad(f, args, jit=jit)


def carried_in_branch(x, a):
    s = 0.0
    prev = 0.0
    for i in range(a.shape[0]):
        if i > 0:
            s += prev * a[i]
        prev = a[i] * x
    return s


@JIT
def test_written_out_adjoints_stay_under_their_line(jit):
    """An adjoint written out at the end of a run is the adjoint of a statement of that run: it goes above the
    heading of the branch that follows (here `d_x`, of `prev = a[i] * x`, stays under that line's comment and
    above `# line ...: if i > 0:`), never under another line's comment."""
    x, a = 0.7, np.array([0.5, -1.0, 2.0, 0.25])
    check_grad(carried_in_branch, (x, a), wrt=(0, 1), jit=jit)
    g = srcdiff.grad(carried_in_branch, wrt=(0, 1), jit=jit)
    g(x, a)
    src = srcdiff.source(g)
    loop = src[src.index("for i in range(n1 - 1, -1, -1):"):]
    heading_prev = loop.index("prev = a[i] * x")
    heading_if = loop.index("if i > 0:")
    dx = loop.index("d_x = d_x + ")
    assert heading_prev < dx < heading_if, loop
