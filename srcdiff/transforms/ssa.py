"""The "ssa" pass of compiler.MIDDLE_END.

Static single assignment over structured control flow.

A user variable's first definition keeps its name; later ones get x_1, x_2, ... Branches end with
copies into a merge name; loops keep the name a variable has on entry as the loop-carried name and
copy the body's last version back into it at the end of each iteration (annotated PHI).
A name first bound inside a loop body but read, in some iteration, before the body binds it again
(`prev` in `if i > 0: s += prev * x[i]` / `prev = x[i]`) is loop-carried too: undefined on entry.
Arrays written in place (`x[i] = v`) keep their name: the write mutates the same array.
"""
from __future__ import annotations

import gast

from . import annotations as anno
from .astutil import Namer, assign, assigned_names, load, names_in, walk_names


def exposed_reads(stmts, have=frozenset()) -> set:
    """Names read in `stmts` at a point where the block itself may not have bound them yet (those
    in `have` count as bound): a loop body's reads of values from the previous iteration."""
    found = set()

    def reads(node, have):
        found.update(n.id for n in walk_names(node) if isinstance(n.ctx, gast.Load) and n.id not in have)

    def block(stmts, have):
        """`have` (a set this block may extend: callers pass a copy) -> the names bound after it."""
        for s in stmts:
            if isinstance(s, gast.Assign):
                reads(s.value, have)
                t = s.targets[0]
                if isinstance(t, gast.Name):
                    have.add(t.id)
                else:       # (a tuple target binds its names)
                    reads(t, have)
                    have.update(n.id for n in walk_names(t) if isinstance(n.ctx, gast.Store))
            elif isinstance(s, gast.If):
                reads(s.test, have)
                have = block(s.body, set(have)) & block(s.orelse, set(have))
            elif isinstance(s, gast.For):
                reads(s.iter, have)
                block(s.body, have | {s.target.id})
            elif isinstance(s, gast.While):
                reads(s.test, have)
                block(s.body, set(have))
            else:
                reads(s, have)
        return have

    block(stmts, set(have))
    return found


def _rename_loads(node, env):
    for n in walk_names(node):
        if n.id in env and isinstance(n.ctx, gast.Load):
            n.id = env[n.id]
    return node


