"""srcdiff.dask: gradients of sums over rows of data kept in Dask arrays, run on Dask's scheduler.

    import dask.array as da, srcdiff.dask
    vg = srcdiff.dask.value_and_grad(loss, wrt=0)          # loss(w, X, y) = sum over the rows of X, y
    X = da.from_zarr(...)                                   # chunked along axis 0 (rows) only
    value, dw = vg(w, X, y)                                 # NumPy results

Every data argument that is a ``dask.array.Array`` is split into its row chunks; the other arguments
(NumPy arrays, floats, tuples of them: the parameters) go to every task. One task per chunk runs the
srcdiff gradient (jitted by default) on that chunk's rows, a tree reduction sums the results, and it
all runs on the current Dask scheduler: the active ``distributed.Client`` if there is one, otherwise
Dask's default (threads). Chunks are streamed, so the data never has to fit in memory at once.

The generated code is built once, on the client, for each distinct chunk shape; the gradient object
(its generated source and constants, not a compiled function) is sent to the cluster once per client
(as a task that returns it, kept across calls, rebuilt if the worker holding it dies) and each worker
loads it once (Numba compiles it there, or reads it from the worker's srcdiff disk cache), however
many times it receives it. Workers never run srcdiff's compiler. A worker that dies in the middle of
a call is survived: Dask reschedules its tasks (``distributed.scheduler.allowed-failures``).

``importing srcdiff`` does not import Dask: this module loads on first use of ``srcdiff.dask``.
"""
from __future__ import annotations

import functools
import inspect
import sys
import uuid
import weakref

import numpy as np

import dask
import dask.array as da
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from . import api
from .chunk_kernel import ChunkKernel
from .errors import SrcdiffError

__all__ = ["value_and_grad", "grad", "DaskGradient", "sum_over_chunks", "row_chunks", "ship"]


def value_and_grad(f, wrt=0, *, jit: bool = True, split_every: int = 8) -> "DaskGradient":
    """``(*args) -> (value, gradient)`` of ``f`` over data in Dask arrays.

    Called with the same arguments as ``f``; data arguments may be ``dask.array.Array``s chunked along
    axis 0 only (all with the same row chunks), the others are parameters sent to every task.
    ``f`` must be a **sum over rows**: the value and the gradients returned are the **sums over chunks
    of f on each chunk's rows** (``sum_c f(w, X[c], y[c])``). Terms that do not depend on the data (a
    prior, a penalty on ``w``) belong outside ``f``: add them to the result, or they are counted once
    per chunk. Returns NumPy values; runs on the current Dask scheduler. ``wrt`` names parameters
    (never a Dask array). ``split_every``: fan-in of the tree reduction.
    """
    return DaskGradient(api.value_and_grad(f, wrt, jit=jit), split_every)


def grad(f, wrt=0, *, jit: bool = True, split_every: int = 8) -> "DaskGradient":
    """Gradient of ``f`` over data in Dask arrays: the sum over chunks of the gradient of ``f`` on each
    chunk's rows. See :func:`value_and_grad`."""
    return DaskGradient(api.grad(f, wrt, jit=jit), split_every)


class DaskGradient:
    """What :func:`value_and_grad` / :func:`grad` return. ``local`` is the single-process srcdiff
    transform it runs per chunk (``srcdiff.source`` works on this object too)."""

    def __init__(self, local: api.Transformed, split_every: int = 8):
        self.local, self.split_every = local, int(split_every)
        if self.split_every < 2:
            raise SrcdiffError(f"split_every must be >= 2, got {split_every}")
        functools.update_wrapper(self, local, updated=())

    @property
    def source(self) -> str:
        return self.local.source

    def __call__(self, *args):
        t = self.local
        params = list(inspect.signature(t).parameters)
        wrt = set(t.wrt_names)
        for k, a in enumerate(args):
            name = params[k] if k < len(params) else f"#{k}"
            if isinstance(a, da.Array) and name in wrt:
                raise SrcdiffError(f"argument {name!r} is differentiated (wrt) but is a Dask array: "
                                   f"srcdiff.dask differentiates parameters; Dask arrays are data, summed over",
                                   *api.user_location(t), advice="pass the parameters as NumPy arrays or floats, "
                                                                 "and leave the data out of wrt")
        return sum_over_chunks(ChunkKernel(t), *args, names=params, where=api.user_location(t),
                               split_every=self.split_every)

    def __repr__(self):
        return f"srcdiff.dask.{self.local.mode}({getattr(self.local.f, '__name__', self.local.f)})"


