"""Programs written by hand in the twenty-eighth session (handwritten), each combining constructs of README's "What
it handles" in ways tests/fuzzgen.py does not generate, run through the entry points a user calls (value_and_grad,
grad, vjp, jvp, hvp, hessian, jacobian, `checkpoints=k`, both backends, jit="parallel") and through the inference
library (srcdiff.vi.hmm, srcdiff.vi.kalman, srcdiff.vi.elbo_grad and fit) beside a user's own log Z written the
textbook way. The h programs: closures over loop variables read after the loop, nested defs in while loops, slice
writes in branches of while loops with break and continue, helpers with defaults and keyword-only parameters in
dict comprehensions, conditional expressions and max() of generators, dict, tuple and namedtuple state in while loops
with break, lists stacked along axis 1, np.where beside mask writes, early returns (from a while in a for, from a
for's else), float32 and 0-d arguments, integer index arrays with repeats, checkpointed loops whose bodies call
helpers with inner breaks or write rows in place, log Z by hand (the textbook max-shifted logsumexp, the backward
recursion, a linear-chain CRF, a local-level Kalman filter), a Newton solve stopped by a tolerance, recursion. The k
programs: second names of arrays written in place (through a dict, a namedtuple, an identity helper, a swap, an
alias rebound in a loop, element swaps by tuple assignment, index-list swaps, `y += y.T`, `y[:] = y[::-1] * x`).
"""
import copy
import math

import numpy as np
import pytest

import srcdiff
from gradcheck import rebuilt_like as _rebuilt, source_module, structure_leaves as _leaves, structured_numerical_grad as _fd

