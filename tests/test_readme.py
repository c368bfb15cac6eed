"""README.md runs as written (issue 20, item 2): every Python block of user code runs, and every block of
generated source shown is what srcdiff generates today (scripts/regen_readme.py rewrites them)."""
import ast
import importlib.util
import os
import runpy

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location("regen_readme", os.path.join(ROOT, "scripts", "regen_readme.py"))
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)

with open(regen.README) as _fh:
    TEXT = _fh.read()
BLOCKS = regen.python_blocks(TEXT)
USER = [(k, b) for k, b in enumerate(BLOCKS) if b[3] is None]


def _line(block):
    return TEXT[:block[0]].count("\n") + 1


def test_readme_has_user_and_generated_blocks():
    assert len(USER) >= 3 and len(BLOCKS) - len(USER) >= 3


@pytest.mark.parametrize("k, block", USER, ids=[f"README.md:{_line(b)}" for _, b in USER])
def test_readme_block_runs(k, block, tmp_path, capsys, monkeypatch):
    """The block runs as written, from a file (srcdiff reads the functions' source back). A block whose
    output is the generated source shown below it prints exactly that."""
    for node in ast.parse(block[2]).body:      # an optional extra the block needs ([dask], [cuda])
        for alias in getattr(node, "names", []) if isinstance(node, (ast.Import, ast.ImportFrom)) else []:
            module = node.module if isinstance(node, ast.ImportFrom) else alias.name
            if module and module.split(".")[0] != "srcdiff":
                pytest.importorskip(module.split(".")[0])
    monkeypatch.chdir(tmp_path)
    path = tmp_path / f"readme_line_{_line(block)}.py"
    path.write_text(block[2])
    runpy.run_path(str(path), run_name="__main__")
    printed = capsys.readouterr().out
    following = BLOCKS[k + 1] if k + 1 < len(BLOCKS) else None
    if printed.strip() and following is not None and following[3] is not None:
        assert following[2] in printed, (f"README.md:{_line(block)} prints other code than the generated block "
                                         f"shown after it:\n{printed}")


def test_readme_generated_blocks_are_current():
    _, changed = regen.regenerate(TEXT)
    assert not changed, ("README.md's generated source differs from what srcdiff generates today; run "
                         "`python scripts/regen_readme.py` to regenerate it (never by hand):\n" + regen.report(changed))
