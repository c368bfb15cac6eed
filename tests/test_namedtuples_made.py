"""transforms/record_forms.py: namedtuples the function makes, `s = State(x=a, v=b)`, read by field, by index and
unpacked, changed by `_replace` into a new name or into the same one (a loop's state, a branch's), and their
methods. `_replace` was "call to collections._replace has no differentiation rule", and a name bound to a
namedtuple twice, "call to State: classes, instances and bound methods are not supported" (h23c). A binding reads
the old fields before it binds any (`_replace(x=s.x + h * s.v, v=s.v - h * np.sin(s.x))` steps both from the same
state). Checked against central differences, Python == Numba, jvp == vjp."""
import collections
import inspect
import sys
import typing

import numpy as np
import pytest

import srcdiff
from gradcheck import check_value_grad_jvp

State = collections.namedtuple("State", ["x", "v"])
Other = collections.namedtuple("Other", ["x", "v"])
JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


class Body(typing.NamedTuple):
    m: float
    q: np.ndarray

    def energy(self):
        return self.m * self.m + np.sum(self.q ** 2)


def stepped_in_a_loop(a, b, n):
    s = State(x=a, v=b)
    for i in range(n):
        s = s._replace(x=s.x + 0.1 * s.v, v=s.v - 0.1 * np.sin(s.x))
    return np.sum(s.x * s.v)


def replaced_into_a_new_name(a, b, n):
    s = State(a, v=b)
    s2 = s._replace(x=s.x + 0.1 * s.v)
    t = Body(a[0] * 2.0, b)
    x, v = s2
    return np.sum(x * v) + s[0][0] + t.energy() + t.q[1]


def bound_in_branches(a, b, n):
    s = State(a * 0.5, b)
    if np.sum(a) > 0.0:
        s = s._replace(v=np.tanh(s.v) * s.x)
    else:
        s = State(x=np.cos(s.x), v=s.v * 2.0)
    return np.sum(s.x ** 2 * s.v)


A, B = np.array([0.3, 0.5]), np.array([1.0, -0.2])
CASES = [(stepped_in_a_loop, (A, B, 3)), (replaced_into_a_new_name, (A, B, 3)), (bound_in_branches, (A, B, 0)),
         (bound_in_branches, (-A, B, 0))]


@JIT
@pytest.mark.parametrize("f, args", CASES, ids=["loop", "new_name", "branch_taken", "branch_not_taken"])
def test_namedtuples_made_and_replaced(f, args, jit):
    check_value_grad_jvp(f, args, (0, 1), jit, (np.array([0.5, -1.0]), np.array([0.25, 2.0])), atol=1e-8)


def another_class(a, b):
    s = State(a, b)
    if np.sum(a) > 0.0:
        s = Other(b, a)   # <- another_class
    return np.sum(s.x)


def replace_of_a_missing_field(a, b):
    s = State(a, b)
    s2 = s._replace(y=a)   # <- replace_of_a_missing_field
    return np.sum(s2.x)


def _sum_x(s):
    return np.sum(s.x)


def replace_passed_on(a, b):
    s = State(a, b)
    return _sum_x(s._replace(x=a * 2.0))   # <- replace_passed_on


def _fields_stepped(s, h):
    return s.x + h * s.v, s.v


def field_of_a_returned_value(a, b):
    s = State(a, b)
    s2 = _fields_stepped(s, 0.1)
    return np.sum(s2.x)   # <- field_of_a_returned_value


def _line(tag):
    src, _ = inspect.getsourcelines(sys.modules[__name__])
    return next(i for i, t in enumerate(src, 1) if f"# <- {tag}" in t)


@pytest.mark.parametrize("f, words, advice", [
    (another_class, "'s' bound here to a Other and before to a State", "bind the Other to a name of its own"),
    (replace_of_a_missing_field, "`s._replace(...)` with arguments other than fields ('x', 'v')",
     "give each changed field by name"),
    # (were "call to collections._replace has no differentiation rule" and "attribute .x of a local value is not
    # supported" / "only arrays' .T, .shape, .ndim, .size, .dtype can be read", naming no construct)
    # (a function of yours returning `s._replace(...)` was declined so too until h27c: test_namedtuples_returned.py)
    (replace_passed_on, "a namedtuple's `._replace(...)` used other than bound to a name or returned",
     "bind it to a name first (`s2 = s._replace(...)`)"),
    (field_of_a_returned_value, "`s2.x` of `s2`, the value your function `_fields_stepped` returns",
     "unpack them here (`x, v = _fields_stepped(...)`)")],
    ids=["another_class", "missing_field", "replace_passed_on", "field_of_a_returned_value"])
def test_namedtuples_declined_at_the_line(f, words, advice):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f)(A, B)
    msg = str(info.value)
    assert f"test_namedtuples_made.py:{_line(f.__name__)}" in msg, msg
    assert words in msg and advice in msg, msg


