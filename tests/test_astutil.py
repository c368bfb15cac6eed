"""transforms/astutil.py: the walks the passes share. walk_calls must meet exactly the calls walk meets (the
passes that look at calls only use it instead of filtering walk)."""
import os
import sys

import gast

from srcdiff.transforms.astutil import walk, walk_calls, walk_names_and_calls

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))


def _trees():
    import fuzzgen
    import generation_scaling
    yield gast.parse(generation_scaling.program_source(200))
    yield gast.parse(generation_scaling.loops_source(5))
    for seed in range(60):
        yield gast.parse(fuzzgen.seeded_program(seed).source)
    yield gast.parse("def f(x):\n    return g(h(x), k=m(x))(n(x))[p(x):q()] + (lambda y: r(y))(x)\n")


def test_walk_calls_meets_the_calls_walk_meets():
    seen = 0
    for tree in _trees():
        want = sorted(id(n) for n in walk(tree) if isinstance(n, gast.Call))
        assert sorted(id(n) for n in walk_calls(tree)) == want
        seen += len(want)
        both = sorted(id(n) for n in walk(tree) if isinstance(n, (gast.Call, gast.Name)))
        assert sorted(id(n) for n in walk_names_and_calls(tree)) == both
    assert seen > 1000


def test_walk_calls_takes_a_calls_children_before_yielding_it():
    tree = gast.parse("f(g(x))").body[0].value
    met = []
    for n in walk_calls(tree):
        met.append(n.func.id)
        if n.func.id == "f":
            n.args = n.args + [gast.parse("h(y)").body[0].value]    # not met: added after f was reached
    assert sorted(met) == ["f", "g"]
    assert list(walk_calls(gast.parse("x + 1").body[0].value)) == []


def test_block_jumps_are_the_ones_that_leave_the_block():
    """Returns anywhere (not a nested def's); breaks and continues not of a nested loop's body, a nested loop's
    `else` block included (they are the enclosing loop's: walrus.py and lists.py rely on it)."""
    import gast
    from srcdiff.transforms.astutil import block_jumps
    body = gast.parse(
        "if a:\n    continue\n"
        "for i in r:\n    break\n    return 1\nelse:\n    continue\n"
        "while b:\n    continue\n"
        "def g():\n    return 2\n").body
    found = [(type(j).__name__, j.lineno) for j in block_jumps(body)]
    assert found == [("Continue", 2), ("Return", 5), ("Continue", 7)], found


def _scaled(u, k=0.25, *, depth=2):
    return u * k * depth


def test_plain_defaults_of_a_numba_dispatcher():
    """A module-level helper of a jitted gradient that a function differentiates again is a Numba dispatcher,
    which has no `__kwdefaults__`: function_args read them through it and raised AttributeError, an internal
    traceback (nested fuzz seed 915001, `srcdiff.grad(f, ..., jit=True)` inside h, f with a recursive helper and
    a call passing np.sin). The dispatcher's Python function has them."""
    import numba
    from passes import parse_function
    from srcdiff.transforms.astutil import plain_defaults
    import inspect
    fn = parse_function(inspect.getsource(_scaled))
    got = plain_defaults(fn, numba.njit(_scaled))
    assert {k: v.value for k, v in got.items()} == {"k": 0.25, "depth": 2}
    assert {k: v.value for k, v in plain_defaults(fn, _scaled).items()} == {"k": 0.25, "depth": 2}


def test_the_constructors_make_the_nodes_gasts_constructors_make():
    """load, store, const, assign, call and dotted build their nodes' dicts directly: the same fields, in the
    same order, as gast's keyword constructors put there."""
    import gast
    from srcdiff.transforms.astutil import assign, call, const, dotted, load, store

    def same(got, want):
        assert gast.dump(got) == gast.dump(want)
        assert [(type(a), list(a.__dict__)) for a in gast.walk(got)] == \
            [(type(b), list(b.__dict__)) for b in gast.walk(want)]
    name = lambda i, ctx: gast.Name(id=i, ctx=ctx, annotation=None, type_comment=None)   # noqa: E731
    same(load("v"), name("v", gast.Load()))
    same(store("v"), name("v", gast.Store()))
    same(const(2.5), gast.Constant(value=2.5, kind=None))
    same(dotted("np.linalg.inv"), gast.Attribute(value=gast.Attribute(value=name("np", gast.Load()), attr="linalg",
                                                                      ctx=gast.Load()), attr="inv", ctx=gast.Load()))
    want = gast.Assign(targets=[name("t", gast.Store())], value=gast.Call(
        func=gast.Attribute(value=name("np", gast.Load()), attr="exp", ctx=gast.Load()),
        args=[name("x", gast.Load())], keywords=[]), type_comment=None)
    want.lineno = 7
    same(assign("t", call("np.exp", "x"), 7), want)
    assert load("v").ctx is not load("v").ctx


def test_structure_keys_are_equal_exactly_where_dumps_are():
    """cse merges two operations whose structure_key is equal: that must be exactly where gast.dump prints them
    alike (a key that merged `1` with `1.0` or `True`, or `-0.0` with `0.0`, would merge different values)."""
    from srcdiff.transforms.astutil import structure_key
    exprs = [n for tree in _trees() for n in walk(tree) if isinstance(n, gast.expr)]
    exprs += [gast.parse(s).body[0].value for s in ("1", "1.0", "True", "-0.0", "0.0", "'1'", "x[1]", "x[1.0]",
                                                    "x[True]", "f(a, b=1)", "f(a, 1)", "(a, b)", "[a, b]")]
    dumps, keys = {}, {}
    for e in exprs:
        dumps.setdefault(gast.dump(e), []).append(e)
        keys.setdefault(structure_key(e), []).append(e)
    assert len(dumps) > 2000
    assert sorted(sorted(map(id, g)) for g in dumps.values()) == sorted(sorted(map(id, g)) for g in keys.values())