# --------------------------------------------------------------------------------------------------
# The map-reduce over row chunks
# --------------------------------------------------------------------------------------------------

def _contains_dask(a) -> bool:
    if isinstance(a, da.Array):
        return True
    return isinstance(a, (tuple, list)) and any(_contains_dask(x) for x in a)


def row_chunks(args, names=None, where=(None, None)):
    """Positions of the Dask arguments and their common row chunks; a SrcdiffError for anything else."""
    data = [k for k, a in enumerate(args) if isinstance(a, da.Array)]
    label = (lambda k: repr(names[k]) if names and k < len(names) else f"#{k}")
    for k, a in enumerate(args):
        if k not in data and _contains_dask(a):
            raise SrcdiffError(f"argument {label(k)} holds a Dask array inside a tuple/list", *where,
                               advice="pass each Dask data array as its own argument of the function")
    rows = None
    first = None
    for k in data:
        a = args[k]
        if a.ndim == 0:
            raise SrcdiffError(f"argument {label(k)} is a 0-d Dask array: data arguments have rows (axis 0)",
                               *where, advice="compute it (x.compute()) and pass it as a parameter")
        if any(np.isnan(c) for c in a.chunks[0]):
            raise SrcdiffError(f"argument {label(k)} has unknown chunk sizes along axis 0", *where,
                               advice="call x.compute_chunk_sizes() (or build it with known lengths) first")
        for ax in range(1, a.ndim):
            if len(a.chunks[ax]) > 1:
                raise SrcdiffError(f"argument {label(k)} is chunked along axis {ax} (chunks {a.chunks[ax]}); "
                                   f"srcdiff.dask splits data by rows (axis 0) only", *where,
                                   advice=f"rechunk it to whole rows: x.rechunk({{{ax}: -1}})")
        if rows is None:
            rows, first = tuple(int(c) for c in a.chunks[0]), k
        elif tuple(int(c) for c in a.chunks[0]) != rows:
            other = tuple(int(c) for c in a.chunks[0])
            what = (f"{sum(rows)} and {sum(other)} rows" if sum(rows) != sum(other)
                    else f"row chunks {_short(rows)} and {_short(other)}")
            raise SrcdiffError(f"data arguments {label(first)} and {label(k)} are not aligned: {what}", *where,
                               advice="give every data array the same row chunks, e.g. "
                                      "y = y.rechunk({0: X.chunks[0]})" if sum(rows) == sum(other) else
                                      "every data array needs one entry per row (the same length along axis 0)")
    return data, rows


def _short(chunks):
    return str(chunks) if len(chunks) <= 6 else f"({', '.join(map(str, chunks[:3]))}, ..., {chunks[-1]}) " \
                                                 f"[{len(chunks)} chunks]"


def _stand_in(a, n):
    """An array with a chunk's shape and dtype that takes no memory (for building code, never run)."""
    return np.broadcast_to(np.zeros((), dtype=a.dtype), (n,) + tuple(int(s) for s in a.shape[1:]))


class _Box:
    """Opaque holder, so Dask does not look inside the parameters for task keys."""

    def __init__(self, value):
        self.value = value


_SHIPPED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _active_client():
    """The distributed.Client that dask.compute would use now, or None."""
    if "distributed" not in sys.modules:
        return None
    from distributed import Client
    sched = dask.base.get_scheduler()
    client = getattr(sched, "__self__", None)
    return client if isinstance(client, Client) else None


