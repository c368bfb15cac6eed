"""transforms/unbound.py: placeholders, before the code, for names read where they may be unassigned. A
placeholder has the name's kind, so Numba types the name as it types the values bound to it; a None one makes
it an optional, which Numba's in-place operators cannot type (fuzz seed 501370)."""
import ast

import gast
import numpy as np
import pytest

import branch_values
import srcdiff
from gradcheck import numerical_grad
from srcdiff.transforms import annotations as anno
from srcdiff.transforms.unbound import define_unbound

A1, F = ("a", 1, "f"), ("s", "f")
BOUND_IN_A_BRANCH = """def f(a, c):
    for i in range(2):
        if i > 0:
            s = np.sum(p)
        if c:
            p1 = a
        else:
            p2 = np.reshape(a, (2,))
            p1 = p2
        p = p1
    return s
"""


def _placeholders(kinds):
    fn = define_unbound(gast.parse(BOUND_IN_A_BRANCH).body[0], kinds, {})
    return {ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(s))) for s in fn.body[:2]}


def test_placeholder_has_the_kind_its_copies_agree_on():
    """p's kind is unknown (as if p2's rule had no kind law, as np.diag's has none), but p is a copy of p1, a merge
    of a and p2: the one kind they have, a's, is p's."""
    assert "p = np.zeros((1,))" in _placeholders({"a": A1, "p1": None, "p2": None, "p": None, "s": F})


def test_placeholders_are_annotated():
    """Each statement define_unbound writes (and only those) carries PLACEHOLDER: the CUDA lowering gives an array's
    placeholder the shape of the name's real binding (np.zeros((1,)) has p's rank only)."""
    fn = define_unbound(gast.parse(BOUND_IN_A_BRANCH).body[0], {"a": A1, "p1": A1, "p2": A1, "p": A1, "s": F}, {})
    marked = [ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(s))) for s in gast.walk(fn) if anno.get(s, anno.PLACEHOLDER)]
    assert sorted(marked) == ["p = np.zeros((1,))", "s = 0.0"]


def test_typed_none_is_annotated():
    """A `v = None` of differentiated code given a type is a placeholder too."""
    fn = define_unbound(gast.parse("def f(a):\n    v = None\n    v = a * 2.0\n    return v\n").body[0],
                        {"a": A1, "v": A1}, {})
    assert anno.get(fn.body[0], anno.PLACEHOLDER) and not anno.get(fn.body[1], anno.PLACEHOLDER)
    assert ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(fn.body[0]))) == "v = np.zeros((1,))"


def test_none_of_a_copy_of_a_name_tested_against_none_is_typed():
    """`v = None` of differentiated code, then `v = a` in the loop, after `assert a is not None`: v's None is no
    value the test reads (a's is), so it is typed; it stayed None, and under Numba the gradient of the gradient
    crashed typing an in-place `+=` of the Optional's zeros (nested fuzz seed 1008123). A name a tested one is
    copied from keeps its None (test_user_none_tested_later_keeps_its_none)."""
    src = "def f(a):\n    v = None\n    ok = a is not None\n    for i in range(2):\n        v = a\n    return v\n"
    fn = define_unbound(gast.parse(src).body[0], {"a": A1, "v": A1, "ok": ("s", "b")}, {})
    assert ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(fn.body[0]))) == "v = np.zeros((1,))"
    src = "def f(a):\n    v = None\n    for i in range(2):\n        w = v\n        ok = w is not None\n        v = a\n    return v\n"
    fn = define_unbound(gast.parse(src).body[0], {"a": A1, "v": A1, "w": A1, "ok": ("s", "b")}, {})
    assert ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(fn.body[0]))) == "v = None"


