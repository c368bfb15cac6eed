"""srcdiff.cuda.vmap on unusual inputs: arrays with no elements, and NumPy / math constants in the user's code.

Zero-size arrays: a per-example M of shape (0, 3) crashed the lowering (ZeroDivisionError unravelling a flat index
over a dimension of 0), a mean of no elements divided by zero in the kernel, and numba declines a
`cuda.local.array` of 0 elements in PTX (`array length <= 0`). They now follow NumPy: sums of no elements are 0,
products 1, means NaN, and np.max / np.min / logsumexp of no elements, where NumPy raises, raise SrcdiffError at
the user's line where an example reaches them.

Constants: `-np.inf`, `np.nan`, `math.pi`, ... were declined on the device ("attribute .inf"); each is its number
there (cuda/common.py MODULE_CONSTANTS).

Buffers swapped in a loop and written in place: the gradient's pushes of a buffer after a write through its other
name, never read back, were declined (cuda/views.py).

A list used as a stack in jvp (`while len(st) > 0: v = st.pop()`): `len(st)` is the stack's count (was an internal
error, h25b).

Each case runs on numba's CUDA simulator (a subprocess: NUMBA_ENABLE_CUDASIM must be set before numba is imported)
against the CPU gradient (jit=False) per example, and that against central differences where it is finite."""
import copy
import json
import math
import os
import re

if __name__ == "__main__":      # the simulator subprocess (cuda_sim.results_of sets "0" for a real GPU)
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402

import srcdiff  # noqa: E402
from cuda_sim import central_differences, flat  # noqa: E402

B = 3


# ---- user functions ------------------------------------------------------------------------------------
def empty_matrix(x, M):
    """Sums over a matrix with no rows: 0 (and an axis sum of 3 zeros)."""
    return x * np.sum(M * M) + np.sum(np.sum(M, axis=0) * x) + np.sum(np.max(M, axis=1)) + x * x


def stack_popped(x, a):
    """A list used as a stack, `while len(st) > 0: v = st.pop()`, which jvp keeps as the user's list: `len(st)`
    crashed the lowering with an internal error ('srcdiff.cuda.common.Unknown: st', found by hand, h25b); it is the
    stack's count."""
    st = []
    for i in range(3):
        st.append(a[i] * a[i] * x)
    s = 0.0
    while len(st) > 0:
        v = st.pop()
        s = s * 0.5 + v
    return s


def empty_columns(x, M, v):
    """A matrix (3, 0) times a vector with no elements: zeros; a product of no elements is 1."""
    return np.sum(np.dot(M, v) * x) + x * np.prod(v) + np.sin(x) * np.sum(M)


def empty_mean(x, v, w):
    """A mean of no elements is NaN, as in NumPy (the value and d/dx; d/dw is 2w)."""
    return x * np.mean(v) + np.sum(w * w)


def empty_loop(x, v):
    """A loop over len(v) = 0 runs no iteration."""
    s = x
    for i in range(len(v)):
        s = s + v[i] * x
    return s * s


def empty_max(x, M):
    return x * np.max(M) + x


def guarded_max(x, M):
    """np.max only where M has rows: the kernel specialised to M of no rows never reaches it."""
    m = 0.5
    if M.shape[0] > 0:
        m = np.max(M)
    return m * x + x * x


def constants(x, a):
    """A running maximum from -np.inf, and np.pi, math.e, math.tau, np.euler_gamma, np.inf, np.nan."""
    m = -np.inf
    for i in range(a.shape[0]):
        if a[i] * x > m:
            m = a[i] * x
    lo = np.inf
    for i in range(a.shape[0]):
        lo = min(lo, a[i])
    bad = np.nan
    ok = 1.0 if np.isnan(bad) and x < math.inf else 0.0
    return m * np.pi + math.e * x * lo + ok * math.tau * x + np.euler_gamma * np.sum(a * a) + np.e


def nan_branch(x, a):
    """np.nan written in a branch an example takes (x > 0.7): the CPU value and gradient are NaN there too."""
    y = np.nan if x > 0.7 else x * x
    return y + np.sum(a) * math.pi


