"""The facts the compiler hands the backends with a generated module (srcdiff/generated.py): what each generated
function calls, which bound names it reads, whether the bounds pass proved it, and the module with large arrays
as parameters printed from its trees. They replace reading the emitted text back (the backends parsed the
source to find a call cycle and which function reads which array, and matched the bounds pass's comment with
a regular expression): the facts must say what the text said, and a process that loads the module from the
disk cache's index, without generating it, must get the same ones."""
import ast
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcdiff
from srcdiff import backends, module_builder
from srcdiff.generated import FunctionFacts, Generated, ModuleFacts
from srcdiff.transforms import bounds, kinds

import gradcheck

MODULE_SRC = '''import numpy as np

BIG = np.linspace(-1.0, 1.0, 20_000)
ROWS = np.linspace(0.5, 1.5, 12_000)
SMALL = np.array([0.5, -1.0, 2.0])


def halve(x, k):
    if k > 0:
        return halve(0.5 * x, k - 1) + np.sum(SMALL * x[:3])
    return np.sum(BIG * x)


def through_recursion(x, k):
    return halve(x, k) * 2.0


def weighted(x):
    return np.sum(BIG * np.sin(x))


def both(x):
    return weighted(x) + np.sum(ROWS[:3] * x[:3])


def with_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] * BIG[i]
    return s


def recurrence(a, y0, n, obs):
    ys = np.zeros(n + 1)
    ys[0] = y0
    for t in range(n):
        ys[t + 1] = ys[t] + 0.1 * (a * ys[t] - ys[t] ** 2)
    return np.sum((ys - obs) ** 2)


def no_arrays(x):
    return np.sum(np.tanh(x) * SMALL)
'''


@pytest.fixture(scope="module")
def user():
    return gradcheck.source_module("generated_facts_mod", MODULE_SRC)


@pytest.fixture(scope="module")
def modules(user):
    return _modules(user)


def _modules(user):
    """(name, module_builder.Module) of a set of generated modules: recursion, calls that stay calls, large arrays read
    directly and through calls, loops the bounds pass proves, none of these."""
    vec = kinds.kind_of_value(np.ones(20_000))
    out = []
    for name, wrt, args in (("through_recursion", ["x"], (vec, kinds.kind_of_value(2))),
                            ("both", ["x"], (vec,)), ("weighted", ["x"], (vec,)),
                            ("with_loop", ["x"], (vec, kinds.kind_of_value(3))),
                            ("recurrence", ["a"], tuple(kinds.kind_of_value(v) for v in (0.3, 0.1, 5, np.ones(6)))),
                            ("no_arrays", ["x"], (kinds.kind_of_value(np.ones(3)),))):
        out.append((name, module_builder.build_module(getattr(user, name), wrt, "grad", args)))
    return out


# ---- what the backends read out of the text before (kept here as the oracle) ----------------------------------
def _text_recursive(source, names):
    calls = {n.name: {c.func.id for c in ast.walk(n) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                      and c.func.id in names}
             for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name in names}
    for start in calls:
        seen, todo = set(), list(calls[start])
        while todo:
            name = todo.pop()
            if name == start:
                return True
            if name not in seen:
                seen.add(name)
                todo += calls.get(name, ())
    return False


def _text_proved(source):
    return set(re.findall(r"^def (\w+)\(.*\n[ \t]+# " + re.escape(bounds.MARK), source, re.M))


def _text_array_parameters(source, arrays, names):
    """The old text edit: (source with `arrays` as trailing parameters and arguments, takes) or None."""
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names}
    needs, calls = {}, {}
    for name, fn in functions.items():
        own = {a.arg for a in fn.args.posonlyargs + fn.args.args}
        own |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        needs[name] = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                       and n.id in arrays and n.id not in own}
        calls[name] = [n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                       and n.func.id in functions]
    for _ in functions:
        for name in functions:
            for call in calls[name]:
                needs[name] |= needs[call.func.id]
    takes = {name: [a for a in arrays if a in needs[name]] for name in functions}
    edits, lines = [], [line.encode() for line in source.splitlines(keepends=True)]
    for name, fn in functions.items():
        if takes[name]:
            params = fn.args.args
            if params:
                edits.append((params[-1].end_lineno, params[-1].end_col_offset, ", " + ", ".join(takes[name])))
            else:
                line = lines[fn.lineno - 1]
                edits.append((fn.lineno, line.index(b"(", line.index(b"def ")) + 1, ", ".join(takes[name])))
    for call in (c for cs in calls.values() for c in cs):
        if takes[call.func.id]:
            edits.append((call.end_lineno, call.end_col_offset - 1,
                          (", " if call.args else "") + ", ".join(takes[call.func.id])))
    for lineno, col, text in sorted(edits, reverse=True):
        lines[lineno - 1] = lines[lineno - 1][:col] + text.encode() + lines[lineno - 1][col:]
    return b"".join(lines).decode(), takes


