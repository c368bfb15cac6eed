"""(b) Logistic regression loss, N=20 000, D=100: value and gradient w.r.t. (w, b).

    z = x @ w + b
    loss = mean(max(z, 0) + log1p(exp(-|z|)) - y * z) + 1e-3 * sum(w ** 2)    (stable log-loss)

* srcdiff       ``srcdiff.value_and_grad(loss, wrt=("w", "b"), jit=True)``
* numpy-hand    hand-written NumPy value and gradient (expit(z) - y, one matvec each way)
* numba-hand    one hand-written Numba loop over the rows of x (z_i, the loss and g_i for row i, then
                dw += g_i * x[i] while the row is in cache: x read once; libm's exp and log1p per row,
                where srcdiff's blocks of rows vectorise them: optimize/rowblocks.py), on one thread
* srcdiff, jit="parallel"  the same gradient with its pass over the rows of x on all of Numba's threads
                where x has 2^18 numbers or more (optimize/rowchunks.py; jit=True's code answers the first
                calls while another process compiles it: timed once it has switched)
* numba-hand-parallel  the hand-written loop on all of Numba's threads (`prange`, a run of rows and partial
                sums per thread): the bound of a gradient that uses every core, as jit="parallel" does and
                JAX's XLA runtime does when a core is free
* jax           ``jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))``, x64
* autograd      ``autograd.value_and_grad`` of the same expression

Every method reads one buffer of x: a copy 64-byte aligned and in 2 MiB huge pages (_pages.py; JAX through a
zero-copy DLPack view), where NumPy's own x lies 16 bytes past a cache line and JAX's own copy in 4 KiB
pages, each measured at about 10% in the same process (2026-11-27, before rt.rows_add started its
vector loop on a 32-byte boundary). srcdiff on NumPy's own x is timed too, as a row of its
own. The fast methods are timed in turns (rounds of four calls each, in a new order every round; the first
call of a turn not counted), so the load of a shared machine, which moves every time by up to 2x from one
process to the next, hits them alike (benchmarks/README.md, "(b) logistic loss: what moves the times").
The CPU time of each method's calls (all the process's threads: Numba's waiting threads spin for a while
after each parallel loop, as XLA's do) and the number of Numba threads are printed as notes.

    python benchmarks/logistic.py [--N 20000] [--D 100] [--repeats 21]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (first: pins BLAS/XLA threads before NumPy is imported)
import _pages  # noqa: E402

import numpy as np  # noqa: E402
from scipy.special import expit

L2 = 1e-3


def loss(w, b, x, y):
    z = x @ w + b
    return np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + L2 * np.sum(w ** 2)


def numpy_hand(w, b, x, y):
    z = x @ w + b
    value = np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + L2 * np.dot(w, w)
    g = (expit(z) - y) / x.shape[0]
    return value, (x.T @ g + 2.0 * L2 * w, np.sum(g))


def _rows_kernel():
    """The hand-written kernels' loop over rows start..stop of x (z_i, the loss and g_i of row i, then
    dw += g_i * x[i] while the row is in cache): (the rows' loss, their d b), dw updated in place."""
    import numba

    @numba.njit(fastmath={"reassoc", "contract", "nsz"}, cache=True)
    def rows(w, b, x, y, start, stop, dw):
        n, d = x.shape
        total, db = 0.0, 0.0
        for i in range(start, stop):
            z = b
            for j in range(d):
                z += x[i, j] * w[j]
            e = np.exp(-abs(z))
            total += max(z, 0.0) + np.log1p(e) - y[i] * z
            p = 1.0 / (1.0 + e) if z >= 0 else e / (1.0 + e)
            g = (p - y[i]) / n
            db += g
            for j in range(d):
                dw[j] += g * x[i, j]
        return total, db
    return rows


def numba_hand_kernel():
    import numba
    rows = _rows_kernel()

    @numba.njit(fastmath={"reassoc", "contract", "nsz"}, cache=True)
    def value_and_grad(w, b, x, y):
        n = x.shape[0]
        dw = 2.0 * L2 * w
        total, db = rows(w, b, x, y, 0, n, dw)
        return total / n + L2 * np.dot(w, w), (dw, db)
    return value_and_grad


def numba_hand_parallel_kernel():
    """The fused kernel above on all of Numba's threads: one run of consecutive rows per thread, each with its
    own partial sums, added in order after the loop (the bound of a gradient on every core; the thread count
    is read in Python, so the kernel stays in Numba's disk cache)."""
    import numba
    rows = _rows_kernel()

    @numba.njit(fastmath={"reassoc", "contract", "nsz"}, parallel=True, cache=True)
    def run(w, b, x, y, T):
        n, d = x.shape
        dws = np.zeros((T, d))
        totals, dbs = np.zeros(T), np.zeros(T)
        for t in numba.prange(T):
            totals[t], dbs[t] = rows(w, b, x, y, n * t // T, n * (t + 1) // T, dws[t])
        dw = 2.0 * L2 * w
        for t in range(T):
            dw += dws[t]
        return totals.sum() / n + L2 * np.dot(w, w), (dw, dbs.sum())
    return lambda w, b, x, y: run(w, b, x, y, numba.get_num_threads())


def cpu_times(fns: dict, calls: int = 40) -> str:
    """CPU time of all the process's threads per call, for each method (`calls` calls back to back)."""
    import time
    out = []
    for label, fn in fns.items():
        fn()
        t0 = time.process_time()
        for _ in range(calls):
            C.block(fn())
        out.append(f"{label} {(time.process_time() - t0) / calls * 1e3:.2f} ms")
    return "CPU time per call, all threads: " + ", ".join(out)


def problem(N, D, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D))
    w_true = rng.normal(size=D)
    y = (x @ w_true + rng.normal(size=N) > 0).astype(np.float64)
    w = 0.1 * rng.normal(size=D)  # a generic point (no ties at z == 0)
    return w, 0.05, x, y


def jax_peer(w, b, x, y, skipped: list, notes: list):
    """JAX's `jit(value_and_grad)` reading the same buffer of x as srcdiff (a zero-copy DLPack view), or None."""
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError as e:
        skipped.append(f"jax ({e})")
        return None

    def jloss(w, b, x, y):
        z = x @ w + b
        return (jnp.mean(jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z))) - y * z)
                + L2 * jnp.sum(w ** 2))
    jvg = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1)))
    xj = _pages.jax_view(x)
    if xj is None:
        xj = jnp.asarray(x)
        notes.append(f"JAX copies x (no zero-copy DLPack view here): its copy {_pages.describe(xj)}")
    wj, bj, yj = (jnp.asarray(v) for v in (w, b, y))
    return lambda: jvg(wj, bj, xj, yj)


