"""Lists the user builds with appends (transforms/lists.py): reverse mode differentiates them as stacks, and
np.array(out) / np.asarray / np.stack as rt.stack_array, whose adjoint the appends' adjoints pop. Was declined
("lists are not differentiated in reverse mode"). Gradients against central differences in both backends, the value
against f, jvp against the gradient, hvp against differences of the gradient; the uses it would get wrong are
declined at the user's line."""
import inspect
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad


def scalars(x):
    out = []
    for i in range(3):
        out.append(np.sin(x[i]) * x[0])
    return np.sum(np.array(out) ** 2)


def rows_in_branches(x, a):
    rows = []
    for i in range(3):
        if x[i] > 0.0:
            rows.append(x * x[i] + a)
        else:
            rows.append(np.sin(x) * a)
    M = np.stack(rows)
    return np.sum(M @ x) + len(rows) * a


def some_appended(x):
    out = []
    for i in range(3):
        if x[i] > 0.0:
            out.append(x[i] ** 2)
    for j in range(2):
        out.append(x[j] * x[2])
    arr = np.asarray(out)
    return np.sum(arr * np.arange(len(out)))


def none_appended(x):
    out = []
    for i in range(3):
        if x[i] > 5.0:
            out.append(x[i])
    return np.sum(np.array(out)) + np.sum(x * x)


def as_a_stack(x):
    st = []
    for i in range(3):
        st.append(x[i] * 2.0)
    s = 0.0
    for i in range(3):
        s = s + st.pop() * (i + 1.0)
    return s


def in_a_while_loop(x, a):
    trace = []
    s = a
    k = 0
    while s < 3.0 and k < 10:
        s = s * 1.3 + x[k % 3] ** 2
        trace.append(s)
        k += 1
    t = np.array(trace)
    return np.sum(t * t) / len(trace)


def mixed_appends(x):
    """Values without a derivative appended between others: the gradient drops their adjoints with a bare
    `d_out.pop()`, and hvp's forward mode over it must drop their tangents too (it popped the wrong one: H·v 0)."""
    out = []
    for i in range(2):
        out.append(np.sum(x) * x[i])
        out.append(i * 0.25 if x[0] > -0.3 else -0.5)
    return np.sum(np.array(out) ** 2)


def started_with_items(x):
    """A list started with its first items (`traj = [y0]`), two bound together (`ts, ys = [0.0], [y]`): declined as
    'lists are not differentiated in reverse mode', and jvp raised AttributeError (the literal ran as a tuple)."""
    traj = [x[0]]
    ts, ys = [0.0], [x[1]]
    y = x[0]
    for i in range(1, 3):
        y = np.tanh(0.5 * y + x[i])
        traj.append(y)
        ts.append(i * 0.1)
        ys.append(y * x[2])
    T, Y = np.array(traj), np.array(ys)
    return np.sum(T ** 2) + T[-1] * T[0] + np.sum(Y * np.array(ts))


def stacked_along_other_axes(x):
    """np.stack(out, axis=k) of a list built with appends (declined: only axis 0 was a conversion)."""
    cols, mats = [], []
    y = x
    for i in range(3):
        y = np.tanh(0.8 * y + 0.1 * i)
        cols.append(y)
        mats.append(np.outer(y, x[:2]))
    Y = np.stack(cols, axis=1)
    M = np.stack(mats, axis=-1)
    return np.sum(Y[:, -1] * Y[:, 0]) + np.sum(M[:, 1, :] ** 2) + np.sum(Y ** 2)


def last_item_read(x):
    """traj[-1]: the state a trajectory's next step starts from (was declined: 'used other than by append')."""
    traj = [x]
    for i in range(4):
        traj.append(np.tanh(traj[-1] * 1.5 + 0.1 * i))
    T = np.array(traj)
    return np.sum(T[1:] * T[:-1]) + np.sum(traj[-1] ** 2)


def last_item_in_branches(y0, k):
    ys = []
    ys.append(y0)
    for i in range(6):
        y = ys[-1]
        if y > 0.5:
            ys.append(y - 0.1 * k * y)
        else:
            ys.append(y - 0.05 * k * y * y)
    return np.sum(np.array(ys) ** 2) + ys[-1] * len(ys)


