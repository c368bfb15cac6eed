"""Nesting srcdiff transforms: reverse mode over generated gradients whose loops keep values in
stacks (grad(grad(f)), a user function calling a gradient, value_and_grad over grad), in Python and
with jit=True, against central differences of the inner gradient and against hvp / hessian."""
import inspect
import os
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

BACKENDS = [False, True]


# ---- scalar functions with loops: second derivatives ------------------------------------------------
def f_for(x):
    y = x
    for i in range(5):
        y = np.sin(y) * x + 0.1 * i
    return y


def f_while(x):
    y = x
    k = 0
    while k < 4:
        y = y * np.cos(y) + x
        k = k + 1
    return y


def f_branch(x):
    y = x
    for i in range(6):
        if y > 0.5:
            y = y * 0.9 + np.sin(x)
        else:
            y = y * y + x
    return y


def f_inplace(x):
    ys = np.zeros(5)
    ys[0] = x
    for t in range(4):
        ys[t + 1] = ys[t] + 0.3 * np.sin(ys[t] * x)
    return ys[4] * ys[2]


def f_nested_loops(x):
    s = 0.0
    for i in range(3):
        y = x * (i + 1)
        for j in range(2):
            y = np.tanh(y) + 0.5 * x
        s = s + y * y
    return s


