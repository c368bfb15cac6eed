"""The 'cuda' fuzz oracle: srcdiff.cuda.vmap of a random program's derivatives against the CPU, example by example.

For a generated program f (tests/fuzzgen.py) and its float parameters `wrt`, `check_cuda` draws a batch of B
examples: each parameter either batched along a new axis 0 (each example its own value; x -> (B,), a -> (B, N),
M -> (B, 2, N), n -> B ints in [1, N], flag -> B bools) or broadcast (in_axes None: one value for all), at least
one float parameter batched; a tuple or list parameter (one in three) gets a tuple of entries, one per element, each
0 or None. Keyword-only parameters of f are passed positionally (vmap takes positional
arguments), with their defaults. It then checks, on numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 must be set
before numba.cuda is first imported: tests/fuzz_runner.py --cuda sets it for its child processes):

- 'grad': srcdiff.cuda.vmap(srcdiff.grad(f, wrt=wrt), in_axes=...) == srcdiff.grad(f, wrt=wrt, jit=False) of
  each example;
- 'value' (one program in two): vmap of value_and_grad, value and gradient;
- 'jvp': vmap of srcdiff.jvp(f, wrt=wrt) with a tangent per wrt parameter (batched or not) == the CPU jvp;
- 'hvp' (one program in three): vmap of srcdiff.hvp(f, wrt=wrt) == the CPU hvp;
- 'batch_sum' (one program in four, when 'grad' ran): vmap(..., batch_sum=True) == the sum of the CPU gradients.

each to rounding (rtol 1e-7: the device sums element by element where NumPy sums pairwise). In a process with
neither the simulator nor a GPU, each kernel is compiled to sm_90 PTX instead (numba-cuda's typing and code
generation of the lowered source, which the simulator runs as plain Python): a failure there is a 'crash'. Outcome per oracle:
'ok', 'declined' (vmap raised SrcdiffError: a documented limit of the CUDA target), 'wrong' (a disagreement),
'crash' (any other exception from vmap: an internal error of the lowering, a numba typing failure), 'hang'.
A program whose CPU derivative is declined (SrcdiffError) is 'skip' for that oracle: the CPU fuzzer covers it.

A SrcdiffError whose context is an AttributeError, KeyError, IndexError, TypeError or NameError (the lowering
reports those as 'unsupported on the device: <the error>') is an internal error: 'crash'.

DEVICE_FEATURES (tests/fuzz_runner.py --cuda --device): the generator's features whose programs mostly stay
inside the CUDA target's documented limits (scalar code, loops, branches, fixed-size arrays written in place),
so that most programs reach the kernel; the full feature set measures what the target declines.

Loops: kernels are built with max_trip=MAX_TRIP (fuzz loops run at most a few iterations; a while loop's
trip count is data dependent), so the tapes of while loops are sized without the user's help; one program in five
without it (the tapes sized from the trip counts read off the arguments), and again with it where vmap declines a
loop whose trip count it cannot read off them.
"""
from __future__ import annotations

import contextlib
import inspect
import io
import re
import warnings

import numpy as np

import fuzzgen

B = 3                     # examples per batch (the simulator runs one Python thread per example)
MAX_TRIP = 16
UNKNOWN_TRIP = "is not known before the launch"     # vmap's decline of a loop max_trip= must bound
ORDER = ("wrong", "crash", "hang", "declined", "skip", "ok")     # the worst outcome of a program's oracles wins


DEVICE_FEATURES = ("for", "while", "break", "return", "elif", "continue", "augassign", "chained", "boolops", "ifexp",
                   "intbool", "carried", "mathmod", "globals", "inplace", "loops2", "where", "maximum", "unpack",
                   "computed", "sumarr", "kwentry", "printassert", "walrus", "rows2d",
                   # README: tuple and list arguments, one kernel argument per element (in_axes whole or per element)
                   "tupleargs",
                   # casts to float64 (`.astype(np.float64)`, `.astype(float)`, of a condition): computed as they are
                   "astype")

# features whose programs srcdiff.cuda declines by design, left out of the CUDA oracles' programs
HOST_ONLY = {"dictargs": "srcdiff.cuda takes numbers, arrays, and tuples or lists of them: a dict argument is declined"}