X = np.array([0.4, -0.7, 1.1])
CASES = [(last_item_read, (X,)), (last_item_in_branches, (1.0, 0.7)), (started_with_items, (X,)), (stacked_along_other_axes, (X,)), (scalars, (X,)), (rows_in_branches, (X, 0.5)), (some_appended, (X,)), (none_appended, (X,)),
         (as_a_stack, (X,)), (in_a_while_loop, (X, 0.5)), (mixed_appends, (X,))]
IDS = [f.__name__ for f, _ in CASES]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_gradient_matches_differences(f, args, jit):
    check_grad(f, args, jit=jit)
    wrt = tuple(range(len(args)))
    value, _ = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_jvp_and_hvp(f, args):
    wrt = tuple(range(len(args)))
    t = tuple(np.cos(np.arange(np.size(a)) + 1.0).reshape(np.shape(a)) for a in args)
    t = tuple(float(v) if np.ndim(v) == 0 else v for v in t)
    g = srcdiff.grad(f, wrt=wrt)
    _, tangent = srcdiff.jvp(f, wrt=wrt)(*args, t)
    grads = g(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert tangent == pytest.approx(sum(float(np.sum(gi * ti)) for gi, ti in zip(grads, t)), rel=1e-9)
    hv = srcdiff.hvp(f, wrt=wrt)(*args, t)
    h = 1e-5
    moved = [lambda s, k=k: args[k] + s * t[k] for k in wrt]
    plus, minus = g(*[m(h) for m in moved]), g(*[m(-h) for m in moved])
    hv, plus, minus = [r if isinstance(r, tuple) else (r,) for r in (hv, plus, minus)]
    for got, p, m in zip(hv, plus, minus):
        np.testing.assert_allclose(got, (np.asarray(p) - np.asarray(m)) / (2 * h), rtol=1e-5, atol=1e-6)



def _penalty(f, nargs):
    """The squared norm of f's gradient (plus the gradient dotted with the arguments' sines): reverse mode over it
    differentiates the generated gradient, whose `d_out = rt.unstack(d_arr)` list its pops take the rows of."""
    g = srcdiff.grad(f, wrt=0 if nargs == 1 else (0, 1))
    if nargs == 1:
        def penalty(x):
            d = g(x)
            return np.sum(d * d) + np.sum(d * np.sin(x))
        return penalty

    def penalty2(x, a):
        dx, da = g(x, a)
        return np.sum(dx * dx) + np.sum(da * da) + np.sum(dx * np.sin(x)) * da
    return penalty2


@pytest.mark.parametrize("f, args", CASES, ids=IDS)
def test_reverse_over_the_gradient(f, args):
    """A gradient-norm penalty through a list built with appends (rt.unstack's reverse rule, h30e: the pops'
    adjoints pushed onto the list's adjoint stack, rt.stack_rows making them rows again) against central
    differences; was declined ('rt.unstack has a forward-mode rule but no reverse-mode rule')."""
    check_grad(_penalty(f, len(args)), args, wrt=tuple(range(len(args))))


@pytest.mark.parametrize("f, args", [(last_item_read, (X,)), (rows_in_branches, (X, 0.5)), (some_appended, (X,))],
                         ids=["last_item_read", "rows_in_branches", "some_appended"])
def test_reverse_over_the_gradient_jit(f, args):
    """As above, the inner and outer gradients compiled with Numba (a list of floats, one of arrays, a list started
    with items): the adjoint stack is a list Numba types from its appends."""
    check_grad(_penalty(f, len(args)), args, wrt=tuple(range(len(args))), jit=True)



def mixed_stack(x):
    st = []
    for i in range(2):
        st.append(np.sum(x) * x[i])
        st.append(i * 0.25)
    s = 0.0
    for i in range(4):
        s = s + st.pop() ** 2 * (i + 1.0)
    return s


def test_reverse_over_a_gradient_dropping_adjoints_with_bare_pops():
    """The gradient drops the adjoints of values without a derivative with a bare `d_st.pop()`; reverse mode over it
    pushed nothing there, so the pushes onto d_st's adjoint stack and its pops were out of step: a wrong penalty
    gradient ([29.28, -8.42, -16.58] for [238.62, 27.58, 100.51]; h30e: forward.name_dropped_pops names the popped
    value, whose adjoint, zero, is pushed)."""
    check_grad(_penalty(mixed_stack, 1), [X])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_dropped_pop_nothing_reads_is_a_bare_pop(jit):
    """Reverse mode over the gradient names the bare pops it drops adjoints with (forward.name_dropped_pops), for the
    zero it pushes in their place; where that zero is a number the name is read nowhere, and the generated code
    showed `d_st_dropped = d_st.pop()`, an assignment nothing reads: it is `d_st.pop()` now."""
    g = srcdiff.grad(_penalty(mixed_stack, 1), jit=jit)
    np.testing.assert_allclose(g(X), numerical_grad(_penalty(mixed_stack, 1), [X], 0), rtol=1e-6, atol=1e-6)
    src = srcdiff.source(g)
    assert "_dropped" not in src, src
    assert re.search(r"^ +d_st\.pop\(\)$", src, re.M), src


def test_generated_code_pops_the_rows_of_the_arrays_adjoint():
    g = srcdiff.grad(scalars)
    g(X)
    src = srcdiff.source(g)
    assert "result = rt.stack_array(out)" in src and "d_out = rt.unstack(d_result)" in src, src
    assert "d_out.pop()" in src and "out.append(" in src, src


def indexed(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2.0)
    return out[0] * out[1]


def iterated(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2.0)
    s = 0.0
    for v in out:
        s = s + v * v
    return s


def summed(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2.0)
    return sum(out)


def converted_twice(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2.0)
    a = np.array(out)
    b = np.array(out)
    return np.sum(a * b)


def popped_and_converted(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2.0)
    a = np.array(out)
    return np.sum(a) * out.pop()


def converted_in_a_loop(x):
    out = []
    s = 0.0
    for i in range(3):
        out.append(x[i] * 2.0)
        s = s + np.sum(np.array(out))
    return s


def last_item_of_a_stack(x):
    out = []
    for i in range(3):
        out.append(x[i] * 2.0)
    top = out[-1]
    return out.pop() * top


def appended_after(x):
    out = []
    out.append(x[0])
    a = np.array(out)
    out.append(x[1])
    return np.sum(a)


def early_return(x):
    out = []
    for i in range(3):
        if x[i] > 1.0:
            return x[i]
        out.append(x[i] * 2.0)
    return np.sum(np.array(out))


def bound_again(x):
    out = []
    out.append(x[0])
    out = [x[1], x[2]]
    return np.sum(np.array(out))


def helper(v):
    return v[0]


def passed_on(x):
    out = []
    out.append(x[0])
    return helper(out) * 2.0


def popped_at_the_front(x):
    out = []
    out.append(x[0])
    out.append(x[1])
    return out.pop(0) * 2.0


def extended(x):
    out = []
    out.extend([x[0], x[1]])
    return np.sum(np.array(out))


@pytest.mark.parametrize("f, what", [
    (indexed, r"the list `out` is used other than by append, pop, len or one np\.array\(out\)"),
    (iterated, r"the list `out` is used other than by append"),
    (summed, r"the list `out` is used other than by append"),
    (converted_twice, r"the list `out` is converted to an array twice"),
    (popped_and_converted, r"the list `out` is both popped and converted to an array"),
    (converted_in_a_loop, r"np\.array\(out\) in a loop or a branch of its own"),
    (appended_after, r"`out` is appended to after np\.array\(out\)"),
    (early_return, r"np\.array\(out\) after an early return, break or continue"),
    (bound_again, r"the list `out` is bound to a new list twice and converted"),   # (`out = [a, b]` of a list
    # appended to is `out = []` and two appends)
    (passed_on, r"the list `out` is used other than by append"),
    (last_item_of_a_stack, r"the list `out` is used other than by append"),   # (its last item changes at a pop)
    (extended, r"the list method \.extend\(\) of `out` is not supported"),
    (popped_at_the_front, r"`out\.pop\(\.\.\.\)` at an index: reverse mode differentiates lists as stacks")])
def test_declined_at_the_users_line(f, what):
    if f is popped_at_the_front:
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_lists\.py:\d+: " + what):
            srcdiff.grad(f)(X.copy())
        return
    hint = r"convert `out` once, on every path: instead of the return at line \d+" if f is early_return else \
        r"build the list with appends and convert it once"
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_lists\.py:\d+: " + what + r"(.|\n)*hint: " + hint):
        srcdiff.grad(f)(X.copy())


def trajectory_returned_early(x):
    traj = []
    s = x[0]
    for i in range(4):
        s = np.tanh(s * x[i % 3]) + 0.3
        traj.append(s)
        if s > 5.0:
            return np.sum(np.array(traj))
    return np.sum(np.array(traj))


def returned_before_the_appends(x):
    traj = []
    if x[0] > 2.0:
        return x[0]
    for i in range(3):
        traj.append(np.tanh(x[i]))
    return np.sum(np.array(traj) ** 2)


def converted_in_each_branch(x):
    traj = []
    for i in range(3):
        traj.append(np.tanh(x[i]))
    if x[0] > 0.2:
        return np.sum(np.array(traj))
    return np.sum(np.array(traj) ** 2)


def trajectory_left_with_break(x):
    """trajectory_returned_early as the advice says to write it."""
    traj = []
    s = x[0]
    done, kept = False, 0.0
    for i in range(4):
        s = np.tanh(s * x[i % 3]) + 0.3
        traj.append(s)
        if s > 0.9:
            kept, done = s * 2.0, True
            break
    arr = np.array(traj)
    if done:
        return kept
    return np.sum(arr ** 2)


@pytest.mark.parametrize("f, advice", [
    (trajectory_returned_early, r"convert `traj` once, on every path: instead of the return at line (\d+), keep its "
                                r"value in a name, set a flag and `break` out of the loop; after the loop, "
                                r"`arr = np\.array\(traj\)`, then return the kept value if the flag is set"),
    (returned_before_the_appends, r"bind `traj = \[\]` after the return at line (\d+), which comes before its first "
                                  r"append"),
    (converted_in_each_branch, r"convert `traj` once, before the branch of the return at line (\d+): "
                               r"`arr = np\.array\(traj\)`, and use arr on every path")])
def test_early_exits_get_advice_that_fits(f, advice):
    """A list converted on a path an early return leaves, or converted in each of two returns, said "convert it once,
    after the last append", which the code did: the advice now says what to write instead of the return, at its line."""
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f)(X.copy())
    m = re.search(advice, info.value.advice or "")
    assert m, str(info.value)
    lines, first = inspect.getsourcelines(f)
    assert "return" in lines[int(m.group(1)) - first], (lines, m.group(1))
    assert info.value.filename == __file__


