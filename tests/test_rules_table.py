"""Table-driven check of every differentiable rule in srcdiff.rules.RULES against finite differences.

Each entry is a user-level expression exercising the rule (x, y, z, w are the wrapper's parameters),
the input domain, and shape cases (broadcasting, size-1 axes).  Wrappers are written to a real
.py file and reduce with a non-uniform cotangent (sum(sin(1.3 * out) + out)) so the full
vector-Jacobian product is checked, not just its row sums.  float64 on both backends; forward mode
(jvp along a random direction) on the Python backend; float32
(Python backend) against the float64 finite differences with a loose tolerance.
"""
import re
import warnings
import zlib

import numpy as np
import pytest

import srcdiff
from gradcheck import source_module
from srcdiff.rules import RULES
from srcdiff.rules.composites import COMPOSITES

# domains: r normal, p positive, u in (-0.8, 0.8), q well-conditioned square matrices, s symmetric matrices with
# distinct eigenvalues, m matrices with distinct nonzero singular values, c any (condition, no grad)
B = [((), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), (2, 3)), ((1, 3), (2, 1))]
E = [((),), ((3,),), ((2, 3),), ((1, 3),)]
S = [((),)]
R2 = [((4,),), ((2, 3),), ((2, 1),), ((1, 3),)]
AX = [((2, 3),), ((2, 1),), ((1, 3),)]
MM = [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,))]

