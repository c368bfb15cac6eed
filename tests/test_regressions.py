"""Minimised reproducers of compiler bugs found by tests/test_fuzz.py, tests/test_rules_table.py
and the error catalogue.  Unfixed bugs are strict xfails: fixing one makes its test XPASS (fail),
so remove the mark (and any matching exclusion in test_fuzz.CI_EXCLUDE / KNOWN_BUGS) then.
"""
import warnings

import numpy as np
import pytest

import constructs as C
import srcdiff
from scipy.special import logsumexp
from gradcheck import numerical_grad


def _grad_matches(f, args, wrt=0, jit=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(f, wrt=wrt, jit=jit)(*args)
    wrt_t = wrt if isinstance(wrt, tuple) else (wrt,)
    got_t = got if isinstance(wrt, tuple) else (got,)
    for k, g in zip(wrt_t, got_t):
        np.testing.assert_allclose(g, numerical_grad(f, args, k), rtol=1e-5, atol=1e-6)


# ---- silently wrong gradients -------------------------------------------------------------------
def early_return_if_loop_in_else(x):
    if x > 0.5:
        return x
    else:
        for i in range(1):
            x = x * 1.0
    return 3.0 * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_early_return_in_if_with_loop_in_else(jit):
    _grad_matches(early_return_if_loop_in_else, [1.0], jit=jit)


def while_in_for_varying_trips(x):
    for i in range(2):
        c = i * 1.0
        while c < 2.0:
            x = np.sin(x)
            c = c + 1.0
    return x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_while_in_for_with_varying_trip_count(jit):
    _grad_matches(while_in_for_varying_trips, [0.7], jit=jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("x", [0.1, 0.7, 1.7])
def test_return_flag_tested_before_inner_loop(x, jit):
    # fuzz seed 1345: the backward sweep tested the `returned` flag after the inner loop had changed
    # it, skipping the adjoint of `return x * a[j]` (a silent zero gradient)
    _grad_matches(C.returns_in_nested_loops, [x, np.array([1.5, 2.0])], wrt=(0, 1), jit=jit)


def two_copies_one_written(M):
    a = np.copy(M)
    b = np.copy(M)
    b[0] = 2.0 * M[1]
    return np.sum(a * a) + np.sum(b)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_two_copies_of_an_array_one_written(jit):
    # fuzz seed 1133: common-subexpression elimination merged the two np.copy calls, so the write
    # to one changed the other (wrong value and gradient)
    M = np.arange(6.0).reshape(2, 3) / 7.0
    value, _ = srcdiff.value_and_grad(two_copies_one_written, jit=jit)(M)
    assert value == pytest.approx(two_copies_one_written(M))
    _grad_matches(two_copies_one_written, [M], jit=jit)


def element_reread_of_array_from_outer_loop(x, a, M):
    for i1 in range(2):
        if x > 1.5:
            break
        a = 0.5 * a + 0.5 * np.tanh(a)
        for i2 in range(2):
            M = M * a[i2]
    return np.sum(M)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_element_reread_of_array_from_outer_loop(jit):
    # fuzz seed 3127: the backward sweep re-read a[i2] (instead of storing it) from the outer loop's
    # last `a`, which it never restored for earlier outer iterations
    _grad_matches(element_reread_of_array_from_outer_loop, [0.3, np.array([0.4, -1.1]), np.array([0.5, 2.0])],
                  wrt=(1, 2), jit=jit)


def _helper_with_identity_branch(p0):
    if logsumexp(p0) > 2.0:
        p0 = p0
    return -np.square(p0)


def merge_value_read_after_branch_in_loop(a, M):
    for i in range(1, 3):
        a = np.sin(M[0] + _helper_with_identity_branch(a))
    return np.sum(_helper_with_identity_branch(a))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_merge_value_read_after_branch_in_loop(jit):
    # fuzz seed 6748: the value an if merges (p0 after `if ...: p0 = p0`) was restored inside the
    # branches, after the backward sweep had already used it for the statements below the if
    rng = np.random.default_rng(1)
    _grad_matches(merge_value_read_after_branch_in_loop, [rng.normal(size=4), rng.normal(size=(2, 4))],
                  wrt=(0, 1), jit=jit)


# ---- internal crashes -----------------------------------------------------------------------------
def early_returns_in_two_loops(x):
    for i in range(1):
        if x > 1.0:
            return 1.0
    for j in range(1):
        if x > 1.0:
            return x
    return x


def test_early_returns_in_two_loops():
    _grad_matches(early_returns_in_two_loops, [0.3])


def return_array_local_in_loop(x, M):
    for i in range(2):
        t = M
        if x > 0.5:
            return np.sum(t)
    return x


def test_return_of_array_local_inside_loop_numba():
    _grad_matches(return_array_local_in_loop, [0.7, np.ones((2, 2))], wrt=(0, 1), jit=True)


def test_return_of_array_local_inside_loop_python():
    _grad_matches(return_array_local_in_loop, [0.7, np.ones((2, 2))], wrt=(0, 1))
    _grad_matches(return_array_local_in_loop, [0.3, np.ones((2, 2))], wrt=(0, 1))


def subscript_in_for_then_while(y):
    x = 1.0
    for i in range(1):
        x = y[0]
    c = 0.0
    while c < 2.0:
        x = x * x
        c = c + 1.0
    return x


def test_subscript_in_for_then_while():
    # was: TypeError "'NoneType' object is not subscriptable" in reverse.py (fixed in the working tree)
    _grad_matches(subscript_in_for_then_while, [np.array([0.3, 0.2])])


def nested_loop_array_update(M):
    for j in range(2):
        for i in range(1):
            M = M * np.tanh(M)
    return M[0, 0]


def test_numba_array_expr_name_clash():
    _grad_matches(nested_loop_array_update, [np.ones((2, 3)) * 0.3], jit=True)


def test_nested_loop_array_update_python():
    _grad_matches(nested_loop_array_update, [np.ones((2, 3)) * 0.3])


# ---- missing features -----------------------------------------------------------------------------
def squeeze_col(x):
    return np.sum(np.sin(np.squeeze(x)))


def test_squeeze_numba_needs_axis():
    # was: a Numba TypingError (wrapped as "Numba could not compile"): without axis= the rank of the
    # result depends on the run-time shape, so jit=True declines it at the call, with advice
    line = squeeze_col.__code__.co_firstlineno + 1
    with pytest.raises(srcdiff.SrcdiffError, match=rf"test_regressions\.py:{line}: np\.squeeze without axis=.*"
                                                   rf"\n.*np\.squeeze\(x\).*\n.*hint: name the size-1 axes"):
        srcdiff.grad(squeeze_col, jit=True)(np.ones((3, 1)) * 0.3)


def test_squeeze_python():
    _grad_matches(squeeze_col, [np.ones((3, 1)) * 0.3])


def squeeze_axes(x, y):
    return np.sum(np.sin(np.squeeze(x, axis=1)) * x.squeeze(-1)) + np.sum(np.cos(y.squeeze((0, 2))) * y[0, :, 0])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_squeeze_axis(jit):
    rng = np.random.default_rng(3)
    _grad_matches(squeeze_axes, [rng.normal(size=(3, 1)), rng.normal(size=(1, 4, 1))], wrt=(0, 1), jit=jit)


def test_squeeze_axis_of_size_above_one_numba():
    # Numba's reshape would not check it: the helper raises NumPy's ValueError
    with pytest.raises(ValueError, match="size not equal to one"):
        srcdiff.grad(squeeze_axes, wrt=(0, 1), jit=True)(np.ones((3, 2)), np.ones((1, 4, 1)))


def where_of_scalars_merged_with_float(x):
    if x > 0.0:
        return x * x / (1.5 + np.square(np.where(x > 0.5, x, 0.3 * x)))
    return 2.0 * x


@pytest.mark.parametrize("x", [-0.3, 0.2, 0.9])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_where_of_scalars_merged_with_float(x, jit):
    # fuzz seed 22200: np.where of scalars is a 0-d array under Numba, which it cannot merge with the
    # float of the other branch; the generated code selects a scalar instead
    _grad_matches(where_of_scalars_merged_with_float, [x], jit=jit)


def _returns_array_built_from_ones(p0, p1):
    for i in range(1, 2):
        if p1 > 0.3:
            return p0
        p0 = 0.5 * p0 + 0.5 * np.tanh(p1 * np.ones((2, 2)))
    return p0 * 2.0


def array_result_from_ones_with_literal_shape(x, M):
    return np.sum(_returns_array_built_from_ones(M, x))


@pytest.mark.parametrize("x", [0.1, 0.5])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_array_result_from_ones_with_literal_shape(x, jit):
    # fuzz seed 26900: the rank of np.ones((2, 2)) was unknown, so the zero adjoint of the returned
    # array was a float in one branch and an array in the other (Numba could not merge them)
    _grad_matches(array_result_from_ones_with_literal_shape, [x, np.arange(4.0).reshape(2, 2) / 5], wrt=(0, 1),
                  jit=jit)


# ---- found by the reliability audit (issue 7) -----------------------------------------------------------
def scalar_into_slice(x):
    y = np.zeros(3)
    y[1:] = x
    return np.sum(y * y)


def row_vector_into_rows(x):
    y = np.zeros((3, 3))
    y[0:2] = x
    return np.sum(y * y * np.arange(9.0).reshape(3, 3))


def scalar_into_slices_in_loop(x, a):
    y = a.copy()
    s = 0.0
    for i in range(3):
        y[i:] = x * (i + 1.0)
        s = s + np.sum(y * y)
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_scalar_written_into_slice(jit):
    # was: d_x = d_y[1:] (an array view, then zeroed): [0, 0] instead of 4x
    _grad_matches(scalar_into_slice, [0.7], jit=jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_vector_broadcast_into_rows(jit):
    # was: a (2, 3) gradient for a (3,) argument
    _grad_matches(row_vector_into_rows, [np.array([0.5, 0.7, 1.0])], jit=jit)


def test_scalar_written_into_slices_in_loop():
    # was: ValueError (operands could not be broadcast) in the generated code
    _grad_matches(scalar_into_slices_in_loop, [0.7, np.array([0.1, 0.2, 0.3])], wrt=(0, 1))


def scalar_into_slice_hvp(x):
    y = np.zeros(3)
    y[1:] = x * x
    return np.sum(y * y)


def test_scalar_written_into_slice_hvp():
    # forward over the reverse sweep of the same write (d = 8x^3, d2 = 24x^2)
    assert srcdiff.hvp(scalar_into_slice_hvp)(0.7, 1.0) == pytest.approx(24 * 0.49)


def list_index(x):
    return np.sum(x[[0, 2]] ** 2)


def list_index_by_name(x):
    idx = [0, 2]
    return np.sum(x[idx] ** 2)


@pytest.mark.parametrize("f", [list_index, list_index_by_name])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_integer_list_index(f, jit):
    # was: IndexError (the list was emitted as a tuple: x[0, 2])
    _grad_matches(f, [np.array([0.3, -0.5, 1.2])], jit=jit)


def identity(x):
    return x


def test_hvp_of_identity():
    # was: AttributeError in reverse.py (no shape classes without argument kinds)
    assert srcdiff.hvp(identity)(0.7, 1.0) == 0.0


def recursive_square(x, n):
    if n == 0:
        return x * x
    return recursive_square(x * 1.1, n - 1)


def test_hvp_of_recursive_function():
    # was: IndentationError: an if branch emptied by dead-code removal was emitted without a statement
    assert srcdiff.hvp(recursive_square)(0.7, 3, 1.0) == pytest.approx(2 * 1.21 ** 3)


def stack_of_list(x):
    return np.sum(np.stack([x, x * 2.0]) ** 2) + np.sum(np.concatenate([x, x * 3.0]) ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_stack_of_list_display(jit):
    # was (Numba): "could not compile" -- np.stack got a reflected list; variadic arguments are tuples now
    _grad_matches(stack_of_list, [np.array([0.3, -0.5, 1.2])], jit=jit)


def early_return_then_log_domain_recursion(x, a, M):
    if x > 5.0:
        return x
    sq = M[:, :2]
    al = M[:, 0]
    for i in range(2):
        al = logsumexp(al[:, None] + sq, axis=0)
    return np.sum(al)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_early_return_then_log_domain_recursion(jit):
    # found by long-mode fuzz (seeds 50060, 50240, 50320, 50330, new 'logdomain' feature): the exp table
    # hoisted inside the early return's else branch got a `None` placeholder -- Numba crashed with an
    # internal AttributeError; now a placeholder of its type (unbound.placeholder)
    args = [0.5, np.array([0.1, 0.2, 0.3]), np.array([[0.3, -0.2, 0.5], [1.0, 0.1, -0.4]])]
    _grad_matches(early_return_then_log_domain_recursion, args, wrt=(0, 1, 2), jit=jit)
    g = srcdiff.grad(early_return_then_log_domain_recursion, wrt=(0, 1, 2), jit=jit)
    g(*args)
    assert "rt.logsumexp_vecmat(" in srcdiff.source(g)


def loop_carried_result(x):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.sin(x * s + 1.0))
    return s


@pytest.mark.parametrize("jit", [False, True])
def test_value_and_grad_keeps_a_loop_carried_result(jit):
    """The backward sweep pops loop-carried values back (`s = s_stack.pop()`): value_and_grad returned
    the restored initial value (0.0) instead of the result."""
    x = np.array([0.3, 0.5])
    value, g = srcdiff.value_and_grad(loop_carried_result, jit=jit)(x)
    np.testing.assert_allclose(value, loop_carried_result(x), rtol=1e-12)
    np.testing.assert_allclose(g, numerical_grad(loop_carried_result, [x], 0), rtol=1e-6, atol=1e-8)


# fuzz seed 80686 (long mode): an argument overwritten in a loop by values the result never sees.
# SSA keeps the entry name `M` as the loop-carried one, so flow-insensitive activity made the loop's
# adjoints live; M overflows to inf in the loop and 0 * inf gave a NaN gradient.
def overwritten_argument_unused(a, M):
    t = M / (1.5 + np.sum(a))
    c = -1.0
    while c < 2.0:
        d = -1.0
        while d < 2.0:
            M = np.square(np.maximum(t, logsumexp(M)))
            d = d + 0.5
        c = c + 0.5
    return np.sum(t)


def renamed_then_overwritten_unused(a, M):
    M = M * a
    t = M / (1.5 + np.sum(a))
    for i in range(40):
        M = np.square(np.maximum(t, logsumexp(M)))
    return np.sum(t)


@pytest.mark.parametrize("f", [overwritten_argument_unused, renamed_then_overwritten_unused])
@pytest.mark.parametrize("wrt", [0, (0, 1)], ids=["a", "a,M"])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_loop_overwrites_argument_with_values_the_result_never_sees(f, wrt, jit):
    a = np.array([1.16, 0.13, 1.07, 0.08])
    M = np.array([[-1.93, 2.43, -0.82, 0.69], [-1.84, 1.26, 1.89, -0.69]])
    with np.errstate(over="ignore", invalid="ignore"):
        _grad_matches(f, [a, M], wrt=wrt, jit=jit)


def float32_loss(w, xs):
    return np.sum(np.tanh(xs[0] @ w) * 1.3) + np.sum(xs[1] * w[0])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_float32_arguments_get_float32_gradients(jit):
    """Under Numba a float32 array's adjoint is computed in float64 (float32 * 1.3 is float64 there);
    every backend hands back gradients with their arguments' dtypes, through tuples too. The gradient
    w.r.t. one array came back as a 1-tuple when another argument was a tuple."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    xs = (rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=2).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, (gw, gxs) = srcdiff.value_and_grad(float32_loss, wrt=(0, 1), jit=jit)(w, xs)
        gw_only = srcdiff.grad(float32_loss, jit=jit)(w, xs)
    assert isinstance(gw_only, np.ndarray)    # was a 1-tuple when another argument was a tuple
    assert gw.dtype == gw_only.dtype == np.float32 and [g.dtype for g in gxs] == [np.float32, np.float32]
    w64, xs64 = w.astype(float), tuple(x.astype(float) for x in xs)
    np.testing.assert_allclose(gw, numerical_grad(float32_loss, [w64, xs64], 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gxs[0], numerical_grad(lambda a, b: float32_loss(w64, (a, b)), list(xs64), 0),
                               rtol=1e-4, atol=1e-4)


# Reverse over reverse through a gradient's scatter-adds (rt.index_add(d_a, idx, g): the adjoint of a
# read a[idx] by a variable or fancy index) gave a zero gradient: activity analysis did not see the
# statement, so nothing was active.
def picked_in_loop(p, S, u):
    x = p
    for t in range(1, u.shape[0]):
        x = np.sum(np.tanh(x[:, None] * S[u[t]]), axis=0)
    return np.sum(x)


def fancy_read(x, idx):
    return np.sum(np.sin(x[idx]) * x[idx])


def penalty_picked(p, S, u):
    g = srcdiff.grad(picked_in_loop, wrt=1)(p, S, u)
    return np.sum(g * g)


def penalty_fancy(x, idx):
    g = srcdiff.grad(fancy_read)(x, idx)
    return np.sum(g * g * x)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_penalty_through_scatter_adds(jit):
    rng = np.random.default_rng(7)
    p, S, u = rng.normal(size=3), rng.normal(size=(2, 3, 3)), np.array([0, 1, 1, 0, 1])
    _grad_matches(penalty_picked, [p, S, u], wrt=(0, 1), jit=jit)
    x, idx = rng.normal(size=4), np.array([0, 2, 0, 3])      # a repeated index accumulates
    _grad_matches(penalty_fancy, [x, idx], wrt=0, jit=jit)


# Nested fuzz (tests/fuzzgen.penalty_program: the gradient of each program's squared gradient norm).
# Seed 200016: f has early returns, so its gradient has more than inline.MAX_STATEMENTS statements;
# it stayed a call with a separate pullback, which cannot return a tuple of gradients (declined).
# Callees that return tuples are now inlined at any size. Seed 200015: in second-order code, kind inference
# gave up on a value merged from a helper's early-return paths (the first-order code's placeholder `r = None`
# and a loop's back-edge copy, both read as "unknown"), so its adjoint started as the scalar 0.0 and was then
# indexed in place: a TypeError from the generated code. Placeholders and not-yet-reached copies now tell
# kind inference nothing, and an adjoint of a value of unknown kind is made the value's shape before an
# in-place update.
NS = {200015: 4, 200016: 2, 210052: 3, 210097: 3, 210115: 2, 210127: 3, 220060: 3, 220100: 2, 220180: 2,
      220240: 3}


def _check_nested(seed, directory, jit=False):
    """fuzzgen.check_program on the stored nested-fuzz program of `seed` (its entry h)."""
    import os
    import fuzzgen
    with open(os.path.join(os.path.dirname(__file__), "fuzz_cases", f"nested_{seed}.py")) as fh:
        prog = fuzzgen.Program(fh.read(), N=NS[seed])
    mod = prog.load(str(directory), f"nested_{seed}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fuzzgen.check_program(mod, prog, jit, seed, entry="h")


def test_gradient_penalty_of_a_large_gradient(tmp_path):
    assert _check_nested(200016, tmp_path) == 1


def test_gradient_penalty_of_a_helper_with_early_returns(tmp_path):
    assert _check_nested(200015, tmp_path) == 1


def test_adjoint_of_unknown_kind_indexed_in_place(tmp_path, monkeypatch):
    """The same program with every array kind forgotten (as when inference cannot tell): adjoints that
    start as a scalar zero still take in-place updates of their rows."""
    from srcdiff import compiler
    infer = compiler.kinds.infer

    def scalars_only(fn, arg_kinds, callee_kind=None):
        return {k: v for k, v in infer(fn, arg_kinds, callee_kind).items() if k in arg_kinds or (v and v[0] != "a")}
    monkeypatch.setattr(compiler.kinds, "infer", scalars_only)
    assert _check_nested(200015, tmp_path) == 1


def test_kinds_skip_placeholders_and_back_edge_copies():
    import gast
    from srcdiff.transforms import kinds
    src = ("def f(M, n):\n    r = None\n    for i in range(n):\n        s = r\n        if i > 0:\n"
           "            t = s\n        else:\n            t = np.exp(M)\n        r = t\n    return r\n")
    fn = gast.parse(src).body[0]
    got = kinds.infer(fn, {"M": ("a", 2, "f"), "n": kinds.I})
    assert got["r"] == got["s"] == got["t"] == ("a", 2, "f")


# Nested fuzz seed 210052: f's gradient passes an adjoint on by name (`d_M4 = d_M`) and then adds into it
# in place inside a branch of a loop; differentiating that gradient again, the aliasing check declined it
# as a write through a view read afterwards. But `d_M` is rebound to a new array at the end of every
# iteration (after the write), so neither later iterations nor the code after the loop see the write.
def test_gradient_penalty_adjoint_handed_on_then_updated(tmp_path):
    assert _check_nested(210052, tmp_path) == 1


def handed_on_then_rebound(x, n):
    acc = np.zeros(3)
    for i in range(n):
        buf = acc
        if i % 2 == 0:
            buf[1] = buf[1] + x[i % 3] ** 2
        acc = buf * np.sin(x) + 0.5
    return np.sum(acc)


def handed_on_read_before_rebound(x, n):
    acc = np.zeros(3)
    for i in range(n):
        buf = acc
        buf[1] = buf[1] + x[i % 3] ** 2
        y = np.sum(acc * x)
        acc = buf * np.sin(x) + y
    return np.sum(acc)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_second_name_rebound_to_a_new_array_after_the_write(jit):
    """The aliasing check accepts a write through a second name when the first is rebound to a new array
    later in the same iteration (reads from then on see the new array) ..."""
    _grad_matches(handed_on_then_rebound, [np.array([0.3, -0.8, 1.1]), 5], jit=jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_second_name_read_between_write_and_rebinding(jit):
    """... and a read of the first name between the write and the rebinding, declined before, reads the array
    through the name written (follow_writes.follow_writes: `buf = acc` with every read of buf before acc's rebinding,
    so buf's reads and its write are acc's) and differentiates, in reverse and forward mode."""
    a = np.array([0.3, -0.8, 1.1])
    _grad_matches(handed_on_read_before_rebound, [a, 5], jit=jit)
    v = np.array([0.5, -1.0, 2.0])
    _, dot = srcdiff.jvp(handed_on_read_before_rebound, jit=jit)(a, 5, v)
    assert dot == pytest.approx(float(numerical_grad(handed_on_read_before_rebound, [a, 5], 0) @ v), rel=1e-7)


# Nested fuzz seed 210127: the check ordered an `if`'s two branches one after the other, so a read in the
# else branch counted as following a write in the if branch. Branches exclude each other now.
def test_gradient_penalty_write_and_read_in_exclusive_branches(tmp_path):
    assert _check_nested(210127, tmp_path) == 1


def write_in_if_read_in_else(x, flag):
    buf = np.zeros(3)
    alias = buf
    if flag > 0:
        buf[0] = x[0] * x[1]
        out = np.sum(buf * x)
    else:
        out = np.sum(alias * x) + np.sum(x ** 2)
    return out


def write_in_if_read_in_else_next_iteration(x, n):
    buf = np.zeros(3)
    alias = buf
    out = 0.0
    for i in range(n):
        if i % 2 == 0:
            buf[i % 3] = x[i % 3] ** 2
        else:
            out = out + np.sum(alias * x)
    return out


@pytest.mark.parametrize("flag", [1.0, -1.0])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_alias_read_only_in_the_other_branch(flag, jit):
    _grad_matches(write_in_if_read_in_else, [np.array([0.3, -0.8, 1.1]), flag], jit=jit)


def test_alias_read_in_the_other_branch_of_a_later_iteration_is_declined():
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory"):
        srcdiff.grad(write_in_if_read_in_else_next_iteration)(np.array([0.3, -0.8, 1.1]), 4)


# Nested fuzz seeds 210097 and 210115: more false declines of srcdiff's own hand-overs. The check reasoned
# from statement positions (first definition, write, read); a name first bound to fresh memory in one
# branch and bound to the written array only after the write, in the other branch (210097), or an SSA
# version copied back at the end of a loop body after the write (210115), looked stale. The check is now
# a may-alias dataflow over the structured SSA tree: a read is declined only if the name was bound to
# memory shared with the written array before the write, on some path, and not rebound since.
@pytest.mark.parametrize("seed", [210097, 210115])
def test_gradient_penalty_adjoint_hand_overs(seed, tmp_path):
    assert _check_nested(seed, tmp_path) == 1


def alias_bound_after_the_write(x, flag):
    buf = x * 1.0
    if flag > 0:
        view = np.sin(x)
    else:
        buf[0] = x[1] * x[2]
        view = buf
    return np.sum(view * x) + np.sum(buf * buf)


@pytest.mark.parametrize("flag", [1.0, -1.0])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_alias_bound_after_the_write_in_a_branch(flag, jit):
    _grad_matches(alias_bound_after_the_write, [np.array([0.3, -0.8, 1.1]), flag], jit=jit)


def view_from_the_previous_iteration(x, n):
    buf = x * 1.0
    view = np.zeros(3)
    out = 0.0
    for i in range(n):
        buf[i % 3] = buf[i % 3] * x[(i + 1) % 3]
        out = out + np.sum(view * x)
        view = buf
    return out


def test_view_bound_in_the_previous_iteration_is_declined():
    """`view = buf` at the end of one iteration; the next iteration's write to buf changes it before it
    is read: declined."""
    with pytest.raises(srcdiff.SrcdiffError, match="shares memory"):
        srcdiff.grad(view_from_the_previous_iteration)(np.array([0.3, -0.8, 1.1]), 3)


# Nested fuzz seeds 220000+, second-order code under Numba. The first-order gradient, generated inside the
# outer function's differentiation without argument kinds, defines its maybe-unbound values as `v = None`;
# differentiated again, those statements came along, and Numba typed the values as optional arrays or floats
# that a merge copy then unboxed: "TypeError: expected array(float64, 2d, C), got None" (220100, 220240;
# 220180 reshaped a placeholder of the wrong size). Kind inference now also knows the runtime helpers of
# adjoint code (rt.zeros_like, rt.unbroadcast, rt.sum_grad, rt.select, ...), and those placeholders get a
# typed value (unbound.define_unbound), taking the kind of the merge that reads them when they have none.
# 220060 guards an intermediate version of the scalar-zero fix above that broke it.
@pytest.mark.parametrize("seed", [220060, 220180, pytest.param(220100, marks=pytest.mark.slow),
                                  pytest.param(220240, marks=pytest.mark.slow)])
def test_gradient_penalty_jitted_with_placeholders(seed, tmp_path):
    assert _check_nested(seed, tmp_path, jit=True) == 1


# ---- an index array with repeated entries inside a tuple index, under Numba ------------------------
# The Numba version of rt.index_add did `a[idx] += g` for tuple indices, which writes a repeated entry
# once: jit=True gave a wrong gradient (no error) for x[..., [2, 0, 1, 1]]; Python (np.add.at) was right.
REPEATS = np.array([2, 0, 1, 1])


def gather_last_axis(x):
    return np.sum(np.sin(x[..., REPEATS]))


def gather_columns(x):
    return np.sum(np.sin(x[:, REPEATS]) * 1.3)


def gather_row_entries(x):
    return np.sum(np.cos(x[1, REPEATS]))


def gather_rows_then_slice(x):
    return np.sum(np.cos(x[REPEATS, 1:3]) ** 2)


def gather_apart(x):
    return np.sum(np.cos(x[0, :, REPEATS[:3] % 2]) * x[1, 0, 0])


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("f, shape", [(gather_last_axis, (2, 3)), (gather_last_axis, (3,)), (gather_columns, (2, 3)),
                                      (gather_row_entries, (2, 3)), (gather_rows_then_slice, (3, 4)),
                                      (gather_apart, (2, 3, 2))], ids=lambda v: getattr(v, "__name__", str(v)))
def test_repeated_index_array_in_a_tuple_index(f, shape, jit):
    _grad_matches(f, [np.random.default_rng(7).normal(size=shape)], jit=jit)


# ---- fuzz seed 767049: a read-only array pushed onto a stack under Numba ---------------------------
ROWS = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def read_only_views_in_a_branch(a, M):
    total = 0.0
    for i in range(3):
        if a[i] > 0.0:
            v = np.abs(np.broadcast_to(a, (2, 3)))     # np.broadcast_to: read-only under Numba
        elif a[i] < -1.0:
            v = ROWS[::-1] * a                         # a module constant's view: read-only under Numba
        else:
            v = np.abs(M[::-1])
        total = total + np.sum(np.sin(v) * M)
    return total


@pytest.mark.parametrize("a", [[0.3, -1.2, 0.7], [-0.4, 0.9, -1.6]], ids=["view-first", "flip-first"])
@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_read_only_arrays_on_a_stack(a, jit):
    """Numba types np.broadcast_to's result read-only, and a list's element type must match exactly:
    appending it to a stack typed from a writable placeholder crashed Numba's lowering (an
    AssertionError, reported as 'Numba crashed'). Stacks of arrays are read-only views now."""
    M = np.array([[0.2, -0.6, 1.1], [0.8, 0.35, -0.45]])
    _grad_matches(read_only_views_in_a_branch, [np.array(a), M], wrt=(0, 1), jit=jit)


# ---- fuzz seed 770049: hvp under jit, a stack whose only push Numba prunes ------------------------------
LIMIT = 1


def returns_under_a_constant_test(x, a):
    for i in range(2):
        if LIMIT * 0.25 > 0.5:          # False once Numba folds the module constant: the branch is pruned
            return (1.0 if x > 0.3 else a[2]) - 0.3
    return x * x * np.sum(a ** 3)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hvp_of_a_stack_pushed_in_a_pruned_branch(jit):
    """hvp differentiates the gradient's Python source in forward mode; its stacks (and their tangents')
    were untyped lists, and Numba, pruning the branch of their only push, could not type them. Forward
    mode now records what its stacks receive, so jitted code types them (rt.stack_of)."""
    a = np.array([0.5, -0.2, 0.8])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hx, ha = srcdiff.hvp(returns_under_a_constant_test, wrt=(0, 1), jit=jit)(0.7, a, (1.0, np.ones(3)))
    s = np.sum(a ** 3)
    np.testing.assert_allclose(hx, 2.0 * s + 2.0 * 0.7 * 3.0 * np.sum(a ** 2), rtol=1e-12)
    np.testing.assert_allclose(ha, 2.0 * 0.7 * 3.0 * a ** 2 + 0.49 * 6.0 * a, rtol=1e-12)


def _nanmean_after_early_return(M, n):
    if n > 1:
        return np.sum(np.nanmean(M, axis=0)[1:] * M[0, :-1])
    return np.sum(M ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_nanmean_along_an_axis_in_a_branch_that_returns(jit):
    """Fuzz seed 913911: np.nanmean(M, axis=0) counts with np.where(np.isnan(M), 0.0, 1.0), whose kind left the
    condition out (a scalar, so the count's sum along axis 0 a 0-d array); the early return's placeholder for
    the count was then 0-d and Numba could not unify it with the 1-d count ('Cannot unify array(float64, 0d)
    and array(float64, 1d)')."""
    M = np.arange(16.0).reshape(4, 4) / 10 - 0.3
    _grad_matches(_nanmean_after_early_return, (M, 2), jit=jit)
    _grad_matches(_nanmean_after_early_return, (M, 1), jit=jit)


def _weighted_if_given(x, w=None):
    s = 0.0
    for i in range(x.shape[0]):
        if w is None:
            s = s + np.sin(x[i]) ** 2
        else:
            s = s + w[i] * np.sin(x[i]) ** 2
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_none_test_in_a_loop_is_tested_again_not_stacked(jit):
    """`if w is None` in a loop: the backward sweep popped the test's value from a stack (`cond =
    cond_stack.pop()`), so under Numba both branches were typed, the one a None w cannot take included ('Type
    of variable d_s5 cannot be determined'). A test `a is b` of values the loop does not rebind is tested
    again in the backward sweep, as index arithmetic is, and Numba prunes the backward branch as it does the
    forward one."""
    x, w = np.array([0.3, 0.5, 0.9]), np.array([1.0, 2.0, 3.0])
    _grad_matches(_weighted_if_given, (x, w), jit=jit)
    _grad_matches(_weighted_if_given, (x,), jit=jit)    # (w None: tests/test_inline.py's none-argument tests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = srcdiff.grad(_weighted_if_given, jit=jit)
        g(x, w)
    assert "cond_stack" not in srcdiff.source(g) and "cond = w is None" in srcdiff.source(g), srcdiff.source(g)
