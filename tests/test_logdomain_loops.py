"""Whole carried loops (transforms/logdomain_loops.py, runtime/logdomain_steps.py): a carried
recursion's loop that is only its step becomes one call running every step, and its backward loop one call of
the steps' adjoints. The kernels give the per-step loop's results (the same arithmetic), the
rewrite fires only on loops that are nothing else, and gradients agree with the Python backend and central
differences, at the edges too (no step, one step, indices out of range)."""
import numba
import numpy as np
import pytest
from scipy.special import logsumexp

import srcdiff
from srcdiff import runtime as rt
from gradcheck import check_grad


def _problem(K=4, V=5, T=30, seed=0, deep=False):
    rng = np.random.default_rng(seed)
    log_pi = np.log(rng.dirichlet(np.ones(K)))
    log_A = np.log(rng.dirichlet(np.ones(K), size=K))
    log_B = np.log(rng.dirichlet(np.ones(V), size=K))
    if deep:        # a state reached only from itself, emitting everything with probability e^-900: exact steps
        log_A[[0, 2, 3], 1] = -np.inf
        log_B[1] -= 900.0
    return log_pi, log_A, log_B, rng.integers(0, V, T)


# ---------------------------------------------------------------- the kernels against the per-step loop

@numba.njit
def _per_step(log_pi, log_A, log_B, y, g0, matvec, indexed, with_M, with_X):
    """Forward steps then their adjoints, a call a step (the loop the kernels replace)."""
    E = rt.exp_shifted(log_A, 1 if matvec else 0)
    X = log_B.T[y] if not indexed else log_B.T.copy()
    EX = rt.exp_shifted(X, 1)
    n = y.shape[0]
    S = rt.carry_start(E, n - 1, log_pi + X[y[0]] if indexed else log_pi + X[0])
    for t in range(1, n):
        u = y[t] if indexed else t
        if matvec:
            rt.logsumexp_matvec_step(S, t - 1, log_A, E, X[u], rt.table_at(EX, u))
        else:
            rt.logsumexp_vecmat_step(S, t - 1, log_A, E, X[u], rt.table_at(EX, u))
    forward = S.copy()
    d_M = np.zeros_like(log_A)
    d_X = np.zeros_like(X)
    g = g0
    for t in range(n - 1, 0, -1):
        u = y[t] if indexed else t
        if with_X:
            d_X[u] += g
        if matvec and with_M:
            g = rt.logsumexp_matvec_step_adjoints(g, S, t - 1, log_A, E, d_M)
        elif matvec:
            g = rt.logsumexp_matvec_step_grad_v(g, S, t - 1, log_A, E)
        elif with_M:
            g = rt.logsumexp_vecmat_step_adjoints(g, S, t - 1, log_A, E, d_M)
        else:
            g = rt.logsumexp_vecmat_step_grad_v(g, S, t - 1, log_A, E)
    return forward, S, g, d_M, d_X


def _steps_run(log_pi, log_A, X, EX, y, g0, matvec, idx, d_M, d_X):
    """The same by the kernels (idx, d_M, d_X: None or arrays), in plain Python or compiled."""
    E = rt.exp_shifted(log_A, 1 if matvec else 0)
    n = y.shape[0]
    S = rt.carry_start(E, n - 1, log_pi + X[y[0]] if idx is not None else log_pi + X[0])
    if matvec:
        rt.logsumexp_matvec_steps(S, 1, n, log_A, E, X, EX, idx)
    else:
        rt.logsumexp_vecmat_steps(S, 1, n, log_A, E, X, EX, idx)
    forward = S.copy()      # (the adjoints go into the tape's slots of exact log values)
    if matvec:
        g = rt.logsumexp_matvec_steps_adjoints(g0, S, 1, n, log_A, E, d_M, d_X, idx)
    else:
        g = rt.logsumexp_vecmat_steps_adjoints(g0, S, 1, n, log_A, E, d_M, d_X, idx)
    return forward, S, g


_steps_run_nb = numba.njit(_steps_run)


@numba.njit
def _nb_states(S, like):
    """The carried vector (log values) of every row of carry tape S."""
    out = np.empty((S.shape[0], like.shape[0]))
    for k in range(S.shape[0]):
        out[k] = rt.carry_end(S, k, like)
    return out