# ---- a namedtuple argument bound again by `_replace` (or its class): its own name, also in a loop, a branch, a helper
# (record_forms.records_bound_again). Each was declined as "attribute .W of a local value" (h25c); a helper's as
# "shrink assigns an item of its parameter 's'".

Params = collections.namedtuple("Params", ["W", "b"])


def replaced_argument(x, s):
    s = s._replace(W=s.W * 2.0)
    return np.sum(s.W * x + s.b)


def replaced_in_a_loop(x, s, n):
    for i in range(n):
        s = s._replace(W=s.W + 0.1 * np.tanh(s.W) * s.b, b=s.b * 0.9 + np.sum(s.W * x) * 0.01)
    return np.sum(s.W * x) + s.b * s.b


def replaced_in_a_branch(x, s):
    if np.sum(x) > 0.0:
        s = s._replace(b=s.b * 2.0)
    else:
        s = Params(W=np.sin(s.W), b=s.b)
    return np.sum(s.W * x) * s.b


def shrink(s):
    s = s._replace(W=s.W * 0.5)
    return np.sum(s.W ** 2) + s.b


def replaced_in_a_helper(x, s):
    t = s._replace(b=s.b + np.sum(x))
    s = s._replace(b=s.b + 1.0)
    return shrink(s) * np.sum(x) + shrink(t) + np.sum(s.W * x)


def replaced_then_a_method(x, s):
    s = s._replace(q=s.q * x)
    return s.energy() + s.m


P0 = Params(np.array([0.3, -0.4]), 0.7)
REPLACED = [(replaced_argument, (A, P0)), (replaced_in_a_loop, (A, P0, 3)), (replaced_in_a_branch, (A, P0)),
            (replaced_in_a_branch, (-A, P0)), (replaced_in_a_helper, (A, P0)),
            (replaced_then_a_method, (A, Body(0.5, np.array([1.0, -2.0]))))]


def _leaves(v):
    return [x for w in v for x in _leaves(w)] if isinstance(v, tuple) else [v]


def _numerical(f, args, k, eps=1e-6):
    """Central differences of f w.r.t. each leaf of its argument k (a namedtuple, an array or a number)."""
    like = args[k]
    flat = [np.array(v, dtype=float) for v in _leaves(like)]
    out = []
    for j, leaf in enumerate(flat):
        g = np.zeros_like(leaf)
        for i in np.ndindex(leaf.shape):
            vals = []
            for h in (eps, -eps):
                moved = [v.copy() for v in flat]
                moved[j][i] += h
                arg = type(like)(*[m if np.ndim(m) else float(m) for m in moved]) if isinstance(like, tuple) \
                    else moved[0]
                vals.append(f(*args[:k], arg, *args[k + 1:]))
            g[i] = (vals[0] - vals[1]) / (2 * eps)
        out.append(g)
    return out


@JIT
@pytest.mark.parametrize("f, args", REPLACED, ids=["argument", "loop", "branch_taken", "branch_not_taken", "helper",
                                                   "method"])
