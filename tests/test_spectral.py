"""np.linalg.eigh / eigvalsh / svd / pinv and np.kron: the forms users write (unpacking, indexing,
compute_uv=False, full_matrices=True with only s used), against central differences at random points in
Python and with jit=True; jvp and hvp (forward over reverse, whose rules for the adjoint helpers are
checked here directly); the documented behaviour at repeated eigenvalues; what is declined.

Eigh inputs are symmetrised inside the functions ((x + x.T) / 2): srcdiff's eigh gradient is the one over
symmetric perturbations. Eigen- and singular vectors enter through sign-invariant functions only."""
import warnings

import numpy as np
import pytest

import srcdiff
from srcdiff import runtime as rt
from gradcheck import check_grad, numerical_grad

BACKENDS = [pytest.param(False, id="py"), pytest.param(True, id="jit")]


def eigh_uses(x, b):
    a = (x + x.T) / 2
    w, V = np.linalg.eigh(a)
    rebuilt = (V * np.exp(0.3 * w)) @ V.T           # expm(0.3 a): sign-invariant
    return np.sum(np.sin(w)) + np.sum(rebuilt * b) + np.sum(V[:, 0] * V[:, 0] * b[0]) + (V[:, -1] @ b[1]) ** 2


def eigvalsh_only(x):
    a = x @ x.T + np.eye(x.shape[0])
    return np.sum(np.log(np.linalg.eigvalsh(a))) + np.linalg.eigh(a)[0][-1]


def svd_uses(x, b):
    U, s, Vh = np.linalg.svd(x, full_matrices=False)
    top = np.outer(U[:, 0], Vh[0])                  # the spectral norm's gradient: sign-invariant
    return np.sum(s) + s[0] ** 2 + np.sum(top * b) + np.sum((U * np.sqrt(s)) @ (Vh * b[0])) \
        + np.sum(U[0] ** 2)


def singular_values_only(x):
    _, s, _ = np.linalg.svd(x)                      # full_matrices=True is fine when U and Vh are not used
    return np.sum(s) + np.linalg.svd(x)[1][0] + np.sum(np.linalg.svd(x, compute_uv=False) ** 2)


def pinv_and_kron(x, b):
    return np.sum(np.sin(np.linalg.pinv(x) @ b)) + np.sum(np.kron(x, x[0]) ** 2) + np.sum(np.kron(x[:, 0], b[0]))


def _matrix(rng, shape):
    """Singular values (and eigenvalues of the symmetric part) well apart."""
    k = min(shape)
    u, _ = np.linalg.qr(rng.normal(size=(shape[0], k)))
    w, _ = np.linalg.qr(rng.normal(size=(shape[1], k)))
    return (u * (1.0 + 0.7 * np.arange(k)[::-1] + rng.uniform(0.0, 0.2, k))) @ w.T


CASES = [(eigh_uses, [(4, 4), (4, 4)]), (eigvalsh_only, [(3, 5)]), (svd_uses, [(5, 3), (5, 3)]),
         (svd_uses, [(3, 5), (3, 5)]), (singular_values_only, [(4, 3)]), (pinv_and_kron, [(4, 3), (4, 2)]),
         (pinv_and_kron, [(2, 3), (2, 2)])]
IDS = [f"{f.__name__}-{shapes[0][0]}x{shapes[0][1]}" for f, shapes in CASES]


