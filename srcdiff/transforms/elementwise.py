"""Jitted code only: array expressions become calls of kernels compiled once per installation.

Numba compiles every array expression of a function inside that function (a loop nest over broadcast
operands, then LLVM's vectoriser over it): two thirds of the first call of a new MLP gradient. Here each
largest elementwise expression with an array operand is written as a call of `rt.elementwise`
(runtime/expressions.py), whose kernel for the same text is compiled once on an installation and then
called by symbol. The text names the operands a, b, c, ... in order, so the same expression shares one
kernel in every function; an augmented assignment (`d_W += s * W`) is a kernel that adds into its
target and returns it (the same array, written in place, as `+=` leaves it).

    d_h2 = d_h * (1.0 - h * h)     ->  d_h2 = rt.elementwise("a * (1.0 - b * b)", (d_h, h))
    d_W2 += d_r * W2               ->  d_W2 = rt.elementwise("a += b * c", (d_W2, d_r, W2))

Elementwise: the operators + - * / ** // %, unary -, one comparison, and NumPy's ufuncs (np.exp, ...)
called with positional arguments. Its operands: names and other expressions (a subscript, a call) of
known array or scalar kinds, and number constants (written into the text). An expression of scalars
only, or with an operand of unknown kind, is left as it is. Kinds are inferred again here from the
parameters' (the source passes before, row fusion above all, turn array names into numbers) and the typed
stacks' examples: a value popped from `s_stack = rt.stack_of(0.0)` is a float (a scalar an inner loop carries;
unknown, it left every array expression over it to Numba, which compiles each as a function of its own: 122 of
them in the twenty loop blocks of benchmarks/generation_scaling.py, a third of its 29.5 s of CPU). The Python
backend keeps its expressions.
"""
from __future__ import annotations

import math
import sys

import gast
import numpy as np

from .astutil import call, child_fields, clone, copy_loc, dotted_name, every_statement, with_blocks
from .kinds import array_of, dtype, expr_kind, infer, is_array, is_scalar

PARAMETERS = "abcdefghijklmnopqrstuvwxyz"

# The text is written as `ast.unparse` writes the same tree: operators spaced, parentheses only where
# precedence needs them (its levels: comparison 8 < + - 13 < * / // % 14 < unary 15 < ** 16).
_CMP, _ARITH, _TERM, _FACTOR, _POWER = 8, 13, 14, 15, 16
_BINARY = {gast.Add: ("+", _ARITH), gast.Sub: ("-", _ARITH), gast.Mult: ("*", _TERM), gast.Div: ("/", _TERM),
           gast.Pow: ("**", _POWER), gast.FloorDiv: ("//", _TERM), gast.Mod: ("%", _TERM)}
_UNARY = {gast.USub: "-", gast.UAdd: "+"}
_COMPARE = {gast.Gt: ">", gast.GtE: ">=", gast.Lt: "<", gast.LtE: "<=", gast.Eq: "==", gast.NotEq: "!="}
_INFINITY = "1e" + repr(sys.float_info.max_10_exp + 1)     # a literal that overflows to inf, as ast.unparse writes it
_ADDED_INTO = (gast.Add, gast.Sub, gast.Mult, gast.Div)     # a += ..., a -= ..., a *= ..., a /= ...


def _ufunc(e) -> str | None:
    """The name of NumPy ufunc `e` calls (`np.exp(x)`), positional arguments only."""
    if not (isinstance(e, gast.Call) and not e.keywords and isinstance(e.func, gast.Attribute)
            and isinstance(e.func.value, gast.Name) and e.func.value.id == "np"):
        return None
    attr = e.func.attr
    known = _UFUNCS.get(attr)
    if known is None:
        known = _UFUNCS[attr] = isinstance(getattr(np, attr, None), np.ufunc)
    return attr if known else None


_UFUNCS: dict = {}      # attribute of np -> whether it is a ufunc (looked up once)


def _operation(e) -> bool:
    if isinstance(e, gast.BinOp):
        return type(e.op) in _BINARY
    if isinstance(e, gast.UnaryOp):
        return type(e.op) in _UNARY
    if isinstance(e, gast.Compare):
        return len(e.ops) == 1 and type(e.ops[0]) in _COMPARE
    return _ufunc(e) is not None and all(not isinstance(a, gast.Starred) for a in e.args)


