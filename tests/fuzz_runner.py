"""Long-mode fuzz driver (tests/test_fuzz.py test_fuzz_long): programs run in a child process
that the parent kills when one runs past its time limit (a hang in Numba-compiled code cannot be
interrupted from inside the process), so hangs are counted like any other failure.

Outcomes, counted separately: ok (every oracle agreed), skip (f not finite or no smooth point for
finite differences, the other oracles passed), declined (a SrcdiffError: srcdiff refused clearly),
wrong (an oracle disagreed: tests/fuzzgen.check_program), hang (past the time limit), crash (any
other exception: an internal error, Numba typing failure, ...), badprog (the generated program
failed in plain Python: a generator bug).

    python tests/fuzz_runner.py --seeds 0 2000 [--jit-every 10] [--nested] [--timeout 60] [--out DIR] [--recycle 200]

runs the same loop as long mode from the command line.

    python tests/fuzz_runner.py --parallel --seeds 1023000 1023200

runs value_and_grad under jit="parallel" instead, its loops over rows in two chunks on two threads (the children's
environment lowers the row chunks' threshold: tests/fuzz_parallel.py), against jit=True and central differences;
the summary counts how the chunks ran ('threads': an rt.prange loop; 'one thread'; 'none': no row-blocked loop).

    python tests/fuzz_runner.py --cuda [--device] --seeds 0 300

runs the CUDA oracles instead (tests/fuzz_cuda.py: srcdiff.cuda.vmap of grad / value_and_grad / jvp / hvp
against the CPU derivative of each example) on numba's CUDA simulator: the child processes get
NUMBA_ENABLE_CUDASIM=1 (no GPU needed; Python backend only, --jit-every is ignored). 'declined' is a
SrcdiffError from vmap (a limit of the CUDA target); the summary counts the decline reasons, and each declined
program is saved to --out (declined_SEED_cuda.py, its reason on line 2) as the plain runner saves its declines. --device
generates only fuzz_cuda.DEVICE_FEATURES (programs that mostly reach the kernel). With SRCDIFF_FUZZ_CUDA_PTX=1
the children run without the simulator: on a machine with a GPU the kernels run on it (result buffers
start as NaN, so a result a kernel fails to write is a disagreement: fuzz_cuda.nan_outputs), elsewhere each
kernel is compiled to PTX (numba-cuda's typing), not run.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
OUTCOMES = ("ok", "skip", "declined", "wrong", "hang", "crash", "badprog")


def classify(exc) -> str:
    import fuzzgen
    import srcdiff
    cause = exc
    while cause is not None:    # a Hang raised inside Numba's compiler reaches us wrapped in a SrcdiffError
        if isinstance(cause, fuzzgen.Hang):
            return "hang"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, fuzzgen.Hang):
        return "hang"
    if isinstance(exc, fuzzgen.BadProgram):
        return "badprog"
    if isinstance(exc, (fuzzgen.Wrong, AssertionError)):
        return "wrong"
    if isinstance(exc, srcdiff.errors.FailedOnArguments):   # fuzz programs run on their arguments: the
        return "crash"                                       # generated code failing on them is srcdiff's
    if isinstance(exc, srcdiff.SrcdiffError):
        return "declined"
    return "crash"


def _excluded():
    """SRCDIFF_FUZZ_EXCLUDE=feat,feat: leave features out (to look past a known bug)."""
    return set(filter(None, os.environ.get("SRCDIFF_FUZZ_EXCLUDE", "").split(",")))


def program_for(seed: int, nested: bool = False, features=None, **size):
    import fuzzgen
    if nested:   # known declines and bugs of reverse over reverse (fuzzgen.NESTED_EXCLUDE says which)
        features = [f for f in (features or fuzzgen.ALL_FEATURES) if f not in fuzzgen.NESTED_EXCLUDE]
    prog = fuzzgen.seeded_program(seed, features, **size)
    return fuzzgen.penalty_program(prog) if nested else prog


def _checked(check):
    """("ok", "", what check() returned), or (outcome, message, None) where it raised: "skip" for
    fuzzgen.Skip, else classify's outcome (KeyboardInterrupt aside, every failure is a result); warnings off."""
    import fuzzgen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", "", check()
        except fuzzgen.Skip:
            return "skip", "", None
        except BaseException as exc:  # noqa: B902
            if isinstance(exc, KeyboardInterrupt):
                raise
            return classify(exc), f"{type(exc).__name__}: {exc}", None


