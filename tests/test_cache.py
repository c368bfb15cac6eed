"""The compile cache: keyed on source, compiled-in values and versions; safe under concurrent use."""
import os
import subprocess
import sys
import textwrap

import numpy as np

import srcdiff
import gradcheck
from srcdiff import backends

SCRIPT = textwrap.dedent('''
    import sys, numpy as np, srcdiff
    sys.path.insert(0, {folder!r})
    import cached_fn
    g = srcdiff.grad(cached_fn.f, wrt=0, jit=True)
    print(repr(float(g(np.array([0.3, 0.4]), 2.0)[0])))
''')


def _write(folder, scale):
    with open(os.path.join(folder, "cached_fn.py"), "w") as fh:
        fh.write(f"import numpy as np\nSCALE = {scale}\n\ndef f(x, y):\n"
                 f"    return np.sum(np.sin(x) * y) * SCALE\n")


def _run_many(folder, cache, n):
    env = dict(os.environ, SRCDIFF_CACHE_DIR=cache)
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT.format(folder=folder)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return [float(out.strip()) for out, _ in outs]


def test_two_processes_compile_at_once_and_edits_recompile(tmp_path):
    folder, cache = str(tmp_path / "src"), str(tmp_path / "cache")
    os.makedirs(folder)
    _write(folder, 1.0)
    first = _run_many(folder, cache, 2)          # two cold processes race on the same cache entry
    assert first[0] == first[1] == np.cos(0.3) * 2.0
    files = [f for f in os.listdir(cache) if f.endswith(".py")]   # the source shown of grad, and of value_and_grad
    assert len(files) == 3 and not any(f.endswith(".tmp") for f in os.listdir(cache))   # (which grad runs) with
    assert len([f for f in files if f.startswith("f_grad_")]) == 1                     # its compiled form
    again = _run_many(folder, cache, 1)          # a warm process reads the cache
    assert again[0] == first[0]
    _write(folder, 3.0)                          # an edited constant is a different module
    edited = _run_many(folder, cache, 1)
    assert edited[0] == np.cos(0.3) * 6.0


def test_key_covers_values_and_runtime():
    a = backends.module_key("def f(): pass\n", {"W": np.ones(3)}, True)
    b = backends.module_key("def f(): pass\n", {"W": np.ones(3) * 2}, True)
    c = backends.module_key("def f(): pass\n", {"W": np.ones(3)}, False)
    assert len({a, b, c}) == 3
    assert backends.runtime_digest() in backends.runtime_digest()
    assert srcdiff.__version__


LINKED = textwrap.dedent('''
    import sys, numpy as np, srcdiff
    sys.path.insert(0, {tests!r})
    import constructs, test_nesting
    if {other_first}:   # compiles rt.mean / rt.sum / rt.max implementations in this process first
        srcdiff.grad(constructs.methods, jit=True)(np.random.default_rng(0).normal(size=(3, 3)))
    g2 = srcdiff.grad(srcdiff.grad(test_nesting.prod_scalar, jit=True), jit=True)
    print(repr(float(g2(0.45))), repr(float(g2._last[2].py_func(0.45))))
''')


