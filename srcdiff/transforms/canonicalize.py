"""After name resolution: canonical forms. Reductions with axis=/keepdims= become rt.<op>(x, axis) (+
rt.expand_dims), `x[:, None]` becomes rt.expand_dims, and each output of slogdet / eigh / svd its own
primitive (np.linalg.slogdet(a)[1] -> rt.logabsdet(a), np.linalg.eigh(a)[1] -> rt.eigh_vectors(a), ...).
"""
from __future__ import annotations

import ast
import copy
import itertools
import math

import gast

from ..errors import fail
from . import annotations as anno
from ..rules import RULES, composites, signature
from ..rules.numpy_rules import AXIS_REDUCTIONS, OPERATOR_CALLS, UNARY_OPERATOR_CALLS
from .astutil import (NOT_LITERAL, Namer, Transformer, assign, literal_value, load, const, copy_loc, dotted, dotted_name,
                      names_in, rewritten, structure_key, walk)
from .parse import Unit
from .tuple_calls import TUPLE_CALLS, bind_tuple_call, literal_flag


def decline_copied_sequence(unit, call, at) -> None:
    """Decline `call` where it is the user's `copy.copy(xs)` or `copy.deepcopy(xs)` (resolve wrote it as np.copy,
    marked COPY_MODULE) of a tuple or list (a literal here; kind_rewrites asks of a name of one), at the statement or
    expression `at`: NumPy's copy of it is one array of its items, where Python's copy keeps the tuple (`ys + xs`
    concatenates, items of other shapes stay apart). A tuple, list or namedtuple argument, or one made here, copied
    by copy.copy is its items (flatten)."""
    what = anno.get(call, anno.COPY_MODULE)
    if what:
        fail(at, unit, f"{what}(...) of a tuple or list (srcdiff copies an array, a number, or a dict of them, this "
                       "way; it makes one variable per item of a tuple or list)",
             "a tuple is never changed: use it itself (`ys = xs`); copy a list's arrays one by one, "
             "`ys = [a.copy() for a in xs]`, or keep its items in a tuple")


