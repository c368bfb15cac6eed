"""The last defects of issue 18, each once a wrong gradient, a crash or a wrong decline: keyword arguments to
a srcdiff transform called inside a differentiated function, an inner gradient through a recursive helper
(and Numba's disk cache of recursive code), lambdas bound by one tuple assignment, masks and pairs of index
lists on one path of a branch under Numba, a list literal times an array name, `astype(copy=False)`
aliasing, a sum of arrays over an empty range, index lists (on one path of a branch under Numba, of
computed positions or booleans), writes at an index array naming an element twice, and the advice of
three declines. Each gradient is checked against central differences in both backends, its value against f
itself, and forward mode against it (jvp(f)(x, v)[1] == <grad, v>)."""
import functools
import inspect
import os

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
rng = np.random.default_rng(18)
A2 = np.array([1.5, 2.5])
X3 = np.array([0.3, -0.5, 1.2])
M3 = np.arange(9.0).reshape(3, 3) / 5


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def check_oracles(f, args, wrt, jit, kwargs=None, jvp_jit=None):
    """srcdiff.grad(f, wrt) against central differences, value_and_grad's value against f, and the jvp
    (with jit=jvp_jit, default jit) against <grad, v>; keyword arguments `kwargs` passed to every call."""
    kwargs = kwargs or {}
    fk = functools.partial(f, **kwargs)
    got = srcdiff.grad(f, wrt=wrt, jit=jit)(*_copies(args), **kwargs)
    for k, g in zip(wrt, got):
        np.testing.assert_allclose(g, numerical_grad(fk, _copies(args), k), rtol=1e-5, atol=1e-6,
                                   err_msg=f"d/d argument {k}")
    value, again = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*_copies(args), **kwargs)
    np.testing.assert_allclose(value, fk(*_copies(args)), rtol=1e-12, atol=1e-12)
    for g, h in zip(got, again):
        np.testing.assert_allclose(h, g, rtol=1e-12, atol=1e-12)
    v = tuple(rng.normal(size=np.shape(args[k])) if np.ndim(args[k]) else float(rng.normal()) for k in wrt)
    value_f, tangent = srcdiff.jvp(f, wrt=wrt, jit=jit if jvp_jit is None else jvp_jit)(*_copies(args), v, **kwargs)
    np.testing.assert_allclose(value_f, value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, sum(np.vdot(g, vk) for g, vk in zip(got, v)), rtol=1e-9, atol=1e-10)
    return got


def line_of(f, text):
    """The file line of `f`'s source line containing `text`."""
    lines, first = inspect.getsourcelines(f)
    return first + next(k for k, ln in enumerate(lines) if text in ln)


# ---- keyword arguments to a transform called inside a differentiated function (reverse over reverse) ---------
def scaled(x, a, *, scale=1.0):
    return np.sum(np.sin(a * x)) * scale


def penalty_keyword(x, a, *, scale=1.0):
    gx, ga = srcdiff.grad(scaled, wrt=(0, 1))(x, a, scale=scale)
    return gx * gx + np.sum(ga * ga)


