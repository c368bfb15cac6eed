"""Copy propagation: `a = b` with a assigned once uses b for a, where nothing binds b again before a's reads;
copies back (`a = b` ... `b = a`, neither bound between) dropped; a copy that is its value's only read coalesced."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import child_fields, dotted_name, is_comment, map_blocks, nested_blocks, walk_names, walk_statements
from ..kind_type import dtype, is_array, ndim
from ..kind_exprs import expr_kind
from .deadcode import without_lone_line_comments

_LOAD = gast.Load
_BINDS = (gast.Store, gast.Param)


def _index(fn: gast.FunctionDef):
    """(counts, reads, loads, binds, where, blocks) of `fn`: the assignments of each name, the loads of each
    name (the nodes, and how many times the tree holds one: a node can sit in two places), the position of
    each load's statement in each enclosing block, and the blocks indexed (kept alive so that no other list
    takes their ids); one walk of each statement."""
    counts: dict = {}    # name -> assignments (parameters and stores; a for loop's target counts twice)
    loads: dict = {}     # name -> the loads of that name in the function, each place a node sits counted
    reads: dict = {}     # name -> {id(Name node): node}, the loads of that name in the function (a copy's target)
    binds: dict = {}     # name -> [id(Name node)], the stores of that name in the function's statements (a copy's value)
    where: dict = {}     # id(Name node) -> {id(block): index of the statement holding it there}
    blocks = []          # every block indexed, kept alive so that no other list takes its id
    # only the reads of a copy's target and the binds of a copy's value are asked for, and placed (renaming a read
    # of a to b keeps its node, and b is a copy's value): most names are neither
    targets, values = set(), set()
    for s in walk_statements(fn.body):
        if type(s) is gast.Assign and type(s.value) is gast.Name and type(s.targets[0]) is gast.Name:
            targets.add(s.targets[0].id)
            values.add(s.value.id)

    def place(n, block, k):
        """Note that the name node `n` is in statement k of `block` (by id; the first statement it is met in)."""
        at = where.get(id(n))
        if at is None:
            where[id(n)] = {block: k}
        elif block not in at:
            at[block] = k

    def index(stmts, outer):
        """Index the loads of `stmts` and of the blocks nested in them, each name node met once: its position is
        noted in its own block and in each block around it (`outer`: [(id(block), index of the statement there
        holding this block)], outermost first); also count the assignments and collect the loads by name
        (assign_counts and the reads of the whole function, without walking it twice more). (Not a walk of each
        statement with its nested blocks for every block around them: that grew with the nesting depth.)"""
        blocks.append(stmts)
        here = id(stmts)
        for k, s in enumerate(stmts):
            inner = nested_blocks(s)
            if inner:   # (the statement's own fields: its header; its blocks are indexed below)
                parts = [v for v in (getattr(s, f, None) for f in child_fields(type(s)))
                         if v is not None and not any(v is b for b in inner)]
            else:
                parts = s
            for n in walk_names(parts):
                ctx = type(n.ctx)
                if ctx is _LOAD:
                    if n.id in targets:
                        for block, j in outer:
                            place(n, block, j)
                        place(n, here, k)
                        r = reads.get(n.id)
                        if r is None:
                            reads[n.id] = {id(n): n}
                        else:
                            r[id(n)] = n
                    loads[n.id] = loads.get(n.id, 0) + 1
                elif ctx in _BINDS:
                    if n.id in values:
                        for block, j in outer:
                            place(n, block, j)
                        place(n, here, k)
                        binds.setdefault(n.id, []).append(id(n))
                    counts[n.id] = counts.get(n.id, 0) + 1
            if inner:
                around = outer + [(here, k)]
                for b in inner:
                    index(b, around)

    for n in walk_names([fn.args, fn.decorator_list, fn.returns]):   # parameters (and annotations)
        if isinstance(n.ctx, _BINDS):
            counts[n.id] = counts.get(n.id, 0) + 1
        elif isinstance(n.ctx, gast.Load):
            if n.id in targets:
                reads.setdefault(n.id, {})[id(n)] = n
            loads[n.id] = loads.get(n.id, 0) + 1
    index(fn.body, [])
    for t in walk_statements(fn.body):
        if type(t) is gast.For:
            counts[t.target.id] = counts.get(t.target.id, 0) + 1
    return counts, reads, loads, binds, where, blocks


def propagate_copies(fn: gast.FunctionDef, rebound: bool = False) -> gast.FunctionDef:
    """`a = b` where `a` is assigned once: use b for a in the rest of the block, drop the copy (`_propagate`)."""
    return _propagate(fn, rebound)[0]


def propagate_and_coalesce(fn: gast.FunctionDef, rebound: bool = False) -> gast.FunctionDef:
    """propagate_copies, then coalesce_copies with the counts of names propagate_copies's index leaves (the
    function is not walked again to count them)."""
    fn, loads, stores = _propagate(fn, rebound)
    return coalesce_copies(fn, (loads, stores))


def _propagate(fn: gast.FunctionDef, rebound: bool) -> tuple:
    """(fn, loads, stores): `a = b` where `a` is assigned once: use b for a in the rest of the block, drop the copy.

    Only when every read of `a` in the function comes after the copy in its block (a name read
    outside the block it is defined in cannot be renamed locally), and `b` is assigned once or, with
    `rebound` (the late copies pass, after the passes that find adjoints by their copies: logdomain's
    fuse_adjoints), also where b is assigned more than once
    (an adjoint that accumulates: `d_y6 = d_y`, `d_y6 += ...`, `d_y5 = d_y6`, `d_y4 = d_y5 * 0.01`),
    no statement of the block between the copy and a's last read binds b again (nor the one holding that
    read: `d_v = rt.f(d_v, ...)` from `d_w = d_v; d_v = rt.f(d_w, ...)` would make forward mode over the
    gradient, hvp, read the new d_v for the old), and `a` is not returned (its name says what the
    function returns: `d_log_pi = d_log_alpha`). Both names are then one object throughout, so a
    write into it through either is the same write. Linear in the function's size: the reads and binds of
    each name and the position of each one's statement in each enclosing block are indexed once, and kept
    up to date as reads are renamed and copies dropped. `loads`, `stores`: the Name loads and binds (a for
    loop's target twice) of each name in the function returned, as coalesce_copies counts them."""
    counts, reads, loads, binds, where, blocks = _index(fn)

    def rebinds(b, stmts, k, here, reads_of_a):
        """Whether a statement of `stmts` after the k-th, up to the last of `reads_of_a`, binds `b`."""
        last = max(where[i][here] for i in reads_of_a)
        if any(isinstance(stmts[where[i][here]], gast.Return) for i in reads_of_a):
            return True     # (a returned copy names what it returns: `d_log_pi = d_log_alpha`, not d_log_alpha)
        for i in binds.get(b, ()):
            p = where.get(i, {}).get(here)
            if p is not None and k < p <= last:
                return True
        return False

    def forget(s):
        for n in walk_names(s):
            if isinstance(n.ctx, gast.Load):
                reads.get(n.id, {}).pop(id(n), None)

    def nested(old):
        new = block(old)
        kept = {id(t) for t in new}
        for t in old:          # copies dropped from a nested block leave the function now
            if id(t) not in kept:
                forget(t)
        return new

    def block(stmts):
        out = []
        here = id(stmts)
        for k, s in enumerate(stmts):
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and isinstance(s.value, gast.Name)
                    and counts.get(s.targets[0].id) == 1 and not anno.get(s, anno.PHI)):
                a, b = s.targets[0].id, s.value.id
                reads_of_a = reads.get(a, {})
                elsewhere = any(where.get(i, {}).get(here, -1) <= k for i in reads_of_a)
                if not elsewhere and (counts.get(b, 0) <= 1 or rebound and (
                        not reads_of_a or not rebinds(b, stmts, k, here, reads_of_a))):
                    moved = reads.pop(a, {})
                    for n in moved.values():
                        n.id = b
                    reads.setdefault(b, {}).update(moved)
                    loads[b] += loads.pop(a, 0) - 1    # (a's loads are b's now; the copy's load of b is gone)
                    counts[a] -= 1
                    continue
            out.append(map_blocks(s, nested))
        return out
    fn.body = block(fn.body)
    return fn, loads, counts


