"""Test configuration: where generated code is cached, and which tests the default run takes.

Cache. Generated modules and Numba's compiled code go to SRCDIFF_CACHE_DIR, by default
<tmp>/srcdiff-test-cache; under pytest-xdist (`-n 2`) each worker uses its own subdirectory of it.

Default run and full sweep. Most of the suite's time is Numba compiling generated adjoints (a second or more
each on a cold cache), so the README's and CI's command, `python -m pytest -q -n 2`, runs a fixed sample of
the suite (with or without `-n 2`), and

    SRCDIFF_TESTS=full python -m pytest -q -n 2

runs every test (7 552 of them, tens of minutes on two cores; `.ci/run --full` does this). Both leave out the
tests marked `slow` in the test files, as before (`-m ""` takes those too). The sample is deterministic (a
CRC-32 of each test's id decides, so every run and every machine takes the same tests) and keeps:

- every test that is not parametrized, and every parametrized case on the Python backend, except in the rule
  table (tests/test_rules_table.py): there `test_rule_python` keeps one shape case of every rule, and the
  float32 and forward-mode (jvp) cases a tenth of theirs with at least one of each rule family (`family`
  there: elementwise, broadcasting, reductions, products, linear algebra, composites, ...);
- NUMBA_FRACTION of the parametrized cases that compile with Numba (a `jit` parameter that is True, a
  parameter "numba", or a table in TABLES such as `test_rule_numba` and the CUDA PTX cases), and at least one
  of them in every test file that has them and, in the rule table, at least one of each rule family;
- none of the tests in HEAVY (the slowest, measured; a parametrized one is never the case picked for its
  family or file);
- the fuzzer (tests/test_fuzz.py) with fewer hypothesis examples (its EXAMPLES); the construct-coverage test
  runs in full, and each example is still checked by every oracle (value_and_grad's value == f,
  jvp == vdot(grad, v), finite differences, and Python == Numba on the Numba examples).

The cases the sample leaves out are marked `slow` (`-m slow` runs only them). A test named on the command
line by its `::` node id always runs, sampled or not.
"""
import os
import sys
import tempfile
import zlib

import pytest

sys.path.insert(0, os.path.dirname(__file__))

_base = os.environ.setdefault("SRCDIFF_CACHE_DIR", os.path.join(tempfile.gettempdir(), "srcdiff-test-cache"))
if os.environ.get("PYTEST_XDIST_WORKER"):   # one cache per worker process: compiles never race on one file
    os.environ["SRCDIFF_CACHE_DIR"] = os.path.join(_base, os.environ["PYTEST_XDIST_WORKER"])

MODES = ("", "default", "full")
FULL = os.environ.get("SRCDIFF_TESTS", "") == "full"

# fraction of the Numba-compiled parametrized cases the default run keeps (besides one per file and family)
NUMBA_FRACTION = 0.03

# parametrized tests sampled differently from the rule above: (file, function) -> (fraction kept, stratum), where
# at least one case of each stratum is kept: "rule" (each rule of the table), "family" (each rule family), "file"
TABLES = {
    ("test_rules_table.py", "test_rule_python"): (0.0, "rule"),
    ("test_rules_table.py", "test_rule_float32"): (0.1, "family"),
    ("test_rules_table.py", "test_rule_jvp"): (0.1, "family"),
    ("test_rules_table.py", "test_rule_numba"): (NUMBA_FRACTION, "family"),
    ("test_rules_table.py", "test_rule_numba_float32"): (NUMBA_FRACTION, "family"),
    # the rules at shapes beyond their table entries (tests/test_shape_edges.py): one case of each rule
    ("test_shape_edges.py", "test_rules_sweep"): (0.0, "rule"),
    ("test_shape_edges.py", "test_rules_sweep_jvp"): (0.0, "rule"),
    # and under Numba (a compile each: the default run keeps one case of each rule family)
    ("test_shape_edges.py", "test_rules_sweep_numba"): (0.0, "family"),
    ("test_einsum.py", "test_einsum_grad_numba"): (NUMBA_FRACTION, "file"),
    ("test_cuda.py", "test_ptx_sm90"): (NUMBA_FRACTION, "file"),   # numba-cuda compiles each kernel to PTX
    ("test_regressions.py", "test_gradient_penalty_jitted_with_placeholders"): (NUMBA_FRACTION, "file"),
    # sampled by risk, every case kept: these reverse-over-reverse HMM gradients caught a wrong gradient from a
    # dead-code change (2026-11-24) that every test of the default sample passed
    ("test_nesting.py", "test_gradient_norm_penalty_of_hmm_forward_recursion"): (1.0, "file"),
    ("test_nesting.py", "test_gradient_norm_penalty_over_a_jitted_hmm_gradient"): (1.0, "file"),
}


