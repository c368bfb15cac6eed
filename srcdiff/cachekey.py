"""What decides the code srcdiff generates for a call, hashed before generating it (issue 19.11).

The disk cache is found by a *spec key*: a hash of everything generation reads, computed without
generating, so that a process with a warm cache loads the compiled code straight away:

* srcdiff's own source (every module of the package) and the versions of Python, NumPy, SciPy, Numba
  and gast (rule tables, `ast.unparse`);
* the transform's options (mode, wrt, backend, ...) and the call's specialisation (argument kinds,
  tuple structures, which axes have equal lengths), and Numba's bounds checking;
* every rule registered with `srcdiff.adjoint` in this process (templates, function, the names the
  templates read);
* the user's function and everything it reaches: its bytecode, constants and nested code, its file,
  first line and source lines (generated code quotes them in comments and error messages map back
  through them), its defaults, the values of the globals and closure cells it reads (canonically
  hashed, as backends.module_key does), and recursively the functions, modules and containers among
  them (code srcdiff generated too: its file's text and the values bound into it). NumPy functions and
  other primitives count by their rule name; library functions by name and code; srcdiff's own
  functions by name (their code is in the package hash), the globals they read and closure values.

Anything reachable that this walk cannot describe (an instance of a class, an object array) makes the
key None: such a function is generated as before, then found by its generated source's key.

A generated module is linked to values (global arrays, rule functions) that generation took from the
user's namespace. The cache index stores, for each, a *recipe*: the path from the user's function to
it (`("g", "W")`: the global W; `("c", "k")`: the closure cell k; `("a", "SCALE")`: an attribute of a
module...), followed again when the module is loaded without generating. backends.load_module then
checks the module's key over the file's text and these values, as if they had been generated.
"""
from __future__ import annotations

import hashlib
import inspect
import linecache
import os
import sys
import types

import numpy as np

from .cachedir import BOUNDSCHECK, is_generated_module, put_record

_PACKAGE_DIGEST = None


class Unfit(Exception):
    """Something reachable from the function that the spec key cannot describe."""


def package_digest() -> str:
    """Hash of srcdiff's own source files (once per process)."""
    global _PACKAGE_DIGEST
    if _PACKAGE_DIGEST is None:
        h = hashlib.sha256()
        root = os.path.dirname(os.path.abspath(__file__))
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with open(path, "rb") as fh:
                        put_record(h, os.path.relpath(path, root), fh.read())
        _PACKAGE_DIGEST = h.hexdigest()
    return _PACKAGE_DIGEST


def _versions() -> str:
    out = [sys.version]
    for name in ("numpy", "scipy", "numba", "gast"):
        mod = sys.modules.get(name)
        out.append(f"{name} {getattr(mod, '__version__', None)}")
    return "; ".join(out)


def spec_key(fn, options: dict, specialisation) -> str | None:
    """The cache key of `fn`'s generated code for these transform options and argument specialisation,
    or None when something `fn` reaches cannot be hashed faithfully (see the module docstring)."""
    h = hashlib.sha256()
    put_record(h, "spec", b"1")
    put_record(h, "srcdiff", package_digest().encode())
    put_record(h, "versions", _versions().encode())
    put_record(h, "boundscheck", str(BOUNDSCHECK).encode())
    put_record(h, "options", repr(sorted(options.items())).encode())
    put_record(h, "specialisation", repr(specialisation).encode())
    try:
        walker = _Walker(h)
        walker.user_rules()
        walker.value(fn)
    except (Unfit, RecursionError):
        return None
    return h.hexdigest()[:24]


# ---- the walk ------------------------------------------------------------------------------------------------
_ATOMS = (type(None), bool, int, float, complex, str, bytes, np.generic, range, slice, type(Ellipsis))
_BUILTIN_KINDS = (types.BuiltinFunctionType, types.BuiltinMethodType, np.ufunc, types.MethodWrapperType,
                  types.WrapperDescriptorType, types.MethodDescriptorType)