def _kernel(kernel):
    return kernel


def ship(kernel, client=None):
    """``kernel`` (a :class:`srcdiff.chunk_kernel.ChunkKernel`) as a task graph should reference it: on a
    distributed ``client`` (default: the active one, if any), a future of a task that returns it,
    submitted once and kept across calls while the kernel's code is unchanged (its ``version()``).
    Without a distributed client, the kernel itself.

    A task rather than scattered data: its pickled kernel stays on the scheduler, so a copy lost with a
    worker (the only one left once the active memory manager has dropped the replicas nothing waits for)
    is rebuilt, not lost. Each worker fetches it from a peer on first use; unpickling a transform it
    already holds returns that copy, so its modules load once per worker."""
    client = client if client is not None else _active_client()
    if client is None:
        return kernel
    try:
        per_client = _SHIPPED.setdefault(kernel.key(), {})
    except TypeError:
        return kernel
    version = kernel.version()
    held = per_client.get(client.id)
    if (held is not None and held[0] == version and held[1].client is client
            and held[1].status not in ("error", "cancelled")):
        return held[1]
    future = client.submit(_kernel, kernel, key=f"srcdiff-kernel-{uuid.uuid4().hex}", pure=False)
    per_client[client.id] = (version, future)
    return future


def _run_chunk(kernel, layout, params, *chunks):
    values = iter(params.value)
    data = iter(chunks)
    args = [np.ascontiguousarray(next(data)) if c == "d" else next(values) for c in layout]
    return kernel(*args)


def _add(a, b):
    if isinstance(a, (tuple, list)):
        items = [_add(x, y) for x, y in zip(a, b)]
        return type(a)(*items) if hasattr(type(a), "_fields") else type(a)(items)     # (a namedtuple's: by field)
    return a + b


def _sum_parts(parts):
    return functools.reduce(_add, parts)


def sum_over_chunks(kernel, *args, names=None, where=(None, None), split_every: int = 8):
    """``sum over row chunks c of kernel(*args restricted to the rows of c)`` on the current Dask scheduler.

    ``kernel`` is a :class:`srcdiff.chunk_kernel.ChunkKernel` (or has its protocol): callable on NumPy
    arguments, returning floats, arrays or tuples of them; ``prepare`` is called here, on the client,
    once per distinct chunk length. The Dask arguments must share their row chunks and be chunked along
    axis 0 only; chunks of zero rows are skipped.
    """
    data, rows = row_chunks(args, names, where)
    if not data:
        kernel.prepare(*args)
        return kernel(*args)
    blocks = [i for i, n in enumerate(rows) if n > 0] or [0]
    for n in sorted({rows[i] for i in blocks}):
        kernel.prepare(*[_stand_in(a, n) if k in data else a for k, a in enumerate(args)])
    layout = "".join("d" if k in data else "p" for k in range(len(args)))
    params = _Box(tuple(a for k, a in enumerate(args) if k not in data))
    token = uuid.uuid4().hex
    chunk_name, sum_name, params_key = f"srcdiff-chunk-{token}", f"srcdiff-sum-{token}", f"srcdiff-params-{token}"
    shipped = ship(kernel)
    layer = {params_key: params}
    level = []
    for i in blocks:
        refs = [(args[k].name, i) + (0,) * (args[k].ndim - 1) for k in data]
        layer[(chunk_name, i)] = (_run_chunk, shipped, layout, params_key, *refs)
        level.append((chunk_name, i))
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level), split_every):
            key = (sum_name, depth, j // split_every)
            layer[key] = (_sum_parts, level[j:j + split_every])
            nxt.append(key)
        level = nxt
    graph = HighLevelGraph.from_collections(sum_name, layer, dependencies=[args[k] for k in data])
    (out,) = dask.compute(Delayed(level[0], graph, layer=sum_name))
    return out