SCALAR_FUNCTIONS = [f_for, f_while, f_branch, f_inplace, f_nested_loops]


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", SCALAR_FUNCTIONS, ids=lambda f: f.__name__)
def test_grad_of_grad_with_loops(f, jit):
    inner = srcdiff.grad(f)
    x = 0.7
    expect = numerical_grad(inner, [x], 0)
    got = srcdiff.grad(srcdiff.grad(f, jit=jit), jit=jit)(x)
    np.testing.assert_allclose(got, expect, rtol=1e-6, atol=1e-8)
    # and the second difference of f itself
    h = 1e-4
    second = (f(x + h) - 2 * f(x) + f(x - h)) / h ** 2
    np.testing.assert_allclose(got, second, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit", BACKENDS)
def test_grad_of_grad_is_reverse_over_reverse_and_readable(jit):
    gg = srcdiff.grad(srcdiff.grad(f_for, jit=jit), jit=jit)
    gg(0.7)
    src = srcdiff.source(gg)
    assert "def f_for_grad_grad(" in src
    assert "# backward sweep" in src and "# line" in src
    assert all(";" not in line for line in src.splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("jit", BACKENDS)
def test_stack_adjoints_in_source(jit):
    """A stack of the inner gradient gets an adjoint stack: pops push d_v, pushes pop it back."""
    g = srcdiff.grad(f_while_loss, jit=jit)
    g(np.array([0.3, -0.2, 0.5]))
    src = srcdiff.source(g)
    assert "_stack = []" in src
    assert any(line.strip().startswith("d_") and "_stack" in line and ".append(" in line
               for line in src.splitlines())
    assert "_stack" in src and ".pop()" in src


# ---- a user function whose value uses a gradient (gradient-norm penalty) -----------------------------
def loss_loop(w):
    s = 0.0
    for i in range(w.shape[0]):
        s = s + np.sin(w[i]) * s + w[i] ** 2
    return s


def loss_arrays(w):
    a = np.zeros_like(w)
    v = w
    for i in range(3):
        v = np.tanh(v * 1.3 + 0.1)
        a = a + v
    return np.sum(a * a)


def loss_while(w):
    v = w
    k = 0
    while k < 3:
        v = v * np.cos(v) + 0.2 * w
        k = k + 1
    return np.sum(v ** 2)


def loss_writes(w):
    z = np.zeros(w.shape[0] + 1)
    for t in range(w.shape[0]):
        if w[t] > 0.0:
            z[t + 1] = z[t] * w[t] + np.exp(w[t])
        else:
            z[t + 1] = z[t] - w[t] ** 2
    return z[w.shape[0]] ** 2


d_loss_loop = srcdiff.grad(loss_loop)
d_loss_arrays = srcdiff.grad(loss_arrays)
d_loss_while = srcdiff.grad(loss_while)
d_loss_writes = srcdiff.grad(loss_writes)


def penalty_loop(w):
    return np.sum(d_loss_loop(w) ** 2)


def penalty_arrays(w):
    return np.sum(d_loss_arrays(w) ** 2) + 0.5 * np.sum(w ** 2)


def f_while_loss(w):
    return np.sum(d_loss_while(w) ** 2)


def penalty_writes(w):
    return loss_writes(w) + 0.1 * np.sum(d_loss_writes(w) ** 2)


def penalty_inline(w):   # srcdiff.grad written inside the differentiated function
    return np.sum(srcdiff.grad(loss_loop)(w) ** 2)


PENALTIES = [penalty_loop, penalty_arrays, f_while_loss, penalty_writes, penalty_inline]


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("g", PENALTIES, ids=lambda f: f.__name__)
def test_grad_of_function_using_a_gradient(g, jit):
    w = np.array([0.3, -0.2, 0.5, 0.1])
    got = srcdiff.grad(g, jit=jit)(w.copy())
    np.testing.assert_allclose(got, numerical_grad(g, [w], 0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit", BACKENDS)
def test_value_and_grad_over_grad(jit):
    vg = srcdiff.value_and_grad(srcdiff.grad(f_branch, jit=jit), jit=jit)
    value, d = vg(0.7)
    np.testing.assert_allclose(value, srcdiff.grad(f_branch)(0.7), rtol=1e-12)
    np.testing.assert_allclose(d, numerical_grad(srcdiff.grad(f_branch), [0.7], 0), rtol=1e-6)


@pytest.mark.parametrize("jit", BACKENDS)
def test_value_and_grad_of_penalty(jit):
    w = np.array([0.3, -0.2, 0.5])
    value, d = srcdiff.value_and_grad(penalty_arrays, jit=jit)(w)
    np.testing.assert_allclose(value, penalty_arrays(w), rtol=1e-12)
    np.testing.assert_allclose(d, numerical_grad(penalty_arrays, [w], 0), rtol=1e-5, atol=1e-6)


# ---- agreement with forward over reverse --------------------------------------------------------------
V = np.array([0.4, -1.0, 0.25, 2.0])


def directional(w):
    return d_loss_loop(w) @ V


def directional_arrays(w):
    return np.sum(d_loss_arrays(w) * V)


@pytest.mark.parametrize("jit", BACKENDS)
def test_hvp_agrees_with_reverse_over_reverse(jit):
    w = np.array([0.3, -0.2, 0.5, 0.1])
    rr = srcdiff.grad(directional, jit=jit)(w)
    np.testing.assert_allclose(rr, srcdiff.hvp(loss_loop, jit=jit)(w, V), rtol=1e-9, atol=1e-12)
    rr = srcdiff.grad(directional_arrays, jit=jit)(w)
    np.testing.assert_allclose(rr, srcdiff.hvp(loss_arrays, jit=jit)(w, V), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("jit", BACKENDS)
def test_hessian_agrees_with_grad_of_grad(jit):
    for f in SCALAR_FUNCTIONS:
        np.testing.assert_allclose(srcdiff.grad(srcdiff.grad(f), jit=jit)(0.7),
                                   srcdiff.hessian(f, jit=jit)(0.7), rtol=1e-9, atol=1e-12)


def test_two_gradients_in_one_function():
    def g(w):
        return np.sum(d_loss_loop(w) * d_loss_arrays(w)) + np.sum(d_loss_loop(w * 0.5))
    w = np.array([0.3, -0.2, 0.5])
    for jit in BACKENDS:
        np.testing.assert_allclose(srcdiff.grad(g, jit=jit)(w), numerical_grad(g, [w], 0), rtol=1e-5, atol=1e-6)


# ---- tuples of differentiated values: (value, gradient) pairs, jvp pairs, the user's own tuples ----------
def cubic_loop(x, y):
    s = 0.0
    for i in range(3):
        s = s + x ** 3 * y
    return s


def cubic(x, y):
    return x ** 3 * y + np.sin(x * y)


CUBIC_VG = srcdiff.value_and_grad(cubic_loop)
CUBIC_VG2 = srcdiff.value_and_grad(cubic, wrt=(0, 1))   # (value, (d_x, d_y)): a nested tuple


def uses_value_and_grad(x, y):
    v, g = CUBIC_VG(x, y)
    return v * g


def value_times_slope(x, y):
    v, g = CUBIC_VG2(x, y)
    return v * g[0] + np.sin(g[1])


def jvp_tangent(x):
    return srcdiff.jvp(cubic)(x, 1.3, 1.0)[1]


def _pair(x, w):
    return (np.sum(x * w), (np.sin(x), x ** 2))


def user_nested_tuple(x, w):
    s, (a, b) = _pair(x, w)
    return s * np.sum(a * b)


def tuple_loop_state(x):
    st = (x, np.ones_like(x))
    for i in range(3):
        a, b = st
        st = (a * b + np.sin(a), a)
    return np.sum(st[0] * st[1])


def tuple_branch(x):
    if np.sum(x) > 0:
        t = (x * 2.0, np.cos(x))
    else:
        t = (x, x * x)
    return np.sum(t[0] * t[-1])


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [uses_value_and_grad, value_times_slope], ids=lambda f: f.__name__)
def test_reverse_over_value_and_grad_pair(f, jit):
    """The (value, gradient) pair of a value_and_grad inlined into a function differentiated again:
    its tuples become one name per component, so each component gets its own adjoint."""
    got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(0.4, 1.3)
    want = [numerical_grad(f, [0.4, 1.3], k) for k in (0, 1)]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    src = srcdiff.source(srcdiff.grad(f))
    assert "d_v = " in src and "d_v_g" not in src   # the user's names, one adjoint per component


@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_over_jvp_pair(jit):
    got = srcdiff.grad(jvp_tangent, jit=jit)(0.4)
    np.testing.assert_allclose(got, _d(jvp_tangent, 0.4, 1e-6), rtol=1e-6, atol=1e-8)
    second = srcdiff.grad(lambda x: srcdiff.jvp(cubic)(x, 1.3, 1.0)[1], jit=jit)(0.4)
    np.testing.assert_allclose(second, got, rtol=1e-12)


def sum_of_array_terms(x, M, a):
    return np.sum(sum(np.sin(r * x) * w for r, w in zip(M, a)))


def tangent_of_a_sum_of_arrays(x, M, a):
    value, tangent = srcdiff.jvp(sum_of_array_terms, wrt=0, jit=True)(x, M, a, 1.0)
    return tangent * tangent + value


def gathered_by_an_index_literal(M):
    return np.sum(np.tanh(M[np.arange(2)[:, None], np.array([[0, 3, 1, 0], [1, 1, 3, 3]])]))


def tangent_of_a_gather(M):
    value, tangent = srcdiff.jvp(gathered_by_an_index_literal)(M, M * M)
    return tangent * tangent


@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_over_jvp_of_an_index_array_literal(jit):
    """The jvp's source names the rows of `np.array([[0, 3, 1, 0], [1, 1, 3, 3]])` (`result2 = (0, 3, 1, 0)`); the
    outer gradient makes it rt.array of the tuple of tuples, which Numba's rt.array took only of numbers or arrays
    ('No implementation of function array' at the user's line, nested fuzz 1106012)."""
    M = np.random.default_rng(3).normal(size=(2, 4))
    got = srcdiff.grad(tangent_of_a_gather, jit=jit)(M)
    np.testing.assert_allclose(got, numerical_grad(tangent_of_a_gather, [M], 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_over_jvp_of_a_sum_of_arrays(jit):
    """The gradient reads the jvp's unspecialised source, whose sum over the zip started from 0.0 (a number, then
    arrays added to it: under jit=True Numba's 'Cannot unify float64 and array' at the user's line, nested fuzz
    1061016 and 1091019). It now keeps the start `zeros_like(first term)` where the loop runs, and 0.0 where it does
    not, which the outer gradient, knowing the kinds, makes zeros of the terms' rank."""
    M, a = np.array([[0.3, 0.5, -0.2], [1.1, -0.4, 0.9]]), np.array([0.6, -1.3])
    got = srcdiff.grad(tangent_of_a_sum_of_arrays, jit=jit)(0.7, M, a)
    np.testing.assert_allclose(got, _d(lambda x: tangent_of_a_sum_of_arrays(x, M, a), 0.7, 1e-6), rtol=1e-6)
    assert srcdiff.jvp(sum_of_array_terms, wrt=0)(0.7, M[:0], a[:0], 1.0) == (0.0, 0.0)   # (no term)


def maximum_of_a_named_tuple(x, a):
    st = (np.sum(a), np.sin(x))
    return x + np.sum(np.maximum(st, -1.2))


def tangent_of_a_named_tuple(x, a):
    v, d = srcdiff.jvp(maximum_of_a_named_tuple, wrt=(0, 1))(x, a, (0.5, np.cos(a)))
    return np.sin(v) * d + d * d


@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_over_jvp_of_a_named_tuple_passed_as_an_array(jit):
    """`st = (s, t)`, `np.maximum(st, -1.2)`: the jvp the gradient reads (unspecialised: no kinds) kept the tuple,
    so its tangent was `d_st * rt.max_weight(st, -1.2)` (a tuple compared with a float: TypeError, run as Python),
    which the outer gradient declined as list arithmetic, at a line of the jvp's code given as the user's file
    (fuzz --nested 1401027). The name is now rt.array of it there too, as where the kinds are known."""
    x, a = 0.7, np.array([0.3, -0.4, 1.1])
    jv = srcdiff.jvp(maximum_of_a_named_tuple, wrt=(0, 1))
    np.testing.assert_allclose(jv.py_func(x, a, 0.5, np.cos(a)), jv(x, a, (0.5, np.cos(a))), rtol=1e-12)
    gx, ga = srcdiff.grad(tangent_of_a_named_tuple, wrt=(0, 1), jit=jit)(x, a)
    np.testing.assert_allclose(gx, _d(lambda y: tangent_of_a_named_tuple(y, a), x, 1e-6), rtol=1e-6)
    np.testing.assert_allclose(ga, numerical_grad(tangent_of_a_named_tuple, [x, a], 1), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [user_nested_tuple, tuple_loop_state, tuple_branch], ids=lambda f: f.__name__)
def test_user_tuples_in_reverse_mode(f, jit):
    x = np.array([0.3, -0.2, 0.5])
    args = [x, np.array([1.0, 2.0, -0.5])] if f is user_nested_tuple else [x]
    for sign in (1.0, -1.0):
        args[0] = sign * x
        np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(*args), numerical_grad(f, args, 0),
                                   rtol=1e-6, atol=1e-8)


# ---- an inner jvp with a tuple wrt: one tangent per entry, the tuple's items -----------------------------
def _softplus_ridge(w, x, lam=0.1):
    return np.sum(np.log1p(np.exp(x @ w))) + lam * np.sum(w ** 2)


SOFTPLUS_JVP2 = srcdiff.jvp(_softplus_ridge, wrt=(0, 2))


def jvp_tuple_literal(w, lam, x):
    v, d = srcdiff.jvp(_softplus_ridge, wrt=(0, 2))(w, x, lam, (w, 1.0))
    return v * d


def jvp_tuple_name(w, lam, x):
    t = (w * 2.0, lam)
    v, d = srcdiff.jvp(_softplus_ridge, wrt=(0, 2))(w, x, lam, t)
    return v * d


def jvp_tuple_keyword(w, lam, x):
    v, d = srcdiff.jvp(_softplus_ridge, wrt=(0, 2))(w, x, lam, tangent=(w, 1.0))
    return v * d


def jvp_tuple_module_level(w, lam, x):
    v, d = SOFTPLUS_JVP2(w, x, lam, (w, 1.0))
    return v * d


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [jvp_tuple_literal, jvp_tuple_name, jvp_tuple_keyword, jvp_tuple_module_level],
                         ids=lambda f: f.__name__)
def test_inner_jvp_with_a_tuple_wrt(f, jit):
    """An inner jvp with wrt=(0, 2) was called with its tangent tuple as one argument, where its generated
    function takes one tangent per wrt entry: reverse mode declined it as a 'recursive function' returning a
    tuple, forward mode failed with a missing argument (a module-level one: 'missing ... d_lam')."""
    x = np.array([[0.3, -0.5, 0.2], [0.1, 0.4, -0.6], [-0.7, 0.2, 0.5]])
    args = [np.array([0.2, -0.1, 0.4]), 0.3, x]
    got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(*args)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(f, args, k), rtol=1e-6, atol=1e-8)
    tangent = (np.array([1.0, 0.5, -0.3]), 0.7)
    _, slope = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(*args, tangent)
    np.testing.assert_allclose(slope, np.sum(got[0] * tangent[0]) + got[1] * tangent[1], rtol=1e-6)


def _tanh_layer(p, x):
    W, b = p
    return np.sum(np.tanh(x @ W + b))


TANH_LAYER_GRAD = srcdiff.grad(_tanh_layer)


def tuple_literal_to_inner_grad(W, b, x):
    gW, gb = srcdiff.grad(_tanh_layer)((W, b), x)
    return np.sum(gW ** 2) + np.sum(gb ** 2)


def tuple_name_to_inner_grad(W, b, x):
    p = (W, b)
    gW, gb = TANH_LAYER_GRAD(p, x)
    return np.sum(gW ** 2) + np.sum(gb ** 2)


@pytest.mark.parametrize("f", [tuple_literal_to_inner_grad, tuple_name_to_inner_grad], ids=lambda f: f.__name__)
def test_tuple_passed_whole_to_an_inner_transform_declines_at_the_line(f):
    """README (Transforms): a tuple passed whole to a srcdiff transform called inside is declined. A literal or a
    local name bound to one reached the generated gradient (made for one value per parameter) and failed at run
    time in generated code ("'float' object is not subscriptable")."""
    args = (np.ones((3, 2)) * 0.1, np.ones(2), np.ones((4, 3)))
    for transform in (srcdiff.grad(f, wrt=(0, 1)), srcdiff.jvp(f, wrt=0)):
        with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)test_nesting\.py:\d+: a tuple or list passed whole.*"
                                                       r"hint: pass its items as separate arguments"):
            transform(*args) if transform.__class__.__name__ != "ForwardTransformed" else transform(*args, args[0])


# ---- a transform made at module level, called inside with keywords and defaults --------------------------
def _softplus_penalised(w, x, lam=0.1, *, p=2.0):
    return np.sum(np.log1p(np.exp(x @ w))) + lam * np.sum(np.abs(w) ** p)


PENALISED_JVP = srcdiff.jvp(_softplus_penalised, wrt="w")
PENALISED_VJP = srcdiff.vjp(_softplus_penalised, wrt=("w", "lam"))
PENALISED_GRAD = srcdiff.grad(_softplus_penalised, wrt="w", jit=True)


@srcdiff.differentiate(wrt="w")
def _penalised_decorated(w, x, lam=0.1, *, p=2.0):
    return np.sum(np.log1p(np.exp(x @ w))) + lam * np.sum(np.abs(w) ** p)


def module_jvp_keywords(w, x):
    v, d = PENALISED_JVP(w, x, tangent=w, p=3.0)
    return v + d * d


def module_vjp_defaults(w, x):
    v, (gw, gl) = PENALISED_VJP(w, x, 0.2, cotangent=2.0)
    return np.sum(gw * gw) + gl


def module_grad_keyword_only(w, x):
    return np.sum(PENALISED_GRAD(w, x, p=3.0) ** 2)


def decorated_grad_defaults(w, x):
    return np.sum(_penalised_decorated.grad(w, x) ** 2)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [module_jvp_keywords, module_vjp_defaults, module_grad_keyword_only,
                               decorated_grad_defaults], ids=lambda f: f.__name__)
