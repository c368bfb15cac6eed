"""Per-example gradients on the GPU: srcdiff.cuda.vmap vs numba.njit(parallel=True) vs jax.vmap(jax.grad).

    python benchmarks/cuda_per_example.py            # needs an NVIDIA GPU (numba-cuda)
    python benchmarks/cuda_per_example.py --small    # smaller sizes (quick check)

Workloads:
  logistic    per-example gradient of a logistic log-likelihood, D=100 features, batch 1e6
  recurrence  1000-step per-thread Euler recurrence, gradient wrt 3 scalars, batch 1e5

Times: best of a few runs after a warm-up (compilation excluded). "srcdiff (dev)" takes inputs that
already live on the GPU and includes copying the results back; "srcdiff (host)" also copies inputs.
Without a GPU the script says so and exits 0.
"""
from __future__ import annotations

import math
import sys
import time

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


def best(fn, reps=3):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


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


def main():
    small = "--small" in sys.argv
    try:
        from numba import cuda
        have_gpu = cuda.is_available()
    except Exception:
        have_gpu = False
    if not have_gpu:
        print("benchmarks/cuda_per_example.py needs an NVIDIA GPU with numba-cuda (pip install 'srcdiff[cuda]');"
              " none found, nothing to measure.")
        print("(tests/test_cuda.py checks the kernels on the CUDA simulator and compiles them to PTX.)")
        return 0
    rows = []
    rng = np.random.default_rng(0)
    logistic_cpu, recurrence_cpu = numba_impls()
    jx = jax_impls()
    jax_dev = str(jx[0].devices()[0]) if jx else "n/a"

    # ---- logistic ----
    B, D = (10**5, 100) if small else (10**6, 100)
    w = rng.normal(size=D) * 0.1
    X = rng.normal(size=(B, D))
    y = rng.integers(0, 2, B).astype(float)
    k = srcdiff.cuda.vmap(srcdiff.grad(logistic_ll, wrt=0), in_axes=(None, 0, 0))
    ref = logistic_cpu(w, X, y)
    got = k(w, X, y)
    assert np.allclose(got, ref), "srcdiff.cuda logistic mismatch"
    dX, dy, dw = cuda.to_device(X), cuda.to_device(y), cuda.to_device(w)
    rows.append(("logistic", f"B={B:.0e} D={D}", "srcdiff.cuda (host in/out)", best(lambda: k(w, X, y))))
    rows.append(("logistic", f"B={B:.0e} D={D}", "srcdiff.cuda (dev in, host out)", best(lambda: k(dw, dX, dy))))
    rows.append(("logistic", f"B={B:.0e} D={D}", "numba njit(parallel) CPU", best(lambda: logistic_cpu(w, X, y))))
    ksum = srcdiff.cuda.vmap(srcdiff.grad(logistic_ll, wrt=0), in_axes=(None, 0, 0), batch_sum=True)
    assert np.allclose(ksum(dw, dX, dy), ref.sum(0))
    rows.append(("logistic", f"B={B:.0e} D={D}", "srcdiff.cuda batch_sum (dev in)", best(lambda: ksum(dw, dX, dy))))
    if jx:
        jax, lg, _ = jx
        jw, jX, jy = jax.device_put(w), jax.device_put(X), jax.device_put(y)
        assert np.allclose(np.asarray(lg(jw, jX, jy)), ref)
        rows.append(("logistic", f"B={B:.0e} D={D}", f"jax.vmap(grad) [{jax_dev}]",
                     best(lambda: np.asarray(lg(jw, jX, jy).block_until_ready()))))

    # ---- recurrence ----
    B, n = (10**4, 1000) if small else (10**5, 1000)
    a = rng.uniform(0.5, 1.5, B)
    b = rng.uniform(0.1, 0.9, B)
    x0 = rng.uniform(0.5, 1.5, B)
    k = srcdiff.cuda.vmap(srcdiff.grad(recurrence, wrt=(0, 1, 2)), in_axes=(0, 0, 0, None))
    ref = recurrence_cpu(a, b, x0, n)
    got = np.stack(k(a, b, x0, n), axis=1)
    assert np.allclose(got, ref), "srcdiff.cuda recurrence mismatch"
    da_, db_, dx_ = cuda.to_device(a), cuda.to_device(b), cuda.to_device(x0)
    rows.append(("recurrence", f"B={B:.0e} n={n}", "srcdiff.cuda (host in/out)", best(lambda: k(a, b, x0, n))))
    rows.append(("recurrence", f"B={B:.0e} n={n}", "srcdiff.cuda (dev in, host out)",
                 best(lambda: k(da_, db_, dx_, n))))
    rows.append(("recurrence", f"B={B:.0e} n={n}", "numba njit(parallel) CPU",
                 best(lambda: recurrence_cpu(a, b, x0, n))))
    if jx:
        jax, _, rg = jx
        ja, jb, jx0 = jax.device_put(a), jax.device_put(b), jax.device_put(x0)
        out = rg(ja, jb, jx0, n)
        assert np.allclose(np.stack([np.asarray(o) for o in out], 1), ref)
        rows.append(("recurrence", f"B={B:.0e} n={n}", f"jax.vmap(grad) [{jax_dev}]",
                     best(lambda: [np.asarray(o) for o in jax.block_until_ready(rg(ja, jb, jx0, n))])))

    print(f"GPU: {cuda.get_current_device().name.decode() if isinstance(cuda.get_current_device().name, bytes) else cuda.get_current_device().name}")
    print(f"{'workload':<11} {'size':<16} {'implementation':<34} {'time (ms)':>10}")
    for wl, size, impl, t in rows:
        print(f"{wl:<11} {size:<16} {impl:<34} {t * 1e3:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
