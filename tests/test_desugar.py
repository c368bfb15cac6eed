"""transforms/desugar.py: surface syntax into the small core (before name resolution)."""
import numpy as np
import pytest

import srcdiff
from srcdiff.transforms import annotations as anno
from srcdiff.transforms import desugar
from srcdiff.transforms.astutil import walk, walk_statements
from gradcheck import check_grad
from passes import body_source, through


def augmented(x, a):
    b = a * 1.0
    b += x
    b *= 2.0
    return np.sum(b)


def test_augmented_assignment_is_an_assignment_noted_in_place():
    unit = through(augmented, "desugar")
    assert body_source(unit.node).splitlines()[1:3] == ["b = b + x", "b = b * 2.0"]
    assert [anno.get(s, anno.IN_PLACE) for s in unit.node.body[:3]] == [None, True, True]


def chained(x):
    return 0.0 < x < 1.0


def test_chained_comparison_is_a_conjunction():
    assert body_source(through(chained, "desugar").node) == "return 0.0 < x and x < 1.0"


def over_array(x, a):
    for e in a * 2.0:
        x = x + e
    return x


def test_for_over_an_array_is_a_range_loop_over_a_copy_of_the_iterable():
    unit = through(over_array, "desugar")
    assert body_source(unit.node) == ("seq = a * 2.0\n"
                                      "for k in range(len(seq)):\n"
                                      "    e = seq[k]\n"
                                      "    x = x + e\n"
                                      "return x")
    assert anno.get(unit.node.body[0], anno.LOOP_COPY) == "a * 2.0"   # (the user's spelling: aliasing's message names it)


def swap(x, y):
    x, y = y, x
    return x - y


def test_swap_reads_both_old_values():
    unit = through(swap, "desugar")
    assert swap(1.0, 3.0) == 2.0
    check_grad(swap, [1.0, 3.0])
    assert "x, y = y, x" not in body_source(unit.node)


def sum_of_squares(a):
    return sum(v * v for v in a)


def test_sum_over_a_comprehension_is_an_accumulating_loop():
    unit = through(sum_of_squares, "desugar")
    assert body_source(unit.node) == ("if 0 < len(a):\n"
                                      "    total_sum = rt.zeros_like(a[0] * a[0])\n"
                                      "else:\n"
                                      "    total_sum = 0.0\n"
                                      "for k in range(len(a)):\n"
                                      "    v = a[k]\n"
                                      "    total_sum = total_sum + v * v\n"
                                      "return total_sum")
    term = [s for s in walk_statements(unit.node.body) if anno.get(s, anno.SUM_TERM)]
    assert len(term) == 1 and anno.get(term[0], anno.SUM_START) is not None
    assert sum(1 for n in walk(unit.node) if anno.get(n, anno.MADE)) == 1


def test_zero_sum_starts_drops_the_first_term():
    node = desugar.zero_sum_starts(through(sum_of_squares, "desugar").node)
    assert body_source(node) == ("total_sum = 0.0\n"
                                 "for k in range(len(a)):\n"
                                 "    v = a[k]\n"
                                 "    total_sum = total_sum + v * v\n"
                                 "return total_sum")


def guarded_sum(a, c):
    return sum(v for v in a) if c > 0.0 else 0.0


def test_total_sum_under_a_conditional_expression_is_computed_on_its_own_path():
    src = body_source(through(guarded_sum, "desugar").node)
    assert src.startswith("if c > 0.0:\n")
    assert src.splitlines()[-1] == "return total_if"


def with_try(x):
    try:
        return x
    except ValueError:
        return 0.0


def test_try_is_declined_with_advice():
    with pytest.raises(srcdiff.SrcdiffError, match="try/except is not supported"):
        srcdiff.grad(with_try)(1.0)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [augmented, over_array, sum_of_squares])
def test_gradients_of_desugared_functions(f, jit):
    args = [[0.5, 1.5, 2.0]] if f is sum_of_squares else [0.3, [0.5, 1.5, 2.0]]
    check_grad(f, args, jit=jit)


