"""README.md's "What it handles" -> **Rules** bullet (its functions, **Composites**, **Arrays from literals** and
**Casts**) as calls the random-program generator (tests/fuzzgen.py, feature 'rules') writes, and the parse of that
bullet that tests/test_fuzz.py test_readme_rules_are_generated checks the generator against.

A rule that is right alone (tests/test_rules_table.py checks each) can still be wrong inside a loop with in-place
writes, under Numba, in a checkpointed loop or in forward mode: only random programs that call it there can tell.
`call(gen, kind, env, d)` is one more way for the generator to write an expression of kind s (a float), v (shape
(N,)) or m (shape (2, N)): a README function called on expressions the generator draws (`gen.expr`, so they read
loop variables, buffers' elements, helpers, closures ...), and `call` is used wherever such an expression may
stand (loops, branches, helpers, the right-hand sides of in-place writes, sums over comprehensions).

Each entry of RULES is (kinds it can stand for [and the least N it needs], template); a template's fields are the
arguments, drawn by kind:
    {e} {f} {e2}   an expression of the kind being built (elementwise functions: any of s, v, m)
    {s} {v} {m}    a float, a vector (N,), a matrix (2, N) (digits: another one, {v2})
    {p}            an expression of shape (2,)
    {Pe} {Ps} ..   positive (1.5 + square), of the kind built / a float / ...; {Ue} {Us} ..: in (-0.9, 0.9)
    {Q}            a well-conditioned 2x2 matrix (2 I + 0.3 tanh of a matrix's first columns: diagonally dominant)
    {S}            a symmetric positive definite 2x2 matrix (M M^T + 2 I: eigenvalues at least 2)
    {W}            a (2, N) matrix with distinct nonzero singular values (about 3 and 1, moved at most 0.85 by
                   0.3 tanh of a matrix), for svd and pinv: their derivatives need those (a rank-1 input such as
                   c * np.ones((2, N)) has none: fuzz seed 440347 was "wrong" there, as any AD would be)
    {N} {i} {r}    N, an index into a length-N axis, a row (0 or 1); {perm}: a permutation of range(N)
The same field twice is the same expression.  Arguments stay in the function's smooth domain by construction, as
fuzzgen's conventions do (log of 1.5 + square, arcsin of 0.9 tanh, gamma of 1.5 + sin squared, norms and standard
deviations of arrays offset by a range so that they are never 0); kinks and ties (abs, sort, max, median, clip,
floor, %) are points where the finite-difference oracle finds its two step sizes disagree and skips, while the
other oracles (jvp vs vjp, Numba vs Python, checkpointed vs taped) still run there.

PYTHON_ONLY_RULES are the README's forms that Numba does not run by design (`x @ y` of stacks of matrices:
`jit=False` only): feature 'stackmatmul', in fuzzgen.PYTHON_ONLY.
"""
from __future__ import annotations

import ast
import copy
import math
import operator
import re
import string

import numpy as np
import scipy.linalg
import scipy.special

E = "svm"     # an elementwise function: stands for any kind
OFF_V = "np.arange({N}) * 0.5"             # a distinct offset per element: a sum with it is never all equal / 0
OFF_M = "np.array([[0.0], [1.0]])"         # a different offset per row