ENTRIES = {
    "+": ("x + y", "rr", B), "-": ("x - y", "rr", B), "*": ("x * y", "rr", B), "/": ("x / y", "rp", B),
    "**": ("x ** y", "pr", B), "@": ("x @ y", "rr", [c for c in MM if c != ((3,), (3,))] + [((3, 3), (3, 3))]),
    "%": ("x % y + np.mod(x, y) + np.remainder(x, y)", "rp", B), "np.fmod": ("np.fmod(x, y)", "rp", B),
    "math.fmod": ("math.fmod(x, y) + math.fmod(-x, y)", "rp", [((), ())]),
    "neg": ("-x", "r", E), "pos": ("+x", "r", E),
    "np.exp": ("np.exp(x)", "r", E), "math.exp": ("math.exp(x)", "r", S),
    "np.log": ("np.log(x)", "p", E), "math.log": ("math.log(x)", "p", S),
    "np.log1p": ("np.log1p(x)", "p", E), "math.log1p": ("math.log1p(x)", "p", S),
    "np.expm1": ("np.expm1(x)", "r", E), "math.expm1": ("math.expm1(x)", "r", S),
    "np.sqrt": ("np.sqrt(x)", "p", E), "math.sqrt": ("math.sqrt(x)", "p", S),
    "np.sin": ("np.sin(x)", "r", E), "math.sin": ("math.sin(x)", "r", S),
    "np.cos": ("np.cos(x)", "r", E), "math.cos": ("math.cos(x)", "r", S),
    "np.tan": ("np.tan(x)", "u", E), "math.tan": ("math.tan(x)", "u", S),
    "np.tanh": ("np.tanh(x)", "r", E), "math.tanh": ("math.tanh(x)", "r", S),
    "np.arcsin": ("np.arcsin(x)", "u", E), "math.asin": ("math.asin(x)", "u", S),
    "np.arccos": ("np.arccos(x)", "u", E), "math.acos": ("math.acos(x)", "u", S),
    "np.arctan": ("np.arctan(x)", "r", E), "math.atan": ("math.atan(x)", "r", S),
    "np.sinh": ("np.sinh(x)", "r", E), "math.sinh": ("math.sinh(x)", "r", S),
    "np.cosh": ("np.cosh(x)", "r", E), "math.cosh": ("math.cosh(x)", "r", S),
    "np.abs": ("np.abs(x) + abs(x) + np.absolute(x)", "r", E), "math.fabs": ("math.fabs(x)", "r", S),
    "np.square": ("np.square(x)", "r", E),
    "np.log2": ("np.log2(x)", "p", E), "math.log2": ("math.log2(x)", "p", S),
    "np.log10": ("np.log10(x)", "p", E), "math.log10": ("math.log10(x)", "p", S),
    "math.log base": ("math.log(x, 3.0) + math.log(2.0, x + 1.0)", "p", S), "np.exp2": ("np.exp2(x)", "r", E),
    "np.arcsinh": ("np.arcsinh(x)", "r", E), "math.asinh": ("math.asinh(x)", "r", S),
    "np.arccosh": ("np.arccosh(1.5 + x * x)", "r", E), "math.acosh": ("math.acosh(1.5 + x * x)", "r", S),
    "np.arctanh": ("np.arctanh(x)", "u", E), "math.atanh": ("math.atanh(x)", "u", S),
    "np.reciprocal": ("np.reciprocal(x)", "p", E), "np.cbrt": ("np.cbrt(x)", "r", E),
    "np.deg2rad": ("np.deg2rad(x) + np.radians(x)", "r", E), "math.radians": ("math.radians(x)", "r", S),
    "np.rad2deg": ("np.rad2deg(x) + np.degrees(x)", "r", E), "math.degrees": ("math.degrees(x)", "r", S),
    "np.arctan2": ("np.arctan2(x, y)", "rr", B), "np.hypot": ("np.hypot(x, y)", "rr", B),
    "math.atan2": ("math.atan2(x, y) + math.hypot(x, y)", "rr", [((), ())]),
    "math.hypot": ("math.hypot(x, y) * math.atan2(y, x + 2.0)", "rr", [((), ())]),
    "np.logaddexp": ("np.logaddexp(x, y)", "rr", B), "np.logaddexp2": ("np.logaddexp2(x, y)", "rr", B),
    "np.copysign": ("np.copysign(x, y)", "rr", B),
    "math.copysign": ("math.copysign(x, y) + math.copysign(x * x, -1.0)", "rr", [((), ())]),
    "np.abs fabs": ("np.fabs(x)", "r", E),
    # NumPy's function forms of the operators (and pow) become the operators themselves
    "** np.power": ("np.power(x, y) + pow(x, 2.0) + np.float_power(x, 0.5)", "pr", B),
    "+ np.add": ("np.add(x, y) + np.subtract(x, y) * np.multiply(x, y) + np.true_divide(x, 2.0 + y * y)"
                 " + np.divide(y, 3.0 + x * x)", "rr", B),
    "rt.expit": ("expit(x)", "r", E), "rt.gammaln": ("gammaln(x) + math.lgamma(x)", "p", S),
    "rt.digamma": ("digamma(x)", "p", E), "rt.erf": ("erf(x)", "r", E),
    "rt.gamma": ("gamma(x) * math.gamma(1.5)", "p", E), "rt.gamma math": ("math.gamma(x)", "p", S),
    "rt.erfc": ("erfc(x)", "r", E), "rt.erfc math": ("math.erfc(x)", "r", S),
    "rt.log_expit": ("log_expit(3.0 * x)", "r", E), "rt.ndtr": ("ndtr(x)", "r", E),
    # log Phi in the body and far in the lower tail (where Phi itself is below 1e-130)
    "rt.log_ndtr": ("log_ndtr(2.0 * x) + log_ndtr(x - 25.0)", "r", E),
    "rt.mills_inverse": ("rt.mills_inverse(x) + rt.mills_inverse(x - 25.0)", "r", E),
    "rt.xlogy": ("xlogy(x, y)", "rp", B), "rt.xlog1py": ("xlog1py(x, y)", "rp", B),
    "np.maximum": ("np.maximum(x, y)", "rr", B), "np.minimum": ("np.minimum(x, y)", "rr", B),
    "np.where": ("np.where(z > 0.0, x, y)", "rrc", [a + (a[0],) for a in B] + [((2, 3), (3,), (2, 1))]),
    "np.clip": ("np.clip(x, -0.5, 0.5)", "r", E), "np.clip open": ("np.clip(x, None, 0.5) + np.clip(x, -0.5, None)", "r", E),
    "np.clip bounds": ("np.clip(x, y - 1.0, z + 1.0)", "rrr", [((3,), (), ()), ((2, 3), (3,), (2, 1)), ((), (), ())]),
    "np.linspace": ("np.linspace(x, y, 5) + np.linspace(x * y, 1.0, 4)[1]", "rr", [((), ())]),
    "float": ("float(x)", "r", S), "np.float64": ("np.float64(x) * 2.0", "r", S), "np.copy": ("np.copy(x) + np.asarray(x)", "r", E),
    "np.asarray": ("np.asarray(x) * 2.0 + np.ascontiguousarray(x * x)", "r", E),
    "np.array": ("np.array([x, y])", "rr", [((), ())]),
    # list literals: nested ones, of arrays, and passed straight to NumPy functions, become rt.array of the parts
    "rt.array": ("np.array([[x, 2.0 * y], [y, x]]) + np.asarray((x, y))[0] + np.stack([x * y, x]) + sum([x, y])"
                 " + np.max([x, y], axis=0) * np.mean((x, 3.0 * y))", "rr", [((), ()), ((3,), (3,))]),
    "rt.astype": ("x.astype(np.float64) * x.astype(int) + x.astype(x.dtype) ** 2 + np.array(x * y, dtype=float)"
                  " + np.asarray(y, dtype=np.int32) * np.sum([x, y]).astype(float)", "rr",
                  [((3,), (3,)), ((2, 3), (2, 3))]),
    "np.sum": ("np.sum(x)", "r", R2), "rt.sum": ("np.sum(x, axis=0) + x.sum(axis=-1, keepdims=True)", "r", AX),
    "np.mean": ("np.mean(x)", "r", R2), "rt.mean": ("np.mean(x, axis=1)", "r", AX),
    "np.prod": ("np.prod(x)", "r", R2), "rt.prod": ("np.prod(x, axis=0)", "r", AX),
    "np.max": ("np.max(x)", "r", R2), "rt.max": ("np.max(x, axis=1)", "r", AX),
    "np.min": ("np.min(x)", "r", R2), "rt.min": ("np.min(x, axis=0)", "r", AX),
    "rt.sum axes": ("np.sum(x, axis=(0, 1)) + x.sum(axis=(-1, -2), keepdims=True) * np.mean(x, axis=(1, 0))"
                    " + np.max(x, (0, 2), keepdims=True) + logsumexp(x, axis=(0, 2))[:, None]", "r", [((2, 3, 2),)]),
    "rt.logsumexp": ("logsumexp(x) + logsumexp(x, axis=0)", "r", AX),
    "rt.max2": ("max(x, y)", "rr", [((), ())]), "rt.min2": ("min(x, y)", "rr", [((), ())]),
    "rt.cumsum": ("np.sum(np.cumsum(x)) + np.cumsum(x, axis=0) * x.cumsum(axis=-1)", "r", [((2, 3),), ((4,),)]),
    "rt.revcumsum": ("rt.revcumsum(x, 0) * np.sum(rt.revcumsum(x))", "r", [((2, 3),), ((4,),)]),
    "rt.diff": ("rt.diff(x, 1) + np.sum(rt.diff(x, -2))", "r", [((2, 3),)]),
    "rt.diff_transpose": ("rt.diff_transpose(x, 0) + np.sum(rt.diff_transpose(x, -1))", "r", [((2, 3),), ((4,),)]),
    "rt.sort": ("np.sort(x) * np.sort(x, axis=0) + np.sum(np.sort(x, axis=None) * np.arange(x.size))", "r",
                [((2, 3),), ((4,),)]),
    "rt.sort_like": ("rt.sort_like(x, y, 0) + np.sum(rt.sort_like(x, y, None))", "rc", [((3, 2), (3, 2))]),
    "rt.unsort_like": ("rt.unsort_like(x, y, -1) + np.sum(rt.unsort_like(x, y, None) * np.arange(6))", "rc",
                       [((3, 2), (3, 2))]),
    # composites (srcdiff/rules/composites.py): rewritten into primitives, checked like rules
    "np.diff": ("np.diff(x) * 2.0 + np.sum(np.diff(x, 2, axis=0))", "r", [((3, 4),), ((5,),)]),
    "np.var": ("np.var(x) + np.var(x, axis=0, ddof=1) + x.var(axis=-1, keepdims=True)", "r", [((2, 3),), ((4,),)]),
    "np.std": ("np.std(x) + np.std(x, axis=0, ddof=1) + x.std(axis=0, keepdims=True)", "r", [((2, 3),), ((4,),)]),
    "np.linalg.norm": ("np.linalg.norm(x) + np.linalg.norm(x, axis=0) + np.linalg.norm(x, 1, -1, True)"
                       " + np.linalg.norm(x, np.inf, axis=0) + np.linalg.norm(x, -np.inf, axis=0)"
                       " + np.linalg.norm(x, 3, axis=0)", "r", [((2, 3),), ((4,),)]),
    "np.linalg.norm fro": ("np.linalg.norm(x, 'fro') * np.linalg.norm(x, axis=1, keepdims=True)", "r", [((2, 3),)]),
    "np.linalg.matrix_power": ("np.linalg.matrix_power(x, 3) + np.linalg.matrix_power(x, 0)"
                               " + np.linalg.matrix_power(x, -2) + np.linalg.matrix_power(x, 6)", "q", [((3, 3),)]),
    "rt.softmax": ("softmax(x) + softmax(x, axis=0) * log_softmax(x, axis=-1) + np.sum(log_softmax(x))", "r",
                   [((2, 3),)]),
    "rt.log_softmax": ("log_softmax(x)", "r", [((4,),)]),
    "np.einsum": ("np.einsum('ij,jk->ik', x, y) + np.einsum('ij,ij->i', x, x)[:, None]"
                  " + np.einsum('ij,kj', x, np.transpose(y)) + np.einsum('ij->', y)", "rr", [((2, 3), (3, 2))]),
    "np.einsum batched": ("np.einsum('bij,bjk->bik', x, np.transpose(x, (0, 2, 1))) + np.einsum('ijk->', x)"
                          " + np.sum(np.sin(np.einsum('bij,i->jb', x, y)))", "rr", [((2, 3, 2), (3,))]),
    "np.einsum chain": ("np.einsum('ij,jk,kl->il', x, y, x) + np.einsum('i,i', x[0], y[1])"
                        " + np.einsum('i,j->ij', x[1], y[0])", "rr", [((2, 2), (2, 2))]),
    "np.flip": ("np.flip(x) * x + np.flip(x, 0) + np.flip(x, axis=-1) * 2.0", "r", [((2, 3),), ((4,),)]),
    # real arrays' views (h30b): np.real / .real are x itself, np.imag / .imag zeros; .mT swaps the last two axes
    "np.real": ("np.real(x) * x.real + np.imag(x) + x.imag", "r", [((2, 3),), ((),)]),
    "np.imag": ("np.imag(x) * x + np.sin(x.mT).mT", "r", [((2, 3),), ((2, 2, 3),)]),
    "np.rot90": ("np.rot90(x) * y + np.rot90(x, 2, axes=(1, 0)).T + np.rot90(x, k=-1) * np.rot90(x, 4).T", "rr",
                 [((2, 3), (3, 2)), ((3, 3), (3, 3))]),
    "np.split": ("np.split(x, 3)[0] * np.split(x, 3)[2] + np.split(x, [1, -1])[1][0] * np.split(x, [1, -1])[2] "
                 "+ np.split(x, (2,))[1][0]", "r", [((6,),), ((3,),)]),
    "np.array_split": ("np.array_split(x, 2)[1] * np.array_split(x, 3, axis=1)[0][:, :1] + np.array_split(x, [1], "
                       "axis=-1)[1].sum()", "r", [((2, 4),), ((2, 3),)]),
    "rt.atleast_3d": ("np.atleast_3d(x) * np.sum(np.atleast_3d(x[0]))", "r", [((2, 3),), ((3,),), ((2, 2, 1),)]),
    "np.ascontiguousarray": ("np.ascontiguousarray(x.T) * 2.0 + np.ascontiguousarray(x[0, 0]).sum()", "r",
                             [((2, 3),)]),
    "np.asfortranarray": ("np.asfortranarray(x) * np.asfortranarray(x.T).T + x.view() * 0.5", "r", [((2, 3),), ((3,),)]),
    "np.fliplr": ("np.fliplr(x) * x", "r", [((2, 3),)]), "np.flipud": ("np.flipud(x) * x", "r", [((2, 3),), ((3,),)]),
    "np.vstack": ("np.vstack((x, y)) * np.vstack([y, x])", "rr", [((3,), (3,)), ((2, 3), (1, 3))]),
    "np.append": ("np.append(x, y) * np.append(y, x) + np.sum(np.append(x, 2.0 * y, axis=0))", "rr",
                  [((3,), (3,)), ((2, 3), (2, 3))]),
    "np.gradient": ("np.gradient(x) * np.gradient(x, 0.5 + y * y) + np.sum(np.gradient(x * x, 2.0, axis=0))", "rr",
                    [((4,), ())]),
    "np.gradient axis": ("np.gradient(x, axis=1) * np.gradient(x, 0.5 + y * y, axis=-2)", "rr", [((3, 4), ())]),
    "np.meshgrid": ("np.sum(np.meshgrid(x, y)[0] * np.meshgrid(x, y)[1]) + np.meshgrid(x, y, indexing='ij')[1] * "
                    "np.meshgrid(2.0 * x, y, indexing='ij')[0]", "rr", [((3,), (2,))]),
    "np.append scalar": ("np.append(x, y) * np.append(y * y, x)", "rr", [((3,), ()), ((), ())]),
    "np.hstack": ("np.hstack((x, y)) * np.hstack([y, x])", "rr", [((3,), (3,)), ((2, 3), (2, 3))]),
    "rt.atleast_2d": ("np.atleast_2d(x) * y", "rr", [((3,), (2, 3)), ((2, 3), (2, 3)), ((), (2, 1))]),
    "np.average": ("np.average(x) + np.average(x, axis=1) * np.average(x, weights=y)", "rp", [((3, 2), (3, 2))]),
    "np.dot": ("np.dot(x, y)", "rr", MM), "np.outer": ("np.outer(x, y)", "rr", [((3,), (4,)), ((2, 2), (3,)), ((1, 1), (1,)), ((), (3,)), ((2,), ()),
                                            ((1, 3), (2, 1))]),
    "np.transpose": ("np.transpose(x) * y", "rr", [((2, 3), (3, 2)), ((2, 3), (3, 1))]),
    "rt.transpose": ("np.transpose(x, (1, 0, 2))", "r", [((2, 3, 2),)]),
    "np.reshape": ("np.reshape(x, (3, 2))", "r", [((2, 3),), ((6,),)]),
    "rt.reshape": ("rt.reshape(x.T, (3, 2))", "r", [((2, 3),), ((3, 1, 2),)]),   # np.reshape of jitted source
    "np.ravel": ("np.ravel(x)", "r", [((2, 3),)]), "rt.expand_dims": ("np.expand_dims(x, 0) + y", "rr", [((3,), (2, 1))]),
    "rt.squeeze": ("np.squeeze(x, axis=1) * y.squeeze((0, -1))", "rr", [((3, 1), (1, 3, 1)), ((1, 1), (1, 1, 1))]),
    "rt.squeeze all": ("np.squeeze(x) + x.squeeze()", "r", [((1, 3),), ((3, 1),)]),   # axis=None
    "np.trace": ("np.trace(x)", "r", [((3, 3),)]), "np.diag": ("np.diag(x)", "r", [((3,),), ((3, 3),)]),
    "np.full": ("np.full((2, 3), x)", "r", S), "np.full_like": ("np.full_like(y, x) * y", "rr", [((), (2, 3))]),
    "np.concatenate": ("np.concatenate((x, y))", "rr", [((3,), (2,)), ((2, 3), (1, 3))]),
    "np.stack": ("np.stack((x, y), axis=1)", "rr", [((3,), (3,))]),
    "np.linalg.inv": ("np.linalg.inv(x)", "q", [((3, 3),)]), "np.linalg.det": ("np.linalg.det(x)", "q", [((3, 3),)]),
    "rt.logabsdet": ("np.linalg.slogdet(x)[1]", "q", [((3, 3),)]),
    "np.linalg.cholesky": ("np.linalg.cholesky(x @ x.T + 3.0 * np.eye(3))", "r", [((3, 3),)]),
    "np.linalg.solve": ("np.linalg.solve(x, y)", "qr", [((3, 3), (3,)), ((3, 3), (3, 2))]),
    "rt.solve_triangular": ("solve_triangular(np.tril(x) + 3.0 * np.eye(3), y, lower=True)", "rr",
                            [((3, 3), (3,)), ((3, 3), (3, 2))]),
    # the other triangle and the transposed solve (a rule's arguments passed in the wrong order once
    # went unnoticed because only lower=True, trans=0 was tested)
    "rt.solve_triangular upper": ("solve_triangular(np.triu(x) + 3.0 * np.eye(3), y)", "rr",
                                  [((3, 3), (3,)), ((3, 3), (3, 2))]),
    "rt.solve_triangular trans": ("solve_triangular(np.tril(x) + 3.0 * np.eye(3), y, trans=1, lower=True)", "rr",
                                  [((3, 3), (3,))]),
    # a full matrix: the solve reads one triangle (the jvp took the other's tangent too: 0.22 for -0.003)
    "rt.solve_triangular full": ("solve_triangular(x + 3.0 * np.eye(3), y, lower=True) + "
                                 "solve_triangular(x + 3.0 * np.eye(3), y, trans=1)", "rr", [((3, 3), (3,)),
                                                                                             ((3, 1), (3, 2))]),
    "np.tril": ("np.tril(x)", "r", [((3, 3),), ((2, 3),), ((4,),), ((2, 3, 3),)]),
    "np.triu": ("np.triu(x, 1)", "r", [((3, 3),), ((3,),), ((1,),), ((2, 2, 3),)]),
    # eigh of a symmetric matrix, written (x + x.T) / 2 so that the finite differences perturb it symmetrically (the
    # rules give the gradient over symmetric perturbations); eigenvectors (and singular vectors, whose signs are
    # arbitrary too) enter through sign-invariant functions: squares, products of a column with itself, V diag(w) V^T
    "np.linalg.eigvalsh": ("np.linalg.eigvalsh((x + x.T) / 2) + np.linalg.eigh(0.5 * (x + x.T))[0] ** 2", "s",
                           [((3, 3),), ((1, 1),), ((4, 4),)]),
    "rt.eigh_vectors": ("np.linalg.eigh((x + x.T) / 2)[1] ** 2", "s", [((3, 3),), ((2, 2),), ((4, 4),)]),
    "rt.eigh_vectors column": ("(np.linalg.eigh(x + x.T)[1][:, -1] @ y) ** 2 + np.linalg.eigh(x + x.T)[-1][0, 1] ** 2",
                               "sr", [((3, 3), (3,)), ((4, 4), (4,))]),
    "rt.eigh_vectors rebuilt": ("(np.linalg.eigh(x + x.T)[1] * np.linalg.eigh(x + x.T)[0])"
                                " @ np.transpose(np.linalg.eigh(x + x.T)[1])", "s", [((3, 3),)]),
    # SVD of m x n matrices (m < n, m = n, m > n) with distinct singular values
    "rt.svdvals": ("np.linalg.svd(x, compute_uv=False) + np.linalg.svd(x)[1] ** 2", "m",
                   [((3, 3),), ((4, 2),), ((2, 4),)]),
    "rt.svd_u": ("np.linalg.svd(x, full_matrices=False)[0] ** 2", "m", [((3, 3),), ((2, 4),), ((4, 2),)]),
    "rt.svd_vh": ("np.linalg.svd(x, full_matrices=False)[2] ** 2", "m", [((3, 3),), ((4, 2),), ((2, 4),)]),
    "rt.svd_u rebuilt": ("(np.linalg.svd(x, False)[0] * np.linalg.svd(x, False)[1]) @ np.linalg.svd(x, False)[-1]"
                         " + np.linalg.svd(x, False)[0][:, 0:1] * np.linalg.svd(x, False)[2][0]", "m",
                         [((4, 3),), ((3, 4),)]),
    "np.linalg.pinv": ("np.linalg.pinv(x)", "m", [((3, 3),), ((4, 2),), ((2, 4),)]),
    "rt.kron": ("np.kron(x, y)", "rr", [((2, 3), (2, 2)), ((3,), (2,)), ((3,), (2, 2)), ((2, 3), (4,))]),
    # kron_grad_a(v, a, b) with v of np.kron(a, b)'s shape (a gives the shape only), kron_grad_b likewise
    "rt.kron_grad_a": ("rt.kron_grad_a(x, z, y)", "rrc", [((4, 6), (2, 2), (2, 3)), ((6,), (2,), (3,)),
                                                          ((2, 6), (2, 2), (3,))]),
    "rt.kron_grad_b": ("rt.kron_grad_b(x, y, z)", "rrc", [((4, 6), (2, 3), (2, 2)), ((3, 6), (3,), (3, 2))]),
    # helpers that generated adjoints call, differentiated again by grad of a function calling a grad
    # (shape-only arguments are "c"; rt.matmul_grad_x(v, x, y) takes v of x @ y's shape)
    "rt.sum_grad": ("rt.sum_grad(x, y, 1) + rt.sum_grad(np.sum(x), y)", "rc", [((2,), (2, 3))]),
    "rt.mean_grad": ("rt.mean_grad(x, y, 0) + rt.mean_grad(np.sum(x), y)", "rc", [((3,), (2, 3))]),
    "rt.matmul_grad_x": ("rt.matmul_grad_x(x, z, y)", "rrc", [((2, 4), (3, 4), (2, 3)), ((2,), (3, 2), (3,)),
                                                              ((2,), (3,), (2, 3)), ((), (3,), (3,))]),
    "rt.matmul_grad_y": ("rt.matmul_grad_y(x, y, z)", "rrc", [((2, 4), (2, 3), (3, 4)), ((2,), (3,), (3, 2)),
                                                              ((2,), (2, 3), (3,)), ((), (3,), (3,))]),
    # rt.outer_grad(v, x, y): v of np.outer(x, y)'s shape, x gives the shape only
    "rt.outer_grad": ("rt.outer_grad(x, z, y)", "rrc", [((2, 3), (3,), (2,)), ((2, 3), (1, 3), (2, 1)),
                                                        ((1, 3), (3,), ()), ((2, 1), (), (2,)), ((1, 1), (), ())]),
    "rt.solve_grad_a": ("rt.solve_grad_a(x, y)", "rr", [((3, 2), (3, 2)), ((3,), (3,))]),
    # np.std's and np.linalg.norm's square root (composites.py): derivative 0 where it is 0 (x - x: a constant 0)
    "rt.sqrt_of_squares": ("rt.sqrt_of_squares(x) + rt.sqrt_of_squares(x - x)", "p", E),
    "rt.item": ("x.item() * x.item() + np.sin(x).item()", "r", [((1,),), ((1, 1),)]),
    "rt.times_slope": ("rt.times_slope(x, y) + rt.times_slope(x - x, y * y)", "rr", B),
    "rt.sqrt_slope": ("rt.sqrt_slope(x) + rt.sqrt_slope(x - x)", "p", E),
    # a p-norm's powers (composites.py): r ** e, derivative 0 at r = 0 (x - x), any e
    "rt.norm_power": ("rt.norm_power(x, 3.0) + rt.norm_power(x, 0.5) + rt.norm_power(x - x, 0.5)", "p", E),
    # np.einsum's matrix products (composites.py): a contracted axis of length 1 broadcasts against the other's
    "rt.einsum_matmul": ("rt.einsum_matmul(x, y)", "rr", MM + [((2, 1), (3, 4)), ((2, 3), (1, 4)), ((1,), (3, 2)),
                                                             ((3,), (1,)), ((2, 1), (1,))]),
    "rt.fit_like": ("rt.fit_like(x, z) * z", "rrc", [((2, 1), (1,), (2, 3)), ((2, 3), (1,), (1, 3)),
                                                     ((1, 3), (1,), (4, 1)), ((3,), (1,), (3,))]),
    # np.clip of jitted source: array bounds that broadcast x (Numba's np.clip gave x's shape: one row of two)
    "rt.clip": ("rt.clip(x, y - 1.0, z + 1.0) * rt.clip(x, -0.5, z)", "rrr",
                [((3,), (), ()), ((1, 3), (2, 3), ()), ((3,), (2, 1), (1, 3))]),
    "rt.to_float": ("rt.to_float(x)", "r", S),   # float() of jitted source (Numba's takes no bool, no 0-d array)
    "rt.tanh": ("rt.tanh(x)", "r", E),   # np.tanh of jitted source (transforms/products.py)
    "rt.dot": ("rt.dot(x, y)", "rr", MM), "rt.solve": ("rt.solve(x, y)", "qr", [((3, 3), (3,)), ((3, 3), (3, 2))]),
    # reverse rules of the helpers that reverse over reverse meets (grad of a function calling a grad);
    # a helper's arguments are independent inputs here (w is a fourth parameter)
    "rt.logsumexp_grad": ("rt.logsumexp_grad(x, y, z, 0) + rt.logsumexp_grad(np.sum(x), y, np.sum(z))", "rrr",
                          [((3,), (2, 3), (3,))]),
    "rt.logsumexp_grad axis1": ("rt.logsumexp_grad(x, y, z, 1)", "rrr", [((2,), (2, 3), (2,)), ((1,), (1, 3), (1,))]),
    # max_grad / min_grad are piecewise constant in x and m: the finite differences in y are zero
    "rt.max_grad": ("rt.max_grad(x, y, np.max(y, axis=1), 1) + rt.max_grad(np.sum(x), y, np.max(y))", "rr",
                    [((2,), (2, 3))]),
    "rt.min_grad": ("rt.min_grad(x, y, np.min(y, axis=0), 0) + rt.min_grad(np.sum(x), y, np.min(y))", "rr",
                    [((3,), (2, 3))]),
    # p = prod(y) as the helper assumes; the finite differences follow y through both x and p
    "rt.prod_grad": ("rt.prod_grad(x, y, np.prod(y, axis=0), 0) + rt.prod_grad(np.sum(x), y, np.prod(y))", "rr",
                     [((3,), (2, 3))]),
    # prod_grad's second and third derivatives (linear in their directions; x in the second: the third)
    "rt.prod_others_jvp": ("rt.prod_others_jvp(x, y, 1) + rt.prod_others_jvp(z, y, 0) + rt.prod_others_jvp(x * z, y)",
                           "rrr", [((2, 3), (2, 3), (2, 3))]),
    "rt.prod_others_jvp2": ("rt.prod_others_jvp2(x, z, y, 1) + rt.prod_others_jvp2(z * z, x, y)", "rcr",
                            [((2, 3), (2, 3), (2, 3))]),
    "rt.transpose_grad": ("rt.transpose_grad(x, (1, 2, 0)) + np.sum(rt.transpose_grad(y))", "rr",
                          [((2, 3, 4), (2, 3))]),
    "rt.index_axis": ("rt.index_axis(x, 1, 2) + rt.index_axis(y, 0, -1)", "rr", [((2, 3), (3,))]),
    "rt.index_axis_put": ("rt.index_axis_put(x, z, 1, 2) + rt.index_axis_put(np.sum(y), y, 0, -1)", "rrc",
                          [((2,), (3,), (2, 3))]),
    "rt.slice_axis": ("rt.slice_axis(x, 1, 1, 3) + rt.slice_axis(y, 0, 0, 2)", "rr", [((2, 3, 2), (2,))]),
    "rt.slice_axis_put": ("rt.slice_axis_put(x, z, 1, 1, 3) + rt.slice_axis_put(y, z, 1, 0, 2)", "rrc",
                          [((2, 2), (2, 2), (2, 3))]),
    "rt.solve_triangular_grad_a": ("rt.solve_triangular_grad_a(x, y, 0, True) + rt.solve_triangular_grad_a(x, y, 1, True)"
                                   " + rt.solve_triangular_grad_a(x, y, 1, False)", "rr",
                                   [((3,), (3,)), ((3, 2), (3, 2))]),
    "rt.tri_matmul": ("rt.tri_matmul(x, y, 0) + rt.tri_matmul(x, y, 1)", "rr", [((3, 3), (3,)), ((3, 3), (3, 2))]),
    "rt.tri_mask": ("rt.tri_mask(x, True) + rt.tri_mask(x, False) * y", "rr", [((3, 3), (3, 3))]),
    "rt.transpose_if": ("rt.transpose_if(x, 1) * y + np.sum(rt.transpose_if(x, 0))", "rr",
                        [((2, 3), (3, 2)), ((3, 3), (3, 3))]),
    "rt.logdet_grad": ("rt.logdet_grad(x)", "q", [((3, 3),)]),
    # L lower triangular (a Cholesky factor), as cholesky_grad assumes
    "rt.cholesky_grad": ("rt.cholesky_grad(np.tril(x), y)", "qr", [((3, 3), (3, 3))]),
    # NumPy breadth: shapes, gathers, contractions, special functions and the composites built on them
    "np.broadcast_to": ("np.broadcast_to(x, (2, 3)) * y", "rr", [((3,), (2, 3)), ((1, 3), (2, 3)), ((), (2, 3)),
                                                                 ((2, 1), (2, 3))]),
    "np.swapaxes": ("np.swapaxes(x, 0, -1) * y + np.sum(x.swapaxes(1, 0)[0])", "rr", [((2, 3), (3, 2)), ((2, 3, 2), (2, 3, 2))]),
    "np.moveaxis": ("np.moveaxis(x, 0, -1) * y + np.sum(np.moveaxis(x, (0, 1), (1, 0)))", "rr", [((2, 3, 4), (3, 4, 2))]),
    "rt.atleast_1d": ("np.atleast_1d(x) * y", "rr", [((), (3,)), ((3,), (3,)), ((2, 3), (2, 3))]),
    "rt.as_column": ("rt.as_column(x) * y", "rr", [((3,), (3, 2)), ((), (1, 2)), ((3, 2), (3, 2))]),
    "np.take": ("np.take(x, np.array([2, 0, 2, -1]), axis=1) * np.sum(np.take(x, np.arange(4).reshape((2, 2)) + 1))"
                " + x.take(np.array([0, 0]), 0)[0, 0]", "r", [((2, 3),), ((2, 3, 2),)]),
    "np.take int": ("np.take(x, 1, axis=0) * np.take(x, -1)", "r", [((3,),), ((3, 2),)]),
    "rt.take_put": ("rt.take_put(x, z, np.array([2, 0, 2]), 1) + rt.take_put(y, z, np.array([1, 1, -1]))", "rrc",
                    [((2, 3), (3,), (2, 3))]),
    # reverse mode's read of a write by an index list (the later of two places it names twice wins) and its adjoint
    "rt.written": ("rt.written(x, (slice(None, None, None), np.array([2, 0, 2]))) * y + np.sum(rt.written(x, np.array([1, 1, 0])))",
                   "rr", [((2, 3), (2, 3))]),
    "rt.written_put": ("rt.written_put(x, z, (slice(None, None, None), np.array([2, 0, 2]))) + rt.written_put(y, z, np.array([1, 1]))",
                       "rrc", [((2, 3), (2, 3), (2, 3))]),
    "rt.tensordot": ("rt.tensordot(x, y, 1)", "rr", [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3, 4), (4, 2))]),
    "rt.tensordot k": ("rt.tensordot(x, y, 2) + np.sum(rt.tensordot(x, y, 0))", "rr", [((3, 4), (3, 4)), ((2, 3), (2, 3))]),
    "rt.tensordot_grad_x": ("rt.tensordot_grad_x(x, z, y, 1)", "rrc", [((2, 4), (3, 4), (2, 3)), ((2, 2, 2), (3, 2), (2, 2, 3))]),
    "rt.tensordot_grad_y": ("rt.tensordot_grad_y(x, y, z, 1)", "rrc", [((2, 4), (2, 3), (3, 4)), ((4,), (3,), (3, 4))]),
    "np.interp": ("np.interp(x, np.array([-1.0, 0.0, 0.5, 2.0]), y)", "rr", [((5,), (4,)), ((), (4,)), ((2, 3), (4,))]),
    # the knots moved too (kept increasing: 0.2 apart plus positive steps), x in and beyond their range
    "rt.interp": ("rt.interp(x, np.cumsum(0.2 + y * y) - 1.5, z)", "rrr", [((6,), (4,), (4,)), ((2, 3), (4,), (4,))]),
    # a float x (the table's Numba run takes each entry's last shape case only: fuzz seed 700075 found the
    # adjoints' Numba kernels could not take a float x, where the knots are constant and where they move)
    "np.interp float x": ("np.interp(x, np.array([-1.0, 0.0, 0.5, 2.0]), y)", "rr", [((), (4,))]),
    "rt.interp float x": ("rt.interp(x, np.cumsum(0.2 + y * y) - 1.5, z)", "rrr", [((), (4,), (4,))]),
    "rt.interp_slope": ("rt.interp_slope(x, np.cumsum(0.2 + y * y) - 1.5, z)", "rrr", [((6,), (4,), (4,))]),
    "rt.interp_transpose": ("rt.interp_transpose(w, x, np.cumsum(0.2 + y * y) - 1.5, z)", "rrrr",
                            [((6,), (4,), (4,), (6,)), ((2, 3), (4,), (4,), ())]),
    "rt.interp_slope_transpose": ("rt.interp_slope_transpose(w, x, np.cumsum(0.2 + y * y) - 1.5, z)", "rrrr",
                                  [((6,), (4,), (4,), (6,)), ((2, 3), (4,), (4,), ())]),
    "rt.cumprod_grad": ("rt.cumprod_grad(x, y, 1) + rt.cumprod_grad(np.ravel(x), y) * 2.0", "rr", [((2, 3), (2, 3))]),
    "rt.cumprod_jvp": ("rt.cumprod_jvp(x, y, 0) + rt.reshape_like(rt.cumprod_jvp(x, y), y) * 2.0", "rr",
                       [((2, 3), (2, 3))]),
    "rt.cumprod": ("np.sum(np.cumprod(x)) + np.cumprod(x, axis=0) * x.cumprod(axis=-1)", "r", [((2, 3),), ((4,),)]),
    # zeros in the running product (exactly zero values, smooth in x): the adjoint must not divide by them
    "rt.cumprod zeros": ("np.cumprod((x - x[:, 1:2]) * (x - x[:, 3:4]), axis=1) + np.cumprod(x - x[0, 0], axis=0)"
                         " + np.sum(np.cumprod(x - x[1, 0]))", "r", [((2, 4),), ((3, 5),)]),
    "np.sinc": ("np.sinc(x) + np.sinc(x - x)", "r", E), "rt.dsinc": ("rt.dsinc(x) + rt.dsinc(x * 1e-4)", "r", E),
    "rt.erfinv": ("erfinv(x)", "u", E), "rt.ndtri": ("ndtri(0.5 + 0.5 * x)", "u", E),
    "rt.betaln": ("betaln(x, y)", "pp", B),
    "np.roll": ("np.roll(x, 1) * x + np.roll(x, -2, axis=0) + np.roll(x, 4, axis=-1)", "r", [((2, 3),), ((4,),)]),
    "np.roll axes": ("np.roll(x, (1, 2), (0, 1)) * x", "r", [((2, 3),)]),
    "np.tile": ("np.tile(x, (2, 3)) + np.sum(np.tile(x, 2))", "r", [((2, 3),), ((3,),), ((),)]),
    "np.tile 3d": ("np.tile(x, (2, 1, 2))", "r", [((1, 2, 3),)]),
    "np.repeat": ("np.sum(np.repeat(x, 2) * np.arange(2 * x.size)) + np.repeat(x, np.array([1, 0, 2]), axis=-1)"
                  " + x.repeat(2, axis=0)[0]", "r", [((2, 3),), ((3,),)]),
    "np.tensordot": ("np.tensordot(x, y, axes=1) + np.tensordot(x, y, ([-1], [0])) + np.tensordot(x, y, (-1, 0))", "rr",
                     [((2, 3), (3, 4)), ((2, 2, 3), (3, 2))]),
    "np.tensordot axes": ("np.tensordot(x, y) + np.tensordot(x, np.transpose(y), ([1, 0], [0, 1]))"
                          " + np.sum(np.tensordot(x, y, 0))", "rr", [((2, 3), (2, 3))]),
    "np.inner": ("np.inner(x, y)", "rr", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 3), (3,))]),
    "np.vdot": ("np.vdot(x, y)", "rr", [((3,), (3,)), ((2, 3), (3, 2))]),
    "np.cross": ("np.cross(x, y)", "rr", [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (2, 3))]),
    "np.column_stack": ("np.column_stack((x, y)) * 2.0 + np.column_stack([y, x])", "rr",
                        [((3,), (3,)), ((3, 2), (3, 1)), ((3, 2), (3,))]),
    "np.ptp": ("np.ptp(x) + np.ptp(x, axis=0) * np.ptp(x, axis=1, keepdims=True)", "r", [((2, 3),), ((3, 2),)]),
    "np.nansum": ("np.nansum(np.where(x > 1.0, np.nan, x)) + np.nansum(x, axis=0)", "r", [((2, 3),), ((4,),)]),
    "np.nanmean": ("np.nanmean(np.where(x > 1.0, np.nan, x)) + np.nanmean(x, axis=0) * np.nanmean(x, -1, keepdims=True)",
                   "r", [((2, 3),), ((3, 4),)]),
    "np.trapezoid": ("np.trapezoid(x) * 2.0 + np.sum(np.trapezoid(x, axis=0, dx=0.5)) + np.trapezoid(x, y)", "rr",
                     [((2, 3), (3,)), ((4, 3), (4, 3)), ((5,), (5,))]),
    "np.median": ("np.median(x) + np.median(x, axis=0) * np.median(x, axis=-1, keepdims=True)", "r",
                  [((2, 3),), ((3, 4),), ((5,),), ((4,),)]),
    "np.polyval": ("np.polyval([y, 2.0, y * y], x) + np.polyval((y,), x) + np.polyval([np.sum(x), y], 0.5)", "rr",
                   [((3,), ()), ((2, 3), ())]),
    "np.cov": ("np.cov(x) + np.cov(x, bias=True) * np.cov(x, ddof=0)", "r", [((2, 4),), ((3, 5),)]),
    "np.cov y": ("np.cov(x, y) + np.cov(np.transpose(np.vstack((x, y))), rowvar=False)", "rr", [((4,), (4,))]),
    "np.corrcoef": ("np.corrcoef(x) + np.corrcoef(x[0], x[1])", "r", [((2, 4),)]),
    "rt.logsumexp_vecmat_grad_M": ("rt.logsumexp_vecmat_grad_M(x, y, z, rt.exp_shifted(z, 0), w)", "rrrr",
                                   [((3,), (2,), (2, 3), (3,))]),
    "rt.logsumexp_vecmat_grad_v": ("rt.logsumexp_vecmat_grad_v(x, y, z, rt.exp_shifted(z, 0), w)", "rrrr",
                                   [((3,), (2,), (2, 3), (3,))]),
    "rt.logsumexp_matvec_grad_M": ("rt.logsumexp_matvec_grad_M(x, z, y, rt.exp_shifted(z, 1), w)", "rrrr",
                                   [((3,), (2,), (3, 2), (3,))]),
    "rt.logsumexp_matvec_grad_v": ("rt.logsumexp_matvec_grad_v(x, z, y, rt.exp_shifted(z, 1), w)", "rrrr",
                                   [((3,), (2,), (3, 2), (3,))]),
}

