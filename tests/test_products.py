"""The matrix products of jitted code (srcdiff/runtime/products.py, reached through rt.dot) against
NumPy, for every path they take: matrix-vector by rows or by columns, vector-matrix, dot products,
matrix-matrix as a loop (tiny, integer, or rows too long for one BLAS call) or as BLAS in blocks of
rows; float64, float32 and mixed operands; C order, transposed views, non-contiguous slices and
empty axes. Then the generated code: `@` / np.dot / np.matmul become rt.dot in jitted source only,
and gradients through them agree with finite differences in both backends."""
import re

import numba
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad
from srcdiff import runtime as rt
from srcdiff.runtime import products

RNG = np.random.default_rng(7)


@numba.njit
def nb_dot(a, b):
    return rt.dot(a, b)


@numba.njit
def nb_grads(g, x, y):
    return rt.matmul_grad_x(g, x, y), rt.matmul_grad_y(g, x, y)


def operand(shape, dtype, layout):
    """An array of `shape` and `dtype` laid out as asked: C, F (a transposed C array), or a strided
    slice of a larger array (neither axis contiguous)."""
    if layout == "C":
        return RNG.normal(size=shape).astype(dtype)
    if layout == "T":
        return RNG.normal(size=shape[::-1]).astype(dtype).T
    big = RNG.normal(size=tuple(2 * s + 1 for s in shape)).astype(dtype)
    return big[tuple(slice(1, None, 2) for _ in shape)]


def check(a, b):
    got = nb_dot(a, b)
    want = np.dot(a.astype(np.float64), b.astype(np.float64))
    tol = 1e-4 if np.float32 in (a.dtype.type, b.dtype.type) else 1e-11
    assert np.shape(got) == np.shape(want)
    if isinstance(want, np.ndarray):   # NumPy's dtype, with integers computed as floats
        assert got.dtype == np.result_type(*(t if t.kind == "f" else np.float64 for t in (a.dtype, b.dtype)))
    scale = max(1.0, float(np.max(np.abs(want)))) if np.size(want) else 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


MV_LAYOUTS = ["C", "T", "S"]
DTYPES = [(np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64)]


@pytest.mark.parametrize("layout", MV_LAYOUTS)
@pytest.mark.parametrize("dtypes", DTYPES, ids=["f64", "f32", "mixed"])
def test_matvec_and_vecmat_all_layouts(layout, dtypes):
    for shape in [(37, 11), (1, 5), (5, 1), (300, 64), (9, 2 * products._WIDE + 3)]:  # last: 4 rows at a time
        a = operand(shape, dtypes[0], layout)
        check(a, operand((shape[1],), dtypes[1], "C"))          # a @ x: rows or columns of a
        check(operand((shape[0],), dtypes[1], "S"), a)          # g @ a = a.T @ g: the adjoint product
    check(operand((9,), dtypes[0], layout if layout != "T" else "C"), operand((9,), dtypes[1], "S"))  # dot


@pytest.mark.parametrize("la", MV_LAYOUTS)
@pytest.mark.parametrize("lb", MV_LAYOUTS)
def test_matmat_paths_and_layouts(la, lb):
    for m, k, n in [(3, 4, 5),          # tiny: loop
                    (20, 30, 40),       # BLAS in one call
                    (700, 20, 20),      # BLAS in blocks of rows (m*k*n > 2**18)
                    (2, 600, 500)]:     # one row already above 2**18: loop
        check(operand((m, k), np.float64, la), operand((k, n), np.float64, lb))


@pytest.mark.parametrize("dtypes", DTYPES[1:] + [(np.int64, np.int64)], ids=["f32", "mixed", "int"])
def test_matmat_dtypes(dtypes):
    for m, k, n in [(3, 4, 5), (20, 30, 40), (700, 20, 20)]:
        a = operand((m, k), dtypes[0], "T")
        b = operand((k, n), dtypes[1], "C")
        if dtypes[0] is np.int64:
            a, b = (RNG.integers(-5, 5, size=(m, k)), RNG.integers(-5, 5, size=(k, n)))
        check(a, b)


def test_empty_axes():
    for a, b in [(np.zeros((0, 3)), np.ones(3)), (np.zeros((4, 0)), np.zeros(0)), (np.ones(0), np.zeros((0, 5))),
                 (np.zeros((2, 0)), np.zeros((0, 3))), (np.zeros((0, 4)), np.ones((4, 2))), (np.zeros(0), np.zeros(0))]:
        got = nb_dot(a, b)
        np.testing.assert_array_equal(got, np.dot(a, b))
        assert np.shape(got) == np.shape(np.dot(a, b))


