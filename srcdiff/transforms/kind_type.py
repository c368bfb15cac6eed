"""The kind lattice: the Kind type (a scalar of a dtype, an array of a rank and dtype, a tuple, a stack, a dtype
value; None for a value of unknown kind), its fields, and the joins the inference takes (broadcast, matmul, unify).

Why a module of its own: every pass reads kinds (reverse, unbound, checkpoints, the optimisers), and reading them
through these functions, not by position, is what lets the representation change in one place; this is the only
module of the package that reads a kind's tagged tuple by position (scripts/architecture_metrics.py counts the
others). It imports nothing of the inference (transforms/kinds.py) nor of the laws (transforms/kind_laws.py).
"""
from __future__ import annotations

import numpy as np

# ---- the Kind type -----------------------------------------------------------------------------------------
# Its fields are stored as a tagged tuple (("a", 2, "f")), which only the functions here read by position.
# Each takes None (a value of unknown kind) and a kind given as a plain tagged tuple too; the properties of
# Kind are these functions.

def is_scalar(k) -> bool:
    return k is not None and k[0] == "s"


def is_array(k) -> bool:
    return k is not None and k[0] == "a"


def is_tuple(k) -> bool:
    return k is not None and k[0] == "t"


def is_exp_table(k) -> bool:
    """A log-domain table of exponentials (a tuple of length 2 or 3: transforms/logdomain.py)."""
    return k is not None and k[0] == "t" and len(k) > 2 and k[2] == "exp"


def is_stack(k) -> bool:
    return k is not None and k[0] == "l"


def is_none(k) -> bool:
    """An argument passed None (only the arguments' kinds hold it: kinds.infer reads it as unknown)."""
    return k is not None and k[0] == "none"


def is_dtype_value(k) -> bool:
    return k is not None and k[0] == "dtype"


def ndim(k):
    """0 for a scalar, the rank of an array (None if unknown), None for other and unknown kinds."""
    if k is None:
        return None
    return 0 if k[0] == "s" else (k[1] if k[0] == "a" else None)


def dtype(k):
    """The dtype of a scalar or array, or the one a dtype value names ("f", "i", "b" or None)."""
    return k[-1] if k is not None and k[0] in ("s", "a", "dtype") else None


def truncates(array_kind, value_kind) -> bool:
    """Whether writing a value of `value_kind` into an array of `array_kind` casts it to the array's ints or
    booleans (`buf[0] = a * 10.0` of `buf = np.zeros(3, dtype=int)`: NumPy stores int(a * 10.0)): a write with
    derivative zero. False where either kind is not known."""
    return (array_kind is not None and array_kind[0] == "a" and dtype(array_kind) in ("i", "b")
            and value_kind is not None and dtype(value_kind) == "f")


def length(k):
    """A tuple's length (None if unknown or not a tuple)."""
    return k[1] if k is not None and k[0] == "t" and len(k) > 1 else None


def elements(k):
    """The kinds of a tuple's elements, where it was written as a tuple (else None)."""
    return k[2] if k is not None and k[0] == "t" and len(k) > 2 and isinstance(k[2], tuple) else None


def element(k):
    """The kind of what a stack holds (None if unknown or not a stack)."""
    return k[1] if k is not None and k[0] == "l" else None


def with_dtype(k, dt):
    """The same scalar or array, of dtype `dt` (None for other kinds)."""
    return Kind.scalar(dt) if is_scalar(k) else Kind.array(k[1], dt) if is_array(k) else None


def as_float(k):
    """The same scalar or array, of floats (None for other kinds)."""
    return with_dtype(k, "f")


def is_float_array(k, nd=None) -> bool:
    """k is an array of floats of rank `nd` (any rank: nd None; a known rank of at least 1: nd "known")."""
    if not (k is not None and k[0] == "a" and k[2] == "f"):
        return False
    return nd is None or k[1] == nd or (nd == "known" and k[1] is not None and k[1] >= 1)


