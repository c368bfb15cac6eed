"""Rules for the srcdiff.runtime helpers that generated code calls, so that generated code can
itself be differentiated (forward over reverse: Hessian-vector products, grad of grad).

Parameter names here avoid `g` and `ans`, which templates use for the output adjoint and value.
Helpers linear in their first argument have linear tangents (rt.unbroadcast(dv, x)); bilinear
ones (matmul_grad_x) sum two terms; logsumexp_grad and prod_grad differentiate the weights too.
"""
from .. import runtime as rt
from .registry import RULES, ZERO, alias, defrule

R = defrule

# ---- plumbing: zeros, seeds, copies, stacks (no derivative or handled as statements) --------------------
ANY = "*args, **kwargs"
# (linspace_weights: a vector of floats; a stack's kind is read off its pushes (kinds.infer), a pop's is what the
# stack holds; push and the in-place scatters give no value)
_PLUMBING_KINDS = {"linspace_weights": ("rank", 1), "stack": "opaque", "push": "opaque", "pop": "element",
                   "index_add": "opaque", "add_at": "opaque", "slogdet_sign": "reduce"}
for _name, _kind in _PLUMBING_KINDS.items():
    R(f"rt.{_name}", [getattr(rt, _name)], ANY, nondiff=True, kind=_kind)
R("rt.repeat_index", [rt.repeat_index], ANY, nondiff=True, kind=("rank", 1, "i"))   # (np.repeat's gather)
R("rt.equal_split", [rt.equal_split], ANY, nondiff=True, kind=("scalar", "i"))   # (np.split's part length)
R("rt.rot90_axis", [rt.rot90_axis], ANY, nondiff=True, kind=("scalar", "i"))   # (np.rot90's check of its axes)
R("rt.check_axis", [rt.check_axis], ANY, nondiff=True, kind=("scalar", "i"))   # (np.flip's, np.roll's axis)
R("rt.check_rank", [rt.check_rank], ANY, nondiff=True, kind=("scalar", "i"))   # (np.fliplr's, np.flipud's)
R("rt.check_unpack", [rt.check_unpack], ANY, nondiff=True, kind="opaque")   # (a, b = x's count: a statement)
R("rt.zeros_like", [rt.zeros_like], ANY, nondiff=True, kind=("like", 0), shape="fill")
R("rt.stack_zeros", [rt.stack_zeros], ANY, nondiff=True, kind="items")   # (np.array of a list comprehension)
# np.array of a list built with appends (forward.lower_stacks): its adjoint is a list of g's rows, which the appends'
# adjoints pop, last first; its tangent, the array of the tangents' list
R("rt.stack_array", [rt.stack_array], "s", "rt.unstack(g)", jvp="rt.stack_array(ds)", kind="stacked")
# unstack's list is popped (the appends' adjoints), never appended to: reverse mode over it pushes the pops' adjoints
# onto the list's adjoint stack (reverse.py stack_names), which stack_rows makes rows again
R("rt.unstack", [rt.unstack], "rows", "rt.stack_rows(g, rows)", jvp="rt.unstack(drows)", kind="unstacked")
R("rt.seed", [rt.seed], ANY, nondiff=True, kind="float", cuda="1.0")
# the weights the adjoints of max / min / clip put on each argument (1, 0, or 1/2 at a tie)
R("rt.max_weight", [rt.max_weight], ANY, nondiff=True, kind="broadcast", shape="elementwise",
  cuda="(1.0 if ({0}) > ({1}) else (0.5 if ({0}) == ({1}) else 0.0))")
R("rt.in_interval", [rt.in_interval], ANY, nondiff=True, kind="broadcast", shape="elementwise",
  cuda="(1.0 if (({0}) >= ({1}) and ({0}) <= ({2})) else 0.0)")
R("rt.clip_low", [rt.clip_low], ANY, nondiff=True, kind="broadcast", shape="elementwise",
  cuda="(1.0 if (({0}) < ({1}) and ({1}) <= ({2})) else 0.0)")
R("rt.clip_high", [rt.clip_high], ANY, nondiff=True, kind="broadcast", shape="elementwise",
  cuda="(1.0 if (({0}) > ({2}) or ({1}) > ({2})) else 0.0)")
R("rt.copy", [rt.copy], "x", "g", jvp="rt.copy(dx)", kind="same", shape="elementwise", cuda="({0})")

# ---- array construction and casts (transforms/desugar.py: np.array([...]) -> rt.array((...)), x.astype(t)) ------
# rt.array of a tuple of parts: part k's adjoint is g[k] (a row where the parts are arrays); of an array: a copy
R("rt.array", [rt.array], "parts", None, variadic="array", kind="parts_array")
# a cast to a float dtype (or one known at run time) passes the derivative; to an int or bool dtype it has none
R("rt.astype", [rt.astype], "x, dtype, copy=True", "rt.astype_grad(g, ans)", None, jvp="rt.astype_grad(dx, ans)", kind="cast")
R("rt.astype_grad", [rt.astype_grad], "v, y", "rt.astype_grad(g, y)", ZERO, jvp="rt.astype_grad(dv, y)",
  kind="same")