@pytest.mark.parametrize("jit", [False, True])
def test_trajectory_left_with_break_as_advised(jit):
    check_grad(trajectory_left_with_break, [np.array([0.3, -0.5, 0.8])], jit=jit)
    check_grad(trajectory_left_with_break, [np.array([0.9, 1.5, 0.8])], jit=jit)


@pytest.mark.parametrize("f", [indexed, iterated, summed, converted_twice])
def test_forward_mode_keeps_lists(f):
    """jvp runs lists as lists: what reverse mode declines works there."""
    _, tangent = srcdiff.jvp(f, wrt=0)(X, np.ones(3))
    assert tangent == pytest.approx(np.sum(numerical_grad(f, [X], 0)), rel=1e-6)


def nested_def_returns(x):
    """A nested def's `return` before the conversion is that function's, not an early return of this one."""
    def sq(v):
        return v * v
    out = []
    for i in range(3):
        out.append(sq(x[i]))
    return np.sum(np.array(out))


@pytest.mark.parametrize("jit", [False, True])
def test_a_nested_defs_return_is_not_an_early_return(jit):
    check_grad(nested_def_returns, [X], jit=jit)


def rows_of_a_matrix(x, a):
    """A list made anew in each iteration and converted at its end: one conversion per list."""
    rows = []
    for i in range(3):
        row = []
        for j in range(3):
            row.append(x[i] * x[j] + a * j)
        rows.append(np.array(row) * x[i])
    M = np.stack(rows)
    return np.sum(M @ x) + np.sum(M * M)


