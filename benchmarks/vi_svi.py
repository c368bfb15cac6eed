"""SVI steps per second: srcdiff's generated ELBO gradient vs NumPyro's jitted SVI step.

Bayesian logistic regression, N=1000 rows, D=10 features, w ~ N(0, I), y ~ Bernoulli(sigmoid(X w));
mean-field normal guide, K=1 reparameterised sample per step, Adam(lr) on both sides.

* srcdiff: ``vi.elbo_grad(log_lik, MeanFieldNormal(D), log_prior=log_prior, jit=True)`` (warm),
  one step = draw eps + generated value_and_grad + ``vi.Adam.step`` (NumPy), all from Python.
* NumPyro: ``SVI(model, guide, numpyro.optim.Adam(lr), Trace_ELBO())`` with a hand-written Normal
  guide (loc, positive scale), one step = ``jax.jit(svi.update)(state, X, y)`` on CPU, blocked.

Timing: median over chunks of steps of the per-step wall time, after warm-up; the two full SVI
steps are timed in alternating chunks so a varying machine load hits both alike.  BLAS / XLA are
pinned to one thread (``--threads N`` to change).  Run: ``python benchmarks/vi_svi.py [--steps S]``.
"""
import argparse
import os
import sys

_ap = argparse.ArgumentParser()
_ap.add_argument("--steps", type=int, default=3000, help="steps for the posterior comparison")
_ap.add_argument("--chunks", type=int, default=15)
_ap.add_argument("--chunk", type=int, default=200)
_ap.add_argument("--threads", default="1")
_ap.add_argument("--lr", type=float, default=0.02)
ARGS = _ap.parse_args()
if ARGS.threads != "default":
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_v] = ARGS.threads
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from srcdiff import vi  # noqa: E402

N, D = 1000, 10


def log_lik(w, X, y):
    return np.sum(vi.bernoulli_logits_logpmf(y, X @ w))


def log_lik_inlined(w, X, y):
    """The same likelihood with the Bernoulli log-pmf written inline (no callee): measures what the
    compiler's callee-forward recomputation costs (see the report printed at the end)."""
    logits = X @ w
    return np.sum(y * logits - np.maximum(logits, 0.0) - np.log1p(np.exp(-np.abs(logits))))


def log_prior(w):
    return np.sum(vi.normal_logpdf(w, 0.0, 1.0))


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    w = rng.normal(size=D)
    y = (rng.random(N) < 1 / (1 + np.exp(-X @ w))).astype(np.float64)
    return X, y


def median_step_time(step, chunks, chunk):
    times = []
    for _ in range(chunks):
        t0 = time.perf_counter()
        for _ in range(chunk):
            step()
        times.append((time.perf_counter() - t0) / chunk)
    return statistics.median(times)


def bench_srcdiff(X, y):
    q = vi.MeanFieldNormal(D)
    t0 = time.perf_counter()
    eg = vi.elbo_grad(log_lik, q, num_samples=1, log_prior=log_prior, jit=True)
    lam0 = q.init_params()
    eg(lam0, np.zeros((1, D)), X, y)
    first = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    st = {"lam": lam0.copy(), "opt": vi.Adam(lr=ARGS.lr)}

    def step():
        _, g = eg(st["lam"], rng.standard_normal((1, D)), X, y)
        st["lam"] = st["opt"].step(st["lam"], g)

    eps = rng.standard_normal((1, D))
    eg(lam0, eps, X, y)
    raw = eg._vg.fns[next(iter(eg._vg.fns))]  # the compiled generated function itself (no wrapper)

    def grad_only():
        raw(lam0, eps, X, y)

    for _ in range(300):
        step()
    t_grad = median_step_time(grad_only, ARGS.chunks, ARGS.chunk)
    t_wrapped = median_step_time(lambda: eg(lam0, eps, X, y), ARGS.chunks, ARGS.chunk)
    t_noise = median_step_time(lambda: rng.standard_normal((1, D)), ARGS.chunks, ARGS.chunk)
    opt = vi.Adam(lr=ARGS.lr)
    g0 = np.ones(2 * D)
    t_adam = median_step_time(lambda: opt.step(lam0, g0), ARGS.chunks, ARGS.chunk)
    res = vi.fit(log_lik, q, data=(X, y), steps=ARGS.steps, log_prior=log_prior, lr=ARGS.lr, seed=0,
                 average=0.0, progress=False, grad_fn=eg, init=q.init_params())
    eg2 = vi.elbo_grad(log_lik_inlined, q, num_samples=1, log_prior=log_prior, jit=True)
    eg2(lam0, eps, X, y)
    raw2 = eg2._vg.fns[next(iter(eg2._vg.fns))]
    np.testing.assert_allclose(raw2(lam0, eps, X, y)[1], raw(lam0, eps, X, y)[1], rtol=1e-10)
    t_grad_inl = median_step_time(lambda: raw2(lam0, eps, X, y), ARGS.chunks, ARGS.chunk)
    return dict(first=first, step_fn=step, grad=t_grad, grad_inlined=t_grad_inl, wrapped=t_wrapped, noise=t_noise, adam=t_adam,
                mean=res.mean, std=res.std, source=eg.source)


