"""Issue 18, the gaps left after the main work: module-level constants as conditions (and what a grad object
does when they change), writes at an index array on the CUDA target, sums of arrays under Numba (nested in
sums, with conditional or lambda terms, inside a helper a recursion keeps as a call), and
common-subexpression merging of two arrays one of which is then written in place. Each gradient is checked
against central differences in both backends, its value against f itself, and forward mode against it
(test_issue18_defects.check_oracles)."""
import sys

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad
from test_issue18_defects import check_oracles, line_of

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
X3 = np.array([0.3, -0.5, 1.2])
X4 = np.array([0.3, -0.5, 1.2, 0.7])
W2 = np.array([0.4, -1.1])
THIS = sys.modules[__name__]

# ---- module-level constants read as conditions ------------------------------------------------------------
DEBUG = False
THRESH = 2


def flag_if(x):
    s = np.sum(x * x)
    if DEBUG:
        s = s * 0.0
    return s


def flag_if_not(x):
    s = np.sum(np.sin(x) * x)
    if not DEBUG:
        s = s * 3.0
    return s


def threshold_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if i < THRESH:
            s = s + x[i] * x[i]
        else:
            s = s + np.sin(x[i])
    return s


def threshold_in_while(x):
    s = 1.0
    k = 0
    while k < THRESH:
        s = s * np.sum(np.cos(x * (k + 1)))
        k += 1
    return s


def counter_below_threshold(x):
    s = 0.5
    k = 0
    for i in range(x.shape[0]):
        if k < THRESH:      # k is 0 throughout: with THRESH folded in, Numba decides this at compile time
            s = s * np.sin(x[i]) + x[i]
        else:
            s = s * x[i]
    return s


def _helper_reading_flag(v):
    return v * 2.0 if DEBUG else np.exp(v)


def flag_in_helper(x):
    return np.sum(_helper_reading_flag(x) * x)


CONSTANT_CONDITIONS = [flag_if, flag_if_not, threshold_in_loop, threshold_in_while, counter_below_threshold,
                       flag_in_helper]


@JIT
@pytest.mark.parametrize("f", CONSTANT_CONDITIONS, ids=lambda f: f.__name__)
def test_module_constant_as_condition(f, jit, monkeypatch):
    """Each setting of the module's constants: a new grad object follows it (the cache is keyed by the
    values the function reads), in both backends."""
    for debug, thresh in ((False, 2), (True, 0), (False, 1)):
        monkeypatch.setattr(THIS, "DEBUG", debug)
        monkeypatch.setattr(THIS, "THRESH", thresh)
        check_oracles(f, [X3], (0,), jit)