def test_cached_module_links_its_own_helpers(tmp_path):
    """A module loaded from the disk cache into a process that already compiled other runtime helpers
    must call its own: factory-made Numba implementations once shared a qualified name, and rt.prod
    in a cached second-order gradient ran as another reduction (a wrong number, no error)."""
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / "cache"))
    tests = os.path.dirname(os.path.abspath(__file__))
    for other_first in (False, True, True):   # compile and cache, then load twice after other code
        out = subprocess.run([sys.executable, "-c", LINKED.format(tests=tests, other_first=other_first)],
                             env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        jitted, python = (float(v) for v in out.stdout.split())
        np.testing.assert_allclose(jitted, python, rtol=1e-10)


def _closure(k):
    def f(x):
        return np.sum(np.sin(x) * k)
    return f


def test_closures_with_different_values_do_not_share_code():
    # same source, different compiled-in closure value: two cache entries, two answers
    x = np.array([0.3, 0.4])
    for jit in (False, True):
        g1, g2 = srcdiff.grad(_closure(1.0), jit=jit)(x), srcdiff.grad(_closure(2.5), jit=jit)(x)
        np.testing.assert_allclose(g1, np.cos(x))
        np.testing.assert_allclose(g2, 2.5 * np.cos(x))


# --- issue 19: keys that cannot collide -------------------------------------------------------------

GLOBAL_T = (12, 3)


def _uses_tuple(x):
    return np.sum(x * GLOBAL_T[0] * x) + GLOBAL_T[1] * x[1] ** 2


def test_key_encodes_type_and_length_of_every_value():
    """(12, 3) and (1, 23) once fed the hash the same digits: one key, the old module (issue 19.1)."""
    key = backends.module_key
    src = "def f(): pass\n"
    assert key(src, {"T": (12, 3)}, True) != key(src, {"T": (1, 23)}, True)
    assert key(src, {"T": ("ab", "c")}, True) != key(src, {"T": ("a", "bc")}, True)
    assert key(src, {"T": (1, (2, 3))}, True) != key(src, {"T": ((1, 2), 3)}, True)
    assert key(src, {"T": 1}, True) != key(src, {"T": 1.0}, True) != key(src, {"T": "1"}, True)
    assert key(src, {"T": np.zeros(2, np.float32)}, True) != key(src, {"T": np.zeros(1, np.float64)}, True)
    assert key(src, {"a": "b", "bc": 1}, True) != key(src, {"ab": "b", "c": 1}, True)


def test_rebound_tuple_global_gets_its_own_module():
    """A new grad object after the global changed must not reuse the module compiled for the old value."""
    global GLOBAL_T
    x = np.array([1.0, 2.0])
    try:
        for jit in (False, True):
            GLOBAL_T = (12, 3)
            np.testing.assert_allclose(srcdiff.grad(_uses_tuple, jit=jit)(x), [24.0, 60.0])
            GLOBAL_T = (1, 23)
            got = srcdiff.grad(_uses_tuple, jit=jit)(x)
            np.testing.assert_allclose(got, [2.0, 96.0])
            np.testing.assert_allclose(got, gradcheck.numerical_grad(_uses_tuple, [x], 0), rtol=1e-6)
    finally:
        GLOBAL_T = (12, 3)


RULE_SRC = '''
import numba
import numpy as np
import srcdiff


@numba.njit
def scaled_exp(x):
    return {c} * np.exp(x)


srcdiff.adjoint(scaled_exp, vjp="g * ans")


def f(x):
    return np.sum(scaled_exp(x))
'''


def test_key_covers_constants_of_registered_rules(tmp_path):
    """A rule function edited from 2.0 * np.exp(x) to 3.0 * np.exp(x): same name, same bytecode, other
    constants -- a different key (issue 19.2), also through nested code objects (a lambda inside)."""
    a = gradcheck.source_module("rule_consts_a", RULE_SRC.format(c="2.0"))
    b = gradcheck.source_module("rule_consts_b", RULE_SRC.format(c="3.0"))
    src = "def f(): pass\n"
    assert backends.module_key(src, {"scaled_exp": a.scaled_exp}, True) != \
        backends.module_key(src, {"scaled_exp": b.scaled_exp}, True)
    nested_a = gradcheck.source_module("rule_nested_a", "def h(x):\n    return (lambda y: 2.0 * y)(x)\n")
    nested_b = gradcheck.source_module("rule_nested_b", "def h(x):\n    return (lambda y: 3.0 * y)(x)\n")
    assert backends.module_key(src, {"h": nested_a.h}, True) != backends.module_key(src, {"h": nested_b.h}, True)


def test_edited_rule_recompiles_in_a_new_process(tmp_path):
    folder, cache = str(tmp_path / "src"), str(tmp_path / "cache")
    os.makedirs(folder)
    script = textwrap.dedent(f'''
        import sys, numpy as np, srcdiff
        sys.path.insert(0, {folder!r})
        import rule_mod
        print(repr(float(srcdiff.grad(rule_mod.f, jit=True)(np.array([0.5]))[0])))
    ''')
    env = dict(os.environ, SRCDIFF_CACHE_DIR=cache)
    for c in (2.0, 3.0):
        with open(os.path.join(folder, "rule_mod.py"), "w") as fh:
            fh.write(RULE_SRC.format(c=c))
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        np.testing.assert_allclose(float(out.stdout), c * np.exp(0.5), rtol=1e-12)


# --- issue 19.7 / 19.10: a private cache directory; cached code verified before it runs; damage repaired ------

import pytest  # noqa: E402
import warnings  # noqa: E402


def _poly(x):
    return np.sum(x ** 3) + 2.0 * np.sum(x)


X3 = np.array([0.5, -1.0, 2.0])


def _expected():
    return 3 * X3 ** 2 + 2.0


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A cache directory of its own, and no modules loaded from it yet (as in a new process)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(cache))
    saved = dict(backends._LOADED)
    backends._LOADED.clear()
    yield cache
    backends._LOADED.clear()
    backends._LOADED.update(saved)


