"""transforms/resolve.py: every free name resolved: aliases of primitives become their canonical call,
array methods become functions, module constants their values, user functions callees."""
import math

import numpy as np
import pytest
from numpy import exp as e_alias

import srcdiff
from gradcheck import check_grad
from passes import body_source, through

SCALE = 2.5


def helper(u):
    return u * 3.0


def resolved(x, a):
    y = e_alias(x) + np.absolute(x) + abs(x) + math.exp(x) * SCALE
    return y + helper(x) + a.sum() + np.sum(a.T)


def test_names_become_canonical_calls_constants_and_callees():
    unit = through(resolved, "resolve")
    assert body_source(unit.node) == ("y = np.exp(x) + np.abs(x) + np.abs(x) + math.exp(x) * 2.5\n"
                                      "return y + helper(x) + np.sum(a) + np.sum(np.transpose(a))")
    assert list(unit.callees) == ["helper"]


def unknown(x):
    return np.fft.fft(x)


def test_a_library_function_without_a_rule_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="np.fft.fft|numpy.fft.fft"):
        srcdiff.grad(unknown)(np.ones(3))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_of_resolved_names(jit):
    check_grad(resolved, [0.4, np.array([[0.5, 1.0], [2.0, -1.0]])], wrt=(0, 1), jit=jit)
