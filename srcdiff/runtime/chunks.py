"""Row chunks: a row-blocked loop (optimize/rowblocks.py) run on all of Numba's threads (`jit="parallel"`).

A jitted gradient that reads a large `x` once per call (the logistic loss, N=20 000, D=100: 16 MB) is bound
by one core's stream of `x` from memory and its math; JAX's XLA runtime runs its products on a second core
when one is free. Where the loop over the rows is large enough to pay for waking threads (`row_chunks`:
rows * columns >= PARALLEL_MIN), it runs as `for c in rt.prange(chunks)`, one chunk of consecutive blocks
per thread, each chunk adding its sums and adjoint products into a row of its own (`chunk_zeros`); the
chunks' partial results are added in chunk order after the loop (`rt.sum_first`, `add_chunks`), so a result
depends on the number of threads only, never on which thread ran which chunk or when. Below the threshold,
or with one thread (`numba.set_num_threads(1)`, NUMBA_NUM_THREADS=1: a Dask worker's setting), `chunks` is
1 and the loop runs on the calling thread alone: Numba runs a parallel loop of one thread without waking
the others (1 us a call, measured; the HMM and RNN benchmarks have no row-blocked loop at all).

How many threads run the chunks (not how many chunks there are, so not the result) depends on the machine's
load: a parallel loop waits at its end for every thread it started, and on a machine whose cores are all
taken a thread waits for its turn on one. Timed in turns with 1 and 2 threads at load 8-13 on 2 cores (the
logistic loss, N=20 000, D=100): 1.0-1.3 ms on one thread, 8-34 ms median on two (best 0.3 ms; Numba's
OpenMP threads spin after each loop, 8 ms of CPU per call); so where the 1-minute load average exceeds the
number of threads by more than one (the process's own threads count in it), the chunks run one after the
other on the calling thread (`threads_for`).

Numba's own `numba.get_num_threads()` cannot be called from a cached function (it reads a ctypes pointer);
`_threads` calls the threading layer's `get_num_threads` symbol, as Numba's parallel loops do (`_set_threads`:
`set_num_threads`; `_load_average`: libc's `getloadavg`).

Numba's workqueue threading layer (the one left where neither TBB nor an OpenMP runtime loads) is not
threadsafe: two Python threads in parallel loops at once end the process ("Concurrent access has been
detected"; measured: a jit="parallel" gradient called from four threads aborted at once). Under it the calls of
jit="parallel" functions take turns (`turns`, used by api.Transformed around each call); under OpenMP and
TBB they run at the same time, as before.
"""
import os
import threading

import numba
import numba.np.ufunc.parallel
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

prange = numba.prange   # generated code writes rt.prange (Numba reads it as numba.prange)


def _one_thread_after_fork():
    """A forked child of a process that started Numba's threads runs its chunks on one thread: GNU OpenMP
    aborts a forked child that starts a parallel loop (optimize/rowchunks.py)."""
    if getattr(numba.np.ufunc.parallel, "_is_initialized", False):
        numba.set_num_threads(1)


os.register_at_fork(after_in_child=_one_thread_after_fork)

