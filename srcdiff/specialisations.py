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
    its Specialisation, whether Python floats become np.float64 (the Python backend), and whether gradients
    need their arguments' dtypes (`_match_dtypes`)."""
    function: Callable
    specialisation: Specialisation
    floats: bool
    match: bool


# argument types whose kind and axis labels follow from (type, dtype, shape): calls with only these take the
# fast path; tuples, lists (structures), subclasses and other objects always go through the full lookup
PLAIN = frozenset({float, int, bool, np.ndarray, np.float64, np.float32, np.float16, np.int64, np.int32,
                    np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8, np.bool_})
FAST_MAX = 64      # types keys kept per transform (a loop over ever new shapes must not grow without end)


def types_key(args) -> tuple:
    """The arguments' types, with dtype and shape for arrays: what decides their kinds and axis labels."""
    return tuple([(a.dtype, a.shape) if type(a) is np.ndarray else type(a) for a in args])
