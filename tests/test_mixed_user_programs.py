"""Programs written by hand the way users write them, each combining several of README's constructs (loops with
branches and in-place writes, while loops with break and else, closures and factories, helpers returning tuples and
dicts, lists built with appends and popped, comprehension sums, swaps, `:=`, lambdas bound again, dict arguments,
index arrays written with repeats). Each is checked against central differences (grad, Python backend), Python
against Numba (jit=True), and forward mode against reverse (jvp == vdot(grad, t)). 59 such programs were written
in session h23a; the three forms they found declined were loops over zip/enumerate of tuple literals
(tests/test_zipped_literals.py, now run), a list both popped and converted with np.array, and a named list
comprehension iterated or passed to np.max (`vals = [...]` ... `for v in vals`); the last two are declined at the
user's line with advice (the README's list of a named comprehension's reads does not include iteration; that a list
may not be both popped and converted is not in its Declined list: left to the lead). These are a representative
sample of the rest, which passed.
"""
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad


def bounce(x, v, k):
    p = np.array([x, 0.5 * x, -x])
    vel = v.copy()
    for t in range(6):
        p = p + 0.1 * vel
        hit = p < -0.2
        if np.any(hit):
            vel[hit] *= -k
            p[hit] = -0.2
        vel[1] = vel[1] - 0.1 * p[0]
    return np.sum(p * p) + np.sum(vel)


def make_poly(coef):
    def poly(t):
        s = 0.0
        for i, c in enumerate(coef):
            s = s + c * t ** i
        return s
    return poly


def closure_in_a_loop(x, coef):
    p = make_poly(coef)
    acc = 0.0
    for j in range(4):
        acc += p(x + 0.1 * j)
    return acc


def stats(v):
    m = np.mean(v)
    return m, np.sum((v - m) ** 2)


def layer(W, b, h):
    z = W @ h + b
    return {"z": z, "h": np.tanh(z)}


def helpers_returning_a_tuple_and_a_dict(W, b, x):
    tot = 0.0
    for i in range(3):
        m, ss = stats(x * (i + 1.0))
        tot = tot + m * ss
    out = layer(W, b, x)
    return tot + np.sum(layer(W, b, out["h"])["h"] ** 2) + 0.1 * np.sum(out["z"])


def stack_with_pops(a, x):
    st = []
    for v in a:
        if v > 0:
            st.append(v * x)
        elif len(st) > 0:
            st.pop()
    s = 0.0
    while len(st) > 0:
        s = s + st.pop() ** 2
    return s + x


def while_with_break_and_else(a, x):
    k = 0
    s = x
    while k < len(a):
        s = s * np.cos(a[k]) + 0.1
        if s > 2.0:
            break
        k += 1
    else:
        s = s - x * x
    return s


def swaps_and_walrus(x, a):
    u, w = x, a[0]
    for i in range(5):
        u, w = w, u + 0.5 * w * np.tanh(u)
    k = 0
    while (n := np.sum(a * a) * x) < 10.0 and k < 20:
        a = a * 1.3
        k += 1
    return u * w + n


def lambda_bound_again(x, a):
    f = lambda t: t * t
    s = 0.0
    for i in range(3):
        s += f(a[i] * x)
        f = lambda t, i=i: np.sin(t) * (i + 1)
    return s + f(x)


def repeated_index_writes_and_masks(x, a):
    out = np.zeros(4)
    idx = np.array([0, 2, 2, 3, 0])
    out[idx] += a * x
    p = out.copy()
    p[p > 0] *= 0.5
    return np.sum(out ** 2) + np.sum(p ** 3)


def comprehension_sums(a, x):
    s = sum(u * v * x for u in a for v in a if u > v)
    t = sum([np.exp(-u * x) for u in a], 0.5)
    return s + t + max(u * x for u in a)


CASES = [
    (bounce, (0.3, np.array([0.5, -1.0, -0.8]), 0.8)),
    (closure_in_a_loop, (0.4, np.array([0.5, -0.3, 0.2]))),
    (helpers_returning_a_tuple_and_a_dict, (np.array([[0.5, -0.2, 0.3], [0.1, 0.4, -0.6], [0.3, 0.3, 0.2]]),
                                            np.array([0.1, -0.3, 0.2]), np.array([0.4, -0.1, 0.6]))),
    (stack_with_pops, (np.array([0.3, -0.6, 1.1, 0.45, -0.2, -0.3, 0.8]), 0.7)),
    (while_with_break_and_else, (np.array([0.3, -0.6, 1.1, 0.45]), 0.9)),
    (swaps_and_walrus, (0.5, np.array([0.3, 0.9]))),
    (lambda_bound_again, (0.5, np.array([0.3, -0.6, 1.1, 0.45]))),
    (repeated_index_writes_and_masks, (0.7, np.array([0.3, -0.6, 1.1, 0.45, 0.2]))),
    (comprehension_sums, (np.array([0.3, -0.6, 1.1, 0.45]), 0.7)),
]


@pytest.mark.parametrize("f, args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_mixed_program(f, args):
    wrt = tuple(range(len(args)))
    got = srcdiff.grad(f, wrt=wrt)(*args)
    for k in wrt:
        np.testing.assert_allclose(got[k], numerical_grad(f, args, k), rtol=1e-5, atol=1e-7)
    jitted = srcdiff.grad(f, wrt=wrt, jit=True)(*args)
    for g, j in zip(got, jitted):
        np.testing.assert_allclose(j, g, rtol=1e-10, atol=1e-12)
    t = tuple(np.random.default_rng(5).normal(size=np.shape(a)) if np.ndim(a) else 0.7 for a in args)
    value, d = srcdiff.jvp(f, wrt=wrt)(*args, t)
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert d == pytest.approx(sum(np.vdot(g, v) for g, v in zip(got, t)), rel=1e-8, abs=1e-10)