def test_facts_say_what_the_text_said(modules):
    """On each module: the call cycle, the functions the bounds pass proved and the module with the large arrays
    as parameters are those the text-based readers found (and that module is the one their text edit made)."""
    seen = {"recursive": 0, "proved": 0, "parameters": 0, "compiled": 0}
    for name, mod in modules:
        made = mod.generate(jit=True)
        names = mod.function_names
        assert made.source == mod.source(jit=True) and made.function_names == names, name
        assert made.facts.recursive() == _text_recursive(made.source, names), name
        assert made.facts.bounds_proved() == _text_proved(made.source), name
        compiled = made.compiled or made.source          # what Numba compiles: its lines are the source's
        assert compiled.count("\n") == made.source.count("\n") and "rt.elementwise(" not in made.source, name
        arrays = backends.passed_arrays(mod.bindings)
        if arrays:
            source, takes = _text_array_parameters(compiled, arrays, names)
            assert made.parameters.source == source and made.parameters.takes == takes, name
            assert made.parameters.source.count("\n") == made.source.count("\n")   # every line where it was
        else:
            assert made.parameters is None, name
        seen["recursive"] += made.facts.recursive()
        seen["proved"] += bool(made.facts.bounds_proved())
        seen["parameters"] += made.parameters is not None
        seen["compiled"] += made.compiled is not None
    assert all(seen.values()), seen        # each kind of fact was exercised


def test_facts_of_calls_and_reads(modules):
    mod = dict(modules)["both"]
    made = mod.generate(jit=True)
    entry = made.facts.of(mod.entry)
    assert entry.reads == ("BIG", "ROWS") and entry.calls == ()     # (weighted is inlined: it reads BIG itself)
    assert made.parameters.takes[mod.entry] == ["BIG", "ROWS"]
    assert f"def {mod.entry}(x, BIG, ROWS):" in made.parameters.source
    recursive = dict(modules)["through_recursion"].generate(jit=True)
    pullback = [f for f in recursive.facts.functions if f.name.startswith("halve") and f.name in f.calls]
    assert pullback, recursive.facts          # the recursive callee calls itself


def test_recursion_read_from_the_facts():
    def facts(calls):
        return ModuleFacts(tuple(FunctionFacts(n, tuple(c)) for n, c in calls.items()))
    assert facts({"f": ["g"], "g": ["f"]}).recursive()
    assert facts({"f": ["f"]}).recursive()
    assert facts({"f": ["g"], "g": ["h"], "h": ["g"]}).recursive()
    assert not facts({"f": ["g"], "g": ["h"], "h": []}).recursive()
    assert not facts({}).recursive()


def test_arrays_as_parameters_declined_where_the_rewrite_does_not_apply():
    """A function that needs an array but is used other than by a positional call, or has a default or
    keyword parameter: the arrays are compiled in as constants (takes is None)."""
    reads = FunctionFacts("g", reads=("BIG",))
    assert ModuleFacts((FunctionFacts("f", calls=("g",)), reads)).takes(["BIG"]) == {"f": ["BIG"], "g": ["BIG"]}
    passed_on = FunctionFacts("f", calls=("g",), other_uses=("g",))
    assert ModuleFacts((passed_on, reads)).takes(["BIG"]) is None
    defaults = FunctionFacts("g", reads=("BIG",), positional=False)
    assert ModuleFacts((FunctionFacts("f"), defaults)).takes(["BIG"]) is None
    assert ModuleFacts((FunctionFacts("f"), FunctionFacts("g", positional=False))).takes(["BIG"]) == \
        {"f": [], "g": []}


def test_facts_survive_json(modules):
    for _, mod in modules:
        made = mod.generate(jit=True)
        facts = ModuleFacts.from_json(json.loads(json.dumps(made.facts.to_json())))
        assert facts == made.facts
        if made.parameters is not None:
            params = type(made.parameters).from_json(json.loads(json.dumps(made.parameters.to_json())))
            assert params == made.parameters


def _text_lines(source, n):
    """The old way to the user's line of generated line `n`: the `# line K: text` comment above it in its function,
    and whether the nearest sweep comment above it is `# backward sweep` (the oracle for Lines)."""
    lines = source.splitlines()
    cited, backward = None, None
    for k in range(n - 1, -1, -1):
        m = re.match(r"\s*# (?:\w+, )?line (\d+): (.*)", lines[k])
        if m and cited is None:
            cited = (int(m.group(1)), m.group(2).strip())
        if lines[k].strip() in ("# backward sweep", "# forward sweep") and backward is None:
            backward = lines[k].strip() == "# backward sweep"
        if lines[k].startswith("def "):
            break
    return cited and cited + (bool(backward),)


@pytest.mark.parametrize("jit", [False, True], ids=["py", "jit"])
def test_line_table_says_what_the_comments_say(modules, user, jit):
    """Generated.lines (error reports read it) names, for every generated statement, the user's line its comment
    cites, the file, and whether it is in the backward sweep, as the comments in the text do."""
    checked = 0
    for _, mod in modules:
        made = mod.generate(jit=jit)
        for n, line in enumerate(made.source.splitlines(), 1):
            if not line.startswith("    ") or line.strip().startswith("#"):
                continue
            at, said = made.lines.at(n), _text_lines(made.source, n)
            assert (at and (at[1], at[2], at[3])) == said, (n, line, at, said)
            assert at is None or at[0] == user.__file__
            checked += at is not None
    assert checked > 50