@pytest.mark.parametrize("f", CONSTANT_CONDITIONS, ids=lambda f: f.__name__)
def test_grad_object_keeps_the_constants_of_its_first_call(f, monkeypatch):
    """README "Captured values": a grad object compiles in the module constants it reads at its first call,
    in both backends alike (Numba freezes globals; the Python backend binds them the same way), so after the
    constant changes both keep giving the gradient for the old value (and agree); a new grad object gives
    the gradient for the new one."""
    monkeypatch.setattr(THIS, "DEBUG", False)
    monkeypatch.setattr(THIS, "THRESH", 2)
    objs = {jit: (srcdiff.grad(f, jit=jit), srcdiff.value_and_grad(f, jit=jit)) for jit in (False, True)}
    before = {jit: g(X3.copy()) for jit, (g, _) in objs.items()}
    for jit, (_, vg) in objs.items():
        vg(X3.copy())                                # (its first call, too)
    old_value, old_grad = f(X3), numerical_grad(f, [X3], 0)
    monkeypatch.setattr(THIS, "DEBUG", True)
    monkeypatch.setattr(THIS, "THRESH", 0)
    new_grad = numerical_grad(f, [X3], 0)
    assert not np.allclose(new_grad, old_grad)       # the change matters
    for jit, (g, vg) in objs.items():
        np.testing.assert_allclose(before[jit], old_grad, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g(X3.copy()), before[jit], rtol=1e-12, atol=1e-12)
        value, grad = vg(X3.copy())
        np.testing.assert_allclose(value, old_value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, before[jit], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(srcdiff.grad(f, jit=jit)(X3.copy()), new_grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(objs[True][0](X3.copy()), objs[False][0](X3.copy()), rtol=1e-12, atol=1e-12)


# ---- sum(...) of arrays nested in another sum, under Numba ------------------------------------------------
def sum_of_sums_of_arrays(a, w):
    return np.sum(sum(sum(a[i:i + 2] * w for i in range(3)) for _ in range(2)))


def scalar_sum_inside_array_sum(a, w):
    return np.sum(sum(w * sum(a[i] * a[i] for i in range(3)) for _ in range(2)))


def sum_of_sums_over_rows(M, w):
    return np.sum(np.sin(sum(sum(r[j:j + 2] * w for j in range(2)) * r[0] for r in M)))


def sum_of_sums_of_scalars(a, w):
    return sum(sum(a[i] * w[j] for i in range(3)) ** 2 for j in range(2))


def sum_of_sums_in_loop(a, w):
    s = 0.0
    for k in range(2):
        t = sum(sum(a[i:i + 2] * w * k for i in range(j, 3)) for j in range(2))
        s = s + np.sum(t * t)
    return s


def sum_of_sums_maybe_empty(a, w, n):
    return np.sum(sum(sum(a[i:i + 2] * w for i in range(3)) for _ in range(n)) + w)


@JIT
@pytest.mark.parametrize("f", [sum_of_sums_of_arrays, scalar_sum_inside_array_sum, sum_of_sums_of_scalars,
                               sum_of_sums_in_loop], ids=lambda f: f.__name__)
def test_sum_of_arrays_nested_in_a_sum(f, jit):
    check_oracles(f, [X4, W2], (0, 1), jit)


@JIT
def test_sum_of_sums_over_the_rows_of_a_matrix(jit):
    check_oracles(sum_of_sums_over_rows, [np.arange(12.0).reshape(4, 3) / 7 - 0.5, W2], (0, 1), jit)


@JIT
@pytest.mark.parametrize("n", [0, 2])
def test_nested_sum_of_arrays_over_an_empty_range(jit, n):
    check_oracles(sum_of_sums_maybe_empty, [X4, W2, n], (0, 1), jit)


# ---- sums of arrays whose terms hold a conditional expression or a lambda, or that sit in a helper kept as a
# call (fuzz seeds 100300 and 70980: Numba could not type a sum started from 0.0 and grown by arrays) -------
def sum_of_conditional_terms(a, w):
    return np.sum(sum((a[:2] if a[0] > 0 else 2.0 * w) * (j + 1.0) for j in range(3)) * w)


def sum_of_lambda_terms(a, w):
    return np.sum(sum((lambda y: y * w)(a[j]) * (j * 0.5) for j in range(3)))


def helper_sum_of_arrays(w, k):
    return sum(w * (j * 0.5 + k) for j in range(2))


def recursion_calling_a_sum_of_arrays(w, depth):
    if depth <= 0:
        return w
    return 0.5 * np.sin(recursion_calling_a_sum_of_arrays(w, depth - 1)) + helper_sum_of_arrays(w, depth)


def calls_recursion_with_sums(a, w):
    return np.sum(recursion_calling_a_sum_of_arrays(w * a[0], 2) * a[1:3])


def element_of_a_tuple_in_a_sum(a, w):
    t = (w, a[0])
    p = t[0]
    return np.sum(sum(p * (j * 0.5 + t[1]) for j in range(2)))


@JIT
@pytest.mark.parametrize("f", [sum_of_conditional_terms, sum_of_lambda_terms, calls_recursion_with_sums,
                               element_of_a_tuple_in_a_sum],
                         ids=lambda f: f.__name__)
def test_sum_of_arrays_with_conditional_lambda_or_kept_call(f, jit):
    check_oracles(f, [X4, W2], (0, 1), jit)


def nested_sum_reusing_the_loop_name(a, w):
    return np.sum(sum(sum(a[i:i + 2] for i in range(3)) * w * a[i] for i in range(2)))


def test_nested_sum_reusing_the_outer_loop_name_is_declined_under_numba():
    """The inner sum's loop variable is the outer one's: its first term cannot be written before the loop
    (substitution does not know scopes), so the outer sum starts from 0.0, which Numba cannot type."""
    check_oracles(nested_sum_reusing_the_loop_name, [X4, W2], (0, 1), False)
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_issue18_gaps.py:%d: sum\(\.\.\.\) over a generator "
                       r"(.|\n)*hint: use jit=False, or accumulate in a loop" %
                       line_of(nested_sum_reusing_the_loop_name, "return")):
        srcdiff.grad(nested_sum_reusing_the_loop_name, wrt=(0, 1), jit=True)(X4, W2)


# ---- two equal array expressions, one of them then written in place (not merged into one array) -----------
def equal_arrays_one_added_into(a, b):
    u = a * 1.0
    v = a * 1.0
    v += b
    return np.sum(u * v)


def equal_arrays_one_element_written(a, b):
    u = a * 1.0
    v = a * 1.0
    v[0] = 3.0 * b[1]
    return np.sum(u * v)


def equal_arrays_both_written(a, b):
    u = np.sin(a)
    v = np.sin(a)
    v[0] = 3.0
    v += b
    u *= b
    for i in range(2):
        v *= u
    return np.sum(u * v)


@JIT
@pytest.mark.parametrize("f", [equal_arrays_one_added_into, equal_arrays_one_element_written,
                               equal_arrays_both_written],
                         ids=lambda f: f.__name__)
def test_equal_array_expressions_one_written_in_place(f, jit):
    check_oracles(f, [X3, np.array([0.4, -1.1, 0.8])], (0, 1), jit)


def helper_sum_maybe_empty(w, k):
    return sum(w * (j * 0.5) for j in range(k))


def recursion_calling_a_sum_maybe_empty(w, depth):
    if depth <= 0:
        return w
    return 0.5 * recursion_calling_a_sum_maybe_empty(w, depth - 1) + helper_sum_maybe_empty(w, depth)


def calls_recursion_with_sums_maybe_empty(a, w):
    return np.sum(recursion_calling_a_sum_maybe_empty(w * a[0], 2) * a[1:3])


def test_sum_of_arrays_maybe_empty_in_a_kept_call_is_declined_under_numba():
    """README (Declined): a sum of arrays over a range of computed length in a helper a recursion keeps as a
    call starts from 0.0 (its arguments' kinds unknown there); Python computes it, Numba cannot type it: the
    error names the user's line that calls the helper."""
    check_oracles(calls_recursion_with_sums_maybe_empty, [X4, W2], (0, 1), False)
    # (the kept helper's own line, the sum starting from 0.0, where the copies of kept functions in the gradient's
    # module have a line table of their own; else the recursion's line that calls the helper)
    lines = (line_of(helper_sum_maybe_empty, "sum(w * (j * 0.5)"),
             line_of(recursion_calling_a_sum_maybe_empty, "helper_sum_maybe_empty(w, depth)"))
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_issue18_gaps.py:(%d|%d): (.|\n)*Cannot unify" % lines):
        srcdiff.grad(calls_recursion_with_sums_maybe_empty, wrt=(0, 1), jit=True)(X4, W2)


# ---- a value first bound in a loop and read in a later iteration, in a helper a recursion keeps as a call
# (fuzz seed 71420: its primal copy read the name where Numba could not see it bound) ----------------------
def helper_carrying_a_loop_value(w, k):
    s = 0.0
    for i in range(3):
        if i > 0:
            s = s + prev * w[i % 2]
        prev = np.tanh(w[0] * (i + k))
    return s


def recursion_calling_a_loop_carrier(w, depth):
    if depth <= 0:
        return w[0]
    return 0.5 * recursion_calling_a_loop_carrier(w, depth - 1) + helper_carrying_a_loop_value(w, depth)


def calls_recursion_with_loop_carrier(a, w):
    return recursion_calling_a_loop_carrier(w * a[0], 2) * a[1]


@JIT
def test_loop_carried_first_binding_in_a_helper_kept_as_a_call(jit):
    check_oracles(calls_recursion_with_loop_carrier, [X4, W2], (0, 1), jit)


# ---- an in-place operator on a view, in a range loop (fuzz seed 107810: under jit=True the row tape copied
# the view `buf[::-1]` after the write through it, a wrong gradient of about 1e-4 relative) ------------------
def inplace_on_a_reversed_view(a, w):
    buf = a.copy()
    for i in range(3):
        buf[::-1] *= np.tanh(w[0] * (i + 1))
    return np.sum(buf * buf) + w[1]


def inplace_on_a_strided_view_by_a_mask(a, w):
    buf = a.copy()
    for i in range(2):
        buf[::2] *= np.tanh(np.where(buf[i] > 0.4, w[1], w[0]))
    return np.sum(buf)


@JIT
@pytest.mark.parametrize("f", [inplace_on_a_reversed_view, inplace_on_a_strided_view_by_a_mask],
                         ids=lambda f: f.__name__)
def test_inplace_operator_on_a_view_in_a_loop(f, jit):
    check_oracles(f, [X4, W2], (0, 1), jit)


# ---- a sum whose filter is a literal False, inside a sum over a filtered list (fuzz seed 102158: the inner
# loop, left empty, was dropped while the outer loop's merge still read its variable: NameError) -------------
def sum_with_a_literal_false_filter(a, w):
    s = sum([sum(w * i for i in range(4) if -1.2 > 0.1) for j in range(3) if a[0] > 0.0])
    return np.sum(s + a[:2] * w)


@JIT
def test_sum_with_a_literal_false_filter_inside_a_filtered_sum(jit):
    check_oracles(sum_with_a_literal_false_filter, [X4, W2], (0, 1), jit)


def index_from_index(x, a):
    s = 0.0
    for i in range(2):
        k = i - 2
        k = k + 1                     # an index recomputed in the backward sweep from another one
        s = s + np.sin((k * 0.25) * x) * a[i]
    return s


def index_augmented_in_place(x, a):
    buf = np.copy(a)
    for i in range(2):
        k = i - 2
        k += 1
        for j in range(0, 4, 2):
            buf[j] -= np.sin((k * 0.25) * x)
    return np.sum(buf)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [index_from_index, index_augmented_in_place], ids=lambda f: f.__name__)