def coalesce_copies(fn: gast.FunctionDef, counts: tuple | None = None) -> gast.FunctionDef:
    """`b = e` ... `a = b`, where the copy is b's only read and b is assigned nowhere else: `a = e`.

    SSA leaves such copies where a branch merges a value into the name both arms bind (`s3 = s + s2` then
    `s4 = s3` in one arm, `s4 = s` in the other); propagate_copies cannot rename `a` away, since `a` is
    assigned more than once. Binding `a` at b's definition instead is the same program when nothing reads
    or writes `a` between the two statements (both in one block) and nothing else reads `b`. Loop-carried
    copies (annotated PHI) stay: later passes find a loop's carried names by them. `counts`: (loads, stores)
    of each name, a for loop's target counted twice (propagate_and_coalesce has them), else counted here."""
    if counts is None:
        reads, stores = _name_counts(fn)
    else:
        reads, stores = counts
    for t in walk_statements(fn.body):
        if isinstance(t, gast.AugAssign) and isinstance(t.target, gast.Name):
            reads[t.target.id] = reads.get(t.target.id, 0) + 1

    def simple(s):
        return (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name))

    def touches(stmts, name) -> bool:
        return any(n.id == name for s in stmts for n in walk_names(s)) or any(
            isinstance(t, gast.AugAssign) and isinstance(t.target, gast.Name) and t.target.id == name
            for t in walk_statements(stmts))

    def block(stmts):
        for s in stmts:
            map_blocks(s, block)
        defined = {}       # name -> position in stmts of its (single) definition
        dropped = set()
        for k, s in enumerate(stmts):
            if not simple(s):
                continue
            a = s.targets[0].id
            if isinstance(s.value, gast.Name) and not anno.get(s, anno.PHI):
                b = s.value.id
                j = defined.get(b)
                if (j is not None and a != b and reads.get(b) == 1 and stores.get(b) == 1
                        and not (isinstance(stmts[j].value, gast.Name) and stmts[j].value.id == a)
                        and not touches(stmts[j + 1:k], a)):
                    stmts[j].targets[0].id = a      # (a's stores: one dropped, one renamed to it; b's gone)
                    dropped.add(k)
                    stores[b] = reads[b] = 0
                    defined.pop(b)
                    defined[a] = j
                    continue
            defined[a] = k
        return [s for k, s in enumerate(stmts) if k not in dropped]

    fn.body = block(fn.body)
    return fn