class _Canon(Transformer):
    def __init__(self, unit):
        self.unit = unit
        self.indexed, self.strings, self.sequences = _facts(unit.node)

    def visit_If(self, node):
        """`if -1.2 > 0.3:` and `a if -0.3 < 0.3 else b`: a test of literals is decided here (Numba would
        prune the dead branch and leave its tapes without a type; ANF makes a conditional expression an if
        statement after this pass)."""
        self.generic_visit(node)
        value = literal_value(node.test)
        if value is NOT_LITERAL:
            return node
        return node.body if value else node.orelse

    visit_IfExp = visit_If

    def visit_For(self, node):
        """`for i in range(1, 1)`: a literal empty range never runs, so the loop goes (Numba would
        prune it and leave its tapes without a type)."""
        self.generic_visit(node)
        it = node.iter
        if (isinstance(it, gast.Call) and dotted_name(it.func) == "range" and it.args and not it.keywords
                and all(isinstance(a, gast.Constant) and type(a.value) is int for a in it.args)):
            try:
                empty = len(range(*(a.value for a in it.args))) == 0
            except ValueError:   # range(..., 0): Python raises at run time; leave it to do so
                empty = False
            if empty:
                return node.orelse
        return node

    def visit_Assign(self, node):
        """A list or tuple literal written into an array (`traj[i] = (p, v)`, `y[:2] = [a, b]`) is the array it
        stands for: written as it stands, the write had no adjoint rule, so nothing flowed back to its items."""
        self.generic_visit(node)
        if len(node.targets) == 1 and isinstance(node.targets[0], gast.Subscript) and _is_literal_seq(node.value):
            node.value = self._literal_array(node.value, node)
        if (len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) and _is_range(node.value)
                and node.targets[0].id in self.indexed):
            node.value = _as_arange(node.value)
        return node

    def visit_BinOp(self, node):
        """A list or tuple literal operand of arithmetic with an array is the array it stands for
        (x[:2] * [a, b], m @ [a, b]). Lists have no -, /, **, %, @, so there it always is; with + and *
        (concatenation, repetition) only where the other operand is certainly an array or a float."""
        self.generic_visit(node)
        for side, other in (("left", node.right), ("right", node.left)):
            lit = getattr(node, side)
            if not _is_literal_seq(lit) or _is_literal_seq(other):
                continue
            if isinstance(node.op, (gast.Add, gast.Mult)) and not _certainly_float_or_array(other):
                continue
            setattr(node, side, self._literal_array(lit, node))
        return node

    def visit_UnaryOp(self, node):
        """`-0.5` is one constant (an operand, not a statement of its own in A-normal form)."""
        self.generic_visit(node)
        c = node.operand
        if isinstance(node.op, gast.USub) and isinstance(c, gast.Constant) and type(c.value) in (int, float):
            return copy_loc(const(-c.value), node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        name = dotted_name(node.func)
        if name in ("np.array", "np.asarray") and node.args and (name == "np.array" or _is_literal_seq(node.args[0])
                                                                 or _is_number(node.args[0])):
            return self._array(name, node)
        if (name == "np.stack" and len(node.args) == 1 and _is_literal_seq(node.args[0])
                and all(k.arg == "axis" and isinstance(k.value, gast.Constant) and k.value.value == 0
                        for k in node.keywords)):   # np.stack((a, b)) along axis 0 is np.array((a, b)) (of scalars too)
            return self._literal_array(node.args[0], node)
        if name in ("rt.max2", "rt.min2") and node.keywords:
            fail(node, self.unit, f"{name[3:6]}(...) with {node.keywords[0].arg}= is not supported",
                 f"compute the value to compare and use {name[3:6]}(a, b) or np.arg{name[3:6]} with indexing")
        if name in ("rt.max2", "rt.min2") and len(node.args) > 2:   # max(a, b, c)
            node.args = [copy_loc(gast.List(elts=node.args, ctx=gast.Load()), node)]   # is max([a, b, c])
        if name in ("rt.max2", "rt.min2") and len(node.args) == 1 and not node.keywords:   # max([a, b, c])
            node = copy_loc(gast.Call(func=dotted("np." + name[3:6]), args=node.args, keywords=[]), node)
            name = dotted_name(node.func)
        if name == "np.concatenate" and node.args:
            axis = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "axis"), None)
            if isinstance(axis, gast.Constant) and axis.value is None:   # flattened first: each part raveled
                if not _is_literal_seq(node.args[0]):
                    fail(node, self.unit, "np.concatenate(..., axis=None) of a sequence that is not written out",
                         "list the parts in the call, np.concatenate((a, b), axis=None), or ravel them: "
                         "np.concatenate((a.ravel(), b.ravel()))")
                node.args[0].elts = [copy_loc(gast.Call(func=dotted("np.ravel"), args=[e], keywords=[]), node)
                                     for e in node.args[0].elts]
                node.args = node.args[:1]
                node.keywords = [k for k in node.keywords if k.arg != "axis"]
        named = node.args and isinstance(node.args[0], gast.Name) and node.args[0].id in self.sequences
        if name == "np.split" and node.args and (_is_literal_seq(node.args[0]) or named) and not (
                len(node.args) > 1 and _is_literal_seq(node.args[1])):
            what = f"`{node.args[0].id}`, a list or tuple," if named else "a list or tuple"
            fail(node, self.unit, f"np.split of {what} into a number of sections, where NumPy raises "
                                  "AttributeError ('list' object has no attribute 'shape')",
                 f"pass an array, np.split(np.array({node.args[0].id if named else '[...]'}), n), or use "
                 f"np.array_split({node.args[0].id if named else '[...]'}, n)")
        self._array_likes(name, node)
        if name == "builtin_sum":  # Python's sum iterates over the first axis
            starts = node.args[1:] + [k.value for k in node.keywords if k.arg == "start"]
            if len(node.args) + len(node.keywords) != 1 + len(starts) or len(starts) > 1:
                fail(node, self.unit, "sum(...) with arguments other than the terms and a start",
                     "write sum(xs) or sum(xs, start)")
            total = copy_loc(gast.Call(func=dotted("rt.sum"), args=[node.args[0], const(0)], keywords=[]), node)
            return copy_loc(gast.BinOp(left=starts[0], op=gast.Add(), right=total), node) if starts else total
        if name in composites.COMPOSITES:   # np.var, np.linalg.norm, ...: written out in primitives
            if name == "np.einsum":
                self._fold_subscripts(node)
            written = _written(node) if name in ("np.split", "np.array_split") else None
            out = composites.expand(name, node)
            if isinstance(out, tuple):
                fail(node, self.unit, *self._subscripts_parameter(name, node, out))
            if name == "np.imag":   # (NumPy's is read-only: kind_rewrites declines a write into it)
                anno.set(out, anno.READ_ONLY)
            if name in ("np.split", "np.array_split") and isinstance(out, gast.Tuple):
                call = next(_SPLITS)    # (its parts share no memory: aliasing)
                for k, part in enumerate(out.elts):
                    anno.set(part, anno.SPLIT_PART, (call, k, written))
            return self.visit(out)
        if name == "np.clip":   # an open side (None) is an infinite bound
            node.args = [const(math.inf * (k * 2 - 3)) if isinstance(a, gast.Constant) and a.value is None and k else a
                         for k, a in enumerate(node.args)]
        out = self._operator_form(name, node)
        if out is not None:
            return out
        out = self._linalg_options(name, node)
        if out is not None:
            return out
        if name in AXIS_REDUCTIONS:
            return self._axis_reduction(name, node)
        if name == "np.transpose" and (len(node.args) > 1 or node.keywords):
            axes = node.args[1] if len(node.args) > 1 else node.keywords[0].value
            return copy_loc(gast.Call(func=dotted("rt.transpose"), args=[node.args[0], axes], keywords=[]), node)
        if name in ("rt.expand_dims", "rt.squeeze") and node.keywords:
            node.args = node.args + [k.value for k in node.keywords]
            node.keywords = []
        return node

    def _fold_subscripts(self, node):
        """np.einsum's subscripts given as a name bound to a string literal (`spec = "ij,j->i"`, also in each copy of
        an unrolled loop's body, or through a second name) are that literal: the composite reads the letters."""
        for holder in [node.args[:1]] + [[k] for k in node.keywords if k.arg == "subscripts"]:
            for k, a in enumerate(holder):
                v = a.value if isinstance(a, gast.keyword) else a
                if isinstance(v, gast.Name) and v.id in self.strings:
                    folded = copy_loc(const(self.strings[v.id]), v)
                    if isinstance(a, gast.keyword):
                        a.value = folded
                    else:
                        node.args[0] = folded

    def _subscripts_parameter(self, name, node, declined):
        """(message, advice) for a composite declined: where np.einsum's subscripts are a parameter of the function,
        advice to pass it a literal (transforms/function_args.py then writes it into a copy of the function)."""
        first = node.args[0] if node.args else None
        params = {a.id for a in self.unit.node.args.args}
        if name == "np.einsum" and isinstance(first, gast.Name) and first.id in params:
            return declined[0], (f"pass a string literal for {first.id!r} where {self.unit.node.name!r} is called "
                                 f"(or a name bound once to one): srcdiff writes it into a copy of "
                                 f"{self.unit.node.name!r}; not a loop variable or a value computed")
        if name == "np.einsum" and isinstance(first, gast.Name):
            return declined[0], (f"bind {first.id!r} to one string literal only ({first.id} = \"ij,j->i\"), or loop "
                                 f"over a tuple of them (for {first.id} in (\"ij->i\", \"ij->j\"):): a string chosen "
                                 "when the function runs (a conditional expression, a value computed) is not one")
        return declined

    def _operator_form(self, name, node):
        """pow(x, y), np.add(x, y), np.negative(x), math.log(x, base): the operator itself; else None."""
        if name in OPERATOR_CALLS:   # pow(x, y), np.power(x, y), np.add(x, y), ...: the operator itself
            if len(node.args) != 2 or node.keywords:
                fail(node, self.unit, f"{name!r} as a function takes exactly two arguments here",
                     "write the operator (x ** y) or drop the extra arguments (out=, modulo)")
            op = getattr(gast, OPERATOR_CALLS[name])()
            return copy_loc(gast.BinOp(left=node.args[0], op=op, right=node.args[1]), node)
        if name in UNARY_OPERATOR_CALLS:   # np.negative(x), operator.neg(x): -x
            if len(node.args) != 1 or node.keywords:
                fail(node, self.unit, f"{'np.negative' if name == 'neg' else 'np.positive'} as a function takes "
                     "exactly one argument here", "write the operator (-x, +x) or drop the extra arguments (out=)")
            op = getattr(gast, UNARY_OPERATOR_CALLS[name])()
            return copy_loc(gast.UnaryOp(op=op, operand=node.args[0]), node)
        if name == "math.log" and len(node.args) == 2 and not node.keywords:   # math.log(x, base)
            logs = [copy_loc(gast.Call(func=dotted("math.log"), args=[a], keywords=[]), node) for a in node.args]
            return copy_loc(gast.BinOp(left=logs[0], op=gast.Div(), right=logs[1]), node)
        return None

    def _linalg_options(self, name, node):
        """The options of np.linalg calls checked (and svd(compute_uv=False) is rt.svdvals); None unless
        the call is replaced."""
        if name == "np.linalg.svd":
            bound = self._tuple_arguments(name, node)
            if literal_flag(bound, "compute_uv", True) is False:   # the singular values alone
                if literal_flag(bound, "hermitian", False) is not False:
                    fail(node, self.unit, "np.linalg.svd with hermitian=True is not supported",
                         "drop hermitian=True: the SVD of a symmetric matrix is the same")
                return copy_loc(gast.Call(func=dotted("rt.svdvals"), args=[bound["a"]], keywords=[]), node)
        if name in TUPLE_CALLS:
            fail(node, self.unit, f"{name} returns a tuple of arrays: it must be unpacked or indexed directly "
                                  "(with a number)", _TUPLE_ADVICE[name])
        if name == "np.linalg.eigvalsh":   # (the rule takes the matrix alone)
            bound = self._bound(name, node, "a, UPLO='L'")
            if literal_flag(bound, "UPLO", "L") != "L":
                fail(node, self.unit, "np.linalg.eigvalsh with UPLO other than 'L' is not supported (srcdiff "
                                      "differentiates symmetric matrices)", _SYMMETRISE)
            node.args, node.keywords = [bound["a"]], []
        if name == "np.linalg.pinv":
            bound = self._bound(name, node, "a, rcond=None, hermitian=False, rtol=None")
            if literal_flag(bound, "hermitian", False) is not False:
                fail(node, self.unit, "np.linalg.pinv with hermitian=True is not supported",
                     "drop hermitian=True: the pseudo-inverse of a symmetric matrix is the same")
        return None

    def _axis_reduction(self, name, node):
        """A reduction with axis=/keepdims= as rt.<op>(x, axis) (+ rt.expand_dims), one per axis of a tuple."""
        axis, keepdims = None, False
        kws = []
        for kw in node.keywords:
            if kw.arg == "axis":
                axis = kw.value
            elif kw.arg == "keepdims":
                if not isinstance(kw.value, gast.Constant):
                    fail(node, self.unit, "keepdims must be a literal True/False")
                keepdims = bool(kw.value.value)
            else:
                kws.append(kw)
        if kws:
            fail(node, self.unit, f"{name}: unsupported keyword {kws[0].arg!r}",
                 "pass axis= and keepdims= as literal keywords (no **kwargs)")
        if len(node.args) > 1:
            axis = node.args[1]
        if len(node.args) > 2:
            fail(node, self.unit, f"{name}: only (x, axis) arguments are supported")
        if isinstance(axis, gast.Constant) and axis.value is None:
            axis = None
        if isinstance(axis, (gast.Tuple, gast.List)):   # several axes: one reduction each
            axes = [literal_value(e) for e in axis.elts]
            if not (axes and all(type(a) is int for a in axes) and len(set(axes)) == len(axes)
                    and (all(a >= 0 for a in axes) or all(a < 0 for a in axes))):
                fail(node, self.unit, f"{name} over several axes takes distinct int literals, all "
                     "non-negative or all negative", "reduce one axis at a time")
            out = node.args[0]
            for a in sorted(axes, reverse=axes[0] >= 0):   # later axes keep their numbers
                out = copy_loc(gast.Call(func=dotted(AXIS_REDUCTIONS[name]), args=[out, const(a)], keywords=[]),
                               node)
            for a in sorted(axes, reverse=axes[0] < 0) if keepdims else []:
                out = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[out, const(a)], keywords=[]), node)
                anno.set(out, anno.KEEPDIMS)
            return out
        if axis is None:
            out = gast.Call(func=dotted("np.sum" if name == "np.sum" else name), args=node.args[:1], keywords=[])
            if name == "rt.logsumexp":
                out = gast.Call(func=dotted("rt.logsumexp"), args=node.args[:1], keywords=[])
            if keepdims:
                fail(node, self.unit, "keepdims=True without an axis is not supported")
            return copy_loc(out, node)
        out = copy_loc(gast.Call(func=dotted(AXIS_REDUCTIONS[name]), args=[node.args[0], axis], keywords=[]), node)
        if keepdims:
            out = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[out, copy.deepcopy(axis)],
                                     keywords=[]), node)
            anno.set(out, anno.KEEPDIMS)
        return out

    def _array(self, name, node):
        """np.array(v) / np.asarray(v): rt.array of a list or tuple literal (nested ones
        too), a copy of anything else. (The dtype argument is a cast by now: resolve.py.)"""
        extra = [k.arg for k in node.keywords if k.arg not in ("copy", "order")]
        if len(node.args) != 1 or extra:
            fail(node, self.unit, f"np.array with {'arguments' if len(node.args) != 1 else repr(extra[0])} "
                                  "other than the values and dtype= is not supported",
                 "build the array with np.array(values) or np.array(values, dtype=...), then reshape it")
        v = node.args[0]
        if _is_literal_seq(v):
            return self._literal_array(v, node)
        if _is_number(v):
            name = "np.array"   # np.asarray(0.5): a 0-d array of its own (no caller's memory to share), as np.array's
        for k in node.keywords:     # copy=False / None: the array itself where it needs no conversion
            if k.arg == "copy":
                if not (isinstance(k.value, gast.Constant) and k.value.value in (True, False, None)):
                    fail(node, self.unit, f"{name}(copy=...) with a value known only at run time",
                         "write copy=True or copy=False")
                name = "np.array" if k.value.value is True else "np.asarray"
        return copy_loc(gast.Call(func=dotted("rt.array" if name == "np.array" else name), args=[v],
                                  keywords=[]), node)

    def _literal_array(self, seq, node):
        """The array a (nested) list/tuple literal makes: np.array of a literal of constants only, else
        rt.array of a tuple of its parts, each nested literal an array of its own (runtime/casts.py)."""
        if _constant_seq(seq):
            return copy_loc(gast.Call(func=dotted("np.array"), args=[_as_tuples(seq)], keywords=[]), node)
        parts = [self._literal_array(e, node) if _is_literal_seq(e) else e for e in seq.elts]
        return copy_loc(gast.Call(func=dotted("rt.array"), args=[gast.Tuple(elts=parts, ctx=gast.Load())],
                                  keywords=[]), node)

    def _array_likes(self, name, node):
        """A list or tuple literal passed where a NumPy function takes an array (np.sum([a, b]),
        np.linalg.norm((x, y)), sum([x, y])) becomes the array it stands for, so that every rule sees one."""
        if name in _SEQUENCE_PARAMS or (name in RULES and RULES[name].variadic):
            # np.concatenate(([a, b], x)), np.vstack(([a, b], [c, d])): each part listed is an array
            seq = node.args[0] if node.args else None
            if _is_literal_seq(seq):
                seq.elts = [self._literal_array(e, node) if _is_literal_seq(e) else e for e in seq.elts]
            return
        found = array_parameters(name)
        if found is None:
            return
        params, arrays = found
        for k, a in enumerate(node.args):
            if k >= len(params) or params[k].startswith("*"):
                break
            if params[k] in arrays and _is_literal_seq(a):
                decline_copied_sequence(self.unit, node, node)
                node.args[k] = self._literal_array(a, node)
            elif params[k] in arrays and isinstance(a, gast.Name) and a.id in self.sequences \
                    and name in composites.COMPOSITES:   # `terms = [a, b]`, np.array_split(terms, 2): the array NumPy
                node.args[k] = copy_loc(gast.Call(func=dotted("np.asarray"), args=[a], keywords=[]), a)   # makes
        for kw in node.keywords:
            if kw.arg in arrays and _is_literal_seq(kw.value):
                kw.value = self._literal_array(kw.value, node)

    def _tuple_arguments(self, name, node) -> dict:
        bound = bind_tuple_call(name, node)
        if isinstance(bound, str):
            fail(node, self.unit, f"{name}: {bound}", _TUPLE_ADVICE[name])
        return bound

    def _bound(self, name, node, params) -> dict:
        """The call's arguments bound to `params` (gast nodes); declined when they do not bind."""
        try:
            return dict(signature(params).bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
                        .arguments)
        except TypeError as e:
            fail(node, self.unit, f"{name}: {e}", f"call it as {name}({params})")

    def _output(self, call, k, node):
        """The single-output primitive for output k of a call of a TUPLE_CALLS function."""
        name = dotted_name(call.func)
        bound = self._tuple_arguments(name, call)
        a = bound["a"]
        n = 3 if name == "np.linalg.svd" else 2
        if type(k) is not int or not -n <= k < n:
            fail(node, self.unit, f"{name} returns {n} arrays: index {k!r} is out of range", _TUPLE_ADVICE[name])
        k %= n
        if name == "np.linalg.slogdet":
            fname = "rt.logabsdet" if k == 1 else "rt.slogdet_sign"
        elif name == "np.linalg.eigh":
            if literal_flag(bound, "UPLO", "L") != "L":
                fail(node, self.unit, "np.linalg.eigh with UPLO other than 'L' is not supported (srcdiff "
                                      "differentiates symmetric matrices)", _SYMMETRISE)
            fname = ("np.linalg.eigvalsh", "rt.eigh_vectors")[k]
        else:
            full = literal_flag(bound, "full_matrices", True)
            if literal_flag(bound, "compute_uv", True) is not True:   # (False never gets here: it is one array)
                fail(node, self.unit, "np.linalg.svd: compute_uv= must be a literal True or False",
                     _TUPLE_ADVICE[name])
            if literal_flag(bound, "hermitian", False) is not False:
                fail(node, self.unit, "np.linalg.svd with hermitian=True is not supported",
                     "drop hermitian=True: the SVD of a symmetric matrix is the same")
            if full not in (True, False, 0, 1):
                fail(node, self.unit, "np.linalg.svd: full_matrices= must be a literal True or False",
                     _TUPLE_ADVICE[name])
            fname = (("rt.svd_u_full" if full else "rt.svd_u"), "rt.svdvals",
                     ("rt.svd_vh_full" if full else "rt.svd_vh"))[k]
        return copy_loc(gast.Call(func=dotted(fname), args=[a], keywords=[]), node)

    def visit_Subscript(self, node):
        call = node.value
        if (isinstance(call, gast.Call) and dotted_name(call.func) in TUPLE_CALLS
                and literal_value(node.slice) is not NOT_LITERAL and not (
                    dotted_name(call.func) == "np.linalg.svd"   # the singular values, indexed
                    and literal_flag(self._tuple_arguments("np.linalg.svd", call), "compute_uv", True) is False)):
            call.args = [self.visit(a) for a in call.args]
            for kw in call.keywords:
                kw.value = self.visit(kw.value)
            return self._output(call, literal_value(node.slice), node)
        self.generic_visit(node)
        idx = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if (isinstance(node.ctx, gast.Load) and len(idx) == 1 and isinstance(idx[0], gast.Constant)
                and idx[0].value is Ellipsis):
            # `x[...]`: x's memory, all of it (Numba has no getitem of an Ellipsis alone: jit=True crashed)
            return node.value
        if not any(_is_none(e) for e in idx):
            return node
        return self._new_axes(node, idx)

    def _new_axes(self, node, idx):
        """`x[a, None, b]`: the new axes are inserted into x first (rt.expand_dims at the axis each None
        stands for) and indexed by a full slice, so every index keeps the axis it applies to: `x[..., None]`,
        `x[idx, None]` (an integer array), `x[:, None, 1]`, `M[i, None]`. Entries before an Ellipsis (or
        all, without one) count from the left, those after it from the right."""
        if not isinstance(node.ctx, gast.Load):
            fail(node, self.unit, "None (np.newaxis) in an assignment target is not supported",
                 "assign to the array without the new axis (x[i] = v[0])")
        ellipses = [k for k, e in enumerate(idx) if isinstance(e, gast.Constant) and e.value is Ellipsis]
        if len(ellipses) > 1:
            fail(node, self.unit, "an index can only have a single ellipsis ('...')")
        split = ellipses[0] if ellipses else len(idx)
        picks = [k for k, e in enumerate(idx) if not (isinstance(e, gast.Slice) or _is_none(e) or k in ellipses)]
        between = [k for k, e in enumerate(idx) if _is_none(e) and picks and picks[0] < k < picks[-1]]
        if between and not all(isinstance(idx[k], gast.Constant) and type(idx[k].value) is int for k in picks):
            # NumPy keeps integer-array indices separated only by None together; indexing x with the new axis
            # in between would move their axes to the front
            fail(node, self.unit, "None (np.newaxis) between two indices that may be integer arrays is not "
                                  "supported", "index first, then add the axis: y = x[i, j] then y[:, None]")
        base = node.value
        for k, e in enumerate(idx[:split]):
            if _is_none(e):
                base = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[base, const(k)], keywords=[]), node)
        for k in range(len(idx) - 1, split, -1):
            if _is_none(idx[k]):
                base = copy_loc(gast.Call(func=dotted("rt.expand_dims"), args=[base, const(k - len(idx))],
                                          keywords=[]), node)
        rest = [gast.Slice(lower=None, upper=None, step=None) if _is_none(e) else e for e in idx]
        if all(isinstance(e, gast.Slice) and e.lower is None and e.upper is None and e.step is None
               or k in ellipses for k, e in enumerate(rest)):
            return base
        sl = rest[0] if len(rest) == 1 else gast.Tuple(elts=rest, ctx=gast.Load())
        return copy_loc(gast.Subscript(value=base, slice=sl, ctx=gast.Load()), node)


