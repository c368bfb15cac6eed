"""transforms/record_returns.py and RecordForms (record_forms.py): namedtuples your functions return, `def step(s, g):
return s._replace(W=s.W - lr * g)` (also `return State(a, b)`, `return s` of a name bound only to those, `return
step(s, g)`), bound to a name (`s2 = step(s, g)`, `s = step(s, g)` in a loop too), unpacked (`W2, b2 = step(s, g)`)
or read by field (`step(s, g).W`), of module-level functions and nested defs alike. Before (h27c): declined, "`s2.W`
of `s2`, the value your function `step` returns", "a namedtuple's `._replace(...)` used other than bound to a name",
or "a namedtuple S(...) made here whose fields srcdiff cannot make variables of". Checked against central differences,
Python == Numba, jvp == vjp."""
import collections
import typing

import numpy as np
import pytest

import srcdiff
from gradcheck import check_value_grad_jvp

S = collections.namedtuple("S", ["W", "b"])
T = collections.namedtuple("T", ["W", "b"])
JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def step(s, g, lr=0.1):
    return s._replace(W=s.W - lr * g * s.b)


def make(W, b):
    return S(b=np.tanh(b), W=W * 2.0)


def stepped_twice(s, g):
    s = s._replace(b=s.b * 0.5)
    for i in range(2):
        s = s._replace(W=np.sin(s.W) + g)
    return s


def chained(s, g):
    s2 = step(s, g)
    return step(s2, g)


def read_by_field(W, b, x):
    s = S(W, b)
    s2 = step(s, x)
    return np.sum(s2.W * s2.b) + np.sum(s.W)


def unpacked(W, b, x):
    W2, b2 = step(S(W, b), x)
    return np.sum(W2 ** 2 * b2)


def bound_again_in_a_loop(W, b, x):
    s = make(W, b)
    for i in range(3):
        s = step(s, x, lr=0.2)
    return np.sum(s.W * np.cos(s.b))


def read_at_once(W, b, x):
    s = S(W, b)
    return np.sum(step(s, x).W * step(s, x)[1]) + np.sum(stepped_twice(s, x).b)


def through_a_chain(W, b, x):
    s = S(W, b)
    t = chained(s, x)
    u = stepped_twice(t, x)
    return np.sum(u.W * t.b)


def nested_defs(W, b, x):
    def nstep(s):
        return s._replace(b=s.b + x * s.W)

    def nmake(u, v):
        q = S(u, v * 2.0)
        return q
    s = nmake(W, b)
    s = nstep(s)
    s2 = nstep(s)
    return np.sum(s2.b * s.W)


def of_an_argument(s, x):
    s2 = step(s, x)
    s = stepped_twice(s2, x)
    return np.sum(s.W * s2.b)


W0, B0, X0 = np.array([0.3, -0.5, 1.1]), np.array([0.7, 0.2, -0.4]), np.array([1.0, 2.0, -0.5])
TANGENTS = (np.array([0.5, -1.0, 0.3]), np.array([0.25, 2.0, -1.0]))


@JIT
@pytest.mark.parametrize("f", [read_by_field, unpacked, bound_again_in_a_loop, read_at_once, through_a_chain,
                               nested_defs])
