"""transforms/kinds.py: the kind of every SSA value (scalar or array, rank, dtype), from the kind laws the
rule records name (srcdiff/rules). A kind the pass does not know costs folding: `np.sum(f(x) * y)` keeps an
`rt.sum_grad` call (the adjoint's shape is then unknown) where a known kind folds it away."""
import importlib.util
import os
import warnings

import numpy as np
import scipy.linalg
import pytest

import srcdiff
import branch_values
from gradcheck import numerical_grad, source_module
from srcdiff.rules import RULES
from srcdiff.transforms import kinds
from srcdiff.transforms.astutil import parse_expr

F, I, B = ("s", "f"), ("s", "i"), ("s", "b")
A1, A2, I1 = ("a", 1, "f"), ("a", 2, "f"), ("a", 1, "i")


@pytest.mark.parametrize("expr, env, want", [
    ("x[..., 1]", {"x": A1}, F),                     # an ellipsis keeps the axes the other indices leave
    ("x[..., 0]", {"x": A2}, A1),                    # (np.cross of vectors stacks x[..., i]: fuzz seed 710016)
    ("x[..., None]", {"x": A1}, A2),
    ("rt.sort(x)", {"x": A2}, A2),                   # along an axis: the rank kept (fuzz seed 710200: a sort before
    ("rt.sort(x, None)", {"x": A2}, A1),             # a checkpointed loop left its snapshots untyped under Numba)
    ("rt.cumsum(x)", {"x": A2}, A1),                 # (cumsum's axis left out: flattened)
    ("rt.cumsum(x, 0)", {"x": A2}, A2), ("rt.cumprod(x, -1)", {"x": A2}, A2), ("rt.cumsum(n)", {"n": I1}, I1),
    ("rt.cumsum(x, axis=0)", {"x": A2}, A2),         # the axis by keyword too (fuzz seed 600513: 1-d, so t[1] of it
    ("rt.cumprod(x, axis=None)", {"x": A2}, A1),     # was a scalar, whose adjoint d_t1 = 0.0 was then indexed)
    ("rt.sort(x, axis=None)", {"x": A2}, A1), ("rt.sort(x, axis=0)", {"x": A2}, A2),
    ("np.argsort(x, axis=None)", {"x": A2}, I1), ("np.argsort(x, None)", {"x": A2}, I1),
    ("np.argmax(x, axis=None)", {"x": A2}, I), ("np.argmax(x, None)", {"x": A2}, I),
    ("rt.unsort_like(v, x, None)", {"v": A2, "x": A2}, A1), ("rt.sort_like(v, x, 0)", {"v": A2, "x": A2}, A2),
    ("rt.sort(x, n)", {"x": A2, "n": I}, None),      # (an axis not written as a literal)
    ("np.where(c, 0.0, 1.0)", {"c": ("a", 2, "b")}, A2),   # the condition's rank counts (nanmean's count, fuzz
    ("rt.select(c, x, 1.0)", {"c": ("a", 2, "b"), "x": A1}, A2),   # seed 913911: its placeholder was 0-d)
    ("np.where(b, x, 1.0)", {"b": B, "x": A1}, A1),
    ("np.cbrt(x)", {"x": A2}, A2),                   # elementwise functions dims knew and kinds did not
    ("np.arcsinh(s)", {"s": F}, F),
    ("np.log2(n)", {"n": I1}, A1),                   # (of ints: floats)
    ("np.hypot(s, x)", {"s": F, "x": A2}, A2),       # of two arguments: they broadcast
    ("np.logaddexp2(x, v)", {"x": A2, "v": A1}, A2),
    ("np.where(c, s, x)", {"c": ("a", 2, "b"), "s": F, "x": A1}, A2),   # (all three broadcast, the condition too)
    ("np.isnan(x)", {"x": A2}, ("a", 2, "b")),
    ("np.floor_divide(n, 2)", {"n": I1}, I1),        # of ints: ints
    ("np.fmod(x, 2.0)", {"x": A1}, A1),
    ("math.log2(s)", {"s": F}, F),
    ("rt.max2(n, 2)", {"n": I}, I),
    ("g / max(x.size, 1)", {"g": F, "x": A2}, F),   # builtin max / min as srcdiff writes them: a mean's share
    ("max(n, 0)", {"n": I}, I), ("min(s, 1.0)", {"s": F}, F),   # (scalarize), a tape's length (reverse_support)
    ("max(n, 1.0)", {"n": I}, None),                # (the builtin returns an argument unconverted: max(2, 1.0) is 2)
    ("max(x, v)", {"x": A1, "v": A1}, None), ("max(v)", {"v": A1}, None), ("max(n, k, key=f)", {"n": I, "k": I}, None),
    ("rt.sum_grad(s, x, None)", {"s": F, "x": ("a", 2, "i")}, A2),   # adjoint helpers: x's kind, as floats
    ("rt.sum(x, 0)", {"x": A2}, A1),
    ("np.argmax(x, 0)", {"x": A2}, I1),
    ("np.arange(2)", {}, I1),                        # (fuzz: an untyped placeholder of np.arange under Numba)
    ("np.arange(n, 5, 2)", {"n": I}, I1),
    ("np.arange(0.5, s)", {"s": F}, A1),              # a float bound: floats
    ("np.arange(x)", {"x": A1}, None),                # (not a range: NumPy raises)
    ("np.argsort(x, axis=1)", {"x": A2}, ("a", 2, "i")),
    ("np.zeros((2, 3), np.int64)", {}, ("a", 2, "i")),
    ("np.linalg.eigvalsh(x)", {"x": A2}, A1),
    ("np.linalg.solve(x, y)", {"x": A2, "y": A1}, A1),   # a solve has b's kind (fuzz seed 500150)
    ("rt.solve(x, y)", {"x": A2, "y": A2}, A2),
    ("rt.solve_triangular(x, y, lower=True)", {"x": A2, "y": A1}, A1),
    ("np.unknown_function(x)", {"x": A2}, None),   # no rule: unknown
    ("(x, s)[0]", {"x": A1, "s": F}, A1),          # an element of a tuple written out: its own kind
    ("(x, s)[-1]", {"x": A1, "s": F}, F),          # (fuzz seed 106230: taken for a shape's int, a sum of
    ("(x, s)[n]", {"x": A1, "s": F, "n": I}, None),   # arrays then started from 0.0 under Numba)
    ("(x, x)[n]", {"x": A1, "n": I}, A1),
    ("t[0]", {"t": ("t",)}, I),                    # a shape (or a tuple argument): ints
    ("np.take(x, n)", {"x": A2, "n": I1}, A1),      # gathers (np.repeat, np.tile, np.roll: fuzz seed 501370, an
    ("np.take(x, n, -1)", {"x": A2, "n": I1}, A2),  # untyped placeholder of one under Numba): flat, the indices'
    ("np.take(x, k, axis=0)", {"x": A2, "k": I}, A1),   # rank; along an axis, x's with it replaced by theirs
    ("np.take(x, k, None)", {"x": A2, "k": I}, F), ("np.take(n, k)", {"n": I1, "k": I}, I),
    ("np.take(x, n, k)", {"x": A2, "n": I1, "k": I}, None),   # (an axis not written as a literal)
    ("rt.repeat_index(k, 2)", {"k": I}, I1),
    ("rt.atleast_1d(s)", {"s": F}, A1), ("rt.atleast_1d(x)", {"x": A2}, A2), ("rt.atleast_2d(v)", {"v": A1}, A2),
    ("rt.as_column(v)", {"v": A1}, A2), ("rt.atleast_nd(v, 3)", {"v": I1}, ("a", 3, "i")),
    ("rt.interp(x, v, v)", {"x": A2, "v": A1}, A2), ("rt.interp(n, v, v)", {"n": I, "v": A1}, F),
    ("np.full_like(x, 0.3)", {"x": A2}, A2), ("np.full_like(n, 2)", {"n": I1}, I1),
    ("np.reshape(x, (2, 3))", {"x": A1}, A2),       # a literal shape's length is the rank (fuzz seed 450970: an
    ("np.reshape(x, (k, k, 2))", {"x": A2, "k": I}, ("a", 3, "f")),   # unknown one made a checkpointed loop's
    ("np.reshape(x, -1)", {"x": A2}, A1), ("np.reshape(n, k)", {"n": I1, "k": I}, I1),   # state unknown)
    ("np.reshape(x, t)", {"x": A1, "t": ("t",)}, None),   # (a shape read off an array: its length is unknown)
    ("np.ravel(x)", {"x": A2}, A1), ("np.ravel(n)", {"n": ("a", 3, "i")}, I1),
    ("np.broadcast_to(x, (2, 3))", {"x": A1}, A2), ("np.broadcast_to(s, t)", {"s": F, "t": ("t",)}, None),
    ("np.linspace(s, 1.0, 5)", {"s": F}, A1),        # (nested fuzz seed 460334: see below)
])
def test_kind_laws(expr, env, want):
    assert kinds.expr_kind(parse_expr(expr), env) == want


