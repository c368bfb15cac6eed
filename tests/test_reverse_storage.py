"""transforms/reverse_storage.py: what reverse mode's forward sweep keeps for its backward sweep. A scalar a
range loop overwrites goes on a preallocated tape indexed by the iteration, a value of a while loop on a list
stack, and integer index arithmetic and reads of arrays nothing writes are recomputed in the backward sweep,
not kept. (tests/test_tapes.py: the tapes' dtypes and the writes whose overwritten elements are kept.)"""
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad
from passes import reverse_sweeps
from srcdiff.transforms import emit

F, A = ("s", "f"), ("a", 1, "f")


def taped(x, a):
    s = 0.0
    for i in range(a.shape[0]):
        s = np.sin(s + x * a[i])
    return s


def in_a_while(x):
    t = x
    while t < 10.0:
        t = t * t + 1.0
    return t


def shifted(x, a):
    s = 0.0
    for i in range(a.shape[0] - 1):
        j = i + 1
        s = s + x * a[j] * a[i]
    return s


def _lines(sweeps) -> list:
    return [line.strip() for line in emit.to_source(sweeps.function).splitlines()]


def _stack_of(sweeps, primal) -> str:
    """The one list stack of `primal`'s values (Sweeps.stacks: stack name -> primal name)."""
    found = [st for st, v in sweeps.stacks.items() if v == primal]
    assert len(found) == 1, sweeps.stacks
    return found[0]


def test_a_range_loop_keeps_its_scalars_on_a_tape_indexed_by_the_iteration():
    sw = reverse_sweeps(taped, ["x"], {"x": F, "a": A})
    assert not sw.stacks and len(sw.tapes) == 1
    tape = next(iter(sw.tapes))
    primal = tape[:-len("_tape")]
    lines = _lines(sw)
    assert f"{tape} = np.empty(max(n1, 0))" in lines                          # one row per iteration
    assert f"{tape}[i] = {primal}" in lines and f"{primal} = {tape}[i]" in lines
    assert lines.index(f"{tape}[i] = {primal}") < lines.index("# backward sweep") < lines.index(f"{primal} = {tape}[i]")


def taped_six(x, a):
    s = 0.0
    for i in range(6):
        s = s + x * np.sin(s + a[i % 3])
    return s


def test_a_tape_of_a_constant_trip_count_is_that_long():
    """A loop over range(6) made its tape `np.empty(max(6, 0))`, as no person writes it (found reading generated
    code); `max(n, 0)` stays where the count is computed."""
    sw = reverse_sweeps(taped_six, ["x"], {"x": F, "a": A})
    tape = next(iter(sw.tapes))
    assert f"{tape} = np.empty(6)" in _lines(sw), _lines(sw)
    x, a = 0.3, np.array([0.5, -0.2, 0.9])
    np.testing.assert_allclose(srcdiff.grad(taped_six)(x, a), numerical_grad(taped_six, [x, a], 0), rtol=1e-6)


def test_a_while_loop_keeps_what_it_overwrites_on_a_stack_and_counts_its_iterations():
    sw = reverse_sweeps(in_a_while, ["x"], {"x": F})
    assert not sw.tapes and set(sw.stacks.values()) == {"t"}
    lines = _lines(sw)
    stack = _stack_of(sw, "t")
    assert f"{stack} = []" in lines and f"{stack}.append(t)" in lines and f"t = {stack}.pop()" in lines
    assert "iterations = iterations + 1" in lines and "for k in range(iterations):" in lines


def test_index_arithmetic_and_reads_of_unwritten_arrays_are_recomputed_not_kept():
    sw = reverse_sweeps(shifted, ["x"], {"x": F, "a": A})
    assert not sw.stacks and not sw.tapes
    lines = _lines(sw)
    backward = lines[lines.index("# backward sweep"):]
    assert "j = i + 1" in backward                                     # at the start of the iteration's block
    assert "s1 = a[j]" in backward and "s3 = a[i]" in backward         # just before their use


def lengths(x, a):
    s = 0.0
    for i in range(3):
        n = len(a)               # loop-invariant: a person computes it again, not keeps it per iteration
        for j in range(n):
            s = s + np.sin(x * a[j]) * i
    return s


