"""What the compiler hands the backends for one generated module: its source and the facts about its
functions, so that srcdiff.backends never reads them back out of the text.

The backends need three facts per generated function, all known while the module is still a tree:

* the generated functions it calls: a cycle among them (a recursive user function and its pullback)
  is compiled anew in each process, as Numba's disk cache loads such code into a crash (numba issue 6061);
* the module-level names it reads: jitted code takes the large arrays bound into the module as trailing
  parameters rather than constants (backends.passed_arrays), so a function that reads one, itself or
  through the functions it calls, takes it;
* whether the bounds pass proved every index in range (transforms/bounds.py, the annotation
  BOUNDS_PROVED): it is compiled without Numba's per-access checks.

`Generated` bundles the source with `ModuleFacts`; jitted, the module as Numba compiles it (`compiled`:
the compiler's COMPILED passes, array expressions as rt.elementwise kernels, which the source the user
reads never shows); and, where jitted code takes arrays as parameters, the compiled module with them as
parameters (`Parameters`), printed from the same trees with the extra parameters and arguments written
in: `ast.unparse` prints one statement per line, so every line stays where it was and the comments
naming the user's lines apply to all of them. All of it is JSON-serialisable (`to_json` /
`from_json`): the disk cache's index keeps it with the module, so a process that loads a module without
generating it has the same facts.
"""
from __future__ import annotations

import ast
import copy
import linecache
from dataclasses import dataclass, field

HEADER = "import math\nimport numpy as np\nfrom srcdiff import runtime as rt\n\n"


def copied_lines(printed: tuple, filename: str, span: tuple) -> tuple:
    """The notes Lines.of takes for a function copied from one of `filename` (module_builder.primal_name: a
    callee's primal, printed with no line comments): (line printed, the user's line, None) of each of its
    statements whose lineno is a line of its `def` in that file (`span`: its first and last). `printed`: where
    each statement was printed and its lineno (annotations.PRINTED_AT)."""
    first, last = span
    if not (first and last):
        return ()
    return tuple((n, (line, linecache.getline(filename, line).strip(), None, filename), None)
                 for n, line in printed or () if line and first <= line <= last)


@dataclass(frozen=True)
class FunctionFacts:
    """One generated function: `calls`, the generated functions of its module it calls; `reads`, the
    module-level names it reads (not its parameters or locals); `bounds_proved`, whether the bounds pass
    proved its indices (compiled without Numba's checks); `positional`, whether its parameters are plain
    positional ones; `other_uses`, the module's functions it names other than as the callee of a call with
    positional arguments (passed as a value, called with keywords or `*args`); `part`, whether it is a part the
    compiled form's "parts" pass moved out of a large function (transforms/function_parts.py: Numba compiles it on
    its own, and its callers call its machine code by symbol)."""
    name: str
    calls: tuple = ()
    reads: tuple = ()
    bounds_proved: bool = False
    positional: bool = True
    other_uses: tuple = ()
    part: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "calls": list(self.calls), "reads": list(self.reads),
                "bounds_proved": self.bounds_proved, "positional": self.positional,
                "other_uses": list(self.other_uses), **({"part": True} if self.part else {})}

    @classmethod
    def from_json(cls, d: dict) -> FunctionFacts:
        return cls(d["name"], tuple(d["calls"]), tuple(d["reads"]), bool(d["bounds_proved"]), bool(d["positional"]),
                   tuple(d["other_uses"]), bool(d.get("part", False)))


@dataclass(frozen=True)
class ModuleFacts:
    """The facts of a generated module's functions, in definition order."""
    functions: tuple = ()

    @classmethod
    def named(cls, names) -> ModuleFacts:
        """Facts of a module not made by the compiler (srcdiff.vi's), loaded as Python: its functions' names,
        nothing proved."""
        return cls(tuple(FunctionFacts(n) for n in names))

    @property
    def names(self) -> list:
        return [f.name for f in self.functions]

    def of(self, name: str) -> FunctionFacts:
        return next(f for f in self.functions if f.name == name)

    def recursive(self) -> bool:
        """Whether the functions call each other in a cycle (a function calling itself included)."""
        calls = {f.name: set(f.calls) for f in self.functions}
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

    def parts(self) -> set:
        """Names of the parts (FunctionFacts.part)."""
        return {f.name for f in self.functions if f.part}

    def bounds_proved(self) -> set:
        """Names of the functions the bounds pass proved."""
        return {f.name for f in self.functions if f.bounds_proved}

    def takes(self, arrays: list) -> dict | None:
        """{function: the names among `arrays` it takes as trailing parameters, in the order of `arrays`}: those
        it reads, itself or through the functions it calls. None where that rewrite does not apply: a function
        that needs one is named other than in a plain call, or has keyword, variable or default parameters."""
        wanted = set(arrays)
        needs = {f.name: set(f.reads) & wanted for f in self.functions}
        changed = True
        while changed:                    # what a function needs includes what the functions it calls need
            changed = False
            for f in self.functions:
                for callee in f.calls:
                    if not needs[callee] <= needs[f.name]:
                        needs[f.name] |= needs[callee]
                        changed = True
        takes = {name: [a for a in arrays if a in need] for name, need in needs.items()}
        used = {n for f in self.functions for n in f.other_uses}
        if any(takes[f.name] and (f.name in used or not f.positional) for f in self.functions):
            return None
        return takes

    def to_json(self) -> list:
        return [f.to_json() for f in self.functions]

    @classmethod
    def from_json(cls, data: list) -> ModuleFacts:
        return cls(tuple(FunctionFacts.from_json(d) for d in data))