def test_module_level_transform_called_with_keywords_and_defaults(f, jit):
    """README: the inner transform's arguments may be passed by keyword and left at their defaults. That held for
    srcdiff.grad(f)(...) written in the call, but a transform made at module level was bound to its generated
    function's signature (every parameter positional, no defaults): "call of PENALISED_GRAD(w, x, lam, p): missing
    a required argument: 'lam'"."""
    x = np.array([[0.3, -0.5, 0.2], [0.1, 0.4, -0.6], [-0.7, 0.2, 0.5]])
    args = [np.array([0.5, -0.3, 0.8]), x]
    got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(*args)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(f, args, k), rtol=1e-5, atol=1e-8)


def _sine_of_pair(p, s):
    a, b = p
    return np.sin(a * b) * s


@pytest.mark.parametrize("jit", BACKENDS)
def test_grad_of_grad_of_a_tuple_argument_declines_with_advice(jit):
    """grad(grad(f)) with a tuple argument failed in generated code ("ft_grad_jvp() takes 3 positional arguments
    but 4 were given": the forward pass over the inner gradient passed the tuple's leaves one by one); declined
    like jvp(grad(f)) of one, naming hvp, which takes them."""
    g2 = srcdiff.grad(srcdiff.grad(_sine_of_pair, wrt=1), wrt=0, jit=jit)
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)test_nesting\.py:\d+: .*tuple/list arguments \(p\) through "
                                                   r"nested transforms are supported for hvp.*hint: pass the arrays"):
        g2((0.3, 0.5), 2.0)
    hv = srcdiff.hvp(_sine_of_pair, jit=jit)((0.3, 0.5), 2.0, (1.0, 0.0))
    np.testing.assert_allclose(hv, (-0.5 * 0.5 * np.sin(0.15) * 2.0, (np.cos(0.15) - 0.15 * np.sin(0.15)) * 2.0),
                               rtol=1e-12)


# ---- reverse over reverse through np.linalg.cholesky (rt.cholesky_grad's reverse rule) ---------------------
def chol_energy(x):
    L = np.linalg.cholesky(x @ x.T + 2.0 * np.eye(3))
    return np.sum(np.sin(L)) + np.sum(np.log(np.diag(L)))


CHOL_ENERGY_GRAD = srcdiff.grad(chol_energy)


def chol_grad_penalty(x):
    g = CHOL_ENERGY_GRAD(x)
    return chol_energy(x) + 0.5 * np.sum(g * g)


@pytest.mark.parametrize("jit", BACKENDS)
def test_gradient_norm_penalty_through_cholesky(jit):
    x = np.array([[1.0, 0.2, -0.3], [0.1, 0.8, 0.4], [-0.2, 0.3, 1.1]])
    np.testing.assert_allclose(srcdiff.grad(chol_grad_penalty, jit=jit)(x), numerical_grad(chol_grad_penalty, [x], 0),
                               rtol=1e-5, atol=1e-7)


# ---- what still declines: a clear SrcdiffError at the user's function -------------------------------------
def tuple_variable_index(x):
    t = (x * 2.0, np.cos(x))
    s = 0.0
    for i in range(2):
        s = s + np.sum(t[i])
    return s


def returns_pair(x):
    return (np.sum(x), np.sum(x * x))


def test_tuple_indexed_by_a_variable_declines_with_advice():
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)test_nesting\.py:\d+: a tuple.*indexed by a variable.*hint"):
        srcdiff.grad(tuple_variable_index)(np.ones(2))
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)test_nesting\.py:\d+: .*returns a tuple.*hint"):
        srcdiff.grad(returns_pair)(np.ones(2))


def poly_sin(x):
    return np.sin(x) * x ** 3


def _d(fn, x, h=1e-4):
    return (fn(x + h) - fn(x - h)) / (2 * h)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [poly_sin, f_for, f_while], ids=lambda f: f.__name__)
def test_three_and_four_levels(f, jit):
    """Each level differentiates the generated source of the one below (reverse over reverse over
    reverse); checked against central differences of the level below."""
    G = srcdiff.grad
    d2 = G(G(f))
    d3 = G(G(G(f, jit=jit), jit=jit), jit=jit)
    np.testing.assert_allclose(d3(0.7), _d(d2, 0.7), rtol=1e-6, atol=1e-8)
    if f is poly_sin:
        d4 = G(d3, jit=jit)
        np.testing.assert_allclose(d4(0.7), _d(G(G(G(f))), 0.7), rtol=1e-6, atol=1e-8)
        exact = (24 - 12 * 0.49) * np.cos(0.7) - (36 * 0.7 - 0.7 ** 3) * np.sin(0.7)   # d4/dx4 of x^3 sin x
        np.testing.assert_allclose(d4(0.7), exact, rtol=1e-10)


@pytest.mark.parametrize("jit", BACKENDS)
def test_forward_over_two_reverse_levels(jit):
    value, tangent = srcdiff.jvp(srcdiff.grad(srcdiff.grad(f_for, jit=jit), jit=jit), jit=jit)(0.7, 1.0)
    np.testing.assert_allclose(tangent, srcdiff.grad(srcdiff.grad(srcdiff.grad(f_for)))(0.7), rtol=1e-12)
    np.testing.assert_allclose(value, srcdiff.grad(srcdiff.grad(f_for))(0.7), rtol=1e-12)


# ---- reverse over reverse through the helpers of reductions, indexing, solves and log-domain products ----
# (their reverse rules live in srcdiff/rules/runtime_rules.py; tests/test_rules_table.py checks each one)
from scipy.linalg import solve_triangular  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

C23 = np.array([[0.5, -1.2, 0.8], [1.1, 0.3, -0.7]])
B3 = np.array([0.4, -1.0, 0.7])


def lse_scalar(x):
    return np.sum(logsumexp(x * C23, axis=1)) + logsumexp(np.sin(x) * C23[0])


def max_scalar(x):
    return np.sum(np.max(x * C23, axis=0) ** 2) + np.min(x * x * C23) * x


def prod_scalar(x):
    return np.sum(np.prod(x + C23, axis=1) ** 2) + np.prod(np.cos(x * C23[1]))


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f", [lse_scalar, max_scalar, prod_scalar], ids=lambda f: f.__name__)
def test_grad_of_grad_through_reduction_helpers(f, jit):
    x = 0.45
    got = srcdiff.grad(srcdiff.grad(f, jit=jit), jit=jit)(x)
    np.testing.assert_allclose(got, numerical_grad(srcdiff.grad(f), [x], 0), rtol=1e-6, atol=1e-8)


def prod_hessian(x, axis):
    """The Hessian of np.prod(x, axis) summed, written out: entry (i, k) of a line along the axis is the product
    of the line's entries other than i and k (0 on the diagonal)."""
    lines = np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])
    n = lines.shape[1]
    blocks = []
    for line in lines:
        H = np.zeros((n, n))
        for i in range(n):
            for k in range(n):
                if i != k:
                    H[i, k] = np.prod(np.delete(line, [i, k]))
        blocks.append(H)
    return blocks


def prod_rows(x):
    return np.sum(np.prod(x, axis=1))


