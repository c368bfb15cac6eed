"""forward_api._Matrix: srcdiff.jacobian / hessian with respect to a namedtuple argument of arrays and numbers give
a block per field in a namedtuple of its class, as jax.jacobian / jax.hessian give for one (a hessian's a namedtuple
of namedtuples, `H.W.b` shaped W.shape + b.shape), as for a dict by key. They were declined "as for tuples" (its wrt
argument 'p' is a Layer...), while grad w.r.t. it worked (h23c). Checked against central differences, in both
jacobian modes, on both backends and beside an array argument; a namedtuple holding tuples is declined."""
import collections

import numpy as np
import pytest

import srcdiff

Layer = collections.namedtuple("Layer", ["W", "b", "s"])
JIT = pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])


def layer(p, x):
    return np.tanh(p.W @ x + p.b) * p.s


def layer_loss(p, x):
    return np.sum(layer(p, x) ** 2) + p.s ** 3 + np.sum(p[1] * p.b)


def _point():
    rng = np.random.default_rng(5)
    return Layer(rng.normal(size=(2, 3)), rng.normal(size=2), 0.7), rng.normal(size=3)


def _flat(p):
    return np.concatenate([np.ravel(v) for v in p])


def _unflat(v, like):
    out, at = [], 0
    for item in like:
        n = int(np.size(item))
        out.append(v[at:at + n].reshape(np.shape(item)) if np.ndim(item) else float(v[at]))
        at += n
    return Layer(*out)


@JIT
def test_jacobian_with_respect_to_a_namedtuple(jit):
    p, x = _point()
    v0 = _flat(p)
    Jn = np.stack([(layer(_unflat(v0 + 1e-6 * e, p), x) - layer(_unflat(v0 - 1e-6 * e, p), x)) / 2e-6
                   for e in np.eye(v0.size)], axis=-1)
    for mode in ("forward", "reverse"):
        J = srcdiff.jacobian(layer, jit=jit, mode=mode)(p, x)    # (declined: "its wrt argument 'p' is a Layer")
        assert type(J) is Layer, type(J)
        at = 0
        for field, item in zip(Layer._fields, p):
            n = int(np.size(item))
            block = getattr(J, field)
            assert np.shape(block) == (2,) + np.shape(item)
            np.testing.assert_allclose(np.reshape(block, (2, n)), Jn[:, at:at + n], rtol=1e-6, atol=1e-8)
            at += n
    Jp, Jx = srcdiff.jacobian(layer, wrt=(0, 1), jit=jit)(p, x)
    assert type(Jp) is Layer and np.shape(Jx) == (2, 3)


@JIT
def test_hessian_with_respect_to_a_namedtuple(jit):
    p, x = _point()
    v0 = _flat(p)
    g = srcdiff.grad(layer_loss)
    Hn = np.stack([(_flat(g(_unflat(v0 + 1e-5 * e, p), x)) - _flat(g(_unflat(v0 - 1e-5 * e, p), x))) / 2e-5
                   for e in np.eye(v0.size)], axis=-1)
    H = srcdiff.hessian(layer_loss, jit=jit)(p, x)
    assert type(H) is Layer and all(type(row) is Layer for row in H)
    assert np.shape(H.W.b) == (2, 3, 2) and isinstance(H.s.s, float)
    full = np.concatenate([np.concatenate([np.reshape(getattr(getattr(H, fj), fk), (np.size(vj), np.size(vk)))
                                           for fk, vk in zip(Layer._fields, p)], axis=1)
                           for fj, vj in zip(Layer._fields, p)], axis=0)
    np.testing.assert_allclose(full, Hn, rtol=1e-4, atol=1e-6)
    (Hpp, Hpx), (Hxp, Hxx) = srcdiff.hessian(layer_loss, wrt=(0, 1), jit=jit)(p, x)
    np.testing.assert_allclose(Hpp.W.b, H.W.b, rtol=1e-9)
    assert np.shape(Hpx.W) == (2, 3, 3) and np.shape(Hxp.b) == (3, 2) and np.shape(Hxx) == (3, 3)
    np.testing.assert_allclose(Hxp.W, np.moveaxis(Hpx.W, -1, 0), rtol=1e-6, atol=1e-9)


Pair = collections.namedtuple("Pair", ["head", "rest"])


def nested(q, x):
    return np.sum(q.head * x) + q.rest[0] * q.rest[1]


def test_a_namedtuple_holding_tuples_is_declined_with_advice():
    with pytest.raises(srcdiff.SrcdiffError, match=r"its wrt argument 'q' is a Pair of tuples, lists or dicts(?s:.*)"
                                                   r"or a dict or namedtuple of them"):
        srcdiff.hessian(nested)(Pair(np.ones(2), (0.5, 0.25)), np.ones(2))
