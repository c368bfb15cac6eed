"""transforms/aliasing.py: an augmented assignment on an array (`a += v`) writes a's memory in place, so a
name bound to that memory before it (a second name, a slice, the array a `for` loop walks) sees the new
contents. Reverse mode treats each SSA value as its own array, so such a read is declined with a
SrcdiffError at the user's line; they were silently wrong gradients (`b = a; a += a; sum(b * b)` gave 2a
for 8a). Augmented assignments without such a read are differentiated, checked against central differences
on both backends."""
import inspect

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
X = np.array([0.3, -0.7, 1.2])


def second_name(a):
    b = a
    a += a   # <- second_name
    return np.sum(b * b)


def slice_view(a):
    v = a[0:2]
    v += 1.0   # <- slice_view
    return np.sum(a * a)


def walked_and_rebound(a):
    b = a * 1.0
    for e in b:
        b += e   # <- walked_and_rebound
        b = b * 2.0
    return np.sum(b)


def _line(tag):
    import sys
    src, start = inspect.getsourcelines(sys.modules[__name__])
    return next(i for i, line in enumerate(src, 1) if f"# <- {tag}" in line)


@JIT
@pytest.mark.parametrize("f, tag, words", [
    (second_name, "second_name", "`b` shares memory with `a`"),
    (slice_view, "slice_view", "`a` shares memory with `v`"),
    (walked_and_rebound, "walked_and_rebound", "the loop over `b` walks"),
], ids=["second_name", "slice_view", "walked_and_rebound"])
def test_read_of_memory_an_augmented_assignment_wrote_is_declined(f, tag, words, jit):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f, jit=jit)(X.copy())
    msg = str(info.value)
    assert f"test_aliasing.py:{_line(tag)}" in msg, msg
    assert words in msg and "seq" not in msg, msg


def copy_then_add(a):
    b = a * 1.0
    a2 = a * 3.0
    a2 += b
    return np.sum(a2 * b)


def accumulate_in_loop(a):
    s = a * 1.0
    for i in range(3):
        s += a * (i + 1.0)
    return np.sum(s * s)


def walked_in_place(a):
    b = a * 1.0
    t = 0.0
    for e in b:
        b += e      # the loop reads the new contents, as Python's iterator does
        t = t + np.sum(b) * e
    return t


def parameter_rebound_then_in_place(x):
    x = x * 1.0
    x += 1.0
    return np.sum(x * x)


@JIT
@pytest.mark.parametrize("f", [copy_then_add, accumulate_in_loop, walked_in_place, parameter_rebound_then_in_place],
                         ids=lambda f: f.__name__)
def test_augmented_assignment_without_a_stale_read(f, jit):
    value, g = srcdiff.value_and_grad(f, jit=jit)(X.copy())
    np.testing.assert_allclose(value, f(X.copy()), rtol=1e-12)
    np.testing.assert_allclose(g, numerical_grad(lambda a: f(a.copy()), [X.copy()], 0), rtol=1e-5, atol=1e-8)


# ---- moved from test_errors.py: what the aliasing check accepts -------------------------------------
def test_views_made_after_the_write_are_differentiated():
    """The recurrence idiom reads a row view of the array it writes: made after each write, allowed."""
    from gradcheck import check_grad

    def rows(w):
        x = np.zeros((4, 2))
        x[0] = w
        for t in range(1, 4):
            prev = x[t - 1]
            x[t] = np.sin(prev) + w
        head = x[:2]
        return np.sum(x[3] ** 2) + np.sum(head)

    check_grad(rows, [np.array([0.3, 0.7])], wrt=0)
    check_grad(rows, [np.array([0.3, 0.7])], wrt=0, jit=True)


@pytest.mark.parametrize("name", ["rebind_in_loop", "branch_arrays", "double_buffer", "write_then_view",
                                  "carried_buffer"])
def test_aliasing_check_accepts(name):
    import alias_patterns
    from gradcheck import numerical_grad
    f = getattr(alias_patterns, name)
    args = [0.7, np.array([0.3, -0.4, 0.9])]
    got = srcdiff.grad(f, wrt=(0, 1))(*args)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(f, args, k), rtol=1e-5, atol=1e-7)