RULES = [
    # ---- arithmetic: NumPy's function forms, pow, the operator module -----------------------------------------
    (E, "np.add({e}, {f})"), (E, "np.subtract({e}, {f})"), (E, "np.multiply({e}, {f})"),
    (E, "np.divide({e}, {Pe})"), (E, "np.true_divide({e}, {Pe})"), (E, "np.power({Pe}, {Ue})"),
    (E, "np.power({e}, 2)"), (E, "pow({Pe}, 0.5)"), (E, "{Pe} ** {Ue}"), (E, "np.negative({e})"),
    (E, "np.positive({e})"), (E, "operator.add({e}, {f})"), (E, "operator.sub({e}, {f})"),
    (E, "operator.mul({e}, {f})"), (E, "operator.truediv({e}, {Pe})"), (E, "operator.pow({Pe}, {Ue})"),
    (E, "operator.neg({e})"), (E, "operator.pos({e})"), (E, "operator.mod({e}, {Pe})"),
    ("s", "np.matmul({v}, {v2})"), ("v", "np.matmul({p}, {m})"), ("m", "np.matmul({Q}, {m})"),
    ("s", "operator.matmul({v}, {v2})"), ("v", "operator.matmul({p}, {m})"),
    # ---- elementwise functions ----------------------------------------------------------------------------
    (E, "np.exp(np.tanh({e}))"), (E, "np.exp2(np.tanh({e}))"), (E, "np.log({Pe})"), (E, "np.log2({Pe})"),
    (E, "np.log10({Pe})"), (E, "np.log1p(np.square({e}))"), (E, "np.expm1(np.tanh({e}))"), (E, "np.sqrt({Pe})"),
    (E, "np.cbrt({Pe})"), (E, "np.cbrt(-{Pe})"), (E, "np.reciprocal({Pe})"), (E, "np.square({e})"),
    (E, "np.abs({e})"), (E, "np.fabs({e})"), (E, "abs({e})"),
    (E, "np.sin({e})"), (E, "np.cos({e})"), (E, "np.tan({Ue})"), (E, "np.arcsin({Ue})"), (E, "np.arccos({Ue})"),
    (E, "np.arctan({e})"), (E, "np.sinh(2.0 * np.tanh({e}))"), (E, "np.cosh(2.0 * np.tanh({e}))"),
    (E, "np.tanh({e})"), (E, "np.arcsinh({e})"), (E, "np.arccosh({Pe})"), (E, "np.arctanh({Ue})"),
    (E, "np.arctan2({e}, {Pe})"), (E, "np.arctan2({e}, {f})"), (E, "np.hypot({e}, {Pe})"),
    (E, "np.copysign({e}, {f})"), (E, "np.logaddexp({e}, {f})"), (E, "np.logaddexp2({e}, {f})"),
    (E, "np.deg2rad({e})"), (E, "np.rad2deg(np.tanh({e}))"), (E, "np.sinc({e})"),
    (E, "np.minimum({e}, {f})"), (E, "np.maximum({e}, {f})"), (E, "np.where({f} > 0.0, {e}, {e2})"),
    (E, "np.clip({e}, -0.5, 0.5)"), (E, "np.clip({e}, None, 0.5)"), (E, "np.clip({e}, -0.5, None)"),
    (E, "np.clip({e}, -1.0 - np.square({f}), 1.0 + np.square({e2}))"), (E, "np.clip(a={e}, min=-0.5, max=0.5)"),
    ("vm", "({e}).clip(-0.5, 0.5)"),
    (E, "{e} % 1.5"), (E, "np.mod({e}, {Pe})"), (E, "np.remainder({e}, 1.5)"), (E, "np.fmod({e}, {Pe})"),
    (E, "np.exp(np.tanh({e}), out=None)"),
    # scipy.special
    (E, "scipy.special.expit({e})"), (E, "scipy.special.log_expit({e})"),
    (E, "scipy.special.gamma(1.5 + np.square(np.sin({e})))"), (E, "scipy.special.gammaln({Pe})"),
    (E, "scipy.special.digamma({Pe})"), (E, "scipy.special.erf({e})"), (E, "scipy.special.erfc({e})"),
    (E, "scipy.special.ndtr({e})"), (E, "scipy.special.log_ndtr({e})"), (E, "scipy.special.log_ndtr({e} - 25.0)"),
    (E, "scipy.special.xlogy({e}, {Pe})"), (E, "scipy.special.xlog1py({e}, np.square({f}))"),
    (E, "scipy.special.erfinv({Ue})"), (E, "scipy.special.ndtri(0.5 + 0.45 * np.tanh({e}))"),
    (E, "scipy.special.betaln({Pe}, {Pe2})"),
    # the math module's versions (floats)
    ("s", "math.exp(math.tanh({s}))"), ("s", "math.log({Ps})"), ("s", "math.log({Ps}, 3.0)"),
    ("s", "math.log(2.0, {Ps})"), ("s", "math.log2({Ps})"), ("s", "math.log10({Ps})"),
    ("s", "math.log1p({s} * {s})"), ("s", "math.expm1(math.tanh({s}))"), ("s", "math.sqrt({Ps})"),
    ("s", "math.fabs({s})"), ("s", "math.sin({s})"), ("s", "math.cos({s})"), ("s", "math.tan({Us})"),
    ("s", "math.asin({Us})"), ("s", "math.acos({Us})"), ("s", "math.atan({s})"),
    ("s", "math.sinh(2.0 * math.tanh({s}))"), ("s", "math.cosh(2.0 * math.tanh({s}))"), ("s", "math.tanh({s})"),
    ("s", "math.asinh({s})"), ("s", "math.acosh({Ps})"), ("s", "math.atanh({Us})"),
    ("s", "math.atan2({s}, {Ps})"), ("s", "math.hypot({s}, {Ps})"), ("s", "math.copysign({s}, {s2})"),
    ("s", "math.radians({s})"), ("s", "math.degrees(math.tanh({s}))"), ("s", "math.fmod({s}, {Ps})"),
    ("s", "math.pow({Ps}, 0.5)"), ("s", "math.gamma(1.5 + math.sin({s}) ** 2)"), ("s", "math.lgamma({Ps})"),
    ("s", "math.erf({s})"), ("s", "math.erfc({s})"),
    # ---- reductions: axis (an int or a tuple), keepdims, methods ----------------------------------------------
    ("s", "np.sum({m}, axis=(0, 1))"), ("s", "np.mean({m}, axis=(1, 0))"), ("s", "np.prod({v})"),
    ("s", "np.prod({m})"), ("s", "np.min({v})"), ("s", "np.min({m})"), ("s", "np.max({m}, axis=(0, 1))"),
    ("s", "scipy.special.logsumexp({m}, axis=(0, 1))"), ("s", "({m}).sum()"), ("s", "({v}).prod()"),
    ("s", "({m}).min()"), ("s", "np.sum({v}, where=True)"),
    ("v", "np.min({m}, axis=0)"), ("v", "np.prod({m}, axis=0)"), ("v", "np.mean({m}, 0)"),
    ("v", "np.sum({m}, axis=-2)"), ("v", "np.max({m}, axis=0, keepdims=True)[0]"), ("v", "({m}).min(axis=0)"),
    ("v", "scipy.special.logsumexp({m}, axis=0)"),
    ("m", "np.sum({m}, axis=1, keepdims=True) * {m2}"), ("m", "{m} - np.max({m}, axis=0, keepdims=True)"),
    ("m", "{m} / np.mean({Pm}, axis=1, keepdims=True)"),
    ("m", "{m} - scipy.special.logsumexp({m}, axis=1, keepdims=True)"),
    ("m", "np.min({m}, axis=(0, 1), keepdims=True) * {m2}"), ("m", "np.prod({m}, axis=0, keepdims=True) + {m2}"),
    ("m", "np.sum({m}, keepdims=True, axis=0) + {m2}"),
    # cumulative sums and products, sort
    ("v", "np.cumsum({v})"), ("v", "np.cumsum({m})[{N}:]"), ("v", "({v}).cumsum()"),
    ("m", "np.cumsum({m}, axis=1)"), ("m", "np.cumsum({m}, axis=0)"), ("m", "np.cumsum({m}, axis=-1, dtype=None)"),
    ("v", "np.cumprod({v})"), ("v", "np.cumprod({v} * ({v2} > 0.0))"), ("m", "np.cumprod({m}, axis=1)"),
    ("m", "({m}).cumprod(axis=0)"),
    ("v", "np.sort({v})"), ("v", "np.sort({m}, axis=None)[:{N}]"), ("m", "np.sort({m}, axis=0)"),
    ("m", "np.sort({m})"), ("s", "np.sort({v})[{i}]"),
    ("v", "np.linspace({s}, {s2}, {N})"), ("s", "np.linspace({s}, 1.0, 5)[3]"),
    ("m", "np.linspace({s}, {s2}, 2 * {N}).reshape((2, {N}))"),
    # ---- products and linear algebra --------------------------------------------------------------------------
    ("s", "{v} @ {v2}"), ("s", "np.inner({v}, {v2})"), ("s", "np.vdot({m}, {m2})"), ("s", "np.tensordot({m}, {m2})"),
    ("s", "np.tensordot({m}, {m2}, axes=2)"), ("s", "np.dot({v}, {v2})"),
    ("v", "np.dot({p}, {m})"), ("v", "{p} @ {m}"), ("v", "({m}).T @ {p}"), ("v", "np.inner({p}, ({m}).T)"),
    ("v", "np.tensordot({p}, {m}, axes=1)"), ("v", "np.swapaxes({m}, 0, 1) @ {p}"), ("v", "({m}).dot({v})[0] * {v}"),
    ("m", "{Q} @ {m}"), ("m", "np.dot({Q}, {m})"), ("m", "np.outer({p}, {v})"),
    ("m", "np.tensordot({Q}, {m}, axes=1)"),
    ("v", "np.kron({p}, {v})[:{N}]"), ("m", "np.kron({p}[:, None], {v}[None, :])"), ("m", "np.kron({Q}, {v})[:, :{N}]"),
    ("s", "np.kron({s}, {s2})"),
    ("v", "np.einsum('i,ij->j', {p}, {m})"), ("v", "np.einsum('ij->j', {m})"), ("s", "np.einsum('ij,ij->', {m}, {m2})"),
    ("s", "np.einsum('i,i', {v}, {v2}) + np.einsum('i,i', ({v})[:1], {v2})"), ("m", "np.einsum('ij,jk->ik', {Q}, {m})"),
    ("m", "np.einsum('i,j->ij', {p}, {v})"),
    ("m", "np.linalg.inv({Q}) @ {m}"), ("v", "({p} @ np.linalg.inv({Q})) @ {m}"), ("s", "np.linalg.det({Q})"),
    ("s", "np.linalg.slogdet({Q})[1]"), ("s", "np.linalg.slogdet({Q})[0] * {s}"),
    ("m", "np.linalg.solve({Q}, {m})"), ("v", "np.linalg.solve({Q}, {p}) @ {m}"),
    ("m", "np.linalg.cholesky({S}) @ {m}"),
    ("s", "np.linalg.eigvalsh({S})[{r}]"), ("s", "np.sum(np.linalg.eigh({S})[0])"),
    ("s", "np.sum(np.linalg.eigh({S})[1] ** 2 * {Q})"), ("m", "(np.linalg.eigh({S})[1] ** 2) @ {m}"),
    ("s", "np.linalg.svd({W}, compute_uv=False)[{r}]"), ("s", "np.sum(np.linalg.svd({W}, full_matrices=False)[1])"),
    ("m", "np.linalg.svd({W}, full_matrices=False)[2] ** 2"), ("m", "np.linalg.pinv({W}).T"),
    ("m", "scipy.linalg.solve_triangular(np.triu({Q}), {m})"),
    ("m", "scipy.linalg.solve_triangular(np.tril({Q}), {m}, lower=True, trans=1)"),
    ("v", "scipy.linalg.solve_triangular(np.tril({Q}), {p}, lower=True) @ {m}"),
    ("m", "np.linalg.matrix_power({Q}, 2) @ {m}"), ("m", "np.linalg.matrix_power({Q}, -1) @ {m}"),
    ("s", "np.trace({Q})"), ("s", "np.trace({m}, offset=1)"), ("s", "np.sum(np.diag({m}, k=1))"),
    ("s", "np.sum(np.diag({m}))"), ("v", "np.diag(np.outer({v}, {v2}))"), ("m", "np.diag({v})[:2]"),
    ("m", "np.diag({v}, k=1)[:2, :{N}]"), ("s", "np.sum(np.diagonal({m}) * {p})"), ("s", "np.sum(np.diagonal({m}, 1))"),
    ("s", "np.sum(np.diagonal({Q}, offset=-1))"), ("v", "np.diagonal(np.outer({v}, {v2}))"),
    ("s", "np.sum(({m}).diagonal(1) ** 2)"), ("m", "np.tril({m})"), ("m", "np.triu({m}, 1)"), ("m", "np.tril({m}, k=-1)"),
    # norms, statistics
    ("s", "np.linalg.norm({v} + " + OFF_V + ")"), ("s", "np.linalg.norm({m} + " + OFF_M + ", 'fro')"),
    # (an order whose meaning depends on the rank takes axis=: README says it is declined without)
    ("s", "np.linalg.norm({v}, 1, 0)"), ("s", "np.linalg.norm({v}, np.inf, axis=0)"),
    ("s", "np.linalg.norm({v}, ord=3, axis=-1)"), ("v", "np.linalg.norm({m}, -np.inf, axis=0)"),
    ("s", "np.linalg.norm(({s}, {s2}, 1.0))"), ("v", "np.linalg.norm({m} + " + OFF_M + ", axis=0)"),
    ("m", "np.linalg.norm({m} + " + OFF_V + ", axis=1, keepdims=True) * {m2}"),
    ("s", "np.var({v}) + np.std(({v})[:1])"), ("s", "np.std({v} + " + OFF_V + ", ddof=1)"), ("s", "np.var({m}, ddof=1)"),
    ("v", "np.std({m} + " + OFF_M + ", axis=0)"), ("v", "np.var({m}, axis=0, ddof=1)"),
    ("m", "({m}).var(axis=1, keepdims=True) * {m2}"),
    ("m", "np.std({m} + " + OFF_V + ", axis=-1, keepdims=True) + {m2}"),
    ("s", "np.average({v})"), ("s", "np.average({v}, weights={Pv})"), ("v", "np.average({m}, axis=0)"),
    ("m", "np.average({m}, weights={Pm}) * {m2}"),   # (weights with axis=: declined, tests/test_errors.py)
    ("s", "np.ptp({v})"), ("v", "np.ptp({m}, axis=0)"), ("m", "np.ptp({m}, axis=1, keepdims=True) * {m2}"),
    ("s", "np.nansum({v})"), ("s", "np.nansum(np.where({v2} > 1.0, np.nan, {v}))"), ("v", "np.nanmean({m}, axis=0)"),
    ("s", "np.nanmean({m})"),
    ("s", "np.trapezoid({v})"), ("s", "np.trapezoid({v}, {v2})"), ("v", "np.trapezoid({m}, axis=0)"),
    ("v", "np.trapezoid({m}, dx=0.5, axis=0)"),
    ("s", "np.median({v})"), ("v", "np.median({m}, axis=0)"), ("m", "np.median({m}, axis=1, keepdims=True) + {m2}"),
    ("s", "np.polyval([{s}, 2.0, {s2}], {s3})"), ("v", "np.polyval([{s}, 0.5], {v})"), ("v", "np.polyval(({s},), {v})"),
    ("s", "np.cov({v})"), ("m", "np.cov({m}) @ {m2}"), ("s", "np.sum(np.cov({v}, {v2}))"),
    ("m3", "np.corrcoef({m} + " + OFF_V + ") @ {m2}"),   # (of two observations a correlation is +-1: N >= 3)
    ("s", "np.sum(np.diff({v}))"), ("s", "np.sum(np.diff({v}, 2)) + np.sum(np.diff(({v})[:1], 2))"), ("v", "np.diff({m}, axis=0)[0]"),
    ("m", "np.diff({m}, axis=0) * {m2}"),
    ("v", "scipy.special.softmax({v})"), ("v", "scipy.special.log_softmax({v})"),
    ("m", "scipy.special.softmax({m}, axis=0)"), ("m", "scipy.special.log_softmax({m}, axis=1)"),
    ("s", "scipy.special.softmax({v})[{i}]"),
    # ---- shapes, joins, gathers -----------------------------------------------------------------------------
    ("v", "np.flip({v})"), ("m", "np.fliplr({m})"), ("m", "np.flipud({m})"), ("m", "np.flip({m}, axis=1)"),
    ("m", "np.flip({m})"),
    ("v", "np.append({v}[:1], {v2}[1:])"), ("v", "np.append({v}[1:], {s})"),
    ("m", "np.append({v}[None, :], {v2}[None, :], axis=0)"),
    ("m", "np.meshgrid({v}, {p})[0]"), ("m", "np.meshgrid({p}, {v}, indexing='ij')[1] * {m}"),
    ("v2", "np.gradient({v})"), ("v2", "np.gradient({v}, 0.5)"), ("m2", "np.gradient({m}, 2.0, axis=1)"),
    ("m", "np.gradient({m}, axis=0)"),
    ("v", "np.where(np.isclose({v}, {v2}, atol=0.1), {v}, {v2})"),
    ("s", "({s} if np.allclose({v}, {v2}, atol=0.1) else {s2})"),
    ("m", "np.vstack(({v}, {v2}))"), ("m", "np.stack(({v}, {v2}))"), ("m", "np.stack([{v}, {v2}], axis=0)"),
    ("m", "np.column_stack(({v}, {v2})).T"), ("m", "np.concatenate((({m})[:1], ({m2})[1:]), axis=0)"),
    ("m", "np.concatenate((({m})[:, :1], ({m2})[:, 1:]), axis=1)"), ("v", "np.hstack((({v})[0], ({v2})[1:]))"),
    ("v", "np.concatenate(([{s}, {s2}], {v}))[:{N}]"), ("v", "np.stack(({v}, {v2}), axis=1)[:, {r}]"),
    ("v", "np.full({N}, {s})"), ("v", "np.full({N}, {s}, dtype=float)"), ("m", "np.full((2, {N}), {s})"),
    ("m", "np.full_like({m}, {s})"),
    ("v", "np.roll({v}, 1)"), ("v", "np.roll({v}, -1, axis=0)"), ("m", "np.roll({m}, 1, axis=1)"),
    ("m", "np.roll({m}, (1, 1), (0, 1))"), ("m", "np.tile({v}, (2, 1))"), ("v", "np.tile({p}, {N})[:{N}]"),
    ("v", "np.repeat({p}, {N})[:{N}]"), ("m", "np.repeat(({m})[:1], 2, axis=0)"),
    ("s", "np.sum(np.cross(np.concatenate(({v}, {v2}))[:3], np.concatenate(({v2}, {v}))[1:4]))"),
    ("m", "np.broadcast_to({v}, (2, {N}))"), ("m", "np.broadcast_to({s}, (2, {N}))"),
    ("m", "np.reshape(np.concatenate(({v}, {v2})), (2, {N}))"), ("m", "np.concatenate(({v}, {v2})).reshape((2, {N}))"),
    ("m", "np.transpose(np.outer({v}, {p}))"), ("m", "np.moveaxis(np.outer({v}, {p}), 0, -1)"),
    ("m", "np.swapaxes(np.outer({v}, {p}), 1, 0)"),
    ("m", "np.expand_dims({v}, 0) * {m}"), ("m", "np.atleast_2d({v}) * {m}"), ("m", "np.squeeze(({m})[None], axis=0)"),
    ("v", "np.ravel({m})[{N}:]"), ("v", "np.reshape({m}, (2 * {N},))[:{N}]"), ("v", "np.squeeze(({m})[:1], axis=0)"),
    ("v", "np.atleast_1d({v})"), ("s", "np.atleast_1d({s})[0]"), ("v", "({m}).T[:, {r}]"),
    ("v", "np.transpose({m})[:, {r}]"), ("v", "np.take({v}, {perm})"), ("v", "np.take({m}, {perm}, axis=1)[{r}]"),
    ("s", "np.take({v}, {i})"), ("s", "({m}).take({i})"),
    ("v", "np.interp({v}, np.cumsum(0.2 + np.square({v2})) - 1.0, {v3})"),
    ("s", "np.interp({s}, np.cumsum(0.2 + np.square({v2})) - 1.0, {v3})"),
    ("m", "np.interp({m}, np.cumsum(0.2 + np.square({v2})) - 1.0, {v3})"),
    # None (np.newaxis) in an index
    ("m", "({m})[..., None][:, :, 0]"), ("v", "({v})[..., None][:, 0]"), ("s", "np.sum(({m})[..., None] * 0.5)"), ("m", "({p})[:, None] * {m}"), ("m", "({m})[[1, 0], None][:, 0]"),
    ("s", "np.sum(({m})[:, None, 1])"), ("v", "({v})[None][0]"), ("m", "{m} * ({v})[np.newaxis]"),
    # ---- arrays from literals -----------------------------------------------------------------------------
    ("s", "np.sum([1.0, {s} * {s}])"), ("s", "max([{s}, {s2}])"), ("s", "min([{s}, {s2}])"), ("s", "max({s}, {s2})"),
    ("s", "min({s}, {s2}, {s3})"), ("s", "max({s}, {s2}, {s3})"), ("s", "min([{s}, {s2}, 0.5 * {s3}])"),
    ("s", "max({s}, {s2}, {s3}, -0.5)"),
    ("s", "np.mean(({s}, 3.0 * {s2}))"), ("s", "np.asarray(({s}, {s2}))[{r}]"), ("s", "sum([{s}, {s2}])"),
    ("m", "np.array([{v}, {v2} + 2.0])"), ("m", "np.asarray(({v}, {v2}))"),
    ("m", "np.array(({p}, {p}), dtype=float).T[:, :1] * {m}"),
    # ---- casts and functions with no derivative -----------------------------------------------------------
    ("v", "({v}).astype({v2}.dtype)"), ("v", "({v}).astype(int) * {v2}"), ("v", "({v}).astype(np.int64) + {v2}"),
    ("v", "({v}).astype('int32') * {v2}"), ("v", "({v} > 0.0).astype(bool) * {v2}"),
    ("v", "np.array({v}, dtype=float)"), ("v", "np.asarray({v}, dtype=np.float64)"),
    ("v", "np.array({v}, dtype=int) * {v2}"),
    ("m", "({m}).astype(float)"), ("s", "int({s}) * {s2}"), ("s", "round({s}) + {s2}"),
    ("s", "float({s}) * {s2}"), ("s", "np.sum({v}).item() * {s}"), ("s", "np.dot({v}, {v2}).item()"),
    (E, "np.floor({e}) * 0.5 + {f}"), (E, "np.ceil({e}) * {f}"), (E, "np.round({e}) + {f}"),
    (E, "np.around({e}) * {f}"),
    (E, "np.rint({e}) + {f}"), (E, "np.trunc({e}) * {f}"), (E, "np.fix({e}) + {f}"), (E, "np.sign({e}) * {f}"),
    ("s", "({v})[np.argmax({v2})]"), ("v", "np.zeros({N}) + {v}"), ("v", "np.zeros(np.shape({v})) + {v}"),
    ("m", "np.zeros((2, {N})) + {m}"),
]

