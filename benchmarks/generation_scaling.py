"""Generation time against program size: straight-line functions of 10 / 50 / 200 / 1000 statements.

Each program is realistic straight-line NumPy: elementwise math on vectors and scalars, reductions,
and reuse of earlier values (every statement reads one or two values computed before it). The time
is srcdiff's source generation alone (parse -> transforms -> emitted source, `jit=False` build, no
Numba compile), the median of --repeats builds in this process. The printed exponent is the slope
of log(time) against log(statements) fitted over the sizes (1 = linear).

    python benchmarks/generation_scaling.py [--sizes 10,50,200,1000] [--repeats 3]
"""
import argparse
import math
import os
import statistics
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def program_source(n: int, seed: int = 0) -> str:
    """The source of `f(x, y, a)`: n statements over vectors x, y and a scalar a, returning a scalar."""
    rng = np.random.default_rng(seed)
    vecs, scals = ["x", "y"], ["a"]
    lines = [f"def straight_{n}(x, y, a):"]
    for k in range(n):
        v = lambda: vecs[-1 - int(rng.integers(0, min(len(vecs), 6)))] if rng.random() < 0.7 else \
            vecs[int(rng.integers(0, len(vecs)))]  # noqa: E731  mostly recent values, some older
        s = lambda: scals[-1 - int(rng.integers(0, min(len(scals), 4)))]  # noqa: E731
        kind = int(rng.integers(0, 8))
        if kind == 0:
            expr, out = f"np.tanh({v()}) * {s()} + 0.5 * {v()}", "v"
        elif kind == 1:
            expr, out = f"np.exp(-0.1 * {v()} ** 2) - {v()} * 0.5", "v"
        elif kind == 2:
            expr, out = f"np.tanh({v()} * {v()}) + np.sin({s()})", "v"
        elif kind == 3:
            expr, out = f"np.sum({v()} * {v()}) / {v()}.shape[0]", "s"
        elif kind == 4:
            expr, out = f"np.mean(np.log1p({v()} ** 2)) + 0.5 * {s()}", "s"
        elif kind == 5:
            expr, out = f"np.tanh({s()} * {s()}) + 0.1 * np.cos({s()})", "s"
        elif kind == 6:
            expr, out = f"0.5 * np.maximum({v()}, 0.0) + np.tanh({s()}) * {v()}", "v"
        else:
            expr, out = f"np.sqrt(1.0 + {v()} ** 2) * np.tanh({s()})", "v"
        name = f"{out}{k}"
        lines.append(f"    {name} = {expr}")
        (vecs if out == "v" else scals).append(name)
    lines.append(f"    return np.sum({vecs[-1]} * {vecs[-2]}) + {scals[-1]}")
    return "\n".join(lines) + "\n"


def load_program(n: int, directory: str):
    path = os.path.join(directory, f"straight_{n}.py")
    with open(path, "w") as fh:
        fh.write("import numpy as np\n\n\n" + program_source(n))
    ns = {}
    code = compile(open(path).read(), path, "exec")
    exec(code, ns)
    return ns[f"straight_{n}"]


def generation_time(fn) -> float:
    from srcdiff import compiler
    t0 = time.perf_counter()
    mod = compiler.build_module(fn, ["x", "y", "a"], "grad")
    mod.source(jit=True)
    return time.perf_counter() - t0


def fitted_exponent(sizes, times) -> float:
    lx = [math.log(s) for s in sizes]
    ly = [math.log(t) for t in times]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10,50,200,1000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check", action="store_true", help="also check one gradient against finite differences")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    times = []
    with tempfile.TemporaryDirectory() as d:
        print("| statements | generation (median) | per statement |")
        print("|---:|---:|---:|")
        for n in sizes:
            fn = load_program(n, d)
            t = statistics.median(generation_time(fn) for _ in range(args.repeats))
            times.append(t)
            print(f"| {n} | {t:.3f} s | {1e3 * t / n:.2f} ms |", flush=True)
            if args.check:
                import srcdiff
                rng = np.random.default_rng(1)
                x, y, a = rng.normal(size=5), rng.normal(size=5), 0.3
                g = srcdiff.grad(fn, wrt="a")(x, y, a)
                h = 1e-6
                fd = (fn(x, y, a + h) - fn(x, y, a - h)) / (2 * h)
                print(f"  d/da: srcdiff {g:.8g}, finite differences {fd:.8g}")
    if len(sizes) > 1:
        print(f"\nfitted exponent (time ~ statements^k): k = {fitted_exponent(sizes, times):.2f}")
        print("(noisy on a shared machine: compare sizes within one run)")


if __name__ == "__main__":
    main()
