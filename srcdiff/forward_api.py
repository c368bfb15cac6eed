"""Forward mode and higher order: jvp, hvp (forward over reverse), hessian, jacobian.

    f_jvp = srcdiff.jvp(f, wrt=0)          # (*args, tangent) -> (f(*args), ∂f/∂x · tangent)
    Hv = srcdiff.hvp(f, wrt=0)(*args, v)   # forward mode applied to the generated gradient's source
    H = srcdiff.hessian(f)(*args)
    J = srcdiff.jacobian(f)(*args)         # columns by jvp when inputs are fewer, rows by vjp otherwise
"""
from __future__ import annotations

import functools
from typing import Callable

import gast
import numpy as np

from . import api, backends, cachedir, module_builder, returned_lists
from .api import Specialisation, Transformed, Wrt, translate_error, user_location, wrt_names_of
from .error_reports import at_user_line
from .arguments import check_arguments, decline_transform_of_a_pair, signature_of
from .errors import SrcdiffError
from .makers import maker, user_function
from .specialisations import FAST_MAX, PLAIN, rerun_arguments, rerun_key, rerun_recorded, run_scalars, types_key
from .transforms import checks, dims, flatten, kinds
from .transforms.astutil import dotted_name, walk_statements
from .transforms.caller_arrays import second_names
from .transforms.memory_sharing import sharing_groups


def generated_function(f, args=None):
    """The plain Python function behind `f`: a user function, a Numba dispatcher, or a transform
    srcdiff generated (its source lives in a real file, so it can be parsed and differentiated;
    specialised to the kinds of `args` when given)."""
    if isinstance(f, Transformed):
        if f.__dict__.get("checkpoints") is not None:
            raise SrcdiffError(f"{f.__name__} was made with checkpoints={f.checkpoints}: a checkpointed gradient "
                               "is not differentiated again (nor called inside a function srcdiff differentiates)",
                               *user_location(f), advice="use the gradient made without checkpoints= there")
        f = python_twin(f)
        n = None if args is None else len(args) - (1 if f.mode == "vjp" else 0)
        s = None
        if args is not None and not any(isinstance(a, flatten.STRUCTURED) for a in args[:n]):
            s = f.specialise(tuple(kinds.kind_of_value(a) for a in args[:n]), arg_dims=dims.label_arguments(args[:n]))
        return cachedir.python_function((s or f.specialise()).function)
    if isinstance(f, ForwardTransformed):
        return cachedir.python_function(f.specialise(args).function)
    return getattr(f, "py_func", f)


def python_twin(t: Transformed) -> Transformed:
    """What differentiating the jitted transform `t` again reads: the code its Python twin (jit=False) generates,
    the same function without the rewrites written for Numba alone (compiler.SOURCE's jit-only passes: row
    blocks over x @ w call kernels that write into their arguments, rt.block_rows reads `.itemsize`), which have
    no derivative rules. The outer transform makes its own under jit. `t` itself where it is not jitted."""
    if not t.jit:
        return t
    if "_python_twin" not in t.__dict__:
        twin = Transformed(t.f, t.wrt_names, t.mode, False, t.__dict__.get("checkpoints"))
        twin.many = t.many
        t._python_twin = twin
    return t._python_twin


def _parameters_of(f):
    """A function with the parameters of the one ForwardTransformed differentiates. A gradient's are the user's
    function's: taken from it, as generating the gradient for unknown argument kinds could decline what the
    arguments' kinds allow (a tuple argument bound again: transforms/flatten.py)."""
    if isinstance(f, Transformed) and f.mode in ("grad", "value_and_grad") and f.__dict__.get("checkpoints") is None:
        return user_function(f)
    return generated_function(f)