def test_nan_and_inf_propagate():
    a = np.ones((4, 3))
    a[1, 2] = np.nan
    a[3, 0] = np.inf
    got, want = nb_dot(a, np.ones(3)), a @ np.ones(3)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(got)], want[~np.isnan(want)])


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError):
        nb_dot(np.ones((3, 4)), np.ones(5))
    with pytest.raises(ValueError):
        nb_dot(np.ones((3, 4)), np.ones((5, 2)))


@pytest.mark.parametrize("shapes", [((50, 7), (7,)), ((7,), (7, 50)), ((6, 7), (7, 8)), ((600, 30), (30, 20))],
                         ids=["matvec", "vecmat", "matmat", "matmat-blocks"])
def test_product_adjoints_match_numpy(shapes):
    x, y = RNG.normal(size=shapes[0]), RNG.normal(size=shapes[1])
    g = RNG.normal(size=np.shape(x @ y))
    gx, gy = nb_grads(g, x, y)
    np.testing.assert_allclose(gx, rt.matmul_grad_x(g, x, y), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(gy, rt.matmul_grad_y(g, x, y), rtol=1e-11, atol=1e-11)


@numba.njit
def nb_rows(a, x, g):
    """a @ x and a.T @ g row by row, as row-fused code computes them (optimize/rowfusion.py)."""
    out = np.empty(a.shape[0])
    acc = rt.product_zeros(a, x)
    for i in range(a.shape[0]):
        out[i] = rt.row_dot(a, i, x)
        rt.add_row(acc, g[i], a, i)
    return out, acc


@pytest.mark.parametrize("layout", MV_LAYOUTS)
@pytest.mark.parametrize("dtypes", DTYPES, ids=["f64", "f32", "mixed"])
def test_row_kernels_match_numpy(layout, dtypes):
    """rt.row_dot, rt.add_row and rt.product_zeros (the kernels of row-fused loops) against NumPy's a @ x
    and a.T @ g, under Numba and in Python; product_zeros has a @ x's dtype."""
    for shape in [(37, 11), (1, 5), (5, 1), (7, 3), (300, 64), (4, 0)]:
        a = operand(shape, dtypes[0], layout)
        x, g = operand((shape[1],), dtypes[1], "C"), operand((shape[0],), dtypes[1], "C")
        tol = 1e-4 if np.float32 in dtypes else 1e-11
        rows, acc = nb_rows(a, x, g)
        np.testing.assert_allclose(rows, a @ x, rtol=tol, atol=tol)
        np.testing.assert_allclose(acc, a.T @ g, rtol=tol, atol=tol)
        assert acc.dtype == rt.product_zeros(a, x).dtype == (a @ x).dtype
        assert np.isclose(rt.row_dot(a, 0, x), (a @ x)[0], rtol=tol, atol=tol)
        py = rt.product_zeros(a, x)
        rt.add_row(py, 2.0, a, 0)
        np.testing.assert_allclose(py, 2.0 * a[0], rtol=tol)




@pytest.mark.parametrize("dtypes", DTYPES, ids=["f64", "f32", "mixed"])
def test_block_kernels_match_numpy(dtypes):
    """rt.rows_dot, rt.rows_add, rt.sum_first and rt.block_rows (the kernels of row-blocked loops) against
    NumPy, under Numba and in Python; a block shorter than its buffers, one row, no columns, rows in groups
    of 8 and a rest (rows_add), wide rows, a transposed and a strided block."""
    for shape, layout in [((37, 11), "C"), ((1, 5), "C"), ((5, 1), "C"), ((7, 3), "C"), ((300, 64), "C"),
                          ((4, 0), "C"), ((8, 100), "C"), ((23, 9), "T"), ((17, 6), "S"), ((16, 2000), "C"), ((9, 5000), "C")]:
        a = operand(shape, dtypes[0], layout)
        x, g = operand((shape[1],), dtypes[1], "C"), operand((shape[0] + 3,), np.float64, "C")
        tol = 1e-4 if np.float32 in dtypes else 1e-11
        out = np.full(shape[0] + 3, 7.0)
        rt.rows_dot(out, a, x)
        np.testing.assert_allclose(out[:shape[0]], a @ x, rtol=tol, atol=tol)
        assert (out[shape[0]:] == 7.0).all()                  # the buffer's rest left as it was
        acc = np.ones(shape[1], np.result_type(a, x))
        rt.rows_add(acc, a, g)
        np.testing.assert_allclose(acc, 1.0 + a.T @ g[:shape[0]], rtol=tol, atol=tol)
        assert np.isclose(rt.sum_first(g, shape[0]), g[:shape[0]].sum(), rtol=1e-12, atol=1e-12)
        assert rt.sum_first(g, 0) == 0.0
        block = rt.block_rows(a)
        row = max(shape[1], 1) * a.itemsize
        assert 1 <= block <= 1024 and (block % 8 == 0 or block < 8)
        assert block * row <= (1 << 15 if row <= 2048 else max(1 << 18, row))
        assert numba.njit(lambda a: rt.block_rows(a))(a) == block


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_rows_add_on_rows_off_a_32_byte_boundary(dtype):
    """rt.rows_add starts its vector loop where the block's rows reach a 32-byte boundary (NumPy's arrays
    start 16 bytes past a cache line: rows that cross lines were 8-9% slower in the logistic gradient, and an
    unaligned start written with a signed index made Numba gather). Every offset in 32 bytes, rows a multiple
    of 32 bytes long (all rows aligned alike) or not, groups of 8 rows and a rest, one column or none:
    the same sum as NumPy, and the head as many columns as lie before the boundary."""
    size = np.dtype(dtype).itemsize
    rng = np.random.default_rng(3)
    for rows, cols in ((19, 100), (16, 8), (9, 7), (8, 1), (8, 0), (24, 3)):
        for offset in range(0, 32, size):
            raw = np.empty(rows * cols * size + 64 + 32, np.uint8)
            start = (-raw.ctypes.data) % 32 + offset
            a = raw[start:start + rows * cols * size].view(dtype).reshape(rows, cols)
            a[...] = rng.normal(size=(rows, cols))
            g = rng.normal(size=rows + 2)
            acc = np.ones(cols)
            rt.rows_add(acc, a, g)
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(acc, 1.0 + a.T.astype(np.float64) @ g[:rows], rtol=tol, atol=tol)
            head = numba.njit(lambda a: products._columns_to_32_bytes(a))(a)
            shared = rows > 0 and cols > 1 and (cols * size) % 32 == 0
            assert head == (min(cols, ((32 - offset) % 32) // size) if shared else 0), (rows, cols, offset)
    assert numba.njit(lambda a: products._columns_to_32_bytes(a))(np.zeros((6, 8))[:, ::2]) == 0   # strided


def hinge_like(w, b, x, y):
    z = x @ w + b
    return np.mean(np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0.0) - y * z) + 0.5 * np.sum(w ** 2)


def test_row_blocks_call_the_kernels_and_no_libm(tmp_path, monkeypatch):
    """The row-blocked loop (optimize/rowblocks.py) calls the block kernels rt.rows_dot and rt.rows_add, and
    its rows' exp and log1p are written into the generated function (rt.exp, rt.log1p: no call of libm's exp
    or log1p, which kept the loop from vectorising). A fresh cache directory: the function is compiled here,
    so Numba shows its LLVM IR."""
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path))
    w, x = 0.3 * RNG.normal(size=6), RNG.normal(size=(41, 6))
    y = (RNG.random(41) > 0.5) * 1.0
    g = srcdiff.value_and_grad(hinge_like, wrt=("w", "b"), jit=True)
    value, (dw, db) = g(w, 0.1, x, y)
    assert "rt.rows_dot(z1_block, x_block, w)" in srcdiff.source(g)
    want, (want_dw, want_db) = srcdiff.value_and_grad(hinge_like, wrt=("w", "b"))(w, 0.1, x, y)
    np.testing.assert_allclose([value, db], [want, want_db], rtol=1e-12)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-12)
    disp = g.last.function
    llvm = disp.inspect_llvm(disp.signatures[0])
    called = set(re.findall(r"call [^@]*@\"?([\w.$]+)", llvm))
    assert any("rows_add" in name for name in called) and any("rows_dot" in name for name in called), called
    assert not called & {"exp", "log1p", "llvm.exp.f64"}, called

