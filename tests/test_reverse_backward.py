"""transforms/reverse_backward.py: reverse mode's backward sweep. Adjoints start at their first contribution
and accumulate after it (in place where the sweep owns the array), the two branches of an if start the same
adjoints, a loop runs back over its range, and an element write passes its element's adjoint on and clears it."""
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad
from passes import reverse_sweeps
from srcdiff.transforms import emit

F, A = ("s", "f"), ("a", 1, "f")


def twice(x):
    return np.sum(np.sin(x) * x)


def one_branch(x, y):
    if x > 0.0:
        z = x * y
    else:
        z = x
    return z


def looped(x, a):
    s = 0.0
    for i in range(a.shape[0]):
        s = s + np.sin(x * a[i])
    return s


def writes(x, a):
    b = a * 1.0
    b[0] = x * x
    return np.sum(b * a)


def _backward(fn, wrt, kinds) -> list:
    lines = [line.strip() for line in emit.to_source(reverse_sweeps(fn, wrt, kinds).function).splitlines()]
    return lines[lines.index("# backward sweep"):]


def test_an_adjoint_starts_at_its_first_contribution_and_accumulates():
    scalar = _backward(twice, ["x"], {"x": F})
    assert "d_x = d_result1 * result" in scalar and "d_x = d_x + d_result * np.cos(x)" in scalar
    array = _backward(twice, ["x"], {"x": A})       # a new array the sweep owns: updated in place
    assert "d_x = d_result1 * result" in array and "d_x += d_result * np.cos(x)" in array


def unbroadcast_then_written(x, t, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] ** 2
    y = t * x
    return s + np.sum(y)


def test_an_adjoint_that_starts_unbroadcast_from_arithmetic_is_a_new_array_updated_in_place():
    """d_x starts as rt.unbroadcast(d_y * t, x) (t: a matrix) and the loop adds to its elements: the
    unbroadcast of a product is a new array, so there is no `d_x = rt.copy(d_x)` before the loop."""
    lines = _backward(unbroadcast_then_written, ["x"], {"x": A, "t": ("a", 2, "f"), "n": ("s", "i")})
    assert any(line.startswith("d_x = rt.unbroadcast(") for line in lines), lines
    assert "d_x = rt.copy(d_x)" not in lines and any(line.startswith("d_x[i] +=") for line in lines), lines
    for jit in (False, True):
        rng = np.random.default_rng(7)
        x, t = rng.normal(size=4), rng.normal(size=(3, 4))
        g = srcdiff.grad(unbroadcast_then_written, wrt=(0,), jit=jit)
        np.testing.assert_allclose(g(x, t, 4)[0], numerical_grad(unbroadcast_then_written, [x, t, 4], 0), rtol=1e-6)


def test_both_branches_start_the_same_adjoints():
    lines = _backward(one_branch, ["x", "y"], {"x": F, "y": F})
    k = lines.index("else:")
    assert "d_y = d_z * x" in lines[:k] and "d_y = 0.0" in lines[k:]     # y takes no part in the else branch


def test_a_loop_runs_back_over_its_range_carrying_outer_adjoints():
    lines = _backward(looped, ["x"], {"x": F, "a": A})
    k = lines.index("for i in range(n1 - 1, -1, -1):")
    assert "d_x = 0.0" in lines[:k]             # x is defined outside the loop: its adjoint is carried through it


def test_an_element_write_passes_its_adjoint_on_and_clears_it():
    lines = _backward(writes, ["x"], {"x": F, "a": A})
    assert lines.index("d_b1 = d_b[0]") < lines.index("d_b[0] = 0.0") < lines.index("d_x = 2.0 * d_b1 * x")


def squares(x, a):
    y = x * x
    return np.sum(y * a) + np.sum(a * x)


def test_a_square_has_one_contribution_as_a_person_writes_it():
    lines = _backward(squares, ["x"], {"x": A, "a": A})
    assert "d_x += 2.0 * d_y * x" in lines      # not d_y * x added twice (into d_x, a new array: in place)
    assert sum(line.endswith("d_y * x") for line in lines) == 1


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_the_sweeps_give_the_gradient(jit):
    a = np.array([0.3, -0.7, 1.1])
    check_grad(twice, [a], wrt=0, jit=jit)
    check_grad(one_branch, [0.4, 1.3], wrt=(0, 1), jit=jit)
    check_grad(one_branch, [-0.4, 1.3], wrt=(0, 1), jit=jit)
    check_grad(looped, [0.6, a], wrt=0, jit=jit)
    check_grad(writes, [0.6, a], wrt=0, jit=jit)
    check_grad(squares, [a, a[::-1].copy()], wrt=0, jit=jit)


