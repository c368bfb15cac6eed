"""Fuzz: random programs (tests/fuzzgen.py) differentiated by srcdiff, checked by several oracles
(fuzzgen.check_program): central finite differences where smooth, value_and_grad's value == f,
jvp == vdot(grad, v) at every finite point (kinks included), hvp (forward over reverse) == central
differences of grad along v where the gradient is smooth, for one program in four an array output around f
(jacobian by jvp and by vjp, and vjp, == central differences), Numba == Python backend, and for the
programs drawn with checkpoints=k (their gradient under test is grad(f, checkpoints=k)) the
checkpointed gradient == the taped one.

Coverage (default run): test_readme_constructs_are_generated parses README.md's "What it handles" ->
Python bullet into phrases (tests/fuzz_constructs.py), requires a detector for each (a new README phrase
without one fails) and requires every construct to occur in a corpus of generated programs;
test_readme_rules_are_generated does the same for the Rules bullet's functions, composites, literals and casts
(tests/fuzz_rules.py parses it: a function README lists that no generated program calls, and that
fuzz_rules.EXCLUDED does not explain, fails).

CI mode (default): hypothesis drives the generator's choices (derandomized, so the run is
reproducible; on a failure hypothesis shrinks the *program*, because choice 0 is always the
simplest option).  Python backend, a small Numba sample, and nested mode (the gradient of each
program's squared gradient norm: reverse mode over srcdiff's own generated gradient).  Each program
runs under signal.alarm (CI_TIMEOUT seconds; a hang fails as fuzzgen.Hang instead of blocking CI).
The README's test command runs a fixed short sample (EXAMPLES: 40 Python, 4 nested, 2 Numba programs);
SRCDIFF_TESTS=full (tests/conftest.py) runs 120, 16 and 8.

Long mode, by hand (programs run in a child process that is killed past its time limit, so hangs in
Numba code count too; tests/fuzz_runner.py):

    SRCDIFF_FUZZ_LONG=10000 python -m pytest tests/test_fuzz.py -k long -s

[SRCDIFF_FUZZ_SEED=0] [SRCDIFF_FUZZ_SECONDS=900] [SRCDIFF_FUZZ_JIT_EVERY=10] [SRCDIFF_FUZZ_OUT=dir]
[SRCDIFF_FUZZ_NESTED=1] [SRCDIFF_FUZZ_TIMEOUT=60]: every feature on (including those CI excludes);
prints ok / skip / declined (a clear SrcdiffError) / wrong / hang / crash / badprog counts, writes each
failing program to SRCDIFF_FUZZ_OUT (with its N, parameters and outcome in a header), fails if any
program was wrong, hung or crashed.

Known compiler bugs are kept out of the CI run: features in CI_EXCLUDE are not generated, and
failures matching KNOWN_BUGS are tolerated.  Each entry points at a reproducer in
tests/fuzz_cases/ (test_fuzz_cases runs them all: strict xfail while listed) -- when a bug is
fixed, drop its entry here and its case's `# xfail:` line.
"""
import ast
import builtins
import functools
import importlib.util
import glob
import os
import re
import shutil
import tempfile
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_constructs
import fuzz_rules
import fuzz_runner
import fuzzgen

# features left out of the CI run, each with the reproducer of the bug it hits (fuzz_findings.md in
# the lead's notes; the minimal programs are in tests/fuzz_cases/)
CI_EXCLUDE: dict = {}   # none: continue (F1), carried values (F5) and nested np.array (F4) are fixed
KNOWN_BUGS: list = []   # (exception type, message regex, reproducer): tolerated in CI; none now

CI_FEATURES = [f for f in fuzzgen.ALL_FEATURES if f not in CI_EXCLUDE]
CI_TIMEOUT = 30          # CPU seconds per program (Python backend); x6 under Numba (compiles)
# hypothesis examples per run: the default run's short sample, or the full sweep (SRCDIFF_TESTS=full)
EXAMPLES = (dict(python=120, nested=16, numba=8) if os.environ.get("SRCDIFF_TESTS", "") == "full"
            else dict(python=40, nested=4, numba=2))


def _known(exc) -> bool:
    return any(isinstance(exc, t) and re.search(p, str(exc)) for t, p, *_ in KNOWN_BUGS)


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


# ---- coverage of README's constructs -------------------------------------------------------------
def test_readme_constructs_are_generated():
    phrases = fuzz_constructs.readme_phrases()
    assert len(phrases) > 20, f"README parse found only {phrases}"
    missing = [p for p in phrases if p not in fuzz_constructs.DETECTORS and p not in fuzz_constructs.NOT_CONSTRUCTS]
    assert not missing, (f"README 'What it handles' -> Python names constructs with no detector in "
                         f"tests/fuzz_constructs.py (and so no generator support checked): {missing}")
    stale = [k for k in fuzz_constructs.DETECTORS if k not in phrases]
    assert not stale, f"detectors for phrases no longer in README: {stale}"
    seen = {}
    for seed in range(300):
        src = fuzzgen.seeded_program(seed).source
        compile(src, f"seed{seed}", "exec")
        for name in fuzz_constructs.detect(src):
            seen[name] = seen.get(name, 0) + 1
    absent = [k for k in list(fuzz_constructs.DETECTORS) + list(fuzz_constructs.EXTRA) if not seen.get(k)]
    assert not absent, f"constructs the generator never produced in 300 programs: {absent}"


def test_readme_device_constructs_are_generated():
    """README's CUDA text is a contract too: each construct it says runs on the device (fuzz_constructs.DEVICE) is
    in the README and in programs of the CUDA fuzzer's device features (fuzz_cuda.DEVICE_FEATURES)."""
    import fuzz_cuda
    with open(fuzz_constructs.README) as fh:
        text = fh.read()
    missing = [k for k in fuzz_constructs.DEVICE if k not in text]
    assert not missing, f"fuzz_constructs.DEVICE phrases no longer in README: {missing}"
    seen = set()
    for seed in range(100):
        tree = ast.parse(fuzzgen.seeded_program(seed, fuzz_cuda.DEVICE_FEATURES).source)
        seen |= {k for k, det in fuzz_constructs.DEVICE.items() if det(tree)}
    assert seen == set(fuzz_constructs.DEVICE), set(fuzz_constructs.DEVICE) - seen


def test_checkpoints_are_generated():
    """README 'Long loops in little memory' is a contract too: the generator draws checkpointed gradients
    (Program.checkpoints, checked by every oracle and against the taped gradient) for loops alone and
    with what that section says works inside them."""
    import ast
    seen = {}
    for seed in range(300):
        prog = fuzzgen.seeded_program(seed)
        if not prog.checkpoints:
            continue
        entry = next(n for n in ast.parse(prog.source).body if isinstance(n, ast.FunctionDef) and n.name == "f")
        loops = [n for n in ast.walk(entry) if isinstance(n, (ast.For, ast.While))]
        inside = [m for n in loops for m in ast.walk(n) if m is not n]
        kinds = {"for over range": any(isinstance(n, ast.For) and ast.unparse(n.iter).startswith("range(")
                                       for n in loops),
                 "while": any(isinstance(n, ast.While) for n in loops),
                 "branch in a loop": any(isinstance(m, ast.If) for m in inside),
                 "break": any(isinstance(m, ast.Break) for m in inside),
                 "inner loop": any(isinstance(m, (ast.For, ast.While)) for m in inside),
                 "element write in a loop": any(isinstance(m, (ast.Assign, ast.AugAssign)) and isinstance(
                     getattr(m, "target", None) or m.targets[0], ast.Subscript) for m in inside),
                 "loop alone": len(loops) == 1 and not any(isinstance(m, ast.If) for m in inside),
                 f"k={prog.checkpoints}": True}
        for k, v in kinds.items():
            seen[k] = seen.get(k, 0) + bool(v)
    want = ["for over range", "while", "branch in a loop", "break", "inner loop", "element write in a loop",
            "loop alone", "k=1", "k=2", "k=3"]
    absent = [k for k in want if not seen.get(k)]
    assert not absent, f"checkpointed programs never had {absent} in 300 programs ({seen})"


