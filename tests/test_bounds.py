"""Bounds tests written once per loop (srcdiff/transforms/bounds.py): a jitted function whose indices the pass
proves in range given the tests it writes is compiled without Numba's per-access checks, and an out-of-range
index still raises IndexError as the user's f does, before or after; one it cannot prove keeps Numba's checks."""
import re

import numpy as np
import pytest

import srcdiff
from srcdiff.transforms import bounds
from gradcheck import numerical_grad


def recurrence(a, b, y0, dt, n, obs):
    ys = np.zeros(n + 1)
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + dt * (a * ys[t] - b * ys[t] ** 2)
    return np.sum((ys - obs) ** 2)


def lagged(a, x, n):
    y = 1.0
    for i in range(n):
        y = y * np.sin(a * x[i]) + x[i - 1]     # x[-1] at i = 0: Python's wraparound, the last element
    return y


def ahead(a, x, n):
    s = 0.0
    for i in range(n):
        s = s + a * x[i + 1] ** 2
    return s


def behind(a, x, n):
    s = 0.0
    for i in range(n):
        s = s + a * x[i - 2] ** 2
    return s


def rows(w, x, m):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(m):
            s += w[j] * x[i, j] ** 2
    return s


def guarded(a, x, n):
    s = 0.0
    for i in range(n):
        if i > 0:
            s = s + a * x[i - 1] * x[i]
    return s


def _compiled(g):
    """The jitted entry function of grad object `g` after its first call (a Numba dispatcher)."""
    fn = g.last.function
    assert hasattr(fn, "targetoptions"), fn
    return fn


def _fd(f, args, k):
    return numerical_grad(f, args, k)


def test_recurrence_compiles_without_per_access_checks_and_keeps_its_gradient():
    n = 40
    obs = np.linspace(0.4, 0.9, n + 1)
    args = (1.5, 0.7, 0.5, 1e-2, n, obs)
    g = srcdiff.value_and_grad(recurrence, wrt=("a", "b"), jit=True)
    value, (da, db) = g(*args)
    assert _compiled(g).targetoptions["boundscheck"] is False
    src = g.source
    assert bounds.MARK in src
    assert "if n > 0 and n >= len(d_ys):" in src            # the backward sweep's one test, before its loop
    assert re.search(r"raise IndexError\('d_ys\[t \+ 1\] out of range \(line \d+: ys\[t \+ 1\] = ys\[t\] ", src)
    py_value, (py_da, py_db) = srcdiff.value_and_grad(recurrence, wrt=("a", "b"))(*args)
    np.testing.assert_allclose([value, da, db], [py_value, py_da, py_db], rtol=1e-12)
    np.testing.assert_allclose(value, recurrence(*args), rtol=1e-12)
    np.testing.assert_allclose([da, db], [_fd(recurrence, args, 0), _fd(recurrence, args, 1)], rtol=1e-5)
    with pytest.raises(IndexError):                  # n = -1: ys = np.zeros(0), ys[0] is out of range
        recurrence(1.5, 0.7, 0.5, 1e-2, -1, obs[:0])
    with pytest.raises(IndexError):
        g(1.5, 0.7, 0.5, 1e-2, -1, obs[:0])
    empty = g(1.5, 0.7, 0.5, 1e-2, 0, obs[:1])       # a loop that does not run tests nothing
    np.testing.assert_allclose(empty[0], recurrence(1.5, 0.7, 0.5, 1e-2, 0, obs[:1]))


@pytest.mark.parametrize("f, length, n", [(ahead, 5, 5), (ahead, 5, 4), (behind, 1, 1), (behind, 2, 2),
                                          (lagged, 4, 5), (lagged, 4, 4), (lagged, 1, 1)])
