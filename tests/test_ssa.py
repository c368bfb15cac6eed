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


def target_bound_again(x):
    for i in range(2):
        i = i + 0.5 * x
    return x * i


def target_bound_before_and_again(x):
    i = 0.0
    for i in range(2):
        i = i + 0.5 * x
    return x * i


def target_bound_again_in_a_branch(x, a):
    for i in range(3):
        if a[i] > 0.0:
            i = i * x
    return x * i


def test_a_loop_variable_bound_again_in_the_body_is_that_binding_after_the_loop():
    """`for i in range(2): i = i + 0.5 * x` then `x * i`: Python's i after the loop is the body's last binding, not
    the iterator's last item; the read after the loop read the loop variable (value 1.5 for 2.625 at x = 1.5, d/dx 1.0
    for 2.5), and with i bound before the loop the body's binding was copied into the loop variable as if carried
    (the value right, d/dx 3.25 for 2.5)."""
    unit = through(target_bound_again, "ssa")
    assert body_source(unit.node) == ("for i in range(2):\n"
                                      "    i1 = 0.5 * x\n"
                                      "    i2 = i + i1\n"
                                      "result = x * i2\n"
                                      "return result")
    assert "i2" in anno.get(unit.node, anno.MAYBE_UNDEFINED)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_through_a_loop_variable_bound_again(jit):
    import srcdiff
    for fn in (target_bound_again, target_bound_before_and_again):
        value, d = srcdiff.value_and_grad(fn, jit=jit)(1.5)
        assert np.isclose(value, fn(1.5)) and np.isclose(d, 2.5)
        assert np.isclose(srcdiff.jvp(fn, jit=jit)(1.5, 1.0)[1], 2.5)
    a = np.array([0.5, -0.2, 1.1])
    check_grad(target_bound_again_in_a_branch, [0.7, a], wrt=0, jit=jit)
    value, d = srcdiff.value_and_grad(target_bound_again_in_a_branch, jit=jit)(0.7, a)
    assert np.isclose(value, target_bound_again_in_a_branch(0.7, a))
    check_grad(target_bound_again_in_a_branch, [0.7, np.array([0.5, 0.2, -1.1])], wrt=0, jit=jit)


def inner_target_read_after(x):
    s = 0.0
    for t in range(2):
        for j in range(3):
            s = s + x * j
        s = s + j * x * x
    return s


def inner_target_shadows_outer(x):
    s = 0.0
    for i in range(2):
        for i in range(3):
            s = s + x * i
        s = s + i * x * x
    return s * i


def test_an_inner_loop_variable_read_after_its_loop_is_a_copy_of_the_outer_iteration():
    """`for t ...: for j in range(3): ...` then `j * x * x` in the outer body: the backward sweep's run of the inner loop
    bound j again before the outer body's adjoint read it (d/dx 15.0 for 18.0 at x = 1.5, silently; jvp was right).
    The read is a copy taken after the inner loop, `j2 = j1`, which the forward sweep tapes like any outer value."""
    unit = through(inner_target_read_after, "ssa")
    assert body_source(unit.node) == ("s = 0.0\n"
                                      "for t in range(2):\n"
                                      "    for j1 in range(3):\n"
                                      "        s1 = x * j1\n"
                                      "        s4 = s + s1\n"
                                      "        s = s4\n"
                                      "    j2 = j1\n"
                                      "    s2 = j2 * x\n"
                                      "    s3 = s2 * x\n"
                                      "    s5 = s + s3\n"
                                      "    j = j2\n"
                                      "    s = s5\n"
                                      "return s")


def grow(x, n):
    for j in range(n):
        x = x * 1.1
    return x * j


def helper_loop_variable_in_a_loop(x):
    s = 0.0
    for t in range(3):
        s = s + grow(x, t + 1)
    return s


def enumerate_items_read_after(x, a):
    s = 0.0
    for t in range(3):
        for j, v in enumerate(a * x):
            s = s + v * 0.1
        s = s + v * j * x
    return s


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_through_a_helper_loop_variable_called_in_a_loop(jit):
    """A helper returning its loop's variable (`return x * j` after `for j in range(n)`), inlined into a loop: d/dx
    2.662 for 3.872 at x = 1.5; an enumerate's index and item read after the inner loop: 9.81 for 14.61."""
    check_grad(helper_loop_variable_in_a_loop, [1.5], jit=jit)
    check_grad(enumerate_items_read_after, [1.5, np.array([0.3, -0.4, 0.8])], wrt=0, jit=jit)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_through_an_inner_loop_variable_read_after_its_loop(jit):
    import srcdiff
    for fn, value, slope in ((inner_target_read_after, 18.0, 18.0), (inner_target_shadows_outer, 36.0, 36.0)):
        assert fn(1.5) == value
        v, d = srcdiff.value_and_grad(fn, jit=jit)(1.5)
        assert np.isclose(v, value) and np.isclose(d, slope), (fn.__name__, v, d)
        check_grad(fn, [0.7], jit=jit)


def copy_then_inner_loop(x, n):
    y = 0.0
    for i in range(n):
        z = y
        for k in range(3):
            z = z + x
        y = z
    return y * x


def root_changed_by_inner_loop(x, n):
    y = 1.0
    s = 0.0
    for i in range(n):
        z = y
        for k in range(2):
            y = y * x
        s = s + y
        y = z
    return s + y


def test_a_copy_an_inner_loop_binds_again_is_no_copy_of_the_carried_name():
    """`z = y`, an inner loop carrying z, then `y = z`: y changes every iteration, so its back-edge copy stays.
    _copy_roots took `y1 = z` for a copy of y (z, bound again by the inner loop's back-edge copy, a copy of y) and left
    `y = y1` out; `z = y`, an inner loop carrying y, then `y = z`: y is bound again, to z. The first
    one's value_and_grad gave (0.0, 0.0) for (13.5, 18.0) at x = 1.5, n = 2 (fuzz 1300070, hvp d/dx 279.49
    for 273.27 through a reverse-mode `d_x4 = d_x` ... `d_x = d_x4` around an inner loop)."""
    body = body_source(through(copy_then_inner_loop, "ssa").node)
    assert "    y1 = z\n    y = y1\n" in body, body


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_gradients_through_a_copy_an_inner_loop_binds_again(jit):
    import srcdiff
    for fn, value, slope in ((copy_then_inner_loop, 13.5, 18.0), (root_changed_by_inner_loop, 5.5, 6.0)):
        assert np.isclose(fn(1.5, 2), value)
        v, d = srcdiff.value_and_grad(fn, jit=jit)(1.5, 2)
        assert np.isclose(v, value) and np.isclose(d, slope), (fn.__name__, v, d)
        check_grad(fn, [0.7, 3], wrt=0, jit=jit)
        h = srcdiff.hvp(fn, wrt=0, jit=jit)(0.7, 3, 1.0)
        eps = 1e-5
        g = srcdiff.grad(fn, wrt=0)
        assert np.isclose(h, (g(0.7 + eps, 3) - g(0.7 - eps, 3)) / (2 * eps), rtol=1e-5), (fn.__name__, h)
