"""The "resolve" pass of compiler.FRONT_END.

Resolve every free name: primitives become canonical calls (np.exp, rt.logsumexp, ...),
user functions become callees, module constants become bindings, array methods become functions."""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import random
import sysconfig
import types as pytypes

import gast

import numpy as np

from ..cachedir import python_function
from ..errors import fail
from ..makers import MAKERS, user_function
from ..rules import RULES, rule_name_of
from ..rules.composites import ALIASES as COMPOSITE_ALIASES
from ..rules.numpy_rules import CANON_KEYWORDS, BUILTIN_ALIASES, KEYWORD_ALIASES, METHODS, OPEN_BOUNDS
from . import annotations as anno
from .astutil import (NOT_LITERAL, Transformer, assigned_names, const, copy_loc, dotted, dotted_name,
                      literal_value, load, walk, walk_statements)

ARRAY_ATTRS = {"shape", "ndim", "size", "dtype"}
_MISSING = object()


def local_names(fn: gast.FunctionDef) -> set:
    out = {a.id for a in fn.args.args}
    out |= assigned_names(fn.body)
    for n in walk_statements(fn.body):
        if isinstance(n, gast.FunctionDef):
            out.add(n.name)
    return out


def _is_constant(obj) -> bool:
    if isinstance(obj, (bool, int, float, np.generic)) or obj is None:
        return True
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind in "biuf"
    if isinstance(obj, tuple):
        return all(_is_constant(o) for o in obj)
    return False


def _transform_mode(made):
    """"grad", "value_and_grad", "vjp" or "jvp" where `made` is a srcdiff transform of those (an object with a
    transform's wrt names; a jvp has no mode), else None. Its generated function takes the user's parameters
    positionally (defaults and keyword-only ones too), then a cotangent (vjp) or one tangent per wrt entry (jvp)."""
    if inspect.isfunction(made) or not hasattr(made, "wrt_names") or not hasattr(made, "f"):
        return None
    mode = getattr(made, "mode", "jvp")
    return mode if mode in ("grad", "value_and_grad", "vjp", "jvp") else None


def _is_jvp(made) -> bool:
    """Whether `made` is a srcdiff.jvp transform: its generated function takes a tangent per wrt entry."""
    return _transform_mode(made) == "jvp"


def is_user_function(obj) -> bool:
    """A plain Python function of the user's (or of srcdiff's own libraries), not a third-party one."""
    fn = getattr(obj, "py_func", obj)
    if not inspect.isfunction(fn):
        return False
    module = getattr(fn, "__module__", "") or ""
    if module.split(".")[0] == "srcdiff":
        # (the eigh / svd / pinv derivative helpers are NumPy / Numba code, not code to differentiate: a call of
        # one without a rule asks for a derivative order srcdiff does not take through them)
        return module != "srcdiff.runtime.spectral"
    path = fn.__code__.co_filename
    library = ("site-packages" in path or "dist-packages" in path
               or path.startswith(sysconfig.get_paths()["stdlib"]))
    return not library


# advice for arguments of NumPy/SciPy functions that srcdiff's rules do not take, where there is a better rewrite
ARGUMENT_ADVICE = {
    ("rt.logsumexp", "b"): "for positive weights write logsumexp(x + np.log(b)); b with zeros or signs has no rule",
}
# what a parameter NumPy declares with "no value" (np.sum's where=, initial=) means when it is left out: written
# out, that value is NumPy's default too (np.sum(x, where=True))
_NO_VALUE_MEANS = {"where": True}
# functions whose dtype= argument is a cast of their result (for a reduction it is the type of the accumulation)
_DTYPE_IS_A_CAST = {"np.array", "np.asarray", "np.ascontiguousarray", "np.asfortranarray", "np.full", "np.full_like",
                    "np.linspace"}


def _numpy_default(sig, name):
    """The value parameter `name` of signature `sig` takes when left out (for one declared with NumPy's "no
    value", what that means: _NO_VALUE_MEANS), or inspect.Parameter.empty."""
    default = sig.parameters[name].default if name in sig.parameters else inspect.Parameter.empty
    return _NO_VALUE_MEANS.get(name, default) if type(default).__name__ == "_NoValueType" else default


_DRAW_OUTSIDE = ("draw the noise outside and pass it in as an argument (eps = rng.normal(size=n); f(mu, sigma, eps)), "
                 "which makes the gradient that of the reparameterised function")


# functions without a rule that users reach for, and how to write them with ones that have one
_WRITE_INSTEAD = {
    "numpy.take_along_axis": "index with integer arrays: a[np.arange(a.shape[0])[:, None], idx] takes "
                             "np.take_along_axis(a, idx, axis=1) of a matrix a",
    "numpy.fill_diagonal": "write the diagonal through an index: a[np.arange(n), np.arange(n)] = v (a copy of a "
                           "first), or multiply by a mask: a * (1.0 - np.eye(n))",
    "numpy.nonzero": "index with the boolean mask itself: x[mask]",
    "numpy.flatnonzero": "index with the boolean mask itself: x[mask]",
    "numpy.pad": "join the padding on: np.concatenate((np.zeros(k), x, np.zeros(k)))",
    "numpy.convolve": "write the sum of shifted slices: sum(w[j] * x[j:j + m] for j in range(len(w)))",
    "numpy.correlate": "write the sum of shifted slices: sum(w[j] * x[j:j + m] for j in range(len(w)))",
    "numpy.percentile": "sort and index: np.sort(x)[k], or np.median(x)",
    "numpy.quantile": "sort and index: np.sort(x)[k], or np.median(x)",
    "numpy.linalg.multi_dot": "write the products with @: a @ b @ c",
    "numpy.split": "slice the parts: x[:k], x[k:]",
    "numpy.array_split": "slice the parts: x[:k], x[k:]",
    "numpy.meshgrid": "broadcast instead: x[:, None] and y[None, :]",
    "math.prod": "use np.prod (of a list of numbers too: np.prod([a, b]))",
    "math.fsum": "use sum(...) or np.sum",
    "math.dist": "use np.linalg.norm(p - q)",
}


def _is_random(obj) -> bool:
    """A draw of numpy.random's (np.random.normal: a method of its RandomState), a Generator's (rng.normal) or the
    random module's (random.gauss: a method of its Random)."""
    return isinstance(getattr(obj, "__self__", None), (np.random.Generator, np.random.RandomState, random.Random))