def _is_none(e) -> bool:
    return isinstance(e, gast.Constant) and e.value is None


# parameters of composites (rules/composites.py) that take arrays: a list literal there is an array
_ARRAY_PARAMS = {"x", "y", "m", "xp", "fp", "weights", "a", "b", "prepend", "append", "ary", "val"}   # (not np.polyval's p:
#                                                       its composite reads the listed coefficients one by one)
# composites whose first argument is a sequence of arrays
_SEQUENCE_PARAMS = {"np.vstack", "np.hstack", "np.column_stack"}


def _certainly_float_or_array(e) -> bool:
    """An operand that is a float or an array whatever the values: a float literal, a slice of an array,
    a call of a function with a derivative (np.exp(x), np.sum(x))."""
    if isinstance(e, gast.Constant):
        return type(e.value) is float
    if isinstance(e, gast.Subscript):
        return any(isinstance(n, gast.Slice) for n in walk(e.slice))
    if isinstance(e, gast.Call):
        rule = RULES.get(dotted_name(e.func))
        return rule is not None and not rule.nondiff and not rule.namespace
    return False


def array_parameters(name):
    """(the parameter names, those of them that take an array) of a call of `name` in which a list or tuple
    literal stands for the array it makes (np.sum([a, b]), sum((x, y))); None where the function takes
    sequences of arrays (np.concatenate, np.vstack: their parts are the arrays) or is no differentiable rule."""
    if name in _SEQUENCE_PARAMS or (name in RULES and RULES[name].variadic):
        return None
    if name in composites.COMPOSITES:
        params = list(composites.COMPOSITES[name][0].replace(" ", "").split(","))
        return [p.split("=")[0] for p in params], _ARRAY_PARAMS
    if name == "builtin_sum":
        return ["x"], {"x"}
    rule = RULES.get(name)
    if rule is None or rule.nondiff or rule.namespace:
        return None
    return list(rule.signature.parameters), {p for p, v in rule.vjp.items() if v is not None}


