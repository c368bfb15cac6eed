"""Runtime helpers compiled once per installation, not once per process.

Numba compiles an `@overload`'s implementation inside every process that calls it, and the NumPy and
error-message machinery those implementations use is compiled again with them: a new gradient spent
most of its first call recompiling srcdiff's own kernels. `cached_overload` registers an overload whose
implementations Numba keeps in its disk cache, like a `cache=True` function, so a process loads them
instead (the first compilation for each signature still happens once).

They are cached in a private directory of their own (cachedir.runtime_cache_dir:
`~/.cache/srcdiff/runtime/<digest>` or `$SRCDIFF_RUNTIME_CACHE_DIR/<digest>`, mode 700 and checked like
the cache directory; never NUMBA_CACHE_DIR or the installation's `__pycache__`), shared by every
SRCDIFF_CACHE_DIR, in a folder named by a hash of every runtime source file: an implementation calls
helpers of other files, whose edits Numba's own freshness check (the implementation's file only) would
not see.
"""
import hashlib
import os

import numpy as np
from numba.extending import overload

from . import _numba_errors

_numba_errors.install()     # (Numba's caught error messages, built without colorama's stream wrapping)

RUNTIME = os.path.dirname(os.path.abspath(__file__))

try:   # Numba's cache locators (numba.core.caching): where a cache=True function's files go
    from numba.core import caching as _caching
    _CacheImpl = getattr(_caching, "CacheImpl", None) or getattr(_caching, "_CacheImpl")
    from . import _linking
    _CacheLocator, _SourceFileBackedLocatorMixin = _caching._CacheLocator, _caching._SourceFileBackedLocatorMixin
    if not isinstance(_CacheImpl._locator_classes, list):
        raise AttributeError("_locator_classes")
except (ImportError, AttributeError):  # another Numba layout: the helpers are compiled per process, as before
    _CacheImpl = None


def _numba_array_files() -> tuple:
    """The folders of Numba's NumPy and builtin implementations (numba/np, numba/cpython, numba/core, ...)
    whose `@overload` implementations generated code calls (np.empty, np.sum, array expressions' helpers):
    Numba compiles them in every process; srcdiff caches them like its own runtime (see _cached_jitter)."""
    import numba
    base = os.path.dirname(os.path.abspath(numba.__file__))
    return tuple(os.path.join(base, d) for d in ("np", "cpython", "core", "misc", "typed"))


_NUMBA_DIRS: tuple = ()
_KERNEL_DIRS: set = set()   # folders of generated kernels (expressions.py) cached like the runtime's own


def _cached_here(py_file: str) -> bool:
    """Whether a function of file `py_file` is cached in srcdiff's runtime folder: srcdiff's runtime, the
    kernels it writes (cache_kernels_in), and the implementations of Numba's own overloads that srcdiff
    asked to cache (_cached_jitter)."""
    folder = os.path.dirname(os.path.abspath(py_file))
    return folder == RUNTIME or folder in _KERNEL_DIRS or any(folder == d or folder.startswith(d + os.sep)
                                                               for d in _NUMBA_DIRS)


def cache_kernels_in(folder: str) -> None:
    """Functions of files in `folder` (kernels srcdiff writes itself: expressions.py) are cached in the
    runtime cache directory, and generated code calls them by symbol, as it calls the runtime's kernels."""
    _KERNEL_DIRS.add(os.path.abspath(folder))


