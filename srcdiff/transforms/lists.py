"""Lists the user's function builds with appends, in reverse mode: stacks, as generated code's are.

Why: `out = []`, `out.append(v)` in loops and branches, then `np.array(out)` is how Python code collects values.
Reverse mode already differentiates lists used as stacks (generated gradients differentiated again:
forward.lower_stacks makes `s = []`, `s.append(v)`, `s.pop()` the calls rt.stack, rt.push, rt.pop, and the
adjoint of a push is a pop of the adjoint stack). `np.array(out)` (or np.asarray, np.stack) becomes
rt.stack_array(out), whose adjoint is the list of the gradient's rows, `rt.unstack(g)`: the appends' adjoints,
run last first, pop them last first. That holds where each list is converted once, after every append to it, on
every path that made it: in the block that binds `out = []`, after the appends, with no return, break or continue
between (so a list made anew in each iteration of a loop and converted at its end works). Its last item read,
`traj[-1]`, is a name of its own (_last_item_named). This pass declines, at the user's line, a list used otherwise
(indexed elsewhere, iterated, summed, passed to a function or returned: convert it once and use the array), converted
twice, in a branch or loop of its own, after such a jump or appended to after
its conversion, or both converted and popped.
Forward mode (jvp) keeps lists as lists at run time and needs none of this but the rows: a tuple appended to a
list converted once is appended as np.array of it in both modes (rows_as_arrays).
"""
from __future__ import annotations

import copy

import gast

from ..errors import fail
from .astutil import assign, block_jumps, dotted_name, literal_value, load, nested_blocks, walk, walk_of

CONVERSIONS = frozenset({"np.array", "np.asarray", "np.stack"})
def _advice(name: str) -> str:
    """What to write instead, in the user's name of the list."""
    return (f"build the list with appends and convert it once, after the last append: arr = np.array({name}); then "
            "index, iterate or sum arr")


def has_lists(node) -> bool:
    """Whether the function binds a name to an empty list (`out = []`, or `xs, ys = [], []`) or appends to or pops a
    list (`traj = [y0]`, `traj.append(y)`, `left = [u, v]`, `left.pop()`), or writes an item of one (`lst = [a, b]`,
    `lst[1] = v`)."""
    return any(_empty_list(s) or _empty_lists(s) or (isinstance(s, gast.Call) and isinstance(s.func, gast.Attribute)
                                                     and s.func.attr in ("append", "pop"))
               for s in walk_of(node, _LISTING)) or bool(_items_written(node))


def _items_written(node) -> set:
    """Names bound to a list display, not of int constants alone (an index list, `idx = [0, 2]`, is an array),
    whose items the function writes (`lst = [x[0], x[1]]`, `lst[1] = v`): Python's list is changed in place, where
    a display is otherwise the tuple of its items (jvp failed, 'tuple' object does not support item assignment,
    saying the function itself fails; grad raised an AttributeError of srcdiff's)."""
    # (not a nested def's: its write into its enclosing function's list is a closure's, declined as such)
    own = [s for s in _own_statements(node.body) if isinstance(s, gast.Assign)]
    displays = {s.targets[0].id for s in own if len(s.targets) == 1
                and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.List) and s.value.elts
                and not all(isinstance(e, gast.Constant) and type(e.value) is int for e in s.value.elts)}
    return {t.value.id for s in own for t in s.targets
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in displays}


def _own_statements(stmts):
    """The statements of a block and of the blocks nested in it, not those of nested functions."""
    for s in stmts:
        yield s
        if not isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            for b in nested_blocks(s):
                yield from _own_statements(b)


_LISTING = frozenset((gast.Assign, gast.Call))   # (has_lists looks at these only: the walk yields no other)


