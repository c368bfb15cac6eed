"""Variance of the score-function (BBVI) ELBO-gradient estimator with and without its control
variate, against the reparameterisation estimator, on two models.

    python benchmarks/vi_score_variance.py [--draws 2000] [--K 8]

For each model, at a fixed variational parameter ``lam``, ``--draws`` independent gradient estimates
with ``K`` samples each are taken per estimator; the table gives the total variance (sum over the
coordinates of lam), the reduction relative to the score estimator without a baseline, and the
largest deviation of the mean estimate from the reference gradient in standard errors (the
reference is the mean of 20x as many reparameterisation draws; all estimators but the plug-in
"optimal" one are unbiased, so a few standard errors at most is expected).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402

from srcdiff import vi  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--draws", type=int, default=2000)
ap.add_argument("--K", type=int, default=8)
ARGS = ap.parse_args()


def gauss_log_joint(z, x):
    return np.sum(vi.normal_logpdf(x, z, 0.8)) + np.sum(vi.normal_logpdf(z, 0.5, 1.5))


def logreg_log_joint(w, X, y):
    return np.sum(vi.bernoulli_logits_logpmf(y, X @ w)) + np.sum(vi.normal_logpdf(w, 0.0, 1.0))


def models():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 0.8, size=(6, 2))
    q = vi.MeanFieldNormal(2)
    yield "conjugate Gaussian, d=2, n=6", gauss_log_joint, q, np.array([0.2, -0.3, -0.4, 0.1]), (x,)
    N, D = 200, 5
    X = rng.normal(size=(N, D))
    y = (rng.random(N) < 1 / (1 + np.exp(-X @ rng.normal(size=D)))).astype(float)
    q = vi.MeanFieldNormal(D)
    lam = np.concatenate([0.3 * rng.normal(size=D), np.full(D, -1.5)])
    yield f"logistic regression, D={D}, N={N}", logreg_log_joint, q, lam, (X, y)


def draws(eg, lam, data, m, seed, baseline=None):
    rng = np.random.default_rng(seed)
    if eg.estimator == "reparam":
        return np.array([eg(lam, rng, *data)[1] for _ in range(m)])
    return np.array([eg.score_terms(lam, eg.noise(rng), *data, baseline=baseline)[1] for _ in range(m)])


def main():
    K, R = ARGS.K, ARGS.draws
    print(f"ELBO-gradient estimator variance, K={K} samples per estimate, {R} estimates each\n")
    print("| model | estimator | total variance | reduction vs plain score | max |mean - ref| / s.e. |")
    print("|---|---|---:|---:|---:|")
    for name, lj, q, lam, data in models():
        rep = vi.elbo_grad(lj, q, num_samples=K, jit=False)
        score = vi.elbo_grad(lj, q, num_samples=K, estimator="score", jit=False)
        ref = draws(rep, lam, data, 20 * R, 99).mean(0)
        rows = [("score, no baseline", draws(score, lam, data, R, 1, None)),
                ("score, leave-one-out baseline (default)", draws(score, lam, data, R, 1, "loo")),
                ("score, optimal control-variate scale", draws(score, lam, data, R, 1, "optimal")),
                ("reparameterisation", draws(rep, lam, data, R, 1))]
        v0 = rows[0][1].var(0, ddof=1).sum()
        for label, G in rows:
            v = G.var(0, ddof=1).sum()
            se = G.std(0, ddof=1) / np.sqrt(R)
            dev = np.max(np.abs(G.mean(0) - ref) / np.maximum(se, 1e-300))
            print(f"| {name} | {label} | {v:.4g} | {v0 / v:.1f}x | {dev:.1f} |")


if __name__ == "__main__":
    main()
