"""Programs written by hand in the twenty-seventh session (handwritten), each combining constructs of README's "What
it handles" in ways tests/fuzzgen.py does not generate, run through the entry points a user calls: value_and_grad,
grad, jvp, vjp, hvp, hessian, jacobian (both modes), `checkpoints=k`, both backends, and the inference library
(srcdiff.vi.hmm's E-step, srcdiff.vi.kalman's smoother, srcdiff.vi.elbo_grad) beside a user's own log Z written the
textbook way. The s programs: closures over loop variables, helpers with default and keyword-only parameters in
comprehensions, dict and list state through loops, np.where with writes, early returns in loops, float32, integer
arrays and 0-d arrays among the arguments, checkpointed loops whose bodies call helpers, branch and write in place,
HMM forward recursions (log-domain and scaled) and Kalman filters (covariance and information form). The t programs:
writes through views, aliases and overlapping slices. The u programs: checkpointed loops (lists appended in a while
loop, procedures writing into an array, inner loops with break, reversed and stepped ranges, dict, tuple and 0-d
state). The e programs: Python's binding rules (late-binding closures, a loop's iterable bound again in its body, a
comprehension's variable shadowing a parameter, loop variables read after the loop, builtins shadowed). The d
programs: values whose type changes in a loop (an int start adding floats, arrays that grow or shrink). The w
programs: array outputs (jacobian, vjp). The f programs: float32 arrays beside NumPy integers, float64 factories,
casts, 0-d arrays (the values' types). The g programs: integer and boolean state of checkpointed loops.

165 programs were written by hand (those here, a few more views written through and read, and nested
penalties over the s programs): 142 pass, 19 are declined with a message naming the line and what to write instead
(test_declines holds ten: writes through views or chained subscripts, a nested recursive def, a list's item
assigned, `.flat`, `.fill()`, `np.select`, an int start of a sum of arrays under Numba), 4 gave wrong results: d07
(`c = 0` before a loop adding floats to c) under Numba with `checkpoints=2`: d/dx [0, 1.8, 1.15, 1.25] for
[0, 1.8, 1.65, 1.75], fixed (test_int_start_of_a_float_checkpointed); three float32 values, open: value_and_grad's,
jvp's and vjp's value of `math.sqrt(np.sum(x * x))` and of `float(np.sum(x)) * 1.5` of a float32 x is an np.float32
where f's is a Python float (rounded: 0.6422616243362427 for 0.6422616242930411), and of `np.sum(x * c)` with
`c = np.float64(0.5)` an np.float32 0.5249999761581421 where f's is the float64 0.5249999985098839 (the generated
code writes np.float64(0.5) as float(0.5), which NumPy 2 takes as weak).
"""
import copy
import itertools

import numpy as np
import pytest

import srcdiff
from gradcheck import (assert_structures_close as _close, source_module,
                       structure_leaves as _leaves, structured_dot as _dot, structured_numerical_grad as _fd,
                       structured_shift as _shifted, structured_tangent as _tangent)