# forms Numba does not run by design: generated in Python-only programs (feature 'stackmatmul')
PYTHON_ONLY_RULES = [
    ("m", "(np.stack(({Q}, {Q2})) @ {m})[{r}]"),
    ("s", "np.sum(np.stack(({m}, {m2})) @ np.stack((({m2}).T, ({m}).T)))"),
]
# ... as they read in a program's text (a form drawn for a candidate expression a pick then left out is not there)
PYTHON_ONLY_TEXT = re.compile(r"np\.stack\(\(.*\)\) @ ")

IMPORTS = {"operator.": "import operator", "scipy.linalg.": "import scipy.linalg",
           "scipy.special.": "import scipy.special", "copy.": "import copy",
           "collections.": "import collections"}


def imports(source: str) -> list:
    """The import lines a program's calls need (besides fuzzgen's math, numpy and logsumexp)."""
    return [line for prefix, line in IMPORTS.items() if re.search(rf"\b{re.escape(prefix)}", source)]


def _fields(template):
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def call(gen, kind: str, env: dict, d: int) -> str:
    """A README rule's call of kind `kind` (s, v or m), its arguments drawn by `gen` at depth `d`."""
    rules = RULES + (PYTHON_ONLY_RULES if gen.has("stackmatmul") else [])
    # (kinds, then the least N the template takes where it needs more than 2)
    table = [t for k, t in rules if kind in k.rstrip("0123456789") and gen.N >= int(k.lstrip("svm") or 2)]
    template = gen.pick(table)
    gen.python_only = gen.python_only or template in {t for _, t in PYTHON_ONLY_RULES}
    args, first = {}, True
    for field in _fields(template):
        if field not in args:
            args[field] = _arg(gen, field, kind, env, d if first else max(d - 1, 0))
            first = first and field in ("N", "i", "r", "perm")
    return "(" + template.format(**args) + ")"


