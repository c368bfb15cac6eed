"""A value bound in a branch of a loop and read in the next iteration (`prev`): the programs test_kinds and
test_unbound build around one expression, and their gradient check in both branches. Under Numba such a value
needs a placeholder before the loop of its kind (unbound.py); without one Numba typed it optional and crashed."""
import numpy as np

from gradcheck import check_grad, source_module

TEMPLATE = """import numpy as np


def f(x, a, M):
    scale = x
    for i in range(2):
        if i > 0:
            scale = 0.5 * scale + 0.5 * np.tanh(np.sum(prev))
        if np.sum(a) > -0.7:
            prev = a
        else:
            prev = VALUE
    return scale


def f_while(x, a, M):
    scale = x
    i = 0
    while i < 2:
        if i > 0:
            scale = 0.5 * scale + 0.5 * np.tanh(np.sum(prev))
        if np.sum(a) > -0.7:
            prev = a
        else:
            prev = VALUE
        i += 1
    return scale
"""
M = np.array([[0.1, 0.2], [-0.3, 0.4]])
A_EACH_BRANCH = (np.array([0.3, -0.2]), np.array([-0.5, -0.4]))   # np.sum(a) > -0.7, and not


def program(name: str, value: str):
    """The module of TEMPLATE with `value` (an expression of x, a, M) bound in the else branch."""
    return source_module(name, TEMPLATE.replace("VALUE", value))


def check_both_branches(f, jit):
    """f's gradient in (x, a, M) against central differences, once through each branch."""
    for a in A_EACH_BRANCH:
        check_grad(f, [0.7, a, M], wrt=(0, 1, 2), jit=jit)