def test_module_level_helpers_read_only_module_level_names():
    """Seed 922087 was a 'badprog': the module-level function passed to an integrator (rhs38) read f's
    parameter n through a call of a recursive helper (rec19(u, n)) the expression generator took from f's
    calls. Every module-level function of the generated programs reads only module-level names."""
    import symtable
    for seed in [922087] + list(range(40)):
        src = fuzzgen.seeded_program(seed).source
        ns: dict = {}
        exec(compile(src, f"seed{seed}", "exec"), ns)
        tables = [t for t in symtable.symtable(src, f"seed{seed}", "exec").get_children() if t.get_type() == "function"]
        while tables:
            t = tables.pop()
            tables += t.get_children()
            free = [n for n in t.get_globals() if n not in ns and not hasattr(builtins, n)]
            assert not free, f"seed {seed}: {t.get_name()} reads {free}, not module-level names"


def test_a_loop_else_reads_no_name_bound_after_the_loop():
    """The `for ... else:` block of a range loop whose variable is read after it (`t13 = ... * (i8 + 0.5)`) was drawn
    after t13 was bound, so it could read t13 before any assignment: badprogs 1060092 (jit: UnboundLocalError),
    1060100 (a comprehension in it, NameError: free variable) and a decline of 1060134 ('t73 is read here before
    any assignment'); on the GPU, CUDA device seeds 1073029 and 1074015 (UnboundLocalError). Every name a loop's
    else block reads is bound before the loop ends (a parameter, a module-level name, an assignment above or in the
    loop: a value carried to the next iteration is bound below its read)."""
    import ast
    import numpy as np
    cases = [(1060092, dict(max_depth=2, max_stmts=3), fuzzgen.PYTHON_ONLY), (1060100, {}, ()), (1060134, {}, ())]
    cases += [(seed, {}, ()) for seed in range(1060000, 1060060)]
    for seed, size, left_out in cases:
        features = [f for f in fuzzgen.ALL_FEATURES if f not in left_out]
        tree = ast.parse(fuzzgen.seeded_program(seed, features, **size).source)
        module = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                  and n.col_offset == 0} | {d.name for d in tree.body if isinstance(d, ast.FunctionDef)} \
            | {(a.asname or a.name).split(".")[0] for d in tree.body if isinstance(d, (ast.Import, ast.ImportFrom))
               for a in d.names}
        for fn in (d for d in tree.body if isinstance(d, ast.FunctionDef)):
            first = {a.arg: 0 for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
            for n in ast.walk(fn):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                    first[n.id] = min(first.get(n.id, n.lineno), n.lineno)
                elif isinstance(n, (ast.FunctionDef, ast.Lambda)) and n is not fn:
                    for a in ast.walk(n.args):
                        if isinstance(a, ast.arg):
                            first[a.arg] = min(first.get(a.arg, n.lineno), n.lineno)
            for loop in (n for n in ast.walk(fn) if isinstance(n, (ast.For, ast.While)) and n.orelse):
                for n in (m for e in loop.orelse for m in ast.walk(e)):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in module \
                            and not hasattr(builtins, n.id):
                        assert first.get(n.id, loop.end_lineno + 1) <= loop.end_lineno, \
                            f"seed {seed}: {fn.name}'s loop else at line {n.lineno} reads {n.id}, bound only after it"
    for seed in (1073029, 1074015):     # the CUDA device features' badprogs on an H200: they run in plain Python now
        prog = fuzz_runner.program_for(seed, features=fuzz_runner.program_features(cuda=True, device=True))
        namespace: dict = {}
        exec(compile(prog.source, f"seed{seed}", "exec"), namespace)
        namespace["f"](*prog.args(np.random.default_rng(seed)))


def test_detectors_can_fail():
    """A detector that answers True for everything would make the coverage test vacuous."""
    src = "import numpy as np\n\n\ndef f(x, a, M):\n    return np.sum(a) * x\n"
    found = fuzz_constructs.detect(src)
    assert found <= {"arguments that are floats", "arguments that are floats :: arrays", "matrix argument"}, found


def test_source_oracle_finds_a_lone_line_comment():
    """The 'source' oracle (fuzzgen.lone_line_comments) flags a comment citing a user's line that another
    comment or the block's end follows, and passes one with code under it (fuzz seed 771024 gave a repeated
    `# line 16:` comment before the late copy passes dropped lone comments too)."""
    ok = ("def f_grad(x):\n    # line 3: y = x * x\n    y = x * x\n    if y > 0:\n"
          "        # helper1, line 9: return 2 * y\n        d_y = 2.0\n    return d_y\n")
    assert fuzzgen.lone_line_comments(ok) == []
    doubled = ok.replace("        # helper1", "        # line 4: if y > 0:\n        # helper1")
    assert fuzzgen.lone_line_comments(doubled) == [5]
    at_end = ok.replace("        d_y = 2.0\n", "        d_y = 2.0\n        # line 5: z = y\n")
    assert fuzzgen.lone_line_comments(at_end) == [7]
    bounds = ok.replace("    y = x * x\n", "    # bounds of x[1] (line 3), in the statement below\n    y = x * x\n")
    assert fuzzgen.lone_line_comments(bounds) == []      # another kind of comment between: the code follows
    swept = ok.replace("    return d_y\n", "    # line 7: z = d_y\n    # backward sweep\n    return d_y\n")
    assert fuzzgen.lone_line_comments(swept) == [7]
    # in the backward sweep the gradient's return is no user line's adjoint: a line comment above it is lone
    # (README's simulate showed `# line 6: ys[0] = 0.5` there); in the forward sweep a return can be the code
    returned = "def f_grad(x):\n    # backward sweep\n    d_y = 2.0\n    # line 3: y = 0.5\n    return d_y\n"
    assert fuzzgen.lone_line_comments(returned) == [4]
    assert fuzzgen.lone_line_comments(returned.replace("    # backward sweep\n", "")) == []


def test_source_oracle_finds_an_unread_assignment():
    src = "def f_grad(x):\n    y = x * x\n    t = rec1(x, 2)\n    for k in range(3):\n        pass\n    return y\n"
    assert fuzzgen.unread_assignments(src) == [(3, "t = rec1(x, 2)")]
    assert fuzzgen.unread_assignments(src.replace("return y", "return y + t")) == []
    assert fuzzgen.unread_assignments(src.replace("rec1(x, 2)", "t_stack.pop()")) == []   # keeps the stack in step
    assert fuzzgen.unread_assignments(src.replace("f_grad", "rec1")) == []     # a copy of the user's own function


def test_a_hang_wrapped_in_a_srcdiff_error_counts_as_a_hang():
    """The CPU-time limit can fire inside Numba's compiler, whose failure srcdiff reports as a SrcdiffError:
    the long run must count that program as a hang, not as a clear decline (fuzz seed 125530 under jit)."""
    import srcdiff
    try:
        try:
            raise fuzzgen.Hang("ran past 60s of CPU time")
        except fuzzgen.Hang as hang:
            raise srcdiff.SrcdiffError("Numba crashed compiling the generated code", "f.py", 3) from hang
    except srcdiff.SrcdiffError as exc:
        wrapped = exc
    assert fuzz_runner.classify(wrapped) == "hang"
    assert fuzz_runner.classify(srcdiff.SrcdiffError("declined", "f.py", 3)) == "declined"
    assert fuzz_runner.classify(fuzzgen.Wrong("grad differs")) == "wrong"
    assert fuzz_runner.classify(KeyError("x")) == "crash"


def test_kinds_oracle_catches_a_stale_specialisation():
    """The 'kinds' oracle (fuzzgen._check_kinds) passes a gradient that follows its arguments' values whatever
    their kinds, and fails one that answers float32, non-contiguous or np.int32 arguments from another
    specialisation (here: off by 1%), or that changes the first one's answer."""
    import types

    import numpy as np

    def true_grad(x, a, M, n, flag):
        return (np.sum(a) * n, np.full(np.shape(a), float(x) * n), np.asarray(M, dtype=float) * 2.0)
    args = [0.5, np.array([1.0, -2.0, 0.5]), np.arange(6.0).reshape(2, 3), 3, True]
    prog = types.SimpleNamespace(wrt=(0, 1, 2), params=["x", "a", "M", "n", "flag"], source="")
    flat = list(true_grad(*args))
    fuzzgen._check_kinds(true_grad, flat, args, {}, prog)

    def stale(when):
        calls = []

        def g(x, a, M, n, flag):
            calls.append(1)
            out = true_grad(x, a, M, n, flag)
            wrong = (when == "float32" and getattr(a, "dtype", None) == np.float32 or
                     when == "layout" and not a.flags.c_contiguous or when == "int" and type(n) is np.int32 or
                     when == "again" and len(calls) == 3)
            return (out[0], out[1] * 1.01, out[2]) if wrong else out
        return g
    for when in ("float32", "layout", "int", "again"):
        with pytest.raises(fuzzgen.Wrong):
            fuzzgen._check_kinds(stale(when), flat, args, {}, prog)


def test_a_failure_after_the_time_limit_fired_counts_as_a_hang():
    """The limit's Hang, raised inside Numba's compiler, can be swallowed there; the next call then fails on the
    half-built library ('no compiled object yet', nested fuzz seed 998040 on an empty cache), which the long run
    counted as a decline. An exception after the limit fired is a Hang; one before it stays what it is."""
    import srcdiff

    def spin_then_fail():
        with fuzzgen.time_limit(0.05):
            try:
                while True:
                    sum(range(1000))
            except fuzzgen.Hang:
                pass          # (what Numba's compiler did with it)
            raise srcdiff.SrcdiffError("Numba crashed compiling the generated code", "f.py", 3)

    with pytest.raises(fuzzgen.Hang, match="then SrcdiffError"):
        spin_then_fail()
    with pytest.raises(srcdiff.SrcdiffError):
        with fuzzgen.time_limit(60):
            raise srcdiff.SrcdiffError("declined", "f.py", 3)


def test_readme_parser_sees_a_new_phrase():
    with open(fuzz_constructs.README) as fh:
        text = fh.read()
    text = text.replace("`print` and `assert` stay", "`global` statements; `print` and `assert` stay")
    phrases = fuzz_constructs.readme_phrases(text)
    assert "global statements" in phrases and "global statements" not in fuzz_constructs.DETECTORS


# ---- coverage of README's Rules bullet (functions, composites, literals, casts) -----------------------------
RULES_PROGRAMS = 2000    # generated, not run (about 2.5 s of CPU); every name is drawn by program 1 250


@pytest.fixture(scope="module")
def rules_seen():
    """What RULES_PROGRAMS seeded programs (every feature, the Python-only ones included) use (fuzz_rules.used)."""
    seen = set()
    for seed in range(RULES_PROGRAMS):
        seen |= fuzz_rules.used(fuzzgen.seeded_program(seed).source)
    return seen


def test_readme_rules_are_generated(rules_seen):
    """README 'What it handles' -> Rules is a contract too: every function it lists (backticked, resolved to its
    module: `det` after `np.linalg.inv` is np.linalg.det), every form it shows (`x[..., None]`, `axis=`,
    `np.clip(a=x, min=lo, max=hi)`) and the functions its prose names (the trigonometric functions, the `math`
    versions) is called by generated programs, or fuzz_rules.EXCLUDED says why it cannot be."""
    with open(fuzz_constructs.README) as fh:
        text = fh.read()
    names, forms = fuzz_rules.readme_rule_names(text)
    assert len(names) > 120 and len(forms) > 40, f"README parse found only {names} / {forms}"
    unresolved = [n for n in names if "." not in n and not hasattr(builtins, n)]
    assert not unresolved, f"README Rules names no module has (fuzz_rules.RESOLVE may say where): {unresolved}"
    missing = fuzz_rules.uncovered(text, rules_seen)
    assert not missing, f"README Rules bullet, not generated in {RULES_PROGRAMS} programs: {missing}"
    stale = [k for k in list(fuzz_rules.FORMS) + list(fuzz_rules.EXCLUDED) if k not in forms]
    assert not stale, f"fuzz_rules.FORMS / EXCLUDED entries for spans no longer in README: {stale}"


def test_python_only_rules_stay_out_of_jit_programs():
    """`x @ y` of stacks of matrices (README: jit=False) is generated in Python programs only."""
    assert "stackmatmul" in fuzzgen.PYTHON_ONLY and "stackmatmul" in fuzzgen.ALL_FEATURES
    features = [f for f in fuzzgen.ALL_FEATURES if f not in fuzzgen.PYTHON_ONLY]
    stack = re.compile(r"np\.stack\(\(.*\)\) @ ")
    assert any(stack.search(fuzzgen.seeded_program(seed).source) for seed in range(300))
    assert not any(stack.search(fuzzgen.seeded_program(seed, features).source) for seed in range(300))


def test_a_named_comprehension_longer_than_n_indexes_no_array_by_its_variable(workdir):
    """A named comprehension of vector items over range(3) with N = 2 offered its variable as an index into a
    length-N axis (`[... a[i11] ... for i11 in range(3)]`): IndexError from the program itself (plain seed
    930007, a badprog). Only ranges of at most N items index by their variable."""
    import numpy as np
    prog = fuzzgen.seeded_program(930007)
    assert re.search(r"vals\d+ = \[.* for i\d+ in range\(3\)\]", prog.source), prog.source
    mod = prog.load(workdir, "namedcomp_930007")
    assert np.isfinite(mod.f(*prog.args(np.random.default_rng(0))))


def test_nested_programs_with_python_only_rules_differentiate_a_python_gradient():
    """The penalty h of a program with `x @ y` of stacks (jit=False only) differentiates f's Python gradient: one
    in four took a jitted one, which Numba declined (nested fuzz seed 610257); others still take jitted ones."""
    stack = re.compile(r"np\.stack\(\(.*\)\) @ ")
    jitted = {True: 0, False: 0}
    for seed in range(200):
        prog = fuzzgen.seeded_program(seed)
        assert prog.python_only == bool(stack.search(prog.source))
        jitted[prog.python_only] += "jit=True" in fuzzgen.penalty_program(prog).source
    assert jitted[True] == 0 and jitted[False] > 0


def test_nested_programs_use_each_inner_transform():
    """README (Transforms): a function may call a srcdiff transform and use its gradient, the (value, gradient) pair
    of value_and_grad or the pair of jvp; the penalty h of nested mode draws each (0 of 600 programs used a pair
    before)."""
    seen = {"srcdiff.grad(": 0, "srcdiff.value_and_grad(": 0, "srcdiff.jvp(": 0}
    for seed in range(200):
        src = fuzzgen.penalty_program(fuzzgen.seeded_program(seed)).source
        compile(src, f"nested{seed}", "exec")    # (jvp's tangent before f's keyword-only arguments)
        h = src.split("def h(")[1]
        for k in seen:
            seen[k] += k in h
    assert all(seen.values()), seen


def test_cuda_draws_tuple_in_axes_element_by_element(workdir):
    """README (CUDA): a tuple or list argument's in_axes entry is 0 / None for all of it or a tuple with one entry per
    element; the CUDA oracles draw both, each example's CPU arguments built to match (0 of 147 tuple parameters in
    600 programs had a tuple entry before). A namedtuple argument too: seeds 1078007 and 1078178 crashed the oracle
    building it from one iterable (`XA.__new__() missing 1 required positional argument`) where its in_axes entry
    was a tuple."""
    import numpy as np
    import fuzz_cuda
    import fuzz_runner
    kinds, seqs = set(), set()
    for seed, draw_seed in [(s, s) for s in range(60)] + [(1078007, r) for r in range(16)]:
        prog = fuzz_runner.program_for(seed, features=fuzz_runner.program_features(True, False))
        if "xa" not in prog.params:
            continue
        k = prog.params.index("xa")
        draw = fuzz_cuda.Draw(prog, prog.load(workdir, f"axes_{seed}").f, np.random.default_rng(draw_seed))
        ax = draw.in_axes[k]
        kinds.add(type(ax).__name__)
        seqs.add(prog.seq)
        assert type(draw.args[k]) is type(draw.examples[0][k])
        for j, a in enumerate(ax if isinstance(ax, tuple) else (ax,) * len(draw.args[k])):
            rows = [e[k][j] for e in draw.examples]
            np.testing.assert_array_equal(draw.args[k][j], np.stack(rows) if a == 0 else rows[0])
            if a is None:
                assert all(np.array_equal(r, rows[0]) for r in rows)
    assert "tuple" in kinds and len(kinds) > 1 and "namedtuple" in seqs, (kinds, seqs)


def test_hessian_oracle_takes_dict_arguments(workdir, monkeypatch):
    """README (Transforms): hessian w.r.t. a dict gives a dict of blocks per key (a dict of dicts for two dicts); the
    hvp oracle checks the hessian's rows times v for dict arguments too (only arrays and numbers before: 0 of the 18
    dict programs in 600 that reach it)."""
    import srcdiff
    calls = []
    real = srcdiff.hessian
    monkeypatch.setattr(srcdiff, "hessian", lambda f, wrt=0, **kw: calls.append(wrt) or real(f, wrt=wrt, **kw))
    prog = fuzzgen.seeded_program(1045005)
    assert prog.seq == "dict" and "xa" in prog.params
    fuzzgen.check_program(prog.load(workdir, "dict_hessian_1045005"), prog, False, 1045005)
    assert calls, "no hessian of a dict argument checked"


def test_cuda_oracles_leave_max_trip_out_with_every_oracle():
    """README (CUDA): loop tapes are sized from the trip counts the host reads off the arguments, else from max_trip=;
    the CUDA oracles passed max_trip= always (so the sizes read off the arguments were never the tapes' sizes). One
    program in five leaves it out, with each oracle (value: seed % 2, hvp: % 3, batch_sum: % 4)."""
    import fuzz_cuda
    left_out = [s for s in range(200) if fuzz_cuda.max_trip(s) is None]
    assert 0 < len(left_out) < 100
    assert all(any(s % m == 0 for s in left_out) for m in (2, 3, 4))


def test_readme_rules_parser_sees_a_new_function(rules_seen):
    """A function README's Rules bullet starts to list without generator support fails the coverage test, and so
    does a form (a backticked span that is not a list of names) no detector knows."""
    with open(fuzz_constructs.README) as fh:
        text = fh.read()
    assert fuzz_rules.uncovered(text, rules_seen) == []
    new = text.replace("`sinc`", "`sinc spacing`").replace("`erfinv ndtri`", "`erfinv ndtri owens_t`")
    names, _ = fuzz_rules.readme_rule_names(new)
    assert "np.spacing" in names and "scipy.special.owens_t" in names
    missing = fuzz_rules.uncovered(new, rules_seen)
    assert missing == ["np.spacing (never generated)", "scipy.special.owens_t (never generated)"], missing
    form = text.replace("`cumsum` (axis", "`cumsum` (`np.cumsum(x, axis=0, dtype=None)`, axis")
    assert fuzz_rules.uncovered(form, rules_seen) == [
        "np.cumsum(x, axis=0, dtype=None) (no detector in fuzz_rules.FORMS or reason in EXCLUDED)"]


# ---- CI runs ------------------------------------------------------------------------------------
_count = {"n": 0}


def _run(data, workdir, jit, nested=False):
    size = dict(max_depth=2, max_stmts=3) if jit or nested else {}   # smaller programs: compiles are slow
    features = [f for f in CI_FEATURES if not (jit and f in fuzzgen.PYTHON_ONLY)]
    if nested:   # known declines and bugs of reverse over reverse (fuzzgen.NESTED_EXCLUDE says which)
        features = [f for f in features if f not in fuzzgen.NESTED_EXCLUDE]
    prog = fuzzgen.Gen(lambda n: data.draw(st.integers(0, n - 1)), features, **size).program()
    prog = fuzzgen.penalty_program(prog) if nested else prog
    _count["n"] += 1
    name = f"fuzz_{'nested' if nested else 'jit' if jit else 'py'}_{_count['n']}"
    mod = prog.load(workdir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _check_twice_if_past_the_limit(mod, prog, jit, nested)
        except fuzzgen.Skip:
            pass
        except Exception as exc:
            if _known(exc):
                return
            raise AssertionError(f"[{fuzz_runner.classify(exc)}] {type(exc).__name__}: {exc}\n"
                                 f"--- program ({name}.py) ---\n{prog.header_comment()}{prog.source}") from exc


def _check_twice_if_past_the_limit(mod, prog, jit, nested):
    """check_program with the CPU-time limit (a hang is a failure); a program past it is checked once more, and
    fails only if it is past it again. The limit counts the CPU time of every thread of this worker process
    (fuzzgen.time_limit: ITIMER_PROF), so threads an earlier test left running (Dask's, Numba's) count against a
    program that is not slow: the default run's fuzz_py_20 of 2026-11-28 ran past 30 s in CI's worker and took
    1.9 s of CPU alone, cold caches included. A program that loops forever is past the limit both times."""
    for attempt in (1, 2):
        try:
            # the evaluation points depend on the program only (hypothesis replays must see the same)
            fuzzgen.check_program(mod, prog, jit, seed=zlib.crc32(prog.source.encode()), entry="h" if nested else "f",
                                  timeout=CI_TIMEOUT * (6 if jit else 2 if nested else 1))
            return
        except fuzzgen.Hang:
            if attempt == 2:
                raise


_SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])