ZERO_POINTS = [np.array([[0.0, 1.5, -2.0, 0.5], [0.7, -1.1, 0.3, 2.0]]),     # one zero in a row
               np.array([[0.0, 1.5, 0.0, 0.5], [0.7, 0.0, 0.3, 2.0]]),       # two zeros in a row, one in the other
               np.array([[0.0, 0.0, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0]])]       # three and four


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("point", range(len(ZERO_POINTS)))
def test_second_derivatives_of_a_product_with_zero_factors(point, jit):
    """prod's second derivative where factors are zero: hvp, hessian and grad of a directional gradient give
    the Hessian written out (they divided by the factors: NaN in hvp, found by the argument-kinds fuzz on
    np.prod(np.var(M[[1, 1]], axis=0, ddof=1)), whose variances are all zero)."""
    x = ZERO_POINTS[point]
    v = np.array([[0.3, -1.2, 0.8, 2.0], [1.0, 0.5, -0.4, 0.9]])
    H = prod_hessian(x, 1)
    want = np.array([H[r] @ v[r] for r in range(2)])
    np.testing.assert_allclose(srcdiff.hvp(prod_rows, jit=jit)(x, v), want, rtol=1e-12, atol=1e-12)
    hess = srcdiff.hessian(prod_rows, jit=jit)(x).reshape(8, 8)
    for r in range(2):
        np.testing.assert_allclose(hess[4 * r:4 * r + 4, 4 * r:4 * r + 4], H[r], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hess[:4, 4:], 0.0)
    gv = srcdiff.grad(prod_rows)
    rr = srcdiff.grad(lambda x: np.sum(gv(x) * v), jit=jit)(x)
    np.testing.assert_allclose(rr, want, rtol=1e-12, atol=1e-12)
    whole = prod_hessian(x.reshape(1, -1), 1)[0]
    np.testing.assert_allclose(srcdiff.hvp(lambda x: np.prod(x), jit=jit)(x, v), (whole @ v.ravel()).reshape(2, 4),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("jit", BACKENDS)
def test_hvp_of_a_product_of_zero_variances(jit):
    """The fuzz program's own expression: the variances of a repeated row are zero, so is the product and every
    derivative of it."""
    def f(M):
        return np.prod(np.var(M[[1, 1]], axis=0, ddof=1))
    M = np.array([[-0.41551461, 1.10050045, -0.74388505], [-0.03757781, -0.25104532, -0.20831865]])
    np.testing.assert_array_equal(srcdiff.hvp(f, jit=jit)(M, np.ones_like(M)), np.zeros_like(M))


@pytest.mark.parametrize("jit", BACKENDS)
def test_third_derivative_of_a_product_with_zero_factors(jit):
    """Reverse over reverse over reverse through prod at a zero factor: central differences of the level below
    (a polynomial: they are exact to rounding)."""
    x, v = ZERO_POINTS[1], np.array([[0.3, -1.2, 0.8, 2.0], [1.0, 0.5, -0.4, 0.9]])
    gv = srcdiff.grad(prod_rows)

    def second(x):
        return np.sum(gv(x) * v * x)
    g2 = srcdiff.grad(second)

    def third(x):
        return np.sum(g2(x) * v)
    np.testing.assert_allclose(srcdiff.grad(third, jit=jit)(x), numerical_grad(third, [x], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(srcdiff.hvp(second, jit=jit)(x, v), numerical_grad(third, [x], 0), rtol=1e-6,
                               atol=1e-8)


def test_fourth_derivative_of_a_product_is_declined():
    """prod's third derivative has no derivative of its own: a fourth order is declined, naming the helper."""
    g1 = srcdiff.grad(prod_rows)

    def second(x):
        return np.sum(g1(x) * x)
    g2 = srcdiff.grad(second)

    def third(x):
        return np.sum(g2(x) * x)
    g3 = srcdiff.grad(third)

    def fourth(x):
        return np.sum(g3(x) * x)
    with pytest.raises(srcdiff.SrcdiffError, match="prod_others_jvp2 is not differentiable"):
        srcdiff.grad(fourth)(ZERO_POINTS[0])


def loss_lse(W):
    return np.sum(np.sin(logsumexp(W * C23, axis=1))) + logsumexp(W, axis=0)[1] + logsumexp(W * W)


def loss_max(W):
    return np.sum(np.max(W * C23, axis=0) ** 2) + np.min(W, axis=1)[0] * np.max(W)


def loss_prod(W):
    return np.sum(np.prod(W, axis=1) ** 2) + np.prod(np.sin(W))


def loss_stack(W):
    S = np.stack((np.sin(W[0]), W[1] ** 2), axis=1)
    return np.sum(S * S * np.transpose(C23)) + np.sum(np.concatenate((W[0], W[1] * W[0])) ** 3)


def loss_tri(W):
    A = np.tril(W) + 3.0 * np.eye(3)
    x = solve_triangular(A, B3, lower=True)
    y = solve_triangular(A, x * x, lower=True, trans=1)
    return np.sum(x * y) + np.sum(solve_triangular(np.triu(W) + 3.0 * np.eye(3), B3) ** 2)


def loss_logdet(W):
    return np.linalg.slogdet(W @ W.T + np.eye(3))[1]


def _penalty(loss):
    d = srcdiff.grad(loss)

    def penalty(W):
        return np.sum(d(W) ** 2) + 0.1 * loss(W)
    penalty.__name__ = "penalty_" + loss.__name__
    return penalty


HELPER_PENALTIES = {"lse": (loss_lse, (2, 3)), "max": (loss_max, (2, 3)), "prod": (loss_prod, (2, 3)),
                    "stack": (loss_stack, (2, 3)), "tri": (loss_tri, (3, 3)), "logdet": (loss_logdet, (3, 3))}


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("which", sorted(HELPER_PENALTIES))
def test_gradient_norm_penalty_through_helpers(which, jit):
    loss, shape = HELPER_PENALTIES[which]
    W = np.random.default_rng(3).normal(size=shape)
    W = np.where(np.abs(W) < 0.1, 0.4, W)
    penalty = _penalty(loss)
    got = srcdiff.grad(penalty, jit=jit)(W.copy())
    np.testing.assert_allclose(got, numerical_grad(penalty, [W], 0), rtol=1e-5, atol=1e-6)


def hmm_forward(log_pi, log_A, log_B, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha)


d_hmm_A = srcdiff.grad(hmm_forward, wrt=1)


def hmm_penalty(log_pi, log_A, log_B, y):
    return hmm_forward(log_pi, log_A, log_B, y) + 0.5 * np.sum(d_hmm_A(log_pi, log_A, log_B, y) ** 2)


def _hmm_problem(K=3, V=4, T=5, seed=1):
    rng = np.random.default_rng(seed)
    return (np.log(rng.dirichlet(np.ones(K))), np.log(rng.dirichlet(np.ones(K), size=K)),
            np.log(rng.dirichlet(np.ones(V), size=K)), rng.integers(0, V, T))


@pytest.mark.parametrize("jit", BACKENDS)
def test_gradient_norm_penalty_of_hmm_forward_recursion(jit):
    log_pi, log_A, log_B, y = _hmm_problem()
    g = srcdiff.grad(hmm_penalty, wrt=(0, 1), jit=jit)
    got = g(log_pi, log_A, log_B, y)
    for k, d in zip((0, 1), got):
        np.testing.assert_allclose(d, numerical_grad(hmm_penalty, [log_pi, log_A, log_B, y], k), rtol=1e-5, atol=1e-6)
    # grad of the inner gradient w.r.t. the initial distribution alone: reverse over reverse
    gg = srcdiff.grad(lambda lp: np.sum(d_hmm_A(lp, log_A, log_B, y) * log_A), jit=jit)
    np.testing.assert_allclose(gg(log_pi), numerical_grad(lambda lp: np.sum(d_hmm_A(lp, log_A, log_B, y) * log_A),
                                                          [log_pi], 0), rtol=1e-5, atol=1e-6)


# a jitted inner gradient (its own source uses rt.logsumexp_vecmat); the outer gradient differentiates
# its unspecialised form, through rt.logsumexp_grad
d_hmm_A_jit = srcdiff.grad(hmm_forward, wrt=1, jit=True)


def hmm_penalty_jit_inner(log_pi, log_A, log_B, y):
    return np.sum(d_hmm_A_jit(log_pi, log_A, log_B, y) ** 2)


@pytest.mark.parametrize("jit", BACKENDS)
def test_gradient_norm_penalty_over_a_jitted_hmm_gradient(jit):
    log_pi, log_A, log_B, y = _hmm_problem()
    got = srcdiff.grad(hmm_penalty_jit_inner, wrt=1, jit=jit)(log_pi, log_A, log_B, y)
    np.testing.assert_allclose(got, numerical_grad(hmm_penalty_jit_inner, [log_pi, log_A, log_B, y], 1),
                               rtol=1e-5, atol=1e-6)


# ---- a sum over a comprehension inside a loop (fuzz seed 300155, nested) -----------------------------
def f_sum_in_loop(a):
    buf = np.copy(a)
    for j in range(3):
        buf[j] = sum(a[1] for e in a)
    return a[1] / (1.5 + buf[1] ** 2) + np.sum(buf)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_over_a_sum_in_a_loop(jit):
    # the inner gradient's running total starts in both branches of an if that has no adjoint code: the outer
    # sweep must restart the total's adjoint in each iteration of the loop (it carried it over: ~3x too big)
    def h(a):
        g = srcdiff.grad(f_sum_in_loop, jit=jit)(a)
        return np.sum(g * g)
    a = np.array([0.8088587, 2.48995455, 0.29689571])
    np.testing.assert_allclose(srcdiff.grad(h, jit=jit)(a), numerical_grad(h, [a], 0), rtol=1e-5, atol=1e-7)


# ---- placeholders inside a loop: a recursive helper returned from a loop (fuzz seed 300074, nested) ------------
def rec_helper(u, depth):
    if depth <= 0:
        return u
    return 0.5 * np.sin(rec_helper(u, depth - 1)) + 0.5 * np.exp(np.tanh(u))


def f_returns_recursion_from_a_loop(a, n, flag):
    for i in range(1, 2):
        if flag:
            return rec_helper(sum([a[0] for i in range(2) for j in range(2)]), n)
    return np.sum(a)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_with_placeholders_inside_a_loop(jit):
    # the inner gradient's `v = None` placeholders (values bound on some paths only) sit inside the outer loop
    # once inlined: they are typed where they are (an int tape got None: TypeError; under jit, declined as
    # "bound on some paths only")
    def h(a, n, flag):
        g = srcdiff.grad(f_returns_recursion_from_a_loop, jit=jit)(a, n, flag)
        return np.sum(g * g)
    a = np.array([0.3, -0.2, 0.5])
    for n in (1, 2):
        np.testing.assert_allclose(srcdiff.grad(h, jit=jit)(a, n, True), numerical_grad(h, [a, n, True], 0),
                                   rtol=1e-5, atol=1e-7)


# ---- views of an array the inner gradient writes and restores (fuzz seeds 300130, 300094, 300125, 300016) --------
def f_scaled_view(a, M):
    buf = np.copy(a)
    buf[::-1] *= np.tanh(np.sum(M[1]))
    return np.sum(buf ** 2)


def f_scaled_views_in_loops(a, M):
    buf = np.copy(a)
    for i in range(3):
        buf[::-1] *= np.tanh(M[0, i])          # in the loop's body
        if i > 0:
            buf[1:] *= np.tanh(M[1, i])        # in a branch inside the loop
    c = 0.0
    while c < 2.0:
        buf[::-1] *= np.tanh(M[1, 0] + c)      # in a while loop's body
        c = c + 1.0
    return np.sum(buf ** 2)


def f_row_slice_then_other_row(a, M):
    rows = np.zeros((2, 3))
    for i in range(3):
        rows[1, ::2] += M[1, :2] * a[i]        # a view of row 1, then row 0 written: the view's back-edge copy
        rows[0, i] = np.sum(a * rows[1])       # is stale but never read
    return np.sum(rows ** 2)


# (f_row_slice_then_other_row with an inner jit=True gradient was declined, "raise is not supported", at a line
# of srcdiff's runtime: the outer pass read the inner function's compiled form, with its rt.elementwise kernels,
# not the source shown; cachedir.python_function gives it that source)
@pytest.mark.parametrize("f, jit", [(f_scaled_view, False), (f_scaled_view, True), (f_scaled_views_in_loops, False),
                                    (f_scaled_views_in_loops, True), (f_row_slice_then_other_row, False),
                                    (f_row_slice_then_other_row, True)])
def test_gradient_norm_penalty_over_views_of_written_arrays(f, jit):
    # the inner gradient read `buf1 = buf[::-1]` after writing buf (its memory restored by then): the outer
    # aliasing check declined srcdiff's own code, naming a line of the generated file
    def h(a, M):
        ga, gM = srcdiff.grad(f, wrt=(0, 1), jit=jit)(a, M)
        return np.sum(ga * ga) + np.sum(gM * gM)
    a, M = np.array([0.3, -0.2, 0.5]), np.array([[0.1, 0.2, -0.3], [0.3, -0.4, 0.6]])
    got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(a, M)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, [a, M], k), rtol=1e-5, atol=1e-7)


# ---- a value bound in the previous iteration (fuzz seed 300220, nested, jit) ---------------------------------
def f_previous_iteration(x, a):
    s = x
    for i in range(3):
        if i > 0:
            s = 0.5 * s + 0.5 * np.tanh(np.sum(prev))
        prev = a * s
    return s


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_over_a_value_of_the_previous_iteration(jit):
    # the inner gradient's placeholder `prev = None` (unbound before the loop) had no kind in the outer function
    # (it is None there and `a * s` in the loop): it takes the kind of the copies it is assigned, and under jit
    # the outer gradient compiles (it was declined: "bound on some paths only ... placeholder None")
    def h(x, a):
        gx, ga = srcdiff.grad(f_previous_iteration, wrt=(0, 1))(x, a)
        return gx * gx + np.sum(ga * ga)
    x, a = 0.4, np.array([0.3, -0.7, 0.5])
    got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(x, a)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, [x, a], k), rtol=1e-5, atol=1e-7)