def _cached(cache, suffix):
    """The files of _poly's gradient (jitted, grad runs value_and_grad's compiled function: backends.ValueDropped)."""
    return sorted(p for p in cache.rglob("*" + suffix) if "poly_grad" in p.name or "poly_value_and_grad" in p.name)


def test_cache_directory_and_files_are_private(fresh_cache):
    for jit in (False, True):
        np.testing.assert_allclose(srcdiff.grad(_poly, jit=jit)(X3), _expected())
    assert (fresh_cache.stat().st_mode & 0o777) == 0o700
    assert ((fresh_cache / "__pycache__").stat().st_mode & 0o777) == 0o700
    files = _cached(fresh_cache, ".py")     # Python's module; jitted, the source shown and the compiled form
    assert len(files) == 3 and all((f.stat().st_mode & 0o777) == 0o600 for f in files)


def test_world_writable_cache_directory_is_refused(fresh_cache):
    fresh_cache.mkdir(mode=0o700)
    os.chmod(fresh_cache, 0o777)        # e.g. a shared /tmp/srcdiff someone else could plant files in
    for jit in (False, True):
        with pytest.raises(srcdiff.SrcdiffError, match="writable by other users"):
            srcdiff.grad(_poly, jit=jit)(X3)
    assert not list(fresh_cache.iterdir())


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_cache_directory_owned_by_another_user_is_refused(fresh_cache):
    fresh_cache.mkdir(mode=0o700)
    os.chown(fresh_cache, 12345, 12345)
    with pytest.raises(srcdiff.SrcdiffError, match="owned by another user"):
        srcdiff.grad(_poly)(X3)


