"""A variational autoencoder on scikit-learn's bundled 8x8 digits, with srcdiff gradients.

Encoder: h = tanh(x W1 + b1);  q(z | x) = N(h Wm + bm, diag exp(h Ws + bs)^2)   (2-D latent)
Decoder: g = tanh(z W2 + b2);  p(x | z) = Bernoulli(sigmoid(g Wo + bo)) on pixel/16 > 0.5
Prior  : z ~ N(0, I);  the KL term is in closed form.

The per-minibatch ELBO (amortised q, one reparameterised draw per image) is an ordinary function of
the weight arrays; srcdiff differentiates it with respect to all ten of them at once
(wrt=a tuple of names), under Numba, and Adam ascends it.  Saves vae_latent.png: the latent
means of all digits coloured by label.

    python examples/vae_digits.py [plot.png]   (default: vae_latent.png in the working directory)
"""
import os
import sys
import time

import numpy as np
from sklearn.datasets import load_digits

import srcdiff
from srcdiff import vi

WEIGHTS = ("W1", "b1", "Wm", "bm", "Ws", "bs", "W2", "b2", "Wo", "bo")


def elbo(W1, b1, Wm, bm, Ws, bs, W2, b2, Wo, bo, x, eps):
    """Mean ELBO per image of the minibatch x (B, 64) with noise eps (B, 2)."""
    h = np.tanh(x @ W1 + b1)
    mu = h @ Wm + bm
    log_s = h @ Ws + bs
    z = mu + np.exp(log_s) * eps
    g = np.tanh(z @ W2 + b2)
    logits = g @ Wo + bo
    log_lik = np.sum(vi.bernoulli_logits_logpmf(x, logits))
    kl = np.sum(0.5 * (mu * mu + np.exp(2.0 * log_s) - 1.0) - log_s)
    return (log_lik - kl) / x.shape[0]


def encode_mean(params, x):
    h = np.tanh(x @ params["W1"] + params["b1"])
    return h @ params["Wm"] + params["bm"]


def init(rng, n_in=64, n_hidden=64, n_latent=2):
    def dense(a, b):
        return rng.normal(0.0, 1.0 / np.sqrt(a), size=(a, b)), np.zeros(b)
    p = {}
    p["W1"], p["b1"] = dense(n_in, n_hidden)
    p["Wm"], p["bm"] = dense(n_hidden, n_latent)
    p["Ws"], p["bs"] = dense(n_hidden, n_latent)
    p["Ws"] *= 0.1
    p["W2"], p["b2"] = dense(n_latent, n_hidden)
    p["Wo"], p["bo"] = dense(n_hidden, n_in)
    return p


def main(epochs=30, batch_size=64, lr=0.01, seed=0, plot=True, out=None):
    digits = load_digits()
    X = (digits.data / 16.0 > 0.5).astype(np.float64)
    labels = digits.target
    rng = np.random.default_rng(seed)
    params = init(rng)
    grad = srcdiff.value_and_grad(elbo, wrt=WEIGHTS, jit=True)
    opts = {k: vi.Adam(lr=lr) for k in WEIGHTS}
    t0 = time.perf_counter()
    grad(*[params[k] for k in WEIGHTS], X[:batch_size], rng.standard_normal((batch_size, 2)))
    print(f"generated and compiled the gradient in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    n = len(X)
    for epoch in range(epochs):
        perm = rng.permutation(n)
        total = 0.0
        for i in range(0, n - batch_size + 1, batch_size):
            xb = X[perm[i:i + batch_size]]
            value, grads = grad(*[params[k] for k in WEIGHTS], xb, rng.standard_normal((len(xb), 2)))
            for k, gk in zip(WEIGHTS, grads):
                params[k] = opts[k].step(params[k], gk)
            total += value * len(xb)
        if epoch % 5 == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:3d}  ELBO per image {total / (n - n % batch_size):8.3f}")
    print(f"{epochs} epochs in {time.perf_counter() - t0:.1f}s")
    means = encode_mean(params, X)
    if plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 5))
        sc = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", s=6)
        fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
        ax.set_title("VAE latent means (sklearn digits)")
        path = os.path.abspath(out or "vae_latent.png")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        print("latent scatter saved to", path)
    return params, means, labels


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