def _written(node) -> str | None:
    """The text of the user's call `node` (before composites write it out), for a message about its parts."""
    try:
        return ast.unparse(gast.gast_to_ast(copy.deepcopy(node)))
    except Exception:   # noqa: BLE001 -- (a node gast cannot convert: no text, the message quotes the slice)
        return None


def _split_parts(e) -> bool:
    """Whether `e` is the tuple of slices one call of np.split / np.array_split became (annotations.SPLIT_PART)."""
    calls = {(anno.get(p, anno.SPLIT_PART) or (None,))[0] for p in e.elts} if isinstance(e, gast.Tuple) else ()
    return len(calls) == 1 and None not in calls and all(isinstance(p, gast.Subscript) for p in e.elts)


def _is_range(e) -> bool:
    """`range(...)`, or a conditional expression of them (`range(n - 1, -1, -1) if rev else range(n)`)."""
    if isinstance(e, gast.IfExp):
        return _is_range(e.body) and _is_range(e.orelse)
    return isinstance(e, gast.Call) and dotted_name(e.func) == "range" and 1 <= len(e.args) <= 3 and not e.keywords


def _facts(fn) -> tuple:
    """(indexed, strings, sequences) of `fn`, in one walk of it (not three). indexed: the names `fn` reads somewhere other than
    as `len(name)`: a range bound to one of them is iterated or indexed (desugar indexes it), while one only measured
    (`n = range(2, -1, -1)`, `len(n)`: a reversed range's backward loop in generated code) stays a range, which needs
    no array (nor the device an np.arange). strings: `_strings`. sequences: the names `fn` binds only to list or
    tuple literals (`terms = [a, b]`), not parameters."""
    stores, binds, measured, loads = {}, {}, set(), []
    for n in walk(fn):
        kind = type(n)
        if kind is gast.Name:
            if isinstance(n.ctx, gast.Load):
                loads.append(n)
            elif isinstance(n.ctx, (gast.Store, gast.Param)):
                stores[n.id] = stores.get(n.id, 0) + 1
        elif kind is gast.Assign:
            if len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                binds.setdefault(n.targets[0].id, []).append(n.value)
        elif kind is gast.Call:
            if dotted_name(n.func) == "len" and len(n.args) == 1 and isinstance(n.args[0], gast.Name):
                measured.add(id(n.args[0]))
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    sequences = {name for name, values in binds.items() if name not in params and len(values) == stores.get(name)
                 and all(_is_literal_seq(v) for v in values)}
    return {n.id for n in loads if id(n) not in measured}, _strings(fn, stores, binds), sequences