# ---- a scalar np.where bound on one path, read in the next iteration (fuzz seed 786120, nested, jit) -----------
def f_where_previous_iteration(x, a):
    for i in range(3):
        if i > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev)
        if a[1] < 1.2:
            prev = np.where(a[0] > 0.5, a[2] * x * x, np.dot(a, a))
        else:
            prev = x
    return x * a[0]


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_over_a_scalar_where_of_the_previous_iteration(jit):
    # the inner gradient pushes `prev` (its placeholder None on the first iteration) before the loop binds it;
    # the outer kinds gave that stack, its pop and, through the backward sweep's restore, `prev` and every
    # value of the loop an unknown kind, so np.where of scalars stayed a 0-d array that Numba could not merge
    # with the float of the other branch ("Cannot unify float64 and array(float64, 0d)")
    def h(x, a):
        gx, ga = srcdiff.grad(f_where_previous_iteration, wrt=(0, 1), jit=True)(x, a)
        return gx * gx + np.sum(ga * ga)
    for a in (np.array([0.9, 0.2, 0.4]), np.array([0.3, 0.2, 0.4]), np.array([0.9, 1.5, 0.4])):
        x = 0.7
        got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(x, a)
        for k in range(2):
            np.testing.assert_allclose(got[k], numerical_grad(h, [x, a], k), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("outer_jit", [False, True], ids=["outer-py", "outer-jit"])
def test_penalty_over_a_jitted_gradient_reads_the_source_shown(outer_jit):
    """The inner gradient is jitted: Numba runs its compiled form (array expressions as rt.elementwise kernels);
    differentiating it again parses the source the user reads, which has the expressions themselves."""
    def f(x, a):
        rows = np.zeros((2, 3))
        for i in range(3):
            rows[1, ::2] += x[:2] * a[i] * np.tanh(x[:2] - a[i])
        return np.sum(rows * rows)

    def h(x, a):
        g = srcdiff.grad(f, jit=True)(x, a)
        return np.sum(g * g)
    x, a = np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.7, -0.4])
    inner = srcdiff.grad(f, jit=True)
    inner(x, a)
    assert "rt.elementwise" not in srcdiff.source(inner)
    np.testing.assert_allclose(srcdiff.grad(h, jit=outer_jit)(x, a), numerical_grad(h, [x, a], 0), rtol=1e-5, atol=1e-8)



def test_penalty_over_a_jitted_gradient_calling_a_recursive_helper(tmp_path):
    """Nested fuzz seed 380141 (tests/fuzz_cases/nested_380141.py): h differentiates grad(f, jit=True) whose f
    calls a recursive helper, which stays a call; the outer pass resolved it by name in the generated module,
    where Numba's function of the compiled form (rt.elementwise kernels) stands, and declined at a line of
    srcdiff's runtime. It must read the shown source's function (cachedir.python_function)."""
    import fuzzgen
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_cases", "nested_380141.py")
    prog = fuzzgen.Program.from_file(path)
    mod = prog.load(str(tmp_path), "nested_380141_case")
    fuzzgen.check_program(mod, prog, False, seed=380141, entry="h")


# ---- a sum of arrays over a comprehension whose terms read a value the loop around it carries (fuzz seed 390060) ----
def f_sum_of_arrays_in_a_loop(a, M):
    for k in range(2):
        a = a + sum(M[0] * (e * 0.5 + m) for e, m in zip(a, M[0]))[[2, 0, 1, 3]]
    return np.sum(a ** 2)


def f_sum_over_the_rebound_array(a, M):    # (fuzz seed 390339: the sum's total was stored on a float tape,
    for e in a:                            # "setting an array element with a sequence")
        a = 0.5 * a + 0.5 * np.tanh(sum(a * u for u in a))
    return np.sum(M[1] * a)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
@pytest.mark.parametrize("f", [f_sum_of_arrays_in_a_loop, f_sum_over_the_rebound_array], ids=lambda f: f.__name__)
def test_gradient_norm_penalty_over_a_sum_of_arrays_in_a_loop(f, jit):
    # the inner gradient h inlines is made before any call (kinds unknown): `a`, a parameter the loop assigns
    # again, was never reached by the kinds, the sum's total took the kind of its 0.0 start alone and its adjoint
    # started as 0.0, then scattered into ("first operand must be array"); under jit the outer gradient's kinds
    # joined that 0.0 with the array of the other branch (Numba: "Cannot unify")
    def h(a, M):
        ga, gM = srcdiff.grad(f, wrt=(0, 1))(a, M)
        return np.sum(ga * ga) + np.sum(gM * gM)
    a, M = np.array([0.3, -0.2, 0.5, 0.1]), np.array([[0.1, 0.2, -0.3, 0.4], [0.3, -0.4, 0.6, 0.2]])
    got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(a, M)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, [a, M], k), rtol=1e-5, atol=1e-7)


# ---- a value whose shape changes between iterations (fuzz seed 390189) ------------------------------------------
def f_shrinking_slices(x, M):
    x *= np.tanh(sum(np.sum(M[:, j:] * x) for j in range(2)))
    return x


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_over_slices_that_shrink(jit):
    # the inner gradient's backward loop binds the sum's term M[:, j:] * x, one column fewer each iteration, again
    # (popped): h's sweep carried its adjoint and restarted it in the previous iteration's shape (broadcast error)
    def h(x, M):
        gx, gM = srcdiff.grad(f_shrinking_slices, wrt=(0, 1))(x, M)
        return gx * gx + np.sum(gM * gM)
    x, M = 0.3, np.array([[0.1, 0.2, -0.3, 0.4], [0.3, -0.4, 0.6, 0.2]])
    got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(x, M)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, [x, M], k), rtol=1e-5, atol=1e-7)


