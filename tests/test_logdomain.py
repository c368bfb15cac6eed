"""Log-domain products (transforms/logdomain.py, runtime/logdomain.py): a loop's
logsumexp(v[:, None] + M, axis=0) with M loop-invariant becomes rt.logsumexp_vecmat with exp(M)
hoisted. The kernels are checked against the direct formula at ordinary and extreme inputs (where
the scaled form would underflow or overflow), the rewrite is checked to fire only where M cannot
change, and gradients (first and second order) against finite differences in both backends."""
import warnings

import numba
import numpy as np
import pytest
from scipy.special import logsumexp

import srcdiff
from srcdiff import runtime as rt
from gradcheck import check_grad


# ---------------------------------------------------------------- kernels against the direct formula

def _direct(v, M, axis):
    x = v[:, None] + M if axis == 0 else M + v[None, :]
    return x, rt.logsumexp(x, axis)


@numba.njit
def _nb_vecmat(v, M, g):
    E = rt.exp_shifted(M, 0)
    ans = rt.logsumexp_vecmat(v, M, E)
    return ans, rt.logsumexp_vecmat_grad_v(g, v, M, E, ans), rt.logsumexp_vecmat_grad_M(g, v, M, E, ans)


@numba.njit
def _nb_vecmat_fused(v, M, g, d_M):
    E = rt.exp_shifted(M, 0)
    return rt.logsumexp_vecmat_adjoints(g, v, M, E, rt.logsumexp_vecmat(v, M, E), d_M)


@numba.njit
def _nb_matvec_fused(M, v, g, d_M):
    E = rt.exp_shifted(M, 1)
    return rt.logsumexp_matvec_adjoints(g, M, v, E, rt.logsumexp_matvec(M, v, E), d_M)


def _py_vecmat_fused(v, M, g, d_M):
    E = rt.exp_shifted(M, 0)
    return rt.logsumexp_vecmat_adjoints(g, v, M, E, rt.logsumexp_vecmat(v, M, E), d_M)


def _py_matvec_fused(M, v, g, d_M):
    E = rt.exp_shifted(M, 1)
    return rt.logsumexp_matvec_adjoints(g, M, v, E, rt.logsumexp_matvec(M, v, E), d_M)


@numba.njit
def _nb_matvec(M, v, g):
    E = rt.exp_shifted(M, 1)
    ans = rt.logsumexp_matvec(M, v, E)
    return ans, rt.logsumexp_matvec_grad_v(g, M, v, E, ans), rt.logsumexp_matvec_grad_M(g, M, v, E, ans)


def _py_vecmat(v, M, g):
    E = rt.exp_shifted(M, 0)
    ans = rt.logsumexp_vecmat(v, M, E)
    return ans, rt.logsumexp_vecmat_grad_v(g, v, M, E, ans), rt.logsumexp_vecmat_grad_M(g, v, M, E, ans)


def _py_matvec(M, v, g):
    E = rt.exp_shifted(M, 1)
    ans = rt.logsumexp_matvec(M, v, E)
    return ans, rt.logsumexp_matvec_grad_v(g, M, v, E, ans), rt.logsumexp_matvec_grad_M(g, M, v, E, ans)


def _cases():
    rng = np.random.default_rng(7)
    I, J = 4, 3
    base = lambda: (rng.normal(size=I), rng.normal(size=(I, J)))  # noqa: E731
    out = {}
    out["random"] = base()
    v, M = base()
    M[rng.random((I, J)) < 0.4] = -np.inf          # forbidden transitions
    M[0, :] = 0.0
    out["forbidden"] = (v, M)
    v, M = base()
    v[[0, 2]] = -np.inf                              # unreachable states
    out["v_minus_inf"] = (v, M)
    out["all_v_minus_inf"] = (np.full(I, -np.inf), rng.normal(size=(I, J)))
    v, M = base()
    M[:, 1] = -np.inf                                # a column that nothing reaches
    out["column_minus_inf"] = (v, M)
    v, M = base()
    M[2, 0] = np.inf
    out["plus_inf"] = (v, M)
    v, M = base()                                    # scaled products underflow: only the direct
    v[:] = [0.0, -1000.0, -2000.0, -1500.0]          # formula sees the dominant term
    M[:, 0] = [-1200.0, 0.0, 5.0, -3.0]
    out["underflow"] = (v, M)
    v, M = base()
    out["huge"] = (v * 300.0 + 700.0, M * 300.0 + 800.0)
    out["single"] = (np.array([0.3]), np.array([[1.5, -np.inf]]))
    # more rows than the kernels' inline-exponential threshold (runtime/logdomain._FEW)
    v, M = rng.normal(size=12), rng.normal(size=(12, 7))
    M[rng.random((12, 7)) < 0.3] = -np.inf
    v[3] = -np.inf
    out["many_rows_forbidden"] = (v, M)
    v, M = rng.normal(size=12) * 400.0, rng.normal(size=(12, 7)) * 400.0
    out["many_rows_underflow"] = (v, M)
    out["many_rows_all_minus_inf"] = (np.full(12, -np.inf), rng.normal(size=(12, 7)))
    return out