def _name_counts(fn, augmented: bool = False) -> tuple:
    """({name: Name loads}, {name: binds, a for loop's target counted twice}) over `fn` (`augmented`: `a += e`
    counted once more as a read and as a bind of a)."""
    reads: dict = {}
    stores: dict = {}
    for n in walk_names(fn):
        if isinstance(n.ctx, _LOAD):
            reads[n.id] = reads.get(n.id, 0) + 1
        elif isinstance(n.ctx, _BINDS):
            stores[n.id] = stores.get(n.id, 0) + 1
    for t in walk_statements(fn.body):
        if augmented and isinstance(t, gast.AugAssign) and isinstance(t.target, gast.Name):
            reads[t.target.id] = reads.get(t.target.id, 0) + 1
            stores[t.target.id] = stores.get(t.target.id, 0) + 1
        elif isinstance(t, gast.For):
            for n in walk_names(t.target):
                stores[n.id] = stores.get(n.id, 0) + 1
    return reads, stores


def drop_copy_backs(fn: gast.FunctionDef) -> gast.FunctionDef:
    """`a = b` ... `b = a` in one block with neither name bound between: `b` already holds `a`'s value, so the
    second statement is dropped. The backward sweep leaves these where a loop's carried adjoint enters an
    iteration (`d_v4 = d_v`) and the first adjoint of the user's line hands it back (`d_v = d_v4`); with the
    copy back gone, copy propagation reads `d_v` for `d_v4` (`d_v3 = -d_v`). One pass over each block; a branch of
    an `if` starts from what its block saw (`d_s5 = d_s`, then `d_s = d_s5` in both branches of the adjoint of a
    loop body's `continue`)."""

    def block(stmts, known=None):
        copied = dict(known or {})       # a -> b: `a = b` seen, neither name bound since
        holders = {}                     # b -> {a: copied[a] == b}
        for a, b in copied.items():
            holders.setdefault(b, set()).add(a)
        out = []
        for s in stmts:
            if isinstance(s, gast.If):   # a branch runs once, after what the block saw: its copies back too
                s.body, s.orelse = block(s.body, copied), block(s.orelse, copied)
                if _idle(s.orelse):
                    s.orelse = []
                if _idle(s.body) and s.orelse:   # `if c: pass / else: ...` reads `if not c: ...`
                    s.test = gast.UnaryOp(op=gast.Not(), operand=s.test)
                    s.body, s.orelse = s.orelse, []
                elif _idle(s.body):
                    s.body = [gast.Pass()]
            else:
                map_blocks(s, block)
            if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                    and isinstance(s.value, gast.Name)):
                a, b = s.value.id, s.targets[0].id
                if copied.get(a) == b:
                    continue                  # `b = a` right after `a = b`: b is a already
            for name in {n.id for n in walk_names(s) if isinstance(n.ctx, _BINDS)}:
                for a in holders.pop(name, ()):
                    copied.pop(a, None)
                b = copied.pop(name, None)
                if b is not None:
                    holders.get(b, set()).discard(name)
            if (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
                    and isinstance(s.value, gast.Name) and s.targets[0].id != s.value.id):
                copied[s.targets[0].id] = s.value.id
                holders.setdefault(s.value.id, set()).add(s.targets[0].id)
            out.append(s)
        return out

    fn.body = block(fn.body)
    return fn


