"""Dead code: drop assignments nothing reads, and tapes (stacks) whose pops nothing reads."""
from __future__ import annotations

import gast

from ..astutil import (COMMENT_MARK, dotted_name, is_comment, loaded_names, map_blocks, walk, walk_names, walk_statements,
                       without_statements)

from ..purity import is_pure

__all__ = ["is_pure", "eliminate_dead_code", "drop_dead_stacks"]


def eliminate_dead_code(fn: gast.FunctionDef) -> gast.FunctionDef:
    """Remove pure assignments to names that are never read (and what only they read), loops left
    with nothing to do, and empty branches.

    Linear in the function's size: the reads of each name are counted once; removing an assignment
    releases the reads in its value, and a name whose count drops to zero has its pure assignments
    removed in turn (a worklist, not a rescan of the function per layer of dead code). Removing a
    loop or a branch releases the reads of its header, which may start another round. An empty `for`
    whose variable is read and bound nowhere else stays (a merge after it reads the value it leaves: fuzz
    seed 102158)."""
    loads: dict = {}
    stores: dict = {}    # (an empty loop whose variable, bound nowhere else, is still read stays)
    for n in walk_names(fn):
        counts = loads if isinstance(n.ctx, gast.Load) else stores
        counts[n.id] = counts.get(n.id, 0) + 1
    defs: dict = {}      # name -> its pure assignments not yet removed
    for s in walk_statements(fn.body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and is_pure(s.value):
            defs.setdefault(s.targets[0].id, []).append(s)
    dead: set = set()    # id() of the assignments removed
    todo = [v for v in defs if not loads.get(v)]

    def release(node):
        """The reads under `node` leave the function."""
        for n in walk_names(node):
            if isinstance(n.ctx, gast.Load):
                loads[n.id] -= 1
                if not loads[n.id] and n.id in defs:
                    todo.append(n.id)

    while True:
        while todo:
            for s in defs.pop(todo.pop(), ()):
                dead.add(id(s))
                release(s.value)
        dropped = []     # loops and branches removed by this round's clean-up

        def clean(stmts):
            out = []
            for s in stmts:
                if id(s) in dead:
                    continue
                map_blocks(s, clean)
                if isinstance(s, (gast.For, gast.While)) and all(is_comment(b) for b in s.body):
                    if isinstance(s, gast.For) and any(loads.get(n.id) and stores.get(n.id) == 1
                                                       for n in walk_names(s.target)):
                        s.body = s.body + [gast.Pass()]   # (kept for the value it leaves in its variable)
                    else:
                        dropped.append(s)
                        continue
                if isinstance(s, gast.If):
                    if all(is_comment(b) for b in s.orelse):
                        s.orelse = []
                    if all(is_comment(b) or isinstance(b, gast.Pass) for b in s.body):
                        s.body = []
                if isinstance(s, gast.If) and not s.body and not s.orelse:
                    dropped.append(s)
                    continue
                if (is_comment(s) and out and is_comment(out[-1])
                        and out[-1].value.value[len(COMMENT_MARK):].startswith("line ")):
                    out[-1] = s  # a comment whose statements were all removed
                    continue
                if isinstance(s, gast.If) and not s.body:
                    s.body = [gast.Pass()]
                out.append(s)
            return out

        fn.body = clean(fn.body)
        if not dropped:
            return fn
        for s in dropped:
            release(s)


def drop_dead_stacks(fn: gast.FunctionDef, backward_start) -> gast.FunctionDef:
    """A stack whose popped values the backward sweep never reads (a later pass made its one reader
    scalar or dropped it) is not made: its `s = []`, pushes and pops go, then what only fed them.
    `backward_start`: the statement of `fn.body` the backward sweep follows (reverse.Sweeps)."""
    marks = [k for k, s in enumerate(fn.body) if s is backward_start]
    if not marks:
        return fn
    stacks = {s.targets[0].id for s in fn.body if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
              and isinstance(s.value, gast.List) and not s.value.elts}
    if not stacks:
        return fn
    read = loaded_names(gast.Module(body=fn.body[marks[0] + 1:], type_ignores=[]))
    uses: dict = {}
    for n in walk_names(fn):
        if n.id in stacks:
            uses[n.id] = uses.get(n.id, 0) + 1
    dead, seen = set(stacks), {}
    from ..stacks import popped_from, pushed_to
    for n in walk_statements(fn.body):
        if popped_from(n) is not None:
            st = popped_from(n)
            if st in stacks:
                seen[st] = seen.get(st, 0) + 1
                if not (isinstance(n.targets[0], gast.Name) and n.targets[0].id not in read):
                    dead.discard(st)
        elif pushed_to(n) is not None:
            st = pushed_to(n)
            seen[st] = seen.get(st, 0) + 1
    dead = {st for st in dead if seen.get(st, 0) + 1 == uses.get(st)}    # used by nothing else
    if not dead:
        return fn

    def gone(s):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and s.targets[0].id in dead:
            return True
        call = s.value if isinstance(s, (gast.Assign, gast.Expr)) else None
        return isinstance(call, gast.Call) and (dotted_name(call.func) or "").rsplit(".", 1)[0] in dead

    fn.body = without_statements(fn.body, gone)
    return eliminate_dead_code(fn)
