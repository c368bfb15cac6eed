"""Shared by the CUDA test modules that run their cases on numba's simulator in a subprocess (test_cuda_edges.py,
test_cuda_hvp.py, test_cuda_logdomain.py): NUMBA_ENABLE_CUDASIM must be set before numba is imported, so each
module runs itself as a script, which prints its results as JSON on its last line."""
import json
import os
import subprocess
import sys


def results_of(script: str, timeout: int = 600) -> dict:
    """The JSON the test module `script`, run as a script on the simulator, prints last."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, script], capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def simulated_fixture(script: str):
    """The module-scoped pytest fixture `simulated` of a test module: its script's results (results_of); the module
    is skipped where numba-cuda is not installed."""
    import importlib.util
    import pytest
    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda is not installed", allow_module_level=True)
    return pytest.fixture(scope="module", name="simulated")(lambda: results_of(script))