class ForwardTransformed:
    """A forward-mode function srcdiff generated: (*args, tangent) -> (value, tangent of value)."""

    def __init__(self, f: Callable, wrt: Wrt, jit: bool, name: str = "jvp"):
        decline_transform_of_a_pair(f, name)
        self.f, self.jit, self.made_as = f, jit, name
        params = _parameters_of(f)
        self.wrt_names, self.many = wrt_names_of(params, wrt)
        self._cache: dict = {}
        self._fast: dict = {}    # types key of (arguments, tangents) -> (function, specialisation): steady state
        self._written: dict = {}  # id(function) -> positions of the parameters (and tangents) it writes into
        self._last = None
        import inspect
        self._names = list(inspect.signature(params).parameters)
        functools.update_wrapper(self, params, updated=())
        self.__name__ = f"{getattr(f, '__name__', None) or getattr(self, '__name__', 'f')}_{name}"

    def specialise(self, args=None, structs: tuple = ()) -> Specialisation:
        """Generate and load the jvp function (for a generated inner function: specialised to `args`;
        `structs`: (parameter, structure) of tuple/list arguments, flattened to one parameter per leaf)."""
        inner = generated_function(self.f, args)
        if args is not None and structs:    # the kinds of the leaves, one per flattened parameter (as reverse mode)
            args = [x for a in args for x in (flatten.leaves(a) if isinstance(a, flatten.STRUCTURED) else [a])]
        arg_kinds = tuple(kinds.kind_of_value(a) for a in args) if args is not None else ()
        key = (id(inner), repr(structs), arg_kinds)
        if key not in self._cache:
            try:
                mod = module_builder.build_module(inner, self.wrt_names, "jvp",
                                                  arg_kinds if None not in arg_kinds else (), dict(structs))
            except SrcdiffError as exc:     # at a line of a gradient f calls: at the user's line instead (as grad)
                moved = at_user_line(exc, self)
                if moved is None:
                    raise
                raise moved from exc
            if self.jit:
                checks.check_numba(mod, arg_kinds)
            made = mod.generate(jit=self.jit)
            loaded = backends.load_module(made, mod.bindings, mod.entry, self.jit)
            self._cache[key] = Specialisation(mod, made.source, getattr(loaded, mod.entry), inner, made)
            self._written[id(self._cache[key].function)] = written_parameters(mod)
        self._last = self._cache[key]
        return self._last

    def _build_over(self, inner, structs):
        """The jvp of a generated function whose tuple/list parameters are already flattened, with
        respect to the leaves of the wrt arguments."""
        wrt = flatten.flat_names(self.wrt_names, dict(structs))
        key = (id(inner), "flat")
        if key not in self._cache:
            mod = module_builder.build_module(inner, wrt, "jvp")
            if self.jit:
                checks.check_numba(mod)
            made = mod.generate(jit=self.jit)
            loaded = backends.load_module(made, mod.bindings, mod.entry, self.jit)
            self._cache[key] = Specialisation(mod, made.source, getattr(loaded, mod.entry), inner, made)
            self._written[id(self._cache[key].function)] = written_parameters(mod)
        self._last = self._cache[key]
        return self._last.function

    @property
    def last(self) -> Specialisation | None:
        """The specialisation used most recently (None before the first)."""
        return self._last

    @property
    def source(self) -> str:
        if self._last is None:
            self.specialise()
            if isinstance(self.f, Transformed):    # over a gradient generated for unknown kinds
                self._generic = self._last
        return (api.UNSPECIALISED if self._last is getattr(self, "_generic", None) else "") + self._last.source

    def call(self, args, tangents):
        """(value, tangent) for positional `args` and one tangent per wrt argument. Tuple/list
        arguments (and their tangents, of the same structure) are passed leaf by leaf."""
        check_arguments(self, self._params(), args)
        original_args = args
        positions = [self._position(w) for w in self.wrt_names]
        structured = [k for k, a in enumerate(args) if isinstance(a, flatten.STRUCTURED)]
        restructure = None
        if structured and isinstance(self.f, ForwardTransformed) or \
                structured and isinstance(self.f, Transformed) and self.f.mode != "grad":
            raise SrcdiffError(f"{self.__name__}: tuple/list arguments through nested transforms are supported "
                               "for hvp (forward over grad) only", *user_location(self),
                               advice="pass the arrays as separate arguments")
        if structured:
            names = self._params()
            structs = tuple((names[k], flatten.structure_of(args[k])) for k in structured)
            if isinstance(self.f, Transformed):   # hvp: forward over the flattened gradient
                original = args
                flat_args = [x for a in args for x in (flatten.leaves(a) if isinstance(a, flatten.STRUCTURED) else [a])]
                grad_fn = self.f.specialise(tuple(kinds.kind_of_value(a) for a in flat_args), structs,
                                            arg_dims=dims.label_arguments(flat_args)).function
                fn = self._build_over(cachedir.python_function(grad_fn), structs)

                def restructure(out):
                    return tuple(self.f._restructure(self.f._shape(o), dict(structs), original) for o in out)
            else:
                fn = self.specialise(args, structs).function
            flat_t = []
            for p, w, t in zip(positions, self.wrt_names, tangents):
                if isinstance(args[p], flatten.STRUCTURED):
                    t = flatten.keys_aligned(t, args[p])    # (a dict tangent with the argument's keys in any order)
                    if flatten.structure_of(t) != flatten.structure_of(args[p]):
                        raise SrcdiffError(f"the tangent for {w!r} must have the argument's structure "
                                           f"{flatten.structure_of(args[p])}", *user_location(self))
                    flat_t += [_as_tangent(ti, ai, w, self) for ti, ai in
                               zip(flatten.leaves(t), flatten.leaves(args[p]))]
                else:
                    flat_t.append(_as_tangent(t, args[p], w, self))
            args = [x for a in args for x in (flatten.leaves(a) if isinstance(a, flatten.STRUCTURED) else [a])]
            tangents = flat_t
        else:
            # (specialised to the kinds the arguments run as: under jit=True a 0-d array is its number, and `a[()]` of
            # it, kept for an array, did not compile)
            fn = self.specialise(run_scalars(tuple(args), self.jit) if self.jit else args).function
            given = tangents
            tangents = [_as_tangent(t, args[p], w, self) for p, w, t in zip(positions, self.wrt_names, tangents)]
            if all(t is g for t, g in zip(tangents, given)):
                self._remember(tuple(args) + tuple(tangents), fn)
        out = self._run(fn, run_scalars((*args, *tangents), self.jit), len(args))
        if restructure:
            return restructure(out)
        cls = None if isinstance(self.f, (Transformed, ForwardTransformed)) else \
            module_builder.returned_record_class(self.f, original_args)
        if cls is not None and isinstance(out[0], tuple) and len(out[0]) == len(cls._fields):
            return cls(*out[0]), cls(*out[1])   # f returns a namedtuple: its value and tangent of its class
        return self._as_inner_gives(out)

    def _as_inner_gives(self, out):
        """(value, tangent) of a gradient (hvp's forward over grad, or jvp of a grad) in the structure the gradient
        gives: for a one-name tuple `wrt`, its generated function returns the gradient bare and api.Transformed._shape
        makes the tuple of one (hvp(f, wrt=(0,)) returned H·v bare, and hessian(f, wrt=(0,)) raised IndexError)."""
        if isinstance(self.f, Transformed) and self.f.mode in ("grad", "value_and_grad"):
            return tuple(self.f._shape(o) for o in out)
        return out

    def _run(self, fn, args, primals: int):
        """`fn(*args)` of `primals` arguments and the tangents, its errors named at the user's line; arguments Numba
        fails on for their kinds run as another kind of the same values (as api.Transformed._run). The arguments f
        writes into it writes into, as f does (as grad leaves them: transforms/caller_arrays.py); the tangents
        it writes into (`d_a[0] = ...`) are copies: the caller's stay as they were."""
        written = self._written.get(id(fn))
        if written and any(k >= primals for k in written):
            args = tuple(np.copy(a) if k in written and k >= primals and isinstance(a, np.ndarray) else a
                         for k, a in enumerate(args))
        reruns = self.__dict__.setdefault("_reruns", {})
        if reruns:
            args = rerun_recorded(reruns, args)
        try:
            return fn(*args)
        except SrcdiffError:
            raise
        except Exception as exc:
            again = rerun_arguments(exc, args) if self.jit is True else None
            if again is None:
                translate_error(exc, self, fn, args)
            reruns[rerun_key(args)] = again[0]
            return self._run(fn, again[1], primals)

    def _remember(self, flat, fn):
        """Keep the function a call with these (arguments, tangents) ran, by their types, dtypes and shapes
        (which decide the specialisation, and that the tangents pass as they are), for the next like it."""
        if all(type(a) in PLAIN for a in flat):
            if len(self._fast) >= FAST_MAX:
                self._fast.clear()
            self._fast[types_key(flat)] = (fn, self._last)

    def _params(self):
        return self._names

    def _position(self, name):
        return self._names.index(name)

    def __call__(self, *args, **kwargs):
        out = self._call(args, kwargs)
        if self.made_as != "jvp":
            return out
        value = out[0]
        # (Numba's numbers and float64 arrays, also in a tuple, list or dict: f's types; NumPy integer arguments, run
        # as Python ints by the Python backend: float_types.integer_arguments_make_float64)
        if _has_float(value) or self.jit is True or any(isinstance(a, np.integer) for a in (*args, *kwargs.values())):
            primals = args[:-1] if not kwargs and len(args) == len(self._names) + 1 else \
                api.bind_arguments(self, args, kwargs, trailing=1, last="tangent")[:-1]
            value = api.value_like(value, primals, self.f, self.jit)
        tangent = _like_value(out[1], value)
        shape = returned_lists.returned_structure(self.f) if isinstance(value, tuple) and not isinstance(
            self.f, (Transformed, ForwardTransformed)) else None
        if shape is None and isinstance(value, tuple) and not isinstance(self.f, (Transformed, ForwardTransformed)):
            shape, lines = returned_lists.path_structure(self.f, value)   # (returns that disagree: by value's shape)
            if lines:
                file, _ = user_location(self)
                raise SrcdiffError(f"jvp of {getattr(self.f, '__name__', 'f')}: it returns a list on one path and a "
                                   f"tuple on another of the same shape (lines {', '.join(map(str, lines))}): the "
                                   "generated code returns tuples on both, and its value cannot tell which return ran",
                                   file, lines[0], advice="return the same kind on every path (a tuple, or a list), "
                                   "or convert after the call: list(value)")
        if returned_lists.has_list(shape):   # (f returns a list display: generated code gives a tuple)
            return returned_lists.restructured(value, shape), returned_lists.restructured(tangent, shape)
        return value, tangent

    def _call(self, args, kwargs):
        if not kwargs and len(args) == len(self._names) + 1:   # the steady state: a call like an earlier one
            tangent = args[-1]
            flat = args[:-1] + (tuple(tangent) if self.many and type(tangent) is tuple else (tangent,))
            hit = self._fast.get(types_key(flat))
            if hit is not None:
                self._last = hit[1]
                return self._as_inner_gives(self._run(hit[0], run_scalars(flat, self.jit), len(args) - 1))
        if not args:
            raise SrcdiffError(f"{self.__name__} takes the function's arguments followed by a tangent",
                               *user_location(self))
        *args, tangent = api.bind_arguments(self, args, kwargs, trailing=1, last="tangent")
        tangents = tuple(tangent) if self.many else (tangent,)
        if len(tangents) != len(self.wrt_names):
            raise SrcdiffError(f"{self.__name__}: expected {len(self.wrt_names)} tangents (one per wrt "
                               f"argument), got {len(tangents)}", *user_location(self))
        if self.jit is True:    # as api.Transformed.__call__: generating and compiling with the collector off
            with module_builder.collector_paused():
                return self.call(args, tangents)
        return self.call(args, tangents)