if hasattr(np.linalg, "svdvals"):   # NumPy 2
    ENTRIES["rt.svdvals np.linalg.svdvals"] = ("np.linalg.svdvals(x)", "m", [((2, 3),), ((3, 2),)])
# the adjoint of svdvals (reverse over a gradient through singular values): a matrix with distinct singular values
ENTRIES["rt.svdvals_grad"] = ("rt.svdvals_grad(x, y)", "mr", [((2, 3), (2,)), ((3, 2), (2,))])
# ... of eigvalsh (a symmetric matrix with distinct eigenvalues: the helper's gradient is over symmetric perturbations)
ENTRIES["rt.eigvalsh_grad"] = ("rt.eigvalsh_grad((x + x.T) / 2, y)", "sr", [((3, 3), (3,))])
# ... of eigh's eigenvectors, the thin SVD's U and Vh, and pinv (h30e): their reverse rules, each argument independent
# (the vectors passed need not be the decomposition's, the helpers are defined for any: near it, their divisors stay
# apart from 0, as the finite differences need)
ENTRIES["rt.eigh_vectors_grad"] = ("rt.eigh_vectors_grad((x + x.T) / 2, np.linalg.eigh((x + x.T) / 2)[1] + 0.1 * y, z)",
                                   "srr", [((3, 3), (3, 3), (3, 3))])