def test_every_kind_law_is_named_by_a_rule():
    """No law is dead code: each is some record's kind law."""
    used = {r.kind[0] if isinstance(r.kind, tuple) else r.kind for r in RULES.values()}
    used.add("dynamic")   # (the law of the records srcdiff.adjoint registers: a user function's kind)
    assert set(kinds.LAWS) <= used, sorted(set(kinds.LAWS) - used)


def _elementwise_primitives():
    """Differentiable elementwise rules users call on arrays, with how many arguments (math's take floats)."""
    out = []
    for name, r in sorted(RULES.items()):
        params = [p for p in r.signature.parameters.values() if p.default is p.empty]
        if (r.shape == "elementwise" and r.has_vjp("x") and not r.namespace and r.kind is not None
                and name.startswith(("np.", "rt.")) and len(params) in (1, 2)
                and name not in ("rt.max2", "rt.min2")):   # (builtin max / min: of scalars)
            out.append((name, len(params)))
    return out


PRIMITIVES = _elementwise_primitives()


@pytest.fixture(scope="module")
def wrappers():
    lines = ["import math", "import numpy as np", "from srcdiff import runtime as rt"]
    for k, (name, n) in enumerate(PRIMITIVES):
        call = f"{name}(x)" if n == 1 else f"{name}(x, 0.7)"
        lines.append(f"def f{k}(x, y):\n    return np.sum({call} * y)")
    return source_module("kinds_elementwise", "\n\n".join(lines) + "\n")


