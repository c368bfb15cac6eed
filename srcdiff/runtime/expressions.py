"""Elementwise array expressions of jitted generated code, compiled once per installation.

Numba compiles each array expression (`d_h * (1.0 - h * h)` of arrays) inside the function that holds
it: a loop nest over broadcast operands that LLVM then vectorises, two thirds of the MLP example's cold
first call (its gradient holds 14). Jitted generated code writes such an expression as
`rt.elementwise("a * (1.0 - b * b)", (d_h, h))` (transforms/elementwise.py): the expression's text over
parameters a, b, c, ... (the arguments, in order), so that every function with the same expression, or
the same function edited, shares one kernel. The kernel is a function of a file of its own in the
runtime cache directory, which Numba caches like the runtime's kernels (_cache.py) and generated code
calls by symbol (_linking.py): compiled once per expression and argument types on an installation.

An augmented assignment, `d_W = rt.elementwise("a += b * c", (d_W, s, W))`, is a kernel that adds into
its first argument and returns it, as `d_W += s * W` does (into an array, in place; a number, anew). In plain Python the text is
evaluated with the arguments (the Python backend never writes these calls: they are for Numba).
"""
import ast
import hashlib
import os
import sys
import types as types_module

import numpy as np
from numba.core import cgutils, types
from numba.core.imputils import lower_builtin
from numba.core.typing.templates import AbstractTemplate, infer_global, signature

from ._cache import cache_kernels_in, cached_jit_function, runtime_folder

PARAMETERS = "abcdefghijklmnopqrstuvwxyz"

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod, ast.USub, ast.UAdd,
              ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq)
_NODES = (ast.Expression, ast.Module, ast.AugAssign, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Name,
          ast.Load, ast.Store, ast.Constant) + _OPERATORS


def is_ufunc(name: str) -> bool:
    """`np.<name>` is a NumPy ufunc (elementwise: it may be part of a kernel's expression)."""
    return isinstance(getattr(np, name, None), np.ufunc)


def _ufunc_call(node) -> bool:
    f = node.func
    return (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "np"
            and is_ufunc(f.attr) and not node.keywords)


def parse(text: str):
    """The tree of `text` (an expression, or `a <op>= expression`) and how many parameters it reads;
    ValueError for anything else (operators, comparisons, NumPy ufuncs, numbers and parameters a, b, ...
    only)."""
    augmented = "=" in text.replace("==", "").replace("!=", "").replace(">=", "").replace("<=", "")
    tree = ast.parse(text, mode="exec" if augmented else "eval")
    if augmented and not (len(tree.body) == 1 and isinstance(tree.body[0], ast.AugAssign)
                          and isinstance(tree.body[0].target, ast.Name) and tree.body[0].target.id == "a"):
        raise ValueError(f"rt.elementwise: {text!r} is not `a <op>= expression`")
    names, functions = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not _ufunc_call(node):
                raise ValueError(f"rt.elementwise: {text!r} calls what is not a NumPy ufunc")
            functions.add(id(node.func))
            continue
        if id(node) in functions or isinstance(node, ast.Name) and node.id == "np":
            continue
        if not isinstance(node, _NODES) or isinstance(node, ast.Constant) and type(node.value) not in (int, float, bool):
            raise ValueError(f"rt.elementwise: {text!r} holds {type(node).__name__}, not an elementwise expression")
        if isinstance(node, ast.Name) and node.id not in names:
            names.append(node.id)
    if sorted(names) != list(PARAMETERS[:len(names)]):
        raise ValueError(f"rt.elementwise: {text!r} reads other names than the parameters a, b, ...")
    return tree, len(names), augmented


_PYTHON = {}