def logistic(w, b, x, y):
    z = x @ w + b
    return np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + 0.01 * np.sum(w ** 2)


def products_three_ways(w, m, x):
    h = np.tanh(np.dot(x, m))
    return np.sum(np.matmul(h, w) ** 2) + np.sum(x.T @ h)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_matvec_gradient_routes_products_in_jitted_code_only(jit):
    x = RNG.normal(size=(40, 6))
    y = (RNG.random(40) > 0.5).astype(float)
    check_grad(logistic, [0.1 * RNG.normal(size=6), 0.05, x, y], wrt=(0, 1), jit=jit)
    src = srcdiff.source(srcdiff.grad(logistic, wrt=(0, 1), jit=jit))
    code = "\n".join(line for line in src.splitlines() if not line.strip().startswith("#"))
    if jit:
        assert "rt.dot(x, w)" in code and "@" not in code
    else:
        assert "x @ w" in src and "rt.dot" not in src


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_dot_matmul_and_transposed_products_gradient(jit):
    """Also the regression for np.matmul(a, b) as a call, which generated `@(h, w)` (a SyntaxError)."""
    args = [RNG.normal(size=4), RNG.normal(size=(5, 4)), RNG.normal(size=(7, 5))]
    check_grad(products_three_ways, args, wrt=(0, 1, 2), jit=jit)
    src = srcdiff.source(srcdiff.grad(products_three_ways, wrt=(0, 1, 2), jit=jit))
    code = "\n".join(line for line in src.splitlines() if not line.strip().startswith("#"))
    assert ("np.dot" in code or "@" in code or "np.matmul" in code) != jit
    assert ("rt.dot" in code) == jit