R("rt.cast", [rt.cast], "*args, **kwargs", nondiff=True, kind="cast")
# an integer array as NumPy's float type beside another operand (the compiled form's: transforms/promotions.py)
R("rt.numpy_float", [rt.numpy_float], ANY, nondiff=True, kind="as_float")

# ---- shape and broadcast helpers: linear in their first argument ------------------------------------------
# (their results have x's kind, as floats)
R("rt.unbroadcast", [rt.unbroadcast], "v, x", "rt.broadcast_to_like(g, v)", ZERO, jvp="rt.unbroadcast(dv, x)",
  kind=("like", 1))
R("rt.broadcast_to_like", [rt.broadcast_to_like], "v, x", "rt.unbroadcast(g, v)", ZERO,
  jvp="rt.broadcast_to_like(dv, x)", kind=("like", 1))
R("rt.reshape_like", [rt.reshape_like], "v, x", "rt.reshape_like(g, v)", ZERO, jvp="rt.reshape_like(dv, x)",
  kind=("like", 1))
# transpose_grad permutes by the inverse of axes: its adjoint permutes by axes itself
R("rt.transpose_grad", [rt.transpose_grad], "v, axes=None", "rt.transpose(g, axes)", None,
  jvp="rt.transpose_grad(dv, axes)", kind=("like", 0))
# index_axis / slice_axis and the *_put helpers that scatter into zeros of x's shape are each other's adjoints
R("rt.index_axis", [rt.index_axis], "v, axis, k", "rt.index_axis_put(g, v, axis, k)", None, None,
  jvp="rt.index_axis(dv, axis, k)", kind="index_axis")
R("rt.slice_axis", [rt.slice_axis], "v, axis, start, stop", "rt.slice_axis_put(g, v, axis, start, stop)", None, None,
  None, jvp="rt.slice_axis(dv, axis, start, stop)", kind="same_array")
R("rt.index_axis_put", [rt.index_axis_put], "w, x, axis, k", "rt.index_axis(g, axis, k)", ZERO, None, None,
  jvp="rt.index_axis_put(dw, x, axis, k)", kind=("like", 1))
R("rt.slice_axis_put", [rt.slice_axis_put], "w, x, axis, start, stop", "rt.slice_axis(g, axis, start, stop)", ZERO,
  None, None, None, jvp="rt.slice_axis_put(dw, x, axis, start, stop)", kind=("like", 1))
# take_put scatters into zeros of x's shape: np.take is its adjoint and it is np.take's
R("rt.take_put", [rt.take_put], "v, x, indices, axis=None", "np.take(g, indices, axis)", ZERO, None, None,
  jvp="rt.take_put(dv, x, indices, axis)", kind=("like", 1))
# rt.written(v, idx) is v[idx] where the write x[idx] = ... won (reverse mode's read of an index list's write):
# linear in v, its adjoint puts g back there (the same write decides the winner), and that one's adjoint is it
R("rt.written", [rt.written], "v, idx", "rt.written_put(g, v, idx)", None, jvp="rt.written(dv, idx)", kind="region")
R("rt.written_put", [rt.written_put], "w, x, idx", "rt.written(g, idx)", ZERO, None,
  jvp="rt.written_put(dw, x, idx)", kind=("like", 1))
R("rt.select", [rt.select], "cond, a, b", ZERO, "rt.unbroadcast(rt.select(cond, g, 0.0), a)",
  "rt.unbroadcast(rt.select(cond, 0.0, g), b)", jvp="rt.select(cond, da, db)", kind="broadcast",
  shape="elementwise", cuda="(({1}) if ({0}) else ({2}))")
# d/dx of y x^(y-1) is y (y-1) x^(y-2); d/dy is x^(y-1) (1 + y log x)
R("rt.pow_slope", [rt.pow_slope], "x, y", "rt.unbroadcast(g * y * rt.pow_slope(x, y - 1), x)",
  "rt.unbroadcast(g * np.power(x * 1.0, y - 1) * (1.0 + y * rt.safe_log(x)), y)",
  jvp="dx * y * rt.pow_slope(x, y - 1) + dy * np.power(x * 1.0, y - 1) * (1.0 + y * rt.safe_log(x))",
  kind="broadcast", shape="elementwise", cuda="(0.0 if ({1}) == 0 else ({1}) * ({0}) ** (({1}) - 1.0))")
# np.sqrt of a sum of squares (np.std, np.linalg.norm: composites.py), a norm: its derivative where it is 0 is taken
# as 0, the smallest subgradient (np.std of one element, a constant, has gradient 0); sqrt_slope(r) = 0.5 / r
# (0 at 0) is d sqrt(v) / dv at r = sqrt(v), and d sqrt_slope(r) / dr = -0.5 / r^2 = -2 sqrt_slope(r)^2
R("rt.sqrt_of_squares", [rt.sqrt_of_squares], "x", "g * rt.sqrt_slope(ans)", jvp="dx * rt.sqrt_slope(ans)",
  kind="as_float", shape="elementwise", cuda="math.sqrt({0})")
