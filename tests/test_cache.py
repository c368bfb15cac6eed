"""The compile cache: keyed on source, compiled-in values and versions; safe under concurrent use."""
import os
import subprocess
import sys
import textwrap

import numpy as np

import srcdiff
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
    files = [f for f in os.listdir(cache) if f.endswith(".py")]
    assert len(files) == 1 and not any(f.endswith(".tmp") for f in os.listdir(cache))
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