def written_parameters(mod) -> frozenset:
    """Positions of the parameters of `mod`'s entry function that it writes into (`a[0] = v` in the function
    differentiated writes into the caller's `a`, and its jvp into the tangent `d_a` too: redteam, a jacobian built
    column by column then saw the point and the tangents of the columns before, and a tangent passed twice was
    changed the first time). Writes through a second name count (`M_caller = M`, `M_caller[:] = M_final` of srcdiff's
    gradient of a function that writes into its argument M and binds M anew after, differentiated again)."""
    fn = next(f for f in mod.functions if f.name == mod.entry)
    names = [a.id for a in fn.args.args]
    second = second_names(fn, names)
    into = {t.value.id for s in walk_statements(fn.body) if isinstance(s, (gast.Assign, gast.AugAssign))
            for t in (s.targets if isinstance(s, gast.Assign) else [s.target])
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)}
    written = {second.get(n) for n in into}
    # and writes through a view of a parameter (`y = x[1:]`, `x.T`, np.reshape, np.asarray, `x.astype(float,
    # copy=False)`, then `y[0] = v`: d_y = d_x[1:] is the caller's tangent's memory: it was changed, h24a)
    groups = sharing_groups(fn)
    passed = {s.targets[0].id: s.value.args[0].id for s in walk_statements(fn.body)     # (a cast's tangent: d_x
              if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)  # itself, as its primal is x)
              and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.astype_grad"
              and s.value.args and isinstance(s.value.args[0], gast.Name)}
    hit = {groups.get(n, n) for n in into}
    grew = True
    while grew:
        grew = False
        for target, source in passed.items():
            if groups.get(target, target) in hit and groups.get(source, source) not in hit:
                hit.add(groups.get(source, source))
                grew = True
    written |= {n for n in names if groups.get(n, n) in hit}
    return frozenset(k for k, n in enumerate(names) if n in written)


