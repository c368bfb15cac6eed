"""Eigendecomposition, SVD, pseudo-inverse and Kronecker product: the single outputs srcdiff splits
np.linalg.eigh / np.linalg.svd into, and the adjoints (`*_grad`) and tangents (`*_jvp`) of all four.

eigh: `w, V = np.linalg.eigh(a)` becomes `w = np.linalg.eigvalsh(a)` and `V = rt.eigh_vectors(a)`.
a is symmetric and only symmetric perturbations of it are meaningful (NumPy reads the lower triangle
alone), so the adjoint of a is the symmetric matrix G with d loss = <G, da> for every symmetric da,
and tangents use sym(da) = (da + daᵀ) / 2. The derivative helpers check that a is symmetric (to
rounding), since for an unsymmetric a that gradient is not the one of NumPy's lower-triangle function.
svd: the thin SVD a = U diag(s) Vh of an m × n matrix, k = min(m, n), splits into `rt.svd_u(a)`,
`rt.svdvals(a)` and `rt.svd_vh(a)` (each its own LAPACK call; the same input gives the same signs).

F(w) is the k × k matrix of 1 / (w_j - w_i) off the diagonal and 0 on it (w = s² for the SVD).
Where eigenvalues (singular values) repeat, the derivatives of the eigenvectors (singular vectors) are
not defined: those adjoints and tangents come out inf or nan. The first derivatives of eigenvalues
and singular values alone do not use F and stay finite there; their second derivatives (hvp) are nan
at exactly repeated values. The SVD's vector derivatives are also inf at a zero singular value.
pinv: the derivative of the pseudo-inverse where the rank is locally constant (full-rank a).

Every helper runs as plain NumPy and, under Numba, as the same code compiled (`register_jitable`) or
through an overload; products go through `dot`, which casts float32 / float64 mixes to one dtype.
"""
import numpy as np
from numba.core import types
from numba.extending import register_jitable

from ._typing import nb_is_array, nb_is_scalar
from .products import dot
from ._cache import cached_overload

__all__ = ["eigh_vectors", "eigvalsh_grad", "eigvalsh_jvp", "eigvalsh_curvature", "eigh_vectors_grad",
           "eigh_vectors_jvp", "eigh_vectors_grad_tangent", "eigh_vectors_grad_vjp_a",
           "eigh_vectors_grad_vjp_v", "svdvals", "svd_u", "svd_vh", "svd_u_full",
           "svd_vh_full", "svdvals_grad", "svdvals_jvp", "svdvals_curvature", "svd_u_grad", "svd_u_jvp",
           "svd_u_grad_tangent", "svd_u_grad_vjp_a", "svd_u_grad_vjp_u", "svd_vh_grad", "svd_vh_jvp",
           "svd_vh_grad_tangent", "svd_vh_grad_vjp_a", "svd_vh_grad_vjp_vh", "pinv_grad", "pinv_jvp", "pinv_grad_tangent",
           "pinv_grad_vjp_a", "pinv_grad_vjp_p", "eigvalsh_jvp_tangent", "eigh_vectors_jvp_tangent",
           "svdvals_jvp_tangent", "svd_u_jvp_tangent", "svd_vh_jvp_tangent", "pinv_jvp_tangent", "kron", "kron_grad_a",
           "kron_grad_b"]


# ---- shared pieces -----------------------------------------------------------------------------------
@register_jitable
def _c(x):
    return np.ascontiguousarray(x)


@register_jitable
def _t(x):
    """xᵀ, C-contiguous."""
    return np.ascontiguousarray(x.T)


@register_jitable
def _sym(x):
    return 0.5 * (x + _t(x))


@register_jitable
def _gaps(w):
    """F(w): 1 / (w_j - w_i) off the diagonal, 0 on it; inf where two values coincide."""
    n = w.shape[0]
    F = np.zeros((n, n), w.dtype)
    for i in range(n):
        for j in range(n):
            if i != j:
                d = w[j] - w[i]
                F[i, j] = 1.0 / d if d != 0.0 else np.inf
    return F


@register_jitable
def _dgaps(F, dw):
    """Tangent of F(w) for a tangent dw of w: -F_ij² (dw_j - dw_i)."""
    return -(F * F) * (np.expand_dims(dw, 0) - np.expand_dims(dw, 1))


@register_jitable
def _colsum(x):
    return np.sum(x, axis=0)


@register_jitable
def _rowsum(x):
    return np.sum(x, axis=1)


