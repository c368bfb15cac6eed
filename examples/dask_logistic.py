"""Logistic regression over a Dask array on a local cluster: full-batch L-BFGS fed by srcdiff.dask.

    python examples/dask_logistic.py            # ~400 MB of data, 2 workers with 1 GiB each
    python examples/dask_logistic.py --big      # ~4 GB: more than the workers' memory (streamed)

The data is generated chunk by chunk on the workers (never on the client); each L-BFGS evaluation is one
srcdiff.dask.value_and_grad call: a task per chunk runs the jitted gradient, a tree reduction sums them.
"""
import argparse
import time

import numpy as np
import scipy.optimize

import dask.array as da
from distributed import Client, LocalCluster

import srcdiff.dask


def loss(w, X, y):
    """Negative log-likelihood of the rows of X, y: a sum over rows, as srcdiff.dask requires."""
    z = X @ w
    return np.sum(np.logaddexp(0.0, z) - y * z)


def make_chunk(block_id, rows, d, w_true):
    """Rows [X | y] of chunk block_id[0], reproducible from the block index alone."""
    rng = np.random.default_rng(1000 + block_id[0])
    X = rng.standard_normal((rows, d))
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(np.float64)
    return np.column_stack([X, y])


def main(big=False, steps=8, rows_per_chunk=250_000, d=20):
    n_chunks = 100 if big else 10
    w_true = np.linspace(-1.0, 1.0, d)
    with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="1GiB") as cluster, Client(cluster) as client:
        print("dashboard:", client.dashboard_link)
        Xy = da.map_blocks(make_chunk, rows=rows_per_chunk, d=d, w_true=w_true, dtype=np.float64,
                           chunks=((rows_per_chunk,) * n_chunks, (d + 1,)))
        X, y = Xy[:, :d], Xy[:, d]
        n = rows_per_chunk * n_chunks
        print(f"{n:,} rows x {d} features = {Xy.nbytes / 1e9:.2f} GB in {n_chunks} chunks "
              f"(workers: 2 x 1 GiB)")
        vg = srcdiff.dask.value_and_grad(loss)
        calls = [0]

        def objective(w):
            t0 = time.perf_counter()
            value, g = vg(w, X, y)
            calls[0] += 1
            dt = time.perf_counter() - t0
            print(f"  evaluation {calls[0]:2d}: loss/row {value / n:.6f}  |grad|/row {np.linalg.norm(g) / n:.2e}"
                  f"  {dt:6.2f}s  ({n / dt / 1e6:.1f} M rows/s)", flush=True)
            return value, g
        res = scipy.optimize.minimize(objective, np.zeros(d), jac=True, method="L-BFGS-B",
                                      options={"maxiter": steps})
        print("fitted w[:5]:", np.round(res.x[:5], 3), " true:", np.round(w_true[:5], 3))
        print("max |w - w_true|:", float(np.max(np.abs(res.x - w_true))))
        return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="about 4 GB of data instead of 400 MB")
    ap.add_argument("--steps", type=int, default=8, help="L-BFGS iterations")
    args = ap.parse_args()
    main(big=args.big, steps=args.steps)