R("rt.sqrt_slope", [rt.sqrt_slope], "r", "-2.0 * g * ans * ans", jvp="-2.0 * dr * ans * ans",
  kind="as_float", shape="elementwise", cuda="(0.5 / ({0}) if ({0}) > 0.0 else 0.0)")
# a p-norm's powers (composites.py): r ** e, 0 at r = 0, whose derivative e * r ** (e - 1) is taken as 0 at r = 0
R("rt.norm_power", [rt.norm_power], "r, e", "g * e * rt.norm_power(r, e - 1.0)", None,
  jvp="dr * e * rt.norm_power(r, e - 1.0)", kind="broadcast", shape="elementwise",
  cuda="(({0}) ** ({1}) if ({0}) > 0.0 else 0.0)")
# t * s, 0 where the tangent t is 0 (whatever s: elementwise.times_slope); linear in each argument where t is not 0
R("rt.times_slope", [rt.times_slope], "t, s", "rt.unbroadcast(rt.times_slope(g, s), t)",
  "rt.unbroadcast(rt.times_slope(t, g), s)", jvp="rt.times_slope(dt, s) + rt.times_slope(t, ds)",
  kind="broadcast", shape="elementwise", cuda="(0.0 if ({0}) == 0 else ({0}) * ({1}))")
R("rt.safe_log", [rt.safe_log], "x", "rt.select(x > 0, g / x, 0.0)", jvp="rt.select(x > 0, dx / x, 0.0)",
  kind="as_float", shape="elementwise", cuda="(math.log({0}) if ({0}) > 0 else 0.0)")

R("rt.atleast_nd", [rt.atleast_nd], "x, n", "rt.reshape_like(g, x)", None, jvp="rt.atleast_nd(dx, n)",
  kind="at_least")
# np.trace / np.diag adjoints are linear in v: trace_grad's adjoint is the trace, diag_grad's is np.diag (which
# builds diagonal k where diag_grad read it off, and reads it off where diag_grad built it)
R("rt.trace_grad", [rt.trace_grad], "v, x, offset=0", "np.trace(g, offset)", ZERO, None,
  jvp="rt.trace_grad(dv, x, offset)", kind=("like", 1))
R("rt.diag_grad", [rt.diag_grad], "v, x, k=0", "np.diag(g, k)", ZERO, None, jvp="rt.diag_grad(dv, x, k)",
  kind=("like", 1))

# ---- reduction adjoints ----------------------------------------------------------------------------------
# (the adjoints of reductions have x's kind, as floats)
R("rt.sum_grad", [rt.sum_grad], "v, x, axis=None", "rt.reshape_like(rt.sum(g, axis), v)", ZERO, None,
  jvp="rt.sum_grad(dv, x, axis)", kind=("like", 1))
R("rt.mean_grad", [rt.mean_grad], "v, x, axis=None", "rt.reshape_like(rt.mean(g, axis), v)", ZERO, None,
  jvp="rt.mean_grad(dv, x, axis)", kind=("like", 1))
# max_grad / min_grad = v * mask / count with mask = (x == m): linear in v, and piecewise constant in x
# and m (the mask only changes where ties appear or vanish), so their adjoints w.r.t. x and m are zero
R("rt.max_grad", [rt.max_grad], "v, x, m, axis=None",
  "rt.sum(g * rt.max_grad(rt.broadcast_to_like(1.0, v), x, m, axis), axis)", ZERO, ZERO, None,
  jvp="rt.max_grad(dv, x, m, axis)", kind=("like", 1))
R("rt.min_grad", [rt.min_grad], "v, x, m, axis=None",
  "rt.sum(g * rt.min_grad(rt.broadcast_to_like(1.0, v), x, m, axis), axis)", ZERO, ZERO, None,
  jvp="rt.min_grad(dv, x, m, axis)", kind=("like", 1))
# prod_grad(v, x, p) = v times the product of x's other entries along the axis (p, the product itself, only names
# it: the helper recomputes from x, exact with zeros). Its derivative in x is v times rt.prod_others_jvp, the
# product's second derivative carried without dividing by x (v * p / x made NaN at a zero entry); that second
# derivative is symmetric, so its adjoint in x is rt.prod_others_jvp of g * v
R("rt.prod_grad", [rt.prod_grad], "v, x, p, axis=None",
  "rt.sum(g * rt.prod_grad(rt.broadcast_to_like(1.0, v), x, p, axis), axis)",
  "rt.prod_others_jvp(g * rt.sum_grad(v, x, axis), x, axis)", ZERO, None,
  jvp="rt.prod_grad(dv, x, p, axis) + rt.sum_grad(v, x, axis) * rt.prod_others_jvp(dx, x, axis)",
  kind=("like", 1))