def _whole(log_pi, log_A, log_B, y, g0, matvec, indexed, with_M, with_X, jit=True):
    X = log_B.T if indexed else log_B.T[y]
    d_M, d_X = np.zeros_like(log_A), np.zeros_like(X)
    run = _steps_run_nb if jit else _steps_run
    forward, S, g = run(log_pi, log_A, X, rt.exp_shifted(X, 1), y, g0, matvec, y if indexed else None,
                        d_M if with_M else None, d_X if with_X else None)
    return forward, S, g, d_M, d_X


@pytest.mark.parametrize("matvec, indexed, with_M, with_X", [(False, True, True, True), (True, False, True, True),
                                                             (False, False, False, False), (True, True, False, True)],
                         ids=["vecmat-indexed-both", "matvec-counter-both", "vecmat-v-only", "matvec-indexed-no-M"])
@pytest.mark.parametrize("deep", [False, True], ids=["ordinary", "exact-steps"])
def test_steps_kernels_equal_the_per_step_loop(matvec, indexed, with_M, with_X, deep):
    """rt.logsumexp_*_steps(_adjoints) compute what a loop of rt.logsumexp_*_step(_adjoints) computes, the same
    arithmetic, also where steps take the exact log-domain formula; the plain-Python kernels (the log-domain
    formula) agree to rounding."""
    log_pi, log_A, log_B, y = _problem(T=40, seed=3, deep=deep)
    g0 = np.exp(np.random.default_rng(1).normal(size=4))
    ref = _per_step(log_pi, log_A, log_B, y, g0, matvec, indexed, with_M, with_X)
    got = _whole(log_pi, log_A, log_B, y, g0, matvec, indexed, with_M, with_X)
    for mine, theirs in zip(got, ref):       # (to rounding: LLVM may contract the inlined loop's sums otherwise)
        np.testing.assert_allclose(mine, theirs, rtol=1e-13, atol=1e-15)
    python = _whole(log_pi, log_A, log_B, y, g0, matvec, indexed, with_M, with_X, jit=False)
    K = log_pi.shape[0]
    np.testing.assert_allclose(_nb_states(got[0], log_pi), python[0][:, K:2 * K], rtol=1e-11)
    for mine, theirs in zip(got[2:], python[2:]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("K", [1, 2, 3, 5, 8, 20])
@pytest.mark.parametrize("matvec", [False, True], ids=["vecmat", "matvec"])
def test_steps_kernels_equal_the_per_step_loop_at_every_size(K, matvec):
    """The whole loops write their step out (a loop of their own, not the per-step kernels' functions): the same
    arithmetic at every K, small or not, with forbidden transitions, symbols of probability 0 in some states
    (entries a_i = 0 of the scaled state) and a state whose emissions are e^-900 (steps that take the exact
    formula, their adjoints the direct one), and with an adjoint of float32 (taken to float64 on the way)."""
    log_pi, log_A, log_B, y = _problem(K=K, V=6, T=80, seed=K)
    if K > 1:
        log_A[0, K - 1] = -np.inf
        log_B[K - 1, 2] = -np.inf
        log_B[1, y[30:40]] -= 900.0
    g0 = np.exp(np.random.default_rng(K).normal(size=K)).astype(np.float32).astype(np.float64)
    ref = _per_step(log_pi, log_A, log_B, y, g0, matvec, True, True, True)
    got = _whole(log_pi, log_A, log_B, y, g0, matvec, True, True, True)
    for mine, theirs in zip(got, ref):
        assert np.isfinite(mine[np.isfinite(theirs)]).all()
        np.testing.assert_allclose(mine, theirs, rtol=1e-13, atol=1e-15)
    single = _whole(log_pi, log_A, log_B, y, g0.astype(np.float32), matvec, True, True, True)
    for mine, theirs in zip(single, got):
        np.testing.assert_array_equal(mine, theirs)


def test_steps_kernels_of_float32():
    """float32 parameters: the adjoints' loop in float32 (a step's adjoint an array of its own), forward and
    backward as the per-step kernels' to float32 rounding."""
    log_pi, log_A, log_B, y = (a.astype(np.float32) if a.dtype == np.float64 else a for a in _problem(T=40, seed=3))
    g0 = np.exp(np.random.default_rng(1).normal(size=4)).astype(np.float32)
    for matvec in (False, True):
        ref = _per_step(log_pi, log_A, log_B, y, g0, matvec, True, True, True)
        got = _whole(log_pi, log_A, log_B, y, g0, matvec, True, True, True)
        assert got[2].dtype == np.float32
        for mine, theirs in zip(got, ref):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@numba.njit
def _steps_from(S, first, stop, log_A, E, X, EX, idx):
    rt.logsumexp_vecmat_steps(S, first, stop, log_A, E, X, EX, idx)


@numba.njit
def _adjoints_from(g, S, first, stop, log_A, E, d_M, d_X, idx):
    return rt.logsumexp_vecmat_steps_adjoints(g, S, first, stop, log_A, E, d_M, d_X, idx)


def test_steps_kernels_check_their_indices():
    """An index out of the added vector's array, a counter out of the index array, more steps than the tape
    has rows: IndexError, not a read past an array. Negative indices count from the end, as in Python."""
    log_pi, log_A, log_B, y = _problem(T=6)
    E, X = rt.exp_shifted(log_A, 0), log_B.T
    EX = rt.exp_shifted(X, 1)
    S = rt.carry_start(E, 5, log_pi)
    for idx, first, stop in [(np.array([0, 1, 2, 5, 1, 0]), 1, 6), (y, 1, 7), (y, -7, -1)]:
        with pytest.raises(IndexError):
            _steps_from(S, first, stop, log_A, E, X, EX, idx)
    with pytest.raises(IndexError):
        _steps_from(rt.carry_start(E, 3, log_pi), 1, 6, log_A, E, X, EX, y)
    with pytest.raises(IndexError):
        _adjoints_from(np.ones(4), S, 1, 6, log_A, E, np.zeros((4, 4)), X.copy(), np.array([0, 1, 2, 9, 1, 0]))
    wrapped = np.array([0, -1, -2, -3, -4, -5])
    S1, S2 = rt.carry_start(E, 5, log_pi), rt.carry_start(E, 5, log_pi)
    _steps_from(S1, 1, 6, log_A, E, X, EX, wrapped)
    _steps_from(S2, 1, 6, log_A, E, X, EX, wrapped % 5)
    np.testing.assert_array_equal(S1, S2)


def test_steps_kernels_check_their_shapes():
    """An added vector's array, its table or an adjoint of another length than the matrix's: ValueError (the
    shapes are checked once, before the first step), not a read past an array."""
    log_pi, log_A, log_B, y = _problem(T=6)
    E, X = rt.exp_shifted(log_A, 0), log_B.T
    EX = rt.exp_shifted(X, 1)
    S = rt.carry_start(E, 5, log_pi)
    with pytest.raises(ValueError):
        _steps_from(S, 1, 6, log_A, E, X[:, :3].copy(), rt.exp_shifted(X[:, :3].copy(), 1), y)
    with pytest.raises(ValueError):
        _steps_from(S, 1, 6, log_A, E, X, rt.exp_shifted(X[:, :3].copy(), 1), y)
    _steps_from(S, 1, 6, log_A, E, X, EX, y)
    with pytest.raises(ValueError):
        _adjoints_from(np.ones(3), S, 1, 6, log_A, E, np.zeros((4, 4)), X.copy(), y)


def test_steps_adjoints_of_no_step_is_the_adjoint_itself():
    log_pi, log_A, log_B, y = _problem(T=1)
    E = rt.exp_shifted(log_A, 0)
    S = rt.carry_start(E, 0, log_pi)
    g = np.arange(4.0)
    out = _adjoints_from(g, S, 1, 1, log_A, E, np.zeros((4, 4)), log_B.T.copy(), y)
    np.testing.assert_array_equal(out, g)


# ---------------------------------------------------------------- the rewrite in generated code

def forward_recursion(log_pi, log_A, log_B, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha)


def observed_recursion(log_pi, log_A, log_b):
    log_alpha = log_pi + log_b[0]
    for t in range(1, log_b.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_b[t]
    return logsumexp(log_alpha)


def reversed_recursion(log_pi, log_A, log_B, y):
    T = y.shape[0]
    log_beta = log_B[:, y[T - 1]]
    for s in range(1, T):
        log_beta = logsumexp(log_A + log_beta[None, :], axis=1) + log_B[:, y[T - 1 - s]]
    return logsumexp(log_pi + log_beta)


def symbol_also_counted(log_pi, log_A, log_B, y):
    """The loop reads its symbol for something else too: not only the step, so a step a call."""
    log_alpha = log_pi + log_B[:, y[0]]
    total = 0.0
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
        total = total + log_B[0, y[t]]
    return logsumexp(log_alpha) + 0.5 * total


def counter_read_after(log_pi, log_A, log_B, y):
    """The loop's counter is read after it: the loop stays (the one call binds no counter)."""
    log_alpha = log_pi + log_B[:, y[0]]
    t = 0
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha) * (t + 1.0) / y.shape[0]


def _args(fn, T=30, deep=False):
    log_pi, log_A, log_B, y = _problem(T=T, seed=7, deep=deep)
    if fn is observed_recursion:
        return [log_pi, log_A, 2.0 * log_B[:, y].T.copy()]
    return [log_pi, log_A, 2.0 * log_B, y]


@pytest.mark.parametrize("fn, steps", [(forward_recursion, "rt.logsumexp_vecmat_steps("),
                                       (observed_recursion, "rt.logsumexp_vecmat_steps("),
                                       (reversed_recursion, None), (symbol_also_counted, None),
                                       (counter_read_after, None)],
                         ids=lambda x: getattr(x, "__name__", "-"))
def test_loops_that_are_only_the_step_become_one_call(fn, steps):
    """A carried loop that is only its step and its backward loop become one call each (no `for` left);
    loops that are anything more (a symbol read elsewhere, an index the rewrite does not follow: y[T - 1 - s])
    keep a call a step. Gradients: the Python backend's and central differences."""
    args = _args(fn)
    vg = srcdiff.value_and_grad(fn, wrt=(0, 1, 2), jit=True)
    value, grads = vg(*args)
    src = srcdiff.source(vg)
    code = [line for line in src.splitlines() if not line.strip().startswith("#")]
    if steps:
        assert src.count(steps) == 1 and src.count(steps[:-1] + "_adjoints(") == 1, src
        assert not any(line.strip().startswith("for ") for line in code), src
    else:
        assert "_step(" in src and "_steps(" not in src and "_steps_adjoints(" not in src, src
    python = srcdiff.value_and_grad(fn, wrt=(0, 1, 2))(*args)
    assert value == pytest.approx(python[0], rel=1e-12)
    for mine, theirs in zip(grads, python[1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    check_grad(fn, args, wrt=(0, 1, 2), jit=True, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("T", [1, 2, 3])
def test_whole_loops_of_no_step_and_one_step(T):
    args = _args(forward_recursion, T=T)
    vg = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2), jit=True)
    value, grads = vg(*args)
    python = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2))(*args)
    assert value == pytest.approx(python[0], rel=1e-12)
    for mine, theirs in zip(grads, python[1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_whole_loops_keep_the_exact_steps():
    """Where probabilities underflow (steps that take the exact log-domain formula) the one-call loops give the
    log-domain recursion's value and gradient (the Python backend) to rounding."""
    args = _args(forward_recursion, T=300, deep=True)
    vg = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2), jit=True)
    value, grads = vg(*args)
    assert "rt.logsumexp_vecmat_steps(" in srcdiff.source(vg)
    python = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2))(*args)
    assert np.isfinite(value) and value == pytest.approx(python[0], rel=1e-12)
    for mine, theirs in zip(grads, python[1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def test_symbol_out_of_range_raises_index_error():
    """A symbol past log_B's columns: IndexError from the one-call loop, as from the Python backend."""
    args = _args(forward_recursion, T=10)
    args[3] = args[3].copy()
    args[3][4] = 5
    with pytest.raises(IndexError):
        srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2))(*args)
    with pytest.raises((IndexError, srcdiff.SrcdiffError)):
        srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2), jit=True)(*args)
