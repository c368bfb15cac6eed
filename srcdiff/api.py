"""Public transforms: grad, value_and_grad, vjp, differentiate, source."""
from __future__ import annotations

import collections
import copy
import functools
import inspect
import linecache
import threading
import uuid
from typing import Any, Callable, NamedTuple, Sequence, Union

import numpy as np

from . import backends, compiler
from .error_reports import translate_error
from .makers import maker, user_function, user_location
from .transforms import checks, dims, flatten, kinds
from .errors import SrcdiffError

Wrt = Union[int, str, Sequence[Union[int, str]]]


class Specialisation(NamedTuple):
    """One specialisation of a transform, generated (or loaded from the disk cache) and loaded: what
    CUDA lowering, export, VI and error reports read from a transform. `module`: the compiler's Module
    (None, or the disk cache's record of it, when it was not generated in this process); `source`: the
    generated module's source; `function`: its loaded entry function; `inner`: for forward mode over a
    generated function, that function; `generated`: the source with the facts of its functions
    (srcdiff.generated.Generated), what a pickled transform ships to load it elsewhere."""
    module: Any
    source: str
    function: Callable
    inner: Any = None
    generated: Any = None


def wrt_names_of(f, wrt: Wrt) -> tuple[list, bool]:
    """Parameter names for `wrt` and whether the user asked for a tuple."""
    f0 = getattr(f, "py_func", f)
    if isinstance(f0, Transformed):
        raise SrcdiffError("nesting srcdiff transforms is not supported yet",
                           advice="differentiate the original function")
    if not callable(f0) or not (inspect.isfunction(f0) or inspect.ismethod(f0)):
        raise SrcdiffError(f"srcdiff differentiates Python functions; got {type(f0).__name__} {f0!r}",
                           advice="differentiate a plain function of arrays and floats; pass an object's "
                                  "arrays to it as arguments")
    code = getattr(getattr(f0, "__func__", f0), "__code__", None)
    where = (code.co_filename, code.co_firstlineno) if code else (None, None)
    try:
        signature = inspect.signature(f0)
    except (TypeError, ValueError):
        raise SrcdiffError(f"cannot read the parameters of {f!r}", *where,
                           advice="pass a function defined with def or lambda") from None
    params = list(signature.parameters)
    _check_signature(f0, signature, where)
    many = isinstance(wrt, (tuple, list))
    items = list(wrt) if many else [wrt]
    names = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise SrcdiffError(f"wrt must be a parameter index or name, got {w!r}", *where)
        if isinstance(w, int):
            if not -len(params) <= w < len(params):
                raise SrcdiffError(f"wrt={w} is out of range: {getattr(f0, '__name__', f0)} has parameters {params}",
                                   *where, advice="use a parameter index or name")
            names.append(params[w])
        else:
            if w not in params:
                raise SrcdiffError(f"wrt={w!r} names no parameter of {getattr(f0, '__name__', f0)}{tuple(params)}",
                                   *where, advice="use one of the parameter names or their index")
            names.append(w)
    if len(set(names)) != len(names):
        raise SrcdiffError(f"wrt lists a parameter twice: {names}", *where)
    return names, many


def _check_signature(f, signature, where):
    """Decline *args / **kwargs at the def line: generated functions need every argument by name."""
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            star = "*" if p.kind == p.VAR_POSITIONAL else "**"
            line = linecache.getline(where[0], where[1]).strip() if where[0] and where[1] else ""
            raise SrcdiffError(f"{getattr(f, '__name__', f)} has a {star}{p.name} parameter: srcdiff "
                               f"differentiates functions whose parameters all have names"
                               + (f"\n    {line}" if line else ""), *where,
                               advice="name every parameter (defaults and keyword-only parameters are "
                                      "fine), or pass several arrays as one tuple parameter")


def _signature(t):
    sig = t.__dict__.get("_signature")
    if sig is None:
        sig = t.__dict__["_signature"] = inspect.signature(user_function(t))
    return sig