CASES = _cases()


@pytest.mark.parametrize("impl", ["python", "numba"])
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("axis", [0, 1])
def test_kernels_match_direct_formula(name, axis, impl):
    v, M = CASES[name]
    if axis == 1:
        M = np.ascontiguousarray(M.T)
    rng = np.random.default_rng(3)
    x, expect = _direct(v, M, axis)
    g = rng.normal(size=expect.shape)
    fns = {(0, "python"): _py_vecmat, (0, "numba"): _nb_vecmat, (1, "python"): _py_matvec, (1, "numba"): _nb_matvec}
    with np.errstate(all="ignore"):
        ans, gv, gM = fns[axis, impl](*((v, M, g) if axis == 0 else (M, v, g)))
        wM = rt.logsumexp_grad(g, x, expect, axis)
    np.testing.assert_allclose(ans, expect, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gM, wM, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(gv, np.sum(wM, axis=1 - axis), rtol=1e-11, atol=1e-14)
    # the fused form: the adjoint of v returned, the adjoint of M added into an existing array
    fused = {(0, "python"): _py_vecmat_fused, (0, "numba"): _nb_vecmat_fused, (1, "python"): _py_matvec_fused,
             (1, "numba"): _nb_matvec_fused}[axis, impl]
    d_M = np.full(M.shape, 0.5)
    with np.errstate(all="ignore"):
        gv2 = fused(*((v, M, g, d_M) if axis == 0 else (M, v, g, d_M)))
    np.testing.assert_allclose(gv2, gv, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_M, 0.5 + wM, rtol=1e-11, atol=1e-14)
    finite = np.isfinite(expect)
    assert np.all(np.isfinite(gM[:, finite] if axis == 0 else gM[finite]))
    if name == "forbidden":
        assert np.all(gM[M == -np.inf] == 0.0)   # exact zeros, never NaN



@numba.njit
def _nb_vecmat_scaled(v, M, g, d_M):
    E = rt.exp_shifted(M, 0)
    S = rt.scale_tape(E, 3)
    S[:] = np.nan                                # rows the product does not write are never read
    ans = rt.logsumexp_vecmat_scaled(v, M, E, S, 1)
    return (ans, rt.logsumexp_vecmat_grad_v_scaled(g, v, M, E, ans, S, 1),
            rt.logsumexp_vecmat_grad_M_scaled(g, v, M, E, ans, S, 1),
            rt.logsumexp_vecmat_adjoints_scaled(g, v, M, E, ans, d_M, S, 1))


@numba.njit
def _nb_matvec_scaled(M, v, g, d_M):
    E = rt.exp_shifted(M, 1)
    S = rt.scale_tape(E, 3)
    S[:] = np.nan
    ans = rt.logsumexp_matvec_scaled(M, v, E, S, 1)
    return (ans, rt.logsumexp_matvec_grad_v_scaled(g, M, v, E, ans, S, 1),
            rt.logsumexp_matvec_grad_M_scaled(g, M, v, E, ans, S, 1),
            rt.logsumexp_matvec_adjoints_scaled(g, M, v, E, ans, d_M, S, 1))


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("axis", [0, 1])
def test_scaled_kernels_match_direct_formula(name, axis):
    """The forward kernel keeping its scales on a tape row, and the adjoints read from it (no exponential
    of their own), against the direct formula at every extreme case (columns that took the direct
    formula are marked on the tape)."""
    v, M = CASES[name]
    if axis == 1:
        M = np.ascontiguousarray(M.T)
    g = np.random.default_rng(3).normal(size=M.shape[1 - axis])
    x, expect = _direct(v, M, axis)
    d_M = np.full(M.shape, 0.5)
    with np.errstate(all="ignore"):
        wM = rt.logsumexp_grad(g, x, expect, axis)
        ans, gv, gM, gv2 = (_nb_vecmat_scaled(v, M, g, d_M) if axis == 0 else _nb_matvec_scaled(M, v, g, d_M))
    np.testing.assert_allclose(ans, expect, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gM, wM, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(gv, np.sum(wM, axis=1 - axis), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(gv2, gv, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d_M, 0.5 + wM, rtol=1e-11, atol=1e-14)
    if name == "forbidden":
        assert np.all(gM[M == -np.inf] == 0.0)

def test_kernels_float32():
    rng = np.random.default_rng(1)
    v, M, g = rng.normal(size=5).astype(np.float32), rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=4)
    ans, gv, gM = _nb_vecmat(v, M, g)
    assert ans.dtype == np.float32 and gM.dtype == np.float32
    x = v.astype(float)[:, None] + M
    np.testing.assert_allclose(ans, logsumexp(x, axis=0), rtol=1e-6)
    np.testing.assert_allclose(gM, rt.logsumexp_grad(g, x, logsumexp(x, axis=0), 0), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the rewrite in generated code

def forward_recursion(log_pi, log_A, log_B, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha)


def matrix_first(log_pi, log_A, log_B, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_A + np.expand_dims(log_alpha, -1), axis=-2) + log_B[:, y[t]]
    return logsumexp(log_alpha)


def backward_recursion(log_pi, log_A, log_B, y):
    log_beta = np.zeros(log_pi.shape[0])
    for t in range(y.shape[0] - 1, 0, -1):
        log_beta = logsumexp(log_A + (log_B[:, y[t]] + log_beta), axis=1)
    return logsumexp(log_pi + log_B[:, y[0]] + log_beta)


def row_broadcast_in_while(log_pi, log_A, log_B, y):
    log_beta = np.zeros(log_pi.shape[0])
    t = y.shape[0] - 1
    while t > 0:
        log_beta = logsumexp(log_A + (log_B[:, y[t]] + log_beta)[None, :], axis=-1)
        t -= 1
    return logsumexp(log_pi + log_B[:, y[0]] + log_beta)


def nested_loops(log_pi, log_A, log_B, y):
    total = 0.0
    for s in range(2):
        log_alpha = log_pi + log_B[:, y[s]]
        for t in range(s + 1, y.shape[0]):
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
        total = total + logsumexp(log_alpha)
    return total


def matrix_changes_in_loop(log_pi, log_A, log_B, y):
    A = log_A * 1.0
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + A, axis=0) + log_B[:, y[t]]
        A = A * 0.9
    return logsumexp(log_alpha)


def matrix_written_in_place(log_pi, log_A, log_B, y):
    A = np.copy(log_A)
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + A, axis=0) + log_B[:, y[t]]
        A[0, 0] = A[0, 0] - 0.1 * log_alpha[0]
    return logsumexp(log_alpha)


def view_of_written_array(log_pi, log_A, log_B, y):
    W = np.copy(log_A)
    A = W.T
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + A, axis=0) + log_B[:, y[t]]
        W[1, 0] = W[1, 0] + 0.05 * log_alpha[1]
    return logsumexp(log_alpha)


