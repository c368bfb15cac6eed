"""Row chunks (srcdiff/runtime/chunks.py, transforms/optimize/rowchunks.py): a row-blocked loop on all of Numba's
threads. The runtime's helpers against their definitions; the jitted gradient with 1 and 2 threads, below and
above the threshold, at odd sizes, against each other (to rounding), the Python backend and central
differences; a short y still raises IndexError before any thread starts."""
import numba
import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad
from srcdiff import runtime as rt
from srcdiff.runtime import chunks

TWO = numba.config.NUMBA_NUM_THREADS >= 2


def logistic(w, b, x, y):
    z = x @ w + b
    return np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + 1e-3 * np.sum(w ** 2)


def _problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) / np.sqrt(d)
    y = (rng.random(n) > 0.5) * 1.0
    return 0.5 * rng.normal(size=d), 0.1, x, y


def _threaded():
    """The transform jit="parallel" switches to once another process has compiled it (background.py), here
    compiled in this process: the row chunks' loop on threads."""
    return srcdiff.value_and_grad(logistic, wrt=("w", "b"), jit="parallel").background_pair()[0]


@pytest.fixture
def threads():
    """numba.set_num_threads for the test; the number before it restored after."""
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


@numba.njit
def _jitted(x, block, chunks):
    starts = np.empty(chunks + 1, np.int64)
    for c in range(chunks + 1):
        starts[c] = rt.chunk_start(x, block, chunks, c)
    return rt.row_chunks(x, block), starts


