"""Forward mode and higher order: jvp, hvp (forward over reverse), hessian, jacobian and grad of
grad against central finite differences, on the constructs the core handles."""
import math
import re
import numpy as np
import scipy.special
import pytest

import constructs as C
import srcdiff
from gradcheck import numerical_grad
from srcdiff.rules import RULES

RNG = np.random.default_rng(1)
EPS = 1e-6

HMM_ARGS = (np.log([0.6, 0.4]), np.log([[0.7, 0.3], [0.2, 0.8]]),
            np.log([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6]]), np.array([0, 2, 1, 2]))

# (function, arguments, wrt)
CASES = {
    "branch_a": (C.branch, (0.7, 1.3), 0),
    "branch_b": (C.branch, (0.3, 1.3), 0),
    "branch_c": (C.branch, (-0.3, 1.3), 1),
    "loop_sum": (C.loop_sum, (0.3, 5), 0),
    "while_loop": (C.while_loop, (0.7,), 0),
    "recurrence": (C.recurrence, (1.1, 0.4, 20), 0),
    "breaks": (C.breaks, (0.31,), 0),
    "continues": (C.continues, (0.9,), 0),
    "early_return": (C.early_return, (-0.5,), 0),
    "loop_return": (C.loop_return, (0.9,), 0),
    "calls": (C.calls, (0.3, 0.8), 1),
    "closure": (C.closure, (RNG.normal(size=3), RNG.normal(size=(4, 3))), 0),
    "uses_lambda": (C.uses_lambda, (RNG.normal(size=4),), 0),
    "hmm": (C.hmm, HMM_ARGS, 1),
    "augassign": (C.augassign, (RNG.normal(size=4),), 0),   # in-place writes
    "nested": (C.nested, (RNG.normal(size=4),), 0),
    "reductions": (C.reductions, (RNG.uniform(0.5, 1.5, size=(3, 4)),), 0),
    "linalg": (C.linalg, (RNG.normal(size=(3, 3)), RNG.normal(size=3)), 0),
    "stacking": (C.stacking, (RNG.normal(size=3), RNG.normal(size=3)), 0),
    "where_clip": (C.where_clip, (RNG.normal(size=5),), 0),
    "returns_none": (C.returns_in_nested_loops, (0.1, np.array([1.5, 2.0])), 0),
    "returns_inner": (C.returns_in_nested_loops, (0.7, np.array([1.5, 2.0])), 0),
    "returns_while": (C.returns_in_nested_loops, (1.7, np.array([1.5, 2.0])), 0),
    "comprehension_sums": (C.comprehension_sums, (RNG.normal(size=5), RNG.normal(size=(3, 5))), 1),
}
# Numba compiles each generated module: keep the jit=True runs to a representative few
JIT_CASES = ["loop_sum", "recurrence", "closure", "returns_inner"]


def shifted(args, k, v, h):
    a = list(args)
    a[k] = a[k] + h * v
    return a


def direction(x):
    return RNG.normal(size=np.shape(x)) if np.ndim(x) else 0.7


def params():
    for name in CASES:
        yield pytest.param(name, False, id=f"{name}-py")
        if name in JIT_CASES:
            yield pytest.param(name, True, id=f"{name}-jit")