def bind_arguments(t, args: tuple, kwargs: dict, trailing: int = 0, last: str = "cotangent") -> tuple:
    """A call's arguments as one positional tuple in the order of the user's parameters, defaults filled
    in: generated functions (and Numba's njit) take positional arguments only. The last `trailing`
    positional arguments (a cotangent, a tangent) stay at the end."""
    sig = _signature(t)
    if not kwargs and len(args) == len(sig.parameters) + trailing:
        return tuple(args)
    name = getattr(t, "__name__", "f")
    if len(args) < trailing:
        raise SrcdiffError(f"{name} takes the function's arguments followed by the {last}", *user_location(t))
    extra = tuple(args[len(args) - trailing:]) if trailing else ()
    try:
        bound = sig.bind(*args[:len(args) - trailing], **kwargs)
    except TypeError as exc:
        raise SrcdiffError(f"{name}: {exc} (it takes the arguments of {user_function(t).__name__}{sig}"
                           + (f", then the {last})" if trailing else ")"), *user_location(t),
                           advice="call it as you call the function itself") from None
    bound.apply_defaults()
    return tuple(bound.arguments[p] for p in sig.parameters) + extra


def call_positional(fn, args: tuple):
    """Call `fn` (the user's function, or one srcdiff generated) with `args` in parameter order;
    keyword-only parameters get theirs by name."""
    params = inspect.signature(fn).parameters.values()
    names = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    if not names:
        return fn(*args)
    k = len(args) - len(names)
    return fn(*args[:k], **dict(zip(names, args[k:])))


