"""transforms/function_args.py: a call passing a function to a function of the user's (an ODE integrator's
right-hand side) calls a copy of the callee made for that function (both backends)."""
import numpy as np
import pytest
import scipy.special

import srcdiff
from gradcheck import numerical_grad, source_module
from passes import body_source, through

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def oscillator(t, y, p):
    return np.array([y[1], -p[0] * y[0] - p[1] * y[1]])


def rk4(fun, y, t, h, p):
    k1 = fun(t, y, p)
    k2 = fun(t + h / 2, y + h / 2 * k1, p)
    k3 = fun(t + h / 2, y + h / 2 * k2, p)
    k4 = fun(t + h, y + h * k3, p)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def damped_oscillator(p):
    y = np.array([1.0, 0.0])
    t = 0.0
    for i in range(20):
        y = rk4(oscillator, y, t, 0.1, p)
        t += 0.1
    return y[0] ** 2 + y[1]


def test_the_call_calls_a_copy_without_the_function_parameter():
    body = body_source(through(damped_oscillator, "function arguments").node)
    assert "y = rk4_oscillator(y, t, 0.1, p)" in body


def step(fun, y, h):
    k1 = fun(y)
    k2 = fun(y + h * k1)
    return y + 0.5 * h * (k1 + k2)


def run(fun, y, n, h=0.1):
    for i in range(n):
        y = step(fun, y, h)
    return y


def passed_lambdas_and_nested_defs(k):
    total = 0.0
    for j in range(3):
        total += run(lambda y: -k * y ** 2 + j, 1.0, 5)     # (reads the loop's j when called)

    def osc(y):
        return np.array([y[1], -k * y[0]])
    z = run(osc, np.array([1.0, 0.0]), 10, h=0.05)
    w = run(lambda y, c=2.0: -c * y, 1.0, 4, 0.1 * k)

    def integrate(rhs, y0, n):
        y = y0
        for i in range(n):
            y = y + 0.1 * rhs(y)
        return y
    return total + z[0] + w + integrate(osc, np.array([0.5, 0.5]), 3)[1] * integrate(lambda v: -v * k, 2.0, 2)


@JIT
@pytest.mark.parametrize("f, x", [(damped_oscillator, np.array([2.0, 0.3])), (passed_lambdas_and_nested_defs, 0.8)])
def test_functions_passed_to_helpers_are_differentiated(f, x, jit):
    """rk4(rhs, y, t, h, p) was declined ('cannot call the local value fun: functions passed as arguments are not
    supported'), and so were a lambda or a nested def passed (down a chain of helpers too)."""
    np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(x), numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-9)
    v = np.ones_like(x) if np.ndim(x) else 1.0
    val, t = srcdiff.jvp(f, jit=jit)(x, v)
    assert val == pytest.approx(f(x))
    np.testing.assert_allclose(t, np.sum(numerical_grad(f, [x], 0) * v), rtol=1e-6)


def trapezoid_rule(fun, a, b, n):
    h = (b - a) / n
    s = 0.5 * (fun(a) + fun(b))
    for i in range(1, n):
        s += fun(a + i * h)
    return s * h


def quadratures_of_numpy_functions(L):
    return trapezoid_rule(np.exp, 0.0, L, 8) + trapezoid_rule(np.sin, 0.0, 2 * L, 6)


@JIT
def test_a_numpy_function_passed_is_called_by_its_rule(jit):
    np.testing.assert_allclose(srcdiff.grad(quadratures_of_numpy_functions, jit=jit)(1.3),
                               numerical_grad(quadratures_of_numpy_functions, [1.3], 0), rtol=1e-6)


LIB = """
import numpy as np
DT = 0.05
def euler(fun, y, n, p, scale=1.0):
    for i in range(n):
        y = y + DT * scale * fun(y, p)
    return y
def solve(fun, y0, n, p):
    y = euler(fun, y0, n // 2, p)
    return euler(fun, y, n - n // 2, p)
"""

