"""What a transform keeps of the code it generated: a `Specialisation` per argument kinds (the generated module,
loaded), and, for the fast call path, a `Known` entry per argument types (types_key: types, dtypes, shapes)."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np


class Specialisation(NamedTuple):
    """One specialisation of a transform, generated (or loaded from the disk cache) and loaded: what
    CUDA lowering, export, VI and error reports read from a transform. `module`: the compiler's Module
    (None, or the disk cache's record of it, when it was not generated in this process); `source`: the
    generated module's source; `function`: its loaded entry function; `inner`: for forward mode over a
    generated function, that function; `generated`: the source with the facts of its functions
    (srcdiff.generated.Generated), what a pickled transform ships to load it elsewhere; `structs`: the
    (parameter, structure) pairs of its tuple/list arguments (transforms/flatten.py), which the generated
    function takes leaf by leaf."""
    module: Any
    source: str
    function: Callable
    inner: Any = None
    generated: Any = None
    structs: tuple = ()


class Known(NamedTuple):
    """What `Transformed.__call__` found for arguments of one types key (`types_key`): the generated function,
    its Specialisation, whether scalars are converted for it (`run_scalars`), and whether gradients
    need their arguments' dtypes (`_match_dtypes`)."""
    function: Callable
    specialisation: Specialisation
    convert: bool
    match: bool


def run_scalars(args, jit, n=None) -> tuple:
    """The scalar arguments as generated code runs on them: NumPy integer scalars (np.uint8(7), np.int32(3))
    as Python ints, whose arithmetic neither wraps nor turns into floats (the generated code computes with
    them where the user's code did not: tape sizes `max(n, 0)`, reverse loops `range(n - 1, -1, -1)`,
    checkpoint segments `-(-n // k)`; under Numba, uint64 with an int is float64); under the Python backend
    Python floats as np.float64 (NumPy's floating semantics: 1.0 / 0.0 is inf, not a ZeroDivisionError), but
    beside float32 arrays or scalars, whose arithmetic with a Python float NumPy keeps float32;
    under Numba (jit=True) 0-d arrays among the first `n` (the function's arguments; all if None) as the
    scalars they hold (Numba's arithmetic on a 0-d array gives a scalar, so generated code that kept one as
    an array did not compile: `d_a += ...`, a loop carrying it). The same tuple when nothing is converted."""
    n = len(args) if n is None else n
    zero_d = jit is True and any(type(a) is np.ndarray and a.ndim == 0 for a in args[:n])
    # (not beside float32 values: NumPy 2 computes float32 with a Python float in float32, with an np.float64 in
    # float64, so the value and its derivatives were float64 where f's are float32)
    floats = not jit and not any(isinstance(a, (np.ndarray, np.floating)) and a.dtype == np.float32 for a in args)
    if not zero_d and not any(type(a) is float and floats or isinstance(a, np.integer) for a in args):
        return args
    if zero_d:
        args = tuple(a[()] if type(a) is np.ndarray and a.ndim == 0 and k < n else a for k, a in enumerate(args))
    return tuple(int(a) if isinstance(a, np.integer) else np.float64(a) if type(a) is float and floats else a
                 for a in args)


_PLAIN_NUMBERS = (bool, int, float, type(None))


def floats64(args) -> bool:
    """Whether every float among `args` (a specialisation's arguments, structures flattened) is float64 or a
    Python float, and each argument a number, an array of numbers or None: the kinds say "f" of float32 and
    float64 alike, and a fold that holds for float64 only (the seed's `1.0 * v` written `v`: Numba computes
    float32 adjoints in float64 because the seed is float64; reverse.py) asks this of the call."""
    for a in args:
        if type(a) in _PLAIN_NUMBERS:
            continue
        dt = getattr(a, "dtype", None)
        if not isinstance(a, (np.ndarray, np.generic)) or dt is None or dt.kind not in "biuf":
            return False
        if dt.kind == "f" and dt != np.float64:
            return False
    return True


def widened(args):
    """`args` with float32 arrays and scalars as float64, or None if there is none: what jitted code runs on
    when Numba cannot type it for float32 (its arithmetic of a float32 array with a float is float64, so a
    value a loop carries changes dtype: "Cannot unify array(float32, 1d, C) and array(float64, 1d, C)");
    NumPy keeps float32 there, and the gradients are cast back to their arguments' dtypes."""
    if not any(getattr(a, "dtype", None) == np.float32 for a in args):
        return None
    return tuple(a.astype(np.float64) if getattr(a, "dtype", None) == np.float32 and isinstance(a, np.ndarray)
                 else np.float64(a) if type(a) is np.float32 else a for a in args)


def typing_failed(exc) -> bool:
    """`exc` is Numba's failure to type a generated function for its arguments."""
    import numba
    return isinstance(exc, numba.core.errors.TypingError)


def c_ordered(args):
    """`args` with Fortran-ordered arrays as C-ordered copies, or None if there is none: what jitted code runs
    on when Numba fails on them. Numba 0.68 types a name bound to a Fortran-ordered argument and, in a loop,
    to a C-ordered array as layout 'A', and then fails to compile any array expression of it ("Don't know how
    to allocate array with layout 'A'": `M = np.sin(M) + np.ones(M.shape)` in a loop, then `M * 2.0`);
    NumPy computes the same values for either order, and the gradient does not depend on it."""
    def fortran(a):
        return type(a) is np.ndarray and a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous
    if not any(fortran(a) for a in args):
        return None
    return tuple(np.ascontiguousarray(a) if fortran(a) else a for a in args)


def layout_failed(exc) -> bool:
    """`exc` is Numba's failure to allocate an array of layout 'A' (see c_ordered)."""
    return isinstance(exc, NotImplementedError) and "allocate array with layout 'A'" in str(exc)


RERUNS = {"float64": widened, "C order": c_ordered}


def rerun_arguments(exc, args):
    """(how, arguments) a jitted generated function runs on instead of `args` after failing on them with `exc`
    (how: a key of RERUNS), or None if no other kind of the same values helps."""
    how = "float64" if typing_failed(exc) else "C order" if layout_failed(exc) else None
    again = RERUNS[how](args) if how else None
    return None if again is None else (how, again)


def rerun_recorded(reruns: dict, args):
    """`args` as earlier failures of arguments of their kinds (reruns: rerun_key -> how) say to run them."""
    for _ in range(len(RERUNS)):
        how = reruns.get(rerun_key(args))
        if how is None:
            break
        args = RERUNS[how](args)
    return args


def rerun_key(args) -> tuple:
    """types_key with each array's memory order: what decides whether Numba failed on the arguments' kinds."""
    return tuple([(a.dtype, a.shape, a.flags.c_contiguous, a.flags.f_contiguous) if type(a) is np.ndarray
                  else type(a) for a in args])


# argument types whose kind and axis labels follow from (type, dtype, shape): calls with only these take the
# fast path; tuples, lists (structures), subclasses and other objects always go through the full lookup
PLAIN = frozenset({float, int, bool, np.ndarray, np.float64, np.float32, np.float16, np.int64, np.int32,
                    np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8, np.bool_})
FAST_MAX = 64      # types keys kept per transform (a loop over ever new shapes must not grow without end)


def types_key(args) -> tuple:
    """The arguments' types, with dtype and shape for arrays: what decides their kinds and axis labels."""
    return tuple([(a.dtype, a.shape) if type(a) is np.ndarray else type(a) for a in args])