# ---- forward mode over a gradient whose function calls a recursive helper (fuzz seed 390190, nested, jit) --------
def rec_half_sin(u, depth):
    if depth <= 0:
        return u
    return 0.5 * np.sin(rec_half_sin(u, depth - 1)) + 0.5


def f_recursion_in_a_branch(x, a, n, scale):
    for i in range(1):
        if i > 0:
            scale = 0.5 * scale + 0.5 * np.tanh(np.sum(prev))
        if n > 0.5:
            prev = a * rec_half_sin(scale, 1)
        else:
            prev = (a + a) / (1.5 + np.square(scale + x))
    return scale + np.sum(a) * x


def penalty_of_recursion_in_a_branch(x, a, n, scale):
    gx, ga = srcdiff.grad(f_recursion_in_a_branch, wrt=(0, 1))(x, a, n, scale)
    return gx * gx + np.sum(ga * ga)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_jvp_of_a_penalty_over_a_gradient_calling_a_recursive_helper(jit):
    # the inner gradient's placeholder `prev = None` (bound in a branch) took no type in the jvp: forward mode
    # inferred no kind for the results of calls that stay calls (the recursive helper's), so under jit it was
    # declined as "bound on some paths only"
    h = penalty_of_recursion_in_a_branch
    x, a, n, scale = 0.3, np.array([0.3, -0.2, 0.5]), 2, 0.5
    ta = np.array([0.2, -0.7, 0.4])
    val, dot = srcdiff.jvp(h, wrt=(0, 1), jit=jit)(x, a, n, scale, (1.0, ta))
    e = 1e-6
    expect = (h(x + e, a + e * ta, n, scale) - h(x - e, a - e * ta, n, scale)) / (2 * e)
    np.testing.assert_allclose(val, h(x, a, n, scale), rtol=1e-12)
    np.testing.assert_allclose(dot, expect, rtol=1e-5, atol=1e-7)


# ---- a view the inner gradient stores, of an array it then writes (fuzz seed 390249) ------------------------------
@pytest.mark.parametrize("inner_jit", [False, True], ids=["inner-py", "inner-jit"])
@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_over_a_view_written_back_into_its_array(jit, inner_jit):
    from test_reverse_storage import column_copied_in_a_loop

    def h(a, M):
        ga, gM = srcdiff.grad(column_copied_in_a_loop, wrt=(0, 1), jit=inner_jit)(a, M)
        return np.sum(ga * ga) + np.sum(gM * gM)
    a, M = np.array([0.3, -0.2]), np.array([[0.1, 0.2], [0.3, -0.4]])
    got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(a, M)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, [a, M], k), rtol=1e-5, atol=1e-7)


# ---- a growing slice bound in a branch inside a loop (nested fuzz seeds 761041, 761084) ------------------------
def f_growing_slice_in_a_branch(x, a):
    for i in range(3):
        if x > 0.0:
            x = x * np.sum(a[:i + 1])
    return x


def f_growing_slice_carried_to_the_next_iteration(a, s):
    for i in range(2):
        if i > 0:
            s = np.tanh(p)
        if a[i] < 0.0:
            p = np.sum(a[:i + 1])
        else:
            p = a[i]
    return s


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
@pytest.mark.parametrize("f, args", [(f_growing_slice_in_a_branch, (0.4, np.array([0.3, 0.7, 0.5]))),
                                     (f_growing_slice_carried_to_the_next_iteration, (np.array([-0.7, -1.1]), -0.75)),
                                     (f_growing_slice_carried_to_the_next_iteration, (np.array([0.7, -1.1]), -0.75))],
                         ids=["in-a-branch", "carried", "carried-else-first"])
def test_gradient_norm_penalty_over_a_slice_a_branch_binds_in_a_loop(f, args, jit):
    # the inner gradient pops the slice a[:i + 1] in the branch of its backward loop that binds it: h's sweep
    # restarted its adjoint there as zeros of this iteration's shape and added the previous iteration's term, one
    # element longer, into them (Python: "operands could not be broadcast together with shapes (3,) (2,) (3,)")
    def h(u, v):
        g0, g1 = srcdiff.grad(f, wrt=(0, 1))(u, v)
        return np.sum(g0 * g0) + np.sum(g1 * g1)
    gg = srcdiff.grad(h, wrt=(0, 1), jit=jit)
    got = gg(*args)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(h, list(args), k), rtol=1e-5, atol=1e-7)
    assert "may change shape between iterations" in srcdiff.source(gg)


# ---- fuzz seed 779034: second derivatives of products of stacks of matrices ------------------------------
def stacked_square(M):
    s = np.sum(np.stack((M, M)) @ np.stack((M.T, M.T)))
    return s * s


def stacked_times_matrix(M):
    s = np.sum(np.matmul(np.stack((M, 2.0 * M)), M))
    return s * s


def stacked_square_penalty(M):
    g = srcdiff.grad(stacked_square)(M)
    return np.sum(g * g)


def stacked_times_matrix_penalty(M):
    g = srcdiff.grad(stacked_times_matrix)(M)
    return np.sum(g * g)


@pytest.mark.parametrize("f, penalty", [(stacked_square, stacked_square_penalty),
                                        (stacked_times_matrix, stacked_times_matrix_penalty)])
def test_second_derivatives_of_a_stacked_matmul(f, penalty):
    """The rule of matmul_grad_x (matmul_grad_y) writes rt.dot for the product its adjoint takes: np.dot, which
    for stacks of matrices pairs every matrix of one with every matrix of the other (the gradient norm's
    gradient was 1.67x too large). rt.dot is a @ b for operands of rank 3 or more. (Stacks of matrices do not
    compile under Numba: Python backend only.)"""
    M = np.array([[-0.92662821, -0.73919113], [-0.53307406, 0.95060408]])
    np.testing.assert_allclose(srcdiff.grad(f)(M), numerical_grad(f, [M], 0), rtol=1e-6)
    np.testing.assert_allclose(srcdiff.grad(penalty)(M), numerical_grad(penalty, [M], 0), rtol=1e-5)
    v = np.array([[0.3, -0.2], [0.5, 0.1]])
    g = srcdiff.grad(f)
    np.testing.assert_allclose(srcdiff.hvp(f)(M, v), (g(M + 1e-6 * v) - g(M - 1e-6 * v)) / 2e-6, rtol=1e-5)


# ---- an unread call of srcdiff's own derivative function (nested fuzz 781086) ------------------------------------
def rec_sum(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(rec_sum(u, depth - 1)) + 0.5 * sum(u for i in range(3) if u > 0.3)


def f_rec_sum(x, n):
    return rec_sum(x * x, n)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_norm_penalty_over_a_recursive_helper_keeps_no_unread_derivative_call(jit):
    # reverse over reverse recomputes rec_sum_vjp's forward sweep, where the inner `d_u = rec_sum_vjp(...)`
    # is read by nothing: the call stayed, assigned to a name nothing reads, because only the user's
    # functions were known to have no effect. A generated derivative writes only into what it makes (its
    # stacks, tapes and adjoints: purity.fresh_locals), so the unread call goes
    import ast

    def h(x, n):
        gx = srcdiff.grad(f_rec_sum, wrt=0)(x, n)
        return gx * gx
    g = srcdiff.grad(h, wrt=0, jit=jit)
    for x in (0.7, -0.4):
        np.testing.assert_allclose(g(x, 2), numerical_grad(h, [x, 2], 0), rtol=1e-6)
    tree = ast.parse(srcdiff.source(g))
    for fn in tree.body:
        loads = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        unread = [ast.unparse(n) for n in ast.walk(fn) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                  and isinstance(n.value.func, ast.Name) and n.value.func.id.endswith("_vjp")
                  and all(isinstance(t, ast.Name) and t.id not in loads for t in n.targets)]
        assert unread == [], (fn.name, unread)


# ---- two swaps written in one loop, differentiated twice (nested fuzz 799023: a wrong second derivative) --------
def two_swaps_written(x, M):
    buf3 = np.copy(M)
    buf5 = M.copy()
    for k in range(2):
        buf5, buf3 = buf3, 0.5 * buf5 + 0.5 * np.tanh(buf3 * (0.5 + x))
        buf5[1, 3] = buf5[1, 3] * 1.1 + 0.1 * x
        buf3, buf5 = buf5, 0.5 * buf3 + 0.5 * np.tanh(buf5 * x)
        buf3[0, 2] = buf3[0, 2] * 1.1 + 0.1 * x
    return x + np.sum(buf3) + np.sum(buf5)


def two_swaps_penalty(x, M):
    gx, gM = srcdiff.grad(two_swaps_written, wrt=(0, 1))(x, M)
    return gx * gx + np.sum(gM * gM)


def test_a_penalty_over_two_swaps_written_in_one_loop_is_never_wrong():
    # the gradient's forward sweep pushes the array that the second swap's name writes through; following that
    # write to the first name (follow_writes.follow_writes) hid from the aliasing check that the stack holds the
    # array itself, and reverse mode over the gradient was wrong (d/dx -1.04 for 0.16). Such a chain is left
    # as it is: the second derivative is declined at the user's line (or, where it differentiates, right; it
    # does since follow_writes passes over a back-edge copy of the array to its own name: test_follow_writes)
    M = np.array([[-0.84, 2.09, -0.97, -0.46], [1.35, 0.24, 0.61, 0.60]])
    args = [0.726, M]
    first = srcdiff.grad(two_swaps_written, wrt=(0, 1))(*args)
    for k in range(2):
        np.testing.assert_allclose(first[k], numerical_grad(two_swaps_written, args, k), rtol=1e-5, atol=1e-7)
    try:
        got = srcdiff.grad(two_swaps_penalty, wrt=(0, 1))(*args)
    except srcdiff.SrcdiffError as e:
        assert "shares memory" in str(e) and e.filename == __file__, str(e)
        return
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(two_swaps_penalty, args, k), rtol=1e-4, atol=1e-6)


