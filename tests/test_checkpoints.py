"""Checkpointed loops (`grad(f, checkpoints=k)`, transforms/checkpoints.py): the gradient equals the taped
one to rounding and matches central differences, in Python and under Numba, for any k (1, 2, about
sqrt(n), n, more than n), trip counts 0 and 1, while loops, break/continue, nested loops, branches and
in-place writes; the memory the backward sweep keeps drops with k."""
import math
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad, peak_bytes


# ---- the programs ----------------------------------------------------------------------------------------
def rnn(x, W, n):
    h = x
    total = 0.0
    for t in range(n):
        h = np.tanh(W @ h + 0.1 * x)
        total = total + np.sum(h ** 2)
    return total


def trajectory(a, b, y0, n):
    ys = np.zeros(n + 1)                 # written in place: part of the loop's state
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + 0.05 * (a * ys[t] - b * ys[t] ** 2)
    return np.sum(ys ** 2)


def branches_break_continue(x, n):
    s = 0.0
    for t in range(n):
        if s > 40.0:
            break
        s = s + np.sum(np.sin(x * t) ** 2) + np.sum(x)
        if t % 3 == 0:
            continue
        s = s * 1.01
    return s


def until_small(x, tol):
    y = x
    k = 0
    while np.sum(y ** 2) > tol:          # trip count known only when it ends
        y = y * 0.8 + 0.05 * np.sin(y)
        k = k + 1
    return np.sum(y ** 3) + k


def nested(x, W, n, m):
    h = x
    acc = 0.0
    for t in range(1, n):
        for j in range(m):
            h = np.tanh(W @ h) * 0.5 + h * 0.5
        if acc > 3.0:
            h = h * 0.9
        else:
            acc = acc + np.sum(h) / t
    return acc + np.sum(h ** 2)


def state_array_in_place(x, n):
    s = x.copy()                         # a state array the loop updates element by element
    out = 0.0
    for t in range(n):
        for i in range(1, s.shape[0]):
            s[i] = s[i] + 0.1 * np.sin(s[i - 1] * s[i])
        out = out + s[-1] * s[0]
    return out


def read_then_changed(x, c, n):
    h = x
    for t in range(n):
        u = c + 1.0                      # the first loop's rerun reads c; its backward sweep does not
        h = np.tanh(u * h)
    for t in range(n):
        c = c * 0.9 + 0.1 * np.cos(c)    # ... and the second loop changes c
        h = h + c
    return np.sum(h ** 2)


def prev_value(x, n):
    s = 0.0
    for i in range(n):
        if i > 0:
            s = s + prev * x[i % 3]      # noqa: F821 -- bound in the previous iteration
        prev = np.sin(s + x[0])
    return s


def stepped_ranges(x, n):
    h = x
    s = 0.0
    for t in reversed(range(n)):          # range(n - 1, -1, -1): segments counted in iterations
        h = np.sin(h * (t + 1) * 0.3) + x
        s = s + np.sum(h ** 2)
    for t in range(1, n, 2):
        h = np.cos(h) * 0.5 + 0.1 * t
        s = s + np.sum(h)
    return s


RNG = np.random.default_rng(0)
X4 = RNG.uniform(0.2, 0.8, 4)
W4 = RNG.uniform(-0.4, 0.4, (4, 4))
CASES = {
    "rnn": (rnn, lambda n: [X4, W4, n], (0, 1)),
    "trajectory": (trajectory, lambda n: [1.5, 0.7, 0.5, n], (0, 1, 2)),
    "branches_break_continue": (branches_break_continue, lambda n: [X4, n], (0,)),
    "nested": (nested, lambda n: [X4, W4, n, 2], (0, 1)),
    "state_array_in_place": (state_array_in_place, lambda n: [X4, n], (0,)),
    "read_then_changed": (read_then_changed, lambda n: [X4, 0.3, n], (0, 1)),
    "prev_value": (prev_value, lambda n: [X4[:3], n], (0,)),
    "stepped_ranges": (stepped_ranges, lambda n: [X4, n], (0,)),
}