def early_return_then_written_copy(x, a, M):
    if np.sum(a) > -0.7:
        if x > 2.0:
            if a[0] > 2.0:
                return np.sum(M)
            a = x + a
        else:
            if a[0] > 2.0:
                return np.mean(a)
    buf = a.copy()
    buf[0] = np.sum(M[0] * x)
    return np.sum(buf * buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_ssa_versions_of_a_written_array_are_not_aliases(jit):
    """Branch merges and loop copies that SSA makes of one array (here around early returns) are
    versions of one variable, not views: not declined (fuzz seed 71647 was)."""
    from gradcheck import check_grad
    check_grad(early_return_then_written_copy, [0.4, np.array([0.3, -0.8, 1.1]), np.array([[0.2, 0.5], [1.0, -0.4]])],
               wrt=(0, 1, 2), jit=jit)


# ---- views made by calls: each was a silently wrong gradient (redteam) -------------------------------------
VIEW_FORMS = ["np.atleast_2d(B)", "np.atleast_1d(B[0])", "np.broadcast_to(B, (2, 2, 3))", "np.swapaxes(B, 0, 1)",
              "B.swapaxes(0, 1)", "np.moveaxis(B, 0, 1)", "np.flip(B)", "np.array(B, copy=False)",
              "np.array(B, copy=None)"]


def _view_program(form):
    from gradcheck import source_module
    src = ("import numpy as np\n\n\ndef f(x, M):\n    B = M * x\n    r = " + form + "\n"
           "    B[0, 1] = 5.0 * x   # <- write\n    return np.sum(r * r) + np.sum(B)\n")
    return source_module("view_" + "".join(c if c.isalnum() else "_" for c in form), src).f


@pytest.mark.parametrize("form", VIEW_FORMS)
def test_a_view_made_by_a_call_then_written_through_its_array_is_declined(form):
    """np.atleast_2d(B) of a matrix is B; np.broadcast_to, np.swapaxes, np.moveaxis and np.flip return views and
    np.array(B, copy=False) is B: the write into B changes r. The gradient treated r as its own array (d/dx 10.0
    for 42.8 with atleast_2d); the aliasing check now knows these calls (after canonicalize: rt.atleast_1d,
    rt.atleast_2d, rt.atleast_nd, rt.reshape_like; copy=False or None makes np.array np.asarray)."""
    f = _view_program(form)
    with pytest.raises(srcdiff.SrcdiffError, match="`r` shares memory with `B`") as info:
        srcdiff.grad(f, wrt=(0, 1))(0.8, np.array([[0.3, 0.5, -1.1], [0.4, 0.9, 0.2]]))
    assert ".py:7:" in str(info.value)     # the write's line


@JIT
@pytest.mark.parametrize("form", ["np.tile(B, 1)", "np.tile(B, (1, 1))", "np.array(B, copy=True)"])
def test_copies_made_by_calls_are_their_own_arrays(form, jit):
    """np.tile with every rep 1 copies (its composite gave rt.atleast_1d(B), B itself: the generated code's r saw
    the write, a wrong value 17.1 for 10.2 and a wrong gradient); np.array(copy=True) copies."""
    f = _view_program(form)
    args = [0.8, np.array([[0.3, 0.5, -1.1], [0.4, 0.9, 0.2]])]
    value, got = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(f, args, k), rtol=1e-6, atol=1e-7)


def zeros_in_a_branch(a, x):
    if x > 0:
        u = a * 2.0
        d = a * 3.0
    else:
        u = np.zeros_like(a)
        d = np.zeros_like(a)
    d[1] += x
    return np.sum(u * u) + np.sum(d * d * a) + x


@JIT
@pytest.mark.parametrize("x", [-0.5, 0.7])
def test_equal_fresh_arrays_written_after_a_merge_stay_two(x, jit):
    """Two equal fresh arrays in a branch (`u = np.zeros_like(a)`, `d = np.zeros_like(a)`), one written in place
    after the branch merges it (`d[1] += x`): common-subexpression elimination made them one array, as the write
    is to d's merged SSA version, not the branch's own, and the aliasing check then declined the user's line
    ('`u2` shares memory with `d4`'). Found in a gradient srcdiff generated (its adjoints' zeros in a branch, one
    written after it), differentiated again: nested fuzz seed 610069. The versions a merge or loop copy passes on
    to a written name are written too (sharing_written_memory)."""
    a = np.array([0.3, -0.2, 0.5])
    value, got = srcdiff.value_and_grad(zeros_in_a_branch, wrt=(0, 1), jit=jit)(a, x)
    assert value == pytest.approx(zeros_in_a_branch(a.copy(), x), rel=1e-13)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(zeros_in_a_branch, [a, x], k), rtol=1e-6, atol=1e-7)


