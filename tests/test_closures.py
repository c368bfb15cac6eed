"""transforms/closures.py: nested defs and named lambdas become callees taking their free variables."""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad
from passes import body_source, through


def scaled_sum(x, scale):
    def term(u):
        return u * scale
    return term(x) + term(2.0 * x)


def test_nested_def_becomes_a_callee_taking_its_free_variables():
    unit = through(scaled_sum, "closures")
    assert body_source(unit.node) == "return term(x, scale) + term(2.0 * x, scale)"
    term = unit.callees["term"]
    assert [a.id for a in term.node.args.args] == ["u", "scale"]
    assert body_source(term.node) == "return u * scale"


def named_and_called_lambdas(x, c):
    sq = lambda u: u * u * c
    return sq(x) + (lambda y: y * c)(x)


def test_named_and_called_lambdas_are_lifted():
    unit = through(named_and_called_lambdas, "closures")
    assert body_source(unit.node) == "return sq(x, c) + lam(x, c)"
    assert body_source(unit.callees["sq"].node) == "return u * u * c"
    assert body_source(unit.callees["lam"].node) == "return y * c"


def siblings(x, c):
    def inner(u):
        return u * c

    def outer(u):
        return inner(u) + u
    return outer(x)


def test_a_def_calling_a_sibling_passes_the_siblings_free_variables_on():
    unit = through(siblings, "closures")
    assert body_source(unit.node) == "return outer(x, c)"
    outer = unit.callees["outer"]
    assert [a.id for a in outer.node.args.args] == ["u", "c"]
    assert body_source(outer.node) == "return inner(u, c) + u"


def keyword_call(x, c):
    def f(a, b):
        return a * b + c
    return f(b=x, a=2.0)


def test_keyword_arguments_of_a_nested_def_are_passed_by_position():
    assert body_source(through(keyword_call, "closures").node) == "return f(2.0, x, c)"


def default_value(x):
    def f(a, b=2.0):
        return a * b
    return f(x)


def defaults_bound_where_defined(x, y):
    scale = x * 2.0

    def inner(u, c=2.0, *, d=scale):
        return np.sin(u * c) + x * d
    scale = 100.0            # (the default was evaluated at the def, as Python does)
    g = lambda u, k=y: u * k
    return inner(y) + inner(x, 3.0) + inner(x, d=1.5) + inner(u=y, c=x) + g(x) + (lambda v, z=0.5: v * z)(x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_defaults_and_keyword_only_parameters_of_nested_functions(jit):
    """Nested defs and lambdas with defaults (constants, or values of the enclosing function bound where the
    def runs) and keyword-only parameters were declined; calls now bind their arguments as Python does."""
    check_grad(default_value, [0.7], jit=jit)
    check_grad(defaults_bound_where_defined, [0.7, 1.3], wrt=(0, 1), jit=jit)
    value, _ = srcdiff.value_and_grad(defaults_bound_where_defined, wrt=(0, 1), jit=jit)(0.7, 1.3)
    assert value == pytest.approx(defaults_bound_where_defined(0.7, 1.3), rel=1e-14)
    assert body_source(through(default_value, "closures").node) == "return f(x, 2.0)"


def positional_keyword_only(x):
    def f(a, *, b=1.0):
        return a * b
    return f(x, 2.0)


def test_a_keyword_only_parameter_given_by_position_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"f\(\) takes 1 positional arguments but 2 were given"):
        srcdiff.grad(positional_keyword_only)(1.0)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [scaled_sum, named_and_called_lambdas, siblings, keyword_call])
def test_gradients_through_lifted_functions(f, jit):
    check_grad(f, [0.7, 1.3], jit=jit)
    np.testing.assert_allclose(srcdiff.value_and_grad(f, jit=jit)(0.7, 1.3)[0], f(0.7, 1.3))


def rk2_state(y0, k):
    """A nested def taking a tuple, called on a tuple literal and then on the items of its own result: the front
    end flattened the lifted function's unit in place for the first call, so the second saw a function of three
    parameters, stayed a call, and the gradient was declined ("the differentiated function returns a tuple")."""
    def rhs(s):
        p, v = s
        return (v, -k[0] * p + 0.1 * np.sin(p))
    k1 = rhs((y0[0], y0[1]))
    k2 = rhs((y0[0] + 0.5 * k1[0], y0[1] + 0.5 * k1[1]))
    return k2[0] ** 2 + 0.5 * k2[1] ** 2


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_nested_def_called_twice_on_tuples(jit):
    y0, k = np.array([1.0, 0.2]), np.array([2.0, 0.3])
    check_grad(rk2_state, [y0, k], wrt=(0, 1), jit=jit)
    tangent = (np.array([0.3, -0.5]), np.array([0.7, 0.1]))
    _, d = srcdiff.jvp(rk2_state, wrt=(0, 1), jit=jit)(y0, k, tangent)
    g = srcdiff.grad(rk2_state, wrt=(0, 1), jit=jit)(y0, k)
    np.testing.assert_allclose(d, np.sum(g[0] * tangent[0]) + np.sum(g[1] * tangent[1]), rtol=1e-10)