def _problem(K=3, V=4, T=6, seed=0, forbidden=False):
    rng = np.random.default_rng(seed)
    log_pi = np.log(rng.dirichlet(np.ones(K)))
    A = rng.dirichlet(np.ones(K), size=K)
    if forbidden:
        A[0, 1] = A[2, 0] = 0.0
        A /= A.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_A = np.log(A)
    log_B = np.log(rng.dirichlet(np.ones(V), size=K))
    return log_pi, log_A, log_B, rng.integers(0, V, T)


def _carried(src, product, role=""):
    """How many calls of `product`'s carried step (role "" or "_adjoints": its adjoints) src makes, one a step
    (rt.logsumexp_vecmat_step) or one for the whole loop (rt.logsumexp_vecmat_steps)."""
    return src.count(f"{product}_step{role}(") + src.count(f"{product}_steps{role}(")


REWRITTEN = {forward_recursion: "rt.logsumexp_vecmat(", matrix_first: "rt.logsumexp_vecmat(",
             backward_recursion: "rt.logsumexp_matvec(", row_broadcast_in_while: "rt.logsumexp_matvec(",
             nested_loops: "rt.logsumexp_vecmat("}
KEPT = [matrix_changes_in_loop, matrix_written_in_place]


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("fn", list(REWRITTEN) + KEPT, ids=lambda f: f.__name__)
def test_rewrite_fires_where_safe_and_gradients_match(fn, jit):
    args = _problem()
    g = srcdiff.grad(fn, wrt=(0, 1, 2), jit=jit)
    check_grad(fn, args, wrt=(0, 1, 2), jit=jit, rtol=1e-6, atol=1e-8)
    g(*args)
    src = srcdiff.source(g)
    if fn in REWRITTEN:      # (jitted: the product keeps its scales for its adjoint, rt.logsumexp_vecmat_scaled,
        # or its vector is carried in the probability domain, rt.logsumexp_vecmat_step, or the whole loop
        # is one call of the steps, rt.logsumexp_vecmat_steps)
        assert (REWRITTEN[fn] in src or jit and (REWRITTEN[fn][:-1] + "_scaled(" in src
                                                 or _carried(src, REWRITTEN[fn][:-1]))) and "rt.exp_shifted(" in src
        hoist = src.index("rt.exp_shifted(")
        loop = min(src.find(mark) % (len(src) + 1) for mark in ("\n    for ", "\n    while ", "_steps("))
        assert hoist < loop, "the table of exponentials is computed before the loop"
        assert src.count("rt.exp_shifted(log_A, ") == 1   # (and, jitted, one of the emissions: exp_shifted(log_B.T, 1))
    else:
        assert "rt.logsumexp_vecmat(" not in src and "rt.exp_shifted(" not in src