class _NoTurns:
    """A context manager that does nothing: calls of a threadsafe layer's parallel loops need no turns."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_TURNS = threading.Lock()      # one for every parallel function: the workqueue is the process's
_LAYER: list = []


def turns():
    """What a call of a jit="parallel" function runs under: a lock taken in turns where Numba's threading
    layer is not threadsafe (workqueue; the module docstring), else nothing. The layer is known once Numba's
    threads have started (numba.get_num_threads starts them) and does not change in the process."""
    if not _LAYER:
        numba.get_num_threads()
        _LAYER.append(numba.threading_layer())
    return _TURNS if _LAYER[0] == "workqueue" else _NO_TURNS


_NO_TURNS = _NoTurns()

# rows * columns from which a row-blocked loop runs on all threads (benchmarks/README.md). SRCDIFF_PARALLEL_MIN
# (an environment variable, read once, at import: Numba compiles the value into the generated code, and the disk
# cache's key holds it, backends.module_key) lowers it for tests: the fuzzer's --parallel mode (tests/fuzz_runner.py)
# sets it to 1, with SRCDIFF_BLOCK_ROWS=1 (runtime/products.py), so its programs' loops over a handful of rows run
# in several chunks on threads.
PARALLEL_MIN = int(os.environ.get("SRCDIFF_PARALLEL_MIN", 1 << 18))
# how far the 1-minute load average may exceed the number of threads before the chunks run on the calling thread
# alone (threads_for); SRCDIFF_PARALLEL_LOAD (read at import, in the disk cache's key too): "inf" keeps the threads
# on a loaded machine (the fuzzer's --parallel mode, whose programs must run on two threads)
LOAD_SLACK = float(os.environ.get("SRCDIFF_PARALLEL_LOAD", 1.0))
_FAST = {"reassoc", "contract", "nsz"}


def start_threading_layer():
    """Start Numba's threading layer, which registers the symbols `_threads` and `_set_threads` call
    (get_num_threads, set_num_threads), before code calling them is loaded: the intrinsics start it where they
    are compiled, but code Numba loads from its disk cache is not compiled, and calls the unresolved symbol
    (a segmentation fault: jit="parallel" code whose chunks' loop the bounds pass left on one thread, in a
    second process, fuzz seed 1023005; a prange loop starts the layer itself). backends.instantiate calls this
    for a jitted module with an rt.threads_for."""
    numba.get_num_threads()


@intrinsic
def _threads(typingctx):
    numba.get_num_threads()   # (starts the threading layer, which registers the symbol)

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(cgutils.intp_t, []), "get_num_threads")
        return builder.call(fn, [])
    return types.intp(), codegen


@intrinsic
def _set_threads(typingctx, n):
    numba.get_num_threads()

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "set_num_threads")
        builder.call(fn, [builder.trunc(args[0], ir.IntType(32))])
        return context.get_dummy_value()
    return types.none(types.intp), codegen


@intrinsic
def _load_average(typingctx):
    """The 1-minute load average (libc's getloadavg; 0.0 where it fails)."""
    def codegen(context, builder, signature, args):
        dbl = ir.DoubleType()
        fnty = ir.FunctionType(ir.IntType(32), [dbl.as_pointer(), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "getloadavg")
        slot = cgutils.alloca_once_value(builder, dbl(0.0))
        got = builder.call(fn, [slot, ir.IntType(32)(1)])
        ok = builder.icmp_signed(">", got, ir.IntType(32)(0))
        return builder.select(ok, builder.load(slot), dbl(0.0))
    return types.float64(), codegen


def threads_for(chunks):
    """The calling thread's number of Numba threads, lowered to `chunks` while its chunks' loop runs (Numba
    starts a parallel loop on every thread of the number, even those without an iteration: a loop of one
    chunk must wake none), and to 1 where the load average says the cores are taken (the module docstring);
    threads_back(the number returned) restores it."""
    return numba.get_num_threads()


@overload(threads_for)
def _threads_for_nb(chunks):
    slack = LOAD_SLACK

    def impl(chunks):
        before = _threads()
        team = chunks
        if chunks > 1 and _load_average() > before + slack:   # cores taken: one thread (the module docstring)
            team = 1
        if team < before:
            _set_threads(max(team, 1))
        return before
    return impl


def threads_back(before):
    """Restore the number of Numba threads threads_for lowered."""


@overload(threads_back)
def _threads_back_nb(before):
    def impl(before):
        if _threads() != before:
            _set_threads(before)
    return impl


def row_chunks(x, block):
    """How many chunks of consecutive blocks of `block` rows the loop over the rows of `x` runs as: 1 under
    PARALLEL_MIN elements or with one thread, else one per thread (at most one per block)."""
    n = x.shape[0]
    if n * (x.shape[1] if x.ndim > 1 else 1) < PARALLEL_MIN:
        return 1
    return max(1, min(numba.get_num_threads(), (n + block - 1) // block))


@overload(row_chunks)
def _row_chunks_nb(x, block):
    def impl(x, block):
        n = x.shape[0]
        size = n
        for k in range(1, x.ndim):
            size *= x.shape[k]
        if size < PARALLEL_MIN:
            return 1
        return max(1, min(_threads(), (n + block - 1) // block))
    return impl


@njit(cache=True)
def chunk_start(x, block, chunks, c):
    """The first row of chunk `c` of `chunks` (chunk `chunks` starts at len(x)): a whole number of blocks."""
    blocks = (x.shape[0] + block - 1) // block
    return min(x.shape[0], (blocks * c // chunks) * block)


def chunk_zeros(t, chunks):
    """Zeros of `chunks` rows of t's shape and dtype: a chunk's share of an adjoint product, one row each."""
    return np.zeros((chunks,) + np.shape(t), np.asarray(t).dtype)


@overload(chunk_zeros)
def _chunk_zeros_nb(t, chunks):
    dtype = t.dtype

    def impl(t, chunks):
        return np.zeros((chunks, t.shape[0]), dtype)
    return impl


@njit(fastmath=_FAST, cache=True)
def add_chunks(out, parts, chunks):
    """out += parts[0] + ... + parts[chunks - 1] (in place), in chunk order."""
    for c in range(chunks):
        for j in range(out.shape[0]):
            out[j] += parts[c, j]
