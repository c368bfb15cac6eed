"""The "caller's arrays" pass of compiler.REVERSE: an argument array the function writes into is left as f leaves it.

`def f(x, y): x[i] = x[i] * y[i]; ...` changes the caller's `x`, in Python. The gradient's forward sweep writes
the caller's array as f does, but its backward sweep restores the values the writes overwrote (it reads them:
`d_y[i] = d_x3 * x[i]` needs the old `x[i]`), so after grad, value_and_grad or vjp the caller's array was as it was
before the call, unlike after f (silently: only where the restore was dead code, x differentiated and nothing read
after it, did it match Python). Here, where the backward sweep still writes into a parameter that the forward sweep
writes into, the array's state at the end of the forward sweep is kept (`x_final = rt.copy(x)`) and written back
into it before the function returns (`x[:] = x_final`): the caller's array ends as f leaves it. A function that
writes into no argument, or whose restores are dead, is left as it is (no copy). Forward mode (jvp) computes in
one sweep, as f does: its writes are Python's already; srcdiff.forward_api copies only the tangents it writes."""
from __future__ import annotations

import gast

from . import annotations as anno
from .activity import SCATTER
from .astutil import assign, call, comment, const, dotted_name, load, walk_names, walk_of, walk_statements
from .kind_type import is_array, ndim
from .memory_sharing import memory_roots

_WRITES = {gast.Assign, gast.AugAssign, gast.Call}   # the nodes written_arrays looks at

MODES = ("grad", "value_and_grad", "vjp")   # the function the user calls (a callee's pullback is not)


class _Any:
    """The set of every name (written_arrays' `names`: what it finds is not filtered)."""
    def __contains__(self, name) -> bool:
        return True

    def __bool__(self) -> bool:
        return True


ANY = _Any()


def second_names(fn, params) -> dict:
    """name -> the parameter of `params` whose array it may name: each parameter itself, and the names `fn` binds
    to one of those by a plain copy (`M1 = M`: an inlined call's parameter, `M_caller = M1` of a gradient
    differentiated again, where srcdiff's gradient of a function that writes into its argument M is called). A
    name also bound to other values counts too: a write through it may be one into the parameter's array, and
    the array's state kept and written back when it is not is the state it has."""
    out = {p: p for p in params}
    copies = [(s.targets[0].id, s.value.id) for s in walk_of(fn, {gast.Assign})
              if len(s.targets) == 1 and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)]
    grew = True
    while grew:     # (the copies are gathered in one walk; a chain of them may come in any order)
        grew = False
        for target, source in copies:
            if source in out and target not in out:
                out[target] = out[source]
                grew = True
    return out


def written_arrays(stmts, names) -> set:
    """Those of `names` that `stmts` write into, element by element or by slice (`x[i] = v`, `x[i] += v`, a
    scatter-add `rt.index_add(x, idx, v)`); `names` ANY: every name they write into so. Only assignments and calls
    are visited (walk_of; a set: any order)."""
    out = set()
    if not names:
        return out
    for s in (n for st in stmts for n in walk_of(st, _WRITES)):
        targets = s.targets if isinstance(s, gast.Assign) else [s.target] if isinstance(s, gast.AugAssign) else []
        for t in targets:
            while isinstance(t, gast.Subscript):
                t = t.value
                if isinstance(t, gast.Name) and t.id in names:
                    out.add(t.id)
        if isinstance(s, gast.Call) and dotted_name(s.func) in SCATTER and s.args and isinstance(s.args[0], gast.Name) \
                and s.args[0].id in names:
            out.add(s.args[0].id)
    return out


def _rerun_writes(body: list, at: int, names: set) -> set:
    """Those of `names` that the reruns of checkpointed loops in the backward sweep (`body[at:]`) will write: a
    rerun is a placeholder until the checkpoints pass fills it in (annotations.RERUN, its segment variable), with
    the snapshot's restore and the loop's body, so it writes what its forward loop (annotations.CHECKPOINT) does
    (`a[t] = ...` in a checkpointed loop, `b = a * 1.0` after it: the caller's a was left as the first segment's
    rerun left it, fuzz seed 23028)."""
    loops = {}
    for s in walk_statements(body[:at]):
        plan = anno.get(s, anno.CHECKPOINT)
        if plan is not None:
            loops[plan.segment] = s
    out = set()
    for s in walk_statements(body[at:]):
        loop = loops.get(anno.get(s, anno.RERUN))
        if loop is not None:
            out |= written_arrays(loop.body, names)
    return out