def swap_written_swap_back(a, M):
    """Two buffers swapped, the one that was `other` written in place, swapped back: the object `other` names at
    the next iteration's read (`np.tanh(other * s)`) was written after that read in the iteration before."""
    buf, other = a * 1.0, np.zeros(4)
    for row in M:
        buf, other = other, 0.5 * buf + 0.5 * np.tanh(other * np.sum(a * 0.5))
        buf[0] = buf[0] * 1.1 + 0.1
        buf, other = other, buf
    return np.sum(buf * buf) + np.sum(other)


@JIT
@pytest.mark.parametrize("checkpoints", [None, 1])
def test_memory_shared_around_a_swap_in_a_loop(jit, checkpoints):
    """SSA's copies of a swap in a loop form a cycle (`buf2 = other; ...; other = buf3` through the loop's phis):
    memory_roots gave each name of the cycle its own root, so the backward sweep read `other` as the in-place
    write left it, not as the iteration read it (every gradient entry 0.031 off; fuzz 766231, also with
    checkpoints and under Numba). One root for the cycle restores the written element before that read's adjoint."""
    a = np.array([0.976766, 1.92694566, -1.65358999, 0.75407001])
    M = np.ones((2, 4))
    g = srcdiff.grad(swap_written_swap_back, wrt=0, jit=jit, checkpoints=checkpoints)(a, M)
    np.testing.assert_allclose(g, numerical_grad(swap_written_swap_back, [a, M], 0), rtol=1e-6, atol=1e-8)


def _view_of_a_rebound_array(x):
    y = x.copy()
    s = 0.0
    for i in range(2):
        y = y * 2.0
        v = y[:2]
        y[0] = 1.0
        s = s + np.sum(v)
    return s