class Draw:
    """One batch: the kernel's arguments, in_axes, and each example's arguments (CPU call)."""

    def __init__(self, prog, f, rng):
        sig = inspect.signature(f).parameters
        self.names = list(sig)
        self.kwonly = [p for p in self.names if sig[p].kind == sig[p].KEYWORD_ONLY]
        floats = [p for p in self.names if p in fuzzgen.FLOAT_PARAMS]
        batched = {p for p in floats if rng.integers(3)}
        if not batched & set(floats):
            batched.add(floats[int(rng.integers(len(floats)))])
        for p in self.names:
            if p not in fuzzgen.FLOAT_PARAMS and not rng.integers(3):
                batched.add(p)
        self.in_axes = tuple(0 if p in batched else None for p in self.names)
        per = [dict(zip(prog.params, prog.args(rng))) for _ in range(B)]
        # README (CUDA): a tuple or list argument's in_axes entry may be a tuple with one entry per element (one
        # tuple argument in three: each element batched or broadcast at random, at least one float batched)
        for k, p in enumerate(self.names):
            if isinstance(per[0].get(p), (tuple, list)) and not rng.integers(3):
                axes = [0 if rng.integers(2) else None for _ in per[0][p]]
                if 0 not in axes and not batched & set(floats) - {p}:
                    axes[int(rng.integers(len(axes)))] = 0
                self.in_axes = self.in_axes[:k] + (tuple(axes),) + self.in_axes[k + 1:]
                batched.discard(p)
        for p in prog.params:
            if p == "n":
                for e in per:
                    e[p] = int(rng.integers(1, prog.N + 1)) if "n" in batched else prog.n
        for p in self.kwonly:
            d = sig[p].default
            for e in per:
                e[p] = bool(rng.integers(2)) if isinstance(d, bool) else \
                    float(rng.uniform(0.5, 1.5) * (1.0 if d is sig[p].empty else d)) if p in batched else d
        for p, ax in zip(self.names, self.in_axes):   # broadcast parameters: example 0's value for every example
            if isinstance(ax, tuple):                  # (element by element)
                for e in per[1:]:
                    e[p] = _rebuild(e[p], [v if a == 0 else v0 for v, v0, a in zip(e[p], per[0][p], ax)])
            elif p not in batched:
                for e in per[1:]:
                    e[p] = per[0][p]
        self.examples = [[e[p] for p in self.names] for e in per]
        self.args = [_stack([e[k] for e in self.examples]) if ax == 0 else
                     _rebuild(self.examples[0][k], [_stack([e[k][j] for e in self.examples]) if a == 0 else
                                                    self.examples[0][k][j] for j, a in enumerate(ax)])
                     if isinstance(ax, tuple) else self.examples[0][k]
                     for k, ax in enumerate(self.in_axes)]

    def cpu_call(self, fn, example, *extra):
        pos = [v for p, v in zip(self.names, example) if p not in self.kwonly]
        kw = {p: v for p, v in zip(self.names, example) if p in self.kwonly}
        return fn(*fuzzgen._copy(pos), *extra, **kw)


def _rebuild(like, items):
    """A tuple, list or namedtuple of the type of `like` holding `items` (a namedtuple takes its fields one by one:
    built from one iterable it failed, a crash of CUDA seeds 1078007 and 1078178 with in_axes per element)."""
    return type(like)(*items) if hasattr(type(like), "_fields") else type(like)(items)


def _stack(values):
    if isinstance(values[0], (tuple, list)):
        return _rebuild(values[0], [_stack([v[j] for v in values]) for j in range(len(values[0]))])
    return np.stack([np.asarray(v) for v in values])


def _leaves(r):
    if isinstance(r, (tuple, list)):
        return [x for e in r for x in _leaves(e)]
    return [np.asarray(r, dtype=float)]


def _compare(got, refs, what, batch_sum=False):
    """got: vmap's result (leaves with a leading batch axis, or summed); refs: the CPU result of each example."""
    want = [np.stack(leaf) for leaf in zip(*[_leaves(r) for r in refs])]
    have = _leaves(got)
    if batch_sum:
        want = [w.sum(axis=0) for w in want]
    if len(have) != len(want):
        raise fuzzgen.Wrong(f"{what}: {len(have)} result leaves, the CPU gives {len(want)}")
    for k, (h, w) in enumerate(zip(have, want)):
        fuzzgen._close(h, w, f"{what} (leaf {k})", 1e-7, 1e-9)


def _random_like(v, rng):
    if isinstance(v, (tuple, list)):
        return _rebuild(v, [_random_like(e, rng) for e in v])
    return float(rng.normal()) if np.ndim(v) == 0 else rng.normal(size=np.shape(v))


def _tangent_draw(draw, wrt, rng):
    """(kernel tangent, its in_axes entry, each example's tangent): one tangent per wrt parameter (a tuple
    parameter: a tuple of tangents), each batched or broadcast at random."""
    kern, axes, per = [], [], [[] for _ in range(B)]
    for k in wrt:
        ax = 0 if rng.integers(2) else None
        ts = [_random_like(draw.examples[0][k], rng) for _ in range(B)] if ax == 0 else \
            [_random_like(draw.examples[0][k], rng)] * B
        kern.append(_stack(ts) if ax == 0 else ts[0])
        axes.append(ax)
        for e, t in zip(per, ts):
            e.append(t)
    many = len(wrt) > 1
    return (tuple(kern) if many else kern[0]), (tuple(axes) if many else axes[0]), \
        [tuple(e) if many else e[0] for e in per]


