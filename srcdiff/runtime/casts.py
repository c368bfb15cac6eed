"""Array construction from parts and dtype casts.

`rt.array(parts)` is `np.array` of a tuple of scalars (a vector) or of arrays of one shape (stacked along a
new first axis), or a copy of one array: the canonical form of `np.array([...])`, `np.asarray([...])` and
list literals passed to NumPy functions (transforms/canonicalize.py). Numba's np.array takes tuples of scalars
only, so its overload stacks arrays itself.

`rt.astype(x, dtype)` is `x.astype(dtype)` where the dtype is a float type or known only at run time;
`rt.astype_grad(v, ans)` passes an adjoint (or tangent) `v` through it when the cast's result `ans` is a
float, and gives zeros when it is an integer or boolean (a cast to those has no derivative).
`rt.cast(x, dtype)` is a cast to an integer or boolean dtype known when the code is generated (no rule
derivative: its result carries none).
"""
import numpy as np
from numba import literal_unroll, types
from numba.extending import overload

from ._typing import is_array, nb_is_array, nb_is_scalar, nb_literal, own

__all__ = ["any_layout", "array", "astype", "astype_grad", "cast", "numpy_float", "to_float32"]


def array(parts):
    """np.array of a tuple of scalars or of equal-shaped arrays, or a copy of an array."""
    return np.array(parts)


@overload(array)
def _array_nb(parts):
    if nb_is_array(parts):
        return lambda parts: parts.copy()
    if nb_is_scalar(parts):
        return lambda parts: np.asarray(parts)
    if not isinstance(parts, types.BaseTuple) or len(parts) == 0:
        return None
    if all(_nested_scalars(t) for t in parts.types):   # (tuples of tuples of numbers: an index array, say, that
        return lambda parts: np.array(parts)          # copy propagation wrote into a gradient's rt.array)
    if not all(nb_is_array(t) for t in parts.types) or len({t.ndim for t in parts.types}) != 1:
        return None   # a ragged mix of scalars and arrays (NumPy declines it too)
    from numba.np.numpy_support import as_dtype
    T = np.result_type(*[as_dtype(t.dtype) for t in parts.types]).type
    n = len(parts)

    def impl(parts):
        first = parts[0]
        out = np.empty((n,) + first.shape, T)
        k = 0
        for p in literal_unroll(parts):
            if p.shape != first.shape:
                raise ValueError("np.array: the arrays listed have different shapes")
            out[k] = p
            k += 1
        return out
    return impl


def _nested_scalars(t) -> bool:
    """Whether Numba type `t` is a number or a (nested) tuple of numbers, which Numba's np.array takes."""
    return nb_is_scalar(t) or (isinstance(t, types.BaseTuple) and len(t) > 0 and all(_nested_scalars(e) for e in t.types))


