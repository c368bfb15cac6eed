"""Adjoint helpers for products and solves, callable from Python and from Numba-compiled code.

Under Numba, float32 * <Python float> is float64 (NumPy keeps float32), so adjoints of float32
values can be float64; Numba's np.dot, @ and np.linalg need operands of one dtype, so the Numba
versions here first cast both to their common dtype (np.result_type), as NumPy does itself.
"""
import numpy as np
from numba import types
from numba.extending import register_jitable
from numba.np.numpy_support import as_dtype

from ._typing import nb_result_type
from .products import product
from ._cache import cached_overload


def _is_array(t):
    return isinstance(t, types.Array)


@register_jitable
def _same(x, T):
    return np.ascontiguousarray(x)


@register_jitable
def _cast(x, T):
    return x.astype(T)


def _to(t, T):
    """Jitted (x, T) -> C-contiguous x of dtype T, for x of Numba array type `t` (casts only if needed)."""
    return _same if as_dtype(t.dtype).type is T else _cast


def dot(a, b):
    """np.dot (1-D/2-D); under Numba, runtime/products.py's kernels (operands of different dtypes
    are promoted to their common one, as NumPy does)."""
    return np.dot(a, b)


@cached_overload(dot)
def _dot_nb(a, b):
    # the products of runtime/products.py: own loops where BLAS threads would wait on each other
    return lambda a, b: product(a, b)


def solve(a, b):
    """np.linalg.solve; under Numba, operands of different dtypes are cast to their common one."""
    return np.linalg.solve(a, b)


@cached_overload(solve)
def _solve_nb(a, b):
    if not (_is_array(a) and _is_array(b)):
        return None
    T = nb_result_type(a, b)
    ta, tb = _to(a, T), _to(b, T)
    return lambda a, b: np.linalg.solve(ta(a, T), tb(b, T))


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
    if not (_is_array(x) and _is_array(y)):
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
    if not (_is_array(x) and _is_array(y)):
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


def solve_grad_a(gb, ans):
    """Adjoint of a in ans = solve(a, b), given gb = solve(a.T, g)."""
    return -np.outer(gb, ans) if np.ndim(ans) == 1 else -(gb @ ans.T)


@cached_overload(solve_grad_a)
def _solve_grad_a(gb, ans):
    if ans.ndim == 1:
        return lambda gb, ans: -np.outer(gb, ans)
    return lambda gb, ans: -dot(gb, ans.T)


def solve_triangular_grad_a(gb, ans, trans, lower):
    """Adjoint of the triangle a in ans = solve_triangular(a, b, trans, lower), given gb."""
    m = solve_grad_a(gb, ans)
    if trans:
        m = m.T
    return np.tril(m) if lower else np.triu(m)


@cached_overload(solve_triangular_grad_a)
def _solve_triangular_grad_a(gb, ans, trans, lower):
    def impl(gb, ans, trans, lower):
        m = solve_grad_a(gb, ans)
        if trans:
            m = np.ascontiguousarray(m.T)
        return np.tril(m) if lower else np.triu(m)
    return impl


@register_jitable
def tri_matmul(da, x, trans):
    """da @ x, or da.T @ x when trans (tangent of a triangular solve)."""
    if trans:
        return product(da.T, x)
    return product(da, x)


def tri_mask(m, lower):
    """np.tril(m) if lower else np.triu(m) (a triangle as a linear, self-adjoint map)."""
    return np.tril(m) if lower else np.triu(m)


@cached_overload(tri_mask)
def _tri_mask(m, lower):
    return lambda m, lower: np.tril(m) if lower else np.triu(m)


def transpose_if(m, flag):
    """m.T if flag else m (tri_matmul's op, as a linear, self-adjoint map)."""
    return np.transpose(m) if flag else m


@cached_overload(transpose_if)
def _transpose_if(m, flag):
    return lambda m, flag: np.ascontiguousarray(m.T) if flag else np.ascontiguousarray(m)


def logabsdet(x):
    """log |det x| (the second output of np.linalg.slogdet)."""
    return np.linalg.slogdet(x)[1]


def slogdet_sign(x):
    return np.linalg.slogdet(x)[0]


@cached_overload(logabsdet)
def _logabsdet(x):
    return lambda x: np.linalg.slogdet(x)[1]


@cached_overload(slogdet_sign)
def _slogdet_sign(x):
    return lambda x: np.linalg.slogdet(x)[0]


@register_jitable
def cholesky_jvp(L, dA):
    """Tangent of L = cholesky(A): L Φ(L⁻¹ dA L⁻ᵀ) with Φ taking the lower half, halved diagonal."""
    Linv = np.linalg.inv(L)
    m = Linv @ dA @ Linv.T
    n = m.shape[0]
    for i in range(n):
        m[i, i] *= 0.5
        for j in range(i + 1, n):
            m[i, j] = 0.0
    return L @ m
