"""Public transforms: grad, value_and_grad, vjp, differentiate, source.

`Transformed` (what grad, value_and_grad and vjp return) specialises, loads and calls the generated code; its
parts live beside it: binding a call's arguments (arguments.py), what it keeps per specialisation and per
argument types (specialisations.py), pickling and copying (shipping.py), the ``jit="background"`` calls
(background.py), and the errors its generated code raises, reported at the user's line (error_reports.py).
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import numpy as np

from . import backends, float_types, module_builder
from .arguments import Wrt, bind_arguments, check_arguments, decline_transform_of_a_pair, wrt_names_of
from .arguments import call_positional  # noqa: F401 (srcdiff.api.call_positional, as before the split)
from .error_reports import at_user_line, translate_error
from .makers import maker, user_function, user_location  # noqa: F401 (user_function: srcdiff.api's, as before)
from .background import BackgroundCalls
from .shipping import Shipped
from .specialisations import (FAST_MAX, PLAIN, Known, Specialisation, floats64, rerun_arguments, rerun_key,
                              rerun_recorded, run_scalars, types_key)
from .transforms import checks, dims, flatten, kinds
from .errors import SrcdiffError
from .runtime import chunks


class Transformed(Shipped, BackgroundCalls):
    """A function srcdiff generated: call it like the user's function (plus extra args for vjp)."""

    generates_on_py_func = True     # makers.user_function: `py_func` generates the code

    def __init__(self, f: Callable, wrt: Wrt, mode: str, jit: bool | str, checkpoints: int | None = None):
        if isinstance(f, Differentiated):  # grad(loss) of a @differentiate'd loss
            f = f.f
        if jit not in (False, True, "background", "parallel"):
            raise SrcdiffError(f"jit={jit!r}: srcdiff takes jit=False (the Python backend), jit=True (Numba), "
                               "jit=\"background\" (Python until Numba has compiled in another process) or "
                               "jit=\"parallel\" (Numba, a loop over the rows of a large x on all of Numba's threads)",
                               *user_location(f))
        # jit="parallel": row-fused loops on all threads (optimize/rowchunks.py), compiled in the background
        # while jit=True's code answers (background.py): the parallel loop compiles for seconds
        self.threads = jit == "parallel"
        decline_transform_of_a_pair(f, mode)
        self.f, self.mode, self.jit = f, mode, ("background" if self.threads else jit)
        self.wrt_names, self.many = wrt_names_of(f, wrt)
        self.checkpoints = _checkpoints(checkpoints, f)
        self._cache: dict = {}   # argument kinds -> (module, source, compiled function)
        self._fast: dict = {}    # argument types, dtypes and shapes -> Known: what __call__ looked up for them
        self._last = None
        functools.update_wrapper(self, getattr(f, "py_func", f), updated=())
        self.__name__ = f"{getattr(f, '__name__', 'f')}_{mode}"

    def cache_identity(self) -> tuple:
        """(tag, text) that name this transform in a cache key (cachekey.py), beside its user function."""
        return "transform", repr(sorted(self._generation_options().items()))

    def _generation_options(self) -> dict:
        """What of this transform decides the code generated for it (with the specialisation and the user's
        function, the disk cache's spec key: srcdiff/cachekey.py). An option that changes generated code
        must be listed here."""
        jit = "parallel" if getattr(self, "threads", False) else bool(self.jit)
        return {"mode": self.mode, "wrt": tuple(self.wrt_names), "jit": jit, "checkpoints": getattr(self, "checkpoints", None)}

    @property
    def last(self) -> Specialisation | None:
        """The specialisation used most recently (None before the first)."""
        return self._last

    def specialise(self, arg_kinds: tuple = (), structs: tuple = (), arg_dims: tuple = (),
                   need_module: bool = False, floats64: bool = False) -> Specialisation:
        """Generate (and load/compile) the gradient specialised to the arguments' kinds (and to which of
        their axes have equal lengths, `arg_dims`: see transforms/dims.py). The disk cache is looked up
        first by what determines the code (srcdiff/cachekey.py), so a process with a warm cache does not
        generate; `need_module`: the caller needs the compiler's module (CUDA lowering), so generate it;
        `floats64`: every float argument is float64 (specialisations.floats64), a specialisation of its own."""
        if isinstance(self.f, Transformed):     # grad(grad(f)): built from the inner generated source
            self._last = self.specialise_nested(arg_kinds, structs, arg_dims, need_module)
            return self._last
        if self.jit == "background":     # the code that answers until the compiled code is ready
            python = self.background_pair()[1]
            self._last = python.specialise(arg_kinds, structs, arg_dims, need_module, floats64)
            return self._last
        key = (arg_kinds, repr(structs), arg_dims) + (("float64",) if floats64 else ())
        if need_module and key in self._cache and not isinstance(self._cache[key].module, module_builder.Module):
            del self._cache[key]
            self._fast.clear()
        if key not in self._cache and key in self.__dict__.get("_shipped", {}):
            self.load_shipped(key)
        if key not in self._cache:
            from . import cachekey
            shared = self.shares_value_and_grad(need_module)
            jit = False if shared else self.jit     # (shared: grad's own module is read, never compiled)
            root = getattr(self.f, "py_func", self.f)
            spec = cachekey.spec_key(root, self._generation_options(), key)
            found = backends.load_indexed(spec, root, jit) if spec and not need_module else None
            if found is not None:
                cached, made, loaded = found
                self._cache[key] = Specialisation(cached, made.source, getattr(loaded, cached.entry), generated=made,
                                                  structs=structs)
            else:
                try:
                    mod = module_builder.build_module(self.f, self.wrt_names, self.mode, arg_kinds, dict(structs),
                                                      arg_dims, checkpoints=self.__dict__.get("checkpoints"),
                                                      floats64=floats64)
                except SrcdiffError as exc:     # at a line of a gradient f calls: at the user's line instead
                    moved = at_user_line(exc, self)
                    if moved is None:
                        raise
                    raise moved from exc
                if self.jit:
                    checks.check_numba(mod, arg_kinds)
                made = mod.generate(jit="parallel" if getattr(self, "threads", False) else self.jit)
                loaded = backends.load_module(made, mod.bindings, mod.entry, jit)
                if spec:
                    backends.save_index(spec, root, made, mod.bindings, mod.entry, jit)
                self._cache[key] = Specialisation(mod, made.source, getattr(loaded, mod.entry), generated=made,
                                                  structs=structs)
            if shared:
                own = self._cache[key]
                twin = self.value_and_grad_twin().specialise(arg_kinds, structs, arg_dims, floats64=floats64)
                self._cache[key] = own._replace(function=backends.ValueDropped(twin.function, own.function))
        self._last = self._cache[key]
        return self._last

    def shares_value_and_grad(self, need_module: bool = False) -> bool:
        """Whether this transform runs value_and_grad's compiled function (value_and_grad_twin): grad with
        jit=True, unless the caller needs the compiler's module (CUDA lowering) or the transform is the jitted
        half of jit="background" (its child process compiles the module of grad's own source)."""
        return self.mode == "grad" and self.jit is True and not need_module and not self.__dict__.get("compiles_alone")

    def value_and_grad_twin(self) -> Transformed:
        """grad under Numba: the value_and_grad transform (same function, wrt, checkpoints) whose compiled
        function this one runs, dropping the value (backends.ValueDropped). Numba compiled grad's function and
        value_and_grad's each on its own, though they differ in their return only; a program that asks for both
        (an optimiser's loss and gradient, the fuzz oracles) compiled twice. grad still generates its own source:
        srcdiff.source shows it and differentiating grad again reads it."""
        if "_twin" not in self.__dict__:
            twin = Transformed(self.f, self.wrt_names, "value_and_grad", True, self.__dict__.get("checkpoints"))
            twin.many = self.many
            self._twin = twin
        return self._twin

    def specialise_nested(self, arg_kinds: tuple, structs: tuple, arg_dims: tuple,
                          need_module: bool) -> Specialisation:
        """`specialise` of a transform of a transform (srcdiff.grad(srcdiff.grad(f))): forward_api.py provides
        it on import (reverse over reverse where it can, else forward over reverse)."""
        raise NotImplementedError("srcdiff.forward_api provides the specialisation of a transform of a transform")

    @property
    def source(self) -> str:
        """Source of the most recently used specialisation (a generic one if never called, which says so
        in a header comment)."""
        if self._last is None:
            self.specialise()
        generic = self._cache.get(((), repr(()), ()))
        return UNSPECIALISED + self._last.source if generic is not None and self._last is generic else self._last.source

    @property
    def specializations(self) -> int:
        """How many specialisations (argument kinds) this object has generated or loaded so far: grows
        when a call or ``prepare`` adds one (srcdiff.chunk_kernel sends a grown transform again)."""
        return len(self._cache)

    @property
    def _module(self):
        return self._last.module if self._last else None

    @property
    def _source(self):
        return self.source

    def prepare(self, *args, **kwargs):
        """Generate the specialisation for these arguments without running it (Numba compiles it on the
        first call). The arguments may be stand-ins with the real ones' shapes and dtypes, such as
        ``np.broadcast_to(np.zeros((), dtype), shape)``. Returns self."""
        if self.jit == "background":
            jitted, python, _ = self.background_pair()
            jitted.prepare(*args, **kwargs)
            python.prepare(*args, **kwargs)
            self._last = python._last
            return self
        args = bind_arguments(self, args, kwargs, trailing=1 if self.mode == "vjp" else 0)
        nargs = len(args) - (1 if self.mode == "vjp" else 0)
        self._specialize(args, nargs)
        return self

    def _specialize(self, args, nargs):
        """(generated function, arguments flattened for it, tuple/list structures of the arguments)."""
        structs = ()
        kind = kinds.kind_of_value
        arg_kinds = tuple([kind(a) for a in args[:nargs]])
        check_arguments(self, self._params(), args[:nargs])
        if any(map(kinds.is_tuple, arg_kinds)) or any(type(a) in (list, dict) for a in args[:nargs]):
            params = self._params()
            structs = tuple((params[k], flatten.structure_of(a)) for k, a in enumerate(args[:nargs])
                            if isinstance(a, flatten.STRUCTURED) and k < len(params))
        if structs:
            flat = [x for a in args[:nargs] for x in (flatten.leaves(a) if isinstance(a, flatten.STRUCTURED) else [a])]
            args = tuple(flat) + tuple(args[nargs:])
            nargs = len(flat)
            arg_kinds = tuple(kinds.kind_of_value(a) for a in args[:nargs])
        ran = run_scalars(args, self.jit, nargs)
        if ran is not args:     # (0-d arrays under Numba run as scalars: of their kinds)
            args = ran
            arg_kinds = tuple(kinds.kind_of_value(a) for a in args[:nargs])
        fn = self.specialise(arg_kinds, structs=structs, arg_dims=dims.label_arguments(args[:nargs]),
                             floats64=floats64(args[:nargs])).function
        return fn, args, structs

    def __call__(self, *args, **kwargs):
        if not kwargs:      # the steady state: arguments of the types (dtypes, shapes) of an earlier call
            hit = self._fast.get(types_key(args))
            if hit is not None:
                return self._call_known(hit, args)
        if self.jit == "background":
            return self.call_background(args, kwargs)
        if self.jit is True:    # generating, then Numba compiling or loading: the collector off (collector_paused)
            with module_builder.collector_paused():
                return self._call_bound(args, kwargs)
        return self._call_bound(args, kwargs)

    def _call_bound(self, args, kwargs):
        """`__call__` past its fast path: bind the arguments, specialise, run."""
        given = len(args)
        args = bind_arguments(self, args, kwargs, trailing=1 if self.mode == "vjp" else 0)
        args_in = args
        nargs = len(args) - (1 if self.mode == "vjp" else 0)
        fn, args, structs = self._specialize(args, nargs)
        out = self._run(fn, args)
        if structs:
            out = self._restructure(out, dict(structs), args_in)
        elif not kwargs and given == len(args_in) and all(type(a) in PLAIN for a in args_in):
            self._remember(args_in, fn, args is not args_in, out)
        return self._match_dtypes(out, args_in)

    def _remember(self, args, fn, convert, out):
        """Keep what the call with `args` looked up, by the arguments' types, dtypes and shapes (which decide
        their kinds and axis labels, so the specialisation), for the next call with arguments like them:
        the steady state of an optimisation loop skips binding, checking, kinds, labels and the lookup."""
        match = self._dtypes_differ(out, args)
        if len(self._fast) >= FAST_MAX:
            self._fast.clear()
        self._fast[types_key(args)] = Known(fn, self._last, convert, match)

    def _call_known(self, known, args):
        """`__call__` for arguments whose kinds and labels an earlier call with the same key looked up."""
        fn = known.function
        self._last = known.specialisation
        args_in = args
        if known.convert:
            args = run_scalars(args, self.jit, len(args) - (self.mode == "vjp"))
        out = self._run(fn, args)
        return self._match_dtypes(out, args_in) if known.match else out

    def _run(self, fn, args):
        """The generated function's result for `args`, shaped as f's; its errors named at the user's line.
        Under Numba, arguments it fails on for their kinds run as another kind of the same values
        (specialisations.rerun_arguments: float32 it cannot type as float64, Fortran-ordered arrays it cannot
        compile for in C order), for this call and for later ones of their kinds."""
        reruns = self.__dict__.setdefault("_reruns", {})
        if reruns:
            args = rerun_recorded(reruns, args)
        try:
            if self.__dict__.get("threads"):    # jit="parallel": in turns where Numba's threads need it
                with chunks.turns():
                    out = fn(*args)
            else:
                out = fn(*args)
        except SrcdiffError:
            raise
        except Exception as exc:
            again = rerun_arguments(exc, args) if self.jit is True else None
            if again is None:
                translate_error(exc, self, fn, args)
            reruns[rerun_key(args)] = again[0]
            return self._run(fn, again[1])
        return self._shape(out)

    def _dtypes_differ(self, out, args) -> bool:
        """Whether `_match_dtypes` changes a gradient of this output (the output dtypes follow from the
        argument types, so this holds for every call whose arguments have these types)."""
        if self.mode not in ("grad", "value_and_grad", "vjp"):
            return False
        matched = self._match_dtypes(out, args)
        grads, new = (out, matched) if self.mode == "grad" else (out[1], matched[1])
        grads, new = (grads, new) if self.many else ((grads,), (new,))
        return any(g is not h for g, h in zip(grads, new)) or (self.mode != "grad" and matched[0] is not out[0])

    def _match_dtypes(self, out, args):
        """Give each array gradient its argument's dtype. Numba computes float32 arrays' adjoints in float64
        (float32 * a Python float is float64 there), and so does the Python backend where a Python float argument
        runs as np.float64 (specialisations.run_scalars: NumPy 2 promotes float32 with it to float64, with the
        Python float itself not)."""
        if self.mode not in ("grad", "value_and_grad", "vjp"):
            return out
        if not hasattr(self, "_wrt_index"):
            self._wrt_index = [self._params().index(w) for w in self.wrt_names]
        grads = out if self.mode == "grad" else out[1]
        grads = grads if self.many else (grads,)
        grads = tuple(gradient_like(g, args[i]) for g, i in zip(grads, self._wrt_index))
        grads = grads if self.many else grads[0]
        return grads if self.mode == "grad" else (value_like(out[0], args[:len(self._params())], self.f, self.jit),
                                                  grads)

    def _params(self):
        if not hasattr(self, "_param_names"):
            self._param_names = list(inspect.signature(getattr(self.f, "py_func", self.f)).parameters)
        return self._param_names

    def _restructure(self, out, structs, original):
        params = self._params()

        def regroup(grads):
            grads = list(grads)     # the callers below pass every gradient in a tuple
            it = iter(grads)
            res = []
            for w in self.wrt_names:
                if w in structs:
                    res.append(flatten.rebuild(structs[w], it, original[params.index(w)]))
                else:
                    res.append(next(it))
            return tuple(res) if self.many else res[0]
        if self.mode == "grad":
            return regroup(out if isinstance(out, tuple) else (out,))
        value, grads = out
        return value, regroup(grads if isinstance(grads, tuple) else (grads,))

    def _shape(self, out):
        if self.mode == "grad":
            return tuple(out) if self.many and isinstance(out, tuple) else (out,) if self.many else out
        value, grads = out
        if self.many and not isinstance(grads, tuple):
            grads = (grads,)
        return value, grads


