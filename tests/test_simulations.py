"""Simulations and numerical methods written the way users write them (helper h7a's hunt): each test is the
minimal reproducer of a defect found there, checked in both backends."""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def smoothed_in_place(u0):
    u = u0.copy()
    for step in range(3):
        u[1:-1] += 0.1 * (u[2:] - 2 * u[1:-1] + u[:-2])
        u[0] = u[1]
    return u


def smoothed_view(u0):
    u = u0.copy()
    u[1:-1] = u[1:-1] * u[2:]
    u[0] = u[1] * 2
    return u[1:]


@JIT
@pytest.mark.parametrize("f", [smoothed_in_place, smoothed_view])
def test_vjp_value_of_an_array_written_in_place_is_the_final_one(f, jit):
    """vjp's value of a function returning an array it wrote in place (a stencil's `u[1:-1] += ...; return u`)
    was the array as it was before the writes: the backward sweep restores what the writes overwrote, in the
    same array the value named; the value is now a copy taken at the end of the forward sweep."""
    x = np.array([0.0, 1.0, 0.5, 2.0, 0.3, 0.1])
    y = f(x.copy())
    u = np.linspace(-1.0, 1.0, y.size)
    val, g = srcdiff.vjp(f, jit=jit)(x.copy(), u)
    np.testing.assert_allclose(val, y)
    np.testing.assert_allclose(g, numerical_grad(lambda z: float(np.dot(f(z.copy()), u)), [x], 0), atol=1e-6)


def upwind_copy_each_step(u0):
    u = u0.copy()
    for t in range(2):
        un = u.copy()
        for i in range(1, len(u)):
            u[i] = un[i] * un[i - 1]
    return np.sum(u)


def shifted_then_source_written(u0):
    u = u0 * 1.0
    w = u + 0.0
    u[0] = 5.0
    return np.sum(w * w)


@JIT
@pytest.mark.parametrize("f", [upwind_copy_each_step, shifted_then_source_written])
def test_jvp_of_a_copy_whose_source_is_written_afterwards(f, jit):
    """`un = u.copy()` then `u[i] = ...` (an upwind scheme's previous step): the copy's tangent was d_u itself,
    so the writes into d_u changed d_un too (jvp and hvp silently wrong); a fresh value whose tangent is another
    one as it is gets a copy of it where either array is written in place, not only where the new one is."""
    x = np.array([0.5, 1.0, -0.3, 0.8])
    v = np.array([1.0, -0.5, 0.25, 2.0])
    g = numerical_grad(f, [x], 0)
    val, t = srcdiff.jvp(f, jit=jit)(x.copy(), v)
    np.testing.assert_allclose(val, f(x.copy()))
    np.testing.assert_allclose(t, g @ v, rtol=1e-6)
    gr = srcdiff.grad(f)
    e = 1e-5
    np.testing.assert_allclose(srcdiff.hvp(f)(x.copy(), v), (gr(x + e * v) - gr(x - e * v)) / (2 * e), atol=1e-5)


def states_then_in_place_step(x0):
    states = []
    x = x0 * 1.0
    for t in range(3):
        x = x * 0.5 + 0.1
        states.append(x)
        x += 1.0
    return np.sum(np.array(states) ** 2)


def states_then_element_write(x0):
    states = []
    x = x0 * 1.0
    for t in range(3):
        x = x * 0.5 + 0.1
        states.append(x)
        x[0] = 2.0 * x[1]
    return np.sum(np.array(states) ** 2)


def states_copied(x0):
    states = []
    x = x0.copy()
    for t in range(3):
        states.append(x.copy())
        x += 0.5 * np.sin(x)
        x[0] = 2.0 * x[1]
    return np.sum(np.array(states) ** 2) + np.sum(x)


