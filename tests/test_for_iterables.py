"""`for` over an array, `enumerate` or `zip` whose body binds the iterated name again (issue 18, fuzz seeds
3238, 5495, 6002, 6032, 6244, 6840, 7916: silently wrong gradients and values).

Python iterates over the object the iterable was when the loop began: after `a = a * e` the loop still
walks the old `a`. desugar lowered `for e in a:` to `for k in range(len(a)): e = a[k]`, reading the
name's current value, so every later item came from the rebound array. Writes in place (`a[i] = ...`,
`a += ...` on an array) are different: Python's iterator sees them, and so must the lowered loop.

Each case is checked against central differences in both backends (grad, and value_and_grad's value
against f), and in the Python backend jvp against vdot(grad, v).
"""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

A = np.array([0.3, -0.7, 1.2])
M = np.array([[0.4, -0.2, 0.9], [-1.1, 0.6, 0.3]])


def rebinds_loop_array(a):
    for e in a:
        a = a * e
    return np.sum(a)


def rebinds_enumerated_array(a):
    s = 0.0
    for i, e in enumerate(a):
        a = np.sin(a) + e * i
        s = s + e * a[i]
    return s + np.sum(a)


def rebinds_first_zipped_array(a):
    for e, r in zip(a, a * 2.0):
        a = 0.5 * a + np.tanh(e * r)
    return np.sum(a * a)


def rebinds_matrix_in_nested_branch(m):
    s = 0.0
    for row in m:
        for j in range(2):
            if row[j] > -2.0:
                m = 0.5 * m + 0.5 * np.tanh(m)
        s = s + np.sum(row * m[0])
    return s + np.sum(m)


def rebinds_by_unpacking(a):
    b = a * 2.0
    for e in a:
        a, b = b * e, a
    return np.sum(a) + np.sum(b * b)


def loop_target_is_the_iterable(m):
    s = 0.0
    for m in m:              # the rows of the argument, one after the other
        s = s + np.sum(m * m[0])
    return s


def writes_loop_array_in_place(a):
    b = a.copy()
    for e in b:
        b[1] = b[1] * e + 1.0    # Python's iterator sees the new b[1] when it reaches it
    return np.sum(b * b)


def adds_to_loop_array_in_place(a):
    b = a * 1.0
    for e in b:
        b += e * e               # in place: each later item already has the earlier additions
    return np.sum(b)


CASES = [(rebinds_loop_array, A), (rebinds_enumerated_array, A), (rebinds_first_zipped_array, A),
         (rebinds_matrix_in_nested_branch, M), (rebinds_by_unpacking, A),
         (writes_loop_array_in_place, A),
         (adds_to_loop_array_in_place, A)]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, x", CASES, ids=[f.__name__ for f, _ in CASES])
