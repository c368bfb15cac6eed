"""The `# line N: <text>` comments generated code cites the user's lines with (annotations.USER_LINE), one function
for reverse mode's sweeps and forward mode: a statement inlined from another function cites that function's file
and name (annotations.FILE, FUNC), not the file of the function differentiated. Forward mode once cited every line
in the differentiated function's file: jvp of a function calling srcdiff.grad(f), whose generated statements it
inlines, cited lines of the gradient's module as lines of the user's file (a Numba decline at "h.py:245" of a
67-line file, nested fuzz seed 1015125), and the error reports (error_reports.user_line) could not follow the
gradient's line table back to the user's line."""
from __future__ import annotations

import linecache

from . import annotations as anno
from .astutil import comment


def line_comment(s, filename: str):
    """The comment citing the line statement `s` was made from: `# f_grad, line 20: <its text>` for a statement
    inlined from f_grad, `# line 7: <its text>` for one of the function's own (of file `filename`)."""
    line, func = s.lineno, anno.get(s, anno.FUNC)
    file = anno.get(s, anno.FILE, filename)
    text = linecache.getline(file, line).strip()
    where = f"{func}, line {line}" if func is not None else f"line {line}"
    return anno.set(comment(f"{where}: {text}" if text else where), anno.USER_LINE, (line, text, func, file))
