"""README.md's "What it handles" -> **Python** bullet as a list of construct phrases, each mapped to an
AST detector over generated programs (tests/test_fuzz.py test_readme_constructs_are_generated).

`readme_phrases()` parses the bullet: phrases separated by `;` and `,` (outside brackets and call
parentheses), and the items of parenthesised notes, each keyed "<first phrase of its group> :: <item>"
when it is not the first of its group (so "arrays" after "for over range" is not "arrays" after
"arguments that are floats").  Every phrase must be in DETECTORS or, when it explains rather than
names a construct, in NOT_CONSTRUCTS: a new README phrase without a detector fails the test.
"""
from __future__ import annotations

import ast
import os
import re

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def python_bullet(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("- **Python**"))
    out = [lines[start][len("- **Python**:"):]]
    for l in lines[start + 1:]:
        if l.startswith("- ") or not l.strip():
            break
        out.append(l)
    return " ".join(l.strip() for l in out)


def _split(s: str, seps: str):
    """Split on the characters in `seps` outside brackets and call parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch in seps and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _norm(p: str) -> str:
    p = re.sub(r"\s+", " ", p).strip().strip(".").strip().lower()
    return p


def readme_phrases(text: str | None = None) -> list:
    if text is None:
        with open(README) as fh:
            text = fh.read()
    body = python_bullet(text).replace("**", "").replace("`", "")
    # pull out notes: parentheses preceded by a space (call parentheses follow a name: sum(...))
    notes = []
    main, depth, note = "", 0, ""
    for k, ch in enumerate(body):
        if depth == 0 and ch == "(" and (k == 0 or body[k - 1] == " "):
            depth, note = 1, ""
            main += "\x00"       # where the note was: it annotates the phrase it follows
            continue
        if depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    notes.append(note)
                    continue
            note += ch
        else:
            main += ch
    phrases = []
    note_iter = iter(notes)
    for group in _split(main, ";"):
        head = None
        for item in _split(group, ","):
            for piece_i, piece in enumerate(item.split("\x00")):
                if piece_i > 0:    # a note followed the previous piece
                    anchor = _norm(item.split("\x00")[piece_i - 1]) or head
                    for sub in _split(next(note_iter), ";,:"):
                        if _norm(sub):
                            phrases.append(f"{anchor} :: {_norm(sub)}")
                p = _norm(piece)
                if not p:
                    continue
                if head is None:
                    head = p
                    phrases.append(p)
                else:
                    phrases.append(f"{head} :: {p}")
    return phrases


# ---- detectors over a parsed program ---------------------------------------------------------------
def _walk(tree, *types):
    return [n for n in ast.walk(tree) if isinstance(n, types)]


def _list_names(tree) -> set:
    """Names bound to an empty list."""
    return {a.targets[0].id for a in _walk(tree, ast.Assign) if isinstance(a.targets[0], ast.Name)
            and isinstance(a.value, ast.List) and not a.value.elts}


def _list_calls(tree, method) -> list:
    """Calls `lst.method(...)` of the names bound to an empty list."""
    names = _list_names(tree)
    return [c for c in _walk(tree, ast.Call) if isinstance(c.func, ast.Attribute) and c.func.attr == method
            and isinstance(c.func.value, ast.Name) and c.func.value.id in names]


def _inside_calls(tree, method, kinds) -> bool:
    """Whether some `lst.method(...)` call sits inside a statement of `kinds`."""
    calls = {id(c) for c in _list_calls(tree, method)}
    return any(id(c) in calls for s in _walk(tree, *kinds) for c in ast.walk(s) if isinstance(c, ast.Call))


def _call_name(node):
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return None


def _calls(tree, name):
    return [c for c in _walk(tree, ast.Call) if _call_name(c) == name]


def _inside(tree, outer_types, inner_types):
    return any(n is not o and isinstance(n, inner_types) for o in _walk(tree, *outer_types) for n in ast.walk(o))


def _loops_inside(tree, inner_types):
    """inner_types found inside a loop body (not inside a nested function)."""
    def visit(node, in_loop):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, (ast.FunctionDef, ast.Lambda)):
                if visit(ch, False):
                    return True
                continue
            if in_loop and isinstance(ch, inner_types):
                return True
            if visit(ch, in_loop or isinstance(ch, (ast.For, ast.While))):
                return True
        return False
    return visit(tree, False)


def _tuple_names(tree) -> set:
    """Names a program binds to a tuple literal."""
    return {n.targets[0].id for n in _walk(tree, ast.Assign)
            if isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Tuple)}


def _for_iter(tree, pred):
    return any(pred(n.iter) for n in _walk(tree, ast.For))


def _range_names(tree, conditional=False) -> set:
    """The names bound to `range(...)` (`conditional`: to a conditional expression whose branches are ranges)."""
    def ranged(v):
        return ranged(v.body) and ranged(v.orelse) if isinstance(v, ast.IfExp) else _is_call(v, "range")
    return {a.targets[0].id for a in _walk(tree, ast.Assign) if isinstance(a.targets[0], ast.Name)
            and isinstance(a.value, ast.IfExp) == conditional and ranged(a.value)}


def _loop_over_range_name(tree, conditional=False) -> bool:
    names = _range_names(tree, conditional)
    return _for_iter(tree, lambda it: isinstance(it, ast.Name) and it.id in names)


def _is_call(node, name):
    return isinstance(node, ast.Call) and _call_name(node) == name


def _sums(tree, comp=(ast.GeneratorExp, ast.ListComp)):
    return [c.args[0] for c in _calls(tree, "sum") if c.args and isinstance(c.args[0], comp)]


def _sub_writes(tree):
    out = []
    for n in _walk(tree, ast.Assign, ast.AugAssign):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target]
        out += [(n, t) for t in targets if isinstance(t, ast.Subscript)]
    return out


def _has_slice(sl):
    return any(isinstance(n, ast.Slice) for n in ast.walk(sl))


def _early_return(tree):
    for fn in _walk(tree, ast.FunctionDef):
        for n in ast.walk(fn):
            if isinstance(n, (ast.If, ast.For, ast.While)) and any(isinstance(m, ast.Return) for m in ast.walk(n)):
                return True
    return False


def _entry(tree):
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "f")


def _module_funcs(tree):
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _called_for_effect(tree):
    """`bump(buf, s)` as a statement: a call of the program's function that writes into its array argument
    and returns nothing (none of its returns has a value)."""
    procedures = {name for name, fn in _module_funcs(tree).items()
                  if _sub_writes(fn) and all(r.value is None for r in _walk(fn, ast.Return))}
    return any(isinstance(n.value, ast.Call) and _call_name(n.value) in procedures for n in _walk(tree, ast.Expr))


def _rebound_after_write(tree):
    """A function of the program that writes into its parameter `u` (`u[j] = ...`), then binds `u` again inside a
    loop or a branch, called with a name that the caller reads after the call (fuzzgen 'argrebound')."""
    rebinders = {}
    for name, fn in _module_funcs(tree).items():
        params = [a.arg for a in fn.args.args]
        for k, p in enumerate(params):
            written = any(isinstance(s.value, ast.Name) and s.value.id == p for _, s in _sub_writes(fn))
            again = any(isinstance(t, ast.Name) and t.id == p for b in _walk(fn, ast.For, ast.While, ast.If)
                        for n in ast.walk(b) if isinstance(n, ast.Assign) for t in n.targets)
            if written and again:
                rebinders[name] = k
    for fn in _walk(tree, ast.FunctionDef):
        for i, stmt in enumerate(fn.body):
            for c in (n for n in ast.walk(stmt) if isinstance(n, ast.Call) and _call_name(n) in rebinders):
                k = rebinders[_call_name(c)]
                arg = c.args[k] if k < len(c.args) else None
                if isinstance(arg, ast.Name) and any(isinstance(n, ast.Name) and n.id == arg.id
                                                     for later in fn.body[i + 1:] for n in ast.walk(later)):
                    return True
    return False


def _loop_over_passed_tuple(tree):
    """A function of the program (not f) that loops over one of its parameters (`for w, b in layers`, or
    enumerate of it), called with a tuple literal in that place."""
    loopers = {}
    for name, fn in _module_funcs(tree).items():
        params = [a.arg for a in fn.args.args]
        for loop in _walk(fn, ast.For):
            it = loop.iter.args[0] if _is_call(loop.iter, "enumerate") else loop.iter
            if isinstance(it, ast.Name) and it.id in params:
                loopers[name] = params.index(it.id)
    return any(_call_name(c) in loopers and len(c.args) > loopers[_call_name(c)]
               and isinstance(c.args[loopers[_call_name(c)]], ast.Tuple) for c in _walk(tree, ast.Call))


def _straight_line(tree):
    return any(not _walk(fn, ast.If, ast.For, ast.While, ast.IfExp) and
               any(_call_name(c) and _call_name(c).startswith("np.") for c in _walk(fn, ast.Call))
               for fn in _walk(tree, ast.FunctionDef)) and \
        any((_call_name(c) or "").startswith("math.") for c in _walk(tree, ast.Call))


def _swap(tree):
    for n in _walk(tree, ast.Assign):
        t, v = n.targets[0], n.value
        if isinstance(t, ast.Tuple) and isinstance(v, ast.Tuple) and \
                all(isinstance(e, ast.Name) for e in t.elts + v.elts) and \
                [e.id for e in t.elts] == [e.id for e in reversed(v.elts)]:
            return True
    return False


def _factory(tree):
    for fn in _module_funcs(tree).values():
        rets = [r for r in fn.body if isinstance(r, ast.Return)]
        inner = {n.name for n in fn.body if isinstance(n, ast.FunctionDef)}
        if any(isinstance(r.value, ast.Lambda) or (isinstance(r.value, ast.Name) and r.value.id in inner)
               for r in rets):
            return True
    return False


def _functions_passed(tree) -> set:
    """How the program passes a function to one of its module-level functions: "module" (a module-level def),
    "nested" (a nested def of the entry), "lambda" (written in the call), "numpy" (np.tanh)."""
    funcs = _module_funcs(tree)
    nested = {n.name for n in _walk(_entry(tree), ast.FunctionDef) if n is not _entry(tree)}
    out = set()
    for c in _walk(tree, ast.Call):
        if _call_name(c) not in funcs:
            continue
        for a in c.args:
            if isinstance(a, ast.Lambda):
                out.add("lambda")
            elif isinstance(a, ast.Name) and a.id in funcs:
                out.add("module")
            elif isinstance(a, ast.Name) and a.id in nested:
                out.add("nested")
            elif isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.value.id == "np":
                out.add("numpy")
    return out


def _closure(tree):
    """A nested def or lambda reading a name bound in its enclosing function."""
    for outer in _walk(tree, ast.FunctionDef):
        bound = {a.arg for a in outer.args.args} | {n.id for n in _walk(outer, ast.Name)
                                                    if isinstance(n.ctx, ast.Store)}
        for inner in ast.walk(outer):
            if inner is outer or not isinstance(inner, (ast.FunctionDef, ast.Lambda)):
                continue
            own = {a.arg for a in inner.args.args}
            if any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in bound - own
                   for n in ast.walk(inner)):
                return True
    return False


def _loop_closure(tree):
    """A nested def / lambda inside a loop body that reads the loop variable."""
    for loop in _walk(tree, ast.For):
        targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        for inner in ast.walk(loop):
            if isinstance(inner, (ast.FunctionDef, ast.Lambda)) and \
                    any(isinstance(n, ast.Name) and n.id in targets for n in ast.walk(inner)):
                return True
    return False


def _xa_names(tree) -> set:
    """The entry's tuple argument xa and the names bound to it (`st = xa`)."""
    if "xa" not in {a.arg for a in _entry(tree).args.args}:
        return set()
    return {"xa"} | {n.targets[0].id for n in _walk(_entry(tree), ast.Assign)
                     if isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Name) and n.value.id == "xa"}


def _tuple_copies(tree, sliced=False) -> list:
    """Calls `tuple(xa)` / `list(xa)` of the entry's tuple argument (or a name bound to it), or (sliced) of a slice
    of it, `list(xa[1:])` (fuzzgen 'tuplecopy'); not of a dict argument, whose copies are dict(...)."""
    names = _xa_names(tree) - _dict_names(tree)
    out = []
    for c in _walk(_entry(tree), ast.Call):
        if _call_name(c) in ("tuple", "list") and len(c.args) == 1 and not c.keywords:
            a = c.args[0]
            if sliced and isinstance(a, ast.Subscript) and isinstance(a.slice, ast.Slice):
                a = a.value
            if isinstance(a, ast.Name) and a.id in names:
                out.append(c)
    return out


