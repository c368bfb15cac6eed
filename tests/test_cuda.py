"""srcdiff.cuda: per-example gradient kernels, checked with and without a GPU.

Each kernel runs on numba's CUDA simulator (in a subprocess: NUMBA_ENABLE_CUDASIM must be set before
numba is imported) against the CPU gradient (srcdiff.grad(..., jit=False) per example), and is
compiled to sm_90 PTX in this process (numba-cuda's NVVM needs no GPU). Where numba sees a real GPU,
the same cases also run on it (a second subprocess, `--gpu`) with a batch of several thread blocks."""
import re
import os
import sys

if __name__ == "__main__" and "--sim" in sys.argv:      # the simulator subprocess
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402

import numpy as np  # noqa: E402

import srcdiff  # noqa: E402
import math  # noqa: E402
from scipy.special import erfc, expit, log_expit, logsumexp, ndtr, xlog1py, xlogy  # noqa: E402

B = 1000 if __name__ == "__main__" and "--gpu" in sys.argv else 8     # on a GPU: 8 blocks of 128 threads


# ---- user functions ------------------------------------------------------------------------------------
def recurrence(a, b, n):
    """Per-thread recurrence with in-place writes to a small local array."""
    y = np.zeros(3)
    y[0] = 1.0
    s = 0.0
    for i in range(n):
        y[1] = y[0] * a
        y[2] = np.sin(y[1]) + b * y[2]
        y[0] = 0.5 * y[2] + 0.1
        s = s + y[0] ** 2
    return s


def ode(a, b, x0, n):
    """Explicit Euler for x' = -a x + b sin(x) with a per-example step count."""
    x = x0
    dt = 0.05
    for i in range(n):
        x = x + dt * (-a * x + b * np.sin(x))
    return x * x


def logistic_ll(w, x, y):
    z = np.dot(x, w)
    return y * z - np.log1p(np.exp(z))


def branch(a, b):
    if a > b:
        r = a * a * b
    else:
        r = np.exp(b) - a
    return r


def damped(a, n):
    x = a
    k = 0
    while k < n:
        x = np.sin(x) * a
        k += 1
    return x


def square(x):
    return x * x


def with_helper(a, b):
    return square(a) * b + np.tanh(b)


def layer(W, x):
    h = np.tanh(W @ x)
    return np.sum(h * h) + np.sum(W[1] * x)


def outer_features(x, w):
    """np.outer: its adjoints are products (rt.dot) in the generated code."""
    return np.sum(np.sin(np.outer(x, w)))


def sized_by_argument(a, n):
    z = np.zeros(n)
    z[0] = a
    return np.sum(z) * a


def trip_expr(a, n):
    """Trip count computed from an argument inside the function (SSA: n1 = 2 * n; n2 = n1 + 1)."""
    s = 0.0
    for i in range(2 * n + 1):
        s = s + np.sin(a * i) * a
    return s


def trip_from_data(a, x):
    """Trip count read out of an array argument: unknown on the host."""
    s = a
    for i in range(int(x[0])):
        s = np.sin(s) * a
    return s


def reductions(x, a):
    """Whole-array max / min / prod / logsumexp: their adjoints on the device."""
    y = x * a
    return np.max(y) - np.min(y) + np.prod(y) + logsumexp(y)


def sigmoid(a, b):
    return expit(a * b) * b + expit(-a * b)


def more_elementwise(a, b):
    """The log/exp bases, inverse hyperbolics, two-argument functions, sinc and special functions on the device."""
    s = np.log2(a) + np.log10(b) + np.exp2(a) + np.arcsinh(a) + np.arccosh(1.5 + b) + np.arctanh(0.5 * a)
    s = s + np.reciprocal(b) + np.cbrt(a - 0.5) + np.deg2rad(a) + np.rad2deg(b) + np.arctan2(a, b) + np.hypot(a, b)
    s = s + np.logaddexp(a, b) + np.logaddexp2(a, b) + erfc(a) + ndtr(b) + log_expit(a - b)
    s = s + (a + 2.0) % b + np.fmod(a + 1.0, b) + np.mod(-a, b)
    return s + xlogy(a, b) + xlog1py(b, a) + np.power(a, b) + math.log(b, 2.0) + np.sinc(a - 2.0 * b)


def branchy_loop(a, b):
    """A branch inside a loop (its condition is taped) calling a helper."""
    s = 0.0
    for i in range(3):
        if s < 0.5:
            s = s + square(a * i + b)
        else:
            s = s * b
    return s


def per_example_dot(w, x):
    """What a per-example function writes first: loops over x.shape[0] and len(w) (issue 20: the shapes are
    folded in as constants when the kernel is specialised)."""
    s = 0.0
    for j in range(x.shape[0]):
        s += w[j] * x[j]
    t = 0.0
    for j in range(len(w)):
        t += np.sin(w[j] * x[j])
    return s * s + t * x.shape[-1]


def write_at_index_array(a, w, idx):
    """b[idx] = v with an index array: declined on the device (test_fancy_write_declined_with_advice)."""
    b = w * 1.0
    b[idx] = a * w
    return np.sum(b * b)


def write_index_by_index(a, w, idx):
    """What that decline advises: the same writes one element at a time (idx names an element twice: the
    later write wins, as with b[idx] = v)."""
    b = w * 1.0
    for k in range(len(idx)):
        b[idx[k]] = a * w[k]
    return np.sum(b * np.sin(b))


def named_like_a_tape(a, b):
    """A user array whose name ends in _tape, as reverse mode's tapes do: an array like any other (the
    lowering takes the tapes reverse mode recorded, not names)."""
    y_tape = np.empty(3)
    y_tape[0] = a * b
    y_tape[1] = np.sin(a)
    y_tape[2] = b
    return np.sum(y_tape * y_tape) + y_tape[1] * b


def calls_a_gradient(a, b):
    """Calls a generated gradient (with tapes): forward mode over it is a module holding code generated
    for another module, whose tapes the lowering recognises by name (cuda._tapes)."""
    return _GRAD_ODE(a, b, 0.7, 3) * b


_GRAD_ODE = srcdiff.grad(ode, wrt=0)


def calls_named_like_a_tape(a, b):
    """Calls a generated gradient holding a user array named like a tape (y_tape): in forward mode over it
    (code generated for another module) that array is still an array, since the lowering reads the tapes
    reverse mode recorded (module_builder.Module.tapes), not names."""
    return _GRAD_NAMED(a, b) * b


_GRAD_NAMED = srcdiff.grad(named_like_a_tape, wrt=0)


def three_ways(a, b):
    """if / elif / else: the `elif` line follows the comments above it as an `if` does."""
    if a > b:
        r = a * b
    elif a < 0.5 * b:
        r = np.exp(a)
    else:
        r = square(a - b)
    return r


def early_return_guard(x, a, s):
    """An early return and an `if` without `else`: the generated gradient's `if not cond:` guard has no `else`,
    which the lowering once filled with a `pass` it could not place (fuzz seed 11, an internal AttributeError
    reported as a decline)."""
    if s > 0.5:
        return x * s
    t = x * a[0]
    if t > 0.3:
        t = t * s
    return t + s


def early_return_then_loop(x, a, flag):
    """A loop's tapes after an early return: reverse mode binds them to None before the branch (fuzz seed 5:
    declined as 'constant None')."""
    if flag:
        return 0.25
    s = x
    for i in range(3):
        s = np.sin(s) * a[i]
    return s


def early_return_slice(x, a):
    """Values bound only on the path of an early return: the gradient binds them first to placeholders of their
    rank (`result2 = np.zeros((1,))`, transforms/unbound.py), which on the device take the shape of the real
    binding (fuzz seed 772001: declined as 'result2 changes shape ((1,) -> (4,))')."""
    if x > 0.5:
        return np.sum(np.tanh(a)[::-1] * a)
    t = x * a[1:]
    return np.sum(t * t)


def early_return_matrix(x, M):
    """As early_return_slice, with a matrix bound after the early return (declined as 'u1 changes shape')."""
    if x < 0.3:
        return x * np.sum(M)
    u = np.cos(M[:, 1:] * x)
    return np.sum(u * M[:, :2])


def sum_of_arrays(x, a, n):
    """A sum(...) of arrays over a comprehension: where it runs no iteration its value is zeros of the terms' rank
    (SUM_EMPTY), an array of the terms' shape on the device, where the kernel reports an example with n = 0 (fuzz
    seed 772037: jvp declined as 'prev5_sum11 changes shape ((3,) -> (1,))')."""
    s = sum(a * (x + 0.5 * i) for i in range(n))
    return np.sum(np.sin(s))


