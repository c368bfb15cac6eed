"""The one exception type srcdiff raises for anything it declines."""
from __future__ import annotations


class SrcdiffError(Exception):
    """A construct srcdiff cannot differentiate, reported at the user's file:line with advice."""

    def __init__(self, message: str, filename: str | None = None, lineno: int | None = None,
                 advice: str | None = None):
        self.filename, self.lineno, self.advice = filename, lineno, advice
        where = f"{filename}:{lineno}: " if filename and lineno else (f"{filename}: " if filename else "")
        text = where + message
        if advice:
            text += f"\n  hint: {advice}"
        super().__init__(text)


def fail(node, unit, message: str, advice: str | None = None):
    """Raise SrcdiffError located at `node` (a gast node with a user line number) in `unit`."""
    lineno = getattr(node, "lineno", None) if node is not None else None
    line = unit.source_line(lineno) if lineno else None
    if line:
        message = f"{message}\n    {line.strip()}"
    raise SrcdiffError(message, unit.filename, lineno, advice)
