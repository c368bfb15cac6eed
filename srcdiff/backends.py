"""Run generated modules: as plain Python (a real file, so tracebacks and pdb show the generated
lines) or compiled with numba.njit in nopython mode, cached on disk across processes."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import importlib.util
import inspect
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass

import numpy as np

from .cachedir import (BOUNDSCHECK, cache_dir, check_private, generated_module_name, note_shown_function,
                       private_folder, put_record, runtime_digest)
from .errors import SrcdiffError
from .generated import Generated, Lines, ModuleFacts, Parameters
from .numba_names import unambiguous
from .numpy_division import DIVIDE, derivatives_dividing_as_numpy, divide
from .version import __version__

_LOADED: dict = {}
_LINES: dict = {}   # path of a loaded generated module -> its line table (generated.Lines)


def lines_of(path: str) -> Lines | None:
    """The line table of the generated module loaded from `path` (absolute, or relative to the working directory,
    as Numba's messages write it) by the latest load_module; None: not one, or made without a table."""
    return _LINES.get(os.path.abspath(path))
_TAPES: dict = {}   # sha256 of a generated module's source -> the names of its preallocated tapes


def note_tapes(source: str, tapes) -> None:
    """Record that generated module `source` allocates the tapes `tapes` (module_builder.Module.tapes, reverse mode's
    names): code that reads the module back (forward mode over a gradient, srcdiff.cuda) asks tapes_of, and the
    cache index keeps them with the module."""
    _TAPES[hashlib.sha256(source.encode()).hexdigest()] = frozenset(tapes)


def tapes_of(source: str):
    """The tapes recorded for generated module `source` (note_tapes, or its cache index record), None if none were."""
    return _TAPES.get(hashlib.sha256(source.encode()).hexdigest())


class CacheWarning(UserWarning):
    """A cache file was damaged or did not match the code generated for it: removed and regenerated."""


def _digest_code(h, code, seen) -> None:
    """A code object by everything that decides what it computes: bytecode, constants (recursively
    into nested code objects: lambdas, comprehensions, inner defs), and the names it reads."""
    put_record(h, "code", code.co_code)
    put_record(h, "names", repr((code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)).encode())
    put_record(h, "consts", str(len(code.co_consts)).encode())
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            _digest_code(h, c, seen)
        else:
            _digest_value(h, c, seen)


def _digest_function(h, fn, seen) -> None:
    put_record(h, "fn", f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}".encode())
    code = fn.__code__
    _digest_code(h, code, seen)
    put_record(h, "defaults", b"")
    _digest_value(h, fn.__defaults__, seen)
    # the values it reads from its globals and closure: Numba compiles them in as constants
    glob = getattr(fn, "__globals__", {}) or {}
    for name in sorted(set(_all_names(code))):
        if name in glob:
            put_record(h, "global", name.encode())
            _digest_value(h, glob[name], seen)
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        put_record(h, "cell", name.encode())
        try:
            _digest_value(h, cell.cell_contents, seen)
        except ValueError:
            put_record(h, "empty", b"")


def _all_names(code):
    yield from code.co_names
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from _all_names(c)


def _digest_value(h, obj, seen=None) -> None:
    """Feed `obj` to hash `h` with its type and length (see put_record)."""
    seen = set() if seen is None else seen
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.generic)):
        put_record(h, type(obj).__qualname__, obj if isinstance(obj, bytes) else repr(obj).encode())
        if isinstance(obj, np.generic):
            put_record(h, "dtype", obj.dtype.str.encode())
        return
    if type(obj).__name__ == "module":
        put_record(h, "module", obj.__name__.encode())
        return
    if id(obj) in seen:                   # a cycle (a recursive function, a list holding itself)
        put_record(h, "seen", type(obj).__qualname__.encode())
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        put_record(h, "ndarray", f"{obj.dtype.str} {obj.shape}".encode())
        if obj.dtype.hasobject:
            put_record(h, "items", str(obj.size).encode())
            for o in obj.ravel():
                _digest_value(h, o, seen)
        else:
            put_record(h, "data", np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, (tuple, list, frozenset, set)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        put_record(h, type(obj).__qualname__, str(len(obj)).encode())
        for o in items:
            _digest_value(h, o, seen)
    elif isinstance(obj, dict):
        put_record(h, "dict", str(len(obj)).encode())
        for k in sorted(obj, key=repr):
            _digest_value(h, k, seen)
            _digest_value(h, obj[k], seen)
    elif hasattr(obj, "py_func"):         # a Numba dispatcher: what it compiles is its Python function
        put_record(h, "dispatcher", b"")
        _digest_value(h, obj.py_func, seen)
    elif inspect.isfunction(obj):
        _digest_function(h, obj, seen)
    elif callable(obj):
        put_record(h, "callable", f"{type(obj).__qualname__} {getattr(obj, '__module__', '')}."
                            f"{getattr(obj, '__qualname__', repr(obj))}".encode())
    else:
        put_record(h, "object", f"{type(obj).__module__}.{type(obj).__qualname__} {obj!r}".encode())


def module_key(source: str, bindings: dict, jit: bool) -> str:
    """Cache key: generated source, the values compiled into it, the runtime helpers' source, the
    srcdiff/numba/numpy versions and (jitted) the row chunks' knobs (SRCDIFF_PARALLEL_MIN,
    SRCDIFF_BLOCK_ROWS, SRCDIFF_PARALLEL_LOAD)."""
    import numba
    h = hashlib.sha256()
    put_record(h, "source", source.encode())
    put_record(h, "runtime", runtime_digest().encode())
    h.update(f"{__version__} {numba.__version__} {np.__version__} {jit} {BOUNDSCHECK}".encode())
    if jit:     # (the row chunks' knobs, compiled into jitted code: runtime/chunks.py)
        from .runtime import chunks, products
        h.update(f" {chunks.PARALLEL_MIN} {products.BLOCK_ROWS} {chunks.LOAD_SLACK}".encode())
    for name in sorted(bindings):
        put_record(h, "binding", name.encode())
        _digest_value(h, bindings[name])
    return h.hexdigest()[:20]


_RULE_DISPATCHERS: dict = {}


def is_user_rule_function(obj) -> bool:
    """A plain Python function registered with srcdiff.adjoint (its rule carries the user's namespace)."""
    import inspect
    from .rules import RULES, rule_name_of
    name = rule_name_of(obj) if inspect.isfunction(obj) else None
    return name is not None and bool(RULES[name].namespace)


def _jitted_rule_function(fn):
    """numba.njit of the user's rule function, made once: jitted generated code calls it as a global."""
    if fn not in _RULE_DISPATCHERS:
        import numba
        _RULE_DISPATCHERS[fn] = numba.njit(nogil=True)(unambiguous(fn))
    return _RULE_DISPATCHERS[fn]


def write_source(path: str, source: str) -> None:
    """Make the file at `path` (in the private cache directory) hold exactly `source`.

    A file already there is read and compared with the code just generated: one that differs (truncated
    by a crash or a full disk, or rewritten) is replaced with a CacheWarning, and Numba's compiled code
    for it is removed. The file is written 0600, atomically (concurrent writers leave one complete file)."""
    data = source.encode()
    try:
        with open(path, "rb") as fh:
            old = fh.read()
    except FileNotFoundError:
        old = None
    except OSError:
        old = b""
    if old == data:
        return
    if old is not None:
        warnings.warn(f"srcdiff: the cached file {path} did not match the code generated for it (damaged or "
                      "modified); it was removed and regenerated", CacheWarning, stacklevel=3)
        remove_compiled(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")   # mode 0600
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _compiled_files(path: str) -> list:
    """Numba's index and data files for the generated module at `path`."""
    folder = os.path.join(os.path.dirname(path), "__pycache__")
    stem = os.path.splitext(os.path.basename(path))[0] + "."
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names if name.startswith(stem)]


def remove_compiled(path: str) -> None:
    """Remove Numba's index and data files for the generated module at `path`."""
    for name in _compiled_files(path):
        try:
            os.remove(name)
        except OSError:
            pass


@contextlib.contextmanager
def _open_private(filepath: str):
    """Numba's way of writing a cache file (a temporary file, then renamed over it), with the file created
    0600: its compiled code holds the constants compiled in. Replaces IndexDataCacheFile._open_for_write."""
    tmp = f"{filepath}.tmp.{uuid.uuid4().hex[:16]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, filepath)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def exec_source(modname: str, path: str, source: str, bindings: dict, divide_as_numpy: bool = False):
    """Run `source` (already verified equal to the file at `path`) as module `modname`: the code executed
    is the string in hand, never bytes re-read from disk; tracebacks and pdb show the file's lines.
    `divide_as_numpy` (the Python backend's modules): its derivative statements divide as NumPy does
    (numpy_division.py)."""
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    mod.__dict__.update(bindings)
    sys.modules[modname] = mod
    code = derivatives_dividing_as_numpy(source, path) if divide_as_numpy else None
    if code is not None:
        mod.__dict__[DIVIDE] = divide
    exec(code or compile(source, path, "exec"), mod.__dict__)
    mod.__dict__.update(bindings)
    if code is not None:
        _note_functions_as_written(mod, compile(source, path, "exec"), path)
    return mod


def _note_functions_as_written(mod, written, path: str):
    """For each function of `mod` (run with its derivatives dividing as NumPy: numpy_division.py), the same function
    of the code `written` as the file reads (its bytecode the file's), which differentiating it again parses
    (cachedir.python_function: parse checks a function's code against its file)."""
    codes = {(c.co_name, c.co_firstlineno): c for c in written.co_consts if hasattr(c, "co_code")}
    for name, fn in list(vars(mod).items()):
        if not (inspect.isfunction(fn) and fn.__code__.co_filename == path):
            continue
        code = codes.get((fn.__code__.co_name, fn.__code__.co_firstlineno))
        if code is None or code == fn.__code__:
            continue
        plain = type(fn)(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
        plain.__kwdefaults__, plain.__qualname__ = fn.__kwdefaults__, fn.__qualname__
        note_shown_function(fn, plain)


def _typed_without_literals(disp):
    """Calls of `disp` from compiled code are typed with their arguments' plain types. Numba compiles a
    dispatcher once per distinct argument typing, and types a constant argument as its literal: a recursive
    function called `fib(x, 4)` and calling itself `fib(x, n - 1)` was compiled twice, for Literal[int](4) and
    for int64 (its derivative a third time), each compile a second or more. (Only the functions of recursive
    modules: the others are inlined into their callers, and srcdiff's runtime kernels keep literal arguments.)"""
    from numba.core import types
    plain = disp.get_call_template

    def get_call_template(args, kws):
        return plain(tuple(types.unliteral(a) for a in args), {k: types.unliteral(v) for k, v in kws.items()})
    disp.get_call_template = get_call_template


# a function with an rt.prange loop (runtime/chunks.py) is compiled for threads in that loop alone: Numba's other
# parallel rewrites (array expressions, np.sum, ...) would put every small array operation on threads
_PRANGE_ONLY = {"prange": True, "comprehension": False, "reduction": False, "inplace_binop": False,
                "setitem": False, "numpy": False, "stencil": False, "fusion": False}


def _njit(fn, path: str, cache: bool = True, boundscheck: bool = BOUNDSCHECK, part: bool = False):
    """numba.njit with its disk cache (unless `cache` is false), kept in the checked private directory;
    a damaged cache file is removed and recompiled with a CacheWarning. `boundscheck`: False for a function
    that tests its indices itself (transforms/bounds.py); `part`: a part of a large function
    (transforms/function_parts.py), whose callers call its machine code by symbol (runtime/_linking.py)."""
    import numba
    numba_dir = getattr(numba.config, "CACHE_DIR", "")
    if cache and numba_dir:   # NUMBA_CACHE_DIR moves Numba's index (a pickle: loading it can run code) out of ours
        try:
            os.makedirs(numba_dir, mode=0o700, exist_ok=True)
            check_private(numba_dir)
        except (OSError, SrcdiffError) as exc:
            warnings.warn(f"srcdiff: not caching compiled code in NUMBA_CACHE_DIR ({exc})", CacheWarning,
                          stacklevel=3)
            cache = False
    from .runtime._linking import Compiler       # calls the runtime's kernels by symbol (no IR linked in)
    renamed = unambiguous(fn)       # (locals Numba's temporaries cannot confuse)
    threads = {"parallel": _PRANGE_ONLY} if "prange" in fn.__code__.co_names else {}   # (rt.prange: row chunks)
    if part:    # (called from its caller's machine code only: no wrapper boxing and unboxing its values for Python)
        threads = {**threads, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}
    disp = numba.njit(cache=cache, nogil=True, error_model="numpy", boundscheck=boundscheck,
                      pipeline_class=Compiler, **threads)(renamed)
    if part:
        from .runtime._linking import called_by_symbol
        called_by_symbol(disp)
    if renamed is not fn:   # differentiated again, `disp` is read as `fn`: its file's code (`disp.py_func`'s
        note_shown_function(disp, fn)       # locals are renamed, and parse's check of the source declined it)
    impl = getattr(disp, "_cache", None)
    files = getattr(impl, "_cache_file", None)
    if cache and hasattr(files, "_open_for_write"):
        files._open_for_write = _open_private
        for name in _compiled_files(path):     # written by an earlier version with the default mode
            try:
                if os.stat(name).st_mode & 0o077:
                    os.chmod(name, 0o600)
            except OSError:
                pass
    load = getattr(impl, "load_overload", None)
    if cache and load is not None:
        # Numba's Cache.load_overload first refreshes the target context: it imports and registers every
        # typing and lowering registry (numba.np.linalg, cffi, ...), most of a disk-cache first call
        # (0.3 s), none of it needed to rebuild compiled code. A miss compiles, which refreshes then.
        quick = getattr(impl, "_load_overload", None)
        guard = getattr(impl, "_guard_against_spurious_io_errors", None)
        if quick is not None and guard is not None:
            def load(sig, target_context):
                from numba.core.runtime import rtsys
                rtsys.initialize(target_context)     # the one part of the refresh compiled code needs
                with guard():
                    return quick(sig, target_context)

        def load_overload(sig, target_context):
            try:
                return load(sig, target_context)
            except Exception as exc:   # truncated or corrupt index/data (UnpicklingError, EOFError, ...)
                warnings.warn(f"srcdiff: Numba's cached code for {path} could not be loaded "
                              f"({type(exc).__name__}: {exc}); it was removed and is recompiled", CacheWarning,
                              stacklevel=2)
                remove_compiled(path)
                return None
        impl.load_overload = load_overload
    return disp


MAX_BYTES = int(os.environ.get("SRCDIFF_CACHE_MAX_MB", "500")) * 2 ** 20


def _touch(path: str) -> None:
    """Record a use for least-recently-used eviction in the access time (the modification time is Numba's
    stamp for its compiled code and stays), and evict now and then when the cache is over its cap."""
    try:
        st = os.stat(path)
        os.utime(path, ns=(time.time_ns(), st.st_mtime_ns))
    except OSError:
        return
    global _WRITES
    _WRITES += 1
    if _WRITES % 20 == 1:
        evict(MAX_BYTES, keep=path)


_WRITES = 0


def entries(folder: str | None = None) -> list:
    """[(last use, bytes, module .py path, [its Numba files])] for every generated module in the cache."""
    folder = folder or cache_dir()
    pyc = os.path.join(folder, "__pycache__")
    try:
        compiled = os.listdir(pyc)
    except OSError:
        compiled = []
    by_stem: dict = {}
    for name in compiled:
        by_stem.setdefault(name.split(".", 1)[0], []).append(os.path.join(pyc, name))
    out = []
    for name in os.listdir(folder):
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        try:
            st = os.stat(path)
            extra = by_stem.get(name[:-3], [])
            size = st.st_size + sum(os.path.getsize(f) for f in extra)
        except OSError:
            continue
        out.append((st.st_atime, size, path, extra))
    return sorted(out)


def evict(max_bytes: int, keep: str | None = None, folder: str | None = None) -> int:
    """Remove least-recently-used modules (and their Numba files) until the cache holds at most
    `max_bytes`; returns how many were removed. `keep` (the module in use) stays."""
    items = entries(folder)
    total = sum(size for _, size, _, _ in items)
    removed = 0
    for _, size, path, extra in items:
        if total <= max_bytes:
            break
        if path == keep:
            continue
        for f in [path] + extra:
            try:
                os.remove(f)
            except OSError:
                pass
        total -= size
        removed += 1
    return removed


def _snapshot(value):
    """The value a module is compiled with, as it is now: arrays copied (read-only), as Numba bakes them
    into compiled code, so that both backends ignore later in-place changes alike (the key hashed them)."""
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.flags.writeable = False
        return value
    if type(value) is tuple:
        return tuple(_snapshot(v) for v in value)
    return value


PASSED_ARRAY_SIZE = 10_000


def passed_arrays(bindings: dict) -> list:
    """Names of the arrays bound into a generated module (globals and closure values the user's code
    reads) that jitted code takes as arguments rather than compiling in as constants: NumPy arrays of
    more than PASSED_ARRAY_SIZE (10 000) elements. Numba cannot cache code with a large constant array
    (NumbaWarning: "uses dynamic globals"), and the cache would hold a copy of the data."""
    return sorted(name for name, value in bindings.items()
                  if isinstance(value, np.ndarray) and value.size > PASSED_ARRAY_SIZE and not value.dtype.hasobject)


class ArraysPassed:
    """A jitted generated function called with the large arrays its module reads (see passed_arrays)
    appended to its arguments. ``py_func`` is the Python function it stands for (which reads them as
    globals): what srcdiff parses when it differentiates generated code again."""

    def __init__(self, compiled, arrays: tuple, py_func):
        self.compiled, self.arrays, self.py_func = compiled, arrays, py_func
        functools.update_wrapper(self, py_func)

    def __call__(self, *args):
        return self.compiled(*args, *self.arrays)


class ValueDropped:
    """A jitted gradient (srcdiff.grad, jit=True) that runs value_and_grad's compiled function for the same
    function, wrt and argument kinds, and drops the value: the two generated functions differ in their return
    only (1 827 against 1 828 lines for the outer gradient of nested fuzz seed 998040), and Numba compiled each
    on its own (api.Transformed.value_and_grad_twin). ``compiled`` is value_and_grad's function, ``py_func`` the
    Python function of grad's own generated source: what srcdiff.source shows and differentiating it again
    parses. What Numba holds (overloads, signatures, targetoptions, stats, inspect_llvm) is the compiled one's."""

    def __init__(self, compiled, py_func):
        self.compiled, self.py_func = compiled, py_func
        functools.update_wrapper(self, py_func)

    def __call__(self, *args):
        return self.compiled(*args)[1]

    def __getattr__(self, name):
        if name.startswith("__") or name == "compiled":
            raise AttributeError(name)
        return getattr(self.compiled, name)


def load_module(generated: Generated, bindings: dict, base: str, jit: bool):
    """Write `generated.source` to the cache as a .py file, import it, bind constants, jit if asked.

    Jitted, what Numba compiles (and caches) is the compiled form where there is one (`generated.compiled`:
    array expressions as rt.elementwise kernels), a second module whose functions take this module's
    place; the module of `generated.source` stays the one the user reads. The large arrays among the
    constants (passed_arrays) are arguments of the compiled code: it is compiled from
    `generated.parameters` (the compiler printed the compiled form with them as parameters), whose cache
    key holds no data; this module's functions call it with this module's copies of them."""
    key = module_key(generated.source, bindings, jit)
    modname = generated_module_name(base, key)
    path = os.path.join(cache_dir(), f"{base}_{key}.py")
    if generated.lines is not None:   # the latest: the same code from another file is one module (its own table
        _LINES[os.path.abspath(path)] = generated.lines     # is its transform's: error_reports.user_line)
    if modname in _LOADED:
        return _LOADED[modname]
    write_source(path, generated.source)
    _touch(path)
    return instantiate(modname, path, generated, bindings, jit)


_SHOWN: dict = {}   # name of a compiled form's module -> name of the module of the source shown (load_module)


def shown_module(fn):
    """The generated module whose source the user reads that the generated function `fn` (a jitted one,
    possibly compiled from the compiled form's module) belongs to."""
    name = getattr(fn, "py_func", fn).__module__
    return sys.modules[_SHOWN.get(name, name)]


def instantiate(modname: str, path: str, generated: Generated, bindings: dict, jit: bool):
    """Execute the generated module `modname` (`srcdiff_generated.<base>_<key>`) from `generated.source` at
    `path`, bind its values, jit its functions if asked (see load_module), as its facts say: a module whose
    functions call each other in a cycle is not disk-cached, a function the bounds pass proved is compiled
    without Numba's per-access checks."""
    base = modname.split(".", 1)[1].rsplit("_", 1)[0]
    mod = exec_source(modname, path, generated.source, {k: _snapshot(v) for k, v in bindings.items()},
                      divide_as_numpy=not jit)
    if generated.lines is not None:
        _LINES[os.path.abspath(path)] = generated.lines
    if jit and "rt.threads_for(" in generated.source:     # (before Numba loads its code from the disk cache)
        from .runtime.chunks import start_threading_layer
        start_threading_layer()
    if jit:
        names = generated.function_names
        passed = passed_arrays(bindings)
        params = generated.parameters
        if passed and params is not None and list(params.arrays) == passed:
            constants = {k: v for k, v in bindings.items() if k not in passed}
            compiled = load_module(Generated(params.source, generated.facts_compiled, lines=generated.lines_compiled),
                                   constants,
                                   base, jit)
            for name in names:
                arrays = tuple(mod.__dict__[a] for a in params.takes[name])
                fn = compiled.__dict__[name]
                mod.__dict__[name] = ArraysPassed(fn, arrays, mod.__dict__[name]) if arrays else fn
        elif generated.compiled is not None:
            compiled = load_module(Generated(generated.compiled, generated.facts_compiled, lines=generated.lines_compiled),
                                   bindings, base, jit)
            _SHOWN[compiled.__name__] = modname
            for name in names:
                note_shown_function(compiled.__dict__[name], mod.__dict__[name])
                mod.__dict__[name] = compiled.__dict__[name]
        else:
            for name, obj in bindings.items():
                if is_user_rule_function(obj):   # srcdiff.adjoint's function, called from the generated code
                    mod.__dict__[name] = _jitted_rule_function(obj)
            recursive = generated.facts.recursive()
            tested = generated.facts.bounds_proved()      # they test their indices themselves
            parts = generated.facts.parts()
            for name in names:
                mod.__dict__[name] = _njit(mod.__dict__[name], path, not recursive, BOUNDSCHECK and name not in tested,
                                           part=name in parts)
                if recursive:
                    _typed_without_literals(mod.__dict__[name])
    _LOADED[modname] = mod
    return mod


# ---- the index: spec key -> generated module (srcdiff.cachekey), so that a warm cache skips generation ----------
@dataclass
class CachedModule:
    """A generated module found through the index, without generating it: what the transforms keep of
    module_builder.Module (its entry function, the values bound into it, its functions' names)."""
    entry: str
    bindings: dict
    function_names: list


def _secret() -> bytes:
    """The per-user key that signs index records (32 random bytes in the private cache directory, 0600)."""
    path = os.path.join(cache_dir(), "index.key")
    for _ in range(3):
        try:
            with open(path, "rb") as fh:
                key = fh.read()
            if len(key) == 32:
                return key
            os.remove(path)              # damaged: a new key (the records it signed no longer verify)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:          # another process made it first: read theirs
            continue
        key = os.urandom(32)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
    raise SrcdiffError(f"cannot read or create srcdiff's index key {path}",
                       advice="remove it (python -m srcdiff cache clear) or set SRCDIFF_CACHE_DIR")


def _index_dir() -> str:
    return private_folder(os.path.join(cache_dir(), "index"))


def _sign(body: str) -> str:
    return hmac.new(_secret(), body.encode(), hashlib.sha256).hexdigest()


INDEX_VERSION = 4     # 2: records carry the module's facts (generated.py); 3: and its compiled form; 4: and its line
                      # table. One of another version is regenerated


def save_index(spec: str, root, generated: Generated, bindings: dict, base: str, jit: bool) -> bool:
    """Record that spec key `spec` generates the module just loaded from `generated`, with how to find its
    bound values from `root` (srcdiff.cachekey.recipes) and the facts of its functions. Returns whether it
    was recorded (not when a value cannot be reached from the user's function)."""
    from .cachekey import recipes
    paths = recipes(root, bindings)
    if paths is None:
        return False
    source = generated.source
    digest = hashlib.sha256(source.encode()).hexdigest()
    params = generated.parameters
    record = {"v": INDEX_VERSION, "base": base, "key": module_key(source, bindings, jit), "bindings": paths,
              "sha256": digest, "jit": bool(jit), "tapes": sorted(_TAPES.get(digest, ())),
              "facts": generated.facts.to_json(), "parameters": params.to_json() if params is not None else None,
              "compiled": generated.compiled, "lines": generated.lines.to_json() if generated.lines else None,
              "compiled_lines": generated.compiled_lines.to_json() if generated.compiled_lines else None,
              "compiled_facts": generated.compiled_facts.to_json() if generated.compiled_facts else None}
    body = json.dumps(record, sort_keys=True)
    folder = _index_dir()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")   # mode 0600; replaced atomically
    with os.fdopen(fd, "w") as fh:
        json.dump({"record": body, "mac": _sign(body)}, fh)
    os.replace(tmp, os.path.join(folder, spec + ".json"))
    return True


def _read_record(path: str):
    """(the index record at `path`, its ModuleFacts, its Parameters or None); None where there is none, or it
    is of another version (removed: the code is generated again); one that fails its signature is removed with
    a CacheWarning."""
    try:
        with open(path) as fh:
            stored = json.load(fh)
        body, mac = stored["record"], stored["mac"]
        if not (isinstance(body, str) and isinstance(mac, str) and hmac.compare_digest(_sign(body), mac)):
            raise ValueError("bad signature")
        record = json.loads(body)
        if record.get("v") != INDEX_VERSION:
            _remove(path)
            return None
        missing = {"base", "key", "bindings", "sha256"} - set(record)
        if missing:
            raise KeyError(", ".join(sorted(missing)))
        facts, params = ModuleFacts.from_json(record["facts"]), Parameters.from_json(record["parameters"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"srcdiff: the cache index record {path} did not match its signature (damaged or modified: "
                      f"{exc}); it was removed and the code is generated again", CacheWarning, stacklevel=4)
        _remove(path)
        return None
    return record, facts, params


def load_indexed(spec: str, root, jit: bool):
    """(CachedModule, Generated, loaded module) for spec key `spec` from the index, or None (not there, or
    stale: generate). The index record must carry a valid signature, the module file the digest recorded
    for it, and the values its recipes find now the module key it was generated with; a record or module
    that fails a check is removed (with a CacheWarning when it was damaged or modified)."""
    from .cachekey import MISSING, follow
    path = os.path.join(cache_dir(), "index", spec + ".json")
    read = _read_record(path)
    if read is None:
        return None
    record, facts, params = read
    base, key = record["base"], record["key"]
    bindings = {name: follow(root, steps) for name, steps in record["bindings"].items()}
    if any(v is MISSING for v in bindings.values()) or record.get("jit") != bool(jit):
        _remove(path)                    # the function no longer reaches those values: generate
        return None
    modname = generated_module_name(base, key)
    module_path = os.path.join(cache_dir(), f"{base}_{key}.py")
    try:
        with open(module_path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:           # evicted
        _remove(path)
        return None
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        warnings.warn(f"srcdiff: the cached file {module_path} did not match the code recorded for it (damaged or "
                      "modified); it was removed and regenerated", CacheWarning, stacklevel=3)
        for f in (path, module_path):
            _remove(f)
        remove_compiled(module_path)
        return None
    source = data.decode()
    if module_key(source, bindings, jit) != key:   # a bound value changed in a way the spec key missed
        _remove(path)
        return None
    _touch(module_path)
    _TAPES.setdefault(record["sha256"], frozenset(record.get("tapes", ())))
    compiled_facts = record.get("compiled_facts")
    generated = Generated(source, facts, params, record.get("compiled"), Lines.from_json(record.get("lines")),
                          Lines.from_json(record.get("compiled_lines")),
                          ModuleFacts.from_json(compiled_facts) if compiled_facts else None)
    loaded = _LOADED.get(modname) or instantiate(modname, module_path, generated, bindings, jit)
    return CachedModule(base, bindings, generated.function_names), generated, loaded


def prune_index(folder: str | None = None, everything: bool = False) -> int:
    """Remove index records whose module is gone (or all of them); returns how many were removed."""
    folder = os.path.join(folder or cache_dir(), "index")
    removed = 0
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    for name in names:
        path = os.path.join(folder, name)
        if not everything and name.endswith(".json"):
            try:
                with open(path) as fh:
                    record = json.loads(json.load(fh)["record"])
                if os.path.exists(os.path.join(os.path.dirname(folder), f"{record['base']}_{record['key']}.py")):
                    continue
            except (OSError, ValueError, KeyError, TypeError):
                pass
        _remove(path)
        removed += 1
    return removed


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