def _dict_names(tree) -> set:
    """The names of a dict argument: the entry's xa (and names bound to it) where a string key or a dict's method
    reads it, and the parameter of each helper it is passed to whole (`dict12(xa, 0.5)`)."""
    names = _xa_names(tree)
    keyed = any(isinstance(n.value, ast.Name) and n.value.id in names and isinstance(n.slice, ast.Constant)
                and isinstance(n.slice.value, str) for n in _walk(_entry(tree), ast.Subscript)) or any(
        isinstance(n.value, ast.Name) and n.value.id in names and n.attr in ("get", "items", "values", "keys")
        for n in _walk(_entry(tree), ast.Attribute)) or bool(_dict_copies(tree, names))
    names = (names if keyed else set()) | {fn.args.args[0].arg for fn in _walk(tree, ast.FunctionDef)
                                           if fn.name.startswith("dict") and fn.args.args}
    return names | set(_dict_copies(tree, names))


def _copied(value, names) -> bool:
    """Whether `value` makes a dict from one of `names`: dict(d ...), d.copy(), {**d ...}, a dict comprehension
    over d.items()."""
    def named(e):
        return isinstance(e, ast.Name) and e.id in names
    if isinstance(value, ast.Call) and _call_name(value) == "dict":
        return any(named(a) for a in value.args)
    if isinstance(value, ast.Call) and _call_name(value) in ("copy.copy", "copy.deepcopy"):
        return len(value.args) == 1 and named(value.args[0])
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "copy":
        return named(value.func.value) and not value.args
    if isinstance(value, ast.Dict):
        return any(k is None and named(v) for k, v in zip(value.keys, value.values))
    if isinstance(value, ast.DictComp):
        return any(isinstance(g.iter, ast.Call) and isinstance(g.iter.func, ast.Attribute)
                   and g.iter.func.attr == "items" and named(g.iter.func.value) for g in value.generators)
    return False


def _dict_copies(tree, names) -> dict:
    """{name: the Assign} of the names bound to a copy of a dict argument (or of a copy of one): q = dict(xa)."""
    out = {}
    for a in _walk(_entry(tree), ast.Assign):
        if len(a.targets) == 1 and isinstance(a.targets[0], ast.Name) and _copied(a.value, set(names) | set(out)):
            out[a.targets[0].id] = a
    return out


def _copy_writes(tree) -> list:
    """Assignments of an item of a copy of a dict argument at a string key (q["a"] = ...)."""
    copies = set(_dict_copies(tree, _dict_names(tree)))
    return [a for a in _walk(_entry(tree), ast.Assign) if isinstance(a.targets[0], ast.Subscript)
            and isinstance(a.targets[0].value, ast.Name) and a.targets[0].value.id in copies
            and isinstance(a.targets[0].slice, ast.Constant) and isinstance(a.targets[0].slice.value, str)]


def _values_comprehensions(tree) -> list:
    """Comprehensions over a dict argument's .values()."""
    values = _dict_method(tree, "values", 0)
    return [c for c in _walk(tree, ast.GeneratorExp, ast.ListComp) if any(g.iter in values for g in c.generators)]


def _key_names(tree) -> list:
    """Reads of a dict argument at a name bound once to a string (d[k] of k = "x"), and loops or comprehensions over
    a name bound once to a tuple of strings (for k in keys of keys = ("a", "x"))."""
    entry, names = _entry(tree), _dict_names(tree)
    strings, tuples = set(), set()
    for a in _walk(entry, ast.Assign):
        if len(a.targets) == 1 and isinstance(a.targets[0], ast.Name) and _bindings(entry, a.targets[0].id) == 1:
            v = a.value
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                strings.add(a.targets[0].id)
            elif isinstance(v, ast.Tuple) and v.elts and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                             for e in v.elts):
                tuples.add(a.targets[0].id)
    reads = [n for n in _walk(entry, ast.Subscript) if isinstance(n.value, ast.Name) and n.value.id in names
             and isinstance(n.slice, ast.Name) and n.slice.id in strings]
    loops = [g for g in _walk(entry, ast.For, ast.comprehension) if isinstance(g.iter, ast.Name) and g.iter.id in tuples]
    return reads + loops


def _dict_method(tree, method: str, nargs=None) -> list:
    """Calls `d.method(...)` of a dict argument d (with `nargs` arguments)."""
    names = _dict_names(tree)
    return [c for c in _walk(tree, ast.Call) if isinstance(c.func, ast.Attribute) and c.func.attr == method
            and isinstance(c.func.value, ast.Name) and c.func.value.id in names
            and (nargs is None or len(c.args) == nargs)]


def _dict_loops(tree, over: str) -> list:
    """Loops over a dict argument's .items() / .values() / keys ("keys": the dict, .keys() or a tuple of string
    constants whose body reads the dict at the loop variable)."""
    names, out = _dict_names(tree), []
    for loop in _walk(tree, ast.For):
        it = loop.iter
        if over in ("items", "values"):
            hit = it in _dict_method(tree, over, 0)
        else:
            hit = (isinstance(it, ast.Name) and it.id in names) or it in _dict_method(tree, "keys", 0) or (
                isinstance(it, ast.Tuple) and it.elts and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                                              for e in it.elts)
                and any(isinstance(n.value, ast.Name) and n.value.id in names for n in _walk(loop, ast.Subscript)))
        if hit:
            out.append(loop)
    return out


def _key_tests(tree) -> list:
    """Tests of a dict's key inside a loop over its .items() or keys (an `if`, a conditional expression)."""
    out = []
    for loop in _dict_loops(tree, "items") + _dict_loops(tree, "keys"):
        key = loop.target.elts[0] if isinstance(loop.target, ast.Tuple) else loop.target
        out += [n.test for n in _walk(loop, ast.If, ast.IfExp) if isinstance(key, ast.Name)
                and any(isinstance(m, ast.Name) and m.id == key.id for m in ast.walk(n.test))]
    return out


def _bindings(node, name) -> int:
    """How many times `node` binds `name` (assignment targets)."""
    return sum(1 for n in _walk(node, ast.Name) if n.id == name and isinstance(n.ctx, ast.Store))


def _lambda_bound_again(tree):
    """A name bound to a lambda twice in one function's top block."""
    for fn in _walk(tree, ast.FunctionDef):
        names = [s.targets[0].id for s in fn.body if isinstance(s, ast.Assign) and isinstance(s.value, ast.Lambda)
                 and isinstance(s.targets[0], ast.Name)]
        if len(names) > len(set(names)):
            return True
    return False


def _items(tree):
    """np.array / np.asarray / np.stack calls of one list comprehension."""
    return [c for c in _walk(tree, ast.Call) if _call_name(c) in ("np.array", "np.asarray", "np.stack")
            and len(c.args) == 1 and not c.keywords and isinstance(c.args[0], ast.ListComp)]


def _extremes(tree, kinds=(ast.GeneratorExp, ast.ListComp)):
    """max(...) / min(...) of one comprehension of `kinds`."""
    return [c for c in _walk(tree, ast.Call) if _call_name(c) in ("max", "min") and len(c.args) == 1
            and not c.keywords and isinstance(c.args[0], kinds)]


def _named_comprehensions(tree) -> dict:
    """{name: its reads} of the names bound once to a list comprehension whose every read is a call taking it alone
    (np.array, np.asarray, np.stack, len, sum)."""
    parents = {id(c): p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    bound = [a.targets[0].id for a in _walk(tree, ast.Assign) if len(a.targets) == 1
             and isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.ListComp)]
    out = {}
    for name in bound:
        uses = [n for n in _walk(tree, ast.Name) if n.id == name]
        reads = [parents.get(id(n)) for n in uses if isinstance(n.ctx, ast.Load)]
        if len(uses) - len(reads) == 1 and reads and all(
                isinstance(c, ast.Call) and len(c.args) == 1
                and _call_name(c) in ("np.array", "np.asarray", "np.stack", "len", "sum")
                for c in reads):
            out[name] = reads
    return out


def _named_read(tree, pred) -> bool:
    return any(pred(c) for reads in _named_comprehensions(tree).values() for c in reads)


def _constant_slice(node, names) -> bool:
    """`p[1:]`, `p[:-1]`, `p[::-1]` ...: a slice by constants of a name in `names`."""
    def const(b):
        return b is None or isinstance(b, ast.Constant) or (isinstance(b, ast.UnaryOp) and isinstance(b.operand, ast.Constant))
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in names
            and isinstance(node.slice, ast.Slice) and all(const(b) for b in (node.slice.lower, node.slice.upper,
                                                                             node.slice.step)))


def _tuple_params(tree) -> set:
    """The entry's tuple argument (and names bound to it), and the parameters of helpers looping over pairs."""
    return _xa_names(tree) | {"pairs"}


def _loop_over_slice(tree, pairs=False) -> bool:
    """A loop over a constant slice of a tuple/list argument (`pairs`: unpacking pairs, for W, b in params[:-1])."""
    names = _tuple_params(tree)
    return any(_constant_slice(n.iter, names) and (not pairs or isinstance(n.target, ast.Tuple))
               for n in _walk(tree, ast.For))


def _slice_bound(tree) -> bool:
    """`hidden = params[1:]`: a name bound to a constant slice of a tuple/list argument, then read."""
    names = _tuple_params(tree)
    return any(len(a.targets) == 1 and isinstance(a.targets[0], ast.Name) and _constant_slice(a.value, names)
               for a in _walk(tree, ast.Assign))


def _lambda_bound_in_a_block(tree):
    """A name bound to a lambda in a function's top block and again inside a branch or a loop of it."""
    for fn in _walk(tree, ast.FunctionDef):
        top = {s.targets[0].id for s in fn.body if isinstance(s, ast.Assign) and isinstance(s.value, ast.Lambda)
               and isinstance(s.targets[0], ast.Name)}
        for block in _walk(fn, ast.If, ast.For, ast.While):
            if any(isinstance(s, ast.Assign) and isinstance(s.value, ast.Lambda) and isinstance(s.targets[0], ast.Name)
                   and s.targets[0].id in top for s in ast.walk(block)):
                return True
    return False


def _own_dict(tree):
    """A dict display of string keys, none of whose values reads the dict argument xa, bound to a name."""
    return any(isinstance(a.value, ast.Dict) and a.value.keys and all(isinstance(k, ast.Constant) for k in a.value.keys)
               and not any(isinstance(n, ast.Name) and n.id == "xa" for n in ast.walk(a.value))
               for a in _walk(tree, ast.Assign))


def _dicts_literal(tree):
    """A tuple or list literal of dict displays bound to a name."""
    return any(isinstance(a.value, (ast.Tuple, ast.List)) and a.value.elts
               and all(isinstance(e, ast.Dict) for e in a.value.elts) for a in _walk(tree, ast.Assign))


def _copies_comprehended(tree) -> list:
    """`cs = [dict(q) for q in layers]`: a list of copies of the dicts of a list, made by a comprehension."""
    return [a for a in _walk(tree, ast.Assign) if isinstance(a.value, ast.ListComp)
            and isinstance(a.value.elt, ast.Call) and ast.unparse(a.value.elt.func) == "dict"]


def _dict_returners(tree) -> dict:
    """{name: def} of the module-level functions each of whose returns gives a dict display, or a name its own block
    binds to one (`q = {...}` ... `return q`)."""
    out = {}
    for name, fn in _module_funcs(tree).items():
        rets = [r for r in ast.walk(fn) if isinstance(r, ast.Return)]
        named = _named_dicts(fn)
        if rets and all(isinstance(r.value, ast.Dict) or isinstance(r.value, ast.Name) and r.value.id in named
                        for r in rets):
            out[name] = fn
    return out


def _named_dicts(fn) -> set:
    """The names a function's own block binds to a dict display (`q = {"u": ...}`)."""
    return {a.targets[0].id for a in fn.body if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Name)
            and isinstance(a.value, ast.Dict)}


def _structure_defaults(tree) -> list:
    """The defaults of f's nested defs that read its structured argument xa (`xa=xa`, `w=xa["a"]`, `w=xa.a`)."""
    return [d for fn in _walk(_entry(tree), ast.FunctionDef) for d in fn.args.defaults + fn.args.kw_defaults
            if d is not None and fn.name != "f" and any(isinstance(n, ast.Name) and n.id == "xa" for n in ast.walk(d))]


