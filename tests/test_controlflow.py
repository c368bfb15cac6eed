"""transforms/controlflow.py: early return, break and continue become structured flow (flags tested by
ifs, a while loop for a `for` loop that breaks), so that later passes see one exit."""
import gast
import numpy as np
import pytest

from srcdiff.transforms import annotations as anno
from srcdiff.transforms.astutil import walk_statements
from gradcheck import check_grad
from passes import body_source, through


def early(x, a):
    for i in range(3):
        if a[i] > 0.5:
            return x * a[i]
        x = np.sin(x) * 2.0 + a[i]
    return x


def test_early_return_in_a_loop_is_flags_and_a_while_loop():
    unit = through(early, "structure")
    src = body_source(unit.node)
    assert src.splitlines()[-1] == "return result"
    assert sum(isinstance(s, gast.Return) for s in walk_statements(unit.node.body)) == 1
    assert "while go:" in src and "go = not brk and i_next < 3" in src
    incr = [s for s in walk_statements(unit.node.body) if anno.get(s, anno.INCR)]
    assert [body_source([s]) for s in incr] == ["i_next = i_next + 1"]


def skips(x, a):
    for i in range(4):
        if a[i] < 0.0:
            continue
        x = x * a[i]
    return x


def test_continue_skips_the_rest_of_the_body():
    src = body_source(through(skips, "structure").node)
    assert "continue" not in src
    assert "if not skip:" in src


def straight(x):
    y = x * 2.0
    return y


def test_a_function_without_early_exits_is_unchanged():
    assert body_source(through(straight, "structure").node) == "y = x * 2.0\nreturn y"


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
@pytest.mark.parametrize("a", [[0.1, 0.7, 0.2], [0.1, 0.2, 0.3], [-0.4, 0.9, 0.3, 2.0]])
def test_gradients_of_structured_flow(a, jit):
    f = skips if len(a) == 4 else early
    check_grad(f, [0.3, np.array(a)], jit=jit)
