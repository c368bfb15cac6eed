"""Load a script of benchmarks/ as a module, for tests that reuse its programs (not a test module)."""
import importlib.util
import os

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def load_benchmark(script: str, module_name: str):
    """benchmarks/`script` imported under `module_name` (a name of the caller's, so two tests' copies do
    not share module state)."""
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(BENCHMARKS, script))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