def array_loop_state(x, a, n):
    """An array carried through a loop: reverse mode saves it each iteration (a stack of arrays), a local array of
    one row per iteration on the device (fuzz: declined as 'array values saved across loop iterations')."""
    h = a * x
    for i in range(n):
        h = np.tanh(h * a + x)
    return np.sum(h * h)


def stepped_ranges(x, a):
    """Loops over ranges with a step, one reversed: their backward loops count the iterations with
    `len(range(0, 3, 2))` (fuzz seeds 772018, 772039: declined as 'the call range(...)')."""
    s = x
    for i in range(0, 3, 2):
        s = s + np.sin(a[i] * s)
    for j in reversed(range(2, -1, -1)):
        s = s * 0.5 + a[j] * np.cos(s)
    return s


def stepped_range_n(x, a, n):
    """range(0, n, 2): the host sizes its tape from the largest n of the batch (a range with a step had no trip
    count there: vmap asked for max_trip=), and its backward loop's `len(range(0, n, 2))` is
    `max((n - 0 + 1) // 2, 0)` on the device."""
    s = x
    for i in range(0, n, 2):
        s = np.sin(s * a[i])
    return s


def printing(x, a):
    """print of text, a number and a small array: each thread prints its example's line, the array element by
    element (fuzz feature printassert: declined as 'unsupported statement print(...)')."""
    s = np.sin(a * x)
    print("s =", s, "x =", x)
    return np.sum(s * s)


def printing_too_much(x, M):
    """print of 36 values: more than CUDA's printf takes."""
    print("M =", M)
    return np.sum(M) * x


def zeros_after_return(x, a):
    """np.zeros of a literal shape after an early return: the generated code names its sizes in the branch
    (`z1_at0 = 2`), which the host now reads there too (fuzz seeds 772174, 772355: declined as 'an array whose
    size ((z1_at0, z1_at1)) is not fixed')."""
    if x > 0.7:
        return x * np.sum(a)
    z = np.zeros((2, 3))
    z[0] = a * x
    z[1, 1:] = np.sin(a[:2] * x)
    return np.sum(z * z)


def swap_buffers(x, a, M):
    """Two buffers swapped and written in place in a loop: the gradient saves one each iteration and the in-place
    writes after it change the array its list holds, which the backward sweep reads; the device's stack holds a
    copy (fuzz seed 772284: hvp wrong before vmap declined it)."""
    buf1 = np.copy(M)
    buf4 = M.copy()
    for i in range(2):
        buf1, buf4 = buf4, 0.5 * buf1 + 0.5 * np.tanh(buf4 * x)
        buf1[0, 1] = buf1[0, 1] * 1.1 + 0.1 * np.tanh(np.sum(a))
        buf4, buf1 = buf1, buf4
        buf4[0, i] = buf4[0, i] * 1.1 + 0.1 * np.tanh(x)
    return x + np.sum(buf1) + np.sum(buf4)


def rebound_shape(x, a):
    """`a.shape[0]` of a parameter the function rebinds: the host cannot fold it, but a name has one shape on the
    device (fuzz seeds 772217, 772233: declined as 'attribute .shape')."""
    for k in range(2):
        n = a.shape[0]
        s = 0.0
        for i in range(n):
            s = s + a[i] * x
        a = 0.5 * a + np.tanh(a * s)
    return np.sum(a)


def literal_shapes(x, a):
    """np.zeros of a literal tuple: the generated code names the shape (`z1 = (2, 3)`, or one name per
    dimension), which the lowering once could not size (fuzz seed 3: 'an array whose size (z1) is not fixed')."""
    z = np.zeros((2, 3))
    z[0] = a * x
    z[1, 1:] = np.sin(a[:2] * x)
    return np.sum(z * z)


def write_through_slice(x, a):
    """A write through a view (c is b[1:]) and a read of b after it: NumPy sees the write in b, the device's
    copy would not; forward mode follows views on the CPU, so vmap of its jvp must decline."""
    b = a * 1.0
    c = b[1:]
    c[0] = x * x
    return np.sum(b * b) + x


def write_through_transpose(x, M):
    W = M * 1.0
    T = W.T
    T[0, 1] = x * x
    return np.sum(W * M)


def view_read_before_write(x, a):
    """Views read only before the write, or made again after it: device copies give NumPy's result."""
    b = a * x
    c = b[::-1]
    s = np.sum(c * a)
    b[0] = s
    c = b[::-1]
    return np.sum(c * c) + s


def negative_computed_index(x, a, M):
    """Computed indices that are negative in some iterations (`a[i - 1]` at i = 0): Python counts them from the
    end; the device read the flat buffer before the array (or another row of M), a wrong gradient."""
    s = 0.0
    for i in range(3):
        s += a[i - 1] * x ** i + M[i - 2, 1] * M[1, i - 2]
    return s * s


def recursive_helper(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(recursive_helper(u, depth - 1)) - 0.5 * u


def calls_recursive_helper(x, a, n):
    return recursive_helper(a[2] * x, n) * x


def recursive_on_arrays(x, n):
    return x if n == 0 else np.sin(recursive_on_arrays(x, n - 1))


def sums_recursive_on_arrays(x):
    return np.sum(recursive_on_arrays(x, 3))


def unread_recursive_call(x, a, n):
    if a[1] > 0.5:
        m = recursive_helper(np.min(a), n) * np.ones(2)     # m: read nowhere
    return x * x + np.sum(a)


def prints_at_the_bottom(u, depth):
    if depth <= 0:
        print("bottom", u)
        return u
    return prints_at_the_bottom(u, depth - 1)


def calls_for_its_print(x, n):
    prints_at_the_bottom(x, n)
    return x * x


def newaxes(x, a, M):
    """x[:, None] and friends (rt.expand_dims in the generated code): declined before ('the call
    rt.expand_dims(...)', the fourth most common decline of the CUDA fuzz oracle's device programs)."""
    o = a[:, None] * a[None, :]
    p = M[:, None, :] * M[None, :, :]
    q = (a * x)[None, :, None] + M[:, :, None]
    return np.sum(o * x) + np.sum(np.tanh(p) * x) + np.sum(q * q) + np.sum(M * a[None, :] * x)


def carried_prev(x, a):
    """prev is first bound in the loop body and read in the next iteration: forward mode binds its tangent to None
    before the loop (fuzz seed 6: declined as 'constant None'); the device gives it a zero no path reads."""
    for i in range(3):
        if i > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev)
        prev = math.cos(x * a[i])
    return x * prev


def asserts(x, a):
    """`assert x is not None` (fuzz: 'constant None') and an assert on data: a failing assert makes the kernel
    report status 2, and the host raises SrcdiffError."""
    assert x is not None, "lost x"
    s = np.sum(a * x)
    assert s < 100.0, "too big"
    return s * s


def tuple_argument(xa, M):
    """A tuple (or list) argument, unpacked and indexed: one kernel argument per element (fuzz: 'tupleargs')."""
    x, a = xa
    return x * np.sum(a * M[0]) + xa[1][0] ** 2 + np.sin(xa[0])


def nested_tuple_argument(p, w):
    """A nested tuple argument (s, (u, v)), with in_axes nested as deep as the argument."""
    s, uv = p
    u, v = uv
    return s * np.dot(u, w) + np.sum(v * v) * s


def array_literals(x, a):
    """np.array of numbers, and of arrays of one shape, built on the device: a local array filled element by
    element (fuzz: np.array / rt.array of scalars)."""
    v = np.array([a[1], x, x * a[0]])
    w = np.array((2.0, -1.2, 0.5))
    return np.sum(v * w) + np.dot(np.array([x, a[2]]), a[:2]) + np.sum(np.array([a, a * x]) ** 2)


def finite_tests(x, a):
    """np.isfinite / math.isfinite / np.isnan / np.isinf and np.all / np.any of them on the device (fuzz:
    `assert np.all(np.isfinite(M))`)."""
    assert np.all(np.isfinite(a))
    ok = np.isfinite(a * x)
    s = 0.0
    if math.isfinite(x) and not np.isnan(x) and np.any(np.logical_and(a > 0.0, ok)):
        s = x * np.sum(a)
    if np.isinf(x) or np.all(np.logical_not(a > 0.3)):
        s = s + x * x
    return s + np.sum(np.where(np.isfinite(a), a * a, 0.0))