class Transformed:
    """A function srcdiff generated: call it like the user's function (plus extra args for vjp)."""

    generates_on_py_func = True     # makers.user_function: `py_func` generates the code

    def __init__(self, f: Callable, wrt: Wrt, mode: str, jit: bool | str, checkpoints: int | None = None):
        if isinstance(f, Differentiated):  # grad(loss) of a @differentiate'd loss
            f = f.f
        if jit not in (False, True, "background"):
            raise SrcdiffError(f"jit={jit!r}: srcdiff takes jit=False (the Python backend), jit=True (Numba) or "
                               "jit=\"background\" (Python until Numba has compiled in another process)",
                               *user_location(f))
        self.f, self.mode, self.jit = f, mode, jit
        self.wrt_names, self.many = wrt_names_of(f, wrt)
        self.checkpoints = _checkpoints(checkpoints, f)
        self._cache: dict = {}   # argument kinds -> (module, source, compiled function)
        self._fast: dict = {}    # argument types, dtypes and shapes -> _Known: what __call__ looked up for them
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
        return {"mode": self.mode, "wrt": tuple(self.wrt_names), "jit": bool(self.jit),
                "checkpoints": getattr(self, "checkpoints", None)}

    @property
    def last(self) -> Specialisation | None:
        """The specialisation used most recently (None before the first)."""
        return self._last

    def specialise(self, arg_kinds: tuple = (), structs: tuple = (), arg_dims: tuple = (),
                   need_module: bool = False) -> Specialisation:
        """Generate (and load/compile) the gradient specialised to the arguments' kinds (and to which of
        their axes have equal lengths, `arg_dims`: see transforms/dims.py). The disk cache is looked up
        first by what determines the code (srcdiff/cachekey.py), so a process with a warm cache does not
        generate; `need_module`: the caller needs the compiler's module (CUDA lowering), so generate it."""
        if isinstance(self.f, Transformed):     # grad(grad(f)): built from the inner generated source
            self._last = self.specialise_nested(arg_kinds, structs, arg_dims, need_module)
            return self._last
        if self.jit == "background":     # the code that answers until the compiled code is ready
            python = self._backends()[1]
            self._last = python.specialise(arg_kinds, structs, arg_dims, need_module)
            return self._last
        key = (arg_kinds, repr(structs), arg_dims)
        if need_module and key in self._cache and not isinstance(self._cache[key].module, compiler.Module):
            del self._cache[key]
            self._fast.clear()
        if key not in self._cache and key in self.__dict__.get("_shipped", {}):
            # unpickled (e.g. on a Dask worker): load the module generated before pickling, never regenerate;
            # once per process even when several threads run this object's first tasks at the same time
            with _SHIPPED_LOAD_LOCK:
                if key not in self._cache:
                    made, bindings, entry = self._shipped[key]
                    loaded = backends.load_module(made, bindings, entry, self.jit)
                    self._cache[key] = Specialisation(None, made.source, getattr(loaded, entry), generated=made)
        if key not in self._cache:
            from . import cachekey
            root = getattr(self.f, "py_func", self.f)
            spec = cachekey.spec_key(root, self._generation_options(), key)
            found = backends.load_indexed(spec, root, self.jit) if spec and not need_module else None
            if found is not None:
                cached, made, loaded = found
                self._cache[key] = Specialisation(cached, made.source, getattr(loaded, cached.entry), generated=made)
            else:
                mod = compiler.build_module(self.f, self.wrt_names, self.mode, arg_kinds, dict(structs), arg_dims,
                                            checkpoints=self.__dict__.get("checkpoints"))
                if self.jit:
                    checks.check_numba(mod, arg_kinds)
                made = mod.generate(jit=self.jit)
                loaded = backends.load_module(made, mod.bindings, mod.entry, self.jit)
                if spec:
                    backends.save_index(spec, root, made, mod.bindings, mod.entry, self.jit)
                self._cache[key] = Specialisation(mod, made.source, getattr(loaded, mod.entry), generated=made)
        self._last = self._cache[key]
        return self._last

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

    def __reduce__(self):
        """Unpickling goes through `_restore_transformed`: a process that receives the same transform
        again (a Dask worker fetching a replica the scheduler dropped, a spilled copy read back, a task
        retried) gets the object it already loaded, not a second copy that loads its modules again."""
        return _restore_transformed, (type(self), self.__getstate__())

    def __copy__(self):       # copy.copy / copy.deepcopy: a new object, as before (not the shared one)
        new = type(self).__new__(type(self))
        new.__setstate__(self.__getstate__())
        return new

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__setstate__(copy.deepcopy(self.__getstate__(), memo))
        return new

    def __getstate__(self):
        """Pickle (cloudpickle) without regenerating on the other side: each specialisation travels as its
        generated source and bound constants, loaded there (and compiled by Numba, or read from the disk
        cache) on first use; compiled functions and compiler state stay behind."""
        if "_ident" not in self.__dict__:
            self._ident = uuid.uuid4().hex       # names this transform (and its unpickled copies) anywhere
        state = dict(self.__dict__)
        shipped = dict(state.get("_shipped", {}))
        for key, entry in self._cache.items():
            mod = entry.module
            if hasattr(mod, "bindings") and entry.generated is not None:   # not a nested (forward) build
                shipped[key] = (entry.generated, mod.bindings, mod.entry)
        state.update(_cache={}, _fast={}, _last=None, _shipped=shipped)
        state.pop("_pair", None)        # jit="background": its processes and switch-over stay here
        self._params()
        state["_param_names"] = self._param_names
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache = dict(self.__dict__.get("_cache", {}))
        self._fast = {}

    def prepare(self, *args, **kwargs):
        """Generate the specialisation for these arguments without running it (Numba compiles it on the
        first call). The arguments may be stand-ins with the real ones' shapes and dtypes, such as
        ``np.broadcast_to(np.zeros((), dtype), shape)``. Returns self."""
        if self.jit == "background":
            jitted, python, _ = self._backends()
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
        _check_arguments(self, args[:nargs])
        if any(map(kinds.is_tuple, arg_kinds)) or any(type(a) is list for a in args[:nargs]):
            params = self._params()
            structs = tuple((params[k], flatten.structure_of(a)) for k, a in enumerate(args[:nargs])
                            if isinstance(a, (tuple, list)) and k < len(params))
        if structs:
            flat = [x for a in args[:nargs] for x in (flatten.leaves(a) if isinstance(a, (tuple, list)) else [a])]
            args = tuple(flat) + tuple(args[nargs:])
            nargs = len(flat)
            arg_kinds = tuple(kinds.kind_of_value(a) for a in args[:nargs])
        fn = self.specialise(arg_kinds, structs=structs, arg_dims=dims.label_arguments(args[:nargs])).function
        return fn, args, structs

    def _backends(self):
        """jit="background": (the jitted transform, the Python one, their switch-over state)."""
        if "_pair" not in self.__dict__:
            from .background import Background
            k = self.__dict__.get("checkpoints")
            jitted, python = Transformed(self.f, self.wrt_names, self.mode, True, k), \
                Transformed(self.f, self.wrt_names, self.mode, False, k)
            jitted.many = python.many = self.many
            self._pair = (jitted, python, Background())
        return self._pair

    def _call_background(self, args, kwargs):
        """Run the compiled code when it is ready (see srcdiff/background.py), else the Python backend."""
        jitted, python, state = self._backends()
        bound = bind_arguments(jitted, args, kwargs, trailing=1 if self.mode == "vjp" else 0)
        nargs = len(bound) - (1 if self.mode == "vjp" else 0)
        fn, flat, _ = jitted._specialize(bound, nargs)
        mod, made = jitted._last.module, jitted._last.generated
        key = next(k for k, v in jitted._cache.items() if v is jitted._last)
        module = backends.shown_module(fn)
        if state.use_compiled(key, fn, flat, module, made, mod.bindings, mod.entry):
            self._last = jitted._last
            out = jitted(*args, **kwargs)
            self._adopt(jitted, args, kwargs)   # switched over for good: later calls go straight to it
            return out
        out = python(*args, **kwargs)
        self._last = python._last
        if key in state.python:     # the compilation failed: the Python backend answers from now on
            self._adopt(python, args, kwargs)
        return out

    def _adopt(self, backend, args, kwargs):
        """jit="background": calls with arguments like these run `backend`'s function from now on (what it
        remembered for them), without asking the switch-over state again."""
        known = None if kwargs else backend._fast.get(_types_key(args))
        if known is not None:
            if len(self._fast) >= _FAST_MAX:
                self._fast.clear()
            self._fast[_types_key(args)] = known

    def __call__(self, *args, **kwargs):
        if not kwargs:      # the steady state: arguments of the types (dtypes, shapes) of an earlier call
            hit = self._fast.get(_types_key(args))
            if hit is not None:
                return self._call_known(hit, args)
        if self.jit == "background":
            return self._call_background(args, kwargs)
        given = len(args)
        args = bind_arguments(self, args, kwargs, trailing=1 if self.mode == "vjp" else 0)
        args_in = args
        nargs = len(args) - (1 if self.mode == "vjp" else 0)
        fn, args, structs = self._specialize(args, nargs)
        floats = not self.jit and float in map(type, args)
        if floats:   # NumPy's floating semantics in generated scalar code: 1.0 / 0.0 is inf, not a
            args = tuple(np.float64(a) if type(a) is float else a for a in args)   # ZeroDivisionError
        out = self._run(fn, args)
        if structs:
            out = self._restructure(out, dict(structs), args_in)
        elif not kwargs and given == len(args_in) and all(type(a) in _PLAIN for a in args_in):
            self._remember(args_in, fn, floats, out)
        return self._match_dtypes(out, args_in) if self.jit else out

    def _remember(self, args, fn, floats, out):
        """Keep what the call with `args` looked up, by the arguments' types, dtypes and shapes (which decide
        their kinds and axis labels, so the specialisation), for the next call with arguments like them:
        the steady state of an optimisation loop skips binding, checking, kinds, labels and the lookup."""
        match = bool(self.jit) and self._dtypes_differ(out, args)
        if len(self._fast) >= _FAST_MAX:
            self._fast.clear()
        self._fast[_types_key(args)] = _Known(fn, self._last, floats, match)

    def _call_known(self, known, args):
        """`__call__` for arguments whose kinds and labels an earlier call with the same key looked up."""
        fn = known.function
        self._last = known.specialisation
        if known.floats:
            args_in, args = args, tuple(np.float64(a) if type(a) is float else a for a in args)
        else:
            args_in = args
        out = self._run(fn, args)
        return self._match_dtypes(out, args_in) if known.match else out

    def _run(self, fn, args):
        """The generated function's result for `args`, shaped as f's; its errors named at the user's line."""
        try:
            out = fn(*args)
        except SrcdiffError:
            raise
        except Exception as exc:
            translate_error(exc, self, fn, args)
        return self._shape(out)

    def _dtypes_differ(self, out, args) -> bool:
        """Whether `_match_dtypes` changes a gradient of this output (Numba's output dtypes follow from the
        argument types, so this holds for every call whose arguments have these types)."""
        if self.mode not in ("grad", "value_and_grad", "vjp"):
            return False
        matched = self._match_dtypes(out, args)
        grads, new = (out, matched) if self.mode == "grad" else (out[1], matched[1])
        grads, new = (grads, new) if self.many else ((grads,), (new,))
        return any(g is not h for g, h in zip(grads, new))

    def _match_dtypes(self, out, args):
        """Numba computes float32 arrays' adjoints in float64 (float32 * a Python float is float64 there);
        give each array gradient its argument's dtype, as the Python backend does."""
        if self.mode not in ("grad", "value_and_grad", "vjp"):
            return out
        if not hasattr(self, "_wrt_index"):
            self._wrt_index = [self._params().index(w) for w in self.wrt_names]
        grads = out if self.mode == "grad" else out[1]
        grads = grads if self.many else (grads,)
        grads = tuple(_like(g, args[i]) for g, i in zip(grads, self._wrt_index))
        grads = grads if self.many else grads[0]
        return grads if self.mode == "grad" else (out[0], grads)

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


