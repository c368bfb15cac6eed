"""(b) logistic loss piece by piece: where the generated gradient's time goes, measured where the pieces run.

Each kernel timed alone says little about what it costs inside the generated function: rt.rows_add on a
block in L1 is one thing, rt.rows_add right after rt.rows_dot has streamed that block from L3 and the rows'
loop has run is another. So the generated source of logistic.py's gradient (srcdiff.source) is compiled
again with pieces replaced by ones that do no work (rt.rows_dot: the buffer gets w's first numbers, x is not
read; rt.rows_add: one number added; the rows' loop: each of its buffers gets a copy of the products'), every
combination, and all of them are timed interleaved in one process. The differences between rows are the
pieces' costs in place. For reference: srcdiff's own gradient, and one streaming read of x from cache (a
vectorised sum of its numbers), the floor of any method that reads x. srcdiff's own is 0.01-0.03 ms slower
than the variant with every piece: its kernels are called by symbol where the variants link them in (0-0.01
ms), and its Python wrapper and Numba's dispatch run on caches the stream of x has just emptied (1 us a call
at N=16, 10-20 us at N=20 000).

    python benchmarks/logistic_pieces.py [--N 20000] [--D 100] [--repeats 300]

Pin it to one core (`taskset -c 1`) and read the load average it prints: the machine's other jobs share
the L3 cache and its bandwidth, and every figure moves with them.
"""
import argparse
import os
import re
import sys
import time
import types as pytypes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402,F401  (first: pins BLAS threads before NumPy is imported; this checkout)

import numba  # noqa: E402
import numpy as np  # noqa: E402

import logistic  # noqa: E402


@numba.njit
def no_rows_dot(out, a, x):
    for k in range(a.shape[0]):
        out[k] = x[0] + 1e-3 * k


@numba.njit(fastmath={"reassoc"})
def read_once(x):
    """The sum of x's numbers: one streaming read of x, vectorised."""
    flat = x.reshape(-1)
    s = 0.0
    for i in range(flat.shape[0]):
        s += flat[i]
    return s


@numba.njit
def no_rows_add(out, a, g):
    out[0] += g[0]


def without_rows_loop(src: str) -> str:
    """`src` with the body of its rows' loop (the first `for k in range(rows):`) replaced by copies of the
    rows_dot buffer into each buffer the loop writes, so what follows it has numbers to work on."""
    lines = src.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "for k in range(rows):")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(i for i in range(start + 1, len(lines)) if len(lines[i]) - len(lines[i].lstrip()) <= indent)
    body = "".join(lines[start + 1:end])
    product = re.search(r"rt\.rows_dot\((\w+),", src).group(1)
    written = sorted(set(re.findall(r"(\w+_block)\[k\] = ", body)))
    pad = " " * (indent + 4)
    new = "".join(f"{pad}{name}[k] = {product}[k]\n" for name in written)
    return "".join(lines[:start + 1]) + new + "".join(lines[end:])


def compiled(src: str, rows_dot, rows_add):
    """The generated function of `src`, with the runtime's rows_dot and rows_add replaced as given."""
    from srcdiff import runtime
    rt = pytypes.ModuleType("rt_pieces")
    rt.__dict__.update({k: getattr(runtime, k) for k in dir(runtime) if not k.startswith("__")})
    rt.rows_dot, rt.rows_add = rows_dot, rows_add
    namespace = {"rt": rt}
    exec(compile(src.replace("from srcdiff import runtime as rt\n", ""), "<generated>", "exec"), namespace)
    name = re.search(r"^def (\w+)\(", src, re.M).group(1)
    return numba.njit(error_model="numpy", boundscheck=False)(namespace[name])


def variants(vg, src: str) -> dict:
    """Every combination of rows_dot, the rows' loop and rows_add, each there or replaced."""
    from srcdiff import runtime as rt
    out = {}
    for loop, s in (("loop", src), ("-", without_rows_loop(src))):
        for dot, rows_dot in (("rows_dot", rt.rows_dot), ("-", no_rows_dot)):
            for add, rows_add in (("rows_add", rt.rows_add), ("-", no_rows_add)):
                out[f"{dot:8s} | {loop:4s} | {add:8s}"] = compiled(s, rows_dot, rows_add)
    out["srcdiff's own gradient"] = vg
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=20000)
    p.add_argument("--D", type=int, default=100)
    p.add_argument("--repeats", type=int, default=300)
    p.add_argument("--threads", default="1")   # read by _common before NumPy is imported
    args = p.parse_args(argv)
    w, b, x, y = logistic.problem(args.N, args.D)
    import srcdiff
    vg = srcdiff.value_and_grad(logistic.loss, wrt=("w", "b"), jit=True)
    ref = vg(w, b, x, y)
    fns = variants(vg, srcdiff.source(vg))
    fns["one read of x (a vectorised sum)"] = lambda w, b, x, y: read_once(x)
    for label, f in fns.items():
        got = f(w, b, x, y)
        if label.startswith("rows_dot | loop | rows_add"):
            C.check_close(label, got, ref)
    times = {label: [] for label in fns}
    load = os.getloadavg()
    for _ in range(args.repeats):
        for label, f in fns.items():
            t = time.perf_counter()
            f(w, b, x, y)
            times[label].append(time.perf_counter() - t)
    print(f"N={args.N}, D={args.D}, {args.repeats} calls each, interleaved; load average "
          f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| rows_dot | rows' loop | rows_add | best | median |\n|---|---|---|---:|---:|")
    for label, ts in times.items():
        cells = label.split(" | ") if " | " in label else [label, "", ""]
        ms = np.array(ts) * 1e3
        print(f"| {' | '.join(c.strip() for c in cells)} | {ms.min():.3f} ms | {np.median(ms):.3f} ms |")


if __name__ == "__main__":
    main()
