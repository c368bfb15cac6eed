"""Checkpointing (issue 22, item 4): time and peak memory of a long loop's gradient, taped vs checkpointed.

The recurrence (a logistic-growth ODE over a state of D floats, a loss summed along the trajectory):

    y = y0
    for t in range(n):
        y = y + dt * (a * y - b * y ** 2)
        loss = loss + np.sum(y ** 2)

Timed: ``srcdiff.value_and_grad(simulate, wrt=("a", "b"), jit=True)`` (the taped gradient: every iteration
keeps what its backward sweep reads) against the same with ``checkpoints=k`` (k snapshots of y, and one
segment of n / k iterations taped at a time), k = round(sqrt(n)) unless ``--k`` says otherwise.

Each measurement runs in its own process (the gradient is compiled there, or loaded from the disk cache,
by a call with n = 3 first): its time is the median of the timed calls, its memory the peak resident set
size during the timed calls less the resident size before them (Linux: /proc/self/status VmHWM after
/proc/self/clear_refs; elsewhere ru_maxrss, which can only over-state the taped run's baseline).

For each D (10 and 1 000): a size where the taped gradient fits (both measured, gradients compared), then
a size ten times longer checkpointed only, whose taped memory is extrapolated from the measured bytes
per iteration. The 10^7-step, 1 000-float goal (under 1 GB, at most 3x the taped time) runs with
``--goal``; without it, its time and memory are extrapolated from the measured sizes and marked so.

    python benchmarks/checkpointing.py [--quick] [--goal] [--k K] [--repeats 3] [--json PATH]
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _common as C  # noqa: E402  (first: pins BLAS threads before NumPy is imported)

import numpy as np  # noqa: E402

A, B, DT = 1.5, 0.7, 1e-3


def simulate(a, b, y0, dt, n):
    y = y0
    loss = 0.0
    for t in range(n):
        y = y + dt * (a * y - b * y ** 2)
        loss = loss + np.sum(y ** 2)
    return loss


def state(D):
    return np.linspace(0.1, 0.5, D)


# ---------------------------------------------------------------------------- one measurement (child)
def _status(field):
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status("VmHWM") is not None
    except OSError:
        return False


def child(spec):
    import srcdiff
    D, n, k, repeats = spec["D"], spec["n"], spec["k"], spec["repeats"]
    vg = srcdiff.value_and_grad(simulate, wrt=("a", "b"), jit=True, checkpoints=k)
    y0 = state(D)
    vg(A, B, y0, DT, 3)                        # compile (or load from the disk cache)
    exact = _reset_peak()
    before = _status("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        value, (da, db) = vg(A, B, y0, DT, n)
        times.append(time.perf_counter() - t0)
    peak = _status("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("RESULT " + json.dumps({"time": statistics.median(times), "peak": max(peak - before, 0),
                                  "value": float(value), "grad": [float(np.sum(da)), float(np.sum(db))]}))


def measure(D, n, k, repeats):
    spec = json.dumps({"D": D, "n": n, "k": k, "repeats": repeats})
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", spec], capture_output=True,
                          text=True, env=os.environ.copy())
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"measurement D={D} n={n} k={k} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")


# ---------------------------------------------------------------------------- the table (parent)
def mb(x):
    if x < 2 ** 20:
        return f"{x / 2 ** 10:.0f} KB"
    return f"{x / 2 ** 20:.1f} MB" if x < 2 ** 30 else f"{x / 2 ** 30:.2f} GB"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes, one timed call each")
    p.add_argument("--goal", action="store_true", help="also run the 10^7-step, 1 000-float recurrence")
    p.add_argument("--k", type=int, help="snapshots (default: round(sqrt(n)))")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--threads", default=C.THREADS)
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    os.environ.setdefault("SRCDIFF_CACHE_DIR", tempfile.mkdtemp(prefix="srcdiff_bench_cache_"))
    repeats = 1 if args.quick else args.repeats
    sizes = {10: (100_000, 1_000_000), 1000: (2_000, 20_000)} if args.quick else \
        {10: (1_000_000, 10_000_000), 1000: (10_000, 100_000)}
    load = os.getloadavg()[0]
    rows, summary, per_iter = [], [], {}
    for D, (n, n_big) in sizes.items():
        kk = args.k or round(math.sqrt(n))
        taped = measure(D, n, None, repeats)
        ckpt = measure(D, n, kk, repeats)
        same = np.allclose([ckpt["value"]] + ckpt["grad"], [taped["value"]] + taped["grad"], rtol=1e-10, atol=0)
        if not same:
            raise SystemExit(f"D={D} n={n}: the checkpointed gradient differs from the taped one: {ckpt} vs {taped}")
        tape_per_iter = taped["peak"] / n
        rows.append((D, n, "taped", None, taped["time"], taped["peak"], ""))
        rows.append((D, n, "checkpointed", kk, ckpt["time"], ckpt["peak"],
                     f"{ckpt['time'] / taped['time']:.2f}x time, {ckpt['peak'] / max(taped['peak'], 1):.3f}x memory"))
        kb = args.k or round(math.sqrt(n_big))
        big = measure(D, n_big, kb, 1)
        rows.append((D, n_big, "checkpointed", kb, big["time"], big["peak"],
                     f"taped would need ~{mb(tape_per_iter * n_big)} (extrapolated)"))
        per_iter[D] = (big["time"] / n_big, tape_per_iter, ckpt["time"] / taped["time"])
        memory_ratio = (f"{taped['peak'] / ckpt['peak']:.0f}x memory" if ckpt["peak"] >= 2 ** 16
                        else "checkpointed memory below 64 KB")
        summary.append({"benchmark": f"checkpointing, D={D} state, n={n:,} steps, grad (a, b)",
                        "srcdiff": C.fmt_time(ckpt["time"]) + f" ({mb(ckpt['peak'])}, k={kk})",
                        "first call: cold / disk cache": "-", "compared with": "taped gradient",
                        "its time": C.fmt_time(taped["time"]) + f" ({mb(taped['peak'])})",
                        "ratio (its / srcdiff)": f"{taped['time'] / ckpt['time']:.2f}x time, " + memory_ratio,
                        "goal": "checkpointed <= 3x the taped time",
                        "met": "yes" if ckpt["time"] <= 3 * taped["time"] else "**no**"})
    goal_n, goal_D = 10_000_000, 1000
    if args.goal:
        k_goal = args.k or round(math.sqrt(goal_n))
        g = measure(goal_D, goal_n, k_goal, 1)
        rows.append((goal_D, goal_n, "checkpointed", k_goal, g["time"], g["peak"], "the goal, measured"))
        goal_note = f"measured: {C.fmt_time(g['time'])}, {mb(g['peak'])}"
        goal_memory = g["peak"]
    else:
        t_iter, tape_iter, ratio = per_iter[1000]
        k_goal = round(math.sqrt(goal_n))
        memory = goal_memory = k_goal * goal_D * 8 + (goal_n / k_goal) * tape_iter
        goal_note = (f"extrapolated from D=1000, n={sizes[1000][1]:,}: about {C.fmt_time(t_iter * goal_n)} and "
                     f"{mb(memory)} (k={k_goal}: {mb(k_goal * goal_D * 8)} of snapshots, one segment's tape "
                     f"{mb(goal_n / k_goal * tape_iter)}); taped: {mb(goal_n * tape_iter)}")
    print(f"\n**Checkpointing: value_and_grad(jit=True) of a {'' if args.goal else 'long '}loop, taped vs "
          f"checkpoints=k** (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)\n")
    print("| state D | steps n | gradient | k | time | peak memory | vs taped |")
    print("|---:|---:|---|---:|---:|---:|---|")
    for D, n, how, k, t, peak, note in rows:
        print(f"| {D} | {n:,} | {how} | {k or '-'} | {C.fmt_time(t)} | {mb(peak)} | {note} |")
    print(f"\n10^7 steps x 1 000 floats (goal: < 1 GB, <= 3x the taped time): {goal_note}")
    summary.append({"benchmark": "checkpointing, 10^7 steps x 1 000-float state", "srcdiff": goal_note,
                    "first call: cold / disk cache": "-", "compared with": "-", "its time": "-",
                    "ratio (its / srcdiff)": "-", "goal": "< 1 GB",
                    "met": "yes" if goal_memory < 2 ** 30 else "**no**"})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": summary, "rows": [list(r) for r in rows]}, fh, indent=1)


if __name__ == "__main__":
    main()
