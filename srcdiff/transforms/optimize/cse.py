"""Common subexpressions: a repeated operation in a block reuses the first result."""
from __future__ import annotations

import gast

from .. import annotations as anno
from ..astutil import (child_fields, loaded_names, nested_blocks, structure_key, walk_names, walk_of,
                       walk_statements, without_statements)


def common_subexpressions(fn: gast.FunctionDef) -> gast.FunctionDef:
    """In SSA code, `b = <same operation as a>` in the same block becomes `b = a` (array reads are
    forgotten when the array is written in between; calls only for rule-table primitives; never for
    arrays written in place)."""
    from ..astutil import dotted_name
    from ..purity import WRITES_INTO
    key = _key
    dead = set()   # ids of the assignments whose value an earlier one computed

    def reads(entry):
        """The names the value of a `seen` entry [name, value, its reads or None] reads."""
        if entry[2] is None:
            entry[2] = loaded_names(entry[1])
        return entry[2]

    def block(stmts):
        seen = _Seen(reads)
        for s in stmts:
            changed, touched = facts[id(s)][1:]
            if changed:     # `lst.pop()`, `lst.append(v)`: `len(lst)` after it is another value
                seen.forget_readers_of(changed)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript):
                seen.forget_readers_of(sharing(s.targets[0].value.id))
                continue
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                k = key(s.value)    # (operands merged above are renamed already: `x - mean` twice is one too)
                if k is not None:
                    # both names bound once: a name a loop rebinds (`for e, f in zip(a, a)` whose body
                    # updates e) holds another value where the merged name is read later
                    first = seen.get(k)
                    if (first is not None and not anno.get(s, anno.PHI) and counts.get(s.targets[0].id) == 1
                            and counts.get(first[0]) == 1
                            and s.targets[0].id not in written and first[0] not in written):
                        rename(s.targets[0].id, first[0])
                        dead.add(id(s))
                    else:
                        seen.add(k, [s.targets[0].id, s.value, None])   # (its reads: when needed)
                if anno.get(s, anno.IN_PLACE) and isinstance(s.value, gast.BinOp) and isinstance(s.value.left, gast.Name):
                    seen.forget_readers_of(sharing(s.value.left.id))    # (`a += v` of an array adds into a's memory)
            else:
                for b in nested_blocks(s):
                    block(b)
                # a nested block may write arrays or rebind loop-carried names
                touched = set(touched)
                if (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
                        and dotted_name(s.value.func) in WRITES_INTO):   # rt.index_add(d_p, ...) writes d_p
                    touched |= {a.id for a in s.value.args if isinstance(a, gast.Name)}
                seen.forget_readers_of({m for t in touched for m in sharing(t)}, named=True)
    counts, loads_of = _counts_and_loads(fn)
    facts = _statement_facts(fn.body, {})
    renames: dict = {}
    # two copies of an array that is later written in place are two arrays (and so are copies of
    # anything sharing its memory: z = y; z[i] = ... changes y)
    from ..memory_sharing import sharing_written_memory
    written = sharing_written_memory(fn)
    sharing = _sharing(fn)

    def rename(b, a):
        """Every read of `b` in the function reads `a` from now on (the reads of the statements before it too, as
        the end of the pass renamed them before: none of them is looked at again but for the names it reads, where
        a and b, bound once and written nowhere, are alike to a write's forgetting)."""
        renames[b] = a
        while a in renames:
            a = renames[a]
        moved = [n for n in loads_of.pop(b, ()) if n.id == b]
        for n in moved:
            n.id = a
        loads_of.setdefault(a, []).extend(moved)

    block(fn.body)
    if dead:
        fn.body = without_statements(fn.body, lambda s: id(s) in dead)
    return fn


def _key(value):
    """The structure key of an operation cse may merge (calls: of rule-table primitives, not random), else None."""
    from ...rules import RULES
    from ..astutil import dotted_name
    if isinstance(value, gast.Call):
        name = dotted_name(value.func)
        if name not in RULES or name.startswith("np.random") or name in ("print", "rt.pop", "rt.stack"):
            return None
    elif not isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Subscript, gast.Compare, gast.Attribute)):
        return None
    return structure_key(value)


def _sharing(fn):
    """name -> the names that may share its memory, itself included (memory_sharing.sharing_groups): a write into an
    array changes what every one of them reads (`b = buf`, then `buf[0] = x`: `b[0]` before and after it are two
    values)."""
    from ..memory_sharing import sharing_groups
    group_of = sharing_groups(fn)
    members: dict = {}
    for n, g in group_of.items():
        members.setdefault(g, []).append(n)
    return lambda name: members.get(group_of.get(name), (name,))


_FACT_KINDS = frozenset((gast.Call, gast.Name, gast.Subscript))     # what _statement_facts looks at
_LIST_CHANGES = frozenset({"append", "pop", "extend", "insert", "clear", "remove", "reverse", "sort"})


