"""Run generated modules: as plain Python (a real file, so tracebacks and pdb show the generated
lines) or compiled with numba.njit in nopython mode, cached on disk across processes."""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile

import numpy as np

from . import __version__

_LOADED: dict = {}


def cache_dir() -> str:
    d = os.environ.get("SRCDIFF_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "srcdiff")
    os.makedirs(d, exist_ok=True)
    return d


def _put(h, tag: str, payload: bytes) -> None:
    """One self-delimiting record: type tag, payload length, payload (a canonical encoding, so that
    (12, 3) and (1, 23), or "ab" + "c" and "a" + "bc", can never feed the hash the same bytes)."""
    h.update(f"{tag}:{len(payload)}:".encode())
    h.update(payload)


def _digest_code(h, code, seen) -> None:
    """A code object by everything that decides what it computes: bytecode, constants (recursively
    into nested code objects: lambdas, comprehensions, inner defs), and the names it reads."""
    _put(h, "code", code.co_code)
    _put(h, "names", repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)).encode())
    _put(h, "consts", str(len(code.co_consts)).encode())
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            _digest_code(h, c, seen)
        else:
            _digest_value(h, c, seen)


def _digest_function(h, fn, seen) -> None:
    _put(h, "fn", f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}".encode())
    code = fn.__code__
    _digest_code(h, code, seen)
    _put(h, "defaults", b"")
    _digest_value(h, fn.__defaults__, seen)
    # the values it reads from its globals and closure: Numba compiles them in as constants
    glob = getattr(fn, "__globals__", {}) or {}
    for name in sorted(set(_all_names(code))):
        if name in glob:
            _put(h, "global", name.encode())
            _digest_value(h, glob[name], seen)
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        _put(h, "cell", name.encode())
        try:
            _digest_value(h, cell.cell_contents, seen)
        except ValueError:
            _put(h, "empty", b"")


def _all_names(code):
    yield from code.co_names
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from _all_names(c)


def _digest_value(h, obj, seen=None) -> None:
    """Feed `obj` to hash `h` with its type and length (see _put)."""
    seen = set() if seen is None else seen
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.generic)):
        _put(h, type(obj).__qualname__, obj if isinstance(obj, bytes) else repr(obj).encode())
        if isinstance(obj, np.generic):
            _put(h, "dtype", obj.dtype.str.encode())
        return
    if type(obj).__name__ == "module":
        _put(h, "module", obj.__name__.encode())
        return
    if id(obj) in seen:                   # a cycle (a recursive function, a list holding itself)
        _put(h, "seen", type(obj).__qualname__.encode())
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        _put(h, "ndarray", f"{obj.dtype.str} {obj.shape}".encode())
        if obj.dtype.hasobject:
            _put(h, "items", str(obj.size).encode())
            for o in obj.ravel():
                _digest_value(h, o, seen)
        else:
            _put(h, "data", np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (tuple, list, frozenset, set)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        _put(h, type(obj).__qualname__, str(len(obj)).encode())
        for o in items:
            _digest_value(h, o, seen)
    elif isinstance(obj, dict):
        _put(h, "dict", str(len(obj)).encode())
        for k in sorted(obj, key=repr):
            _digest_value(h, k, seen)
            _digest_value(h, obj[k], seen)
    elif hasattr(obj, "py_func"):         # a Numba dispatcher: what it compiles is its Python function
        _put(h, "dispatcher", b"")
        _digest_value(h, obj.py_func, seen)
    elif inspect.isfunction(obj):
        _digest_function(h, obj, seen)
    elif callable(obj):
        _put(h, "callable", f"{type(obj).__qualname__} {getattr(obj, '__module__', '')}."
                            f"{getattr(obj, '__qualname__', repr(obj))}".encode())
    else:
        _put(h, "object", f"{type(obj).__module__}.{type(obj).__qualname__} {obj!r}".encode())


_RUNTIME_DIGEST = None


def runtime_digest() -> str:
    """Hash of the runtime helpers' source: Numba's cache cannot see edits to code it inlined."""
    global _RUNTIME_DIGEST
    if _RUNTIME_DIGEST is None:
        h = hashlib.sha256()
        folder = os.path.join(os.path.dirname(__file__), "runtime")
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as fh:
                    h.update(name.encode() + fh.read())
        _RUNTIME_DIGEST = h.hexdigest()
    return _RUNTIME_DIGEST


def module_key(source: str, bindings: dict, jit: bool) -> str:
    """Cache key: generated source, the values compiled into it, the runtime helpers' source and
    the srcdiff/numba/numpy versions."""
    import numba
    h = hashlib.sha256()
    _put(h, "source", source.encode())
    _put(h, "runtime", runtime_digest().encode())
    h.update(f"{__version__} {numba.__version__} {np.__version__} {jit}".encode())
    for name in sorted(bindings):
        _put(h, "binding", name.encode())
        _digest_value(h, bindings[name])
    return h.hexdigest()[:20]


def load_module(source: str, bindings: dict, function_names: list, base: str, jit: bool):
    """Write `source` to the cache as a .py file, import it, bind constants, jit if asked."""
    key = module_key(source, bindings, jit)
    modname = f"srcdiff_generated.{base}_{key}"
    if modname in _LOADED:
        return _LOADED[modname]
    path = os.path.join(cache_dir(), f"{base}_{key}.py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)  # atomic: concurrent writers leave one complete file
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    mod.__dict__.update(bindings)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    mod.__dict__.update(bindings)
    if jit:
        import numba
        for name in function_names:
            mod.__dict__[name] = numba.njit(cache=True, nogil=True, error_model="numpy")(mod.__dict__[name])
    _LOADED[modname] = mod
    return mod
