"""Products for jitted code: `rt.dot`, the adjoints of `@` (matmul_grad_x/y), np.tensordot and its adjoints,
and the row kernels of row-fused loops.

Inside Numba, `np.dot` and `@` call the BLAS SciPy bundles. Whether that is fast depends on the
machine and the wheel: OpenBLAS runs products above a size threshold on all cores, and on a small
shared machine its threads wait on each other (a 20 000 x 100 matrix-vector product: 8 ms threaded,
0.4 ms in one loop). So jitted code picks its products by shape:

* anything with a 1-D operand (matrix-vector, vector-matrix, dot) is one of the loops below. They
  are memory-bound, and one pass at memory bandwidth is what BLAS gets at best. The loop order
  follows the matrix's memory: rows contiguous -> a dot product per row; columns contiguous (the
  transposed view `x.T` of a C array) -> a row-wise accumulation (`out += x[i, :] * g[i]`, i.e. an
  axpy per row of `x`), never a strided walk down the columns;
* matrix-matrix products of floats of one dtype go to BLAS in pieces small enough that OpenBLAS
  keeps each on the calling thread (m*k*n <= 2**18, `_BLAS_SERIAL`; larger products are split into
  blocks of rows of that size). Where a single row is already above it (k*n > 2**18), or the
  product is tiny, or the operands are integers, it is the loop `out[i, :] += a[i, k] * b[k, :]`;
* a loop over the rows of a matrix (optimize/rowfusion.py fuses x @ w, the terms of each row and the
  adjoint x.T @ g into one; optimize/rowblocks.py runs it a block of rows at a time) calls `block_rows`
  (how many rows make 32 KiB, a multiple of 8: the block stays in L1; 256 KiB for long rows), `rows_dot` (the block's rows of
  a @ x, into a buffer), `sum_first` (a buffer's first n terms, for a sum over the rows) and `rows_add`
  (out += block.T @ g, the block read again from cache), so each row is read from memory once for both products;
  `product_zeros` starts that adjoint. `row_dot` (row i of a @ x) and `add_row` (out += g_i * a[i, :]) are
  the same products one row at a time, the form row fusion plans in. `row_dot` is not in the runtime's
  disk cache: called by its symbol once per row (_linking.py), the call cost about as much as a dot
  product of 100 numbers; uncached, its IR is linked into the function calling it, where LLVM inlines and
  vectorises it.

The loops let LLVM reassociate sums ("reassoc" fast-math only: NaN and inf propagate as in NumPy),
so they vectorise; results agree with NumPy to rounding.
"""
import os

import numpy as np
from numba import njit, types
from numba.extending import overload, register_jitable
from numba.np.numpy_support import as_dtype
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._typing import nb_is_array, nb_is_scalar, nb_literal, nb_result_type
from ._cache import cached_overload

_FAST = {"reassoc", "contract", "nsz"}
_BLAS_SERIAL = 1 << 18     # OpenBLAS's own threshold (m*k*n) below which a gemm stays on one thread
_TINY = 1 << 12            # below this many multiply-adds a loop beats the BLAS call
_WIDE = 512                # rows at least this long: matrix-vector products take four rows at a time


@njit(fastmath=_FAST, cache=True)
def _matvec_rows(a, x, out):
    """out[i] = a[i, :] . x, for a whose rows are contiguous (or neither axis is). Rows of _WIDE or more:
    four rows at a time, sharing each load of x (one at a time ran at 0.75x of BLAS's dgemv at 2 000 x
    1 000, four at 1.0x); shorter rows one at a time (four ran 1.5x slower at 20 000 x 100)."""
    n, d = a.shape
    i = 0
    while d >= _WIDE and i + 4 <= n:
        s0, s1, s2, s3 = out[i], out[i + 1], out[i + 2], out[i + 3]
        for j in range(d):
            xj = x[j]
            s0 += a[i, j] * xj
            s1 += a[i + 1, j] * xj
            s2 += a[i + 2, j] * xj
            s3 += a[i + 3, j] * xj
        out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
        i += 4
    for r in range(i, n):
        s = out[r]
        for j in range(d):
            s += a[r, j] * x[j]
        out[r] = s


