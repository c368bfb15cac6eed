"""Where Numba spends the first call of a fuzz program's jitted gradient (nested fuzz seed 1008231 by default).

Builds the program the nested fuzzer checks under Numba for the seed (tests/fuzz_runner.program_for, the jit
variant: max_depth=2, max_stmts=3), takes srcdiff.grad of its entry `h` (the gradient of a gradient) with
jit=True in fresh cache directories (the runtime helpers' cache is kept: SRCDIFF_RUNTIME_CACHE_DIR or the
installation's), calls it once and prints: the CPU seconds of that call (process time: the machine may be
loaded), the generated module's size (lines, list pushes, stacks), Numba's pass times of each generated
function (pipeline_times; wall seconds) and, with --llvm, LLVM's own pass timing report (its heaviest passes,
user seconds), then the gradient against the Python backend's.

    python benchmarks/numba_compile_passes.py [--seed 1008231] [--llvm] [--top 12] [--unsplit]

(--unsplit: the gradient compiled as one function, without the compiled form's "parts" pass,
transforms/function_parts.py, for an A/B run of the same code.)

Measured (session 21, load 5-12 on 2 cores, the runtime helpers' cache warm) for 1008231's outer gradient, one
function of 2 291 lines, 226 pushes, 178 stacks: 205.7 s CPU, of Numba's passes (wall) native_lowering 93%
(LLVM: 88% of the compile under its lock), type inference 2.8%, ReconstructSSA 2.5%. LLVM's time grows faster
than the function: the same construct repeated 80 and 240 times in one function (a list push and pop of an
array; an array expression in a loop) took 6.1 and 44.9 s CPU, 6.4 and 40.7 s (exponent about 1.8); the
heaviest passes were MemCpyOpt and SROA for the stacks, the loop passes for the expressions.

Since session 22 a function of more than 600 statements is compiled in parts (transforms/function_parts.py: its
large loops and branches as functions of their own, each its own LLVM module, called by symbol, without Numba's
CPython wrappers): 1008231's outer gradient and 1031034's are split into 15-20 and 8 functions; measured on the
same code with and without the pass (--unsplit), see benchmarks/README.md "First call of very large gradients".
"""
import argparse
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1008231)
    ap.add_argument("--llvm", action="store_true", help="LLVM's pass timing report (slows the compile)")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--unsplit", action="store_true", help="compile the gradient as one function (no parts)")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="srcdiff_compile_passes_")
    os.environ["SRCDIFF_CACHE_DIR"] = os.path.join(tmp, "cache")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
    import numpy as np
    import fuzz_runner
    import fuzzgen
    import srcdiff
    if args.unsplit:
        from srcdiff.transforms import function_parts
        function_parts.LIMIT = 10 ** 9
    features = [f for f in fuzzgen.ALL_FEATURES if f not in fuzzgen.PYTHON_ONLY]
    prog = fuzz_runner.program_for(args.seed, True, features, max_depth=2, max_stmts=3)
    mod = prog.load(tmp, f"compile_{args.seed}")
    call_args = prog.args(np.random.default_rng(args.seed))
    if args.llvm:
        import llvmlite.binding as llvm
        llvm.set_time_passes(True)
    g = srcdiff.grad(mod.h, wrt=prog.wrt, jit=True)
    c0, w0 = time.process_time(), time.time()
    got = g(*fuzzgen._copy(call_args))
    cpu, wall = time.process_time() - c0, time.time() - w0
    src = srcdiff.source(g)
    print(f"seed {args.seed}: first call {cpu:.1f} s CPU ({wall:.1f} s wall); generated {src.count(chr(10))} lines, "
          f"{src.count('.append(')} pushes, {len(set(re.findall(r'(\\w+_stack\\d*) = ', src)))} stacks")
    _pipeline_times(g, args.top)
    if args.llvm:
        _llvm_report(args.top)
    want = srcdiff.grad(mod.h, wrt=prog.wrt, jit=False)(*fuzzgen._copy(call_args))
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(got, want))
    print(f"Numba vs Python: max difference {diff:.3g}")


def _pipeline_times(g, top):
    import gc
    from numba.core.registry import CPUDispatcher
    for o in gc.get_objects():
        if not isinstance(o, CPUDispatcher) or "srcdiff" + os.sep + "runtime" in o.py_func.__code__.co_filename:
            continue
        for cres in o.overloads.values():
            for pipe, passes in ((cres.metadata or {}).get("pipeline_times") or {}).items():
                total = sum(v.run for v in passes.values())
                if total < 1.0:
                    continue
                heavy = sorted(((v.run, k.split("_", 1)[-1]) for k, v in passes.items()), reverse=True)[:top]
                print(f"{o.py_func.__name__} ({pipe}): {total:.1f} s wall in Numba's passes")
                for t, name in heavy:
                    print(f"    {t:8.1f}  {name}")


def _llvm_report(top):
    import llvmlite.binding as llvm
    lines = llvm.report_and_reset_timings().splitlines()
    rows = [ln for ln in lines if "%)" in ln and "Total" not in ln]
    print("LLVM passes (user seconds, all functions):")
    for ln in rows[:top]:
        print("   ", ln.strip())


if __name__ == "__main__":
    main()
