"""The name index that reverse mode's "fuse", "sum grads" and "where" passes share (optimize.NameIndex, built
once and kept up to date by each pass instead of a walk of the whole function per pass), and the other
generation-speed shortcuts: each gives the function the passes gave before it (issue 22.3)."""

import numpy as np
import pytest

from srcdiff import compiler, module_builder
from srcdiff.transforms import dims, emit, kinds, optimize, products
from srcdiff.transforms.astutil import clone
from benchmark_scripts import load_benchmark


def _bench():
    return load_benchmark("generation_scaling.py", "generation_scaling_for_index_tests")


def fused_loss(x, y, a):
    z = np.tanh(x * a) + np.exp(-y) * 0.5
    t = np.log1p(np.exp(-np.abs(z))) * a
    return np.mean(t) + np.sum(z * y) + np.sum(x) * a


def branchy(x, y, a):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s = s + np.sin(x[i] * a) * y[i]
        else:
            s = s - 0.5 * x[i] ** 2
    v = np.tanh(x * s) + y
    return s + np.sum(v * v) + np.mean(np.exp(-x) * v)


def _programs(tmp):
    gs = _bench()
    return [fused_loss, branchy, gs.load_program(40, tmp), gs.load_program(3, tmp, loops=True)]


def _build(fn, monkeypatch, on_pass):
    """Build fn's jitted gradient (vectors x, y and a float a) with `on_pass(name, ctx, before)` called
    around each reverse pass (before=True, then False)."""
    def wrap(p):
        def go(ctx):
            on_pass(p.name, ctx, True)
            p.run(ctx)
            on_pass(p.name, ctx, False)
        return compiler.Pass(p.name, go, p.where, p.what, p.when)
    monkeypatch.setattr(compiler, "REVERSE", [wrap(p) for p in compiler.REVERSE])
    args = (np.ones(5), np.ones(5), 0.3)
    arg_kinds = tuple(kinds.kind_of_value(v) for v in args)
    return module_builder.build_module(fn, ["x", "y", "a"], "grad", arg_kinds, {}, dims.label_arguments(args))


@pytest.mark.parametrize("which", range(4))
def test_the_shared_index_stays_a_fresh_one_and_the_passes_give_what_fresh_indexes_gave(tmp_path, monkeypatch, which):
    fn = _programs(str(tmp_path))[which]
    stale, reference, got = [], {}, {}
    fuse = optimize.fuse_elementwise

    def checked_fuse(f, k, index=None):   # (the fusions of "fuse" and "where", through compiler's optimize)
        out = fuse(f, k, index)
        if index is not None:
            stale.append(("fusion", index.stale(out)))
        return out
    monkeypatch.setattr(optimize, "fuse_elementwise", checked_fuse)

    def on_pass(name, ctx, before):
        if name == "fuse" and before:    # the same passes, each building its own index (as before the index)
            f, k = clone(ctx.fn), dict(ctx.sweeps.kinds)
            f = fuse(f, k)
            f = optimize.scalar_sum_grads(f, k, ctx.sweeps.shapes)
            f = optimize.scalar_where(fuse(f, k), k)
            f = optimize.eliminate_unread(f, optimize.NameIndex(f))   # (what they left unread: dead code again)
            reference["source"], reference["kinds"] = emit.to_source(f), k
        elif name in ("fuse", "sum grads") and not before:
            stale.append((name, ctx.names.stale(ctx.fn)))
        elif name == "where" and not before:
            got["source"], got["kinds"] = emit.to_source(ctx.fn), dict(ctx.sweeps.kinds)
            assert ctx.names is None      # (not kept past the passes that keep it up to date)
    _build(fn, monkeypatch, on_pass)
    assert [s[0] for s in stale] == ["fusion", "fuse", "sum grads", "fusion"]
    assert all(not s[1] for s in stale), stale
    assert got["source"] == reference["source"]
    assert got["kinds"] == reference["kinds"]


