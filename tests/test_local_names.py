"""transforms/local_names.py (the compiled form only): a name a loop or a branch binds, reads there only after binding
it and that nothing reads after it, takes a name of its own there where it is bound before it too, so that Numba's
SSA rebuild (a walk of the whole function for each name bound more than once) has fewer names to rebuild."""
import ast
import os
import sys

import gast
import numpy as np
import pytest

import srcdiff
from srcdiff.transforms.astutil import parse_stmts
from srcdiff.transforms.local_names import local_names

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))


def _renamed(src: str) -> str:
    fn = parse_stmts(src)[0]
    out = local_names(fn)
    return ast.unparse(gast.gast_to_ast(out))


def test_names_of_a_second_loop_are_its_own():
    """The backward loop's index, its test read back and a value read back get names of their own; what the loop
    carries (`d`, read before it binds it) and what is read after it (`last`) keep theirs; the first loop keeps its
    names, and a function with nothing to rename is the same object."""
    out = _renamed('''
def f(x, n):
    d = 0.0
    for i in range(n):
        c = x[i] > 0.0
        v = x[i] * 2.0
        if c:
            d = d + v
    last = 0.0
    for i in range(n - 1, -1, -1):
        c = x[i] < 1.0
        v = x[i] * 3.0
        if c:
            d = d * v
        last = v
    return d + last
''')
    assert "for i in range(n):" in out and "c = x[i] > 0.0" in out, out
    assert "for i1 in range(n - 1, -1, -1):" in out and "c1 = x[i1] < 1.0" in out and "v1 = x[i1] * 3.0" in out, out
    assert "d = d * v1" in out and "last = v1" in out, out
    fn = parse_stmts("def g(x):\n    y = x + 1.0\n    for i in range(3):\n        y = y * 2.0\n    return y\n")[0]
    assert local_names(fn) is fn


def test_a_name_read_after_the_loop_or_carried_into_it_keeps_its_name():
    out = _renamed('''
def f(x, n):
    k = 0
    t = 1.0
    for i in range(n):
        t = t * x[i]
        k = i
    for i in range(n):
        k = i + 1
        w = x[i]
    return t + k
''')
    assert "t = t * x[i]" in out and "k = i1 + 1" in out, out    # carried; read after the loop
    assert "for i1 in range(n):" in out and "w = x[i1]" in out, out


def test_nested_loops_and_lambdas():
    """An inner loop's names are renamed inside an outer loop where they are its own; a function with a lambda (a
    scope of its own) is left as it is."""
    out = _renamed('''
def f(x, n):
    s = 0.0
    for i in range(n):
        for j in range(2):
            u = x[j]
            s = s + u
        for j in range(2):
            u = x[j] * 2.0
            s = s - u
    return s
''')
    assert "for j1 in range(2):" in out and "u1 = x[j1] * 2.0" in out and "s = s - u1" in out, out
    fn = parse_stmts("def g(x):\n    for i in range(2):\n        y = x\n    for i in range(2):\n"
                     "        y = (lambda z: z)(x)\n    return x\n")[0]
    assert local_names(fn) is fn


@pytest.mark.parametrize("blocks", [3])
def test_loop_blocks_gradient(blocks, tmp_path):
    """The loop program of benchmarks/generation_scaling.py (loop blocks with a branch and an inner loop): the
    backward sweep's loops have names of their own in the compiled form, and the jitted gradient is the Python
    backend's."""
    import generation_scaling as gs
    fn = gs.load_program(blocks, str(tmp_path), loops=True)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=5), rng.normal(size=5)
    t = srcdiff.grad(fn, wrt=(0, 1, 2), jit=True)
    got = t(x, y, 0.3)
    compiled = t.last.generated.compiled
    assert "for i0v1 in range(n1 - 1, -1, -1):" in compiled, compiled
    assert "i0v1" not in srcdiff.source(t)
    want = srcdiff.grad(fn, wrt=(0, 1, 2))(x, y, 0.3)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
