"""Numba's error messages, built for lookups that fail and are caught, without colorama's stream wrapping.

Typing and lowering a generated function ask Numba's registries for implementations, and many lookups fail
on the way to the one that fits (an overload template for other argument types, a literal that is not one):
Numba builds an error message for each, caught and dropped. With colorama installed, each piece of such a
message is marked up inside `numba.core.errors.ColorShell`, which calls colorama's init() and deinit(): they
wrap and unwrap sys.stdout and sys.stderr, once per piece (1 086 wrappers for the Elman RNN's gradient of
benchmarks/first_call.py), and that was 0.15 s of its 1.3 s cold first call (CPU time). Marking up a string
writes nothing to a stream, so the wrapping does nothing there: ColorShell is a context manager that does
nothing, and the messages Numba prints are the same text.
"""
from numba.core import errors as _errors


class _NoStreams:
    """ColorShell without colorama's init()/deinit() of the standard streams."""

    def __enter__(self):
        return None

    def __exit__(self, *exc_detail):
        return False


def install() -> None:
    """Numba's markup without the stream wrapping (where colorama is installed and highlighting not disabled)."""
    if hasattr(_errors, "ColorShell"):
        _errors.ColorShell = _NoStreams