# ---- eigh --------------------------------------------------------------------------------------------
# a ValueError of the derivative helpers holds (what is wrong, what to do): api.translate_error makes a SrcdiffError
_ASYMMETRY = ("np.linalg.eigh / eigvalsh: the matrix is not symmetric. srcdiff differentiates it as a "
              "symmetric matrix (the gradient over symmetric perturbations), while NumPy reads only its lower "
              "triangle")
_SYMMETRISE = "symmetrise it first, e.g. (a + a.T) / 2"
_ONE_AT_A_TIME = "loop over the stack, one matrix at a time"


def _check_symmetric(a):
    """Raise unless a is one square matrix, symmetric to rounding (relative 1e-8, float32: 1e-4)."""
    a = np.asarray(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("np.linalg.eigh / eigvalsh: srcdiff differentiates one square matrix at a time",
                         "loop over a stack of matrices, one at a time; a single matrix must be square")
    tol = 1e-4 if a.dtype == np.float32 else 1e-8
    if a.size and np.max(np.abs(a - a.T)) > tol * np.max(np.abs(a)):
        raise ValueError(_ASYMMETRY, _SYMMETRISE)


@cached_overload(_check_symmetric)
def _check_symmetric_nb(a):
    if not (nb_is_array(a) and a.ndim == 2):
        return None
    tol = 1e-4 if a.dtype == types.float32 else 1e-8

    def impl(a):
        n = a.shape[0]
        if a.shape[1] != n:
            raise ValueError("np.linalg.eigh / eigvalsh: srcdiff differentiates square matrices only",
                             "pass a square symmetric matrix")
        scale, asym = 0.0, 0.0
        for i in range(n):
            for j in range(n):
                scale = max(scale, abs(a[i, j]))
                asym = max(asym, abs(a[i, j] - a[j, i]))
        if asym > tol * scale:
            raise ValueError(_ASYMMETRY, _SYMMETRISE)
    return impl


def eigh_vectors(a):
    """np.linalg.eigh(a)[1]: the eigenvectors (columns), eigenvalues ascending."""
    if np.ndim(a) != 2:
        raise ValueError("np.linalg.eigh: srcdiff differentiates one matrix at a time", _ONE_AT_A_TIME)
    return np.linalg.eigh(a)[1]


@cached_overload(eigh_vectors)
def _eigh_vectors_nb(a):
    if nb_is_array(a) and a.ndim == 2:
        return lambda a: np.linalg.eigh(_c(a))[1]
    return None


@register_jitable
def _eigh(a):
    _check_symmetric(a)
    return np.linalg.eigh(_c(a))


@register_jitable
def _rayleigh(a, V):
    """The eigenvalues w_i = v_iᵀ a v_i in V's column order (exact to rounding for eigenvectors V of a)."""
    return _colsum(V * dot(a, V))


@register_jitable
def eigvalsh_grad(a, g):
    """Adjoint of a in w = eigvalsh(a): V diag(g) Vᵀ (finite at repeated eigenvalues)."""
    w, V = _eigh(a)
    return dot(V * g, _t(V))


@register_jitable
def eigvalsh_jvp(a, da):
    """Tangent of w = eigvalsh(a): dw = diag(Vᵀ da V)."""
    w, V = _eigh(a)
    return _colsum(V * dot(da, V))


@register_jitable
def eigvalsh_curvature(a, v, da):
    """Tangent of eigvalsh_grad(a, v) = V diag(v) Vᵀ along da: V (Q ∘ Vᵀ sym(da) V) Vᵀ with the
    divided differences Q_ij = (v_j - v_i) / (w_j - w_i) (nan where eigenvalues repeat)."""
    w, V = _eigh(a)
    Q = _gaps(w) * (np.expand_dims(v, 0) - np.expand_dims(v, 1))
    return dot(dot(V, Q * dot(_t(V), dot(_sym(da), V))), _t(V))


@register_jitable
def eigvalsh_jvp_tangent(a, t, da):
    """Tangent of eigvalsh_jvp(a, t) = diag(Vᵀ t V) along da (t fixed): diag(dVᵀ t V + Vᵀ t dV) with dV the
    eigenvectors' tangent along da (distinct eigenvalues; nan where they repeat)."""
    w, V = _eigh(a)
    dV = eigh_vectors_jvp(a, V, da)
    return _colsum(dV * dot(t, V)) + _colsum(V * dot(t, dV))


@register_jitable
def eigh_vectors_grad(a, V, g):
    """Adjoint of a in V = eigh(a)[1]: V sym(F(w) ∘ Vᵀg) Vᵀ, w = diag(Vᵀ a V) (inf/nan at repeated w)."""
    _check_symmetric(a)
    Vc = _c(V)
    M = _sym(_gaps(_rayleigh(a, Vc)) * dot(_t(Vc), g))
    return dot(dot(Vc, M), _t(Vc))


@register_jitable
def eigh_vectors_jvp(a, V, da):
    """Tangent of V = eigh(a)[1]: dV = V (F(w) ∘ Vᵀ sym(da) V), w = diag(Vᵀ a V)."""
    _check_symmetric(a)
    Vc = _c(V)
    return dot(Vc, _gaps(_rayleigh(a, Vc)) * dot(_t(Vc), dot(_sym(da), Vc)))


@register_jitable
def eigh_vectors_grad_tangent(a, V, g, da, dV):
    """Tangent of eigh_vectors_grad(a, V, g) = V M Vᵀ, M = sym(F(w) ∘ X), X = Vᵀg, w = diag(Vᵀ a V),
    along da and dV (g fixed): dV M Vᵀ + V M dVᵀ + V sym(dF ∘ X + F ∘ dVᵀg) Vᵀ."""
    _check_symmetric(a)
    Vc, dVc = _c(V), _c(dV)
    w = _rayleigh(a, Vc)
    dw = _colsum(dVc * dot(a, Vc)) + _colsum(Vc * dot(da, Vc)) + _colsum(Vc * dot(a, dVc))
    F = _gaps(w)
    X = dot(_t(Vc), g)
    M = _sym(F * X)
    dM = _sym(_dgaps(F, dw) * X + F * dot(_t(dVc), g))
    VM = dot(Vc, M)
    return dot(dot(dVc, M), _t(Vc)) + dot(VM, _t(dVc)) + dot(dot(Vc, dM), _t(Vc))


@register_jitable
def eigh_vectors_jvp_tangent(a, V, t, da, dV):
    """Tangent of eigh_vectors_jvp(a, V, t) = V (F ∘ Y), Y = Vᵀ sym(t) V, F = F(w), w = diag(Vᵀ a V), along da and
    dV (t fixed): dV (F ∘ Y) + V (dF ∘ Y + F ∘ (dVᵀ S V + Vᵀ S dV)), S = sym(t)."""
    _check_symmetric(a)
    Vc, dVc = _c(V), _c(dV)
    S = _sym(t)
    w = _rayleigh(a, Vc)
    dw = _colsum(dVc * dot(a, Vc)) + _colsum(Vc * dot(da, Vc)) + _colsum(Vc * dot(a, dVc))
    F = _gaps(w)
    SV = dot(S, Vc)
    Y = dot(_t(Vc), SV)
    dY = dot(_t(dVc), SV) + dot(_t(Vc), dot(S, dVc))
    return dot(dVc, F * Y) + dot(Vc, _dgaps(F, dw) * Y + F * dY)


@register_jitable
def _eigh_vectors_grad_vjp(a, V, g, h):
    """The adjoints of a and V in eigh_vectors_grad(a, V, g) = V M Vᵀ (M = sym(F ∘ X), X = Vᵀg, F = F(w),
    w = diag(Vᵀ a V)) for its adjoint h: with S = sym(Vᵀ h V), E = S ∘ X ∘ F² and w̄ = rowsum(E) - colsum(E)
    (the adjoint of w through F), ā = V diag(w̄) Vᵀ and V̄ = (h + hᵀ) V M + g (S ∘ F)ᵀ + (a + aᵀ) V diag(w̄)."""
    _check_symmetric(a)
    Vc = _c(V)
    F = _gaps(_rayleigh(a, Vc))
    X = dot(_t(Vc), g)
    M = _sym(F * X)
    S = _sym(dot(_t(Vc), dot(h, Vc)))
    E = S * X * F * F
    wbar = _rowsum(E) - _colsum(E)
    abar = dot(Vc * wbar, _t(Vc))
    Vbar = dot(dot(h + _t(h), Vc), M) + dot(g, _t(S * F)) + dot(a + _t(a), Vc * wbar)
    return abar, Vbar


@register_jitable
def eigh_vectors_grad_vjp_a(a, V, g, h):
    """Adjoint of a in eigh_vectors_grad(a, V, g) (V fixed) for its adjoint h: V diag(w̄) Vᵀ
    (_eigh_vectors_grad_vjp; distinct eigenvalues, inf/nan where they repeat)."""
    return _eigh_vectors_grad_vjp(a, V, g, h)[0]


@register_jitable
def eigh_vectors_grad_vjp_v(a, V, g, h):
    """Adjoint of V in eigh_vectors_grad(a, V, g) (a fixed) for its adjoint h (_eigh_vectors_grad_vjp)."""
    return _eigh_vectors_grad_vjp(a, V, g, h)[1]


# ---- svd ---------------------------------------------------------------------------------------------
def _matrix(a, what):
    if np.ndim(a) != 2:
        raise ValueError(f"{what}: srcdiff differentiates one matrix at a time", _ONE_AT_A_TIME)


def svdvals(a):
    """np.linalg.svd(a, compute_uv=False): the singular values, descending."""
    _matrix(a, "np.linalg.svd")
    return np.linalg.svd(a, compute_uv=False)


@cached_overload(svdvals)
def _svdvals_nb(a):
    if nb_is_array(a) and a.ndim == 2:
        return lambda a: np.linalg.svd(_c(a), False)[1]   # (Numba's svd has no compute_uv)
    return None


def svd_u(a):
    """np.linalg.svd(a, full_matrices=False)[0]: U, m × k."""
    _matrix(a, "np.linalg.svd")
    return np.linalg.svd(a, full_matrices=False)[0]


def svd_vh(a):
    """np.linalg.svd(a, full_matrices=False)[2]: Vh, k × n."""
    _matrix(a, "np.linalg.svd")
    return np.linalg.svd(a, full_matrices=False)[2]


def svd_u_full(a):
    """np.linalg.svd(a)[0] (full_matrices=True): U, m × m (no derivative: its extra columns are arbitrary)."""
    return np.linalg.svd(a)[0]


def svd_vh_full(a):
    """np.linalg.svd(a)[2] (full_matrices=True): Vh, n × n (no derivative: its extra rows are arbitrary)."""
    return np.linalg.svd(a)[2]


def _svd_overload(pyfunc, k, full):
    @cached_overload(pyfunc)
    def impl(a):
        if nb_is_array(a) and a.ndim == 2:
            return lambda a: np.linalg.svd(_c(a), full)[k]
        return None
    return impl


for _f, _k, _full in ((svd_u, 0, False), (svd_vh, 2, False), (svd_u_full, 0, True), (svd_vh_full, 2, True)):
    _svd_overload(_f, _k, _full)


@register_jitable
def _svd(a):
    return np.linalg.svd(_c(a), False)


@register_jitable
def svdvals_grad(a, g):
    """Adjoint of a in s = svdvals(a): U diag(g) Vh."""
    U, s, Vh = _svd(a)
    return dot(U * g, Vh)


@register_jitable
def svdvals_jvp(a, da):
    """Tangent of s = svdvals(a): ds = diag(Uᵀ da V)."""
    U, s, Vh = _svd(a)
    return _colsum(U * dot(da, _t(Vh)))


@register_jitable
def svdvals_curvature(a, v, da):
    """Tangent of svdvals_grad(a, v) = U diag(v) Vᵀ along da, with P = Uᵀ da V and F = F(s²):
    U C Vᵀ + (I - UUᵀ) da V diag(v / s) Vᵀ + U diag(v / s) Uᵀ da (I - VVᵀ), where
    C_ij = F_ij (P_ij (s_j v_j - s_i v_i) + P_ji (s_i v_j - s_j v_i)) (nan where singular values repeat)."""
    U, s, Vh = _svd(a)
    V = _t(Vh)
    daV = dot(da, V)
    P = dot(_t(U), daV)
    sv = s * v
    C = _gaps(s * s) * (P * (np.expand_dims(sv, 0) - np.expand_dims(sv, 1))
                        + _t(P) * (np.expand_dims(s, 1) * np.expand_dims(v, 0) - np.expand_dims(v, 1) * np.expand_dims(s, 0)))
    r = v / s
    UtdA = dot(_t(U), da)
    return (dot(dot(U, C), Vh) + dot((daV - dot(U, P)) * r, Vh)
            + dot(U, np.expand_dims(r, 1) * (UtdA - dot(P, Vh))))


@register_jitable
def svdvals_jvp_tangent(a, t, da):
    """Tangent of svdvals_jvp(a, t) = diag(Uᵀ t V) along da (t fixed): diag(dUᵀ t V + Uᵀ t dV) with dU, dV the
    singular vectors' tangents along da (distinct nonzero singular values; inf/nan where they repeat or vanish)."""
    U, s, Vh = _svd(a)
    dU = svd_u_jvp(a, U, da)
    dV = _t(svd_vh_jvp(a, Vh, da))
    return _colsum(dU * dot(t, _t(Vh))) + _colsum(U * dot(t, dV))


@register_jitable
def svd_u_grad(a, U, g):
    """Adjoint of a in U = svd(a)[0] (thin): U (F ∘ (UᵀḠ - ḠᵀU)) S Vh + (I - UUᵀ) Ḡ S⁻¹ Vh, F = F(s²),
    computed as (U (F ∘ (X - Xᵀ)) + (Ḡ - UX) S⁻²) Uᵀa with X = UᵀḠ and s² = the row sums of (Uᵀa)²."""
    Uc = _c(U)
    B = dot(_t(Uc), a)
    s2 = _rowsum(B * B)
    X = dot(_t(Uc), g)
    L = dot(Uc, _gaps(s2) * (X - _t(X))) + (g - dot(Uc, X)) / s2
    return dot(L, B)


@register_jitable
def svd_u_jvp(a, U, da):
    """Tangent of U = svd(a)[0] (thin): U (F ∘ (Y + Yᵀ)) + (I - UUᵀ) Z S⁻², with Z = da aᵀ U = da V S,
    Y = UᵀZ, F = F(s²)."""
    Uc = _c(U)
    B = dot(_t(Uc), a)
    s2 = _rowsum(B * B)
    Z = dot(da, _t(B))
    Y = dot(_t(Uc), Z)
    return dot(Uc, _gaps(s2) * (Y + _t(Y))) + (Z - dot(Uc, Y)) / s2


@register_jitable
def _u_basis_tangent(a, U, da, dU):
    """What svd_u_grad and svd_u_jvp both build from a and U, with its tangent along da and dU: U and dU contiguous,
    B = Uᵀa, s² = rowsum(B²) (the squared singular values) and F = F(s²) (the gaps' reciprocals), and dB, ds²."""
    Uc, dUc = _c(U), _c(dU)
    B = dot(_t(Uc), a)
    dB = dot(_t(dUc), a) + dot(_t(Uc), da)
    s2 = _rowsum(B * B)
    return Uc, dUc, B, dB, s2, 2.0 * _rowsum(B * dB), _gaps(s2)


@register_jitable
def svd_u_grad_tangent(a, U, g, da, dU):
    """Tangent of svd_u_grad(a, U, g) = L B along da and dU (g fixed), where B = Uᵀa, s² = rowsum(B²),
    X = Uᵀg, L = U (F(s²) ∘ (X - Xᵀ)) + (g - UX) S⁻²: the product rule through each of them."""
    Uc, dUc, B, dB, s2, ds2, F = _u_basis_tangent(a, U, da, dU)
    X = dot(_t(Uc), g)
    dX = dot(_t(dUc), g)
    K, dK = X - _t(X), dX - _t(dX)
    R = g - dot(Uc, X)
    L = dot(Uc, F * K) + R / s2
    dL = (dot(dUc, F * K) + dot(Uc, _dgaps(F, ds2) * K + F * dK)
          - (dot(dUc, X) + dot(Uc, dX)) / s2 - R * ds2 / (s2 * s2))
    return dot(dL, B) + dot(L, dB)


@register_jitable
def svd_u_jvp_tangent(a, U, t, da, dU):
    """Tangent of svd_u_jvp(a, U, t) = U (F ∘ (Y + Yᵀ)) + (Z - UY) S⁻² along da and dU (t fixed), where B = Uᵀa,
    s² = rowsum(B²), Z = t Bᵀ, Y = UᵀZ, F = F(s²): the product rule through each of them."""
    Uc, dUc, B, dB, s2, ds2, F = _u_basis_tangent(a, U, da, dU)
    Z = dot(t, _t(B))
    dZ = dot(t, _t(dB))
    Y = dot(_t(Uc), Z)
    dY = dot(_t(dUc), Z) + dot(_t(Uc), dZ)
    K, dK = Y + _t(Y), dY + _t(dY)
    R = Z - dot(Uc, Y)
    dR = dZ - dot(dUc, Y) - dot(Uc, dY)
    return dot(dUc, F * K) + dot(Uc, _dgaps(F, ds2) * K + F * dK) + dR / s2 - R * ds2 / (s2 * s2)


# Vh of a is Uᵀ of aᵀ (with the same signs): its helpers are U's on the transposes
@register_jitable
def svd_vh_grad(a, Vh, g):
    """Adjoint of a in Vh = svd(a)[2] (thin): svd_u_grad(aᵀ, Vhᵀ, Ḡᵀ)ᵀ
    = U S (F ∘ (VᵀV̄ - V̄ᵀV)) Vh + U S⁻¹ V̄ᵀ (I - VVᵀ) with V̄ = Ḡᵀ."""
    return _t(svd_u_grad(_t(a), _t(Vh), _t(g)))


@register_jitable
def svd_vh_jvp(a, Vh, da):
    """Tangent of Vh = svd(a)[2] (thin): svd_u_jvp(aᵀ, Vhᵀ, daᵀ)ᵀ."""
    return _t(svd_u_jvp(_t(a), _t(Vh), _t(da)))


@register_jitable
def svd_vh_grad_tangent(a, Vh, g, da, dVh):
    """Tangent of svd_vh_grad(a, Vh, g) along da and dVh: svd_u_grad_tangent on the transposes."""
    return _t(svd_u_grad_tangent(_t(a), _t(Vh), _t(g), _t(da), _t(dVh)))


@register_jitable
def svd_vh_jvp_tangent(a, Vh, t, da, dVh):
    """Tangent of svd_vh_jvp(a, Vh, t) along da and dVh: svd_u_jvp_tangent on the transposes."""
    return _t(svd_u_jvp_tangent(_t(a), _t(Vh), _t(t), _t(da), _t(dVh)))


@register_jitable
def _svd_u_grad_vjp(a, U, g, h):
    """The adjoints of a, U and g in svd_u_grad(a, U, g) = L B for its adjoint h: the reverse sweep of
    B = Uᵀa, s² = rowsum(B²), X = Uᵀg, K = X - Xᵀ, F = F(s²), R = g - UX, L = U (F ∘ K) + R S⁻²
    (distinct nonzero singular values; inf/nan where they repeat or vanish)."""
    Uc = _c(U)
    B = dot(_t(Uc), a)
    s2 = _rowsum(B * B)
    F = _gaps(s2)
    X = dot(_t(Uc), g)
    K = X - _t(X)
    R = g - dot(Uc, X)
    L = dot(Uc, F * K) + R / s2
    Lbar = dot(h, _t(B))
    Bbar = dot(_t(L), h)
    UtL = dot(_t(Uc), Lbar)
    Kbar = F * UtL
    E = K * UtL * F * F                                  # F's adjoint times F², as in _eigh_vectors_grad_vjp
    Rbar = Lbar / s2
    s2bar = _rowsum(E) - _colsum(E) - _colsum(Lbar * R) / (s2 * s2)
    Xbar = Kbar - _t(Kbar) - dot(_t(Uc), Rbar)
    Bbar = Bbar + 2.0 * B * np.expand_dims(s2bar, 1)
    Ubar = dot(Lbar, _t(F * K)) - dot(Rbar, _t(X)) + dot(g, _t(Xbar)) + dot(a, _t(Bbar))
    return dot(Uc, Bbar), Ubar, Rbar + dot(Uc, Xbar)


@register_jitable
def svd_u_grad_vjp_a(a, U, g, h):
    """Adjoint of a in svd_u_grad(a, U, g) (U, g fixed) for its adjoint h (_svd_u_grad_vjp)."""
    return _svd_u_grad_vjp(a, U, g, h)[0]


@register_jitable
def svd_u_grad_vjp_u(a, U, g, h):
    """Adjoint of U in svd_u_grad(a, U, g) (a, g fixed) for its adjoint h (_svd_u_grad_vjp)."""
    return _svd_u_grad_vjp(a, U, g, h)[1]


@register_jitable
def svd_vh_grad_vjp_a(a, Vh, g, h):
    """Adjoint of a in svd_vh_grad(a, Vh, g) = svd_u_grad(aᵀ, Vhᵀ, gᵀ)ᵀ: svd_u_grad_vjp_a on the transposes."""
    return _t(_svd_u_grad_vjp(_t(a), _t(Vh), _t(g), _t(h))[0])


@register_jitable
def svd_vh_grad_vjp_vh(a, Vh, g, h):
    """Adjoint of Vh in svd_vh_grad(a, Vh, g): svd_u_grad_vjp_u on the transposes."""
    return _t(_svd_u_grad_vjp(_t(a), _t(Vh), _t(g), _t(h))[1])


# ---- pinv --------------------------------------------------------------------------------------------
@register_jitable
def _one_matrix(a):
    if a.ndim != 2:
        raise ValueError("np.linalg.pinv: srcdiff differentiates one matrix at a time", _ONE_AT_A_TIME)


@register_jitable
def pinv_grad(a, p, g):
    """Adjoint of a in p = pinv(a) (constant rank): -pᵀ g pᵀ + (I - a p) gᵀ p pᵀ + pᵀ p gᵀ (I - p a)."""
    _one_matrix(a)
    pt, gt = _t(p), _t(g)
    t2 = dot(gt, dot(_c(p), pt))
    t3 = dot(dot(pt, _c(p)), gt)
    return -dot(dot(pt, g), pt) + t2 - dot(a, dot(_c(p), t2)) + t3 - dot(dot(t3, _c(p)), a)


@register_jitable
def pinv_jvp(a, p, da):
    """Tangent of p = pinv(a) (constant rank): -p da p + p pᵀ daᵀ (I - a p) + (I - p a) daᵀ pᵀ p."""
    _one_matrix(a)
    pc, pt, dat = _c(p), _t(p), _t(da)
    t2 = dot(dot(pc, pt), dat)
    t3 = dot(dat, dot(pt, pc))
    return -dot(dot(pc, da), pc) + t2 - dot(dot(t2, a), pc) + t3 - dot(pc, dot(a, t3))


@register_jitable
def pinv_grad_tangent(a, p, g, da, dp):
    """Tangent of pinv_grad(a, p, g) along da and dp (g fixed): the product rule through its three terms."""
    pc, pt, dpc, dpt, gt = _c(p), _t(p), _c(dp), _t(dp), _t(g)
    m, n = a.shape[0], a.shape[1]
    Im_ap = np.eye(m) - dot(a, pc)          # I - a p
    In_pa = np.eye(n) - dot(pc, a)          # I - p a
    ppt, ptp = dot(pc, pt), dot(pt, pc)
    d1 = -(dot(dot(dpt, g), pt) + dot(dot(pt, g), dpt))
    d2 = (-dot(dot(dot(da, pc) + dot(a, dpc), gt), ppt)
          + dot(dot(Im_ap, gt), dot(dpc, pt) + dot(pc, dpt)))
    d3 = (dot(dot(dot(dpt, pc) + dot(pt, dpc), gt), In_pa)
          - dot(dot(ptp, gt), dot(dpc, a) + dot(pc, da)))
    return d1 + d2 + d3


@register_jitable
def pinv_jvp_tangent(a, p, t, da, dp):
    """Tangent of pinv_jvp(a, p, t) = -p t p + t2 - t2 a p + t3 - p a t3 (t2 = p pᵀ tᵀ, t3 = tᵀ pᵀ p) along da and
    dp (t fixed): the product rule through each term."""
    pc, dpc, tt = _c(p), _c(dp), _t(t)
    ppt, ptp = dot(pc, _t(pc)), dot(_t(pc), pc)
    t2, t3 = dot(ppt, tt), dot(tt, ptp)
    dt2 = dot(dot(dpc, _t(pc)) + dot(pc, _t(dpc)), tt)
    dt3 = dot(tt, dot(_t(dpc), pc) + dot(_t(pc), dpc))
    ap, pa = dot(a, pc), dot(pc, a)
    return (-dot(dot(dpc, t), pc) - dot(dot(pc, t), dpc) + dt2 - dot(dt2, ap) - dot(t2, dot(da, pc) + dot(a, dpc))
            + dt3 - dot(pa, dt3) - dot(dot(dpc, a) + dot(pc, da), t3))


@register_jitable
def pinv_grad_vjp_a(a, p, g, h):
    """Adjoint of a in pinv_grad(a, p, g) (p, g fixed) for its adjoint h: a enters as -a p t2 - t3 p a
    (t2 = gᵀ p pᵀ, t3 = pᵀ p gᵀ), so ā = -h (p t2)ᵀ - (t3 p)ᵀ h."""
    pc, gt = _c(p), _t(g)
    t2 = dot(gt, dot(pc, _t(pc)))
    t3 = dot(dot(_t(pc), pc), gt)
    return -dot(h, _t(dot(pc, t2))) - dot(_t(dot(t3, pc)), h)


@register_jitable
def pinv_grad_vjp_p(a, p, g, h):
    """Adjoint of p in pinv_grad(a, p, g) (a, g fixed) for its adjoint h: the transposes of pinv_grad_tangent's
    terms along dp, with Y = I - a p and Z = I - p a:
    -g pᵀ hᵀ - hᵀ pᵀ g - aᵀ h p pᵀ g + g Yᵀ h p + hᵀ Y gᵀ p + p gᵀ Z hᵀ + p h Zᵀ g - g pᵀ p h aᵀ."""
    pc, pt, gt, ht = _c(p), _t(p), _t(g), _t(h)
    m, n = a.shape[0], a.shape[1]
    Y = np.eye(m) - dot(a, pc)
    Z = np.eye(n) - dot(pc, a)
    hp = dot(h, pc)
    return (-dot(dot(g, pt), ht) - dot(dot(ht, pt), g) - dot(dot(_t(a), hp), dot(pt, g)) + dot(dot(g, _t(Y)), hp)
            + dot(dot(ht, Y), dot(gt, pc)) + dot(dot(pc, gt), dot(Z, ht)) + dot(dot(pc, h), dot(_t(Z), g))
            - dot(dot(g, dot(pt, pc)), dot(h, _t(a))))


# ---- kron (1-d and 2-d operands; a 1-d operand of a 2-d product is a row, as NumPy takes it) -----------
def _kron_dims(a, b):
    if not (1 <= np.ndim(a) <= 2 and 1 <= np.ndim(b) <= 2):
        raise ValueError("np.kron: srcdiff differentiates 1-d and 2-d operands only",
                         "reshape the operands to matrices, or write the product with broadcasting")
    ra = (1, np.size(a)) if np.ndim(a) == 1 else np.shape(a)
    rb = (1, np.size(b)) if np.ndim(b) == 1 else np.shape(b)
    return ra[0], ra[1], rb[0], rb[1]


def kron(a, b):
    """np.kron(a, b); under Numba of C-contiguous copies of views (Numba's np.kron takes contiguous arrays only)."""
    return np.kron(a, b)


@cached_overload(kron)
def _kron_nb(a, b):
    if nb_is_array(a) and nb_is_array(b):
        return lambda a, b: np.kron(_c(a), _c(b))
    if nb_is_scalar(a) or nb_is_scalar(b):   # a 0-d operand: the product
        return lambda a, b: a * b
    return None


def kron_grad_a(g, a, b):
    """Adjoint of a in np.kron(a, b): ā_ij = Σ_kl g[i p + k, j q + l] b_kl for b of shape (p, q).
    (With a 0-d operand np.kron is the product a * b.)"""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.sum(g * b) if np.ndim(a) == 0 else g * b
    m, n, p, q = _kron_dims(a, b)
    g4 = np.reshape(g, (m, p, n, q))
    return np.einsum("ikjl,kl->ij", g4, np.reshape(b, (p, q))).reshape(np.shape(a))


def kron_grad_b(g, a, b):
    """Adjoint of b in np.kron(a, b): b̄_kl = Σ_ij g[i p + k, j q + l] a_ij for b of shape (p, q)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.sum(g * a) if np.ndim(b) == 0 else g * a
    m, n, p, q = _kron_dims(a, b)
    g4 = np.reshape(g, (m, p, n, q))
    return np.einsum("ikjl,ij->kl", g4, np.reshape(a, (m, n))).reshape(np.shape(b))


@register_jitable
def _kron_views(g, a, b):
    """g, a and b as the 2-d arrays (m p, n q), (m, n) and (p, q), a 1-d operand as one row."""
    m, n = (1, a.shape[0]) if a.ndim == 1 else (a.shape[0], a.shape[-1])
    p, q = (1, b.shape[0]) if b.ndim == 1 else (b.shape[0], b.shape[-1])
    return (np.ascontiguousarray(g).reshape((m * p, n * q)), np.ascontiguousarray(a).reshape((m, n)),
            np.ascontiguousarray(b).reshape((p, q)))


@register_jitable
def _kron_grad_a(g, a, b):
    g2, a2, b2 = _kron_views(g, a, b)
    (m, n), (p, q) = a2.shape, b2.shape
    out = np.zeros((m, n), (g2[:1, :1] * b2[:1, :1]).dtype)
    for i in range(m):
        for j in range(n):
            acc = out[i, j]
            for k in range(p):
                for l in range(q):
                    acc += g2[i * p + k, j * q + l] * b2[k, l]
            out[i, j] = acc
    return out.reshape(a.shape)


@register_jitable
def _kron_grad_b(g, a, b):
    g2, a2, b2 = _kron_views(g, a, b)
    (m, n), (p, q) = a2.shape, b2.shape
    out = np.zeros((p, q), (g2[:1, :1] * a2[:1, :1]).dtype)
    for i in range(m):
        for j in range(n):
            aij = a2[i, j]
            for k in range(p):
                for l in range(q):
                    out[k, l] += g2[i * p + k, j * q + l] * aij
    return out.reshape(b.shape)


def _kron_ok(a, b):
    return nb_is_array(a) and nb_is_array(b) and 1 <= a.ndim <= 2 and 1 <= b.ndim <= 2


@cached_overload(kron_grad_a)
def _kron_grad_a_nb(g, a, b):
    if _kron_ok(a, b):
        return lambda g, a, b: _kron_grad_a(g, a, b)
    if nb_is_scalar(a):
        return lambda g, a, b: np.sum(g * b)
    if nb_is_scalar(b):
        return lambda g, a, b: g * b
    return None


@cached_overload(kron_grad_b)
def _kron_grad_b_nb(g, a, b):
    if _kron_ok(a, b):
        return lambda g, a, b: _kron_grad_b(g, a, b)
    if nb_is_scalar(b):
        return lambda g, a, b: np.sum(g * a)
    if nb_is_scalar(a):
        return lambda g, a, b: g * a
    return None