def penalty_default(x, a):      # the inner call leaves scale at its default
    gx, ga = srcdiff.grad(scaled, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


def penalty_keywords_reordered(x, a):
    ga = srcdiff.grad(scaled, wrt=1)(a=a, scale=0.3, x=x)
    return np.sum(ga * ga) * x


def weighted_square(a, w):
    return a * a * w


def penalty_inner_vjp(a, w):    # the cotangent follows the positional arguments; w by keyword
    _, ga = srcdiff.vjp(weighted_square)(a, np.ones(2), w=w)
    return np.sum(ga * ga)


def penalty_inner_jvp(x, a):
    return srcdiff.jvp(scaled, wrt=0)(x, a, 1.0, scale=0.3)[1] ** 2


@JIT
def test_keyword_argument_of_an_inner_transform(jit):
    """G3: the inner transform's keyword arguments were passed on as keywords to the generated function,
    which was then not inlined but differentiated as a callee returning a tuple (declined, wrongly)."""
    check_oracles(penalty_keyword, [0.7, A2], (0, 1), jit, kwargs={"scale": 0.5})
    check_oracles(penalty_default, [0.7, A2], (0, 1), jit)
    check_oracles(penalty_keywords_reordered, [0.7, A2], (0, 1), jit)
    check_oracles(penalty_inner_vjp, [A2, 0.4], (0, 1), jit)
    check_oracles(penalty_inner_jvp, [0.7, A2], (0, 1), jit)


# ---- an inner gradient through a recursive helper ---------------------------------------------------------------
def halve(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(halve(u, depth - 1)) + 0.5 * u * u


def through_recursion(x, a):
    return halve(x, 2) * np.sum(a)


def penalty_recursive(x, a):
    gx, ga = srcdiff.grad(through_recursion, wrt=(0, 1))(x, a)
    return gx * gx + np.sum(ga * ga)


@JIT
def test_inner_gradient_through_a_recursive_helper(jit):
    """The inner gradient calls its recursive helper's pullback; inlining it into the outer function was
    refused because it still called a user function, and its pullback (a tuple) was declined. Under Numba the
    recursion's results had no kind (placeholders None, which Numba could not type): kinds.infer now takes
    the results of calls that stay calls from the callee (a recursion's from its base case). (Forward mode
    over it has no argument kinds: its jvp runs with jit=False.)"""
    check_oracles(penalty_recursive, [0.7, A2], (0, 1), jit, jvp_jit=False)


def test_recursive_jitted_code_is_not_disk_cached():
    """Numba's disk cache loads recursive code into a crash in a later process (numba issue 6061: a
    segmentation fault on the second run of a jitted gradient of a recursive function): such modules are
    compiled in each process. A module without recursion is cached as before."""
    def index_files(g):
        run = g._last[2]     # (a jitted grad runs value_and_grad's compiled function: backends.ValueDropped)
        path = getattr(run, "compiled", run).py_func.__code__.co_filename
        stem = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.join(os.path.dirname(path), "__pycache__")
        return [f for f in os.listdir(folder) if f.startswith(stem + ".") and f.endswith(".nbi")] \
            if os.path.isdir(folder) else []

    g = srcdiff.grad(through_recursion, wrt=(0, 1), jit=True)
    np.testing.assert_allclose(g(0.7, A2)[1], srcdiff.grad(through_recursion, wrt=(0, 1))(0.7, A2)[1])
    assert "halve_vjp(" in g.source and index_files(g) == []
    plain = srcdiff.grad(scaled, wrt=(0, 1), jit=True)
    plain(0.7, A2)
    assert index_files(plain)
    assert g.last.generated.facts.recursive() and not plain.last.generated.facts.recursive()


# ---- lambdas bound by one tuple assignment --------------------------------------------------------------------
def two_lambdas_one_tuple(x):
    g, h = lambda u: u * u, lambda u: np.sin(u) * x
    return np.sum(g(x) + h(x[::-1]))


def lambda_beside_a_value(x):
    s, g = np.sum(x), lambda u: u * x[0]
    return np.sum(g(x) * s)


def lambdas_in_a_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        g, h = lambda u: u * x[i], lambda u: np.cos(u + i)
        total = total + g(h(x[i]))
    return total


def lambda_rebinds_what_its_neighbour_reads(x):
    g = x * 2.0
    g, y = lambda u: u * 3.0, g * x
    return np.sum(g(y))


def lambda_rebinds_a_lambda_its_neighbour_calls(x):
    g = lambda u: u * 2.0
    g, y = lambda u: u * 3.0, g(x)     # (g(x) calls the first: the values are computed before the binding)
    return np.sum(g(y))


@JIT
@pytest.mark.parametrize("f", [two_lambdas_one_tuple, lambda_beside_a_value, lambdas_in_a_loop,
                               lambda_rebinds_a_lambda_its_neighbour_calls],
                         ids=lambda f: f.__name__)
def test_lambdas_in_one_tuple_assignment(f, jit):
    check_oracles(f, [X3], (0,), jit)


def test_lambda_in_a_tuple_assignment_rebinding_a_name_read_beside_it_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="reads a name that a lambda beside it binds") as info:
        srcdiff.grad(lambda_rebinds_what_its_neighbour_reads)(X3)
    assert info.value.lineno == line_of(lambda_rebinds_what_its_neighbour_reads, "g, y =")


# ---- values on one path of a branch under Numba: a mask's sum, a pair of index lists --------------------------
def mask_sum_in_branch(a, t, flag):
    s = 0.0
    if flag:
        s = np.sum(a[a < t])
    return s * t + np.sum(a)


def index_lists_in_branch(x, M, flag):
    if flag:
        if M[1, 0] > -0.3:
            return np.sum(M[[0, 1, 1], [2, 1, 2]] ** 2) * x
    return np.sum(M) + x


@JIT
@pytest.mark.parametrize("flag", [True, False])
def test_mask_sum_on_one_path(flag, jit):
    check_oracles(mask_sum_in_branch, [X3, 0.5, flag], (0, 1), jit)


@JIT
@pytest.mark.parametrize("flag", [True, False])
def test_pair_of_index_lists_on_one_path(flag, jit):
    """The index lists become int arrays (np.array of constants, now of a known kind): their placeholders
    on the other path were None, which Numba could not pass to the scatter-add."""
    check_oracles(index_lists_in_branch, [0.4, M3, flag], (0, 1), jit)


# ---- a list literal operand of arithmetic with an array name --------------------------------------------------
def array_name_times_list(x):
    w = np.array([1.0, 2.0])
    return np.sum(w * [x[1], x[2]]) + np.sum([x[0], 3.0] + w * x[0])


@JIT
def test_list_literal_times_an_array_name(jit):
    """`w * [a, b]` with `w` a name: desugar cannot tell an array from a repetition count; the kinds can,
    and make the list an array (it was declined as list arithmetic)."""
    check_oracles(array_name_times_list, [X3], (0,), jit)


# ---- astype(copy=False), np.asarray(x, dtype): x itself where it has the dtype --------------------------------
def astype_no_copy_then_write(x):
    y = x.astype(float, copy=False)
    y[0] = 5.0
    return np.sum(x * x) + np.sum(y)


def asarray_dtype_then_write(x):
    y = np.asarray(x, dtype=np.float64)
    y[1] = 2.0
    return np.sum(y) * x[1]


def astype_no_copy_written_only(x):
    y = x.astype(np.float64, copy=False)
    y[0] = 5.0
    return np.sum(y * y)


@JIT
@pytest.mark.parametrize("f, line", [(astype_no_copy_then_write, "y[0] = 5.0"), (asarray_dtype_then_write, "y[1] = 2.0")],
                         ids=["astype", "asarray"])
def test_write_through_a_cast_that_may_be_the_array_itself_is_declined(f, line, jit):
    """NumPy returns x itself from x.astype(float, copy=False) and np.asarray(x, dtype=float) when x is a
    float64 array, so the write changes x: srcdiff differentiated a copy (a silently wrong gradient)."""
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory") as info:
        srcdiff.grad(f, jit=jit)(X3.copy())
    assert info.value.lineno == line_of(f, line)


@JIT
def test_cast_without_copy_written_and_read_through_itself(jit):
    check_oracles(astype_no_copy_written_only, [X3], (0,), jit)


# ---- a sum of arrays over a comprehension whose loops do not run ------------------------------------------------
def sum_over_range_from(x, n):
    s = sum(x[i] * x for i in range(3, n))
    return np.sum(s * s) + x[0]


def sum_over_index_array(x, rows):
    return np.sum(sum(x[r] * x for r in rows) ** 2) + x[1]


def sum_of_scalars_over_range(x, n):
    return sum(x[i] * x[i] for i in range(n)) * 2.0 + x[2]


@JIT
@pytest.mark.parametrize("f, arg", [(sum_over_range_from, 3), (sum_over_range_from, 2), (sum_over_range_from, 5),
                                    (sum_over_index_array, np.array([], dtype=np.int64)),
                                    (sum_over_index_array, np.array([4, 0, 4])),
                                    (sum_of_scalars_over_range, 0), (sum_of_scalars_over_range, 4)],
                         ids=["empty", "empty_backwards", "runs", "no_rows", "rows", "scalars_empty", "scalars"])
def test_sum_of_arrays_over_a_range_that_may_be_empty(f, arg, jit):
    """The sum started from zeros shaped like its first term, computed before the loop even where the loop
    does not run: x[3] of a 3-vector raised IndexError where Python's sum is 0. The first term is computed
    only where the loops run now; elsewhere the start is 0 broadcast (zeros of the term's rank)."""
    x = np.linspace(-1.0, 1.2, 3 if isinstance(arg, int) and arg < 4 else 5)
    check_oracles(f, [x, arg], (0,), jit, jvp_jit=False)


def sum_of_sums_over_zip_in_lambda(a):     # fuzz seed 20008
    lam = lambda u: sum(sum(e * e2 for e, e2 in zip(a, a)) for i in range(3)) + u
    return sum([lam(a[0]) for e in a])


@JIT
def test_sum_of_sums_over_zip(jit):
    """The inner sum's start (0.0: its loop over zip has no first value to write down) is a loop of its own
    in the outer sum's body; kind_rewrites.sum_starts read that loop as an assignment (AttributeError)."""
    check_oracles(sum_of_sums_over_zip_in_lambda, [X3], (0,), jit)


def test_sum_start_is_computed_only_where_the_loop_runs():
    g = srcdiff.grad(sum_over_range_from)
    g(X3, 3)
    src = g.source
    first = src.index("rt.zeros_like(")
    assert "if cond:" in src[:first] or "if 3 < n" in src[:first], src
    g2 = srcdiff.grad(sum_of_scalars_over_range)
    g2(X3, 2)
    assert "rt.zeros_like" not in g2.source.split("# backward sweep")[0]   # scalar terms start from 0.0


# ---- declines with their own advice -------------------------------------------------------------------------------
def stacked_matmul(a, b):
    return np.sum(a @ b)


def test_stacked_matmul_under_numba_is_declined_with_advice():
    a, b = rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 3, 3))
    check_oracles(stacked_matmul, [a, b], (0, 1), False)
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)operand of rank 3 \(a stack of matrices\).*"
                                                   r"hint: use jit=False, or loop over the stack") as info:
        srcdiff.grad(stacked_matmul, wrt=(0, 1), jit=True)(a, b)
    assert info.value.lineno == line_of(stacked_matmul, "a @ b")