@njit(fastmath=_FAST, cache=True)
def _matvec_cols(a, x, out):
    """out += a[:, j] * x[j] over j, for a whose columns are contiguous (x.T of a C-ordered x): four
    columns per pass over out."""
    n, d = a.shape
    j = 0
    while j + 4 <= d:
        x0, x1, x2, x3 = x[j], x[j + 1], x[j + 2], x[j + 3]
        for i in range(n):
            out[i] += a[i, j] * x0 + a[i, j + 1] * x1 + a[i, j + 2] * x2 + a[i, j + 3] * x3
        j += 4
    for c in range(j, d):
        xc = x[c]
        for i in range(n):
            out[i] += a[i, c] * xc


@njit(cache=True)
def _columns_contiguous(a):
    """a's first axis has unit stride and its second does not (F order, e.g. a transposed C array)."""
    return a.shape[0] > 1 and a.shape[1] > 1 and a.strides[0] == a.itemsize and a.strides[1] != a.itemsize


@njit(fastmath=_FAST, cache=True)
def _vdot(x, y, zero):
    s = zero
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


@njit(fastmath=_FAST, cache=True)
def _matmat_loop(a, b, out):
    """out += a @ b: rows of b are added into rows of out (unit stride when b's rows are contiguous);
    when b's columns are contiguous instead (b = y.T), each entry is a dot product along them."""
    m, k = a.shape
    n = b.shape[1]
    if _columns_contiguous(b) and not _columns_contiguous(a):
        for i in range(m):
            for j in range(n):
                s = out[i, j]
                for p in range(k):
                    s += a[i, p] * b[p, j]
                out[i, j] = s
        return
    for i in range(m):
        for p in range(k):
            aip = a[i, p]
            for j in range(n):
                out[i, j] += aip * b[p, j]