def test_a_namedtuple_argument_replaced_under_its_own_name(f, args, jit):
    """value = f, the gradient w.r.t. x and each field of s = central differences (a namedtuple of s's class),
    Numba = Python, jvp along a namedtuple tangent = the gradients' dot product."""
    value, (gx, gs) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(*args)
    assert np.isclose(value, f(*args))
    assert type(gs) is type(args[1])
    for k, g in ((0, [gx]), (1, _leaves(gs))):
        for got, want in zip(g, _numerical(f, args, k)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    if jit:
        gx2, gs2 = srcdiff.grad(f, wrt=(0, 1))(*args)
        for a, b in zip([gx] + _leaves(gs), [gx2] + _leaves(gs2)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    tx = np.array([0.5, -1.0])
    ts = type(args[1])(*[np.ones_like(v) * 0.25 if np.ndim(v) else 0.75 for v in args[1]])
    v2, directional = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(*args, (tx, ts))
    assert np.isclose(v2, value)
    expect = np.sum(gx * tx) + sum(np.sum(g * t) for g, t in zip(_leaves(gs), _leaves(ts)))
    assert np.isclose(directional, expect)


Nest = collections.namedtuple("Nest", ["pair", "c"])


def replaced_holding_a_tuple(x, s):
    s = s._replace(c=s.c * 2.0)   # <- replaced_holding_a_tuple
    return np.sum(s.pair[0] * x) * s.c


def rebuilt_holding_a_tuple(x, s):
    s = Nest(s.pair, s.c * 2.0)   # <- rebuilt_holding_a_tuple
    return np.sum(s.pair[0] * x) * s.c


def argument_bound_to_another_class(x, s):
    s = Other(s.W, s.b)   # <- argument_bound_to_another_class
    return np.sum(s.x * x)


@pytest.mark.parametrize("f, arg, words, advice", [
    (replaced_holding_a_tuple, Nest((A, B), 2.0), "`s._replace(...)` of a namedtuple holding tuples, lists or dicts",
     "keep the changed field in a variable of its own (c2 = ...) and read it where s.c was read"),
    (rebuilt_holding_a_tuple, Nest((A, B), 2.0), "'s', a namedtuple argument holding tuples, lists or dicts, bound "
                                                 "again here", "bind the new Nest to a name of its own"),
    (argument_bound_to_another_class, P0, "'s' bound here to a Other and before to a Params",
     "bind the Other to a name of its own")], ids=["replace_nested", "rebuild_nested", "another_class"])
def test_a_namedtuple_argument_bound_again_declined_at_the_line(f, arg, words, advice):
    with pytest.raises(srcdiff.SrcdiffError) as info:
        srcdiff.grad(f, wrt=1)(A, arg)
    msg = str(info.value)
    assert f"test_namedtuples_made.py:{_line(f.__name__)}" in msg, msg
    assert words in msg and advice in msg, msg

def _energy(s):
    return np.sum(s.x ** 2) + 0.5 * np.sum(s.v ** 2)


def argument_as_a_loops_state(s0, h):
    s = s0
    for t in range(6):
        s = State(x=s.x + h * s.v, v=s.v - h * np.sin(s.x))
        if np.sum(s.x) > 3.0:
            s = s._replace(v=s.v * 0.5)
    return _energy(s) + np.sum(s0.x * s.v)


def argument_replaced_in_a_loop(s, h):
    e0 = _energy(s)
    for t in range(5):
        s = s._replace(x=s.x + h * s.v)
        s = s._replace(v=s.v - h * s.x ** 3)
    return _energy(s) - e0


def argument_replaced_in_a_branch(s, h):
    if np.sum(s.x) > 0.0:
        s = s._replace(x=s.x * h)
    return _energy(s)


def argument_reset_in_a_loop(s0, h):
    tot = 0.0
    for k in range(3):
        s = s0
        for t in range(k + 1):
            s = State(s.x + h * s.v, s.v * (1.0 - h))
        tot = tot + _energy(s)
    return tot


def _advanced(s, h, n):
    for t in range(n):
        s = s._replace(x=s.x + h * s.v)
    return _energy(s)


def helper_replacing_its_parameter(s0, h):
    s = s0._replace(v=s0.v * 0.5)
    return _advanced(s0, h, 3) + _advanced(s, h, 1)


@JIT
@pytest.mark.parametrize("f", [argument_as_a_loops_state, argument_replaced_in_a_loop, argument_replaced_in_a_branch,
                               argument_reset_in_a_loop, helper_replacing_its_parameter])
def test_a_namedtuple_argument_bound_again_to_namedtuples_made_here(f, jit):
    """A namedtuple argument bound again (`s = s._replace(...)` of the parameter itself) or a second name of one
    (`s = s0`, then `s = State(...)` in a loop) was declined: "attribute .x of a local value is not supported" (the
    name stayed a tuple value, as a tuple argument bound again does); its fields are variables bound at each
    binding, as of a namedtuple made here; in a function of yours (`_advanced`), not declined as a write into the
    caller's items (the caller's namedtuple stays as it was). Gradient = central differences, Numba = Python, jvp =
    gradient . v."""
    from gradcheck import rebuilt_structure, structure_leaves
    s, h, eps = State(np.array([0.3, -0.2, 0.5]), np.array([1.0, 0.4, -0.6])), 0.2, 1e-6
    value, (ds, dh) = srcdiff.value_and_grad(f, wrt=(0, 1), jit=jit)(s, h)
    assert value == pytest.approx(f(s, h), rel=1e-12)
    assert isinstance(ds, State)
    flat = np.concatenate(structure_leaves(s))
    shifted = lambda d: f(rebuilt_structure(s, iter(np.split(flat + d, [3]))), h)     # noqa: E731
    want = [(shifted(e * eps) - shifted(-e * eps)) / (2 * eps) for e in np.eye(6)]
    np.testing.assert_allclose(np.concatenate(structure_leaves(ds)), want, rtol=1e-6, atol=1e-8)
    assert dh == pytest.approx((f(s, h + eps) - f(s, h - eps)) / (2 * eps), rel=1e-6, abs=1e-8)
    t = (State(np.array([0.5, -1.0, 0.2]), np.array([0.25, 2.0, -0.3])), 0.7)
    _, d = srcdiff.jvp(f, wrt=(0, 1), jit=jit)(s, h, t)
    assert d == pytest.approx(np.sum(ds.x * t[0].x) + np.sum(ds.v * t[0].v) + dh * t[1], rel=1e-9)
