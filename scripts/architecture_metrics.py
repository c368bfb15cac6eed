"""Measure the shape of the srcdiff package: the figures the redesign is judged by.

    python scripts/architecture_metrics.py [--details]

Prints, for the package under srcdiff/:
* import cycles: strongly connected components of the import graph between srcdiff modules, once
  for module-level imports only and once counting imports inside functions too (a lazy import hides a
  cycle from Python but not from the reader);
* cross-module private names: ``from srcdiff.x import _name`` and ``x._name`` where ``x`` is an
  imported srcdiff module;
* functions longer than 80 lines, and modules longer than 800 lines;
* ad-hoc node attributes (``_srcdiff_*`` outside the declared keys of transforms/annotations.py) and
  the modules that set or read them, and the number of declared annotation keys;
* hand-written block walkers (``for f in ("body", "orelse")``) outside astutil's one walker;
* passes that recognise each other's output by text: string literals tested with
  ``endswith``/``startswith``/``in`` against names, or comment text matched in code; split into matching
  between passes (text or names another pass made: the ones to remove) and the rest, whose text comes from
  outside the compiler (file names, other tools' error messages, module and namespace names, Python's own
  names: TEXT_FROM_OUTSIDE lists them);
* tagged-kind indexing outside transforms/kind_type.py: kinds read by position (``k[0] == "a" and k[1] > 2``)
  or written as tagged tuples (``("s", "i")``) instead of through transforms/kind_type.py's Kind type;
* passes that parse emitted text: ``ast.parse`` / ``gast.parse`` of generated source (an argument named
  ``source``, a ``.source()`` call or a ``.src`` attribute) outside the front end (transforms/parse.py,
  which parses the function it is given);
* files to touch to add an elementwise function: its rule (srcdiff/rules/numpy_rules.py), its test entry
  (tests/test_rules_table.py), and every module outside srcdiff/rules holding a literal table (a set, list,
  tuple or dict) that names elementwise NumPy functions ("np.exp", "np.tanh", ...): a new function must
  join each.
Nothing is imported from srcdiff: the package is read as source, so the script runs on any checkout.
"""
import argparse
import ast
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "srcdiff")
PACKAGE = "srcdiff"


def modules():
    """{dotted name: path} of every module in the package."""
    out = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, f), os.path.dirname(ROOT))[:-3]
                name = rel.replace(os.sep, ".")
                out[name[:-len(".__init__")] if name.endswith(".__init__") else name] = os.path.join(dirpath, f)
    return out


def resolve(current, level, module, mods):
    """The dotted name a (possibly relative) import refers to, within the package or None."""
    if level:
        base = current.split(".")
        is_pkg = mods.get(current, "").endswith("__init__.py")
        base = base[:len(base) - level + (1 if is_pkg else 0)]
        name = ".".join(base + ([module] if module else []))
    else:
        name = module or ""
    return name if name.split(".")[0] == PACKAGE else None


def imports(mods):
    """(module-level edges, all edges, private names imported, module aliases per module)."""
    top, every = defaultdict(set), defaultdict(set)
    private, aliases = [], defaultdict(dict)
    for name, path in mods.items():
        tree = ast.parse(open(path).read(), path)
        module_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = resolve(name, node.level, node.module, mods)
                if base is None:
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in mods:
                        targets.append(sub)
                        aliases[name][a.asname or a.name] = sub
                    else:
                        targets.append(base)
                        if a.name.startswith("_") and not a.name.startswith("__"):
                            private.append((name, node.lineno, f"{base}.{a.name}"))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == PACKAGE:
                        targets.append(a.name)
                        aliases[name][a.asname or a.name] = a.name
            for t in targets:
                t = t if t in mods else t.rsplit(".", 1)[0]
                if t != name and t in mods:
                    every[name].add(t)
                    if id(node) in module_level:
                        top[name].add(t)
    return top, every, private, aliases


def private_attributes(mods, aliases):
    """``alias._name`` where alias names another srcdiff module."""
    out = []
    for name, path in mods.items():
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases[name] and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                out.append((name, node.lineno, f"{aliases[name][node.value.id]}.{node.attr}"))
    return out


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return comps


def long_functions(mods, limit=80):
    out = []
    for name, path in mods.items():
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out.append((n, f"{name}.{node.name}", node.lineno))
    return sorted(out, reverse=True)


ANNOTATIONS = f"{PACKAGE}.transforms.annotations"


def node_attributes(mods):
    """{attribute: set of modules} for ``_srcdiff_*`` names used in code (the annotations module declares
    its keys under that prefix: it is the one place they are named)."""
    out = defaultdict(set)
    for name, path in mods.items():
        if name == ANNOTATIONS:
            continue
        for m in re.finditer(r"\b(_srcdiff_\w+)", open(path).read()):
            out[m.group(1)].add(name)
    return out