def _nested_dicts(tree) -> set:
    """The names bound to a dict display holding a dict display (`d = {"a": {"b": x}}`)."""
    return {a.targets[0].id for a in _walk(tree, ast.Assign) if isinstance(a.targets[0], ast.Name)
            and isinstance(a.value, ast.Dict) and any(isinstance(v, ast.Dict) for v in a.value.values)}


def _named_dict_returners(tree) -> list:
    """The program's dict-returning functions with a `return q` of a name their own block binds to a display."""
    return [fn for fn in _dict_returners(tree).values() if any(
        isinstance(r.value, ast.Name) for r in ast.walk(fn) if isinstance(r, ast.Return))]


def _keys_added(fn) -> bool:
    """`q["w"] = ...` in the function's own block, of a name it binds to a dict display."""
    named = _named_dicts(fn)
    return any(isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Subscript)
               and isinstance(a.targets[0].value, ast.Name) and a.targets[0].value.id in named for a in fn.body)


def _record_classes(tree) -> set:
    """The module-level namedtuple classes the program defines (`ST3 = collections.namedtuple("ST3", [...])`)."""
    return {a.targets[0].id for a in tree.body if isinstance(a, ast.Assign) and isinstance(a.value, ast.Call)
            and ast.unparse(a.value.func) == "collections.namedtuple"}


def _records_made(tree, keywords=False):
    """Assignments of a call of one of the program's namedtuple classes (`keywords`: by field, `ST3(u=..., w=...)`)."""
    classes = _record_classes(tree)
    return [a for a in _walk(tree, ast.Assign) if isinstance(a.value, ast.Call) and isinstance(a.value.func, ast.Name)
            and a.value.func.id in classes and (a.value.keywords or not keywords)]


def _replaced(tree, same=False):
    """Assignments of `p._replace(...)` (`same`: to p itself, `s = s._replace(u=...)`)."""
    return [a for a in _walk(tree, ast.Assign) if isinstance(a.value, ast.Call)
            and isinstance(a.value.func, ast.Attribute) and a.value.func.attr == "_replace"
            and (not same or isinstance(a.value.func.value, ast.Name) and isinstance(a.targets[0], ast.Name)
                 and a.value.func.value.id == a.targets[0].id)]


def _arguments_replaced(tree) -> list:
    """The functions that bind a namedtuple parameter of theirs again by `_replace` under its own name (`xa =
    xa._replace(x=...)` in f, in a loop of f, or in a function of the program's taking xa)."""
    return [fn for fn in _walk(tree, ast.FunctionDef) if any(
        a.targets[0].id in {p.arg for p in fn.args.args} for a in _replaced(fn, same=True))]


def _in_block(tree, kinds, found) -> bool:
    """Whether one of the statements `found` is inside a statement of `kinds` (a loop, a branch)."""
    ids = {id(a) for a in found}
    return any(id(n) in ids for b in _walk(tree, *kinds) for n in ast.walk(b) if n is not b)


def _dict_made(tree, a) -> bool:
    """`a` binds a dict display or a call of the program's dict-returning function."""
    return isinstance(a.value, ast.Dict) or isinstance(a.value, ast.Call) and isinstance(a.value.func, ast.Name) \
        and a.value.func.id in _dict_returners(tree)


def _dicts_bound_again(tree) -> list:
    """The names the entry binds more than once, each time to a dict display or a dict-returning function's call."""
    counts: dict = {}
    for a in _walk(_entry(tree), ast.Assign):
        if isinstance(a.targets[0], ast.Name):
            counts.setdefault(a.targets[0].id, []).append(_dict_made(tree, a))
    return [n for n, made in counts.items() if len(made) > 1 and all(made)]


def _dict_in_both_branches(tree) -> bool:
    """`if c: p = params(a)` / `else: p = params(b)` (or a display in one branch)."""
    again = set(_dicts_bound_again(tree))
    return any(isinstance(b.body[0], ast.Assign) and b.orelse and isinstance(b.orelse[0], ast.Assign)
               and isinstance(b.body[0].targets[0], ast.Name) and b.body[0].targets[0].id in again
               and ast.unparse(b.body[0].targets[0]) == ast.unparse(b.orelse[0].targets[0])
               for b in _walk(tree, ast.If))


def _dict_default_get(tree) -> bool:
    """`p.get("opt", {...})`: a .get with a dict for its default."""
    return any(isinstance(c.func, ast.Attribute) and c.func.attr == "get" and len(c.args) == 2
               and isinstance(c.args[1], ast.Dict) for c in _walk(tree, ast.Call))


def _record_returners(tree) -> dict:
    """{name: def} of the program's functions returning a namedtuple (`return q._replace(...)`, `return ST3(...)`)."""
    classes = _record_classes(tree)
    return {fn.name: fn for fn in _walk(tree, ast.FunctionDef) if fn.name != "f" and any(
        isinstance(r.value, ast.Call) and (isinstance(r.value.func, ast.Attribute) and r.value.func.attr == "_replace"
                                           or isinstance(r.value.func, ast.Name) and r.value.func.id in classes)
        for r in _walk(fn, ast.Return))}


def _record_calls(tree) -> list:
    """The calls of the program's functions returning a namedtuple."""
    names = _record_returners(tree)
    return [c for c in _walk(tree, ast.Call) if isinstance(c.func, ast.Name) and c.func.id in names]


def _records_stepped(tree, loop=False) -> list:
    """`st = step(st)` of a function returning a namedtuple (`loop`: in a for loop)."""
    trees = _walk(tree, ast.For) if loop else [tree]
    return [a for t in trees for a in _walk(t, ast.Assign) if isinstance(a.targets[0], ast.Name)
            and isinstance(a.value, ast.Call) and a.value in _record_calls(tree) and a.value.args
            and isinstance(a.value.args[0], ast.Name) and a.value.args[0].id == a.targets[0].id]


def _returned_record_reads(tree, unpacked=True) -> bool:
    """A namedtuple a function of the program's returns read by field (`step(st).u`) or unpacked (`u, w = step(st)`)."""
    calls = _record_calls(tree)
    return any(n.value in calls for n in _walk(tree, ast.Attribute)) or unpacked and any(
        isinstance(a.targets[0], ast.Tuple) and a.value in calls for a in _walk(tree, ast.Assign))


def _record_passed(tree) -> bool:
    """A namedtuple a function of the program's returns passed straight to another call (`use(ststep(st))`)."""
    calls = _record_calls(tree)
    return any(a in calls for c in _walk(tree, ast.Call) for a in list(c.args) + [k.value for k in c.keywords])


def _dict_passed(tree) -> bool:
    """A dict a function of the program's returns passed straight to another call (`used(mkd(u, w))`)."""
    names = _dict_returners(tree)
    return any(isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id in names
               for c in _walk(tree, ast.Call) for a in list(c.args) + [k.value for k in c.keywords])


def _field_reads(tree):
    """A field of the namedtuple argument xa read (`xa.x`, `xa.a`)."""
    return any(isinstance(n.value, ast.Name) and n.value.id == "xa" and n.attr in ("x", "a")
               for n in _walk(tree, ast.Attribute))


def _formatted_keys(tree):
    """A read at an f-string key inside a loop over a range (`for i in range(2): p[f"w{i}"]`)."""
    return any(isinstance(n.slice, ast.JoinedStr) for loop in _walk(tree, ast.For) for n in ast.walk(loop)
               if isinstance(n, ast.Subscript))


def _function_chosen(tree):
    """A name bound to a conditional expression choosing between a lambda and a NumPy function."""
    for a in _walk(tree, ast.Assign):
        if len(a.targets) == 1 and isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.IfExp):
            sides = (a.value.body, a.value.orelse)
            if any(isinstance(e, ast.Lambda) for e in sides) and any(isinstance(e, ast.Attribute) for e in sides):
                return True
    return False


def _numpy_function_bound(tree):
    """A name bound to a NumPy function (`act = np.tanh`), where it may be called."""
    bound = {a.targets[0].id for a in _walk(tree, ast.Assign) if len(a.targets) == 1
             and isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.Attribute)
             and isinstance(a.value.value, ast.Name) and a.value.value.id == "np"}
    return bool(bound)


def _recursion(tree):
    return any(_calls(fn, fn.name) for fn in _module_funcs(tree).values())


def _carried(tree):
    """`if i > 0: ... prev ...` then `prev = ...` in a loop body: bound in the body, read next iteration."""
    for loop in _walk(tree, ast.For):
        seen_read = set()
        for st in loop.body:
            if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and st.targets[0].id in seen_read:
                return True
            seen_read |= {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                          and n.id.startswith("prev")}
    return False


def _carried_reads(tree):
    """(loop, names read before being bound in its body, the statements binding them) for every for loop."""
    out = []
    for loop in _walk(tree, ast.For):
        seen_read = set()
        for st in loop.body:
            targets = {t.id for t in _walk(st, ast.Name) if isinstance(t.ctx, ast.Store)}
            if targets & seen_read:
                out.append((loop, targets & seen_read, st))
            seen_read |= {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                          and n.id.startswith("prev")}
    return out


def _carried_in_branches(tree):
    """A value read in a loop body before it is bound there, bound in both branches of an if."""
    return any(isinstance(st, ast.If) and st.orelse for _, _, st in _carried_reads(tree))


def _carried_array(tree):
    """A loop-carried value that is an array (read through np.sum)."""
    for loop, names, _ in _carried_reads(tree):
        if any(_is_call(c, "np.sum") and c.args and isinstance(c.args[0], ast.Name) and c.args[0].id in names
               for c in _walk(loop, ast.Call)):
            return True
    return False


def _jumps_together(tree):
    """A loop whose body has two of break, continue and return."""
    for loop in _walk(tree, (ast.For, ast.While)):
        kinds = {type(n) for n in ast.walk(loop) if isinstance(n, (ast.Break, ast.Continue, ast.Return))}
        if len(kinds) >= 2:
            return True
    return False


def _nested_list_array(tree):
    return any(c.args and isinstance(c.args[0], ast.List) and c.args[0].elts and
               isinstance(c.args[0].elts[0], ast.List) for c in _calls(tree, "np.array"))


def _number_rows(tree):
    """np.array of rows written out whose items are numbers (not lists, not arrays' names alone)."""
    return any(c.args and isinstance(c.args[0], ast.List) and len(c.args[0].elts) > 1 and
               all(isinstance(r, ast.List) and r.elts and not any(isinstance(e, ast.List) for e in r.elts)
                   for r in c.args[0].elts) for c in _calls(tree, "np.array"))


def _fancy(tree):
    return any(isinstance(s.slice, ast.List) or (isinstance(s.slice, ast.Tuple) and
                                                 any(isinstance(e, ast.List) for e in s.slice.elts))
               for s in _walk(tree, ast.Subscript))


def _index_lists(tree):
    """The list literals in subscripts' indices (x[[0, i]], M[[0, 1], [i, 2]])."""
    for s in _walk(tree, ast.Subscript):
        for e in (s.slice.elts if isinstance(s.slice, ast.Tuple) else [s.slice]):
            if isinstance(e, ast.List):
                yield s, e


def _index_list_of_names(tree):
    return any(any(not isinstance(x, ast.Constant) for x in e.elts) for _, e in _index_lists(tree))


def _boolean_index_list(tree):
    return any(e.elts and all(isinstance(x, ast.Constant) and type(x.value) is bool for x in e.elts)
               for _, e in _index_lists(tree))


def _arange_labels(tree):
    return any(isinstance(s.slice, ast.Tuple) and len(s.slice.elts) == 2
               and all(isinstance(e, ast.Call) for e in s.slice.elts)
               and [_call_name(e) for e in s.slice.elts] == ["np.arange", "np.argmax"] for s in _walk(tree, ast.Subscript))


def _index_list_write(tree):
    return any(isinstance(t.slice, ast.List) or (isinstance(t.slice, ast.Tuple) and
                                                 any(isinstance(e, ast.List) for e in t.slice.elts))
               for _, t in _sub_writes(tree))


def _mask(tree):
    return any(isinstance(s.slice, ast.Compare) for s in _walk(tree, ast.Subscript))


def _step_slice(tree):
    return any(isinstance(n, ast.Slice) and n.step is not None for n in ast.walk(tree))


def _computed_index_write(tree):
    return any(isinstance(t.slice, ast.BinOp) or (isinstance(t.slice, ast.Tuple) and
                                                  any(isinstance(e, ast.BinOp) for e in t.slice.elts))
               for _, t in _sub_writes(tree))