# linear in t and its own adjoint there; its derivative in x is rt.prod_others_jvp2 (prod's third derivative, symmetric
# in its three indices: the adjoint in x of t's term is rt.prod_others_jvp2 of g and t)
R("rt.prod_others_jvp", [rt.prod_others_jvp], "t, x, axis=None", "rt.prod_others_jvp(g, x, axis)",
  "rt.prod_others_jvp2(g, t, x, axis)", None, jvp="rt.prod_others_jvp(dt, x, axis) + rt.prod_others_jvp2(t, dx, x, axis)",
  kind=("like", 1))
# linear in t and in s; its derivative in x (prod's fourth) has no rule: declined
R("rt.prod_others_jvp2", [rt.prod_others_jvp2], "t, s, x, axis=None", "rt.prod_others_jvp2(g, s, x, axis)",
  "rt.prod_others_jvp2(g, t, x, axis)", None, None,
  jvp="rt.prod_others_jvp2(dt, s, x, axis) + rt.prod_others_jvp2(t, ds, x, axis)", kind=("like", 2))
# v * softmax(x): dv * s + v * s * (dx - dm) with m = logsumexp(x)
# (m is an input of its own: the vjp in m is minus the reduced g * ans)
R("rt.logsumexp_grad", [rt.logsumexp_grad], "v, x, m, axis=None",
  "rt.sum(g * rt.logsumexp_grad(rt.broadcast_to_like(1.0, v), x, m, axis), axis)", "g * ans",
  "-rt.sum(g * ans, axis)", None,
  jvp="rt.logsumexp_grad(dv, x, m, axis) + rt.logsumexp_grad(v, x, m, axis) * (dx - rt.sum_grad(dm, x, axis))",
  kind=("like", 1))

# ---- log-domain products (transforms/logdomain.py): E, the table of exp(M), is M in another form -----------
R("rt.exp_shifted", [rt.exp_shifted], "M, axis", nondiff=True, kind="exp_table")
R("rt.table_at", [rt.table_at], "E, u", nondiff=True, kind="exp_table")
R("rt.logsumexp_vecmat", [rt.logsumexp_vecmat], "v, M, E", "rt.logsumexp_vecmat_grad_v(g, v, M, E, ans)",
  "rt.logsumexp_vecmat_grad_M(g, v, M, E, ans)", None,
  jvp="rt.sum(rt.logsumexp_vecmat_grad_M(rt.broadcast_to_like(1.0, ans), v, M, E, ans) * (rt.expand_dims(dv, 1) + dM), 0)",
  kind=("rank", 1), shape="vecmat")
R("rt.logsumexp_matvec", [rt.logsumexp_matvec], "M, v, E", "rt.logsumexp_matvec_grad_M(g, M, v, E, ans)",
  "rt.logsumexp_matvec_grad_v(g, M, v, E, ans)", None,
  jvp="rt.sum(rt.logsumexp_matvec_grad_M(rt.broadcast_to_like(1.0, ans), M, v, E, ans) * (dM + rt.expand_dims(dv, 0)), 1)",
  kind=("rank", 1), shape="matvec")
# their adjoints are w * softmax weights, differentiated like rt.logsumexp_grad
_VM = "rt.logsumexp_vecmat_grad_M(dw, v, M, E, m) + rt.logsumexp_vecmat_grad_M(w, v, M, E, m) * " \
      "(rt.expand_dims(dv, 1) + dM - rt.sum_grad(dm, M, 0))"
_MV = "rt.logsumexp_matvec_grad_M(dw, M, v, E, m) + rt.logsumexp_matvec_grad_M(w, M, v, E, m) * " \
      "(dM + rt.expand_dims(dv, 0) - rt.sum_grad(dm, M, 1))"
# reverse: with W the weights (ans for the _grad_M helpers, W expanded by g for the summed _grad_v
# ones), W is linear in w, its adjoint in v and M is W itself (summed to v's shape), in m minus W
# summed over the other axis; E is M in another form (no derivative of its own)
_VM1 = "rt.logsumexp_vecmat_grad_M(rt.broadcast_to_like(1.0, w), v, M, E, m)"
_MV1 = "rt.logsumexp_matvec_grad_M(rt.broadcast_to_like(1.0, w), M, v, E, m)"
_VMW = "rt.expand_dims(g, 1) * rt.logsumexp_vecmat_grad_M(w, v, M, E, m)"
_MVW = "rt.expand_dims(g, 0) * rt.logsumexp_matvec_grad_M(w, M, v, E, m)"
R("rt.logsumexp_vecmat_grad_M", [rt.logsumexp_vecmat_grad_M], "w, v, M, E, m", f"rt.sum(g * {_VM1}, 0)",
  "rt.sum(g * ans, 1)", "g * ans", None, "-rt.sum(g * ans, 0)", jvp=_VM, kind=("like", 2))