def _grads(f, args, wrt, jit, checkpoints):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = srcdiff.grad(f, wrt=wrt, jit=jit, checkpoints=checkpoints)
        out = g(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    return g, (out if isinstance(out, tuple) else (out,))


def _check(name, n, ks, jit, fd=True):
    f, make, wrt = CASES[name]
    args = make(n)
    _, taped = _grads(f, args, wrt, jit, None)
    for k in ks:
        g, got = _grads(f, args, wrt, jit, k)
        assert "_snapshots" in srcdiff.source(g) or "rerun the segment" in srcdiff.source(g), srcdiff.source(g)
        for a, b in zip(got, taped):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"{name} k={k} vs the taped gradient")
    if fd:
        for w, a in zip(wrt, got):
            np.testing.assert_allclose(a, numerical_grad(f, args, w), rtol=1e-5, atol=1e-7,
                                       err_msg=f"{name} d/d arg {w} vs central differences")


@pytest.mark.parametrize("name", sorted(CASES))
def test_equal_to_taped_and_finite_differences(name):
    n = 9
    _check(name, n, (1, 2, round(math.sqrt(n)), n, n + 4), jit=False)


@pytest.mark.parametrize("name", ["trajectory", "branches_break_continue"])
def test_jit_equal_to_taped_and_finite_differences(name):
    _check(name, 9, (4,), jit=True)


