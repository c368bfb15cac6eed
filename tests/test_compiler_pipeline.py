"""compiler.py: the pass lists are the pipeline, its map is rendered from them, and reverse mode's
structured result (reverse.Sweeps) is what later passes read, not the emitted text."""
import os

import gast
import numpy as np
import pytest

import srcdiff
from srcdiff import compiler, module_builder
from srcdiff.transforms import annotations as anno
from srcdiff.transforms import emit, optimize, stacks
from srcdiff.transforms.astutil import comment, walk_statements
from gradcheck import check_grad

ROOT = os.path.dirname(os.path.abspath(compiler.__file__))


def test_the_docstring_map_is_the_pass_lists():
    assert compiler.pass_map() in compiler.__doc__
    for title, passes in compiler.STAGES:
        assert f"\n{title}:\n" in compiler.__doc__


def test_every_pass_names_its_module():
    for _, passes in compiler.STAGES:
        names = [p.name for p in passes]
        assert len(names) == len(set(names)), names      # a name says which pass, within its stage
        for p in passes:
            assert os.path.isfile(os.path.join(ROOT, p.where)), (p.name, p.where)
            assert callable(p.run) and p.what


def test_run_applies_a_list_in_order_where_its_condition_holds():
    seen = []
    passes = [compiler.Pass("a", lambda c: seen.append("a"), "compiler.py", "first"),
              compiler.Pass("b", lambda c: seen.append("b"), "compiler.py", "skipped", lambda c: c.jit),
              compiler.Pass("c", lambda c: seen.append("c"), "compiler.py", "last")]
    compiler.run(passes, compiler.Context())
    assert seen == ["a", "c"]
    compiler.run(passes, compiler.Context(jit=True))
    assert seen == ["a", "c", "a", "b", "c"]


def looped(x, a):
    s = 0.0
    for i in range(a.shape[0]):
        s = s + np.sin(x * a[i]) * a[i]
    return s


def test_a_gradient_runs_the_reverse_list_in_order(monkeypatch):
    """gradient generation is the REVERSE list, applied in its order (no other place orders them)."""
    seen = []
    wrapped = [compiler.Pass(p.name, (lambda p: lambda c: (seen.append(p.name), p.run(c)))(p), p.where, p.what,
                             p.when) for p in compiler.REVERSE]
    monkeypatch.setattr(compiler, "REVERSE", wrapped)
    module_builder.build_module(looped, ["x"], "grad", (("s", "f"), ("a", 1, "f")))
    always = [p.name for p in compiler.REVERSE if p.when is None]
    assert [n for n in seen if n in always] == always


def test_kinds_are_inferred_again_after_a_pass_changes_the_tree():
    unit = compiler.middle_end(compiler.front_end(looped))
    ctx = compiler.Context(unit=unit, arg_kinds={"x": ("s", "f"), "a": ("a", 1, "f")})
    first = ctx.kinds
    assert ctx.kinds is first            # read twice, inferred once
    ctx.changed(False)
    assert ctx.kinds is first
    ctx.changed()
    assert ctx.kinds is not first and ctx.kinds == first


def _sweeps(fn, wrt, arg_kinds):
    unit = compiler.middle_end(compiler.front_end(fn))
    ctx = compiler.Context(unit=unit, wrt=wrt, mode="grad", name=f"{fn.__name__}_grad",
                           callee_derivative=None, arg_kinds=arg_kinds)
    stop = [p.name for p in compiler.REVERSE].index("reverse")
    return compiler.run(compiler.REVERSE[:stop + 1], ctx)


def test_reverse_mode_returns_its_sweeps():
    ctx = _sweeps(looped, ["x"], {"x": ("s", "f"), "a": ("a", 1, "f")})
    sw = ctx.sweeps
    body = sw.function.body
    k = next(i for i, s in enumerate(body) if s is sw.backward_start)
    assert all(any(s is f for f in body[:k]) for s in sw.forward)       # the sweeps, in the function
    assert all(any(s is b for b in body[k + 1:]) for s in sw.backward)
    assert sw.adjoints["x"] in sw.adjoint_names()
    assert sw.kinds[sw.adjoints["x"]] == ("s", "f")                     # adjoints have kinds too
    scalar = _sweeps(stacked, ["x"], {"x": ("s", "f"), "n": ("s", "i")}).sweeps   # y overwritten: taped
    assert scalar.tapes and all(f"{t} = np.empty(" in emit.to_source(scalar.function) for t in scalar.tapes)


def stacked(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) * 0.5 + y
    return np.sum(y)


