"""Every construct of the core compiler, gradient-checked against central differences in both backends."""
import numpy as np
import pytest

import constructs as C
from gradcheck import check_grad

rng = np.random.default_rng(1)
K, V, T = 3, 4, 6
A33 = rng.normal(size=(3, 3))
CASES = {
    "branch_then": (C.branch, [0.7, 1.3]),
    "branch_elif": (C.branch, [0.2, 1.3]),
    "branch_else": (C.branch, [-0.4, 1.3]),
    "for_range": (C.loop_sum, [0.3, 5]),
    "while_data_dependent": (C.while_loop, [1.2]),
    "inplace_recurrence": (C.recurrence, [0.8, 0.3, 50]),
    "break": (C.breaks, [0.4]),
    "continue": (C.continues, [0.9]),
    "early_return_taken": (C.early_return, [0.5]),
    "early_return_not_taken": (C.early_return, [-0.5]),
    "return_in_loop_taken": (C.loop_return, [0.7]),
    "return_in_loop_not_taken": (C.loop_return, [0.1]),
    "user_function_calls": (C.calls, [0.3, 0.4]),
    "closure_nested_def": (C.closure, [rng.normal(size=3), rng.normal(size=(4, 3))], (0,)),
    "lambdas": (C.uses_lambda, [rng.normal(size=3)]),
    "hmm_log_partition": (C.hmm, [np.log(np.ones(K) / K), np.log(rng.dirichlet(np.ones(K), K)),
                                  np.log(rng.dirichlet(np.ones(V), K)), rng.integers(0, V, T)], (0, 1, 2)),
    "array_methods": (C.methods, [rng.normal(size=(3, 3))]),
    "augassign_unpack_swap": (C.augassign, [rng.normal(size=4)]),
    "nested_loops_with_branches": (C.nested, [rng.normal(size=4)]),
    "enumerate_zip": (C.enumerate_zip, [rng.normal(size=4), rng.normal(size=4)]),
    "reductions_axis_keepdims": (C.reductions, [rng.normal(size=(3, 4))]),
    "linalg": (C.linalg, [A33, rng.normal(size=3)]),
    "concatenate_stack": (C.stacking, [rng.normal(size=3), rng.normal(size=3)]),
    "where_clip_max_min_abs": (C.where_clip, [rng.normal(size=6)]),
    "chained_comparison": (C.chained, [0.5]),
    "global_array_through_callee": (C.calls_global_user, [rng.normal(size=3), 0.7]),
    "nested_loops_carried_counter": (C.nested_counter, [np.linspace(0.1, 0.5, 5)]),
    "comprehension_sums": (C.comprehension_sums, [rng.normal(size=5), rng.normal(size=(3, 5))], (0, 1)),
}


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_construct(name, jit):
    case = CASES[name]
    f, args = case[0], case[1]
    wrt = case[2] if len(case) > 2 else None
    check_grad(f, [a.copy() if isinstance(a, np.ndarray) else a for a in args], wrt=wrt, jit=jit)
