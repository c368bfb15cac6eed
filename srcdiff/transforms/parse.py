"""The "parse" pass of compiler.FRONT_END.

Parse a Python function into a gast FunctionDef located at the user's file lines."""
from __future__ import annotations

import __future__
import ast
import builtins
import functools
import inspect
import linecache
import re
import textwrap
from dataclasses import dataclass, field

import gast

from . import gast_parse, scopes
from .reserved_names import rename_reserved_locals
from .copy_returns import bind_copy_returns
from .astutil import walk, walk_of

from ..cachedir import python_function
from ..errors import SrcdiffError


@dataclass
class Unit:
    """One function being compiled: its tree plus what its names refer to."""
    name: str
    node: gast.FunctionDef
    filename: str
    namespace: dict                                  # free name -> Python object
    func: object = None                              # the user's function, when there is one
    callees: dict = field(default_factory=dict)      # local name -> Unit of a user function it calls
    bindings: dict = field(default_factory=dict)     # name -> constant the generated module binds
    renamed: dict = field(default_factory=dict)      # the user's name -> its name in the code (reserved_names.py)

    def source_line(self, lineno):
        return linecache.getline(self.filename, lineno) if lineno else ""

    def __repr__(self):
        # (short: the dataclass's own repr prints every namespace and callee, all the module's globals and the
        # units they lead to; a traceback or pdb printing it took minutes and gigabytes)
        return f"<Unit {self.name} of {self.filename}:{getattr(self.node, 'lineno', '?')}>"

    @property
    def params(self) -> list:
        return [a.id for a in self.node.args.args]


def _shift_lines(tree, offset):
    for n in walk(tree):
        if hasattr(n, "lineno") and n.lineno is not None:
            n.lineno += offset
        if hasattr(n, "end_lineno") and getattr(n, "end_lineno", None) is not None:
            n.end_lineno += offset


def namespace_of(fn) -> dict:
    """Globals, builtins and closure cells visible to `fn` (closure cells win)."""
    ns = dict(vars(builtins))
    ns.update(fn.__globals__)
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                ns[name] = cell.cell_contents
            except ValueError:  # empty cell: assigned later in the enclosing function
                pass
    return ns


def parse(fn) -> Unit:
    """Parse `fn` (a plain Python function or lambda) into a Unit."""
    fn = getattr(fn, "py_func", fn)  # numba dispatchers
    if not inspect.isfunction(fn):
        code = getattr(getattr(fn, "__func__", None), "__code__", None)
        raise SrcdiffError(f"srcdiff differentiates Python functions; got {type(fn).__name__} {fn!r}",
                           code.co_filename if code else None, code.co_firstlineno if code else None,
                           advice="pass a function defined with def or lambda (bound methods and "
                                  "class instances are not supported: use a plain function)")
    code = fn.__code__
    filename = code.co_filename
    try:
        lines, first = _source_lines(fn)
    except (OSError, TypeError) as exc:
        raise SrcdiffError(f"cannot retrieve the source of {fn.__qualname__} ({exc})", filename,
                           code.co_firstlineno,
                           "define the function in a .py file (source typed at an interactive prompt "
                           "or built with exec is not available to inspect.getsource)") from None
    src = textwrap.dedent("".join(lines))
    if not _same_code(python_function(fn), filename):     # (a jit=False module's function runs its derivatives'
        # divisions as NumPy's: its code as the file reads is the one noted for it, numpy_division.py)
        raise SrcdiffError(f"the source of {fn.__qualname__} in {filename} no longer matches the function object "
                           "(the file was edited after the function was defined): srcdiff differentiates "
                           "what it reads from the file", filename, code.co_firstlineno,
                           "re-import the module (importlib.reload) or restart Python after editing it")
    try:   # (parsed below first - 1 empty lines: the tree has the file's line numbers without a walk)
        tree = gast_parse.parse("\n" * (first - 1) + src)   # (gast.parse's tree, made faster)
        shift = 0
    except SyntaxError:
        shift = first - 1
        # a lambda in the middle of an expression (a call's argument, a dict or list entry): parse the
        # fragments that start at a `lambda`
        tree = _lambda_fragments(src) if fn.__name__ == "<lambda>" else None
        if tree is None:
            raise SrcdiffError(f"cannot parse the source of {fn.__qualname__}", filename, first,
                               "define it with def (or put the lambda on a line of its own)")
    if shift:
        _shift_lines(tree, shift)
    if fn.__name__ == "<lambda>":
        node = _lambda_def(tree, fn, filename, first)
    else:
        node = next((n for n in tree.body if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef))), None)
        if node is None or isinstance(node, gast.AsyncFunctionDef):
            raise SrcdiffError(f"{fn.__qualname__} is not a plain def (async def, generator or other)", filename, first,
                               "differentiate an ordinary def (not async) that returns a value")
    node.decorator_list = []
    if node.args.vararg or node.args.kwarg:
        raise SrcdiffError(f"{fn.__name__}: *args and **kwargs parameters are not supported (srcdiff needs "
                           "each argument by name)", filename, node.lineno,
                           "name every parameter (defaults and keyword-only parameters are fine), or pass "
                           "several arrays as one tuple parameter")
    _positional_keyword_only(node.args)
    _check_generators(node, filename)
    renamed = rename_reserved_locals(node)
    bind_copy_returns(node)
    unit = Unit(name=node.name, node=node, filename=filename, namespace=namespace_of(fn), func=fn, renamed=renamed)
    scopes.check_unassigned_reads(unit)
    return unit


_DEF_LINE = re.compile(r"\s*(def\s|async\s+def\s|@)")