def test_integer_index_recomputed_from_another(f, jit):
    """Fuzz seed 155891 (a wrong gradient, 0 instead of 0.233): the backward sweep recomputed `k1 = k + 1`
    but not the `k = i - 2` it reads, so every iteration saw the last iteration's k."""
    check_oracles(f, [1.48, np.array([-0.13, -0.12, 0.32, 1.24])], (0, 1), jit)


def return_in_a_branch_numba_prunes(x, a, s):
    for i in range(2):
        if (-1.2 > 0.5) and (s > -0.5):   # srcdiff keeps the branch (s is not constant); Numba prunes it
            return 2.0
        x = x * 1.5 + np.sum(a)
    return x * x


@JIT
def test_early_return_in_a_branch_numba_prunes(jit):
    """Fuzz seed 138430 (declined under jit): the jvp merges the early return's value, bound only in a branch
    whose condition starts with a constant False, with the live result. Numba prunes that branch and types
    the early result as None, and rt.zeros_like(None), its tangent, had no implementation."""
    check_oracles(return_in_a_branch_numba_prunes, [0.7, W2, 0.3], (0, 1), jit)


def first_return_of(p):
    for i in range(2):
        if i > 5:
            return p
    return p * 2.0


def sum_of_a_helper_returned_from_a_loop(x, a, M):
    for i in range(1):
        if x > -10.0:
            return sum(np.sum(first_return_of(a)) for e in M[1])
    return np.sum(M)