def default_calling_a_lambda(x, n):
    def inner(u, *, c=(lambda y: y * x)(n * 0.25)):
        return np.sin(u) * c
    return inner(x) + inner(x * 2.0, c=0.5)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_default_that_calls_a_lambda(jit):
    # the default's value, bound where the def runs, held a lambda called in place that was not lifted: "cannot
    # call lambda" (fuzz seed 798067)
    check_grad(default_calling_a_lambda, [0.4, 2], wrt=0, jit=jit)


# ---- a name bound to a nested function twice --------------------------------------------------------
def lambda_bound_again(a, x):
    g = lambda u: u * a
    t = np.sum(g(x))
    g = lambda u: u + a * a
    return t + np.sum(g(x))


def def_bound_again(a, x):
    def g(u):
        return u * a
    t = np.sum(g(x))
    for i in range(2):
        t += np.sum(g(x * i))
    def g(u):
        return np.sin(u) * a
    return t + np.sum(g(x))


def test_each_binding_gets_a_name_of_its_own():
    unit = through(lambda_bound_again, "closures")
    body = body_source(unit.node)
    assert "t = np.sum(g(x, a))" in body and "return t + np.sum(g1(x, a))" in body
    assert body_source(unit.callees["g1"].node) == "return u + a * a"


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [lambda_bound_again, def_bound_again])
def test_calls_after_a_second_binding_call_it(f, jit):
    """Each call reached the last binding (lifting kept one function per name): a silently wrong gradient."""
    check_grad(f, [0.7, np.array([0.3, -1.2, 2.0])], jit=jit)


def bound_in_branches(a, x):
    g = lambda u: u * a
    if a > 0:
        g = lambda u: u + a * a
    return np.sum(g(x))


def bound_in_a_loop(a, x):
    t = 0.0
    for i in range(2):
        def g(u):
            return u * i
        t += np.sum(g(x))
    def g(u):
        return u * a
    return t + np.sum(g(x))


def read_by_a_sibling(a, x):
    g = lambda u: u * a
    h = lambda u: g(u) + 1.0
    g = lambda u: u + a
    return np.sum(h(x))


def used_as_a_value(a, x):
    g = lambda u: u * a
    if a > 0:
        g = lambda u: u + a
    h = g
    return np.sum(h(x))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("a", [0.7, -0.7])
@pytest.mark.parametrize("f", [bound_in_branches, bound_in_a_loop])
def test_bindings_in_branches_and_loops_call_the_binding_of_the_time(f, a, jit):
    """Each binding sets `g_which`; a call runs the function it names (declined before this session's fix; before
    that, every call reached the last binding: a silently wrong gradient where a <= 0)."""
    check_grad(f, [a, np.array([0.3, -1.2, 2.0])], jit=jit)


def test_a_call_after_bindings_in_branches_selects_by_a_flag():
    body = body_source(through(bound_in_branches, "closures").node)
    assert "g_which = 0" in body and "g_which = 1" in body
    assert "g(x, a) if g_which == 0 else g1(x, a)" in body


@pytest.mark.parametrize("f, line, what", [(used_as_a_value, 4, "used other than called"),
                                           (read_by_a_sibling, 2, "Python finds the binding")])
def test_bindings_a_call_cannot_follow_are_declined(f, line, what):
    import inspect
    first = inspect.getsourcelines(f)[1]
    with pytest.raises(srcdiff.SrcdiffError, match=what) as e:
        srcdiff.grad(f)(0.7, np.array([0.3, -1.2]))
    assert e.value.lineno == first + line