def test_loop_indices_raise_index_error_as_f_does(f, length, n):
    """x[i + 1], x[i - 2], x[i] with x[i - 1] over range(n): in range, wrapped (negative), or past either end."""
    x = np.linspace(0.3, 0.9, length)
    g = srcdiff.grad(f, wrt=(0, 1), jit=True)
    try:
        expect = f(0.8, x, n)
    except IndexError:
        with pytest.raises(IndexError):
            g(0.8, x, n)
        assert _compiled(g).targetoptions["boundscheck"] is False
        return
    da, dx = g(0.8, x, n)
    assert _compiled(g).targetoptions["boundscheck"] is False
    py_da, py_dx = srcdiff.grad(f, wrt=(0, 1))(0.8, x, n)
    np.testing.assert_allclose(da, py_da, rtol=1e-12)
    np.testing.assert_allclose(dx, py_dx, rtol=1e-12)
    np.testing.assert_allclose(da, _fd(f, (0.8, x, n), 0), rtol=1e-5)
    np.testing.assert_allclose(dx, _fd(f, (0.8, x, n), 1), rtol=1e-5, atol=1e-7)
    assert np.isfinite(expect)


def test_nested_loops_test_both_axes_before_the_inner_loop():
    w = np.array([0.5, -1.0, 2.0])
    x = np.arange(6.0).reshape(2, 3) / 7
    g = srcdiff.grad(rows, wrt=(0, 1), jit=True)
    dw, dx = g(w, x, 3)
    assert _compiled(g).targetoptions["boundscheck"] is False
    py_dw, py_dx = srcdiff.grad(rows, wrt=(0, 1))(w, x, 3)
    np.testing.assert_allclose(dw, py_dw, rtol=1e-12)
    np.testing.assert_allclose(dx, py_dx, rtol=1e-12)
    np.testing.assert_allclose(dw, _fd(rows, (w, x, 3), 0), rtol=1e-5)
    np.testing.assert_allclose(dx, _fd(rows, (w, x, 3), 1), rtol=1e-5, atol=1e-7)
    with pytest.raises(IndexError):
        rows(w, x, 4)
    with pytest.raises(IndexError):
        g(w, x, 4)                                # x[i, 3] and w[3]: past the second axis


def test_a_subscript_under_an_if_keeps_numbas_checks():
    x = np.linspace(0.3, 0.9, 5)
    g = srcdiff.grad(guarded, wrt=(0, 1), jit=True)
    da, dx = g(0.8, x, 5)
    assert _compiled(g).targetoptions["boundscheck"] is True
    assert bounds.MARK not in g.source
    py_da, py_dx = srcdiff.grad(guarded, wrt=(0, 1))(0.8, x, 5)
    np.testing.assert_allclose(da, py_da, rtol=1e-12)
    np.testing.assert_allclose(dx, py_dx, rtol=1e-12)
    with pytest.raises(IndexError):
        guarded(0.8, x, 6)
    with pytest.raises(IndexError):
        g(0.8, x, 6)


# ---- the pass on generated code directly: the backward sweep's tapes and adjoints ------------------------

BACKWARD = '''
def sweep(x, n, d_y):
    y_tape = np.empty(max(n, 0))
    for i in range(n):
        y_tape[i] = x[i]
    d_x = np.zeros_like(x)
    for i in range(n - 1, -1, -1):
        y = y_tape[i]
        k = i - 1
        d_x[k] += d_y * y
        d_x[i] += d_y
    return d_x
'''


def _proved(source):
    import gast
    from srcdiff.transforms import emit
    fn = gast.parse(source).body[0]
    new = bounds.hoist_checks(fn)
    return new is not fn, emit.to_source(new)


def test_backward_sweep_tapes_need_no_test_and_adjoints_are_tested_once():
    import numba
    proved, text = _proved(BACKWARD)
    assert proved
    assert "y_tape)" not in text                 # the tape is as long as the loop by construction: no test
    tests = [line.strip() for line in text.splitlines() if line.strip().startswith("if ")]
    assert tests == ["if n > 0 and n > len(x):", "if n > 0 and n > len(d_x):"]
    scope = {"np": np}
    exec(compile(text, "<bounds>", "exec"), scope)
    fast = numba.njit(boundscheck=False)(scope["sweep"])
    slow = numba.njit(boundscheck=True)(scope["sweep"])
    x = np.linspace(1.0, 2.0, 4)
    np.testing.assert_allclose(fast(x, 4, 0.5), slow(x, 4, 0.5))
    np.testing.assert_allclose(fast(x, 4, 0.5), scope["sweep"](x, 4, 0.5))   # d_x[-1] at i = 0 wraps
    for n in (5, 9):
        with pytest.raises(IndexError):
            scope["sweep"](x, n, 0.5)
        with pytest.raises(IndexError):
            fast(x, n, 0.5)


