"""Per-example gradients on the GPU: srcdiff.cuda.vmap vs numba.njit(parallel=True) vs jax.vmap(jax.grad).

    python benchmarks/cuda_per_example.py            # full sizes; GPU rows need an NVIDIA GPU (numba-cuda)
    python benchmarks/cuda_per_example.py --small    # smaller sizes (quick check)
    python benchmarks/cuda_per_example.py --sim      # no GPU: srcdiff.cuda on numba's CUDA simulator at
                                                     # tiny sizes (correctness only; its times mean nothing)

Workloads:
  logistic    per-example gradient of a logistic log-likelihood, D=100 features, batch 1e6
  recurrence  1000-step per-thread Euler recurrence, gradient wrt 3 scalars, batch 1e5

Times: median of a few runs after a warm-up (compilation excluded), and the ratio to the numba CPU
peer. "srcdiff.cuda (dev in, host out)" takes inputs that already live on the GPU and includes
copying the results back; "(host in/out)" also copies the inputs.

Without a GPU the script says so, skips the GPU rows (srcdiff.cuda, and JAX when it has no GPU; JAX
on the CPU is still timed and labelled with its device), times the CPU peers, checks that both
kernels compile to sm_90 PTX (when the `cuda` extra is installed), and exits 0.
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time

if "--sim" in sys.argv:                      # must be set before numba.cuda is imported
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np

import srcdiff


def logistic_ll(w, x, y):
    z = np.dot(x, w)
    return y * z - np.log1p(np.exp(z))


def recurrence(a, b, x0, n):
    x = x0
    dt = 0.01
    for i in range(n):
        x = x + dt * (-a * x + b * np.sin(x))
    return x * x


def best(fn, reps=5):
    """Median wall time of `reps` calls after one warm-up call."""
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def numba_impls():
    import numba

    @numba.njit(parallel=True, fastmath=False)
    def logistic_cpu(w, X, y):
        B, D = X.shape
        out = np.empty((B, D))
        for i in numba.prange(B):
            z = 0.0
            for j in range(D):
                z += X[i, j] * w[j]
            g = y[i] - 1.0 / (1.0 + math.exp(-z))
            for j in range(D):
                out[i, j] = g * X[i, j]
        return out

    @numba.njit(parallel=True)
    def recurrence_cpu(a, b, x0, n):
        B = a.shape[0]
        out = np.empty((B, 3))
        dt = 0.01
        for i in numba.prange(B):
            tape = np.empty(n)
            x = x0[i]
            for t in range(n):
                tape[t] = x
                x = x + dt * (-a[i] * x + b[i] * math.sin(x))
            dx, da, db = 2.0 * x, 0.0, 0.0
            for t in range(n - 1, -1, -1):
                xt = tape[t]
                da += dx * dt * (-xt)
                db += dx * dt * math.sin(xt)
                dx = dx * (1.0 + dt * (-a[i] + b[i] * math.cos(xt)))
            out[i, 0], out[i, 1], out[i, 2] = da, db, dx
        return out
    return logistic_cpu, recurrence_cpu


def jax_impls():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def ll(w, x, y):
        z = jnp.dot(x, w)
        return y * z - jnp.log1p(jnp.exp(z))

    def rec(a, b, x0, n):
        def body(i, x):
            return x + 0.01 * (-a * x + b * jnp.sin(x))
        x = jax.lax.fori_loop(0, n, body, x0)
        return x * x
    lg = jax.jit(jax.vmap(jax.grad(ll), in_axes=(None, 0, 0)))
    rg = jax.jit(jax.vmap(jax.grad(rec, argnums=(0, 1, 2)), in_axes=(0, 0, 0, None)), static_argnums=3)
    return jax, lg, rg


def _report(rows, title):
    print(title)
    base = {wl: t for wl, _, impl, t in rows if impl.startswith("numba")}
    print(f"| {'workload':<11} | {'size':<16} | {'implementation':<36} | {'median (ms)':>11} | {'vs numba CPU':>12} |")
    print(f"|{'-' * 13}|{'-' * 18}|{'-' * 38}|{'-' * 13}|{'-' * 14}|")
    for wl, size, impl, t in rows:
        ratio = f"{t / base[wl]:.2f}x" if wl in base else "-"
        print(f"| {wl:<11} | {size:<16} | {impl:<36} | {t * 1e3:>11.2f} | {ratio:>12} |")


def _ptx_check(k_log, k_rec, D):
    """Compile both kernels to sm_90 PTX (needs numba-cuda[cu13]'s NVVM, no GPU)."""
    try:
        w, X, y = np.zeros(D), np.zeros((4, D)), np.zeros(4)
        a = np.ones(4)
        for name, k, args in (("logistic", k_log, (w, X, y)), ("recurrence", k_rec, (a, a, a, 1000))):
            t = time.perf_counter()
            ptx = k.ptx(*args, cc=(9, 0))
            ok = ".target sm_90" in ptx
            print(f"PTX for sm_90, {name}: {'ok' if ok else 'UNEXPECTED'} ({len(ptx.splitlines())} lines, "
                  f"{time.perf_counter() - t:.1f} s to generate and compile)")
    except Exception as ex:          # noqa: BLE001 - a report, not a test
        print(f"PTX check skipped: {type(ex).__name__}: {str(ex).splitlines()[0]}")


def main():
    small = "--small" in sys.argv
    sim = "--sim" in sys.argv
    try:
        from numba import cuda
        have_gpu = cuda.is_available() and not sim
    except Exception:                # noqa: BLE001 - numba-cuda missing or broken: no GPU rows
        cuda, have_gpu = None, False
    if not have_gpu:
        print("No NVIDIA GPU (or numba-cuda missing): the srcdiff.cuda GPU rows and JAX-on-GPU are skipped; "
              "CPU peers are timed" + (", srcdiff.cuda runs on the CUDA simulator at tiny sizes "
                                       "(correctness only)." if sim else " (pass --sim to also check srcdiff.cuda "
                                                                         "on the CUDA simulator)."))
    rows = []
    rng = np.random.default_rng(0)
    logistic_cpu, recurrence_cpu = numba_impls()
    jx = jax_impls()
    jax_dev = str(jx[0].devices()[0]) if jx else "n/a"
    jax_gpu = bool(jx) and jx[0].devices()[0].platform == "gpu"
    if jx is None:
        print("jax is not installed (pip install -e '.[bench]'): no JAX rows.")

    # ---- logistic ----
    B, D = (8, 100) if sim else (10**5, 100) if small else (10**6, 100)
    size = f"B={B:.0e} D={D}"
    w = rng.normal(size=D) * 0.1
    X = rng.normal(size=(B, D))
    y = rng.integers(0, 2, B).astype(float)
    k_log = srcdiff.cuda.vmap(srcdiff.grad(logistic_ll, wrt=0), in_axes=(None, 0, 0))
    ksum = srcdiff.cuda.vmap(srcdiff.grad(logistic_ll, wrt=0), in_axes=(None, 0, 0), batch_sum=True)
    ref = logistic_cpu(w, X, y)
    rows.append(("logistic", size, "numba njit(parallel) CPU", best(lambda: logistic_cpu(w, X, y))))
    if have_gpu or sim:
        got = k_log(w, X, y)
        assert np.allclose(got, ref), "srcdiff.cuda logistic mismatch"
        assert np.allclose(ksum(w, X, y), ref.sum(0)), "srcdiff.cuda batch_sum logistic mismatch"
        print("srcdiff.cuda logistic: per-example and batch_sum results match the numba CPU peer")
    if have_gpu:
        dX, dy, dw = cuda.to_device(X), cuda.to_device(y), cuda.to_device(w)
        rows.append(("logistic", size, "srcdiff.cuda (host in/out)", best(lambda: k_log(w, X, y))))
        rows.append(("logistic", size, "srcdiff.cuda (dev in, host out)", best(lambda: k_log(dw, dX, dy))))
        rows.append(("logistic", size, "srcdiff.cuda batch_sum (dev in)", best(lambda: ksum(dw, dX, dy))))
    if jx and (jax_gpu or not sim):
        jax, lg, _ = jx
        jw, jX, jy = jax.device_put(w), jax.device_put(X), jax.device_put(y)
        assert np.allclose(np.asarray(lg(jw, jX, jy)), ref)
        rows.append(("logistic", size, f"jax.vmap(grad) [{jax_dev}]",
                     best(lambda: np.asarray(lg(jw, jX, jy).block_until_ready()))))

    # ---- recurrence ----
    B, n = (8, 50) if sim else (10**4, 1000) if small else (10**5, 1000)
    size = f"B={B:.0e} n={n}"
    a = rng.uniform(0.5, 1.5, B)
    b = rng.uniform(0.1, 0.9, B)
    x0 = rng.uniform(0.5, 1.5, B)
    k_rec = srcdiff.cuda.vmap(srcdiff.grad(recurrence, wrt=(0, 1, 2)), in_axes=(0, 0, 0, None))
    ref = recurrence_cpu(a, b, x0, n)
    rows.append(("recurrence", size, "numba njit(parallel) CPU", best(lambda: recurrence_cpu(a, b, x0, n))))
    if have_gpu or sim:
        got = np.stack(k_rec(a, b, x0, n), axis=1)
        assert np.allclose(got, ref), "srcdiff.cuda recurrence mismatch"
        print("srcdiff.cuda recurrence: results match the numba CPU peer")
    if have_gpu:
        da_, db_, dx_ = cuda.to_device(a), cuda.to_device(b), cuda.to_device(x0)
        rows.append(("recurrence", size, "srcdiff.cuda (host in/out)", best(lambda: k_rec(a, b, x0, n))))
        rows.append(("recurrence", size, "srcdiff.cuda (dev in, host out)", best(lambda: k_rec(da_, db_, dx_, n))))
    if jx and (jax_gpu or not sim):
        jax, _, rg = jx
        ja, jb, jx0 = jax.device_put(a), jax.device_put(b), jax.device_put(x0)
        out = rg(ja, jb, jx0, n)
        assert np.allclose(np.stack([np.asarray(o) for o in out], 1), ref)
        rows.append(("recurrence", size, f"jax.vmap(grad) [{jax_dev}]",
                     best(lambda: [np.asarray(o) for o in jax.block_until_ready(rg(ja, jb, jx0, n))])))

    if have_gpu:
        dev = cuda.get_current_device().name
        title = f"GPU: {dev.decode() if isinstance(dev, bytes) else dev}"
    else:
        title = f"CPU only ({os.cpu_count()} cores); no srcdiff.cuda timings"
    _report(rows, title)
    if not sim and cuda is not None:
        _ptx_check(k_log, k_rec, D)
    return 0


if __name__ == "__main__":
    sys.exit(main())
