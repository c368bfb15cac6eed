"""Layering: the API, the compiler, the backends and the cache modules import one another in one
direction only (cachedir.py and makers.py are the bottom layer they share), and no module reaches into
another's private names."""
import importlib.util
import os

import numpy as np

import srcdiff
from srcdiff import api, cachedir, makers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _metrics():
    spec = importlib.util.spec_from_file_location("architecture_metrics",
                                                  os.path.join(ROOT, "scripts", "architecture_metrics.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


LAYERED = {"srcdiff", "srcdiff.api", "srcdiff.forward_api", "srcdiff.compiler", "srcdiff.backends",
           "srcdiff.background", "srcdiff.cachekey", "srcdiff.cachedir", "srcdiff.makers", "srcdiff.export",
           "srcdiff.runtime._cache", "srcdiff.transforms.resolve", "srcdiff.transforms.reverse",
           "srcdiff.transforms.reverse_storage", "srcdiff.transforms.reverse_backward",
           "srcdiff.transforms.checkpoints", "srcdiff.transforms.forward", "srcdiff.transforms.stacks",
           "srcdiff.arguments", "srcdiff.specialisations", "srcdiff.shipping", "srcdiff.error_reports",
           "srcdiff.generated"}


def test_no_import_cycle_through_the_pipeline_api_or_backends():
    m = _metrics()
    mods = m.modules()
    _, every, _, _ = m.imports(mods)
    for comp in m.cycles(every):        # counting imports inside functions too
        assert not LAYERED & set(comp), comp


def test_the_bottom_layer_imports_nothing_above_it():
    m = _metrics()
    _, every, _, _ = m.imports(m.modules())
    assert every["srcdiff.cachedir"] <= {"srcdiff.errors"}
    assert not every["srcdiff.makers"]


def test_no_private_names_across_the_modules_this_layering_owns():
    m = _metrics()
    mods = m.modules()
    _, _, private, aliases = m.imports(mods)
    private += m.private_attributes(mods, aliases)
    assert not [p for p in private if p[0] in LAYERED and not p[2].startswith("srcdiff.rules.")], private


def f(x):
    return np.sum(np.sin(x))


def test_makers_and_the_user_function_behind_a_transform():
    assert {srcdiff.grad, srcdiff.value_and_grad, srcdiff.vjp, srcdiff.jvp} <= makers.MAKERS
    g = srcdiff.grad(f)
    assert makers.user_function(g) is f and api.user_function is makers.user_function
    assert makers.user_function(srcdiff.jvp(g)) is f
    assert g.cache_identity()[0] == "transform" and "grad" in g.cache_identity()[1]


def test_generated_modules_are_named_in_one_place():
    g = srcdiff.grad(f)
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(g(x), np.cos(x))
    made = g.last
    assert isinstance(made, api.Specialisation) and made.function is not None
    assert cachedir.is_generated_module(made.function.__module__)
    assert not cachedir.is_generated_module(f.__module__) and not cachedir.is_generated_module(None)
    assert cachedir.generated_module_name("a", "b").startswith(cachedir.GENERATED_PACKAGE + ".")