@pytest.mark.parametrize("body, proved", [
    ("for i in range(n):\n        if i > 0:\n            s += x[i]", False),     # conditional access
    ("i = 0\n    while i < n:\n        s += x[i]\n        i += 1", False),       # a while loop
    ("for i in range(n):\n        s += x[i]\n        if s > 1.0:\n            break", False),
    ("for i in range(n):\n        s += x[idx]", False),                         # idx: not known to be an integer
    ("for i in range(n):\n        s += x[i] if s > 0 else 0.0", False),         # a conditional expression
    ("for i in range(0, n, 2):\n        s += x[i]", False),                     # step 2: last value not affine
    ("for i in range(n):\n        s += x[i, :].sum()", True),
    ("for i in range(n):\n        s += x[n - 1 - i]", True),
    ("for i in range(n):\n        i = i + 1\n        s += x[i]", True),            # the loop variable rebound
    ("for i in range(n):\n        s += x[i]\n        i = idx", True),
    ("for i in range(n):\n        i = idx\n        s += x[i]", False),
    ("i = 0\n    while x[i] < 1.0:\n        i = i + 1", False),                  # a while loop's test
    ("for i in range(n):\n        for j in range(i):\n            s += x[i, j]", True),
])
def test_what_the_pass_proves(body, proved):
    source = f"def f(x, n, idx):\n    s = 0.0\n    {body}\n    return s\n"
    assert _proved(source)[0] is proved


def test_reversed_index_tests_both_ends():
    proved, text = _proved("def f(x, n):\n    s = 0.0\n    for i in range(n):\n        s += x[n - 1 - i]\n"
                           "    return s\n")
    assert "if n > 0 and n > len(x):" in text
    scope = {"np": np}
    exec(compile(text, "<bounds>", "exec"), scope)
    assert scope["f"](np.ones(3), 3) == 3.0
    with pytest.raises(IndexError):
        scope["f"](np.ones(3), 4)


def test_straight_line_indices_are_tested_before_their_statement():
    proved, text = _proved("def f(x):\n    s = x[0] * x[-2]\n    x[0] = s\n    m = len(x) // 2\n"
                           "    return s + x[m + 1]\n")
    assert proved
    tests = [line.strip() for line in text.splitlines() if line.strip().startswith("if ")]
    assert tests == ["if len(x) < 2:", "if m + 1 >= len(x) or m + 1 < -len(x):"]   # x[0] = s: tested above
    scope = {"np": np}
    exec(compile(text, "<bounds>", "exec"), scope)
    assert scope["f"](np.arange(3.0)) == 2.0
    for x in (np.ones(1), np.ones(2)):
        with pytest.raises(IndexError):
            scope["f"](x)


def test_a_proved_function_is_noted_on_its_tree_not_read_from_its_comment():
    """The bounds pass notes the function it proved (annotations.BOUNDS_PROVED), which the compiler hands the
    backends as generated.FunctionFacts.bounds_proved; the comment at its top is for the reader only."""
    import gast
    from srcdiff.transforms import annotations as anno
    new = bounds.hoist_checks(gast.parse(BACKWARD).body[0])
    assert anno.get(new, anno.BOUNDS_PROVED) is True
    unproved = gast.parse("def f(x, i):\n    if i > 0:\n        return x[i]\n    return 0.0\n").body[0]
    assert bounds.hoist_checks(unproved) is unproved and not anno.has(unproved, anno.BOUNDS_PROVED)
    g = srcdiff.grad(ahead, wrt=0, jit=True)
    g(0.8, np.linspace(0.3, 0.9, 5), 4)
    assert g.last.generated.facts.bounds_proved() == {g.last.module.entry}