if _CacheImpl is not None:
    class RuntimeCacheLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
        """Functions defined in srcdiff/runtime/*.py (and Numba's overload implementations srcdiff caches):
        cached in srcdiff's private cache directory."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = _cache_path()

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _cached_here(py_file) or _cache_path() is None:
                return None
            return super().from_function(py_func, py_file)

    if RuntimeCacheLocator not in _CacheImpl._locator_classes:
        _CacheImpl._locator_classes.insert(0, RuntimeCacheLocator)

    _numba_index_key = _caching.Cache._index_key

    def _index_key(self, sig, codegen):
        """Numba keys a cached closure by a pickle of its cells, and a pickled dispatcher or local function
        differs from process to process: the runtime's implementations, which close over kernels and
        types, were compiled again in every process. For those, the cells are described by name (their
        code is in the folder's runtime hash) and value instead."""
        py_func = self._py_func
        if py_func.__closure__ is None or not _cached_here(py_func.__code__.co_filename):
            return _numba_index_key(self, sig, codegen)
        cells = _stable(tuple(c.cell_contents for c in py_func.__closure__))
        digest = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
        return sig, codegen.magic_tuple(), (digest(py_func.__code__.co_code), digest(cells.encode()))

    _caching.Cache._index_key = _index_key

    _numba_save_overload = _caching.Cache.save_overload

    def _save_overload(self, sig, data):
        """Numba's save, except that a Numba implementation srcdiff chose to cache (_cacheable) whose compiled
        code holds a value that cannot be pickled (a generator in np.linalg's eigh) stays uncached: it is
        compiled in each process, as without srcdiff, instead of failing the compilation."""
        try:
            _numba_save_overload(self, sig, data)
        except Exception:
            code = getattr(self._py_func, "__code__", None)
            if code is None or not _cacheable(self._py_func):
                raise
            return
        if isinstance(self._impl.locator, RuntimeCacheLocator):
            _linking.mark(data.library, sig)

    _caching.Cache.save_overload = _save_overload

    _numba_load_overload = _caching.Cache.load_overload

    def _load_overload(self, sig, target_context):
        """Numba's load; the runtime's implementations it loads are kernels generated code calls by symbol
        (_linking.py)."""
        cres = _numba_load_overload(self, sig, target_context)
        if cres is not None and isinstance(self._impl.locator, RuntimeCacheLocator):
            _linking.mark(cres.library, sig)
        return cres

    _caching.Cache.load_overload = _load_overload

    try:
        from numba.core.typing.templates import _OverloadFunctionTemplate as _Template
        _numba_jit_decorator = _Template._get_jit_decorator
    except (ImportError, AttributeError):
        _Template = None

    if _Template is not None:
        _NUMBA_DIRS = _numba_array_files()

        def _get_jit_decorator(self):
            """Numba's overloads (np.empty, np.sum, ...) make a dispatcher of their implementation in every
            process, and compiling those took a third of a new gradient's first call: the implementations of
            Numba's own overloads are cached like srcdiff's runtime, where their closure is described the same
            in every process (_stable: no pickled values) and nothing asked for them to be inlined."""
            jitter = _numba_jit_decorator(self)
            if not self._inline.is_never_inline:
                return jitter

            def cached_jitter(**options):
                decorate = jitter(**options)
                if "cache" in options:
                    return decorate

                def build(pyfunc):
                    if _cacheable(pyfunc):
                        return jitter(**dict(options, cache=True))(pyfunc)
                    return decorate(pyfunc)
                return build
            return cached_jitter

        _Template._get_jit_decorator = _get_jit_decorator


def _cacheable(pyfunc) -> bool:
    """A Numba overload implementation srcdiff caches: in one of Numba's implementation folders, its closure
    described without pickling or addresses (the same in every process, and only for the same values)."""
    code = getattr(pyfunc, "__code__", None)
    if code is None or not _NUMBA_DIRS or not _cached_here(code.co_filename) \
            or os.path.dirname(os.path.abspath(code.co_filename)) == RUNTIME:
        return False
    try:
        cells = _stable(tuple(c.cell_contents for c in pyfunc.__closure__ or ()))
    except Exception:      # an empty cell, a value that cannot be described
        return False
    return "pickle:" not in cells and " at 0x" not in cells   # (a type naming an object by its address)


def _stable(obj) -> str:
    """A description of a closure cell's value that is the same in every process."""
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return repr(obj)
    if isinstance(obj, (tuple, list)):
        return f"{type(obj).__name__}(" + ",".join(_stable(o) for o in obj) + ")"
    if isinstance(obj, dict):
        return "dict(" + ",".join(f"{_stable(k)}:{_stable(obj[k])}" for k in sorted(obj, key=repr)) + ")"
    from numba.core import types
    if isinstance(obj, types.Type):
        return f"numba:{obj}"
    if isinstance(obj, type):
        return f"class:{obj.__module__}.{obj.__qualname__}"
    if isinstance(obj, (np.dtype, np.generic)):
        return f"numpy:{obj!r}"
    fn = getattr(obj, "py_func", obj)
    code = getattr(fn, "__code__", None)
    if code is not None:     # a function or dispatcher: by name, and a local one by its code and cells
        name = f"function:{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}"
        if "<locals>" not in name:
            return name
        cells = tuple(c.cell_contents for c in fn.__closure__ or ())
        return f"{name}:{hashlib.sha256(code.co_code).hexdigest()}:{_stable(cells)}"
    if callable(obj) and hasattr(obj, "__qualname__"):
        return f"callable:{getattr(obj, '__module__', '')}.{obj.__qualname__}"
    from numba.core.serialize import dumps
    return "pickle:" + hashlib.sha256(dumps(obj)).hexdigest()


_FALLBACK = []


def _cache_path():
    """The runtime cache directory; a private folder of this process's own when it is not usable; None
    in a copy of the runtime that srcdiff.export wrote beside a standalone module (no srcdiff to ask):
    Numba's own locators put its files in the copy's __pycache__."""
    try:
        from ..cachedir import runtime_cache_dir
        from ..errors import SrcdiffError
    except ImportError:
        return None
    try:
        return runtime_cache_dir()
    except (SrcdiffError, OSError):
        return _private_fallback()


def _private_fallback() -> str:
    if not _FALLBACK:
        import tempfile
        _FALLBACK.append(tempfile.mkdtemp(prefix="srcdiff-runtime-"))   # mode 0700
    return _FALLBACK[0]


def cached_overload(func, **kwargs):
    """numba.extending.overload whose implementations are cached on disk (see the module docstring).
    For array kernels: a cached implementation is called, never inlined into its caller."""
    if _CacheImpl is None or kwargs.get("inline", "never") != "never":
        return overload(func, **kwargs)
    return overload(func, jit_options={"cache": True}, **kwargs)


def runtime_folder() -> str:
    """The runtime cache directory (a private folder of this process's own where there is none)."""
    return _cache_path() or _private_fallback()


def cached_jit_function(fn):
    """`numba.njit` of a function srcdiff wrote (expressions.py), with generated code's options, cached in
    the runtime cache directory where its file's folder was given to cache_kernels_in."""
    import numba
    return numba.njit(cache=_CacheImpl is not None, nogil=True, error_model="numpy")(fn)


def cached_jit(fn):
    """A kernel that inlined overloads call (`numba.njit(cache=True)`, cached like cached_overload's
    implementations): the overload stays a free inline no-op in the common case, and the kernel is compiled
    once per installation."""
    import numba
    return numba.njit(cache=_CacheImpl is not None)(fn)