R("rt.logsumexp_vecmat_grad_v", [rt.logsumexp_vecmat_grad_v], "w, v, M, E, m",
  f"rt.sum(rt.expand_dims(g, 1) * {_VM1}, 0)", f"rt.sum({_VMW}, 1)", _VMW, None, f"-rt.sum({_VMW}, 0)",
  jvp=f"rt.sum({_VM}, 1)", kind=("like", 1))
R("rt.logsumexp_matvec_grad_M", [rt.logsumexp_matvec_grad_M], "w, M, v, E, m", f"rt.sum(g * {_MV1}, 1)",
  "g * ans", "rt.sum(g * ans, 0)", None, "-rt.sum(g * ans, 1)", jvp=_MV, kind=("like", 1))
R("rt.logsumexp_matvec_grad_v", [rt.logsumexp_matvec_grad_v], "w, M, v, E, m",
  f"rt.sum(rt.expand_dims(g, 0) * {_MV1}, 1)", _MVW, f"rt.sum({_MVW}, 0)", None, f"-rt.sum({_MVW}, 1)",
  jvp=f"rt.sum({_MV}, 0)", kind=("like", 2))

# ---- linear algebra adjoints: bilinear ---------------------------------------------------------------------
# matmul_grad_x(v, x, y) is v's pullback through x @ y: its adjoint in v is the push-forward (g @ y)
R("rt.matmul_grad_x", [rt.matmul_grad_x], "v, x, y", "rt.dot(g, y)", ZERO, "rt.matmul_grad_y(v, g, y)",
  jvp="rt.matmul_grad_x(dv, x, y) + rt.matmul_grad_x(v, x, dy)", kind=("like", 1))
R("rt.matmul_grad_y", [rt.matmul_grad_y], "v, x, y", "rt.dot(x, g)", "rt.matmul_grad_x(v, x, g)", ZERO,
  jvp="rt.matmul_grad_y(dv, x, y) + rt.matmul_grad_y(v, dx, y)", kind=("like", 2))
# outer_grad(v, x, y) = v @ ravel(y) in x's shape (x gives the shape only): linear in v and in y
R("rt.outer_grad", [rt.outer_grad], "v, x, y", "np.outer(g, y)", ZERO, "rt.outer_grad(np.transpose(v), y, g)",
  jvp="rt.outer_grad(dv, x, y) + rt.outer_grad(v, x, dy)", kind=("like", 1))
# tensordot_grad_x(v, x, y, k) = V @ Y^T and tensordot_grad_y(v, x, y, k) = X^T @ V on the 2-d views
# (x gives the shape only in grad_x, y in grad_y), like matmul_grad_x / matmul_grad_y
R("rt.tensordot_grad_x", [rt.tensordot_grad_x], "v, x, y, k", "rt.tensordot(g, y, k)", ZERO,
  "rt.tensordot_grad_y(v, g, y, k)", None, jvp="rt.tensordot_grad_x(dv, x, y, k) + rt.tensordot_grad_x(v, x, dy, k)",
  kind=("like", 1))
R("rt.tensordot_grad_y", [rt.tensordot_grad_y], "v, x, y, k", "rt.tensordot(x, g, k)",
  "rt.tensordot_grad_x(v, x, g, k)", ZERO, None,
  jvp="rt.tensordot_grad_y(dv, x, y, k) + rt.tensordot_grad_y(v, dx, y, k)", kind=("like", 2))
# cumprod_grad(v, x) = J^T v and cumprod_jvp(v, x) = J v for J the Jacobian of cumprod(x): linear in v (each is
# the other's adjoint there); in x exact where x has no zeros (like prod_grad): with p = cumprod(x),
# J^T v = revcumsum(v p) / x and J v = p cumsum(v / x)
# (their derivatives in x divide by x: rt.cumprod_factors(x) is x, and raises ValueError where x has a zero)
R("rt.cumprod_grad", [rt.cumprod_grad], "v, x, axis=None", "rt.cumprod_jvp(g, x, axis)",
  "rt.cumprod_grad(v * rt.cumsum(g / rt.cumprod_factors(x), axis), x, axis) - g * ans / x", None,
  jvp="rt.cumprod_grad(dv, x, axis) + (rt.reshape_like(rt.revcumsum(v * rt.cumprod_jvp(dx, x, axis), axis), x)"
      " - ans * dx) / rt.cumprod_factors(x)", kind=("like", 1))
R("rt.cumprod_jvp", [rt.cumprod_jvp], "v, x, axis=None", "rt.cumprod_grad(g, x, axis)",
  "rt.cumprod_grad(g * rt.cumsum(v / rt.cumprod_factors(x), axis), x, axis)"
  " - rt.reshape_like(rt.revcumsum(g * rt.cumprod(x, axis), axis), x) * v / (x * x)", None,
  jvp="rt.cumprod_jvp(dv, x, axis) + rt.cumprod_jvp(dx, x, axis) * rt.cumsum(v / rt.cumprod_factors(x), axis)"
      " - rt.cumprod(x, axis) * rt.cumsum(v * dx / (x * x), axis)", kind=("along_axis", 2, True))