def test_the_index_says_where_it_went_stale(tmp_path):
    import gast
    fn = gast.parse("def f(x, y):\n    t = x * y\n    y[0] = t\n    return t + x\n").body[0]
    index = optimize.NameIndex(fn)
    assert index.loads == {"x": 2, "y": 2, "t": 2} and index.counts == {"x": 1, "y": 1, "t": 1}
    assert index.pinned == {"y"} and index.stale(fn) == []
    fn.body[-1].value = gast.Name(id="x", ctx=gast.Load(), annotation=None, type_comment=None)
    assert index.stale(fn) == [("loads", "t", 2, 1)]     # (`return t + x` -> `return x`)


@pytest.mark.parametrize("which", range(4))
def test_straight_line_code_needs_no_second_dead_code_pass(tmp_path, monkeypatch, which):
    """preaccumulate leaves a function without loops as the dead-code pass would (it skips that pass)."""
    fn = _programs(str(tmp_path))[which]
    seen = []

    def on_pass(name, ctx, before):
        if name == "preaccumulate" and not before:
            again = optimize.eliminate_dead_code(clone(ctx.fn))
            seen.append((emit.to_source(ctx.fn), emit.to_source(again)))
    _build(fn, monkeypatch, on_pass)
    assert len(seen) == 1 and seen[0][0] == seen[0][1]


def test_routing_products_leaves_its_input_alone():
    import gast
    fn = gast.parse("def f(x, w, b):\n    z = np.tanh(x @ w + b)\n    q = np.dot(z, w.T) * np.sin(b)\n"
                    "    return q\n").body[0]
    before = emit.to_source(fn)
    out = products.route_products(fn)
    assert emit.to_source(fn) == before
    assert emit.to_source(out).splitlines()[1:3] == ["    z = rt.tanh(rt.dot(x, w) + b)",
                                                    "    q = rt.dot(z, w.T) * np.sin(b)"]
    assert out.body[1].value.right is fn.body[1].value.right      # what has no product is shared, not copied
    assert products.route_products(gast.parse("def g(x):\n    return x + 1\n").body[0]) is not None


UNREAD_CASES = {
    # the unread `result`, then what only it read (a chain), in a straight-line function: the shortcut applies;
    # the comment citing result's line goes with it (line 4), the one above a statement that stays does not
    "chain": "def f(x, a):\n    # 2\n    u = x * a\n    v = np.tanh(u)\n    # 4\n    result = np.sum(v)\n"
             "    # 5\n    d = a * 2.0\n    return d\n",
    # `t` bound twice, losing its read after the second binding only: liveness drops that binding (full pass)
    "rebound": "def f(x, a):\n    t = x * a\n    w = t + 1.0\n    t = x - a\n    result = t * 2.0\n"
               "    return w\n",
    # `d_v += e` keeps `d_v`'s binding though nothing reads d_v otherwise (full pass)
    "accumulated": "def f(x, a):\n    d_v = x * a\n    d_v += x\n    result = x + a\n    return a\n",
    # a loop: liveness over its iterations (full pass)
    "loop": "def f(x, a):\n    s = 0.0\n    for i in range(3):\n        s = s + a\n    result = s * 2.0\n"
            "    return a\n",
    # a value with an effect whose name nothing reads: a statement of its own (full pass)
    "effect": "def f(x, a):\n    result = print(x)\n    return a\n",
    # element writes stay where their array is read after the last of them, though the unread `result` read it
    "written, read after": "def f(x, a):\n    u = np.zeros(3)\n    u[0] = x[0] * a\n    d_u = np.zeros(3)\n"
                           "    d_u[1] += a\n    result = np.sum(u ** 2)\n    s = u[0] + a\n    return (s, d_u)\n",
    # ... and go where nothing reads the array after them once `result` goes (full pass)
    "written, unread after": "def f(x, a):\n    u = np.zeros(3)\n    u[0] = x[0] * a\n    result = np.sum(u)\n"
                             "    return a\n",
    # a write through a view of an array that reads less (full pass: nothing reads v after its write)
    "view written": "def f(x, a):\n    u = np.zeros(4)\n    v = u[1:]\n    v[0] = a\n    result = np.sum(u)\n"
                    "    return a\n",
    # ... and one that is read after its write: the write stays
    "view written, read after": "def f(x, a):\n    u = np.zeros(4)\n    v = u[1:]\n    v[0] = a\n"
                                "    result = np.sum(u)\n    t = v[1] * a\n    return t\n",
}
SHORTCUT = {"chain", "written, read after", "view written, read after"}   # (the others: the full pass runs)