def _sum_of_arrays(tree):
    # fuzzgen's 'sumarr': sum(<array expr> * (j * 0.5) for j in range(k)), also over a list comprehension
    for g in _sums(tree):
        e = g.elt
        if isinstance(e, ast.BinOp) and isinstance(e.right, ast.BinOp) and isinstance(e.right.right, ast.Constant) \
                and e.right.right.value == 0.5 and isinstance(e.right.left, ast.Name) and \
                e.right.left.id == g.generators[0].target.id:
            return True
    return False


def _sum_of_arrays_nested(tree):
    """A sum of arrays whose term holds another sum of arrays (its start is desugared in its turn)."""
    return any(_sum_of_arrays(ast.Module(body=[ast.Expr(g.elt)], type_ignores=[])) for g in _sums(tree)
               if _sum_of_arrays(ast.Module(body=[ast.Expr(ast.Call(ast.Name("sum"), [g], []))], type_ignores=[])))


def _module_constant_condition(tree):
    """fuzzgen's 'globals': a module-level constant read in an if / while test of the entry."""
    consts = {t.id for s in tree.body if isinstance(s, ast.Assign) for t in s.targets
              if isinstance(t, ast.Name) and t.id.isupper()}
    return any(isinstance(n, ast.Name) and n.id in consts for s in _walk(_entry(tree), ast.If, ast.While)
               for n in ast.walk(s.test))


def _sum_of_list(tree):
    """sum([a, b]): a list literal of two or more terms."""
    return any(c.args and isinstance(c.args[0], ast.List) and len(c.args[0].elts) >= 2 for c in _calls(tree, "sum"))


def _several_lambdas_on_a_line(tree):
    lines = [n.lineno for n in _walk(tree, ast.Lambda)]
    return any(lines.count(k) >= 2 for k in set(lines))


def _lambda_called_in_place(tree):
    """(lambda y: y * y)(x)"""
    return any(isinstance(c.func, ast.Lambda) for c in _walk(tree, ast.Call))


def _has_kw_params(fn):
    return bool(fn.args.defaults or fn.args.kwonlyargs)


def _helper_calls(tree):
    """[(call, def)] for calls of the module's functions other than the entry `f`."""
    funcs = {k: v for k, v in _module_funcs(tree).items() if k != "f"}
    return [(c, funcs[_call_name(c)]) for c in _walk(tree, ast.Call) if _call_name(c) in funcs]


def _keyword_calls(tree):
    return any(c.keywords for c, _ in _helper_calls(tree))


def _relies_on_defaults(tree):
    """A call of a helper leaving out a parameter that has a default (positional or keyword-only)."""
    for c, fn in _helper_calls(tree):
        a = fn.args
        given = {k.arg for k in c.keywords} | {p.arg for p in a.args[:len(c.args)]}
        defaulted = [p.arg for p in a.args[len(a.args) - len(a.defaults):]] + \
            [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
        if set(defaulted) - given:
            return True
    return False


def _keyword_only(tree):
    return any(fn.args.kwonlyargs for fn in _module_funcs(tree).values())


def _ints_bools(tree):
    f = _entry(tree)
    params = {a.arg for a in f.args.args}
    reads = {n.id for n in _walk(f, ast.Name) if isinstance(n.ctx, ast.Load)}
    return {"n", "flag"} <= params and {"n", "flag"} <= reads


def _reversed_items(node):
    """reversed(xs) of an array or a tuple literal (not of a range)."""
    return _is_call(node, "reversed") and node.args and not _is_call(node.args[0], "range")


def _sum_over_reversed(tree):
    """A sum over a comprehension one of whose clauses iterates reversed(xs) (or zip / enumerate of it)."""
    return any(any(_reversed_items(n) for g in c.generators for n in ast.walk(g.iter)) for c in _sums(tree))


def _sum_with_start(tree):
    return any(len(c.args) == 2 or any(k.arg == "start" for k in c.keywords) for c in _calls(tree, "sum"))


def _appended(tree) -> set:
    return {c.func.value.id for c in _walk(tree, ast.Call) if isinstance(c.func, ast.Attribute)
            and c.func.attr == "append" and isinstance(c.func.value, ast.Name)}


def _list_started_with_items(tree):
    """traj = [y0] then traj.append(...): a list literal with items appended to."""
    return any(isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.List) and a.value.elts
               and a.targets[0].id in _appended(tree) for a in _walk(tree, ast.Assign))


def _last_item_read(tree):
    """traj[-1] read of a list built with appends."""
    return any(isinstance(n.value, ast.Name) and n.value.id in _appended(tree) and isinstance(n.ctx, ast.Load)
               and isinstance(n.slice, ast.UnaryOp) and isinstance(n.slice.op, ast.USub)
               and isinstance(n.slice.operand, ast.Constant) and n.slice.operand.value == 1
               for n in _walk(tree, ast.Subscript))


def _lists_bound_together(tree):
    """ts, ys = [], [] then appends to both."""
    return any(isinstance(a.targets[0], ast.Tuple) and isinstance(a.value, ast.Tuple)
               and all(isinstance(e, ast.List) and not e.elts for e in a.value.elts)
               and {e.id for e in a.targets[0].elts if isinstance(e, ast.Name)} <= _appended(tree)
               for a in _walk(tree, ast.Assign))


def _stack_along_axis(tree):
    """np.stack(lst, axis=k), k != 0, of a list built with appends."""
    return any(c.args and isinstance(c.args[0], ast.Name) and c.args[0].id in (_list_names(tree) | _appended(tree))
               and any(k.arg == "axis" and not (isinstance(k.value, ast.Constant) and k.value.value == 0)
                       for k in c.keywords) for c in _calls(tree, "np.stack"))


def _converted_lists(tree) -> set:
    """Names of lists built with appends that np.array / np.asarray / np.stack converts."""
    appended = {c.func.value.id for c in _walk(tree, ast.Call) if isinstance(c.func, ast.Attribute)
                and c.func.attr == "append" and isinstance(c.func.value, ast.Name)}
    return {c.args[0].id for name in ("np.array", "np.asarray", "np.stack") for c in _calls(tree, name)
            if c.args and isinstance(c.args[0], ast.Name) and c.args[0].id in appended}


def _list_appended_in(tree, outer, inner=None) -> bool:
    """A converted list appended to inside a loop of type `outer` (and, given `inner`, inside a loop of that type
    nested in it)."""
    names = _converted_lists(tree)
    for loop in _walk(tree, *outer):
        made = {a.targets[0].id for a in ast.walk(loop) if isinstance(a, ast.Assign)
                and isinstance(a.targets[0], ast.Name)}       # (a list made anew in each iteration is not)
        scopes = [loop] if inner is None else [n for n in ast.walk(loop) if n is not loop and isinstance(n, inner)]
        if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "append"
               and isinstance(c.func.value, ast.Name) and c.func.value.id in names - made
               for s in scopes for c in ast.walk(s)):
            return True
    return False


def _loop_variable_after(tree, inside=False, bound_again=False) -> bool:
    """A `for` loop's variable (a name) read after the loop (`inside`: the loop in another loop; `bound_again`: the
    loop's body binds it again)."""
    def visit(stmts, in_loop):
        for k, s in enumerate(stmts):
            if isinstance(s, ast.For) and isinstance(s.target, ast.Name) and (in_loop or not inside):
                v = s.target.id
                again = any(isinstance(n, ast.Name) and n.id == v and isinstance(n.ctx, ast.Store)
                            for b in s.body for n in ast.walk(b))
                read = any(isinstance(n, ast.Name) and n.id == v and isinstance(n.ctx, ast.Load)
                           for later in stmts[k + 1:] for n in ast.walk(later))
                if read and (again or not bound_again):
                    return True
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, (ast.FunctionDef, ast.Lambda)) \
                        and visit(inner, in_loop or isinstance(s, (ast.For, ast.While))):
                    return True
                if isinstance(s, ast.FunctionDef) and field == "body" and visit(inner, False):
                    return True
        return False
    return visit(tree.body, False)


def _factory_call_with_defaults(tree):
    """A factory's function (def g(u, h=0.1)) called leaving h to its default, and by keyword."""
    made = {a.targets[0].id for a in _walk(tree, ast.Assign) if isinstance(a.targets[0], ast.Name)
            and isinstance(a.value, ast.Call) and (_call_name(a.value) or "").startswith("make")}
    calls = [c for c in _walk(tree, ast.Call) if _call_name(c) in made]
    return any(len(c.args) == 1 and not c.keywords for c in calls) and any(c.keywords for c in calls) and any(
        fn.args.defaults for fn in _walk(tree, ast.FunctionDef, ast.Lambda) if fn.args.args and fn.args.args[0].arg == "u")


def _factories(tree) -> dict:
    """{name: def} of the program's factories, module-level or nested in f: each `return` gives a lambda, a def of its
    own, or a call of another factory (README 'Factories': 'returns ... another factory's function')."""
    defs = list(_module_funcs(tree).values()) + [n for n in _walk(_entry(tree), ast.FunctionDef) if n is not _entry(tree)]
    found: dict = {}
    for _ in range(2):       # (a factory returning another's function: found once that one is)
        for fn in defs:
            rets = [r.value for r in fn.body if isinstance(r, ast.Return)]
            inner = {n.name for n in fn.body if isinstance(n, ast.FunctionDef)}
            if rets and all(isinstance(v, ast.Lambda) or (isinstance(v, ast.Name) and v.id in inner) or (
                    isinstance(v, ast.Call) and _call_name(v) in found) for v in rets):
                found[fn.name] = fn
    return found


def _factory_calls(tree):
    made = _factories(tree)
    return [c for c in _walk(_entry(tree), ast.Call) if _call_name(c) in made]


def _factory_bound(tree, where) -> bool:
    """A name bound to a factory's function inside a statement of the kind `where` picks (`where(node)`: the blocks)."""
    made = _factories(tree)
    return any(isinstance(a.value, ast.Call) and _call_name(a.value) in made
               for n in _walk(_entry(tree), ast.If, ast.For) for block in where(n) for st in block
               for a in [st] if isinstance(a, ast.Assign))


FACTORY_FORMS = {
    # README 'Factories' (tests/fuzzgen.py 'factoryforms'): each form of the bullet
    "a factory's function called at once, make(c)(u)": lambda t: any(
        isinstance(c.func, ast.Call) and _call_name(c.func) in _factories(t) for c in _walk(_entry(t), ast.Call)),
    "a factory's function bound in both branches": lambda t: _factory_bound(
        t, lambda n: [n.body, n.orelse] if isinstance(n, ast.If) and n.orelse and _factory_bound_in(t, n.body)
        and _factory_bound_in(t, n.orelse) else []),
    "a factory's function bound again in a loop": lambda t: _factory_bound(
        t, lambda n: [n.body] if isinstance(n, ast.For) else []),
    "a factory's function called in a lambda": lambda t: any(
        isinstance(c.func, ast.Name) and c.func.id in {a.targets[0].id for a in _walk(_entry(t), ast.Assign)
                                                       if isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.Call)
                                                       and _call_name(a.value) in _factories(t)}
        for lam in _walk(_entry(t), ast.Lambda) for c in _walk(lam.body, ast.Call)),
    "a factory nested in f": lambda t: any(fn.name in _factories(t) for fn in _walk(_entry(t), ast.FunctionDef)),
    "a factory returning another factory's function": lambda t: any(
        isinstance(r.value, ast.Call) for fn in _factories(t).values() for r in fn.body if isinstance(r, ast.Return)),
    "a factory with a keyword-only parameter": lambda t: any(fn.args.kwonlyargs for fn in _factories(t).values()),
    "a factory called by keyword": lambda t: any(c.keywords for c in _factory_calls(t)),
    "a factory called relying on its default": lambda t: any(
        len(c.args) + len(c.keywords) < len(_factories(t)[_call_name(c)].args.args) +
        len(_factories(t)[_call_name(c)].args.kwonlyargs) for c in _factory_calls(t)),
}


def _factory_bound_in(tree, block) -> bool:
    made = _factories(tree)
    return any(isinstance(st, ast.Assign) and isinstance(st.value, ast.Call) and _call_name(st.value) in made
               for st in block)


FOR = "for over range"
TUPLES = "tuple literals of arrays or of pairs of them"
SUM = "over generator expressions and list comprehensions"    # (README: sum(...) (also with a start ...) over ...)
WRITES = "in-place array writes"
ARGS = "arguments that are floats"
def _guarded_sum(tree):
    return any(_sums(n) for n in _walk(tree, ast.IfExp, ast.BoolOp))


