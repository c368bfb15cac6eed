"""`python -m srcdiff show path/to/module.py:function ...` prints the generated source (issue 20, item 7)."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULE = textwrap.dedent("""
    import numpy as np


    def loss(w, x, y, scale=1.0):
        return scale * np.sum((x @ w - y) ** 2)


    def star(*a):
        return a[0]
""")


@pytest.fixture(scope="module")
def module_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.py"
    path.write_text(MODULE)
    return str(path)


def show_here(capsys, *argv):
    """`show` in this process (the subprocess tests cover the command line itself)."""
    from srcdiff.__main__ import main
    rc = main(["show", *argv])
    out = capsys.readouterr()
    return rc, out.out


def show(*argv):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "srcdiff", "show", *argv], capture_output=True, text=True,
                          env=env, timeout=600)


def test_show_unspecialised(module_path):
    out = show(f"{module_path}:loss")
    assert out.returncode == 0, out.stderr
    assert "def loss_grad(w, x, y, scale):" in out.stdout
    assert out.stdout.startswith("# unspecialised")
    assert "rt.unbroadcast" in out.stdout     # kinds unknown: the no-op helpers stay


def test_show_specialised_with_args(module_path, capsys):
    rc, out = show_here(capsys, f"{module_path}:loss", "--wrt", "w,scale", "--mode", "value_and_grad",
                        "--args", "w=(3,), x=(4, 3), y=(4,)")
    assert rc == 0
    assert "def loss_value_and_grad(w, x, y, scale):" in out
    assert "unspecialised" not in out and "rt.unbroadcast" not in out     # kinds known: no-op helpers gone
    assert "return (result4, (d_w, d_scale))" in out


@pytest.mark.parametrize("mode, name", [("jvp", "loss_jvp(w, x, y, scale, d_w)"),
                                        ("hvp", "loss_grad_jvp(w, x, y, scale, d_w1)")])
def test_show_forward_modes(module_path, capsys, mode, name):
    rc, out = show_here(capsys, f"{module_path}:loss", "--mode", mode, "--args", "w=(3,), x=(4, 3), y=(4,), scale=2.0")
    assert rc == 0 and f"def {name}" in out, out


def test_show_jit_row_tapes(capsys):
    """--jit shows the code as Numba compiles it (the forward recursion's vector on a carry tape)."""
    hmm = os.path.join(ROOT, "srcdiff", "vi", "hmm.py")
    args = ("--wrt", "log_pi,log_A,log_B", "--mode", "value_and_grad",
            "--args", "log_pi=(3,), log_A=(3, 3), log_B=(3, 4), data=np.array([0, 1, 3, 2])")
    rc, out = show_here(capsys, f"{hmm}:log_Z", "--jit", *args)
    assert rc == 0 and "rt.logsumexp_vecmat_steps(" in out and "log_alpha_stack" not in out, out
    rc, out = show_here(capsys, f"{hmm}:log_Z", *args)
    assert rc == 0 and "log_alpha_stack.append" in out, out


def test_show_errors(module_path):
    out = show(f"{module_path}:nope")
    assert out.returncode != 0 and "has no 'nope'" in out.stderr
    out = show(f"{module_path}:star")
    assert out.returncode == 1 and "model.py:" in out.stderr and "*a" in out.stderr
    assert "Traceback" not in out.stderr


def test_show_bad_arguments(module_path, capsys):
    from srcdiff.__main__ import main
    assert main(["show", f"{module_path}:loss", "--args", "w=(3,), x=(4, 3), y=(4,), bogus=1"]) == 1
    assert "unexpected keyword argument 'bogus'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="name=value pairs"):
        main(["show", f"{module_path}:loss", "--args", "(3,)"])