def pairs_loop(x, a, M):
    """A loop over a tuple of pairs of arrays: jvp keeps Python's tuples (`w_v = pairs[0]`, `v = w_v[1]`), which
    the device took for numbers ("indexing a scalar", fuzz 822300: 12 of 480 device programs declined)."""
    pairs = ((M * x, a), (np.sin(M), a * x), (M, np.where(a > 0.0, a, -a)))
    s = 0.0
    for w, v in pairs:
        s = s + np.sum(w @ v) * x + v[1] * w[0, 1]
    return s


def carried_tuple(x, a, M):
    """A tuple of a number and an array carried through a loop: forward mode keeps it (and its tangent) a tuple
    bound in the loop, which the device's tuple resolution (bound once) did not resolve: jvp declined ("indexing a
    scalar", CUDA fuzz 999000, 999005, 999034) where grad ran. cuda/carried_tuples.py splits it into its items."""
    st = (x, a)
    for k in range(2):
        st = (st[0] * 0.9 + 0.1 * np.sum(st[1] * M[k]), st[1] * np.cos(st[0]))
    x, a = st
    return x * np.sum(a)


def computed_pairs_loop(x, a, M):
    """A loop over a tuple of pairs whose first item is computed from a constant (a conditional expression): forward
    mode's tangent of the pair holds `rt.zeros_like(...)`, a tuple the device did not resolve reads of ("indexing a
    scalar", CUDA fuzz 843026)."""
    C = np.ones((3, 3)) * 1.5
    s = 0.0
    for w, v in (((C if a[0] > 0.0 else C * 2.0), a), (C, a * x)):
        s = s + np.sum(w[1] / (1.5 + v * v)) * x + np.sum(M * w)
    return s


def reshaped_carry(x, M):
    """A matrix rebound in a loop after a branch that may return: the backward loop tests whether the matrix's
    adjoint changed shape between iterations (`if np.shape(d_M) != np.shape(M)`), which had no device lowering
    (CUDA fuzz 843035); on the device an array keeps its shape, so the test compares two constant shapes."""
    if x > -0.3:
        x = x * 1.5
    else:
        x *= np.tanh(x)
        if M[0, 2] > -0.3:
            return math.tanh(x)
    for i in range(1, 2):
        t = np.log(1.0 + np.square(M))
        M = 0.5 * M + 0.5 * np.tanh(np.where(np.square(M) > 0.3, M, t * np.sum(t, axis=1, keepdims=True)) - M)
        if -0.3 < np.exp(0.3 * np.sin(x)) < 1.0:
            break
    return M[0, 2] * x + np.sum(M)


def appended_list(x, a):
    """A list built with appends, then np.array: its length is known only at run time."""
    out = []
    for i in range(a.shape[0]):
        if a[i] > 0.0:
            out.append(a[i] * x)
    return np.sum(np.array(out)) + x * x


def summed_appends(a, x):
    """A helper (inlined into its caller) building an array of a list with appends, declined on the device."""
    out = []
    for i in range(a.shape[0]):
        if a[i] > 0.0:
            out.append(a[i] * x)
    return np.sum(np.array(out))


def calls_summed_appends(x, a):
    return summed_appends(a, x) + x * x


def nested_literal(x, a):
    """A 2-D array written out in numbers (`np.array([[...], [...]])`): generated code names its numbers
    (`W_at0 = 0.5`) and keeps the rows; the device declined it as 'np.array(...) of values of different shapes'
    (CUDA fuzz 999005 and 7 programs of 999100-999200)."""
    W = np.array([[0.5, -1.0, 2.0, 0.25], [1.5, 0.5, -0.5, 1.0]])
    return np.sum(np.tanh(W @ a)) * x


def swaps_in_loop(x, a):
    """Two buffers swapped in a loop, one written in place after the swap: the gradient pushes each carried buffer
    at the end of an iteration, after the write through the other name, and never reads some of them back (or reads
    their shape only: `rt.zeros_like`). The device declined the pushes ("`buf2` shares memory with `buf1`", CUDA
    fuzz --device 1002104)."""
    buf1 = np.zeros(4)
    buf2 = np.zeros(4)
    for j in range(2):
        buf2, buf1 = buf1, buf2
        buf2[1] = buf2[1] * 1.1 + 0.1 * np.tanh(np.sum(a[:2]) * x)
    return np.sum(buf1) + np.sum(buf2 * a)


