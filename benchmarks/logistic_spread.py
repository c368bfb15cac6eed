"""(b) logistic loss: what moves srcdiff's and JAX's times from one process to the next.

`logistic.py` run four times gave four different answers (srcdiff 0.83-1.09 ms, JAX 1.0-2.05 ms on the
same machine, 2026-11-27). This script times in one process, in rounds of turns (each method a few calls
back to back, the methods in a new order every round), every method that reads the 16 MB `x`, on every
copy of `x` there is, and records what can differ between copies and between processes:

* each buffer's address modulo 64 (cache line) and 2 MiB (huge page), and how much of it the kernel backs
  with 2 MiB transparent huge pages (/proc/self/smaps; _pages.py);
* NumPy's `x` (NumPy madvises huge pages for arrays of 4 MiB and more), JAX's copy (`jnp.asarray` copies
  into XLA's own allocation, 4 KiB pages), JAX's copy collapsed into huge pages in place (MADV_COLLAPSE),
  copies made here in 4 KiB pages, in huge pages 16 bytes past a cache line, in huge pages aligned, and
  JAX's zero-copy DLPack view of the aligned one;
* for reference: one streaming read of each buffer (a vectorised sum, the floor of any method), srcdiff on
  N=500 forty times (the same 20 000 rows from L1/L2: its arithmetic alone), and a chain of dependent
  multiply-adds (the core's speed);
* per method: the best and median wall time of the warm calls (all but the first of a turn), the process's
  CPU time for them (all threads: JAX works on threads other than the caller's), and the first calls of the
  turns ("cold": caches and JAX's threads as the previous method left them); the load average, the
  hypervisor's steal time, and the CPU ticks of every thread other than the main one.

    python benchmarks/logistic_spread.py [--rounds 40] [--block 6] [--cpu K] [--json PATH]

Run it in several processes (`for i in $(seq 10); do ...; done`) and compare (benchmarks/README.md).
"""
import argparse
import json
import os
import random
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402,F401  (first: pins BLAS/XLA threads before NumPy is imported)
from _pages import (MADV_COLLAPSE, MADV_HUGEPAGE, address, copy_of, describe, madvise)  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

import logistic  # noqa: E402
from logistic_pieces import read_once  # noqa: E402  (one streaming read of x: the floor of any method)


@numba.njit
def spin(n):
    """A chain of n dependent multiply-adds in registers: its time is the core's speed, nothing else."""
    s = 1.0
    for i in range(n):
        s = s * 0.999999 + 1e-7
    return s


def steal_ticks() -> int:
    """The machine's CPU time stolen by the hypervisor so far (all CPUs, clock ticks; /proc/stat)."""
    with open("/proc/stat") as fh:
        return int(fh.readline().split()[8])