def _oracle(name, results, fn):
    """Run one oracle, recording (outcome, message) in results[name]."""
    import srcdiff
    try:
        fn()
        results[name] = ("ok", "")
    except fuzzgen.Skip as exc:
        results[name] = ("skip", str(exc))
    except fuzzgen.Hang:
        raise
    except fuzzgen.Wrong as exc:
        results[name] = ("wrong", f"{name}: {exc}")
    except srcdiff.errors.FailedOnArguments as exc:
        results[name] = ("crash", f"{name}: {type(exc).__name__}: {exc}")
    except srcdiff.SrcdiffError as exc:
        if internal(exc):
            results[name] = ("crash", f"{name}: an internal error reported as a decline: {exc} "
                                      f"(from {type(exc.__context__).__name__}: {exc.__context__})")
        else:
            results[name] = ("declined", f"{name}: {exc}")
    except Exception as exc:  # noqa: BLE001 -- every other failure of the lowering is a crash
        results[name] = ("crash", f"{name}: {type(exc).__name__}: {exc}")


def internal(exc) -> bool:
    """A SrcdiffError the lowering raised while handling a Python error of its own (an AttributeError, KeyError,
    ...: the lowering turns those into 'unsupported on the device: ...'): a crash, not a documented limit. The
    lowering's deliberate declines raise SrcdiffError directly, or from ValueError / Unknown with a message."""
    ctx = exc.__context__
    return isinstance(ctx, (AttributeError, KeyError, IndexError, TypeError, NameError, AssertionError,
                            UnboundLocalError))


def _gpu() -> bool:
    from numba import cuda
    return bool(cuda.is_available())


@contextlib.contextmanager
def nan_outputs():
    """On a GPU, kernels' result buffers start as NaN instead of whatever the memory held (cuda.device_array
    does not clear it), so that a result the kernel fails to write shows as a disagreement (tests/ptx_stores.py
    tells the story of one that did)."""
    from numba import cuda
    plain = cuda.device_array
    cuda.device_array = lambda shape, dtype=np.float64, *a, **kw: cuda.to_device(np.full(shape, np.nan, dtype))
    try:
        yield
    finally:
        cuda.device_array = plain


def _cpu(draw, fn, *extras):
    """fn (a CPU transform) of each example; a SrcdiffError there is the CPU's decline: Skip."""
    import srcdiff
    try:
        return [draw.cpu_call(fn, ex, *([e[i] for e in extras])) for i, ex in enumerate(draw.examples)]
    except srcdiff.errors.FailedOnArguments:
        raise
    except srcdiff.SrcdiffError as exc:
        raise fuzzgen.Skip(f"the CPU declined: {exc}") from exc


def max_trip(seed: int):
    """vmap's max_trip= for seed's kernels: one program in five leaves it out, the tapes sized from the trip counts the
    host reads off the arguments (README CUDA: `range(n)` of a batched n, the largest n in the batch), exactly, not
    MAX_TRIP rows (seed % 5 == 3: with each other oracle, which seed % 2, 3, 4 choose)."""
    return None if seed % 5 == 3 else MAX_TRIP