# ---- index lists under Numba: on one path of a branch (fuzz seeds 470, 5530, 6540), of any elements --------------
def index_list_rebinds_on_one_path(a, n):          # seed 470
    if a[0] > -0.3 and n > 2:
        a = a[[0, 1]] * (sum([a, a]) > 0.0)[:2]
    return np.sum(a * a) + a[0]


def index_list_after_early_return(x, M, n):        # seed 5530
    for i in range(1):
        if n > 2:
            return x * 2.0
    t = (M[1])[[1, 0]]
    return np.sum(t * x)


def index_list_in_lambda_argument(a, M, flag):     # seed 6540
    t = M * 0.5
    if flag:
        t = (lambda y: y * M)(np.sum(a[[0, 1]]))
    elif np.sum(a[[1, 2, 1]]) > 0.0:
        return np.sum(M) * 2.0
    return np.sum(t * t)


@JIT
@pytest.mark.parametrize("f, args", [(index_list_rebinds_on_one_path, [X3, 3]), (index_list_rebinds_on_one_path, [X3, 1]),
                                     (index_list_after_early_return, [0.7, M3[:2], 1]),
                                     (index_list_after_early_return, [0.7, M3[:2], 3]),
                                     (index_list_in_lambda_argument, [X3, M3, True]),
                                     (index_list_in_lambda_argument, [X3, M3, False]),
                                     (index_list_in_lambda_argument, [-X3, M3, False])],
                         ids=["rebinds", "rebinds_not_taken", "after_return", "returned_early", "lambda",
                              "lambda_not_taken", "other_branch_returns"])
