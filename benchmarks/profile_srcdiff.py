"""Where does srcdiff's generated code spend time in benchmarks (a) and (c)?

Prints ``srcdiff.source`` of the jitted value_and_grad for the recurrence and the HMM
log-partition, then times hand-edited copies of that generated code (each one change away
from what srcdiff emitted at the time of writing), so each inefficiency gets a number:

(a) recurrence      gen      : srcdiff's own function
                    tape     : the same pushes, but into preallocated float64 arrays (typed tape)
                               instead of Python lists (Numba reflected lists)
                    live     : typed tape + only the pushes the backward sweep reads
                    no-tape  : no tape; ys[t] re-read from ys (the reverse sweep restores ys, so
                               ys[t] still holds its forward value when step t is reversed)
(c) HMM log Z       gen      : srcdiff's own function
                    inplace  : d_log_A += ... instead of d_log_A = d_log_A + ... (no K x K alloc)
                    remat    : inplace + don't push log_alpha_3/4/7 (a view, a K x K temporary,
                               a column copy); recompute log_alpha_4 = log_alpha[:, None] + log_A

The variants are frozen copies: when the compiler changes, re-read the printed source. (The (c)
variants predate the log-domain product (transforms/logdomain.py) and preaccumulation; they now show
how far the compiler has moved past those hand edits, not what remains to gain.)

    python benchmarks/profile_srcdiff.py [--repeats 21]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (pins BLAS threads)

import numba  # noqa: E402
import numpy as np  # noqa: E402

import srcdiff  # noqa: E402
from srcdiff import runtime as rt  # noqa: E402

import hmm_logz  # noqa: E402
import recurrence  # noqa: E402


# ------------------------------------------------------------------ (a) variants of the generated code

@numba.njit(cache=True)
def rec_tape(a, b, y0, dt, n, obs):
    """Generated code with every list replaced by a preallocated array (same pushes)."""
    s3 = np.empty(n); s4 = np.empty(n); s5 = np.empty(n); s6 = np.empty(n); s7 = np.empty(n)  # noqa: E702
    s8 = np.empty(n); s9 = np.empty(n); s10 = np.empty(n); sold = np.empty(n)  # noqa: E702
    ys = np.zeros(n + 1)
    ys_old = ys[0]
    ys[0] = y0
    for t in range(n):
        ys_2 = t + 1
        ys_3 = ys[t]; ys_4 = ys[t]; ys_5 = a * ys_4; ys_6 = ys[t]; ys_7 = ys_6 ** 2  # noqa: E702
        ys_8 = b * ys_7; ys_9 = ys_5 - ys_8; ys_10 = dt * ys_9; ys_11 = ys_3 + ys_10  # noqa: E702
        ys_old_1 = ys[ys_2]
        ys[ys_2] = ys_11
        s3[t] = ys_3; s4[t] = ys_4; s5[t] = ys_5; s6[t] = ys_6; s7[t] = ys_7  # noqa: E702
        s8[t] = ys_8; s9[t] = ys_9; s10[t] = ys_10; sold[t] = ys_old_1  # noqa: E702
    result = ys - obs
    result_2 = np.sum(result ** 2)
    d_ys = 2.0 * result
    d_a = 0.0
    d_b = 0.0
    for t in range(n - 1, -1, -1):
        ys_old_1 = sold[t]; ys_10 = s10[t]; ys_9 = s9[t]; ys_8 = s8[t]; ys_7 = s7[t]  # noqa: E702
        ys_6 = s6[t]; ys_5 = s5[t]; ys_4 = s4[t]; ys_3 = s3[t]  # noqa: E702
        ys_2 = t + 1
        d_ys_11 = d_ys[ys_2]
        d_ys[ys_2] = 0.0
        ys[ys_2] = ys_old_1
        d_ys_3 = d_ys_11
        d_ys_9 = d_ys_11 * dt
        d_ys_8 = -d_ys_9
        d_b = d_b + d_ys_8 * ys_7
        d_ys_7 = d_ys_8 * b
        d_ys[t] += d_ys_7 * 2 * ys_6
        d_a = d_a + d_ys_9 * ys_4
        d_ys[t] += d_ys_9 * a
        d_ys[t] += d_ys_3
    d_ys[0] = 0.0
    ys[0] = ys_old
    return result_2, (d_a, d_b)


@numba.njit(cache=True)
def rec_live(a, b, y0, dt, n, obs):
    """Typed tape with only the live, distinct pushes: ys[t] (once), ys[t]**2 and the overwritten value."""
    s4 = np.empty(n); s7 = np.empty(n); sold = np.empty(n)  # noqa: E702
    ys = np.zeros(n + 1)
    ys_old = ys[0]
    ys[0] = y0
    for t in range(n):
        y = ys[t]
        ys_7 = y ** 2
        sold[t] = ys[t + 1]
        ys[t + 1] = y + dt * (a * y - b * ys_7)
        s4[t] = y; s7[t] = ys_7  # noqa: E702
    result = ys - obs
    result_2 = np.sum(result ** 2)
    d_ys = 2.0 * result
    d_a = 0.0
    d_b = 0.0
    for t in range(n - 1, -1, -1):
        y = s4[t]
        g = d_ys[t + 1]
        d_ys[t + 1] = 0.0
        ys[t + 1] = sold[t]
        d9 = g * dt
        d_b -= d9 * s7[t]
        d_a += d9 * y
        d_ys[t] += g + d9 * (a - 2.0 * b * y)
    d_ys[0] = 0.0
    ys[0] = ys_old
    return result_2, (d_a, d_b)


@numba.njit(cache=True)
def rec_notape(a, b, y0, dt, n, obs):
    """No tape: the restore of ys[t+1] leaves ys[t] at its forward value, so re-read it."""
    sold = np.empty(n)
    ys = np.zeros(n + 1)
    ys_old = ys[0]
    ys[0] = y0
    for t in range(n):
        y = ys[t]
        sold[t] = ys[t + 1]
        ys[t + 1] = y + dt * (a * y - b * y ** 2)
    result = ys - obs
    result_2 = np.sum(result ** 2)
    d_ys = 2.0 * result
    d_a = 0.0
    d_b = 0.0
    for t in range(n - 1, -1, -1):
        g = d_ys[t + 1]
        d_ys[t + 1] = 0.0
        ys[t + 1] = sold[t]
        y = ys[t]
        d9 = g * dt
        d_b -= d9 * y * y
        d_a += d9 * y
        d_ys[t] += g + d9 * (a - 2.0 * b * y)
    d_ys[0] = 0.0
    ys[0] = ys_old
    return result_2, (d_a, d_b)


# ------------------------------------------------------------------ (c) variants of the generated code

@numba.njit(cache=True)
def hmm_inplace(log_pi, log_A, log_B, y):
    """Generated code, except d_log_A is accumulated in place."""
    log_alpha_3_stack = []
    log_alpha_4_stack = []
    log_alpha_5_stack = []
    log_alpha_6_stack = []
    log_alpha_7_stack = []
    log_alpha_stack = []
    log_alpha_1 = y[0]
    log_alpha_2 = log_B[:, log_alpha_1]
    log_alpha = log_pi + log_alpha_2
    n_1 = y.shape[0]
    for t in range(1, n_1):
        log_alpha_3 = rt.expand_dims(log_alpha, 1)
        log_alpha_4 = log_alpha_3 + log_A
        log_alpha_5 = rt.logsumexp(log_alpha_4, 0)
        log_alpha_6 = y[t]
        log_alpha_7 = log_B[:, log_alpha_6]
        log_alpha_8 = log_alpha_5 + log_alpha_7
        log_alpha_3_stack.append(log_alpha_3)
        log_alpha_4_stack.append(log_alpha_4)
        log_alpha_5_stack.append(log_alpha_5)
        log_alpha_6_stack.append(log_alpha_6)
        log_alpha_7_stack.append(log_alpha_7)
        log_alpha_stack.append(log_alpha)
        log_alpha = log_alpha_8
    result = rt.logsumexp(log_alpha)
    d_log_alpha = rt.logsumexp_grad(1.0, log_alpha, result, None)
    d_log_A = rt.zeros_like(log_A)
    d_log_B = rt.zeros_like(log_B)
    for t in range(n_1 - 1, 0, -1):
        log_alpha = log_alpha_stack.pop()
        log_alpha_7 = log_alpha_7_stack.pop()
        log_alpha_6 = log_alpha_6_stack.pop()
        log_alpha_5 = log_alpha_5_stack.pop()
        log_alpha_4 = log_alpha_4_stack.pop()
        log_alpha_3 = log_alpha_3_stack.pop()
        d_log_alpha_8 = d_log_alpha
        d_log_alpha_5 = rt.unbroadcast(d_log_alpha_8, log_alpha_5)
        d_log_alpha_7 = rt.unbroadcast(d_log_alpha_8, log_alpha_7)
        rt.index_add(d_log_B, (slice(None, None, None), log_alpha_6), d_log_alpha_7)
        d_log_alpha_4 = rt.logsumexp_grad(d_log_alpha_5, log_alpha_4, log_alpha_5, 0)
        d_log_alpha_3 = rt.unbroadcast(d_log_alpha_4, log_alpha_3)
        d_log_A += d_log_alpha_4
        d_log_alpha = rt.reshape_like(d_log_alpha_3, log_alpha)
    d_log_pi = d_log_alpha
    d_log_B[:, log_alpha_1] += d_log_alpha
    return result, (d_log_pi, d_log_A, d_log_B)


@numba.njit(cache=True)
def hmm_remat(log_pi, log_A, log_B, y):
    """inplace + a (T, K) typed tape of log_alpha and log_alpha_5 only; log_alpha_4 recomputed."""
    T = y.shape[0]
    K = log_pi.shape[0]
    tape_alpha = np.empty((T, K))
    tape_lse = np.empty((T, K))
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, T):
        log_alpha_5 = rt.logsumexp(rt.expand_dims(log_alpha, 1) + log_A, 0)
        tape_alpha[t] = log_alpha
        tape_lse[t] = log_alpha_5
        log_alpha = log_alpha_5 + log_B[:, y[t]]
    result = rt.logsumexp(log_alpha)
    d_log_alpha = rt.logsumexp_grad(1.0, log_alpha, result, None)
    d_log_A = np.zeros_like(log_A)
    d_log_B = np.zeros_like(log_B)
    for t in range(T - 1, 0, -1):
        log_alpha = tape_alpha[t]
        d_log_B[:, y[t]] += d_log_alpha
        log_alpha_4 = rt.expand_dims(log_alpha, 1) + log_A
        d_log_alpha_4 = rt.logsumexp_grad(d_log_alpha, log_alpha_4, tape_lse[t], 0)
        d_log_A += d_log_alpha_4
        d_log_alpha = d_log_alpha_4.sum(axis=1)
    d_log_B[:, y[0]] += d_log_alpha
    return result, (d_log_alpha, d_log_A, d_log_B)


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--quiet", action="store_true", help="don't print the generated sources")
    args = p.parse_args(argv)

    rows = []
    n = 20000
    obs = recurrence.make_obs(n)
    ra = (recurrence.A, recurrence.B, recurrence.Y0, recurrence.DT, n, obs)
    gen_a = srcdiff.value_and_grad(recurrence.simulate, wrt=("a", "b"), jit=True)
    if not args.quiet:
        print("=" * 30, "(a) srcdiff.source: value_and_grad(simulate, wrt=('a', 'b'), jit=True)")
        print(srcdiff.source(gen_a))
    ref = gen_a(*ra)
    for name, fn in [("(a) gen", gen_a), ("(a) tape", rec_tape), ("(a) live", rec_live),
                     ("(a) no-tape", rec_notape)]:
        C.check_close(name, fn(*ra), ref)
        t, _ = C.median_time(lambda: fn(*ra), args.repeats)
        rows.append((name, t))

    hp = hmm_logz.problem(20, 2000, 101)
    gen_c = srcdiff.value_and_grad(hmm_logz.log_Z, wrt=(0, 1, 2), jit=True)
    if not args.quiet:
        print("=" * 30, "(c) srcdiff.source: value_and_grad(log_Z, wrt=(0, 1, 2), jit=True)")
        print(srcdiff.source(gen_c))
    ref = gen_c(*hp)
    for name, fn in [("(c) gen", gen_c), ("(c) inplace", hmm_inplace), ("(c) remat", hmm_remat)]:
        C.check_close(name, fn(*hp), ref)
        t, _ = C.median_time(lambda: fn(*hp), args.repeats)
        rows.append((name, t))

    print("\n| variant | warm median | vs gen |\n|---|---:|---:|")
    base = {}
    for name, t in rows:
        key = name.split()[0]
        base.setdefault(key, t)
        print(f"| {name} | {C.fmt_time(t)} | {t / base[key]:.2f}x |")


if __name__ == "__main__":
    main()
