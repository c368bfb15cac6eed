"""transforms/parse.py: where a function's source is found. `_source_lines` takes a def's lines from the line
numbers of the file's definitions instead of tokenizing them as inspect.getsourcelines does; it must give
inspect's lines (but for comment lines after the last statement, which parse to nothing) for every def:
module functions, methods, nested and decorated ones, one-liners, and those whose last statement spans lines.
The tree parse reads the source into (transforms/gast_parse.py) must be gast.parse's, node for node."""
import functools
import inspect
import types

import gast

import numpy as np
import pytest

import srcdiff
import srcdiff.compiler
import srcdiff.transforms.kinds
import srcdiff.transforms.reverse
from gradcheck import source_module
from srcdiff.transforms import parse

SOURCE = '''import functools
import numpy as np


def deco(f):
    @functools.wraps(f)
    def wrapper(*a):
        return f(*a)
    return wrapper


@deco
@deco
def decorated(x):
    return x * 2.0


def trailing(x):
    y = (x +
         1.0)
    return np.sum(y
                  )
    # a comment after the last statement
        # and one indented further


def one_liner(x): return x * 3.0


class Holder:
    def method(self, x):
        return x

    @staticmethod
    def static(x):
        def inner(z):
            return z + x
        return inner


async def coroutine(x):
    return x
'''


def _functions(module):
    """The functions defined in `module`'s file (and their methods and nested functions reached by a call)."""
    for obj in vars(module).values():
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename == module.__file__:
            yield obj
        elif isinstance(obj, type) and obj.__module__ == module.__name__:
            for m in vars(obj).values():
                m = getattr(m, "__func__", m)
                if isinstance(m, types.FunctionType) and m.__code__.co_filename == module.__file__:
                    yield m     # (not a dataclass's methods, made from source of its own)


def _agree(fn):
    lines, first = parse._source_lines(fn)
    want, want_first = inspect.getsourcelines(fn)
    assert first == want_first, fn
    assert lines == want[:len(lines)], fn
    assert all(not w.strip() or w.strip().startswith("#") for w in want[len(lines):]), fn


def test_a_defs_lines_are_inspects(monkeypatch):
    mod = source_module("parse_lines", SOURCE)
    fns = list(_functions(mod)) + [mod.Holder.static(1.0), mod.deco(mod.one_liner)]
    with monkeypatch.context() as m:     # found without inspect
        m.setattr(inspect, "getsourcelines", None)
        found = [parse._source_lines(fn) for fn in fns]
    for fn, got in zip(fns, found):
        _agree(fn)
        assert got == parse._source_lines(fn)
    lines, _ = parse._source_lines(mod.trailing)
    assert lines[-1] == "                  )\n"
    assert parse._source_lines(mod.decorated)[0][:2] == ["@deco\n", "@deco\n"]
    assert len(fns) == 9
    with pytest.raises(TypeError):      # (a wrapper of a builtin: as inspect, which parse.parse reports)
        parse._source_lines(mod.deco(len))


def test_the_package_defs_lines_are_inspects():
    seen = 0
    for module in (srcdiff.compiler, srcdiff.transforms.kinds, srcdiff.transforms.reverse, parse, functools):
        for fn in _functions(module):
            _agree(fn)
            seen += 1
    assert seen > 100


def test_a_lambda_is_left_to_inspect():
    mod = source_module("parse_lambda", "double = lambda x: 2.0 * x\n")
    assert parse._source_lines(mod.double) == inspect.getsourcelines(mod.double)
    assert srcdiff.grad(mod.double)(1.5) == 2.0


BIG = np.zeros(200_000)     # a module global every unit of this file's functions can see


def reads_a_big_global(x):
    return x * BIG[0]


def test_a_units_repr_is_short():
    """A failing test's report, pdb or a traceback printing a Unit (errors.fail's argument) printed every
    namespace it holds, this module's globals and the units of its callees: a test whose SrcdiffError was
    reported that way took minutes and gigabytes (a CI worker died of it)."""
    unit = parse.parse(reads_a_big_global)
    ctx = srcdiff.compiler.Context(unit=unit)
    for r in (repr(unit), repr(ctx)):
        assert len(r) < 300 and "reads_a_big_global" in r


GAST_SOURCE = '''import numpy as np
from os import path as p


@functools.lru_cache(maxsize=2)
def f(x, /, y: float = 1.0, *args, z=None, **kw) -> float:
    """doc"""
    global g
    a, (b, *c) = x[1:-1:2, ..., None], (y, 2j, b'x')
    a += -x ** 2 if x > 0 and not y else ~3
    d = {k: v for k, v in kw.items() if v}, {1, 2}, [i for i in range(3) for j in range(i)], (n for n in x)
    e = lambda q, *r, s=1, **t: q
    if (w := y) is None or 1 < w <= 2:
        del a
    for i in range(3):
        continue
    else:
        pass
    while False:
        break
    try:
        raise ValueError(f"{x!r:>{y}} and {y}") from None
    except (TypeError, ValueError) as err:
        assert err, "m"
    except Exception:
        pass
    finally:
        pass
    with open(p) as fh, open(p):
        yield fh
    match x:
        case [1, *rest] | {"k": _} if rest:
            pass
        case C(a=1) | None:
            pass
    return np.float64(inf)


async def h():
    async with a as b:
        await b
    async for i in b:
        pass


class C(B, metaclass=M):
    x: int = 1
'''


def _same_gast(a, b, path="tree"):
    assert type(a) is type(b), path
    if isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            _same_gast(x, y, f"{path}[{k}]")
    elif isinstance(a, gast.AST):
        assert list(a.__dict__) == list(b.__dict__), path    # fields, then positions, in gast's order
        for key in a.__dict__:
            _same_gast(a.__dict__[key], b.__dict__[key], f"{path}.{key}")
    else:
        assert a == b, path


def test_gast_parse_makes_gast_parses_tree():
    """transforms/gast_parse.py: the tree gast.parse makes, node for node (classes, fields in order, values and
    positions), for every construct of the language (its own converter for names, parameters, definitions and
    exception handlers; the generic copy for the rest); and a few of the package's modules."""
    from srcdiff.transforms import emit, gast_parse, reverse
    _same_gast(gast_parse.parse(GAST_SOURCE), gast.parse(GAST_SOURCE))
    for path in (parse.__file__, emit.__file__, reverse.__file__):
        with open(path) as fh:
            text = fh.read()
        _same_gast(gast_parse.parse(text), gast.parse(text), path)


def test_definition_ends_finds_the_defs_in_every_block():
    """`_definition_ends` looks at statements only (no walk of every expression of the file): a def in a handler,
    a match case, a loop's else, a with, a class body or another def is found as ast.walk finds it."""
    import ast
    text = ("try:\n    def a(): pass\nexcept E:\n    def b(): pass\nelse:\n    def c(): pass\nfinally:\n"
            "    def d(): pass\nmatch v:\n    case 1:\n        def e(): pass\nwhile x:\n    pass\nelse:\n"
            "    def f(): pass\nwith m:\n    class K:\n        @deco\n        def g(self):\n            def h():\n"
            "                return lambda: 0\n            return h\nasync def i():\n    pass\n")
    want = {(min([n.lineno] + [d.lineno for d in n.decorator_list]), n.name): n.end_lineno
            for n in ast.walk(ast.parse(text)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert len(want) == 9
    assert parse._definition_ends(text) == want