def test_index_list_on_one_path(f, args, jit):
    """A list literal index under Numba on one path of a branch: the index array's placeholder on the other
    path was None ('Numba could not compile the generated code'); its kind is known now (kinds._literal_array)."""
    wrt = tuple(k for k, v in enumerate(args) if isinstance(v, (float, np.ndarray)))
    check_oracles(f, args, wrt, jit)


def index_list_of_computed_positions(a, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(a[[i % 3, 0]] * a[[0, (i + 1) % 3]])
    return s


def index_list_of_booleans(a, flag):
    s = a[0]
    if flag:
        s = np.sum(a[[True, False, True]] ** 2)
    return s * a[1]


def index_list_nested(a, M):
    return np.sum(a[[[0, 1], [2, 2]]] ** 2 * M[:2, :2]) + np.sum(a[(0, 2), ] * a[1])


def index_list_written(a, n):
    b = a * 1.0
    b[[n % 3, 0]] = a[[1, n % 3]] * 3.0
    return np.sum(b * b)


def rows_and_computed_columns(M, n):
    return np.sum(M[[0, 1], [n % 3, 0]] ** 2) + np.sum(M[[True, False, True]] * M[1])


@JIT
@pytest.mark.parametrize("f, args", [(index_list_of_computed_positions, [X3, 4]),
                                     (index_list_of_booleans, [X3, True]), (index_list_of_booleans, [X3, False]),
                                     (index_list_nested, [X3, M3]), (index_list_written, [X3, 2]),
                                     (index_list_written, [X3, 3]), (rows_and_computed_columns, [M3, 5])],
                         ids=["computed", "booleans", "booleans_not_taken", "nested", "written", "written_repeat",
                              "matrix"])
def test_index_list_of_any_elements(f, args, jit):
    """A list index whose elements are not all integer constants was read as one index per axis:
    a[[i % 3, 0]] as a[i % 3, 0] (IndexError), a[[True, False, True]] as a[True, False, True] (a zero
    gradient: a silently wrong one). Any list in an index, and a tuple inside an index tuple, is NumPy's
    index array now: positions (repeats accumulate), or a mask where its elements are booleans."""
    wrt = tuple(k for k, v in enumerate(args) if isinstance(v, (float, np.ndarray)))
    check_oracles(f, args, wrt, jit)


def scalar_written_twice(a, s):
    b = a * 1.0
    b[[0, 0, 2]] = s * 2.0
    return np.sum(b * b)


def rows_written_twice(M, v):
    N = M * 1.0
    N[[1, 1], 1:] = np.stack((v, v * 3.0))
    return np.sum(N * N)


def written_at_index_argument(a, idx, v):
    b = a * 1.0
    b[idx] = v * a[0]
    return np.sum(b ** 2)


@JIT
@pytest.mark.parametrize("f, args, wrt", [
    (scalar_written_twice, [X3, 0.7], (0, 1)), (rows_written_twice, [M3[:2], np.array([0.2, -0.4])], (0, 1)),
    (written_at_index_argument, [X3, np.array([2, 0, 2]), np.array([1.0, 2.0, 3.0])], (0, 2)),
    (written_at_index_argument, [X3, np.array([1, 0, 2]), np.array([1.0, 2.0, 3.0])], (0, 2))],
    ids=["scalar", "rows", "index_argument", "no_repeat"])
def test_write_at_an_index_array_naming_an_element_twice(f, args, wrt, jit):
    """x[idx] = v where idx names an element twice: the later write's value is the one read afterwards, so
    the earlier one's gets no adjoint (rt.written); each element's adjoint went to every value written there
    (a silently wrong gradient)."""
    check_oracles(f, args, wrt, jit)


def empty_index_list(a):
    return np.sum(a[[]]) + a[0]


def test_empty_index_list_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)an empty list as an index.*hint: index with np.zeros"
                       ) as info:
        srcdiff.grad(empty_index_list)(X3)
    assert info.value.lineno == line_of(empty_index_list, "a[[]]")