def swap_written(x, a):
    """b written in place after a swap, with the gradient holding the array b names (CUDA fuzz --device 990312;
    declined until the pushes of swaps_in_loop were not)."""
    b = np.zeros(4)
    c = np.zeros(4)
    for i in range(1):
        b, c = c, b
        b[0] = b[0] * 1.1 + 0.1 * np.tanh(x)
        for j in range(1):
            b, c = c, b
    return np.sum(b * a) + np.sum(c * c)


def saved_then_written_after_swap(x, a):
    """The array the gradient saves for tanh(buf1 * x), which the swap names buf2, written in place after its push
    (CUDA fuzz --device 1002073, 1002097): declined ("NumPy saves the array itself, whose later writes that sweep
    reads"), yet the backward sweep undoes each write before the pop, where NumPy's array holds again what the
    device copied (cuda/views.py)."""
    buf1 = np.zeros_like(a)
    buf2 = np.zeros_like(a)
    for j in range(2):
        buf2, buf1 = buf1, 0.5 * buf2 + 0.5 * np.tanh(buf1 * x)
        buf2[(j + 1) % 3] = buf2[(j + 1) % 3] * 1.1 + 0.1 * np.tanh(a[0])
    return np.sum(buf1) + np.sum(buf2 * a)


def pingpong_jacobi(x, a):
    """Ping-pong buffers of a stencil, `u, v = v, u` after each sweep writes v from u: the gradient pushes u and v
    each iteration and pops both in the backward loop, where the view check took the two popped arrays for one
    ("`u` shares memory with `v`, which is written in place"): two arrays pushed in one block that never share
    memory are two arrays when popped in one block too (cuda/views.py)."""
    u = a * x
    v = np.zeros_like(a)
    for it in range(3):
        for i in range(1, 3):
            v[i] = 0.5 * (u[i - 1] + u[i + 1]) * x + 0.1 * np.sin(u[i])
        v[0] = u[0]
        v[3] = u[3]
        u, v = v, u
    return np.sum(u * u)


def pingpong_through_a_third_name(x, a):
    """The same swap written with a temporary (`tmp = cur; cur = nxt; nxt = tmp`)."""
    cur = a * 1.0
    nxt = np.zeros(4)
    for t in range(3):
        for i in range(4):
            nxt[i] = cur[i] * x + 0.1 * cur[(i + 1) % 4]
        tmp = cur
        cur = nxt
        nxt = tmp
    return np.sum(cur ** 2)


def pingpong_empty_like(x, a):
    """Ping-pong with the second buffer from np.empty_like (declined on the device as an unsupported call: any
    values do, as every element is written before it is read) and written whole, `nxt[:] = ...`."""
    cur = a * x
    nxt = np.empty_like(a)
    for t in range(4):
        nxt[:] = np.tanh(cur) * x
        cur, nxt = nxt, cur
    return np.sum(cur)


def swapped_then_written(x, a):
    """b written after `b, c = c, 0.5 * b + ...`: b names the array c named before the swap, c a new one (once
    declined as 'c shares memory with b', test_cuda_messages; the name c was bound again by the swap)."""
    b = a * 0.5
    c = np.tanh(a)
    for i in range(2):
        b, c = c, 0.5 * b + np.tanh(c * x)
        for j in range(1, 3):
            b[j] = b[j] * 1.1 + 0.1 * np.tanh(x * j) * c[j]
    return np.sum(b * b) + np.sum(c * a)


def saved_then_written_twice(x, a):
    """b saved for sin(b) * b, then written twice (once by *=) and kept under a second name c, written too."""
    b = a * x
    s = 0.0
    for j in range(3):
        s = s + np.sum(np.sin(b) * b)
        b[j] = np.sin(b[j]) * x
        b[(j + 1) % 3] *= x
        b, c = b * 1.0, b
        c[0] = c[0] + s
    return s + np.sum(b * b)


