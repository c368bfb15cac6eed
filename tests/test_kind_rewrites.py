"""transforms/kind_rewrites.py: rewrites made once the kinds are known (sum starts, scalar products,
array literal operands), checked on the generated source and on the gradients (both backends)."""
import numpy as np
import pytest
from scipy.special import softmax

import srcdiff
from gradcheck import check_grad, numerical_grad
from srcdiff import compiler
from srcdiff.transforms import emit, kind_rewrites


def scalar_terms(x, n):
    return sum(np.sin(x[i]) * x[i] for i in range(n))


def array_terms(x, n):
    return np.sum(sum(np.sin(x[i]) for i in range(n)))


def inner_with_scalar(x, s):
    return np.sum(np.inner(x, s))


def literal_operand(w, a):
    return np.sum(w * [a, 2.0 * a])


def _ssa(fn):
    return compiler.middle_end(compiler.front_end(fn))


def test_sum_start_of_scalar_terms_is_zero():
    unit = _ssa(scalar_terms)
    before = emit.to_source(unit.node)
    assert "rt.zeros_like" in before                    # kinds unknown: the start waits for them
    kinds = {"x": ("a", 1, "f"), "n": ("s", "i")}
    ctx = compiler.Context(unit=unit, arg_kinds=kinds)
    assert kind_rewrites.sum_starts(unit, ctx.kinds)
    assert "rt.zeros_like" not in emit.to_source(unit.node)
    assert not kind_rewrites.sum_starts(unit, compiler.Context(unit=unit, arg_kinds=kinds).kinds)  # settled


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, args", [(scalar_terms, [np.array([0.3, -0.4, 1.2]), 3]),
                                     (array_terms, [np.array([[0.3, 0.1], [-0.4, 2.0], [1.2, 0.5]]), 3]),
                                     (inner_with_scalar, [np.array([0.3, -0.4, 1.2]), 0.7]),
                                     (literal_operand, [np.array([0.3, -0.4]), 0.7])])
def test_gradients_through_the_rewrites(f, args, jit):
    check_grad(f, args, jit=jit)


def test_scalar_operand_of_inner_is_a_product():
    unit = _ssa(inner_with_scalar)
    assert "rt.tensordot" in emit.to_source(unit.node)
    kinds = compiler.Context(unit=unit, arg_kinds={"x": ("a", 1, "f"), "s": ("s", "f")}).kinds
    assert kind_rewrites.scalar_products(unit, kinds)
    src = emit.to_source(unit.node)
    assert "rt.tensordot" not in src and "np.moveaxis" not in src and "result = s" in src, src
    assert "x * result" in src, src


def test_list_operand_of_an_array_is_an_array():
    unit = _ssa(literal_operand)
    kinds = compiler.Context(unit=unit, arg_kinds={"w": ("a", 1, "f"), "a": ("s", "f")}).kinds
    assert kind_rewrites.array_literal_operands(unit, kinds)
    assert "w_operand = rt.array(" in emit.to_source(unit.node)
    g = srcdiff.grad(literal_operand, wrt=(0, 1))
    dw, da = g(np.array([0.3, -0.4]), 0.7)
    np.testing.assert_allclose(dw, [0.7, 1.4])
    np.testing.assert_allclose(da, 0.3 - 0.8)


def written_after_a_return(x, a):
    buf = np.ones(3)
    if np.sum(a) > 1.0:
        return np.sum(a * a)
    buf[1] *= np.tanh(x)
    return np.exp(np.tanh(buf[1])) + np.sum(buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_an_if_of_a_zeros_start_and_an_element_zeroed_is_no_sum_start(jit):
    # the gradient's own backward sweep has `if c: d_a = ... (rt.zeros_like) else: d_buf[1] = 0.0`: differentiated
    # again (fuzz seed 300237, nested), the sum-start search read the element write's target as a name and crashed
    def h(x, a):
        gx, ga = srcdiff.grad(written_after_a_return, wrt=(0, 1), jit=jit)(x, a)
        return gx * gx + np.sum(ga * ga)
    for a in (np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.2, 0.6])):     # each side of the early return
        got = srcdiff.grad(h, wrt=(0, 1), jit=jit)(0.4, a)
        for k, g in enumerate(got):
            np.testing.assert_allclose(g, numerical_grad(h, [0.4, a], k), rtol=1e-5, atol=1e-7)