@pytest.mark.parametrize("name, jit", list(params()))
def test_jvp(name, jit):
    f, args, k = CASES[name]
    v = direction(args[k])
    value, d = srcdiff.jvp(f, wrt=k, jit=jit)(*args, v)
    expect = (f(*shifted(args, k, v, EPS)) - f(*shifted(args, k, v, -EPS))) / (2 * EPS)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    np.testing.assert_allclose(d, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, jit", list(params()))
def test_hvp(name, jit):
    f, args, k = CASES[name]
    v = direction(args[k])
    hv = srcdiff.hvp(f, wrt=k, jit=jit)(*args, v)
    g = srcdiff.grad(f, wrt=k)
    expect = (g(*shifted(args, k, v, EPS)) - g(*shifted(args, k, v, -EPS))) / (2 * EPS)
    assert np.shape(hv) == np.shape(args[k])
    np.testing.assert_allclose(hv, expect, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_hessian_symmetric_and_matches_fd(jit):
    x = RNG.normal(size=4)
    H = srcdiff.hessian(C.nested, jit=jit)(x)
    g = srcdiff.grad(C.nested)
    fd = np.stack([(g(x + EPS * e) - g(x - EPS * e)) / (2 * EPS) for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(H, fd, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(H, H.T, atol=1e-10)


def vector_valued(x, a):
    y = np.zeros(3)
    for i in range(3):
        y[i] = np.sin(x[i % x.shape[0]]) * a + np.sum(x ** 2) * i
    return y


@pytest.mark.parametrize("jit", [False, True])
def test_jvp_vector_valued(jit):
    x, a = RNG.normal(size=2), 0.4
    v = RNG.normal(size=2)
    value, d = srcdiff.jvp(vector_valued, wrt=0, jit=jit)(x, a, v)
    fd = (vector_valued(x + EPS * v, a) - vector_valued(x - EPS * v, a)) / (2 * EPS)
    np.testing.assert_allclose(value, vector_valued(x, a))
    np.testing.assert_allclose(d, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode, n, expect", [("auto", 2, "forward"), ("auto", 5, "reverse"),
                                             ("forward", 5, "forward"), ("reverse", 2, "reverse")])
def test_jacobian_modes(mode, n, expect):
    x, a = RNG.normal(size=n), 0.4
    J = srcdiff.jacobian(vector_valued, wrt=0, mode=mode)
    got = J(x, a)
    assert J.last_mode == expect
    fd = np.stack([(vector_valued(x + EPS * e, a) - vector_valued(x - EPS * e, a)) / (2 * EPS)
                   for e in np.eye(n)], axis=1)
    assert got.shape == (3, n)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6)


def test_jvp_several_wrt():
    v = (0.3, -1.1)
    _, d = srcdiff.jvp(C.calls, wrt=(0, 1))(0.3, 0.8, v)
    fd = (C.calls(0.3 + EPS * v[0], 0.8 + EPS * v[1]) - C.calls(0.3 - EPS * v[0], 0.8 - EPS * v[1])) / (2 * EPS)
    np.testing.assert_allclose(d, fd, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_grad_of_grad(jit):
    cases = ((C.while_loop, 0.7), (C.branch, 0.3), (C.loop_return, 0.9))
    for f, x in cases[:1] if jit else cases:
        extra = (1.3,) if f is C.branch else ()
        gg = srcdiff.grad(srcdiff.grad(f, jit=jit), jit=jit)
        g = srcdiff.grad(f)
        fd = (g(x + EPS, *extra) - g(x - EPS, *extra)) / (2 * EPS)
        np.testing.assert_allclose(gg(x, *extra), fd, rtol=1e-4, atol=1e-5)


def _masked_or_constant(a, n):
    return (np.sum(a[a < -0.5] * 0.5) if n > 2 else n * 0.25) + np.sum(a * a)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_of_a_gradient_with_placeholders(jit):
    # the gradient binds the mask on one path only (`v = None` placeholder); forward mode over it typed the
    # placeholder only in reverse mode, and Numba could not index with an optional mask (nested fuzz seed 300070)
    def h(a, n):
        g = srcdiff.grad(_masked_or_constant)(a, n)
        return np.sum(g * g)
    a, v = np.array([0.3, -0.7, 0.5]), np.array([0.2, 0.1, -0.4])
    for n in (1, 3):
        _, d = srcdiff.jvp(h, wrt=0, jit=jit)(a, n, v)
        np.testing.assert_allclose(d, (h(a + EPS * v, n) - h(a - EPS * v, n)) / (2 * EPS), rtol=1e-6)


def test_value_and_grad_of_grad():
    g = srcdiff.grad(C.loop_sum)
    value, d2 = srcdiff.value_and_grad(g)(0.3, 5)
    np.testing.assert_allclose(value, g(0.3, 5))
    np.testing.assert_allclose(d2, (g(0.3 + EPS, 5) - g(0.3 - EPS, 5)) / (2 * EPS), rtol=1e-5)


def test_generated_source_is_readable():
    src = srcdiff.source(srcdiff.jvp(C.recurrence, wrt=0))
    assert "d_ys = rt.zeros_like(ys)" in src          # tangent array allocated with the primal
    assert "d_ys[" in src and "# line" in src
    hsrc = srcdiff.source(srcdiff.hvp(C.loop_sum))
    assert re.search(r"d_s\w*_stack.append\(", hsrc) and ".pop()" in hsrc   # tangent stacks
    assert "_stack = []" in hsrc
    for s in (src, hsrc):
        assert all(";" not in line for line in s.splitlines() if not line.lstrip().startswith("#"))
    # grad of a gradient is reverse over reverse: the inner stack's pops get adjoint pushes
    assert "while_loop_grad_grad" in srcdiff.source(srcdiff.grad(srcdiff.grad(C.while_loop)))


def test_inactive_values_get_no_tangent():
    src = srcdiff.source(srcdiff.jvp(C.recurrence, wrt=0))
    assert "d_dt" not in src and "d_b" not in src


def test_every_reverse_rule_has_a_jvp():
    # (rules users register with srcdiff.adjoint carry their namespace: other test modules register some)
    missing = sorted(name for name, rule in RULES.items()
                     if not rule.nondiff and not rule.variadic and not rule.namespace and rule.jvp is None
                     and any(rule.has_vjp(p) for p in rule.vjp))
    assert not missing, f"rules with a vjp but no jvp: {missing}"


# ---- regressions found by the forward-mode audit -------------------------------------------------------
def logistic_loss(w, X, y):
    z = X @ w
    return np.sum(np.log1p(np.exp(-y * z))) + 0.5 * np.sum(w ** 2)


LOSS_GRAD = srcdiff.grad(logistic_loss)


def grad_norm(w, X, y):
    return np.sum(LOSS_GRAD(w, X, y) ** 2)


@pytest.mark.parametrize("jit", [False, True])
def test_grad_of_function_calling_grad(jit):
    """Reverse over reverse: the generated gradient's helpers (rt.matmul_grad_y, rt.sum_grad) had jvp
    rules only, and reverse mode took them for constants: a silently wrong gradient."""
    w, X, y = RNG.normal(size=4) * 0.3, RNG.normal(size=(20, 4)), np.sign(RNG.normal(size=20))
    got = srcdiff.grad(grad_norm, jit=jit)(w, X, y)
    fd = [(grad_norm(w + EPS * e, X, y) - grad_norm(w - EPS * e, X, y)) / (2 * EPS) for e in np.eye(4)]
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6)


def lse_square(x):
    return C.logsumexp(x * x)


LSE_GRAD = srcdiff.grad(lse_square)


def lse_grad_norm(x):
    return np.sum(LSE_GRAD(x) ** 2)


def test_reverse_over_logsumexp_grad():
    """rt.logsumexp_grad has a reverse rule now: reverse over reverse goes through it."""
    x = np.arange(3.0) * 0.4
    np.testing.assert_allclose(srcdiff.grad(lse_grad_norm)(x), numerical_grad(lse_grad_norm, [x], 0),
                               rtol=1e-5, atol=1e-7)


def chol_loss(x):
    L = np.linalg.cholesky(x @ x.T + 3.0 * np.eye(3))
    return np.sum(L * L)


CHOL_GRAD = srcdiff.grad(chol_loss)


def chol_grad_norm(x):
    return np.sum(CHOL_GRAD(x) ** 2)


def test_reverse_over_cholesky_grad():
    """rt.cholesky_grad has a reverse rule now (it used to be declined as forward-only)."""
    x = np.array([[1.0, 0.2, -0.3], [0.1, 0.8, 0.4], [-0.2, 0.3, 1.1]])
    np.testing.assert_allclose(srcdiff.grad(chol_grad_norm)(x), numerical_grad(chol_grad_norm, [x], 0),
                               rtol=1e-5, atol=1e-7)



def chol_of(S):
    return np.linalg.cholesky(S)


@pytest.mark.parametrize("jit", [False, True])
def test_cholesky_jvp_agrees_with_its_vjp_for_a_tangent_that_is_not_symmetric(jit):
    """cholesky's adjoint is symmetric (as eigh's); its jvp took a tangent that is not symmetric as it was, so the
    jacobian built by columns (jvp) and by rows (vjp) differed: it takes the tangent's symmetric part."""
    a = np.array([[1.0, 0.2, -0.3], [0.1, 0.8, 0.4], [-0.2, 0.3, 1.1]])
    S = a @ a.T + np.eye(3)
    t, c = RNG.normal(size=(3, 3)), RNG.normal(size=(3, 3))
    _, d = srcdiff.jvp(chol_of, jit=jit)(S, t)
    _, g = srcdiff.vjp(chol_of, jit=jit)(S, c)
    np.testing.assert_allclose(np.sum(d * c), np.sum(g * t), rtol=1e-10)
    sym = 0.5 * (t + t.T)
    np.testing.assert_allclose(d, (np.linalg.cholesky(S + EPS * sym) - np.linalg.cholesky(S - EPS * sym)) / (2 * EPS),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(srcdiff.jacobian(chol_of, jit=jit, mode="forward")(S),
                               srcdiff.jacobian(chol_of, jit=jit, mode="reverse")(S), atol=1e-12)


def layer(p, s):
    w, b = p
    return np.sum(np.sin(w) * s) * b + b ** 3


def tuple_fd(f, p, s, t, h):
    """f at p + h·t for a tuple argument p = (array, float) and tangent t of the same structure."""
    return f((p[0] + h * t[0], p[1] + h * t[1]), s)


@pytest.mark.parametrize("jit", [False, True])
def test_jvp_and_hvp_of_tuple_argument(jit):
    """Tuple arguments (and tangents of the same structure) used to fail with a TypeError."""
    p, s, t = (RNG.normal(size=3), 0.4), RNG.normal(size=3), (RNG.normal(size=3), 0.3)
    value, d = srcdiff.jvp(layer, jit=jit)(p, s, t)
    np.testing.assert_allclose(value, layer(p, s))
    np.testing.assert_allclose(d, (tuple_fd(layer, p, s, t, EPS) - tuple_fd(layer, p, s, t, -EPS)) / (2 * EPS),
                               rtol=1e-6)
    hv = srcdiff.hvp(layer, jit=jit)(p, s, t)
    g = srcdiff.grad(layer)
    hi, lo = g((p[0] + EPS * t[0], p[1] + EPS * t[1]), s), g((p[0] - EPS * t[0], p[1] - EPS * t[1]), s)
    assert isinstance(hv, tuple) and np.shape(hv[0]) == (3,) and np.ndim(hv[1]) == 0
    for k in range(2):
        np.testing.assert_allclose(hv[k], (hi[k] - lo[k]) / (2 * EPS), rtol=1e-5, atol=1e-7)


def affine(x, a):
    return np.sum(a) + 2.0 * x


def affine_of_a_pair(xa, m):
    x, a = xa
    return a[0] + np.sum(m) * 2.0 + x


@pytest.mark.parametrize("jit", [False, True])
def test_hvp_of_an_affine_function_has_one_zero_per_argument(jit):
    """The gradient of an affine function is constant: its tangent is zero, yet still one value per wrt argument
    and of its structure (it was one 0.0, so `hx, ha = hvp(...)` failed and tuple arguments raised StopIteration)."""
    a, m = np.array([0.1, 0.5]), np.ones((2, 2))
    hx, ha = srcdiff.hvp(affine, wrt=(0, 1), jit=jit)(0.4, a, (1.0, np.ones(2)))
    assert np.ndim(hx) == 0 and hx == 0.0 and np.array_equal(ha, np.zeros(2))
    (hx, ha), hm = srcdiff.hvp(affine_of_a_pair, wrt=(0, 1), jit=jit)((0.4, a), m, ((1.0, np.ones(2)), np.ones((2, 2))))
    assert hx == 0.0 and np.array_equal(ha, np.zeros(2)) and np.array_equal(hm, np.zeros((2, 2)))
    np.testing.assert_array_equal(srcdiff.hessian(affine, wrt=1, jit=jit)(0.4, a), np.zeros((2, 2)))


def rows_picked(x, m):
    r = m[[1, 0], :]
    return np.sum(np.sin(r * x))


@pytest.mark.parametrize("jit", [False, True])
def test_hvp_through_an_index_list_with_a_slice(jit):
    """The gradient of m[[1, 0], :] scatters with rt.index_add(d_m, (r1, slice(None, None, None)), d_r): forward
    mode over it declined `slice` ("classes, instances and bound methods") at a line of the generated file."""
    m, v = np.arange(6.0).reshape(2, 3) / 5, (1.0, RNG.normal(size=(2, 3)))
    g = srcdiff.grad(rows_picked, wrt=(0, 1))
    hi, lo = g(0.3 + EPS, m + EPS * v[1]), g(0.3 - EPS, m - EPS * v[1])
    hx, hm = srcdiff.hvp(rows_picked, wrt=(0, 1), jit=jit)(0.3, m, v)
    np.testing.assert_allclose(hx, (hi[0] - lo[0]) / (2 * EPS), rtol=1e-5)
    np.testing.assert_allclose(hm, (hi[1] - lo[1]) / (2 * EPS), rtol=1e-5, atol=1e-8)


def log_gamma_mean(x):
    return np.sum(scipy.special.digamma(1.5 + x * x)) + np.sum(scipy.special.gammaln(2.0 + x))


@pytest.mark.parametrize("jit", [False, True])
def test_hvp_of_digamma_uses_its_second_derivative(jit):
    """digamma's derivative is trigamma, whose derivative (tetragamma, psi'') hvp needs: it was declined at a line
    of the generated gradient ("rt.trigamma is not differentiable")."""
    x, v = np.array([0.3, -1.2, 2.5]), RNG.normal(size=3)
    g = srcdiff.grad(log_gamma_mean)
    expect = (g(x + EPS * v) - g(x - EPS * v)) / (2 * EPS)
    np.testing.assert_allclose(srcdiff.hvp(log_gamma_mean, jit=jit)(x, v), expect, rtol=1e-5, atol=1e-8)


def masked_products(m, a):
    return np.sum(np.cumprod(np.sin(m[0]) * (a > 0.0)))


@pytest.mark.parametrize("jit", [False, True])
def test_hvp_of_cumprod_is_right_without_zeros_and_declined_at_one(jit):
    """cumprod's first derivatives are exact at zeros; its second derivatives divide by x: at a zero factor hvp
    gave NaN (fuzz seed 440699), now a SrcdiffError naming the user's function."""
    m, v = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    g, h = srcdiff.grad(masked_products), srcdiff.hvp(masked_products, jit=jit)
    a = np.array([0.5, 1.0, 2.0])
    expect = (g(m + EPS * v, a) - g(m - EPS * v, a)) / (2 * EPS)
    np.testing.assert_allclose(h(m, a, v), expect, rtol=1e-5, atol=1e-8)
    with pytest.raises(srcdiff.SrcdiffError, match="only where x has no zeros"):
        h(m, np.array([0.5, -1.0, 2.0]), v)


def test_jvp_of_function_calling_jvp():
    """Forward over forward: a jvp transform called inside a function that is differentiated again."""
    def second(x, y):
        value, d = SCAL2_JVP(x, y, 1.0)
        return d
    _, d2 = srcdiff.jvp(second)(0.4, 1.3, 1.0)
    np.testing.assert_allclose(d2, (second(0.4 + EPS, 1.3) - second(0.4 - EPS, 1.3)) / (2 * EPS), rtol=1e-6)


def cubic(x, y):
    return x ** 3 * y + np.sin(x * y)


SCAL2_JVP = srcdiff.jvp(cubic)


@pytest.mark.parametrize("call", [
    lambda: srcdiff.jvp(C.nested)(np.ones(4), np.ones(3)),              # tangent of the wrong shape
    lambda: srcdiff.hvp(C.nested)(np.ones(4), np.ones(2)),
    lambda: srcdiff.jvp(C.calls, wrt=(0, 1))(0.3, 0.8, (1.0,)),         # too few tangents
    lambda: srcdiff.jvp(C.calls)(),
    lambda: srcdiff.jvp(C.loop_sum)(0.3, 5, "a"),                       # not a number
    lambda: srcdiff.hessian(C.calls, wrt=(0, "z")),                    # no parameter z
    lambda: srcdiff.jacobian(C.nested, mode="sideways"),
    lambda: srcdiff.grad(srcdiff.grad(C.nested))(np.ones(4)),           # grad of a vector gradient
])
def test_bad_input_names_the_users_file(call):
    """These used to raise without a location, or name srcdiff's generated file."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"constructs\.py:\d+: "):
        call()


CUBIC_VG = srcdiff.value_and_grad(cubic)


def value_times_slope(x, y):
    v, g = CUBIC_VG(x, y)
    return v * g


@pytest.mark.parametrize("jit", [False, True])
def test_jvp_of_function_using_value_and_grad(jit):
    _, d = srcdiff.jvp(value_times_slope, jit=jit)(0.4, 1.3, 1.0)
    fd = (value_times_slope(0.4 + EPS, 1.3) - value_times_slope(0.4 - EPS, 1.3)) / (2 * EPS)
    np.testing.assert_allclose(d, fd, rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_grad_through_a_looped_gradient(jit):
    """Reverse over a gradient whose loops push to stacks (this used to be declined; the stacks now
    get adjoint stacks, tests/test_nesting.py)."""
    g = srcdiff.grad(C.loop_sum)

    def h(x):
        return g(x, 4) ** 2
    got = srcdiff.grad(h, jit=jit)(0.3)
    fd = (h(0.3 + EPS) - h(0.3 - EPS)) / (2 * EPS)
    np.testing.assert_allclose(got, fd, rtol=1e-6)


def tanh_rnn(w, x0, n):
    h = x0
    s = 0.0
    for t in range(n):
        h = np.tanh(w * h + 0.1 * t) * 0.9     # (two stacks: h and tanh's value; the next h is h's next row)
        s = s + np.sum(h ** 2)
    return s


def test_hvp_keeps_the_gradients_stacks_apart():
    """The gradient's stacks (`h4_stack = []`, `s1_stack = []`, ...) were merged into one list by
    common-subexpression elimination, so a dead tangent stack could not be dropped (and a list could
    mix element types, which Numba rejects)."""
    w, x0, v = RNG.normal(size=5) * 0.5, RNG.normal(size=5), RNG.normal(size=5)
    g = srcdiff.grad(tanh_rnn)
    h = srcdiff.hvp(tanh_rnn)
    hv = h(w, x0, 6, v)
    np.testing.assert_allclose(hv, (g(w + EPS * v, x0, 6) - g(w - EPS * v, x0, 6)) / (2 * EPS), rtol=1e-5, atol=1e-7)
    stacks = re.findall(r"(\w+_stack) = \[\]", srcdiff.source(g))
    assert len(stacks) >= 2
    hsrc = srcdiff.source(h)
    for name in stacks:
        assert f"{name} = []" in hsrc and f"{name}.pop()" in hsrc, name


def _where_of_scalars(x, scale):
    k = 3
    return math.exp(math.tanh(np.where(scale > -0.3, 0.5, k * 0.25) * x)) + scale * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_where_of_scalars_is_a_scalar_in_forward_mode(jit):
    """np.where of three scalars is a 0-d array under Numba, which math.tanh does not take: forward mode
    writes it rt.select, as reverse mode does (the fuzz found it once jvp ran under jit too)."""
    x, s = 0.2, 0.1
    val, dot = srcdiff.jvp(_where_of_scalars, wrt=("x", "scale"), jit=jit)(x, s, (0.7, -1.3))
    g = srcdiff.grad(_where_of_scalars, wrt=("x", "scale"), jit=jit)(x, s)
    assert val == pytest.approx(_where_of_scalars(x, s), rel=1e-12)
    assert dot == pytest.approx(0.7 * g[0] - 1.3 * g[1], rel=1e-10)
    h = 1e-6
    fd = (_where_of_scalars(x + 0.7 * h, s - 1.3 * h) - _where_of_scalars(x - 0.7 * h, s + 1.3 * h)) / (2 * h)
    assert dot == pytest.approx(fd, rel=1e-6)


def _two_args(xa, scale):
    return np.sum(xa * xa) * scale


@pytest.mark.parametrize("tangent, says", [
    ((np.ones(2), 1.0), "is not an array of numbers"),      # a tuple for one wrt argument: it is the tangent
    (np.ones(3), "tangent of shape (3,) for argument 'xa' of shape (2,)"),
    ("a", "is not an array of numbers"),
])
def test_bad_tangent_is_a_clear_error(tangent, says):
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.jvp(_two_args)(np.array([0.3, 0.2]), 0.5, tangent)
    assert says in str(err.value) and "tangent" in err.value.advice


def _sum_of_arrays_with_tuple_argument(xa, M):
    x, a = xa
    return np.dot(sum(M[0] * (j * 0.5) for j in range(3)), a) * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_of_a_tuple_argument_is_specialised_to_its_leaves(jit):
    """Fuzz seeds 70430, 70630, 75500, 75870 (jvp under jit): with a tuple argument the jvp was built without
    argument kinds, so a sum of arrays started from 0.0 and Numba could not unify it with the array terms."""
    xa, M = (0.3, np.array([0.2, -0.4, 0.9])), np.arange(9.0).reshape(3, 3) / 7.0
    t = ((0.7, np.array([1.0, -0.5, 0.25])), np.linspace(-1.0, 1.0, 9).reshape(3, 3))
    val, dot = srcdiff.jvp(_sum_of_arrays_with_tuple_argument, wrt=("xa", "M"), jit=jit)(xa, M, t)
    (gx, ga), gM = srcdiff.grad(_sum_of_arrays_with_tuple_argument, wrt=("xa", "M"), jit=jit)(xa, M)
    assert val == pytest.approx(_sum_of_arrays_with_tuple_argument(xa, M), rel=1e-12)
    assert dot == pytest.approx(gx * 0.7 + np.vdot(ga, t[0][1]) + np.vdot(gM, t[1]), rel=1e-10)


def _scaled(x, a):
    return np.sum(np.sin(x) * x) * a + a * a


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_repeated_calls_follow_argument_and_tangent_changes(jit):
    """jvp and hvp remember, per types/dtypes/shapes of (arguments, tangents), the function a call ran (the
    steady state of a Newton-CG loop skips binding, kinds and the lookup); each change below must still give
    the derivative of its own arguments, and a bad tangent after good calls is still a clear error."""
    jvp = srcdiff.jvp(_scaled, wrt=("x", "a"), jit=jit)
    hvp = srcdiff.hvp(_scaled, wrt="x", jit=jit)
    grad = srcdiff.grad(_scaled, wrt=("x", "a"), jit=jit)
    calls = [(np.array([0.3, -0.2, 0.9]), 1.5, (np.array([1.0, 0.5, -0.5]), 0.25)),
             (np.array([0.1, 0.4, -0.7]), 0.5, (np.array([0.0, 1.0, 2.0]), -1.0)),     # same types: remembered
             (np.array([0.3, -0.2, 0.9, 1.1]), 1.5, (np.ones(4), 0.25)),                # a new length
             (np.array([0.3, -0.2, 0.9]), 1.5, (np.array([1, 0, -1]), 2)),              # integer tangents
             (np.array([0.3, -0.2, 0.9], dtype=np.float32), 1.5, (np.ones(3, dtype=np.float32), 1.0))]
    for x, a, t in calls + calls[:2]:
        for _ in range(2):
            value, dot = jvp(x, a, t)
            gx, ga = grad(x, a)
            assert value == pytest.approx(_scaled(x, a), rel=1e-6)
            assert dot == pytest.approx(np.vdot(gx, t[0]) + ga * t[1], rel=1e-5, abs=1e-9)
            v = np.asarray(t[0], dtype=float)
            fd = (srcdiff.grad(_scaled, wrt="x")(x + 1e-6 * v, a) - srcdiff.grad(_scaled, wrt="x")(x - 1e-6 * v, a)) / 2e-6
            np.testing.assert_allclose(hvp(x, a, v), fd, rtol=1e-4, atol=1e-6)
    with pytest.raises(srcdiff.SrcdiffError, match=re.escape("tangent of shape (4,) for argument 'x' of shape (3,)")):
        jvp(np.array([0.3, -0.2, 0.9]), 1.5, (np.ones(4), 0.25))
    with pytest.raises(srcdiff.SrcdiffError, match="tangents"):
        jvp(np.array([0.3, -0.2, 0.9]), 1.5, np.ones(3))


def test_steady_state_skips_the_lookup(monkeypatch):
    jvp = srcdiff.jvp(_scaled, wrt=("x", "a"))
    x, t = np.array([0.3, -0.2, 0.9]), (np.array([1.0, 0.5, -0.5]), 0.25)
    first = jvp(x, 1.5, t)

    def no_lookup(*args, **kwargs):
        raise AssertionError("a call with the types of an earlier one specialised again")
    monkeypatch.setattr(srcdiff.forward_api.ForwardTransformed, "specialise", no_lookup)
    assert jvp(x, 1.5, t) == first
    with pytest.raises(AssertionError, match="specialised again"):
        jvp(x.astype(np.float32), 1.5, t)


def writes_its_argument(x, a):
    a[0] = np.sum(x * a)            # into the caller's a
    return a * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_of_a_function_that_writes_into_its_argument(mode, jit):
    """redteam: jacobian(mode='reverse') called f on the caller's arguments to read the output's shape, and f
    wrote into `a`: every row was then taken at another point (J[0, 0] -0.108 for 0.03). Forward mode's columns
    each wrote into `a` and into the tangent's copy of it. Each evaluation is given copies of the arguments; the
    caller's arrays are left as one call of f leaves them (tests/test_caller_arrays.py)."""
    x, a = np.array([0.3, 0.5, -1.1]), np.array([0.2, 0.7, 0.4])
    want = np.array([(writes_its_argument(x + e, a.copy()) - writes_its_argument(x - e, a.copy())) / (2 * EPS)
                     for e in np.eye(3) * EPS]).T
    after = a.copy()
    writes_its_argument(x.copy(), after)
    J = srcdiff.jacobian(writes_its_argument, wrt=0, mode=mode, jit=jit)(x, a)
    np.testing.assert_allclose(J, want, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(a, after)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_jvp_leaves_the_tangents_as_they_were(jit):
    """The jvp of a function that writes into its argument wrote into the caller's tangent too (d_a[0] = ...): a
    tangent passed again gave another derivative. The argument itself is written as f writes it."""
    x, a = np.array([0.3, 0.5, -1.1]), np.array([0.2, 0.7, 0.4])
    v = (np.array([1.0, 0.0, 0.0]), np.array([0.5, -0.5, 1.0]))
    v0 = tuple(t.copy() for t in v)
    f = lambda x, a: np.sum(writes_its_argument(x, a) ** 2)   # noqa: E731
    jvp = srcdiff.jvp(f, wrt=(0, 1), jit=jit)
    first = jvp(x, a.copy(), v)
    for t, t0 in zip(v, v0):
        np.testing.assert_array_equal(t, t0)
    given, after = a.copy(), a.copy()
    f(x.copy(), after)
    second = jvp(x, a, v)
    np.testing.assert_array_equal(a, after)
    np.testing.assert_allclose(second, first, rtol=1e-14)
    g = srcdiff.grad(f, wrt=(0, 1))(x, given)
    np.testing.assert_allclose(first[1], sum(np.vdot(gk, t) for gk, t in zip(g, v0)), rtol=1e-12)


# ---- a sum of arrays over a comprehension that may run no iteration, in a helper: a jvp generates the helpers it
# inlines or keeps as calls with their arguments' kinds, so the sum starts from zeros shaped like its first term
# (fuzz seed 480000, the 'vector' oracle: without them it started from 0.0, and Numba declined "Cannot unify float64
# and array(float64, 1d, C) for 'd_total_if_sum.2'") ---------------------------------------------------------------
def zip_sum(a, x):
    return sum(a * (e * 0.5 + e2 * x) for e, e2 in zip(a, a))


def sum_in_an_inlined_helper(x, a):
    return np.sum(np.sin(zip_sum(a, x) * x + a))


def nest3(a, x):
    return zip_sum(a, x) + 0.5


def nest2(a, x):
    return nest3(a, x) * 2.0


def nest1(a, x):
    return nest2(a, x) - a


def sum_in_a_kept_helper(x, a):
    return np.sum(np.sin(nest1(a, x) * x + a))     # (calls nested four deep: the innermost stays a call)


def range_sum(w, k):
    return sum(w * (j * 0.5) for j in range(k))


def recursion_with_a_sum(w, depth):
    if depth <= 0:
        return w
    return 0.5 * np.sin(recursion_with_a_sum(w, depth - 1)) + range_sum(w, depth)


def sum_in_a_recursive_helper(x, a):
    return np.sum(np.sin(recursion_with_a_sum(a * x, 2)))


def shrinking(w, depth):
    if depth <= 0:
        return np.tanh(w)
    return shrinking(np.sum(w * w) * 0.5, depth - 1) * 1.5


def recursion_whose_kinds_change(x, a):
    return shrinking(a * x, 3) + x      # (an array, then scalars: the inner calls share one jvp without kinds)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("fn, kept", [(sum_in_an_inlined_helper, None), (sum_in_a_kept_helper, "zip_sum_jvp("),
                                      (sum_in_a_recursive_helper, "recursion_with_a_sum_jvp("),
                                      (recursion_whose_kinds_change, "shrinking_jvp(")],
                         ids=["inlined", "kept", "recursive", "kinds-change"])
def test_jvp_of_a_sum_of_arrays_in_a_helper(fn, kept, jit):
    x, a, v = 0.7, np.array([0.3, -0.4, 0.9]), np.array([0.2, 0.5, -1.0])
    jvp = srcdiff.jvp(fn, wrt=1, jit=jit)
    value, t = jvp(x, a, v)
    np.testing.assert_allclose(value, fn(x, a), rtol=1e-12)
    np.testing.assert_allclose(t, numerical_grad(fn, [x, a], 1) @ v, rtol=1e-6, atol=1e-9)
    assert kept is None or kept in srcdiff.source(jvp)
    if fn is not recursion_whose_kinds_change:     # zip over empty arrays, a range of length 0: no iteration
        assert jvp(x, np.zeros(0), np.zeros(0)) == (fn(x, np.zeros(0)), 0.0)
    np.testing.assert_allclose(srcdiff.jacobian(fn, wrt=1, jit=jit, mode="forward")(x, a), numerical_grad(fn, [x, a], 1),
                               rtol=1e-6, atol=1e-9)
    if jit and fn in (sum_in_a_kept_helper, sum_in_a_recursive_helper):
        # README (Declined): reverse mode calls the kept helper's primal copy, which does not know its arguments'
        # kinds: its sum starts from 0.0, which Numba cannot unify with the terms (reported at the user's line)
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_forward.py:\d+: (.|\n)*Cannot unify"):
            srcdiff.grad(fn, wrt=1, jit=True)(x, a)
        return
    g = srcdiff.grad(fn, wrt=1)
    np.testing.assert_allclose(srcdiff.hvp(fn, wrt=1, jit=jit)(x, a, v),
                               (g(x, a + EPS * v) - g(x, a - EPS * v)) / (2 * EPS), rtol=1e-5, atol=1e-7)


# ---- a copy's tangent where another name of the copy is written ----------------------------------------------
def swapped_copies(M):
    buf4 = np.copy(M)
    buf5 = M.copy()
    for j in range(2):
        buf4, buf5 = buf5, 0.5 * buf4 + 0.5 * np.tanh(buf5)
        buf4[0, 1] = buf4[0, 1] * 1.1
    buf4[0, 1:3] = M[:, 1]
    return np.sum(buf4) + np.sum(buf5)


def curved_swapped_copies(M):
    return np.sin(0.5 * swapped_copies(M))


M_SWAP = np.array([[0.216, 0.736, 1.289, -0.337], [1.180, 2.471, -0.483, -0.502]])


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", [swapped_copies, curved_swapped_copies], ids=lambda f: f.__name__)
def test_tangent_of_a_copy_written_through_another_name(f, jit):
    """`buf5 = M.copy()`, then the swap makes buf4 that array and `buf4[0, 1] = ...` writes into it: d_buf5 was
    d_M itself (a copy's tangent is its argument's, copied only where the copy's own name is written), so the
    write changed the caller's tangent and the later read of M[:, 1]'s tangent: jvp 0.067 off in both backends,
    and the hvp of sin(f / 2) (fuzz seed 500077, where the gradient's stacks give the array a third name)."""
    v = np.random.default_rng(1).normal(size=M_SWAP.shape)
    value, d = srcdiff.jvp(f, jit=jit)(M_SWAP, v)
    assert value == pytest.approx(f(M_SWAP), rel=1e-12)
    assert d == pytest.approx((f(M_SWAP + 1e-6 * v) - f(M_SWAP - 1e-6 * v)) / 2e-6, rel=1e-6, abs=1e-8)
    g = srcdiff.grad(f)
    ref = (g(M_SWAP + 1e-5 * v) - g(M_SWAP - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(srcdiff.hvp(f, jit=jit)(M_SWAP, v), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(v, np.random.default_rng(1).normal(size=M_SWAP.shape))   # the caller's tangent


def keeps_an_unused_list(a, x):
    seen = []
    return np.sum(x * a)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_an_empty_list_in_user_code(jit):
    """`seen = []` in a function jvp differentiates: the front end writes list syntax as runtime stack calls,
    which resolve looked up in the user's module ("name 'rt' is not defined", with no line)."""
    x = np.array([0.3, -1.2, 2.0])
    value, slope = srcdiff.jvp(keeps_an_unused_list, wrt=0, jit=jit)(0.7, x, 1.0)
    assert (value, slope) == (pytest.approx(0.7 * np.sum(x)), pytest.approx(np.sum(x)))
    J = srcdiff.jacobian(keeps_an_unused_list, wrt=1, jit=jit, mode="forward")(0.7, x)
    np.testing.assert_allclose(J, np.full(3, 0.7))


def _tanh_pair(p, x):
    w, c = p
    return np.tanh(w * x) * c


def _sin_shift(z, x):
    return np.concatenate([np.sin(x), np.sum(z ** 2) * np.ones(2)])


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_and_hessian_of_an_argument_with_no_entries(mode):
    """jacobian by columns (forward, and auto where the input has no more entries than the output) read the
    output's shape off its first column: an input of shape (0,) has none, and it raised IndexError."""
    J = srcdiff.jacobian(_sin_shift, wrt=0, mode=mode)(np.zeros(0), np.array([0.1, 0.2, 0.3]))
    assert J.shape == (5, 0)
    assert srcdiff.hessian(lambda z: np.sum(z ** 3))(np.zeros(0)).shape == (0, 0)


@pytest.mark.parametrize("make", [lambda f: srcdiff.jacobian(f, wrt=0), lambda f: srcdiff.hessian(f, wrt=0)],
                         ids=["jacobian", "hessian"])
def test_jacobian_and_hessian_of_a_tuple_argument_decline_with_advice(make):
    """jacobian / hessian with respect to a tuple argument raised NumPy's ValueError ('inhomogeneous shape') from
    their own plumbing; a matrix of derivatives has one axis per axis of one array: declined, naming the argument.
    With respect to another argument, the tuple argument works (hvp and jvp / vjp take tuples)."""
    p, x = (np.array([0.3, -0.2, 0.1]), 0.7), np.array([0.5, -1.0, 2.0])
    f = _tanh_pair if "jacobian" in make(_tanh_pair).__name__ else (lambda p, x: np.sum(_tanh_pair(p, x)))
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)its wrt argument 'p' is a tuple.*hint: pass the arrays"):
        make(f)(p, x)
    J = srcdiff.jacobian(_tanh_pair, wrt=1)(p, x)
    np.testing.assert_allclose(J, np.diag((1 - np.tanh(p[0] * x) ** 2) * p[0] * p[1]), rtol=1e-12)


def _mixed(x, y, c):
    return np.sum(np.sin(x) * y[0]) + c * np.sum(x ** 2) * y[1] ** 2 + np.prod(y) * np.sum(x)


def _mixed_vector(x, y):
    return np.concatenate([np.sin(x) * y[0] * y[1], x[:2] * np.exp(y)])


@pytest.mark.parametrize("jit", [False, True])
def test_hessian_and_jacobian_with_respect_to_several_arguments(jit):
    """hessian(f, wrt=(0, 1)) was declined ("call it once per argument"), which loses the cross blocks
    d2f/dx dy: now a tuple of rows of blocks, block [i][j] shaped x_i.shape + x_j.shape (jax.hessian's layout),
    each checked against central differences of the gradient; jacobian with a tuple wrt gives one block per
    argument, in every mode, equal to central differences."""
    x, y = np.array([0.3, 0.5, 0.7]), np.array([1.2, -0.4])
    H = srcdiff.hessian(_mixed, wrt=(0, 1), jit=jit)(x, y, 2.0)
    xs = [x, y]
    for i in range(2):
        g = srcdiff.grad(_mixed, wrt=i)
        for j in range(2):
            ref = np.zeros(xs[i].shape + xs[j].shape)
            for idx in np.ndindex(xs[j].shape):
                up, dn = [a.copy() for a in xs], [a.copy() for a in xs]
                up[j][idx] += EPS
                dn[j][idx] -= EPS
                ref[(Ellipsis,) + idx] = (g(*up, 2.0) - g(*dn, 2.0)) / (2 * EPS)
            assert H[i][j].shape == ref.shape
            np.testing.assert_allclose(H[i][j], ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H[0][1], H[1][0].T, rtol=1e-12)
    np.testing.assert_allclose(srcdiff.hessian(_mixed, wrt=0, jit=jit)(x, y, 2.0), H[0][0], rtol=1e-12)
    scalars = srcdiff.hessian(lambda a, b: a ** 2 * b ** 3, wrt=(0, 1), jit=jit)(1.5, 0.5)
    assert all(isinstance(h, float) for row in scalars for h in row)
    np.testing.assert_allclose(np.array(scalars), [[0.25, 2.25], [2.25, 6.75]], rtol=1e-12)
    for mode in ("auto", "forward", "reverse"):
        J = srcdiff.jacobian(_mixed_vector, wrt=("x", "y"), jit=jit, mode=mode)(x, y)
        assert isinstance(J, tuple) and J[0].shape == (5, 3) and J[1].shape == (5, 2)
        for k in range(2):
            ref = np.zeros((5,) + xs[k].shape)
            for idx in np.ndindex(xs[k].shape):
                up, dn = [a.copy() for a in xs], [a.copy() for a in xs]
                up[k][idx] += EPS
                dn[k][idx] -= EPS
                ref[(Ellipsis,) + idx] = (_mixed_vector(*up) - _mixed_vector(*dn)) / (2 * EPS)
            np.testing.assert_allclose(J[k], ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", [False, True])
def test_a_tuple_of_one_wrt_gives_tuples_of_one_in_hvp_hessian_and_jvp_of_grad(jit):
    """wrt=(0,) asks for a tuple of one, as grad gives: hvp returned H·v bare, hessian raised an internal
    IndexError (it read the bare vector's entries as the arguments' columns), and jvp of grad(f, wrt=(0,)) gave a
    value unlike the gradient's (bare), because the gradient's generated function returns its one gradient bare
    (api.Transformed._shape makes the tuple). h26a."""
    f = lambda x: np.sum(np.sin(x) * x)   # noqa: E731
    x, v = np.array([0.3, 0.5, -0.2]), np.array([1.0, -2.0, 0.5])
    H = np.diag(2 * np.cos(x) - x * np.sin(x))
    hv = srcdiff.hvp(f, wrt=(0,), jit=jit)(x, (v,))
    assert isinstance(hv, tuple) and len(hv) == 1
    np.testing.assert_allclose(hv[0], H @ v, rtol=1e-12)
    Hs = srcdiff.hessian(f, wrt=(0,), jit=jit)(x)
    assert isinstance(Hs, tuple) and len(Hs) == 1 and len(Hs[0]) == 1
    np.testing.assert_allclose(Hs[0][0], H, rtol=1e-12, atol=1e-15)
    g = srcdiff.grad(f, wrt=(0,))
    value, tangent = srcdiff.jvp(g, jit=jit)(x, v)
    assert isinstance(value, tuple) and isinstance(tangent, tuple)
    np.testing.assert_allclose(value[0], g(x)[0], rtol=1e-12)
    np.testing.assert_allclose(tangent[0], H @ v, rtol=1e-12)


def sine_and_total(x):
    return np.sin(x), np.sum(x * x)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_of_a_tuple_of_parts_of_different_shapes_declines(mode):
    """jacobian stacks a tuple's parts into one array; parts of different shapes do not stack: a SrcdiffError naming
    the shapes, with advice (it was NumPy's ValueError, 'inhomogeneous shape', in every mode, h29c)."""
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_forward.py:\d+: sine_and_total returned a tuple of parts of "
                                                   r"different shapes \(\(3,\), \(\)\)(?s:.*)hint: .*srcdiff.jvp"):
        srcdiff.jacobian(sine_and_total, mode=mode)(np.array([0.1, 0.5, -0.3]))