def test_rewritten_cached_module_is_detected_and_regenerated(fresh_cache, tmp_path):
    """The attack: rewrite the cached .py so the gradient runs a payload and returns [42, 42, 42]."""
    marker = tmp_path / "payload_ran"
    for jit in (False, True):
        np.testing.assert_allclose(srcdiff.grad(_poly, jit=jit)(X3), _expected())
    for path in _cached(fresh_cache, ".py"):
        entry = path.read_text().split("def ", 1)[1].split("(", 1)[0]
        path.write_text(f"import numpy as np\nopen({str(marker)!r}, 'w').close()\n\n"
                        f"def {entry}(x):\n    return np.full(3, 42.0)\n")
    backends._LOADED.clear()            # a new process
    for jit in (False, True):
        with pytest.warns(backends.CacheWarning, match="did not match"):
            got = srcdiff.grad(_poly, jit=jit)(X3)
        np.testing.assert_allclose(got, _expected())
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_cached_module_is_regenerated_with_a_warning(fresh_cache, damage):
    for jit in (False, True):
        srcdiff.grad(_poly, jit=jit)(X3)
    for path in _cached(fresh_cache, ".py"):
        text = path.read_text()
        path.write_text(text[:len(text) // 2] if damage == "truncated" else "")
    backends._LOADED.clear()
    for jit in (False, True):
        with pytest.warns(backends.CacheWarning):
            got = srcdiff.grad(_poly, jit=jit)(X3)
        np.testing.assert_allclose(got, gradcheck.numerical_grad(_poly, [X3], 0), rtol=1e-6)


@pytest.mark.parametrize("suffix", [".nbc", ".nbi"])
def test_damaged_numba_cache_file_is_recompiled_with_a_warning(fresh_cache, suffix):
    np.testing.assert_allclose(srcdiff.grad(_poly, jit=True)(X3), _expected())
    damaged = _cached(fresh_cache, suffix)
    assert damaged
    for path in damaged:
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    backends._LOADED.clear()
    with pytest.warns(backends.CacheWarning, match="could not be loaded"):
        got = srcdiff.grad(_poly, jit=True)(X3)
    np.testing.assert_allclose(got, _expected())
    backends._LOADED.clear()            # recompiled and saved again: the next process loads it quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error", backends.CacheWarning)
        np.testing.assert_allclose(srcdiff.grad(_poly, jit=True)(X3), _expected())


def test_numba_index_is_not_loaded_from_a_shared_directory(fresh_cache, tmp_path, monkeypatch):
    """NUMBA_CACHE_DIR pointing at a world-writable directory: Numba's index there is a pickle anyone could
    plant, so srcdiff compiles without the disk cache (with a warning) rather than read it."""
    import numba
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(shared))
    with pytest.warns(backends.CacheWarning, match="NUMBA_CACHE_DIR"):
        got = srcdiff.grad(_poly, jit=True)(X3)
    np.testing.assert_allclose(got, _expected())
    assert not list(shared.rglob("*.nbi"))


# --- issue 19.5: the source file edited after import -------------------------------------------------

EDITED = '''import numpy as np


def f(x):
    return np.sum(x ** 2)


def outer(k):
    def g(x):
        """a docstring
        on two lines"""
        return np.sum((x * k) ** 2)
    return g
'''


@pytest.mark.parametrize("jit", [False, True])
def test_source_edited_after_import_is_refused(jit):
    mod = gradcheck.source_module(f"edited_after_import_{jit}", EDITED)
    x = np.array([0.3, -1.2])
    inner = mod.outer(1.5)
    np.testing.assert_allclose(srcdiff.grad(mod.f, jit=jit)(x), 2 * x)           # unedited: accepted
    np.testing.assert_allclose(srcdiff.grad(inner, jit=jit)(x), gradcheck.numerical_grad(inner, [x], 0), rtol=1e-6)
    with open(mod.__file__, "w") as fh:                                           # the body edited
        fh.write(EDITED.replace("np.sum(x ** 2)", "np.sum(np.sin(x))"))
    with pytest.raises(srcdiff.SrcdiffError, match="no longer matches"):
        srcdiff.grad(mod.f, jit=jit)(x)
    np.testing.assert_allclose(srcdiff.grad(inner, jit=jit)(x), gradcheck.numerical_grad(inner, [x], 0), rtol=1e-6)
    with open(mod.__file__, "w") as fh:                                           # lines shifted
        fh.write("\n\n\n" + EDITED)
    for fn in (mod.f, inner):
        with pytest.raises(srcdiff.SrcdiffError, match="no longer matches"):
            srcdiff.grad(fn, jit=jit)(x)


# --- issue 19.4: captured globals are snapshots, in both backends ---------------------------------------

WEIGHTS = np.array([1.0, 2.0])


def _weighted(x):
    return np.sum(WEIGHTS * x ** 2)


def test_captured_global_array_is_a_snapshot_in_both_backends():
    """A grad object compiles the global arrays it reads as they are at its first call (Numba bakes them in
    as constants); an in-place change afterwards is ignored by both backends alike -- it once showed with
    jit=False only -- and a new grad object sees the new values."""
    x = np.array([0.5, -1.5])
    try:
        for jit in (False, True):
            WEIGHTS[:] = [1.0, 2.0]
            g = srcdiff.grad(_weighted, jit=jit)
            np.testing.assert_allclose(g(x), 2 * np.array([1.0, 2.0]) * x)
            WEIGHTS[:] = [10.0, 20.0]
            np.testing.assert_allclose(g(x), 2 * np.array([1.0, 2.0]) * x)          # the snapshot
            np.testing.assert_allclose(srcdiff.grad(_weighted, jit=jit)(x),          # a new object: new values
                                       gradcheck.numerical_grad(_weighted, [x], 0), rtol=1e-6)
    finally:
        WEIGHTS[:] = [1.0, 2.0]


# --- issue 19.9: a size cap with least-recently-used eviction; python -m srcdiff cache info|clear -------------

def test_lru_eviction_and_cache_cli(fresh_cache, capsys):
    from srcdiff import cachecli
    for k in (1.0, 2.0, 3.0):                       # three modules, the 1.0 one used last
        srcdiff.grad(_closure(k))(X3)
    srcdiff.grad(_closure(1.0))(X3)
    backends._LOADED.clear()
    srcdiff.grad(_closure(1.0))(X3)                 # a new process using the 1.0 module again
    items = backends.entries(str(fresh_cache))
    assert len(items) == 3
    newest = items[-1][2]
    assert [m.__file__ for m in backends._LOADED.values()] == [newest]     # the last used is the newest
    assert backends.evict(items[-1][1], folder=str(fresh_cache)) == 2    # room for one: the newest stays
    assert [e[2] for e in backends.entries(str(fresh_cache))] == [newest]
    assert cachecli.main(["info"]) == 0
    assert "modules: 1" in capsys.readouterr().out
    assert cachecli.main(["clear"]) == 0
    assert backends.entries(str(fresh_cache)) == []
    out = subprocess.run([sys.executable, "-m", "srcdiff", "cache", "info"], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120)
    assert out.returncode == 0 and "modules: 0" in out.stdout, out.stderr
    np.testing.assert_allclose(srcdiff.grad(_closure(2.0))(X3), 2.0 * np.cos(X3))   # regenerated after clear


# --- issue 19.3: out-of-bounds indexing under jit=True fails as f does -----------------------------------

def _reads_past_the_end(x):
    return x[3] * 2.0 + np.sum(x)


@pytest.mark.parametrize("jit", [False, True])
def test_out_of_bounds_index_raises_index_error_in_both_backends(jit):
    x = np.array([0.1, 0.2, 0.3])
    with pytest.raises(IndexError):
        _reads_past_the_end(x)
    with pytest.raises(IndexError):
        srcdiff.grad(_reads_past_the_end, jit=jit)(x)
    x4 = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(srcdiff.grad(_reads_past_the_end, jit=jit)(x4), [1.0, 1.0, 1.0, 3.0])


# --- issue 19.11: the disk cache found by what determines the code, before generating it ------------------------

WARM = textwrap.dedent('''
    import sys, numpy as np, srcdiff
    from srcdiff import module_builder
    built = []
    generate = module_builder.build_module
    module_builder.build_module = lambda *a, **k: built.append(1) or generate(*a, **k)
    sys.path.insert(0, {folder!r})
    import warm_fn
    x = np.array([0.3, -0.4, 1.1])
    value, grad = srcdiff.value_and_grad(warm_fn.f, wrt=0, jit={jit})(x, 2.0)
    print(len(built), repr(float(value)), " ".join(repr(float(v)) for v in grad))
''')

WARM_SRC = '''import numpy as np
W = np.array([1.0, {w}, 3.0])
SCALE = {scale}


def helper(x):
    return np.tanh(x) * SCALE


def f(x, y):
    return np.sum(W * helper(x) ** 2) * y
'''


def _warm_run(folder, cache, jit):
    env = dict(os.environ, SRCDIFF_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", WARM.format(folder=folder, jit=jit)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    built, value, *grad = out.stdout.split()
    return int(built), float(value), np.array([float(g) for g in grad])


def _warm_expected(w, scale, x=np.array([0.3, -0.4, 1.1]), y=2.0):
    W = np.array([1.0, w, 3.0])
    t = np.tanh(x) * scale
    return np.sum(W * t ** 2) * y, 2 * W * t * scale * (1 - np.tanh(x) ** 2) * y


@pytest.mark.parametrize("jit", [False, True])
def test_warm_cache_process_does_not_generate_and_edits_invalidate(tmp_path, jit):
    """A second process with a warm cache loads the module without calling the generator and gets the
    right gradient; editing the function's file, a helper's constant, or a global array it reads makes
    it generate again (the spec key covers them), and each edit's gradient is right."""
    folder, cache = str(tmp_path / "src"), str(tmp_path / "cache")
    os.makedirs(folder)
    steps = [(2.0, 0.5, 1), (2.0, 0.5, 0),      # cold: generate; warm: load
             (5.0, 0.5, 1), (5.0, 0.5, 0),      # the global array W changed
             (5.0, 0.7, 1), (5.0, 0.7, 0)]      # the helper's global SCALE changed
    for w, scale, generated in steps:
        with open(os.path.join(folder, "warm_fn.py"), "w") as fh:
            fh.write(WARM_SRC.format(w=w, scale=scale))
        built, value, grad = _warm_run(folder, cache, jit)
        want_value, want_grad = _warm_expected(w, scale)
        assert built == generated, (w, scale)
        np.testing.assert_allclose(value, want_value, rtol=1e-12)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-12)
    with open(os.path.join(folder, "warm_fn.py"), "w") as fh:   # the function's body edited
        fh.write(WARM_SRC.format(w=5.0, scale=0.7).replace("** 2) * y", "** 2) * y * y"))
    built, value, grad = _warm_run(folder, cache, jit)
    want_value, want_grad = _warm_expected(5.0, 0.7)
    assert built == 1
    np.testing.assert_allclose(value, want_value * 2.0, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad * 2.0, rtol=1e-12)
    with open(os.path.join(folder, "warm_fn.py"), "w") as fh:   # lines shifted: comments cite other lines
        fh.write("\n" + WARM_SRC.format(w=5.0, scale=0.7))
    assert _warm_run(folder, cache, jit)[0] == 1


def _spec(fn, **options):
    from srcdiff import cachekey
    return cachekey.spec_key(fn, dict({"mode": "grad", "wrt": ("x",), "jit": False}, **options),
                             (((("a", 1, "f"),), "()", (("n0",),))))


class _Settings:
    scale = 3.0


SETTINGS = _Settings()


def _reads_an_instance(x):
    return np.sum(x) * SETTINGS.scale


def test_spec_key_covers_options_values_and_declines_what_it_cannot_hash():
    assert _spec(_poly) == _spec(_poly)
    assert len({_spec(_poly), _spec(_poly, jit=True), _spec(_poly, mode="value_and_grad"),
                _spec(_closure(1.0)), _spec(_closure(2.0)), _spec(_uses_tuple)}) == 6
    global GLOBAL_T
    before = _spec(_uses_tuple)
    try:
        GLOBAL_T = (1, 23)
        assert _spec(_uses_tuple) != before
    finally:
        GLOBAL_T = (12, 3)
    # an instance's attribute is compiled in, but the walk cannot follow what instances hold: no spec key
    # (the function is generated every time, then found by its generated source's key)
    assert _spec(_reads_an_instance) is None
    np.testing.assert_allclose(srcdiff.grad(_reads_an_instance)(X3), np.full(3, 3.0))


def test_forged_index_record_is_refused_and_regenerated(fresh_cache):
    """An index record rewritten to point the spec key at another module (or with any other change) fails
    its signature: removed with a CacheWarning, the gradient generated again."""
    import json
    for jit in (False, True):
        np.testing.assert_allclose(srcdiff.grad(_poly, jit=jit)(X3), _expected())
    records = sorted((fresh_cache / "index").glob("*.json"))
    assert len(records) == 3     # grad's, and under Numba grad's own source and value_and_grad's, which it runs
    for path in records:
        stored = json.loads(path.read_text())
        record = json.loads(stored["record"])
        record["bindings"] = {"np": [["g", "np"]]}
        stored["record"] = json.dumps(record, sort_keys=True)
        path.write_text(json.dumps(stored))
    backends._LOADED.clear()
    for jit in (False, True):
        with pytest.warns(backends.CacheWarning, match="signature"):
            got = srcdiff.grad(_poly, jit=jit)(X3)
        np.testing.assert_allclose(got, _expected())
    backends._LOADED.clear()            # rewritten, signed again: the next process finds it quietly
    with warnings.catch_warnings():
        warnings.simplefilter("error", backends.CacheWarning)
        for jit in (False, True):
            np.testing.assert_allclose(srcdiff.grad(_poly, jit=jit)(X3), _expected())


# --- issue 19.8: data in the cache: files 0600; large arrays passed to compiled code, not compiled in --------

def test_numba_cache_files_are_private(fresh_cache):
    """Numba's index (.nbi) and compiled code (.nbc, which holds the constants compiled in) are 0600, as the
    generated .py files are; ones an earlier version left 0644 are tightened when next used."""
    np.testing.assert_allclose(srcdiff.grad(_poly, jit=True)(X3), _expected())
    files = _cached(fresh_cache, ".nbi") + _cached(fresh_cache, ".nbc")
    assert len(files) == 2 and all((f.stat().st_mode & 0o777) == 0o600 for f in files), \
        [(f.name, oct(f.stat().st_mode)) for f in files]
    for f in files:
        os.chmod(f, 0o644)
    backends._LOADED.clear()
    np.testing.assert_allclose(srcdiff.grad(_poly, jit=True)(X3), _expected())
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in files)