def row_with_continue(x):
    rows = []
    for i in range(3):
        row = []
        row.append(x[i])
        if x[i] > 0.0:
            continue
        rows.append(np.array(row))
    return np.sum(np.array(rows))


@pytest.mark.parametrize("jit", [False, True])
def test_a_list_made_in_each_iteration(jit):
    check_grad(rows_of_a_matrix, [X, 0.5], jit=jit)
    _, tangent = srcdiff.jvp(rows_of_a_matrix, wrt=(0, 1), jit=jit)(X, 0.5, (np.ones(3), 1.0))
    g = srcdiff.grad(rows_of_a_matrix, wrt=(0, 1), jit=jit)(X, 0.5)
    assert tangent == pytest.approx(np.sum(g[0]) + g[1], rel=1e-9)


def test_a_jump_before_the_conversion_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_lists\.py:\d+: np\.array\(row\) after an early return, break "
                       r"or continue between `row = \[\]` and it"):
        srcdiff.grad(row_with_continue)(X)


def list_of_lists(x):
    rows = []
    for i in range(3):
        row = []
        for j in range(2):
            row.append(x[i] * (j + 1))
        rows.append(row)  # <- nested
    return np.sum(np.array(rows) ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_list_appended_to_a_converted_list_is_its_row(jit):
    # rows.append(row) of a list converted once: row is appended as np.array(row), the row np.array(rows) makes;
    # whichever list the check met first (it declined 'used other than by append' or converted, by set order)
    check_grad(list_of_lists, [np.array([0.3, -0.7, 1.1])], jit=jit)


def stacked_lists(x):
    rows = []
    for i in range(3):
        row = []
        row.append(x[i])
        rows.append(row)  # <- nested
    total = 0.0
    for i in range(3):
        total = total + np.sum(rows.pop())
    return total


def test_a_list_appended_to_a_stack_says_to_append_its_array():
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.grad(stacked_lists)(np.ones(3))
    text = str(err.value)
    assert "appended to another list" in text and ".append(np.array(row))" in text and "<- nested" in text, text


def appends_tuple_literals(x, a):
    pts = []
    for i in range(len(x)):
        if x[i] > 0.3:
            pts.append((x[i] * a, np.sin(x[i])))
    P = np.array(pts)
    return np.sum(P[:, 0] * P[:, 1])


def appends_a_name_of_a_tuple(x, a):
    pts = []
    for i in range(len(x)):
        p = (x[i] * a, np.sin(x[i]))
        pts.append(p)
    P = np.asarray(pts)
    return np.sum(P[:, 0] * P[:, 1])


def appends_list_literals(x, a):
    rows = []
    for i in range(len(x)):
        rows.append([np.cos(x[i]) * a, x[i] ** 2, 1.0])
    R = np.array(rows)
    return np.sum(np.tanh(R @ np.array([0.5, -1.0, 2.0])))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [appends_tuple_literals, appends_a_name_of_a_tuple, appends_list_literals])