def _args(shapes, seed):
    rng = np.random.default_rng(seed)
    return [_matrix(rng, shapes[0])] + [rng.normal(size=s) for s in shapes[1:]]


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, shapes", CASES, ids=IDS)
def test_gradient_matches_finite_differences(f, shapes, jit):
    for seed in (0, 1):   # (one compile per backend: the second point reuses it)
        check_grad(f, _args(shapes, seed), jit=jit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, shapes", CASES, ids=IDS)
def test_jvp_matches_finite_differences(f, shapes, jit):
    if jit and f not in (eigh_uses, svd_uses, pinv_and_kron):   # jit: a few cases, to keep compile time down
        pytest.skip("covered in Python")
    args = _args(shapes, 2)
    v = np.random.default_rng(3).normal(size=shapes[0])
    value, dv = srcdiff.jvp(f, jit=jit)(*args, v)
    ref = (f(args[0] + 1e-6 * v, *args[1:]) - f(args[0] - 1e-6 * v, *args[1:])) / 2e-6
    assert value == pytest.approx(f(*args), rel=1e-12)
    assert dv == pytest.approx(ref, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, shapes", CASES, ids=IDS)
def test_hvp_matches_finite_differences_of_the_gradient(f, shapes, jit):
    if jit and f not in (eigh_uses, svd_uses):   # jit: one case per decomposition, to keep compile time down
        pytest.skip("covered in Python")
    args = _args(shapes, 4)
    v = np.random.default_rng(5).normal(size=shapes[0])
    grad = srcdiff.grad(f)
    ref = (grad(args[0] + 1e-6 * v, *args[1:]) - grad(args[0] - 1e-6 * v, *args[1:])) / 2e-6
    got = srcdiff.hvp(f, jit=jit)(*args, v)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * max(1.0, np.max(np.abs(ref))))


# ---- the forward-mode rules of the adjoint helpers (what hvp uses), with independent arguments ---------------
def _sym(x):
    return 0.5 * (x + x.T)


def h_eigvalsh_grad(a, v):
    return rt.eigvalsh_grad(a, v)


def h_eigh_vectors_grad(a, u, v):
    return rt.eigh_vectors_grad(a, u, v)


def h_svdvals_grad(a, v):
    return rt.svdvals_grad(a, v)


def h_svd_u_grad(a, u, v):
    return rt.svd_u_grad(a, u, v)


def h_svd_vh_grad(a, vh, v):
    return rt.svd_vh_grad(a, vh, v)


def h_pinv_grad(a, p, v):
    return rt.pinv_grad(a, p, v)


def _helper_args(name, rng):
    s = _sym(_matrix(rng, (4, 4)))
    m = _matrix(rng, (5, 3))
    return {"eigvalsh_grad": [s, rng.normal(size=4)],
            "eigh_vectors_grad": [s, rng.normal(size=(4, 4)), rng.normal(size=(4, 4))],
            "svdvals_grad": [m, rng.normal(size=3)],
            "svd_u_grad": [m, rng.normal(size=(5, 3)), rng.normal(size=(5, 3))],
            "svd_vh_grad": [m, rng.normal(size=(3, 3)), rng.normal(size=(3, 3))],
            "pinv_grad": [m, rng.normal(size=(3, 5)), rng.normal(size=(3, 5))]}[name]


@pytest.mark.parametrize("name", ["eigvalsh_grad", "eigh_vectors_grad", "svdvals_grad", "svd_u_grad",
                                  "svd_vh_grad", "pinv_grad"])
def test_adjoint_helper_tangents(name):
    """rt.<name>'s jvp rule (runtime_rules.py) along every argument at once equals the central difference."""
    f = globals()[f"h_{name}"]
    rng = np.random.default_rng(7)
    args = _helper_args(name, rng)
    tangents = [rng.normal(size=np.shape(a)) for a in args]
    if name.startswith("eig"):
        tangents[0] = _sym(tangents[0])   # the matrix stays symmetric (the helpers check it)
    wrt = tuple(range(len(args)))
    value, d = srcdiff.jvp(f, wrt=wrt)(*args, tuple(tangents))
    at = lambda t: f(*[a + t * da for a, da in zip(args, tangents)])  # noqa: E731
    ref = (at(1e-6) - at(-1e-6)) / 2e-6
    np.testing.assert_allclose(value, f(*args), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d, ref, rtol=1e-5, atol=1e-6 * max(1.0, np.max(np.abs(ref))))


# ---- repeated eigenvalues and singular values ------------------------------------------------------------------
def sum_of_squared_eigenvalues(a):
    return np.sum(np.linalg.eigvalsh((a + a.T) / 2) ** 2)


def nuclear_norm(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))


