"""Tests for srcdiff.runtime: Python implementations against NumPy/SciPy references,
the same helpers called as ``rt.name(...)`` inside numba.njit, and gradient helpers
against central finite differences.

Each njit wrapper below is compiled per argument signature (slow), so the Numba side
uses a few representative shapes while the Python side covers more.
"""
import sys
import types

import numba
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.special as sps

from srcdiff import runtime as rt

RNG = np.random.default_rng(0)


def rand(shape, dtype=np.float64, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


def assert_close(actual, expected, rtol=1e-10, atol=1e-12):
    assert np.shape(actual) == np.shape(expected), (np.shape(actual), np.shape(expected))
    assert isinstance(actual, np.ndarray) == isinstance(expected, np.ndarray), \
        (type(actual), type(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def tol(dtype):
    return dict(rtol=2e-5, atol=1e-6) if np.dtype(dtype) == np.float32 else {}


def both(fn, *args, jit=True, **kw):
    """Run an njit wrapper as plain Python and (if `jit`) under Numba; check they agree;
    return the Python result."""
    py = fn.py_func(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
    if not jit:
        return py
    nb = fn(*args)
    if isinstance(py, tuple):
        for p, n in zip(py, nb):
            _agree(p, n, **kw)
    else:
        _agree(py, nb, **kw)
    return py


def _agree(py, nb, **kw):
    assert np.shape(py) == np.shape(nb)
    if isinstance(py, np.ndarray):
        assert isinstance(nb, np.ndarray) and nb.dtype == py.dtype, (nb, py)
    else:
        assert not isinstance(nb, np.ndarray), (py, nb)
    np.testing.assert_allclose(nb, py, **(kw or dict(rtol=1e-12, atol=1e-14)))


def num_grad(f, x, eps=1e-6):
    """Central finite-difference gradient of scalar f at float64 array x."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp = x.copy()
        xm = x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# --- njit wrappers: generated code calls rt.<name>(...) exactly like this -------------

@numba.njit
def nb_unbroadcast(g, x):
    return rt.unbroadcast(g, x)


@numba.njit
def nb_basics(x):
    return rt.zeros_like(x), rt.copy(x)


@numba.njit
def nb_seed(y):
    return rt.seed(y)


@numba.njit
def nb_expand_dims(x, axis):
    return rt.expand_dims(x, axis)


@numba.njit
def nb_reshape_like(g, x):
    return rt.reshape_like(g, x)


@numba.njit
def nb_broadcast_to_like(g, x):
    return rt.broadcast_to_like(g, x)


@numba.njit
def nb_select(c, a, b):
    return rt.select(c, a, b)


@numba.njit
def nb_add_at(a, idx, g):
    rt.add_at(a, idx, g)
    return a


@numba.njit
def nb_slice_axis(g, axis, start, stop):
    return rt.slice_axis(g, axis, start, stop)


@numba.njit
def nb_index_axis(g, axis, k):
    return rt.index_axis(g, axis, k)


@numba.njit
def nb_transpose_grad(g, axes):
    return rt.transpose_grad(g, axes)


@numba.njit
def nb_reductions(x, axis):
    return (rt.sum(x, axis), rt.mean(x, axis), rt.prod(x, axis), rt.max(x, axis),
            rt.min(x, axis), rt.logsumexp(x, axis))


@numba.njit
def nb_reductions_all(x):
    return rt.sum(x), rt.mean(x), rt.prod(x), rt.max(x), rt.min(x), rt.logsumexp(x)


@numba.njit
def nb_reduction_grads(g, x, axis):
    return (rt.sum_grad(g, x, axis), rt.mean_grad(g, x, axis),
            rt.prod_grad(g, x, rt.prod(x, axis), axis),
            rt.max_grad(g, x, rt.max(x, axis), axis),
            rt.min_grad(g, x, rt.min(x, axis), axis),
            rt.logsumexp_grad(g, x, rt.logsumexp(x, axis), axis))


@numba.njit
def nb_reduction_grads_all(g, x):
    return (rt.sum_grad(g, x), rt.mean_grad(g, x), rt.prod_grad(g, x, rt.prod(x)),
            rt.max_grad(g, x, rt.max(x)), rt.min_grad(g, x, rt.min(x)),
            rt.logsumexp_grad(g, x, rt.logsumexp(x)))


@numba.njit
def nb_special(x):
    return (rt.expit(x), rt.log_expit(x), rt.softplus(x), rt.gammaln(x), rt.digamma(x),
            rt.trigamma(x), rt.erf(x))


@numba.njit
def nb_solve_triangular(a, b, lower, trans):
    return rt.solve_triangular(a, b, lower, trans)


@numba.njit
def nb_cholesky_grad(L, gL):
    return rt.cholesky_grad(L, gL)


@numba.njit
def nb_logdet_grad(a):
    return rt.logdet_grad(a)


# --- the generated-module pattern ----------------------------------------------------

GENERATED = '''
import numba
import numpy as np
from srcdiff import runtime as rt


@numba.njit
def f_and_grad(x, w):
    z = x * w                    # (3, 4) * (4,)
    s = rt.logsumexp(z, 1)       # (3,)
    y = rt.sum(s)
    gy = rt.seed(y)
    gs = rt.sum_grad(gy, s, None)
    gz = rt.logsumexp_grad(gs, z, s, 1)
    gx = rt.unbroadcast(gz * w, x)
    gw = rt.unbroadcast(gz * x, w)
    return y, gx, gw
'''


def test_generated_module_calls_rt_inside_njit():
    mod = types.ModuleType("srcdiff_generated_test")
    sys.modules[mod.__name__] = mod
    try:
        exec(compile(GENERATED, "<generated>", "exec"), mod.__dict__)
        x, w = rand((3, 4)), rand(4)
        y, gx, gw = both(mod.f_and_grad, x, w)
        f = lambda x_, w_: sps.logsumexp(x_ * w_, axis=1).sum()
        assert_close(y, f(x, w))
        assert_close(gx, num_grad(lambda v: f(v, w), x), rtol=1e-6, atol=1e-8)
        assert_close(gw, num_grad(lambda v: f(x, v), w), rtol=1e-6, atol=1e-8)
    finally:
        del sys.modules[mod.__name__]


# --- broadcasting and basics ----------------------------------------------------------

@pytest.mark.parametrize("gshape,xshape", [
    ((3, 4), (3, 4)), ((5, 3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 4), (3, 1)),
    ((2, 3, 4), (1,)), ((2, 1, 4), (3, 1)), ((4,), (3, 4)), ((2, 3), ()),
])
def test_unbroadcast_is_adjoint_of_broadcast(gshape, xshape):
    g, x = rand(gshape), rand(xshape)
    out = both(nb_unbroadcast, g, x)
    bshape = np.broadcast_shapes(gshape, xshape)
    assert out.shape == x.shape
    # <unbroadcast(g), v> == <g, broadcast(v)> for every v of x's shape
    v = rand(xshape)
    lhs = np.sum(out * v)
    rhs = np.sum(np.broadcast_to(g, bshape) * np.broadcast_to(v, bshape))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_unbroadcast_scalars_and_fast_path():
    g = rand((3, 4))
    assert rt.unbroadcast(g, rand((3, 4))) is g
    assert_close(both(nb_unbroadcast, g, 2.0), g.sum())
    assert_close(both(nb_unbroadcast, 1.5, rand((2, 3))), np.full((2, 3), 1.5))
    assert both(nb_unbroadcast, 1.5, 2.0) == 1.5
    g32 = rand((3, 4), np.float32)
    out = both(nb_unbroadcast, g32, rand((1, 4), np.float32), **tol(np.float32))
    assert out.dtype == np.float32
    assert_close(out, g32.sum(0, keepdims=True), rtol=1e-5)


def test_array_adjoint_plumbing_is_called_by_symbol_and_numbers_stay_inline():
    """rt.unbroadcast, rt.zeros_like and rt.copy of arrays are runtime kernels compiled once per installation,
    which generated code calls (runtime/_linking.py); of numbers they are still constants and copies."""
    from srcdiff.runtime import _linking

    def plumbing(g, x, s):
        return rt.unbroadcast(g, x) + rt.zeros_like(x) + rt.copy(x), rt.zeros_like(s) + rt.copy(s)
    jitted = numba.njit(pipeline_class=_linking.Compiler)(plumbing)
    g, x = rand((3, 4)), rand((1, 4))
    arrays, number = jitted(g, x, 2.5)
    assert_close(arrays, g.sum(0, keepdims=True) + x)
    assert number == 2.5
    (cres,) = jitted.overloads.values()
    assert len(_linking._CALLS.get(cres.library, ())) >= 3     # the three array kernels, called


def test_a_generated_function_makes_one_pass_manager_for_the_functions_it_defines(monkeypatch):
    """Numba made a function pass manager for each function of a module, declarations included: a generated
    function's module declares every kernel it calls by symbol (runtime/_linking.py), and making those
    managers was 0.12 s of the Elman RNN's 1.0 s cold first call. LinkedLibrary makes one per module."""
    from numba.core import codegen
    from srcdiff.runtime import _linking
    made = []
    plain = codegen.JITCPUCodegen._function_pass_manager

    def counted(self, *a, **k):     # (the pass managers made for a LinkedLibrary's modules: the generated function's)
        if type(sys._getframe(1).f_locals.get("self")) is _linking.LinkedLibrary:
            made.append(1)
        return plain(self, *a, **k)
    monkeypatch.setattr(codegen.JITCPUCodegen, "_function_pass_manager", counted)

    def plumbing(g, x, s):
        return rt.unbroadcast(g, x) + rt.zeros_like(x) + rt.copy(x), rt.zeros_like(s) + rt.copy(s) + 1.0
    jitted = numba.njit(pipeline_class=_linking.Compiler)(plumbing)
    g, x = rand((3, 4)), rand((1, 4))
    jitted(g, x, 2.5)       # (the kernels it calls were compiled before `made` counts, or come from the cache)
    made.clear()
    jitted(g, x, 2)         # a new signature: its function and wrappers, each module one pass manager
    arrays, number = jitted(g, x, 2)
    assert_close(arrays, g.sum(0, keepdims=True) + x) and number == 3.0
    (cres,) = [c for sig, c in jitted.overloads.items() if "int" in str(sig[2])]
    defined = [f for f in cres.library._final_module.functions if not f.is_declaration]
    assert 1 <= len(made) <= len(defined) < len(list(cres.library._final_module.functions)), (len(made), len(defined))


@pytest.mark.parametrize("x,jit", [(np.float64(2.5), False), (3, True), (np.float32(1.5), True),
                                   (rand((2, 3)), False), (np.arange(4), True),
                                   (rand((2, 2), np.float32), True), (np.array(1.5), False)])
def test_zeros_like_and_copy(x, jit):
    z, c = both(nb_basics, x, jit=jit)
    if isinstance(x, np.ndarray):
        expected = np.float64 if x.dtype.kind in "iub" else x.dtype
        assert z.dtype == expected and z.shape == x.shape and not z.any()
        assert c is not x and np.array_equal(c, x)
    else:
        assert z == 0 and not isinstance(z, (int, np.integer))
        assert c == x
    if isinstance(x, np.float32):
        assert type(z) is np.float32


def test_seed():
    assert both(nb_seed, 2.0) == 1.0
    assert type(rt.seed(np.float32(2))) is np.float32
    assert both(nb_seed, np.array(3.0)) == 1.0
    assert both(nb_seed, 3) == 1.0
    for f in (rt.seed, nb_seed):
        with pytest.raises(ValueError, match="grad needs a scalar output"):
            f(rand(3))


@pytest.mark.parametrize("shape,axis", [((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((), 0)])
def test_expand_dims(shape, axis):
    x = rand(shape)
    assert_close(both(nb_expand_dims, x, axis), np.expand_dims(x, axis))
    assert_close(both(nb_expand_dims, 2.0, 0), np.array([2.0]))


def test_reshape_like():
    g = rand((3, 4))
    assert_close(both(nb_reshape_like, g, rand((2, 6))), g.reshape(2, 6))
    assert_close(both(nb_reshape_like, g.T, rand((12,))), g.T.reshape(12))
    assert_close(both(nb_reshape_like, np.array([[2.5]]), 1.0), 2.5)
    assert_close(both(nb_reshape_like, 2.5, rand((1, 1))), np.full((1, 1), 2.5))


@pytest.mark.parametrize("gshape,xshape", [((4,), (3, 4)), ((3, 1), (3, 4)), ((), (2, 3)),
                                           ((1, 4), (2, 3, 4))])
def test_broadcast_to_like(gshape, xshape):
    g, x = rand(gshape), rand(xshape)
    out = both(nb_broadcast_to_like, g, x)
    assert_close(out, np.broadcast_to(g, xshape))
    assert out.flags.writeable and out.flags.c_contiguous
    assert_close(both(nb_broadcast_to_like, 1.5, x, jit=len(xshape) == 2), np.full(xshape, 1.5))
    assert both(nb_broadcast_to_like, 1.5, 2.0) == 1.5


def test_select():
    c, a, b = rand((3, 1)) > 0, rand((4,)), rand((3, 4))
    assert_close(both(nb_select, c, a, b), np.where(c, a, b))
    assert_close(both(nb_select, c, a, 0.0, jit=False), np.where(c, a, 0.0))
    assert_close(both(nb_select, True, a, b), np.where(True, a, b))
    out = both(nb_select, False, 1.0, 2.0)
    assert out == 2.0 and not isinstance(out, np.ndarray)


# --- indexing ----------------------------------------------------------------------

def test_add_at():
    idx = np.array([0, 2, 0, -1, 2, 2])
    for ashape, gshape in [((4,), (6,)), ((4, 3), (6, 3)), ((4, 3), (3,)), ((4, 3), (6, 1))]:
        a, g = rand(ashape), rand(gshape)
        ref = a.copy()
        np.add.at(ref, idx, g)
        assert_close(both(nb_add_at, a.copy(), idx, g), ref)
        out = a.copy()
        assert rt.add_at(out, idx, g) is None
        assert_close(out, ref)
    a = rand((4, 3))
    ref = a.copy()
    np.add.at(ref, idx, 0.5)
    assert_close(both(nb_add_at, a.copy(), idx, 0.5), ref)


@pytest.mark.parametrize("shape,axis,start,stop", [((5,), 0, 1, 4), ((3, 5, 2), 1, 1, -1),
                                                   ((3, 5, 2), -1, 0, 1), ((4, 3), 0, 2, 10)])
def test_slice_axis(shape, axis, start, stop):
    g = rand(shape)
    ref = g[(slice(None),) * (axis % g.ndim) + (slice(start, stop),)]
    assert_close(both(nb_slice_axis, g, axis, start, stop), ref)


@pytest.mark.parametrize("shape,axis,k", [((5,), 0, -2), ((3, 5, 2), 1, 3),
                                          ((3, 5, 2), -1, 0), ((2, 3, 4, 2), 2, -1)])
def test_index_axis(shape, axis, k):
    g = rand(shape)
    assert_close(both(nb_index_axis, g, axis, k), np.take(g, k, axis=axis))
    with pytest.raises(IndexError):
        nb_index_axis(g, axis, shape[axis])


@pytest.mark.parametrize("shape,axes", [((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (1, -1, 0)),
                                        ((2, 3), None), ((2, 3, 4, 5), (3, 1, 0, 2))])
def test_transpose_grad(shape, axes):
    x = rand(shape)
    y = np.transpose(x, axes)
    g = rand(y.shape)
    out = both(nb_transpose_grad, g, axes)
    assert out.shape == x.shape
    # adjoint identity: <transpose(x), g> == <x, transpose_grad(g)>
    np.testing.assert_allclose(np.sum(y * g), np.sum(x * out), rtol=1e-12)


# --- reductions --------------------------------------------------------------------

def _ref_lse(x, axis):
    with np.errstate(divide="ignore", invalid="ignore"):
        return sps.logsumexp(x, axis=axis)


REFS = [lambda x, a: np.sum(x, axis=a), lambda x, a: np.mean(x, axis=a),
        lambda x, a: np.prod(x, axis=a), lambda x, a: np.max(x, axis=a),
        lambda x, a: np.min(x, axis=a), _ref_lse]


@pytest.mark.parametrize("shape,axis,dtype,jit", [
    ((3, 4, 2), 1, np.float64, True), ((3, 4, 2), -1, np.float64, True),
    ((3, 4, 2), 0, np.float64, True), ((5,), 0, np.float64, False),
    ((2, 1, 3, 2), 1, np.float64, False), ((2, 1, 3, 2), -3, np.float64, False),
    ((3, 4), -2, np.float32, False)])
def test_reductions_axis(shape, axis, dtype, jit):
    x = rand(shape, dtype, 0.5, 1.5)
    outs = both(nb_reductions, x, axis, jit=jit, **tol(dtype))
    for out, ref in zip(outs, REFS):
        assert_close(out, ref(x, axis), **tol(dtype))
        assert np.asarray(out).dtype == dtype


@pytest.mark.parametrize("shape,dtype,jit", [((3, 4, 2), np.float64, True),
                                             ((5,), np.float32, False), ((), np.float64, False),
                                             ((2, 3), np.int64, False)])
def test_reductions_all(shape, dtype, jit):
    x = rand(shape, np.float64, 0.5, 3.0).astype(dtype)
    outs = both(nb_reductions_all, x, jit=jit, **tol(dtype))
    for out, ref in zip(outs, REFS):
        assert not isinstance(out, np.ndarray)
        assert_close(out, ref(x, None), **tol(dtype))
    assert rt.sum(2.5) == 2.5 and rt.max(2.5, None) == 2.5


# small wrappers for the other signatures (each op compiles once per signature)

@numba.njit
def nb_sum(x, axis):
    return rt.sum(x, axis)


@numba.njit
def nb_sum_max_and_grads(g, x, axis):
    m = rt.max(x, axis)
    return rt.sum(x, axis), m, rt.sum_grad(g, x, axis), rt.max_grad(g, x, m, axis)


@numba.njit
def nb_sum_lse_all(x):
    return rt.sum(x), rt.logsumexp(x), rt.logsumexp_grad(1.5, x, rt.logsumexp(x))


@numba.njit
def nb_float32_mix(g, x, axis):
    return (rt.mean(x, axis), rt.max(x, axis), rt.mean_grad(g, x, axis),
            rt.logsumexp_grad(g, x, rt.logsumexp(x, axis), axis), rt.sum(x), rt.logsumexp(x))


def test_reductions_1d_axis_gives_scalar_and_max_ties():
    x = np.array([1.0, 3.0, 3.0, -2.0, -2.0])
    s, m, gs, gm = both(nb_sum_max_and_grads, 2.0, x, -1)
    assert_close(s, x.sum())
    assert m == 3.0 and not isinstance(m, np.ndarray)
    assert_close(gs, np.full(5, 2.0))
    assert_close(gm, np.array([0, 1.0, 1.0, 0, 0]))
    assert_close(rt.min_grad(1.0, x, rt.min(x, 0), 0), np.array([0, 0, 0, 0.5, 0.5]))


def test_reductions_0d_and_scalars():
    x = np.array(0.7)
    s, lse, g = both(nb_sum_lse_all, x)
    assert s == 0.7 and lse == 0.7 and not isinstance(s, np.ndarray)
    assert_close(g, np.array(1.5))

    @numba.njit
    def f(x):
        return rt.sum(x), rt.logsumexp(x), rt.sum_grad(1.5, x, None), rt.prod_grad(1.5, x, x)
    assert both(f, 2.0) == (2.0, 2.0, 1.5, 1.5)


def test_reductions_float32():
    x, g = rand((3, 4), np.float32, 0.5, 1.5), rand(4, np.float32)
    outs = both(nb_float32_mix, g, x, -2, **tol(np.float32))
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    refs = (x64.mean(0), x64.max(0), rt.mean_grad(g64, x64, 0),
            rt.logsumexp_grad(g64, x64, rt.logsumexp(x64, 0), 0), x64.sum(),
            sps.logsumexp(x64))
    for out, ref in zip(outs, refs):
        assert np.asarray(out).dtype == np.float32
        assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_sum_4d_and_int():
    x = rand((2, 1, 3, 2))
    assert_close(both(nb_sum, x, -2), x.sum(-2))
    x = np.arange(12).reshape(3, 4)
    out = both(nb_sum, x, 1)
    assert out.dtype == np.int64 and np.array_equal(out, x.sum(1))
    with pytest.raises(ValueError):
        nb_sum(x, 2)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # prod/mean of +-inf in the Python path
def test_logsumexp_infinities():
    x = np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 1.0], [np.inf, 0.0, np.inf],
                  [1000.0, 1000.0, -np.inf]])[:, :, None]  # 3-d: reuses compiled signatures
    expected = np.array([-np.inf, np.log(1 + np.e), np.inf, 1000.0 + np.log(2.0)])[:, None]
    assert_close(both(nb_reductions, x, 1)[5], expected)
    g = both(nb_reduction_grads, np.ones((4, 1)), x, 1)[5][:, :, 0]
    assert not np.isnan(g).any()
    assert np.all(g[x[:, :, 0] == -np.inf] == 0)
    assert_close(g[1], np.array([1, 0, np.e]) / (1 + np.e))
    assert_close(g[2], np.array([0.5, 0.0, 0.5]))
    assert_close(g[3], np.array([0.5, 0.5, 0.0]))
    assert both(nb_reductions_all, np.full((1, 3, 1), -np.inf))[5] == -np.inf
    assert rt.logsumexp(np.full(3, -np.inf)) == -np.inf


def test_prod_grad_with_zeros():
    for x in (np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0]]), np.array([[2.0, 5.0, 3.0]])):
        x = x[:, :, None]  # 3-d: reuses compiled signatures
        g = rand((x.shape[0], 1))
        got = both(nb_reduction_grads, g, x, 1)[2]
        fd = num_grad(lambda v: np.sum(np.prod(v, axis=1) * g), x)
        assert_close(got, fd, rtol=1e-7, atol=1e-8)


def _forward(k, x, axis):
    return [np.sum, np.mean, np.prod, np.max, np.min, _ref_lse][k](x, axis=axis)


@pytest.mark.parametrize("shape,axis,jit", [
    ((3, 4, 2), 1, True), ((3, 4, 2), -1, True), ((4, 3), 0, False), ((5,), 0, False),
    ((2, 1, 3, 2), 2, False), ((3, 4, 2), None, True), ((2, 3), None, False),
    ((), None, False)])
def test_reduction_grads_vs_finite_differences(shape, axis, jit):
    x = rand(shape, np.float64, 0.5, 1.5)
    g = rand(np.shape(_forward(0, x, axis)))
    g = g if g.ndim else float(g)
    if axis is None:
        grads = both(nb_reduction_grads_all, g, x, jit=jit)
    else:
        grads = both(nb_reduction_grads, g, x, axis, jit=jit)
    for k, got in enumerate(grads):
        fd = num_grad(lambda v: np.sum(_forward(k, v, axis) * g), x)
        assert_close(got, fd, rtol=1e-6, atol=1e-8)


# --- special functions ---------------------------------------------------------------

SPECIAL_REFS = [sps.expit, sps.log_expit, lambda x: np.logaddexp(0, x), sps.gammaln,
                sps.digamma, lambda x: sps.polygamma(1, x)[()], sps.erf]


@numba.njit
def nb_special_f32(x):
    return rt.expit(x), rt.digamma(x)


def test_special_arrays():
    x = np.concatenate([np.linspace(-30, 30, 61) + 0.37, [-800.0, 800.0, 1e-8, 0.5]])
    outs = both(nb_special, x, rtol=1e-12, atol=1e-300)
    for out, ref in zip(outs, SPECIAL_REFS):
        assert_close(out, ref(x), rtol=1e-12, atol=1e-13)
    x2 = x.reshape(5, 13)
    for f, ref in zip((rt.expit, rt.log_expit, rt.softplus, rt.gammaln, rt.digamma,
                       rt.trigamma, rt.erf), SPECIAL_REFS):
        assert_close(f(x2), ref(x2), rtol=1e-12, atol=1e-13)
        out = f(x2.astype(np.float32))
        assert out.dtype == np.float32
        assert_close(out, ref(x2).astype(np.float32), rtol=1e-5, atol=1e-6)
    x32 = rand((2, 3, 2), np.float32, -5, 5)
    for out, ref in zip(both(nb_special_f32, x32, **tol(np.float32)), (sps.expit, sps.digamma)):
        assert out.dtype == np.float32
        assert_close(out, ref(x32.astype(np.float64)).astype(np.float32), rtol=1e-5, atol=1e-6)


def test_special_scalars_and_extremes():
    for x in (0.3, -7.25, 40.0):
        outs = both(nb_special, x)
        for out, ref in zip(outs, SPECIAL_REFS):
            assert_close(out, ref(x), rtol=1e-12, atol=1e-13)
    assert type(rt.expit(np.float32(0.5))) is np.float32
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        e = both(nb_special, np.array([-1000.0, 1000.0]))
    assert_close(e[0], np.array([0.0, 1.0]))
    assert_close(e[1], np.array([-1000.0, 0.0]))
    assert_close(e[2], np.array([0.0, 1000.0]))


def test_digamma_trigamma_accuracy():
    x = np.concatenate([np.geomspace(1e-3, 1e3, 40), -np.geomspace(1e-3, 50, 30) - 0.123])
    outs = nb_special(x)
    assert_close(outs[4], sps.digamma(x), rtol=1e-12, atol=1e-13)
    assert_close(outs[5], sps.polygamma(1, x), rtol=1e-11, atol=1e-13)
    tetra = numba.njit(lambda v: rt.tetragamma(v))
    assert_close(tetra(x), sps.polygamma(2, x), rtol=1e-11, atol=1e-13)
    assert_close(rt.tetragamma(x), sps.polygamma(2, x), rtol=1e-14)
    poles = nb_special(np.array([0.0, -1.0, -3.0]))
    assert poles[4][0] == -np.inf and np.isnan(poles[4][1:]).all()
    assert np.isinf(poles[5]).all()


# --- linear algebra -----------------------------------------------------------------

def _tri(n, lower, dtype=np.float64):
    a = rand((n, n), dtype) + 3 * np.eye(n, dtype=dtype)
    return np.tril(a) if lower else np.triu(a)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1])
