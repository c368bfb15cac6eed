"""transforms/optimize/: the cleanup passes over the generated function, each on a small input."""
import numpy as np
import pytest

import srcdiff
from srcdiff.transforms import optimize
from gradcheck import check_grad, numerical_grad
from passes import body_source, parse_function


def run(pass_, src, *args):
    return body_source(pass_(parse_function(src), *args))


def test_dead_code_drops_assignments_nothing_reads():
    assert run(optimize.eliminate_dead_code, """
def f(x):
    t = np.exp(x)
    u = t * 2.0
    v = np.sin(x)
    return v
""") == "v = np.sin(x)\nreturn v"


def test_dead_code_keeps_what_changes_state():
    src = """
def f(x, s):
    v = rt.pop(s)
    r = np.random.normal()
    w = g(x)
    return x
"""
    assert run(optimize.eliminate_dead_code, src) == "v = rt.pop(s)\nr = np.random.normal()\nw = g(x)\nreturn x"


def test_dead_code_empties_a_loop_of_dead_statements():
    assert run(optimize.eliminate_dead_code, """
def f(x):
    for i in range(3):
        t = x * i
    return x
""") == "return x"


def test_copies_are_propagated():
    assert run(optimize.propagate_copies, """
def f(x):
    a = np.exp(x)
    b = a
    return b * 2.0
""") == "a = np.exp(x)\nreturn a * 2.0"


def test_common_subexpression_reuses_the_first_result():
    assert run(optimize.common_subexpressions, """
def f(x):
    a = np.exp(x)
    b = np.exp(x)
    return a + b
""") == "a = np.exp(x)\nreturn a + a"


def test_common_subexpression_forgets_an_array_read_once_it_is_written():
    assert run(optimize.common_subexpressions, """
def f(x):
    a = x[0] * 2.0
    x[0] = 1.0
    b = x[0] * 2.0
    return a + b
""") == "a = x[0] * 2.0\nx[0] = 1.0\nb = x[0] * 2.0\nreturn a + b"


def test_elementwise_temporaries_read_once_are_fused():
    fn = parse_function("""
def f(z):
    t = np.abs(z)
    u = np.exp(-t)
    r = np.log1p(u)
    return r
""")
    for s in fn.body:
        s.lineno = 1
    arr = ("a", 1, "f")
    out = body_source(optimize.fuse_elementwise(fn, {"z": arr, "t": arr, "u": arr, "r": arr}))
    assert out == "r = np.log1p(np.exp(-np.abs(z)))\nreturn r"


def test_scalars_are_not_fused():
    fn = parse_function("""
def f(z):
    t = np.abs(z)
    r = np.exp(t)
    return r
""")
    for s in fn.body:
        s.lineno = 1
    sc = ("s", "f")
    assert body_source(optimize.fuse_elementwise(fn, {"z": sc, "t": sc, "r": sc})).startswith("t = np.abs(z)")


def test_common_subexpression_keeps_a_name_a_loop_rebinds_apart():
    """`e = x[k]` and `f = x[k]` are not one name when a loop then rebinds e: f is read after it."""
    assert run(optimize.common_subexpressions, """
def f(x, k):
    e = x[k]
    g = x[k]
    for i in range(2):
        e = 0.5 * e
    return e + g
""") == "e = x[k]\ng = x[k]\nfor i in range(2):\n    e = 0.5 * e\nreturn e + g"


def zip_loop_rebinding_the_first(a):
    buf = a * 1.0
    for e, f in zip(a, a):
        for i in range(2):
            e = 0.5 * e
        buf[2] *= np.sin(f) + e
    return np.sum(buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("checkpoints", [None, 2])
def test_gradient_of_a_zip_whose_first_name_an_inner_loop_rebinds(jit, checkpoints):
    """Fuzz seed 167784 (a wrong gradient, taped and checkpointed, d/da 0.912 where central differences give
    0.915): common subexpressions merged f = a[k] into e = a[k], so `np.sin(f)` read e after the inner loop
    had halved it."""
    a = np.array([0.38, -0.96, -0.79])
    g = srcdiff.grad(zip_loop_rebinding_the_first, jit=jit, checkpoints=checkpoints)(a.copy())
    np.testing.assert_allclose(g, numerical_grad(zip_loop_rebinding_the_first, [a.copy()], 0), rtol=1e-6, atol=1e-8)
    taped = srcdiff.grad(zip_loop_rebinding_the_first, jit=jit)(a.copy())
    np.testing.assert_allclose(g, taped, rtol=1e-12, atol=1e-12)


def fused(z):
    return np.sum(np.log1p(np.exp(-np.abs(z))) * z)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_after_the_cleanup_passes(jit):
    check_grad(fused, [np.array([-1.0, 0.5, 2.0])], jit=jit)


# ---- moved from test_regressions.py ------------------------------------------------------------------
def centred_moments(x):
    a = np.sum((x - np.mean(x)) ** 2)
    b = np.sum((x - np.mean(x)) ** 3)
    return a + b


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_cse_merges_expressions_over_merged_operands(jit):
    """`x - np.mean(x)` written twice is computed once: the second mean merges with the first, and
    then so does the subtraction that reads it (only the first level merged before)."""
    g = srcdiff.grad(centred_moments, jit=jit)
    src = srcdiff.source(g)
    code = [line for line in src.splitlines() if not line.strip().startswith("#")]
    assert sum("= np.mean(x)" in line for line in code) == 1, src
    assert sum("= x - " in line for line in code) == 1, src
    check_grad(centred_moments, [np.random.default_rng(3).normal(size=5)], jit=jit)