@pytest.mark.parametrize("f", [states_then_in_place_step, states_then_element_write])
def test_an_array_written_in_place_after_a_list_took_it_is_declined(f):
    """`states.append(x)` then `x += 1.0` or `x[0] = ...`: the list holds x itself, so NumPy's rows are the written
    arrays; reverse mode kept the value before the write (grad and value_and_grad's value silently wrong), and
    forward mode computes `x += v` as a new array (jvp's value wrong too). Declined at the write, naming the list."""
    x = np.array([0.2, 0.8, 1.0])
    for make in (srcdiff.grad, srcdiff.value_and_grad):
        with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)the list `states` holds .*states\.append\(x\.copy\(\)\)"):
            make(f)(x.copy())
    if f is states_then_in_place_step:
        with pytest.raises(srcdiff.SrcdiffError, match="the list `states` holds"):
            srcdiff.jvp(f)(x.copy(), np.ones(3))
    else:    # (forward mode's list holds the tangent too, written with it)
        g = numerical_grad(f, [x], 0)
        np.testing.assert_allclose(srcdiff.jvp(f)(x.copy(), np.ones(3))[1], g.sum(), rtol=1e-6)


@JIT
def test_states_appended_as_copies_are_differentiated(jit):
    x = np.array([0.2, 0.8, 1.0])
    np.testing.assert_allclose(srcdiff.grad(states_copied, jit=jit)(x.copy()),
                               numerical_grad(states_copied, [x], 0), rtol=1e-6, atol=1e-8)


def second_name_then_augmented(x0):
    x = x0.copy()
    y = x
    x += 0.5 * np.sin(x)
    return np.sum(y * y)


def view_then_augmented(x0):
    u = x0.copy()
    inner = u[1:-1]
    inner += 0.5
    return np.sum(u ** 2)


@pytest.mark.parametrize("f", [second_name_then_augmented, view_then_augmented])
def test_jvp_declines_an_augmented_write_through_a_second_name_as_grad_does(f):
    """`y = x` (or `inner = u[1:-1]`) then `x += v` on the array: NumPy writes into the memory both names see;
    forward mode computes `x = x + v`, a new array, so y kept the old values: jvp's value and tangent were silently
    wrong where grad declines. The forward aliasing check knew only element and slice writes (which it follows)."""
    x = np.array([0.2, 0.8, 1.0, 0.4])
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory"):
        srcdiff.grad(f)(x.copy())
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory"):
        srcdiff.jvp(f)(x.copy(), np.ones(4))


def prefix_recurrence_in_place(x):
    for i in range(1, len(x)):
        x[i] += 0.5 * x[i - 1] ** 2
    return x


@JIT
def test_reverse_jacobian_of_a_function_writing_into_its_argument(jit):
    """jacobian(mode="reverse") took every row's vjp from the same argument arrays; a function that writes into
    its argument (a recurrence computed in place) left them written by the first row's vjp (whose backward sweep
    had no need to restore them), so the rows after the first were the Jacobian at another point."""
    x = np.array([0.2, 0.8, 1.0, -0.5])
    forward = srcdiff.jacobian(prefix_recurrence_in_place, mode="forward", jit=jit)(x.copy())
    rows = srcdiff.jacobian(prefix_recurrence_in_place, mode="reverse", jit=jit)(x.copy())
    np.testing.assert_allclose(rows, forward)
    e = 1e-6
    fd = np.stack([(prefix_recurrence_in_place(x + e * u) - prefix_recurrence_in_place(x - e * u)) / (2 * e)
                   for u in np.eye(4)], axis=1)
    np.testing.assert_allclose(rows, fd, atol=1e-6)


def stencil_until_threshold(x):
    u = x.copy()
    for i in range(10):
        u[1:] = u[1:] + 0.1 * u[:-1] ** 2
        if u[-1] > 2.0:
            return u
        u[0] = u[0] * 1.1
    return u * 2.0