def restarted(a):
    out = np.copy(a)
    for j in range(3):
        if 0 < len(a):      # both branches set t from constants: its adjoint ends at this if, with no code
            t = 0.0
        else:
            t = 0.0
        for k in range(len(a)):
            t = t + a[1] * a[0]
        out[j] = t
    for i in range(2):      # t bound again after the loop: SSA reuses its name, so the loop carries its adjoint
        t = a[2] * t
    return np.sum(out ** 2) + t


def test_an_adjoint_consumed_by_both_branches_of_a_codeless_if_restarts():
    lines = _backward(restarted, ["a"], {"a": A})
    k = lines.index("for j in range(2, -1, -1):")
    body = lines[k + 1:]
    assert any(line.startswith("d_t") and line.endswith("= 0.0") for line in body)   # reset once per iteration


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_an_adjoint_restarted_by_a_codeless_if_gives_the_gradient(jit):
    # before the fix, t's adjoint carried over from one iteration of the j loop to the next (about 2x too big)
    check_grad(restarted, [np.array([0.81, 2.49, 0.30])], wrt=0, jit=jit)


def shrinking(x, M):
    s = 0.0
    for j in range(2):
        t = M[:, j:] * x          # one column fewer each iteration, and read after the loop
        s += np.sum(t)
    return s + np.sum(t)


def shrinking_then_rebound(x, M):
    s = 0.0
    for j in range(2):
        t = M[:, j:] * x
        s += np.sum(t)
    for j in range(2):            # (t bound again: the first loop's last t reaches this loop's first iteration)
        t = M[:, j:] * 2.0
        s += np.sum(t * x)
    return s


def test_an_adjoint_of_a_value_whose_shape_changes_restarts_in_its_shape():
    """The adjoint of a value an iteration binds and the loop's successor reads is carried; the zeros the
    previous iteration of the backward loop left have that iteration's shape: where the shape classes cannot
    tie the value's shape to one from outside the loop, it restarts in this iteration's (nested fuzz seed
    390189: operands could not be broadcast together with shapes (2,3) (2,4))."""
    lines = _backward(shrinking, ["x", "M"], {"x": F, "M": ("a", 2, "f")})
    k = lines.index("t = t1 * x")       # computed again (reverse_storage.remat_plan): then the test, before any use of d_t
    assert lines[k + 2:k + 4] == ["if np.shape(d_t) != np.shape(t):", "d_t = rt.zeros_like(t)"], lines
    assert not any("np.shape" in line for line in _backward(looped, ["x"], {"x": F, "a": A}))   # (no such value)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [shrinking, shrinking_then_rebound], ids=lambda f: f.__name__)
def test_values_whose_shape_changes_between_iterations_give_the_gradient(f, jit):
    M = np.array([[0.1, 0.2, -0.3, 0.4], [0.3, -0.4, 0.6, 0.2]])
    check_grad(f, [0.3, M], wrt=(0, 1), jit=jit)


def _array_of_iteration_size(a, n):
    """An array allocated in a loop with a size that changes each iteration, written in place: the backward sweep
    restarts its adjoint at each iteration's shape (it kept the later iteration's: "operands could not be broadcast
    together with shapes (3,) (2,)", plain fuzz 833119, there through an array of a list comprehension whose filter
    keeps no item in the first iteration)."""
    s = 0.0
    for i in range(n):
        buf = np.zeros(i + 1)
        buf[0] = a[0] * (i + 1.0)
        buf[i] += a[1]
        s = s + np.sum(buf * buf) + np.sum(np.array([a[2] * k for k in range(4) if i > 0]))
    return s


@pytest.mark.parametrize("jit", [False, True])
def test_array_whose_size_changes_between_iterations(jit):
    check_grad(_array_of_iteration_size, [np.array([0.3, -0.2, 0.7, 0.1]), 3], wrt=0, jit=jit)


