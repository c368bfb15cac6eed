"""transforms/purity.py: the one test of what dead-code removal may drop and checkpointed loops may rerun."""
import gast
import pytest

from srcdiff.transforms.purity import is_pure


@pytest.mark.parametrize("expr, pure", [
    ("np.exp(x) * rt.sum_grad(g, x) + math.sin(y)", True),
    ("x[i] + 1.0", True),
    ("rt.pop(s)", False),                 # changes the stack
    ("rt.push(s, v)", False),
    ("np.random.normal(size=3)", False),  # draws change the generator's state
    ("print(x)", False),
    ("f(x)", False),                      # a user call may have effects
    ("x.copy()", False),                  # a method call on a value
])
def test_is_pure(expr, pure):
    assert is_pure(gast.parse(expr, mode="eval").body) is pure
