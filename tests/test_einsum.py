"""np.einsum (a composite: srcdiff/rules/composites.py) on random subscripts, gradient-checked.

The subscripts must be literals in the differentiated source, so the wrappers are written to a real
module: one function per random specification (1 to 3 operands, letters shared, summed, kept, in any
output order), each reducing the einsum with a non-uniform cotangent.
"""
import numpy as np
import pytest

import srcdiff
from gradcheck import check_grad, source_module

LETTERS = "ijkl"
SIZES = {"i": 2, "j": 3, "k": 2, "l": 3}


def _specs(count=36, seed=7):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        n_ops = int(rng.integers(1, 4))
        ops = []
        for _ in range(n_ops):
            size = int(rng.integers(0, 4))
            ops.append("".join(rng.permutation(list(LETTERS))[:size]))
        used = sorted(set("".join(ops)))
        keep = [c for c in used if rng.random() < 0.5]
        out_idx = "".join(rng.permutation(keep)) if keep else ""
        spec = ",".join(ops) + "->" + out_idx
        if spec not in out:
            out.append(spec)
    return out


SPECS = _specs()


@pytest.fixture(scope="module")
def wrappers():
    src = ["import numpy as np\n"]
    for k, spec in enumerate(SPECS):
        params = ", ".join(f"a{m}" for m in range(len(spec.split("->")[0].split(","))))
        src.append(f"\ndef f{k}({params}):\n    out = np.einsum({spec!r}, {params})\n"
                   f"    return np.sum(np.sin(1.3 * out) + out)\n")
    return source_module("einsum_wrappers", "".join(src))


def _args(spec, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=tuple(SIZES[c] for c in op)) if op else float(rng.normal())
            for op in spec.split("->")[0].split(",")]


@pytest.mark.parametrize("k", range(len(SPECS)), ids=SPECS)
def test_einsum_grad(wrappers, k):
    f = getattr(wrappers, f"f{k}")
    args = _args(SPECS[k], k)
    check_grad(f, args, wrt=tuple(range(len(args))), jit=False)


@pytest.mark.parametrize("k", range(0, len(SPECS), 6), ids=SPECS[::6])
def test_einsum_grad_numba(wrappers, k):
    f = getattr(wrappers, f"f{k}")
    args = _args(SPECS[k], k)
    check_grad(f, args, wrt=tuple(range(len(args))), jit=True)


@pytest.mark.parametrize("k", range(len(SPECS)), ids=SPECS)
def test_einsum_value_and_jvp(wrappers, k):
    """The written-out contraction equals NumPy's, and forward mode agrees with the gradient."""
    f = getattr(wrappers, f"f{k}")
    args = _args(SPECS[k], k)
    value, grads = srcdiff.value_and_grad(f, wrt=tuple(range(len(args))))(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(100 + k)
    tangents = tuple(rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal()) for a in args)
    _, dv = srcdiff.jvp(f, wrt=tuple(range(len(args))))(*args, tangents)
    expected = sum(float(np.sum(g * t)) for g, t in zip(grads, tangents))
    np.testing.assert_allclose(dv, expected, rtol=1e-9, atol=1e-9)


def einsum_optimized(a, b):
    return np.einsum("ij,ij->", a, b, optimize=True) + np.sum(np.einsum("ij,kj->ik", a, b, optimize="greedy") ** 2)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_einsum_optimize_keyword(jit):
    """optimize= picks a contraction order, which leaves the value as it is (it was declined: "got an unexpected
    keyword argument 'optimize'")."""
    rng = np.random.default_rng(3)
    check_grad(einsum_optimized, [rng.normal(size=(3, 2)), rng.normal(size=(3, 2))], jit=jit)


# ---- a loop over a tuple of literal subscripts: unrolled, each item a literal at the einsum (declined before:
# "the subscripts must be a string literal"); the loop variable is the last item after the loop ----------------
def einsum_over_literal_specs(A):
    total = 0.0
    for spec in ("ij->i", "ij->j"):
        total = total * 0.5 + np.sum(np.einsum(spec, A) ** 2)
    return total + np.sum(np.einsum("ij->j", A)) * len(spec)


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_a_loop_over_literal_subscripts_is_unrolled(jit):
    from gradcheck import numerical_grad
    A = np.arange(6.0).reshape(2, 3) / 5
    want = numerical_grad(einsum_over_literal_specs, [A], 0)
    value, g = srcdiff.value_and_grad(einsum_over_literal_specs, jit=jit)(A)
    assert value == pytest.approx(einsum_over_literal_specs(A), rel=1e-12)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    V = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    assert srcdiff.jvp(einsum_over_literal_specs, jit=jit)(A, V)[1] == pytest.approx(np.sum(want * V), rel=1e-6)
    H = srcdiff.hessian(einsum_over_literal_specs, jit=jit)(A)
    assert H.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(np.einsum("ijkl,kl->ij", H, V),
                               (srcdiff.grad(einsum_over_literal_specs)(A + 1e-5 * V)
                                - srcdiff.grad(einsum_over_literal_specs)(A - 1e-5 * V)) / 2e-5, rtol=1e-5, atol=1e-6)


# ---- subscripts held in a name bound to a string literal (not an unrolled loop's own variable): folded into the
# call (canonicalize._facts; declined before: "the subscripts must be a string literal") ------------------
def einsum_of_named_subscripts(A, x):
    spec = "ij,j->i"
    pair = "ij,ij->"
    total = np.sum(np.einsum(spec, A, x) ** 2)
    for s in ("ij->i", "ij->j"):
        inner = "ij,ij->"      # (bound in each copy of the unrolled body)
        total = total + np.sum(np.einsum(s, A) ** 2) * np.einsum(inner, A, A)
    again = spec
    return total + np.sum(np.sin(np.einsum(again, A, x))) + np.einsum(pair, A, np.tanh(A))


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_subscripts_bound_to_a_name_are_folded(jit):
    from gradcheck import numerical_grad
    rng = np.random.default_rng(11)
    A, x = rng.normal(size=(2, 3)), rng.normal(size=3)
    f = einsum_of_named_subscripts
    check_grad(f, [A, x], wrt=(0, 1), jit=jit, rtol=1e-6, atol=1e-8)
    v = rng.normal(size=3)
    _, t = srcdiff.jvp(f, wrt=1, jit=jit)(A, x, v)
    assert t == pytest.approx(float(numerical_grad(f, [A, x], 1) @ v), rel=1e-6)
    g = srcdiff.grad(f, wrt=1)
    np.testing.assert_allclose(srcdiff.hvp(f, wrt=1, jit=jit)(A, x, v), (g(A, x + 1e-5 * v) - g(A, x - 1e-5 * v)) / 2e-5,
                               rtol=1e-5, atol=1e-6)
    src = srcdiff.source(srcdiff.grad(f, wrt=(0, 1), jit=jit))
    assert not [ln for ln in src.splitlines() if '= "ij' in ln and not ln.lstrip().startswith("#")], src


def einsum_of_a_chosen_string(A):
    spec = "ij->i" if A[0, 0] > 0 else "ij->j"
    return np.sum(np.einsum(spec, A) ** 2)


def test_subscripts_chosen_when_the_function_runs_are_declined_with_advice():
    with pytest.raises(srcdiff.SrcdiffError, match=r"test_einsum.py:\d+: np.einsum: the subscripts must be a string "
                                                   r"literal(.|\n)*bind 'spec' to one string literal only"):
        srcdiff.grad(einsum_of_a_chosen_string)(np.ones((2, 3)))