def _written_into_itself(x, a):
    """An array written into a region of itself, `y[::-1] = y` (NumPy reads the right side whole first): the
    region's adjoint is the value's, taken before the write's is cleared. The sweep added it into d_y first and
    then cleared the region: a gradient of zeros (found by hand, 2026-11-27)."""
    y = x * a
    for t in range(2):
        y[::-1] = y
        y[0] = y[0] * a + y[-1]
    return np.sum(y * np.arange(y.shape[0]))


def test_a_write_of_an_array_into_itself_takes_the_value_adjoint_before_clearing():
    lines = _backward(_written_into_itself, ["x", "a"], {"x": A, "a": F})
    k = lines.index("d_y[::-1] = 0.0")
    assert lines[k - 1] == "d_y_value = rt.copy(d_y[::-1])" and lines[k + 1] == "d_y += d_y_value", lines


def _broadcast_into_region(M, v, a):
    """A value written into a region of its rank that it broadcasts to along an axis of length 1 (`v` of shape
    (2, 1) into `Y[:, 1:]` of shape (2, 2)): its adjoint is the region's summed along that axis. The sweep passed
    the region's adjoint on unsummed: d_v came back (2, 2), and `Y[:, 1:] = Y[:, :1]` failed on its arguments."""
    Y = M * a
    Y[:, 1:] = v
    Y[:, 2:] = Y[:, :1]
    return np.sum(Y * np.arange(Y.size).reshape(Y.shape))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_writes_into_a_region_give_the_gradient(jit):
    check_grad(_written_into_itself, [np.array([0.5, -0.3, 0.8, 0.1]), 0.7], wrt=(0, 1), jit=jit)
    M = np.array([[0.5, -0.3, 0.8], [0.1, 0.2, 0.3]])
    check_grad(_broadcast_into_region, [M, np.array([[1.0], [-2.0]]), 0.7], wrt=(0, 1, 2), jit=jit)


def returns_an_array_of_rows_in_a_loop(x, a):
    for e in a:
        if e > 0.5:
            return np.sum(np.array([[x, (i * 0.25)] for i in range(4)]) * np.array([-0.7, 0.5]))
    return x * np.sum(a)


def penalty_of_returns_an_array_of_rows_in_a_loop(x, a):
    gx, ga = srcdiff.grad(returns_an_array_of_rows_in_a_loop, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga) + x * gx


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_zero_adjoint_of_unknown_rank_is_typed_when_differentiated_again(jit):
    """The gradient a penalty differentiates is generated before its arguments' kinds are known: the adjoint of the
    array a branch of the loop binds (`total_items`, the rows before np.array) started and restarted as the float
    0.0, which Python broadcasts; differentiated again under jit, Numba could not unify it with the array ('Cannot
    unify array(float64, 2d, C) and float64 for d_total_items', nested fuzz seed 960015). It starts as
    rt.zeros_like of the array, whose placeholder None the outer gradient types (an array of its rank)."""
    inner = srcdiff.grad(returns_an_array_of_rows_in_a_loop, wrt=(0, 1))
    source = inner.specialise().source
    assert "d_total_items = 0.0" not in source and "d_total_items = rt.zeros_like(total_items)" in source, source
    x = 0.3
    for a in (np.array([0.1, 0.7, -0.2]), np.array([0.1, 0.2, -0.2])):
        got = srcdiff.grad(penalty_of_returns_an_array_of_rows_in_a_loop, wrt=(0, 1), jit=jit)(x, a)
        for k in range(2):
            want = numerical_grad(penalty_of_returns_an_array_of_rows_in_a_loop, [x, a], k)
            np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-7)


def recursive_with_two_differentiated_arguments(u, c, d):
    if d <= 0:
        return u
    return np.sin(recursive_with_two_differentiated_arguments(u, c, d - 1)) * c


def calls_the_recursive_function(x, n):
    return np.sum(recursive_with_two_differentiated_arguments(x, x[0], n) ** 2)


def penalty_over_the_recursive_function(x, n):
    g = srcdiff.grad(calls_the_recursive_function, wrt=0)(x, n)
    return 0.5 * np.sum(g * g)


