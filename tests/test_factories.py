"""Functions returned by factories (transforms/factories.py): bound to a name and called later, called
directly, returned as nested defs or lambdas, made in loops and branches; and the forms declined."""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def _grad_matches(f, args, wrt, jit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(f, wrt=wrt, jit=jit)(*args)
    for k, g in zip(wrt, got):
        np.testing.assert_allclose(g, numerical_grad(f, args, k), rtol=1e-5, atol=1e-6)


def make_scaled(c):
    def g(u):
        return np.sin(u) * c
    return g


def make_shifted(c):
    k = c * 2.0              # a statement before the returned lambda
    return lambda u: np.tanh(u * k)


def make_either(c, d):       # a different function on each path
    if c > 0:
        def g(u):
            return u * c + d
        return g
    return lambda v: v * v * d


def make_made(c):            # returns another factory's function
    return make_either(c * 2.0, c)


def bound_then_called(x, a):
    g = make_scaled(x)
    return g(np.sum(a)) + g(a[0])


def called_directly(x, a):
    return make_shifted(a[1])(x) + make_scaled(x)(a[0])


def made_and_called_in_a_loop(x, a):
    g = make_scaled(x)
    s = 0.0
    for i in range(a.shape[0]):
        h = make_shifted(a[i])
        s = s + g(a[i]) * h(x) + make_either(x, a[i])(a[0])
    return s


def bound_in_branches(x, a, flag):
    if flag:
        g = make_either(x, a[1])
    else:
        g = make_either(a[0], x)
    return g(a[2]) + make_made(x)(a[1])


def nested_factory_and_closure_calls(x, a):
    def local(k):
        return lambda u: np.tanh(u * k + x)
    q = local(a[0])
    r = make_made(x)
    h = lambda v: q(v) * r(v)
    s = 0.0
    for i in range(2):
        s = s + h(a[i]) + local(x)(a[0])
    return s


X, A = 0.7, np.array([0.3, -0.5, 1.1])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [bound_then_called, called_directly, made_and_called_in_a_loop,
                               nested_factory_and_closure_calls])
