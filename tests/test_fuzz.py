"""Fuzz: random programs (tests/fuzzgen.py) differentiated by both backends vs finite differences.

CI mode (default): hypothesis drives the generator's choices (derandomized, so the run is
reproducible; on a failure hypothesis shrinks the *program*, because choice 0 is always the
simplest option).  200 programs on the Python backend, 16 (smaller) under Numba; ~2 minutes on 2 cores.

Nested mode (CI: 24 programs, Python backend): each program's squared gradient norm is
differentiated, i.e. reverse mode over srcdiff's own generated gradient (fuzzgen.penalty_program).

Long mode, by hand:  SRCDIFF_FUZZ_LONG=10000 [SRCDIFF_FUZZ_SEED=0] [SRCDIFF_FUZZ_SECONDS=900]
[SRCDIFF_FUZZ_JIT_EVERY=10] [SRCDIFF_FUZZ_OUT=dir] [SRCDIFF_FUZZ_NESTED=1] pytest tests/test_fuzz.py -k long -s
runs seeded programs with every feature on (including those CI excludes), stops at the count or
the time budget, writes each failing program to SRCDIFF_FUZZ_OUT and prints a summary.  Under
Numba, programs it cannot type (a value that is a scalar on one path and an array on another, a
loop Numba prunes because its trip count is a literal zero, leaving a tape of unknown type) end in
srcdiff's SrcdiffError "Numba could not compile"; long mode counts those apart as `declined`.

Known compiler bugs, each pinned by a strict-xfail test in tests/test_regressions.py, are kept
out of the CI run: features listed in CI_EXCLUDE are not generated, and failures matching
KNOWN_BUGS are tolerated (counted, not raised).  When a bug is fixed, its regression test
XPASSes (strict) -- then drop the entry here too.
"""
import os
import re
import shutil
import tempfile
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzzgen

# features left out of the CI run (none: early returns were fixed, see test_regressions:
# test_early_return_in_if_with_loop_in_else, test_early_returns_in_two_loops)
CI_EXCLUDE: set = set()
KNOWN_BUGS: list = [
    # (exception type, message regex): tolerated in CI, each with a regression test named here.
    # None now: Numba's "'v_2_1' not unique" was fixed (forward.avoid_version_clashes,
    # test_regressions.test_numba_array_expr_name_clash passes, not xfail)
]

CI_FEATURES = [f for f in fuzzgen.ALL_FEATURES if f not in CI_EXCLUDE]
# features the (16-program) Numba CI run leaves to the Python run and long mode, to keep its compile
# time about what it was before 'logdomain' and 'views' were added ('views' changes the generated
# code, not the runtime, so the Python run covers it; 'logdomain' has Numba-only runtime helpers)
CI_PYTHON_ONLY = {"views"}


def _known(exc) -> bool:
    return any(isinstance(exc, t) and re.search(p, str(exc)) for t, p in KNOWN_BUGS)


@pytest.fixture(scope="module")
def workdir():
    d = tempfile.mkdtemp(prefix="srcdiff_fuzz_")
    old = os.environ.get("SRCDIFF_CACHE_DIR")
    os.environ["SRCDIFF_CACHE_DIR"] = os.path.join(d, "cache")   # keep fuzz modules out of ~/.cache
    yield d
    if old is None:
        os.environ.pop("SRCDIFF_CACHE_DIR", None)
    else:
        os.environ["SRCDIFF_CACHE_DIR"] = old
    shutil.rmtree(d, ignore_errors=True)


_count = {"n": 0}


def _run(data, workdir, jit, nested=False):
    size = dict(max_depth=2, max_stmts=3) if jit or nested else {}   # smaller programs: compiles are slow
    features = [f for f in CI_FEATURES if not (jit and f in CI_PYTHON_ONLY)]
    prog = fuzzgen.Gen(lambda n: data.draw(st.integers(0, n - 1)), features, **size).program()
    prog = fuzzgen.penalty_program(prog) if nested else prog
    _count["n"] += 1
    name = f"fuzz_{'nested' if nested else 'jit' if jit else 'py'}_{_count['n']}"
    mod = prog.load(workdir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fuzzgen.check_program(mod, prog, jit, seed=_count["n"], entry="h" if nested else "f")
        except fuzzgen.Skip:
            pass
        except Exception as exc:
            if _known(exc):
                return
            raise AssertionError(f"{type(exc).__name__}: {exc}\n--- program ({name}.py) ---\n{prog.source}") from exc


_SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])