def test_decline_names_the_users_variables():
    """The message names `y`, the user's variable, not `y1`, the version SSA made of it (SSA_VERSIONS)."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"`v` shares memory with `y`, which(.|\n)*index `y` again"):
        srcdiff.grad(_view_of_a_rebound_array)(np.ones(3))


def _writes_a_tuples_item_unpacked(x, a):
    st = (x * 1.0, a)
    b, c = st
    b[0] = a * c
    return np.sum(st[0] * x)


def test_a_decline_spells_a_tuples_item_as_the_user_does():
    """An item of a local tuple is `st[0]` in the message, not srcdiff's component name `st_at0`, and the advice does
    not name `st1`, the temporary srcdiff bound `x * 1.0` to ("write into `st1` itself instead of through `b`")."""
    x = np.array([0.3, -0.5, 0.8])
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.grad(_writes_a_tuples_item_unpacked, wrt=(0, 1))(x, 0.7)
    text = str(err.value)
    assert "`st[0]` shares memory with `b`" in text
    assert "make `b` a copy" in text
    assert "st_at0" not in text and "st1" not in text
    # (forward mode follows the write: jvp is right)
    value, d = srcdiff.jvp(_writes_a_tuples_item_unpacked, wrt=(0, 1))(x, 0.7, (np.eye(3)[0], 1.0))
    assert value == pytest.approx(_writes_a_tuples_item_unpacked(x.copy(), 0.7), rel=1e-12)
    want = numerical_grad(_writes_a_tuples_item_unpacked, [x.copy(), 0.7], 0)[0] + \
        numerical_grad(lambda a: _writes_a_tuples_item_unpacked(x.copy(), a), [0.7], 0)
    assert d == pytest.approx(want, rel=1e-6)


def _unpacks_a_view_beside_a_write(x, z):
    a = x * 1.0
    b = z * 1.0
    a[:2], b = b[:2], a[:2]
    return np.sum(a * np.arange(1.0, 5.0)) + np.sum(b * b * 3.0)


def test_a_decline_spells_an_unpacked_name_as_the_user_does():
    """`a[:2], b = b[:2], a[:2]` binds b to a view of a, then writes a: the decline named `b1` (desugar's
    temporary for b, a name the user never wrote: "`b1` shares memory with `a`", "make `b1` a copy"); it names b.
    Forward mode follows the write: jvp = central differences."""
    x, z = np.arange(1.0, 5.0), np.array([0.5, -1.0, 2.0, 0.3])
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.grad(_unpacks_a_view_beside_a_write, wrt=(0, 1))(x, z)
    text = str(err.value)
    assert "`b` shares memory with `a`" in text and "make `b` a copy" in text
    assert "b1" not in text
    v = (np.array([0.2, -0.4, 1.0, 0.7]), np.array([1.0, 0.3, -0.6, 0.1]))
    value, d = srcdiff.jvp(_unpacks_a_view_beside_a_write, wrt=(0, 1))(x, z, v)
    assert value == pytest.approx(_unpacks_a_view_beside_a_write(x, z), rel=1e-12)
    want = sum(np.sum(numerical_grad(_unpacks_a_view_beside_a_write, [x, z], k) * v[k]) for k in (0, 1))
    assert d == pytest.approx(want, rel=1e-6)


def _scale_first(v, a):
    v[0] = v[0] * a + 1.0


def writes_a_view_in_a_helper(x, a):
    u = x.copy()
    _scale_first(u[2:], a)
    return np.sum(u ** 2)


def _bump(buf, i, v):
    buf[i] += v * v


def bumps_a_slice(x, a):
    buf = np.zeros(len(x))
    for i in range(len(x) - 1):
        _bump(buf[1:], i, x[i] * a)
    return np.sum(buf * x)


def test_a_view_passed_to_a_helper_that_writes_it_names_the_helper():
    # the argument's A-normal-form name was `arg`, which the user never wrote ("`u` shares memory with `arg`"); then
    # the helper's parameter, renamed where it is the caller's name too ("`buf` shares memory with `buf2`" and the
    # advice "make `buf2` a copy"): the message names the helper and the caller's array
    with pytest.raises(srcdiff.SrcdiffError, match=r"`_scale_first` \(inlined at this call\) writes in place into "
                                                   r"memory that `u` shares(.|\n)*hint: pass `_scale_first` the whole"):
        srcdiff.grad(writes_a_view_in_a_helper)(np.ones(4), 0.5)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_aliasing\.py:\d+: `_bump` \(inlined at this call\) writes "
                                                   r"in place into memory that `buf` shares") as info:
        srcdiff.grad(bumps_a_slice, wrt=1)(np.ones(4), 0.5)
    assert "buf2" not in str(info.value)


def _doubled(a, s):
    s *= 2.0
    return a * s


def scales_a_sum_in_a_helper(x, a):
    y = x + 0.1
    return np.sum(_doubled(a, y)) + y


def _tanh_scaled(pk):
    p0, = pk
    p0 *= np.tanh(p0)
    return np.square(p0)


def scales_an_item_of_a_tuple_in_a_helper(x, a):
    y = 0.5 * x
    return np.sum(a) * _tanh_scaled((y,)) + y


def scales_its_argument_in_a_helper(x, a):
    return np.sum(_doubled(a, x)) + x


@JIT
@pytest.mark.parametrize("f", [scales_a_sum_in_a_helper, scales_an_item_of_a_tuple_in_a_helper])
def test_a_helper_scaling_a_0d_result_in_place_rebinds_it(f, jit):
    """`s *= 2.0` in a helper of a 0-d value computed from a 0-d array argument (`y = x + 0.1`: NumPy gives an
    np.float64, immutable, so `*=` rebinds it) was declined as 'writes in place into memory that `y` shares' (fuzz
    seed 2675, x called as a 0-d array): differentiated, against central differences and jvp."""
    a = np.array([0.3, -0.7, 1.2])
    value, (gx, ga) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(np.array(0.7), a)
    assert value == pytest.approx(f(0.7, a), rel=1e-12)
    assert gx == pytest.approx(numerical_grad(lambda x: f(x, a), [0.7], 0), rel=1e-6)
    np.testing.assert_allclose(ga, numerical_grad(lambda v: f(0.7, v), [a], 0), rtol=1e-6, atol=1e-8)
    _, d = srcdiff.jvp(f, wrt=0, jit=jit)(np.array(0.7), a, 1.0)
    assert d == pytest.approx(gx, rel=1e-9)


def test_a_helper_scaling_a_0d_array_argument_in_place_is_still_declined():
    """The 0-d array argument itself is an array: `s *= 2.0` of it writes into the caller's memory (Python's
    result then reads the doubled x), which srcdiff does not follow: still declined."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_aliasing.py:\d+: `_doubled` \(inlined at this call\) writes "
                                                   r"in place into memory that `x` shares"):
        srcdiff.grad(scales_its_argument_in_a_helper)(np.array(0.7), np.ones(3))


