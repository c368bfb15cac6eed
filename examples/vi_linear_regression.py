"""Bayesian linear regression by variational inference, checked against the exact posterior.

    w ~ N(0, PRIOR_STD^2 I),   y | X, w ~ N(X w, NOISE^2 I)

With a full-rank Gaussian family the optimum of the ELBO is the exact posterior
N(S X^T y / NOISE^2, S), S = (I / PRIOR_STD^2 + X^T X / NOISE^2)^-1, so VI should
recover both the mean and the correlations between the weights.

    python examples/vi_linear_regression.py [plot.png]   (default: vi_linear_regression_elbo.png here)
"""
import os
import sys

import numpy as np

from srcdiff import vi

NOISE, PRIOR_STD = 0.5, 2.0


def log_joint(w, X, y):
    return np.sum(vi.normal_logpdf(y, X @ w, NOISE)) + np.sum(vi.normal_logpdf(w, 0.0, PRIOR_STD))


def make_data(n=50, seed=1):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    X[:, 2] += 0.8 * X[:, 1]  # correlated features -> correlated posterior
    w_true = np.array([1.0, -2.0, 0.5])
    return X, X @ w_true + NOISE * rng.normal(size=n)


def exact_posterior(X, y):
    S = np.linalg.inv(np.eye(X.shape[1]) / PRIOR_STD**2 + X.T @ X / NOISE**2)
    return S @ X.T @ y / NOISE**2, S


def main(steps=4000, plot=True, out=None):
    X, y = make_data()
    q = vi.FullRankNormal(X.shape[1])
    res = vi.fit(log_joint, q, data=(X, y), steps=steps, num_samples=4, lr=0.02, seed=0)
    m, S = exact_posterior(X, y)
    np.set_printoptions(precision=4, suppress=True)
    print("weight   mean: VI     exact    std: VI    exact")
    for j in range(len(m)):
        print(f"w{j}      {res.mean[j]:+9.4f} {m[j]:+9.4f}   {res.std[j]:8.4f} {np.sqrt(S[j, j]):8.4f}")
    corr = lambda C: C[1, 2] / np.sqrt(C[1, 1] * C[2, 2])  # noqa: E731
    print(f"corr(w1, w2)    VI {corr(res.cov):.3f}  exact {corr(S):.3f}")
    print(f"{steps} steps in {res.seconds:.2f}s")
    if plot:
        print("ELBO trace saved to", res.plot(os.path.abspath(out or "vi_linear_regression_elbo.png")))
    return res, m, S


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