@settings(max_examples=EXAMPLES["python"], **_SETTINGS)
@given(data=st.data())
def test_fuzz_python(data, workdir):
    _run(data, workdir, jit=False)


# reverse over reverse: the gradient of each program's squared gradient norm (Python backend); no shrinking
# (each shrink step differentiates twice: a failure took minutes to shrink), the failing program is printed
@settings(max_examples=EXAMPLES["nested"], phases=[Phase.explicit, Phase.generate], **_SETTINGS)
@given(data=st.data())
def test_fuzz_nested(data, workdir):
    _run(data, workdir, jit=False, nested=True)


# no shrinking under Numba: every shrink step is a compile (minutes); the failing program is printed,
# rerun it by hand or shrink it on the Python backend
@settings(max_examples=EXAMPLES["numba"], phases=[Phase.explicit, Phase.generate], **_SETTINGS)
@given(data=st.data())
def test_fuzz_numba(data, workdir):
    _run(data, workdir, jit=True)


# ---- stored cases: programs the fuzzer found, minimised -----------------------------------------
CASES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "fuzz_cases", "*.py")))
CASES = [c for c in CASES if not os.path.basename(c).startswith("nested_")]   # test_regressions runs those


def _case_params():
    out = []
    for path in CASES:
        with open(path) as fh:
            head = fh.read(2000)
        m = re.search(r"^# xfail: (.*)$", head, re.M)
        jit = re.search(r"^# backends: (.*)$", head, re.M)
        for j in ([False, True] if not jit else [b.strip() == "jit" for b in jit.group(1).split(",")]):
            marks = [pytest.mark.xfail(strict=True, reason=m.group(1))] if m else []
            out.append(pytest.param(path, j, marks=marks, id=f"{os.path.basename(path)[:-3]}-{'jit' if j else 'py'}"))
    return out


