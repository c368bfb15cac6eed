"""Assignment expressions (`:=`, transforms/walrus.py): each moved before its statement (a while condition's also to
the end of the loop body, or to its top where the body has a `continue`); gradients against central differences in
both backends, jvp against the gradient; the forms hoisting would change are declined at the user's line."""
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad


def in_if(x):
    if (n := np.sum(x * x)) > 0.1:
        return n * 2.0 + x[0]
    return n


def in_elif(x, a):
    if a > 5.0:
        r = a
    elif (q := np.sum(x) * a) > 0.0:
        r = q * q
    else:
        r = -q * a
    return r + q


def in_assignment(x):
    y = (m := np.max(x)) * 2.0 + m
    return y + np.sum(x * m)


def in_for_iterable(x):
    acc = 0.0
    for v in (y := x * 2.0):
        acc = acc + v * y[0]
    return acc


def in_while(x, a):
    s = a
    k = 0
    while (r := s * s) < 4.0 and k < 20:
        s = s + 0.3 * np.tanh(r * x[k % 3])
        k += 1
    return s + r


def in_while_with_continue(x, a):
    s = a
    k = 0
    while (r := s * s) < 4.0 and k < 20:
        k += 1
        if k % 2 == 0:
            s = s + 0.1 * x[0]
            continue
        s = s + 0.3 * np.tanh(r * x[k % 3])
    return s + r


def in_while_else(x, a):
    s = a
    while (r := s + 1.0) < 3.0:
        s = s * 1.5 + np.sum(x) * 0.1
        if s > 100.0:
            break
    else:
        s = s + r
    return s


def in_while_else_with_a_sum(x, a):
    """A while ... else whose condition holds := around a sum over a comprehension: the else first becomes a flag,
    then the := moves out of the condition, and the sum with it (was declined: "sum over a comprehension inside a
    while condition", fuzz 828185)."""
    s = a
    k = 0
    while (r := s + 0.1 * np.tanh(sum(v * 0.25 for v in x))) < 3.0 and k < 10:
        s = s * 1.5 + np.sum(x) * 0.1
        k += 1
        if s > 100.0:
            break
    else:
        s = s + r
    return s


def continue_in_an_inner_loops_else(x, a):
    """The `continue` in an inner loop's else block continues the while loop: the condition's := must run again
    before the next iteration (it was taken for the inner loop's, the := assigned at the end of the body only, and
    the loop never ended: CUDA fuzz 830192, a hang)."""
    c = a
    k = 0
    while (r := c + 0.1 * np.tanh(x[0])) < 2.0:
        c = c + 0.75 + 0.25 * np.tanh(x[1] * c)
        k += 1
        for i in range(1, 1):
            c = c * 2.0
        else:
            if x[2] > -0.3:
                continue
        c = c + 5.0
    return r * c + k


def in_loop_branch(x, a):
    s = 0.0
    for i in range(3):
        if (t := x[i] * a) > 0.0:
            s = s + t * t
        else:
            s = s - t
    return s


def in_lambda(x):
    """A lambda is lifted to a function of its own first: its `:=` binds in it, as Python's does."""
    g = lambda v: (w := v * 2.0) + w * w
    return g(x[0]) + g(x[1])


X = np.array([0.4, -0.7, 1.1])
CASES = [(in_if, (X,)), (in_if, (X * 0.1,)), (in_elif, (X, 0.5)), (in_elif, (-X, 0.5)), (in_assignment, (X,)),
         (in_for_iterable, (X,)), (in_while, (X, 0.5)), (in_while_with_continue, (X, 0.5)), (in_while_else, (X, 0.5)),
         (in_loop_branch, (X, 0.5)), (in_lambda, (X,)), (in_while_else_with_a_sum, (X, 0.5)),
         (continue_in_an_inner_loops_else, (X, 0.5))]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f, args", CASES, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(CASES)])
def test_gradient_matches_differences(f, args, jit):
    check_grad(f, args, jit=jit)
    wrt = tuple(range(len(args)))
    value, _ = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*args)
    assert value == pytest.approx(f(*args), rel=1e-12)


@pytest.mark.parametrize("f, args", CASES[::2], ids=[f.__name__ for f, _ in CASES[::2]])
def test_jvp_matches_gradient(f, args):
    wrt = tuple(range(len(args)))
    t = tuple(np.cos(np.arange(np.size(a)) + 1.0).reshape(np.shape(a)) for a in args)
    t = tuple(float(v) if np.ndim(v) == 0 else v for v in t)
    g = srcdiff.grad(f, wrt=wrt)(*args)
    _, tangent = srcdiff.jvp(f, wrt=wrt)(*args, t)
    assert tangent == pytest.approx(sum(float(np.sum(gi * ti)) for gi, ti in zip(g, t)), rel=1e-9)


def test_while_condition_is_assigned_before_the_loop_and_at_the_end_of_the_body():
    """No `while True` and break flags where the body has no continue: the code a person would write."""
    g = srcdiff.grad(in_while, wrt=1)
    g(X, 0.5)
    src = srcdiff.source(g)
    forward = src.split("# backward sweep")[0]
    assert "while True" not in forward and "brk" not in forward, forward
    assert re.search(r"\n( +)r = s \* s\n", forward), forward
    assert re.search(r"\n +r\w* = s\w* \* s\w*\n(.|\n)*\n +while ", forward), forward


def and_operand(x):
    if x[0] > 0 and (n := x[1] * 2.0) > 0:
        return n
    return x[0]


def ifexp_branch(x):
    return (n := x[0]) if x[1] > 0 else (m := x[2] * 2.0) + m


def in_comprehension(x):
    return sum((w := v * 2.0) + w for v in x)


def in_filter_over_a_tuple(xs):
    return sum([t for v in xs if (t := v * v) > 0.1])


def read_before(x):
    n = 1.0
    return n + (n := x[0] * 2.0)


@pytest.mark.parametrize("f, what", [
    (and_operand, r"an assignment expression \(n := \.\.\.\) after the first operand of and/or"),
    (ifexp_branch, r"an assignment expression \(\w := \.\.\.\) in a branch of a conditional expression"),
    (read_before, r"`n` is read in this statement before the assignment expression \(n := \.\.\.\) binds it")])
@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_declined_at_the_users_line(f, what, make):
    args = (X,) if make is srcdiff.grad else (X, np.ones(3))
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_walrus\.py:\d+: " + what + r"(.|\n)*hint: assign the value "
                       r"on a line of its own"):
        make(f)(*args)


@pytest.mark.parametrize("f, args", [(in_comprehension, (X,)), (in_filter_over_a_tuple, ((0.5, -1.2, 2.0),))])
@pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
def test_in_a_comprehension_declined_saying_what_to_write(f, args, make):
    """`:=` in a comprehension (README: declined): its advice was to assign the value on a line of its own before the
    statement, which a comprehension's item cannot; over a tuple argument it was declined as 'a tuple/list argument
    used as a whole value'. Now, at the line, the comprehension of the values to write first."""
    tangent = (np.ones(3),) if isinstance(args[0], np.ndarray) else ((1.0, 1.0, 1.0),)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_walrus\.py:\d+: an assignment expression \(\w := \.\.\.\) in a "
                       r"comprehension is not supported") as info:
        make(f)(*(args + tangent if make is srcdiff.jvp else args))
    assert "in a comprehension of their own" in info.value.advice and " for v in x" in info.value.advice, \
        info.value.advice

