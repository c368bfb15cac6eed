"""A-normal form: one operation per statement, operands are names or constants.

Temporaries are named after the variable the user's statement assigns (p -> p_1, p_2, ...).
Short-circuit `and`/`or` and conditional expressions become if statements.
"""
from __future__ import annotations

import ast
import copy
import math

import gast

from ..errors import fail
from . import annotations as anno
from .astutil import Namer, assign, call, const, dotted_name, load, names_in, walk
from ..rules import RULES


def is_atom(e) -> bool:
    return isinstance(e, (gast.Name, gast.Constant))


_FOLDED_OPS = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b, gast.Mult: lambda a, b: a * b,
               gast.Div: lambda a, b: a / b}


def folded_constant(e):
    """The Constant an operation of numbers `e` computes (`0.5 * 0.1` -> 0.05, `-(2 * 3)` -> -6; +, -, *, / of ints
    and floats, nested), as CPython's compiler folds it too and IEEE the same under Numba, where the result is a
    finite float or an int within int64; else None (any other operation, a division by zero). A temporary of
    numbers (`result1 = 0.5 * 0.1`, then `d_x = d_result * result1`) told the reader nothing the number does."""
    if isinstance(e, gast.Constant):
        return e if type(e.value) in (int, float) else None
    if isinstance(e, gast.UnaryOp) and isinstance(e.op, (gast.USub, gast.UAdd)):
        v = folded_constant(e.operand)
        return None if v is None else _literal(-v.value if isinstance(e.op, gast.USub) else v.value)
    if isinstance(e, gast.BinOp) and type(e.op) in _FOLDED_OPS:
        a, b = folded_constant(e.left), folded_constant(e.right)
        if a is None or b is None or (isinstance(e.op, gast.Div) and b.value == 0):
            return None
        return _literal(_FOLDED_OPS[type(e.op)](a.value, b.value))
    return None


def _literal(v):
    """A Constant of `v` where its literal gives `v` back: a finite float, an int within int64."""
    if isinstance(v, float) and not math.isfinite(v) or isinstance(v, int) and abs(v) >= 2 ** 63:
        return None
    return const(v)


def _unnegated(test, body, orelse):
    """(test, body, orelse) of a branch on `not c` as a branch on `c`, its sides swapped (the same in Python).
    Named (`cond2 = not cond`), the negation hid from Numba what `cond` tests: it prunes the branch that a test
    of an argument against None (`if w is None:`, where w is None or an array) cannot take, but not through a
    `not`, and then typed that branch (`None * y`: "No implementation of function mul"). The dead-code pass
    writes `if not c:` again where the first side is empty, which Numba reads as a branch on `c`."""
    while isinstance(test, gast.UnaryOp) and isinstance(test.op, gast.Not):
        test, body, orelse = test.operand, orelse, body
    return test, body, orelse


# what ANF cannot name, with what to write instead
_UNSUPPORTED = {
    "Dict": ("dict displays `{...}` used as values where srcdiff cannot make each item of the dict its own variable "
             "(it reads a dict bound to a name, `p = {\"W\": W}`, a tuple or list of them bound to a name, one your "
             "function returns, or a dict argument, at string keys)",
             "bind the dict to a name of its own first (p = {\"W\": W, \"b\": b}) and read p[\"W\"] or pass p, or pass "
             "the dict in as an argument (gradients with respect to a dict come back as a dict of the same keys)"),
    "Set": ("set displays (`{a, b}`)", "use a tuple, a list or an array"),
    "Starred": ("starred expressions (`*args`, `[*a]`)", "write the items out one by one, or use the tuple or array "
                                                         "itself"),
    "JoinedStr": ("f-strings other than in print(...) and assert", "format the text in print(...) or an assert, "
                                                                   "or outside the differentiated function"),
}