def over_pairs(w0, b0, w1, b1, x):
    layers = ((w0, b0), (w1, b1))
    for w, b in layers:
        x = np.tanh(w @ x + b)
    for c in (1.0, 2.0, 3.0):
        x = x * c
    return np.sum(x)


def over_pairs_exiting(w0, w1, x):
    for w in (w0, w1):
        if np.sum(w) > 0.0:
            break
        x = x + w
    return np.sum(x)


def test_a_loop_over_a_tuple_literal_is_unrolled_a_loop_over_constants_stays():
    src = body_source(through(over_pairs, "desugar").node).splitlines()
    assert src[1:11] == ["w_b = layers[0]", "rt.check_unpack(w_b, 2)", "w = w_b[0]", "b = w_b[1]",
                         "x = np.tanh(w @ x + b)", "w_b1 = layers[1]", "rt.check_unpack(w_b1, 2)", "w = w_b1[0]",
                         "b = w_b1[1]", "x = np.tanh(w @ x + b)"], src
    assert any(l.startswith("for ") for l in src)                 # (1.0, 2.0, 3.0): still a loop
    with pytest.raises(srcdiff.SrcdiffError, match="break/continue in a loop over a tuple or list literal"):
        through(over_pairs_exiting, "desugar")


def bounds_rebound(x, a):
    n = a.shape[0]
    m = 1
    s = 0.0
    for i in range(n):              # Python reads n once: the body's n - 1 does not shorten the loop
        n = n - 1
        s = s + a[n] * x * i
    for i in range(m, a.shape[0], m + 1):
        m += 1
        s = s * x + a[i] * m
    for k, u in zip(range(n + 3), a):
        n -= 1
        s = s + u * a[n] * x
    return s


def test_range_bounds_the_body_rebinds_are_read_once_before_the_loop():
    """`for i in range(n): n = n - 1` (redteam): the backward sweep ran `range(n - 1, -1, -1)` with the n of
    after the loop (0): a zero gradient. Bounds the body rebinds (also by `+=`) are now bound to names of
    their own before the loop."""
    src = body_source(through(bounds_rebound, "desugar").node).splitlines()
    assert src[3:5] == ["bound = n", "for i in range(bound):"], src


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_range_bounds_the_body_rebinds_gradient(jit):
    check_grad(bounds_rebound, [0.8, [0.3, 0.5, -1.1, 0.4, 0.9]], jit=jit)


def reversed_steps(x, a, st):
    s = 0.0
    n = a.shape[0]
    for i in reversed(range(1, n, 2)):           # 3, 1
        s = s * 0.5 + a[i] * x
    for i in reversed(range(n - 1, -1, -3)):     # 1, 4
        s = s + a[i] ** 2 * s
    for i in reversed(range(n, 0, st)):          # a step in a variable: 2, 4 (st = -2)
        s = s * x + np.sin(a[i - 1] * s)
    for i in reversed(range(0, n, 7)):           # one item
        s = s + a[i] * x
    for i in reversed(range(n, 0, 2)):           # none
        s = s * 100.0
    return s


def test_reversed_range_with_a_step_visits_the_items_backwards():
    """reversed(range(a, b, step)) was declined ('with a step is not supported'): it is now
    range(a + (len(range(a, b, step)) - 1) * step, a - step, -step)."""
    a = [0.3, 0.5, -1.1, 0.4, 0.9]
    for st in (-2, -1, 3):
        check_grad(reversed_steps, [0.8, a, st], wrt=(0, 1))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_reversed_range_with_a_step_gradient(jit):
    check_grad(reversed_steps, [0.8, [0.3, 0.5, -1.1, 0.4, 0.9], -2], wrt=(0, 1), jit=jit)