def _empty_lists(s) -> bool:
    """`xs, ys = [], []` (or `[t0], [y0]`, reading neither name): names bound to list literals together."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], (gast.Tuple, gast.List))
            and isinstance(s.value, (gast.Tuple, gast.List)) and len(s.value.elts) == len(s.targets[0].elts)
            and all(isinstance(t, gast.Name) for t in s.targets[0].elts)
            and all(isinstance(v, gast.List) for v in s.value.elts)):
        return False
    bound = {t.id for t in s.targets[0].elts}
    return not any(isinstance(n, gast.Name) and n.id in bound for n in walk(s.value))


def separate(node):
    """`xs, ys = [], []` -> `xs = []`, `ys = []` (one list per statement, as the checks and stacks see them; there
    Python binds no name before the values are made), and
    `traj = [y0]` of a list appended to or popped (`left = [a, b]` ... `left.pop()`: a stack too, which jvp ran as
    the tuple of its items, 'tuple' object has no attribute 'pop', and grad declined) -> `traj = []`,
    `traj.append(y0)`."""
    appended = {n.func.value.id for n in walk(node) if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
                and n.func.attr in ("append", "pop") and isinstance(n.func.value, gast.Name)} | _items_written(node)

    def block(stmts):
        out = []
        for s in stmts:
            for b in nested_blocks(s):
                b[:] = block(b)
            if _empty_lists(s):
                stmts = [gast.copy_location(assign(t.id, v, s.lineno), s) for t, v in zip(s.targets[0].elts, s.value.elts)]
                out += block(stmts)
            elif (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                  and s.targets[0].id in appended and isinstance(s.value, gast.List) and s.value.elts
                  and not any(isinstance(e, gast.Starred) for e in s.value.elts)):
                name = s.targets[0].id
                out.append(gast.copy_location(assign(name, gast.List(elts=[], ctx=gast.Load()), s.lineno), s))
                out += [gast.copy_location(gast.Expr(value=gast.Call(
                    func=gast.Attribute(value=load(name), attr="append", ctx=gast.Load()), args=[e], keywords=[])), s)
                    for e in s.value.elts]
            else:
                out.append(s)
        return out
    node.body = block(node.body)
    for name in sorted(appended):
        _last_item_named(node, name)
    return node


def _is_last_item(n, name) -> bool:
    """`name[-1]` read."""
    return isinstance(n, gast.Subscript) and isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name) and \
        n.value.id == name and literal_value(n.slice) == -1


def _last_item_named(fn, name):
    """`traj[-1]` of a list built with appends and never popped: each `traj.append(e)` statement becomes
    `traj_last = e` then `traj.append(traj_last)`, and each read `traj[-1]` reads `traj_last` (the item the last
    append took, as Python's list holds it). A stack has no indexing; a name of its last item is ordinary code,
    which both modes differentiate. Lists popped, or appended to inside an expression, keep their reads (declined)."""
    reads = [n for n in walk(fn) if _is_last_item(n, name)]
    calls = [n for n in walk(fn) if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
             and isinstance(n.func.value, gast.Name) and n.func.value.id == name]
    statements = {id(s.value) for s in walk(fn) if isinstance(s, gast.Expr)}
    if not reads or any(c.func.attr != "append" or id(c) not in statements or len(c.args) != 1 or c.keywords
                        for c in calls):
        return
    taken = {n.id for n in walk(fn) if isinstance(n, gast.Name)}
    last = next(v for v in (f"{name}_last" + (str(k) if k else "") for k in range(len(taken) + 1)) if v not in taken)

    class Reads(gast.NodeTransformer):
        def visit_Subscript(self, n):
            self.generic_visit(n)
            return gast.copy_location(load(last), n) if _is_last_item(n, name) else n
    Reads().visit(fn)

    def block(stmts):
        out = []
        for s in stmts:
            for b in nested_blocks(s):
                b[:] = block(b)
            if isinstance(s, gast.Expr) and any(s.value is c for c in calls):
                out.append(gast.copy_location(assign(last, s.value.args[0], s.lineno), s))
                s.value.args[0] = load(last)
            out.append(s)
        return out
    fn.body = block(fn.body)


def list_names(node) -> set:
    """The names the function binds to an empty list."""
    return {s.targets[0].id for s in walk(node) if _empty_list(s)}


def _empty_list(s) -> bool:
    return isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and \
        isinstance(s.value, gast.List) and not s.value.elts


def conversion_of(call, stacks) -> str | None:
    """The list name `call` converts to an array (`np.array(out)`: a CONVERSIONS call of one list name, also
    `np.stack(out, axis=k)` of a constant k: see stack_axis), or None."""
    if isinstance(call, gast.Call) and dotted_name(call.func) in CONVERSIONS and len(call.args) == 1 and \
            isinstance(call.args[0], gast.Name) and call.args[0].id in stacks and \
            all(k.arg == "axis" and (literal_value(k.value) == 0 or (
                type(literal_value(k.value)) is int and dotted_name(call.func) == "np.stack")) for k in call.keywords):
        return call.args[0].id
    return None


def stack_axis(call) -> int:
    """The axis a conversion puts the list's items along: np.stack(out, axis=1) is the array of the items
    (rt.stack_array(out), along axis 0) with that axis moved to 1."""
    return next((literal_value(k.value) for k in call.keywords if k.arg == "axis"), 0)


def check(unit) -> None:
    """Decline the lists of `unit` reverse mode would get wrong (module docstring), each in the function that binds
    it: a def nested in `unit` that binds a name of its own (`xs = []` in `def build(v)`) has a list of its own, which
    is not its enclosing function's `xs` (it was taken for it: "the list `xs` is bound again to another value" at the
    enclosing function's `xs = build(v)`, "converted to an array twice", h27c)."""
    fn = unit.node
    rows_as_arrays(fn)      # first each converted list's tuple and list items as the rows it makes, so that a
    for scope in [fn] + [d for d in walk(fn) if isinstance(d, gast.FunctionDef) and d is not fn]:
        bound = [s for s in _scope_walk(scope) if isinstance(s, gast.Assign) and any(
            isinstance(t, gast.Name) for t in s.targets)]
        stacks = {s.targets[0].id for s in bound if _empty_list(s)}
        for s in bound:
            for t in s.targets:
                if isinstance(t, gast.Name) and t.id in stacks and not _empty_list(s):
                    _bound_again(unit, s, t.id)
        for name in sorted(stacks):     # (a list appended to a list, rows.append(row), is converted there, whatever
            _check_list(unit, scope, name, stacks)     # order the lists are checked in)


def _bound_again(unit, s, name):
    """Decline `name`, a list built with appends, bound by `s` to another value, naming what that value is."""
    call = s.value if isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Name) else None
    if call is not None and any(isinstance(n, gast.Name) and n.id == name for a in call.args for n in walk(a)):
        fail(s, unit, f"the list `{name}` passed to your function {call.func.id} and bound to what it returns: "
                      "reverse mode differentiates a list built with appends as a stack, in the function that "
                      "builds it", f"append to `{name}` in this function ({name}.append({call.func.id}_item(...)), "
                                   f"the function returning the item), or pass it np.array({name}) and have it "
                                   "return an array")
    fail(s, unit, f"the list `{name}` is bound again to another value", _advice(name))