def test_view_of_array_written_in_place_is_declined():
    """A = W.T read after W is written: declined (transforms/aliasing.py) before any rewrite."""
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory") as info:
        srcdiff.grad(view_of_written_array, wrt=(0, 1, 2))(*_problem())
    assert "W[1, 0] = W[1, 0] + 0.05 * log_alpha[1]" in str(info.value) and "hint:" in str(info.value)


def test_rewrite_reads_like_the_forward_algorithm():
    vg = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2))
    vg(*_problem())
    src = srcdiff.source(vg)
    assert "exp_log_A = rt.exp_shifted(log_A, 0)" in src
    assert "rt.logsumexp_vecmat(log_alpha, log_A, exp_log_A)" in src
    # both adjoints in one pass, adding into the transition-count adjoint
    assert "d_log_alpha = rt.logsumexp_vecmat_adjoints(" in src and ", d_log_A)" in src
    assert "rt.logsumexp_vecmat_grad_M(" not in src
    # the emission column is a view of an array nothing writes: taken again, not stored
    assert "log_B[:, " in src.split("# backward sweep")[1] and src.count("_stack = []") == 2


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_forbidden_transitions_exact_zero_counts(jit):
    args = _problem(K=3, T=40, seed=2, forbidden=True)
    value, (_, d_log_A, _) = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2), jit=jit)(*args)
    assert np.isfinite(value) and np.all(np.isfinite(d_log_A))
    assert d_log_A[0, 1] == 0.0 and d_log_A[2, 0] == 0.0
    np.testing.assert_allclose(d_log_A.sum(), 39.0, rtol=1e-12)   # T - 1 expected transitions


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_hvp_through_log_domain_products(jit):
    """Forward over reverse differentiates the generated kernels' calls (their jvp rules)."""
    args = _problem(K=3, T=5, seed=4)
    v = np.random.default_rng(5).normal(size=args[1].shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hv = srcdiff.hvp(forward_recursion, wrt=1, jit=jit)(*args, v)
    grad_A = lambda *a: srcdiff.grad(forward_recursion, wrt=1)(*a)  # noqa: E731
    eps = 1e-5
    plus, minus = list(args), list(args)
    plus[1], minus[1] = args[1] + eps * v, args[1] - eps * v
    expect = (grad_A(*plus) - grad_A(*minus)) / (2 * eps)
    np.testing.assert_allclose(hv, expect, rtol=1e-5, atol=1e-7)
    # and the directional derivative of the value agrees with the gradient
    value, tangent = srcdiff.jvp(forward_recursion, wrt=1)(*args, v)
    np.testing.assert_allclose(tangent, np.sum(grad_A(*args) * v), rtol=1e-10)


# ---- input-output HMMs: the matrix is picked from an invariant stack by an input symbol -------------------
def io_forward_recursion(log_pi, log_A, log_B, u, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A[u[t]], axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha)


def io_backward_recursion(log_pi, log_A, log_B, u, y):
    log_beta = np.zeros(log_pi.shape[0])
    for t in range(y.shape[0] - 1, 0, -1):
        log_beta = logsumexp(log_A[u[t]] + (log_B[:, y[t]] + log_beta), axis=1)
    return logsumexp(log_pi + log_B[:, y[0]] + log_beta)


def io_stack_changes_in_loop(log_pi, log_A, log_B, u, y):
    S = log_A * 1.0
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + S[u[t]], axis=0) + log_B[:, y[t]]
        S = S * 0.9
    return logsumexp(log_alpha)


def _io_problem(K=3, U=2, V=4, T=7, seed=0, forbidden=False):
    log_pi, _, log_B, y = _problem(K, V, T, seed)
    rng = np.random.default_rng(seed + 100)
    A = rng.dirichlet(np.ones(K), size=(U, K))
    if forbidden:
        A[0, 0, 1] = A[1, 2, 0] = 0.0
        A /= A.sum(axis=2, keepdims=True)
    with np.errstate(divide="ignore"):
        log_A = np.log(A)
    return log_pi, log_A, log_B, rng.integers(0, U, T), y


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("fn", [io_forward_recursion, io_backward_recursion, io_stack_changes_in_loop],
                         ids=lambda f: f.__name__)