def saved_then_written_as_second_name(x, a):
    """b saved for b * b, written through d = b (declined: 'the array the gradient saved as `b` ... as `d`')."""
    b = a * x
    s = 0.0
    for j in range(2):
        s = s + np.sum(b * b)
        d = b
        d[j] = np.sin(d[j]) * x
        b = d * 1.0
    return s + np.sum(b)


def ellipsis_written(x, a):
    """An array written through an Ellipsis index, all of it (`y[...] = v`, `y[...] += v`), read at `[...]`: the
    lowering read the Ellipsis as an integer, an internal error ('int() argument must be ... not ellipsis', found by
    the generator's 'ellipsis' feature, h26a); it stands for full slices of the axes it spans."""
    y = np.tanh(a) * 1.0
    y[...] = np.sin(y) * x
    y[...] += a
    return np.sum(np.sin(y[...]))


def copies_written(x, a):
    """`copy.copy` / `copy.deepcopy` of a per-example array and number, the copy written in place while the original
    is read after (np.copy's rule on the device: its CUDA template, h29c; was "call to copy.copy has no
    differentiation rule")."""
    y = copy.copy(np.tanh(a))
    z = copy.deepcopy(y)
    z[1] = x * 2.0
    z *= copy.copy(x)
    return np.sum(z * y) + copy.deepcopy(x) * np.sum(y)


def ellipsis_columns(x, M):
    """A column and a row written through an Ellipsis: the adjoint of the read `y[..., 0]` was rt.index_add's scatter
    and its view was kept past the write the backward sweep undoes (where `y[:, 0]`'s is taken again), which the
    lowering declined (reverse_support.basic_index, h26a)."""
    y = np.tanh(M) * 1.0
    y[..., 1] = y[..., 0] * x
    y[0, ...] *= x
    return np.sum(y * y)


def covariance_in_rows(x, a):
    """np.cov of a vector in a row of a nested literal (CUDA fuzz 1260079): the adjoint of its mean, kept (1,) by
    expand_dims, goes back to a number through rt.reshape_like, which the lowering read in a scalar context without
    an index ("array d_rows11 used where a scalar is needed"); the one element is read at index 0."""
    rows = np.array([[x, -0.7, 1.5 - a[0]], [np.cov(a), a[1] * x, a[2]]])
    return np.sum(np.tanh(rows[1]) * rows[0])


def zip_of_rows(x, a):
    """A loop over zip(*[a, b]) checks that the list has 2 rows, `ok = len((a, seq3))`: the lowering read the length
    of a tuple off its shape, the word "tuple", and wrote `ok = t` (the simulator's NameError "name 't' is not
    defined", CUDA fuzz with device features and 'fancy', seed 1434027); jvp's `seq = (a, seq3)`, `ok = len(seq)` kept
    the tuple of arrays ("array a used where a scalar is needed"): len of a tuple literal's name is its length."""
    s = 0.0
    for i, (e2, e3) in enumerate(zip(*[a, np.maximum(a, x)])):
        s = s + e2 * e3 * (i + 1.0)
    return s * x