def _idle(stmts) -> bool:
    return all(is_comment(b) or isinstance(b, gast.Pass) for b in stmts)


def coalesce_carried(fn: gast.FunctionDef, scalars=frozenset()) -> gast.FunctionDef:
    """A loop body's `b = e` ... `a = b`, the copy carrying b into the next iteration (annotated PHI): `a = e`,
    b's reads since read a (`i1 = i + 1; go1 = i1 < n; ...; i = i1` -> `i = i + 1; go1 = i < n`), where b is
    bound once, every read of b is in the body between the two statements (none in the backward sweep, none
    in the tape's pop), and nothing there reads or binds a (the old value: a push of it, `b1 = a * 2`). After
    the passes that find a loop's carried names by its PHI copies (reverse, checkpoints); a person writes
    `i = i + 1`, not a second name copied back. A push of a (one of `scalars`) between is moved before b's
    definition, where a holds the same value (`n1 = n + 1; ...; n_stack.append(n); n = n1` -> `n_stack.append(n);
    n = n + 1`): a scalar, which no statement writes in place."""
    loops = [t for t in walk_statements(fn.body) if isinstance(t, (gast.For, gast.While))]
    if not any(anno.get(s, anno.PHI) for loop in loops for s in loop.body):
        return fn       # (no carried copy: the function is not counted; a straight-line one has no loop)
    reads, stores = _name_counts(fn, augmented=True)

    def uses(stmts, name) -> int:
        return sum(1 for s in stmts for n in walk_names(s) if n.id == name) + sum(
            1 for t in walk_statements(stmts) if isinstance(t, gast.AugAssign) and isinstance(t.target, gast.Name)
            and t.target.id == name)

    def body(stmts):
        dropped = set()
        for k, s in enumerate(stmts):
            if not (anno.get(s, anno.PHI) and isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and isinstance(s.value, gast.Name)):
                continue
            a, b = s.targets[0].id, s.value.id
            j = next((j for j in range(k - 1, -1, -1) if isinstance(stmts[j], gast.Assign)
                      and len(stmts[j].targets) == 1 and isinstance(stmts[j].targets[0], gast.Name)
                      and stmts[j].targets[0].id == b), None)
            if (j is None or a == b or stores.get(b) != 1 or isinstance(stmts[j].value, gast.Name)
                    or uses(stmts[j + 1:k], b) != reads.get(b, 0) - 1):
                continue
            pushes = [p for p in range(j + 1, k) if uses([stmts[p]], a)]
            if pushes and not (a in scalars and all(_pushed(stmts[p]) == a for p in pushes)):
                continue
            moved = [stmts[p] for p in pushes]
            stmts[j + 1:k] = [t for p, t in enumerate(stmts[j + 1:k], j + 1) if p not in pushes]
            stmts[j:j] = moved
            j += len(moved)
            stmts[j].targets[0].id = a
            for t in stmts[j + 1:k]:
                for n in walk_names(t):
                    if n.id == b:
                        n.id = a
            dropped.add(k)
            stores[a] -= 1
            reads[b] = stores[b] = 0
        return [s for k, s in enumerate(stmts) if k not in dropped]

    changed = []
    for loop in loops:
        old = loop.body
        loop.body = body(old)
        if len(loop.body) != len(old):
            changed.append(loop)
    # a body that lost a copy may end in a line comment with no code left under it: dropped (outer loops first;
    # the rest of the function is as the late copies pass left it, without such comments)
    for loop in changed:
        loop.body = without_lone_line_comments(loop.body)
    return fn


def _pushed(s):
    """The name a push statement pushes (`v_stack.append(v)`, `rt.push(v_stack, v)`), else None."""
    if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and s.value.args
            and isinstance(s.value.args[-1], gast.Name)):
        return None
    f = s.value.func
    if isinstance(f, gast.Attribute) and f.attr == "append" and isinstance(f.value, gast.Name) and len(s.value.args) == 1:
        return s.value.args[0].id
    if (isinstance(f, gast.Attribute) and f.attr == "push" and isinstance(f.value, gast.Name) and f.value.id == "rt"
            and len(s.value.args) == 2):
        return s.value.args[1].id
    return None