@pytest.mark.slow       # (a minute or more each: Numba compiles the gradient once per k)
@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_every_k(name):
    n = 9
    _check(name, n, (1, 2, n, n + 4), jit=True)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_while_loop_with_data_dependent_trip_count(jit):
    """The snapshots of a while loop are thinned as it runs (every other one kept, segments twice as
    long): any trip count, with k even or odd, gives the taped gradient."""
    ks = (1, 2, 3, 4, 7) if not jit else (3,)
    for x in (X4 * 0.1, X4, X4 * 3.0):          # 0, a few, and tens of iterations
        args = [x, 0.05]
        _, taped = _grads(until_small, args, 0, jit, None)
        for k in ks:
            g, got = _grads(until_small, args, 0, jit, k)
            np.testing.assert_allclose(got[0], taped[0], rtol=1e-12, atol=1e-14)
        assert "rt.halve(" in srcdiff.source(g)
        np.testing.assert_allclose(got[0], numerical_grad(until_small, args, 0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("n", [0, 1])
def test_trip_counts_zero_and_one(n, jit):
    for name in ("trajectory",) if jit else ("rnn", "trajectory", "nested"):
        _check(name, n, (1, 3), jit=jit, fd=n > 0)


def test_value_and_grad_value_is_f():
    """The backward sweep reruns the loop (rebinding its names): the value returned is still f's."""
    args = [X4, W4, 12]
    value, (gx, gW) = srcdiff.value_and_grad(rnn, wrt=(0, 1), checkpoints=3)(*args)
    assert value == pytest.approx(rnn(*args), rel=1e-14)
    tx, tW = srcdiff.grad(rnn, wrt=(0, 1))(*args)
    np.testing.assert_allclose(gx, tx, rtol=1e-12)
    np.testing.assert_allclose(gW, tW, rtol=1e-12)


def test_differentiate_forwards_checkpoints():
    d = srcdiff.differentiate(rnn, wrt=(0, 1), checkpoints=4)
    gx, _ = d.grad(X4, W4, 10)
    np.testing.assert_allclose(gx, srcdiff.grad(rnn, wrt=(0, 1))(X4, W4, 10)[0], rtol=1e-12)
    assert "rerun the segment forward" in srcdiff.source(d.grad)
    assert "rerun the segment forward" in srcdiff.source(d.value_and_grad.prepare(X4, W4, 10))


def test_generated_code_reads_as_restore_rerun_sweep():
    g = srcdiff.grad(rnn, wrt=(0, 1), checkpoints=5)
    g(X4, W4, 10)
    src = srcdiff.source(g)
    restore, rerun, sweep = (src.index(s) for s in ("# restore the snapshot", "# rerun the segment forward",
                                                   "# sweep the segment back"))
    assert restore < rerun < sweep, src
    assert "every = rt.checkpoint_every(max(n, 0), 5)" in src and "h_snapshots" in src, src
    assert "total_snapshots" not in src and "total1" not in src[rerun:sweep], src   # the loss is not rerun
    g = srcdiff.grad(trajectory, wrt=(0, 1), checkpoints=3)
    g(1.5, 0.7, 0.5, 12)
    src = srcdiff.source(g)     # a trajectory's writes are undone from its tape, not snapshotted whole
    assert "# undo the segment's writes" in src and "ys_snapshots" not in src, src
    g = srcdiff.grad(state_array_in_place, checkpoints=3)
    g(X4, 5)
    assert "s_snapshots" in srcdiff.source(g)       # written in an inner loop: part of the state
    plain = srcdiff.grad(rnn, wrt=(0, 1))
    plain(X4, W4, 10)
    assert "_snapshots" not in srcdiff.source(plain)


def branch_last_in_a_checkpointed_loop(x, a, M):
    buf3 = np.zeros(2)
    buf3[0] = np.sum(M + a[None, :])
    buf8 = np.ones(2)
    for i in range(2):
        for e5, e6 in zip(a, a + a):
            buf3[0] = 0.5 + 0.5 * x
        if np.sum(M[0]) > -0.5:
            buf8 = buf8 * 0.5
    return np.log(1.0 + a[0] * a[0]) + np.sum(buf3) + np.sum(buf8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_no_line_comment_left_without_code_by_the_forward_loop(jit):
    """A checkpointed loop's forward copy loses its pushes: a branch whose body only fed them went with them,
    and its `# line N:` comment was left at the end of the loop with nothing under it (fuzz, test_fuzz_python's
    'source' oracle). The checkpoints pass drops such comments as the dead-code pass does."""
    import fuzzgen
    args = (0.3, np.array([0.5, 0.2, 0.1]), np.ones((2, 3)))
    for k in (1, 2):
        g = srcdiff.grad(branch_last_in_a_checkpointed_loop, wrt=(0, 1, 2), checkpoints=k, jit=jit)
        got = g(*args)
        assert fuzzgen.lone_line_comments(srcdiff.source(g)) == [], srcdiff.source(g)
        for gk, i in zip(got, range(3)):
            np.testing.assert_allclose(gk, numerical_grad(branch_last_in_a_checkpointed_loop, args, i), rtol=1e-6,
                                       atol=1e-8)


def branch_feeding_only_the_tape(x, a, n):
    s = 0.0
    buf = np.zeros(3)
    for i in range(n):
        buf[i % 3] += a * x[i]
        if buf[0] > 0.5:
            s += np.sin(buf[0])
        else:
            s -= buf[1] ** 2
    return s + np.sum(buf * buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_forward_loop_keeps_no_statement_only_its_pushes_read(jit):
    """The forward loop of a checkpointed loop loses its pushes; what only they read goes too: the test and
    the branches computing `s`'s terms (taped for the segments' reruns, which compute them again) were left in
    the forward loop (`cond1 = cond > 0.5` / `if cond1: s1 = buf[0]` / `else: s3 = buf[1]`), dead code."""
    import ast
    x = np.linspace(0.1, 1.0, 7)
    for k in (1, 2, 3):
        g = srcdiff.grad(branch_feeding_only_the_tape, wrt=("x", "a"), checkpoints=k, jit=jit)
        got = g(x, 0.7, 7)
        taped = srcdiff.grad(branch_feeding_only_the_tape, wrt=("x", "a"), jit=jit)(x, 0.7, 7)
        for gk, tk in zip(got, taped):
            np.testing.assert_allclose(gk, tk, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[0], numerical_grad(branch_feeding_only_the_tape, (x, 0.7, 7), 0),
                                   rtol=1e-6, atol=1e-8)
        fn = ast.parse(srcdiff.source(g)).body[-1]
        forward = next(s for s in fn.body if isinstance(s, ast.For))      # the first loop: the forward sweep
        assert not any(isinstance(s, ast.If) and "cond" in ast.unparse(s.test) for s in ast.walk(forward)), \
            ast.unparse(forward)
        assert "s1 = " not in ast.unparse(forward) and "s3 = " not in ast.unparse(forward), ast.unparse(forward)


@pytest.mark.parametrize("k", [0, -3, 2.5, True, "4"])
def test_checkpoints_must_be_a_positive_int(k):
    with pytest.raises(srcdiff.SrcdiffError, match="checkpoints=") as info:
        srcdiff.grad(rnn, checkpoints=k)
    assert "test_checkpoints.py" in str(info.value)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit-source"])
def test_memory_drops(jit):
    """Peak memory NumPy allocates during the gradient (tracemalloc sees NumPy's arrays): with k about
    sqrt(n) the backward sweep keeps k snapshots and one segment's tape instead of n iterations. For
    jit=True the generated Numba source (row tapes) is run as Python, so tracemalloc sees its arrays."""
    x, W, n = np.linspace(0.1, 0.5, 64), np.eye(64) * 0.5, 900
    peaks = {}
    for k in (None, 30):
        g = srcdiff.grad(rnn, wrt=0, jit=jit, checkpoints=k)
        fn = g.prepare(x, W, n)._last[2]
        fn = getattr(fn, "py_func", fn)
        peaks[k] = peak_bytes(fn, x, W, n)
    state = 64 * 8
    assert peaks[None] > n * state                       # the taped sweep keeps every iteration's h
    assert peaks[30] < peaks[None] / 8, peaks            # 30 snapshots and a tape of 30 iterations
    assert peaks[30] < 8 * 30 * 3 * (state + 64) + 200_000, peaks


def printing(x, n):
    h = x
    for t in range(n):
        print("step", t)
        assert t >= 0
        h = np.sin(h) + x
    return np.sum(h)


def test_rerun_does_not_print_again(capsys):
    """print and assert stay in the forward sweep: a segment's rerun keeps only what its tape needs."""
    got = srcdiff.grad(printing, checkpoints=2)(X4, 3)
    assert capsys.readouterr().out.count("step") == 3
    np.testing.assert_allclose(got, srcdiff.grad(printing)(X4, 3), rtol=1e-12)
    capsys.readouterr()


CHECKPOINTED = srcdiff.grad(rnn, wrt=0, checkpoints=3)


def penalty(x, W, n):
    return np.sum(CHECKPOINTED(x, W, n) ** 2)


def test_checkpointed_gradient_is_not_differentiated_again():
    with pytest.raises(srcdiff.SrcdiffError, match="checkpoints=3") as info:
        srcdiff.grad(penalty)(X4, W4, 4)
    assert "test_checkpoints.py" in str(info.value)


TAPED = srcdiff.grad(rnn, wrt=0)


def taped_penalty(x, W, n):
    return np.sum(TAPED(x, W, n) ** 2)


def test_checkpoints_over_a_taped_gradient():
    """grad(h, checkpoints=k) of an h that calls a (taped) srcdiff gradient: the loops of that gradient push
    onto and pop from its stacks, so a rerun would push again; they stay taped and the result is the one
    without checkpoints (and central differences)."""
    args = [X4, W4, 5]
    ref = srcdiff.grad(taped_penalty)(*args)
    got = srcdiff.grad(taped_penalty, checkpoints=2)(*args)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, numerical_grad(taped_penalty, args, 0), rtol=1e-5, atol=1e-7)


def in_a_branch(x, n, flag):
    h = x
    if flag:
        for t in range(n):
            h = np.sin(h) * 0.9 + x
    return np.sum(h ** 2)


def test_loop_inside_a_branch():
    for flag in (True, False):
        _, taped = _grads(in_a_branch, [X4, 7, flag], 0, False, None)
        g, got = _grads(in_a_branch, [X4, 7, flag], 0, False, 3)
        np.testing.assert_allclose(got[0], taped[0], rtol=1e-12, atol=1e-14)
    assert "rerun the segment forward" in srcdiff.source(g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hmm_log_partition(jit):
    """The HMM forward recursion (log-domain products with a hoisted table) checkpointed: the E-step's
    expected counts are the taped ones."""
    from srcdiff.vi import hmm
    rng = np.random.default_rng(3)
    K, V, T = 3, 5, 40
    args = (np.log(rng.dirichlet(np.ones(K))), np.log(rng.dirichlet(np.ones(K), size=K)),
            np.log(rng.dirichlet(np.ones(V), size=K)), rng.integers(0, V, T))
    value, taped = srcdiff.value_and_grad(hmm.log_Z, wrt=(0, 1, 2), jit=jit)(*args)
    vg = srcdiff.value_and_grad(hmm.log_Z, wrt=(0, 1, 2), jit=jit, checkpoints=6)
    value_k, got = vg(*args)
    assert value_k == pytest.approx(value, rel=1e-14)
    for a, b in zip(got, taped):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    src = srcdiff.source(vg)
    assert "rt.logsumexp_vecmat(" in src and "log_alpha_snapshots" in src, src


def last_element(a, scale):
    for i in range(a.shape[0]):
        scale = a[i]
    return scale


def swap_with_each(a, scale):
    for e in a:
        scale, e = e, scale
    return scale


def stepped_last(a, scale):
    for i in range(1, a.shape[0], 2):
        scale = a[i] * 3.0
    return scale


def bound_rebound_in_it(a, scale):
    stop = a.shape[0]
    for i in range(1, stop):
        stop = stop - 1                   # (range read its bound once: SSA names the loop's bound apart)
        scale = scale + np.tanh(0.5) * a[i]
    return scale * 2.0


def bound_rebound_from_zero(a, scale):
    stop = a.shape[0]
    for i in range(stop):
        stop = stop - 1
        scale = scale + np.tanh(0.5) * a[i]
    return scale * 2.0


def bound_rebound_stepped(a, scale):
    stop = a.shape[0]
    for i in range(1, stop, 2):
        stop = stop - 1
        scale = scale + np.tanh(0.5) * a[i]
    return scale * 2.0


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [last_element, swap_with_each, stepped_last, bound_rebound_in_it,
                               bound_rebound_from_zero, bound_rebound_stepped], ids=lambda f: f.__name__)
def test_loop_whose_forward_sweep_is_dead(f, jit):
    """Fuzz seed 25770: a loop that only rebinds a value (no iteration reads what an earlier one computed) has no
    forward sweep left after dead code elimination; checkpointing it raised 'a checkpointed loop's forward sweep
    was lost'. Its backward sweep is the taped one, over every iteration. Fuzz seed 2600024: where copy propagation
    had renamed the loop's bounds (`stop` for the `bound` the loop read), that sweep read the old name (NameError:
    name 'bound' is not defined); it reads the bounds as the segments' code has them now."""
    args, wrt = [X4 * 1.5 + 0.1, 0.5], (0, 1)
    _, taped = _grads(f, args, wrt, jit, None)
    g, got = _grads(f, args, wrt, jit, 2)
    assert "rerun the segment" not in srcdiff.source(g)
    for a, b, w in zip(got, taped, wrt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, numerical_grad(f, args, w), rtol=1e-5, atol=1e-7)


def read_then_rebound(x, a, M):
    buf = M.copy()
    for i in range(1):
        c = np.tanh(0.5)
        while c < 2.0:                    # its trip count depends on x
            c = c + 0.75 + 0.25 * np.tanh(x / (1.5 + np.square(a[2])))
            M = np.sin(np.sqrt(1.0 + np.square(M)))
    s = np.sum(np.array([M[0], a]), axis=1)
    for j in range(2):
        for e, e2 in zip(a, np.array([a[j], 0.5, buf[j % 2, j]])):
            e, x = x, e                   # x rebound after the checkpointed loops read it
    return np.sum(buf) + np.sum(s) + x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("k", [1, 3])
def test_value_read_by_a_loop_and_rebound_after_it(k, jit):
    """Fuzz seed 138575: a checkpointed loop reads `x` without carrying it, and a later loop rebinds `x`; the
    segments' rerun read the later `x` (another while-loop trip count: d/dM 1.008 instead of 1.068). What a
    loop reads and something after it rebinds is part of its snapshot."""
    args, wrt = [0.6924, np.array([0.3795, -0.6425, -0.2980]),
                 np.array([[0.6066, 0.7549, -0.7780], [2.2392, -0.9719, 0.9900]])], (0, 1, 2)
    _, taped = _grads(read_then_rebound, args, wrt, jit, None)
    _, got = _grads(read_then_rebound, args, wrt, jit, k)
    for a, b, w in zip(got, taped, wrt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, numerical_grad(read_then_rebound, args, w), rtol=1e-5, atol=1e-7)


def swap_then_affine(x, n):
    u = x
    for i in range(n):
        u, x = x, u                       # both carried; the backward sweep reads neither (the step is affine)
        x = 0.5 * x + 0.25
    return x * u


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("k", [1, 2])
def test_segment_tape_nothing_reads(k, jit):
    """Fuzz seed 20984 (NameError: name 'u5_tape' is not defined): a carried scalar's segment tape whose reads
    the backward sweep lost (specialised, nothing reads the popped value). Dead code elimination dropped the
    tape's making, after the forward loop, and kept the forward loop's writes into it, which the segments'
    rerun then made. A tape's writes go with its reads: the rerun writes no tape nothing reads."""
    args, wrt = [0.3, 4], (0,)
    _, taped = _grads(swap_then_affine, args, wrt, jit, None)
    g, got = _grads(swap_then_affine, args, wrt, jit, k)
    assert "_tape" not in srcdiff.source(g), srcdiff.source(g)
    np.testing.assert_allclose(got[0], taped[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[0], numerical_grad(swap_then_affine, args, 0), rtol=1e-5, atol=1e-7)


def unread_trip_count(x, a):
    buf = a.copy()
    for i in range(a.shape[0]):           # x's updates reach only a value nothing reads
        x = x - np.sin(i * 0.25)
    for e in a:
        t = sum([x, 1.0])
        buf[:1] = np.sum(a)
    return np.sum(buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_loop_with_no_backward_sweep_leaves_no_trip_count(jit):
    """Fuzz seed 910033 ('a value nothing reads: n1 = n[0]'): a checkpointed loop whose forward loop and
    backward sweep dead code elimination both emptied kept its segments loop, for the placeholder of the
    segments' rerun, and with it the loop's trip count; the checkpoints pass then dropped the segments loop
    and left the trip count unread. A rerun with no backward sweep after it goes with the sweep."""
    import fuzzgen
    args, wrt = [0.3, np.array([0.2, 0.4])], (0, 1)
    _, taped = _grads(unread_trip_count, args, wrt, jit, None)
    g, got = _grads(unread_trip_count, args, wrt, jit, 3)
    assert fuzzgen.unread_assignments(srcdiff.source(g)) == [], srcdiff.source(g)
    for a, b, w in zip(got, taped, wrt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, numerical_grad(unread_trip_count, args, w), rtol=1e-5, atol=1e-7)


NO_STEPS = 0        # module constants: Numba folds them in, and removes a `while k < NO_STEPS` loop after `k = 0`
THREE_STEPS = 3


def masked_while(a):
    buf = np.copy(a)
    k = 0
    while k < NO_STEPS:
        k += 1
        buf[0] *= np.tanh(np.sum(a[a < 0.0] * 0.5))
    return a[0] + np.sum(buf)


def masked_for(a):
    buf = np.copy(a)
    for i in range(NO_STEPS):
        buf[0] *= np.tanh(np.sum(a[a < 0.0] * 0.5))
    return a[0] + np.sum(buf)


def masked_while_three(a):
    buf = np.copy(a)
    k = 0
    while k < THREE_STEPS:
        k += 1
        buf[0] *= np.tanh(np.sum(a[a < 0.0] * 0.5))
    return a[0] + np.sum(buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [masked_while, masked_for, masked_while_three], ids=lambda f: f.__name__)
def test_loop_bound_by_a_module_constant(f, jit):
    """Fuzz seed 166970: a `while` loop bound by a module constant 0, which Numba decides at compile time and
    removes with the values first bound in it. Its segments' pop of a row tape, `v = rt.get_row(tape, row, v)`,
    read `v` for its rank ('Unsupported assignment encountered: Undefined'), and the taped gradient's stack of
    masks `a < 0.0` lost its only append ('imprecise type: undefined'). Both get a value of their kind first."""
    args = [np.array([0.5, -0.7, 0.2, -0.4])]
    _, taped = _grads(f, args, (0,), jit, None)
    for k in (1, 2):
        g, got = _grads(f, args, (0,), jit, k)
        np.testing.assert_allclose(got[0], taped[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[0], numerical_grad(f, args, 0), rtol=1e-5, atol=1e-7)
    # (srcdiff itself drops `for i in range(NO_STEPS)`, a range(0) once the constant is folded in)
    assert ("rerun the segment" in srcdiff.source(g)) == (f is not masked_for), srcdiff.source(g)


def sorted_then_looped(x, a):
    alpha = np.sort(a) * x + np.cumsum(a)[::-1]
    for i in range(3):
        alpha = np.sin(alpha) + a
    return np.sum(alpha)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_sorted_value_carried_into_a_checkpointed_loop(jit):
    """The loop's snapshots hold a value computed by np.sort / np.cumsum: their kinds must be known for the snapshot
    list to be typed under Numba (fuzz seed 710200 under jit: "invalid setitem ... to element of none")."""
    a = np.array([0.3, -1.1, 0.6])
    want = check_grad(sorted_then_looped, [0.7, a], wrt=(0, 1), jit=jit)
    got = srcdiff.grad(sorted_then_looped, wrt=(0, 1), jit=jit, checkpoints=1)(0.7, a)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def stepped_from_a_copy(x, a):
    m = 1
    lo = m                                # copy propagation renames the loop's start to m
    s = 0.0
    for i in range(lo, a.shape[0], 2):
        s = s + a[i] * x * s + a[i]
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_stepped_loop_whose_start_copy_propagation_renames(jit):
    """redteam: a checkpointed `range(lo, n, 2)` loop with `lo = m`: the plan's copy of the trip count,
    len(range(lo, n, 2)), was taken before copy propagation renamed the loop's `lo` to `m` and dropped `lo = m`
    (NameError: name 'lo' is not defined). The snapshots' count is now read off the loop as it is."""
    a = np.array([0.3, 0.5, -1.1, 0.4, 0.9])
    want = check_grad(stepped_from_a_copy, [0.8, a], wrt=(0, 1), jit=jit)
    for k in (1, 2, 10):
        got = srcdiff.grad(stepped_from_a_copy, wrt=(0, 1), jit=jit, checkpoints=k)(0.8, a)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def reshaped_state(a, m):
    for i in range(3):
        a = np.tanh(np.reshape(m @ a, (2,))) + 0.5 * a
    return np.sum(a * a)


def diagonal_state(a, m):
    for i in range(3):
        a = np.tanh(np.diag(np.outer(m @ a, a))) + 0.5 * a    # (np.diag of a matrix: a vector, kind law "diag")
    return np.sum(a * a)


def checkpoint_user_product(u, v):   # a user primitive (srcdiff.adjoint): its kind is unknown (kind law "dynamic")
    return u * v


srcdiff.adjoint(checkpoint_user_product, vjp=("g * v", "g * u"))


def user_rule_state(a, m):
    for i in range(3):
        a = np.tanh(checkpoint_user_product(m @ a, a)) + 0.5 * a
    return np.sum(a * a)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [reshaped_state, diagonal_state, user_rule_state], ids=lambda f: f.__name__)
def test_a_checkpointed_loop_whose_state_comes_from_reshape_or_an_unknown_kind(f, jit):
    """Fuzz seed 450970 under jit, checkpoints=1: np.reshape had no kind law, so the loop's carried `a` had no kind,
    and its snapshots were `[None] * n`, which Numba types as a list of none ("invalid setitem with value of
    array(float64, 1d, A) to element of none"). np.reshape's kind is now the rank of its literal shape (np.diag's
    is a vector for a matrix), and a snapshot of a value of unknown kind (the result of a user's primitive,
    registered with srcdiff.adjoint and no kind) is a list of the value's own type, `[a] * n`."""
    args = [np.array([0.3, -0.8]), np.array([[1.5, 0.2], [-0.3, 1.1]])]
    _, taped = _grads(f, args, (0, 1), jit, None)
    g, got = _grads(f, args, (0, 1), jit, 1)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], taped[k], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[k], numerical_grad(f, args, k), rtol=1e-6, atol=1e-8)
    if jit:
        python = srcdiff.grad(f, wrt=(0, 1), checkpoints=1)(*args)
        for k in (0, 1):
            np.testing.assert_allclose(got[k], python[k], rtol=1e-12, atol=1e-14)
    assert "a_snapshots = " in srcdiff.source(g)
    assert ("a_snapshots = [a] *" in srcdiff.source(g)) == (f is user_rule_state)


def test_a_snapshot_of_a_name_not_bound_yet_is_restored_unbound():
    """A checkpointed loop snapshots the first item that an array of a comprehension keeps (desugar) at each
    segment's start, where in Python it may still be None: rt.put_row failed ('NoneType' object has no attribute
    'ndim', fuzz seed 950411: checkpoints=3, the gradient called again with other kinds of its arguments). The row
    notes None, and restoring it gives None back; rows of arrays around it keep their numbers."""
    from srcdiff import runtime as rt
    tape = rt.row_tape(3)
    tape = rt.put_row(tape, 0, None)
    tape = rt.put_row(tape, 1, np.array([1.5, -2.0]))
    like = np.zeros(2)
    assert rt.get_row(tape, 0, like) is None
    np.testing.assert_array_equal(rt.get_row(tape, 1, like), [1.5, -2.0])


def _decay(a, n):
    y = 1.0
    for t in range(n):
        y = y + 0.1 * np.sin(a * y)
    return y


_DECAY_CHECKPOINTED = srcdiff.grad(_decay, checkpoints=3)


def _uses_checkpointed(a):
    return _DECAY_CHECKPOINTED(a, 10) ** 2


@pytest.mark.parametrize("how", ["grad of a caller", "hvp", "jvp"])
def test_a_checkpointed_gradient_is_not_differentiated_again(how):
    """README: a checkpointed gradient is not differentiated again nor called inside a function srcdiff
    differentiates: declined naming the function and its file, with advice (the taped gradient there)."""
    make = {"grad of a caller": lambda: srcdiff.grad(_uses_checkpointed)(0.3),
            "hvp": lambda: srcdiff.hvp(_DECAY_CHECKPOINTED)(0.3, 10, 1.0),
            "jvp": lambda: srcdiff.jvp(_DECAY_CHECKPOINTED)(0.3, 10, 1.0)}[how]
    with pytest.raises(srcdiff.SrcdiffError) as err:
        make()
    msg = str(err.value)
    assert "checkpoints=3" in msg and "not differentiated again" in msg and "test_checkpoints.py" in msg, msg
    assert "without checkpoints=" in msg, msg


def isclose_masked(a, b, n):
    s = 0.0
    for t in range(n):
        s = 0.5 * s + np.sum(np.where(np.isclose(a * t, b, atol=0.1), a, b) ** 2)
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("k", [None, 1, 2], ids=["taped", "k1", "k2"])
def test_a_loop_taping_a_mask_of_np_isclose(k, jit):
    """np.isclose of two arrays is, under Numba, a read-only view of a broadcast: the stack its mask was pushed
    on, typed writable from an example (rt.stack_of), did not compile (Numba's AssertionError in its list cast,
    fuzz seed 66 with checkpoints=2; taped loops too). Its stack is typed read-only (memory_sharing.read_only_names)."""
    a, b = np.array([0.3, -1.2, 0.8]), np.array([0.65, -1.0, 0.0])
    g = srcdiff.grad(isclose_masked, wrt=(0, 1), jit=jit, checkpoints=k)(a, b, 3)
    for i in range(2):
        np.testing.assert_allclose(g[i], numerical_grad(isclose_masked, [a, b, 3], i), rtol=1e-6, atol=1e-8)