USER = """
import numpy as np
import fa_odelib
from fa_odelib import solve, euler
def decay(y, p):
    return -p[0] * y + p[1] * np.sin(y)
def growth(y, p):
    return p[1] * y * (1 - y)
def f(p):
    a = solve(decay, np.array([1.0, 0.5]), 10, p)
    b = euler(growth, 0.1, 8, p)
    c = euler(fun=decay, y=a, n=3, p=p)
    return np.sum(a ** 2) + b + np.sum(c)
def with_lambda(k):
    return euler(lambda y, p: -p * y, 1.0, 10, k)
def by_module(p):
    import_free = fa_odelib.euler(decay, np.array([0.3, 0.6]), 4, p)
    return np.sum(import_free ** 2)
"""


@JIT
def test_an_integrator_of_another_module_takes_a_module_level_function(jit):
    """The integrator's copy is a function of its own module (its globals: DT), called by position (a call by
    keyword of the copy stayed a call whose value was dropped: a gradient silently 0, found while writing this)."""
    source_module("fa_odelib", LIB)
    mod = source_module("fa_user", USER)
    p = np.array([0.7, 1.3])
    np.testing.assert_allclose(srcdiff.grad(mod.f, jit=jit)(p), numerical_grad(mod.f, [p], 0), rtol=1e-6)
    np.testing.assert_allclose(srcdiff.grad(mod.by_module, jit=jit)(p), numerical_grad(mod.by_module, [p], 0),
                               rtol=1e-6)     # (the integrator called as the module's attribute, fa_odelib.euler)
    with pytest.raises(srcdiff.SrcdiffError, match="a function of another module"):
        srcdiff.grad(mod.with_lambda)(0.7)


def simpson(fun, a, b, depth):
    m = 0.5 * (a + b)
    s = (b - a) / 6 * (fun(a) + 4 * fun(m) + fun(b))
    if depth == 0:
        return s
    return simpson(fun, a, m, depth - 1) + simpson(fun, m, b, depth - 1)


def gauss(x):
    return np.exp(-x * x)


def recursive_quadrature(L):
    return simpson(gauss, 0.0, L, 3)


def rebinds(fun, y):
    fun = gauss
    return fun(y)


def rebinding_caller(x):
    return rebinds(gauss, x)


@pytest.mark.parametrize("f, match", [(recursive_quadrature, "passes the function it takes to itself"),
                                      (rebinding_caller, "is bound again there")])
def test_forms_it_does_not_take_are_declined_at_the_call(f, match):
    with pytest.raises(srcdiff.SrcdiffError, match=match):
        srcdiff.grad(f)(1.3)


def inner_loss(x, a):
    return x * x * np.sum(a)