def _has_float(v) -> bool:
    """Whether `v` is a Python float or holds one (in tuples, lists and dicts)."""
    if type(v) is float:
        return True
    items = v.values() if isinstance(v, dict) else v if isinstance(v, (tuple, list)) else ()
    return any(_has_float(x) for x in items)


def _like_value(d, y):
    """Tangent `d` with the float type of the value `y` it is the tangent of (through tuples, lists and dicts), as
    JAX gives them and as grad gives gradients their arguments' dtypes: forward mode runs the tangents of float32
    arrays as float64 (_as_tangent), and the jvp of a float32 function gave float64 tangents (h25b)."""
    if isinstance(y, np.ndarray) and y.dtype.kind == "f" and isinstance(d, np.ndarray) and d.dtype.kind == "f":
        return d if d.dtype == y.dtype else d.astype(y.dtype)
    if isinstance(y, np.floating) and type(d) is not type(y) and isinstance(d, (float, np.floating)):
        return type(y)(d)
    if isinstance(y, (tuple, list)) and isinstance(d, (tuple, list)) and len(y) == len(d):
        items = [_like_value(a, b) for a, b in zip(d, y)]
        return type(d)(*items) if hasattr(type(d), "_fields") else type(d)(items)
    if isinstance(y, dict) and isinstance(d, dict) and y.keys() == d.keys():
        return {k: _like_value(d[k], y[k]) for k in d}
    return d


def _as_tangent(t, x, name="x", owner=None):
    """A tangent with the primal's float type: arrays as float arrays, scalars as floats."""
    if isinstance(x, np.ndarray) or isinstance(t, np.ndarray):
        try:
            t = np.asarray(t, dtype=np.result_type(getattr(x, "dtype", float), np.float64))
        except (TypeError, ValueError):
            raise SrcdiffError(f"tangent {t!r} for argument {name!r} of shape {np.shape(x)} is not an array of "
                               "numbers", *user_location(owner),
                               advice="pass one tangent shaped like each wrt argument (a tuple of them when wrt "
                                      "names several)") from None
        if np.shape(t) != np.shape(x):
            raise SrcdiffError(f"tangent of shape {np.shape(t)} for argument {name!r} of shape {np.shape(x)}",
                               *user_location(owner), advice="pass a tangent shaped like the argument")
        return t
    try:
        return float(t)
    except (TypeError, ValueError):
        raise SrcdiffError(f"tangent {t!r} for the scalar argument {name!r}", *user_location(owner),
                           advice="pass a float") from None


@maker
def jvp(f: Callable, wrt: Wrt = 0, *, jit: bool = False) -> ForwardTransformed:
    """Function (*args, tangent) -> (f(*args), ∂f/∂wrt · tangent), by forward-mode source
    transformation. `tangent` has the structure of the wrt argument(s): a tuple for several."""
    return ForwardTransformed(_plain(f), wrt, jit)


