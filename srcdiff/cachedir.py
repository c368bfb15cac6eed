"""Where srcdiff keeps generated and compiled code, and what every cache key holds: the bottom layer
under backends.py (loading and compiling generated modules) and cachekey.py (spec keys), importing
nothing else of srcdiff but its errors, so that the runtime helpers (runtime/_cache.py) and the compiler
can ask for the cache directory without importing the backends."""
from __future__ import annotations

import hashlib
import os
import stat

from .errors import SrcdiffError

GENERATED_PACKAGE = "srcdiff_generated"   # the package every generated module is imported under


def generated_module_name(base: str, key: str) -> str:
    """The module name of generated module `base` with cache key `key`."""
    return f"{GENERATED_PACKAGE}.{base}_{key}"


def is_generated_module(name: str | None) -> bool:
    """Whether module `name` is one srcdiff generated (the one place that knows how they are named)."""
    return (name or "").partition(".")[0] == GENERATED_PACKAGE


BOUNDSCHECK = os.environ.get("SRCDIFF_BOUNDSCHECK", "1") != "0"   # IndexError where f raises it (Numba
                                                                  # does not check by default)


def cache_dir() -> str:
    """The private directory that holds generated modules and Numba's compiled code for them.

    Created 0700; refused when it is not a directory owned by this user or when others may write to it
    (anyone who can write there could make srcdiff run their code). Checked on every use: one stat."""
    d = os.environ.get("SRCDIFF_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "srcdiff")
    d = private_root(os.path.abspath(d), "cache directory", "SRCDIFF_CACHE_DIR")
    private_folder(os.path.join(d, "__pycache__"))   # where Numba keeps its index (a pickle) and compiled code
    return d


def private_root(d: str, what: str, variable: str) -> str:
    """Directory `d` and its parents, created 0700 if missing, checked with check_private; `what` and the
    environment `variable` that sets it name it in the error."""
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SrcdiffError(f"cannot create srcdiff's {what} {d}: {exc}",
                           advice=f"set {variable} to a private directory you can write") from None
    check_private(d)
    return d


def private_folder(d: str) -> str:
    """Folder `d` (its parent exists), created 0700 if missing and checked with check_private."""
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    check_private(d)
    return d


def check_private(d: str) -> None:
    """Raise SrcdiffError unless `d` is a directory owned by this user that no one else can write;
    tighten a readable one to 0700 (cached code holds the values of the arrays it was compiled with)."""
    st = os.stat(d)
    problem = None
    if not stat.S_ISDIR(st.st_mode):
        problem = "is not a directory"
    elif hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        problem = f"is owned by another user (uid {st.st_uid})"
    elif st.st_mode & 0o022:
        problem = f"is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    if problem:
        raise SrcdiffError(f"srcdiff's cache directory {d} {problem}: code cached there would run in this "
                           "process, so srcdiff refuses to use it",
                           advice="set SRCDIFF_CACHE_DIR to a private directory (srcdiff creates it with mode "
                                  "700), or remove this one")
    if st.st_mode & 0o077:
        os.chmod(d, 0o700)


def put_record(h, tag: str, payload: bytes) -> None:
    """One self-delimiting record: type tag, payload length, payload (a canonical encoding, so that
    (12, 3) and (1, 23), or "ab" + "c" and "a" + "bc", can never feed the hash the same bytes)."""
    h.update(f"{tag}:{len(payload)}:".encode())
    h.update(payload)


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


def runtime_root() -> str:
    """Where the compiled runtime helpers live: `$SRCDIFF_RUNTIME_CACHE_DIR`, default
    `~/.cache/srcdiff/runtime`. Not under SRCDIFF_CACHE_DIR: they are compiled once per installation and
    user, whichever cache directory a program's generated code goes to."""
    d = os.environ.get("SRCDIFF_RUNTIME_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "srcdiff",
                                                                    "runtime")
    return os.path.abspath(d)


def runtime_cache_dir() -> str:
    """Numba's files for the runtime helpers (srcdiff/runtime/_cache.py) of this runtime's source:
    `runtime_root()/<hash of the runtime's source>`, created 0700 and checked like the cache directory."""
    root = private_root(runtime_root(), "runtime cache directory", "SRCDIFF_RUNTIME_CACHE_DIR")
    return private_folder(os.path.join(root, runtime_digest()[:16]))


_SHOWN_FUNCTIONS: dict = {}   # a jitted function compiled from a compiled form -> the shown source's function


def note_shown_function(compiled, python) -> None:
    """backends.instantiate: `compiled` (Numba's, of the compiled form: array expressions as rt.elementwise
    kernels) takes the place of `python`, the function of the source the user reads, in its module."""
    _SHOWN_FUNCTIONS[compiled] = python


def python_function(fn):
    """The Python function of the source the user reads behind `fn` (a generated function, jitted or not, or
    any other function or Numba dispatcher): what differentiating it again parses, never the compiled form."""
    return _SHOWN_FUNCTIONS.get(fn) or getattr(fn, "py_func", fn)


def is_generated_file(path: str) -> bool:
    """Whether `path` is a module srcdiff generated (in the cache directory), not a file of the user's."""
    return bool(path) and os.path.abspath(path).startswith(os.path.abspath(cache_dir()) + os.sep)
