"""transforms/kind_rewrites.py: rewrites made once the kinds are known (sum starts, scalar products,
array literal operands), checked on the generated source and on the gradients (both backends)."""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad
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