def run_one(prog, name: str, workdir: str, jit: bool, seed: int, nested=False, timeout=None):
    """(outcome, message) of fuzzgen.check_program on one program, in this process."""
    import fuzzgen
    # under jit the limit covers Numba compiling grad, jvp and the checkpointed variant: a slow
    # compile (tens of seconds for some 40-line programs) is a first-call cost, not a hang
    limit = timeout * (3 if jit else 1) if timeout else timeout
    outcome, msg, _ = _checked(lambda: fuzzgen.check_program(prog.load(workdir, name), prog, jit, seed,
                                                             entry="h" if nested else "f", timeout=limit))
    return outcome, msg


def run_cuda(prog, name: str, workdir: str, seed: int, timeout=None):
    """(outcome, message, {oracle: outcome}) of tests/fuzz_cuda.py's oracles on one program, in this process
    (NUMBA_ENABLE_CUDASIM=1 set before numba.cuda was imported)."""
    import fuzz_cuda
    outcome, msg, results = _checked(lambda: fuzz_cuda.check_cuda(prog.load(workdir, name), prog, seed,
                                                                  timeout=timeout))
    if results is None:
        return outcome, msg, {}
    outcome, msg = fuzz_cuda.worst(results)
    reasons = [fuzz_cuda.reason(m) for o, m in results.values() if o == "declined"]
    return outcome, msg, {"oracles": {k: o for k, (o, _) in results.items()}, "reasons": reasons}


def run_parallel(seed: int, workdir: str, timeout=None):
    """(outcome, message, {"chunks": how they ran}) of fuzz_parallel.check_parallel on seed's program, in this
    process (whose environment is fuzz_parallel.ENV's)."""
    import fuzz_parallel
    prog = fuzz_parallel.program(seed)
    outcome, msg, how = _checked(lambda: fuzz_parallel.check_parallel(prog.load(workdir, f"par_{seed}"), prog, seed,
                                                                      timeout=timeout))
    return outcome, msg, ({"chunks": how} if outcome == "ok" else {})


def _worker(args):
    sys.path.insert(0, HERE)
    import fuzzgen
    if args.parallel:
        for count, seed in enumerate(range(args.seed0, args.seed1)):
            if count and args.recycle and count % args.recycle == 0:
                print(json.dumps({"recycle": seed}), flush=True)
                return
            print(json.dumps({"start": seed, "jit": "parallel"}), flush=True)
            # (3x the time limit, as under jit: Numba compiles jit=True's code and the threads' loop)
            outcome, msg, extra = run_parallel(seed, args.workdir, args.timeout * 3 if args.timeout else None)
            print(json.dumps({"seed": seed, "jit": "parallel", "outcome": outcome, "msg": msg[:2000], **extra}),
                  flush=True)
        return
    if args.cuda:
        for count, seed in enumerate(range(args.seed0, args.seed1)):
            if count and args.recycle and count % args.recycle == 0:
                print(json.dumps({"recycle": seed}), flush=True)
                return
            ptx = os.environ.get("SRCDIFF_FUZZ_CUDA_PTX") == "1"
            print(json.dumps({"start": seed, "jit": ptx}), flush=True)
            # (with the kernels compiled by numba-cuda, as under jit: 3x the time limit for the compiles; an hvp
            # kernel of seed 951000 takes 33 s of CPU to PTX alone)
            limit = args.timeout * (3 if ptx else 1) if args.timeout else args.timeout
            outcome, msg, extra = run_cuda(program_for(seed, features=program_features(True, args.device)), f"cuda_{seed}",
                                           args.workdir, seed, timeout=limit)
            print(json.dumps({"seed": seed, "jit": False, "outcome": outcome, "msg": msg[:2000], **extra}),
                  flush=True)
        return
    features = [f for f in fuzzgen.ALL_FEATURES if f not in _excluded()]
    for count, seed in enumerate(range(args.seed0, args.seed1)):
        if count and args.recycle and count % args.recycle == 0:   # a fresh process: bounded memory, speed
            print(json.dumps({"recycle": seed}), flush=True)
            return
        prog = program_for(seed, args.nested, features)
        jits = (False, True) if args.jit_every and seed % args.jit_every == 0 else (False,)
        for jit in jits:
            if jit:
                jprog = program_for(seed, args.nested, [f for f in features if f not in fuzzgen.PYTHON_ONLY],
                                    max_depth=2, max_stmts=3)
            p = jprog if jit else prog
            print(json.dumps({"start": seed, "jit": jit}), flush=True)
            outcome, msg = run_one(p, f"long_{seed}_{'jit' if jit else 'py'}", args.workdir, jit, seed,
                                   args.nested, timeout=args.timeout)
            print(json.dumps({"seed": seed, "jit": jit, "outcome": outcome, "msg": msg[:2000]}), flush=True)


