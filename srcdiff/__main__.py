"""Command line: look at the code srcdiff generates without writing a script.

    python -m srcdiff cache info|clear [--keep-mb N]
    python -m srcdiff show path/to/module.py:function [--wrt x] [--jit] [--mode grad|value_and_grad|jvp|hvp]
                           [--args "x=(3,), y=(3, 4), n=5"] [--checkpoints K]

`--args` gives example arguments by parameter name: a tuple of ints is the shape of a float array (filled
with values in (0.1, 0.9)), anything else a Python expression for the value (`n=5`, `a=0.5`,
`data=np.zeros(10, dtype=int)`). With them the code shown is specialised to those arguments, as after a
call; without them it is the unspecialised version. Parameters left out take their defaults.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import os
import sys
import warnings

import numpy as np

MODES = ("grad", "value_and_grad", "jvp", "hvp")


def import_file(path: str):
    """The module in file `path`. A file inside a package (folders with __init__.py) is imported by its dotted
    name from the folder above the package, so its relative imports work; a lone file by its own name, with its
    folder on sys.path for its imports of its neighbours."""
    folder, modname = os.path.split(os.path.splitext(path)[0])
    parts = [] if modname == "__init__" else [modname]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        parts.insert(0, package)
    if len(parts) > 1 or modname == "__init__":
        sys.path.insert(0, folder)
        return importlib.import_module(".".join(parts))
    sys.path.insert(0, folder)
    loader_spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[modname] = module
    loader_spec.loader.exec_module(module)
    return module


def load_function(spec: str):
    """The function named by `path/to/module.py:function` (a dotted name for a nested attribute)."""
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise SystemExit(f"srcdiff show: expected path/to/module.py:function, got {spec!r}")
    if not os.path.isfile(path):
        raise SystemExit(f"srcdiff show: no such file: {path}")
    module = import_file(os.path.abspath(path))
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"srcdiff show: {path} has no {name!r}")
        obj = getattr(obj, part)
    return getattr(obj, "f", obj) if type(obj).__name__ == "Differentiated" else obj


def example_arguments(text: str) -> dict:
    """{name: example value} from "x=(3,), y=(3, 4), n=5"."""
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError as exc:
        raise SystemExit(f"srcdiff show: --args must look like \"x=(3,), n=5\": {exc.msg}") from None
    if call.args or any(k.arg is None for k in call.keywords):
        raise SystemExit("srcdiff show: --args takes name=value pairs only, e.g. \"x=(3,), n=5\"")
    rng = np.random.default_rng(0)
    values = {}
    for kw in call.keywords:
        node = kw.value
        if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) and type(e.value) is int
                                               for e in node.elts):
            values[kw.arg] = rng.uniform(0.1, 0.9, size=tuple(e.value for e in node.elts))
        else:
            try:
                values[kw.arg] = eval(compile(ast.Expression(node), "--args", "eval"), {"np": np, "numpy": np})
            except Exception as exc:
                raise SystemExit(f"srcdiff show: --args {kw.arg}={ast.unparse(node)}: {exc}") from None
    return values


def generated_source(f, mode: str = "grad", wrt=0, jit: bool = False, args: dict | None = None,
                     checkpoints: int | None = None) -> str:
    """The source srcdiff generates for `f` (specialised to example `args` by name when given;
    `checkpoints` as for srcdiff.grad, in grad and value_and_grad modes)."""
    import srcdiff
    make = {"grad": srcdiff.grad, "value_and_grad": srcdiff.value_and_grad, "jvp": srcdiff.jvp,
            "hvp": srcdiff.hvp}[mode]
    if checkpoints is not None and mode not in ("grad", "value_and_grad"):
        raise SystemExit("srcdiff show: --checkpoints goes with --mode grad or value_and_grad")
    t = make(f, wrt=wrt, jit=jit, **({"checkpoints": checkpoints} if checkpoints is not None else {}))
    if args is not None:      # specialise to the examples as a call would, without running (or compiling) it
        from .api import bind_arguments
        from .transforms import dims, kinds
        bound = bind_arguments(t, (), args)
        if mode in ("jvp", "hvp"):
            (t.fwd if mode == "hvp" else t).specialise(bound)
        elif any(isinstance(a, (tuple, list, dict)) for a in bound):     # (structures: flattened by a call)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t(*bound)
        else:
            from .specialisations import floats64
            t.specialise(tuple(kinds.kind_of_value(a) for a in bound), arg_dims=dims.label_arguments(bound),
                         floats64=floats64(bound))
    return srcdiff.source(t)


def wrt_argument(text: str | None):
    """--wrt "w,b" -> ("w", "b"); "x" -> "x"; "0" -> 0; none -> 0 (the first parameter)."""
    if text is None:
        return 0
    items = [int(w) if w.strip().lstrip("-").isdigit() else w.strip() for w in text.split(",") if w.strip()]
    return tuple(items) if len(items) > 1 or text.strip().endswith(",") else items[0]


def show_parser(parser=None) -> argparse.ArgumentParser:
    """The options of `show` (also read by scripts/regen_readme.py from README.md's markers)."""
    show = parser or argparse.ArgumentParser(prog="srcdiff show")
    show.add_argument("target", help="path/to/module.py:function")
    show.add_argument("--wrt", help="parameter name(s) or index(es), comma-separated (default: the first)")
    show.add_argument("--mode", choices=MODES, default="grad")
    show.add_argument("--jit", action="store_true", help="the code as compiled by Numba (jit=True)")
    show.add_argument("--args", help='example arguments, e.g. "x=(3,), y=(3, 4), n=5": tuples are shapes '
                                     "of float arrays, anything else a Python expression")
    show.add_argument("--checkpoints", type=int, help="checkpoints=K: outermost loops keep K snapshots and "
                                                       "rerun their segments in the backward sweep")
    return show


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["cache"]:   # python -m srcdiff cache info|clear
        from .cachecli import main as cache_main
        return cache_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m srcdiff", description="Show the code srcdiff generates.")
    sub = parser.add_subparsers(dest="command", required=True)
    show_parser(sub.add_parser("show", help="print the generated source of a function's gradient (or jvp, hvp)"))
    ns = parser.parse_args(argv)
    from .errors import SrcdiffError
    f = load_function(ns.target)
    try:
        src = generated_source(f, ns.mode, wrt_argument(ns.wrt), ns.jit,
                               example_arguments(ns.args) if ns.args is not None else None, ns.checkpoints)
    except SrcdiffError as exc:
        print(f"srcdiff: {exc}", file=sys.stderr)
        return 1
    try:
        print(src)
    except BrokenPipeError:     # `... | head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
