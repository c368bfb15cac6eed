"""srcdiff.cuda: per-example gradients on NVIDIA GPUs, one CUDA thread per example.

    g = srcdiff.grad(loglik, wrt=0)                        # any srcdiff grad / value_and_grad
    k = srcdiff.cuda.vmap(g, in_axes=(None, 0, 0))         # w broadcast, rows of X and y batched
    per_example = k(w, X, y)                               # shape (batch, *w.shape)
    total = srcdiff.cuda.vmap(g, in_axes=(None, 0, 0), batch_sum=True)(w, X, y)   # shape w.shape
    print(srcdiff.source(k))                               # the generated CUDA (numba) source
    ptx = k.ptx(w, X, y, cc=(9, 0))                        # PTX, no GPU needed

Forward mode too: `srcdiff.cuda.vmap(srcdiff.jvp(f, wrt=0), in_axes=(None, 0, 0, 0))(w, X, y, T)` returns
(values, directional derivatives) per example, and `srcdiff.hvp(f, ...)` gives H·v per example; the
tangent is the last argument (a tuple of one tangent per wrt argument when wrt is a tuple), and its
in_axes entry is 0 / None, or a tuple with one entry per wrt argument.

Tuple and list arguments (`def f(xa, M): x, a = xa`): each element becomes a kernel argument of its own, as the
CPU transforms flatten them (srcdiff/cuda/arguments.py). The argument's in_axes entry is 0 / None for the whole
of it, or a tuple with one entry per element, nested as deep as the argument (`in_axes=((0, None), None)`: x
batched, a broadcast); gradients with respect to it come back in its structure (a list for a list), each leaf
with its leading batch axis.

Install with the `cuda` extra (`pip install srcdiff[cuda]`, i.e. numba-cuda[cu13]). Without a GPU,
set NUMBA_ENABLE_CUDASIM=1 before numba.cuda is first imported to run kernels on the simulator.

How it works: the kernel is derived from the same gradient srcdiff generates on the CPU. `k(*args)`
specialises `g` to the kinds of ONE example (batched arguments lose their leading axis), takes the
generated module and lowers it for the device (srcdiff/cuda/lower.py and the modules beside it):
arrays get static per-example shapes and become flat buffers (argument rows, `cuda.local.array`
locals, or the output buffer the results are written into), array expressions become element loops, `np.*` on scalars become `math.*`,
tapes and stacks become fixed-size local arrays. Each thread calls the device function for its
example; results come back with a leading batch axis, or summed over the batch (`batch_sum=True`,
a per-block shared-memory tree reduction followed by one atomic add per block and component).

Loops and max_trip: device code cannot allocate, so the tapes that record loop iterations have a size
fixed when the kernel is compiled. srcdiff takes it from the loop's trip count when that is a literal
or a function of the arguments (e.g. `range(n)` with n an argument: the largest n in the batch, checked
on the host before the launch); otherwise (while loops, trip counts computed inside the function) pass
`max_trip=`: the most iterations any one loop runs for one example (nested loops: per loop). A run that
needs more raises srcdiff.SrcdiffError (on the host before launch when the trip count is an argument,
else after the kernel detected the overflow). Tape memory is per thread: keep max_trip * (number of
saved values) * 8 bytes modest (local memory); an array saved each iteration (reverse mode's stack of an array
carried through a loop) takes one row of its size per iteration.

Shapes: `x.shape[k]`, `len(x)` and `x.size` of arrays whose per-example shape is known become constants
in the kernel (e.g. `for j in range(x.shape[0]): s += w[j] * x[j]`). An array with no elements (shape (0, 3))
follows NumPy: sums of none are 0, products 1, means NaN; np.max / np.min / logsumexp of none, where NumPy
raises, make the kernel report srcdiff.SrcdiffError at the user's line where an example reaches them (a branch
`if M.shape[0] > 0:` may skip them). `np.inf`, `np.nan`, `np.pi`, `np.e`, `math.inf`, `math.pi`, ... are
numbers in the kernel.

Placeholders: a value bound on some paths only (after an early return, in a branch or a loop) is bound first
to a placeholder of its rank in generated code (`v = np.zeros((1,))`, transforms/unbound.py, annotation
PLACEHOLDER); on the device v has one buffer, of its real binding's shape, zero-filled there. An array sum(...)
over a comprehension has its terms' shape; an example whose comprehension runs no iteration (Python's sum is the
number 0 there) raises srcdiff.SrcdiffError after the launch.

print: `print('x =', x)` of text, numbers and named arrays prints from each thread its example's line (CUDA's
printf, at most 32 values: an array's elements one by one), as the CPU gradient prints once per example.

Limits: per-example arrays must have shapes fixed at specialisation (the arguments' shapes, literal
sizes, or broadcast integer arguments), one shape per name (placeholders aside: also those of the gradient hvp
differentiates, whose lines its module's line table notes, generated.Lines.placeholders);
helper functions called by the differentiated function must be scalar-in/scalar-out; computed indices
count from the end when negative, as in Python (an index out of range is not checked on the device); no Python
objects (lists, dicts, strings) besides srcdiff's own stacks and `np.array([...])` of numbers or of arrays of
one shape written out (a local array filled element by element). Log-domain products (srcdiff computes a
loop's `logsumexp(v[:, None] + M, axis=0)` from a table of exp(M), rt.exp_shifted, made before the loop: a tuple
of arrays that helpers of its own read) run by their direct formula, as in plain Python, the table dropped
(srcdiff/cuda/logdomain.py); one whose table is read by anything else is declined.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..error_reports import at_user_line, user_line
from ..errors import SrcdiffError
from ..numba_names import unambiguous
from ..transforms import dims, flatten
from .arguments import leaves_of, rebuild_example, structs_of, tangent_leaves
from .common import ASSERTION, EMPTY_REDUCTION, EMPTY_SUM

__all__ = ["vmap", "Kernel"]


def _cuda():
    try:
        from numba import cuda
    except ImportError as ex:  # pragma: no cover
        raise SrcdiffError("srcdiff.cuda needs numba-cuda", advice="pip install 'srcdiff[cuda]'") from ex
    if not simulator():
        _check_numba_cuda_imports()
    return cuda


def _check_numba_cuda_imports():
    """numba-cuda loads its NumPy support at the first kernel compilation; a NumPy release newer than it
    knows (numba-cuda 0.30 asks NumPy 2.5 for np.row_stack, which 2.5 removed) fails there with an
    AttributeError from inside numba-cuda. Load it here, so that the user reads which versions disagree."""
    try:
        import numba.cuda.np.arrayobj  # noqa: F401
    except (AttributeError, ImportError) as ex:
        from importlib.metadata import PackageNotFoundError, version
        try:
            ncuda = version("numba-cuda")
        except PackageNotFoundError:  # pragma: no cover
            ncuda = "?"
        raise SrcdiffError(f"numba-cuda {ncuda} cannot load its NumPy support under NumPy {np.__version__} "
                           f"({type(ex).__name__}: {ex})",
                           advice="install a NumPy that this numba-cuda supports (pip install 'numpy<2.5') or a "
                                  "numba-cuda release made for this NumPy") from ex


def simulator() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def vmap(g, in_axes=0, batch_sum: bool = False, max_trip: int | None = None, threads_per_block: int = 128):
    """A CUDA kernel computing `g` (a srcdiff grad / value_and_grad / jvp / hvp) for every example of a batch.

    in_axes: one entry per argument of g: 0 (the argument has a leading batch axis; each thread gets
    one slice) or None (the same value for every example); an int applies to all arguments. A tuple or list
    argument takes 0 / None for all its elements, or a tuple of entries, one per element (nested as it is).
    batch_sum: sum the results over the batch instead of returning one per example.
    max_trip: bound on the iterations of any loop per example when it cannot be read off the
    arguments (see the module docstring).
    """
    from ..api import Transformed
    from ..forward_api import HVP, ForwardTransformed
    if not (isinstance(g, Transformed) and g.mode in ("grad", "value_and_grad")
            or isinstance(g, (ForwardTransformed, HVP))):
        raise SrcdiffError(f"srcdiff.cuda.vmap takes a srcdiff.grad, value_and_grad, jvp or hvp function, got "
                           f"{getattr(g, '__name__', type(g).__name__)}",
                           advice="for vjp, vmap srcdiff.grad of the scalar <cotangent, f(x)> instead")
    if getattr(g, "checkpoints", None) is not None:
        raise SrcdiffError(f"srcdiff.cuda.vmap of {g.__name__}, made with checkpoints={g.checkpoints}: a kernel's "
                           "tapes are fixed-size per-thread arrays, which checkpointing does not shorten here",
                           advice="vmap the gradient made without checkpoints= (and max_trip= to bound its loops)")
    if max_trip is not None and (not isinstance(max_trip, int) or max_trip < 0):
        raise SrcdiffError(f"max_trip must be a non-negative int, got {max_trip!r}")
    return Kernel(g, in_axes, batch_sum, max_trip, threads_per_block)


class _Prepared:
    pass


def _unambiguous_functions(ns: dict, cuda) -> None:
    """The kernel's and device functions' dispatchers in `ns` made again from copies of their functions whose
    locals numba-cuda's temporaries cannot confuse (srcdiff/numba_names.py: a load of `b1` at offset 12 and one
    of `b` at 112 both name `$b112.<k>`), where there are such locals. They read each other through `ns`."""
    for name, d in list(ns.items()):
        fn = getattr(d, "py_func", None)
        if fn is None or getattr(fn, "__globals__", None) is not ns:
            continue
        renamed = unambiguous(fn)
        if renamed is not fn:
            ns[name] = cuda.jit(device=True)(renamed) if d.targetoptions.get("device") else cuda.jit(renamed)


class Kernel:
    """What srcdiff.cuda.vmap returns: call it on a batch; .source / .ptx(...) show the device code."""

    def __init__(self, g, in_axes, batch_sum, max_trip, tpb):
        self.g, self.in_axes, self.batch_sum, self.max_trip, self.tpb = g, in_axes, batch_sum, max_trip, tpb
        self._compiled: dict = {}
        self._source = None
        self.__name__ = f"{g.__name__}_cuda"

    # ---- host side ---------------------------------------------------------------------------------
    def _err(self, message, advice=None):
        """A SrcdiffError at the file:line of the user's function behind g."""
        from ..api import user_location
        return SrcdiffError(message, *user_location(self.g), advice=advice)

    def _kind(self):
        from ..forward_api import HVP, ForwardTransformed
        return "hvp" if isinstance(self.g, HVP) else "jvp" if isinstance(self.g, ForwardTransformed) else "rev"

    def _axes(self, n):
        ax = self.in_axes
        if ax is None or isinstance(ax, int):
            ax = (ax,) * n
        if not isinstance(ax, (tuple, list)):
            raise self._err(f"in_axes must be 0, None or a tuple with one entry per argument, got {ax!r}")
        ax = tuple(ax)
        if len(ax) != n:
            raise self._err(f"in_axes has {len(ax)} entries for {n} arguments")
        return ax

    def _flat_args(self, args):
        """(leaves, structs, primal): the kernel's arguments, one per array or number of g's arguments (a tuple or
        list argument gives one per element: srcdiff/cuda/arguments.py) and, for jvp / hvp, of the tangent (the
        last argument; a tuple of one tangent per wrt argument when wrt is a tuple); the (parameter, structure)
        pairs of the tuple/list arguments; the arguments of the user's function."""
        kind = self._kind()
        axes = self._axes(len(args))
        fwd = None if kind == "rev" else self.g.fwd if kind == "hvp" else self.g
        params = list((fwd or self.g)._params())
        primal = list(args) if kind == "rev" else list(args[:-1])
        leaves = []
        for name, a, ax in zip(params, primal, axes):
            leaves += leaves_of(name, a, ax, self._err)
        if fwd is not None:
            leaves += tangent_leaves(fwd, primal, args[-1], axes[-1], self._err)
        return leaves, structs_of(params, primal), primal

    def _build(self, example, structs, primal):
        """(generated module, the function whose lines its comments cite, result selection) for the leaves'
        per-example values `example`."""
        from ..transforms import kinds
        kind = self._kind()
        if kind == "rev":
            made = self.g.specialise(tuple(kinds.kind_of_value(e) for e in example), structs=structs,
                                     need_module=True)
            return made.module, self.g.f, None
        fwd = self.g.fwd if kind == "hvp" else self.g
        nprimal = sum(len(flatten.leaves(a)) for a in primal)
        if kind == "hvp" and structs:       # forward over the gradient generated leaf by leaf (as the CPU hvp)
            flat = list(example[:nprimal])
            grad = self.g.grad.specialise(tuple(kinds.kind_of_value(e) for e in flat), structs,
                                          arg_dims=dims.label_arguments(flat)).function
            fwd._build_over(getattr(grad, "py_func", grad), structs)
            made = fwd.last
        else:
            made = fwd.specialise(rebuild_example(primal, example[:nprimal]), structs)
        return made.module, made.inner, (1 if kind == "hvp" else None)

    def _result(self, out, p):
        """The results in the structure the CPU transform returns them (gradients of tuple/list arguments as
        tuples/lists of the leaves' gradients)."""
        kind = self._kind()
        if kind == "jvp" or kind == "hvp" and not p.structs:
            return out
        g = self.g if kind == "rev" else self.g.grad
        out = g._shape(out)
        return g._restructure(out, dict(p.structs), p.primal) if p.structs else out

    def _leaf_arg(self, leaf, dev):
        """(ArgSpec, kernel argument, per-example value, batch size or None) of one leaf."""
        from .lower import ArgSpec
        name, a, ax = leaf.name, leaf.value, leaf.axis
        if not (dev or isinstance(a, (np.ndarray, int, float, bool, np.number, np.bool_))):
            raise self._err(f"argument {name} of {self.g.__name__} is a {type(a).__name__}: "
                            f"srcdiff.cuda takes numbers, arrays, and tuples or lists of them",
                            advice="pass settings such as strings through a closure (a wrapper function that fixes "
                                   "them) and numbers as floats, ints or arrays")
        shape = tuple(a.shape) if (dev or isinstance(a, np.ndarray)) else ()
        dtype = np.dtype(a.dtype) if (dev or isinstance(a, np.ndarray)) else np.asarray(a).dtype
        kind = {"f": "f", "i": "i", "u": "i", "b": "b"}.get(dtype.kind)
        if kind is None:
            raise self._err(f"argument {name} has dtype {dtype}: srcdiff.cuda takes real numbers")
        if ax == 0 and not shape:
            raise self._err(f"argument {name} has in_axes 0 but no batch axis")
        pshape = shape[1:] if ax == 0 else shape
        B = shape[0] if ax == 0 else None
        ndt = {"f": np.float64, "i": np.int64, "b": np.int64}[kind]
        host = None
        if not pshape:
            host = (a.copy_to_host() if dev else np.asarray(a)) if ax == 0 else (a.copy_to_host() if dev else a)
        spec = ArgSpec(name, pshape or None, kind, host, ax == 0)
        if ax == 0:
            if dev:
                karg = a.reshape(B, max(int(np.prod(pshape)), 1)) if pshape else a
            else:
                arr = np.ascontiguousarray(a, dtype=ndt)
                karg = arr.reshape(B, int(np.prod(pshape))) if pshape else arr   # (B = 0: no -1 to infer)
        elif pshape:
            karg = a.reshape(-1) if dev else np.ascontiguousarray(a, dtype=ndt).reshape(-1)
        else:
            karg = ndt(a.copy_to_host() if dev else a).item()
        ex = np.zeros(pshape, dtype=ndt if kind != "b" else bool) if pshape else \
            (float(0) if kind == "f" else int(0) if kind == "i" else False)
        return spec, karg, ex, B

    def _prepare(self, args, for_ptx=False):
        from .lower import Program
        cuda = _cuda()
        nparams = len((self.g.fwd if self._kind() == "hvp" else self.g)._params()) + (self._kind() != "rev")
        if len(args) != nparams:
            raise self._err(f"{self.g.__name__} takes {nparams} arguments"
                               f"{'' if self._kind() == 'rev' else ' (with the tangent last)'}, got {len(args)}",
                            advice="a kernel takes every parameter of your function positionally, in order, those "
                                   "with defaults and keyword-only ones included (it fills in no defaults and takes "
                                   "no keywords), with one in_axes entry each (None: the same for every example)")
        leaves, structs, primal = self._flat_args(args)
        B = None
        specs, host_args, example = [], [], []
        for leaf in leaves:
            dev = cuda.is_cuda_array(leaf.value) if not simulator() else hasattr(leaf.value, "copy_to_host")
            spec, karg, ex, b = self._leaf_arg(leaf, dev)
            if b is not None and B is not None and b != B:
                raise self._err(f"batch sizes differ: {leaf.name} has {b} examples, others {B}")
            B = B if b is None else b
            specs.append(spec)
            host_args.append(karg)
            example.append(ex)
        if B is None:
            raise self._err("srcdiff.cuda.vmap: no argument has in_axes 0 (nothing to batch over)")
        module, cited, select = self._build(example, structs, primal)
        entry_params = [a.id for a in next(fn for fn in module.functions if fn.name == module.entry).args.args]
        if len(entry_params) != len(specs):
            raise self._err(f"{self.g.__name__}: the generated function takes {len(entry_params)} arguments, "
                               f"got {len(specs)}")
        for spec, pname in zip(specs, entry_params):
            spec.name = pname
        try:
            hvp = self._kind() == "hvp"
            prog = Program(module, cited, specs, self.max_trip, select,
                           getattr(getattr(self.g.grad, "f", None), "__name__", None) if hvp else None,
                           user=self._user_function(),
                           leaves={pname: leaf.name for pname, leaf in zip(entry_params, leaves) if "[" in leaf.name},
                           cite=(lambda path, n: user_line(path, n, self.g.grad)) if hvp else None)
        except SrcdiffError as exc:     # at a line of the gradient hvp differentiates: at the user's line instead
            moved = at_user_line(exc, self.g.grad if self._kind() == "hvp" else self.g)
            if moved is None:
                raise
            raise moved from None
        tpb = 1
        while tpb < min(B, self.tpb):
            tpb *= 2
        src = prog.source(self._kernel_source(prog, specs, tpb))
        self._source = src
        p = _Prepared()
        p.B, p.specs, p.host_args, p.prog, p.src, p.tpb = B, specs, host_args, prog, src, tpb
        p.structs, p.primal = structs, primal
        p.ntot = sum(int(np.prod(s)) if s else 1 for _, s in prog.entry.outputs)
        return p

    def _user_function(self):
        """The user's function g differentiates (through jvp of a grad, hvp: the grad's own `f`)."""
        f = self.g
        while not hasattr(f, "__code__") and hasattr(f, "f"):
            f = f.f
        return f

    def _kernel_source(self, prog, specs, tpb):
        entry = prog.entry.name
        kname = entry.replace("_dev", "_kernel")
        kparams = ", ".join(f"cu_in_{s.name}" for s in specs)
        call = ", ".join(f"cu_in_{s.name}[cu_tid]" if s.batched else f"cu_in_{s.name}" for s in specs)
        ntot = sum(int(np.prod(s)) if s else 1 for _, s in prog.entry.outputs)
        if not self.batch_sum:
            # the results go to a local buffer first and then to cu_out in one loop: NVVM (CUDA 13.0) compiles
            # a store into cu_out followed by a loop of stores of the same value into the next rows (the
            # zero rows of a gradient that does not depend on some argument) to the wrong rows
            return "\n".join([
                "@cuda.jit",
                f"def {kname}(cu_B, {kparams}, cu_out, cu_err):",
                "    cu_tid = cuda.grid(1)",
                "    if cu_tid < cu_B:",
                f"        cu_res = cuda.local.array(({max(ntot, 1)}, 1), float64)",
                f"        cu_st = {entry}({call}, cu_res, 0)",
                "        if cu_st != 0:",
                "            cu_err[0] = cu_st",
                f"        for cu_k in range({ntot}):",
                "            cu_out[cu_k, cu_tid] = cu_res[cu_k, 0]",
            ]) + "\n"
        return "\n".join([
            "@cuda.jit",
            f"def {kname}(cu_B, {kparams}, cu_out, cu_err):",
            "    # per-example results in a local buffer, then a shared-memory tree reduction per block",
            "    # and one atomic add per block and component into cu_out",
            "    cu_tid = cuda.grid(1)",
            "    cu_t = cuda.threadIdx.x",
            f"    cu_acc = cuda.local.array(({max(ntot, 1)}, 1), float64)",
            f"    for cu_k in range({ntot}):",
            "        cu_acc[cu_k, 0] = 0.0",
            "    if cu_tid < cu_B:",
            f"        cu_st = {entry}({call}, cu_acc, 0)",
            "        if cu_st != 0:",
            "            cu_err[0] = cu_st",
            f"    cu_sh = cuda.shared.array({tpb}, float64)",
            f"    for cu_k in range({ntot}):",
            "        cu_sh[cu_t] = cu_acc[cu_k, 0]",
            "        cuda.syncthreads()",
            f"        cu_s = {tpb // 2}",
            "        while cu_s > 0:",
            "            if cu_t < cu_s:",
            "                cu_sh[cu_t] += cu_sh[cu_t + cu_s]",
            "            cuda.syncthreads()",
            "            cu_s //= 2",
            "        if cu_t == 0:",
            "            cuda.atomic.add(cu_out, cu_k, cu_sh[0])",
            "        cuda.syncthreads()",
        ]) + "\n"

    def _namespace(self, src, prog=None):
        cuda = _cuda()
        from numba import float64, int64
        ns = {"cuda": cuda, "math": math, "float64": float64, "int64": int64, "__name__": "srcdiff_cuda_kernel"}
        if prog is not None:
            ns.update(prog.global_arrays)
        code = compile(src, f"<srcdiff.cuda {self.g.__name__}>", "exec")
        exec(code, ns)
        if not simulator():
            _unambiguous_functions(ns, cuda)
        return ns

    def _kernel(self, p):
        if p.src not in self._compiled:
            ns = self._namespace(p.src, p.prog)
            self._compiled[p.src] = ns[p.prog.entry.name.replace("_dev", "_kernel")]
        return self._compiled[p.src]

    def __call__(self, *args, **kwargs):
        if kwargs:      # (a TypeError from Python's call otherwise, naming no parameter of the user's function)
            raise self._err(f"{self.__name__} called with keyword arguments ({', '.join(kwargs)})",
                            advice="pass every parameter of your function positionally, in order (defaults and "
                                   "keyword-only ones included), with one in_axes entry each")
        cuda = _cuda()
        p = self._prepare(args)
        kern = self._kernel(p)
        B, ntot = p.B, p.ntot
        if B == 0:
            return self._split(np.zeros((ntot, 0)) if not self.batch_sum else np.zeros(ntot), p)
        dargs = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in p.host_args]
        out = cuda.device_array(ntot, np.float64) if self.batch_sum else cuda.device_array((ntot, B), np.float64)
        if self.batch_sum:
            out = cuda.to_device(np.zeros(ntot))
        err = cuda.to_device(np.zeros(1, np.int64))
        blocks = (B + p.tpb - 1) // p.tpb
        kern[blocks, p.tpb](B, *dargs, out, err)
        status = err.copy_to_host()[0]
        if status == ASSERTION:
            raise self._err(f"{self.g.__name__}: an assert failed for some example of the batch (the kernel "
                            "does not say which)",
                            advice="run the function on the CPU on the examples to find the one that fails")
        if status == EMPTY_SUM:
            raise self._err(f"{self.g.__name__}: a sum(...) of arrays over a comprehension that runs no iteration for "
                            "some example of the batch (on the device an array sum has its terms' shape; Python's "
                            "empty sum is the number 0)",
                            advice="make the comprehension run at least once for every example, or add the terms "
                                   "into np.zeros(...) of their shape in a loop")
        if status >= EMPTY_REDUCTION:
            msg, filename, line, text, advice = p.prog.empty_reductions[status - EMPTY_REDUCTION]
            where = f"\n    line {line}: {text}" if text else ""
            raise SrcdiffError(f"{self.g.__name__}: {msg}, reached for some example of the batch{where}",
                               filename or p.prog.filename, line, advice)
        if status != 0:
            raise self._err(f"{self.g.__name__}: a loop ran more iterations for some example than the "
                               f"kernel's fixed-size tapes hold (max_trip={self.max_trip})",
                               advice="pass a larger max_trip= to srcdiff.cuda.vmap")
        return self._split(out.copy_to_host(), p)

    def _split(self, res, p):
        leaves = []
        for off, shape in p.prog.entry.outputs:
            n = int(np.prod(shape)) if shape else 1
            if self.batch_sum:
                leaves.append(float(res[off]) if shape is None else res[off:off + n].reshape(shape))
            else:
                leaves.append(res[off] if shape is None else res[off:off + n].T.reshape((p.B,) + tuple(shape)))

        def build(s):
            return tuple(build(x) for x in s) if isinstance(s, tuple) else leaves[s]
        return self._result(build(p.prog.entry.structure), p)

    # ---- inspection ---------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """Source of the most recently specialised kernel (call k(...) or k.ptx(...) first)."""
        if self._source is None:
            raise SrcdiffError("no kernel yet: call the kernel (or .ptx(*args)) once to specialise it")
        return self._source

    def ptx(self, *args, cc=(9, 0)) -> str:
        """PTX of the kernel specialised to these arguments, for compute capability `cc` (no GPU needed)."""
        if simulator():
            raise SrcdiffError("PTX is not available under NUMBA_ENABLE_CUDASIM")
        cuda = _cuda()
        import numba
        from unittest import mock
        import numba.cuda.dispatcher as disp
        p = self._prepare(args, for_ptx=True)
        ns = self._namespace(p.src, p.prog)
        kern = ns[p.prog.entry.name.replace("_dev", "_kernel")]
        out_t = numba.float64[::1] if self.batch_sum else numba.float64[:, ::1]
        sig = [numba.int64] + [numba.typeof(a) for a in p.host_args] + [out_t, numba.int64[::1]]

        class _Device:                     # device functions ask the current device for its cc
            compute_capability = tuple(cc)
        with mock.patch.object(disp, "get_current_device", lambda: _Device()):
            ptx, _ = cuda.compile_ptx(kern.py_func, tuple(sig), cc=tuple(cc))
        return ptx

    def __repr__(self):
        return f"<srcdiff.cuda kernel for {self.g.__name__}{' (batch sum)' if self.batch_sum else ''}>"

    _ = Any