def test_forward_mode_over_a_proved_gradient():
    """The tests in jitted generated code are dropped when it is differentiated again (`raise` is not
    differentiable code); the derivative made from it writes its own."""
    x = np.linspace(0.3, 0.9, 5)
    inner = srcdiff.grad(ahead, wrt=0, jit=True)
    inner(0.8, x, 4)
    assert bounds.MARK in inner.source
    got = srcdiff.jvp(inner, wrt=0, jit=True)(0.8, x, 4, 1.0)
    expect = srcdiff.jvp(srcdiff.grad(ahead, wrt=0), wrt=0)(0.8, x, 4, 1.0)
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    with pytest.raises(IndexError):
        srcdiff.jvp(inner, wrt=0, jit=True)(0.8, x, 5, 1.0)


@pytest.mark.parametrize("body", [
    "for i in range(n):\n        s += x[i]\n        if s > 1.0:\n            s = s * x[i + 1]",   # proved
    "for i in range(n):\n        if i > 0:\n            s += x[i]",                           # unproved
    "for i in range(n):\n        for j in range(i):\n            s += x[i, j]",               # proved, nested
])
def test_the_function_given_is_left_as_it_was(body):
    """The pass writes its tests into copies of the compound statements (it no longer clones the whole
    function first): the tree it was given prints the same after it, proved or not."""
    import gast
    from srcdiff.transforms import emit
    fn = gast.parse(f"def f(x, n, idx):\n    s = 0.0\n    {body}\n    return s\n").body[0]
    before = emit.to_source(fn)
    new = bounds.hoist_checks(fn)
    assert emit.to_source(fn) == before
    if new is not fn:
        assert "raise IndexError" in emit.to_source(new) or bounds.MARK in emit.to_source(new)


def test_shape_elements_need_no_test_and_a_shape_tuple_neither():
    """`x.shape[0]` and `n = x.shape; n[0]` (Numba checks tuple indices itself): the function comes back as
    given, found in the one walk of the function: the prover's statement-by-statement pass (its `block`
    frames, seen through sys.setprofile) does not run. A subscript of an array does run it."""
    import sys
    def prover_blocks(src):
        seen = []
        def profile(frame, event, arg):
            if event == "call" and frame.f_code.co_name == "block" and frame.f_code.co_filename == bounds.__file__:
                seen.append(frame.f_lineno)
        sys.setprofile(profile)
        try:
            proved, text = _proved(src)
        finally:
            sys.setprofile(None)
        return proved, text, len(seen)
    for src in ("def f(x):\n    return x.shape[0] * 2.0\n", "def f(x):\n    n = x.shape\n    return n[0] * 2.0\n",
                "def f(x):\n    n = x.shape\n    m = (n[0], 2)\n    return m[1] * n[1] * 2.0\n"):
        proved, text, blocks = prover_blocks(src)
        assert not proved and bounds.MARK not in text and blocks == 0, (src, blocks)
    proved, text, blocks = prover_blocks("def f(x):\n    n = x.shape\n    return x[0] * n[0]\n")
    assert proved and blocks > 0


BLOCKS = '''
def f(x, y, m):
    block = rt.block_rows(x)
    buf = np.empty(block)
    out = np.empty(m)
    s = 0.0
    for i0 in range(0, x.shape[0], block):
        x_block = x[i0:i0 + block]
        rows = x_block.shape[0]
        for k in range(rows):
            buf[k] = y[k]
        for k in range(rows):
            s += out[k] + buf[k]
    return s
'''


def test_a_slice_is_at_most_as_long_as_its_width():
    """`rows = x_block.shape[0]` of `x_block = x[i0:i0 + block]` is at most block (a slice is clipped) and
    rt.block_rows is a length: a buffer np.empty(block) needs no test over range(rows) (the row blocks of
    optimize/rowblocks.py); y and out, of other lengths, still get theirs, once per block."""
    proved, text = _proved(BLOCKS)
    assert proved
    tests = [line.strip() for line in text.splitlines() if line.strip().startswith("if ")]
    assert tests == ["if rows > 0 and rows > len(y):", "if rows > 0 and rows > len(out):"], text
    widths = BLOCKS.replace("x_block = x[i0:i0 + block]", "x_block = x[i0:i0 + block + 1]")
    assert "rows > len(buf)" in _proved(widths)[1]                  # wider than the buffer: tested
    negative = BLOCKS.replace("block = rt.block_rows(x)", "block = m - 5")
    assert "rows > len(buf)" in _proved(negative)[1]                # a width not known to be >= 0: x[0:-1] is long