class _ANF:
    def __init__(self, unit):
        self.unit = unit
        self.namer = Namer(names_in(unit.node))

    def block(self, stmts):
        out = []
        for s in stmts:
            out.extend(self.stmt(s))
        return out

    def _decline_nested_write(self, s, t):
        """`xa[1][j] = v`: a write into an item of an item. Of a tuple argument the function binds again (`xa =
        (...)`: flatten binds xa to the tuple of its items' parameters on entry), the item is written through a name
        bound to it (`a = xa[1]`, then `a[j] = v`); of a tuple or list the function makes, that name is declined in
        turn (aliasing): the item array is written before the tuple is built, or the tuple made one array; of an
        array, `x[1, j] = v` writes the same element (not of a tuple: x[1, j] indexes the tuple)."""
        inner, base = t.value, t.value
        while isinstance(base, gast.Subscript):
            base = base.value
        shown = self._user_target(s, t)
        if anno.get(base, anno.READ_ONLY):    # (resolve's zeros for x.imag)
            fail(s, self.unit, f"the write {shown} = ... into the imaginary part of a real array, which NumPy makes "
                               "read-only: the write raises ValueError: assignment destination is read-only",
                 "write into an array of your own: im = np.zeros_like(x), then im[i] = v (a real array's imaginary "
                 "part is zeros)")
        if not isinstance(base, gast.Name):
            fail(s, self.unit, f"the write {shown} = ... is not supported (only name[index] = value is)",
                 "bind the array you write into to a name first and write into that: a = ..., then a[i] = v")
        name, params = base.id, {a.id for a in self.unit.node.args.args}
        bound = [n.value for n in walk(self.unit.node) if isinstance(n, gast.Assign)
                 and isinstance(n.value, (gast.Tuple, gast.List))
                 and any(isinstance(tg, gast.Name) and tg.id == name for tg in n.targets)]
        item, index = _text(inner), _text(t.slice)
        joined = _joined(inner.slice, t.slice) if isinstance(inner, gast.Subscript) else None
        flat = _text(gast.Subscript(value=inner.value, slice=joined, ctx=gast.Load())) if joined is not None else None
        if any(_of_parameters(b, params) for b in bound):
            fail(s, self.unit, f"the write {shown} = ... into an item of the tuple argument `{name}`, which the "
                               f"function binds again (`{name} = ...`), is not supported",
                 f"bind the item to a name first and write into that: `a = {item}`, then `a[{index}] = v` (and "
                 f"build the new tuple from `a` where you bind `{name}` again), or do not bind `{name}` again (then "
                 f"{shown} = v is taken as written)")
        made = (f"write into the item array before you put it in `{name}` (`r = np.zeros(...)`, `r[{index}] = v`, "
                f"then `{name} = (..., r, ...)`), or make `{name}` one array (`{flat} = v` then writes its element)"
                if flat else f"write into the item array before you put it in `{name}`")
        if bound:
            fail(s, self.unit, f"the write {shown} = ... into an item of the tuple/list `{name}` is not supported",
                 made)
        fail(s, self.unit, f"the write {shown} = ... is not supported (only name[index] = value is)",
             (f"if `{name}` is an array, write {flat} = v; if it is a tuple or list, " if flat else
              f"if `{name}` is an array, write the elements {shown} names with one index into `{name}` (an index "
              f"list or a mask takes a copy: NumPy writes into the copy, not into `{name}`); if it is a tuple or "
              f"list, ") + made)

    def _user_target(self, s, t) -> str:
        """The target `t` of the assignment `s` as the user wrote it, read off the user's line where it holds that
        one assignment (`B.T[0, 1]`, which resolve made `np.transpose(B)[0, 1]`), else as the tree spells it."""
        line = self.unit.source_line(getattr(s, "lineno", None)).strip()
        try:
            body = ast.parse(line).body if line else []
        except SyntaxError:
            body = []
        if len(body) == 1 and isinstance(body[0], (ast.Assign, ast.AugAssign)):
            targets = body[0].targets if isinstance(body[0], ast.Assign) else [body[0].target]
            if len(targets) == 1 and isinstance(targets[0], ast.Subscript):
                return ast.unparse(targets[0])
        return _text(t)

    def stmt(self, s):
        self.line = getattr(s, "lineno", None)
        pre = []
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                op = self.op(s.value, pre, t.id)
                out = self._loc(assign(t.id, op))
                anno.copy(s, out, (anno.IN_PLACE, anno.LOOP_COPY, anno.SUM_EMPTY, anno.RETURN_VALUE,   # (aliasing, kinds)
                                   anno.PLACEHOLDER,   # and generated code's read back (compiler._mark_placeholders)
                                   anno.DEFAULT_OF, anno.FACTORY_ARGUMENT))
                return pre + [out]
            if isinstance(t, gast.Subscript):
                if not isinstance(t.value, gast.Name):
                    self._decline_nested_write(s, t)
                idx = self.index(t.slice, pre, t.value.id)
                val = self.atom(s.value, pre, t.value.id)
                tgt = gast.Subscript(value=gast.Name(id=t.value.id, ctx=gast.Load(), annotation=None,
                                                     type_comment=None), slice=idx, ctx=gast.Store())
                return pre + [self._loc(assign(tgt, val))]
            fail(s, self.unit, "unsupported assignment target")
        if isinstance(s, gast.If):
            test, body, orelse = _unnegated(s.test, s.body, s.orelse)
            test = self.atom(test, pre, "cond")
            return pre + [self._loc(gast.If(test=test, body=self.block(body), orelse=self.block(orelse)), s)]
        if isinstance(s, gast.For):
            it = s.iter
            if not (isinstance(it, gast.Call) and dotted_name(it.func) == "range"):
                fail(s, self.unit, "internal: for loop not over range after desugaring")
            args = [self.atom(a, pre, "n") for a in it.args]
            it = gast.Call(func=load("range"), args=args, keywords=[])
            return pre + [self._loc(gast.For(target=s.target, iter=it, body=self.block(s.body), orelse=[],
                                             type_comment=None), s)]
        if isinstance(s, gast.While):
            return [self._loc(gast.While(test=s.test, body=self.block(s.body), orelse=[]), s)]
        if isinstance(s, gast.Return):
            if s.value is None:
                fail(s, self.unit, "the function must return a value")
            v = self.atom(s.value, pre, "result")
            return pre + [self._loc(gast.Return(value=v), s)]
        if isinstance(s, gast.Expr):
            call = s.value
            names = self._parameters(call.func)   # (bump(buf[2:], v): `v` names the view a decline speaks of)
            args = [self.atom(a, pre, names[k] if k < len(names) else "arg") for k, a in enumerate(call.args)]
            return pre + [self._loc(gast.Expr(value=gast.Call(func=call.func, args=args, keywords=[])), s)]
        if isinstance(s, gast.Assert):
            test = self.atom(s.test, pre, "ok")
            return pre + [self._loc(gast.Assert(test=test, msg=s.msg), s)]
        fail(s, self.unit, f"internal: unexpected {type(s).__name__} in ANF")

    def _parameters(self, func) -> list:
        """The positional parameter names of the function of yours a call statement calls (else none)."""
        callee = self.unit.callees.get(func.id) if isinstance(func, gast.Name) else None
        node, code = getattr(callee, "node", None), getattr(callee, "__code__", None)
        if isinstance(node, gast.FunctionDef):    # (a Unit: a function the compiler made)
            return [a.id for a in node.args.args]
        return list(code.co_varnames[:code.co_argcount]) if code is not None else []

    def _loc(self, node, like=None):
        ln = getattr(like, "lineno", None) or self.line
        node.lineno = ln
        return node

    # -- expressions ----------------------------------------------------------------------------------
    def atom(self, e, pre, base):
        if is_atom(e):
            return e
        number = folded_constant(e)
        if number is not None:
            return gast.copy_location(number, e)
        if (isinstance(e, gast.Call) and isinstance(e.func, gast.Name) and e.func.id in self.unit.callees
                and e.func.id == e.func.id.strip("_")):
            base = e.func.id    # the value of your function's call is named after it (`h1 = h(a)`): inlined,
            # its returned local takes this name (inline.py), not result1v1v1. (Not `_h`: Namer strips it to `h`,
            # which the call does not hold, and a local `h` hid a function of that name from the call.)
        op = self.op(e, pre, base)
        name = self.namer.fresh(base)
        pre.append(self._loc(assign(name, op)))
        return load(name)

    def index(self, e, pre, base, axes=True):
        """An index with atomic parts. `axes`: a tuple is one index per axis (at the top of the index);
        below it, and as a list anywhere, a list or tuple is NumPy's index array: np.array of its parts
        (integers: positions, possibly repeated; booleans: a mask), so that its elements are not read as
        indices of several axes."""
        if isinstance(e, gast.Slice):
            return gast.Slice(lower=e.lower and self.atom(e.lower, pre, base),
                              upper=e.upper and self.atom(e.upper, pre, base),
                              step=e.step and self.atom(e.step, pre, base))
        if isinstance(e, gast.Tuple) and axes:
            return gast.Tuple(elts=[self.index(x, pre, base, axes=False) for x in e.elts], ctx=gast.Load())
        if isinstance(e, (gast.List, gast.Tuple)):
            return self.atom(call("np.array", self._index_parts(e, pre, base)), pre, base)
        return self.atom(e, pre, base)

    def _index_parts(self, e, pre, base):
        """The (nested) tuple of atoms np.array makes an index array of, from the list or tuple `e`."""
        if not e.elts:
            fail(e, self.unit, "an empty list as an index is not supported (NumPy reads it as an empty integer "
                               "array, np.array([]) is one of floats)",
                 "index with np.zeros(0, dtype=np.int64), or leave the empty selection out")
        return gast.Tuple(elts=[self._index_parts(x, pre, base) if isinstance(x, (gast.List, gast.Tuple))
                                else self.atom(x, pre, base) for x in e.elts], ctx=gast.Load())

    def op(self, e, pre, base):
        """`e` with atomic operands (the operation itself stays)."""
        if is_atom(e):
            return e
        if isinstance(e, gast.BinOp):
            return gast.BinOp(left=self.atom(e.left, pre, base), op=e.op, right=self.atom(e.right, pre, base))
        if isinstance(e, gast.UnaryOp):
            return gast.UnaryOp(op=e.op, operand=self.atom(e.operand, pre, base))
        if isinstance(e, gast.Compare):
            return gast.Compare(left=self.atom(e.left, pre, base), ops=e.ops,
                                comparators=[self.atom(c, pre, base) for c in e.comparators])
        if isinstance(e, gast.Call):
            name = dotted_name(e.func)
            rule = RULES.get(name)
            args = []
            names = self._parameters(e.func) if isinstance(e.func, gast.Name) and e.func.id in self.unit.callees else []
            for k, a in enumerate(e.args):
                if k == 0 and rule is not None and rule.variadic and isinstance(a, (gast.Tuple, gast.List)):
                    # a tuple either way: Numba's np.stack / np.concatenate take tuples of arrays, not lists
                    args.append(gast.Tuple(elts=[self.atom(x, pre, base) for x in a.elts], ctx=gast.Load()))
                elif isinstance(a, gast.Starred):
                    fail(e, self.unit, "*args in calls is not supported")
                else:       # (an argument of your function's call is named after its parameter)
                    args.append(self.atom(a, pre, names[k] if k < len(names) else base))
            kws = [gast.keyword(arg=k.arg, value=self.atom(k.value, pre, base)) for k in e.keywords]
            if any(k.arg is None for k in kws):
                fail(e, self.unit, "**kwargs in calls is not supported")
            out = gast.Call(func=e.func, args=args, keywords=kws)
            anno.copy(e, out, (anno.COPY_MODULE, anno.READ_ONLY, anno.KEEPDIMS))  # (np.copy of copy.copy, x.imag, keepdims: kind_rewrites)
            return out
        if isinstance(e, gast.Subscript):
            return anno.copy(e, gast.Subscript(value=self.atom(e.value, pre, base), slice=self.index(e.slice, pre, base),
                                               ctx=gast.Load()), (anno.SPLIT_PART,))    # (np.split's parts: aliasing)
        if isinstance(e, gast.Attribute):
            return gast.Attribute(value=self.atom(e.value, pre, base), attr=e.attr, ctx=gast.Load())
        if (isinstance(e, gast.List) and e.elts and all(isinstance(x, gast.Constant) and type(x.value) is int
                                                         for x in e.elts)):
            # a list of integers is an index list (x[[0, 2]], idx = [0, 2]; x[idx]): an array, so that it
            # is not read as a tuple of indices, one per axis
            return call("np.array", gast.Tuple(elts=list(e.elts), ctx=gast.Load()))
        if isinstance(e, (gast.Tuple, gast.List)):
            out = gast.Tuple(elts=[self.atom(x, pre, base) for x in e.elts], ctx=gast.Load())
            anno.copy(e, out, (anno.DICT_KEYS, anno.TUPLE_FIELDS))    # (a dict's, a namedtuple's: read by key, field)
            return out
        if isinstance(e, gast.IfExp):
            name = self.namer.fresh(base)
            test, yes, no = _unnegated(e.test, e.body, e.orelse)
            test = self.atom(test, pre, "cond")
            body, orelse = [], []
            body.append(self._loc(assign(name, self.op(yes, body, base))))
            orelse.append(self._loc(assign(name, self.op(no, orelse, base))))
            pre.append(self._loc(gast.If(test=test, body=body, orelse=orelse)))
            return load(name)
        if isinstance(e, gast.BoolOp):
            name = self.namer.fresh(base)
            first = self.op(e.values[0], pre, base)
            pre.append(self._loc(assign(name, first)))
            self._chain(name, e.op, e.values[1:], pre, base)
            return load(name)
        if isinstance(e, (gast.ListComp, gast.GeneratorExp, gast.SetComp, gast.DictComp)):
            fail(e, self.unit, "a comprehension is differentiated only as the argument of sum(...), or as a "
                               "list comprehension that np.array, np.asarray or np.stack takes alone",
                 "make it an array, np.array([f(i) for i in range(n)]), or sum it: sum(f(i) for i in range(n))")
        what, advice = _UNSUPPORTED.get(type(e).__name__, (f"{type(e).__name__} expressions", None))
        fail(e, self.unit, f"{what} are not supported", advice or "f-strings, starred and dict/set displays cannot "
                                                                   "be differentiated")

    def _chain(self, name, op, rest, pre, base):
        if not rest:
            return
        inner = []
        inner.append(self._loc(assign(name, self.op(rest[0], inner, base))))
        self._chain(name, op, rest[1:], inner, base)
        test = load(name)
        if isinstance(op, gast.And):
            pre.append(self._loc(gast.If(test=test, body=inner, orelse=[])))
        else:
            pre.append(self._loc(gast.If(test=test, body=[], orelse=inner)))