def lengths_of_a_rebound_array(x, a):
    s = 0.0
    for i in range(3):
        n = len(a)               # a is rebound below: n changes from one iteration to the next
        a = a[1:] * x
        for j in range(n - 1):
            s = s + np.cos(a[j]) * x
    return s


def test_the_length_of_an_array_the_loop_does_not_rebind_is_taken_again_not_taped():
    sw = reverse_sweeps(lengths, ["x", "a"], {"x": F, "a": A})
    assert not sw.tapes
    backward = _lines(sw)[_lines(sw).index("# backward sweep"):]
    assert backward.index("n = len(a)") < backward.index("for j in range(n - 1, -1, -1):")
    kept = reverse_sweeps(lengths_of_a_rebound_array, ["x", "a"], {"x": F, "a": A})
    assert [t for t in kept.tapes if t.startswith("n")]         # its length is kept, one per iteration


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_kept_and_recomputed_values_give_the_gradient(jit):
    a = np.array([0.3, -0.7, 1.1, 0.4])
    check_grad(taped, [0.6, a], wrt=0, jit=jit)
    check_grad(in_a_while, [1.3], wrt=0, jit=jit)
    check_grad(shifted, [0.6, a], wrt=0, jit=jit)
    check_grad(lengths, [0.6, a], wrt=(0, 1), jit=jit)
    check_grad(lengths_of_a_rebound_array, [0.6, a], wrt=(0, 1), jit=jit)


def scaled_tail(a, t):
    buf = np.copy(a)
    buf[1:] *= np.sin(t)        # reads the view buf[1:], then writes it
    return np.sum(buf * 2.0)


def scaled_in_a_loop(a, t):
    buf = np.copy(a)
    for i in range(3):
        buf[::-1] *= np.sin(t * (i + 1))
    return np.sum(buf * 2.0)


def scaled_in_a_branch(a, t):
    buf = np.copy(a)
    for i in range(3):
        if i > 0:
            buf[1:] *= np.tanh(t + i)
    return np.sum(buf * buf)


def scaled_in_a_while(a, t):
    buf = np.copy(a)
    c = 0.0
    while c < 2.0:
        buf[::-1] *= np.tanh(t + c)
        c = c + 1.0
    return np.sum(buf * buf)


def test_a_view_the_backward_sweep_reads_restores_its_array_and_is_taken_again():
    # the backward sweep takes the view again after undoing the write: it never reads a view after a write to
    # its array (a gradient differentiated again passes the aliasing check)
    lines = _lines(reverse_sweeps(scaled_tail, ["a", "t"], {"a": A, "t": F}))
    assert "buf_old = rt.copy(buf[1:])" in lines
    assert lines.index("buf[1:] = buf_old") < lines.index("buf1 = buf[1:]", lines.index("# backward sweep"))
    loop = _lines(reverse_sweeps(scaled_in_a_loop, ["a", "t"], {"a": A, "t": F}))
    assert not any("buf1_stack" in line for line in loop)       # taken again, not kept on a stack
    loop = _lines(reverse_sweeps(scaled_in_a_while, ["a", "t"], {"a": A, "t": F}))
    assert not any("buf1_stack" in line for line in loop)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [scaled_tail, scaled_in_a_loop, scaled_in_a_branch, scaled_in_a_while])
def test_views_of_written_arrays_give_the_gradient(f, jit):
    # before: buf was not restored (the backward sweep read the view buf1, not buf), so the adjoint of
    # `buf1 * sin(t)` read the new contents: d/dt wrong with no error (scaled_tail, and scaled_in_a_loop in Python)
    check_grad(f, [np.array([0.3, -0.7, 1.1]), 0.6], wrt=(0, 1), jit=jit)


def column_copied_in_a_loop(a, M):
    buf = np.copy(M)
    for i in range(2):
        buf[:, 0] = buf[:, i]       # the view buf[:, i], stored (read for its shape), is what the write writes
    return np.sum(buf * a)


