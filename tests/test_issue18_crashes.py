"""Issue 18: programs of the long fuzz run on which srcdiff crashed with an internal error (minimised).
Each checks the gradient against central differences with the Python backend and under jit=True."""
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, numerical_grad

BACKENDS = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def _grad_matches(f, args, wrt=0, jit=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(f, args, wrt=wrt, jit=jit)


# ---- fuzz seeds 1063, 2418 (NameError: 'k2'): renaming an inlined helper's locals twice ----------
def _scaled(p, c):
    k1 = c * 2.0          # a user name that is also what the inliner calls a version of `k`
    return p * k1


def _sum_of_squares(v, c):
    t = _scaled(v, c)     # inlined here: this helper's locals are k (its loop below) and k1
    return sum(e * e for e in t)


def inlined_helper_names_chain(x):
    s = 0.0
    for e in x:           # takes the name k in f, so the helper's k becomes k1 and its k1 becomes k1v1
        s = s + e
    return s + _sum_of_squares(x, 1.5)


@BACKENDS
def test_inlined_helper_loop_index_renamed_once(jit):
    _grad_matches(inlined_helper_names_chain, [np.array([0.3, -0.7, 1.1])], jit=jit)


# ---- fuzz seed 7695 (ValueError: setting an array element with a sequence) ------------------------
def scalar_into_slice_of_unknown_kind(a):
    buf = a * 1.0
    for i in range(2):
        buf[::2] = a[i]                          # a scalar broadcast into a slice: its adjoint is a sum
        a = 0.5 * a + np.tanh(a[[1, 0, 2]])      # (a's kind in the loop was not known: no sum was taken)
    return np.sum(buf * buf)


@BACKENDS
def test_scalar_written_into_slice_sums_the_slice_adjoint(jit):
    _grad_matches(scalar_into_slice_of_unknown_kind, [np.array([0.3, -0.7, 1.1])], jit=jit)


def enumerate_of_rebound_name(x, a):
    buf = a * 1.0
    for i, e in enumerate(a):    # iterates over the a the loop started with, though the body rebinds a
        buf[::2] = e * x
        a = 0.5 * a
    return np.sum(buf * buf)


@BACKENDS
def test_loop_over_a_name_the_body_rebinds(jit):
    _grad_matches(enumerate_of_rebound_name, [0.7, np.array([0.3, -0.7, 1.1])], wrt=(0, 1), jit=jit)


# ---- fuzz seed 1000 (Numba: "Type of variable 'd_prev...' cannot be determined") -----------------
def literal_test_in_conditional_expression(x, M):
    s = 0.0
    for i in range(2):
        # a test of literals: Numba pruned the branch not taken, leaving that branch's tapes untyped
        prev = np.sum(M, axis=1) * x if -0.3 < 0.3 < 1.0 else np.log(1.0 + M[i % 2] * M[i % 2])
        s = s + np.sum(prev * prev)
    return s


@BACKENDS
def test_literal_test_of_conditional_expression_is_decided(jit):
    _grad_matches(literal_test_in_conditional_expression, [0.7, np.array([[0.3, -0.2], [0.5, 1.1]])],
                  wrt=(0, 1), jit=jit)


# ---- fuzz seeds 830, 1560, 1800, 7650, 8270 (TypeError: expected float64 / array, got None) --------
# The causes (values of unknown kind: fancy-index results, recursive helpers' results, bound on one
# path, whose placeholder None was pushed on a tape) are fixed by typing those kinds (branch trust4).
# What stays is the backstop: should a placeholder None still reach compiled code that needs a value,
# the error is a SrcdiffError at the user's line binding that value, not Numba's TypeError.
def carried_value(x):
    for i in range(2):
        if i > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev)
        prev = x * 2.0
    return x


def test_untyped_placeholder_met_by_numba_is_declined_at_the_users_line(tmp_path):
    from srcdiff import api
    import linecache
    first = carried_value.__code__.co_firstlineno
    gen = tmp_path / "carried_value_grad.py"     # generated code as srcdiff writes it, with an untyped placeholder
    gen.write_text("def carried_value_grad(x):\n"
                   "    prev_stack = []\n"
                   "    prev = None\n"
                   f"    # line {first + 1}: for i in range(2):\n"
                   f"    # line {first + 4}: prev = x * 2.0\n"
                   "    prev1 = x * 2.0\n"
                   "    return prev1\n")
    namespace = {}
    exec(compile(gen.read_text(), str(gen), "exec"), namespace)
    linecache.checkcache(str(gen))
    t = srcdiff.grad(carried_value, jit=True)
    with pytest.raises(srcdiff.SrcdiffError) as err:
        api.translate_error(TypeError("expected float64, got None"), t, namespace["carried_value_grad"])
    assert (err.value.filename, err.value.lineno) == (carried_value.__code__.co_filename, first + 4)
    assert "prev (line" in str(err.value) and "got None" in str(err.value) and "jit=False" in err.value.advice
    with pytest.raises(TypeError):     # another TypeError is not this one
        api.translate_error(TypeError("unsupported operand"), t, namespace["carried_value_grad"])