def test_thresholds_are_openblas_serial_limits():
    assert products._BLAS_SERIAL == 1 << 18 and products._TINY < products._BLAS_SERIAL


# ---- np.tanh in jitted code: rt.tanh (runtime/activations.py) --------------------------------------
@numba.njit
def nb_tanh(x):
    return rt.tanh(x)


def test_tanh_kernel_within_4_ulp_of_numpy():
    from srcdiff.runtime.activations import _CLAMP
    x = np.concatenate([RNG.normal(size=20000), 1e-7 * RNG.normal(size=5000), 10.0 * RNG.normal(size=5000),
                        np.linspace(-0.4, 0.4, 4001),    # both sides of 2|x| = ln 2 / 2, where the branch changes
                        [0.17328679513998632, -0.17328679513998632, 1e-300, -5e-324, 19.0, 19.1, 0.5 * _CLAMP]])
    got, want = nb_tanh(x), np.tanh(x)
    assert got.dtype == np.float64 and got.shape == x.shape
    assert np.max(np.abs(got - want) / np.spacing(np.abs(want))) <= 4.0


def test_tanh_special_values_signs_and_dtypes():
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 40.0, -1e308])
    got = nb_tanh(special)
    np.testing.assert_array_equal(got, np.tanh(special))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(np.tanh(special)))
    for a in [operand((7, 5), np.float64, "T"), operand((4, 6), np.float64, "S"), RNG.normal(size=(1, 9)),
              RNG.normal(size=(9, 1)), np.zeros((0, 3)), RNG.normal(size=(2, 3, 4))]:
        got = nb_tanh(a)
        assert got.shape == a.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, np.tanh(a), rtol=1e-15, atol=0)
    f32 = RNG.normal(size=11).astype(np.float32)
    assert nb_tanh(f32).dtype == np.float32
    np.testing.assert_allclose(nb_tanh(f32), np.tanh(f32), rtol=1e-6)
    ints = np.arange(-3, 4)
    assert nb_tanh(ints).dtype == np.float64
    np.testing.assert_allclose(nb_tanh(ints), np.tanh(ints), rtol=1e-15)
    assert nb_tanh(-2) == pytest.approx(np.tanh(-2), rel=1e-15) and nb_tanh(0.3) == pytest.approx(np.tanh(0.3), rel=1e-15)
    assert nb_tanh(1 + 2j) == pytest.approx(np.tanh(1 + 2j), rel=1e-14)     # complex: Numba's np.tanh


def mlp_loss(W1, b1, W2, x, y):
    h = np.tanh(x @ W1 + b1)
    z = h @ W2
    return np.sum((z - y) ** 2) + np.sum(np.tanh(W2))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_tanh_layer_gradient_routes_tanh_in_jitted_code_only(jit):
    """x non-contiguous (a transposed view), one-row and one-column shapes, integer inputs mixed with float weights."""
    for n, d, k in [(6, 5, 3), (1, 4, 2), (5, 1, 1)]:
        W1, b1, W2 = RNG.normal(size=(d, 4)), RNG.normal(size=4), RNG.normal(size=(4, k))
        for x in [RNG.normal(size=(d, n)).T, RNG.integers(-2, 3, size=(n, d))]:
            y = RNG.normal(size=(n, k))
            check_grad(mlp_loss, [W1, b1, W2, x, y], wrt=(0, 1, 2), jit=jit)
    src = srcdiff.source(srcdiff.grad(mlp_loss, wrt=(0, 1, 2), jit=jit))
    code = "\n".join(line for line in src.splitlines() if not line.strip().startswith("#"))
    assert ("rt.tanh(" in code) == jit and ("np.tanh(" in code) != jit