@JIT
def test_sum_over_a_helper_with_an_early_return_inside_a_loop(jit):
    """Fuzz seed 171467 (NameError in the gradient, Python): the start of a scalar sum is 0.0 once the kinds
    are known, and the pass that says so dropped the first term's computation with the merges of the inlined
    helper's names that the loop around the sum carries; those merges now stay. (Since the liveness dead-code
    pass landed, it also drops the merge that read the lost name, so this end-to-end case passes either way.)"""
    check_oracles(sum_of_a_helper_returned_from_a_loop, [0.5, X4, np.arange(12.0).reshape(3, 4) / 7.0],
                  (0, 1, 2), jit)


# ---- items of module-level dicts and lists read at constant keys --------------------------------------------
CONFIG = {"lam": 0.1, "act": "tanh", "sizes": [3, (4, 2.5)]}
LAYERS = [np.eye(2), np.array([1.0, -2.0])]


def reads_config(x):
    s = np.sum(x ** 2) * CONFIG["lam"] + CONFIG["sizes"][1][1] * x[0]
    if CONFIG["act"] == "tanh":
        s = s + np.sum(np.tanh(x))
    return s + np.sum(LAYERS[0] @ x[:2]) + np.sum(LAYERS[-1] * x[1:])


def uses_config_whole(x):
    return np.sum(x) * len(CONFIG)


@JIT
def test_items_of_a_module_level_dict_or_list_at_constant_keys(jit, monkeypatch):
    """`CONFIG["lam"]` of a module-level dict was declined as "call to {'lam': 0.1, ...} has no differentiation
    rule": an item at constant keys (nested too) is compiled in as any global's value, and a new grad object
    follows a new value."""
    check_oracles(reads_config, [X3], (0,), jit)
    monkeypatch.setitem(CONFIG, "lam", 2.0)
    monkeypatch.setitem(CONFIG, "act", "relu")
    check_oracles(reads_config, [X3], (0,), jit)


def test_a_module_level_dict_used_whole_is_declined_naming_it():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_issue18_gaps.py:\d+: the module-level dict CONFIG used as "
                                                   r"a value(.|\n)*constant keys"):
        srcdiff.grad(uses_config_whole)(X3)
