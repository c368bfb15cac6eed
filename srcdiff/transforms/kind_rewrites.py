"""Rewrites that wait for the kinds (compiler.REVERSE's "sum starts", "scalar products" and "array
literals" passes, and forward mode's): each returns whether it changed the tree, so that the kinds are
inferred again (compiler.Context.changed)."""
from __future__ import annotations

import linecache

import gast

from . import annotations as anno
from . import astutil
from .astutil import Namer, dotted_name, literal_value, load, map_blocks, nested_blocks, walk_statements
from ..errors import SrcdiffAxisError, SrcdiffError, SrcdiffIndexError, SrcdiffValueError
from ..rules import RULES
from .canonicalize import array_parameters, decline_copied_sequence
from .kinds import F, Kind, dtype, elements, expr_kind, is_array, is_scalar, is_tuple, length, ndim, sum_start
from .memory_sharing import ellipsis_index
from .parse import Unit
from .primal_lists import literal_lengths


def sum_starts(unit: Unit, kind_map: dict) -> bool:
    """The start of a sum over a comprehension (comprehension_loops._start), once the kinds tell its terms: for scalar
    terms `total = 0.0`, the first term's computation gone (elsewhere: desugar.zero_sum_starts); for array
    terms of rank r, where the loops do not run, zeros of shape (1,) * r (0 broadcast as NumPy would, of the
    type Numba needs on both paths), and `total = rt.zeros_like(t)` where they do. Returns whether it changed."""
    changed = False

    def block(stmts):
        nonlocal changed
        out = []
        for s in stmts:
            map_blocks(s, block)
            found = sum_start(s)
            k = kind_map.get(found[0].value.args[0].id) if found else None
            if is_scalar(k):
                kept = _other_merges(s, found)
                if kept is not None:
                    out.append(gast.copy_location(astutil.assign(found[2], astutil.const(0.0)), s))
                    out.extend(kept)
                    changed = True
                    continue
            if is_array(k) and ndim(k) is not None:
                shape = gast.Tuple(elts=[astutil.const(1)] * ndim(k), ctx=gast.Load())
                found[1].value = gast.copy_location(astutil.call("np.zeros", shape), found[1].value)
                changed = True
            out.append(s)
        return out

    unit.node.body = block(unit.node.body)
    for s in walk_statements(unit.node.body):   # (an unguarded start: the loops' first values could not be written down)
        if (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.zeros_like"
                and len(s.value.args) == 1 and isinstance(s.value.args[0], gast.Name)
                and is_scalar(kind_map.get(s.value.args[0].id))):
            s.value = gast.copy_location(gast.Constant(value=0.0, kind=None), s.value)
            changed = True
    return changed


def _other_merges(s, found):
    """The merges other than the total's that the first term's `if` makes, as its `else` writes them (the
    first term's computation may inline a helper whose names a loop around the sum carries: fuzz seed
    171467), to stay in place of the `if`; None where one reads a name the `else` itself binds."""
    bound = {t.id for b in s.orelse if isinstance(b, gast.Assign) for t in b.targets if isinstance(t, gast.Name)}
    kept = []
    for b in s.orelse:
        if b is found[1] or (isinstance(b, gast.Assign) and isinstance(b.targets[0], gast.Name)
                             and b.targets[0].id == found[2]):
            continue
        if not (isinstance(b, gast.Assign) and anno.get(b, anno.MERGE) and isinstance(b.value, gast.Name)
                and b.value.id not in bound):
            return None
        kept.append(b)
    return kept


def scalar_products(unit: Unit, kind_map: dict) -> bool:
    """Composites written for arrays, met with a scalar operand where the kinds show one: np.inner(x, s)
    (rt.tensordot(x, np.moveaxis(s, -1, 0), 1)) is the product x * s, as in NumPy. Returns whether it changed."""
    def scalar(e):
        return isinstance(e, gast.Constant) or (isinstance(e, gast.Name) and is_scalar(kind_map.get(e.id)))
    changed = False
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call)):
            continue
        name, args = dotted_name(s.value.func), s.value.args
        if name == "np.moveaxis" and args and scalar(args[0]) and isinstance(s.targets[0], gast.Name):
            s.value = args[0]
            kind_map[s.targets[0].id] = kind_map.get(getattr(args[0], "id", None)) or F
            changed = True
        elif name == "rt.tensordot" and len(args) == 3 and (scalar(args[0]) or scalar(args[1])):
            s.value = gast.BinOp(left=args[0], op=gast.Mult(), right=args[1])
            changed = True
    return changed