def load_note() -> str:
    """The 1-minute load average and, where Linux reports it, the share of time some task waited for a CPU."""
    note = f"load average {os.getloadavg()[0]:.1f}"
    try:
        with open("/proc/pressure/cpu") as fh:
            note += f", CPU pressure (some, avg10) {fh.readline().split()[1].split('=')[1]}%"
    except OSError:
        pass
    return note


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=20000)
    p.add_argument("--D", type=int, default=100)
    args = p.parse_args(argv)
    C.setup_cache(args)
    w, b, x_numpy, y = problem(args.N, args.D)
    x = _pages.copy_of(x_numpy)   # the one buffer every method reads: aligned, in huge pages

    import srcdiff
    vg = srcdiff.value_and_grad(loss, wrt=("w", "b"), jit=True)
    call = lambda: vg(w, b, x, y)  # noqa: E731
    first = C.first_call(call)
    if args.second_process:
        C.report_second_process(first)
        return
    ref = call()
    second = C.second_process_first_call(os.path.abspath(__file__), args)
    skipped, notes = [], [f"x: NumPy's {_pages.describe(x_numpy)}; the buffer every method reads "
                          f"{_pages.describe(x)}"]
    own = "srcdiff, NumPy's own x (16 B past a cache line)"
    fns, firsts = {"srcdiff": call, own: lambda: vg(w, b, x_numpy, y)}, {"srcdiff": first}
    threaded = 'srcdiff, jit="parallel"'      # (run_all: rows of their own against the peers)
    pvg = srcdiff.value_and_grad(loss, wrt=("w", "b"), jit="parallel")
    firsts[threaded] = C.first_call(lambda: pvg(w, b, x, y))    # (jit=True's code answers it)
    switched = time.monotonic()
    while "rt.prange" not in srcdiff.source(pvg) and time.monotonic() < switched + 600:   # the threads' code,
        time.sleep(0.2)                                              # compiled by another process, then timed
        pvg(w, b, x, y)
    notes.append(f'jit="parallel" switched to its code on threads {time.monotonic() - switched:.1f} s after its first call')
    fns[threaded] = lambda: pvg(w, b, x, y)
    labels = {"numpy-hand": "numpy hand-written gradient", "numba-hand": "numba hand-written fused kernel",
              "numba-hand-parallel": "numba hand-written fused kernel, all threads",
              "jax": "jax jit(value_and_grad)"}
    if C.want(args, "numpy-hand"):
        fns[labels["numpy-hand"]] = lambda: numpy_hand(w, b, x, y)
    if C.want(args, "numba-hand"):
        kernel = numba_hand_kernel()
        fns[labels["numba-hand"]] = lambda: kernel(w, b, x, y)
    if C.want(args, "numba-hand-parallel"):
        pkernel = numba_hand_parallel_kernel()
        fns[labels["numba-hand-parallel"]] = lambda: pkernel(w, b, x, y)
    if C.want(args, "jax"):
        jcall = jax_peer(w, b, x, y, skipped, notes)
        if jcall is not None:
            fns[labels["jax"]] = jcall
    for label, fn in fns.items():
        if label != "srcdiff":
            firsts.setdefault(label, C.first_call(fn))
            C.check_close(label, fn(), ref)
    before = load_note()
    timed = C.interleaved_times(fns, args.repeats)
    notes.append(f"timed in turns (benchmarks/README.md); {before} before, {load_note()} after; best: "
                 + ", ".join(f"{k} {C.fmt_time(best)}" for k, (_, _, best) in timed.items()))
    notes.append(cpu_times(fns))
    import numba
    notes.append(f"Numba threads: {numba.get_num_threads()} (srcdiff's row chunks and the parallel kernel use them)")
    rows = []
    for label, (t, k, _) in timed.items():
        rows.append({"method": label, "first": None if label == own else firsts[label], "warm": t, "n": k})
        if label == "srcdiff" and second is not None:
            rows.append({"method": "srcdiff, 2nd process (disk cache)", "first": second, "warm": None, "n": "-"})

    if C.want(args, "autograd"):
        try:
            import autograd
            import autograd.numpy as anp
        except ImportError as e:
            skipped.append(f"autograd ({e})")
        else:
            def aloss(w, b, x, y):
                z = anp.dot(x, w) + b
                return (anp.mean(anp.maximum(z, 0.0) + anp.log1p(anp.exp(-anp.abs(z))) - y * z)
                        + L2 * anp.sum(w ** 2))
            avg = autograd.value_and_grad(aloss, argnum=(0, 1))
            call = lambda: avg(w, b, x, y)  # noqa: E731
            t, k, res = C.slow_time(call, max(args.slow_repeats, args.repeats))
            C.check_close("autograd", res, ref)
            rows.append({"method": "autograd", "first": None, "warm": t, "n": k})

    C.finish("logistic", f"(b) logistic loss, N={args.N}, D={args.D}, value+grad w.r.t. (w, b)",
             rows, skipped, args, notes)


if __name__ == "__main__":
    main()