def _constant(value) -> str:
    """A number constant's text (an infinity or NaN as a literal expression that makes it)."""
    if isinstance(value, float):
        return repr(value).replace("inf", _INFINITY).replace("nan", f"({_INFINITY}-{_INFINITY})")
    return repr(value)


def _within(text: str, precedence: int, context: int) -> str:
    """`text`, of an expression at `precedence`, parenthesised where its `context` binds tighter."""
    return f"({text})" if context > precedence else text


class _Text:
    """The text of an elementwise expression over parameters a, b, ..., and the operands they stand for."""

    def __init__(self, kinds: dict):
        self.kinds = kinds
        self.operands = []         # the expressions passed, in parameter order
        self.names = {}            # a name operand -> its parameter
        self.arrays = False        # an operand is an array

    def operand(self, e) -> str | None:
        if isinstance(e, gast.Constant) and type(e.value) in (int, float, bool):
            return _constant(e.value)   # (a negative one: see `of`)
        if isinstance(e, gast.Name) and e.id in self.names:
            return self.names[e.id]
        kind = expr_kind(e, self.kinds)
        if not (is_array(kind) or is_scalar(kind)) or len(self.operands) == len(PARAMETERS):
            return None
        self.arrays = self.arrays or is_array(kind)
        param = PARAMETERS[len(self.operands)]
        self.operands.append(e)
        if isinstance(e, gast.Name):
            self.names[e.id] = param
        return param

    def of(self, e, context: int = 0) -> str | None:
        """`e` as text over the parameters (operands recorded) in an expression binding as tightly as
        `context`, None if it is not elementwise."""
        if not _operation(e):
            text = self.operand(e)          # a negative number binds as its minus sign: `(-2.0) ** a`
            number = type(e) is gast.Constant and type(e.value) in (int, float)
            negative = text and number and math.copysign(1, e.value) < 0
            return _within(text, _FACTOR, context) if negative else text
        if isinstance(e, gast.BinOp):
            op, precedence = _BINARY[type(e.op)]
            right_first = precedence == _POWER      # ** groups to the right
            left = self.of(e.left, precedence + right_first)
            right = left and self.of(e.right, precedence + (not right_first))
            return right and _within(f"{left} {op} {right}", precedence, context)
        if isinstance(e, gast.UnaryOp):
            operand = self.of(e.operand, _FACTOR)
            return operand and _within(_UNARY[type(e.op)] + operand, _FACTOR, context)
        if isinstance(e, gast.Compare):
            left = self.of(e.left, _CMP + 1)
            right = left and self.of(e.comparators[0], _CMP + 1)
            return right and _within(f"{left} {_COMPARE[type(e.ops[0])]} {right}", _CMP, context)
        args = []
        for a in e.args:
            args.append(self.of(a))
            if args[-1] is None:
                return None
        return f"np.{_ufunc(e)}({', '.join(args)})"


def _kernel(text: str, operands: list):
    """`rt.elementwise(text, operands)`, the operands copied (the function's tree is left as it is)."""
    return call("rt.elementwise", gast.Constant(value=text, kind=None),
                gast.Tuple(elts=[clone(e) for e in operands], ctx=gast.Load()))


def _expressions(node, kinds: dict, scalars: bool = False):
    """`node` with each largest elementwise expression with an array operand as its kernel call: a copy of
    the nodes on the paths to those expressions, sharing the rest; `node` itself where there is none.
    `scalars`: `node`'s parent is an operation of an elementwise expression of scalars only, so an operation
    `node` is one too (its operands are some of the parent's) and no kernel: only its operands are looked
    into (an operation of scalars nested n deep is not written as text n times over)."""
    if type(node) in _LEAVES:
        return node
    inner = False
    if isinstance(node, gast.expr) and _operation(node):
        if scalars:
            inner = True
        else:
            text = _Text(kinds)
            tree = text.of(node)
            if tree is not None and text.arrays:
                return copy_loc(_kernel(tree, text.operands), node)
            inner = tree is not None
    changed = None
    for f in child_fields(type(node)):
        old = getattr(node, f, None)
        if type(old) is list:
            new = old
            for k, x in enumerate(old):
                if isinstance(x, gast.AST):
                    got = _expressions(x, kinds, inner)
                    if got is not x:
                        if new is old:
                            new = list(old)
                        new[k] = got
        elif isinstance(old, gast.AST):
            new = _expressions(old, kinds, inner)
        else:
            continue
        if new is not old:
            if changed is None:
                changed = {}
            changed[f] = new
    return _copy_with(node, changed) if changed else node


