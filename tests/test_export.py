"""srcdiff.export writes a standalone module that runs without srcdiff."""
import collections
import subprocess
import sys

import numpy as np
import pytest

import srcdiff
from gradcheck import exported

WEIGHTS = np.array([1.0, 2.0])
OFFSET_DEFAULT = np.array([0.5, -1.0, 2.0])


def weighted(x, y):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + WEIGHTS[i] * np.exp(x[i]) * y
    return total


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_export_runs_without_srcdiff(tmp_path, jit):
    g = srcdiff.grad(weighted, wrt=(0, 1), jit=jit)
    expect = g(np.array([0.1, 0.2]), 3.0)
    path = srcdiff.export(g, str(tmp_path / "weighted_grad.py"))
    code = ("import sys, numpy as np; sys.path.insert(0, %r); import weighted_grad as m; "
            "dx, dy = m.weighted_grad(np.array([0.1, 0.2]), 3.0); "
            "assert 'srcdiff' not in sys.modules; print(repr(list(dx)), repr(float(dy)))") % str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    dx, dy = out.stdout.strip().split("] ")
    np.testing.assert_allclose(eval(dx + "]"), expect[0])
    assert float(dy) == pytest.approx(expect[1])
    assert open(path).read().count("def weighted_grad") == 1


def with_defaults(x, pair, scale=2.0, *, shift=(0.5, 1.0), offset=OFFSET_DEFAULT, rows=slice(0, 2)):
    w, (b, c) = pair
    return scale * np.sum(np.tanh(w * x + b) * c) + shift[0] * np.sum(offset * w) + np.sum(x[rows] ** 2)


def assert_same(got, ref):
    assert type(got) is type(ref)
    if isinstance(ref, (tuple, list)):
        assert len(got) == len(ref)
        for a, b in zip(got, ref):
            assert_same(a, b)
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
@pytest.mark.parametrize("seq", [tuple, list])
def test_export_is_called_as_the_transform_is(tmp_path, mode, seq):
    """The exported entry point takes the user's parameters with their defaults (an array default too) and
    keyword-only ones, and a tuple/list argument whole (nested): it unpacks it into the leaves the generated
    function takes and gives its gradient back in the same structure, as `g` does (fuzzing found exported
    gradients of functions with defaults uncallable without every argument)."""
    x = np.array([0.3, -0.2, 0.5])
    pair = seq([np.array([0.1, 0.4, -0.3]), seq([0.2, np.array([1.0, -0.5, 0.25])])])
    transform = getattr(srcdiff, mode)
    for wrt in [(0, 1), 1, ("pair",)]:
        g = transform(with_defaults, wrt=wrt)
        ref = g(x, pair)
        mod, text = exported(g, tmp_path, f"defaults_{mode}_{seq.__name__}_{len(str(wrt))}")
        entry = g.last.module.entry
        assert_same(getattr(mod, entry)(x, pair), ref)
        assert_same(getattr(mod, entry)(x, pair, 1.5, shift=(2.0, 0.0)), g(x, pair, 1.5, shift=(2.0, 0.0)))
        assert f"def {entry}(x, pair, scale=2.0, *, shift=(0.5, 1.0), offset=offset_default, rows=slice(0, 2, None)):" in text
        assert "srcdiff" not in text.split('"""', 2)[2].split("def ", 1)[0]   # the module imports no srcdiff


def test_export_declines_a_vjp_of_tuple_arguments(tmp_path):
    """A vjp of tuple arguments is declined naming the function (its cotangent follows the arguments)."""
    v = srcdiff.vjp(with_defaults, wrt=1)
    v(np.array([0.3, -0.2, 0.5]), (np.array([0.1, 0.4, -0.3]), (0.2, np.ones(3))), 1.0)
    with pytest.raises(srcdiff.SrcdiffError, match="vjp of tuple/list arguments"):
        srcdiff.export(v, str(tmp_path / "pairs.py"))


