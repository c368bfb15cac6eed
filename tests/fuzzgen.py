"""Random-program generator for the srcdiff fuzz tests (tests/test_fuzz.py).

A program is a module with optional helper functions and one entry `f`.  Its parameters are
`(x, a, M)` (older stored cases) or `(x, a, M, n, flag)` / `(xa, M, n, flag)`: x a float, a of shape
(N,), M of shape (2, N), xa the tuple or list (x, a) or the dict {"x": x, "a": a}, n an int in [1, N], flag a bool.  Gradients
are taken with respect to the float parameters (x, a, M or xa); n and flag flow through.

Every choice the generator makes goes through `choose(n)` (an integer in [0, n)), so the same
generator runs from a seeded `random.Random` (long mode) or from hypothesis draws (CI mode, where
shrinking drives choices toward 0 -- and choice 0 is always the simplest option).

The grammar covers README.md's "What it handles" -> Python bullet (tests/test_fuzz.py
test_readme_constructs_are_generated checks that every phrase there has a detector in
tests/fuzz_constructs.py and occurs in a generated corpus): straight-line NumPy and `math` code,
if/elif/else, `for` over range / arrays / zip / enumerate / reversed(range(...)), `while` with
data-dependent trip counts, break / continue / early return (also in loops), augmented assignment,
tuple unpacking and swaps, chained comparisons, conditional expressions, and/or, `sum(...)` over
generator expressions and list comprehensions (filters, several for clauses, nesting), in-place
writes (element, `[i, j] +=`, slices, computed indices) inside loops, helper functions (with loops,
tuple/list parameters), closures, nested defs, lambdas, factories, closures over loop variables,
bounded recursion, ints and bools flowing through, print and assert, values first bound in a loop
body and read in a later iteration, np.array of (nested) lists, astype, fancy and boolean-mask
indexing, slices with steps; reversed() of an array or a tuple literal (alone, in zip, enumerate and sums),
sum(terms, start), arrays of list comprehensions whose items are lists or list comprehensions
(`np.array([[v, v * v] for v in x])`), lists started with items (`traj = [y0]`) or bound together
(`ts, ys = [], []`) and stacked along axis 1, tuples (literals or names bound to them) written into arrays
(`buf[:, i] = (p, q)`, `buf[:, i] = st`) or passed to NumPy functions (`np.sum(st)`, `np.stack(st)`), a 1-D
mask beside another index (`buf[0, v > t] *= -0.9`, `buf[buf[:, i] > t, i] += 0.25`), and a factory's function
relying on its default or called by keyword (`fn(u)`, `fn(u, h=0.5)`): features 'reversed', 'sumstart',
'listitems', 'listinit', 'tuplewrite', 'maskbeside', 'factorykw'.  `max(...)` / `min(...)` of a comprehension
('extremes'), `vals = [f(v) for v in x]` read only through np.array / np.asarray / np.stack / len / sum ('namedcomp'),
slices of the tuple argument and of a helper's tuple of pairs by constants (`for v in xa[1:]`, `rest = xa[:-1]`,
`for w, v in pairs[:-1]`: 'argslices'), and integer index arrays that broadcast together, read and written
(`M[np.arange(2)[:, None], np.array([[0, 2], [1, 1]])]`: 'bcastidx').

'wrapidx' (drawn last: programs that do not take it stay as they were): a recurrence in `for t in range(...)` whose
index reaches below row 0 at the loop's start, `ys[t] = v + c * ys[t - k]`, `ys[t - 1] = c * ys[t] + v`, `+=` and a
write of the wrapped row, over vectors or rows of an (N, 2) array: Python reads and writes the last rows there, which
later iterations write too (a jitted gradient of it dropped a restore: stacks._dead_restores).

'ellipsis' (README: in-place writes through an Ellipsis; drawn after every other feature): a local (2, N) array
written all at once, `ell[...] = np.sin(ell) * s`, `ell[...] += v` (also in a loop), by column, `ell[..., k] = ...`, and
by row, `ell[r, ...] *= c`, read at `ell[..., 1:]`, `ell[0, ...]`.

'rows2d' (README, CUDA: a local array on the device; drawn last): a (2, N) array written out in rows of numbers f
computes, `rows7 = np.array([[x, a[0]], [np.sum(a), x * x]])`, read whole, by row, by element, against M or a vector.

'dictargs' (README: 'or dicts of them keyed by strings'; drawn last, for programs whose entry takes xa): xa is the
dict {"x": x, "a": a}, read at its keys, by .get, under `in`, in loops over .items() / .values() / its keys, a
comprehension over .items(), or passed whole to a helper (Gen.unpack_dict); every oracle takes it leaf by leaf (its
gradient a dict of the same keys, a jvp's tangent with its keys in reverse order).

'globals' (README, 'Captured values'): module-level constants `DEBUG = True/False` and `LIMIT = 0..N`
read as conditions (`if DEBUG:`, `not DEBUG`, `k > LIMIT`) and as a while bound (`k = 0` /
`while k < LIMIT:`, which Numba decides at compile time when LIMIT is 0).

Values are kept in a modest range by construction: exp only of tanh/sin (or of 0.3 * ...),
log and sqrt only of 1 + square, divisions by 1.5 + square, loop updates damped, loops short
(trip counts at most N <= 4), while loops advance a counter by at least 0.5 per iteration *before*
anything that could `continue`.  Branch conditions are on the loop index (both paths run) or on
data against thresholds; points where a branch flips or a kink sits within the finite-difference
step are detected (two step sizes disagree) and skipped for the FD oracle only.
Arrays written in place (`buf[i] = ...`) are always fresh locals, read element-wise only, never
parameters or aliases.

Features aimed at particular passes: 'logdomain' generates `logsumexp(p[:, None] + M, axis=0)` and
`logsumexp(M + v[None, :], axis=1)` with M a name and an HMM-style loop-carried recursion; 'views'
reads loop-indexed slices and columns of arrays (`M[:, i]`, `a[i:]`).

'rules' (README, 'What it handles' -> Rules): expressions call the bullet's functions, composites, array literals
and casts, from tests/fuzz_rules.py's table (test_readme_rules_are_generated checks that each function it lists
is generated); 'stackmatmul' (PYTHON_ONLY): `x @ y` of stacks of matrices, which Numba does not run.

'checkpoints' (README, 'Long loops in little memory'): a program with a loop may carry
`checkpoints=k` (k in 1..3, so loops of up to 4 iterations are cut into segments of 1 to 4): the gradient
under test is then `grad(f, checkpoints=k)`, checked by every oracle and against the taped gradient.

`penalty_program` wraps a program in `h`, the squared norm of its gradient, so that the checks
differentiate srcdiff's generated code in reverse mode again (tests/test_fuzz.py, nested mode).

`check_program` runs the oracles: central finite differences (where smooth), and at every finite
point value_and_grad's value == f, jvp == vdot(grad, v), (jit=True) Numba == Python backend and
(checkpointed programs) the checkpointed gradient == the taped one.
"""
from __future__ import annotations

import collections
import contextlib
import importlib.util
import io
import os
import random
import re
import signal
import sys
import typing

import numpy as np

import fuzz_rules

KINDS = ("s", "v", "m")           # scalar, vector (N,), matrix (2, N)
FLOAT_PARAMS = {"x": "s", "a": "v", "M": "m", "xa": "t"}


F_SCOPE = ("x", "a", "M", "n", "flag", "xa", "scale", "neg")     # the entry's parameters (Generator.program)
BUILTINS_CALLED = ("len", "max")   # builtins 'reservednames' may name a local of f, and which blocks may call


def _uses(expr: str, name: str) -> bool:
    """`name` occurs in `expr` as a name (not as part of one: `u` is not in `np.sum`)."""
    return re.search(rf"\b{re.escape(name)}\b", expr) is not None


# 'namedtupleargs': xa passed as XA(x, a), read by field and by a method of its class (README: namedtuples, `p.W`)
class XA(typing.NamedTuple):
    x: float
    a: np.ndarray

    def norm2(self):
        return self.x * self.x + np.sum(self.a * self.a)

    def damped(self):
        """A changed copy (README: namedtuples 'returned by your functions ... also by a method of its class')."""
        return self._replace(x=self.x * 0.8 + 0.1 * np.sum(np.tanh(self.a)), a=np.sin(self.a) * self.x)


def _zip_spelled(a: str, b: str) -> str:
    """The zip of vectors `a` and `b`, spelled (off their text, drawing nothing: the seeds keep their draws) as
    `zip(a, b)`, or in one program in four as a zip of the rows of a list or tuple of them, `zip(*[a, b])` /
    `zip(*(a, b))` (README: `zip(*M)`, one name per row; declined until h30c)."""
    h = sum(map(ord, a + b)) % 8
    return f"zip(*[{a}, {b}])" if h == 1 else f"zip(*({a}, {b}))" if h == 5 else f"zip({a}, {b})"


def _rebuilt(like, items):
    """A tuple or list of `like`'s type holding `items` (a namedtuple's: by field)."""
    return type(like)(*items) if hasattr(type(like), "_fields") else type(like)(items)


class Program:
    def __init__(self, source: str, N: int, params=("x", "a", "M"), n=None, seq="tuple", checkpoints=None):
        self.source, self.N, self.params = source, N, tuple(params)
        self.n = N if n is None else n
        self.seq = seq                  # how xa is passed: "tuple", "list", "dict" ({"x": x, "a": a}), "namedtuple"
        self.checkpoints = checkpoints  # grad(f, checkpoints=k) under test (None: taped loops)
        self.python_only = False        # whether it has a form Numba does not run (fuzz_rules.PYTHON_ONLY_RULES)

    @property
    def wrt(self):
        return tuple(i for i, p in enumerate(self.params) if p in FLOAT_PARAMS)

    def load(self, directory: str, name: str):
        """Write the program to a real .py file and import it (inspect.getsource works)."""
        path = os.path.join(directory, f"{name}.py")
        with open(path, "w") as fh:
            fh.write(self.source)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        return mod

    def args(self, rng: np.random.Generator):
        x, a, M = float(rng.normal()), rng.normal(size=self.N), rng.normal(size=(2, self.N))
        vals = {"x": x, "a": a, "M": M, "n": self.n, "flag": bool(rng.integers(2)),
                "xa": (x, a) if self.seq == "tuple" else {"x": x, "a": a} if self.seq == "dict" else
                XA(x, a) if self.seq == "namedtuple" else [x, a]}
        return [vals[p] for p in self.params]

    def header_comment(self):
        ck = f" checkpoints={self.checkpoints}" if self.checkpoints else ""
        return f"# N={self.N} params={','.join(self.params)} n={self.n} seq={self.seq}{ck}\n"

    @staticmethod
    def from_file(path):
        """A stored case: its first line `# N=.. params=.. n=.. seq=.. [checkpoints=k]` (as written by long
        mode)."""
        with open(path) as fh:
            src = fh.read()
        meta = {}
        for line in src.splitlines():
            if line.startswith("# N="):
                meta = dict(kv.split("=", 1) for kv in line[2:].split())
                break
        return Program(src, int(meta["N"]), tuple(meta.get("params", "x,a,M").split(",")),
                       int(meta.get("n", meta["N"])), meta.get("seq", "tuple"),
                       int(meta["checkpoints"]) if "checkpoints" in meta else None)