@njit(cache=True)
def _matmat_blas(a, b, out):
    """out = a @ b through BLAS, in blocks of rows whose products stay on the calling thread."""
    m, k = a.shape
    n = b.shape[1]
    rows = max(1, _BLAS_SERIAL // max(k * n, 1))
    if rows >= m:
        np.dot(a, b, out)
        return
    for r0 in range(0, m, rows):
        r1 = min(m, r0 + rows)
        np.dot(np.ascontiguousarray(a[r0:r1]), b, out[r0:r1])


def matvec(a, x):
    """a @ x for 2-D a and 1-D x (in Python, NumPy's)."""
    return np.dot(a, x)


def matmat(a, b):
    """a @ b for 2-D a and b (in Python, NumPy's)."""
    return np.dot(a, b)


@cached_overload(matvec)
def _matvec_nb(a, x):
    T = np.dtype(nb_result_type(a, x))

    def impl(a, x):
        if a.shape[1] != x.shape[0]:
            raise ValueError("matmul: shapes of the operands do not match (a.shape[1] != x.shape[0])")
        out = np.zeros(a.shape[0], T)
        if _columns_contiguous(a):
            _matvec_cols(a, x, out)
        else:
            _matvec_rows(a, x, out)
        return out
    return impl


@register_jitable
def _as_is(x, T):
    return x


@register_jitable
def _contiguous(x, T):
    return np.ascontiguousarray(x)


@register_jitable
def _astype(x, T):
    return x.astype(T)


def _blas_operand(t, T):
    """Jitted (x, T) -> x as BLAS takes it: dtype T, C or F order (copies only when it must)."""
    if as_dtype(t.dtype) != T:
        return _astype
    return _as_is if t.layout in ("C", "F") else _contiguous


@cached_overload(matmat)
def _matmat_nb(a, b):
    T = np.dtype(nb_result_type(a, b))
    blas = T in (np.dtype(np.float64), np.dtype(np.float32))
    if not blas:
        def loop_only(a, b):
            if a.shape[1] != b.shape[0]:
                raise ValueError("matmul: shapes of the operands do not match (a.shape[1] != b.shape[0])")
            out = np.zeros((a.shape[0], b.shape[1]), T)
            _matmat_loop(a, b, out)
            return out
        return loop_only
    ta, tb = _blas_operand(a, T), _blas_operand(b, T)
    S = T.type

    def impl(a, b):
        m, k = a.shape
        n = b.shape[1]
        if k != b.shape[0]:
            raise ValueError("matmul: shapes of the operands do not match (a.shape[1] != b.shape[0])")
        size = m * k * n
        if size <= _TINY or k * n > _BLAS_SERIAL:
            out = np.zeros((m, n), T)
            _matmat_loop(a, b, out)
            return out
        out = np.empty((m, n), T)
        _matmat_blas(ta(a, S), tb(b, S), out)
        return out
    return impl


def row_dot(a, i, x):
    """a[i, :] . x: row i of the product a @ x, for a loop over the rows of a (optimize/rowfusion.py)."""
    return np.dot(a[i], x)


@overload(row_dot, jit_options={"fastmath": _FAST})   # not cached_overload: compiled into the loop calling it
def _row_dot_nb(a, i, x):                             # (the module docstring)
    zero = np.dtype(nb_result_type(a, x)).type(0)

    def impl(a, i, x):
        s = zero
        for j in range(a.shape[1]):
            s += a[i, j] * x[j]
        return s
    return impl


@njit(fastmath=_FAST, cache=True)
def add_row(out, g, a, i):
    """out += g * a[i, :] (in place): row i's share of the adjoint a.T @ g, added while the row is in cache
    (optimize/rowfusion.py)."""
    for j in range(a.shape[1]):
        out[j] += g * a[i, j]


_BLOCK_BYTES = 1 << 15   # a block of rows of this size stays in L1 between its two passes (rows_dot, rows_add)
_LONG_BLOCK_BYTES = 1 << 18   # rows too long for 16 of them in L1: blocks of 256 KiB, in L2
_BLOCK_MAX = 1024
# SRCDIFF_BLOCK_ROWS (an environment variable, read once, at import; in the disk cache's key, backends.module_key):
# every block that many rows (0, the default: by the sizes above). For tests: blocks of 1 row split a loop over a
# handful of rows into as many chunks as there are threads (runtime/chunks.py, SRCDIFF_PARALLEL_MIN).
BLOCK_ROWS = int(os.environ.get("SRCDIFF_BLOCK_ROWS", 0))


def block_rows(a):
    """How many rows of `a` a row-blocked loop takes at a time (optimize/rowblocks.py): as many as fit in
    32 KiB (L1), or where that is under 16 rows (rows over 2 KiB) as many as fit in 256 KiB (L2); at most
    1 024, rounded down to a multiple of 8 from 8 rows on.

    The block's second pass (rows_add) then reads it from L1, and the loop over its rows, which LLVM
    vectorises 8 rows at a time, has no scalar remainder. Logistic loss, N=20 000, D=100 (rows of 800 bytes),
    one process, best of 200: 320 rows (250 KiB) 0.377 ms, 40 rows (31 KiB) 0.331, 48 0.336, 32 0.337; in
    another run 81 rows 0.349 (not a multiple of 8), 20 rows 0.413 (a remainder of 4 rows in each block).
    Long rows were slower in L1-sized blocks (D=1 000: 16 rows 0.336 ms, 32 rows 0.327; D=4 000: 8 rows
    0.356, 16 rows 0.401; best of 400), so they keep 256 KiB blocks."""
    if BLOCK_ROWS > 0:
        return BLOCK_ROWS
    rows = _BLOCK_BYTES // max(1, a.shape[1] * a.itemsize)
    if rows < 16:
        rows = _LONG_BLOCK_BYTES // max(1, a.shape[1] * a.itemsize)
    rows = min(_BLOCK_MAX, rows)
    return max(1, rows - rows % 8 if rows >= 8 else rows)


@overload(block_rows)
def _block_rows_nb(a):
    fixed = BLOCK_ROWS

    def impl(a):
        if fixed > 0:
            return fixed
        rows = _BLOCK_BYTES // max(1, a.shape[1] * a.itemsize)
        if rows < 16:
            rows = _LONG_BLOCK_BYTES // max(1, a.shape[1] * a.itemsize)
        rows = min(_BLOCK_MAX, rows)
        return max(1, rows - rows % 8 if rows >= 8 else rows)
    return impl


@njit(fastmath=_FAST, cache=True)
def rows_dot(out, a, x):
    """out[k] = a[k, :] . x for each row k of `a` (a block of rows; `out`, a float64 buffer, may be longer):
    the block's share of a @ x (optimize/rowblocks.py)."""
    for k in range(a.shape[0]):
        s = 0.0
        for j in range(a.shape[1]):
            s += a[k, j] * x[j]
        out[k] = s


@register_jitable(fastmath=_FAST)
def _eight_rows(a, k, j, g0, g1, g2, g3, g4, g5, g6, g7):
    """Column j of rows k..k+7 of `a` weighted by g0..g7 (rows_add's eight rows at a time)."""
    return (((g0 * a[k, j] + g1 * a[k + 1, j]) + (g2 * a[k + 2, j] + g3 * a[k + 3, j]))
            + ((g4 * a[k + 4, j] + g5 * a[k + 5, j]) + (g6 * a[k + 6, j] + g7 * a[k + 7, j])))


@register_jitable
def _columns_to_32_bytes(a):
    """How many columns of `a` lie before its rows' first 32-byte boundary, where every row has it at the
    same column (contiguous rows a multiple of 32 bytes apart); 0 where none or where rows differ."""
    size = a.itemsize
    if a.shape[0] == 0 or a.shape[1] < 2 or a.strides[1] != size or a.strides[0] % 32 != 0:
        return 0
    off = a.ctypes.data % 32
    if off % size != 0:
        return 0
    return min(a.shape[1], ((32 - off) % 32) // size)


@njit(fastmath=_FAST, cache=True)
def rows_add(out, a, g):
    """out += a.T @ g[:len(a)] (in place): the block `a`'s share of an adjoint product, added while the block
    is in cache (optimize/rowblocks.py). Rows shorter than _WIDE eight at a time, so `out` is read and written
    once per eight rows: the loop is bound by its loads (from L1, where rows of 800 bytes cross cache lines),
    and eight rows make 10 loads and stores per 8 multiply-adds where four made 6 per 4 (a 32-row block in
    L1, 625 times: 0.094 -> 0.081 ms; logistic loss, N=20 000, D=100, 40-row blocks: 0.343 -> 0.319 ms, best
    of 500, one process). Longer rows four at a time (eight were 3.5% slower at D=1 000, best of 600). A row
    at a time, loading and storing `out` bounded the loop. The eight rows' loop starts its vector part where
    the rows reach a 32-byte boundary (_columns_to_32_bytes; NumPy's arrays start 16 bytes past a cache
    line): in the logistic gradient on NumPy's x, Zen 4, four processes, median -4% to -9% (0.94-0.96 ->
    0.86-0.91 ms), best -2% to -7%, the same as before on an aligned x (benchmarks/README.md)."""
    n, d = a.shape
    step = 8 if d < _WIDE else 4
    if step == 8:
        head = _columns_to_32_bytes(a)
        for q in range(n // 8):
            k = 8 * q
            g0, g1, g2, g3 = g[k], g[k + 1], g[k + 2], g[k + 3]
            g4, g5, g6, g7 = g[k + 4], g[k + 5], g[k + 6], g[k + 7]
            if head == 0:
                for j in range(d):
                    out[j] += _eight_rows(a, k, j, g0, g1, g2, g3, g4, g5, g6, g7)
            else:
                for j in range(head):
                    out[j] += _eight_rows(a, k, j, g0, g1, g2, g3, g4, g5, g6, g7)
                for jj in range(head, d):
                    j = np.uintp(jj)   # unsigned: a signed index not starting at 0 makes Numba gather
                    out[j] += _eight_rows(a, k, j, g0, g1, g2, g3, g4, g5, g6, g7)
    else:
        for q in range(n // 4):
            k = 4 * q
            g0, g1, g2, g3 = g[k], g[k + 1], g[k + 2], g[k + 3]
            for j in range(d):
                out[j] += (g0 * a[k, j] + g1 * a[k + 1, j]) + (g2 * a[k + 2, j] + g3 * a[k + 3, j])
    for k in range(n - n % step, n):
        gk = g[k]
        for j in range(d):
            out[j] += gk * a[k, j]


@njit(fastmath=_FAST, cache=True)
def sum_first(t, n):
    """t[0] + ... + t[n - 1]: a block's share of a sum over rows (optimize/rowblocks.py)."""
    s = 0.0
    for k in range(n):
        s += t[k]
    return s


def product_zeros(a, x):
    """Zeros of x's shape and the dtype of a @ x: the start of the adjoint a.T @ g summed row by row
    (optimize/rowfusion.py)."""
    return np.zeros(np.shape(x), np.result_type(a, x))


@cached_overload(product_zeros)
def _product_zeros_nb(a, x):
    T = np.dtype(nb_result_type(a, x))
    return lambda a, x: np.zeros(x.shape, T)


def product(a, b):
    """np.dot(a, b) for scalars and 1-D/2-D arrays (under Numba, the kernels above)."""
    return np.dot(a, b)


@cached_overload(product)
def _product_nb(a, b):
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)) or a.ndim == 0 or b.ndim == 0:
        return lambda a, b: a * b
    T = np.dtype(nb_result_type(a, b))
    zero = T.type(0)
    if a.ndim == 1 and b.ndim == 1:
        def vv(a, b):
            if a.shape[0] != b.shape[0]:
                raise ValueError("dot: shapes of the operands do not match")
            return _vdot(a, b, zero)
        return vv
    if a.ndim == 2 and b.ndim == 1:
        return lambda a, b: matvec(a, b)
    if a.ndim == 1 and b.ndim == 2:
        return lambda a, b: matvec(b.T, a)
    if a.ndim == 2 and b.ndim == 2:
        return lambda a, b: matmat(a, b)
    return None


def dot(a, b):
    """np.dot (1-D/2-D); under Numba, runtime/products.py's kernels (operands of different dtypes
    are promoted to their common one, as NumPy does). With an operand of rank 3 or more, a @ b (stacks of
    matrices: the rule table's adjoints of matmul_grad_x / matmul_grad_y write rt.dot for a product of the
    matmul they differentiate; np.dot's sum over the last and second-to-last axes would pair every matrix of
    one stack with every matrix of the other: a wrong second derivative, nested fuzz 779034)."""
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        return np.matmul(a, b)
    return np.dot(a, b)


@cached_overload(dot)
def _dot_nb(a, b):
    # the products of runtime/products.py: own loops where BLAS threads would wait on each other
    return lambda a, b: product(a, b)


def _matmul_grad_stacked(g, x, y, wrt_y):
    """Adjoint of x (or y) in x @ y with an operand of rank above 2 (stacks of matrices, broadcast): the
    matrix rule on each matrix, summed over the stack axes x (or y) was broadcast along. (np.dot agrees with
    x @ y where y has rank 1 or 2; the compiler declines np.dot with y of rank 3 or more.)"""
    from .broadcast import unbroadcast
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    g2 = np.asarray(g)
    if x.ndim == 1:
        g2 = np.expand_dims(g2, -2 if y.ndim > 1 else -1)
    if y.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    if wrt_y:
        return unbroadcast(np.swapaxes(x2, -1, -2) @ g2, y2).reshape(y.shape)
    return unbroadcast(g2 @ np.swapaxes(y2, -1, -2), x2).reshape(x.shape)


def matmul_grad_x(g, x, y):
    """Adjoint of x in x @ y (or np.dot) for 1-D/2-D operands (stacks: _matmul_grad_stacked)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        return np.sum(g * y) if x.ndim == 0 else g * y
    if x.ndim > 2 or y.ndim > 2:
        return _matmul_grad_stacked(g, x, y, False)
    if y.ndim == 1:
        return np.outer(g, y) if x.ndim == 2 else g * y
    return g @ y.T if x.ndim == 2 else y @ g


def matmul_grad_y(g, x, y):
    """Adjoint of y in x @ y (or np.dot) for 1-D/2-D operands (stacks: _matmul_grad_stacked)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0:
        return np.sum(g * x) if y.ndim == 0 else g * x
    if x.ndim > 2 or y.ndim > 2:
        return _matmul_grad_stacked(g, x, y, True)
    if x.ndim == 1:
        return np.outer(x, g) if y.ndim == 2 else g * x
    return x.T @ g if y.ndim == 2 else g @ x


@cached_overload(matmul_grad_x)
def _matmul_grad_x(g, x, y):
    if not (nb_is_array(x) and nb_is_array(y)):
        return None
    if x.ndim == 2 and y.ndim == 2:
        return lambda g, x, y: dot(g, y.T)
    if x.ndim == 2 and y.ndim == 1:
        return lambda g, x, y: np.outer(g, y)
    if x.ndim == 1 and y.ndim == 2:
        return lambda g, x, y: dot(y, g)
    if x.ndim == 1 and y.ndim == 1:
        return lambda g, x, y: g * y
    return None


@cached_overload(matmul_grad_y)
def _matmul_grad_y(g, x, y):
    if not (nb_is_array(x) and nb_is_array(y)):
        return None
    if x.ndim == 2 and y.ndim == 2:
        return lambda g, x, y: dot(x.T, g)
    if x.ndim == 1 and y.ndim == 2:
        return lambda g, x, y: np.outer(x, g)
    if x.ndim == 2 and y.ndim == 1:
        return lambda g, x, y: dot(g, x)
    if x.ndim == 1 and y.ndim == 1:
        return lambda g, x, y: g * x
    return None


def einsum_matmul(a, b):
    """a @ b of 1-D/2-D operands as np.einsum contracts them (rules/composites.py writes its matrix products
    with it): a contracted axis of length 1 broadcasts against the other operand's, so that operand is summed
    along it first (np.einsum('ij,jk->ik', a, b) of a (2, 1) a and a (3, 4) b is a @ b.sum(0, keepdims=True)),
    where a @ b would require equal lengths."""
    a, b = np.asarray(a), np.asarray(b)
    n, m = a.shape[-1], b.shape[0]
    if n != m and n == 1:
        b = b.sum(axis=0, keepdims=True)
    elif n != m and m == 1:
        a = a.sum(axis=-1, keepdims=True)
    return dot(a, b)


@register_jitable
def _summed_vector(v):
    """Numba: a vector summed, as a vector of length 1."""
    return np.full(1, v.sum())


@register_jitable
def _summed_rows(b):
    """Numba: a matrix's rows summed, as a matrix of one row."""
    return np.ascontiguousarray(b.sum(axis=0)).reshape((1, b.shape[1]))


@register_jitable
def _summed_columns(a):
    """Numba: a matrix's columns summed, as a matrix of one column."""
    return np.ascontiguousarray(a.sum(axis=1)).reshape((a.shape[0], 1))


@cached_overload(einsum_matmul)
def _einsum_matmul_nb(a, b):
    if not (nb_is_array(a) and nb_is_array(b)) or not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2):
        return None
    first = _summed_vector if b.ndim == 1 else _summed_rows       # (b summed along the contracted axis)
    last = _summed_vector if a.ndim == 1 else _summed_columns     # (a likewise)

    def impl(a, b):
        n, m = a.shape[-1], b.shape[0]
        if n != m and n == 1:
            return product(a, first(b))
        if n != m and m == 1:
            return product(last(a), b)
        return product(a, b)
    return impl


def outer_grad(g, x, y):
    """The adjoint of x in np.outer(x, y), which flattens its arguments: g @ ravel(y) in x's shape (a number for
    a number x); y's is outer_grad(g.T, y, x). (The rule wrote g @ y: a 2-d y gave a gradient of the wrong
    shape, a (1, 1) x and (1,) y one of the wrong values, with no error.)"""
    out = np.dot(g, np.ravel(y))
    if np.ndim(x) == 0:
        return out.sum()
    return np.reshape(out, np.shape(x))


@cached_overload(outer_grad)
def _outer_grad_nb(g, x, y):
    if not (nb_is_array(g) and g.ndim == 2):
        return None
    if nb_is_array(y):
        if nb_is_array(x) and x.ndim == 1 and y.ndim == 1:
            return lambda g, x, y: dot(g, y)
        if nb_is_array(x):
            return lambda g, x, y: dot(g, np.ascontiguousarray(y).reshape(y.size)).reshape(x.shape)
        if nb_is_scalar(x):
            return lambda g, x, y: np.sum(dot(g, np.ascontiguousarray(y).reshape(y.size)))
    if nb_is_scalar(y):
        if nb_is_array(x):
            return lambda g, x, y: (g[:, 0] * y).reshape(x.shape)
        if nb_is_scalar(x):
            return lambda g, x, y: g[0, 0] * y
    return None


# ---- tensordot: x's last k axes with y's first k ----------------------------------------------------
def _mnk(xs, ys, k):
    """(M, K, N) of the 2-d views x (M, K) and y (K, N) of tensordot(x, y, k)."""
    nx = len(xs)
    return (int(np.prod(xs[:nx - k], dtype=np.int64)), int(np.prod(xs[nx - k:], dtype=np.int64)),
            int(np.prod(ys[k:], dtype=np.int64)))


def tensordot(x, y, k):
    """np.tensordot(x, y, k) for an int k (under Numba, where k is every axis of both, the scalar NumPy's 0-d
    array holds)."""
    return np.tensordot(x, y, k)


def tensordot_grad_x(g, x, y, k):
    """The adjoint of x in tensordot(x, y, k): g (M, N) @ y (K, N)^T, in x's shape."""
    M, K, N = _mnk(np.shape(x), np.shape(y), k)
    return (np.reshape(g, (M, N)) @ np.reshape(y, (K, N)).T).reshape(np.shape(x))


def tensordot_grad_y(g, x, y, k):
    """The adjoint of y in tensordot(x, y, k): x (M, K)^T @ g (M, N), in y's shape."""
    M, K, N = _mnk(np.shape(x), np.shape(y), k)
    return (np.reshape(x, (M, K)).T @ np.reshape(g, (M, N))).reshape(np.shape(y))


@register_jitable
def _mnk_nb(xs, ys, k):
    nx = len(xs)
    M, K, N = 1, 1, 1
    for i in range(nx):
        if i < nx - k:
            M *= xs[i]
        else:
            K *= xs[i]
    for i in range(len(ys)):
        if i >= k:
            N *= ys[i]
    return M, K, N


@overload(tensordot, prefer_literal=True)
def _tensordot_nb(x, y, k):
    kk = nb_literal(k)
    if kk is None or not (nb_is_array(x) and nb_is_array(y)) or kk > min(x.ndim, y.ndim):
        return None
    nx, ny = x.ndim, y.ndim
    m = nx + ny - 2 * kk
    if m == 0:   # every axis contracted: NumPy's 0-d array is a scalar in jitted code, as 0-d arguments are
        def scalar(x, y, k):     # (a branch binding a float to the same name unifies with it: fuzz seed 600110)
            M, K, N = _mnk_nb(x.shape, y.shape, kk)
            for i in range(kk):
                if x.shape[i] != y.shape[i]:
                    raise ValueError("tensordot: shape mismatch for the summed axes")
            return dot(np.ascontiguousarray(x).reshape((M, K)), np.ascontiguousarray(y).reshape((K, N)))[0, 0]
        return scalar

    def impl(x, y, k):
        M, K, N = _mnk_nb(x.shape, y.shape, kk)
        for i in range(kk):
            if x.shape[nx - kk + i] != y.shape[i]:
                raise ValueError("tensordot: shape mismatch for the summed axes")
        r = dot(np.ascontiguousarray(x).reshape((M, K)), np.ascontiguousarray(y).reshape((K, N)))
        dims = np.empty(m, np.int64)
        for i in range(nx - kk):
            dims[i] = x.shape[i]
        for i in range(kk, ny):
            dims[nx - kk + i - kk] = y.shape[i]
        return np.ascontiguousarray(r).reshape(to_fixed_tuple(dims, m))
    return impl


@register_jitable
def _grad_x_mm(gm, xm, ym):
    return dot(gm, ym.T)


@register_jitable
def _grad_y_mm(gm, xm, ym):
    return dot(xm.T, gm)


def _tensordot_grad_nb(product, like_y):
    """Numba adjoint of x or y in tensordot(x, y, k): the matrix-product adjoint on (M, K) @ (K, N)."""
    def typer(g, x, y, k):
        kk = nb_literal(k)
        if kk is None or not (nb_is_array(x) and nb_is_array(y)):
            return None

        def impl(g, x, y, k):
            M, K, N = _mnk_nb(x.shape, y.shape, kk)
            r = product(np.ascontiguousarray(np.asarray(g)).reshape((M, N)),
                        np.ascontiguousarray(x).reshape((M, K)), np.ascontiguousarray(y).reshape((K, N)))
            return np.ascontiguousarray(r).reshape(y.shape if like_y else x.shape)
        return impl
    return typer


overload(tensordot_grad_x, prefer_literal=True)(_tensordot_grad_nb(_grad_x_mm, False))
overload(tensordot_grad_y, prefer_literal=True)(_tensordot_grad_nb(_grad_y_mm, True))