def carried_after_a_none_test(x, a, M):
    k = 0
    while k < 4:
        k += 1
        for row in M:
            assert a is not None, "lost a"
    for e, f in enumerate(zip(a, -8.0 * a), start=2):
        for i in range(3):
            if i > 0:
                x = 0.5 * x + 0.5 * np.tanh(np.sum(prev))
            prev = (((a > -0.5).astype(np.float64) * a) if a[i // 2] > -0.3 else a)
    return x * np.sum(M)


def penalty_of_carried_after_a_none_test(x, a, M):
    gx, ga, gM = srcdiff.grad(carried_after_a_none_test, wrt=(0, 1, 2), jit=True)(x, a, M)
    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)


def test_gradient_of_a_gradient_with_a_placeholder_copied_from_a_tested_name_compiles():
    """Nested fuzz seed 1008123, reduced: under Numba, 'Numba crashed compiling the generated code for h
    (AttributeError: 'NoneType' object has no attribute 'args')' -- prev's placeholder stayed None (see
    test_none_of_a_copy_of_a_name_tested_against_none_is_typed)."""
    x, a = 1.495, np.array([1.2855639, -0.36788485, -1.04536735, 0.23808155])
    M = np.array([[0.62, -0.2455, 1.045, -0.1235], [0.25, -0.0532, -0.0363, 1.126]])
    f = penalty_of_carried_after_a_none_test
    got = srcdiff.grad(f, wrt=(0, 1, 2), jit=True)(x, a.copy(), M.copy())
    python = srcdiff.grad(f, wrt=(0, 1, 2))(x, a.copy(), M.copy())
    for k in range(3):
        np.testing.assert_allclose(got[k], python[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[k], numerical_grad(f, [x, a, M], k), rtol=1e-5, atol=1e-7)


def test_no_placeholder_kind_where_the_copies_disagree():
    assert "p = None" in _placeholders({"a": A1, "p1": None, "p2": F, "p": None, "s": F})


VALUES = {"reshape": "np.reshape(M, (4,))[:2]", "diag": "np.diag(M)", "squeeze": "np.squeeze(M[:, :1], axis=1)",
          "solve": "np.linalg.solve(M + 2.0 * np.eye(2), a)", "broadcast_to": "np.broadcast_to(np.sum(M), (2,))",
          "linspace": "np.linspace(M[0, 0], M[1, 1], 2)", "tensordot": "np.tensordot(M, M, 1)[0]"}


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("value", sorted(VALUES))
def test_value_of_a_rule_without_a_kind_law_bound_in_a_branch(value, jit):
    """Bound in a branch from a rule with no kind law and read in a later iteration: under Numba its placeholder
    was None ("Numba crashed compiling the generated code (AttributeError: 'NoneType' object has no attribute
    'args')"); it takes the kind of the other branch's `a`."""
    branch_values.check_both_branches(branch_values.program(f"unbound_{value}", VALUES[value]).f, jit)


def none_until_set(x, a, flag):
    r = None
    if flag:
        r = x * a[1]
    if r is None:
        return x * 2.0
    return r * a[0]


def none_until_first_iteration(x, a):
    r = None
    for i in range(3):
        if r is None:
            r = x * a[i]
        else:
            r = r * np.sin(a[i])
    return r


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, args", [(none_until_set, (0.5, [0.3, 0.4, 0.5], False)),
                                     (none_until_set, (0.5, [0.3, 0.4, 0.5], True)),
                                     (none_until_first_iteration, (0.5, [0.3, -0.4, 0.5]))])
def test_user_none_tested_later_keeps_its_none(f, args, jit):
    """`r = None` in the user's code, tested later (`if r is None:`): the placeholder pass gave it its kind's zero
    (r = 0.0), so `r is None` was always False: gradient and value of the other branch (0.0 and 0 instead of 2
    and x * 2 for none_until_set without flag; found while fuzzing the CUDA target). The None stays where the
    program tests it; Python and Numba agree with central differences."""
    from gradcheck import check_grad
    import srcdiff
    args = [np.array(v) if isinstance(v, list) else v for v in args]
    if jit and f is none_until_first_iteration:      # Numba cannot type r (None, then a float): declined
        with pytest.raises(srcdiff.SrcdiffError, match="bound on some paths only"):
            srcdiff.grad(f, wrt=(0, 1), jit=jit)(*args)
        return
    check_grad(f, list(args), wrt=(0, 1), jit=jit)
    val, _ = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    assert np.isclose(val, f(*args))
    t = (1.0, np.zeros(3))
    assert np.isclose(srcdiff.jvp(f, wrt=(0, 1), jit=jit)(*args, t)[1], check_grad(f, list(args), wrt=(0, 1))[0])


SUM_IN_A_BRANCH = """def f(a, c):
    for i in range(2):
        if i > 0:
            s = np.sum(t)
        if c:
            t1 = rt.zeros_like(a * 0.5)
            t = t1
        else:
            t2 = 0.0
            t = t2
    return s
"""


def test_an_empty_sums_zero_tells_no_kind():
    """`t2 = 0.0`, a sum's value where its loops run no iteration (annotations.SUM_EMPTY), is a float only where
    its terms are: with their kind unknown the placeholder of t stays None (it was 0.0), so that differentiating
    the code again with kinds makes it zeros of the sum's kind."""
    fn = gast.parse(SUM_IN_A_BRANCH).body[0]
    empty = [s for s in gast.walk(fn) if isinstance(s, gast.Assign) and s.targets[0].id == "t2"][0]
    anno.set(empty, anno.SUM_EMPTY)
    fn = define_unbound(fn, {"a": A1, "t1": None, "t2": F, "t": None, "s": F}, {})
    assert ast.unparse(ast.fix_missing_locations(gast.gast_to_ast(fn.body[1]))) == "t = None"


