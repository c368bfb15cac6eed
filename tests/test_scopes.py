"""transforms/scopes.py: a read of a local name that no assignment reaches (Python: UnboundLocalError) is declined
at the user's line; srcdiff read the module-level name of that name, or the local, and differentiated a program
Python cannot run. Reads some path reaches bound (a value set in one iteration, read in the next) still work."""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad

SCALE = 3.0


def helper(v):
    return v * 2.0


def shadows_a_helper(x):
    y = helper(x)
    helper = lambda v: v * 5.0
    return np.sum(helper(y))


def shadows_a_constant(x):
    y = x * SCALE
    SCALE = 2.0
    return np.sum(y * SCALE)


def augmented_before_assignment(x):
    total += np.sum(x)
    total = 0.0
    return total


def in_a_comprehension(x):
    t = sum(v * scale for v in x)
    scale = 2.0
    return t + scale


@pytest.mark.parametrize("f, name, shadows", [(shadows_a_helper, "helper", True), (shadows_a_constant, "SCALE", True),
                                              (augmented_before_assignment, "total", False),
                                              (in_a_comprehension, "scale", False)])
@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_read_before_any_assignment_is_declined(f, name, shadows, make):
    with pytest.raises(NameError):          # (UnboundLocalError; a generator's free variable: NameError)
        f(np.ones(3))
    args = (np.ones(3),) if make is srcdiff.grad else (np.ones(3), np.ones(3))
    with pytest.raises(srcdiff.SrcdiffError, match=rf"test_scopes\.py:\d+: `{name}` is read here before any assignment "
                       rf"to it(.|\n)*UnboundLocalError here" + (rf" \(the module-level `{name}` is not read\)" if shadows
                                                            else "") + r"(.|\n)*hint: give the local variable another name"):
        make(f)(*args)


def carried(x):
    """`prev` is first bound in the loop body and read in the next iteration: bound on every path that reads it."""
    s = 0.0
    for i in range(3):
        if i > 0:
            s = s + prev * x[i]
        prev = x[i]
    return s


def while_carried(x):
    k = 0
    while k < 3:
        if k > 0:
            last = last * 0.5 + x[k]
        else:
            last = x[0]
        k += 1
    return last * last


def after_return(x):
    if x[0] > 10.0:
        return x[0]
    y = x * 2.0
    return np.sum(y)


def nested_function_reads_later(x):
    def g(v):
        return v * c
    c = 2.0
    return np.sum(g(x))


def comprehension_target(x):
    return sum(v * v for v in x) + sum([w for w in x])


@pytest.mark.parametrize("f", [carried, while_carried, after_return, nested_function_reads_later,
                               comprehension_target])
@pytest.mark.parametrize("jit", [False, True])
def test_reads_some_path_binds_first_still_work(f, jit):
    check_grad(f, [np.array([0.4, -0.7, 1.1])], jit=jit)
