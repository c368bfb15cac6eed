"""Gradients specialised to which axes of the arguments have equal lengths (transforms/dims.py).

The reverse pass drops `rt.unbroadcast(g, x)` where g certainly has x's shape, and elementwise
statements then fuse; a wrong label would give a gradient of the wrong shape or a wrong sum, so
every shape pattern (equal lengths by coincidence, lengths of 1, broadcasting) is gradient-checked,
the same function called with one pattern after another included.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcdiff
from gradcheck import check_grad, source_module
from srcdiff.transforms import dims

SRC = '''
import numpy as np


def loss(w, b, x, y):
    z = x @ w + b
    return np.mean(np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z) + 0.001 * np.sum(w ** 2)


def mixed(a, c):
    u = np.sin(a * c + a) * c
    return np.sum(u * np.tanh(a) + np.exp(-c * c))


def rows(m, v):
    s = m[0] * v
    for i in range(1, m.shape[0]):
        s = s + m[i] * v
    return np.sum(np.sin(s) * m[:, 0][0]) + np.sum(np.maximum(m, 0.1) * v)


def reduced(m, v):
    return np.sum(np.sum(m, axis=1) * v) + np.sum(np.sum(m * m, axis=0))


def elman(W, U, b, V, xs, targets):
    h = np.zeros(W.shape[0])
    loss = 0.0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
        loss = loss + np.sum((V @ h - targets[t]) ** 2)
    return loss / xs.shape[0]
'''


@pytest.fixture(scope="module")
def mod():
    return source_module("dims_cases", SRC)


def test_labels_name_equal_lengths_and_ones():
    x, y, w = np.zeros((5, 3)), np.zeros(5), np.zeros((3, 1))
    assert dims.label_arguments((x, y, 2.0, w)) == (("n0", "n1"), ("n0",), None, ("n1", 1))
    assert dims.label_arguments((np.zeros((7, 2)), np.zeros(7), np.zeros(2), 1.0)) == \
        dims.label_arguments((np.zeros((50, 9)), np.zeros(50), np.zeros(9), 3.0))


def test_broadcast_of_labels():
    assert dims.broadcast([("n0",), ("n1", 1)]) == ("n1", "n0")
    assert dims.broadcast([("n0",), ("n1",)]) == (dims.OTHER,)   # equal, unless NumPy raises: not 1
    assert dims.broadcast([(), ("n0", "n1")]) == ("n0", "n1")
    assert dims.broadcast([(1,), (1, 1)]) == (1, 1)


@pytest.mark.parametrize("jit", [False, True])
def test_logistic_loss_fuses_without_unbroadcast(mod, jit):
    rng = np.random.default_rng(0)
    x, y, w = rng.normal(size=(40, 3)), (rng.uniform(size=40) > 0.5) * 1.0, rng.normal(size=3)
    check_grad(mod.loss, [w, 0.1, x, y], wrt=(0, 1), jit=jit)
    g = srcdiff.value_and_grad(mod.loss, wrt=(0, 1), jit=jit)
    g(w, 0.1, x, y)
    src = srcdiff.source(g)
    assert "rt.mean_grad" not in src                     # a scalar / size, not a filled array
    assert "np.maximum(z, 0.0) + " + ("rt" if jit else "np") + ".log1p(" in src     # one fused statement
    if not jit:
        assert "d_b = np.sum(d_z)" in src                # b is a scalar: its adjoint is a sum
        assert "rt.unbroadcast" not in src               # y * z, np.maximum(z, 0.0): same shapes
    else:                                                # one loop over the rows (optimize/rowfusion.py)
        assert "rt.rows_dot(z1_block, x_block, w)" in src and "rt.rows_add(d_w, x_block, d_z_block)" in src
        assert "d_z_block[k] = d_z" in src and "rt.unbroadcast" not in src   # b's adjoint summed row by row


@pytest.mark.parametrize("jit", [False, True])
def test_patterns_one_after_another(mod, jit):
    """One gradient object, called with shape patterns that label differently: each gets its own code."""
    rng = np.random.default_rng(1)
    for sa, sc in [((4,), (4,)), ((4,), (1,)), ((1,), (4,)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((4, 4), (4,)),
                   ((3, 4), (3, 1)), ((4,), (4,))]:
        check_grad(mod.mixed, [rng.normal(size=sa), rng.normal(size=sc)], jit=jit)


@pytest.mark.parametrize("jit", [False, True])
def test_empty_batch_after_full_ones(mod, jit):
    """A mean over an empty batch (x of shape (0, D)) after batches of rows: its adjoint g / x.size was a
    Python float divided by 0 in the Python backend (ZeroDivisionError; now each element's share,
    g / max(x.size, 1), of no element). The value is NumPy's nan; the gradient is that of the L2 term only
    (JAX's too), in both backends."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=3)
    g = srcdiff.value_and_grad(mod.loss, wrt=(0, 1), jit=jit)
    for n in (40, 0, 1, 0):
        x, y = rng.normal(size=(n, 3)), (rng.uniform(size=n) > 0.5) * 1.0
        with np.errstate(all="ignore"):
            value, (dw, db) = g(w, 0.1, x, y)
        if n:
            check_grad(mod.loss, [w, 0.1, x, y], wrt=(0, 1), jit=jit)
            continue
        assert np.isnan(value)
        np.testing.assert_allclose(dw, 0.002 * w, rtol=1e-12)
        assert db == 0.0


@pytest.mark.parametrize("jit", [False, True])
def test_loops_indexing_and_reductions(mod, jit):
    rng = np.random.default_rng(2)
    for sm, sv in [((3, 4), (4,)), ((4, 4), (4,)), ((3, 4), (1,)), ((1, 4), (4,)), ((3, 1), (1,))]:
        check_grad(mod.rows, [rng.normal(size=sm), rng.normal(size=sv)], jit=jit)
    for sm, sv in [((3, 4), (3,)), ((4, 4), (4,)), ((3, 1), (3,)), ((1, 4), (1,))]:
        check_grad(mod.reduced, [rng.normal(size=sm), rng.normal(size=sv)], jit=jit)


def test_matrix_times_a_vector_carried_by_a_loop_has_the_matrix_rows():
    """`W @ h` with h carried by the loop from np.zeros(n) (labels unknown) has W's rows: matmul's labels
    follow the operands' ranks. Before, h3 = W @ h was unlabelled, so the backward sweep unbroadcast five
    adjoints and taped h3, h5 and loss1 for their shapes alone (the Elman RNN of benchmarks/first_call.py:
    five row tapes, now two; its cold first call ~20% less CPU)."""
    assert dims._matmul(("n0", "n0"), None, (2, 1)) == ("n0",)
    assert dims._matmul(None, ("n0", "n1"), (1, 2)) == ("n1",)
    assert dims._matmul(("n0", "n0"), None, (2, 2)) is None
    assert dims._matmul(("n0", "n0"), None) is None


@pytest.mark.parametrize("jit", [False, True])
def test_elman_rnn_gradient_has_no_unbroadcast_nor_dead_recomputation(mod, jit):
    rng = np.random.default_rng(4)
    H, D, O, T = 5, 3, 2, 4
    args = [rng.normal(size=(H, H)) * 0.3, rng.normal(size=(H, D)) * 0.3, rng.normal(size=H),
            rng.normal(size=(O, H)) * 0.3, rng.normal(size=(T, D)), rng.normal(size=(T, O))]
    check_grad(mod.elman, args, wrt=(0, 1, 2, 3), jit=jit)
    g = srcdiff.value_and_grad(mod.elman, wrt=(0, 1, 2, 3), jit=jit)
    g(*args)
    src = srcdiff.source(g)
    assert "rt.unbroadcast" not in src
    assert src.count("rt.row_tape(" if jit else ".append(") == 2, src
    backward = src[src.index("# backward sweep"):]
    assert "loss4" not in backward, backward    # (np.sum's adjoint is a scalar: loss3 ** 2 is not recomputed)


def _shapes():
    """Two broadcast-compatible shapes of rank <= 3 with lengths 1-3 (coincidences and ones included)."""
    def pair(out):
        def side(draw_mask):
            keep = [d if m else 1 for d, m in zip(out, draw_mask)]
            return keep
        return st.tuples(st.lists(st.booleans(), min_size=len(out), max_size=len(out)),
                         st.lists(st.booleans(), min_size=len(out), max_size=len(out)),
                         st.integers(0, len(out)), st.integers(0, len(out))).map(
            lambda t: (tuple(side(t[0])[t[2]:]), tuple(side(t[1])[t[3]:])))
    return st.lists(st.integers(1, 3), min_size=0, max_size=3).flatmap(pair)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(_shapes())
def test_random_broadcasting_shapes(mod, shapes):
    sa, sc = shapes
    rng = np.random.default_rng(abs(hash(shapes)) % 2**32)
    a = rng.normal(size=sa) if sa else float(rng.normal())
    c = rng.normal(size=sc) if sc else float(rng.normal())
    check_grad(mod.mixed, [a, c])


SWEEP_CASES = {
    "straight": "def f(x, y):\n    a = x * y\n    b = np.sum(a, axis=0)\n    c = a @ b\n    return c",
    "parameter bound again": "def f(x, y):\n    a = x + 1.0\n    x = y[0]\n    b = x * a\n    return b",
    "read before bound": "def f(x, y):\n    for i in range(3):\n        if i > 0:\n            b = a * y\n"
                         "        a = x + y\n    return a",
    "bound twice": "def f(x, y):\n    a = x\n    b = a * 2.0\n    a = y[:, 0]\n    c = b + a\n    return c",
    "branches": "def f(x, y):\n    if x[0, 0] > 0:\n        a = x\n    else:\n        a = y\n    b = a * x\n    return b",
    "stack": "def f(x, y):\n    s = rt.stack()\n    for i in range(2):\n        a = x * 2.0\n        rt.push(s, a)\n"
             "    for i in range(2):\n        b = rt.pop(s)\n        c = b + y[:, None]\n    return c",
}


def test_a_popped_value_has_the_labels_of_the_values_pushed():
    """Generated code differentiated again (a gradient-norm penalty) pops the values its forward loop pushed: the
    popped value has their labels (joined), so the outer gradient knows its shape class (a zero adjoint of it is
    `rt.zeros_like(x)`, not read from a stored copy: nested fuzz seed 1008231); the stack's own binding tells none."""
    import gast
    fn = gast.parse(SWEEP_CASES["stack"]).body[0]
    got = dims.infer(fn, {}, {"x": ("n0", "n1"), "y": ("n0",)})
    assert got["b"] == got["c"] == ("n0", "n1"), got
    mixed = SWEEP_CASES["stack"].replace("rt.push(s, a)", "rt.push(s, a)\n        rt.push(s, y)")
    assert dims.infer(gast.parse(mixed).body[0], {}, {"x": ("n0", "n1"), "y": ("n0",)}).get("b") is None


@pytest.mark.parametrize("case", sorted(SWEEP_CASES))
def test_one_sweep_settles_only_where_a_second_changes_nothing(case, monkeypatch):
    import gast
    fn = gast.parse(SWEEP_CASES[case]).body[0]
    arg_dims = {"x": ("n0", "n1"), "y": ("n0",)}
    once = dims.infer(fn, {}, arg_dims)
    monkeypatch.setattr(dims, "SETTLE_EARLY", False)     # (every sweep until nothing changes)
    assert once == dims.infer(fn, {}, arg_dims)


NEW_ARRAYS = '''
def f(x, W, n, k):
    rows = W.shape[0]
    h = np.zeros(rows)
    t = np.ones((2, len(x)))
    u = np.zeros(3)
    v = np.full(W.shape, 0.5)
    z = np.zeros(n)
    one = np.zeros((1, W.shape[1]))
    for i in range(3):
        k = k + 1
    w = np.zeros(k)
    return h, t, u, v, z, one, w
'''


def test_new_arrays_take_the_lengths_their_shape_argument_holds():
    """np.zeros / np.ones / np.empty / np.full (the rules' dims law "new") label their result with the lengths
    the shape argument holds: an argument's axis (`W.shape[0]`, `len(x)`, `W.shape` whole), a literal (its own
    label, equal only to the same literal), 1 (the label 1); an integer argument or one a loop changes: unknown."""
    import gast
    fn = gast.parse(NEW_ARRAYS).body[0]
    found = dims.infer(fn, {}, {"x": ("n0",), "W": ("n1", "n2")})
    assert found["h"] == ("n1",) and found["t"] == (2, "n0") and found["u"] == (3,)
    assert found["v"] == ("n1", "n2") and found["one"] == (1, "n2")
    assert found.get("z") is None and found.get("w") is None


ACCUMULATE = '''
import numpy as np


def accumulate(x, A, n):
    s = np.zeros(A.shape[1])
    for i in range(n):
        s = s + A[i % 2] * x[i]
    return np.sum(s ** 2)
'''


@pytest.mark.parametrize("jit", [False, True])
def test_a_loop_carried_array_made_from_an_arguments_length_is_not_taped_for_its_shape(jit):
    """`s = np.zeros(A.shape[1])` carried by the loop has A's row length: `s + A[i % 2] * x[i]` keeps it, so
    the backward sweep needs no unbroadcast and no stack of s (before, every iteration's s was pushed only to be
    read for its shape: the tape grew by one array per iteration), and the adjoint of the scalar x[i] is
    np.sum of the products, not rt.unbroadcast onto x[i] (which kept x[i] for its shape)."""
    mod = source_module("dims_accumulate", ACCUMULATE)
    rng = np.random.default_rng(5)
    for shape in [(2, 3), (2, 1), (2, 2), (4, 2)]:
        check_grad(mod.accumulate, [rng.normal(size=6), rng.normal(size=shape), 6], wrt=(0,), jit=jit)
    g = srcdiff.grad(mod.accumulate, wrt=(0,), jit=jit)
    g(rng.normal(size=6), rng.normal(size=(2, 3)), 6)
    src = srcdiff.source(g)
    assert "rt.unbroadcast" not in src and "s_stack" not in src and "row_tape" not in src, src
    assert "np.sum(d_s * " in src, src


LITERAL = '''
import numpy as np


def literal(x, A, n):
    s = np.zeros(2)
    for i in range(n):
        s = s + A[i % 2] * x[i]
    return np.sum(s ** 2)


def branches(x, A, c):
    if c > 0.0:
        s = np.ones(2) * c
    else:
        s = A[0] * c
    t = s * x[0] + A[1]
    return np.sum(t * t) + np.sum(s)
'''


def test_labels_joined_by_a_loop_or_a_branch():
    """Two labels other than 1 joined (np.zeros(2) carried by a loop that adds a row of A; a branch's two
    values) are dims.OTHER: a length other than 1, equal to no other label (so no shape class); with a 1, or of
    other ranks, unknown."""
    assert dims.joined(("n0", 2), ("n0", "n1")) == ("n0", dims.OTHER)
    assert dims.joined(("n0",), (1,)) is None and dims.joined(("n0",), ("n0", 2)) is None
    assert dims.joined(("n0",), None) is None and dims.joined((3,), (3,)) == (3,)
    assert dims.without_unit_axes({"a": ("n0", dims.OTHER), "b": ("n0", 1), "c": (), "d": None}) == {"a": 2}


@pytest.mark.parametrize("jit", [False, True])
def test_an_array_of_a_literal_length_carried_by_a_loop_needs_no_unbroadcast(jit):
    """`s = np.zeros(2)` then `s = s + A[i % 2] * x[i]`: s's length is 2 and A's row length a label of its
    own; they broadcast together, so they are equal (or NumPy raises): s has no axis of length 1 and the
    adjoint broadcast from it has its shape (reverse.Tidy drops `rt.unbroadcast(d_s, s)`, and with it the stack
    of s). Where A has a row of length 1 the unbroadcast stays (A's adjoint is a sum)."""
    mod = source_module("dims_literal", LITERAL)
    rng = np.random.default_rng(6)
    for shape in [(2, 2), (3, 2), (2, 1)]:
        check_grad(mod.literal, [rng.normal(size=6), rng.normal(size=shape), 6], wrt=(0, 1), jit=jit)
    for c in (0.7, -0.4):
        for shape in [(2, 2), (2, 1), (3, 2)]:
            check_grad(mod.branches, [rng.normal(size=3), rng.normal(size=shape), c], wrt=(0, 1, 2), jit=jit)
    g = srcdiff.grad(mod.literal, wrt=(0,), jit=jit)
    g(rng.normal(size=6), rng.normal(size=(2, 2)), 6)
    src = srcdiff.source(g)
    assert "rt.unbroadcast" not in src and "s_stack" not in src and "row_tape" not in src, src
    g = srcdiff.grad(mod.literal, wrt=(1,), jit=jit)
    g(rng.normal(size=6), rng.normal(size=(2, 1)), 6)
    assert "rt.unbroadcast" in srcdiff.source(g)
