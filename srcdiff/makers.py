"""The transform makers (srcdiff.grad, value_and_grad, vjp, jvp), registered by api.py and forward_api.py,
and the user's function behind a transform (and where it is defined): what the compiler's resolve pass needs to recognise
`srcdiff.grad(loss)(w)` inside a differentiated function, without importing the API (which imports the
compiler)."""
from __future__ import annotations

import inspect

MAKERS: set = set()


def maker(fn):
    """Register `fn` as a function that makes a transform (a decorator)."""
    MAKERS.add(fn)
    return fn


def user_function(f):
    """The user's function behind `f`: through srcdiff transforms, @differentiate and Numba dispatchers.
    (A reverse-mode transform's `py_func` generates its code: a class that sets `generates_on_py_func`
    is not asked for it.)"""
    for _ in range(20):
        if inspect.isfunction(f):
            return f
        inner = f.__dict__.get("f") if hasattr(f, "__dict__") else None
        if inner is None:
            inner = getattr(f, "py_func", None) if not getattr(type(f), "generates_on_py_func", False) else None
        if inner is None:
            return f
        f = inner
    return f


def user_location(f) -> tuple:
    """(file, line) of the user's function behind `f`, through any srcdiff transforms wrapping it."""
    seen = 0
    while hasattr(f, "f") and not inspect.isfunction(f) and seen < 10:   # Transformed, jvp, hvp, ...
        f, seen = f.f, seen + 1
    f = getattr(f, "py_func", f) if not getattr(type(f), "generates_on_py_func", False) else f
    code = getattr(getattr(f, "__func__", f), "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code else (None, None)
