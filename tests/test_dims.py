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
    assert dims.broadcast([("n0",), ("n1",)]) is None          # unequal, unless NumPy raises
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
        assert "rt.unbroadcast(d_z, b)" in src           # b is a scalar: its adjoint is a sum
        assert src.count("rt.unbroadcast") == 1          # y * z, np.maximum(z, 0.0): same shapes
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
}


@pytest.mark.parametrize("case", sorted(SWEEP_CASES))
def test_one_sweep_settles_only_where_a_second_changes_nothing(case, monkeypatch):
    import gast
    fn = gast.parse(SWEEP_CASES[case]).body[0]
    arg_dims = {"x": ("n0", "n1"), "y": ("n0",)}
    once = dims.infer(fn, {}, arg_dims)
    monkeypatch.setattr(dims, "SETTLE_EARLY", False)     # (every sweep until nothing changes)
    assert once == dims.infer(fn, {}, arg_dims)