# tests the default run leaves out, each with its CPU seconds measured on a cold cache on the 2-core machine
# (issue 20); the full sweep runs them. Parametrized ones are never the case picked for their family or file
# (it keeps a cheaper one).
HEAVY = {
    "tests/test_rules_table.py::test_rule_numba[np.einsum batched-0]": 75,
    "tests/test_rules_table.py::test_rule_numba_float32[rt.svd_u rebuilt-1]": 41,
    "tests/test_rules_table.py::test_rule_numba[np.linalg.cholesky-0]": 20,
    # stored nested-fuzz programs checked by every oracle (reverse over reverse on the Python backend); the
    # default run keeps test_fuzz_nested and the parametrized nested cases of tests/test_regressions.py
    "tests/test_regressions.py::test_gradient_penalty_of_a_large_gradient": 45,
    "tests/test_regressions.py::test_gradient_penalty_of_a_helper_with_early_returns": 100,
    "tests/test_regressions.py::test_adjoint_of_unknown_kind_indexed_in_place": 97,
    # (measured in the default run after the 2026-11-24 merges, wall seconds on a quiet machine; the Python
    # backend's case of each stays in the default run)
    "tests/test_spectral.py::test_hvp_matches_finite_differences_of_the_gradient[eigh_uses-4x4-jit]": 54,
    "tests/test_cache.py::test_warm_cache_process_does_not_generate_and_edits_invalidate[True]": 41,
    # (the slowest of the default run after the issue 23 redesign added a test module per pass, wall seconds
    # on a quiet machine, 2026-11-24 22:00: the run took 6 min 5 s; each has a cheaper sibling in the sample,
    # or is a float32 / second-process variant of a case the sample keeps)
    "tests/test_kalman.py::test_smooth_matches_rts[1-1-40-0]": 31,
    "tests/test_logdomain.py::test_kernels_float32": 17,
    "tests/test_nesting.py::test_two_gradients_in_one_function": 15,
    "tests/test_cache.py::test_cached_module_links_its_own_helpers": 14,
    "tests/test_runtime.py::test_logsumexp_infinities": 11,
    "tests/test_logdomain.py::test_kernels_match_direct_formula[1-many_rows_forbidden-numba]": 11,
    "tests/test_spectral.py::test_jvp_matches_finite_differences[pinv_and_kron-2x3-jit]": 10,
    "tests/test_indexing_and_args.py::test_newaxis_placement[jit-newaxis_after_int_array_of_matrix-]": 10,
    "tests/test_issue18_defects.py::test_index_list_of_any_elements[written_repeat-jit]": 10,
    "tests/test_rules_table.py::test_rule_numba_float32[np.linalg.solve-1]": 9,
    "tests/test_errors.py::test_numba_float32_matmul": 8,
    "tests/test_runtime.py::test_reductions_float32": 7,
}


def _unit(text: str) -> float:
    """A fixed pseudo-random number in [0, 1) for a test id (the same on every machine and run)."""
    return zlib.crc32(text.encode()) / 2 ** 32


def _params(item) -> dict:
    spec = getattr(item, "callspec", None)
    return spec.params if spec is not None else {}


def compiles_with_numba(item) -> bool:
    """A parametrized case on the Numba backend: a `jit` parameter that is True, or a parameter "numba"."""
    params = _params(item)
    return params.get("jit") is True or any(isinstance(v, str) and v == "numba" for v in params.values())


def _policy(item):
    """(fraction kept, stratum) for a parametrized case the default run samples, None for one it always runs."""
    if not _params(item):
        return None
    key = (os.path.basename(str(item.path)), item.originalname)
    if key in TABLES:
        fraction, kind = TABLES[key]
    elif compiles_with_numba(item):
        fraction, kind = NUMBA_FRACTION, "file"
    else:
        return None
    if kind == "rule":
        stratum = _params(item)["rule"]
    elif kind == "family":
        stratum = item.module.family(_params(item)["rule"])
    else:
        stratum = ""
    return fraction, (key[0], key[1] if kind != "file" else "numba", stratum)


def _named_on_command_line(config) -> list:
    """Node ids the user gave with `::` (made relative to the root directory, as item.nodeid is)."""
    out = []
    for arg in config.args:
        if "::" not in arg:
            continue
        path, rest = arg.split("::", 1)
        path = os.path.relpath(os.path.abspath(path), str(config.rootpath)).replace(os.sep, "/")
        out.append(f"{path}::{rest}")
    return out


def pytest_configure(config):
    mode = os.environ.get("SRCDIFF_TESTS", "")
    if mode not in MODES:
        raise pytest.UsageError(f"SRCDIFF_TESTS={mode!r}: use SRCDIFF_TESTS=full (every test) or leave it unset "
                                "(the default sample; tests/conftest.py says which)")


def pytest_collection_modifyitems(config, items):
    if FULL:
        return
    named = _named_on_command_line(config)
    chosen = {}   # stratum -> the item with the smallest hash (kept even when no case passes the fraction)
    sampled = []
    left_out = 0
    for item in items:
        policy = _policy(item)
        if policy is None and item.nodeid in HEAVY and not any(item.nodeid == n for n in named):
            item.add_marker(pytest.mark.slow(reason="heavy: tests/conftest.py HEAVY (SRCDIFF_TESTS=full runs it)"))
            left_out += 1
            continue
        if policy is None or any(item.nodeid == n or item.nodeid.startswith(n + "[") or
                                 item.nodeid.startswith(n + "::") for n in named):
            continue
        fraction, stratum = policy
        u = _unit(item.nodeid) + (item.nodeid in HEAVY)   # a heavy case: above every fraction, picked last
        sampled.append((item, u < fraction))
        if stratum not in chosen or u < chosen[stratum][0]:
            chosen[stratum] = (u, item)
    keep = {id(item) for _, item in chosen.values()}
    for item, kept in sampled:
        if not kept and id(item) not in keep:
            item.add_marker(pytest.mark.slow(reason="left out of the default sample (SRCDIFF_TESTS=full runs it)"))
            left_out += 1
    config._srcdiff_left_out = left_out


def pytest_terminal_summary(terminalreporter, config):
    left_out = getattr(config, "_srcdiff_left_out", 0)
    if left_out:
        terminalreporter.write_line(f"srcdiff: the default sample left out {left_out} test{'s' * (left_out != 1)} "
                                    "(tests/conftest.py); SRCDIFF_TESTS=full python -m pytest -q -n 2 runs every test")