def axis_reductions(x, M):
    """max / min / prod / logsumexp along an axis (keepdims too) and their adjoints: loops along the axis."""
    a = np.max(M * x, axis=1)
    b = np.min(M, axis=0, keepdims=True)
    c = np.prod(M + x, axis=1)
    d = logsumexp(M * x, axis=0)
    e = np.mean(M - np.max(M, axis=1, keepdims=True), axis=1)
    log_p = M - logsumexp(M, axis=1, keepdims=True)
    return np.sum(a * c) + np.sum(b * b) + np.sum(d ** 2) + np.sum(e * x) + np.sum(np.exp(log_p) * x)


def axis_logsumexp(x, M):
    """logsumexp and max along an axis, differentiated twice (hvp)."""
    return np.sum(logsumexp(M * x, axis=1) ** 2) + np.sum(np.max(M, axis=0) * x)


def nan_where(x, a, M):
    """np.nan in a where: the constant is `math.nan` in the kernel (its repr, `nan`, named nothing there: a NameError
    on the simulator; CUDA fuzz seed 797107)."""
    return np.nansum(np.where(np.sum(M, axis=0) > 1.0, np.nan, a * x)) + x * np.sum(a * a)


def hmm_forward(log_A, log_alpha, n):
    """The HMM forward recursion: srcdiff computes the loop's logsumexp as a log-domain product (rt.exp_shifted;
    reverse mode on the device: tests/test_cuda_logdomain.py)."""
    for t in range(n):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0)
    return logsumexp(log_alpha)


# The user's own None, tested later: device values are never None, so vmap declines them (the CPU computes
# them: tests/test_unbound.py, where these two programs live)
from test_unbound import none_until_first_iteration, none_until_set  # noqa: E402