def thread_ticks() -> dict:
    """{thread id: (name, CPU clock ticks so far)} of this process's threads."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(")") + 2:].split()
        out[tid] = (stat[stat.index("(") + 1:stat.rindex(")")], int(fields[11]) + int(fields[12]))
    return out


def timed(fns: dict, rounds: int, block: int) -> dict:
    """Rounds of blocks: each round runs every method `block` times back to back, the methods in a new random
    order each round, so load that comes and goes hits them all alike. The first call of a block finds the
    caches (and JAX's worker threads) as the previous method left them, and is reported on its own ("cold");
    the others are the warm calls ("best", "median", and the process's CPU time, all threads)."""
    for f in fns.values():
        C.block(f())
        C.block(f())
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    cold = {k: [] for k in fns}
    switches = {k: 0 for k in fns}
    order = list(fns)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for k in order:
            f = fns[k]
            for i in range(block):
                n0 = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
                c0, t0 = time.process_time(), time.perf_counter()
                C.block(f())
                t1, c1 = time.perf_counter(), time.process_time()
                switches[k] += resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw - n0
                (wall[k] if i else cold[k]).append(t1 - t0)
                if i:
                    cpu[k].append(c1 - c0)
    us = lambda v: round(float(v) * 1e6, 1)  # noqa: E731
    return {k: {"best_us": us(min(wall[k])), "median_us": us(np.median(wall[k])),
                "cpu_median_us": us(np.median(cpu[k])), "cold_median_us": us(np.median(cold[k])),
                "preempted_per_call": round(switches[k] / (rounds * block), 2)} for k in fns}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=20000)
    p.add_argument("--D", type=int, default=100)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--block", type=int, default=6, help="calls of a method back to back in a round")
    p.add_argument("--threads", default="1")   # read by _common before NumPy is imported
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--cpu", type=int, help="run the whole process (JAX's threads too) on this one CPU")
    args = p.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})   # before JAX starts its threads: they inherit it
    w, b, x, y = logistic.problem(args.N, args.D)
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import srcdiff

    vg = srcdiff.value_and_grad(logistic.loss, wrt=("w", "b"), jit=True)
    hand = logistic.numba_hand_kernel()

    def jloss(w, b, x, y):
        z = x @ w + b
        return jnp.mean(jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z))) - y * z) + 1e-3 * jnp.sum(w ** 2)
    jvg = jax.jit(jax.value_and_grad(jloss, argnums=(0, 1)))
    wj, bj, yj = jnp.asarray(w), jnp.asarray(b), jnp.asarray(y)
    xj = jnp.asarray(x)
    buffers = {"numpy": x, "4k": copy_of(x, huge=False, offset=16), "huge": copy_of(x, huge=True, offset=16),
               "huge+64": copy_of(x, huge=True, offset=64), "jax copy": xj, "jax huge": jnp.asarray(x)}
    jh = buffers["jax huge"]
    madvise(address(jh), jh.nbytes, MADV_HUGEPAGE)
    madvise(address(jh), jh.nbytes, MADV_COLLAPSE)
    shared = jnp.from_dlpack(buffers["huge+64"])
    if shared.unsafe_buffer_pointer() == buffers["huge+64"].ctypes.data:
        buffers["jax view of huge+64"] = shared
    zero_copy = {}
    for name in ("numpy", "huge+64"):
        try:
            dl = jnp.from_dlpack(buffers[name])
            zero_copy[name] = dl.unsafe_buffer_pointer() == buffers[name].ctypes.data
        except Exception as e:  # noqa: BLE001
            zero_copy[name] = f"no: {e}"
    small = logistic.problem(500, args.D)
    fns = {"clock (L1 compute)": lambda: spin(20000), "srcdiff N=500 x40": lambda: [vg(*small) for _ in range(40)]}
    for name, a in buffers.items():
        if isinstance(a, np.ndarray):
            fns[f"srcdiff {name}"] = (lambda a=a: vg(w, b, a, y))
            fns[f"hand {name}"] = (lambda a=a: hand(w, b, a, y))
            fns[f"read {name}"] = (lambda a=a: read_once(a))
        else:
            fns[f"jax {name}"] = (lambda a=a: jvg(wj, bj, a, yj))
            fns[f"read {name}"] = (lambda a=np.asarray(a): read_once(a))
    steal0, ticks0 = steal_ticks(), thread_ticks()
    load0 = os.getloadavg()[0]
    res = timed(fns, args.rounds, args.block)
    out = {"buffers": {k: describe(a) for k, a in buffers.items()}, "times": res,
           "jax_dlpack_zero_copy": zero_copy, "load": [load0, os.getloadavg()[0]],
           "steal_ticks": steal_ticks() - steal0,
           "other_threads_ticks": {f"{n} {t}": c - ticks0.get(t, (n, 0))[1] for t, (n, c) in thread_ticks().items()
                                   if t != str(os.getpid()) and c > ticks0.get(t, (n, 0))[1]},
           "numpy_madvise_hugepage": np._core.multiarray._get_madvise_hugepage()}
    for k, a in buffers.items():
        print(f"{k:9s} {describe(a)}")
    print(f"dlpack zero copy: {zero_copy}; load {out['load']}; steal {out['steal_ticks']} ticks; "
          f"threads other than the main one, CPU ticks: {out['other_threads_ticks']}")
    for k, r in res.items():
        print(f"{k:18s} best {r['best_us']:7.1f} us  median {r['median_us']:7.1f} us  cpu {r['cpu_median_us']:7.1f} us"
              f"  cold {r['cold_median_us']:7.1f} us  preempted {r['preempted_per_call']:.2f}/call")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