def test_loop_walks_the_iterable_it_began_with(f, x, jit):
    expect = numerical_grad(f, [x.copy()], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, g = srcdiff.value_and_grad(f, jit=jit)(x.copy())
        np.testing.assert_allclose(value, f(x.copy()), rtol=1e-12, err_msg="value_and_grad value")
        np.testing.assert_allclose(g, expect, rtol=1e-5, atol=1e-6, err_msg="gradient")
        if not jit:
            v = np.cos(np.arange(x.size) + 1.0).reshape(x.shape)
            y, t = srcdiff.jvp(f)(x.copy(), v)
            np.testing.assert_allclose(y, f(x.copy()), rtol=1e-12, err_msg="jvp value")
            np.testing.assert_allclose(t, np.vdot(expect, v), rtol=1e-5, atol=1e-6, err_msg="jvp tangent")


def test_loop_target_is_the_iterable():
    # the head `m = seq[k]` rebinds the iterated name itself: it used to index the previous row (IndexError).
    # Under jit=True the name changes rank in the loop, which Numba cannot type: a SrcdiffError at the loop.
    x = M.copy()
    expect = numerical_grad(loop_target_is_the_iterable, [x], 0)
    np.testing.assert_allclose(srcdiff.grad(loop_target_is_the_iterable)(x.copy()), expect, rtol=1e-5, atol=1e-6)
    with pytest.raises(srcdiff.SrcdiffError, match="test_for_iterables.py:.*Cannot unify"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            srcdiff.grad(loop_target_is_the_iterable, jit=True)(x.copy())


def seed_3238(x, a, m):
    """Fuzz seed 3238, minimised: the outer loop walks m[1] while the inner loop binds it again."""
    u = m[1]
    for i, e in enumerate(u):
        for j in range(a.shape[0]):
            u = np.sin(u + np.array([e, x, a[(j + 1) % 3]]))
            a = 0.5 * a
    return np.sum(u)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_fuzz_seed_3238_every_argument(jit):
    args = [-1.27, np.array([-0.03, 0.93, 0.83]), np.array([[0.38, 0.65, 0.17], [0.75, -1.05, 0.51]])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(seed_3238, wrt=(0, 1, 2), jit=jit)(args[0], args[1].copy(), args[2].copy())
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, numerical_grad(seed_3238, args, k), rtol=1e-5, atol=1e-6,
                                   err_msg=f"d/d arg {k}")


# ---- enumerate with a start, enumerate around zip, zip over a range (README "What it handles") ----------
# Each was declined before (enumerate(zip(...)) named zip "a class or bound method", a start was "a loop that
# does not unpack") or compiled only in Python (range inside zip: Numba cannot index a range object), and a
# sum of arrays over zip / enumerate started from 0.0, which Numba declined.

def enumerate_around_zip(x):
    s = 0.0
    for i, (a, b) in enumerate(zip(x[:-1], x[1:])):
        s += (i + 1) * a * b
    return s


def enumerate_item_is_a_pair(x):
    s = 0.0
    for i, ab in enumerate(zip(x[:-1], x[1:])):
        s += (i + 1) * ab[0] * ab[1]
    return s


def zip_inside_zip(x):
    s = 0.0
    for a, (b, c) in zip(x, zip(x[::-1], x)):
        s += a * b * c
    return s


def enumerate_from_one(x):
    s = 0.0
    for i, v in enumerate(x, 1):
        s += i * v * v
    return s


def start_read_once(x):
    s = 0.0
    st = 2
    for i, v in enumerate(x, start=st):
        st = st + 1
        s += i * v * st
    return s


def rows_from_minus_one(x):
    s = 0.0
    for i, (a, b) in enumerate(x.reshape(2, 2), -1):
        s += i * a * b + a
    return s


def zip_over_range(x):
    s = 0.0
    for j, v in zip(range(1, 7, 2), x):
        s += j * np.sin(v)
    return s


def enumerate_over_range(x):
    s = 0.0
    for i, j in enumerate(range(1, 4)):
        s += x[i] * x[j]
    return s


def branches_in_enumerate_zip(x):
    s = 0.0
    for i, (a, (b, c)) in enumerate(zip(x, zip(x[1:], x[2:]))):
        if i % 2 == 0:
            s += a * b - c
        else:
            s -= a * c
    return s


def sum_of_arrays_over_enumerate_zip(x):
    v = sum(i * a * x for i, (a, b) in enumerate(zip(x, x[1:]), 1))
    return np.sum(v * v)


def sum_of_arrays_over_zip(x):
    v = sum(np.sin(a) * b * x for a, b in zip(x, x[::-1]))
    return np.sum(v * v)


def pairs_from_enumerate(x):
    s = 0.0
    for pair in enumerate(x, 1):
        s += pair[0] * pair[1] ** 2
    return s


def reversed_sequences(x):
    """reversed() of an array, inside zip and enumerate, of a range in a zip, of a tuple literal, in a sum:
    only `for i in reversed(range(...))` was lowered, the rest declined as a call of a class."""
    s = 0.0
    for a, b in zip(reversed(x), x):
        s += np.tanh(a - b)
    for v in reversed(x):
        s = s * 0.5 + v
    for i, v in enumerate(reversed(x[1:])):
        s += i * v * v
    for j, v in zip(reversed(range(1, 7, 2)), x):
        s += j * v
    for w in reversed((x[0], x[1] * x[2])):
        s = s * 0.7 + w
    for row in reversed(x.reshape(2, 2)):
        s += np.sum(np.sin(row) * s)
    return s + sum(v * x[0] for v in reversed(x))


ITERS = [reversed_sequences, pairs_from_enumerate, enumerate_around_zip, enumerate_item_is_a_pair, zip_inside_zip, enumerate_from_one, start_read_once,
         rows_from_minus_one, zip_over_range, enumerate_over_range, branches_in_enumerate_zip,
         sum_of_arrays_over_enumerate_zip, sum_of_arrays_over_zip]


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", ITERS, ids=[f.__name__ for f in ITERS])
def test_nested_and_started_iterables(f, jit):
    x = np.array([0.2, 0.7, 0.45, 0.9])
    value, got = srcdiff.value_and_grad(f, jit=jit)(x.copy())
    assert np.isclose(value, f(x.copy()))
    np.testing.assert_allclose(got, numerical_grad(f, [x.copy()], 0), rtol=1e-6, atol=1e-7)


def test_enumerate_start_reads_as_written():
    g = srcdiff.grad(enumerate_from_one)
    g(np.array([0.2, 0.7, 0.45, 0.9]))
    src = srcdiff.source(g)
    assert "i = k + 1" in src and "d_x[k] += d_v" in src


@pytest.mark.parametrize("body, what", [
    ("for i, v in enumerate(x, 1, 2):\n        s += v", "enumerate with arguments other than an iterable"),
    ("for i, v, w in enumerate(x):\n        s += v", r"does not unpack \(index, item\)"),
    ("for a, b in zip(x, x, x):\n        s += a", "does not unpack one name per sequence"),
    ("for pair in zip(*x):\n        s += pair[0]", r"zip\(\*M\) in a loop whose target does not unpack the rows"),
])
def test_iterables_srcdiff_cannot_lower_are_named(tmp_path, body, what):
    path = tmp_path / "user_loops.py"
    path.write_text(f"def f(x):\n    s = 0.0\n    {body}\n    return s\n")
    spec = __import__("importlib.util").util.spec_from_file_location("user_loops", path)
    mod = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(srcdiff.SrcdiffError, match=what) as err:
        srcdiff.grad(mod.f)(np.array([0.2, 0.7]))
    assert "user_loops.py:3" in str(err.value)


# ---- zip(*M): the columns of a matrix's rows, or of a list or tuple of arrays -----------------------------------
def zip_of_rows_enumerated(x, m):
    s = 0.0
    for k, (c0, c1) in enumerate(zip(*m)):
        s = s + np.sin(c0 * c1) * x[k]
    return s


def zip_of_listed_rows(x, m):
    s = 0.0
    rows = [m[1] * x, np.tanh(x)]
    for c0, c1 in zip(*rows):
        s = s + c0 * c1
    for k, (a, b) in enumerate(zip(*(x[1:], m[0])), 1):
        s = s + a * b * k
    return s


@pytest.mark.parametrize("f", [zip_of_rows_enumerated, zip_of_listed_rows])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_zip_of_rows(f, jit):
    """`for k, (c0, c1) in enumerate(zip(*M))`: zip over the rows of M (h30c: declined, "a zip loop that does not unpack
    one name per sequence", where the loop does unpack one name per row)."""
    x = A.copy()
    (gx, gm) = srcdiff.grad(f, wrt=(0, 1), jit=jit)(x, M.copy())
    np.testing.assert_allclose(gx, numerical_grad(f, [x, M.copy()], 0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gm, numerical_grad(f, [x, M.copy()], 1), rtol=1e-6, atol=1e-7)
    value, t = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(x, M.copy(), (np.ones(3), np.ones((2, 3))))
    assert value == pytest.approx(f(x, M.copy())) and t == pytest.approx(np.sum(gx) + np.sum(gm))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_zip_of_rows_of_more_rows_than_names_raises(jit):
    """Python raises ValueError unpacking an item of zip(*M) of 3 rows into 2 names: the generated code does not
    run on with the first two rows (its check raised AssertionError; now Python's ValueError, rt.check_unpack)."""
    m3 = np.vstack([M, M[:1]])
    with pytest.raises(ValueError, match="too many values to unpack"):
        zip_of_rows_enumerated(A, m3)
    with pytest.raises(ValueError, match=r"too many values to unpack \(expected 2\)"):
        srcdiff.grad(zip_of_rows_enumerated, wrt=(0, 1), jit=jit)(A.copy(), m3)
    with pytest.raises(ValueError, match=r"not enough values to unpack \(expected 2, got 1\)"):
        srcdiff.jvp(zip_of_rows_enumerated, wrt=(0, 1), jit=jit)(A.copy(), M[:1].copy(), (A, M[:1]))


def zip_of_pairs_argument(x, pairs):
    s = 0.0
    for p, q in zip(*pairs):
        s = s + np.sum(p * np.sin(q * x))
    return s + sum(np.sum(a * b) for a, b in zip(*pairs))


def zip_of_arrays_argument(x, xs):
    s = 0.0
    for u, v, w in zip(*xs):
        s = s + u * np.sin(v * w) * x[0]
    return s


def zip_of_pairs_into_three_names(x, pairs):
    s = 0.0
    for p, q, r in zip(*pairs):
        s = s + np.sum(p * q * r * x)
    return s


PAIRS = ((np.array([1.0, 2.0, 0.3]), np.array([0.5, -1.0, 0.7])), (np.array([3.0, 0.2, -0.6]), np.array([0.1, 0.4, 1.3])))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, arg", [(zip_of_pairs_argument, PAIRS), (zip_of_arrays_argument, (A, A[::-1] * 2.0, M[0]))])
def test_zip_of_a_tuple_argument(f, arg, jit):
    """`for p, q in zip(*pairs)` of a tuple argument of pairs of arrays (README: tuples of arrays, zip(*M) of a tuple of
    arrays) was declined, 'a tuple/list argument used as a whole value': now `zip(pairs[0], pairs[1])`, its items
    listed, in loops and comprehensions; of a tuple of arrays, their elements. Gradient (the argument's structure)
    and jvp against central differences."""
    x = A.copy()
    flat = lambda t: np.concatenate([flat(e) if isinstance(e, tuple) else np.ravel(e) for e in t])  # noqa: E731
    g = srcdiff.grad(f, wrt=1, jit=jit)(x, arg)
    h = 1e-6
    tangent = tuple(tuple(np.linspace(0.2, -0.3, e.size) for e in t) if isinstance(t, tuple)
                               else np.linspace(0.2, -0.3, t.size) for t in arg)
    moved = lambda c: tuple(tuple(e + c * d for e, d in zip(t, dt)) if isinstance(t, tuple) else t + c * dt  # noqa: E731
                            for t, dt in zip(arg, tangent))
    fd = (f(x, moved(h)) - f(x, moved(-h))) / (2 * h)
    assert np.dot(flat(g), flat(tangent)) == pytest.approx(fd, rel=1e-6, abs=1e-8)
    value, t = srcdiff.jvp(f, wrt=1, jit=jit)(x, arg, tangent)
    assert value == pytest.approx(f(x, arg), rel=1e-12) and t == pytest.approx(fd, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_zip_of_a_tuple_argument_into_other_names_is_declined(jit):
    """Unpacking each item of zip(*pairs) of 2 sequences into 3 names: Python's ValueError; declined at the loop."""
    with pytest.raises(ValueError, match="not enough values to unpack"):
        zip_of_pairs_into_three_names(A, PAIRS)
    with pytest.raises(srcdiff.SrcdiffError, match="zip.* of 2 sequences unpacking each item into 3 names"):
        srcdiff.grad(zip_of_pairs_into_three_names, wrt=1, jit=jit)(A.copy(), PAIRS)


# ---- a range bound to a name, then looped over (`order = ... if rev else range(n)`; `for t in order:`) ---------
def sweep_in_order(x, rev):
    n = x.shape[0]
    order = range(n - 1, -1, -1) if rev else range(n)
    s = 0.0
    for t in order:
        s = np.sin(s + x[t]) * x[t]
    return s


def sweep_in_a_branch_order(x, rev):
    if rev:
        order = range(x.shape[0] - 1, -1, -2)
    else:
        order = range(1, x.shape[0])
    s = 0.0
    for k, t in enumerate(order):
        s = np.cos(s * x[t]) + x[t] * k
    return s + len(order)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [sweep_in_order, sweep_in_a_branch_order], ids=lambda f: f.__name__)
def test_a_range_bound_to_a_name(f, jit):
    """desugar lowers `for t in order:` to `t = order[k]`, which Numba cannot do to a range object ("No
    implementation of function getitem"): a range bound to a name is the array of its items (np.arange)."""
    x, v = np.array([0.3, -0.7, 1.2, 0.5]), np.array([1.0, -0.5, 0.25, 0.4])
    for rev in (True, False):
        g = srcdiff.grad(f, wrt=0, jit=jit)(x, rev)
        np.testing.assert_allclose(g, numerical_grad(f, [x, rev], 0), rtol=1e-5, atol=1e-8)
        value, tangent = srcdiff.jvp(f, wrt=0, jit=jit)(x, rev, v)
        np.testing.assert_allclose(value, f(x, rev), rtol=1e-12)
        np.testing.assert_allclose(tangent, g @ v, rtol=1e-10, atol=1e-12)
        gp = srcdiff.grad(f, wrt=0)
        fd = (gp(x + 1e-6 * v, rev) - gp(x - 1e-6 * v, rev)) / 2e-6
        np.testing.assert_allclose(srcdiff.hvp(f, wrt=0, jit=jit)(x, rev, v), fd, rtol=1e-5, atol=1e-7)