def _data():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 0.8, B)
    a = rng.normal(size=(B, 4))
    return {
        "empty_matrix": (empty_matrix, (x, np.zeros((B, 0, 3)))),
        "empty_columns": (empty_columns, (x, np.zeros((B, 3, 0)), np.zeros((B, 0)))),
        "empty_mean": (empty_mean, (x, np.zeros((B, 0)), a)),
        "empty_loop": (empty_loop, (x, np.zeros((B, 0)))),
        "guarded_max_empty": (guarded_max, (x, np.zeros((B, 0, 2)))),
        "guarded_max": (guarded_max, (x, rng.normal(size=(B, 2, 2)))),
        "constants": (constants, (x, a)),
        "nan_branch": (nan_branch, (np.array([0.3, 0.9, 0.5]), a)),
        "reshaped_carry": (reshaped_carry, (x, np.linspace(-0.7, 0.9, 12 * B).reshape(B, 3, 4))),
        "nested_literal": (nested_literal, (x, a)),
        "swaps_in_loop": (swaps_in_loop, (x, a)),
        "swap_written": (swap_written, (x, a)),
        "saved_after_swap": (saved_then_written_after_swap, (x, a[:, :3])),
        "saved_written_twice": (saved_then_written_twice, (x, a[:, :3])),
        "saved_as_second_name": (saved_then_written_as_second_name, (x, a)),
        "pingpong_jacobi": (pingpong_jacobi, (x, a)),
        "pingpong_third_name": (pingpong_through_a_third_name, (x, a)),
        "pingpong_empty_like": (pingpong_empty_like, (x, a)),
        "swapped_then_written": (swapped_then_written, (x, a)),
        "ellipsis_written": (ellipsis_written, (x, a)),
        "ellipsis_columns": (ellipsis_columns, (x, np.linspace(-0.7, 0.9, 12 * B).reshape(B, 3, 4))),
        "copies_written": (copies_written, (x, a)),
        "covariance_in_rows": (covariance_in_rows, (x, a[:, :3])),
        "zip_of_rows": (zip_of_rows, (x, a)),
    }


def _diff(a, b):
    """Largest difference, NaN where one is NaN and the other is not (NaN in both agrees)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or np.any(np.isnan(a) != np.isnan(b)):
        return float("nan")
    both = ~np.isnan(a)
    return float(np.max(np.abs(a[both] - b[both]), initial=0.0))


def _empty_batch():
    """A batch of no examples (per-example arrays of shape (0, ...)): results with a batch axis of 0, a batch sum of
    zeros, as stacking / summing the CPU's per-example results over no examples gives (it raised NumPy's "cannot
    reshape array of size 0 into shape (0,newaxis)" preparing the kernel's arguments)."""
    w, X, t = np.array([0.5, -1.0, 2.0]), np.zeros((0, 3)), np.ones(3)
    out = {}
    for name, make, axes, args in [("grad", srcdiff.grad, (None, 0), (w, X)),
                                   ("value_and_grad", srcdiff.value_and_grad, (None, 0), (w, X)),
                                   ("batch_sum", srcdiff.grad, (None, 0), (w, X)),
                                   ("jvp", srcdiff.jvp, (None, 0, None), (w, X, t)),
                                   ("hvp", srcdiff.hvp, (None, 0, None), (w, X, t))]:
        try:
            got = srcdiff.cuda.vmap(make(empty_loop_w, wrt=0), in_axes=axes, batch_sum=name == "batch_sum")(*args)
            leaves = got if isinstance(got, tuple) else (got,)
            out[name] = [[list(np.shape(v)), float(np.sum(np.abs(v)))] for v in leaves]
        except Exception as ex:
            out[name] = f"{type(ex).__name__}: {ex}"
    return out


def empty_loop_w(w, x):
    """A per-example loop (for the batch of no examples)."""
    s = 0.0
    for i in range(x.shape[0]):
        s += np.tanh(w[i] * x[i])
    return s * s


