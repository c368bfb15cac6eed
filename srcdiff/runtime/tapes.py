"""Row tapes: where jitted gradients keep the float arrays a `range` loop overwrites.

A list used as a stack (`s = []`, `s.append(v)`, `v = s.pop()`) keeps every pushed array alive as
its own allocation until the backward sweep pops it. When the loop's trip count is known before it
starts, jitted code instead copies the array of iteration i into row i of one preallocated float64
tape, after its shape; the backward sweep reads row i back as a view:

    v_tape = rt.row_tape(n)              # n rows, widened on the first put
    v_tape = rt.put_row(v_tape, i, v)    # row i holds v's shape, then v's numbers
    v = rt.get_row(v_tape, i, v)         # row i as an array of the template's rank and dtype

A row is as wide as the largest array put so far (the tape is reallocated, once in the usual case
where every iteration's array has the same shape). The template of `get_row` only gives the type:
it is the variable being restored, which holds the forward sweep's last value.

Checkpointed loops (`checkpoints=k`, transforms/checkpoints.py) keep snapshots of their state at the
start of every segment of `every` iterations and tape one segment at a time:

    every = rt.checkpoint_every(n, k)    # iterations per segment: at most k segments
    rt.segments(n, every)                # how many segments n iterations make
    rt.halve(snapshots)                  # keep snapshots 0, 2, 4, ... as 0, 1, 2, ... (in place)

A snapshot of an array is a row of a row tape, one of a scalar an element of a 1-d array.
"""
import numpy as np
from numba.core import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from ._cache import cached_overload

__all__ = ["row_tape", "put_row", "get_row", "checkpoint_every", "segments", "halve"]


# ---- plain Python ----------------------------------------------------------------------------------------
def row_tape(n):
    """An empty tape of `n` rows."""
    return np.empty((n, 0))


def put_row(tape, i, v):
    """Copy `v` (shape first) into row `i`; returns the tape, reallocated if `v` does not fit. A `v` of None (in
    Python, a name not bound yet: the first item that an array of a comprehension keeps, snapshotted at a
    segment's start before the loop bound it, fuzz seed 950411) is noted as a NaN where the shape starts."""
    if v is None:
        tape = _fit(tape, 1)
        tape[i, 0] = np.nan
        return tape
    tape = _fit(tape, v.ndim + v.size)
    tape[i, :v.ndim] = v.shape
    tape[i, v.ndim:v.ndim + v.size] = np.ravel(v)
    return tape


def get_row(tape, i, like):
    """Row `i` as an array with `like`'s rank and dtype (None where put_row noted None, for a `like` of rank 1 or
    more, whose rows start with a shape)."""
    if like is None or (like.ndim and np.isnan(tape[i, 0])):
        return None
    shape = tuple(int(d) for d in tape[i, :like.ndim])
    v = tape[i, like.ndim:like.ndim + int(np.prod(shape))].reshape(shape)
    return v if v.dtype == like.dtype else v.astype(like.dtype)


@register_jitable
def _fit(tape, width):
    """`tape`, or a wider copy of it with room for `width` numbers a row (copied in loops: a slice
    assignment makes Numba compile its shape-mismatch message, seconds of string formatting code)."""
    if width <= tape.shape[1]:
        return tape
    wider = np.empty((tape.shape[0], max(width, 2 * tape.shape[1])))
    for i in range(tape.shape[0]):
        for j in range(tape.shape[1]):
            wider[i, j] = tape[i, j]
    return wider


@register_jitable
def checkpoint_every(n, k):
    """Iterations per segment when `n` iterations keep at most `k` snapshots (one per segment): ceil(n / k),
    at least 1."""
    return max(1, -(-n // k))


@register_jitable
def segments(n, every):
    """The number of segments of `every` iterations (the last may be shorter) in `n` iterations."""
    return -(-n // every)


@register_jitable
def halve(snapshots):
    """Keep the snapshots (elements or rows) 0, 2, 4, ... as 0, 1, 2, ..., in place: a `while` loop's
    segments become twice as long."""
    for j in range(1, (len(snapshots) + 1) // 2):
        snapshots[j] = snapshots[2 * j]


def stack_of(example):
    """An empty list for a stack of values like `example`. (Under Numba it is typed from `example`: Numba
    types a list by its appends, and removes code whose test it decides at compile time, which can take a
    stack's only append with it. Arrays are typed as views, layout "A", which any pushed array converts to.)"""
    return []


def read_only_stack_of(example):
    """stack_of for arrays that may be read-only under Numba (np.broadcast_to's results, module constants and
    views of them: transforms/stacks.py): its arrays are typed read-only views, which writable ones convert
    to too (a list's element type must match what is appended exactly)."""
    return []


# ---- Numba ----------------------------------------------------------------------------------------------
@intrinsic
def _read_only(typingctx, a):
    """`a`, typed read-only (the same array: mutability is a type's flag, not part of its data)."""
    if not isinstance(a, types.Array):
        return None

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])
    return a.copy(readonly=True)(a), codegen


@cached_overload(stack_of)
def _stack_of_nb(example):
    if isinstance(example, types.Array):
        return lambda example: [example[::1]][:0]
    return lambda example: [example][:0]


@cached_overload(read_only_stack_of)
def _read_only_stack_of_nb(example):
    if isinstance(example, types.Array):
        return lambda example: [_read_only(example[::1])][:0]
    return lambda example: [example][:0]


@cached_overload(row_tape)
def _row_tape_nb(n):
    return lambda n: np.empty((n, 0))


@cached_overload(put_row)
def _put_row_nb(tape, i, v):
    if not isinstance(v, types.Array):
        return None
    ndim = v.ndim

    def impl(tape, i, v):
        n = v.size
        out = _fit(tape, ndim + n)
        for d in range(ndim):
            out[i, d] = v.shape[d]
        if ndim == 1:
            for k in range(n):
                out[i, 1 + k] = v[k]
        else:
            flat = np.ascontiguousarray(v).reshape(n)
            for k in range(n):
                out[i, ndim + k] = flat[k]
        return out
    return impl


@cached_overload(get_row)
def _get_row_nb(tape, i, like):
    if not isinstance(like, types.Array):
        return None
    ndim = like.ndim

    def view(tape, i):
        if ndim == 1:
            return tape[i, 1:1 + np.intp(tape[i, 0])]
        dims = np.empty(ndim, np.intp)
        n = 1
        for d in range(ndim):
            dims[d] = np.intp(tape[i, d])
            n *= dims[d]
        return tape[i, ndim:ndim + n].reshape(to_fixed_tuple(dims, ndim))
    view = register_jitable(view)
    if like.dtype == types.float64:
        return lambda tape, i, like: view(tape, i)
    dtype = like.dtype
    return lambda tape, i, like: view(tape, i).astype(dtype)