ENTRIES["rt.svd_u_grad"] = ("rt.svd_u_grad(x, np.linalg.svd(x, full_matrices=False)[0] + 0.1 * y, z)", "mrr",
                            [((3, 2), (3, 2), (3, 2)), ((2, 3), (2, 2), (2, 2))])
ENTRIES["rt.svd_vh_grad"] = ("rt.svd_vh_grad(x, np.linalg.svd(x, full_matrices=False)[2] + 0.1 * y, z)", "mrr",
                             [((3, 2), (2, 2), (2, 2)), ((2, 3), (2, 3), (2, 3))])
ENTRIES["rt.pinv_grad"] = ("rt.pinv_grad(x, np.linalg.pinv(x) + 0.1 * y, z)", "mrr",
                           [((3, 2), (2, 3), (2, 3)), ((2, 3), (3, 2), (3, 2))])
# ... and the tangents of eigh, svd and pinv (reverse over jvp, and jvp of a jvp, through them): each argument
# independent, as above (the tangent z is any matrix of a's shape; eigh's counts through its symmetric part)
ENTRIES["rt.eigvalsh_jvp"] = ("rt.eigvalsh_jvp((x + x.T) / 2, y)", "sr", [((3, 3), (3, 3)), ((4, 4), (4, 4))])
ENTRIES["rt.svdvals_jvp"] = ("rt.svdvals_jvp(x, y)", "mr", [((2, 3), (2, 3)), ((3, 2), (3, 2))])
ENTRIES["rt.eigh_vectors_jvp"] = ("rt.eigh_vectors_jvp((x + x.T) / 2, np.linalg.eigh((x + x.T) / 2)[1] + 0.1 * y, z)",
                                  "srr", [((3, 3), (3, 3), (3, 3))])