def sums_over_computed_iterables(M):
    s = sum(M[1] * (e7 * 0.5 + e8) for e7, e8 in zip(np.where(M[1] > -0.3, M[1], M[0]), M[0]))
    t = sum(M[0] * e for e in np.sort(M[1]))
    u = sum(M[1] * k + e for k, e in enumerate(np.tanh(M[0]), start=1))
    return np.sum(s * s) + np.sum(t * M[1]) + np.sum(np.sin(u))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_sum_of_arrays_over_a_computed_iterable(jit):
    """A sum of arrays over a zip or enumerate of a computed array (np.where(...)), or over one, started from 0.0:
    the first term could not be written down without the iterable's name, so Numba could not unify the start
    with the array terms ('Cannot unify float64 and array(float64, 1d, C)': fuzz seed 601160, jit). The
    iterable is now bound to a name before the start (once, as Python evaluates it)."""
    from gradcheck import check_grad
    M = np.array([[0.3, -0.5, 0.1, 0.8], [0.7, -0.2, 0.4, -0.6]])
    got, = check_grad(sums_over_computed_iterables, [M], wrt=(0,), jit=jit)
    np.testing.assert_allclose(got, srcdiff.grad(sums_over_computed_iterables, jit=not jit)(M), rtol=1e-12, atol=1e-14)
    assert srcdiff.grad(sums_over_computed_iterables, jit=jit)(np.zeros((2, 0))).shape == (2, 0)


def sums_over_arithmetic_iterables(M, x):
    p0 = M
    s = sum(p0[0] * (e3 * 0.5 + e4) for j, (e3, e4) in enumerate(zip(p0[0].astype(int) * p0[1], p0[0])))
    t = sum(M[1] * e for e in -np.abs(M[0]) * x)
    u = sum(M[0] * k * e for k, (e, w) in enumerate(zip(M[1] + x, M[0] > 0.0), start=1))
    return np.sum(-s) + np.sum(t * t) + np.sum(np.sin(u))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_sum_of_arrays_over_an_arithmetic_iterable_under_enumerate(jit):
    """A sum of arrays over an arithmetic expression (`-np.abs(M[0]) * x`), also as zip's argument inside
    enumerate, started from 0.0: the iterable was bound to a name only where it was a call directly in the clause
    or in one zip/enumerate, so the first term could not be written down (astype, a method, is not written again)
    and Numba could not unify the start with the array terms (fuzz seed 1060038, jit: 'Numba could not compile
    the generated code ... Cannot unify float64 and array(float64, 1d, C) for `p0`'). Now named before the
    start, nested zip/enumerate too."""
    from gradcheck import check_grad
    M = np.array([[1.3, -0.5, 2.1, 0.8], [0.7, -0.2, 0.4, -0.6]])
    got = check_grad(sums_over_arithmetic_iterables, [M, 0.7], wrt=(0, 1), jit=jit)
    other = srcdiff.grad(sums_over_arithmetic_iterables, wrt=(0, 1), jit=not jit)(M, 0.7)
    for g, o in zip(got, other):
        np.testing.assert_allclose(g, o, rtol=1e-12, atol=1e-14)


# ---- np.array / np.asarray / np.stack of a list comprehension: loops that count and fill ---------------------
def items_of_scalars(a, x):
    ys = np.array([v * a for v in x])
    return np.sum(ys ** 2)


def items_filtered_of_vectors(a, x):
    M = np.asarray([np.sin(x * v) * a for v in x if v > 0])
    return np.sum(M @ x)


def items_two_clauses(a, x):
    P = np.stack([x[i] * x[j] * a for i in range(3) for j in range(i, 3)])
    return np.sum(np.exp(P))


def items_of_a_zip_and_ints(a, x):
    z = np.array([u * w for u, w in zip(x, x[::-1] * a)])
    return np.sum(z * np.array([2 * k for k in range(3)]))


def items_none(a, x):
    ys = np.array([v * a for v in x if v > 10.0])
    return np.sum(ys) + a


def test_a_list_comprehension_in_np_array_becomes_a_count_and_a_fill():
    body = body_source(through(items_of_scalars, "desugar").node)
    assert "ys_items = rt.stack_zeros(ys_items_n, ys_items_first)" in body
    assert "ys_items[ys_items_k] = v * a" in body



