"""The VI examples run as written (shortened).  Marked slow: each compiles its gradient with Numba
(tens of seconds on a cold cache); run with ``pytest -m slow tests/test_vi_examples.py``."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))

pytestmark = pytest.mark.slow


def test_temperature_example():
    import vi_temperature
    res = vi_temperature.main(steps=2000, plot=False)
    assert abs(res.mean[0] - 17.4) < 0.08 and abs(res.std[0] - 0.894) < 0.05


def test_linear_regression_example(tmp_path, capsys):
    import vi_linear_regression
    res, m, S = vi_linear_regression.main(steps=3000, plot=True, out=str(tmp_path / "elbo.png"))
    np.testing.assert_allclose(res.mean, m, atol=0.2 * np.sqrt(np.diag(S)).max())
    out = capsys.readouterr().out
    for j in range(len(m)):      # the exact posterior mean beside the fitted one
        assert f"{res.mean[j]:+9.4f} {m[j]:+9.4f}" in out, out
    assert (tmp_path / "elbo.png").exists() and f"saved to {tmp_path / 'elbo.png'}" in out, out


def test_logistic_regression_example():
    import vi_logistic_regression
    res, acc = vi_logistic_regression.main(steps=2000, plot=False)
    assert acc > 0.93
    assert np.all(res.std < 1.0)


def test_vae_example(tmp_path):
    import vae_digits
    params, means, labels = vae_digits.main(epochs=3, plot=False)
    assert means.shape == (len(labels), 2) and np.all(np.isfinite(means))