P = source_module("handwritten_twentyseventh", '''
import copy
import math
from collections import namedtuple

import numpy as np
from scipy.special import logsumexp, expit

Pt = namedtuple("Pt", ["w", "b"])


def s01_closure_list_of_lambdas_default(x):
    s = 0.0
    for k in range(3):
        g = lambda t, k=k: t * (k + 1.0) + x[k]
        for j in range(2):
            s = s + g(x[j]) ** 2
    return s


def helper_kw(v, c=2.0, *, p=1.0):
    return c * v ** 2 + p * np.sin(v)


def s03_helper_kw_in_comprehensions(x, a):
    s1 = sum(helper_kw(v, p=a) for v in x)
    s2 = sum(helper_kw(v, a, p=0.5) for v in x if v > 0.2)
    A = np.array([helper_kw(v, c=k + 1.0) for k, v in enumerate(x)])
    return s1 + s2 + np.sum(A * x)


def adam_step(st, g, t):
    m = 0.9 * st["m"] + 0.1 * g
    v = 0.99 * st["v"] + 0.01 * g * g
    return {"m": m, "v": v, "w": st["w"] - 0.1 * m / (np.sqrt(v) + 0.1)}


def s04_dict_state_from_helper_loop(w0):
    st = {"m": np.zeros_like(w0), "v": np.zeros_like(w0), "w": w0}
    for t in range(4):
        g = 2.0 * (st["w"] - 1.0) + np.cos(st["w"])
        st = adam_step(st, g, t)
    return np.sum(st["w"] ** 2)


def s05_list_state_while_break(x):
    hist = [x[0]]
    y = x[0]
    k = 0
    while k < 8:
        y = y * 0.9 + 0.1 * np.sin(y + x[1])
        hist.append(y)
        k += 1
        if y < 0.05:
            break
    H = np.array(hist)
    return np.sum(H ** 2) + hist[-1]


def s06_where_written_loop(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y = np.where(np.arange(len(x)) == i, x * y[i - 1] + x, y)
        y[i] = y[i] * 0.5 if y[i] > 0.2 else y[i] + 0.1
    return np.sum(y ** 2)


def s07_early_return_inner_loop_write(M):
    A = M.copy()
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            A[i, j] = A[i, j] * A[i - 1, j] + 0.1
            if A[i, j] > 0.9:
                return np.sum(A * M)
    return np.sum(A)


def s08_int_array_arg(x, idx, w):
    y = x[idx] * w
    z = np.zeros(len(x))
    z[idx] += y * idx
    return np.sum(z ** 2) + np.sum(x[:3] * idx)


def s09_zero_d_arg(a, x):
    s = a * x
    for i in range(3):
        s = s + np.sin(a) * s
    return np.sum(s) + a ** 2


def s10_float32_loop_write(x):
    y = x.copy()
    for i in range(1, len(y)):
        y[i] = y[i - 1] * 0.5 + y[i] ** 2
    return np.sum(y * x)


def s11_textbook_hmm_logZ(log_pi, log_A, log_B, obs):
    alpha = log_pi + log_B[:, obs[0]]
    for t in range(1, len(obs)):
        alpha = logsumexp(alpha[:, None] + log_A, axis=0) + log_B[:, obs[t]]
    return logsumexp(alpha)


def s12_scaled_forward(pi, A, B, obs):
    alpha = pi * B[:, obs[0]]
    c = np.sum(alpha)
    alpha /= c
    ll = np.log(c)
    for t in range(1, len(obs)):
        alpha = (alpha @ A) * B[:, obs[t]]
        c = alpha.sum()
        alpha = alpha / c
        ll += np.log(c)
    return ll


def s13_kalman_covariance_form(y, a, q, r):
    m = 0.0
    P = 1.0
    ll = 0.0
    for t in range(len(y)):
        m = a * m
        P = a * a * P + q
        S = P + r
        K = P / S
        e = y[t] - m
        ll = ll - 0.5 * (np.log(2 * np.pi * S) + e * e / S)
        m = m + K * e
        P = (1 - K) * P
    return ll


def s14_kalman_matrix(Y, A, Q, R):
    n = A.shape[0]
    m = np.zeros(n)
    P = np.eye(n)
    ll = 0.0
    for t in range(Y.shape[0]):
        m = A @ m
        P = A @ P @ A.T + Q
        S = P + R
        e = Y[t] - m
        sign, logdet = np.linalg.slogdet(S)
        ll = ll - 0.5 * (logdet + e @ np.linalg.solve(S, e))
        K = P @ np.linalg.inv(S)
        m = m + K @ e
        P = P - K @ P
    return ll


def s15_ckpt_helper_branch_write(a, x):
    y = x.copy()
    tot = 0.0
    for t in range(12):
        if t % 3 == 0:
            y[t % len(y)] = helper_kw(y[t % len(y)], c=a)
        else:
            y = 0.9 * y + 0.05 * np.tanh(y)
        tot = tot + np.sum(y) * a
    return tot


def s16_ckpt_while_break_helper(a, y0):
    y = y0
    t = 0
    s = 0.0
    while t < 30:
        y = y + 0.05 * helper_kw(y, c=-a)
        s = s + np.sum(y * y)
        t += 1
        if s > 5.0:
            break
    return s


def s17_ckpt_traj_write(a, b):
    ys = np.zeros(11)
    ys[0] = 0.5
    for t in range(10):
        ys[t + 1] = ys[t] + 0.1 * (a * ys[t] - b * ys[t] ** 3)
        if ys[t + 1] > 1.0:
            ys[t + 1] = 1.0 + 0.1 * ys[t]
    return np.sum(ys * ys)


def s18_ckpt_early_return(a, x):
    y = x * 1.0
    for t in range(10):
        y = np.sin(y) * a + y
        if np.max(y) > 2.5:
            return np.sum(y) * t
    return np.sum(y ** 2)


def s19_namedtuple_sgd_loop(p, x, yv):
    for k in range(3):
        pred = x @ p.w + p.b
        r = pred - yv
        gw = x.T @ r
        gb = np.sum(r)
        p = p._replace(w=p.w - 0.05 * gw, b=p.b - 0.05 * gb)
    return np.sum((x @ p.w + p.b - yv) ** 2)


def s20_enumerate_dict_items_loop(params, x):
    h = x
    for i, (k, W) in enumerate(params.items()):
        h = np.tanh(W @ h) * (i + 1.0)
    return np.sum(h * h)


def s22_while_nested_for_continue(x):
    s = 0.0
    k = 0
    while k < 3:
        for j in range(len(x)):
            if (j + k) % 2 == 0:
                continue
            s = s + x[j] * np.cos(s)
        k += 1
    return s


def s23_tuple_of_arrays_unrolled(a, b):
    s = 0.0
    for z in (a, b, a - b):
        z2 = z.copy()
        z2[0] = z2[0] * 2.0
        s = s + np.sum(z2 * z)
    return s


def s24_matrix_col_writes_masked(M):
    A = M.copy()
    for j in range(A.shape[1]):
        col = A[:, j]
        A[:, j] = np.where(col > 0.3, col * 2.0, col ** 2)
    A[A > 0.5] = 0.5 * A[A > 0.5]
    return np.sum(A * M)


def s25_sum_start_helper_gen(x, a):
    def sq(v, s=1.0):
        return (v * s) ** 2
    return sum((sq(v, s=a) for v in x), 0.5) + min(sq(v) for v in x)


def s26_chained_cmp_and_or(x):
    s = 0.0
    for v in x:
        if 0.1 < v < 0.4 and v * 2 > 0.3 or v > 0.55:
            s = s + v ** 2
        else:
            s = s - np.exp(-v)
    return s


def s27_logsumexp_loop_inplace(x):
    L = np.zeros((3, 3))
    for i in range(3):
        L[i] = x * (i + 1.0)
        L[i, i] = -x[i]
    return logsumexp(L, axis=1) @ x


def s28_prev_array_in_branch(x):
    out = 0.0
    for i in range(len(x)):
        if i % 2 == 0:
            cur = x * x[i]
        else:
            cur = np.cos(x) + x[i]
        if i > 0:
            out = out + np.sum(prev * cur)
        prev = cur
    return out


def s29_swap_in_while(a, b):
    k = 0
    while a * b < 4.0 and k < 10:
        a, b = b, a + b * 0.5
        k += 1
    return a - b


def s30_factory_in_loop(x):
    def make(c):
        return lambda u: c * u * u
    s = 0.0
    for i in range(3):
        g = make(x[i])
        s = s + g(x[(i + 1) % 3])
    return s


def s31_two_returns_in_while(x):
    y = x.copy()
    n = 0
    while True:
        y = y * 0.8 + 0.05
        n += 1
        if np.sum(y) < 0.5:
            return np.sum(y) * n
        if n > 5:
            return np.prod(y)


def s32_math_and_np_mix(a, b):
    s = 0.0
    for k in range(1, 4):
        s += math.exp(-a * k) * math.sin(b / k) + np.log1p(a * b * k)
    return s + math.hypot(a, b)


def s33_int_scalar_and_float_mix(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i % len(x)] * (i / n) + x[i % len(x)] ** (i % 3)
    return s


def s34_cumsum_diff_write(x):
    c = np.cumsum(x)
    d = np.diff(c * c)
    d[::2] = -d[::2]
    return np.sum(d * x[1:])


def s35_elif_chain_helpers(x):
    def lo(v):
        return v * v
    def hi(v, k=3.0):
        return k * v
    s = 0.0
    for v in x:
        if v < 0.2:
            s = s + lo(v)
        elif v < 0.4:
            s = s + hi(v)
        elif v < 0.5:
            s = s + hi(v, k=v)
        else:
            s = s + lo(hi(v))
    return s


def s36_outer_update_loop(u, w):
    M = np.outer(u, w)
    for i in range(2):
        M = M + 0.1 * np.outer(M @ w, u)
        M[i, :] *= 0.5
    return np.sum(M ** 2)


def s37_list_of_arrays_stacked_ragged_rows(x):
    rows = []
    for i in range(3):
        r = x[i:i + 2].copy()
        r[0] = r[0] * (i + 1.0)
        rows.append(r)
    R = np.stack(rows)
    return np.sum(R @ x[:2])


def s38_norm_clip_loop(x):
    y = x.copy()
    for t in range(4):
        n = np.linalg.norm(y)
        if n > 1.0:
            y = y / n
        y = y + 0.3 * np.sin(y)
    return np.sum(y * np.arange(1.0, len(y) + 1))


def s39_dict_get_default_loop(p, x):
    s = 0.0
    for t in range(2):
        s = s + np.sum(p.get("W", 0.0) * x) + p.get("c", 0.5) * t
    return s


def s40_kw_only_default_reads_arg(x, a):
    def f2(z, *, k=a, m=2):
        return k * z ** m
    return sum(f2(v) for v in x) + f2(a, m=3) + f2(x[0], k=1.0)


def s41_viterbi_max_logdomain(log_A, log_b):
    delta = log_b[0].copy()
    for t in range(1, log_b.shape[0]):
        delta = np.max(delta[:, None] + log_A, axis=0) + log_b[t]
    return np.max(delta)


def s42_cholesky_loop(x):
    S = np.eye(3) + np.outer(x, x)
    tot = 0.0
    for k in range(2):
        L = np.linalg.cholesky(S)
        tot = tot + np.sum(np.log(np.diag(L)))
        S = S + 0.1 * np.outer(L[:, k], L[:, k])
    return tot


def s43_break_else_while_write(x):
    y = x.copy()
    for t in range(3):
        i = 0
        while i < len(y):
            y[i] = y[i] * 0.9 + 0.1 * y[i - 1]
            if y[i] > 0.7:
                break
            i += 1
        else:
            y[0] = y[0] + 0.05
    return np.sum(y ** 2)


def s44_assert_print_in_loop(x):
    s = 0.0
    for i in range(len(x)):
        assert x[i] > -10.0
        s = s + x[i] * np.exp(-s)
    return s


def s45_neg_index_writes_in_branch(x):
    y = np.zeros(4)
    for i in range(4):
        if x[i] > 0.3:
            y[-i - 1] = x[i] ** 2
        else:
            y[i - 1] += x[i]
    return np.sum(y * y) + y[-1]


def s46_reversed_range_step_write(x):
    y = x.copy()
    for i in reversed(range(1, len(y), 2)):
        y[i - 1] = y[i - 1] * y[i] + 0.5
    return np.sum(y ** 2)


def s47_comprehension_two_clauses_helper(M, a):
    def k(u, v, s=1.0):
        return np.exp(-s * (u - v) ** 2)
    return sum(k(M[i, 0], M[j, 1], s=a) for i in range(M.shape[0]) for j in range(i + 1))


def s48_softmax_attention_loop(Q, K):
    out = np.zeros(Q.shape[1])
    for i in range(Q.shape[0]):
        s = K @ Q[i]
        p = np.exp(s - np.max(s))
        p = p / np.sum(p)
        out = out + p @ K
    return np.sum(out ** 2)


def t09_overlap_slice_assign(x):
    y = x.copy()
    y[1:] = y[:-1] * 2.0
    return np.sum(y * x)


def t10_overlap_slice_augassign(x):
    y = x.copy()
    y[1:] += y[:-1]
    return np.sum(y * y)


def t11_closure_writes_captured(x):
    buf = np.zeros(3)

    def put(i, v):
        buf[i] = v

    for i in range(3):
        put(i, x[i] ** 2)
    return np.sum(buf * x)


def t12_lambda_default_array_written_later(x):
    buf = x.copy()
    g = lambda t, b=buf: t * b[0]
    buf[0] = x[1] ** 2
    return g(x[2])


def t16_write_same_elem_read(x):
    y = x.copy()
    for i in range(len(y)):
        y[i] += y[i] * y[(i + 1) % len(y)]
    return np.sum(y)


def t17_floor_index(x, v):
    idx = np.floor(x * 4).astype(int)
    return np.sum(v[idx] * x)


def t21_mask_write_loop_changing(x):
    y = x.copy()
    for t in range(3):
        m = y > 0.3
        y[m] = np.sqrt(y[m]) * 0.5
    return np.sum(y ** 2)


def t23_nested_def_reads_loop_var_late(x):
    fs = []
    s = 0.0
    for k in range(3):
        def g(t):
            return t * x[k]
        s = s + g(1.0)
    return s + g(2.0)


def t24_diag_view_write(M):
    A = M.copy()
    d = A.diagonal()
    return np.sum(d * d) + np.sum(A)


def t25_where_scalar_branch_write(x, a):
    out = np.where(x > a, x - a, 0.0)
    out += a * out ** 2
    out[out > 0.1] = 0.1 + np.log1p(out[out > 0.1])
    return np.sum(out)


def t26_write_through_alias_then_rebind(x):
    y = x.copy()
    z = y
    z[0] = z[0] * 2.0
    z = z * 3.0
    return np.sum(y * z)


def t30_two_names_swap_write_loop(x):
    a = x.copy()
    b = np.ones_like(x)
    for t in range(3):
        a, b = b, a
        b[t] = b[t] * a[t] + 0.5
    return np.sum(a * b)


def t31_setitem_with_tuple_index(M, v):
    A = M.copy()
    ij = (1, 0)
    A[ij] = v * A[0, 1]
    return np.sum(A * A)


def t32_list_index_write(x):
    y = x.copy()
    y[[0, 2]] = y[[1, 1]] * 2.0
    return np.sum(y * x)


def t33_augassign_fancy_repeated(x):
    y = np.zeros(3)
    idx = np.array([0, 0, 1])
    y[idx] += x
    return np.sum(y * y)


def t34_subscript_of_call_write(x):
    y = np.abs(x)
    y[:2] = y[:2] ** 2
    return np.sum(y)


def t35_augassign_on_view_in_branch(x):
    y = x.copy()
    for i in range(3):
        if x[i] > 0.3:
            y[i:] += x[i]
        else:
            y[:i] -= 0.5 * x[i]
    return np.sum(y ** 2)


def t04_chained_subscript_write(M):
    A = M.copy()
    A[0][1] = A[1][0] * 2.0
    return np.sum(A ** 2)


def t06_transpose_view_write(M):
    A = M.copy()
    B = A.T
    B[0, 1] = B[0, 1] * 5.0
    return np.sum(A * M)


def t07_row_iter_inplace(M):
    A = M.copy()
    for row in A:
        row[0] = row[0] * row[1]
    return np.sum(A ** 2)


def t18_recursive_power(x, n):
    def power(v, k):
        if k == 0:
            return 1.0
        return v * power(v, k - 1)
    return sum(power(v, n) for v in x)


def t19_list_literal_item_assign(a, b):
    L = [a, b, a * b]
    for i in range(3):
        L[i] = L[i] * (i + 1.0)
    return L[0] + L[1] * L[2]


def t28_flat_assign(x):
    y = x.copy()
    y.flat[1] = y[0] * 3.0
    return np.sum(y ** 2)


def t29_fill(x):
    y = x.copy()
    y[1:].fill(0.5)
    return np.sum(y * x)


def bump(buf, i, v):
    buf[i] += v


def u01_ckpt_list_append_while(x, a):
    traj = []
    y = x.copy()
    k = 0
    while k < 9:
        y = y + 0.1 * np.tanh(a * y[::-1])
        traj.append(y * y[0])
        k += 1
        if np.sum(y) > 3.0:
            break
    T = np.array(traj)
    return np.sum(T[:, 0] * T[:, -1])


def u02_ckpt_procedure_writes(x, a):
    buf = np.zeros(3)
    for t in range(9):
        if x[t % 3] * a > 0.1:
            bump(buf, t % 3, a * x[t % 3] + buf[(t + 1) % 3] * 0.5)
        else:
            bump(buf, (t + 2) % 3, np.sin(buf[t % 3]))
    return np.sum(buf ** 2)


def u03_ckpt_inner_loop_break(M, a):
    v = np.ones(M.shape[1])
    s = 0.0
    for t in range(6):
        for i in range(M.shape[0]):
            v = np.tanh(M[i] * v + a)
            if np.sum(v) > 1.5:
                break
        s = s + np.sum(v) * (t + 1)
    return s


def u04_ckpt_reversed_range_traj(a, y0):
    ys = np.zeros((8, len(y0)))
    ys[7] = y0
    for t in reversed(range(7)):
        ys[t] = ys[t + 1] - 0.1 * a * np.sin(ys[t + 1])
    return np.sum(ys ** 2)


def u05_ckpt_step_range_continue(x):
    s = 0.0
    y = x.copy()
    for t in range(0, 12, 3):
        if t == 6:
            continue
        y[t % len(y)] = y[t % len(y)] * np.cos(s)
        s = s + np.sum(y * y)
    return s


def u06_ckpt_dict_state(p, x):
    st = {"h": x, "c": np.zeros_like(x)}
    for t in range(5):
        h = np.tanh(p["W"] @ st["h"] + p["b"])
        st = {"h": h, "c": st["c"] + h}
    return np.sum(st["c"] ** 2)


def u07_ckpt_tuple_state_swap(a, b):
    u, v = a, b
    for t in range(10):
        u, v = v, u + 0.1 * np.sin(v) * u
        if u * v > 5.0:
            break
    return u * v + u


def u08_ckpt_zero_d_state(x):
    s = np.zeros(())
    for i in range(8):
        s[()] += x[i % len(x)] * np.cos(s[()])
    return float(s) ** 2


def u09_ckpt_prev_in_branch(x):
    s = 0.0
    for i in range(len(x)):
        if i % 2 == 0:
            cur = x[i] ** 2
        else:
            cur = np.sin(x[i])
        if i > 0:
            s = s + prev * cur
        prev = cur
    return s


def u10_ckpt_nested_helper_early_return(x, a):
    def settle(y):
        for k in range(6):
            if np.sum(y * y) < 0.3:
                return y
            y = 0.8 * y + 0.01 * a
        return y
    tot = 0.0
    for t in range(5):
        z = settle(x * (t + 1.0) * a)
        tot = tot + np.sum(z * x)
    return tot


def u11_ckpt_mask_writes(x):
    y = x.copy()
    for t in range(6):
        m = y > 0.3
        y[m] = y[m] * 0.7
        y[~m] = y[~m] + 0.1 * np.sin(y[~m] * t)
    return np.sum(y ** 3)


def u12_ckpt_where_loop(x, a):
    y = x.copy()
    for t in range(7):
        y = np.where(y > a, y - a * 0.1, y * 1.2)
    return np.sum(y * y)


def e01_late_binding_scalar(x):
    c = 1.0
    g = lambda t: t * c
    c = x[0] ** 2
    return g(x[1])


def e02_closure_reads_updated_carry(x):
    s = 0.0
    for i in range(3):
        g = lambda t: t + s * x[i]
        s = s + x[i]
        s = g(s)
    return s


def e03_early_binding_default(x):
    c = x[0]
    def g(t, c=c):
        return t * c
    c = x[1] * 3.0
    return g(x[2]) + c


def e04_rebind_iterable_in_loop(x):
    s = 0.0
    for v in x:
        x = x * 0.5
        s = s + v * np.sum(x)
    return s


def e05_write_iterated_array(x):
    y = x.copy()
    s = 0.0
    for i, v in enumerate(y):
        if i + 1 < len(y):
            y[i + 1] += v * 0.5
        s = s + v * v
    return s


def e06_rebind_matrix_rows_loop(M):
    s = 0.0
    for row in M:
        M = M * 0.5
        s = s + np.sum(row * M[0])
    return s


def e07_range_len_fixed(x):
    y = x
    s = 0.0
    for i in range(len(y)):
        y = y[:-1] if len(y) > 1 else y
        s = s + np.sum(y) * x[i]
    return s


def e08_comprehension_var_shadow(x, v):
    s = sum(v * v for v in x)
    return s * v


def e09_loop_var_after_loop(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + x[i]
    for v in x:
        s = s * 0.5 + v
    return s * x[i] + v


def e10_loop_var_after_break(x):
    for i in range(len(x)):
        if x[i] > 0.4:
            break
    return x[i] * i + x[0]


def e11_rebind_loop_var(x):
    s = 0.0
    for i in range(3):
        s = s + x[i]
        i = i + 1
        s = s * x[i % 3]
    return s


def e12_shadow_sum_builtin(x):
    sum = 0.0
    for v in x:
        sum += v ** 2
    abs = np.abs(x[0] - 0.3)
    return sum + abs


def e13_listcomp_var_shadow(x, i):
    y = np.array([x[i] * 2.0 for i in range(len(x))])
    return np.sum(y) * i


def e14_while_cond_reads_written(x):
    y = x.copy()
    k = 0
    while y[k % len(y)] < 0.8 and k < 10:
        y[k % len(y)] = y[k % len(y)] * 1.5 + 0.05
        k += 1
    return np.sum(y ** 2)


def e15_closure_reads_outer_rebound_in_loop(x):
    w = x[0]
    def g(t):
        return t * w
    s = 0.0
    for i in range(3):
        s = s + g(x[i])
        w = w + x[i]
    return s


def e16_nested_closure_chain(x):
    a = x[0]
    def outer(t):
        def inner(u):
            return u * a + t
        return inner(t * 2.0)
    a = a * 3.0
    return outer(x[1]) + outer(x[2])


def e17_default_from_param(x, scale=2.0):
    def g(t, s=scale):
        return s * t * t
    return sum(g(v) for v in x) + g(x[0], s=x[1])


def e18_for_zip_rebind(x, y):
    s = 0.0
    for a, b in zip(x, y):
        y = y * 2.0
        s = s + a * b + np.sum(y)
    return s


def e19_while_else_return(x):
    k = 0
    s = 0.0
    while k < len(x):
        s = s + x[k] ** 2
        if s > 10.0:
            return -s
        k += 1
    else:
        s = s * 2.0
    return s


def e20_swap_closure(x):
    a, b = x[0], x[1]
    g = lambda: a * b
    a, b = b * 2.0, a
    return g() + a


def d01_int_init_accum(x):
    s = 0
    for v in x:
        s += v * v
    return s


def d03_growing_array_loop(x):
    y = x[:1]
    for i in range(1, len(x)):
        y = np.concatenate([y, [y[-1] * x[i]]])
    return np.sum(y ** 2)


def d04_growing_append(x):
    y = np.zeros(0)
    for i in range(len(x)):
        y = np.append(y, x[i] ** 2 + np.sum(y))
    return np.sum(y)


def d05_zero_trip(x, n):
    y = x.copy()
    s = 0.5
    for t in range(n):
        y[t % len(y)] = y[t % len(y)] * s
        s = s + np.sum(y)
    return s * np.sum(y)


def d06_zero_trip_while(x, n):
    y = x * 1.0
    k = 0
    while k < n:
        y = np.sin(y) + y
        k += 1
    return np.sum(y * y)


def d07_int_then_float_branch(x):
    c = 0
    s = 0.0
    for v in x:
        if v > 0.3:
            c = c + v
        s = s + c * v
    return s


def d08_shrinking_slice_loop(x):
    y = x
    s = 0.0
    while len(y) > 1:
        y = y[1:] * y[:-1]
        s = s + np.sum(y)
    return s


def d09_reshape_change_loop(x):
    y = x
    for t in range(2):
        y = y.reshape(2, -1).T.ravel() * (t + 1.0)
    return np.sum(y * x)


def d10_bool_accum(x):
    hits = 0
    s = 0.0
    for v in x:
        hits += v > 0.3
        s = s + v * hits
    return s


def d02_scalar_becomes_array(x):
    total = 0
    for i in range(3):
        total = total + x * (i + 1.0)
    return np.sum(total ** 2)


def w01_vec_loop_writes(x, a):
    y = x.copy()
    for i in range(1, len(y)):
        if y[i - 1] > 0.3:
            y[i] = y[i] * a + y[i - 1] ** 2
        else:
            y[i] -= a * y[i - 1]
    return y


def w02_vec_where_branch(x):
    y = np.where(x > 0.3, np.sin(x), x ** 3)
    y[1:] += y[:-1] * 0.5
    return y


def w03_matrix_out_helper(u, v):
    def k(a, b, s=1.0):
        return np.exp(-s * (a - b) ** 2)
    M = np.zeros((len(u), len(v)))
    for i in range(len(u)):
        for j in range(len(v)):
            M[i, j] = k(u[i], v[j], s=2.0) * u[i]
    return M


def w04_vec_list_stack(x):
    out = []
    y = x
    for t in range(3):
        y = np.tanh(y + t * 0.1) * x
        out.append(y.sum())
    return np.array(out)


def w05_vec_early_return(x, a):
    y = x * a
    for t in range(4):
        y = y + 0.1 * np.sin(y)
        if np.sum(y) > 1.5:
            return y * 2.0
    return y


def user_logZ_obs_written(log_pi, log_A, log_b):
    T = log_b.shape[0]
    alphas = np.zeros((T, log_pi.shape[0]))
    alphas[0] = log_pi + log_b[0]
    for t in range(1, T):
        m = np.max(alphas[t - 1])
        alphas[t] = m + np.log(np.exp(alphas[t - 1] - m) @ np.exp(log_A)) + log_b[t]
    return logsumexp(alphas[T - 1])


def user_kalman_filter(y, A, Q, C, R, mu0, P0):
    m = mu0
    P = P0
    ll = 0.0
    for t in range(y.shape[0]):
        if t > 0:
            m = A @ m
            P = A @ P @ A.T + Q
        S = C @ P @ C.T + R
        e = y[t] - C @ m
        Si = np.linalg.inv(S)
        sign, logdet = np.linalg.slogdet(2.0 * np.pi * S)
        ll = ll - 0.5 * (logdet + e @ Si @ e)
        K = P @ C.T @ Si
        m = m + K @ e
        P = P - K @ C @ P
    return ll


def user_info_logZ(h, J, L):
    n = h.shape[1]
    Jf = J[0]
    hf = h[0]
    total = 0.0
    for t in range(1, h.shape[0]):
        Jinv = np.linalg.inv(Jf)
        total = total + 0.5 * hf @ Jinv @ hf - 0.5 * np.linalg.slogdet(Jf)[1] + 0.5 * n * np.log(2 * np.pi)
        Jf = J[t] - L[t - 1] @ Jinv @ L[t - 1].T
        hf = h[t] + L[t - 1] @ Jinv @ hf
    total = total + 0.5 * hf @ np.linalg.solve(Jf, hf) - 0.5 * np.linalg.slogdet(Jf)[1] + 0.5 * n * np.log(2 * np.pi)
    return total


def _lik_term(z, xi, yi, w=1.0):
    s = xi @ z
    return w * (yi * s - np.logaddexp(0.0, s))


def user_log_joint(z, X, y):
    lp = -0.5 * np.sum(z * z)
    for i in range(X.shape[0]):
        if y[i] > 0.5:
            lp = lp + _lik_term(z, X[i], y[i])
        else:
            lp = lp + _lik_term(z, X[i], y[i], w=1.0)
    return lp


def user_log_lik(z, X, y):
    return sum(_lik_term(z, X[i], y[i]) for i in range(X.shape[0]))


def user_conj2(z, xs):
    return -0.5 * np.sum(z * z) - 0.5 * sum((v - z[0] - z[1]) ** 2 for v in xs)


def s02_view_write_in_while_branch(x):
    y = x.copy()
    i = 0
    while i < 6:
        i += 1
        v = y[1:3]
        if x[i % 3] > 0.3:
            v[0] = v[0] * x[0]
            continue
        v[1] += 0.2 * v[0]
        if np.sum(v) > 3.0:
            break
    return np.sum(v * v)


def s21_select_with_writes(x):
    y = np.select([x < 0.2, x < 0.4], [x * x, np.sin(x)], default=1.0 - x)
    y[0] = y[-1] * 2.0
    return np.sum(y ** 2)


def f01_f32_times_int_array(x, counts):
    return np.sum(x * counts)


def f02_f32_times_arange(x):
    return np.sum(x * np.arange(len(x)))


def f03_f32_times_np_int_scalar(x, n):
    return np.sum(x) * n


def f04_f32_linspace(x):
    return np.sum(np.linspace(0.0, 1.0, len(x)) * x)


def f07_f32_loop_int_counts(x, counts):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * counts[i]
    return s


def f08_f32_item(x):
    return x[0].item() * x[1]


def f10_f32_int_array_div(x, counts):
    return np.sum(x / counts)


def f11_f32_where_int_branch(x, counts):
    y = np.where(x > 0.3, counts, x)
    return np.sum(y * x)


def f12_f32_astype64(x):
    return np.sum(x.astype(np.float64) ** 2)


def f13_f32_zero_d(x, a):
    return np.sum(x * a)


def f14_f32_bool_mask_sum(x):
    return np.sum(x * (x > 0.3))


def f15_f32_int_array_matmul(x, C):
    return np.sum(C @ x)



def g2_int_array_state(x):
    cnt = np.zeros(3, dtype=np.int64)
    s = 0.0
    for t in range(6):
        j = t % 3
        if x[j] * (t + 1) > 0.5:
            cnt[j] += 1
        s = s + x[j] * cnt[j]
    return s


def g3_bool_array_state(x):
    seen = np.zeros(3, dtype=bool)
    s = 0.0
    for t in range(6):
        j = (t * 2) % 3
        if seen[j]:
            s = s + x[j] ** 2
        else:
            s = s - x[j]
        seen[j] = x[j] * t > 0.4
    return s


def g4_int_scalar_from_argmax(x):
    k = 0
    s = 0.0
    for t in range(5):
        s = s + x[k] * (t + 1.0)
        k = int(np.argmax(x * np.cos(s)))
    return s


def g5_float_counter_while(x):
    c = 0
    t = 0
    while t < 5:
        c = c + x[t % 3] * 0.5
        t += 1
    return c * c

''')