P = source_module("handwritten_twentyeighth", '''
import copy
import math
from collections import namedtuple

import numpy as np
from scipy.special import logsumexp, expit

St = namedtuple("St", ["x", "v"])


def h01_late_lambda_after_loop(x):
    s = 0.0
    for i in range(3):
        g = lambda t: t * x[i] + i
        s = s + g(x[0])
    return s + g(x[1]) ** 2


def h02_def_in_while_reads_later_rebind(x):
    c = 0.5
    k = 0
    s = 0.0
    while k < 3:
        def g(t):
            return t * c
        c = c + x[k]
        s = s + g(x[k]) ** 2
        k += 1
    return s


def h03_slice_mul_in_branch_while_break_continue(x):
    y = x.copy()
    k = 0
    while k < 6:
        k += 1
        if y[0] > 2.0:
            break
        if k % 2 == 0:
            y[1:3] *= 1.5
            continue
        y[0] = y[0] + y[2] * y[1]
    return np.sum(y * y)


def scale_it(v, c=2.0, *, shift=0.1):
    return c * v + shift


def h04_helper_kw_in_dict_comprehension(p):
    q = {k: scale_it(v, shift=0.3) for k, v in p.items()}
    r = {k: scale_it(v, 0.5) for k, v in q.items()}
    return np.sum(r["a"] * q["b"]) + np.sum(r["b"] ** 2)


def h05_dict_state_while_break(x):
    st = {"m": 0.0, "s": x[0]}
    k = 0
    while k < 5:
        st = {"m": st["m"] + st["s"] * x[k % 3], "s": st["s"] * 0.8}
        if st["m"] > 0.6:
            break
        k += 1
    return st["m"] + st["s"] ** 2


def h06_list_stack_axis1_continue(x):
    cols = []
    for i in range(4):
        if i == 2:
            continue
        cols.append(x * (i + 1.0) + x[i])
    M = np.stack(cols, axis=1)
    return np.sum(M ** 2) + np.sum(M[:, -1])


def h07_where_then_mask_write(x):
    y = np.where(x > 0.3, x * x, -x)
    y[y < 0.0] *= 2.0
    z = np.where(y > 0.1, y, 0.0)
    return np.sum(z * x) + np.sum(y)


def h08_early_return_while_in_for(M):
    tot = 0.0
    for i in range(M.shape[0]):
        j = 0
        while j < M.shape[1]:
            tot = tot + M[i, j] * (j + 1.0)
            if tot > 2.0:
                return tot * M[i, 0]
            j += 1
    return -tot


def h09_f32_loop_writes_helper(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = scale_it(x[i], 0.5) * x[i - 1]
    return np.sum(y) * 2.0


def h10_int_array_repeat_writes_loop(x, idx):
    z = np.zeros(3)
    for t in range(2):
        z[idx] += x[:len(idx)] * (t + 1.0)
    return np.sum(z ** 2)


def h11_zero_d_arg_as_loop_carry(a, x):
    s = a
    for i in range(len(x)):
        s = s * x[i] + a
    return s * s


def h12_ckpt_helper_with_inner_break(a, x):
    def settle(v):
        for j in range(5):
            v = v * 0.7 + a
            if v < 0.4:
                break
        return v
    y = x.copy()
    tot = 0.0
    for t in range(6):
        y[t % 3] = settle(y[t % 3])
        tot = tot + y[t % 3] * y[(t + 1) % 3]
    return tot


def h13_ckpt_while_matrix_rows(M, a):
    A = M.copy()
    t = 0
    while t < 5:
        r = t % A.shape[0]
        if A[r, 0] > 0.5:
            A[r, :] = A[r, :] * a
        else:
            A[r, :] = A[r, :] + a * A[(r + 1) % A.shape[0], :]
        t += 1
    return np.sum(A ** 2)


def h14_textbook_logsumexp_by_hand(log_pi, log_A, log_B, obs):
    alpha = log_pi + log_B[:, obs[0]]
    for t in range(1, len(obs)):
        new = np.zeros_like(alpha)
        for j in range(len(alpha)):
            v = alpha + log_A[:, j]
            m = np.max(v)
            new[j] = m + np.log(np.sum(np.exp(v - m))) + log_B[j, obs[t]]
        alpha = new
    m = np.max(alpha)
    return m + np.log(np.sum(np.exp(alpha - m)))


def h15_backward_recursion_logZ(log_pi, log_A, log_B, obs):
    T = len(obs)
    beta = np.zeros(len(log_pi))
    for t in reversed(range(T - 1)):
        beta = logsumexp(log_A + (log_B[:, obs[t + 1]] + beta)[None, :], axis=1)
    return logsumexp(log_pi + log_B[:, obs[0]] + beta)


def h16_crf_log_partition(phi, trans):
    a = phi[0]
    for t in range(1, phi.shape[0]):
        a = logsumexp(a[:, None] + trans, axis=0) + phi[t]
    return logsumexp(a)


def h17_local_level_kalman(y, log_q, log_r):
    q = np.exp(log_q)
    r = np.exp(log_r)
    m, P = y[0], r
    ll = 0.0
    for t in range(1, len(y)):
        P = P + q
        S = P + r
        e = y[t] - m
        ll += -0.5 * (math.log(2 * math.pi) + np.log(S) + e ** 2 / S)
        K = P / S
        m = m + K * e
        P = P * (1.0 - K)
    return ll


def h18_enumerate_zip_closure_branch(x, y):
    s = 0.0
    for i, (a, b) in enumerate(zip(x, y)):
        f = lambda t: t * a + b * i
        if a > b:
            s = s + f(b)
        else:
            s = s - f(a) ** 2
    return s


def h19_sort_cumsum_argmax(x):
    s = np.sort(x)
    c = np.cumsum(s * s)
    k = int(np.argmax(x))
    return c[-1] * x[k] + np.sum(c[:2])


def h20_clip_array_bounds_while(x, lo, hi):
    y = x.copy()
    k = 0
    while k < 4:
        y = np.clip(y * 1.3 - 0.1, lo, hi)
        k += 1
    return np.sum(y * x)


def poly_rec(v, n):
    if n == 0:
        return 1.0
    return 1.0 + v * poly_rec(v, n - 1)


def h21_recursive_helper_in_loop(x):
    s = 0.0
    for i in range(len(x)):
        s = s + poly_rec(x[i], i + 1)
    return s


def h22_newton_while_tolerance(a):
    y = 1.0
    k = 0
    while k < 30:
        f = y * y * y + y - a
        step = f / (3 * y * y + 1.0)
        y = y - step
        k += 1
        if abs(step) < 1e-12:
            break
    return y


def h23_reversed_rows_written(M, a):
    A = M.copy()
    for i in reversed(range(A.shape[0] - 1)):
        A[i, :] = A[i + 1, :] * a + np.sin(A[i, :])
    return np.sum(A[0] * A[-1]) + np.sum(A)


def h24_strided_views_augassign(x):
    y = x.copy()
    y[::2] += y[1::2] * 0.5
    y[1::2] *= y[::2]
    return np.sum(y ** 2)


def h25_einsum_loop_writes(A, v):
    out = np.zeros((3, 2))
    for i in range(3):
        out[i] = np.einsum("ij,j->i", A, v) * (i + 1.0)
        v = np.tanh(out[i])
    return np.sum(out * out)


def h26_solve_ckpt_loop(A, b):
    x = b.copy()
    for t in range(4):
        x = np.linalg.solve(A + t * np.eye(2), x) + b
    return np.sum(x ** 2)


def h27_namedtuple_replace_while_break(s0, h):
    s = s0
    k = 0
    while k < 8:
        s = s._replace(x=s.x + h * s.v)
        s = s._replace(v=s.v - h * np.sin(s.x))
        k += 1
        if np.sum(s.x) > 2.0:
            break
    return np.sum(s.x ** 2) + np.sum(s.v)


def h28_conditional_in_comprehension_helper(x, a):
    return sum(scale_it(v, c=a) if v > 0.3 else scale_it(v, shift=a) for v in x)


def h29_max_of_generator_helper(x, a):
    return max(scale_it(v, a, shift=-v) for v in x) + min(v * a for v in x)


def h30_dependent_range_comprehension(x):
    n = len(x)
    return sum(x[i] * x[j] for i in range(n) for j in range(i))


def h31_enumerate_reversed_array(x):
    s = 0.0
    for i, v in enumerate(reversed(x)):
        s = s * v + i * v
    return s


def h32_int_n_f32_while(x, n):
    y = x
    k = 0
    while k < n:
        y = y * 0.5 + np.sin(y)
        k += 1
    return np.sum(y)


def helper_dict(a, b):
    return {"u": a * b, "w": a + b}


def h33_dict_from_helper_items_written(x, y):
    d = helper_dict(x, y)
    q = dict(d)
    for k, v in d.items():
        q[k] = v * 2.0
    return np.sum(q["u"] * d["w"])


def h34_zero_trip_ckpt(x, n):
    s = np.sum(x)
    for t in range(n):
        s = s * x[t % 3]
    return s * s


def h35_for_else_continue_ckpt(x):
    s = 0.0
    for i in range(5):
        if x[i % 3] > 0.4:
            continue
        s = s + x[i % 3] * i
    else:
        s = s * 2.0
    return s + x[0]


def h36_zero_d_augassign_ckpt(x):
    s = np.zeros(())
    for i in range(4):
        s[...] += x[i % 3] * s + x[i % 3]
    return s[()] * 2.0


def pair_fn(a, b):
    return a * b + a


def h37_star_unpack_call(x):
    pair = (x[0], x[1])
    return pair_fn(*pair) + np.sum(x)


def h38_for_over_array_break(x):
    s = 0.0
    for v in x:
        if v > 0.5:
            break
        s = s + v * v
    return s


def h39_where_index_mask(x):
    z = np.where(x > 0.25, x, 0.0)
    m = z > 0.0
    return np.sum(z[m] ** 2) + np.sum(x[~m])


def h40_kwonly_wrt(x, *, scale=2.0, bias=0.5):
    return np.sum(np.tanh(x * scale + bias))


def h41_matrix_power_loop_trace(M):
    P = np.eye(2)
    s = 0.0
    for k in range(3):
        P = P @ M
        s = s + np.trace(P) / (k + 1.0)
    return s


def h42_nested_helper_default_loop_var(x):
    s = 0.0
    for i in range(3):
        def g(t, k=i):
            return t ** 2 * (k + 1.0)
        s = s + g(x[i])
    return s


def h43_swap_in_ckpt_with_write(x):
    a = x.copy()
    b = x * 0.5
    for t in range(4):
        a, b = b, a + 0.1 * b
        a[t % 3] = a[t % 3] * 0.9
    return np.sum(a * b)


def h44_tuple_state_of_arrays_while(x):
    st = (x, x * 0.0)
    k = 0
    while k < 4:
        p, v = st
        st = (p + 0.1 * v, v - 0.1 * p)
        k += 1
    return np.sum(st[0] ** 2 + st[1])


def h45_logaddexp_chain(x):
    s = -np.inf
    for v in x:
        s = np.logaddexp(s, v * 2.0)
    return s


def h46_masked_mean_var(x):
    m = x > 0.3
    return np.var(x[m]) + np.mean(x[m]) * np.std(x)


def h47_outer_grad_update_list(x):
    w = x.copy()
    hist = []
    for t in range(3):
        g = 2.0 * w - np.cos(w)
        w = w - 0.1 * g
        hist.append(np.sum(w ** 2))
    return sum(hist) + hist[-1]


def h48_vec_out_rows_writes(x, a):
    out = np.empty(4)
    for i in range(4):
        if i == 0:
            out[i] = x[0]
        else:
            out[i] = out[i - 1] * a + x[i % len(x)]
    return out


def h49_ternary_helper_choice(x, flag):
    act = np.tanh if flag > 0 else np.sin
    y = x
    for i in range(2):
        y = act(y * 1.5)
    return np.sum(y)


def h50_float_zero_d_mix(x, a):
    c = float(a) * x[0]
    d = a * x
    return c + np.sum(d * d)


def k01_closure_sees_array_written_after(x):
    y = x.copy()
    g = lambda t: t * y[0]
    y[0] = 5.0 * x[1]
    return g(x[2]) + np.sum(y)


def k04_where_on_written_self(x):
    y = x.copy()
    for i in range(3):
        y[...] = np.where(y > 0.3, y * 0.5, y + x)
        y[i] = y[i] * y[i - 1]
    return np.sum(y ** 2)


def k05_mask_write_from_where(x):
    y = x * 1.0
    m = x > 0.3
    y[m] = np.where(x > 0.4, x * x, -x)[m]
    return np.sum(y * x)


def k06_return_in_for_else(x):
    s = 0.0
    for i in range(3):
        s = s + x[i] ** 2
        if s > 5.0:
            break
    else:
        return s * x[0]
    return s


W64 = np.array([0.5, 1.5, -0.25])


def k10_f32_times_module_f64(x):
    return np.sum(x * W64) + np.sum(x * x)


def k11_int_array_index_arith(x, k):
    j = k // 2
    return np.sum(x[j] * k) + np.sum(x * (k % 2))


def k12_returns_zero_d_array(x):
    return np.asarray(np.sum(x * x))


def k15_ckpt_nested_write_helper_kw(x, a):
    y = x.copy()
    for t in range(4):
        for j in range(len(y)):
            y[j] = scale_it(y[j], c=a, shift=0.01 * j)
        y = y / np.sum(y)
    return np.sum(y * x)


def k16_loop_var_after_ckpt_loop(x):
    s = 0.0
    for i in range(4):
        s = s + x[i % 3] * s + 0.1
    return s * x[i % 3]


def k17_while_cond_on_written_array(x):
    y = x.copy()
    k = 0
    while y[0] < 1.0 and k < 10:
        y[0] = y[0] + y[1] * 0.5
        y[1] = y[1] * 1.1
        k += 1
    return np.sum(y * y)


def k19_items_loop_writes_deepcopy(p):
    q = copy.deepcopy(p)
    for k, v in q.items():
        v[0] = v[0] * 3.0
    return np.sum(q["a"] * q["b"]) + np.sum(p["a"])


def k24_conditional_alias_write(x):
    a = x.copy()
    b = x * 2.0
    y = a if x[0] > 0.1 else b
    y[0] = 5.0 * x[1]
    return np.sum(a) + np.sum(b * b)


def k25_alias_through_dict(x):
    buf = x.copy()
    d = {"a": buf}
    d["a"][0] = 3.0 * x[1]
    return np.sum(buf * x)


def k26_alias_through_list(x):
    buf = x.copy()
    L = [buf, x]
    L[0][1] = 3.0 * x[2]
    return np.sum(buf * x)


def k27_alias_through_namedtuple(x):
    buf = x.copy()
    s = St(x=buf, v=x)
    s.x[0] = 2.0 * x[1]
    return np.sum(buf * x)


def ident(a):
    return a


def k28_alias_through_identity_helper(x):
    buf = x.copy()
    y = ident(buf)
    y[0] = 3.0 * x[1]
    return np.sum(buf * x)


def k29_full_slice_view_write(x):
    buf = x.copy()
    y = buf[:]
    y[0] = 3.0 * x[1]
    return np.sum(buf * x)


def k30_reshape_view_write(x):
    buf = x.copy()
    y = buf.reshape(2, 2)
    y[0, 1] = 3.0 * x[0]
    return np.sum(buf * x)


def k31_ravel_view_write(M):
    buf = M.copy()
    y = np.ravel(buf)
    y[1] = 3.0 * M[1, 1]
    return np.sum(buf * M)


def k32_ellipsis_view_write(x):
    buf = x.copy()
    y = buf[...]
    y[1] = 3.0 * x[0]
    return np.sum(buf * x)


def k34_sort_method_inplace(x):
    y = x * x
    y.sort()
    return y[0] * 3.0 + y[-1]


def k37_fancy_read_write_same(x, idx):
    y = x.copy()
    y[idx] = y[idx[::-1]] * 2.0
    return np.sum(y * x)


def k38_plus_eq_transpose(M):
    y = M.copy()
    y += y.T
    return np.sum(y * M)


def k39_elem_swap_tuple(x):
    y = x.copy()
    y[0], y[1] = y[1] * 2.0, y[0]
    return np.sum(y * x)


def k40_index_list_swap(x):
    y = x.copy()
    y[[0, 1]] = y[[1, 0]]
    return np.sum(y * x * np.arange(1.0, 5.0))


def k41_swap_then_write(x):
    a = x.copy()
    b = x * 2.0
    a, b = b, a
    a[0] = 7.0 * x[1]
    return np.sum(a * x) + np.sum(b * x)


def k42_mirror_writes_loop(x):
    y = x.copy()
    for i in range(len(y) // 2):
        y[i], y[-1 - i] = y[-1 - i] * 2.0, y[i] + y[-1 - i]
    return np.sum(y * np.arange(1.0, len(y) + 1.0))


def k43_view_of_view_write(M):
    A = M.copy()
    r = A[1:]
    c = r[:, 0]
    c[0] = 9.0 * M[0, 0]
    return np.sum(A * M)


def k44_diag_setting_fill_diagonal(M):
    A = M.copy()
    np.fill_diagonal(A, 0.0)
    return np.sum(A * M)


def k45_write_then_alias_returned_helper(x):
    def tweak(a):
        a[0] = a[0] * 2.0
        return a
    buf = x.copy()
    out = tweak(buf)
    out[1] = out[1] + buf[0]
    return np.sum(buf * x) + np.sum(out)


def k46_transpose_attr_write(M):
    A = M.copy()
    B = A.T
    B[0, 1] = 4.0 * M[0, 0]
    return np.sum(A * M)


def k47_alias_in_loop_rebind(x):
    a = x.copy()
    for t in range(3):
        b = a
        b[t] = b[t] * 2.0 + x[t]
    return np.sum(a * x)


def k48_slice_assign_from_self_reversed(x):
    y = x.copy()
    y[:] = y[::-1] * x
    return np.sum(y * np.arange(1.0, len(y) + 1.0))


def k49_aug_on_alias_name(x):
    buf = x.copy()
    v = buf
    v += x * 2.0
    return np.sum(buf * x)


def k50_tuple_alias(x):
    buf = x.copy()
    t = (buf, 1.0)
    t[0][0] = 5.0 * x[1]
    return np.sum(buf * x)

''')