def to_anf(unit):
    unit.node.body = _ANF(unit).block(unit.node.body)
    return unit


_ = const


def index_lists_as_arrays(node):
    """`node` with every list (or nested tuple) written as an index made np.array of it, in place: ANF does
    this for the code it normalises (Anf.index); the primal copies of callees that stay calls (recursive
    helpers) are emitted as the user wrote them and Numba rejects a list index (`a[[1, 0]]`)."""
    def as_array(e, seqs=(gast.List,)):
        return call("np.array", _as_tuples(e)) if isinstance(e, seqs) else e

    for n in walk(node):
        if isinstance(n, gast.Subscript):
            if isinstance(n.slice, gast.Tuple):     # one index per axis; a sequence inside is an index array
                n.slice.elts = [as_array(x, (gast.List, gast.Tuple)) for x in n.slice.elts]
            else:
                n.slice = as_array(n.slice)
    return node


def _as_tuples(e):
    return gast.Tuple(elts=[_as_tuples(x) if isinstance(x, (gast.List, gast.Tuple)) else x for x in e.elts],
                      ctx=gast.Load())


def _text(node) -> str:
    """`node` as Python source (the user's spelling of a target, for a decline's message)."""
    return ast.unparse(gast.gast_to_ast(copy.deepcopy(node)))