def _flat_seq(e, kind_map):
    """The tuple a flat list/tuple literal or a name of a tuple stands for (as rt.array's argument), else None."""
    if isinstance(e, (gast.List, gast.Tuple)) and not any(
            isinstance(x, (gast.List, gast.Tuple, gast.Starred)) for x in e.elts):
        return gast.Tuple(elts=e.elts, ctx=gast.Load())
    k = kind_map.get(e.id) if isinstance(e, gast.Name) else None
    if is_tuple(k) and not any(is_tuple(p) for p in elements(k) or ()):
        return e        # (a literal A-normal form named: forward mode; a matrix's rows: call_arrays)
    return None


def _written_tuple(s, kind_map):
    """The tuple statement `s` writes into an array (`traj[i] = state`, or `(p, v)` where reverse mode split the
    tuple `state`), as rt.array's argument, else None: the write's adjoint sees arrays only, so a tuple there passed
    no adjoint on (a zero gradient). A tuple passed to a function is call_arrays'."""
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
        return _flat_seq(s.value, kind_map)
    return None


def _listed_parts(s, kind_map):
    """The length of the tuple name a variadic rule (np.concatenate, np.stack) takes in statement `s` (forward
    mode: reverse mode has split it into a literal of its parts), where the kinds know it; else None."""
    call = s.value if isinstance(s, gast.Assign) else None
    rule = RULES.get(dotted_name(call.func)) if isinstance(call, gast.Call) else None
    if rule is None or rule.variadic not in ("concatenate", "stack") or not call.args:
        return None
    seq = call.args[0]
    return length(kind_map.get(seq.id)) if isinstance(seq, gast.Name) and is_tuple(kind_map.get(seq.id)) else None


def _array_name(s, seq) -> str:
    """A readable name for the array of a tuple statement `s` writes: state_array, traj_written."""
    if isinstance(seq, gast.Name):
        return seq.id + "_array"
    base = s.targets[0].value
    return (base.id if isinstance(base, gast.Name) else "array") + "_written"


def array_literal_operands(unit: Unit, kind_map: dict) -> bool:
    """A list or tuple literal operand (or a name of one) of arithmetic with a name the kinds show to be an
    array (`w * [a, b]`: NumPy's elementwise product, where desugar could not tell `w` from a repetition
    count) is the array it stands for, bound by a statement of its own; so is a tuple written into an array
    (_written_tuple), a tuple value, a matrix's rows too, passed where a function takes
    an array (`terms = [a, b]` ... `sum(terms)`, `np.max(terms)`: `call_arrays`), and np.stack of scalars
    (scalar_stacks). Returns whether it changed."""
    namer = _LazyNamer(unit.node)

    def block(stmts):
        out, changed = [], False
        for s in stmts:
            for b in nested_blocks(s):
                b[:], c = block(b)
                changed |= c
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.BinOp):
                for side, other in (("left", s.value.right), ("right", s.value.left)):
                    lit = getattr(s.value, side)
                    if not _array_operand(other, kind_map):
                        continue
                    if isinstance(lit, (gast.List, gast.Tuple)) and not any(
                            isinstance(e, (gast.List, gast.Tuple, gast.Starred)) for e in lit.elts):
                        seq = gast.Tuple(elts=lit.elts, ctx=gast.Load())
                    elif isinstance(lit, gast.Name) and is_tuple(kind_map.get(lit.id)):
                        seq = lit        # (a literal A-normal form named: forward mode)
                    else:
                        continue
                    name = namer.fresh(f"{other.id}_operand")
                    out.append(gast.copy_location(astutil.assign(name, astutil.call("rt.array", seq), s.lineno), s))
                    setattr(s.value, side, load(name))
                    changed = True
            parts = _listed_parts(s, kind_map)
            if parts is not None:     # np.concatenate(st) of a tuple name: its parts listed, st_at0 = st[0], ...
                seq = s.value.args[0]
                names = [namer.fresh(f"{seq.id}_at{k}") for k in range(parts)]
                out += [gast.copy_location(astutil.assign(n, gast.Subscript(value=load(seq.id), slice=astutil.const(k),
                                                                             ctx=gast.Load()), s.lineno), s)
                        for k, n in enumerate(names)]
                s.value.args[0] = gast.Tuple(elts=[load(n) for n in names], ctx=gast.Load())
                changed = True
            seq = _written_tuple(s, kind_map)
            if seq is not None:
                name = namer.fresh(_array_name(s, seq))
                out.append(gast.copy_location(astutil.assign(name, astutil.call("rt.array", seq), s.lineno), s))
                s.value = load(name)
                changed = True
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call):
                _decline_copied_sequence(unit, s, kind_map)
                changed |= call_arrays(s, kind_map, namer, out)
            out.append(s)
        return out, changed

    unit.node.body, changed = block(unit.node.body)
    return scalar_stacks(unit, kind_map) or changed