def _run_all():
    res = {}
    for name, (f, args) in _data().items():
        try:
            wrt = tuple(range(len(args)))
            got = srcdiff.cuda.vmap(srcdiff.value_and_grad(f, wrt=wrt), in_axes=(0,) * len(args), max_trip=8)(*args)
            dev = np.concatenate([np.reshape(got[0], (B, 1))] + [np.reshape(t, (B, -1)) for t in got[1]], axis=1)
            cpu_g = srcdiff.value_and_grad(f, wrt=wrt, jit=False)
            cpu, fd = [], []
            for i in range(B):
                ex = [a[i] for a in args]
                v, g = cpu_g(*ex)
                cpu.append(np.concatenate([[v], flat(g)]))
                fd.append(np.concatenate([[f(*ex)], central_differences(f, ex)]) if np.isfinite(v) else cpu[-1])
            cpu, fd = np.array(cpu), np.array(fd)
            res[name] = {"vs_cpu": _diff(dev, cpu), "cpu_vs_fd": _diff(cpu, fd), "nans": int(np.isnan(cpu).sum()),
                         "scale": float(np.max(np.abs(cpu[~np.isnan(cpu)]))), "shape": list(dev.shape)}
        except Exception as ex:  # reported to the parent test
            res[name] = f"{type(ex).__name__}: {ex}"
    # forward-mode kernels: over an array with no elements, and over a tuple of pairs of arrays
    x = _data()["empty_matrix"][1][0]
    a, M = np.linspace(-1.0, 1.1, 3 * B).reshape(B, 3), np.linspace(-0.7, 0.9, 9 * B).reshape(B, 3, 3)
    for name, f, args, T in [("jvp_empty", empty_matrix, (x, np.zeros((B, 0, 3))), (np.ones(B), np.zeros((B, 0, 3)))),
                             ("jvp_pairs", pairs_loop, (x, a, M), (np.ones(B), np.cos(a), np.sin(M))),
                             ("jvp_computed_pairs", computed_pairs_loop, (x, a, M), (np.ones(B), np.cos(a), np.sin(M))),
                             ("jvp_carried_tuple", carried_tuple, (x, a, M), (np.ones(B), np.cos(a), np.sin(M))),
                             ("jvp_stack_popped", stack_popped, (x, a), (np.ones(B), np.cos(a))),
                             ("jvp_ellipsis_written", ellipsis_written, (x, a), (np.ones(B), np.cos(a))),
                             ("jvp_zip_of_rows", zip_of_rows, (x, a), (np.ones(B), np.cos(a)))]:
        try:
            wrt = tuple(range(len(args)))
            jv = srcdiff.jvp(f, wrt=wrt, jit=False)
            got = srcdiff.cuda.vmap(srcdiff.jvp(f, wrt=wrt), in_axes=(0,) * len(args) + ((0,) * len(args),))(*args, T)
            cpu = np.array([jv(*[t[i] for t in args], tuple(t[i] for t in T)) for i in range(B)])
            fd = [float(np.dot(central_differences(f, [t[i] for t in args]),
                               np.concatenate([np.ravel(t[i]) for t in T]))) for i in range(B)]
            res[name] = {"vs_cpu": _diff(np.stack(got, axis=1), cpu), "scale": float(np.max(np.abs(cpu))),
                         "cpu_vs_fd": _diff(cpu[:, 1], fd)}
        except Exception as ex:
            res[name] = f"{type(ex).__name__}: {ex}"
    res["empty_batch"] = _empty_batch()
    # np.max of no elements: NumPy raises; the kernel reports the user's line
    try:
        f, (x, _) = empty_max, _data()["empty_matrix"][1]
        srcdiff.cuda.vmap(srcdiff.grad(empty_max, wrt=(0, 1)), in_axes=(0, 0))(x, np.zeros((B, 0, 3)))
        res["empty_max"] = "no error"
    except srcdiff.SrcdiffError as ex:
        res["empty_max"] = str(ex)
    except Exception as ex:
        res["empty_max"] = f"internal {type(ex).__name__}: {ex}"
    try:        # hvp: the line of the gradient it differentiates is not the user's
        x = _data()["empty_matrix"][1][0]
        M = np.zeros((B, 0, 3))
        srcdiff.cuda.vmap(srcdiff.hvp(empty_max, wrt=(0, 1)), in_axes=(0, 0, 0))(x, M, (x, M))
        res["empty_max_hvp"] = "no error"
    except Exception as ex:
        res["empty_max_hvp"] = f"{type(ex).__name__}: {ex}"
    return res