def _scope_walk(fn, name=None):
    """The nodes of the function `fn` (walk's), but for those of the functions nested in it that bind names of their
    own (each of them, or `name`: a def binding `name`, whose `name` is its own; one that only reads it reads
    `fn`'s, a closure)."""
    nodes = [fn]
    for n in nodes:
        if n is not fn and isinstance(n, (gast.FunctionDef, gast.Lambda)) and (
                name is None or name in _own_names(n)):
            continue
        nodes += [c for c in gast.iter_child_nodes(n)]
    return [n for n in nodes if n is fn or not (isinstance(n, (gast.FunctionDef, gast.Lambda)) and (
        name is None or name in _own_names(n)))]


def _own_names(fn) -> set:
    """The parameters and the names the nested function `fn` binds (not declared nonlocal or global)."""
    out = {a.id for a in fn.args.args + fn.args.kwonlyargs if isinstance(a, gast.Name)}
    if isinstance(fn, gast.FunctionDef):
        outer = {x for n in walk(fn) if isinstance(n, (gast.Nonlocal, gast.Global)) for x in n.names}
        out |= {n.id for n in walk(fn) if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)} - outer
    return out


def rows_as_arrays(fn) -> None:
    """Each list of `fn` converted once: its tuple and list items appended as the rows the conversion makes of
    them (_items_as_arrays). Reverse mode (check) and forward mode (compiler's "generated" pass) both: a list of
    tuples is no stack Numba's rt.stack_array takes ("No implementation of function stack_array")."""
    stacks = list_names(fn)
    for name in sorted(stacks):
        appends = [n for n in walk(fn) if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
                   and n.func.attr == "append" and isinstance(n.func.value, gast.Name) and n.func.value.id == name]
        conversions = [n for n in walk(fn) if conversion_of(n, stacks) == name]
        if len(conversions) == 1:
            _items_as_arrays(fn, appends, conversions[0])