def _arg(gen, field, kind, env, d):
    base = field.rstrip("0123456789")
    if base == "N":
        return str(gen.N)
    if base == "i":
        return str(gen.choose(gen.N))
    if base == "r":
        return str(gen.choose(2))
    if base == "perm":
        perm = list(range(gen.N))
        for j in range(gen.N - 1, 0, -1):
            k = gen.choose(j + 1)
            perm[j], perm[k] = perm[k], perm[j]
        return str(perm)
    if base in ("e", "f"):
        return gen.expr(kind, env, d)
    if base in ("s", "v", "m"):
        return gen.expr(base, env, d)
    if base == "p":
        return gen.pair(env, d)
    if base == "Q":
        return f"(2.0 * np.eye(2) + 0.3 * np.tanh(({gen.expr('m', env, d)})[:, :2]))"
    if base == "W":
        return f"(np.eye(2, {gen.N}) * np.array([[3.0], [1.0]]) + 0.3 * np.tanh({gen.expr('m', env, d)}))"
    if base == "S":
        m = gen.expr("m", env, d)
        return f"(({m}) @ ({m}).T + 2.0 * np.eye(2))"
    k = kind if base[1] == "e" else base[1]
    if base[0] == "P":
        return f"(1.5 + np.square({gen.expr(k, env, d)}))"
    if base[0] == "U":
        return f"(0.9 * np.tanh({gen.expr(k, env, d)}))"
    raise AssertionError(field)