def merge_copy_then_add(fn: gast.FunctionDef, kinds: dict | None = None) -> gast.FunctionDef:
    """`t = a` followed by `t = t + e` in the same line's block (an adjoint's first contribution copied, the next
    added to it: a value read twice in one line, `d_u = d_r` then `d_u = d_u + d_r`) -> `t = a + e` in the second's
    place, where e does not read t and the statements between are plain ones that neither name t nor bind a (t
    names a's memory until then: a write into it between is seen the same). Propagation keeps the copy (t is bound
    twice). A copy `t = rt.copy(a)` with only line comments between it and an add into it, `t += e`, moves down to the
    add, under its line's comment (the copy a loop's backward sweep made before the loop, left alone under the
    loop's comment where dead code emptied the loop; that comment then goes, having no code). `kinds` (those of a
    function whose floats are all float64: seed_ones.floats_stay_float64), the copy and the add are one sum,
    `t = a + e`, where t is an array of floats and e's kind is known, of no higher rank: the same value, dtype and
    shape (a float32 t would keep float32 in the add, not in the sum)."""
    def block(stmts):
        out = []
        for s in stmts:
            map_blocks(s, block)
            k = _copy_merged_into(out, s)
            if k is not None:
                s.value.left = out[k].value
                del out[k]
            k = _copy_added_into(out, s)
            if k is not None:
                out.append(out.pop(k))
            elif out and _copy_of(out[-1], s):
                k = len(out) - 1
            if k is not None and kinds is not None and _sum_keeps_kind(s, kinds):
                out[-1] = gast.copy_location(gast.Assign(
                    targets=[s.target], value=gast.BinOp(left=out[-1].value.args[0], op=gast.Add(), right=s.value),
                    type_comment=None), s)
                continue
            out.append(s)
        return out
    fn.body = block(fn.body)
    return fn


def _copy_merged_into(out: list, s):
    """The index in `out` of the copy `t = a` that `s`, `t = t + e`, takes as its left operand, else None."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.BinOp) and isinstance(s.value.op, gast.Add)
            and isinstance(s.value.left, gast.Name) and s.value.left.id == s.targets[0].id):
        return None
    t = s.targets[0].id
    if any(n.id == t for n in walk_names(s.value.right)):
        return None
    for k in range(len(out) - 1, -1, -1):
        prev = out[k]
        if _copy_of_name(prev) and prev.targets[0].id == t:
            if anno.get(prev, anno.PHI) or anno.get(prev, anno.MERGE):
                return None
            source = prev.value.id
            between = out[k + 1:]
            if any(isinstance(n.ctx, (gast.Store, gast.Del)) and n.id == source or n.id == t
                   for b in between for n in walk_names(b)):
                return None
            return k
        if is_comment(prev) or not isinstance(prev, (gast.Assign, gast.AugAssign, gast.Expr)):
            return None
    return None


def _sum_keeps_kind(s, kinds: dict) -> bool:
    """`t += e` (s) computes what `t + e` does, of the same dtype and shape: t an array of floats, e of a known
    dtype and a rank no higher than t's (all floats float64: merge_copy_then_add)."""
    t, e = kinds.get(s.target.id), expr_kind(s.value, kinds)
    return (is_array(t) and dtype(t) == "f" and ndim(t) is not None and dtype(e) in ("f", "i", "b")
            and ndim(e) is not None and ndim(e) <= ndim(t))


def _copy_of(prev, s) -> bool:
    """`prev` is `t = rt.copy(a)` and `s` is `t += e`."""
    return (type(s) is gast.AugAssign and isinstance(s.op, gast.Add) and type(s.target) is gast.Name
            and type(prev) is gast.Assign and len(prev.targets) == 1 and type(prev.targets[0]) is gast.Name
            and prev.targets[0].id == s.target.id and type(prev.value) is gast.Call and not prev.value.keywords
            and len(prev.value.args) == 1 and type(prev.value.args[0]) is gast.Name
            and dotted_name(prev.value.func) == "rt.copy")


def _copy_added_into(out: list, s):
    """The index in `out` of `t = rt.copy(a)` where `s` is `t += e` and only line comments (one at least) sit between
    them, else None."""
    if not (type(s) is gast.AugAssign and isinstance(s.op, gast.Add) and type(s.target) is gast.Name):
        return None
    k = len(out) - 1
    while k >= 0 and is_comment(out[k]):
        k -= 1
    if k < 0 or k == len(out) - 1:
        return None
    return k if _copy_of(out[k], s) else None


def _copy_of_name(s) -> bool:
    """`t = a` of two names."""
    return (isinstance(s, gast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.Name) and s.value.id != s.targets[0].id)