def items_stacked_along_an_axis(a, x):
    """np.stack of a list comprehension with axis= (declined before, 'a comprehension is differentiated only as the
    argument of sum(...), or as a list comprehension that np.array, np.asarray or np.stack takes alone', where the
    same list bound to a name first, `cols = [...]` ... `np.stack(cols, axis=1)`, worked)."""
    cols = np.stack([x * (k + a) for k in range(4)], axis=1)
    cube = np.stack([np.outer(x, x) * v for v in x if v > -5.0], axis=-1)
    return np.sum(np.diag(cols[:, :3]) ** 2) + np.sum(np.tril(cols, -1)) + np.sum(cube[0] * np.arange(3.0))


ITEMS = [items_of_scalars, items_filtered_of_vectors, items_two_clauses, items_of_a_zip_and_ints, items_none,
         items_stacked_along_an_axis]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", ITEMS)
def test_arrays_of_list_comprehensions(f, jit):
    """(Declined before: 'a comprehension is differentiated only as the argument of sum(...)'.)"""
    x = np.array([0.3, -1.2, 2.0])
    check_grad(f, [0.7, x], jit=jit)
    value, _ = srcdiff.value_and_grad(f, wrt=0, jit=jit)(0.7, x)
    assert value == pytest.approx(f(0.7, x))
    _, slope = srcdiff.jvp(f, wrt=0, jit=jit)(0.7, x, 1.0)
    assert slope == pytest.approx(srcdiff.grad(f, wrt=0, jit=jit)(0.7, x), rel=1e-9, abs=1e-12)


def test_the_array_has_the_items_dtype():
    from srcdiff import runtime as rt
    assert rt.stack_zeros(3, 2).dtype == np.int64 and rt.stack_zeros(2, np.ones((2, 3), np.float32)).shape == (2, 2, 3)
    assert rt.stack_zeros(2, np.ones((2, 3), np.float32)).dtype == np.float32


def items_filter_always_false(a, x):
    ys = np.array([v * a for v in x if -1.2 > 0.5])
    return np.sum(ys) + a


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_an_array_of_a_comprehension_whose_filter_is_always_false(jit):
    """The first item's binding goes with the dead branch (fuzz seed 810012: a NameError): the array is empty."""
    x = np.array([0.3, -1.2, 2.0])
    value, g = srcdiff.value_and_grad(items_filter_always_false, wrt=0, jit=jit)(0.7, x)
    assert (value, g) == (pytest.approx(0.7), pytest.approx(1.0))
    assert srcdiff.jvp(items_filter_always_false, wrt=0, jit=jit)(0.7, x, 1.0) == (pytest.approx(0.7), pytest.approx(1.0))



def _items_four_calls_deep(p, x):
    ys = np.array([v * p for v in x if v > 10.0])
    rows = np.array([x * v for v in x if v > 10.0])
    return np.sum(ys) + np.sum(rows) + p * p


def _items_deep3(p, x):
    return _items_four_calls_deep(p, x) * 2.0


def _items_deep2(p, x):
    return _items_deep3(p, x) + p


def _items_deep1(p, x):
    return np.sin(_items_deep2(p, x))


def items_in_a_helper_that_stays_a_call(a, x):
    return _items_deep1(a, x) * a


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("x", [[0.3, -1.2, 2.0], [0.3, -1.2, 20.0]], ids=["no_item", "one_item"])
def test_an_array_of_a_comprehension_that_may_run_no_iteration_in_a_helper_that_stays_a_call(x, jit):
    """The helper four calls deep stays a call: the gradient calls its primal copy, whose kinds are unknown, so the
    first item's placeholder stays None; where the comprehension ran no iteration, rt.stack_zeros met it under
    Numba, declined "ys_items_first is bound on some paths only" (fuzz seed 1210052, hvp of sin(f / 2)); now an
    empty array of the item's rank."""
    x = np.array(x)
    check_grad(items_in_a_helper_that_stays_a_call, [0.7, x], jit=jit)
    value, g = srcdiff.value_and_grad(items_in_a_helper_that_stays_a_call, wrt=0, jit=jit)(0.7, x)
    assert value == pytest.approx(items_in_a_helper_that_stays_a_call(0.7, x))
    assert srcdiff.jvp(items_in_a_helper_that_stays_a_call, wrt=0, jit=jit)(0.7, x, 1.0)[1] == pytest.approx(g)
    eps = 1e-5
    grad = srcdiff.grad(items_in_a_helper_that_stays_a_call, wrt=0)
    fd = (grad(0.7 + eps, x) - grad(0.7 - eps, x)) / (2 * eps)
    assert srcdiff.hvp(items_in_a_helper_that_stays_a_call, wrt=0, jit=jit)(0.7, x, 1.0) == pytest.approx(fd, rel=1e-5)


