"""Transforms that travel: pickled (cloudpickle, to a Dask worker) and copied without generating again.

A pickled transform carries each of its specialisations as the generated module's source and bound values
(`Generated`), loaded on the other side on first use (and compiled by Numba, or read from its disk cache);
compiled functions and compiler state stay behind. A process that receives the same transform again (a
worker fetching a replica the scheduler dropped, a spilled copy read back, a retried task) gets the object it
already loaded (`restore`). `Shipped` is the part of api.Transformed that does this.
"""
from __future__ import annotations

import collections
import copy
import threading
import uuid

from . import backends
from .specialisations import Specialisation


class Shipped:
    """Pickling and copying of api.Transformed (its `_cache` of Specialisations, `_fast` entries, `_last`, and
    `_shipped`: what an unpickled object has yet to load)."""

    def __reduce__(self):
        """Unpickling goes through `restore`: a process that receives the same transform
        again (a Dask worker fetching a replica the scheduler dropped, a spilled copy read back, a task
        retried) gets the object it already loaded, not a second copy that loads its modules again."""
        return restore, (type(self), self.__getstate__())

    def __copy__(self):       # copy.copy / copy.deepcopy: a new object, as before (not the shared one)
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new

    def __getstate__(self):
        """Pickle (cloudpickle) without regenerating on the other side: each specialisation travels as its
        generated source and bound constants, loaded there (and compiled by Numba, or read from the disk
        cache) on first use; compiled functions and compiler state stay behind."""
        if "_ident" not in self.__dict__:
            self._ident = uuid.uuid4().hex       # names this transform (and its unpickled copies) anywhere
        state = dict(self.__dict__)
        shipped = dict(state.get("_shipped", {}))
        for key, entry in self._cache.items():
            mod = entry.module
            if hasattr(mod, "bindings") and entry.generated is not None:   # not a nested (forward) build
                shipped[key] = (entry.generated, mod.bindings, mod.entry)
        state.update(_cache={}, _fast={}, _last=None, _shipped=shipped)
        state.pop("_pair", None)        # jit="background": its processes and switch-over stay here
        state.pop("_twin", None)        # (jit=True grad's value_and_grad: made again where it is needed)
        self._params()
        state["_param_names"] = self._param_names
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache = dict(self.__dict__.get("_cache", {}))
        self._fast = {}

    def load_shipped(self, key):
        """Load the specialisation `key` generated before pickling (on a Dask worker, say), never generating it
        again; once per process even when several threads run this object's first tasks at the same time."""
        with _LOAD_LOCK:
            if key not in self._cache:
                made, bindings, entry = self._shipped[key]
                loaded = backends.load_module(made, bindings, entry, self.jit)
                self._cache[key] = Specialisation(None, made.source, getattr(loaded, entry), generated=made)


_LOAD_LOCK = threading.RLock()
_RESTORED: "collections.OrderedDict[str, Shipped]" = collections.OrderedDict()
_RESTORED_MAX = 32
_RESTORED_LOCK = threading.Lock()


def restore(cls, state):
    """Unpickle a transform: one object per transform per process (the most recent `_RESTORED_MAX`
    kept). A later pickle of the same transform may carry more specialisations: they are added to it."""
    ident = state.get("_ident")
    with _RESTORED_LOCK:
        held = _RESTORED.get(ident) if ident is not None else None
        if held is not None and type(held) is cls:
            _RESTORED.move_to_end(ident)
            for key, entry in state.get("_shipped", {}).items():
                held._shipped.setdefault(key, entry)
            return held
        obj = cls.__new__(cls)
        obj.__setstate__(state)
        if ident is not None:
            _RESTORED[ident] = obj
            while len(_RESTORED) > _RESTORED_MAX:
                _RESTORED.popitem(last=False)
        return obj