R = np.random.default_rng(28)


def r(*s):
    return R.uniform(0.05, 0.6, size=s)


def log_rows(*s):
    a = R.uniform(0.1, 1.0, size=s)
    return np.log(a / a.sum(axis=-1, keepdims=True))


X3 = np.array([0.2, 0.5, 0.35])
X4 = np.array([0.2, 0.5, 0.35, 0.45])
OBS = np.array([0, 2, 1, 3, 3, 0])
F32 = np.array([0.2, 0.5, 0.35], dtype=np.float32)
CASES = {
    "h01_late_lambda_after_loop": ((X3,), (0,), True),
    "h02_def_in_while_reads_later_rebind": ((X3,), (0,), True),
    "h03_slice_mul_in_branch_while_break_continue": ((np.array([0.3, 0.6, 0.7, 0.2]),), (0,), True),
    "h04_helper_kw_in_dict_comprehension": (({"a": r(3), "b": r(3)},), (0,), False),
    "h05_dict_state_while_break": ((X3,), (0,), True),
    "h06_list_stack_axis1_continue": ((X4,), (0,), True),
    "h07_where_then_mask_write": ((np.array([0.2, 0.5, 0.05, 0.45]),), (0,), False),
    "h08_early_return_while_in_for": ((np.array([[0.5, 0.6], [0.9, 0.8], [0.7, 0.3]]),), (0,), True),
    "h09_f32_loop_writes_helper": ((F32,), (0,), True),
    "h10_int_array_repeat_writes_loop": ((X4, np.array([2, 0, 2])), (0,), True),
    "h11_zero_d_arg_as_loop_carry": ((np.array(0.4), X3), (0, 1), True),
    "h12_ckpt_helper_with_inner_break": ((0.2, np.array([0.9, 0.5, 1.3])), (0, 1), True),
    "h13_ckpt_while_matrix_rows": ((np.array([[0.3, 0.4], [0.7, 0.2], [0.45, 0.1]]), 0.8), (0, 1), True),
    "h14_textbook_logsumexp_by_hand": ((log_rows(3), log_rows(3, 3), log_rows(3, 4), OBS), (0, 1, 2), True),
    "h15_backward_recursion_logZ": ((log_rows(3), log_rows(3, 3), log_rows(3, 4), OBS), (0, 1, 2), True),
    "h16_crf_log_partition": ((r(5, 3), r(3, 3)), (0, 1), True),
    "h17_local_level_kalman": ((np.array([0.3, 0.1, -0.4, 0.5, 0.2]), -1.0, -0.5), (0, 1, 2), True),
    "h18_enumerate_zip_closure_branch": ((X3, np.array([0.4, 0.1, 0.3])), (0, 1), True),
    "h19_sort_cumsum_argmax": ((np.array([0.3, 0.1, 0.5, 0.2]),), (0,), False),
    "h20_clip_array_bounds_while": ((X3, np.array([0.1, 0.2, 0.1]), np.array([0.9, 0.6, 0.8])), (0, 1, 2), True),
    "h21_recursive_helper_in_loop": ((X3,), (0,), True),
    "h22_newton_while_tolerance": ((1.7,), (0,), True),
    "h23_reversed_rows_written": ((r(3, 2), 0.7), (0, 1), True),
    "h24_strided_views_augassign": ((r(6),), (0,), False),
    "h25_einsum_loop_writes": ((r(2, 2), r(2)), (0, 1), True),
    "h26_solve_ckpt_loop": ((np.array([[2.0, 0.3], [0.1, 1.5]]), r(2)), (0, 1), True),
    "h27_namedtuple_replace_while_break": ((P.St(x=r(2), v=r(2)), 0.3), (0, 1), True),
    "h28_conditional_in_comprehension_helper": ((X4, 0.7), (0, 1), False),
    "h29_max_of_generator_helper": ((X4, 0.7), (0, 1), False),
    "h30_dependent_range_comprehension": ((X4,), (0,), False),
    "h31_enumerate_reversed_array": ((X4,), (0,), True),
    "h32_int_n_f32_while": ((F32, 3), (0,), True),
    "h33_dict_from_helper_items_written": ((X3, r(3)), (0, 1), True),
    "h34_zero_trip_ckpt": ((X3, 0), (0,), True),
    "h35_for_else_continue_ckpt": ((X3,), (0,), True),
    "h36_zero_d_augassign_ckpt": ((X3,), (0,), True),
    "h38_for_over_array_break": ((np.array([0.2, 0.3, 0.7, 0.1]),), (0,), True),
    "h39_where_index_mask": ((X4,), (0,), False),
    "h40_kwonly_wrt": ((X3,), (0,), False),
    "h41_matrix_power_loop_trace": ((r(2, 2),), (0,), True),
    "h42_nested_helper_default_loop_var": ((X3,), (0,), True),
    "h43_swap_in_ckpt_with_write": ((X3,), (0,), True),
    "h44_tuple_state_of_arrays_while": ((X3,), (0,), True),
    "h45_logaddexp_chain": ((X3,), (0,), True),
    "h46_masked_mean_var": ((X4,), (0,), False),
    "h49_ternary_helper_choice": ((X3, 1), (0,), True),
    "h50_float_zero_d_mix": ((X3, np.array(0.7)), (0, 1), False),
    "k01_closure_sees_array_written_after": ((X3,), (0,), False),
    "k04_where_on_written_self": ((X3,), (0,), True),
    "k05_mask_write_from_where": ((X4,), (0,), False),
    "k06_return_in_for_else": ((X3,), (0,), True),
    "k10_f32_times_module_f64": ((F32,), (0,), False),
    "k11_int_array_index_arith": ((X4, np.array([1, 2, 3, 6])), (0,), False),
    "k12_returns_zero_d_array": ((X3,), (0,), False),
    "k15_ckpt_nested_write_helper_kw": ((X3, 0.8), (0, 1), True),
    "k16_loop_var_after_ckpt_loop": ((X3,), (0,), True),
    "k17_while_cond_on_written_array": ((X3,), (0,), True),
    "k19_items_loop_writes_deepcopy": (({"a": r(3), "b": r(3)},), (0,), False),
    "k25_alias_through_dict": ((X3,), (0,), False),
    "k27_alias_through_namedtuple": ((X3,), (0,), False),
    "k28_alias_through_identity_helper": ((X3,), (0,), False),
    "k32_ellipsis_view_write": ((X3,), (0,), False),
    "k37_fancy_read_write_same": ((X4, np.array([0, 2, 3])), (0,), False),
    "k38_plus_eq_transpose": ((r(2, 2),), (0,), False),
    "k39_elem_swap_tuple": ((X3,), (0,), False),
    "k40_index_list_swap": ((X4,), (0,), False),
    "k41_swap_then_write": ((X3,), (0,), False),
    "k42_mirror_writes_loop": ((r(5),), (0,), True),
    "k45_write_then_alias_returned_helper": ((X3,), (0,), False),
    "k47_alias_in_loop_rebind": ((X3,), (0,), True),
    "k48_slice_assign_from_self_reversed": ((X4,), (0,), False),
}
CHECKPOINTED = sorted(name for name, (_, _, loop) in CASES.items() if loop)