ENTRIES["rt.svd_u_jvp"] = ("rt.svd_u_jvp(x, np.linalg.svd(x, full_matrices=False)[0] + 0.1 * y, z)", "mrr",
                           [((3, 2), (3, 2), (3, 2)), ((2, 3), (2, 2), (2, 3))])
ENTRIES["rt.svd_vh_jvp"] = ("rt.svd_vh_jvp(x, np.linalg.svd(x, full_matrices=False)[2] + 0.1 * y, z)", "mrr",
                            [((3, 2), (2, 2), (3, 2)), ((2, 3), (2, 3), (2, 3))])
ENTRIES["rt.pinv_jvp"] = ("rt.pinv_jvp(x, np.linalg.pinv(x) + 0.1 * y, z)", "mrr",
                          [((3, 2), (2, 3), (3, 2)), ((2, 3), (3, 2), (2, 3))])

# Helpers with a forward rule (jvp) but no reverse rule yet: forward over reverse (hvp, hessian,
# jvp of a gradient) handles them; reverse over reverse declines them with a SrcdiffError
# (checks.check_reverse_rules) instead of treating them as constants. None now (h30e gave the last five,
# eigh_vectors_grad, svd_u_grad, svd_vh_grad, pinv_grad and unstack, their reverse rules).
FORWARD_ONLY: set = set()