@settings(max_examples=200, **_SETTINGS)
@given(data=st.data())
def test_fuzz_python(data, workdir):
    _run(data, workdir, jit=False)


# reverse over reverse: the gradient of each program's squared gradient norm (Python backend)
@settings(max_examples=24, **_SETTINGS)
@given(data=st.data())
def test_fuzz_nested(data, workdir):
    _run(data, workdir, jit=False, nested=True)


# no shrinking under Numba: every shrink step is a compile (minutes); the failing program is printed,
# rerun it by hand or shrink it on the Python backend
@settings(max_examples=16, phases=[Phase.explicit, Phase.generate], **_SETTINGS)
@given(data=st.data())
def test_fuzz_numba(data, workdir):
    _run(data, workdir, jit=True)


@pytest.mark.skipif(not os.environ.get("SRCDIFF_FUZZ_LONG"), reason="long mode: set SRCDIFF_FUZZ_LONG=<count>")
def test_fuzz_long(workdir):
    count = int(os.environ["SRCDIFF_FUZZ_LONG"])
    seed0 = int(os.environ.get("SRCDIFF_FUZZ_SEED", "0"))
    budget = float(os.environ.get("SRCDIFF_FUZZ_SECONDS", "inf"))
    jit_every = int(os.environ.get("SRCDIFF_FUZZ_JIT_EVERY", "10"))
    nested = bool(os.environ.get("SRCDIFF_FUZZ_NESTED"))
    out = os.environ.get("SRCDIFF_FUZZ_OUT") or tempfile.mkdtemp(prefix="srcdiff_fuzz_fail_")
    os.makedirs(out, exist_ok=True)
    stats = {"ok": 0, "skip": 0, "known": 0, "declined": 0, "fail": 0}
    failures = []
    t0 = time.time()
    done = 0
    for seed in range(seed0, seed0 + count):
        if time.time() - t0 > budget:
            break
        done += 1
        if done % 250 == 0:     # progress, so a run stopped by hand still tells how far it got
            print(f"fuzz long: {done} programs in {time.time() - t0:.0f}s: {stats}", flush=True)
        prog = fuzzgen.seeded_program(seed)
        prog = fuzzgen.penalty_program(prog) if nested else prog
        for jit in (False, True) if jit_every and seed % jit_every == 0 else (False,):
            name = f"long_{seed}_{'jit' if jit else 'py'}"
            mod = prog.load(workdir, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fuzzgen.check_program(mod, prog, jit, seed, entry="h" if nested else "f")
                    stats["ok"] += 1
                except fuzzgen.Skip:
                    stats["skip"] += 1
                except Exception as exc:
                    key = "known" if _known(exc) else "fail"
                    if jit and "Numba could not compile" in str(exc):
                        key = "declined"   # a clear SrcdiffError; see the note on Numba-declined programs
                    stats[key] += 1
                    first = str(exc).strip().splitlines()[:3]
                    failures.append(f"seed {seed} {'jit' if jit else 'py'} [{key}] {type(exc).__name__}: "
                                    + " | ".join(first)[:240])
                    print("  " + failures[-1], flush=True)
                    with open(os.path.join(out, f"{name}.py"), "w") as fh:
                        fh.write(f"# {type(exc).__name__}: {' | '.join(first)[:400]}\n# N={prog.N}\n"
                                 + prog.source)
    print(f"\nfuzz long: {done} programs (seeds {seed0}..{seed0 + done - 1}) in {time.time() - t0:.0f}s: "
          f"{stats}; failing programs in {out}")
    for line in failures:
        print("  " + line)
    assert stats["fail"] == 0, f"{stats['fail']} failures (see {out})"