def test_the_array_of_no_items_whose_first_is_none_is_an_empty_float_vector():
    from srcdiff import runtime as rt
    empty = rt.stack_zeros(0, None)
    assert empty.shape == (0,) and empty.dtype == np.float64


# ---- for/while ... else: a flag the loop's own breaks set ------------------------------------------------
def for_else_nested(a, x):
    acc = 0.0
    for i in range(3):
        for j in range(3):
            if x[i] * x[j] * a > 1.0:
                break
            acc += np.sin(x[i] * a + x[j])
        else:
            acc += 0.1 * a
    return acc


def while_else(a, x):
    k = 0
    s = 0.0
    while k < 3:
        s += x[k] * a
        if s > 2.0:
            break
        k += 1
    else:
        s = s * a
    return s


def search_else(a, x):
    for v in x:
        if v * a > 0.5:
            found = v * a
            break
    else:
        found = -a
    return found * found


def test_a_loop_else_becomes_a_flag_and_an_if():
    body = body_source(through(search_else, "desugar").node)
    assert "broke = False" in body and "broke = True" in body and "if not broke:" in body


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("a", [0.7, 0.2, -0.9])
@pytest.mark.parametrize("f", [for_else_nested, while_else, search_else])
def test_loop_else_gradients(f, a, jit):
    """(Declined before: 'for/else is not supported'.) The values of a pick which paths break."""
    x = np.array([0.3, -1.2, 2.0])
    check_grad(f, [a, x], jit=jit)
    value, slope = srcdiff.jvp(f, wrt=0, jit=jit)(a, x, 1.0)
    assert value == pytest.approx(f(a, x))
    assert slope == pytest.approx(srcdiff.grad(f, wrt=0, jit=jit)(a, x), rel=1e-9, abs=1e-12)