@pytest.mark.parametrize("k", range(len(PRIMITIVES)), ids=[name for name, _ in PRIMITIVES])
def test_elementwise_adjoint_folds_like_exp(wrappers, k):
    """np.sum(f(x) * y) for every elementwise primitive f: the adjoint of the sum is g itself (its kind is known),
    so no rt.sum_grad call stays in the generated code, as with np.exp."""
    name, _ = PRIMITIVES[k]
    g = srcdiff.grad(getattr(wrappers, f"f{k}"))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        g(np.array([0.55, 0.65, 0.75]), np.array([1.0, 2.0, 3.0]))
    src = srcdiff.source(g)
    assert "rt.sum_grad" not in src and "rt.unbroadcast" not in src, src


def test_no_import_cycle_between_kinds_and_dims():
    """dims reads its tables from the rule records and walks statements with astutil: it imports nothing of
    kinds (kinds calls dims.infer for shape classes)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                        "architecture_metrics.py")
    spec = importlib.util.spec_from_file_location("architecture_metrics", path)
    metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(metrics)
    _, every, _, _ = metrics.imports(metrics.modules())   # (imports inside functions too)
    assert "srcdiff.transforms.kinds" not in every["srcdiff.transforms.dims"]
    transforms = {m: {t for t in ts if t.startswith("srcdiff.transforms.")}
                  for m, ts in every.items() if m.startswith("srcdiff.transforms.")}
    assert not [c for c in metrics.cycles(transforms) if {"srcdiff.transforms.kinds", "srcdiff.transforms.dims"} & set(c)]


def test_the_parts_of_kinds_import_nothing_of_it():
    """transforms/kinds.py is the entry point; its parts (the Kind type, the laws, the kinds of expressions, the
    shape classes) import nothing of it, and the Kind type nothing of the others (imports inside functions too)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                        "architecture_metrics.py")
    spec = importlib.util.spec_from_file_location("architecture_metrics", path)
    metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(metrics)
    _, every, _, _ = metrics.imports(metrics.modules())
    parts = [f"srcdiff.transforms.{m}" for m in ("kind_type", "kind_laws", "kind_exprs", "kind_shapes")]
    for m in parts:
        assert "srcdiff.transforms.kinds" not in every[m], m
    assert not set(parts) & set(every["srcdiff.transforms.kind_type"])


