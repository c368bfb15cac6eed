"""srcdiff.export writes a standalone module that runs without srcdiff."""
import subprocess
import sys

import numpy as np
import pytest

import srcdiff

WEIGHTS = np.array([1.0, 2.0])


def weighted(x, y):
    total = 0.0
    for i in range(x.shape[0]):
        total = total + WEIGHTS[i] * np.exp(x[i]) * y
    return total


@pytest.mark.parametrize("jit", [False, True], ids=["python", "numba"])
def test_export_runs_without_srcdiff(tmp_path, jit):
    g = srcdiff.grad(weighted, wrt=(0, 1), jit=jit)
    expect = g(np.array([0.1, 0.2]), 3.0)
    path = srcdiff.export(g, str(tmp_path / "weighted_grad.py"))
    code = ("import sys, numpy as np; sys.path.insert(0, %r); import weighted_grad as m; "
            "dx, dy = m.weighted_grad(np.array([0.1, 0.2]), 3.0); "
            "assert 'srcdiff' not in sys.modules; print(repr(list(dx)), repr(float(dy)))") % str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    dx, dy = out.stdout.strip().split("] ")
    np.testing.assert_allclose(eval(dx + "]"), expect[0])
    assert float(dy) == pytest.approx(expect[1])
    assert open(path).read().count("def weighted_grad") == 1