def _r(rng, *s):
    return rng.uniform(0.05, 0.6, size=s)


def _log_rows(rng, *s):
    a = rng.uniform(0.1, 1.0, size=s)
    return np.log(a / a.sum(axis=-1, keepdims=True))


RNG = np.random.default_rng(27)
X4 = np.array([0.2, 0.5, 0.35, 0.45])
OBS = np.array([0, 2, 1, 3, 3, 0])
CASES = {   # name -> (arguments, wrt, whether checkpoints=k applies: a loop at the top level)
 "s01_closure_list_of_lambdas_default": ((_r(RNG, 3),), (0,), True),
 "s03_helper_kw_in_comprehensions": ((np.array([0.1, 0.5, 0.3]), 0.7), (0, 1), False),
 "s04_dict_state_from_helper_loop": ((_r(RNG, 3),), (0,), True),
 "s05_list_state_while_break": ((np.array([0.5, 0.2]),), (0,), True),
 "s06_where_written_loop": ((np.array([0.1, 0.5, 0.35, 0.25]),), (0,), True),
 "s07_early_return_inner_loop_write": ((np.array([[0.5, 0.6], [0.9, 0.8], [0.7, 0.3]]),), (0,), True),
 "s08_int_array_arg": ((_r(RNG, 4), np.array([2, 0, 3]), 0.7), (0, 2), False),
 "s09_zero_d_arg": ((np.array(0.4), _r(RNG, 3)), (0, 1), True),
 "s11_textbook_hmm_logZ": ((_log_rows(RNG, 3), _log_rows(RNG, 3, 3), _log_rows(RNG, 3, 4), OBS), (0, 1, 2), True),
 "s12_scaled_forward": ((np.array([0.2, 0.5, 0.3]), np.exp(_log_rows(RNG, 3, 3)), np.exp(_log_rows(RNG, 3, 4)), OBS),
                        (0, 1, 2), True),
 "s13_kalman_covariance_form": ((_r(RNG, 6), 0.9, 0.3, 0.5), (0, 1, 2, 3), True),
 "s14_kalman_matrix": ((_r(RNG, 4, 2), np.array([[0.9, 0.1], [0.0, 0.8]]), np.eye(2) * 0.3, np.eye(2) * 0.5),
                       (0, 1, 2, 3), True),
 "s15_ckpt_helper_branch_write": ((0.7, _r(RNG, 3)), (0, 1), True),
 "s16_ckpt_while_break_helper": ((0.3, _r(RNG, 3)), (0, 1), True),
 "s17_ckpt_traj_write": ((1.5, 0.7), (0, 1), True),
 "s18_ckpt_early_return": ((0.6, _r(RNG, 3)), (0, 1), True),
 "s19_namedtuple_sgd_loop": ((P.Pt(w=_r(RNG, 2), b=0.1), _r(RNG, 4, 2), _r(RNG, 4)), (0, 1), True),
 "s20_enumerate_dict_items_loop": (({"W1": _r(RNG, 3, 3), "W2": _r(RNG, 2, 3)}, _r(RNG, 3)), (0, 1), False),
 "s22_while_nested_for_continue": ((_r(RNG, 4),), (0,), True),
 "s23_tuple_of_arrays_unrolled": ((_r(RNG, 3), _r(RNG, 3)), (0, 1), False),
 "s24_matrix_col_writes_masked": ((_r(RNG, 3, 3),), (0,), True),
 "s25_sum_start_helper_gen": ((_r(RNG, 3), 0.8), (0, 1), False),
 "s26_chained_cmp_and_or": ((np.array([0.16, 0.3, 0.45, 0.58, 0.05]),), (0,), True),
 "s27_logsumexp_loop_inplace": ((_r(RNG, 3),), (0,), True),
 "s28_prev_array_in_branch": ((_r(RNG, 4),), (0,), True),
 "s29_swap_in_while": ((0.5, 0.7), (0, 1), True),
 "s30_factory_in_loop": ((_r(RNG, 3),), (0,), True),
 "s31_two_returns_in_while": ((_r(RNG, 3),), (0,), True),
 "s32_math_and_np_mix": ((0.4, 0.9), (0, 1), True),
 "s33_int_scalar_and_float_mix": ((_r(RNG, 3), 7), (0,), True),
 "s34_cumsum_diff_write": ((_r(RNG, 5),), (0,), False),
 "s35_elif_chain_helpers": ((np.array([0.1, 0.3, 0.45, 0.55]),), (0,), True),
 "s36_outer_update_loop": ((_r(RNG, 3), _r(RNG, 3)), (0, 1), True),
 "s37_list_of_arrays_stacked_ragged_rows": ((_r(RNG, 4),), (0,), True),
 "s38_norm_clip_loop": ((np.array([0.9, 0.8, 0.5]),), (0,), True),
 "s39_dict_get_default_loop": (({"W": _r(RNG, 3)}, _r(RNG, 3)), (0, 1), True),
 "s40_kw_only_default_reads_arg": ((_r(RNG, 3), 0.6), (0, 1), False),
 "s41_viterbi_max_logdomain": ((_log_rows(RNG, 3, 3), _log_rows(RNG, 5, 3)), (0, 1), True),
 "s42_cholesky_loop": ((_r(RNG, 3),), (0,), True),
 "s43_break_else_while_write": ((np.array([0.5, 0.6, 0.3]),), (0,), True),
 "s44_assert_print_in_loop": ((_r(RNG, 4),), (0,), True),
 "s45_neg_index_writes_in_branch": ((np.array([0.1, 0.5, 0.35, 0.2]),), (0,), True),
 "s46_reversed_range_step_write": ((_r(RNG, 5),), (0,), True),
 "s47_comprehension_two_clauses_helper": ((_r(RNG, 3, 2), 0.8), (0, 1), False),
 "s48_softmax_attention_loop": ((_r(RNG, 3, 2), _r(RNG, 4, 2)), (0, 1), True),
 "t09_overlap_slice_assign": ((_r(RNG, 4),), (0,), False),
 "t10_overlap_slice_augassign": ((_r(RNG, 4),), (0,), False),
 "t11_closure_writes_captured": ((_r(RNG, 3),), (0,), True),
 "t12_lambda_default_array_written_later": ((_r(RNG, 3),), (0,), False),
 "t16_write_same_elem_read": ((_r(RNG, 4),), (0,), True),
 "t17_floor_index": ((_r(RNG, 3), _r(RNG, 4)), (0, 1), False),
 "t21_mask_write_loop_changing": ((np.array([0.2, 0.5, 0.9, 0.35]),), (0,), True),
 "t23_nested_def_reads_loop_var_late": ((_r(RNG, 3),), (0,), False),
 "t24_diag_view_write": ((_r(RNG, 2, 2),), (0,), False),
 "t25_where_scalar_branch_write": ((np.array([0.2, 0.5, 0.9, 0.35]), 0.3), (0, 1), False),
 "t26_write_through_alias_then_rebind": ((_r(RNG, 3),), (0,), False),
 "t30_two_names_swap_write_loop": ((_r(RNG, 3),), (0,), True),
 "t31_setitem_with_tuple_index": ((_r(RNG, 2, 2), 0.4), (0, 1), False),
 "t32_list_index_write": ((_r(RNG, 3),), (0,), False),
 "t33_augassign_fancy_repeated": ((_r(RNG, 3),), (0,), False),
 "t34_subscript_of_call_write": ((_r(RNG, 3) - 0.3,), (0,), False),
 "t35_augassign_on_view_in_branch": ((np.array([0.2, 0.5, 0.1]),), (0,), True),
 "u01_ckpt_list_append_while": ((_r(RNG, 3), 0.7), (0, 1), True),
 "u02_ckpt_procedure_writes": ((_r(RNG, 3), 0.7), (0, 1), True),
 "u03_ckpt_inner_loop_break": ((_r(RNG, 3, 2), 0.2), (0, 1), True),
 "u04_ckpt_reversed_range_traj": ((0.7, _r(RNG, 2)), (0, 1), True),
 "u05_ckpt_step_range_continue": ((_r(RNG, 3),), (0,), True),
 "u06_ckpt_dict_state": (({"W": _r(RNG, 3, 3), "b": _r(RNG, 3)}, _r(RNG, 3)), (0, 1), True),
 "u07_ckpt_tuple_state_swap": ((0.5, 0.8), (0, 1), True),
 "u08_ckpt_zero_d_state": ((_r(RNG, 3),), (0,), True),
 "u09_ckpt_prev_in_branch": ((_r(RNG, 5),), (0,), True),
 "u10_ckpt_nested_helper_early_return": ((_r(RNG, 3), 0.8), (0, 1), True),
 "u11_ckpt_mask_writes": ((np.array([0.2, 0.5, 0.9, 0.35]),), (0,), True),
 "u12_ckpt_where_loop": ((_r(RNG, 4), 0.3), (0, 1), True),
 "e01_late_binding_scalar": ((X4,), (0,), False),
 "e02_closure_reads_updated_carry": ((X4,), (0,), True),
 "e03_early_binding_default": ((X4,), (0,), False),
 "e04_rebind_iterable_in_loop": ((X4,), (0,), True),
 "e05_write_iterated_array": ((X4,), (0,), True),
 "e06_rebind_matrix_rows_loop": ((np.array([[0.2, 0.5], [0.35, 0.45], [0.1, 0.3]]),), (0,), True),
 "e07_range_len_fixed": ((X4,), (0,), True),
 "e08_comprehension_var_shadow": ((X4, 0.7), (0, 1), False),
 "e09_loop_var_after_loop": ((X4,), (0,), True),
 "e10_loop_var_after_break": ((X4,), (0,), True),
 "e11_rebind_loop_var": ((X4,), (0,), True),
 "e12_shadow_sum_builtin": ((X4,), (0,), True),
 "e13_listcomp_var_shadow": ((X4, 0.7), (0, 1), False),
 "e14_while_cond_reads_written": ((np.array([0.2, 0.45, 0.35, 0.45]),), (0,), True),
 "e15_closure_reads_outer_rebound_in_loop": ((X4,), (0,), True),
 "e16_nested_closure_chain": ((X4,), (0,), False),
 "e17_default_from_param": ((X4,), (0,), False),
 "e18_for_zip_rebind": ((X4, X4[::-1].copy()), (0, 1), True),
 "e19_while_else_return": ((X4,), (0,), True),
 "e20_swap_closure": ((X4,), (0,), False),
 "d01_int_init_accum": ((X4,), (0,), True),
 "d03_growing_array_loop": ((X4,), (0,), True),
 "d04_growing_append": ((X4,), (0,), True),
 "d05_zero_trip": ((X4, 0), (0,), True),
 "d06_zero_trip_while": ((X4, 1), (0,), True),
 "d07_int_then_float_branch": ((X4,), (0,), True),
 "d08_shrinking_slice_loop": ((X4,), (0,), True),
 "d09_reshape_change_loop": ((X4,), (0,), True),
 "d10_bool_accum": ((X4,), (0,), True),
 "g2_int_array_state": ((X4[:3],), (0,), True),
 "g3_bool_array_state": ((X4[:3],), (0,), True),
 "g4_int_scalar_from_argmax": ((X4[:3],), (0,), True),
 "g5_float_counter_while": ((X4[:3],), (0,), True),
}
CHECKPOINTED = sorted(name for name, (_, _, loop) in CASES.items() if loop)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_program(name, jit):
    """value_and_grad's value is f's (its type too), the gradient central differences' and vjp's, jvp
    the gradient's dot product with a random tangent; the arguments are left as f leaves them."""
    f = getattr(P, name)
    args, wrt, _ = CASES[name]
    y = f(*copy.deepcopy(args))
    given = copy.deepcopy(args)
    value, grads = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*given)
    for a, b in zip(_leaves(given), _leaves(args)):
        np.testing.assert_array_equal(a, b)
    assert value == pytest.approx(y, rel=1e-10, abs=1e-12)
    assert type(value) is type(y) or isinstance(y, (float, int)) and type(value) is np.float64, (type(value), type(y))
    for k, g in zip(wrt, grads):
        _close(g, _fd(f, args, k), 1e-5, 1e-6, f"{name} d/d argument {k}")
        for u, a in zip(_leaves(g), _leaves(args[k])):
            assert np.shape(u) == np.shape(a)
    vv, vg = srcdiff.vjp(f, wrt=wrt, jit=jit)(*copy.deepcopy(args), 1.0)
    assert vv == pytest.approx(y, rel=1e-10, abs=1e-12)
    _close(vg, grads, 1e-12, 1e-14)
    rng = np.random.default_rng(len(name))
    tangents = tuple(_tangent(args[k], rng) for k in wrt)
    jv, jt = srcdiff.jvp(f, wrt=wrt, jit=jit)(*copy.deepcopy(args), tangents)
    assert jv == pytest.approx(y, rel=1e-10, abs=1e-12)
    assert jt == pytest.approx(sum(_dot(g, t) for g, t in zip(grads, tangents)), rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", CHECKPOINTED)
def test_checkpointed(name, jit):
    """`checkpoints=k` (1 and 2 snapshots) gives the taped value and gradient (grad too, with 2)."""
    f = getattr(P, name)
    args, wrt, _ = CASES[name]
    value, grads = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*copy.deepcopy(args))
    for k in (1, 2):
        v, g = srcdiff.value_and_grad(f, wrt=wrt, jit=jit, checkpoints=k)(*copy.deepcopy(args))
        assert v == pytest.approx(value, rel=1e-12, abs=1e-14)
        _close(g, grads, 1e-9, 1e-11, f"{name} checkpoints={k}")
    _close(srcdiff.grad(f, wrt=wrt, jit=jit, checkpoints=2)(*copy.deepcopy(args)), grads, 1e-9, 1e-11)