@JIT
def test_an_array_returned_early_from_a_loop_that_writes_it_afterwards(jit):
    """`if done: return u` in a loop whose later statements write u in place was declined ('`result` shares memory
    with `u`, which this assignment writes in place'): the return became `result = u` and the writes after it run
    under `if not returned`, which the aliasing check does not correlate. Nothing of the function runs after its
    own return, so its result binding shares memory with nothing a later write of the function could change."""
    x = np.array([1.0, 0.8, 0.3, 0.6])
    y = stencil_until_threshold(x.copy())
    u = np.array([0.5, -1.0, 2.0, 0.25])
    val, g = srcdiff.vjp(stencil_until_threshold, jit=jit)(x.copy(), u)
    np.testing.assert_allclose(val, y)
    np.testing.assert_allclose(g, numerical_grad(lambda z: float(np.dot(stencil_until_threshold(z.copy()), u)), [x], 0),
                               atol=1e-6)
    val, t = srcdiff.jvp(stencil_until_threshold, jit=jit)(x.copy(), u)
    e = 1e-6
    np.testing.assert_allclose(t, (stencil_until_threshold(x + e * u) - stencil_until_threshold(x - e * u)) / (2 * e),
                               atol=1e-6)


def returned_then_written_by_caller_helper(u):
    for i in range(3):
        if u[0] > 5.0:
            return u
        u[1:] = u[1:] + 0.1 * u[:-1]
    return u


def returned_then_written_by_caller(x):
    u = x.copy()
    v = returned_then_written_by_caller_helper(u)
    u[0] = 5.0 * u[1]
    return np.sum(v ** 2)


def test_a_helper_result_written_by_its_caller_afterwards_is_still_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="shares"):
        srcdiff.grad(returned_then_written_by_caller)(np.array([1.0, 0.8, 0.3, 0.6]))


def c_style_rows(x):
    n = len(x)
    A = np.zeros((n, n, 2))
    k = 0
    for i in range(n):
        for j, xj in enumerate(x):
            A[i][j][0] = x[i] * xj
            A[i][j][1] += A[i][j][0] * 0.5 + k
        A[i][i] = x[i] ** 2
        k = k + 1
    A[n - 1][:, 0] *= 2.0
    return np.sum(A ** 2)


@JIT
def test_c_style_element_writes_into_an_array_are_its_index(jit):
    """`A[i][j] = v` (a row, then its element: how code ported from C writes a matrix) was declined ('only writes
    of the form name[index] = value'); where A is certainly a NumPy array and i certainly an int, it is A[i, j]."""
    x = np.array([0.2, 0.8, 1.0])
    np.testing.assert_allclose(srcdiff.grad(c_style_rows, jit=jit)(x.copy()), numerical_grad(c_style_rows, [x], 0),
                               rtol=1e-6)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(srcdiff.jvp(c_style_rows, jit=jit)(x.copy(), v)[1],
                               numerical_grad(c_style_rows, [x], 0) @ v, rtol=1e-6)


def chained_write_at_an_argument(x, i):
    A = np.zeros((3, 3))
    A[i][0] = x[0]
    return np.sum(A * x)


def chained_write_into_a_list(x):
    rows = [np.zeros(3), np.zeros(3)]
    for i in range(2):
        rows[i][0] = x[i]
    return np.sum(rows[0] * x)


@pytest.mark.parametrize("f, advice", [
    (chained_write_at_an_argument, r"if `A` is an array, write A\[i, 0\] = v"),
    # (not "bind the item to a name first": `a = rows[i]; a[0] = v` is declined in turn, a write through a view)
    (chained_write_into_a_list, r"write into the item array before you put it in `rows` \(`r = np.zeros\(...\)`, "
                                r"`r\[0\] = v`, then `rows = \(..., r, ...\)`\), or make `rows` one array"),
])
def test_chained_writes_not_certainly_into_an_array_row_stay_declined(f, advice):
    """Declined with the hint "write x[i, j] = v instead of x[i][j] = v", in no name of the user's and wrong for a
    list's item; the hint is in their names and fits what the value is."""
    args = (np.array([0.2, 0.8, 1.0]),) + ((1,) if f is chained_write_at_an_argument else ())
    with pytest.raises(srcdiff.SrcdiffError, match=advice):
        srcdiff.grad(f)(*args)


