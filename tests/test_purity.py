"""transforms/purity.py: the one test of what dead-code removal may drop and checkpointed loops may rerun."""
import gast
import pytest

from srcdiff.transforms import purity
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


# ---- effect_free_functions: writes into what the function made itself -------------------------------------
def _graph(src):
    fns = {n.name: n for n in gast.parse(src).body if isinstance(n, gast.FunctionDef)}
    return {name: (fn, {c: c for c in fns}) for name, fn in fns.items()}


GENERATED_LIKE = """
def rec_vjp(u, depth, g):
    cond_stack = rt.stack('cond_stack')
    cond_tape = np.empty(3, np.bool_)
    d_a = rt.zeros_like(u)
    seen = []
    for i in range(3):
        rt.push(cond_stack, u > 0.3)
        cond_tape[i] = u > 0.3
        seen.append(i)
        rt.add_into(d_a[i:], g)
    c = rt.pop(cond_stack)
    if depth > 0:
        d_u = rec_vjp(u, depth - 1, g)
    return d_a + seen.pop()
"""


def test_a_function_writing_only_what_it_made_has_no_effect():
    # a generated derivative's stacks, tapes and adjoints (nested fuzz 781086: its unread call stayed)
    assert purity.effect_free_functions(_graph(GENERATED_LIKE)) == {"rec_vjp"}


@pytest.mark.parametrize("change", [
    ("cond_tape[i] = u > 0.3", "u[i] = 0.3"),                        # a parameter's element
    ("rt.add_into(d_a[i:], g)", "rt.add_into(u[i:], g)"),            # adds into a parameter
    ("seen = []", "seen = [u]\n    seen[0][1] = 2.0"),                # through an element of its own list
    ("d_a = rt.zeros_like(u)", "d_a = u"),                            # a second name of a parameter
    ("seen = []", "seen = [u]\n    rt.add_into(seen[0], g)"),         # adds into a list's element
    ("    c = rt.pop(cond_stack)", "    c = rt.pop(g)"),              # a stack it did not make
    ("d_a = rt.zeros_like(u)", "d_a = rt.zeros_like(u)\n    for d_a in range(2):\n        pass"),   # bound again
])
def test_a_write_the_caller_can_see_is_an_effect(change):
    src = GENERATED_LIKE.replace(*change)
    assert src != GENERATED_LIKE
    assert purity.effect_free_functions(_graph(src)) == frozenset()