@dataclass(frozen=True)
class Parameters:
    """The module as jitted code compiles it: `source` with the large arrays `arrays` as trailing parameters
    of the functions that read them (`takes`: function -> those names) and passed on at each call."""
    arrays: tuple
    source: str
    takes: dict

    def to_json(self) -> dict:
        return {"arrays": list(self.arrays), "source": self.source, "takes": self.takes}

    @classmethod
    def from_json(cls, d) -> Parameters | None:
        return None if d is None else cls(tuple(d["arrays"]), d["source"], {k: list(v) for k, v in d["takes"].items()})


@dataclass(frozen=True)
class Lines:
    """The line table of a generated module: which user's line each generated line was made from, for
    error reports (a generated function that fails on its arguments is reported at the user's line).
    `starts`: the line of each function's `def`; `cited`: (line, the user's line, its text, its file) of each
    comment citing a user's line; `backward`: the lines of reverse mode's `# backward sweep` comments, and
    `forward`, of its `# forward sweep` ones; `placeholders`: (line, "placeholder" / "empty") of the assignments
    that carry annotations.PLACEHOLDER / SUM_EMPTY (an array sum's zeros where its loops run none) on the tree, which
    the text cannot show: forward mode over the gradient (srcdiff.hvp) reads the module back as text, and puts
    them back on those lines' statements (compiler's "generated" pass) for the CUDA lowering. Lines number the
    module's source from 1."""
    starts: tuple = ()
    cited: tuple = ()
    backward: tuple = ()
    forward: tuple = ()
    placeholders: tuple = ()

    @classmethod
    def of(cls, noted: list, sources: list, marked: list | None = None) -> Lines:
        """The table of the module HEADER + "\\n\\n".join(sources), function k printed by emit.render, which
        noted its comment lines (`noted[k]`: annotations.LINES on the tree it printed) and its placeholders'
        (`marked[k]`: annotations.PLACEHOLDER_LINES)."""
        starts, cited, sweeps, placeholders = [], [], {"backward": [], "forward": []}, []
        offset = HEADER.count("\n")
        for k, (table, text) in enumerate(zip(noted, sources)):
            starts.append(offset + 1)
            for n, user, sweep in table:
                if user is not None:
                    cited.append((offset + n, user[0], user[1], user[3]))
                if sweep in sweeps:
                    sweeps[sweep].append(offset + n)
            placeholders += [(offset + n, what) for n, what in ((marked[k] or ()) if marked else ())]
            offset += text.count("\n") + 2
        return cls(tuple(starts), tuple(cited), tuple(sweeps["backward"]), tuple(sweeps["forward"]),
                   tuple(placeholders))

    def at(self, n: int) -> tuple | None:
        """(file, the user's line, its text, in a backward sweep) that generated line `n` was made from: the
        nearest comment citing a line above it in its function (for a statement reverse mode put at the top of
        its backward sweep, the last line of the forward sweep), and its sweep; None where there is none."""
        start = max((s for s in self.starts if s <= n), default=0)
        cited = [c for c in self.cited if start < c[0] <= n]
        if not cited:
            return None
        _, line, text, file = max(cited)
        sweep = max([(b, True) for b in self.backward if start < b <= n] +
                    [(f, False) for f in self.forward if start < f <= n], default=(0, False))
        return file, line, text, sweep[1]

    def to_json(self) -> dict:
        return {"starts": list(self.starts), "cited": [list(c) for c in self.cited], "backward": list(self.backward),
                "forward": list(self.forward), "placeholders": [list(p) for p in self.placeholders]}

    @classmethod
    def from_json(cls, d) -> Lines | None:
        if d is None:
            return None
        return cls(tuple(d["starts"]), tuple(tuple(c) for c in d["cited"]), tuple(d["backward"]), tuple(d["forward"]),
                   tuple(tuple(p) for p in d.get("placeholders", ())))