def _copies_returned(tree) -> dict:
    """{function name: whether it writes the copy} of the functions that return a copy of a dict parameter of theirs
    (`r = dict(q)`, `q.copy()`, `{**q}`, `copy.copy(q)`, then `return r`)."""
    out = {}
    for fn in _walk(tree, ast.FunctionDef):
        params = {a.arg for a in fn.args.args}
        returned = {r.value.id for r in _walk(fn, ast.Return) if isinstance(r.value, ast.Name)}
        for a in fn.body:
            if not (isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Name) and a.targets[0].id in returned):
                continue
            v, src = a.value, None
            if isinstance(v, ast.Dict) and v.keys[:1] == [None] and isinstance(v.values[0], ast.Name):
                src = v.values[0].id
            elif isinstance(v, ast.Call) and len(v.args) == 1 and isinstance(v.args[0], ast.Name) and \
                    ast.unparse(v.func) in ("dict", "copy.copy", "copy.deepcopy"):
                src = v.args[0].id
            elif isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "copy" and \
                    isinstance(v.func.value, ast.Name):
                src = v.func.value.id
            if src in params:
                r = a.targets[0].id
                out[fn.name] = any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == r
                                   for n in _walk(fn, ast.Assign) for t in n.targets)
    return out


def _copies_returned_at_once(tree) -> set:
    """The functions that return a copy of a dict parameter of theirs at once (`return dict(q, w=...)`, `return {**q,
    "w": ...}`: transforms/copy_returns.py)."""
    out = set()
    for fn in _walk(tree, ast.FunctionDef):
        params = {a.arg for a in fn.args.args}
        for r in fn.body:
            v = r.value if isinstance(r, ast.Return) else None
            if isinstance(v, ast.Dict) and v.keys[:1] == [None] and isinstance(v.values[0], ast.Name) \
                    and v.values[0].id in params:
                out.add(fn.name)
            if isinstance(v, ast.Call) and ast.unparse(v.func) == "dict" and len(v.args) == 1 \
                    and isinstance(v.args[0], ast.Name) and v.args[0].id in params:
                out.add(fn.name)
    return out


def _zero_d_made(tree) -> set:
    """The names bound to a 0-d array the program makes (`z = np.zeros(())`, np.ones, np.full((), c), np.array(0.5),
    np.asarray(0.0))."""
    return {n.targets[0].id for n in _walk(tree, ast.Assign) if isinstance(n.targets[0], ast.Name)
            and isinstance(n.value, ast.Call) and n.value.args and (isinstance(n.value.args[0], ast.Tuple)
            and not n.value.args[0].elts and ast.unparse(n.value.func) in ("np.zeros", "np.ones", "np.full")
            or _array_of_a_number(n.value))}


def _array_of_a_number(call) -> bool:
    """`np.array(0.5)` / `np.asarray(0.0, dtype=float)`: a 0-d array of a number literal."""
    return (ast.unparse(call.func) in ("np.array", "np.asarray") and len(call.args) == 1
            and isinstance(call.args[0], ast.Constant) and type(call.args[0].value) in (int, float))


def _zip_of_rows(it) -> bool:
    """`zip(*M)` (also inside enumerate)."""
    if _is_call(it, "enumerate") and it.args:
        it = it.args[0]
    return _is_call(it, "zip") and len(it.args) == 1 and isinstance(it.args[0], ast.Starred)


def _whole_index(sub) -> bool:
    return (isinstance(sub.slice, ast.Tuple) and not sub.slice.elts) or (
        isinstance(sub.slice, ast.Constant) and sub.slice.value is Ellipsis)