def argmax_rows_in_loop(a, M):
    s = 0.0
    for i in range(2):
        picked = M[np.arange(2), np.argmax(a[None, :] * M, axis=1)]
        s = s + np.sum(picked * picked) * a[i]
    return s


@BACKENDS
@pytest.mark.parametrize("checkpoints", [None, 1], ids=["taped", "checkpointed"])
def test_argmax_along_an_axis_is_an_int_array(checkpoints, jit):
    """np.argmax(x, axis=1) is an int array (kinds): fuzz seed 10604 taped it as one int in a checkpointed loop
    ("setting an array element with a sequence")."""
    a, M = np.array([-1.1, 1.8]), np.array([[0.03, 0.85], [-0.12, 0.96]])
    grad = srcdiff.grad(argmax_rows_in_loop, wrt=("a", "M"), checkpoints=checkpoints, jit=jit)
    ga, gM = grad(a, M)
    np.testing.assert_allclose(ga, numerical_grad(argmax_rows_in_loop, [a, M], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(gM, numerical_grad(argmax_rows_in_loop, [a, M], 1), rtol=1e-6, atol=1e-9)


# ---- fuzz seed 25480 (jit: Numba's 'No implementation of getitem'): a recursive helper, which stays a call, is
# emitted as the user wrote it, with its list-literal indexes, which Numba rejects -----------------------------
def _rec_list_index(u, M, depth):
    if depth <= 0:
        return np.tanh(u) * np.sum(M[[0, 1], 1])
    return 0.5 * np.sin(_rec_list_index(u, M, depth - 1)) + 0.5 * np.sum((np.ones(2) * u)[[1]]) \
        + np.sum(M[1][[True, False]])


def recursive_helper_with_list_indexes(x, M):
    return _rec_list_index(x, M, 2)


@BACKENDS
def test_recursive_helper_with_list_literal_indexes(jit):
    _grad_matches(recursive_helper_with_list_indexes, [0.3, np.array([[0.4, -0.2], [1.1, 0.7]])], wrt=(0, 1),
                  jit=jit)


# ---- fuzz seed 61290 (jit: 'a[idx] += g under Numba takes 1-D integer index arrays'): an index array made by
# np.arange on a path an early return may skip had no kind, so its placeholder was None and Numba typed it optional
def arange_index_after_early_return(x, M, n):
    for i in range(n):
        if i > 1:
            return x
    return x / (1.5 + np.square(np.sum(M[np.arange(2), np.argmax(M, axis=1)])))


@BACKENDS
def test_arange_index_on_a_path_an_early_return_skips(jit):
    M = np.array([[0.3, -0.2, 0.9], [1.1, 0.4, -0.6]])
    _grad_matches(arange_index_after_early_return, [0.3, M, 1], wrt=(0, 1), jit=jit)
    _grad_matches(arange_index_after_early_return, [0.3, M, 3], wrt=(0, 1), jit=jit)


# ---- fuzz seed 71420 (jit: Numba's raw NotDefinedError, then a decline): a helper called from a recursive
# helper stays a call and is emitted as the user wrote it; a value it first binds inside a loop and reads in a
# later iteration is, to Numba, possibly undefined. Its primal copy now gets the placeholders SSA gives the
# gradient (transforms/unbound.py), so it compiles.
def _loop_carried_helper(p0=1.5):
    for i in range(2):
        if i > 0:
            p0 = 0.5 * p0 + 0.5 * np.tanh(np.sum(prev))
        prev = np.ones(2) * p0
    return p0


def _rec_calling_helper(u, depth):
    if depth <= 0:
        return np.tanh(u)
    return 0.5 * np.sin(_rec_calling_helper(u, depth - 1)) + 0.5 * _loop_carried_helper(u)


def recursion_into_loop_carried_helper(x):
    return _rec_calling_helper(x, 2)


@BACKENDS
def test_recursion_into_a_helper_with_a_loop_carried_value(jit):
    _grad_matches(recursion_into_loop_carried_helper, [0.3], jit=jit)
