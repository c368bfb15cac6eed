"""Lower one srcdiff-generated gradient module (specialised to per-example argument kinds) to
numba-CUDA device source.

Input: the Python source srcdiff generated (forward sweep + backward sweep, `# line N:` comments).
Output: device functions in which

* every array has a static shape known at specialisation time and lives in a flat 1-D buffer
  (per-example argument rows, `cuda.local.array` locals, or the caller's output buffer),
* array expressions become element loops, reductions/products become accumulation loops,
* `np.empty(max(n, 0))` tapes become `cuda.local.array(TRIP, ...)` with a run-time bound check,
* list stacks become local arrays plus an integer counter,
* `np.*` / `rt.*` on scalars become `math.*` / inline scalar code,
* the entry's results are written into `cu_out[offset + k, cu_col]` (destination passing) and the
  function returns a status code (0 ok, 1 a loop ran past its fixed-size tape).

This module holds Program (the module's functions, its constants, the comments citing the user's lines,
the helpers it calls). One function is lowered by function.FunctionLowering, made of infer.Inference
(shapes and dtypes), expressions.ExpressionLowering and statements.StatementLowering; host.py evaluates
trip counts and sizes on the host; common.py holds what they share (argument specs, storage, flat-index
arithmetic, the operator and call tables).
"""
from __future__ import annotations

import ast
import re

import numpy as np

from ..transforms.astutil import nested_blocks
from .common import ArgSpec, dotted
from .function import FunctionLowering


class _InlineNames(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.names:
            return ast.copy_location(ast.parse(self.names[node.id], mode="eval").body, node)
        return node


def _inline_dtype_names(fn):
    """`t2 = np.bool_; t = np.empty(n, t2)` -> `t = np.empty(n, np.bool_)` (forward mode names the
    dtype argument of a tape it differentiates)."""
    names = {}
    for st in ast.walk(fn):
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and \
                isinstance(st.value, ast.Attribute) and isinstance(st.value.value, ast.Name) and \
                st.value.value.id == "np" and isinstance(getattr(np, st.value.attr, None), type):
            names[st.targets[0].id] = dotted(st.value)
    if not names:
        return
    _InlineNames(names).visit(fn)
    for st in ast.walk(fn):
        for body in nested_blocks(st):
            body[:] = [x for x in body if not (isinstance(x, ast.Assign) and isinstance(x.targets[0], ast.Name)
                                               and x.targets[0].id in names)] or [ast.Pass()]


def _inline_returned_tuples(fn):
    """`r = (a, b); return (r, s)` -> `return ((a, b), s)`: the entry's results as nested tuples of
    leaves (forward over a gradient of several arguments binds the gradient tuple to a name)."""
    bound, counts = {}, {}
    for st in ast.walk(fn):
        if isinstance(st, ast.Assign):
            for t in st.targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        counts[n.id] = counts.get(n.id, 0) + 1
            if len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) and isinstance(st.value, ast.Tuple):
                bound[st.targets[0].id] = st.value

    def sub(e):
        if isinstance(e, ast.Name) and e.id in bound and counts.get(e.id) == 1:
            return sub(bound[e.id])
        if isinstance(e, ast.Tuple):
            return ast.Tuple([sub(x) for x in e.elts], ast.Load())
        return e
    for st in ast.walk(fn):
        if isinstance(st, ast.Return) and st.value is not None:
            st.value = ast.copy_location(sub(st.value), st.value)
    used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for st in ast.walk(fn):
        for body in nested_blocks(st):
            body[:] = [x for x in body if not (isinstance(x, ast.Assign) and len(x.targets) == 1 and
                                               isinstance(x.targets[0], ast.Name) and
                                               x.targets[0].id in bound and counts.get(x.targets[0].id) == 1
                                               and x.targets[0].id not in used)] or [ast.Pass()]