class HVP:
    """(*args, v) -> H·v where H is the Hessian of scalar f w.r.t. `wrt`: forward mode applied to the
    generated gradient function (forward over reverse)."""

    def __init__(self, f: Callable, wrt: Wrt, jit: bool):
        decline_transform_of_a_pair(f, "hvp")
        self.f, self.wrt, self.jit = f, wrt, jit
        names, self.many = wrt_names_of(generated_function(f), wrt)
        self.grad = api.grad(f, tuple(names) if self.many else names[0], jit=False)
        self.fwd = ForwardTransformed(self.grad, tuple(names) if self.many else names[0], jit, name="hvp")
        functools.update_wrapper(self, generated_function(f), updated=())
        self.__name__ = self.fwd.__name__ = f"{getattr(self, '__name__', 'f')}_hvp"

    @property
    def source(self) -> str:
        return self.fwd.source

    def __call__(self, *args, **kwargs):
        kwargs = self._named_v(kwargs)
        return self._like_arguments(self.fwd(*args, **kwargs)[1], args, kwargs)

    def value_grad_and_hvp(self, *args, **kwargs):
        """(gradient, H·v) from one sweep."""
        kwargs = self._named_v(kwargs)
        g, hv = self.fwd(*args, **kwargs)
        return self._like_arguments(g, args, kwargs), self._like_arguments(hv, args, kwargs)

    def _like_arguments(self, out, args, kwargs):
        """H·v (or the gradient) with the float dtypes of the wrt arguments, as grad gives gradients (a float32 x's
        hvp was float64, its grad float32: h25b)."""
        if not kwargs and len(args) == len(self.fwd._names) + 1:
            bound = args[:-1]
        else:
            bound = api.bind_arguments(self.fwd, args, kwargs, trailing=1, last="tangent")[:-1]
        wrt = [bound[self.fwd._position(w)] for w in self.fwd.wrt_names]
        if self.many:
            return type(out)(api.gradient_like(o, a) for o, a in zip(out, wrt)) if isinstance(out, tuple) else out
        return api.gradient_like(out, wrt[0])

    def _named_v(self, kwargs):
        """`hvp(f)(x, v=u)`: the vector by its name, unless the user's function has a parameter `v`."""
        if "v" in kwargs and "v" not in signature_of(self).parameters:
            kwargs = dict(kwargs)
            kwargs["tangent"] = kwargs.pop("v")
        return kwargs


def _plain(f):
    """The function of a @srcdiff.differentiate'd `f` (as grad takes it: api.Transformed), else f: jvp, hvp, hessian
    and jacobian of one were declined, "srcdiff differentiates Python functions; got Differentiated"."""
    return f.f if isinstance(f, api.Differentiated) else f


def hvp(f: Callable, wrt: Wrt = 0, *, jit: bool = False) -> HVP:
    """Hessian-vector product (*args, v) -> H·v of scalar `f` (forward over reverse)."""
    return HVP(_plain(f), wrt, jit)