def _strings(fn, stores: dict, binds: dict) -> dict:
    """{name: the string} for the names `fn` binds only to one string literal (each binding `name = "..."`, or a
    second name of such a name, `t = spec`), and in no other way: not a parameter, a loop's target, an unpacking;
    from the counts of each name's stores and the values of its `name = value` bindings."""
    params = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    found: dict = {}
    while True:
        more = {}
        for name, values in binds.items():
            if name in found or name in params or len(values) != stores.get(name):
                continue
            got = {v.value if isinstance(v, gast.Constant) else found.get(v.id) if isinstance(v, gast.Name) else None
                   for v in values}
            if len(got) == 1 and isinstance(next(iter(got)), str):
                more[name] = next(iter(got))
        if not more:
            return found
        found.update(more)


def _as_arange(e):
    """A range bound to a name (`order = range(n)`, then `for t in order:`) as the array of its items: desugar
    indexes what a loop runs over (`t = order[k]`), which Numba cannot do to a range object."""
    if isinstance(e, gast.IfExp):
        return copy_loc(gast.IfExp(test=e.test, body=_as_arange(e.body), orelse=_as_arange(e.orelse)), e)
    return copy_loc(gast.Call(func=dotted("np.arange"), args=e.args, keywords=[]), e)


def _is_number(v) -> bool:
    """Whether `v` is a number literal (np.asarray(0.5) is a 0-d array of its own: np.array's)."""
    return isinstance(v, gast.Constant) and type(v.value) in (int, float, bool)


