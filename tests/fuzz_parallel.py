"""jit="parallel" under the fuzzer (tests/fuzz_runner.py --parallel, tests/test_fuzz.py).

The fuzzer's programs are far under the size from which a row-blocked loop runs in chunks on threads
(runtime/chunks.py: 2^18 numbers), so jit="parallel" ran them as one chunk, the code jit=True runs. This mode
runs them in child processes whose environment (`ENV`) lowers that size to 1 number and the blocks to 1 row
(SRCDIFF_PARALLEL_MIN, SRCDIFF_BLOCK_ROWS: runtime/chunks.py, runtime/products.py), lets a loaded machine keep
its two threads (SRCDIFF_PARALLEL_LOAD) and gives Numba two: a program whose loss over the rows of `R @ a`
row fusion rewrites (the generator's 'rowloss', fuzzgen.PARALLEL_FEATURES: R is M's rows stacked, 6 or 8 of
them) runs its rows as two chunks on two threads. Row fusion takes the product's matrix as data, so this mode
differentiates the float parameters but M. `check_parallel` compares value_and_grad under jit="parallel" (the transform it switches to
once compiled: background_pair) with jit=True's (to rounding: the chunks add their rows' sums in another
order) and with central differences.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

import fuzzgen

ENV = {"SRCDIFF_PARALLEL_MIN": "1", "SRCDIFF_BLOCK_ROWS": "1", "SRCDIFF_PARALLEL_LOAD": "inf",
       "NUMBA_NUM_THREADS": "2"}


def features() -> list:
    """Numba's features (ALL_FEATURES but the Python-only ones) and the loss over M @ a's rows."""
    return [f for f in fuzzgen.ALL_FEATURES if f not in fuzzgen.PYTHON_ONLY] + list(fuzzgen.PARALLEL_FEATURES)


# every other program: a few statements of these beside the row loss, which row fusion then takes whole more often,
# and the bounds pass proves (a subscript it cannot test leaves the chunks on one thread): of seeds 1502000-1502040,
# 16 of these 20 ran on threads, none of the 20 with every feature (15 on one thread, the bounds pass's)
LEAN = ("where", "maximum", "ifexp", "augassign", "for", "helpers", "closures", "slices", "chained")


def program(seed: int) -> fuzzgen.Program:
    if seed % 2:
        return fuzzgen.seeded_program(seed, list(LEAN) + list(fuzzgen.PARALLEL_FEATURES), max_depth=1, max_stmts=2)
    return fuzzgen.seeded_program(seed, features(), max_depth=2, max_stmts=3)


def check_parallel(mod, prog: fuzzgen.Program, seed: int, timeout=None, tries: int = 4) -> str:
    """How the chunks ran ("threads": an rt.prange loop; "one thread": a loop over the chunks that the bounds
    pass kept off the threads; "none": no row-blocked loop), after checking jit="parallel"'s value and gradient
    against jit=True's and central differences at one point. Raises Skip, Wrong, BadProgram or Hang as
    fuzzgen.check_program does."""
    import numba

    import srcdiff
    f, wrt = mod.f, tuple(k for k in prog.wrt if prog.params[k] != "M")    # (M data: row fusion's x)
    rng = np.random.default_rng(seed)
    with fuzzgen.time_limit(timeout), contextlib.redirect_stdout(io.StringIO()):
        threaded = srcdiff.value_and_grad(f, wrt=wrt, jit="parallel").background_pair()[0]
        plain = srcdiff.value_and_grad(f, wrt=wrt, jit=True)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        for _ in range(tries):
            args = prog.args(rng)
            try:
                with np.errstate(all="ignore"):
                    v = f(*fuzzgen._copy(args))
            except (fuzzgen.Hang, srcdiff.SrcdiffError):
                raise
            except Exception as exc:
                raise fuzzgen.BadProgram(f"{type(exc).__name__} from the program itself: {exc}") from exc
            if not np.isfinite(v) or abs(v) > 1e6:
                continue
            vp, gp = threaded(*fuzzgen._copy(args))
            vj, gj = plain(*fuzzgen._copy(args))
            fuzzgen._close(vp, vj, f'jit="parallel" value vs jit=True at args={args!r}', 1e-9, 1e-12)
            fuzzgen._close(vp, v, f'jit="parallel" value vs f at args={args!r}', 1e-7, 1e-9)
            lv = fuzzgen.leaves(args, wrt)
            for leaf, a, b in zip(lv, fuzzgen.flat_grads(gp, args, wrt), fuzzgen.flat_grads(gj, args, wrt)):
                fuzzgen._close(a, b, f'jit="parallel" d/d{fuzzgen._name(leaf, prog)} vs jit=True at args={args!r}',
                               1e-7, 1e-9)
            for leaf, a in zip(lv, fuzzgen.flat_grads(gp, args, wrt)):
                with np.errstate(all="ignore"):
                    f5, f6 = fuzzgen.fd_grad(f, args, leaf, 1e-5), fuzzgen.fd_grad(f, args, leaf, 1e-6)
                scale = max(1.0, float(np.max(np.abs(f5))))
                if np.all(np.isfinite(f5)) and np.allclose(f5, f6, rtol=1e-4, atol=1e-6 * scale):
                    fuzzgen._close(a, f5, f'jit="parallel" d/d{fuzzgen._name(leaf, prog)} vs finite differences at '
                                   f'args={args!r}', 1e-4, 1e-5)
            source = srcdiff.source(threaded)
            return ("threads" if "rt.prange(" in source else "one thread" if "rt.row_chunks(" in source
                    else "none")
    raise fuzzgen.Skip