class _Resolver(Transformer):
    def __init__(self, unit):
        self.unit = unit
        self.locals = local_names(unit.node)

    # -- helpers --------------------------------------------------------------------------------
    def _lookup(self, node):
        """Python object a Name/Attribute chain rooted at a free name refers to, or _MISSING."""
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                return _MISSING
            return self.unit.namespace.get(node.id, _MISSING)
        if isinstance(node, gast.Attribute):
            base = self._lookup(node.value)
            if base is _MISSING:
                return _MISSING
            try:
                return getattr(base, node.attr)
            except AttributeError:
                fail(node, self.unit, f"{type(base).__name__} has no attribute {node.attr!r}")
        return _MISSING

    def _text(self, node):
        return gast.unparse(node) if hasattr(gast, "unparse") else node.__class__.__name__

    def _bind_constant(self, node, obj):
        if isinstance(obj, (bool, int, float, str)) or obj is None:
            return copy_loc(const(obj), node)
        if isinstance(obj, np.generic):
            return copy_loc(const(obj.item()), node)
        root = node
        while isinstance(root, gast.Subscript):
            root = root.value
        base = root.id if isinstance(root, gast.Name) else root.attr
        name = base
        k = 0
        while name in self.unit.bindings and self.unit.bindings[name] is not obj or name in self.locals:
            k += 1
            name = f"{base}_{k}"
        self.unit.bindings[name] = obj
        return copy_loc(load(name), node)

    def _list_constant(self, node, obj: list, name: str):
        """A module-level list used whole (a mesh's edges, a stencil's weights; its items at constant keys are
        `_item`'s) as the array of it where it is numbers, or lists or tuples of them, of one shape: compiled in as
        module-level arrays are (one per list). Another list is declined naming it."""
        cache = self.__dict__.setdefault("_lists", {})
        if id(obj) not in cache:
            try:
                arr = np.asarray(obj)
            except ValueError:      # (ragged)
                arr = None
            if arr is None or arr.dtype.kind not in "biuf" or arr.size == 0:
                fail(node, self.unit, f"the module-level list {name} used as a value: srcdiff compiles in a list of "
                                      "numbers (or of tuples or lists of them) of one shape as the array of it, and "
                                      f"items of a dict, list or tuple read at constant keys ({name}[0])",
                     f"read its items at constant keys ({name}[...]), make it a tuple or an array "
                     f"({name} = np.array(...)), or pass it in as an argument (a tuple or list of arrays and floats "
                     "is differentiated item by item)")
            cache[id(obj)] = (obj, arr)      # (the list kept: its id stays its own)
        return cache[id(obj)][1]

    def _callable_name(self, node, obj):
        """Canonical callee expression for a resolved callable object."""
        canon = rule_name_of(obj) or BUILTIN_ALIASES.get(id(obj)) or COMPOSITE_ALIASES.get(id(obj))
        if canon is not None:
            if canon in RULES and RULES[canon].namespace:  # user-registered rule: bind the function
                self.unit.bindings[canon] = obj
            return copy_loc(dotted(canon), node)
        if is_user_function(obj):
            name = node.id if isinstance(node, gast.Name) else node.attr
            self.unit.callees[name] = python_function(obj)
            return copy_loc(load(name), node)
        what = getattr(obj, "__module__", None)
        qual = f"{what}.{getattr(obj, '__name__', repr(obj))}" if what else repr(obj)
        if what and (what == "numpy.random" or what.startswith("numpy.random.")) and not _is_random(obj):
            fail(node, self.unit, f"call to {qual}: a random generator made inside the function you differentiate "
                                  "(its draws are no function of the arguments srcdiff differentiates)", _DRAW_OUTSIDE)
        if _is_random(obj):
            fail(node, self.unit, f"call to {qual}: a random draw inside the function you differentiate (its value "
                                  "would change from call to call, and finite differences or a second call with "
                                  "the same arguments would not agree)",
                 _DRAW_OUTSIDE)
        if obj is sorted:
            fail(node, self.unit, "call to sorted(): Python's sort of a sequence has no differentiation rule",
                 "use np.sort(x), which srcdiff differentiates (ties keep their order)")
        if obj in (zip, enumerate, reversed, map, filter):
            fail(node, self.unit, f"{obj.__name__}(...) used as a value: srcdiff writes it out only as the iterable "
                                  "of a for loop or of a comprehension it writes out (an argument of sum, max, min, "
                                  "np.array or np.stack; one bound to a name that is read only through those and len)",
                 "loop over it with for, or make an array of the comprehension first (vals = np.array([...])) and "
                 "work on the array" + (": write map(f, x) as [f(v) for v in x]" if obj is map else
                                        ": write filter(p, x) as [v for v in x if p(v)]" if obj is filter else ""))
        if isinstance(getattr(obj, "__self__", None), np.ufunc):
            ufunc, method = obj.__self__.__name__, getattr(obj, "__name__", "?")
            fail(node, self.unit, f"call to np.{ufunc}.{method}: NumPy's ufunc methods (np.add.at, np.add.reduce, "
                                  "np.maximum.accumulate, ...) have no differentiation rule",
                 "write a scatter-add as a loop (for k in range(len(idx)): a[idx[k]] += v[k]; a[idx] += v adds once "
                 "where idx repeats an index, as NumPy does), and reductions and scans with np.sum, np.prod, "
                 "np.max, np.cumsum, np.cumprod")
        if isinstance(obj, type) and issubclass(obj, tuple) and isinstance(getattr(obj, "_fields", None), tuple):
            # (flatten makes the fields of `s = State(...)` variables, where s is bound only to namedtuples it makes:
            # here it is not, as `s = step(s)` of a function of yours returning `s._replace(...)`, h26c)
            name = obj.__name__
            fail(node, self.unit, f"a namedtuple {name}(...) made here whose fields srcdiff cannot make variables "
                                  f"of: its name is bound to another value too (a tuple, or what a function of yours "
                                  f"that returns no namedtuple on some path returns), or it is used without a name "
                                  f"(srcdiff reads the fields of namedtuple arguments, of namedtuples the function "
                                  f"reading them makes, and of those a function of yours returns)",
                 f"bind it to a name bound only to {name}(...), `s._replace(...)` or the namedtuple a function of "
                 f"yours returns on every path (`s = step(s)` of `return s._replace(W=...)`)")
        if obj in (tuple, list):     # (flatten reads `tuple(t)` / `list(t)` of a tuple/list argument: copied)
            name = obj.__name__
            items = "[t[0], t[1]]" if obj is list else "(t[0], t[1])"
            fail(node, self.unit, f"`{name}(...)` of a value other than a tuple/list argument (or an item or constant "
                                  f"slice of one), which srcdiff reads as the literal of its items (a tuple or list made in "
                                  f"the function, a range, a shape, an array or a generator is not)",
                 f"use the value itself (u = t, for i in range(n), a.shape), write its items out ({items}), or make "
                 "an array: np.array(...)")
        if isinstance(obj, type) or (hasattr(obj, "__self__") and not isinstance(obj, pytypes.ModuleType)
                                     and not isinstance(getattr(obj, "__self__"), pytypes.ModuleType)):
            fail(node, self.unit, f"call to {qual}: classes, instances and bound methods are not supported",
                 "differentiate a plain function of arrays and floats; pass an object's arrays as arguments")
        if qual.endswith("._replace") or getattr(obj, "__name__", None) == "_replace":
            fail(node, self.unit, "a namedtuple's `._replace(...)` used other than bound to a name or returned "
                                  "(passed on, read at once): srcdiff makes each field its own variable where "
                                  "`s2 = s._replace(...)` binds it",
                 "bind it to a name first (`s2 = s._replace(...)`), then pass or read s2")
        if what and what.startswith("srcdiff.runtime"):
            fail(node, self.unit, f"call to {qual}, a derivative helper in code srcdiff generated, which has no "
                                  "differentiation rule: srcdiff does not take derivatives of that order through it",
                 "for second derivatives use srcdiff.hvp or srcdiff.hessian (forward over reverse)")
        fail(node, self.unit, f"call to {qual} has no differentiation rule",
             _WRITE_INSTEAD.get(qual) or "register one with srcdiff.adjoint(func, vjp=...), or compute it outside "
                                         "the differentiated function and pass the result in as an argument")

    # -- visitors -------------------------------------------------------------------------------
    def _static_transform(self, func):
        """`srcdiff.grad(f, wrt=...)` called inside a differentiated function: the transform, made now
        (its arguments must be globals or constants), or _MISSING."""
        if not isinstance(func, gast.Call):
            return _MISSING
        maker = self._lookup(func.func)
        if maker not in MAKERS:
            if callable(maker) and getattr(maker, "__module__", "").split(".")[0] == "srcdiff":
                # (hessian, jacobian, hvp: transforms that run several generated functions in Python)
                fail(func, self.unit, f"{self._text(func.func)}(...) inside a function srcdiff differentiates",
                     "call srcdiff.grad, value_and_grad, vjp or jvp there (an hvp is the jvp of a gradient, a "
                     "Hessian or Jacobian its columns: one jvp per basis vector), or compute it outside")
            return _MISSING

        def value(e):
            if isinstance(e, gast.Constant):
                return e.value
            if isinstance(e, gast.Tuple):
                return tuple(value(x) for x in e.elts)
            obj = self._lookup(e)
            if obj is _MISSING:
                fail(e, self.unit, f"the arguments of {self._text(func.func)}(...) inside a differentiated "
                     "function must be global functions or constants",
                     "define the transform at module level (dloss = srcdiff.grad(loss)) and call it")
            return obj
        return maker(*[value(a) for a in func.args], **{k.arg: value(k.value) for k in func.keywords})

    def visit_Call(self, node):
        func = node.func
        if anno.get(node, anno.MADE):   # a runtime call desugar wrote (a sum's start)
            if dotted_name(func) in ("rt.push", "rt.pop") and isinstance(node.args[0], gast.Name):
                method = "append" if dotted_name(func) == "rt.push" else "pop"   # (the user's list's, lowered)
                _decline_module_level_write(node, self.unit, node.args[0].id, f"a call of .{method}() that changes",
                                            self.locals)
            node.args = [self.visit(a) for a in node.args]
            return node
        made = self._static_transform(func)
        if made is not _MISSING:   # srcdiff.grad(loss)(w): the generated gradient becomes a callee
            base = func.args[0].id if func.args and isinstance(func.args[0], gast.Name) else "f"
            name, k = f"{base}_{getattr(made, 'mode', 'jvp')}", 0
            while name in self.locals or (name in self.unit.callees and self.unit.callees[name] is not made.py_func):
                k += 1
                name = f"{base}_{getattr(made, 'mode', 'jvp')}{k}"
            self.unit.callees[name] = made.py_func
            node.func = copy_loc(load(name), func)
            node.args = [self.visit(a) for a in node.args]
            node.keywords = [self.visit(kw) for kw in node.keywords]
            # the generated function takes the user's parameters positionally (then a cotangent or a tangent)
            mode = getattr(made, "mode", "jvp")
            self._bind_arguments(node, user_function(made), trailing=1 if mode in ("vjp", "jvp") else 0,
                                 last="cotangent" if mode == "vjp" else "tangent")
            self._tangent_items(node, made)
            return node
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and func.attr in _MUTATORS:
            _decline_module_level_write(node, self.unit, func.value.id, f"a call of .{func.attr}() that changes",
                                       self.locals)
        got = self._constant_dict_get(node)
        if got is not None:     # CONFIG.get("lam", 1.0) of a module-level dict
            return got
        self._decline_library_calls(node)
        if isinstance(func, gast.Name) and func.id in self.unit.callees and func.id not in self.locals:
            obj = _MISSING   # a lifted nested def (it may share a global's name), or a callee resolved before
        else:
            obj = self._lookup(func)
        if isinstance(func, gast.Attribute) and (obj is _MISSING or isinstance(getattr(obj, "__self__", None),
                                                                                np.ndarray)):
            # a method of a local array, or of a module-level one (`C.reshape(2, 2)`, `C.sum()`: was declined as
            # "a bound method", naming the object's address)
            return self._method(node)
        dtype = self._dtype_argument(node, obj)
        if dtype is not None:   # f(..., dtype=t) -> f(...) cast to t
            # (np.asarray(x, dtype) is x itself where x has the dtype already, as x.astype(dtype, copy=False))
            copies = obj not in (np.asarray, np.ascontiguousarray, np.asfortranarray) and not (obj is np.array and any(
                k.arg == "copy" and isinstance(k.value, gast.Constant) and k.value.value in (False, None)
                for k in node.keywords))
            return self._cast(self.visit_Call(node), dtype, node, copy=copies)
        node.args = [self.visit(a) for a in node.args]
        for k in node.keywords:
            if k.arg == "dtype" and not (isinstance(k.value, gast.Constant) and k.value.value is None):
                k.value = self._dtype(k.value)[1]   # np.zeros(n, dtype=int) -> dtype=np.int64 (as Numba takes it)
            else:
                self.visit(k)
        if obj is divmod and len(node.args) == 2 and not node.keywords:   # (a // b, a % b), as Python defines it
            a, b = node.args
            parts = [gast.BinOp(left=copy.deepcopy(a), op=op(), right=copy.deepcopy(b)) for op in (gast.FloorDiv, gast.Mod)]
            return copy_loc(gast.Tuple(elts=[copy_loc(e, node) for e in parts], ctx=gast.Load()), node)
        if obj is _MISSING:
            if isinstance(func, gast.Name) and func.id in self.unit.callees:  # lifted nested def, or a user
                callee = self.unit.callees[func.id]                           # function called before
                if inspect.isfunction(callee):
                    self._bind_arguments(node, callee)
                return node
            if isinstance(func, gast.Name):
                fail(node, self.unit, f"cannot call the local value {func.id!r}",
                     "call functions by name (globals, nested defs, lambdas bound to a name); a function passed "
                     "as an argument is followed where the call names it (rk4(rhs, y, h), rk4(lambda y: -y, y, h)), "
                     "not where it comes from a parameter's default, a container or a conditional expression")
            fail(node, self.unit, f"cannot call {self._text(func)}",
                 "call functions by name (globals, closures, nested defs) or NumPy/math functions")
        shown = self._text(func)
        node.func = self._callable_name(func, obj)
        if obj is copy.copy or obj is copy.deepcopy:    # (np.copy's rule: kind_rewrites declines it of a tuple)
            anno.set(node, anno.COPY_MODULE, shown)
        target = self.unit.callees.get(node.func.id) if isinstance(node.func, gast.Name) else None
        mode = _transform_mode(obj)
        if target is not None and mode is not None:   # a transform made at module level: the user's parameters
            self._bind_arguments(node, user_function(obj), trailing=1 if mode in ("vjp", "jvp") else 0,
                                 last="cotangent" if mode == "vjp" else "tangent")   # (then a cotangent or tangent)
            self._tangent_items(node, obj)
        elif target is not None and target is getattr(obj, "py_func", obj):
            self._bind_arguments(node, target)
        return self._rule_arguments(node, obj, shown)

    def _rule_arguments(self, node, obj, shown):
        """A call of a rule whose arguments do not bind to the rule's parameters as written (NumPy's own
        parameter names, `np.clip(a=x, min=lo)`, or arguments past the rule's): bound to the signature of the
        function the user called and passed on positionally in the rule's order (the rule's parameters are
        NumPy's leading ones). An argument the rule does not take (`out=`, `where=`, `dtype=`) is declined
        unless it is NumPy's default (those canonicalize reads, a reduction's axis= and keepdims=, stay keywords)."""
        canon = dotted_name(node.func)
        rule = RULES.get(canon)
        if rule is None or rule.nondiff or rule.variadic or rule.namespace:
            return node
        if any(k.arg is None for k in node.keywords):
            fail(node, self.unit, f"{shown}(**kwargs) is not supported",
                 "pass the arguments as literal keywords (name=value) instead of **kwargs")
        keywords = {k.arg: k.value for k in node.keywords}
        kept = CANON_KEYWORDS.get(canon, ())
        try:
            rule.signature.bind(*node.args, **{k: v for k, v in keywords.items() if k not in kept})
            return node
        except TypeError:
            pass
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            sig = None
        if canon == "np.where" and len(node.args) + len(node.keywords) == 1:
            fail(node, self.unit, "np.where(condition) with the condition alone (the indices where it holds, as "
                                  "np.nonzero gives them) is not supported",
                 "index with the boolean mask itself (x[condition], x[condition] = v), or choose elementwise with "
                 "np.where(condition, a, b)")
        if sig is None:   # (math.log(x, base): canonicalize rewrites the forms it knows)
            return node
        if any(isinstance(a, gast.Starred) for a in node.args) or None in keywords:
            # (bound as written, `np.power(*args)` read "missing a required argument: 'x2'")
            form = "*args" if any(isinstance(a, gast.Starred) for a in node.args) else "**kwargs"
            fail(node, self.unit, f"{shown}({form}): srcdiff binds a call's arguments to {shown}'s "
                                  "parameters when it compiles, and does not unpack them",
                 f"pass the arguments one by one: {shown}{sig}")
        try:
            bound = sig.bind(*node.args, **keywords).arguments
        except TypeError as e:
            fail(node, self.unit, f"{shown}: {e}", f"call it as NumPy does: {shown}{sig}")
        params = list(sig.parameters.values())
        names = list(rule.signature.parameters)
        aliases = KEYWORD_ALIASES.get(canon, {})
        args, extra = {}, []
        for k, param in enumerate(params):
            if param.name not in bound:
                continue
            value = bound[param.name]
            if param.kind is param.VAR_KEYWORD:
                extra += [(n, v) for n, v in value.items()]
            elif param.kind is param.VAR_POSITIONAL:
                extra += [(param.name, v) for v in value]
            elif param.name in aliases:
                target = aliases[param.name]
                if target in args and not _is_none(args[target]):
                    fail(node, self.unit, f"{shown}: {param.name}= and {target}= given together")
                args[target] = value
            elif param.kind is not param.KEYWORD_ONLY and k < len(names) and names[k] != "*args":
                if names[k] in args and not _is_none(value):
                    fail(node, self.unit, f"{shown}: {names[k]} given twice")
                args.setdefault(names[k], value)
            else:
                extra.append((param.name, value))
        keep = self._kept_keywords(extra, sig, canon, shown, names, kept)
        out = self._in_rule_order(node, rule, canon, args, names, shown)
        node.args, node.keywords = out, keep
        return node

    def _kept_keywords(self, extra, sig, canon, shown, names, kept):
        """The keywords of a rule's call that stay keywords (those canonicalize reads, CANON_KEYWORDS) among the
        arguments the rule does not take (`extra`: (name, value)); any other is declined unless it is NumPy's
        default written out."""
        keep = []
        for name, value in extra:
            if name in kept:
                keep.append(gast.keyword(arg=name, value=value))
                continue
            default = _numpy_default(sig, name)
            if isinstance(value, gast.Constant) and default is not inspect.Parameter.empty and (
                    value.value is default or (type(value.value) is type(default) and value.value == default)):
                continue   # NumPy's default, written out
            takes = ", ".join(dict.fromkeys(names + list(kept)))
            fail(value, self.unit, f"{shown}: the argument {name}= is not supported (srcdiff's rule for it takes "
                                   f"{takes})",
                 ARGUMENT_ADVICE.get((canon, name),
                                     f"drop {name}= and compute it outside the call (an out= array: assign the result)"))
        return keep

    def _in_rule_order(self, node, rule, canon, args, names, shown):
        """The arguments bound to the rule's parameters (`args`: name -> value), positional in the rule's order up
        to the last one given, the ones left out between as their defaults."""
        last = max((names.index(n) for n in args), default=-1)
        if canon in OPEN_BOUNDS:    # np.clip(x, min=0): the side left out is open (None), also the last one
            last = len(names) - 1
        out = []
        for p in names[:last + 1]:
            if p in args:
                out.append(args[p])
                continue
            default = rule.signature.parameters[p].default
            if default is inspect.Parameter.empty and canon not in OPEN_BOUNDS:
                fail(node, self.unit, f"{shown}: missing the argument {p!r}")
            out.append(copy_loc(const(None if default is inspect.Parameter.empty else default), node))
        return out

    def _tangent_items(self, node, made):
        """An inner jvp with a tuple `wrt` (`srcdiff.jvp(f, wrt=(0, 2))(w, x, lam, (tw, tl))`): its generated
        function takes one tangent parameter per wrt entry, so the call's trailing tangent tuple (a literal, or a
        name bound to one: its items by constant index) becomes that many arguments."""
        if not _is_jvp(made) or not getattr(made, "many", False):
            return
        n, t = len(made.wrt_names), node.args[-1]
        if isinstance(t, (gast.Tuple, gast.List)) and not any(isinstance(e, gast.Starred) for e in t.elts):
            if len(t.elts) != n:
                fail(node, self.unit, f"{self._text(node.func)}: a tangent of {len(t.elts)} items for {n} wrt "
                                      f"arguments ({', '.join(made.wrt_names)})",
                     "pass one tangent per wrt argument, as a tuple in their order")
            items = list(t.elts)
        elif isinstance(t, gast.Name):
            items = [copy_loc(gast.Subscript(value=load(t.id), slice=const(k), ctx=gast.Load()), t) for k in range(n)]
        else:
            fail(node, self.unit, f"{self._text(node.func)}: the tangent of a jvp with wrt={tuple(made.wrt_names)} "
                                  "must be a tuple written out or a name bound to one",
                 "bind the tangent tuple to a name first, or write it out: (t0, t1, ...)")
        node.args = node.args[:-1] + items

    def _bind_arguments(self, node, fn, trailing=0, last=None):
        """A call of a user function with its arguments in parameter order, defaults written in (keyword
        arguments, defaults and keyword-only parameters bound as Python binds them): callees take
        positional arguments only (transforms/parse.py makes keyword-only parameters positional). The
        last `trailing` positional arguments (an inner vjp's cotangent, an inner jvp's tangent) stay last;
        that one may also come by its name `last` (`tangent=t`) unless `fn` has a parameter of that name."""
        name = node.func.id
        if any(isinstance(a, gast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            fail(node, self.unit, f"call of {name!r} with *args or **kwargs", "pass each argument explicitly")
        sig = inspect.signature(fn)
        named = [k for k in node.keywords if k.arg == last and last not in sig.parameters]
        if trailing == 1 and named:
            node.keywords = [k for k in node.keywords if k is not named[0]]
            node.args = node.args + [named[0].value]
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
            return    # parse declines the callee at its own line
        if not node.keywords and len(node.args) == len(sig.parameters) + trailing:
            return
        given = node.args[:len(node.args) - trailing] if trailing else node.args
        try:
            if len(node.args) < trailing:
                raise TypeError("the function's arguments must be followed by the cotangent (vjp) or tangent (jvp)")
            bound = sig.bind(*given, **{k.arg: k.value for k in node.keywords})
        except TypeError as e:
            fail(node, self.unit, f"call of {name}{sig}: {e}", "pass the arguments its signature takes")
        args = []
        for p in sig.parameters.values():
            if p.name in bound.arguments:
                args.append(bound.arguments[p.name])
            elif _is_constant(p.default) or isinstance(p.default, str):
                args.append(self._bind_constant(copy_loc(load(p.name), node), p.default))
            else:
                fail(node, self.unit, f"call of {name}: the default of its parameter {p.name!r} is a "
                                      f"{type(p.default).__name__}, not a number or an array",
                     f"pass {p.name} explicitly")
        node.args, node.keywords = args + node.args[len(given):], []

    def _decline_library_calls(self, node):
        """Calls that srcdiff cannot follow, declined with what to write instead: a module-level dict's views
        (`CONFIG.items()`), `"...".format(...)`, `isinstance(...)`, and a lambda passed to a function that is not the
        user's (`functools.reduce(lambda a, b: a * b, w)`)."""
        func = node.func
        if isinstance(func, gast.Attribute) and func.attr in ("items", "values", "keys") and not node.args:
            base = self._item(func.value) if isinstance(func.value, gast.Subscript) else self._lookup(func.value)
            if isinstance(base, dict):
                name = self._text(func.value)
                fail(node, self.unit, f"{name}.{func.attr}() of the module-level dict {name} (srcdiff compiles in a "
                                      "global dict's items read at constant keys)",
                     f"read its items at constant keys ({name}[\"...\"]), or pass the dict in as an argument (a loop "
                     f"over a dict argument's .{func.attr}() is unrolled; leave it out of wrt)")
        if (isinstance(func, gast.Attribute) and func.attr == "format" and isinstance(func.value, gast.Constant)
                and isinstance(func.value.value, str)):
            fail(node, self.unit, "str.format() (srcdiff keeps the text of f-strings in print and assert)",
                 "write an f-string: f\"got {x:.3f}\" in place of \"got {:.3f}\".format(x)")
        obj = self._lookup(func) if isinstance(func, (gast.Name, gast.Attribute)) else _MISSING
        if obj is isinstance:
            fail(node, self.unit, "isinstance(...) in the function you differentiate (srcdiff generates its code for "
                                  "the kinds of the arguments it is called with, and does not read their types)",
                 "test the rank instead (np.ndim(x) == 0 for a number), or write a function for each kind")
        lam = next((a for a in node.args if isinstance(a, gast.Lambda)), None)
        if lam is not None and obj is not _MISSING and not is_user_function(obj):
            shown = getattr(obj, "__qualname__", None) or self._text(func)
            fail(lam, self.unit, f"a lambda passed to {shown}, which is not a function of yours (srcdiff follows the "
                                 "functions you pass to your own functions, and lambdas it can call where they are)",
                 ("write the loop out (acc = w[0]; for v in w[1:]: acc = acc * v), or use the NumPy function for it "
                  "(np.prod, np.cumsum, np.sum)" if obj is functools.reduce else
                  "bind the lambda to a name and write the loop or comprehension out (g = lambda v: v * v; "
                  "np.array([g(v) for v in w])), or call a function of yours that takes the function"))

    def _constant_dict_get(self, node):
        """`CONFIG.get("lam", 1.0)` (`CONFIG["opt"].get(...)`) of a module-level or closure dict, at a constant key:
        its item as `CONFIG["lam"]` reads it, or the default (None without one) where the dict has no such key;
        else None."""
        func = node.func
        if not (isinstance(func, gast.Attribute) and func.attr == "get" and 1 <= len(node.args) <= 2
                and not node.keywords and not any(isinstance(a, gast.Starred) for a in node.args)):
            return None
        base = self._item(func.value) if isinstance(func.value, gast.Subscript) else self._lookup(func.value)
        if not isinstance(base, dict):
            return None
        key = node.args[0].value if isinstance(node.args[0], gast.Constant) else literal_value(node.args[0])
        if key is NOT_LITERAL or isinstance(key, (list, dict, set)):
            fail(node, self.unit, f"{self._text(node)}: .get() of the module-level dict {self._text(func.value)} at a "
                                  "key known only at run time (srcdiff compiles in a global dict's items read at "
                                  "constant keys)",
                 f"read it at a literal key ({self._text(func.value)}.get(\"lam\", 1.0)), or pass the dict in as an "
                 "argument (a dict of arrays and floats keyed by strings is differentiated item by item)")
        if key in base:
            return self.visit(copy_loc(gast.Subscript(value=func.value, slice=node.args[0], ctx=gast.Load()), node))
        return self.visit(node.args[1]) if len(node.args) == 2 else copy_loc(const(None), node)

    def _method(self, node):
        func = node.func
        base = self.visit(func.value)
        m = func.attr
        if m == "astype":   # (its dtype is read, not resolved as a value: _dtype)
            given = node.args[:1] + [k.value for k in node.keywords if k.arg == "dtype"]
            if len(given) != 1:
                fail(node, self.unit, ".astype() needs its dtype", "write x.astype(np.float64) or x.astype(int)")
            copy = node.args[4:5] + [k.value for k in node.keywords if k.arg == "copy"]
            if copy and not (isinstance(copy[0], gast.Constant) and isinstance(copy[0].value, bool)):
                fail(node, self.unit, ".astype(copy=...) with a value known only at run time",
                     "write copy=True or copy=False")
            if copy and copy[0].value is False:   # x itself where it has the dtype already, as np.asarray(x, dtype)
                base = copy_loc(gast.Call(func=dotted("np.asarray"), args=[base], keywords=[]), node)
                return self._cast(base, given[0], node, copy=False)
            return self._cast(base, given[0], node)
        args = [self.visit(a) for a in node.args]
        keywords = [self.visit(k) for k in node.keywords]
        if m == "view":     # x.view(): a new name for x's memory, as `y = x` (h30b)
            if args or keywords:
                fail(node, self.unit, f"{self._text(node)}: .view() with a dtype or type reinterprets the array's "
                                      "bytes, which has no derivative",
                     "write x.view() (the same memory, no argument), or cast the values: x.astype(np.float32)")
            return base
        if m == "item" and not args and not keywords:     # the number an array of one element holds, of any rank
            return copy_loc(gast.Call(func=dotted("rt.item"), args=[base], keywords=[]), node)
        if m not in METHODS:
            if m in ("append", "pop"):
                fail(node, self.unit, f"method .{m}() is not supported: lists are not differentiated in reverse mode",
                     "if this is a srcdiff gradient's stack (its loops push values), differentiate the "
                     "gradient in forward mode instead: srcdiff.hvp, srcdiff.hessian or srcdiff.jvp(grad)")
            if callable(getattr(np.random.Generator, m, None)) and not callable(getattr(np, m, None)):
                fail(node, self.unit, f"method .{m}() is not supported: a random draw (a generator's .{m}()) inside "
                                      "the function you differentiate", _DRAW_OUTSIDE)
            if m in _DICT_READS and isinstance(func.value, gast.Name):
                self._decline_dict_read(node, func.value.id, m)
            fail(node, self.unit, f"method .{m}() is not supported",
                 f"use the NumPy function np.{m}(x, ...) instead" if callable(getattr(np, m, None)) else
                 "compute it with NumPy functions, or register a rule for a function of yours (srcdiff.adjoint)")
        target = METHODS[m]
        if m == "diagonal":   # x.diagonal(offset=k) is np.diag(x, k) (of a matrix)
            for kw in keywords:
                kw.arg = "k" if kw.arg == "offset" else kw.arg
        if m == "reshape" and len(args) > 1:
            args = [gast.Tuple(elts=args, ctx=gast.Load())]
        if m == "transpose" and args:
            elts = args if len(args) > 1 else args
            axes = gast.Tuple(elts=elts, ctx=gast.Load()) if len(args) > 1 else args[0]
            return copy_loc(gast.Call(func=dotted("rt.transpose"), args=[base, axes], keywords=[]), node)
        out = copy_loc(gast.Call(func=dotted(target), args=[base] + args, keywords=keywords), node)
        if (keywords or args) and target.startswith("np."):   # x.clip(min=0.0), x.ravel("F"): NumPy's parameters
            out = self._rule_arguments(out, getattr(np, target[3:], None), f".{m}")
        if m == "flatten":   # always a copy (x.ravel() is x's memory where it can be): np.copy(np.ravel(x)), else a
            # write into the result wrote into x (jvp's value 4.245 for 4.6; reverse mode declined it as a view)
            out = copy_loc(gast.Call(func=dotted("np.copy"), args=[out], keywords=[]), node)
        return out

    def _decline_dict_read(self, node, name, m):
        """`d.get("W", 0.0)` (`.items()`, ...) of a name that is no dict argument (flatten reads those, and copies of
        them made here, before this pass). Where `d` is bound to what a function of the user's returns (`d =
        make(params)`), that is said, with what works instead: a dict a function returns is not read at all
        (`d["W"]` is declined at the helper's return)."""
        calls = [n.value for n in walk(self.unit.node) if isinstance(n, gast.Assign) and isinstance(n.value, gast.Call)
                 and isinstance(n.value.func, gast.Name) and any(isinstance(t, gast.Name) and t.id == name
                                                                for t in n.targets)]
        helper = next((c for c in calls if c.func.id in self.unit.callees or
                       is_user_function(self.unit.namespace.get(c.func.id))), None)
        shown = _as_written(self.unit, node, f"{name}.{m}(...)")
        key = _as_written(self.unit, node, '"W"', lambda c: c.args[0] if m == "get" and c.args else None)
        if helper is not None:
            fn = helper.func.id
            given = _as_written(self.unit, helper, "params", lambda c: c.args[0] if c.args else None)
            fail(node, self.unit, f"`{shown}` of the dict `{name}` that your function `{fn}` returns (line "
                                  f"{helper.lineno}): srcdiff reads a dict's items only of a dict argument or of a copy "
                                  f"of one made in the function differentiated, not of a dict a function returns",
                 f"have `{fn}` return a tuple of the values (`W, b = {fn}({given})`), or make the dict here from "
                 f"the argument (`{name} = dict({given}, W=...)`), where `{name}[{key}]` and "
                 f"`{name}.get({key}, 0.0)` work")
        fail(node, self.unit, f"`{shown}`: `{name}` is not a dict argument or a copy of one made in this function "
                              f"(srcdiff reads .{m}() of those only)",
             f"pass the dict in as an argument (gradients with respect to it come back as a dict), or make a copy of "
             f"one here (`{name} = dict(params)`)")

    def _dtype(self, e):
        """(kind, expression) of a dtype argument: kind "f", "i" or "b" and the NumPy type (np.float32,
        np.int64, np.bool_) where it is known here (int, float, bool, NumPy types, dtype strings), else
        (None, the expression as resolved): x.dtype or a local name, known at run time."""
        if isinstance(e, gast.Constant) and isinstance(e.value, str):
            obj = e.value
        else:
            obj = self._lookup(e)
            if obj is _MISSING:
                return None, self.visit(e)
        try:
            dt = np.dtype(obj)
        except TypeError:
            fail(e, self.unit, f"{self._text(e)} is not a dtype", "pass a NumPy type (np.float64, np.int64) or int/float/bool")
        if dt.kind not in "fiub":
            fail(e, self.unit, f"a cast to {dt} is not supported (srcdiff differentiates real floats, and passes "
                               "integers and booleans through)", "cast to a float, integer or boolean dtype")
        kind = "f" if dt.kind == "f" else "b" if dt.kind == "b" else "i"
        return kind, copy_loc(dotted("np.bool_" if kind == "b" else f"np.{dt.name}"), e)

    def _dtype_argument(self, node, obj):
        """The dtype argument of a call of a function with a derivative (np.array(v, dtype=float),
        np.full(n, a, dtype=np.float32)), taken off the call; None if there is none. (Functions without
        one, np.zeros(n, dtype=int), keep theirs.)"""
        canon = rule_name_of(obj) if obj is not _MISSING else None
        canon = canon or (COMPOSITE_ALIASES.get(id(obj)) if obj is not _MISSING else None)
        if canon is None or (canon in RULES and RULES[canon].nondiff):
            return None
        if canon not in _DTYPE_IS_A_CAST:   # np.sum(x, dtype=int) casts each term, not the result: declined
            return None                     # (_rule_arguments) rather than cast afterwards
        for k, kw in enumerate(node.keywords):
            if kw.arg == "dtype":
                del node.keywords[k]
                return None if isinstance(kw.value, gast.Constant) and kw.value.value is None else kw.value
        if obj in (np.array, np.asarray, np.ascontiguousarray, np.asfortranarray) and len(node.args) == 2:
            dtype = node.args.pop()
            return None if isinstance(dtype, gast.Constant) and dtype.value is None else dtype
        return None

    def _cast(self, x, dtype, node, copy=True):
        """x cast to `dtype`: rt.cast (no derivative) to an integer or boolean dtype known here, else
        rt.astype (the derivative passes where the result is a float: runtime/casts.py). `copy` False: x itself
        where it has the dtype already (`x.astype(t, copy=False)`, `np.asarray(x, dtype=t)`), as NumPy gives it, so
        that a write into the result writes into x (the generated code's copy left x as it was: jvp's value
        2.19 for 1.835, h24a)."""
        kind, expr = self._dtype(dtype)
        fname = "rt.cast" if kind in ("i", "b") else "rt.astype"
        args = [x, expr] if copy else [x, expr, const(False)]
        return copy_loc(gast.Call(func=dotted(fname), args=args, keywords=[]), node)

    def _decline_field_of_a_returned_value(self, node):
        """`s2.x` where `s2 = step(s, h)`, a function of the user's (a namedtuple it returns, `return
        s._replace(...)`): said so, with the fields to return instead (the message named no construct: "attribute
        .x of a local value", "only arrays' .T, ... can be read")."""
        if not isinstance(node.value, gast.Name):
            return
        name = node.value.id
        calls = [a.value.func.id for a in walk(self.unit.node) if isinstance(a, gast.Assign)
                 and any(isinstance(t, gast.Name) and t.id == name for t in a.targets)
                 and isinstance(a.value, gast.Call) and isinstance(a.value.func, gast.Name)]
        for f in calls:
            if f in (getattr(self.unit, "callees", None) or {}) or isinstance(self.unit.namespace.get(f),
                                                                              pytypes.FunctionType):
                fail(node, self.unit, f"`{name}.{node.attr}` of `{name}`, the value your function `{f}` returns, "
                                      "which is no namedtuple srcdiff knows the class of when it compiles (it reads "
                                      "the fields of namedtuple arguments, of namedtuples made in the function that "
                                      "reads them, State(...), s._replace(...), and of those a function of yours "
                                      "returns made so on every path)",
                     f"have `{f}` return a namedtuple on every path (`return State(x, v)`, `return s._replace(x=...)`), "
                     f"or return the fields (`return x, v`) and unpack them here (`x, v = {f}(...)`)")

    def visit_Attribute(self, node):
        obj = self._lookup(node)
        if obj is _MISSING:  # attribute of a local value
            node.value = self.visit(node.value)
            if node.attr == "T":
                return copy_loc(gast.Call(func=dotted("np.transpose"), args=[node.value], keywords=[]), node)
            if node.attr == "mT":   # (NumPy 2: the last two axes swapped, a view)
                return copy_loc(gast.Call(func=dotted("np.swapaxes"), args=[node.value, const(-1), const(-2)],
                                          keywords=[]), node)
            if node.attr in ("real", "imag") and isinstance(node.ctx, gast.Load):
                # (of a real array or number: .real is x itself, NumPy's same object; .imag zeros of its kind,
                # np.imag's: of a number a number, rt.zeros_like's, where np.zeros_like would make a 0-d array)
                if node.attr == "real":
                    return node.value
                zeros = copy_loc(gast.Call(func=dotted("rt.zeros_like"), args=[node.value], keywords=[]), node)
                anno.set(zeros, anno.READ_ONLY)     # (NumPy's is read-only: kind_rewrites declines a write into it)
                return zeros
            if node.attr in ARRAY_ATTRS:
                return node
            self._decline_field_of_a_returned_value(node)
            fail(node, self.unit, f"attribute .{node.attr} of a local value is not supported",
                 "only arrays' .T, .mT, .real, .imag, .shape, .ndim, .size, .dtype can be read in differentiated code")
        if isinstance(obj, list):
            obj = self._list_constant(node, obj, self._text(node))
        if _is_constant(obj):
            return self._bind_constant(node, obj)
        if isinstance(obj, pytypes.ModuleType):
            fail(node, self.unit, f"module {obj.__name__} used as a value")
        if _is_type_value(obj):
            return self._dtype(node)[1]
        return self._callable_name(node, obj)

    def _item(self, node):
        """The object `CONFIG["lam"]` names: an item, at constant keys, of a module-level or closure dict, list or
        tuple (nested: `CONFIG["sizes"][0]`); _MISSING where `node` is not one."""
        if not (isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Load)):
            return _MISSING
        base = self._item(node.value) if isinstance(node.value, gast.Subscript) else self._lookup(node.value)
        if not isinstance(base, (dict, list, tuple)):
            return _MISSING
        key = node.slice.value if isinstance(node.slice, gast.Constant) else literal_value(node.slice)
        if key is NOT_LITERAL or isinstance(key, (float, bool)):
            return _MISSING
        try:
            return base[key]
        except (KeyError, IndexError, TypeError):
            fail(node, self.unit, f"{self._text(node)}: no item {key!r} in {type(base).__name__} "
                                  f"{self._text(node.value)}")

    def visit_Subscript(self, node):
        item = self._item(node)
        if isinstance(item, list):      # CONFIG["weights"] used whole: the array of it, as a module-level list's
            item = self._list_constant(node, item, self._text(node))
        if item is not _MISSING and (_is_constant(item) or isinstance(item, str)):
            # CONFIG["lam"] of a module-level dict: its value, compiled in as any global's (README: Captured values)
            return self._bind_constant(node, item)
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        if isinstance(node.op, (gast.Add, gast.Mult)):
            for side in (node.left, node.right):
                obj = self._item(side) if isinstance(side, gast.Subscript) else self._lookup(side)
                if isinstance(obj, list):
                    # (compiled in as an array, the list would add or multiply item by item: silently wrong)
                    fail(node, self.unit, f"{self._text(node)}: the module-level list {self._text(side)} in a "
                                          f"{'+' if isinstance(node.op, gast.Add) else '*'}, which Python reads as a "
                                          "list's concatenation or repetition (srcdiff compiles the list in as the "
                                          "array of it)",
                         f"build the list you mean at module level, or write np.array({self._text(side)}) for "
                         "arithmetic on its items")
        return self.generic_visit(node)

    def visit_Name(self, node):
        if not isinstance(node.ctx, gast.Load) or node.id in self.locals:
            return node
        if node.id in self.unit.callees:
            fail(node, self.unit, f"function {node.id!r} used as a value", "call it directly")
        obj = self.unit.namespace.get(node.id, _MISSING)
        if obj is _MISSING:
            fail(node, self.unit, f"name {node.id!r} is not defined")
        if isinstance(obj, list):
            obj = self._list_constant(node, obj, node.id)
        if _is_constant(obj):
            return self._bind_constant(node, obj)
        if isinstance(obj, pytypes.ModuleType):
            fail(node, self.unit, f"module {node.id} used as a value")
        if _is_type_value(obj):
            return self._dtype(node)[1]
        if isinstance(obj, (dict, set, str)):   # (a list is _list_constant's)
            fail(node, self.unit, f"the module-level {type(obj).__name__} {node.id} used as a value: srcdiff compiles "
                                  "in the numbers, arrays and tuples of them that a function reads, and items of a "
                                  "dict, list or tuple read at constant keys (CONFIG[\"lam\"])",
                 f"read its items at constant keys ({node.id}[...]), or pass it in as an argument"
                 + (" (a tuple or list of arrays and floats is differentiated item by item)"
                    if isinstance(obj, dict) else ""))
        return self._callable_name(node, obj)

    def visit_Assign(self, node):
        for t in node.targets:
            base = t
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if base is not t and isinstance(base, gast.Name):
                _decline_module_level_write(node, self.unit, base.id, "an in-place write into", self.locals)
        return self.generic_visit(node)

    def visit_Lambda(self, node):
        fail(node, self.unit, "a lambda used as a value inside a differentiated function",
             "assign it to a name (f = lambda v: ...) and call it, or use a nested def")

    def visit_FunctionDef(self, node):
        if node is self.unit.node:
            self.generic_visit(node)
            return node
        fail(node, self.unit, "nested def left after closure lifting")


def _decline_module_level_write(node, unit, name: str, what: str, local: set) -> None:
    """Decline a write into a module-level array, list or dict (an item written, or a method that changes it
    called) where `name` is no local of the function: the globals a function reads are compiled in as read-only
    values, so Python's change of the global would be lost (an array's write failed at run time, a list's
    `.append` reached the generated code)."""
    obj = unit.namespace.get(name) if name not in local else None
    kinds = [(np.ndarray, "array"), (list, "list"), (dict, "dict")]
    kind = next((k for t, k in kinds if isinstance(obj, t)), None)
    if kind is not None:
        copy = f"list({name})" if kind == "list" else f"{name}.copy()"
        fail(node, unit, f"{what} the module-level {kind} {name}: srcdiff compiles the globals a function reads in "
                         "as read-only values (README: Captured values)",
             f"write into a copy ({name.lower()} = {copy}), or pass the {kind} in as an argument")


# methods that change a list, a dict or an array in place (a module-level one's is declined)
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update",
                       "popitem", "setdefault", "fill", "put", "resize", "itemset", "partition"})