def integrate_twice(fun, u, k):
    for i in range(2):
        u = u + k * fun(u)
    return u


def overwritten_then_integrated(x, M):
    def rhs(u):
        return 0.5 * np.tanh(-2.4 * u)
    for i in range(4):
        x = np.sin(M[0, 3])
    return integrate_twice(rhs, x, 0.25)


def overwritten_gradient_penalty(x, M):
    gx, gM = srcdiff.grad(overwritten_then_integrated, wrt=(0, 1))(x, M)
    return gx * gx + np.sum(gM * gM)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_gradient_penalty_where_a_loop_overwrites_the_differentiated_argument(jit):
    """Nested fuzz seed 985173 (silently wrong: d/dM[0, 3] -0.0409032 where central differences give
    -0.0409008): the inner gradient's backward loop zeroes d_x (`d_x = 0.0`), and the outer backward sweep
    carries d_d_x out of that loop into the adjoint of the integrator's d_u; the coalesce pass
    (optimize/copies.py) miscounted d_d_x's stores and bound d_d_u to d_d_x's value from before the loop."""
    x, M = 2.0914, np.zeros((2, 4))
    M[0] = [-1.0715, -0.9503, 0.5726, -1.5924]
    g = srcdiff.grad(overwritten_gradient_penalty, wrt=1, jit=jit)(x, M.copy())
    num = numerical_grad(lambda M_: overwritten_gradient_penalty(x, M_), [M.copy()], 0)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


# ---- the inner gradient's seed of its output: no primal result computed for it -----------------------------------
def returns_on_two_paths(x, a):
    t = np.sin(a) * x
    s = np.sum(t * t)
    if s > 1.0:
        return s * 2.0
    return s + x


def penalty_of_returns_on_two_paths(x, a):
    gx, ga = srcdiff.grad(returns_on_two_paths, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
def test_the_inner_gradients_seed_does_not_keep_the_primal_result(jit):
    """The gradient a function calls is differentiated from its unspecialised source, which seeds the output's
    adjoint with `d_result = rt.seed(result)` (a check that the output is a scalar). In the outer gradient that
    read kept the primal's return value alive: both paths' `s * 2.0` / `s + x` computed in the outer forward
    sweep (reverse and forward mode over the gradient) for nothing but a 1.0. Once the kinds show a scalar,
    the seed is 1.0 (kind_rewrites.scalar_helpers) and the return value's computation goes."""
    x, a = 0.7, np.array([0.3, -0.2, 0.5])
    f = penalty_of_returns_on_two_paths
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
    got = g(x, a)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(f, [x, a], k), rtol=1e-6, atol=1e-8)
    tangent = (0.1, np.array([1.0, -0.5, 0.25]))
    jv = srcdiff.jvp(f, wrt=(0, 1), jit=jit)
    _, dot = jv(x, a, tangent)
    np.testing.assert_allclose(dot, tangent[0] * got[0] + np.dot(tangent[1], got[1]), rtol=1e-6)
    for src in (srcdiff.source(g), srcdiff.source(jv)):
        code = "\n".join(ln for ln in src.splitlines() if not ln.strip().startswith("#"))
        assert "rt.seed(" not in code and "s + x" not in code, src


# ---- reverse over a gradient whose backward sweep restores arrays a loop binds anew -------------------------------
def rebound_then_written(x, a):
    buf = x * 1.0
    for i in range(2):
        buf = buf * 1.5
        buf[i] = buf[i] * 0.5
    return np.sum(buf ** 3)


def rebound_on_some_paths_then_written(x, a):
    buf = x * 1.0
    for i in range(3):
        if a[i] > 0:
            buf = buf * 1.5
        buf[i] = buf[i] * 0.5 + a[i] * buf[i - 1]
    return np.sum(buf ** 3)


def bump_and_return(buf, i, v):
    buf[i] = buf[i] * 0.5 + v
    return buf


def written_by_a_helper_that_returns_it(x, a):
    buf = x * 1.0
    for i in range(buf.shape[0]):
        buf = bump_and_return(buf, i, a[i] * buf[i - 1])
    return np.sum(buf ** 3)


def penalty_of_rebound_then_written(x, a):
    g = srcdiff.grad(rebound_then_written, wrt=0)(x, a)
    return np.sum(g * g)


def penalty_of_rebound_on_some_paths(x, a):
    g = srcdiff.grad(rebound_on_some_paths_then_written, wrt=0)(x, a)
    return np.sum(g * g)


def penalty_of_written_by_a_helper(x, a):
    g = srcdiff.grad(written_by_a_helper_that_returns_it, wrt=0)(x, a)
    return np.sum(g * g)


@pytest.mark.parametrize("jit", BACKENDS, ids=["py", "jit"])
@pytest.mark.parametrize("f", [penalty_of_rebound_then_written, penalty_of_rebound_on_some_paths,
                               penalty_of_written_by_a_helper], ids=lambda f: f.__name__)
def test_reverse_over_restores_of_an_array_a_loop_binds_anew(f, jit):
    """Silently wrong second derivatives (hand-written second-order programs; d/dx of |grad|^2 off by up to 1e5;
    hessian and hvp were right). A loop binding `buf` anew and writing into it: its gradient pushes each
    iteration's array and restores the written element through the popped name (`buf3 = buf3_stack.pop()`,
    `buf3[i] = buf3_old`). Reverse mode over that gradient (1) stored nothing of the popped name, which its own
    backward sweep's undo of that restore writes into (a write's restore did not count as a read of the array:
    every iteration's element went into the last popped array), and (2) did not undo those restores at all where
    the pushed name, not the popped one, is read (`3 * buf ** 2`): a popped array is the pushed one
    (reverse._stacked_arrays). A helper that writes into its argument and returns it (`buf = bump(buf, i, v)`)
    no longer makes buf loop-carried at all (aliasing: the back-edge copy of buf to itself goes)."""
    rng = np.random.default_rng(0)
    x, a = rng.normal(size=4) * 0.7, rng.normal(size=4) * 0.7
    got = srcdiff.grad(f, wrt=(0, 1), jit=jit)(x, a)
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(f, [x, a], k), rtol=1e-5, atol=1e-7)
    if f is penalty_of_written_by_a_helper:
        src = srcdiff.source(srcdiff.grad(written_by_a_helper_that_returns_it, wrt=0, jit=jit))
        assert "buf_stack" not in src, src


def swapped_and_written_through_a_second_name(x, a):
    b1 = x * 1.0
    b2 = a * 1.0
    for i in range(3):
        b1, b2 = b2, b1
        b1[i % 4] = b1[i % 4] * 1.1 + np.tanh(b2[(i + 1) % 4] * x[i])
        al = b2
        al[(i + 2) % 4] = al[(i + 2) % 4] * 0.9 + a[i] * b1[0]
    return np.sum(b1 * b2) + np.sum(b1 ** 2)


def penalty_of_swapped_and_written(x, a):
    g = srcdiff.grad(swapped_and_written_through_a_second_name, wrt=0)(x, a)
    return np.sum(g * g)


@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_and_forward_over_a_swap_written_through_a_second_name(jit):
    """grad and jvp of a gradient norm over `b1, b2 = b2, b1` then `al = b2` written in a loop: declined until
    now ('`b2v2` shares memory with `b2v1`', naming the inner gradient's names, not the user's). The inner
    gradient pushes the swapped buffer's second name after the write through the first, for its backward sweep's
    `d_b2v1 = rt.zeros_like(b2v1)`: a read of its shape, which no write changes (shape_reads.shape_only_stacks).
    Both match central differences (and hvp of the inner function central differences of its gradient)."""
    x, a = np.array([0.3, -0.4, 0.8, 0.1]), np.array([0.5, 0.2, -0.3, 0.7])
    f = penalty_of_swapped_and_written
    for k, got in enumerate(srcdiff.grad(f, wrt=(0, 1), jit=jit)(x, a)):
        np.testing.assert_allclose(got, numerical_grad(f, [x, a], k), rtol=1e-5, atol=1e-7)
    v = np.array([0.2, -0.1, 0.4, 0.3])
    _, t = srcdiff.jvp(f, wrt=0, jit=jit)(x, a, v)
    np.testing.assert_allclose(t, numerical_grad(f, [x, a], 0) @ v, rtol=1e-5, atol=1e-7)
    inner = swapped_and_written_through_a_second_name
    h = srcdiff.hvp(inner, wrt=0, jit=jit)(x, a, v)
    g = srcdiff.grad(inner, wrt=0)
    np.testing.assert_allclose(h, (g(x + 1e-5 * v, a) - g(x - 1e-5 * v, a)) / 2e-5, rtol=1e-5, atol=1e-6)