def test_tanh_gradient_python_and_numba_agree():
    W1, b1, W2 = RNG.normal(size=(8, 6)), RNG.normal(size=6), RNG.normal(size=(6, 3))
    x, y = RNG.normal(size=(10, 8)), RNG.normal(size=(10, 3))
    vp = srcdiff.value_and_grad(mlp_loss, wrt=(0, 1, 2))(W1, b1, W2, x, y)
    vn = srcdiff.value_and_grad(mlp_loss, wrt=(0, 1, 2), jit=True)(W1, b1, W2, x, y)
    assert vn[0] == pytest.approx(vp[0], rel=1e-13)
    for a, b in zip(vp[1], vn[1]):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)


# ---- np.reshape in jitted code: rt.reshape (runtime/broadcast.py) ----------------------------------
W6 = np.linspace(-1.0, 1.5, 6)


def reshapes(M):
    r = np.reshape(M.T, (6,)) * W6 + np.reshape(M, -1) ** 2
    return np.sum(np.tanh(r)) + np.sum(M[:, ::2].reshape(-1) ** 3) + np.sum(M.reshape(3, 2) @ M[:, :2])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_reshape_of_any_memory_order(jit):
    """np.reshape and x.reshape of x.T, of a strided slice and of Fortran-ordered or strided arguments: Numba's
    reshape takes contiguous arrays only (x.T did not compile; a Fortran-ordered argument raised
    NotImplementedError 'incompatible shape for array' from the generated code: fuzz seed 600350, jit, the
    kinds oracle's Fortran-ordered M). Under jit the calls are rt.reshape, which copies such an array first."""
    M = RNG.normal(size=(2, 3))
    wide = np.zeros((2, 6))
    wide[:, ::2] = M
    g = srcdiff.grad(reshapes, jit=jit)
    first, = check_grad(reshapes, [M], jit=jit)
    for other in (np.asfortranarray(M), wide[:, ::2], M.T.copy().T):
        np.testing.assert_allclose(g(other), first, rtol=1e-13, atol=1e-13)
    dM = RNG.normal(size=(2, 3))
    value, tangent = srcdiff.jvp(reshapes, jit=jit)(np.asfortranarray(M), dM)
    assert value == pytest.approx(reshapes(M), rel=1e-13)
    assert tangent == pytest.approx(np.sum(first * dM), rel=1e-10)
    assert np.sum(g(M)) == pytest.approx(np.sum(srcdiff.grad(reshapes, jit=not jit)(np.asfortranarray(M))), rel=1e-13)
    code = "\n".join(line for line in srcdiff.source(g).splitlines() if not line.strip().startswith("#"))
    assert ("rt.reshape(" in code) == jit and ("np.reshape(" in code) != jit


# ---- rt.tensordot contracting every axis: a scalar in jitted code ---------------------------------------
def tensordot_in_a_branch(x, a, M):
    for i in range(3):
        if i > 0:
            x = 0.5 * x + 0.5 * np.tanh(prev)
        if np.sum(a) > x:
            prev = np.maximum(np.sum(a), 1.5)
        elif x > 0.0:
            prev = np.tensordot(M, M, axes=2)
        else:
            prev = np.tensordot(a * x, a, 1)
    return x * x + np.inner(a, a) * prev


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_full_tensordot_merges_with_a_float(jit):
    """np.tensordot contracting every axis is a 0-d array in NumPy; bound to the name a branch binds a float to,
    Numba could not unify the two ('Cannot unify array(float64, 0d, C) and float64', declined at the user's
    line: fuzz seed 600110, jit). Jitted rt.tensordot gives the scalar, as 0-d arguments run as scalars."""
    a, M = RNG.normal(size=3), RNG.normal(size=(2, 2))
    for x in (0.3, -2.0, 4.0):           # both branches, and each after the other
        got = check_grad(tensordot_in_a_branch, [x, a, M], wrt=(0, 1, 2), jit=jit)
        other = srcdiff.grad(tensordot_in_a_branch, wrt=(0, 1, 2), jit=not jit)(x, a, M)
        for g, h in zip(got, other):
            np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-14)
        dx, da, dM = 0.7, RNG.normal(size=3), RNG.normal(size=(2, 2))
        value, tangent = srcdiff.jvp(tensordot_in_a_branch, wrt=(0, 1, 2), jit=jit)(x, a, M, (dx, da, dM))
        assert value == pytest.approx(tensordot_in_a_branch(x, a, M), rel=1e-13)
        assert tangent == pytest.approx(got[0] * dx + np.sum(got[1] * da) + np.sum(got[2] * dM), rel=1e-10)