R("rt.cumprod_factors", [rt.cumprod_factors], "x", "g", jvp="dx", kind="same", shape="same")
# np.interp's helpers (runtime/interpolation.py), with s = interp_slope(x, xp, fp) = (fp[j + 1] - fp[j]) / h on x's
# segment j of width h and T(w) = interp_slope_transpose(w, ...) its adjoint in fp: s is piecewise constant in x,
# linear in fp, and moving the knots changes 1 / h; interp_transpose(v, ...) moves with x's weight t = (x - xp[j]) / h
R("rt.interp_slope", [rt.interp_slope], "x, xp, fp", ZERO, "-rt.interp_slope_transpose(g * ans, x, xp, fp)",
  "rt.interp_slope_transpose(g, x, xp, fp)",
  jvp="rt.interp_slope(x, xp, dfp) - ans * rt.interp_slope(x, xp, dxp)", kind=("like", 0))
R("rt.interp_slope_transpose", [rt.interp_slope_transpose], "w, x, xp, fp", "rt.unbroadcast(rt.interp_slope(x, xp, g), w)", ZERO,
  "-rt.interp_slope_transpose(w * rt.interp_slope(x, xp, g), x, xp, fp)", ZERO,
  jvp="rt.interp_slope_transpose(dw - w * rt.interp_slope(x, xp, dxp), x, xp, fp)", kind=("like", 3))
R("rt.interp_transpose", [rt.interp_transpose], "v, x, xp, fp", "rt.unbroadcast(rt.interp(x, xp, g), v)", "v * rt.interp_slope(x, xp, g)",
  "-rt.interp_transpose(v * rt.interp_slope(x, xp, g), x, xp, fp)", ZERO,
  jvp="rt.interp_transpose(dv, x, xp, fp) + rt.interp_slope_transpose(v * (dx - rt.interp(x, xp, dxp)), x, xp, fp)",
  kind=("like", 3))
# d/dx dsinc(x) = -pi^2 sinc(x) - 2 dsinc(x) / x (-pi^2 / 3 at 0)
R("rt.dsinc", [rt.dsinc], "x", "g * (-9.869604401089358 * np.sinc(x) - rt.select(x == 0.0, -6.579736267392906, "
  "2.0 * rt.dsinc(x) / x))", jvp="dx * (-9.869604401089358 * np.sinc(x) - rt.select(x == 0.0, -6.579736267392906, "
  "2.0 * rt.dsinc(x) / x))", kind="as_float", shape="elementwise",
  cuda="((({0}) * (-3.289868133696453 + 3.2469697011334144 * ({0}) * ({0}))) if abs({0}) < 1e-3 else "
       "(math.cos(math.pi * ({0})) - math.sin(math.pi * ({0})) / (math.pi * ({0}))) / ({0}))")
R("rt.solve_grad_a", [rt.solve_grad_a], "v, x", "-rt.dot(g, x)", "-rt.dot(np.transpose(g), v)", jvp="rt.solve_grad_a(dv, x) + rt.solve_grad_a(v, dx)",
  kind=("rank", 2))
# solve_triangular_grad_a = tri_mask(transpose_if(solve_grad_a(v, x), trans), lower): both maps are
# self-adjoint, so the adjoint reaching solve_grad_a is H = transpose_if(tri_mask(g, lower), trans)
_H = "rt.transpose_if(rt.tri_mask(g, lower), trans)"
R("rt.solve_triangular_grad_a", [rt.solve_triangular_grad_a], "v, x, trans, lower", f"-rt.dot({_H}, x)",
  f"-rt.dot(np.transpose({_H}), v)", None, None,
  jvp="rt.solve_triangular_grad_a(dv, x, trans, lower) + rt.solve_triangular_grad_a(v, dx, trans, lower)",
  kind=("rank", 2))
# tri_matmul(v, x, trans) = transpose_if(v, trans) @ x
R("rt.tri_matmul", [rt.tri_matmul], "v, x, trans", "rt.transpose_if(rt.matmul_grad_x(g, v, x), trans)",
  "rt.matmul_grad_y(g, rt.transpose_if(v, trans), x)", None,
  jvp="rt.tri_matmul(dv, x, trans) + rt.tri_matmul(v, dx, trans)", kind=("matmul", 3))
R("rt.tri_mask", [rt.tri_mask], "m, lower", "rt.tri_mask(g, lower)", None, jvp="rt.tri_mask(dm, lower)",
  kind=("like", 0))
R("rt.transpose_if", [rt.transpose_if], "m, flag", "rt.transpose_if(g, flag)", None,
  jvp="rt.transpose_if(dm, flag)", kind=("like", 0))
# reverse rule derived in srcdiff/runtime/cholesky.py (lower triangles of L and v only, as cholesky_grad reads them)
R("rt.cholesky_grad", [rt.cholesky_grad], "L, v", "rt.cholesky_grad_vjp_L(L, v, g)", "rt.cholesky_grad_vjp_v(L, g)",
  jvp="rt.cholesky_grad_jvp(L, dL, v, dv)", kind=("like", 0))