class _Known(NamedTuple):
    """What `Transformed.__call__` found for arguments of one types key (`_types_key`): the generated function,
    its Specialisation, whether Python floats become np.float64 (the Python backend), and whether gradients
    need their arguments' dtypes (`_match_dtypes`)."""
    function: Callable
    specialisation: Specialisation
    floats: bool
    match: bool


# argument types whose kind and axis labels follow from (type, dtype, shape): calls with only these take the
# fast path; tuples, lists (structures), subclasses and other objects always go through the full lookup
_PLAIN = frozenset({float, int, bool, np.ndarray, np.float64, np.float32, np.float16, np.int64, np.int32,
                    np.int16, np.int8, np.uint64, np.uint32, np.uint16, np.uint8, np.bool_})
_FAST_MAX = 64      # types keys kept per transform (a loop over ever new shapes must not grow without end)


def _types_key(args) -> tuple:
    """The arguments' types, with dtype and shape for arrays: what decides their kinds and axis labels."""
    return tuple([(a.dtype, a.shape) if type(a) is np.ndarray else type(a) for a in args])


UNSPECIALISED = ("# unspecialised: shown before any call, for arguments of unknown kinds and shapes. After a\n"
                 "# call, srcdiff.source shows the code specialised to that call's arguments (the code that runs).\n")