def program_features(cuda=False, device=False):
    """The generator's features: all but those excluded (SRCDIFF_FUZZ_EXCLUDE), for the CUDA oracles without
    the Python-only ones and those srcdiff.cuda declines (fuzz_cuda.HOST_ONLY), or (device)
    fuzz_cuda.DEVICE_FEATURES only."""
    import fuzz_cuda
    import fuzzgen
    return [f for f in (fuzz_cuda.DEVICE_FEATURES if device else fuzzgen.ALL_FEATURES)
            if f not in _excluded() and not (cuda and (f in fuzzgen.PYTHON_ONLY or f in fuzz_cuda.HOST_ONLY))]


def run_long(seed0: int, count: int, budget=float("inf"), jit_every=10, nested=False, out=None, timeout=60,
             log=print, recycle=200, cuda=False, device=False, parallel=False):
    """Run seeds seed0 .. seed0+count-1 in child processes; returns (stats, failures, out dir).
    A program past `timeout` seconds of CPU time (x3 under jit, for Numba's compiles) is a hang, and a child
    that stays silent well past that is killed: that program is a hang too.
    Each child runs at most `recycle` seeds, then the next starts fresh (a process that compiles thousands
    of programs grows by about 1 GB per 500 and slows down). `parallel`: jit="parallel" (fuzz_parallel.py)."""
    out = out or tempfile.mkdtemp(prefix="srcdiff_fuzz_fail_")
    os.makedirs(out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="srcdiff_fuzz_long_")
    stats = {k: 0 for k in OUTCOMES}
    stats_reasons = {}                 # (cuda) decline reason -> programs
    stats_oracles = {}                 # (cuda) oracle -> outcome -> programs
    stats_chunks = {}                  # (parallel) how the chunks ran -> programs
    failures = []
    t0 = time.time()
    seed, end = seed0, seed0 + count
    done = 0
    while seed < end and time.time() - t0 < budget:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--seeds", str(seed), str(end),
               "--jit-every", str(jit_every), "--timeout", str(timeout), "--workdir", workdir,
               "--recycle", str(recycle)] + \
              (["--nested"] if nested else []) + (["--cuda"] if cuda else []) + (["--device"] if device else []) + \
              (["--parallel"] if parallel else [])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.dirname(HERE), HERE, os.environ.get("PYTHONPATH", "")]))
        if parallel:
            sys.path.insert(0, HERE)
            import fuzz_parallel
            env.update(fuzz_parallel.ENV)        # (read when the child imports srcdiff)
        if cuda and os.environ.get("SRCDIFF_FUZZ_CUDA_PTX") != "1":
            env["NUMBA_ENABLE_CUDASIM"] = "1"      # before the child imports numba.cuda
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        current = None
        last, last_cpu = time.time(), 0.0
        while True:
            if time.time() - t0 > budget:
                child.kill()
                child.wait()
                seed = end
                break
            # backstop (the child limits itself in CPU time, but not inside Numba's compiler): the child's
            # CPU time since its last answer past the limit, or wall time past four times it (a child that
            # waits without using the CPU); on a loaded machine wall time alone called slow compiles hangs
            limit = timeout * (6 if current and current["jit"] else 2) + 60
            ready, _, _ = select.select([child.stdout], [], [], 5.0)
            if not ready:
                cpu = _cpu_seconds(child.pid)
                if current and (cpu - last_cpu > limit or time.time() - last > 4 * limit):
                    child.kill()
                    child.wait()
                    res = {"seed": current["start"], "jit": current["jit"], "outcome": "hang",
                           "msg": f"no answer in {cpu - last_cpu:.0f} s CPU, {time.time() - last:.0f} s wall "
                                  "(child killed)"}
                    _record(res, stats, failures, out, nested, log, cuda, device, parallel)
                    done += 1
                    seed = current["start"] + 1
                    break
                continue
            line = child.stdout.readline()
            if not line:                # the child died (a crash of the interpreter itself)
                child.wait()
                if current:
                    res = {"seed": current["start"], "jit": current["jit"], "outcome": "crash",
                           "msg": f"worker process died (exit {child.returncode})"}
                    _record(res, stats, failures, out, nested, log, cuda, device, parallel)
                    seed = current["start"] + 1
                else:
                    seed = end
                break
            last, last_cpu = time.time(), _cpu_seconds(child.pid)
            if not line.startswith("{"):    # not the worker's: a kernel's print(...) on a GPU (its printf
                continue                    # writes to the process's stdout, past Python's redirection)
            msg = json.loads(line)
            if "recycle" in msg:
                child.wait()
                seed = msg["recycle"]
                break
            if "start" in msg:
                current = msg
                continue
            current = None
            for r in set(msg.get("reasons", ())):
                stats_reasons[r] = stats_reasons.get(r, 0) + 1
            for oracle, o in msg.get("oracles", {}).items():
                stats_oracles.setdefault(oracle, {}).setdefault(o, 0)
                stats_oracles[oracle][o] += 1
            if "chunks" in msg:
                stats_chunks[msg["chunks"]] = stats_chunks.get(msg["chunks"], 0) + 1
            _record(msg, stats, failures, out, nested, log, cuda, device, parallel)
            if not msg["jit"] or parallel:
                done += 1
                if done % 100 == 0:
                    log(f"fuzz long: {done} programs in {time.time() - t0:.0f}s: {stats}")
            seed = msg["seed"] + 1 if (cuda or parallel or not jit_every or msg["seed"] % jit_every or msg["jit"]) else msg["seed"]
    if cuda:
        stats["reasons"] = dict(sorted(stats_reasons.items(), key=lambda kv: -kv[1]))
        stats["oracles"] = stats_oracles
    if parallel:
        stats["chunks"] = stats_chunks
    return stats, failures, out, done, time.time() - t0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (Linux /proc; 0.0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _record(res, stats, failures, out, nested, log, cuda=False, device=False, parallel=False):
    import fuzzgen
    stats[res["outcome"]] += 1
    if res["outcome"] in ("ok", "skip"):
        return
    seed, jit = res["seed"], res["jit"]
    first = " | ".join(res["msg"].strip().splitlines()[:3])[:300]
    tag = "cuda" if cuda else "parallel" if parallel else "jit" if jit else "py"
    # a CUDA decline (a documented limit of the target, counted by reason in the summary) is no failure, but its
    # program is saved to `out` like the plain runner's declines, to read what the target declined
    if not (cuda and res["outcome"] == "declined"):
        failures.append(f"seed {seed} {'parallel' if parallel else 'jit' if jit else 'py'} [{res['outcome']}] {first}")
        log("  " + failures[-1])
    features = program_features(cuda, device) if cuda else \
        [f for f in fuzzgen.ALL_FEATURES if not (jit and f in fuzzgen.PYTHON_ONLY) and f not in _excluded()]
    if parallel:
        import fuzz_parallel
        prog = fuzz_parallel.program(seed)
    else:
        prog = program_for(seed, nested, features, **(dict(max_depth=2, max_stmts=3) if jit else {}))
    with open(os.path.join(out, f"{res['outcome']}_{seed}_{tag}.py"), "w") as fh:
        fh.write(prog.header_comment() + f"# {res['outcome']}: {first}\n" + prog.source)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--seeds", nargs=2, type=int, default=(0, 1000))
    ap.add_argument("--jit-every", type=int, default=10)
    ap.add_argument("--nested", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--seconds", type=float, default=float("inf"))
    ap.add_argument("--workdir")
    ap.add_argument("--out")
    ap.add_argument("--recycle", type=int, default=200, help="seeds per child process")
    ap.add_argument("--cuda", action="store_true", help="the CUDA oracles (tests/fuzz_cuda.py) on the simulator")
    ap.add_argument("--device", action="store_true", help="with --cuda: fuzz_cuda.DEVICE_FEATURES only")
    ap.add_argument("--parallel", action="store_true",
                    help='jit="parallel" in chunks on two threads (tests/fuzz_parallel.py) against jit=True and FD')
    args = ap.parse_args(argv)
    sys.path.insert(0, HERE)
    if args.worker:
        args.seed0, args.seed1 = args.seeds
        os.environ.setdefault("SRCDIFF_CACHE_DIR", os.path.join(args.workdir, "cache"))
        _worker(args)
        return
    stats, failures, out, done, secs = run_long(args.seeds[0], args.seeds[1] - args.seeds[0], args.seconds,
                                                args.jit_every, args.nested, args.out, args.timeout,
                                                recycle=args.recycle, cuda=args.cuda, device=args.device,
                                                parallel=args.parallel)
    reasons, oracles, chunks = stats.pop("reasons", {}), stats.pop("oracles", {}), stats.pop("chunks", None)
    print(f"\nfuzz long: {done} programs in {secs:.0f}s: {stats}; failing programs in {out}")
    if chunks is not None:     # (of the ok programs: on threads is the `if chunks > 1:` path, rowchunks.py)
        print(f"  chunks: {chunks.get('threads', 0)} of {stats['ok']} ok programs ran on threads, "
              f"{chunks.get('one thread', 0)} on one thread (the bounds pass kept them off), "
              f"{chunks.get('none', 0)} had no row-blocked loop")
    for oracle, counts in oracles.items():
        print(f"  oracle {oracle}: {counts}")
    if reasons:
        print("decline reasons (programs):")
        for r, k in reasons.items():
            print(f"  {k:5d}  {r}")


if __name__ == "__main__":
    main()
