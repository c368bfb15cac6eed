"""A srcdiff transform packaged to run on the rows of one data chunk, possibly in another process.

Whatever maps generated code over chunks (``srcdiff.dask.sum_over_chunks``: gradients over Dask arrays,
the full-data ELBO of ``srcdiff.vi.fit``, the E-steps of ``srcdiff.vi.hmm.fit_em(client=...)``) takes an
object with this protocol, and :class:`ChunkKernel` is the one implementation (``srcdiff.vi.fit`` derives
its ELBO chunk from it):

* ``prepare(*args)``: generate the code for arguments shaped like these (stand-ins with the real shapes
  and dtypes will do), on the client, before anything is sent;
* ``version()``: changes whenever ``prepare`` generated more code, so that a copy already sent to a
  cluster is known to be stale and sent again;
* ``key()``: a weak-referenceable object naming the kernel across calls (its transform), under which the
  copy sent to a cluster is kept;
* ``kernel(*args)``: run on one chunk's NumPy arguments.

A kernel pickles as its transform does: each specialisation travels as its generated source and bound
constants, loaded (and compiled by Numba, or read from the disk cache) where it is unpickled, never
regenerated. A transform of a function srcdiff itself generated at run time (the ELBO of ``srcdiff.vi``)
cannot be imported by name on the other side, so it is pickled by value (with cloudpickle, imported then).

This module imports neither Dask nor cloudpickle when loaded: ``srcdiff.vi`` uses it without Dask installed.
"""
from __future__ import annotations

import pickle
import sys

from . import compiler

__all__ = ["ChunkKernel"]


class ChunkKernel:
    """Runs the srcdiff transform ``t`` (a ``srcdiff.grad`` / ``value_and_grad`` object) on one chunk."""

    def __init__(self, t):
        self.t = t

    def key(self):
        return self.t

    def version(self) -> int:
        return self.t.specializations

    def prepare(self, *args):
        self.t.prepare(*args)

    def __call__(self, *args):
        return self.t(*args)

    def __reduce_ex__(self, protocol):
        if not compiler.is_generated(self.t.f):
            return super().__reduce_ex__(protocol)
        import cloudpickle
        module = sys.modules.get(self.t.f.__module__)
        if module is not None:       # (a copy unpickled on a worker has no module there: by value anyway)
            cloudpickle.register_pickle_by_value(module)
        # the payload is cloudpickle's, whatever pickler sends the kernel (Dask tries plain pickle first,
        # which would name the generated module and fail where it is unpickled)
        return _from_payload, (cloudpickle.dumps((type(self), self.__dict__), protocol=protocol),)


def _from_payload(payload: bytes):
    """The kernel a ChunkKernel.__reduce_ex__ payload holds."""
    cls, state = pickle.loads(payload)
    kernel = cls.__new__(cls)
    kernel.__dict__.update(state)
    return kernel
