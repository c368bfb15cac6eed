"""Rules at shapes their table entries did not reach (a shape sweep of the rules table found each): a call
NumPy accepts either differentiates right or is declined with advice, never a gradient of the wrong shape
or values. The sweep itself: test_rules_sweep and test_rules_sweep_jvp below (rules of one, two and three arguments;
one case of each rule in the default run, every case with SRCDIFF_TESTS=full), and test_rules_sweep_numba (jit=True,
one case of each rule and rank pattern; one of each rule family in the default run)."""
import itertools
import warnings
import zlib

import numpy as np
import pytest

import srcdiff
from gradcheck import numerical_grad, source_module

SOURCE = '''
import numpy as np


def grid_of_vectors(a, b):
    return np.sum(np.sin(np.linspace(a, b, 5)))


def grid_by_hand(a, b):
    return np.sum(np.sin(a + (b - a) * np.linspace(0.0, 1.0, 5)[:, None]))


def derivative_on_coordinates(u, t):
    return np.sum(np.gradient(u, t) ** 2)


def derivative_on_a_spacing(u, h):
    return np.sum(np.gradient(u, h) ** 2)


def filled(v):
    return np.sum(np.sin(np.full((2, 3), v)) * np.arange(6.0).reshape(2, 3))


def outer_of_matrices(x, y):
    return np.sum(np.cos(np.outer(x, y)) * np.arange(np.size(x) * np.size(y)).reshape(np.size(x), np.size(y)))


def upper_of_a_vector(v):
    return np.sum(np.triu(v, 1) * np.arange(len(v) ** 2.0).reshape(len(v), len(v)))


def second_differences(x):
    return np.sum(np.sin(np.diff(x, 2, axis=0))) + np.sum(np.diff(x) ** 2) + np.sum(x * x)


def joined_numbers(a, b):
    return np.sum(np.sin(np.hstack((a, b)) * np.hstack([b, 2.0 * a])))


def contracted(x, y):
    return np.sum(np.sin(np.einsum('ij,jk->ik', x, y))) + np.sum(np.einsum('i,ij->j', x[0], y) ** 2)


def paired(u, w):
    return np.einsum('i,i', u, w) ** 2


def spread(x):
    return np.std(x) + np.sum(np.std(x, axis=0, keepdims=True)) + np.var(x) + np.linalg.norm(x - x)


def cube_norm(x):
    return np.linalg.norm(x, 3, axis=0) + np.sum(x)


def p_norms(x):
    return (np.sum(np.linalg.norm(x, 3, axis=0)) + np.sum(np.linalg.norm(x, 1.5, axis=(0,), keepdims=True))
            + np.sum(np.linalg.norm(x, 0.5, axis=0)) + np.sum(x))
'''