class Gen:
    """`choose(n) -> int in [0, n)`; `features` switches off construct families (see ALL_FEATURES)."""

    def __init__(self, choose, features=None, max_depth=3, max_stmts=5):
        self.choose = choose
        self.features = set(features) if features is not None else set(ALL_FEATURES)
        self.max_depth, self.max_stmts = max_depth, max_stmts
        self.counter = 0
        self.helpers = []          # (name, [(param, kind, default, keyword-only)], ret kind, packed)
        self.helper_src = []
        self.procedures = []       # (name, the kind of array it writes into): helpers called for their effect
        self.closure_defaults = {}  # nested def with a parameter c that has a default -> whether c is keyword-only
        self.closure_pairs = set()  # nested defs taking a pair (u, u2) as one tuple parameter
        self.fns = []              # module-level callables of one scalar: (expr prefix, ret kind)
        self.rule_weight = 3       # how often an expression is a README rule's call ('rules')
        self.python_only = False   # whether it wrote a form Numba does not run (PYTHON_ONLY's: fuzz_rules.call)
        self.acts = False          # whether a lambda's choice reads the module-level dict ACTS ('lambdachoice')
        self.returned = False      # whether an early return was written (a list's np.array must come before any)
        self.factory_kw = set()    # factories whose function has a parameter h with a default

    def has(self, f):
        return f in self.features

    # -- utilities -------------------------------------------------------------------------------
    def fresh(self, base):
        self.counter += 1
        return f"{base}{self.counter}"

    def pick(self, seq):
        return seq[self.choose(len(seq))]

    def coin(self, p_in_8=4):
        """True with probability about p/8; shrinks to False."""
        return self.choose(8) >= 8 - p_in_8

    def const(self):
        return self.pick(["0.5", "1.5", "-0.7", "2.0", "0.3", "-1.2"])

    def thresh(self):
        """A threshold that random-normal data falls on either side of."""
        return self.pick(["0.0", "0.3", "-0.3", "0.5", "-0.5", "0.1"])

    def nonbuf(self, env, kind):
        return [n for n, k in env["vars"].items() if k == kind and n not in env["bufs"]]

    def index(self, env):
        """An index into a length-N axis: a constant, a loop variable, or computed from one."""
        if env["loops"] and self.coin(5):
            i = self.pick(env["loops"])
            if self.has("computed") and self.coin(3):
                # (`i - 1` is -1 at i = 0: counted from the end, as Python does; the CUDA target once read before
                # the array there)
                return self.pick([f"({i} + 1) % {self.N}", f"{self.N} - 1 - {i}", f"{i} // 2", f"{i} - 1"])
            return i
        return str(self.choose(self.N))

    def row(self, env):
        if env["loops"] and self.coin(2):
            return f"{self.pick(env['loops'])} % 2"
        return str(self.choose(2))

    # -- expressions -----------------------------------------------------------------------------
    def leaf(self, kind, env):
        # in-place-written buffers are read only element-wise (buf[i] is a copy): no aliasing
        cands = self.nonbuf(env, kind)
        if kind == "s":
            opts = ["const"] + (["var"] * 3 if cands else [])
            if [n for n in env["vec"] if n not in env["bufs"]]:
                opts.append("index")
            if env["bufs"]:
                opts.append("bufread")
            if env["loops"]:
                opts.append("loopvar")
            if env["ints"] and self.has("intbool"):
                opts.append("int")
            o = self.pick(opts)
            if o == "const":
                return self.const()
            if o == "var":
                return self.pick(cands)
            if o == "bufread":
                b = self.pick(env["bufs"])
                i = self.index(env)
                return f"{b}[{self.row(env)}, {i}]" if env["vars"][b] == "m" else f"{b}[{i}]"
            if o == "index":
                v = self.pick([n for n in env["vec"] if n not in env["bufs"]])
                return f"{v}[{self.index(env)}]"
            if o == "int":
                return f"({self.pick(env['ints'])} * 0.25)"
            return f"({self.pick(env['loops'])} * 0.25)"
        if kind == "v":
            mats = self.nonbuf(env, "m")
            if mats and (not cands or self.coin(2)):
                return f"{self.pick(mats)}[{self.row(env)}]"
            if cands:
                return self.pick(cands)
            return f"(np.ones({self.N}) * {self.const()})"
        if kind == "p":
            return self.pair(env, 0)
        if cands:
            return self.pick(cands)
        return f"(np.ones((2, {self.N})) * {self.const()})"

    def array_name(self, env, kind):
        names = self.nonbuf(env, kind)
        return self.pick(names) if names else self.expr(kind, env, 1)

    def cond(self, env, d=1):
        """A boolean condition: data against thresholds, the loop index, ints, bools, and/or, chains."""
        opts = ["cmp", "cmp"]
        if env["loops"]:
            opts += ["idx"]
        if self.has("chained"):
            opts += ["chain"]
        if self.has("boolops") and d > 0:
            opts += ["andor"]
        if (self.has("intbool") or self.has("globals")) and (env["bools"] or env["ints"]):
            opts += ["intbool"]
        o = self.pick(opts)
        if o == "cmp":
            return f"{self.expr('s', env, d)} > {self.thresh()}"
        if o == "idx":
            i = self.pick(env["loops"])
            return self.pick([f"{i} % 2 == 0", f"{i} > {self.choose(3)}", f"{i} == {self.choose(3)}",
                              f"{i} < {1 + self.choose(3)}"])
        if o == "chain":
            lo, hi = self.pick([("-0.5", "0.5"), ("-1.0", "0.3"), ("-0.3", "1.0"), ("0.0", "2.0")])
            return f"{lo} < {self.expr('s', env, d)} < {hi}"
        if o == "andor":
            op = self.pick(["and", "or"])
            if self.coin(2):
                return f"not ({self.cond(env, d - 1)})"
            return f"({self.cond(env, d - 1)}) {op} ({self.cond(env, d - 1)})"
        b = [f"{v}" for v in env["bools"]] + [f"{k} > {self.choose(3)}" for k in env["ints"]]
        if "DEBUG" in env["bools"]:
            b.append("not DEBUG")
        if "LIMIT" in env["ints"] and env["loops"]:
            b.append(f"{self.pick(env['loops'])} < LIMIT")
        return self.pick(b)

    def expr(self, kind, env, depth):
        if kind == "p":
            return self.pair(env, max(depth - 1, 0))
        if depth <= 0 or self.choose(4) == 0:
            return self.leaf(kind, env)
        d = depth - 1
        opts = ["bin", "bin", "unary", "unary", "div", "neg"]
        for feat in ("where", "maximum"):
            if self.has(feat):
                opts.append(feat)
        if self.helpers and self.has("helpers"):
            opts.append("helper")
        if env.get("closures") and self.has("closures"):
            opts += ["closure", "closure"]
        if self.fns:
            opts += ["fn", "fn"]
        if self.has("ifexp"):
            opts.append("ifexp")
        if self.has("nparray"):
            opts.append("nparray")
        if kind == "s":
            opts += ["reduce_v", "reduce_v", "reduce_m", "dot", "slice"]
            if self.has("views") and env["loops"]:
                opts.append("loopview")
            if self.has("logdomain"):
                opts.append("lse_matvec")
            if self.has("mathmod"):
                opts.append("math")
            if self.has("sumgen") and not env.get("nosum"):
                opts += ["sumgen", "sumgen"]
            if self.has("fancy"):
                opts.append("fancy_s")
            if self.has("mask"):
                opts.append("mask_s")
            if self.has("steps"):
                opts.append("step_s")
        if kind == "v":
            opts += ["reduce_m", "dotmv", "slice_v"]
            if self.has("logdomain"):
                opts.append("lse_vecmat")
            if self.has("astype"):
                opts.append("astype")
            if self.has("fancy"):
                opts.append("fancy_v")
            if self.has("mask"):
                opts.append("mask_v")
            if self.has("sumarr") and not env.get("nosum"):
                opts.append("sumarr")
        if self.has("sumlist") and kind in ("v", "m", "s"):
            opts.append("sumlist")
        if self.has("items") and kind in ("v", "m", "s") and not env.get("nosum"):
            opts.append("items")
        if self.has("lambdacall"):
            opts.append("lambdacall")
        if self.has("rules"):      # README's Rules bullet: its functions, composites, literals, casts (fuzz_rules)
            opts += ["rule"] * self.rule_weight
        if kind == "m":
            opts += ["col", "rowb"]
            if self.has("steps"):
                opts.append("step_m")
            if self.has("fancy"):
                opts.append("fancy_m")
        if self.has("extremes") and kind == "s" and not env.get("nosum"):
            opts.append("extreme")
        if self.has("bcastidx") and kind in ("s", "m"):
            opts.append("bcast")
        o = self.pick(opts)
        if o == "extreme":
            return self.extreme(env, d)
        if o == "bcast":
            return self.bcast_read(kind, env, d)
        if o == "rule":
            return fuzz_rules.call(self, kind, env, d)
        if o == "bin":
            op = self.pick(["+", "*", "-"])
            other = self.pick([kind, "s"] + (["v"] if kind == "m" else []))
            l, r = self.expr(kind, env, d), self.expr(other, env, d)
            if self.coin():
                l, r = r, l
            return f"({l} {op} {r})"
        if o == "div":
            return f"({self.expr(kind, env, d)} / (1.5 + np.square({self.expr(self.pick([kind, 's']), env, d)})))"
        if o == "neg":
            if self.coin(4):   # a negative constant raised to a power (printed as (-2.0) ** 2, not -2.0 ** 2)
                return f"(({self.pick(['-2.0', '-1.5', '-0.5'])}) ** {self.pick(['2', '3', '2.0'])} * {self.expr(kind, env, d)})"
            return f"(-{self.expr(kind, env, d)})"
        if o == "unary":
            e = self.expr(kind, env, d)
            u = self.pick(["sin", "tanh", "exp", "log", "sqrt", "square", "exp2"])
            return {"sin": f"np.sin({e})", "tanh": f"np.tanh({e})", "exp": f"np.exp(np.tanh({e}))",
                    "log": f"np.log(1.0 + {e} * {e})", "sqrt": f"np.sqrt(1.0 + np.square({e}))",
                    "square": f"np.square({e})", "exp2": f"np.exp(0.3 * np.sin({e}))"}[u]
        if o == "math":
            e = self.expr("s", env, d)
            u = self.pick(["sin", "tanh", "exp", "log", "sqrt", "cos"])
            return {"sin": f"math.sin({e})", "tanh": f"math.tanh({e})", "exp": f"math.exp(math.tanh({e}))",
                    "log": f"math.log(1.0 + {e} * {e})", "sqrt": f"math.sqrt(1.0 + {e} * {e})",
                    "cos": f"math.cos({e})"}[u]
        if o == "where":
            c = self.expr(self.pick([kind, "s"]), env, d)
            return f"np.where({c} > {self.thresh()}, {self.expr(kind, env, d)}, {self.expr(kind, env, d)})"
        if o == "maximum":
            other = self.pick([kind, "s"])
            if self.coin():
                return f"np.maximum({self.expr(kind, env, d)}, {self.const()})"
            return f"np.maximum({self.expr(kind, env, d)}, {self.expr(other, env, d)})"
        if o == "ifexp":
            return f"({self.expr(kind, env, d)} if {self.cond(env, 0)} else {self.expr(kind, env, d)})"
        if o == "helper":
            name, spec, ret, packed = self.pick(self.helpers)
            if packed:
                args = [self.expr(k, env, d) for _, k, _, _ in spec]
                call = f"{name}(({', '.join(args)},))" if packed == "tuple" else f"{name}([{', '.join(args)}])"
            else:
                call = f"{name}({', '.join(self.call_args(spec, env, d))})"
            return call if ret == kind else self.coerce(call, ret, kind)
        if o == "closure":
            name, ret = self.pick(env["closures"])
            e = f"{name}({self.expr('s', env, d)})"
            if name in self.closure_pairs:     # a tuple literal for its tuple parameter
                e = f"{name}(({self.expr('s', env, d)}, {self.expr('s', env, d - 1)}))"
            if name in self.closure_defaults and self.coin():     # its default given at this call
                kwonly = self.closure_defaults[name]
                e = f"{e[:-1]}, {'c=' if kwonly or self.coin() else ''}{self.expr('s', env, d - 1)})"
            return e if ret == kind else self.coerce(e, ret, kind)
        if o == "fn":
            call, ret = self.pick(self.fns)
            e = call.replace("ARG", self.expr("s", env, d))
            return e if ret == kind else self.coerce(e, ret, kind)
        if o == "nparray":
            if kind == "s":
                k = 2 + self.choose(2)
                items = ", ".join(self.expr("s", env, d - 1) for _ in range(k))
                w = ", ".join(self.const() for _ in range(k))
                return self.pick([f"np.sum(np.array([{items}]) * np.array([{w}]))",
                                  f"np.dot(np.array([{items}]), np.array([{w}]))"])
            if kind == "v":
                return f"np.array([{', '.join(self.expr('s', env, d - 1) for _ in range(self.N))}])"
            if self.coin():
                rows = [f"[{', '.join(self.expr('s', env, 0) for _ in range(self.N))}]" for _ in range(2)]
                return f"np.array([{', '.join(rows)}])"
            return f"np.array([{self.expr('v', env, d)}, {self.expr('v', env, d)}])"
        if o == "reduce_v":
            e = self.expr("v", env, d)
            r = self.pick(["sum", "mean", "max", "lse", "index"])
            return {"sum": f"np.sum({e})", "mean": f"np.mean({e})", "max": f"np.max({e})",
                    "lse": f"logsumexp({e})", "index": f"({e})[{self.choose(self.N)}]"}[r]
        if o == "reduce_m":
            e = self.expr("m", env, d)
            if kind == "s":
                r = self.pick(["sum", "mean", "max", "lse", "index"])
                return {"sum": f"np.sum({e})", "mean": f"np.mean({e})", "max": f"np.max({e})",
                        "lse": f"logsumexp({e})", "index": f"({e})[{self.choose(2)}, {self.choose(self.N)}]"}[r]
            # (README: products and minima along an axis, which may count from the end, run on the device too)
            r = self.pick(["sum", "mean", "max", "lse", "row", "method", "prod", "min"])
            return {"sum": f"np.sum({e}, axis=0)", "mean": f"np.mean({e}, axis=0)",
                    "max": f"np.max({e}, axis=0)", "lse": f"logsumexp({e}, axis=0)",
                    "row": f"({e})[{self.choose(2)}]", "method": f"({e}).sum(axis=0)",
                    "prod": f"np.prod({e}, axis=-2)", "min": f"np.min({e}, axis=-2)"}[r]
        if o == "dot":
            return f"np.dot({self.expr('v', env, d)}, {self.expr('v', env, d)})"
        if o == "slice":
            e = self.expr("v", env, d)
            return self.pick([f"np.sum(({e})[1:] * ({e})[:-1])", f"np.sum(({e})[:2])",
                              f"np.sum(({e})[::-1] * {self.expr('v', env, d)})"])
        if o == "step_s":
            e = self.expr(self.pick(["v", "m"]), env, d)
            return self.pick([f"np.sum(({e})[::2])", f"np.sum(({e})[1::2] * 0.5)", f"np.sum(({e})[::-2])"])
        if o == "step_m":
            e = self.expr("m", env, d)
            return self.pick([f"({e})[:, ::-1]", f"({e})[::-1]", f"({e})[::-1, ::-1]"])
        if o == "fancy_s":   # index lists (positions may repeat, or come from loop variables), masks as lists
            e = self.expr("v", env, d)
            idx = f"[{', '.join(self.index(env) for _ in range(1 + self.choose(3)))}]"
            m = self.expr("m", env, d)
            mask = ", ".join(self.pick(["True", "False"]) for _ in range(self.N))
            return self.pick([f"np.sum(({e})[{idx}])",
                              f"np.sum(({m})[[{', '.join(self.row(env) for _ in idx.split(','))}], {idx}])",
                              f"np.sum(({e})[[{mask}]])",
                              # the cross-entropy idiom: logits[np.arange(n), labels]
                              f"np.sum(({m})[np.arange(2), np.argmax({self.expr('m', env, d)}, axis=1)])"])
        if o == "fancy_v":
            perm = list(range(self.N))
            for j in range(self.N - 1, 0, -1):   # a permutation, so the shape stays (N,)
                k = self.choose(j + 1)
                perm[j], perm[k] = perm[k], perm[j]
            return f"({self.expr('v', env, d)})[{perm}]"
        if o == "fancy_m":
            return f"({self.expr('m', env, d)})[[{self.choose(2)}, {self.choose(2)}]]"
        if o == "mask_s":
            e = self.nonbuf(env, "v")
            v = self.pick(e) if e and self.coin(6) else f"({self.expr('v', env, d)})"
            t = self.thresh()
            if self.coin(3):    # a matrix's mask (rank 2)
                e = self.nonbuf(env, "m")
                v = self.pick(e) if e and self.coin(3) else f"({self.expr('m', env, d)})"
            if self.has("maskbeside") and self.coin(2):   # a 1-D mask beside another index: M[r, v > t]
                m = self.expr("m", env, d)
                return self.pick([f"np.sum(({m})[{self.choose(2)}, {self.expr('v', env, d)} > {t}])",
                                  f"np.sum(({m})[({m})[:, {self.choose(self.N)}] > {t}, 1:])"])
            return self.pick([f"np.sum({v}[{v} > {t}])", f"np.sum({v}[{v} < {t}] * 0.5)"])
        if o == "mask_v":
            v = self.expr("v", env, d)
            return f"({v} * ({self.expr('v', env, d)} > {self.thresh()}))"
        if o == "astype":
            v = self.expr("v", env, d)
            return self.pick([f"({v}).astype(np.float64)", f"({v}).astype(float)",
                              f"(({self.expr('v', env, d)} > {self.thresh()}).astype(np.float64) * {v})"])
        if o == "items":
            return self.items(kind, env, d)
        if o == "sumgen":
            return self.sumgen(env, d)
        if o == "sumarr":
            return self.sumarr(env, d)
        if o == "sumlist":  # sum([a, b]) of a list literal: a + b (arrays or scalars)
            start = f", {self.pick(['0.5', self.const()])}" if self.has("sumstart") and self.coin(2) else ""
            return f"sum([{', '.join(self.expr(kind, env, d) for _ in range(2 + self.choose(2)))}]{start})"
        if o == "lambdacall":  # a lambda called where it is written: (lambda y: y * y)(x)
            u = self.fresh("y")
            cenv = self.child(env)
            cenv["vars"][u] = "s"
            cenv["closures"] = []
            cenv["nosum"] = True    # README: sum(...) in a lambda that is not bound to a name is declined
            body = self.expr(kind, cenv, max(d - 1, 0))
            if not _uses(body, u):
                body = f"{u} * {body}"
            return f"(lambda {u}: {body})({self.expr('s', env, d)})"
        if o == "dotmv":
            m = self.expr("m", env, d)
            return f"np.dot(({m})[:, {self.choose(self.N)}], {self.expr('m', env, d)})"
        if o == "slice_v":
            e = self.expr("v", env, d)
            return self.pick([f"({e})[::-1]", f"np.concatenate((({e})[1:], ({e})[:1]))"]) \
                if self.has("concat") else f"({e})[::-1]"
        if o == "loopview":   # slices/columns of arrays indexed by a loop variable (views re-taken backward)
            i = self.pick(env["loops"])
            mats = self.nonbuf(env, "m")
            vecs = [n for n in env["vec"] if n not in env["bufs"]]
            forms = [f"np.sum({self.pick(vecs)}[{i}:])", f"np.sum({self.pick(vecs)}[:{i} + 1])"] if vecs else []
            if mats:
                m = self.pick(mats)
                forms += [f"np.sum({m}[:, {i}])", f"{m}[:, {i}][{self.choose(2)}]",
                          f"np.dot({m}[:, {i}], {m}[:, {self.choose(self.N)}])",
                          f"np.sum({m}[:, {i}:] * {self.expr('s', env, d)})"]
            return self.pick(forms) if forms else self.leaf(kind, env)
        if o == "lse_vecmat":   # logsumexp(p[:, None] + M, axis=0), M a name: log-domain product in loops
            return f"logsumexp({self.pair(env, d)}[:, None] + {self.matrix_name(env)}, axis=0)"
        if o == "lse_matvec":   # the mirrored form, over the rows: shape (2,)
            m, v = self.matrix_name(env), self.expr("v", env, d)
            e = self.pick([f"logsumexp({m} + ({v})[None, :], axis=1)", f"logsumexp({m} + {v}, axis=1)"])
            return self.pick([f"{e}[{self.choose(2)}]", f"np.sum({e})"])
        if o == "col":   # (2, N) op (2, 1): broadcasting over a size-1 axis
            m = self.expr("m", env, d)
            c = self.pick([f"({self.expr('m', env, d)})[:, 1:2]",
                           f"np.sum({self.expr('m', env, d)}, axis=1, keepdims=True)",
                           f"({self.expr('m', env, d)})[:, 0][:, None]"])
            return f"({m} {self.pick(['+', '*'])} {c})"
        if o == "rowb":  # (1, N) * (2, N)
            return f"({self.expr('v', env, d)}[None, :] * {self.expr('m', env, d)})"
        raise AssertionError(o)

    def enum_start(self, env, i) -> str:
        """enumerate's start, as written after its iterable: none (i is a position, it may index) or a
        constant / keyword start (i is a number only)."""
        start = self.pick(["", "", ", 1", ", start=2", ", -1"])
        (env["ints"] if start else env["loops"]).append(i)
        return start

    def sumarr(self, env, d):
        """A sum of arrays over a comprehension (it starts from zeros shaped like its first term), whose
        term may be a sum of arrays again (that start is desugared in its turn)."""
        j = self.fresh("j")
        inner = self.child(env)
        # over zip / enumerate(zip(...)): the start's first term reads their first items (also in a helper: a
        # jvp generates the helpers it inlines with their arguments' kinds, so such a sum, which may run no
        # iteration, starts from zeros shaped like its terms there too)
        if self.coin(3):
            a, b = self.fresh("e"), self.fresh("e")
            inner["vars"][a] = inner["vars"][b] = "s"
            pairs = f"zip({self.array_name(env, 'v')}, {self.expr('v', env, 0)})"
            if self.coin():
                clause = f"for {a}, {b} in {pairs}"
            else:
                clause = f"for {j}, ({a}, {b}) in enumerate({pairs}{self.enum_start(inner, j)})"
            e = self.expr('v', inner, d)
            return f"sum({e} * ({a} * 0.5 + {b}) {clause})"
        inner["loops"].append(j)
        e = self.sumarr(inner, d - 1) if d > 0 and self.coin(2) else self.expr('v', inner, d)
        term = f"{e} * ({j} * 0.5)"
        stop = 1 + self.choose(self.N)   # j may index a vector (it joins the loop indices)
        if self.coin(3):
            return f"sum([{term} for {j} in range({stop})])"
        return f"sum({term} for {j} in range({stop}))"

    def sumgen(self, env, d):
        """sum(...) over a generator expression or list comprehension (filters, several for clauses,
        nesting, over range / an array / zip / enumerate)."""
        inner = self.child(env)
        form = self.pick(["range", "range", "array", "zip", "enumerate", "two", "nested"]
                         + (["revarr", "revzip"] if self.has("reversed") else []))
        i, j = self.fresh("i"), self.fresh("j")
        if form in ("range", "two", "nested"):
            clause = f"for {i} in range({self.N})"
            inner["loops"].append(i)
        elif form == "array":
            e = self.fresh("e")
            clause = f"for {e} in {self.expr('v', env, 0)}"
            inner["vars"][e] = "s"
        elif form == "zip":
            e, e2 = self.fresh("e"), self.fresh("e")
            clause = f"for {e}, {e2} in zip({self.expr('v', env, 0)}, {self.expr('v', env, 0)})"
            inner["vars"][e] = inner["vars"][e2] = "s"
        elif form == "revarr":    # README: reversed() in sums
            e = self.fresh("e")
            clause = f"for {e} in reversed({self.expr('v', env, 0)})"
            inner["vars"][e] = "s"
        elif form == "revzip":
            e, e2 = self.fresh("e"), self.fresh("e")
            it = self.pick([f"zip(reversed({self.expr('v', env, 0)}), {self.expr('v', env, 0)})",
                            f"enumerate(reversed({self.expr('v', env, 0)}))"])
            clause = f"for {e}, {e2} in {it}"
            inner["vars"][e2] = "s"
            if it.startswith("enumerate"):
                inner["loops"].append(e)
            else:
                inner["vars"][e] = "s"
        else:
            clause = self.enumerate_clause(env, inner, i, self.fresh("e"))
        if form == "two":
            clause = self.second_clause(clause, inner, j)
        if form == "nested":
            deeper = self.child(inner)
            deeper["loops"].append(j)
            body = f"sum({self.expr('s', deeper, d)} for {j} in range(2))"
        else:
            body = self.expr("s", inner, d)
        if self.coin(3):
            clause += f" if {self.cond(inner, 0)}"
        start = ""
        if self.has("sumstart") and self.coin(2):   # README: sum(terms, 0.5), also start=
            start = self.pick([", 0.5", f", {self.const()}", f", start={self.expr('s', env, 0)}",
                               f", {self.expr('s', env, 0)}"])
        if self.coin(3):
            return f"sum([{body} {clause}]{start})"
        return f"sum(({body} {clause}){start})" if start else f"sum({body} {clause})"

    def enumerate_clause(self, env, inner, i, e):
        """`for i, e in enumerate(<a vector>)` of a comprehension: i an index of the loops, e a scalar."""
        clause = f"for {i}, {e} in enumerate({self.expr('v', env, 0)})"
        inner["loops"].append(i)
        inner["vars"][e] = "s"
        return clause

    def second_clause(self, clause, inner, j):
        """`clause` with a second `for j in range(2)` clause."""
        inner["loops"].append(j)
        return clause + f" for {j} in range(2)"

    def extreme(self, env, d):
        """max(...) / min(...) of a generator expression or list comprehension (README: the largest or smallest item
        of its array), over range, an array, zip, enumerate or two for clauses; a filter keeps the first item (a
        max of no items raises)."""
        inner = self.child(env)
        i, j, e, e2 = self.fresh("i"), self.fresh("j"), self.fresh("e"), self.fresh("e")
        form = self.pick(["range", "array", "zip", "enumerate", "two"])
        if form in ("range", "two"):
            clause = f"for {i} in range({1 + self.choose(self.N)})"
            inner["loops"].append(i)
        elif form == "array":
            clause = f"for {e} in {self.expr('v', env, 0)}"
            inner["vars"][e] = "s"
        elif form == "zip":
            clause = f"for {e}, {e2} in zip({self.expr('v', env, 0)}, {self.expr('v', env, 0)})"
            inner["vars"][e] = inner["vars"][e2] = "s"
        else:
            clause = self.enumerate_clause(env, inner, i, e)
        if form == "two":
            clause = self.second_clause(clause, inner, j)
        if form in ("range", "enumerate", "two") and self.coin(3):
            clause += self.pick([f" if {i} % 2 == 0", f" if {i} < 1 or {self.cond(inner, 0)}"])
        body = self.expr("s", inner, d)
        fn = self.pick(["max", "min"])
        return f"{fn}([{body} {clause}])" if self.coin() else f"{fn}({body} {clause})"

    def index_rows(self, env) -> str:
        """A (2, N) list of positions along a length-N axis (some repeated, some from loop variables)."""
        rows = [f"[{', '.join(self.index(env) for _ in range(self.N))}]" for _ in range(2)]
        return f"np.array([{', '.join(rows)}])"

    def rows_index(self):
        """The row index that broadcasts against a (2, k) index array: NumPy's take_along_axis written out."""
        return self.pick(["np.arange(2)[:, None]", "np.array([[0], [1]])", "np.arange(2).reshape(2, 1)"])

    def bcast_read(self, kind, env, d):
        """README: integer index arrays that broadcast together, of any rank: `x[np.arange(n)[:, None], idx]`
        (repeats accumulating), a vector indexed by a (2, N) array, a rank-3 gather."""
        m, idx = self.expr("m", env, d), self.index_rows(env)
        if kind == "m":
            return self.pick([f"({m})[{self.rows_index()}, {idx}]", f"({self.expr('v', env, d)})[{idx}]"])
        return self.pick([f"np.sum(({m})[{self.rows_index()}, {idx}] * {self.expr('m', env, d)})",
                          f"np.sum(({m})[np.arange(2)[:, None], np.argmax({self.expr('m', env, d)}, axis=1)[:, None]])",
                          f"np.sum(np.tanh(({m})[np.arange(2)[:, None, None], {idx}[None]]))"])

    def items(self, kind, env, d):
        """np.array / np.asarray / np.stack of a list comprehension (README): a vector of N items over range(N),
        an array or a zip; a (2, N) matrix of two vector items; a scalar: the sum of a filtered or two-clause one."""
        make = self.pick(["np.array", "np.array", "np.asarray", "np.stack"])
        inner = self.child(env)
        i, j, e = self.fresh("i"), self.fresh("j"), self.fresh("e")
        if kind == "m":
            inner["loops"].append(i)
            if self.has("listitems") and self.coin(3):    # items that are lists, or list comprehensions
                if self.coin():
                    row = ", ".join(self.expr("s", inner, max(d - 1, 0)) for _ in range(self.N))
                    return f"{make}([[{row}] for {i} in range(2)])"
                deeper = self.child(inner)
                deeper["loops"].append(j)
                return f"{make}([[{self.expr('s', deeper, max(d - 1, 0))} for {j} in range({self.N})] for {i} in range(2)])"
            return f"{make}([{self.expr('v', inner, d)} * ({i} + 1.0) for {i} in range(2)])"
        clause = self.scalar_clause(inner, i, e, j, lambda k: self.expr('v', env, 0))
        if self.has("listitems") and kind in ("s", "v") and self.coin(2):
            # README: np.array([[v, v * v] for v in x]): (k, 2) items, a column of it (or its sum)
            lst = f"{make}([[{self.expr('s', inner, max(d - 1, 0))}, {self.expr('s', inner, max(d - 1, 0))}] {clause}])"
            if kind == "v" and "if" not in clause:
                return f"({lst})[:, {self.choose(2)}]"
            return f"np.sum({lst} * np.array([{self.const()}, {self.const()}]))"
        if kind == "s":
            if self.coin():
                clause += f" if {self.cond(inner, 0)}"
                make = make.replace("np.stack", "np.array")    # (np.stack of no items raises; np.array: empty)
            else:
                k = self.fresh("k")
                clause += f" for {k} in range(2)"
                inner["loops"].append(k)
            return f"np.sum({make}([{self.expr('s', inner, d)} {clause}]))"
        return f"{make}([{self.expr('s', inner, d)} {clause}])"

    def matrix_name(self, env):
        """A (2, N) matrix by name (buffers too: whether it is loop-invariant is for srcdiff to find)."""
        mats = [n for n, k in env["vars"].items() if k == "m"]
        return self.pick(mats) if mats else f"(np.ones((2, {self.N})) * {self.const()})"

    def pair(self, env, d):
        """An expression of shape (2,)."""
        pairs = self.nonbuf(env, "p")
        opts = [f"({self.expr('m', env, d)})[:, {self.choose(self.N)}]", f"np.sum({self.expr('m', env, d)}, axis=1)"]
        if env["loops"]:
            opts.append(f"{self.matrix_name(env)}[:, {self.pick(env['loops'])}]")
        return self.pick(opts + pairs * 2)

    def coerce(self, e, have, want):
        if have == want:
            return e
        if want == "s":
            return f"np.sum({e})"
        if have == "s":
            return f"({e} * np.ones({self.N}))" if want == "v" else f"({e} * np.ones((2, {self.N})))"
        if have == "v":   # want m
            return f"({e} * np.ones((2, {self.N})))"
        return f"np.sum({e}, axis=0)"  # m -> v

    # -- statements ------------------------------------------------------------------------------
    def block(self, env, depth, n, in_loop=False, top=False):
        lines = []
        for _ in range(n):
            lines += self.stmt(env, depth, in_loop, top)
        return lines or ["pass"]

    def child(self, env):
        e = dict(env)
        for k in ("vars",):
            e[k] = dict(env[k])
        for k in ("vec", "bufs", "loops", "closures", "ints", "bools"):
            e[k] = list(env.get(k, []))
        return e

    def bind(self, env, name, kind):
        env["vars"][name] = kind
        if kind == "v":
            env["vec"].append(name)

    def stmt(self, env, depth, in_loop, top):
        opts = ["assign", "assign", "reassign"]
        if depth > 0:
            opts += ["if"]
            if self.has("for"):
                opts += ["for", "for"]
                if self.has("loops2"):
                    opts += ["for2", "for2"]
                if self.has("carried"):
                    opts += ["carried"]
            if self.has("while"):
                opts += ["while"]
        if self.has("inplace"):
            opts += ["buffer", "buffer"] if top and len(env["bufs"]) < 2 else []
            if env["bufs"]:
                opts += ["write", "write", "write"]
        if in_loop and self.has("break"):
            opts += ["break"]
        if in_loop and self.has("continue"):
            opts += ["continue", "continue"]
        if self.has("closures") and depth > 0 and (top or (env["loops"] and self.has("loopclosures"))):
            opts += ["closure"]
        if self.has("lambdas"):
            opts += ["lambda"] + (["lambda"] if not top and env.get("toplams") else [])   # (bound again in a block)
        if self.has("lambdaline"):
            opts += ["lambdas2"]
        if top and self.has("logdomain") and self.has("for") and depth > 0:
            opts += ["recursion"]
        if self.has("return") and depth < self.max_depth:
            opts += ["early_return"]
        if self.has("lists") and top and depth > 0 and not self.returned:
            opts += ["list"]
        if self.has("unpack"):
            opts += ["unpack", "unpack"]
        pairs = [(b, c) for b in env["bufs"] for c in env["bufs"] if b != c and env["vars"][b] == env["vars"][c]]
        if self.has("unpack") and pairs and in_loop:
            opts += ["swapbufs"] * 5
        if self.has("intbool"):
            opts += ["intvar", "boolvar"]
        if self.has("printassert"):
            opts += ["print"]
        if self.has("tuplewrite"):
            opts += ["tuplewrite"]
        if self.has("namedcomp"):
            opts += ["namedcomp"]
        o = self.pick(opts)
        if o == "namedcomp":
            return self.named_comprehension(env)
        ed = self.max_depth
        if o == "assign":
            kind = self.pick(KINDS)
            name = self.fresh("t")
            line = f"{name} = {self.expr(kind, env, ed)}"
            if self.has("walrus") and self.coin(1):     # README: assignment expressions (read again after it)
                w, e = self.fresh("w"), self.expr(kind, env, 1)
                line = f"{name} = ({w} := {e}) * 0.5 + np.tanh({w})"
                self.bind(env, w, kind)
            self.bind(env, name, kind)
            return [line]
        if o == "reassign":
            cands = [n for n in env["vars"] if n not in env["bufs"] and env["vars"][n] in KINDS]
            name = self.pick(cands)
            kind = env["vars"][name]
            e = self.expr(kind, env, ed)
            if env["loops"] or in_loop:   # damped update inside loops
                if kind == "s" and self.has("augassign") and self.coin():
                    return [self.pick([f"{name} += 0.5 * np.tanh({e})", f"{name} -= 0.25 * np.sin({e})",
                                       f"{name} *= 0.5 + 0.25 * np.tanh({e})"])]
                return [self.pick([f"{name} = 0.5 * {name} + 0.5 * np.tanh({e})", f"{name} = np.sin({e})"])]
            # `t += e` only on scalars: on arrays it is in place (t may be a view of a parameter)
            if kind == "s" and self.coin():
                return [self.pick([f"{name} += {e}", f"{name} -= {e}", f"{name} *= np.tanh({e})"])
                        if self.has("augassign") else f"{name} += {e}"]
            return [f"{name} = {e}"]
        if o == "swapbufs":     # two buffers swapped: the one written next is the array the other named
            b, c = self.pick(pairs)
            idx = self.index(env)
            if env["vars"][b] == "m":
                idx = f"{self.row(env)}, {idx}"
            return [self.pick([f"{b}, {c} = {c}, {b}",
                               f"{b}, {c} = {c}, 0.5 * {b} + 0.5 * np.tanh({c} * {self.expr('s', env, 1)})"]),
                    f"{b}[{idx}] = {b}[{idx}] * 1.1 + 0.1 * np.tanh({self.expr('s', env, 1)})"]
        if o == "unpack":
            cands = [n for n, k in env["vars"].items() if k == "s" and n not in env["bufs"]]
            if len(cands) >= 2 and self.coin(5):
                p, q = self.pick(cands), self.pick(cands)
                if p != q:
                    return [f"{p}, {q} = {q}, {p}"]
            k1, k2 = self.pick(KINDS), self.pick(KINDS)
            n1, n2 = self.fresh("u"), self.fresh("u")
            line = f"{n1}, {n2} = {self.expr(k1, env, 2)}, {self.expr(k2, env, 2)}"
            self.bind(env, n1, k1)
            self.bind(env, n2, k2)
            return [line]
        if o == "intvar":
            name = self.fresh("k")
            base = self.pick(env["loops"] + env["ints"] + ["0", "1"])
            line = f"{name} = {base} {self.pick(['+', '*', '-'])} {self.choose(3)}"
            env["ints"].append(name)
            out = [line]
            if self.coin(3):
                out.append(f"{name} += 1")
            return out
        if o == "boolvar":
            name = self.fresh("b")
            src = self.pick([f"{self.expr('s', env, 1)} > {self.thresh()}"] +
                            ([f"{self.pick(env['bools'])} and {self.expr('s', env, 1)} > {self.thresh()}",
                              f"not {self.pick(env['bools'])}"] if env["bools"] else []))
            env["bools"].append(name)
            return [f"{name} = {src}"]
        if o == "print":
            cands = [n for n, k in env["vars"].items() if k in KINDS] or ["x"]
            v = self.pick(cands)
            out = self.pick([[f"print('{v} =', {v})"], [f"assert np.all(np.isfinite({v}))"],
                             [f"assert {v} is not None, 'lost {v}'"]])
            if self.has("fstrings") and self.coin(2):   # (README: their f-strings too; not on the device)
                spec = self.pick([":.4f", ":8.3e", "!r", ""]) if env["vars"].get(v) == "s" else ""
                shown = v if env["vars"].get(v) == "s" else f"np.sum({v})"
                out = [out[0].replace(f"print('{v} =', {v})", f"print(f'{v} = {{{shown}{spec}}} ({{{{{v}}}}})')")
                       .replace(f"'lost {v}'", f"f'lost {v}: {{{v}!r}}'")]
                if out[0].startswith("assert np.all"):
                    out[0] += f", f'{v} not finite: {{{v}}}'"
            return out
        if o == "tuplewrite":
            return self.tuple_stmts(env)
        if o == "buffer":
            return self.buffer(env)
        if o == "write":
            b = self.pick(env["bufs"])
            calls = [p for p, k in self.procedures if k == env["vars"][b]]
            if calls and self.coin(4):   # a helper that writes into it and returns nothing, called as a statement
                return [f"{self.pick(calls)}({b}, {self.expr('s', env, 1)})"]
            if self.coin(6):    # through a second name for b's array (README: followed; aliasing.follow_writes)
                alias, idx = self.fresh("al"), self.index(env)
                if env["vars"][b] == "m":
                    idx = f"{self.row(env)}, {idx}"
                return [f"{alias} = {b}", f"{alias}[{idx}] = {alias}[{idx}] * 0.9 + 0.1 * np.tanh({self.expr('s', env, 1)})"]
            if self.has("bcastidx") and self.coin(3):
                # README: at integer arrays that broadcast together (an element named twice: the later write wins)
                op = self.pick(['=', '+=', '-='])
                if env["vars"][b] == "m":
                    e = self.pick([self.expr("m", env, 1), self.expr("s", env, 1)])
                    return [f"{b}[{self.rows_index()}, {self.index_rows(env)}] {op} {e}"]
                return [f"{b}[{self.index_rows(env)}] {op} {self.pick([self.expr('m', env, 1), self.expr('s', env, 1)])}"]
            if self.has("slices") and self.coin(2):
                return [self.slice_write(b, env)]
            if self.has("maskbeside") and env["vars"][b] == "m" and self.coin(2):
                # a 1-D mask beside an integer index (README: p[hit, 1] *= -0.9), along either axis
                t, op = self.thresh(), self.pick(["*= -0.9", "+= 0.25", f"= {self.const()}"])
                if self.coin():
                    return [f"{b}[{self.row(env)}, {self.expr('v', env, 1)} > {t}] {op}"]
                i = self.index(env)
                return [f"{b}[{b}[:, {i}] > {t}, {i}] {op}"]
            if self.has("mask") and self.coin(6):    # through a boolean mask (of a matrix: rank 2, README)
                t = self.thresh()
                return [self.pick([f"{b}[{b} > {t}] = {self.const()}", f"{b}[{b} < {t}] *= 0.5",
                                   f"{b}[{b} > {t}] += {self.expr('s', env, 1)}"])]
            if self.has("fancy") and self.coin(2):   # at an index list: an element named twice, the later write wins
                idx = f"[{self.index(env)}, {self.index(env)}]"
                if env["vars"][b] == "m":
                    idx = f"{self.row(env)}, {idx}"
                return [f"{b}[{idx}] {self.pick(['=', '+='])} {self.pair(env, 1)}"]
            idx = self.index(env)
            if env["vars"][b] == "m":
                idx = f"{self.row(env)}, {idx}"
            e = self.expr("s", env, ed - 1)
            op = self.pick(["=", "+=", "-=", "*="])
            if op == "*=":
                e = f"np.tanh({e})"
            return [f"{b}[{idx}] {op} {e}"]
        if o == "break":
            return [f"if {self.cond(env)}:", "    break"]
        if o == "continue":
            return [f"if {self.cond(env)}:", "    continue"]
        if o == "early_return":
            self.returned = True
            return [f"if {self.cond(env)}:", f"    return {self.expr(env.get('ret', 's'), env, 2)}"]
        if o == "list":
            return self.list_stmts(env, depth)
        if o == "if":
            cond = self.cond(env, 2)
            if self.has("walrus") and self.coin(2):    # README: assignment expressions (bound before the branches)
                w = self.fresh("w")
                cond = f"({w} := {self.expr('s', env, 1)}) > {self.thresh()}"
                self.bind(env, w, "s")
            out = [f"if {cond}:"] + self.indent(
                self.block(self.child(env), depth - 1, 1 + self.choose(self.max_stmts // 2), in_loop))
            if self.has("elif"):
                for _ in range(self.choose(3) if self.coin(3) else 0):
                    out += [f"elif {self.cond(env, 1)}:"] + self.indent(
                        self.block(self.child(env), depth - 1, 1 + self.choose(2), in_loop))
            if self.coin(5):
                out += ["else:"] + self.indent(self.block(self.child(env), depth - 1, 1 + self.choose(2), in_loop))
            return out
        if o == "for":
            i = self.fresh("i")
            start = self.pick(["", "", "1, "])
            stop = 1 + self.choose(self.N)
            stop_s = self.pick([str(stop), str(stop), "a.shape[0]" if stop == self.N and env["vars"].get("a") == "v"
                                else str(stop)])
            if self.has("intbool") and "n" in env["ints"] and self.coin(2):
                stop_s = "n"
            inner = self.child(env)
            inner["loops"].append(i)
            pre, rebind = [], []
            if self.coin(1):    # a bound the body rebinds: Python reads range's arguments once, before the loop
                b = self.fresh("stop")
                pre, rebind, stop_s = [f"{b} = {stop_s}"], [f"{b} = {b} - 1"], b
                inner["loops"].append(b)     # stop - 1 down to 0 (or 1): an index, read after the rebinding
            body = self.block(inner, depth - 1, 1 + self.choose(self.max_stmts - 1), True)
            post, t = [], None
            if start == "" and self.coin(4):    # the loop variable read after the loop (it runs at least once), in
                t = self.fresh("t")             # an outer loop too (its backward sweep binds it again), and bound
                if self.coin(2):                # again at the end of the body (Python's i after the loop is that)
                    body = body + [f"{i} = {i} * 2 + 1"]
                post = [f"{t} = {self.expr('s', env, 1)} * ({i} + 0.5)"]
            els = self.loop_else(env, depth, in_loop)   # before t is bound: the else block runs before post
            if t:
                self.bind(env, t, "s")
            return pre + [f"for {i} in range({start}{stop_s}):"] + self.indent(rebind + body) + els + post
        if o == "for2":     # over an array, zip, enumerate, reversed(range(...)), range with a step
            inner = self.child(env)
            form = self.pick(["array", "rows", "zip", "enumerate", "reversed", "step", "enumzip", "ziprange", "tuples"]
                             + (["revarr", "revzip", "revenum", "revtuple"] if self.has("reversed") else [])
                             + (["rangename"] if self.has("rangename") else []))
            pre = []
            if form == "array":
                e = self.fresh("e")
                head = f"for {e} in {self.array_name(env, 'v')}:"
                inner["vars"][e] = "s"
            elif form == "rows":
                r = self.fresh("row")
                head = f"for {r} in {self.array_name(env, 'm')}:"
                self.bind(inner, r, "v")
            elif form == "zip":
                e, e2 = self.fresh("e"), self.fresh("e")
                head = f"for {e}, {e2} in {_zip_spelled(self.array_name(env, 'v'), self.expr('v', env, 1))}:"
                inner["vars"][e] = inner["vars"][e2] = "s"
            elif form == "enumerate":
                i, e = self.fresh("i"), self.fresh("e")
                start = self.enum_start(inner, i)
                head = f"for {i}, {e} in enumerate({self.array_name(env, 'v')}{start}):"
                inner["vars"][e] = "s"
            elif form == "enumzip":   # enumerate around zip, the targets nested as the calls are
                i, e, e2 = self.fresh("i"), self.fresh("e"), self.fresh("e")
                start = self.enum_start(inner, i)
                head = (f"for {i}, ({e}, {e2}) in enumerate("
                        f"{_zip_spelled(self.array_name(env, 'v'), self.expr('v', env, 1))}{start}):")
                inner["vars"][e] = inner["vars"][e2] = "s"
            elif form == "ziprange":  # zip of a range and an array: the range's item is a number
                j, e = self.fresh("j"), self.fresh("e")
                head = f"for {j}, {e} in zip(range({1 + self.choose(self.N)}), {self.array_name(env, 'v')}):"
                inner["loops"].append(j)
                inner["vars"][e] = "s"
            elif form == "revarr":    # reversed() of an array: its items (or rows) last first (README)
                if self.coin():
                    e = self.fresh("e")
                    head = f"for {e} in reversed({self.array_name(env, 'v')}):"
                    inner["vars"][e] = "s"
                else:
                    r = self.fresh("row")
                    head = f"for {r} in reversed({self.array_name(env, 'm')}):"
                    self.bind(inner, r, "v")
            elif form == "revzip":    # zip of a reversed array and another
                e, e2 = self.fresh("e"), self.fresh("e")
                xs, ys = f"reversed({self.array_name(env, 'v')})", self.expr('v', env, 1)
                if self.coin():
                    xs, ys = ys, xs
                head = f"for {e}, {e2} in zip({xs}, {ys}):"
                inner["vars"][e] = inner["vars"][e2] = "s"
            elif form == "revenum":   # enumerate of a reversed array: i counts up, the items run last first
                i, e = self.fresh("i"), self.fresh("e")
                start = self.enum_start(inner, i)
                head = f"for {i}, {e} in enumerate(reversed({self.array_name(env, 'v')}){start}):"
                inner["vars"][e] = "s"
            elif form == "revtuple":  # reversed() of a tuple literal: unrolled last item first
                w = self.fresh("w")
                if self.coin():
                    v = self.fresh("v")
                    items = ", ".join(f"({self.expr('m', env, 1)}, {self.expr('v', env, 1)})"
                                      for _ in range(2 + self.choose(2)))
                    head = f"for {w}, {v} in reversed(({items})):"
                    self.bind(inner, w, "m")
                    self.bind(inner, v, "v")
                else:
                    kind = self.pick(["s", "v"])
                    items = ", ".join(self.expr(kind, env, 1) for _ in range(2 + self.choose(2)))
                    head = f"for {w} in reversed(({items})):"
                    if kind == "v":
                        self.bind(inner, w, "v")
                    else:
                        inner["vars"][w] = "s"
            elif form == "tuples":    # over a tuple literal of (matrix, vector) pairs: unrolled (README)
                w, v = self.fresh("w"), self.fresh("v")
                pairs = [(self.expr('m', env, 1), self.expr('v', env, 1)) for _ in range(1 + self.choose(3))]
                items = ", ".join(f"({m}, {u})" for m, u in pairs)
                # or zip of two tuple literals, the matrices' reversed, or enumerate of that zip (README: tuple
                # literals of arrays, reversed of one in zip and enumerate), chosen from the text: no extra draw
                how = sum(map(ord, items)) % 4
                mats, vecs = (f"({', '.join(x for x, _ in pairs)},)", f"({', '.join(u for _, u in pairs)},)")
                seq = [f"({items},)", f"zip({mats}, {vecs})", f"zip(reversed({mats}), {vecs})",
                       f"enumerate(zip({mats}, {vecs}), start=1)"][how]
                if self.coin():
                    name = self.fresh("pairs" if how == 0 else "mats")
                    pre, seq = ([f"{name} = {seq}"], name) if how == 0 else \
                        ([f"{name} = {mats}"], seq.replace(mats, name, 1))
                head = f"for {w}, {v} in {seq}:" if how < 3 else f"for {self.fresh('j')}, ({w}, {v}) in {seq}:"
                self.bind(inner, w, "m")
                self.bind(inner, v, "v")
            elif form == "rangename":   # a range bound to a name first, also by a conditional expression (README)
                i, order = self.fresh("i"), self.fresh("order")
                up = self.pick([f"range({self.N})", f"range({self.choose(2)}, {self.N}, {1 + self.choose(2)})"])
                down = f"range({self.N - 1}, {self.pick(['-1', '0'])}, {-1 - self.choose(2)})"
                which = self.choose(3)      # (the condition is made only where it is written)
                pre = [f"{order} = {[up, down][which] if which < 2 else f'{down} if {self.cond(env)} else {up}'}"]
                head = f"for {i} in {order}:"
                inner["loops"].append(i)
            elif form == "reversed":
                i = self.fresh("i")
                if self.coin(4):    # with a step of either sign: the items are indices in [0, N)
                    bounds = self.pick([f"{self.choose(2)}, {self.N}, {2 + self.choose(2)}",
                                        f"{self.N - 1}, {self.pick(['-1', '0'])}, {-1 - self.choose(3)}"])
                else:
                    bounds = self.pick([str(1 + self.choose(self.N)), str(self.N)])
                head = f"for {i} in reversed(range({bounds})):"
                inner["loops"].append(i)
            else:
                i = self.fresh("i")
                head = f"for {i} in range({self.choose(2)}, {self.N}, {1 + self.choose(2)}):"
                inner["loops"].append(i)
            # (break / continue of a loop over a tuple literal are declined: README)
            body = self.block(inner, depth - 1, 1 + self.choose(self.max_stmts - 1), form not in ("tuples", "revtuple"))
            return pre + [head] + self.indent(body) + self.loop_else(env, depth, in_loop)
        if o == "carried":  # a value first bound in the loop body, read in the next iteration
            i, prev = self.fresh("i"), self.fresh("prev")
            cands = self.nonbuf(env, "s")
            head = []
            if cands:
                acc = self.pick(cands)
            else:
                acc = self.fresh("acc")
                head = [f"{acc} = 0.0"]
                self.bind(env, acc, "s")
            inner = self.child(env)
            inner["loops"].append(i)
            kind = self.pick(["s", "s", "v"])
            body = [f"if {i} > 0:",
                    f"    {acc} = 0.5 * {acc} + 0.5 * np.tanh({prev if kind == 's' else f'np.sum({prev})'})",
                    f"{prev} = {self.expr(kind, inner, 2)}"]
            if self.coin(3):   # bound in both branches of an if (taken on some iterations, not on others)
                body[-1:] = [f"if {self.expr('s', inner, 1)} > {self.const()}:",
                             f"    {prev} = {self.expr(kind, inner, 2)}",
                             "else:",
                             f"    {prev} = {self.expr(kind, inner, 2)}"]
            if self.coin(3):   # after the binding: a `continue` here cannot leave prev unbound
                body += self.block(inner, depth - 1, 1 + self.choose(2), True)
            return head + [f"for {i} in range({1 + self.choose(self.N)}):"] + self.indent(body)
        if o == "while":
            c = self.fresh("c")
            inner = self.child(env)
            head = [f"{c} = np.tanh({self.expr('s', env, 1)})"]
            step = f"{c} = {c} + 0.75 + 0.25 * np.tanh({self.expr('s', env, 1)})"
            cond = f"{c} < 2.0"
            if "LIMIT" in env["ints"] and self.coin(3):   # a bound that is a module constant
                k = self.fresh("k")
                head.append(f"{k} = 0")
                cond = self.pick([f"{k} < LIMIT", f"{k} < LIMIT and {c} < 2.0"])
                step = [step, f"{k} += 1"]
                inner["ints"].append(k)
            elif self.has("intbool") and self.coin(3):
                k = self.fresh("k")
                head.append(f"{k} = 0")
                cond = f"{k} < {self.N} and {c} < 2.0"
                step = [step, f"{k} += 1"]
                inner["ints"].append(k)
            step = step if isinstance(step, list) else [step]
            if self.has("walrus") and self.coin(2):   # README: assignment expressions in while conditions
                r = self.fresh("r")
                parts = cond.split(" and ")     # (where it runs every time: the first operand)
                if parts[0] == f"{c} < 2.0":
                    parts[0] = f"({r} := {c} + 0.1 * np.tanh({self.expr('s', env, 1)})) < 2.0"
                else:
                    parts.insert(0, f"({r} := {c} + 0.0) < 2.5")
                cond = " and ".join(parts)
                self.bind(env, r, "s")          # (the test runs before the first iteration: bound after the loop)
                self.bind(inner, r, "s")
            # the counter advances first: a `continue` in the body cannot stop it
            body = step + self.block(inner, depth - 1, 1 + self.choose(self.max_stmts // 2), True)
            return head + [f"while {cond}:"] + self.indent(body) + self.loop_else(env, depth, in_loop)
        if o == "recursion":   # the HMM forward recursion: a loop-carried pair through a log-domain product
            alpha, sq, i = self.fresh("alpha"), self.fresh("sq"), self.fresh("i")
            m = self.expr("m", env, 1)
            sq_src = ["M[:, :2]", "np.tanh(M[:, :2])", f"0.5 * ({m})[:, 1:3]" if self.N > 2 else "M[:, :2] * 0.5"]
            lines = [f"{sq} = {self.pick(sq_src)}",
                     f"{alpha} = {self.pair(env, 1)}"]
            inner = self.child(env)
            inner["loops"].append(i)
            body = self.block(inner, 0, self.choose(2), True) if self.coin(3) else []
            step = self.pick([f"logsumexp({alpha}[:, None] + {sq}, axis=0)",
                              f"logsumexp({sq} + {alpha}[None, :], axis=1)"])
            if self.coin():
                step += f" + {self.pick(['M', 'np.tanh(M)'])}[:, {i}]"
            body.append(f"{alpha} = {step}")
            env["vars"][alpha] = "p"
            stop = 1 + self.choose(self.N)
            return lines + [f"for {i} in range({stop}):"] + self.indent(body)
        if o == "lambdas2":   # several lambdas on one line
            names, bodies = [], []
            for _ in range(2 + self.choose(2)):
                name, ret = self.fresh("lam"), self.pick(["s", "s", "v"])
                u = self.fresh("u")
                cenv = self.child(env)
                cenv["vars"][u] = "s"
                cenv["closures"] = []
                body = self.expr(ret, cenv, 1)
                if not _uses(body, u):
                    body = f"({body}) + {u}"
                names.append((name, ret))
                bodies.append(f"lambda {u}: {body}")
            env["closures"] += names
            if self.coin(4):   # `g, h = lambda ..., lambda ...` (else one statement each, `;` between)
                return [f"{', '.join(n for n, _ in names)} = {', '.join(bodies)}"]
            return ["; ".join(f"{n} = {b}" for (n, _), b in zip(names, bodies))]
        if o == "lambda":
            name = self.fresh("lam")
            ret = self.pick(["s", "s", "v"])
            again = env.setdefault("toplams", []) if top else []
            if again and self.coin(2):   # bound again later in the function's top block (README: lambdas)
                name, ret = self.pick(again)
            elif not top and env.get("toplams") and self.coin(6):   # in a branch or a loop (README: lambdas)
                name, ret = self.pick(env["toplams"])
            cenv = self.child(env)
            u = self.fresh("u")
            cenv["vars"][u] = "s"
            cenv["closures"] = []
            body = self.expr(ret, cenv, 2)
            if not _uses(body, u):
                body = f"({body}) + {u}"
            if (name, ret) not in env["closures"]:
                env["closures"].append((name, ret))
                if top:
                    env["toplams"].append((name, ret))
            lines = [f"{name} = lambda {u}: {body}"]
            scalars = sorted(v for v, k in env["vars"].items() if k == "s")
            h = sum(map(ord, body))     # (drawn from the text: the random stream, and so other seeds' programs, stay)
            if ret == "s" and scalars and self.has("lambdachoice") and h % 3 == 0:
                # README (lambdas): chosen by a conditional expression, or a NumPy function bound to the name
                fn = f"np.{['sin', 'tanh', 'cos', 'arctan'][h // 3 % 4]}"
                if h // 36 % 2:        # (read from a module-level dict of functions: ACTS["tanh"])
                    fn, self.acts = f'ACTS["{fn[3:]}"]', True
                form = ["first", "second", "alias"][h // 12 % 3]
                test = f"{scalars[h % len(scalars)]} > 0.0"
                lines = [f"{name} = (lambda {u}: {body}) if {test} else {fn}" if form == "first" else
                         f"{name} = {fn} if {test} else (lambda {u}: {body})" if form == "second" else
                         f"{name} = {fn}"]
            if top and self.coin(4):    # called, then bound again: later calls call the new one (README)
                t = self.fresh("t")
                lines.append(f"{t} = {name}({self.expr('s', env, 1)})")
                self.bind(env, t, ret)
                cenv["vars"] = dict(cenv["vars"])
                body = self.expr(ret, cenv, 1)
                lines.append(f"{name} = lambda {u}: {body if _uses(body, u) else f'({body}) * {u}'}")
            return lines
        if o == "closure":
            name = self.fresh("inner")
            ret = self.pick(["s", "v"])
            cenv = self.child(env)
            cenv["vars"]["u"] = "s"
            cenv["closures"] = []
            lines = [f"def {name}(u):"]
            if self.coin(2):   # README: tuple arguments of your functions (nested defs too), unpacked in the body
                lines = [f"def {name}(uv):", "    u, u2 = uv"]
                cenv["vars"]["u2"] = "s"
                self.closure_pairs.add(name)
            elif self.coin(3):   # a parameter with a default (README: nested defs with defaults), keyword-only or not
                kwonly = self.coin(3)
                default = self.pick([self.const(), self.expr("s", env, 1)])   # (bound where the def runs)
                lines = [f"def {name}(u, {'*, ' if kwonly else ''}c={default}):"]
                cenv["vars"]["c"] = "s"
                self.closure_defaults[name] = kwonly
            if self.coin(3):   # a closure nested in the closure
                n2 = self.fresh("inner")
                lines += [f"    def {n2}(z):", f"        return z * {self.expr('s', cenv, 1)}"]
                cenv["closures"] = [(n2, "s")]
            body_lines = []
            if self.coin():
                tname = self.fresh("w")
                body_lines.append(f"{tname} = {self.expr(ret, cenv, 2)}")
                cenv["vars"][tname] = ret
            body_lines.append(f"return {self.expr(ret, cenv, 2)}")
            lines += self.indent(body_lines)
            env["closures"].append((name, ret))
            return lines
        raise AssertionError(o)

    def list_stmts(self, env, depth) -> list:
        """README: a list built with appends in a loop (some in a branch), then converted once after the last append
        (np.array / np.asarray / np.stack, and len), or used as a stack (appends, then as many pops or fewer, in a
        for loop or a while loop over its len that may break)."""
        lst, i = self.fresh("lst"), self.fresh("i")
        inner = self.child(env)
        inner["loops"].append(i)
        n = 1 + self.choose(self.N)
        if self.coin(2):                   # a stack: popped in a second loop, last first
            acc, j = self.fresh("acc"), self.fresh("j")
            self.bind(env, acc, "s")
            # as many pops as appends, or fewer: the first items stay on the list (their adjoints are zero; the
            # gradient raised 'pop from empty list' there before h21a); or popped in a while loop that may break
            m = n - self.choose(n)
            lines = [f"{lst} = []", f"for {i} in range({n}):", f"    {lst}.append({self.expr('s', inner, 2)})",
                     f"{acc} = 0.0"]
            if self.coin(2):
                return lines + [f"while len({lst}) > {n - m}:", f"    {acc} = {acc} * 0.5 + {lst}.pop()",
                                f"    if {acc} > {self.const()}:", "        break"]
            if self.coin(2):    # appends and pops in one while loop that may break: items left on the list
                return [f"{lst} = []", f"{acc} = 0.0", f"{i} = 0", f"while {i} < {n}:",
                        f"    {lst}.append({self.expr('s', inner, 2)})", f"    if {i} % 2 == 1:",
                        f"        {acc} = {acc} * 0.5 + {lst}.pop()", f"    if {acc} > {self.const()}:", "        break",
                        f"    {i} += 1"]
            return lines + [f"for {j} in range({m}):", f"    {acc} = {acc} * 0.5 + {lst}.pop() * ({j} + 1.0)"]
        if self.coin(3):                   # a list made anew in each iteration, converted at its end: rows
            rows, j, row = self.fresh("rows"), self.fresh("j"), self.fresh("row")
            inner2 = self.child(inner)
            inner2["loops"].append(j)
            t = self.fresh("t")
            self.bind(env, t, "s")
            return [f"{rows} = []", f"for {i} in range({n}):", f"    {row} = []",
                    f"    for {j} in range({self.N}):", f"        {row}.append({self.expr('s', inner2, 2)})",
                    f"    {rows}.append(np.array({row}) * {self.expr('s', inner, 1)})",
                    f"{t} = np.sum(np.stack({rows}) ** 2) / {n}"]
        if self.has("listinit") and self.coin(2):   # README: two lists bound together, ts, ys = [], []
            ys, t = self.fresh("ys"), self.fresh("t")
            kind = self.pick(["s", "v"])
            body = [f"{lst}.append({self.expr('s', inner, 2)})", f"{ys}.append({self.expr(kind, inner, 2)})"]
            conv = (f"np.sum(np.array({ys}) ** 2)" if kind == "s" else
                    self.pick([f"np.sum(np.stack({ys}, axis=1) ** 2)", f"np.sum(np.asarray({ys}) ** 2)"]))
            self.bind(env, t, "s")
            return ([f"{lst}, {ys} = [], []", f"for {i} in range({n}):"] + self.indent(body) +
                    [f"{t} = np.sum(np.array({lst}) * np.arange(1, len({lst}) + 1)) + {conv} / len({ys})"])
        kind = self.pick(["s", "s", "v"])
        lines = [f"{lst} = []"]
        started = self.has("listinit") and self.coin(3)
        if started:                        # README: a list started with items, traj = [y0]
            lines = [f"{lst} = [{self.expr(kind, env, 1)}]"]
        elif kind == "v":                  # (np.stack of no rows has no shape: one before the loop)
            lines.append(f"{lst}.append({self.expr('v', env, 1)})")
        push = f"{lst}.append({self.expr(kind, inner, 2)})"
        if (started or kind == "v") and self.has("listinit") and self.coin(2):   # README: its last item, traj[-1]
            push = f"{lst}.append({lst}[-1] * 0.5 + {self.expr(kind, inner, 1)})"
        body = [f"if {self.cond(inner, 1)}:", f"    {push}"] if self.coin(4) else [push]
        if self.coin(3):
            body = [f"{lst}.append({self.expr(kind, inner, 1)})"] + body
        form = self.choose(3)
        if form == 1:       # README 'in loops': appends in a while loop whose trip count depends on the data
            c = self.fresh("c")
            lines += [f"{i} = 0", f"{c} = np.tanh({self.expr('s', env, 1)})",
                      f"while {c} < 2.0 and {i} < {n}:",
                      f"    {c} = {c} + 0.75 + 0.25 * np.tanh({self.expr('s', env, 1)})"]
            lines += self.indent(body) + [f"    {i} += 1"]
        elif form == 2:     # appends in an inner loop (a for or a while) of the loop
            j = self.fresh("j")
            inner_loop = (self.indent([f"for {j} in range(2):"] + self.indent(body)) if self.coin(2) else
                          self.indent([f"{j} = 0", f"while {j} < {i} + 1:"] + self.indent(body + [f"{j} += 1"])))
            lines += [f"for {i} in range({n}):"] + inner_loop
        else:
            lines += [f"for {i} in range({n}):"] + self.indent(body)
        t = self.fresh("t")
        conv = self.pick(["np.array", "np.asarray"] + (["np.stack"] if kind == "v" else []))
        if kind == "s":
            lines.append(f"{t} = np.sum({conv}({lst}) ** 2) / (1.0 + len({lst}))")
        elif self.has("listinit") and self.coin(3):   # README: np.stack along any axis: (N, items)
            lines.append(f"{t} = np.sum(np.stack({lst}, axis={self.pick(['1', '-1'])}), axis=1) / len({lst})")
        else:
            lines.append(f"{t} = np.sum({conv}({lst}), axis=0) / len({lst})")
        self.bind(env, t, kind)
        return lines

    def scalar_clause(self, inner, i, e, e2, source) -> str:
        """A comprehension's clause over scalar items, `for i in range(N)`, `for e in <array>` or `for e, e2 in
        zip(<array>, <array>)` (`source(k)`: the k-th array), its names bound in `inner`."""
        form = self.pick(["range", "array", "zip"])
        if form == "range":
            inner["loops"].append(i)
            return f"for {i} in range({self.N})"
        if form == "array":
            inner["vars"][e] = "s"
            return f"for {e} in {source(0)}"
        clause = f"for {e}, {e2} in zip({source(0)}, {source(1)})"
        inner["vars"][e] = inner["vars"][e2] = "s"
        return clause

    def named_comprehension(self, env) -> list:
        """README: a list comprehension bound to a name first, `vals = [f(v) for v in x]`, every read of which
        converts it (np.array, np.asarray, np.stack, also along axis 1), takes its len or sums it."""
        vals, t = self.fresh("vals"), self.fresh("t")
        inner = self.child(env)
        i, e, e2 = self.fresh("i"), self.fresh("e"), self.fresh("e")
        if self.coin(3):        # vector items: stacked along either axis
            k = 1 + self.choose(3)
            if k <= self.N:     # an index into a length-N axis (seed 930007: a[i] of range(3) with N = 2)
                inner["loops"].append(i)
            lines = [f"{vals} = [{self.expr('v', inner, 2)} * ({i} + 1.0) for {i} in range({k})]"]
            kind = "m" if k == 2 and self.coin(5) else "v"
            use = (self.pick([f"np.stack({vals})", f"np.stack({vals}, axis=1).T", f"np.array({vals})"]) if kind == "m"
                   else self.pick([f"np.sum(np.stack({vals}, axis=1), axis=1) / len({vals})",
                                   f"np.asarray({vals})[{k - 1}] * {self.const()}",
                                   f"np.sum(np.array({vals}), axis=0) * len({vals})",
                                   f"sum({vals}) * {self.const()}"]))       # README: or sums it, sum(vals)
            if use.startswith("sum(") and self.coin(2):      # README: sum(...) also with a start, sum(terms, 0.5)
                use = use.replace(f"sum({vals})", f"sum({vals}, {self.expr('v', env, 1)})", 1)
        else:                   # scalar items: over range, an array or zip, sometimes filtered
            clause = self.scalar_clause(inner, i, e, e2,
                                        lambda k: self.array_name(env, 'v') if k == 0 else self.expr('v', env, 1))
            filtered = self.coin(2)
            if filtered:
                clause += f" if {self.cond(inner, 0)}"
            lines = [f"{vals} = [{self.expr('s', inner, 2)} {clause}]"]
            kind = "s" if filtered or self.coin(3) else "v"
            use = (self.pick([f"np.sum(np.array({vals}) ** 2) / (1.0 + len({vals}))",
                              f"np.sum(np.asarray({vals}) * 0.5) + len({vals})",
                              f"sum({vals}) * 0.5 + len({vals})"]) if kind == "s"
                   else self.pick([f"np.array({vals})", f"np.asarray({vals}) * {self.const()}"]))
            if use.startswith("sum(") and self.coin(2):      # README: sum(...) also with a start, sum(terms, 0.5)
                use = use.replace(f"sum({vals})", f"sum({vals}, {self.pick([self.const(), self.expr('s', env, 1)])})", 1)
        lines.append(f"{t} = {use}")
        if self.coin(3):        # read again: each read converts it anew
            t2 = self.fresh("t")
            lines.append(f"{t2} = np.sum(np.{self.pick(['array', 'asarray'])}({vals}) ** 2) * len({vals})")
            self.bind(env, t2, "s")
        self.bind(env, t, kind)
        return lines

    def tuple_stmts(self, env) -> list:
        """README: a tuple (a literal, or a name bound to one) written into an array (traj[i] = (p, v), traj[i] =
        state, y[:2] = [a, b]) or passed to a NumPy function (np.sum(state), np.stack(state))."""
        st, t = self.fresh("st"), self.fresh("t")
        bufs = env["bufs"]
        if bufs and self.coin(5):
            b = self.pick(bufs)
            if env["vars"][b] == "m":
                if self.coin(5):
                    at, k = f"[:, {self.index(env)}]", 2
                else:
                    at, k = f"[{self.row(env)}]", self.N
            else:
                at, k = "[:2]", 2
            items = [self.expr("s", env, 1) for _ in range(k)]
            lit = f"({', '.join(items)})" if self.coin() else f"[{', '.join(items)}]"
            if self.coin():
                return [f"{st} = ({', '.join(items)})", f"{b}{at} = {st}"]
            return [f"{b}{at} = {lit}"]
        kind = self.pick(["s", "s", "v"])
        items = [self.expr(kind, env, 1) for _ in range(2 + self.choose(2))]
        if kind == "s" and self.coin(3):   # README: a list bound to a name, then sum(terms) / np.max(terms)
            self.bind(env, t, "s")
            return [f"{st} = [{', '.join(items)}]", f"{t} = {self.pick([f'sum({st})', f'np.max({st})'])}"]
        if kind == "s":
            use = self.pick([f"np.sum({st})", f"np.mean({st}) * 2.0", f"np.max({st})",
                             f"np.asarray({st})[{self.choose(2)}]", f"np.sum(np.maximum({st}, {self.const()}))",
                             f"np.linalg.norm({st})"])
            if use.startswith("np.linalg.norm"):
                items.append("1.0")        # (never all zero: a norm's kink)
            self.bind(env, t, "s")
        else:
            use = self.pick([f"np.sum(np.stack({st}), axis=0)", f"np.concatenate({st})[:{self.N}]",
                             f"np.sum({st}, axis=0)", f"np.stack({st}, axis=1)[:, {self.choose(2)}]"])
            self.bind(env, t, "v")
        return [f"{st} = ({', '.join(items)})", f"{t} = {use}"]

    def loop_else(self, env, depth, in_loop) -> list:
        """Sometimes an `else:` block after a loop (README: for/while ... else), run where no break ended it."""
        if not (self.has("break") and self.coin(5)):
            return []
        return ["else:"] + self.indent(self.block(self.child(env), depth - 1, 1 + self.choose(2), in_loop))

    def buffer(self, env):
        """A fresh local array that later statements write in place."""
        name = self.fresh("buf")
        kind = self.pick(["v", "m"])
        if env["bufs"] and self.coin(4):     # like the first one: two buffers that can be swapped
            kind = env["vars"][env["bufs"][0]]
        src = {"v": [f"np.zeros({self.N})", "a.copy()", "np.copy(a)", "a * 1.0"],
               "m": [f"np.zeros((2, {self.N}))", "M.copy()", "np.copy(M)"]}[kind]
        self.bind(env, name, kind)
        env["bufs"].append(name)
        return [f"{name} = {self.pick(src)}"]

    def wrapping_loop(self, env, modern):
        """`ys[t] = v + c * ys[t - k]` / `ys[t - 1] = ...` in `for t in range(...)` from a start below k: the index
        is negative there, Python's last rows, which a later iteration writes (README: Python's negative indices;
        a jitted gradient once dropped the restore of such a row: stacks._dead_restores). Returns the lines and
        a scalar term for the result."""
        ys, t = self.fresh("ys"), self.fresh("t")
        rows = self.coin(3)                      # rows of a (N, 2) array, `ys[t] = c * ys[t - 1] + M[:, t]`
        k = 1 + self.choose(2)
        start = self.pick(["", "0, ", "1, "] + (["k0, "] if self.N > 2 else []))
        stop = self.pick([str(self.N), "n"] if modern else [str(self.N)])
        lines = []
        if start == "k0, ":                     # a start held in a name: not a literal the analysis can read
            start = self.fresh("k") + ", "
            lines.append(f"{start[:-2]} = {self.choose(2)}")
        init = self.pick([f"np.zeros(({self.N}, 2))", "M.T.copy()", "np.ones((%d, 2)) * 0.5" % self.N] if rows else
                         [f"np.zeros({self.N})", "a.copy()", "a * 0.5", f"np.ones({self.N})"])
        body_env = self.child(env)
        body_env["loops"].append(t)
        body_env["ints"].append(t)
        c = self.pick(["0.5", "-0.7", "0.3"])
        v = self.pick([f"M[:, {t}]", f"np.tanh(M[:, {t}] * {self.expr('s', body_env, 1)})"]) if rows else \
            self.expr("s", body_env, 1)
        form = self.pick(["read", "write", "aug", "both"])
        if form == "read":       # the bug's shape: buf[i] = A[i, ...] + y * buf[i - 1]
            stmt = [f"{ys}[{t}] = {v} + {c} * {ys}[{t} - {k}]"]
        elif form == "write":    # the write wraps: at t = 0 it writes the last row, read by the last iteration
            stmt = [f"{ys}[{t} - 1] = {c} * {ys}[{t}] + {v}"]
        elif form == "aug":
            stmt = [f"{ys}[{t}] += {c} * np.tanh({ys}[{t} - {k}]) * {self.pick(['x', 'np.sum(a)'] if 'x' in env['vars'] else ['np.sum(a)'])}"]
        else:                    # a read of the wrapped row, then a write of it
            stmt = [f"{ys}[{t}] = {v} + {c} * {ys}[{t} - {k}]", f"{ys}[{t} - {k}] *= {self.pick(['0.9', '1.1'])}"]
        lines += [f"{ys} = {init}", f"for {t} in range({start}{stop}):"] + self.indent(stmt)
        w = self.pick(["np.arange(1.0, %d.0)" % (self.N + 1), "1.0"])
        term = f"np.sum({ys} * {w})" if not rows else f"np.sum({ys}[:, 0] * {w}) + np.sum({ys}[:, 1] ** 2)"
        return lines, term

    def number_rows(self, env):
        """'rows2d': a (2, N) array written out in rows of numbers f computes, `r = np.array([[x, a[0], ...], [...]])`
        (README, CUDA: a local array filled element by element on the device), read whole, by row and by element.
        Returns the lines and a scalar term for the result."""
        r = self.fresh("rows")
        rows = [f"[{', '.join(self.expr('s', env, 1) for _ in range(self.N))}]" for _ in range(2)]
        ms = [m for m in self.nonbuf(env, "m")]
        vs = [v for v in self.nonbuf(env, "v")]
        term = self.pick([f"np.sum({r} * {r})", f"np.sum(np.tanh({r}[1]) * {r}[0])",
                          f"{r}[1, {self.choose(self.N)}] * {r}[0, {self.choose(self.N)}]"]
                         + ([f"np.sum({r} * {self.pick(ms)})"] if ms else [])
                         + ([f"np.sum(np.dot({r}, {self.pick(vs)}))"] if vs else []))
        return [f"{r} = np.array([{', '.join(rows)}])"], term

    def ellipsis_writes(self, env):
        """'ellipsis' (drawn last): a local (2, N) array written through an Ellipsis index, all of it (`e[...] = v`,
        `e[...] += v`, also in a loop), a column (`e[..., k] = ...`) or a row (`e[r, ...] *= c`), read whole and
        through an Ellipsis (`e[..., 1:]`, `e[0, ...]`). The reverse sweep's save of what `e[...] = v` overwrites and
        its adjoint's read are `e[...]` too, which Numba cannot lower: jit=True crashed there (found by hand, h26a:
        transforms/whole_reads.py). Returns the lines and a scalar term for the result."""
        e, k, k2, r = self.fresh("ell"), self.choose(self.N), self.choose(self.N), self.choose(2)
        lines = [f"{e} = np.tanh({self.expr('m', env, 1)}) * 1.0"]
        for _ in range(1 + self.choose(2)):
            form = self.choose(5)
            if form == 0:
                lines.append(f"{e}[...] = np.sin({e}) * {self.expr('s', env, 1)}")
            elif form == 1:
                lines.append(f"{e}[...] += 0.5 * {self.expr(self.pick(['m', 'v', 's']), env, 1)}")
            elif form == 2:
                lines.append(f"{e}[..., {k}] = {e}[..., {k2}] * {self.const()} + {self.pair(env, 1)}")
            elif form == 3:
                lines.append(f"{e}[{r}, ...] *= np.tanh({self.expr('s', env, 1)})")
            else:
                i = self.fresh("i")
                lines += [f"for {i} in range({self.pick(['2', 'n'] if 'n' in env['ints'] else ['2', '3'])}):",
                          f"    {e}[...] = {e} * 0.5 + 0.3 * np.tanh({e}[..., ::-1])"]
        term = self.pick([f"np.sum({e}[..., 1:] ** 2)", f"np.sum({e}[0, ...] * {e}[1, ...])", f"np.sum({e} * {e})",
                          f"np.sum(np.sin({e}[...]))"])
        return lines, term

    def rebound_after_write(self, env):
        """'argrebound' (drawn last): a helper that writes into its array parameter, then binds the parameter to new
        arrays (in a loop, a `while` or a branch), called on a local array that f reads after the call (README:
        calls to your own functions, their in-place writes into an argument; inlined, the parameter's copy was the
        loop's carried name and the call was declined, 'writes in place into memory that ... shares': fuzz 1192024,
        follow_writes.py). Returns the lines and a scalar term for the result."""
        h, b, t, i = self.fresh("wrebind"), self.fresh("wb"), self.fresh("t"), self.fresh("i")
        j, c = self.choose(self.N), self.const()
        write = self.pick([f"u[{j}] = u[{j}] * {c} + np.sin(z)", f"u[{j}] += {c} * np.tanh(u[{(j + 1) % self.N}])",
                           f"u[:{max(1, j)}] = u[:{max(1, j)}] * z"])
        again = self.pick([[f"for {i} in range(2):", "    u = 0.5 * u + 0.5 * np.tanh(z * u)"],
                           [f"{i} = 0", f"while {i} < 2:", "    u = np.sin(u) + z", f"    {i} += 1"],
                           ["if z > 0.0:", "    u = u * z", "else:", "    u = u - z"]])
        self.helper_src.append("\n".join([f"def {h}(z, u):", "    " + write] + ["    " + l for l in again]
                                          + ["    return np.sum(u * u) * 0.5"]))
        lines = [f"{b} = np.tanh({self.expr('v', env, 1)}) * 1.0",
                 f"{t} = {h}({self.expr('s', env, 1)}, {b})"]
        term = self.pick([f"{t} * np.sum({b})", f"{t} + np.sum({b} * {b})", f"np.sum(np.sin({b})) * {t}"])
        return lines, term

    def copied_values(self, env, h: int):
        """'copies' (drawn last): `copy.copy` / `copy.deepcopy` of a vector and of a number f computes (README Rules:
        '`copy.copy copy.deepcopy` of an array or a number ... written into, the copy changes and the original stays;
        in a function of yours too'; each was declined as "no differentiation rule" before h29c): the vector's copy
        written at an element or scaled in place while the original is read after, or made in a module-level helper
        of the program's (`return copy.deepcopy(w) * 2.0`, its form chosen off `h`, drawing nothing). Returns the
        lines and a scalar term for the result."""
        orig, c, cs = self.fresh("orig"), self.fresh("cp"), self.fresh("cs")
        how = self.pick(["copy.copy", "copy.deepcopy"])
        lines = [f"{orig} = np.tanh({self.expr('v', env, 1)})", f"{c} = {how}({orig})"]
        form = self.choose(3)
        if form == 0:
            lines.append(f"{c}[{self.choose(self.N)}] = {self.expr('s', env, 1)} * {self.const()}")
        elif form == 1:
            lines.append(f"{c} *= np.tanh({self.expr('s', env, 1)})")
        else:
            helper = self.fresh("copied")
            made = ["copy.deepcopy(w) * 2.0", "np.sin(copy.copy(w)) + w"][h % 2]
            self.helper_src.append(f"def {helper}(w):\n    return {made}")
            lines.append(f"{c} = {c} + {helper}({orig})")
        lines.append(f"{cs} = {self.pick(['copy.copy', 'copy.deepcopy'])}({self.expr('s', env, 1)})")
        return lines, f"np.sum({c} * {orig}) + np.tanh({cs}) * np.sum({orig})"

    def passed_record(self, env, h: int):
        """'recordpassed' (drawn last): a namedtuple of a module-level class `STk` that a function of the program's
        returns (`return q._replace(...)`), passed straight to another function of the program's (README: namedtuples
        '... passed straight to another call, `g2(step(s, g))`'; declined before h29c): at once, nested
        (`use(step(step(st)), c=0.5)`) or by keyword in a loop that steps the namedtuple too (its form chosen off `h`,
        drawing nothing). Returns the lines and a scalar term for the result."""
        if h % 5 >= 3:      # (a dict a function of the program's returns, the same way: README 'dicts your functions
            return self.passed_dict(env, h)     # return ... passed straight to another call')
        cls, st, step, use = self.fresh("ST"), self.fresh("st"), self.fresh("ststep"), self.fresh("energy")
        self.helper_src.append(f'{cls} = collections.namedtuple("{cls}", ["u", "w"])')
        self.helper_src.append(f"def {step}(q):\n    return q._replace(u=np.tanh(q.u) + 0.1 * np.sum(q.w), "
                               "w=np.sin(q.w) * q.u)")
        self.helper_src.append(f"def {use}(q, c=1.0):\n    return c * q.u * np.sum(q.w ** 2)")
        lines = [f"{st} = {cls}({self.expr('s', env, 1)}, {self.expr('v', env, 1)})"]
        form = h % 3
        acc, i = self.fresh("acc"), self.fresh("i")
        # (a statement of its own: a call of the program's before it in f's return line would run first, and srcdiff
        # binds the namedtuple to a name first only where nothing runs before it, the README's decline)
        if form == 0:
            return lines + [f"{acc} = {use}({step}({st}))"], acc
        if form == 1:
            return lines + [f"{acc} = {use}({step}({step}({st})), c={self.const()})"], acc
        lines += [f"{acc} = 0.0", f"for {i} in range(2):", f"    {acc} = {acc} + {use}(q={step}({st}))",
                  f"    {st} = {step}({st})"]
        return lines, acc

    def tuple_copy(self):
        """'tuplecopy' (drawn last): a copy of the tuple/list argument xa, `tuple(xa)` or `list(xa)`, also of a constant
        slice (`list(xa[1:])`, `tuple(xa[::-1])`), bound to a name and indexed or unpacked, or looped over, or summed in
        a comprehension (README: tuples/lists of them, copied; flatten.py reads it as the literal of xa's items:
        before, 'a tuple/list argument used as a whole value'). Returns the lines and a scalar term for the result."""
        cp, acc, v, p, q = self.fresh("cp"), self.fresh("acc"), self.fresh("v"), self.fresh("p"), self.fresh("q")
        pairs = ["tuple(xa)", "list(xa)", "tuple(xa[::-1])", "list(xa[::-1])"]
        copy_ = self.pick(pairs + pairs[:2] * 2 + ["list(xa[1:])", "tuple(xa[:1])", "list(xa[-1:])"])
        form = self.pick(["index", "loop", "loop named", "comprehension"] + (["unpack"] if copy_ in pairs else []))
        if form == "index":
            return [f"{cp} = {copy_}"], f"np.sum(np.sin({cp}[0])) * 0.1 + np.sum({cp}[-1] ** 2) * 0.05"
        if form == "unpack":
            return [f"{p}, {q} = {copy_}"], f"0.1 * np.sum({p} * np.tanh({q}))"
        if form == "comprehension":
            return [], f"0.1 * sum(np.sum({v} ** 2) for {v} in {copy_})"
        pre = [f"{cp} = {copy_}"] if form == "loop named" else []
        return pre + [f"{acc} = 0.0", f"for {v} in {cp if pre else copy_}:",
                      f"    {acc} = {acc} + 0.1 * np.sum(np.sin({v}))"], acc

    def passed_dict(self, env, h: int):
        """'recordpassed' (drawn last), its dict forms: a dict a function of the program's returns, `mkd(u, w)` of
        `return {"u": ..., "w": ...}`, passed straight to another function of the program's (README: dicts your
        functions return, '... passed straight to another call, `loss(params(W, b), x)`'; declined before h29c): at
        once or by keyword in a loop (its form chosen off `h`, drawing nothing). Returns the lines and a scalar term."""
        mk, use, acc, i = self.fresh("mkd"), self.fresh("used"), self.fresh("acc"), self.fresh("i")
        self.helper_src.append(f'def {mk}(u, w):\n    return {{"u": np.sin(u), "w": w * u + 0.5}}')
        self.helper_src.append(f'def {use}(q, c=1.0):\n    return c * q["u"] * np.sum(q["w"] ** 2)')
        s_val, v_val = self.expr("s", env, 1), self.expr("v", env, 1)
        if h % 2:
            return [f"{acc} = {use}({mk}({s_val}, {v_val}), c={self.const()})"], acc
        return [f"{acc} = 0.0", f"for {i} in range(2):",
                f"    {acc} = {acc} + {use}(q={mk}(0.1 * {acc} + {s_val}, {v_val}))"], acc

    def row_loss(self, env):
        """'rowloss' (not in ALL_FEATURES: the fuzzer's --parallel mode adds it, tests/fuzz_parallel.py; drawn last):
        a loss summed over the rows of a matrix-vector product, `z = R @ a + s`, `np.sum(np.tanh(z) * c)`: the form
        jitted row fusion runs as one pass over the rows of R (optimize/rowfusion.py), on threads under
        jit="parallel". R is data: rows of the argument M as f receives it (`R = np.concatenate((M, np.cos(M),
        0.5 * M))`, bound at the top of f), with rows of its own (6 or 8): with `M @ a` before, f's other arrays of
        M's two rows (pairs, `M @ v`, `M[:, j]`) and M bound again or written into kept row fusion off the loss in
        38 of seeds 1402000-1402040. Returns (lines binding R, lines of z, a scalar term; ([], [], None) where f has no
        vector)."""
        vs = self.nonbuf(env, "v")
        if not vs:
            return [], [], None
        r, z, v = self.fresh("R"), self.fresh("z"), self.pick(vs)
        stack = self.pick(["np.concatenate((M, np.cos(M), 0.5 * M))", "np.concatenate((np.sin(M), M, M * M))",
                           "np.concatenate((M, np.tanh(M), M[::-1], 0.3 * M))"])
        ss = [n for n in self.nonbuf(env, "s") if n in ("x", "scale")]   # (a loop here, as max(...) writes, or a
        shift = self.pick(["", f" + {self.const()}", f" * {self.const()}"] + [f" + {n}" for n in ss])   # call: unfused)
        term = self.pick([f"np.sum(np.tanh({z}) * {self.const()})",
                          f"np.mean(np.maximum({z}, 0.0) + np.log1p(np.exp(-np.abs({z}))) - {self.const()} * {z})",
                          f"np.sum(np.log1p({z} * {z}) + np.sin({z}))",
                          f"np.sum({z} * {z}) * {self.const()}",
                          f"np.sum(np.where({z} > 0.0, {z}, 0.5 * {z}) * {self.const()})"])
        return [f"{r} = {stack}"], [f"{z} = {r} @ {v}{shift}"], term

    def argument_writes(self, has_x, has_a, seq=None) -> list:
        """Lines at the top of f writing into its array arguments, each reading what it overwrites: an element,
        a row or a column of M, elements of a in a loop, an augmented element (README: a function that writes into
        an argument's array leaves the caller's array as one call of it does, under every transform). The rest of
        f reads the new values."""
        c, t = self.pick(["0.5", "-0.7", "1.5"]), self.fresh("t")
        s = "x" if has_x else "M[1, 0]"
        forms = {
            "element": [f"M[0, {self.choose(self.N)}] = M[0, {self.choose(self.N)}] * {c} + {s}"],
            "row": [f"M[1] = np.tanh(M[1]) * {c} + M[0]"],
            "column": [f"M[:, {self.choose(self.N)}] = M[:, 0] * {s} + {c}"],
            "aug": [f"M[1, {self.choose(self.N)}] += {c} * {s}"],
        }
        if has_a:
            forms["loop"] = [f"for {t} in range(1, {self.N}):", f"    a[{t}] = a[{t}] * {c} + np.sin(a[{t} - 1])"]
            forms["mixed"] = [f"a[{self.choose(self.N)}] = {s} * M[0, 0]", f"M[0, 0] = a[0] * {c}"]
        if seq is not None:     # README: `p["W"][0] = v` of a dict argument; an item's array of a tuple/list argument
            item = '"a"' if seq == "dict" else "1"
            j = self.choose(self.N)
            forms["item"] = [f"xa[{item}][{j}] = xa[{item}][{j}] * {c} + M[1, 0]"]
            forms["itemloop"] = [f"for {t} in range(1, {self.N}):",
                                 f"    xa[{item}][{t}] += {c} * np.tanh(xa[{item}][{t} - 1])"]
        lines = forms[self.pick(sorted(forms))]
        if self.coin(3):
            lines = lines + forms[self.pick(sorted(forms))]
        return lines

    def slice_write(self, b, env):
        """Slice writes into a buffer: `buf[1:3] = pair`, `buf[::2] += s`, `buf[j] = row`, `buf[:, i] = pair`, and
        of the buffer into itself: `buf[::-1] = buf` (NumPy reads it whole first), `buf[:, 1:] = buf[:, :1]` (a
        column broadcast along the region's axis)."""
        e_s = self.expr("s", env, 1)
        if env["vars"][b] == "v":
            return self.pick([f"{b}[:2] = {self.pair(env, 1)}", f"{b}[1:] += {e_s}",
                              f"{b}[::2] = {e_s}", f"{b}[::-1] *= np.tanh({e_s})",
                              f"{b}[:] = 0.5 * {self.expr('v', env, 1)}", f"{b}[::-1] = {b}"])
        return self.pick([f"{b}[{self.row(env)}] = {self.expr('v', env, 1)}",
                          f"{b}[:, {self.index(env)}] = {self.pair(env, 1)}",
                          f"{b}[{self.row(env)}, ::2] += {e_s}",
                          f"{b}[:, 1:] -= 0.5 * {e_s}", f"{b}[:, 1:] = {b}[:, :1]"])

    @staticmethod
    def indent(lines):
        return ["    " + l for l in lines]

    def helper(self):
        name = self.fresh("helper")
        kinds = [self.pick(KINDS) for _ in range(1 + self.choose(2))]
        ret = self.pick(KINDS)
        params = [f"p{j}" for j in range(len(kinds))]
        packed = self.pick([None, None, "tuple", "list"]) if self.has("tupleargs") else None
        spec = [(p, k, None, False) for p, k in zip(params, kinds)]
        if self.has("kwcalls") and not packed and self.coin(5):
            # trailing scalar parameters with defaults, and keyword-only ones (bound as Python binds them)
            for j in range(len(spec) - 1, -1, -1):
                if spec[j][1] != "s" or not self.coin(6):
                    break
                spec[j] = (spec[j][0], "s", self.const(), False)
            for _ in range(self.choose(3)):
                q = f"q{len(spec)}"
                spec.append((q, "s", self.const() if self.coin(6) else None, True))
        env = self.env({p: k for p, k, _, _ in spec})
        env["ret"] = ret
        env["helper"] = True
        body = self.block(env, 1 + (self.choose(2) if self.has("loops2") else 0), self.choose(3), top=False)
        if body == ["pass"]:
            body = []
        if packed:
            head = [f"def {name}(pk):", self.pick([f"    {', '.join(params)}, = pk",
                                                   *([f"    {params[0]} = pk[0]"] if len(params) == 1 else []),
                                                   *([f"    {params[0]}, {params[1]} = pk[0], pk[1]"]
                                                     if len(params) == 2 else [])])]
        else:
            head = [f"def {name}({self.signature(spec)}):"]
        body.append(f"return {self.expr(ret, env, 2)}")
        self.helper_src.append("\n".join(head + self.indent(body)))
        self.helpers.append((name, spec, ret, packed))

    def procedure(self):
        """A helper called for its effect (README: calls of your functions as statements): it writes into its
        array argument (a vector or a matrix), perhaps in a loop or after an early bare `return`, and returns
        nothing."""
        name, kind, n = self.fresh("bump"), self.pick(["v", "m"]), self.N
        at = "0, 1" if kind == "m" else "1"
        body = self.pick([
            [f"buf[{at}] = buf[{at}] * 1.1 + 0.1 * np.tanh(s)"],
            [f"for j in range(1, {n}):", f"    buf[{'0, ' if kind == 'm' else ''}j] += 0.1 * np.tanh(s * "
             f"buf[{'0, ' if kind == 'm' else ''}j - 1])"],
            ["if s > 2.0:", "    return", f"buf[{at}] = 0.5 * buf[{at}] + np.sin(s)"],
            [f"buf[{'1' if kind == 'm' else ':2'}] *= np.tanh(s)", "return"]])
        self.helper_src.append("\n".join([f"def {name}(buf, s):"] + self.indent(body)))
        self.procedures.append((name, kind))

    @staticmethod
    def signature(spec):
        """`p0, p1=0.5, *, q2, q3=1.5` from [(name, kind, default or None, keyword-only)]."""
        out, star = [], False
        for p, _, default, kwonly in spec:
            if kwonly and not star:
                out.append("*")
                star = True
            out.append(p if default is None else f"{p}={default}")
        return ", ".join(out)

    def call_args(self, spec, env, d):
        """Arguments for a call of a helper: positional, by keyword (any order), or left to defaults."""
        pos, kws, by_kw = [], [], False
        for p, k, default, kwonly in spec:
            if default is not None and self.has("kwcalls") and self.coin(4):
                by_kw = True                 # rely on the default (later ones go by keyword)
                continue
            if kwonly or by_kw or (self.has("kwcalls") and self.coin(2)):
                by_kw = True
                kws.append(f"{p}={self.expr(k, env, d)}")
            else:
                pos.append(self.expr(k, env, d))
        if len(kws) > 1 and self.coin(4):
            kws = kws[::-1]
        return pos + kws

    def factory(self):
        """A module-level factory returning a closure over its argument, or a bounded recursion."""
        name = self.fresh("make")
        env = self.env({"c": "s", "u": "s"})
        env["nosum"] = True
        body = self.expr("s", env, 2)
        if not _uses(body, "u"):
            body = f"({body}) * u"
        h = ""
        if self.has("factorykw") and self.coin(3):   # README 'Factories': called relying on its default or by keyword
            h = f", h={self.pick(['0.1', '0.5', '-0.3'])}"
            body = f"({body}) * (1.0 + h)"
            self.factory_kw.add(name)
        if self.coin():
            src = [f"def {name}(c):", f"    def g(u{h}):", f"        return {body}", "    return g"]
        else:
            src = [f"def {name}(c):", f"    return lambda u{h}: {body}"]
        self.helper_src.append("\n".join(src))
        return name

    def passes_function(self, arg: str):
        """A module-level integrator taking a function (README: functions passed to your functions), and a call
        of it from `arg` passing a module-level def, a lambda written in the call, or a nested def of f:
        (the call, the nested def's lines to put first in f)."""
        integ = self.fresh("integ")
        self.helper_src.append("\n".join([f"def {integ}(fun, u, k):", "    for i in range(2):",
                                          "        u = u + k * fun(u)", "    return u"]))
        env = self.env({"u": "s"})
        env["nosum"] = True
        fns, self.fns = self.fns, []    # (f's factory-made functions and its n are not the module's: seeds 207, 241)
        body = self.expr("s", env, 1)
        self.fns = fns
        if not _uses(body, "u"):
            body = f"({body}) * u"
        body = f"0.5 * np.tanh({body})"
        form, nested = self.pick(["global", "lambda", "nested", "numpy"]), []
        if form == "global" and (re.search(r"\bfn\d+\b", body) or any(_uses(body, p) for p in F_SCOPE)):
            form = "nested"     # (self.fns reads f's names: rec(u, n), a factory's fn7(u); seeds 922087, 921300, 919733)
        if form == "lambda":
            fun = f"lambda u: {body}"
        elif form == "numpy":
            fun = self.pick(["np.tanh", "np.sin"])
        else:
            fun = self.fresh("rhs")
            (self.helper_src if form == "global" else nested).append(f"def {fun}(u):\n    return {body}")
        return f"{integ}({fun}, {arg}, {self.pick(['0.5', '0.25'])})", nested

    def recursive(self):
        name = self.fresh("rec")
        env = self.env({"u": "s"})
        step = self.expr("s", env, 1)
        src = [f"def {name}(u, depth):",
               "    if depth <= 0:",
               f"        return {self.pick(['u', 'np.tanh(u)'])}",
               f"    return 0.5 * np.sin({name}(u, depth - 1)) + 0.5 * {step}"]
        self.helper_src.append("\n".join(src))
        return name

    def walker(self):
        """A helper that loops over the tuple of (matrix, vector) pairs its caller passes (README: unrolled in
        the function that loops, as in the one differentiated)."""
        name = self.fresh("walk")
        heads = [("for w, v in pairs:", "1"), ("for k, (w, v) in enumerate(pairs):", "(k + 1)")]
        if self.has("argslices"):   # README: over a slice of them by constants, for W, b in params[:-1]
            heads += [(f"for w, v in pairs[{sl}]:", "1") for sl in ("1:", ":-1", "::-1")]
            heads.append(("for k, (w, v) in enumerate(pairs[1:]):", "(k + 1)"))
        head, k = self.pick(heads)
        src = [f"def {name}(pairs, s):", "    t = s", f"    {head}",
               f"        t = 0.5 * t + {k} * 0.1 * np.sum(np.tanh(w @ v + t))", "    return t"]
        self.helper_src.append("\n".join(src))
        return name

    def env(self, vars_):
        return {"vars": dict(vars_), "vec": [n for n, k in vars_.items() if k == "v"], "bufs": [], "loops": [],
                "closures": [], "ints": [], "bools": []}

    def unpack_xa(self) -> str:
        """x and a from the tuple argument xa: unpacked or indexed, through a second name, or after xa (or
        that name) is bound again: as a loop's state or in a branch (README: 'or tuples/lists of them')."""
        st = self.fresh("st")
        form = self.pick(["unpack", "index", "alias", "rebound", "loop", "branch", "loop over", "zip", "comprehension"]
                         + (["slices"] * 3 if self.has("argslices") else []))
        if form == "slices":
            return self.slices_of_xa()
        if form in ("loop over", "zip", "comprehension"):
            return self.iterate_xa(form)
        if form == "unpack":
            return "x, a = xa"
        if form == "index":
            return "x = xa[0]\na = xa[1]"
        if form == "alias":
            return f"{st} = xa\nx, a = {st}"
        if form == "rebound":
            return "xa = (xa[0] * 0.5 + 0.1, np.sin(xa[1]))\nx, a = xa"
        if form == "loop":
            k = self.fresh("k")
            return (f"{st} = xa\nfor {k} in range(n):\n    {st} = ({st}[0] * 0.9 + 0.1 * np.sum({st}[1]), "
                    f"{st}[1] * np.cos({st}[0]))\nx, a = {st}")
        return f"{st} = xa\nif flag:\n    {st} = ({st}[0] - 0.3, {st}[1] * 0.5)\nx, a = {st}"

    def iterate_xa(self, form) -> str:
        """x and a from xa after a loop over it, over enumerate (a constant start) of zip of it and a tuple
        literal with `xa[i - 1]` read, or a comprehension over it (README: 'or tuples/lists of them':
        unrolled, written out as lists)."""
        acc, v, c, i = self.fresh("acc"), self.fresh("v"), self.fresh("c"), self.fresh("i")
        if form == "comprehension":
            return f"x, a = xa[0] + 0.1 * sum(np.sum({v} ** 2) for {v} in xa), xa[1]"
        if form == "loop over":
            loop = f"for {v} in xa:\n    {acc} = {acc} + 0.1 * np.sum({v})"
        else:
            loop = (f"for {i}, ({v}, {c}) in enumerate(zip(xa, (0.5, 1.5)), 1):\n"
                    f"    {acc} = {acc} + {c} * np.sum({v}) + 0.1 * np.sum(xa[{i} - 1])")
        return f"{acc} = 0.0\n{loop}\nx, a = xa[0] + 0.1 * {acc}, xa[1]"

    def slices_of_xa(self) -> str:
        """x and a from xa after reading slices of it by constants (README: loops over them, zip of two, a
        comprehension, also bound to a name first, `hidden = params[1:]`, then looped over or indexed)."""
        acc, v, u, rest, i = self.fresh("acc"), self.fresh("v"), self.fresh("u"), self.fresh("rest"), self.fresh("i")
        part = self.pick(["xa[1:]", "xa[:-1]", "xa[::-1]", "xa[-1:]", "xa[:1]", "xa[0:2]"])
        form = self.pick(["loop", "zip", "comprehension", "name", "name"])
        pre = ""
        if form == "name":
            pre, part = f"{rest} = {part}\n", rest
            form = self.pick(["loop", "index", "range"])
        if form == "loop":
            body = f"for {v} in {part}:\n    {acc} = {acc} + 0.1 * np.sum(np.sin({v}))"
        elif form == "index":
            body = f"{acc} = {acc} + 0.2 * np.sum({part}[0]) - 0.1 * np.sum({part}[-1])"
        elif form == "range":
            body = f"for {i} in range(len({part})):\n    {acc} = {acc} + ({i} + 0.5) * np.sum({part}[{i}])"
        elif form == "zip":
            body = f"for {u}, {v} in zip(xa[:-1], xa[1:]):\n    {acc} = {acc} + 0.1 * np.sum({u} * {v})"
        else:
            body = f"{acc} = {acc} + 0.1 * sum(np.sum({v} ** 2) for {v} in {part})"
        return f"{acc} = 0.0\n{pre}{body}\nx, a = xa[0] + 0.1 * {acc}, xa[1]"

    def unpack_dict(self) -> str:
        """x and a from the dict argument xa = {"x": x, "a": a} (feature 'dictargs'; README: 'and dicts of them
        keyed by strings'): read in one of dict_reads' forms, from a copy of xa (dict_copy), at keys held in names
        (dict_key_names), with its items summed (dict_values_sum); each drawn after the forms before it, so that a
        program of dictargs keeps its reads when a later draw is added."""
        text = self.dict_reads()
        name = "xa"
        if self.coin(4):
            text, name = self.dict_copy(text)
        if self.coin(3):
            text = self.dict_key_names(text, name)
        if self.coin(4):
            text += "\n" + self.dict_values_sum(name)
        return text

    def dict_copy(self, text):
        """`text` reading a copy of xa (README: 'copies dict(params) or params.copy() or {**params} or dict(params,
        W=W2) or copy.copy(params) or copy.deepcopy(params)', 'dicts of their own'), whose items are written (also in
        a loop or under a branch) or added where it is made, a deep copy's arrays also in place; xa itself read after
        that (its item as it was: a copy's write is the copy's)."""
        q, k, v, i = self.fresh("q"), self.fresh("k"), self.fresh("v"), self.fresh("i")
        make = self.pick(["dict(xa)", "{**xa}", "xa.copy()", '{**xa, "x": 0.5 * xa["x"] + 0.1}',
                          'dict(xa, a=np.sin(xa["a"]))', f"{{{k}: 0.9 * {v} for {k}, {v} in xa.items()}}",
                          "copy.copy(xa)", "copy.deepcopy(xa)"])
        write = self.pick(["item", "loop", "branch", "new", "none"])
        lines = [f"{q} = {make}"]
        if make == "copy.deepcopy(xa)":     # its arrays its own: written in place, xa's read after
            lines.append(f'{q}["a"][0] = 0.5 * {q}["a"][0]\n{q}["a"] -= 0.1 * {q}["x"]')
        if write == "item":
            lines.append(f'{q}["a"] = 0.5 * {q}["a"] + 0.1')
        elif write == "loop":
            lines.append(f'for {i} in range(n):\n    {q}["a"] = 0.9 * {q}["a"] + 0.05 * {q}["x"]')
        elif write == "branch":
            lines.append(f'if flag:\n    {q}["x"] = {q}["x"] * 0.5')
        elif write == "new":
            lines.append(f'{q}["c"] = np.tanh({q}["x"]) * 0.5')
        text = "\n".join(lines + [re.sub(r"\bxa\b", q, text)])
        if write != "none" or make == "copy.deepcopy(xa)":
            text += '\nx = x + 0.1 * np.sum(xa["a"])'
        return text, q

    def dict_key_names(self, text, name):
        """`text` reading the dict at a key held in a name bound to a string (`k = "x"`), or with a loop (or a
        comprehension) over a name bound to a tuple of keys added (README: 'at a key held in a name bound once to
        a string or in a loop over a tuple of keys')."""
        kx, keys, k, acc = self.fresh("kx"), self.fresh("keys"), self.fresh("k"), self.fresh("acc")
        form = self.pick(["name", "loop", "comprehension"])
        if form == "name":
            new = re.sub(r'\["x"\]', f"[{kx}]", text.replace('.get("x")', f".get({kx})"))
            if new != text:
                return f'{kx} = "x"\n{new}'
        if form == "comprehension":
            return f'{text}\n{keys} = ("a", "x")\nx = x + 0.1 * sum(np.sum({name}[{k}] ** 2) for {k} in {keys})'
        return (f'{text}\n{keys} = ("x", "a")\n{acc} = 0.0\nfor {k} in {keys}:\n'
                f'    {acc} = {acc} + 0.1 * np.sum(np.sin({name}[{k}]))\nx = x + {acc}')

    def dict_values_sum(self, name):
        """An L2 penalty over the dict's items (README: 'its items summed, sum(params.values()), also in
        comprehensions over params.values()')."""
        v = self.fresh("v")
        return "x = x + 0.1 * " + self.pick([f"np.sum(sum({name}.values()))",
                                              f"sum(np.sum({v} ** 2) for {v} in {name}.values())",
                                              f"np.sum([np.sum({v} ** 2) for {v} in {name}.values()])"])

    def dict_reads(self) -> str:
        """x and a from the dict argument xa: read at its keys (also by .get, with a default for a key it lacks, and
        under a test of `in`), through a second name, after a loop over .items() (its key tested), .values(), its
        keys or a tuple of them, a comprehension over .items(), or passed whole to a helper that reads it by key or
        loops over its items."""
        acc, k, v, st = self.fresh("acc"), self.fresh("k"), self.fresh("v"), self.fresh("st")
        form = self.pick(["index", "get", "in", "alias", "items", "values", "keys", "comprehension", "helper"])
        if form == "index":
            return 'x = xa["x"]\na = xa["a"]'
        if form == "get":
            return (f'x = xa.get("x") * xa.get("{self.pick(["scale", "w"])}", {self.const()})\n'
                    f'a = xa.get("a", np.zeros({self.N}))')
        if form == "in":
            test = self.pick(['"x" in xa', '"b" not in xa', '"a" in xa.keys()'])
            return f'x = xa["x"] if {test} else 0.5\na = xa["a"]'
        if form == "alias":
            return f'{st} = xa\nx, a = {st}["x"] * 0.5 + 0.1, np.sin({st}["a"])'
        if form == "helper":
            return f'x, a = xa["x"] + 0.1 * {self.dict_helper()}(xa, {self.const()}), xa["a"]'
        if form == "comprehension":
            test = self.pick([f'{k} != "x"', f'{k}.startswith("a")', f'{k} in ("a", "b")'])
            return f'x, a = xa["x"] + 0.1 * sum(np.sum({v} ** 2) for {k}, {v} in xa.items() if {test}), xa["a"]'
        if form == "items":
            test = self.pick([f'{k}.startswith("x")', f'{k}.startswith("a")', f'{k} == "a"', f'{k} in ("x", "y")'])
            loop = (f"for {k}, {v} in xa.items():\n    if {test}:\n        {acc} = {acc} + 0.5 * np.sum({v})\n"
                    f"    else:\n        {acc} = {acc} + 0.1 * np.sum(np.sin({v}))")
        elif form == "values":
            loop = f"for {v} in xa.values():\n    {acc} = {acc} + 0.1 * np.sum({v} ** 2)"
        else:
            keys = self.pick(["xa", "xa.keys()", '("a", "x")'])
            scale = f'(0.2 if {k}.startswith("a") else 0.1)' if keys != '("a", "x")' else "0.1"   # README's test
            loop = f"for {k} in {keys}:\n    {acc} = {acc} + {scale} * np.sum(xa[{k}])"
        return f'{acc} = 0.0\n{loop}\nx, a = xa["x"] + 0.1 * {acc}, xa["a"]'

    def dict_helper(self) -> str:
        """A helper taking the dict argument whole (README: 'passed whole to your functions'): it reads it at its
        keys, or loops over its items with the keys tested."""
        name = self.fresh("dict")
        if self.coin(4):
            body = ['    return s * p["x"] + 0.1 * np.sum(np.tanh(p.get("a")))']
        else:
            body = ["    t = s", "    for k, v in p.items():",
                    '        if k == "x":', "            t = t + 0.5 * np.sin(v)",
                    "        else:", "            t = t + 0.1 * np.sum(np.tanh(v))", "    return t"]
        self.helper_src.append("\n".join([f"def {name}(p, s):"] + body))
        return name

    def program(self) -> Program:
        self.N = 2 + self.choose(3)
        modern = self.has("intbool") or self.has("tupleargs")
        if modern:
            n = 1 + self.choose(self.N)
            params = ("xa", "M", "n", "flag") if self.has("tupleargs") and self.coin(2) else ("x", "a", "M", "n", "flag")
        else:
            n, params = self.N, ("x", "a", "M")
        seq = self.pick(["tuple", "list"])
        entry_kw = []              # the entry's keyword-only parameters: (name, kind, default)
        if self.has("kwentry") and self.coin(3):
            entry_kw = [("scale", "s", self.pick(["1.0", "0.5", "-0.7"]))]
            if modern and self.coin(3):
                entry_kw.append(("neg", "b", "False"))
        if self.has("helpers"):
            for _ in range(self.choose(3)):
                self.helper()
            if self.has("inplace") and self.coin(3):
                self.procedure()
        fns = []
        if self.has("factories") and self.coin(3):
            for _ in range(1 + self.choose(2)):
                fns.append((f"{self.factory()}(FACTOR)(ARG)", "s"))
        if self.has("recursive") and self.coin(3):
            depth = self.pick(["2", "1", "n" if modern else "2"])
            fns.append((f"{self.recursive()}(ARG, {depth})", "s"))
        if self.has("helpers") and self.has("for") and self.coin(3):
            fns.append((f"{self.walker()}(((M, a), (M * ARG, np.tanh(a))), ARG)", "s"))
        env = self.env({"x": "s", "a": "v", "M": "m"})
        consts = []                # module-level constants read as conditions (README 'Captured values')
        if self.has("globals") and self.coin(3):
            consts = [f"DEBUG = {self.pick(['False', 'True'])}", f"LIMIT = {self.choose(self.N + 1)}"]
            env["bools"].append("DEBUG")
            env["ints"].append("LIMIT")
        lines = []
        if "xa" in params:
            lines.append(self.unpack_xa())
        xa_lines = lines[0].split("\n") if lines else []
        if modern:
            env["ints"].append("n")
            env["bools"].append("flag")
        for name, kind, _ in entry_kw:
            if kind == "b":
                env["bools"].append(name)
            else:
                env["vars"][name] = kind
        # a factory's closure is made once per program, from the inputs
        for call, ret in list(fns):
            fns.remove((call, ret))
            if "FACTOR" in call:
                fn = self.fresh("fn")
                lines.append(f"{fn} = {call.split('(FACTOR)')[0]}({self.expr('s', env, 1)})")
                fns.append((f"{fn}(ARG)", ret))
                if call.split("(FACTOR)")[0] in self.factory_kw:    # by keyword, or by position
                    fns += [(f"{fn}(ARG, h={self.const()})", ret), (f"{fn}(ARG, {self.const()})", ret)]
            else:
                fns.append((call, ret))
        self.fns = fns
        if self.has("inplace") and self.coin(5):      # arrays written in place (often inside loops)
            lines += self.buffer(env)
        body = self.block(env, 2, 1 + self.choose(self.max_stmts), top=True)
        locals_ = [v for v, k in env["vars"].items() if v not in ("x", "a", "M") and k in ("s", "v", "m", "p")]
        terms = [self.expr("s", env, 2)] + [f"np.sum({v})" if env["vars"][v] != "s" else v for v in locals_]
        body = [l2 for l in lines for l2 in l.split("\n")] + body
        body.append("return " + " + ".join(terms))
        sig = list(params)
        if entry_kw and modern and self.coin(3):
            sig[-1] = "flag=False"                 # a positional parameter with a default
        if entry_kw:
            sig += ["*"] + [f"{nm}={default}" for nm, _, default in entry_kw]

        def source():
            text = "\n".join(self.helper_src + body)
            header = "\n".join(["import math", *fuzz_rules.imports(text), "", "import numpy as np",
                                 "from scipy.special import logsumexp", "", "", ""])
            acts = ['ACTS = {"sin": np.sin, "tanh": np.tanh, "cos": np.cos, "arctan": np.arctan}'] if self.acts else []
            if consts or acts:
                header += "\n".join(consts + acts) + "\n\n\n"
            return header + "\n\n\n".join(self.helper_src + ["\n".join(
                [f"def f({', '.join(sig)}):"] + self.indent(body))]) + "\n"
        src = source()
        # the gradient under test checkpoints its loops (drawn last: the program's other choices stay
        # what they were without the feature)
        checkpoints = None
        if self.has("checkpoints") and re.search(r"^\s*(for|while)\b", src, re.M) and self.coin(3):
            checkpoints = self.pick([2, 1, 3])
        # a function passed to a helper of the program's, added to the result (drawn after everything else
        # too: a feature added later leaves the programs the others make as they were)
        if self.has("funcargs") and self.coin(3):
            call, nested = self.passes_function(self.expr("s", env, 1))
            body = [l2 for l in nested for l2 in l.split("\n")] + body[:-1] + [f"{body[-1]} + {call}"]
            src = source()
        # xa a dict of the same values instead, read by key (drawn last too)
        if xa_lines and self.has("dictargs") and self.coin(3):
            seq, at = "dict", next(i for i in range(len(body)) if body[i:i + len(xa_lines)] == xa_lines)
            body[at:at + len(xa_lines)] = self.unpack_dict().split("\n")
            src = source()
        # a recurrence whose index wraps below row 0 at the loop's start (drawn last too)
        if self.has("wrapidx") and self.coin(3):
            block, term = self.wrapping_loop(env, modern)
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # writes into the caller's arrays a and M, which the rest of f reads (drawn last too)
        if self.has("argwrites") and self.coin(3):
            # (the tuple argument's items written only where f does not bind xa again: `xa[1][j] = v` then
            # `xa = (..., np.sin(xa[1]))` is declined, 'the write xa[1][j] = ... into an item of the tuple argument
            # `xa`, which the function binds again', which says to bind the item to a name first: h21a's seeds
            # 451, 546 of this draw)
            rebound = re.search(r"^\s*xa = ", "\n".join(body), re.M)
            body = self.argument_writes("x" in params, "a" in params,
                                        seq if "xa" in params and not rebound else None) + body
            src = source()
        # a (2, N) array written out in rows of numbers f computes (drawn last too)
        if self.has("rows2d") and self.coin(3):
            block, term = self.number_rows(env)
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # a loss over the rows of a matrix-vector product (--parallel mode only; drawn last too)
        if self.has("rowloss"):
            head, block, term = self.row_loss(env)
            if block:
                body = head + body[:-1] + block + [f"{body[-1]} + {term}"]
                src = source()
        # xa a namedtuple of the same values, read by field (drawn last too)
        if xa_lines and seq == "tuple" and self.has("namedtupleargs") and self.coin(3):
            at = next((i for i in range(len(body)) if body[i:i + len(xa_lines)] == xa_lines), None)
            if at is not None:
                seq = "namedtuple"
                body[at:at + len(xa_lines)] = self.pick(['x = xa.x\na = xa.a', 'x, a = xa.x, xa[1]',
                                                         'x = xa.x + 0.1 * np.sum(xa.a)\na = np.sin(xa.a)',
                                                         'x = xa.x + 0.1 * xa.norm2()\na = xa.a']).split("\n")
                # and, in three of four such programs (decided off the source, drawing nothing: the seeds keep their
                # other draws), xa bound again by `_replace` under its own name before it is read: in f, in a loop of
                # f, or in a function of the program's taking xa (README: namedtuples '... an argument too, under its
                # own name'; each was declined as "attribute .x of a local value", h25c). Not where f writes into
                # xa's items or binds xa otherwise.
                form = sum(map(ord, source())) % 4
                if form and not any(re.match(r"\s*xa\s*(\[.*\])?\s*[-+*/]?=[^=]", line) for line in body):
                    step = "xa = xa._replace(x=xa.x * 0.8 + 0.1 * np.sum(np.tanh(xa.a)), a=np.sin(xa.a) * xa.x)"
                    if (sum(map(ord, source())) // 4) % 3 == 1:     # (the same step by a method of XA, h27c)
                        step = "xa = xa.damped()"
                    if form in (1, 2) and (sum(map(ord, source())) // 36) % 2:
                        # (the step bound to a new name, then stepped by XA's method, `st = xa.damped()` (or
                        # `xa._replace(...)`), `st = st.damped()` (in a loop too): record_methods_named follows the
                        # class through the first binding; was declined as "the namedtuple your function XA_damped
                        # returns, used here other than bound to a name" or "a namedtuple's `._replace(...)` used other
                        # than bound to a name", h29d)
                        st = self.fresh("st")
                        again = [f"{st} = {st}.damped()"] if form == 1 else [
                            f"for {self.fresh('r')} in range(2):", f"    {st} = {st}.damped()"]
                        body[at:at] = [step.replace("xa = xa", f"{st} = xa", 1)] + again
                        body = body[:-1] + [f"{body[-1]} + 0.1 * {st}.x + 0.1 * np.sum({st}.a)"]
                    elif form == 1:
                        body[at:at] = [step]
                    elif form == 2:
                        body[at:at] = [f"for {self.fresh('r')} in range(2):", "    " + step]
                    else:
                        helper = self.fresh("xa_step")
                        self.helper_src.append("\n".join([f"def {helper}(xa):", "    " + step,
                                                          "    return xa.x + 0.1 * np.sum(xa.a ** 2)"]))
                        body = body[:-1] + [f"{body[-1]} + 0.3 * {helper}(xa)"]
                src = source()
        # a local spelled as the variable srcdiff gives an item of xa (xa_1 beside the tuple xa, whose item xa[1] becomes
        # the parameter xa_1; xa_a beside the dict or namedtuple xa, whose item xa["a"] or xa.a becomes xa_a: the two
        # were one variable, a wrong gradient; flatten renames the local now); or xa_1 beside a dict or namedtuple,
        # its item's variable when items were named by position, a local of its own now
        if xa_lines and self.has("itemspelled") and self.coin(3):
            item = 'xa["a"]' if seq == "dict" else "xa[1]"
            local = self.pick(["xa_a", "xa_1"]) if seq in ("dict", "namedtuple") else "xa_1"
            body = [f"{local} = np.tanh({item}) * {self.const()}"] + body[:-1] + \
                [f"{body[-1]} + 0.3 * np.sum({local})"]
            # and, in every other such program (decided off the source, drawing nothing: the seeds keep their
            # programs' other draws), a lambda whose own parameter is named xa, reading its own argument's items
            # (flatten read the outer xa's instead: tests/test_item_name_collisions.py)
            if sum(map(ord, source())) % 2 == 0:
                body = [f"{local} = np.tanh({item}) * 0.7", "shadows = lambda xa: np.sum(np.tanh(xa[0]) * xa[1])",
                        f"shadowed = shadows((np.sin({item}), {local} * 0.5))"] + body[1:-1] + \
                    [f"{body[-1]} + 0.2 * shadowed"]
            src = source()
        # and, in one of three programs with 'itemspelled' (decided off the source, drawing nothing), a def nested in
        # f whose defaults read xa, whole and an item (README: nested defs' 'defaults reading a structured argument
        # too'; declined before h25c), where f binds xa nowhere
        if (xa_lines and self.has("itemspelled") and sum(map(ord, source())) % 3 == 1
                and not re.search(r"^\s*xa\s*(\[.*\])?\s*[-+*/]?=[^=]", "\n".join(body), re.M)):
            first, second = {"dict": ('["x"]', '["a"]'), "namedtuple": (".x", ".a")}.get(seq, ("[0]", "[1]"))
            h = self.fresh("reads_xa")
            body = [f"def {h}(z, xa=xa, *, w=xa{second}):", f"    return z * xa{first} + 0.1 * np.sum(w * xa{second})"] \
                + body[:-1] + [f"{body[-1]} + 0.2 * {h}(0.5)"]
            src = source()
        # a dict f makes of its own values, or one a helper returns (drawn last too)
        if self.has("dictmade") and self.coin(3):
            block, term = self.made_dict(env)
            # and, in one of three such programs (decided off the source, drawing nothing: the seeds keep their other
            # draws), a dict holding a dict of its own, written at an item and read (README: 'also holding dicts of
            # their own, `d["a"]["b"]`, written too'; declined before h25c)
            if sum(map(ord, "\n".join(block) + term)) % 3 == 0:
                d = self.fresh("nest")
                block = block + [f'{d} = {{"a": {{"b": np.tanh({term}), "c": 0.5}}, "e": 1.5}}',
                                 f'{d}["a"]["c"] = {d}["a"]["c"] * {d}["a"]["b"] + {d}["e"]']
                term = f'{d}["a"]["c"] * {d}["e"]'
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # a namedtuple f makes of its own values, changed by _replace, also in a loop or a branch (drawn last too)
        if self.has("namedtuplemade") and self.coin(3):
            block, term = self.made_namedtuple(env, "n" if "n" in params else "2", "flag" in params)
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # a name bound to dicts of the same keys in both branches or a loop; .get with a dict default (drawn last too)
        if self.has("dictbound") and self.coin(3):
            rebound = re.search(r"^\s*xa = ", "\n".join(body), re.M)
            block, term = self.dict_bound_again(env, "n" if "n" in params else "2", "flag" in params,
                                                seq == "dict" and "xa" in params and not rebound)
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # a 0-d array f makes, used as a number: written whole, read, bound again by a loop (in one of three programs,
        # decided off the source, drawing nothing: the seeds keep their other draws, 'reservednames' below too)
        if self.has("zerod") and sum(map(ord, source())) % 3 == 1:
            block, term = self.zero_d_array(env, "n" if "n" in params else "2", sum(map(ord, source())))
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # a local of f named rt, as srcdiff's runtime module is in the generated code, or len or max, which
        # it calls (reserved_names.py renames them;
        # drawn last: the blocks above name f's locals as env knows them)
        renamed = None
        if self.has("reservednames") and self.coin(2):
            bound = [m.group(1) for line in body for m in [re.match(r"\s*(t\d+) = ", line)] if m]
            name = self.pick(["rt", "len", "max"])     # (a builtin only where f calls none)
            if bound and not any(re.search(rf"\b{name}\b", line) for line in body):
                body = [re.sub(rf"\b{bound[0]}\b", name, line) for line in body]
                renamed = (bound[0], name)
                src = source()

        def added(block, term):
            """f's body with `block` before its return line and `term` added to what it returns (a local the step above
            renamed, renamed in them too)."""
            if renamed:
                block, term = [re.sub(rf"\b{renamed[0]}\b", renamed[1], t) for t in block], \
                    re.sub(rf"\b{renamed[0]}\b", renamed[1], term)
            return body[:-1] + block + [f"{body[-1]} + {term}"]
        def draw_last(table):
            """Each feature of `table` drawn in turn, one in three programs, its block added before f's return line
            (drawn after everything else: the programs the features before it make stay as they were). A row is
            (feature, make: () -> (lines, term), clash): with a local 'reservednames' renamed, a block that reads
            the new name followed by `clash` (a call of max or len, or the name itself) is left out."""
            nonlocal body, src
            for feature, make, clash in table:
                if self.has(feature) and self.coin(3):
                    block, term = make()
                    if clash and renamed and any(re.search(rf"\b{renamed[1]}{clash}", t) for t in block + [term]):
                        continue
                    if renamed and renamed[1] in BUILTINS_CALLED and any(     # any block may call max(...) (self.expr's
                            re.search(rf"(?<![\w.]){renamed[1]}\s*\(", t) for t in block + [term]):   # 'extreme')
                        continue
                    body = added(block, term)
                    src = source()

        # a local array written through an Ellipsis index, all of it, a column or a row; a helper writing into its
        # parameter, then binding it again in a loop or branch, f reading its array after the call; copy.copy /
        # copy.deepcopy of a vector and of a number f computes, the copy written; a namedtuple a function of the
        # program's returns, passed straight to another call, `use(ststep(st))` (seed 1220015's `ST44(t33, ...)`
        # read a name 'reservednames' bound no more: renamed in the block too)
        draw_last((("ellipsis", lambda: self.ellipsis_writes(env), None),
                   ("argrebound", lambda: self.rebound_after_write(env), None),
                   ("copies", lambda: self.copied_values(env, sum(map(ord, source()))), None),
                   ("recordpassed", lambda: self.passed_record(env, sum(map(ord, source()))), None)))
        # a copy of the tuple argument, tuple(xa) or list(xa) (of a constant slice too), read as its items (drawn last
        # too; where f binds xa to nothing else: a copy of a tuple made in the function is declined)
        if (self.has("tuplecopy") and "xa" in params and seq != "dict"
                and not re.search(r"^\s*xa\b[^=]*=[^=]", "\n".join(body), re.M) and self.coin(2)):
            block, term = self.tuple_copy()
            body = body[:-1] + block + [f"{body[-1]} + {term}"]
            src = source()
        # float() of a bool (a comparison's, flag's, np.all's); a 0-d array f makes passed to a helper that writes
        # into it in place (z[()] += v, z[...] = ...), read by f after the call (left out where a local
        # 'reservednames' named max or len, which the block calls); eigh's eigenvectors, the thin SVD's U and Vh, or
        # pinv of a matrix f computes (h30e); NumPy's views of real arrays, np.rot90, np.split, x.mT, x.real, ...
        # (h30b); README 'Factories': a factory's function called at once, bound in both branches or in a loop,
        # called in a lambda, factories nested in f, keyword-only parameters, calls by keyword and relying on a
        # default, a factory returning another's function (h30d); helpers calling helpers whose parameters and locals
        # are named as f's locals and as each other's (`y = mid(e)` of `k1 = sq(y1); return sq(y1 + k1)` with sq's
        # parameter y; `y1 = dbl(e)` of dbl's parameter y1: the inliner's renaming read the call's argument, h30d)
        draw_last((("floatbool", lambda: self.float_of_bools(env, "flag" in params), r"\("),
                   ("zerodargs", lambda: self.zero_d_arguments_written(env, "flag" in params), r"\("),
                   ("spectral", lambda: self.spectral_vectors(env), None),
                   ("realviews", lambda: self.real_views(env), r"\b"),
                   ("factoryforms", lambda: self.factory_forms(env, "n" if "n" in params else "2", "flag" in params),
                    None),
                   ("helpernames", lambda: self.helpers_named_alike(env), None),
                   ("splitparts", lambda: self.split_parts(env), None)))
        draw_last((("keptforms", lambda: self.kept_forms(env), r"\b"),))
        prog = Program(src, self.N, params, n, seq, checkpoints)
        prog.python_only = self.python_only and bool(fuzz_rules.PYTHON_ONLY_TEXT.search(src))
        return prog

    def spectral_vectors(self, env):
        """'spectral' (README Transforms: a gradient-norm penalty through the gradients of eigh, svd and pinv; drawn
        last): eigh's eigenvectors of a symmetric 2 x 2 matrix, U and Vh of a thin SVD of a (2, N) one, or its pinv,
        the matrix built of f's values, read in sign-invariant terms (V ** 2, V diag(.) V.T, u v^T, U diag(.) Vh).
        Nested mode's penalty differentiates their adjoint helpers (rt.eigh_vectors_grad, rt.svd_u_grad,
        rt.svd_vh_grad, rt.pinv_grad) in reverse mode: their reverse rules (h30e). Their derivatives need distinct
        eigenvalues / singular values, kept apart by construction: diag(1, 4) plus a symmetric perturbation whose
        entries are at most 0.3 (eigenvalues at least 1.8 apart), and fuzz_rules' W (singular values about 3 and 1).
        Returns the lines and a scalar term."""
        m, m2 = self.expr("m", env, 1), self.expr("m", env, 1)
        W = f"np.eye(2, {self.N}) * np.array([[3.0], [1.0]]) + 0.3 * np.tanh({m})"
        form = self.choose(3)
        if form == 0:
            t, w, V = self.fresh("sp"), self.fresh("w"), self.fresh("V")
            lines = [f"{t} = 0.15 * np.tanh(({m})[:, :2])",
                     f"{w}, {V} = np.linalg.eigh(np.eye(2) * np.array([1.0, 4.0]) + {t} + {t}.T)"]
            return lines, self.pick([f"np.sum(({V} ** 2) @ ({m2}))", f"np.sum({V}[:, 0] ** 2 * np.tanh({w}))",
                                     f"np.sum((({V} * np.sin({w})) @ {V}.T) * ({m2})[:, :2])"])
        if form == 1:
            U, sv, Vh = self.fresh("U"), self.fresh("sv"), self.fresh("Vh")
            lines = [f"{U}, {sv}, {Vh} = np.linalg.svd({W}, full_matrices=False)"]
            return lines, self.pick([f"np.sum(np.outer({U}[:, 0], {Vh}[0]) * ({m2}))",
                                     f"np.sum(({U} * np.sqrt({sv})) @ ({Vh} * ({m2})[0]))",
                                     f"np.sum({U} ** 2 * ({m2})[:, :2]) + np.sum({Vh} ** 2 * ({m2}))"])
        p = self.fresh("pi")
        return [f"{p} = np.linalg.pinv({W})"], self.pick([f"np.sum({p} * ({m2}).T)",
                                                           f"np.sum(np.tanh({p} @ ({m2})[:, 0]))"])
    def real_views(self, env):
        """'realviews' (README Rules: `rot90 split array_split real imag atleast_3d ascontiguousarray asfortranarray`,
        `x.mT`, `x.real`, `x.imag`, `x.view()`; drawn last, h30b): NumPy's views of a (2, N) matrix `b` and a vector
        `u` f computes, `b` written at an element first half the time (a view taken after a write sees it); the view
        written through itself half the time and then read (neither its base nor the other parts of a split are read
        after that write: reverse mode declines such a read, tests/test_view_functions.py checks both ways). Returns
        the lines and a scalar term."""
        b, u, r, c = self.fresh("vb"), self.fresh("vu"), self.fresh("vr"), self.fresh("vc")
        s = self.expr("s", env, 1)
        lines = [f"{b} = np.tanh({self.expr('m', env, 1)}) * 1.0", f"{u} = np.sin({self.expr('v', env, 1)}) + 0.5"]
        if self.coin(4):
            lines.append(f"{b}[{self.choose(2)}, {self.choose(2)}] = {s} * {self.const()}")
        form, summed = self.choose(7), ""
        if form == 0:
            k = self.pick(["", ", 2", ", -1", ", k=3", ", 1, axes=(1, 0)", ", 4"])
            lines.append(f"{r} = np.rot90({b}{k})")
            at = "[0, 0]"
        elif form == 1:
            split = self.pick([f"np.split({b}, 2)", f"np.array_split({b}, 2)", f"np.split({b}, [1], axis=0)",
                               f"np.array_split({b}.T, 2, axis=1)"])
            lines += [f"{c}, {r} = {split}", f"{c} = np.sum({c} * {c})"]
            at, summed = "[0, -1]", c
        elif form == 2:
            q = self.fresh("vq")
            split = self.pick([f"np.array_split({u}, 3)", f"np.split({u}, [1, -1])", f"np.array_split({u}, [1, 2])"])
            lines += [f"{r}, {c}, {q} = {split}", f"{c} = np.sum({c}) * np.sum({q} * {q})"]   # (r: never empty)
            at, summed = "[-1]", c
        elif form == 3:
            lines.append(f"{r} = " + self.pick([f"{b}.mT", f"np.ascontiguousarray({b}.T)", f"np.asfortranarray({b})",
                                                f"np.ascontiguousarray({b})"]))
            at = "[0, 1]"
        elif form == 4:
            lines.append(f"{r} = " + self.pick([f"{u}.real", f"np.real({u})", f"{u}.view()", f"np.asfortranarray({u})"]))
            at = "[0]"
        elif form == 5:
            lines.append(f"{r} = np.atleast_3d({self.pick([b, u])})")
            at = "[0, 0, 0]"
        else:
            lines.append(f"{r} = " + self.pick([f"np.imag({b})", f"{b}.imag", f"np.real({b}) + np.imag({u})"]) + f" + {b}")
            at = "[1, 0]"
        if self.coin(4):
            lines.append(f"{r}{at} = {self.expr('s', env, 1)} * {self.const()}")
        extra = self.pick(["", f" + np.real({s}) * 0.5", f" + np.sum(np.atleast_3d({s}))", f" + {s}.real * {s}.imag"])
        return lines, f"np.sum(np.sin({r}) * {r}) * 0.1" + (f" + {summed} * 0.1" if summed else "") + extra

    def split_parts(self, env):
        """'splitparts' (README Rules: np.split's parts, views of x that share no memory with each other, unpacked into
        names, written and looped over; README Python: an array unpacked into its rows, `sp, sq = np.tanh(M)`; drawn
        last, h31): a vector `u` f computes split into two or three parts, one
        part written and another read after the write (reverse mode declined it: the parts were taken for views of
        each other), or a loop over the parts, of the call or of a name bound to it, writing into each part half the
        time (reverse mode declined the loop: a tuple indexed by its counter). u itself is not read after a write
        into a part (reverse mode declines that read, as it declines any view's). Returns the lines and a scalar
        term."""
        u, p, q, acc, w = self.fresh("su"), self.fresh("sp"), self.fresh("sq"), self.fresh("sacc"), self.fresh("sw")
        if self.choose(3) == 0:     # README Python: unpacking an array into its rows (Python's count check)
            return [f"{p}, {q} = np.tanh({self.expr('m', env, 1)})"], f"np.sum({p} * np.sin({q}))"
        lines = [f"{u} = np.sin({self.expr('v', env, 1)}) + 0.5"]
        s = self.expr("s", env, 1)
        if self.coin(2):    # (every part has an element: N >= 2)
            split = self.pick([f"np.split({u}, [1])", f"np.array_split({u}, 2)", f"np.split({u}, [-1])"])
            lines += [f"{p}, {q} = {split}", f"{p}[0] = {q}[-1] * {self.const()} + {s}"]
            return lines, f"np.sum({q} * {q}) * 0.5 + np.sum(np.sin({p}) * {p})"
        split = self.pick([f"np.array_split({u}, 2)", f"np.split({u}, [1])", f"np.array_split({u}, [1, 1])"])
        empty = "[1, 1]" in split
        if self.coin(2):
            lines.append(f"{p} = {split}")
            split = p
        lines += [f"{acc} = 0.0", f"for {w} in {split}:"]
        # (an empty part has no element to write: the test read the name the split was bound to, and `sw[0] =
        # sw[-1]` of np.array_split(su, [1, 1])'s empty part raised IndexError, fuzz --parallel 1502006, badprog;
        # the coin is drawn as it was, the other programs stay)
        if "[1, 1]" not in split and self.coin(2) and not empty:
            lines.append(f"    {w}[0] = {w}[-1] * {self.const()}")
        lines.append(f"    {acc} = {acc} * 0.5 + np.sum(np.sin({w}) * {w}) + {s}")
        return lines, f"{acc} * 0.3"

    def kept_forms(self, env):
        """'keptforms' (README Rules: `np.array_split` of a name bound to a list, the array NumPy makes of it; README
        Python: a function chosen by a conditional expression one of whose branches is the name itself, `act = np.sin
        if s > c else act`; drawn last, h32): a list of numbers f computes bound to a name, split into two parts or at
        a literal index; or a NumPy function bound to a name, then bound again (or kept) by a conditional expression,
        then called. Returns the lines and a scalar term."""
        s, t = self.expr("s", env, 1), self.expr("s", env, 1)
        if self.coin(4):
            lst, a, b = self.fresh("kl"), self.fresh("ka"), self.fresh("kb")
            split = self.pick([f"np.array_split({lst}, 2)", f"np.split({lst}, [1])", f"np.array_split({lst}, [2])"])
            return [f"{lst} = [{s}, {t} * {self.const()}, np.sin({s}), {self.const()}]", f"{a}, {b} = {split}"], \
                f"np.sum({a} * {self.const()}) * np.sum(np.cos({b}))"
        act = self.fresh("kact")
        first, other = self.pick([("np.tanh", "np.sin"), ("np.sin", "np.cos"), ("np.cos", "np.tanh")])
        kept = self.pick([f"{other} if {s} > {self.thresh()} else {act}", f"{act} if {s} > {self.thresh()} else {other}"])
        return [f"{act} = {first}", f"{act} = {kept}"], f"np.sum({act}({self.expr('v', env, 1)})) * 0.5"

    def helpers_named_alike(self, env):
        """'helpernames' (drawn last): module-level helpers `sqK(qJ)`, `midK(qJv1, w)`, which calls sqK on qJv1 and on an
        expression of it (ANF names that temporary after sqK's parameter, qJ), and `dblK(qJv1)`, whose returned local
        is bound again in a branch; f binds `qJ = midK(v, ...)` (inlining renamed midK's temporary qJ to the next fresh
        name, qJv1, its parameter's) or `qJv1 = dblK(v)` (the returned local took the caller's name, the parameter's):
        both then read the call's argument (y = mid(x) of `k1 = sq(y1); return sq(y1 + k1)`: 0.09 for 0.1521). The
        names are the program's own (qJ fresh), so that no other local of f takes the fresh name first. Returns the
        lines and a scalar term."""
        sq, mid, dbl, q, v = self.fresh("sq"), self.fresh("mid"), self.fresh("dbl"), self.fresh("q"), self.fresh("v")
        q1 = f"{q}v1"
        senv = self.env({q: "s"})
        senv["nosum"] = True
        fns, self.fns = self.fns, []     # (f's factory-made functions are not the module's)
        body = self.expr("s", senv, 1)
        self.fns = fns
        if not _uses(body, q):
            body = f"({body}) * {q}"
        c, thr = self.const(), self.thresh()
        self.helper_src.append("\n".join([f"def {sq}({q}):", f"    return 0.5 * np.tanh({body})"]))
        self.helper_src.append("\n".join([f"def {mid}({q1}, w):", f"    k1 = {sq}({q1})",
                                          f"    return {sq}({q1} + k1) * {c} * w"]))
        self.helper_src.append("\n".join([f"def {dbl}({q1}):", f"    t = {sq}({q1}) * 2.0 + {q1}", f"    if t > {thr}:",
                                          "        t = t * t", "    return t"]))
        e1, e2 = self.expr("s", env, 1), self.expr("s", env, 1)
        # one of the two (f binding both names, the fresh names step past them: no clash), the argument a name (an
        # expression is bound to a temporary named after the parameter, which the fresh names then step past too)
        if self.coin():
            return [f"{v} = {e1}", f"{q} = {mid}({v}, {e2})"], q
        return [f"{v} = {e1}", f"{q1} = {dbl}({v})", f"{v}v1 = {q1} * {e2}"], f"{v}v1"

    def factory_forms(self, env, trips: str, flag: bool):
        """'factoryforms' (README 'Factories', drawn last): a factory `makeK(c, d=0.5)` (module-level, or a def nested
        in f reading one of f's numbers; its function a nested def or a lambda; `d` positional with a default, or
        keyword-only) whose function is called at once (`makeK(e)(u)`), bound to a name in both branches of an if
        (every binding from the same factory), bound again in each iteration of a loop over range(`trips`), or called
        in a lambda (`lam = lambda v: g(v) * c`); the factory's arguments passed by position or by keyword, `d` left
        to its default or given, and (one form in three) the factory called through another that returns its
        function (`def wrapK(c): return makeK(c * 0.5)`). Returns the lines and a scalar term for the result."""
        make, g, t = self.fresh("make"), self.fresh("g"), self.fresh("t")
        fenv = self.env({"c": "s", "u": "s"})
        fenv["nosum"] = True
        fns, self.fns = self.fns, []    # (f's factory-made functions are not the module's: seed 2's fn20)
        body = self.expr("s", fenv, 1)
        self.fns = fns
        if not _uses(body, "u"):
            body = f"({body}) * u"
        body = f"({body}) + d * np.tanh(u * c)"
        kwonly = self.coin()
        sig = f"c, *, d={self.const()}" if kwonly else f"c, d={self.const()}"
        nested = self.coin(3)
        outer = sorted(v for v, k in env["vars"].items() if k == "s" and v not in env["bufs"])
        if nested and outer:            # (a nested factory may read f's values)
            body = f"{body} + 0.1 * {self.pick(outer)}"
        if self.coin():
            src = [f"def {make}({sig}):", "    def fn(u):", f"        return {body}", "    return fn"]
        else:
            src = [f"def {make}({sig}):", f"    return lambda u: {body}"]
        lines = src if nested else []
        if not nested:
            self.helper_src.append("\n".join(src))
        maker = make
        if self.coin(3):                # a factory returning another factory's function
            wrap = self.fresh("wrap")
            wsrc = [f"def {wrap}(c):", f"    return {make}(c * 0.5)"]
            lines += wsrc if nested else []
            if not nested:
                self.helper_src.append("\n".join(wsrc))
            maker, kwonly = wrap, None

        def made(e):
            """A call of the factory on e: by position or by keyword, d left to its default or given."""
            if kwonly is None:
                return f"{maker}({self.pick([e, f'c={e}'])})"
            d = self.pick(["", f"d={self.const()}"] + ([] if kwonly else [self.const()]))
            first = self.pick([e, f"c={e}"]) if not d or "=" in d else e
            return f"{maker}({first}{', ' + d if d else ''})"
        e1, e2 = self.expr("s", env, 1), self.expr("s", env, 1)
        form = self.pick(["once", "branch", "loop", "lambda"])
        if form == "once":
            lines += [f"{t} = {made(e1)}({e2})"]
        elif form == "branch":
            cond = "flag" if flag and self.coin() else f"{self.expr('s', env, 1)} > {self.thresh()}"
            lines += [f"if {cond}:", f"    {g} = {made(e1)}", "else:", f"    {g} = {made(self.const())}",
                      f"{t} = {g}({e2})"]
        elif form == "loop":
            i = self.fresh("i")
            lines += [f"{t} = 0.0", f"for {i} in range({trips}):", f"    {g} = {made(f'({e1}) * ({i} + 1)')}",
                      f"    {t} = {t} + {g}({e2} + 0.1 * {i})"]
        else:
            lam = self.fresh("lam")
            lines += [f"{g} = {made(e1)}", f"{lam} = lambda v: {g}(v) * {self.const()}", f"{t} = {lam}({e2})"]
        return lines, t

    def float_of_bools(self, env, flag: bool):
        """'floatbool' (README: `float` of a bool; drawn last): `float(c)` of a comparison of f's numbers, of np.all /
        np.any of a comparison of a vector, of bool(...) or of the flag argument, times one of f's numbers (no
        derivative through the bool: a step, whose flips the FD oracle skips). Returns the lines and a scalar term."""
        b = self.fresh("fb")
        s1, s2 = self.expr("s", env, 1), self.expr("s", env, 1)
        v = self.expr("v", env, 1)
        cond = self.pick([f"{s1} > {self.thresh()}", f"np.all({v} > -2.0)", f"np.any({v} < {self.thresh()})",
                          f"bool({s1} < {self.thresh()})"] + (["flag", "not flag"] if flag else []))
        form = self.choose(3)
        if form == 0:
            return [f"{b} = float({cond}) * {s2}"], b
        if form == 1:
            return [f"{b} = {s2} * (1.0 - 0.5 * float({cond}))"], b
        c = self.fresh("c")
        return [f"{c} = {cond}", f"{b} = float({c}) + float({c}) * np.tanh({s2})"], b

    def zero_d_arguments_written(self, env, flag: bool):
        """'zerodargs' (README: 0-d array arguments written in place, `a[...] = ...`, `a[()] += ...`; drawn last): a
        helper of the program's writes into its 0-d array argument, `z[()] += v`, `z[...] = np.tanh(z) * c + v`, and
        returns a number of it; f passes it a 0-d array it makes (once, or in a loop) and reads the array after the
        call, the write seen as the caller's. Returns the lines and a scalar term."""
        h, z = self.fresh("bump0d"), self.fresh("zd")
        writes = self.pick([["z[()] += v * 0.5"], ["z[...] = np.tanh(z) * 0.9 + v"],
                            ["z[()] += v * 0.5", "z[...] = np.tanh(z) * 0.9 + v"],
                            ["z[...] = z * 0.5 + np.sin(v)", "z[()] *= 1.1"]])
        ret = self.pick(["z[()] * 2.0", "np.sin(z[()]) + v", "float(z) * v"])
        self.helper_src.append("\n".join([f"def {h}(z, v):"] + self.indent(writes + [f"return {ret}"])))
        make = self.pick(["np.zeros(())", "np.full((), 0.5)", "np.full((), -0.3)", "np.ones((), dtype=float)"])
        t = self.fresh("t")
        lines = [f"{z} = {make}"]
        if self.coin(4):
            i = self.fresh("i")
            lines += [f"{t} = 0.0", f"for {i} in range(2):", f"    {t} = {t} + {h}({z}, {self.expr('s', env, 1)} * 0.5)"]
        else:
            lines += [f"{t} = {h}({z}, {self.expr('s', env, 1)})"]
        term = self.pick([f"{t} + {z}[()] * 0.5", f"{t} * np.tanh({z}[()])", f"{t} + float({z})"])
        return lines, term

    def zero_d_array(self, env, trips: str, h: int):
        """A 0-d array f makes, `z = np.zeros(())` (README: '0-d arrays the function makes ... as the numbers they
        hold'), written whole (`z[()] = v`, `z[...] += v`), read (`z[()]`), or an accumulator a loop over
        range(`trips`) binds again (`z = z * 0.5 + v`: NumPy's number after one step). Its forms and the scalar it
        reads (one of f's) are chosen off `h` (the source's), drawing nothing. Returns the lines and a scalar term for
        the result."""
        z, i = self.fresh("zd"), self.fresh("i")
        scalars = sorted(v for v, k in env["vars"].items() if k == "s" and v not in env["bufs"])
        e = f"np.tanh({scalars[h % len(scalars)]})" if scalars else "0.3"
        make = ["np.zeros(())", "np.ones(())", "np.full((), 0.5)", "np.zeros((), dtype=float)"][h % 4]
        if (h // 48) % 2:   # the same 0-d array as np.array / np.asarray of a number (README; declined until h30c)
            make = ["np.array(0.0)", "np.asarray(1.0)", "np.array(0.5)", "np.asarray(0.0, dtype=float)"][h % 4]
        form = (h // 4) % 4
        if form == 0:
            lines = [f"{z} = {make}", f"{z}[()] = {e}", f"{z}[...] += 0.5 * np.tanh({z}[()])"]
        elif form == 1:
            lines = [f"{z} = {make}", f"for {i} in range({trips}):",
                     f"    {z}[()] = {z}[()] * 0.9 + np.sin({e} + {i})"]
        elif form == 2:
            lines = [f"{z} = {make}", f"for {i} in range({trips}):", f"    {z} = {z} * 0.5 + np.tanh({e}) * ({i} + 1)"]
        else:
            lines = [f"{z} = {make}", f"for {i} in range({trips}):", f"    {z} += np.cos({e} * {i})"]
        return lines, [z, f"{z} * 0.5", f"np.tanh({z})"][(h // 16) % 3]

    def made_namedtuple(self, env, trips: str, flag: bool):
        """A namedtuple of f's own values (README: namedtuples 'also made in the function, `s = State(x=a, v=b)`, and
        changed by `_replace`, ... also in a loop or a branch'), of a module-level class `STk` with a scalar field u
        and a vector field w, made by position or by field; changed by `_replace` into a new name, or bound again to
        the same name in a loop over range(`trips`) or in both branches of an if (on `flag` where f has it); read by
        field, by index or unpacked. Returns the lines and a scalar term for the result."""
        cls, st, i, u, w = self.fresh("ST"), self.fresh("st"), self.fresh("i"), self.fresh("u"), self.fresh("w")
        self.helper_src.append(f'{cls} = collections.namedtuple("{cls}", ["u", "w"])')
        s_val, v_val = self.expr("s", env, 1), self.expr("v", env, 1)
        make = self.pick([f"{cls}(u={s_val}, w={v_val})", f"{cls}({s_val}, {v_val})", f"{cls}({s_val}, w={v_val})"])
        lines = [f"{st} = {make}"]
        form = self.pick(["replace", "loop", "branch"])
        # and, in two of three programs (decided off the source, drawing nothing: the seeds keep their other draws),
        # the change made by a function of the program's returning the namedtuple, `return q._replace(...)` or `return
        # {cls}(...)`: module-level (via 1) or a def nested in f (via 2) (README: namedtuples 'returned by your
        # functions ... also by nested defs'; each was declined until h27c)
        via = sum(map(ord, make + form)) % 3
        step = self.fresh("ststep") if via else None

        def changed(value: str) -> str:
            """`value` (an expression of {st}) as the call of `step` returning it (its def put where via says)."""
            if not via:
                return value
            ret = "    return " + re.sub(rf"\b{st}\b", "q", value)
            if via == 1:
                self.helper_src.append(f"def {step}(q):\n{ret}")
            else:
                lines.insert(0, f"def {step}(q):")
                lines.insert(1, ret)
            return f"{step}({st})"
        if form == "replace":
            st2 = self.fresh("st")
            lines.append(f"{st2} = {changed(f'{st}._replace(w=np.sin({st}.w) * {st}.u)')}")
            if via == 2:
                lines.append(f"{u}, {w} = {step}({st})")
                return lines, f"{u} * np.sum({st2}.w) + 0.1 * np.sum({w}) + 0.1 * np.sum({st}[1])"
            read = f"{step}({st}).u" if via else f"{st2}.u"
            return lines, f"{read} * np.sum({st2}.w) + 0.1 * np.sum({st}[1])"
        if form == "loop":
            lines += [f"for {i} in range({trips}):",
                      f"    {st} = " + changed(f"{st}._replace(u={st}.u + 0.1 * np.sum({st}.w), "
                                              f"w={st}.w - 0.1 * np.sin({st}.u))")]
        else:
            lines += [f"if {'flag' if flag else f'{st}.u > 0.0'}:", f"    {st} = {st}._replace(u=0.5 * {st}.u)",
                      "else:", f"    {st} = {changed(f'{cls}(u=np.cos({st}.u), w={st}.w * 0.5)')}"]
        if self.coin(3):
            lines.append(f"{u}, {w} = {st}")
            return lines, f"{u} * np.sum(np.tanh({w}))"
        return lines, self.pick([f"{st}.u * np.sum({st}.w)", f"np.sum({st}.w ** 2) * 0.1 + {st}[0]"])

    def dict_bound_again(self, env, trips: str, flag: bool, xa: bool):
        """A name bound to dicts of the same keys in several places (README: 'a name bound to such dicts of the same
        keys in several places, `p = params(a)` in one branch and `p = params(b)` in the other, also in a loop'): a
        helper's dict in both branches (or a display in one), or carried by a loop over range(`trips`) whose items
        read the old ones; then `.get` of it (or of the dict argument xa, where `xa`) with a dict for the default
        (README: 'with a dict for the default too, `params.get("opt", {})`'). Returns the lines and a scalar term."""
        p, i, opt, mk = self.fresh("p"), self.fresh("i"), self.fresh("opt"), self.fresh("mkdict")
        s_val, v_val = self.expr("s", env, 1), self.expr("v", env, 1)
        self.helper_src.append(f'def {mk}(u, w):\n    return {{"u": np.sin(u), "w": w * u + 0.5}}')
        test = "flag" if flag else f"{s_val} > 0.0"
        form = self.pick(["branches", "display", "loop", "swap"])
        if form == "branches":
            lines = [f"if {test}:", f"    {p} = {mk}({s_val}, {v_val})", "else:", f"    {p} = {mk}(0.5, np.cos({v_val}))"]
        elif form == "display":
            lines = [f"if {test}:", f'    {p} = {{"u": {s_val}, "w": {v_val}}}', "else:",
                     f"    {p} = {mk}({s_val}, {v_val})"]
        elif form == "loop":
            lines = [f"{p} = {mk}({s_val}, {v_val})", f"for {i} in range({trips}):",
                     f'    {p} = {mk}({p}["u"] * 0.5, {p}["w"])']
        else:       # (each item reads the old ones: bound all at once)
            lines = [f'{p} = {{"u": {s_val}, "w": {v_val}}}', f"for {i} in range({trips}):",
                     f'    {p} = {{"u": 0.1 * np.sum({p}["w"]), "w": np.sin({p}["w"]) * {p}["u"]}}']
        term = f'{p}["u"] * np.sum({p}["w"])'
        if self.coin(2):
            src = "xa" if xa and self.coin(2) else p
            default = self.pick(["{}", '{"s": 0.25}', f'{{"s": {p}["u"]}}'])
            lines.append(f'{opt} = {src}.get("opt", {default})')
            term += f' + {opt}.get("s", 0.5) * {p}["u"]'
        return lines, term

    def made_dict(self, env):
        """A dict of f's own values (README: 'also dicts the function makes of its own values'), `p = {"u": s, "w":
        v}`, or one a module-level helper returns (each return a dict display of the same keys, also in both
        branches of an if), bound to a name or read at a key at once; read at its keys, by .get (with a default for
        a key it lacks), over .items() / .values(), or passed whole to a helper that reads it by key. Returns the
        lines and a scalar term for the result."""
        p, k, v, acc = self.fresh("p"), self.fresh("k"), self.fresh("v"), self.fresh("acc")
        s_val, v_val = self.expr("s", env, 1), self.expr("v", env, 1)
        form = self.pick(["display", "helper", "helper", "at_once", "several"])
        lines = []
        if form == "several":     # a list (tuple) of dicts made here: looped over, or read at an index
            ls, q = self.fresh("layers"), self.fresh("q")
            o, c = ("[", "]") if self.coin(2) else ("(", ")")
            lines.append(f'{ls} = {o}{{"u": {s_val}, "w": {v_val}}}, {{"u": 0.5, "w": np.sin({v_val})}}{c}')
            if self.coin(2):
                return lines, f'sum({q}["u"] * np.sum({q}["w"]) for {q} in {ls}) + {ls}[1]["u"]'
            if sum(map(ord, s_val + v_val)) % 2:    # (decided off the source: a list of copies made by a comprehension,
                cs = self.fresh("copies")           # written, README 'lists of copies'; declined before h27c)
                lines += [f"{cs} = [dict({q}) for {q} in {ls}]", f'{cs}[0]["w"] = {cs}[0]["w"] * 0.5 + {cs}[1]["u"]',
                          f"{acc} = 0.1 * np.sum({ls}[0][\"w\"])", f"for {q} in {cs}:"]
            else:
                lines += [f"{acc} = 0.0", f"for {q} in {ls}:"]
            lines.append(f'    {acc} = {acc} + {q}["u"] * np.sum(np.tanh({q}["w"]))')
            return lines, acc
        if form == "display":
            lines.append(f'{p} = {{"u": {s_val}, "w": {v_val}}}')
        else:
            mk = self.fresh("mkdict")
            # (in every other helper, decided off the source, drawing nothing: the seeds keep their other draws, the
            # same dict as a name bound to a display in the helper's own block and returned, `q = {...}`, `q["w"] =
            # ...`, `return q`: README 'or a name bound to one in the function's own block'; declined before h25c)
            named = sum(map(ord, s_val + v_val)) % 2 == 0
            if self.coin(2):
                self.helper_src.append(
                    f'def {mk}(u, w):\n    q = {{"u": np.sin(u)}}\n    q["w"] = w * u + 0.5\n    return q' if named else
                    f'def {mk}(u, w):\n    return {{"u": np.sin(u), "w": w * u + 0.5}}')
            elif named:
                self.helper_src.append(f'def {mk}(u, w):\n    q = {{"u": 0.5 * u, "w": w - u}}\n    if u > 0.0:\n'
                                       f'        return {{"u": u * u, "w": np.tanh(w)}}\n    return q')
            else:
                self.helper_src.append(f'def {mk}(u, w):\n    if u > 0.0:\n        return {{"u": u * u, "w": np.tanh(w)}}'
                                       f'\n    return {{"u": 0.5 * u, "w": w - u}}')
            if form == "at_once":
                return [], f'np.sum({mk}({s_val}, {v_val})["w"]) * 0.1 + {mk}({s_val}, {v_val})["u"]'
            lines.append(f"{p} = {mk}({s_val}, {v_val})")
        if form == "display" and self.coin(3):   # keys formatted from a range loop's index: p[f"w{i}"]
            i = self.fresh("i")
            lines[-1] = f'{p} = {{"w0": {s_val}, "w1": {v_val}}}'
            lines += [f"{acc} = 0.0", f"for {i} in range(2):", f'    {acc} = {acc} + np.sum(np.sin({p}[f"w{{{i}}}"]))']
            return lines, acc
        read = self.pick(["index", "get", "items", "values", "helper"])
        # and, in one of three such dicts (decided off the source, drawing nothing: the seeds keep their other draws), a
        # copy a helper makes of it, writes and adds a key to, and returns (README: 'or a copy of a dict it takes, q =
        # dict(p)'; declined before h26c as "a dict made in the function used as a whole value")
        if sum(map(ord, s_val + v_val)) % 3 == 2:
            cp, p2 = self.fresh("cpdict"), self.fresh("p")
            made = ["dict(q)", "q.copy()", "{**q}", "copy.copy(q)", '{**q, "u": 0.5 * q["u"]}'][sum(map(ord, s_val)) % 5]
            helper = (f'def {cp}(q, h=0.5):\n    r = {made}\n    r["w"] = h * r["w"] + r["u"]\n'
                      f'    r["c"] = np.tanh(r["u"] * h)\n    return r')
            if sum(map(ord, v_val)) % 3 == 0:   # (the copy returned at once, README 'or returned at once'; before h28b
                # declined as 'a dict argument used as a whole value' / 'not a dict display of the same string keys')
                helper = f'def {cp}(q, h=0.5):\n    return ' + (
                    '{**q, "w": h * q["w"] + q["u"], "c": np.tanh(q["u"] * h)}' if sum(map(ord, s_val)) % 2 else
                    'dict(q, w=h * q["w"] + q["u"], c=np.tanh(q["u"] * h))')
            if (sum(map(ord, s_val)) // 5) % 2:     # (or a def nested in f: declined before h27c but `q.copy()`)
                lines[:0] = helper.split("\n")
            else:
                self.helper_src.append(helper)
            lines.append(f"{p2} = {cp}({p})")
            term = f'{p2}["c"] * np.sum({p2}["w"]) + 0.3 * {p2}["u"]'
            if read == "index":
                return lines, f'{p}["u"] * np.sum({p}["w"]) * 0.1 + {term}'
            lines.append(f"{p2}_term = {term}")
            return self.made_dict_read(read, lines, p, k, v, acc, f" + {p2}_term")
        return self.made_dict_read(read, lines, p, k, v, acc, "")

    def made_dict_read(self, read, lines, p, k, v, acc, more):
        """made_dict's reads of the dict `p` (its last lines `lines`), with `more` added to the term."""
        if read == "index":
            return lines, f'{p}["u"] * np.sum({p}["w"]) * 0.1{more}'
        if read == "get":
            return lines, (f'{p}.get("u") * {p}.get("{self.pick(["c", "scale"])}", {self.const()}) + '
                           f'np.sum({p}.get("w", 0.0)){more}')
        if read == "items":
            lines += [f"{acc} = 0.0", f"for {k}, {v} in {p}.items():",
                      f'    {acc} = {acc} + np.sum({v} ** 2) * (0.1 if {k} == "w" else 0.2)']
            return lines, acc + more
        if read == "values":
            return lines, f"sum(np.sum(np.sin({v})) for {v} in {p}.values()){more}"
        use = self.fresh("usedict")
        self.helper_src.append(f'def {use}(q):\n    return np.sum(q["w"] * q["u"])')
        return lines, f"{use}({p}){more}"


ALL_FEATURES = ("where", "maximum", "helpers", "closures", "for", "while", "break", "inplace", "return",
                "concat", "views", "logdomain",
                # the README constructs (tests/fuzz_constructs.py)
                "elif", "loops2", "continue", "augassign", "unpack", "chained", "boolops", "ifexp", "sumgen",
                "slices", "computed", "lambdas", "loopclosures", "factories", "recursive", "tupleargs",
                "intbool", "printassert", "carried", "nparray", "astype", "fancy", "mask", "steps", "mathmod",
                "sumarr", "items", "walrus", "lists",
                # README: sum([a, b]); lambdas several on a line / called where written; keyword calls,
                # defaults and keyword-only parameters of helpers and of the entry f
                "sumlist", "lambdaline", "lambdacall", "kwcalls", "kwentry",
                # README 'Captured values': module-level constants as conditions
                "globals",
                # README 'Long loops in little memory': the gradient under test is grad(f, checkpoints=k)
                "checkpoints",
                # README's Rules bullet (tests/fuzz_rules.py): every function it lists; x @ y of stacks (jit=False)
                "rules", "stackmatmul",
                # README: reversed() of an array / a tuple literal (also in zip, enumerate and sums); sum(terms, start);
                # arrays of a list comprehension whose items are lists or list comprehensions; lists started with
                # items, bound together, stacked along axis 1; tuples written into arrays and passed to NumPy
                # functions; a 1-D mask beside another index (p[hit, 1] *= -0.9); a factory's function relying on
                # its defaults or called by keyword (README 'Factories')
                "reversed", "sumstart", "listitems", "listinit", "tuplewrite", "maskbeside", "factorykw",
                # README: a loop over a range bound to a name first, also by a conditional expression
                "rangename",
                # README: functions passed to your functions (a module-level def, a lambda, a nested def)
                "funcargs",
                # README: max(...) / min(...) of a comprehension; a list comprehension bound to a name, every read
                # converting it; constant slices of tuple/list arguments; integer index arrays that broadcast
                # together (x[np.arange(n)[:, None], idx]), read and written
                "extremes", "namedcomp", "argslices", "bcastidx",
                # README: dict arguments keyed by strings (xa = {"x": x, "a": a}, needs 'tupleargs' for xa)
                "dictargs",
                # README: print's and assert's f-strings (with 'printassert'; declined on the device)
                "fstrings",
                # a recurrence ys[t] = v + c * ys[t - k] / ys[t - 1] = ... from t = 0, the index below row 0 the
                # last rows, which later iterations write (a jitted gradient of it was wrong: fixed in 38850f3)
                "wrapidx",
                # a local spelled as the variable of an item of the tuple/dict/namedtuple argument (xa_1 beside a
                # tuple xa, xa_a beside a dict or namedtuple; with 'tupleargs')
                "itemspelled",
                # a local of f named `rt` (srcdiff's runtime module in the generated code), `len` or `max`
                "reservednames",
                # README: writes into an argument's array (x[i] = ..., M[1] = ..., M[1, j] += ...) leave the caller's
                # array as one call of f does, under every transform (check_program compares the arguments after)
                "argwrites",
                # README (CUDA): a 2-D array written out in rows of numbers the function computes (drawn last)
                "rows2d",
                # README (lambdas): a lambda or a NumPy function chosen by a conditional expression, `act = np.tanh`
                "lambdachoice",
                # README (dicts): dicts f makes of its own values, and dicts its helpers return
                "dictmade",
                # README: namedtuple arguments read by field (xa = XA(x, a); xa.x, xa.a)
                "namedtupleargs",
                # README: namedtuples made in the function and changed by _replace (in a loop or a branch too); a name
                # bound to dicts of the same keys in several places; .get with a dict for the default
                "namedtuplemade", "dictbound",
                # README: 0-d arrays the function makes (z = np.zeros(())), written whole, read, bound again by a loop
                "zerod",
                # a local array written through an Ellipsis index: all of it (e[...] = v, e[...] += v, in a loop too),
                # a column (e[..., k] = ...) or a row (e[r, ...] *= c); the reverse sweep reads e[...] (h26a)
                "ellipsis",
                # a helper that writes into its array parameter, then binds the parameter again (a loop, a while, a
                # branch), called where f reads the array after the call (fuzz 1192024's decline; follow_writes.py)
                "argrebound",
                # README (Rules): copy.copy / copy.deepcopy of an array or a number, the copy written (h29c)
                "copies",
                # README: a namedtuple a function of yours returns passed straight to another call (h29c)
                "recordpassed",
                # tuple(xa) / list(xa) of the tuple argument or a constant slice of it, indexed, unpacked or looped over
                # (flatten.py: the literal of its items; was 'a tuple/list argument used as a whole value')
                "tuplecopy",
                # README: float() of a bool; a 0-d array argument written in place (z[()] += v, z[...] = ...) by a
                # helper, read by its caller after the call (drawn last, h29b)
                "floatbool", "zerodargs",
                # README (Transforms): eigh's eigenvectors, the thin SVD's U and Vh, or pinv of a matrix f computes,
                # whose gradients nested mode's penalty differentiates in reverse mode (drawn last, h30e)
                "spectral",
                # README (Rules): NumPy's views of real arrays, np.rot90, np.split / np.array_split, np.atleast_3d,
                # np.real / np.imag, np.ascontiguousarray / np.asfortranarray, x.mT, x.real, x.imag, x.view(), written
                # through and read (drawn last, h30b)
                "realviews",
                # README 'Factories': a factory's function called at once, bound in both branches or in a loop, called
                # in a lambda; a nested factory, keyword-only parameters, calls by keyword, relying on a default, a
                # factory returning another's function (drawn last, h30d)
                "factoryforms",
                # helpers calling helpers, their parameters and locals named as f's locals and as each other's (the
                # inliner's renaming read the call's argument for them; h30d, drawn last)
                "helpernames",
                # README (Rules): np.split's parts unpacked into names, one written and another read, or looped over,
                # written (drawn last, h31)
                "splitparts",
                # README (Rules): np.array_split of a name bound to a list; (Python) a function kept by a conditional
                # expression, `act = np.sin if s > c else act` (drawn last, h32)
                "keptforms")
# the fuzzer's --parallel mode's (tests/fuzz_parallel.py), drawn after all of ALL_FEATURES: a loss over the rows of
# R @ a (R: M's rows stacked), which jit="parallel" runs in chunks on threads (left out of ALL_FEATURES: the other
# modes' programs stay)
PARALLEL_FEATURES = ("rowloss",)
# what Numba cannot run by design (a sum of arrays over a comprehension compiles, its jvp too; under jit=True every
# oracle runs on the Numba backend: value_and_grad's value, jvp, and Numba == Python): README's `x @ y` of stacks of
# matrices is `jit=False` only (Numba's @ takes 1-d and 2-d operands)
PYTHON_ONLY: set = {"stackmatmul"}


# features nested mode (reverse over srcdiff's own gradient) leaves out, each a known decline or bug
NESTED_EXCLUDE = {
    "tupleargs": "a tuple argument passed whole to an inner srcdiff transform is declined (README, Transforms)",
}


def penalty_program(prog: Program) -> Program:
    """The program plus `h`, the squared norm of f's gradient (one program in eight: a function of the pair that
    value_and_grad gives, one in eight: of the pair jvp gives): differentiating h is reverse mode over srcdiff's own
    generated derivative (stacks, scatter-adds, fused kernels)."""
    import ast
    src = prog.source.replace("import numpy as np\n", "import numpy as np\nimport srcdiff\n", 1)
    entry = next(n for n in ast.parse(prog.source).body if isinstance(n, ast.FunctionDef) and n.name == "f")
    sig = ast.unparse(entry.args)            # h takes f's signature (defaults, keyword-only parameters)
    params = ", ".join(list(prog.params) + [f"{k.arg}={k.arg}" for k in entry.args.kwonlyargs])
    # (jvp's tangent follows the positional arguments, before the keyword ones)
    tangent_call = ", ".join(list(prog.params) + ["(0.5, np.cos(a), M * M)"] +
                             [f"{k.arg}={k.arg}" for k in entry.args.kwonlyargs])
    wrt = prog.wrt
    # one program in four differentiates a jitted gradient (its compiled form runs rt.elementwise kernels; the
    # outer pass must read the source shown), where f has no form Numba does not run (x @ y of stacks: nested
    # fuzz seed 610257)
    jit = ", jit=True" if sum(map(ord, src)) % 4 == 0 and not prog.python_only else ""
    # README (Transforms): the function may use the (value, gradient) pair of value_and_grad or the pair of jvp (a
    # tangent computed from the arguments: its derivative flows too); one program in eight each, the rest grad
    inner = ("grad",) * 6 + ("value_and_grad", "jvp")
    inner = inner[sum(map(ord, src)) // 4 % 8]
    if prog.params[:3] == ("x", "a", "M") and inner == "value_and_grad":
        src += (f"\n\ndef h({sig}):\n"
                f"    v, (gx, ga, gM) = srcdiff.value_and_grad(f, wrt=(0, 1, 2){jit})({params})\n"
                "    return np.sin(v) * gx + np.sum(ga * ga) + np.sum(gM * gM)\n")
    elif prog.params[:3] == ("x", "a", "M") and inner == "jvp":
        src += (f"\n\ndef h({sig}):\n"
                f"    v, d = srcdiff.jvp(f, wrt=(0, 1, 2){jit})({tangent_call})\n"
                "    return np.sin(v) * d + d * d\n")
    elif prog.params[:3] == ("x", "a", "M"):
        src += (f"\n\ndef h({sig}):\n"
                f"    gx, ga, gM = srcdiff.grad(f, wrt=(0, 1, 2){jit})({params})\n"
                "    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)\n")
    else:
        assert wrt == (0, 1)
        src += (f"\n\ndef h({sig}):\n"
                f"    gxa, gM = srcdiff.grad(f, wrt=(0, 1){jit})({params})\n"
                "    gx, ga = gxa\n"
                "    return gx * gx + np.sum(ga * ga) + np.sum(gM * gM)\n")
    return Program(src, prog.N, prog.params, prog.n, prog.seq, prog.checkpoints)


def seeded_program(seed: int, features=None, **size) -> Program:
    r = random.Random(seed)
    return Gen(lambda n: r.randrange(n), features, **size).program()


# ---- checking ------------------------------------------------------------------------------------
class Skip(Exception):
    """No trustworthy finite-difference reference at any point tried."""


class Hang(Exception):
    """A program (or its gradient) ran past its time limit."""


class Wrong(AssertionError):
    """An oracle disagreed: a wrong gradient (or value)."""


class BadProgram(Exception):
    """The generated program itself failed in plain Python: a generator bug."""


def leaves(args, wrt):
    """[(arg position, element or None)] for the differentiated arguments (tuples/lists: each element; dicts:
    each key)."""
    out = []
    for k in wrt:
        if isinstance(args[k], dict):
            out += [(k, j) for j in args[k]]
        elif isinstance(args[k], (tuple, list)):
            out += [(k, j) for j in range(len(args[k]))]
        else:
            out.append((k, None))
    return out


def get_leaf(args, leaf):
    k, j = leaf
    return args[k] if j is None else args[k][j]


def set_leaf(args, leaf, value):
    args = list(args)
    k, j = leaf
    if j is None:
        args[k] = value
    elif isinstance(args[k], dict):
        args[k] = {**args[k], j: value}
    else:
        seq = list(args[k])
        seq[j] = value
        args[k] = _rebuilt(args[k], seq)
    return args


def flat_grads(got, args, wrt):
    """The gradient tuple srcdiff returns, flattened like `leaves`."""
    out = []
    assert len(got) == len(wrt), f"{len(got)} gradients for {len(wrt)} wrt arguments"
    for g, k in zip(got, wrt):
        if isinstance(args[k], dict):
            assert isinstance(g, dict) and list(g) == list(args[k]), \
                f"gradient of a dict argument came back as {type(g).__name__} {list(g) if isinstance(g, dict) else ''}"
            out += list(g.values())
        elif isinstance(args[k], (tuple, list)):
            assert isinstance(g, type(args[k])) and len(g) == len(args[k]), \
                f"gradient of a {type(args[k]).__name__} argument came back as {type(g).__name__}"
            out += list(g)
        else:
            out.append(g)
    return out


def fd_grad(f, args, leaf, eps):
    x = get_leaf(args, leaf)
    if np.ndim(x) == 0:
        return (f(*_copy(set_leaf(args, leaf, x + eps))) - f(*_copy(set_leaf(args, leaf, x - eps)))) / (2 * eps)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        out[i] = (f(*_copy(set_leaf(args, leaf, xp))) - f(*_copy(set_leaf(args, leaf, xm)))) / (2 * eps)
    return out


def _copy(a):
    if isinstance(a, np.ndarray):
        return a.copy()
    if isinstance(a, dict):
        return {k: _copy(b) for k, b in a.items()}
    if isinstance(a, (tuple, list)):
        return _rebuilt(a, [_copy(b) for b in a])
    return a


def _left_as_f_leaves(got, after, what, prog):
    """`what` left the arguments `got` it was called with as one call of f left `after` (f may write into its
    arguments' arrays, and srcdiff's transforms must leave the caller's arrays as f does: README, Transforms)."""
    for name, g, a in zip(prog.params, got, after):
        for key, gk, ak in (((k, g[k], a[k]) for k in a) if isinstance(a, dict) else
                            ((k, gi, ai) for k, (gi, ai) in enumerate(zip(g, a))) if isinstance(a, (tuple, list))
                            else [(None, g, a)]):
            if isinstance(ak, np.ndarray) and not np.allclose(gk, ak, rtol=1e-9, atol=1e-12, equal_nan=True):
                where = name if key is None else f"{name}[{key!r}]"
                raise Wrong(f"{what} left the argument {where} as {gk!r}, one call of f leaves {ak!r}")


def _name(leaf, prog):
    k, j = leaf
    return prog.params[k] + ("" if j is None else f"[{j!r}]")


@contextlib.contextmanager
def time_limit(seconds):
    """Raise Hang once this process has spent `seconds` of CPU time (signal.setitimer(ITIMER_PROF):
    CPU, not wall-clock, so a loaded machine does not make a slow compile look like a hang; main
    thread only, else no limit).  Code inside a Numba-compiled function cannot be interrupted this
    way: long mode runs programs in a child process the parent kills (tests/fuzz_runner.py).

    Numba may swallow the Hang raised inside its compiler and fail later on the half-built library ('no compiled
    object yet for <Library ...>', nested fuzz seed 998040 on an empty cache): any exception after the limit
    fired is a Hang too."""
    import threading
    if not seconds or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGPROF) not in (signal.SIG_DFL, signal.SIG_IGN, None):
        yield
        return

    fired = []

    def on_timer(signum, frame):
        fired.append(True)
        raise Hang(f"ran past {seconds}s of CPU time")
    old = signal.signal(signal.SIGPROF, on_timer)
    signal.setitimer(signal.ITIMER_PROF, float(seconds))
    try:
        yield
    except Hang:
        raise
    except Exception as exc:
        if fired:
            raise Hang(f"ran past {seconds}s of CPU time, then {type(exc).__name__}: {exc}") from exc
        raise
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def _kwtext(kw):
    return f", kwargs={kw!r}" if kw else ""


def _close(got, ref, what, rtol, atol_rel):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if got.shape != ref.shape:
        raise Wrong(f"{what}: shape {got.shape} != {ref.shape}")
    scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    if not np.allclose(got, ref, rtol=rtol, atol=atol_rel * scale, equal_nan=True):
        raise Wrong(f"{what}: got {got!r}, expected {ref!r}")


def entry_call(f, args, wrt, rng):
    """(args, kwargs) calling `f` as a user might: its keyword-only parameters passed by keyword or left
    to their defaults, trailing non-differentiated positional parameters passed by keyword or (with a
    default) left out.  Functions without defaults or keyword-only parameters get `(args, {})`, drawing
    nothing from `rng`."""
    import inspect
    params = list(inspect.signature(f).parameters.values())
    if all(p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD for p in params):
        return list(args), {}
    positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    cut = max(list(wrt) + [-1]) + 1 + int(rng.integers(len(positional) - max(list(wrt) + [-1])))
    out, kw = list(args[:cut]), {}
    for p, v in zip(positional[cut:], args[cut:]):
        if p.default is p.empty or rng.integers(2):
            kw[p.name] = v
    for p in params:
        if p.kind != p.KEYWORD_ONLY or (p.default is not p.empty and rng.integers(2)):
            continue
        d = p.default
        kw[p.name] = bool(rng.integers(2)) if isinstance(d, bool) else d if isinstance(d, int) else \
            float(rng.uniform(0.5, 1.5) * (1.0 if d is p.empty else d))
    return out, kw


def _tangents(args, wrt, lv, seed):
    """(one random tangent per leaf, the tangents structured like the wrt arguments)."""
    tan_rng = np.random.default_rng(seed)
    tl = [tan_rng.normal(size=np.shape(get_leaf(args, leaf))) for leaf in lv]
    tl = [float(t) if np.ndim(t) == 0 else t for t in tl]
    tangents, pos = [], 0
    for k in wrt:
        if isinstance(args[k], dict):     # (a dict tangent's keys in reverse order: README, any order)
            items = list(zip(args[k], tl[pos:pos + len(args[k])]))
            tangents.append(dict(reversed(items)))
            pos += len(items)
        elif isinstance(args[k], (tuple, list)):
            m = len(args[k])
            tangents.append(_rebuilt(args[k], tl[pos:pos + m]))
            pos += m
        else:
            tangents.append(tl[pos])
            pos += 1
    return tl, tangents


CURVED_SOURCE = """import numpy as np

from {module} import f as user_f


def fs{signature}:
    return np.sin(0.5 * user_f({call}))
"""


def curved_function(mod, f_user):
    """fs = sin(0.5 * f(...)), with f's signature, in a module next to the program's: its Hessian
    (-0.25 sin(f/2) ∇f ∇fᵀ + 0.5 cos(f/2) H_f) is not zero where f is linear (most random programs are on the
    path they take), so H·v checks the whole gradient of f under forward mode, not only its second order."""
    import inspect
    sig = inspect.signature(f_user)
    call = ", ".join(p.name if p.kind == p.POSITIONAL_OR_KEYWORD else f"{p.name}={p.name}"
                     for p in sig.parameters.values())
    name = mod.__name__ + "_curved"
    path = os.path.join(os.path.dirname(mod.__file__), name + ".py")
    with open(path, "w") as fh:
        fh.write(CURVED_SOURCE.format(module=mod.__name__, signature=str(sig), call=call))
    spec = importlib.util.spec_from_file_location(name, path)
    curved = importlib.util.module_from_spec(spec)
    sys.modules[name] = curved
    spec.loader.exec_module(curved)
    return curved.fs


def _check_hvp(f_user, args, kw, wrt, lv, jit, seed, prog):
    """srcdiff.hvp (forward over reverse) of f_user == central differences of srcdiff.grad (Python backend)
    along the same tangent, where eps=1e-5 and 1e-6 agree (no kink of the gradient nearby; else nothing is
    checked)."""
    import srcdiff
    tl, tangents = _tangents(args, wrt, lv, seed + 3)
    g = srcdiff.grad(f_user, wrt=wrt)

    def along(eps):
        a = _copy(args)
        for leaf, t in zip(lv, tl):
            a = set_leaf(a, leaf, get_leaf(a, leaf) + eps * t)
        return flat_grads(g(*a, **kw), args, wrt)

    with np.errstate(all="ignore"):
        refs = [[(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(along(eps), along(-eps))]
                for eps in (1e-5, 1e-6)]
    if not all(np.all(np.isfinite(a)) and np.allclose(a, b, rtol=1e-3, atol=1e-5 * max(1.0, float(np.max(np.abs(a)))))
               for a, b in zip(*refs)):
        return
    # README: forward mode over a gradient whose function has recursive helpers needs jit=False
    jit = jit and not re.search(r"^def rec\d+\(", prog.source, re.M)
    got = srcdiff.hvp(f_user, wrt=wrt, jit=jit)(*_copy(args), tuple(tangents), **kw)
    for leaf, h, ref, ref6 in zip(lv, flat_grads(got, args, wrt), refs[0], refs[1]):
        if np.shape(h) != np.shape(ref):
            raise Wrong(f"hvp d/d{_name(leaf, prog)}: shape {np.shape(h)} != {np.shape(ref)}")
        # (the differences' own error, seen as the two step sizes' disagreement, widens the tolerance: at
        # |H·v| ~ 6e5 they differ in the fourth digit, fuzz seed 441500)
        scale = max(1.0, float(np.max(np.abs(ref))))
        noise = 3.0 * float(np.max(np.abs(np.asarray(ref) - np.asarray(ref6)))) / scale
        _close(h, ref, f"hvp (H·v) d/d{_name(leaf, prog)} vs finite differences of grad along v at args={args!r}"
                       f"{_kwtext(kw)}", 1e-4, max(1e-5, noise))
    if seed % 3 == 0 and not any(isinstance(args[k], (tuple, list)) and not hasattr(type(args[k]), "_fields")
                                 for k in wrt) and sum(np.size(get_leaf(args, leaf)) for leaf in lv) <= 16:
        # README: hessian with respect to a tuple of arguments gives blocks [i][j], and w.r.t. a dict a dict of blocks
        # per key (dict of dicts for two dicts: H[i][j]["x"]["a"]), w.r.t. a namedtuple a namedtuple of its class
        # (read here by index, H[i][j][0][1]); row i times v is the hvp's d/dx_i (a plain tuple argument is declined:
        # README, Transforms)
        H = srcdiff.hessian(f_user, wrt=tuple(wrt), jit=jit)(*_copy(args), **kw)

        def block(li, lj):
            b = H[wrt.index(li[0])][wrt.index(lj[0])]
            b = b if li[1] is None else b[li[1]]
            return b if lj[1] is None else b[lj[1]]
        for i, (leaf, h) in enumerate(zip(lv, flat_grads(got, args, wrt))):
            hv = sum(np.tensordot(block(leaf, lj), tl[j], axes=np.ndim(tl[j])) for j, lj in enumerate(lv))
            _close(hv, h, f"hessian(wrt={tuple(wrt)}) row {i} times v vs hvp d/d{_name(leaf, prog)} at args={args!r}"
                          f"{_kwtext(kw)}", 1e-7, 1e-9)


VECTOR_SOURCE = """import numpy as np

from {module} import f as user_f


def fv({params}):
    return user_f({params}) * a + x * np.sin(a)
"""


def vector_function(mod, prog: Program):
    """fv = f(...) * a + x * sin(a), a function with an array output around the program's f (which srcdiff inlines),
    in a module next to the program's; None where f has no parameters x and a."""
    if not {"x", "a"} <= set(prog.params):
        return None
    name = mod.__name__ + "_vector"
    path = os.path.join(os.path.dirname(mod.__file__), name + ".py")
    with open(path, "w") as fh:
        fh.write(VECTOR_SOURCE.format(module=mod.__name__, params=", ".join(prog.params)))
    spec = importlib.util.spec_from_file_location(name, path)
    vec = importlib.util.module_from_spec(spec)
    sys.modules[name] = vec
    spec.loader.exec_module(vec)
    return vec.fv


def _check_vector(fv, args, prog, jit, seed):
    """srcdiff.jacobian of fv (by columns with jvp, by rows with vjp) == central differences, and
    srcdiff.vjp(fv)(..., c) == (f's value, c·J), w.r.t. a and M one at a time, and the jacobian w.r.t. both at
    once (a block per argument) == the same differences."""
    import srcdiff
    y = fv(*_copy(args))
    if not np.all(np.isfinite(y)):
        return
    checked = {}
    for k in [prog.params.index(p) for p in ("a", "M") if p in prog.params]:
        refs = []
        for eps in (1e-5, 1e-6):
            x0, J = args[k], np.zeros(np.shape(y) + np.shape(args[k]))
            for idx in np.ndindex(x0.shape):
                up, down = _copy(args), _copy(args)
                up[k][idx] += eps
                down[k][idx] -= eps
                J[(Ellipsis,) + idx] = (fv(*up) - fv(*down)) / (2 * eps)
            refs.append(J)
        scale = max(1.0, float(np.max(np.abs(refs[0]))))
        if not np.allclose(refs[0], refs[1], rtol=1e-4, atol=1e-6 * scale):
            continue    # a kink nearby
        for mode in ("forward", "reverse"):
            J = srcdiff.jacobian(fv, wrt=k, jit=jit, mode=mode)(*_copy(args))
            _close(J, refs[0], f"jacobian (mode={mode!r}) of f(...) * a + x * sin(a) w.r.t. {prog.params[k]} vs "
                               f"finite differences at args={args!r}", 1e-4, 1e-5)
        c = np.random.default_rng(seed + 5).normal(size=np.shape(y))
        value, ct = srcdiff.vjp(fv, wrt=k, jit=jit)(*_copy(args), c)
        _close(value, y, f"vjp's value of f(...) * a + x * sin(a) at args={args!r}", 1e-7, 1e-9)
        _close(ct, np.tensordot(c, refs[0], axes=1), f"vjp of f(...) * a + x * sin(a) w.r.t. {prog.params[k]} vs "
                                                    f"c·(finite differences) at args={args!r}", 1e-4, 1e-5)
        checked[k] = refs[0]
    if len(checked) == 2:
        mode = ("forward", "reverse")[seed % 2]
        blocks = srcdiff.jacobian(fv, wrt=tuple(checked), jit=jit, mode=mode)(*_copy(args))
        for k, J in zip(checked, blocks):
            _close(J, checked[k], f"jacobian (mode={mode!r}, wrt=(a, M)) of f(...) * a + x * sin(a): the block of "
                                  f"{prog.params[k]} vs finite differences at args={args!r}", 1e-4, 1e-5)


def _check_export(g_user, flat, args, kw, prog, seed):
    """The 'export' oracle of check_program."""
    import tempfile
    import srcdiff
    name = f"exported_{seed}"
    with tempfile.TemporaryDirectory() as tmp:
        path = srcdiff.export(g_user, os.path.join(tmp, f"{name}.py"))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, tmp)
        try:
            spec.loader.exec_module(module)
            with np.errstate(all="ignore"):
                out = getattr(module, g_user.last.module.entry)(*_copy(args), **kw)
        finally:
            sys.path.remove(tmp)
            for key in [k for k in sys.modules if k.startswith(f"{name}_runtime")]:
                del sys.modules[key]
    for leaf, a, b in zip(leaves(args, prog.wrt), flat_grads(out, args, prog.wrt), flat):
        _close(a, b, f"the exported module's d/d{_name(leaf, prog)} vs grad's at args={args!r}{_kwtext(kw)}", 1e-12, 1e-14)


def other_kinds(v, how: str):
    """`v` as another kind of argument with the same values: how="layout": float arrays non-contiguous (every
    other element of a wider array; matrices in Fortran order), floats as 0-d arrays, ints as np.int32, bools
    as np.bool_; how="float32": float arrays and floats as float32, ints as np.uint8 (where they fit)."""
    if isinstance(v, dict):
        return {k: other_kinds(x, how) for k, x in v.items()}
    if isinstance(v, (tuple, list)):
        return type(v)(other_kinds(x, how) for x in v)
    if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim:
        if how == "float32":
            return v.astype(np.float32)
        if v.ndim == 2:
            return np.asfortranarray(v)
        wide = np.zeros(v.shape[:-1] + (2 * v.shape[-1],))
        wide[..., ::2] = v
        return wide[..., ::2]
    if type(v) is float:
        return np.float32(v) if how == "float32" else np.array(v)
    if type(v) is bool:
        return np.bool_(v)
    if type(v) is int:
        return np.uint8(v) if how == "float32" and 0 <= v < 256 else np.int32(v)
    return v


def _check_kinds(g_user, flat, args, kw, prog, f_user=None):
    """The 'kinds' oracle of check_program: the gradient object that gave `flat` called again with other kinds
    of the same values (other_kinds: a specialisation for float64 C-ordered arrays, Python floats and ints
    must not be reused for them, nor theirs afterwards) gives the same gradient: to rounding for other layouts
    and integer types, to float32's precision for float32 (a loose tolerance: a wrong specialisation is off by
    far more); then the first arguments again give exactly `flat`. Kinds the user's function itself does not take
    (NumPy raises) are skipped."""
    names = list(prog.params[:len(args)])

    def other(v, name, how):
        # a float the program updates with `-=` and the like stays a float: as a 0-d array it would be written in
        # place, which another name bound to it sees (declined by srcdiff as NumPy's semantics say: seed 700217)
        # (or a second name of it is: `rt = x` then `rt -= ...`, which writes into x as a 0-d array: the default
        # run's fuzz_py_30 of 2026-11-28, declined by srcdiff as NumPy's semantics say)
        def updated(n):
            names, todo = {n}, [n]
            while todo:
                for m in re.findall(rf"^\s*(\w+)\s*=\s*{todo.pop()}\s*$", prog.source, re.M):
                    if m not in names:
                        names.add(m)
                        todo.append(m)
            return any(re.search(rf"\b{m}\s*(\*\*|//|[-+*/%@])=", prog.source) for m in names)
        if how == "layout" and type(v) is float and updated(name):
            return v
        if how == "layout" and name == "xa" and isinstance(v, (tuple, list, dict)) and updated("x"):
            # (so does the float item x of the tuple argument xa, unpacked `x, a = xa`: fuzz_py_58 of the default
            # run, `t15 = x; x += 1.5`)
            if isinstance(v, dict):
                return {k: e if type(e) is float else other_kinds(e, how) for k, e in v.items()}
            return type(v)(e if type(e) is float else other_kinds(e, how) for e in v)
        return other_kinds(v, how)

    for how, tol in (("layout", 1e-9), ("float32", 2e-3)):
        if f_user is not None:
            try:     # the user's function itself may not take them (round() of a 0-d array: seed 730319)
                with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
                    f_user(*[other(a, n, how) for a, n in zip(_copy(args), names)],
                           **{k: other(v, k, how) for k, v in kw.items()})
            except Exception:    # noqa: BLE001 -- NumPy's own error for these kinds: nothing to compare
                continue
        with np.errstate(all="ignore"):
            got = g_user(*[other(a, n, how) for a, n in zip(_copy(args), names)],
                         **{k: other(v, k, how) for k, v in kw.items()})
        for leaf, a, b in zip(leaves(args, prog.wrt), flat_grads(got, args, prog.wrt), flat):
            _close(a, b, f"d/d{_name(leaf, prog)} with {how} arguments vs float64's at args={args!r}{_kwtext(kw)}",
                   tol, tol)
    with np.errstate(all="ignore"):
        again = g_user(*_copy(args), **kw)
    for leaf, a, b in zip(leaves(args, prog.wrt), flat_grads(again, args, prog.wrt), flat):
        _close(a, b, f"d/d{_name(leaf, prog)} again after other kinds at args={args!r}{_kwtext(kw)}", 1e-12, 1e-14)


_LINE_COMMENT = re.compile(r"^(\s*)# (?:[\w.]+, )?line \d+: ")
_HEADING = re.compile(r"^(\s*)# ((?:[\w.]+, )?line \d+: |forward sweep|backward sweep)")


def lone_line_comments(source: str) -> list:
    """The lines (1-based) of `source` holding a comment that cites a user's line (`# line 12: ...`, `# helper,
    line 3: ...`) with no statement under it: the next line that is not another kind of comment (the bounds
    pass's `# bounds of a[i]`) is a line comment or a sweep's heading at its indentation, or the block ends.
    Generated code is read: such a comment says code is there that is not."""
    lines = [x for x in source.splitlines() if x.strip()]
    lone = []
    numbers = [k + 1 for k, x in enumerate(source.splitlines()) if x.strip()]
    backward = None     # the indentation of the backward sweep's heading, in the function being read
    for k, line in enumerate(lines):
        if line.lstrip().startswith("def "):
            backward = None
        elif line.lstrip() == "# backward sweep":
            backward = len(line) - len(line.lstrip())
        m = _LINE_COMMENT.match(line)
        if m is None:
            continue
        nxt = next((x for x in lines[k + 1:] if not x.lstrip().startswith("#") or _HEADING.match(x)), "")
        indent = len(nxt) - len(nxt.lstrip())
        if indent < len(m.group(1)) or (indent == len(m.group(1)) and _HEADING.match(nxt)):
            lone.append(numbers[k])
        elif backward == len(m.group(1)) == indent and nxt.lstrip().startswith("return"):
            lone.append(numbers[k])     # (the gradient's return is no user line's adjoint)
    return lone


_DERIVATIVES = ("_vjp", "_jvp", "_grad", "_value_and_grad")


def unread_assignments(source: str) -> list:
    """(line, statement) of each assignment to names that nothing in its function reads, in the derivative
    functions of `source` (the copies of the user's own functions that stay calls keep what the user wrote):
    dead code. (A pop is not: a stack goes as a whole, and a pop whose value is unused keeps the stack's
    other pops in step. A call whose result nothing reads is a statement of its own where it has effects,
    and goes where it has none: srcdiff's own derivative functions too, nested 781086.)"""
    import ast
    out = []
    for fn in ast.parse(source).body:
        if isinstance(fn, ast.FunctionDef) and fn.name.endswith(_DERIVATIVES):
            loads = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            out += [(n.lineno, ast.unparse(n)) for n in ast.walk(fn) if isinstance(n, ast.Assign)
                    and all(isinstance(t, ast.Name) and t.id not in loads for t in n.targets)
                    and not (isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute)
                             and n.value.func.attr == "pop")]
    return out


def _check_source(g_user):
    """The generated gradient's source cites no user line without code under it and assigns no value that
    nothing reads (oracle 'source')."""
    import srcdiff
    text = srcdiff.source(g_user)
    lone = lone_line_comments(text)
    if lone:
        lines = text.splitlines()
        raise Wrong("generated source: a line comment with no code under it: "
                    + "; ".join(f"line {k}: {lines[k - 1].strip()!r}" for k in lone[:3]))
    dead = unread_assignments(text)
    if dead:
        raise Wrong("generated source: a value nothing reads: " + "; ".join(f"line {k}: {t!r}" for k, t in dead[:3]))


def check_program(mod, prog: Program, jit: bool, seed: int, points: int = 1, tries: int = 4, rtol=1e-4,
                  entry: str = "f", oracles=("fd", "value", "jvp", "hvp", "vector", "backends", "taped", "export",
                                             "kinds", "source"),
                  timeout=None):
    """Check srcdiff's derivatives of mod.<entry> (w.r.t. its float parameters) against the oracles:

    'fd': central differences, at points where eps=1e-5 and eps=1e-6 agree (no branch switch or kink
    nearby; others are skipped for this oracle); 'value': value_and_grad's value == f;
    'jvp': srcdiff.jvp(f)(..., v) == vdot(grad, v) (forward vs reverse: both follow the branches the
    primal takes, so they must agree at kinks too); 'hvp' (at the finite-difference points): srcdiff.hvp
    (forward over reverse) of sin(0.5 * f(...)) (curved_function: a Hessian that is not zero where f is linear)
    == central differences of srcdiff.grad along a random v, where the gradient is smooth;
    'vector' (one program in four with parameters x and a, called without keywords): an array output around f,
    fv = f(...) * a + x * sin(a): srcdiff.jacobian by columns (jvp) and by rows (vjp) and srcdiff.vjp == central
    differences; 'backends' (jit=True): the Numba gradient equals
    the Python backend's to rounding; 'taped' (programs with `prog.checkpoints`): the gradient under test,
    srcdiff.grad(f, checkpoints=k) (every oracle above checks it, and value_and_grad takes the same k),
    equals the gradient without checkpoints to rounding, in the same backend; 'export' (one program in five,
    Python backend): srcdiff.export's module, imported and its entry point called as the gradient was
    (keywords, defaults, tuple arguments), gives the same gradient; 'kinds' (one program in three, one in six
    under Numba): the same gradient object called with other kinds of the same values (non-contiguous and
    Fortran-ordered arrays, 0-d arrays, np.int32 and np.bool_; then float32 and np.uint8) gives the same
    gradient, and the first arguments again exactly the first gradient; 'source': the gradient's generated
    source has no comment citing a user's line without code under it (lone_line_comments) and no assignment
    nothing reads (unread_assignments).  The non-FD
    oracles run at every point where f is finite.

    Raises Skip if no point had a finite value, Wrong on a mismatch, BadProgram if f fails in plain
    Python, Hang past `timeout` seconds (per program), anything else as it comes."""
    import srcdiff
    rng = np.random.default_rng(seed)
    kw_rng = np.random.default_rng(seed + 2)     # how f is called (keywords, defaults): its own stream
    f_user = getattr(mod, entry)
    wrt = prog.wrt
    ck = {"checkpoints": prog.checkpoints} if prog.checkpoints else {}
    quiet = io.StringIO()
    with time_limit(timeout), contextlib.redirect_stdout(quiet):
        g_user = srcdiff.grad(f_user, wrt=wrt, jit=jit, **ck)
        checked = fd_checked = 0
        for _ in range(tries):
            if checked >= points and (fd_checked >= points or "fd" not in oracles):
                break
            args, kw = entry_call(f_user, prog.args(rng), wrt, kw_rng)
            f = (lambda *a, _kw=kw: f_user(*a, **_kw)) if kw else f_user
            g = (lambda *a, _kw=kw: g_user(*a, **_kw)) if kw else g_user
            try:
                after = _copy(args)     # the arguments as f leaves them (it may write into their arrays)
                with np.errstate(all="ignore"):
                    v = f(*after)
            except (Hang, srcdiff.SrcdiffError):
                raise
            except Exception as exc:
                raise BadProgram(f"{type(exc).__name__} from the program itself: {exc}") from exc
            if not np.isfinite(v) or abs(v) > 1e6:
                continue
            lv = leaves(args, wrt)
            refs = None
            if "fd" in oracles and fd_checked < points:
                refs = []
                for leaf in lv:
                    with np.errstate(all="ignore"):
                        f5, f6 = fd_grad(f, args, leaf, 1e-5), fd_grad(f, args, leaf, 1e-6)
                    scale = max(1.0, float(np.max(np.abs(f5))))
                    if not np.all(np.isfinite(f5)) or not np.allclose(f5, f6, rtol=1e-4, atol=1e-6 * scale):
                        refs = None
                        break
                    refs.append(f5)
            if checked >= points and refs is None:
                continue
            copies = _copy(args)
            got = g(*copies)
            _left_as_f_leaves(copies, after, "grad", prog)
            flat = flat_grads(got, args, wrt)
            if refs is not None:
                for leaf, gk, ref in zip(lv, flat, refs):
                    if np.shape(gk) != np.shape(ref):
                        raise Wrong(f"d/d{_name(leaf, prog)}: shape {np.shape(gk)} != {np.shape(ref)}")
                    _close(gk, ref, f"d/d{_name(leaf, prog)} vs finite differences at args={args!r}{_kwtext(kw)}",
                           rtol, 1e-5)
                fd_checked += 1
            if checked < points:
                if "source" in oracles and not checked:
                    _check_source(g_user)
                if "export" in oracles and not jit and entry == "f" and seed % 5 == 1:
                    _check_export(g_user, flat, args, kw, prog, seed)
                if "value" in oracles:
                    copies = _copy(args)
                    val, got2 = srcdiff.value_and_grad(f_user, wrt=wrt, jit=jit, **ck)(*copies, **kw)
                    _left_as_f_leaves(copies, after, "value_and_grad", prog)
                    _close(val, v, f"value_and_grad's value vs f at args={args!r}{_kwtext(kw)}", 1e-7, 1e-9)
                    for leaf, a, b in zip(lv, flat_grads(got2, args, wrt), flat):
                        _close(a, b, f"value_and_grad's d/d{_name(leaf, prog)} vs grad's", 1e-7, 1e-9)
                if "jvp" in oracles:
                    tl, tangents = _tangents(args, wrt, lv, seed + 1)
                    copies = _copy(args)
                    val, dot = srcdiff.jvp(f_user, wrt=wrt, jit=jit)(*copies, tuple(tangents), **kw)
                    _left_as_f_leaves(copies, after, "jvp", prog)
                    _close(val, v, f"jvp's value vs f at args={args!r}{_kwtext(kw)}", 1e-7, 1e-9)
                    expect = sum(float(np.sum(np.asarray(gk) * t)) for gk, t in zip(flat, tl))
                    _close(dot, expect, f"jvp vs vdot(grad, v) at args={args!r}{_kwtext(kw)}", 1e-6, 1e-8)
                if "hvp" in oracles and refs is not None and entry == "f":   # (nested mode: not third order)
                    _check_hvp(curved_function(mod, f_user), args, kw, wrt, lv, jit, seed, prog)
                if ("vector" in oracles and refs is not None and entry == "f" and not kw and len(args) == len(prog.params)
                        and seed % 4 == 0):
                    fv = vector_function(mod, prog)     # (one program in four: two more transforms, N calls)
                    if fv is not None:
                        _check_vector(fv, args, prog, jit, seed)
                if "backends" in oracles and jit:
                    ref_py = flat_grads(srcdiff.grad(f_user, wrt=wrt, jit=False, **ck)(*_copy(args), **kw), args, wrt)
                    for leaf, a, b in zip(lv, flat, ref_py):
                        _close(a, b, f"Numba vs Python backend d/d{_name(leaf, prog)} at args={args!r}{_kwtext(kw)}",
                               1e-7, 1e-9)
                if "kinds" in oracles and entry == "f" and seed % (6 if jit else 3) == 2:
                    _check_kinds(g_user, flat, args, kw, prog, f_user)
                if "taped" in oracles and ck:
                    taped = flat_grads(srcdiff.grad(f_user, wrt=wrt, jit=jit)(*_copy(args), **kw), args, wrt)
                    for leaf, a, b in zip(lv, flat, taped):
                        _close(a, b, f"checkpoints={prog.checkpoints} d/d{_name(leaf, prog)} vs the taped gradient "
                               f"(no checkpoints) at args={args!r}{_kwtext(kw)}", 1e-7, 1e-9)
                checked += 1
    if "fd" not in oracles:
        if not checked:
            raise Skip
        return checked
    if not fd_checked:
        raise Skip      # (the other oracles still ran wherever f was finite)
    return fd_checked