def chained_write_through_a_column(M, a):
    A = M * 1.0
    A[:, 0][1] = a * A[0, 2]
    return np.sum(A ** 2)


def chained_write_through_a_reversal(x, a):
    y = x * 1.0
    y[::-1][0] = y[0] * a
    return np.sum(y * y)


def chained_write_into_a_copy(x, a):
    y = x * 1.0
    y[[0, 1]][0] = 99.0 * a
    return np.sum(y * y)


@pytest.mark.parametrize("f, advice, wrong", [
    (chained_write_through_a_column, r"if `A` is an array, write A\[1, 0\] = v", "A[:, 0, 1]"),
    (chained_write_through_a_reversal, r"write the elements y\[::-1\]\[0\] names with one index into `y`", "y[::-1, 0]"),
    (chained_write_into_a_copy, r"an index list or a mask takes a copy", "y[[0, 1], 0]"),
])
def test_the_advice_for_a_chained_write_indexes_the_same_elements(f, advice, wrong):
    """The advice joined the two indices, `A[:, 0][1]` -> "write A[:, 0, 1] = v" (an IndexError for a matrix: the
    element is A[1, 0]), `y[::-1][0]` -> "y[::-1, 0]" (y[-1]), `y[[0, 1]][0]` -> "y[[0, 1], 0]" (a write into a
    copy, lost in NumPy); a full slice's place takes the second index, and a partial slice, an index list or a
    mask gets no joined index."""
    x = np.array([[0.2, 0.8, 1.0], [0.3, -0.4, 0.6]]) if f is chained_write_through_a_column else np.arange(1.0, 5.0)
    with pytest.raises(srcdiff.SrcdiffError, match=advice) as err:
        srcdiff.grad(f)(x, 0.7)
    assert wrong not in str(err.value)


def written_through_asarray(x0):
    x = x0 * 1.0
    y = np.asarray(x)
    y[0] = y[1] ** 2
    return np.sum(x * x)


@JIT
def test_jvp_of_a_write_through_np_asarray(jit):
    """`y = np.asarray(x)` is x itself, and `y[0] = ...` writes x; forward mode gave y's tangent a copy of x's (a
    fresh value's tangent is copied where it is written), so x's tangent missed the write: jvp silently wrong."""
    x = np.array([0.2, 0.8, 1.0])
    v = np.array([1.0, -0.5, 2.0])
    val, t = srcdiff.jvp(written_through_asarray, jit=jit)(x.copy(), v)
    np.testing.assert_allclose(val, written_through_asarray(x.copy()))
    np.testing.assert_allclose(t, numerical_grad(written_through_asarray, [x], 0) @ v, rtol=1e-6)


def rows_written_through_views(w):
    M = np.zeros((3, 3))
    for i in range(3):
        row = M[i]
        row[:] = w * (i + 1)
        row[i] += 1.0
    return np.sum(M @ w)


@JIT
def test_jvp_of_writes_through_a_row_view_of_an_array_made_inside(jit):
    """`row = M[i]` then `row[:] = w * ...` (M made by np.zeros, so not varied until written): forward mode's
    varied analysis passed the write to row only, so M had no tangent and row's was fresh zeros: jvp silently
    wrong (reverse mode declines the view). A write through a view now varies the array it views."""
    w = np.array([0.2, 0.8, 1.0])
    v = np.array([1.0, -0.5, 2.0])
    val, t = srcdiff.jvp(rows_written_through_views, jit=jit)(w.copy(), v)
    np.testing.assert_allclose(val, rows_written_through_views(w))
    np.testing.assert_allclose(t, numerical_grad(rows_written_through_views, [w], 0) @ v, rtol=1e-6)


def deposit_with_add_at(q):
    rho = np.zeros(4)
    np.add.at(rho, np.array([0, 2, 2, 3, 1]), q)
    return np.sum(rho ** 2)