TEXT_MATCH = re.compile(r"""\.(endswith|startswith)\(\s*["'][^"']*["']|["'][^"']*sweep[^"']*["']\s+(not\s+)?in\b""")


MATCHED_TEXT = re.compile(r"""\.(?:endswith|startswith)\(\s*(["'])(.*?)\1|(["'])([^"']*sweep[^"']*)\3\s+(?:not\s+)?in\b""")

# Matched text that no pass of srcdiff makes, with where it comes from: matching it is not coordination
# between passes. Any other text matched is counted "between passes".
TEXT_FROM_OUTSIDE = {
    ".py": "file name", ".json": "file name",
    "TypingError: ": "error text (Numba)", "No implementation of function": "error text (Numba)",
    "Failed in ": "error text (Numba)", "srcdiff: ": "error text (Numba, quoting srcdiff's own error)",
    ",": "user input (command line)",
    "srcdiff.runtime": "module name", "dask.array": "module name", "dask.bag": "module name",
    "np.random": "module name", "np.": "module name", "rt.": "module name",
    "__": "Python name (dunder)", "_": "Python name (private attribute)", "*": "Python name (*args parameter)",
    "@py": "Python name (pytest's assertion rewriting)",
    "-": "text the same function made (a slice bound)",
    "_ZN5numba": "symbol name (Numba's mangling, tested as numba.core.codegen does)",
}


def text_matching(mods):
    """[(module, line, code, what it matches: None between passes, else TEXT_FROM_OUTSIDE's reason)]."""
    out = []
    for name, path in mods.items():
        for lineno, line in enumerate(open(path), 1):
            code = line.split("#", 1)[0]
            if TEXT_MATCH.search(code):
                texts = [m.group(2) if m.group(2) is not None else m.group(4) for m in MATCHED_TEXT.finditer(code)]
                reasons = [TEXT_FROM_OUTSIDE.get(t) for t in texts] or [None]
                out.append((name, lineno, code.strip(), None if None in reasons else sorted(set(reasons))[0]))
    return out


KIND_TAGS = {"s", "a", "t", "l", "dtype", "?"}
_DTYPES = {"f", "i", "b", None}