class _SSA:
    def __init__(self, unit):
        self.unit = unit
        self.namer = Namer(names_in(unit.node))
        self.defined = set(unit.params)
        self.maybe_undefined = set()
        self.versions = {}          # a later definition's or a merge's name -> the variable's (SSA_VERSIONS)
        self.loops = 0              # how many loops the statement at hand is in

    def version(self, name):
        if name not in self.defined:
            self.defined.add(name)
            return name
        new = self.namer.fresh(name)
        self.versions[new] = name
        return new

    def block(self, stmts, env):
        out = []
        for s in stmts:
            out.extend(self.stmt(s, env))
        return out

    def stmt(self, s, env):
        if isinstance(s, gast.Assign):
            _rename_loads(s.value, env)
            t = s.targets[0]
            if isinstance(t, gast.Name):
                new = self.version(t.id)
                env[t.id] = new
                t.id = new
            else:  # subscript write
                _rename_loads(t.slice, env)
                t.value.id = env.get(t.value.id, t.value.id)
            return [s]
        if isinstance(s, gast.If):
            _rename_loads(s.test, env)
            e1, e2 = dict(env), dict(env)
            s.body = self.block(s.body, e1)
            s.orelse = self.block(s.orelse, e2)
            for v in sorted(set(e1) | set(e2)):
                a, b = e1.get(v), e2.get(v)
                if a == b:
                    env[v] = a
                elif a is None or b is None:
                    env[v] = a or b  # defined on one path only
                    self.maybe_undefined.add(env[v])
                else:
                    m = self.namer.fresh(v)
                    self.versions[m] = v
                    s.body.append(_tag(assign(m, load(a)), s, anno.MERGE))
                    s.orelse.append(_tag(assign(m, load(b)), s, anno.MERGE))
                    env[v] = m
            if isinstance(s.test, gast.Name) and s.test.id in assigned_names(s.body + s.orelse):
                # a loop-carried name the branch itself reassigns (a `returned` flag tested before an
                # inner loop): test a copy, so the backward sweep sees the value the branch was taken on
                c = self.namer.fresh(s.test.id)
                self.defined.add(c)
                copy_ = _tag(_tag(assign(c, load(s.test.id)), s, anno.MERGE), s, anno.TESTCOPY)
                s.test = load(c)
                return [copy_, s]
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            if isinstance(s, gast.For):
                _rename_loads(s.iter, env)
            assigned = assigned_names(s.body)
            target = {s.target.id} if isinstance(s, gast.For) else set()
            for v in sorted((assigned & exposed_reads(s.body, target)) - set(env) - target):
                env[v] = self.version(v)    # first bound in the body, read in the next iteration
                self.maybe_undefined.add(env[v])
            # (the loop variable is not carried: the iterator binds it anew at each iteration's start)
            carried = [v for v in sorted(assigned - target) if v in env]
            if isinstance(s, gast.For):
                i = s.target.id
                env[i] = s.target.id = self.version(i)
            else:
                _rename_loads(s.test, env)
            body_env = dict(env)
            self.loops += 1
            s.body = self.block(s.body, body_env)
            self.loops -= 1
            copies = _copy_roots(s.body)
            for v in carried:
                if body_env[v] != env[v] and copies.get(body_env[v]) != env[v]:
                    s.body.append(_tag(assign(env[v], load(body_env[v])), s, anno.PHI))
            for v, name in body_env.items():
                if v not in env:
                    env[v] = name  # defined only inside the loop: last iteration's value
                    self.maybe_undefined.add(name)
            for v in target:
                if body_env[v] != env[v]:
                    # the body binds the loop variable again (`for i in range(n): i = 2 * i + 1`): after the
                    # loop it holds the last iteration's binding, not the iterator's item
                    env[v] = body_env[v]
                    self.maybe_undefined.add(body_env[v])
                elif self.loops:
                    # in an outer loop, later reads of the loop variable read a copy taken after the loop: a value of
                    # the outer iteration, kept for the backward sweep like any other (the backward sweep's own run
                    # of this loop binds the loop variable again before the outer body's adjoints read it)
                    after = self.version(v)
                    env[v] = after
                    copy_ = assign(after, load(s.target.id))
                    copy_.lineno = getattr(s, "lineno", None)
                    return [s, copy_]
            return [s]
        if isinstance(s, (gast.Return, gast.Expr, gast.Assert)):
            _rename_loads(s, env)
            return [s]
        raise AssertionError(f"unexpected statement {type(s).__name__} in SSA")


def _tag(stmt, like, key):
    stmt.lineno = getattr(like, "lineno", None)
    return anno.set(stmt, key)


def to_ssa(unit):
    pass_ = _SSA(unit)
    unit.node.body = pass_.block(unit.node.body, {p: p for p in unit.params})
    anno.set(unit.node, anno.MAYBE_UNDEFINED, pass_.maybe_undefined)  # zero adjoints of these need no shape
    anno.set(unit.node, anno.SSA_VERSIONS, pass_.versions)
    return unit


def _copy_roots(stmts) -> dict:
    """{name: the name it copies, followed through copies} of the copies `a = b` a loop body makes in its own block
    (versions bound once). A carried name whose last version is a copy of its value at the iteration's start (`x, v = x
    + h * v, v`: `v1 = v`, `v2 = v1`) is unchanged by the loop: its back-edge copy `v = v2` is left out, so the loop
    binds it nowhere and reverse mode keeps no value of it per iteration (a scalar's tape was 8 bytes an iteration).
    A name an inner loop binds again (its carried name, by its back-edge copy) is no copy of anything: `z = y`, then
    `for k in ...: z = z + x`, then `y = z` changes y (its back-edge copy was left out: value 0.0 for 13.5)."""
    rebound = assigned_names([st for st in stmts if not isinstance(st, gast.Assign)])
    out: dict = {}
    for st in stmts:
        if (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
                and isinstance(st.value, gast.Name) and not {st.targets[0].id, st.value.id} & rebound):
            out[st.targets[0].id] = out.get(st.value.id, st.value.id)
    return out