def test_solve_triangular(lower, trans):
    a = _tri(5, lower)
    for b in (rand(5), rand((5, 3))):
        ref = sla.solve_triangular(a, b, lower=lower, trans=trans)
        assert_close(both(nb_solve_triangular, a, b, lower, trans), ref)


def test_solve_triangular_float32():
    a, b = _tri(4, True, np.float32), rand((4, 2), np.float32)
    out = both(nb_solve_triangular, a, b, True, 1, **tol(np.float32))
    assert out.dtype == np.float32
    assert_close(out, sla.solve_triangular(a, b, lower=True, trans=1), rtol=1e-5)


def test_cholesky_grad_vs_finite_differences():
    n = 4
    m = rand((n, n))
    A = m @ m.T + n * np.eye(n)
    W = rand((n, n))  # full: entries above the diagonal must be ignored
    L = np.linalg.cholesky(A)
    gA = both(nb_cholesky_grad, L, W)
    assert_close(gA, gA.T)

    def f(a):
        return np.sum(W * np.linalg.cholesky(a))
    eps = 1e-6
    for i in range(n):
        for j in range(i + 1):
            E = np.zeros((n, n))
            E[i, j] = E[j, i] = 1.0
            fd = (f(A + eps * E) - f(A - eps * E)) / (2 * eps)
            np.testing.assert_allclose(np.sum(gA * E), fd, rtol=1e-6, atol=1e-8)


