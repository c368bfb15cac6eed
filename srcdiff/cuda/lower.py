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
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import SrcdiffError
from ..rules import cuda_templates
from ..transforms.astutil import map_blocks, nested_blocks

OVERFLOW = 1


@dataclass
class ArgSpec:
    """One per-example argument of the entry function."""
    name: str
    shape: tuple | None          # None: scalar
    dtype: str                   # "f", "i", "b"
    host: object = None          # scalar value(s) on the host (array over the batch if batched)
    batched: bool = False


class _Unknown(Exception):
    pass


# elementwise on scalars: templates with {0}, {1}, {2}, from the rule records (srcdiff/rules: a rule without one
# is declined by name), and the builtins generated plumbing calls (tape sizes: max(n, 0))
_UNARY = {**cuda_templates(1), "abs": "abs({0})"}
_BINARY = {**cuda_templates(2), "max": "max({0}, {1})", "min": "min({0}, {1})"}
_TERNARY = cuda_templates(3)
_ELEMENTWISE = set(_UNARY) | set(_BINARY) | set(_TERNARY)
_INT_CALLS = {"len", "int"}
_DT = {"f": "float64", "i": "int64", "b": "int64"}
_REDUCTION_GRADS = ("rt.max_grad", "rt.min_grad", "rt.prod_grad", "rt.logsumexp_grad")
_DEVICE_ADVICE = ("device code takes scalar math, loops over range() or while, branches, and arrays whose "
                  "shapes are fixed when the kernel is specialised (see help(srcdiff.cuda)); compute this part "
                  "on the host and pass the result in as an argument (in_axes=None to broadcast it)")

_FANCY_ADVICE = ("device code indexes an array with integers, not an index array or a mask: write the elements "
                 "one at a time in a loop, e.g. `for k in range(len(idx)): b[idx[k]] = v[k]` (a position named "
                 "twice then keeps the later write, as NumPy's b[idx] = v does)")


def dotted(e):
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        b = dotted(e.value)
        return b and f"{b}.{e.attr}"
    return None


def _size(shape):
    return int(np.prod(shape)) if shape else 1


def _unravel(j, shape):
    if len(shape) == 1:
        return [j]
    out, inner = [], _size(shape)
    for d, n in enumerate(shape):
        inner //= n
        e = f"({j} // {inner})" if inner > 1 else j
        out.append(f"({e} % {n})" if d > 0 else e)
    return out


def _flat(ix, shape):
    terms, stride = [], 1
    for i, n in zip(reversed(ix), reversed(shape)):
        if i != "0":
            terms.append(i if stride == 1 else f"{i} * {stride}")
        stride *= n
    return " + ".join(reversed(terms)) if terms else "0"


def _indent(lines, n=1):
    return ["    " * n + s for s in lines]


def _broadcast(a, b):
    if a is None:
        return b
    if b is None:
        return a
    nd = max(len(a), len(b))
    a2, b2 = (1,) * (nd - len(a)) + a, (1,) * (nd - len(b)) + b
    out = []
    for x, y in zip(a2, b2):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {a} and {b} do not broadcast")
        out.append(max(x, y))
    return tuple(out)


class HostEval:
    """Evaluates trip-count and size expressions on the host (vectorised over the batch).

    Known on the host: scalar arguments (their values, one per example when batched), the shapes of
    array arguments, the generated module's constants, and the function's straight-line integer
    locals computed from those (e.g. `n1 = 2 * n; n2 = n1 + 1` for `range(2 * n + 1)`). Values read
    out of arrays are not known: an expression that reads one is not evaluated."""

    _CALLS = {"max", "min", "len", "abs", "int"}

    def __init__(self, specs, consts=None):
        from types import SimpleNamespace
        self.env = {"max": np.maximum, "min": np.minimum, "len": len, "abs": np.abs, "np": np,
                    "rt": SimpleNamespace(max2=np.maximum, min2=np.minimum),
                    "int": lambda v: np.asarray(v).astype(np.int64), "__builtins__": {}}
        self.known = set()         # names whose values the env holds
        self.arrays = set()        # array arguments: only their shapes are known
        self.batched = set()       # names whose value differs between examples
        for k, v in (consts or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.env[k] = v
                self.known.add(k)
        for s in specs:
            if s.shape is None:
                if s.host is not None:
                    self.env[s.name] = np.asarray(s.host)
                    self.known.add(s.name)
                    if s.batched:
                        self.batched.add(s.name)
            else:
                self.env[s.name] = np.empty(s.shape)
                self.arrays.add(s.name)

    def _pure(self, expr) -> bool:
        """Whether expr uses only what the host knows (no array element reads)."""
        def ok(e):
            if isinstance(e, ast.Constant):
                return isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
            if isinstance(e, ast.Name):
                return e.id in self.known
            if isinstance(e, ast.BinOp):
                return not isinstance(e.op, ast.MatMult) and ok(e.left) and ok(e.right)
            if isinstance(e, ast.UnaryOp):
                return isinstance(e.op, (ast.USub, ast.UAdd)) and ok(e.operand)
            if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
                return isinstance(e.value.value, ast.Name) and e.value.value.id in self.arrays and \
                    isinstance(e.slice, ast.Constant)
            if isinstance(e, ast.Attribute) and e.attr in ("size", "ndim"):
                return isinstance(e.value, ast.Name) and e.value.id in self.arrays
            if isinstance(e, ast.Call) and dotted(e.func) in ("rt.max2", "rt.min2"):
                return not e.keywords and all(ok(a) for a in e.args)
            if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in self._CALLS:
                if e.func.id == "len":
                    return len(e.args) == 1 and isinstance(e.args[0], ast.Name) and e.args[0].id in self.arrays
                return not e.keywords and all(ok(a) for a in e.args)
            return False
        return ok(expr)

    def learn(self, body):
        """Add the straight-line scalar locals of a function body (assigned once, at the top level)."""
        counts = {}
        for st in ast.walk(ast.Module(body=body, type_ignores=[])):
            tgts = st.targets if isinstance(st, ast.Assign) else [st.target] \
                if isinstance(st, (ast.AugAssign, ast.For)) else []
            for t in tgts:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        counts[n.id] = counts.get(n.id, 0) + 1
        for st in body:
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
                continue
            name = st.targets[0].id
            if counts.get(name) != 1 or name in self.known or not self._pure(st.value):
                continue
            v = self._eval(st.value)
            if v is None:
                continue
            self.env[name] = v
            self.known.add(name)
            if {n.id for n in ast.walk(st.value) if isinstance(n, ast.Name)} & self.batched:
                self.batched.add(name)

    def _eval(self, expr):
        try:
            with np.errstate(all="ignore"):
                v = np.asarray(eval(compile(ast.Expression(expr), "<trip>", "eval"), self.env))
        except Exception:
            return None
        return v if v.dtype.kind in "iuf" else None

    def const(self, expr: ast.expr, batched: set):
        """Value of expr when it depends on no batched argument (else None)."""
        if {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)} & (batched | self.batched):
            return None
        return self.max(expr)

    def max(self, expr: ast.expr):
        """Largest value of expr over the batch (None if the host cannot know it)."""
        if not self._pure(expr):
            return None
        v = self._eval(expr)
        if v is None:
            return None
        return int(np.max(v)) if np.size(v) else 0


