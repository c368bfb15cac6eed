"""srcdiff.cuda.vmap of axis reorders, index lists of constants and casts, which the device declined before.

- `np.swapaxes`, `x.mT` (srcdiff's np.swapaxes(x, -1, -2)), `np.moveaxis` and `np.transpose` with axes: "the call
  np.swapaxes(...) has no device lowering" (and np.moveaxis; np.transpose with axes: "transpose with explicit
  axes"). Each reads its argument at the permuted index (cuda/common.py axes_order). `np.ascontiguousarray` and
  `np.asfortranarray` of an array are its values.
- An index list of integers written out (`a[[2, 0, -1]]`, `M[:, [0, 2]]`, `M[1, [0, -1]]`, generated code's
  `idx = np.array((2, 0, -1))`), or computed from per-example shapes (`a[[0, a.shape[0] - 1]]`): "fancy (array)
  indexing". It is read at the result's index (cuda/common.py
  index_lists, expressions.ExpressionLowering._view), and so are reverse mode's `rt.written` and `rt.index_add`
  (np.add.at: an element named twice gets both adjoints, `M[[0, 0]]`); `b[[0, 1]]` is a copy, as in NumPy, for the
  views' check (cuda/views.py). Still declined: two index lists in one
  subscript, an index list computed at run time, and a write through a list naming an element twice.
- `.astype(float)` / `np.float64` / `int` / `bool` (and `np.asarray(x, dtype=...)`): "the call of a cast to a
  dtype". The device computes in float64 and int64, so casts to those and to bool run; a cast to float32 (which
  the CPU rounds) is declined, and so is an array literal with dtype=np.float32, which was computed in float64.

Each case runs on numba's CUDA simulator (a subprocess) against the CPU (jit=False) per example: value_and_grad,
jvp and hvp, and the CPU gradient and hvp against central differences (of f, of the gradient); the PTX tests compile the kernels with numba-cuda."""
import json
import os

if __name__ == "__main__":      # the simulator subprocess (cuda_sim.results_of sets "0" for a real GPU)
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402

import srcdiff  # noqa: E402
from cuda_sim import central_differences, flat  # noqa: E402

B = 3


# ---- user functions ------------------------------------------------------------------------------------
def swapped(x, M):
    w = np.array([1.0, -2.0])
    return np.sum(np.tanh(np.swapaxes(M, 0, 1) @ w) * x) + np.sum(M.mT * M.mT) * x


def laid_out(x, M):
    """np.ascontiguousarray / np.asfortranarray: x's values ("the call np.ascontiguousarray(...)" was declined)."""
    C = np.ascontiguousarray(M.T) * x
    F = np.asfortranarray(np.swapaxes(M, 0, 1))
    return np.sum(C * F) + np.sum(np.tanh(np.ascontiguousarray(M[1])))


def moved(x, T):
    P = np.moveaxis(T, 0, -1) * np.array([0.5, -1.5])
    Q = np.transpose(T, (1, 0, 2)) * x
    return np.sum(np.sin(P) * x) + np.sum(Q[1] * Q[2]) + np.sum(np.swapaxes(T, 0, 2)[3] ** 2) * x


def listed(x, a, M):
    picked = a[[2, 0, -1]] * x
    cols = M[:, [0, 2]]
    row = M[1, [0, -1]]
    twice = M[[0, 0]]
    return np.sum(np.sin(picked)) + np.sum(cols * cols) * x + np.sum(row * a[:2]) + np.sum(twice * x)


def placed(x, T):
    """The list's axis where NumPy puts it: first where a slice parts it from the integer indexing another axis
    (`T[0, :, [1, 2]]`: shape (2, 3)), else in its place. The matrices written out with a negative number are
    rows jvp names (`r = (0.5, -1.0, 2.0)`, `np.array((r, ...))`: "np.array(...) of values of different shapes")."""
    W = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    V = np.array([[1.0, 2.0], [0.5, -1.0]])
    return (np.sum(np.sin(T[0, :, [1, 2]]) * W) * x + np.sum(np.sin(T[:, [0, 2], 1]) * V)
            + np.sum(np.cos(T[[1, 0], 1:, ::2]) * x) + np.sum(T[1, [2, 0]] * np.array([[1.0], [-3.0]])))


def listed_written(x, a, M):
    b = a * 1.0
    b[[0, 2]] = x * a[[1, 0]]
    C = M * x
    C[:, [0, 2]] += x
    return np.sum(b * b) + np.sum(np.tanh(C))