def _tangent(a, rng):
    if isinstance(a, dict):
        return {k: _tangent(v, rng) for k, v in a.items()}
    if isinstance(a, (tuple, list)):
        return _rebuilt(a, [_tangent(v, rng) for v in a])
    return rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal())


def _dot(g, t):
    return sum(float(np.vdot(np.asarray(u, float), np.asarray(v, float))) for u, v in zip(_leaves(g), _leaves(t)))


def _close(a, b, rtol, atol, what=""):
    for u, v in zip(_leaves(a), _leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u, float), np.asarray(v, float), rtol=rtol, atol=atol, err_msg=what)


def _f64(args):
    return [a.astype(float) if isinstance(a, np.ndarray) and a.dtype == np.float32 else a for a in args]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_program(name, jit):
    """value_and_grad's value is f's (its type too), the gradient central differences' (of the float64 computation
    for float32 arguments); jvp the gradient's dot product with a random tangent; vjp the gradient (Python backend:
    the Numba backend compiles it as value_and_grad); the arguments are left as f leaves them."""
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
        _close(g, _fd(f, _f64(args), k), 1e-5, 1e-6, f"{name} d/d argument {k}")
        for u, a in zip(_leaves(g), _leaves(args[k])):
            assert np.shape(u) == np.shape(a)
    if not jit:
        vv, vg = srcdiff.vjp(f, wrt=wrt)(*copy.deepcopy(args), 1.0)
        assert vv == pytest.approx(y, rel=1e-10, abs=1e-12)
        _close(vg, grads, 1e-12, 1e-14)
    rng = np.random.default_rng(len(name))
    tangents = tuple(_tangent(args[k], rng) for k in wrt)
    jv, jt = srcdiff.jvp(f, wrt=wrt, jit=jit)(*copy.deepcopy(args), tangents)
    assert jv == pytest.approx(y, rel=1e-10, abs=1e-12)
    assert jt == pytest.approx(sum(_dot(g, t) for g, t in zip(grads, tangents)), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", CHECKPOINTED)
def test_checkpointed(name, jit):
    """`checkpoints=k` gives the taped value and gradient: k = 1, 2 and 3 snapshots in Python, 2 under Numba."""
    f = getattr(P, name)
    args, wrt, _ = CASES[name]
    value, grads = srcdiff.value_and_grad(f, wrt=wrt)(*copy.deepcopy(args))
    for k in ((2,) if jit else (1, 2, 3)):
        v, g = srcdiff.value_and_grad(f, wrt=wrt, jit=jit, checkpoints=k)(*copy.deepcopy(args))
        assert v == pytest.approx(value, rel=1e-12, abs=1e-14)
        _close(g, grads, 1e-9, 1e-11, f"{name} checkpoints={k}")


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_declines(jit):
    """Declines name the file:line, the construct and what to write instead, in the user's names: `y` of
    `y = a if c else b` (was srcdiff's `y1`: "`a` shares memory with `y1`", "make `y1` a copy"), the list's own name
    in the advice (was `arr = np.array(out)` of a list named `hist`)."""
    where = r"handwritten_twentyeighth\.py:\d+: "
    shares = where + r"`{0}` shares memory with `{1}`, which this assignment writes in place.*hint: write into `{0}` " \
                     r"itself instead of through `{1}`, or make `{1}` a copy"
    item = where + r"the write {0}\[0\]\[\d\] = \.\.\. into an item of the tuple/list `{0}` is not supported"
    for name, args, pattern in (
            ("k24_conditional_alias_write", (X3,), shares.format("a", "y")),
            ("k29_full_slice_view_write", (X3,), shares.format("buf", "y")),
            ("k30_reshape_view_write", (X4,), shares.format("buf", "y")),
            ("k31_ravel_view_write", (r(2, 2),), shares.format("buf", "y")),
            ("k43_view_of_view_write", (r(3, 2),), shares.format("A", "c")),
            ("k46_transpose_attr_write", (r(2, 2),), shares.format("A", "B")),
            ("k49_aug_on_alias_name", (X3,), shares.format("buf", "v")),
            ("k26_alias_through_list", (X3,), item.format("L")),
            ("k50_tuple_alias", (X3,), item.format("t")),
            ("h37_star_unpack_call", (X3,), where + r"call of 'pair_fn' with \*args or \*\*kwargs.*pass each argument"),
            ("h47_outer_grad_update_list", (X3,), where + r"the list `hist` is used other than by append.*"
                                                          r"hint: .*arr = np\.array\(hist\)"),
            ("k34_sort_method_inplace", (X4,), where + r"method \.sort\(\) is not supported.*np\.sort"),
            ("k44_diag_setting_fill_diagonal", (r(2, 2),), where + r"call to numpy\.fill_diagonal has no "
                                                                   r"differentiation rule")):
        with pytest.raises(srcdiff.SrcdiffError, match="(?s)" + pattern) as info:
            srcdiff.grad(getattr(P, name), jit=jit)(*args)
        assert "y1" not in str(info.value)
