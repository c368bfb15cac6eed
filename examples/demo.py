"""srcdiff in one screen: differentiate a NumPy loss, print the generated adjoint, run it jitted.

    python examples/demo.py
"""
import time

import numpy as np

import srcdiff


@srcdiff.differentiate(wrt=("w", "b"), jit=True)
def loss(w, b, x, y):
    p = 1.0 / (1.0 + np.exp(-(x @ w) - b))
    return np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)) + 0.01 * np.sum(w ** 2)


def simulate(a, b, n):
    """An ODE integrated with in-place writes, the way Numba users write recurrences."""
    ys = np.zeros(n + 1)
    ys[0] = 0.5
    for t in range(n):
        ys[t + 1] = ys[t] + 0.01 * (a * ys[t] - b * ys[t] ** 2)
    return ys[n]


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 5))
    y = (x @ np.arange(1.0, 6.0) + rng.normal(size=1000) > 0) * 1.0
    w, b = np.zeros(5), 0.3

    t0 = time.perf_counter()
    dw, db = loss.grad(w, b, x, y)  # generates code for these argument kinds, compiles it with Numba
    first = time.perf_counter() - t0
    print("== generated gradient of loss(w, b, x, y) ==")
    print(srcdiff.source(loss.grad))

    t0 = time.perf_counter()
    for _ in range(100):
        loss.grad(w, b, x, y)
    warm = (time.perf_counter() - t0) / 100
    print(f"first call (generate + Numba compile, or load from cache): {first:.2f} s; warm call: {warm * 1e6:.0f} us")

    eps = 1e-6
    fd = np.array([(loss(w + eps * e, b, x, y) - loss(w - eps * e, b, x, y)) / (2 * eps) for e in np.eye(5)])
    print("dloss/dw (srcdiff):          ", np.round(dw, 6))
    print("dloss/dw (finite differences):", np.round(fd, 6))
    print("dloss/db (srcdiff, finite differences):", round(db, 6),
          round((loss(w, b + eps, x, y) - loss(w, b - eps, x, y)) / (2 * eps), 6))

    for step in range(200):  # plain gradient descent with the jitted gradient
        dw, db = loss.grad(w, b, x, y)
        w, b = w - 0.5 * dw, b - 0.5 * db
    print(f"after 200 steps: loss = {loss(w, b, x, y):.4f}, accuracy = {np.mean((x @ w + b > 0) == y):.3f}")

    dsim = srcdiff.grad(simulate, wrt=("a", "b"), jit=True)
    da, db = dsim(1.5, 0.7, 1000)
    print("\n== generated gradient of simulate(a, b, n): in-place writes restored in reverse ==")
    print(srcdiff.source(dsim))
    fd_a = (simulate(1.5 + eps, 0.7, 1000) - simulate(1.5 - eps, 0.7, 1000)) / (2 * eps)
    print(f"d ys[n] / d a = {da:.6f} (finite differences {fd_a:.6f}); d ys[n] / d b = {db:.6f}")


if __name__ == "__main__":
    main()