UNSPECIALISED = ("# unspecialised: shown before any call, for arguments of unknown kinds and shapes. After a\n"
                 "# call, srcdiff.source shows the code specialised to that call's arguments (the code that runs).\n")


def value_float_type(args) -> np.dtype:
    """The float type NumPy gives f's number value for these arguments (jit=False computes it so; Numba returns a
    Python float): float32 where the NumPy floats among them (arrays, scalars, in tuples and lists) are all float32,
    float64 otherwise (Python floats beside float32 ones are weak, as NumPy 2 takes them: specialisations.run_scalars)."""
    seen = set()

    def visit(a):
        if isinstance(a, (np.ndarray, np.floating)) and a.dtype.kind == "f":
            seen.add(a.dtype)
        elif isinstance(a, (tuple, list)):
            for b in a:
                visit(b)
    visit(args)
    return np.dtype(np.float32) if seen == {np.dtype(np.float32)} else np.dtype(np.float64)


def value_like(v, args, f, jit):
    """f's value `v` (value_and_grad's, vjp's, jvp's; through tuples, lists and dicts) of the float type NumPy gives
    f's: a Python float (Numba's, or a pure-Python function's) as the NumPy scalar jit=False gives, and under Numba a
    float64 array where NumPy computes float32 (a float32 array times a Python float: float64 under Numba; jvp's value
    of `np.tanh(x * 0.7) * x` was float64 under jit=True, f's and jit=False's float32, h30c). The type is float32
    where the NumPy floats among the arguments are all float32 and f makes no float64 values of its own
    (float_types.makes_float64: `np.sum(np.zeros(3) + x)` of a float32 x is float64, and was converted to float32).
    Where every return of f gives a Python float (float_types.returns_python_float: `math.sqrt(np.sum(x * x))`), the
    value is one, whatever the arguments (it was an np.float32 of float32 ones, rounded: 0.6422616243362427 for
    0.6422616242930411; an np.float64 of float64 ones)."""
    if isinstance(v, (float, np.floating)) and float_types.returns_python_float(f):
        return float(v)
    want = value_float_type(args)
    if want == np.float32 and float_types.makes_float64(f, args):
        want = np.dtype(np.float64)
        # (the Python backend runs NumPy integer scalars as Python ints, specialisations.run_scalars: `x * (i / n)` of
        # an np.int64 n, float64 in f, was float32 there: of f's type)
        up = jit is not True and float_types.integer_arguments_make_float64(f, args)
        return _value_like(v, want, jit is True, up)
    return _value_like(v, want, jit is True)