def _code_names(code) -> list:
    """Names a code object and the code nested in it read as globals or attributes."""
    out = list(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out += _code_names(c)
    return out


def _last_line(code) -> int:
    last = code.co_firstlineno
    for c in [code] + [c for c in code.co_consts if isinstance(c, types.CodeType)]:
        for _, _, line in c.co_lines():
            if line is not None and line > last:
                last = line
        if c is not code:
            last = max(last, _last_line(c))
    return last


def _library(fn) -> bool:
    from .transforms.resolve import is_user_function
    return not is_user_function(fn)


class _Walker:
    def __init__(self, h):
        self.h = h
        self.seen: dict = {}        # id -> order of first visit (a cycle records the back-reference)
        self.keep: list = []        # what was seen stays alive, so ids stay unique

    def put(self, tag: str, payload) -> None:
        put_record(self.h, tag, payload if isinstance(payload, bytes) else str(payload).encode())

    def user_rules(self) -> None:
        """Every rule registered with srcdiff.adjoint in this process (a rule is found by its name, which
        a user's rule could take over)."""
        from .rules import RULES, objects_of
        from .transforms.astutil import names_in
        import gast
        user = sorted(name for name, rule in RULES.items() if rule.namespace)
        self.put("rules", len(user))
        for name in user:
            rule = RULES[name]
            self.put("rule", name)
            self.put("signature", rule.signature)
            read = set()
            for p, tpl in sorted(rule.vjp.items()):
                text = gast.dump(tpl) if isinstance(tpl, gast.AST) else repr(tpl)
                self.put("vjp", f"{p}: {text}")
                if isinstance(tpl, gast.AST):
                    read |= names_in(tpl)
            self.put("jvp", gast.dump(rule.jvp) if rule.jvp is not None else "")
            if rule.jvp is not None:
                read |= names_in(rule.jvp)
            self.put("flags", f"{rule.nondiff} {rule.variadic}")
            for obj in objects_of(name):
                self.function(getattr(obj, "py_func", obj), full=True)
            for n in sorted(read & set(rule.namespace)):
                self.put("reads", n)
                self.value(rule.namespace[n])

    def value(self, obj, names=()) -> None:
        """Feed `obj` to the hash; `names`: the globals and attributes the code that reaches it reads (which
        attributes of a module count)."""
        if isinstance(obj, _ATOMS):
            self.put(type(obj).__qualname__, repr(obj))
            if isinstance(obj, np.generic):
                self.put("dtype", obj.dtype.str)
            return
        if isinstance(obj, types.ModuleType):
            self.module(obj, names, ())
            return
        if id(obj) in self.seen:
            self.put("seen", self.seen[id(obj)])
            return
        self.seen[id(obj)] = len(self.seen)
        self.keep.append(obj)
        from .rules import rule_name_of
        try:
            canon = rule_name_of(obj)
        except TypeError:
            canon = None
        if canon is not None:           # a primitive: generation uses its rule (srcdiff's source, or a user
            self.put("rule", canon)     # rule hashed in user_rules)
            return
        alias = _alias(obj)
        if alias is not None:
            self.put("alias", alias)
            return
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise Unfit("an object array")
            self.put("ndarray", f"{obj.dtype.str} {obj.shape}")
            self.put("data", np.ascontiguousarray(obj).tobytes())
        elif isinstance(obj, np.dtype):
            self.put("np.dtype", obj.str)
        elif isinstance(obj, (tuple, list)):
            self.put(type(obj).__qualname__, len(obj))
            for o in obj:
                self.value(o, names)
        elif isinstance(obj, (set, frozenset)):
            if not all(isinstance(o, _ATOMS) for o in obj):
                raise Unfit("a set of objects")
            self.put(type(obj).__qualname__, len(obj))
            for o in sorted(obj, key=repr):
                self.value(o)
        elif type(obj) is dict:
            if not all(isinstance(k, _ATOMS) for k in obj):
                raise Unfit("a dict keyed by objects")
            self.put("dict", len(obj))
            for k in sorted(obj, key=repr):
                self.value(k)
                self.value(obj[k], names)
        elif hasattr(obj, "py_func") and inspect.isfunction(obj.py_func):   # a Numba dispatcher
            self.put("dispatcher", "")
            self.value(obj.py_func, names)
        elif inspect.isfunction(obj):
            self.function(obj)
        elif isinstance(obj, _BUILTIN_KINDS) or type(obj).__name__ == "_ArrayFunctionDispatcher":
            self.put("builtin", f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', None)}")
        elif isinstance(obj, type):
            self.put("type", f"{obj.__module__}.{obj.__qualname__}")
        else:
            self.transform(obj)

    def transform(self, obj) -> None:
        """srcdiff.grad(...) objects called in the function: their function and options."""
        identity = getattr(type(obj), "cache_identity", None)    # api.Transformed, api.Differentiated
        if identity is None:
            raise Unfit(f"a {type(obj).__qualname__} object")
        self.put(*identity(obj))
        self.value(obj.f)

    def module(self, mod, names, path) -> None:
        """A module, by name and the values of the attributes the code reads (`cfg.SCALE`)."""
        self.put("module", mod.__name__)
        if id(mod) in path:
            return
        for n in sorted(set(names)):
            if n in mod.__dict__:
                v = mod.__dict__[n]
                self.put("attr", n)
                if isinstance(v, types.ModuleType):
                    self.module(v, names, path + (id(mod),))
                else:
                    self.value(v, names)

    def function(self, fn, full=False) -> None:
        code = fn.__code__
        self.put("fn", f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', '')}")
        module = getattr(fn, "__module__", "") or ""
        own = module.split(".")[0] == "srcdiff" and not full   # its code is in the package's hash
        if not own and not full and not is_generated_module(module) and _library(fn):
            self.code(code)             # a library's function: generation does not read it
            self.put("file", code.co_filename)
            return
        if not own:
            self.code(code)
            self.source(code)
        names = _code_names(code)
        self.put("defaults", "")
        self.value(fn.__defaults__)
        self.value(fn.__kwdefaults__)
        glob = fn.__globals__
        for n in sorted(set(names)):
            if n in glob:
                self.put("global", n)
                self.value(glob[n], names)
        for n, cell in zip(code.co_freevars, fn.__closure__ or ()):
            self.put("cell", n)
            try:
                self.value(cell.cell_contents, names)
            except ValueError:
                self.put("empty", "")

    def code(self, code) -> None:
        self.put("code", code.co_code)
        self.put("names", repr((code.co_name, code.co_names, code.co_varnames, code.co_freevars,
                                code.co_cellvars, code.co_argcount, code.co_kwonlyargcount)))
        self.put("consts", len(code.co_consts))
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                self.code(c)
            else:
                self.value(c)

    def source(self, code) -> None:
        """The function's file, first line and text, as the parser reads them now."""
        path = code.co_filename
        linecache.checkcache(path)
        lines = linecache.getlines(path)
        first, last = code.co_firstlineno, _last_line(code)
        self.put("file", f"{path}:{first}")
        self.put("text", "".join(lines[first - 1:last]))


def _alias(obj):
    from .rules.numpy_rules import BUILTIN_ALIASES
    from .rules.composites import ALIASES as COMPOSITE_ALIASES
    return BUILTIN_ALIASES.get(id(obj)) or COMPOSITE_ALIASES.get(id(obj))


# ---- recipes: where a module's bound values come from ----------------------------------------------------------
def _steps(obj, names):
    """(step, child, names the child's readers use) for the objects `obj` leads to."""
    fn = obj
    if hasattr(obj, "py_func") and inspect.isfunction(obj.py_func):
        yield ("py_func",), obj.py_func, names
        return
    if inspect.isfunction(fn):
        code = fn.__code__
        inner = _code_names(code)
        glob = fn.__globals__
        for n in sorted(set(inner)):
            if n in glob:
                yield ("g", n), glob[n], inner
        for n, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                yield ("c", n), cell.cell_contents, inner
            except ValueError:
                pass
        for k, d in enumerate(fn.__defaults__ or ()):
            yield ("d", k), d, inner
        for n, d in sorted((fn.__kwdefaults__ or {}).items()):
            yield ("k", n), d, inner
    elif isinstance(obj, types.ModuleType):
        for n in sorted(set(names)):
            if n in obj.__dict__:
                yield ("a", n), obj.__dict__[n], names
    elif isinstance(obj, (tuple, list)):
        for k, o in enumerate(obj):
            yield ("i", k), o, names
    elif type(obj) is dict:
        for k in sorted((k for k in obj if isinstance(k, str))):
            yield ("v", k), obj[k], names
    elif type(obj).__name__ in ("Transformed", "Differentiated") and hasattr(obj, "f"):
        yield ("f",), obj.f, names


def recipes(root, bindings: dict):
    """{binding name: path of steps from `root` to its object}, found breadth first; None when one
    cannot be reached (the module is then only found by its generated source)."""
    wanted = {id(v): k for k, v in bindings.items()}
    found: dict = {}
    todo = [(root, (), ())]
    seen = {id(root)}
    for obj, path, names in todo:
        if id(obj) in wanted:
            for k, v in bindings.items():
                if v is obj and k not in found:
                    found[k] = [list(s) for s in path]
            if len(found) == len(bindings):
                break
        for step, child, child_names in _steps(obj, names):
            if id(child) not in seen and not isinstance(child, _ATOMS):
                seen.add(id(child))
                todo.append((child, path + (step,), child_names))
        if len(todo) > 100000:
            return None
    return found if len(found) == len(bindings) else None


MISSING = object()


def follow(root, path):
    """The object at the end of a recipe's path from `root`, or MISSING."""
    obj = root
    try:
        for step in path:
            kind = step[0]
            if kind == "py_func":
                obj = obj.py_func
            elif kind == "g":
                obj = obj.__globals__[step[1]]
            elif kind == "c":
                obj = obj.__closure__[obj.__code__.co_freevars.index(step[1])].cell_contents
            elif kind == "d":
                obj = obj.__defaults__[step[1]]
            elif kind == "k":
                obj = obj.__kwdefaults__[step[1]]
            elif kind == "a":
                obj = obj.__dict__[step[1]]
            elif kind in ("i", "v"):
                obj = obj[step[1]]
            elif kind == "f":
                obj = obj.f
            else:
                return MISSING
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return MISSING
    return obj