def _basis(x):
    """Unit tangents for the entries of x, in C order."""
    if np.ndim(x) == 0:
        yield (), 1.0
        return
    x = np.asarray(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros(x.shape, dtype=np.result_type(x.dtype, np.float64))
        e[idx] = 1.0
        yield idx, e


class _Matrix:
    """Shared plumbing of hessian and jacobian: results shaped out.shape + in.shape; with a tuple `wrt`, a
    tuple of such results, one per argument (a hessian's a tuple of rows of blocks, block [i][j] shaped
    x_i.shape + x_j.shape, as jax.hessian with argnums)."""

    def __init__(self, f, wrt, jit, kind):
        decline_transform_of_a_pair(f, kind)
        self.f, self.wrt, self.jit, self.kind = f, wrt, jit, kind
        self.names, self.many = wrt_names_of(generated_function(f), wrt)
        self.name = self.names[0] if not self.many else tuple(self.names)
        functools.update_wrapper(self, generated_function(f), updated=())
        self.__name__ = f"{getattr(self, '__name__', 'f')}_{kind}"
        self._fwd = self._rev = None

    def _arguments(self, args):
        """The wrt arguments of the bound `args`, each one array or number (a matrix of derivatives has one
        axis per axis of it; a tuple or list argument's items may differ in shape)."""
        import inspect
        params = list(inspect.signature(generated_function(self.f)).parameters)
        xs = []
        for name in self.names:
            x = args[params.index(name)]
            if (isinstance(x, dict) or _is_record(x)) and not any(
                    isinstance(v, flatten.STRUCTURED) for v in _values(x)):
                xs.append(x)    # a dict (a namedtuple) of arrays and numbers: a block per key (field), as jax gives
                continue
            if isinstance(x, flatten.STRUCTURED):
                nested = isinstance(x, dict) or _is_record(x)
                raise SrcdiffError(f"{self.__name__}: its wrt argument {name!r} is a {type(x).__name__}"
                                   f"{' of tuples, lists or dicts' if nested else ''}; a "
                                   f"{self.kind} is taken with respect to arrays or numbers, or a dict or namedtuple "
                                   f"of them", *user_location(self.f),
                                   advice="pass the arrays as separate arguments (or a dict or namedtuple of them) and "
                                          "list them in wrt, or use srcdiff.grad / jvp / hvp, which take tuple, list "
                                          "and dict arguments")
            xs.append(x)
        return xs

    def _directions(self, xs):
        """(k, key, idx, tangents): a unit tangent for each entry idx of each wrt argument k (of its item at `key`
        for a dict, else key None), zero in the others."""
        zeros = [_zeros(x) for x in xs]
        for k, x in enumerate(xs):
            for key, leaf in _items(x):
                for idx, e in _basis(leaf):
                    tangents = list(zeros)
                    tangents[k] = e if key is None else _with(zeros[k], key, e)
                    yield k, key, idx, tangents

    def _shaped(self, blocks):
        """One argument's result as given, several as a tuple; 0-d results as NumPy scalars (in dicts too)."""
        out = [_floats(b) for b in blocks]
        return tuple(out) if self.many else out[0]


def _is_record(x) -> bool:
    """A namedtuple: its blocks are by field, in a namedtuple of its class (`H.W.b`), as a dict's are by key."""
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _values(x):
    return list(x.values()) if isinstance(x, dict) else list(x)


def _items(x):
    """[(key, item)] of a dict of arrays and numbers ((field, item) of a namedtuple), [(None, x)] of one array or
    number."""
    if _is_record(x):
        return list(zip(type(x)._fields, x))
    return list(x.items()) if isinstance(x, dict) else [(None, x)]


def _rebuilt(x, items: dict):
    """A dict, or a namedtuple of `x`'s class, of `items` ({key or field: value})."""
    return type(x)(**items) if _is_record(x) else items


def _with(x, key, value):
    """`x` (a dict or namedtuple) with its item at `key` replaced."""
    return x._replace(**{key: value}) if _is_record(x) else {**x, key: value}


def _zeros(x):
    if isinstance(x, dict) or _is_record(x):
        return _rebuilt(x, {k: _zeros(v) for k, v in _items(x)})
    return np.zeros(np.shape(x)) if np.ndim(x) else 0.0


def _per_item(x, make):
    """`make(key)` for each item of a dict (namedtuple) `x`, in a dict of the same keys (a namedtuple of its class),
    `make(None)` for one array."""
    return _rebuilt(x, {k: make(k) for k, _ in _items(x)}) if isinstance(x, dict) or _is_record(x) else make(None)


def _at(value, key):
    if key is None:
        return value
    return getattr(value, key) if _is_record(value) else value[key]


def _floats(b):
    """0-d blocks as NumPy scalars of their float type (np.float64, np.float32), as grad gives a number's gradient
    (api.gradient_like): a float64 block was a Python float, so that a hessian's or jacobian's type was not grad's."""
    if isinstance(b, dict) or _is_record(b):
        return _rebuilt(b, {k: _floats(v) for k, v in _items(b)})
    return b if b.ndim else b[()]


def _float_type(x, y=None) -> np.dtype:
    """The dtype of a derivative with respect to `x`: x's own where x is a NumPy float (array or scalar: float32 stays
    float32, as a gradient does: api.gradient_like); for a Python float (and the rest), where `y`, the value it is a
    derivative of, is an array (a jacobian's block, shaped as y: the tangent of y along x, of y's float type as jvp's
    tangent is), y's float type: f computes a float32 array of a float32 array and a Python float (NumPy 2's weak
    scalars), and the block w.r.t. the Python float was float64; else float64 (a number-valued f's block is grad's
    number, api.gradient_like: np.float64 of a Python float)."""
    dt = getattr(x, "dtype", None)
    if isinstance(dt, np.dtype) and dt.kind == "f":
        return dt
    dt = getattr(y, "dtype", None) if np.ndim(y) else None
    if isinstance(y, (tuple, list)):    # (a tuple of parts, stacked: NumPy's type of them together)
        dt = np.result_type(*[np.asarray(p).dtype for p in y]) if y else None
    return dt if isinstance(dt, np.dtype) and dt.kind == "f" else np.dtype(np.float64)


class Hessian(_Matrix):
    def __init__(self, f, wrt, jit):
        super().__init__(f, wrt, jit, "hessian")
        self._hvp = HVP(f, self.name, jit)

    @property
    def source(self):
        return self._hvp.source

    def __call__(self, *args, **kwargs):
        args = api.bind_arguments(self, args, kwargs)
        xs = self._arguments(args)
        # (block [j][k] of the float type of x_j and x_k together: float32 where both are float32)
        H = [[_per_item(xj, lambda kj, xj=xj: _per_item(xk, lambda kk, xk=xk: np.empty(
            np.shape(_at(xj, kj)) + np.shape(_at(xk, kk)),
            np.result_type(_float_type(_at(xj, kj)), _float_type(_at(xk, kk)))))) for xk in xs] for xj in xs]
        last = None
        for k, key, idx, tangents in self._directions(xs):
            last = _copies(args)    # (each column at the point given: f may write into its arguments)
            column = self._hvp(*last, tuple(tangents) if self.many else tangents[0])
            for j, c in enumerate(column if self.many else (column,)):
                # d/dx_j of (grad f . e_k[idx]): H[j][k][..., idx] (of the items at their keys, for dicts)
                for kj, _ in _items(xs[j]):
                    _at(_at(H[j][k], kj), key)[(Ellipsis,) + idx] = _at(c, kj)
        _write_back(args, last)
        if self.many:
            return tuple(tuple(_floats(b) for b in row) for row in H)
        return self._shaped(H[0])


def hessian(f: Callable, wrt: Wrt = 0, *, jit: bool = False) -> Hessian:
    """Hessian of scalar `f` w.r.t. `wrt`, column by column from Hessian-vector products: shape x.shape + x.shape
    for one argument; for a tuple of them, a tuple of rows of blocks, block [i][j] shaped x_i.shape + x_j.shape."""
    return Hessian(_plain(f), wrt, jit)


class Jacobian(_Matrix):
    def __init__(self, f, wrt, jit, mode):
        super().__init__(f, wrt, jit, "jacobian")
        self.mode = mode

    @property
    def source(self):
        return (self._fwd or self._reverse()).source if self.mode != "reverse" else self._reverse().source

    def _forward(self):
        if self._fwd is None:
            self._fwd = ForwardTransformed(self.f, self.name, self.jit)
        return self._fwd

    def _reverse(self):
        if self._rev is None:
            self._rev = api.vjp(self.f, self.name, jit=self.jit)
        return self._rev

    def __call__(self, *args, **kwargs):
        args = api.bind_arguments(self, args, kwargs)
        xs = self._arguments(args)
        entries = sum(int(np.prod(np.shape(leaf))) for x in xs for _, leaf in _items(x))
        mode = self.mode
        y = last = None
        if mode == "auto" or mode == "reverse" or not entries:
            last = _copies(args)    # (f may write into them: each evaluation from copies, the last's written back)
            y = api.call_positional(generated_function(self.f), last)
            if isinstance(y, tuple) and isinstance(getattr(type(y), "_fields", None), tuple):
                module_builder.decline_structured_result(getattr(self.f, "py_func", self.f))
            if isinstance(y, dict):     # (np.asarray(y, dtype=float) below raised TypeError: "float() argument ...")
                module_builder.decline_structured_result(getattr(self.f, "py_func", self.f))
                raise SrcdiffError(f"{getattr(self.f, '__name__', 'the function')} returned a dict: the jacobian is of a function of arrays and numbers "
                                   "(or a tuple of them)", *user_location(self.f),
                                   advice="return its items as a tuple, or differentiate one of them")
            _one_array(self.f, y)
        if mode == "auto":
            mode = "forward" if entries <= int(np.prod(np.shape(y))) else "reverse"
        self.last_mode = mode
        out_shape = np.shape(y) if y is not None else None
        if mode == "forward":
            fwd = self._forward()
            cols = []
            for k, key, idx, tangents in self._directions(xs):
                last = _copies(args)
                value, column = fwd.call(last, tangents)
                y = api.value_like(value, args, self.f, self.jit) if y is None else y
                cols.append((k, key, idx, np.asarray(_one_array(self.f, column))))
            out_shape = cols[0][3].shape if cols else out_shape
            J = [_per_item(x, lambda key, x=x: np.empty(out_shape + np.shape(_at(x, key)),
                                                                _float_type(_at(x, key), y))) for x in xs]
            for k, key, idx, c in cols:
                _at(J[k], key)[(Ellipsis,) + idx] = c
        else:
            rev = self._reverse()
            J = [_per_item(x, lambda key, x=x: np.empty(out_shape + np.shape(_at(x, key)),
                                                                _float_type(_at(x, key), y))) for x in xs]
            for idx, e in _basis(np.asarray(y, dtype=float)):
                # (each row from the arguments as given: the vjp, as f, may write into them and leave them so)
                last = _copies(args)
                rows = rev(*last, e)[1]
                for k, r in enumerate(rows if self.many else (rows,)):
                    for key, _ in _items(xs[k]):
                        _at(J[k], key)[idx] = _at(r, key)
        _write_back(args, last)
        return self._shaped(J)


def _one_array(f, y):
    """`y` (what `f` returns, or its tangent), declined where it is a tuple (or list) of parts of different shapes, which NumPy does not stack into one
    array (np.asarray raised ValueError, "inhomogeneous shape", out of jacobian)."""
    if isinstance(y, (tuple, list)) and len({np.shape(p) for p in y}) > 1:
        shapes = ", ".join(str(np.shape(p)) for p in y)
        raise SrcdiffError(f"{getattr(f, '__name__', 'the function')} returned a tuple of parts of different "
                           f"shapes ({shapes}): jacobian stacks a tuple's parts into one array", *user_location(f),
                           advice="return one array (np.concatenate of the raveled parts), take the jacobian of each "
                                  "part, or use srcdiff.jvp, which keeps the tuple")
    return y



def _copies(args):
    """The arguments with their arrays copied (in tuples, lists and dicts too)."""
    return [_copy(a) for a in args]


def _copy(a):
    if isinstance(a, np.ndarray):
        return np.copy(a)
    if isinstance(a, dict):
        return {k: _copy(v) for k, v in a.items()}
    if isinstance(a, tuple) and hasattr(type(a), "_fields"):     # (a namedtuple: by field)
        return type(a)(*[_copy(v) for v in a])
    return type(a)(_copy(v) for v in a) if isinstance(a, (tuple, list)) else a


def _write_back(args, copies):
    """The states f left the `copies` of `args` in, written into the caller's arrays: a hessian or jacobian leaves
    them as one call of f does (f writes into its arguments, as Python's does: transforms/caller_arrays.py)."""
    for a, c in zip(args, copies or ()):
        if isinstance(a, np.ndarray) and isinstance(c, np.ndarray) and a.shape == c.shape and a.flags.writeable:
            np.copyto(a, c)
        elif isinstance(a, dict) and isinstance(c, dict):
            _write_back([a[k] for k in a if k in c], [c[k] for k in a if k in c])
        elif isinstance(a, (tuple, list)) and isinstance(c, (tuple, list)):
            _write_back(list(a), list(c))


def jacobian(f: Callable, wrt: Wrt = 0, *, jit: bool = False, mode: str = "auto") -> Jacobian:
    """Jacobian of `f` w.r.t. `wrt`, shape f(...).shape + x.shape (a tuple of those for a tuple `wrt`).
    mode="auto" builds it by columns with jvp when the inputs have fewer entries than the output, else by rows
    with vjp."""
    if mode not in ("auto", "forward", "reverse"):
        raise SrcdiffError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}", *user_location(f))
    return Jacobian(_plain(f), wrt, jit, mode)