def _is_literal_seq(e) -> bool:
    return isinstance(e, (gast.List, gast.Tuple))


def _constant_seq(e) -> bool:
    """A (nested) list/tuple literal of number constants only."""
    return all(_constant_seq(x) if _is_literal_seq(x) else
               isinstance(x, gast.Constant) and type(x.value) in (bool, int, float) for x in e.elts)


def _as_tuples(e):
    """A (nested) list literal as tuples (Numba's np.array takes tuples)."""
    if not _is_literal_seq(e):
        return e
    return gast.Tuple(elts=[_as_tuples(x) for x in e.elts], ctx=gast.Load())
_SYMMETRISE = "symmetrise the matrix ((a + a.T) / 2) and leave UPLO at its default"
_TUPLE_ADVICE = {
    "np.linalg.slogdet": "write sign, logdet = np.linalg.slogdet(a) or np.linalg.slogdet(a)[1]",
    "np.linalg.eigh": "write w, V = np.linalg.eigh(a), or np.linalg.eigh(a)[1]; np.linalg.eigvalsh(a) gives the "
                      "eigenvalues alone",
    "np.linalg.svd": "write U, s, Vh = np.linalg.svd(a, full_matrices=False), or np.linalg.svd(a)[1]; "
                     "np.linalg.svd(a, compute_uv=False) gives the singular values alone",
}