def test_passed_arrays_threshold():
    bindings = {"big": np.zeros(10_001), "edge": np.zeros((100, 100)), "small": np.zeros(5), "c": 2.0,
                "objects": np.empty(20_000, dtype=object), "t": (np.zeros(20_000),)}
    assert backends.PASSED_ARRAY_SIZE == 10_000
    assert backends.passed_arrays(bindings) == ["big"]


BIG_GLOBAL_SRC = '''import numpy as np

BIG = np.random.default_rng(19).standard_normal(1_000_000)
SMALL = np.array([0.5, -1.0, 2.0, 0.25, 3.0])


def big_loss(x):
    return np.sum(BIG * np.sin(x)) + np.sum(SMALL * x[:5] ** 2)
'''

LOAD_BIG = textwrap.dedent('''
    import importlib.util, sys, warnings, numpy as np, srcdiff
    warnings.simplefilter("error")
    spec = importlib.util.spec_from_file_location("big_global_mod", {path!r})
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    x = np.linspace(-1.0, 1.0, mod.BIG.size)
    g = srcdiff.grad(mod.big_loss, jit=True)(x)
    print("gradient", repr(float(g @ np.cos(np.arange(x.size)))))
''')


def _big_expected(mod, x):
    g = mod.BIG * np.cos(x)
    g[:5] += 2.0 * mod.SMALL * x[:5]
    return g