class Kind(tuple):
    """The kind of a value: a small immutable value with named constructors and fields.

        Kind.scalar(dtype)     a scalar                                 .is_scalar, .dtype; .ndim 0
        Kind.array(nd, dtype)  an array (nd None: its rank is unknown)  .is_array, .ndim, .dtype
        Kind.tuple_of(n, ks)   a tuple (of length n: np.zeros((2, 3)) has rank 2; of elements of kinds
                               ks, where written as a tuple)            .is_tuple, .length, .elements
        Kind.exp_table(n)      a log-domain table of exponentials (transforms/logdomain.py), a tuple of
                               length n                                 .is_exp_table
        Kind.stack(k)          a stack of values of kind k (rt.push)    .is_stack, .element
        Kind.dtype_value(d)    a dtype passed as a value (np.int64)     .is_dtype_value, .dtype
        Kind.none()            an argument passed None (a specialisation decides its `w is None` tests:
                               inline.decide_none_arguments; the inference reads it as unknown)

    dtype is "f", "i", "b" or None (unknown). A value of unknown kind has kind None: code holding a kind
    that may be None calls the module's functions of the same names (is_scalar(k), ndim(k), ...). A Kind
    equals, hashes and prints as its tagged tuple, so cache keys (which hold repr of the argument kinds)
    are the ones written before it existed, and kinds given as tuples (module_builder.build_module's arg_kinds)
    read alike (`Kind.of` makes them Kinds)."""
    __slots__ = ()

    def __new__(cls, *fields):
        return tuple.__new__(cls, fields)

    def __getnewargs__(self):   # (pickle and copy rebuild it from its fields)
        return tuple(self)

    @classmethod
    def scalar(cls, dt):
        return cls("s", dt)

    @classmethod
    def array(cls, nd, dt):
        return cls("a", nd, dt)

    @classmethod
    def tuple_of(cls, n=None, elements=None):
        if n is None:
            return cls("t")
        return cls("t", n) if elements is None else cls("t", n, tuple(elements))

    @classmethod
    def exp_table(cls, n):
        return cls("t", n, "exp")

    @classmethod
    def stack(cls, element):
        return cls("l", element)

    @classmethod
    def dtype_value(cls, d):
        return cls("dtype", d)

    @classmethod
    def none(cls):
        return cls("none")

    @classmethod
    def of(cls, k):
        """`k` (a Kind, a tagged tuple or None) as a Kind, with its elements' kinds (None stays None)."""
        if k is None or type(k) is cls:
            return k
        if k[0] == "l":
            return cls.stack(cls.of(k[1]))
        if elements(k) is not None:
            return cls.tuple_of(k[1], [cls.of(e) for e in k[2]])
        return cls(*k)

    tag = property(lambda self: self[0])
    is_scalar = property(is_scalar)
    is_array = property(is_array)
    is_tuple = property(is_tuple)
    is_exp_table = property(is_exp_table)
    is_stack = property(is_stack)
    is_dtype_value = property(is_dtype_value)
    ndim = property(ndim)
    dtype = property(dtype)
    length = property(length)
    elements = property(elements)
    element = property(element)
    with_dtype = with_dtype
    as_float = as_float


F = Kind.scalar("f")
I = Kind.scalar("i")
B = Kind.scalar("b")


_DTYPE_KIND = {"f": "f", "i": "i", "u": "i", "b": "b"}


def kind_of_value(v):
    t = type(v)
    if t is float:
        return F
    if v is None:
        return Kind.none()
    if t is np.ndarray:
        return Kind.array(v.ndim, _DTYPE_KIND.get(v.dtype.kind))
    if isinstance(v, (bool, np.bool_)):
        return B
    if isinstance(v, (int, np.integer)):
        return I
    if isinstance(v, (float, np.floating)):
        return F
    if isinstance(v, np.ndarray):
        return Kind.array(v.ndim, _DTYPE_KIND.get(v.dtype.kind))
    if isinstance(v, tuple):
        return Kind.tuple_of()
    return None


def array_of(nd, dt):
    """An array of rank nd and dtype dt; rank 0: a scalar (of floats where dt is unknown)."""
    if nd == 0:
        return Kind.scalar(dt or "f")
    return Kind.array(nd, dt)


def broadcast(ks, dt):
    """The kind the operands' kinds broadcast to: None if one is unknown or a tuple, a scalar if all are,
    else an array of the largest rank (unknown if one's is). One pass over the tags (every operator of
    every statement asks: kinds.infer's commonest question)."""
    scalars, nd = True, 0
    for k in ks:
        if k is None or k[0] == "t":
            return None
        if k[0] != "s":
            scalars = False
            r = k[1] if k[0] == "a" else None
            nd = None if nd is None or r is None else max(nd, r)
    return Kind.scalar(dt) if scalars else Kind.array(nd, dt)


def matmul_kind(a, b):
    """The kind of a @ b (np.dot, rt.dot): a product by a scalar broadcasts; matrices and vectors lose an axis each."""
    na, nb = ndim(a), ndim(b)
    if na is None or nb is None:
        return None
    if na == 0 or nb == 0:
        return broadcast([a, b], "f")
    return array_of(na + nb - 2 if max(na, nb) <= 2 else max(na, nb), "f")


DTYPE_NAMES = {"np.int64": "i", "np.int32": "i", "np.intp": "i", "np.bool_": "b", "bool": "b",
                "np.float64": "f", "float": "f", "np.float32": "f", "np.float16": "f", "np.int16": "i",
                "np.int8": "i", "np.uint8": "i", "np.uint16": "i", "np.uint32": "i", "np.uint64": "i"}


def unify(a, b):
    """The join of two kinds a name is bound to (a loop phi, the branches of an if): None unless both agree."""
    if a == b:
        return a
    if a is None or b is None:
        return None
    if is_scalar(a) and is_scalar(b) and {dtype(a), dtype(b)} == {"i", "f"}:
        # a number bound to an int on one path and to a float on another (`c = 0` before a loop adding floats to
        # it): a float, as Python's arithmetic and Numba's typing of the name take it. Unknown, a checkpointed
        # loop's snapshots of it were a list of its first value's type, ints under Numba, which truncated the
        # floats stored in it (d/dx 1.15 for 1.65)
        return F
    if is_array(a) and is_array(b):
        return Kind.array(ndim(a) if ndim(a) == ndim(b) else None, dtype(a) if dtype(a) == dtype(b) else None)
    if (is_tuple(a) and is_tuple(b) and length(a) is not None and length(a) == length(b)
            and elements(a) is not None and elements(b) is not None):
        # two tuples of one length written as tuples (a loop's st = (a, t) where t's kind widens in a later sweep):
        # that length, each element the join of the two (forward mode lists such a tuple's parts for np.stack(st))
        return Kind.tuple_of(length(a), [unify(x, y) for x, y in zip(elements(a), elements(b))])
    return None