_SPLITS = itertools.count()     # (numbers the calls of np.split: annotations.SPLIT_PART)


def canonicalize(unit: Unit) -> Unit:
    _Canon(unit).visit(unit.node)
    reads: dict = {}
    for n in walk(unit.node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            reads[n.id] = reads.get(n.id, 0) + 1
    unit.node.body = _unpacked_parts(unit.node.body, reads, Namer(names_in(unit.node)))
    return unit


def _split_operands(s, base: str, namer) -> list:
    """`t = np.array_split(vb.T, 2, axis=1)`, made a tuple of slices (composites._split), computes its array and
    its bounds once, before it, as a person writes it: `vc1 = np.transpose(vb)`, `vc2 = ...`, `t = (vc1[:, :vc2],
    vc1[:, vc2:])` (names after `base`, the first part's). Each part recomputed the array and its bounds (three
    transposes each, under other names), so that in the gradient's code, which reverse over it reads, aliasing could not
    see that the parts are apart. Returns the statements to put before `s`."""
    parts, out = s.value.elts, []

    def hoist(parts, old):
        key, name = structure_key(old), namer.fresh(base)
        out.append(copy_loc(assign(name, old, s.lineno), s))
        return [rewritten(p, lambda n: load(name) if structure_key(n) == key else n) for p in parts]

    if not isinstance(parts[0].value, gast.Name):
        parts = hoist(parts, parts[0].value)
    bound = lambda b: b is not None and not isinstance(b, (gast.Name, gast.Constant))  # noqa: E731
    while True:
        cuts = [b for p in parts for d in (p.slice.elts if isinstance(p.slice, gast.Tuple) else [p.slice])
                if isinstance(d, gast.Slice) for b in (d.lower, d.upper) if bound(b)]
        if not cuts:
            break
        parts = hoist(parts, cuts[0])
    for old, new in zip(s.value.elts, parts):
        anno.copy(old, new, (anno.SPLIT_PART,))
    s.value = copy_loc(gast.Tuple(elts=parts, ctx=gast.Load()), s.value)
    return out


def _unpacked_parts(stmts: list, reads: dict, namer) -> list:
    """`top, bottom = np.split(x, 2)`: desugar's `t = np.split(x, 2)`, its count check and `top = t[0]`, `bottom =
    t[1]`, where the call became a tuple of n parts here (a composite's: np.split, np.array_split), are `top = part0`,
    `bottom = part1`: the generated code names the parts as the user does (it named them after t, top_bottom4 and
    top_bottom8, and read them through t). Not where a part reads a name the unpacking binds (`x, y = np.split(x,
    2)`: Python binds them after computing every part) or t is read elsewhere."""
    out, k = [], 0
    while k < len(stmts):
        s = stmts[k]
        for b in ("body", "orelse"):
            if isinstance(getattr(s, b, None), list):
                setattr(s, b, _unpacked_parts(getattr(s, b), reads, namer))
        parts = s.value.elts if isinstance(s, gast.Assign) and isinstance(s.value, gast.Tuple) else None
        t = s.targets[0].id if parts and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) else None
        if t and _split_parts(s.value):
            first = stmts[k + 2] if k + 2 < len(stmts) else None
            named = (isinstance(first, gast.Assign) and isinstance(first.targets[0], gast.Name)
                     and isinstance(first.value, gast.Subscript) and isinstance(first.value.value, gast.Name)
                     and first.value.value.id == t)
            out += _split_operands(s, first.targets[0].id if named else t, namer)
            parts = s.value.elts
        n = len(parts) if t else 0
        rest = stmts[k + 1:k + 2 + n]
        check = rest[0] if rest else None
        if not (t and len(rest) == n + 1 and reads.get(t) == n + 1 and isinstance(check, gast.Expr)
                and isinstance(check.value, gast.Call) and dotted_name(check.value.func) == "rt.check_unpack"
                and all(isinstance(r, gast.Assign) and len(r.targets) == 1 and isinstance(r.targets[0], gast.Name)
                        and isinstance(r.value, gast.Subscript) and isinstance(r.value.value, gast.Name)
                        and r.value.value.id == t and isinstance(r.value.slice, gast.Constant)
                        and r.value.slice.value == j for j, r in enumerate(rest[1:]))):
            out.append(s)
            k += 1
            continue
        names = {r.targets[0].id for r in rest[1:]}
        if any(isinstance(m, gast.Name) and m.id in names for p in parts for m in walk(p)):
            out.append(s)
            k += 1
            continue
        for r, p in zip(rest[1:], parts):
            r.value = p
            out.append(r)
        k += 2 + n
    return out
