"""transforms/follow_writes.py: where `a = b` (a second name for b's array: the user's `x, y = y, f(x, y)`, through
SSA's copies) is followed by a write through `a`, a's reads read `b`, so reverse mode follows the write on one name:
swapped buffers written through either name, chains of names, second names bound in branches, after a `continue`
or in unrolled loops, differentiated (and differentiated again: a gradient-norm penalty) instead of declined, and
checked against central differences on both backends."""
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def swap_then_write(a):
    buf1 = a.copy()
    buf2 = np.copy(a)
    for i in range(2):
        buf1, buf2 = buf2, 0.5 * buf1 + 0.5 * np.tanh(buf2 * a[0])
        buf1[2] = buf1[2] * 1.1 + 0.1
    return np.sum(buf1 * buf1) + np.sum(buf2)


def gradient_norm_of_swap_then_write(a):
    g = srcdiff.grad(swap_then_write)(a)
    return np.sum(g * g)


def second_name_written_then_rebound(x):
    b = x * 1.0
    y = b
    y[0] = 2.0 * y[1]
    b = np.sin(b)
    return np.sum(y) + np.sum(b)


@JIT
def test_reads_follow_a_write_through_a_second_name(jit):
    """`x, y = y, f(x, y)` then a write through x: the old y's array has two names in a loop body, read through
    one and written through the other. follow_writes gives it one (the reads of x read y until y is rebound), so
    reverse mode follows the write: srcdiff's gradient no longer reads a buffer after a write through the other
    name, and reverse mode over it (a gradient-norm penalty) differentiates instead of declining (nested fuzz: the
    most common decline, 764128, 767034, 771100). A second name written in place and the first rebound after
    it, declined before, differentiates too."""
    from gradcheck import numerical_grad as fd
    a = np.array([0.3, -0.4, 0.8])
    g = srcdiff.grad(swap_then_write, jit=jit)
    np.testing.assert_allclose(g(a), fd(swap_then_write, [a], 0), rtol=1e-6, atol=1e-8)
    src = srcdiff.source(g)
    assert "buf2[2] = " in src and "buf1v5" not in src, src
    np.testing.assert_allclose(srcdiff.grad(gradient_norm_of_swap_then_write, jit=jit)(a),
                               fd(gradient_norm_of_swap_then_write, [a], 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(srcdiff.grad(second_name_written_then_rebound, jit=jit)(a),
                               fd(second_name_written_then_rebound, [a], 0), rtol=1e-6, atol=1e-8)


def test_follow_writes_moves_a_swaps_back_edge_copy_first():
    """`b, c = c, b` then a write through b: b's back-edge copy reads b2 after c's (`c = c2; b = b2`). Back-edge
    copies are one parallel assignment, so b's moves first and its read of b2 reads c before c is bound again
    (the double buffer of nested fuzz 767159 and 771176); where another copy reads b, it cannot move."""
    from passes import parse_function
    from srcdiff.transforms import annotations as anno, follow_writes
    from srcdiff.transforms.emit import to_source
    from srcdiff.transforms.optimize import eliminate_dead_code

    def swap(phis):
        fn = parse_function("def f(b, c):\n    b2 = c\n    c2 = b\n    b2[0] = 1.0\n" + phis + "    return b\n")
        for s in fn.body[3:5]:
            anno.set(s, anno.PHI)
        return fn
    fn = swap("    c = c2\n    b = b2\n")
    assert follow_writes.follow_writes(fn, eliminate_dead_code) == 2
    assert to_source(fn).splitlines()[3:6] == ["    c[0] = 1.0", "    b = c", "    c = c2"], to_source(fn)
    fn = swap("    c = b\n    b = b2\n")           # c's copy reads b: b's cannot go first
    assert follow_writes.follow_writes(fn, eliminate_dead_code) == 0


def double_buffer(a):
    b = a * 1.0
    c = np.zeros(3)
    for i in range(3):
        b, c = c, b
        b[i % 3] = b[i % 3] * 1.1 + 0.3 * np.tanh(c[i % 3] * a[0])
    return np.sum(b * b) + np.sum(c * a)


def gradient_norm_of_double_buffer(a):
    g = srcdiff.grad(double_buffer)(a)
    return np.sum(g * g)


@JIT
def test_double_buffer_differentiated_twice(jit):
    a = np.array([0.3, -0.4, 0.8])
    np.testing.assert_allclose(srcdiff.grad(double_buffer, jit=jit)(a), numerical_grad(double_buffer, [a], 0),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(srcdiff.grad(gradient_norm_of_double_buffer, jit=jit)(a),
                               numerical_grad(gradient_norm_of_double_buffer, [a], 0), rtol=1e-5, atol=1e-7)


def unpacked_then_second_name(a, M):
    x, buf = M, 0.5 * M
    al = buf
    al[1, 0] = al[1, 0] * 0.9 + a[0]
    return np.sum(buf * buf) + np.sum(x * al)


def chain_of_names(a, M):
    t = 0.5 * M
    buf = t
    al = buf
    al[1, 0] = a[0] * al[0, 1]
    return np.sum(buf * t)


def swaps_around_a_second_name(a, M):
    buf4 = np.copy(M)
    buf5 = np.zeros((2, 4))
    for i in range(2):
        buf5, buf4 = buf4, 0.5 * buf5 + np.tanh(buf4 * a[1])
        al = buf4
        al[1, i] = al[1, i] * 0.9 + 0.1 * np.tanh(a[0])
        buf5, buf4 = buf4, 0.5 * buf5
        buf5[0, 1] = buf5[0, 1] * 1.1
    return np.sum(buf4 * buf4) + np.sum(buf5)


def gradient_norm_of_swaps_around_a_second_name(a, M):
    ga, gM = srcdiff.grad(swaps_around_a_second_name, wrt=(0, 1))(a, M)
    return np.sum(ga * ga) + np.sum(gM * gM)


@JIT
@pytest.mark.parametrize("f", [unpacked_then_second_name, chain_of_names, swaps_around_a_second_name,
                               gradient_norm_of_swaps_around_a_second_name], ids=lambda f: f.__name__)
def test_a_write_through_a_later_name_of_a_chain_is_followed(f, jit):
    """`x, buf = M, f(M)` (SSA binds buf through a copy of f(M)'s value: `buf = buf1`), or `buf = t`, then
    `al = buf` and a write through al: follow_writes made the write one through the chain's first name (buf1,
    t) while buf, read after it, still named the array, and the aliasing check declined ('`buf` shares memory
    with `buf1`, which this assignment writes in place'; nested fuzz 918044). The reads of buf after the write
    read the first name too."""
    rng = np.random.default_rng(3)
    a, M = rng.normal(size=4), rng.normal(size=(2, 4))
    check_grad(f, [a, M], wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-7)


def second_name_of_a_swapped_buffer(M, x):
    b1 = M.copy()
    b2 = np.copy(M)
    for i in range(3):
        b1, b2 = b2, b1
        b1[0, 0] = b1[0, 0] * 1.1
        al = b2
        al[1, 2] = al[1, 2] * 0.9 + x * b2[1, 0]
    return np.sum(b1) + np.sum(b2 * b2)


def second_name_of_a_swapped_buffer_only(M, x):
    b1 = M.copy()
    b2 = np.copy(M)
    for i in range(3):
        b1, b2 = b2, b1
        al = b2
        al[1, 2] = al[1, 2] * 0.9 + x * b2[1, 0]
    return np.sum(b1) + np.sum(b2 * b2)


def gradient_norm_of_second_name_of_a_swapped_buffer(M, x):
    gM, gx = srcdiff.grad(second_name_of_a_swapped_buffer, wrt=(0, 1))(M, x)
    return np.sum(gM * gM) + gx * gx


@JIT
@pytest.mark.parametrize("f", [second_name_of_a_swapped_buffer, second_name_of_a_swapped_buffer_only,
                               gradient_norm_of_second_name_of_a_swapped_buffer], ids=lambda f: f.__name__)
def test_a_second_name_of_a_buffer_a_swap_bound_is_followed(f, jit):
    """`b1, b2 = b2, b1` in a loop, then `al = b2` and a write through al: SSA's copies `b2v1 = b1; b2v2 = b2v1;
    al = b2v2`. follow_writes made the write one through the chain's first name, the loop's b1, which the
    back-edge copies bind again before `b2 = b2v2` reads the written array, so b2v2 was read after the write and
    the aliasing check declined ('`b2` shares memory with `b1`'; first-order grad too: fuzz 985053 and 998010
    under --nested). A later name of the chain, which nothing binds again, takes the reads now."""
    M = np.arange(6.0).reshape(2, 3) / 7 + 0.3
    gM, gx = srcdiff.grad(f, wrt=(0, 1), jit=jit)(M, 0.4)
    np.testing.assert_allclose(gM, numerical_grad(f, [M, 0.4], 0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gx, numerical_grad(f, [M, 0.4], 1), rtol=1e-5, atol=1e-7)


def swap_then_second_name(a):
    buf2 = a * 2.0
    buf6 = a * 1.0
    for e in a:
        buf2, buf6 = buf6, 0.5 * buf2 + 0.5 * np.tanh(buf6 * e)
        buf2[0] = buf2[0] * 1.1
        buf2, buf6 = buf6, buf2
        buf2[1] = buf2[1] * 1.1 + 0.1 * np.tanh(e)
        al = buf6
        al[2] = al[2] * 0.9 + 0.1 * e
    return np.sum(buf2) + np.sum(buf6)


@JIT
def test_a_buffer_written_under_its_own_and_a_second_name_is_restored_on_one_array(jit):
    """buf6 is written under its own name (`buf2[0] = ...` after the swap) and under a second one (`al[2] = ...`)
    in one iteration, and the backward sweep reads it: under jit=True its stack was a row tape, a copy, and the
    backward sweep undid the write through `al` on the array, not on the copy (2.1664 for 2.1754). Declined
    until follow_writes followed the second name (test_errors' audit had it: nested fuzz 781051)."""
    a = np.array([0.3, -0.7, 1.1])
    g = srcdiff.grad(swap_then_second_name, jit=jit)(a.copy())
    np.testing.assert_allclose(g, numerical_grad(swap_then_second_name, [a], 0), rtol=1e-6, atol=1e-8)


def two_swaps_written_through_both_names(a, M):
    b1 = np.copy(M)
    b2 = M * 0.5
    for i in range(2):
        b1, b2 = b2, b1
        b1[1, 2] = b1[1, 2] * 1.1 + 0.1 * np.tanh(a[0] * b2[0, 1])
        b2[:, 2] = (a[3], a[1] * b1[0, 0])
        b2, b1 = b1, b2
        b2[1, 3] = b2[1, 3] * 1.1 + a[2] * b1[1, 1]
    return np.sum(b1 * b1) + np.sum(b2 * b2)


def gradient_norm_of_two_swaps_written_through_both_names(a, M):
    ga, gM = srcdiff.grad(two_swaps_written_through_both_names, wrt=(0, 1))(a, M)
    return np.sum(ga * ga) + np.sum(gM * gM)


@JIT
def test_two_swaps_in_one_loop_differentiated_twice(jit):
    """Two swaps of the same buffers in one loop body, each followed by writes: SSA's copies of the second swap
    (`b2v3 = b2`, then `b2 = b2v3` among the back-edge copies) name the array the loop carries in b2. The
    back-edge copy ended the span follow_writes renames in, so the write stayed one through b2v3, and srcdiff's
    gradient wrote `b2v3[1, 3]` and pushed both names; reverse mode over it declined ('`b2` shares memory with
    `b2v15`', nested fuzz 998010). A back-edge copy of a name of the array to another name of it is that array:
    the span goes on past it, and the copy, which binds the name to itself, goes."""
    rng = np.random.default_rng(0)
    a, M = rng.normal(size=4), rng.normal(size=(2, 4))
    f = gradient_norm_of_two_swaps_written_through_both_names
    check_grad(f, [a, M], wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-7)
    src = srcdiff.source(srcdiff.grad(two_swaps_written_through_both_names, wrt=(0, 1), jit=jit))
    assert not re.search(r"^ *(\w+) = \1$", src, re.M), src      # no `b2 = b2`


def two_swaps_then_a_second_name(a, M):
    b1 = np.copy(M)
    b2 = np.tanh(M)
    for i in range(2):
        b1, b2 = b2, b1
        s = np.sum(b2[0]) * a[3]
        b1[1, 2] = b1[1, 2] * 1.1 + 0.1 * np.tanh(a[0] * s)
        b1, b2 = b2, b1
        b1[0, 1] = b1[0, 1] * 1.1 + a[2] * b2[1, 1]
        al = b2
        al[1, 2] = al[1, 2] * 0.9 + a[1] * b2[1, 0]
    return np.sum(b1 * b2) + np.sum(b2 ** 2)


def gradient_norm_of_two_swaps_then_a_second_name(a, M):
    g = srcdiff.grad(two_swaps_then_a_second_name, wrt=(0, 1))(a, M)
    return np.sum(g[0] ** 2) + np.sum(g[1] ** 2)


@JIT
def test_two_swaps_and_a_second_name_in_one_loop_differentiated_twice(jit):
    """Two swaps and `al = b2` written in one loop: the gradient pushes `b2v3`, the first swap's second name of
    b1's array, after the write through b1, and reads it back only for `rt.zeros_like(b2v3)`. Reverse mode over
    that gradient declined the push as a stale read ('`b2v3` shares memory with `b1`'); a push whose pops are read
    for their shapes only reads no value a write changed (shape_reads.shape_only_stacks). hvp and hessian agree
    with central differences of the gradient."""
    rng = np.random.default_rng(0)
    a, M = rng.normal(size=4), rng.normal(size=(2, 4))
    check_grad(gradient_norm_of_two_swaps_then_a_second_name, [a, M], wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-7)
    f, v = two_swaps_then_a_second_name, rng.normal(size=4)
    g = srcdiff.grad(f, wrt=0)
    fd = (g(a + 1e-5 * v, M) - g(a - 1e-5 * v, M)) / 2e-5
    np.testing.assert_allclose(srcdiff.hvp(f, wrt=0, jit=jit)(a, M, v), fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(srcdiff.hessian(f, wrt=0, jit=jit)(a, M) @ v, fd, rtol=1e-5, atol=1e-6)


def carried_then_written_through_a_second_name(a, M):
    b = np.copy(M)
    c = M * 1.0
    for i in range(2):
        b, c = c, 0.5 * b + np.tanh(c * a[0])
        b, c = c, b
        b[0, 1] = b[0, 1] * 1.1 + a[1]
    al = b
    al[1, 2] = al[1, 2] * 0.9 + a[2]
    return np.sum(b * b) + np.sum(c)


def gradient_norm_of_carried_then_written(a, M):
    ga, gM = srcdiff.grad(carried_then_written_through_a_second_name, wrt=(0, 1))(a, M)
    return np.sum(ga * ga) + np.sum(gM * gM)


@JIT
def test_a_shape_read_of_a_stale_view_is_not_declined(jit):
    """A buffer the loop carries (`b = c1` at the loop's end, c1 computed in the iteration), written after the
    loop through a second name: srcdiff's gradient then starts the loop's adjoint with `d_c1 = rt.zeros_like(c1)`,
    a read of c1 after the write through b, and reverse mode over the gradient declined ('`c1` shares memory
    with `b`'; nested fuzz 985210). A read of a shape (rt.zeros_like, rt.unbroadcast's second argument, len,
    `.shape`) is not a read of the values the write changed."""
    rng = np.random.default_rng(0)
    a, M = rng.normal(size=4), rng.normal(size=(2, 4))
    f = gradient_norm_of_carried_then_written
    check_grad(f, [a, M], wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-7)


def second_name_after_a_continue(a, M):
    buf = np.copy(M)
    for w in (M, 2.0 * M):
        for i in range(1, 3):
            if i == 1:
                continue
            al = buf
            al[1, i] = al[1, i] * 0.9 + np.sum(w) * a[0]
    return np.sum(buf * buf)


def second_names_after_a_return_and_a_continue(a, M):
    buf = np.copy(M)
    for w in (M, 2.0 * M):
        if np.sum(a) > 50.5:
            return np.sum(w)
        for i in range(1, 3):
            al = buf
            al[i % 2, 0] = al[i % 2, 0] * 0.9 + 0.1 * np.tanh(buf[0, i])
            if i == 1:
                continue
            al2 = buf
            al2[i % 2, i] = al2[i % 2, i] * 0.9 + 0.1 * np.tanh(np.sum(w))
            al3 = buf
            al3[1, 0] = al3[1, 0] * 0.9 + 0.1 * np.tanh(a[0])
    return np.sum(buf * buf)


def gradient_norm_of_second_name_after_a_continue(a, M):
    ga, gM = srcdiff.grad(second_name_after_a_continue, wrt=(0, 1))(a, M)
    return np.sum(ga * ga) + np.sum(gM * gM)


@JIT
@pytest.mark.parametrize("f", [second_name_after_a_continue, second_names_after_a_return_and_a_continue,
                               gradient_norm_of_second_name_after_a_continue], ids=lambda f: f.__name__)
def test_a_second_name_bound_after_a_continue_in_an_unrolled_loop(f, jit):
    """`al = buf` after a `continue` in a loop of an unrolled loop: SSA gives the next copy's al a merge copy
    (`al2 = al` where the continue skipped the binding) and a back-edge copy (`al = al2`), a cycle that nothing
    else reads. follow_writes counted the merge copy's read of al as live (counting reads by name), so left the
    write through al, and the aliasing check declined ('`buf` shares memory with `al`'; nested fuzz 918123,
    plain grad too). Dead copies are found by liveness now."""
    rng = np.random.default_rng(4)
    a, M = rng.normal(size=4), rng.normal(size=(2, 4))
    check_grad(f, [a, M], wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-7)


def second_name_in_a_branch(a):
    buf = np.copy(a)
    for w in (a[:2], a[1:]):
        if w[0] > 10.0:
            t = buf[0] * w[1]
        else:
            al = buf
            al[1] = al[1] * 0.9 + 0.1 * np.tanh(buf[2] + w[0])
    return np.sum(buf * buf)


def gradient_norm_of_second_name_in_a_branch(a):
    g = srcdiff.grad(second_name_in_a_branch)(a)
    return np.sum(g * g)


@JIT
def test_second_name_bound_in_a_branch_of_an_unrolled_loop(jit):
    """`al = buf` and a write through it in one branch of a loop over a tuple (unrolled): SSA merges `al` after
    each copy of the branch for nothing that reads it, and those merge copies counted as reads of `al` outside
    the branch, so follow_writes left the second name and the write was declined (nested fuzz 775158). Merge
    copies nothing reads do not count."""
    a = np.array([0.3, -0.4, 0.8])
    np.testing.assert_allclose(srcdiff.grad(second_name_in_a_branch, jit=jit)(a),
                               numerical_grad(second_name_in_a_branch, [a], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(srcdiff.grad(gradient_norm_of_second_name_in_a_branch, jit=jit)(a),
                               numerical_grad(gradient_norm_of_second_name_in_a_branch, [a], 0), rtol=1e-5, atol=1e-7)


def second_name_written_in_a_while_loop(x, a, M):
    buf = np.copy(a)
    t = np.sum(M / (1.5 + np.square(buf[1])))
    k = 0
    while k < 2:
        k += 1
        al = buf
        al[1] = al[1] * 0.9 + 0.1 * np.tanh(x)
    return buf[1] + np.sum(buf) + t


@JIT
def test_a_read_before_a_loop_that_writes_through_a_second_name_is_not_reused_after_it(jit):
    """`buf[1]` read before a loop that writes `al[1]` (al = buf) and again after it: common-subexpression
    elimination, which ran before follow_writes made the write buf's, took the second read for the first, and
    the gradient lost that term (fuzz 780010: d/dx 0.18 for 0.36). follow_writes runs right after SSA now,
    before cse, which sees the write."""
    a, M = np.array([-0.959218, -0.10673115]), np.array([[-1.63659336, 1.26997458], [-1.15664421, -0.91921645]])
    for k in range(3):
        np.testing.assert_allclose(srcdiff.grad(second_name_written_in_a_while_loop, wrt=k, jit=jit)(0.2, a, M),
                                   numerical_grad(second_name_written_in_a_while_loop, [0.2, a, M], k),
                                   rtol=1e-6, atol=1e-8)


def writes_then_rebinds_in_a_loop(x, a):
    a[1] = a[1] * 0.5 + np.sin(a[0])
    for i in range(2):
        a = 0.5 * a + 0.5 * np.tanh(x * a)
    return np.sum(a) * x


def reads_the_argument_after(x, a):
    return np.sum(writes_then_rebinds_in_a_loop(x, a) * a + x * np.sin(a))


def jacobian_of_reads_after(x, a):
    return writes_then_rebinds_in_a_loop(x, a) * a + x * np.sin(a)


def gradient_norm_of_reads_after(x, a):
    gx, ga = srcdiff.grad(reads_the_argument_after, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


@JIT
def test_a_helpers_parameter_written_then_bound_again_by_a_loop(jit):
    """A helper that writes into its argument (`a[1] = ...`), then binds the parameter to new arrays in a loop
    (`for ...: a = 0.5 * a + ...`), called where the caller reads its array after the call: inlined, SSA's copy
    `a1 = a` is the loop's carried name, so follow_writes could not make the write the argument's and the call was
    declined ('writes in place into memory that `a` shares', fuzz 1192024, the jacobian of f(...) * a). The copy
    moves below the write, which becomes a write through `a`; grad, both jacobians and reverse mode over the
    gradient (a gradient-norm penalty) agree with central differences, and the caller's array is left as one call
    of the function leaves it."""
    x, a = 0.9, np.array([0.3, 0.7, 1.1])

    def on_copies(f):
        return lambda x, a: f(x, a.copy())
    for k in (0, 1):
        got = srcdiff.grad(reads_the_argument_after, wrt=k, jit=jit)(x, a.copy())
        np.testing.assert_allclose(got, numerical_grad(on_copies(reads_the_argument_after), [x, a], k),
                                   rtol=1e-6, atol=1e-8)
        got = srcdiff.grad(gradient_norm_of_reads_after, wrt=k, jit=jit)(x, a.copy())
        np.testing.assert_allclose(got, numerical_grad(on_copies(gradient_norm_of_reads_after), [x, a], k),
                                   rtol=1e-5, atol=1e-7)
    after = a.copy()
    reads_the_argument_after(x, after)
    passed = a.copy()
    srcdiff.grad(reads_the_argument_after, wrt=1, jit=jit)(x, passed)
    np.testing.assert_array_equal(passed, after)      # the caller's array as one call leaves it
    eps, J = 1e-6, np.zeros((3, 3))
    for i in range(3):
        hi, lo = a.copy(), a.copy()
        hi[i] += eps
        lo[i] -= eps
        J[:, i] = (jacobian_of_reads_after(x, hi) - jacobian_of_reads_after(x, lo)) / (2 * eps)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(srcdiff.jacobian(jacobian_of_reads_after, wrt=1, mode=mode, jit=jit)(x, a.copy()),
                                   J, rtol=1e-6, atol=1e-8)


def swap_written_then_swapped_in_a_loop(x, a):
    b = np.zeros(4)
    c = a * 0.5
    for i in range(2):
        b, c = c, b
        b[0] = b[0] * 1.1 + 0.1 * np.tanh(x)
        for j in range(1):
            b, c = c, b
    return np.sum(b * a) + np.sum(c * c)


@JIT
def test_a_sunk_copy_reads_the_chains_first_name(jit):
    """The sink of the test above where the written name is a swap's (`b, c = c, b`, a write through b, then a
    loop swapping again: CUDA fuzz 990312, tests/test_cuda_edges.py swap_written): SSA's chain `b1 = c; b8 = b1`,
    the write made c's. The sunk copy `b8 = b1` read b1, a second name of c, after the write, which the aliasing
    check declined ('`b` shares memory with `c`'); it reads c, the chain's first name, instead."""
    from passes import parse_function
    from srcdiff.transforms import follow_writes
    from srcdiff.transforms.emit import to_source
    from srcdiff.transforms.optimize import eliminate_dead_code

    fn = parse_function("def f(b, c, v):\n    b1 = c\n    b8 = b1\n    b8[0] = v\n    for j in range(1):\n"
                        "        b8 = g(b8)\n    return b8\n")
    assert follow_writes.follow_writes(fn, eliminate_dead_code) == 1
    assert to_source(fn).splitlines()[1:5] == ["    b1 = c", "    c[0] = v", "    b8 = c",
                                               "    for j in range(1):"], to_source(fn)
    x, a = 0.4, np.array([0.3, -0.7, 1.1, 0.2])
    for k in (0, 1):
        np.testing.assert_allclose(srcdiff.grad(swap_written_then_swapped_in_a_loop, wrt=k, jit=jit)(x, a),
                                   numerical_grad(swap_written_then_swapped_in_a_loop, [x, a], k),
                                   rtol=1e-6, atol=1e-8)