def search_returns_in_else(x, a):
    for i in range(len(x)):
        for j in range(len(x)):
            if x[i] + x[j] > 1.7:
                return x[i] * x[j] * a
        else:
            continue
    else:
        return a * np.sum(x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_a_loop_without_break_whose_else_returns_ends_the_function(scale, jit):
    """(Declined before: 'must end with a return statement'.) A loop with no break of its own always runs
    its else: the else's statements follow the loop unguarded, and the function ends in its return."""
    x = np.array([0.3, 0.7, 0.21, 0.45, 0.9]) * scale
    check_grad(search_returns_in_else, [x, 1.3], jit=jit)
    value, slope = srcdiff.jvp(search_returns_in_else, wrt=1, jit=jit)(x, 1.3, 1.0)
    assert value == pytest.approx(search_returns_in_else(x, 1.3))
    assert slope == pytest.approx(srcdiff.grad(search_returns_in_else, wrt=1, jit=jit)(x, 1.3), rel=1e-9)


def sums_with_a_start(x, w):
    e = sum((w * v * v for v in x), 0.5)
    f = sum([np.sin(v) for v in x], start=x[0])
    g = sum((x[i] * x for i in range(2)), np.zeros(len(x)))
    return e + f + np.sum(g ** 2) + sum([w, x[1]], 1.0) + sum(x * w, 2.0)


def test_sum_with_a_start_is_the_start_plus_the_sum():
    # sum(terms, start) was declined ("sum(...) with a start value is not supported")
    check_grad(sums_with_a_start, [np.array([0.3, -0.8, 1.1]), 0.7], wrt=(0, 1))
    _, dot = srcdiff.jvp(sums_with_a_start, wrt=1)(np.array([0.3, -0.8, 1.1]), 0.7, 1.0)
    assert dot == pytest.approx(srcdiff.grad(sums_with_a_start, wrt=1)(np.array([0.3, -0.8, 1.1]), 0.7))


def shouted_sines(p):
    print("shouted_sines ran")
    return np.sin(p)


def chained_with_a_call(x):
    s = 0.0
    for i in range(3):
        if 0.0 < np.sum(shouted_sines(x * (i + 1.0))) < 1.5:
            s = s + np.sum(x * x) * (i + 1.0)
        else:
            s = s + np.sum(np.cos(x))
    return s


def test_chained_comparison_binds_a_middle_call_once():
    unit = through(chained_with_a_call, "desugar")
    text = body_source(unit.node)
    assert text.count("shouted_sines(") == 1
    assert "if 0.0 < middle and middle < 1.5:" in text


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_chained_comparison_evaluates_its_middle_call_once(jit, capfd):
    """Fuzz 921078: `lo < f(x) < hi` was `lo < f(x) and f(x) < hi`: the helper ran (and printed) twice where the
    first comparison held, and a second differentiation met the copy whose value went unread."""
    x = np.array([0.3, -0.2, 0.5])
    capfd.readouterr()
    value, _ = srcdiff.value_and_grad(chained_with_a_call, jit=jit)(x)
    assert capfd.readouterr().out.count("shouted_sines ran") == 3
    assert value == pytest.approx(chained_with_a_call(x))
    capfd.readouterr()
    check_grad(chained_with_a_call, [x], jit=jit)
    hv = srcdiff.hvp(chained_with_a_call, jit=jit)(x, np.ones(3))
    g = srcdiff.grad(chained_with_a_call)
    fd = (g(x + 1e-6) - g(x - 1e-6)) / 2e-6
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


# ---- f-strings (print's and assert's text): rt.fstring of the fields' values, str.format's text in both backends
def printing_steps(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sin(x[i % 2]) * i
        if i % 2 == 0:
            print(f"step {i}: total={total:.4f} {{braces}} {np.sum(x) * 2:8.2e} {i!r:>3}")
    assert total < 1e6, f"diverged: {total}"
    return total * x[0]


def test_an_fstring_is_a_format_call_of_its_fields():
    src = body_source(through(printing_steps, "desugar").node)
    assert "rt.fstring('step {}: total={:.4f} {{braces}} {:8.2e} {!r:>3}', i, total, np.sum(x) * 2, i)" in src
    assert "rt.fstring('diverged: {}', total)" in src


def _expected_lines(x, n):
    total, out = 0.0, []
    for i in range(n):
        total = total + np.sin(x[i % 2]) * i
        if i % 2 == 0:
            out.append(f"step {i}: total={total:.4f} {{braces}} {np.sum(x) * 2:8.2e} {i!r:>3}")
    return out


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_fstrings_print_python_text_and_leave_the_derivatives(jit, capfd):
    """f-strings were declined ('JoinedStr expressions are not supported'). Numba alone formats no float with a
    spec (it printed '<object type:float64>' for a float field): the text must be Python's in both backends."""
    x = np.array([0.3, 0.7])
    capfd.readouterr()
    check_grad(printing_steps, [x, 5], wrt=0, jit=jit)
    v, t = srcdiff.jvp(printing_steps, jit=jit)(x, 5, np.array([1.0, -0.5]))
    assert np.isclose(v, printing_steps(x, 5))
    lines = [ln for ln in capfd.readouterr().out.splitlines() if ln.startswith("step")]
    want = _expected_lines(x, 5)
    assert lines and len(lines) % len(want) == 0 and lines == want * (len(lines) // len(want))


def nested_spec(x, n):
    print(f"{x[0]:.{n}f}")
    return np.sum(x * x)


def test_an_fstring_spec_with_a_field_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_desugar\.py:\d+: an f-string whose format spec holds a "
                                                   r"field(.|\n)*hint: write the spec out"):
        srcdiff.grad(nested_spec)(np.ones(2), 3)