def _zero_d_writes(tree) -> list:
    """Writes of a whole 0-d array the program makes (`z[()] = v`, `z[...] += v`)."""
    made = _zero_d_made(tree)
    return [n for n in _walk(tree, ast.Assign, ast.AugAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in made
            and _whole_index(t)]


def _zero_d_reads(tree) -> list:
    """Reads `z[()]` (or `z[...]`) of a 0-d array the program makes."""
    made = _zero_d_made(tree)
    return [n for n in _walk(tree, ast.Subscript) if isinstance(n.ctx, ast.Load) and isinstance(n.value, ast.Name)
            and n.value.id in made and _whole_index(n)]


def _zero_d_loop_bound(tree) -> bool:
    """A 0-d array the program makes bound again in a loop by arithmetic on it (`z = z * 0.5 + v`)."""
    made = _zero_d_made(tree)
    return any(isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and n.targets[0].id in made
               and isinstance(n.value, ast.BinOp) for loop in _walk(tree, ast.For, ast.While)
               for s in loop.body for n in ast.walk(s))


DETECTORS = {
    "straight-line numpy/math code": _straight_line,
    "if/elif/else": lambda t: any(n.orelse and isinstance(n.orelse[0], ast.If) for n in _walk(t, ast.If))
    and any(n.orelse and not isinstance(n.orelse[0], ast.If) for n in _walk(t, ast.If)),
    FOR: lambda t: _for_iter(t, lambda it: _is_call(it, "range")),
    f"{FOR} :: also one bound to a name first": _loop_over_range_name,
    f"{FOR} :: also by a conditional expression": lambda t: _loop_over_range_name(t, conditional=True),
    f"{FOR} :: arrays": lambda t: _for_iter(t, lambda it: isinstance(it, (ast.Name, ast.Subscript))),
    f"{FOR} :: zip": lambda t: _for_iter(t, lambda it: _is_call(it, "zip")),
    f"{FOR} :: enumerate": lambda t: _for_iter(t, lambda it: _is_call(it, "enumerate")),
    "zip :: also zip(*m) of the rows of a matrix or of a list or tuple of arrays into one name per row":
        lambda t: _for_iter(t, _zip_of_rows),
    "enumerate :: with a start": lambda t: _for_iter(
        t, lambda it: _is_call(it, "enumerate") and (len(it.args) == 2 or bool(it.keywords))),
    "enumerate :: around zip": lambda t: _for_iter(
        t, lambda it: _is_call(it, "enumerate") and _is_call(it.args[0], "zip")),
    "enumerate :: and zip over a range": lambda t: _for_iter(
        t, lambda it: _is_call(it, "zip") and any(_is_call(a, "range") for a in it.args)),
    f"{FOR} :: tuple literals of arrays or of pairs of them": lambda t: _for_iter(
        t, lambda it: isinstance(it, ast.Tuple) and any(isinstance(e, ast.Tuple) for e in it.elts)),
    f"{TUPLES} :: or passed to a function of yours that loops over them": _loop_over_passed_tuple,
    f"{TUPLES} :: also bound to a name first": lambda t: _for_iter(
        t, lambda it: isinstance(it, ast.Name) and it.id in _tuple_names(t)),
    f"{FOR} :: reversed(range(...))": lambda t: _for_iter(
        t, lambda it: _is_call(it, "reversed") and _is_call(it.args[0], "range")),
    f"{FOR} :: and reversed of an array or a tuple literal": lambda t: _for_iter(
        t, lambda it: _is_call(it, "reversed") and not isinstance(it.args[0], ast.Tuple)
        and not _is_call(it.args[0], "range")),
    "and reversed of an array or a tuple literal :: also in zip": lambda t: any(
        any(_reversed_items(a) for a in c.args) for c in _calls(t, "zip")),
    "and reversed of an array or a tuple literal :: enumerate and sums": lambda t: any(
        c.args and _reversed_items(c.args[0]) for c in _calls(t, "enumerate")) and _sum_over_reversed(t),
    "reversed(range(...)) :: also with a step": lambda t: _for_iter(
        t, lambda it: _is_call(it, "reversed") and _is_call(it.args[0], "range") and len(it.args[0].args) == 3),
    "while with data-dependent trip counts": lambda t: any(
        any(isinstance(n, ast.Compare) and isinstance(n.comparators[-1], ast.Constant) and
            isinstance(n.comparators[-1].value, float) for n in ast.walk(w.test)) for w in _walk(t, ast.While)),
    "break :: continue": lambda t: bool(_walk(t, ast.Continue)),
    "break": lambda t: bool(_walk(t, ast.Break)),
    "break :: early return": _early_return,
    "early return :: also inside loops": lambda t: _loops_inside(t, ast.Return),
    "early return :: together": _jumps_together,
    "values first bound inside a loop body and read in the next iteration": _carried,
    "values first bound inside a loop body and read in the next iteration :: scalars or arrays": _carried_array,
    "values first bound inside a loop body and read in the next iteration :: also bound in branches":
        _carried_in_branches,
    "nested loops and branches": lambda t: _inside(t, (ast.For, ast.While), (ast.For, ast.While))
    and _inside(t, (ast.If,), (ast.If,)),
    "augmented assignment": lambda t: any(isinstance(n.target, ast.Name) for n in _walk(t, ast.AugAssign)),
    "augmented assignment :: assignment expressions": lambda t: bool(_walk(t, ast.NamedExpr)),
    "lists built with append": lambda t: bool(_list_calls(t, "append")),
    "lists built with append :: in loops and branches": lambda t: _inside_calls(t, "append", (ast.For, ast.While))
    and _inside_calls(t, "append", (ast.If,)),
    "lists built with append :: also started with items": _list_started_with_items,
    "lists built with append :: traj = [y0]": _list_started_with_items,
    "lists built with append :: its last item read": _last_item_read,
    "lists built with append :: traj[-1]": _last_item_read,
    "lists built with append :: where the list is never popped": _last_item_read,
    "lists built with append :: or bound together": _lists_bound_together,
    # (README's example `ts, ys = [], []`, split at its commas)
    "lists built with append :: ts": _lists_bound_together,
    "lists built with append :: ys = []": _lists_bound_together,
    "lists built with append :: []": _lists_bound_together,
    "lists built with append :: converted once by np.array/np.asarray/np.stack (along any axis) after the last append":
        lambda t: any(
        _call_name(c) in ("np.array", "np.asarray", "np.stack") and len(c.args) == 1 and isinstance(c.args[0], ast.Name)
        and c.args[0].id in _list_names(t) for c in _walk(t, ast.Call)),
    "lists built with append :: used as a stack with pop": lambda t: bool(_list_calls(t, "pop")),
    "lists built with append :: also made anew in each iteration of a loop": lambda t: any(
        isinstance(a.value, ast.List) and not a.value.elts for loop in _walk(t, ast.For, ast.While)
        for a in loop.body if isinstance(a, ast.Assign)),
    "assignment expressions :: if (n := np.sum(x * x)) > 1.0": lambda t: any(
        isinstance(n, ast.NamedExpr) for s in _walk(t, ast.If) for n in ast.walk(s.test)),
    "assignment expressions :: also in while conditions": lambda t: any(
        isinstance(n, ast.NamedExpr) for s in _walk(t, ast.While) for n in ast.walk(s.test)),
    "augmented assignment :: tuple unpacking and swaps": lambda t: _swap(t) and any(
        isinstance(n.targets[0], ast.Tuple) and not _swap(ast.Module(body=[n], type_ignores=[]))
        for n in _walk(t, ast.Assign)),
    "tuple unpacking and swaps :: also of an array into its rows whose count is checked as python checks it": lambda t: any(
        isinstance(n.targets[0], ast.Tuple) and all(isinstance(e, ast.Name) for e in n.targets[0].elts)
        and _is_call(n.value, "np.tanh") for n in _walk(t, ast.Assign)),
    "augmented assignment :: chained comparisons": lambda t: any(len(c.ops) >= 2 for c in _walk(t, ast.Compare)),
    "augmented assignment :: conditional expressions": lambda t: bool(_walk(t, ast.IfExp)),
    "augmented assignment :: and/or": lambda t: {type(b.op) for b in _walk(t, ast.BoolOp)} >= {ast.And, ast.Or},
    "sum(...)": lambda t: bool(_sums(t, ast.GeneratorExp)) and bool(_sums(t, ast.ListComp)),
    "sum(...) :: also with a start": _sum_with_start,
    "sum(...) :: sum(terms, 0.5)": lambda t: any(len(c.args) == 2 for c in _calls(t, "sum")),
    f"sum(...) :: {SUM}": lambda t: bool(_sums(t, ast.GeneratorExp)) and bool(_sums(t, ast.ListComp)),
    f"{SUM} :: inside conditional expressions and and/or": _guarded_sum,
    f"{SUM} :: filters": lambda t: any(any(g.ifs for g in c.generators) for c in _sums(t)),
    f"{SUM} :: several for clauses": lambda t: any(len(c.generators) >= 2 for c in _sums(t)),
    f"{SUM} :: nesting": lambda t: any(_sums(c.elt) for c in _sums(t)),
    f"{SUM} :: a sum of arrays starts from zeros shaped like its first term": _sum_of_arrays,
    f"{SUM} :: and sum([a, b]) is a + b": _sum_of_list,
    WRITES: lambda t: bool(_sub_writes(t)),
    f"{WRITES} :: x[i] = v": lambda t: any(isinstance(n, ast.Assign) and not isinstance(s.slice, (ast.Tuple, ast.Slice))
                                          for n, s in _sub_writes(t)),
    f"{WRITES} :: x[i, j] += v": lambda t: any(isinstance(n, ast.AugAssign) and isinstance(s.slice, ast.Tuple)
                                              and not _has_slice(s.slice) for n, s in _sub_writes(t)),
    f"{WRITES} :: slices": lambda t: any(_has_slice(s.slice) for _, s in _sub_writes(t)),
    f"{WRITES} :: through an ellipsis": lambda t: any(
        isinstance(c, ast.Constant) and c.value is Ellipsis for _, s in _sub_writes(t) for c in ast.walk(s.slice)),
    f"{WRITES} :: x[...] = v and x[..., k] = v": lambda t: any(
        isinstance(s.slice, ast.Constant) and s.slice.value is Ellipsis for _, s in _sub_writes(t)) and any(
        isinstance(s.slice, ast.Tuple) and any(isinstance(c, ast.Constant) and c.value is Ellipsis for c in s.slice.elts)
        for _, s in _sub_writes(t)),
    f"{WRITES} :: inside loops": lambda t: _loops_inside(t, (ast.Assign, ast.AugAssign)) and any(
        _loops_inside(ast.Module(body=[loop], type_ignores=[]), ast.Assign) and _sub_writes(loop)
        for loop in _walk(t, ast.For, ast.While)),
    "calls to your own functions": lambda t: any(_calls(_entry(t), name) or any(
        _calls(_entry(t), name) for _ in [0]) for name in _module_funcs(t) if name.startswith("helper")),
    "calls to your own functions :: also as statements for their in-place writes into an argument": _called_for_effect,
    "calls to your own functions :: also where the function writes into its parameter and then binds it again in a "
    "loop or a branch while the caller reads its array after the call": _rebound_after_write,
    "calls to your own functions :: closures": _closure,
    "calls to your own functions :: nested defs": lambda t: any(
        isinstance(n, ast.FunctionDef) for fn in _walk(t, ast.FunctionDef) for n in ast.walk(fn) if n is not fn),
    "nested defs :: also with defaults and keyword-only parameters": lambda t: any(
        n.args.defaults or n.args.kwonlyargs for fn in _walk(t, ast.FunctionDef) for n in ast.walk(fn)
        if n is not fn and isinstance(n, ast.FunctionDef)),
    "nested defs :: defaults reading a structured argument too": lambda t: bool(_structure_defaults(t)),
    'nested defs :: def h(z, q=p, w=p["w"])': lambda t: any(
        isinstance(d, ast.Subscript) or isinstance(d, ast.Attribute) for d in _structure_defaults(t)),
    "calls to your own functions :: lambdas": lambda t: bool(_walk(t, ast.Lambda)),
    "lambdas :: also several on a line": _several_lambdas_on_a_line,
    "lambdas :: called where they are written": _lambda_called_in_place,
    "lambdas :: (lambda y: y * y)(x)": _lambda_called_in_place,
    "lambdas :: and bound again later in the same block": _lambda_bound_again,
    "lambdas :: calls after that call the new one": _lambda_bound_again,
    "lambdas :: also in branches and loops": _lambda_bound_in_a_block,
    "lambdas :: a call runs the function its name is bound to at that time": _lambda_bound_in_a_block,
    "or dicts of them keyed by strings :: dicts the function makes of its own values": _own_dict,
    "or dicts of them keyed by strings :: p = {...}": _own_dict,
    "or dicts of them keyed by strings :: also in a tuple or list bound to a name": _dicts_literal,
    "or dicts of them keyed by strings :: lists of copies": lambda t: bool(_copies_comprehended(t)),
    "or dicts of them keyed by strings :: [dict(l) for l in layers]": lambda t: bool(_copies_comprehended(t)),
    "or dicts of them keyed by strings :: layers = [{...}, {...}]": _dicts_literal,
    "or dicts of them keyed by strings :: dicts your functions return": lambda t: bool(_dict_returners(t)),
    "or dicts of them keyed by strings :: each return a dict display of the same string keys": lambda t: any(
        len([r for r in ast.walk(fn) if isinstance(r, ast.Return)]) > 1 for fn in _dict_returners(t).values()),
    "or dicts of them keyed by strings :: also holding dicts of their own": lambda t: bool(_nested_dicts(t)),
    'or dicts of them keyed by strings :: d["a"]["b"]': lambda t: any(
        isinstance(s.value, ast.Subscript) and isinstance(s.value.value, ast.Name) and s.value.value.id in _nested_dicts(t)
        for s in _walk(t, ast.Subscript)),
    "or dicts of them keyed by strings :: written too": lambda t: any(
        isinstance(a.targets[0], ast.Subscript) and isinstance(a.targets[0].value, ast.Subscript)
        and isinstance(a.targets[0].value.value, ast.Name) and a.targets[0].value.value.id in _nested_dicts(t)
        for a in _walk(t, ast.Assign)),
    "or dicts of them keyed by strings :: or a name bound to one in the function's own block": lambda t: bool(
        _named_dict_returners(t)),
    "or dicts of them keyed by strings :: q = {...}": lambda t: bool(_named_dict_returners(t)),
    "or dicts of them keyed by strings :: with keys added there too": lambda t: any(
        _keys_added(fn) for fn in _named_dict_returners(t)),
    'or dicts of them keyed by strings :: q["b"] = b': lambda t: any(_keys_added(fn) for fn in _named_dict_returners(t)),
    "or dicts of them keyed by strings :: then return q": lambda t: bool(_named_dict_returners(t)),
    "or dicts of them keyed by strings :: p = params(w, b)": lambda t: any(
        isinstance(a.value, ast.Call) and isinstance(a.value.func, ast.Name) and a.value.func.id in _dict_returners(t)
        for a in _walk(t, ast.Assign)),
    'or dicts of them keyed by strings :: params(w, b)["w"]': lambda t: any(
        isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Name) and s.value.func.id in _dict_returners(t)
        for s in _walk(t, ast.Subscript)),
    "or tuples/lists of them :: namedtuples too": _field_reads,
    "or tuples/lists of them :: also made in the function": lambda t: bool(_records_made(t)),
    "or tuples/lists of them :: s = state(x=a, v=b)": lambda t: bool(_records_made(t, keywords=True)),
    "or tuples/lists of them :: and changed by _replace": lambda t: bool(_replaced(t)),
    "or tuples/lists of them :: s = s._replace(x=s.x + h * s.v)": lambda t: bool(_replaced(t, same=True)),
    "or tuples/lists of them :: an argument's too": lambda t: bool(_arguments_replaced(t)),
    "or tuples/lists of them :: under its own name": lambda t: bool(_arguments_replaced(t)),
    "or tuples/lists of them :: p = p._replace(w=2.0 * p.w)": lambda t: bool(_arguments_replaced(t)),
    "or tuples/lists of them :: returned by your functions": lambda t: bool(_record_calls(t)),
    "or tuples/lists of them :: s = step(s, g) of return s._replace(w=s.w - lr * g) or return state(a, b)":
        lambda t: bool(_records_stepped(t)),
    "or tuples/lists of them :: also in a loop": lambda t: bool(_records_stepped(t, loop=True)),
    "or tuples/lists of them :: unpacked or read by field": _returned_record_reads,
    "or tuples/lists of them :: step(s, g).w": lambda t: _returned_record_reads(t, unpacked=False),
    "or tuples/lists of them :: passed straight to another call": _record_passed,
    "or dicts of them keyed by strings :: passed straight to another call": _dict_passed,
    "or dicts of them keyed by strings :: loss(params(w, b), x)": _dict_passed,
    "or tuples/lists of them :: g2(step(s, g))": _record_passed,
    "or tuples/lists of them :: also by nested defs": lambda t: any(
        inner.name in _record_returners(t) for fn in _walk(t, ast.FunctionDef) for inner in fn.body
        if isinstance(inner, ast.FunctionDef)) and bool(_record_calls(t)),
    "or tuples/lists of them :: also by a method of its class": lambda t: any(
        isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.Call) and isinstance(a.value.func, ast.Attribute)
        and isinstance(a.value.func.value, ast.Name) and a.value.func.value.id == a.targets[0].id
        and a.value.func.attr == "damped" for a in _walk(t, ast.Assign)),
    "or tuples/lists of them :: s = s.step(g)": lambda t: any(
        isinstance(a.value, ast.Call) and isinstance(a.value.func, ast.Attribute) and a.value.func.attr == "damped"
        for a in _walk(t, ast.Assign)),
    "or tuples/lists of them :: also in a function of yours": lambda t: any(
        fn.name != "f" for fn in _arguments_replaced(t)),
    "or tuples/lists of them :: also in a loop or a branch": lambda t: _in_block(
        t, (ast.For, ast.If), _replaced(t, same=True) + _records_made(t)),
    "or dicts of them keyed by strings :: with a dict for the default too": _dict_default_get,
    'or dicts of them keyed by strings :: params.get("opt", {})': _dict_default_get,
    "or dicts of them keyed by strings :: a name bound to such dicts of the same keys in several places": lambda t: bool(
        _dicts_bound_again(t)),
    "or dicts of them keyed by strings :: p = params(a) in one branch and p = params(b) in the other":
        _dict_in_both_branches,
    "or dicts of them keyed by strings :: also in a loop": lambda t: any(
        _in_block(t, (ast.For,), [a for a in _walk(t, ast.Assign) if isinstance(a.targets[0], ast.Name)
                                  and a.targets[0].id == name]) for name in _dicts_bound_again(t)),
    "or tuples/lists of them :: read by field": _field_reads,
    "or tuples/lists of them :: p.w": _field_reads,
    "or tuples/lists of them :: and their methods": lambda t: any(
        isinstance(c.func, ast.Attribute) and c.func.attr == "norm2" and isinstance(c.func.value, ast.Name)
        for c in _walk(t, ast.Call)),
    "or tuples/lists of them :: p.apply(x)": lambda t: any(
        isinstance(c.func, ast.Attribute) and c.func.attr == "norm2" and isinstance(c.func.value, ast.Name)
        for c in _walk(t, ast.Call)),
    "lambdas :: also read from a module-level dict": lambda t: any(
        isinstance(a.value, ast.Subscript) and isinstance(a.value.value, ast.Name) and a.value.value.id == "ACTS"
        for a in _walk(t, ast.Assign)) or any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                                              and n.value.id == "ACTS" for e in _walk(t, ast.IfExp) for n in ast.walk(e)),
    'lambdas :: acts["tanh"]': lambda t: any(isinstance(n.value, ast.Name) and n.value.id == "ACTS"
                                             for n in _walk(t, ast.Subscript)),
    "or dicts of them keyed by strings :: or formatted from a range loop's index": _formatted_keys,
    "or dicts of them keyed by strings :: for i in range(2)": _formatted_keys,
    'or dicts of them keyed by strings :: p[f"w{i}"]': _formatted_keys,
    "lambdas :: also chosen by a conditional expression": _function_chosen,
    "lambdas :: act = (lambda t: t * t) if flag else np.tanh": _function_chosen,
    "lambdas :: a numpy function in their place": _numpy_function_bound,
    "lambdas :: act = np.tanh": _numpy_function_bound,
    "calls to your own functions :: and functions returned by factories": _factory,
    "calls to your own functions :: and functions passed to your functions": lambda t: bool(_functions_passed(t)),
    "and functions passed to your functions :: rk4(rhs, y, t, h, p)": lambda t: "module" in _functions_passed(t),
    "and functions passed to your functions :: module-level functions": lambda t: "module" in _functions_passed(t),
    "and functions passed to your functions :: nested defs": lambda t: "nested" in _functions_passed(t),
    "and functions passed to your functions :: lambdas": lambda t: "lambda" in _functions_passed(t),
    "and functions passed to your functions :: numpy functions": lambda t: "numpy" in _functions_passed(t),
    ARGS: lambda t: "x" in {a.arg for a in _entry(t).args.args},
    f"{ARGS} :: arrays": lambda t: {"a", "M"} & {a.arg for a in _entry(t).args.args},
    f"{ARGS} :: or tuples/lists of them": lambda t: "xa" in {a.arg for a in _entry(t).args.args} or any(
        c.args and isinstance(c.args[0], (ast.Tuple, ast.List)) for c in _walk(t, ast.Call)
        if (_call_name(c) or "").startswith("helper")),
    "or tuples/lists of them :: also bound to a second name": lambda t: bool(_xa_names(t) - {"xa"}),
    f"{ARGS} :: or dicts of them keyed by strings": lambda t: bool(_dict_names(t)),
    "or dicts of them keyed by strings :: read at a key": lambda t: any(
        isinstance(n.value, ast.Name) and n.value.id in _dict_names(t) and isinstance(n.slice, ast.Constant)
        and isinstance(n.slice.value, str) for n in _walk(t, ast.Subscript)),
    'or dicts of them keyed by strings :: params["w"]': lambda t: any(
        isinstance(n.value, ast.Name) and n.value.id in _dict_names(t) and isinstance(n.slice, ast.Constant)
        and isinstance(n.slice.value, str) for n in _walk(t, ast.Subscript)),
    'or dicts of them keyed by strings :: also by params.get("w", 0.0)': lambda t: bool(_dict_method(t, "get", 2)),
    'or dicts of them keyed by strings :: under "w" in params': lambda t: any(
        isinstance(c.ops[0], (ast.In, ast.NotIn)) and isinstance(c.left, ast.Constant) and (
            isinstance(c.comparators[0], ast.Name) and c.comparators[0].id in _dict_names(t)
            or c.comparators[0] in _dict_method(t, "keys", 0)) for c in _walk(t, ast.Compare)),
    "or dicts of them keyed by strings :: loops over params.items()": lambda t: bool(_dict_loops(t, "items")),
    "or dicts of them keyed by strings :: over params.values()": lambda t: bool(_dict_loops(t, "values")),
    "or dicts of them keyed by strings :: over its keys": lambda t: bool(_dict_loops(t, "keys")),
    "or dicts of them keyed by strings :: with tests of the keys decided there": lambda t: bool(_key_tests(t)),
    'or dicts of them keyed by strings :: if k.startswith("w")': lambda t: any(
        isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "startswith"
        for c in _key_tests(t) + [i for comp in _walk(t, ast.GeneratorExp, ast.ListComp) for g in comp.generators
                                  if g.iter in _dict_method(t, "items", 0) for i in g.ifs]),
    "or dicts of them keyed by strings :: comprehensions over params.items()": lambda t: any(
        g.iter in _dict_method(t, "items", 0) for c in _walk(t, ast.GeneratorExp, ast.ListComp) for g in c.generators),
    "or dicts of them keyed by strings :: its items summed": lambda t: any(
        _call_name(c) in ("sum", "np.sum") and c.args and (c.args[0] in _dict_method(t, "values", 0)
                                                          or c.args[0] in _values_comprehensions(t))
        for c in _walk(t, ast.Call)),
    "or dicts of them keyed by strings :: sum(params.values())": lambda t: any(
        _call_name(c) == "sum" and c.args and c.args[0] in _dict_method(t, "values", 0) for c in _walk(t, ast.Call)),
    "or dicts of them keyed by strings :: also in comprehensions over params.values()":
        lambda t: bool(_values_comprehensions(t)),
    "or dicts of them keyed by strings :: copies dict(params) or params.copy() or {params} or dict(params, w=w2) or "
    "copy.copy(params) or copy.deepcopy(params) (its arrays its own, written in place too) and dict comprehensions "
    "over params.items()": lambda t: bool(_dict_copies(t, _dict_names(t))),
    "or dicts of them keyed by strings :: dicts of their own (their items written, q[\"w\"] = w2, also in loops and "
    "branches, or added in the block the copy is made in; the caller's dict stays as it was)":
        lambda t: bool(_copy_writes(t)),
    "or dicts of them keyed by strings :: at a key held in a name bound once to a string or in a loop over a tuple "
    "of keys (k = \"w\", for k in keys)": lambda t: bool(_key_names(t)),
    "or dicts of them keyed by strings :: passed whole to your functions": lambda t: any(
        (_call_name(c) or "").startswith("dict") and any(isinstance(a, ast.Name) and a.id in _dict_names(t)
                                                          for a in c.args) for c in _walk(t, ast.Call)),
    "or tuples/lists of them :: and bound again": lambda t: any(_bindings(_entry(t), n) > (n != "xa")
                                                                for n in _xa_names(t)),
    "or tuples/lists of them :: as a loop's state": lambda t: any(
        _bindings(loop, n) for loop in _walk(_entry(t), ast.For, ast.While) for n in _xa_names(t)),
    "or tuples/lists of them :: state = init then state = (s0 + a * s1, s1) in the loop": lambda t: any(
        _bindings(loop, n) for loop in _walk(_entry(t), ast.For, ast.While) for n in _xa_names(t) - {"xa"}),
    "or tuples/lists of them :: or in a branch": lambda t: any(
        _bindings(b, n) for b in _walk(_entry(t), ast.If) for n in _xa_names(t)),
    "or tuples/lists of them :: over zip of them and of tuple literals and over enumerate of them with a constant "
    "start": lambda t: any(
        _is_call(n.iter, "enumerate") and len(n.iter.args) == 2 and _is_call(n.iter.args[0], "zip")
        and any(isinstance(z, ast.Name) and z.id in _xa_names(t) for z in n.iter.args[0].args)
        and any(isinstance(z, ast.Tuple) for z in n.iter.args[0].args) for n in _walk(_entry(t), ast.For)),
    "or tuples/lists of them :: copied": lambda t: bool(_tuple_copies(t, sliced=True)),
    "or tuples/lists of them :: tuple(xa) or list(xa) of them or of their constant slices": lambda t: bool(
        _tuple_copies(t)),
    "or tuples/lists of them :: read as the literal of their items (of anything else declined)": lambda t: any(
        c is n.value for n in _walk(_entry(t), ast.Assign) for c in _tuple_copies(t, True)) or any(
        c is n.iter for n in _walk(_entry(t), ast.For, ast.comprehension) for c in _tuple_copies(t, True)),
    "or tuples/lists of them :: comprehensions over them": lambda t: any(
        isinstance(g.iter, ast.Name) and g.iter.id in _xa_names(t)
        for c in _walk(_entry(t), ast.GeneratorExp, ast.ListComp) for g in c.generators),
    "arrays of a list comprehension": lambda t: bool(_items(t)),
    "arrays of a list comprehension :: np.array or np.asarray or np.stack of it": lambda t: {
        _call_name(c) for c in _items(t)} >= {"np.array", "np.asarray", "np.stack"},
    "arrays of a list comprehension :: items of any shape": lambda t: any(
        isinstance(c.args[0].elt, ast.BinOp) and _call_name(c) == "np.stack" for c in _items(t)) or any(
        "range(2)" in ast.unparse(c.args[0].generators[0].iter) and len(c.args[0].generators) == 1 for c in _items(t)),
    "arrays of a list comprehension :: also lists or list comprehensions": lambda t: {
        type(c.args[0].elt) for c in _items(t)} >= {ast.List, ast.ListComp},
    "arrays of a list comprehension :: np.array([[v, v * v] for v in x])": lambda t: any(
        isinstance(c.args[0].elt, ast.List) for c in _items(t)),
    "max(...) and min(...) of a generator expression or list comprehension": lambda t: bool(
        _extremes(t, ast.GeneratorExp)) and bool(_extremes(t, ast.ListComp)),
    "arrays of a list comprehension :: also bound to a name first": lambda t: bool(_named_comprehensions(t)),
    "arrays of a list comprehension :: vals = [f(v) for v in x] ... np.array(vals)": lambda t: _named_read(
        t, lambda c: _call_name(c) == "np.array"),
    "arrays of a list comprehension :: where every read of the name converts it": lambda t: any(
        len(reads) > 1 for reads in _named_comprehensions(t).values()),
    "arrays of a list comprehension :: np.stack(vals, axis=1) too": lambda t: _named_read(
        t, lambda c: _call_name(c) == "np.stack" and any(k.arg == "axis" for k in c.keywords)),
    "arrays of a list comprehension :: takes its len or sums it": lambda t: _named_read(
        t, lambda c: _call_name(c) == "len") and _named_read(t, lambda c: _call_name(c) == "sum"),
    "arrays of a list comprehension :: sum(vals)": lambda t: _named_read(t, lambda c: _call_name(c) == "sum"),
    "or tuples/lists of them :: loops over them and over slices of them by constants": _loop_over_slice,
    # (README's example `for W, b in params[:-1]`, split at its comma)
    "or tuples/lists of them :: for w": lambda t: _loop_over_slice(t, pairs=True),
    "or tuples/lists of them :: b in params[:-1]": lambda t: _loop_over_slice(t, pairs=True),
    "or tuples/lists of them :: also bound to a name": _slice_bound,
    "or tuples/lists of them :: hidden = params[1:]": _slice_bound,
    "arrays of a list comprehension :: filters": lambda t: any(g.ifs for c in _items(t) for g in c.args[0].generators),
    "arrays of a list comprehension :: several for clauses": lambda t: any(len(c.args[0].generators) > 1
                                                                           for c in _items(t)),
    "early return :: and for/while ... else runs its block where no break ended the loop": lambda t: any(
        n.orelse for n in _walk(t, ast.For, ast.While)),
    "integers and booleans flow through without adjoints": _ints_bools,
    "print and assert stay in the forward sweep": lambda t: bool(_calls(t, "print")) and bool(_walk(t, ast.Assert)),
    "print and assert stay in the forward sweep :: their f-strings too": lambda t: _inside(
        t, (ast.Assert,), (ast.JoinedStr,)) or any(_inside(c, (ast.Call,), (ast.JoinedStr,)) for c in _calls(t, "print")),
    'print and assert stay in the forward sweep :: print(f"step {i}: {loss:.3f}")': lambda t: any(
        v.format_spec is not None for c in _calls(t, "print") for v in ast.walk(c) if isinstance(v, ast.FormattedValue)),
    # keyword calls, defaults, keyword-only parameters: of helpers, and of the entry f (which
    # fuzzgen.check_program then calls with and without its keywords, fuzzgen.entry_call)
    "your functions": lambda t: any(_has_kw_params(fn) for fn in _module_funcs(t).values()),
    "your functions :: the one you differentiate included": lambda t: _has_kw_params(_entry(t)),
    "your functions :: may be called with keyword arguments": _keyword_calls,
    "your functions :: rely on defaults": _relies_on_defaults,
    "your functions :: and have keyword-only parameters": _keyword_only,
    "or dicts of them keyed by strings :: or a copy of a dict it takes": lambda t: bool(_copies_returned(t)),
    'or dicts of them keyed by strings :: q = dict(p) (also p.copy(), {p}, {p, "w": w2}, copy.copy(p), also in nested '
    'defs)': lambda t: bool(_copies_returned(t)),
    "or dicts of them keyed by strings :: written or with keys added": lambda t: any(_copies_returned(t).values()),
    'or dicts of them keyed by strings :: q["w"] = 2.0 * q["w"]': lambda t: any(_copies_returned(t).values()),
    "or dicts of them keyed by strings :: or returned at once": lambda t: bool(_copies_returned_at_once(t)),
    "or dicts of them keyed by strings :: return dict(p, w=w2)": lambda t: bool(_copies_returned_at_once(t)),
    "0-d arrays the function makes": lambda t: bool(_zero_d_made(t)),
    "0-d arrays the function makes :: s = np.zeros(())": lambda t: bool(_zero_d_made(t)),
    "0-d arrays the function makes :: also np.array(0.5) or np.asarray(0.0)": lambda t: any(
        isinstance(n.value, ast.Call) and _array_of_a_number(n.value) for n in _walk(t, ast.Assign)),
    "0-d arrays the function makes :: as the numbers they hold": lambda t: bool(_zero_d_made(t)),
    "0-d arrays the function makes :: written whole": lambda t: bool(_zero_d_writes(t)),
    "0-d arrays the function makes :: s[()] = v": lambda t: any(isinstance(w, ast.Assign) for w in _zero_d_writes(t)),
    "0-d arrays the function makes :: s[...] += v": lambda t: any(isinstance(w, ast.AugAssign) for w in _zero_d_writes(t)),
    "0-d arrays the function makes :: read": lambda t: bool(_zero_d_reads(t)),
    "0-d arrays the function makes :: s[()]": lambda t: bool(_zero_d_reads(t)),
    "0-d arrays the function makes :: and bound again by a loop": _zero_d_loop_bound,
    "0-d arrays the function makes :: s = s + x[i] * w": _zero_d_loop_bound,
}

