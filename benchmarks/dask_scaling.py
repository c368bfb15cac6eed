"""srcdiff.dask scaling: the same logistic-regression gradient over the same chunks

  * in one process over NumPy chunks (a plain loop calling the jitted srcdiff gradient: the floor),
  * on a distributed LocalCluster of 1 worker and of 2 workers (one thread each),

reporting rows per second and the overhead per task ((dask time - loop time) / tasks, on 1 worker).
Data is generated on the workers chunk by chunk and persisted first, so the timings are of the gradient.

    python benchmarks/dask_scaling.py [--rows-per-chunk 100000] [--chunks 16] [--features 16] [--repeat 5]

Model for N workers: tasks = chunks + ceil(chunks / 8) + ... (tree reduction with fan-in 8, depth
ceil(log8 chunks)); bytes moved per call = the parameters to each worker + one gradient (features x 8
bytes) per task; the data never moves. Time ~ chunks x t_chunk / N + tasks x overhead / N + depth x latency.
"""
import argparse
import time

import numpy as np

import dask.array as da
from distributed import Client, LocalCluster

import srcdiff
import srcdiff.dask


def loss(w, X, y):
    z = X @ w
    return np.sum(np.logaddexp(0.0, z) - y * z)


def chunk(block_id, rows, d):
    rng = np.random.default_rng(block_id[0])
    X = rng.standard_normal((rows, d))
    return np.column_stack([X, (rng.random(rows) < 0.5).astype(np.float64)])


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(rows_per_chunk=100_000, n_chunks=16, d=16, repeat=5):
    n = rows_per_chunk * n_chunks
    w = np.linspace(-0.5, 0.5, d)
    print(f"{n:,} rows x {d} features ({n * (d + 1) * 8 / 1e6:.0f} MB) in {n_chunks} chunks")
    # one process, NumPy chunks
    parts = [chunk((i,), rows_per_chunk, d) for i in range(n_chunks)]
    parts = [(np.ascontiguousarray(p[:, :d]), np.ascontiguousarray(p[:, d])) for p in parts]
    vg_local = srcdiff.value_and_grad(loss, jit=True)
    vg_local(w, *parts[0])       # compile

    def loop():
        v, g = 0.0, np.zeros(d)
        for p in parts:
            vi, gi = vg_local(w, *p)
            v, g = v + vi, g + gi
        return v, g
    t_loop, (v_ref, g_ref) = best(loop, repeat)
    print(f"  one process, NumPy loop : {t_loop * 1e3:8.1f} ms  {n / t_loop / 1e6:7.1f} M rows/s")
    del parts
    results = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            Xy = da.map_blocks(chunk, rows=rows_per_chunk, d=d, dtype=np.float64,
                               chunks=((rows_per_chunk,) * n_chunks, (d + 1,))).persist()
            X, y = Xy[:, :d], Xy[:, d]
            X, y = client.persist([X, y])
            vg = srcdiff.dask.value_and_grad(loss)
            vg(w, X, y)                                       # ship + compile on the workers
            t, (v, g) = best(lambda: vg(w, X, y), repeat)
            assert np.allclose(g, g_ref, rtol=1e-9) and np.isclose(v, v_ref, rtol=1e-9)
            results[workers] = t
            print(f"  dask, {workers} worker(s)       : {t * 1e3:8.1f} ms  {n / t / 1e6:7.1f} M rows/s")
    tasks = n_chunks
    level = n_chunks
    while level > 1:
        level = -(-level // 8)
        tasks += level
    print(f"  tasks per call: {tasks}; overhead per task (1 worker vs loop): "
          f"{(results[1] - t_loop) / tasks * 1e3:.2f} ms; speed-up 1 -> 2 workers: {results[1] / results[2]:.2f}x")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="srcdiff.dask scaling")
    ap.add_argument("--rows-per-chunk", type=int, default=100_000)
    ap.add_argument("--chunks", type=int, default=16)
    ap.add_argument("--features", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    main(a.rows_per_chunk, a.chunks, a.features, a.repeat)