def test_a_stored_view_of_an_array_written_later_is_pushed_where_it_is_bound():
    """(nested fuzz seed 390249) pushed at the end of the body, the view was read after the write to its array,
    and the aliasing check declined the gradient differentiated again, naming a line of the generated file. (The
    kinds unknown, as in the gradient a penalty differentiates: the adjoint of the write unbroadcasts to its shape.)"""
    lines = _lines(reverse_sweeps(column_copied_in_a_loop, ["a", "M"], {}))
    k = lines.index("buf1 = buf[:, i]")
    assert lines[k + 1] == "buf1_stack.append(buf1)" and "buf[:, 0] = buf1" in lines[k + 2:], lines


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_view_pushed_where_it_is_bound_gives_the_gradient(jit):
    check_grad(column_copied_in_a_loop, [np.array([0.3, -0.2]), np.array([[0.1, 0.2], [0.3, -0.4]])], jit=jit)


def rnn(w, h, n):
    s = 0.0
    for i in range(n):
        h = np.tanh(w * h) + 0.1 * h      # h (read by 0.1 * h's adjoint) and its next value (read by the sum's)
        s = s + np.sum(h ** 2)
    return s


def scalar_carry(a, x):
    s = 0.5
    t = 0.0
    for i in range(x.shape[0]):
        s = s * np.cos(a * s) + x[i]      # s's next value is read by t's adjoint, s by cos's
        t = t + s * s
    return t


def carried_in_an_outer_loop(w, h, n):
    s = 0.0
    for k in range(2):
        for i in range(n):
            h = np.tanh(w * h) + 0.1 * h
            s = s + np.sum(h ** 2)
    return s


def carried_with_a_break(w, h, n):
    s = 0.0
    for i in range(n):
        if s > 3.0:
            break
        h = np.tanh(w * h) + 0.1 * h
        s = s + np.sum(h ** 2)
    return s


def carried_and_written(w, h, n):
    s = 0.0
    for i in range(n):
        h = np.tanh(w * h) + 0.1 * h
        h[0] = h[0] * w                   # written in place: its next value is not its tape's next row
        s = s + np.sum(h ** 2)
    return s


def test_a_carried_value_is_kept_once_a_step_not_with_its_next_value():
    """`h = f(h)`: the iteration's last value of h is the next iteration's first, which the backward sweep has just
    taken from h's tape (or, for the last iteration, h after the loop): one state a step is kept, not two."""
    sw = reverse_sweeps(rnn, ["w"], {"w": F, "h": A, "n": ("s", "i")})
    lines = _lines(sw)
    kept = set(sw.stacks.values())
    assert "h" in kept and "h2" in kept and "h4" not in kept   # h and tanh's value; not h's next
    backward = lines[lines.index("# backward sweep"):]
    assert backward.index("h4 = h") < backward.index(f"h = {_stack_of(sw, 'h')}.pop()")
    scalar = reverse_sweeps(scalar_carry, ["a"], {"a": F, "x": A})
    assert sorted(scalar.tapes) == ["s1_tape", "s2_tape", "s_tape"] and not scalar.stacks   # not s5, s's next value
    assert "s5 = s" in _lines(scalar)
    for f in (carried_in_an_outer_loop, carried_with_a_break, carried_and_written):
        sw = reverse_sweeps(f, ["w"], {"w": F, "h": A, "n": ("s", "i")})
        assert "h4 = h" not in _lines(sw), f.__name__    # where something else may change h in between: kept


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_carried_values_give_the_gradient(jit):
    h = np.array([0.3, -0.7, 1.1, 0.4])
    for f in (rnn, carried_in_an_outer_loop, carried_with_a_break, carried_and_written):
        for n in (0, 1, 5):
            got = check_grad(f, [0.6, h, n], wrt=(0, 1), jit=jit)
            python = srcdiff.grad(f, wrt=(0, 1))(0.6, h, n)
            for k in (1, 2):     # checkpointed: within a segment, whose rerun leaves h at the next segment's start
                checkpointed = srcdiff.grad(f, wrt=(0, 1), jit=jit, checkpoints=k)(0.6, h, n)
                for g, c, p in zip(got, checkpointed, python):
                    np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-14)
                    np.testing.assert_allclose(c, p, rtol=1e-12, atol=1e-14)
    check_grad(scalar_carry, [0.6, h], wrt=(0, 1), jit=jit)


def logistic_growth(a, b, y, n):
    loss = 0.0
    for t in range(n):
        y = y + 0.01 * (a * y - b * y ** 2)     # y ** 2 is read by b's adjoint: one multiply away from y
        loss = loss + np.sum(y ** 2)
    return loss


