"""Shared by the CUDA test modules that run their cases on numba's simulator in a subprocess (test_cuda_edges.py,
test_cuda_hvp.py, test_cuda_logdomain.py): NUMBA_ENABLE_CUDASIM must be set before numba is imported, so each
module runs itself as a script, which prints its results as JSON on its last line. The same script runs its cases
on a real GPU where there is one (the `gpu` param of the fixture `results`; CI has none and skips it): the simulator runs the
kernel's source as Python, so what NVVM makes of it (a store it drops, a type it infers) shows only there.
`flat` and `central_differences` are the scripts' CPU references (test_cuda_edges.py, test_cuda_indexing.py)."""
import json
import os
import subprocess
import sys

import numpy as np


def results_of(script: str, timeout: int = 600, gpu: bool = False) -> dict:
    """The JSON the test module `script`, run as a script on the simulator (on the GPU: gpu=True), prints last."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0" if gpu else "1")
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def results_fixture(script: str):
    """The module-scoped pytest fixture `results`, parametrised over where the script's cases run: numba's simulator
    (`sim`) and a real GPU (`gpu`, skipped where numba sees none, as on CI). The module is skipped where numba-cuda
    is not installed."""
    import importlib.util
    import pytest
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed", allow_module_level=True)

    def results(request):
        if request.param == "gpu" and not has_gpu():
            pytest.skip("no CUDA GPU on this machine (CI has none)")
        return results_of(script, gpu=request.param == "gpu")
    return pytest.fixture(scope="module", name="results", params=["sim", "gpu"])(results)


_HAS_GPU: list = []


def has_gpu() -> bool:
    """Whether numba sees a CUDA GPU (asked once per process, in a subprocess: this one may have the simulator)."""
    if not _HAS_GPU:
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
        probe = subprocess.run([sys.executable, "-c", "from numba import cuda; print(cuda.is_available())"],
                               capture_output=True, text=True, env=env)
        _HAS_GPU.append(probe.stdout.strip() == "True")
    return _HAS_GPU[0]



def flat(r) -> np.ndarray:
    """The arrays and numbers of `r` (a gradient's tuple) flattened into one float array, in order."""
    return np.concatenate([np.ravel(np.asarray(t, dtype=float)) for t in r])


def central_differences(f, args, h=1e-6) -> np.ndarray:
    """Central differences of f's value in every element of every argument, flattened as `flat` of the gradient."""
    out = []
    for k, v in enumerate(args):
        v = np.asarray(v, dtype=float)
        d = np.zeros(v.shape)
        for j in np.ndindex(v.shape):
            hi, lo = [np.array(a, dtype=float) for a in args], [np.array(a, dtype=float) for a in args]
            hi[k][j] += h
            lo[k][j] -= h
            d[j] = (f(*[t if t.ndim else float(t) for t in hi]) - f(*[t if t.ndim else float(t) for t in lo])) / (2 * h)
        out.append(np.ravel(d))
    return np.concatenate(out)
