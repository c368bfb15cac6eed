"""Text in the forward sweep: the f-strings your `print` and `assert` messages format.

desugar writes `f"step {i}: {loss:.3f}"` as `rt.fstring("step {}: {:.3f}", i, loss)`: one call whose arguments
are the fields' values, which the passes after it see as any call's. In Python it is `str.format`, so the text is
Python's. Numba formats no float with a format spec (and prints `<object type:float64>` for a float in an
f-string), so under Numba the call leaves compiled code for an object-mode block that formats with Python's
`str.format` and hands the text back: the same text in both backends, at a Python call's cost per message.
"""
import numba
from numba.core import types
from numba.extending import overload

__all__ = ["fstring"]


def fstring(template, *values):
    """`template.format(*values)`: an f-string's text (template: its constant parts with a `{}` field, conversion
    and format spec per value)."""
    return template.format(*values)


@numba.njit
def _format_in_object_mode(template, values):
    with numba.objmode(text="unicode_type"):
        text = template.format(*values)
    return text


@overload(fstring)
def _fstring_nb(template, *values):
    if isinstance(template, (types.UnicodeType, types.StringLiteral)):
        def impl(template, *values):
            return _format_in_object_mode(template, values)
        return impl
    return None