# ---- the README's Rules bullet, parsed -------------------------------------------------------------------------
def rules_bullet(text: str) -> str:
    """The bullet "- **Rules** ..." of README's "What it handles", joined into one line."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("- **Rules**"))
    out = [lines[start]]
    for l in lines[start + 1:]:
        if l.startswith("- ") or not l.strip():
            break
        out.append(l)
    return " ".join(l.strip() for l in out)


# the modules a dotted README name may live in, in the order a bare name is looked up
MODULES = {"np": np, "np.linalg": np.linalg, "scipy.special": scipy.special, "scipy.linalg": scipy.linalg,
           "math": math, "operator": operator, "copy": copy}
_IDENT = re.compile(r"^[A-Za-z_][\w.]*$")
# bare names whose module is not the one lookup would find
RESOLVE = {"pow": "pow"}   # the builtin (NumPy 2 has an np.pow too): README lists it with np.power


def _exists(dotted):
    mod, _, attr = dotted.rpartition(".")
    return mod in MODULES and hasattr(MODULES[mod], attr)


def readme_rule_names(text: str) -> tuple:
    """(names, forms) of the Rules bullet: `names` the functions its backticked spans list, resolved to a
    dotted name ("np.linalg.det" for `det` after `np.linalg.inv`; a bare name after a lone module span,
    `scipy.special` `expit ...`, is that module's), or the span itself where no module has it; `forms` the spans
    that are not lists of names (`x[..., None]`, `axis=`, `np.clip(a=x, min=lo, max=hi)`), plus the phrases of
    PHRASES found in the bullet."""
    body = rules_bullet(text)
    names, forms = [], []
    pending, last = None, "np"
    for span in re.findall(r"`([^`]*)`", body):
        tokens = span.split()
        if (span in FORMS or span in EXCLUDED or not tokens
                or not all(_IDENT.match(t) or t in ("@", "%") for t in tokens)):
            forms.append(span)
            continue
        if span in MODULES and len(tokens) == 1:
            forms.append(span)          # a module named alone: its names follow in the next span
            pending = span
            continue
        prefix = pending
        pending = None
        for t in tokens:
            if t in ("@", "%"):
                forms.append(t)
                continue
            if "." in t and t.rpartition(".")[0] in MODULES:
                prefix = last = t.rpartition(".")[0]
                names.append(t)
                continue
            if t in RESOLVE:
                names.append(RESOLVE[t])
                continue
            order = [m for m in (prefix, "np", last, "scipy.special", "math") if m]
            names.append(next((f"{m}.{t}" for m in order if _exists(f"{m}.{t}")), t))
    forms += [p for p in PHRASES if p in body]
    return names, forms


# phrases of the bullet that name functions without backticks: the names they stand for
_TRIG = ["sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh"]
_MATH = ["exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "fabs", "sin", "cos", "tan", "asin", "acos", "atan",
         "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "atan2", "hypot", "copysign", "radians", "degrees"]
PHRASES = {
    "the trigonometric and hyperbolic functions and their inverses": [f"np.{n}" for n in _TRIG],
    "(NumPy and `math` versions": [f"math.{n}" for n in _MATH],
    "the `operator` module's functions": [f"operator.{n}" for n in ("add", "sub", "mul", "truediv", "pow", "mod",
                                                                       "matmul", "neg", "pos")],
}


# ---- what a generated program uses ----------------------------------------------------------------------------
def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


ALIASES = {"logsumexp": "scipy.special.logsumexp"}   # fuzzgen's `from scipy.special import logsumexp`


def used(source: str) -> set:
    """What a program uses, as the keys FORMS and names are checked against: called dotted names
    ("np.linalg.det", "max"), "name/k" for a call with k positional arguments, "name:kw" for each keyword,
    ".method" for method calls, "name[list]"/"name(tuple)" for a literal list/tuple argument, "op:@" ... for
    operators, and the source text itself under "text:" (for FORMS' regexes)."""
    tree = ast.parse(source)
    out = {"text:" + source}
    tuples = {n.targets[0].id for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
              and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Tuple)}
    lists = {n.targets[0].id for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.List) and n.value.elts}
    if lists:
        out.add("name bound to a list literal")    # terms = [a, b]
    for n in ast.walk(tree):
        if isinstance(n, (ast.Assign, ast.AugAssign)):
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
                if not isinstance(t, ast.Subscript):
                    continue
                if isinstance(n.value, (ast.Tuple, ast.List)):
                    out.add("write:literal")       # traj[i] = (p, v)
                if isinstance(n.value, ast.Name) and n.value.id in tuples:
                    out.add("write:tuple name")    # traj[i] = state
                if isinstance(n, ast.AugAssign) and _mask_beside(t.slice):
                    out.add("augwrite:mask beside an index")   # p[hit, 1] *= -0.9
        if isinstance(n, ast.Subscript) and _mask_beside(n.slice):
            out.add("index:mask beside an index")
        if isinstance(n, ast.Call):
            name = _dotted(n.func)
            if isinstance(n.func, ast.Attribute) and (name is None or name.split(".")[0] not in
                                                      ("np", "math", "scipy", "operator")):
                out.add("." + n.func.attr)
            if name is None:
                continue
            name = ALIASES.get(name, name)
            out |= {name, f"{name}/{len(n.args)}"} | {f"{name}:{k.arg}" for k in n.keywords}
            for a in n.args:
                if isinstance(a, ast.Name) and a.id in tuples:
                    out.add(f"{name}(name of a tuple)")
                if isinstance(a, ast.Name) and a.id in lists:
                    out.add(f"{name}(name of a list)")
                if isinstance(a, ast.List):
                    out |= {f"{name}[list]", f"{name}[list of {min(len(a.elts), 3)}+]"}
                if isinstance(a, ast.Tuple):
                    out.add(f"{name}(tuple)")
                    if any(isinstance(e, ast.List) for e in a.elts):
                        out.add(f"{name}(tuple with a list)")
        elif isinstance(n, ast.BinOp):
            out.add(f"op:{type(n.op).__name__}")
            if isinstance(n.op, ast.Pow) and not isinstance(n.right, ast.Constant):
                out.add("op:Pow by a value")
    return out