def eigenvector_loss(a):
    w, V = np.linalg.eigh((a + a.T) / 2)
    return np.sum(V[:, 0] ** 4)


@pytest.mark.parametrize("jit", BACKENDS)
def test_eigenvalue_and_singular_value_gradients_are_finite_at_repeated_values(jit):
    q, _ = np.linalg.qr(np.random.default_rng(8).normal(size=(4, 4)))
    a = (q * np.array([1.0, 1.0, 1.0, 2.5])) @ q.T        # a triple eigenvalue
    a = (a + a.T) / 2
    g = srcdiff.grad(sum_of_squared_eigenvalues, jit=jit)(a)
    np.testing.assert_allclose(g, 2.0 * a, atol=1e-12)     # d/da tr(a²) = 2a
    np.testing.assert_allclose(srcdiff.grad(sum_of_squared_eigenvalues, jit=jit)(np.eye(3)), 2.0 * np.eye(3))
    # an orthogonal matrix: every singular value is 1, and the nuclear norm's gradient is U Vh = q itself
    np.testing.assert_allclose(srcdiff.grad(nuclear_norm, jit=jit)(q), q, atol=1e-12)


def test_eigenvector_gradient_at_a_repeated_eigenvalue_is_not_finite():
    """Documented (runtime/spectral.py): the eigenvectors of a repeated eigenvalue have no derivative, and
    their adjoint comes out inf/nan instead of a number (never a wrong finite one), without raising."""
    a = np.diag([1.0, 1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = srcdiff.grad(eigenvector_loss)(a)
    assert not np.all(np.isfinite(g))


# ---- declined -------------------------------------------------------------------------------------------------
def unsymmetric_eigh(x):
    return np.sum(np.linalg.eigvalsh(x))


@pytest.mark.parametrize("jit", BACKENDS)
def test_unsymmetric_matrix_is_refused_when_differentiated(jit):
    """NumPy's eigh reads the lower triangle only; srcdiff's gradient is the one over symmetric perturbations,
    so an unsymmetric matrix is refused (at run time: symmetry is a property of the values) with advice."""
    x = np.arange(9.0).reshape(3, 3)
    with pytest.raises(srcdiff.SrcdiffError, match=r"(?s)not symmetric.*hint: symmetrise it first, e\.g\. \(a \+ a\.T\) / 2") as info:
        srcdiff.grad(unsymmetric_eigh, jit=jit)(x)
    assert "stack" not in str(info.value)    # (its advice was once the one for a stack of matrices)
    with pytest.raises((ValueError, srcdiff.SrcdiffError), match="not symmetric"):
        srcdiff.jvp(unsymmetric_eigh)(x, np.ones((3, 3)))
    np.testing.assert_allclose(srcdiff.grad(unsymmetric_eigh, jit=jit)(x + x.T), np.eye(3), atol=1e-12)


_eigenvalue_jvp = srcdiff.jvp(sum_of_squared_eigenvalues)


def eigenvectors_loss(x):
    a = (x + x.T) / 2
    return np.sum(np.linalg.eigh(a)[1][:, 0] ** 2 * np.arange(3.0))


_eigenvector_grad = srcdiff.grad(eigenvectors_loss)


def grad_of_eigenvector_gradient(x):
    g = _eigenvector_grad(x)
    return np.sum(g * g)


_eigenvector_penalty_grad = srcdiff.grad(grad_of_eigenvector_gradient)


def third_derivative_through_eigenvectors(x):
    g = _eigenvector_penalty_grad(x)
    return np.sum(g * g)


def jvp_of_eigenvalue_penalty(x):
    v, d = _eigenvalue_jvp(x, np.cos(np.arange(9.0)).reshape(3, 3))
    return np.sin(v) * d + d * d


def test_third_derivatives_decline_with_advice():
    """The adjoint helpers and the tangent helpers (*_grad, *_jvp) have forward and reverse rules (a gradient-norm
    penalty through eigenvectors works, test_reverse_over_a_gradient_through_vectors_and_pinv; so does reverse over
    jvp, test_reverse_over_jvp_through_eigh_svd_pinv), but the helpers those rules call (*_curvature, *_vjp_*,
    *_tangent) have none: a third derivative through them declines naming the helper."""
    x = np.diag([1.0, 2.0, 3.5]) + 0.1
    with pytest.raises(srcdiff.SrcdiffError, match=r"eigh_vectors_grad_vjp_a.*no differentiation rule"):
        srcdiff.grad(third_derivative_through_eigenvectors)(x)
    with pytest.raises(srcdiff.SrcdiffError, match=r"eigh_vectors_grad_vjp_a.*no differentiation rule"):
        srcdiff.hvp(grad_of_eigenvector_gradient)(x, np.eye(3))
    # hvp of a function that calls jvp through eigvalsh: forward over the reverse rule of rt.eigvalsh_jvp
    with pytest.raises(srcdiff.SrcdiffError, match=r"eigvalsh_curvature.*no differentiation rule"):
        srcdiff.hvp(jvp_of_eigenvalue_penalty)(np.diag([1.0, 2.0, 3.5]), np.eye(3))


# ---- reverse over a gradient through singular values: rt.svdvals_grad's reverse rule (h29c) -------------------
def spectral_loss(x):
    return np.sum(np.sin(np.linalg.svd(x, compute_uv=False))) + np.linalg.svd(x)[1][0] ** 2


_spectral_grad = srcdiff.grad(spectral_loss)


def squared_gradient_norm(x, b):
    g = _spectral_grad(x)
    return np.sum(g * g) + np.sum(g * b)


def eigenvalue_loss(x):
    a = (x + x.T) / 2
    return np.sum(np.sin(np.linalg.eigvalsh(a))) + np.linalg.eigh(a)[0][-1] ** 2


_eigenvalue_grad = srcdiff.grad(eigenvalue_loss)


def squared_eigenvalue_gradient_norm(x, b):
    g = _eigenvalue_grad(x)
    return np.sum(g * g) + np.sum(g * b)


@pytest.mark.parametrize("jit", BACKENDS)
def test_reverse_over_a_gradient_through_eigenvalues(jit):
    """As below, through eigvalsh (rt.eigvalsh_grad's reverse rule, h29c; the nested fuzzer's seed 1221000 was
    declined as 'rt.eigvalsh_grad has a forward-mode rule but no reverse-mode rule')."""
    rng = np.random.default_rng(8)
    args = [_matrix(rng, (4, 4)), rng.normal(size=(4, 4))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(squared_eigenvalue_gradient_norm, args, wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_reverse_over_a_gradient_through_singular_values(shape, jit):
    """grad of the squared norm of a gradient through svdvals (the nested fuzzer's form, declined as 'rt.svdvals_grad
    has no reverse rule' before h29c), w.r.t. the matrix and the vector dotted with the gradient, against central
    differences, on both backends."""
    rng = np.random.default_rng(7)
    args = [_matrix(rng, shape), rng.normal(size=shape)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(squared_gradient_norm, args, wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-6)



# ---- reverse over a gradient through eigenvectors, singular vectors and pinv (h30e) -----------------------------
def eigenvector_uses(x, b):
    a = (x + x.T) / 2
    w, V = np.linalg.eigh(a)
    return np.sum(V[:, 0] ** 2 * np.arange(4.0)) + np.sum((V * np.exp(0.3 * w)) @ V.T * b)


def singular_vector_uses(x, b):
    U, s, Vh = np.linalg.svd(x, full_matrices=False)
    return np.sum(np.outer(U[:, 0], Vh[0]) * b) + np.sum(U[0] ** 2) + np.sum((U * np.sqrt(s)) @ (Vh * b[0]))


def pinv_uses(x, b):
    return np.sum(np.sin(np.linalg.pinv(x) @ b))


_eig_grad = srcdiff.grad(eigenvector_uses, wrt=(0, 1))
_svd_grad = srcdiff.grad(singular_vector_uses, wrt=(0, 1))
_pinv_grad = srcdiff.grad(pinv_uses, wrt=(0, 1))


def eigenvector_penalty(x, b):
    gx, gb = _eig_grad(x, b)
    return np.sum(gx * gx) + np.sum(gx * b) + np.sum(gb * gb)


def singular_vector_penalty(x, b):
    gx, gb = _svd_grad(x, b)
    return np.sum(gx * gx) + np.sum(gx * b) + np.sum(gb * gb)


def pinv_penalty(x, b):
    gx, gb = _pinv_grad(x, b)
    return np.sum(gx * gx) + np.sum(gx * x) + np.sum(np.sin(gb))


PENALTIES = [(eigenvector_penalty, [(4, 4), (4, 4)]), (singular_vector_penalty, [(5, 3), (5, 3)]),
             (singular_vector_penalty, [(3, 5), (3, 5)]), (pinv_penalty, [(4, 3), (4, 2)]),
             (pinv_penalty, [(2, 3), (2, 2)])]
PENALTY_IDS = [f"{f.__name__}-{shapes[0][0]}x{shapes[0][1]}" for f, shapes in PENALTIES]


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, shapes", PENALTIES, ids=PENALTY_IDS)
def test_reverse_over_a_gradient_through_vectors_and_pinv(f, shapes, jit):
    """A gradient-norm penalty through eigh's eigenvectors, the thin SVD's U and Vh, and pinv (the reverse rules of
    rt.eigh_vectors_grad, rt.svd_u_grad, rt.svd_vh_grad and rt.pinv_grad, h30e), w.r.t. the matrix and the
    argument dotted with it, against central differences; was declined ('rt.eigh_vectors_grad has a forward-mode
    rule but no reverse-mode rule')."""
    rng = np.random.default_rng(3)
    args = [_matrix(rng, shapes[0]), rng.normal(size=shapes[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(f, args, wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-6)


def _eigenvector_term(x):
    return eigenvector_uses(x, np.cos(np.arange(16.0)).reshape(4, 4))


def _singular_vector_term(x):
    return singular_vector_uses(x, np.cos(np.arange(15.0)).reshape(5, 3))


def _pinv_term(x):
    return pinv_uses(x, np.cos(np.arange(8.0)).reshape(4, 2))


@pytest.mark.parametrize("f, shape", [(_eigenvector_term, (4, 4)), (_singular_vector_term, (5, 3)),
                                      (_pinv_term, (4, 3))], ids=["eigh", "svd", "pinv"])
def test_jacobian_of_the_gradient_in_both_modes(f, shape):
    """The Hessian three ways: jacobian of the gradient by rows (reverse over reverse: the helpers' reverse rules), by
    columns (forward over reverse: their forward rules) and srcdiff.hessian; each against central differences of the
    gradient along a direction (the eigenvector Hessian is the one over symmetric perturbations, as the gradient)."""
    rng = np.random.default_rng(11)
    x = _matrix(rng, shape)
    g = srcdiff.grad(f)
    rows = srcdiff.jacobian(g, mode="reverse")(x)
    cols = srcdiff.jacobian(g, mode="forward")(x)
    np.testing.assert_allclose(rows, cols, rtol=1e-9, atol=1e-9 * np.max(np.abs(cols)))
    np.testing.assert_allclose(srcdiff.hessian(f)(x), cols, rtol=1e-9, atol=1e-9 * np.max(np.abs(cols)))
    v = rng.normal(size=shape)
    ref = (g(x + 1e-6 * v) - g(x - 1e-6 * v)) / 2e-6
    got = np.tensordot(rows, v, axes=2)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * max(1.0, np.max(np.abs(ref))))


# ---- reverse over jvp (and jvp of a jvp) through eigh, svd and pinv: the rules of their tangent helpers ----------
def _tangent_of(x):
    return np.cos(np.arange(x.size, dtype=float)).reshape(x.shape) * x


_eigh_jvp = srcdiff.jvp(eigenvector_uses, wrt=0)
_svd_jvp = srcdiff.jvp(singular_vector_uses, wrt=0)
_svdvals_jvp = srcdiff.jvp(spectral_loss)
_eigvalsh_jvp = srcdiff.jvp(eigenvalue_loss)
_pinv_jvp = srcdiff.jvp(pinv_uses, wrt=0)


def eigh_jvp_penalty(x, b):
    v, d = _eigh_jvp(x, b, _tangent_of(x))
    return np.sin(v) * d + d * d


def svd_jvp_penalty(x, b):
    v, d = _svd_jvp(x, b, _tangent_of(x) + b)
    return np.sin(v) * d + d * d


def singular_value_jvp_penalty(x, b):
    v, d = _svdvals_jvp(x, b)
    return np.sin(v) * d + d * d


def eigenvalue_jvp_penalty(x, b):
    v, d = _eigvalsh_jvp(x, b)
    return np.sin(v) * d + d * d


def pinv_jvp_penalty(x, b):
    v, d = _pinv_jvp(x, b, _tangent_of(x))
    return np.sin(v) * d + d * d


JVP_PENALTIES = [(eigh_jvp_penalty, [(4, 4), (4, 4)]), (svd_jvp_penalty, [(5, 3), (5, 3)]),
                 (svd_jvp_penalty, [(3, 5), (3, 5)]), (singular_value_jvp_penalty, [(4, 3), (4, 3)]),
                 (eigenvalue_jvp_penalty, [(4, 4), (4, 4)]), (pinv_jvp_penalty, [(4, 3), (4, 2)]),
                 (pinv_jvp_penalty, [(2, 3), (2, 2)])]
JVP_PENALTY_IDS = [f"{f.__name__}-{shapes[0][0]}x{shapes[0][1]}" for f, shapes in JVP_PENALTIES]


@pytest.mark.parametrize("jit", BACKENDS)
@pytest.mark.parametrize("f, shapes", JVP_PENALTIES, ids=JVP_PENALTY_IDS)
def test_reverse_over_jvp_through_eigh_svd_pinv(f, shapes, jit):
    """grad of a function of the pair jvp gives through eigh (eigenvalues and eigenvectors), svd (U, s, Vh) and pinv,
    w.r.t. the matrix and the argument the tangent is made of, against central differences: the reverse rules of
    rt.eigvalsh_jvp, rt.eigh_vectors_jvp, rt.svdvals_jvp, rt.svd_u_jvp, rt.svd_vh_jvp and rt.pinv_jvp (declined
    before, 'call to srcdiff.runtime.spectral.eigvalsh_jvp ... which has no differentiation rule', the nested fuzzer's
    two documented declines); and jvp of the same function (their forward rules) against central differences."""
    rng = np.random.default_rng(5)
    args = [_matrix(rng, shapes[0]), rng.normal(size=shapes[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(f, args, wrt=(0, 1), jit=jit, rtol=1e-5, atol=1e-6)
        if not jit:
            tangents = (rng.normal(size=shapes[0]), rng.normal(size=shapes[1]))
            value, d = srcdiff.jvp(f, wrt=(0, 1))(*args, tangents)
            at = lambda t: f(*[a + t * da for a, da in zip(args, tangents)])  # noqa: E731
            ref = (at(1e-6) - at(-1e-6)) / 2e-6
            np.testing.assert_allclose(value, f(*args), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(d, ref, rtol=1e-5, atol=1e-6 * max(1.0, abs(ref)))
