"""Linear solves, general and triangular, and their adjoints (scipy.linalg.solve_triangular under Numba too).

Under Numba, float32 * <Python float> is float64 (NumPy keeps float32), so adjoints of float32
values can be float64; Numba's np.linalg needs operands of one dtype, so the Numba versions here first
cast both to their common dtype (np.result_type), as NumPy does itself.
"""
import numpy as np
import scipy.linalg as sla
from numba import types
from numba.extending import register_jitable
from numba.np.numpy_support import as_dtype

from ._typing import nb_is_array, nb_result_type
from .products import dot, product
from ._cache import cached_overload


@register_jitable
def _same(x, T):
    return np.ascontiguousarray(x)


@register_jitable
def _cast(x, T):
    return x.astype(T)


def _to(t, T):
    """Jitted (x, T) -> C-contiguous x of dtype T, for x of Numba array type `t` (casts only if needed)."""
    return _same if as_dtype(t.dtype).type is T else _cast


def solve(a, b):
    """np.linalg.solve; under Numba, operands of different dtypes are cast to their common one."""
    return np.linalg.solve(a, b)


@cached_overload(solve)
def _solve_nb(a, b):
    if not (nb_is_array(a) and nb_is_array(b)):
        return None
    T = nb_result_type(a, b)
    ta, tb = _to(a, T), _to(b, T)
    return lambda a, b: np.linalg.solve(ta(a, T), tb(b, T))


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


def solve_triangular(a, b, lower=False, trans=0):
    """scipy.linalg.solve_triangular: solves a x = b (trans 0) or a^T x = b (trans 1 or 2)."""
    return sla.solve_triangular(a, b, lower=lower, trans=trans)


@register_jitable
def trsm(a, b2, lower, trans, dt):
    """Substitution for 2-D b2 (`trans` a bool); op(a) is lower-triangular iff lower != trans."""
    n = a.shape[0]
    if a.ndim != 2 or a.shape[1] != n or b2.shape[0] != n:
        raise ValueError("solve_triangular: shapes do not match")
    m = b2.shape[1]
    x = np.empty((n, m), dt)
    x[:, :] = b2
    t = trans
    forward = lower != t
    for step in range(n):
        i = step if forward else n - 1 - step
        d = a[i, i]
        if d == 0:
            raise np.linalg.LinAlgError("singular matrix: zero on the diagonal")
        lo = 0 if forward else i + 1
        hi = i if forward else n
        for k in range(lo, hi):
            c = a[k, i] if t else a[i, k]
            if c != 0:
                for j in range(m):
                    x[i, j] -= c * x[k, j]
        for j in range(m):
            x[i, j] /= d
    return x


@cached_overload(solve_triangular)
def _solve_triangular_nb(a, b, lower=False, trans=0):
    if not (nb_is_array(a) and nb_is_array(b) and a.ndim == 2 and b.ndim in (1, 2)):
        return None
    both32 = a.dtype == types.float32 and b.dtype == types.float32
    dt = np.float32 if both32 else np.float64
    as_str = isinstance(trans, (types.UnicodeType, types.StringLiteral))
    if not (as_str or isinstance(trans, (int, types.Integer, types.Boolean, types.Omitted))):
        return None
    if b.ndim == 1:
        def impl1(a, b, lower=False, trans=0):
            t = (trans != "N") if as_str else (trans != 0)
            b2 = np.ascontiguousarray(b).reshape((b.shape[0], 1))
            return trsm(a, b2, lower, t, dt).reshape(b.shape[0])
        return impl1

    def impl2(a, b, lower=False, trans=0):
        t = (trans != "N") if as_str else (trans != 0)
        return trsm(a, b, lower, t, dt)
    return impl2


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
