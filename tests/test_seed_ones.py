"""transforms/seed_ones.py: the seed's products folded (`d_result = d_result3 * result1` after `d_result3 = 1.0` is
`d_result = result1`) where every float is a float64, and nowhere else: float32 arguments (a specialisation of
their own), a float32 the function makes, an int operand, an array name (the gradient would share its memory).
Gradients against central differences, the Python backend against Numba."""
import re

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad
from passes import body_source, parse_function
from srcdiff.transforms import seed_ones
from srcdiff.transforms.kinds import F, Kind


def _seeded(text):
    """The products of a seed (a name bound to 1.0) left in a generated source."""
    seeds = re.findall(r"^\s*(d_\w+) = 1\.0$", text, re.M)
    return [line for s in seeds for line in re.findall(rf"^.*\b{s}\b.*$", text, re.M) if "*" in line]


def scaled_tanh(x, a):
    u = np.tanh(x) * 2.0
    return u * x + np.sum(np.sin(a) * x)


def product_of_sums(x, a):
    return np.sum(a * a) * np.sum(np.cos(a)) + x * x


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f", [scaled_tanh, product_of_sums])
def test_the_seed_is_not_multiplied_where_every_float_is_a_float64(f, jit):
    x, a = 0.4, np.array([0.3, -1.2, 0.8])
    got = check_grad(f, [x, a], wrt=(0, 1), jit=jit)
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
    g(x, a)
    text = srcdiff.source(g)
    assert not _seeded(text), text
    if f is product_of_sums:     # (the seed, unread, goes; scaled_tanh's rt.sum_grad reads it)
        assert not re.search(r"^\s*d_\w+ = 1\.0$", text, re.M), text
    py = srcdiff.grad(f, wrt=(0, 1))(x, a)
    for gj, gp in zip(got, py):
        np.testing.assert_allclose(gj, gp, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("jit", [False, True])
def test_float32_arguments_keep_the_seed_product(jit):
    """A float32 argument: the kinds say "f" of it as of float64, and Numba's float64 seed is what keeps its
    adjoints in float64 (`1.0 * a32` is float64 there, `a32` is not): its own specialisation, product kept."""
    a = np.array([0.3, -1.2, 0.8])
    g = srcdiff.grad(product_of_sums, wrt=(0, 1), jit=jit)
    g(0.4, a)
    g32 = g(np.float32(0.4), a.astype(np.float32))
    assert _seeded(srcdiff.source(g)), srcdiff.source(g)
    want = srcdiff.grad(product_of_sums, wrt=(0, 1), jit=jit)(0.4, a.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(g32[1], want[1].astype(np.float32), rtol=1e-6)
    assert g32[1].dtype == np.float32


def narrowed(x, a):
    b = a.astype(np.float32)
    return np.sum(b * b) * np.sum(a) + x


def int_factor(x, a, n):
    c = n * 2
    return np.mean(a) * c + x


def array_factor(a, w):
    return np.sum(a * w)


@pytest.mark.parametrize("jit", [False, True])
def test_no_fold_of_a_float32_made_an_int_or_an_array_name(jit):
    """A float32 the function makes (its product keeps Numba's float64); an int factor (1.0 * c is a float); an
    array read by name (d_w = a would be the caller's array itself)."""
    a = np.array([0.3, -1.2, 0.8])
    for f, args, wrt in ((narrowed, [0.4, a], (0, 1)), (int_factor, [0.4, a, 3], (0, 1)),
                         (array_factor, [a, a * 2.0], (0, 1))):
        if f is not narrowed:       # (float32 inside: central differences are too coarse; by hand below)
            check_grad(f, args, wrt=wrt, jit=jit)
        g = srcdiff.grad(f, wrt=wrt, jit=jit)
        got = g(*args)
        if f is narrowed:
            b = a.astype(np.float32).astype(np.float64)
            np.testing.assert_allclose(got[1], 2 * b * np.sum(a) + np.sum(b * b), rtol=1e-6)
        assert _seeded(srcdiff.source(g)), srcdiff.source(g)
        if f is array_factor:
            assert not np.shares_memory(got[1], args[0]) and not np.shares_memory(got[0], args[1])


def test_fold_seed_folds_only_float_scalars_and_float_arithmetic():
    fn = parse_function("""
def f(s, v, n, M):
    d_r = 1.0
    d_a = d_r * s
    d_b = -d_r * s
    d_c = d_r * n
    d_d = d_r * v
    d_e = (v * s) * d_r
    d_f = 2.0 * d_r * s
    return d_a + d_b + d_c + np.sum(d_d) + np.sum(d_e) + d_f
""")
    kinds = {"s": F, "v": Kind.array(1, "f"), "n": Kind.scalar("i"), "d_r": F}
    assert body_source(seed_ones.fold_seed(fn, kinds, {"d_r"})) == (
        "d_r = 1.0\nd_a = s\nd_b = -s\nd_c = d_r * n\nd_d = d_r * v\nd_e = v * s\nd_f = 2.0 * s\n"
        "return d_a + d_b + d_c + np.sum(d_d) + np.sum(d_e) + d_f")


def test_a_seed_bound_twice_or_in_a_block_is_not_folded():
    src = """
def f(s, c):
    d_r = 1.0
    d_a = d_r * s
    if c:
        d_r = d_r * s
    d_q = 1.0
    for i in range(3):
        d_p = 1.0
        d_q = d_p * s
    return d_a + d_r + d_q
"""
    kinds = {"s": F}
    assert body_source(seed_ones.fold_seed(parse_function(src), kinds, {"d_r", "d_q", "d_p"})) == \
        body_source(parse_function(src))


def test_a_users_name_bound_to_one_is_not_a_seed():
    src = "def f(s, r):\n    c = 1.0\n    t = c * s\n    d_r = 1.0\n    d_s = d_r * s\n    return t + d_s\n"
    assert body_source(seed_ones.fold_seed(parse_function(src), {"s": F}, {"d_r"})) == \
        "c = 1.0\nt = c * s\nd_s = s\nreturn t + d_s"


def test_floats_stay_float64_sees_narrow_dtypes_and_calls_that_stay():
    for body, wide in (("return np.sum(a)", True), ("return np.sum(a.astype(np.float32))", False),
                       ("return np.sum(np.asarray(a, 'f4'))", False), ("return np.sum(np.zeros(2, dtype='float16'))", False),
                       ("return helper(a)", False), ("return float(len(a))", True)):
        assert seed_ones.floats_stay_float64(parse_function(f"def f(a):\n    {body}\n")) is wide, body
