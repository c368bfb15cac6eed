"""srcdiff.runtime: helpers called by generated adjoint code (imported there as ``rt``).

Every helper runs in plain Python on NumPy values and, through a Numba overload
registered on import, inside ``numba.njit`` code under the same name.
"""
from .basics import array_0d, copy, seed, stack_array, stack_rows, stack_zeros, unstack, zeros_like
from .broadcast import atleast_2d, broadcast_to_like, expand_dims, fit_like, reshape, reshape_like, select, squeeze, unbroadcast
from .indexing import (add_at, add_into, index_axis, index_axis_put, mask_get, mask_put, slice_axis, slice_axis_put,
                       transpose_grad)
from .cholesky import cholesky_grad, cholesky_grad_vjp_L, cholesky_grad_vjp_v
from .determinants import logdet_grad
from .reductions import (logsumexp, logsumexp_grad, max, max_grad, mean, mean_grad, min,
                         min_grad, prod, prod_grad, prod_others_jvp, prod_others_jvp2, sum, sum_grad)
from .scans import cumsum, diff, diff_transpose, revcumsum, spacing
from .interpolation import interp, interp_slope, interp_slope_transpose, interp_transpose
from .products import tensordot, tensordot_grad_x, tensordot_grad_y
from .scans import cumprod, cumprod_factors, cumprod_grad, cumprod_jvp
from .shapes import as_column, atleast_1d, atleast_3d, atleast_nd, check_unpack, diag_grad, equal_split, repeat_index, rot90_axis, check_axis, check_rank, take_put, trace_grad
from .solves import solve_triangular
from .sorting import sort, sort_like, unsort_like
from .special import (digamma, dsinc, erf, erfc, erfinv, expit, gamma, gammaln, log_expit, log_ndtr, mills_inverse,
                      ndtr, ndtri, softplus, tetragamma, trigamma, xlog1py, xlogy)

__all__ = [
    "zeros_like", "copy", "array_0d", "seed", "stack_zeros", "stack_array", "unstack", "stack_rows",
    "unbroadcast", "fit_like", "broadcast_to_like", "atleast_2d", "expand_dims", "squeeze", "reshape", "reshape_like", "select",
    "add_at", "add_into", "slice_axis", "index_axis", "transpose_grad", "slice_axis_put", "index_axis_put",
    "mask_get", "mask_put",
    "sum", "mean", "prod", "max", "min", "logsumexp",
    "sum_grad", "mean_grad", "prod_grad", "prod_others_jvp", "prod_others_jvp2", "max_grad", "min_grad", "logsumexp_grad", "cumsum", "revcumsum",
    "diff", "diff_transpose", "sort", "sort_like", "unsort_like",
    "atleast_1d", "atleast_3d", "equal_split", "rot90_axis", "check_axis", "check_rank", "check_unpack", "as_column", "take_put", "repeat_index", "tensordot", "tensordot_grad_x", "tensordot_grad_y",
    "trace_grad", "diag_grad", "atleast_nd", "cumprod", "cumprod_grad", "cumprod_jvp", "cumprod_factors", "interp", "interp_slope", "interp_transpose", "interp_slope_transpose",
    "expit", "log_expit", "softplus", "gamma", "gammaln", "digamma", "trigamma", "tetragamma", "erf", "erfc", "ndtr", "log_ndtr",
    "mills_inverse", "xlogy", "xlog1py", "ndtri", "erfinv", "dsinc",
    "solve_triangular", "cholesky_grad", "cholesky_grad_vjp_L", "cholesky_grad_vjp_v", "logdet_grad",
]

# helpers the rule table refers to (products, solves, elementwise weights, scatter-add)
from .elementwise import clip, clip_high, clip_low, in_interval, linspace_weights, index_add, max2, max_weight, min2, norm_power, pow_slope, safe_log, sqrt_of_squares, sqrt_slope, times_slope, transpose, written, written_put  # noqa: E402
from .cholesky import cholesky_grad_jvp, cholesky_jvp  # noqa: E402,F401
from .determinants import logabsdet, slogdet_sign  # noqa: E402
from .activations import tanh  # noqa: E402  (np.tanh in jitted source: transforms/products.py)
from .products import (add_row, block_rows, dot, einsum_matmul, matmul_grad_x, matmul_grad_y, outer_grad, product_zeros, row_dot,  # noqa: E402
                       rows_add, rows_dot, sum_first)