@dataclass(frozen=True)
class Generated:
    """A generated module: its `source`, the `facts` of its functions, the module Numba compiles where it
    is not `source` itself (`compiled`, else None: the same functions), where jitted code takes large arrays as
    parameters, the compiled module with them (`parameters`, else None), and its line table (`lines`: Lines;
    None for a module the compiler did not make), which holds for the compiled forms too where they are the
    source line for line; where they are not (jit="parallel" writes the chunks' loop twice: optimize/rowchunks.py),
    theirs is `compiled_lines`. Where the compiled form has functions the source has not (the parts of a large
    function: transforms/function_parts.py), `compiled_facts` are its functions' facts."""
    source: str
    facts: ModuleFacts = field(default_factory=ModuleFacts)
    parameters: Parameters | None = None
    compiled: str | None = None
    lines: Lines | None = None
    compiled_lines: Lines | None = None
    compiled_facts: ModuleFacts | None = None

    @property
    def facts_compiled(self) -> ModuleFacts:
        """The facts of the compiled forms' functions (`compiled`, `parameters`)."""
        return self.compiled_facts or self.facts

    @property
    def lines_compiled(self) -> Lines | None:
        """The line table of the compiled forms (`compiled`, `parameters`)."""
        return self.compiled_lines or self.lines

    @property
    def function_names(self) -> list:
        return self.facts.names


# ---- read off the trees -----------------------------------------------------------------------------------
def function_facts(fn: ast.FunctionDef, functions: set, module_names: set, bounds_proved: bool,
                   part: bool = False) -> FunctionFacts:
    """The facts of the standard-library tree `fn` (emit.tree's) of a module whose functions are `functions`
    and whose module-level names are `module_names` (one walk of the tree, in this loop: no generator; names
    are leaves, and contexts and operators, the fields `ctx`, `op` and `ops`, are not looked into)."""
    a = fn.args
    own = {p.arg for p in a.posonlyargs + a.args}
    loaded, calls, plain, named = set(), set(), set(), []
    todo = [fn]
    pop, fields_of, name_, call_, load_ = todo.pop, _FIELDS.get, ast.Name, ast.Call, ast.Load
    while todo:
        n = pop()
        kind = type(n)
        if kind is name_:
            if type(n.ctx) is load_:
                if n.id in module_names:
                    loaded.add(n.id)
                if n.id in functions:
                    named.append(n)
            else:
                own.add(n.id)
            continue
        if kind is call_ and type(n.func) is name_ and n.func.id in functions:
            calls.add(n.func.id)
            if not n.keywords and not any(type(x) is ast.Starred for x in n.args):
                plain.add(id(n.func))
        fields = fields_of(kind)
        if fields is None:
            fields = _FIELDS[kind] = tuple(f for f in kind._fields if f not in ("ctx", "op", "ops"))
        for f in fields:
            v = getattr(n, f, None)
            if isinstance(v, ast.AST):
                todo.append(v)
            elif type(v) is list:
                todo += [x for x in v if isinstance(x, ast.AST)]
    other = {n.id for n in named if id(n) not in plain}
    positional = not (a.vararg or a.kwarg or a.kwonlyargs or a.defaults)
    return FunctionFacts(fn.name, tuple(sorted(calls)), tuple(sorted(loaded - own)), bounds_proved, positional,
                         tuple(sorted(other)), part)


_FIELDS: dict = {}     # ast class -> the fields function_facts looks into


def with_parameters(trees: list, facts: ModuleFacts, arrays: list, render) -> Parameters | None:
    """The module of the standard-library trees `trees` (left as they are) with `arrays` as parameters (see
    ModuleFacts.takes), printed by `render` (emit.render); None where the rewrite does not apply."""
    takes = facts.takes(arrays)
    if takes is None:
        return None
    out = []
    for t in trees:
        t = copy.deepcopy(t)
        t.args.args += [ast.arg(arg=a) for a in takes[t.name]]
        for n in ast.walk(t):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and takes.get(n.func.id):
                n.args += [ast.Name(id=a, ctx=ast.Load()) for a in takes[n.func.id]]
        out.append(render(t))
    return Parameters(tuple(arrays), HEADER + "\n\n".join(out), takes)
