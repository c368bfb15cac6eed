"""Shared timing / reporting helpers for the srcdiff benchmarks (not a benchmark itself).

Every benchmark script follows the same protocol:

* the srcdiff gradient is timed on its FIRST call in a fresh Numba/srcdiff cache directory
  (parse + transform + Numba compile), then warm (median of repeats);
* the same script is re-run in a SECOND process (``--second-process``) sharing that cache
  directory; it reports only srcdiff's first-call time there (load from the on-disk cache);
* peers run in the same process as srcdiff: first call (compile/trace) and warm median;
* results are printed as a markdown table; ``--json PATH`` also writes them for run_all.py.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _use_this_checkout() -> None:
    """Benchmark the srcdiff of this checkout, in this process and in the child processes the scripts
    start (second-process first calls, per-size measurements), installed or not."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if ROOT not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([ROOT] + paths)


_use_this_checkout()


def _pin_threads() -> str:
    """Limit BLAS / XLA to N threads (``--threads N`` or $SRCDIFF_BENCH_THREADS; default 1) before
    NumPy or JAX is imported, so all methods run under the same thread budget. On a small shared
    machine multithreaded OpenBLAS can be 10x slower than one thread. ``--threads default``
    leaves the libraries' own defaults."""
    n = os.environ.get("SRCDIFF_BENCH_THREADS", "1")
    if "--threads" in sys.argv:
        i = sys.argv.index("--threads")
        if i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
    os.environ["SRCDIFF_BENCH_THREADS"] = n  # inherited by the second process
    if n != "default":
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = n
        if n == "1":
            xla = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + xla).strip()
    return n


if "numpy" in sys.modules or "jax" in sys.modules:
    THREADS = os.environ.get("SRCDIFF_BENCH_THREADS", "default")
else:
    THREADS = _pin_threads()


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=21, help="timed calls per fast method (median reported)")
    p.add_argument("--slow-repeats", type=int, default=3, help="timed calls for slow peers (autograd)")
    p.add_argument("--peers", default="all",
                   help="comma-separated subset of peers to run (default: all available)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--warm-cache", action="store_true",
                   help="use the normal srcdiff cache dir instead of a fresh one (first call may then hit the cache)")
    p.add_argument("--no-second-process", action="store_true", help="skip the second-process first-call timing")
    p.add_argument("--threads", default=THREADS,
                   help="BLAS/XLA threads for every method (default 1; 'default' = libraries' choice); "
                        "read before NumPy is imported")
    p.add_argument("--second-process", action="store_true", help=argparse.SUPPRESS)
    return p


def setup_cache(args) -> str:
    """Point srcdiff (and therefore Numba's cache=True files) at a fresh directory, unless asked not to.

    Must run before the first srcdiff transform is built. The second process inherits the
    environment variable and so loads what the first process compiled.
    """
    if args.second_process or args.warm_cache:
        return os.environ.get("SRCDIFF_CACHE_DIR", "")
    d = tempfile.mkdtemp(prefix="srcdiff_bench_cache_")
    os.environ["SRCDIFF_CACHE_DIR"] = d
    return d


def block(x):
    """Wait for JAX's asynchronous dispatch (no-op for NumPy values)."""
    if isinstance(x, (tuple, list)):
        for v in x:
            block(v)
    elif hasattr(x, "block_until_ready"):
        x.block_until_ready()
    return x


def first_call(fn) -> float:
    t0 = time.perf_counter()
    block(fn())
    return time.perf_counter() - t0