def _value_like(v, want, jit: bool, up: bool = False):
    if type(v) is float:
        return want.type(v)
    if jit and isinstance(v, np.ndarray) and v.dtype == np.float64 and want == np.float32:
        return v.astype(np.float32)
    if up and isinstance(v, (np.ndarray, np.floating)) and v.dtype == np.float32:
        return v.astype(np.float64)
    if isinstance(v, (tuple, list)):
        items = [_value_like(x, want, jit, up) for x in v]
        return type(v)(*items) if hasattr(type(v), "_fields") else type(v)(items)
    if isinstance(v, dict):
        return {k: _value_like(x, want, jit, up) for k, x in v.items()}
    return v


def gradient_like(g, a):
    """Gradient `g` with the float dtype of its argument `a`'s arrays (through tuples and lists), and a 0-d
    array where `a` is one (under Numba it ran as a scalar: specialisations.run_scalars)."""
    if isinstance(a, np.ndarray) and a.ndim == 0 and not isinstance(g, np.ndarray):
        return np.asarray(g, dtype=a.dtype if a.dtype.kind == "f" else np.float64)
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and isinstance(g, np.ndarray) and g.dtype != a.dtype:
        return g.astype(a.dtype)
    if isinstance(a, (float, np.floating)) and np.ndim(g) == 0 and isinstance(g, (float, np.floating, np.ndarray)):
        # a number's: of its float type (np.float32 of an np.float32, where Numba returns a Python float; float64 of a
        # Python float or np.float64, where float32 arrays made it an np.float32)
        want = a.dtype if isinstance(a, np.floating) else np.dtype(np.float64)
        have = g.dtype if isinstance(g, (np.generic, np.ndarray)) else np.dtype(np.float64)    # (a Python float's)
        if have != want or not isinstance(g, np.generic):    # (a Python float, Numba's number: NumPy's, as jit=False)
            return want.type(g[()] if isinstance(g, np.ndarray) else g)
    if isinstance(a, (tuple, list)) and isinstance(g, (tuple, list)) and len(a) == len(g):
        items = [gradient_like(x, y) for x, y in zip(g, a)]
        return type(g)(*items) if hasattr(type(g), "_fields") else type(g)(items)     # (a namedtuple's: by field)
    if isinstance(a, dict) and isinstance(g, dict) and a.keys() == g.keys():
        return {k: gradient_like(g[k], a[k]) for k in g}
    return g