# ---- nesting: grad(grad(f)) and friends differentiate the generated source -------------------------------
def _reverse_nested(t: Transformed, arg_kinds: tuple, arg_dims: tuple = ()):
    """The Specialisation for grad / value_and_grad / vjp of a transform srcdiff generated, in
    reverse mode over the inner generated source specialised to the arguments' kinds (one sweep for
    any number of wrt entries; the inner code's stacks get adjoint stacks, see reverse_backward.BackwardSweep.backward_pop)."""
    inner = python_twin(t.f).specialise(arg_kinds).function
    inner = getattr(inner, "py_func", inner)
    mod = module_builder.build_module(inner, list(t.wrt_names), t.mode, arg_kinds, arg_dims=arg_dims)
    made = mod.generate()
    loaded = backends.load_module(made, mod.bindings, mod.entry, t.jit)
    return Specialisation(mod, made.source, getattr(loaded, mod.entry), generated=made)


def _nested(t: Transformed):
    """The Specialisation for grad / value_and_grad / vjp of a transform srcdiff generated: forward mode over the inner generated source, one pass per entry of the wrt arguments (one pass
    for a scalar, e.g. the second derivative of a function of one scalar)."""
    fwd = ForwardTransformed(t.f, tuple(t.wrt_names), t.jit, name=t.mode)
    names, mode = t.wrt_names, t.mode

    def run(*args):
        g = None
        if mode == "vjp":
            *args, g = args
        pos = [fwd._position(w) for w in names]
        zeros = [np.zeros(np.shape(args[p])) if np.ndim(args[p]) else 0.0 for p in pos]
        value, grads = None, []
        for k, p in enumerate(pos):
            x = args[p]
            out = np.zeros(np.shape(x))
            for idx, e in _basis(x):
                tangents = list(zeros)
                tangents[k] = e
                value, d = fwd.call(tuple(args), tangents)
                if g is not None:
                    d = np.sum(np.asarray(g) * np.asarray(d))
                elif np.ndim(d) != 0:
                    raise ValueError("grad needs a scalar output; use vjp or jacobian")
                out[idx] = d
            grads.append(out if np.ndim(x) else float(out))
        result = tuple(grads) if len(grads) > 1 else grads[0]
        return result if mode == "grad" else (value, result)

    return Specialisation(fwd.specialise().module, fwd.source, run)