def _check_list(unit, fn, name, stacks):
    allowed, conversions, pops, appends = set(), [], [], []
    nodes = _scope_walk(fn, name)
    for n in nodes:
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) \
                and n.func.value.id == name:
            allowed.add(id(n.func.value))
            (appends if n.func.attr == "append" else pops if n.func.attr == "pop" else []).append(n)
            if n.func.attr not in ("append", "pop"):
                fail(n, unit, f"the list method .{n.func.attr}() of `{name}` is not supported", _advice(name))
            if n.func.attr == "pop" and (n.args or n.keywords):
                fail(n, unit, f"`{name}.pop(...)` at an index: reverse mode differentiates lists as stacks, "
                              "whose pop() takes the last item", "pop() from the end (append the items in the "
                              "order they are popped), or convert the list to an array once and index it")
        elif conversion_of(n, stacks) == name:
            allowed.add(id(n.args[0]))
            conversions.append(n)
        elif isinstance(n, gast.Call) and dotted_name(n.func) == "len" and len(n.args) == 1 and \
                isinstance(n.args[0], gast.Name) and n.args[0].id == name:
            allowed.add(id(n.args[0]))
        elif isinstance(n, gast.Assign) and _empty_list(n) and n.targets[0].id == name:
            allowed.add(id(n.targets[0]))
    if any(isinstance(n, gast.Assign) and any(isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name)
                                              and t.value.id == name for t in n.targets) for n in nodes):
        made = next(n for n in nodes if isinstance(n, gast.Assign) and _empty_list(n) and n.targets[0].id == name)
        fail(made, unit, f"the list `{name}` written here, then written at an index (`{name}[i] = v`): reverse mode "
                         "differentiates lists as stacks (append, pop)",
             f"make it an array: {name} = np.zeros(n) (or np.array([...]) of its items), then {name}[i] = v")
    nested = {id(a) for n in nodes if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute)
              and n.func.attr == "append" for a in n.args}     # `rows.append(row)`: a list appended to a list
    returned = {id(r.value) for r in nodes if isinstance(r, gast.Return)}
    for n in nodes:
        if isinstance(n, gast.Name) and n.id == name and id(n) not in allowed:
            if id(n) in nested:
                fail(n, unit, f"the list `{name}` is appended to another list: reverse mode differentiates lists "
                              "as stacks of arrays, not lists of lists",
                     f"append the array it makes, converted once after its last append: .append(np.array({name}))")
            if id(n) in returned:
                fail(n, unit, f"the list `{name}` returned by the function that builds it with appends: reverse "
                              "mode differentiates such a list as a stack, inside that function",
                     f"return the array of it, np.array({name}) (converted once, after the last append), and work "
                     "on the array where the function is called")
            fail(n, unit, f"the list `{name}` is used other than by append, pop, len or one np.array({name}): "
                          "reverse mode differentiates lists as stacks", _advice(name))
    if not conversions:
        return
    at = conversions[0]
    if len(conversions) > 1:
        returned = [r for r in nodes if isinstance(r, gast.Return) and not any(r is t for t in fn.body)
                    and any(c is n for c in conversions for n in walk(r))]     # (an early one, in a loop or branch)
        fail(conversions[1], unit, f"the list `{name}` is converted to an array twice",
             _exit_advice(name, returned[0], in_loop=_in_loop(fn, returned[0])) if returned else _advice(name))
    if pops:
        fail(pops[0], unit, f"the list `{name}` is both popped and converted to an array", _advice(name))
    bindings = [s for s in nodes if _empty_list(s) and s.targets[0].id == name]
    if len(bindings) > 1:
        fail(bindings[1], unit, f"the list `{name}` is bound to a new list twice and converted to an array",
             _advice(name))
    block = next(b for b in _blocks(fn) if any(s is bindings[0] for s in b))
    first = next(k for k, s in enumerate(block) if s is bindings[0])
    top = next((k for k, s in enumerate(block) if any(n is at for n in walk(s))), None)
    if top is None or top < first or isinstance(block[top], (gast.If, gast.For, gast.While)):
        fail(at, unit, f"np.array({name}) in a loop or a branch of its own, or away from the block that binds "
                       f"`{name} = []` (it may run more than once, or not at all, for one list)", _advice(name))
    between = block[first + 1:top]
    if any(a is n for a in appends for s in block[top:] for n in walk(s)) or any(
            not any(a is n for s in between for n in walk(s)) for a in appends):
        fail(at, unit, f"`{name}` is appended to after np.array({name}), or outside the block that binds it",
             _advice(name))
    jump = next(block_jumps(between), None)
    if jump is not None:
        fail(at, unit, f"np.array({name}) after an early return, break or continue between `{name} = []` and it (on "
                       "that path it does not run)", _exit_advice(name, jump, between, appends, _in_loop(fn, jump)))