# ---- `x += y` of an array argument: Python writes the caller's array ------------------------------------------
def adds_into_its_argument(x, y):
    x += y   # <- adds_into_its_argument
    return np.sum(x * y)


def scales_its_argument_in_a_loop(x, y):
    for _ in range(2):
        x *= 0.5   # <- scales_its_argument_in_a_loop
    return np.sum(x * y)


def adds_through_a_second_name(x, y):
    z = x
    z -= y   # <- adds_through_a_second_name
    return np.sum(z * y)


def _scaled_in_place(p):
    p *= 2.0   # <- _scaled_in_place
    return p


def scales_through_a_helper_its_result(x, y):
    return np.sum(_scaled_in_place(x) * y)


def adds_into_a_float_argument(s, y):
    s += np.sum(y)
    return s * np.sum(y)


@JIT
@pytest.mark.parametrize("f, name, op", [(adds_into_its_argument, "x", "+"), (scales_its_argument_in_a_loop, "x", "*"),
                                         (adds_through_a_second_name, "z", "-"),
                                         (scales_through_a_helper_its_result, "p", "*")],
                         ids=lambda v: getattr(v, "__name__", None))
def test_an_update_of_an_array_argument_in_place_is_declined(f, name, op, jit):
    """`def f(x, y): x += y` changes the caller's array in Python; srcdiff computed `x = x + y`, a new array, and
    left it as it was (value_and_grad's value that of f on a copy): silently unlike f, in both backends and in
    grad, value_and_grad and jvp. Declined at the line, with the rebinding to write; a float argument is fine."""
    line = _line(f.__name__ if f is not scales_through_a_helper_its_result else "_scaled_in_place")
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.7, -1.0, 2.0])
    calls = (lambda: srcdiff.grad(f, jit=jit)(x, y), lambda: srcdiff.grad(f, wrt=1, jit=jit)(x, y),
             lambda: srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(x, y),
             lambda: srcdiff.jvp(f, wrt=(0, 1), jit=jit)(x, y, (np.ones(3), np.ones(3))))
    for call in calls:
        with pytest.raises(srcdiff.SrcdiffError, match=rf"test_aliasing.py:{line}: `{name} \{op}= \.\.\.` writes in "
                                                       rf"place into the array argument `x`(?s:.*)write `{name} = "
                                                       rf"{name} \{op} \.\.\.` to leave the caller's array alone"):
            call()
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    value, g = srcdiff.value_and_grad(adds_into_a_float_argument, wrt=(0, 1), jit=jit)(1.5, y)
    assert value == pytest.approx(adds_into_a_float_argument(1.5, y), rel=1e-12)
    np.testing.assert_allclose(g[1], numerical_grad(adds_into_a_float_argument, [1.5, y], 1), rtol=1e-6)


def _diagonal_program(form):
    from gradcheck import source_module
    src = ("import numpy as np\n\n\ndef f(x, M):\n    B = M * 1.0\n    v = " + form + "\n"
           "    B[1, 1] = 5.0 * x   # <- write\n    return np.sum(v * v) + np.sum(B)\n")
    return source_module("diagonal_" + "".join(c if c.isalnum() else "_" for c in form), src).f


