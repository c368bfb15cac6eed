"""transforms/kinds.py: the kind of every SSA value (scalar or array, rank, dtype), from the kind laws the
rule records name (srcdiff/rules). A kind the pass does not know costs folding: `np.sum(f(x) * y)` keeps an
`rt.sum_grad` call (the adjoint's shape is then unknown) where a known kind folds it away."""
import importlib.util
import os
import warnings

import numpy as np
import pytest

import srcdiff
from gradcheck import source_module
from srcdiff.rules import RULES
from srcdiff.transforms import kinds
from srcdiff.transforms.astutil import parse_expr

F, I, B = ("s", "f"), ("s", "i"), ("s", "b")
A1, A2, I1 = ("a", 1, "f"), ("a", 2, "f"), ("a", 1, "i")


@pytest.mark.parametrize("expr, env, want", [
    ("np.cbrt(x)", {"x": A2}, A2),                   # elementwise functions dims knew and kinds did not
    ("np.arcsinh(s)", {"s": F}, F),
    ("np.log2(n)", {"n": I1}, A1),                   # (of ints: floats)
    ("np.hypot(s, x)", {"s": F, "x": A2}, A2),       # of two arguments: they broadcast
    ("np.logaddexp2(x, v)", {"x": A2, "v": A1}, A2),
    ("np.where(c, s, x)", {"c": ("a", 2, "b"), "s": F, "x": A1}, A1),   # (the values' broadcast)
    ("np.isnan(x)", {"x": A2}, ("a", 2, "b")),
    ("np.floor_divide(n, 2)", {"n": I1}, I1),        # of ints: ints
    ("np.fmod(x, 2.0)", {"x": A1}, A1),
    ("math.log2(s)", {"s": F}, F),
    ("rt.max2(n, 2)", {"n": I}, I),
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
    ("np.unknown_function(x)", {"x": A2}, None),   # no rule: unknown
    ("(x, s)[0]", {"x": A1, "s": F}, A1),          # an element of a tuple written out: its own kind
    ("(x, s)[-1]", {"x": A1, "s": F}, F),          # (fuzz seed 106230: taken for a shape's int, a sum of
    ("(x, s)[n]", {"x": A1, "s": F, "n": I}, None),   # arrays then started from 0.0 under Numba)
    ("(x, x)[n]", {"x": A1, "n": I}, A1),
    ("t[0]", {"t": ("t",)}, I),                    # a shape (or a tuple argument): ints
])
def test_kind_laws(expr, env, want):
    assert kinds.expr_kind(parse_expr(expr), env) == want


def test_every_kind_law_is_named_by_a_rule():
    """No law is dead code: each is some record's kind law."""
    used = {r.kind[0] if isinstance(r.kind, tuple) else r.kind for r in RULES.values()}
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