def _bound_again_in_a_loop_later(x, M, n):
    """`g` called before it is bound again in a loop over pairs (a dead branch when n <= 5): a call selects among
    the bindings that can reach it (it selected among every one: the stored case tests/fuzz_cases/
    lambda_bound_later_836034.py, a NameError of the loop's `w` in the gradient of a function calling it)."""
    g = lambda u: x * u
    t = g(np.sum(M))
    g = lambda u: np.sin(x) * u
    if n > 5:
        for w, v in ((M * 2.0, x), (M * 3.0, x * x)):
            g = lambda u: np.dot(w[:, 1], M[:, 0]) + u
            t = t + g(v)
    return t + g(x)


def _calls_it(x, M, n):
    return np.sin(0.5 * _bound_again_in_a_loop_later(x, M, n))


@pytest.mark.parametrize("n", [2, 7])
@pytest.mark.parametrize("f", [_bound_again_in_a_loop_later, _calls_it])
@pytest.mark.parametrize("jit", [False, True])
def test_a_call_selects_among_the_bindings_that_reach_it(f, n, jit):
    M = np.array([[0.5, -0.3, 0.2], [0.1, 0.9, -0.4]])
    check_grad(f, [0.7, M, n], wrt=(0, 1), jit=jit)


def _nested_calls_of_a_rebound_name(x, flag):
    """`act(act(z) if ... else z)` of a name bound to lambdas in a loop: the inner call, selected first, was
    deep-copied into each branch of the outer call's selection and then no longer known as a call: declined
    as "used other than called" (tests/test_fuzz.py's hypothesis run, a program of fuzzgen's)."""
    act = lambda z: np.tanh(z)
    s = 0.0
    for i in range(3):
        s = s + act(act(x * i) if x > 0.0 else x) * 2.0
        if flag and i == 1:
            act = lambda z: z * z
    return s + act(act(x))


@pytest.mark.parametrize("x, flag", [(0.6, True), (0.6, False), (-0.6, True)])
def test_nested_calls_of_a_name_bound_to_functions_in_a_loop(x, flag):
    check_grad(_nested_calls_of_a_rebound_name, [x, flag], wrt=(0,))


def _bound_in_a_while_else(x, M):
    """`lam` called in a while loop's body and bound again in a loop over pairs in its else block, which runs
    once, after the loop: the call in the body selected the else block's binding too (the loop's span took in its
    else block), whose free `v` is not bound there: "name 'v' is not defined" from hvp differentiating the
    gradient (fuzz seed 53)."""
    lam = lambda u: np.log(1.0 + M[1, 0] * M[1, 0]) + u
    k = 0
    while k < 2:
        if lam(x[0]) > -0.7:
            x = 0.5 * x + np.tanh(x)
        k += 1
    else:
        for w, v in ((M, x * 2.0), (M * 2.0, np.maximum(M[0], x[1]))):
            lam = lambda u: np.sum((v + M)[(v + M) > 0.3]) + u
    return np.sin(lam(-1.2) + np.sum(x * x))


def test_a_call_in_a_while_body_does_not_select_a_binding_of_its_else_block():
    body = body_source(through(_bound_in_a_while_else, "closures").node)
    assert body.count("lam_which == 0") == 1     # (the call after the loop only)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hvp_of_a_lambda_bound_in_a_while_else_block(jit):
    x, M = np.array([0.3, 0.7, 0.2, 0.9]), np.arange(8.0).reshape(2, 4) / 7.0
    check_grad(_bound_in_a_while_else, [x, M], wrt=(0,), jit=jit)
    v, eps = np.array([1.0, -0.5, 0.25, 2.0]), 1e-6
    grad = srcdiff.grad(_bound_in_a_while_else, jit=jit)
    got = srcdiff.hvp(_bound_in_a_while_else, jit=jit)(x, M, v)
    np.testing.assert_allclose(got, (grad(x + eps * v, M) - grad(x - eps * v, M)) / (2 * eps), rtol=1e-5, atol=1e-6)


def nested_in_nested_calls_an_outer_def(x, a):
    """`inner`, nested in `outer`, calls `square`, a nested def of the function itself (a sibling of `outer`):
    declined before ("cannot call the local value 'square'": the lifted `outer`'s own lifted functions did not see
    the functions lifted beside it)."""
    def square(z):
        return z * z * a
    def outer(z):
        def inner(w):
            return square(w) + np.sin(w)
        return inner(z) * 2.0 + square(z)
    return outer(x) + a


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_def_nested_in_a_nested_def_calls_the_functions_lifted_beside_its_parent(jit):
    check_grad(nested_in_nested_calls_an_outer_def, [0.7, 1.3], jit=jit)
    _, t = srcdiff.jvp(nested_in_nested_calls_an_outer_def, wrt=0, jit=jit)(0.7, 1.3, 1.0)
    assert t == pytest.approx(srcdiff.grad(nested_in_nested_calls_an_outer_def)(0.7, 1.3), rel=1e-12)