def swapped_and_a_second_name_summed(x, a):
    b1 = x * 1.0
    b2 = a * 1.0
    for i in range(3):
        b1, b2 = b2, b1
        b1[i % 4] = b1[i % 4] * 1.1 + np.tanh(np.sum(b2 * x))
        al = b2
        al[(i + 2) % 4] = al[(i + 2) % 4] * 0.9 + a[i] * np.sum(b1 * al)
    return np.sum(b1 * b2) + np.sum(b1 ** 2)


def penalty_of_swapped_and_a_second_name_summed(x, a):
    g = srcdiff.grad(swapped_and_a_second_name_summed, wrt=0)(x, a)
    return np.sum(g * g)


def test_a_decline_in_a_gradient_differentiated_again_names_the_users_variables():
    """Reverse and forward mode over a gradient whose code the aliasing check declines (the gradient reads the
    swapped buffer's second name whole after the write): the message named the gradient's SSA versions ('`b2v2`
    shares memory with `b2v1`'), names nowhere in the user's code. It spells them as the user's (error_reports,
    user_spelling), the array written as the user's line writes it; at the user's line."""
    x, a = np.array([0.3, -0.4, 0.8, 0.1]), np.array([0.5, 0.2, -0.3, 0.7])
    f = penalty_of_swapped_and_a_second_name_summed
    for transform in (srcdiff.grad, srcdiff.jvp):
        with pytest.raises(srcdiff.SrcdiffError) as e:
            g = transform(f, wrt=0)
            g(x, a) if transform is srcdiff.grad else g(x, a, np.ones(4))
        text = str(e.value).split(" (in the code srcdiff generated")[0] + (e.value.advice or "")
        assert e.value.filename == __file__ and "`b2` shares memory with `al`, which this assignment writes" in text, \
            text        # (`al` as the line writes it: "`b2` (another binding of it)" before, the gradient writes b2's version)
        assert not re.search(r"`\w*v\d+`", text), text


def swapped_in_a_branch_then_written(x, a):
    b = a * 1.0
    c = a * x
    for j in range(3):
        if x > 0.4:
            b, c = c, np.tanh(b * c)
        else:
            c = c * b
        b[j] = b[j] * x + c[j]
    return np.sum(b * b) + np.sum(c)


def penalty_of_swapped_in_a_branch_then_written(x, a):
    gx, ga = srcdiff.grad(swapped_in_a_branch_then_written, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


def test_a_decline_of_two_versions_of_one_name_says_so_in_the_users_words():
    """The gradient's two versions of b, one array after the swap: spelled as the user's, the message read "`b`
    shares memory with `b` (another binding of it)" and advised "make `b` (another binding of it) a copy". It says
    what the user's own code gets for a swap then a write (aliasing.one_name_twice)."""
    for transform in (srcdiff.grad, srcdiff.jvp):
        with pytest.raises(srcdiff.SrcdiffError) as e:
            g = transform(penalty_of_swapped_in_a_branch_then_written, wrt=(0, 1))
            args = (0.5, np.array([0.3, -0.2, 0.5, 0.4]))
            g(*args) if transform is srcdiff.grad else g(*args, (1.0, np.ones(4)))
        lines, first = inspect.getsourcelines(swapped_in_a_branch_then_written)
        assert e.value.lineno == first + next(k for k, ln in enumerate(lines) if "b[j] = " in ln), str(e.value)
        assert str(e.value).split(": ", 1)[1].startswith(
            "this assignment writes in place into an array that `b` names at another point (a swap or a second name "
            "in a loop), which is read afterwards"), str(e.value)
        assert e.value.advice == "take a copy (np.copy(...)) where the second name or the swap binds the array"


def test_a_gradients_record_of_a_value_is_said_in_the_users_words():
    """What user_spelling.spelled leaves as it is (`b8_stack`, `buf1_old_tape5`: srcdiff's records of a value) a
    message says as the user's name and what it is; a name of srcdiff's own (`result1`) has no such spelling."""
    from srcdiff import user_spelling
    users = {"buf1", "b8", "x"}
    assert user_spelling.record("b8_stack", users) == "`b8` (the values of it srcdiff's gradient saves)"
    assert user_spelling.record("buf1_old_tape5", users) == "`buf1` (the values of it srcdiff's gradient saves)"
    assert user_spelling.record("buf1v3_stack", users) == "`buf1` (the values of it srcdiff's gradient saves)"
    assert user_spelling.record("result1", users) is None and user_spelling.record("b8v2", users) is None


def masked_fancy_read_after_an_early_return(x, M):
    for i in range(2):
        if x > 5.0:
            return x * M[0, 0]
    sel = M[np.arange(2).reshape(2, 1), np.array([[1, 0], [0, 1]])]
    return np.sum(sel[sel < 0.3] * x) + x * np.sum(M)


def penalty_of_masked_fancy_read(x, M):
    gx, gM = srcdiff.grad(masked_fancy_read_after_an_early_return, wrt=(0, 1))(x, M)
    return gx * gx + np.sum(gM * gM)


@pytest.mark.parametrize("jit", BACKENDS)
def test_jvp_of_a_gradient_that_masks_a_fancy_read_after_an_early_return(jit):
    """Nested fuzz seed 1015125 (minimised): the gradient's placeholder of the mask (`sel < 0.3`, unbound where the
    loop returns early) stayed None, its kind unknown (np.array of names bound to tuples had none), and jvp under
    Numba declined "index_add(array(float64, 2d), OptionalType(array(bool, 2d)), ...)" at a line of the gradient's
    module cited as the user's."""
    h, M = penalty_of_masked_fancy_read, np.array([[0.1, 0.5], [-0.2, 0.4]])
    value, dot = srcdiff.jvp(h, jit=jit)(0.5, M.copy(), 1.0)
    np.testing.assert_allclose(value, h(0.5, M.copy()), rtol=1e-12)
    np.testing.assert_allclose(dot, numerical_grad(lambda x: h(x, M.copy()), [0.5], 0), rtol=1e-6)


def rows_written_after_early_return(x, a):
    if x > 0.0:
        return x
    ys = np.ones((2, 2)) * a[0]
    ys[0] += ys[1] * a[1]
    return np.sum(ys[:, 1] ** 2)


def value_of_rows_written(x, a):
    v, ga = srcdiff.value_and_grad(rows_written_after_early_return, wrt=1)(x, a)
    return v


def penalty_of_rows_written(x, a):
    v, (gx, ga) = srcdiff.value_and_grad(rows_written_after_early_return, wrt=(0, 1))(x, a)
    return np.sin(v) * gx + np.sum(ga * ga)


@pytest.mark.parametrize("h", [value_of_rows_written, penalty_of_rows_written])
@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_over_a_restore_through_a_merged_name(h, jit):
    """Nested fuzz seed 1041058 (value_and_grad's pair, minimised): the gradient's backward sweep restores row 0
    (`ys[0] = ys_old`), after the branch's merge, through the merged name, while a view of the same array
    (`result1 = ys[:, 1]`) is read by reverse mode over it: that view's backward read came after the restore, which
    the outer backward sweep did not undo (a merge was no name sharing memory there): d/da silently wrong,
    [1.998, 0.648] where central differences give [1.787, 0.489]."""
    x, a = -0.98, np.array([0.5, -0.2])
    got = srcdiff.grad(h, wrt=1, jit=jit)(x, a.copy())
    np.testing.assert_allclose(got, numerical_grad(h, [x, a], 1), rtol=1e-6, atol=1e-8)


# ---- reverse over a gradient whose function writes through a view of an array it wrote into ---------------------
def write_through_a_view(x, M):
    b = np.tanh(M) * 1.0
    b[0, 0] = x * 1.5
    v = np.atleast_3d(b)
    v[0, 0, 0] = x * -1.2
    return np.sum(np.sin(v) * v) + x * np.sum(v)


_view_grad = srcdiff.grad(write_through_a_view, wrt=(0, 1))


def view_penalty(x, M):
    gx, gM = _view_grad(x, M)
    return gx * gx + np.sum(gM * gM) + np.sum(gM * M)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_reverse_over_a_gradient_restoring_an_array_after_its_view(jit):
    """The gradient of a function that writes into b, then through a view of it, restores the view's element and
    then b's (`vr26[0, 0, 0] = vr26_old`, then `vb24[0, 0] = vb24_old`) and reads b's shape (`rt.reshape_like(d_v,
    b)`): reverse mode over it declined both as reads of b after the write through its view ('`vb24` shares memory
    with `vr26`, which this assignment writes in place, and is read afterwards', nested fuzz seeds 1301022 and
    1301024), though neither reads a value of b. Against central differences."""
    rng = np.random.default_rng(2)
    x, M = 0.7, rng.normal(size=(3, 3))
    got = srcdiff.grad(view_penalty, wrt=(0, 1), jit=jit)(x, M.copy())
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(view_penalty, [x, M], k), rtol=1e-5, atol=1e-6)