@dataclass
class Storage:
    buf: str
    shape: tuple
    off: int = 0
    dest: bool = False    # the caller's output buffer: index [off + k, cu_col]

    def at(self, flat):
        if self.dest:
            return f"cu_out[{self.off} + {flat}, cu_col]" if self.off else f"cu_out[{flat}, cu_col]"
        return f"{self.buf}[{flat}]"


@dataclass
class Lowered:
    name: str
    lines: list
    outputs: list = field(default_factory=list)     # (offset, shape) per result leaf
    structure: object = None                        # nested tuples of leaf indices
    ret: object = None                              # for helpers: return info


def fold_shapes(fn: ast.FunctionDef, shapes: dict) -> ast.FunctionDef:
    """A copy of `fn` with the shapes of arrays whose per-example shape is fixed folded in as constants:
    `n = x.shape` (how the generated code spells `x.shape[0]`: `n = x.shape; n1 = n[0]`) is dropped and
    `n[k]` becomes the integer, any other use of `n` the tuple; `x.shape[k]` becomes the integer."""
    import copy
    fn = copy.deepcopy(fn)
    assigned = {}
    for n in ast.walk(fn):
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, (ast.AugAssign, ast.For))
                  else []):
            for x in ast.walk(t):
                if isinstance(x, ast.Name):
                    assigned[x.id] = assigned.get(x.id, 0) + 1
    bound = {}
    for n in ast.walk(fn):
        if (isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                and assigned.get(n.targets[0].id) == 1 and isinstance(n.value, ast.Attribute)
                and n.value.attr == "shape" and isinstance(n.value.value, ast.Name)
                and n.value.value.id in shapes and assigned.get(n.value.value.id, 0) == 0):
            bound[n.targets[0].id] = tuple(shapes[n.value.value.id])

    def shape_of(e):
        if isinstance(e, ast.Name) and e.id in bound:
            return bound[e.id]
        if (isinstance(e, ast.Attribute) and e.attr == "shape" and isinstance(e.value, ast.Name)
                and e.value.id in shapes and assigned.get(e.value.id, 0) == 0):
            return tuple(shapes[e.value.id])
        return None

    class Fold(ast.NodeTransformer):
        def visit_Subscript(self, e):
            shape = shape_of(e.value) if isinstance(e.ctx, ast.Load) else None
            try:
                k = ast.literal_eval(e.slice) if shape is not None else None
            except ValueError:
                k = None
            if type(k) is int and -len(shape) <= k < len(shape):
                return ast.copy_location(ast.Constant(shape[k]), e)
            self.generic_visit(e)
            return e

        def visit_Name(self, e):
            if e.id in bound and isinstance(e.ctx, ast.Load):
                return ast.copy_location(ast.Tuple([ast.Constant(v) for v in bound[e.id]], ast.Load()), e)
            return e

        def _body(self, stmts):
            return [ast.copy_location(ast.Expr(ast.Constant(None)), st)   # no code; its line comment stays
                    if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and st.targets[0].id in bound
                    else st for st in stmts]

        def generic_visit(self, node):
            map_blocks(node, lambda b: self._body(b) if b else b)
            return super().generic_visit(node)

    return Fold().visit(fn) if bound or any(shape_of(n) for n in ast.walk(fn) if isinstance(n, ast.Attribute)) \
        else fn