@pytest.mark.parametrize("path,jit", _case_params())
def test_fuzz_cases(path, jit, workdir):
    """Each stored case passes every oracle (strict xfail while its bug is open: `# xfail:` line)."""
    prog = fuzzgen.Program.from_file(path)
    name = f"case_{os.path.basename(path)[:-3]}_{'jit' if jit else 'py'}"
    mod = prog.load(workdir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fuzzgen.check_program(mod, prog, jit, seed=0, points=4, tries=8, timeout=CI_TIMEOUT * (6 if jit else 1))
        except fuzzgen.Skip:
            pass


# ---- CUDA (tests/fuzz_cuda.py) -----------------------------------------------------------------
# device-feature programs (tests/fuzz_cuda.py DEVICE_FEATURES) whose oracles all reach the kernel today
CUDA_SEEDS = (3, 4, 5, 9)


def _cuda_sample(seeds, *flags):
    import json
    import subprocess
    import sys
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1",
               PYTHONPATH=os.pathsep.join([os.path.dirname(here), here, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, os.path.join(here, "fuzz_cuda.py"), *flags, *map(str, seeds)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fuzz_cuda_sample():
    """A few random programs through the CUDA oracles (tests/fuzz_cuda.py) on numba's simulator, in a child
    process (NUMBA_ENABLE_CUDASIM is read when numba.cuda is imported): vmap of grad / value_and_grad / jvp / hvp
    == the CPU derivative of each example. Long runs: python tests/fuzz_runner.py --cuda [--device] --seeds A B."""
    res = _cuda_sample(CUDA_SEEDS)
    bad = {s: r for s, r in res.items() if r["outcome"] not in ("ok", "skip", "declined")}
    assert not bad, bad
    reached = [s for s, r in res.items() if r["outcome"] == "ok"]
    assert len(reached) >= len(CUDA_SEEDS) - 1, res       # the sample reaches the kernel, not only declines


def test_fuzz_cuda_oracle_sees_a_small_error():
    """Two of those programs with every kernel result scaled by 1 + 1e-5: each is 'wrong'."""
    res = _cuda_sample(CUDA_SEEDS[:2], "--perturb")
    assert all(r["outcome"] == "wrong" for s, r in res.items() if r["outcome"] != "skip"), res


CUDA_DECLINED_SEED = 1333501     # an every-feature program vmap declines (an index list of constants, `t[[1, 0]]`)


def test_fuzz_cuda_runner_saves_declined_programs(tmp_path):
    """The CUDA runner (fuzz_runner.py --cuda) counted a decline by reason but saved no program to --out, where the
    plain runner saves every declined program: to read what the target declines, one had to regenerate each seed's
    program by hand. A declined program is saved, named as the plain runner names it, its reason on line 2, and it is
    no failure."""
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed")
    stats, failures, out, done, _ = fuzz_runner.run_long(CUDA_DECLINED_SEED, 1, out=str(tmp_path), timeout=120,
                                                         log=lambda m: None, cuda=True)
    assert done == 1 and stats["declined"] == 1 and not failures, (stats, failures)
    path = tmp_path / f"declined_{CUDA_DECLINED_SEED}_cuda.py"
    assert os.listdir(tmp_path) == [path.name], os.listdir(tmp_path)
    lines = path.read_text().splitlines()
    assert lines[1].startswith("# declined: ") and "cannot generate CUDA code" in lines[1], lines[:2]
    prog = fuzz_runner.program_for(CUDA_DECLINED_SEED, features=fuzz_runner.program_features(cuda=True))
    assert path.read_text().endswith(prog.source), "the saved program is not the one the runner checked"


PARALLEL_SEED = 1402003     # a program whose loss over the rows of R @ a row fusion runs in chunks (fuzz_parallel.py)


def test_fuzz_parallel_sample(tmp_path):
    """One program under jit="parallel" in a child process whose environment lowers the row chunks' threshold
    (fuzz_parallel.ENV): its loop over R's rows (M's, stacked) runs as two chunks on two threads, and value_and_grad agrees
    with jit=True's and central differences. Long runs: python tests/fuzz_runner.py --parallel --seeds A B."""
    stats, failures, _, done, _ = fuzz_runner.run_long(PARALLEL_SEED, 1, out=str(tmp_path), timeout=120,
                                                       log=lambda m: None, parallel=True)
    assert done == 1 and stats["ok"] == 1, (stats, failures)
    assert stats["chunks"] == {"threads": 1}, stats


def test_split_parts_with_an_empty_part_run_in_python(tmp_path):
    """np.array_split(su, [1, 1]) has an empty part: a loop writing `sw[0] = sw[-1] * c` into each part raised
    IndexError in plain Python where the split was bound to a name first (the generator's test read the name; fuzz
    --parallel 1502006: badprog)."""
    import numpy as np

    import fuzz_parallel
    prog = fuzz_parallel.program(1502006)
    assert "np.array_split(su51, [1, 1])" in prog.source
    mod = prog.load(str(tmp_path), "split_1502006")
    with np.errstate(all="ignore"):
        mod.f(*prog.args(np.random.default_rng(1502006)))


# ---- long mode ----------------------------------------------------------------------------------
@pytest.mark.skipif(not os.environ.get("SRCDIFF_FUZZ_LONG"), reason="long mode: set SRCDIFF_FUZZ_LONG=<count>")
def test_fuzz_long():
    count = int(os.environ["SRCDIFF_FUZZ_LONG"])
    seed0 = int(os.environ.get("SRCDIFF_FUZZ_SEED", "0"))
    budget = float(os.environ.get("SRCDIFF_FUZZ_SECONDS", "inf"))
    jit_every = int(os.environ.get("SRCDIFF_FUZZ_JIT_EVERY", "10"))
    nested = bool(os.environ.get("SRCDIFF_FUZZ_NESTED"))
    timeout = float(os.environ.get("SRCDIFF_FUZZ_TIMEOUT", "60"))
    out = os.environ.get("SRCDIFF_FUZZ_OUT")
    stats, failures, out, done, secs = fuzz_runner.run_long(seed0, count, budget, jit_every, nested, out, timeout,
                                                            log=lambda m: print(m, flush=True))
    print(f"\nfuzz long: {done} programs (seeds from {seed0}) in {secs:.0f}s: {stats}; failing programs in {out}")
    for line in failures:
        print("  " + line)
    bad = {k: stats[k] for k in ("wrong", "hang", "crash", "badprog") if stats[k]}
    assert not bad, f"{bad} (see {out})"


def test_a_module_level_function_passed_reads_no_local_of_f():
    """'funcargs' wrote a module-level rhs calling a recursive helper at depth n, a parameter of f (`rec5(u, n)`):
    NameError in plain Python (seed 921300, a badprog), or one reading `fn8`, a function f binds from a factory (CUDA
    seed 919733); such a function is a nested def of f instead."""
    import ast
    for seed in range(921290, 921310):
        tree = ast.parse(fuzzgen.seeded_program(seed).source)
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and fn.name.startswith("rhs"):
                free = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} - {a.arg for a in fn.args.args}
                assert not {"n"} & free and not any(re.fullmatch(r"fn\d+", v) for v in free), (seed, ast.unparse(fn))



def test_locals_spelled_as_an_items_variable_are_drawn_and_checked(workdir):
    """'itemspelled': a local xa_1 beside the tuple/list argument xa, whose item srcdiff makes the parameter xa_1, or
    xa_a beside the dict/namedtuple xa, whose item xa["a"] / xa.a it makes xa_a (the two were one variable: 7 of the
    first 10 such programs in seeds 0-67 had a wrong gradient, one a false decline; tests/test_item_names.py); or xa_1
    beside a dict or namedtuple, its item's variable when items were named by position, a local of its own now. Drawn
    in programs of every sequence kind, and seeds 16 (a list), 67 (a dict, xa_1), 53 (a dict, xa_a) and 119 (a
    namedtuple, xa_a) pass the oracles."""
    drawn = set()
    for s in range(200):
        prog = fuzzgen.seeded_program(s)
        drawn |= {(prog.seq, m.group(1)) for m in [re.search(r"\bxa_([1a]) = ", prog.source)] if m}
    assert {("tuple", "1"), ("list", "1"), ("dict", "1"), ("dict", "a"), ("namedtuple", "a")} <= drawn, drawn
    for seed, local in ((16, "xa_1"), (67, "xa_1"), (53, "xa_a"), (119, "xa_a")):
        prog = fuzzgen.seeded_program(seed)
        assert f"{local} = " in prog.source
        fuzzgen.check_program(prog.load(workdir, f"itemspelled_{seed}"), prog, False, seed)


def test_a_lambda_whose_parameter_is_named_as_a_structured_argument_is_drawn_and_checked(workdir):
    """'itemspelled' also draws, in every other such program, `shadows = lambda xa: np.sum(np.tanh(xa[0]) * xa[1])`
    called with a tuple of its own beside the structured argument xa: flatten read the lambda's xa[0] as the outer
    argument's item xa_0 (seeds 16, 21, 100, 119 and 121 of the first 8 drawn had a wrong d/dxa[0]: 0.755 for 0.368
    in seed 16; tests/test_item_name_collisions.py). Seeds 8 (a dict), 16 (a list), 76 (a tuple) and 100 (a
    namedtuple) pass the oracles."""
    for seed in (8, 16, 76, 100):
        prog = fuzzgen.seeded_program(seed)
        assert "shadows = lambda xa: " in prog.source
        fuzzgen.check_program(prog.load(workdir, f"itemshadowed_{seed}"), prog, False, seed)


def test_a_local_named_rt_len_or_max_is_drawn_and_checked(workdir):
    """'reservednames': a local of f named `rt` (the runtime module's name in the generated code), `len` or `max`
    (builtins it calls; srcdiff/transforms/reserved_names.py renames such locals rt_, len_, max_: before, 15 of the
    first 16 programs with rt failed, AttributeError from srcdiff's code, UnboundLocalError, Numba typing errors).
    Each is drawn, and programs with each pass the oracles (one of them jitted)."""
    for name, jit in (("rt", True), ("len", False), ("max", False)):
        drawn = [s for s in range(200) if re.search(rf"\b{name} = ", fuzzgen.seeded_program(s).source)]
        assert len(drawn) >= 4
        seed = drawn[0]     # the first seed drawing it (fixed seeds move whenever the generator gains a feature)
        prog = fuzzgen.seeded_program(seed)
        fuzzgen.check_program(prog.load(workdir, f"reserved_{seed}"), prog, jit, seed)


def test_a_local_named_len_or_max_is_never_called():
    """'reservednames' names a local of f `len` or `max`, where f called neither; a block drawn after it (draw_last's
    features) may call `max(...)` (self.expr's max of a comprehension): seed 1320009 bound `max = np.stack(...)`,
    then its 'argrebound' block called `wrebind36(max(u19[i41 // 2] for i41 in range(3)), wb37)` ('numpy.ndarray'
    object is not callable: a badprog). Such a block is left out; no f binds a builtin it also calls."""
    drawn = 0
    for seed in list(range(1320000, 1320020)) + list(range(60)):
        f = next(node for node in ast.parse(fuzzgen.seeded_program(seed).source).body
                 if isinstance(node, ast.FunctionDef) and node.name == "f")
        bound = {t.id for node in ast.walk(f) if isinstance(node, ast.Assign) for t in node.targets
                 if isinstance(t, ast.Name)} & set(fuzzgen.BUILTINS_CALLED)
        called = {node.func.id for node in ast.walk(f) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert not bound & called, (seed, bound & called)
        drawn += bool(bound)
    assert drawn >= 2


def test_named_dict_returns_nested_dicts_and_namedtuple_arguments_replaced_are_drawn_and_checked(workdir):
    """'dictmade' draws, in every other helper returning a dict, the same dict as a name bound to a display in the
    helper's own block, a key added there, then `return q` (declined as 'a dict made in the function used as a whole
    value' before h25c); 'namedtupleargs' draws, in three of four such programs, `xa = xa._replace(...)` of the
    namedtuple argument under its own name, in f, in a loop of f, or in a helper taking xa (declined as 'attribute .x
    of a local value'), or, in a third of them, the class's method `xa.damped()` returning `self._replace(...)`. Each
    is drawn, and seeds 39 and 41 (named dicts), 119 (in f), 490 (in a loop) and 171 (in a
    helper, also jitted) pass the oracles. 'dictmade' also draws, in one of three such programs, a dict holding a dict,
    `nest = {"a": {"b": ..., "c": 0.5}, "e": 1.5}`, written at `nest["a"]["c"]` (declined before h25c): seed 21 passes;
    'itemspelled', in one of three such programs, a def nested in f whose defaults read xa, `def reads_xa(z, xa=xa, *,
    w=xa["a"])` (declined before h25c): seeds 10 (a dict) and 166 (a namedtuple) pass."""
    named = re.compile(r'q = \{"u": [^\n]*\n(    q\["w"\] = [^\n]*\n)?(    if [^\n]*\n        return [^\n]*\n)?    return q')
    assert sum(bool(named.search(fuzzgen.seeded_program(s).source)) for s in range(200)) >= 10
    for seed, pattern, jit in ((39, named, False), (41, named, False), (119, re.compile(r"\n    xa = xa\.(_replace|damped)\("), False),
                               (490, re.compile(r"in range\(2\):\n        xa = xa\.(_replace|damped)\("), False),
                               (171, re.compile(r"def xa_step\d+\(xa\):\n    xa = xa\.(_replace|damped)\("), True),
                               (21, re.compile(r'nest\d+\["a"\]\["c"\] = '), False),
                               (10, re.compile(r'def reads_xa\d+\(z, xa=xa, \*, w=xa\["a"\]\)'), False),
                               (166, re.compile(r'def reads_xa\d+\(z, xa=xa, \*, w=xa\.a\)'), False)):
        prog = fuzzgen.seeded_program(seed)
        assert pattern.search(prog.source), seed
        fuzzgen.check_program(prog.load(workdir, f"structured_{seed}"), prog, jit, seed)


@functools.lru_cache(maxsize=None)
def _source_of(seed: int) -> str:
    return fuzzgen.seeded_program(seed).source


def first_seeds_drawing(forms: dict, seeds: int) -> dict:
    """{form: the first seed below `seeds` whose program matches the form's pattern}; every form must be drawn (the
    tests of features drawn last: seeds are found, not fixed, since a feature added later moves them)."""
    first = {}
    for seed in range(seeds):
        for form, pattern in forms.items():
            if form not in first and re.search(pattern, _source_of(seed)):
                first[form] = seed
    assert set(first) == set(forms), first
    return first


def test_writes_through_an_ellipsis_are_drawn_and_checked(workdir):
    """'ellipsis' draws a local (2, N) array written through an Ellipsis index: all of it (`e[...] = np.sin(e) * s`,
    `e[...] += v`, also in a loop), a column (`e[..., k] = ...`) and a row (`e[r, ...] *= c`). Reverse mode keeps
    what `e[...] = v` overwrites, `e_old = rt.copy(e[...])`, and reads its adjoint at `[...]`, which Numba cannot
    lower: the jitted gradient of the first such program crashed ('No definition for lowering getitem(array, ...)',
    plain seeds 10 and 27 when the feature was added; transforms/whole_reads.py). Each form is drawn; the first
    program writing all of an array passes the oracles jitted. (The seeds are found, not fixed: a feature added to
    the generator later moves them.)"""
    forms = {"whole": r"ell\d+\[\.\.\.\] = np\.sin", "add": r"ell\d+\[\.\.\.\] \+= ", "column": r"ell\d+\[\.\.\., \d\] = ",
             "row": r"ell\d+\[\d, \.\.\.\] \*= ", "loop": r"\n        ell\d+\[\.\.\.\] = ell\d+ \* 0\.5"}
    first = first_seeds_drawing(forms, 200)
    prog = fuzzgen.seeded_program(first["whole"])
    fuzzgen.check_program(prog.load(workdir, f"ellipsis_{first['whole']}"), prog, True, first["whole"])


def test_parameters_written_then_bound_again_are_drawn_and_checked(workdir):
    """'argrebound' draws a helper that writes into its array parameter and then binds the parameter again, in a
    `for` loop, a `while` loop or a branch, called on a local array f reads after the call. Inlined, the parameter's
    copy was the loop's carried name, and the call was declined ('writes in place into memory that ... shares':
    28 of the first 39 such programs, fuzz 1192024; transforms/follow_writes.py sinks the copy below the write now).
    Each form is drawn; the first program binding it again in a `while` loop (declined before) passes the oracles.
    (The seeds are found, not fixed: a feature added to the generator later moves them.)"""
    forms = {"for": r"\n    for i\d+ in range\(2\):\n        u = 0\.5 \* u", "while": r"\n    while i\d+ < 2:\n        u = ",
             "branch": r"\n    if z > 0\.0:\n        u = u \* z"}
    first = first_seeds_drawing(forms, 200)
    prog = fuzzgen.seeded_program(first["while"])
    fuzzgen.check_program(prog.load(workdir, f"argrebound_{first['while']}"), prog, False, first["while"])


def test_copies_of_the_tuple_argument_are_drawn_and_checked(workdir):
    """'tuplecopy' draws `tuple(xa)` or `list(xa)` of the tuple argument, also of a constant slice (`list(xa[1:])`),
    bound to a name and indexed or unpacked, or looped over, or summed in a comprehension: flatten.py reads it as
    the literal of xa's items (declined before: 'call to builtins.list: classes, instances and bound methods are not
    supported'). Both kinds are drawn; the first program copying a slice passes the oracles under Numba.
    (The seeds are found, not fixed: a feature added to the generator later moves them.)"""
    forms = {"whole": r"\b(tuple|list)\(xa\)", "slice": r"\b(tuple|list)\(xa\[[^\]]*:[^\]]*\]\)"}
    first = first_seeds_drawing(forms, 300)
    prog = fuzzgen.seeded_program(first["slice"])
    fuzzgen.check_program(prog.load(workdir, f"tuplecopy_{first['slice']}"), prog, True, first["slice"])


def test_float_of_bools_and_zero_d_arguments_written_are_drawn_and_checked(workdir):
    """'floatbool' draws float() of a bool (a comparison's, np.all / np.any's, bool(...)'s, the flag's) and 'zerodargs'
    a helper writing into its 0-d array argument, `z[()] += v` and `z[...] = ...`, which f reads after the call (README:
    `float` of a bool, 0-d array arguments written in place; never drawn before h29b). Each form is drawn; the first
    program of each passes the oracles, the 0-d one jitted. (The seeds are found, not fixed.)"""
    forms = {"floatbool": r"\bfb\d+ = [^\n]*float\(", "add": r"\n    z\[\(\)\] \+= ", "whole": r"\n    z\[\.\.\.\] = "}
    first = first_seeds_drawing(forms, 200)
    for form, jit in (("floatbool", False), ("add", True)):
        prog = fuzzgen.seeded_program(first[form])
        fuzzgen.check_program(prog.load(workdir, f"{form}_{first[form]}"), prog, jit, first[form])


def test_spectral_vectors_are_drawn_and_checked_in_nested_mode(workdir):
    """'spectral' draws eigh's eigenvectors of a symmetric 2 x 2 matrix, U and Vh of a thin SVD, or a pinv, of a
    matrix f computes (README Transforms: a gradient-norm penalty through the gradients of eigh, svd and pinv; h30e).
    Each form is drawn; the nested program (h, the squared norm of f's gradient) of the first singular-vector draw
    passes the oracles: reverse mode over rt.svd_u_grad and rt.svd_vh_grad (declined before, 'has a forward-mode rule
    but no reverse-mode rule'; eigenvectors and pinv: tests/test_spectral.py). 'lists' is no longer left
    out of nested mode (rt.unstack's reverse rule), so nested programs build lists too. (The seeds are found, not
    fixed.)"""
    forms = {"eigh": r"\bV\d+ = np\.linalg\.eigh\(np\.eye\(2\)", "svd": r"\bVh\d+ = np\.linalg\.svd\(np\.eye\(2, ",
             "pinv": r"\bpi\d+ = np\.linalg\.pinv\(np\.eye\(2, "}
    first_seeds_drawing(forms, 100)
    assert "lists" not in fuzzgen.NESTED_EXCLUDE
    seed = next(s for s in range(1000) if re.search(
        forms["svd"], fuzz_runner.program_for(s, nested=True, max_depth=2, max_stmts=3).source))
    prog = fuzz_runner.program_for(seed, nested=True, max_depth=2, max_stmts=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fuzzgen.check_program(prog.load(workdir, f"spectral_svd_{seed}"), prog, False, seed, entry="h")


def test_real_views_are_drawn_and_checked(workdir):
    """'realviews' draws NumPy's views of real arrays (README Rules: np.rot90, np.split / np.array_split, np.atleast_3d,
    np.real / np.imag, np.ascontiguousarray / np.asfortranarray, x.mT, x.real, x.imag, x.view(); each declined as 'no
    differentiation rule' or 'not supported' before h30b), the view written through half the time. Each is drawn; the
    first program writing through a rot90 passes the oracles under Numba, the first splitting a vector under Python.
    (The seeds are found, not fixed: a feature added to the generator later moves them.)"""
    forms = {"rot90 written": r"vr(\d+) = np\.rot90\([^\n]*\n    vr\1\[0, 0\] = ", "split": r"= np\.split\(vu",
             "array_split": r"np\.array_split\(", "atleast_3d": r"np\.atleast_3d\(vb", "mT": r"vb\d+\.mT\b",
             "real": r"np\.real\(vu", ".real": r"vu\d+\.real\b", "imag": r"np\.imag\(", ".imag": r"vb\d+\.imag\b",
             "view": r"vu\d+\.view\(\)", "contiguous": r"np\.ascontiguousarray\(vb", "fortran": r"np\.asfortranarray\("}
    first = first_seeds_drawing(forms, 300)
    for form, jit in (("rot90 written", True), ("split", False)):
        prog = fuzzgen.seeded_program(first[form])
        fuzzgen.check_program(prog.load(workdir, f"realviews_{first[form]}"), prog, jit, first[form])


def test_split_parts_are_drawn_and_checked(workdir):
    """'splitparts' (README Rules: np.split's parts unpacked into names, one written and another read after it, or
    looped over, of the call or of a name bound to it, written in the loop; each declined in reverse mode before h31)
    draws each form; the first program writing one part and reading another passes the oracles under Numba, the first
    writing in a loop over a name bound to the parts under Python."""
    forms = {"written": r"sp(\d+), sq(\d+) = np\.(array_)?split\([^\n]*\n    sp\1\[0\] = sq\2\[-1\]",
             "loop": r"for sw\d+ in np\.(array_)?split\(", "named loop written": r"for (sw\d+) in sp\d+:\n        \1\[0\] = "}
    first = first_seeds_drawing(forms, 200)
    for form, jit in (("written", True), ("named loop written", False)):
        prog = fuzzgen.seeded_program(first[form])
        fuzzgen.check_program(prog.load(workdir, f"splitparts_{first[form]}"), prog, jit, first[form])


def test_factory_forms_are_drawn_and_checked(workdir):
    """'factoryforms' (README 'Factories', whose forms the generator drew none of but a factory's function called in a
    lambda: the audit of h30d) draws a factory's function called at once, bound in both branches, bound again in a
    loop, called in a lambda; a factory nested in f, one with a keyword-only parameter, one returning another's
    function. Each is drawn (fuzz_constructs.FACTORY_FORMS checks them in test_readme_constructs_are_generated); the
    first program calling one at once passes the oracles."""
    forms = {"once": r"= (make|wrap)\d+\([^\n]*\)\([^\n]*\)\n", "branch": r"\n    else:\n        g\d+ = (make|wrap)\d+\(",
             "loop": r"\n        g\d+ = (make|wrap)\d+\(", "lambda": r"lam\d+ = lambda v: g\d+\(v\)",
             "nested": r"\n    def make\d+\(c", "kwonly": r"def make\d+\(c, \*, d=", "wrapped": r"return make\d+\(c \* 0\.5\)"}
    first = first_seeds_drawing(forms, 200)
    prog = fuzzgen.seeded_program(first["once"])
    fuzzgen.check_program(prog.load(workdir, f"factoryforms_{first['once']}"), prog, False, first["once"])


def test_helpers_named_alike_are_drawn_and_checked(workdir):
    """'helpernames' draws helpers calling a helper whose parameter is named as the caller's local and the caller's
    parameter as the next fresh version of it (`def sqK(qJ)`, `def midK(qJv1, w): k1 = sqK(qJv1); return sqK(qJv1 +
    k1) * c * w`, `def dblK(qJv1)` binding its returned local again in a branch), f binding `qJ = midK(v, ...)` or
    `qJv1 = dblK(v)`: inlining renamed midK's temporary qJ to qJv1, its parameter's name, and gave dblK's returned
    local the name qJv1, and both then read the call's argument (before 1f160b8: 4 of the 8 programs of seeds 0-24
    drawing the feature wrong, plain seeds 8, 11, 12 and 20; whether a program meets the clash depends on the names
    its other statements took first, so the first of each form here may not: test_inline.py's
    test_a_callee_local_renamed_is_none_of_its_parameters is the clash itself). Both forms are drawn; the first of
    each passes the oracles."""
    forms = {"mid": r"\n    q\d+ = mid\d+\(v\d+, ", "dbl": r"\n    q\d+v1 = dbl\d+\(v\d+\)"}
    first = first_seeds_drawing(forms, 100)
    for form, seed in first.items():
        prog = fuzzgen.seeded_program(seed)
        fuzzgen.check_program(prog.load(workdir, f"helpernames_{seed}"), prog, False, seed)
