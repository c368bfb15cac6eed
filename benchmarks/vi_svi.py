"""SVI steps per second: srcdiff's generated ELBO gradient vs NumPyro's jitted SVI step.

Bayesian logistic regression, N=1000 rows, D=10 features, w ~ N(0, I), y ~ Bernoulli(sigmoid(X w));
mean-field normal guide, K=1 reparameterised sample per step, Adam(lr) on both sides.

* srcdiff: ``vi.fit(log_lik, MeanFieldNormal(D), log_prior=log_prior, optimizer=vi.Adam(lr))`` itself
  (the generated value_and_grad, Numba-jitted and warm; noise, Adam's fused update, the ELBO trace
  and the loop all included), timed as ``res.seconds / steps``; also the pieces on their own.
* NumPyro: ``SVI(model, guide, numpyro.optim.Adam(lr), Trace_ELBO())`` with a hand-written Normal
  guide (loc, positive scale), one step = ``jax.jit(svi.update)(state, X, y)`` on CPU, blocked.

Timing: median over chunks of steps of the per-step wall time, after warm-up; the two SVI loops
are timed in alternating chunks (``fit`` resumes from the previous chunk's parameters and
optimiser state) so a varying machine load hits both alike.

Posteriors: both run ``--steps`` steps from the same init and average the iterates of the last
half (Polyak-Ruppert; the last iterate of a constant-step SVI run jitters by ~lr); the table shows
the largest mean difference in units of the posterior std and the largest std ratio.  BLAS / XLA are
pinned to one thread (``--threads N`` to change).  Run: ``python benchmarks/vi_svi.py [--steps S]``.
"""
import argparse
import os
import sys

_ap = argparse.ArgumentParser()
_ap.add_argument("--steps", type=int, default=6000, help="steps for the posterior comparison")
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
    st = {"lam": lam0.copy(), "opt": vi.Adam(lr=ARGS.lr), "seed": 1}

    def fit_chunk(n, progress=False):
        res = vi.fit(log_lik, q, data=(X, y), steps=n, log_prior=log_prior, seed=st["seed"], average=0.0,
                     progress=progress, grad_fn=eg, init=st["lam"], optimizer=st["opt"])
        st["lam"], st["seed"] = res.params, st["seed"] + 1
        return res.seconds

    eps = rng.standard_normal((1, D))
    raw = eg.compiled(lam0, eps, X, y, fixed_k=True)  # the compiled generated function itself
    fit_chunk(300)
    t_grad = median_step_time(lambda: raw(lam0, eps, X, y), ARGS.chunks, ARGS.chunk)
    t_wrapped = median_step_time(lambda: eg(lam0, eps, X, y), ARGS.chunks, ARGS.chunk)
    t_noise = median_step_time(lambda: rng.standard_normal((1, D)), ARGS.chunks, ARGS.chunk)
    opt = vi.Adam(lr=ARGS.lr)
    g0 = np.ones(2 * D)
    t_adam = median_step_time(lambda: opt.step(lam0, g0), ARGS.chunks, ARGS.chunk)
    res = vi.fit(log_lik, q, data=(X, y), steps=ARGS.steps, log_prior=log_prior, lr=ARGS.lr, seed=0,
                 average=0.5, progress=False, grad_fn=eg, init=q.init_params())
    eg2 = vi.elbo_grad(log_lik_inlined, q, num_samples=1, log_prior=log_prior, jit=True)
    raw2 = eg2.compiled(lam0, eps, X, y, fixed_k=True)
    np.testing.assert_allclose(raw2(lam0, eps, X, y)[1], raw(lam0, eps, X, y)[1], rtol=1e-10)
    t_grad_inl = median_step_time(lambda: raw2(lam0, eps, X, y), ARGS.chunks, ARGS.chunk)
    return dict(first=first, chunk_fn=fit_chunk, bar_fn=lambda n: fit_chunk(n, progress=True), grad=t_grad,
                grad_inlined=t_grad_inl, wrapped=t_wrapped, noise=t_noise, adam=t_adam, mean=res.mean,
                std=res.std, source=eg.source)


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

    def chunk(n):
        s = st["s"]
        t0 = time.perf_counter()
        for _ in range(n):
            s, loss = update(s, Xj, yj)
            loss.block_until_ready()  # as a loop that records the loss would (and faster than not)
        st["s"] = s
        return time.perf_counter() - t0

    chunk(300)
    state = svi.init(jax.random.PRNGKey(0), Xj, yj)
    loc, scale, n_avg = np.zeros(D), np.zeros(D), 0
    for t in range(ARGS.steps):
        state, loss = update(state, Xj, yj)
        if t >= ARGS.steps // 2:
            params = svi.get_params(state)
            loc, scale, n_avg = loc + np.asarray(params["loc"]), scale + np.asarray(params["scale"]), n_avg + 1
    return dict(first=first, chunk_fn=chunk, mean=loc / n_avg, std=scale / n_avg)


