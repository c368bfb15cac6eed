"""srcdiff.cuda kernels checked in their PTX: each row of a per-example result written once.

A gradient that does not depend on some arguments fills their rows with zeros. NVVM compiled the zero rows
of an early kernel form (a store, then a loop of stores of the same value into the next rows) to the wrong
rows (tests/ptx_stores.py); found by the CUDA fuzzer on an H100 (seed 750043: garbage in the gradient of an
argument the result does not depend on), invisible on the simulator. The kernel now collects the results in
a local buffer and copies it to the output in one loop; these tests read the stores off the PTX, which needs
no GPU."""
import importlib.util
import math

import numpy as np
import pytest

import srcdiff

if importlib.util.find_spec("numba_cuda") is None:
    pytest.skip("numba-cuda is not installed", allow_module_level=True)

from ptx_stores import rows_written, store_offsets  # noqa: E402

B = 4


def depends_on_n_only(x, a, M, n):
    """The fuzz program's shape: the value reads only n, so every gradient row is zero."""
    return math.log(1.0 + math.cos(n * 0.25) * math.cos(n * 0.25))


def zero_rows_between(x, a, M, n):
    """Rows of x and M computed, the rows of a in between zero."""
    return x * x + np.sum(M * M) + 0.0 * n


def same_value_rows(x, a):
    """d/dx and each d/da[j] are the same value."""
    return x + np.sum(a)


def tuple_literal_finite(xa, M):
    """A tuple argument (one kernel argument per element), an array literal filled element by element and
    isfinite tests: each row of the gradients of xa's leaves and of M stored once."""
    x, a = xa
    v = np.array([x, a[0], 2.0])
    s = np.sum(v * a) + np.sum(M * M)
    if np.all(np.isfinite(a)) and math.isfinite(x):
        s = s * x
    return s


CASES = {
    "n_only": (depends_on_n_only, ("x", "a", "M"), lambda: (0.3, np.linspace(0.1, 0.2, 2),
                                                             np.linspace(0, 1, 4 * B).reshape(B, 2, 2),
                                                             np.arange(1, B + 1)), (None, None, 0, 0), 7),
    "zeros_between": (zero_rows_between, ("x", "a", "M"), lambda: (np.linspace(0.1, 0.4, B), np.ones(2),
                                                                    np.linspace(0, 1, 4 * B).reshape(B, 2, 2), 2),
                      (0, None, 0, None), 7),
    "same_value": (same_value_rows, ("x", "a"), lambda: (np.linspace(0.1, 0.4, B), np.ones((B, 3))), (0, 0), 4),
    "tuple_literal_finite": (tuple_literal_finite, ("xa", "M"), lambda: ((np.linspace(0.1, 0.4, B), np.ones((B, 3))),
                                                                       np.ones((2, 2))), (0, None), 8),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_result_row_stored_once(name):
    f, wrt, args, axes, ntot = CASES[name]
    k = srcdiff.cuda.vmap(srcdiff.grad(f, wrt=wrt), in_axes=axes)
    ptx = k.ptx(*args(), cc=(9, 0))
    assert rows_written(ptx) == list(range(ntot))


def test_decoder_sees_the_nvvm_defect():
    """The decoder itself, on the form NVVM miscompiles (compiled here directly with numba-cuda): if this
    fails because the rows come out right, NVVM was fixed and the local buffer could go."""
    from unittest import mock

    import numba.cuda.dispatcher as disp
    from numba import cuda, types
    src = ("@cuda.jit(device=True)\n"
           "def dev(out, c):\n"
           "    out[0, c] = 0.0\n"
           "    for j in range(3):\n"
           "        out[1 + j, c] = 0.0\n"
           "    return 0\n"
           "@cuda.jit\n"
           "def kern(B, out):\n"
           "    t = cuda.grid(1)\n"
           "    if t < B:\n"
           "        dev(out, t)\n")
    ns = {"cuda": cuda}
    exec(compile(src, "<nvvm defect>", "exec"), ns)

    class _Device:
        compute_capability = (9, 0)
    with mock.patch.object(disp, "get_current_device", lambda: _Device()):
        ptx, _ = cuda.compile_ptx(ns["kern"].py_func, (types.int64, types.float64[:, ::1]), cc=(9, 0))
    assert len(store_offsets(ptx)) == 4
    assert rows_written(ptx) in ([0, 1, 2, 3], [0, 1, 3, 6])
    if rows_written(ptx) == [0, 1, 2, 3]:
        pytest.skip("this NVVM compiles the form right")


def test_numpy_that_numba_cuda_cannot_load_named(monkeypatch):
    """numba-cuda 0.30 under NumPy 2.5 (seen on a GPU machine's own Python): its NumPy support fails to load
    at the first kernel (np.row_stack is gone); vmap says which versions disagree instead of the
    AttributeError from inside numba-cuda."""
    import builtins
    import sys
    real_import = builtins.__import__

    def failing(name, *a, **kw):
        if name == "numba.cuda.np.arrayobj":
            raise AttributeError("module 'numpy' has no attribute 'row_stack'")
        return real_import(name, *a, **kw)
    monkeypatch.delitem(sys.modules, "numba.cuda.np.arrayobj", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    k = srcdiff.cuda.vmap(srcdiff.grad(same_value_rows, wrt=("x", "a")), in_axes=(0, 0))
    with pytest.raises(srcdiff.SrcdiffError, match=r"numba-cuda \S+ cannot load its NumPy support under NumPy "
                       r"(.|\n)*row_stack(.|\n)*numpy<2.5"):
        k(np.linspace(0.1, 0.4, B), np.ones((B, 3)))