def test_a_ufunc_method_is_declined_naming_it_with_a_loop_to_write():
    """np.add.at(rho, cells, q) (a particle deposit) was declined as 'call to <built-in method at of numpy.ufunc
    object at 0x...>: classes, instances and bound methods are not supported', with advice about objects."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)call to np\.add\.at: NumPy's ufunc methods.*a\[idx\[k\]\] "
                                                   r"\+= v\[k\]"):
        srcdiff.grad(deposit_with_add_at)(np.array([0.7, -0.4, 1.3, 0.2, 0.5]))


def comprehension_of_a_merged_value(x, a, M):
    scale = x
    if np.sum(a) > 10.0:
        scale = np.sum(M)
    return sum([np.sum(np.array([scale for e in a if i % 2 == 0])) for i in range(4)], 0.5) + scale


def test_an_array_of_a_comprehension_changing_length_with_an_item_of_unknown_kind():
    """np.array([scale for e in a if i % 2 == 0]) of 4 items, then of none, where scale is a 0-d array on one
    path and a float on the other (plain fuzz seed 871049, the kinds oracle): the backward sweep's adjoint kept the
    later iteration's shape ('operands could not be broadcast together with shapes (0,) (4,)'); rt.stack_zeros
    gives an array of unknown rank there, not an unknown kind, whose adjoint restarts at each iteration's shape."""
    a, M = np.array([0.5, -0.2, 0.8, 0.1]), np.ones((2, 4)) * 0.3
    g = srcdiff.grad(comprehension_of_a_merged_value, wrt=(0, 1))
    want = g(0.3, a, M)
    got = g(np.array(0.3), a, M)
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])
    assert float(want[0]) == pytest.approx(numerical_grad(comprehension_of_a_merged_value, [0.3, a, M], 0))


EDGES = [(0, 1), (1, 2), (2, 0), (0, 2)]
WEIGHTS = [0.25, 0.5, 0.25]
RAGGED = [(0, 1), (1, 2, 0)]
MESH = {"w": [0.5, -1.0, 0.25]}


def spring_energy(x):
    e = 0.0
    for k, (i, j) in enumerate(EDGES):
        e += WEIGHTS[k % 3] * (x[i] - x[j]) ** 2
    E = np.array(EDGES)
    return e + np.sum(x[E[:, 0]] * x[E[:, 1]]) * len(WEIGHTS)


def ragged_item(x):
    return x[RAGGED[1][2]] * x[RAGGED[0][1]] ** 2 + np.sin(x @ MESH["w"])


def ragged_edges(x):
    s = 0.0
    for e in RAGGED:
        s += x[e[0]]
    return s


def repeated_weights(x):
    return np.sum(np.array(WEIGHTS * 2)[:3] * x)


@JIT
def test_module_level_lists_of_numbers_are_compiled_in_as_arrays(jit):
    """A module-level list (a mesh's edges, a stencil's weights) read in the function was declined as 'call to
    [(0, 1), (1, 2), ...] has no differentiation rule' (a tuple worked); a list of numbers of one shape is the
    array of it (a dict's item too: MESH["w"]), the items of any list at constant keys are compiled in (h7b's rule:
    RAGGED[1][2]), and a list
    used whole that cannot be an array, or in a + or * (a list's concatenation or repetition), is declined
    naming it."""
    x = np.array([0.3, 1.0, -0.5])
    for f in (spring_energy, ragged_item):
        np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(x), numerical_grad(f, [x], 0), rtol=1e-6)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_simulations.py:\d+: the module-level list RAGGED used as "
                                                   r"a value(.|\n)*RAGGED\[\.\.\.\]"):
        srcdiff.grad(ragged_edges, jit=jit)(x)
    with pytest.raises(srcdiff.SrcdiffError, match=r"the module-level list WEIGHTS in a \*(.|\n)*np.array\(WEIGHTS\)"):
        srcdiff.grad(repeated_weights, jit=jit)(x)