@pytest.mark.parametrize("transform", ["grad", "jvp"])
@JIT
@pytest.mark.parametrize("form", ["np.diagonal(B)", "np.diag(B)", "B.diagonal()", "np.diagonal(B, offset=0)"])
def test_a_diagonal_read_after_a_write_into_its_matrix_is_declined(form, jit, transform):
    """np.diagonal(B), np.diag(B) and B.diagonal() of a matrix are NumPy's (read-only) views of its diagonal: the
    write into B[1, 1] changes v. The gradient took v for a copy (d/dx 0.0 for 25.0 at x = 0.5); jvp followed the view
    under jit=False, but Numba's np.diag copies: under jit=True jvp gave the value 17.0 for f's 7.25 and the derivative
    0.0 for 25.0 (h29d). Declined at the write, in both modes and backends."""
    f = _diagonal_program(form)
    M = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(srcdiff.SrcdiffError, match="`v` shares memory with `B`") as info:
        if transform == "grad":
            srcdiff.grad(f, wrt=0, jit=jit)(0.5, M)
        else:
            srcdiff.jvp(f, wrt=0, jit=jit)(0.5, M, 1.0)
    assert ".py:7:" in str(info.value)     # the write's line


def diagonal_of_a_vector(x, a):
    b = a * 1.0
    v = np.diag(b)      # (of a vector: a new matrix)
    b[0] = x * 3.0
    w = np.diagonal(np.outer(b, a))     # (a view of a new matrix nothing writes)
    return np.sum(v * v) + np.sum(b * b) + np.sum(w * w)


@JIT
def test_a_diagonal_matrix_of_a_vector_is_its_own_array(jit):
    args = [0.5, np.array([1.0, 2.0])]
    value, got = srcdiff.value_and_grad(diagonal_of_a_vector, wrt=(0, 1), jit=jit)(*args)
    np.testing.assert_allclose(value, diagonal_of_a_vector(*args), rtol=1e-12)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(diagonal_of_a_vector, args, k), rtol=1e-6, atol=1e-7)
    val, dot = srcdiff.jvp(diagonal_of_a_vector, wrt=(0, 1), jit=jit)(*args, (1.0, np.array([0.5, -1.0])))
    np.testing.assert_allclose(val, value, rtol=1e-12)
    np.testing.assert_allclose(dot, got[0] + np.dot(got[1], [0.5, -1.0]), rtol=1e-10)


def flipped_transpose(x, M):
    B = (M * 1.0).T      # (Fortran-ordered: np.ravel(B) copies)
    v = np.flip(B)
    B[0, 1] = 5.0 * x
    return np.sum(v * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))


@JIT
def test_jvp_of_a_flip_read_after_a_write_into_its_array_is_declined(jit):
    """np.flip(B) is NumPy's view of B, written out as rt.reshape_like(np.ravel(B)[::-1], B) (rules/composites.py), a
    view only where B is C-contiguous. Forward mode follows views, and read the old values after the write into B
    through its transpose: jvp's value 40.0 for f's 37.5, its derivative 0.0 for 25.0 at x = 0.5 (h29d). grad already
    declined it; now jvp does, at the write."""
    M = np.arange(6.0).reshape(2, 3)
    assert flipped_transpose(0.5, M.copy()) == 37.5
    with pytest.raises(srcdiff.SrcdiffError, match="`v` shares memory with `B`") as info:
        srcdiff.jvp(flipped_transpose, wrt=0, jit=jit)(0.5, M.copy(), 1.0)
    assert f"test_aliasing.py:{inspect.getsourcelines(flipped_transpose)[1] + 3}:" in str(info.value)   # the write


def rolled_then_written(x, M):
    B = (M * 1.0).T      # (Fortran-ordered, as above)
    R = np.roll(B, 1)    # a new array: the write below does not reach it
    B[0, 1] = 5.0 * x
    R2 = np.roll(B, -2)  # taken after the write: reads the new B
    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    return np.sum(R * W) + np.sum(R2 * R2 * W) * x


@JIT
def test_jvp_of_a_roll_read_after_a_write_into_its_array(jit):
    """np.roll(B) is a copy (rt.reshape_like(np.take(B, ...), B): rules/composites.py), which the write into B after it
    does not change, and one taken after the write reads the new B. jvp declined the read of the first after the
    write ("`R` shares memory with `B`"), as it declines a flip, which is a view (h30c)."""
    M = np.arange(6.0).reshape(2, 3)
    args = [0.5, M.copy()]
    value, dot = srcdiff.jvp(rolled_then_written, wrt=0, jit=jit)(0.5, M.copy(), 1.0)
    assert value == pytest.approx(rolled_then_written(*args), rel=1e-12)
    np.testing.assert_allclose(dot, numerical_grad(rolled_then_written, args, 0), rtol=1e-7)
    np.testing.assert_allclose(srcdiff.grad(rolled_then_written, jit=jit)(0.5, M.copy()), dot, rtol=1e-10)
    (h,) = srcdiff.hvp(rolled_then_written, wrt=(0,), jit=jit)(0.5, M.copy(), (1.0,))
    eps = 1e-5
    g = lambda x: srcdiff.grad(rolled_then_written)(x, M.copy())    # noqa: E731
    np.testing.assert_allclose(h, (g(0.5 + eps) - g(0.5 - eps)) / (2 * eps), rtol=1e-6)