def test_logdet_grad():
    a = rand((4, 4)) + 2 * np.eye(4)
    got = both(nb_logdet_grad, a)
    fd = num_grad(lambda v: np.linalg.slogdet(v)[1], a)
    assert_close(got, fd, rtol=1e-6, atol=1e-8)
    batch = rand((2, 3, 3)) + 2 * np.eye(3)
    assert_close(rt.logdet_grad(batch), np.linalg.inv(batch).transpose(0, 2, 1))


@numba.njit
def _nb_add_into(view, g):
    rt.add_into(view, g)


@pytest.mark.parametrize("case", ["vectors", "column", "broadcast", "cast", "scalar", "matrix"])
def test_add_into_as_numpy(case):
    """rt.add_into under Numba (vectors, a strided column, broadcasting, a cast, a scalar, 2-d), each as NumPy's
    `view += g`."""
    x = rand((4, 3))
    view, g = {"vectors": (x[0], rand(3)), "column": (x[:, 1], rand(4)), "broadcast": (x[0], rand(1)),
               "cast": (x[0], rand(3, np.float32)), "scalar": (x[:, 2], 0.25), "matrix": (x, rand((1, 3)))}[case]
    expected = x.copy()
    (expected[0] if case in ("vectors", "broadcast", "cast") else expected[:, 1] if case == "column"
     else expected[:, 2] if case == "scalar" else expected)[...] += g
    _nb_add_into(view, g)
    np.testing.assert_allclose(x, expected, rtol=1e-15)