from .chunks import add_chunks, chunk_start, chunk_zeros, prange, row_chunks, threads_back, threads_for  # noqa: E402,F401  (threads: rowblocks.py)
from .rowmath import exp, log, log1p  # noqa: E402  (row-blocked loops' np.exp, np.log, np.log1p: optimize/rowblocks.py)
from .solves import solve, solve_grad_a, solve_triangular_grad_a, transpose_if, tri_mask, tri_matmul  # noqa: E402
from .tangents import pop, push, stack  # noqa: E402,F401  (forward mode over generated stacks)
from .spectral import (eigh_vectors, eigh_vectors_grad, eigh_vectors_grad_tangent, eigh_vectors_grad_vjp_a,  # noqa: E402,F401
                       eigh_vectors_grad_vjp_v, eigh_vectors_jvp, eigvalsh_curvature, eigvalsh_grad, eigvalsh_jvp, kron,
                       kron_grad_a, kron_grad_b, pinv_grad, pinv_grad_tangent, pinv_grad_vjp_a, pinv_grad_vjp_p,
                       pinv_jvp, svd_u, svd_u_full, svd_u_grad, svd_u_grad_tangent, svd_u_grad_vjp_a,
                       svd_u_grad_vjp_u, svd_u_jvp, svd_vh, svd_vh_full, svd_vh_grad, svd_vh_grad_tangent,
                       svd_vh_grad_vjp_a, svd_vh_grad_vjp_vh, svd_vh_jvp, svdvals, svdvals_curvature, svdvals_grad,
                       svdvals_jvp, eigvalsh_jvp_tangent, eigh_vectors_jvp_tangent, svdvals_jvp_tangent,
                       svd_u_jvp_tangent, svd_vh_jvp_tangent, pinv_jvp_tangent)
from .tapes import (checkpoint_every, get_row, halve, put_row, read_only_stack_of, row_tape,  # noqa: E402,F401
                    segments, stack_of)  # (tapes, checkpoints)
from .logdomain import (exp_shifted, table_at, logsumexp_matvec, logsumexp_matvec_adjoints,  # noqa: E402
                        logsumexp_matvec_grad_M, logsumexp_matvec_grad_v, logsumexp_vecmat,
                        logsumexp_vecmat_adjoints, logsumexp_vecmat_grad_M, logsumexp_vecmat_grad_v)
from .logdomain_scales import (scale_tape, logsumexp_vecmat_scaled, logsumexp_matvec_scaled,  # noqa: E402,F401
                               logsumexp_vecmat_grad_v_scaled, logsumexp_vecmat_grad_M_scaled,  # (scale tapes: jit)
                               logsumexp_matvec_grad_v_scaled, logsumexp_matvec_grad_M_scaled,
                               logsumexp_vecmat_adjoints_scaled, logsumexp_matvec_adjoints_scaled)
from .logdomain_carries import (carry_start, carry_end, logsumexp_vecmat_step,  # noqa: E402,F401  (carries: jit)
                                logsumexp_matvec_step, logsumexp_vecmat_step_grad_v, logsumexp_matvec_step_grad_v,
                                logsumexp_vecmat_step_adjoints, logsumexp_matvec_step_adjoints)
from .logdomain_steps import (logsumexp_vecmat_steps, logsumexp_matvec_steps,  # noqa: E402,F401  (whole loops: jit)
                              logsumexp_vecmat_steps_adjoints, logsumexp_matvec_steps_adjoints)
from .casts import any_layout, array, astype, astype_grad, cast, item, numpy_float, to_float, to_float32  # noqa: E402,F401  (np.array of parts, dtype casts)
from .text import fstring  # noqa: E402,F401  (f-strings of print and assert: transforms/desugar.py)
from .expressions import elementwise  # noqa: E402,F401  (array expressions of jitted code: transforms/elementwise.py)
from . import list_aliases  # noqa: E402,F401  (Numba's dead-code elimination: arrays of list stacks alias)