def test_stacked_matrices_get_one_hoisted_table(fn, jit):
    args = _io_problem()
    check_grad(fn, args, wrt=(0, 1, 2), jit=jit, rtol=1e-6, atol=1e-8)
    vg = srcdiff.value_and_grad(fn, wrt=(0, 1, 2), jit=jit)
    vg(*args)
    src = srcdiff.source(vg)
    if fn is io_stack_changes_in_loop:
        assert "rt.table_at(" not in src and "rt.exp_shifted(" not in src
        return
    axis = 1 if fn is io_forward_recursion else 2
    assert f"exp_log_A = rt.exp_shifted(log_A, {axis})" in src
    assert src.index("rt.exp_shifted(") < src.index("\n    for "), "the stack's table is computed before the loop"
    assert "rt.table_at(exp_log_A, " in src
    # both adjoints in one pass, adding into the view of the picked matrix's counts; the matrix's table
    # is taken again in the backward sweep, not stored
    assert "_adjoints(" in src and ", d_log_A[" in src and "_grad_M(" not in src
    assert "rt.table_at(" in src.split("# backward sweep")[1] and "exp_log_A1_stack" not in src


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_stacked_forbidden_transitions_exact_zero_counts(jit):
    args = _io_problem(T=40, seed=2, forbidden=True)
    value, (_, d_log_A, _) = srcdiff.value_and_grad(io_forward_recursion, wrt=(0, 1, 2), jit=jit)(*args)
    assert np.isfinite(value) and np.all(np.isfinite(d_log_A))
    assert d_log_A[0, 0, 1] == 0.0 and d_log_A[1, 2, 0] == 0.0
    np.testing.assert_allclose(d_log_A.sum(), 39.0, rtol=1e-12)   # T - 1 expected transitions
    for u in range(2):   # each input's counts are those of the transitions it chose
        np.testing.assert_allclose(d_log_A[u].sum(), np.sum(args[3][1:] == u), rtol=1e-12)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_hvp_and_gradient_penalty_through_stacked_tables(jit):
    """Forward over reverse and reverse over reverse split the fused adjoints back into their rules,
    the matrix's adjoint going into the view d_log_A[u]."""
    log_pi, log_A, log_B, u, y = _io_problem(T=5, seed=4)
    v = np.random.default_rng(5).normal(size=log_A.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hv = srcdiff.hvp(io_forward_recursion, wrt=1, jit=jit)(log_pi, log_A, log_B, u, y, v)
    grad_A = srcdiff.grad(io_forward_recursion, wrt=1)
    eps = 1e-5
    expect = (grad_A(log_pi, log_A + eps * v, log_B, u, y) - grad_A(log_pi, log_A - eps * v, log_B, u, y)) / (2 * eps)
    np.testing.assert_allclose(hv, expect, rtol=1e-5, atol=1e-7)

    def penalty(log_pi, log_A, log_B, u, y):
        g = srcdiff.grad(io_forward_recursion, wrt=1)(log_pi, log_A, log_B, u, y)
        return np.sum(g * g)
    check_grad(penalty, [log_pi, log_A, log_B, u, y], wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-7)


def textbook_log_Z(natural_params, data):
    log_pi, log_A, log_B = natural_params
    log_alpha = log_pi
    for y in data:
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
    return logsumexp(log_alpha)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_textbook_recursion_gets_log_domain_products_and_row_tapes(jit):
    """Issue 22: the recursion as textbooks write it -- parameters unpacked from one tuple, `for y in
    data` -- gets the hoisted table and the fused adjoints like srcdiff.vi.hmm.log_Z, and under Numba
    its vector is carried in the probability domain on one carry tape (no list or row tape of per-step
    arrays, no K x K temporary)."""
    rng = np.random.default_rng(7)
    K, V, T = 4, 6, 30
    params = (np.log(rng.dirichlet(np.ones(K))), np.log(rng.dirichlet(np.ones(K), size=K)),
              np.log(rng.dirichlet(np.ones(V), size=K)))
    data = rng.integers(0, V, T)
    vg = srcdiff.value_and_grad(textbook_log_Z, wrt=0, jit=jit)
    value, grads = vg(params, data)
    src = srcdiff.source(vg)
    # the fused adjoints: from the carry tape under Numba (rt.logsumexp_vecmat_step_adjoints)
    assert "rt.exp_shifted(" in src and (_carried(src, "rt.logsumexp_vecmat", "_adjoints") if jit
                                         else "rt.logsumexp_vecmat_adjoints(" in src), src
    code = [line for line in src.splitlines() if not line.strip().startswith("#")]
    assert not any("None]" in line for line in code), src        # no K x K sum formed
    if jit:     # one carry tape, one step call a step: no row tape, no list, no K x K tape
        assert src.count("rt.carry_start(exp_log_A, ") == 1 and _carried(src, "rt.logsumexp_vecmat") == 1, src
        assert "rt.put_row(" not in src and "_stack = []" not in src and "rt.scale_tape(" not in src, src
        python = srcdiff.value_and_grad(textbook_log_Z, wrt=0)(params, data)
        assert value == pytest.approx(python[0], rel=1e-12)
        for mine, theirs in zip(grads, python[1]):
            np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-13)
    assert value == pytest.approx(textbook_log_Z(params, data), rel=1e-12)
    eps = 1e-6
    for k in range(3):
        for idx in [(0,), (1,)] if k == 0 else [(0, 1), (2, 3)]:
            up = [p.copy() for p in params]
            dn = [p.copy() for p in params]
            up[k][idx] += eps
            dn[k][idx] -= eps
            fd = (textbook_log_Z(tuple(up), data) - textbook_log_Z(tuple(dn), data)) / (2 * eps)
            assert grads[k][idx] == pytest.approx(fd, rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(grads[1].sum(), T, rtol=1e-12)     # one expected transition a step


# ---------------------------------------------------------------- jitted: the vector carried in the probability domain

def _isolated_state():
    """State 1 keeps to itself (identity transitions) and emits symbol 0 with probability e^-1000: after a
    few 0s its scaled probability is 0 in floating point, and only state 1 can emit the 1s that follow, so
    the log-likelihood (-3000 + log pi_1, finite) needs its exact log value: a probability-domain forward
    algorithm without it gives -inf."""
    log_pi = np.log(np.array([0.7, 0.3]))
    log_A = np.array([[0.0, -np.inf], [-np.inf, 0.0]])
    log_B = np.array([[0.0, -np.inf], [-1000.0, 0.0]])
    return log_pi, log_A, log_B, np.array([0, 0, 0, 1, 1, 1])


def _tiny_emissions():
    """Long sequence with emission probabilities down to e^-2000 (probability of the data about e^-10^6):
    an unscaled probability-domain recursion underflows at the first steps."""
    rng = np.random.default_rng(11)
    args = list(_problem(K=4, V=5, T=3000, seed=12))
    args[2] = args[2] * 300.0
    args[1] = np.log(rng.dirichlet(np.ones(4) * 0.05, size=4) + 1e-300)     # transitions down to 1e-300
    return tuple(args)


def _underflowing_column():
    """A state reached only from itself and emitting everything with probability e^-900: its scaled sums
    fall below the kernels' threshold and take the direct formula."""
    log_pi, log_A, log_B, y = _problem(K=4, V=5, T=3000, seed=3)
    log_A = log_A.copy()
    log_B = log_B.copy()
    log_A[[0, 2, 3], 1] = -np.inf
    log_B[1] -= 900.0
    return log_pi, log_A, log_B, y


@pytest.mark.parametrize("case", [_isolated_state, _tiny_emissions, _underflowing_column],
                         ids=lambda f: f.__name__.strip("_"))
def test_carry_is_exact_where_probabilities_underflow(case):
    """The carried recursion (runtime/logdomain_carries.py) gives the log-domain recursion's value and
    gradient to rounding, also where probabilities underflow (the Python backend's direct formula is the
    oracle: no carry, no scaling there)."""
    args = case()
    vg = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2), jit=True)
    value, grads = vg(*args)
    src = srcdiff.source(vg)
    assert _carried(src, "rt.logsumexp_vecmat") and _carried(src, "rt.logsumexp_vecmat", "_adjoints"), src
    ref_value, ref_grads = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1, 2))(*args)
    assert np.isfinite(value) and value == pytest.approx(ref_value, rel=1e-12)
    assert value == pytest.approx(forward_recursion(*args), rel=1e-12)
    for mine, theirs in zip(grads, ref_grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads[1].sum(), args[3].shape[0] - 1, rtol=1e-12)