def listed_copy(x, a):
    """`c = b[[0, 1]]` is a copy in NumPy as on the device: a write into b after it is no write into c (the views'
    check took it for a view and declined: "`c` shares memory with `b`, which is written in place")."""
    b = a * 1.0
    c = b[[0, 1]]
    b[0] = x
    return np.sum(c * c) + np.sum(b * b)


def listed_after_return(x, a):
    """The list's name is bound after an early return: generated code binds it first to a placeholder, `t1 =
    np.zeros((1,), dtype=np.int64)`, which made it a name bound twice (CUDA fuzz, device features and 'fancy')."""
    if x > 0.6:
        return np.sum(a) * x
    t = np.sum(((a * 2.0)[[0, 2, 1]])[::-1][:2])
    return t * x + np.sum(a)


def listed_by_shape(x, a, M):
    """An index list and a slice bound computed from per-example shapes, `[0, a.shape[0] - 1]`, `a[:a.shape[0] - 1]`:
    integers once the kernel is specialised (cuda/host.py folds the shapes in, then the arithmetic of constants).
    Declined before: "fancy (array) indexing: a[[0, 4 - 1]]", "a slice whose bounds are not fixed when the kernel is
    specialised: a[:4 - 1]"."""
    n = M.shape[1]
    ends = a[[0, a.shape[0] - 1]] * x
    cols = M[:, [n - 1, n // 2]]
    head = a[:a.shape[0] - 1]
    return np.sum(np.sin(ends)) + np.sum(cols * cols) * x + np.sum(head * a[1:])


def cast(x, a):
    k = (a * 3.0).astype(int)
    on = (a > 0.1).astype(np.float64)
    return np.sum(a.astype(float) * x) + np.sum(k * a) * x + np.sum(on * a * a) + np.sum(np.asarray(a, np.float64)) * x


def cast_to_float32(x, a):
    return np.sum(a.astype(np.float32)) * x


def float32_literal(x, a):
    return np.sum(np.array([0.1, 0.2, 0.3], dtype=np.float32) * a[:3]) * x


def index_out_of_range(x, a):
    return np.sum(a[[0, 7]]) * x


def written_twice(x, a):
    b = a * 1.0
    b[[1, 1]] = x
    return np.sum(b * b)


def _data():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.2, 0.8, B)
    a = rng.normal(size=(B, 4))
    M = rng.normal(size=(B, 2, 3))
    T = rng.normal(size=(B, 2, 3, 4)) * 0.5
    return {"swapped": (swapped, (x, M)), "moved": (moved, (x, T)), "laid_out": (laid_out, (x, M)),
            "listed": (listed, (x, a, M)), "placed": (placed, (x, T)),
            "listed_written": (listed_written, (x, a, M)), "listed_after_return": (listed_after_return, (x, a)),
            "listed_copy": (listed_copy, (x, a)), "listed_by_shape": (listed_by_shape, (x, a, M)),
            "cast": (cast, (x, a))}


def _hvp_by_differences(f, wrt, e, t, h=1e-6):
    """Central differences of the CPU gradient of f at example e along the tangent t (flattened as `flat`)."""
    g = srcdiff.grad(f, wrt=wrt, jit=False)
    hi = [a + h * d for a, d in zip(e, t)]
    lo = [a - h * d for a, d in zip(e, t)]
    return (flat(g(*hi)) - flat(g(*lo))) / (2 * h)


def _run_all():
    res = {}
    for name, (f, args) in _data().items():
        wrt = tuple(range(len(args)))
        axes = (0,) * len(args)
        ex = [[t[i] for t in args] for i in range(B)]
        out = {}
        try:
            got = srcdiff.cuda.vmap(srcdiff.value_and_grad(f, wrt=wrt), in_axes=axes)(*args)
            dev = np.concatenate([np.reshape(got[0], (B, 1))] + [np.reshape(t, (B, -1)) for t in got[1]], axis=1)
            cpu_g = srcdiff.value_and_grad(f, wrt=wrt, jit=False)
            cpu = np.array([np.concatenate([[cpu_g(*e)[0]], flat(cpu_g(*e)[1])]) for e in ex])
            fd = np.array([np.concatenate([[f(*e)], central_differences(f, e)]) for e in ex])
            out["grad"] = [float(np.max(np.abs(dev - cpu))), float(np.max(np.abs(cpu - fd))),
                           float(np.max(np.abs(cpu)))]
            jv = srcdiff.jvp(f, wrt=wrt, jit=False)
            T = tuple(np.cos(t) for t in args)
            got = srcdiff.cuda.vmap(srcdiff.jvp(f, wrt=wrt), in_axes=axes + (axes,))(*args, T)
            cpu = np.array([jv(*e, tuple(t[i] for t in T)) for i, e in enumerate(ex)])
            out["jvp"] = [float(np.max(np.abs(np.stack(got, axis=1) - cpu))), float(np.max(np.abs(cpu)))]
            # (listed_written's hvp differentiated rt.written's own code, which the device declined: "the call
            # slice(...)"; its rule record's tangent is rt.written of the tangent)
            hv = srcdiff.hvp(f, wrt=wrt, jit=False)
            got = srcdiff.cuda.vmap(srcdiff.hvp(f, wrt=wrt), in_axes=axes + (axes,))(*args, T)
            dev = np.concatenate([np.reshape(t, (B, -1)) for t in got], axis=1)
            cpu = np.array([flat(hv(*e, tuple(t[i] for t in T))) for i, e in enumerate(ex)])
            fd = np.array([_hvp_by_differences(f, wrt, e, tuple(t[i] for t in T)) for i, e in enumerate(ex)])
            out["hvp"] = [float(np.max(np.abs(dev - cpu))), float(np.max(np.abs(cpu))), float(np.max(np.abs(cpu - fd)))]
        except Exception as exc:  # reported to the parent test
            out["error"] = f"{type(exc).__name__}: {exc}"
        res[name] = out
    return res


# ---- pytest ------------------------------------------------------------------------------------------
if __name__ != "__main__":
    import re

    import pytest
    import cuda_sim

    results = cuda_sim.results_fixture(__file__)

    @pytest.mark.parametrize("name", sorted(_data()))
    def test_matches_cpu(results, name):
        r = results[name]
        assert "error" not in r, r
        vs_cpu, vs_fd, scale = r["grad"]
        assert scale > 1e-3 and vs_cpu <= 1e-10 * max(1.0, scale) and vs_fd <= 1e-5 * max(1.0, scale), r
        for mode in ("jvp", "hvp"):
            assert r[mode][1] > 1e-3 and r[mode][0] <= 1e-10 * max(1.0, r[mode][1]), (mode, r)
        assert r["hvp"][2] <= 1e-5 * max(1.0, r["hvp"][1]), r     # the CPU's hvp against central differences

    @pytest.mark.parametrize("name", sorted(_data()))
    @pytest.mark.parametrize("make", [srcdiff.grad, srcdiff.jvp])
    def test_compiles_to_ptx(name, make):
        """numba-cuda types and compiles the kernels (the simulator runs them as Python)."""
        f, args = _data()[name]
        wrt, axes = tuple(range(len(args))), (0,) * len(args)
        if make is srcdiff.grad:
            k = srcdiff.cuda.vmap(make(f, wrt=wrt), in_axes=axes)
            assert ".target sm_90" in k.ptx(*args, cc=(9, 0))
        else:
            k = srcdiff.cuda.vmap(make(f, wrt=wrt), in_axes=axes + (axes,))
            assert ".target sm_90" in k.ptx(*args, args, cc=(9, 0))
        code = "\n".join(line for line in srcdiff.source(k).splitlines() if not line.strip().startswith("#"))
        assert "swapaxes" not in code and "moveaxis" not in code and "astype" not in code, code

    @pytest.mark.parametrize("f, text", [
        (cast_to_float32, "a cast to np.float32 (.astype(...), or dtype= of an array constructor): device code "
                          "computes in float64, int64 and bool only"),
        (float32_literal, "a cast to np.float32"),
        (index_out_of_range, "the index 7 of a[[0, 7]] is out of range for an axis of 4 elements"),
        (written_twice, "the adjoint of a write through an index list that names an element twice: b[[1, 1]]"),
    ])
    def test_declined_with_the_reason(f, text):
        """float32 would round otherwise than the device's float64 (the literal's dtype=np.float32 was computed in
        float64); an index out of range NumPy raises for; an element written twice, whose earlier write's adjoint is
        0."""
        x, a = np.linspace(0.2, 0.8, B), np.linspace(-1.0, 1.0, 4 * B).reshape(B, 4)
        k = srcdiff.cuda.vmap(srcdiff.grad(f, wrt=(0, 1)), in_axes=(0, 0))
        with pytest.raises(srcdiff.SrcdiffError) as info:
            k.ptx(x, a, cc=(9, 0))
        msg = str(info.value)
        assert text in msg and re.search(r"test_cuda_indexing\.py:\d+: cannot generate CUDA code", msg), msg
else:
    print(json.dumps(_run_all()))