def test_lines_survive_json(modules):
    for _, mod in modules:
        made = mod.generate(jit=True)
        assert type(made.lines).from_json(json.loads(json.dumps(made.lines.to_json()))) == made.lines


def test_a_module_not_made_by_the_compiler_has_names_only():
    made = Generated("def f(x):\n    return x\n", ModuleFacts.named(["f"]))
    assert made.function_names == ["f"] and not made.facts.recursive() and made.facts.bounds_proved() == set()


WARM = textwrap.dedent('''
    import importlib.util, json, sys, numpy as np, srcdiff
    from srcdiff import backends
    spec = importlib.util.spec_from_file_location("generated_facts_mod", {path!r})
    mod = importlib.util.module_from_spec(spec)
    sys.modules["generated_facts_mod"] = mod
    spec.loader.exec_module(mod)
    out = {{}}
    for name, args in (("through_recursion", (np.linspace(0.1, 1.0, mod.BIG.size), 2)),
                       ("with_loop", (np.linspace(0.1, 1.0, mod.BIG.size), 7))):
        g = srcdiff.value_and_grad(getattr(mod, name), wrt=0, jit=True)    # (the module Numba compiles; jitted
        value = g(*args)[1]                                                # grad runs it too: backends.ValueDropped)
        last = g.last
        entry = last.module.entry
        fn = sys.modules[last.function.__module__].__dict__
        out[name] = {{"indexed": isinstance(last.module, backends.CachedModule),
                     "facts": last.generated.facts.to_json(),
                     "takes": last.generated.parameters.takes if last.generated.parameters else None,
                     "boundscheck": {{n: getattr(fn[n], "compiled", fn[n]).targetoptions["boundscheck"]
                                     for n in last.generated.function_names}},
                     "passed": {{n: len(getattr(fn[n], "arrays", ())) for n in last.generated.function_names}},
                     "lines": last.generated.lines.to_json(),
                     "value": np.asarray(value).tolist()}}
    print("RESULT" + json.dumps(out))
''')


def _run_warm(path, cache):
    env = dict(os.environ, SRCDIFF_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", WARM.format(path=path)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.split("RESULT", 1)[1])


def test_a_warm_process_gets_the_same_facts_from_the_index(tmp_path, user):
    """The first process generates (and records the facts in the cache index); the second loads the modules
    from the index without generating them and compiles them alike: the same boundscheck flags, the same
    arrays passed, the same recursion (not disk-cached), the same line table and the same gradients."""
    cold = _run_warm(user.__file__, tmp_path / "cache")
    warm = _run_warm(user.__file__, tmp_path / "cache")
    for name in cold:
        assert not cold[name]["indexed"] and warm[name]["indexed"], name
        for key in ("facts", "takes", "boundscheck", "passed", "lines"):
            assert warm[name][key] == cold[name][key], (name, key)
        np.testing.assert_allclose(warm[name]["value"], cold[name]["value"], rtol=1e-12)
    loop = cold["with_loop"]
    assert any(v is False for v in loop["boundscheck"].values()) and any(loop["passed"].values()), loop
    assert ModuleFacts.from_json(cold["through_recursion"]["facts"]).recursive()


def test_an_index_record_of_another_version_is_generated_again(tmp_path, monkeypatch, user):
    """Records written before the facts were kept (version 1) are not used: the module is generated again."""
    monkeypatch.setenv("SRCDIFF_CACHE_DIR", str(tmp_path / "cache"))
    saved = dict(backends._LOADED)
    try:
        backends._LOADED.clear()
        x = np.linspace(0.1, 1.0, 20_000)
        first = srcdiff.value_and_grad(user.weighted, jit=True)     # (one record: jitted grad has two)
        first(x)
        folder = tmp_path / "cache" / "index"
        (record_path,) = folder.glob("*.json")
        stored = json.loads(record_path.read_text())
        record = json.loads(stored["record"])
        record["v"] = 1
        body = json.dumps(record, sort_keys=True)
        key = (tmp_path / "cache" / "index.key").read_bytes()
        mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()     # signed as the index signs its records
        record_path.write_text(json.dumps({"record": body, "mac": mac}))
        backends._LOADED.clear()
        again = srcdiff.value_and_grad(user.weighted, jit=True)
        np.testing.assert_allclose(again(x)[1], first(x)[1], rtol=1e-12)
        assert isinstance(again.last.module, module_builder.Module)            # generated, not read from the record
        assert json.loads(json.loads(record_path.read_text())["record"])["v"] == backends.INDEX_VERSION
    finally:
        backends._LOADED.clear()
        backends._LOADED.update(saved)