def _mask_beside(sl) -> bool:
    """An index of a 1-D boolean mask (a comparison) beside an integer or a slice: p[hit, 1], M[0, v > t]."""
    return (isinstance(sl, ast.Tuple) and any(isinstance(e, ast.Compare) for e in sl.elts)
            and any(not isinstance(e, ast.Compare) for e in sl.elts))


def _text(pattern):
    return lambda u: any(re.search(pattern, k) for k in u if k.startswith("text:"))


def _has(*keys):
    return lambda u: all(k in u for k in keys)


# spans that are forms rather than names: what each looks like in a program
FORMS = {
    "None": _text(r"\[[^\[\]]*\bNone\b"),
    "x[..., None]": _text(r"\[\.\.\., None\]"),
    "x[idx, None]": _text(r"\[\[[\d, ]+\], None\]"),
    "x[:, None, 1]": _text(r"\[:, None, \d\]"),
    "axis": _text(r"\baxis="), "axis=": _text(r"\baxis="), "axis=k": _text(r"\baxis="),
    "keepdims": _text(r"\bkeepdims=True"),
    "ddof": _text(r"\bddof=\d"), "offset=": _text(r"\boffset=\d"), "k=": _text(r"\bk=-?\d"),
    "compute_uv=False": _text(r"\bcompute_uv=False"),
    "M[rows, cols]": _text(r"\[\[[^\[\]]*\], \[[^\[\]]*\]\]"),
    "logits[np.arange(n), labels]": _text(r"\[np\.arange\(\d+\), np\.argmax\("),
    "x[np.arange(n)[:, None], idx]": _text(r"\[np\.arange\(\d+\)\[:, None\], np\.array\(\[\["),
    "x[[i, 0]]": _text(r"\[\[[^\[\]]*\]\]"),
    "x @ y": _has("op:MatMult"), "@": _has("op:MatMult"), "%": _has("op:Mod"),
    "math.log(x, base)": _has("math.log/2"),
    "np.clip(a=x, min=lo, max=hi)": _has("np.clip:a", "np.clip:min", "np.clip:max"),
    "np.sum(x, keepdims=True, axis=0)": _has("np.sum:keepdims", "np.sum:axis"),
    "out=": _text(r"\bout=None"), "where=": _text(r"\bwhere=True"), "dtype=": _text(r"\bdtype="),
    "np.array([x, x + 2])": _has("np.array[list]"),
    "np.sum([1, a * a])": _has("np.sum[list]"), "np.linalg.norm((x, y))": _has("np.linalg.norm(tuple)"),
    "sum([x, y])": _has("sum[list]"), "max([a, b])": _has("max[list]"),
    "np.concatenate(([a, b], x))": _has("np.concatenate(tuple with a list)"),
    "min(a, b, c)": _has("min/3"), "min([a, b, c])": _has("min[list of 3+]"),
    "np.sum(state)": _has("np.sum(name of a tuple)"),
    "terms = [a, b]": _has("name bound to a list literal"), "sum(terms)": _has("sum(name of a list)"),
    "np.max(terms)": _has("np.max(name of a list)"),
    "traj[i] = (p, v)": _has("write:literal"), "traj[i] = state": _has("write:tuple name"),
    "p[hit, 1] *= -0.9": _has("augwrite:mask beside an index", "index:mask beside an index"),
    "x.astype(t)": _has(".astype"), "np.array(x, dtype=t)": _has("np.array:dtype"),
    "int": _text(r"astype\(int\)|dtype=int\b"), "np.int64": _text(r"astype\(np\.int64\)"), '"int32"': _text(r"astype\(.int32.\)"),
    "bool": _text(r"astype\(bool\)"), "x.astype(y.dtype)": _text(r"astype\([^()]*\.dtype\)"),
    "int(s)": _has("int/1"), "round(s)": _has("round/1"), "float(s)": _has("float/1"), "x.item()": _has(".item"),
    "x ** y": _has("op:Pow by a value"), "xlogy(x, y)": _has("scipy.special.xlogy"),
    "shape": _has("np.shape"),
    "x.mT": _text(r"\.mT\b"), "x.real": _text(r"\w\.real\b"), "x.imag": _text(r"\w\.imag\b"), "x.view()": _has(".view"),
    "axes=": _text(r"\baxes="),
    "top, bottom = np.split(x, 2)": _text(r"\w+, \w+ = np\.split\("),
    "np.array_split(terms, 2)": _text(r"(\w+) = \[[^\n]*\n\s*\w+, \w+ = np\.array_split\(\1, 2\)"),
    # module spans: a call of one of the module's functions (their names: the next span, or PHRASES)
    "operator": lambda u: any(k.startswith("operator.") for k in u),
    "math": lambda u: any(k.startswith("math.") for k in u),
    "scipy.special": lambda u: any(k.startswith("scipy.special.") for k in u),
    **{p: (lambda names: lambda u: all(n in u for n in names))(names) for p, names in PHRASES.items()},
}

