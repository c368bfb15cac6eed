"""(d) The MLP of examples/mlp.py: value and gradient of a minibatch loss w.r.t. its four weight arrays.

    h = tanh(x @ W1 + b1); z = h @ W2 + b2
    loss = -sum(y_onehot * (z - logsumexp(z, axis=1))) / n + l2 * (sum(W1 ** 2) + sum(W2 ** 2))

Batch 32 of 64 features, 64 hidden units, 10 classes (the example's shapes): small matrix-matrix
products, where per-call overhead and the products' own speed decide the ranking.

* srcdiff       ``srcdiff.value_and_grad(loss, wrt=("W1", "b1", "W2", "b2"), jit=True)``
* numpy-hand    the backpropagation a person writes with NumPy (the bound for this size)
* jax           ``jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))``, x64
* autograd      ``autograd.value_and_grad`` of the same expression

    python benchmarks/mlp.py [--batch 32] [--hidden 64] [--repeats 21]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402  (first: pins BLAS/XLA threads before NumPy is imported)

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

L2 = 1e-4


def loss(W1, b1, W2, b2, x, y_onehot):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    nll = -np.sum(y_onehot * log_p) / x.shape[0]
    return nll + L2 * (np.sum(W1 * W1) + np.sum(W2 * W2))


def numpy_hand(W1, b1, W2, b2, x, y_onehot):
    n = x.shape[0]
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    log_p = z - m - np.log(s)
    value = -np.sum(y_onehot * log_p) / n + L2 * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dz = (e / s * y_onehot.sum(axis=1, keepdims=True) - y_onehot) / n
    dW2 = h.T @ dz + 2.0 * L2 * W2
    db2 = dz.sum(axis=0)
    da = (dz @ W2.T) * (1.0 - h * h)
    dW1 = x.T @ da + 2.0 * L2 * W1
    db1 = da.sum(axis=0)
    return value, (dW1, db1, dW2, db2)


def problem(batch, features, hidden, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, features))
    y = np.eye(classes)[rng.integers(0, classes, batch)]
    W1 = rng.normal(0.0, 1.0 / np.sqrt(features), (features, hidden))
    W2 = rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, classes))
    return W1, 0.1 * rng.normal(size=hidden), W2, 0.1 * rng.normal(size=classes), x, y


def main(argv=None):
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    args = p.parse_args(argv)
    C.setup_cache(args)
    params = problem(args.batch, args.features, args.hidden)

    import srcdiff
    vg = srcdiff.value_and_grad(loss, wrt=("W1", "b1", "W2", "b2"), jit=True)
    call = lambda: vg(*params)  # noqa: E731
    first = C.first_call(call)
    if args.second_process:
        C.report_second_process(first)
        return
    ref = call()
    warm, k = C.median_time(call, args.repeats)
    rows = [{"method": "srcdiff", "first": first, "warm": warm, "n": k}]
    second = C.second_process_first_call(os.path.abspath(__file__), args)
    if second is not None:
        rows.append({"method": "srcdiff, 2nd process (disk cache)", "first": second, "warm": None, "n": "-"})
    skipped = []

    if C.want(args, "numpy-hand"):
        call = lambda: numpy_hand(*params)  # noqa: E731
        f0 = C.first_call(call)
        C.check_close("numpy-hand", call(), ref)
        t, k = C.median_time(call, args.repeats)
        rows.append({"method": "numpy hand-written backprop (bound)", "first": f0, "warm": t, "n": k})

    if C.want(args, "jax"):
        try:
            import jax
            jax.config.update("jax_enable_x64", True)
            import jax.numpy as jnp
            from jax.scipy.special import logsumexp as jlogsumexp
        except ImportError as e:
            skipped.append(f"jax ({e})")
        else:
            def jloss(W1, b1, W2, b2, x, y_onehot):
                h = jnp.tanh(x @ W1 + b1)
                z = h @ W2 + b2
                log_p = z - jlogsumexp(z, axis=1, keepdims=True)
                return -jnp.sum(y_onehot * log_p) / x.shape[0] + L2 * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))
            jvg = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1, 2, 3)))
            jparams = [jnp.asarray(v) for v in params]
            call = lambda: jvg(*jparams)  # noqa: E731
            f0 = C.first_call(call)
            C.check_close("jax", call(), ref)
            t, k = C.median_time(call, args.repeats)
            rows.append({"method": "jax jit(value_and_grad)", "first": f0, "warm": t, "n": k})

    if C.want(args, "autograd"):
        try:
            import autograd
            import autograd.numpy as anp
            from autograd.scipy.special import logsumexp as alogsumexp
        except ImportError as e:
            skipped.append(f"autograd ({e})")
        else:
            def aloss(W1, b1, W2, b2, x, y_onehot):
                h = anp.tanh(anp.dot(x, W1) + b1)
                z = anp.dot(h, W2) + b2
                log_p = z - alogsumexp(z, axis=1, keepdims=True)
                return -anp.sum(y_onehot * log_p) / x.shape[0] + L2 * (anp.sum(W1 * W1) + anp.sum(W2 * W2))
            avg = autograd.value_and_grad(aloss, argnum=(0, 1, 2, 3))
            call = lambda: avg(*params)  # noqa: E731
            t, k, res = C.slow_time(call, max(args.slow_repeats, args.repeats))
            C.check_close("autograd", res, ref)
            rows.append({"method": "autograd", "first": None, "warm": t, "n": k})

    C.finish("mlp", f"(d) MLP, batch {args.batch}, {args.features}-{args.hidden}-10, value+grad w.r.t. "
             "(W1, b1, W2, b2)", rows, skipped, args)


if __name__ == "__main__":
    main()