def test_reverse_over_the_gradient_of_a_recursive_function_of_two_arguments_declines_naming_it():
    """The gradient's pullback of a recursive helper with two differentiated arguments returns a tuple of their
    adjoints, which reverse mode does not follow through a recursive call: declined (found by hand), with advice that
    did not fit (the user's function returns one value: 'return one array (np.array((a, b)))'); forward mode over the
    gradient, the advice now, works."""
    x = np.array([0.5, -1.2, 0.7])
    with pytest.raises(srcdiff.SrcdiffError, match="gradient of a recursive function of yours with more than one "
                                                   "differentiated argument") as info:
        srcdiff.grad(penalty_over_the_recursive_function, wrt=0)(x, 3)
    assert "srcdiff.jvp" in str(info.value) and "np.array((a, b))" not in str(info.value)
    v = np.array([1.0, 0.3, -0.2])
    _, t = srcdiff.jvp(penalty_over_the_recursive_function, wrt=0, jit=False)(x, 3, v)
    want = (penalty_over_the_recursive_function(x + 1e-6 * v, 3) - penalty_over_the_recursive_function(x - 1e-6 * v, 3)) / 2e-6
    assert t == pytest.approx(want, rel=1e-6)


def recursive_pair(x, n):
    if n == 0:
        return x, 1.0
    a, b = recursive_pair(x * 0.9, n - 1)
    return a + x, b * 2.0


def calls_the_recursive_pair(x):
    a, b = recursive_pair(x, 3)
    return np.sum(a) * b


def test_a_recursive_function_returning_a_tuple_is_declined_at_its_return():
    """Declined at the line of its first `return` of a tuple, that return shown (it was the `if` line above it:
    the branches' merge copies, which the structured code builds the tuple from, are at the `if`'s line)."""
    line = recursive_pair.__code__.co_firstlineno + 2
    with pytest.raises(srcdiff.SrcdiffError, match="recursive function 'recursive_pair' returns a tuple") as info:
        srcdiff.grad(calls_the_recursive_pair)(np.array([0.5, -1.2]))
    assert f":{line}:" in str(info.value) and "return x, 1.0" in str(info.value)


def alternating(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + w[i % 2] * np.sin(x[i])
        s = s * 0.9
    return s


@pytest.mark.parametrize("jit", [False, True])
def test_a_recomputed_index_sits_under_its_lines_comment(jit):
    """The backward sweep recomputes `s1 = i % 2` (an index of the iteration, not taped) under the comment of the
    line whose adjoint first reads it (`# line N: s = s + w[i % 2] ...`), not above the loop body's first comment."""
    x, w = np.linspace(0.1, 1.0, 5), np.array([0.3, -0.7])
    check_grad(alternating, [x, w], wrt=(0, 1), jit=jit)
    g = srcdiff.grad(alternating, wrt=(0, 1), jit=jit)
    g(x, w)
    backward = srcdiff.source(g).split("# backward sweep")[1]
    index = backward.index("= i % 2\n")
    comments = [k for k in range(len(backward)) if backward.startswith("# line", k)]
    above = max(k for k in comments if k < index)
    assert backward[above:].startswith("# line ") and "s = s + w[i % 2]" in backward[above:index], backward
    assert "s = s * 0.9" not in backward[above:index], backward


def copy_then_idle_loop(a, c):
    buf = a.copy()
    x = 0.0
    for i in range(2):
        x = x + np.sum(a[:i + 1])
    if x > 100.0:
        buf = buf * 2.0
    return np.sum(buf * buf) + c * np.sum(a)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_loop_with_nothing_to_sweep_back_makes_no_copy_of_an_adjoint(dtype, jit):
    """The loop reads a (subscripted) but nothing in it is active: its backward sweep is empty, and it made no
    `d_a = rt.copy(d_a)` before it (the copy stood alone, then `d_a += d_buf` after it): the add is the first
    one's sum, `d_a = d_a + d_buf`, as without the loop, for every dtype (fuzz seed 4's gradient)."""
    a = np.linspace(0.1, 1.0, 5).astype(dtype)
    c = dtype(0.7)
    if dtype is np.float64:
        check_grad(copy_then_idle_loop, [a, 0.7], wrt=0, jit=jit)
    g = srcdiff.grad(copy_then_idle_loop, wrt=0, jit=jit)
    got = g(a, c)
    text = srcdiff.source(g)
    assert "rt.copy(d_a)" not in text and re.search(r"\n\s*d_a = d_a \+ d_buf\n", text), text
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(got, 2 * a64 + float(c), rtol=1e-6 if dtype is np.float32 else 1e-12)