def _tag_test(node) -> bool:
    """`x[0] == "a"`, `x[0] != "t"`, `(k or ("?",))[0] in ("s", "a")`: a kind's tag read by position."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1
            and isinstance(node.ops[0], (ast.Eq, ast.NotEq, ast.In, ast.NotIn))):
        return False
    left, right = node.left, node.comparators[0]
    if not (isinstance(left, ast.Subscript) and isinstance(left.slice, ast.Constant) and left.slice.value == 0):
        return False
    values = [right] if isinstance(right, ast.Constant) else getattr(right, "elts", [])
    tags = {v.value for v in values if isinstance(v, ast.Constant)}
    return bool(tags) and len(tags) == len(values) and tags <= KIND_TAGS


def _kind_tuple(node) -> bool:
    """A kind written as its tagged tuple: ("s", "f"), ("a", nd, "f"), ("t",), ("t", n, "exp"), ("?",), ..."""
    if not (isinstance(node, ast.Tuple) and node.elts and isinstance(node.elts[0], ast.Constant)):
        return False
    tag, rest = node.elts[0].value, node.elts[1:]
    last = rest[-1].value if rest and isinstance(rest[-1], ast.Constant) else ...
    if tag in ("t", "?"):
        return not rest or (tag == "t" and (len(rest) == 1 or last == "exp"))
    if tag in ("s", "dtype"):
        return len(rest) == 1 and last in _DTYPES
    if tag == "a":
        return len(rest) == 2 and last in _DTYPES
    return False


def tagged_kinds(mods):
    """[(module, line)] where a kind is read by position or written as a tagged tuple, outside kind_type.py (the Kind type)."""
    out = set()
    for name, path in mods.items():
        if name == f"{PACKAGE}.transforms.kind_type":
            continue
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if _tag_test(node) or _kind_tuple(node):
                out.add((name, node.lineno))
    return sorted(out)


def emitted_text_parses(mods):
    """(module, line, call) of each parse of generated source outside the front end."""
    out = []
    for name, path in mods.items():
        if name == f"{PACKAGE}.transforms.parse":
            continue
        for node in ast.walk(ast.parse(open(path).read(), path)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "parse"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in ("ast", "_ast", "gast")
                    and node.args and re.search(r"\bsource\b|\.src\b", ast.unparse(node.args[0]))):
                out.append((name, node.lineno, ast.unparse(node)))
    return out


ELEMENTWISE_PROBES = {"np.exp", "np.log", "np.sqrt", "np.tanh", "np.log1p", "np.expm1", "np.sin"}


def elementwise_tables(mods):
    """{module: line} of the first literal collection naming elementwise NumPy functions, per module outside
    the rule registry."""
    out = {}
    for name, path in mods.items():
        if name.startswith(f"{PACKAGE}.rules"):
            continue
        for node in ast.walk(ast.parse(open(path).read(), path)):
            elts = node.keys if isinstance(node, ast.Dict) else node.elts \
                if isinstance(node, (ast.Set, ast.List, ast.Tuple)) else []
            strings = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if strings & ELEMENTWISE_PROBES:
                out.setdefault(name, node.lineno)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--details", action="store_true", help="list every finding, not only the counts")
    args = ap.parse_args(argv)
    mods = modules()
    lines = {m: sum(1 for _ in open(p)) for m, p in mods.items()}
    top, every, private, aliases = imports(mods)
    private += private_attributes(mods, aliases)
    top_cycles, all_cycles = cycles(top), cycles(every)
    longf = long_functions(mods)
    attrs = node_attributes(mods)
    keys = len(re.findall(r"^[A-Z_]+ = _key\(", open(mods[ANNOTATIONS]).read(), re.M)) if ANNOTATIONS in mods else 0
    walkers = [(name, text.count("\n", 0, m.start()) + 1) for name, path in mods.items()
               if name != f"{PACKAGE}.transforms.astutil" for text in [open(path).read()]
               for m in re.finditer(r"""for \w+ in \(["']body["'], ["']orelse["']""", text)]
    texts = text_matching(mods)
    between = [t for t in texts if t[3] is None]
    kinds_by_position = tagged_kinds(mods)
    parses = emitted_text_parses(mods)
    tables = elementwise_tables(mods)
    big = sorted(((n, m) for m, n in lines.items() if n > 800), reverse=True)

    print(f"modules: {len(mods)}, lines: {sum(lines.values())}")
    print(f"import cycles (module-level imports): {len(top_cycles)}")
    print(f"import cycles (counting imports inside functions): {len(all_cycles)}")
    for c in all_cycles:
        print("   ", " <-> ".join(c))
    print(f"cross-module private names: {len(private)} uses of {len({p[2] for p in private})} names")
    print(f"functions over 80 lines: {len(longf)}")
    for n, f, lineno in longf[:10 if not args.details else None]:
        print(f"    {n:4d}  {f} (line {lineno})")
    print(f"modules over 800 lines: {len(big)}")
    for n, m in big:
        print(f"    {n:5d}  {m}")
    print(f"ad-hoc node attributes (_srcdiff_*): {len(attrs)} in {len(set().union(*attrs.values())) if attrs else 0} modules")
    print(f"declared annotation keys (transforms/annotations.py): {keys}")
    print(f"hand-written body/orelse block walkers: {len(walkers)} in {len({m for m, _ in walkers})} modules")
    print(f"text or name-suffix matching in code: {len(texts)} places: {len(between)} between passes, "
          f"{len(texts) - len(between)} of file names / error text / module names")
    for m, lineno, code, _ in between:
        print(f"    {m}:{lineno}  {code}")
    print(f"tagged-kind indexing outside transforms/kind_type.py: {len(kinds_by_position)} places in "
          f"{len({m for m, _ in kinds_by_position})} modules")
    print(f"parses of emitted source outside the front end: {len(parses)} in "
          f"{len({m for m, _, _ in parses})} modules")
    print(f"files to touch to add an elementwise function: {len(tables) + 2} (its rule, its test entry, and "
          f"{len(tables)} modules with a table of elementwise functions of their own)")
    for m, lineno in sorted(tables.items()):
        print(f"    {m} (line {lineno})")
    if args.details:
        print("\nprivate names:")
        for m, lineno, what in sorted(private):
            print(f"    {m}:{lineno}  {what}")
        print("\nnode attributes:")
        for a, ms in sorted(attrs.items()):
            print(f"    {a}: {', '.join(sorted(ms))}")
        print("\nparses of emitted source:")
        for m, lineno, code in parses:
            print(f"    {m}:{lineno}  {code}")
        print("\ntext matching:")
        for m, lineno, code, why in texts:
            print(f"    {m}:{lineno}  {code}    [{why or 'between passes'}]")
        print("\ntagged-kind indexing:")
        for m, lineno in kinds_by_position:
            print(f"    {m}:{lineno}")


if __name__ == "__main__":
    main()