def _statement_facts(stmts, out: dict) -> dict:
    """{id(s): (s, the lists s changes (_list_change), the names s binds or writes into by element)} for every
    statement s in `stmts` and in the blocks nested in them, found bottom up: each statement's own fields walked
    once and its nested statements' facts added (not a walk of each statement whole, nested blocks included, for
    each block around it, which grew with the square of the nesting depth). Made before cse changes anything;
    what it renames are loads of names bound once and never written into, which neither set holds."""
    for s in stmts:
        inner = nested_blocks(s)
        parts = [s] if not inner else [v for v in (getattr(s, f, None) for f in child_fields(type(s)))
                                       if v is not None and not any(v is b for b in inner)]
        changed, touched = set(), set()
        for part in parts:
            for n in walk_of(part, _FACT_KINDS):    # (only these: not a yield of every other node)
                kind = type(n)
                if kind is gast.Call:
                    _list_change(n, changed)
                elif kind is gast.Name:
                    if isinstance(n.ctx, gast.Store):
                        touched.add(n.id)
                elif kind is gast.Subscript and isinstance(n.ctx, gast.Store):
                    touched.add(n.value.id)
        for b in inner:
            _statement_facts(b, out)
            for t in b:
                changed |= out[id(t)][1]
                touched |= out[id(t)][2]
        out[id(s)] = (s, changed, touched)
    return out


def _list_change(n, out: set):
    """Add to `out` the list the call `n` changes in place, if any: `lst.append(v)`, `v = lst.pop()` (the user's
    lists, and generated code's stacks), `rt.push(s, v)`, `rt.pop(s)` (generated code differentiated again).
    `len(lst)` before and after such a change differ: merging them read the length the list had before a loop of
    pops (`while len(lst) > 0: s += lst.pop()` then `len(lst) * x` gave 3 * x for 0, value and gradient: h21a's
    adversarial programs)."""
    from ..astutil import dotted_name
    f = n.func
    if dotted_name(f) in ("rt.push", "rt.pop"):
        if n.args and isinstance(n.args[0], gast.Name):
            out.add(n.args[0].id)
    elif isinstance(f, gast.Attribute) and f.attr in _LIST_CHANGES and isinstance(f.value, gast.Name):
        out.add(f.value.id)


def _counts_and_loads(fn) -> tuple:
    """(assign_counts(fn), {name: its Name loads in fn}) in one walk: cse renames the loads of a name it merges
    at once, by this index (the function's nodes stay while it runs), not by walking each value and then the
    whole function again."""
    counts: dict = {}
    loads: dict = {}
    for n in walk_names(fn):
        ctx = type(n.ctx)
        if ctx is _LOAD:
            got = loads.get(n.id)
            if got is None:
                loads[n.id] = [n]
            else:
                got.append(n)
        elif ctx is _STORE or ctx is _PARAM:
            counts[n.id] = counts.get(n.id, 0) + 1
    for n in walk_statements(fn.body):
        if isinstance(n, gast.For):
            counts[n.target.id] = counts.get(n.target.id, 0) + 1
    return counts, loads


_LOAD, _STORE, _PARAM = gast.Load, gast.Store, gast.Param


class _Seen:
    """A block's operations seen so far: structure key -> [name, value, its reads or None], with the entries
    that read each name (and those bound to it) indexed once the block first writes something, so that a
    write forgets the operations reading what it changes without looking at every other one (a long block of
    element writes, `out[k] = s * 2.0`, was quadratic). `reads(entry)`: the names an entry's value reads."""

    def __init__(self, reads):
        self.entries: dict = {}
        self.reads = reads
        self.by_read = None     # name -> [(key, entry)] whose value reads it (built at the first write)
        self.by_name: dict = {}     # name -> [(key, entry)] bound to it (with by_read)

    def get(self, k):
        return self.entries.get(k)

    def add(self, k, entry):
        self.entries[k] = entry
        if self.by_read is not None:
            self._index(k, entry)

    def _index(self, k, entry):
        for name in self.reads(entry):
            self.by_read.setdefault(name, []).append((k, entry))
        self.by_name.setdefault(entry[0], []).append((k, entry))

    def forget_readers_of(self, names, named: bool = False):
        """Forget the entries whose value reads one of `names` (`named`: or that are bound to one of them)."""
        if not self.entries:
            return
        if self.by_read is None:
            self.by_read = {}
            for k, entry in self.entries.items():
                self._index(k, entry)
        entries = self.entries
        for name in names:
            for k, entry in self.by_read.pop(name, ()):
                if entries.get(k) is entry:
                    del entries[k]
            if named:
                for k, entry in self.by_name.pop(name, ()):
                    if entries.get(k) is entry:
                        del entries[k]
