"""Errors for bad input to srcdiff.vi: ``SrcdiffError`` (the one srcdiff exception type) that is
also the built-in exception a Python user would expect (``ValueError`` / ``TypeError`` /
``FloatingPointError``), and the checks of counts and step sizes that raise them."""
from __future__ import annotations

import math
import numbers

from ..errors import SrcdiffError

__all__ = ["VIValueError", "VITypeError", "VINonFiniteError", "positive_int", "positive_float"]


class VIValueError(SrcdiffError, ValueError):
    """An argument of srcdiff.vi has the right type but a bad value (shape, range, name)."""


class VITypeError(SrcdiffError, TypeError):
    """An argument of srcdiff.vi has the wrong type."""


class VINonFiniteError(SrcdiffError, FloatingPointError):
    """An inference step met a NaN or infinite value (a model undefined where it was evaluated)."""


def positive_int(name: str, value, lowest: int = 1) -> int:
    """``value`` as an int >= ``lowest``: a whole number (an int, or a float such as 1e4 with no fraction);
    NaN, 2.5, 0, True or "3" raise VIValueError / VITypeError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VITypeError(f"{name} must be an integer, got {value!r} (a {type(value).__name__})")
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != math.floor(value):
            raise VIValueError(f"{name} must be a whole number, got {value!r}")
    if value < lowest:
        raise VIValueError(f"{name} must be >= {lowest}, got {value!r}")
    return int(value)


def positive_float(name: str, value) -> float:
    """``value`` as a finite float > 0; VIValueError / VITypeError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VITypeError(f"{name} must be a number, got {value!r} (a {type(value).__name__})")
    if not (math.isfinite(value) and value > 0):
        raise VIValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)