def test_kind_type_names_its_fields():
    """Kind reads by name what the tagged tuples spelled by position, and equals them (other passes write tuples)."""
    import copy
    import pickle
    k = kinds.kind_of_value(np.zeros((2, 3), dtype=np.int64))
    assert type(k) is kinds.Kind and k == ("a", 2, "i") and hash(k) == hash(("a", 2, "i"))
    assert (k.is_array, k.is_scalar, k.ndim, k.dtype, k.tag) == (True, False, 2, "i", "a")
    assert k.as_float() == ("a", 2, "f") and kinds.F.as_float() == kinds.F and kinds.F.ndim == 0
    assert kinds.ndim(("a", None, "f")) is None and kinds.ndim(None) is None and kinds.dtype(("s", "b")) == "b"
    assert kinds.Kind.tuple_of(2).ndim is None and kinds.Kind.exp_table(3) == ("t", 3, "exp")
    for x in (k, kinds.Kind.stack(k), kinds.Kind.tuple_of()):
        for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
            assert y == x and type(y) is kinds.Kind


def test_kind_constructors_and_fields():
    """Every variety of Kind answers its fields by name, the module's functions answer alike for None (an unknown
    kind) and for a plain tagged tuple, and Kind.of turns tuples (with their element kinds) into Kinds."""
    K = kinds.Kind
    s, a, u = K.scalar("b"), K.array(3, "f"), K.array(None, None)
    t, e, st, d = K.tuple_of(2, [a, None]), K.exp_table(3), K.stack(K.scalar("i")), K.dtype_value("i")
    assert [(k.is_scalar, k.is_array, k.is_tuple, k.is_exp_table, k.is_stack, k.is_dtype_value)
            for k in (s, a, t, e, st, d)] == [(True, False, False, False, False, False),
                                            (False, True, False, False, False, False),
                                            (False, False, True, False, False, False),
                                            (False, False, True, True, False, False),
                                            (False, False, False, False, True, False),
                                            (False, False, False, False, False, True)]
    assert [k.ndim for k in (s, a, u, t, e, st, d)] == [0, 3, None, None, None, None, None]
    assert [k.dtype for k in (s, a, u, t, e, st, d)] == ["b", "f", None, None, None, None, "i"]
    assert (t.length, t.elements, K.tuple_of().length, K.tuple_of(4).elements, e.length, e.elements) == \
        (2, (a, None), None, None, 3, None)
    assert (st.element, s.element, a.length) == (K.scalar("i"), None, None)
    assert a.with_dtype("i") == K.array(3, "i") and s.as_float() == kinds.F and u.as_float() == K.array(None, "f")
    assert t.as_float() is None and st.as_float() is None and d.as_float() is None
    for f in (kinds.is_scalar, kinds.is_array, kinds.is_tuple, kinds.is_exp_table, kinds.is_stack,
              kinds.is_dtype_value, kinds.is_float_array):
        assert f(None) is False
    for f in (kinds.ndim, kinds.dtype, kinds.length, kinds.elements, kinds.element, kinds.as_float):
        assert f(None) is None
    assert kinds.is_float_array(a) and kinds.is_float_array(a, 3) and not kinds.is_float_array(a, 2)
    assert kinds.is_float_array(a, "known") and not kinds.is_float_array(u, "known")
    assert not kinds.is_float_array(K.array(1, "i")) and not kinds.is_float_array(kinds.F)
    raw = ("l", ("t", 2, (("a", 1, "f"), ("s", "i"))))
    made = K.of(raw)
    assert made == raw and type(made) is K and type(made.element) is K
    assert all(type(x) is K for x in made.element.elements) and made.element.elements[1].dtype == "i"
    assert K.of(None) is None and K.of(a) is a and kinds.ndim(("a", 2, "f")) == 2
    assert repr(K.array(2, "f")) == repr(("a", 2, "f"))   # (cache keys hold repr of the argument kinds)