def squeezed_transpose(x, M):
    B = (M * 1.0).T      # (Fortran-ordered)
    v = np.squeeze(B[None], axis=0)
    B[0, 1] = 5.0 * x
    return np.sum(v * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))


@JIT
def test_jvp_follows_a_write_into_an_array_through_its_squeezed_view(jit):
    """np.squeeze(x, axis=0) is NumPy's view of x, and forward mode follows views; under Numba rt.squeeze reshaped
    np.ascontiguousarray(x), a copy of an x that is not C-contiguous: jvp's value 65.0 for f's 64.0, its derivative
    0.0 for 10.0 at x = 0.5 (h29d). rt.squeeze is a view under Numba too now (as_strided)."""
    M = np.arange(6.0).reshape(2, 3)
    value, dot = srcdiff.jvp(squeezed_transpose, wrt=0, jit=jit)(0.5, M.copy(), 1.0)
    assert value == squeezed_transpose(0.5, M.copy()) == 64.0
    np.testing.assert_allclose(dot, numerical_grad(squeezed_transpose, [0.5, M.copy()], 0), rtol=1e-7)


def written_through_a_squeezed_view(x, M):
    B = (M * 1.0).T
    r = np.squeeze(B[None], axis=0)
    r[1, 0] = 5.0 * x
    return np.sum(B * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))


@JIT
def test_jvp_follows_a_write_through_a_squeezed_view(jit):
    """The write through r = np.squeeze(...) of a B that is not C-contiguous reaches B, as in NumPy (h29d: under
    jit=True rt.squeeze's copy took the write, value 65.0 for 69.5)."""
    M = np.arange(6.0).reshape(2, 3)
    value, dot = srcdiff.jvp(written_through_a_squeezed_view, wrt=0, jit=jit)(0.5, M.copy(), 1.0)
    assert value == written_through_a_squeezed_view(0.5, M.copy()) == 69.5
    np.testing.assert_allclose(dot, numerical_grad(written_through_a_squeezed_view, [0.5, M.copy()], 0), rtol=1e-7)


def split_at_constants(x, a):
    vu = np.sin(a) * x
    r, c, q = np.array_split(vu, [1, 2])
    c = np.sum(c) * np.sum(q * q)
    r[-1] = np.sum(a) * -0.7
    return np.sum(np.sin(r) * r) + c


def split_gradient_norm(x, a):
    gx, ga = srcdiff.grad(split_at_constants, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


@JIT
def test_slices_at_constant_bounds_apart_are_apart(jit):
    """np.array_split(vu, [1, 2])'s parts are `vu[:1]`, `vu[1:2]`, `vu[2:]` in the gradient's code: reverse over it read
    `q` after the write into `r` and was declined ("`q` shares memory with `r`", fuzz --nested 1401011): slices whose
    constant bounds leave no element in common are apart."""
    x, a = 0.7, np.array([0.3, -0.5, 0.9, 1.2])
    gx, ga = srcdiff.grad(split_gradient_norm, wrt=(0, 1), jit=jit)(x, a)
    assert np.isclose(gx, numerical_grad(split_gradient_norm, (x, a), 0), rtol=1e-5)
    assert np.allclose(ga, numerical_grad(split_gradient_norm, (x, a), 1), rtol=1e-5)


def overlapping_constant_slices(x, a):
    vu = np.sin(a) * x
    r = vu[:2]
    q = vu[1:]
    r[-1] = x * 2.0    # <- overlapping_constant_slices
    return np.sum(q * q)


def test_slices_at_constant_bounds_that_overlap_are_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="`q` shares memory with `r`"):
        srcdiff.grad(overlapping_constant_slices)(0.7, np.array([0.3, -0.5, 0.9, 1.2]))