def named_tuple_arrays(unit: Unit) -> bool:
    """Forward mode without argument kinds (the generic jvp a function differentiated in reverse mode calls, or
    reads: `v, d = srcdiff.jvp(f)(...)` inside it): a name bound only to a flat tuple or list literal passed where a
    rule takes an array (`st2 = (s, t)`, `np.maximum(st2, -1.2)`) is `rt.array` of it, as call_arrays makes it
    where the kinds know the name's. Left a tuple, its tangent was `d_st2 * rt.max_weight(st2, -1.2)`: a tuple
    compared with a float (TypeError in Python), which reverse mode over it declined as list arithmetic (fuzz
    --nested 1401027). Returns whether it changed."""
    lengths = literal_lengths(unit.node)
    if not lengths:
        return False
    tuples = {name: Kind.tuple_of(n) for name, n in lengths.items()}
    namer = _LazyNamer(unit.node)

    def rewrite(stmts):
        out, changed = [], False
        for s in stmts:
            for b in nested_blocks(s):
                b[:], c = rewrite(b)
                changed |= c
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call):
                changed |= call_arrays(s, tuples, namer, out)
            out.append(s)
        return out, changed

    unit.node.body, changed = rewrite(unit.node.body)
    return changed


def _decline_copied_sequence(unit: Unit, s, kind_map: dict) -> None:
    """`ys = copy.copy(xs)` (or copy.deepcopy) of a tuple or list: declined. resolve writes the copy module's copies as
    np.copy (COPY_MODULE), right for an array or a number, but NumPy's copy of a tuple is one array of its items,
    where Python's keeps the tuple (`ys + xs` concatenates, items of other shapes stay apart)."""
    call = s.value
    arg = call.args[0] if call.args else None
    if isinstance(arg, (gast.Tuple, gast.List)) or isinstance(arg, gast.Name) and is_tuple(kind_map.get(arg.id)):
        decline_copied_sequence(unit, call, s)


class _LazyNamer:
    """The Namer of the names in `node`, made at the first fresh name: most functions need none, and the names
    are a walk of the whole function (what the pass changes before its first fresh name changes none of them)."""

    def __init__(self, node):
        self.node, self.namer = node, None

    def fresh(self, base: str) -> str:
        if self.namer is None:
            self.namer = Namer(astutil.names_in(self.node))
        return self.namer.fresh(base)


def _array_operand(other, kind_map) -> bool:
    """`other`, an operand of arithmetic with a list or tuple, makes that list an array: an array, or a float
    (a tuple minus a float is no Python; `vals - m` of a composite written out for `np.var(vals)`, `vals` a
    name of a list); not an int (`[a] * n` repeats: declined by checks.check_sequence_arithmetic) or a tuple, nor
    a number literal: `terms * 3.0` raises TypeError in Python (declined there too), and a tuple kind beside one can
    be a kind of the round before, `p * 2.0` of `p = np.asarray(terms)[:1]` (it crashed: 'Constant' has no `id`)."""
    if isinstance(other, gast.Constant):
        return False
    k = kind_map.get(other.id) if isinstance(other, gast.Name) else None
    return is_array(k) or is_scalar(k) and dtype(k) == "f"