# ---- pytest ------------------------------------------------------------------------------------------
if __name__ != "__main__":
    import pytest
    import cuda_sim

    results = cuda_sim.results_fixture(__file__)

    @pytest.mark.parametrize("name", ["empty_matrix", "empty_columns", "empty_mean", "empty_loop", "guarded_max_empty",
                                      "guarded_max", "constants", "nan_branch", "reshaped_carry", "nested_literal",
                                      "swaps_in_loop", "swap_written", "saved_after_swap", "saved_written_twice",
                                      "saved_as_second_name", "pingpong_jacobi", "pingpong_third_name",
                                      "pingpong_empty_like", "swapped_then_written", "ellipsis_written",
                                      "ellipsis_columns", "copies_written", "covariance_in_rows", "zip_of_rows"])
    def test_matches_cpu(results, name):
        r = results[name]
        assert isinstance(r, dict), r
        assert r["scale"] > 1e-3, r                                  # (a value that is not zero)
        assert r["vs_cpu"] <= 1e-10 * max(1.0, r["scale"]), r        # NaN (a NaN on one side only) fails
        assert r["cpu_vs_fd"] <= 1e-5 * max(1.0, r["scale"]), r

    def test_nans_where_numpy_gives_them(results):
        """The mean of no elements and the branch taking np.nan: NaN on the CPU, which the kernel matches."""
        assert results["empty_mean"]["nans"] == 2 * B, results["empty_mean"]     # value and d/dx
        assert results["nan_branch"]["nans"] == 1, results["nan_branch"]          # one example's value

    @pytest.mark.parametrize("name", ["jvp_empty", "jvp_pairs", "jvp_computed_pairs", "jvp_carried_tuple",
                                      "jvp_stack_popped", "jvp_ellipsis_written", "jvp_zip_of_rows"])
    def test_jvp_matches_cpu(results, name):
        r = results[name]
        assert isinstance(r, dict), r
        assert r["scale"] > 1e-3 and r["vs_cpu"] <= 1e-10 * max(1.0, r["scale"]), r
        assert r["cpu_vs_fd"] <= 1e-5 * max(1.0, r["scale"]), r

    def test_nested_literal_compiles_to_ptx():
        x, a = _data()["nested_literal"][1]
        k = srcdiff.cuda.vmap(srcdiff.grad(nested_literal, wrt=(0, 1)), in_axes=(0, 0))
        assert ".target sm_90" in k.ptx(x, a, cc=(9, 0))

    @pytest.mark.parametrize("make", [srcdiff.jvp, srcdiff.hvp])
    def test_carried_tuple_compiles_to_ptx(make):
        """numba-cuda types the kernel whose tuple carried through a loop became one name per item."""
        x, a = np.linspace(0.2, 0.8, B), np.linspace(-1.0, 1.1, 3 * B).reshape(B, 3)
        M = np.linspace(-0.7, 0.9, 9 * B).reshape(B, 3, 3)
        k = srcdiff.cuda.vmap(make(carried_tuple, wrt=(0, 1, 2)), in_axes=(0, 0, 0, (0, 0, 0)))
        assert ".target sm_90" in k.ptx(x, a, M, (x, a, M), cc=(9, 0))
        assert "st_at1" in srcdiff.source(k) or make is srcdiff.hvp

    def test_batch_of_no_examples(results):
        """Stacked results with a batch axis of 0, and a batch sum of zeros, as NumPy stacks / sums no examples."""
        r = results["empty_batch"]
        assert r == {"grad": [[[0, 3], 0.0]], "value_and_grad": [[[0], 0.0], [[0, 3], 0.0]],
                     "batch_sum": [[[3], 0.0]], "jvp": [[[0], 0.0], [[0], 0.0]], "hvp": [[[0, 3], 0.0]]}, r

    def test_max_of_no_elements_names_the_line(results):
        msg = results["empty_max"]
        assert re.search(r"test_cuda_edges\.py:\d+: .*np\.max\(\.\.\.\) of an array with no elements .*shape \(0, 3\)",
                         msg), msg
        assert "return x * np.max(M) + x" in msg and "hint:" in msg, msg

    def test_max_of_no_elements_in_hvp_names_the_users_line(results):
        """hvp's kernel reported the line of the gradient it differentiates, in srcdiff's cache (`line 15: result =
        np.max(M)` of empty_max_grad_....py), not the user's."""
        msg = results["empty_max_hvp"]
        line = empty_max.__code__.co_firstlineno + 1
        assert msg.startswith(f"SrcdiffError: {__file__.replace('.pyc', '.py')}:{line}: "), msg
        assert "\n    line %d: return x * np.max(M) + x\n" % line in msg, msg

    def test_ptx_of_empty_arrays():
        """numba declines a cuda.local.array of 0 elements in PTX: arrays with none get one, never read."""
        x, M, v = _data()["empty_columns"][1]
        for g in (srcdiff.grad(empty_columns, wrt=(0, 1, 2)), srcdiff.grad(empty_matrix, wrt=1)):
            k = srcdiff.cuda.vmap(g, in_axes=0)
            ptx = k.ptx(x, M, v) if g.__name__.startswith("empty_columns") else k.ptx(x, np.zeros((B, 0, 3)))
            assert ".entry" in ptx
            assert re.search(r"local\.array\(0\b", srcdiff.source(k)) is None

    def test_ptx_of_swapped_buffers():
        """numba-cuda types the kernels of buffers swapped in a loop (the simulator runs them: test_matches_cpu)."""
        x, a = _data()["swaps_in_loop"][1]
        for f in (swaps_in_loop, swap_written):
            assert ".entry" in srcdiff.cuda.vmap(srcdiff.grad(f, wrt=(0, 1)), in_axes=0).ptx(x, a)

    def test_ptx_of_a_shape_test():
        """numba-cuda types the kernel (the simulator does not): the backward loop's shape test of reshaped_carry
        compares two tuples of constants, or is gone where the gradient knows the adjoint has the matrix's shape
        (the shape classes of adjoints, 2026-11-27): no shape is read at run time on the device."""
        x, M = _data()["reshaped_carry"][1]
        k = srcdiff.cuda.vmap(srcdiff.grad(reshaped_carry, wrt=(0, 1)), in_axes=0, max_trip=2)   # (its loop breaks)
        assert ".entry" in k.ptx(x, M)
        src = srcdiff.source(k)
        assert "np.shape(" not in src and ".shape" not in src.replace("cu_out.shape", ""), src

    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
    def test_array_of_an_appended_list_is_declined(make):
        """np.array(out) of a list built with appends (reverse mode: rt.stack_array) has a length counted at run time:
        declined at the user's line, naming the construct (it said "the call rt.stack_array(...)")."""
        x, a = np.linspace(0.2, 0.8, B), np.linspace(-1.0, 1.0, 4 * B).reshape(B, 4)
        args, axes = ((x, a), (0, 0)) if make is srcdiff.grad else ((x, a, (x, a)), (0, 0, (0, 0)))
        k = srcdiff.cuda.vmap(make(appended_list, wrt=(0, 1)), in_axes=axes)
        with pytest.raises(srcdiff.SrcdiffError, match=r"test_cuda_edges\.py:\d+: cannot generate CUDA code for "
                           r"appended_list: an array of a list built with appends(.|\n)*hint: fill a preallocated array"):
            k.ptx(*args)

    def test_declined_in_an_inlined_helper_names_the_helpers_line():
        """A statement the gradient keeps of an inlined helper was reported at the nearest line of the caller's
        above it, or, with none (a grad whose first statements are the helper's), at no line at all."""
        x, a = np.linspace(0.2, 0.8, B), np.linspace(-1.0, 1.0, 4 * B).reshape(B, 4)
        k = srcdiff.cuda.vmap(srcdiff.grad(calls_summed_appends, wrt=(0, 1)), in_axes=(0, 0))
        with pytest.raises(srcdiff.SrcdiffError) as info:
            k.ptx(x, a)
        line = summed_appends.__code__.co_firstlineno + 6       # return np.sum(np.array(out))
        assert re.search(rf"test_cuda_edges\.py:{line}: cannot generate CUDA code for calls_summed_appends: ",
                         str(info.value)), str(info.value)
        assert "(in summed_appends, called from calls_summed_appends)" in str(info.value), str(info.value)

    def test_constants_in_the_kernel_source():
        """-np.inf and the others are numbers in the kernel, not declined (they were: "attribute .inf")."""
        x, a = _data()["constants"][1]
        k = srcdiff.cuda.vmap(srcdiff.grad(constants, wrt=(0, 1)), in_axes=0)
        ptx = k.ptx(x, a)
        assert ".entry" in ptx
        src = srcdiff.source(k)
        assert "math.inf" in src and repr(math.pi) in src, src
else:
    print(json.dumps(_run_all()))