def bench_numpyro(X, y):
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO

    def model(X, y):
        w = numpyro.sample("w", dist.Normal(jnp.zeros(D), 1.0).to_event(1))
        numpyro.sample("y", dist.Bernoulli(logits=X @ w), obs=y)

    def guide(X, y):
        loc = numpyro.param("loc", jnp.zeros(D))
        scale = numpyro.param("scale", jnp.full(D, np.exp(-1.0)), constraint=dist.constraints.positive)
        numpyro.sample("w", dist.Normal(loc, scale).to_event(1))

    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    svi = SVI(model, guide, numpyro.optim.Adam(ARGS.lr), Trace_ELBO())
    t0 = time.perf_counter()
    state = svi.init(jax.random.PRNGKey(0), Xj, yj)
    update = jax.jit(svi.update)
    state, loss = update(state, Xj, yj)
    jax.block_until_ready(loss)
    first = time.perf_counter() - t0
    st = {"s": state}

    def step():
        st["s"], loss = update(st["s"], Xj, yj)
        loss.block_until_ready()

    for _ in range(300):
        step()
    state = svi.init(jax.random.PRNGKey(0), Xj, yj)
    for _ in range(ARGS.steps):
        state, loss = update(state, Xj, yj)
    params = svi.get_params(state)
    return dict(first=first, step_fn=step, mean=np.asarray(params["loc"]), std=np.asarray(params["scale"]))


def interleaved(a, b, chunks, chunk):
    """Median per-step times of a and b, timed in alternating chunks (fair under a varying load)."""
    ta, tb, ca, cb = [], [], [], []
    for _ in range(chunks):
        for f, out, cpu in ((a, ta, ca), (b, tb, cb)):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(chunk):
                f()
            out.append((time.perf_counter() - t0) / chunk)
            cpu.append((time.process_time() - c0) / chunk)
    med = statistics.median
    return med(ta), med(tb), med([x / y for x, y in zip(tb, ta)]), med(ca), med(cb)


def main():
    X, y = make_data()
    s = bench_srcdiff(X, y)
    n = bench_numpyro(X, y)
    s["step"], n["step"], ratio, s["cpu"], n["cpu"] = interleaved(s["step_fn"], n["step_fn"], ARGS.chunks,
                                                                   ARGS.chunk)
    us = 1e6
    print(f"Bayesian logistic regression SVI, N={N}, D={D}, K=1, mean-field normal, Adam(lr={ARGS.lr}); "
          f"threads={ARGS.threads}")
    print("| method | first call (s) | warm step (us) | steps/s |")
    print("|---|---:|---:|---:|")
    print(f"| srcdiff jit: full SVI step (noise + grad + NumPy Adam) | {s['first']:.2f} | {s['step'] * us:.1f} "
          f"| {1 / s['step']:.0f} |")
    print(f"| srcdiff jit: ELBO gradient via ELBOGrad wrapper | | {s['wrapped'] * us:.1f} | {1 / s['wrapped']:.0f} |")
    print(f"| srcdiff jit: generated gradient alone | | {s['grad'] * us:.1f} | {1 / s['grad']:.0f} |")
    print(f"| srcdiff jit: generated gradient, Bernoulli log-pmf inlined | | {s['grad_inlined'] * us:.1f} "
          f"| {1 / s['grad_inlined']:.0f} |")
    print(f"| (NumPy Adam.step alone / noise draw alone) | | {s['adam'] * us:.1f} / {s['noise'] * us:.1f} | |")
    print(f"| NumPyro jax.jit(svi.update) | {n['first']:.2f} | {n['step'] * us:.1f} | {1 / n['step']:.0f} |")
    print(f"\nratio srcdiff/NumPyro steps per second: full step {n['step'] / s['step']:.2f}x "
          f"(median of per-chunk ratios {ratio:.2f}x), "
          f"gradient only {n['step'] / s['grad']:.2f}x")
    print(f"CPU time per full step (process_time, all threads): srcdiff {s['cpu'] * us:.1f} us, "
          f"NumPyro {n['cpu'] * us:.1f} us -> ratio {n['cpu'] / s['cpu']:.2f}x")
    np.set_printoptions(precision=3, suppress=True)
    print(f"\nposterior after {ARGS.steps} steps (last iterate, no averaging):")
    print("  mean srcdiff", s["mean"], "\n       NumPyro", n["mean"])
    print("  std  srcdiff", s["std"], "\n       NumPyro", n["std"])
    print(f"  max |mean diff| = {np.max(np.abs(s['mean'] - n['mean'])):.3f}, "
          f"max |std ratio - 1| = {np.max(np.abs(s['std'] / n['std'] - 1)):.3f}, "
          f"typical posterior std {np.median(n['std']):.3f}")


if __name__ == "__main__":
    main()
