"""Hessian-vector product cost relative to one gradient (theory: 2-4x), srcdiff forward-over-reverse
against JAX's jax.jvp(jax.grad(f)) when JAX is importable.

    python benchmarks/hvp.py [--python] [--repeats N]

Problems: logistic-regression log posterior (matrix-vector, 2000 x 50) and a loop (recurrence of
200 steps over a vector of 64), both timed warm (median of repeats) after a first compiling call.
"""
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np  # noqa: E402

import srcdiff  # noqa: E402


def logpost(eta, X, y):
    z = y * (X @ eta)
    return -np.sum(np.log1p(np.exp(-z))) - 0.5 * np.sum(eta ** 2)


def rnn(w, x0, n):
    h = x0
    s = 0.0
    for t in range(n):
        h = np.tanh(w * h + 0.1 * t)
        s = s + np.sum(h ** 2)
    return s


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def jax_versions(name):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    if name == "logpost":
        def f(eta, X, y):
            z = y * (X @ eta)
            return -jnp.sum(jnp.log1p(jnp.exp(-z))) - 0.5 * jnp.sum(eta ** 2)
    else:
        def f(w, x0, n):
            def step(carry, t):
                h, s = carry
                h = jnp.tanh(w * h + 0.1 * t)
                return (h, s + jnp.sum(h ** 2)), None
            (h, s), _ = jax.lax.scan(step, (x0, 0.0), jnp.arange(n, dtype=jnp.float64))
            return s
    g = jax.jit(jax.grad(f), static_argnums=(2,) if name == "rnn" else ())
    hv = jax.jit(lambda *a: jax.jvp(lambda x: jax.grad(f)(x, *a[1:-1]), (a[0],), (a[-1],))[1],
                 static_argnums=(2,) if name == "rnn" else ())
    return (lambda *a: np.asarray(g(*a)), lambda *a: np.asarray(hv(*a)))


def main():
    jit = "--python" not in sys.argv
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 30
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 50))
    y = np.sign(rng.normal(size=2000))
    problems = {
        "logpost": (logpost, (rng.normal(size=50) * 0.1, X, y), rng.normal(size=50)),
        "rnn": (rnn, (rng.normal(size=64) * 0.5, rng.normal(size=64), 200), rng.normal(size=64)),
    }
    print(f"srcdiff backend: {'numba' if jit else 'python'}; warm medians of {repeats} runs\n")
    print(f"| problem | srcdiff grad | srcdiff hvp | hvp/grad | jax grad | jax hvp | jax hvp/grad |")
    print(f"|---|---|---|---|---|---|---|")
    for name, (f, args, v) in problems.items():
        g = srcdiff.grad(f, jit=jit)
        h = srcdiff.hvp(f, jit=jit)
        np.testing.assert_allclose(h(*args, v), h(*args, v))
        tg = median_time(lambda: g(*args), repeats)
        th = median_time(lambda: h(*args, v), repeats)
        row = f"| {name} | {tg * 1e3:.3f} ms | {th * 1e3:.3f} ms | {th / tg:.2f} |"
        peer = jax_versions(name)
        if peer is not None:
            jg, jh = peer
            if name == "rnn":
                np.testing.assert_allclose(jh(*args, v), h(*args, v), rtol=1e-8, atol=1e-10)
            else:
                np.testing.assert_allclose(jh(*args, v), h(*args, v), rtol=1e-8)
            tjg = median_time(lambda: jg(*args), repeats)
            tjh = median_time(lambda: jh(*args, v), repeats)
            row += f" {tjg * 1e3:.3f} ms | {tjh * 1e3:.3f} ms | {tjh / tjg:.2f} |"
        else:
            row += " - | - | - |"
        print(row)


if __name__ == "__main__":
    main()