@pytest.mark.parametrize("x", [X, -X])
def test_factory_functions(f, x, jit):
    _grad_matches(f, [x, A.copy()], (0, 1), jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("flag", [True, False])
@pytest.mark.parametrize("x", [X, -X])
def test_factory_function_bound_in_branches(x, flag, jit):
    _grad_matches(bound_in_branches, [x, A.copy(), flag], (0, 1), jit)


def test_factory_function_in_forward_mode():
    value, tangent = srcdiff.jvp(made_and_called_in_a_loop, wrt=0)(X, A, 1.0)
    np.testing.assert_allclose(tangent, numerical_grad(made_and_called_in_a_loop, [X, A], 0), rtol=1e-5)


def sibling_reads_enclosing(x, a):   # (lifting: h passes p's free x on)
    def p(u):
        return u * x
    h = lambda v: p(v) * 2.0
    return h(a[0])


def test_nested_def_calling_a_closure_sibling():
    _grad_matches(sibling_reads_enclosing, [X, A.copy()], (0, 1), False)


def make_stepper(k):
    def step(y, h=0.1, *, damping=0.0):
        return y + h * (-k * y) - damping * y
    return step


def make_scaler(k):
    return lambda y, s=k * 2.0: y * s + k


def stepper_defaults_and_keywords(x, a):
    st = make_stepper(x)
    y = a
    for i in range(2):
        y = st(y)
        y = st(y, 0.05, damping=0.1 * x)
        y = st(y, h=0.02)
    return np.sum(y ** 2) + make_scaler(x)(a[0]) + make_scaler(x)(a[1], s=x)


def test_factory_function_with_defaults_and_keywords():
    # the function a factory returns was called with as many arguments as it has parameters and by
    # position only: a call relying on its defaults (or passing one by keyword) was declined
    _grad_matches(stepper_defaults_and_keywords, [X, A.copy()], (0, 1), False)
    value, tangent = srcdiff.jvp(stepper_defaults_and_keywords, wrt=0)(X, A, 1.0)
    np.testing.assert_allclose(tangent, numerical_grad(stepper_defaults_and_keywords, [X, A], 0), rtol=1e-5)


def stepper_wrong_call(x):
    return make_stepper(x)(x, 0.1, 0.2)     # <- wrong_call


SCALE = 3.0


def make_loss(X, y, kind="l2", *, power=2.0, scale=SCALE):
    """A factory with defaults and keyword-only parameters, returning a function that has its own."""
    def loss(w, shift=0.0, *, weight=1.0):
        r = X * w - y + shift
        if kind == "l2":
            return weight * scale * np.sum(np.abs(r) ** power)
        return weight * np.sum(np.sqrt(1.0 + r * r) - 1.0)
    return loss


def factory_defaults_and_keywords(w, a):
    l1 = make_loss(a, 0.5)
    l2 = make_loss(a, 0.5, kind="pseudo")
    l3 = make_loss(X=a, y=0.2, power=3.0)
    def make_local(c, k=2):
        return lambda u, v=1.5: u * c * k + v
    return (l1(w) + l2(w, 0.1, weight=2.0) + l3(w, shift=0.3) + make_loss(a, w, scale=1.0)(0.5, weight=w)
            + make_local(w)(a[0]) + make_local(w, k=3)(a[1], v=w))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_factory_defaults_and_keyword_arguments(jit):
    """`make_loss(X, y)` relying on the factory's defaults, keyword-only parameters, and the function it returns
    called with keywords and defaults: declined before ("defaults are not supported", "keyword arguments in a
    call of the function factory returned"); bound as Python binds them now (a module-level factory's default
    by its value: `scale=SCALE`)."""
    _grad_matches(factory_defaults_and_keywords, [X, A.copy()], (0, 1), jit)
    if not jit:
        _, tangent = srcdiff.jvp(factory_defaults_and_keywords, wrt=0)(X, A, 1.0)
        np.testing.assert_allclose(tangent, numerical_grad(factory_defaults_and_keywords, [X, A], 0), rtol=1e-5)


def missing_argument(x):
    return make_loss(x)(x)          # <- missing


# ---- declined --------------------------------------------------------------------------------------
def two_factories_one_name(x, flag):
    if flag:
        g = make_scaled(x)
    else:
        g = make_shifted(x)      # <- two_factories
    return g(x)


def passed_on(x):
    g = make_scaled(x)
    return np.sum(np.apply_along_axis(g, 0, np.ones(2) * x))   # <- passed_on


def returned(x):
    g = make_scaled(x)
    return g                    # <- returned


def rebound(x):
    g = make_scaled(x)
    g = x * 2.0                 # <- rebound
    return g


def make_sometimes(c):
    if c > 0:
        return lambda u: u * c
    return c                     # <- sometimes


def sometimes(x):
    return make_sometimes(x)(x)


@pytest.mark.parametrize("f, args, tag, words", [
    (two_factories_one_name, (0.5, True), "two_factories", "two factories"),
    (passed_on, (0.5,), "passed_on", "used as a value"),
    (returned, (0.5,), "returned", "used as a value"),
    (rebound, (0.5,), "rebound", "also to another value"),
    (sometimes, (0.5,), "sometimes", "some paths"),
    (stepper_wrong_call, (0.5,), "wrong_call", "too many positional arguments"),
    (missing_argument, (0.5,), "missing", "gives no argument for 'y'"),
])
def test_factory_forms_declined(f, args, tag, words):
    with pytest.raises(srcdiff.SrcdiffError) as err:
        srcdiff.grad(f, wrt=0)(*args)
    text = str(err.value)
    assert words in text and f"<- {tag}" in text and __file__ in text, text


def make_layer(W, act):
    def layer(h):
        return act(h @ W)
    return layer


def factories_given_functions(x, a):
    """A module-level factory given a function: np.tanh, a lambda, a nested def (declined before: function_args'
    copy of the factory, `make_layer_np_tanh`, was no factory to the factories pass, "cannot call the local value
    'g'"; and for the nested def the copy's check took `layer`'s parameter `h` for a free name of the caller)."""
    W = np.outer(a, a[::-1]) * 0.5
    def act(z):
        return z * z
    g = make_layer(W, np.tanh)
    h = g(x)
    g2 = make_layer(W, lambda z: np.sin(z) * 2.0)
    g3 = make_layer(W, act)
    return np.sum(h) + np.sum(g2(h * x)) + np.sum(g3(x)) + np.sum(make_layer(W, np.cos)(x))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_factory_given_a_function(jit):
    _grad_matches(factories_given_functions, [A[::-1].copy(), A.copy()], (0, 1), jit)