def elementwise(text, args):
    """The value of expression `text` for parameters a, b, ... = the tuple `args` (after `a <op>= ...`,
    the value of a: an array written into, or a new number)."""
    code = _PYTHON.get(text)
    if code is None:
        tree, n, augmented = parse(text)
        code = _PYTHON[text] = (compile(tree, "<rt.elementwise>", "exec" if augmented else "eval"), n, augmented)
    compiled, n, augmented = code
    if len(args) != n:
        raise TypeError(f"rt.elementwise({text!r}) takes {n} arguments, not {len(args)}")
    env = dict(zip(PARAMETERS, args))
    if augmented:
        exec(compiled, {"__builtins__": {}, "np": np}, env)
        return env["a"]
    return eval(compiled, {"__builtins__": {}, "np": np}, env)


def kernel_source(text: str) -> str:
    """The module of `text`'s kernel: one function, `kernel`, of its parameters. An augmented one first checks
    that each operand broadcasts to its target's shape (shapes.fits; NumPy's ValueError where not): Numba's
    in-place operators do not, and read past an operand's end or repeat its rows instead (numba 0.68:
    `zeros(3) += ones(2)` gives [1, 1, 5e-324]), so a shape error in jitted code would be a wrong value."""
    _, n, augmented = parse(text)
    checks = "".join(f"if not fits({p}, a.shape):\n        raise ValueError('operands could not be broadcast "
                     f"together')\n    " for p in PARAMETERS[1:n])
    body = f"{checks}{text}\n    return a" if augmented else f"return {text}"
    return (f'"""srcdiff elementwise kernel (srcdiff/runtime/expressions.py): {text}"""\n'
            "import numpy as np\n" + ("from srcdiff.runtime.shapes import fits\n" if augmented else "") + "\n\n"
            f"def kernel({', '.join(PARAMETERS[:n])}):\n    {body}\n")


def _folder() -> str:
    folder = os.path.join(runtime_folder(), "elementwise")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    cache_kernels_in(folder)
    return folder


def _write_once(path: str, source: str) -> None:
    """`source` at `path`, written (atomically) only if the file is not there with it: rewriting it would
    change its time stamp and so make Numba's cached code of it stale."""
    try:
        with open(path) as fh:
            if fh.read() == source:
                return
    except OSError:
        pass
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(source)
    os.replace(tmp, path)


_KERNELS = {}


def kernel(text: str):
    """The Numba dispatcher of `text`'s kernel (cached on disk in the runtime cache directory)."""
    disp = _KERNELS.get(text)
    if disp is None:
        source = kernel_source(text)
        stem = "ew_" + hashlib.sha256(text.encode()).hexdigest()[:24]
        path = os.path.join(_folder(), stem + ".py")
        _write_once(path, source)
        module = types_module.ModuleType(f"srcdiff_elementwise_{stem[3:]}")
        module.__file__ = path
        exec(compile(source, path, "exec"), module.__dict__)   # (our text: the file is there for Numba's cache)
        sys.modules[module.__name__] = module    # (Numba names compiled code by its function's module)
        disp = _KERNELS[text] = cached_jit_function(module.kernel)
    return disp


class _ElementwiseTyping(AbstractTemplate):
    """Numba's typing of rt.elementwise(text, operands): the kernel's result for the operands' types. (Not an
    @overload: Numba compiles an overload's implementation, which would link the kernel's code into it,
    in every process; this call is lowered as a call of the kernel itself.)"""
    prefer_literal = True

    def generic(self, args, kws):
        if kws or len(args) != 2 or not isinstance(args[0], types.StringLiteral) \
                or not isinstance(args[1], types.BaseTuple):
            return None
        text, operands = args
        found = self.context.resolve_function_type(types.Dispatcher(kernel(text.literal_value)),
                                                   tuple(operands.types), {})
        return None if found is None else signature(found.return_type, text, operands)


infer_global(elementwise)(_ElementwiseTyping)


@lower_builtin(elementwise, types.StringLiteral, types.BaseTuple)
def _elementwise_lowered(context, builder, sig, args):
    text, operands = sig.args
    callee = types.Dispatcher(kernel(text.literal_value))
    found = context.typing_context.resolve_function_type(callee, tuple(operands.types), {})
    return context.get_function(callee, found)(builder, cgutils.unpack_tuple(builder, args[1], len(operands)))
