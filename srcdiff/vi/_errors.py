"""Errors for bad input to srcdiff.vi: ``SrcdiffError`` (the one srcdiff exception type) that is
also the built-in exception a Python user would expect (``ValueError`` / ``TypeError``)."""
from __future__ import annotations

from ..errors import SrcdiffError

__all__ = ["VIValueError", "VITypeError"]


class VIValueError(SrcdiffError, ValueError):
    """An argument of srcdiff.vi has the right type but a bad value (shape, range, name)."""


class VITypeError(SrcdiffError, TypeError):
    """An argument of srcdiff.vi has the wrong type."""