def test_forward_mode_over_tuples_appended_then_converted(f, jit):
    """jvp under jit declined at `np.array(pts)` (Numba: "No implementation of function stack_array"): forward mode
    appended the tuple itself, rt.stack_array takes arrays or numbers; reverse mode's rewrite of such an item into
    the row np.array makes of it ran in reverse mode only. It runs in forward mode too."""
    x, v = np.array([0.31, 0.7, 0.21, 0.45, 0.97]), np.array([0.4, -1.0, 0.3, 0.8, -0.2])
    g = srcdiff.grad(f, wrt=(0, 1))
    value, tangent = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(x, 1.3, (v, 0.7))
    assert value == pytest.approx(f(x, 1.3))
    gx, ga = g(x, 1.3)
    assert tangent == pytest.approx(gx @ v + ga * 0.7, rel=1e-10)
    got = srcdiff.hvp(f, wrt=(0, 1), jit=jit)(x, 1.3, (v, 0.7))
    plus, minus = g(x + 1e-6 * v, 1.3 + 0.7e-6), g(x - 1e-6 * v, 1.3 - 0.7e-6)
    for k in range(2):
        np.testing.assert_allclose(got[k], (plus[k] - minus[k]) / 2e-6, rtol=1e-5, atol=1e-7)


def stack_left_with_items(x, a):
    """A list used as a stack whose first items no pop takes: the appends' adjoints popped the adjoint stack
    regardless, and the gradient raised 'IndexError: pop from empty list' at the append's line (adversarial
    programs of 2026-11-28: append in a loop, then pop once; a return from a loop after a pop; lists of arrays
    made anew in each iteration, popped twice after up to four appends). The items no pop takes have adjoint
    zero."""
    st = []
    for i in range(3):
        st.append(x[i] * a)
    top = st.pop()
    s = top * a
    for t in range(2):
        rows = [x * a]
        h = x * 1.0
        for j in range(3):
            h = np.tanh(h * (j + 0.5) + a)
            rows.append(h)
            if h[0] > 0.5:
                break
        s = s + np.sum(rows.pop() ** 2) + t * np.sum(rows.pop())
    k = 0
    while k < 3:
        st.append(x[k] * x[k])
        if x[k] > 0.8:
            return s + st.pop() * a
        k += 1
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("x", [[0.3, -0.7, 1.1], [0.3, -0.7, 0.1], [0.9, 0.2, 0.1]])
def test_a_stack_left_with_items_no_pop_takes(jit, x):
    x = np.array(x)
    check_grad(stack_left_with_items, [x, 0.4], jit=jit)
    value, (gx, ga) = srcdiff.value_and_grad(stack_left_with_items, wrt=(0, 1), jit=jit)(x.copy(), 0.4)
    assert np.isclose(value, stack_left_with_items(x.copy(), 0.4))
    v = np.array([0.3, -0.2, 0.5])
    _, dot = srcdiff.jvp(stack_left_with_items, wrt=(0, 1), jit=jit)(x.copy(), 0.4, (v, 0.7))
    assert np.isclose(dot, gx @ v + ga * 0.7)