def call_arrays(s, kind_map: dict, namer, out: list) -> bool:
    """A tuple value in the place of an array argument of `s`'s call (`sum(terms)` of `terms = [a, b]`: the front
    end makes the array of a literal written there, not of a name bound to one; reverse mode's tuple split
    rebuilds the name as a literal in place, forward mode keeps the name) is `rt.array` of it, bound by a
    statement appended to `out`: no rule has an adjoint or a tangent for a tuple there (the gradient was zero,
    the jvp a TypeError). Returns whether it changed."""
    found = array_parameters(dotted_name(s.value.func))
    if found is None:
        return False
    params, arrays = found
    slots = [(s.value.args, k) for k, p in enumerate(params[:len(s.value.args)]) if p in arrays]
    slots += [(kw, "value") for kw in s.value.keywords if kw.arg in arrays]
    def bound(seq, kind=None):
        """`rt.array(seq)` bound to a fresh name (a nested literal's rows first: a matrix of them; so too the
        rows of a name of a tuple of tuples, `kind`, each bound to a name of its own: Numba's rt.array takes a
        tuple of scalars or arrays)."""
        parts = elements(kind) if isinstance(seq, gast.Name) else None
        if parts and any(is_tuple(p) for p in parts):
            rows = []
            for k, p in enumerate(parts):
                rows.append(load(namer.fresh("row")))
                item = gast.Subscript(value=load(seq.id), slice=astutil.const(k), ctx=gast.Load())
                out.append(gast.copy_location(astutil.assign(rows[-1].id, item, s.lineno), s))
                if is_tuple(p):
                    rows[-1] = bound(rows[-1], p)
            seq = gast.Tuple(elts=rows, ctx=gast.Load())
        if isinstance(seq, gast.Tuple):
            seq = gast.Tuple(elts=[bound(e) if isinstance(e, gast.Tuple) else e for e in seq.elts], ctx=gast.Load())
        name = namer.fresh("array")
        out.append(gast.copy_location(astutil.assign(name, astutil.call("rt.array", seq), s.lineno), s))
        return load(name)

    changed = False
    for holder, key in slots:
        arg = holder[key] if isinstance(holder, list) else getattr(holder, key)
        if not (_tuple_literal(arg) or isinstance(arg, gast.Name) and is_tuple(kind_map.get(arg.id))):
            continue
        arg = bound(arg, kind_map.get(arg.id) if isinstance(arg, gast.Name) else None)
        if isinstance(holder, list):
            holder[key] = arg
        else:
            holder.value = arg
        changed = True
    return changed


def _tuple_literal(e) -> bool:
    """A tuple literal of atoms, or of tuple literals of them (a matrix's rows), none starred."""
    return isinstance(e, gast.Tuple) and all(_tuple_literal(x) if isinstance(x, gast.Tuple) else
                                             not isinstance(x, (gast.List, gast.Starred)) for x in e.elts)


def scalar_stacks(unit: Unit, kind_map: dict) -> bool:
    """`np.stack((a, b, c))` (axis 0 or -1, the only axes of 0-d items) of items the kinds show to be scalars is
    the vector `rt.array((a, b, c))`: Numba's np.stack takes arrays only (np.cross of two vectors, a composite,
    stacks its three scalar components: fuzz seed 710016 under jit). Returns whether it changed."""
    changed = False
    for s in walk_statements(unit.node.body):
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "np.stack"
                and s.value.args and isinstance(s.value.args[0], gast.Tuple)):
            continue
        items = s.value.args[0].elts
        axis = s.value.args[1:] + [k.value for k in s.value.keywords if k.arg == "axis"]
        if (items and all(isinstance(e, gast.Constant) or (isinstance(e, gast.Name) and is_scalar(kind_map.get(e.id)))
                          for e in items)
                and len(s.value.args) + len(s.value.keywords) == 1 + len(axis)
                and all(type(literal_value(a)) is int and literal_value(a) in (0, -1) for a in axis)):
            s.value = gast.copy_location(astutil.call("rt.array", gast.Tuple(elts=items, ctx=gast.Load())), s.value)
            changed = True
    return changed



_SCALAR_HELPERS = frozenset({"rt.seed", "rt.zeros_like", "rt.copy", "rt.unbroadcast", "rt.sum_grad", "rt.mean_grad"})


def scalar_helpers(unit: Unit, kind_map: dict) -> bool:
    """In a gradient differentiated again (srcdiff's unspecialised source, which knew no kinds): `rt.seed(y)` of
    a scalar y is 1.0, `rt.zeros_like(s)` 0.0, `rt.copy(s)` s, `rt.unbroadcast(g, s)` and `rt.sum_grad(g, s)` g,
    once the kinds show scalars (what reverse.Tidy does to the first-order gradient). Else the seed kept the
    primal's result alive, computed in the outer forward sweep for nothing but a 1.0 (and the outer passes
    differentiated and stored around it). Returns whether it changed."""
    def scalar(e):
        return (isinstance(e, gast.Constant) and type(e.value) in (int, float)) or (
            isinstance(e, gast.Name) and is_scalar(kind_map.get(e.id)))

    changed = False
    for s in walk_statements(unit.node.body):
        v = getattr(s, "value", None)
        if not (isinstance(s, gast.Assign) and isinstance(v, gast.Call) and dotted_name(v.func) in _SCALAR_HELPERS
                and v.args and not v.keywords):
            continue
        name, args = dotted_name(v.func), v.args
        if name in ("rt.seed", "rt.zeros_like") and len(args) == 1 and scalar(args[0]):
            new = astutil.const(1.0 if name == "rt.seed" else 0.0)
        elif name == "rt.copy" and len(args) == 1 and scalar(args[0]):
            new = args[0]
        elif name != "rt.copy" and len(args) >= 2 and scalar(args[1]) and (name != "rt.unbroadcast" or scalar(args[0])):
            new = args[0]       # (rt.unbroadcast(g, s) of an array g sums it: both scalars, as reverse.Tidy asks)
        else:
            continue
        s.value = gast.copy_location(new, v)
        changed = True
    return changed