def cross_of_vectors(x, a):
    return np.sum(np.cross(a * x, np.sin(a)) ** 2)


def stack_of_scalars(x, a):
    return np.sum(np.stack((x * a[0], np.sin(x), 2.0), axis=-1) * a) + np.sum(np.stack([a[1], x]) ** 2)


def stack_of_vectors(x, a):
    return np.sum(np.stack((a * x, a), axis=-1) ** 2)


def test_stack_of_scalars_is_a_vector():
    """np.stack of items the kinds show to be scalars (axis 0 or -1) is rt.array of them: Numba's np.stack
    takes arrays only. Stacks of arrays stay np.stack."""
    unit = _ssa(stack_of_scalars)
    kinds = compiler.Context(unit=unit, arg_kinds={"x": ("s", "f"), "a": ("a", 1, "f")}).kinds
    assert kind_rewrites.scalar_stacks(unit, kinds)
    src = emit.to_source(unit.node)
    assert "np.stack" not in src and src.count("rt.array((") == 2, src
    unit = _ssa(stack_of_vectors)
    kinds = compiler.Context(unit=unit, arg_kinds={"x": ("s", "f"), "a": ("a", 1, "f")}).kinds
    assert not kind_rewrites.scalar_stacks(unit, kinds)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [cross_of_vectors, stack_of_scalars, stack_of_vectors])
def test_gradients_of_stacks_of_scalars(f, jit):
    """np.cross of two vectors (a composite that stacks its three scalar components x[..., i]: fuzz seed 710016
    did not compile under Numba) and np.stack of scalars, in both backends."""
    check_grad(f, [0.7, np.array([0.3, -0.4, 1.1])], wrt=(0, 1), jit=jit)


def sum_after_a_list_sum(x, a):
    # t's kind is known only once the "array literals" pass makes the array of `st` (sum(st) of a list name): the
    # sum over zip below, of arrays, started from 0.0 where it runs no iteration, and Numba could not unify it
    # with the array it is elsewhere (nested fuzz seed 1003005: "Cannot unify array(float64, 1d, C) and float64
    # for 'total_sum10.5'", a decline)
    st = [-1.2, a[0]]
    t = sum(st)
    u = (x - t) * np.ones(3)
    return np.mean(sum(a * (e * 0.5 + e2) for e, e2 in zip(u, u)))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_sum_start_after_array_literals(jit):
    check_grad(sum_after_a_list_sum, [0.3, np.array([0.2, -0.4, 0.7])], jit=jit)
    g = srcdiff.grad(sum_after_a_list_sum, wrt=(0, 1), jit=jit)
    g(0.3, np.array([0.2, -0.4, 0.7]))
    assert "np.zeros((1,))" in srcdiff.source(g)     # the start where zip runs no iteration: the terms' rank


def softmax_along_0(x):
    return np.sum(softmax(x, axis=0) * x)


def keepdims_reductions(x):
    return np.sum(np.nanmean(x, -1, keepdims=True) * x) + np.sum(np.max(x, 0, keepdims=True) * x) + np.prod(x, axis=-1)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [softmax_along_0, keepdims_reductions])
@pytest.mark.parametrize("x", [np.array(0.7), 0.7, np.array([0.7, -0.2, 1.1])], ids=["0-d", "float", "vector"])
def test_keepdims_of_a_0d_array_keeps_its_shape(f, x, jit):
    """NumPy reduces a 0-d array along axis 0 or -1, and keepdims=True keeps it 0-d (np.expand_dims of the reduced
    number would be (1,)): the gradient of softmax(x, axis=0) of a 0-d x had shape (1,) in both backends, and the
    value of np.nanmean(x, -1, keepdims=True) * x too (test_shape_edges' full sweep)."""
    value, g = srcdiff.value_and_grad(f, jit=jit)(x)
    assert np.shape(value) == np.shape(f(x)) and np.shape(g) == np.shape(x)
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(g, numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-8)