def gradient_penalty(x, a):
    gx, ga = srcdiff.grad(inner_loss, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


def test_a_function_passed_to_a_srcdiff_transform_is_left_to_it():
    """srcdiff.grad(f, wrt=...)(x, a) inside a function differentiated passes the user's f to srcdiff's own
    function: the pass made a copy of srcdiff.grad ('cannot call grad_f((0, 1), False, None)', nested fuzz)."""
    x, a = 0.7, np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(srcdiff.grad(gradient_penalty)(x, a), numerical_grad(gradient_penalty, [x, a], 0),
                               rtol=1e-6)


def integrate_twice(fun, u, k):
    for i in range(2):
        u = u + k * fun(u)
    return u


def beside_unused_nested_defs(x, a, M):
    def rhs(u):
        return 0.5 * np.tanh(u)
    buf = np.copy(a)
    def unused(u):
        def inner(z):
            return z * x
        return u
    return (np.max(scipy.special.ndtri(0.5 + 0.45 * np.tanh(M))) + np.sum(buf)
            + integrate_twice(rhs, np.sum(M[0][[True, True, False]]), 0.5))


def vector_beside_unused_nested_defs(x, a, M):
    return beside_unused_nested_defs(x, a, M) * a + x * np.sin(a)


@JIT
def test_a_function_passed_beside_nested_defs_under_jvp(jit):
    """Fuzz seed 916068 (its jvp under Numba, through jacobian(mode="forward") of f(...) * a + x * sin(a)):
    'Type of variable 'result1' cannot be determined'. rhs's unit knew the nested defs of its caller, so rhs was
    taken for recursive and stayed a call (fixed in module_builder since); the Numba failure itself was Numba's
    temporaries colliding, `$result590.12` made by loads of `result5` at offset 90 and of `result` at 590
    (srcdiff/numba_names.py renames such locals in the function Numba compiles; tests/test_numba_names.py)."""
    x, a, M = 0.7, np.array([0.3, -0.2, 0.5]), np.array([[0.3, -0.1, 0.5], [0.2, 0.4, -0.3]])
    f, fv = beside_unused_nested_defs, vector_beside_unused_nested_defs
    J = srcdiff.jacobian(fv, wrt=1, jit=jit, mode="forward")(x, a, M)
    eps = 1e-6
    want = np.stack([(fv(x, a + eps * e, M) - fv(x, a - eps * e, M)) / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(J, want, rtol=1e-6, atol=1e-8)
    for k in (1, 2):
        g = srcdiff.grad(f, wrt=k, jit=jit)(x, a, M)
        np.testing.assert_allclose(g, numerical_grad(f, [x, a, M], k), rtol=1e-6, atol=1e-8)
        v = np.cos(np.arange(np.size(g)) + 1.0).reshape(np.shape(g))
        value, dot = srcdiff.jvp(f, wrt=k, jit=jit)(x, a, M, v)
        assert value == pytest.approx(f(x, a, M), rel=1e-12)
        assert dot == pytest.approx(float(np.sum(g * v)), rel=1e-9)


def contract(A, B, spec="ij,jk->ik"):
    return np.einsum(spec, A, B)


def contract_twice(spec, A, B):
    return contract(A, B, spec) * 2.0


def einsum_through_helpers(A, B):
    def trace_of(s, X):
        return np.einsum(s, X)
    rows = "ij,jk->i"
    return (np.sum(contract(A, B) ** 2) + np.sum(contract(A, B, "ij,jk->ki")[0])
            + trace_of("ij->", A) + np.sum(contract(spec="ij,jk->jk", B=B, A=A))
            + np.sum(contract_twice("ij,jk->ij", A, B) ** 2) + np.sum(np.sin(contract(A, B, rows))))


def einsum_of_a_loop_variable(A, B):
    s = 0.0
    for spec in ("ij,jk->ik", "ij,jk->ki"):
        s += np.sum(contract(A, B, spec))
    return s


@JIT
def test_einsum_subscripts_passed_to_a_helper_are_a_literal_there(jit):
    # (declined before: "np.einsum: the subscripts must be a string literal", the helper written out alone)
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    got = srcdiff.grad(einsum_through_helpers, wrt=(0, 1), jit=jit)(A, B)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(einsum_through_helpers, [A, B], k), rtol=1e-6, atol=1e-8)
    _, tangent = srcdiff.jvp(einsum_through_helpers, wrt=0, jit=jit)(A, B, np.ones_like(A))
    np.testing.assert_allclose(tangent, np.sum(got[0]), rtol=1e-10)
    body = body_source(through(einsum_through_helpers, "function arguments").node)
    assert "contract_ij_jk_ki(A, B)" in body and "trace_of_ij(A)" in body and "contract_ij_jk_i(A, B)" in body
    with pytest.raises(srcdiff.SrcdiffError, match="subscripts must be a string literal(.|\n)*hint: pass a string "
                                                   "literal for 'spec' where 'contract' is called"):
        srcdiff.grad(einsum_of_a_loop_variable)(A, B)


def apply_twice_shadowing(fun, x):
    def twice(fun):
        return fun(x) * 2.0
    return fun(x) + twice(np.cos)


def apply_lambda_shadowing(fun, x):
    g = lambda fun: fun * 3.0  # noqa: E731
    return fun(x) + g(x)


def contract_shadowing(spec, A):
    def inner(spec):
        return np.einsum(spec, A)
    return inner("ij->i")[0] * np.sum(np.einsum(spec, A) ** 2)


def passes_a_nested_def_to_shadowing_helpers(x):
    def act(z):
        return z * z
    return np.sum(apply_twice_shadowing(act, x))


def passes_a_nested_def_to_a_shadowing_lambda(x):
    def act(z):
        return z * z
    return np.sum(apply_lambda_shadowing(act, x))


def passes_subscripts_to_a_shadowing_helper(A):
    return contract_shadowing("ij->j", A)


@pytest.mark.parametrize("f", [passes_a_nested_def_to_shadowing_helpers, passes_a_nested_def_to_a_shadowing_lambda,
                               passes_subscripts_to_a_shadowing_helper])
def test_a_parameter_hidden_by_a_nested_functions_own_is_not_replaced_there(f):
    """The callee's copy put the function passed (or the literal) in place of every read of the parameter, also in a
    nested def or lambda whose own parameter of that name hides it: `twice(np.cos)` ran `act` (a wrong gradient,
    found by hand), `lambda fun: fun * 3.0` read `act` as a value (declined at line 1 of the file). Now the right
    gradient, or declined where the nested def is passed a function itself."""
    x = np.array([[0.3, -0.7, 1.1], [0.4, 0.2, -0.5]]) if f is passes_subscripts_to_a_shadowing_helper \
        else np.array([0.3, -0.7, 1.1])
    try:
        got = srcdiff.grad(f)(x)
    except srcdiff.SrcdiffError as e:
        assert f is not passes_a_nested_def_to_a_shadowing_lambda and ":1:" not in str(e)
        return
    np.testing.assert_allclose(got, numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-8)


def apply_beside_its_own_act(fun, x):
    def act(z):
        return z + 100.0
    scale = x * 0.5
    return fun(x) * act(x) + scale


def passes_act_to_a_callee_with_an_act_of_its_own(x):
    def act(z):
        return z * z
    def scale(z):
        return np.sin(z)
    return np.sum(apply_beside_its_own_act(act, x)) + np.sum(apply_beside_its_own_act(scale, x))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_function_passed_under_a_name_the_callee_binds_itself(jit):
    """The caller's `act` passed to a callee with a nested def `act` of its own (and `scale`, a local there): the copy
    called `act` in place of its parameter, its own (a wrong gradient, found by hand: [200.6 198.6 202.2] for
    [60.27 -138.53 223.63]); the copy's own names are renamed first."""
    x = np.array([0.3, -0.7, 1.1])
    got = srcdiff.grad(passes_act_to_a_callee_with_an_act_of_its_own, jit=jit)(x)
    np.testing.assert_allclose(got, numerical_grad(passes_act_to_a_callee_with_an_act_of_its_own, [x], 0),
                               rtol=1e-6, atol=1e-8)


def heun(rhs, y, h, n):
    def step(y, dt=0.1):
        k1 = rhs(y)
        return y + 0.5 * dt * (k1 + rhs(y + dt * k1))
    for _ in range(n):
        y = step(y, dt=h)
    return y


def integrates_with_a_variable_named_like_the_integrators_def(p):
    step, dt = 0.3, 1.5
    def rhs(y):
        return -p * y * step * dt
    return np.sum(heun(rhs, np.ones(2), 0.1, 5) ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_function_passed_reads_a_variable_named_like_one_the_callee_binds(jit):
    """`rhs` reads the caller's `step`; the integrator has a nested def `step`: declined before ("nested function
    'heun_rhs' calls 'rhs', which reads the enclosing function's 'step', but 'heun_rhs' binds its own 'step'", naming
    a copy the user never wrote); the copy's own names that the caller's functions read are renamed (`dt`, a
    parameter of its nested def, in the keyword call `step(y, dt=h)` too)."""
    p = np.array([0.4, 0.9])
    f = integrates_with_a_variable_named_like_the_integrators_def
    np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(p), numerical_grad(f, [p], 0), rtol=1e-6, atol=1e-8)
    _, t = srcdiff.jvp(f, jit=jit)(p, np.ones(2))
    assert t == pytest.approx(np.sum(srcdiff.grad(f)(p)), rel=1e-10)


def hands_on(fun, y, h):
    def stage(g, z, dt):
        return z + dt * g(z)

    def two_stages(g, z):
        return stage(g, stage(g, z, 0.5 * h), 0.5 * h)
    scaled = lambda g, z: 0.5 * g(z)  # noqa: E731
    return two_stages(fun, y) + scaled(fun, y) + stage(lambda v: fun(v) * v, y, h)


def cube(v):
    return v ** 3


def hands_on_module_level(x):
    return np.sum(hands_on(cube, x, 0.2))


def hands_on_nested_def(x):
    c = np.sum(x)

    def rhs(v):
        return -c * np.sin(v)
    return np.sum(hands_on(rhs, x, 0.1) ** 2)


def hands_on_lambda_and_numpy(x):
    return np.sum(hands_on(lambda v: np.tanh(v) * x[0], x, 0.3)) + np.sum(hands_on(np.exp, x, 0.1))


def calls_a_named_lambda_with_a_function(x):
    apply = lambda g, y: g(y) * 2.0  # noqa: E731
    return np.sum(apply(np.sin, x)) + np.sum(apply(cube, x))


@JIT
@pytest.mark.parametrize("f", [hands_on_module_level, hands_on_nested_def, hands_on_lambda_and_numpy,
                               calls_a_named_lambda_with_a_function])
def test_a_function_the_callee_hands_on_to_its_own_nested_functions(f, jit):
    """The callee passes the function it takes on to its own nested def or named lambda (`stage(g, z, dt)`, two
    deep, and a lambda written there): declined before, as 'cannot call the local value' or, for a nested def or a
    lambda passed, 'function 'rhs' used as a value' at line 1 of the file (the function's name put in place of the
    parameter had no line). The nested functions of the callee's copy are looked up where the copy calls them, and
    their copies go first in the copy."""
    x = np.array([0.3, -0.7, 1.1])
    want = numerical_grad(f, [x], 0)
    np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(x), want, rtol=1e-6, atol=1e-8)
    v = np.array([0.5, -1.0, 2.0])
    value, dot = srcdiff.jvp(f, jit=jit)(x, v)
    assert value == pytest.approx(f(x), rel=1e-12)
    assert dot == pytest.approx(float(want @ v), rel=1e-6)
    if not jit:
        eps = 1e-5
        H = srcdiff.hessian(f)(x)
        fd = np.stack([(srcdiff.grad(f)(x + eps * e) - srcdiff.grad(f)(x - eps * e)) / (2 * eps) for e in np.eye(3)])
        np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6)


def passes_a_lambda_and_a_nested_def(k):
    def osc(y):
        return -k * y
    return step(lambda y: -k * y ** 2, 1.0, 0.1) + step(osc, 2.0, 0.1)


def test_the_comments_of_a_copy_name_the_users_function():
    """The `# line` comments of the statements inlined from the callee's copy named the copy (`step_osc, line 44`),
    and those of a lambda passed a def srcdiff made for it (`fn, line 10`): names the user never wrote."""
    g = srcdiff.grad(passes_a_lambda_and_a_nested_def)
    np.testing.assert_allclose(g(0.5), numerical_grad(passes_a_lambda_and_a_nested_def, [0.5], 0), rtol=1e-6)
    comments = [ln.strip() for ln in srcdiff.source(g).splitlines() if ln.strip().startswith("# ")]
    assert any(c.startswith("# step, line") for c in comments), comments
    assert any(c.startswith("# lambda, line") for c in comments), comments
    assert not any(c.startswith(("# step_", "# fn,")) for c in comments), comments
