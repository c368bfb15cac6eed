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


def test_a_default_value_is_declined_naming_the_function():
    with pytest.raises(srcdiff.SrcdiffError, match="nested function 'f' has default values"):
        srcdiff.grad(default_value)(1.0)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [scaled_sum, named_and_called_lambdas, siblings, keyword_call])
def test_gradients_through_lifted_functions(f, jit):
    check_grad(f, [0.7, 1.3], jit=jit)
    np.testing.assert_allclose(srcdiff.value_and_grad(f, jit=jit)(0.7, 1.3)[0], f(0.7, 1.3))