def test_a_namedtuple_a_function_of_yours_returns(f, jit):
    check_value_grad_jvp(f, (W0.copy(), B0.copy(), X0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)


# ---- a namedtuple a function of yours returns passed straight to another call, `g(step(s, x))` (h29c): bound to a
# name first (transforms/passed_records.py), as the same program written so was differentiated; declined before as
# "used here other than bound to a name, unpacked or read by field".
def passed_on(W, b, x):
    s = S(W, b)
    return np.sum(np.tanh(stepped_twice(step(s, x), x).W))


def passed_whole(W, b, x):
    return np.sum(step(S(W, b), x))


def energy(s, w=1.0):
    return np.sum(s.W * s.b) * w


def passed_in_places(W, b, x):
    s = S(W, b)
    total = energy(step(step(s, x), x), w=np.sum(x))       # nested, beside a keyword argument
    for i in range(2):
        total = total + energy(s=step(s, np.cos(x), lr=0.3))    # by keyword, in a loop
        s = step(s, 0.5 * x)
    if energy(stepped_twice(s, x)) > 0.0:                   # an if's test
        total = total * 1.5
    return total + energy(make(np.sin(W), b))


def passed_after_a_call(W, b, x):
    s = S(W, b)
    return energy(s) + energy(step(s, x))    # energy(s) runs first: step is not bound before it


@JIT
@pytest.mark.parametrize("f", [passed_on, passed_whole, passed_in_places])
def test_passed_straight_to_a_call(f, jit):
    check_value_grad_jvp(f, (W0.copy(), B0.copy(), X0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)


@JIT
def test_of_a_namedtuple_argument(jit):
    g = srcdiff.grad(of_an_argument, jit=jit)(S(W0.copy(), B0.copy()), X0.copy())
    flat = lambda W, b: of_an_argument(S(W, b), X0)
    check_value_grad_jvp(flat, (W0.copy(), B0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)
    expect = srcdiff.grad(flat, wrt=(0, 1))(W0.copy(), B0.copy())
    assert isinstance(g, S)
    np.testing.assert_allclose(g.W, expect[0], rtol=1e-12)
    np.testing.assert_allclose(g.b, expect[1], rtol=1e-12)


def some_paths(s, g):
    if np.sum(g) > 0.0:
        return s._replace(W=g)
    return 0.0    # <- some_paths


def on_some_paths(W, b, x):
    s2 = some_paths(S(W, b), x)
    return np.sum(s2.W)


def either(s, g):
    if np.sum(g) > 0.0:
        return s._replace(W=g)
    return T(g, s.b)


def classes_differ(W, b, x):
    s2 = either(S(W, b), x)
    return np.sum(s2.W)


def returns_one(W, b):
    s = step(S(W, b), b)
    return s


@pytest.mark.parametrize("f, words, advice", [
    (on_some_paths, r"test_namedtuples_returned.py:\d+: a function of yours \(some_paths\) that returns a namedtuple "
                    r"on some path but here another value", r"same class on every path"),
    (classes_differ, r"test_namedtuples_returned.py:\d+: either returns namedtuples of different classes here \(S, T\)",
     r"one class on every path"),
    (passed_after_a_call, r"test_namedtuples_returned.py:\d+: the namedtuple your function step returns, used here "
                          r"other than bound to a name, unpacked, read by field or passed to a call at a point of the "
                          r"statement that runs before any other call of yours", r"s2 = step\(\.\.\.\)"),
    (returns_one, r"test_namedtuples_returned.py:\d+: grad needs a function that returns a scalar: one number; this "
                  r"one returns a S namedtuple \(fields W, b\)", r"return np.sum\(s.W \*\* 2\) \+ np.sum\(s.b \*\* 2\)"
                                                                r"`\) to take grad of it; srcdiff.jvp\(f\)"),
], ids=["some_paths", "classes_differ", "passed_after_a_call", "top_level"])
def test_declined_at_the_line(f, words, advice):
    with pytest.raises(srcdiff.SrcdiffError, match=words + "(?s:.*)hint: .*" + advice):
        srcdiff.grad(f, wrt=(0, 1))(W0.copy(), B0.copy(), *([X0.copy()] if f is not returns_one else []))



# ---- a method of the namedtuple's class returning a changed copy (`s2 = s.step(g)`, `s = s.step(g)` in a loop):
# record_forms.record_methods_named writes it as the call of the class's function, `P_step(s, g)`. It was declined as
# "`s2.W` of `s2`, the value your function `P_step` returns" and "a namedtuple P(...) made here whose fields srcdiff
# cannot make variables of" (h27c). A typing.NamedTuple class stepped by a function of yours, and a function of yours
# that changes it in a branch and returns it, too.

class P(typing.NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def step(self, g):
        return self._replace(W=self.W - 0.1 * g * self.b)

    def both(self, g):
        s = self.step(g)
        return s._replace(b=np.tanh(s.b))


def method_into_a_new_name(W, b, x):
    s = P(W, b)
    s2 = s.step(x)
    return np.sum(s2.W * s2.b) + np.sum(s.both(x).b)


def method_in_a_loop(W, b, x):
    s = P(W, b)
    for i in range(3):
        s = s.both(x)
    return np.sum(s.W * s.b)


def branchy(s, g):
    if np.sum(g) > 0.0:
        s = s._replace(W=s.W * 2.0)
    else:
        s = s._replace(b=s.b + g)
    return s


def changed_in_a_branch(W, b, x):
    s = P(W, b)
    s = branchy(s, x)
    s = branchy(s, -x)
    return np.sum(s.W * s.b)


@JIT
@pytest.mark.parametrize("f", [method_into_a_new_name, method_in_a_loop, changed_in_a_branch])
def test_methods_and_branches(f, jit):
    check_value_grad_jvp(f, (W0.copy(), B0.copy(), X0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)


def method_of_an_argument(s, x):
    for i in range(2):
        s = s.step(x)
    return np.sum(s.W * s.b)


@JIT
def test_a_method_of_a_namedtuple_argument(jit):
    g = srcdiff.grad(method_of_an_argument, jit=jit)(P(W0.copy(), B0.copy()), X0.copy())
    flat = lambda W, b: method_of_an_argument(P(W, b), X0)
    expect = srcdiff.grad(flat, wrt=(0, 1))(W0.copy(), B0.copy())
    assert isinstance(g, P)
    check_value_grad_jvp(flat, (W0.copy(), B0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)
    np.testing.assert_allclose(g.W, expect[0], rtol=1e-12)
    np.testing.assert_allclose(g.b, expect[1], rtol=1e-12)


# ---- the function differentiated returning a namedtuple (h29c): jvp gives its value and tangent as namedtuples of its
# class (the API's transforms of an array-valued function: jvp and jacobian); grad and value_and_grad say they need one
# number, jacobian one array, naming the class and its fields (all three were "the function you differentiate returns
# a namedtuple", jvp too).
def state_of(W, b):
    s = S(np.sin(W) * b, np.sum(W * b))
    return s._replace(b=s.b * np.tanh(b[0]))


def stepped_state(s, x):
    return s._replace(W=s.W * np.tanh(x), b=s.b + 0.5 * x)


@JIT
def test_jvp_of_a_function_returning_a_namedtuple(jit):
    e = 1e-6
    value, tangent = srcdiff.jvp(state_of, wrt=(0, 1), jit=jit)(W0.copy(), B0.copy(), TANGENTS)
    plus = state_of(W0 + e * TANGENTS[0], B0 + e * TANGENTS[1])
    minus = state_of(W0 - e * TANGENTS[0], B0 - e * TANGENTS[1])
    assert isinstance(value, S) and isinstance(tangent, S)
    for field in S._fields:
        np.testing.assert_allclose(getattr(value, field), getattr(state_of(W0, B0), field), rtol=1e-12)
        np.testing.assert_allclose(getattr(tangent, field), (getattr(plus, field) - getattr(minus, field)) / (2 * e),
                                   rtol=1e-6, atol=1e-8)
    # of a namedtuple argument's changed copy: the argument's class, its tangent a namedtuple of it too
    s0, dx = S(W0.copy(), B0.copy()), np.array([0.2, -0.3, 0.4])
    value, tangent = srcdiff.jvp(stepped_state, wrt=(0, 1), jit=jit)(s0, X0.copy(), (S(*TANGENTS), dx))
    plus = stepped_state(S(W0 + e * TANGENTS[0], B0 + e * TANGENTS[1]), X0 + e * dx)
    minus = stepped_state(S(W0 - e * TANGENTS[0], B0 - e * TANGENTS[1]), X0 - e * dx)
    assert isinstance(tangent, S)
    for got, p, m in zip(tangent, plus, minus):
        np.testing.assert_allclose(got, (p - m) / (2 * e), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("transform, words", [
    (srcdiff.grad, r"grad needs a function that returns a scalar: one number; this one returns a S namedtuple "
                   r"\(fields W, b\)"),
    (srcdiff.value_and_grad, r"value_and_grad needs a function that returns a scalar: one number"),
    (srcdiff.jacobian, r"jacobian of a function that returns a S namedtuple \(fields W, b\): the jacobian is of one "
                       r"array"),
])
def test_a_namedtuple_result_where_one_value_is_needed(transform, words):
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_namedtuples_returned.py:\d+: " + words + r"(?s:.*)hint: .*"
                                                   r"srcdiff.jvp\(f\)"):
        transform(state_of, wrt=(0, 1))(W0.copy(), B0.copy())


# ---- a method called on a name first bound to another name's method call, `q = p.step(g)` then `q = q.step(g)` in
# a loop, on a second name, `r = p; q = r.step(g)`, or on `s = s0._replace(...)` of an argument: record_methods_named
# follows the class through those bindings (h29d). Declined before as "the namedtuple your function P_step returns, used
# here other than bound to a name" (at `q = p.step(g)`, which binds a name) and "method .step() is not supported". A
# method returning another class (`to_q`) is followed to that class's methods (Q.step, not P.step).

class Q(typing.NamedTuple):
    W: np.ndarray
    b: np.ndarray

    def step(self, g):
        return self._replace(b=self.b * np.cos(g) + self.W)


def _to_q(self):
    return Q(W=self.W * 3.0, b=self.b)


P.to_q = _to_q


def method_then_method_again(W, b, x):
    s = P(W, b)
    q = s.step(x)
    for i in range(2):
        q = q.step(x)
    return np.sum(q.W * q.b)


def method_of_a_second_name(W, b, x):
    s = P(W, b)
    r = s
    q = r.both(x)
    return np.sum(q.W * q.b)


def method_of_a_replaced_copy(W, b, x):
    s = P(W, b)
    t = s._replace(b=b * 2.0)
    t = t.step(x)
    return np.sum(t.W * t.b)


def method_of_another_class(W, b, x):
    s = P(W, b)
    q = s.to_q()
    q = q.step(x)
    return np.sum(q.W * q.b)


@JIT
@pytest.mark.parametrize("f", [method_then_method_again, method_of_a_second_name, method_of_a_replaced_copy,
                               method_of_another_class])
def test_methods_of_names_bound_to_methods(f, jit):
    check_value_grad_jvp(f, (W0.copy(), B0.copy(), X0.copy()), (0, 1), jit, TANGENTS, atol=1e-8)


def method_of_an_argument_copy(s, x):
    t = s._replace(b=s.b * 0.5)
    t = t.step(x)
    u = t.step(x * 2.0)
    return np.sum(u.W * u.b)


def test_a_method_of_an_argument_copy():
    g = srcdiff.grad(method_of_an_argument_copy)(P(W0.copy(), B0.copy()), X0.copy())
    flat = lambda W, b: method_of_an_argument_copy(P(W, b), X0)
    check_value_grad_jvp(flat, (W0.copy(), B0.copy()), (0, 1), False, TANGENTS, atol=1e-8)
    expect = srcdiff.grad(flat, wrt=(0, 1))(W0.copy(), B0.copy())
    np.testing.assert_allclose(g.W, expect[0], rtol=1e-12)
    np.testing.assert_allclose(g.b, expect[1], rtol=1e-12)


_MAKES_ITS_STATE = '''import numpy as np
from collections import namedtuple
State = namedtuple("State", {fields!r})


def mk(a, b):
    return State(a, b)


def f(x, y):
    s = mk(x, y)
    return np.sum(s.W * 2.0 + np.sin(s.b))
'''


@JIT
def test_a_helper_alike_in_another_module_returns_its_own_class(jit):
    """Two modules whose `mk` is the same code on the same line (code objects compare equal: name, line, bytecode,
    names; not the file), each `State` with its fields in another order: the second module's gradient took the first
    module's State (record_returns cached returned_records per code object), d/dx [2, 2, 2] for [cos x]."""
    from gradcheck import numerical_grad, source_module
    first = source_module(f"nt_alike_wb_{jit}", _MAKES_ITS_STATE.format(fields=["W", "b"]))
    second = source_module(f"nt_alike_bw_{jit}", _MAKES_ITS_STATE.format(fields=["b", "W"]))
    assert first.mk.__code__ == second.mk.__code__
    x, y = np.array([0.3, -0.5, 1.1]), np.array([0.7, 0.2, -0.4])
    for mod in (first, second):
        gx, gy = srcdiff.grad(mod.f, wrt=(0, 1), jit=jit)(x.copy(), y.copy())
        np.testing.assert_allclose(gx, numerical_grad(mod.f, [x.copy(), y.copy()], 0), rtol=1e-6)
        np.testing.assert_allclose(gy, numerical_grad(mod.f, [x.copy(), y.copy()], 1), rtol=1e-6)