def test_large_global_array_is_an_argument_and_its_code_is_cached(fresh_cache):
    """A 1e6-element global array under jit=True: not compiled in as a constant (Numba then refused to cache
    the code: NumbaWarning "uses dynamic globals", and every process recompiled), but passed to the compiled
    code; a second process loads that code from the cache. Small globals stay constants. Both backends read
    the array as it was at the grad object's first call, and a new value reuses the compiled code."""
    mod = gradcheck.source_module("big_global_mod", BIG_GLOBAL_SRC)
    x = np.linspace(-1.0, 1.0, mod.BIG.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g_jit = srcdiff.grad(mod.big_loss, jit=True)
        got = g_jit(x)
    np.testing.assert_allclose(got, _big_expected(mod, x), rtol=1e-12, atol=1e-12)
    g_py = srcdiff.grad(mod.big_loss, jit=False)
    np.testing.assert_allclose(got, g_py(x), rtol=1e-12, atol=1e-12)
    v = np.cos(np.arange(x.size))                 # central difference along a direction = vdot(grad, v)
    h = 1e-5
    slope = (mod.big_loss(x + h * v) - mod.big_loss(x - h * v)) / (2 * h)
    np.testing.assert_allclose(got @ v, slope, rtol=1e-6)
    # compiled from a module that takes BIG as a parameter and still reads SMALL as a constant (value_and_grad's,
    # which jitted grad runs: backends.ValueDropped)
    compiled = [p for p in fresh_cache.glob("big_loss_value_and_grad_*.py")
                if "def big_loss_value_and_grad(x, BIG):" in p.read_text()]
    assert len(compiled) == 1, sorted(p.name for p in fresh_cache.iterdir())
    assert "SMALL" in compiled[0].read_text()
    cached = sum(f.stat().st_size for f in fresh_cache.rglob("*") if f.is_file())
    assert _cached_compiled(fresh_cache) and cached < mod.BIG.nbytes / 10     # no copy of the data in the cache
    # a second process loads the compiled code from the cache (Numba's cache log: loaded, never saved)
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(fresh_cache), NUMBA_DEBUG_CACHE="1")
    out = subprocess.run([sys.executable, "-c", LOAD_BIG.format(path=mod.__file__)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "data loaded from" in out.stdout and "data saved to" not in out.stdout, out.stdout
    np.testing.assert_allclose(float(out.stdout.split("gradient")[1]), got @ v, rtol=1e-12)
    # captured values (README, "Cache and security"): both backends keep the array of the first call
    old = mod.BIG.copy()
    mod.BIG *= 2.0                                # in place
    for g in (g_jit, g_py):
        np.testing.assert_allclose(g(x), got, rtol=1e-12, atol=1e-12)
    mod.BIG = 3.0 * old                           # rebound: a new grad object sees it, with the same machine code
    nbc = _cached_compiled(fresh_cache)
    np.testing.assert_allclose(srcdiff.grad(mod.big_loss, jit=True)(x), _big_expected(mod, x), rtol=1e-12, atol=1e-12)
    assert _cached_compiled(fresh_cache) == nbc


def _cached_compiled(cache):
    """Numba's cached code of big_loss's jitted gradient (value_and_grad's, which grad runs: backends.ValueDropped)."""
    return sorted(p.name for p in cache.rglob("big_loss_value_and_grad_*.nbc"))


# --- issue 22.2: srcdiff's runtime helpers compiled once per installation, in a private folder of their own ---

_RUNTIME_CHILD = textwrap.dedent('''
    import sys
    sys.path.insert(0, {folder!r})
    import numpy as np
    import srcdiff
    import runtime_user
    x = np.linspace(-1.0, 1.0, 7)
    g = srcdiff.grad(runtime_user.loss, jit=True)(x)
    np.testing.assert_allclose(g, 2 * np.tanh(x) / np.cosh(x) ** 2 + 1.0 / 7, rtol=1e-12)
''')


def test_runtime_helpers_are_compiled_once_into_a_private_folder(tmp_path):
    """The runtime kernels a gradient calls, and the implementations of Numba's own overloads it calls
    (np.sum, np.zeros), go to $SRCDIFF_RUNTIME_CACHE_DIR/<runtime hash> (0700), not to the cache
    directory; a second process with an empty cache directory loads them without compiling
    them again (their index files are not rewritten)."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "runtime_user.py").write_text("import numpy as np\n\n\ndef loss(x):\n"
                                            "    return np.sum(np.tanh(x) ** 2) + np.mean(x)\n")
    runtime = tmp_path / "runtime"

    def run(cache):
        env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / cache), SRCDIFF_RUNTIME_CACHE_DIR=str(runtime))
        proc = subprocess.run([sys.executable, "-c", _RUNTIME_CHILD.format(folder=str(folder))], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr

    run("cache1")
    (digest,) = list(runtime.iterdir())
    assert (runtime.stat().st_mode & 0o777) == 0o700 and (digest.stat().st_mode & 0o777) == 0o700
    index = {p.name: p.stat().st_mtime_ns for p in digest.glob("*.nbi")}
    assert index, "no runtime helper was cached"
    assert any(name.startswith(("arraymath.", "arrayobj.")) for name in index), \
        "Numba's own overload implementations (np.sum, np.zeros) were not cached with the runtime"
    assert not list((tmp_path / "cache1").rglob("*reductions*")), "runtime kernels went to the cache directory"
    run("cache2")
    assert {p.name: p.stat().st_mtime_ns for p in digest.glob("*.nbi")} == index, "runtime helpers compiled again"


LOAD_ONLY = textwrap.dedent('''
    import sys, numpy as np, srcdiff
    sys.path.insert(0, {folder!r})
    import warm_fn
    x = np.array([0.3, -0.4, 1.1])
    g = srcdiff.value_and_grad(warm_fn.f, wrt=0, jit=True)
    value, grad = g(x, 2.0)
    compiled = g.last.function          # the Numba dispatcher of the generated function
    print(int("numba.np.random.generator_core" in sys.modules), sum(compiled.stats.cache_hits.values()),
          repr(float(value)), " ".join(repr(float(v)) for v in grad))
''')


def test_disk_cache_hit_does_not_load_numbas_compiler_registries(tmp_path):
    """A process that finds the compiled gradient in the disk cache loads it without refreshing Numba's
    typing and lowering registries (importing numba.np.random and the like: most of a cached first call),
    and its gradient is right; the process that compiled it did refresh them."""
    folder, cache = str(tmp_path / "src"), str(tmp_path / "cache")
    os.makedirs(folder)
    with open(os.path.join(folder, "warm_fn.py"), "w") as fh:
        fh.write(WARM_SRC.format(w=2.0, scale=0.5))
    env = dict(os.environ, SRCDIFF_CACHE_DIR=cache)
    want_value, want_grad = _warm_expected(2.0, 0.5)
    for refreshed, hits in ((1, 0), (0, 1)):          # cold: compiles; warm: loads
        out = subprocess.run([sys.executable, "-c", LOAD_ONLY.format(folder=folder)], env=env,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        flag, n_hits, value, *grad = out.stdout.split()
        assert (int(flag), int(n_hits)) == (refreshed, hits)
        np.testing.assert_allclose(float(value), want_value, rtol=1e-12)
        np.testing.assert_allclose([float(v) for v in grad], want_grad, rtol=1e-12)


_KERNELS_CHILD = textwrap.dedent('''
    import sys, numpy as np, srcdiff
    sys.path.insert(0, {folder!r})
    import kernel_user
    from srcdiff.runtime import _linking
    if {other_first}:    # loads some of the same kernels (rt.tanh of an array) before the cached gradient
        srcdiff.grad(kernel_user.other, jit=True)(np.linspace(-1.0, 1.0, 6))
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=(5, 3))
    g = srcdiff.grad(kernel_user.loss, jit=True)
    np.testing.assert_allclose(g(W, x), srcdiff.grad(kernel_user.loss)(W, x), rtol=1e-12)
    disp = g.last.function.compiled     # (grad runs value_and_grad's compiled function: backends.ValueDropped)
    (cres,) = disp.overloads.values()
    print(type(cres.library).__name__, len(_linking._CALLS.get(cres.library, ())), sum(disp.stats.cache_hits.values()))
''')


def test_generated_code_calls_the_runtime_kernels_by_symbol(tmp_path):
    """A generated gradient does not link (and optimise and compile again) the runtime's array kernels it
    calls: it calls their loaded machine code. Its disk-cache entry carries them, so a new process loads
    them with it, whether or not it has loaded some of them already, and gets the same gradient."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "kernel_user.py").write_text("import numpy as np\n\n\ndef loss(W, x):\n"
                                           "    return np.sum(np.tanh(x @ W) ** 2)\n\n\ndef other(x):\n"
                                           "    return np.sum(np.tanh(x))\n")
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / "cache"))
    seen = []
    for other_first in (False, False, True):   # compile and cache; load alone; load after other kernels
        proc = subprocess.run([sys.executable, "-c", _KERNELS_CHILD.format(folder=str(folder), other_first=other_first)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        library, kernels, hits = proc.stdout.split()
        seen.append((library, int(kernels) > 0, int(hits)))
    assert seen[0] == ("LinkedLibrary", True, 0)
    assert seen[1][1:] == (True, 1) and seen[2][2] == 1