_LEAVES = frozenset((gast.Name, gast.Constant))    # (no operation under them)


def _copy_with(node, changed: dict):
    """A shallow copy of `node` (attributes and marks included) with the fields `changed`."""
    new = type(node).__new__(type(node))
    new.__dict__.update(node.__dict__)
    new.__dict__.update(changed)
    return new


def _added_into(s, kinds: dict):
    """`a += <expr>` (a an array name) as one kernel call statement, else None."""
    if not (isinstance(s, gast.AugAssign) and isinstance(s.target, gast.Name) and type(s.op) in _ADDED_INTO
            and is_array(kinds.get(s.target.id))):
        return None
    text = _Text(kinds)
    target = text.operand(gast.Name(id=s.target.id, ctx=gast.Load(), annotation=None, type_comment=None))
    value = text.of(s.value)
    if value is None:
        return None
    kernel = _kernel(f"{target} {_BINARY[type(s.op)][0]}= {value}", text.operands)
    return copy_loc(gast.Assign(targets=[gast.Name(id=s.target.id, ctx=gast.Store(), annotation=None, type_comment=None)],
                                value=kernel, type_comment=None), s)


def _helper_kind(name: str, args: tuple, stacks: dict | None = None):
    """The kinds of what the helpers the source passes write return (they have no rule records); `stacks`: the
    element kinds of the typed stacks (`s = rt.stack_of(0.0)`: _stack_elements), whose `s.pop()` is one."""
    if name == "rt.get_row" and len(args) == 3:     # a row of a row tape: an array like its third argument
        return args[2]
    if name == "rt.mask_get" and len(args) == 2 and is_array(args[0]):   # x[m] (transforms/masks.py): rank 1
        return array_of(1, dtype(args[0]))
    if stacks and not args:     # (`s.pop()`: _stack_elements keys its kind by that callee's name)
        return stacks.get(name)
    return None


_TYPED_STACKS = ("rt.stack_of", "rt.read_only_stack_of")


def _stack_elements(fn) -> dict:
    """`s.pop` -> the kind of the elements of stack s, of the typed stacks `fn` makes (`s = rt.stack_of(example)`,
    the example a value of the kind it holds: transforms/stacks.py) and makes nowhere else."""
    found: dict = {}
    for st in every_statement(fn):     # (assignments are statements: no expression is looked into)
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
            v = st.value
            typed = isinstance(v, gast.Call) and dotted_name(v.func) in _TYPED_STACKS and len(v.args) == 1
            found.setdefault(st.targets[0].id, []).append(expr_kind(v.args[0], {}) if typed else None)
    return {f"{s}.pop": ks[0] for s, ks in found.items()
            if len(ks) == 1 and ks[0] is not None and (is_scalar(ks[0]) or is_array(ks[0]))}


_SIMPLE = (gast.Assign, gast.AugAssign, gast.Expr, gast.Return)


def call_kernels(fn: gast.FunctionDef, kinds: dict) -> gast.FunctionDef:
    """`fn` with its array expressions written as calls of elementwise kernels (module docstring); `kinds`:
    those of its parameters (at least). `fn` is left as it is: the result shares its unchanged subtrees."""
    stacks = _stack_elements(fn)
    kinds = infer(fn, {a.id: kinds.get(a.id) for a in fn.args.args if kinds.get(a.id) is not None},
                  lambda name, args: _helper_kind(name, args, stacks))
    def block(stmts):
        return [statement(s) for s in stmts]
    def statement(s):
        if isinstance(s, _SIMPLE):
            added = _added_into(s, kinds)
            return added if added is not None else _expressions(s, kinds)
        return with_blocks(s, block)
    return with_blocks(fn, block)
