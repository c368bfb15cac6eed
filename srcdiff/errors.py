"""The one exception type srcdiff raises for anything it declines, and its kinds for a generated function
that fails on its arguments.

A generated function can fail where the user's function would (NumPy's "operands could not be broadcast
together", an index out of range): srcdiff reports it at the user's line, as a SrcdiffError that is also the
exception NumPy raised, so code that catches ValueError (or IndexError, LinAlgError, ...) around a call keeps
working under both backends."""
from __future__ import annotations

import re

import numpy as np


class SrcdiffError(Exception):
    """A construct srcdiff cannot differentiate, reported at the user's file:line with advice."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None,
                 advice: str | None = None):
        self.filename, self.lineno, self.advice, self.message = filename, lineno, advice, message
        where = f"{filename}:{lineno}: " if filename and lineno else (f"{filename}: " if filename else "")
        text = where + message
        if advice:
            text += f"\n  hint: {advice}"
        super().__init__(text)


class FailedOnArguments(SrcdiffError):
    """A generated function failed on the arguments of a call (where the user's function fails on them, or
    in its derivative), reported at the user's line: each subclass is also the exception it reports."""


class SrcdiffValueError(FailedOnArguments, ValueError):
    """A ValueError (a broadcast or shape mismatch) raised running generated code, at the user's line."""


class SrcdiffAxisError(FailedOnArguments, np.exceptions.AxisError):
    """numpy.exceptions.AxisError (an axis out of an array's range: a ValueError and an IndexError), at the user's
    line."""


class SrcdiffLinAlgError(FailedOnArguments, np.linalg.LinAlgError):
    """numpy.linalg.LinAlgError (a singular or non-positive-definite matrix), at the user's line."""


class SrcdiffIndexError(FailedOnArguments, IndexError):
    """An IndexError (an index out of range, too many indices) raised running generated code."""


class SrcdiffTypeError(FailedOnArguments, TypeError):
    """A TypeError raised running generated code (an argument of a type the line cannot take)."""


class SrcdiffZeroDivisionError(FailedOnArguments, ZeroDivisionError):
    """A ZeroDivisionError (integer division by zero) raised running generated code."""


class SrcdiffFloatingPointError(FailedOnArguments, FloatingPointError):
    """A FloatingPointError raised running generated code under numpy.seterr(all="raise")."""


# most specific first: LinAlgError is a ValueError, AxisError a ValueError and an IndexError
_RUNTIME_ERRORS = (SrcdiffAxisError, SrcdiffLinAlgError, SrcdiffValueError, SrcdiffIndexError, SrcdiffTypeError,
                   SrcdiffZeroDivisionError, SrcdiffFloatingPointError)


def runtime_error_type(exc: BaseException) -> type | None:
    """The SrcdiffError subclass that reports `exc`, raised by a generated function, as the same kind of
    exception (None for other exceptions: they propagate as they are)."""
    for cls in _RUNTIME_ERRORS:
        if isinstance(exc, cls.__bases__[1]):
            return cls
    return None


def fail(node, unit, message: str, advice: str | None = None):
    """Raise SrcdiffError located at `node` (a gast node with a user line number) in `unit`. A name the front end
    renamed (transforms/reserved_names.py: the user's `rt` is `rt_` in the code) is spelled as the user wrote it."""
    for user, spelled in getattr(unit, "renamed", {}).items():
        message, advice = (re.sub(rf"(?<![\w.]){re.escape(spelled)}(?!\w)", user, t) if t else t
                           for t in (message, advice))
    lineno = getattr(node, "lineno", None) if node is not None else None
    line = unit.source_line(lineno) if lineno else None
    if line:
        message = f"{message}\n    {line.strip()}"
    raise SrcdiffError(message, unit.filename, lineno, advice)