def test_inferred_kinds_are_kinds():
    """Argument kinds given as tagged tuples come out of infer as Kinds, as do the kinds it derives (the other
    passes read them by name)."""
    import gast
    fn = gast.parse("def f(x, n, t):\n    y = np.exp(x)\n    m = n + 1\n    u = t[0]\n    return y\n").body[0]
    got = kinds.infer(fn, {"x": ("a", 1, "f"), "n": ("s", "i"), "t": ("t", 2, (("a", 1, "f"), ("s", "f")))})
    assert got["y"] == kinds.Kind.array(1, "f") and got["m"] == kinds.I and got["u"] == ("a", 1, "f")
    assert all(type(k) is kinds.Kind for k in got.values()), got


def test_infer_sweeps_again_only_where_a_read_saw_a_kind_that_changed():
    """A name read before it is assigned again with another kind: the read saw the first kind, so infer sweeps
    again and what was computed from it takes the joined kind (here none: a scalar and an array do not
    unify). A function without loops whose names keep their kinds (a gradient's `d_x` assigned twice as a
    float), or with a loop whose names keep theirs, settles in one sweep: counted by the calls of `callee_kind`,
    asked once per call per sweep."""
    import gast
    src = "def f(x, a):\n    t = a\n    u = t * 2.0\n    t = x\n    return u\n"
    got = kinds.infer(gast.parse(src).body[0], {"x": A1, "a": F})
    assert got["t"] is None and got["u"] is None, got
    asked = []
    def callee_kind(name, arg_kinds):
        asked.append(name)
        return None
    src = ("def g(x, a):\n    d_x = np.exp(x)\n    d_a = np.sum(d_x)\n    d_a = d_a * a\n"
           "    d_x = d_x * d_a\n    return d_x\n")
    got = kinds.infer(gast.parse(src).body[0], {"x": A1, "a": F}, callee_kind)
    assert got["d_x"] == A1 and got["d_a"] == F, got
    assert asked == ["np.exp", "np.sum"], asked
    src = ("def h(x, a):\n    s = a\n    for i in range(3):\n        t = np.sum(x * i)\n"
           "        s = s + t\n        v = x * s\n    return s\n")
    asked.clear()
    got = kinds.infer(gast.parse(src).body[0], {"x": A1, "a": F}, callee_kind)
    assert got["s"] == F and got["v"] == A1 and asked == ["np.sum"], (got, asked)


def test_a_mean_share_srcdiff_writes_has_a_float_kind_and_settles_in_one_sweep():
    """scalarize writes rt.mean_grad(g, x) as `g / max(x.size, 1)`: of a float, builtin max of ints is an int, so
    the share is a float. With no kind for max (no rule record), the share and all computed from it had none, a
    name assigned again (`d_x = d_x + ...`) of an unknown kind made infer sweep twice, and the elementwise pass
    left those statements out of its kernels (generation_scaling's 1000 statements: 279 of 4661 names)."""
    import gast
    asked = []
    def callee_kind(name, arg_kinds):
        asked.append(name)
        return None
    src = ("def g(x, d_r):\n    d_m = d_r / max(x.size, 1)\n    d_x = x * d_m\n    e = np.exp(x)\n"
           "    d_x = d_x + e * d_m\n    return d_x\n")
    got = kinds.infer(gast.parse(src).body[0], {"x": A1, "d_r": F}, callee_kind)
    assert got["d_m"] == F and got["d_x"] == A1, got
    assert asked == ["np.exp"], asked       # (one sweep: each call asked once; max is no call of a callee)