def _float_dtype(dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def astype(x, dtype, copy=True):
    """x.astype(dtype, copy=copy), for arrays and scalars alike (copy False: an array x itself where it has the dtype,
    as NumPy gives it for `x.astype(dtype, copy=False)` and `np.asarray(x, dtype)`)."""
    if is_array(x):
        return x.astype(dtype, copy=copy)
    return np.asarray(x).astype(dtype)[()]


def cast(x, dtype, copy=True):
    """x.astype(dtype, copy=copy) for an integer or boolean dtype (no derivative)."""
    return astype(x, dtype, copy)


def astype_grad(v, ans):
    """`v` where the cast's result `ans` is a float (the derivative passes), else zeros of v's shape. A copy of v
    where `ans` has another float type than v: the cast made a new array (`buf.astype(np.float32, copy=False)` of
    a float64 buf), so its tangent is a new array too, which writes into the result change alone (it was v, the
    tangent of buf: jvp d/dx [2, 0, 4] for [4, -1, 4])."""
    if _float_dtype(np.asarray(ans).dtype):
        return v.copy() if isinstance(v, np.ndarray) and isinstance(ans, np.ndarray) and v.dtype != ans.dtype else v
    return v * 0.0


def _nb_target(dtype):
    """NumPy scalar class a Numba dtype argument names (np.int64, x.dtype, 'int32'), or None."""
    from numba.np.numpy_support import as_dtype
    if isinstance(dtype, types.NumberClass):
        return as_dtype(dtype.instance_type).type
    if isinstance(dtype, types.DType):
        return as_dtype(dtype.dtype).type
    if isinstance(dtype, (types.StringLiteral, types.Literal)) and isinstance(dtype.literal_value, str):
        return np.dtype(dtype.literal_value).type
    if isinstance(dtype, types.Function) and dtype.typing_key is bool:
        return np.bool_
    return None


def _cast_nb(pyfunc):
    def typer(x, dtype, copy=True):
        from numba.np.numpy_support import as_dtype
        T = _nb_target(dtype)
        if T is None:
            return None
        if nb_is_array(x):
            if nb_literal(copy) is False and as_dtype(x.dtype).type is T:   # (the literal False resolve writes)
                return own(lambda x, dtype, copy=True: x, pyfunc)
            return own(lambda x, dtype, copy=True: x.astype(T), pyfunc)
        if nb_is_scalar(x):
            return own(lambda x, dtype, copy=True: T(x), pyfunc)
        return None
    return typer


overload(astype, prefer_literal=True)(_cast_nb(astype))
overload(cast, prefer_literal=True)(_cast_nb(cast))


@overload(astype_grad)
def _astype_grad_nb(v, ans):
    dt = ans.dtype if nb_is_array(ans) else ans
    if isinstance(dt, (types.Float, types.Complex)):
        if nb_is_array(v) and nb_is_array(ans) and v.dtype != ans.dtype:
            return lambda v, ans: v.copy()
        return lambda v, ans: v
    return lambda v, ans: v * 0.0


def any_layout(a):
    """`a` itself: under Numba, an array of Fortran layout typed as a view of any layout (A), which Numba unifies
    with a C array where a loop or a branch binds a name to both (transforms/layouts.py); anything else as it is."""
    return a


@overload(any_layout)
def _any_layout_nb(a):
    if isinstance(a, types.Array) and a.layout == "F" and a.ndim >= 1:
        return lambda a: a[::1]
    return lambda a: a


def numpy_float(i, other):
    """The integer array `i` as the float type NumPy computes it in beside `other` (a float array or number) in an
    operator or a ufunc of two arguments: the compiled form's (transforms/promotions.py). Numba takes a float32
    array with an int32 or int64 array or scalar in float32 (`np.sum(x * counts)`: 2.25 where NumPy 2's float64
    gives 2.249999985098839); NumPy in float64. Under Numba `i` itself where its arithmetic is NumPy's already (a
    float64 `other`: Numba's float64 with integers is float64; int8 and int16: NumPy's float32 too), no copy."""
    if not (isinstance(i, np.ndarray) and i.dtype.kind in "iu"):
        return i
    dt = np.result_type(i.dtype, other.dtype if isinstance(other, (np.ndarray, np.generic)) else np.float64)
    return i.astype(dt) if dt.kind == "f" else i


@overload(numpy_float)
def _numpy_float_nb(i, other):
    if not (isinstance(i, types.Array) and isinstance(i.dtype, types.Integer)):
        return lambda i, other: i
    f = other.dtype if isinstance(other, types.Array) else other
    if f != types.float32 or i.dtype.bitwidth < 32:
        return lambda i, other: i
    return lambda i, other: i.astype(np.float64)


def to_float(x):
    """float(x) in jitted source (the rule's jit_as, transforms/products.py): Numba's float takes neither a bool
    (float(b) of a 0-d bool array argument, which runs as the bool it holds: specialisations.run_scalars) nor a
    0-d array; NumPy's float takes both. And Numba's float of a float32 is a float32, Python's a double (a float64
    here): `float(s) * 0.1` and math.sqrt of it (transforms/promotions.py) were computed in float32."""
    return float(x)


@overload(to_float)
def _to_float_nb(x):
    if isinstance(x, types.Boolean):
        return lambda x: 1.0 if x else 0.0
    if isinstance(x, types.Array) and x.ndim == 0:
        if isinstance(x.dtype, types.Boolean):
            return lambda x: 1.0 if x[()] else 0.0
        return lambda x: np.float64(x[()])
    return lambda x: np.float64(x)     # (Numba's float of a float32 is a float32: math.sqrt of it was computed so)


def to_float32(x):
    """np.float32(x) in jitted source (the rule's jit_as, transforms/products.py), of a number, a bool, a 0-d array
    or an array (its float32 copy), as NumPy's: Numba's np.float32 takes no 0-d array and no array."""
    return np.float32(x)


@overload(to_float32)
def _to_float32_nb(x):
    if isinstance(x, types.Array) and x.ndim == 0:
        if isinstance(x.dtype, types.Boolean):
            return lambda x: np.float32(1.0 if x[()] else 0.0)
        return lambda x: np.float32(x[()])
    if isinstance(x, types.Array):
        return lambda x: x.astype(np.float32)
    if isinstance(x, types.Boolean):
        return lambda x: np.float32(1.0 if x else 0.0)
    return lambda x: np.float32(x)


_ITEM_SIZE = "can only convert an array of size 1 to a Python scalar"


def item(x):
    """x.item() (transforms/resolve.py): the number an array of one element holds, of any rank, as a float (the
    derivative passes: numpy_rules.py). float(x) wrote it, which NumPy 2 takes of a 0-d array only: x.item() of a
    (1,) or (1, 1) array raised TypeError under jit=False and failed to compile under Numba."""
    return float(x.item()) if isinstance(x, (np.ndarray, np.generic)) else float(x)


@overload(item)
def _item_nb(x):
    if isinstance(x, types.Array):
        if isinstance(x.dtype, types.Boolean):
            def impl_bool(x):
                if x.size != 1:
                    raise ValueError(_ITEM_SIZE)
                return 1.0 if x.ravel()[0] else 0.0
            return impl_bool

        def impl(x):
            if x.size != 1:
                raise ValueError(_ITEM_SIZE)
            return float(x.ravel()[0])
        return impl
    if isinstance(x, types.Boolean):
        return lambda x: 1.0 if x else 0.0
    return lambda x: float(x)