_DICT_READS = ("get", "items", "values", "keys")   # a dict's reads that flatten takes of a dict argument


def _source(node) -> str:
    """`node` as the user wrote it (near enough: gast's unparse), for a decline's message."""
    return ast.unparse(gast.gast_to_ast(copy.deepcopy(node)))


def _as_written(unit, node, otherwise: str, part=lambda c: c) -> str:
    """The user's text of the call `node` (of `part` of it), read from their line (flatten has replaced a dict
    argument's name by its items' by now), else `otherwise`."""
    try:
        line = ast.parse((unit.source_line(node.lineno) or "").strip())
    except (SyntaxError, TypeError, ValueError):
        return otherwise
    for c in ast.walk(line):
        if isinstance(c, ast.Call) and ast.unparse(c.func) == _source(node.func):
            got = part(c)
            return ast.get_source_segment(unit.source_line(node.lineno).strip(), got) if got is not None \
                else otherwise
    return otherwise


def _is_type_value(obj) -> bool:
    """A scalar type used as a value, not called (`t = np.float64`, then `x.astype(t)`; generated code's ANF
    names a cast's dtype so): it stays the NumPy type (`np.float64`), which Numba takes as a dtype where the
    builtin `float` a call becomes is not one."""
    return isinstance(obj, type) and (issubclass(obj, np.generic) or obj in (float, int, bool))


def _is_none(e) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


def resolve(unit):
    """Rewrite unit.node in place so that every free name is canonical; returns the unit."""
    _Resolver(unit).visit(unit.node)
    return unit
