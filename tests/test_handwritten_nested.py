"""Hand-written programs (twenty-eighth session) differentiated twice: loops, branches, while, early return and break,
closures and helpers, in-place writes (an index list, a mask, slices), dicts updated in a loop, sort, cumsum, matrix
recurrences. Each second derivative srcdiff gives along v = (vx, va) — hvp (forward over reverse), the hessian's
blocks times v, reverse over reverse (the gradient of <grad f, v>) and reverse over jvp (the gradient of jvp's
directional derivative) — must equal central differences of the gradient along v, on both backends (all agreed when
written: a guard for regressions of nested modes over the constructs above)."""
import numpy as np
import pytest

import srcdiff

def f_loop_branch(x, a):
    s = 0.0
    for i in range(3):
        if a[i] * x > 0.1:
            s = s + np.sin(a[i] * x) * a[i]
        else:
            s = s + a[i] ** 2 * x
    return s * s


def f_closure(x, a):
    scale = np.tanh(x)

    def inner(u):
        return np.sum(np.exp(u * scale) * a)
    return inner(a) + inner(a * x)


def f_inplace(x, a):
    b = np.zeros(4)
    b[0] = x
    for t in range(3):
        b[t + 1] = b[t] * np.cos(a[t]) + a[t + 1] * x
    b[1:3] += a[:2] * b[0]
    return np.sum(b * b * a)


def f_dict(x, a):
    d = {"p": a * x, "q": np.sin(a)}
    d["p"] = d["p"] + d["q"] * x
    tot = 0.0
    for k in d:
        tot = tot + np.sum(d[k] ** 3)
    return tot


def f_while(x, a):
    y = x
    k = 0
    while k < 4:
        y = y * np.cos(a[k]) + np.tanh(y) * a[k]
        k += 1
    return y * np.sum(a)


def f_listwrite(x, a):
    b = a * x
    b[[0, 3]] = np.exp(a[[1, 2]]) * x
    return np.sum(np.tanh(b) * a)


def f_matrix(x, a):
    M = np.outer(a, a) + np.eye(4) * x
    v = M @ a
    return np.sum(v * v) / (1.0 + x * x)


def f_early(x, a):
    if x > 5.0:
        return x
    acc = a * 0.0
    for i in range(4):
        acc[i] = np.log1p(a[i] ** 2) * x
        if acc[i] > 2.0:
            break
    return np.sum(acc * acc)


def f_maxmin(x, a):
    m = np.max(a * x)
    return np.sum(np.exp(a * x - m)) + np.maximum(x, a[0]) * np.minimum(x, a[1])


def f_tuple(x, a):
    def split(u):
        return u[:2], u[2:]
    p, q = split(a * x)
    return np.sum(p * q) + np.sum(np.sin(p) ** 2)


def f_helper_loop(x, a):
    def step(s, w):
        return s + 0.5 * np.tanh(s * w)
    s = x
    for w in a:
        s = step(s, w)
    return s * s


def f_cumsum(x, a):
    c = np.cumsum(a * x)
    return np.sum(c * c) + np.prod(np.cos(a) + 2.0) * x


FUNCTIONS = [f_loop_branch, f_closure, f_inplace, f_dict, f_while, f_listwrite, f_matrix, f_early, f_maxmin, f_tuple,
         f_helper_loop, f_cumsum]


def f_where_loop(x, a):
    y = a * x
    for i in range(3):
        y = np.where(y > 0.2, np.sin(y) * a, y * y + x)
    return np.sum(y)


def f_dict_loop(x, a):
    st = {"h": a * 0.0 + x, "c": 0.0}
    for t in range(3):
        st["h"] = np.tanh(st["h"] * a[t] + x)
        st["c"] = st["c"] + np.sum(st["h"] ** 2)
    return st["c"] * st["h"][1]


def f_sort_like(x, a):
    b = np.sort(a * x + a ** 2)
    return np.sum(b * np.arange(1.0, 5.0)) ** 2


def f_recurrence_matrix(x, a):
    W = np.array([[0.5, -0.3], [0.2, 0.4]]) * x
    h = a[:2]
    for t in range(4):
        h = np.tanh(W @ h + a[2:] * t)
    return np.sum(h * h)


def f_fancy_read(x, a):
    idx = np.array([3, 0, 0, 2])
    b = a[idx] * x
    c = np.zeros(4)
    c[1:] = np.cumsum(b)[:3]
    return np.sum(c * b) + np.sum(np.abs(a) ** 1.5)


def f_mask(x, a):
    b = a * x
    b[b < 0.0] = 0.1 * b[b < 0.0]
    return np.sum(b ** 3)


def f_power_loop(x, a):
    p = 1.0
    for k in range(1, 4):
        p = p * (x + a[k]) ** k
    return p


FUNCTIONS += [f_where_loop, f_dict_loop, f_sort_like, f_recurrence_matrix, f_fancy_read, f_mask, f_power_loop]


X, A = 0.37, np.array([0.5, -0.8, 1.2, 0.3])
VX, VA = 0.6, np.array([0.2, -0.5, 0.9, 0.4])


def _flat(g):
    return np.concatenate([np.ravel(np.asarray(t, dtype=float)) for t in g])


def _by_differences(f, h=1e-5):
    g = srcdiff.grad(f, wrt=(0, 1), jit=False)
    return (_flat(g(X + h * VX, A + h * VA)) - _flat(g(X - h * VX, A - h * VA))) / (2 * h)


# (under Numba: the programs whose four nested modes were run there when written, each compile taking minutes on
# the session's loaded machine; the others run on the Python backend)
JIT_RUN = {"f_loop_branch", "f_closure", "f_inplace", "f_dict", "f_while", "f_listwrite", "f_early", "f_maxmin"}
CASES = [(f, False) for f in FUNCTIONS] + [(f, True) for f in FUNCTIONS if f.__name__ in JIT_RUN]


@pytest.mark.parametrize("f, jit", CASES, ids=lambda c: c.__name__ if callable(c) else ("jit" if c else "py"))
def test_second_derivatives_match_differences_of_the_gradient(f, jit):
    want = _by_differences(f)
    got = {"hvp": _flat(srcdiff.hvp(f, wrt=(0, 1), jit=jit)(X, A, (VX, VA)))}
    H = srcdiff.hessian(f, wrt=(0, 1), jit=jit)(X, A)
    got["hessian"] = np.concatenate([np.ravel(H[0][0] * VX + H[0][1] @ VA), np.ravel(H[1][0] * VX + H[1][1] @ VA)])
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit)

    def along(x, a):
        gx, ga = g(x, a)
        return gx * VX + np.sum(ga * VA)
    got["reverse over reverse"] = _flat(srcdiff.grad(along, wrt=(0, 1), jit=jit)(X, A))
    jv = srcdiff.jvp(f, wrt=(0, 1), jit=jit)

    def directional(x, a):
        v, d = jv(x, a, (VX, VA))
        return d
    got["reverse over jvp"] = _flat(srcdiff.grad(directional, wrt=(0, 1), jit=jit)(X, A))
    for mode, v in got.items():
        np.testing.assert_allclose(v, want, rtol=1e-5, atol=1e-6, err_msg=f"{f.__name__}: {mode}")
