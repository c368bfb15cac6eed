"""Generated code calls the compiled runtime kernels by their symbols instead of compiling them again.

Numba links the LLVM IR of every compiled function a function calls into that function's module, then
runs LLVM's -O3 pipeline and code generation over the whole module. srcdiff's kernels (products,
reductions, broadcasting and their adjoints; Numba's own np.empty, np.sum, ...) are compiled once per
installation and loaded from the runtime cache (_cache.py), but each generated gradient that called them
optimised and compiled their IR again inside its own module: 3.4 s of the 8.5 s CPU of the MLP
example's cold first call (measured with Numba's IR linked into nothing: 5.1 s).

Generated functions are compiled with `Compiler` (backends._njit's pipeline_class), whose code library
(`LinkedLibrary`) does not link kernels: a call of one stays a call of the machine code the process has
already loaded. Kernels are the runtime-cached implementations (`mark`: the runtime cache loaded or saved
them) that take more than numbers; those of numbers alone are still linked, to be inlined into loops, as
is everything else.

Numba's disk cache stores a function's machine code, which now refers to those kernels by symbol: the
generated function's cache entry carries the kernels' own cache entries (their machine code) along
(serialised kind `KIND`), and loading it loads each kernel the process has not loaded yet before it.
Like every Numba cache entry, they are named by Numba's mangled names (qualified name, argument types, a
counter); the runtime keeps its implementations' qualified names distinct (_typing.own).

The parts of a large generated function (transforms/function_parts.py: its loops moved into functions of their
own, so that LLVM optimises each apart) are called the same way (`called_by_symbol`): linked, a part's IR would be
optimised again, whole, inside its caller's module. A caller's cache entry carries each part's own entry (its
machine code and the kernels it calls: serialised kind `KIND`), loaded before the caller's.
"""
import weakref

from numba.core import codegen as _codegen, compiler as _compiler, types

KIND = "srcdiff-linked"

_STATES = weakref.WeakKeyDictionary()    # library loaded from the disk cache -> its serialised state
_KERNELS = weakref.WeakKeyDictionary()   # kernel library -> its serialised state (Numba's "object" kind)
_CALLS = weakref.WeakKeyDictionary()     # generated function's library -> the kernel libraries it calls
_PARTS = weakref.WeakSet()               # libraries of the parts of large generated functions (called_by_symbol)
_CARRIED = weakref.WeakKeyDictionary()   # library loaded from its `KIND` entry -> that entry

_numba_unserialize = _codegen.JITCodeLibrary._unserialize.__func__


def _unserialize(cls, codegen, state):
    """Numba's library loading, which also keeps the state of what it loaded (a kernel's machine code is
    handed to the engine and dropped by the library: a generated function that calls it carries it on),
    and loads `KIND`: the kernels first, then the function."""
    name, kind, data = state
    if kind != KIND:
        library = _numba_unserialize(cls, codegen, state)
        if kind == "object":
            _STATES[library] = state
        return library
    own, kernels = data
    engine = codegen._engine
    held = []
    for needed, kernel_state in kernels:
        if not all(engine.is_symbol_defined(n) for n in needed):
            held.append(codegen.unserialize_library(kernel_state))
    library = _numba_unserialize(cls, codegen, (name, "object", own))
    _STATES[library] = (name, "object", own)
    _CARRIED[library] = state
    _CALLS[library] = held    # (kept alive with the function that calls them)
    return library


_codegen.JITCodeLibrary._unserialize = classmethod(_unserialize)


def mark(library, sig) -> None:
    """Record that `library`, the compiled code of a runtime-cached implementation for argument types
    `sig`, is a kernel generated code may call by symbol: one that takes more than numbers (an array, a
    shape, a dtype). One of numbers alone may be called for each element of a loop: it stays linked."""
    if all(isinstance(t, (types.Number, types.Boolean)) for t in sig):
        return
    state = _STATES.get(library)
    if state is None:
        try:
            state = library.serialize_using_object_code()
        except Exception:    # its machine code is not at hand: it stays linked
            return
    _KERNELS[library] = state


def called_by_symbol(dispatcher) -> None:
    """Generated functions calling `dispatcher` (a part of a large generated function) call its machine code by
    symbol, compiled or loaded from the disk cache, as they call the runtime's kernels (module docstring)."""
    plain = dispatcher.add_overload

    def add_overload(cres):
        _PARTS.add(cres.library)
        return plain(cres)
    dispatcher.add_overload = add_overload


def _entry(library):
    """The cache entry a caller of `library` carries: a part's own (`KIND`, with the kernels it calls), a kernel's."""
    if library in _PARTS:
        if isinstance(library, LinkedLibrary):
            return library.serialize_using_object_code()
        return _CARRIED.get(library) or _STATES.get(library)
    return _KERNELS.get(library) or _STATES.get(library)


def _defined(module) -> set:
    return {fn.name for fn in module.functions if not fn.is_declaration}


class LinkedLibrary(_codegen.JITCodeLibrary):
    """A generated function's code library: kernels are called by symbol, not linked (module docstring)."""

    def add_linking_library(self, library):
        if library in _KERNELS or library in _PARTS:
            library._ensure_finalized()
            calls = _CALLS.setdefault(self, [])
            if library not in calls:
                calls.append(library)
                self._reload_init.update(library._reload_init)
            return
        super().add_linking_library(library)
        for kernel in _CALLS.get(library, ()):   # a generated function that calls another: its kernels too
            self.add_linking_library(kernel)

    def _optimize_functions(self, ll_module):
        """Numba's function-level passes over the functions `ll_module` defines, with one pass manager. Numba
        made a pass manager for each function of the module, declarations included, which the passes leave
        as they are: a generated function's module declares every kernel and helper it calls (58 functions,
        3 defined, for the Elman RNN of benchmarks/first_call.py), and making those managers was 0.12 s of
        its 1.0 s cold first call. The optimised IR is the same."""
        ll_module.data_layout = self._codegen._data_layout
        made = self._codegen._function_pass_manager()
        if not isinstance(made, tuple):     # (another Numba's pass managers: its own way)
            return super()._optimize_functions(ll_module)
        fpm, pb = made
        for func in ll_module.functions:
            if not func.is_declaration:
                with self._recorded_timings.record(f"Function passes on {func.name!r}", pb):
                    fpm.run(func, pb)

    def _verify_declare_only_symbols(self):
        # as Numba's CPUCodeLibrary check: "_ZN5numba" is the mangled prefix of Numba's own symbols
        engine = self._codegen._engine
        for fn in self._final_module.functions:
            if fn.is_declaration and fn.name.startswith("_ZN5numba") and not engine.is_symbol_defined(fn.name):
                raise AssertionError(f"Symbol {fn.name} not linked properly")

    def serialize_using_object_code(self):
        name, kind, own = super().serialize_using_object_code()
        declared = {fn.name for fn in self._final_module.functions if fn.is_declaration}
        kernels = []
        for kernel in _CALLS.get(self, ()):
            state = _entry(kernel)
            if state is None:
                raise RuntimeError(f"srcdiff: the machine code of {kernel.name}, which {name} calls, is not at hand")
            shared = kernel._get_module_for_linking()
            kernels.append((sorted(declared & _defined(shared)), state))
        return name, KIND, (own, kernels)


class Compiler(_compiler.Compiler):
    """Numba's nopython pipeline, compiling into a LinkedLibrary."""

    def compile_extra(self, func):
        if self.state.library is None:
            self.state.library = LinkedLibrary(self.state.targetctx.codegen(), func.__qualname__)
            self.state.library.enable_object_caching()
        return super().compile_extra(func)