def early_return_then_a_sum_over_zip(x, a, m):
    for i in range(1):
        if x > 5.0:
            return x * 2.0
    s = sum(a * (e * 0.5 + e2) for e, e2 in zip(a, m[0]))
    return np.sum(s[1:] * s[:-1]) + x * np.sum(a)


def gradient_norm_penalty(x, a, m):
    gx, ga, gm = srcdiff.grad(early_return_then_a_sum_over_zip, wrt=(0, 1, 2))(x, a, m)
    return gx * gx + np.sum(ga * ga) + np.sum(gm * gm)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_over_a_gradient_with_a_sum_read_after_an_early_return(jit):
    """Nested fuzz seed 460020: the inner gradient (made before any call: kinds unknown) read the sum where the early
    return may have left it unbound; its placeholder took the kind of the sum's 0.0 start, a float, which the outer
    gradient under Numba could not unify with the sum of arrays ("Cannot unify array(float64, 1d, C) and float64")."""
    x, a, m = 0.3, np.array([0.4, -0.2, 0.7]), np.array([[0.5, 0.1, 0.3], [-0.3, 0.8, 0.2]])
    got = srcdiff.grad(gradient_norm_penalty, wrt=(0, 1, 2), jit=jit)(x, a, m)
    python = srcdiff.grad(gradient_norm_penalty, wrt=(0, 1, 2))(x, a, m)
    for k in range(3):
        np.testing.assert_allclose(got[k], numerical_grad(gradient_norm_penalty, [x, a, m], k), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(got[k], python[k], rtol=1e-12, atol=1e-14)


def int32_after_an_early_return(x, a, M, n):
    """An int32 array bound after a loop that may return early: its placeholder must be int32 too."""
    for e in a:
        if n > 2:
            return x * 2.0
    t = np.dot(M[:, 0], M).astype("int32") * a
    return np.dot(M[0], a) * x + np.sum(t)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_placeholder_of_an_integer_cast_takes_its_width(jit):
    """`.astype('int32')` bound after an early return: the placeholder was an int64 array, which Numba cannot
    unify with the cast's int32 one ("Cannot unify array(int32, 1d, C) and array(int64, 1d, C)", nested fuzz of
    SRCDIFF_TESTS=full); it is int32 now, and the gradient equals the Python backend's and central differences."""
    x, a, M = 0.3, np.array([0.2, 0.5]), np.array([[1.2, 0.4], [0.3, 2.1]])
    g = srcdiff.grad(int32_after_an_early_return, wrt=(0, 1, 2), jit=jit)
    gx, ga, gM = g(x, a, M, 1)
    assert gx == pytest.approx(numerical_grad(int32_after_an_early_return, [x, a, M, 1], 0), rel=1e-6)
    np.testing.assert_allclose(ga, numerical_grad(int32_after_an_early_return, [x, a, M, 1], 1), rtol=1e-6)
    np.testing.assert_allclose(gM[0], numerical_grad(lambda r: int32_after_an_early_return(
        x, a, np.vstack([r, M[1:]]), 1), [M[0]], 0), rtol=1e-6, atol=1e-9)
    assert "dtype=np.int32" in srcdiff.source(g)


UNBOUND_DEBUG = False


def tape_in_a_branch_numba_removes(x, a):
    s = x
    if x > 5.0:
        s = s * 2.0
    elif (not UNBOUND_DEBUG) or (x > 0.0):
        s = s + 1.0
    else:                      # never runs: Numba removes it as dead, with the allocation of its loop's tape
        for i in range(3):
            if a[i] > 0.0:
                s = s * np.tanh(a[i] + s)
    return s * s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_a_tape_allocated_in_a_branch_numba_removes_has_a_typed_placeholder(jit):
    # the tape's placeholder was None; Numba removed the branch allocating the tape (a module constant decides
    # its test) but not the backward sweep's branch reading it (a taped condition): "getitem(none, int64)"
    # (nested fuzz 795075). Names bound only to new arrays get placeholders of their kind.
    a = np.array([0.3, -0.2, 0.5])
    for x in (0.4, 6.0):
        got = srcdiff.grad(tape_in_a_branch_numba_removes, wrt=(0, 1), jit=jit)(x, a)
        np.testing.assert_allclose(got[0], numerical_grad(tape_in_a_branch_numba_removes, [x, a], 0), rtol=1e-6)
        np.testing.assert_allclose(got[1], np.zeros(3))


def prev_tuple(x, a):
    s = 0.0
    for i in range(len(x)):
        if i > 0:
            p, q = pq
            s += p * x[i] + q * a
        pq = (x[i] * a, np.cos(x[i]))
    return s


def prev_tuple_of_an_array_and_an_int(x, a):
    s = 0.0
    for i in range(3):
        if i > 0:
            v, k = state
            s += np.sum(v * x) * k
        state = (x * a + i, i + 1)
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f", [prev_tuple, prev_tuple_of_an_array_and_an_int])
def test_a_tuple_bound_in_a_loop_and_read_next_iteration_has_a_tuple_placeholder(f, jit):
    """jvp's `pq = None` and `d_pq = None` placeholders: Numba crashed compiling the optional tuple ('NoneType'
    object has no attribute 'args'). A tuple whose items' kinds are known gets a tuple of their placeholders, and
    forward mode's tangents have kinds (a tuple's: its items' tangents) the unbound pass reads."""
    x = np.array([0.31, 0.7, 0.21, 0.45, 0.97])
    value, slope = srcdiff.jvp(f, wrt=1, jit=jit)(x, 1.3, 1.0)
    assert value == pytest.approx(f(x, 1.3))
    assert slope == pytest.approx(numerical_grad(f, [x, 1.3], 1), rel=1e-6)
    assert srcdiff.grad(f, wrt=1, jit=jit)(x, 1.3) == pytest.approx(slope, rel=1e-9)


UNBOUND_CASES = [BOUND_IN_A_BRANCH, """def f(a, c):
    x = a
    while c > 0.0:
        y = x * 2.0
        if y > 1.0:
            z = y
        else:
            w = y
        c = c - z
    else:
        q = 1.0
    r = (w, q)
    t, u = r
    v = t if t is None else u
    a = rt.stack_zeros(3, v)
    return s
""", """def f(x, a):
    y = pe(x, a)
    d_x, (d_a, d_b[0]) = pe_vjp(x, a, y)
    for i in range(2):
        u, v = d_x * i, d_b
        d_b = v + u
    return (d_x, d_a, u)
""", """def f(a, b):
    for i in range(3):
        s = s + a[i]
        b[j] = s
        j = i
    for k in range(2):
        pass
    else:
        m = k
    return m + s
"""]


@pytest.mark.parametrize("src", UNBOUND_CASES)
def test_possibly_unbound_names_are_the_locals_exposed_reads_finds(src):
    from srcdiff.transforms.ssa import exposed_reads
    from srcdiff.transforms.unbound import possibly_unbound
    fn = gast.parse(src).body[0]
    stored = {n.id for n in gast.walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    assert possibly_unbound(fn) == exposed_reads(fn.body, frozenset(a.id for a in fn.args.args)) & stored


def _kept_pullback(x, a):
    return np.sum(np.sin(a) * x)


def calls_a_kept_pullback(x, a):
    y = _kept_pullback(x, a)
    return np.sin(y / 2)


def test_names_a_tuple_target_binds_get_no_placeholders(monkeypatch, tmp_path_factory):
    """The gradients a pullback call gives, `d_x, d_a = kept_pullback_vjp(x, a, d_y)` of a callee that stays a call,
    were read as never bound: placeholders nothing reads (`d_a = np.zeros((1,))`, `d_x = 0.0`) began the function."""
    from srcdiff.transforms import inline
    from srcdiff.transforms.unbound import possibly_unbound
    fn = gast.parse("def f(x, a):\n    d_x, (d_a, b[0]) = g(x, a)\n    return d_x + d_a + b\n").body[0]
    assert possibly_unbound(fn) == set()
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "small_inline_limit"))
    monkeypatch.setattr(inline, "MAX_STATEMENTS", 1)
    g = srcdiff.grad(calls_a_kept_pullback, wrt=(0, 1))
    got = g(0.3, np.array([0.1, 0.2, 0.7]))
    text = srcdiff.source(g).split("def calls_a_kept_pullback_grad")[1]
    assert "d_x, d_a = kept_pullback_vjp(x, a, d_y)" in text and "np.zeros" not in text and " = 0.0" not in text, text
    for k in range(2):
        np.testing.assert_allclose(got[k], numerical_grad(calls_a_kept_pullback, [0.3, np.array([0.1, 0.2, 0.7])], k),
                                   rtol=1e-6)
