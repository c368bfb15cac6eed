"""transforms/ssa.py: single assignment, with merge copies at the end of both branches of an if and
loop-carried copies at the end of a loop body (annotated MERGE and PHI for the passes after it)."""
import numpy as np
import pytest

from srcdiff.transforms import annotations as anno
from srcdiff.transforms.astutil import walk_statements
from gradcheck import check_grad
from passes import body_source, through


def branches(x, c):
    if c > 0.0:
        y = x * 2.0
    else:
        y = x + 1.0
    return y * y


def test_each_branch_copies_its_version_into_one_merged_name():
    unit = through(branches, "ssa")
    assert body_source(unit.node) == ("cond = c > 0.0\n"
                                      "if cond:\n"
                                      "    y = x * 2.0\n"
                                      "    y2 = y\n"
                                      "else:\n"
                                      "    y1 = x + 1.0\n"
                                      "    y2 = y1\n"
                                      "result = y2 * y2\n"
                                      "return result")
    merges = [s for s in walk_statements(unit.node.body) if anno.get(s, anno.MERGE)]
    assert [body_source([s]) for s in merges] == ["y2 = y", "y2 = y1"]


def loop(x, a):
    for i in range(3):
        x = np.sin(x) + a[i]
    return x


def test_a_loop_carried_name_is_copied_back_at_the_end_of_the_body():
    unit = through(loop, "ssa")
    stmts = list(walk_statements(unit.node.body))
    phis = [body_source([s]) for s in stmts if anno.get(s, anno.PHI)]
    assert phis == ["x = x3"]
    assigned = [s.targets[0].id for s in stmts if hasattr(s, "targets") and not anno.get(s, anno.PHI)]
    assert "x" not in assigned   # inside the loop only versions are assigned; the copy back is the PHI


def test_every_name_is_assigned_once_outside_loop_copies():
    unit = through(branches, "ssa")
    names = [s.targets[0].id for s in walk_statements(unit.node.body)
             if hasattr(s, "targets") and not anno.get(s, anno.MERGE)]
    assert len(names) == len(set(names))


def one_sided(x, c):
    if c > 0.0:
        y = x * 2.0  # noqa: F841 (bound on one path only: what the test is about)
    return x


def test_names_bound_on_one_path_only_are_noted_on_the_function():
    unit = through(one_sided, "ssa")
    assert anno.get(unit.node, anno.MAYBE_UNDEFINED) == {"y"}


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_through_merges_and_loop_copies(jit):
    check_grad(branches, [0.7, 1.0], wrt=0, jit=jit)
    check_grad(branches, [0.7, -1.0], wrt=0, jit=jit)
    check_grad(loop, [0.3, np.array([0.5, -0.2, 1.1])], jit=jit)
