"""Run generated modules: as plain Python (a real file, so tracebacks and pdb show the generated
lines) or compiled with numba.njit in nopython mode, cached on disk across processes."""
from __future__ import annotations

import hashlib
import importlib.util
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


def _digest_value(h, obj):
    if isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, tuple):
        for o in obj:
            _digest_value(h, o)
    elif callable(obj):
        h.update(getattr(obj, "__qualname__", repr(obj)).encode())
        code = getattr(obj, "__code__", None)
        if code is not None:
            h.update(code.co_code)
    else:
        h.update(repr(obj).encode())


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
    h.update(source.encode())
    h.update(runtime_digest().encode())
    h.update(f"{__version__} {numba.__version__} {np.__version__} {jit}".encode())
    for name in sorted(bindings):
        h.update(name.encode())
        _digest_value(h, bindings[name])
    return h.hexdigest()[:20]


_RULE_DISPATCHERS: dict = {}


def _is_user_rule_function(obj) -> bool:
    """A plain Python function registered with srcdiff.adjoint (its rule carries the user's namespace)."""
    import inspect
    from .rules import RULES, rule_name_of
    name = rule_name_of(obj) if inspect.isfunction(obj) else None
    return name is not None and bool(RULES[name].namespace)


def _jitted_rule_function(fn):
    """numba.njit of the user's rule function, made once: jitted generated code calls it as a global."""
    if fn not in _RULE_DISPATCHERS:
        import numba
        _RULE_DISPATCHERS[fn] = numba.njit(nogil=True)(fn)
    return _RULE_DISPATCHERS[fn]


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
        for name, obj in bindings.items():
            if _is_user_rule_function(obj):   # srcdiff.adjoint's function, called from the generated code
                mod.__dict__[name] = _jitted_rule_function(obj)
        for name in function_names:
            mod.__dict__[name] = numba.njit(cache=True, nogil=True, error_model="numpy")(mod.__dict__[name])
    _LOADED[modname] = mod
    return mod