@pytest.mark.parametrize("n, d, block", [(10, 3, 8), (2621, 100, 40), (2623, 101, 40), (40001, 7, 1024), (5, 60000, 1)])
def test_chunks_cover_the_rows_in_whole_blocks(n, d, block, threads):
    x = np.zeros((n, d))
    for k in ([1, 2] if TWO else [1]):
        threads(k)
        want = 1 if n * d < chunks.PARALLEL_MIN else min(k, -(-n // block))
        got, starts = _jitted(x, block, max(want, 1))
        assert got == want == rt.row_chunks(x, block)
        assert starts[0] == 0 and starts[-1] == n and all(s % block == 0 for s in starts[:-1])
        assert np.all(np.diff(starts) >= 0)


def test_add_chunks_and_chunk_zeros_in_order():
    out = np.arange(5.0)
    parts = rt.chunk_zeros(out, 3)
    assert parts.shape == (3, 5) and parts.dtype == out.dtype and not parts.any()
    parts += np.array([[1e16], [1.0], [-1e16]])
    want = np.arange(5.0)
    for row in parts:      # (chunk by chunk: not the same as adding the chunks first)
        want += row
    rt.add_chunks(out, parts, 3)
    np.testing.assert_array_equal(out, want)


# (rows, columns): under the threshold (one chunk), just over it, odd sizes, a last block part full
SIZES = [(101, 7), (2621, 101), (4099, 67), (30001, 9)]


@pytest.mark.parametrize("n, d", SIZES, ids=[f"{n}x{d}" for n, d in SIZES])
def test_gradient_on_one_and_two_threads(n, d, threads):
    w, b, x, y = _problem(n, d)
    g = _threaded()
    threads(1)
    v1, (w1, b1) = g(w, b, x, y)
    assert "for c in rt.prange(chunks):" in srcdiff.source(g)
    pv, (pw, pb) = srcdiff.value_and_grad(logistic, wrt=("w", "b"))(w, b, x, y)
    for k in ([2] if TWO else []):
        threads(k)
        assert rt.row_chunks(x, rt.block_rows(x)) == (k if n * d >= chunks.PARALLEL_MIN else 1)
        vk, (wk, bk) = g(w, b, x, y)
        np.testing.assert_allclose(vk, v1, rtol=1e-12)
        np.testing.assert_allclose(wk, w1, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(bk, b1, rtol=1e-10, atol=1e-15)
        again = g(w, b, x, y)
        assert again[0] == vk and np.array_equal(again[1][0], wk) and again[1][1] == bk   # deterministic
    np.testing.assert_allclose(v1, pv, rtol=1e-10)
    np.testing.assert_allclose(w1, pw, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(b1, pb, rtol=1e-9, atol=1e-13)
    if n * d <= 300_000:
        np.testing.assert_allclose(w1, numerical_grad(logistic, (w, b, x, y), 0), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(b1, numerical_grad(logistic, (w, b, x, y), 1), rtol=1e-5, atol=1e-8)


def shift_and_element(w, b, x, y):
    z = x @ w + b
    return 3.0 * w[1] + np.sum(np.tanh(z) * y) + b * b


def test_sums_onto_values_made_before_the_chunks_loop_on_two_threads(threads):
    """`d_b = d_b + np.sum(d_z)` onto b's other adjoint and `d_w[1] += 3.0` before `d_w += x.T @ d_z`: each kept
    row fusion off the loss before (the product's three passes, on one thread); now the chunks add onto what was
    made before their loop, on two threads as on one, as the Python backend and central differences."""
    w, b, x, y = _problem(2621, 101)
    g = srcdiff.value_and_grad(shift_and_element, wrt=("w", "b"), jit="parallel").background_pair()[0]
    threads(1)
    v1, (w1, b1) = g(w, b, x, y)
    src = srcdiff.source(g)
    assert "for c in rt.prange(chunks):" in src and src.index("d_w[1] += ") < src.index("for c in rt.prange(")
    pv, (pw, pb) = srcdiff.value_and_grad(shift_and_element, wrt=("w", "b"))(w, b, x, y)
    for k in ([2] if TWO else []):
        threads(k)
        vk, (wk, bk) = g(w, b, x, y)
        np.testing.assert_allclose(vk, v1, rtol=1e-12)
        np.testing.assert_allclose(wk, w1, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(bk, b1, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(v1, pv, rtol=1e-10)
    np.testing.assert_allclose(w1, pw, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(b1, pb, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(w1, numerical_grad(shift_and_element, (w, b, x, y), 0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(b1, numerical_grad(shift_and_element, (w, b, x, y), 1), rtol=1e-5, atol=1e-8)


def rows_after_row_sums(a, M):
    for i in range(2):
        M = 0.5 * M + 0.5 * np.tanh(M * np.sum(M, axis=1, keepdims=True))
    z = M @ a * 2.0
    return np.sum(np.log1p(z * z) + np.sin(z))


@pytest.mark.parametrize("n, d", [(101, 7), (3001, 100)], ids=["101x7", "3001x100"])
def test_a_broadcast_outside_the_chunks_loop(n, d, threads):
    """`M * np.sum(M, axis=1, keepdims=True)` before the chunks' loop: Numba's parallel pipeline, which read the
    whole function, took the product for one of arrays of equal shapes and asserted so at run time ("Sizes of
    M.2, M3 do not match", fuzz seed 1302029, --parallel; jit=True right). The chunks' `if chunks > 1:` is now a
    function of its own (function_parts.apart), the only one Numba compiles for threads."""
    rng = np.random.default_rng(3)
    a, M = rng.normal(size=d) / np.sqrt(d), rng.normal(size=(n, d)) / np.sqrt(d)
    g = srcdiff.value_and_grad(rows_after_row_sums, wrt=("a",), jit="parallel").background_pair()[0]
    threads(2 if TWO else 1)
    v, (da,) = g(a, M)
    assert "for c in rt.prange(chunks):" in srcdiff.source(g)
    compiled = g._last.generated.compiled
    assert compiled.count("rt.prange(") == 1
    assert "def rows_after_row_sums_value_and_grad_threads(" in compiled and "M * M" in compiled
    pv, (pa,) = srcdiff.value_and_grad(rows_after_row_sums, wrt=("a",))(a, M)
    np.testing.assert_allclose(v, pv, rtol=1e-10)
    np.testing.assert_allclose(da, pa, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(da, numerical_grad(rows_after_row_sums, (a, M), 0), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("n", [40, 3001])
def test_short_y_raises_before_the_threads(n, threads):
    """y shorter than x's rows is refused (srcdiff's shape check, or the test before the chunks' loop, which
    raises where a test inside the loop, on a thread, would be lost), never a gradient of the rows that fit."""
    w, b, x, y = _problem(n, 100)
    g = _threaded()
    g(w, b, x, y)
    threads(2 if TWO else 1)
    with pytest.raises((IndexError, ValueError)):
        g(w, b, x, y[:-3])


@pytest.mark.parametrize("term, threads_kept", [("1.0", True), ("a[k]", False), ("a[idx[0]]", False)])
def test_a_test_inside_the_chunks_loop_keeps_it_on_one_thread(term, threads_kept):
    """The bounds pass writes a test inside an rt.prange loop (`a[k]`: `n > len(a)` before the loop over k),
    or cannot prove an index there (`a[idx[0]]`: Numba's own checks) -> the loop becomes `range`: on a
    thread, the IndexError would be lost. `out[c]`, a chunk's row, is in range by construction (IN_RANGE)."""
    import gast
    from srcdiff.transforms import annotations as anno
    from srcdiff.transforms import bounds
    from srcdiff.transforms.astutil import dotted_name
    src = ("def f(a, idx, n):\n"
           "    out = np.zeros(n)\n"
           "    for c in rt.prange(n):\n"
           "        for k in range(n):\n"
           f"            out[c] += {term}\n"
           "    return out\n")
    fn = gast.parse(src).body[0]
    for node in gast.walk(fn):
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id == "out":
            anno.set(node, anno.IN_RANGE)
    got = bounds.hoist_checks(fn)

    def loop_calls(f):
        return [dotted_name(s.iter.func) for s in gast.walk(f) if isinstance(s, gast.For) and s.target.id == "c"]
    assert loop_calls(got) == (["rt.prange"] if threads_kept else ["range"])
    assert loop_calls(fn) == ["rt.prange"]      # fn itself unchanged


@pytest.mark.skipif(not (TWO and hasattr(__import__("os"), "fork")), reason="needs 2 Numba threads and os.fork")
@pytest.mark.parametrize("n", [101, 3001])
def test_a_forked_child_computes_the_gradient(n, threads):
    """A process that ran the chunks' parallel loop forks; the child's gradient (small x: one chunk; large:
    the chunks on one thread) must not start GNU OpenMP's threads, which aborts the child ("fork() called
    from a process already using GNU OpenMP"; the first version of row chunks did, at both sizes)."""
    import os
    w, b, x, y = _problem(n, 100)
    big = _problem(3001, 100)
    g = _threaded()
    threads(2)
    g(*big)                                    # the parallel loop, in this process
    pid = os.fork()
    if pid == 0:                               # (the child: exit status 0 where its gradient is right)
        ok = False
        try:
            v, (gw, gb) = g(w, b, x, y)
            ok = np.isclose(v, logistic(w, b, x, y), rtol=1e-10) and numba.get_num_threads() == 1
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


def test_threads_are_asked_for_with_jit_parallel():
    """jit=True keeps the pass over the rows on the calling thread (no parallel loop to compile: the first call
    stays short); jit="parallel" writes the chunks' loop; the two are cached apart and give the same numbers
    on one thread. A copy of the transform keeps the option; a wrong jit value names the accepted ones."""
    import copy
    w, b, x, y = _problem(2621, 101)
    plain = srcdiff.value_and_grad(logistic, wrt=("w", "b"), jit=True)
    threaded = _threaded()
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        v0, (w0, b0) = plain(w, b, x, y)
        v1, (w1, b1) = threaded(w, b, x, y)
        v2, (w2, b2) = copy.deepcopy(threaded)(w, b, x, y)
    finally:
        numba.set_num_threads(before)
    assert "rt.prange" not in srcdiff.source(plain) and "for i0 in range(0, x.shape[0], block):" in srcdiff.source(plain)
    assert "for c in rt.prange(chunks):" in srcdiff.source(threaded)
    np.testing.assert_allclose(v1, v0, rtol=1e-12)
    np.testing.assert_allclose(w1, w0, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(b1, b0, rtol=1e-10, atol=1e-15)
    assert v2 == v1 and np.array_equal(w2, w1) and b2 == b1
    with pytest.raises(srcdiff.SrcdiffError, match='jit="parallel"'):
        srcdiff.grad(logistic, jit="threads")


def test_jit_parallel_answers_with_jit_true_until_its_threads_are_compiled(tmp_path, monkeypatch):
    """jit="parallel": the first call runs jit=True's code (compiled in this process: the first call stays
    short), another process compiles the chunks' loop into the disk cache, and the calls switch to it; the
    numbers agree to rounding throughout. A copy keeps the option."""
    import copy
    import time
    from srcdiff import backends
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(backends, "_LOADED", {})
    w, b, x, y = _problem(2621, 101)
    vg = srcdiff.value_and_grad(logistic, wrt=("w", "b"), jit="parallel")
    first = vg(w, b, x, y)
    assert "for i0 in range(0, x.shape[0], block):" in srcdiff.source(vg) and "rt.prange" not in srcdiff.source(vg)
    deadline = time.monotonic() + 900                  # a bound against hanging, not a timing
    while "rt.prange" not in srcdiff.source(vg):
        assert time.monotonic() < deadline, "the background compilation never finished"
        time.sleep(0.5)
        out = vg(w, b, x, y)
    np.testing.assert_allclose(out[0], first[0], rtol=1e-12)
    np.testing.assert_allclose(out[1][0], first[1][0], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(out[1][1], first[1][1], rtol=1e-10, atol=1e-15)
    again = copy.deepcopy(vg)
    again(w, b, x, y)                                  # finds the compiled code in the disk cache at once
    assert "for c in rt.prange(chunks):" in srcdiff.source(again)


_CONCURRENT = """
import sys, threading
import numpy as np
sys.path.insert(0, {tests!r})
from test_chunks import _problem, _threaded, logistic
import numba
g = _threaded()
w, b, x, y = _problem(3001, 100)                  # 300 100 numbers: the chunks' loop on both threads
v0, (w0, b0) = g(w, b, x, y)
bad = []
def calls():
    for _ in range(100):
        v, (gw, gb) = g(w, b, x, y)
        if not (v == v0 and np.array_equal(gw, w0) and gb == b0):
            bad.append(v)
ts = [threading.Thread(target=calls) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
print(numba.threading_layer(), len(bad))
"""


@pytest.mark.skipif(not TWO, reason="needs 2 Numba threads")
def test_calls_from_several_threads_take_turns_under_the_workqueue_layer(tmp_path):
    """Numba's workqueue layer ends the process when two Python threads run parallel loops at once; a
    jit="parallel" gradient called from four threads under it gives the same numbers every call (before:
    "Concurrent access has been detected", exit status 134)."""
    import os
    import subprocess
    import sys
    script = tmp_path / "calls.py"
    script.write_text(_CONCURRENT.format(tests=os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", SRCDIFF_CACHE_DIR=str(tmp_path / "cache"))
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-2:] == ["workqueue", "0"], run.stdout


def test_the_source_shows_the_chunks_loop_once_and_the_compiled_form_keeps_one_chunk_off_the_threads():
    """The source writes the chunks' loop once (`for c in rt.prange(chunks):`); the compiled form Numba runs
    (compiler.COMPILED's "one chunk") writes it under `if chunks > 1:` and again, as a plain loop, under its `else:`
    (a forked child must start no threads: test_a_forked_child_computes_the_gradient), with its own line table,
    whose lines after the loop still cite the user's lines they were made from."""
    w, b, x, y = _problem(101, 7)
    g = _threaded()
    g(w, b, x, y)
    text = srcdiff.source(g)
    assert text.count("for c in rt.prange(chunks):") == 1 and "chunks > 1" not in text, text
    assert "for c in range(chunks):" not in text, text
    made = g._last.generated
    compiled = made.compiled
    assert compiled.count("for c in rt.prange(chunks):") == 1 and compiled.count("for c in range(chunks):") == 1
    assert "if chunks > 1:" in compiled
    assert made.compiled_lines is not None and made.lines_compiled is made.compiled_lines
    last = compiled.splitlines().index("    result12 = result8 + result11") + 1     # (the statement after the loop)
    assert made.compiled_lines.at(last)[1] == made.lines.at(text.splitlines().index("    result12 = result8 + result11") + 1)[1]


_ONE_THREAD_CHUNKS = '''
import numpy as np, srcdiff


def loss(w, x, idx):
    z = x @ w
    return np.sum(np.tanh(z) * 0.5) + x[idx[0], 1] * 0.1


g = srcdiff.value_and_grad(loss, wrt=(0,), jit="parallel").background_pair()[0]
rng = np.random.default_rng(0)
v, (d,) = g(rng.normal(size=5), rng.normal(size=(40, 5)), np.array([2, 0]))
src = srcdiff.source(g)
assert "for c in range(chunks)" in src and "rt.prange" not in src, src
print(repr(float(v)), repr(float(d[0])))
'''


def test_chunks_left_on_one_thread_load_from_the_disk_cache_in_another_process(tmp_path):
    """x[idx[0], 1] (an index no test proves) leaves the function with Numba's own checks, so the bounds pass
    keeps its chunks' loop off the threads (`for c in range(chunks)`): no prange starts Numba's threading layer,
    and code loaded from the disk cache in a second process called threads_for's unregistered symbol
    (get_num_threads): a segmentation fault (fuzz seed 1023005, --parallel). backends starts the layer first."""
    import os
    import subprocess
    import sys
    script = tmp_path / "prog.py"
    script.write_text(_ONE_THREAD_CHUNKS)
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([os.path.dirname(here), os.environ.get("PYTHONPATH", "")]))
    runs = [subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
            for _ in range(2)]      # (the second loads the first's compiled code)
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-2000:] for r in runs]
    assert runs[0].stdout == runs[1].stdout
