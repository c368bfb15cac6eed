"""transforms/parse.py: where a function's source is found. `_source_lines` takes a def's lines from the line
numbers of the file's definitions instead of tokenizing them as inspect.getsourcelines does; it must give
inspect's lines (but for comment lines after the last statement, which parse to nothing) for every def:
module functions, methods, nested and decorated ones, one-liners, and those whose last statement spans lines."""
import functools
import inspect
import types

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