def _of_parameters(value, params) -> bool:
    """Whether `value` is a tuple of parameters (nested): flatten's binding of a tuple argument the body binds
    again to its items' parameters (`xa = (xa_0, xa_1)`)."""
    return isinstance(value, (gast.Tuple, gast.List)) and all(
        isinstance(e, gast.Name) and e.id in params or _of_parameters(e, params) for e in value.elts)


def _joined(first, second):
    """The index of `x[first][second]` as one index of `x`: `x[1, j]`, `x[:, 0][1]` -> `x[1, 0]` (second's items
    take the places of first's full slices, in order); None where first holds what no one index composes with
    second (a partial slice `x[::-1][0]`, an index list, None, an ellipsis, a mask)."""
    later = [copy.deepcopy(e) for e in (second.elts if isinstance(second, gast.Tuple) else [second])]
    if any(isinstance(e, gast.Constant) and (e.value is None or e.value is Ellipsis) for e in later):
        return None
    items = []
    for e in first.elts if isinstance(first, gast.Tuple) else [first]:
        if isinstance(e, gast.Slice) and e.lower is None and e.upper is None and e.step is None:
            items.append(later.pop(0) if later else copy.deepcopy(e))
        elif isinstance(e, (gast.Slice, gast.List, gast.Tuple, gast.Compare, gast.Starred)) or (
                isinstance(e, gast.Constant) and (e.value is None or e.value is Ellipsis)):
            return None
        else:
            items.append(copy.deepcopy(e))
    return gast.Tuple(elts=items + later, ctx=gast.Load())