@numba.njit
def _nb_pop_then_store(a, i):
    s1 = []
    s2 = []
    w = a * 1.0
    s1.append(w)
    s2.append(w)           # one array on two stacks
    x = s1.pop()
    y = s2.pop()
    y[i] = 100.0           # y is not read again: a dead store unless y may alias x
    return rt.zeros_like(0.0) + x[0]   # (an inline="always" overload: Numba then runs its dead-code elimination)


def test_a_store_into_an_array_popped_from_a_list_is_kept():
    """srcdiff.runtime.list_aliases: Numba's alias analysis did not know that `y = s.pop()` may share memory with
    another list's array, and its dead-code elimination dropped `y[i] = 100.0` (numba 0.68.1: 1.0 instead of
    100.0). Generated forward-over-reverse code restores an element of an array it popped that way (redteam:
    hvp(jit=True) of a loop that swaps two arrays and writes into one)."""
    assert _nb_pop_then_store(np.ones(3), 0) == 100.0


def test_numba_error_markup_leaves_the_standard_streams_alone(monkeypatch):
    """Numba marks up the error messages of the lookups that fail while it types a generated function (caught
    and dropped); with colorama, each piece wrapped and unwrapped sys.stdout and sys.stderr (colorama's
    init/deinit), 0.15 s of the Elman RNN's 1.3 s cold first call. srcdiff's runtime makes that markup plain
    string building (runtime/_numba_errors.py): the same text, no stream touched."""
    colorama = pytest.importorskip("colorama")
    from numba.core import errors
    if not hasattr(errors, "HighlightColorScheme"):
        pytest.skip("Numba's highlighting is off here")
    wrapped = []
    monkeypatch.setattr(colorama.initialise, "wrap_stream", lambda *a, **k: wrapped.append(a) or a[0])
    text = errors.HighlightColorScheme().errmsg("no implementation of f(int64)")
    assert "no implementation of f(int64)" in text and text.endswith(colorama.Style.RESET_ALL)
    assert wrapped == []


def test_extremum_grads_of_a_tuple_read_it_as_an_array():
    """np.max(st) of a tuple `st = (x, M[1, 3], s)` that stays a tuple in a gradient's source: forward mode over
    that gradient (hvp) multiplies max_grad by the tangent tuple. max_grad gave g itself for a non-array, and
    `1.0 * (d_x, ...)` raised "can't multiply sequence by non-int of type 'float'" at the user's line (fuzz seed
    1100191, hvp check)."""
    st = (0.3, 2.0, 1.0)
    np.testing.assert_array_equal(rt.max_grad(1.0, st, 2.0), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(rt.min_grad(2.0, [0.3, 2.0, 0.3], 0.3), [1.0, 0.0, 1.0])
    tangent = (0.5, -1.5, 4.0)
    assert np.sum(rt.max_grad(1.0, st, np.max(st)) * tangent) == -1.5