def sum_of_squares(ps, scale=1.0):
    s = 0.0
    for p in ps:
        s = s + scale * np.sum(p ** 2)
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
def test_export_after_an_empty_list_argument(tmp_path, jit, mode):
    """A transform whose last call had an empty list argument (no leaf to differentiate) exports an entry point
    that gives an empty list back, as `g` does (export raised IndexError building it); a non-empty one after."""
    g = getattr(srcdiff, mode)(sum_of_squares, jit=jit)
    for k, ps in enumerate(([], [np.array([0.5, -1.0]), np.array([[2.0]])])):
        ref = g(ps)
        mod, _ = exported(g, tmp_path, f"empty_{mode}_{int(jit)}_{k}")
        got = getattr(mod, g.last.module.entry)(ps)
        grads = got if mode == "grad" else got[1]
        assert isinstance(grads, list) and len(grads) == len(ps)
        assert_same(grads, ref if mode == "grad" else ref[1])


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("mode", ["grad", "value_and_grad", "vjp"])
def test_export_of_a_tuple_of_one_wrt_gives_a_tuple_of_one(tmp_path, jit, mode):
    """wrt=(0,) gives a tuple of one gradient in process; the exported entry gave the gradient itself (the
    generated function returns it bare and api.Transformed._shape wraps it), so `(dx,) = m.f_grad(...)` failed."""
    g = getattr(srcdiff, mode)(weighted, wrt=(0,), jit=jit)
    args = (np.array([0.1, 0.2]), 3.0) + ((1.0,) if mode == "vjp" else ())
    ref = g(*args)
    mod, _ = exported(g, tmp_path, f"one_{mode}_{int(jit)}")
    got = getattr(mod, g.last.module.entry)(*args)
    assert isinstance(got if mode == "grad" else got[1], tuple)
    assert_same(got if mode == "grad" else got[1], ref if mode == "grad" else ref[1])


Pair = collections.namedtuple("Pair", ["W", "b"])


def pair_loss(p, x):
    return np.sum(np.tanh(p.W @ x + p.b) ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("mode", ["grad", "value_and_grad"])
def test_export_of_a_namedtuple_argument_gives_a_namedtuple(tmp_path, jit, mode):
    """The exported entry rebuilt a namedtuple argument's gradient as type(p)((dW, db)), a TypeError from
    Pair.__new__ (fuzz seed 1050001); it is a Pair of the gradients by field, as in process."""
    g = getattr(srcdiff, mode)(pair_loss, jit=jit)
    args = (Pair(np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([0.05, -0.1])), np.array([1.0, 2.0]))
    ref = g(*args)
    mod, _ = exported(g, tmp_path, f"pair_{mode}_{int(jit)}")
    got = getattr(mod, g.last.module.entry)(*args)
    got, ref = (got, ref) if mode == "grad" else (got[1], ref[1])
    assert type(got) is Pair
    assert_same(tuple(got), tuple(ref))


def test_export_declines_a_file_name_python_cannot_import(tmp_path):
    """`0grad.py` was written with `import 0grad_runtime as rt`, a SyntaxError when imported."""
    g = srcdiff.grad(weighted)
    g(np.array([0.1, 0.2]), 3.0)
    with pytest.raises(srcdiff.SrcdiffError, match="not a Python identifier"):
        srcdiff.export(g, str(tmp_path / "0grad.py"))


def test_export_of_a_jvp_of_a_function_with_defaults(tmp_path):
    """A jvp of a function with defaults raised AttributeError ('ForwardTransformed' has no 'mode'); its entry
    takes every argument in order, then the tangent, as a vjp's does."""
    def scaled(x, c=2.0):
        return np.sum(np.sin(x) * c)
    j = srcdiff.jvp(scaled)
    x, t = np.array([0.3, -0.4]), np.array([1.0, 0.5])
    ref = j(x, t)
    mod, _ = exported(j, tmp_path, "jvp_defaults")
    assert_same(tuple(float(v) for v in getattr(mod, j.last.module.entry)(x, 2.0, t)), tuple(float(v) for v in ref))
