"""benchmarks/_pages.py gives a benchmark one buffer of its big array for every method (aligned, in huge pages,
JAX reading it through a zero-copy view), and _common.interleaved_times times methods in turns: the copy must
be the array, where it says it is, the view the same memory, and every method timed the calls asked for."""
import numpy as np
import pytest

from benchmark_scripts import load_benchmark


def test_copy_of_is_the_array_at_the_offset_asked_for():
    pages = load_benchmark("_pages.py", "pages_for_tests")
    x = np.random.default_rng(0).normal(size=(3000, 100))
    for huge, offset in ((True, 64), (True, 16), (False, 0)):
        c = pages.copy_of(x, huge=huge, offset=offset)
        np.testing.assert_array_equal(c, x)
        assert c.ctypes.data % pages.HUGE == offset and c.flags.c_contiguous
        d = pages.describe(c)
        assert d["mod64"] == offset % 64 and 0 <= d["huge_MiB"] <= d["MiB"]
        if not huge:
            assert d["huge_MiB"] == 0


def test_jax_view_reads_the_same_buffer():
    pytest.importorskip("jax")
    pages = load_benchmark("_pages.py", "pages_for_tests_jax")
    x = pages.copy_of(np.arange(12, dtype=np.float32).reshape(3, 4), offset=64)   # float32: JAX's x64 off
    view = pages.jax_view(x)
    if view is None:
        pytest.skip("this JAX copies NumPy arrays it imports")
    assert view.unsafe_buffer_pointer() == x.ctypes.data
    assert pages.jax_view(pages.copy_of(x, offset=16)) is None   # XLA copies a buffer not 64-byte aligned
    np.testing.assert_array_equal(np.asarray(view), x)


def test_interleaved_times_counts_the_warm_calls_of_every_method():
    common = load_benchmark("_common.py", "common_for_tests")
    calls = {"a": 0, "b": 0}

    def counter(k):
        def f():
            calls[k] += 1
        return f
    got = common.interleaved_times({k: counter(k) for k in calls}, repeats=7, turn=3)
    for k, (median, n, best) in got.items():
        assert n >= 7 and 0 <= best <= median
        assert calls[k] == 2 + n + n // 2   # two warm-up calls, then turns of one uncounted and two counted