def check_cuda(mod, prog, seed: int, timeout=None, tries: int = 4) -> dict:
    """{oracle: (outcome, message)} of the CUDA oracles on mod.f (see the module docstring)."""
    import srcdiff
    cuda = srcdiff.cuda
    rng = np.random.default_rng(seed + 11)
    runs = cuda.simulator() or _gpu()
    f = mod.f
    wrt = prog.wrt
    results: dict = {}
    with fuzzgen.time_limit(timeout), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
            (nan_outputs() if runs and not cuda.simulator() else contextlib.nullcontext()):
        warnings.simplefilter("ignore")
        for _ in range(tries):
            draw = Draw(prog, f, rng)
            try:
                with np.errstate(all="ignore"):
                    vals = [draw.cpu_call(f, ex) for ex in draw.examples]
            except (fuzzgen.Hang, srcdiff.SrcdiffError):
                raise
            except Exception as exc:
                raise fuzzgen.BadProgram(f"{type(exc).__name__} from the program itself: {exc}") from exc
            if all(np.isfinite(v) and abs(v) < 1e6 for v in vals):
                break
        else:
            raise fuzzgen.Skip
        w = wrt if len(wrt) > 1 else wrt[0]
        trips = max_trip(seed)

        def run(k, args, refs, what, batch_sum=False):
            try:
                if not runs:       # no simulator, no GPU: numba-cuda compiles the kernel to PTX (typing, lowering)
                    if ".target sm_" not in k.ptx(*args, cc=(9, 0)):
                        raise fuzzgen.Wrong(f"{what}: no PTX")
                    return
                _compare(k(*args), refs, what, batch_sum)
            except srcdiff.SrcdiffError as exc:
                if k.max_trip is not None or UNKNOWN_TRIP not in str(exc):
                    raise
                # a loop whose trip count the host cannot read off the arguments (a while loop): README's max_trip=
                run(cuda.vmap(k.g, in_axes=k.in_axes, batch_sum=k.batch_sum, max_trip=MAX_TRIP), args, refs, what,
                    batch_sum)

        def grad():
            refs = _cpu(draw, srcdiff.grad(f, wrt=w, jit=False))
            k = cuda.vmap(srcdiff.grad(f, wrt=w), in_axes=draw.in_axes, max_trip=trips)
            run(k, fuzzgen._copy(draw.args), refs, "vmap(grad) vs grad per example")
            if seed % 4 == 0:
                ks = cuda.vmap(srcdiff.grad(f, wrt=w), in_axes=draw.in_axes, max_trip=trips, batch_sum=True)
                run(ks, fuzzgen._copy(draw.args), refs, "vmap(grad, batch_sum=True) vs the sum of grads",
                    batch_sum=True)

        def value():
            refs = _cpu(draw, srcdiff.value_and_grad(f, wrt=w, jit=False))
            k = cuda.vmap(srcdiff.value_and_grad(f, wrt=w), in_axes=draw.in_axes, max_trip=trips)
            run(k, fuzzgen._copy(draw.args), refs, "vmap(value_and_grad) vs value_and_grad per example")

        def forward(kind):
            make = srcdiff.jvp if kind == "jvp" else srcdiff.hvp
            tk, tax, tper = _tangent_draw(draw, wrt, rng)
            refs = _cpu(draw, make(f, wrt=w, jit=False), tper)
            k = cuda.vmap(make(f, wrt=w), in_axes=draw.in_axes + (tax,), max_trip=trips)
            run(k, fuzzgen._copy(draw.args) + [fuzzgen._copy(tk)], refs, f"vmap({kind}) vs {kind} per example")

        _oracle("grad", results, grad)
        if seed % 2 == 0:
            _oracle("value", results, value)
        _oracle("jvp", results, lambda: forward("jvp"))
        if seed % 3 == 0:
            _oracle("hvp", results, lambda: forward("hvp"))
    return results


def worst(results: dict):
    """(outcome, message) of a program: its worst oracle's."""
    if not results:
        return "skip", ""
    name = min(results, key=lambda k: ORDER.index(results[k][0]))
    return results[name]


def reason(message: str) -> str:
    """A decline message without the oracle's name, file:line, the user's code, names and numbers: what groups
    declines by cause."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = re.sub(r"^(grad|value|jvp|hvp): ", "", first)
    first = re.sub(r"\S+\.py(:\d+)?: ", "", first)
    first = re.sub(r"\b(argument|for|of) \w+", r"\1 NAME", first)
    first = re.sub(r"\([^()]*(\([^()]*\))?[^()]*\) is not fixed", "(NAME) is not fixed", first)
    first = re.sub(r"\w+ changes shape \(.*\)$", "NAME changes shape", first)
    first = re.sub(r"unsupported statement print\(.*", "unsupported statement print(...)", first)
    first = re.sub(r"\b\d+(\.\d+)?\b", "#", first)
    return first[:160]


def main(argv=None):
    """`python tests/fuzz_cuda.py [--perturb] SEED...` (NUMBA_ENABLE_CUDASIM=1 set by the caller): the outcome of
    each device-feature program's CUDA oracles as JSON; --perturb scales every kernel result by 1 + 1e-5 first
    (what tests/test_fuzz.py uses to check that the oracle sees a small error)."""
    import argparse
    import json
    import os
    import sys
    import tempfile
    ap = argparse.ArgumentParser()
    ap.add_argument("--perturb", action="store_true")
    ap.add_argument("seeds", nargs="+", type=int)
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fuzz_runner
    import srcdiff.cuda
    if args.perturb:
        split = srcdiff.cuda.Kernel._split
        srcdiff.cuda.Kernel._split = lambda self, res, p: split(self, res * (1.0 + 1e-5), p)
    workdir = tempfile.mkdtemp(prefix="srcdiff_fuzz_cuda_")
    out = {}
    for seed in args.seeds:
        prog = fuzzgen.seeded_program(seed, DEVICE_FEATURES)
        outcome, msg, extra = fuzz_runner.run_cuda(prog, f"cuda_{seed}", workdir, seed, timeout=120)
        out[seed] = {"outcome": outcome, "msg": msg[:500], **extra}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