class FunctionLowering:
    """Lower one generated function. `entry=True`: destination-passing entry; else a scalar helper."""

    def __init__(self, program, fn: ast.FunctionDef, specs: list, entry: bool, name: str):
        self.p, self.fn, self.entry, self.name = program, fn, entry, name
        self.specs = {s.name: s for s in specs}
        self.shape, self.dtype = {}, {}
        self.tuples = {}           # names bound to tuples of scalars -> length
        self.stacks, self.tapes = {}, {}
        self.storage: dict[str, Storage] = {}
        self.allocs: list[str] = []
        self.counter = 0
        self._prev_check = None
        self.fn = fn = fold_shapes(fn, {s.name: s.shape for s in specs if s.shape is not None})
        self.host = HostEval(specs, program.consts)
        self.host.learn(fn.body)
        self.params = [a.arg for a in fn.args.args]
        for s in specs:
            if s.shape is not None:
                self.shape[s.name] = s.shape
            self.dtype[s.name] = s.dtype
        for k, v in program.global_arrays.items():
            self.shape[k], self.dtype[k] = program.global_shapes[k], "f"
            self.storage[k] = Storage(k, program.global_shapes[k])

    # ---- errors -----------------------------------------------------------------------------------
    def fail(self, node, msg, advice=None):
        if advice is None:
            advice = _DEVICE_ADVICE
        lineno, text = self.p.user_line(getattr(node, "lineno", None))
        where = f"\n    line {lineno}: {text}" if lineno else ""
        raise SrcdiffError(f"cannot generate CUDA code for {self.p.user_name}: {msg}{where}",
                           self.p.filename, lineno, advice)

    def fresh(self, base):
        self.counter += 1
        return f"cu_{base}{self.counter}"

    # ---- inference --------------------------------------------------------------------------------
    def info(self, e):
        """(shape or None, dtype) of an expression; raises _Unknown for names not yet typed."""
        if isinstance(e, ast.Constant):
            v = e.value
            if isinstance(v, bool):
                return None, "b"
            if isinstance(v, int):
                return None, "i"
            if isinstance(v, float):
                return None, "f"
            raise ValueError(f"constant {v!r}")
        if isinstance(e, ast.Name):
            if e.id in self.tuples:
                return "tuple", None
            if e.id in self.dtype:
                return self.shape.get(e.id), self.dtype[e.id]
            if e.id in self.p.consts:
                v = self.p.consts[e.id]
                return (None, "f") if isinstance(v, float) else (None, "i") if not isinstance(v, bool) else (None, "b")
            raise _Unknown(e.id)
        if isinstance(e, ast.BinOp):
            (sa, da), (sb, db) = self.info(e.left), self.info(e.right)
            if isinstance(e.op, ast.MatMult):
                return self._matmul_shape(sa, sb), "f"
            dt = "f" if isinstance(e.op, ast.Div) or "f" in (da, db) else "i"
            return _broadcast(sa, sb), dt
        if isinstance(e, ast.UnaryOp):
            s, d = self.info(e.operand)
            return s, ("b" if isinstance(e.op, ast.Not) else ("i" if d == "b" else d))
        if isinstance(e, ast.Compare):
            s = None
            for x in [e.left] + e.comparators:
                s = _broadcast(s, self.info(x)[0])
            return s, "b"
        if isinstance(e, ast.BoolOp):
            return None, "b"
        if isinstance(e, ast.IfExp):
            (sa, da), (sb, db) = self.info(e.body), self.info(e.orelse)
            if sa != sb:
                raise ValueError("branches of different shapes")
            return sa, ("f" if "f" in (da, db) else da)
        if isinstance(e, ast.Subscript):
            return self._subscript_info(e)
        if isinstance(e, ast.Attribute):
            if e.attr == "T":
                s, d = self.info(e.value)
                return (tuple(reversed(s)) if s else s), d
            if e.attr in ("size", "ndim"):
                return None, "i"
            raise ValueError(f"attribute .{e.attr}")
        if isinstance(e, ast.Call):
            return self._call_info(e)
        if isinstance(e, ast.List) and not e.elts:
            return "list", None
        if isinstance(e, ast.Tuple):
            return "tuple", None
        raise ValueError(f"{type(e).__name__} expressions")

    def _matmul_shape(self, sa, sb):
        if sa is None or sb is None:
            return _broadcast(sa, sb)
        if len(sa) == 1 and len(sb) == 1:
            return None
        if len(sa) == 2 and len(sb) == 1:
            return (sa[0],)
        if len(sa) == 1 and len(sb) == 2:
            return (sb[1],)
        if len(sa) == 2 and len(sb) == 2:
            return (sa[0], sb[1])
        raise ValueError("matrix products beyond 2-D")

    def _subscript_info(self, e):
        if isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            return None, "i"
        if isinstance(e.value, ast.Name) and e.value.id in self.tuples:
            return None, "f"
        if isinstance(e.value, ast.Name) and e.value.id in self.tapes:
            if self.tapes[e.value.id] is None:
                raise _Unknown(e.value.id)
            return None, self.tapes[e.value.id]
        base, dt = self.info(e.value)
        if base is None:
            raise ValueError("indexing a scalar")
        if base == "tuple":
            return None, "f"
        shape, _ = self._view(e, base, None)
        return (shape or None), dt

    def _call_info(self, e):
        name = dotted(e.func)
        args = e.args
        if name in self.p.helpers:
            return self.p.helper_info(self, name, e)
        if name in _INT_CALLS:
            return None, "i"
        if name in ("np.sum", "np.mean", "np.prod", "np.max", "np.min", "rt.logsumexp", "np.linalg.norm",
                    "rt.sum", "rt.mean"):
            ax = self._axis(e)
            s = self.info(args[0])[0]
            if ax is None or s is None:
                return None, "f"
            return tuple(n for d, n in enumerate(s) if d != ax % len(s)) or None, "f"
        if name in ("np.dot", "rt.dot", "np.matmul"):
            return self._matmul_shape(self.info(args[0])[0], self.info(args[1])[0]), "f"
        if name == "np.outer":
            return (_size(self.info(args[0])[0]), _size(self.info(args[1])[0])), "f"
        if name in ("rt.matmul_grad_x", "rt.matmul_grad_y"):
            k = 1 if name == "rt.matmul_grad_x" else 2
            return self.info(args[k])[0], "f"
        if name in ("rt.zeros_like", "rt.unbroadcast", "rt.sum_grad", "rt.mean_grad", "rt.broadcast_to_like",
                    "rt.reshape_like", "np.zeros_like", "np.ones_like") + _REDUCTION_GRADS:
            like = args[0] if name in ("rt.zeros_like", "np.zeros_like", "np.ones_like") else args[1]
            return self.info(like)[0], "f"
        if name in ("np.transpose", "rt.transpose"):
            s, d = self.info(args[0])
            return (tuple(reversed(s)) if s else s), d
        if name in ("np.zeros", "np.ones", "np.empty", "np.full"):
            return self._static_shape(e), ("i" if any(k.arg == "dtype" and "int" in ast.unparse(k.value)
                                                       for k in e.keywords) else "f")
        if name in _ELEMENTWISE:
            s = None
            infos = [self.info(a) for a in args]
            for si, _ in infos:
                s = _broadcast(s, si)
            if name in ("np.where", "rt.select"):
                dt = "f" if "f" in (infos[1][1], infos[2][1]) else infos[1][1]
            elif name in ("np.abs", "abs", "np.negative", "np.maximum", "np.minimum", "rt.max2", "rt.min2",
                          "max", "min", "np.square", "rt.copy", "np.copy", "np.clip"):
                dt = "f" if any(d == "f" for _, d in infos) else "i"
            else:
                dt = "f"
            return s, dt
        raise ValueError(f"the call {name or ast.unparse(e.func)}(...)")

    def _axis(self, e):
        ax = [k.value for k in e.keywords if k.arg == "axis"] or e.args[1:2]
        if not ax or (isinstance(ax[0], ast.Constant) and ax[0].value is None):
            return None
        if isinstance(ax[0], ast.Constant) and isinstance(ax[0].value, int):
            return ax[0].value
        raise ValueError("a non-constant axis")

    def _static_shape(self, e):
        arg = e.args[0] if e.args else None
        batched = {n for n, s in self.specs.items() if s.batched}
        v = self.host.const(arg, batched) if arg is not None else None
        if v is None:
            try:
                v = ast.literal_eval(arg)
            except Exception:
                self.fail(e, f"an array whose size ({ast.unparse(arg)}) is not fixed when the kernel is "
                             f"specialised (device code cannot allocate)",
                          "give the array a size that is the same for every example: a literal, the shape of an "
                          "array argument, or an integer argument passed with in_axes=None")
        if isinstance(arg, ast.Tuple):
            vals = [self.host.const(x, batched) for x in arg.elts]
            if None in vals:
                raise ValueError("an array of non-constant shape")
            return tuple(vals)
        return (int(v),)

    def infer(self):
        pending = None
        for _ in range(8):
            pending = []
            for st in self._walk(self.fn.body):
                try:
                    self._infer_stmt(st)
                except _Unknown as u:
                    pending.append((st, u))
                except (ValueError, IndexError, KeyError, TypeError) as ex:
                    self.fail(st, f"unsupported on the device: {ex}")
            if not pending:
                return
        st, u = pending[0]
        self.fail(st, f"could not type {u}")

    def _walk(self, stmts):
        for s in stmts:
            yield s
            for b in nested_blocks(s):
                yield from self._walk(b)

    def _set(self, name, shape, dt, node):
        if name in self.shape and shape is not None and self.shape[name] != shape:
            self.fail(node, f"{name} changes shape ({self.shape[name]} -> {shape})")
        if (name in self.shape) != (shape is not None) and name in self.dtype:
            self.fail(node, f"{name} is both a scalar and an array")
        if shape is not None:
            self.shape[name] = shape
        old = self.dtype.get(name)
        self.dtype[name] = "f" if "f" in (old, dt) else (dt if old is None or old == "b" else old)

    def _infer_stmt(self, st):
        if isinstance(st, ast.For):
            self._set(st.target.id, None, "i", st)
        elif isinstance(st, ast.Assign):
            t = st.targets[0]
            v = st.value
            if isinstance(t, ast.Name):
                if isinstance(v, ast.List):
                    self.stacks.setdefault(t.id, None)
                    return
                if (isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "pop"):
                    stk = v.func.value.id
                    if self.stacks.get(stk) is None:
                        raise _Unknown(stk)
                    self._set(t.id, None, self.stacks[stk], st)
                    return
                if self._is_tape(t.id, v):
                    self.tapes.setdefault(t.id, None)
                    return
                s, d = self.info(v)
                if s == "tuple":
                    self.tuples[t.id] = True
                    return
                self._set(t.id, s, d, st)
            elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in self.tapes:
                _, d = self.info(v)
                old = self.tapes[t.value.id]
                self.tapes[t.value.id] = "f" if "f" in (old, d) else d
                self.dtype[t.value.id] = self.tapes[t.value.id]
            elif isinstance(t, ast.Tuple):
                for x in t.elts:
                    self._set(x.id, None, "f", st)
        elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call):
            c = st.value
            if isinstance(c.func, ast.Attribute) and c.func.attr == "append":
                s, d = self.info(c.args[0])
                if s is not None:
                    self.fail(st, "array values saved across loop iterations (stacks of arrays)",
                              "keep per-thread loop state in scalars or small arrays updated in place")
                stk = c.func.value.id
                old = self.stacks.get(stk)
                self.stacks[stk] = "f" if "f" in (old, d) else ("i" if d in ("i", "b") else d)

    def _is_tape(self, name, v):
        return (name.endswith("_tape") and isinstance(v, ast.Call) and dotted(v.func) == "np.empty"
                and len(v.args) in (1, 2)) or self._tape_like(v) is not None

    def _tape_like(self, v):
        """The tape `v` copies the shape of (`d_t_tape = rt.zeros_like(t_tape)`: forward mode over a
        taped gradient keeps a tangent per taped value), or None."""
        if isinstance(v, ast.Call) and dotted(v.func) in ("rt.zeros_like", "np.zeros_like") and len(v.args) == 1 \
                and isinstance(v.args[0], ast.Name) and v.args[0].id in self.tapes:
            return v.args[0].id
        return None

    # ---- capacities -------------------------------------------------------------------------------
    def _trip(self, loop):
        """Host bound on a loop's trip count (None if not known on the host)."""
        if isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call) and dotted(loop.iter.func) == "range":
            a = loop.iter.args
            if len(a) == 1:
                expr = a[0]
            elif len(a) == 2:
                expr = ast.BinOp(a[1], ast.Sub(), a[0])
            else:
                return None
            return self.host.max(expr)
        return None

    def _bound(self, node, trip, what):
        mt = self.p.max_trip
        if trip is None and mt is None:
            self.fail(node, f"the trip count of {what} is not known before the launch",
                      "pass max_trip= to srcdiff.cuda.vmap: the most iterations any loop runs per example")
        if mt is not None:
            if trip is not None and trip > mt:
                self.fail(node, f"a loop runs {trip} iterations for some example but max_trip={mt}",
                          f"raise max_trip to at least {trip}")
            return mt
        return max(int(trip), 0)

    # ---- lowering: expressions ----------------------------------------------------------------------
    def low(self, e, idx=None, rshape=None):
        """(pre-statements, expression string). idx: index strings of the result element (array
        context, broadcast to rshape) or None (scalar context)."""
        if isinstance(e, ast.Constant):
            return [], repr(e.value)
        if isinstance(e, ast.Name):
            if e.id in self.p.consts:
                return [], repr(self.p.consts[e.id])
            if e.id in self.shape:
                if idx is None:
                    self.fail(e, f"array {e.id} used where a scalar is needed")
                return [], self.storage[e.id].at(self._aligned(idx, self.shape[e.id]))
            return [], e.id
        if isinstance(e, ast.BinOp):
            if isinstance(e.op, ast.MatMult):
                return self._matmul(e.left, e.right, idx)
            p1, a = self.low(e.left, idx, rshape)
            p2, b = self.low(e.right, idx, rshape)
            return p1 + p2, f"({a} {_OPS[type(e.op)]} {b})"
        if isinstance(e, ast.UnaryOp):
            p, a = self.low(e.operand, idx, rshape)
            return p, f"({_UOPS[type(e.op)]}{a})"
        if isinstance(e, ast.Compare):
            pre, parts = self.low(e.left, idx, rshape)
            text = parts
            for op, c in zip(e.ops, e.comparators):
                p, b = self.low(c, idx, rshape)
                pre += p
                text += f" {_CMPS[type(op)]} {b}"
            return pre, f"({text})"
        if isinstance(e, ast.BoolOp):
            pre, parts = [], []
            for v in e.values:
                p, s = self.low(v, idx, rshape)
                pre += p
                parts.append(s)
            return pre, "(" + (" and " if isinstance(e.op, ast.And) else " or ").join(parts) + ")"
        if isinstance(e, ast.IfExp):
            p0, t = self.low(e.test, idx, rshape)
            p1, a = self.low(e.body, idx, rshape)
            p2, b = self.low(e.orelse, idx, rshape)
            return p0 + p1 + p2, f"({a} if {t} else {b})"
        if isinstance(e, ast.Subscript):
            return self._low_subscript(e, idx)
        if isinstance(e, ast.Attribute):
            if e.attr == "T":
                return self._low_transposed(e.value, idx)
            s = self.info(e.value)[0]
            if e.attr == "size":
                return [], str(_size(s))
            if e.attr == "ndim":
                return [], str(len(s) if s else 0)
        if isinstance(e, ast.Call):
            return self._low_call(e, idx, rshape)
        self.fail(e, f"unsupported expression {ast.unparse(e)}")

    def _aligned(self, idx, shape):
        ix = list(idx[len(idx) - len(shape):]) if idx is not None else []
        ix = ["0" if n == 1 else i for i, n in zip(ix, shape)]
        return _flat(ix, shape)

    def _view(self, e, base_shape, idx):
        """Shape of base[...] and, given result indices idx, the base's full index list."""
        sl = e.slice
        elts = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if len(elts) > len(base_shape):
            raise ValueError("too many indices")
        elts += [ast.Slice(None, None, None)] * (len(base_shape) - len(elts))
        shape, full, r = [], [], 0
        for d, (x, n) in enumerate(zip(elts, base_shape)):
            if isinstance(x, ast.Slice):
                start, stop, step = (None if v is None else self._const_int(v) for v in (x.lower, x.upper, x.step))
                rng = range(n)[slice(start, stop, step)]
                shape.append(len(rng))
                if idx is not None:
                    i = idx[r] if r < len(idx) else "0"
                    full.append(f"({rng.start} + {rng.step} * {i})" if (rng.start, rng.step) != (0, 1) else i)
                r += 1
            else:
                if isinstance(x, (ast.Constant, ast.UnaryOp)) and not isinstance(x, ast.Slice):
                    c = self._const_int(x)
                    full.append(str(c + n if c < 0 else c))
                else:
                    s, d_ = self.info(x)
                    if s is not None or d_ not in ("i", "b"):
                        self.fail(x, f"fancy (array) indexing: {ast.unparse(e)}", _FANCY_ADVICE)
                    if idx is not None:
                        p, v = self.low(x)
                        if p:
                            raise ValueError("complex index expression")
                        full.append(v)
        return tuple(shape), full

    def _const_int(self, v):
        try:
            c = ast.literal_eval(v)
        except Exception:
            if isinstance(v, ast.Name) and v.id in self.p.consts:
                return int(self.p.consts[v.id])
            hv = self.host.max(v)
            if hv is None or not isinstance(v, ast.Name) or v.id in self.host.batched:
                raise ValueError(f"a slice bound ({ast.unparse(v)}) that is not a constant") from None
            return hv
        return int(c)

    def _low_subscript(self, e, idx):
        if isinstance(e.value, ast.Attribute) and e.value.attr == "shape":
            s = self.info(e.value.value)[0]
            return [], str(s[self._const_int(e.slice)])
        if isinstance(e.value, ast.Name) and e.value.id in self.tuples:
            return [], f"{e.value.id}[{self._const_int(e.slice)}]"
        if not isinstance(e.value, ast.Name):
            self.fail(e, "indexing a computed expression")
        name = e.value.id
        if name in self.tapes:
            p, i = self.low(e.slice)
            return p, f"{name}[{i}]"
        base = self.shape[name]
        shape, _ = self._view(e, base, None)
        rid = list(idx[len(idx) - len(shape):]) if (idx is not None and shape) else []
        rid = ["0" if n == 1 else i for i, n in zip(rid, shape)]
        if shape and idx is None:
            self.fail(e, f"array slice of {name} used where a scalar is needed")
        _, full = self._view(e, base, rid)
        return [], self.storage[name].at(_flat(full, base))

    def _low_transposed(self, x, idx):
        s = self.info(x)[0]
        if idx is None or s is None:
            return self.low(x, idx)
        ix = list(idx[len(idx) - len(s):])
        return self.low(x, list(reversed(ix)), tuple(reversed(s)))

    def _loop_reduce(self, n, body, init="0.0", op="+"):
        """Accumulate body(k) -> (pre, term) over k in range(n); returns (pre, acc name)."""
        acc, k = self.fresh("acc"), self.fresh("k")
        pre, term = body(k)
        upd = f"{acc} += {term}" if op == "+" else (f"{acc} *= {term}" if op == "*" else
                                                     f"{acc} = {op}({acc}, {term})")
        return [f"{acc} = {init}", f"for {k} in range({n}):"] + _indent(pre + [upd]), acc

    def _matmul(self, a, b, idx):
        sa, sb = self.info(a)[0], self.info(b)[0]
        if sa is None or sb is None:
            p1, x = self.low(a, idx)
            p2, y = self.low(b, idx)
            return p1 + p2, f"({x} * {y})"
        n = sa[-1]
        if len(sa) == 1 and len(sb) == 1:
            ia, ib = (lambda k: [k]), (lambda k: [k])
        elif len(sa) == 2 and len(sb) == 1:
            ia, ib = (lambda k: [idx[-1], k]), (lambda k: [k])
        elif len(sa) == 1 and len(sb) == 2:
            ia, ib = (lambda k: [k]), (lambda k: [k, idx[-1]])
        else:
            ia, ib = (lambda k: [idx[-2], k]), (lambda k: [k, idx[-1]])

        def body(k):
            p1, x = self._low_full(a, ia(k), sa)
            p2, y = self._low_full(b, ib(k), sb)
            return p1 + p2, f"{x} * {y}"
        return self._loop_reduce(n, body)

    def _low_full(self, e, full_idx, shape):
        return self.low(e, full_idx, shape)

    def _reduce_all(self, x, fn):
        s = self.info(x)[0]
        if s is None:
            return self.low(x)
        init = {"sum": "0.0", "prod": "1.0", "max": "-math.inf", "min": "math.inf"}[fn]
        op = {"sum": "+", "prod": "*", "max": "max", "min": "min"}[fn]
        return self._loop_reduce(_size(s), lambda k: self.low(x, _unravel(k, s), s), init, op)

    def _low_call(self, e, idx, rshape):
        name = dotted(e.func)
        a = e.args
        if name in self.p.helpers:
            pre, args = [], []
            for x in a:
                p, s = self.low(x)
                pre += p
                args.append(s)
            return pre, f"{self.p.helper_name(self, name, e)}({', '.join(args)})"
        if name in _UNARY and len(a) == 1 or name in _BINARY and len(a) == 2 or name in _TERNARY and len(a) == 3:
            template = _UNARY.get(name) if len(a) == 1 else (_BINARY.get(name) or _TERNARY[name])
            pre, xs = [], []
            for k, x in enumerate(a):
                p, s = self.low(x, idx, rshape)
                pre += p
                if template.count(f"{{{k}}}") > 1 and not re.fullmatch(r"[\w\.\[\], +*]+", s):
                    t = self.fresh("u")   # an operand the template repeats is computed once
                    pre.append(f"{t} = {s}")
                    s = t
                xs.append(s)
            return pre, template.format(*xs)
        if name in ("len",):
            return [], str(self.info(a[0])[0][0])
        if name == "int":
            p, x = self.low(a[0])
            return p, f"int({x})"
        if name in ("np.sum", "np.prod", "np.max", "np.min", "np.mean", "rt.sum", "rt.mean", "rt.logsumexp"):
            ax = self._axis(e)
            base = name.split(".")[1]
            if ax is not None:
                return self._reduce_axis(a[0], ax, base, idx)
            if base == "mean":
                p, acc = self._reduce_all(a[0], "sum")
                return p, f"({acc} / {_size(self.info(a[0])[0])})"
            if base == "logsumexp":
                s = self.info(a[0])[0]
                p1, m = self._reduce_all(a[0], "max")
                p2, acc = self._loop_reduce(_size(s), lambda k: (lambda pe: (pe[0], f"math.exp({pe[1]} - {m})"))(
                    self.low(a[0], _unravel(k, s), s)))
                return p1 + p2, f"({m} + math.log({acc}))"
            return self._reduce_all(a[0], base)
        if name in ("np.dot", "rt.dot", "np.matmul"):
            return self._matmul(a[0], a[1], idx)
        if name == "np.outer":
            p1, x = self.low(a[0], [idx[0]], None)
            p2, y = self.low(a[1], [idx[1]], None)
            return p1 + p2, f"({x} * {y})"
        if name in ("rt.matmul_grad_x", "rt.matmul_grad_y"):
            return self._matmul_grad(name, e, idx)
        if name in ("rt.zeros_like", "np.zeros_like", "np.zeros", "np.empty"):
            return [], "0.0" if self.dtype_of(e) == "f" else "0"
        if name in ("np.ones_like", "np.ones"):
            return [], "1.0"
        if name == "np.full":
            return self.low(a[1])
        if name in ("rt.broadcast_to_like",):
            return self.low(a[0], idx, rshape)
        if name == "rt.unbroadcast":
            return self._unbroadcast(a[0], a[1], idx)
        if name in _REDUCTION_GRADS:
            return self._reduction_grad(name, e, idx)
        if name in ("rt.sum_grad", "rt.mean_grad"):
            sx = self.info(a[1])[0]
            ax = self._axis_arg(e, 2)
            if sx is None or idx is None:
                p, g = self.low(a[0])
            elif ax is None:
                p, g = self.low(a[0])
            else:
                ax %= len(sx)
                gi = [i for d, i in enumerate(self._full_of(idx, sx)) if d != ax]
                p, g = self.low(a[0], gi, None)
            if name == "rt.mean_grad" and sx is not None:
                g = f"({g} / {_size(sx) if ax is None else sx[ax]})"
            return p, g
        if name == "rt.reshape_like":
            sg, sx = self.info(a[0])[0], self.info(a[1])[0]
            if sg is None or idx is None:
                return self.low(a[0], idx)
            flat = _flat(self._full_of(idx, sx), sx)
            return self.low(a[0], _unravel(f"({flat})", sg), sg)
        if name in ("np.transpose", "rt.transpose"):
            if len(a) > 1 and not (isinstance(a[1], ast.Constant) and a[1].value is None):
                self.fail(e, "transpose with explicit axes")
            return self._low_transposed(a[0], idx)
        self.fail(e, f"{name or ast.unparse(e.func)}(...) has no device lowering")

    def _reduction_grad(self, name, e, idx):
        """Adjoints of whole-array max/min (g split among the tied extrema), prod (g times the product
        of the other entries, exact with zeros) and logsumexp (g * exp(x - ans)), element idx."""
        g, x, ans = e.args[:3]
        sx = self.info(x)[0]
        if sx is None:
            return self.low(g) if name != "rt.logsumexp_grad" else self._low_lse_scalar(g, x)
        if self._axis_arg(e, 3) is not None:
            self.fail(e, f"{name.split('.')[1].replace('_grad', '')} along an axis in device code",
                      "reduce the whole array, or write the loop over the axis yourself")
        if idx is None:
            self.fail(e, "an array adjoint used where a scalar is needed")
        full = self._full_of(idx, sx)
        p0, gv = self.low(g)
        p1, xv = self.low(x, full, sx)
        pre = p0 + p1
        n = _size(sx)
        if name == "rt.logsumexp_grad":
            p2, av = self.low(ans)
            return pre + p2, f"(({gv}) * math.exp({xv} - {av}))"
        if name == "rt.prod_grad":
            me = _flat(full, sx)

            def other(k):
                p, v = self.low(x, _unravel(k, sx), sx)
                return p, f"(1.0 if {k} == {me} else {v})"
            p2, acc = self._loop_reduce(n, other, "1.0", "*")
            return pre + p2, f"(({gv}) * {acc})"
        p2, av = self.low(ans)

        def tie(k):
            p, v = self.low(x, _unravel(k, sx), sx)
            return p, f"(1.0 if {v} == {av} else 0.0)"
        p3, cnt = self._loop_reduce(n, tie)
        return pre + p2 + p3, f"(({gv}) / {cnt} if {xv} == {av} else 0.0)"

    def _low_lse_scalar(self, g, x):
        p0, gv = self.low(g)
        p1, xv = self.low(x)
        return p0 + p1, f"(0.0 if {xv} == -math.inf else ({gv}))"

    def dtype_of(self, e):
        try:
            return self.info(e)[1]
        except Exception:
            return "f"

    def _axis_arg(self, e, pos):
        ax = [k.value for k in e.keywords if k.arg == "axis"] or e.args[pos:pos + 1]
        if not ax or (isinstance(ax[0], ast.Constant) and ax[0].value is None):
            return None
        return self._const_int(ax[0])

    def _full_of(self, idx, shape):
        ix = list(idx[len(idx) - len(shape):])
        return ["0" if n == 1 else i for i, n in zip(ix, shape)]

    def _reduce_axis(self, x, ax, fn, idx):
        s = self.info(x)[0]
        ax %= len(s)
        if fn not in ("sum", "mean"):
            self.fail(x, f"np.{fn} along an axis")
        rest = [i for i in (idx or [])]

        def body(k):
            full = rest[:ax] + [k] + rest[ax:]
            return self.low(x, full, s)
        p, acc = self._loop_reduce(s[ax], body)
        return p, (f"({acc} / {s[ax]})" if fn == "mean" else acc)

    def _unbroadcast(self, g, x, idx):
        sg, sx = self.info(g)[0], self.info(x)[0]
        if sg == sx or sg is None:
            return self.low(g, idx, sx)
        if sx is None:
            return self._reduce_all(g, "sum")
        # sum g over the dimensions x was broadcast along
        nd = len(sg)
        xs = (1,) * (nd - len(sx)) + tuple(sx)
        fixed = ["0"] * (nd - len(sx)) + self._full_of(idx, sx)
        free = [d for d in range(nd) if xs[d] == 1 and sg[d] != 1]
        n = _size(tuple(sg[d] for d in free))

        def body(k):
            ks = _unravel(k, tuple(sg[d] for d in free))
            full = list(fixed)
            for d, kk in zip(free, ks):
                full[d] = kk
            return self.low(g, full, sg)
        return self._loop_reduce(n, body)

    def _matmul_grad(self, name, e, idx):
        g, x, y = e.args
        sx, sy = self.info(x)[0], self.info(y)[0]
        B = ast.BinOp
        if name == "rt.matmul_grad_x":
            if sx is None or sy is None:
                expr = B(g, ast.Mult(), y)
                return self._reduce_all(expr, "sum") if sx is None else self.low(expr, idx)
            if len(sy) == 1:
                if len(sx) == 2:
                    return self.low(ast.Call(ast.Name("np.outer"), [g, y], []), idx) if False else \
                        self._outer(g, y, idx)
                return self.low(B(g, ast.Mult(), y), idx, sx)
            if len(sx) == 2:
                return self._matmul(g, ast.Attribute(y, "T"), idx)
            return self._matmul(y, g, idx)
        if sx is None or sy is None:
            expr = B(g, ast.Mult(), x)
            return self._reduce_all(expr, "sum") if sy is None else self.low(expr, idx)
        if len(sx) == 1:
            if len(sy) == 2:
                return self._outer(x, g, idx)
            return self.low(B(g, ast.Mult(), x), idx, sy)
        if len(sy) == 2:
            return self._matmul(ast.Attribute(x, "T"), g, idx)
        return self._matmul(g, x, idx)

    def _outer(self, a, b, idx):
        p1, x = self.low(a, [idx[0]])
        p2, y = self.low(b, [idx[1]])
        return p1 + p2, f"({x} * {y})"

    # ---- lowering: statements -----------------------------------------------------------------------
    def _names(self, e):
        return {n.id for n in ast.walk(e) if isinstance(n, ast.Name)}

    def _aligned_safe(self, e, target, shape):
        if target not in self._names(e):
            return True
        if isinstance(e, ast.Name):
            return True
        if isinstance(e, (ast.BinOp,)) and not isinstance(e.op, ast.MatMult):
            return all(self._aligned_safe(c, target, shape) for c in (e.left, e.right))
        if isinstance(e, ast.UnaryOp):
            return self._aligned_safe(e.operand, target, shape)
        if isinstance(e, ast.Call) and dotted(e.func) in _ELEMENTWISE:
            return all(self._aligned_safe(c, target, shape) for c in e.args)
        if isinstance(e, ast.Call) and dotted(e.func) in ("rt.unbroadcast", "rt.broadcast_to_like") and \
                self.info(e.args[0])[0] == shape:
            return self._aligned_safe(e.args[0], target, shape)
        return False

    def _fill(self, store_at, shape, value, target=None, aug=None):
        """Loop writing value (array context) into store_at(flat) for every element of shape."""
        n = _size(shape)
        j = self.fresh("j")
        idx = _unravel(j, shape)
        pre, v = self.low(value, idx, shape)
        if aug:
            v = f"{store_at(j)} {aug} {v}"
        body = pre + [f"{store_at(j)} = {v}"]
        return [f"for {j} in range({n}):"] + _indent(body)

    def _temp(self, shape):
        t = self.fresh("tmp")
        self.allocs.append(f"{t} = cuda.local.array({_size(shape)}, float64)")
        return t

    def _assign_array(self, name, value, node, aug=None):
        shape = self.shape[name]
        st = self.storage[name]
        if aug is None and isinstance(value, ast.Name) and value.id == name:
            return []
        if self._aligned_safe(value, name, shape):
            return self._fill(lambda j: st.at(j), shape, value, aug=aug)
        t = self._temp(shape)
        lines = self._fill(lambda j: f"{t}[{j}]", shape, value)
        j = self.fresh("j")
        upd = f"{st.at(j)} {aug}= {t}[{j}]" if aug else f"{st.at(j)} = {t}[{j}]"
        return lines + [f"for {j} in range({_size(shape)}):", f"    {upd}"]

    def _assign_subscript(self, t, value, node, aug=None):
        name = t.value.id
        if name in self.specs and name not in self.p_written:
            self.fail(node, "writing into an argument array")
        if name in self.tapes:
            p1, i = self.low(t.slice)
            p2, v = self.low(value)
            return p1 + p2 + [f"{name}[{i}] {aug or ''}= {v}"]
        base = self.shape[name]
        shape, _ = self._view(t, base, None)
        st = self.storage[name]
        if not shape:
            _, full = self._view(t, base, [])
            p, v = self.low(value)
            return p + [f"{st.at(_flat(full, base))} {aug or ''}= {v}"]
        src = value
        lines = []
        if name in self._names(value):
            tmp = self._temp(shape)
            lines += self._fill(lambda j: f"{tmp}[{j}]", shape, value)
            src = None
        j = self.fresh("j")
        idx = _unravel(j, shape)
        _, full = self._view(t, base, idx)
        if src is None:
            pre, v = [], f"{tmp}[{j}]"
        else:
            pre, v = self.low(src, idx, shape)
        return lines + [f"for {j} in range({_size(shape)}):"] + _indent(pre + [f"{st.at(_flat(full, base))} {aug or ''}= {v}"])

    def stmts(self, body):
        out = []
        for st in body:
            out += self.p.comments_before(st.lineno)
            if not (isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name)
                    and st.targets[0].id in self.tapes):
                self._prev_check = None
            try:
                out += self.stmt(st)
            except SrcdiffError:
                raise
            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as ex:
                self.fail(st, f"unsupported on the device: {ex}")
        return out or ["pass"]

    def stmt(self, st):
        if isinstance(st, ast.Expr):
            v = st.value
            if isinstance(v, ast.Constant):
                return []
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "append":
                stk = v.func.value.id
                cap = self.stack_cap[stk]
                p, x = self.low(v.args[0])
                return p + [f"if {stk}_n >= {cap}:", f"    return {OVERFLOW}", f"{stk}[{stk}_n] = {x}",
                            f"{stk}_n += 1"]
            self.fail(st, f"unsupported statement {ast.unparse(st)}")
        if isinstance(st, ast.Pass):
            return ["pass"]
        if isinstance(st, (ast.Break, ast.Continue)):
            return [ast.unparse(st)]
        if isinstance(st, ast.Assign):
            if len(st.targets) != 1:
                self.fail(st, "multiple assignment targets")
            t, v = st.targets[0], st.value
            if isinstance(t, ast.Name):
                if t.id in self.stacks:
                    return [f"{t.id}_n = 0"]
                if t.id in self.tapes and self._tape_like(v) is not None:
                    k = self.fresh("k")
                    zero = "0.0" if self.tapes[t.id] == "f" else "0"
                    return [f"for {k} in range({self.tape_cap[t.id]}):", f"    {t.id}[{k}] = {zero}"]
                if t.id in self.tapes:
                    cap = self.tape_cap[t.id]
                    p, n = self.low(v.args[0])
                    check = p + [f"if {n} > {cap}:", f"    return {OVERFLOW}"]
                    if check == self._prev_check:
                        return []
                    self._prev_check = check
                    return check
                if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "pop":
                    stk = v.func.value.id
                    return [f"{stk}_n -= 1", f"{t.id} = {stk}[{stk}_n]"]
                if t.id in self.tuples:
                    p, x = self.low(v)
                    return p + [f"{t.id} = {x}"]
                if t.id in self.shape:
                    return self._assign_array(t.id, v, st)
                p, x = self.low(v)
                return p + [f"{t.id} = {x}"]
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                return self._assign_subscript(t, v, st)
            if isinstance(t, ast.Tuple) and all(isinstance(x, ast.Name) for x in t.elts):
                p, x = self.low(v)
                return p + [f"{', '.join(x_.id for x_ in t.elts)} = {x}"]
            self.fail(st, f"unsupported assignment {ast.unparse(st)}")
        if isinstance(st, ast.AugAssign):
            op = _OPS[type(st.op)]
            t = st.target
            if isinstance(t, ast.Name):
                if t.id in self.shape:
                    return self._assign_array(t.id, st.value, st, aug=op)
                p, x = self.low(st.value)
                return p + [f"{t.id} {op}= {x}"]
            return self._assign_subscript(t, st.value, st, aug=op)
        if isinstance(st, ast.For):
            it = st.iter
            if not (isinstance(it, ast.Call) and dotted(it.func) == "range" and isinstance(st.target, ast.Name)):
                self.fail(st, "for loops other than over range(...)")
            pre, args = [], []
            for x in it.args:
                p, s = self.low(x)
                pre += p
                args.append(s)
            return pre + [f"for {st.target.id} in range({', '.join(args)}):"] + _indent(self.stmts(st.body))
        if isinstance(st, ast.While):
            p, c = self.low(st.test)
            if p:
                self.fail(st, "a while condition that needs a loop to evaluate")
            return [f"while {c}:"] + _indent(self.stmts(st.body))
        if isinstance(st, ast.If):
            p, c = self.low(st.test)
            out = p + [f"if {c}:"] + _indent(self.stmts(st.body))
            if st.orelse:
                out += ["else:"] + _indent(self.stmts(st.orelse))
            return out
        if isinstance(st, ast.Return):
            return self._return(st)
        self.fail(st, f"unsupported statement {type(st).__name__}")

    def _leaves(self, e, acc):
        if isinstance(e, ast.Tuple):
            return tuple(self._leaves(x, acc) for x in e.elts)
        acc.append(e)
        return len(acc) - 1

    def _return(self, st):
        if not self.entry:
            if st.value is None:
                self.fail(st, "a helper without a result")
            p, x = self.low(st.value) if not isinstance(st.value, ast.Tuple) else self._low_tuple(st.value)
            return p + [f"return {x}"]
        leaves = []
        self._leaves(st.value, leaves)
        out = []
        for e, (off, shape) in zip(leaves, self.outputs):
            if shape is None:
                p, x = self.low(e)
                out += p + [f"cu_out[{off}, cu_col] = {x}" if off else f"cu_out[0, cu_col] = {x}"]
            elif isinstance(e, ast.Name) and self.storage.get(e.id) == Storage("cu_out", shape, off, True):
                continue
            else:
                out += self._fill(lambda j, off=off: f"cu_out[{off} + {j}, cu_col]", shape, e)
        return out + ["return 0"]

    def _low_tuple(self, t):
        pre, xs = [], []
        for x in t.elts:
            p, s = self.low(x)
            pre += p
            xs.append(s)
        return pre, "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"

    # ---- driver -------------------------------------------------------------------------------------
    def run(self) -> Lowered:
        self.infer()
        fn = self.fn
        self.p_written = set()
        for st in self._walk(fn.body):
            tgts = st.targets if isinstance(st, ast.Assign) else [st.target] if isinstance(st, ast.AugAssign) else []
            for t in tgts:
                base = t.value if isinstance(t, ast.Subscript) else t
                if isinstance(base, ast.Name) and base.id in self.specs and self.specs[base.id].shape is not None:
                    self.p_written.add(base.id)
        returns = [st for st in self._walk(fn.body) if isinstance(st, ast.Return)]
        structure, outputs, dest = None, [], {}
        if self.entry:
            if not returns or any(r.value is None for r in returns):
                self.fail(fn, "the gradient returns nothing")
            leaves = []
            structure = self._leaves(returns[0].value, leaves)
            off = 0
            for k, e in enumerate(leaves):
                try:
                    s = self.info(e)[0]
                except Exception as ex:
                    self.fail(returns[0], f"result {ast.unparse(e)}: {ex}")
                if s == "tuple":
                    self.fail(returns[0], "nested results")
                outputs.append((off, s))
                if isinstance(e, ast.Name) and s is not None and e.id not in self.specs and e.id not in dest and \
                        all(self._leaf_name(r, k) == e.id for r in returns):
                    dest[e.id] = off
                off += _size(s)
            self.outputs = outputs
        # storage
        lines = []
        for name, shape in self.shape.items():
            if name in self.p.global_arrays:
                continue
            if name in self.specs and name not in self.p_written:
                self.storage[name] = Storage(name, shape)
            elif name in dest:
                self.storage[name] = Storage("cu_out", shape, dest[name], True)
            else:
                self.storage[name] = Storage(name, shape)
                dt = "int64" if self.dtype.get(name) == "i" else "float64"
                if name in self.specs:
                    src = f"cu_arg_{name}"
                    self.allocs.append(f"{name} = cuda.local.array({_size(shape)}, {dt})")
                    self.allocs.append(f"for cu_i in range({_size(shape)}):")
                    self.allocs.append(f"    {name}[cu_i] = {src}[cu_i]")
                else:
                    self.allocs.append(f"{name} = cuda.local.array({_size(shape)}, {dt})")
        # stacks and tapes
        self.stack_cap, self.tape_cap = {}, {}
        self._capacities(fn.body, [])
        for stk, cap in self.stack_cap.items():
            self.allocs.append(f"{stk} = cuda.local.array({max(cap, 1)}, {_DT[self.stacks[stk] or 'f']})")
        for tp, cap in self.tape_cap.items():
            self.allocs.append(f"{tp} = cuda.local.array({max(cap, 1)}, {_DT[self.tapes[tp] or 'f']})")
        body = self.stmts(fn.body)
        params = [f"cu_arg_{p}" if p in self.p_written else p for p in self.params]
        if self.entry:
            params += ["cu_out", "cu_col"]
        lines = [f"def {self.name}({', '.join(params)}):"] + _indent(self.allocs + body)
        return Lowered(self.name, lines, outputs, structure)

    def _leaf_name(self, ret, k):
        leaves = []
        self._leaves(ret.value, leaves)
        return leaves[k].id if k < len(leaves) and isinstance(leaves[k], ast.Name) else None

    def _capacities(self, body, loops):
        for st in body:
            if isinstance(st, (ast.For, ast.While)):
                self._capacities(st.body, loops + [st])
                self._capacities(st.orelse, loops + [st])
            elif isinstance(st, ast.If):
                self._capacities(st.body, loops)
                self._capacities(st.orelse, loops)
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and \
                    isinstance(st.value.func, ast.Attribute) and st.value.func.attr == "append":
                stk = st.value.func.value.id
                cap = 1
                for lp in loops:
                    cap *= self._bound(lp, self._trip(lp), "this loop")
                self.stack_cap[stk] = self.stack_cap.get(stk, 0) + cap
            elif isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and st.targets[0].id in self.tapes:
                like = self._tape_like(st.value)
                if like is not None:
                    self.tape_cap[st.targets[0].id] = self.tape_cap[like]
                    continue
                trip = self.host.max(st.value.args[0])
                self.tape_cap[st.targets[0].id] = self._bound(st, trip, "this loop")


_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
        ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_UOPS = {ast.USub: "-", ast.UAdd: "+", ast.Not: "not ", ast.Invert: "~"}
_CMPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


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
                isinstance(st.value, ast.Attribute) and (dotted(st.value) or "").startswith("np.") and \
                isinstance(getattr(np, st.value.attr, None), type):
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

    def __init__(self, module, user_fn, specs, max_trip, select=None):
        """select: keep only element `select` of the entry's tuple result (hvp keeps H·v of
        forward-over-reverse's (gradient, H·v))."""
        import inspect
        self.module, self.max_trip = module, max_trip
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
        out = []
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