@pytest.fixture(scope="module")
def mod():
    return source_module("shape_edges", SOURCE)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_linspace_of_vectors_is_declined_with_the_grid_to_write(mod, jit):
    """np.linspace(a, b, 5) of vectors is (5, n); its rule summed g against the grid's weights as for numbers:
    d/da of shape () for a (1,) a, values off (-4.11 for -3.68). Declined; the advice's form differentiates."""
    a, b = np.array([0.2, 0.5, 0.1]), np.array([1.0, 0.7, 1.3])
    with pytest.raises(srcdiff.SrcdiffError, match="np.linspace with an array") as info:
        srcdiff.grad(mod.grid_of_vectors, wrt=(0, 1), jit=jit)(a, b)
    assert "shape_edges.py:6" in str(info.value) and "np.linspace(0.0, 1.0, num)[:, None]" in str(info.value)
    np.testing.assert_allclose(mod.grid_by_hand(a, b), mod.grid_of_vectors(a, b), rtol=1e-14)
    got = srcdiff.grad(mod.grid_by_hand, wrt=(0, 1), jit=jit)(a, b)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(mod.grid_of_vectors, (a, b), k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_on_coordinates_is_an_error_not_a_wrong_gradient(mod, jit):
    """np.gradient(u, t) of an array t reads coordinates (non-uniform spacing); srcdiff's composite divided by t
    elementwise: d/du [-3.69, 2.78, -8.00] for [-1.07, 0.56, -5.10]. A spacing must be one number now."""
    u, t = np.array([0.3, 0.9, 0.4, 1.2]), np.array([0.0, 0.5, 0.7, 1.6])
    with pytest.raises(srcdiff.SrcdiffError, match="np.gradient with an array as its spacing") as info:
        srcdiff.grad(mod.derivative_on_coordinates, wrt=0, jit=jit)(u, t)
    assert "shape_edges.py:14" in str(info.value) and "t[1] - t[0]" in str(info.value)
    got = srcdiff.grad(mod.derivative_on_a_spacing, wrt=(0, 1), jit=jit)(u, 0.3)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(mod.derivative_on_a_spacing, (u, 0.3), k), rtol=1e-6,
                                   atol=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("f, shapes", [("filled", [(1,), (3,), ()]),
                                       ("outer_of_matrices", [((1, 1), (1,)), ((4, 1), (1,)), ((2, 2), (3,)),
                                                              ((), (3,)), ((1, 3), (2, 1))]),
                                       ("upper_of_a_vector", [(4,), (1,), (3, 3)])])
def test_gradients_have_the_arguments_shapes_and_values(mod, f, shapes, jit):
    fn = getattr(mod, f)
    rng = np.random.default_rng(zlib.crc32(f.encode()))
    for shape in shapes:
        shape = shape if isinstance(shape[0] if shape else None, tuple) else (shape,)
        args = [rng.uniform(0.2, 0.9, s) if s else 0.55 for s in shape]
        if jit and f == "filled" and shape != ((),):    # (Numba's np.full takes a number to fill with)
            with pytest.raises(srcdiff.SrcdiffError, match="Numba could not compile"):
                srcdiff.grad(fn, wrt=(0,), jit=jit)(*args)
            continue
        got = srcdiff.grad(fn, wrt=tuple(range(len(args))), jit=jit)(*args)     # (a tuple of gradients)
        for k, g in enumerate(got):
            ref = numerical_grad(fn, args, k)
            assert np.shape(g) == np.shape(args[k]), (f, shape, k)
            np.testing.assert_allclose(g, ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_differences_of_a_short_or_empty_axis(mod, jit):
    """np.diff(x, 2) of an axis of length 1 diffs an empty array (NumPy's result is empty again): rt.diff's adjoint
    made every empty axis one longer, d/dx of shape (2,) for a (1,) x (and (1,) for a (0,) x). Its adjoint now
    reads the length off the array diffed."""
    rng = np.random.default_rng(5)
    for shape in [(1,), (1, 3), (0,), (3, 0), (2,), (4, 2)]:
        x = rng.normal(size=shape)
        g = srcdiff.grad(mod.second_differences, jit=jit)(x)
        assert np.shape(g) == shape, shape
        np.testing.assert_allclose(g, numerical_grad(mod.second_differences, (x,), 0), rtol=1e-6, atol=1e-8)
        v = rng.normal(size=shape)
        _, t = srcdiff.jvp(mod.second_differences, jit=jit)(x, v)
        np.testing.assert_allclose(t, np.sum(g * v), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_hstack_of_numbers(mod, jit):
    """np.hstack takes numbers as 1-d arrays (NumPy's atleast_1d of each): the composite joined them as they
    were, 'zero-dimensional arrays cannot be concatenated' for np.hstack((a, b)) of two floats."""
    for a, b in [(0.4, -0.7), (0.4, np.array([0.1, 0.5, -0.3])), (np.array([0.2, 0.9]), -0.7)]:
        got = srcdiff.grad(mod.joined_numbers, wrt=(0, 1), jit=jit)(a, b)
        for k in (0, 1):
            assert np.shape(got[k]) == np.shape((a, b)[k])
            np.testing.assert_allclose(got[k], numerical_grad(mod.joined_numbers, (a, b), k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_einsum_broadcasts_a_contracted_axis_of_length_one(mod, jit):
    """np.einsum('ij,jk->ik', x, y) of a (1, 1) x and a (2, 3) y broadcasts x's j against y's (NumPy sums y over
    it); the composite's matrix product x @ y required equal lengths ('matmul: ... mismatch in its core dimension'
    at the user's line). rt.einsum_matmul sums the longer operand first; its adjoints fit matmul's to each operand."""
    rng = np.random.default_rng(11)
    for sx, sy in [((1, 1), (2, 3)), ((2, 3), (1, 3)), ((3, 1), (3, 3)), ((2, 2), (2, 3))]:
        x, y = rng.normal(size=sx), rng.normal(size=sy)
        got = srcdiff.grad(mod.contracted, wrt=(0, 1), jit=jit)(x, y)
        for k in (0, 1):
            assert np.shape(got[k]) == ((sx, sy)[k]), (sx, sy, k)
            np.testing.assert_allclose(got[k], numerical_grad(mod.contracted, (x, y), k), rtol=1e-6, atol=1e-8)
            v = rng.normal(size=(sx, sy)[k])
            _, t = srcdiff.jvp(mod.contracted, wrt=k, jit=jit)(x, y, v)
            np.testing.assert_allclose(t, np.sum(got[k] * v), rtol=1e-10, atol=1e-12)


def test_einsum_broadcast_in_a_cuda_kernel_is_declined(mod):
    """A CUDA kernel's shapes are fixed when it is made: rt.einsum_matmul lowers to the device's matrix product
    where the contracted lengths match (as np.einsum did before), and a length-1 axis against a longer one is
    declined at the user's line with advice: the device's product read w[0] alone, a wrong gradient without an
    error (np.einsum('i,i', u, w) ** 2 of u (1,), w (3,): d/du 0.04 for 0.25 on the simulator)."""
    pytest.importorskip("numba_cuda")
    kernel = srcdiff.cuda.vmap(srcdiff.grad(mod.paired, wrt=(0, 1)), in_axes=(0, 0))
    assert kernel.ptx(np.ones((8, 3)), np.ones((8, 3)), cc=(9, 0))
    kernel = srcdiff.cuda.vmap(srcdiff.grad(mod.paired, wrt=(0, 1)), in_axes=(0, 0))
    with pytest.raises(srcdiff.SrcdiffError, match="np.einsum contracting an axis of length 1") as info:
        kernel.ptx(np.ones((8, 1)), np.ones((8, 3)), cc=(9, 0))
    assert "shape_edges.py:" in str(info.value) and "keepdims=True" in info.value.advice
    u, w = np.array([0.5]), np.array([0.2, -0.1, 0.4])     # (on the host it differentiates)
    got = srcdiff.grad(mod.paired, wrt=(0, 1))(u, w)
    for k in (0, 1):
        np.testing.assert_allclose(got[k], numerical_grad(mod.paired, (u, w), k), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_std_and_norm_at_zero_spread(mod, jit):
    """np.std is a norm of the deviations (over sqrt(n)), differentiable except where they all vanish; srcdiff
    takes the derivative there as 0, the smallest subgradient (as abs at 0 and hypot at the origin). np.std of
    one element is a constant: its gradient is 0 (it was NaN, 0.5 / 0 times the variance's zero slope, as
    JAX's still is); np.linalg.norm at 0 likewise (NaN before). np.var is differentiable everywhere: 0 there."""
    for x in [np.array([0.3]), np.array([[-1.2]]), np.array([[0.75, 0.75, 0.75]]), np.full(4, 0.75)]:   # (means exact)
        g = srcdiff.grad(mod.spread, jit=jit)(x)
        assert np.all(np.isfinite(g)), (x, g)
        np.testing.assert_array_equal(g, np.zeros_like(x))
        _, t = srcdiff.jvp(mod.spread, jit=jit)(x, np.ones_like(x))
        assert t == 0.0
    x = np.array([0.3, -1.2, 0.5, 0.9])     # (away from zero spread: the derivatives as before)
    np.testing.assert_allclose(srcdiff.grad(mod.spread, jit=jit)(x), numerical_grad(mod.spread, (x,), 0), rtol=1e-6,
                               atol=1e-8)
    v = np.array([0.2, 0.1, -0.4, 0.3])
    hv = srcdiff.hvp(mod.spread, jit=jit)(x, v)
    fd = (srcdiff.grad(mod.spread)(x + 1e-5 * v) - srcdiff.grad(mod.spread)(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_p_norms_at_zero(mod, jit):
    """A p-norm other than 2 (sum(|x| ** p) ** (1 / p)) at a zero vector: its gradient was NaN (the root's
    infinite slope at 0 times the powers' zero slope); it is 0 there now, the smallest subgradient, as for the
    2-norm and np.std (runtime norm_power), so x's own sum leaves ones. Forward mode and hvp agree."""
    for f, x in [(mod.cube_norm, np.zeros(3)), (mod.p_norms, np.zeros((3, 2)))]:
        np.testing.assert_array_equal(srcdiff.grad(f, jit=jit)(x), np.ones_like(x))
        _, t = srcdiff.jvp(f, jit=jit)(x, np.arange(1.0, 1.0 + x.size).reshape(x.shape))
        assert t == np.sum(np.arange(1.0, 1.0 + x.size)), t
        np.testing.assert_array_equal(srcdiff.hvp(f, jit=jit)(x, np.ones_like(x)), np.zeros_like(x))
    x = np.array([[0.0, 0.4], [0.0, -1.3], [0.0, 0.0]])     # (a zero column, and a zero in the other)
    g = srcdiff.grad(mod.p_norms, jit=jit)(x)
    np.testing.assert_array_equal(g[:, 0], np.ones(3))
    np.testing.assert_array_equal(g[2], np.ones(2))          # (0.5-norm's infinite slope at a zero: 0 too)
    np.testing.assert_allclose(g[:2, 1], numerical_grad(mod.p_norms, (x,), 0)[:2, 1], rtol=1e-6)
    x = np.array([[0.3, -0.4], [-1.2, 0.7], [0.5, 1.1]])
    v = np.array([[0.2, 0.1], [-0.4, 0.3], [0.5, -0.6]])
    hv = srcdiff.hvp(mod.p_norms, jit=jit)(x, v)
    fd = (srcdiff.grad(mod.p_norms)(x + 1e-5 * v) - srcdiff.grad(mod.p_norms)(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-7)


# ---- the sweep: each user-facing rule of the table at shapes beyond its entry's -----------------------------
ONE = [(), (1,), (4,), (1, 1), (2, 3), (3, 1), (1, 3), (3, 3), (2, 1, 3)]
TWO = [(), (1,), (3,), (1, 1), (2, 3), (3, 1), (1, 3), (3, 3)]
THREE = [(), (1,), (3,), (2, 1), (1, 3), (2, 3)]     # (three arguments: 216 combinations a rule)
# rules with shapes NumPy accepts where srcdiff is still wrong or fails (declined by this sweep, each a known gap)
KNOWN = {
    "np.linspace": "declined for array endpoints (test above): the sweep would count the declines",
    "np.gradient": "an array spacing is an error (test above)",
    "np.gradient axis": "an array spacing is an error (test above)",
}


def _candidates(dom):
    """The shape combinations the sweep tries for a rule of these argument domains."""
    if len(dom) == 1:
        return [(s,) for s in ONE]
    return list(itertools.product(TWO if len(dom) == 2 else THREE, repeat=len(dom)))


def _sweep_cases():
    import test_rules_table as T
    out = []
    for rule, (expr, dom, shapes) in T.ENTRIES.items():
        if "rt." in expr or any(d not in "rpuc" for d in dom) or len(dom) > 3:
            continue        # (internal helpers take shapes the compiler matches; matrices' domains are special)
        out += [(rule, c) for c in _candidates(dom) if c not in [tuple(s) for s in shapes]]
    return out


def _sweep_ids():
    return [f"{r}-{c}" for r, c in _sweep_cases()]


def _case(rule, shapes, seed_prefix):
    """(expr, domains, wrapper, rng, arguments at `shapes`, NumPy's value) of a table rule, skipped where NumPy
    rejects the shapes or its value is not finite."""
    import test_rules_table as T
    expr, dom, _ = T.ENTRIES[rule]
    f = getattr(T.wrappers(), T._fname(rule))
    rng = np.random.default_rng(zlib.crc32(f"{seed_prefix}{rule}/{shapes}".encode()))
    args = [T._value(d, s, rng) for d, s in zip(dom, shapes)]
    v = _numpy_value(f, args)
    if v is None:
        pytest.skip("NumPy itself rejects these shapes, or its value is not finite")
    return expr, dom, f, rng, args, v


def _numpy_value(f, args):
    """f(*args) as NumPy computes it, None where it raises or is not finite."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = f(*[np.copy(a) if np.ndim(a) else a for a in args])
    except Exception:
        return None
    return v if np.isfinite(v) else None


def _check_grad(rule, expr, dom, f, args, shapes, jit=False):
    """srcdiff's gradient in each differentiated argument (not a condition's: "c") has its shape and the central
    differences' values, or srcdiff declines (a SrcdiffError that is not 'this line fails' or 'the derivative of
    this line failed' for these arguments: NumPy computed it)."""
    import test_rules_table as T
    wrt = tuple(k for k, d in enumerate(dom) if d != "c")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = srcdiff.grad(f, wrt=wrt, jit=jit)(*args)
    except srcdiff.SrcdiffError as e:
        assert "for these arguments" not in str(e), str(e)
        return
    for k, g in zip(wrt, got):
        ref = T._fd(f, args, k)
        scale = max(1.0, float(np.max(np.abs(ref))))
        assert np.shape(g) == np.shape(args[k]), (rule, expr, shapes, k, np.shape(g))
        np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6 * scale, err_msg=f"{rule}: {expr} at {shapes}")


@pytest.mark.parametrize("rule, shapes", _sweep_cases(), ids=_sweep_ids())
def test_rules_sweep(rule, shapes):
    """Where NumPy computes the table's expression at these shapes, srcdiff's gradient (Python backend) has
    the arguments' shapes and the central differences' values, or srcdiff declines."""
    if rule in KNOWN:
        pytest.xfail(KNOWN[rule])
    expr, dom, f, rng, args, v = _case(rule, shapes, "")
    _check_grad(rule, expr, dom, f, args, shapes)


@pytest.mark.parametrize("rule, shapes", _sweep_cases(), ids=_sweep_ids())
def test_rules_sweep_jvp(rule, shapes):
    """The same sweep in forward mode: each argument's jvp along a random direction equals the central
    difference along it (it found solve_triangular's tangent of the triangle the solve does not read)."""
    if rule in KNOWN:
        pytest.xfail(KNOWN[rule])
    expr, dom, f, rng, args, v = _case(rule, shapes, "jvp/")
    for k in range(len(dom)):
        if dom[k] == "c":
            continue
        dv = float(rng.normal()) if np.ndim(args[k]) == 0 else rng.normal(size=np.shape(args[k]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value, tangent = srcdiff.jvp(f, wrt=k)(*args, dv)
        except srcdiff.SrcdiffError as e:
            assert "for these arguments" not in str(e), str(e)
            continue
        eps = 1e-6
        plus, minus = list(args), list(args)
        plus[k], minus[k] = args[k] + eps * dv, args[k] - eps * dv
        ref = (f(*plus) - f(*minus)) / (2 * eps)
        np.testing.assert_allclose(value, v, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(tangent, ref, rtol=1e-5, atol=1e-6 * max(1.0, abs(ref)),
                                   err_msg=f"{rule}: {expr} jvp along d{'xyz'[k]} at {shapes}")


# ---- the sweep under Numba: one case of each rule and pattern of the arguments' ranks -----------------------
def _numba_cases():
    """(rule, ranks): each rank pattern of the sweep's candidates of a rule (its case picked at run time: the first,
    in a fixed pseudo-random order, that NumPy computes), one Numba compile each."""
    import test_rules_table as T
    out = []
    for rule, (expr, dom, shapes) in T.ENTRIES.items():
        if "rt." in expr or any(d not in "rpuc" for d in dom) or len(dom) > 3 or rule in KNOWN:
            continue
        out += [(rule, r) for r in sorted({tuple(len(s) for s in c) for c in _candidates(dom)})]
    return out


from test_rules_table import family  # noqa: E402,F401  (tests/conftest.py keeps a case of each family by default)


@pytest.mark.parametrize("rule, ranks", _numba_cases(), ids=[f"{r}-{k}" for r, k in _numba_cases()])
def test_rules_sweep_numba(rule, ranks):
    """The sweep with jit=True: for each rule and rank pattern, the first shapes NumPy computes (size-1 axes,
    numbers among arrays) give Numba's gradient the arguments' shapes and the central differences' values, or a
    decline with advice (Numba's own limits, such as np.full_like of an array fill, are declines, not errors)."""
    import test_rules_table as T
    expr, dom, _ = T.ENTRIES[rule]
    f = getattr(T.wrappers(), T._fname(rule))
    combos = [c for c in _candidates(dom) if tuple(len(s) for s in c) == ranks]
    combos.sort(key=lambda c: zlib.crc32(f"numba/{rule}/{c}".encode()))
    for shapes in combos:
        rng = np.random.default_rng(zlib.crc32(f"numba/{rule}/{shapes}".encode()))
        args = [T._value(d, s, rng) for d, s in zip(dom, shapes)]
        if _numpy_value(f, args) is not None:
            _check_grad(rule, expr, dom, f, args, shapes, jit=True)
            return
    pytest.skip("NumPy rejects every shape of this rank pattern")
