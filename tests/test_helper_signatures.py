"""What a user writes around helpers' signatures and structured arguments, each made to work or declined at the
line of the construct with advice for it (h23c): keyword-only parameters of module-level helpers (bound as Python
binds them: work), `**kwargs` / `*args` parameters of a helper (declined at its def, naming it), a call passing
`**opts` (declined at the call), a nested def with `**kw` (declined at it), and a frozen dataclass argument
(declined, advising a typing.NamedTuple, which the same code differentiates)."""
import dataclasses
import inspect
import sys
import typing

import numpy as np
import pytest

import srcdiff
from gradcheck import check_value_grad_jvp

JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def scaled(x, *, s=1.0, t):
    return x * s + t


def keyword_only_helper(x):
    return scaled(x, t=x * x) + scaled(x, s=3.0, t=0.5) * np.sin(x)


@JIT
def test_keyword_only_parameters_of_a_helper(jit):
    check_value_grad_jvp(keyword_only_helper, (1.5,), (0,), jit, (0.5,))


def by_kwargs(x, **kw):   # <- by_kwargs
    return x * kw["s"]


def calls_by_kwargs(x):
    return by_kwargs(x, s=2.0)


def by_args(x, *rest):   # <- by_args
    return x * rest[0]


def calls_by_args(x):
    return by_args(x, 2.0)


def plain(x, s):
    return x * s


def passes_opts(x):
    opts = {"s": 2.0}
    return plain(x, **opts)   # <- passes_opts


def nested_kwargs(x):
    def g(v, **kw):   # <- nested_kwargs
        return v * kw["s"]
    return g(x, s=2.0)


def _line(tag):
    src, _ = inspect.getsourcelines(sys.modules[__name__])
    return next(i for i, t in enumerate(src, 1) if f"# <- {tag}" in t)


@pytest.mark.parametrize("f, tag, words, advice", [
    (calls_by_kwargs, "by_kwargs", "by_kwargs: *args and **kwargs parameters are not supported",
     "name every parameter (defaults and keyword-only parameters are fine)"),
    (calls_by_args, "by_args", "by_args: *args and **kwargs parameters are not supported", "name every parameter"),
    (passes_opts, "passes_opts", "a call with **opts: a dict's items passed as keyword arguments",
     "pass the arguments as literal keywords"),
    (nested_kwargs, "nested_kwargs", "nested function 'g' has *args or **kwargs", "name each parameter")],
    ids=["kwargs_helper", "args_helper", "call_with_opts", "nested_kwargs"])
def test_variadic_helpers_declined_at_the_construct(f, tag, words, advice):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f)(1.5)
    msg = str(info.value)
    assert f"test_helper_signatures.py:{_line(tag)}" in msg, msg
    assert words in msg and advice in msg, msg


@dataclasses.dataclass(frozen=True)
class Frozen:
    W: np.ndarray
    b: float


class Record(typing.NamedTuple):     # (the advice's form of Frozen)
    W: np.ndarray
    b: float


def layer(p, x):
    return np.sum(np.tanh(p.W @ x + p.b))


def test_a_frozen_dataclass_argument_is_declined_advising_a_namedtuple():
    W, x = np.arange(6.0).reshape(2, 3) * 0.1, np.array([1.0, -2.0, 0.5])
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(layer)(Frozen(W, 0.2), x)
    msg = str(info.value)
    assert "argument 'p' (differentiated) is a Frozen (a dataclass)" in msg, msg
    assert "make Frozen a typing.NamedTuple (class Frozen(typing.NamedTuple): W: ..., b: ...)" in msg, msg
    g = srcdiff.grad(layer)(Record(W, 0.2), x)      # (the advice works: the gradient by field, a Record)
    assert type(g) is Record
    z = 1.0 - np.tanh(W @ x + 0.2) ** 2
    np.testing.assert_allclose(g.W, np.outer(z, x), rtol=1e-12)
    assert np.isclose(g.b, np.sum(z))