def ellipsis_numbers(unit: Unit, kind_map: dict) -> bool:
    """`b[0, ...]` of a vector (`b[...]` of a 0-d array) -> `b[0]` (`b[()]`): NumPy gives a 0-d array sharing b's
    memory where b[0] gives a number, the same value; the kinds call it a number, as Numba computes it. Once the
    aliasing check has declined a second name of it read after a write into b, nothing can tell the two apart,
    but reverse mode's copies of it can: its save of the value a write overwrites and an adjoint's read of
    d_b[0, ...] before `d_b[0, ...] = 0.0` were views that the write changed (their values, then the
    gradient, were the new ones). Returns whether it changed."""
    changed = False
    for s in walk_statements(unit.node.body):
        for n in astutil.walk(s):
            if not isinstance(n, gast.Subscript) or not ellipsis_index(n.slice):
                continue
            if not is_scalar(expr_kind(gast.Subscript(value=n.value, slice=n.slice, ctx=gast.Load()), kind_map)):
                continue
            kept = [e for e in (n.slice.elts if isinstance(n.slice, gast.Tuple) else [n.slice])
                    if not (isinstance(e, gast.Constant) and e.value is Ellipsis)]
            n.slice = kept[0] if len(kept) == 1 else gast.Tuple(elts=kept, ctx=gast.Load())
            changed = True
    return changed