def _specialise_nested(self: Transformed, arg_kinds: tuple, structs: tuple, arg_dims: tuple,
                       need_module: bool) -> Specialisation:
    """api.Transformed.specialise_nested: a transform of a transform in reverse mode over the inner generated
    source specialised to the arguments' kinds, else (a helper with a forward rule only, structured or
    unknown argument kinds, the CUDA lowering's module wanted) in forward mode over it."""
    if structs:     # (its forward pass over the inner gradient would take the tuple's leaves one by one, which
        #              the inner gradient, made for the tuple, does not: a TypeError in generated code)
        raise SrcdiffError(f"{self.__name__}: tuple/list arguments ({', '.join(name for name, _ in structs)}) "
                           f"through nested transforms are supported for hvp (forward over grad) only",
                           *user_location(self), advice="pass the arrays as separate arguments, or use srcdiff.hvp")
    key = ("nested", arg_kinds, repr(structs), arg_dims, need_module)
    if key not in self._cache:
        built = None
        if not structs and not need_module and all(k is not None and not kinds.is_tuple(k) for k in arg_kinds):
            try:      # reverse over reverse
                built = _reverse_nested(self, arg_kinds, arg_dims)
            except SrcdiffError:   # e.g. a helper with a forward rule only: forward over reverse
                built = None
        self._cache[key] = built or _nested(self)
    return self._cache[key]


# a Transformed may take a Transformed: its generated function is what gets parsed (`py_func`), and building
# goes through the nesting above
Transformed.specialise_nested = _specialise_nested
Transformed.py_func = property(lambda self: generated_function(self))
ForwardTransformed.py_func = property(lambda self: generated_function(self))