def _in_loop(fn, node) -> bool:
    return any(isinstance(s, (gast.For, gast.While)) and any(n is node for n in walk(s)) for s in walk(fn))


def _exit_advice(name, jump, between=(), appends=(), in_loop=True) -> str:
    """What to write instead of the early `jump` (a return, break or continue) on a path that leaves `name`
    unconverted: bind the list after a return that comes before its first append; else leave the loop with
    `break` and convert the list once after it, on every path."""
    at = f" at line {jump.lineno}" if getattr(jump, "lineno", None) else ""
    first = next((k for k, s in enumerate(between) if any(a is n for a in appends for n in walk(s))), None)
    if isinstance(jump, gast.Return) and first is not None and any(
            jump is n for s in between[:first] for n in walk(s)):
        return f"bind `{name} = []` after the return{at}, which comes before its first append"
    if isinstance(jump, gast.Return) and not in_loop:
        return (f"convert `{name}` once, before the branch of the return{at}: `arr = np.array({name})`, and use arr "
                "on every path")
    if isinstance(jump, gast.Return):
        return (f"convert `{name}` once, on every path: instead of the return{at}, keep its value in a name, set "
                f"a flag and `break` out of the loop; after the loop, `arr = np.array({name})`, then return the "
                "kept value if the flag is set")
    kind = "break" if isinstance(jump, gast.Break) else "continue"
    return (f"convert `{name}` once, on every path: instead of the {kind}{at}, set a flag and test it where the "
            f"iteration goes on, so that the code reaches np.array({name})")


def _items_as_arrays(fn, appends, conversion):
    """`pts.append((u, v))` of a list converted once (also of a name bound to tuple literals only, `p = (u, v)`):
    `pts.append(np.array((u, v)))`, the row np.array(pts) makes of it. A stack's items are arrays or numbers: a
    tuple pushed whole had no adjoint (its gradient was silently 0)."""
    values = {}
    for s in walk(fn):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                if isinstance(t, gast.Name):
                    values.setdefault(t.id, []).append(s.value)
    literal = {v for v, vs in values.items() if all(isinstance(e, (gast.Tuple, gast.List)) for e in vs)}
    for a in appends:
        item = a.args[0] if a.args else None
        if isinstance(item, (gast.Tuple, gast.List)) or (isinstance(item, gast.Name) and item.id in literal):
            module = copy.deepcopy(conversion.func.value)      # (the user's name for NumPy: np.array(pts)'s `np`)
            row = gast.Call(func=gast.Attribute(value=module, attr="array", ctx=gast.Load()), args=[a.args[0]],
                            keywords=[])
            a.args[0] = gast.copy_location(row, a.args[0])


def _blocks(fn):
    """Every statement list of `fn` (its body and the blocks nested in it)."""
    out = [fn.body]
    for s in walk(fn):
        out += nested_blocks(s) if isinstance(s, gast.stmt) and s is not fn else []
    return out
