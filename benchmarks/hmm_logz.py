"""(c) HMM log-partition (forward recursion): value and gradient w.r.t. (log_pi, log_A, log_B).

    log_alpha = log_pi + log_B[:, y[0]]
    log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]     t = 1 .. T-1
    log Z = logsumexp(log_alpha)                                   K=20 states, T=2000, V=101

The gradient is the E-step (expected first state, transition and emission counts).

* srcdiff       ``srcdiff.value_and_grad(log_Z, wrt=(0, 1, 2), jit=True)`` of the loop below
* jax           ``jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2)))``, recursion as ``lax.scan``
                with ``jax.nn.logsumexp``, x64
* autograd      ``autograd.value_and_grad`` of the same Python loop (autograd.scipy logsumexp)

    python benchmarks/hmm_logz.py [--K 20] [--T 2000] [--V 101] [--repeats 21]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (first: pins BLAS/XLA threads before NumPy is imported)

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402


def log_Z(log_pi, log_A, log_B, y):
    log_alpha = log_pi + log_B[:, y[0]]
    for t in range(1, y.shape[0]):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
    return logsumexp(log_alpha)


def problem(K, T, V, seed=0):
    rng = np.random.default_rng(seed)
    log_pi = np.log(rng.dirichlet(np.ones(K)))
    log_A = np.log(rng.dirichlet(np.ones(K), size=K))
    log_B = np.log(rng.dirichlet(np.ones(V), size=K))
    y = rng.integers(0, V, T).astype(np.int64)
    return log_pi, log_A, log_B, y


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--K", type=int, default=20)
    p.add_argument("--T", type=int, default=2000)
    p.add_argument("--V", type=int, default=101)
    args = p.parse_args(argv)
    C.setup_cache(args)
    log_pi, log_A, log_B, y = problem(args.K, args.T, args.V)

    import srcdiff
    vg = srcdiff.value_and_grad(log_Z, wrt=(0, 1, 2), jit=True)
    call = lambda: vg(log_pi, log_A, log_B, y)  # noqa: E731
    first = C.first_call(call)
    if args.second_process:
        C.report_second_process(first)
        return
    ref = call()
    # sanity: the gradient w.r.t. log_B sums to T expected emissions
    assert abs(ref[1][2].sum() - args.T) < 1e-6 * args.T, ref[1][2].sum()
    warm, k = C.median_time(call, args.repeats)
    rows = [{"method": "srcdiff", "first": first, "warm": warm, "n": k}]
    second = C.second_process_first_call(os.path.abspath(__file__), args)
    if second is not None:
        rows.append({"method": "srcdiff, 2nd process (disk cache)", "first": second, "warm": None, "n": "-"})
    skipped = []

    if C.want(args, "jax"):
        try:
            import jax
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as jnp
            from jax import lax
        except ImportError as e:
            skipped.append(f"jax ({e})")
        else:
            def jlog_Z(log_pi, log_A, log_B, y):
                def step(log_alpha, yt):
                    return jax.nn.logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, yt], None

                log_alpha, _ = lax.scan(step, log_pi + log_B[:, y[0]], y[1:])
                return jax.nn.logsumexp(log_alpha)
            jvg = jax.jit(jax.value_and_grad(jlog_Z, argnums=(0, 1, 2)))
            args_j = tuple(jnp.asarray(v) for v in (log_pi, log_A, log_B, y))
            call = lambda: jvg(*args_j)  # noqa: E731
            f0 = C.first_call(call)
            C.check_close("jax", call(), ref)
            t, k = C.median_time(call, args.repeats)
            rows.append({"method": "jax jit(value_and_grad), lax.scan", "first": f0, "warm": t, "n": k})

    if C.want(args, "autograd"):
        try:
            import autograd
            import autograd.numpy as anp  # noqa: F401
            from autograd.scipy.special import logsumexp as alogsumexp
        except ImportError as e:
            skipped.append(f"autograd ({e})")
        else:
            def alog_Z(log_pi, log_A, log_B, y):
                log_alpha = log_pi + log_B[:, y[0]]
                for t in range(1, y.shape[0]):
                    log_alpha = alogsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y[t]]
                return alogsumexp(log_alpha)
            avg = autograd.value_and_grad(alog_Z, argnum=(0, 1, 2))
            call = lambda: avg(log_pi, log_A, log_B, y)  # noqa: E731
            t, k, res = C.slow_time(call, args.slow_repeats)
            C.check_close("autograd", res, ref)
            rows.append({"method": "autograd (Python loop)", "first": None, "warm": t, "n": k})

    C.finish("hmm_logz", f"(c) HMM log Z, K={args.K}, T={args.T}, V={args.V}, "
             "value+grad w.r.t. (log_pi, log_A, log_B)", rows, skipped, args)


if __name__ == "__main__":
    main()