def _powers(z, k):
    return z * 2.0


def powers_through_a_recursive_nested_def(x, n=3):
    def _powers(z, k):      # (a module-level function of this name exists: Python calls this one)
        if k == 0:
            return z
        return np.sin(_powers(z, k - 1)) * z
    return np.sum(_powers(x, n))


def _module_level_powers(z, k):
    if k == 0:
        return z
    return np.sin(_module_level_powers(z, k - 1)) * z


def powers_through_a_recursive_function(x, n=3):
    return np.sum(_module_level_powers(x, n))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_nested_def_that_calls_itself_is_declined_at_the_call(jit):
    """A nested def calling itself: its lifted copy resolved the name to the module-level function of that name,
    which Python does not call there (a silently wrong value, 1.605 for 0.622, and gradient; hand-written
    second-order programs), or was declined as 'cannot call the local value' where there is none, whose advice
    (call nested defs by name) it follows. Declined at the call, saying to define it at module level, which works."""
    x = np.array([0.3, -0.6, 0.9])
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_closures.py:\d+: a nested function that calls itself "
                                                   r"\('_powers'\)(.|\n)*hint: define '_powers' at module level"):
        srcdiff.grad(powers_through_a_recursive_nested_def, jit=jit)(x)
    check_grad(powers_through_a_recursive_function, [x], jit=jit)


def _lambda_left_as_a_call(pk):
    p0, p1 = pk
    p1 = (lambda y2: y2 * sum([p1, p1], 0.3))(1.5)     # (its value unread: the call stays, of its primal `lam1`)
    return -0.7


def _recursive_with_a_lambda(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(_recursive_with_a_lambda(u, depth - 1)) + 0.5 * (lambda y7: y7 * u)(u)


def _makes_a_lambda(c):
    return lambda u: sum([u, _lambda_left_as_a_call([np.ones(3), np.ones(3)]), c])


def lifted_lambda_and_an_inlined_lambdas_value(x, a):
    fn = _makes_a_lambda(x)
    return _recursive_with_a_lambda(x, 1) + fn(a[2]) * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_local_named_as_a_called_functions_primal_is_renamed(jit):
    """The value of one helper's lambda inlined into f is a local `lam1`, and another helper's lambda, which stays a
    call, has the primal named lam1 in the module: jvp called the local, a float ('float' object is not callable;
    CUDA fuzz seed 1007127, tests/fuzz_cases/lifted_lambda_name_shadowed_1007127.py). The local is renamed."""
    x, a = 0.5, np.array([0.3, -0.2, 0.7])
    f = lifted_lambda_and_an_inlined_lambdas_value
    value, tangent = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(x, a, (1.0, np.array([0.5, 1.0, -2.0])))
    h = 1e-6
    fd = (f(x + h, a + h * np.array([0.5, 1.0, -2.0])) - f(x - h, a - h * np.array([0.5, 1.0, -2.0]))) / (2 * h)
    assert abs(value - f(x, a)) < 1e-12 and abs(tangent - fd) < 1e-6, (value, tangent, fd)
    check_grad(f, [x, a], jit=jit)


# ---- functions chosen by a conditional expression or bound as values (`act = np.tanh`) ----------------------------
def _square(t):
    return t * t


def act_by_conditional_expression(x, flag):
    act = (lambda t: t * t) if flag else np.tanh
    return np.sum(act(x) * x)


def act_by_branches_lambda_or_numpy(x, flag):
    if flag:
        act = lambda t: t * t
    else:
        act = np.tanh       # (was silently the lambda: the lifted function was called on every path)
    return np.sum(act(x))


def act_module_function_or_numpy(x, flag):
    act = _square if flag else np.tanh
    return np.sum(act(x))


def act_nested_conditional(x, k):
    act = np.sin if k == 0 else ((lambda t: t * t * t) if k == 1 else np.tanh)
    return np.sum(act(x) + act(2.0 * x))


def act_kept_by_conditional_expression(x, s):
    act = np.tanh
    act = np.sin if s > 0.5 else act
    return np.sum(act(x) * x)


def act_kept_in_a_loop(x, s):
    act = lambda t: t * t
    for i in range(3):
        act = act if x[i] * s > 0.0 else np.sin
        x = act(x) * 1.5
    return np.sum(x)


def act_bound_once(x):
    act = np.tanh
    sq = _square
    return np.sum(sq(act(x)))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, other", [(act_by_conditional_expression, (True, False)),
                                      (act_by_branches_lambda_or_numpy, (True, False)),
                                      (act_module_function_or_numpy, (True, False)),
                                      (act_nested_conditional, (0, 1, 2))])