def _with_line_comments(src: str):
    """The function of `src` with each `# n` line a comment statement citing the user's line n (as reverse
    mode writes them above each line's statements)."""
    import gast
    from srcdiff.transforms import annotations as anno
    from srcdiff.transforms.astutil import comment
    lines = src.split("\n")
    marks = {k: line.strip()[2:] for k, line in enumerate(lines) if line.strip().startswith("# ")}
    fn = gast.parse("\n".join("    pass" if k in marks else line for k, line in enumerate(lines))).body[0]
    fn.body = [anno.set(comment(f"line {marks[s.lineno - 1]}"), anno.USER_LINE, int(marks[s.lineno - 1]))
               if isinstance(s, gast.Pass) else s for s in fn.body]
    return fn


@pytest.mark.parametrize("case", sorted(UNREAD_CASES))
def test_eliminate_unread_gives_what_the_full_dead_code_pass_gives(case):
    """eliminate_unread's shortcut for a straight-line function (only the unread names' assignments and what only
    they read go, deadcode._drop_unread) leaves what eliminate_dead_code leaves, and where it cannot tell, runs it."""
    fn = _with_line_comments(UNREAD_CASES[case])
    want = emit.to_source(optimize.eliminate_dead_code(clone(fn)))
    f = clone(fn)
    got = emit.to_source(optimize.eliminate_unread(f, optimize.NameIndex(f)))
    assert got == want
    if case == "chain":
        assert "result" not in got and "line 4" not in got and "line 2" not in got and "line 5" in got, got


@pytest.mark.parametrize("case", sorted(UNREAD_CASES))
def test_eliminate_unread_takes_its_shortcut_where_it_can_tell(case, monkeypatch):
    """The shortcut applies to straight-line code with element writes too (a program of element writes ran the full
    dead-code pass after "where": 0.58 s of 5.1 s for 1 000 writes), but not where a write may go."""
    from srcdiff.transforms.optimize import deadcode
    full = []
    monkeypatch.setattr(deadcode, "eliminate_dead_code", lambda fn, *a: full.append(fn) or fn)
    f = _with_line_comments(UNREAD_CASES[case])
    optimize.eliminate_unread(f, optimize.NameIndex(f))
    assert bool(full) == (case not in SHORTCUT)


@pytest.mark.parametrize("ret", ["np.sum(u ** 2) + np.sum(w)", "np.mean(np.tanh(u)) + np.sum(w * w)", "u[0] * w[1]"])
def test_element_write_programs_generate_what_the_full_dead_code_pass_gives(tmp_path, monkeypatch, ret):
    """generation_scaling's element-write program (with returns that leave a name unread after "where"): the
    gradient's source with eliminate_unread's shortcut is the one the full dead-code pass gives."""
    from srcdiff.transforms.optimize import deadcode
    src = _bench().writes_source(40).replace("    return np.sum(u * w) + a", f"    return {ret}")
    path = tmp_path / "writes.py"
    path.write_text("import numpy as np\n\n\n" + src)
    ns: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    shortcut = _build(ns["writes_40"], monkeypatch, lambda *a: None).source(jit=True)
    monkeypatch.setattr(deadcode, "_drop_unread", lambda *a: False)
    assert _build(ns["writes_40"], monkeypatch, lambda *a: None).source(jit=True) == shortcut