# ans = inv(a)^T: d ans = -ans da^T ans, so the adjoint is -ans g^T ans
R("rt.logdet_grad", [rt.logdet_grad], "a", "-rt.dot(ans, rt.dot(np.transpose(g), ans))", jvp="-(ans @ np.transpose(da) @ ans)",
  kind=("like", 0))

# ---- eigh / svd / pinv / kron adjoints (runtime/spectral.py) --------------------------------------------------
# The adjoints of eigh, svd and pinv are linear in their last argument v (the output's adjoint); their tangents
# add the helper at dv and its derivative along the other arguments (*_tangent, *_curvature). Forward over reverse
# and reverse rules (a gradient-norm penalty through them: tests/test_spectral.py), as the tangents (*_jvp, below)
# have; the helpers those rules call (*_tangent, *_curvature, *_vjp_*) have no rule of their own, so a third
# derivative through them declines.
# eigvalsh_grad(a, v) = V diag(v) Vᵀ is the gradient of φ(a) = Σ v_i λ_i(a) over symmetric perturbations: its
# curvature V (Q ∘ Vᵀ sym(da) V) Vᵀ (Q symmetric) is self-adjoint, so the adjoint of a is the curvature applied to g;
# the adjoint of v is diag(Vᵀ g V), eigvalsh's tangent at g (as svdvals_grad's below)
R("rt.eigvalsh_grad", [rt.eigvalsh_grad], "a, v", "rt.eigvalsh_curvature(a, v, g)", "rt.eigvalsh_jvp(a, g)",
  kind=("of_matrix", 2), jvp="rt.eigvalsh_grad(a, dv) + rt.eigvalsh_curvature(a, v, da)")
# eigh_vectors_grad(a, u, v) = u sym(F(w) ∘ uᵀv) uᵀ, w = diag(uᵀ a u), is linear in v: the adjoint of v is the map's
# transpose, eigh_vectors_jvp(a, u, g); those of a and u (each with the others fixed) are the transposes of
# eigh_vectors_grad_tangent's parts (runtime/spectral.py), defined for distinct eigenvalues (inf/nan where they repeat)
R("rt.eigh_vectors_grad", [rt.eigh_vectors_grad], "a, u, v", "rt.eigh_vectors_grad_vjp_a(a, u, v, g)",
  "rt.eigh_vectors_grad_vjp_v(a, u, v, g)", "rt.eigh_vectors_jvp(a, u, g)", kind=("of_matrix", 2),
  jvp="rt.eigh_vectors_grad(a, u, dv) + rt.eigh_vectors_grad_tangent(a, u, v, da, du)")
# svdvals_grad(a, v) = U diag(v) Vᵀ is the gradient of φ(a) = Σ v_i s_i(a): its derivative along da (the curvature)
# is φ's Hessian applied to da, a self-adjoint map, so the adjoint of a is the curvature applied to g; it is linear
# in v, and the adjoint of v is diag(Uᵀ g V), svdvals' own tangent at g (reverse over a gradient through singular
# values: tests/test_spectral.py)
R("rt.svdvals_grad", [rt.svdvals_grad], "a, v", "rt.svdvals_curvature(a, v, g)", "rt.svdvals_jvp(a, g)",
  kind=("of_matrix", 2), jvp="rt.svdvals_grad(a, dv) + rt.svdvals_curvature(a, v, da)")
# the same for the thin SVD's singular vectors (distinct nonzero singular values) and pinv (constant rank): each helper
# is linear in v, with the tangent of U (Vh, pinv) as its transpose, and its vjp_* helpers transpose its other parts
R("rt.svd_u_grad", [rt.svd_u_grad], "a, u, v", "rt.svd_u_grad_vjp_a(a, u, v, g)", "rt.svd_u_grad_vjp_u(a, u, v, g)",
  "rt.svd_u_jvp(a, u, g)", kind=("of_matrix", 2),
  jvp="rt.svd_u_grad(a, u, dv) + rt.svd_u_grad_tangent(a, u, v, da, du)")
R("rt.svd_vh_grad", [rt.svd_vh_grad], "a, vh, v", "rt.svd_vh_grad_vjp_a(a, vh, v, g)",
  "rt.svd_vh_grad_vjp_vh(a, vh, v, g)", "rt.svd_vh_jvp(a, vh, g)", kind=("of_matrix", 2),
  jvp="rt.svd_vh_grad(a, vh, dv) + rt.svd_vh_grad_tangent(a, vh, v, da, dvh)")
R("rt.pinv_grad", [rt.pinv_grad], "a, p, v", "rt.pinv_grad_vjp_a(a, p, v, g)", "rt.pinv_grad_vjp_p(a, p, v, g)",
  "rt.pinv_jvp(a, p, g)", kind=("of_matrix", 2),
  jvp="rt.pinv_grad(a, p, dv) + rt.pinv_grad_tangent(a, p, v, da, dp)")
