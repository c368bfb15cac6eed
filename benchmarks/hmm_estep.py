"""E-step timings for a categorical HMM: srcdiff gradient of log Z vs peers.

What is timed (one sequence of length T, K states, V symbols, float64, CPU):

* srcdiff      ``srcdiff.vi.hmm.e_step``: the numba-jitted value-and-gradient of the
               plain-NumPy forward recursion ``log_Z`` w.r.t. (log_pi, log_A, log_B),
               i.e. log-likelihood + expected start / transition / emission counts.
               Warm: compilation happens in an untimed first call.
* hmmlearn     ``CategoricalHMM._do_estep(X, lengths)``: hmmlearn's own E-step as used
               by ``fit`` (log-space forward and backward lattices in C++, posteriors,
               summed xi, emission counts) -- the same outputs as above.
* hmmlearn-pp  ``CategoricalHMM.score_samples(X)``: public API, log-likelihood and
               posteriors only (``_score(..., compute_posteriors=True)``); no
               transition counts, so it does less work than an E-step.
* jax          ``jax.jit(jax.value_and_grad(log_Z, argnums=(0, 1, 2)))`` with the forward
               recursion as ``lax.scan`` and ``jax.nn.logsumexp``, x64 enabled, warm,
               timed until ``block_until_ready``.
* numba-hand   the textbook scaled forward-backward hand-written in Numba (the same outputs;
               a lower bound on what a compiler could emit, not a peer library).
* autograd     ``autograd.value_and_grad`` of the same Python loop with autograd.numpy;
               skipped when its estimated time per call exceeds ``--autograd-limit``
               seconds (default 20).

Each cell is the median of ``--repeats`` timed calls (``time.perf_counter``; with ``--clock thread``
the calling thread's CPU time, ``time.thread_time``, which a loaded machine disturbs less: right for
srcdiff, numba-hand and autograd, which run on the calling thread, an undercount for JAX and any peer
that works in threads of its own).  Peers
that cannot be imported are skipped with a message.  Ratios are peer time / srcdiff
time (> 1 means srcdiff is faster).

Usage::

    python benchmarks/hmm_estep.py [--K 5 20 50] [--T 1000 10000] [--repeats 7]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402,F401  (first: this checkout's srcdiff, installed or not; BLAS/XLA threads pinned)

import numpy as np  # noqa: E402


def random_problem(K, V, T, seed=0):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(K))
    A = rng.dirichlet(np.ones(K), size=K)
    B = rng.dirichlet(np.ones(V), size=K)
    data = rng.integers(0, V, T).astype(np.int64)
    return pi, A, B, data


CLOCK = time.perf_counter


def median_time(fn, repeats, budget=None):
    """Median of `repeats` timings of fn(); stops early once `budget` seconds are spent."""
    times = []
    spent = 0.0
    for _ in range(repeats):
        t0 = CLOCK()
        fn()
        dt = CLOCK() - t0
        times.append(dt)
        spent += dt
        if budget is not None and spent > budget and len(times) >= 1:
            break
    return statistics.median(times)


# --------------------------------------------------------------------------- srcdiff

def make_srcdiff(pi, A, B, data):
    from srcdiff.vi import hmm
    params = (np.log(pi), np.log(A), np.log(B))

    def run():
        return hmm.e_step(params, data)

    return run


# --------------------------------------------------------------------------- hmmlearn

def _hmmlearn_model(pi, A, B):
    from hmmlearn.hmm import CategoricalHMM
    K, V = B.shape
    m = CategoricalHMM(n_components=K, n_features=V, init_params="", params="ste")
    m.startprob_, m.transmat_, m.emissionprob_ = pi, A, B
    return m


def make_hmmlearn_estep(pi, A, B, data):
    m = _hmmlearn_model(pi, A, B)
    X = data[:, None]
    lengths = np.array([len(data)])
    if not hasattr(m, "_do_estep"):
        raise ImportError("this hmmlearn version has no _do_estep")

    def run():
        return m._do_estep(X, lengths)

    return run


def make_hmmlearn_posteriors(pi, A, B, data):
    m = _hmmlearn_model(pi, A, B)
    X = data[:, None]

    def run():
        return m.score_samples(X)

    return run


# --------------------------------------------------------------------------- jax

def make_jax(pi, A, B, data):
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    from jax.nn import logsumexp

    def log_Z(log_pi, log_A, log_B, data):
        def step(log_alpha, x_t):
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, x_t]
            return log_alpha, None
        log_alpha, _ = jax.lax.scan(step, log_pi + log_B[:, data[0]], data[1:])
        return logsumexp(log_alpha)

    vg = jax.jit(jax.value_and_grad(log_Z, argnums=(0, 1, 2)))
    args = (jnp.asarray(np.log(pi)), jnp.asarray(np.log(A)), jnp.asarray(np.log(B)),
            jnp.asarray(data))

    def run():
        value, grads = vg(*args)
        return jax.block_until_ready((value, grads))

    return run


# --------------------------------------------------------------------------- hand-written Numba

def make_numba_hand(pi, A, B, data):
    """The textbook scaled forward-backward (normalised alpha, c_t scales), hand-written in Numba:
    the same outputs (log-likelihood, expected first state, transition and emission counts)."""
    import numba

    @numba.njit
    def estep(log_pi, log_A, log_B, data):
        K, T = log_pi.shape[0], data.shape[0]
        A, B = np.exp(log_A), np.exp(log_B)
        alpha, c = np.empty((T, K)), np.empty(T)
        for k in range(K):
            alpha[0, k] = np.exp(log_pi[k]) * B[k, data[0]]
        c[0] = alpha[0].sum()
        alpha[0] /= c[0]
        for t in range(1, T):
            for j in range(K):
                a = 0.0
                for i in range(K):
                    a += alpha[t - 1, i] * A[i, j]
                alpha[t, j] = a * B[j, data[t]]
            c[t] = alpha[t].sum()
            alpha[t] /= c[t]
        beta, prev = np.ones(K), np.empty(K)
        counts_A, counts_B = np.zeros((K, K)), np.zeros_like(log_B)
        for t in range(T - 1, 0, -1):
            for j in range(K):
                counts_B[j, data[t]] += alpha[t, j] * beta[j]
            for i in range(K):
                acc = 0.0
                for j in range(K):
                    w = A[i, j] * B[j, data[t]] * beta[j] / c[t]
                    counts_A[i, j] += alpha[t - 1, i] * w
                    acc += w
                prev[i] = acc
            beta, prev = prev, beta
        first = alpha[0] * beta
        counts_B[:, data[0]] += first
        return np.log(c).sum(), first, counts_A, counts_B

    params = (np.log(pi), np.log(A), np.log(B))

    def run():
        return estep(*params, data)

    return run


# --------------------------------------------------------------------------- autograd

def make_autograd(pi, A, B, data):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp

    def log_Z(log_pi, log_A, log_B, data):
        log_alpha = log_pi + log_B[:, data[0]]
        for t in range(1, data.shape[0]):
            log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, data[t]]
        return logsumexp(log_alpha)

    vg = autograd.value_and_grad(lambda p: log_Z(p[0], p[1], p[2], data))
    params = [anp.log(pi), anp.log(A), anp.log(B)]

    def run():
        return vg(params)

    return run


PEERS = [
    ("srcdiff", make_srcdiff),
    ("hmmlearn", make_hmmlearn_estep),
    ("hmmlearn-pp", make_hmmlearn_posteriors),
    ("jax", make_jax),
    ("numba-hand", make_numba_hand),
    ("autograd", make_autograd),
]


def check_agreement(K=4, V=5, T=50):
    """Sanity check: every available peer computes the same log-likelihood."""
    pi, A, B, data = random_problem(K, V, T, seed=1)
    values = {}
    for name, make in PEERS:
        try:
            out = make(pi, A, B, data)()
        except ImportError:
            continue
        if name == "srcdiff":
            values[name] = out[0]
            counts = out[1]
        elif name == "numba-hand":
            values[name] = out[0]
            for mine, theirs in zip(out[1:], counts):
                if not np.allclose(mine, theirs, rtol=1e-8, atol=1e-10):
                    print(f"WARNING: {name} expected counts differ from srcdiff's")
        elif name == "hmmlearn":
            values[name] = out[1]
        elif name == "hmmlearn-pp":
            values[name] = out[0]
        else:
            values[name] = float(out[0])
    ref = values.get("srcdiff", next(iter(values.values())))
    for name, v in values.items():
        if not np.isclose(v, ref, rtol=1e-9):
            print(f"WARNING: {name} log-likelihood {v} differs from {ref}")


def main():
    parser = argparse.ArgumentParser(description="HMM E-step benchmark")
    parser.add_argument("--K", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--T", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--V", type=int, default=27)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--autograd-limit", type=float, default=20.0)
    parser.add_argument("--json", metavar="PATH", help="write summary rows for run_all.py to PATH")
    parser.add_argument("--quick", action="store_true", help="K in (5, 20), T = 10 000, no autograd")
    parser.add_argument("--clock", choices=["wall", "thread"], default="wall",
                        help="time.perf_counter (default) or the calling thread's CPU time (time.thread_time)")
    parser.add_argument("--only", nargs="+", metavar="PEER", help="time only these peers (srcdiff always)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.thread_time if args.clock == "thread" else time.perf_counter
    if args.only:
        PEERS[:] = [(n, m) for n, m in PEERS if n == "srcdiff" or n in args.only]
    if args.quick:
        args.K, args.T = [5, 20], [10000]
        PEERS[:] = [(n, m) for n, m in PEERS if n != "autograd"]

    available = []
    for name, make in PEERS:
        try:
            make(*random_problem(2, 2, 3))
            available.append((name, make))
        except ImportError as exc:
            print(f"skipping {name}: not importable ({exc})")
    names = [n for n, _ in available]
    if "srcdiff" not in names:
        raise SystemExit("srcdiff is required")
    check_agreement()

    results = {}
    autograd_per_step = {}
    for K in args.K:
        for T in args.T:
            pi, A, B, data = random_problem(K, args.V, T)
            row = {}
            for name, make in available:
                if name == "autograd" and K in autograd_per_step:
                    estimate = autograd_per_step[K] * T
                    if estimate > args.autograd_limit:
                        row[name] = None
                        print(f"  autograd K={K} T={T}: skipped (estimated {estimate:.0f} s "
                              f"> {args.autograd_limit:.0f} s)")
                        continue
                fn = make(pi, A, B, data)
                t0 = time.perf_counter()
                fn()  # warm-up: compilation / tracing, not timed
                first = time.perf_counter() - t0
                if name == "autograd":
                    autograd_per_step[K] = first / T
                    if first > args.autograd_limit:
                        row[name] = first
                        continue
                budget = 60.0 if name == "autograd" else None
                row[name] = median_time(fn, args.repeats, budget=budget)
            results[(K, T)] = row
            cells = "  ".join(f"{n}={row[n] * 1e3:.2f}ms" if row.get(n) is not None
                              else f"{n}=skipped" for n in names)
            print(f"K={K:3d} T={T:6d}  {cells}", flush=True)

    print()
    print(f"Median {'thread CPU' if args.clock == 'thread' else 'wall'} time per E-step call in ms "
          "(ratio = peer / srcdiff; >1: srcdiff faster)")
    header = f"{'K':>4} {'T':>7} " + " ".join(f"{n:>22}" for n in names)
    print(header)
    print("-" * len(header))
    for (K, T), row in results.items():
        base = row["srcdiff"]
        cells = []
        for n in names:
            t = row.get(n)
            if t is None:
                cells.append(f"{'skipped':>22}")
            elif n == "srcdiff":
                cells.append(f"{t * 1e3:>13.3f}         ")
            else:
                cells.append(f"{t * 1e3:>13.3f} ({t / base:5.2f}x)")
        print(f"{K:>4} {T:>7} " + " ".join(cells))
    if args.json:
        write_summary(args.json, results, args.V)


GOALS = {"numba-hand": "<= 1.5x the hand-written kernel at K=5", "hmmlearn": "faster than hmmlearn",
         "jax": "faster than JAX"}
# (srcdiff's time, the peer's, K) -> the goal holds (None: the goal is not about this row)
CHECKS = {"numba-hand": lambda me, it, K: me <= 1.5 * it if K == 5 else None,
          "hmmlearn": lambda me, it, K: me < it, "jax": lambda me, it, K: me < it}
LABELS = {"numba-hand": "hand-written scaled forward-backward, Numba (bound)",
          "hmmlearn": "hmmlearn E-step (`_do_estep`)", "jax": "JAX lax.scan + jit(value_and_grad)"}


def met(ok) -> str:
    """run_all.py's "met" column: yes, **no**, or - where the goal is not about the row."""
    return "-" if ok is None else "yes" if ok else "**no**"


def write_summary(path, results, V):
    """Rows for run_all.py's table: at the longest T, srcdiff against the bound and the peers."""
    import json
    T = max(t for _, t in results)
    rows = []
    for (K, t), row in sorted(results.items()):
        if t != T or row.get("srcdiff") is None:
            continue
        for name in ("numba-hand", "hmmlearn", "jax"):
            if row.get(name) is None:
                continue
            rows.append({"benchmark": f"HMM E-step `vi.hmm.e_step`, K={K}, T={T:,}, V={V}".replace(",0", " 0"),
                         "srcdiff": f"{row['srcdiff'] * 1e3:.2f} ms",
                         "first call: cold / disk cache": "-", "compared with": LABELS[name],
                         "its time": f"{row[name] * 1e3:.2f} ms",
                         "ratio (its / srcdiff)": f"{row[name] / row['srcdiff']:.2f}x", "goal": GOALS[name],
                         "met": met(CHECKS[name](row["srcdiff"], row[name], K))})
    with open(path, "w") as fh:
        json.dump({"name": "hmm_estep", "summary": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