def scalar_items(unit: Unit, kind_map: dict) -> bool:
    """`a[()]` (or `a[...]`) of a number -> `a`: under jit=True a 0-d array argument runs as the number it holds
    (specialisations.run_scalars), which Numba does not index ('No implementation of function getitem'); NumPy's
    `a[()]` of a 0-d array is that number. And `rt.check_unpack(t, n)` of a tuple t of n items is dropped (forward
    mode's tuples stay tuples: Python's check of `a, b = t` passes), and `rt.rot90_axis(m, a, b)` of an m whose rank
the kinds give is b where NumPy's check of the axes passes, else NumPy's ValueError at the line. Returns whether it changed."""
    changed = False

    class Items(astutil.Transformer):
        def visit_Subscript(self, n):
            nonlocal changed
            self.generic_visit(n)
            if (isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name) and is_scalar(kind_map.get(n.value.id))
                    and (isinstance(n.slice, gast.Tuple) and not n.slice.elts
                         or isinstance(n.slice, gast.Constant) and n.slice.value is Ellipsis)):
                changed = True
                return gast.copy_location(load(n.value.id), n)
            return n

        def visit_Call(self, n):
            nonlocal changed
            self.generic_visit(n)
            if anno.get(n, anno.KEEPDIMS) and reduced_of_0d(n.args[0]):
                changed = True
                return n.args[0]
            axes = [literal_value(a) for a in n.args[1:]]
            nd = ndim(kind_map.get(n.args[0].id)) if n.args and isinstance(n.args[0], gast.Name) else None
            if dotted_name(n.func) in ("np.concatenate", "np.stack"):
                joined(n)
                return n
            if dotted_name(n.func) in ("rt.check_axis", "rt.check_rank") and nd is not None and len(n.args) == 3 \
                    and type(axes[0]) is int and type(axes[1]) is int:
                return checked(n, nd, axes[0])
            if dotted_name(n.func) != "rt.rot90_axis" or nd is None or len(axes) != 2 \
                    or not all(type(a) is int for a in axes):
                return n
            if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:   # NumPy's check, before a flip Numba could not
                numpy_says = "Axes must be different."                # type indexes an axis m lacks
            elif not all(-nd <= a < nd for a in axes):
                numpy_says = f"Axes={tuple(axes)} out of range for array of ndim={nd}."
            else:
                changed = True     # (np.rot90's check of its axes passes for m's rank: the axis itself)
                axis = gast.copy_location(gast.Constant(value=axes[1], kind=None), n)
                resolved.add(id(axis))
                return axis
            if id(n) not in surely_run:     # (NumPy's check at run time, rt.rot90_axis's, where the line runs)
                return n
            line = getattr(n, "lineno", None) or lines.get(id(n))
            text = unit.source_line(line) if line else None
            raise SrcdiffValueError(f"np.rot90 of an array of rank {nd} with axes={tuple(axes)}: NumPy raises ValueError: "
                                    f"{numpy_says}" + (f"\n    {text.strip()}" if text else ""), unit.filename, line,
                                    advice="give np.rot90 two different axes of the array, axes=(0, 1) of a matrix")

    reductions = {s.targets[0].id: s.value for s in walk_statements(unit.node.body)
                  if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                  and isinstance(s.value, gast.Call) and s.value.args and isinstance(s.value.args[0], gast.Name)}

    def reduced_of_0d(r):   # the keepdims reduction's value r is of a 0-d x (or a number): NumPy keeps x's shape
        call = reductions.get(r.id) if isinstance(r, gast.Name) else r if isinstance(r, gast.Call) else None
        x = call.args[0] if call is not None and call.args else None
        return isinstance(x, gast.Name) and ndim(kind_map.get(x.id)) == 0

    def joined(n):   # np.concatenate / np.stack of a literal tuple of arrays whose rank the kinds give, along a literal
        # axis they lack (np.stack's: of rank + 1): NumPy's AxisError at the line (Numba could not compile the join)
        axis = [k.value for k in n.keywords if k.arg == "axis"] or n.args[1:2]
        parts = n.args[0].elts if n.args and isinstance(n.args[0], (gast.Tuple, gast.List)) else []
        ranks = {ndim(kind_map.get(e.id)) if isinstance(e, gast.Name) else None for e in parts}
        k = literal_value(axis[0]) if axis else 0
        if len(ranks) != 1 or None in ranks or type(k) is not int:
            return
        rank = ranks.pop()
        nd = rank + (dotted_name(n.func) == "np.stack")
        if -nd <= k < nd or nd == 0 or id(n) not in surely_run:   # (else NumPy's own check, where the line runs)
            return
        line = getattr(n, "lineno", None) or lines.get(id(n))
        text = unit.source_line(line) if line else None
        raise SrcdiffAxisError(f"{dotted_name(n.func)} of arrays of rank {rank} along axis {k}: NumPy raises "
                               f"AxisError: axis {k} is out of bounds for array of dimension {nd}"
                               + (f"\n    {text.strip()}" if text else ""), unit.filename, line,
                               advice=f"give an axis from {-nd} to {nd - 1}")

    def checked(n, nd, k):   # rt.check_axis(x, k, then) / rt.check_rank(x, k, then) of an x of rank nd: then, or
        nonlocal changed        # NumPy's error at the line (np.flip's, np.roll's AxisError; np.fliplr's ValueError)
        fails = not -nd <= k < nd if dotted_name(n.func) == "rt.check_axis" else nd < k
        if fails and id(n) not in surely_run:   # (in a branch or loop, which may not run it: the check at run time)
            return n
        line = getattr(n, "lineno", None) or lines.get(id(n))
        text = unit.source_line(line) if line else None
        at = f"\n    {text.strip()}" if text else ""
        if dotted_name(n.func) == "rt.check_axis" and not -nd <= k < nd:
            raise SrcdiffAxisError(f"an axis of an array of rank {nd}: NumPy raises AxisError: axis {k} is out of "
                                   f"bounds for array of dimension {nd}{at}", unit.filename, line,
                                   advice=f"give an axis the array has, from {-nd} to {nd - 1}" if nd else
                                   "give an array of at least one axis")
        if dotted_name(n.func) == "rt.check_rank" and nd < k:
            name = "np.flipud" if k == 1 else "np.fliplr"
            raise SrcdiffValueError(f"{name} of an array of rank {nd}: NumPy raises ValueError: Input must be >= "
                                    f"{k}-d.{at}", unit.filename, line,
                                    advice=f"{name} needs an array of at least {k} ax{'is' if k == 1 else 'es'}")
        changed = True
        then = gast.copy_location(gast.Constant(value=literal_value(n.args[2]), kind=None), n)
        resolved.add(id(then))
        return then

    shapes = {s.targets[0].id: s.value.value.id for s in walk_statements(unit.node.body)
              if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Attribute)
              and s.value.attr == "shape" and isinstance(s.value.value, gast.Name)}

    def counted(s):     # desugar's count check of `a, b = t`, t a tuple of known length n (a shape of an array of rank
        nonlocal changed    # n: `n, m = M.shape`): Python's check passes
        if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and dotted_name(s.value.func) == "rt.check_unpack"
                and isinstance(s.value.args[0], gast.Name) and isinstance(s.value.args[1], gast.Constant)
                and s.value.args[1].value in (length(kind_map.get(s.value.args[0].id)), ndim(kind_map.get(
                    shapes.get(s.value.args[0].id))))):
            changed = True
            return []
        return s

    lines = {id(c): s.lineno for s in walk_statements(unit.node.body) if getattr(s, "lineno", None)
             for c in astutil.walk(s) if isinstance(c, gast.Call)}     # (a call's statement's line)
    # the calls of the function's own statements, not in a branch or loop: each runs once the ones before it have (a
    # check NumPy would fail is raised at its line when generating only there: `if x.ndim == 2: np.flip(x, 1)` of a
    # vector runs, and `if c > 0:` may not run its branch)
    surely_run = {id(c) for s in unit.node.body if not nested_blocks(s)
                  for c in astutil.walk(s) if isinstance(c, gast.Call)}
    resolved = set()
    decline_writes_into_numbers(unit, kind_map)
    Items().visit(unit.node)
    unit.node.body = astutil.rewrite_blocks(unit.node.body, counted)
    raise_indices_past_the_rank(unit, kind_map)     # (after NumPy's own checks of the axes: np.rot90's ValueError)
    axes = {s.targets[0].id: s.value.value for s in walk_statements(unit.node.body) if isinstance(s, gast.Assign)
            and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and id(s.value) in resolved}
    if axes:    # `a = rt.rot90_axis(m, 0, 1)` (the A-normal form's) resolved: its reads read the literal (np.swapaxes's
        # axes in CUDA kernels are literals)
        unit.node.body = astutil.rewrite_blocks(unit.node.body, lambda s: [] if isinstance(s, gast.Assign) and len(
            s.targets) == 1 and isinstance(s.targets[0], gast.Name) and s.targets[0].id in axes else s)

        class Axes(astutil.Transformer):
            def visit_Name(self, n):
                if isinstance(n.ctx, gast.Load) and n.id in axes:
                    return gast.copy_location(gast.Constant(value=axes[n.id], kind=None), n)
                return n
        Axes().visit(unit.node)
    return changed