def _checkpoints(k, f):
    """`checkpoints=` checked: None (tape every iteration) or a positive int."""
    if k is None or (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
        return None if k is None else int(k)
    raise SrcdiffError(f"checkpoints={k!r}: expected a positive int (the most snapshots a loop keeps) or None",
                       *user_location(f), advice="e.g. checkpoints=100; None (the default) tapes every iteration")


@maker
def grad(f: Callable, wrt: Wrt = 0, *, jit: bool = False, checkpoints: int | None = None) -> Transformed:
    """Gradient of scalar `f` with respect to argument(s) `wrt` (index, name, or tuple of them).

    `jit`: False (Python), True (Numba), "background" (Python until Numba has compiled in another process),
    "parallel" (Numba; a loss over the rows of a large x, x @ w, runs its one pass over x on all of Numba's
    threads: optimize/rowchunks.py; jit=True's code answers until another process has compiled it).

    `checkpoints=k`: the outermost loops keep at most about k snapshots of their loop-carried state
    instead of a tape of every iteration, and the backward sweep recomputes each segment between two
    snapshots from the first (memory about k states plus one segment's tape, for one more forward run)."""
    return Transformed(f, wrt, "grad", jit, checkpoints)


@maker
def value_and_grad(f: Callable, wrt: Wrt = 0, *, jit: bool = False, checkpoints: int | None = None) -> Transformed:
    """Function returning (f(*args), gradient); `checkpoints=` as for `grad`."""
    return Transformed(f, wrt, "value_and_grad", jit, checkpoints)


@maker
def vjp(f: Callable, wrt: Wrt = 0, *, jit: bool = False) -> Transformed:
    """Function (*args, cotangent) -> (f(*args), cotangentᵀ·∂f/∂wrt) for array-valued `f`."""
    return Transformed(f, wrt, "vjp", jit)


def source(g: Any) -> str:
    """The generated Python source behind any function srcdiff made."""
    if isinstance(g, Differentiated):
        g = g.grad
    src = getattr(g, "source", None)
    if isinstance(src, str):
        return src
    raise SrcdiffError(f"{g!r} was not made by srcdiff")


class Differentiated:
    """What @srcdiff.differentiate returns: the original function plus its transforms as attributes."""

    def cache_identity(self) -> tuple:
        """(tag, text) that name these transforms in a cache key (cachekey.py), beside the user function."""
        return "differentiated", f"{self.wrt!r} {self.jit!r}"

    def __init__(self, f, wrt, jit, checkpoints=None):
        self.f, self.wrt, self.jit = f, wrt, jit
        functools.update_wrapper(self, f)
        wrt_names_of(f, wrt)
        self.grad = grad(f, wrt, jit=jit, checkpoints=checkpoints)
        self.value_and_grad = value_and_grad(f, wrt, jit=jit, checkpoints=checkpoints)
        self.vjp = vjp(f, wrt, jit=jit)

    def __call__(self, *args, **kwargs):
        return self.f(*args, **kwargs)


def differentiate(f: Callable | None = None, *, wrt: Wrt = 0, jit: bool = False, checkpoints: int | None = None):
    """Decorator: `f` still computes f, and carries .grad, .value_and_grad, .vjp (`checkpoints=` goes to
    .grad and .value_and_grad)."""
    if f is None:
        return lambda g: Differentiated(g, wrt, jit, checkpoints)
    return Differentiated(f, wrt, jit, checkpoints)