_SHIPPED_LOAD_LOCK = threading.RLock()
_RESTORED: "collections.OrderedDict[str, Transformed]" = collections.OrderedDict()
_RESTORED_MAX = 32
_RESTORED_LOCK = threading.Lock()


def _restore_transformed(cls, state):
    """Unpickle a Transformed: one object per transform per process (the most recent `_RESTORED_MAX`
    kept). A later pickle of the same transform may carry more specialisations: they are added to it."""
    ident = state.get("_ident")
    with _RESTORED_LOCK:
        held = _RESTORED.get(ident) if ident is not None else None
        if held is not None and type(held) is cls:
            _RESTORED.move_to_end(ident)
            for key, entry in state.get("_shipped", {}).items():
                held._shipped.setdefault(key, entry)
            return held
        obj = cls.__new__(cls)
        obj.__setstate__(state)
        if ident is not None:
            _RESTORED[ident] = obj
            while len(_RESTORED) > _RESTORED_MAX:
                _RESTORED.popitem(last=False)
        return obj


def _like(g, a):
    """Gradient `g` with the float dtype of its argument `a`'s arrays (through tuples and lists)."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and isinstance(g, np.ndarray) and g.dtype != a.dtype:
        return g.astype(a.dtype)
    if isinstance(a, (tuple, list)) and isinstance(g, (tuple, list)) and len(a) == len(g):
        return type(g)(_like(x, y) for x, y in zip(g, a))
    return g



def _is_complex(a) -> bool:
    if isinstance(a, (tuple, list)):
        return any(_is_complex(x) for x in a)
    return isinstance(a, (complex, np.complexfloating)) or (isinstance(a, np.ndarray) and a.dtype.kind == "c")


def _check_arguments(t, args):
    """Decline complex arguments, and wrt arguments of types srcdiff cannot differentiate (a dict, a str,
    None, an object), before they reach generated code as an internal TypeError."""
    try:
        params = t._params()
    except Exception:
        return
    wrt = set(t.wrt_names)
    for k, a in enumerate(args):
        name = params[k] if k < len(params) else f"#{k}"
        if _is_complex(a):
            raise SrcdiffError(f"argument {name!r} is complex: srcdiff differentiates real functions only",
                               *user_location(t), advice="pass real and imaginary parts as separate float arrays")
        if name in wrt and not isinstance(a, (float, int, np.number, np.ndarray, tuple, list)):
            raise SrcdiffError(f"argument {name!r} (differentiated) is a {type(a).__name__}: srcdiff "
                               f"differentiates floats, NumPy arrays, and tuples/lists of them",
                               *user_location(t), advice="pass the values as a float array, or leave this "
                                                         "argument out of wrt")


def _checkpoints(k, f):
    """`checkpoints=` checked: None (tape every iteration) or a positive int."""
    if k is None or (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
        return None if k is None else int(k)
    raise SrcdiffError(f"checkpoints={k!r}: expected a positive int (the most snapshots a loop keeps) or None",
                       *user_location(f), advice="e.g. checkpoints=100; None (the default) tapes every iteration")


@maker
def grad(f: Callable, wrt: Wrt = 0, *, jit: bool = False, checkpoints: int | None = None) -> Transformed:
    """Gradient of scalar `f` with respect to argument(s) `wrt` (index, name, or tuple of them).

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