def _indexed_axes(index, kind_map):
    """How many axes of an array the index `index` (a subscript's slice) takes, None where the kinds do not tell."""
    count = 0
    for e in index.elts if isinstance(index, gast.Tuple) else [index]:
        if isinstance(e, gast.Slice) or isinstance(e, gast.Constant) and type(e.value) is int:
            count += 1
        elif isinstance(e, gast.Constant) and (e.value is None or e.value is Ellipsis):
            continue
        else:
            k = expr_kind(e, kind_map)
            if is_scalar(k) and dtype(k) == "i":
                count += 1
            elif is_array(k) and dtype(k) in ("i", "b") and ndim(k) is not None:
                count += ndim(k) if dtype(k) == "b" else 1
            else:
                return None
    return count


def raise_indices_past_the_rank(unit: Unit, kind_map: dict) -> None:
    """`x[:, 0]` of a vector, `x.shape[1]` of one (`n = x.shape[1]`: a tuple indexed past its length): NumPy's and
    Python's IndexError, at the line, where the statement surely runs (one of the function's own, not in a branch or
    loop). The derivative may not need the value (`a = x[:, 0]` that only a value nothing reads uses): the dead-code
    pass dropped the statement, and grad returned a gradient of a function that raises (h32 hunt: d/dx [2, 4, 6, 8]
    of `a = x[:, 0]; return np.sum(x * x)`)."""
    shapes = {s.targets[0].id: s.value.value.id for s in walk_statements(unit.node.body)     # (`n1 = x.shape`, ANF's)
              if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
              and isinstance(s.value, gast.Attribute) and s.value.attr == "shape" and isinstance(s.value.value, gast.Name)}
    for s in unit.node.body:
        if nested_blocks(s):
            continue
        for n in astutil.walk(s):
            if not (isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name)):
                continue
            k = kind_map.get(n.value.id)
            nd, items = ndim(k) if is_array(k) else None, length(k) if is_tuple(k) else None
            if items is None and n.value.id in shapes and is_array(kind_map.get(shapes[n.value.id])):
                items = ndim(kind_map.get(shapes[n.value.id]))
            said = None
            if nd is not None:
                axes = _indexed_axes(n.slice, kind_map)
                if axes is not None and axes > nd:
                    said = (f"too many indices for array: array is {nd}-dimensional, but {axes} were indexed",
                            "index as many axes as the array has (check its rank: np.ndim)")
            elif type(items) is int:
                i = literal_value(n.slice)
                if type(i) is int and not -items <= i < items:
                    said = ("tuple index out of range", f"the tuple has {items} items (an array's shape: one per axis)")
            if said is None:
                continue
            where = anno.get(s, anno.FILE) or unit.filename      # (an inlined callee's line is in its own file)
            text = linecache.getline(where, s.lineno).strip() if getattr(s, "lineno", None) else ""
            raise SrcdiffIndexError(f"Python raises IndexError: {said[0]}" + (f"\n    {text}" if text else ""),
                                    where, getattr(s, "lineno", None), advice=said[1])


