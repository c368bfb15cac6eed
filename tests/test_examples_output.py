"""What the examples print and where they write (issue 20, item 8): hmm_em.py says whether EM converged or
stopped at its cap, and plots go to the working directory or the path given, with the path printed."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples"))

pytest.importorskip("matplotlib")


def test_hmm_em_reports_convergence_or_cap(tmp_path, monkeypatch, capsys):
    import hmm_em
    monkeypatch.chdir(tmp_path)
    result = hmm_em.main(["--states", "2", "--iters", "3"])
    out = capsys.readouterr().out
    assert not result.converged
    assert "stopped at the cap of 3 iterations" in out and "raise --iters" in out, out
    plot = tmp_path / "hmm_em_loglik.png"           # the working directory, not the source tree
    assert plot.exists() and f"saved to {plot}" in out, out

    target = tmp_path / "plots" / "em.png"
    target.parent.mkdir()
    result = hmm_em.main(["--states", "2", "--tol", "0.5", "--out", str(target)])
    out = capsys.readouterr().out
    assert result.converged and result.n_iter < 1000
    assert f"converged after {result.n_iter} iterations" in out, out
    assert target.exists() and f"saved to {target}" in out, out


def test_examples_write_plots_outside_the_source_tree():
    """No example puts its plot beside its own file (the source tree)."""
    folder = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name)) as fh:
                for k, line in enumerate(fh, 1):
                    assert not (".png" in line and "__file__" in line), f"examples/{name}:{k}: {line}"