def _source_lines(fn) -> tuple:
    """inspect.getsourcelines(fn): the lines of a def (from its first decorator) and the number of the first.
    For a def, from the line numbers of the file's definitions (`_definition_ends`, parsed once per text of
    the file) instead of inspect's tokenizing of the function's lines (a fifth of the parse pass for a long
    function): the same lines but for comment lines after its last statement, which parse to nothing."""
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    if code is not None and target.__name__ != "<lambda>":
        linecache.checkcache(code.co_filename)      # (as inspect does: a file edited since is read again)
        lines = linecache.getlines(code.co_filename, target.__globals__)
        first = code.co_firstlineno
        if 0 < first <= len(lines) and _DEF_LINE.match(lines[first - 1]):
            end = _definition_ends("".join(lines)).get((first, code.co_name))
            if end is not None:
                return lines[first - 1:end], first
    return inspect.getsourcelines(fn)


@functools.lru_cache(maxsize=16)
def _definition_ends(text: str) -> dict:
    """{(first line of a def, counting its decorators; its name): its last line} for the defs of a file's text."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    return {(min([node.lineno] + [d.lineno for d in node.decorator_list]), node.name): node.end_lineno
            for node in _definitions(tree.body)}


def _definitions(stmts):
    """The defs among `stmts` and the statements nested in them (blocks, class bodies, handlers, match cases): a
    def is a statement, so no expression is looked into (ast.walk of the file's tree was most of `_source_lines`)."""
    todo = list(stmts)
    for s in todo:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield s
        for f in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(s, f, None)
            if type(block) is list:
                todo.extend(block)


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _same_code(fn, filename: str) -> bool:
    """Is the function at fn's first line of its file, as the file reads now, the code of `fn`? The whole
    file is compiled (so imports, enclosing functions and classes give the same bytecode as when it was
    imported) and the code object that starts on that line compared: name, parameters, bytecode,
    constants and names, recursively through nested code objects."""
    target = inspect.unwrap(fn).__code__
    if any(n.startswith("@py") for n in _all_names(target)):   # pytest rewrote this function's asserts
        return True
    text = "".join(linecache.getlines(filename, getattr(fn, "__globals__", None)))
    module = _compile_file(text, filename, target.co_flags & _FUTURE_FLAGS)
    if module is None:
        return False
    return any(_code_equal(c, target) for c in _code_objects(module)
               if c.co_name == target.co_name and c.co_firstlineno == target.co_firstlineno)


@functools.lru_cache(maxsize=16)
def _compile_file(text: str, filename: str, flags: int):
    try:
        return compile(text, filename, "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError):
        return None


def _all_names(code):
    yield from code.co_names
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield from _all_names(c)


def _code_objects(code):
    for c in code.co_consts:
        if hasattr(c, "co_code"):
            yield c
            yield from _code_objects(c)


def _code_equal(a, b) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_argcount, a.co_freevars) != \
            (b.co_code, b.co_names, b.co_varnames, b.co_argcount, b.co_freevars):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if hasattr(x, "co_code") and hasattr(y, "co_code"):
            if not _code_equal(x, y):
                return False
        elif type(x) is not type(y) or repr(x) != repr(y):
            return False
    return True


def _lambda_fragments(src: str):
    """A module holding every lambda expression found in `src` (lines that are not a statement of their own),
    each the longest fragment from a `lambda` keyword that parses; None if there is none."""
    body = []
    start = src.find("lambda")
    while start >= 0:
        text = src[start:].rstrip()
        for end in range(len(text), 6, -1):
            try:
                expr = gast.parse("(" + text[:end] + "\n)").body[0]
            except SyntaxError:
                continue
            if isinstance(expr, gast.Expr) and isinstance(expr.value, gast.Lambda):
                body.append(expr)
                break
        start = src.find("lambda", start + 6)
    if not body:
        return None
    tree = gast.parse("")
    tree.body = body
    return tree
def _positional_keyword_only(args):
    """Keyword-only parameters become ordinary parameters after the others: generated functions take
    every argument by position (api.bind_arguments orders a call's arguments by the user's signature)."""
    if not args.kwonlyargs:
        return
    if all(d is not None for d in args.kw_defaults):
        args.defaults = list(args.defaults) + list(args.kw_defaults)
    else:
        args.defaults = []
    args.args = list(args.args) + list(args.kwonlyargs)
    args.kwonlyargs, args.kw_defaults = [], []


def _lambda_def(tree, fn, filename, first) -> gast.FunctionDef:
    params = list(fn.__code__.co_varnames[:fn.__code__.co_argcount])
    cands = [n for n in walk(tree) if isinstance(n, gast.Lambda)
             and [a.id for a in n.args.args] == params]
    if len(cands) != 1:
        raise SrcdiffError("cannot locate the lambda's source unambiguously", filename, first,
                           "define it with def, or put each lambda on its own line")
    lam = cands[0]
    ret = gast.Return(value=lam.body)
    ret.lineno = lam.lineno
    node = gast.FunctionDef(name="lambda_", args=lam.args, body=[ret], decorator_list=[], returns=None,
                            type_comment=None, type_params=[])
    node.lineno = lam.lineno
    return node


_GENERATORS = frozenset((gast.Yield, gast.YieldFrom, gast.Await))

def _check_generators(node, filename):
    if not any(True for _ in walk_of(node, _GENERATORS)):
        return      # (most functions: one walk that yields nothing; else the first in walk's order is reported)
    for n in walk(node):
        if isinstance(n, (gast.Yield, gast.YieldFrom, gast.Await)):
            raise SrcdiffError("generators and coroutines (yield/await) cannot be differentiated",
                               filename, n.lineno, "return a value (or an array of values) instead")