def squared_then_written(a, b, y, n):
    loss = 0.0
    for t in range(n):
        q = y * y                               # y is written below: q is kept, not computed again
        y = y + 0.01 * (a * y - b * q)
        y[0] = y[0] * 0.5
        loss = loss + np.sum(y ** 2)
    return loss


def test_an_array_one_multiply_from_a_kept_value_is_computed_again_not_kept():
    sw = reverse_sweeps(logistic_growth, ["a", "b"], {"a": F, "b": F, "y": A, "n": ("s", "i")})
    assert set(sw.stacks.values()) == {"y"}, sw.stacks             # one state a step: y; not y ** 2, not the next y
    lines = _lines(sw)
    backward = lines[lines.index("# backward sweep"):]
    assert "y2 = y ** 2" in backward
    assert backward.index(f"y = {_stack_of(sw, 'y')}.pop()") < backward.index("y2 = y ** 2")
    kept = reverse_sweeps(squared_then_written, ["a", "b"], {"a": F, "b": F, "y": A, "n": ("s", "i")})
    assert "q" in kept.stacks.values()


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_arrays_computed_again_give_the_gradient(jit):
    y = np.array([0.3, -0.7, 1.1, 0.4])
    for f in (logistic_growth, squared_then_written):
        for n in (0, 1, 6):
            got = check_grad(f, [1.5, 0.7, y, n], wrt=(0, 1, 2), jit=jit)
            for k in (None, 2):
                other = srcdiff.grad(f, wrt=(0, 1, 2), jit=not jit, checkpoints=k)(1.5, 0.7, y.copy(), n)
                for g, o in zip(got, other):
                    np.testing.assert_allclose(g, o, rtol=1e-12, atol=1e-14)


# ---- a gradient differentiated again: the inner backward loop's restores ----------------------------------------
def rows_of_a_fancy_read(x, M):
    ys = np.ones(4)
    for t in range(4):
        rows = np.array([[t, 1, 3 - t, 3 - t], [2, t, 0, 1]])[None]
        ys[t - 1] = -0.7 * ys[t] + np.sum(np.tanh(M[np.arange(2)[:, None, None], rows]))
    return x * np.sum(ys * np.arange(1.0, 5.0))


def penalty_of_fancy_rows(x, M):
    gx, gM = srcdiff.grad(rows_of_a_fancy_read, wrt=(0, 1))(x, M)
    return gx * gx + np.sum(gM * gM)


def test_restores_that_the_next_backward_loop_pops_again_are_not_kept():
    """Nested fuzz seed 30: the outer gradient kept, in the loop that runs the inner backward sweep, the names that
    loop pops from the inner stacks (their restores), on the stack of the inner forward loop's values of those
    names; its own backward sweep popped them and read none (the next loop pops those names again), and a stack of
    the values the loop computes only to be read for their shape (`1.0 - t * t` beside `rt.sum_grad(g, t)`).
    Numba ran past 180 s compiling the outer gradient of seed 30 (2 439 lines, 183 pushes); each loop's stores now
    have a stack of their own, and a stack none of whose pops is read goes."""
    M = np.random.default_rng(3).normal(size=(2, 4))
    g = srcdiff.grad(penalty_of_fancy_rows, wrt=(0, 1))
    got = g(0.3, M)
    src = srcdiff.source(g)
    pushes = [line for line in src.splitlines() if ".append(" in line and not line.strip().startswith("#")]
    assert len(pushes) <= 17, src        # 20 before: 3 restores, 1 value kept for its shape
    for k, want in enumerate((numerical_grad(penalty_of_fancy_rows, [0.3, M], 0),
                              numerical_grad(penalty_of_fancy_rows, [0.3, M], 1))):
        np.testing.assert_allclose(got[k], want, rtol=1e-5, atol=1e-6)


def walk(pairs, s):
    t = s
    for w, v in pairs:
        t = 0.5 * t + 0.1 * np.sum(np.tanh(w @ v + t))
    return t


def walked_in_a_loop(x, a, M):
    for i in range(3):
        if i > 0:
            x = walk(((M, a), (M * x, np.tanh(a))), x)
        else:
            x = x * 0.5
    return x


def written_then_walked(x, a, M):
    b = np.copy(a)
    for t in range(1, 3):
        b[t] = b[t] * 0.5 + np.sin(b[t - 1] * x)
    for i in range(3):
        if i > 0:
            x = walk(((M, b), (M * x, np.tanh(b))), x)
    return x


