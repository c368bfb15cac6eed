"""transforms/templates.py: a rule's template instantiated by its built function is the tree astutil.substitute
makes of it (node classes, fields and their order, names replaced by copies), for every template of the rule
table, and a new tree each time."""
import gast
import pytest

from srcdiff.rules import RULES
from srcdiff.transforms.astutil import parse_expr, substitute, walk, walk_names
from srcdiff.transforms.templates import instantiate

TEMPLATES = [(name, p, t) for name, r in sorted(RULES.items()) for p, t in r.vjp.items() if isinstance(t, gast.AST)]
TEMPLATES += [(name, "jvp", r.jvp) for name, r in sorted(RULES.items()) if r.jvp is not None]


def _shape(tree):
    """Every node's class and fields (in order) with the atoms they hold."""
    return [(type(n), [(k, v) for k, v in n.__dict__.items() if not isinstance(v, (gast.AST, list))],
             list(n.__dict__)) for n in walk(tree)]


def _mapping(template):
    names = sorted({n.id for n in walk_names(template)})
    out = {}
    for k, v in enumerate(names):   # half mapped to an expression, a quarter to a name's id, the rest kept
        if k % 4 < 2:
            out[v] = parse_expr(f"w{k}[i, 1] * 2.5")
        elif k % 4 == 2:
            out[v] = f"r{k}"
    return out


@pytest.mark.parametrize("name, param, template", TEMPLATES, ids=[f"{n}:{p}" for n, p, _ in TEMPLATES])
def test_an_instantiated_template_is_substitutes_copy(name, param, template):
    mapping = _mapping(template)
    want, got = substitute(template, mapping), instantiate(template, mapping)
    assert gast.dump(got) == gast.dump(want)
    assert _shape(got) == _shape(want)
    fresh = {id(n) for n in walk(got)}
    assert not fresh & {id(n) for n in walk(template)}
    assert not fresh & {id(n) for v in mapping.values() if not isinstance(v, str) for n in walk(v)}
    assert not fresh & {id(n) for n in walk(instantiate(template, mapping))}


def test_a_template_made_again_at_the_same_address_is_built_anew():
    first = parse_expr("g * x")
    assert gast.dump(instantiate(first, {"x": "y"})) == gast.dump(parse_expr("g * y"))
    second = parse_expr("g + x")
    assert gast.dump(instantiate(second, {"x": "y"})) == gast.dump(parse_expr("g + y"))