HVP = ["s07_early_return_inner_loop_write", "s12_scaled_forward", "s13_kalman_covariance_form", "s14_kalman_matrix",
       "s16_ckpt_while_break_helper", "s28_prev_array_in_branch", "s36_outer_update_loop",
       "s43_break_else_while_write", "t30_two_names_swap_write_loop", "u03_ckpt_inner_loop_break",
       "u06_ckpt_dict_state", "e05_write_iterated_array", "d04_growing_append"]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", HVP)
def test_hvp(name, jit):
    """hvp (forward over reverse) is the central difference of the gradient along v."""
    f = getattr(P, name)
    args, wrt, _ = CASES[name]
    rng = np.random.default_rng(2)
    v = tuple(_tangent(args[k], rng) for k in wrt)
    hv = srcdiff.hvp(f, wrt=wrt, jit=jit)(*copy.deepcopy(args), v)
    g = srcdiff.grad(f, wrt=wrt)

    def along(s):
        a = list(copy.deepcopy(args))
        for k, t in zip(wrt, v):
            a[k] = _shifted(a[k], t, s)
        return g(*a)
    plus, minus = along(1e-5), along(-1e-5)
    _close(hv, [(np.asarray(p) - np.asarray(m)) / 2e-5 for p, m in zip(_leaves(plus), _leaves(minus))], 1e-4, 1e-6)