# spans that are neither a function nor a form a program can show, each with why
EXCLUDED = {
    "srcdiff/rules/numpy_rules.py": "a file of srcdiff", "srcdiff/rules/registry.py": "a file of srcdiff",
    "srcdiff/rules/composites.py": "a file of srcdiff", "tests/test_errors.py": "a file of srcdiff", "tests/test_view_functions.py": "a file of srcdiff",
    "x": "an argument's name in the prose", "y": "an argument's name in the prose", "t": "a dtype's name in the prose",
    "start": "np.linspace's parameter (its derivative: generated, np.linspace of expressions)",
    "stop": "np.linspace's parameter (its derivative: generated, np.linspace of expressions)",
    "xp": "np.interp's parameter (generated: knots computed from differentiated values)",
    "fp": "np.interp's parameter (generated: values computed from differentiated values)",
    "jit=False": "a backend option: `x @ y` of stacks runs on the Python backend only, generated in Python-only "
                 "programs (feature 'stackmatmul', in fuzzgen.PYTHON_ONLY)",
    "...": "np.einsum's ellipsis: README says it is declined",
    "rt.array": "the name of srcdiff's runtime helper, not a user's function",
    "-inf": "a value at which a choice is documented", "inf": "a value at which a choice is documented",
    "nan": "a value at which a choice is documented", "x = 0": "a point at which a choice is documented",
    "x ** 0": "a point at which a choice is documented (x ** 0: constant exponents are generated)",
    "0.0 ** -1": "a value NumPy's semantics give (inf): a pole, not a smooth point to check",
    "ZeroDivisionError": "an exception that generated code never raises",
    "sqrt(x * x)": "a NaN at 0 README documents: sqrt of a square, not a function",
    "take_along_axis": "the NumPy function README's form x[np.arange(n)[:, None], idx] writes out: srcdiff declines "
                       "a call of it, saying to write it so (srcdiff/transforms/resolve.py)",
    "key=": "README says max / min with key= (or default=) is declined (tests/test_canonicalize.py)",
    "buf[0] = a * 10.0": "a float written into an array of ints: piecewise constant, no smooth derivative to check "
                         "by differences (tests/test_int_writes.py)",
    "buf = np.zeros(3, dtype=int)": "an array of ints, written with floats (tests/test_int_writes.py)",
    "np.full(3, 2)": "an array of ints, written with floats (tests/test_int_writes.py)",
    "np.zeros_like(x, dtype=int)": "an array of ints, written with floats (tests/test_int_writes.py)",
    "buf *= a": "an update README says is declined (NumPy raises: tests/test_int_writes.py)",
}


def uncovered(text: str, seen: set) -> list:
    """The README Rules bullet's names and forms (readme_rule_names) that `seen` (the union of `used` over
    generated programs) lacks and EXCLUDED does not explain, and the spans no FORMS entry or module knows."""
    names, forms = readme_rule_names(text)
    out = [f"{n} (never generated)" for n in names if n not in seen]
    out += [f"{f} (no detector in fuzz_rules.FORMS or reason in EXCLUDED)" for f in forms
            if f not in FORMS and f not in EXCLUDED]
    out += [f"{f} (never generated)" for f in forms if f in FORMS and not FORMS[f](seen)]
    return list(dict.fromkeys(out))