def test_dead_stacks_find_the_backward_sweep_by_identity_not_by_its_comment():
    ctx = _sweeps(stacked, ["x"], {"x": ("a", 1, "f"), "n": ("s", "i")})
    fn, start = ctx.sweeps.function, ctx.sweeps.backward_start
    pops = [s for s in walk_statements(fn.body) if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)
            and isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "pop"]
    assert pops
    for p in pops:                       # nothing reads what is popped: the stacks are dead
        p.targets[0].id = "unused_" + p.targets[0].id
    k = fn.body.index(start)
    fn.body[k] = relabelled = comment("something else")
    assert optimize.drop_dead_stacks(fn, start) is fn and "append" in emit.to_source(fn)   # no boundary: kept
    fn.body[k] = start
    start.value.value = relabelled.value.value      # the comment's text does not matter
    out = emit.to_source(optimize.drop_dead_stacks(fn, start))
    assert "append" not in out and ".pop()" not in out


def test_row_tapes_are_named_after_the_primal_they_hold():
    x = np.array([0.1, 0.2, 0.3])
    check_grad(stacked, [x, 3], wrt=0, jit=True)
    fn = module_builder.build_module(stacked, ["x"], "grad", (("a", 1, "f"), ("s", "i"))).functions[-1]
    recorded = anno.get(fn, anno.STACK_KINDS)
    assert recorded and all(st.primal for st in recorded.values())
    jitted = emit.to_source(stacks.row_tapes(fn))
    assert any(f"{st.primal}_tape = rt.row_tape(" in jitted for st in recorded.values()), jitted


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_forward_and_reverse_share_one_build(jit):
    """build_module makes a jvp module too (the FORWARD list): one specialisation path."""
    assert not hasattr(compiler, "build_forward_module")
    mod = module_builder.build_module(looped, ["x"], "jvp", (("s", "f"), ("a", 1, "f")))
    assert mod.entry == "looped_jvp" and mod.mode == "jvp"
    a = np.array([0.5, -1.0, 2.0])
    value, tangent = srcdiff.jvp(looped, wrt=0, jit=jit)(0.3, a, 1.0)
    assert np.isclose(value, looped(0.3, a))
    assert np.isclose(tangent, srcdiff.grad(looped, wrt=0, jit=jit)(0.3, a))


def test_log_domain_helpers_are_looked_up_by_name_not_by_suffix():
    from srcdiff import runtime as rt
    from srcdiff.transforms import logdomain_calls
    for product, roles in logdomain_calls.HELPERS.items():
        assert set(roles) == {"v", "M", "both"}
        for name in roles.values():
            assert callable(getattr(rt, name[len("rt."):])), name
    assert logdomain_calls.ROLE.get("rt.other_grad_v") is None


@pytest.mark.parametrize("module", ["reverse", "emit", "logdomain", "parse", "activity", "flatten", "controlflow",
                                    "resolve", "ssa", "factories", "checks", "kind_rewrites"])
def test_pass_modules_name_their_place_on_the_map_not_a_number(module):
    import importlib
    doc = importlib.import_module(f"srcdiff.transforms.{module}").__doc__
    assert not doc.startswith("Pass ") and "compiler." in doc.split("\n\n")[0], doc[:120]


def test_generation_leaves_the_cycle_collector_as_it_found_it():
    """module_builder.collector_paused turns the collector off while a module is generated, then moves what
    generation left alive to the oldest generation (gc.freeze/unfreeze): afterwards the collector is on
    again, nothing stays frozen, and a collector the caller had turned off stays off."""
    import gc

    def f(x):
        return np.sum(np.tanh(x) * x)

    was = gc.isenabled()
    try:
        gc.enable()
        module_builder.build_module(f, ["x"], "grad")
        assert gc.isenabled() and gc.get_freeze_count() == 0
        gc.disable()
        module_builder.build_module(f, ["x"], "grad")
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        (gc.enable if was else gc.disable)()


def test_a_jitted_first_call_runs_with_the_collector_paused():
    """The first call of a jit=True transform (generation, then Numba compiling or loading from the disk cache)
    runs with the collector off (module_builder.collector_paused): no collection starts inside it (a full one
    fell inside the Elman RNN's first call from the disk cache), and the collector is on again afterwards,
    nothing frozen."""
    import gc

    def f(x):
        return np.sum(np.sin(x) * x)

    started = []

    def note(phase, info):
        if phase == "start":
            started.append(info["generation"])
    was = gc.isenabled()
    gc.enable()
    gc.callbacks.append(note)
    try:
        srcdiff.grad(f, jit=True)(np.linspace(0.0, 1.0, 4))
        srcdiff.jvp(f, jit=True)(np.linspace(0.0, 1.0, 4), np.ones(4))
    finally:
        gc.callbacks.remove(note)
        (gc.enable if was else gc.disable)()
    assert started == [] and gc.get_freeze_count() == 0