def interleaved(runners, chunks, chunk):
    """Median per-step wall and CPU times of the chunk runners (each returns the seconds its chunk
    took), timed in alternating chunks so a varying machine load hits all alike; and the median of
    the per-chunk ratios last / first."""
    wall = [[] for _ in runners]
    cpu = [[] for _ in runners]
    for _ in range(chunks):
        for f, w, c in zip(runners, wall, cpu):
            c0 = time.process_time()
            w.append(f(chunk) / chunk)
            c.append((time.process_time() - c0) / chunk)  # srcdiff's includes fit's per-call setup
    med = statistics.median
    return [med(w) for w in wall], [med(c) for c in cpu], med([b / a for a, b in zip(wall[0], wall[-1])])


def main():
    X, y = make_data()
    s = bench_srcdiff(X, y)
    n = bench_numpyro(X, y)
    (s["step"], s["bar"], n["step"]), (s["cpu"], _, n["cpu"]), ratio = interleaved(
        [s["chunk_fn"], s["bar_fn"], n["chunk_fn"]], ARGS.chunks, ARGS.chunk)
    us = 1e6
    print(f"Bayesian logistic regression SVI, N={N}, D={D}, K=1, mean-field normal, Adam(lr={ARGS.lr}); "
          f"threads={ARGS.threads}")
    print("| method | first call (s) | warm step (us) | steps/s |")
    print("|---|---:|---:|---:|")
    print(f"| srcdiff jit: vi.fit loop (noise + generated grad + Adam + trace) | {s['first']:.2f} "
          f"| {s['step'] * us:.1f} | {1 / s['step']:.0f} |")
    print(f"| srcdiff jit: vi.fit loop with the tqdm progress bar | | {s['bar'] * us:.1f} | {1 / s['bar']:.0f} |")
    print(f"| srcdiff jit: ELBO gradient via the checked ELBOGrad call | | {s['wrapped'] * us:.1f} "
          f"| {1 / s['wrapped']:.0f} |")
    print(f"| srcdiff jit: generated gradient alone | | {s['grad'] * us:.1f} | {1 / s['grad']:.0f} |")
    print(f"| srcdiff jit: generated gradient, Bernoulli log-pmf inlined | | {s['grad_inlined'] * us:.1f} "
          f"| {1 / s['grad_inlined']:.0f} |")
    print(f"| (vi.Adam.step alone / noise draw alone) | | {s['adam'] * us:.1f} / {s['noise'] * us:.1f} | |")
    print(f"| NumPyro jax.jit(svi.update) | {n['first']:.2f} | {n['step'] * us:.1f} | {1 / n['step']:.0f} |")
    print(f"\nratio srcdiff/NumPyro steps per second: vi.fit {n['step'] / s['step']:.2f}x "
          f"(median of per-chunk ratios {ratio:.2f}x), gradient only {n['step'] / s['grad']:.2f}x")
    print(f"CPU time per step (process_time, all threads): srcdiff vi.fit {s['cpu'] * us:.1f} us, "
          f"NumPyro {n['cpu'] * us:.1f} us -> ratio {n['cpu'] / s['cpu']:.2f}x")
    np.set_printoptions(precision=3, suppress=True)
    sd = n["std"]
    dm = np.max(np.abs(s["mean"] - n["mean"]) / sd)
    rs = np.max(np.abs(s["std"] / n["std"] - 1))
    print(f"\nposterior after {ARGS.steps} steps (iterates of the last half averaged):")
    print("  mean srcdiff", s["mean"], "\n       NumPyro", n["mean"])
    print("  std  srcdiff", s["std"], "\n       NumPyro", n["std"])
    print(f"  max |mean diff| / posterior std = {dm:.3f}, max |std ratio - 1| = {rs:.3f} "
          f"-> {'same answer' if dm < 0.2 and rs < 0.1 else 'DIFFERENT'} (thresholds 0.2 std, 10%)")


if __name__ == "__main__":
    main()