# Rules the compiler itself emits inside generated adjoints (higher-order differentiation of
# srcdiff's own output) or by rewriting (log-domain products, tests/test_logdomain.py); they are
# not user-facing NumPy primitives, so no entry here.
# (np.float32 rounds to 24 bits: central differences at eps 1e-6 see its steps, not its slope 1; tests/test_numpy_floats.py
# checks its value and derivative exactly, under both backends)
INTERNAL = {"np.float32", "rt.to_float32", "rt.pow_slope", "rt.trace_grad", "rt.diag_grad", "rt.atleast_nd", "rt.copy", "rt.unbroadcast", "rt.broadcast_to_like", "rt.reshape_like", "rt.transpose_grad",
            "rt.index_axis", "rt.slice_axis", "rt.select", "rt.safe_log", "rt.sum_grad", "rt.mean_grad",
            "rt.max_grad", "rt.min_grad", "rt.prod_grad", "rt.logsumexp_grad", "rt.matmul_grad_x",
            "rt.matmul_grad_y", "rt.outer_grad", "rt.solve_grad_a", "rt.solve_triangular_grad_a", "rt.tri_matmul",
            "rt.dot", "rt.solve", "rt.tanh",
            "rt.cholesky_grad", "rt.logdet_grad", "rt.logsumexp_vecmat", "rt.logsumexp_matvec",
            "rt.logsumexp_vecmat_grad_v", "rt.logsumexp_vecmat_grad_M", "rt.logsumexp_matvec_grad_v",
            "rt.logsumexp_matvec_grad_M", "rt.astype_grad",
            "rt.trigamma", "rt.tetragamma", "rt.cumprod_factors",
            "rt.stack_array", "rt.unstack", "rt.spacing"} | FORWARD_ONLY   # (np.array of a list built with appends: tests/test_lists.py)   # (digamma's derivatives; the last has none of its own)

HEADER = """import math
import numpy as np
from scipy.special import (betaln, expit, gamma, gammaln, digamma, erf, erfc, erfinv, logsumexp, log_expit,
                           log_softmax, ndtr, ndtri, log_ndtr, softmax, xlogy, xlog1py)
from scipy.linalg import solve_triangular
from srcdiff import runtime as rt
"""


def _fname(rule):
    return "f_" + "".join(c if c.isalnum() else "_" for c in rule) + f"_{zlib.crc32(rule.encode()) % 10**6}"


_MOD = None


def wrappers():
    global _MOD
    if _MOD is None:
        parts = [HEADER]
        for rule, (expr, dom, _) in ENTRIES.items():
            params = ", ".join("xyzw"[:len(dom)])
            parts.append(f"\ndef {_fname(rule)}({params}):\n    out = {expr}\n"
                         f"    return np.sum(np.sin(1.3 * out) + out)\n")
        _MOD = source_module("rules_wrappers", "".join(parts))
    return _MOD


def _value(dom, shape, rng):
    if dom == "p":
        v = rng.uniform(0.5, 2.0, size=shape)
    elif dom == "u":
        v = rng.uniform(-0.8, 0.8, size=shape)
    elif dom == "q":
        v = rng.normal(size=shape) * 0.3 + 2.0 * np.eye(shape[0])
    elif dom == "s":   # symmetric, eigenvalues at least 0.5 apart (eigenvector derivatives divide by the gaps)
        n = shape[0]
        q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        v = (q * (0.8 * np.arange(n) - 0.3 * n + rng.uniform(0.0, 0.3, n))) @ q.T
        v = 0.5 * (v + v.T)
    elif dom == "m":   # full rank, singular values at least 0.4 apart (the same for singular vectors)
        k = min(shape)
        u, _ = np.linalg.qr(rng.normal(size=(shape[0], k)))
        w, _ = np.linalg.qr(rng.normal(size=(shape[1], k)))
        v = (u * (1.0 + 0.6 * np.arange(k)[::-1] + rng.uniform(0.0, 0.2, k))) @ w.T
    else:
        v = rng.normal(size=shape)
        v = np.where(np.abs(v) < 0.05, 0.3, v)   # keep away from abs/clip kinks
    return float(v) if shape == () else v


def _fd(f, args, k, eps=1e-6):
    args = list(args)
    x = args[k]
    if np.ndim(x) == 0:
        return (f(*(args[:k] + [x + eps] + args[k + 1:])) - f(*(args[:k] + [x - eps] + args[k + 1:]))) / (2 * eps)
    out = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        out[i] = (f(*(args[:k] + [xp] + args[k + 1:])) - f(*(args[:k] + [xm] + args[k + 1:]))) / (2 * eps)
    return out


CASES = [(rule, i) for rule, (_, _, shapes) in ENTRIES.items() for i in range(len(shapes))]