# The tangents of eigh, svd and pinv (the rules' jvps above, and numpy_rules'), for reverse over jvp: each *_jvp is
# linear in its tangent t and the transpose of the matching adjoint helper (<g, X_jvp(a, u, t)> = <X_grad(a, u, g), t>
# for any a and u), so the adjoint of t is X_grad(a, u, g) and those of a and u are X_grad's own reverse rules with
# t as its output's adjoint; eigvalsh_jvp and svdvals_jvp are the derivatives of φ(a) = Σ g_i λ_i(a) (s_i(a)), whose
# Hessian is self-adjoint: the adjoint of a is the curvature at g along t. Their tangents along a and u are the
# *_jvp_tangent helpers (which have no rule of their own: a third derivative through them declines)
R("rt.eigvalsh_jvp", [rt.eigvalsh_jvp], "a, t", "rt.eigvalsh_curvature(a, g, t)", "rt.eigvalsh_grad(a, g)",
  kind=("of_matrix", 1), jvp="rt.eigvalsh_jvp(a, dt) + rt.eigvalsh_jvp_tangent(a, t, da)")
R("rt.svdvals_jvp", [rt.svdvals_jvp], "a, t", "rt.svdvals_curvature(a, g, t)", "rt.svdvals_grad(a, g)",
  kind=("of_matrix", 1), jvp="rt.svdvals_jvp(a, dt) + rt.svdvals_jvp_tangent(a, t, da)")
R("rt.eigh_vectors_jvp", [rt.eigh_vectors_jvp], "a, u, t", "rt.eigh_vectors_grad_vjp_a(a, u, g, t)",
  "rt.eigh_vectors_grad_vjp_v(a, u, g, t)", "rt.eigh_vectors_grad(a, u, g)", kind=("of_matrix", 2),
  jvp="rt.eigh_vectors_jvp(a, u, dt) + rt.eigh_vectors_jvp_tangent(a, u, t, da, du)")
R("rt.svd_u_jvp", [rt.svd_u_jvp], "a, u, t", "rt.svd_u_grad_vjp_a(a, u, g, t)", "rt.svd_u_grad_vjp_u(a, u, g, t)",
  "rt.svd_u_grad(a, u, g)", kind=("of_matrix", 2),
  jvp="rt.svd_u_jvp(a, u, dt) + rt.svd_u_jvp_tangent(a, u, t, da, du)")
R("rt.svd_vh_jvp", [rt.svd_vh_jvp], "a, vh, t", "rt.svd_vh_grad_vjp_a(a, vh, g, t)",
  "rt.svd_vh_grad_vjp_vh(a, vh, g, t)", "rt.svd_vh_grad(a, vh, g)", kind=("of_matrix", 2),
  jvp="rt.svd_vh_jvp(a, vh, dt) + rt.svd_vh_jvp_tangent(a, vh, t, da, dvh)")
R("rt.pinv_jvp", [rt.pinv_jvp], "a, p, t", "rt.pinv_grad_vjp_a(a, p, g, t)", "rt.pinv_grad_vjp_p(a, p, g, t)",
  "rt.pinv_grad(a, p, g)", kind=("of_matrix", 2),
  jvp="rt.pinv_jvp(a, p, dt) + rt.pinv_jvp_tangent(a, p, t, da, dp)")
# kron_grad_a(v, a, b) sums v's blocks against b (a gives the shape only), kron_grad_b(v, a, b) against a: each is
# bilinear, and its adjoints are rt.kron (np.kron) and the other helper
R("rt.kron_grad_a", [rt.kron_grad_a], "v, a, b", "rt.kron(g, b)", ZERO, "rt.kron_grad_b(v, g, b)",
  jvp="rt.kron_grad_a(dv, a, b) + rt.kron_grad_a(v, a, db)", kind=("like", 1))
R("rt.kron_grad_b", [rt.kron_grad_b], "v, a, b", "rt.kron(a, g)", "rt.kron_grad_a(v, a, g)", ZERO,
  jvp="rt.kron_grad_b(dv, a, b) + rt.kron_grad_b(v, da, b)", kind=("like", 2))

# dtypes generated code passes as values (np.empty(n, np.bool_)): names only, no derivative
import numpy as np  # noqa: E402
# (called, np.int64(x) is x's rank of ints: kind law "to_dtype"; passed, a dtype value: kind_exprs reads the name)
for _name in ("bool_", "int64", "int32", "intp", "uint8"):
    R(f"np.{_name}", [getattr(np, _name)], "*args, **kwargs", nondiff=True,
      kind=("to_dtype", "b" if _name == "bool_" else "i"))

# ---- rules written for user-facing objects also apply to the runtime functions of the same name ----------
for _name, _rule in list(RULES.items()):
    _obj = getattr(rt, _name[3:], None) if _name.startswith("rt.") else None
    if _obj is not None:
        alias(_obj, _name)