def _data():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 0.9, B), rng.uniform(0.1, 0.9, B)
    X, y = rng.normal(size=(B, 5)), rng.integers(0, 2, B).astype(float)
    w = rng.normal(size=5)
    Xr = X.copy()
    Xr[0, 3] = Xr[0, 1]            # a tied maximum / minimum
    Xr[1, 2] = 0.0                 # a zero in the product
    Xr[2] = 1.0                    # all tied
    M = np.linspace(-0.5, 0.7, 6).reshape(2, 3)
    Ms = np.linspace(-0.5, 0.7, 6 * B).reshape(B, 2, 3)
    Mt = np.random.default_rng(1).normal(size=(B, 2, 3))
    Mt[0, 1, 2] = Mt[0, 1, 0]          # a tied maximum along axis 1
    Mt[1, 0, :] = 0.7                  # all tied
    return {
        "recurrence": (srcdiff.grad(recurrence, wrt=(0, 1)), (0, 0, None), (a, b, 6), {}),
        "ode": (srcdiff.value_and_grad(ode, wrt=(0, 1, 2)), (0, 0, 0, 0),
                (a, b, rng.uniform(0.5, 1.5, B), rng.integers(1, 9, B)), {}),
        "logistic": (srcdiff.grad(logistic_ll, wrt=0), (None, 0, 0), (w, X, y), {}),
        "logistic_value": (srcdiff.value_and_grad(logistic_ll, wrt=(0, 1)), (None, 0, 0), (w, X, y), {}),
        "logistic_sum": (srcdiff.grad(logistic_ll, wrt=0), (None, 0, 0), (w, X, y), {"batch_sum": True}),
        "branch": (srcdiff.grad(branch, wrt=(0, 1)), (0, 0), (a, b), {}),
        "branch_sum": (srcdiff.grad(branch, wrt=(0, 1)), (0, 0), (a, b), {"batch_sum": True}),
        "while": (srcdiff.grad(damped, wrt=0), (0, None), (a, 5), {"max_trip": 8}),
        "helper": (srcdiff.grad(with_helper, wrt=(0, 1)), (0, 0), (a, b), {}),
        "layer": (srcdiff.grad(layer, wrt=(0, 1)), (None, 0), (rng.normal(size=(3, 5)), X), {}),
        "outer": (srcdiff.grad(outer_features, wrt=(0, 1)), (0, None), (X, rng.normal(size=3)), {}),
        "trip_expr": (srcdiff.grad(trip_expr), (0, 0), (a, rng.integers(0, 4, B)), {}),
        # forward mode: (*args, tangent) -> (value, directional derivative); hvp: forward over reverse
        "jvp": (srcdiff.jvp(logistic_ll, wrt=0), (None, 0, 0, 0), (w, X, y, X[::-1].copy()), {}),
        "jvp_tuple": (srcdiff.jvp(logistic_ll, wrt=(0, 1)), (None, 0, 0, (None, 0)), (w, X, y, (w, X)), {}),
        "jvp_while": (srcdiff.jvp(damped), (0, None, 0), (a, 5, b), {"max_trip": 8}),
        "hvp": (srcdiff.hvp(logistic_ll, wrt=0), (None, 0, 0, 0), (w, X, y, X[::-1].copy()), {}),
        "hvp_sum": (srcdiff.hvp(logistic_ll, wrt=0), (None, 0, 0, None), (w, X, y, w), {"batch_sum": True}),
        "hvp_tape": (srcdiff.hvp(recurrence, wrt=(0, 1)), (0, 0, None, None), (a, b, 4, (1.0, -0.5)), {}),
        "hvp_branch_loop": (srcdiff.hvp(branchy_loop, wrt=(0, 1)), (0, 0, 0), (a, b, (b, a)), {}),
        "reductions": (srcdiff.grad(reductions, wrt=(0, 1)), (0, 0), (Xr, a), {}),
        "sigmoid": (srcdiff.grad(sigmoid, wrt=(0, 1)), (0, 0), (a * 40.0, -b * 40.0), {}),   # exp(-a*b) overflows
        "more_elementwise": (srcdiff.grad(more_elementwise, wrt=(0, 1)), (0, 0), (a, b), {}),
        "more_elementwise_jvp": (srcdiff.jvp(more_elementwise, wrt=(0, 1)), (0, 0, (0, 0)), (a, b, (b, a)), {}),
        "shape_loop": (srcdiff.grad(per_example_dot, wrt=(0, 1)), (None, 0), (w, X), {}),
        "shape_loop_jvp": (srcdiff.jvp(per_example_dot, wrt=1), (None, 0, 0), (w, X, X[::-1].copy()), {}),
        "shape_loop_hvp": (srcdiff.hvp(per_example_dot, wrt=0), (None, 0, None), (w, X, w), {}),
        "index_by_index": (srcdiff.grad(write_index_by_index, wrt=(0, 1)), (0, 0, None),
                           (a, X[:, :3].copy(), np.array([2, 0, 2])), {}),
        "named_like_a_tape": (srcdiff.grad(named_like_a_tape, wrt=(0, 1)), (0, 0), (a, b), {}),
        "jvp_calls_a_gradient": (srcdiff.jvp(calls_a_gradient, wrt=0), (0, 0, 0), (a, b, b), {}),
        "named_like_a_tape_hvp": (srcdiff.hvp(named_like_a_tape, wrt=(0, 1)), (0, 0, (0, 0)), (a, b, (b, a)), {}),
        "jvp_calls_named_like_a_tape": (srcdiff.jvp(calls_named_like_a_tape, wrt=0), (0, 0, 0), (a, b, b), {}),
        # found by the CUDA fuzz oracle (tests/fuzz_cuda.py)
        "early_return_guard": (srcdiff.grad(early_return_guard, wrt=(0, 1, 2)), (0, 0, 0), (a, X[:, :3], b), {}),
        "early_return_guard_jvp": (srcdiff.jvp(early_return_guard, wrt=(0, 2)), (0, 0, 0, (0, 0)),
                                   (a, X[:, :3], b, (b, a)), {}),
        "early_return_then_loop": (srcdiff.grad(early_return_then_loop, wrt=(0, 1)), (0, 0, 0),
                                   (a, X[:, :3], np.arange(B) % 3 == 0), {}),
        "early_return_slice": (srcdiff.grad(early_return_slice, wrt=(0, 1)), (0, 0), (a, X[:, :4]), {}),
        "early_return_slice_value": (srcdiff.value_and_grad(early_return_slice, wrt=(0, 1)), (0, None), (a, w[:4]),
                                     {}),
        "early_return_matrix": (srcdiff.grad(early_return_matrix, wrt=(0, 1)), (0, 0), (a, Mt), {}),
        "early_return_matrix_sum": (srcdiff.grad(early_return_matrix, wrt=(0, 1)), (0, 0), (a, Mt),
                                    {"batch_sum": True}),
        "sum_of_arrays_jvp": (srcdiff.jvp(sum_of_arrays, wrt=(0, 1)), (0, 0, 0, (0, 0)),
                              (a, X[:, :3], np.arange(B) % 3 + 1, (b, X[:, 1:4].copy())), {}),
        "sum_of_arrays_jvp_sum": (srcdiff.jvp(sum_of_arrays, wrt=(0, 1)), (0, 0, 0, (0, None)),
                                  (a, X[:, :3], np.arange(B) % 3 + 1, (b, w[:3])), {"batch_sum": True}),
        "array_loop_state": (srcdiff.grad(array_loop_state, wrt=(0, 1)), (0, 0, 0),
                             (a, X[:, :3], np.arange(B) % 4), {}),
        "array_loop_state_value": (srcdiff.value_and_grad(array_loop_state, wrt=(0, 1)), (0, None, None),
                                   (a, w[:3], 3), {}),
        "array_loop_state_hvp": (srcdiff.hvp(array_loop_state, wrt=(0, 1)), (0, 0, 0, (0, 0)),
                                 (a, X[:, :3], np.arange(B) % 4, (b, X[:, 1:4].copy())), {}),
        "stepped_ranges": (srcdiff.grad(stepped_ranges, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {"max_trip": 4}),
        "stepped_ranges_jvp": (srcdiff.jvp(stepped_ranges, wrt=(0, 1)), (0, 0, (0, 0)),
                               (a, X[:, :3], (b, X[:, 1:4].copy())), {"max_trip": 4}),
        "stepped_ranges_hvp": (srcdiff.hvp(stepped_ranges, wrt=(0, 1)), (0, 0, (0, 0)),
                               (a, X[:, :3], (b, X[:, 1:4].copy())), {"max_trip": 4}),
        "stepped_range_n": (srcdiff.grad(stepped_range_n, wrt=(0, 1)), (0, 0, 0), (a, X, np.arange(B) % 6), {}),
        "stepped_range_n_hvp": (srcdiff.hvp(stepped_range_n, wrt=(0, 1)), (0, 0, 0, (0, 0)),
                                (a, X, np.arange(B) % 6, (b, X[::-1].copy())), {}),
        "printing": (srcdiff.grad(printing, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {}),
        "printing_jvp": (srcdiff.jvp(printing, wrt=(0, 1)), (0, 0, (0, 0)), (a, X[:, :3], (b, X[:, 1:4].copy())), {}),
        "zeros_after_return": (srcdiff.grad(zeros_after_return, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {}),
        "zeros_after_return_value": (srcdiff.value_and_grad(zeros_after_return, wrt=(0, 1)), (0, 0), (a, X[:, :3]),
                                     {}),
        "zeros_after_return_jvp": (srcdiff.jvp(zeros_after_return, wrt=(0, 1)), (0, 0, (0, 0)),
                                   (a, X[:, :3], (b, X[:, 1:4].copy())), {}),
        "rebound_shape": (srcdiff.grad(rebound_shape, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {"max_trip": 3}),
        "rebound_shape_jvp": (srcdiff.jvp(rebound_shape, wrt=(0, 1)), (0, 0, (0, 0)),
                              (a, X[:, :3], (b, X[:, 1:4].copy())), {"max_trip": 3}),
        "literal_shapes": (srcdiff.grad(literal_shapes, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {}),
        "literal_shapes_jvp": (srcdiff.jvp(literal_shapes, wrt=(0, 1)), (0, 0, (0, None)),
                               (a, X[:, :3], (b, w[:3])), {}),
        "literal_shapes_hvp": (srcdiff.hvp(literal_shapes, wrt=1), (0, 0, 0), (a, X[:, :3], X[::-1, :3].copy()), {}),
        "negative_index": (srcdiff.grad(negative_computed_index, wrt=(0, 1, 2)), (0, 0, 0),
                           (a, X[:, :3], X[:, :4].reshape(B, 2, 2).copy()), {}),
        "negative_index_jvp": (srcdiff.jvp(negative_computed_index, wrt=(0, 2)), (0, 0, 0, (0, None)),
                               (a, X[:, :3], X[:, :4].reshape(B, 2, 2).copy(), (b, np.ones((2, 2)))), {}),
        "newaxes": (srcdiff.grad(newaxes, wrt=(0, 1, 2)), (0, 0, None), (a, X[:, :3], np.linspace(-0.5, 0.7, 6).reshape(2, 3)), {}),
        "newaxes_jvp": (srcdiff.jvp(newaxes, wrt=(1, 2)), (0, 0, 0, (0, None)),
                        (a, X[:, :3], np.linspace(-1.0, 1.0, 6 * B).reshape(B, 2, 3), (X[:, 1:4].copy(), np.linspace(-0.5, 0.7, 6).reshape(2, 3))), {}),
        "carried_prev_jvp": (srcdiff.jvp(carried_prev, wrt=(0, 1)), (0, 0, (0, None)), (a, X[:, :3], (b, w[:3])), {}),
        "carried_prev_hvp": (srcdiff.hvp(carried_prev, wrt=0), (0, 0, 0), (a, X[:, :3], b), {}),
        # two buffers swapped and written in place in a loop: declined until the gradient kept no second name
        "swap_buffers_hvp": (srcdiff.hvp(swap_buffers, wrt=0), (0, None, 0, 0), (a, np.ones(3), Ms, a), {}),
        "asserts": (srcdiff.grad(asserts, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {}),
        "asserts_jvp": (srcdiff.jvp(asserts, wrt=(0, 1)), (0, 0, (0, 0)), (a, X[:, :3], (b, X[:, 1:4].copy())), {}),
        # tuple / list arguments: flattened to one kernel argument per element, gradients in the argument's structure
        "tuple_arg": (srcdiff.grad(tuple_argument, wrt=0), (0, None), ((a, X[:, :3]), M), {}),
        "tuple_arg_list": (srcdiff.value_and_grad(tuple_argument, wrt=(0, 1)), (0, 0), ([a, X[:, :3]], Ms), {}),
        "tuple_arg_leaf_axes": (srcdiff.grad(tuple_argument, wrt=(0, 1)), ((0, None), None), ((a, w[:3]), M), {}),
        "tuple_arg_sum": (srcdiff.grad(tuple_argument, wrt=(0, 1)), (0, None), ((a, X[:, :3]), M),
                          {"batch_sum": True}),
        "tuple_arg_jvp": (srcdiff.jvp(tuple_argument, wrt=(0, 1)), (0, None, ((None, 0), None)),
                          ((a, X[:, :3]), M, ((0.5, X[:, 1:4].copy()), M[::-1].copy())), {}),
        "tuple_arg_hvp": (srcdiff.hvp(tuple_argument, wrt=0), (0, None, 0), ((a, X[:, :3]), M, (b, X[:, 2:5].copy())),
                          {}),
        "tuple_arg_hvp_sum": (srcdiff.hvp(tuple_argument, wrt=0), ((None, 0), None, (0, None)),
                              ((0.3, X[:, :3]), M, (b, w[:3])), {"batch_sum": True}),
        "nested_tuple_arg": (srcdiff.grad(nested_tuple_argument, wrt=(0, 1)), ((0, (None, 0)), None),
                             ((a, (w[:3], X[:, 1:4])), w[1:4]), {}),
        # np.array / rt.array of numbers; isfinite and friends
        "array_literals": (srcdiff.grad(array_literals, wrt=(0, 1)), (0, 0), (a, X[:, :3]), {}),
        "array_literals_jvp": (srcdiff.jvp(array_literals, wrt=(0, 1)), (0, None, (0, None)),
                               (a, w[:3], (b, w[1:4])), {}),
        "array_literals_hvp": (srcdiff.hvp(array_literals, wrt=(0, 1)), (0, 0, (0, 0)),
                               (a, X[:, :3], (b, X[:, 1:4].copy())), {}),
        "finite_tests": (srcdiff.grad(finite_tests, wrt=(0, 1)), (0, 0), (a - 0.5, X[:, :3]), {}),
        "finite_tests_jvp": (srcdiff.jvp(finite_tests, wrt=(0, 1)), (0, 0, (0, 0)),
                             (a - 0.5, X[:, :3], (b, X[:, 1:4].copy())), {}),
        # reductions along an axis; a loop's logsumexp in forward mode (reverse mode makes it a log-domain product)
        "axis_reductions": (srcdiff.grad(axis_reductions, wrt=(0, 1)), (0, 0), (a, Mt), {}),
        "axis_reductions_jvp": (srcdiff.jvp(axis_reductions, wrt=(0, 1)), (0, 0, (0, 0)),
                                (a, Mt, (b, Mt[::-1].copy())), {}),
        "axis_logsumexp_hvp": (srcdiff.hvp(axis_logsumexp, wrt=(0, 1)), (0, 0, (0, 0)), (a, Mt, (b, Mt[::-1].copy())),
                               {}),
        "hmm_forward_jvp": (srcdiff.jvp(hmm_forward, wrt=1), (None, 0, None, 0),
                            (np.log(np.linspace(0.1, 0.9, 9).reshape(3, 3)), np.log(X[:, :3] ** 2 + 0.1), 4,
                             X[:, 1:4].copy()), {}),
        "view_read_before_write_jvp": (srcdiff.jvp(view_read_before_write, wrt=(0, 1)), (0, 0, (0, 0)),
                                       (a, X[:, :3], (b, X[:, 2:].copy())), {}),
        "nan_where": (srcdiff.grad(nan_where, wrt=(0, 1)), (0, 0, None),
                      (a, X[:, :3], np.array([[0.4, 0.0, 1.0], [0.0, 0.4, 0.0], [0.0, 0.0, 0.4]])), {}),
    }


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [x for e in r for x in _leaves(e)]
    return [np.asarray(r, dtype=float)]


def _structure(r):
    """The tuples and lists of a result, leaves as None: vmap's must be the CPU transform's."""
    return type(r)(_structure(e) for e in r) if isinstance(r, (tuple, list)) else None


def _example(a, ax, i):
    """Example i of argument a with in_axes entry ax (a tuple / list argument or tangent: element by element)."""
    if isinstance(a, (tuple, list)):
        return type(a)(_example(x, t, i) for x, t in zip(a, ax if isinstance(ax, tuple) else (ax,) * len(a)))
    return a[i] if ax == 0 else a


def _run_case(g, in_axes, args, kw):
    out = srcdiff.cuda.vmap(g, in_axes=in_axes, **kw)(*args)
    refs = [g(*[_example(a, ax, i) for a, ax in zip(args, in_axes)]) for i in range(B)]
    if _structure(out) != _structure(refs[0]):
        return f"structure {_structure(out)}, the CPU's {_structure(refs[0])}"
    ref = np.array([np.concatenate([x.ravel() for x in _leaves(r)]) for r in refs])
    if kw.get("batch_sum"):
        got, want = np.concatenate([x.ravel() for x in _leaves(out)]), ref.sum(axis=0)
    else:
        got, want = np.concatenate([x.reshape(B, -1) for x in _leaves(out)], axis=1), ref
    return bool(got.shape == want.shape and np.allclose(got, want, rtol=1e-10, atol=1e-12))


def _run_all():
    res = {}
    for name, (g, ax, args, kw) in _data().items():
        try:
            same = _run_case(g, ax, args, kw)
            res[name] = same if isinstance(same, str) else "ok" if same else "mismatch"
        except Exception as ex:  # reported to the parent test
            res[name] = f"{type(ex).__name__}: {ex}"
    a = np.linspace(0.2, 0.8, B)
    try:
        srcdiff.cuda.vmap(srcdiff.grad(damped), in_axes=(0, None), max_trip=3)(a, 5)
        res["overflow"] = "no error"
    except srcdiff.SrcdiffError as ex:
        res["overflow"] = "ok" if "max_trip" in str(ex) else str(ex)
    try:
        srcdiff.cuda.vmap(srcdiff.grad(asserts, wrt=(0, 1)), in_axes=(0, 0))(a * 100.0, np.ones((B, 3)) * 100.0)
        res["assert_fails"] = "no error"
    except srcdiff.SrcdiffError as ex:
        res["assert_fails"] = "ok" if re.search(r"test_cuda.py:\d+: .*an assert failed for some example", str(ex)) \
            else str(ex)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        srcdiff.cuda.vmap(srcdiff.grad(printing, wrt=(0, 1)), in_axes=(0, 0))(a[:2], np.ones((2, 3)))
    res["printed"] = sorted(out.getvalue().splitlines())
    k = srcdiff.cuda.vmap(srcdiff.grad(array_loop_state, wrt=(0, 1)), in_axes=(0, 0, None))
    k(a, np.ones((B, 3)), 3)
    res["stack_source"] = srcdiff.source(k)
    try:
        n = np.arange(B) % 3          # n = 0 for some examples: the comprehension runs no iteration
        srcdiff.cuda.vmap(srcdiff.jvp(sum_of_arrays, wrt=(0, 1)), in_axes=(0, 0, 0, (0, 0)))(
            a, np.ones((B, 3)), n, (a, np.ones((B, 3))))
        res["empty_sum"] = "no error"
    except srcdiff.SrcdiffError as ex:
        res["empty_sum"] = "ok" if re.search(r"test_cuda.py:\d+: sum_of_arrays_jvp: a sum\(\.\.\.\) of arrays over a "
                                             r"comprehension that runs no iteration for some example", str(ex)) else str(ex)
    k = srcdiff.cuda.vmap(srcdiff.grad(recurrence, wrt=(0, 1)), in_axes=(0, 0, None))
    k(a, a, 3)
    res["source"] = srcdiff.source(k)
    k = srcdiff.cuda.vmap(srcdiff.grad(early_return_slice, wrt=(0, 1)), in_axes=(0, 0))
    k(a, np.ones((B, 4)))
    res["placeholder_source"] = srcdiff.source(k)
    return res


# ---- pytest ------------------------------------------------------------------------------------------
if __name__ != "__main__":
    import pytest

    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed", allow_module_level=True)

    def _cases_in_subprocess(mode):
        """The cases run by this file as a script: --sim on numba's CUDA simulator, --gpu on a real GPU."""
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # this checkout's srcdiff, installed or not
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        if mode == "--sim":
            env["NUMBA_ENABLE_CUDASIM"] = "1"
        else:
            probe = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                                   capture_output=True, text=True, env=env)
            if probe.stdout.strip() != "True":
                pytest.skip("no CUDA GPU on this machine (CI has none)")
        proc = subprocess.run([sys.executable, __file__, mode], capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    @pytest.fixture(scope="module")
    def simulated():
        return _cases_in_subprocess("--sim")

    @pytest.fixture(scope="module")
    def on_gpu():
        return _cases_in_subprocess("--gpu")

    CASES = ["recurrence", "ode", "logistic", "logistic_value", "logistic_sum", "branch", "branch_sum", "while",
             "helper", "layer", "outer", "trip_expr", "reductions", "sigmoid", "more_elementwise",
             "more_elementwise_jvp", "jvp", "jvp_tuple", "jvp_while", "hvp",
             "hvp_sum", "hvp_tape", "hvp_branch_loop", "shape_loop", "shape_loop_jvp", "shape_loop_hvp"]
    CASES += ["index_by_index", "named_like_a_tape", "named_like_a_tape_hvp", "jvp_calls_a_gradient",
              "jvp_calls_named_like_a_tape"]
    CASES += ["early_return_guard", "early_return_guard_jvp", "early_return_then_loop", "literal_shapes",
              "literal_shapes_jvp", "literal_shapes_hvp", "view_read_before_write_jvp", "carried_prev_jvp",
              "carried_prev_hvp", "swap_buffers_hvp", "asserts", "asserts_jvp", "negative_index", "negative_index_jvp", "newaxes", "newaxes_jvp"]
    CASES += ["early_return_slice", "early_return_slice_value", "early_return_matrix", "early_return_matrix_sum",
              "sum_of_arrays_jvp", "sum_of_arrays_jvp_sum", "array_loop_state", "array_loop_state_value",
              "array_loop_state_hvp", "stepped_ranges", "stepped_ranges_jvp", "stepped_ranges_hvp",
              "stepped_range_n", "stepped_range_n_hvp", "printing", "printing_jvp",
              "zeros_after_return", "zeros_after_return_value", "zeros_after_return_jvp",
              "rebound_shape", "rebound_shape_jvp"]
    CASES += ["array_literals", "array_literals_jvp", "array_literals_hvp", "finite_tests", "finite_tests_jvp"]
    CASES += ["axis_reductions", "axis_reductions_jvp", "axis_logsumexp_hvp", "hmm_forward_jvp", "nan_where"]
    CASES += ["tuple_arg", "tuple_arg_list", "tuple_arg_leaf_axes", "tuple_arg_sum", "tuple_arg_jvp", "tuple_arg_hvp",
              "tuple_arg_hvp_sum", "nested_tuple_arg"]

    @pytest.mark.parametrize("name", CASES)
    def test_simulator_matches_cpu_gradient(simulated, name):
        assert simulated[name] == "ok"

    def test_loop_past_max_trip_raises(simulated):
        assert simulated["overflow"] == "ok"

    def test_failing_assert_raises(simulated):
        assert simulated["assert_fails"] == "ok"

    def test_empty_sum_of_arrays_raises(simulated):
        assert simulated["empty_sum"] == "ok"

    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
    @pytest.mark.parametrize("f", [none_until_set, none_until_first_iteration])
    def test_none_tested_declined(f, make):
        """`r is None` where r is bound to None on some path: device values are never None (a placeholder zero
        there would make the test always False), so vmap declines at the user's line."""
        a = np.linspace(0.2, 0.8, B)
        X = np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)
        args = (a, X, a > 0.5) if f is none_until_set else (a, X)
        axes = (0,) * len(args)
        if make is srcdiff.jvp:
            args, axes = args + ((a, X),), axes + ((0, 0),)
        k = srcdiff.cuda.vmap(make(f, wrt=(0, 1)), in_axes=axes)
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_unbound.py:\d+: cannot generate CUDA code for \w+: (a test of "
                           r"whether \w+ is None, where \w+ is bound to None on some path|r is None on some path)"
                           r"(.|\n)*hint: device values are never None"):
            k.ptx(*args, cc=(9, 0))

    def powered_distance(x, c, *, p=2.0):
        return np.sum(np.abs(x - c) ** p)

    def test_defaults_and_keywords_not_taken_say_how_to_call():
        """A kernel takes every parameter positionally: a call leaving out a keyword-only parameter with a default
        said only "takes 3 arguments, got 2", and one passing it by keyword raised Python's TypeError
        ("Kernel.__call__() got an unexpected keyword argument 'p'"), neither saying how to pass it."""
        X = np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)
        k = srcdiff.cuda.vmap(srcdiff.grad(powered_distance, wrt=(0, 1)), in_axes=(0, None))
        with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)test_cuda.py:\d+: .*keyword arguments \(p\).*hint: pass every "
                                                       r"parameter of your function positionally"):
            k(X, X[0], p=3.0)
        with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)takes 3 arguments, got 2.*hint: a kernel takes every "
                                                       r"parameter of your function positionally"):
            k.ptx(X, X[0], cc=(9, 0))

    @pytest.mark.parametrize("name", CASES)
    def test_gpu_matches_cpu_gradient(on_gpu, name):
        assert on_gpu[name] == "ok"

    def test_gpu_loop_past_max_trip_raises(on_gpu):
        assert on_gpu["overflow"] == "ok"

    def test_kernel_source(simulated):
        src = simulated["source"]
        assert "cuda.local.array(3, float64)" in src           # y = np.zeros(3), per thread
        assert re.search(r"y_old\w*_tape = cuda.local.array\(3, float64\)", src)   # tape sized by n=3
        code = "\n".join(line.split("#")[0] for line in src.splitlines())
        assert "math.sin(" in code and "np." not in code and "rt." not in code
        assert "# line " in src

    def test_placeholder_takes_real_shape(simulated):
        """The gradient's placeholder `result2 = np.zeros((1,))` (result2 = result1[::-1] on the early return's path)
        is a zero fill of result2's buffer, which has the shape of a: one buffer per name, no (1,)-shaped one."""
        src = simulated["placeholder_source"]
        assert "result2 = cuda.local.array(4, float64)" in src
        # (the fill may share its loop with the next statement's: srcdiff/cuda/fusion.py)
        assert re.search(r"for (cu_j\d+) in range\(4\):\n(\s+.*\n)*?\s+result2\[\1\] = 0\.0", src)
        assert "cuda.local.array(1, float64)" not in src

    def test_print_per_example(simulated):
        """One line per example, as the CPU prints calling the gradient on each (the simulator prints Python's
        numbers; a GPU's printf, its own)."""
        a = np.linspace(0.2, 0.8, B)[:2]
        want = sorted(f"s = {v} {v} {v} x = {x}" for x in a for v in [np.sin(x)])
        assert simulated["printed"] == want

    def test_print_of_too_many_values_declined():
        k = srcdiff.cuda.vmap(srcdiff.grad(printing_too_much, wrt=(0, 1)), in_axes=(0, None))
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: cannot generate CUDA code for printing_too_much: "
                           r"print of 37 values on the device \(CUDA's printf takes at most 32\)(.|\n)*hint: print fewer"):
            k.ptx(np.ones(B), np.ones((6, 6)), cc=(9, 0))

    def test_swapped_buffers_hvp_compiles():
        """swap_buffers' hvp was declined (the gradient saved an array written later, or kept a second name of the
        swapped array read after a write: fuzz seed 772284, a wrong hvp before vmap declined it). Since h13d's
        copies.drop_copy_backs and h13c's follow_writes the gradient keeps neither, the kernel compiles, and its
        values equal the CPU's on the simulator (CASES: swap_buffers_hvp)."""
        a = np.linspace(0.2, 0.8, B)
        M = np.linspace(-0.5, 0.7, 6 * B).reshape(B, 2, 3)
        k = srcdiff.cuda.vmap(srcdiff.hvp(swap_buffers, wrt=0), in_axes=(0, None, 0, 0))
        assert ".target sm_90" in k.ptx(a, np.ones(3), M, a, cc=(9, 0))

    def test_stack_of_arrays_source(simulated):
        """h's stack holds 3 rows of 3 elements (n = 3 iterations, on the host), pushed and popped element by
        element."""
        src = simulated["stack_source"]
        m = re.search(r"(\w+_stack) = cuda.local.array\(9, float64\)", src)
        assert m, src
        stk = m.group(1)
        assert re.search(rf"{stk}\[{stk}_n \* 3 \+ cu_j\d+\] = ", src)
        assert re.search(rf"\w+\[cu_j\d+\] = {stk}\[{stk}_n \* 3 \+ cu_j\d+\]", src)

    @pytest.fixture(scope="module")
    def data():
        return _data()

    @pytest.mark.parametrize("name", CASES)
    def test_ptx_sm90(data, name):
        g, ax, args, kw = data[name]
        ptx = srcdiff.cuda.vmap(g, in_axes=ax, **kw).ptx(*args, cc=(9, 0))
        assert ".target sm_90" in ptx
        if kw.get("batch_sum"):
            assert "atom.global.add.f64" in ptx or "atom.add.f64" in ptx or "red.global.add.f64" in ptx

    def test_shapes_folded_into_the_kernel(data):
        """x.shape[0] / len(x) of per-example arrays are constants in the kernel: no .shape on the device."""
        g, ax, args, kw = data["shape_loop"]
        k = srcdiff.cuda.vmap(g, in_axes=ax, **kw)
        k.ptx(*args, cc=(9, 0))
        code = "\n".join(line.split("#")[0] for line in k.source.splitlines())
        assert ".shape" not in code and "len(" not in code, k.source
        assert "# line " in k.source and "x.shape[0]" in k.source      # the user's line is still cited

    def _text_oracle(text):
        """(comment lines above, cited user line) of each statement of a module's printed source, in the
        order it prints them: what the lowering read from the text before it read the tree."""
        import ast
        lines = text.splitlines()
        out = []
        for fn in ast.parse("\n".join(lines)).body:
            if not isinstance(fn, ast.FunctionDef):
                continue
            for st in _statements(fn.body):
                k, above = st.lineno - 2, []
                while k >= 0 and lines[k].strip().startswith("#"):
                    above.append(lines[k].strip())
                    k -= 1
                cited = next((m.groups() for m in (re.match(r"\s*# line (\d+): (.*)", lines[j])
                                                   for j in range(st.lineno - 1, -1, -1)) if m), None)
                out.append((type(st).__name__, above[::-1], cited and (int(cited[0]), cited[1])))
        return out

    def _statements(body):
        import ast
        for st in body:
            yield st
            for f in ("body", "orelse"):
                if isinstance(st, (ast.For, ast.While, ast.If)):
                    yield from _statements(getattr(st, f))

    def _from_layout(trees):
        import bisect
        from srcdiff.cuda.lower import _Layout
        layout, got = _Layout(), []
        for fn in trees:
            layout.function(fn)
        own = [u for u in layout.user_lines if u[3] is None]     # (number, line, text, callee, file)
        for fn in trees:
            for st in _statements(fn.body):
                k = bisect.bisect_right([u[0] for u in own], st.lineno)
                cited = own[k - 1][1:3] if k else None
                got.append((type(st).__name__, [t for _, t in layout.before[st.lineno]], cited))
        return got

    def test_comment_layout_around_if_with_commentsand_else():
        """Comments at the end of a branch are printed above an `elif` (it follows them like an `if`) but not
        above the first statement under an `else:`; the cited line is the nearest line comment above."""
        import ast
        from srcdiff.transforms import annotations as anno
        from srcdiff.transforms.emit import render
        fn = ast.parse("def f(a, b):\n    x = 1\n    if a:\n        y = 2\n        'L3'\n    elif b:\n        z = 3\n"
                       "        'c'\n    else:\n        'c2'\n        w = 4\n        'L9'\n    'L10'\n    return x\n").body[0]
        for st in ast.walk(fn):
            if isinstance(st, ast.Expr):
                text = st.value.value
                st.value = ast.Constant("#srcdiff#" + (f"line {text[1:]}: code {text}" if text[0] == "L" else text))
                if text[0] == "L":
                    anno.set(st, anno.USER_LINE, (int(text[1:]), f"code {text}", None))
        text = render(fn)
        assert "    elif b:\n" in text and "        # line 3: code L3\n    elif" in text
        want = _text_oracle(text)
        assert _from_layout([fn]) == want
        assert ("If", ["# line 3: code L3"], (3, "code L3")) in want and ("Assign", [], (3, "code L3")) in want
        assert ("Return", ["# line 9: code L9", "# line 10: code L10"], (10, "code L10")) in want

    @pytest.mark.parametrize("g, example, if_with_comments", [
        (srcdiff.grad(recurrence, wrt=(0, 1)), (0.5, 0.3, 3), False), (srcdiff.grad(three_ways, wrt=(0, 1)), (0.5, 0.3), True),
        (srcdiff.grad(with_helper, wrt=(0, 1)), (0.5, 0.3), False),
        (srcdiff.grad(per_example_dot, wrt=(0, 1)), (np.ones(3), np.ones(3)), False),
        (srcdiff.jvp(three_ways, wrt=0), (0.5, 0.3), False), (srcdiff.jvp(damped), (0.5, 4), False)])
    def test_comments_and_user_lines_come_from_the_tree(g, example, if_with_comments):
        """The lowering reads the module's trees (module_builder.Module.trees), not its text: the comment lines it
        places above each statement and the user's line it cites for it are those of the printed source."""
        from srcdiff.transforms import kinds
        if isinstance(g, srcdiff.api.Transformed):
            module = g.specialise(tuple(kinds.kind_of_value(e) for e in example), need_module=True).module
        else:
            module = g.specialise(list(example)).module
        want = _text_oracle(module.source())
        assert _from_layout(module.trees()) == want
        assert any(above for _, above, _ in want) and any(c for _, _, c in want)
        if if_with_comments:
            assert "If" in [t for t, above, _ in want if above]      # comments above an `if` under `else:`

    def test_tapes_of_generated_code_are_recorded_not_named():
        """Forward mode over a gradient holds the gradient's tapes in its module's tapes (what the lowering
        reads): recorded by the module that generated that code, or kept by the cache index where the gradient
        was loaded without generating it; a user array named like a tape in generated code is not one."""
        from srcdiff import backends
        a = np.linspace(0.2, 0.8, B)
        primal = [a[0], a[1], 3]
        made = srcdiff.hvp(recurrence, wrt=(0, 1)).fwd.specialise(primal).module    # generates the gradient
        assert made.tapes and all(t.endswith("_tape") and f"{t} = np.empty(" in made.source() for t in made.tapes)
        saved = dict(backends._TAPES)
        try:
            backends._TAPES.clear()     # as in a fresh process: nothing generated here yet
            h = srcdiff.hvp(recurrence, wrt=(0, 1))
            again = h.fwd.specialise(primal).module
            assert isinstance(h.grad.last.module, backends.CachedModule)   # the gradient came from the index
            assert again.tapes == made.tapes
        finally:
            backends._TAPES.update(saved)
        jvp = srcdiff.jvp(calls_named_like_a_tape, wrt=0).specialise([a[0], a[1]]).module
        assert "y_tape = np.empty(3)" in jvp.source() and not jvp.tapes

    def test_allocation_of_per_example_size_is_refused():
        a = np.linspace(0.2, 0.8, B)
        k = srcdiff.cuda.vmap(srcdiff.grad(sized_by_argument), in_axes=(0, 0))
        with pytest.raises(srcdiff.SrcdiffError, match=r"line \d+: z = np.zeros\(n\)"):
            k.ptx(a, np.arange(1, B + 1), cc=(9, 0))

    def test_fancy_write_declined_with_advice():
        """A write at an index array (whose adjoint, rt.written, keeps the later of two writes to one element)
        is declined at the user's line, with the element-by-element loop the device runs as advice."""
        k = srcdiff.cuda.vmap(srcdiff.grad(write_at_index_array, wrt=(0, 1)), in_axes=(0, 0, None))
        X = np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: .*fancy \(array\) indexing: b\[idx\]\n"
                           r"    line \d+: b\[idx\] = a \* w\n  hint: .*for k in range\(len\(idx\)\): b\[idx\[k\]\] = v\[k\]"):
            k.ptx(np.linspace(0.2, 0.8, B), X, np.array([2, 0, 2]), cc=(9, 0))

    def test_unbounded_while_needs_max_trip():
        k = srcdiff.cuda.vmap(srcdiff.grad(damped), in_axes=(0, None))
        with pytest.raises(srcdiff.SrcdiffError, match="max_trip"):
            k.ptx(np.linspace(0.2, 0.8, B), 5, cc=(9, 0))

    def test_trip_count_checked_on_host_before_launch():
        k = srcdiff.cuda.vmap(srcdiff.grad(ode, wrt=0), in_axes=(0, 0, 0, 0), max_trip=4)
        a = np.linspace(0.2, 0.8, B)
        with pytest.raises(srcdiff.SrcdiffError, match="max_trip=4"):
            k.ptx(a, a, a, np.full(B, 5), cc=(9, 0))

    def test_trip_count_computed_from_arguments_sizes_the_tape():
        # range(2 * n + 1): the tape holds 2 * max(n) + 1 values, no max_trip needed
        k = srcdiff.cuda.vmap(srcdiff.grad(trip_expr), in_axes=(0, 0))
        k.ptx(np.linspace(0.2, 0.8, B), np.array([0, 3, 1, 2, 0, 0, 1, 2]), cc=(9, 0))
        assert re.search(r"_tape = cuda.local.array\(7, float64\)", k.source)
        k = srcdiff.cuda.vmap(srcdiff.grad(trip_expr), in_axes=(0, None), max_trip=5)
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: .*runs 9 iterations.*max_trip=5"):
            k.ptx(np.linspace(0.2, 0.8, B), 4, cc=(9, 0))

    def test_trip_count_read_from_array_values_needs_max_trip():
        # the host knows array arguments' shapes, not their values: int(x[0]) is not evaluated
        X = np.full((B, 2), 3.0)
        k = srcdiff.cuda.vmap(srcdiff.grad(trip_from_data), in_axes=(0, 0))
        with pytest.raises(srcdiff.SrcdiffError, match=r"line \d+: for i in range\(int\(x\[0\]\)\)(.|\n)*max_trip"):
            k.ptx(np.linspace(0.2, 0.8, B), X, cc=(9, 0))
        k = srcdiff.cuda.vmap(srcdiff.grad(trip_from_data), in_axes=(0, 0), max_trip=4)
        assert ".target sm_90" in k.ptx(np.linspace(0.2, 0.8, B), X, cc=(9, 0))

    def test_allocation_error_says_how_to_fix():
        k = srcdiff.cuda.vmap(srcdiff.grad(sized_by_argument), in_axes=(0, 0))
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+:(.|\n)*hint: .*in_axes=None"):
            k.ptx(np.linspace(0.2, 0.8, B), np.arange(1, B + 1), cc=(9, 0))

    def test_python_objects_refused():
        k = srcdiff.cuda.vmap(srcdiff.grad(branch), in_axes=(0, None))
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: argument b .* is a dict(.|\n)*hint: "):
            k(np.ones(B), {"b": 1.0})
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: a tuple/list argument used as a whole "
                           r"value\n    if a > b:"):     # a list is flattened as the CPU grad flattens it (its first use)
            k(np.ones(B), [1.0])
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: argument b .* is a str"):
            k.ptx(np.ones(B), "mode", cc=(9, 0))

    @pytest.mark.parametrize("make, axes, args, message", [
        (srcdiff.grad, ((0, None, 0), None), "pair", r"in_axes entry \(0, None, 0\) for xa: 3 entries for its 2 "
                                                      r"elements(.|\n)*hint: give one entry per element"),
        (srcdiff.grad, (0, (0, None)), "pair", r"in_axes entry \(0, None\) for M: a tuple entry is for a tuple or "
                                                r"list argument, and M is a ndarray"),
        (srcdiff.grad, ((0, 1), None), "pair", r"in_axes entry 1 for xa\[1\]: entries are 0 \(batched along axis 0\) "
                                                r"or None"),
        (srcdiff.grad, (0, None), "short", r"batch sizes differ: xa\[1\] has 5 examples, others 8"),
        (srcdiff.jvp, (0, None, 0), "tangent", r"the tangent of xa must have the argument's structure \[None, None\], "
                                                r"got \[None\]")])
    def test_tuple_argument_mistakes_named(make, axes, args, message):
        """in_axes entries of a tuple argument, its leaves' batch sizes and its tangent's structure are checked on
        the host, at the user's function's line."""
        a, X = np.linspace(0.2, 0.8, B), np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)
        M = np.linspace(-0.5, 0.7, 6).reshape(2, 3)
        pair = (a, X[:5]) if args == "short" else (a, X)
        k = srcdiff.cuda.vmap(make(tuple_argument, wrt=0), in_axes=axes)
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: " + message):
            k.ptx(pair, M, *([(a,)] if args == "tangent" else []), cc=(9, 0))

    def test_vjp_refused_with_advice():
        with pytest.raises(srcdiff.SrcdiffError, match=r"grad, value_and_grad, jvp or hvp(.|\n)*hint: "):
            srcdiff.cuda.vmap(srcdiff.vjp(branch), in_axes=(0, 0))

    @pytest.mark.parametrize("f, args", [
        (early_return_guard, (0.7, np.array([0.4, -0.3, 1.1]), 0.2)),
        (early_return_guard, (0.7, np.array([0.4, -0.3, 1.1]), 0.9)),
        (early_return_then_loop, (0.7, np.array([0.4, -0.3, 1.1]), False)),
        (literal_shapes, (0.7, np.array([0.4, -0.3, 1.1]))),
        (view_read_before_write, (0.7, np.array([0.4, -0.3, 1.1]))),
        (negative_computed_index, (0.7, np.array([0.4, -0.3, 1.1]), np.array([[0.2, -0.5], [1.3, 0.8]]))),
        (carried_prev, (0.7, np.array([0.4, -0.3, 1.1]))),
        (newaxes, (0.7, np.array([0.4, -0.3, 1.1]), np.array([[0.2, -0.5, 0.1], [1.3, 0.8, -0.4]]))),
        (asserts, (0.7, np.array([0.4, -0.3, 1.1])))])
    @pytest.mark.parametrize("jit", [False, True])
    def test_fuzz_found_functions_cpu_gradients(f, args, jit):
        """The CPU gradients the simulator cases above are compared with match central differences (both
        backends)."""
        from gradcheck import check_grad
        check_grad(f, list(args), wrt=(0, 1), jit=jit)

    @pytest.mark.parametrize("f, make, other", [
        (write_through_slice, srcdiff.jvp, np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)),
        (write_through_transpose, srcdiff.jvp, np.linspace(0.1, 1.2, 6 * B).reshape(B, 3, 2))])
    def test_write_through_view_declined(f, make, other):
        """Forward mode follows views on the CPU (a view's tangent is the view of the tangent), but device code
        keeps each array in its own buffer: a read of memory written through another name after the view was
        made is declined at the user's line (it was computed without the write: a wrong jvp, CUDA fuzz oracle)."""
        a = np.linspace(0.2, 0.8, B)
        k = srcdiff.cuda.vmap(make(f, wrt=(0, 1)), in_axes=(0, 0, (0, 0)))
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: cannot generate CUDA code for \w+: `\w+` "
                           r"shares memory with `\w+`, which is written in place at line \d+(.|\n)*hint: make `\w+` "
                           r"a copy"):
            k.ptx(a, other, (a, other), cc=(9, 0))

    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp, srcdiff.hvp])
    def test_recursive_helper_declined(make):
        """numba-cuda does not compile recursive device functions (an AttributeError inside numba-cuda; the
        simulator ran them, and the jvp's `r, d_r = rec_jvp(...)` called a helper never lowered: NameError,
        CUDA fuzz seed 63): declined, naming the helper."""
        a = np.linspace(0.2, 0.8, B)
        X = np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)
        args, axes = ((a, X, 2), (0, 0, None)) if make is srcdiff.grad else ((a, X, 2, (a, X)), (0, 0, None, (0, 0)))
        k = srcdiff.cuda.vmap(make(calls_recursive_helper, wrt=(0, 1)), in_axes=axes)
        with pytest.raises(srcdiff.SrcdiffError, match=r"cannot generate CUDA code for \w+: the recursive helper "
                           r"recursive_helper\w* \(device code cannot recurse(.|\n)*hint: write the recursion as a loop"):
            k.ptx(*args, cc=(9, 0))

    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp, srcdiff.hvp])
    @pytest.mark.parametrize("case", ["arrays", "scalars"])
    def test_recursive_helper_declined_at_the_users_line(make, case):
        """hvp lowers forward mode over the generated gradient, whose copy of the helper (the primal its pullback
        calls) had no line in the module's line table: hvp's decline cited that line of the gradient's file in
        srcdiff's cache, naming the generated gradient. The table cites the copy's statements at the user's lines:
        each transform names this file, the helper's line and the user's function."""
        if case == "arrays":
            f, wrt, X = sums_recursive_on_arrays, 0, np.linspace(0.1, 0.5, 2 * B).reshape(B, 2)
            args, axes, line = (X,), (0,), recursive_on_arrays.__code__.co_firstlineno + 1
            what = r"array arguments to the helper recursive_on_arrays\w*(.|\n)*hint: helpers called from"
            tangent = np.ones((B, 2))
        else:
            f, wrt, X = calls_recursive_helper, 0, np.linspace(0.1, 0.5, B)
            args, axes, line = (X, np.ones(3), 2), (0, None, None), recursive_helper.__code__.co_firstlineno + 3
            what = r"the recursive helper recursive_helper\w* \(device code cannot recurse(.|\n)*hint: write the"
            tangent = np.ones(B)
        if make is not srcdiff.grad:
            args, axes = args + (tangent,), axes + (0,)
        k = srcdiff.cuda.vmap(make(f, wrt=wrt), in_axes=axes)
        with pytest.raises(srcdiff.SrcdiffError, match=rf"test_cuda\.py:{line}: cannot generate CUDA code for "
                           rf"{f.__name__}: " + what) as info:
            k.ptx(*args, cc=(9, 0))
        assert "srcdiff/" not in str(info.value.filename) and info.value.lineno == line

    def test_unread_recursive_call_dropped():
        """Forward mode's dead-code pass kept an unread call of a recursive helper without effects, a statement
        `recursive_helper(m1, result1v1)` that the device lowering declined as 'unsupported statement' (CPU
        fuzzer's jvp programs): it goes, as in reverse mode, and the kernel compiles."""
        a = np.linspace(0.2, 0.8, B)
        X = np.linspace(0.1, 1.2, 3 * B).reshape(B, 3)
        k = srcdiff.cuda.vmap(srcdiff.jvp(unread_recursive_call, wrt=0), in_axes=(0, 0, None, 0))
        assert ".target sm_90" in k.ptx(a, X, 2, np.ones(B), cc=(9, 0))
        assert "recursive_helper" not in srcdiff.source(k)

    def test_helper_called_for_its_effect_named():
        """A call statement (a recursive helper called for its print) is lowered as the call it is, so the
        decline names the helper and the user's line, not 'unsupported statement prints_at_the_bottom(x,
        result1v1)' at no line."""
        k = srcdiff.cuda.vmap(srcdiff.grad(calls_for_its_print, wrt=0), in_axes=(0, None))
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: cannot generate CUDA code for "
                           r"calls_for_its_print: the recursive helper prints_at_the_bottom \(device code cannot "
                           r"recurse(.|\n)*line \d+: return prints_at_the_bottom\(u, depth - 1\)"):
            k.ptx(np.linspace(0.2, 0.8, B), 2, cc=(9, 0))

    def test_tangent_count_checked():
        k = srcdiff.cuda.vmap(srcdiff.jvp(branch, wrt=(0, 1)), in_axes=(0, 0, 0))
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda.py:\d+: .*expected 2 tangents"):
            k.ptx(np.ones(B), np.ones(B), (np.ones(B),), cc=(9, 0))

else:                                       # the subprocess: --sim or --gpu
    if "--gpu" in sys.argv:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from fuzz_cuda import nan_outputs   # results the kernel does not write come back NaN, not stale memory
        with nan_outputs():
            print(json.dumps(_run_all()))
    else:
        print(json.dumps(_run_all()))