def test_carry_of_isolated_state_value():
    log_pi, log_A, log_B, y = _isolated_state()
    value = srcdiff.value_and_grad(forward_recursion, wrt=0, jit=True)(log_pi, log_A, log_B, y)[0]
    assert value == pytest.approx(np.log(0.3) - 3000.0, rel=1e-14)


def reversed_recursion(log_pi, log_A, log_B, y):
    T = y.shape[0]
    log_beta = log_B[:, y[T - 1]]
    for s in range(1, T):
        log_beta = logsumexp(log_A + log_beta[None, :], axis=1) + log_B[:, y[T - 1 - s]]
    return logsumexp(log_pi + log_beta)


@pytest.mark.parametrize("fn", [forward_recursion, reversed_recursion], ids=lambda f: f.__name__)
def test_carry_gradients_central_differences(fn):
    """Both orientations (vecmat, matvec) carried, against central differences (sixty steps, emission
    probabilities cubed: down to about e^-10)."""
    args = list(_problem(K=3, V=4, T=60, seed=21))
    args[2] = args[2] * 3.0
    vg = srcdiff.value_and_grad(fn, wrt=(0, 1, 2), jit=True)
    vg(*args)
    src = srcdiff.source(vg)
    assert "_step_adjoints(" in src or "_step_grad_v(" in src or "_steps_adjoints(" in src, src
    check_grad(fn, args, wrt=(0, 1, 2), jit=True, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- jitted: the added vector's exponentials taken once

@numba.njit
def _nb_carried_states(log_pi, log_A, log_B, y, tabled, matvec):
    """The states (log values) of a carried recursion, every step, with or without the added vectors' table."""
    E = rt.exp_shifted(log_A, 1 if matvec else 0)
    EB = rt.exp_shifted(log_B.T, 1)
    n = y.shape[0] - 1
    S = rt.carry_start(E, n, log_pi + log_B[:, y[0]])
    out = np.empty((n + 1, log_pi.shape[0]))
    out[0] = rt.carry_end(S, 0, log_pi)
    for k in range(n):
        b = log_B[:, y[k + 1]]
        if tabled and matvec:
            rt.logsumexp_matvec_step(S, k, log_A, E, b, rt.table_at(EB, y[k + 1]))
        elif tabled:
            rt.logsumexp_vecmat_step(S, k, log_A, E, b, rt.table_at(EB, y[k + 1]))
        elif matvec:
            rt.logsumexp_matvec_step(S, k, log_A, E, b)
        else:
            rt.logsumexp_vecmat_step(S, k, log_A, E, b)
        out[k + 1] = rt.carry_end(S, k + 1, log_pi)
    return out


def _spread_emissions():
    """Emissions of one symbol that differ by e^800 between states (their exponentials, shifted by the
    symbol's largest, underflow) and a transition column far below the others (its shift's scale too)."""
    log_pi, log_A, log_B, y = _problem(K=4, V=3, T=40, seed=5)
    log_B = log_B.copy()
    log_B[:, 1] = [0.0, -800.0, -3.0, -np.inf]
    log_A = log_A.copy()
    log_A[:, 2] -= 760.0
    return log_pi, log_A, log_B, y


def _emission_plus_inf():
    log_pi, log_A, log_B, y = _problem(K=3, V=4, T=12, seed=6)
    log_B = log_B.copy()
    log_B[1, y[5]] = np.inf
    return log_pi, log_A, log_B, y


@pytest.mark.parametrize("matvec", [False, True], ids=["vecmat", "matvec"])
@pytest.mark.parametrize("case", [lambda: _problem(K=5, V=7, T=50, seed=4, forbidden=False), _isolated_state,
                                  _tiny_emissions, _underflowing_column, _spread_emissions, _emission_plus_inf],
                         ids=["random", "isolated_state", "tiny_emissions", "underflowing_column", "spread",
                              "plus_inf"])
def test_carried_step_with_the_added_vectors_table(case, matvec):
    """A carried step given the table of its added vector (rt.table_at of exp_shifted(log_B.T, 1): no
    exponential a step) gives every state of the step without it, and of the log-domain recursion, to
    rounding: where exponentials underflow it takes the exact log-domain step as the other does."""
    log_pi, log_A, log_B, y = case()
    y = y[:200]
    with_table = _nb_carried_states(log_pi, log_A, log_B, y, True, matvec)
    without = _nb_carried_states(log_pi, log_A, log_B, y, False, matvec)
    np.testing.assert_allclose(with_table, without, rtol=1e-12, atol=1e-9)
    exact = [log_pi + log_B[:, y[0]]]
    with np.errstate(invalid="ignore"):
        for t in range(1, y.shape[0]):
            x = log_A + exact[-1][None, :] if matvec else exact[-1][:, None] + log_A
            exact.append(logsumexp(x, axis=1 if matvec else 0) + log_B[:, y[t]])
    np.testing.assert_allclose(with_table, np.array(exact), rtol=1e-11, atol=1e-9)


def observed_recursion(log_pi, log_A, log_b):
    log_alpha = log_pi + log_b[0]
    for t in range(1, log_b.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_b[t]
    return logsumexp(log_alpha)


def observed_rows_sliced(log_pi, log_A, log_b):
    log_alpha = log_pi + log_b[0, :]
    for t in range(1, log_b.shape[0]):
        log_alpha = logsumexp(log_A + log_alpha[:, None], axis=0) + log_b[t, :]
    return logsumexp(log_alpha)


def fancy_rows(log_pi, log_A, w, idx):
    """The added vector w[idx[t]] is a vector picked by an index array from a 1-d w: no table of rows."""
    log_alpha = log_pi + w[idx[0]]
    for t in range(1, idx.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + w[idx[t]]
    return logsumexp(log_alpha)


def _observed(fn):
    log_pi, log_A, log_B, y = _problem(K=4, V=5, T=40, seed=8, forbidden=True)
    return fn, (log_pi, log_A, 2.0 * log_B[:, y].T.copy())


@pytest.mark.parametrize("fn, table", [(forward_recursion, "rt.exp_shifted(log_B.T, 1)"),
                                       (reversed_recursion, "rt.exp_shifted(log_B.T, 1)"),
                                       (observed_recursion, "rt.exp_shifted(log_b, 1)"),
                                       (observed_rows_sliced, "rt.exp_shifted(log_b, 1)"),
                                       (fancy_rows, None)], ids=lambda x: getattr(x, "__name__", "-"))
def test_carried_recursion_takes_the_emissions_exponentials_once(fn, table):
    """Issue 22: a carried recursion whose added vector is a column (log_B[:, y[t]]) or a row (log_b[t],
    log_b[t, :]) of an array the loop leaves unchanged takes that array's exponentials once, before the
    loop, and its step reads its row of them (rt.table_at); a vector picked from a 1-d array by an index
    array is no row of a matrix and gets no table. Gradients: the Python backend's and central
    differences."""
    if fn is fancy_rows:
        log_pi, log_A, log_B, y = _problem(K=3, V=6, T=30, seed=9)
        rng = np.random.default_rng(2)
        args = [log_pi, log_A, log_B.ravel() * 1.5, rng.integers(0, 18, (30, 3))]
    elif fn in (forward_recursion, reversed_recursion):
        args = list(_problem(K=4, V=5, T=40, seed=8, forbidden=True))
        args[2] = args[2] * 2.0
    else:
        args = list(_observed(fn)[1])
    vg = srcdiff.value_and_grad(fn, wrt=(0, 1, 2), jit=True)
    value, grads = vg(*args)
    src = srcdiff.source(vg)
    if table is None:
        assert "rt.exp_shifted(w" not in src and "rt.table_at(" not in src, src
    else:
        if "_steps(" in src:    # the whole loop one call, given the table of the array's rows
            step = next(line for line in src.splitlines() if "_steps(" in line)
            table_name = next(line for line in src.splitlines() if table in line).split(" = ")[0].strip()
            assert f", {table_name}, " in step and "rt.table_at(" not in src, src
        else:
            assert "_step(" in src and table in src and src.count("rt.table_at(") == 1, src
            step = next(line for line in src.splitlines() if "_step(" in line)
            assert "rt.table_at(" in src.split(step)[0].rsplit("for ", 1)[1] and step.count(",") == 5, src
    python = srcdiff.value_and_grad(fn, wrt=(0, 1, 2))(*args)
    assert value == pytest.approx(python[0], rel=1e-12)
    for mine, theirs in zip(grads, python[1]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    check_grad(fn, args, wrt=(0, 1, 2), jit=True, rtol=1e-6, atol=1e-7)   # (central differences of a value near -150)


def test_carried_adjoint_returns_an_array_of_its_own():
    """The backward loop's adjoints of the carried vector live in the carry tape (no allocation a step); the
    one the loop hands on -- here the gradient w.r.t. log_pi -- is an array of its own, not a view that
    would keep the tape alive."""
    args = _problem(K=3, V=4, T=25, seed=2)
    vg = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1), jit=True)
    value, (d_pi, d_A) = vg(*args)
    assert _carried(srcdiff.source(vg), "rt.logsumexp_vecmat", "_adjoints")
    base = d_pi.base
    assert base is not None and d_pi.ctypes.data == base.data and d_pi.shape == (3,)
    python = srcdiff.value_and_grad(forward_recursion, wrt=(0, 1))(*args)
    np.testing.assert_allclose(d_pi, python[1][0], rtol=1e-12)



@numba.njit
def _nb_carried_tape(M, v, n, b):
    """A carry tape of n vecmat steps from v, each adding b (a vector, a 1-vector or a scalar)."""
    E = rt.exp_shifted(M, 0)
    S = rt.carry_start(E, n, v)
    for k in range(n):
        rt.logsumexp_vecmat_step(S, k, M, E, b)
    return S


@numba.njit
def _nb_step_adjoint(g, S, k, M, d_M):
    return rt.logsumexp_vecmat_step_adjoints(g, S, k, M, rt.exp_shifted(M, 0), d_M)


@pytest.mark.parametrize("b", [np.array([0.5, -1.0, 2.0, 0.0]), np.array([-0.7]), -0.7],
                         ids=["vector", "1-vector", "scalar"])
def test_carried_step_spreads_a_scalar_added_vector(b):
    """The added vector may be a scalar or a 1-vector (spread over the columns: a kernel of its own)."""
    rng = np.random.default_rng(4)
    M = np.log(rng.dirichlet(np.ones(4), size=4))
    v = np.log(rng.dirichlet(np.ones(4)))
    S = _nb_carried_tape(M, v, 5, b)
    exact = v
    for k in range(5):
        exact = logsumexp(exact[:, None] + M, axis=0) + b
        np.testing.assert_allclose(_nb_carry_end(S, k + 1, v), exact,
                                   rtol=1e-12, atol=1e-12)


@numba.njit
def _nb_carry_end(S, n, like):
    return rt.carry_end(S, n, like)


@pytest.mark.parametrize("k", [1, 0])
def test_step_adjoint_goes_into_the_tape(k):
    """A float64 step's adjoint (row k > 0, no column direct) is written into the carry tape, not into an array
    allocated a step; row 0's, the one the loop hands on, is an array of its own. Both equal the direct
    formula's. (The tape case once never fired: the kernel compared NumPy's float64 with Numba's.)"""
    rng = np.random.default_rng(3)
    K = 4
    M = np.log(rng.dirichlet(np.ones(K), size=K))
    v = np.log(rng.dirichlet(np.ones(K)))
    S = _nb_carried_tape(M, v, 3, np.zeros(K))
    vk = _nb_carry_end(S, k, v)
    g = rng.normal(size=K)
    d_M = np.zeros((K, K))
    out = _nb_step_adjoint(g, S, k, M, d_M)
    assert np.shares_memory(out, S) == (k > 0)
    ans = logsumexp(vk[:, None] + M, axis=0)
    w = g[None, :] * np.exp(vk[:, None] + M - ans[None, :])
    np.testing.assert_allclose(out, w.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(d_M, w, rtol=1e-12)
