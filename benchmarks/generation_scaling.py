"""Generation time against program size: straight-line functions of 10 / 50 / 200 / 1000 statements,
a function of twenty loops with nested loops and branches (and functions of 5 / 10 / 20 / 40 such loops:
--loop-sizes), and straight-line functions of 10 / 50 / 200 / 1000 element writes (`u[i] = ...`).

Each straight-line program is realistic NumPy: elementwise math on vectors and scalars, reductions,
and reuse of earlier values (every statement reads one or two values computed before it). The loop
program has --loops (default 20) blocks, each a loop over the vector holding a data-dependent if/else
and an inner loop, with scalar and vector state carried from block to block.

The time is srcdiff's source generation alone (parse -> transforms -> the source Numba would compile,
no Numba compile) as the first call of `srcdiff.grad(f, jit=True)` with vectors x, y and a float a
generates it (specialised to the arguments' kinds; --generic: without them, as before any call), the
median of --repeats builds in this process, as wall time and as this process's
CPU time (on a shared machine the CPU time is the steadier figure). The printed exponent is the slope of
log(time) against log(statements) fitted over the straight-line sizes (1 = linear). With --jit, the
time to the first jitted gradient of the loop program (generation + Numba compile, a fresh process and
an empty cache) is measured too. The loop programs of --loop-sizes blocks have their own exponent: a pass that
walks the whole function once per loop (the row tapes' dead restores, the carried values of the reverse pass, the
log-domain products' tapes did, until 2026-11-27: 40 loops took 2.8 s, 20 loops 1.0 s) shows there as k near 2.
The nested-loop programs (--depths, their own exponent) nest d loops (each level a little arithmetic, a branch and
an element write: the program grows linearly with d); a pass that looks at each loop's whole body grows with d
squared there, and the dead-code pass's liveness, which found each loop's fixpoint again per iteration of the loops
around it, grew as 3 ** d (depth 8: 2.4 s, until 2026-11-28).
The element-write programs (--writes, their own exponent) write elements
of two buffers, each write reading earlier elements: each write is a statement of its own for every pass
(a subscript store, its index's bounds, its adjoint's element update), which straight-line arithmetic on
whole vectors is not.

    python benchmarks/generation_scaling.py [--sizes 10,50,200,1000] [--repeats 3] [--loops 20] [--jit]
                                            [--loop-sizes 5,10,20,40] [--writes 10,50,200,1000] [--generic]
                                            [--depths 1,2,4,8] [--json PATH] [--quick]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
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


def loops_source(k: int) -> str:
    """The source of `f(x, y, a)`: k loop blocks over x, each with a data-dependent branch and an inner
    loop, carrying a scalar `s` and a vector `v` from block to block."""
    lines = [f"def loops_{k}(x, y, a):", "    s = 0.0", "    v = y * 1.0"]
    for b in range(k):
        i, j = f"i{b}", f"j{b}"
        lines += [f"    for {i} in range(x.shape[0]):",
                  f"        if x[{i}] * a > {0.1 * (b % 3):.1f}:",
                  f"            s = s + np.tanh(x[{i}] * a) * v[{i}]",
                  "        else:",
                  f"            s = s - 0.5 * (x[{i}] - v[{i}]) ** 2",
                  f"        for {j} in range(2):",
                  f"            s = s + 0.1 * np.sin(s * y[{j}])",
                  "    v = 0.9 * v + 0.1 * np.cos(x * s)"]
    lines.append("    return s + np.sum(v * v)")
    return "\n".join(lines) + "\n"


def writes_source(n: int, seed: int = 0) -> str:
    """The source of `f(x, y, a)`: n element writes (`u[i] = ...`, `w[i] = ...`) into two buffers the length
    of x, each reading earlier elements of the buffers, an element of x or y and the scalar a (indices 0 to
    4: the benchmark's vectors have 5 elements), returning a scalar."""
    rng = np.random.default_rng(seed)
    lines = [f"def writes_{n}(x, y, a):", "    u = np.zeros(x.shape[0])", "    w = y * 1.0"]
    for k in range(n):
        i, j, m = (int(rng.integers(0, 5)) for _ in range(3))
        buf, other = ("u", "w") if k % 2 == 0 else ("w", "u")
        kind = int(rng.integers(0, 4))
        if kind == 0:
            expr = f"np.tanh({other}[{j}] * a) + 0.5 * x[{m}]"
        elif kind == 1:
            expr = f"{buf}[{j}] * 0.9 + np.sin(x[{m}]) * {other}[{i}]"
        elif kind == 2:
            expr = f"np.exp(-0.1 * {other}[{j}] ** 2) - y[{m}] * a"
        else:
            expr = f"0.5 * ({buf}[{j}] + {other}[{m}]) + x[{i}] * y[{j}]"
        lines.append(f"    {buf}[{i}] = {expr}")
    lines.append("    return np.sum(u * w) + a")
    return "\n".join(lines) + "\n"


def depth_source(d: int) -> str:
    """The source of `f(x, y, a)`: loops nested d deep (the outer one over x, each inner one over two rows), each
    level computing a scalar from the index, a data-dependent if/else on it, and an element write into a buffer,
    carrying a scalar `s` through every level."""
    lines = [f"def depth_{d}(x, y, a):", "    s = 0.0", "    u = np.zeros(x.shape[0])"]
    for k in range(d):
        pad, i = "    " * (k + 1), f"i{k}"
        lines.append(f"{pad}for {i} in range({'x.shape[0]' if k == 0 else '2'}):")
        pad += "    "
        index = f"x[{i}]" if k == 0 else f"y[{i}]"
        previous = f" + 0.1 * t{k - 1}" if k else ""
        lines += [f"{pad}t{k} = {index} * a{previous}",
                  f"{pad}if t{k} > {0.1 * (k % 3):.1f}:",
                  f"{pad}    s = s + np.tanh(t{k}) * 0.5",
                  f"{pad}else:",
                  f"{pad}    s = s - 0.5 * t{k} ** 2",
                  f"{pad}u[{i}] = u[{i}] + 0.1 * s * t{k}"]
    lines.append("    return s + np.sum(u * u)")
    return "\n".join(lines) + "\n"


def load_program(n: int, directory: str, loops: bool = False, writes: bool = False, depth: bool = False):
    name = f"loops_{n}" if loops else f"writes_{n}" if writes else f"depth_{n}" if depth else f"straight_{n}"
    path = os.path.join(directory, f"{name}.py")
    source = (loops_source(n) if loops else writes_source(n) if writes else depth_source(n) if depth
              else program_source(n))
    with open(path, "w") as fh:
        fh.write("import numpy as np\n\n\n" + source)
    ns = {}
    code = compile(open(path).read(), path, "exec")
    exec(code, ns)
    return ns[name]


def generate(fn, generic: bool = False) -> str:
    """fn's gradient source as `srcdiff.grad(fn, wrt=(0, 1, 2), jit=True)` generates it on its first call
    with vectors x, y and a float a (srcdiff/api.py `specialise`: the module specialised to the arguments'
    kinds and axes, the Numba check, the jitted source); `generic`: the module without argument kinds (as
    `srcdiff.source` shows before any call)."""
    from srcdiff import module_builder
    from srcdiff.transforms import checks, dims, kinds
    if generic:
        return module_builder.build_module(fn, ["x", "y", "a"], "grad").source(jit=True)
    args = (np.ones(5), np.ones(5), 0.3)
    arg_kinds = tuple(kinds.kind_of_value(v) for v in args)
    mod = module_builder.build_module(fn, ["x", "y", "a"], "grad", arg_kinds, {}, dims.label_arguments(args))
    checks.check_numba(mod, arg_kinds)
    return mod.source(jit=True)


def generation_time(fn, generic: bool = False) -> tuple:
    """(wall, CPU) seconds of `generate(fn, generic)`."""
    w, c = time.perf_counter(), time.process_time()
    generate(fn, generic)
    return time.perf_counter() - w, time.process_time() - c


def fitted_exponent(sizes, times) -> float:
    lx = [math.log(s) for s in sizes]
    ly = [math.log(t) for t in times]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


_FIRST_JIT = """
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, {bench!r})
import numpy as np
import generation_scaling as gs
import srcdiff
fn = gs.load_program({k}, {d!r}, loops=True)
rng = np.random.default_rng(0)
x, y, a = rng.normal(size=5), rng.normal(size=5), 0.3
t1 = time.perf_counter()
g = srcdiff.grad(fn, wrt=(0, 2), jit=True)(x, y, a)
t2 = time.perf_counter()
ref = srcdiff.grad(fn, wrt=(0, 2))(x, y, a)
assert np.allclose(g[0], ref[0]) and np.isclose(g[1], ref[1]), (g, ref)
print(t2 - t1)
"""


def first_jitted_call(k: int, directory: str) -> float:
    """Seconds from srcdiff.grad(..., jit=True) to the first gradient of the k-loop program, in a fresh
    process with an empty cache directory (checked against the Python backend)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, SRCDIFF_CACHE_DIR=cache)
        out = subprocess.run([sys.executable, "-c", _FIRST_JIT.format(bench=HERE, k=k, d=directory)], env=env,
                             check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def sweep(sizes, what: str, directory: str, args, **program) -> tuple:
    """(wall times, CPU times): the median generation time of the program of each size (load_program's
    `program` options), a table row printed for each."""
    times, cpus = [], []
    for n in sizes:
        fn = load_program(n, directory, **program)
        runs = [generation_time(fn, args.generic) for _ in range(args.repeats)]
        t, c = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        times.append(t)
        cpus.append(c)
        print(f"| {n} {what} | {t:.3f} s | {c:.3f} s | {1e3 * c / n:.2f} ms |", flush=True)
        if args.check:
            check(fn)
    return times, cpus


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10,50,200,1000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loops", type=int, default=20, help="loop blocks of the nested-loops program (0: skip it)")
    p.add_argument("--jit", action="store_true", help="also time the loop program's first jitted call")
    p.add_argument("--check", action="store_true", help="also check one gradient against finite differences")
    p.add_argument("--json", metavar="PATH", help="write summary rows for run_all.py to PATH")
    p.add_argument("--generic", action="store_true",
                   help="time the module without argument kinds (what srcdiff.source shows before any call)")
    p.add_argument("--quick", action="store_true", help="one build per size")
    p.add_argument("--loop-sizes", default="5,10,20,40",
                   help="loop blocks of the loop programs of the loop sweep (loops_source; empty: skip it)")
    p.add_argument("--writes", default="10,50,200,1000",
                   help="sizes of the element-write programs (writes_source; empty: skip them)")
    p.add_argument("--depths", default="1,2,4,8",
                   help="nesting depths of the nested-loop programs (depth_source; empty: skip them)")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 1
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as d:
        print("| program | generation, wall (median) | CPU (median) | CPU per statement |")
        print("|---|---:|---:|---:|")
        generation_time(load_program(10, d), args.generic)   # imports and rule tables, outside the timings
        times, cpus = sweep(sizes, "statements", d, args)
        loop_gen = loop_jit = None
        if args.loops:
            fn = load_program(args.loops, d, loops=True)
            runs = [generation_time(fn, args.generic) for _ in range(args.repeats)]
            loop_gen = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            print(f"| {args.loops} loops with nested loops and branches | {loop_gen[0]:.3f} s | "
                  f"{loop_gen[1]:.3f} s | - |", flush=True)
            if args.check:
                check(fn)
            if args.jit:
                loop_jit = first_jitted_call(args.loops, d)
                print(f"\nfirst jitted call of the {args.loops}-loop program (generation + Numba compile, "
                      f"new process, empty cache): {loop_jit:.2f} s")
        loop_sizes = [int(s) for s in args.loop_sizes.split(",") if s]
        loop_times, loop_cpus = sweep(loop_sizes, "loops with nested loops and branches", d, args, loops=True)
        writes = [int(s) for s in args.writes.split(",") if s]
        write_times, write_cpus = sweep(writes, "element writes", d, args, writes=True)
        depths = [int(s) for s in args.depths.split(",") if s]
        depth_times, depth_cpus = sweep(depths, "levels of nested loops", d, args, depth=True)
    k = kc = None
    if len(sizes) > 1:
        k, kc = fitted_exponent(sizes, times), fitted_exponent(sizes, cpus)
        print(f"\nfitted exponent (time ~ statements^k): k = {k:.2f} (wall), {kc:.2f} (CPU)")
    if len(loop_sizes) > 1:
        print(f"fitted exponent of the loop programs (time ~ loops^k): "
              f"k = {fitted_exponent(loop_sizes, loop_times):.2f} (wall), {fitted_exponent(loop_sizes, loop_cpus):.2f} (CPU)")
    if len(writes) > 1:
        print(f"fitted exponent of the element-write programs (time ~ writes^k): "
              f"k = {fitted_exponent(writes, write_times):.2f} (wall), {fitted_exponent(writes, write_cpus):.2f} (CPU)")
    if len(depths) > 1:
        print(f"fitted exponent of the nested loops (time ~ depth^k; the program grows linearly with depth): "
              f"k = {fitted_exponent(depths, depth_times):.2f} (wall), {fitted_exponent(depths, depth_cpus):.2f} (CPU)")
    print(f"load average after: {os.getloadavg()[0]:.1f}  (noisy on a shared machine: compare sizes within one run)")
    if args.json:
        rows = [{"benchmark": f"generation time, straight-line code, {sizes[0]}-{sizes[-1]} statements",
                 "srcdiff": f"{times[-1]:.2f} s ({cpus[-1]:.2f} s CPU) at {sizes[-1]}",
                 "first call: cold / disk cache": "-", "compared with": "size exponent (1 = linear)",
                 "its time": f"k = {kc:.2f}" if kc is not None else "-", "ratio (its / srcdiff)": "-",
                 "goal": "linear (k < 1.25); 1 000 statements < 2 s (CPU time)",
                 "met": "-" if kc is None or sizes[-1] != 1000 else
                        "yes" if kc < 1.25 and cpus[-1] < 2.0 else "**no**"}]
        if loop_gen is not None:
            rows.append({"benchmark": f"generation time, {args.loops} loops with nested loops and branches",
                         "srcdiff": f"{loop_gen[0]:.2f} s ({loop_gen[1]:.2f} s CPU)",
                         "first call: cold / disk cache": f"{loop_jit:.2f} s / -" if loop_jit else "-",
                         "compared with": "-", "its time": "-", "ratio (its / srcdiff)": "-", "goal": "-",
                         "met": "-"})
        with open(args.json, "w") as fh:
            json.dump({"name": "generation_scaling", "summary": rows}, fh, indent=1)


def check(fn):
    import srcdiff
    rng = np.random.default_rng(1)
    x, y, a = rng.normal(size=5), rng.normal(size=5), 0.3
    g = srcdiff.grad(fn, wrt="a")(x, y, a)
    h = 1e-6
    fd = (fn(x, y, a + h) - fn(x, y, a - h)) / (2 * h)
    print(f"  d/da: srcdiff {g:.8g}, finite differences {fd:.8g}")


if __name__ == "__main__":
    main()