# phrases that explain a construct rather than name one
NOT_CONSTRUCTS = {
    "zip :: its row count checked as python does",
    "assignment expressions :: in a comprehension declined",      # (a decline, tests/test_walrus.py)
    "assignment expressions :: saying what to write",
    "or dicts of them keyed by strings :: but not where another name holds the same dict",     # (a decline)
    "lambdas :: where the name is read only by calls passing one number of arguments by position",
    "print and assert stay in the forward sweep :: the text is python's",
    "print and assert stay in the forward sweep :: under numba too",
    f"{TUPLES} :: unrolled",
    f"{TUPLES} :: the items may differ in shape",
    "early return :: a range loop with break needs a literal step",
    "values first bound inside a loop body and read in the next iteration :: prev in if i > 0",
    "values first bound inside a loop body and read in the next iteration :: s += prev * x[i] / prev = x[i]",
    f"{SUM} :: each becomes an accumulating loop in the generated code",
    f"{SUM} :: where it is computed on its own path only",
    f"{SUM} :: so its gradient and its jvp compile under numba too",
    f"{WRITES} :: with overwritten values restored in the backward sweep",
    "calls to your own functions :: inlined into the gradient",
    "calls to your own functions :: comments naming them",
    "calls to your own functions :: bump(buf, i, v) of a function that returns nothing",
    "or tuples/lists of them :: gradients come back in the same structure",
    "or dicts of them keyed by strings :: gradients come back as dicts of the same keys",
    "or dicts of them keyed by strings :: unrolled",
    "or tuples/lists of them :: written out as lists",
    "and have keyword-only parameters :: bound as python binds them",
    "arrays of a list comprehension :: a loop counts the items and keeps the first",
    "max(...) and min(...) of a generator expression or list comprehension :: the largest or smallest item of its "
    "array",
    "arrays of a list comprehension :: for the array's shape and dtype",
    "arrays of a list comprehension :: and one writes each into its row",
    "s = s + x[i] * w :: where a read names the array",     # (where the rewrite stops: tests/test_zero_d_locals.py)
    "s = s + x[i] * w :: t = s",
    "s = s + x[i] * w :: np.reshape(s, 1)",
    "s = s + x[i] * w :: s.shape",
    "s = s + x[i] * w :: it stays an array",
}