def length_after_pops(x, a):
    """`len(lst)` after pops (or appends) in the same block or a loop since an earlier `len(lst)`: cse merged the two
    (both `len(lst)`, lst never rebound), so `while len(lst) > 0: s += lst.pop()` then `len(lst) * a` read the length
    before the loop, 3 for 0: value 2.58 for 0.18 and d/da 3.225 for 0.225 (h21a), in value_and_grad and jvp."""
    lst = []
    for i in range(3):
        lst.append(x[i] * a)
    s = 0.0
    while len(lst) > 0:
        s = s * 0.5 + lst.pop()
    lst.append(a * 2.0)
    n1 = len(lst)
    lst.append(x[0])
    n2 = len(lst)
    return s + len(lst) * a + lst.pop() * n1 + lst.pop() * n2 + len(lst) * x[1]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_the_length_of_a_list_after_pops_is_read_again(jit):
    x = np.array([0.3, -0.5, 0.7])
    check_grad(length_after_pops, [x, 0.8], jit=jit)
    value, (gx, ga) = srcdiff.value_and_grad(length_after_pops, wrt=(0, 1), jit=jit)(x.copy(), 0.8)
    assert np.isclose(value, length_after_pops(x.copy(), 0.8))
    v = np.array([0.3, -0.2, 0.5])
    fv, dot = srcdiff.jvp(length_after_pops, wrt=(0, 1), jit=jit)(x.copy(), 0.8, (v, 0.7))
    assert np.isclose(fv, value) and np.isclose(dot, gx @ v + ga * 0.7)


def popped_in_a_branch(xa):
    """A pop in a branch whose else binds 0.0, with a tuple argument (no argument kinds where the gradient's text is
    differentiated again): desugar.zero_sum_starts took `if ...: y = rt.pop(lst) else: y = 0.0` for a sum's start
    (its rt.pop, lowered by forward mode, is marked MADE as the start's rt.zeros_like is) and kept `y = 0.0`: hvp 0
    for (1.66, [0.96, -1.6, 2.24]) for s alone (h21a). The adjoint stacks' pops of a list left with items are such branches too."""
    x, a = xa
    lst = []
    for i in range(3):
        lst.append(a[i] * x)
    s = 0.0
    for i in range(4):
        if a[0] > -5.0:
            y = lst.pop()
        else:
            y = 0.0
        s = s + y * y
        if len(lst) == 0:
            break
    return s + np.sin(s)


def test_hvp_through_a_pop_in_a_branch():
    x, a, v = 0.8, np.array([0.3, -0.5, 0.7]), (1.0, np.array([0.1, 0.2, -0.3]))
    got = srcdiff.hvp(popped_in_a_branch)((x, a), v)
    g = srcdiff.grad(popped_in_a_branch)
    eps = 1e-6
    hi, lo = g((x + eps * v[0], a + eps * v[1])), g((x - eps * v[0], a - eps * v[1]))
    assert np.isclose(got[0], (hi[0] - lo[0]) / (2 * eps), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[1], (hi[1] - lo[1]) / (2 * eps), rtol=1e-6, atol=1e-8)


def started_with_items_then_popped(x, a):
    """A list started with items and only popped (`left = [u, v]` ... `left.pop()`, no append): grad declined it
    ('method .pop() is not supported') and jvp ran it as the tuple of its items ('tuple' object has no attribute
    'pop', an internal traceback: h21a). It is a stack as `traj = [y0]` appended to is: `left = []` and an append per
    item."""
    left = [x[0] * a, x[1] * a, x[2]]
    s = np.sin(left.pop())
    return s + left.pop() * a


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_list_started_with_items_and_only_popped(jit):
    x = np.array([0.3, -0.5, 0.7])
    gx, ga = check_grad(started_with_items_then_popped, [x, 0.8], jit=jit)
    v = np.array([0.3, -0.2, 0.5])
    fv, dot = srcdiff.jvp(started_with_items_then_popped, wrt=(0, 1), jit=jit)(x.copy(), 0.8, (v, 0.7))
    assert np.isclose(fv, started_with_items_then_popped(x.copy(), 0.8)) and np.isclose(dot, gx @ v + ga * 0.7)