class Program:
    """All functions of one generated module, lowered for one per-example specialisation."""

    def __init__(self, module, user_fn, specs, max_trip, select=None, tapes=None):
        """select: keep only element `select` of the entry's tuple result (hvp keeps H·v of
        forward-over-reverse's (gradient, H·v)). tapes: the names of reverse mode's preallocated tapes in
        the module (compiler.Module.tapes, with those of the gradient forward mode differentiated), or
        None where they are not known (a module that was not generated in this process): then a tape is
        a `*_tape = np.empty(...)` name (Inference._is_tape)."""
        import inspect
        self.module, self.max_trip, self.tapes = module, max_trip, tapes
        self.src = module.source()
        self.src_lines = self.src.splitlines()
        self.user_name = getattr(user_fn, "__name__", "f")
        try:
            self.filename = inspect.getsourcefile(user_fn)
        except TypeError:
            self.filename = None
        tree = ast.parse(self.src)
        self.defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for fn in self.defs.values():
            _inline_dtype_names(fn)
        _inline_returned_tuples(self.defs[module.entry])
        if select is not None:
            for st in ast.walk(self.defs[module.entry]):
                if isinstance(st, ast.Return) and isinstance(st.value, ast.Tuple):
                    st.value = st.value.elts[select]
        self.consts, self.global_arrays, self.global_shapes = {}, {}, {}
        for k, v in module.bindings.items():
            if isinstance(v, (bool, int, float, np.integer, np.floating)):
                self.consts[k] = v.item() if hasattr(v, "item") else v
            elif isinstance(v, np.ndarray) and v.dtype.kind in "fiub" and v.ndim >= 1:
                self.global_arrays[k] = np.ascontiguousarray(v, dtype=np.float64).reshape(-1)
                self.global_shapes[k] = tuple(v.shape)
        self.helpers = set(self.defs) - {module.entry}
        self.lowered_helpers = {}
        self.helper_returns = {}
        self.specs = specs
        self._emitted_lines = set()
        self.entry = FunctionLowering(self, self.defs[module.entry], specs, True, f"{module.entry}_dev").run()

    # comments: `# line N: text` of the generated source, re-emitted before the statements they precede
    def comments_before(self, lineno):
        k = lineno - 2
        block = []
        while k >= 0 and self.src_lines[k].strip().startswith("#"):
            if k not in self._emitted_lines:
                block.append(self.src_lines[k].strip())
                self._emitted_lines.add(k)
            k -= 1
        return list(reversed(block))

    def user_line(self, lineno):
        if not lineno:
            return None, None
        for k in range(min(lineno, len(self.src_lines)) - 1, -1, -1):
            m = re.match(r"\s*# line (\d+): (.*)", self.src_lines[k])
            if m:
                return int(m.group(1)), m.group(2)
        return None, None

    def helper_info(self, caller, name, call):
        sig = tuple(caller.info(a) for a in call.args)
        if any(s is not None for s, _ in sig):
            caller.fail(call, f"array arguments to the helper {name}",
                        "helpers called from the differentiated function must take and return scalars on the device")
        self._lower_helper(name, sig)
        return self.helper_returns[(name, sig)]

    def helper_name(self, caller, name, call):
        return f"{name}_dev"

    def _lower_helper(self, name, sig):
        key = (name, sig)
        if key in self.helper_returns:
            return
        fn = self.defs[name]
        specs = [ArgSpec(a.arg, None, dt) for a, (_, dt) in zip(fn.args.args, sig)]
        self.helper_returns[key] = (None, "f")
        fl = FunctionLowering(self, fn, specs, False, f"{name}_dev")
        fl.infer()
        rets = [st for st in fl._walk(fn.body) if isinstance(st, ast.Return)]
        infos = [fl.info(r.value) if r.value is not None else (None, "f") for r in rets]
        if any(s is not None and s != "tuple" for s, _ in infos):
            fl.fail(rets[0], f"the helper {name} returns an array")
        self.helper_returns[key] = infos[0] if infos else (None, "f")
        if name not in self.lowered_helpers:
            self.lowered_helpers[name] = fl.run()

    def source(self, kernels: str) -> str:
        head = ["import math", "from numba import cuda, float64, int64", ""]
        for k, v in self.consts.items():
            head.append(f"{k} = {v!r}")
        for k, v in self.global_arrays.items():
            head.append(f"# {k}: global array of shape {self.global_shapes[k]} (a compile-time constant, flattened)")
        parts = []
        for lw in self.lowered_helpers.values():
            parts.append("\n".join(["@cuda.jit(device=True)"] + lw.lines))
        parts.append("\n".join(["@cuda.jit(device=True)"] + self.entry.lines))
        return "\n".join(head) + "\n\n" + "\n\n\n".join(parts) + "\n\n\n" + kernels