def penalty_of_walked_in_a_loop(x, a, M):
    gx, ga, gM = srcdiff.grad(walked_in_a_loop, wrt=(0, 1, 2))(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)


def _pushed(g) -> list:
    code = "\n".join(line for line in srcdiff.source(g).splitlines() if not line.strip().startswith("#"))
    return re.findall(r"(\w+)\.append\(", code)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_copies_of_unchanging_names_are_taken_again_not_stored(jit):
    """A helper inlined into a loop binds its parameters to the caller's arrays (`w = M`, `v = a`) and to values
    of the block (`w1 = pairs1`): each was stored every iteration beside the array it copies (7 pushes a step, 4
    or 5 now; differentiated again 68 -> 60: nested fuzz seed 1008231). The backward sweep binds the copy again
    from the array nothing changes, or from the value it stores anyway."""
    x, a, M = 0.3, np.array([0.4, -0.2, 0.7]), np.array([[0.5, 0.1, 0.3], [-0.3, 0.8, 0.2]])
    g = srcdiff.grad(walked_in_a_loop, wrt=(0, 1, 2), jit=jit)
    got = g(x, a.copy(), M.copy())
    for k in range(3):
        np.testing.assert_allclose(got[k], numerical_grad(walked_in_a_loop, [x, a, M], k), rtol=1e-6, atol=1e-8)
    assert len(_pushed(g)) <= 5 and not {"w_stack", "v_stack"} & set(_pushed(g)), _pushed(g)   # (7 before)
    if not jit:
        h = srcdiff.grad(penalty_of_walked_in_a_loop, wrt=(0, 1, 2))
        got = h(x, a.copy(), M.copy())
        for k in range(3):
            np.testing.assert_allclose(got[k], numerical_grad(penalty_of_walked_in_a_loop, [x, a, M], k),
                                       rtol=1e-5, atol=1e-7)
        assert len(_pushed(h)) <= 60      # (68 before)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_copy_of_an_array_written_only_before_its_loop_is_taken_again(jit):
    """`v1 = b` (walk's parameter) in a loop after the loop that writes into b: b holds the same values wherever
    the backward sweep reads v1 (it undoes the writes later, in the first loop's backward block): not stored."""
    x, a, M = 0.3, np.array([0.4, -0.2, 0.7]), np.array([[0.5, 0.1, 0.3], [-0.3, 0.8, 0.2]])
    g = srcdiff.grad(written_then_walked, wrt=(0, 1, 2), jit=jit)
    got = g(x, a.copy(), M.copy())
    for k in range(3):
        np.testing.assert_allclose(got[k], numerical_grad(written_then_walked, [x, a, M], k), rtol=1e-6, atol=1e-8)
    assert "v_stack" not in _pushed(g) and len(_pushed(g)) <= 5, _pushed(g)     # (v = b was stored)


def tanh_steps_in_a_branch(x, a):
    s = a
    for i in range(3):
        if s[0] > -5.0:
            s = np.tanh(s * x) + a
    return np.sum(s * s)


def penalty_of_tanh_steps(x, a):
    ga = srcdiff.grad(tanh_steps_in_a_branch, wrt=1)(x, a)
    return np.sum(ga * ga)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_carried_adjoint_restarts_in_its_class_not_from_a_stored_value(jit):
    """The inner gradient's backward loop pops `s` in a branch and carries it; the outer backward block restarted
    the carried adjoint as `rt.zeros_like(s)`, so its forward sweep stored `s` every iteration for its shape alone
    (and `s2`, `d_s6`). A popped value has the labels of the values pushed (dims.py), so `s` is in `a`'s shape class
    and the zero is `rt.zeros_like(a)` (nested fuzz seed 1008231: the outer gradient 1 719 -> 1 619 lines, 241 ->
    229 pushes)."""
    x, a = 0.7, np.array([0.3, -0.4, 0.5])
    h = srcdiff.grad(penalty_of_tanh_steps, wrt=(0, 1), jit=jit)
    got = h(x, a.copy())
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(penalty_of_tanh_steps, [x, a], k), rtol=1e-5, atol=1e-7)
    assert len(_pushed(h)) <= 13 and not {"s_stack2", "s2_stack2"} & set(_pushed(h)), _pushed(h)    # (16 before)