def list_item_written_at_a_constant(x, a):
    lst = [x[0], x[1] * 1.0]
    lst[1] = lst[0] * a
    return lst[0] * lst[1]


def list_items_written_in_a_loop(x, a):
    lst = [0.0, 0.0, 0.0]
    for i in range(3):
        lst[i] = x[i] * a
    return np.sum(np.array(lst) ** 2)


@pytest.mark.parametrize("f", [list_item_written_at_a_constant, list_items_written_in_a_loop])
def test_a_list_display_whose_items_are_written(f):
    """`lst = [x[0], x[1]]` then `lst[1] = v`: a display was the tuple of its items, so jvp failed ("'tuple' object
    does not support item assignment", saying the function itself fails on its arguments, where Python runs it)
    and grad raised srcdiff's own AttributeError ('Tuple' object has no attribute 'id'). jvp runs it as a list
    (= central differences, both backends); reverse mode declines the write with the array to make instead."""
    x = np.array([0.31, -0.57, 1.13])
    for jit in (False, True):
        value, d = srcdiff.jvp(f, wrt=1, jit=jit)(x.copy(), 0.73, 1.0)
        assert value == pytest.approx(f(x.copy(), 0.73), rel=1e-12)
        assert d == pytest.approx(numerical_grad(f, [x, 0.73], 1), rel=1e-6)
    with pytest.raises(srcdiff.SrcdiffError, match=r"the list `lst` written here, then written at an index") as err:
        srcdiff.grad(f, wrt=1)(x.copy(), 0.73)
    assert "make it an array: lst = np.zeros(n)" in str(err.value)
    assert f"{__file__}:{inspect.getsourcelines(f)[1] + 1}" in str(err.value)


# ---- lists of a def nested in the function, and lists a function of yours returns or takes (h27c). A nested def's
# own list was taken for its enclosing function's list of the same name: "the list `xs` is bound again to another
# value" at the caller's `xs = build(v)`, whose real cause is a list returned; "converted to an array twice" where
# each function converts its own list once.

def a_nested_def_with_a_list_of_its_own(x):
    xs = []
    for i in range(3):
        xs.append(x[i] * 1.5)

    def spread(v):
        xs = []
        xs.append(v * 2.0)
        xs.append(np.sin(v))
        return np.sum(np.array(xs))
    a = np.array(xs)
    return np.sum(a * spread(x[0])) + spread(x[2])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_nested_def_with_a_list_of_its_own(jit):
    from gradcheck import check_value_grad_jvp
    check_value_grad_jvp(a_nested_def_with_a_list_of_its_own, (X.copy(),), (0,), jit, (X * 0.5 - 1.0,), atol=1e-8)


def nested_list_returned_under_the_callers_name(x):
    def build(v):
        xs = []
        xs.append(v)
        xs.append(v * 2.0)
        return xs     # <- returned
    xs = build(x[0])
    return np.sum(np.array(xs))


def appending_helper(xs, v):
    xs.append(v * 3.0)
    return xs


def list_passed_and_bound_again(x):
    xs = []
    xs.append(x[0])
    xs = appending_helper(xs, x[1])    # <- passed
    return np.sum(np.array(xs))


@pytest.mark.parametrize("f, what, hint", [
    (nested_list_returned_under_the_callers_name, r"the list `xs` returned by the function that builds it with appends",
     r"return the array of it, np\.array\(xs\)"),
    (list_passed_and_bound_again, r"the list `xs` passed to your function appending_helper and bound to what it "
                                  r"returns", r"append to `xs` in this function")])
def test_lists_returned_or_passed_declined_naming_the_construct(f, what, hint):
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_lists\.py:\d+: " + what + r"(.|\n)*hint: " + hint):
        srcdiff.grad(f)(X.copy())
    # (forward mode keeps lists as lists: jvp works)
    value, tangent = srcdiff.jvp(f)(X.copy(), np.ones_like(X))
    assert value == pytest.approx(f(X.copy()))
