"""Type predicates and dtype rules shared by the Python and Numba implementations."""
import numpy as np
from numba.core import types
from numba.np.numpy_support import as_dtype


# --- plain Python side -------------------------------------------------------

def is_array(x):
    """True for NumPy arrays (any ndim, 0-d included); everything else is a scalar."""
    return isinstance(x, np.ndarray)


def float_dtype(dtype):
    """`dtype` itself if inexact, else float64 (ints and bools differentiate as floats)."""
    dtype = np.dtype(dtype)
    return dtype if np.issubdtype(dtype, np.inexact) else np.dtype(np.float64)


def float_scalar_type(x):
    """NumPy scalar type used for a float result derived from `x` (array or scalar)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return float_dtype(x.dtype).type
    if isinstance(x, complex):
        return complex
    return float


# --- Numba typing side -------------------------------------------------------

def nb_is_scalar(t):
    """Numba type of a number or bool."""
    return isinstance(t, (types.Number, types.Boolean))


def nb_is_array(t):
    return isinstance(t, types.Array)


def nb_is_none(t):
    """Numba type of a None argument, passed explicitly or left at its default."""
    if t is None or isinstance(t, types.NoneType):
        return True
    return isinstance(t, types.Omitted) and t.value is None


def nb_is_int(t):
    return isinstance(t, types.Integer)


def nb_float_type(t):
    """NumPy scalar class for the float version of a Numba scalar type or array dtype."""
    if isinstance(t, types.Array):
        t = t.dtype
    if isinstance(t, (types.Float, types.Complex)):
        return as_dtype(t).type
    return np.float64


def nb_result_type(*ts):
    """NumPy scalar class of np.result_type over the float versions of Numba types (float32 with
    float64 gives float64): the dtype both operands of a product take in Numba code."""
    return np.result_type(*[nb_float_type(t) for t in ts]).type


def own(impl, pyfunc):
    """Give an overload implementation made by a factory (one factory serving several helpers) the
    helper's name. Numba names compiled functions by qualified name and a per-process counter, so two
    factory-made implementations sharing a qualified name (and argument types) can be linked in each
    other's place when a module is loaded from the on-disk cache: rt.prod ran as rt.mean."""
    if impl is not None:
        impl.__qualname__ = f"{pyfunc.__module__}.{pyfunc.__name__}.{impl.__name__}"
    return impl


def nb_literal(t):
    """The value of a Numba literal type (tensordot's k, atleast_nd's n), None if it is not one."""
    return getattr(t, "literal_value", None)