def decline_writes_into_numbers(unit: Unit, kind_map: dict) -> None:
    """`a[()] = v` (or `a[...] = v`) into a name the kinds call a number: a 0-d array argument under jit=True,
    which runs as the number it holds (specialisations.run_scalars); Numba cannot write into a number ('No
    implementation of function setitem'), and the caller's array could not see the write. Declined at the line."""
    for s in walk_statements(unit.node.body):
        if not isinstance(s, gast.Assign):
            continue
        for t in s.targets:
            if (isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and is_scalar(kind_map.get(t.value.id))
                    and (isinstance(t.slice, gast.Tuple) and not t.slice.elts
                         or isinstance(t.slice, gast.Constant) and t.slice.value is Ellipsis)):
                name = t.value.id
                where = anno.get(s, anno.FILE) or unit.filename
                raise SrcdiffError(
                    f"a write into the 0-d array argument `{name}` under jit=True, where a 0-d array argument runs "
                    f"as the number it holds\n    {linecache.getline(where, s.lineno).strip()}", where, s.lineno,
                    f"bind a new name to the value (`{name}_new = ...`) and read that after, or run with jit=False "
                    "(where the write reaches the caller's array)")


def decline_writes_into_imag(unit: Unit, kind_map: dict) -> None:
    """A write into `x.imag` or `np.imag(x)` of a real array (resolve and canonicalize wrote it as zeros, marked
    READ_ONLY), or into a second name or a slice of it: NumPy's is read-only, the write raises ValueError ('assignment
    destination is read-only'; `im += v`: 'output array is read-only'), where srcdiff's zeros took it. Declined at
    the line, before the views' check (compiler.py's aliasing pass, both modes). (Of a number, `.imag` is a number:
    `im += v` binds it again, as Python does.)"""
    bound: dict = {}
    for s in walk_statements(unit.node.body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name):
            bound.setdefault(s.targets[0].id, []).append(s.value)

    def array(name):
        return is_array(kind_map.get(name)) or kind_map.get(name) is None

    def based(e, names):   # the name e reads, as a second name or a basic slice of it
        while isinstance(e, gast.Subscript):
            e = e.value
        return isinstance(e, gast.Name) and e.id in names
    read_only: set = set()
    changed = True
    while changed:
        changed = False
        for name, values in bound.items():
            if name in read_only or not array(name):
                continue
            if any(isinstance(v, gast.Call) and anno.get(v, anno.READ_ONLY) or based(v, read_only) for v in values):
                read_only.add(name)
                changed = True
    if not read_only:
        return
    for s in walk_statements(unit.node.body):
        t = s.targets[0] if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        written = based(t, read_only) if isinstance(t, gast.Subscript) else (
            anno.get(s, anno.IN_PLACE) and isinstance(s.value, gast.BinOp) and based(s.value.left, read_only))
        if written:
            where = anno.get(s, anno.FILE) or unit.filename
            raise SrcdiffError(
                "a write into the imaginary part of a real array (x.imag, np.imag(x), or a name or slice of it), "
                "which NumPy makes read-only: the write raises ValueError: assignment destination is read-only"
                f"\n    {linecache.getline(where, s.lineno).strip()}", where, s.lineno,
                "write into an array of your own: im = np.zeros_like(x), then im[i] = v (a real array's imaginary "
                "part is zeros)")