def _check(rule, case, jit, dtype=np.float64):
    expr, dom, shapes = ENTRIES[rule]
    f = getattr(wrappers(), _fname(rule))
    rng = np.random.default_rng(zlib.crc32(f"{rule}/{case}".encode()))
    args = [_value(d, s, rng) for d, s in zip(dom, shapes[case])]
    wrt = tuple(k for k, d in enumerate(dom) if d != "c")
    if dtype is np.float32:
        if any(np.ndim(a) == 0 for a in args):
            pytest.skip("float32 scalars are Python floats")
        args32 = [np.asarray(a, dtype=np.float32) for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = srcdiff.grad(f, wrt=wrt, jit=jit)(*(args32 if dtype is np.float32 else args))
    tol = dict(rtol=2e-2, atol=2e-2) if dtype is np.float32 else dict(rtol=1e-5, atol=1e-6)
    for k, g in zip(wrt, got):
        ref = _fd(f, args, k)
        scale = max(1.0, float(np.max(np.abs(ref))))
        assert np.shape(g) == np.shape(args[k]), f"{rule}: grad shape {np.shape(g)} vs {np.shape(args[k])}"
        np.testing.assert_allclose(g, ref, rtol=tol["rtol"], atol=tol["atol"] * scale,
                                   err_msg=f"{rule}: {expr} d/d{'xyzw'[k]} shapes={shapes[case]}")


@pytest.mark.parametrize("rule, case", CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_rule_python(rule, case):
    _check(rule, case, jit=False)


@pytest.mark.parametrize("rule, case", CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_rule_float32(rule, case):
    _check(rule, case, jit=False, dtype=np.float32)


def _check_jvp(rule, case):
    """Forward mode: the jvp of the wrapper along a random direction in each argument equals the
    central difference along that direction."""
    expr, dom, shapes = ENTRIES[rule]
    f = getattr(wrappers(), _fname(rule))
    rng = np.random.default_rng(zlib.crc32(f"jvp/{rule}/{case}".encode()))
    args = [_value(d, s, rng) for d, s in zip(dom, shapes[case])]
    for k, d in enumerate(dom):
        if d == "c":
            continue
        v = float(rng.normal()) if np.ndim(args[k]) == 0 else rng.normal(size=np.shape(args[k]))
        if d == "q":   # keep the matrix well conditioned and symmetric where the rule needs it
            v = 0.5 * (v + v.T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, dv = srcdiff.jvp(f, wrt=k)(*args, v)
        eps = 1e-6
        plus, minus = list(args), list(args)
        plus[k], minus[k] = args[k] + eps * v, args[k] - eps * v
        ref = (f(*plus) - f(*minus)) / (2 * eps)
        np.testing.assert_allclose(value, f(*args), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dv, ref, rtol=1e-5, atol=1e-6 * max(1.0, abs(ref)),
                                   err_msg=f"{rule}: {expr} jvp along d{'xyzw'[k]} shapes={shapes[case]}")


@pytest.mark.parametrize("rule, case", CASES, ids=[f"{r}-{i}" for r, i in CASES])
def test_rule_jvp(rule, case):
    _check_jvp(rule, case)


# Numba: one (the richest) shape case per rule, to keep compile time down.  Entries Numba cannot
# compile are declined at the user's line (SrcdiffError matching the pattern) instead.
JIT_DECLINED = {"rt.squeeze all": r"rules_wrappers\.py:\d+: np\.squeeze without axis= does not compile under Numba"}
JIT_CASES = [pytest.param(rule, len(shapes) - 1, id=f"{rule}-{len(shapes) - 1}")
             for rule, (_, _, shapes) in ENTRIES.items() if rule not in JIT_DECLINED]


@pytest.mark.parametrize("rule, case", JIT_CASES)
def test_rule_numba(rule, case):
    _check(rule, case, jit=True)


@pytest.mark.parametrize("rule", sorted(JIT_DECLINED))
def test_rule_numba_declined(rule):
    with pytest.raises(srcdiff.SrcdiffError, match=JIT_DECLINED[rule]) as info:
        _check(rule, len(ENTRIES[rule][2]) - 1, jit=True)
    assert info.value.advice, f"{rule}: declined without advice"


def test_forward_and_reverse_rules_pair_up():
    """The table holds each rule's vjp and jvp side by side: every argument with a reverse rule has a
    forward one and vice versa, except the listed forward-only helpers."""
    from srcdiff.transforms.astutil import names_in
    unpaired = {}
    for name, r in RULES.items():
        if r.nondiff or r.variadic or r.namespace:   # (rules users register: other test modules add some)
            continue
        forward = {p for p in r.signature.parameters if r.jvp is not None and "d" + p in names_in(r.jvp)}
        reverse = {p for p in r.vjp if r.has_vjp(p)}
        if forward != reverse and name not in FORWARD_ONLY:
            unpaired[name] = {"jvp only": sorted(forward - reverse), "vjp only": sorted(reverse - forward)}
    assert not unpaired, f"rules whose forward and reverse rules cover different arguments: {unpaired}"
    stale = sorted(n for n in FORWARD_ONLY if n in RULES and any(RULES[n].has_vjp(p) for p in RULES[n].vjp))
    assert not stale, f"FORWARD_ONLY lists rules that now have a vjp: {stale}"


def test_every_rule_has_an_entry():
    # (rules users register with srcdiff.adjoint carry their namespace: tests/test_errors.py registers one on import)
    differentiable = {name for name, r in RULES.items() if not r.nondiff and not r.namespace}
    missing = sorted(differentiable - set(ENTRIES) - INTERNAL)
    assert not missing, f"rules without a test entry in tests/test_rules_table.py: {missing}"
    missing = sorted(set(COMPOSITES) - set(ENTRIES))
    assert not missing, f"composites without a test entry in tests/test_rules_table.py: {missing}"
    stale = sorted({e.split(" ")[0] for e in ENTRIES} - set(RULES) - set(COMPOSITES))   # "rule variant": more cases
    assert not stale, f"entries for rules no longer in the table: {stale}"


# float32 under Numba: a representative of each family (elementwise, broadcasting, reductions with
# axis, selection, products, solves), one shape case each, to keep compile time down.  Numba promotes
# float32 * <Python float> to float64 (NumPy keeps float32), so adjoints meet primals of the other
# precision: products and solves in adjoints go through rt.dot / rt.solve / rt.matmul_grad_*, which
# cast both operands to their common dtype under Numba (its BLAS calls need one dtype; the reliability
# audit, issue 7, found @, outer, inv, cholesky, solve and solve_grad_a failing to type).
F32_NUMBA = ["+", "*", "/", "**", "np.exp", "np.log", "np.sqrt", "np.tanh", "rt.expit", "np.maximum",
             "np.where", "np.clip", "np.sum", "np.mean", "np.max", "rt.logsumexp", "np.dot", "rt.matmul_grad_x",
             "np.concatenate", "np.linalg.det", "rt.solve_triangular",
             "@", "np.outer", "np.linalg.inv", "np.linalg.cholesky", "np.linalg.solve", "rt.solve_grad_a",
             "rt.dot", "rt.solve", "np.linalg.eigvalsh", "rt.eigh_vectors", "rt.svd_u rebuilt", "np.linalg.pinv",
             "rt.kron"]
F32_NUMBA_CASES = [pytest.param(r, len(ENTRIES[r][2]) - 1, id=f"{r}-{len(ENTRIES[r][2]) - 1}") for r in F32_NUMBA]


@pytest.mark.parametrize("rule, case", F32_NUMBA_CASES)
def test_rule_numba_float32(rule, case):
    _check(rule, case, jit=True, dtype=np.float32)


def family(rule):
    """The kind of rule an entry checks. The default test run keeps every rule on the Python backend and
    a sample of the other cases with at least one rule of each family (tests/conftest.py)."""
    expr, dom, shapes = ENTRIES[rule]
    name = rule.split(" ")[0]
    if name in COMPOSITES:
        return "composites"
    if set(dom) & set("qsm") or name.startswith(("np.linalg.", "rt.solve", "rt.svd", "rt.eigh", "rt.cholesky")):
        return "linear algebra"
    if shapes is MM or name in ("@", "np.outer", "np.inner", "np.vdot", "rt.kron", "rt.tensordot", "np.cross"):
        return "products"
    if name in INTERNAL or any(part in name for part in ("_grad", "_jvp", "_put", "_transpose", "_slope")):
        return "adjoint helpers"
    if shapes is E:
        return "elementwise"
    if shapes is S or "math." in expr:
        return "scalar (math module)"
    if shapes is B or name in ("np.where", "np.clip"):
        return "broadcasting"
    if shapes in (R2, AX) or name in ("rt.sum", "rt.logsumexp", "rt.cumsum", "rt.cumprod", "rt.sort"):
        return "reductions and scans"
    return "shapes, gathers and literals"


# ---- a primitive is one record: its facets (srcdiff/rules/__init__.py) ----------------------------------------
# Elementwise rules without a device template: the CUDA target declines a call of them, naming it
# (test_cuda_declines_by_name). Special functions with no closed form in CUDA's math library, and the
# functions of booleans and integers device code does not compute.
CUDA_DECLINED = {"np.float32", "rt.to_float32", "rt.digamma", "rt.trigamma", "rt.tetragamma", "rt.erfinv", "rt.ndtri", "rt.log_ndtr", "rt.mills_inverse", "np.round",
                 "np.rint", "np.around", "np.floor_divide"}
OPERATORS = {"+", "-", "*", "/", "**", "%", "@", "neg", "pos"}   # dims and CUDA read them from the syntax; kinds
# reads it through their records' law, ("operator", op)


def test_every_rule_has_every_facet():
    """Each record says, for each facet, what it is or that it has none: a kind law kinds knows (every record has
    one, "dynamic" where its kind is known at run time only; tests/test_kind_laws.py checks them against NumPy),
    a dims law dims knows, a device template (or a place in CUDA_DECLINED), an implementation its name denotes in
    generated code. NumPy ufuncs are elementwise by definition: their rules must say so (the drift this registry
    ends: np.cbrt was elementwise to dims but had no kind)."""
    from srcdiff.rules import SHAPE_LAWS, implementation, objects_of
    from srcdiff.transforms.kinds import LAWS
    problems = []
    for name, r in RULES.items():
        law = r.kind[0] if isinstance(r.kind, tuple) else r.kind
        if law not in LAWS:   # (no law is no state a record can be in: "dynamic" says its kind is known at run time)
            problems.append(f"{name}: kind law {law!r} is none of transforms/kind_laws.py's LAWS")
        if r.namespace:       # rules users register (srcdiff.adjoint): only templates, of a kind known at run time
            if law != "dynamic":
                problems.append(f"{name}: a user's rule whose kind law is {law!r}, not 'dynamic'")
            continue
        if name in OPERATORS and r.kind != ("operator", name):
            problems.append(f"{name}: an operator whose kind law is {r.kind!r}, not ('operator', {name!r})")
        if r.shape not in SHAPE_LAWS:
            problems.append(f"{name}: dims law {r.shape!r}")
        if name not in OPERATORS | {"abs_int", "builtin_sum"} and implementation(name) is None:
            problems.append(f"{name}: names nothing generated code can call (np / math / rt / builtins)")
        if any(isinstance(o, np.ufunc) and o.signature is None for o in objects_of(name)) and r.shape != "elementwise":
            problems.append(f"{name}: a NumPy ufunc not declared elementwise")
        if r.shape == "elementwise" and name not in OPERATORS:
            if r.cuda is None and name not in CUDA_DECLINED:
                problems.append(f"{name}: elementwise without a device template (or an entry in CUDA_DECLINED)")
        if r.cuda is not None and name in CUDA_DECLINED:
            problems.append(f"{name}: in CUDA_DECLINED but has a device template")
    assert not problems, "\n".join(problems)


def _samples(arity):
    import itertools
    return list(itertools.product((0.3, 0.7, 1.7, -0.4, 2.5), repeat=arity))[:40]


@pytest.mark.parametrize("name", sorted(n for n, r in RULES.items() if r.cuda is not None))
def test_device_template_computes_the_function(name):
    """A rule's device template, evaluated as Python on scalars (the CUDA lowering writes it into device code),
    gives what the function gives on the host."""
    import math
    from srcdiff.rules import implementation, template_arity
    r = RULES[name]
    fn = implementation(name)
    arity = template_arity(r.cuda)
    checked = 0
    for args in _samples(arity):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                want = float(fn(*args))
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
            if not np.isfinite(want):
                continue
            got = eval(r.cuda.format(*(repr(a) for a in args)), {"math": math})
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"{name}{args}: {r.cuda}")
        checked += 1
    assert checked, f"{name}: no sample point in its domain"


# Rules that jitted code calls in place of another (their records' `jit_as`): (the rule, the one it stands in for)
JIT_AS = {"np.tanh": "rt.tanh", "np.reshape": "rt.reshape", "np.clip": "rt.clip", "float": "rt.to_float",
          "math.fmod": "np.fmod", "np.float64": "rt.to_float", "np.float32": "rt.to_float32"}
JIT_AS_ARGS = {"np.reshape": lambda x: (x, (20, -1)), "np.clip": lambda x: (x, -3.0, x[::-1]),
               "float": lambda x: (x[3],), "np.float64": lambda x: (x[3],), "np.float32": lambda x: (x[3],),
               "math.fmod": lambda x: (float(x[3]), 1.5)}
# a math function routed to NumPy's (Numba has no math.fmod): its kind says it gives a Python float in the Python
# backend, NumPy's that it promotes its arguments; under Numba both are a float64 of two float64s, so only the kind
# differs (the Python backend never takes the route)
JIT_AS_KIND = {"math.fmod": ("float", "promote")}   # the arguments of those that take more than x


def test_jit_as_rules_stand_in_for_theirs():
    """A rule's `jit_as` names a rule with the same derivatives (templates), kind and dims laws, device template
    and parameters, whose implementation gives the same values (on the host: tests/test_products.py checks
    rt.tanh's Numba kernel against np.tanh to 4 ulp)."""
    import ast
    from srcdiff.rules import implementation, jit_routes
    assert jit_routes() == JIT_AS
    dump = lambda t: ast.dump(t) if isinstance(t, ast.AST) else t   # noqa: E731
    for name, to in JIT_AS.items():
        a, b = RULES[name], RULES[to]
        assert b.jit_as is None, f"{to}: routed on again"
        assert list(a.signature.parameters) == list(b.signature.parameters), name
        assert {p: dump(t) for p, t in a.vjp.items()} == {p: dump(t) for p, t in b.vjp.items()}, name
        kinds = JIT_AS_KIND.get(name, (b.kind, b.kind))
        assert dump(a.jvp) == dump(b.jvp) and (a.kind, a.shape, a.cuda) == (kinds[0], b.shape, b.cuda), name
        assert b.kind == kinds[1], name
        args = JIT_AS_ARGS.get(name, lambda x: (x,))(np.linspace(-25.0, 25.0, 400))
        np.testing.assert_allclose(implementation(to)(*args), implementation(name)(*args), rtol=1e-14, atol=0,
                                   err_msg=name)


# What the loop over a block's rows calls in place of a rule (their records' `row_as`; optimize/rowblocks.py)
ROW_AS = {"np.exp": "rt.exp", "math.exp": "rt.exp", "np.log": "rt.log", "math.log": "rt.log",
          "np.log1p": "rt.log1p", "math.log1p": "rt.log1p"}


def test_row_as_functions_give_the_rules_values():
    """A rule's `row_as` is a runtime function of one argument that gives the rule's values (in Python, NumPy's
    own; under Numba tests/test_rowmath.py checks them to 1 ulp)."""
    from srcdiff.rules import implementation, row_routes
    from srcdiff import runtime as rt
    assert row_routes() == ROW_AS
    for name, to in ROW_AS.items():
        assert to.startswith("rt.") and RULES[name].shape == "elementwise", name
        x = np.linspace(0.01, 20.0, 201)
        want = implementation(name)(x) if name.startswith("np.") else np.vectorize(implementation(name))(x)
        np.testing.assert_allclose(getattr(rt, to[3:])(x), want, rtol=4e-16, atol=0, err_msg=name)   # (libm's
        # and NumPy's differ by an ulp)


def test_tables_are_built_from_the_records():
    """kinds, dims, the elementwise fusion, the routing of jitted calls and the CUDA lowering hold no list of
    primitives of their own."""
    from srcdiff.cuda import common
    from srcdiff.rules import jit_routes, names_with
    from srcdiff.transforms import dims, kinds, products
    from srcdiff.transforms.optimize import fusion
    elementwise = names_with("elementwise")
    assert dims.ELEMENTWISE == elementwise and dims.SAME == names_with("same") | names_with("fill")
    assert kinds.ELEMENTWISE == elementwise
    assert fusion.ELEMENTWISE_CALLS <= elementwise and "np.cbrt" in fusion.ELEMENTWISE_CALLS
    assert products.ROUTES == jit_routes()
    device = {n for n, r in RULES.items() if r.cuda is not None}
    assert device <= common.ELEMENTWISE
    assert common.ELEMENTWISE - device <= {"abs", "max", "min"}   # builtins generated plumbing calls


@pytest.mark.parametrize("name", sorted(CUDA_DECLINED - {"rt.trigamma", "rt.tetragamma", "rt.mills_inverse",
                                                         "rt.to_float32"}))
def test_cuda_declines_by_name(name):
    """An elementwise rule without a device template: the CUDA target raises SrcdiffError naming the function as the
    user called it (`digamma(x)` of scipy.special: 'the call scipy.special.digamma(...)', not srcdiff's rt.digamma)."""
    pytest.importorskip("numba_cuda")
    expr, dom, shapes = ENTRIES.get(name) or ENTRIES.get(name.replace("rt.", "np.")) or (None, "r", None)
    expr = {"np.round": "np.round(x)", "np.rint": "np.rint(x)", "np.around": "np.around(x)", "np.isnan": "np.isnan(x)",
            "np.isinf": "np.isinf(x)", "np.isfinite": "np.isfinite(x)", "np.logical_and": "np.logical_and(x > 0, x < 1)",
            "np.logical_or": "np.logical_or(x > 0, x < 1)", "np.logical_not": "np.logical_not(x > 0)",
            "np.floor_divide": "np.floor_divide(x, 0.5)", "np.float32": "np.float32(x[0])"}.get(name, expr)
    f = getattr(source_module(f"cuda_declined_{_fname(name)}", HEADER + f"\ndef f(x):\n    return np.sum(x * {expr})\n"),
                "f")
    k = srcdiff.cuda.vmap(srcdiff.grad(f), in_axes=(0,))
    with pytest.raises(srcdiff.SrcdiffError, match=re.escape(name.split(".")[-1] + "(")) as info:
        k.ptx(np.linspace(0.2, 0.8, 8 * 3).reshape(8, 3), cc=(9, 0))
    assert "rt." not in str(info.value).split("\n")[0], str(info.value)