def leave_as_f_leaves(fn, sweeps, user: str, checkpointed: bool = False):
    """`fn` (reverse mode's gradient of the user's function named `user`, its `sweeps`) with each parameter array
    that both sweeps write into copied at the end of the forward sweep and written back before the return (module
    docstring). A restore that nothing after it in the backward sweep reads is dropped first (not where loops are
    checkpointed: their reruns, made later, read the array): where that leaves the array unrestored, it ends as f
    leaves it already, and no copy is made."""
    body = fn.body
    at = next((k for k, s in enumerate(body) if s is sweeps.backward_start), None)
    if at is None or not isinstance(body[-1], gast.Return):
        return fn
    written = written_arrays(body[at:], ANY)
    if not written and not checkpointed:
        return fn       # (the backward sweep writes into no array: the function is not walked for its copies)
    params = [a.id for a in fn.args.args]
    names = second_names(fn, params)
    # and the views of them the function writes through (`y = x[1:]`, `x.T`, np.reshape, np.asarray, then `y[0] = v`:
    # the backward sweep's restore `y[0] = y_old` wrote into the caller's x too, which grad, value_and_grad, vjp and
    # hessian left as it was before the call, not as f leaves it, h24a)
    views = _views(fn, sweeps.kinds, names)
    names = {**names, **views}
    reruns = _rerun_writes(body, at, names) if checkpointed else set()
    restored = (written & names.keys()) | reruns   # (the forward sweep looked at only where the backward writes)
    restored = restored and restored & written_arrays(body[:at], names)
    if not restored:
        return fn       # (most gradients: the function is not walked for its bindings)
    # a parameter bound again, `M = 0.5 * M` after `M[1] = v`, is the caller's array until then: it is held under a
    # name of its own from the start, `M_caller = M`, and written back through it
    rebound = {n.id for n in walk_names(fn) if isinstance(n.ctx, gast.Store)}
    backward = body[at:-1] if checkpointed else _without_dead_restores(body[at:-1], restored, names, views)
    restored = {names[n] for n in restored & (written_arrays(backward, names) | reruns)}
    keep, put, held = [], [], []
    for p in (p for p in params if p in restored):
        final = sweeps.namer.fresh(f"{p}_final")
        sweeps.kinds[final] = sweeps.kinds.get(p)
        caller = p
        if p in rebound:
            caller = sweeps.namer.fresh(f"{p}_caller")
            sweeps.kinds[caller] = sweeps.kinds.get(p)
            held.append(assign(caller, load(p)))
        keep.append(assign(final, call("rt.copy", load(caller))))
        k = sweeps.kinds.get(p)     # (a 0-d array, which `x[:]` cannot index: `x[...]`)
        whole = const(Ellipsis) if is_array(k) and ndim(k) == 0 else gast.Slice(lower=None, upper=None, step=None)
        put.append(assign(gast.Subscript(value=load(caller), slice=whole, ctx=gast.Store()), load(final)))
    if keep:
        arrays = ", ".join(p for p in params if p in restored)
        keep.insert(0, comment(f"the caller's {arrays} as {user} leaves it, written back at the end"))
        put.insert(0, comment(f"the caller's {arrays}: left as {user} leaves it"))
    fn.body = held + body[:at] + keep + backward + put + [body[-1]]
    return fn


def _views(fn, kinds, names: dict) -> dict:
    """name -> the parameter whose array it may view (memory_sharing.memory_roots: `c = M[:, 0]`, through branch
    merges and loop copies), for the parameters and copies of them in `names` (second_names)."""
    roots = memory_roots(fn, kinds or {})
    return {n: names[r] for n, r in roots.items() if r in names and n not in names}


def _without_dead_restores(backward: list, arrays: set, names: dict, views: dict) -> list:
    """The backward sweep's statements without its restores of `arrays` (`x[0] = x_old`, at its top level) that
    no statement after them reads the array in, under any of its `names` (second_names) or through a view of it
    (`views`: a view the forward sweep took, `c = M[:, 0]` in a branch, read by the backward sweep after the
    restore, sees the restored array; reverse over reverse of a function that writes M[0, 0] and returns
    `np.sum(M[:, 0] * M[:, 0]) ** 2` from a branch, nested fuzz seed 1021004, had a wrong second derivative)."""
    out, read = [], set()
    for s in reversed(backward):
        t = s.targets[0] if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) and t.value.id in arrays \
                and names[t.value.id] not in read:
            continue
        read |= {names.get(n.id, views.get(n.id, n.id)) for n in walk_names(s) if isinstance(n.ctx, gast.Load)}
        out.append(s)
    return out[::-1]