def test_no_tagged_kind_indexing_outside_the_kind_type():
    """Kinds are read through the Kind type's fields everywhere but transforms/kind_type.py (architecture_metrics
    counts places that index kinds by position or write them as tagged tuples)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                        "architecture_metrics.py")
    spec = importlib.util.spec_from_file_location("architecture_metrics", path)
    metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(metrics)
    assert metrics.tagged_kinds(metrics.modules()) == []
    import ast
    found = [metrics._tag_test(n) or metrics._kind_tuple(n) for n in ast.walk(ast.parse(
        'a = k[0] == "a" and k[1] > 2\nb = (k or ("?",))[0] in ("s", "t")\nc = ("s", "i")\nd = ("a", n, "f")\n'
        'e = ("t", 2, "exp")\nf = ("a", "SCALE")\ng = ("dtype", "out")\nh = k[0] == "py_func"'))]
    assert sum(found) == 6, found   # (the tag tests of a and b, b's default ("?",), c, d, e; not f, g, h)


@pytest.mark.parametrize("expr, unreached", [
    ("a + 1.0", False), ("-b * a", True), ("np.exp(a)", False), ("f(b)", True), ("np.sum(a, axis=b)", True),
    ("b.shape", True), ("a[b]", True), ("a[0]", False), ("(a, b)", True), ("a if c else a", False),
    ("g", False),                                    # a name not assigned in the function (a global): reached
])
def test_reads_unreached_agrees_with_a_walk_of_every_name(expr, unreached):
    """infer's "name not reached yet" test: `b` is local and has no kind yet, `a` and `c` have kinds, `g` is
    not local. The direct look at flat expressions must answer as the walk of every name does."""
    import gast
    from srcdiff.transforms.astutil import walk_names
    e, local, known = parse_expr(expr), {"a", "b", "c"}, {"a": F, "c": B}
    walked = any(isinstance(r.ctx, gast.Load) and r.id in local and r.id not in known for r in walk_names(e))
    assert walked == unreached
    assert kinds._reads_unreached(e, local, known) == unreached


@pytest.mark.parametrize("ks, want", [
    ([F, F], F), ([F, A1], A1), ([A1, A2, F], A2), ([A1, ("a", None, "f")], ("a", None, "f")),
    ([A1, None], None), ([F, ("t", 2)], None), ([("l", F), F], ("a", None, "f")),
])
def test_broadcast_of_operand_kinds(ks, want):
    """An unknown or tuple operand: unknown; all scalars: a scalar; else the largest rank (unknown if one is)."""
    assert kinds.broadcast(ks, "f") == want


SUM_IN_LOOP = '''import numpy as np


def carried(x, a):
    for i in range(3):
        a = np.sin(x + sum(a * e for e in a))
    return np.sum(a)


def carried_zip(x, a):
    for i in range(2):
        a = np.tanh(x + sum(a * (p * 0.5 + q) for j, (p, q) in enumerate(zip(a, a), start=2)))
    return np.sum(a * a)


def empty(x, a, n):
    for i in range(2):
        a = np.sin(x + a + sum(a * e for e in a[:n]))
    return np.sum(a)
'''


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("name", ["carried", "carried_zip", "empty"])
def test_sum_of_arrays_carried_around_a_loop(name, jit):
    """A sum of arrays over a comprehension whose terms read a name the loop around it rebinds to the sum:
    the sum's value where its loops run no iteration (0.0, annotations.SUM_EMPTY) leaves its kind to the
    terms, so the name stays a vector and the sum starts from zeros under Numba (fuzz seed 700040 under jit:
    "Cannot unify array(float64, 1d, C) and float64"). `empty`'s sum runs no iteration at n = 0."""
    from gradcheck import check_grad
    mod = source_module(f"kinds_sum_loop_{name}", SUM_IN_LOOP)
    f = getattr(mod, name)
    a = np.array([0.1, -0.4, 0.7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for extra in ([[]] if name != "empty" else [[2], [0]]):
            check_grad(f, [0.3, a] + extra, wrt=(0, 1), jit=jit)
    g = srcdiff.grad(f, wrt=(0, 1), jit=jit)
    g(0.3, a, *([1] if name == "empty" else []))
    assert "np.zeros((1,))" in srcdiff.source(g)   # (where the loops run no iteration: zeros of the terms' rank)


def test_a_parameter_of_unknown_kind_is_reached():
    """A gradient made before any call (argument kinds unknown) reads a parameter its loop assigns again: the
    reads are reached, of kind None, so a name joined from them and from 0.0 is unknown, not a float (fuzz seed
    390060, nested: the inner gradient's `d_total = 0.0` was then scattered into: "first operand must be array")."""
    import gast
    src = ("def f(a):\n    for k in range(2):\n        if len(a) > 0:\n            t = a * 2.0\n        else:\n"
           "            t = 0.0\n        a = a + t\n    return a\n")
    got = kinds.infer(gast.parse(src).body[0], {})
    assert "a" in got and got["t"] is None, got


def sum_of_arrays_in_a_loop(a, M):
    for k in range(2):
        a = a + sum(M[0] * e for e in a)[[2, 0, 1, 3]]
    return np.sum(a ** 2)


def test_empty_sum_start_has_the_kind_of_its_terms():
    """A sum of arrays whose terms depend on a value the loop around it carries (`a`): its start where its own
    loop does not run, 0.0, has the terms' kind (kind_rewrites.sum_starts makes it zeros of their rank), so the
    join with the other branch's zeros stays an array and the loop's values keep their kinds (they were all
    unknown: under Numba "Cannot unify array(float64, 1d, C) and float64", fuzz seed 390060)."""
    from srcdiff import compiler
    unit = compiler.middle_end(compiler.front_end(sum_of_arrays_in_a_loop))
    got = kinds.infer(unit.node, {"a": A1, "M": A2})
    assert got["a"] == A1 and got["a3"] == A1, got


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradient_of_a_sum_of_arrays_in_a_loop(jit):
    from gradcheck import check_grad
    a, M = np.array([0.3, -0.2, 0.5, 0.1]), np.array([[0.1, 0.2, -0.3, 0.4], [0.3, -0.4, 0.6, 0.2]])
    check_grad(sum_of_arrays_in_a_loop, [a, M], wrt=(0, 1), jit=jit)


GATHERS = {"repeat_sliced": "np.repeat(np.sum(M, axis=1), 2)[:2]", "repeat": "np.repeat(np.sum(M, axis=1), 2)",
           "repeat_axis": "np.repeat(M, 2, axis=0)[1]", "tile_sliced": "np.tile(np.sum(M, axis=1), 2)[:2]",
           "tile_2d": "np.tile(M, (1, 2))[0]", "take_roll": "np.take(M, np.array([1, 0]), axis=1)[0] + np.roll(a, 1)"}


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("loop", ["f", "f_while"])
@pytest.mark.parametrize("gather", sorted(GATHERS))
def test_gather_bound_in_a_branch_has_a_kind(gather, loop, jit):
    """A value bound from a gather (np.repeat, np.tile, np.roll: np.take of an index array) in a branch and read in
    a later iteration: its placeholder before the loop has the gather's kind, so Numba types the value an array,
    not an optional (fuzz seed 501370 under jit: "Numba crashed compiling the generated code (AttributeError:
    'NoneType' object has no attribute 'args')", typing `d_a += d_prev8` with d_prev8 optional; in a while loop
    the value was declined as bound on some paths only)."""
    f = getattr(branch_values.program(f"kinds_gather_{gather}", GATHERS[gather]), loop)
    branch_values.check_both_branches(f, jit)
    g = srcdiff.grad(f, wrt=(0, 1, 2), jit=jit)
    g(0.7, branch_values.A_EACH_BRANCH[-1], branch_values.M)
    assert "prev = None" not in srcdiff.source(g)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("value", ["np.interp(a, np.array([-1.0, 0.0, 1.0]), np.array([0.5, 0.2, 0.9]))",
                                   "np.full_like(a, 0.3) * M[0]"], ids=["interp", "full_like"])
def test_value_bound_in_a_branch_has_its_rules_kind(value, jit):
    """As test_gather_bound_in_a_branch_has_a_kind, for np.interp and np.full_like, whose rules had no kind law
    either (the same Numba crash)."""
    name = "kinds_branch_" + ("interp" if "interp" in value else "full_like")
    branch_values.check_both_branches(branch_values.program(name, value).f, jit)


def where_of_a_value_carried_through_linspace(x, a):
    u = np.sum(a)
    p = 0.0
    for i in range(3):
        if i > 0:
            u = 0.5 * u + 0.5 * np.tanh(p)
        if x > 0.0:
            p = np.where(i * 0.25 > 0.1, u, i * 0.25)
        else:
            p = np.linspace(u + x, 1.0, 5)[3]
    return u * x


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("x", [0.7, -0.7], ids=["where", "linspace"])
def test_np_where_of_scalars_in_a_loop_with_np_linspace(x, jit):
    """Nested fuzz seed 460334 (its inner gradient, jit=True): np.linspace had no kind law, so p, and through the loop
    u, had no kind; np.where of the scalars was then not made rt.select and stayed a 0-d array under Numba, joined
    with the floats of the other branch: "Cannot unify array(float64, 0d, C) and float64". Both branches, py and
    jit, against central differences."""
    a = np.array([0.3, -0.2, 0.5])
    got = srcdiff.grad(where_of_a_value_carried_through_linspace, wrt=(0, 1), jit=jit)(x, a)
    for k in range(2):
        want = numerical_grad(where_of_a_value_carried_through_linspace, [x, a], k)
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-9)


def solved_terms(M):
    u2 = scipy.linalg.solve_triangular(np.tril(2.0 * np.eye(2) + 0.3 * np.tanh(M[:, :2])), M[:, 1], lower=True) @ M
    u3 = np.linalg.solve(2.0 * np.eye(2) + 0.1 * M[:, :2], M[:, 2])
    return np.sum(np.log1p(np.square(M)) + sum(u2 * (e5 * 0.5 + e6) for e5, e6 in zip(u3, M[0])))


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_sum_of_arrays_over_a_zip_of_solved_terms(jit):
    """A sum of arrays over a zip (it may run no iteration, so it starts from 0.0 or zeros of its terms' kind)
    whose terms come from solves: the solves had no kind law, the start stayed 0.0 and Numba could not unify it
    with the array terms ('Cannot unify array(float64, 1d, C) and float64', fuzz seed 500150)."""
    from gradcheck import check_grad
    check_grad(solved_terms, [np.array([[0.3, 0.5, 0.1], [0.7, -0.2, 0.4]])], wrt=(0,), jit=jit)


def halves(pk):
    p0, p1 = pk
    return p1


def running_sums_by_keyword(M, scale):
    t = np.cumsum(M, axis=0)
    s = np.sort(M * scale, axis=0)
    return halves([scale, t[1]])[0] * scale + np.sum(t[:, 1] * s[:, 2]) + np.sum(np.cumprod(M + 2.0, axis=1)[1])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_axis_by_keyword_keeps_the_rank(jit):
    """np.cumsum(M, axis=0) (and sort, cumprod) with the axis passed by keyword: the kind law read the axis at its
    position only, so the result was 1-d (flattened) and t[1] a scalar; t[1]'s adjoint started from 0.0 and
    d_t1[0] += ... failed ('float' object is not subscriptable, fuzz seed 600513)."""
    from gradcheck import check_grad
    M = np.array([[0.3, -0.5, 0.1], [0.7, -0.2, 0.4]])
    got = check_grad(running_sums_by_keyword, [M, 0.8], wrt=(0, 1), jit=jit)
    other = srcdiff.grad(running_sums_by_keyword, wrt=(0, 1), jit=not jit)(M, 0.8)
    for a, b in zip(got, other):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


RECURSIONS = '''
import numpy as np


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def summed(x):
    return np.sum(power(x, 3))


def averaged(x):
    return np.mean(power(x, 3)) + np.sum(np.sin(power(x, 2)) * x)
'''


def test_the_kind_a_recursion_returns_is_inferred_again_from_its_own_calls():
    """`power` returns 1.0 where it ends and x * power(x, n - 1), an array, elsewhere: its kind is neither. Its
    first kind came from the base case alone (its own calls left out), a number, and was kept: the gradient
    treated `power(x, 3)` as a number (np.sum of the adjoint onto it: 3.79 for 1.47). The kind is now inferred
    again with the kind found for its own calls until it stays (here: unknown)."""
    mod = source_module("kinds_recursions", RECURSIONS)
    x = np.array([0.7, 1.2, -0.4])
    for f in (mod.summed, mod.averaged):
        np.testing.assert_allclose(srcdiff.grad(f)(x), numerical_grad(f, [x], 0), rtol=1e-6, atol=1e-9)