def _range_bound_rebound(tree):
    """`for i in range(stop): stop = stop - 1`: a bound Python reads once, before the loop."""
    for loop in _walk(tree, ast.For):
        if _is_call(loop.iter, "range"):
            bound = {n.id for a in loop.iter.args for n in ast.walk(a) if isinstance(n, ast.Name)}
            if any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in bound
                   for s in loop.body for n in ast.walk(s)):
                return True
    return False


def _swapped_buffers(tree):
    """`b, c = c, b` (or `b, c = c, g(b, c)`) of arrays, then the one bound to c's array written in place."""
    written = {t.value.id for n in _walk(tree, ast.Assign, ast.AugAssign)
               for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
               if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name)}
    written |= {n.value.id for n in _walk(tree, ast.Assign) if isinstance(n.targets[0], ast.Name)
                and isinstance(n.value, ast.Name) and n.targets[0].id in written}   # (through a second name)
    return any(isinstance(n.targets[0], ast.Tuple) and isinstance(n.value, ast.Tuple) and len(n.value.elts) == 2
               and [getattr(e, "id", None) for e in n.targets[0].elts][::-1][0] == getattr(n.value.elts[0], "id", "")
               and getattr(n.targets[0].elts[0], "id", None) in written
               for n in _walk(tree, ast.Assign))


def _second_name_written(tree):
    """`al = buf` then `al[i] = ...`: a write through a second name of an array read by its first."""
    copies = {n.targets[0].id: n.value.id for n in _walk(tree, ast.Assign)
              if isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Name)}
    return any(isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in copies
               for n in _walk(tree, ast.Assign) for t in n.targets)


# constructs the fuzz brief asks for beyond the README's words
EXTRA = {
    **FACTORY_FORMS,
    # README's copies of a tuple argument, `tuple(xa)` or `list(xa)` "of them or of their constant slices": the slices
    "a copy of a constant slice of the tuple argument": lambda t: any(
        isinstance(c.args[0], ast.Subscript) for c in _tuple_copies(t, sliced=True)),
    # README's dict copies: copy.deepcopy(params), its arrays written in place (an element, -=) with params read after
    "a deep copy of a dict argument written in place": lambda t: any(
        isinstance(n, (ast.Assign, ast.AugAssign)) and isinstance(getattr(n, "target", None) or n.targets[0],
                                                                  ast.Subscript)
        and any(isinstance(m, ast.Name) and m.id in deep for m in ast.walk(getattr(n, "target", None) or n.targets[0]))
        and (isinstance(n, ast.AugAssign) or isinstance((n.targets[0]).value, ast.Subscript))
        for deep in [{k for k, a in _dict_copies(t, _dict_names(t)).items() if _call_name(a.value) == "copy.deepcopy"}]
        for n in _walk(_entry(t), ast.Assign, ast.AugAssign)),
    "value first bound in a loop body, read in a later iteration": _carried,
    # README's loops over tuple literals of arrays (unrolled), reversed of one in zip and enumerate: zip or
    # enumerate whose sequences are tuple literals (or a name bound to one), `zip(reversed((W1, W2)), (v1, v2))`
    "zip or enumerate of tuple literals of arrays": lambda t: any(
        _is_call(n.iter, "zip") and all(isinstance(a, (ast.Tuple, ast.Name)) or _is_call(a, "reversed") for a in n.iter.args)
        or _is_call(n.iter, "enumerate") and n.iter.args and _is_call(n.iter.args[0], "zip")
        and all(isinstance(a, (ast.Tuple, ast.Name)) for a in n.iter.args[0].args)
        for n in _walk(_entry(t), ast.For) if isinstance(n.iter, ast.Call)
        and any(isinstance(a, ast.Tuple) and any(not isinstance(e, ast.Constant) for e in a.elts)
                or _is_call(a, "reversed") and isinstance(a.args[0], (ast.Tuple, ast.Name))
                for c in [n.iter] + [x for x in n.iter.args if isinstance(x, ast.Call)] for a in c.args)),
    "np.array of a nested list": _nested_list_array,
    "np.array of a list of scalars": lambda t: any(c.args and isinstance(c.args[0], ast.List)
                                                   for c in _calls(t, "np.array")),
    "astype": lambda t: any(isinstance(c.func, ast.Attribute) and c.func.attr == "astype"
                            for c in _walk(t, ast.Call)),
    "fancy indexing": _fancy,
    "boolean-mask indexing": _mask,
    "index list of loop variables": _index_list_of_names,
    "boolean list as an index": _boolean_index_list,
    "logits[np.arange(n), labels]": _arange_labels,
    "write at an index list": _index_list_write,
    "slices with steps": _step_slice,
    "in-place write at a computed index": _computed_index_write,
    "closure over a loop variable": _loop_closure,
    "bounded recursion": _recursion,
    "helper with a loop inside": lambda t: any(_walk(fn, ast.For, ast.While) for name, fn in _module_funcs(t).items()
                                               if name.startswith("helper")),
    "matrix argument": lambda t: "M" in {a.arg for a in _entry(t).args.args},
    "tuple argument to the entry": lambda t: "xa" in {a.arg for a in _entry(t).args.args},
    "list argument to a helper": lambda t: any(c.args and isinstance(c.args[0], ast.List)
                                               for c in _walk(t, ast.Call) if (_call_name(c) or "").startswith("helper")),
    "while with continue": lambda t: any(_walk(w, ast.Continue) for w in _walk(t, ast.While)),
    "early return inside a while": lambda t: any(_walk(w, ast.Return) for w in _walk(t, ast.While)),
    "math module": lambda t: any((_call_name(c) or "").startswith("math.") for c in _walk(t, ast.Call)),
    "sum of arrays nested in a sum of arrays": _sum_of_arrays_nested,
    "module-level constant as a condition (README 'Captured values')": _module_constant_condition,
    "range bound the loop body rebinds": _range_bound_rebound,
    "swap of two arrays written in place": _swapped_buffers,
    "reversed of a tuple literal": lambda t: _for_iter(
        t, lambda it: _is_call(it, "reversed") and isinstance(it.args[0], ast.Tuple)),
    "reversed inside a sum over a comprehension": _sum_over_reversed,
    "np.stack of a list built with appends, along axis 1": _stack_along_axis,
    # README 'lists built with append (in loops ...; converted once ...)': in a while loop whose trip count depends
    # on the data, and in a loop nested in another
    # a loop variable read after its loop: in an outer loop (the backward sweep's run of the inner loop binds it
    # again), and bound again by the loop's body (Python's variable after the loop is that binding)
    "a loop variable read after its loop, in an outer loop": lambda t: _loop_variable_after(t, inside=True),
    "a loop variable bound again in its loop and read after it": lambda t: _loop_variable_after(t, bound_again=True),
    "a converted list appended in a while loop": lambda t: _list_appended_in(t, (ast.While,)),
    "a converted list appended in an inner loop": lambda t: _list_appended_in(t, (ast.For, ast.While),
                                                                            (ast.For, ast.While)),
    "a nested list comprehension's array": lambda t: any(isinstance(c.args[0].elt, ast.ListComp) for c in _items(t)),
    "factory's function relying on its defaults and called by keyword (README 'Factories')":
        _factory_call_with_defaults,
    "loop over the tuple argument": lambda t: any(
        isinstance(n.iter, ast.Name) and n.iter.id in _xa_names(t) for n in _walk(_entry(t), ast.For)),
    "second name of an array written in place": _second_name_written,
    # README (Transforms): a write into an argument's array leaves the caller's array as one call of f does
    "write into the entry's array argument": lambda t: any(
        isinstance(s.value, ast.Name) and s.value.id in {a.arg for a in _entry(t).args.args}
        for n in _walk(_entry(t), ast.Assign, ast.AugAssign)
        for s in [getattr(n, "target", None) or n.targets[0]] if isinstance(s, ast.Subscript)),
    "write at integer arrays that broadcast together": lambda t: any(
        isinstance(e, ast.Call) and _call_name(e) == "np.array" and e.args and isinstance(e.args[0], ast.List)
        and e.args[0].elts and isinstance(e.args[0].elts[0], ast.List)
        for _, s in _sub_writes(t) for e in ([s.slice] + list(getattr(s.slice, "elts", [])))),
}


# README's CUDA text (Transforms: srcdiff.cuda.vmap) names what runs on the device; each phrase here, quoted as the
# README writes it, is detected in programs made of fuzz_cuda.DEVICE_FEATURES (the --cuda --device fuzzer's:
# tests/test_fuzz.py test_readme_device_constructs_are_generated)
def _tuple_parameter(tree):
    """f takes a tuple or list argument (`xa`, unpacked or indexed in its body)."""
    return any(isinstance(n, ast.FunctionDef) and n.name == "f" and any(a.arg == "xa" for a in n.args.args)
               for n in ast.walk(tree))


def _product_and_minimum_along_an_axis(tree):
    """np.prod or np.min along an axis counted from the end (`axis=-2`)."""
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and ast.unparse(n.func) in ("np.prod", "np.min"):
            axis = [k.value for k in n.keywords if k.arg == "axis"]
            if axis and isinstance(axis[0], ast.UnaryOp) and isinstance(axis[0].op, ast.USub):
                found.add(ast.unparse(n.func))
    return bool(found)


DEVICE = {
    "np.array([[s1, s2], [s3, s4]])": _number_rows,
    "sums, means, products, maxima, minima": _product_and_minimum_along_an_axis,
    "`def f(xa, M): x, a = xa`": _tuple_parameter,
}


def detect(source: str) -> set:
    """Names (DETECTORS keys and EXTRA keys) of the constructs that occur in a program."""
    tree = ast.parse(source)
    found = set()
    for table in (DETECTORS, EXTRA):
        for name, det in table.items():
            try:
                if det(tree):
                    found.add(name)
            except (StopIteration, IndexError, AttributeError):
                pass
    return found