def median_time(fn, repeats: int, warmup: int = 2, budget: float | None = 20.0) -> tuple[float, int]:
    """(median seconds, number of timed calls) after `warmup` untimed calls; stops early past `budget` s."""
    for _ in range(warmup):
        block(fn())
    times, spent = [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        block(fn())
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
        if budget is not None and spent > budget:
            break
    return statistics.median(times), len(times)


def interleaved_times(fns: dict, repeats: int, turn: int = 4, budget: float | None = 60.0) -> dict:
    """{name: (median s, calls timed, best s)} of the warm calls of every method in `fns`, timed in rounds: each
    round runs each method `turn` times back to back, the methods in a new order each round, until every
    method has `repeats` warm calls (or `budget` s are spent). The first call of a turn, which finds the
    caches and JAX's worker threads as the previous method left them, is not counted. On a shared machine the
    load comes and goes: timed in turns, every method sees the same load, where methods timed one after the
    other each see their own (benchmarks/README.md, "(b) logistic loss: what moves the times")."""
    import random
    for fn in fns.values():
        block(fn())
        block(fn())
    times = {k: [] for k in fns}
    order, rng, spent = list(fns), random.Random(0), 0.0
    while min(len(v) for v in times.values()) < repeats and (budget is None or spent < budget):
        rng.shuffle(order)
        for k in order:
            for i in range(turn):
                t0 = time.perf_counter()
                block(fns[k]())
                dt = time.perf_counter() - t0
                spent += dt
                if i:
                    times[k].append(dt)
    return {k: (statistics.median(v), len(v), min(v)) for k, v in times.items()}


def want(args, name: str) -> bool:
    return args.peers == "all" or name in args.peers.split(",")


def second_process_first_call(script: str, args) -> float | None:
    """Run `script --second-process` (same cache dir) and read its srcdiff first-call time."""
    if args.no_second_process:
        return None
    cmd = [sys.executable, script, "--second-process"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    for line in proc.stdout.splitlines():
        if line.startswith("SECOND_PROCESS_FIRST_CALL "):
            return float(line.split()[1])
    print("second process failed:\n" + proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
    return None


def report_second_process(t: float) -> None:
    print(f"SECOND_PROCESS_FIRST_CALL {t:.6f}")


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    if t >= 1.0:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} us"


def machine() -> str:
    import numpy
    try:
        import numba
        nb = numba.__version__
    except Exception:  # pragma: no cover
        nb = "?"
    return (f"{platform.machine()}, {os.cpu_count()} cores visible, BLAS/XLA threads: {THREADS}, "
            f"Python {platform.python_version()}, NumPy {numpy.__version__}, Numba {nb}")


def table(title: str, rows: list[dict], srcdiff_key: str = "srcdiff") -> str:
    """Markdown table; ratio column = method warm time / srcdiff warm time (> 1: srcdiff faster)."""
    base = next((r["warm"] for r in rows if r["method"] == srcdiff_key), None)
    out = [f"**{title}**", "",
           "| method | first call | warm median | calls timed | time / srcdiff |",
           "|---|---:|---:|---:|---:|"]
    for r in rows:
        ratio = "-" if base is None or r.get("warm") is None else f"{r['warm'] / base:.2f}x"
        out.append(f"| {r['method']} | {fmt_time(r.get('first'))} | {fmt_time(r.get('warm'))} | "
                   f"{r.get('n', '-')} | {ratio} |")
    return "\n".join(out)


def finish(name: str, title: str, rows: list[dict], skipped: list[str], args, notes: list[str] = ()) -> None:
    print()
    print(table(title, rows))
    for s in skipped:
        print(f"\nskipped: {s}")
    for n in notes:
        print(f"\nnote: {n}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"name": name, "title": title, "rows": rows, "skipped": skipped,
                       "notes": list(notes), "machine": machine()}, fh, indent=1)


def check_close(label: str, got, ref, rtol=1e-6, atol=1e-9) -> None:
    """Assert that every array in `got` matches `ref` (benchmarks compare like with like)."""
    import numpy as np
    flat_g, flat_r = _flatten(got), _flatten(ref)
    if len(flat_g) != len(flat_r):
        raise AssertionError(f"{label}: {len(flat_g)} outputs, srcdiff has {len(flat_r)}")
    for g, r in zip(flat_g, flat_r):
        g, r = np.asarray(g, dtype=float), np.asarray(r, dtype=float)
        if not np.allclose(g, r, rtol=rtol, atol=atol):
            err = np.max(np.abs(g - r))
            raise AssertionError(f"{label}: result differs from srcdiff (max abs err {err:.3g})")


def _flatten(x) -> list:
    if isinstance(x, (tuple, list)):
        return [v for item in x for v in _flatten(item)]
    return [x]


def slow_time(fn, repeats: int, budget: float = 20.0):
    """For slow peers with nothing to compile (autograd): no warm-up; the first timed call's
    result is returned for checking. Returns (median seconds, calls timed, first result)."""
    times, first_result = [], None
    for i in range(repeats):
        t0 = time.perf_counter()
        r = block(fn())
        times.append(time.perf_counter() - t0)
        if i == 0:
            first_result = r
        if sum(times) > budget:
            break
    return statistics.median(times), len(times), first_result