VECTOR = {
 "w01_vec_loop_writes": ((_r(RNG, 4), 0.6), (0, 1)),
 "w02_vec_where_branch": ((np.array([0.1, 0.5, 0.35]),), (0,)),
 "w03_matrix_out_helper": ((_r(RNG, 3), _r(RNG, 2)), (0, 1)),
 "w04_vec_list_stack": ((_r(RNG, 3),), (0,)),
 "w05_vec_early_return": ((_r(RNG, 3), 0.4), (0, 1)),
}


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", sorted(VECTOR))
def test_vector_outputs(name, jit):
    """jacobian (forward, reverse) is central differences'; vjp's cotangent and jvp's tangent contract it."""
    f = getattr(P, name)
    args, wrt = VECTOR[name]
    y = np.asarray(f(*copy.deepcopy(args)))
    expect = [_fd(f, args, k) for k in wrt]
    for mode in ("forward", "reverse"):
        J = srcdiff.jacobian(f, wrt=wrt, jit=jit, mode=mode)(*copy.deepcopy(args))
        _close(J, expect, 1e-5, 1e-7, f"{name} {mode}")
    rng = np.random.default_rng(3)
    ct = rng.normal(size=y.shape)
    v, g = srcdiff.vjp(f, wrt=wrt, jit=jit)(*copy.deepcopy(args), ct)
    np.testing.assert_allclose(v, y)
    _close(g, [np.tensordot(ct, e, axes=y.ndim) for e in expect], 1e-5, 1e-7)
    ts = tuple(_tangent(args[k], rng) for k in wrt)
    v, d = srcdiff.jvp(f, wrt=wrt, jit=jit)(*copy.deepcopy(args), ts)
    np.testing.assert_allclose(d, sum(np.tensordot(e, t, axes=np.ndim(t)) for e, t in zip(expect, ts)),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hessian_and_jacobian_of_grad(jit):
    """hessian w.r.t. several arguments, blocks central differences of the gradient; jacobian of grad (both modes)
    equal to the hessian, through branches, breaks and writes into arrays in loops."""
    args = (_r(np.random.default_rng(4), 4), 0.9, 0.3, 0.5)
    f = P.s13_kalman_covariance_form
    H = srcdiff.hessian(f, wrt=(0, 1), jit=jit)(*args)
    g = srcdiff.grad(f, wrt=(0, 1))
    for i in range(2):
        for j in range(2):
            _close(H[i][j], _fd(lambda *a, i=i: np.asarray(g(*a)[i]), args, j, 1e-5), 1e-4, 1e-6, f"H[{i}][{j}]")
    for f, x in ((P.s43_break_else_while_write, np.array([0.5, 0.6, 0.3])), (P.s28_prev_array_in_branch, X4)):
        H = srcdiff.hessian(f, jit=jit)(x)
        for mode in ("forward", "reverse"):
            np.testing.assert_allclose(srcdiff.jacobian(srcdiff.grad(f), jit=jit, mode=mode)(x), H, rtol=1e-9,
                                       atol=1e-11)
        np.testing.assert_allclose(H, _fd(srcdiff.grad(f), [x], 0, 1e-5), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_penalties(jit):
    """A function of a gradient (a gradient-norm penalty) of programs with breaks, writes and helpers: its gradient
    central differences', jvp its dot product."""
    def pen_a(x):
        g = srcdiff.grad(P.s43_break_else_while_write)(x)
        return np.sum(g ** 2) + np.sum(x)

    def pen_b(a, y0):
        g = srcdiff.grad(P.s16_ckpt_while_break_helper, wrt=(0, 1))(a, y0)
        return g[0] ** 2 + np.sum(g[1] * y0)

    def pen_c(x):
        v, g = srcdiff.value_and_grad(P.s45_neg_index_writes_in_branch)(x)
        return v * np.sum(g ** 2)
    for f, args, wrt in ((pen_a, (np.array([0.5, 0.6, 0.3]),), (0,)), (pen_b, (0.3, np.array([0.2, 0.4, 0.1])), (0, 1)),
                         (pen_c, (np.array([0.1, 0.5, 0.35, 0.2]),), (0,))):
        value, grads = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*args)
        assert value == pytest.approx(f(*args), rel=1e-10)
        for k, g in zip(wrt, grads):
            _close(g, _fd(f, args, k, 1e-5), 1e-4, 1e-6, f.__name__)
        t = tuple(0.7 * np.ones(np.shape(args[k])) if np.ndim(args[k]) else 0.7 for k in wrt)
        assert srcdiff.jvp(f, wrt=wrt, jit=jit)(*args, t)[1] == pytest.approx(sum(_dot(g, u) for g, u in zip(grads, t)),
                                                                             rel=1e-8)


def _hmm():
    log_pi = np.log(np.array([0.6, 0.4]))
    log_A = np.log(np.array([[0.7, 0.3], [0.2, 0.8]]))
    log_B = np.log(np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]]))
    obs = np.array([0, 2, 1, 2])
    Z, e0, eA, eB = 0.0, np.zeros(2), np.zeros((2, 2)), np.zeros((2, 3))     # every path of 4 states
    for path in itertools.product(range(2), repeat=4):
        p = np.exp(log_pi[path[0]] + sum(log_A[path[t - 1], path[t]] for t in range(1, 4))
                   + sum(log_B[path[t], obs[t]] for t in range(4)))
        Z += p
        e0[path[0]] += p
        for t in range(1, 4):
            eA[path[t - 1], path[t]] += p
        for t in range(4):
            eB[path[t], obs[t]] += p
    return (log_pi, log_A, log_B, obs), np.log(Z), (e0 / Z, eA / Z, eB / Z)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hmm_log_partitions(jit):
    """srcdiff.vi.hmm's E-step, a user's textbook forward recursion (log-domain), the scaled forward recursion of
    probabilities (`alpha /= c`, whose gradient times the probabilities is the expected counts, checkpointed too)
    and a log-domain recursion written into a table of rows: all the brute-force expectations over every path."""
    from srcdiff.vi import hmm
    (log_pi, log_A, log_B, obs), log_z, stats = _hmm()
    ll, got = hmm.e_step((log_pi, log_A, log_B), obs, jit=jit)
    assert ll == pytest.approx(log_z, rel=1e-12)
    _close(got, stats, 1e-10, 1e-12)
    v, g = srcdiff.value_and_grad(P.s11_textbook_hmm_logZ, wrt=(0, 1, 2), jit=jit)(log_pi, log_A, log_B, obs)
    assert v == pytest.approx(log_z, rel=1e-12)
    _close(g, stats, 1e-10, 1e-12)
    probs = tuple(np.exp(a) for a in (log_pi, log_A, log_B))
    for k in (None, 1, 2):
        v, g = srcdiff.value_and_grad(P.s12_scaled_forward, wrt=(0, 1, 2), jit=jit, checkpoints=k)(*probs, obs)
        assert v == pytest.approx(log_z, rel=1e-12)
        _close([a * p for a, p in zip(g, probs)], stats, 1e-10, 1e-12)
    lb = log_B[:, obs].T.copy()
    v, g = srcdiff.value_and_grad(P.user_logZ_obs_written, wrt=2, jit=jit)(log_pi, log_A, lb)
    assert v == pytest.approx(log_z, rel=1e-12)
    np.testing.assert_allclose(g, hmm.posterior_marginals((log_pi, log_A, log_B), obs, jit=jit), rtol=1e-10,
                               atol=1e-12)
    H = srcdiff.hessian(P.user_logZ_obs_written, wrt=2, jit=jit)(log_pi, log_A, lb)
    np.testing.assert_allclose(H.sum(axis=(2, 3)), 0.0, atol=1e-10)    # (each time's indicators sum to 1)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_kalman_log_partitions(jit):
    """srcdiff.vi.kalman's smoother against the dense Gaussian posterior; its log-likelihood against a user's
    covariance-form filter (whose gradient w.r.t. y and A is central differences'); a user's information-form log Z
    written with inv and slogdet (checkpointed too): its gradient w.r.t. h is the smoothed means, -2 sym(d/dJ) the
    second moments."""
    from srcdiff.vi import kalman
    A, Q = np.array([[0.9, 0.2], [-0.1, 0.8]]), np.array([[0.3, 0.05], [0.05, 0.2]])
    C, R, mu0, P0 = np.array([[1.0, 0.5]]), np.array([[0.4]]), np.array([0.1, -0.2]), np.eye(2)
    params = kalman.LGSSM(A, Q, C, R, mu0, P0)
    y = np.array([[0.3], [0.1], [-0.4], [0.5], [0.2]])
    T, n = y.shape[0], 2
    prec, b = np.zeros((T * n, T * n)), np.zeros(T * n)
    Qi, Ri = np.linalg.inv(Q), np.linalg.inv(R)
    prec[:n, :n] += np.linalg.inv(P0)
    b[:n] += np.linalg.inv(P0) @ mu0
    for t in range(T):
        s = slice(t * n, t * n + n)
        prec[s, s] += C.T @ Ri @ C
        b[s] += C.T @ Ri @ y[t]
        if t > 0:
            p = slice(t * n - n, t * n)
            prec[s, s] += Qi
            prec[p, p] += A.T @ Qi @ A
            prec[s, p] -= Qi @ A
            prec[p, s] -= A.T @ Qi
    cov = np.linalg.inv(prec)
    mean, covs = kalman.smooth(params, y, jit=jit)
    np.testing.assert_allclose(mean.ravel(), cov @ b, rtol=1e-9, atol=1e-12)
    for t in range(T):
        np.testing.assert_allclose(covs[t], cov[t * n:t * n + n, t * n:t * n + n], rtol=1e-9, atol=1e-12)
    ll = kalman.log_likelihood(params, y)
    args = (y, A, Q, C, R, mu0, P0)
    v, g = srcdiff.value_and_grad(P.user_kalman_filter, wrt=(0, 1), jit=jit)(*args)
    assert v == pytest.approx(ll, rel=1e-10)
    for k in (0, 1):
        np.testing.assert_allclose(g[k], _fd(P.user_kalman_filter, args, k), rtol=1e-6, atol=1e-8)
    (h, J, L), const = kalman.natural_params(params, y)
    for k in (None, 2):
        v, (gh, gJ) = srcdiff.value_and_grad(P.user_info_logZ, wrt=(0, 1), jit=jit, checkpoints=k)(h, J, L)
        assert v + const == pytest.approx(ll, rel=1e-10)
        np.testing.assert_allclose(gh, mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(-(gJ + np.swapaxes(gJ, 1, 2)) - mean[:, :, None] * mean[:, None, :], covs,
                                   rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_elbo_gradients(jit):
    """srcdiff.vi.elbo_grad of a user's log joint with a loop, a branch on the data and a helper with a default
    (mean-field and full-rank families, several draws and the loop-free one-draw form, kl="analytic" with minibatch
    scaling): the gradient is the central difference of the estimate at the same draws."""
    from srcdiff import vi
    rng = np.random.default_rng(5)
    X, yb = rng.normal(size=(6, 3)), np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    eps = rng.normal(size=(4, 3))
    for q in (vi.MeanFieldNormal(3), vi.FullRankNormal(3)):
        lam = q.init_params(1) + 0.1
        for eg, e in ((vi.elbo_grad(P.user_log_joint, q, num_samples=4, jit=jit), eps),
                      (vi.elbo_grad(P.user_log_lik, q, num_samples=2, kl="analytic", data_size=12, jit=jit), eps[:2])):
            value, g = eg(lam, e, X, yb)
            num = np.zeros_like(lam)
            for i in range(len(lam)):
                up, down = lam.copy(), lam.copy()
                up[i] += 1e-6
                down[i] -= 1e-6
                num[i] = (eg(up, e, X, yb)[0] - eg(down, e, X, yb)[0]) / 2e-6
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)
        one = vi.elbo_grad(P.user_log_joint, q, num_samples=1, jit=jit)(lam, eps[0], X, yb)
        many = vi.elbo_grad(P.user_log_joint, q, num_samples=4, jit=jit)(lam, eps[:1], X, yb)
        assert one[0] == pytest.approx(many[0], rel=1e-12)
        np.testing.assert_allclose(one[1], many[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_int_start_of_a_float_checkpointed(jit):
    """`c = 0` before a loop whose branch adds floats to c: its kind, an int joined with a float, was unknown, so a
    checkpointed loop kept c's snapshots in a list made of its first value, `[c] * n`, a list of ints under Numba,
    which truncated the floats stored in it: d/dx [0, 1.8, 1.15, 1.25] for [0, 1.8, 1.65, 1.75] (checkpoints=2 and 3,
    jit=True; central differences give the second). Now c is a float and its snapshots an np.empty array."""
    f = P.d07_int_then_float_branch
    for k in (None, 1, 2, 3):
        np.testing.assert_allclose(srcdiff.grad(f, jit=jit, checkpoints=k)(X4), [0.0, 1.8, 1.65, 1.75], rtol=1e-12)
    # the same in a while loop (`c = 0`, then `c = c + x[t % 3] * 0.5` five times; f = c * c, c = 0.875)
    for k in (None, 2):
        np.testing.assert_allclose(srcdiff.grad(P.g5_float_counter_while, jit=jit, checkpoints=k)(X4[:3]),
                                   [1.75, 1.75, 0.875], rtol=1e-12)
    if not jit:
        g = srcdiff.grad(f, checkpoints=2)
        g(X4)
        assert "c_snapshots = np.empty(" in srcdiff.source(g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_declines(jit):
    """Declines name the file:line, the construct and what to write instead."""
    x = np.array([0.1, 0.5, 0.35, 0.2])
    M = np.array([[0.3, 0.4], [0.2, 0.5]])
    where = r"handwritten_twentyseventh\.py:\d+: "
    shares = where + r"`{0}` shares memory with `{1}`, which this assignment writes in place.*hint: write into `{0}`"
    for f, args, pattern in (
            (P.s02_view_write_in_while_branch, (x,), shares.format("y", "v")),     # (README: a view written, y read)
            (P.t06_transpose_view_write, (M,), shares.format("A", "B")),
            (P.t07_row_iter_inplace, (np.vstack([M, M]),), shares.format("A", "row")),
            (P.t04_chained_subscript_write, (M,), where + r"the write A\[0\]\[1\] = \.\.\. is not supported.*"
                                                            r"write A\[0, 1\] = v"),
            (P.t18_recursive_power, (x, 3), where + r"a nested function that calls itself \('power'\).*"
                                                    r"define 'power' at module level"),
            (P.t19_list_literal_item_assign, (0.3, 0.7), where + r"the list `L` written here, then written at an "
                                                                 r"index.*make it an array"),
            (P.t28_flat_assign, (x,), where + r"attribute \.flat of a local value is not supported"),
            (P.t29_fill, (x,), where + r"method \.fill\(\) is not supported"),
            (P.s21_select_with_writes, (x,), where + r"call to numpy\.select has no differentiation rule.*"
                                                     r"srcdiff\.adjoint")):
        with pytest.raises(srcdiff.SrcdiffError, match="(?s)" + pattern):
            srcdiff.grad(f, jit=jit)(*args)
    if jit:     # (`total = 0` then arrays added: Numba gives a name one type; jit=False computes it)
        with pytest.raises(srcdiff.SrcdiffError, match="(?s)" + where + r"Numba could not compile.*`total` is a "
                                                                        r"number on one path and an array"):
            srcdiff.grad(P.d02_scalar_becomes_array, jit=True)(x)
    else:
        np.testing.assert_allclose(srcdiff.grad(P.d02_scalar_becomes_array)(x), 2 * 6.0 * 6.0 * x)


F32 = np.array([0.2, 0.5, 0.35], dtype=np.float32)
COUNTS = np.array([1, 2, 3])
FLOAT32 = [("f01_f32_times_int_array", (COUNTS,)), ("f02_f32_times_arange", ()),
           ("f03_f32_times_np_int_scalar", (np.int64(3),)), ("f03_f32_times_np_int_scalar", (3,)),
           ("f04_f32_linspace", ()), ("f07_f32_loop_int_counts", (COUNTS,)), ("f08_f32_item", ()),
           ("f10_f32_int_array_div", (COUNTS,)), ("f11_f32_where_int_branch", (COUNTS,)), ("f12_f32_astype64", ()),
           ("f13_f32_zero_d", (np.array(0.5, dtype=np.float32),)), ("f13_f32_zero_d", (np.float64(0.5),)),
           ("f14_f32_bool_mask_sum", ()), ("f15_f32_int_array_matmul", (np.array([[1, 2, 0], [0, 1, 3]]),))]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("case", range(len(FLOAT32)), ids=[f"{n}-{i}" for i, (n, _) in enumerate(FLOAT32)])
def test_float32_value_types(case, jit):
    """A float32 array beside NumPy integers (arrays, np.int64 scalars, np.arange), float64 factories, casts, 0-d
    arrays and masks: value_and_grad's, jvp's and vjp's values have f's type (float32 or float64) and number, the
    gradient is float32 and the float64 computation's."""
    name, rest = FLOAT32[case]
    f = getattr(P, name)
    y = f(F32, *rest)
    value, g = srcdiff.value_and_grad(f, jit=jit)(F32, *rest)
    jv, _ = srcdiff.jvp(f, jit=jit)(F32, *rest, np.ones(3, dtype=np.float32))
    vv, _ = srcdiff.vjp(f, jit=jit)(F32, *rest, 1.0)
    for v in (value, jv, vv):
        assert type(v) is type(y), (type(v), type(y))
        assert v == pytest.approx(y, rel=1e-6 if type(y) is np.float32 else 1e-12)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, srcdiff.grad(f)(F32.astype(float), *rest), rtol=1e-6)
