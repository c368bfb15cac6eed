"""The rule registry: one record per primitive, holding everything srcdiff knows about it.

A reverse rule (vjp) for parameter `x` of primitive `f` is an expression in the primitive's
parameter names, `ans` (its output) and `g` (the adjoint of the output); the compiler substitutes
the program's own variable names and emits the result as source. `srcdiff.adjoint` adds rules.

Besides its vjp and jvp templates a record carries (all in the one `defrule` call that registers it):
* `kind`: its kind law, the kind of the result (scalar or array, rank, dtype) from the kinds of the
  arguments: a law name of transforms/kind_laws.py (LAWS), or a tuple (law name, parameters...); every record
  names one (tests/test_rules_table.py): "dynamic" where the kind depends on run-time values (a user's
  srcdiff.adjoint function), "opaque" where the call gives no value of a kind (range, print, rt.push);
* `shape`: its dims law, which axes of the result have which lengths: "elementwise" (the result
  broadcasts the arguments and each element is a function of theirs), "fill" (the first argument's
  shape, values of its own: zeros_like, full_like(x, v), whose v broadcasts into x's shape), "same" (the first argument's shape: inv, cholesky), "triangle" (tril, triu: a
  matrix's shape, n x n for a vector of length n),
  "transpose", "reduce" (x, axis), "expand_dims" (x, axis), "matmul" (np.dot), "vecmat" / "matvec" (the
  log-domain products), "new" (the shape its first argument gives: np.zeros(W.shape[0])); None: unknown
  (transforms/dims.py);
* `cuda`: its device-code template on scalars (`{0}`, `{1}`, ...: the arguments; cuda/common.py), or None:
  the CUDA target declines a call of it on arrays and scalars alike, naming it;
* `jit_as`: the rule jitted code calls instead, where one computes the same values faster under Numba
  (np.tanh: rt.tanh, an inline polynomial instead of libm's tanh per element) or for arguments Numba's own
  function does not take (np.reshape: rt.reshape, of arrays of any memory order; transforms/products.py
  rewrites the calls), or None;
* `row_as`: what the loop over a block's rows of row-fused code calls instead (np.exp: rt.exp, written inline
  without a call into libm, so the loop vectorises; transforms/optimize/rowblocks.py), or None;
* its canonical form: the rule's name is what generated code calls, and every object in `objects`
  (np.absolute, math.fabs, builtins.abs for "np.abs") is rewritten to it (transforms/resolve.py);
* its implementation, for Python and Numba alike: the function its name denotes in generated code
  (`np.exp`, `math.exp`, `rt.expit`: srcdiff.runtime exports each rt helper, with a Numba overload).
Adding an elementwise function is one `defrule` call in numpy_rules.py and one entry in
tests/test_rules_table.py: kinds, dims, the elementwise fusion and the CUDA lowering read their tables
from the records (`names_with`, `cuda_templates`, `jit_routes`, `row_routes`).

The registry itself (Rule, defrule) is rules/registry.py; numpy_rules.py and runtime_rules.py fill it, and
composites.py holds the functions differentiated as compositions of primitives.
"""
from .registry import (BINOP_RULE, RULES, SHAPE_LAWS, ZERO, Rule, adjoint, alias, cuda_templates, defrule,  # noqa: F401
                       fuses_under_numba, implementation, jit_routes, names_with, objects_of, row_routes,
                       rule_name_of, signature, template_arity)
from . import numpy_rules  # noqa: E402,F401  (fills the table)
from . import runtime_rules  # noqa: E402,F401  (rules for rt.* helpers in generated code)