def test_function_chosen_by_a_branch_or_conditional_expression(f, other, jit):
    x = np.array([0.3, -0.8, 1.1])
    for flag in other:
        g = srcdiff.grad(f, wrt=0, jit=jit)(x, flag)
        expect = np.array([(f(x + e, flag) - f(x - e, flag)) / 2e-6 for e in np.eye(3) * 1e-6])
        np.testing.assert_allclose(g, expect, rtol=1e-5, atol=1e-6, err_msg=str(flag))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [act_kept_by_conditional_expression, act_kept_in_a_loop])
def test_function_kept_by_a_conditional_expression(f, jit):
    """`act = np.sin if s > 0.5 else act`, one branch the name itself (the function bound before), is `if s > 0.5:
    act = np.sin`, as the if statement that works: it was declined ("cannot call the local value 'act'"). Gradient
    and jvp against central differences, on both paths."""
    x, v = np.array([0.3, -0.8, 1.1]), np.array([0.2, 0.5, -0.4])
    for s in (0.7, 0.2, -1.0):
        g = srcdiff.grad(f, wrt=0, jit=jit)(x, s)
        expect = np.array([(f(x + e, s) - f(x - e, s)) / 2e-6 for e in np.eye(3) * 1e-6])
        np.testing.assert_allclose(g, expect, rtol=1e-5, atol=1e-6, err_msg=str(s))
        value, tangent = srcdiff.jvp(f, wrt=0, jit=jit)(x, s, v)
        np.testing.assert_allclose(value, f(x, s), rtol=1e-12)
        np.testing.assert_allclose(tangent, expect @ v, rtol=1e-5, atol=1e-6, err_msg=str(s))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_function_bound_once_to_a_name_and_called(jit):
    check_grad(act_bound_once, [np.array([0.3, -0.8, 1.1])], jit=jit)


def lambda_or_number(x, flag):
    if flag:
        g = lambda u: u * u
    else:
        g = 2.0
    return g(x)


def test_name_bound_to_a_lambda_and_to_another_value_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="bound to a function .* and also to another value") as e:
        srcdiff.grad(lambda_or_number)(0.7, False)
    assert f":{lambda_or_number.__code__.co_firstlineno + 4}:" in str(e.value)


_ACTS = {"tanh": np.tanh, "square": _square}


def act_from_a_module_dict(x):
    act = _ACTS["tanh"]
    sq = _ACTS.get("square", np.sin)
    other = _ACTS.get("relu", np.sin)
    return np.sum(sq(act(x)) + other(x))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_function_read_from_a_module_level_dict(jit):
    """`act = ACTS["tanh"]` of a module-level dict of functions (was 'the module-level dict ACTS used as a value ...
    read its items at constant keys (ACTS[...])', which it was), and `.get` with a function as the default."""
    check_grad(act_from_a_module_dict, [np.array([0.3, -0.8, 1.1])], jit=jit)


def two_names_bound_twice_in_branches(x, a):
    g = np.sin if x > 0.0 else (lambda u: np.sum(a) * u)
    g = lambda u: np.sum(a * a) * u
    t = g(0.5)
    act = np.tanh
    act = np.sin if x > -0.3 else act
    return t + act(x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("x", [-0.6, 0.1, 0.6])
def test_second_name_bound_twice_keeps_its_which_assignments(x, jit):
    """`act` bound twice, then `g` (a name sorted after it): selecting at `act`'s calls gave the function a new
    body list, and `g_which = 2` went into the old one, so `t = g(0.5)` ran the binding before (fuzz 1610000:
    d/da 0.5 for 0 and d/dM 0 for 0.5 in its reduction; here value and gradients of sum(a) * 0.5 where x < 0)."""
    a = np.array([0.3, -1.2, 2.0])
    check_grad(two_names_bound_twice_in_branches, [x, a], jit=jit)
    value, _ = srcdiff.value_and_grad(two_names_bound_twice_in_branches, wrt=(0, 1), jit=jit)(x, a)
    np.testing.assert_allclose(value, two_names_bound_twice_in_branches(x, a), rtol=1e-12)
