"""Shared helpers: compare srcdiff gradients with central finite differences; load generated test sources."""
import copy
import importlib.util
import os
import sys
import tempfile
import tracemalloc

import numpy as np

import srcdiff


def numerical_grad(f, args, k, eps=1e-6):
    """Central differences of scalar f w.r.t. positional argument k (float or array)."""
    args = list(args)
    x = args[k]
    if np.ndim(x) == 0:
        hi = f(*(args[:k] + [x + eps] + args[k + 1:]))
        lo = f(*(args[:k] + [x - eps] + args[k + 1:]))
        return (hi - lo) / (2 * eps)
    x = np.array(x, dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        out[i] = (f(*(args[:k] + [xp] + args[k + 1:])) - f(*(args[:k] + [xm] + args[k + 1:]))) / (2 * eps)
    return out


def rebuilt_like(x, items):
    return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)


def structured_numerical_grad(f, args, k, eps=1e-6):
    """Central differences of f w.r.t. argument k (an array, a number, or a dict, tuple or namedtuple of them), in
    the shape of f's value times the argument's."""
    args = list(args)
    x = args[k]
    if isinstance(x, dict):
        out = {}
        for key in x:
            def fk(v, key=key):
                a2 = copy.deepcopy(args)
                a2[k] = dict(x)
                a2[k][key] = v
                return f(*a2)
            out[key] = structured_numerical_grad(fk, [x[key]], 0, eps)
        return out
    if isinstance(x, (tuple, list)):
        out = []
        for j in range(len(x)):
            def fj(v, j=j):
                a2 = copy.deepcopy(args)
                items = list(a2[k])
                items[j] = v
                a2[k] = rebuilt_like(x, items)
                return f(*a2)
            out.append(structured_numerical_grad(fj, [x[j]], 0, eps))
        return rebuilt_like(x, out)
    if np.ndim(x) == 0:
        a1, a2 = copy.deepcopy(args), copy.deepcopy(args)
        a1[k], a2[k] = x + eps, x - eps
        return (np.asarray(f(*a1)) - np.asarray(f(*a2))) / (2 * eps)
    x = np.asarray(x, dtype=float)
    cols = []
    for i in np.ndindex(x.shape):
        a1, a2 = copy.deepcopy(args), copy.deepcopy(args)
        a1[k], a2[k] = x.copy(), x.copy()
        a1[k][i] += eps
        a2[k][i] -= eps
        cols.append((np.asarray(f(*a1)) - np.asarray(f(*a2))) / (2 * eps))
    y = np.asarray(cols[0])
    return np.moveaxis(np.array(cols).reshape(x.shape + y.shape), list(range(x.ndim)),
                       list(range(y.ndim, y.ndim + x.ndim)))


def check_grad(f, args, wrt=None, jit=False, rtol=1e-5, atol=1e-6):
    """Assert srcdiff.grad(f, wrt) matches finite differences at `args`; returns the gradients."""
    args = [np.array(a, dtype=float) if isinstance(a, list) else a for a in args]
    if wrt is None:
        wrt = tuple(i for i, a in enumerate(args) if isinstance(a, float) or
                    (isinstance(a, np.ndarray) and a.dtype.kind == "f"))
    wrt = tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = srcdiff.grad(f, wrt=wrt, jit=jit)(*copies)
    for a, c in zip(args, copies):  # the gradient leaves the arguments as they were
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, c)
    for k, g in zip(wrt, got):
        expect = numerical_grad(f, args, k)
        np.testing.assert_allclose(g, expect, rtol=rtol, atol=atol, err_msg=f"d/d arg {k}")
        assert np.shape(g) == np.shape(args[k])
    return got


def check_value_grad_jvp(f, args, wrt, jit, tangents, atol=1e-7):
    """Assert value_and_grad(f, wrt) at `args`: the value f's, each gradient central differences', the Numba
    backend's (jit) the Python one's, and jvp along `tangents` (one per wrt argument) the gradients' dot product."""
    value, grads = srcdiff.value_and_grad(f, wrt=wrt, jit=jit)(*args)
    assert np.isclose(value, f(*args))
    for k, g in zip(wrt, grads):
        np.testing.assert_allclose(g, numerical_grad(f, list(args), k), rtol=1e-6, atol=atol)
    if jit:
        for a, b in zip(grads, srcdiff.grad(f, wrt=wrt)(*args)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    _, directional = srcdiff.jvp(f, wrt=wrt)(*args, tuple(tangents))
    assert np.isclose(directional, sum(np.sum(g * t) for g, t in zip(grads, tangents)))


def source_module(name: str, source: str):
    """Import `source` as module `name` from a real file (srcdiff reads the functions' source back)."""
    path = os.path.join(tempfile.mkdtemp(prefix=f"srcdiff_{name}_"), f"{name}.py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def exported(g, tmp_path, name, **options):
    """Export `g` (srcdiff.export, with `options`: jit=True) and import the module in this process (its own module
    name): (module, source)."""
    path = srcdiff.export(g, str(tmp_path / f"{name}.py"), **options)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(tmp_path))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(tmp_path))
    with open(path) as fh:
        return mod, fh.read()


def structure_leaves(v):
    """The arrays and numbers of a (nested) dict, tuple, list or namedtuple, in order."""
    if isinstance(v, dict):
        return [x for w in v.values() for x in structure_leaves(w)]
    if isinstance(v, (tuple, list)):
        return [x for w in v for x in structure_leaves(w)]
    return [v]


def rebuilt_structure(like, flat):
    """A structure shaped like `like` whose leaves are taken in order from the iterator `flat`."""
    if isinstance(like, dict):
        return {k: rebuilt_structure(v, flat) for k, v in like.items()}
    if isinstance(like, (tuple, list)):
        items = [rebuilt_structure(v, flat) for v in like]
        return type(like)(*items) if hasattr(like, "_fields") else type(like)(items)
    return next(flat)


def structured_tangent(a, rng):
    """A random direction shaped like the (nested) dict, tuple, list or namedtuple `a`: normal draws per leaf."""
    if isinstance(a, dict):
        return {k: structured_tangent(v, rng) for k, v in a.items()}
    if isinstance(a, (tuple, list)):
        return rebuilt_like(a, [structured_tangent(v, rng) for v in a])
    return rng.normal(size=np.shape(a)) if np.ndim(a) else float(rng.normal())


def structured_dot(g, t):
    """The inner product of two structures of the same shape, leaf by leaf (a gradient times a direction)."""
    return sum(float(np.vdot(np.asarray(u, float), np.asarray(v, float)))
               for u, v in zip(structure_leaves(g), structure_leaves(t)))


def assert_structures_close(a, b, rtol, atol, what=""):
    """Two structures have the same leaves, each close (as floats)."""
    for u, v in zip(structure_leaves(a), structure_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(u, float), np.asarray(v, float), rtol=rtol, atol=atol, err_msg=what)


def structured_shift(a, t, s):
    """a + s * t leaf by leaf, for a structure a and a direction t of its shape."""
    if isinstance(a, dict):
        return {k: structured_shift(a[k], t[k], s) for k in a}
    if isinstance(a, (tuple, list)):
        return rebuilt_like(a, [structured_shift(u, w, s) for u, w in zip(a, t)])
    return a + s * t


def peak_bytes(fn, *args):
    """Peak bytes allocated (tracemalloc sees NumPy's arrays) during a call of fn after a first one, which may
    allocate what the runtime keeps for later calls (80 680 bytes at the first call of test_checkpoints'
    test_memory_drops's checkpointed gradient, 40 504 at the next)."""
    fn(*args)
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
