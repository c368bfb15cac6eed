"""jit="background": the Python backend answers while Numba compiles in another process (issue 22.2)."""
import time
import warnings

import numpy as np
import pytest

import srcdiff
from srcdiff import background, backends


def _loss(w, x):
    z = np.tanh(x @ w)
    return np.sum(z ** 2) + 0.5 * np.sum(w ** 2)


W = np.array([0.3, -0.2, 0.5])
X = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.8]])


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """Nothing compiled for these functions yet: a cache directory of their own."""
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))
    saved = dict(backends._LOADED)
    backends._LOADED.clear()
    yield tmp_path / "cache"
    backends._LOADED.clear()
    backends._LOADED.update(saved)


def _uses_compiled(t):
    return t._last is t.background_pair()[0]._last


def test_background_answers_with_python_then_switches_to_the_compiled_code(fresh_cache):
    vg = srcdiff.value_and_grad(_loss, wrt=0, jit="background")
    python = srcdiff.value_and_grad(_loss, wrt=0)(W, X)
    first = vg(W, X)
    assert not _uses_compiled(vg)                      # nothing was compiled: the Python backend answered
    assert first[0] == python[0] and np.array_equal(first[1], python[1])
    deadline = time.monotonic() + 900                  # a bound against hanging, not a timing
    while not _uses_compiled(vg):
        assert time.monotonic() < deadline, "the background compilation never finished"
        time.sleep(0.5)
        out = vg(W, X)
    jitted = srcdiff.value_and_grad(_loss, wrt=0, jit=True)(W, X)   # loads what the child compiled
    assert out[0] == jitted[0] and np.array_equal(out[1], jitted[1])
    np.testing.assert_allclose(out[1], python[1], rtol=1e-12)
    assert list(fresh_cache.glob("__pycache__/*.nbi"))  # the child filled the disk cache
    # a new transform (as in a new process) finds the compiled code and uses it from its first call
    again = srcdiff.value_and_grad(_loss, wrt=0, jit="background")
    again(W, X)
    assert _uses_compiled(again)
    assert srcdiff.source(again) == srcdiff.source(srcdiff.value_and_grad(_loss, wrt=0, jit=True).prepare(W, X))


def test_failed_background_compilation_falls_back_to_python_with_a_warning(fresh_cache, monkeypatch):
    """The compiling process fails (here: it cannot even start Python): no hang, no error, a warning, and
    the Python backend's results from then on."""
    monkeypatch.setattr(background.sys, "executable", "/bin/false")
    g = srcdiff.grad(_loss, wrt=0, jit="background")
    want = srcdiff.grad(_loss, wrt=0)(W, X)
    np.testing.assert_array_equal(g(W, X), want)
    deadline = time.monotonic() + 120
    with pytest.warns(background.BackgroundCompileWarning, match="Python backend"):
        while not g.background_pair()[2].python:
            assert time.monotonic() < deadline, "the failed compilation was never noticed"
            time.sleep(0.2)
            np.testing.assert_array_equal(g(W, X), want)
    with warnings.catch_warnings():
        warnings.simplefilter("error", background.BackgroundCompileWarning)   # warned once
        np.testing.assert_array_equal(g(W, X), want)
    assert not _uses_compiled(g)


def test_jit_takes_three_values():
    with pytest.raises(srcdiff.SrcdiffError, match="background"):
        srcdiff.grad(_loss, jit="later")


BIG = np.linspace(-1.0, 1.0, 20_000)    # over backends.PASSED_ARRAY_SIZE: an argument of the compiled code


def _big_loss(w):
    return np.sum(np.tanh(w * BIG) ** 2)


def test_background_with_a_large_global_array_switches_to_the_compiled_code(fresh_cache):
    """A module whose compiled code takes the large arrays it reads as arguments (backends.ArraysPassed)
    is compiled in the background and used like any other."""
    g = srcdiff.grad(_big_loss, jit="background")
    python = srcdiff.grad(_big_loss)(0.7)
    assert g(0.7) == python and not _uses_compiled(g)
    deadline = time.monotonic() + 900                  # a bound against hanging, not a timing
    while not _uses_compiled(g):
        assert time.monotonic() < deadline, "the background compilation never finished"
        assert not g.background_pair()[2].python, "the background compilation failed"
        time.sleep(0.5)
        out = g(0.7)
    assert isinstance(g.background_pair()[0]._last[2], backends.ArraysPassed)
    np.testing.assert_allclose(out, python, rtol=1e-12)
    h = 1e-6
    np.testing.assert_allclose(out, (_big_loss(0.7 + h) - _big_loss(0.7 - h)) / (2 * h), rtol=1e-6)
